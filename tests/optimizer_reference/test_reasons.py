"""Issue 17, defect 7: every reason's rule is true of its own numbers, on bench accounts.

The checker (``bench.checks.false_reasons``) recomputes drift, net realized gain and cash from
the problem and the solution. Before the fix, 94 of 1,602 "harvest losses" sales netted a gain
and most "reduce drift" trades of direct-index accounts increased their own drift.
"""

from __future__ import annotations

import dataclasses

import pytest

from optimizer import Side, TaxYear, solve
from optimizer_lab.bench.cases import CASES, make_account
from optimizer_lab.bench.checks import false_reasons
from optimizer_lab.reference import objective_terms, solution_point

ACCOUNTS = [(case, a) for case in CASES for a in range(CASES[case].quick_accounts)]


@pytest.mark.parametrize(("case", "account"), ACCOUNTS)
def test_every_reason_is_true_of_its_numbers(case: str, account: int) -> None:
    problem = make_account(case, account)
    sol = solve(problem)
    assert false_reasons(problem, sol) == []


def test_a_direct_index_factor_trade_says_how_much_tracking_error_it_removes() -> None:
    # The failing case: a direct-index buy that increases its own drift was "reduce drift".
    rules: dict[str, int] = {}
    for account in range(CASES["di_1500"].quick_accounts):
        sol = solve(make_account("di_1500", account))
        for r in sol.reasons:
            rules[r.rule] = rules.get(r.rule, 0) + 1
            if r.rule == "reduce_tracking_error" and r.kind != "sell_lot":
                assert r.te_reduced > 0
                assert f"{r.te_reduced * 1e4:.2f} bps" in r.text
    assert rules.get("reduce_tracking_error", 0) > 0


def test_the_checker_catches_a_false_reason() -> None:
    # The checker itself can fail: relabel the buys that widen their own drift as reduce_drift.
    problem = make_account("di_1500", 0)
    sol = solve(problem)
    bad = [
        dataclasses.replace(r, rule="reduce_drift") if r.kind == "buy" and r.drift_closed < 0 else r
        for r in sol.reasons
    ]
    assert any(t.side == Side.BUY for t in sol.trades)
    assert false_reasons(problem, dataclasses.replace(sol, reasons=tuple(bad)))


TAX_YEARS = [
    TaxYear(),
    TaxYear(gain_ytd_short=20_000.0, gain_ytd_long=-5_000.0, outside_gain_long=10_000.0),
    TaxYear(carryforward_short=15_000.0, carryforward_long=40_000.0),
]


@pytest.mark.parametrize("year", range(len(TAX_YEARS)))
@pytest.mark.parametrize("case", ["model", "di_1500"])
def test_reasons_are_true_of_the_tax_year_numbers(case: str, year: int) -> None:
    """With the account's tax year the reasons' objective figures are the tax-year model's:
    each security's ``objective_reduced`` is the objective of the trade list without that
    security's trade minus the list's, recomputed by the independent reference."""
    problem = make_account(case, 0)
    problem = dataclasses.replace(
        problem,
        tax_year=TAX_YEARS[year],
        settings=dataclasses.replace(problem.settings, anniversary_days=30),
    )
    sol = solve(problem)
    assert false_reasons(problem, sol) == []
    x, b = solution_point(problem, sol)
    with_all = objective_terms(problem, x, b).total
    checked = 0
    for r in sol.reasons:
        if r.kind == "sell_lot" or r.objective_reduced == 0.0:
            continue
        x2, b2 = x.copy(), b.copy()
        b2[r.security] = 0.0
        x2[problem.lots.security == r.security] = 0.0
        without = objective_terms(problem, x2, b2).total
        assert r.objective_reduced == pytest.approx(without - with_all, rel=1e-6, abs=1e-10)
        checked += 1
    assert checked > 0
