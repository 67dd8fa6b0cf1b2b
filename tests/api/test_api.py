"""The read API: scoped lists and details, nested lots, decimals as strings, filters, token auth."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from accounts.models import Position
from rebalancer.roles import Role
from rebalancer.tokens import api_token_create
from tests.conftest import Cast
from tests.factories import AccountFactory, PriceFactory, SecurityFactory, holding

pytestmark = pytest.mark.django_db

ClientFor = Callable[[Any], Client]
API_MAX_QUERIES = 8


def _json(client: Client, url: str, **params: Any) -> Any:
    response = client.get(url, params)
    assert response.status_code == 200, response.content
    return response.json()


def test_households_are_scoped_to_firm_and_advisor(cast: Cast, client_for: ClientFor) -> None:
    url = reverse("api:household-list")
    advisor = _json(client_for(cast.user(Role.ADVISOR)), url)
    assert [h["name"] for h in advisor["results"]] == ["Adams Family"]
    manager = _json(client_for(cast.user(Role.MANAGEMENT)), url)
    assert manager["count"] == 2
    assert {h["name"] for h in manager["results"]} == {"Adams Family", "Baker Trust"}
    assert [h["name"] for h in _json(client_for(cast.admin_b), url)["results"]] == [
        "Clark Household"
    ]


def test_positions_carry_value_and_nested_lots(cast: Cast, client_for: ClientFor) -> None:
    data = _json(client_for(cast.user(Role.ADVISOR)), reverse("api:position-list"))
    (position,) = data["results"]
    assert position["ticker"] == "AAPL"
    assert position["quantity"] == "15.000000"
    assert Decimal(position["latest_close"]) == Decimal("293.65")
    assert position["latest_date"] == "2019-12-31"
    assert position["market_value"] == "4404.75"
    assert [lot["lot_id"] for lot in position["lots"]] == ["A1-1", "A1-2"]
    assert position["lots"][1] == {
        "id": position["lots"][1]["id"],
        "lot_id": "A1-2",
        "quantity": "5.000000",
        "cost_basis": "1600.00",
        "acquired_on": "2019-06-03",
    }


def test_accounts_filter_by_household_and_reject_bad_ids(cast: Cast, client_for: ClientFor) -> None:
    client = client_for(cast.user(Role.MANAGEMENT))
    url = reverse("api:account-list")
    data = _json(client, url, household=cast.hh_a2.pk)
    assert [a["id"] for a in data["results"]] == [cast.account_a2.pk]
    assert data["results"][0]["cash_balance"] == "10000.00"
    # Another firm's household id filters to nothing: it never widens the scope.
    assert _json(client, url, household=cast.hh_b1.pk)["count"] == 0
    bad = client.get(url, {"household": "abc"})
    assert bad.status_code == 400
    assert "household" in bad.json()


def test_lots_filter_by_account(cast: Cast, client_for: ClientFor) -> None:
    client = client_for(cast.user(Role.COMPLIANCE))
    data = _json(client, reverse("api:lot-list"), account=cast.account_a1.pk)
    assert [lot["lot_id"] for lot in data["results"]] == ["A1-1", "A1-2"]
    assert data["results"][0]["ticker"] == "AAPL"
    assert _json(client, reverse("api:lot-list"), account=cast.account_a2.pk)["results"] == []


def test_securities_and_price_history(cast: Cast, client_for: ClientFor) -> None:
    PriceFactory.create(security=cast.security_a, date=dt.date(2020, 1, 2), close=Decimal("300.35"))
    client = client_for(cast.user(Role.DATA_MANAGER))
    (security,) = _json(client, reverse("api:security-list"))["results"]
    assert (security["ticker"], security["is_synthetic"]) == ("AAPL", False)
    assert (security["latest_date"], Decimal(security["latest_close"])) == (
        "2020-01-02",
        Decimal("300.35"),
    )
    prices = _json(client, reverse("api:security-prices", args=[cast.security_a.pk]))
    assert [p["date"] for p in prices["results"]] == ["2020-01-02", "2019-12-31"]
    assert _json(client, reverse("api:security-list"), ticker="msft")["count"] == 0


def test_token_authentication(cast: Cast) -> None:
    _, key = api_token_create(user=cast.user(Role.IPC), name="t", days=7)
    client = Client()
    url = reverse("api:account-list")
    assert client.get(url).status_code == 401
    assert client.get(url, HTTP_AUTHORIZATION="Token not-a-token").status_code == 401
    response = client.get(url, HTTP_AUTHORIZATION=f"Token {key}")
    assert response.status_code == 200 and response.json()["count"] == 2


def test_the_api_is_read_only(cast: Cast, client_for: ClientFor) -> None:
    url = reverse("api:position-list")
    # A role that may change positions reaches the view and is told the method is not allowed;
    # a role that may not is refused first.
    assert client_for(cast.user(Role.DATA_MANAGER)).post(url, {}).status_code == 405
    assert client_for(cast.user(Role.ADVISOR)).post(url, {}).status_code == 403
    detail = reverse("api:account-detail", args=[cast.account_a1.pk])
    assert client_for(cast.user(Role.FIRM_ADMIN)).delete(detail).status_code == 405


@pytest.mark.parametrize(
    "name", ["api:household-list", "api:account-list", "api:position-list", "api:lot-list"]
)
def test_list_endpoints_have_a_bounded_query_count(
    name: str, cast: Cast, client_for: ClientFor, django_assert_max_num_queries: Any
) -> None:
    for n in range(30):
        account = AccountFactory.create(household=cast.hh_a1)
        security = SecurityFactory.create(firm=cast.firm_a)
        PriceFactory.create(security=security)
        holding(account, security, [(f"Q{n}", Decimal("1"), Decimal("5"), dt.date(2018, 1, 2))])
    client = client_for(cast.user(Role.ADVISOR))
    with django_assert_max_num_queries(API_MAX_QUERIES):
        data = _json(client, reverse(name))
    assert len(data["results"]) >= 1


def test_list_pages_value_only_their_rows_in_order(cast: Cast, client_for: ClientFor) -> None:
    security = SecurityFactory.create(firm=cast.firm_a, ticker="ZZZ")
    PriceFactory.create(security=security, close=Decimal("2"))
    for n in range(3):
        account = AccountFactory.create(household=cast.hh_a1)
        holding(account, security, [(f"P{n}", Decimal(n + 1), Decimal("1"), dt.date(2018, 1, 2))])
    client = client_for(cast.user(Role.ADVISOR))
    ids = [p["id"] for p in _json(client, reverse("api:position-list"))["results"]]
    expected = list(
        Position.objects.filter(account__household=cast.hh_a1)
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    assert ids == expected
    # Positions and lots page by cursor: a forged cursor is "not found", a page number unknown.
    assert client.get(reverse("api:position-list"), {"cursor": "bogus"}).status_code == 404
    assert client.get(reverse("api:position-list"), {"page": 2}).status_code == 400
    assert client.get(reverse("api:account-list"), {"page": 99}).status_code == 404


def test_schema_and_docs_are_served_locally(cast: Cast, client_for: ClientFor) -> None:
    client = client_for(cast.user(Role.ADVISOR))
    schema = client.get(reverse("api:schema"), {"format": "json"})
    assert schema.status_code == 200
    paths = schema.json()["paths"]
    for path in (
        "/api/v1/households/",
        "/api/v1/accounts/",
        "/api/v1/positions/",
        "/api/v1/lots/",
        "/api/v1/securities/",
        "/api/v1/securities/{id}/prices/",
    ):
        assert path in paths
    docs = client.get(reverse("api:docs")).content.decode()
    assert "swagger-ui" in docs
    assert "drf_spectacular_sidecar" in docs
    assert "cdn." not in docs and "unpkg" not in docs
