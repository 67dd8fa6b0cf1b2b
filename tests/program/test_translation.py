"""The translation table: every menu choice maps to real optimizer fields, each value as stated."""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from accounts.translation import (
    HARVEST_STYLE,
    LOSS_HARVESTING,
    TABLE,
    TAX_SENSITIVITY,
    translate,
)
from models_hub.menus import DEFAULTS, TAX_BRACKETS
from optimizer import types as engine

ROOT = Path(__file__).resolve().parents[2]
AS_OF = dt.date(2026, 8, 14)


def _field_exists(path: str) -> bool:
    """'Settings.tax_weight', 'Problem.tax_rates.short_term', 'Problem.tax_year.x' exist."""
    head, *rest = path.split(".")
    cls: Any = {"Settings": engine.Settings, "Problem": engine.Problem}[head]
    for name in rest:
        fields = {f.name: f for f in dataclasses.fields(cls)}
        if name not in fields:
            return False
        nested = {
            "tax_rates": engine.TaxRates,
            "tax_year": getattr(engine, "TaxYear", None),
            "settings": engine.Settings,
        }
        cls = nested.get(name)
        if cls is None:
            return name == rest[-1]
    return True


def _choices(**overrides: Any) -> dict[str, tuple[Any, str]]:
    values = {**DEFAULTS, **overrides}
    return {k: (v, "test") for k, v in values.items()}


def _knobs(registration: str = "taxable", **overrides: Any) -> dict[str, Any]:
    knobs = translate(
        _choices(**overrides),
        registration_type=registration,
        as_of=AS_OF,
        account_value=Decimal("100000"),
    )
    return {k.field: k.value for k in knobs}


def test_every_menu_choice_is_in_the_table() -> None:
    assert set(DEFAULTS) | {"strategy"} == set(TABLE)


@pytest.mark.parametrize("choice", sorted(TABLE))
def test_every_table_field_is_a_real_optimizer_field(choice: str) -> None:
    for path in TABLE[choice]:
        assert _field_exists(path), f"{choice} -> {path}: not a field of optimizer.types"


def test_every_knob_translate_returns_is_a_real_field_and_listed() -> None:
    listed = {f for fields in TABLE.values() for f in fields}
    knobs = translate(
        _choices(), registration_type="taxable", as_of=AS_OF, account_value=Decimal("1")
    )
    for knob in knobs:
        assert _field_exists(knob.field), knob.field
        assert knob.field in listed, knob.field
        assert knob.why and knob.choice


@pytest.mark.parametrize("level", sorted(TAX_SENSITIVITY))
def test_tax_sensitivity(level: str) -> None:
    knobs = _knobs(tax_sensitivity=level)
    for field, value in TAX_SENSITIVITY[level].fields:
        assert knobs[field] == value
    assert knobs["Settings.tax_weight"] == {"indifferent": 0.0, "moderate": 0.5}.get(level, 1.0)


@pytest.mark.parametrize("level", sorted(LOSS_HARVESTING))
def test_loss_harvesting(level: str) -> None:
    knobs = _knobs(loss_harvesting=level)
    for field, value in LOSS_HARVESTING[level].fields:
        assert knobs[field] == value


@pytest.mark.parametrize("style", sorted(HARVEST_STYLE))
def test_harvest_style(style: str) -> None:
    knobs = _knobs(harvest_style=style)
    assert knobs["Problem.tax_year.carryforward_discount"] == (
        0.0 if style == "offset_gains" else 0.5
    )


@pytest.mark.parametrize("bracket", sorted(TAX_BRACKETS))
def test_brackets_plus_state(bracket: str) -> None:
    knobs = _knobs(tax_bracket=bracket, state_rate="0.05")
    short, long = TAX_BRACKETS[bracket]
    assert knobs["Problem.tax_rates.short_term"] == float(Decimal(short) + Decimal("0.05"))
    assert knobs["Problem.tax_rates.long_term"] == float(Decimal(long) + Decimal("0.05"))


def test_tax_deferred_accounts_ignore_taxes_whatever_the_menus_say() -> None:
    knobs = _knobs(
        "roth_ira",
        tax_sensitivity="maximum",
        tax_budget_kind="gains",
        tax_budget_amount="1000",
        carry_forward_short="500",
    )
    assert knobs["Settings.tax_weight"] == 0.0
    assert knobs["Problem.tax_rates.short_term"] == 0.0
    assert knobs["Settings.gain_budget"] is None
    assert knobs["Problem.tax_year.carryforward_short"] == 0.0


@pytest.mark.parametrize(
    ("kind", "period", "gain", "tax"),
    [
        ("gains", "annual", 12000.0, None),
        ("gains", "quarterly", 12000.0 * 3 / 4, None),  # August: third quarter
        ("tax", "monthly", None, 12000.0 * 8 / 12),
        ("none", "annual", None, None),
    ],
)
def test_budgets_are_prorated_to_the_as_of_date(
    kind: str, period: str, gain: float | None, tax: float | None
) -> None:
    knobs = _knobs(tax_budget_kind=kind, tax_budget_period=period, tax_budget_amount="12000")
    assert knobs["Settings.gain_budget"] == gain
    assert knobs["Settings.tax_budget"] == tax


@pytest.mark.parametrize(
    ("amount", "date", "withdrawal"),
    [
        ("-25000", "2026-08-20", 25000.0),  # due within a week
        ("-25000", "2026-09-30", 0.0),  # later: not raised yet
        ("25000", "2026-08-15", 0.0),  # a contribution is invested when it arrives
    ],
)
def test_cash_flows(amount: str, date: str, withdrawal: float) -> None:
    knobs = _knobs(cash_flow_amount=amount, cash_flow_date=date)
    assert knobs["Problem.withdrawal"] == withdrawal


def test_cost_schedule_turnover_minimum_and_shares() -> None:
    knobs = _knobs(
        cost_schedule="platinum",
        cost_schedules={
            "standard": {"commission_bps": "0", "spread_bps": "5"},
            "platinum": {"commission_bps": "1", "spread_bps": "2"},
        },
        max_turnover="0.1",
        min_trade="250",
        fractional_shares=True,
        cash_target="0.02",
    )
    assert knobs["Problem.cost_rates"] == pytest.approx(3 / 10_000)
    assert knobs["Settings.turnover_max"] == 0.1
    assert knobs["Settings.min_trade"] == 250.0
    assert knobs["Settings.fractional_shares"] is True
    assert knobs["Settings.cash_target"] == 0.02


def test_no_other_module_sets_optimizer_knobs_from_user_input() -> None:
    pattern = re.compile(r"[\"'](Settings|Problem)\.[a-z_]+")
    offenders = []
    for folder in ("accounts", "models_hub", "workflow", "rebalancer", "demo"):
        for path in (ROOT / folder).rglob("*.py"):
            if path.name == "translation.py" or "migrations" in path.parts:
                continue
            if pattern.search(path.read_text()):
                offenders.append(str(path.relative_to(ROOT)))
    assert offenders == []


def test_the_docs_page_lists_every_choice() -> None:
    page = (ROOT / "docs" / "customization.md").read_text()
    for choice in TABLE:
        assert f"`{choice}`" in page, choice
    for fields in TABLE.values():
        for field in fields:
            assert f"`{field}`" in page, field
