"""The account's tax year in the tax term (docs/optimizer.md section 4, "the account's tax
year"): netting against the year's realized and outside gains, the $3,000 ordinary-income
offset, carry-forward at its discount, the anniversary wait, and old JSON without the fields.

Rates are the defaults (short term 0.37, long term 0.20); r_c = 0.5 x 0.20 = 0.10.
"""

from __future__ import annotations

import dataclasses
import pathlib

import numpy as np
import pytest

from optimizer import EquivalenceGroup, Settings, Side, TaxYear, solve, solve_continuous
from optimizer.jsonio import problem_from_json, problem_to_json, solution_to_json
from optimizer.objective import terms_at
from optimizer.rules import prepare
from optimizer.types import Problem
from tests.optimizer.factories import tiny

DATA = pathlib.Path(__file__).parent / "data"


def _loss_account(tax_year: TaxYear | None, *, term: str = "LT", cost: float = 0.15) -> Problem:
    """A: 100 shares at $100 bought for $20,000 (a $10,000 loss, $1 of loss per $ sold), B: its
    substitute (not substantially identical: it may be bought while A's window is open),
    C: $10,000 at its basis. Selling A costs ``cost`` per $; buying B is free."""
    acquired = "2016-01-04" if term == "LT" else "2018-12-03"
    return tiny(
        [100.0, 100.0, 50.0],
        [0.5, 0.0, 0.5],
        [(0, 100, 20_000.0, acquired), (2, 200, 10_000.0, "2015-01-02")],
        cost_rates=np.array([cost, 0.0, 0.0]),
        equivalence_groups=(EquivalenceGroup(members=(0, 1)),),
        settings=Settings(risk_aversion=1.0, substitute_penalty=0.0),
        tax_year=tax_year,
    )


def _shares_sold(problem: Problem, security: int) -> float:
    sol = solve(problem)
    assert sol.status == "optimal", sol.diagnostics.message
    return sum(s.shares for s in sol.lot_sales if s.security == security)


@pytest.mark.parametrize(
    ("tax_year", "sold"),
    [
        # No tax year: every $ of loss at the LT rate, 0.20 > the 0.15 round trip: all of it.
        (None, 100.0),
        # Nothing realized yet: the first $3,000 of net loss offsets ordinary income (valued at
        # the LT rate, 0.20 > 0.15); beyond it a carry-forward is worth 0.10 < 0.15: 30 shares.
        (TaxYear(), 30.0),
        # $4,000 of LT gains so far: they are netted first (0.20), then the $3,000: 70 shares.
        (TaxYear(gain_ytd_long=4_000.0), 70.0),
        # The same $4,000 expected outside the account counts the same way.
        (TaxYear(outside_gain_long=4_000.0), 70.0),
        # $2,000 of ST gains and a $1,000 ST carry-forward: net $1,000 + $3,000 offset.
        (TaxYear(gain_ytd_short=2_000.0, carryforward_short=1_000.0), 40.0),
        # A large carry-forward: every new loss only adds to it (0.10 < 0.15): nothing.
        (TaxYear(carryforward_long=100_000.0), 0.0),
        # Carry-forward worth nothing (discount 0) after the offset: still the 30 shares.
        (TaxYear(carryforward_discount=0.0), 30.0),
    ],
)
def test_a_loss_is_harvested_as_far_as_the_year_values_it(
    tax_year: TaxYear | None, sold: float
) -> None:
    assert _shares_sold(_loss_account(tax_year), 0) == pytest.approx(sold, abs=1.0)


def test_short_term_loss_nets_short_term_gains_at_the_short_term_rate() -> None:
    """An ST loss against ST gains so far saves 0.37 per $ (> the 0.30 cost); against LT
    gains only 0.20 (< 0.30): the character of the year's gains decides."""
    cost = 0.30
    st_gains = _loss_account(TaxYear(gain_ytd_short=50_000.0), term="ST", cost=cost)
    lt_gains = _loss_account(TaxYear(gain_ytd_long=50_000.0), term="ST", cost=cost)
    assert _shares_sold(st_gains, 0) == 100.0
    assert _shares_sold(lt_gains, 0) == 0.0
    # Without a tax year the ST loss is valued at 0.37 whatever the year holds: harvested.
    assert _shares_sold(_loss_account(None, term="ST", cost=cost), 0) == 100.0
    # An LT carry-forward absorbs LT losses first; ST gains of the year are netted after.
    prep = prepare(st_gains)
    x = np.array([1.0, 0.0])
    assert terms_at(prep, x, np.zeros(3)).tax == pytest.approx(-10_000 * 0.37 / prep.base)


