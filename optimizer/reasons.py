"""Reasons a program can check and a person can read, one per trade and per lot sale.

Each ``Reason`` carries the numbers (realized gain $, tax $, drift closed in weight, cost $),
the decisive rule, and a sentence such as ``"sell lot 123: harvest $4,210 loss, LT"`` or
``"buy IVV instead of VOO: wash-sale window until 2019-03-04"``.
"""

from __future__ import annotations

import datetime as dt
import math
from typing import TypeVar

import numpy as np

from optimizer.rules import Prepared
from optimizer.types import (
    WASH_SALE_DAYS,
    Blocked,
    FloatArray,
    LotSale,
    Mode,
    Reason,
    SecurityTrade,
    Side,
    Term,
)
from optimizer.washsale import WindowBlock

R = TypeVar("R")


def new_record(cls: type[R], values: dict[str, object]) -> R:
    """An instance of the frozen dataclass ``cls`` with ``values`` (every field, by name).

    Equal to ``cls(**values)`` (no ``__post_init__`` is involved) without the generated
    ``__init__``, which sets each field through ``object.__setattr__``: ~4 us per record,
    most of the cost of assembling thousands of lot sales and reasons.
    """
    obj = object.__new__(cls)
    obj.__dict__.update(values)
    result: R = obj
    return result


def _money_all(x: FloatArray) -> list[str]:
    """``_money`` of every element: whole dollars rounded half-even like ``:.0f``."""
    return [f"${v:,}" for v in np.abs(np.rint(x)).astype(np.int64).tolist()]


def blocked_list(prep: Prepared) -> tuple[Blocked, ...]:
    """Every rule that blocks a trade this run, sorted by (security, what)."""
    ids = prep.problem.security_ids
    items: list[Blocked] = []
    for blk in prep.wash.loss_sale:
        items.append(
            new_record(
                Blocked,
                {
                    "security": blk.security,
                    "security_id": ids[blk.security],
                    "what": "loss_sale",
                    "rule": "wash_sale_household" if blk.trade.household else "wash_sale",
                    "window_end": blk.window_end,
                    "trade_security_id": ids[blk.trade.security],
                },
            )
        )
    for blk in prep.wash.buy:
        items.append(
            new_record(
                Blocked,
                {
                    "security": blk.security,
                    "security_id": ids[blk.security],
                    "what": "buy",
                    "rule": "wash_sale_household" if blk.trade.household else "wash_sale",
                    "window_end": blk.window_end,
                    "trade_security_id": ids[blk.trade.security],
                },
            )
        )
    for mask, what, rule in (
        (prep.do_not_trade, "trade", "do_not_trade"),
        (prep.never_buy & ~prep.do_not_trade, "buy", "never_buy"),
        (prep.never_sell & ~prep.do_not_trade, "sell", "never_sell"),
    ):
        for i in np.flatnonzero(mask).tolist():
            items.append(
                new_record(
                    Blocked,
                    {
                        "security": i,
                        "security_id": ids[i],
                        "what": what,
                        "rule": rule,
                        "window_end": None,
                        "trade_security_id": "",
                    },
                )
            )
    items.sort(key=lambda b: (b.security, b.what, b.rule))
    return tuple(items)


def _unit_drift(prep: Prepared, w: FloatArray) -> FloatArray:
    n_units = len(prep.unit_target)
    result: FloatArray = np.bincount(prep.unit_of, weights=w, minlength=n_units) - prep.unit_target
    return result


_TERM_TEXT: dict[str, str] = {t: str(t) for t in Term}
"""``str(term)`` looked up instead of computed per lot sale."""


