"""Holding period and per-lot tax (docs/optimizer.md section 1)."""

import datetime as dt

import numpy as np

from optimizer.tax import anniversary, is_long_term, lot_tax
from tests.optimizer.factories import tiny


def _dates(*iso: str) -> np.ndarray:
    return np.array(iso, dtype="datetime64[D]")


def test_held_exactly_one_year_is_short_term_one_day_more_is_long() -> None:
    acquired = _dates("2018-03-01")
    assert not is_long_term(acquired, dt.date(2019, 3, 1))[0]
    assert is_long_term(acquired, dt.date(2019, 3, 2))[0]


def test_leap_day_anniversary_is_28_february() -> None:
    assert anniversary(_dates("2016-02-29"))[0] == np.datetime64("2017-02-28")
    assert not is_long_term(_dates("2016-02-29"), dt.date(2017, 2, 28))[0]
    assert is_long_term(_dates("2016-02-29"), dt.date(2017, 3, 1))[0]


def test_lot_tax_uses_the_rate_of_the_term_and_signs_losses() -> None:
    # A at $100: lot 1 LT gain 100*100-6000 = 4000, lot 2 ST loss 50*100-7000 = -2000.
    p = tiny([100.0], [1.0], [(0, 100, 6000.0, "2017-01-05"), (0, 50, 7000.0, "2018-12-01")])
    t = lot_tax(p)
    np.testing.assert_array_equal(t.gain, [4000.0, -2000.0])
    np.testing.assert_array_equal(t.long_term, [True, False])
    np.testing.assert_allclose(t.tax, [4000 * 0.20, -2000 * 0.37])
