"""The solver plumbing of the ladder: Clarabel, PIQP and the scipy glue between them and
``build.QP`` (docs/optimizer.md sections 6-7), with the pinned solver settings and the
versions recorded in ``Diagnostics``. The pipeline that uses them is ``optimizer.solve``; the
engine's own interior-point method is ``optimizer.ipm``.
"""

from __future__ import annotations

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

from optimizer.build import QP, Csc
from optimizer.ipm import IPM_SETTINGS
from optimizer.ipm import backend as ipm_backend
from optimizer.objective import sells_of
from optimizer.rules import Prepared
from optimizer.structured import PENALTY
from optimizer.types import BoolArray, FloatArray, Problem

SOLVED = "Solved"
BINDING_TOL = 1e-7
"""Slack (row units) at or below which a row is reported binding."""

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


def versions() -> tuple[tuple[str, str], ...]:
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


QP_PIQP = piqp is not None
"""Whether PIQP is installed (else every ladder solve is Clarabel's)."""

_SOLVER_SETTINGS: dict[tuple[str, str, str], tuple[tuple[str, str], ...]] = {}


def solver_settings(problem: Problem) -> tuple[tuple[str, str], ...]:
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
