"""Positions with lots: a snapshot per named account; positions are always the sum of lots."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest
from django.utils import timezone

from accounts.invariants import position_lot_mismatches
from accounts.models import Position, TaxLot
from models_hub.models import Security
from tests.conftest import Cast
from tests.factories import SecurityFactory
from tests.feeds.conftest import assert_rejected, run, snapshot
from workflow.models import ImportStatus

pytestmark = pytest.mark.django_db

HEADER = "custodian,account_number,ticker,lot_id,quantity,cost_basis,acquired_on\n"


@pytest.fixture
def msft(cast: Cast) -> Security:
    return SecurityFactory(firm=cast.firm_a, ticker="MSFT")


def lots_of(account: Any) -> dict[str, tuple[str, Decimal, Decimal, dt.date]]:
    return {
        lot.lot_id: (lot.security.ticker, lot.quantity, lot.cost_basis, lot.acquired_on)
        for lot in TaxLot.objects.filter(account=account).select_related("security")
    }


def positions_of(account: Any) -> dict[str, Decimal]:
    rows = Position.objects.filter(account=account).values_list("security__ticker", "quantity")
    return dict(rows)


def line(account: Any, ticker: str, lot_id: str, qty: str, basis: str, day: str) -> str:
    return f"{account.custodian},{account.account_number},{ticker},{lot_id},{qty},{basis},{day}\n"


def test_file_replaces_the_named_accounts_lots_and_positions(cast: Cast, msft: Security) -> None:
    a1 = cast.account_a1
    text = HEADER + (
        line(a1, "AAPL", "A1-1", "12", "1200.00", "2016-03-01")  # changed quantity and basis
        + line(a1, "MSFT", "A1-3", "4.5", "450.25", "2018-07-02")  # new
        + line(a1, "msft", "A1-4", "0.5", "60", "2019-01-02")  # new; A1-2 is gone
    )
    record = run(cast, "lots", text)
    assert record.status == ImportStatus.APPLIED, record.errors
    assert (record.created, record.updated, record.unchanged, record.deleted) == (2, 1, 0, 1)
    assert record.detail["positions_created"] == 1
    assert record.detail["positions_updated"] == 1
    assert lots_of(a1) == {
        "A1-1": ("AAPL", Decimal("12"), Decimal("1200.00"), dt.date(2016, 3, 1)),
        "A1-3": ("MSFT", Decimal("4.5"), Decimal("450.25"), dt.date(2018, 7, 2)),
        "A1-4": ("MSFT", Decimal("0.5"), Decimal("60"), dt.date(2019, 1, 2)),
    }
    assert positions_of(a1) == {"AAPL": Decimal("12"), "MSFT": Decimal("5")}
    assert position_lot_mismatches(firm=cast.firm_a) == []
    # Firm B's lot is untouched.
    assert lots_of(cast.account_b1) == {
        "B1-1": ("AAPL", Decimal("7"), Decimal("700.00"), dt.date(2017, 1, 3))
    }


def test_same_file_twice_and_same_rows_in_another_order_change_nothing(
    cast: Cast, msft: Security
) -> None:
    a1 = cast.account_a1
    rows = [
        line(a1, "AAPL", "A1-1", "10", "1000.00", "2016-03-01"),
        line(a1, "MSFT", "A1-3", "4", "400", "2018-07-02"),
    ]
    first = run(cast, "lots", HEADER + "".join(rows))
    assert first.status == ImportStatus.APPLIED
    assert first.deleted == 1  # A1-2
    after = snapshot()
    second = run(cast, "lots", HEADER + "".join(rows))
    assert second.status == ImportStatus.UNCHANGED
    assert snapshot() == after
    reordered = run(cast, "lots", HEADER + "".join(reversed(rows)))
    assert reordered.status == ImportStatus.UNCHANGED
    assert (reordered.created, reordered.updated, reordered.deleted) == (0, 0, 0)
    assert reordered.unchanged == 2
    assert snapshot() == after


def test_lot_may_move_between_named_accounts(cast: Cast) -> None:
    a1, a2 = cast.account_a1, cast.account_a2
    text = HEADER + (
        line(a1, "AAPL", "A1-1", "10", "1000.00", "2016-03-01")
        + line(a2, "AAPL", "A1-2", "5", "1600.00", "2019-06-03")  # moved from a1 to a2
    )
    record = run(cast, "lots", text)
    assert record.status == ImportStatus.APPLIED, record.errors
    assert (record.created, record.updated, record.deleted) == (0, 1, 0)
    assert positions_of(a1) == {"AAPL": Decimal("10")}
    assert positions_of(a2) == {"AAPL": Decimal("5")}
    assert position_lot_mismatches(firm=cast.firm_a) == []


def test_a_row_naming_only_the_account_empties_it(cast: Cast) -> None:
    a1 = cast.account_a1
    record = run(cast, "lots", HEADER + f"{a1.custodian},{a1.account_number},,,,,\n")
    assert record.status == ImportStatus.APPLIED, record.errors
    assert (record.deleted, record.detail["positions_deleted"]) == (2, 1)
    assert lots_of(a1) == {} and positions_of(a1) == {}


def test_unknown_ticker(cast: Cast, before: dict[str, Any]) -> None:
    a1 = cast.account_a1
    text = HEADER + line(a1, "NOPE", "A1-9", "1", "1", "2019-01-02")
    assert_rejected(run(cast, "lots", text), [(2, "ticker", "unknown ticker")])
    assert snapshot() == before


def test_negative_or_zero_quantity(cast: Cast, before: dict[str, Any]) -> None:
    a1 = cast.account_a1
    text = HEADER + (
        line(a1, "AAPL", "A1-1", "-10", "1000.00", "2016-03-01")
        + line(a1, "AAPL", "A1-2", "0", "1600.00", "2019-06-03")
        + line(a1, "AAPL", "A1-3", "1", "-1.00", "2019-06-03")
    )
    assert_rejected(
        run(cast, "lots", text),
        [
            (2, "quantity", "must be positive"),
            (3, "quantity", "must be positive"),
            (4, "cost_basis", "must not be negative"),
        ],
    )
    assert snapshot() == before


def test_future_acquisition_date(cast: Cast, before: dict[str, Any]) -> None:
    tomorrow = (timezone.localdate() + dt.timedelta(days=1)).isoformat()
    text = HEADER + line(cast.account_a1, "AAPL", "A1-1", "10", "1000.00", tomorrow)
    assert_rejected(run(cast, "lots", text), [(2, "acquired_on", "date is in the future")])
    assert snapshot() == before


def test_malformed_date_or_number(cast: Cast, before: dict[str, Any]) -> None:
    a1 = cast.account_a1
    text = HEADER + (
        line(a1, "AAPL", "A1-1", "10", "1000.00", "3/1/2016")
        + line(a1, "AAPL", "A1-2", "five", "1600.00", "2019-06-03")
        + line(a1, "AAPL", "A1-3", "1", "$100", "2019-06-03")
        + line(a1, "AAPL", "A1-4", "1.0000001", "100", "2019-06-03")
    )
    assert_rejected(
        run(cast, "lots", text),
        [
            (2, "acquired_on", "malformed date"),
            (3, "quantity", "malformed number"),
            (4, "cost_basis", "malformed number"),
            (5, "quantity", "more than 6 decimal places"),
        ],
    )
    assert snapshot() == before


def test_duplicate_lot_id_in_the_file(cast: Cast, before: dict[str, Any]) -> None:
    a1 = cast.account_a1
    text = HEADER + (
        line(a1, "AAPL", "A1-1", "10", "1000.00", "2016-03-01")
        + line(a1, "AAPL", "A1-1", "5", "1600.00", "2019-06-03")
    )
    assert_rejected(run(cast, "lots", text), [(3, "lot_id", "duplicate lot id (first on line 2)")])
    assert snapshot() == before


def test_duplicate_lot_id_held_by_an_account_not_in_the_file(
    cast: Cast, before: dict[str, Any]
) -> None:
    text = HEADER + line(cast.account_a2, "AAPL", "A1-1", "10", "1000.00", "2016-03-01")
    assert_rejected(
        run(cast, "lots", text),
        [(2, "lot_id", "this lot id belongs to an account this file does not name")],
    )
    assert snapshot() == before


def test_account_of_another_firm(cast: Cast, before: dict[str, Any]) -> None:
    b1 = cast.account_b1
    text = HEADER + (
        line(cast.account_a1, "AAPL", "A1-1", "10", "1000.00", "2016-03-01")
        + line(b1, "AAPL", "B1-1", "70", "7000.00", "2017-01-03")
        + f"{b1.custodian},{b1.account_number},,,,,\n"  # trying to empty firm B's account
    )
    errors = assert_rejected(
        run(cast, "lots", text),
        [
            (3, "account_number", "unknown account for this firm"),
            (4, "account_number", "unknown account for this firm"),
        ],
    )
    assert all(error["reason"] == "unknown account for this firm" for error in errors)
    assert cast.firm_b.name not in str(errors)
    assert snapshot() == before  # firm B's lot and position included
    assert lots_of(b1) == {"B1-1": ("AAPL", Decimal("7"), Decimal("700.00"), dt.date(2017, 1, 3))}


def test_missing_column(cast: Cast, before: dict[str, Any]) -> None:
    text = "custodian,account_number,ticker,lot_id,quantity,acquired_on\nS,1,AAPL,L,1,2019-01-02\n"
    assert_rejected(run(cast, "lots", text), [(1, "cost_basis", "missing column")])
    assert snapshot() == before
