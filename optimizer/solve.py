"""The pipeline of docs/optimizer.md section 6: rules, ladder, repair, rounding, reasons.

Public: ``solve(problem) -> Solution`` and ``solve_continuous(problem) -> ContinuousResult``.
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Callable
from dataclasses import dataclass

import clarabel
import numpy as np
import scipy
import scipy.sparse as sp

try:  # PIQP is a declared dependency; without it every solve is Clarabel's.
    import piqp
except ImportError:  # pragma: no cover - exercised only without piqp installed
    piqp = None

from optimizer.build import QP, RUNGS, Csc, Prepared, build_qp, prepare
from optimizer.ipm import ACCEPTED as IPM_ACCEPTED
from optimizer.ipm import IPM_SETTINGS, IpmResult, solve_structured
from optimizer.ipm import backend as ipm_backend
from optimizer.objective import cash_weight_at, sells_of, soft_excess, terms_at
from optimizer.reasons import blocked_list, explain, new_record
from optimizer.repair import (
    RoundedTrades,
    drop_class_conflicts,
    find_conflicts,
    loss_conflicts,
    net_conflicts,
    round_trades,
)
from optimizer.structured import PENALTY, StructuredQP, build_structured, restrict
from optimizer.types import (
    Blocked,
    BoolArray,
    ContinuousResult,
    Diagnostics,
    FloatArray,
    LotSale,
    ObjectiveTerms,
    Problem,
    SecurityTrade,
    Settings,
    Side,
    Solution,
    Status,
    Term,
)

OPTIMIZER_VERSION = "0.2.0"

CLARABEL_SETTINGS: dict[str, object] = {
    "verbose": False,
    "direct_solve_method": "qdldl",
    "iterative_refinement_enable": False,
    "presolve_enable": True,
    "equilibrate_enable": True,
    "tol_gap_abs": 1e-10,
    "tol_gap_rel": 1e-10,
    "tol_feas": 1e-10,
    "tol_ktratio": 1e-8,
    "max_threads": 1,
}
"""Pinned Clarabel settings (max_iter and time_limit come from ``Settings``).

Iterative refinement is off for QPs (1.6x faster, same accuracy) and switched on when the
tracking-error cone is present or when a solve is retried: with a binding TE cap, Clarabel
stops at AlmostSolved / InsufficientProgress without it (seen on random problems)."""

PIQP_SETTINGS: dict[str, object] = {
    "verbose": False,
    "compute_timings": False,
    "eps_abs": 1e-9,
    "eps_rel": 1e-10,
    "eps_duality_gap_abs": 1e-11,
    "eps_duality_gap_rel": 1e-10,
    "check_duality_gap": True,
    "preconditioner_iter": 10,
    "preconditioner_reuse_on_update": False,
    "kkt_solver": "sparse_ldlt",
}
"""Pinned PIQP settings for QPs without the TE cone (max_iter comes from ``Settings``).

Tolerances one decade tighter than PIQP's defaults: the objective then agrees with Clarabel and
cvxpy to ~1e-8 relative (docs/optimizer.md, section 9). The absolute duality-gap tolerance is in
objective units (fractions of B): model accounts near their target have objectives ~1e-4, where
1e-9 left a 1.9e-6 relative gap to cvxpy; 1e-11 closes it for about one more iteration."""

SOLVED = "Solved"
EPS_TRADE = 1e-7
"""Weight below which a continuous buy or sale counts as zero when fixing directions."""
BINDING_TOL = 1e-7
MAX_FIX_ROUNDS = 1
RELAX_TOL = 1e-8
"""An elastic row exceeded by more than this (its own units: weight, or TE) is relaxed."""
"""Re-solves with fixed directions; conflicts left after them are netted."""


@dataclass(frozen=True, eq=False)
class RawSolve:
    status: str
    """Clarabel's status names; PIQP's are mapped to them (``PIQP_STATUS``)."""
    z: FloatArray
    slack: FloatArray
    """Slack of every row of the QP's conic form (zero-cone rows 0)."""
    iterations: int
    seconds: float
    backend: str = "clarabel"
    solver: object | None = None
    """The PIQP solver object, kept for a re-solve with changed bounds (``update``)."""


class _CscLists:
    """A CSC matrix with its arrays as Python lists, for handing to Clarabel.

    Clarabel's Python binding extracts ``data`` / ``indices`` / ``indptr`` into Rust vectors
    through the sequence protocol; from numpy arrays that goes element by element through
    numpy scalars and cost ~4 ms at 500 stocks / 1,500 lots. From lists it is 2-3x faster,
    ``tolist()`` included (measured; docs/optimizer.md, performance).
    """

    __slots__ = ("data", "has_canonical_format", "indices", "indptr", "nnz", "shape")

    def __init__(self, matrix: sp.csc_matrix) -> None:
        self.data = matrix.data.tolist()
        self.indices = matrix.indices.tolist()
        self.indptr = matrix.indptr.tolist()
        self.nnz = int(matrix.nnz)
        self.shape = (int(matrix.shape[0]), int(matrix.shape[1]))
        self.has_canonical_format = True  # build.py emits sorted, duplicate-free CSC


def _settings(max_iter: int, time_limit: float, refine: bool) -> clarabel.DefaultSettings:
    st = clarabel.DefaultSettings()
    for name, value in CLARABEL_SETTINGS.items():
        setattr(st, name, value)
    if refine:
        st.iterative_refinement_enable = True
    st.max_iter = int(max_iter)
    st.time_limit = float(time_limit)
    return st


