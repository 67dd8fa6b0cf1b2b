"""The backends: the engine's interior-point method (default), PIQP and Clarabel (the ladder)."""

from __future__ import annotations

import dataclasses

import pytest

from optimizer import Problem, Status, solve, solve_continuous
from optimizer.reasons import new_record
from optimizer.types import LotSale, Reason, Term
from tests.optimizer.factories import random_problem


def _forced(p: Problem, backend: str = "clarabel") -> Problem:
    return dataclasses.replace(p, settings=dataclasses.replace(p.settings, qp_backend=backend))


@pytest.mark.parametrize("backend", ["piqp", "clarabel"])
@pytest.mark.parametrize("seed", range(30))
def test_every_backend_reaches_the_same_continuous_optimum(seed: int, backend: str) -> None:
    p = random_problem(seed)
    auto = solve_continuous(p)
    other = solve_continuous(_forced(p, backend))
    assert auto.converged == other.converged
    if auto.converged:
        t = other.terms
        scale = max(abs(other.objective), abs(t.risk) + abs(t.tax) + abs(t.cost), 1e-12)
        assert abs(auto.objective - other.objective) <= 1e-6 * scale


@pytest.mark.parametrize("seed", range(30))
def test_backends_are_recorded_and_statuses_agree(seed: int) -> None:
    p = random_problem(seed)
    sol = solve(p)
    ladder = solve(_forced(p, "piqp"))
    forced = solve(_forced(p))
    diag = sol.diagnostics
    assert len(diag.solver_backends) == len(diag.solver_statuses) == diag.solves
    assert set(forced.diagnostics.solver_backends) <= {"clarabel"}
    assert set(ladder.diagnostics.solver_backends) <= {"piqp", "clarabel"}
    if sol.status not in (Status.INFEASIBLE,):
        # One interior-point solve, plus one re-solve when directions had to be fixed (and
        # one more trying the other direction of a loss-harvest conflict).
        assert set(diag.solver_backends) == {"ipm"}
        assert diag.solves in (1, 2, 3)
    if p.settings.te_max is None:
        assert ladder.diagnostics.solver_backends[:1] in ((), ("piqp",))
    else:  # the TE cap is a second-order cone: Clarabel until a rung drops it
        assert ladder.diagnostics.solver_backends[:1] == ("clarabel",)
    assert dict(diag.versions)["piqp"].startswith("0.")
    assert dict(diag.versions)["ipm"] == "c"
    # Every backend ends in the same status (optimal / relaxed / infeasible / fallback).
    assert sol.status == forced.status or Status.FALLBACK in (sol.status, forced.status)
    assert ladder.status == forced.status or Status.FALLBACK in (ladder.status, forced.status)


def test_unknown_backend_is_rejected() -> None:
    p = random_problem(0)
    bad = dataclasses.replace(p, settings=dataclasses.replace(p.settings, qp_backend="osqp"))
    with pytest.raises(ValueError, match="qp_backend"):
        solve(bad)


def test_new_record_equals_the_dataclass_constructor() -> None:
    sale = {
        "lot_id": 7,
        "security": 2,
        "security_id": "VOO",
        "shares": 3.0,
        "proceeds": 300.0,
        "realized_gain": -12.5,
        "term": Term.LONG,
        "tax": -2.5,
    }
    assert new_record(LotSale, sale) == LotSale(**sale)  # type: ignore[arg-type]
    reason = Reason(kind="buy", security=1, security_id="IVV", rule="invest_cash", text="t")
    values = {f.name: getattr(reason, f.name) for f in dataclasses.fields(Reason)}
    rebuilt = new_record(Reason, values)
    assert rebuilt == reason and repr(rebuilt) == repr(reason)
    with pytest.raises(dataclasses.FrozenInstanceError):
        rebuilt.text = "x"  # type: ignore[misc]
