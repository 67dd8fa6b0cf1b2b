"""Wash-sale windows: which securities may not be loss-sold or bought on the as-of date.

Rules (docs/optimizer.md section 3): a trade is in window if |as_of - trade_date| <= 30 days.
An in-window BUY of any security in the wash-sale class of i blocks loss sales of i; an in-window
loss SALE in the class blocks buys of i. The class of i is i plus the members of a
``substantially_identical`` equivalence group containing i.

A purchase is not its own replacement: when every in-window buy of a class names one held lot
(``RecentTrade.lot_id``, this account's buys on or before as_of), that lot may be sold at a loss
(no other purchase of the class falls in its window; later buys are blocked by the sale) while
every other lot of the class stays blocked.
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
    lot_loss_sale_blocked: BoolArray
    """``(L,)`` True: the lot may not be sold at a loss. ``loss_sale_blocked`` of its security,
    except for a lot whose own purchase is the only in-window buy of its class (False).
    ``loss_sale_blocked[i]`` is False when that exempt lot is the only lot of i with a loss
    (``value - cost_basis < 0``), so the per-security flag is exact for every loss lot of i
    whenever it is False, and conservative otherwise."""


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
    lot_sec = problem.lots.security.astype(np.int64)
    lot_blocked = loss_blocked[lot_sec]
    exempt = own_purchase_lots(problem, cls) if loss_end else []
    if exempt:
        # the same gain as optimizer.tax.lot_tax: value - cost basis (negative = loss)
        loss_lot = problem.lot_values - problem.lots.cost_basis < 0.0
        for pos in exempt:
            lot_blocked[pos] = False
            sec = int(lot_sec[pos])
            others = (lot_sec == sec) & loss_lot
            others[pos] = False
            if not bool(others.any()):
                loss_blocked[sec] = False
                loss_end.pop(sec, None)
    return WashSaleBlocks(
        loss_sale_blocked=loss_blocked,
        buy_blocked=buy_blocked,
        loss_sale=tuple(loss_end[k] for k in sorted(loss_end)),
        buy=tuple(buy_end[k] for k in sorted(buy_end)),
        classes=cls,
        lot_loss_sale_blocked=lot_blocked,
    )


def own_purchase_lots(problem: Problem, cls: IntArray | None = None) -> list[int]:
    """Positions (in ``Problem.lots``) of lots whose own purchase is the only in-window buy of
    their wash-sale class, ascending.

    A lot qualifies when every in-window buy of its class is a buy of this account
    (``household=False``) dated on or before as_of whose ``lot_id`` names it. Selling it at a
    loss then has no replacement purchase within 30 days before (a purchase is not its own
    replacement, docs/optimizer.md section 3); a buy after the sale is blocked by the sale.
    """
    if cls is None:
        cls = wash_classes(problem)
    named: dict[int, set[tuple[int, int] | None]] = {}
    for trade in problem.recent_trades:
        if trade.side != Side.BUY or not in_window(trade.trade_date, problem.as_of):
            continue
        lot = trade.lot_id
        key: tuple[int, int] | None = None
        if lot is not None and not trade.household and trade.trade_date <= problem.as_of:
            key = (int(lot), int(trade.security))
        named.setdefault(int(cls[trade.security]), set()).add(key)
    single = [next(iter(keys)) for _, keys in sorted(named.items()) if len(keys) == 1]
    wanted = [key for key in single if key is not None]
    if not wanted:
        return []
    position = {int(lot): k for k, lot in enumerate(problem.lots.lot_id.tolist())}
    out: list[int] = []
    for lot, sec in wanted:
        pos = position.get(lot)
        if pos is not None and int(problem.lots.security[pos]) == sec:
            out.append(pos)
    return sorted(out)