def run_clarabel(qp: QP, max_iter: int, time_limit: float, refine: bool = False) -> RawSolve:
    """One Clarabel solve of ``qp``; never raises for solver trouble (status says).

    Iterative refinement is on if ``refine`` or the QP has the TE cone.
    """
    refine = refine or qp.soc_dim > 0
    cones: list[object] = []
    if qp.n_zero:
        cones.append(clarabel.ZeroConeT(qp.n_zero))
    if qp.n_nonneg:
        cones.append(clarabel.NonnegativeConeT(qp.n_nonneg))
    if qp.soc_dim:
        cones.append(clarabel.SecondOrderConeT(qp.soc_dim))
    t0 = time.perf_counter()
    try:
        solver = clarabel.DefaultSolver(
            _CscLists(qp.P),
            qp.q.tolist(),
            _CscLists(qp.A),
            qp.b.tolist(),
            cones,
            _settings(max_iter, time_limit, refine),
        )
        sol = solver.solve()
    except Exception as exc:  # Clarabel raises on malformed data; treat as a failed solve.
        return RawSolve(f"Error: {exc}", np.zeros(qp.n_vars), np.zeros(qp.n_rows), 0, 0.0)
    seconds = time.perf_counter() - t0
    return RawSolve(
        status=str(sol.status),
        z=np.asarray(sol.x, dtype=np.float64),
        slack=np.asarray(sol.s, dtype=np.float64),
        iterations=int(sol.iterations),
        seconds=seconds,
    )


NO_RETRY = ("Solved", "PrimalInfeasible", "DualInfeasible")

PIQP_STATUS = {
    "PIQP_SOLVED": "Solved",
    "PIQP_PRIMAL_INFEASIBLE": "PrimalInfeasible",
    "PIQP_DUAL_INFEASIBLE": "DualInfeasible",
    "PIQP_MAX_ITER_REACHED": "MaxIterations",
    "PIQP_NUMERICS": "NumericalError",
    "PIQP_UNSOLVED": "Unsolved",
    "PIQP_INVALID_SETTINGS": "InvalidSettings",
}


def _scipy_csc_checked(m: Csc) -> sp.csc_matrix:
    return sp.csc_matrix((m.data, m.indices, m.indptr), shape=m.shape)


def _scipy_csc_unchecked(m: Csc) -> sp.csc_matrix:
    """A scipy CSC view of ``m`` without scipy's format checks (~45 us per matrix, 3-4
    matrices per solve): ``build.csc_from_triplets`` already emits canonical CSC."""
    out: sp.csc_matrix = sp.csc_matrix.__new__(sp.csc_matrix)
    out.data = m.data
    out.indices = m.indices
    out.indptr = m.indptr
    out._shape = m.shape
    out.maxprint = 50
    return out


def _pick_scipy_csc() -> Callable[[Csc], sp.csc_matrix]:
    """The unchecked constructor if it builds the same matrix as scipy's own on this scipy
    version (it sets scipy's attributes directly), else the checked one."""
    probe = Csc(
        data=np.array([1.0, 2.0, 3.0]),
        indices=np.array([0, 1, 0], dtype=np.int64),
        indptr=np.array([0, 1, 3], dtype=np.int64),
        shape=(2, 2),
    )
    try:
        fast = _scipy_csc_unchecked(probe)
        same = (
            fast.format == "csc"
            and fast.nnz == 3
            and fast.shape == (2, 2)
            and np.array_equal(fast @ np.array([1.0, 10.0]), np.array([31.0, 20.0]))
            and np.array_equal(fast.toarray(), _scipy_csc_checked(probe).toarray())
        )
    except Exception:  # pragma: no cover - a scipy whose internals differ
        same = False
    return _scipy_csc_unchecked if same else _scipy_csc_checked


_scipy_csc = _pick_scipy_csc()


def _csc_matvec(m: Csc, z: FloatArray) -> FloatArray:
    """``m @ z`` with numpy only: the same products summed per row in the same (column) order
    as scipy's CSC kernel, so the same bits, without scipy's ~30 us of per-call wrapping."""
    col_of_entry = np.repeat(z, np.diff(m.indptr))
    out = np.bincount(m.indices, weights=m.data * col_of_entry, minlength=m.shape[0])
    result: FloatArray = out.astype(np.float64, copy=False)  # float64 already (weights)
    return result


def _piqp_status(status: object) -> str:
    name = str(getattr(status, "name", status)).rsplit(".", 1)[-1]
    return PIQP_STATUS.get(name, f"piqp:{name}")


def _piqp_result(qp: QP, solver: object, status: object, t0: float) -> RawSolve:
    assert qp.G is not None
    result = solver.result  # type: ignore[attr-defined]
    z = np.array(result.x, dtype=np.float64)
    h_hi = qp.b[qp.n_zero :]
    slack = np.zeros(qp.n_rows)
    slack[qp.n_zero :] = h_hi - _csc_matvec(qp.G, z)
    return RawSolve(
        status=_piqp_status(status),
        z=z,
        slack=slack,
        iterations=int(result.info.iter),
        seconds=time.perf_counter() - t0,
        backend="piqp",
        solver=solver,
    )


def run_piqp(qp: QP, max_iter: int) -> RawSolve:
    """One PIQP solve of a native-bounds ``qp`` (``build_qp(..., native_bounds=True)``)."""
    assert qp.G is not None and qp.x_lo is not None and qp.x_hi is not None and piqp is not None
    t0 = time.perf_counter()
    try:
        solver = piqp.SparseSolver()
        settings = solver.settings  # a reference to the solver's settings (pybind11)
        for name, value in PIQP_SETTINGS.items():
            if name == "kkt_solver":
                value = getattr(piqp.KKTSolver, str(value))
            setattr(settings, name, value)
        settings.max_iter = int(max_iter)
        n_in = qp.G.shape[0]
        solver.setup(
            _scipy_csc(qp.P),
            qp.q,
            _scipy_csc(qp.A),
            qp.b[: qp.n_zero],
            _scipy_csc(qp.G),
            np.full(n_in, -np.inf),
            qp.b[qp.n_zero :],
            qp.x_lo,
            qp.x_hi,
        )
        status = solver.solve()
    except Exception as exc:  # malformed data: a failed solve, never an exception
        return RawSolve(
            f"Error: {exc}", np.zeros(qp.n_vars), np.zeros(qp.n_rows), 0, 0.0, backend="piqp"
        )
    return _piqp_result(qp, solver, status, t0)


