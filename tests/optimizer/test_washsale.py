"""Wash-sale windows: both directions, household trades, identical classes, window edges."""

import dataclasses
import datetime as dt
from collections.abc import Sequence

import numpy as np
import pytest

from optimizer import solve
from optimizer.types import EquivalenceGroup, Problem, RecentTrade, Side
from optimizer.washsale import wash_sale_blocks
from tests.optimizer.factories import AS_OF, tiny


def _problem(trades: tuple[RecentTrade, ...], groups: tuple[EquivalenceGroup, ...] = ()):  # type: ignore[no-untyped-def]
    return tiny(
        [10.0, 10.0, 10.0],
        [0.3, 0.3, 0.3],
        [(0, 10, 200.0, "2018-01-02")],
        recent_trades=trades,
        equivalence_groups=groups,
    )


def _days_ago(days: int) -> dt.date:
    return AS_OF - dt.timedelta(days=days)


def test_recent_buy_blocks_loss_sales_only_of_that_security() -> None:
    blocks = wash_sale_blocks(_problem((RecentTrade(0, _days_ago(10), Side.BUY),)))
    np.testing.assert_array_equal(blocks.loss_sale_blocked, [True, False, False])
    assert not blocks.buy_blocked.any()
    assert blocks.loss_sale[0].window_end == _days_ago(10) + dt.timedelta(days=30)


def test_recent_loss_sale_blocks_buys_but_a_gain_sale_does_not() -> None:
    trades = (
        RecentTrade(1, _days_ago(5), Side.SELL, realized_loss=True),
        RecentTrade(2, _days_ago(5), Side.SELL, realized_loss=False),
    )
    blocks = wash_sale_blocks(_problem(trades))
    np.testing.assert_array_equal(blocks.buy_blocked, [False, True, False])
    assert not blocks.loss_sale_blocked.any()


def test_window_is_30_days_inclusive_on_both_sides() -> None:
    for days, blocked in ((30, True), (31, False), (-30, True), (-31, False)):
        blocks = wash_sale_blocks(_problem((RecentTrade(0, _days_ago(days), Side.BUY),)))
        assert bool(blocks.loss_sale_blocked[0]) is blocked, days


def test_household_trade_blocks_and_is_marked() -> None:
    trade = RecentTrade(1, _days_ago(3), Side.SELL, realized_loss=True, household=True)
    blocks = wash_sale_blocks(_problem((trade,)))
    assert blocks.buy_blocked[1]
    assert blocks.buy[0].trade.household


def test_substantially_identical_members_share_windows_others_do_not() -> None:
    identical = EquivalenceGroup(members=(0, 1), substantially_identical=True)
    blocks = wash_sale_blocks(_problem((RecentTrade(1, _days_ago(3), Side.BUY),), (identical,)))
    np.testing.assert_array_equal(blocks.loss_sale_blocked, [True, True, False])
    different = EquivalenceGroup(members=(0, 1), substantially_identical=False)
    blocks = wash_sale_blocks(_problem((RecentTrade(1, _days_ago(3), Side.BUY),), (different,)))
    np.testing.assert_array_equal(blocks.loss_sale_blocked, [False, True, False])


def test_latest_window_end_wins_whatever_the_order_of_trades() -> None:
    early = RecentTrade(0, _days_ago(20), Side.BUY)
    late = RecentTrade(0, _days_ago(2), Side.BUY)
    for trades in ((early, late), (late, early)):
        blocks = wash_sale_blocks(_problem(trades))
        assert blocks.loss_sale[0].window_end == _days_ago(2) + dt.timedelta(days=30)


# --- a purchase is not its own replacement (RecentTrade.lot_id) -----------------------------
#
# Security A (index 0) trades at $10. Lot 1: 10 shares bought 10 days ago for $120 (a $20 loss),
# the only purchase of A in the window. Selling it has no replacement purchase within 30 days
# before, and any buy after the sale is blocked by the sale, so it may be sold at a loss.