@pytest.mark.parametrize(
    ("tax_year", "fraction", "dollars"),
    [
        # $2,500 of loss: inside the $3,000 offset, at the LT rate.
        (TaxYear(), 0.25, -2_500 * 0.20),
        # $10,000: $3,000 offset + $7,000 carried forward at 0.5 x 0.20.
        (TaxYear(), 1.0, -(3_000 * 0.20 + 7_000 * 0.10)),
        # A $1,000 LT gain so far: netted first, then the offset, then carry-forward.
        (TaxYear(gain_ytd_long=1_000.0), 1.0, -(4_000 * 0.20 + 6_000 * 0.10)),
        # ST gains so far of $5,000 and no LT result: the LT loss this run realizes offsets
        # them, but the convex model values that offset at the LT rate (it is 0.37 in the
        # return; a convex term cannot give an LT loss more value against ST gains than an LT
        # gain costs: docs/optimizer.md section 4.1), then the offset (0.20), then carry-forward.
        (TaxYear(gain_ytd_short=5_000.0), 1.0, -(5_000 * 0.20 + 3_000 * 0.20 + 2_000 * 0.10)),
        # With an LT net loss already in the year the LT results net against the ST gains at
        # the ST rate: $6,000 ST, -$1,000 LT so far, then $5,000 at 0.37, $3,000 offset, rest.
        (
            TaxYear(gain_ytd_short=6_000.0, gain_ytd_long=-1_000.0),
            1.0,
            -(5_000 * 0.37 + 3_000 * 0.20 + 2_000 * 0.10),
        ),
        # ...whereas an LT loss carried in is netted against the ST gains at the ST rate: an
        # $8,000 LT carry-forward with $5,000 of ST gains leaves a $3,000 net loss (the offset),
        # so the sale's whole loss is carry-forward.
        (
            TaxYear(gain_ytd_short=5_000.0, carryforward_long=8_000.0),
            1.0,
            -10_000 * 0.10,
        ),
        # Already $20,000 carried forward: the whole loss is carry-forward.
        (TaxYear(carryforward_long=20_000.0), 1.0, -10_000 * 0.10),
    ],
)
def test_tax_term_of_a_loss_sale(tax_year: TaxYear, fraction: float, dollars: float) -> None:
    problem = _loss_account(tax_year)
    prep = prepare(problem)
    terms = terms_at(prep, np.array([fraction, 0.0]), np.zeros(3))
    assert terms.tax == pytest.approx(dollars / prep.base, rel=1e-12)


def test_gains_are_cheap_against_a_carry_forward() -> None:
    """C is 10 points overweight with a short-term gain of 50 % of its value: at 0.37 per $ of
    gain (0.185 per $ sold) trimming it is not worth the drift it closes; against a large
    carry-forward the gain costs 0.10 x 0.5 = 0.05 per $ sold and the engine trims it."""

    def account(tax_year: TaxYear | None) -> Problem:
        return tiny(
            [100.0, 50.0],
            [0.4, 0.6],
            [(0, 100, 5_000.0, "2018-12-03"), (1, 200, 10_000.0, "2015-01-02")],
            settings=Settings(risk_aversion=0.4),
            tax_year=tax_year,
        )

    assert _shares_sold(account(None), 0) == 0.0
    assert _shares_sold(account(TaxYear(carryforward_short=100_000.0)), 0) >= 5.0


def _anniversary_account(acquired: str, days: int) -> Problem:
    """A: 100 shares at $100, basis $9,000 (gain $1,000: 0.10 per $ sold), short term on
    2019-03-01; 10 points overweight against B. Selling A closes drift worth 4 gamma (0.1 - d)
    per $: 0.048 at d = 0 with gamma 0.12, above the 0.037 of ST tax, below 0.037 + the
    0.017 rate difference."""
    return tiny(
        [100.0, 50.0],
        [0.4, 0.6],
        [(0, 100, 9_000.0, acquired), (1, 200, 10_000.0, "2015-01-02")],
        settings=Settings(risk_aversion=0.12, anniversary_days=days),
    )


def test_a_short_term_gain_a_day_before_its_anniversary_waits() -> None:
    # Acquired 2018-03-01: long term from 2019-03-02, the day after the as-of date.
    assert _shares_sold(_anniversary_account("2018-03-01", 0), 0) >= 2.0
    waits = _anniversary_account("2018-03-01", 30)
    assert _shares_sold(waits, 0) == 0.0
    # The charge is the rate difference on the gain the sale would realize.
    prep = prepare(waits)
    t = terms_at(prep, np.array([1.0, 0.0]), np.zeros(2))
    assert t.wait == pytest.approx((0.37 - 0.20) * 1_000.0 / prep.base)
    assert t.total == pytest.approx(t.risk + t.tax + t.cost + t.substitute + t.wait)
    # Forty days from its anniversary the lot is outside a 30-day wait: sold as without it.
    far = "2018-04-10"
    assert _shares_sold(_anniversary_account(far, 30), 0) == _shares_sold(
        _anniversary_account(far, 0), 0
    )


