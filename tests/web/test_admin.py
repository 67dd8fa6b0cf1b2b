"""The platform operator's admin: firms are created through firm_create; audit events read-only."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse

from rebalancer.audit import audit_record
from rebalancer.authz import SystemActor
from rebalancer.models import AuditEvent, Firm, Membership
from rebalancer.roles import Role
from tests.conftest import Cast, login

pytestmark = pytest.mark.django_db


@pytest.fixture
def operator_client(db: None) -> Client:
    operator = User.objects.create_superuser("operator", "op@example.com", "pw")
    return login(Client(), operator)


def test_operator_creates_a_firm_and_invites_its_first_admin(operator_client: Client) -> None:
    response = operator_client.post(
        reverse("admin:rebalancer_firm_add"),
        {
            "name": "Gamma Capital",
            "slug": "gamma",
            "admin_username": "gamma_admin",
            "admin_email": "admin@gamma.example",
        },
        follow=True,
    )
    assert response.status_code == 200
    firm = Firm.objects.get(slug="gamma")
    membership = Membership.objects.get(firm=firm)
    assert (membership.user.username, membership.role) == ("gamma_admin@gamma", Role.FIRM_ADMIN)
    assert not membership.user.has_usable_password()
    assert "/welcome/" in response.content.decode()  # the one-time link, shown once
    actions = set(AuditEvent.objects.filter(firm=firm).values_list("action", flat=True))
    assert actions == {"firm.create", "membership.invite"}


def test_operator_deactivates_a_firm_with_a_reason(operator_client: Client, cast: Cast) -> None:
    response = operator_client.post(
        reverse("admin:rebalancer_firm_change", args=[cast.firm_b.pk]),
        {"name": "Beta Advisors", "is_active": "", "reason": "contract ended"},
    )
    assert response.status_code == 302
    cast.firm_b.refresh_from_db()
    assert not cast.firm_b.is_active
    event = AuditEvent.objects.get(action="firm.update")
    assert event.after == {"name": "Beta Advisors", "is_active": False}
    assert event.reason == "contract ended"


def test_audit_events_are_read_only_in_the_admin(operator_client: Client, cast: Cast) -> None:
    event = audit_record(firm=cast.firm_a, actor=SystemActor.IMPORT, action="x.y")
    assert operator_client.get(reverse("admin:rebalancer_auditevent_changelist")).status_code == 200
    assert operator_client.get(reverse("admin:rebalancer_auditevent_add")).status_code == 403
    assert (
        operator_client.post(
            reverse("admin:rebalancer_auditevent_delete", args=[event.pk])
        ).status_code
        == 403
    )
    view = operator_client.get(reverse("admin:rebalancer_auditevent_change", args=[event.pk]))
    assert view.status_code == 200 and "Save" not in view.content.decode()


def test_firm_users_cannot_use_the_admin(cast: Cast) -> None:
    client = login(Client(), cast.user(Role.FIRM_ADMIN))
    response = client.get(reverse("admin:index"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("admin:login"))


def test_firm_add_form_refuses_a_taken_admin_username(operator_client: Client, cast: Cast) -> None:
    response = operator_client.post(
        reverse("admin:rebalancer_firm_add"),
        {"name": "Delta", "slug": "delta", "admin_username": "a_advisor", "admin_email": "x@y.z"},
    )
    assert response.status_code == 200
    assert "is taken" in response.content.decode()
    assert not Firm.objects.filter(slug="delta").exists()