def explain(
    prep: Prepared,
    trades: tuple[SecurityTrade, ...],
    sales: tuple[LotSale, ...],
    w_after: FloatArray,
    cash_after: float,
) -> tuple[Reason, ...]:
    """One reason per security trade, then one per lot sale (sorted as the inputs)."""
    problem = prep.problem
    drift_before = np.abs(_unit_drift(prep, prep.holding))
    drift_after = np.abs(_unit_drift(prep, w_after))
    closed = drift_before - drift_after
    hi = prep.hi_eff
    lo = prep.lo_eff
    cash_short = prep.cash0 < prep.cash_req
    mode = problem.settings.mode
    buy_block = {blk.security: blk for blk in prep.wash.buy}
    group_of: dict[int, tuple[int, ...]] = {}
    for group in problem.equivalence_groups:
        for m in group.members:
            group_of[m] = group.members

    n = problem.n_securities
    sale_sec = np.fromiter((s.security for s in sales), dtype=np.int64, count=len(sales))
    sale_gain = np.fromiter((s.realized_gain for s in sales), dtype=np.float64, count=len(sales))
    sale_tax = np.fromiter((s.tax for s in sales), dtype=np.float64, count=len(sales))
    gain_sec = np.bincount(sale_sec, weights=sale_gain, minlength=n)
    tax_sec = np.bincount(sale_sec, weights=sale_tax, minlength=n)
    loss_sec = np.bincount(sale_sec, weights=(sale_gain < 0).astype(np.float64), minlength=n) > 0
    # Wash-sale classes with a loss sale in this rebalance: buying into them now would be a
    # wash sale, so a substitute bought instead says so (window: as_of + 30 days).
    cls = prep.wash.classes
    loss_classes = set(cls[loss_sec].tolist())
    sec_rule: dict[int, str] = {}
    reasons: list[Reason] = []
    # Per-security columns as Python lists: indexing numpy scalars in the loop cost more.
    closed_sec = closed[prep.unit_of].tolist()
    over_max = (prep.holding > hi).tolist()
    gain_sec_list = gain_sec.tolist()
    tax_sec_list = tax_sec.tolist()
    tax_obj = problem.settings.tax_weight * tax_sec.astype(np.float64) / prep.base
    if prep.problem.tax_year is not None or prep.problem.settings.anniversary_days:
        tax_obj = _year_tax_sec(prep, sales)
    te_red, obj_red = _marginal_effects(prep, trades, w_after, tax_obj)
    has_buys = any(t.side == Side.BUY for t in trades)
    has_bounds = bool(
        problem.group_bounds
        or problem.min_weight is not None
        or problem.max_weight is not None
        or problem.settings.cash_max is not None
    )
    sec_fallback: dict[int, tuple[str, str]] = {}
    for t in trades:
        i = t.security
        dc = closed_sec[i]
        # Every rule is true of the trade's own numbers (issue 17, defect 7): a drift rule only
        # where the unit's |drift| goes down, a harvest only where the sales net a loss, a
        # raise-cash sale only where cash is short of the requirement before the trades.
        fallback = _effect_rule(dc, te_red[i], obj_red[i], t.side, has_buys, has_bounds)
        if t.side == Side.SELL:
            sec_fallback[i] = fallback
            if over_max[i] and w_after[i] < prep.holding[i]:
                rule, why = "max_weight", "over its maximum weight"
            elif cash_short:
                rule, why = "raise_cash", f"raise cash (now ${problem.cash:,.0f})"
            elif gain_sec_list[i] < 0:
                rule, why = "harvest_loss", f"harvest a net {-gain_sec_list[i]:,.0f} $ loss"
            else:
                rule, why = fallback
            text = f"sell {t.shares:g} {t.security_id} (${t.value:,.0f}): {why}"
        else:
            rule, why, instead, window = _buy_rule(
                prep, i, group_of, buy_block, loss_classes, lo, mode, dc, fallback
            )
            if instead:
                text = f"buy {t.security_id} instead of {instead}: {why}"
            else:
                text = f"buy {t.shares:g} {t.security_id} (${t.value:,.0f}): {why}"
            sec_rule[i] = rule
            reasons.append(
                new_record(
                    Reason,
                    {
                        "kind": "buy",
                        "security": i,
                        "security_id": t.security_id,
                        "rule": rule,
                        "text": text,
                        "lot_id": None,
                        "realized_gain": 0.0,
                        "term": "",
                        "tax": 0.0,
                        "drift_closed": dc,
                        "cost": t.cost,
                        "window_end": window,
                        "instead_of": instead,
                        "te_reduced": float(te_red[i]),
                        "objective_reduced": float(obj_red[i]),
                    },
                )
            )
            continue
        sec_rule[i] = rule
        reasons.append(
            new_record(
                Reason,
                {
                    "kind": "sell",
                    "security": i,
                    "security_id": t.security_id,
                    "rule": rule,
                    "text": text,
                    "lot_id": None,
                    "realized_gain": gain_sec_list[i],
                    "term": "",
                    "tax": tax_sec_list[i],
                    "drift_closed": dc,
                    "cost": t.cost,
                    "window_end": None,
                    "instead_of": "",
                    "te_reduced": float(te_red[i]),
                    "objective_reduced": float(obj_red[i]),
                },
            )
        )
    kappa_sale = prep.kappa[sale_sec] * np.fromiter(
        (s.proceeds for s in sales), dtype=np.float64, count=len(sales)
    )
    gain_text = _money_all(sale_gain)
    tax_text = _money_all(sale_tax)
    for s, gain_t, tax_t, cost in zip(sales, gain_text, tax_text, kappa_sale.tolist(), strict=True):
        term = _TERM_TEXT.get(s.term) or str(s.term)
        if s.realized_gain < 0:
            rule = "harvest_loss"
            what = f"harvest {gain_t} loss, {term}"
        else:
            rule = sec_rule.get(s.security, "reduce_drift")
            if rule == "harvest_loss":
                # A gain lot sold alongside harvested losses: what its security's sale does.
                rule = sec_fallback.get(s.security, ("reduce_drift", ""))[0]
            what = f"realize {gain_t} gain, {term}, tax {tax_t} ({rule.replace('_', ' ')})"
        reasons.append(
            new_record(
                Reason,
                {
                    "kind": "sell_lot",
                    "security": s.security,
                    "security_id": s.security_id,
                    "rule": rule,
                    "text": f"sell lot {s.lot_id}: {what}",
                    "lot_id": s.lot_id,
                    "realized_gain": s.realized_gain,
                    "term": term,
                    "tax": s.tax,
                    "drift_closed": 0.0,
                    "cost": cost,
                    "window_end": None,
                    "instead_of": "",
                    "te_reduced": 0.0,
                    "objective_reduced": 0.0,
                },
            )
        )
    return tuple(reasons)


