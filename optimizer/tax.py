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


# --------------------------------------------------------------------------- the tax year


@dataclass(frozen=True, eq=False)
class Hinge:
    """One kink of the tax-year model: ``price * max(coef . x - rhs, 0)`` (docs/optimizer.md
    section 4), x the lot fractions. Weight units; ``price`` before ``Settings.tax_weight``."""

    name: str
    coef: FloatArray
    """``(L,)`` weight per unit of x (gain / B, signed)."""
    rhs: float
    price: float

    def value(self, x: FloatArray) -> float:
        """The hinge at ``x`` minus the hinge with nothing sold (the run's increment)."""
        arg = float(np.dot(self.coef, x)) - self.rhs
        return self.price * (max(arg, 0.0) - max(-self.rhs, 0.0))


def year_position(problem: Problem) -> tuple[float, float]:
    """$ (A_S, A_L): the year's net short- and long-term gains before this run, outside gains
    included and carry-forwards subtracted (0, 0 without a ``TaxYear``)."""
    ty = problem.tax_year
    if ty is None:
        return 0.0, 0.0
    a_s = ty.gain_ytd_short + ty.outside_gain_short - ty.carryforward_short
    a_l = ty.gain_ytd_long + ty.outside_gain_long - ty.carryforward_long
    return float(a_s), float(a_l)


def year_model(
    problem: Problem, tax: LotTax, base: float, sellable: BoolArray
) -> tuple[FloatArray, tuple[Hinge, ...]]:
    """(linear tax per lot sold whole, weight units; hinges) of the objective's tax term.

    Without a ``TaxYear``: each lot at its own rate, no hinge. With one (r_S, r_L the rates,
    r_c = carryforward_discount * r_L, K = ordinary_offset, N_S / N_L / N the year's net
    short-term / long-term / total gain after the run):

        T = r_L N + (r_S - r_L) max(M, 0) + (r_L - r_c) max(-K - N, 0)

    with M = N_S + N_L if A_L < 0 (the year's LT net is a loss before the run), else N_S.

    A hinge that cannot change sides whatever the free lots do is folded into the linear
    part (always on) or left out (always off), so most accounts get no extra row.
    """
    ty = problem.tax_year
    if ty is None:
        own: FloatArray = tax.tax / base
        return own, ()
    r_s = float(problem.tax_rates.short_term)
    r_l = float(problem.tax_rates.long_term)
    r_c = float(ty.carryforward_discount) * r_l
    a_s, a_l = year_position(problem)
    gain = tax.gain / base
    coef: FloatArray = r_l * gain
    short = ~tax.long_term
    # The year's net ST gain after LT losses pays r_S - r_L more. With an LT net loss in the
    # year (A_L < 0) this run's LT results net against the ST gains too (the LT net stays a
    # loss near the current point): the hinge is on N = N_S + N_L; else on N_S alone.
    st_coef = gain if a_l < 0.0 else np.where(short, gain, 0.0)
    candidates = (
        Hinge("tax_year:short_term_net", st_coef, -(a_s + min(a_l, 0.0)) / base, r_s - r_l),
        # A net loss beyond the ordinary-income offset is worth only the carry-forward rate.
        Hinge(
            "tax_year:carryforward",
            -gain,
            (float(ty.ordinary_offset) + a_s + a_l) / base,
            r_l - r_c,
        ),
    )
    hinges: list[Hinge] = []
    for hinge in candidates:
        free = np.where(sellable, hinge.coef, 0.0)
        lo = float(np.minimum(free, 0.0).sum()) - hinge.rhs
        hi = float(np.maximum(free, 0.0).sum()) - hinge.rhs
        if hinge.price <= 0.0 or hi <= 0.0:
            continue
        if lo >= 0.0:
            coef = coef + hinge.price * hinge.coef
            continue
        hinges.append(hinge)
    return coef, tuple(hinges)


def wait_coef(problem: Problem, tax: LotTax, base: float) -> FloatArray:
    """``(L,)`` waiting charge per lot sold whole (weight units): (r_S - r_L) x gain / B for a
    short-term gain lot that turns long-term within ``Settings.anniversary_days``; else 0."""
    days = int(problem.settings.anniversary_days)
    n_lots = tax.gain.shape[0]
    if days <= 0 or n_lots == 0:
        return np.zeros(n_lots)
    turns_lt = anniversary(problem.lots.acquired) + np.timedelta64(1, "D")
    to_go = (turns_lt - np.datetime64(problem.as_of, "D")).astype(np.int64)
    near = ~tax.long_term & (tax.gain > 0) & (to_go <= days)
    diff = max(float(problem.tax_rates.short_term) - float(problem.tax_rates.long_term), 0.0)
    result: FloatArray = np.where(near, diff * tax.gain / base, 0.0)
    return result
