"""From arm runs to the reported numbers: tax cases, tax alpha, tracking error, turnover.

Tax cases. The simulation pays each year's tax under the primary case (actual rates, outside
gains absorb net losses) from or into the account's cash, so the trades follow that case. The
other cases replay the same trades with their own year-end tax (and carry-forward); the
difference between their tax and the primary case's each year is carried in a side balance that
earns the account's own daily return, as if it had been paid from or into the account.

Values ($) for a case at a month-end snapshot (row k, year y):

* post-liquidation: value(k) - liquidation cost + side balance - tax(y) where tax(y) is the
  year's tax with the year-to-date realized results plus every lot's unrealized gain (each at
  its own character), after the carry-in;
* pre-liquidation (at the last row only): value(end) + side balance - tax(year) on realized
  results only (unrealized gains untaxed).

Tax alpha (%/yr) = annualised after-tax return of the arm minus that of ``buy_hold`` in the same
vintage and case: ``100 * ((V / V0) ** (365.25 / days) - (V_bh / V0) ** (365.25 / days))``.
Character part = alpha minus the alpha with every short-term rate set to the long-term rate
(``RateSet.flat``); deferral part = that flat-rate alpha.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from optimizer_lab.backtest.sim import ArmRun
from optimizer_lab.backtest.taxes import ACTUAL_RATES, CBL_RATES, Carry, RateSet, year_tax

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class Case:
    key: str
    label: str
    rates: RateSet
    outside_gains: bool


CASES: tuple[Case, ...] = (
    Case("actual_outside", "actual top rates, outside gains", ACTUAL_RATES, True),
    Case("actual_carry", "actual top rates, no outside gains (carry-forward)", ACTUAL_RATES, False),
    Case("cbl_outside", "35 % / 15 %, outside gains", CBL_RATES, True),
    Case("cbl_carry", "35 % / 15 %, no outside gains (carry-forward)", CBL_RATES, False),
)
PRIMARY = CASES[0]


def daily_returns(run: ArmRun) -> FloatArray:
    """(days - 1,) pre-tax daily returns of the account (tax flows are external)."""
    before = run.values[:-1] + run.flows[:-1]
    return np.asarray(run.values[1:] / before - 1.0)


@dataclass(frozen=True)
class CasePath:
    """After-tax values ($) of one arm in one case."""

    post_by_snapshot: FloatArray
    """(snapshots,) post-liquidation value at each month-end."""
    post_final: float
    pre_final: float


def case_path(run: ArmRun, rates: RateSet, outside_gains: bool) -> CasePath:
    """Replay the run's realized results under ``rates``/``outside_gains`` (see module doc)."""
    growth = np.concatenate([[1.0], np.cumprod(1.0 + daily_returns(run))])
    years = sorted(run.years)
    prim: dict[int, float] = {}
    mine: dict[int, float] = {}
    carry_in: dict[int, Carry] = {}
    carry = Carry()
    for y in years:
        st, lt, dv, _ = run.years[y]
        prim[y] = year_tax(st, lt, dv, y, ACTUAL_RATES, True, Carry())[0]
        carry_in[y] = carry
        mine[y], carry = year_tax(st, lt, dv, y, rates, outside_gains, carry)

    def side_balance(k: int, exclude_year: int) -> float:
        total = 0.0
        for y, row in run.year_rows.items():
            kk = row - run.start
            if kk <= k and y != exclude_year:
                total += (prim[y] - mine[y]) * growth[k] / growth[kk]
        return total

    posts = []
    for s in run.snapshots:
        k = s.row - run.start
        y = dt.date.fromordinal(s.day).year
        cin = carry_in.get(y, carry)
        liq_tax, _ = year_tax(
            s.ytd_st + s.unreal_st, s.ytd_lt + s.unreal_lt, s.ytd_div, y, rates, outside_gains, cin
        )
        posts.append(s.value - s.liq_cost + side_balance(k, y) - liq_tax)
    last = run.snapshots[-1]
    k_end = last.row - run.start
    y_end = dt.date.fromordinal(last.day).year
    pre = last.value + side_balance(k_end, y_end) - mine.get(y_end, 0.0)
    return CasePath(np.array(posts), float(posts[-1]), float(pre))


def annualised(value: float, capital: float, days: int) -> float:
    """% per year of growing ``capital`` to ``value`` in ``days`` calendar days."""
    return 100.0 * (math.pow(value / capital, 365.25 / days) - 1.0)


