"""The independent wash-sale checker, on hand-written trade logs.

Logs are written here line by line (no tax-engine code), with what an arm *booked*; the checker
must find what the law disallows.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pytest

from optimizer_lab.backtest.checker import check_log


def o(s: str) -> int:
    return dt.date.fromisoformat(s).toordinal()


@dataclass
class Line:
    seq: int
    day: int
    kind: str
    ticker: str
    lot: str
    shares: float
    price: float
    amount: float
    basis: float = 0.0
    start: int = 0
    gain: float = 0.0
    disallowed: float = 0.0
    long_term: bool = False


def buy(seq: int, day: str, ticker: str, lot: str, shares: float, price: float) -> Line:
    return Line(seq, o(day), "B", ticker, lot, shares, price, shares * price)


def sell(
    seq: int,
    day: str,
    ticker: str,
    lot: str,
    shares: float,
    price: float,
    basis: float,
    start: str,
    disallowed: float = 0.0,
    long_term: bool = False,
) -> Line:
    amount = shares * price
    return Line(
        seq,
        o(day),
        "S",
        ticker,
        lot,
        shares,
        price,
        amount,
        basis=basis,
        start=o(start),
        gain=amount - basis,
        disallowed=disallowed,
        long_term=long_term,
    )


def loss_then_buy(buy_day: str) -> list[Line]:
    """100 shares bought at 10 on Jan 2, sold at 8 on Mar 2 booked as a full loss, 100 bought."""
    return [
        buy(0, "2015-01-02", "AAA", "L0", 100, 10.0),
        sell(1, "2015-03-02", "AAA", "L0", 100, 8.0, 1000.0, "2015-01-02"),
        buy(2, buy_day, "AAA", "L1", 100, 8.5),
    ]


@pytest.mark.parametrize(
    ("buy_day", "violations"),
    [("2015-04-01", 1), ("2015-04-02", 0)],  # sale + 30 days is inside, + 31 outside
)
def test_window_after_the_sale(buy_day: str, violations: int) -> None:
    rep = check_log(loss_then_buy(buy_day), {})
    assert rep.violations == violations
    assert rep.loss_sales == 1


@pytest.mark.parametrize(
    ("buy_day", "violations"),
    [("2015-01-31", 1), ("2015-01-30", 0)],  # sale - 30 days is inside, - 31 outside
)
def test_window_before_the_sale(buy_day: str, violations: int) -> None:
    log = [
        buy(0, "2014-12-01", "AAA", "L0", 100, 10.0),
        buy(1, buy_day, "AAA", "L1", 100, 9.0),
        sell(2, "2015-03-02", "AAA", "L0", 100, 8.0, 1000.0, "2014-12-01"),
    ]
    rep = check_log(log, {})
    assert rep.violations == violations


def test_booked_disallowance_is_no_violation_and_partial_matching_is_share_for_share() -> None:
    # only 40 replacement shares: 40 x 2 = 80 disallowed, not the whole 200 loss
    log = [
        buy(0, "2015-01-02", "AAA", "L0", 100, 10.0),
        sell(1, "2015-03-02", "AAA", "L0", 100, 8.0, 1000.0, "2015-01-02", disallowed=80.0),
        buy(2, "2015-03-10", "AAA", "L1", 40, 8.5),
    ]
    rep = check_log(log, {})
    assert rep.violations == 0
    assert rep.expected_disallowed == pytest.approx(80.0)
    log[1].disallowed = 0.0
    rep = check_log(log, {})
    assert rep.violations == 1
    assert rep.violation_loss == pytest.approx(80.0)
    log[1].disallowed = 200.0
    assert check_log(log, {}).over_disallowed == 1


def test_basis_and_holding_period_carry_over_to_the_replacement() -> None:
    # Loss sale of L0 (held Jan 2 -> Mar 2 = 59 days) disallows 2/share on 40 of the 100 new
    # shares. The part L1.w1 (40 shares) carries basis 40 x 8.5 + 80 = 420 and starts 59 days
    # before Mar 10; the rest of L1 keeps 60 x 8.5 = 510 and Mar 10.
    carried_start = dt.date.fromordinal(o("2015-03-10") - 59).isoformat()
    log = [
        buy(0, "2015-01-02", "AAA", "L0", 40, 10.0),
        sell(1, "2015-03-02", "AAA", "L0", 40, 8.0, 400.0, "2015-01-02", disallowed=80.0),
        buy(2, "2015-03-10", "AAA", "L1", 100, 8.5),
        # sold 2016-01-20: long-term only thanks to the carried holding period (from 2015-01-10)
        sell(3, "2016-01-20", "AAA", "L1.w1", 40, 9.0, 420.0, carried_start, long_term=True),
        sell(4, "2016-01-20", "AAA", "L1", 60, 9.0, 510.0, "2015-03-10"),
    ]
    rep = check_log(log, {})
    assert (rep.violations, rep.basis_mismatches, rep.holding_mismatches) == (0, 0, 0)
    assert rep.unknown_lots == 0
    # an arm that forgot the basis adjustment, or the holding period, is caught
    log[3].basis = 340.0
    assert check_log(log, {}).basis_mismatches == 1
    log[3].basis = 420.0
    log[3].start = o("2015-03-10")
    log[3].long_term = False
    assert check_log(log, {}).holding_mismatches == 1


def test_replacement_share_serves_one_loss_sale_only() -> None:
    log = [
        buy(0, "2015-01-02", "AAA", "L0", 100, 10.0),
        buy(1, "2015-01-02", "AAA", "L1", 100, 10.0),
        sell(2, "2015-03-02", "AAA", "L0", 100, 8.0, 1000.0, "2015-01-02", disallowed=200.0),
        sell(3, "2015-03-03", "AAA", "L1", 100, 8.0, 1000.0, "2015-01-02"),
        buy(4, "2015-03-10", "AAA", "L2", 100, 8.5),
    ]
    rep = check_log(log, {})
    # the 100 new shares replace the first sale's shares; the second loss stands
    assert rep.violations == 0
    assert rep.expected_disallowed == pytest.approx(200.0)


def test_share_classes_count_as_substantially_identical() -> None:
    log = [
        buy(0, "2015-01-02", "GOOG", "L0", 10, 500.0),
        sell(1, "2015-03-02", "GOOG", "L0", 10, 450.0, 5000.0, "2015-01-02"),
        buy(2, "2015-03-05", "GOOGL", "L1", 10, 460.0),
    ]
    assert check_log(log, {"GOOG": "alphabet", "GOOGL": "alphabet"}).violations == 1
    assert check_log(log, {}).violations == 0


def test_gain_sales_are_never_wash_sales() -> None:
    log = [
        buy(0, "2015-01-02", "AAA", "L0", 100, 10.0),
        sell(1, "2015-03-02", "AAA", "L0", 100, 12.0, 1000.0, "2015-01-02"),
        buy(2, "2015-03-03", "AAA", "L1", 100, 12.0),
    ]
    rep = check_log(log, {})
    assert (rep.loss_sales, rep.violations) == (0, 0)


def test_checker_agrees_with_the_tax_engine_on_a_mixed_sequence() -> None:
    """The two independent implementations must agree (no violation, no mismatch) on a sequence
    with backward and forward matches, partial lots and carried lots sold again."""
    import numpy as np

    from optimizer_lab.backtest.taxes import Ledger

    lg = Ledger(("AAA", "BBB"), np.array([0, 0]), cost_rate=0.0002)
    lg.cash = 1e6
    a = lg.buy(o("2015-01-02"), 0, 100, 10.0)
    b = lg.buy(o("2015-02-20"), 1, 30, 9.5)
    lg.sell(o("2015-03-02"), a, 60, 8.0)  # backward match: 30 shares of b
    c = lg.buy(o("2015-03-20"), 0, 50, 8.2)  # forward match: 30 more of the 60
    lg.sell(o("2015-03-25"), a, 40, 7.5)  # 20 unused shares of c remain as replacement
    assert lg.shares[c] == pytest.approx(20.0)  # 30 of its 50 shares became lot L2.w1
    assert b >= 0
    for r in lg.open_rows():  # every lot, carried parts included
        lg.sell(o("2015-05-01"), int(r), float(lg.shares[r]), 9.0)
    rep = check_log(lg.log, {"AAA": "g", "BBB": "g"})
    assert rep.loss_sales >= 2
    assert rep.expected_disallowed > 0.0
    assert (rep.violations, rep.over_disallowed) == (0, 0)
    assert (rep.basis_mismatches, rep.holding_mismatches, rep.unknown_lots) == (0, 0, 0)


def test_a_wash_sale_booked_correctly_is_still_counted_as_a_wash_sale() -> None:
    # Issue 17, defect 8: the engine arm booked its wash sales, so the report said 0
    # violations; the checker now counts the wash sales themselves.
    log = [
        buy(1, "2020-01-02", "AAA", "L1", 10, 100.0),
        buy(2, "2020-03-01", "AAA", "L2", 10, 80.0),
        sell(3, "2020-03-10", "AAA", "L1", 10, 80.0, 1000.0, "2020-01-02", disallowed=200.0),
        sell(4, "2020-06-01", "AAA", "L2", 5, 90.0, 400.0, "2020-03-01"),
    ]
    rep = check_log(log, {})
    assert rep.violations == 0
    assert rep.wash_sales == 1
    assert rep.wash_sale_loss == pytest.approx(200.0)


def test_a_wash_sale_whose_replacement_is_sold_the_same_day_is_not_deferred() -> None:
    # Two recent purchases sold together at a loss (an optimizer-arm bundle sold whole): the
    # first sale is a wash sale in law, but its disallowed loss moves into a lot sold that same
    # day. Sold in part, the loss stays deferred in the purchase still held.
    whole = [
        buy(1, "2020-03-01", "AAA", "L1", 10, 100.0),
        buy(2, "2020-03-02", "AAA", "L2", 10, 100.0),
        sell(3, "2020-03-10", "AAA", "L1", 10, 80.0, 1000.0, "2020-03-01", disallowed=200.0),
        sell(4, "2020-03-10", "AAA", "L2", 10, 80.0, 1200.0, "2020-02-22"),
    ]
    rep = check_log(whole, {})
    assert rep.wash_sales == 1 and rep.wash_sales_deferred == 0
    rep = check_log(whole[:3], {})
    assert rep.wash_sales == 1 and rep.wash_sales_deferred == 1
