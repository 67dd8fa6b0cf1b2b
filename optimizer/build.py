"""The ladder's solver statement: ``Prepared`` -> sparse conic QP for Clarabel and PIQP
(docs/optimizer.md sections 4, 5 and 7).

``build_qp(prep, sellable, buyable, rung)`` writes P, q, A, b and the cones for one rung of the
relaxation ladder and one set of fixed variables (the repair step fixes more). The rules it
starts from are applied once by ``optimizer.rules.prepare``.

Variables z = [x over sellable lots, w over active securities, y (k factor exposures), the
per-security aggregates s (and gain / tax with a budget), e (one per kink of the tax-year
model)].
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp

from optimizer.rules import Prepared, factor_root
from optimizer.types import BoolArray, FloatArray, IntArray

DENSE_LOADINGS = 0.25
"""Store the loadings block of A densely when more than this fraction is nonzero."""


@dataclass(frozen=True, eq=False)
class QP:
    """Clarabel data plus the map back to the problem."""

    P: Csc
    """Upper triangle of P."""
    q: FloatArray
    A: Csc
    b: FloatArray
    n_zero: int
    """Rows of the zero cone (first)."""
    n_nonneg: int
    """Rows of the nonnegative cone (next)."""
    soc_dim: int
    """Rows of the TE second-order cone (last), 0 when absent."""
    lots: IntArray
    """Problem lot index of each x variable."""
    secs: IntArray
    """Security index of each w variable."""
    n_factors: int
    buyable_of_secs: BoolArray
    """``(na,)`` True where the w variable's security may be bought (b >= 0 row)."""
    row_names: tuple[tuple[str, int, int, IntArray | None], ...]
    """(name, first row, end row, security per row or None) of named nonnegative-cone
    constraints (absolute row numbers in A), for 'binding'."""
    buy_row_secs: IntArray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    """Security of each 'b >= 0' row; these are the first nonnegative rows (from ``n_zero``)."""
    G: Csc | None = None
    """Native-bounds form only (``build_qp(..., native_bounds=True)``, for PIQP): the
    inequality rows ``G z <= h`` (rows ``n_zero..`` of the conic form without the lot bound
    rows); ``A`` then holds the equality rows only and ``b`` the right-hand sides of both."""
    x_lo: FloatArray | None = None
    """Native-bounds form only: lower bounds of z (0 on lots, -inf elsewhere)."""
    x_hi: FloatArray | None = None
    """Native-bounds form only: upper bounds of z (1 on lots, +inf elsewhere)."""

    @property
    def n_vars(self) -> int:
        return int(self.q.shape[0])

    @property
    def n_rows(self) -> int:
        return int(self.b.shape[0])


@dataclass(frozen=True, eq=False)
class Csc:
    """Compressed sparse column matrix (sorted row indices, no duplicates).

    Built directly by ``csc_from_triplets`` instead of scipy's constructors, whose fixed
    per-call overhead was a third of the build time of a 50-fund account.
    """

    data: FloatArray
    indices: IntArray
    indptr: IntArray
    shape: tuple[int, int]

    @property
    def nnz(self) -> int:
        return int(self.data.shape[0])

    def to_scipy(self) -> sp.csc_matrix:
        return sp.csc_matrix((self.data, self.indices, self.indptr), shape=self.shape)


def csc_from_triplets(
    rows: IntArray, cols: IntArray, vals: FloatArray, shape: tuple[int, int]
) -> Csc:
    """CSC from triplets that are already in ascending row order within each column.

    A stable sort by column keeps that order (numpy's stable sort is a radix sort for 16-bit
    keys). Callers emit row blocks top to bottom with at most one entry per (row, column).
    """
    n_cols = shape[1]
    key = cols.astype(np.uint16) if n_cols < 65536 else cols
    order = np.argsort(key, kind="stable")
    indptr = np.zeros(n_cols + 1, dtype=np.int64)
    np.cumsum(np.bincount(cols, minlength=n_cols), out=indptr[1:])
    return Csc(data=vals[order], indices=rows[order], indptr=indptr, shape=shape)


