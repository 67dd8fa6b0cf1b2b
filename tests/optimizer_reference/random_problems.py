"""Seeded random optimizer problems of every kind, small enough for cvxpy in a unit test.

Each kind switches on the features it is named after on top of a common random account
(securities, prices, lots with random bases and acquisition dates, targets, costs).
"""

from __future__ import annotations

import datetime as dt

import numpy as np

from optimizer.types import (
    EquivalenceGroup,
    GroupBound,
    Lots,
    Mode,
    Problem,
    RecentTrade,
    RiskModel,
    Settings,
    Side,
    TaxRates,
    TaxYear,
)

AS_OF = dt.date(2019, 6, 28)

KINDS = (
    "model",
    "di",
    "equivalence",
    "wash_sale",
    "budgets",
    "turnover",
    "te_cap",
    "withdrawal",
    "contribution",
    "restricted",
    "raise_cash",
    "bounds",
    "tax_year",
    "tax_year_model",
)


def _risk_model(rng: np.random.Generator, n: int, k: int) -> RiskModel:
    """Annual-units factor model: a market column, sector dummies and dense random columns."""
    loadings = np.zeros((n, k))
    loadings[:, 0] = rng.uniform(0.7, 1.3, n)
    n_sec = max(1, k // 2)
    loadings[np.arange(n), 1 + rng.integers(0, n_sec, n)] = 1.0
    loadings[:, 1 + n_sec :] = rng.normal(0.0, 0.5, (n, k - 1 - n_sec))
    root = rng.normal(0.0, 0.08, (k, k))
    factor_cov = root @ root.T / k + np.diag(rng.uniform(0.0005, 0.003, k))
    factor_cov[0, 0] += 0.03
    factor_cov = 0.5 * (factor_cov + factor_cov.T)
    specific_var = rng.uniform(0.02, 0.12, n)
    return RiskModel(loadings, factor_cov, specific_var, name="random")


def random_problem(kind: str, seed: int) -> Problem:
    """A feasible-looking random problem of ``kind`` (one of ``KINDS``), deterministic in seed."""
    rng = np.random.default_rng([KINDS.index(kind), seed])
    di = kind not in ("model", "contribution", "raise_cash", "tax_year_model")
    n = int(rng.integers(25, 45)) if di else int(rng.integers(8, 16))
    n_lots = int(rng.integers(int(1.5 * n), 3 * n))
    prices = np.round(rng.uniform(10.0, 400.0, n), 2)
    targets = rng.dirichlet(np.full(n, 2.0)) * 0.98
    targets[rng.random(n) < 0.15] = 0.0
    targets *= 0.98 / targets.sum()
    held_sec = np.sort(rng.choice(n, size=n_lots, replace=True))
    total = 1_000_000.0
    value = total * rng.dirichlet(np.full(n_lots, 1.5))
    shares = np.round(value / prices[held_sec], 3)
    shares = np.maximum(shares, 1.0)
    # Basis: the price moved by -40 % .. +120 % since purchase.
    growth = rng.uniform(-0.4, 1.2, n_lots)
    basis = shares * prices[held_sec] / (1.0 + growth)
    acquired = np.datetime64(AS_OF) - rng.integers(1, 1500, n_lots).astype("timedelta64[D]")
    lots = Lots(
        lot_id=np.arange(1000, 1000 + n_lots, dtype=np.int64),
        security=held_sec.astype(np.int64),
        shares=shares,
        cost_basis=basis,
        acquired=acquired.astype("datetime64[D]"),
    )
    cash = float(total * rng.uniform(0.0, 0.03))
    settings: dict[str, object] = {
        "risk_aversion": float(rng.choice([1.0, 10.0, 100.0])) if di else 1.0,
        "tax_weight": float(rng.uniform(0.2, 1.0)),
        "cost_weight": 1.0,
        "cash_target": float(rng.uniform(0.0, 0.02)),
    }
    fields: dict[str, object] = {
        "cost_rates": rng.uniform(0.0, 0.002, n),
        "tax_rates": TaxRates(short_term=0.408, long_term=0.238),
    }
    if di:
        fields["risk_model"] = _risk_model(rng, n, int(rng.integers(4, 9)))
    else:
        settings["risk_aversion"] = float(rng.choice([0.5, 5.0, 50.0]))

    if kind == "equivalence":
        perm = rng.permutation(n)
        fields["equivalence_groups"] = (
            EquivalenceGroup(tuple(int(i) for i in perm[:3]), substantially_identical=False),
            EquivalenceGroup(tuple(int(i) for i in perm[3:5]), substantially_identical=True),
            EquivalenceGroup(tuple(int(i) for i in perm[5:8]), substantially_identical=False),
        )
        settings["substitute_penalty"] = 1e-4
    if kind in ("wash_sale", "equivalence"):
        trades = []
        for j in range(int(rng.integers(4, 10))):
            side = Side.BUY if j % 2 == 0 else Side.SELL
            trades.append(
                RecentTrade(
                    security=int(rng.integers(0, n)),
                    trade_date=AS_OF - dt.timedelta(days=int(rng.integers(-5, 45))),
                    side=side,
                    realized_loss=bool(side == Side.SELL and rng.random() < 0.8),
                    household=bool(rng.random() < 0.3),
                    account_id="hh-other" if j % 3 == 0 else "",
                )
            )
        fields["recent_trades"] = tuple(trades)
        if kind == "wash_sale":
            perm = rng.permutation(n)
            fields["equivalence_groups"] = (
                EquivalenceGroup((int(perm[0]), int(perm[1])), substantially_identical=True),
            )
    if kind == "budgets":
        settings["gain_budget"] = float(rng.uniform(0.0, 20_000.0))
        settings["tax_budget"] = float(rng.uniform(0.0, 5_000.0))
        fields["realized_gain_ytd"] = float(rng.uniform(-5_000.0, 15_000.0))
        fields["tax_ytd"] = float(rng.uniform(-1_000.0, 3_000.0))
    if kind == "turnover":
        settings["turnover_max"] = float(rng.uniform(0.05, 0.3))
    if kind == "te_cap":
        settings["te_max"] = float(rng.uniform(0.01, 0.04))
    if kind == "withdrawal":
        fields["withdrawal"] = float(total * rng.uniform(0.02, 0.1))
    if kind == "contribution":
        cash += float(total * rng.uniform(0.05, 0.3))
        settings["mode"] = Mode.INVEST_CASH if rng.random() < 0.5 else Mode.REBALANCE
    if kind == "raise_cash":
        settings["mode"] = Mode.RAISE_CASH
        fields["withdrawal"] = float(total * rng.uniform(0.02, 0.1))
    if kind == "restricted":
        fields["never_buy"] = rng.random(n) < 0.15
        fields["never_sell"] = rng.random(n) < 0.15
        fields["do_not_trade"] = rng.random(n) < 0.1
    if kind == "bounds":
        fields["max_weight"] = np.where(rng.random(n) < 0.3, targets * 0.8 + 0.005, np.inf)
        fields["min_weight"] = np.where(rng.random(n) < 0.2, targets * 0.5, 0.0)
        members = np.sort(rng.choice(n, size=n // 3, replace=False)).astype(np.int64)
        share = float(targets[members].sum())
        fields["group_bounds"] = (
            GroupBound("sector-a", "sector", members, 0.8 * share, 1.1 * share),
        )
        settings["cash_max"] = 0.05
    if kind in ("tax_year", "tax_year_model"):
        # Positions around the kinks: the run's gains and losses (up to ~1e5 $) can cross
        # zero net short-term gain and the ordinary-income offset.
        fields["tax_year"] = TaxYear(
            gain_ytd_short=float(rng.uniform(-30_000.0, 30_000.0)),
            gain_ytd_long=float(rng.uniform(-30_000.0, 30_000.0)),
            carryforward_short=float(rng.choice([0.0, rng.uniform(0.0, 40_000.0)])),
            carryforward_long=float(rng.choice([0.0, rng.uniform(0.0, 40_000.0)])),
            outside_gain_short=float(rng.uniform(0.0, 10_000.0)),
            outside_gain_long=float(rng.uniform(0.0, 20_000.0)),
            carryforward_discount=float(rng.uniform(0.2, 0.8)),
        )
        settings["anniversary_days"] = int(rng.choice([0, 30, 90]))
    return Problem(
        account_id=f"{kind}-{seed}",
        as_of=AS_OF,
        security_ids=tuple(f"S{i:03d}" for i in range(n)),
        prices=prices,
        targets=targets,
        lots=lots,
        cash=cash,
        settings=Settings(**settings),  # type: ignore[arg-type]
        **fields,  # type: ignore[arg-type]
    )
