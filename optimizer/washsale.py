"""Wash-sale windows: which securities may not be loss-sold or bought on the as-of date.

Rules (docs/optimizer.md section 3): a trade is in window if |as_of - trade_date| <= 30 days.
An in-window BUY of any security in the wash-sale class of i blocks loss sales of i; an in-window
loss SALE in the class blocks buys of i. The class of i is i plus the members of a
``substantially_identical`` equivalence group containing i.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np

from optimizer.types import WASH_SALE_DAYS, BoolArray, IntArray, Problem, RecentTrade, Side


@dataclass(frozen=True)
class WindowBlock:
    """One security blocked by one wash-sale window (the latest-ending trade wins)."""

    security: int
    window_end: dt.date
    trade: RecentTrade


@dataclass(frozen=True, eq=False)
class WashSaleBlocks:
    loss_sale_blocked: BoolArray
    """``(n,)`` True: lots of the security with a loss may not be sold."""
    buy_blocked: BoolArray
    """``(n,)`` True: the security may not be bought."""
    loss_sale: tuple[WindowBlock, ...]
    """Sorted by security."""
    buy: tuple[WindowBlock, ...]
    """Sorted by security."""
    classes: IntArray
    """``(n,)`` ``wash_classes(problem)``, computed once per problem (read-only)."""


def wash_classes(problem: Problem) -> IntArray:
    """``(n,)`` class id per security: equal ids are substantially identical.

    Id = the smallest security index in the class (deterministic).
    """
    cls = np.arange(problem.n_securities, dtype=np.int64)
    for group in problem.equivalence_groups:
        if group.substantially_identical and group.members:
            members = np.asarray(group.members, dtype=np.int64)
            cls[members] = int(members.min())
    return cls


def in_window(trade_date: dt.date, as_of: dt.date) -> bool:
    return abs((as_of - trade_date).days) <= WASH_SALE_DAYS


def wash_sale_blocks(problem: Problem) -> WashSaleBlocks:
    n = problem.n_securities
    cls = wash_classes(problem)
    loss_end: dict[int, WindowBlock] = {}
    buy_end: dict[int, WindowBlock] = {}
    window = dt.timedelta(days=WASH_SALE_DAYS)
    cls.flags.writeable = False  # shared through ``WashSaleBlocks.classes``
    # Classes with more than one member; a singleton class i is just [i].
    grouped = {int(c) for c in cls[cls != np.arange(n)].tolist()}
    class_members: dict[int, list[int]] = {}
    for trade in problem.recent_trades:
        if not in_window(trade.trade_date, problem.as_of):
            continue
        if trade.side == Side.BUY:
            target = loss_end
        elif trade.realized_loss:
            target = buy_end
        else:
            continue
        end = trade.trade_date + window
        c = int(cls[trade.security])
        members = class_members.get(c)
        if members is None:
            members = np.flatnonzero(cls == c).tolist() if c in grouped else [c]
            class_members[c] = members
        for sec in members:
            current = target.get(sec)
            # Latest window end wins; ties broken by the trade's security index then
            # household flag so the result does not depend on the order of recent_trades.
            key = (end, -trade.security, trade.household)
            if current is None or key > (
                current.window_end,
                -current.trade.security,
                current.trade.household,
            ):
                # == WindowBlock(security=sec, ...) without the frozen __init__'s per-field
                # object.__setattr__ (reasons.new_record; ~125 blocks per DI account).
                blk = object.__new__(WindowBlock)
                blk.__dict__.update(security=sec, window_end=end, trade=trade)
                target[sec] = blk
    loss_blocked = np.zeros(n, dtype=np.bool_)
    buy_blocked = np.zeros(n, dtype=np.bool_)
    if loss_end:
        loss_blocked[np.fromiter(loss_end.keys(), dtype=np.int64)] = True
    if buy_end:
        buy_blocked[np.fromiter(buy_end.keys(), dtype=np.int64)] = True
    return WashSaleBlocks(
        loss_sale_blocked=loss_blocked,
        buy_blocked=buy_blocked,
        loss_sale=tuple(loss_end[k] for k in sorted(loss_end)),
        buy=tuple(buy_end[k] for k in sorted(buy_end)),
        classes=cls,
    )
