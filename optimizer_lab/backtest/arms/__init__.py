"""The arms of the backtest: one trading rule each, all on the same ledger and tax engine.

``make_arm(key)`` returns a fresh arm; ``ALL_ARMS`` lists the keys in report order.
"""

from __future__ import annotations

from optimizer_lab.backtest.arms.rules import BuyHold, LoserRebuy, Naive
from optimizer_lab.backtest.sim import Arm

ALL_ARMS: tuple[str, ...] = (
    "buy_hold",
    "loser_rebuy",
    "naive_monthly",
    "naive_daily",
    "opt_daily_te050",
    "opt_daily_te100",
    "opt_daily_te200",
    "opt_monthly_te100",
    "opt_daily_te100_cf",
)
QUICK_ARMS: tuple[str, ...] = (
    "buy_hold",
    "loser_rebuy",
    "naive_monthly",
    "naive_daily",
    "opt_daily_te100",
    "opt_monthly_te100",
    "opt_daily_te100_cf",
)


def make_arm(key: str) -> Arm:
    """A new arm object for ``key`` (one of ``ALL_ARMS``; an engine arm with the suffix ``_cf``
    is told the investor has no outside gains)."""
    if key == "buy_hold":
        return BuyHold()
    if key == "loser_rebuy":
        return LoserRebuy()
    if key == "naive_monthly":
        return Naive(key, daily=False)
    if key == "naive_daily":
        return Naive(key, daily=True)
    if key.startswith("opt_"):
        from optimizer_lab.backtest.arms.optimizer_arm import OptimizerArm

        daily = key.startswith("opt_daily")
        cf = key.endswith("_cf")
        te = int(key.removesuffix("_cf")[-3:]) / 10000.0
        return OptimizerArm(key, daily=daily, te_max=te, outside_gains=not cf)
    raise KeyError(f"unknown arm {key!r}")
