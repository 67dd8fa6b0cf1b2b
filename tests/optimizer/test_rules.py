"""Tiny hand-checkable problems, one per rule of docs/optimizer.md.

Each case is small enough to reason about by hand; the comment above each assertion gives the
derivation. Risk aversion is set high where the test wants the drift to be closed, so the tax
and cost terms only decide *which* lots go, not *whether* to trade.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any

import numpy as np

from optimizer import (
    EquivalenceGroup,
    Mode,
    Problem,
    RecentTrade,
    RiskModel,
    Settings,
    Side,
    Solution,
    Status,
    solve,
    solve_continuous,
)
from tests.optimizer.factories import AS_OF, tiny

HIGH_RISK = 1000.0


def _lot_shares(sol: Solution) -> dict[int, float]:
    return {s.lot_id: s.shares for s in sol.lot_sales}


def _trade(sol: Solution, security: str) -> tuple[str, float] | None:
    for t in sol.trades:
        if t.security_id == security:
            return str(t.side), t.shares
    return None


def _base(p: Problem) -> float:
    return p.base_value


# --- holding period ---------------------------------------------------------------------


def test_long_term_lot_is_sold_before_the_short_term_lot() -> None:
    # A $100, two lots of 100 shares, each with a $5,000 gain: lot 1 LT (2017), lot 2 ST.
    # Target moves 75 % into B, so $15,000 of A (150 shares) must go. Tax per $ sold:
    # LT 0.20 * 0.5 = 0.10 < ST 0.37 * 0.5 = 0.185, so the whole LT lot goes first.
    p = tiny(
        [100.0, 50.0],
        [0.25, 0.75],
        [(0, 100, 5000.0, "2017-01-03"), (0, 100, 5000.0, "2018-09-03")],
        settings=Settings(risk_aversion=HIGH_RISK),
    )
    sol = solve(p)
    assert sol.status == Status.OPTIMAL
    sold = _lot_shares(sol)
    assert sold.get(1) == 100.0
    assert 0 < sold.get(2, 0.0) < 100.0
    assert {s.lot_id: str(s.term) for s in sol.lot_sales} == {1: "LT", 2: "ST"}


# --- harvesting and wash sales ------------------------------------------------------------


def _harvest_problem(**kw: object) -> Problem:
    # A at $100: lot 1 a $5,000 LT loss, lot 2 a $2,000 LT gain. A2 is a substitute for A
    # (not substantially identical). Holdings are on target, so only tax moves trades:
    # selling lot 1 saves 0.20 * 5000 = $1,000 of tax; a substitute keeps the exposure.
    base: dict[str, Any] = {
        "settings": Settings(risk_aversion=HIGH_RISK),
        "equivalence_groups": (EquivalenceGroup(members=(0, 1), name="A family"),),
        "cost_rates": np.array([0.0005, 0.0005]),
    }
    base.update(kw)
    return tiny(
        [100.0, 80.0],
        [1.0, 0.0],
        [(0, 100, 15000.0, "2017-06-01"), (0, 100, 8000.0, "2017-06-01")],
        **base,
    )


def test_loss_lot_is_harvested_and_the_substitute_keeps_the_exposure() -> None:
    sol = solve(_harvest_problem())
    assert sol.status == Status.OPTIMAL
    assert _lot_shares(sol) == {1: 100.0}
    buy = _trade(sol, "B")
    assert buy is not None and buy[0] == "buy"
    # 100 shares of A at $100 = $10,000 of proceeds buy 125 shares of A2 at $80 (whole
    # shares, cost included): at most 124.
    assert 120 <= buy[1] <= 125
    sale = sol.lot_sales[0]
    assert sale.realized_gain == -5000.0 and str(sale.term) == "LT"
    assert sale.tax == -1000.0
    texts = [r.text for r in sol.reasons]
    assert "sell lot 1: harvest $5,000 loss, LT" in texts
    buy_reason = next(r for r in sol.reasons if r.kind == "buy")
    assert buy_reason.rule == "substitute_wash_sale"
    assert buy_reason.instead_of == "A"
    assert buy_reason.window_end == AS_OF + dt.timedelta(days=30)


def test_recent_buy_blocks_the_loss_sale_but_not_the_gain_lot() -> None:
    trade = RecentTrade(0, AS_OF - dt.timedelta(days=10), Side.BUY)
    # Also push A overweight so that selling is wanted: target 50 % A, 50 % cash-like C.
    p = tiny(
        [100.0, 80.0, 50.0],
        [0.5, 0.0, 0.5],
        [(0, 100, 15000.0, "2017-06-01"), (0, 100, 8000.0, "2017-06-01")],
        settings=Settings(risk_aversion=HIGH_RISK),
        recent_trades=(trade,),
    )
    sol = solve(p)
    sold = _lot_shares(sol)
    assert 1 not in sold  # the loss lot is blocked
    assert sold.get(2, 0.0) > 0  # the gain lot carries the sale
    blocked = [b for b in sol.blocked if b.what == "loss_sale"]
    assert blocked[0].security_id == "A"
    assert blocked[0].window_end == AS_OF + dt.timedelta(days=20)


def _blocked_buy_problem(household: bool) -> Problem:
    # All cash; A was sold at a loss 5 days ago, so it cannot be bought for 30 days: the
    # substitute A2 ("B") is bought instead to meet the A family's 90 % target.
    trade = RecentTrade(
        0, AS_OF - dt.timedelta(days=5), Side.SELL, realized_loss=True, household=household
    )
    return tiny(
        [100.0, 80.0],
        [0.9, 0.0],
        [],
        cash=100_000.0,
        settings=Settings(risk_aversion=HIGH_RISK),
        recent_trades=(trade,),
        equivalence_groups=(EquivalenceGroup(members=(0, 1)),),
    )


def test_loss_sale_window_blocks_the_buy_and_the_substitute_is_bought() -> None:
    sol = solve(_blocked_buy_problem(household=False))
    assert _trade(sol, "A") is None
    side, shares = _trade(sol, "B") or ("", 0.0)
    assert side == "buy"
    # 90 % of $100,000 at $80 = 1,125 shares (whole shares, no costs here).
    assert 1120 <= shares <= 1125
    reason = next(r for r in sol.reasons if r.kind == "buy")
    end = AS_OF + dt.timedelta(days=25)
    assert reason.text == f"buy B instead of A: wash-sale window until {end.isoformat()}"
    assert reason.window_end == end
    assert [b.rule for b in sol.blocked] == ["wash_sale"]


def test_household_loss_sale_opens_the_same_window() -> None:
    sol = solve(_blocked_buy_problem(household=True))
    assert _trade(sol, "A") is None
    assert _trade(sol, "B") is not None
    assert [b.rule for b in sol.blocked] == ["wash_sale_household"]


def test_no_security_is_bought_and_sold_in_one_rebalance() -> None:
    # Without a substitute, the continuous optimum sells the loss lot and buys A back (tax
    # benefit > 2 * cost); the repair must pick one side.
    p = tiny(
        [100.0, 50.0],
        [0.95, 0.0],
        [(0, 100, 15000.0, "2017-06-01"), (1, 10, 400.0, "2017-06-01")],
        settings=Settings(risk_aversion=HIGH_RISK),
        cost_rates=np.array([0.0005, 0.0005]),
    )
    cont = solve_continuous(p)
    assert cont.buys[0] > 1e-4 and cont.sells[0] > 1e-4  # the conflict exists
    sol = solve(p)
    sides = {t.security_id: str(t.side) for t in sol.trades}
    assert len(sides) == len(sol.trades)
    assert sol.diagnostics.direction_fixes >= 1
    assert not (_lot_shares(sol) and sides.get("A") == "buy")


# --- restrictions -------------------------------------------------------------------------


def test_restricted_lists_are_respected() -> None:
    # A underweight but never-buy; B overweight but never-sell; C do-not-trade and off target.
    p = tiny(
        [10.0, 10.0, 10.0, 10.0],
        [0.5, 0.0, 0.0, 0.5],
        [(1, 500, 4000.0, "2017-01-03"), (2, 500, 6000.0, "2017-01-03")],
        cash=10_000.0,
        settings=Settings(risk_aversion=HIGH_RISK),
        never_buy=np.array([True, False, False, False]),
        never_sell=np.array([False, True, False, False]),
        do_not_trade=np.array([False, False, True, False]),
    )
    sol = solve(p)
    traded = {t.security_id for t in sol.trades}
    assert traded == {"D"}  # only the unrestricted security moves
    assert sorted(b.rule for b in sol.blocked) == ["do_not_trade", "never_buy", "never_sell"]


# --- budgets and caps ----------------------------------------------------------------------


def test_gain_budget_binds() -> None:
    # All in A with a $50/share LT gain; target all in B. Without a budget everything goes.
    # With a $1,000 budget (none used this year) at most 20 shares can be sold.
    p = tiny(
        [100.0, 100.0],
        [0.0, 1.0],
        [(0, 100, 5000.0, "2017-01-03")],
        settings=Settings(risk_aversion=HIGH_RISK, gain_budget=1000.0),
    )
    sol = solve(p)
    assert sol.realized_gain <= 1000.0
    assert sol.realized_gain >= 950.0  # 19 or 20 shares: the budget binds
    assert "gain_budget" in sol.diagnostics.binding
    # Gains already realized this year use the budget up: then nothing can be sold.
    used = dataclasses.replace(p, realized_gain_ytd=1500.0)
    assert solve(used).lot_sales == ()


def test_tax_budget_counts_harvested_losses() -> None:
    # A: $100/share LT gain (basis 0); B: $5,000 LT loss. Target all in C. Tax budget $600:
    # net tax 0.20 * (100 a - 5,000) <= 600 allows a = 80 shares of A, but only if B's loss
    # is harvested in full (without it: 30 shares).
    p = tiny(
        [100.0, 100.0, 100.0],
        [0.0, 0.0, 1.0],
        [(0, 100, 0.0, "2017-01-03"), (1, 100, 15000.0, "2017-01-03")],
        settings=Settings(risk_aversion=HIGH_RISK, tax_budget=600.0),
    )
    sol = solve(p)
    assert sol.tax <= 600.0 + 1e-6
    sold = _lot_shares(sol)
    assert sold.get(2) == 100.0
    assert 79.0 <= sold.get(1, 0.0) <= 80.0
    assert "tax_budget" in sol.diagnostics.binding


def test_turnover_cap_binds() -> None:
    # All in A, target all in B: a full switch is 200 % turnover; the cap allows 20 %.
    p = tiny(
        [10.0, 10.0],
        [0.0, 1.0],
        [(0, 10_000, 100_000.0, "2017-01-03")],
        settings=Settings(risk_aversion=HIGH_RISK, turnover_max=0.2),
    )
    sol = solve(p)
    assert sol.status == Status.OPTIMAL
    assert 0.19 <= sol.turnover <= 0.2 + 1e-9
    assert "turnover" in sol.diagnostics.binding


def test_cash_target_is_kept() -> None:
    # Fully invested in A, target 95 % B with a 5 % cash target: 5 % must stay in cash.
    p = tiny(
        [10.0, 10.0],
        [0.0, 0.95],
        [(0, 10_000, 100_000.0, "2017-01-03")],
        settings=Settings(risk_aversion=HIGH_RISK, cash_target=0.05),
    )
    sol = solve(p)
    assert sol.cash_after >= 0.05 * _base(p) - 1e-6
    assert sol.cash_after <= 0.05 * _base(p) + 20.0  # rounding leaves at most ~2 shares


def test_withdrawal_is_raised_from_the_cheapest_lots() -> None:
    # $10,000 withdrawal from a $100,000 account. Lot 1 is a loss (selling saves tax), lot 2
    # an LT gain, lot 3 an ST gain, lot 4 no gain. With a tiny risk aversion tax decides:
    # the loss lot ($20,000) is sold whole (its loss is worth harvesting) and covers it.
    p = tiny(
        [100.0, 100.0],
        [0.5, 0.5],
        [
            (0, 200, 25_000.0, "2017-01-03"),
            (1, 250, 10_000.0, "2017-01-03"),
            (1, 250, 10_000.0, "2018-12-03"),
            (0, 300, 30_000.0, "2017-01-03"),
        ],
        withdrawal=10_000.0,
        settings=Settings(risk_aversion=1e-3, mode=Mode.RAISE_CASH),
    )
    sol = solve(p)
    assert sol.cash_after >= 10_000.0 - 1e-6
    assert set(_lot_shares(sol)) == {1}
    assert all(str(t.side) == "sell" for t in sol.trades)


def test_contribution_is_invested_without_selling() -> None:
    # $50,000 new cash into an account that also holds an overweight A: invest_cash mode buys
    # B and never sells A.
    p = tiny(
        [100.0, 100.0],
        [0.3, 0.7],
        [(0, 500, 40_000.0, "2017-01-03")],
        cash=50_000.0,
        settings=Settings(risk_aversion=HIGH_RISK, mode=Mode.INVEST_CASH),
    )
    sol = solve(p)
    assert sol.lot_sales == ()
    side, shares = _trade(sol, "B") or ("", 0.0)
    assert side == "buy" and shares >= 495  # ~$49,500+ of the $50,000 goes in
    assert 0 <= sol.cash_after < 600.0


def test_minimum_trade_size_drops_small_trades() -> None:
    # B is $50 under target: without a minimum it is bought; with a $100 minimum it is not.
    p = tiny(
        [10.0, 10.0],
        [0.5, 0.5],
        [(0, 500, 5000.0, "2017-01-03"), (1, 495, 4950.0, "2017-01-03")],
        cash=50.0,
        settings=Settings(risk_aversion=HIGH_RISK),
    )
    assert _trade(solve(p), "B") is not None
    strict = dataclasses.replace(p, settings=Settings(risk_aversion=HIGH_RISK, min_trade=100.0))
    assert solve(strict).trades == ()


def test_whole_shares_unless_fractional_is_allowed() -> None:
    p = tiny([333.0], [1.0], [], cash=10_000.0, settings=Settings(risk_aversion=HIGH_RISK))
    whole = _trade(solve(p), "A")
    assert whole is not None and whole[1] == 30.0  # floor(10,000 / 333)
    frac = dataclasses.replace(
        p, settings=Settings(risk_aversion=HIGH_RISK, fractional_shares=True, share_decimals=3)
    )
    fractional = _trade(solve(frac), "A")
    assert fractional is not None and 30.0 < fractional[1] <= 10_000.0 / 333.0


# --- equivalence sets ----------------------------------------------------------------------


def test_legacy_substitute_with_a_large_gain_is_kept() -> None:
    # The account holds only B (rank 1 substitute of A) with a huge gain; the target is A.
    # As one equivalence unit the drift is zero, so nothing is sold; without the group, the
    # high risk aversion sells B to buy A.
    lots = [(1, 1000, 1000.0, "2012-01-03")]
    grouped = tiny(
        [100.0, 100.0],
        [1.0, 0.0],
        lots,
        settings=Settings(risk_aversion=HIGH_RISK),
        equivalence_groups=(EquivalenceGroup(members=(0, 1)),),
    )
    assert solve(grouped).trades == ()
    ungrouped = dataclasses.replace(grouped, equivalence_groups=())
    side, shares = _trade(solve(ungrouped), "B") or ("", 0.0)
    # The continuous optimum leaves a residual drift of ~5e-5 (tax 0.198 per weight against
    # a marginal risk of 4000 * drift), i.e. 0.99995 of the lot; gain lots round down.
    assert side == "sell" and shares >= 990.0


# --- failure ladder ------------------------------------------------------------------------


def test_withdrawal_beyond_the_turnover_cap_relaxes_the_cap() -> None:
    p = tiny(
        [10.0],
        [1.0],
        [(0, 10_000, 100_000.0, "2017-01-03")],
        withdrawal=20_000.0,
        settings=Settings(risk_aversion=1.0, turnover_max=0.05),
    )
    sol = solve(p)
    assert sol.status == Status.RELAXED
    assert sol.diagnostics.relaxed == ("turnover",)
    assert sol.cash_after >= 20_000.0 - 1e-6


def test_unreachable_cash_requirement_is_infeasible_with_no_trade() -> None:
    p = tiny(
        [10.0],
        [1.0],
        [(0, 1000, 10_000.0, "2017-01-03")],
        cash=1000.0,
        withdrawal=5000.0,
        never_sell=np.array([True]),
    )
    sol = solve(p)
    assert sol.status == Status.INFEASIBLE
    assert sol.trades == () and sol.lot_sales == ()
    assert "cannot be met" in sol.diagnostics.message


def test_solver_failure_falls_back_to_no_trade() -> None:
    p = tiny(
        [10.0, 10.0],
        [0.0, 1.0],
        [(0, 1000, 10_000.0, "2017-01-03")],
        settings=Settings(risk_aversion=HIGH_RISK, max_iter=1),
    )
    sol = solve(p)
    assert sol.status == Status.FALLBACK
    assert sol.trades == ()
    assert "needs review" in sol.diagnostics.message
    assert "Solved" not in sol.diagnostics.solver_statuses


# --- tracking-error cap --------------------------------------------------------------------


def test_tracking_error_cap_binds() -> None:
    # One factor; A and B load 1 and 0.5. All in A, target all in B. Taxes are huge and risk
    # aversion tiny, so without the cap nothing trades; the cap forces trades until the
    # active risk is at most 2 %/yr.
    rm = RiskModel(
        loadings=np.array([[1.0], [0.5]]),
        factor_cov=np.array([[0.04]]),
        specific_var=np.array([0.02, 0.02]),
    )
    p = tiny(
        [10.0, 10.0],
        [0.0, 1.0],
        [(0, 10_000, 1_000.0, "2018-12-03")],
        risk_model=rm,
        settings=Settings(risk_aversion=1e-6, te_max=0.02, fractional_shares=True),
    )
    assert solve(dataclasses.replace(p, settings=Settings(risk_aversion=1e-6))).trades == ()
    cont = solve_continuous(p)
    assert cont.converged
    assert cont.terms.tracking_error <= 0.02 + 1e-7
    assert cont.terms.tracking_error >= 0.02 - 1e-5  # binding, not slack
    assert "tracking_error" in cont.binding
    sol = solve(p)
    assert sol.objective_before.tracking_error > 0.1
    assert sol.objective_after.tracking_error <= 0.02 + 1e-4