def _own(
    lots: Sequence[tuple[int, float, float, str]],
    trades: tuple[RecentTrade, ...],
    groups: tuple[EquivalenceGroup, ...] = (),
    targets: list[float] | None = None,
) -> Problem:
    return tiny(
        [10.0, 10.0, 10.0],
        targets if targets is not None else [0.3, 0.3, 0.3],
        lots,
        recent_trades=trades,
        equivalence_groups=groups,
    )


RECENT = str(_days_ago(10))


def test_the_lot_a_buy_created_may_be_sold_at_a_loss() -> None:
    buy = RecentTrade(0, _days_ago(10), Side.BUY, lot_id=1)
    blocks = wash_sale_blocks(_own([(0, 10, 120.0, RECENT)], (buy,)))
    np.testing.assert_array_equal(blocks.lot_loss_sale_blocked, [False])
    np.testing.assert_array_equal(blocks.loss_sale_blocked, [False, False, False])
    assert blocks.loss_sale == ()
    # the same buy without its lot id blocks, as before
    blocks = wash_sale_blocks(
        _own([(0, 10, 120.0, RECENT)], (RecentTrade(0, _days_ago(10), Side.BUY),))
    )
    np.testing.assert_array_equal(blocks.lot_loss_sale_blocked, [True])
    assert blocks.loss_sale_blocked[0]


def test_older_loss_lot_stays_blocked_by_the_new_purchase() -> None:
    # lot 1: old, 10 shares for $150 (loss $50); lot 2: the new purchase, $120 (loss $20)
    lots = [(0, 10, 150.0, "2018-01-02"), (0, 10, 120.0, RECENT)]
    buy = RecentTrade(0, _days_ago(10), Side.BUY, lot_id=2)
    blocks = wash_sale_blocks(_own(lots, (buy,)))
    np.testing.assert_array_equal(blocks.lot_loss_sale_blocked, [True, False])
    # per security the block stays: a loss lot of A (lot 1) may not be sold
    assert blocks.loss_sale_blocked[0]
    assert blocks.loss_sale[0].security == 0
    # lot 1 at a gain ($80 for $100 of value): every loss lot of A is the exempt one
    blocks = wash_sale_blocks(_own([(0, 10, 80.0, "2018-01-02"), (0, 10, 120.0, RECENT)], (buy,)))
    np.testing.assert_array_equal(blocks.lot_loss_sale_blocked, [True, False])
    assert not blocks.loss_sale_blocked[0]


def test_a_second_purchase_in_the_window_is_a_replacement() -> None:
    lots = [(0, 10, 120.0, RECENT), (0, 5, 60.0, str(_days_ago(3)))]
    trades = (
        RecentTrade(0, _days_ago(10), Side.BUY, lot_id=1),
        RecentTrade(0, _days_ago(3), Side.BUY, lot_id=2),
    )
    blocks = wash_sale_blocks(_own(lots, trades))
    np.testing.assert_array_equal(blocks.lot_loss_sale_blocked, [True, True])
    assert blocks.loss_sale_blocked[0]
    # the same lot named twice is still one purchase
    twice = (trades[0], RecentTrade(0, _days_ago(10), Side.BUY, lot_id=1))
    blocks = wash_sale_blocks(_own([(0, 10, 120.0, RECENT)], twice))
    np.testing.assert_array_equal(blocks.lot_loss_sale_blocked, [False])


def test_a_buy_of_a_substantially_identical_security_is_a_replacement() -> None:
    identical = EquivalenceGroup(members=(0, 1), substantially_identical=True)
    trades = (
        RecentTrade(0, _days_ago(10), Side.BUY, lot_id=1),
        RecentTrade(1, _days_ago(20), Side.BUY, lot_id=2),
    )
    lots = [(0, 10, 120.0, RECENT), (1, 10, 120.0, str(_days_ago(20)))]
    blocks = wash_sale_blocks(_own(lots, trades, (identical,)))
    np.testing.assert_array_equal(blocks.lot_loss_sale_blocked, [True, True])
    # B's purchase alone: B's own lot is exempt, and it is a replacement for A's loss lot
    blocks = wash_sale_blocks(_own(lots, (trades[1],), (identical,)))
    np.testing.assert_array_equal(blocks.lot_loss_sale_blocked, [True, False])
    np.testing.assert_array_equal(blocks.loss_sale_blocked, [True, False, False])


