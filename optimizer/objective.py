"""Evaluate the objective of docs/optimizer.md section 4 at a point (x, b), in numpy.

Used for the before / continuous / after figures so every reported number is the true f at a
trade list, independent of how the QP was stated.
"""

from __future__ import annotations

import math

import numpy as np

from optimizer.rules import Prepared
from optimizer.types import FloatArray, ObjectiveTerms


def sells_of(prep: Prepared, x: FloatArray) -> FloatArray:
    """``(n,)`` weight sold per security for lot fractions ``x`` ``(L,)``."""
    n = prep.problem.n_securities
    result: FloatArray = np.bincount(prep.lot_sec, weights=prep.lot_weight * x, minlength=n).astype(
        np.float64, copy=False
    )
    return result


def active_variance(prep: Prepared, w: FloatArray) -> float:
    """V(w): factor part y'Fy plus unit specific (or drift) part, annual variance."""
    n_units = len(prep.unit_target)
    a = np.bincount(prep.unit_of, weights=w, minlength=n_units) - prep.unit_target
    var = float(np.dot(prep.unit_delta * a, a))
    if prep.n_factors:
        y = prep.loadings.T @ (w - prep.target)
        var += float(y @ prep.factor_cov @ y)
    return max(var, 0.0)


def terms_at(prep: Prepared, x: FloatArray, b: FloatArray) -> ObjectiveTerms:
    """Objective terms at lot fractions ``x`` ``(L,)`` and buys ``b`` ``(n,)`` (weights)."""
    s = prep.problem.settings
    sells = sells_of(prep, x)
    w = prep.holding + b - sells
    var = active_variance(prep, w)
    risk = s.risk_aversion * var
    tax = s.tax_weight * tax_at(prep, x)
    cost = s.cost_weight * float(np.dot(prep.kappa, b + sells))
    sub = float(np.dot(prep.penalty, b))
    wait = float(np.dot(prep.wait_coef, x)) if prep.problem.settings.anniversary_days else 0.0
    return ObjectiveTerms(
        risk=risk,
        tax=tax,
        cost=cost,
        substitute=sub,
        total=risk + tax + cost + sub + wait,
        tracking_error=math.sqrt(var),
        wait=wait,
    )


def tax_at(prep: Prepared, x: FloatArray) -> float:
    """Tax of selling lot fractions ``x`` (weight units, before ``tax_weight``): each lot at its
    own rate, or the tax-year model's increment over selling nothing (docs section 4)."""
    tax = float(np.dot(prep.obj_tax_coef, x))
    for hinge in prep.hinges:
        tax += hinge.value(x)
    return tax


def cash_weight_at(prep: Prepared, x: FloatArray, b: FloatArray) -> float:
    """Post-trade cash / B (withdrawal still included)."""
    sells = sells_of(prep, x)
    return float(prep.cash0 + sells.sum() - b.sum() - np.dot(prep.kappa, b + sells))


SOFT_TOL = 1e-8
"""A soft constraint exceeded by more than this (its own units: weight, or annual TE for the
tracking-error cap) at the proposed trades is reported as relaxed (docs/optimizer.md
section 5)."""


def soft_excess(prep: Prepared, x: FloatArray, b: FloatArray) -> list[tuple[str, int, float]]:
    """(name, rung, excess) of every soft constraint that lot fractions ``x`` ``(L,)`` and buys
    ``b`` ``(n,)`` exceed by more than ``SOFT_TOL``, in ladder order.

    Measured at the point itself, whatever the solver reported, so a relaxed (or merely
    rounded) trade list is reported by what it really does. Names as in
    ``Diagnostics.binding``; excess in weight units (budgets: realized gain or tax / B), the
    tracking-error cap's in annual TE.
    """
    p = prep.problem
    s = p.settings
    sells = sells_of(prep, x)
    w = prep.holding + b - sells
    out: list[tuple[str, int, float]] = []

    def add(name: str, rung: int, excess: float) -> None:
        if excess > SOFT_TOL:
            out.append((name, rung, excess))

    if s.turnover_max is not None:
        add("turnover", 0, float(b.sum() + sells.sum()) - s.turnover_max)
    if prep.gain_room is not None:
        add("gain_budget", 1, float(np.dot(prep.gain_coef, x)) - prep.gain_room / prep.base)
    if prep.tax_room is not None:
        add("tax_budget", 1, float(np.dot(prep.tax_coef, x)) - prep.tax_room / prep.base)
    if prep.cash_cap is not None:
        add("cash_max", 2, cash_weight_at(prep, x, b) - prep.cash_cap)
    for gb in p.group_bounds:
        total = float(w[np.unique(gb.members)].sum())
        if np.isfinite(gb.upper):
            add(f"group_upper:{gb.name}", 2, total - gb.upper)
        if gb.lower > 0:
            add(f"group_lower:{gb.name}", 2, gb.lower - total)
    ids = p.security_ids
    over = w - prep.hi_eff
    for i in np.flatnonzero(over > SOFT_TOL).tolist():
        add(f"max_weight:{ids[i]}", 2, float(over[i]))
    under = prep.lo_eff - w
    for i in np.flatnonzero(under > SOFT_TOL).tolist():
        add(f"min_weight:{ids[i]}", 2, float(under[i]))
    if s.te_max is not None:
        add("tracking_error", 3, math.sqrt(active_variance(prep, w)) - float(s.te_max))
    return out
