"""Per-lot tax quantities: gain, holding period, rate, tax $ of a full sale.

Signs: a gain is positive and costs tax; a loss is negative and its tax is negative (saved).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np

from optimizer.types import BoolArray, DateArray, FloatArray, Problem


def anniversary(acquired: DateArray) -> DateArray:
    """``(L,)`` first anniversary of each acquisition date, ``datetime64[D]``.

    Same month and day one year later; 29 February maps to 28 February.
    """
    acq = acquired.astype("datetime64[D]")
    month = acq.astype("datetime64[M]")
    day_offset = acq - month.astype("datetime64[D]")  # 0-based day of month
    next_year_month = month + np.timedelta64(12, "M")
    month_end = (next_year_month + np.timedelta64(1, "M")).astype("datetime64[D]") - np.timedelta64(
        1, "D"
    )
    candidate = next_year_month.astype("datetime64[D]") + day_offset
    result: DateArray = np.minimum(candidate, month_end)
    return result


def is_long_term(acquired: DateArray, as_of: dt.date) -> BoolArray:
    """``(L,)`` True where a sale on ``as_of`` is long term (held more than one year)."""
    result: BoolArray = np.datetime64(as_of, "D") > anniversary(acquired)
    return result


@dataclass(frozen=True, eq=False)
class LotTax:
    """Tax view of every lot if sold whole on the as-of date. Shapes ``(L,)``."""

    value: FloatArray
    """$ market value q_l * p."""
    gain: FloatArray
    """$ value - cost basis (negative = loss)."""
    long_term: BoolArray
    rate: FloatArray
    """tax rate applied to the gain (LT or ST rate)."""
    tax: FloatArray
    """$ rate * gain (negative = tax saved)."""


def lot_tax(problem: Problem) -> LotTax:
    value = problem.lot_values
    gain = value - problem.lots.cost_basis
    lt = is_long_term(problem.lots.acquired, problem.as_of)
    rates = problem.tax_rates
    rate = np.where(lt, float(rates.long_term), float(rates.short_term))
    return LotTax(value=value, gain=gain, long_term=lt, rate=rate, tax=rate * gain)