def rerun_piqp_fixed(
    qp: QP, first: RawSolve, fix_lot_vars: BoolArray, fix_buy_rows: BoolArray
) -> RawSolve:
    """Re-solve a PIQP problem with some lot variables fixed at 0 (x_hi = 0) and some buys
    fixed at 0 (their 'b >= 0' row made an equality): only bounds change, so the KKT pattern,
    its ordering and symbolic factorization are reused (``SparseSolver.update``)."""
    assert qp.x_hi is not None and first.solver is not None
    t0 = time.perf_counter()
    solver = first.solver
    n_in = qp.n_nonneg
    x_hi = qp.x_hi.copy()
    x_hi[: len(qp.lots)][fix_lot_vars] = 0.0
    h_hi = qp.b[qp.n_zero :]
    h_lo = np.full(n_in, -np.inf)
    rows = np.flatnonzero(fix_buy_rows)
    h_lo[rows] = h_hi[rows]
    try:
        solver.update(x_u=x_hi, h_l=h_lo)  # type: ignore[attr-defined]
        status = solver.solve()  # type: ignore[attr-defined]
    except Exception as exc:
        return RawSolve(
            f"Error: {exc}", np.zeros(qp.n_vars), np.zeros(qp.n_rows), 0, 0.0, backend="piqp"
        )
    return _piqp_result(qp, solver, status, t0)


def solve_qp(qp: QP, max_iter: int, time_limit: float) -> tuple[RawSolve, ...]:
    """Solve ``qp``; retry once with iterative refinement unless solved or proven infeasible.

    Returns every attempt (the last one is the answer).
    """
    first = run_clarabel(qp, max_iter, time_limit)
    if first.status in NO_RETRY or qp.soc_dim > 0:
        return (first,)
    return (first, run_clarabel(qp, max_iter, time_limit, refine=True))


def point_of(prep: Prepared, qp: QP, raw: RawSolve) -> tuple[FloatArray, FloatArray]:
    """(x ``(L,)``, b ``(n,)``) of a Clarabel solution, clipped to their domains."""
    nx = len(qp.lots)
    na = len(qp.secs)
    x = np.zeros(prep.lot_weight.shape[0])
    x[qp.lots] = np.clip(raw.z[:nx], 0.0, 1.0)
    w = prep.holding.copy()
    w[qp.secs] = raw.z[nx : nx + na]
    b = w - prep.holding + sells_of(prep, x)
    buyable_cols = np.zeros(prep.problem.n_securities, dtype=np.bool_)
    # A security is bought only if its b is a free variable of this QP: its 'b >= 0' row.
    buyable_cols[qp.secs] = qp.buyable_of_secs
    b = np.where(buyable_cols, np.maximum(b, 0.0), 0.0)
    return x, b


def binding_of(prep: Prepared, qp: QP, raw: RawSolve) -> tuple[str, ...]:
    names: list[str] = []
    ids = prep.problem.security_ids
    for name, start, end, secs in qp.row_names:
        slack = raw.slack[start:end]
        hit = np.flatnonzero(slack <= BINDING_TOL)
        if secs is None:
            if len(hit):
                names.append(name)
        else:
            names.extend(f"{name}:{ids[int(secs[j])]}" for j in hit)
    if qp.soc_dim:
        cone = raw.slack[qp.n_zero + qp.n_nonneg :]
        if cone[0] - float(np.linalg.norm(cone[1:])) <= BINDING_TOL * max(1.0, cone[0]):
            names.append("tracking_error")
    return tuple(names)


def _piqp_version() -> str:
    """piqp's version and the instruction-set build it dispatched to (avx2 / avx512 kernels
    may round differently, so both are part of what reproduces a result bit for bit)."""
    if piqp is None:
        return "not installed"
    kernel = piqp.SparseSolver.__module__.rsplit("_", 1)[-1]
    return f"{piqp.__version__} ({kernel})"


_VERSIONS: tuple[tuple[str, str], ...] = ()


def _versions() -> tuple[tuple[str, str], ...]:
    global _VERSIONS
    if not _VERSIONS:
        _VERSIONS = (
            ("clarabel", str(clarabel.__version__)),
            ("piqp", _piqp_version()),
            ("ipm", ipm_backend()),
            ("numpy", np.__version__),
            ("scipy", scipy.__version__),
            ("optimizer", OPTIMIZER_VERSION),
        )
    return _VERSIONS


_SOLVER_SETTINGS: dict[tuple[str, str, str], tuple[tuple[str, str], ...]] = {}


def _solver_settings(problem: Problem) -> tuple[tuple[str, str], ...]:
    s = problem.settings
    key = (repr(s.max_iter), repr(s.time_limit), repr(s.qp_backend))
    cached = _SOLVER_SETTINGS.get(key)
    if cached is not None:
        return cached
    items: dict[str, object] = dict(CLARABEL_SETTINGS)
    items["max_iter"] = s.max_iter
    items["time_limit"] = s.time_limit
    items["qp_backend"] = s.qp_backend
    for name, value in PIQP_SETTINGS.items():
        items[f"piqp.{name}"] = value
    for name, value in IPM_SETTINGS.items():
        items[f"ipm.{name}"] = value
    for name, value in PENALTY.items():
        items[f"ipm.penalty.{name}"] = value
    out = tuple((k, repr(items[k])) for k in sorted(items))
    if len(_SOLVER_SETTINGS) < 64:
        _SOLVER_SETTINGS[key] = out
    return out


def _use_piqp(prep: Prepared, rung: int) -> bool:
    """PIQP for a rung without the TE cone, unless Clarabel is forced or piqp is missing."""
    s = prep.problem.settings
    return piqp is not None and s.qp_backend != "clarabel" and (s.te_max is None or rung >= 4)


def _ipm_point(prep: Prepared, sq: StructuredQP, res: IpmResult) -> tuple[FloatArray, FloatArray]:
    """(x ``(L,)``, b ``(n,)``) of an IPM solution, clipped to their domains."""
    x = np.zeros(prep.lot_weight.shape[0])
    b = np.zeros(prep.problem.n_securities)
    is_lot = sq.var_lot >= 0
    lots = sq.var_lot[is_lot]
    x[lots] = np.clip(res.v[is_lot] / prep.lot_weight[lots], 0.0, 1.0)
    b[sq.var_sec[~is_lot]] = np.maximum(res.v[~is_lot], 0.0)
    return x, b


