"""Household, account and position pages: values, lots with ST/LT gains, htmx partials, paging."""

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
from tests.conftest import Cast
from tests.factories import (
    AccountFactory,
    HouseholdFactory,
    PriceFactory,
    SecurityFactory,
    assign_household,
    holding,
)

pytestmark = pytest.mark.django_db

ClientFor = Callable[[Any], Client]
HTMX = {"HX-Request": "true"}
LIST_MAX_QUERIES = 9  # session, user, membership, count, page, values, flags, savepoints


def _page(client: Client, url: str, **kwargs: Any) -> str:
    response = client.get(url, **kwargs)
    assert response.status_code == 200
    return response.content.decode()


def test_account_page_shows_holdings_values_and_st_lt_gains(
    cast: Cast, client_for: ClientFor
) -> None:
    html = _page(
        client_for(cast.user(Role.ADVISOR)),
        reverse("accounts:account_detail", args=[cast.account_a1.pk]),
    )
    assert 'data-testid="total-value">$14,404.75<' in html
    # A1-2: 5 x 293.65 - 1,600.00 = -131.75, bought 2019-06-03: short term on 2019-12-31.
    assert 'data-testid="unrealized-st">-$131.75<' in html
    # A1-1: 10 x 293.65 - 1,000.00 = 1,936.50, bought 2016-03-01: long term.
    assert 'data-testid="unrealized-lt">$1,936.50<' in html
    assert "as of 2019-12-31" in html
    assert "2 lots" in html


def test_lots_expand_as_an_htmx_partial(cast: Cast, client_for: ClientFor) -> None:
    position = Position.objects.get(account=cast.account_a1)
    url = reverse("accounts:position_detail", args=[position.pk])
    client = client_for(cast.user(Role.ADVISOR))
    partial = _page(client, url, headers=HTMX)
    assert "<html" not in partial
    assert partial.count('<tr class="lot">') == 2
    assert "A1-1" in partial and "A1-2" in partial
    assert '<span class="term st">short</span>' in partial
    assert '<span class="term lt">long</span>' in partial
    full = _page(client, url)
    assert "<html" in full and "A1-1" in full


def test_holding_period_boundary_is_more_than_one_year(cast: Cast, client_for: ClientFor) -> None:
    """Prices end 2019-12-31: a lot bought 2018-12-31 is short term, 2018-12-30 long term."""
    security = SecurityFactory.create(firm=cast.firm_a, ticker="MSFT")
    PriceFactory.create(security=security, date=dt.date(2019, 12, 31), close=Decimal("100"))
    position = holding(
        cast.account_a1,
        security,
        [
            ("M-1", Decimal("1"), Decimal("90.00"), dt.date(2018, 12, 31)),
            ("M-2", Decimal("1"), Decimal("80.00"), dt.date(2018, 12, 30)),
        ],
    )
    partial = _page(
        client_for(cast.user(Role.ADVISOR)),
        reverse("accounts:position_detail", args=[position.pk]),
        headers=HTMX,
    )
    rows = partial.split('<tr class="lot">')[1:]
    assert "M-2" in rows[0] and "long" in rows[0] and "$20.00" in rows[0]
    assert "M-1" in rows[1] and "short" in rows[1] and "$10.00" in rows[1]


def test_unpriced_security_is_shown_but_not_valued(cast: Cast, client_for: ClientFor) -> None:
    security = SecurityFactory.create(firm=cast.firm_a, ticker="NOPX")
    holding(
        cast.account_a1, security, [("N-1", Decimal("4"), Decimal("40.00"), dt.date(2019, 1, 2))]
    )
    html = _page(
        client_for(cast.user(Role.ADVISOR)),
        reverse("accounts:account_detail", args=[cast.account_a1.pk]),
    )
    assert "NOPX" in html
    assert "No price for NOPX" in html
    assert 'data-testid="total-value">$14,404.75<' in html


def test_household_page_lists_its_accounts_with_values(cast: Cast, client_for: ClientFor) -> None:
    html = _page(
        client_for(cast.user(Role.MANAGEMENT)),
        reverse("accounts:household_detail", args=[cast.hh_a1.pk]),
    )
    assert cast.account_a1.name in html
    assert "$14,404.75" in html
    assert cast.account_a2.name not in html


