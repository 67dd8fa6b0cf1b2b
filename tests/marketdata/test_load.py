"""market_data_load: securities and full price history into a firm; idempotent, audited, scoped."""

from __future__ import annotations

import datetime as dt
import io
from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied
from django.core.management import CommandError, call_command

from demo.marketdata.load import market_data_load
from models_hub.models import Price, Security, SecurityStatus
from rebalancer.authz import SystemActor
from rebalancer.models import AuditEvent
from rebalancer.roles import Role
from tests.conftest import Cast
from tests.marketdata.csvfile import csv_closes, csv_dates

pytestmark = pytest.mark.django_db

TICKERS = ["CELG", "MSFT", "SYN.MUNI", "SYN.USLC"]


def _prices(firm_id: int, ticker: str) -> dict[dt.date, Decimal]:
    rows = Price.objects.for_firm(firm_id).filter(security__ticker=ticker)
    return dict(rows.values_list("date", "close"))


def test_load_writes_securities_and_full_history_as_in_the_files(cast: Cast) -> None:
    counts = market_data_load(firm=cast.firm_a, actor=cast.user(Role.DATA_MANAGER), tickers=TICKERS)
    assert counts.securities_created == 4
    msft = Security.objects.for_firm(cast.firm_a.pk).get(ticker="MSFT")
    assert (msft.name, msft.security_type, msft.is_synthetic) == ("Microsoft", "stock", False)
    assert msft.sector == "Information Technology"
    assert msft.source.startswith("Real:")
    celgene = Security.objects.for_firm(cast.firm_a.pk).get(ticker="CELG")
    assert celgene.status == SecurityStatus.DELISTED
    muni = Security.objects.for_firm(cast.firm_a.pk).get(ticker="SYN.MUNI")
    assert muni.is_synthetic and "(synthetic)" in muni.name and muni.source.startswith("Synthetic:")

    expected = {day: close for (t, day), close in csv_closes().items() if t == "MSFT"}
    assert _prices(cast.firm_a.pk, "MSFT") == expected
    assert len(_prices(cast.firm_a.pk, "SYN.MUNI")) == len(csv_dates())
    assert (
        counts.prices_created
        == Price.objects.for_firm(cast.firm_a.pk).exclude(security__ticker="AAPL").count()
    )
    # Firm B saw nothing.
    assert not Security.objects.for_firm(cast.firm_b.pk).filter(ticker__in=TICKERS).exists()


def test_second_load_changes_nothing_and_a_changed_close_is_restored(cast: Cast) -> None:
    first = market_data_load(firm=cast.firm_a, actor=SystemActor.COMMAND, tickers=TICKERS)
    again = market_data_load(firm=cast.firm_a, actor=SystemActor.COMMAND, tickers=TICKERS)
    assert (again.securities_created, again.prices_created, again.prices_updated) == (0, 0, 0)
    assert again.securities_unchanged == 4
    assert again.prices_unchanged == first.prices_created

    day = dt.date(2018, 3, 1)
    Price.objects.for_firm(cast.firm_a.pk).filter(security__ticker="MSFT", date=day).update(
        close=Decimal("1.00")
    )
    Security.objects.for_firm(cast.firm_a.pk).filter(ticker="MSFT").update(name="Wrong")
    fixed = market_data_load(firm=cast.firm_a, actor=SystemActor.COMMAND, tickers=["MSFT"])
    assert (fixed.prices_updated, fixed.securities_updated) == (1, 1)
    assert _prices(cast.firm_a.pk, "MSFT")[day] == csv_closes()[("MSFT", day)]
    assert Security.objects.for_firm(cast.firm_a.pk).get(ticker="MSFT").name == "Microsoft"


def test_existing_security_of_the_cast_gains_history(cast: Cast) -> None:
    # The cast's AAPL has one price on 2019-12-31 (293.65, the real close): it is kept.
    counts = market_data_load(firm=cast.firm_a, actor=SystemActor.COMMAND, tickers=["AAPL"])
    assert counts.securities_updated == 1  # the cast's row lacks the reference fields
    assert counts.prices_unchanged == 1
    assert len(_prices(cast.firm_a.pk, "AAPL")) == counts.prices_created + 1
    assert Security.objects.for_firm(cast.firm_a.pk).filter(ticker="AAPL").count() == 1


def test_unknown_ticker_is_refused_and_nothing_written(cast: Cast) -> None:
    before = Security.objects.count(), Price.objects.count(), AuditEvent.objects.count()
    with pytest.raises(ValueError, match="NOPE"):
        market_data_load(firm=cast.firm_a, actor=SystemActor.COMMAND, tickers=["MSFT", "NOPE"])
    with pytest.raises(ValueError, match="no tickers"):
        market_data_load(firm=cast.firm_a, actor=SystemActor.COMMAND, tickers=[])
    assert (Security.objects.count(), Price.objects.count(), AuditEvent.objects.count()) == before


@pytest.mark.parametrize("role", [Role.ADVISOR, Role.COMPLIANCE, Role.FIRM_ADMIN])
def test_only_data_manager_of_the_firm_may_load(cast: Cast, role: Role) -> None:
    with pytest.raises(PermissionDenied):
        market_data_load(firm=cast.firm_a, actor=cast.user(role), tickers=["MSFT"])
    with pytest.raises(PermissionDenied):  # firm A's data manager cannot load into firm B
        market_data_load(firm=cast.firm_b, actor=cast.user(Role.DATA_MANAGER), tickers=["MSFT"])
    assert not Security.objects.filter(ticker="MSFT").exists()


def test_load_writes_one_audit_event_with_counts(cast: Cast) -> None:
    actor = cast.user(Role.DATA_MANAGER)
    counts = market_data_load(firm=cast.firm_a, actor=actor, tickers=["MSFT"])
    event = AuditEvent.objects.for_firm(cast.firm_a.pk).get(action="market_data.load")
    assert event.actor == actor
    assert event.after is not None
    assert event.after["prices_created"] == counts.prices_created
    assert event.after["tickers"] == 1


def test_command_loads_named_tickers_and_rejects_unknown_firm(cast: Cast) -> None:
    out = io.StringIO()
    call_command("load_market_data", firm="beta", tickers="SYN.MMF", stdout=out)
    assert "securities created: 1" in out.getvalue()
    assert Price.objects.for_firm(cast.firm_b.pk).filter(security__ticker="SYN.MMF").count() == 1259
    with pytest.raises(CommandError, match="no firm"):
        call_command("load_market_data", firm="nope", stdout=out)
    with pytest.raises(CommandError, match="NOPE"):
        call_command("load_market_data", firm="beta", tickers="NOPE", stdout=out)