def _ipm_excess(sq: StructuredQP, res: IpmResult) -> list[tuple[str, int, float]]:
    """(row name, rung, excess in the row's own units) of every soft row the solution exceeds
    by more than ``RELAX_TOL``; the tracking-error row's excess is in TE (annual decimal)."""
    out: list[tuple[str, int, float]] = []
    names, rungs = sq.row_names, sq.row_rungs
    for k in np.flatnonzero(res.row_excess > RELAX_TOL).tolist():
        if names[k] == "tracking_error":
            te = math.sqrt(max(sq.te2, 0.0))
            excess = math.sqrt(max(float(res.row_value[k]), 0.0)) - te
            if excess <= RELAX_TOL:
                continue
        else:
            excess = float(res.row_excess[k])
        out.append((names[k], rungs[k], excess))
    return out


def _ipm_binding(sq: StructuredQP, res: IpmResult) -> tuple[str, ...]:
    """Rows at their bound (within ``BINDING_TOL``) at the continuous optimum."""
    beta = sq.row_beta
    value = res.row_value
    slack = beta - value
    hit = slack <= BINDING_TOL
    if sq.te2 >= 0:
        te = math.sqrt(sq.te2)
        hit[-1] = te - math.sqrt(max(float(value[-1]), 0.0)) <= BINDING_TOL * max(1.0, te)
    names = sq.row_names
    return tuple(names[k] for k in np.flatnonzero(hit).tolist())


def _relax_message(excess: list[tuple[str, int, float]]) -> str:
    parts = []
    for name, _rung, amount in excess:
        unit = "TE" if name == "tracking_error" else "of the account"
        parts.append(f"{name} exceeded by {amount * 100:.4g} % {unit}")
    return "relaxed: " + "; ".join(parts)


def solve_continuous(problem: Problem) -> ContinuousResult:
    """Continuous optimum of the problem as stated (all constraints, no repair).

    With the interior-point backend the soft constraints are elastic: if the optimum has to
    exceed one, the stated problem is infeasible (``converged`` False, solver status
    ``PrimalInfeasible``) and the point returned is the least-violating one."""
    prep = prepare(problem)
    log = _Log()
    if problem.settings.qp_backend in ("auto", "ipm"):
        sq = log.build_structured(prep, prep.sellable, prep.buyable)
        res = log.run_ipm(sq, problem.settings)
        if res.status in IPM_ACCEPTED or problem.settings.qp_backend == "ipm":
            x, b = _ipm_point(prep, sq, res)
            ok = res.status in IPM_ACCEPTED
            excess = _ipm_excess(sq, res) if ok else []
            status = "PrimalInfeasible" if excess else res.status
            terms = terms_at(prep, x, b)
            sells = sells_of(prep, x)
            return ContinuousResult(
                solver_status=status,
                converged=ok and not excess,
                objective=terms.total,
                terms=terms,
                lot_fraction=x,
                buys=b,
                sells=sells,
                weights=prep.holding + b - sells,
                cash_weight=cash_weight_at(prep, x, b),
                iterations=log.iterations,
                solve_seconds=log.solve_seconds,
                binding=_ipm_binding(sq, res) if ok and not excess else (),
            )
    qp, raw = log.solve_rung(prep, prep.sellable, prep.buyable, 0)
    x, b = point_of(prep, qp, raw)
    status = raw.status
    if raw.status != SOLVED and problem.settings.turnover_max is not None:
        # The least-violating point in turnover (as the elastic method would give), not the
        # meaningless iterate of an infeasible solve (issue 17, defect 1).
        rung1 = log.solve_rung(prep, prep.sellable, prep.buyable, 1)
        if rung1[1].status == SOLVED:
            x1, b1 = point_of(prep, *rung1)
            tight = _least_turnover(prep, log, float(b1.sum() + sells_of(prep, x1).sum()))
            prep_t, qp, raw = tight if tight is not None else (prep, *rung1)
            x, b = point_of(prep_t, qp, raw)
            status = "PrimalInfeasible"
    terms = terms_at(prep, x, b)
    sells = sells_of(prep, x)
    return ContinuousResult(
        solver_status=status,
        converged=status == SOLVED,
        objective=terms.total,
        terms=terms,
        lot_fraction=x,
        buys=b,
        sells=sells,
        weights=prep.holding + b - sells,
        cash_weight=cash_weight_at(prep, x, b),
        iterations=log.iterations,
        solve_seconds=log.solve_seconds,
        binding=binding_of(prep, qp, raw) if status == SOLVED else (),
    )


def _rungs_present(prep: Prepared) -> tuple[bool, ...]:
    """Which ladder rungs have something to drop for this problem."""
    p = prep.problem
    s = p.settings
    weights = (
        s.cash_max is not None
        or bool(p.group_bounds)
        or bool(np.any(prep.lo_eff > 0))
        or bool(np.any(np.isfinite(prep.hi_eff)))
    )
    return (
        s.turnover_max is not None,
        s.gain_budget is not None or s.tax_budget is not None,
        weights,
        s.te_max is not None,
    )


