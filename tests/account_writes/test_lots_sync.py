"""lots_sync: the one writer of lots and positions (the page, the lots feed and the demo book)."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal
from pathlib import Path

import pytest

from accounts.invariants import position_lot_mismatches
from accounts.models import Position, TaxLot
from accounts.services import LotInput, lots_sync
from rebalancer.authz import NotAuthorized, SystemActor
from rebalancer.roles import Role
from tests.conftest import ROOT, Cast
from tests.factories import SecurityFactory

pytestmark = pytest.mark.django_db

D = Decimal
DAY = dt.date(2018, 5, 1)


def _lot(security_id: int, lot_id: str, qty: str, basis: str = "100.00") -> LotInput:
    return LotInput(security_id, lot_id, D(qty), D(basis), DAY)


def test_sync_matches_lots_by_id_and_keeps_positions_the_sum(cast: Cast) -> None:
    msft = SecurityFactory.create(firm=cast.firm_a, ticker="MSFT")
    aapl = cast.security_a.pk
    kept = TaxLot.objects.get(lot_id="A1-1")
    counts = lots_sync(
        firm_id=cast.firm_a.pk,
        actor=cast.user(Role.DATA_MANAGER),
        lots={
            cast.account_a1.pk: [
                LotInput(aapl, "A1-1", kept.quantity, kept.cost_basis, kept.acquired_on),
                _lot(msft.pk, "N-1", "4"),
            ],
            cast.account_a2.pk: [],
        },
    )
    assert (counts.created, counts.unchanged, counts.deleted) == (1, 1, 1)
    assert TaxLot.objects.get(lot_id="A1-1").pk == kept.pk  # untouched, same row
    held = dict(
        Position.objects.filter(account=cast.account_a1).values_list("security__ticker", "quantity")
    )
    assert held == {"AAPL": kept.quantity, "MSFT": D("4")}
    assert not Position.objects.filter(account=cast.account_a2).exists()
    assert position_lot_mismatches(firm=cast.firm_a) == []


def test_sync_can_move_a_lot_between_named_accounts(cast: Cast) -> None:
    lot = TaxLot.objects.get(lot_id="A1-1")
    moved = LotInput(lot.security_id, lot.lot_id, lot.quantity, lot.cost_basis, lot.acquired_on)
    counts = lots_sync(
        firm_id=cast.firm_a.pk,
        actor=SystemActor.IMPORT,
        lots={cast.account_a1.pk: [], cast.account_a2.pk: [moved]},
    )
    assert counts.updated == 1
    assert TaxLot.objects.get(pk=lot.pk).account_id == cast.account_a2.pk
    assert position_lot_mismatches(firm=cast.firm_a) == []


def test_new_accounts_are_written_in_bulk_with_positions_as_sums(cast: Cast) -> None:
    from tests.factories import AccountFactory

    fresh = AccountFactory.create(household=cast.hh_a2)
    sid = cast.security_a.pk
    counts = lots_sync(
        firm_id=cast.firm_a.pk,
        actor=SystemActor.DEMO,
        lots={fresh.pk: [_lot(sid, "F-1", "1.5"), _lot(sid, "F-2", "2.25")]},
        new_accounts=True,
    )
    assert (counts.created, counts.positions_created) == (2, 1)
    assert Position.objects.get(account=fresh).quantity == D("3.75")
    assert position_lot_mismatches(firm=cast.firm_a) == []
    stored, fresh_value = _stored_and_fresh(cast, fresh.pk)
    assert stored == fresh_value > 0  # valued on insert, from the latest close


def test_only_roles_that_may_change_positions_sync(cast: Cast) -> None:
    for role in (Role.ADVISOR, Role.OVERLAY_MANAGER, Role.FIRM_ADMIN):
        with pytest.raises(NotAuthorized):
            lots_sync(firm_id=cast.firm_a.pk, actor=cast.user(role), lots={cast.account_a1.pk: []})
    assert TaxLot.objects.filter(account=cast.account_a1).exists()


def test_no_other_module_writes_lots_or_positions() -> None:
    """The invariant has one writer: nothing outside accounts/services.py creates, updates or
    deletes TaxLot or Position rows (tests and migrations aside)."""
    writes = re.compile(
        r"(TaxLot|Position)\.objects\b[^\n]*\.(create|bulk_create|bulk_update|update|delete)\("
        r"|model=(TaxLot|Position)\b|\b(TaxLot|Position)\((firm|pk|account)"
    )
    offenders = []
    for path in sorted(Path(ROOT).glob("*/**/*.py")):
        relative = path.relative_to(ROOT).as_posix()
        if relative.startswith(("tests/", ".venv/", "optimizer")) or "/migrations/" in relative:
            continue
        if relative == "accounts/services.py":
            continue
        if writes.search(path.read_text()):
            offenders.append(relative)
    assert offenders == []


def _stored_and_fresh(cast: Cast, account_id: int) -> tuple[Decimal, Decimal]:
    from accounts.models import Account
    from accounts.selectors import account_holdings_get

    stored = Account.objects.get(pk=account_id).securities_value
    fresh = account_holdings_get(user=cast.user(Role.MANAGEMENT), account_id=account_id)
    return stored, fresh.securities_value


def test_stored_account_values_follow_lot_and_price_writes(cast: Cast) -> None:
    """The stored value equals the holdings valued afresh after every writer of lots or prices."""
    from workflow.feeds.service import import_file

    stored, fresh = _stored_and_fresh(cast, cast.account_a1.pk)
    assert stored == fresh > 0
    lots_sync(
        firm_id=cast.firm_a.pk,
        actor=SystemActor.IMPORT,
        lots={cast.account_a1.pk: [_lot(cast.security_a.pk, "A1-9", "7")]},
    )
    stored, fresh = _stored_and_fresh(cast, cast.account_a1.pk)
    assert stored == fresh
    record = import_file(
        firm=cast.firm_a,
        actor=cast.user(Role.DATA_MANAGER),
        kind="prices",
        file_name="later.csv",
        content=b"ticker,date,close\nAAPL,2020-01-02,321.50\n",
    )
    assert record.status == "applied", record.errors
    stored, fresh = _stored_and_fresh(cast, cast.account_a1.pk)
    assert stored == fresh == D("7") * D("321.50")