def test_the_wait_is_in_the_reasons_numbers() -> None:
    """A sale that pays the waiting charge still has reasons that are true of their numbers:
    with a weaker wait window the engine sells A, and its objective_reduced (if given) counts
    the charge."""
    problem = _anniversary_account("2018-03-01", 0)
    problem = dataclasses.replace(
        problem, settings=dataclasses.replace(problem.settings, risk_aversion=1.0)
    )
    with_wait = dataclasses.replace(
        problem, settings=dataclasses.replace(problem.settings, anniversary_days=30)
    )
    a = solve(problem)
    b = solve(with_wait)
    sold_a = sum(s.shares for s in a.lot_sales)
    sold_b = sum(s.shares for s in b.lot_sales)
    assert 0 < sold_b < sold_a
    assert b.objective_after.wait > 0
    assert solve_continuous(with_wait).terms.wait > 0


def test_problem_json_written_before_the_tax_year_still_loads() -> None:
    text = (DATA / "problem_before_tax_year.json").read_text()
    problem = problem_from_json(text.strip())
    assert problem.tax_year is None
    assert problem.realized_gain_ytd == 12_000.0 and problem.tax_ytd == 2_500.0
    assert problem.settings.anniversary_days == 0
    assert problem_to_json(problem) == text.strip()  # same bytes back
    sol = solve(problem)
    assert '"wait"' not in solution_to_json(sol)  # a solution without a wait reads as before


def test_tax_year_round_trips_and_is_validated() -> None:
    ty = TaxYear(
        gain_ytd_short=-1_234.5,
        gain_ytd_long=10_000.25,
        carryforward_short=500.0,
        carryforward_long=0.0,
        outside_gain_short=0.0,
        outside_gain_long=25_000.0,
        ordinary_offset=3_000.0,
        carryforward_discount=0.4,
    )
    problem = _loss_account(ty)
    problem = dataclasses.replace(
        problem, settings=dataclasses.replace(problem.settings, anniversary_days=21)
    )
    text = problem_to_json(problem)
    back = problem_from_json(text)
    assert back.tax_year == ty and back.settings.anniversary_days == 21
    assert problem_to_json(back) == text
    for bad, field in [
        (dataclasses.replace(ty, carryforward_long=-1.0), "tax_year.carryforward_long"),
        (dataclasses.replace(ty, carryforward_discount=1.5), "tax_year.carryforward_discount"),
        (dataclasses.replace(ty, gain_ytd_short=float("nan")), "tax_year fields finite"),
    ]:
        with pytest.raises(ValueError, match=field):
            solve(dataclasses.replace(problem, tax_year=bad))


@pytest.mark.parametrize("backend", ["ipm", "piqp", "clarabel"])
def test_every_backend_prices_the_kinks_alike(backend: str) -> None:
    """The loss account with the kink inside the harvest: same continuous optimum everywhere."""
    problem = _loss_account(TaxYear(gain_ytd_long=4_000.0))
    problem = dataclasses.replace(
        problem, settings=dataclasses.replace(problem.settings, qp_backend=backend)
    )
    cont = solve_continuous(problem)
    assert cont.converged
    assert cont.lot_fraction[0] == pytest.approx(0.7, abs=1e-6)
    sol = solve(problem)
    sides = {t.security_id: (t.side, t.shares) for t in sol.trades}
    assert sides["A"][0] == Side.SELL
    assert sides["A"][1] == pytest.approx(70.0, abs=1.0)  # the continuous 0.7 of the lot
    assert sides["B"][0] == Side.BUY  # the substitute keeps the exposure
    assert sol.diagnostics.relaxed == ()


def test_a_kink_the_free_lots_cannot_cross_costs_no_row() -> None:
    """A huge carry-forward: every sale stays beyond the offset, so the carry-forward kink is
    folded into the linear part (each $ of gain or loss at r_c) and the problem has exactly the
    rows of the account without a tax year. A kink the lots can cross is one more row."""
    plain = solve(_loss_account(None))
    deep = _loss_account(TaxYear(carryforward_long=1e9))
    prep = prepare(deep)
    assert prep.hinges == ()
    np.testing.assert_allclose(prep.obj_tax_coef, 0.10 * prep.tax.gain / prep.base, rtol=1e-12)
    assert solve(deep).diagnostics.n_constraints == plain.diagnostics.n_constraints
    near = _loss_account(TaxYear())
    assert [h.name for h in prepare(near).hinges] == ["tax_year:carryforward"]
    assert solve(near).diagnostics.n_constraints == plain.diagnostics.n_constraints + 1
