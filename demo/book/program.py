"""The demo firm's investment program and each demo account's customization.

Two halves, like the rest of the book:

* :func:`program_build` writes the investment policy committee's program through the models
  hub's services (every definition labelled synthetic): five allocations (Conservative ..
  Aggressive, with bands), ETF, mutual-fund and direct-index security models, strategies pairing
  them, two levels of child variants ("no real estate", then "ESG"), equivalence sets, three
  screens, the firm limits (a strategy overriding some), the firm default settings, and publishes
  one strategy for the second firm, which :func:`subscriber_build` subscribes to.
* :func:`account_choices` plans one account's menu choices as a pure function of the planned
  account and the seed (its own ``random.Random``, like the planner), consistent with what the
  account holds: model-portfolio accounts on the fund strategy closest to their portfolio,
  direct-indexing accounts on a direct-index strategy. :func:`customizations_write` turns a
  chunk of them into settings versions with :func:`accounts.customization_bulk.
  account_settings_insert` (bulk inserts, no per-account query).

Weights are the synthetic funds of ``demo/marketdata/synthetic.py`` and, for the direct-index
model, the real S&P 500 names with their 2015-07-08 market caps (the caps file the planner and
the synthetic baskets use; never the 2026 financials file).
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

from accounts.customization import owner_of, settings_save
from accounts.customization_bulk import AccountSettings, account_settings_insert
from accounts.models import Account
from demo.book.names import FLAG_ESG
from demo.book.plan import (
    KIND_DIRECT_INDEXING,
    KIND_LEGACY,
    ROTH_IRA,
    TAXABLE,
    TRADITIONAL_IRA,
    TRUST,
    AccountPlan,
    BookSpec,
)
from demo.book.universe import Universe
from demo.marketdata.real import caps_2015, real_securities
from models_hub.models import Definition, DefinitionKind
from models_hub.program_services import (
    FIRM_LIMITS_NAME,
    asset_classes_ensure,
    definition_create,
    definition_publish,
    subscription_start,
)
from rebalancer.authz import SystemActor

LC = "Equity > US > Large Cap"
MC = "Equity > US > Mid Cap"
SC = "Equity > US > Small Cap"
RE = "Equity > US > Real Estate"  # the one class the market-data load does not create
DEV = "Equity > International > Developed"
EM = "Equity > International > Emerging Markets"
CORE = "Fixed Income > Taxable > Core"
TIPS = "Fixed Income > Taxable > Inflation-Protected"
CORP = "Fixed Income > Taxable > Corporate"
HY = "Fixed Income > Taxable > High Yield"
SHORT = "Fixed Income > Taxable > Short-Term"
MUNI = "Fixed Income > Municipal"
CASH = "Cash"

#: Tolerance band of each class: (band, kind). Absolute bands are points of the account.
BANDS: dict[str, tuple[str, str]] = {
    LC: ("0.05", "absolute"),
    MC: ("0.25", "relative"),
    SC: ("0.25", "relative"),
    RE: ("0.25", "relative"),
    DEV: ("0.04", "absolute"),
    EM: ("0.25", "relative"),
    CORE: ("0.05", "absolute"),
    TIPS: ("0.25", "relative"),
    CORP: ("0.25", "relative"),
    HY: ("0.25", "relative"),
    SHORT: ("0.25", "relative"),
    MUNI: ("0.05", "absolute"),
    CASH: ("0.02", "absolute"),
}

RISKS = ("Conservative", "Moderately Conservative", "Moderate", "Growth", "Aggressive")

#: The five allocations, in percent of the account (each sums to 100).
ALLOCATIONS: dict[str, dict[str, int]] = {
    "Conservative": {
        LC: 16, MC: 3, SC: 2, RE: 2, DEV: 8, EM: 2,
        CORE: 35, TIPS: 8, CORP: 10, SHORT: 8, CASH: 6,
    },
    "Moderately Conservative": {
        LC: 24, MC: 4, SC: 3, RE: 3, DEV: 10, EM: 3,
        CORE: 28, TIPS: 6, CORP: 8, SHORT: 6, CASH: 5,
    },
    "Moderate": {
        LC: 30, MC: 5, SC: 4, RE: 4, DEV: 12, EM: 4,
        CORE: 22, TIPS: 4, CORP: 7, HY: 3, CASH: 5,
    },
    "Growth": {LC: 38, MC: 7, SC: 5, RE: 5, DEV: 15, EM: 6, CORE: 12, CORP: 5, HY: 3, CASH: 4},
    "Aggressive": {LC: 45, MC: 8, SC: 7, RE: 5, DEV: 18, EM: 8, CORE: 5, HY: 2, CASH: 2},
}  # fmt: skip

#: Child allocations: (name, parent, content). Level one of the variants.
NO_REAL_ESTATE = "Growth, no real estate"
MODERATE_MUNI = "Moderate, municipal bonds"
CHILD_ALLOCATIONS: tuple[tuple[str, str, dict[str, Any]], ...] = (
    (NO_REAL_ESTATE, "Growth", {"remove": [RE], "rescale": True}),
    (
        MODERATE_MUNI,
        "Moderate",
        {
            "remove": [CORE, CORP],
            "classes": {MUNI: {"weight": "0.29", "band": "0.05", "band_kind": "absolute"}},
        },
    ),
)

#: ETF sleeves: name -> (class, {ticker: weight}).
ETF_MODELS: dict[str, tuple[str, dict[str, str]]] = {
    "US large cap ETFs": (LC, {"SYN.USLC": "0.5", "SYN.USTM": "0.4", "SYN.USEW": "0.1"}),
    "US mid cap ETF": (MC, {"SYN.USMC": "1"}),
    "US small cap ETF": (SC, {"SYN.USSC": "1"}),
    "US real estate ETF": (RE, {"SYN.REAL": "1"}),
    "International developed ETFs": (DEV, {"SYN.INTL": "0.85", "SYN.INTS": "0.15"}),
    "Emerging markets ETF": (EM, {"SYN.EMKT": "1"}),
    "Core bond ETFs": (CORE, {"SYN.AGG": "0.7", "SYN.ITT": "0.3"}),
    "TIPS ETF": (TIPS, {"SYN.TIPS": "1"}),
    "Corporate bond ETF": (CORP, {"SYN.IGC": "1"}),
    "High yield ETF": (HY, {"SYN.HY": "1"}),
    "Short-term Treasury ETF": (SHORT, {"SYN.STT": "1"}),
}
#: Mutual-fund sleeves (index funds and bond funds), for the classes that have one.
FUND_MODELS: dict[str, tuple[str, dict[str, str]]] = {
    "US large cap index fund": (LC, {"SYN.USLCX": "1"}),
    "International developed index fund": (DEV, {"SYN.INTLX": "1"}),
    "Core bond fund": (CORE, {"SYN.CBND": "1"}),
    "Municipal bonds": (MUNI, {"SYN.MUNI": "0.6", "SYN.MUNS": "0.25", "SYN.MUCA": "0.15"}),
}
DIRECT_INDEX = "S&P 500 direct index (2015-07-08 caps)"
DIRECT_INDEX_ESG = "S&P 500 direct index, ESG"

SCREEN_FOSSIL = "Fossil fuels"
SCREEN_TOBACCO = "Tobacco"
SCREEN_WEAPONS = "Weapons"
#: The three screens: name -> content (real GICS sectors and sub-industries of the S&P data).
SCREENS: dict[str, dict[str, Any]] = {
    SCREEN_FOSSIL: {
        "sectors": ["Energy"],
        "description": "Oil, gas and coal producers, refiners and services (GICS sector Energy)",
    },
    SCREEN_TOBACCO: {
        "industries": ["Tobacco"],
        "description": "Tobacco makers (GICS sub-industry Tobacco)",
    },
    SCREEN_WEAPONS: {
        "industries": ["Aerospace & Defense"],
        "description": "Defense contractors (GICS sub-industry Aerospace & Defense)",
    },
}
#: The ESG security model removes what the three screens exclude.
ESG_SECTORS = ("Energy",)
ESG_INDUSTRIES = ("Tobacco", "Aerospace & Defense")

#: Equivalence sets: name -> (members in buy preference, substantially identical).
EQUIVALENCE: dict[str, tuple[list[str], bool]] = {
    # Two share classes of one fund (the index fund follows the ETF less a fee): identical.
    "International developed share classes": (["SYN.INTL", "SYN.INTLX"], True),
    # Three S&P 500-like ETFs on different indexes (cap-weighted all members, top 100, equal
    # weight): interchangeable for the firm, not substantially identical for wash sales.
    "S&P 500-like ETFs": (["SYN.USTM", "SYN.USLC", "SYN.USEW"], False),
}

FIRM_LIMITS: dict[str, Any] = {
    "max_tilt": "0.05",
    "max_restrictions": 10,
    "max_cash_target": "0.1",
    "allowed_screens": None,
    "substitutions": "same_asset_class",
    "min_tax_sensitivity_taxable": "moderate",
}
#: A direct-indexed account can carry more restrictions (hundreds of names to trade around) and
#: is taxable by design: its strategies override these limits.
DIRECT_INDEX_LIMITS: dict[str, Any] = {
    "max_restrictions": 25,
    "min_tax_sensitivity_taxable": "sensitive",
}

FIRM_DEFAULTS: dict[str, Any] = {
    "tax_sensitivity": "sensitive",
    "tax_bracket": "high",
    "state_rate": "0.05",
    "cash_target": "0.01",
    "min_trade": "100",
    "loss_harvesting": "normal",
    "cost_schedule": "standard",
    "cost_schedules": {
        "standard": {"commission_bps": "0", "spread_bps": "5"},
        "platinum": {"commission_bps": "0", "spread_bps": "2"},
    },
}
PLATINUM_VALUE_CENTS = 2_000_000 * 100


def etf_strategy(risk: str) -> str:
    return f"{risk}, all ETFs"


def fund_strategy(risk: str) -> str:
    return f"{risk}, index mutual funds"


def direct_strategy(risk: str) -> str:
    return f"{risk}, direct-indexed US large cap"


DI_RISKS = ("Moderate", "Growth", "Aggressive")
MUNI_STRATEGY = "Moderate, tax-aware municipal bonds"
ETF_NO_RE = "Growth, all ETFs, no real estate"
DI_NO_RE = "Growth, direct-indexed US large cap, no real estate"
DI_ESG = "Growth, direct-indexed US large cap, no real estate, ESG"
#: The strategy the demo firm publishes and the second firm uses through its subscription.
PUBLISHED = etf_strategy("Moderate")


@dataclass(frozen=True)
class StrategySpec:
    """A strategy as the program defines it: names, not ids (resolved when written)."""

    name: str
    parent: str | None
    allocation: str | None
    sleeves: Mapping[str, str]  # class -> security model name
    risk_profile: str = ""
    limits: Mapping[str, Any] = field(default_factory=dict)
    settings: Mapping[str, Any] = field(default_factory=dict)
    description: str = ""


def _etf_sleeves(risk: str) -> dict[str, str]:
    by_class = {path: name for name, (path, _) in ETF_MODELS.items()}
    return {path: by_class[path] for path in ALLOCATIONS[risk] if path != CASH}


def strategy_specs() -> tuple[StrategySpec, ...]:
    """Every strategy, parents before children."""
    out = [
        StrategySpec(
            etf_strategy(risk),
            None,
            risk,
            _etf_sleeves(risk),
            risk_profile=risk,
            description=f"The {risk} allocation in ETFs (synthetic)",
        )
        for risk in RISKS
    ]
    out += [
        StrategySpec(
            fund_strategy(risk),
            etf_strategy(risk),
            None,
            {
                LC: "US large cap index fund",
                DEV: "International developed index fund",
                CORE: "Core bond fund",
            },
            description="Index mutual funds where the firm has one; ETFs for the other classes",
        )
        for risk in RISKS
    ]
    out += [
        StrategySpec(
            direct_strategy(risk),
            etf_strategy(risk),
            None,
            {LC: DIRECT_INDEX},
            limits=DIRECT_INDEX_LIMITS,
            settings={"loss_harvesting": "aggressive"},
            description="US large cap held stock by stock (S&P 500 by 2015 caps) for tax-loss "
            "harvesting; the other classes in ETFs",
        )
        for risk in DI_RISKS
    ]
    out += [
        StrategySpec(
            MUNI_STRATEGY,
            etf_strategy("Moderate"),
            MODERATE_MUNI,
            {MUNI: "Municipal bonds"},
            description="Moderate with municipal instead of taxable bonds, for taxable accounts",
        ),
        StrategySpec(ETF_NO_RE, etf_strategy("Growth"), NO_REAL_ESTATE, {}),
        StrategySpec(DI_NO_RE, direct_strategy("Growth"), NO_REAL_ESTATE, {}),
        StrategySpec(DI_ESG, DI_NO_RE, None, {LC: DIRECT_INDEX_ESG}),
    ]
    return tuple(out)


def _weights_text(weights: Mapping[str, Decimal]) -> dict[str, str]:
    """Weights to 8 places, the largest absorbing the rounding so they sum to exactly 1."""
    quantum = Decimal("1e-8")
    out = {t: w.quantize(quantum, rounding=ROUND_HALF_EVEN) for t, w in weights.items()}
    largest = max(sorted(out), key=lambda t: out[t])
    out[largest] += Decimal(1) - sum(out.values())
    return {t: format(w, "f") for t, w in sorted(out.items())}


def direct_index_weights(universe: Universe) -> dict[str, str]:
    """The direct-indexing universe (2015-07-08 members quoted then and today) weighted by their
    2015-07-08 market caps: the index as the planner buys it."""
    caps = caps_2015()
    total = sum((caps[t] for t in universe.di_tickers), Decimal(0))
    return _weights_text({t: caps[t] / total for t in universe.di_tickers})


def esg_removed(universe: Universe) -> list[str]:
    """Names of the direct index that the ESG model removes (its screens' sectors, industries)."""
    info = {s.ticker: s for s in real_securities()}
    return sorted(
        t
        for t in universe.di_tickers
        if info[t].sector in ESG_SECTORS or info[t].industry in ESG_INDUSTRIES
    )


def program_tickers(universe: Universe) -> list[str]:
    """Every ticker the program names: a firm that loads only some securities needs them."""
    funds = {t for _, weights in {**ETF_MODELS, **FUND_MODELS}.values() for t in weights}
    members = {t for members, _ in EQUIVALENCE.values() for t in members}
    return sorted(funds | members | set(universe.di_tickers))


def subscribed_tickers() -> list[str]:
    """Every ticker of the published strategy: the second firm's security master needs them."""
    sleeves = _etf_sleeves("Moderate")
    return sorted({t for name in sleeves.values() for t in ETF_MODELS[name][1]})


def subscribed_classes() -> list[str]:
    return sorted(ALLOCATIONS["Moderate"])


@dataclass(frozen=True)
class DemoProgram:
    """The ids of one firm's program, by name: what the account writer needs."""

    firm_id: int
    strategies: Mapping[str, int]
    screens: Mapping[str, int]
    definitions: int = 0  # how many the build created


def program_build(*, firm_id: int, universe: Universe) -> DemoProgram:
    """Write the demo firm's program (see the module docstring); returns its ids by name."""
    actor = SystemActor.DEMO
    reason = "demo investment program (synthetic)"
    asset_classes_ensure(actor=actor, firm_id=firm_id, paths=[*BANDS])
    ids: dict[tuple[str, str], int] = {}

    def create(kind: str, name: str, content: dict[str, Any], parent: str | None = None) -> int:
        definition = definition_create(
            actor=actor,
            firm_id=firm_id,
            kind=kind,
            name=name,
            content=content,
            parent_id=None if parent is None else ids[(kind, parent)],
            reason=reason,
            is_synthetic=True,
        ).definition
        ids[(kind, name)] = definition.pk
        return definition.pk

    for risk, classes in ALLOCATIONS.items():
        create(
            DefinitionKind.ALLOCATION,
            risk,
            {
                "classes": {
                    path: {
                        "weight": str(Decimal(pct) / 100),
                        "band": BANDS[path][0],
                        "band_kind": BANDS[path][1],
                    }
                    for path, pct in classes.items()
                }
            },
        )
    for name, parent, child in CHILD_ALLOCATIONS:
        create(DefinitionKind.ALLOCATION, name, child, parent)
    for name, (path, weights) in {**ETF_MODELS, **FUND_MODELS}.items():
        create(DefinitionKind.SECURITY_MODEL, name, {"asset_class": path, "securities": weights})
    create(
        DefinitionKind.SECURITY_MODEL,
        DIRECT_INDEX,
        {
            "asset_class": LC,
            "index": "S&P 500, weighted by 2015-07-08 market caps",
            "securities": direct_index_weights(universe),
        },
    )
    create(
        DefinitionKind.SECURITY_MODEL,
        DIRECT_INDEX_ESG,
        {"remove": esg_removed(universe), "rescale": True},
        DIRECT_INDEX,
    )
    for spec in strategy_specs():
        content: dict[str, Any] = {
            "sleeves": {
                path: ids[(DefinitionKind.SECURITY_MODEL, model)]
                for path, model in spec.sleeves.items()
            },
            "risk_profile": spec.risk_profile,
            "limits": dict(spec.limits),
            "settings": dict(spec.settings),
            "description": spec.description,
        }
        if spec.allocation is not None:
            content["allocation"] = ids[(DefinitionKind.ALLOCATION, spec.allocation)]
        create(DefinitionKind.STRATEGY, spec.name, content, spec.parent)
    for name, (members, identical) in EQUIVALENCE.items():
        create(
            DefinitionKind.EQUIVALENCE_SET,
            name,
            {"members": members, "substantially_identical": identical},
        )
    for name, screen in SCREENS.items():
        create(DefinitionKind.SCREEN, name, screen)
    create(DefinitionKind.LIMITS, FIRM_LIMITS_NAME, FIRM_LIMITS)
    settings_save(
        actor=actor,
        owner=owner_of(firm_id=firm_id),
        content=FIRM_DEFAULTS,
        expected_version=0,
        reason=reason,
    )
    definition_publish(
        actor=actor,
        definition=Definition.objects.get(pk=ids[(DefinitionKind.STRATEGY, PUBLISHED)]),
        published=True,
        reason="offered to subscribing firms (demo)",
    )
    return DemoProgram(
        firm_id=firm_id,
        strategies={n: i for (k, n), i in ids.items() if k == DefinitionKind.STRATEGY},
        screens={n: i for (k, n), i in ids.items() if k == DefinitionKind.SCREEN},
        definitions=len(ids),
    )


def subscriber_build(*, firm_id: int, provider: DemoProgram) -> DemoProgram:
    """The second firm subscribes to the demo firm's models and uses the published strategy."""
    actor = SystemActor.DEMO
    asset_classes_ensure(actor=actor, firm_id=firm_id, paths=subscribed_classes())
    subscription_start(
        actor=actor,
        firm_id=firm_id,
        provider_id=provider.firm_id,
        reason="demo: a small firm using the demo firm's published models",
    )
    settings_save(
        actor=actor,
        owner=owner_of(firm_id=firm_id),
        content={"tax_bracket": "upper_middle", "cash_target": "0.02"},
        expected_version=0,
        reason="demo firm defaults",
    )
    return DemoProgram(
        firm_id=firm_id, strategies={PUBLISHED: provider.strategies[PUBLISHED]}, screens={}
    )


# --- each account's choices (pure) ---------------------------------------------------------------

#: Model portfolio -> [(strategy, weight)]: the fund strategy closest to what the account holds.
MODEL_STRATEGIES: dict[str, tuple[tuple[str, int], ...]] = {
    "Conservative Income": (
        (etf_strategy("Conservative"), 7),
        (fund_strategy("Conservative"), 1),
        (etf_strategy("Moderately Conservative"), 2),
    ),
    "Balanced Core": (
        (etf_strategy("Moderate"), 6),
        (fund_strategy("Moderately Conservative"), 2),
        (etf_strategy("Moderately Conservative"), 2),
    ),
    "Growth": ((etf_strategy("Growth"), 7), (ETF_NO_RE, 2), (fund_strategy("Growth"), 1)),
    "Sector Rotation Equity": ((etf_strategy("Aggressive"), 8), (fund_strategy("Aggressive"), 2)),
    "Tax-Aware Balanced": ((MUNI_STRATEGY, 1),),
    "Index Core": ((fund_strategy("Growth"), 7), (fund_strategy("Moderate"), 3)),
}
#: Second firm: which of its model-portfolio accounts use the subscribed strategy.
SUBSCRIBER_MODELS = frozenset({"Balanced Core", "Tax-Aware Balanced", "Index Core"})

#: Large, well-known names an advisor is asked to avoid (an employer, a dislike).
EMPLOYER_STOCKS = ("AAPL", "MSFT", "JPM", "JNJ", "WMT", "XOM", "GE", "PFE", "INTC", "BA", "DIS")
RESTRICTION_REASONS = (
    "client's employer: holds options and restricted stock",
    "client dislikes the company",
    "compliance: the client is an insider",
)
WITHDRAWAL_DATES = ("2020-01-24", "2020-02-14", "2020-03-02", "2020-03-31")
TILT_CLASSES = (LC, DEV, MC)


@dataclass(frozen=True)
class AccountChoice:
    """One account's menu choices with the strategy and screens named, not numbered."""

    strategy: str | None
    screens: tuple[str, ...]
    content: Mapping[str, Any]


def _allocation_of(strategy: str) -> dict[str, int]:
    specs = {s.name: s for s in strategy_specs()}
    spec = specs[strategy]
    while spec.allocation is None:
        spec = specs[spec.parent or ""]
    if spec.allocation == NO_REAL_ESTATE:
        return {k: v for k, v in ALLOCATIONS["Growth"].items() if k != RE}
    if spec.allocation == MODERATE_MUNI:
        return {k: v for k, v in ALLOCATIONS["Moderate"].items() if k not in (CORE, CORP)}
    return ALLOCATIONS[spec.allocation]


def _held_stocks(plan: AccountPlan) -> list[str]:
    return sorted({lot.ticker for lot in plan.lots if not lot.ticker.startswith("SYN.")})


def account_choices(
    *, spec: BookSpec, plan: AccountPlan, value_cents: int, subscriber: bool = False
) -> AccountChoice:
    """The menu choices of one planned account: a function of the seed, the plan and the
    account's value (cash plus lots at today's closes, in cents)."""
    rng = random.Random(f"{spec.stream}:{spec.seed}:program:{plan.number}")
    value = value_cents
    taxable = plan.registration_type in (TAXABLE, TRUST)
    content: dict[str, Any] = {}
    if subscriber:
        strategy = PUBLISHED if plan.model in SUBSCRIBER_MODELS else None
        if taxable:
            content["tax_sensitivity"] = rng.choice(("moderate", "sensitive", "sensitive"))
        if rng.random() < 0.2:
            content["cash_target"] = rng.choice(("0.03", "0.05"))
        return AccountChoice(strategy, (), content)

    screens: list[str] = []
    direct = plan.kind == KIND_DIRECT_INDEXING
    if direct:
        if FLAG_ESG in plan.flags:
            strategy = DI_ESG
            screens.append(SCREEN_FOSSIL)
        else:
            risk = rng.choice(("Moderate", "Growth", "Growth", "Aggressive"))
            strategy = direct_strategy(risk)
            if risk == "Growth" and rng.random() < 0.25:
                strategy = DI_NO_RE
    else:
        options = MODEL_STRATEGIES[plan.model]
        strategy = rng.choices([s for s, _ in options], weights=[w for _, w in options])[0]

    # Screens: about a tenth of the accounts (ESG direct indexing above, and some others).
    if rng.random() < 0.08:
        for name in rng.sample(sorted(SCREENS), rng.choice((1, 1, 2))):
            if name not in screens:
                screens.append(name)

    # Restrictions: about a third, each with its reason.
    restrictions: list[dict[str, str]] = []
    stocks = _held_stocks(plan)
    if rng.random() < 0.31:
        for _ in range(rng.choice((1, 1, 1, 2, 2, 3))):
            kind = rng.random()
            if kind < 0.45:
                entry = {
                    "rule": "never_buy",
                    "security": rng.choice(EMPLOYER_STOCKS),
                    "reason": rng.choice(RESTRICTION_REASONS),
                }
            elif kind < 0.6:
                entry = {
                    "rule": "never_buy",
                    "sector": "Energy",
                    "reason": "client's values: no fossil-fuel companies",
                }
            elif kind < 0.7:
                entry = {
                    "rule": "never_buy",
                    "industry": "Tobacco",
                    "reason": "client's values: no tobacco",
                }
            elif stocks:
                entry = {
                    "rule": rng.choice(("never_sell", "do_not_trade")),
                    "security": rng.choice(stocks),
                    "reason": "low cost basis: the client wants to keep it",
                }
            else:
                entry = {
                    "rule": "never_buy",
                    "industry": "Aerospace & Defense",
                    "reason": "client's values: no weapons makers",
                }
            key = (entry["rule"], entry.get("security") or entry.get("sector") or entry["industry"])
            if all(
                (r["rule"], r.get("security") or r.get("sector") or r["industry"]) != key
                for r in restrictions
            ):
                restrictions.append(entry)
    if restrictions:
        content["restrictions"] = restrictions
    if plan.kind == KIND_LEGACY and stocks and rng.random() < 0.6:
        content["legacy_holdings"] = stocks
        if rng.random() < 0.3:
            content["max_turnover"] = rng.choice(("0.1", "0.2"))

    # Tax: taxable accounts choose their sensitivity, bracket and sometimes a budget.
    if taxable:
        choices = ("sensitive", "maximum") if direct else ("moderate", "sensitive", "maximum")
        content["tax_sensitivity"] = rng.choice(choices)
        content["tax_bracket"] = rng.choice(("top", "high", "high", "upper_middle", "middle"))
        content["state_rate"] = rng.choice(("0", "0.05", "0.0575", "0.0685", "0.093"))
        if rng.random() < 0.25:
            content["tax_budget_kind"] = rng.choice(("gains", "gains", "tax"))
            budget = max(1_000, round(value / 100 * rng.uniform(0.01, 0.04), -3))
            content["tax_budget_amount"] = str(int(budget))
            content["tax_budget_period"] = rng.choice(("annual", "annual", "quarterly", "monthly"))
        if rng.random() < 0.05:
            content["carry_forward_short"] = str(rng.randrange(1, 20) * 1000)
            content["carry_forward_long"] = str(rng.randrange(0, 40) * 1000)
        if rng.random() < 0.1:
            content["outside_gains_long"] = str(rng.randrange(5, 100) * 1000)
    elif plan.registration_type in (TRADITIONAL_IRA, ROTH_IRA):
        content["tax_sensitivity"] = "indifferent"

    # Tilts within the firm's limit of 5 points, on a class of the strategy's allocation.
    if rng.random() < 0.1:
        allocation = _allocation_of(strategy)
        path = rng.choice([p for p in TILT_CLASSES if p in allocation])
        points = rng.choice((-3, -2, -1, 1, 2, 3, 4, 5))
        content["tilts"] = {path: str(Decimal(points) / 100)}

    # Cash: a higher target for some; a pending withdrawal for a few (smaller than the account).
    if rng.random() < 0.12:
        content["cash_target"] = rng.choice(("0.02", "0.03", "0.05"))
    if value > 10_000_00 and plan.status == "active" and rng.random() < 0.04:
        withdrawal = max(1_000, round(value / 100 * rng.uniform(0.02, 0.15), -2))
        content["cash_flow_amount"] = str(-int(withdrawal))
        content["cash_flow_date"] = rng.choice(WITHDRAWAL_DATES)

    # Substitutions within a class: the fund share class the client already holds.
    if "all ETFs" in strategy and rng.random() < 0.04:
        content["substitutions"] = [
            {
                "instead_of": "SYN.INTL",
                "hold": "SYN.INTLX",
                "reason": "client holds the index fund share class",
            }
        ]

    # Trading: platinum pricing for large accounts, whole or fractional shares, minimum trade.
    if value >= PLATINUM_VALUE_CENTS:
        content["cost_schedule"] = "platinum"
    if plan.registration_type == ROTH_IRA and rng.random() < 0.3:
        content["fractional_shares"] = True
    if rng.random() < 0.1:
        content["min_trade"] = rng.choice(("50", "250", "500"))
    return AccountChoice(strategy, tuple(sorted(screens)), content)


def customizations_write(
    *,
    program: DemoProgram,
    spec: BookSpec,
    accounts: Sequence[tuple[int, int, AccountPlan]],
    subscriber: bool = False,
) -> int:
    """Settings version 1 of each (account id, household id, plan) of a written chunk."""
    values = {
        pk: int((cash + securities) * 100)
        for pk, cash, securities in Account.objects.filter(
            firm_id=program.firm_id, pk__in=[a[0] for a in accounts]
        ).values_list("id", "cash_balance", "securities_value")
    }
    rows = []
    for account_id, household_id, plan in accounts:
        choice = account_choices(
            spec=spec, plan=plan, value_cents=values[account_id], subscriber=subscriber
        )
        content = dict(choice.content)
        if choice.strategy is not None:
            content["strategy"] = program.strategies[choice.strategy]
        if choice.screens:
            content["screens"] = [program.screens[s] for s in choice.screens]
        if content:
            rows.append(AccountSettings(account_id, household_id, content))
    return account_settings_insert(
        actor=SystemActor.DEMO,
        firm_id=program.firm_id,
        rows=rows,
        reason="demo book: the advisor's choices for a new account (synthetic)",
        audit=False,
    )
