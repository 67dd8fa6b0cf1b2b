"""Independent cvxpy statement of the continuous problem of ``docs/optimizer.md`` (sections 1-5).

This module is the cross-check of the engine: it is written from the document and
``optimizer/types.py`` only and shares no code with ``optimizer/build.py`` (it re-derives lot
weights, holding periods, wash-sale and restriction fixings, drift units and every constraint).
It is slow and straightforward on purpose: cvxpy with Clarabel underneath (cvxpy is imported on
the first ``reference_solve`` call; the numpy helpers below do not need it).

- ``reference_solve(problem)``: the continuous optimum (objective with constants, and x, b);
  ``reference_solve(problem, elastic=True)`` the same with every soft constraint elastic.
- ``objective_terms(problem, x, b)``: the objective of section 4 evaluated in numpy at any point.
- ``constraint_violations(problem, x, b, tol)``: every constraint of sections 3 and 5 checked at
  a point; returns a list of human-readable violations (empty = feasible within ``tol``).
- ``solution_point(problem, solution)``: the (x, b) of a ``Solution``'s proposed (rounded) trades.

Units: x = fraction of each lot sold (L,), b = weight bought per security (n,), weights are
fractions of B = cash + lot values - withdrawal; money in $; risk in annual variance.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import importlib
import math
import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp

from optimizer.types import Mode, Problem, Side, Solution

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]

WINDOW_DAYS = 30

# Tighter than Clarabel's defaults (1e-8) so that the reference objective is accurate to well
# below the 1e-6 relative agreement the tests ask for.
REFERENCE_SOLVER_OPTIONS: dict[str, float | int] = {
    "tol_gap_abs": 1e-10,
    "tol_gap_rel": 1e-10,
    "tol_feas": 1e-10,
    "max_iter": 500,
}


@dataclass(frozen=True, eq=False)
class Terms:
    """Objective terms of section 4 (weight units) and the tracking error sqrt(V)."""

    risk: float
    tax: float
    cost: float
    substitute: float
    total: float
    tracking_error: float
    wait: float = 0.0


@dataclass(frozen=True, eq=False)
class ReferenceResult:
    """Continuous optimum by cvxpy + Clarabel.

    ``status``: cvxpy status (``optimal`` or otherwise); ``objective``: f with its constants.
    ``lot_fraction`` (L,), ``buys`` / ``sells`` / ``weights`` (n,) weight units.
    ``seconds``: wall time of ``problem.solve`` (cvxpy canonicalisation + Clarabel);
    ``solver_seconds``: Clarabel's own solve time as reported by cvxpy.
    """

    status: str
    objective: float
    terms: Terms
    lot_fraction: FloatArray
    buys: FloatArray
    sells: FloatArray
    weights: FloatArray
    cash_weight: float
    iterations: int
    seconds: float
    solver_seconds: float


@dataclass(frozen=True, eq=False)
class _Data:
    """Everything of section 1-4 derived from a Problem, in numpy."""

    n: int
    base: float
    lot_weight: FloatArray  # m_l (L,)
    lot_sec: npt.NDArray[np.intp]  # sigma(l) (L,)
    lot_sell: sp.csr_matrix  # (n, L): s = lot_sell @ x
    held: FloatArray  # h (n,)
    gain: FloatArray  # g_l $ (L,)
    rate: FloatArray  # r_l (L,)
    kappa: FloatArray  # (n,)
    sellable: BoolArray  # (L,)
    buyable: BoolArray  # (n,)
    units: sp.csr_matrix  # (U, n) membership
    unit_target: FloatArray  # (U,)
    delta: FloatArray  # (U,)
    penalty: FloatArray  # pi_i (n,)
    factor_root: FloatArray | None  # R with F = R'R, (k, k)
    loadings: FloatArray | None  # (n, k)
    short: BoolArray  # (L,) short-term lots
    wait: FloatArray  # (L,) waiting charge $ per lot sold whole (anniversary_days)


def _anniversary(day: dt.date) -> dt.date:
    try:
        return day.replace(year=day.year + 1)
    except ValueError:  # 29 February -> 28 February
        return day.replace(year=day.year + 1, day=28)


def _as_date(value: object) -> dt.date:
    return dt.date.fromisoformat(str(value)[:10])


def _restriction(arr: BoolArray | None, n: int) -> BoolArray:
    return np.zeros(n, dtype=bool) if arr is None else np.asarray(arr, dtype=bool)


def _wash_class(problem: Problem, i: int) -> set[int]:
    members = {i}
    for group in problem.equivalence_groups:
        if group.substantially_identical and i in group.members:
            members.update(group.members)
    return members


def _fixings(problem: Problem, gain: FloatArray) -> tuple[BoolArray, BoolArray]:
    """(sellable lots (L,), buyable securities (n,)) after section 3's hard rules."""
    n = problem.n_securities
    lots = problem.lots
    as_of = problem.as_of
    in_window = [
        r for r in problem.recent_trades if abs((as_of - r.trade_date).days) <= WINDOW_DAYS
    ]
    bought = {r.security for r in in_window if r.side == Side.BUY}
    loss_sold = {r.security for r in in_window if r.side == Side.SELL and r.realized_loss}
    never_buy = _restriction(problem.never_buy, n)
    never_sell = _restriction(problem.never_sell, n)
    dnt = _restriction(problem.do_not_trade, n)
    mode = problem.settings.mode

    buyable = np.ones(n, dtype=bool)
    for i in range(n):
        if never_buy[i] or dnt[i] or mode == Mode.RAISE_CASH or _wash_class(problem, i) & loss_sold:
            buyable[i] = False
    sellable = np.ones(lots.count, dtype=bool)
    for j in range(lots.count):
        i = int(lots.security[j])
        restricted = bool(never_sell[i] or dnt[i] or mode == Mode.INVEST_CASH)
        cls = _wash_class(problem, i)
        wash_sale = bool(gain[j] < 0.0 and cls & bought)
        if wash_sale:
            # A purchase is not its own replacement: every in-window buy of the class is this
            # account's own purchase of this very lot (section 3).
            buys = [r for r in in_window if r.side == Side.BUY and r.security in cls]
            wash_sale = not all(
                not r.household
                and r.trade_date <= as_of
                and r.lot_id == int(lots.lot_id[j])
                and r.security == i
                for r in buys
            )
        sellable[j] = not (restricted or wash_sale)
    return sellable, buyable


