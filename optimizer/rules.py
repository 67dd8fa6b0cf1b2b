"""Rule preparation (docs/optimizer.md sections 1-3 and 5): validate a ``Problem`` and apply
its rules once, before any solver statement.

``prepare(problem) -> Prepared``: tax per lot, wash-sale blocks, restrictions and modes (which
lot sales and buys are free), drift units, effective weight bounds, budget room, all in weight
units (of B). ``validate`` rejects a malformed problem naming the field. Both the ladder's QP
(``optimizer.build``) and the interior-point method's structured problem
(``optimizer.structured``) are written from a ``Prepared``.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

import numpy as np

from optimizer.tax import Hinge, LotTax, lot_tax, wait_coef, year_model
from optimizer.types import BoolArray, FloatArray, IntArray, Mode, Problem, RiskModel
from optimizer.washsale import WashSaleBlocks, wash_sale_blocks

QP_BACKENDS = ("auto", "ipm", "piqp", "clarabel")
"""Values of ``Settings.qp_backend``."""

RUNGS = ("turnover", "budgets", "weights", "tracking_error")
"""Soft-constraint rungs in the order they are dropped; rung r drops RUNGS[:r]."""


@dataclass(frozen=True, eq=False)
class Prepared:
    """Everything about one problem that does not depend on the rung or the repair fixes.

    Shapes: ``(L,)`` per lot, ``(n,)`` per security, ``(U,)`` per drift unit, ``(n, k)``
    loadings. Weights are fractions of ``base`` ($).
    """

    problem: Problem
    base: float
    lot_sec: IntArray
    lot_weight: FloatArray
    """m_l"""
    holding: FloatArray
    """h_i"""
    tax: LotTax
    tax_coef: FloatArray
    """r_l g_l / B: tax (weight units) of selling the whole lot."""
    gain_coef: FloatArray
    """g_l / B"""
    kappa: FloatArray
    penalty: FloatArray
    """pi_i = substitute_penalty * rank_i"""
    rank: IntArray
    sellable: BoolArray
    """``(L,)`` lots whose x is free under the rules."""
    buyable: BoolArray
    """``(n,)`` securities whose b is free under the rules."""
    never_buy: BoolArray
    never_sell: BoolArray
    do_not_trade: BoolArray
    wash: WashSaleBlocks
    unit_of: IntArray
    """``(n,)`` drift unit of each security."""
    unit_target: FloatArray
    unit_delta: FloatArray
    unit_primary: IntArray
    target: FloatArray
    loadings: FloatArray
    """``(n, k)``; k = 0 without a risk model."""
    factor_cov: FloatArray
    lo_eff: FloatArray
    hi_eff: FloatArray
    cash0: float
    """C / B"""
    cash_req: float
    """W / B + cash_target"""
    cash_cap: float | None
    gain_room: float | None
    """$ remaining gain budget (>= 0)."""
    tax_room: float | None
    """$ remaining tax budget (>= 0)."""
    obj_tax_coef: FloatArray
    """``(L,)`` linear part of the objective's tax term per lot sold whole (weight units,
    before ``tax_weight``): ``tax_coef`` without a tax year; the tax-year model's r_L g_l / B
    plus the hinges folded in (``tax.year_model``) with one."""
    hinges: tuple[Hinge, ...]
    """Kinks of the tax-year model that the free lots can cross (``tax.year_model``)."""
    wait_coef: FloatArray
    """``(L,)`` waiting charge per lot sold whole (``Settings.anniversary_days``), weight
    units, not multiplied by ``tax_weight``."""

    @property
    def n_factors(self) -> int:
        return int(self.factor_cov.shape[0])


def _bool_or(arr: BoolArray | None, n: int) -> BoolArray:
    if arr is None:
        return np.zeros(n, dtype=np.bool_)
    return np.asarray(arr, dtype=np.bool_)


def _float_or(arr: FloatArray | None, n: int, default: float) -> FloatArray:
    if arr is None:
        return np.full(n, default, dtype=np.float64)
    return np.asarray(arr, dtype=np.float64)


def validate(problem: Problem) -> None:
    """Raise ``ValueError`` for a malformed problem (shapes, signs, indexes, B > 0)."""
    n = problem.n_securities
    lots = problem.lots
    L = lots.count

    def check(ok: bool, what: str) -> None:
        if not ok:
            raise ValueError(f"invalid problem {problem.account_id!r}: {what}")

    check(n >= 1, "no securities")
    check(problem.prices.shape == (n,), "prices shape")
    prices = problem.prices
    check(bool(np.isfinite(prices).all() and (prices > 0).all()), "prices > 0")
    check(problem.targets.shape == (n,), "targets shape")
    check(bool(np.isfinite(problem.targets).all()), "targets finite")
    check(bool((problem.targets >= 0).all()), "targets >= 0")
    check(
        float(problem.targets.sum()) <= 1.0 + TARGET_SUM_TOL,
        f"targets sum to at most 1 (got {float(problem.targets.sum()):.6g})",
    )
    for name in ("lot_id", "security", "shares", "cost_basis", "acquired"):
        check(getattr(lots, name).shape == (L,), f"lots.{name} shape")
    # A boolean or fractional index would be silently truncated by numpy indexing.
    for name in ("lot_id", "security"):
        check(getattr(lots, name).dtype.kind in "iu", f"lots.{name} dtype integer")
    check(lots.acquired.dtype == np.dtype("datetime64[D]"), "lots.acquired dtype datetime64[D]")
    if L:
        check(
            bool((lots.acquired <= np.datetime64(problem.as_of, "D")).all()),
            "lots.acquired on or before as_of",
        )
    check(bool((lots.shares > 0).all()), "lot shares > 0")
    check(bool((lots.cost_basis >= 0).all()), "lot cost basis >= 0")
    ids = np.sort(lots.lot_id)  # cheaper than np.unique for the same test
    check(bool((ids[1:] != ids[:-1]).all()), "lot ids unique")
    if L:
        check(bool(lots.security.min() >= 0 and lots.security.max() < n), "lot security index")
    check(problem.cash >= 0 and np.isfinite(problem.cash), "cash >= 0")
    check(problem.withdrawal >= 0, "withdrawal >= 0")
    check(problem.base_value > 0, "base value (total - withdrawal) > 0")
    for name in ("cost_rates", "min_weight", "max_weight"):
        arr = getattr(problem, name)
        check(arr is None or arr.shape == (n,), f"{name} shape")
    for name in ("never_buy", "never_sell", "do_not_trade"):
        arr = getattr(problem, name)
        check(arr is None or arr.shape == (n,), f"{name} shape")
    if problem.cost_rates is not None:
        costs = problem.cost_rates
        check(bool((costs >= 0).all() and (costs < 1).all()), "costs")
    groups = problem.equivalence_groups
    if groups:
        check(all(group.members for group in groups), "empty equivalence group")
        members = np.fromiter((m for g in groups for m in g.members), dtype=np.int64)
        check(bool(((members >= 0) & (members < n)).all()), "equivalence member index")
        check(len(np.unique(members)) == len(members), "equivalence groups overlap")
    if problem.recent_trades:
        traded = np.fromiter((t.security for t in problem.recent_trades), dtype=np.int64)
        check(bool(((traded >= 0) & (traded < n)).all()), "recent trade security index")
    for gb in problem.group_bounds:
        check(bool(np.all((gb.members >= 0) & (gb.members < n))), "group bound members")
        check(gb.lower <= gb.upper, f"group bound {gb.name} lower <= upper")
    rm = problem.risk_model
    if rm is not None:
        k = rm.n_factors
        check(rm.loadings.shape == (n, k), "risk model loadings shape (n, k)")
        check(rm.factor_cov.shape == (k, k), "factor cov shape")
        check(rm.specific_var.shape == (n,), "specific var shape")
        check(bool(np.all(rm.specific_var >= 0)), "specific var >= 0")
        check(bool(np.isfinite(rm.loadings).all()), "risk model loadings finite")
        check(bool(np.isfinite(rm.factor_cov).all()), "factor_cov finite")
        check(
            bool(np.allclose(rm.factor_cov, rm.factor_cov.T, rtol=0.0, atol=PSD_TOL * _scale(rm))),
            "factor_cov symmetric",
        )
        check(factor_min_eigenvalue(rm.factor_cov) >= -PSD_TOL * _scale(rm), "factor_cov PSD")
    rates = problem.tax_rates
    for term_name in ("short_term", "long_term"):
        rate = getattr(rates, term_name)
        check(bool(np.isfinite(rate)) and 0.0 <= rate <= 1.0, f"tax_rates.{term_name} in [0, 1]")
    ty = problem.tax_year
    if ty is not None:
        values = [getattr(ty, f.name) for f in dataclasses.fields(ty)]
        check(all(math.isfinite(v) for v in values), "tax_year fields finite")
        for name in ("carryforward_short", "carryforward_long", "ordinary_offset"):
            check(getattr(ty, name) >= 0, f"tax_year.{name} >= 0")
        check(0.0 <= ty.carryforward_discount <= 1.0, "tax_year.carryforward_discount in [0, 1]")
        check(
            rates.short_term >= rates.long_term, "tax_rates.short_term >= long_term with tax_year"
        )
    s = problem.settings
    check(s.risk_aversion >= 0, "risk_aversion >= 0")
    check(
        not isinstance(s.anniversary_days, bool)
        and isinstance(s.anniversary_days, int)
        and 0 <= s.anniversary_days <= 366,
        "settings.anniversary_days integer in 0..366",
    )
    check(s.cash_target >= 0, "cash_target >= 0")
    check(s.te_max is None or s.te_max >= 0, "te_max >= 0")
    check(
        s.turnover_max is None or (not np.isnan(s.turnover_max) and s.turnover_max >= 0),
        "settings.turnover_max >= 0",
    )
    check(
        not isinstance(s.share_decimals, bool)
        and isinstance(s.share_decimals, int)
        and 0 <= s.share_decimals <= 12,
        "settings.share_decimals integer in 0..12",
    )
    check(s.min_trade >= 0, "settings.min_trade >= 0")
    check(s.max_iter >= 1 and s.time_limit > 0, "solver caps")
    check(s.resolve_max_iterations >= 0, "resolve_max_iterations >= 0")
    check(s.qp_backend in QP_BACKENDS, f"qp_backend is one of {', '.join(map(repr, QP_BACKENDS))}")


TARGET_SUM_TOL = 1e-6
"""Targets may sum to 1 + this (rounding in the feed); more is a malformed problem."""
PSD_TOL = 1e-9
"""A factor covariance eigenvalue below -PSD_TOL * max|entry| is not rounding noise: the risk
term would be reported as 0 for a direction the model calls negative variance."""


def _scale(rm: RiskModel) -> float:
    return max(float(np.abs(rm.factor_cov).max(initial=0.0)), 1e-300)


def factor_min_eigenvalue(cov: FloatArray) -> float:
    """Smallest eigenvalue of the symmetrised factor covariance (0 for k = 0); cached."""
    _, vals = _factor_eig(cov)
    return float(vals.min(initial=0.0))


_ROOT_CACHE: list[tuple[FloatArray, FloatArray, FloatArray]] = []
"""(factor_cov, R) of recent risk models: the nightly model is shared by every account, and
LAPACK's eigh cost up to ~20 ms per call on a busy machine (thread start-up)."""
_ROOT_CACHE_SIZE = 4


