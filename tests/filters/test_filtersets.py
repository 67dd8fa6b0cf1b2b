"""One filter mechanism: every listed model has a FilterSet that covers the fields users filter on,
used by the pages and the API alike; odd input is a clear 400, never a 500."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.db import models
from django.test import Client
from django.urls import reverse

from accounts.filters import (
    AccountFilterSet,
    BulkChangeFilterSet,
    HouseholdFilterSet,
    PositionFilterSet,
    SavedFilterFilterSet,
    TaxLotFilterSet,
)
from accounts.models import Account, AccountStatus
from models_hub.filters import (
    AssetClassFilterSet,
    DefinitionFilterSet,
    ModelSubscriptionFilterSet,
    SecurityFilterSet,
)
from rebalancer.filters import MAX_ID, AuditEventFilterSet, FirmFilterSet, MembershipFilterSet
from rebalancer.roles import Role
from tests.conftest import Cast
from tests.factories import AccountFactory
from workflow.filters import ImportRecordFilterSet

ClientFor = Callable[[Any], Client]

FILTERSETS: list[type[FirmFilterSet]] = [
    HouseholdFilterSet,
    AccountFilterSet,
    PositionFilterSet,
    TaxLotFilterSet,
    SecurityFilterSet,
    MembershipFilterSet,
    AuditEventFilterSet,
    ImportRecordFilterSet,
    AssetClassFilterSet,
    DefinitionFilterSet,
    ModelSubscriptionFilterSet,
    SavedFilterFilterSet,
    BulkChangeFilterSet,
]


def _filtered_fields(filterset: type[FirmFilterSet]) -> set[str]:
    """Model field names a FilterSet filters on (by declared name or by its field path)."""
    names: set[str] = set()
    for name, declared in filterset.base_filters.items():
        names.add(name)
        path = str(declared.field_name or "")
        names.add(path.split("__")[0].removesuffix("_id"))
        names.add(path.removesuffix("_id"))
    return names


@pytest.mark.parametrize("filterset", FILTERSETS, ids=lambda f: f.__name__)
def test_every_model_field_has_a_filter_or_a_stated_reason(filterset: type[FirmFilterSet]) -> None:
    model: type[models.Model] = filterset._meta.model  # type: ignore[attr-defined]
    fields = {f.name for f in model._meta.get_fields() if f.concrete and not f.auto_created}
    fields.add("id")
    filtered = _filtered_fields(filterset)
    missing = sorted(fields - filtered - set(filterset.not_filtered))
    assert missing == [], f"{filterset.__name__}: add a filter or a reason for {missing}"
    stale = sorted(set(filterset.not_filtered) - fields)
    assert stale == [], f"{filterset.__name__}.not_filtered names no field: {stale}"


@pytest.mark.parametrize("filterset", FILTERSETS, ids=lambda f: f.__name__)
def test_no_filter_defaults_to_an_unscoped_queryset(filterset: type[FirmFilterSet]) -> None:
    """Foreign keys are filtered by id: a ModelChoiceFilter would list objects.all()."""
    for name, declared in filterset.base_filters.items():
        assert getattr(declared, "queryset", None) is None, f"{filterset.__name__}.{name}"


# --- The API ----------------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"status": "bogus"}, "status"),
        ({"colour": "red"}, "colour"),
        ({"household": "²"}, "household"),
        ({"household": "0"}, "household"),
        ({"household": str(MAX_ID + 1)}, "household"),
        ({"household": "99999999999999999999999"}, "household"),
        ({"q": "smith\x00"}, "q"),
        ({"custodian": "schwab\x07"}, "custodian"),
        ({"ordering": "password"}, "ordering"),
    ],
)
def test_api_answers_400_naming_the_bad_parameter(
    cast: Cast, client_for: ClientFor, params: dict[str, str], field: str
) -> None:
    response = client_for(cast.user(Role.OVERLAY_MANAGER)).get(reverse("api:account-list"), params)
    assert response.status_code == 400, response.content
    assert field in response.json()


@pytest.mark.django_db
def test_api_ticker_with_a_nul_byte_is_a_400(cast: Cast, client_for: ClientFor) -> None:
    client = client_for(cast.user(Role.OVERLAY_MANAGER))
    response = client.get(reverse("api:security-list"), {"ticker": "AA\x00PL"})
    assert response.status_code == 400
    assert "Null characters are not allowed" in str(response.json()["ticker"])


@pytest.mark.django_db
def test_api_filters_page_size_and_ordering_work(cast: Cast, client_for: ClientFor) -> None:
    for n in range(3):
        AccountFactory.create(household=cast.hh_a2, cash_balance=f"{n + 1}000.00")
    AccountFactory.create(household=cast.hh_a2, status=AccountStatus.CLOSED)
    client = client_for(cast.user(Role.OVERLAY_MANAGER))
    url = reverse("api:account-list")
    closed = client.get(url, {"status": "closed"}).json()
    assert [a["status"] for a in closed["results"]] == ["closed"]
    page = client.get(url, {"page_size": 2}).json()
    assert len(page["results"]) == 2
    assert page["count"] == Account.objects.for_firm(cast.firm_a.pk).count()
    by_cash = client.get(url, {"ordering": "-cash", "household": cast.hh_a2.pk}).json()
    cash = [float(a["cash_balance"]) for a in by_cash["results"]]
    assert cash == sorted(cash, reverse=True) and len(cash) >= 4
    in_household = client.get(url, {"household": cast.hh_a1.pk}).json()
    assert {a["household"] for a in in_household["results"]} == {cast.hh_a1.pk}


@pytest.mark.django_db
def test_api_filter_by_another_firms_id_matches_nothing(cast: Cast, client_for: ClientFor) -> None:
    client = client_for(cast.user(Role.OVERLAY_MANAGER))
    response = client.get(reverse("api:account-list"), {"household": cast.hh_b1.pk})
    assert response.status_code == 200
    assert response.json()["count"] == 0


# --- The pages --------------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("route", "params"),
    [
        ("accounts:account_list", {"q": "a\x00"}),
        ("accounts:account_list", {"household": "²"}),
        ("accounts:account_list", {"status": "bogus"}),
        ("accounts:household_list", {"q": "\x00"}),
        ("securities:security_list", {"ticker": "\x00"}),
        ("audit_log", {"actor": "x\x00"}),
    ],
)
def test_pages_answer_400_with_the_error_shown(
    cast: Cast, client_for: ClientFor, route: str, params: dict[str, str]
) -> None:
    response = client_for(cast.user(Role.FIRM_ADMIN)).get(reverse(route), params)
    assert response.status_code == 400
    assert b"Check the filter" in response.content


@pytest.mark.django_db
def test_page_past_the_end_shows_the_last_page(cast: Cast, client_for: ClientFor) -> None:
    client = client_for(cast.user(Role.OVERLAY_MANAGER))
    url = reverse("accounts:account_list")
    for page in ("999", "last", "-1"):
        response = client.get(url, {"page": page})
        assert response.status_code == 200
        assert response.context["page_obj"].number == response.context["paginator"].num_pages
    assert client.get(url, {"page": "abc"}).context["page_obj"].number == 1


@pytest.mark.django_db
def test_pages_and_api_share_the_filter(cast: Cast, client_for: ClientFor) -> None:
    AccountFactory.create(household=cast.hh_a2, status=AccountStatus.SUSPENDED, name="Frozen")
    client = client_for(cast.user(Role.OVERLAY_MANAGER))
    page = client.get(reverse("accounts:account_list"), {"status": "suspended"})
    api = client.get(reverse("api:account-list"), {"status": "suspended"}).json()
    assert [a.name for a in page.context["object_list"]] == [a["name"] for a in api["results"]]
    assert [a["name"] for a in api["results"]] == ["Frozen"]


@pytest.mark.django_db
def test_list_pages_sort_by_a_column(cast: Cast, client_for: ClientFor) -> None:
    for n in range(3):
        AccountFactory.create(household=cast.hh_a2, cash_balance=f"{n + 1}00.00")
    client = client_for(cast.user(Role.OVERLAY_MANAGER))
    url = reverse("accounts:account_list")
    rows = client.get(url, {"ordering": "-cash"}).context["object_list"]
    cash = [a.cash_balance for a in rows]
    assert cash == sorted(cash, reverse=True)
    rows = client.get(url, {"ordering": "cash"}).context["object_list"]
    assert [a.cash_balance for a in rows] == sorted(cash)


@pytest.mark.django_db
def test_lots_page_by_cursor_through_every_row(cast: Cast, client_for: ClientFor) -> None:
    from accounts.models import TaxLot

    client = client_for(cast.user(Role.OVERLAY_MANAGER))
    seen: list[int] = []
    url: str | None = reverse("api:lot-list") + "?page_size=1"
    while url:
        data = client.get(url).json()
        assert "count" not in data  # no COUNT over millions of lots
        seen += [lot["id"] for lot in data["results"]]
        url = data["next"]
    assert seen == list(
        TaxLot.objects.for_firm(cast.firm_a.pk).order_by("pk").values_list("pk", flat=True)
    )


@pytest.mark.django_db
def test_pages_read_from_the_end_show_the_same_rows(cast: Cast, client_for: ClientFor) -> None:
    """The second half of a list is read backwards from its end: same rows, same order."""
    from django.core.paginator import Paginator

    from rebalancer.web import ReversiblePaginator

    for n in range(23):
        AccountFactory.create(household=cast.hh_a2, account_number=f"R{n:03d}")
    rows = Account.objects.for_firm(cast.firm_a.pk).order_by("custodian", "account_number", "pk")
    plain, reversible = Paginator(rows, 4), ReversiblePaginator(rows, 4)
    assert plain.num_pages == reversible.num_pages >= 6
    for number in range(1, plain.num_pages + 1):
        assert list(reversible.page(number)) == list(plain.page(number)), number


@pytest.mark.django_db
def test_the_schema_declares_id_bounds_and_error_answers(cast: Cast, client_for: ClientFor) -> None:
    schema = client_for(cast.user(Role.ADVISOR)).get(reverse("api:schema"), {"format": "json"})
    accounts = schema.json()["paths"]["/api/v1/accounts/"]["get"]
    household = next(p for p in accounts["parameters"] if p["name"] == "household")
    assert household["schema"]["type"] == "integer"
    assert (household["schema"]["minimum"], household["schema"]["maximum"]) == (1, MAX_ID)
    for code in ("200", "400", "401", "403", "404"):
        assert code in accounts["responses"], code
    detail = schema.json()["paths"]["/api/v1/accounts/{id}/"]["get"]
    assert "404" in detail["responses"]
