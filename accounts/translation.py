"""The one translation table: advisors' menu choices -> the optimizer's knobs.

Nothing else in the codebase sets optimizer knobs from user input. Each entry names the
``optimizer.types.Settings`` or ``optimizer.types.Problem`` field it sets, the value, and why
(``docs/customization.md`` prints this table). The nightly adapter copies :class:`Knob` values
into ``Settings`` / ``Problem`` by field name and adds what is not a user choice (lots, prices,
risk model, the account's tax year from its transactions).

Values are plain numbers (floats for the engine, which works in weights and dollars).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from models_hub.menus import TAX_BRACKETS

#: Registration types whose gains are not taxed when realized.
TAX_DEFERRED = frozenset({"traditional_ira", "roth_ira"})
#: Days ahead a dated withdrawal is raised: settlement (T+1) plus a week's margin.
WITHDRAWAL_LEAD_DAYS = 7
#: The active-risk weight every account starts from; the menus scale it, never set it directly.
BASE_RISK_AVERSION = 1.0
#: Tax-sensitive accounts: a short-term gain lot this close to its first anniversary pays the
#: rate difference as a waiting charge (the engine's ``anniversary_days``).
ANNIVERSARY_DAYS = 30


@dataclass(frozen=True)
class Knob:
    """One optimizer input: the engine field, its value, the menu choice it came from, why."""

    field: str  # "Settings.tax_weight", "Problem.tax_rates.short_term", ...
    value: Any
    choice: str  # the menu choice (and value) that set it
    source: str  # where that choice came from (account, household, strategy, firm default)
    why: str


@dataclass(frozen=True)
class Rule:
    """One row of the table: for ``choice`` = ``value``, these fields get these values."""

    fields: tuple[tuple[str, float | bool | None], ...]
    why: str


#: Tax sensitivity: how a tax dollar weighs against a unit of drift.
TAX_SENSITIVITY: dict[str, Rule] = {
    "indifferent": Rule(
        (
            ("Settings.tax_weight", 0.0),
            ("Settings.risk_aversion", BASE_RISK_AVERSION),
            ("Settings.anniversary_days", 0),
        ),
        "Taxes are ignored: trades are chosen on drift and transaction cost alone.",
    ),
    "moderate": Rule(
        (
            ("Settings.tax_weight", 0.5),
            ("Settings.risk_aversion", BASE_RISK_AVERSION),
            ("Settings.anniversary_days", 0),
        ),
        "A dollar of tax counts half: drift is closed even when it costs some tax.",
    ),
    "sensitive": Rule(
        (
            ("Settings.tax_weight", 1.0),
            ("Settings.risk_aversion", BASE_RISK_AVERSION),
            ("Settings.anniversary_days", ANNIVERSARY_DAYS),
        ),
        "A dollar of tax counts as a dollar: a gain is realized only when the drift it closes "
        "is worth more than the tax; a short-term gain within a month of turning long-term is "
        "charged the tax waiting would save.",
    ),
    "maximum": Rule(
        (
            ("Settings.tax_weight", 1.0),
            ("Settings.risk_aversion", BASE_RISK_AVERSION / 2),
            ("Settings.anniversary_days", ANNIVERSARY_DAYS),
        ),
        "Taxes at full weight and drift tolerated twice as much: gains are realized only for "
        "large drift.",
    ),
}

#: Loss harvesting: how readily the engine switches into substitutes and trades for a loss.
LOSS_HARVESTING: dict[str, Rule] = {
    "off": Rule(
        (("Settings.substitute_penalty", 0.01), ("Settings.cost_weight", 1.0)),
        "Buying a substitute costs 1 % of the amount bought, so a loss is sold only when the "
        "rebalance needs the sale anyway; no switching to harvest.",
    ),
    "normal": Rule(
        (("Settings.substitute_penalty", 1e-4), ("Settings.cost_weight", 1.0)),
        "The engine's default: a loss is harvested when its tax value beats the trading cost "
        "and the drift of holding a substitute.",
    ),
    "aggressive": Rule(
        (("Settings.substitute_penalty", 1e-5), ("Settings.cost_weight", 0.5)),
        "Substitutes are nearly free and trading costs count half: every loss worth its cost "
        "is harvested.",
    ),
}

#: Harvest style: what a loss beyond this year's gains is worth.
HARVEST_STYLE: dict[str, Rule] = {
    "maximize": Rule(
        (("Problem.tax_year.carryforward_discount", 0.5),),
        "Losses beyond this year's gains are still harvested: they offset $3,000 of income and "
        "carry forward, a carried dollar valued at half the long-term rate (later, and perhaps "
        "never used).",
    ),
    "offset_gains": Rule(
        (("Problem.tax_year.carryforward_discount", 0.0),),
        "Losses are harvested only to offset this year's realized and expected gains: a loss "
        "beyond them is worth nothing to this account.",
    ),
}

PERIOD_FRACTION = {"annual": 1, "quarterly": 4, "monthly": 12}


def _f(value: Any) -> float:
    return float(Decimal(str(value)))


def _budget_fraction(period: str, as_of: dt.date) -> float:
    """Share of the annual budget usable by ``as_of``: whole year, quarters or months elapsed."""
    if period == "quarterly":
        return ((as_of.month - 1) // 3 + 1) / 4
    if period == "monthly":
        return as_of.month / 12
    return 1.0


def translate(
    choices: Mapping[str, tuple[Any, str]],
    *,
    registration_type: str,
    as_of: dt.date,
    account_value: Decimal,
) -> tuple[Knob, ...]:
    """The optimizer inputs of one account's resolved menu choices.

    ``choices`` maps each menu choice to (value, source). Returns knobs sorted by field.
    """
    knobs: dict[str, Knob] = {}

    def put(field: str, value: Any, choice: str, why: str) -> None:
        knobs[field] = Knob(
            field, value, choice, choices.get(choice.split("=")[0], (None, ""))[1], why
        )

    def apply(table: Mapping[str, Rule], name: str) -> None:
        value, _ = choices[name]
        rule = table[value]
        for field, v in rule.fields:
            put(field, v, f"{name}={value}", rule.why)

    sensitivity = choices["tax_sensitivity"][0]
    if registration_type in TAX_DEFERRED:
        rule = TAX_SENSITIVITY["indifferent"]
        for field, v in rule.fields:
            knobs[field] = Knob(
                field,
                v,
                f"registration_type={registration_type}",
                "account registration",
                "A tax-deferred account pays no tax on realized gains: " + rule.why,
            )
    else:
        apply(TAX_SENSITIVITY, "tax_sensitivity")
    del sensitivity
    apply(LOSS_HARVESTING, "loss_harvesting")
    apply(HARVEST_STYLE, "harvest_style")

    federal_short, federal_long = TAX_BRACKETS[choices["tax_bracket"][0]]
    state = Decimal(choices["state_rate"][0])
    taxed = registration_type not in TAX_DEFERRED
    short = float(Decimal(federal_short) + state) if taxed else 0.0
    long = float(Decimal(federal_long) + state) if taxed else 0.0
    why = "Federal marginal rate of the bracket (with the 3.8 % NIIT where it applies) plus state."
    put("Problem.tax_rates.short_term", short, f"tax_bracket={choices['tax_bracket'][0]}", why)
    put("Problem.tax_rates.long_term", long, f"tax_bracket={choices['tax_bracket'][0]}", why)

    kind = choices["tax_budget_kind"][0]
    period = choices["tax_budget_period"][0]
    amount = _f(choices["tax_budget_amount"][0]) * _budget_fraction(period, as_of)
    budget_why = (
        f"The {period} budget, prorated to the {'year' if period == 'annual' else period[:-2]} "
        f"of {as_of.isoformat()}; the engine subtracts what was realized this year."
    )
    put(
        "Settings.gain_budget",
        amount if kind == "gains" and taxed else None,
        f"tax_budget_kind={kind}",
        budget_why,
    )
    put(
        "Settings.tax_budget",
        amount if kind == "tax" and taxed else None,
        f"tax_budget_kind={kind}",
        budget_why,
    )

    for name, field in (
        ("carry_forward_short", "Problem.tax_year.carryforward_short"),
        ("carry_forward_long", "Problem.tax_year.carryforward_long"),
        ("outside_gains_short", "Problem.tax_year.outside_gain_short"),
        ("outside_gains_long", "Problem.tax_year.outside_gain_long"),
    ):
        value = _f(choices[name][0]) if taxed else 0.0
        put(
            field,
            value,
            f"{name}={choices[name][0]}",
            "The account's tax year as the advisor reported it (dollars).",
        )

    put(
        "Settings.cash_target",
        _f(choices["cash_target"][0]),
        f"cash_target={choices['cash_target'][0]}",
        "Cash kept after the trades, as a fraction of the account.",
    )
    flow = Decimal(choices["cash_flow_amount"][0])
    flow_date = choices["cash_flow_date"][0]
    due = flow_date is not None and dt.date.fromisoformat(flow_date) <= as_of + dt.timedelta(
        days=WITHDRAWAL_LEAD_DAYS
    )
    put(
        "Problem.withdrawal",
        float(-flow) if flow < 0 and due else 0.0,
        f"cash_flow_amount={choices['cash_flow_amount'][0]}",
        f"A withdrawal is raised from {WITHDRAWAL_LEAD_DAYS} days before its date; a "
        "contribution is invested when the cash arrives.",
    )
    turnover = choices["max_turnover"][0]
    put(
        "Settings.turnover_max",
        None if turnover is None else _f(turnover),
        f"max_turnover={turnover}",
        "Transition plan: at most this share of the account traded "
        "per rebalance (bought plus sold).",
    )
    put(
        "Settings.min_trade",
        _f(choices["min_trade"][0]),
        f"min_trade={choices['min_trade'][0]}",
        "Trades smaller than this many dollars are dropped.",
    )
    put(
        "Settings.fractional_shares",
        bool(choices["fractional_shares"][0]),
        f"fractional_shares={choices['fractional_shares'][0]}",
        "Whole shares unless the custodian supports fractions for this account.",
    )
    schedule_name = choices["cost_schedule"][0]
    schedule = choices["cost_schedules"][0].get(schedule_name)
    rate = (
        (_f(schedule["commission_bps"]) + _f(schedule["spread_bps"])) / 10_000
        if schedule is not None
        else None
    )
    put(
        "Problem.cost_rates",
        rate,
        f"cost_schedule={schedule_name}",
        "Commission plus half the bid-ask spread per dollar traded, the same for every "
        "security of the account.",
    )
    del account_value
    return tuple(knobs[k] for k in sorted(knobs))


#: Every menu choice the translation reads, and the engine fields it may set (for the docs
#: page and the test that every field exists in ``optimizer.types``).
TABLE: dict[str, tuple[str, ...]] = {
    "tax_sensitivity": (
        "Settings.tax_weight",
        "Settings.risk_aversion",
        "Settings.anniversary_days",
    ),
    "loss_harvesting": ("Settings.substitute_penalty", "Settings.cost_weight"),
    "harvest_style": ("Problem.tax_year.carryforward_discount",),
    "tax_bracket": ("Problem.tax_rates.short_term", "Problem.tax_rates.long_term"),
    "state_rate": ("Problem.tax_rates.short_term", "Problem.tax_rates.long_term"),
    "tax_budget_kind": ("Settings.gain_budget", "Settings.tax_budget"),
    "tax_budget_amount": ("Settings.gain_budget", "Settings.tax_budget"),
    "tax_budget_period": ("Settings.gain_budget", "Settings.tax_budget"),
    "carry_forward_short": ("Problem.tax_year.carryforward_short",),
    "carry_forward_long": ("Problem.tax_year.carryforward_long",),
    "outside_gains_short": ("Problem.tax_year.outside_gain_short",),
    "outside_gains_long": ("Problem.tax_year.outside_gain_long",),
    "cash_target": ("Settings.cash_target", "Problem.targets"),
    "cash_flow_amount": ("Problem.withdrawal",),
    "cash_flow_date": ("Problem.withdrawal",),
    "max_turnover": ("Settings.turnover_max",),
    "min_trade": ("Settings.min_trade",),
    "fractional_shares": ("Settings.fractional_shares",),
    "cost_schedule": ("Problem.cost_rates",),
    "cost_schedules": ("Problem.cost_rates",),
    "strategy": ("Problem.targets",),
    "tilts": ("Problem.targets",),
    "screens": ("Problem.targets", "Problem.never_buy"),
    "restrictions": ("Problem.never_buy", "Problem.never_sell", "Problem.do_not_trade"),
    "substitutions": ("Problem.targets", "Problem.never_buy"),
    "legacy_holdings": ("Problem.never_sell", "Problem.targets"),
}