def _prepare(problem: Problem) -> _Data:
    n = problem.n_securities
    lots = problem.lots
    big_l = lots.count
    prices = np.asarray(problem.prices, dtype=np.float64)
    lot_sec = np.asarray(lots.security, dtype=np.intp)
    value = np.asarray(lots.shares, dtype=np.float64) * prices[lot_sec]
    base = float(problem.cash) + float(value.sum()) - float(problem.withdrawal)
    if not base > 0.0:
        raise ValueError("base value B must be positive")
    m = value / base
    lot_sell = sp.csr_matrix((m, (lot_sec, np.arange(big_l))), shape=(n, big_l))
    held = np.asarray(lot_sell.sum(axis=1)).ravel()
    gain = value - np.asarray(lots.cost_basis, dtype=np.float64)
    long_term = np.array(
        [problem.as_of > _anniversary(_as_date(a)) for a in lots.acquired], dtype=bool
    )
    rates = problem.tax_rates
    rate = np.where(long_term, rates.long_term, rates.short_term).astype(np.float64)
    # Waiting charge (section 4): a short-term gain lot that turns long term (the day after its
    # anniversary) within anniversary_days pays (r_S - r_L) x gain when sold.
    days = problem.settings.anniversary_days
    turns = [(_anniversary(_as_date(a)) - problem.as_of).days + 1 for a in lots.acquired]
    near = np.array([days > 0 and t <= days for t in turns], dtype=bool) & ~long_term
    wait = np.where(
        near & (gain > 0), max(rates.short_term - rates.long_term, 0.0) * gain, 0.0
    ).astype(np.float64)
    kappa = (
        np.zeros(n) if problem.cost_rates is None else np.asarray(problem.cost_rates, np.float64)
    )
    sellable, buyable = _fixings(problem, gain)

    # Drift units: one per equivalence group, then one per security in no group (index order).
    grouped: dict[int, tuple[int, int]] = {}  # security -> (unit, rank)
    unit_members: list[tuple[int, ...]] = []
    for group in problem.equivalence_groups:
        for rank, i in enumerate(group.members):
            grouped[int(i)] = (len(unit_members), rank)
        unit_members.append(tuple(int(i) for i in group.members))
    for i in range(n):
        if i not in grouped:
            grouped[i] = (len(unit_members), 0)
            unit_members.append((i,))
    n_units = len(unit_members)
    rows = [grouped[i][0] for i in range(n)]
    units = sp.csr_matrix((np.ones(n), (rows, np.arange(n))), shape=(n_units, n))
    targets = np.asarray(problem.targets, dtype=np.float64)
    unit_target = units @ targets
    penalty = problem.settings.substitute_penalty * np.array(
        [grouped[i][1] for i in range(n)], dtype=np.float64
    )
    rm = problem.risk_model
    if rm is None:
        delta = np.ones(n_units)
        factor_root = None
        loadings = None
    else:
        spec = np.asarray(rm.specific_var, dtype=np.float64)
        delta = np.array([spec[u[0]] for u in unit_members], dtype=np.float64)
        cov = np.asarray(rm.factor_cov, dtype=np.float64)
        vals, vecs = np.linalg.eigh(0.5 * (cov + cov.T))
        factor_root = np.sqrt(np.clip(vals, 0.0, None))[:, None] * vecs.T
        loadings = np.asarray(rm.loadings, dtype=np.float64)
    return _Data(
        n=n,
        base=base,
        lot_weight=m,
        lot_sec=lot_sec,
        lot_sell=lot_sell,
        held=held,
        gain=gain,
        rate=rate,
        kappa=kappa,
        sellable=sellable,
        buyable=buyable,
        units=units,
        unit_target=unit_target,
        delta=delta,
        penalty=penalty,
        factor_root=factor_root,
        loadings=loadings,
        short=~long_term,
        wait=wait,
    )