def test_household_list_is_scoped_and_valued(cast: Cast, client_for: ClientFor) -> None:
    advisor_html = _page(client_for(cast.user(Role.ADVISOR)), reverse("accounts:household_list"))
    assert "Adams Family" in advisor_html and "Baker Trust" not in advisor_html
    assert "$14,404.75" in advisor_html
    manager_html = _page(client_for(cast.user(Role.MANAGEMENT)), reverse("accounts:household_list"))
    assert "Adams Family" in manager_html and "Baker Trust" in manager_html
    assert "Clark Household" not in manager_html  # firm B


def test_search_returns_the_table_partial_for_htmx(cast: Cast, client_for: ClientFor) -> None:
    client = client_for(cast.user(Role.MANAGEMENT))
    partial = _page(client, reverse("accounts:household_list"), data={"q": "baker"}, headers=HTMX)
    assert partial.lstrip().startswith('<div id="results">')
    assert "Baker Trust" in partial and "Adams Family" not in partial
    accounts = _page(client, reverse("accounts:account_list"), data={"q": "Baker"}, headers=HTMX)
    assert cast.account_a2.name in accounts and cast.account_a1.name not in accounts


def _big_book(cast: Cast, households: int) -> None:
    """``households`` more households in firm A, assigned to advisor A, each with one account
    holding two priced securities."""
    securities = [SecurityFactory.create(firm=cast.firm_a) for _ in range(2)]
    for security in securities:
        PriceFactory.create(security=security, close=Decimal("50"))
    for n in range(households):
        household = HouseholdFactory.create(firm=cast.firm_a, name=f"Zed {n:03d}")
        assign_household(household, cast.user(Role.ADVISOR))
        account = AccountFactory.create(household=household)
        for k, security in enumerate(securities):
            holding(
                account,
                security,
                [(f"Z{n}-{k}", Decimal("2"), Decimal("60.00"), dt.date(2017, 1, 3))],
            )


@pytest.mark.parametrize(
    "name",
    ["accounts:household_list", "accounts:account_list", "securities:security_list"],
)
def test_list_pages_are_paged_with_a_bounded_query_count(
    name: str, cast: Cast, client_for: ClientFor, django_assert_max_num_queries: Any
) -> None:
    _big_book(cast, households=60)
    for _ in range(60):
        SecurityFactory.create(firm=cast.firm_a)
    client = client_for(cast.user(Role.ADVISOR))
    with django_assert_max_num_queries(LIST_MAX_QUERIES):
        first = _page(client, reverse(name))
    assert "Page 1 of 2" in first
    with django_assert_max_num_queries(LIST_MAX_QUERIES):
        second = _page(client, reverse(name), data={"page": 2}, headers=HTMX)
    assert "Page 2 of 2" in second


def test_account_list_values_each_row(cast: Cast, client_for: ClientFor) -> None:
    _big_book(cast, households=3)
    html = _page(client_for(cast.user(Role.ADVISOR)), reverse("accounts:account_list"))
    # Each new account: cash 10,000 + 2 securities x 2 shares x 50 = 10,200.
    assert html.count("$10,200.00") == 3
    assert "$14,404.75" in html


def test_account_detail_query_count_does_not_grow_with_positions(
    cast: Cast, client_for: ClientFor, django_assert_max_num_queries: Any
) -> None:
    for _ in range(25):
        security = SecurityFactory.create(firm=cast.firm_a)
        PriceFactory.create(security=security)
        holding(
            cast.account_a1,
            security,
            [
                (f"{security.ticker}-1", Decimal("1"), Decimal("10"), dt.date(2019, 1, 2)),
                (f"{security.ticker}-2", Decimal("1"), Decimal("10"), dt.date(2017, 1, 2)),
            ],
        )
    client = client_for(cast.user(Role.ADVISOR))
    with django_assert_max_num_queries(LIST_MAX_QUERIES):
        html = _page(client, reverse("accounts:account_detail", args=[cast.account_a1.pk]))
    assert html.count("2 lots") == 26


def test_security_pages_label_synthetic_data(cast: Cast, client_for: ClientFor) -> None:
    synthetic = SecurityFactory.create(firm=cast.firm_a, ticker="SYN.AGG", is_synthetic=True)
    client = client_for(cast.user(Role.DATA_MANAGER))
    listing = _page(client, reverse("securities:security_list"))
    assert "SYN.AGG" in listing and "synthetic data" in listing
    assert 'class="banner synthetic"' in listing
    detail = _page(client, reverse("securities:security_detail", args=[synthetic.pk]))
    assert "synthetic data" in detail
    real = _page(client, reverse("securities:security_detail", args=[cast.security_a.pk]))
    assert "synthetic data" not in real
    assert "293.65" in real
