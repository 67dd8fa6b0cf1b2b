"""Issue 17, defect 7: every reason's rule is true of its own numbers, on bench accounts.

The checker (``bench.checks.false_reasons``) recomputes drift, net realized gain and cash from
the problem and the solution. Before the fix, 94 of 1,602 "harvest losses" sales netted a gain
and most "reduce drift" trades of direct-index accounts increased their own drift.
"""

from __future__ import annotations

import dataclasses

import pytest

from optimizer import Side, solve
from optimizer_lab.bench.cases import CASES, make_account
from optimizer_lab.bench.checks import false_reasons

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
