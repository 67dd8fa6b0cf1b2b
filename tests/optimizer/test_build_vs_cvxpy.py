"""The Clarabel build reaches the optimum of a direct cvxpy statement of the documented model.

``cvx_model.py`` is written from docs/optimizer.md in the (x, b) variables, independently of
build.py's (x, w, y) form; the fuller cross-check lives in tests/optimizer_reference.
"""

from __future__ import annotations

import pytest

from optimizer import solve_continuous
from tests.optimizer.cvx_model import cvx_objective
from tests.optimizer.factories import random_problem


@pytest.mark.parametrize("seed", range(40))
def test_continuous_objective_matches_cvxpy(seed: int) -> None:
    p = random_problem(seed)
    status, value = cvx_objective(p)
    cont = solve_continuous(p)
    assert cont.converged == (status == "optimal")
    if cont.converged:
        scale = max(abs(value), abs(cont.terms.risk) + abs(cont.terms.tax) + abs(cont.terms.cost))
        assert abs(cont.objective - value) <= 1e-6 * scale