def _active_variance(problem: Problem, d: _Data, w: FloatArray) -> float:
    a = d.units @ w - d.unit_target
    var = float(np.sum(d.delta * a * a))
    if d.loadings is not None and d.factor_root is not None:
        y = d.loadings.T @ (w - np.asarray(problem.targets, dtype=np.float64))
        z = d.factor_root @ y
        var += float(z @ z)
    return var


def _year_tax(problem: Problem, g_short: Any, g_long: Any, pos: Any) -> Any:
    """Tax $ of the account's year (docs/optimizer.md section 4, "the account's tax year")
    with this run's short- and long-term gains ``g_short`` / ``g_long`` ($), minus the same
    with nothing sold. ``pos`` is max(., 0) (numpy or cvxpy)."""
    ty = problem.tax_year
    assert ty is not None
    r_s, r_l = problem.tax_rates.short_term, problem.tax_rates.long_term
    r_c = ty.carryforward_discount * r_l
    a_s = ty.gain_ytd_short + ty.outside_gain_short - ty.carryforward_short
    a_l = ty.gain_ytd_long + ty.outside_gain_long - ty.carryforward_long
    k = ty.ordinary_offset

    def t(n_s: Any, n_l: Any) -> Any:
        return (
            r_l * (n_s + n_l)
            + (r_s - r_l) * pos(n_s + n_l if a_l < 0.0 else n_s)
            + (r_l - r_c) * pos(-k - n_s - n_l)
        )

    return t(a_s + g_short, a_l + g_long) - t(a_s, a_l)


def _tax_dollars(problem: Problem, d: _Data, x: FloatArray) -> float:
    if problem.tax_year is None:
        return float(np.sum(d.rate * d.gain * x))
    g = d.gain * x
    return float(_year_tax(problem, float(g[d.short].sum()), float(g[~d.short].sum()), _pos_np))


def _pos_np(v: float) -> float:
    return max(v, 0.0)


def _terms(problem: Problem, d: _Data, x: FloatArray, b: FloatArray) -> Terms:
    st = problem.settings
    s = d.lot_sell @ x
    w = d.held + b - s
    var = _active_variance(problem, d, w)
    risk = st.risk_aversion * var
    tax = st.tax_weight * _tax_dollars(problem, d, x) / d.base
    cost = st.cost_weight * float(d.kappa @ (b + s))
    sub = float(d.penalty @ b)
    wait = float(d.wait @ x) / d.base
    return Terms(
        risk, tax, cost, sub, risk + tax + cost + sub + wait, math.sqrt(max(var, 0.0)), wait
    )


def objective_terms(problem: Problem, lot_fraction: FloatArray, buys: FloatArray) -> Terms:
    """Objective of docs/optimizer.md section 4 at (x, b), evaluated in numpy (weight units)."""
    d = _prepare(problem)
    return _terms(problem, d, np.asarray(lot_fraction, np.float64), np.asarray(buys, np.float64))