def _year_tax_sec(prep: Prepared, sales: tuple[LotSale, ...]) -> FloatArray:
    """``(n,)`` objective tax (tax-year model, ``tax_weight`` applied) plus waiting charge that
    each security's lot sales add to the trade list: the list's figure minus the figure of the
    list without that security's sales (weight units)."""
    problem = prep.problem
    n = problem.n_securities
    lots = problem.lots
    order = np.argsort(lots.lot_id, kind="stable")
    sold_ids = np.fromiter((s.lot_id for s in sales), dtype=np.int64, count=len(sales))
    pos = order[np.searchsorted(lots.lot_id[order], sold_ids)]
    x = np.zeros(lots.count)
    x[pos] = np.fromiter((s.shares for s in sales), dtype=np.float64, count=len(sales))
    x[pos] = x[pos] / lots.shares[pos]
    theta = problem.settings.tax_weight
    lin = theta * prep.obj_tax_coef + prep.wait_coef
    out: FloatArray = np.bincount(prep.lot_sec, weights=lin * x, minlength=n).astype(np.float64)
    for hinge in prep.hinges:
        arg = float(np.dot(hinge.coef, x)) - hinge.rhs
        part = np.bincount(prep.lot_sec, weights=hinge.coef * x, minlength=n)
        without = np.maximum(arg - part, 0.0)
        out += theta * hinge.price * (max(arg, 0.0) - without)
    return np.where(np.isin(np.arange(n), prep.lot_sec[pos]), out, 0.0)


