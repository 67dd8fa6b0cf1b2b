"""lots_replace: lots become the lots, positions their sums, in one audited transaction."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from accounts.invariants import position_lot_mismatches
from accounts.models import Position, TaxLot
from accounts.services import LotInput, lots_replace
from rebalancer.authz import SystemActor
from rebalancer.models import AuditEvent
from rebalancer.roles import Role
from tests.conftest import Cast
from tests.factories import SecurityFactory

pytestmark = pytest.mark.django_db

D = Decimal
DAY = dt.date(2018, 5, 1)


def _lot(security_id: int, lot_id: str, qty: str, basis: str = "100.00") -> LotInput:
    return LotInput(security_id, lot_id, D(qty), D(basis), DAY)


def _holdings(account_id: int) -> dict[str, Decimal]:
    rows = Position.objects.filter(account_id=account_id).values_list(
        "security__ticker", "quantity"
    )
    return dict(rows)


def test_replace_recomputes_positions_from_lots_and_audits(cast: Cast) -> None:
    msft = SecurityFactory(firm=cast.firm_a, ticker="MSFT")
    aapl = cast.security_a
    actor = cast.user(Role.DATA_MANAGER)
    result = lots_replace(
        account=cast.account_a1,
        actor=actor,
        lots=[
            _lot(aapl.pk, "N-1", "3.5"),
            _lot(aapl.pk, "N-2", "1.25"),
            _lot(msft.pk, "N-3", "10", "2500.55"),
        ],
        reason="custodian lot file of 2020-01-10",
    )
    assert (result.positions, result.lots, result.lots_removed) == (2, 3, 2)
    assert _holdings(cast.account_a1.pk) == {"AAPL": D("4.75"), "MSFT": D("10")}
    assert set(TaxLot.objects.filter(account=cast.account_a1).values_list("lot_id", flat=True)) == {
        "N-1",
        "N-2",
        "N-3",
    }
    assert position_lot_mismatches(firm=cast.firm_a) == []
    event = AuditEvent.objects.for_firm(cast.firm_a.pk).get(action="lots.replace")
    assert event.actor == actor
    assert event.before == {"positions": {"AAPL": "15"}, "lots": 2}
    assert event.after == {"positions": {"AAPL": "4.75", "MSFT": "10"}, "lots": 3}
    assert event.reason == "custodian lot file of 2020-01-10"


def test_empty_lots_empty_the_account(cast: Cast) -> None:
    lots_replace(
        account=cast.account_a1,
        actor=SystemActor.COMMAND,
        lots=[],
        reason="account transferred out",
    )
    assert not Position.objects.filter(account=cast.account_a1).exists()
    assert not TaxLot.objects.filter(account=cast.account_a1).exists()


def test_reusing_the_accounts_own_lot_ids_is_allowed(cast: Cast) -> None:
    lots_replace(
        account=cast.account_a1,
        actor=SystemActor.COMMAND,
        lots=[_lot(cast.security_a.pk, "A1-1", "2")],
        reason="corrected quantity",
    )
    assert _holdings(cast.account_a1.pk) == {"AAPL": D("2")}


@pytest.mark.parametrize(
    ("lots", "message"),
    [
        ([("X-1", "0", "1.00")], "quantity must be greater than 0"),
        ([("X-1", "-1", "1.00")], "quantity must be greater than 0"),
        ([("X-1", "1.0000001", "1.00")], "more than 6 decimal places"),
        ([("X-1", "1", "-5.00")], "cost basis must not be negative"),
        ([("X-1", "1", "1.001")], "more than 2 decimal places"),
        ([("X-1", "1", "1.00"), ("X-1", "2", "1.00")], "appears 2 times"),
        ([("", "1", "1.00")], "lot id must be 1 to 64 characters"),
        ([("B1-1", "1", "1.00")], None),  # firm B's lot id: ids are per firm, so this one is free
    ],
)
def test_bad_lots_are_refused_and_nothing_changes(
    cast: Cast, lots: list[tuple[str, str, str]], message: str | None
) -> None:
    before = _holdings(cast.account_a1.pk), AuditEvent.objects.count()
    inputs = [_lot(cast.security_a.pk, lot_id, q, b) for lot_id, q, b in lots]
    if message is None:
        lots_replace(account=cast.account_a1, actor=SystemActor.COMMAND, lots=inputs, reason="r")
        return
    with pytest.raises(ValidationError, match=message):
        lots_replace(account=cast.account_a1, actor=SystemActor.COMMAND, lots=inputs, reason="r")
    assert (_holdings(cast.account_a1.pk), AuditEvent.objects.count()) == before


def test_security_of_another_firm_lot_id_of_another_account_and_future_date_are_refused(
    cast: Cast,
) -> None:
    TaxLot.objects.filter(lot_id="A1-2").update(account=cast.account_a2)  # another account's id
    with pytest.raises(ValidationError) as raised:
        lots_replace(
            account=cast.account_a1,
            actor=SystemActor.COMMAND,
            lots=[
                _lot(cast.security_b.pk, "Y-1", "1"),
                _lot(cast.security_a.pk, "A1-2", "1"),
                LotInput(cast.security_a.pk, "Y-3", D("1"), D("1.00"), dt.date(2020, 1, 11)),
            ],
            reason="r",
            today=dt.date(2020, 1, 10),
        )
    text = " ".join(raised.value.messages)
    assert f"no security {cast.security_b.pk} in this firm" in text
    assert "lot id A1-2 is already used by another account" in text
    assert "after today (2020-01-10)" in text
    assert _holdings(cast.account_a1.pk) == {"AAPL": D("15")}


def test_blank_reason_is_refused(cast: Cast) -> None:
    with pytest.raises(ValidationError, match="say why"):
        lots_replace(account=cast.account_a1, actor=SystemActor.COMMAND, lots=[], reason=" ")


@pytest.mark.parametrize("role", [Role.ADVISOR, Role.FIRM_ADMIN, Role.OVERLAY_MANAGER])
def test_only_the_data_manager_may_replace_lots(cast: Cast, role: Role) -> None:
    with pytest.raises(PermissionDenied):
        lots_replace(account=cast.account_a1, actor=cast.user(role), lots=[], reason="r")
    assert _holdings(cast.account_a1.pk) == {"AAPL": D("15")}


def test_data_manager_of_another_firm_is_refused(cast: Cast) -> None:
    with pytest.raises(PermissionDenied):
        lots_replace(
            account=cast.account_b1, actor=cast.user(Role.DATA_MANAGER), lots=[], reason="r"
        )
    assert _holdings(cast.account_b1.pk) == {"AAPL": D("7")}