def test_exemption_needs_an_own_held_lot_of_that_security_bought_by_as_of() -> None:
    lots = [(0, 10, 120.0, RECENT), (1, 10, 120.0, RECENT)]
    cases = (
        RecentTrade(0, _days_ago(10), Side.BUY, lot_id=1, household=True),  # another account
        RecentTrade(0, _days_ago(10), Side.BUY, lot_id=99),  # not held (sold or unknown)
        RecentTrade(0, _days_ago(10), Side.BUY, lot_id=2),  # a lot of another security
        RecentTrade(0, _days_ago(-5), Side.BUY, lot_id=1),  # a purchase after as_of
    )
    for trade in cases:
        blocks = wash_sale_blocks(_own(lots, (trade,)))
        assert blocks.lot_loss_sale_blocked[0], trade
        assert blocks.loss_sale_blocked[0], trade


def test_exemption_does_not_lift_buy_blocks_or_apply_outside_the_window() -> None:
    trades = (
        RecentTrade(0, _days_ago(10), Side.BUY, lot_id=1),
        RecentTrade(0, _days_ago(5), Side.SELL, realized_loss=True),
    )
    blocks = wash_sale_blocks(_own([(0, 10, 120.0, RECENT)], trades))
    assert not blocks.lot_loss_sale_blocked[0]
    assert blocks.buy_blocked[0]
    # a purchase 31 days ago is outside the window: nothing is blocked anyway
    old = RecentTrade(0, _days_ago(31), Side.BUY, lot_id=1)
    blocks = wash_sale_blocks(_own([(0, 10, 120.0, str(_days_ago(31)))], (old,)))
    assert not blocks.lot_loss_sale_blocked.any() and not blocks.loss_sale_blocked.any()


def test_engine_harvests_the_lot_its_own_purchase_created() -> None:
    # A is not in the target. Lot 1: old, at a gain ($80 for $100); lot 2: bought 10 days ago,
    # the only purchase of A in the window, at a $20 loss. With its lot id the engine may sell
    # lot 2 at a loss; without, the purchase blocks that loss sale.
    lots = [(0, 10, 80.0, "2018-01-02"), (0, 10, 120.0, RECENT), (1, 10, 100.0, "2018-01-02")]
    problem = _own(
        lots, (RecentTrade(0, _days_ago(10), Side.BUY, lot_id=2),), targets=[0.0, 0.6, 0.0]
    )
    sold = {s.lot_id: s.realized_gain for s in solve(problem).lot_sales}
    assert sold[2] == pytest.approx(-20.0)
    unnamed = dataclasses.replace(problem, recent_trades=(RecentTrade(0, _days_ago(10), Side.BUY),))
    result = solve(unnamed)
    assert 2 not in {s.lot_id for s in result.lot_sales}
    assert any(b.security == 0 and b.what == "loss_sale" for b in result.blocked)
    assert not any(b.security == 0 and b.what == "loss_sale" for b in solve(problem).blocked)


def test_the_own_purchase_lot_is_harvested_beside_an_older_loss_lot() -> None:
    # Issue 17, defect 5: docs section 3 frees lot 2 (its own purchase is the only in-window
    # buy) whatever other loss lots A has; the engine used to free it only when it was A's only
    # loss lot. Lot 1 (old, $50 loss) stays blocked: lot 2's purchase is its replacement.
    lots = [(0, 10, 150.0, "2018-01-02"), (0, 10, 120.0, RECENT), (1, 10, 100.0, "2018-01-02")]
    problem = _own(
        lots, (RecentTrade(0, _days_ago(10), Side.BUY, lot_id=2),), targets=[0.0, 0.6, 0.0]
    )
    sold = {s.lot_id: s.realized_gain for s in solve(problem).lot_sales}
    assert sold.get(2) == pytest.approx(-20.0)
    assert 1 not in sold