def _bounds(problem: Problem, d: _Data) -> tuple[FloatArray, FloatArray]:
    """Section 5's per-security weight bounds (lo', hi') that never demand a forbidden trade."""
    n = d.n
    lo = np.zeros(n) if problem.min_weight is None else np.asarray(problem.min_weight, np.float64)
    hi = (
        np.full(n, np.inf)
        if problem.max_weight is None
        else np.asarray(problem.max_weight, np.float64)
    )
    lo_eff = np.where(d.buyable, lo, np.minimum(lo, d.held))
    sellable_w = d.lot_sell @ d.sellable.astype(np.float64)
    hi_eff = np.maximum(hi, d.held - sellable_w)
    return lo_eff, hi_eff


def _remaining(budget: float | None, ytd: float) -> float | None:
    return None if budget is None else max(budget - ytd, 0.0)


ELASTIC_PENALTY: dict[str, float] = {
    "turnover": 1e3,
    "budgets": 1e4,
    "weights": 1e4,
    "tracking_error": 1e4,
}
"""docs/optimizer.md section 5: penalty per unit of excess of each soft rung (weight units;
annual TE for the cap), times the problem's slope 1 + max |c| + 2 gamma max_i Q_ii."""
TE_FLOOR = 1e-3


def _slope(problem: Problem, d: _Data) -> float:
    """1 + the largest linear cost per unit weight of a free variable + 2 gamma times the
    largest diagonal entry of the active-variance form (section 5)."""
    st = problem.settings
    value = d.lot_weight * d.base
    sale_cost = st.tax_weight * d.rate * d.gain / value + st.cost_weight * d.kappa[d.lot_sec]
    buy_cost = st.cost_weight * d.kappa + d.penalty
    c_max = max(
        float(np.max(np.abs(sale_cost[d.sellable]), initial=0.0)),
        float(np.max(np.abs(buy_cost[d.buyable]), initial=0.0)),
    )
    unit_of = np.asarray(d.units.argmax(axis=0)).ravel()
    q_diag = d.delta[unit_of]
    if d.loadings is not None and d.factor_root is not None:
        q_diag = q_diag + np.sum((d.loadings @ d.factor_root.T) ** 2, axis=1)
    return 1.0 + c_max + 2.0 * st.risk_aversion * float(np.max(q_diag, initial=0.0))


