"""From continuous trades to tradable quantities (docs/optimizer.md section 6, step 6).

``round_trades``: whole (or fractional) shares, solver noise dropped, minimum trade size, one
side per security, then restore the hard constraints (cash requirement, budgets) and the caps
rounding may break, in a fixed order. Deterministic: every ordering is a stable sort on
(key, index).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from optimizer.rules import Prepared
from optimizer.types import BoolArray, FloatArray

X_ONE = 1.0 - 1e-9
"""x at or above this sells the whole lot."""
X_ZERO = 1e-9
"""x below this sells nothing."""
SHARE_TOL = 1e-9
"""Shares: tolerance when flooring/ceiling a continuous quantity."""
CASH_TOL = 1e-9
"""$ per $ of base value: cash may miss its requirement by at most CASH_TOL * B (float noise)."""
MAX_PASSES = 50
DUST_WEIGHT = 1e-7
"""A continuous lot sale or buy below this weight (the direction-fixing threshold) is solver
noise and is not traded: rounding it up to a share would trade for nothing (issue 17)."""
DUST_QUANTUM = 0.5
"""A loss lot is rounded up to the next quantum (share) only when its continuous sale is at
least this fraction of a quantum; a smaller sale is rounded to nothing."""


@dataclass(frozen=True, eq=False)
class RoundedTrades:
    sell_shares: FloatArray
    """``(L,)`` shares sold per lot."""
    buy_shares: FloatArray
    """``(n,)`` shares bought per security."""
    failure: str
    """Empty if every hard constraint holds; else what could not be restored."""


def _floor(v: FloatArray, quantum: float) -> FloatArray:
    result: FloatArray = np.floor(v / quantum + SHARE_TOL) * quantum
    return result


def _ceil(v: FloatArray, quantum: float) -> FloatArray:
    result: FloatArray = np.ceil(v / quantum - SHARE_TOL) * quantum
    return result


def round_trades(
    prep: Prepared,
    x: FloatArray,
    b: FloatArray,
    *,
    budgets_on: bool,
    fixed_lots: BoolArray,
    turnover_on: bool = True,
    turnover_excess: float = 0.0,
) -> RoundedTrades:
    """Round the continuous trades and restore cash and budgets (section 6 step 6).

    ``budgets_on`` / ``turnover_on``: whether those constraints are in force (not dropped by
    the ladder). ``turnover_excess``: by how much the interior-point solution exceeded a
    relaxed turnover cap (weight units); rounding keeps the cap at that relaxed level (a
    relaxed budget is dropped instead, ``budgets_on=False``: it is left to the cash
    requirement, which is hard).
    """
    problem = prep.problem
    settings = problem.settings
    n = problem.n_securities
    lots = problem.lots
    q = lots.shares
    price = problem.prices
    lot_sec = prep.lot_sec
    lot_price = price[lot_sec]
    gain_ps = prep.tax.gain / q  # $ gain per share sold
    tax_ps = prep.tax.tax / q
    kappa = prep.kappa
    quantum = 10.0 ** (-settings.share_decimals) if settings.fractional_shares else 1.0
    base = prep.base

    # --- round in the safe direction
    dust = (x < X_ZERO) | ((x < X_ONE) & (x * prep.lot_weight < DUST_WEIGHT))
    v = np.where(dust, 0.0, x) * q
    loss_up = np.where(v >= DUST_QUANTUM * quantum, _ceil(v, quantum), 0.0)
    sell = np.where(
        gain_ps > 0,
        _floor(v, quantum),
        np.where(gain_ps < 0, loss_up, np.round(v / quantum) * quantum),
    )
    sell = np.where(x >= X_ONE, q, np.minimum(sell, q))
    sell = np.where(sell >= q - SHARE_TOL * quantum, q, sell)
    sell = np.where(prep.sellable & ~fixed_lots, sell, 0.0)
    buy_sh = np.where(b >= DUST_WEIGHT, _floor(np.maximum(b, 0) * base / price, quantum), 0.0)
    buy_sh = np.where(prep.buyable, buy_sh, 0.0)

    loss_lot = prep.tax.gain < 0
    cls = prep.wash.classes
    min_trade = settings.min_trade
    gain_room = prep.gain_room if budgets_on else None
    tax_room = prep.tax_room if budgets_on else None
    # Cash may miss its requirement by float noise (CASH_TOL * B) but is never negative.
    cash_need = max(prep.cash_req - CASH_TOL, 0.0) * base
    cap = settings.turnover_max
    turnover_cap = (cap + turnover_excess) * base if (turnover_on and cap is not None) else None
    held_sh = np.bincount(lot_sec, weights=q, minlength=n)
    hi_sh = np.where(np.isfinite(prep.hi_eff), prep.hi_eff * base / price, np.inf)
    lot_order_gain = np.lexsort((np.arange(len(q)), -gain_ps))  # largest gain/share first
    lot_order_cheap = np.lexsort((np.arange(len(q)), tax_ps / lot_price, ~(gain_ps <= 0)))

    def exclusive(sell: FloatArray, buy_sh: FloatArray) -> tuple[FloatArray, FloatArray]:
        """One side per security, and no buy in a wash-sale class with a loss sale: the larger
        side in $ is kept (ties: the sale), so rounding a tiny sale cannot cost a large buy."""
        proceeds = sell * lot_price
        sold_val = np.bincount(lot_sec, weights=proceeds, minlength=n)
        buy_val = buy_sh * price
        both = (sold_val > 0) & (buy_val > 0)
        keep_buy = both & (buy_val > sold_val)
        sell = np.where(keep_buy[lot_sec], 0.0, sell)
        buy_sh = np.where(both & ~keep_buy, 0.0, buy_sh)
        loss_val = np.bincount(
            lot_sec, weights=np.where(loss_lot, sell * lot_price, 0.0), minlength=n
        )
        cls_loss = np.bincount(cls, weights=loss_val, minlength=n)
        cls_buy = np.bincount(cls, weights=buy_sh * price, minlength=n)
        cls_both = (cls_loss > 0) & (cls_buy > 0)
        keep_cls_buy = cls_both & (cls_buy > cls_loss)
        sell = np.where(keep_cls_buy[cls[lot_sec]] & loss_lot, 0.0, sell)
        buy_sh = np.where((cls_both & ~keep_cls_buy)[cls], 0.0, buy_sh)
        return sell, buy_sh

    def min_trades(sell: FloatArray, buy_sh: FloatArray) -> tuple[FloatArray, FloatArray]:
        if min_trade <= 0:
            return sell, buy_sh
        sell_val = np.bincount(lot_sec, weights=sell * lot_price, minlength=n)
        small_sell = (sell_val > 0) & (sell_val < min_trade)
        sell = np.where(small_sell[lot_sec], 0.0, sell)
        buy_val = buy_sh * price
        buy_sh = np.where(buy_val < min_trade, 0.0, buy_sh)
        return sell, buy_sh

    sell, buy_sh = min_trades(sell, buy_sh)
    sell, buy_sh = exclusive(sell, buy_sh)

    def cash_of(sell: FloatArray, buy_sh: FloatArray) -> float:
        proceeds = sell * lot_price
        return float(
            problem.cash
            + np.sum(proceeds * (1 - kappa[lot_sec]))
            - np.sum(buy_sh * price * (1 + kappa))
        )

    failure = ""
    for _ in range(MAX_PASSES):
        changed = False
        # (a) budgets: reduce gain-lot sales, largest gain per share first.
        for room, per_share in ((gain_room, gain_ps), (tax_room, tax_ps)):
            if room is None:
                continue
            excess = float(np.dot(per_share, sell)) - room
            if excess <= 1e-9 * max(1.0, abs(room)):
                continue
            for lot in lot_order_gain.tolist():
                if excess <= 0:
                    break
                if sell[lot] <= 0 or per_share[lot] <= 0:
                    continue
                cut = min(sell[lot], math.ceil(excess / per_share[lot] / quantum) * quantum)
                # A whole lot holding a fraction keeps whole quanta when partly sold.
                kept = float(_floor(np.array([sell[lot] - cut]), quantum)[0])
                excess -= (sell[lot] - kept) * per_share[lot]
                sell[lot] = kept
                changed = True
        # (b) cash: reduce buys (largest $ first), then add to lots already being sold.
        short = cash_need - cash_of(sell, buy_sh)
        if short > 0:
            buy_order = np.lexsort((np.arange(n), -(buy_sh * price)))
            for i in buy_order.tolist():
                if short <= 0:
                    break
                if buy_sh[i] <= 0:
                    continue
                unit = price[i] * (1 + kappa[i])
                cut = min(buy_sh[i], math.ceil(short / unit / quantum) * quantum)
                buy_sh[i] -= cut
                short -= cut * unit
                changed = True
        if short > 0:
            for lot in lot_order_cheap.tolist():
                if short <= 0:
                    break
                room_sh = q[lot] - sell[lot]
                if sell[lot] <= 0 or room_sh <= 0:
                    continue
                unit = lot_price[lot] * (1 - kappa[lot_sec[lot]])
                add = min(room_sh, math.ceil(short / unit / quantum) * quantum)
                if gain_ps[lot] > 0:
                    for r, per_share in ((gain_room, gain_ps), (tax_room, tax_ps)):
                        if r is None:
                            continue
                        left = r - float(np.dot(per_share, sell))
                        add = min(
                            add, math.floor(max(left, 0) / per_share[lot] / quantum) * quantum
                        )
                if add <= 0:
                    continue
                sell[lot] += add
                if sell[lot] >= q[lot] - SHARE_TOL * quantum:
                    sell[lot] = q[lot]
                short -= add * unit
                changed = True
        # (c) turnover (soft): reduce buys, largest $ first; this only raises cash.
        if turnover_cap is not None:
            over = float(np.sum(sell * lot_price) + np.sum(buy_sh * price)) - turnover_cap
            if over > 0:
                for i in np.lexsort((np.arange(n), -(buy_sh * price))).tolist():
                    if over <= 0:
                        break
                    if buy_sh[i] <= 0:
                        continue
                    cut = min(buy_sh[i], math.ceil(over / price[i] / quantum) * quantum)
                    buy_sh[i] -= cut
                    over -= cut * price[i]
                    changed = True
        # (d) max weights (soft): a security rounded above its cap gives up buy shares, or
        # sells more of a lot it already sells (within the budgets and the turnover cap), so
        # that rounding does not break a cap the continuous trades kept (issue 17, defect 2).
        w_sh = held_sh + buy_sh - np.bincount(lot_sec, weights=sell, minlength=n)
        over_sh = w_sh - hi_sh
        for i in np.flatnonzero(over_sh > SHARE_TOL * quantum).tolist():
            need = math.ceil(over_sh[i] / quantum - SHARE_TOL) * quantum
            if buy_sh[i] > 0:
                cut = min(buy_sh[i], need)
                buy_sh[i] -= cut
                need -= cut
                changed = True
            for lot in lot_order_cheap.tolist():
                if need <= 0:
                    break
                if lot_sec[lot] != i or sell[lot] <= 0:
                    continue
                # whole quanta, or the rest of the lot
                add = min(q[lot] - sell[lot], math.ceil(need / quantum - SHARE_TOL) * quantum)
                for r, per_share in ((gain_room, gain_ps), (tax_room, tax_ps)):
                    if r is not None and per_share[lot] > 0:
                        left = r - float(np.dot(per_share, sell))
                        room_sh = math.floor(max(left, 0) / per_share[lot] / quantum) * quantum
                        add = min(add, room_sh)
                if turnover_cap is not None:
                    left = turnover_cap - float(np.sum(sell * lot_price) + np.sum(buy_sh * price))
                    add = min(add, math.floor(max(left, 0) / lot_price[lot] / quantum) * quantum)
                if add <= 0:
                    continue
                sell[lot] += add
                if sell[lot] >= q[lot] - SHARE_TOL * quantum:
                    sell[lot] = q[lot]
                need -= add
                changed = True
        sell, buy_sh = min_trades(sell, buy_sh)
        sell, buy_sh = exclusive(sell, buy_sh)
        if not changed:
            break
    # Final check of every hard constraint.
    if cash_of(sell, buy_sh) < cash_need:
        failure = "cash requirement"
    for name, room, per_share in (
        ("gain budget", gain_room, gain_ps),
        ("tax budget", tax_room, tax_ps),
    ):
        if room is not None and float(np.dot(per_share, sell)) > room + 1e-6 * max(1.0, abs(room)):
            failure = failure or name
    return RoundedTrades(sell_shares=sell, buy_shares=buy_sh, failure=failure)
