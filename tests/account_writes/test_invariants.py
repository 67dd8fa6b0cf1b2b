"""position_lot_mismatches finds every position that is not the sum of its lots, and stray lots."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from accounts.invariants import position_lot_mismatches
from accounts.models import Position, TaxLot
from tests.conftest import Cast
from tests.factories import SecurityFactory, holding

pytestmark = pytest.mark.django_db


def test_the_cast_is_consistent(cast: Cast) -> None:
    assert position_lot_mismatches(firm=cast.firm_a) == []
    assert position_lot_mismatches(firm=cast.firm_b) == []


def test_a_position_off_by_one_millionth_is_caught(cast: Cast) -> None:
    position = Position.objects.get(account=cast.account_a1)
    Position.objects.filter(pk=position.pk).update(quantity=Decimal("15.000001"))
    [mismatch] = position_lot_mismatches(firm=cast.firm_a)
    assert mismatch.kind == "quantity"
    assert mismatch.position_id == position.pk
    assert mismatch.position_quantity == Decimal("15.000001")
    assert mismatch.lots_quantity == Decimal("15")
    assert position_lot_mismatches(firm=cast.firm_b) == []  # scoped to the firm


def test_a_position_without_lots_is_caught(cast: Cast) -> None:
    TaxLot.objects.filter(account=cast.account_a1).delete()
    [mismatch] = position_lot_mismatches(firm=cast.firm_a)
    assert (mismatch.kind, mismatch.lots_quantity) == ("quantity", Decimal("0"))


def test_a_lot_attached_to_another_accounts_position_is_caught(cast: Cast) -> None:
    other = holding(
        cast.account_a2,
        SecurityFactory(firm=cast.firm_a, ticker="MSFT"),
        [("A2-1", Decimal("4"), Decimal("400.00"), dt.date(2019, 2, 1))],
    )
    TaxLot.objects.filter(lot_id="A1-2").update(position=other)
    kinds = sorted((m.kind, m.lot_id) for m in position_lot_mismatches(firm=cast.firm_a))
    # The lot points at the wrong position, and both positions' sums are now wrong.
    assert kinds == [("lot_position", "A1-2"), ("quantity", ""), ("quantity", "")]
