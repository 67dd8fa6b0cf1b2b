"""Wash-sale windows: both directions, household trades, identical classes, window edges."""

import datetime as dt

import numpy as np

from optimizer.types import EquivalenceGroup, RecentTrade, Side
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
