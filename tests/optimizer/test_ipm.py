"""The engine's interior-point method (optimizer.ipm, the C extension and its numpy statement)
and the elastic soft constraints it solves (docs/optimizer.md sections 5-7).

Hand-checkable relaxations: when a soft constraint cannot be met, it is exceeded by exactly the
smallest amount the hard constraints force, the cheaper rung first, and the excess is reported.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest

from optimizer import Problem, Settings, Status, solve, solve_continuous
from optimizer import ipm as ipm_module
from optimizer.ipm import IpmResult, solve_structured
from optimizer.objective import terms_at
from optimizer.rules import prepare
from optimizer.structured import StructuredQP, build_structured, restrict
from optimizer_lab.reference import reference_solve
from tests.optimizer.factories import random_problem as random_account
from tests.optimizer.factories import tiny
from tests.optimizer_reference.random_problems import KINDS, random_problem

HIGH_RISK = 1000.0


def _structured(p: Problem) -> StructuredQP:
    prep = prepare(p)
    return build_structured(prep, prep.sellable, prep.buyable)


def _point(p: Problem, q: StructuredQP, v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    prep = prepare(p)
    x = np.zeros(p.lots.count)
    b = np.zeros(p.n_securities)
    is_lot = q.var_lot >= 0
    x[q.var_lot[is_lot]] = v[is_lot] / prep.lot_weight[q.var_lot[is_lot]]
    b[q.var_sec[~is_lot]] = v[~is_lot]
    return x, b


# --- the C extension and its specification ------------------------------------------------


def test_the_extension_is_built_and_used() -> None:
    assert ipm_module.backend() == "c"
    sol = solve(random_account(3))
    assert set(sol.diagnostics.solver_backends) == {"ipm"}
    assert dict(sol.diagnostics.versions)["ipm"] == "c"


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("seed", range(3))
def test_c_and_numpy_run_the_same_algorithm(kind: str, seed: int) -> None:
    q = _structured(random_problem(kind, seed))
    c = solve_structured(q, 100)
    py = solve_structured(q, 100, force_numpy=True)
    assert (c.backend, py.backend) == ("c", "numpy")
    assert c.status == py.status == "Solved"
    # Same iterates up to rounding: the same number of steps (the last may differ by one where
    # a residual sits at the tolerance) and the same point.
    assert abs(c.iterations - py.iterations) <= 1
    np.testing.assert_allclose(
        c.v, py.v, rtol=0, atol=1e-8 * max(1.0, float(q.ub[np.isfinite(q.ub)].max(initial=1.0)))
    )
    assert c.objective == pytest.approx(py.objective, rel=1e-8, abs=1e-12)
    np.testing.assert_allclose(c.row_excess, py.row_excess, atol=1e-9)


def test_the_same_problem_gives_the_same_bits() -> None:
    q = _structured(random_problem("te_cap", 1))
    first, second = solve_structured(q, 100), solve_structured(q, 100)
    assert first.v.tobytes() == second.v.tobytes()
    assert first.iterations == second.iterations


def test_the_structured_objective_is_the_documented_objective() -> None:
    # c'v + gamma (w - t)' Q (w - t) at any point equals f of docs section 4 (terms_at): the
    # low-rank form of Q (factor root, unit columns) and the per-variable costs are exact.
    for kind in ("di", "equivalence", "model"):
        p = random_problem(kind, 2)
        prep = prepare(p)
        q = build_structured(prep, prep.sellable, prep.buyable)
        rng = np.random.default_rng(7)
        for _ in range(5):
            v = rng.uniform(0.0, 1.0, q.n_vars) * np.where(np.isfinite(q.ub), q.ub, 0.01)
            x, b = _point(p, q, v)
            w = q.h + np.bincount(q.var_sec, weights=q.var_sign * v, minlength=q.n)
            d = w - q.t
            u = np.hstack([q.U, _group_columns(q)])
            f = float(q.c @ v) + q.gamma * float(d @ (q.dg * d) + np.sum((u.T @ d) ** 2))
            assert f == pytest.approx(terms_at(prep, x, b).total, rel=1e-10, abs=1e-14)


def _group_columns(q: StructuredQP) -> np.ndarray:
    cols = np.zeros((q.n, q.n_groups))
    members = np.flatnonzero(q.grp >= 0)
    cols[members, q.grp[members]] = q.grp_val[members]
    return cols


def test_restricting_variables_fixes_them_at_zero() -> None:
    p = random_problem("di", 0)
    q = _structured(p)
    keep = np.ones(q.n_vars, dtype=np.bool_)
    keep[::3] = False
    res = solve_structured(restrict(q, keep), 100)
    assert res.status == "Solved"
    assert res.v.shape == (int(keep.sum()),)
    full = solve_structured(q, 100)
    assert res.objective >= full.objective - 1e-12  # fewer free variables cannot do better


def test_malformed_arrays_are_rejected_with_a_clear_error() -> None:
    from optimizer import _ipm

    q = _structured(random_problem("model", 0))
    bad = dataclasses.replace(q, var_sec=q.var_sec[::-1].copy())  # not grouped by security
    with pytest.raises(ValueError, match="var_sec must be sorted"):
        solve_structured(bad, 100)
    short = dataclasses.replace(q, h=q.h[:-1].copy())
    with pytest.raises(ValueError, match="argument h has the wrong type or size"):
        solve_structured(short, 100)
    assert callable(_ipm.solve)


def test_iteration_cap_is_reported_not_hidden() -> None:
    q = _structured(random_problem("budgets", 0))
    res: IpmResult = solve_structured(q, 2)
    assert res.status == "MaxIterations" and res.iterations == 2


# --- elastic soft constraints ---------------------------------------------------------------


def test_withdrawal_exceeds_the_turnover_cap_by_exactly_what_it_needs() -> None:
    # $100,000 of A, no cash, $30,000 withdrawal: B = $70,000 and $30,000 must be sold, a
    # turnover of 30/70 = 0.428571 against a cap of 0.10. Nothing else trades (A is on target),
    # so the cap is exceeded by 0.328571 and every other constraint holds.
    p = tiny(
        [10.0],
        [1.0],
        [(0, 10_000, 100_000.0, "2017-01-03")],
        withdrawal=30_000.0,
        settings=Settings(risk_aversion=1.0, turnover_max=0.10, fractional_shares=True),
    )
    sol = solve(p)
    assert sol.status == Status.RELAXED
    assert sol.diagnostics.relaxed == ("turnover",)
    by = dict(sol.diagnostics.relaxed_by)
    assert by["turnover"] == pytest.approx(30_000 / 70_000 - 0.10, abs=1e-7)
    assert sol.cash_after >= 30_000.0 - 1e-6
    assert "turnover exceeded by 32.86 % of the account" in sol.diagnostics.message
    cont = solve_continuous(p)
    assert not cont.converged and cont.solver_status == "PrimalInfeasible"


def test_unreachable_tracking_error_cap_is_exceeded_by_the_smallest_amount() -> None:
    # All in A (never sell), target all in B, no cash: nothing can trade, so the drift stays
    # sqrt(1^2 + 1^2) = 1.414214 (no risk model: Euclidean weight drift) against a cap of 0.5.
    p = tiny(
        [10.0, 10.0],
        [0.0, 1.0],
        [(0, 1000, 10_000.0, "2017-01-03")],
        never_sell=np.array([True, False]),
        settings=Settings(risk_aversion=1.0, te_max=0.5),
    )
    sol = solve(p)
    assert sol.status == Status.RELAXED
    assert sol.diagnostics.relaxed == ("tracking_error",)
    assert dict(sol.diagnostics.relaxed_by)["tracking_error"] == pytest.approx(
        math.sqrt(2.0) - 0.5, abs=1e-7
    )
    assert sol.trades == ()


def test_turnover_gives_way_before_the_tracking_error_cap() -> None:
    # All in A, target half A half B, no risk model. Meeting TE <= 0.1 needs w_A <= 0.5 +
    # 0.1/sqrt(2): a move of at least 0.429289 each way, turnover 0.858579 against a cap of 0.2.
    # Turnover is the cheaper rung: it is exceeded and the TE cap is met (exactly, it binds).
    p = tiny(
        [10.0, 10.0],
        [0.5, 0.5],
        [(0, 10_000, 100_000.0, "2017-01-03")],
        settings=Settings(risk_aversion=1e-3, te_max=0.1, turnover_max=0.2, fractional_shares=True),
    )
    cont = solve_continuous(p)
    assert not cont.converged
    sol = solve(p)
    assert sol.status == Status.RELAXED
    assert sol.diagnostics.relaxed == ("turnover",)
    need = 2 * (0.5 - 0.1 / math.sqrt(2.0))
    assert dict(sol.diagnostics.relaxed_by)["turnover"] == pytest.approx(need - 0.2, abs=1e-6)
    assert sol.objective_continuous.tracking_error == pytest.approx(0.1, abs=1e-7)


def test_a_feasible_problem_meets_its_soft_constraints_exactly_even_at_high_risk_aversion() -> None:
    # A full switch from A to B wanted with gamma = 1000: the turnover cap's multiplier is
    # ~2000 per unit weight. The penalty scales with the problem's slope, so the cap holds.
    p = tiny(
        [10.0, 10.0],
        [0.0, 1.0],
        [(0, 10_000, 100_000.0, "2017-01-03")],
        settings=Settings(risk_aversion=HIGH_RISK, turnover_max=0.2),
    )
    sol = solve(p)
    assert sol.status == Status.OPTIMAL
    assert sol.diagnostics.relaxed_by == ()
    assert solve_continuous(p).converged


@pytest.mark.parametrize("kind", ["turnover", "te_cap", "budgets", "bounds"])
@pytest.mark.parametrize("seed", range(3))
def test_elastic_optimum_equals_the_reference_when_the_stated_problem_is_feasible(
    kind: str, seed: int
) -> None:
    # The random generators make feasible problems with binding soft constraints.
    p = random_problem(kind, seed)
    ref = reference_solve(p)
    assert ref.status == "optimal"
    cont = solve_continuous(p)
    assert cont.converged
    t = ref.terms
    scale = max(abs(ref.objective), abs(t.risk) + abs(t.tax) + abs(t.cost) + abs(t.substitute))
    assert abs(cont.objective - ref.objective) <= 1e-6 * scale


def test_ipm_only_backend_reports_a_failure_and_auto_falls_back_to_the_ladder() -> None:
    p = tiny(
        [10.0, 10.0],
        [0.0, 1.0],
        [(0, 1000, 10_000.0, "2017-01-03")],
        settings=Settings(risk_aversion=HIGH_RISK, max_iter=3, qp_backend="ipm"),
    )
    only = solve(p)
    assert only.status == Status.FALLBACK
    assert only.diagnostics.solver_backends == ("ipm",)
    assert "interior-point solve ended MaxIterations" in only.diagnostics.message
    auto = solve(
        dataclasses.replace(
            p, settings=dataclasses.replace(p.settings, qp_backend="auto", max_iter=30)
        )
    )
    assert auto.status == Status.OPTIMAL
    assert auto.diagnostics.solver_backends[0] == "ipm"


def _tightened(p: Problem) -> Problem:
    """The problem with its soft constraints made (most likely) impossible to meet."""
    st = p.settings
    tighter = dataclasses.replace(
        st,
        turnover_max=None if st.turnover_max is None else 0.1 * st.turnover_max,
        te_max=None if st.te_max is None else 0.3 * st.te_max,
        gain_budget=None if st.gain_budget is None else -1e9,
        tax_budget=None if st.tax_budget is None else -1e9,
    )
    return dataclasses.replace(p, settings=tighter, withdrawal=0.2 * p.total_value)


@pytest.mark.parametrize("kind", ["turnover", "te_cap", "budgets", "bounds"])
@pytest.mark.parametrize("seed", range(3))
def test_elastic_optimum_equals_the_elastic_reference(kind: str, seed: int) -> None:
    # Soft constraints that cannot be met: the engine's optimum of f + penalties equals the
    # independent cvxpy statement of section 5's elastic problem.
    p = _tightened(random_problem(kind, seed))
    prep = prepare(p)
    q = build_structured(prep, prep.sellable, prep.buyable)
    res = solve_structured(q, 100)
    assert res.status == "Solved"
    x, b = _point(p, q, res.v)
    pens = q.row_pen
    elastic = np.isfinite(pens)
    engine = terms_at(prep, x, b).total + float(pens[elastic] @ res.row_excess[elastic])
    relaxed = bool(np.any(res.row_excess > 1e-7))
    # Where nothing had to be relaxed the elastic optimum is the stated problem's optimum; the
    # cone form of the reference is the more accurate statement of it.
    ref = reference_solve(p, elastic=relaxed)
    assert ref.status == "optimal"
    assert engine == pytest.approx(ref.objective, rel=1e-6)
    if kind == "turnover":
        assert relaxed, "a tenth of the turnover cap with a withdrawal cannot be met"


@pytest.mark.parametrize("seed", [0, 1, 4])
def test_a_hard_account_nets_its_conflicts_instead_of_re_solving(seed: int) -> None:
    # The first solve needs more iterations than resolve_max_iterations (here: any): the
    # direction conflicts are netted, so one solve only, and still no security is both bought
    # and sold and no loss sale sits beside a buy of its wash-sale class.
    p = random_account(seed)
    usual = solve(p)
    assert usual.diagnostics.solves in (2, 3) and usual.diagnostics.direction_fixes > 0
    capped = solve(
        dataclasses.replace(p, settings=dataclasses.replace(p.settings, resolve_max_iterations=0))
    )
    assert capped.diagnostics.solves == 1
    assert capped.diagnostics.direction_fixes == usual.diagnostics.direction_fixes
    sold = {s.security for s in capped.lot_sales}
    bought = {t.security for t in capped.trades if t.side == "buy"}
    assert not sold & bought
    # Netting only loses against the continuous optimum, never beats it.
    assert capped.objective_after.total >= capped.objective_continuous.total - 1e-9