@dataclass
class _Log:
    iterations: int = 0
    statuses: tuple[str, ...] = ()
    backends: tuple[str, ...] = ()
    solve_seconds: float = 0.0
    build_seconds: float = 0.0

    def add(self, raw: RawSolve) -> RawSolve:
        self.iterations += raw.iterations
        self.statuses = (*self.statuses, raw.status)
        self.backends = (*self.backends, raw.backend)
        self.solve_seconds += raw.seconds
        return raw

    def run(self, qp: QP, settings: Settings) -> RawSolve:
        """Clarabel (with the retry of ``solve_qp``), log every attempt, return the last."""
        attempts = solve_qp(qp, settings.max_iter, settings.time_limit)
        for raw in attempts:
            self.add(raw)
        return attempts[-1]

    def build(
        self,
        prep: Prepared,
        sellable: BoolArray,
        buyable: BoolArray,
        rung: int,
        native_bounds: bool = False,
    ) -> QP:
        t0 = time.perf_counter()
        qp = build_qp(prep, sellable, buyable, rung, native_bounds=native_bounds)
        self.build_seconds += time.perf_counter() - t0
        return qp

    def build_structured(
        self, prep: Prepared, sellable: BoolArray, buyable: BoolArray
    ) -> StructuredQP:
        t0 = time.perf_counter()
        sq = build_structured(prep, sellable, buyable)
        self.build_seconds += time.perf_counter() - t0
        return sq

    def run_ipm(self, sq: StructuredQP, settings: Settings) -> IpmResult:
        t0 = time.perf_counter()
        res = solve_structured(sq, settings.max_iter)
        self.solve_seconds += time.perf_counter() - t0
        self.iterations += res.iterations
        self.statuses = (*self.statuses, res.status)
        self.backends = (*self.backends, "ipm" if res.backend == "c" else "ipm-numpy")
        return res

    def solve_rung(
        self, prep: Prepared, sellable: BoolArray, buyable: BoolArray, rung: int
    ) -> tuple[QP, RawSolve]:
        """PIQP when the rung has no cone (``_use_piqp``); Clarabel if PIQP is not used or
        does not report solved."""
        settings = prep.problem.settings
        if _use_piqp(prep, rung):
            qp = self.build(prep, sellable, buyable, rung, native_bounds=True)
            raw = self.add(run_piqp(qp, settings.max_iter))
            if raw.status == SOLVED:
                return qp, raw
        qp = self.build(prep, sellable, buyable, rung)
        return qp, self.run(qp, settings)


Resolver = Callable[[BoolArray, BoolArray], "tuple[FloatArray, FloatArray] | None"]


def solve(problem: Problem) -> Solution:
    """Proposed trades for one account (docs/optimizer.md section 6)."""
    t_start = time.perf_counter()
    log = _Log()
    t0 = time.perf_counter()
    prep = prepare(problem)
    log.build_seconds += time.perf_counter() - t0
    before = terms_at(prep, np.zeros(prep.lot_weight.shape[0]), np.zeros(problem.n_securities))
    blocked = blocked_list(prep)

    sellable = prep.sellable
    kappa_lots = prep.kappa[prep.lot_sec]
    max_cash = prep.cash0 + float(np.sum(np.where(sellable, (1 - kappa_lots) * prep.lot_weight, 0)))
    if max_cash < prep.cash_req - 1e-12:
        message = (
            f"cash requirement ${prep.cash_req * prep.base:,.2f} cannot be met: selling every "
            f"sellable lot leaves ${max_cash * prep.base:,.2f}"
        )
        return _no_trade(prep, Status.INFEASIBLE, before, blocked, log, message, t_start, (), 0, 0)
    backend = problem.settings.qp_backend
    if backend in ("auto", "ipm"):
        solution = _solve_ipm(prep, log, before, blocked, t_start)
        if solution is not None:
            return solution
        if backend == "ipm":
            message = f"the interior-point solve ended {log.statuses[-1]}; no trade, needs review"
            return _no_trade(
                prep, Status.FALLBACK, before, blocked, log, message, t_start, (), 0, 0
            )
    return _solve_ladder(prep, log, before, blocked, t_start)


def _solve_ipm(
    prep: Prepared, log: _Log, before: ObjectiveTerms, blocked: tuple[Blocked, ...], t_start: float
) -> Solution | None:
    """The engine's own interior-point method with elastic soft constraints (one solve, plus
    one re-solve when directions must be fixed). None if it does not converge: the caller
    then runs the ladder of the other backends."""
    settings = prep.problem.settings
    sq = log.build_structured(prep, prep.sellable, prep.buyable)
    res = log.run_ipm(sq, settings)
    if res.status not in IPM_ACCEPTED:
        return None
    x, b = _ipm_point(prep, sq, res)
    excess = _ipm_excess(sq, res)
    relaxed_rungs = sorted({rung for _name, rung, _amount in excess})
    relaxed = tuple(RUNGS[r] for r in relaxed_rungs)
    continuous = terms_at(prep, x, b)
    binding = _ipm_binding(sq, res)
    # Rounding keeps a relaxed turnover cap at the level the solution needed (it only cuts
    # buys for it, which raises cash); a relaxed budget is not enforced by rounding, which
    # may need a gain sale more to meet the hard cash requirement.
    turnover_excess = sum(amount for name, _rung, amount in excess if name == "turnover")

    def resolve(sellable: BoolArray, buyable: BoolArray) -> tuple[FloatArray, FloatArray] | None:
        if res.iterations > settings.resolve_max_iterations:
            return None  # a hard account: net its conflicts instead (Settings docs)
        t0 = time.perf_counter()
        is_lot = sq.var_lot >= 0
        keep = np.where(is_lot, sellable[np.maximum(sq.var_lot, 0)], buyable[sq.var_sec])
        sq2 = restrict(sq, keep)
        log.build_seconds += time.perf_counter() - t0
        res2 = log.run_ipm(sq2, settings)
        if res2.status not in IPM_ACCEPTED:
            return None
        return _ipm_point(prep, sq2, res2)

    t_rep = time.perf_counter()
    budgets_on = "budgets" not in relaxed
    x, b, fix_lots, n_fixes = _fix_directions(prep, x, b, continuous.total, budgets_on, resolve)
    rounded = round_trades(
        prep, x, b, budgets_on=budgets_on, fixed_lots=fix_lots, turnover_excess=turnover_excess
    )
    return _finish(
        prep,
        log,
        before,
        blocked,
        t_start,
        _Outcome(
            continuous=continuous,
            rounded=rounded,
            relaxed=relaxed,
            message="",
            binding=binding,
            n_vars=sq.n_vars,
            n_rows=sq.n_rows,
            n_fixes=n_fixes,
            repair_seconds=time.perf_counter() - t_rep,
            relaxed_by=tuple((name, amount) for name, _rung, amount in excess),
        ),
    )


