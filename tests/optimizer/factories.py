"""Seeded random problems of every kind, and tiny hand-made ones, for the optimizer tests."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

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
)

AS_OF = dt.date(2019, 3, 1)


def lots_of(
    security: list[int],
    shares: list[float],
    basis: list[float],
    acquired: list[str],
    lot_id: list[int] | None = None,
) -> Lots:
    return Lots(
        lot_id=np.asarray(
            lot_id if lot_id is not None else range(1, len(security) + 1), dtype=np.int64
        ),
        security=np.asarray(security, dtype=np.int64),
        shares=np.asarray(shares, dtype=np.float64),
        cost_basis=np.asarray(basis, dtype=np.float64),
        acquired=np.asarray(acquired, dtype="datetime64[D]"),
    )


def random_problem(
    seed: int,
    *,
    n: int | None = None,
    lots: int | None = None,
    factors: int | None = None,
    features: bool = True,
    loading_density: float = 0.7,
) -> Problem:
    """A random but valid problem. ``features`` switches on random constraints and rules."""
    rng = np.random.default_rng(seed)
    n = int(rng.integers(3, 12)) if n is None else n
    L = int(rng.integers(0, 3 * n)) if lots is None else lots
    prices = np.round(rng.uniform(5, 300, n), 2)
    sec = np.sort(rng.integers(0, n, L)).astype(np.int64)
    shares = np.round(rng.uniform(1, 400, L), 0) + (rng.random(L) < 0.1) * 0.5
    basis = shares * prices[sec] * rng.uniform(0.5, 1.6, L)
    days = rng.integers(1, 1500, L)
    acquired = np.datetime64(AS_OF, "D") - days.astype("timedelta64[D]")
    value = float((shares * prices[sec]).sum())
    cash = float(rng.uniform(0.0, 0.2) * max(value, 10000.0))
    tgt = rng.dirichlet(np.ones(n)) * rng.uniform(0.9, 1.0)
    k = int(rng.integers(0, 4)) if factors is None else factors
    risk_model = None
    if k > 0 or (factors is None and rng.random() < 0.5):
        k = max(k, 1)
        load = rng.normal(0, 1, (n, k)) * (rng.random((n, k)) < loading_density)
        a = rng.normal(0, 0.1, (k, k))
        risk_model = RiskModel(
            loadings=load,
            factor_cov=a @ a.T + 0.01 * np.eye(k),
            specific_var=rng.uniform(0.01, 0.1, n),
        )
    kw: dict[str, object] = {}
    settings: dict[str, object] = {
        "risk_aversion": float(rng.choice([0.5, 5.0, 50.0])),
        "substitute_penalty": 1e-4,
    }
    if features:
        settings["cash_target"] = float(rng.choice([0.0, 0.01, 0.02]))
        if rng.random() < 0.3:
            settings["turnover_max"] = float(rng.uniform(0.02, 0.3))
        if rng.random() < 0.3:
            settings["gain_budget"] = float(rng.uniform(0, 0.02) * value)
        if rng.random() < 0.3:
            settings["tax_budget"] = float(rng.uniform(0, 0.005) * value)
        if rng.random() < 0.3:
            settings["te_max"] = float(rng.uniform(0.01, 0.2))
        if rng.random() < 0.2:
            settings["cash_max"] = float(settings["cash_target"]) + 0.05  # type: ignore[arg-type]
        settings["mode"] = Mode(str(rng.choice(["rebalance"] * 6 + ["raise_cash", "invest_cash"])))
        settings["min_trade"] = float(rng.choice([0.0, 0.0, 50.0, 500.0]))
        settings["fractional_shares"] = bool(rng.random() < 0.3)
        kw["cost_rates"] = rng.uniform(0, 0.003, n)
        if rng.random() < 0.3:
            kw["max_weight"] = np.where(rng.random(n) < 0.3, rng.uniform(0.02, 0.3, n), np.inf)
        if rng.random() < 0.3:
            kw["min_weight"] = np.where(rng.random(n) < 0.2, rng.uniform(0.0, 0.05, n), 0.0)
        if rng.random() < 0.4:
            kw["never_buy"] = rng.random(n) < 0.1
            kw["never_sell"] = rng.random(n) < 0.1
            kw["do_not_trade"] = rng.random(n) < 0.05
        if rng.random() < 0.3:
            kw["withdrawal"] = float(rng.uniform(0, 0.2) * value)
        kw["realized_gain_ytd"] = float(rng.normal(0, 0.005) * value)
        kw["tax_ytd"] = float(rng.normal(0, 0.001) * value)
        trades = []
        for _ in range(int(rng.integers(0, 4))):
            trades.append(
                RecentTrade(
                    security=int(rng.integers(0, n)),
                    trade_date=AS_OF - dt.timedelta(days=int(rng.integers(-10, 45))),
                    side=Side.BUY if rng.random() < 0.5 else Side.SELL,
                    realized_loss=bool(rng.random() < 0.7),
                    household=bool(rng.random() < 0.3),
                )
            )
        kw["recent_trades"] = tuple(trades)
        if n >= 4 and rng.random() < 0.5:
            perm = rng.permutation(n)
            groups = [
                EquivalenceGroup(
                    members=(int(perm[0]), int(perm[1])),
                    substantially_identical=bool(rng.random() < 0.5),
                ),
            ]
            if n >= 6:
                groups.append(EquivalenceGroup(members=(int(perm[2]), int(perm[3]), int(perm[4]))))
            kw["equivalence_groups"] = tuple(groups)
        if rng.random() < 0.3:
            members = np.flatnonzero(rng.random(n) < 0.4).astype(np.int64)
            kw["group_bounds"] = (
                GroupBound(
                    name="sector A",
                    kind="sector",
                    members=members,
                    lower=0.0,
                    upper=float(rng.uniform(0.1, 0.6)),
                ),
            )
    return Problem(
        account_id=f"rand-{seed}",
        as_of=AS_OF,
        security_ids=tuple(f"S{i:03d}" for i in range(n)),
        prices=prices,
        targets=tgt,
        lots=Lots(
            lot_id=np.arange(100, 100 + L, dtype=np.int64),
            security=sec,
            shares=shares,
            cost_basis=basis,
            acquired=acquired,
        ),
        cash=cash,
        settings=Settings(**settings),  # type: ignore[arg-type]
        tax_rates=TaxRates(short_term=0.37, long_term=0.2),
        risk_model=risk_model,
        **kw,  # type: ignore[arg-type]
    )


def tiny(
    prices: list[float],
    targets: list[float],
    lots: Sequence[tuple[int, float, float, str]],
    *,
    cash: float = 0.0,
    ids: tuple[str, ...] | None = None,
    **kw: object,
) -> Problem:
    """A hand-made problem. ``lots``: (security, shares, total cost basis $, acquired ISO)."""
    n = len(prices)
    return Problem(
        account_id="tiny",
        as_of=kw.pop("as_of", AS_OF),  # type: ignore[arg-type]
        security_ids=ids if ids is not None else tuple("ABCDEFGHIJ"[:n]),
        prices=np.asarray(prices, dtype=np.float64),
        targets=np.asarray(targets, dtype=np.float64),
        lots=lots_of(
            [lot[0] for lot in lots],
            [lot[1] for lot in lots],
            [lot[2] for lot in lots],
            [lot[3] for lot in lots],
        ),
        cash=cash,
        **kw,  # type: ignore[arg-type]
    )
