"""Evaluate the objective of docs/optimizer.md section 4 at a point (x, b), in numpy.

Used for the before / continuous / after figures so every reported number is the true f at a
trade list, independent of how the QP was stated.
"""

from __future__ import annotations

import math

import numpy as np

from optimizer.build import Prepared
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
    tax = s.tax_weight * float(np.dot(prep.tax_coef, x))
    cost = s.cost_weight * float(np.dot(prep.kappa, b + sells))
    sub = float(np.dot(prep.penalty, b))
    return ObjectiveTerms(
        risk=risk,
        tax=tax,
        cost=cost,
        substitute=sub,
        total=risk + tax + cost + sub,
        tracking_error=math.sqrt(var),
    )


def cash_weight_at(prep: Prepared, x: FloatArray, b: FloatArray) -> float:
    """Post-trade cash / B (withdrawal still included)."""
    sells = sells_of(prep, x)
    return float(prep.cash0 + sells.sum() - b.sum() - np.dot(prep.kappa, b + sells))