class _Rows:
    """Accumulates COO triplets of A and entries of b, row block by row block."""

    def __init__(self) -> None:
        self.rows: list[IntArray] = []
        self.cols: list[IntArray] = []
        self.vals: list[FloatArray] = []
        self.rhs: list[FloatArray] = []
        self.count = 0

    def block(
        self,
        n_rows: int,
        rows: IntArray,
        cols: IntArray,
        vals: FloatArray,
        rhs: FloatArray,
        keep_zeros: bool = False,
    ) -> int:
        start = self.count
        if not keep_zeros:
            nonzero = vals != 0
            rows, cols, vals = rows[nonzero], cols[nonzero], vals[nonzero]
        self.rows.append(rows + start)
        self.cols.append(cols)
        self.vals.append(vals)
        self.rhs.append(rhs)
        self.count += n_rows
        return start


_TRIU: dict[int, tuple[IntArray, IntArray]] = {}


def _triu(size: int) -> tuple[IntArray, IntArray]:
    """``np.triu_indices(size)``, cached (it costs ~25 us per call; a model account with ten
    two-member equivalence groups asked for it ten times per build)."""
    got = _TRIU.get(size)
    if got is None:
        r, c = np.triu_indices(size)
        r.flags.writeable = False
        c.flags.writeable = False
        got = _TRIU[size] = (r, c)
    return got


def _unit_pairs(unit_of_w: IntArray) -> tuple[IntArray, IntArray]:
    """(row, col) positions among w variables of the upper triangle of G^T diag(.) G.

    Diagonal for singletons; every pair (i <= j) for w variables in the same unit. Sorted by
    column, rows ascending within a column.
    """
    na = len(unit_of_w)
    counts = np.bincount(unit_of_w) if na else np.zeros(0, dtype=np.int64)
    idx = np.arange(na, dtype=np.int64)
    if not np.any(counts > 1):
        return idx, idx
    multi = counts[unit_of_w] > 1
    single = idx[~multi]
    # Members of multi-member units, unit by unit (ascending variable index within a unit).
    grouped = idx[multi][np.argsort(unit_of_w[multi], kind="stable")]
    g_unit = unit_of_w[grouped]
    pos = np.arange(len(grouped)) - np.searchsorted(g_unit, g_unit)  # position in its unit
    rep = counts[g_unit] - pos  # pairs (member, a later-or-same member of its unit)
    first = np.cumsum(rep) - rep
    offset = np.arange(int(rep.sum())) - np.repeat(first, rep)
    row = np.concatenate([single, np.repeat(grouped, rep)])
    col = np.concatenate([single, grouped[np.repeat(np.arange(len(grouped)), rep) + offset]])
    order = np.lexsort((row, col))
    return row[order], col[order]