def factor_root(cov: FloatArray) -> FloatArray:
    """R (k, k) with R.T @ R = cov, from the symmetric eigen-decomposition (PSD clip).

    Cached by array identity (arrays in a ``Problem`` must not be mutated).
    """
    return _factor_eig(cov)[0]


def _factor_eig(cov: FloatArray) -> tuple[FloatArray, FloatArray]:
    """(R, eigenvalues) of the symmetrised ``cov``, cached by array identity."""
    for cached_cov, cached_root, cached_vals in _ROOT_CACHE:
        if cached_cov is cov:
            return cached_root, cached_vals
    k = cov.shape[0]
    if k == 0:
        root: FloatArray = np.zeros((0, 0))
        vals: FloatArray = np.zeros(0)
    else:
        sym = 0.5 * (cov + cov.T)
        vals, vecs = np.linalg.eigh(sym)
        root = (vecs * np.sqrt(np.clip(vals, 0.0, None))).T
    _ROOT_CACHE.insert(0, (cov, root, vals))
    del _ROOT_CACHE[_ROOT_CACHE_SIZE:]
    return root, vals


def prepare(problem: Problem) -> Prepared:
    validate(problem)
    n = problem.n_securities
    s = problem.settings
    base = problem.base_value
    lots = problem.lots
    lot_sec = lots.security.astype(np.int64)
    tax = lot_tax(problem)
    m = tax.value / base
    holding = np.bincount(lot_sec, weights=m, minlength=n).astype(np.float64)

    never_buy = _bool_or(problem.never_buy, n)
    never_sell = _bool_or(problem.never_sell, n)
    dnt = _bool_or(problem.do_not_trade, n)
    wash = wash_sale_blocks(problem)

    buyable = ~(never_buy | dnt | wash.buy_blocked)
    sec_sellable = ~(never_sell | dnt)
    if s.mode == Mode.RAISE_CASH:
        buyable[:] = False
    if s.mode == Mode.INVEST_CASH:
        sec_sellable[:] = False
    # Per lot: a loss lot whose own purchase is the only in-window buy of its class may be
    # sold even when its security holds older loss lots (docs/optimizer.md section 3).
    sellable = sec_sellable[lot_sec] & ~((tax.gain < 0) & wash.lot_loss_sale_blocked)

    # Drift units: equivalence groups, then singletons; rank within group.
    unit_of = np.full(n, -1, dtype=np.int64)
    rank = np.zeros(n, dtype=np.int64)
    groups = problem.equivalence_groups
    # All groups at once (validate: non-empty, disjoint): unit = group number, rank = position.
    sizes = np.array([len(g.members) for g in groups], dtype=np.int64)
    members = np.fromiter(
        (m for g in groups for m in g.members), dtype=np.int64, count=int(sizes.sum())
    )
    firsts = np.cumsum(sizes) - sizes
    unit_of[members] = np.repeat(np.arange(len(groups), dtype=np.int64), sizes)
    rank[members] = np.arange(len(members), dtype=np.int64) - np.repeat(firsts, sizes)
    primaries = members[firsts]
    single = np.flatnonzero(unit_of < 0)
    unit_of[single] = np.arange(len(primaries), len(primaries) + len(single))
    unit_primary = np.concatenate([primaries, single])
    n_units = len(unit_primary)
    target = np.asarray(problem.targets, dtype=np.float64)
    unit_target = np.bincount(unit_of, weights=target, minlength=n_units).astype(np.float64)

    rm = problem.risk_model
    if rm is None:
        unit_delta = np.ones(n_units)
        loadings = np.zeros((n, 0))
        factor_cov = np.zeros((0, 0))
    else:
        unit_delta = np.asarray(rm.specific_var, dtype=np.float64)[unit_primary]
        loadings = np.asarray(rm.loadings, dtype=np.float64)
        factor_cov = np.asarray(rm.factor_cov, dtype=np.float64)

    lo = _float_or(problem.min_weight, n, 0.0)
    hi = _float_or(problem.max_weight, n, np.inf)
    sellable_weight = np.bincount(lot_sec, weights=np.where(sellable, m, 0.0), minlength=n)
    lo_eff = np.where(buyable, lo, np.minimum(lo, holding))
    hi_eff = np.maximum(hi, holding - sellable_weight)

    gain_room = (
        None if s.gain_budget is None else max(s.gain_budget - problem.realized_gain_ytd, 0.0)
    )
    tax_room = None if s.tax_budget is None else max(s.tax_budget - problem.tax_ytd, 0.0)
    withdrawal_w = problem.withdrawal / base
    obj_tax_coef, hinges = year_model(problem, tax, base, sellable)
    return Prepared(
        problem=problem,
        base=base,
        lot_sec=lot_sec,
        lot_weight=m,
        holding=holding,
        tax=tax,
        tax_coef=tax.tax / base,
        gain_coef=tax.gain / base,
        kappa=_float_or(problem.cost_rates, n, 0.0),
        penalty=s.substitute_penalty * rank.astype(np.float64),
        rank=rank,
        sellable=sellable,
        buyable=buyable,
        never_buy=never_buy,
        never_sell=never_sell,
        do_not_trade=dnt,
        wash=wash,
        unit_of=unit_of,
        unit_target=unit_target,
        unit_delta=unit_delta,
        unit_primary=unit_primary,
        target=target,
        loadings=loadings,
        factor_cov=factor_cov,
        lo_eff=lo_eff,
        hi_eff=hi_eff,
        cash0=problem.cash / base,
        cash_req=withdrawal_w + s.cash_target,
        cash_cap=None if s.cash_max is None else withdrawal_w + s.cash_max,
        gain_room=gain_room,
        tax_room=tax_room,
        obj_tax_coef=obj_tax_coef,
        hinges=hinges,
        wait_coef=wait_coef(problem, tax, base),
    )
