"""The resolver shares work between accounts that choose alike; sharing never changes a result.

``resolve_accounts`` keeps, per call, what accounts have in common (a strategy's targets for the
never-buy securities it holds, settings rows of the shared layers, the knobs of equal choices).
Resolving an account alone or among others that restrict other securities, pick other screens or
other tax choices must give the same bytes.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Mapping
from decimal import Decimal
from typing import Any

import pytest
from django.utils import timezone

from accounts.customization import owner_of, settings_save
from accounts.resolve import TRANSLATED_CHOICES, resolve_accounts
from accounts.translation import translate
from models_hub.menus import DEFAULTS
from rebalancer.authz import SystemActor
from tests.factories import AccountFactory
from tests.program.conftest import LC, Program

pytestmark = pytest.mark.django_db


class _Recording(Mapping[str, tuple[Any, str]]):
    """A choices mapping that records which choices are read."""

    def __init__(self, data: dict[str, tuple[Any, str]]) -> None:
        self.data = data
        self.read: set[str] = set()

    def __getitem__(self, key: str) -> tuple[Any, str]:
        self.read.add(key)
        return self.data[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self.data)

    def __len__(self) -> int:
        return len(self.data)


@pytest.mark.parametrize("registration", ["taxable", "traditional_ira"])
@pytest.mark.parametrize("budget", ["none", "gains", "tax"])
def test_translate_reads_only_the_choices_the_knobs_are_shared_by(
    registration: str, budget: str
) -> None:
    choices = _Recording(
        {
            **{k: (v, "built-in default") for k, v in DEFAULTS.items()},
            "tax_budget_kind": (budget, "account v1"),
            "cash_flow_amount": ("-1000", "account v1"),
            "cash_flow_date": ("2020-01-10", "account v1"),
            "max_turnover": ("0.2", "account v1"),
        }
    )
    translate(
        choices,
        registration_type=registration,
        as_of=dt.date(2020, 1, 10),
        account_value=Decimal("100000"),
    )
    assert choices.read <= TRANSLATED_CHOICES, sorted(choices.read - TRANSLATED_CHOICES)


def test_an_account_resolves_the_same_alone_and_among_others(program: Program) -> None:
    cast = program.cast
    firm = cast.firm_a
    base = {"strategy": program.strategy.pk, "cash_target": "0.05"}
    variants: list[dict[str, Any]] = [
        {},
        # A restriction of a security the strategy does not hold: shares the plain targets.
        {"restrictions": [{"rule": "never_buy", "security": "IVV", "reason": "client"}]},
        # One it holds: its own targets.
        {"restrictions": [{"rule": "never_buy", "security": "MSFT", "reason": "employer"}]},
        {"screens": [program.screen.pk]},
        {"tilts": {LC: "0.03"}},
        {"tax_sensitivity": "maximum", "min_trade": "250"},
        {"substitutions": [{"instead_of": "AGG", "hold": "BND", "reason": "client"}]},
    ]
    accounts = [cast.account_a1, cast.account_a2]
    accounts += [AccountFactory.create(household=cast.hh_a1) for _ in variants[2:]]
    for account, extra in zip(accounts, variants, strict=True):
        settings_save(
            actor=SystemActor.COMMAND,
            owner=owner_of(firm_id=firm.pk, account=account),
            content={**base, **extra},
            expected_version=0,
            reason="test",
        )
    now = timezone.now()
    together = resolve_accounts(firm.pk, [a.pk for a in accounts], now)
    for account in accounts:
        alone = resolve_accounts(firm.pk, [account.pk], now)[account.pk]
        assert alone == together[account.pk]
        assert alone.digest == together[account.pk].digest
    plain, other, holds = (together[a.pk] for a in accounts[:3])
    assert [(t.ticker, t.weight) for t in plain.targets] == [
        (t.ticker, t.weight) for t in other.targets
    ]
    assert "IVV" in other.never_buy and "MSFT" not in {t.ticker for t in holds.targets}
    assert plain.digest != other.digest  # the restriction is still the account's own
