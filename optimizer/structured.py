"""Problem -> the structured QP solved by the engine's own interior-point method (``ipm/``).

docs/optimizer.md section 7 describes the form. In short, every variable is a weight (a
fraction of B) and belongs to one security: a lot sale v_l = m_l x_l in [0, m_l] or a buy
b_i >= 0. Post-trade weights are w = h + J v (J: +1 for a buy, -1 for a sale, in the variable's
security's row). The objective is

    c'v + gamma * (w - t)' Q (w - t),   Q = diag(dg) + U U'

(U: the factor loadings times a root of the factor covariance, plus one column per
multi-member equivalence unit), and the constraints are rows of four kinds, each hard or
*elastic* (a soft constraint may be exceeded at a linear penalty per unit):

- general rows over v:      A v <= a_beta        (cash, turnover, gain and tax budgets, cash max,
                                                  and the tax-year model's kinks)
- rows over w:              G w <= g_beta        (group bounds)
- one-security rows:        sign * w_i <= p_beta (min and max weights)
- the tracking-error row:   (w - t)' Q (w - t) <= te2

No equality row: the Newton system of the IPM is a diagonal plus low-rank matrix per security,
solved in O(variables x rows + securities x rank^2) per iteration.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from optimizer.rules import RUNGS, Prepared, factor_root
from optimizer.types import BoolArray, FloatArray, IntArray

PENALTY: dict[str, float] = {
    "turnover": 1e3,
    "budgets": 1e4,
    "weights": 1e4,
    "tracking_error": 1e4,
}
"""Elastic penalty per unit of violation of a soft constraint (per weight unit of the row; per
unit of annual TE for the tracking-error row), times the problem's gradient scale
``1 + max |c| + 2 gamma max_i Q_ii`` (an upper bound of the objective's slope per unit weight
moved). A multiplier of a feasible problem is that slope over the row's coefficient, so these
factors (a thousand times the slope; ten thousand for the budgets, whose coefficients are gains
per $ sold and can be small) make a feasible problem meet every soft constraint exactly, and an
infeasible one exceed them as little as possible: turnover first, then budgets, weights and the
tracking-error cap alike (docs/optimizer.md section 6)."""

HARD = np.inf
KINK = -2
"""Rung of a row that is a kink of the tax-year model (``tax.Hinge``), not a constraint: its
elastic excess is priced at the kink's slope change and is never reported as relaxed."""
TE_FLOOR = 1e-3
"""Tracking-error rows are scaled by 1 / (2 max(te_max, TE_FLOOR))."""


@dataclass(frozen=True, eq=False)
class StructuredQP:
    """One rung-free statement of a prepared problem for ``ipm.solve_structured``.

    Arrays are float64 / int64, C-contiguous. ``pen`` arrays: elastic penalty per unit of
    violation, ``inf`` for a hard row.
    """

    n: int
    var_sec: IntArray
    """``(nv,)`` security of each variable."""
    var_sign: FloatArray
    """``(nv,)`` +1 (buy) or -1 (lot sale)."""
    ub: FloatArray
    """``(nv,)`` upper bound (``inf`` for buys); the lower bound is 0."""
    c: FloatArray
    """``(nv,)`` linear objective per unit weight."""
    h: FloatArray
    """``(n,)`` weights before trading."""
    t: FloatArray
    """``(n,)`` risk target."""
    gamma: float
    dg: FloatArray
    """``(n,)`` diagonal part of Q."""
    U: FloatArray
    """``(n, k)`` dense low-rank part of Q (factor loadings times a root of the factor
    covariance); C-contiguous."""
    grp: IntArray
    """``(n,)`` multi-member drift unit of each security (0..n_groups-1), -1 for none: one more
    column of the low-rank part per unit, ``grp_val`` on its members."""
    grp_val: FloatArray
    n_groups: int
    A: FloatArray
    """``(m1, nv)``"""
    a_beta: FloatArray
    a_pen: FloatArray
    G: FloatArray
    """``(m2, n)``"""
    g_beta: FloatArray
    g_pen: FloatArray
    p_sec: IntArray
    p_sign: FloatArray
    p_beta: FloatArray
    p_pen: FloatArray
    te2: float
    """Cap on (w - t)' Q (w - t); negative: no tracking-error row."""
    te_pen: float
    # Maps back to the problem (not used by the solver).
    var_lot: IntArray
    """``(nv,)`` problem lot index of each lot-sale variable, -1 for a buy."""
    row_names: tuple[str, ...]
    """Name of every row in solver order: A rows, G rows, one-security rows, TE."""
    row_rungs: tuple[int, ...]
    """Ladder rung (index into ``build.RUNGS``) of every row; -1 for a hard row, ``KINK``
    for a kink of the tax-year model."""
    row_secs: IntArray
    """Security of each one-security row (for names like ``max_weight:AAPL``)."""

    @property
    def n_vars(self) -> int:
        return int(self.c.shape[0])

    @property
    def n_rows(self) -> int:
        return len(self.row_names)

    @property
    def row_beta(self) -> FloatArray:
        """Right-hand side of every row in solver order (A, G, one-security, TE)."""
        te = [self.te2] if self.te2 >= 0 else []
        return np.concatenate([self.a_beta, self.g_beta, self.p_beta, te])

    @property
    def row_pen(self) -> FloatArray:
        """Elastic penalty of every row in solver order (``inf``: hard)."""
        te = [self.te_pen] if self.te2 >= 0 else []
        return np.concatenate([self.a_pen, self.g_pen, self.p_pen, te])