def build_qp(
    prep: Prepared,
    sellable: BoolArray,
    buyable: BoolArray,
    rung: int,
    *,
    native_bounds: bool = False,
) -> QP:
    """Conic QP of docs/optimizer.md section 7 for ``rung`` (rung r drops RUNGS[:r]).

    ``native_bounds`` (PIQP, no second-order cone): 0 <= x <= 1 as variable bounds instead of
    rows, the factor loadings stored sparsely, and the rows split into ``A`` (equalities) and
    ``G`` (inequalities); see ``QP``.
    """
    if native_bounds and rung < 4 and prep.problem.settings.te_max is not None:
        raise ValueError("the native-bounds form has no second-order cone (TE cap)")
    problem = prep.problem
    s = problem.settings
    n = problem.n_securities
    gamma = s.risk_aversion
    k = prep.n_factors

    lots = np.flatnonzero(sellable)
    nx = len(lots)
    lot_sec = prep.lot_sec[lots]
    m = prep.lot_weight[lots]
    has_sellable = np.zeros(n, dtype=np.bool_)
    has_sellable[lot_sec] = True
    active = buyable | has_sellable
    secs = np.flatnonzero(active)
    na = len(secs)
    # Per-security aggregates of the lot variables (docs section 7): s_i (weight sold) and,
    # when a budget is on, the security's realized gain and tax. Rows that sum over all lots
    # (cash, turnover, budgets) then touch one variable per security instead of every lot:
    # such dense rows made Clarabel's KKT setup and every factorization several times slower.
    ssecs = np.flatnonzero(has_sellable)
    ns = len(ssecs)
    gain_on = rung < 2 and prep.gain_room is not None
    tax_on = rung < 2 and prep.tax_room is not None
    wcol = np.full(n, -1, dtype=np.int64)
    wcol[secs] = nx + np.arange(na)
    ycol0 = nx + na
    scol = np.full(n, -1, dtype=np.int64)
    scol[ssecs] = ycol0 + k + np.arange(ns)
    gcol0 = ycol0 + k + ns
    tcol0 = gcol0 + (ns if gain_on else 0)
    ecol0 = tcol0 + (ns if tax_on else 0)
    # One elastic variable per kink of the tax-year model (e_j >= 0, e_j >= coef . x - rhs,
    # priced at the kink's slope change): the hinge max(coef . x - rhs, 0).
    hinges = prep.hinges if s.tax_weight > 0 else ()
    nh = len(hinges)
    nz = ecol0 + nh
    xcols = np.arange(nx, dtype=np.int64)
    kappa = prep.kappa
    h = prep.holding
    inactive = ~active
    srow_of_lot = np.searchsorted(ssecs, lot_sec)  # position of each lot's security in ssecs
    s_idx = np.arange(ns, dtype=np.int64)

    acc = _Rows()

    # --- zero cone
    # s_i - sum_l m_l x_l = 0 (and g_i - sum g_l/B x_l = 0, t_i - sum r_l g_l/B x_l = 0)
    acc.block(
        ns,
        np.concatenate([s_idx, srow_of_lot]),
        np.concatenate([scol[ssecs], xcols]),
        np.concatenate([np.ones(ns), -m]),
        np.zeros(ns),
    )
    if gain_on:
        acc.block(
            ns,
            np.concatenate([s_idx, srow_of_lot]),
            np.concatenate([gcol0 + s_idx, xcols]),
            np.concatenate([np.ones(ns), -prep.gain_coef[lots]]),
            np.zeros(ns),
        )
    if tax_on:
        acc.block(
            ns,
            np.concatenate([s_idx, srow_of_lot]),
            np.concatenate([tcol0 + s_idx, xcols]),
            np.concatenate([np.ones(ns), -prep.tax_coef[lots]]),
            np.zeros(ns),
        )
    # w_i + s_i = h_i for active, non-buyable securities (all of them have s_i).
    eq_secs = secs[~buyable[secs]]
    n_eq = len(eq_secs)
    acc.block(
        n_eq,
        np.concatenate([np.arange(n_eq), np.arange(n_eq)]),
        np.concatenate([wcol[eq_secs], scol[eq_secs]]),
        np.ones(2 * n_eq),
        h[eq_secs],
    )
    # y_j - sum_A Bf_ij w_i = sum_I Bf_ij h_i - sum Bf_ij t_i
    if k:
        L_A = prep.loadings[secs]  # (na, k)
        if not native_bounds and np.count_nonzero(L_A) > DENSE_LOADINGS * L_A.size:
            # Store the block densely (explicit zeros): rows of w with identical patterns let
            # the AMD ordering in Clarabel's KKT setup merge them; a random sparsity pattern
            # made the setup 5-10x slower (docs/optimizer.md, performance).
            rr, cc = np.divmod(np.arange(L_A.size), k)
        else:
            rr, cc = np.nonzero(L_A)
        y_rhs = prep.loadings[inactive].T @ h[inactive] - prep.loadings.T @ prep.target
        acc.block(
            k,
            np.concatenate([np.arange(k), cc]),
            np.concatenate([ycol0 + np.arange(k), wcol[secs[rr]]]),
            np.concatenate([np.ones(k), -L_A[rr, cc]]),
            y_rhs,
            keep_zeros=True,
        )
    n_zero = acc.count

    names: list[tuple[str, int, int, IntArray | None]] = []
    # --- nonnegative cone
    # b_i >= 0:  -w_i - s_i <= -h_i (no s_i when the security has no sellable lot)
    ge_secs = secs[buyable[secs]]
    n_ge = len(ge_secs)
    ge_with_s = ge_secs[has_sellable[ge_secs]]
    ge_row = np.searchsorted(ge_secs, ge_with_s)
    acc.block(
        n_ge,
        np.concatenate([np.arange(n_ge), ge_row]),
        np.concatenate([wcol[ge_secs], scol[ge_with_s]]),
        -np.ones(n_ge + len(ge_with_s)),
        -h[ge_secs],
    )
    if not native_bounds:
        acc.block(nx, np.arange(nx), xcols, -np.ones(nx), np.zeros(nx))
        acc.block(nx, np.arange(nx), xcols, np.ones(nx), np.ones(nx))

    ka = kappa[secs]
    ks = kappa[ssecs]
    h_act = h[secs]
    one_w = np.zeros(na, dtype=np.int64)
    one_s = np.zeros(ns, dtype=np.int64)
    ws_cols = np.concatenate([wcol[secs], scol[ssecs]])
    ws_rows = np.concatenate([one_w, one_s])
    cash_rhs = prep.cash0 + float(((1 + ka) * h_act).sum()) - prep.cash_req
    start = acc.block(1, ws_rows, ws_cols, np.concatenate([1 + ka, 2 * ks]), np.array([cash_rhs]))
    names.append(("cash_min", start, start + 1, None))
    if rung < 1 and s.turnover_max is not None:
        start = acc.block(
            1,
            ws_rows,
            ws_cols,
            np.concatenate([np.ones(na), np.full(ns, 2.0)]),
            np.array([s.turnover_max + float(h_act.sum())]),
        )
        names.append(("turnover", start, start + 1, None))
    if gain_on:
        assert prep.gain_room is not None
        start = acc.block(
            1, one_s, gcol0 + s_idx, np.ones(ns), np.array([prep.gain_room / prep.base])
        )
        names.append(("gain_budget", start, start + 1, None))
    if tax_on:
        assert prep.tax_room is not None
        start = acc.block(
            1, one_s, tcol0 + s_idx, np.ones(ns), np.array([prep.tax_room / prep.base])
        )
        names.append(("tax_budget", start, start + 1, None))
    if rung < 3:
        if prep.cash_cap is not None:
            rhs = prep.cash_cap - prep.cash0 - float(((1 + ka) * h_act).sum())
            start = acc.block(
                1, ws_rows, ws_cols, np.concatenate([-(1 + ka), -2 * ks]), np.array([rhs])
            )
            names.append(("cash_max", start, start + 1, None))
        reach_min = h - np.bincount(lot_sec, weights=m, minlength=n)
        hi = prep.hi_eff
        hi_rows = secs[np.isfinite(hi[secs]) & (buyable[secs] | (hi[secs] < h[secs]))]
        if len(hi_rows):
            start = acc.block(
                len(hi_rows),
                np.arange(len(hi_rows)),
                wcol[hi_rows],
                np.ones(len(hi_rows)),
                hi[hi_rows],
            )
            names.append(("max_weight", start, start + len(hi_rows), hi_rows))
        lo = prep.lo_eff
        lo_rows = secs[lo[secs] > reach_min[secs]]
        if len(lo_rows):
            start = acc.block(
                len(lo_rows),
                np.arange(len(lo_rows)),
                wcol[lo_rows],
                -np.ones(len(lo_rows)),
                -lo[lo_rows],
            )
            names.append(("min_weight", start, start + len(lo_rows), lo_rows))
        for gb in problem.group_bounds:
            members = np.unique(gb.members)
            act_m = members[active[members]]
            const = float(h[members[inactive[members]]].sum())
            if np.isfinite(gb.upper):
                start = acc.block(
                    1,
                    np.zeros(len(act_m), dtype=np.int64),
                    wcol[act_m],
                    np.ones(len(act_m)),
                    np.array([gb.upper - const]),
                )
                names.append((f"group_upper:{gb.name}", start, start + 1, None))
            if gb.lower > 0:
                start = acc.block(
                    1,
                    np.zeros(len(act_m), dtype=np.int64),
                    wcol[act_m],
                    -np.ones(len(act_m)),
                    np.array([const - gb.lower]),
                )
                names.append((f"group_lower:{gb.name}", start, start + 1, None))
    for j, hinge in enumerate(hinges):
        hcoef = hinge.coef[lots]
        acc.block(
            1,
            np.zeros(nx + 1, dtype=np.int64),
            np.concatenate([xcols, [ecol0 + j]]),
            np.concatenate([hcoef, [-1.0]]),
            np.array([hinge.rhs]),
        )
    if nh and not native_bounds:
        acc.block(nh, np.arange(nh), ecol0 + np.arange(nh), -np.ones(nh), np.zeros(nh))
    n_nonneg = acc.count - n_zero

    # --- drift units: a_u = sum_{i in u, active} w_i - T~_u, T~_u = T_u - sum_{inactive} h_i
    n_units = len(prep.unit_target)
    unit_const = prep.unit_target - np.bincount(
        prep.unit_of[inactive], weights=h[inactive], minlength=n_units
    )
    unit_has_active = np.zeros(n_units, dtype=np.bool_)
    unit_has_active[prep.unit_of[secs]] = True
    delta = prep.unit_delta

    soc_dim = 0
    if rung < 4 and s.te_max is not None:
        act_units = np.flatnonzero(unit_has_active)
        urow = np.full(n_units, -1, dtype=np.int64)
        urow[act_units] = 1 + k + np.arange(len(act_units))
        const_units = ~unit_has_active
        const_norm = float(np.sqrt(np.sum(delta[const_units] * unit_const[const_units] ** 2)))
        soc_dim = 1 + k + len(act_units) + 1
        sq = np.sqrt(delta)
        root = factor_root(prep.factor_cov)
        rk, ck = np.nonzero(root)
        rows = np.concatenate([1 + rk, urow[prep.unit_of[secs]]])
        cols = np.concatenate([ycol0 + ck, wcol[secs]])
        vals = np.concatenate([-root[rk, ck], -sq[prep.unit_of[secs]]])
        soc_rhs = np.concatenate(
            [[s.te_max], np.zeros(k), -sq[act_units] * unit_const[act_units], [const_norm]]
        )
        acc.block(soc_dim, rows, cols, vals, soc_rhs)

    all_rows = np.concatenate(acc.rows)
    all_cols = np.concatenate(acc.cols)
    all_vals = np.concatenate(acc.vals)
    b = np.concatenate(acc.rhs)
    G: Csc | None = None
    x_lo: FloatArray | None = None
    x_hi: FloatArray | None = None
    if native_bounds:
        is_eq = all_rows < n_zero
        A = csc_from_triplets(all_rows[is_eq], all_cols[is_eq], all_vals[is_eq], (n_zero, nz))
        is_in = ~is_eq
        G = csc_from_triplets(
            all_rows[is_in] - n_zero, all_cols[is_in], all_vals[is_in], (n_nonneg, nz)
        )
        x_lo = np.full(nz, -np.inf)
        x_hi = np.full(nz, np.inf)
        x_lo[:nx] = 0.0
        x_hi[:nx] = 1.0
        x_lo[ecol0:] = 0.0
    else:
        A = csc_from_triplets(all_rows, all_cols, all_vals, (acc.count, nz))

    # --- objective
    uw = prep.unit_of[secs]
    pr, pc = _unit_pairs(uw)
    p_rows = [nx + pr]
    p_cols = [nx + pc]
    p_vals = [2 * gamma * delta[uw[pr]]]
    if k:
        fr, fc = _triu(k)
        fv = 2 * gamma * prep.factor_cov[fr, fc]
        p_rows.append(ycol0 + fr)
        p_cols.append(ycol0 + fc)
        p_vals.append(fv)
    P = csc_from_triplets(
        np.concatenate(p_rows), np.concatenate(p_cols), np.concatenate(p_vals), (nz, nz)
    )
    q = np.zeros(nz)
    pen = prep.penalty
    kx = kappa[lot_sec]
    q[:nx] = (
        s.tax_weight * prep.obj_tax_coef[lots]
        + prep.wait_coef[lots]
        + s.cost_weight * 2 * kx * m
        + pen[lot_sec] * m
    )
    for j, hinge in enumerate(hinges):
        q[ecol0 + j] = s.tax_weight * hinge.price
    q[nx : nx + na] = -2 * gamma * delta[uw] * unit_const[uw] + s.cost_weight * ka + pen[secs]
    return QP(
        P=P,
        q=q,
        A=A,
        b=b,
        n_zero=n_zero,
        n_nonneg=n_nonneg,
        soc_dim=soc_dim,
        lots=lots,
        secs=secs,
        n_factors=k,
        buyable_of_secs=buyable[secs],
        row_names=tuple(names),
        buy_row_secs=ge_secs,
        G=G,
        x_lo=x_lo,
        x_hi=x_hi,
    )
