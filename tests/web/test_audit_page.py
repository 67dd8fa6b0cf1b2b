"""The audit log page: own firm only, newest first, filterable, paged with a bounded query count."""

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


def test_audit_log_shows_own_firm_events_newest_first(cast: Cast, client_for: ClientFor) -> None:
    admin = cast.user(Role.FIRM_ADMIN)
    audit_record(firm=cast.firm_a, actor=admin, action="first.event", reason="one")
    audit_record(
        firm=cast.firm_a,
        actor=admin,
        action="second.event",
        obj=cast.account_a1,
        before={"cash_balance": "1.00"},
        after={"cash_balance": "2.00"},
        reason="two",
    )
    audit_record(firm=cast.firm_b, actor=cast.admin_b, action="beta.event")
    html = client_for(cast.user(Role.COMPLIANCE)).get(reverse("audit_log")).content.decode()
    assert html.index("<code>second.event</code>") < html.index("<code>first.event</code>")
    assert "beta.event" not in html
    assert "accounts.Account" in html and "2.00" in html


def test_audit_log_filters_by_action_as_an_htmx_partial(cast: Cast, client_for: ClientFor) -> None:
    audit_record(firm=cast.firm_a, actor=SystemActor.IMPORT, action="prices.import")
    audit_record(firm=cast.firm_a, actor=SystemActor.IMPORT, action="membership.invite")
    response = client_for(cast.user(Role.MANAGEMENT)).get(
        reverse("audit_log"), {"action": "prices.import"}, headers={"HX-Request": "true"}
    )
    html = response.content.decode()
    assert html.lstrip().startswith('<div id="results">')
    assert "<code>prices.import</code>" in html
    assert "<code>membership.invite</code>" not in html


def test_audit_log_is_paged_with_a_bounded_query_count(
    cast: Cast, client_for: ClientFor, django_assert_max_num_queries: Any
) -> None:
    for n in range(70):
        audit_record(firm=cast.firm_a, actor=SystemActor.IMPORT, action=f"bulk.{n:02d}")
    client = client_for(cast.user(Role.FIRM_ADMIN))
    with django_assert_max_num_queries(7):
        html = client.get(reverse("audit_log")).content.decode()
    assert "Page 1 of 2" in html
    assert "<code>bulk.69</code>" in html and "<code>bulk.00</code>" not in html
    page_2 = client.get(reverse("audit_log"), {"page": 2}).content.decode()
    assert "<code>bulk.00</code>" in page_2