_U_CACHE: list[tuple[FloatArray, FloatArray, FloatArray]] = []


def _factor_columns(loadings: FloatArray, cov: FloatArray) -> FloatArray:
    """``loadings @ R.T`` with ``R.T R = cov`` (so its outer product is ``X F X'``), cached by
    array identity: the nightly risk model is shared by every account."""
    for cached_x, cached_cov, cached_u in _U_CACHE:
        if cached_x is loadings and cached_cov is cov:
            return cached_u
    root = factor_root(cov)
    u = np.ascontiguousarray(loadings @ root.T)
    _U_CACHE.insert(0, (loadings, cov, u))
    del _U_CACHE[4:]
    return u


def build_structured(prep: Prepared, sellable: BoolArray, buyable: BoolArray) -> StructuredQP:
    """The structured QP of ``prep`` with only ``sellable`` lots and ``buyable`` securities free.

    Every soft constraint is an elastic row with the penalty of its rung (``PENALTY``).
    """
    problem = prep.problem
    s = problem.settings
    n = problem.n_securities
    lots = np.flatnonzero(sellable)
    buys = np.flatnonzero(buyable)
    nx = len(lots)
    lot_sec = prep.lot_sec[lots]
    m = prep.lot_weight[lots]
    var_sec = np.concatenate([lot_sec, buys])
    nv = len(var_sec)
    var_sign = np.concatenate([np.full(nx, -1.0), np.ones(len(buys))])
    ub = np.concatenate([m, np.full(len(buys), np.inf)])
    kappa = prep.kappa
    kv = kappa[var_sec]
    c = s.cost_weight * kv
    c[:nx] += (s.tax_weight * prep.obj_tax_coef[lots] + prep.wait_coef[lots]) / m
    c[nx:] += prep.penalty[buys]

    # Q = diag(dg) + U U': singleton units on the diagonal; factors as the dense columns of U,
    # and each multi-member unit as one more column (sqrt(delta_u) on its members).
    unit_of = prep.unit_of
    n_units = len(prep.unit_target)
    unit_size = np.bincount(unit_of, minlength=n_units)
    delta = prep.unit_delta
    single = unit_size[unit_of] == 1
    dg = np.where(single, delta[unit_of], 0.0)
    multi_units = np.flatnonzero(unit_size > 1)
    pos = np.full(n_units, -1, dtype=np.int64)
    pos[multi_units] = np.arange(len(multi_units))
    grp = np.where(single, -1, pos[unit_of]).astype(np.int64)
    grp_val = np.where(single, 0.0, np.sqrt(delta[unit_of]))
    U = _factor_columns(prep.loadings, prep.factor_cov) if prep.n_factors else np.zeros((n, 0))

    names: list[str] = []
    rungs: list[int] = []
    a_rows: list[FloatArray] = []
    a_beta: list[float] = []
    a_pen: list[float] = []

    def a_row(name: str, rung: int, row: FloatArray, rhs: float, pen: float = 0.0) -> None:
        names.append(name)
        rungs.append(rung)
        a_rows.append(row)
        a_beta.append(rhs)
        a_pen.append(HARD if rung == -1 else pen if rung == KINK else PENALTY[RUNGS[rung]])

    # cash after trades >= requirement:  sum(b) - sum(s) + sum(kappa (b + s)) <= C/B - req
    cash_row = var_sign + kv
    a_row("cash_min", -1, cash_row, prep.cash0 - prep.cash_req)
    if s.turnover_max is not None:
        a_row("turnover", 0, np.ones(nv), s.turnover_max)
    if prep.gain_room is not None:
        row = np.zeros(nv)
        row[:nx] = prep.gain_coef[lots] / m
        a_row("gain_budget", 1, row, prep.gain_room / prep.base)
    if prep.tax_room is not None:
        row = np.zeros(nv)
        row[:nx] = prep.tax_coef[lots] / m
        a_row("tax_budget", 1, row, prep.tax_room / prep.base)
    if prep.cash_cap is not None:
        a_row("cash_max", 2, -cash_row, prep.cash_cap - prep.cash0)
    kinks: list[int] = []
    if s.tax_weight > 0:
        for hinge in prep.hinges:
            row = np.zeros(nv)
            row[:nx] = hinge.coef[lots] / m
            kinks.append(len(a_rows))
            a_row(hinge.name, KINK, row, hinge.rhs)
    m1 = len(a_rows)
    A = np.vstack(a_rows) if m1 else np.zeros((0, nv))
    # Variables grouped by security (lot sales in lot order, then the buy): the solver inverts
    # one diagonal-plus-rank-one block per security.
    order = np.argsort(var_sec, kind="stable")
    var_lot = np.concatenate([lots, np.full(len(buys), -1, dtype=np.int64)])[order]

    # Group bounds: rows over w.
    g_rows: list[FloatArray] = []
    g_beta: list[float] = []
    w_pen = PENALTY["weights"]
    for gb in problem.group_bounds:
        ind = np.zeros(n)
        ind[np.unique(gb.members)] = 1.0
        if np.isfinite(gb.upper):
            g_rows.append(ind)
            g_beta.append(gb.upper)
            names.append(f"group_upper:{gb.name}")
            rungs.append(2)
        if gb.lower > 0:
            g_rows.append(-ind)
            g_beta.append(-gb.lower)
            names.append(f"group_lower:{gb.name}")
            rungs.append(2)
    G = np.ascontiguousarray(np.vstack(g_rows)) if g_rows else np.zeros((0, n))

    # Min / max weights: a row only where it can bind (docs section 5).
    h = prep.holding
    has_buy = np.zeros(n, dtype=np.bool_)
    has_buy[buys] = True
    sold_max = np.bincount(lot_sec, weights=m, minlength=n)
    hi = prep.hi_eff
    lo = prep.lo_eff
    hi_secs = np.flatnonzero(np.isfinite(hi) & (has_buy | (hi < h)) & ((sold_max > 0) | has_buy))
    lo_secs = np.flatnonzero((lo > h - sold_max) & ((sold_max > 0) | has_buy))
    p_sec = np.concatenate([hi_secs, lo_secs])
    p_sign = np.concatenate([np.ones(len(hi_secs)), -np.ones(len(lo_secs))])
    p_beta = np.concatenate([hi[hi_secs], -lo[lo_secs]])
    ids = problem.security_ids
    names.extend(f"max_weight:{ids[i]}" for i in hi_secs.tolist())
    names.extend(f"min_weight:{ids[i]}" for i in lo_secs.tolist())
    rungs.extend([2] * len(p_sec))

    te2 = -1.0
    te_pen = 0.0
    if s.te_max is not None:
        te2 = float(s.te_max) ** 2
        te_pen = PENALTY["tracking_error"] / (2.0 * max(float(s.te_max), TE_FLOOR))
        names.append("tracking_error")
        rungs.append(3)
    # Penalties in objective units: times the gradient scale (see PENALTY).
    q_diag = dg + grp_val**2 + (np.einsum("ij,ij->i", U, U) if U.shape[1] else 0.0)
    slope = 1.0 + float(np.max(np.abs(c), initial=0.0))
    slope += 2.0 * float(s.risk_aversion) * float(np.max(q_diag, initial=0.0))
    a_pen_arr = np.array(a_pen, dtype=np.float64) * slope
    for pos_k, hinge in zip(kinks, prep.hinges, strict=True):
        # A kink of the tax-year model is priced at its own slope change, not scaled.
        a_pen_arr[pos_k] = s.tax_weight * hinge.price
    w_pen *= slope
    te_pen *= slope

    return StructuredQP(
        n=n,
        var_sec=np.ascontiguousarray(var_sec[order], dtype=np.int64),
        var_sign=var_sign[order],
        ub=ub[order],
        c=c[order],
        h=h,
        t=prep.target,
        gamma=float(s.risk_aversion),
        dg=dg,
        U=U,
        grp=grp,
        grp_val=grp_val,
        n_groups=len(multi_units),
        A=np.ascontiguousarray(A[:, order]),
        a_beta=np.array(a_beta, dtype=np.float64),
        a_pen=a_pen_arr,
        G=G,
        g_beta=np.array(g_beta, dtype=np.float64),
        g_pen=np.full(len(g_beta), w_pen),
        p_sec=p_sec.astype(np.int64),
        p_sign=p_sign,
        p_beta=p_beta.astype(np.float64),
        p_pen=np.full(len(p_sec), w_pen),
        te2=te2,
        te_pen=te_pen,
        var_lot=var_lot,
        row_names=tuple(names),
        row_rungs=tuple(rungs),
        row_secs=p_sec.astype(np.int64),
    )


def restrict(q: StructuredQP, keep: BoolArray) -> StructuredQP:
    """``q`` with only the variables where ``keep`` is True (the others fixed at 0): the
    repair step's re-solve, without building the rows again."""
    return replace(
        q,
        var_sec=np.ascontiguousarray(q.var_sec[keep]),
        var_sign=q.var_sign[keep],
        ub=q.ub[keep],
        c=q.c[keep],
        A=np.ascontiguousarray(q.A[:, keep]),
        var_lot=q.var_lot[keep],
    )