def _fix_directions(
    prep: Prepared,
    x: FloatArray,
    b: FloatArray,
    bound: float,
    budgets_on: bool,
    resolve: Resolver,
) -> tuple[FloatArray, FloatArray, BoolArray, int]:
    """Direction fixing (docs/optimizer.md section 6 step 5): (x, b, fixed lots, fixes)."""
    fix_lots = np.zeros(prep.lot_weight.shape[0], dtype=np.bool_)
    fix_buys = np.zeros(prep.problem.n_securities, dtype=np.bool_)
    n_fixes = 0
    netted: tuple[FloatArray, FloatArray] | None = None
    for _ in range(MAX_FIX_ROUNDS):
        new_lots, new_buys, count = find_conflicts(prep, x, b, EPS_TRADE)
        if count == 0:
            break
        n_fixes += count
        netted = _netted_if_enough(prep, x, b, bound, budgets_on)
        if netted is not None:
            break
        harvest = loss_conflicts(prep, x, b, EPS_TRADE)
        alt_buys = fix_buys | new_buys | (harvest & (b > EPS_TRADE))
        alt_lots = fix_lots | (new_lots & ~harvest[prep.lot_sec])
        fix_lots |= new_lots
        fix_buys |= new_buys
        if harvest.any() and _harvest_first(prep):
            fix_lots, alt_lots = alt_lots, fix_lots
            fix_buys, alt_buys = alt_buys, fix_buys
        x2b2 = resolve(prep.sellable & ~fix_lots, prep.buyable & ~fix_buys)
        if x2b2 is None:
            break  # keep the last good point and net its conflicts below.
        # The larger side is not always the better one: keeping a buy can drop a loss harvest
        # that a substitute would have kept (issue 17, defect 3). When the re-solve lost more
        # than resolve_gap against the continuous optimum, also try forbidding every
        # conflicting buy and keep the better of the two (netted) points.
        first = _netted_total(prep, *x2b2)
        if first - bound > ALT_GAP and (
            (alt_lots != fix_lots).any() or (alt_buys != fix_buys).any()
        ):
            x3b3 = resolve(prep.sellable & ~alt_lots, prep.buyable & ~alt_buys)
            if x3b3 is not None and _netted_total(prep, *x3b3) < first:
                x2b2 = x3b3
                fix_lots, fix_buys = alt_lots, alt_buys
        x, b = x2b2
    # Conflicts left after the re-solve(s) are netted (weights unchanged, cash only rises);
    # class conflicts lose their buys (cash only rises).
    if netted is not None:
        x, b = netted  # already netted by the test above (same functions, same point)
    else:
        x, b = net_conflicts(prep, x, b, EPS_TRADE)
        b = drop_class_conflicts(prep, x, b, EPS_TRADE)
    return x, b, fix_lots, n_fixes


ALT_GAP = 1e-2
"""Objective units (fraction of B): the repair re-solve that lost more than this against the
continuous optimum is tried in the other direction too (issue 17, defect 3)."""


def _harvest_first(prep: Prepared) -> bool:
    """Whether to re-solve loss-harvest conflicts by forbidding their buys (keep the loss
    sales) rather than keeping the larger side first. With a factor model the exposure of a
    stock sold at a loss is rebuilt from others, and forbidding the buy was the better
    direction in 8 of 9 conflicted direct-index bench accounts; without one (model accounts)
    the larger side was better in 166 of 195."""
    return prep.n_factors > 0


def _netted_total(prep: Prepared, x: FloatArray, b: FloatArray) -> float:
    """Objective of a re-solved point once its leftover conflicts are netted."""
    xn, bn = net_conflicts(prep, x, b, EPS_TRADE)
    return terms_at(prep, xn, drop_class_conflicts(prep, xn, bn, EPS_TRADE)).total


def _solve_ladder(
    prep: Prepared, log: _Log, before: ObjectiveTerms, blocked: tuple[Blocked, ...], t_start: float
) -> Solution:
    """PIQP / Clarabel with the relaxation ladder (``qp_backend`` ``"piqp"`` or
    ``"clarabel"``, and the fallback of ``"auto"``)."""
    sellable = prep.sellable
    buyable = prep.buyable
    present = _rungs_present(prep)
    rung_list = [0] + [r + 1 for r in range(len(RUNGS)) if present[r]]
    qp: QP | None = None
    raw: RawSolve | None = None
    chosen = -1
    last_status = ""
    for rung in rung_list:
        qp_try, raw_try = log.solve_rung(prep, sellable, buyable, rung)
        if raw_try.status == SOLVED:
            qp, raw, chosen = qp_try, raw_try, rung
            break
        last_status = raw_try.status
    if qp is None or raw is None:
        # The hard constraints are feasible (checked above), so the last rung failing is a
        # solver failure, not infeasibility.
        message = (
            "no rung of the relaxation ladder could be solved "
            f"(last solver status {last_status}); no trade, needs review"
        )
        return _no_trade(prep, Status.FALLBACK, before, blocked, log, message, t_start, (), 0, 0)
    present_rungs = _rungs_present(prep)
    relaxed = tuple(RUNGS[r] for r in range(chosen) if present_rungs[r])
    solved_prep = prep
    if chosen >= 1 and present_rungs[0] and not any(present_rungs[1:chosen]):
        # Only the turnover cap was dropped: keep the least-violating cap instead of none.
        x1, b1 = point_of(prep, qp, raw)
        tight = _least_turnover(prep, log, float(b1.sum() + sells_of(prep, x1).sum()))
        if tight is not None:
            solved_prep, qp, raw = tight
            chosen = 0
    x, b = point_of(solved_prep, qp, raw)
    continuous = terms_at(prep, x, b)
    binding = binding_of(prep, qp, raw)
    n_vars, n_rows = qp.n_vars, qp.n_rows
    first_qp, first_raw = qp, raw

    def resolve(sellable2: BoolArray, buyable2: BoolArray) -> tuple[FloatArray, FloatArray] | None:
        return _resolve_fixed(log, solved_prep, first_qp, first_raw, sellable2, buyable2, chosen)

    t_rep = time.perf_counter()
    x, b, fix_lots, n_fixes = _fix_directions(
        solved_prep, x, b, continuous.total, chosen < 2, resolve
    )
    rounded = round_trades(
        solved_prep,
        x,
        b,
        budgets_on=chosen < 2,
        fixed_lots=fix_lots,
        turnover_on=chosen < 1,
    )
    return _finish(
        prep,
        log,
        before,
        blocked,
        t_start,
        _Outcome(
            continuous=continuous,
            rounded=rounded,
            relaxed=relaxed,
            message="the solver ladder dropped: " + ", ".join(relaxed) if relaxed else "",
            binding=binding,
            n_vars=n_vars,
            n_rows=n_rows,
            n_fixes=n_fixes,
            repair_seconds=time.perf_counter() - t_rep,
        ),
    )


