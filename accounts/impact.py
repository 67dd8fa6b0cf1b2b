"""How many accounts, and how much money, a model definition reaches: the IPC's "impact" of a
change before saving it.

An allocation or security model reaches every strategy that uses it or a descendant (directly,
as a sleeve, or through a strategy's parent), and a strategy reaches itself and its children;
an account uses a strategy through its own settings. A screen reaches the accounts and
households that chose it. Customization limits and equivalence sets apply to every account of
the firm. The dependants come from :func:`models_hub.program_services.definition_dependants`,
so a draft that keeps the model's place in the tree affects exactly these accounts.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from django.db.models import Count, F, Q, Sum

from accounts.models import Account
from models_hub.models import Definition, DefinitionKind
from models_hub.program_selectors import version_store_load
from models_hub.program_services import definition_dependants
from rebalancer.tenancy import AnyUser


@dataclass(frozen=True)
class Impact:
    definition_id: int
    accounts: int
    value: Decimal
    strategies: tuple[tuple[int, str], ...]  # (id, name) of the strategies reached
    how: str


def definition_impact(*, user: AnyUser, definition: Definition) -> Impact:
    """The accounts (visible to ``user``) whose target or settings read ``definition``."""
    visible = Account.objects.for_user(user)
    strategies: tuple[tuple[int, str], ...] = ()
    if definition.kind in (
        DefinitionKind.ALLOCATION,
        DefinitionKind.SECURITY_MODEL,
        DefinitionKind.STRATEGY,
    ):
        store = version_store_load(definition.firm_id)
        reached = {definition.pk, *definition_dependants(store, definition.pk)}
        strategies = tuple(
            sorted(
                (d, store.versions[d].name)
                for d in reached
                if d in store.versions and store.versions[d].kind == DefinitionKind.STRATEGY
            )
        )
        ids = [d for d, _ in strategies]
        matched = visible.filter(settings_version__strategy_id__in=ids)
        how = "accounts whose strategy uses it (directly, through a strategy or by inheritance)"
    elif definition.kind == DefinitionKind.SCREEN:
        matched = visible.filter(
            Q(settings_version__screens=definition.pk)
            | Q(household__settings_version__screens=definition.pk)
        )
        how = "accounts that chose the screen, or whose household did"
    else:
        matched = visible
        how = "every account of the firm (limits and equivalence sets apply firm-wide)"
    totals = Account.objects.filter(pk__in=matched.values("pk")).aggregate(
        n=Count("pk"), value=Sum(F("cash_balance") + F("securities_value"))
    )
    return Impact(
        definition_id=definition.pk,
        accounts=totals["n"] or 0,
        value=totals["value"] or Decimal(0),
        strategies=strategies,
        how=how,
    )