def _marginal_effects(
    prep: Prepared, trades: tuple[SecurityTrade, ...], w_after: FloatArray, tax_obj: FloatArray
) -> tuple[FloatArray, FloatArray]:
    """``(n,)`` each: how much each security's trade lowers the tracking error (annual
    decimal) and the objective (weight units), against the same trade list without it.
    ``tax_obj``: what each security's sales add to the objective's tax term (weight units).

    V(w - d e_i) = V(w) - d g_i + d^2 Q_ii with g = 2 Q (w - t) and Q the active-risk form, so
    every trade costs O(k) after one O(n k) pass.
    """
    problem = prep.problem
    s = problem.settings
    n = problem.n_securities
    d = np.zeros(n)
    cost = np.zeros(n)
    for t in trades:
        d[t.security] = w_after[t.security] - prep.holding[t.security]
        cost[t.security] = t.cost
    n_units = len(prep.unit_target)
    a = np.bincount(prep.unit_of, weights=w_after, minlength=n_units) - prep.unit_target
    g = 2.0 * prep.unit_delta[prep.unit_of] * a[prep.unit_of]
    q_ii = prep.unit_delta[prep.unit_of].copy()
    var = float(np.dot(prep.unit_delta * a, a))
    if prep.n_factors:
        y = prep.loadings.T @ (w_after - prep.target)
        fy = prep.factor_cov @ y
        g = g + 2.0 * (prep.loadings @ fy)
        q_ii = q_ii + np.einsum("ij,jk,ik->i", prep.loadings, prep.factor_cov, prep.loadings)
        var += float(y @ fy)
    var = max(var, 0.0)
    var_without = np.maximum(var - d * g + d * d * q_ii, 0.0)
    te_red: FloatArray = np.sqrt(var_without) - math.sqrt(var)
    buy = np.maximum(d, 0.0)
    obj_red: FloatArray = (
        s.risk_aversion * (var_without - var)
        - tax_obj
        - s.cost_weight * cost / prep.base
        - prep.penalty * buy
    )
    return np.where(d != 0, te_red, 0.0), np.where(d != 0, obj_red, 0.0)


TE_REASON_MIN = 1e-6
"""Annual TE (0.01 bp): a smaller reduction is not given as a trade's reason."""


def _effect_rule(
    dc: float, te_red: float, obj_red: float, side: Side, has_buys: bool, has_bounds: bool
) -> tuple[str, str]:
    """(rule, why) of a trade that no constraint or tax rule explains: its own drift closed,
    else the tracking error it removes, else the objective it lowers, else (a sale) the cash
    it raises for the buys of the same list."""
    if dc > 0:
        return "reduce_drift", f"close drift {dc:.2%}"
    if te_red > TE_REASON_MIN:
        return "reduce_tracking_error", f"reduces tracking error by {te_red * 1e4:.2f} bps"
    if obj_red > 0:
        return "lower_objective", (
            f"lowers risk + tax + cost by {obj_red * 1e4:.2f} bps of the account"
        )
    if side == Side.SELL and has_buys:
        return "fund_buys", "raises cash for the buys"
    if has_bounds:
        return "meet_bounds", "keeps a weight, group or cash bound"
    return "continuous_optimum", (
        f"part of the optimal trade list; alone it changes risk + tax + cost by "
        f"{-obj_red * 1e4:+.2f} bps of the account (rounding)"
    )


def _buy_rule(
    prep: Prepared,
    i: int,
    group_of: dict[int, tuple[int, ...]],
    buy_block: dict[int, WindowBlock],
    loss_classes: set[int],
    lo: FloatArray,
    mode: Mode,
    drift_closed: float,
    fallback: tuple[str, str],
) -> tuple[str, str, str, dt.date | None]:
    """(rule, plain-English why, security id bought instead of, window end or None)."""
    problem = prep.problem
    ids = problem.security_ids
    members = group_of.get(i)
    if members is not None and members[0] != i:
        # A substitute: say why a more preferred member was not bought.
        cls = prep.wash.classes
        for better in members[: members.index(i)]:
            blk = buy_block.get(better)
            if blk is not None:
                end = blk.window_end
                return (
                    "substitute_wash_sale",
                    f"wash-sale window until {end.isoformat()}",
                    ids[better],
                    end,
                )
            if int(cls[better]) in loss_classes:
                end = problem.as_of + dt.timedelta(days=WASH_SALE_DAYS)
                return (
                    "substitute_wash_sale",
                    f"{ids[better]} sold at a loss now, wash-sale window until {end.isoformat()}",
                    ids[better],
                    end,
                )
            if not prep.buyable[better]:
                return "substitute_restricted", "restricted", ids[better], None
        return "substitute_preference", "lower total cost", ids[members[0]], None
    if prep.holding[i] < lo[i]:
        return "min_weight", "under its minimum weight", "", None
    if mode == Mode.INVEST_CASH or prep.cash0 > prep.cash_req:
        return "invest_cash", f"invest cash, {fallback[1]}", "", None
    return fallback[0], fallback[1], "", None
