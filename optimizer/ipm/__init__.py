"""The engine's interior-point method: ``solve_structured(qp)`` on a ``StructuredQP``.

The C extension ``optimizer._ipm`` runs it; ``optimizer.ipm.numpy_ipm`` is the same algorithm
in numpy (its readable statement, the fallback where the extension is not built, and the
cross-check in the tests); ``optimizer.ipm.result`` holds the result type and the pinned
settings both use (so neither imports the other's module: no import cycle).
docs/optimizer.md section 7 derives the method.
"""

from __future__ import annotations

from types import ModuleType

import numpy as np

from optimizer.ipm.numpy_ipm import solve_numpy
from optimizer.ipm.result import ACCEPTED, IPM_SETTINGS, STATUS, IpmResult
from optimizer.structured import StructuredQP

__all__ = ["ACCEPTED", "IPM_SETTINGS", "STATUS", "IpmResult", "backend", "solve_structured"]

_ipm: ModuleType | None
try:
    from optimizer import _ipm
except ImportError:  # pragma: no cover - exercised only where the extension is not built
    _ipm = None


def backend() -> str:
    """``"c"`` when the extension is built, else ``"numpy"``."""
    return "c" if _ipm is not None else "numpy"


def solve_structured(q: StructuredQP, max_iter: int, force_numpy: bool = False) -> IpmResult:
    if _ipm is None or force_numpy:
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
