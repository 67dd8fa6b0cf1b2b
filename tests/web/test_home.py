"""Each role's home page: real figures from the data that role may see, in a bounded query count."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from rebalancer.audit import audit_record
from rebalancer.authz import SystemActor
from rebalancer.roles import Role
from tests.conftest import Cast

pytestmark = pytest.mark.django_db

ClientFor = Callable[[Any], Client]

#: Queries per home page, whatever the book size (session, user, membership and the figures).
HOME_MAX_QUERIES = 16


def _home(client: Client) -> str:
    response = client.get(reverse("home"))
    assert response.status_code == 200
    return response.content.decode()


@pytest.mark.parametrize("role", list(Role), ids=[r.value for r in Role])
def test_every_role_sees_firm_name_and_role_in_the_layout(
    role: Role, cast: Cast, client_for: ClientFor
) -> None:
    html = _home(client_for(cast.user(role)))
    assert 'data-testid="firm-name">Alpha Wealth<' in html
    assert f'data-testid="role">{role.label}<' in html
    assert "Beta Advisors" not in html


def test_advisor_home_shows_only_their_book(cast: Cast, client_for: ClientFor) -> None:
    html = _home(client_for(cast.user(Role.ADVISOR)))
    assert 'data-testid="households">1<' in html
    assert 'data-testid="accounts">1<' in html
    # 15 AAPL x 293.65 + 10,000.00 cash of the one assigned account.
    assert 'data-testid="aum">$14,404.75<' in html
    assert "Adams Family" in html
    assert "Baker Trust" not in html  # the unassigned household


def test_advisor_home_shows_largest_account_holdings_with_st_lt(
    cast: Cast, client_for: ClientFor
) -> None:
    html = _home(client_for(cast.user(Role.ADVISOR)))
    assert 'data-testid="holdings"' in html
    assert cast.account_a1.name in html
    # Lot A1-2 (5 sh, $1,600, bought 2019-06-03) is short term on 2019-12-31; A1-1 long term.
    assert "-$131.75" in html
    assert "$1,936.50" in html


@pytest.mark.parametrize(
    "role", [Role.MANAGEMENT, Role.IPC, Role.OVERLAY_MANAGER, Role.COMPLIANCE, Role.FIRM_ADMIN]
)
def test_firm_wide_roles_see_the_whole_firm(role: Role, cast: Cast, client_for: ClientFor) -> None:
    html = _home(client_for(cast.user(role)))
    assert 'data-testid="households">2<' in html
    assert 'data-testid="accounts">2<' in html
    assert 'data-testid="aum">$24,404.75<' in html


def test_other_firm_sees_its_own_figures(cast: Cast, client_for: ClientFor) -> None:
    html = _home(client_for(cast.admin_b))
    assert 'data-testid="firm-name">Beta Advisors<' in html
    assert 'data-testid="households">1<' in html
    # 7 AAPL x 293.65 + 10,000.00 cash.
    assert 'data-testid="aum">$12,055.55<' in html


def test_data_manager_home_shows_market_data(cast: Cast, client_for: ClientFor) -> None:
    html = _home(client_for(cast.user(Role.DATA_MANAGER)))
    assert 'data-testid="securities">1<' in html
    assert 'data-testid="prices-as-of">2019-12-31<' in html
    assert 'data-testid="imports"' in html


def test_compliance_home_shows_recent_audit_events_of_its_firm(
    cast: Cast, client_for: ClientFor
) -> None:
    audit_record(
        firm=cast.firm_a, actor=SystemActor.IMPORT, action="prices.import", reason="nightly"
    )
    audit_record(firm=cast.firm_b, actor=SystemActor.IMPORT, action="other.firm.event")
    html = _home(client_for(cast.user(Role.COMPLIANCE)))
    assert "prices.import" in html
    assert "other.firm.event" not in html


def test_firm_admin_home_counts_members_by_role(cast: Cast, client_for: ClientFor) -> None:
    html = _home(client_for(cast.user(Role.FIRM_ADMIN)))
    assert 'data-testid="members"' in html
    assert html.count('<td class="num">1</td><td class="num">0</td>') == len(Role)


def test_synthetic_securities_are_labelled_on_the_home_page(
    cast: Cast, client_for: ClientFor
) -> None:
    cast.security_a.is_synthetic = True
    cast.security_a.save()
    html = _home(client_for(cast.user(Role.ADVISOR)))
    assert "synthetic data" in html
    assert 'class="banner synthetic"' in html


def test_platform_operator_goes_to_the_admin(django_user_model: Any, client_for: ClientFor) -> None:
    operator = django_user_model.objects.create_superuser("operator", "op@example.com", "pw")
    response = client_for(operator).get(reverse("home"))
    assert response.status_code == 302
    assert response["Location"] == reverse("admin:index")


@pytest.mark.parametrize("role", list(Role), ids=[r.value for r in Role])
def test_home_query_count_is_bounded(
    role: Role, cast: Cast, client_for: ClientFor, django_assert_max_num_queries: Any
) -> None:
    client = client_for(cast.user(role))
    with django_assert_max_num_queries(HOME_MAX_QUERIES):
        assert client.get(reverse("home")).status_code == 200


def test_advisor_home_shows_the_largest_accounts_biggest_positions_only(
    cast: Cast, client_for: ClientFor
) -> None:
    import datetime as dt
    from decimal import Decimal

    from tests.factories import AccountFactory, PriceFactory, SecurityFactory, holding

    big = AccountFactory.create(household=cast.hh_a1, name="Direct index")
    for n in range(17):
        security = SecurityFactory.create(firm=cast.firm_a, ticker=f"N{n:02d}")
        PriceFactory.create(security=security, close=Decimal("100"))
        lot = (f"DI-{n}", Decimal(1000 + n), Decimal("1.00"), dt.date(2018, 1, 2))
        holding(big, security, [lot])
    html = _home(client_for(cast.user(Role.ADVISOR)))
    assert "Direct index" in html
    assert "The 15 largest of 17 positions" in html
    assert "N16" in html and "N15" in html  # the biggest are shown
    assert "N00" not in html and "N01" not in html  # the two smallest are not
