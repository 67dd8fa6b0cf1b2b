"""The engine's interior-point method: ``solve_structured(qp)`` on a ``StructuredQP``.

The C extension ``optimizer._ipm`` runs it; ``optimizer.ipm_numpy`` is the same algorithm in
numpy (its readable statement, the fallback where the extension is not built, and the
cross-check in the tests). docs/optimizer.md section 7 derives the method.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import ModuleType

import numpy as np

from optimizer.structured import StructuredQP
from optimizer.types import FloatArray

_ipm: ModuleType | None
try:
    from optimizer import _ipm
except ImportError:  # pragma: no cover - exercised only where the extension is not built
    _ipm = None

IPM_SETTINGS: dict[str, float] = {
    "step_to_boundary": 0.99,
    "tol_feas": 1e-9,
    "tol_gap_abs": 1e-11,
    "tol_gap_rel": 1e-9,
    "reg": 1e-10,
    "dual_reg": 1e-14,
    "v0_frac": 0.5,
    "buy0_frac": 0.5,
    "buy0_add": 1e-4,
    "kappa0": 0.1,
    "refine_steps": 5,
}
"""Pinned settings (recorded in ``Diagnostics.solver_settings``).

- ``tol_feas``: primal and dual residuals, scaled by 1 + the largest right-hand side / cost.
- ``tol_gap_abs``, ``tol_gap_rel``: the summed complementarity (a bound on the distance to the
  optimal objective, in objective units = fractions of B) against |c'v| + |risk|.
- ``reg``: primal regularization added to the barrier diagonal (a proximal term: it enters
  the Newton matrix and the refinement's product alike); ``dual_reg``: relative perturbation
  of the Schur complement's diagonal (removed by the refinement steps).
- ``v0_frac``, ``buy0_frac``, ``buy0_add``, ``kappa0``: the starting point (lot sales at
  v0_frac of the lot, buys at buy0_frac of the gap to target plus buy0_add, duals at kappa0
  times 1 + the largest cost gradient).
"""

STATUS = {0: "Solved", 1: "MaxIterations", 2: "NumericalError", 3: "AlmostSolved"}
ACCEPTED = ("Solved", "AlmostSolved")
"""Statuses whose point the engine uses: ``AlmostSolved`` is the best iterate when the
iterations stopped (cap or a breakdown of the arithmetic on a degenerate problem) within a
thousand times every tolerance (residuals 1e-6, gap 1e-6 of the objective's scale)."""


@dataclass(frozen=True, eq=False)
class IpmResult:
    status: str
    """``Solved``, ``AlmostSolved``, ``MaxIterations`` or ``NumericalError``."""
    v: FloatArray
    iterations: int
    row_value: FloatArray
    """c_k(v) of every row (solver order)."""
    row_excess: FloatArray
    """Elastic excess e_k >= 0 of every row (0 for hard rows)."""
    row_dual: FloatArray
    """Multiplier of every row."""
    objective: float
    """c'v + gamma V(w) (penalties excluded)."""
    backend: str


def backend() -> str:
    """``"c"`` when the extension is built, else ``"numpy"``."""
    return "c" if _ipm is not None else "numpy"


def solve_structured(q: StructuredQP, max_iter: int, force_numpy: bool = False) -> IpmResult:
    if _ipm is None or force_numpy:
        from optimizer.ipm_numpy import solve_numpy

        return solve_numpy(q, max_iter)
    nv = q.n_vars
    K = q.n_rows
    v = np.empty(nv)
    value = np.empty(K)
    excess = np.empty(K)
    dual = np.empty(K)
    st = IPM_SETTINGS
    code, iterations, objective = _ipm.solve(
        q.n,
        nv,
        q.U.shape[1],
        q.n_groups,
        q.A.shape[0],
        q.G.shape[0],
        q.p_sec.shape[0],
        q.var_sec,
        q.var_sign,
        q.ub,
        q.c,
        q.h,
        q.t,
        q.dg,
        q.U,
        q.A,
        q.a_beta,
        q.a_pen,
        q.G,
        q.g_beta,
        q.g_pen,
        q.p_sec,
        q.p_sign,
        q.p_beta,
        q.p_pen,
        q.grp,
        q.grp_val,
        q.gamma,
        q.te2,
        q.te_pen,
        v,
        value,
        excess,
        dual,
        int(max_iter),
        st["step_to_boundary"],
        st["tol_feas"],
        st["tol_gap_abs"],
        st["tol_gap_rel"],
        st["reg"],
        st["dual_reg"],
        st["v0_frac"],
        st["buy0_frac"],
        st["buy0_add"],
        st["kappa0"],
        int(st["refine_steps"]),
    )
    return IpmResult(
        status=STATUS[code],
        v=v,
        iterations=iterations,
        row_value=value,
        row_excess=excess,
        row_dual=dual,
        objective=objective,
        backend="c",
    )
