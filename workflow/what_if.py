"""What-if runs: the nightly machinery on a draft model change, before the IPC saves it.

:func:`what_if_start` checks the draft exactly as saving would (``definition_draft``), finds the
accounts it reaches (accounts on a strategy that is the definition or reads it, through
inheritance or a sleeve), and runs them with the draft standing in for the definition's version.
Its analyses are marked what-if (``Run.trigger``) and never reach a trade queue;
:func:`what_if_summary` gives the draft page its figures.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db.models import Count, Q, Sum

from accounts.models import Account
from models_hub.models import Definition, DefinitionKind
from models_hub.program_services import definition_draft
from rebalancer.authz import Actor, authorize
from rebalancer.roles import Resource
from workflow.models import Analysis, AnalysisStatus, Run, RunTrigger
from workflow.nightly import price_date_latest_of, run_create, run_dispatch


def what_if_start(
    *,
    actor: Actor,
    definition: Definition,
    content: Any,
    parent_id: int | str | None = "keep",
    reason: str = "",
) -> Run:
    """Start a what-if run of ``content`` as ``definition``'s next version (nothing is saved)."""
    authorize(actor=actor, firm=definition.firm_id, resource=Resource.MODEL)
    draft = definition_draft(
        actor=actor, definition=definition, content=content, parent_id=parent_id
    )
    reached = {definition.pk, *draft.dependants}
    strategies = sorted(
        Definition.objects.filter(pk__in=sorted(reached), kind=DefinitionKind.STRATEGY).values_list(
            "pk", flat=True
        )
    )
    accounts = list(
        Account.objects.for_firm(definition.firm_id)
        .filter(settings_version__strategy_id__in=strategies)
        .values_list("pk", flat=True)
    )
    run = run_create(
        actor=actor,
        firm_id=definition.firm_id,
        as_of=price_date_latest_of(definition.firm_id),
        account_ids=accounts,
        trigger=RunTrigger.WHAT_IF,
        resource=Resource.MODEL,
        draft=dataclasses.asdict(draft.version),
        note=f"what-if of '{definition.name}' v{draft.version.number} (unsaved): {reason}"[:2000],
    )
    run_dispatch(run)
    return run


@dataclass(frozen=True)
class WhatIfSummary:
    accounts: int
    trading: int
    trades: int
    bought: Decimal
    sold: Decimal
    realized_gain: Decimal
    tax: Decimal
    drift_before: float | None
    drift_after: float | None
    largest_tax: list[Analysis]


def what_if_summary(run: Run) -> WhatIfSummary:
    """What the draft would do: accounts reached and trading, trades, turnover, gains and tax,
    mean drift before and after, the accounts with the largest tax cost (``run`` as the caller
    may see it)."""
    rows = Analysis.objects.filter(run=run)
    totals = rows.aggregate(
        n=Count("pk"),
        trading=Count("pk", filter=Q(status=AnalysisStatus.PROPOSED)),
        trades=Sum("trade_count"),
        bought=Sum("bought"),
        sold=Sum("sold"),
        gain=Sum("realized_gain"),
        tax=Sum("tax"),
    )
    drifts: list[tuple[float, float]] = [
        (float(b or 0.0), float(a or 0.0))
        for b, a in rows.exclude(drift_before=None).values_list("drift_before", "drift_after")
    ]
    zero = Decimal(0)
    return WhatIfSummary(
        accounts=totals["n"] or 0,
        trading=totals["trading"] or 0,
        trades=totals["trades"] or 0,
        bought=totals["bought"] or zero,
        sold=totals["sold"] or zero,
        realized_gain=totals["gain"] or zero,
        tax=totals["tax"] or zero,
        drift_before=sum(b for b, _ in drifts) / len(drifts) if drifts else None,
        drift_after=sum(a for _, a in drifts) / len(drifts) if drifts else None,
        largest_tax=list(
            rows.filter(tax__gt=0).select_related("account").order_by("-tax", "account_id")[:10]
        ),
    )
