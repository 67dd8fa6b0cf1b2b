"""What the interior-point method returns and the settings it is pinned to (shared by the C
driver in ``optimizer.ipm`` and the numpy statement ``optimizer.ipm.numpy_ipm``)."""

from __future__ import annotations

from dataclasses import dataclass

from optimizer.types import FloatArray

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