def reference_solve(
    problem: Problem, verbose: bool = False, elastic: bool = False
) -> ReferenceResult:
    """Solve the continuous problem of sections 2-5 (all constraints present) with cvxpy.

    ``elastic``: every soft constraint may be exceeded at the penalty of section 5 (the
    interior-point backend's statement); ``objective`` then includes the penalties."""
    # Imported here so that the numpy helpers of this module do not load cvxpy; its atoms are
    # star re-exports that mypy cannot see, so the module is treated as untyped.
    cp: Any = importlib.import_module("cvxpy")
    d = _prepare(problem)
    st = problem.settings
    n, big_l = d.n, problem.lots.count
    x = cp.Variable(big_l, name="x")
    b = cp.Variable(n, name="b")
    s = d.lot_sell @ x
    w = d.held + b - s
    cash = float(problem.cash) / d.base + cp.sum(s) - cp.sum(b) - d.kappa @ (b + s)
    withdraw_w = float(problem.withdrawal) / d.base
    slope = _slope(problem, d) if elastic else 0.0
    excess: list[Any] = []
    penalties: list[float] = []

    def soft(rung: str, size: int = 1) -> Any:
        """0 when hard; else a nonnegative excess variable priced at the rung's penalty."""
        if not elastic:
            return 0.0
        e = cp.Variable(size, nonneg=True)
        excess.append(e)
        penalties.append(ELASTIC_PENALTY[rung] * slope)
        return e

    cons: list[Any] = [
        x >= 0.0,
        x <= d.sellable.astype(np.float64),
        b >= 0.0,
        cash >= withdraw_w + st.cash_target,
    ]
    if not d.buyable.all():
        cons.append(b[np.flatnonzero(~d.buyable)] == 0.0)
    if st.turnover_max is not None:
        cons.append(cp.sum(b) + cp.sum(s) <= st.turnover_max + soft("turnover"))
    gain_left = _remaining(st.gain_budget, problem.realized_gain_ytd)
    if gain_left is not None:
        cons.append((d.gain @ x) / d.base <= gain_left / d.base + soft("budgets"))
    tax_left = _remaining(st.tax_budget, problem.tax_ytd)
    if tax_left is not None:
        cons.append(((d.rate * d.gain) @ x) / d.base <= tax_left / d.base + soft("budgets"))
    lo, hi = _bounds(problem, d)
    if np.any(lo > 0.0):
        idx = np.flatnonzero(lo > 0.0)
        cons.append(w[idx] >= lo[idx] - soft("weights", len(idx)))
    if np.any(np.isfinite(hi)):
        idx = np.flatnonzero(np.isfinite(hi))
        cons.append(w[idx] <= hi[idx] + soft("weights", len(idx)))
    for gb in problem.group_bounds:
        members = np.asarray(gb.members, dtype=np.intp)
        total = cp.sum(w[members])
        if gb.lower > 0.0:
            cons.append(total >= gb.lower - soft("weights"))
        if math.isfinite(gb.upper):
            cons.append(total <= gb.upper + soft("weights"))
    if st.cash_max is not None:
        cons.append(cash <= withdraw_w + st.cash_max + soft("weights"))

    active = d.units @ w - d.unit_target
    spec_part = cp.multiply(np.sqrt(d.delta), active)
    if d.loadings is not None and d.factor_root is not None:
        y = d.loadings.T @ (w - np.asarray(problem.targets, dtype=np.float64))
        stacked = cp.hstack([d.factor_root @ y, spec_part])
    else:
        stacked = spec_part
    if st.te_max is not None:
        if elastic:
            # Excess in variance units, priced per unit of TE near the cap: 1 / (2 te).
            e_te = cp.Variable(1, nonneg=True)
            cons.append(cp.sum_squares(stacked) <= st.te_max**2 + e_te)
            excess.append(e_te)
            penalties.append(
                ELASTIC_PENALTY["tracking_error"] * slope / (2.0 * max(st.te_max, TE_FLOOR))
            )
        else:
            cons.append(cp.norm(stacked, 2) <= st.te_max)
    if problem.tax_year is None:
        tax_dollars = (d.rate * d.gain) @ x
    else:
        short = d.short.astype(np.float64)
        tax_dollars = _year_tax(problem, (d.gain * short) @ x, (d.gain * (1.0 - short)) @ x, cp.pos)
    objective = (
        st.risk_aversion * cp.sum_squares(stacked)
        + st.tax_weight * tax_dollars / d.base
        + st.cost_weight * (d.kappa @ (b + s))
        + d.penalty @ b
        + (d.wait @ x) / d.base
    )
    for e, pen in zip(excess, penalties, strict=True):
        objective = objective + pen * cp.sum(e)
    prob = cp.Problem(cp.Minimize(objective), cons)
    t0 = time.perf_counter()
    try:
        prob.solve(solver=cp.CLARABEL, verbose=verbose, **REFERENCE_SOLVER_OPTIONS)
    except cp.error.SolverError:
        # Tight tolerances can stall (e.g. on an infeasible problem); Clarabel's defaults decide.
        with contextlib.suppress(cp.error.SolverError):
            prob.solve(solver=cp.CLARABEL, verbose=verbose)
    seconds = time.perf_counter() - t0
    stats = prob.solver_stats
    iterations = int(stats.num_iters) if stats and stats.num_iters is not None else -1
    solver_seconds = float(stats.solve_time) if stats and stats.solve_time is not None else 0.0
    if x.value is None or b.value is None or prob.status not in ("optimal", "optimal_inaccurate"):
        nan_l, nan_n = np.full(big_l, np.nan), np.full(n, np.nan)
        nan_terms = Terms(*([math.nan] * 6))
        status = str(prob.status or "solver_error")
        return ReferenceResult(
            status, math.nan, nan_terms, nan_l, nan_n, nan_n, nan_n, math.nan,
            iterations, seconds, solver_seconds,
        )  # fmt: skip
    xv = np.clip(np.asarray(x.value, dtype=np.float64), 0.0, 1.0)
    bv = np.clip(np.asarray(b.value, dtype=np.float64), 0.0, None)
    sv = d.lot_sell @ xv
    cash_w = float(problem.cash) / d.base + float(sv.sum() - bv.sum() - d.kappa @ (bv + sv))
    return ReferenceResult(
        status=str(prob.status),
        objective=float(prob.value),
        terms=_terms(problem, d, xv, bv),
        lot_fraction=xv,
        buys=bv,
        sells=sv,
        weights=d.held + bv - sv,
        cash_weight=cash_w,
        iterations=iterations,
        seconds=seconds,
        solver_seconds=solver_seconds,
    )