NO_TRADE_GAIN = 1e-6
"""Objective units: a continuous improvement above this that rounding loses entirely is
explained in the message (issue 17, defect 4)."""
LEAST_TURNOVER_STEPS = 8
"""Bisection steps of ``_least_turnover``: the relaxed cap is within 1/256 of the gap between
the stated cap and the turnover of the solution without a cap."""


def _least_turnover(
    prep: Prepared, log: _Log, uncapped: float
) -> tuple[Prepared, QP, RawSolve] | None:
    """The problem with the smallest turnover cap (bisection between the stated cap and
    ``uncapped``, the turnover of the solution without a cap) that the ladder's rung 0
    solves: the least-violating turnover, as the elastic interior-point method would give,
    for the accounts where that method failed (issue 17, defect 1). None if no cap below
    ``uncapped`` solves."""
    problem = prep.problem
    cap = problem.settings.turnover_max
    if cap is None or not uncapped > cap:
        return None
    lo, hi = cap, uncapped
    best: tuple[Prepared, QP, RawSolve] | None = None
    for _ in range(LEAST_TURNOVER_STEPS):
        mid = 0.5 * (lo + hi)
        trial = dataclasses.replace(
            problem, settings=dataclasses.replace(problem.settings, turnover_max=mid)
        )
        prep_mid = prepare(trial)
        qp, raw = log.solve_rung(prep_mid, prep_mid.sellable, prep_mid.buyable, 0)
        if raw.status == SOLVED:
            best, hi = (prep_mid, qp, raw), mid
        else:
            lo = mid
    return best


@dataclass(frozen=True)
class _Outcome:
    """What a backend's solve and repair produced, for ``_finish``."""

    continuous: ObjectiveTerms
    rounded: RoundedTrades
    relaxed: tuple[str, ...]
    message: str
    binding: tuple[str, ...]
    n_vars: int
    n_rows: int
    n_fixes: int
    repair_seconds: float
    relaxed_by: tuple[tuple[str, float], ...] = ()


def _finish(
    prep: Prepared,
    log: _Log,
    before: ObjectiveTerms,
    blocked: tuple[Blocked, ...],
    t_start: float,
    out: _Outcome,
) -> Solution:
    """The solution of a solved account, or no trade if rounding could not keep a hard
    constraint (both backends end here)."""
    if out.rounded.failure:
        message = f"rounding could not keep a hard constraint: {out.rounded.failure}"
        return _no_trade(
            prep, Status.FALLBACK, before, blocked, log, message, t_start, out.relaxed,
            out.n_vars, out.n_rows,
        )  # fmt: skip
    # What is relaxed is measured at the proposed (rounded) trades, whatever the solve said:
    # a dropped rung is reported by how much it is exceeded, an excess the solver did not
    # report (an AlmostSolved point, a cap missed by rounding) is listed too.
    problem = prep.problem
    x_after = out.rounded.sell_shares / problem.lots.shares
    b_after = out.rounded.buy_shares * problem.prices / prep.base
    excess = soft_excess(prep, x_after, b_after)
    relaxed = tuple(RUNGS[r] for r in sorted({rung for _name, rung, _amount in excess}))
    message = _relax_message(excess) if excess else ""
    if out.message:
        message = f"{message}; {out.message}" if message else out.message
    if not out.rounded.sell_shares.any() and not out.rounded.buy_shares.any():
        gain = before.total - out.continuous.total
        if gain > NO_TRADE_GAIN:
            s = problem.settings
            unit = f"{s.share_decimals}-decimal shares" if s.fractional_shares else "whole shares"
            why = (
                f"no trade: rounding to {unit} (minimum trade ${s.min_trade:,.2f}) drops every "
                f"trade of the continuous optimum, whose improvement of {gain:.3g} of the "
                "account is not reachable"
            )
            message = f"{message}; {why}" if message else why
    return _assemble(
        prep,
        Status.RELAXED if relaxed else Status.OPTIMAL,
        before,
        out.continuous,
        out.rounded,
        blocked,
        log,
        message,
        t_start,
        relaxed,
        out.binding,
        out.n_vars,
        out.n_rows,
        out.n_fixes,
        out.repair_seconds,
        relaxed_by=tuple((name, amount) for name, _rung, amount in excess),
    )


def _resolve_fixed(
    log: _Log,
    prep: Prepared,
    qp: QP,
    raw: RawSolve,
    sellable: BoolArray,
    buyable: BoolArray,
    rung: int,
) -> tuple[FloatArray, FloatArray] | None:
    """(x, b) re-solved with only ``sellable`` lots and ``buyable`` securities free, or None.

    After a PIQP solve only bounds change (``rerun_piqp_fixed``, same KKT pattern); otherwise,
    or if that does not solve, the rung is rebuilt without the fixed variables for Clarabel.
    """
    problem = prep.problem
    settings = problem.settings
    if raw.backend == "piqp" and raw.solver is not None:
        raw2 = log.add(rerun_piqp_fixed(qp, raw, ~sellable[qp.lots], ~buyable[qp.buy_row_secs]))
        if raw2.status == SOLVED:
            x, b = point_of(prep, qp, raw2)
            x[~sellable] = 0.0
            b[~buyable] = 0.0
            return x, b
    qp2 = log.build(prep, sellable, buyable, rung)
    raw2 = log.run(qp2, settings)
    if raw2.status != SOLVED:
        return None
    return point_of(prep, qp2, raw2)


