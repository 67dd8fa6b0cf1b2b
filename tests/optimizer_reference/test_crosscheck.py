"""The engine against the independent cvxpy statement of docs/optimizer.md (the lab's
``optimizer_lab.reference``).

For seeded random problems of every kind: the engine's continuous optimum
(``solve_continuous``) must reach the reference objective within 1e-6 relative and satisfy every
constraint; the full pipeline (``solve``) must keep the hard constraints after rounding and
report objective terms that match an independent evaluation.

Relative objective difference: |f_engine - f_ref| / scale with
scale = max(|f_ref|, |risk| + |tax| + |cost| + |substitute|) at the reference optimum: the
objective is a sum of terms of both signs (harvested losses are negative), so |f| alone can be
near zero while the terms are not.
"""

from __future__ import annotations

import numpy as np
import pytest

from optimizer import Problem, Side, Solution, Status, solve, solve_continuous
from optimizer_lab.reference import (
    ReferenceResult,
    constraint_violations,
    objective_terms,
    reference_solve,
    solution_point,
)
from tests.optimizer_reference.random_problems import KINDS, random_problem

SEEDS = range(6)
REL_TOL = 1e-6
CASES = [(kind, seed) for kind in KINDS for seed in SEEDS]


def rel_objective_diff(engine_objective: float, ref: ReferenceResult) -> float:
    t = ref.terms
    scale = max(abs(ref.objective), abs(t.risk) + abs(t.tax) + abs(t.cost) + abs(t.substitute))
    return abs(engine_objective - ref.objective) / max(scale, 1e-12)


_REF_CACHE: dict[tuple[str, int], tuple[Problem, ReferenceResult]] = {}


def _case(kind: str, seed: int) -> tuple[Problem, ReferenceResult]:
    key = (kind, seed)
    if key not in _REF_CACHE:
        problem = random_problem(kind, seed)
        _REF_CACHE[key] = (problem, reference_solve(problem))
    return _REF_CACHE[key]


@pytest.mark.parametrize(("kind", "seed"), CASES)
def test_continuous_optimum_matches_reference(kind: str, seed: int) -> None:
    problem, ref = _case(kind, seed)
    assert ref.status == "optimal", "the generators make feasible problems"
    cont = solve_continuous(problem)
    assert cont.converged, f"engine: {cont.solver_status} where cvxpy+Clarabel solved it"
    assert rel_objective_diff(cont.objective, ref) < REL_TOL
    assert constraint_violations(problem, cont.lot_fraction, cont.buys, tol=1e-7) == []
    # The engine's reported terms are the objective at its own point (independent evaluation).
    mine = objective_terms(problem, cont.lot_fraction, cont.buys)
    assert cont.objective == pytest.approx(mine.total, rel=1e-9, abs=1e-12)
    assert cont.terms.tax == pytest.approx(mine.tax, rel=1e-9, abs=1e-12)
    assert cont.terms.risk == pytest.approx(mine.risk, rel=1e-9, abs=1e-12)
    held = ref.weights - ref.buys + ref.sells
    np.testing.assert_allclose(cont.weights, held + cont.buys - cont.sells, atol=1e-12)


def _rounded_point(problem: Problem, sol: Solution) -> tuple[np.ndarray, np.ndarray]:
    """(x (L,), b (n,)) of the proposed rounded trades, checking lot and trade bookkeeping."""
    pos = {int(lid): j for j, lid in enumerate(problem.lots.lot_id)}
    for sale in sol.lot_sales:
        assert sale.shares <= problem.lots.shares[pos[sale.lot_id]] + 1e-9, "oversold a lot"
    for trade in sol.trades:
        assert trade.value == pytest.approx(trade.shares * problem.prices[trade.security])
    return solution_point(problem, sol)


