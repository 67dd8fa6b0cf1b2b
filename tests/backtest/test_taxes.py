"""The backtest tax engine: holding period, year-end tax, carry-forward, ledger wash sales."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from optimizer_lab.backtest.taxes import (
    ACTUAL_RATES,
    CBL_RATES,
    Carry,
    Ledger,
    is_long_term,
    year_tax,
)


def o(s: str) -> int:
    return dt.date.fromisoformat(s).toordinal()


def test_long_term_starts_one_year_and_one_day_after_purchase() -> None:
    bought = o("2015-03-10")
    assert not is_long_term(bought, o("2016-03-09"))
    assert not is_long_term(bought, o("2016-03-10"))  # exactly one year: short-term
    assert is_long_term(bought, o("2016-03-11"))  # one year and one day: long-term


def test_leap_day_purchase_anniversary_is_feb_28() -> None:
    bought = o("2016-02-29")
    assert not is_long_term(bought, o("2017-02-28"))
    assert is_long_term(bought, o("2017-03-01"))


def test_year_tax_nets_characters_at_the_gain_rate() -> None:
    # 2016: ST gain 10,000, LT loss 4,000 -> net ST 6,000 at 43.4 %; dividends 1,000 at 23.8 %.
    tax, carry = year_tax(10_000.0, -4_000.0, 1_000.0, 2016, ACTUAL_RATES, False, Carry())
    assert tax == pytest.approx(6_000 * 0.434 + 1_000 * 0.238)
    assert carry == Carry()
    # ST loss 3,000 against LT gain 5,000 -> LT 2,000 at 15 % (CBL rates).
    tax, _ = year_tax(-3_000.0, 5_000.0, 0.0, 2019, CBL_RATES, True, Carry())
    assert tax == pytest.approx(2_000 * 0.15)


def test_net_loss_with_outside_gains_saves_the_short_term_rate() -> None:
    tax, carry = year_tax(-10_000.0, -2_000.0, 0.0, 2018, ACTUAL_RATES, True, Carry())
    assert tax == pytest.approx(-12_000 * 0.408)
    assert carry == Carry()


def test_carry_forward_deducts_3000_a_year_against_income() -> None:
    # Year 1: ST loss 10,000, no outside gains: 3,000 against income at 39.6 %, 7,000 carried.
    tax1, c1 = year_tax(-10_000.0, 0.0, 0.0, 2015, ACTUAL_RATES, False, Carry())
    assert tax1 == pytest.approx(-3_000 * 0.396)
    assert c1.short_term == pytest.approx(7_000) and c1.long_term == 0.0
    # Year 2: nothing realized: another 3,000 (at 39.6 %), 4,000 carried.
    tax2, c2 = year_tax(0.0, 0.0, 0.0, 2016, ACTUAL_RATES, False, c1)
    assert tax2 == pytest.approx(-3_000 * 0.396)
    assert c2.short_term == pytest.approx(4_000)
    # Year 3 (2018 rates): LT gain 5,000; the 4,000 ST carry offsets it: 1,000 LT at 23.8 %.
    tax3, c3 = year_tax(0.0, 5_000.0, 0.0, 2018, ACTUAL_RATES, False, c2)
    assert tax3 == pytest.approx(1_000 * 0.238)
    assert c3 == Carry()


def test_carry_forward_keeps_character_and_uses_short_term_first() -> None:
    tax, c = year_tax(-2_000.0, -5_000.0, 0.0, 2019, ACTUAL_RATES, False, Carry())
    assert tax == pytest.approx(-3_000 * 0.37)
    assert c.short_term == pytest.approx(0.0)
    assert c.long_term == pytest.approx(4_000.0)


def _ledger(groups: list[int] | None = None, wash: bool = True) -> Ledger:
    tickers = ("AAA", "BBB", "CCC")
    g = np.array(groups if groups is not None else [0, 1, 2], dtype=np.int64)
    lg = Ledger(tickers, g, cost_rate=0.0, wash_sale=wash)
    lg.cash = 1e6
    return lg


def test_ledger_realizes_short_and_long_term_gains() -> None:
    lg = _ledger()
    a = lg.buy(o("2015-03-10"), 0, 10.0, 100.0)
    b = lg.buy(o("2015-03-10"), 0, 10.0, 100.0)
    assert lg.sell(o("2016-03-10"), a, 10.0, 110.0) == pytest.approx(100.0)
    assert lg.sell(o("2016-03-11"), b, 10.0, 90.0) == pytest.approx(-100.0)
    t = lg.years[2016]
    assert t.st_gain == pytest.approx(100.0)
    assert t.lt_gain == pytest.approx(-100.0)


def test_ledger_wash_sale_disallows_share_for_share_and_carries_basis_and_holding() -> None:
    lg = _ledger()
    first = lg.buy(o("2015-01-05"), 0, 100.0, 10.0)  # basis 1,000
    # sold at 8 on Feb 2 (28 days held): loss 2/share
    booked = lg.sell(o("2015-02-02"), first, 100.0, 8.0)
    assert booked == pytest.approx(-200.0)
    # 40 shares bought 30 days later at 9: 40 x 2 = 80 of the loss is disallowed
    new = lg.buy(o("2015-03-04"), 0, 40.0, 9.0)
    assert lg.years[2015].st_gain == pytest.approx(-120.0)
    assert lg.log[1].disallowed == pytest.approx(80.0)
    assert lg.basis[new] == pytest.approx(40 * 9.0 + 80.0)
    assert lg.start[new] == o("2015-03-04") - 28
    # a purchase 31 days after the sale is no replacement
    later = lg.buy(o("2015-03-05"), 0, 100.0, 9.0)
    assert lg.basis[later] == pytest.approx(900.0)
    assert lg.years[2015].st_gain == pytest.approx(-120.0)


def test_ledger_wash_sale_with_purchase_before_and_partial_lot() -> None:
    lg = _ledger()
    old = lg.buy(o("2015-01-02"), 0, 100.0, 10.0)
    recent = lg.buy(o("2015-03-01"), 0, 30.0, 8.0)  # within 30 days before the sale
    lg.sell(o("2015-03-20"), old, 50.0, 7.0)  # loss 3/share on 50 shares
    assert lg.years[2015].st_gain == pytest.approx(-150.0 + 30 * 3.0)
    # the whole recent lot (30 shares) is the replacement: basis + 90, start earlier by 77 days
    assert lg.basis[recent] == pytest.approx(240.0 + 90.0)
    assert lg.start[recent] == o("2015-03-01") - (o("2015-03-20") - o("2015-01-02"))
    # the rest of the old lot is not its own replacement
    assert lg.basis[old] == pytest.approx(500.0)


def test_share_classes_are_substantially_identical() -> None:
    lg = _ledger(groups=[0, 0, 1])  # AAA and BBB: two classes of one issuer
    lot = lg.buy(o("2015-01-02"), 0, 10.0, 10.0)
    lg.sell(o("2015-02-10"), lot, 10.0, 9.0)
    lg.buy(o("2015-02-20"), 1, 10.0, 9.0)
    assert lg.years[2015].disallowed == pytest.approx(10.0)
    lg2 = _ledger()
    lot = lg2.buy(o("2015-01-02"), 0, 10.0, 10.0)
    lg2.sell(o("2015-02-10"), lot, 10.0, 9.0)
    lg2.buy(o("2015-02-20"), 1, 10.0, 9.0)
    assert lg2.years[2015].disallowed == 0.0


def test_ledger_without_the_rule_books_every_loss() -> None:
    lg = _ledger(wash=False)
    lot = lg.buy(o("2015-01-02"), 0, 10.0, 10.0)
    lg.sell(o("2015-02-10"), lot, 10.0, 9.0)
    lg.buy(o("2015-02-10"), 0, 10.0, 9.0)
    assert lg.years[2015].st_gain == pytest.approx(-10.0)
    assert lg.years[2015].disallowed == 0.0


def test_costs_enter_basis_and_proceeds() -> None:
    lg = Ledger(("AAA",), np.array([0]), cost_rate=0.0002)
    lg.cash = 10_000.0
    lot = lg.buy(o("2015-01-02"), 0, 10.0, 100.0)
    assert lg.basis[lot] == pytest.approx(1000.0 * 1.0002)
    assert lg.cash == pytest.approx(10_000.0 - 1000.2)
    gain = lg.sell(o("2015-01-05"), lot, 10.0, 100.0)
    assert gain == pytest.approx(1000.0 * 0.9998 - 1000.2)