def constraint_violations(
    problem: Problem,
    lot_fraction: FloatArray,
    buys: FloatArray,
    tol: float = 1e-7,
    hard_only: bool = False,
) -> list[str]:
    """Check (x, b) against sections 3 and 5; ``tol`` in weight units ($ / B for budgets).

    Returns one string per violated constraint (empty list = feasible), prefixed by its class:
    ``hard:`` (bounds, fixings, cash) or the relaxation rung (``turnover:``, ``budgets:``,
    ``weights:``, ``tracking_error:``). ``hard_only``: check only the hard constraints.
    """
    d = _prepare(problem)
    st = problem.settings
    x = np.asarray(lot_fraction, dtype=np.float64)
    b = np.asarray(buys, dtype=np.float64)
    s = d.lot_sell @ x
    w = d.held + b - s
    out: list[str] = []

    def check(ok: bool, what: str) -> None:
        if not ok:
            out.append(what)

    check(bool(np.all(x >= -tol)), f"hard: x < 0: min {x.min():.3g}")
    check(bool(np.all(x <= 1.0 + tol)), f"hard: x > 1: max {x.max():.3g}")
    check(bool(np.all(b >= -tol)), f"hard: b < 0: min {b.min():.3g}")
    fixed_x = x[~d.sellable]
    check(
        bool(np.all(np.abs(fixed_x) <= tol)),
        f"hard: sale of blocked lots {np.flatnonzero(~d.sellable)[np.abs(fixed_x) > tol]}",
    )
    fixed_b = b[~d.buyable]
    check(
        bool(np.all(np.abs(fixed_b) <= tol)),
        f"hard: buy of blocked securities {np.flatnonzero(~d.buyable)[np.abs(fixed_b) > tol]}",
    )
    cash = float(problem.cash) / d.base + float(s.sum() - b.sum() - d.kappa @ (b + s))
    need = float(problem.withdrawal) / d.base + st.cash_target
    check(cash >= need - tol, f"hard: cash {cash:.9g} < required {need:.9g}")
    if hard_only:
        return out
    if st.turnover_max is not None:
        tau = float(b.sum() + s.sum())
        check(tau <= st.turnover_max + tol, f"turnover: {tau:.9g} > {st.turnover_max}")
    gain_left = _remaining(st.gain_budget, problem.realized_gain_ytd)
    if gain_left is not None:
        g = float(d.gain @ x)
        check(
            g <= gain_left + tol * d.base,
            f"budgets: realized gain ${g:.2f} > budget ${gain_left:.2f}",
        )
    tax_left = _remaining(st.tax_budget, problem.tax_ytd)
    if tax_left is not None:
        tx = float((d.rate * d.gain) @ x)
        check(tx <= tax_left + tol * d.base, f"budgets: tax ${tx:.2f} > budget ${tax_left:.2f}")
    lo, hi = _bounds(problem, d)
    bad_lo = np.flatnonzero(w < lo - tol)
    check(bad_lo.size == 0, f"weights: below min for {bad_lo.tolist()}")
    bad_hi = np.flatnonzero(w > hi + tol)
    check(bad_hi.size == 0, f"weights: above max for {bad_hi.tolist()}")
    for gb in problem.group_bounds:
        total = float(w[np.asarray(gb.members, dtype=np.intp)].sum())
        check(
            gb.lower - tol <= total <= gb.upper + tol,
            f"weights: group {gb.name} weight {total:.9g}",
        )
    if st.cash_max is not None:
        cap = float(problem.withdrawal) / d.base + st.cash_max
        check(cash <= cap + tol, f"weights: cash {cash:.9g} > cap {cap:.9g}")
    if st.te_max is not None:
        te = math.sqrt(max(_active_variance(problem, d, w), 0.0))
        check(te <= st.te_max + tol, f"tracking_error: {te:.9g} > {st.te_max}")
    return out


def solution_point(problem: Problem, solution: Solution) -> tuple[FloatArray, FloatArray]:
    """(x (L,), b (n,)) of the proposed trades: shares sold / lot shares, $ bought / B."""
    base = problem.base_value
    x = np.zeros(problem.lots.count)
    pos = {int(lid): j for j, lid in enumerate(problem.lots.lot_id)}
    for sale in solution.lot_sales:
        j = pos[int(sale.lot_id)]
        x[j] = sale.shares / float(problem.lots.shares[j])
    b = np.zeros(problem.n_securities)
    for trade in solution.trades:
        if trade.side == Side.BUY:
            b[trade.security] = trade.shares * float(problem.prices[trade.security]) / base
    return x, b