@pytest.mark.parametrize(("kind", "seed"), CASES)
def test_full_pipeline_keeps_hard_constraints(kind: str, seed: int) -> None:
    problem, ref = _case(kind, seed)
    sol = solve(problem)
    assert sol.status in (Status.OPTIMAL, Status.RELAXED), sol.diagnostics.message
    x, b = _rounded_point(problem, sol)

    # The reference solved the problem, so the continuous solve needs no relaxation; the
    # rounded trades may still miss a soft cap by a share's worth, and then (issue 17, defect
    # 2) say so: status relaxed with exactly the rungs the independent checker finds broken.
    def missed(tol: float) -> set[str]:
        found = constraint_violations(problem, x, b, tol=tol)
        return {v.split(":")[0] for v in found if not v.startswith("hard:")}

    relaxed = set(sol.diagnostics.relaxed)
    assert missed(1e-7) <= relaxed <= missed(1e-9), sol.diagnostics.relaxed_by
    assert (sol.status == Status.OPTIMAL) == (not sol.diagnostics.relaxed)
    assert constraint_violations(problem, x, b, tol=1e-9, hard_only=True) == []
    if not problem.settings.fractional_shares:
        # Whole shares, except that a whole lot holding a fraction may be sold entirely.
        for trade in sol.trades:
            if trade.side == Side.BUY:
                assert trade.shares == np.round(trade.shares)
        for sale in sol.lot_sales:
            held = problem.lots.shares[list(problem.lots.lot_id).index(sale.lot_id)]
            assert sale.shares == np.round(sale.shares) or sale.shares == held
    # Budgets are kept after rounding ($, tiny tolerance).
    violations = constraint_violations(problem, x, b, tol=1e-9)
    assert not [v for v in violations if v.startswith("budgets")]
    # Reported terms: objective_after is f at the rounded trades; continuous >= reference optimum.
    after = objective_terms(problem, x, b)
    assert sol.objective_after.total == pytest.approx(after.total, rel=1e-7, abs=1e-10)
    assert sol.objective_continuous.total >= ref.objective - REL_TOL * max(abs(ref.objective), 1e-3)
    assert sol.diagnostics.repair_objective_change == pytest.approx(
        sol.objective_after.total - sol.objective_continuous.total, abs=1e-12
    )


def _binds(kind: str, seed: int) -> bool:
    problem, ref = _case(kind, seed)
    st = problem.settings
    if kind == "turnover":
        assert st.turnover_max is not None
        return bool(abs(ref.buys.sum() + ref.sells.sum() - st.turnover_max) < 1e-6)
    if kind == "te_cap":
        assert st.te_max is not None
        return bool(abs(ref.terms.tracking_error - st.te_max) < 1e-6)
    if kind == "budgets":
        return any(
            v.startswith("budgets")
            for v in constraint_violations(
                problem, ref.lot_fraction * (1 + 1e-4), ref.buys, tol=0.0
            )
        )
    raise AssertionError(kind)


@pytest.mark.parametrize("kind", ["turnover", "te_cap", "budgets"])
def test_generated_caps_actually_bind(kind: str) -> None:
    """Guard the generators: each capped kind has seeds where its cap is active at the optimum."""
    assert sum(_binds(kind, seed) for seed in SEEDS) >= 2


@pytest.mark.parametrize(
    ("case", "account"),
    # model 163 / 864: the smallest objectives (|f| ~ 1.5e-4) among the benchmark's 2,000 model
    # accounts, where an absolute duality-gap tolerance shows up as a relative error.
    [("model", 163), ("model", 864), ("model", 0), ("di_1500", 0)],
)
def test_real_data_accounts_match_reference(case: str, account: int) -> None:
    from optimizer_lab.bench.cases import make_account

    problem = make_account(case, account)
    ref = reference_solve(problem)
    assert ref.status == "optimal"
    cont = solve_continuous(problem)
    assert cont.converged, cont.solver_status
    assert rel_objective_diff(cont.objective, ref) < REL_TOL
    assert constraint_violations(problem, cont.lot_fraction, cont.buys, tol=1e-7) == []