def _netted_if_enough(
    prep: Prepared, x: FloatArray, b: FloatArray, bound: float, budgets_on: bool
) -> tuple[FloatArray, FloatArray] | None:
    """The netted point (``net_conflicts`` then ``drop_class_conflicts``) if it loses at most
    ``Settings.resolve_gap`` against ``bound`` (the continuous optimum, which no re-solve can
    beat) and keeps the budgets; else None."""
    gap = prep.problem.settings.resolve_gap
    if gap <= 0:
        return None
    xn, bn = net_conflicts(prep, x, b, EPS_TRADE)
    bn = drop_class_conflicts(prep, xn, bn, EPS_TRADE)
    if budgets_on:
        if prep.gain_room is not None and float(prep.tax.gain @ xn) > prep.gain_room:
            return None
        if prep.tax_room is not None and float(prep.tax.tax @ xn) > prep.tax_room:
            return None
    if terms_at(prep, xn, bn).total - bound <= gap:
        return xn, bn
    return None


def _no_trade(
    prep: Prepared,
    status: Status,
    before: ObjectiveTerms,
    blocked: tuple[Blocked, ...],
    log: _Log,
    message: str,
    t_start: float,
    relaxed: tuple[str, ...],
    n_vars: int,
    n_rows: int,
) -> Solution:
    problem = prep.problem
    L = prep.lot_weight.shape[0]
    rounded = RoundedTrades(
        sell_shares=np.zeros(L), buy_shares=np.zeros(problem.n_securities), failure=""
    )
    return _assemble(
        prep,
        status,
        before,
        before,
        rounded,
        blocked,
        log,
        message,
        t_start,
        relaxed,
        (),
        n_vars,
        n_rows,
        0,
        0.0,
    )


def _assemble(
    prep: Prepared,
    status: Status,
    before: ObjectiveTerms,
    continuous: ObjectiveTerms,
    rounded: RoundedTrades,
    blocked: tuple[Blocked, ...],
    log: _Log,
    message: str,
    t_start: float,
    relaxed: tuple[str, ...],
    binding: tuple[str, ...],
    n_vars: int,
    n_rows: int,
    n_fixes: int,
    repair_seconds: float,
    relaxed_by: tuple[tuple[str, float], ...] = (),
) -> Solution:
    problem = prep.problem
    ids = problem.security_ids
    prices = problem.prices
    lots = problem.lots
    base = prep.base
    x = rounded.sell_shares / lots.shares
    b = rounded.buy_shares * prices / base
    after = terms_at(prep, x, b)
    sells_w = sells_of(prep, x)
    w_after = prep.holding + b - sells_w
    cash_after = cash_weight_at(prep, x, b) * base

    # Records are built from numpy columns (``tolist`` gives Python floats and ints) and the
    # frozen dataclasses filled without their generated __init__ (``new_record``): at 3,000
    # lot sales the per-field ``object.__setattr__`` of a frozen __init__ cost ~4 ms.
    sell_value = sells_w * base
    buy_value = rounded.buy_shares * prices
    sell_shares_sec = np.bincount(prep.lot_sec, weights=rounded.sell_shares, minlength=len(ids))
    traded = np.flatnonzero((rounded.buy_shares > 0) | (sell_shares_sec > 0))
    is_buy = rounded.buy_shares[traded] > 0
    t_shares = np.where(is_buy, rounded.buy_shares[traded], sell_shares_sec[traded])
    t_value = np.where(is_buy, buy_value[traded], sell_value[traded])
    t_cost = prep.kappa[traded] * t_value
    trades = [
        new_record(
            SecurityTrade,
            {
                "security": i,
                "security_id": ids[i],
                "side": Side.BUY if buy else Side.SELL,
                "shares": sh,
                "value": val,
                "cost": cost,
            },
        )
        for i, buy, sh, val, cost in zip(
            traded.tolist(),
            is_buy.tolist(),
            t_shares.tolist(),
            t_value.tolist(),
            t_cost.tolist(),
            strict=True,
        )
    ]
    tax = prep.tax
    sold = np.flatnonzero(rounded.sell_shares > 0)
    sold_sec = prep.lot_sec[sold]
    sold_shares = rounded.sell_shares[sold]
    sold_gain = tax.gain[sold] * x[sold]
    sales = [
        new_record(
            LotSale,
            {
                "lot_id": lot_id,
                "security": sec,
                "security_id": ids[sec],
                "shares": sh,
                "proceeds": proceeds,
                "realized_gain": gain,
                "term": Term.LONG if lt else Term.SHORT,
                "tax": lot_tax,
            },
        )
        for lot_id, sec, sh, proceeds, gain, lt, lot_tax in zip(
            lots.lot_id[sold].tolist(),
            sold_sec.tolist(),
            sold_shares.tolist(),
            (sold_shares * prices[sold_sec]).tolist(),
            sold_gain.tolist(),
            tax.long_term[sold].tolist(),
            (tax.rate[sold] * sold_gain).tolist(),
            strict=True,
        )
    ]
    realized = float(np.dot(tax.gain, x))
    tax_total = float(np.dot(tax.tax, x))
    reasons = explain(prep, tuple(trades), tuple(sales), w_after, cash_after)
    total = time.perf_counter() - t_start
    diagnostics = Diagnostics(
        iterations=log.iterations,
        solves=len(log.statuses),
        solver_statuses=log.statuses,
        solver_backends=log.backends,
        relaxed=relaxed,
        relaxed_by=relaxed_by,
        binding=binding,
        n_variables=n_vars,
        n_constraints=n_rows,
        repair_objective_change=after.total - continuous.total,
        direction_fixes=n_fixes,
        versions=_versions(),
        solver_settings=_solver_settings(problem),
        timings=(
            ("build", log.build_seconds),
            ("solve", log.solve_seconds),
            ("repair", repair_seconds),
            ("total", total),
        ),
        message=message,
    )
    return Solution(
        account_id=problem.account_id,
        status=status,
        trades=tuple(trades),
        lot_sales=tuple(sales),
        weights_before=prep.holding.copy(),
        weights_after=w_after,
        cash_before=float(problem.cash),
        cash_after=cash_after,
        objective_before=before,
        objective_continuous=continuous,
        objective_after=after,
        realized_gain=realized,
        tax=tax_total,
        turnover=float(b.sum() + sells_w.sum()),
        blocked=blocked,
        reasons=reasons,
        diagnostics=diagnostics,
    )