@dataclass(frozen=True)
class ArmVintageMetrics:
    """The reported numbers of one arm on one vintage."""

    post_liq_alpha: dict[str, float]
    """case key -> %/yr."""
    pre_liq_alpha: dict[str, float]
    character: dict[str, float]
    deferral: dict[str, float]
    pre_character: dict[str, float]
    pre_deferral: dict[str, float]
    alpha_by_year: dict[str, list[float]]
    """case key -> post-liquidation alpha %/yr as if liquidated 1, 2, ... years after funding."""
    cum_alpha_by_month: dict[str, list[float]]
    """case key -> (V_post - V_post_bh) / capital * 100 at each month-end since funding."""
    te_daily: float
    te_monthly: float
    active_return: float
    return_pct: float
    harvested_pct: float
    harvested_by_month: list[float]
    turnover_pct: float
    trades: int
    disallowed: float
    violations: int
    wash_sales: int
    """Loss sales that are wash sales (the checker's count, booked correctly or not)."""
    wash_sales_deferred: int
    """Those whose disallowed loss stays deferred past the day (``checker.CheckReport``)."""
    checker: dict[str, float]


def vintage_metrics(
    run: ArmRun, twin: ArmRun, bench: FloatArray, capital: float
) -> ArmVintageMetrics:
    """Metrics of ``run`` against the ``buy_hold`` run ``twin`` of the same vintage and the
    benchmark's daily total returns ``bench`` (rows start+1 .. end)."""
    days = run.end_day - run.start_day
    post: dict[str, float] = {}
    pre: dict[str, float] = {}
    char: dict[str, float] = {}
    defer: dict[str, float] = {}
    pchar: dict[str, float] = {}
    pdefer: dict[str, float] = {}
    by_year: dict[str, list[float]] = {}
    cum: dict[str, list[float]] = {}
    for case in CASES:
        a = case_path(run, case.rates, case.outside_gains)
        b = case_path(twin, case.rates, case.outside_gains)
        af = case_path(run, case.rates.flat(), case.outside_gains)
        bf = case_path(twin, case.rates.flat(), case.outside_gains)
        post[case.key] = annualised(a.post_final, capital, days) - annualised(
            b.post_final, capital, days
        )
        pre[case.key] = annualised(a.pre_final, capital, days) - annualised(
            b.pre_final, capital, days
        )
        flat_post = annualised(af.post_final, capital, days) - annualised(
            bf.post_final, capital, days
        )
        flat_pre = annualised(af.pre_final, capital, days) - annualised(bf.pre_final, capital, days)
        char[case.key] = post[case.key] - flat_post
        defer[case.key] = flat_post
        pchar[case.key] = pre[case.key] - flat_pre
        pdefer[case.key] = flat_pre
        yearly = []
        for k in range(11, len(run.snapshots), 12):
            span = run.snapshots[k].day - run.start_day
            yearly.append(
                annualised(float(a.post_by_snapshot[k]), capital, span)
                - annualised(float(b.post_by_snapshot[k]), capital, span)
            )
        by_year[case.key] = yearly
        cum[case.key] = list((a.post_by_snapshot - b.post_by_snapshot) / capital * 100.0)
    r = daily_returns(run)
    active = r - bench
    te_d = float(np.std(active, ddof=1) * np.sqrt(252.0))
    g = np.concatenate([[1.0], np.cumprod(1.0 + r)])
    gb = np.concatenate([[1.0], np.cumprod(1.0 + bench)])
    rows = [0] + [s.row - run.start for s in run.snapshots]
    mr = g[rows[1:]] / g[rows[:-1]] - 1.0
    mb = gb[rows[1:]] / gb[rows[:-1]] - 1.0
    te_m = float(np.std(mr - mb, ddof=1) * np.sqrt(12.0)) if len(mr) > 2 else 0.0
    years = days / 365.25
    ret = 100.0 * (g[-1] ** (1.0 / years) - 1.0)
    bret = 100.0 * (gb[-1] ** (1.0 / years) - 1.0)
    harvested = [-s.net_realized / capital * 100.0 for s in run.snapshots]
    disallowed = float(sum(v[3] for v in run.years.values()))
    c = run.check
    return ArmVintageMetrics(
        post_liq_alpha=post,
        pre_liq_alpha=pre,
        character=char,
        deferral=defer,
        pre_character=pchar,
        pre_deferral=pdefer,
        alpha_by_year=by_year,
        cum_alpha_by_month=cum,
        te_daily=100.0 * te_d,
        te_monthly=100.0 * te_m,
        active_return=ret - bret,
        return_pct=ret,
        harvested_pct=harvested[-1],
        harvested_by_month=harvested,
        turnover_pct=100.0 * run.sold_value / float(np.mean(run.values)) / years,
        trades=run.trades,
        disallowed=disallowed,
        violations=c.violations,
        wash_sales=c.wash_sales,
        wash_sales_deferred=c.wash_sales_deferred,
        checker={
            "wash_sales_deferred": float(c.wash_sales_deferred),
            "wash_sales": float(c.wash_sales),
            "wash_sale_loss": float(c.wash_sale_loss),
            "loss_sales": float(c.loss_sales),
            "violations": float(c.violations),
            "violation_loss": float(c.violation_loss),
            "basis_mismatches": float(c.basis_mismatches),
            "holding_mismatches": float(c.holding_mismatches),
            "unknown_lots": float(c.unknown_lots),
            "over_disallowed": float(c.over_disallowed),
        },
    )
