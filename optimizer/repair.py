"""Direction conflicts at the continuous optimum (docs/optimizer.md section 6, step 5).

- ``find_conflicts``: securities both bought and sold, and wash-sale classes with a loss sale
  and a buy; says which side to fix at zero for the re-solve (the larger side kept).
- ``loss_conflicts``: the loss-harvest conflicts, whose other direction (forbid the buys) the
  repair also tries.
- ``net_conflicts`` / ``drop_class_conflicts``: the cheap alternative to a re-solve.

Rounding to tradable quantities is ``optimizer.rounding``.
"""

from __future__ import annotations

import numpy as np

from optimizer.objective import sells_of
from optimizer.rules import Prepared
from optimizer.types import BoolArray, FloatArray


def find_conflicts(
    prep: Prepared, x: FloatArray, b: FloatArray, eps: float
) -> tuple[BoolArray, BoolArray, int]:
    """Lots and buys to fix at zero, and how many conflicts that resolves.

    ``x`` ``(L,)`` lot fractions, ``b`` ``(n,)`` buy weights. A security bought and sold keeps
    its larger side; then, per wash-sale class, loss sales and buys of different members keep
    the larger class total.
    """
    problem = prep.problem
    n = problem.n_securities
    lot_sec = prep.lot_sec
    sells = sells_of(prep, x)
    both = (b > eps) & (sells > eps)
    keep_buy = both & (b >= sells)
    keep_sell = both & ~keep_buy
    fix_lots = keep_buy[lot_sec] & (x > 0)
    fix_buys = keep_sell.copy()
    count = int(both.sum())
    if any(g.substantially_identical for g in problem.equivalence_groups):
        cls = prep.wash.classes
        x2 = np.where(fix_lots, 0.0, x)
        b2 = np.where(fix_buys, 0.0, b)
        loss = prep.tax.gain < 0
        loss_sold = np.bincount(
            lot_sec, weights=np.where(loss, prep.lot_weight * x2, 0), minlength=n
        )
        cls_loss = np.bincount(cls, weights=loss_sold, minlength=n)
        cls_buy = np.bincount(cls, weights=b2, minlength=n)
        conflict = (cls_loss > eps) & (cls_buy > eps)
        for c in np.flatnonzero(conflict).tolist():
            members = cls == c
            if cls_buy[c] >= cls_loss[c]:
                fix_lots |= members[lot_sec] & loss & (x2 > 0)
            else:
                fix_buys |= members & (b2 > 0)
            count += 1
    return fix_lots, fix_buys, count


def loss_conflicts(prep: Prepared, x: FloatArray, b: FloatArray, eps: float) -> BoolArray:
    """``(n,)`` securities whose wash-sale class has a loss sale above ``eps`` (same security
    or a substantially identical one) and a buy above ``eps``: the conflicts where keeping the
    larger side (``find_conflicts``) may give up a loss harvest. Forbidding their buys keeps
    every loss sale, and a substitute can take the buy."""
    n = prep.problem.n_securities
    cls = prep.wash.classes
    loss = prep.tax.gain < 0
    loss_sold = np.bincount(
        prep.lot_sec, weights=np.where(loss, prep.lot_weight * x, 0.0), minlength=n
    )
    cls_loss = np.bincount(cls, weights=loss_sold, minlength=n)
    cls_buy = np.bincount(cls, weights=np.where(b > eps, b, 0.0), minlength=n)
    result: BoolArray = (cls_loss[cls] > eps) & (cls_buy[cls] > eps)
    return result


def net_conflicts(
    prep: Prepared, x: FloatArray, b: FloatArray, eps: float
) -> tuple[FloatArray, FloatArray]:
    """Remove buy/sell conflicts without a re-solve, keeping every weight unchanged.

    For a security both bought and sold, the smaller side is cancelled against the larger:
    buy-dominant -> its lot sales are undone and the buy reduced by the same weight;
    sell-dominant -> the buy is undone and the sales reduced by the same weight, lots with the
    highest tax per $ first. Weights w are unchanged and cash rises by 2 * kappa * netted
    weight, so only the budgets can move (restored by ``round_trades``).
    """
    x = x.copy()
    b = b.copy()
    sells = sells_of(prep, x)
    both = (b > eps) & (sells > eps)
    if not both.any():
        return x, b
    lot_sec = prep.lot_sec
    m = prep.lot_weight
    buy_dom = both & (b >= sells)
    x[buy_dom[lot_sec]] = 0.0
    b[buy_dom] -= sells[buy_dom]
    sell_dom = both & ~buy_dom
    tax_per_weight = np.divide(
        prep.obj_tax_coef + prep.wait_coef, m, out=np.zeros_like(m), where=m > 0
    )
    for i in np.flatnonzero(sell_dom).tolist():
        left = float(b[i])
        b[i] = 0.0
        lots = np.flatnonzero((lot_sec == i) & (x > 0))
        order = lots[np.lexsort((lots, -tax_per_weight[lots]))]
        for lot in order.tolist():
            if left <= 0:
                break
            cut = min(left, float(x[lot] * m[lot]))
            x[lot] -= cut / m[lot]
            left -= cut
    return x, np.maximum(b, 0.0)


def drop_class_conflicts(prep: Prepared, x: FloatArray, b: FloatArray, eps: float) -> FloatArray:
    """Buys ``(n,)`` with every buy removed from wash-sale classes that have a loss sale."""
    problem = prep.problem
    if not any(g.substantially_identical for g in problem.equivalence_groups):
        return b
    n = problem.n_securities
    cls = prep.wash.classes
    loss = prep.tax.gain < 0
    loss_sold = np.bincount(
        prep.lot_sec, weights=np.where(loss, prep.lot_weight * x, 0.0), minlength=n
    )
    cls_loss = np.bincount(cls, weights=loss_sold, minlength=n)
    result: FloatArray = np.where(cls_loss[cls] > eps, 0.0, b)
    return result
