"""Members: invite with a one-time set-password link, set role, deactivate; all audited."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied, ValidationError
from django.test import Client
from django.urls import reverse

from rebalancer import services
from rebalancer.models import AuditEvent, Firm, Membership
from rebalancer.roles import Role
from rebalancer.tokens import ApiToken, api_token_create
from tests.conftest import Cast
from tests.factories import member

pytestmark = pytest.mark.django_db

ClientFor = Callable[[Any], Client]
HTMX = {"HX-Request": "true"}
NEW_PASSWORD = "a-long-new-passphrase-42"


def _invite(client: Client, **overrides: str) -> Any:
    data = {
        "username": "newbie",
        "email": "newbie@example.com",
        "role": Role.ADVISOR,
        "reason": "new hire",
        **overrides,
    }
    return client.post(reverse("member_invite"), data)


def test_invite_creates_a_user_without_password_and_shows_a_one_time_link(
    cast: Cast, client_for: ClientFor
) -> None:
    response = _invite(client_for(cast.user(Role.FIRM_ADMIN)))
    assert response.status_code == 200
    user = User.objects.get(username="newbie@alpha")
    assert not user.has_usable_password()
    assert Membership.objects.get(user=user).firm == cast.firm_a
    link = response.context["link"]
    assert link.startswith("http://testserver/welcome/")
    assert link in response.content.decode()
    event = AuditEvent.objects.get(action="membership.invite")
    assert event.firm == cast.firm_a
    assert event.after == {
        "username": "newbie@alpha",
        "email": "newbie@example.com",
        "role": "advisor",
    }
    assert event.reason == "new hire"

    # The invited user opens the link, sets a password, and the link is spent.
    visitor = Client()
    set_form = visitor.get(link)
    assert set_form.status_code == 302  # Django moves the token into the session
    done = visitor.post(
        set_form["Location"], {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD}
    )
    assert done.status_code == 302 and done["Location"] == reverse("password_reset_complete")
    user.refresh_from_db()
    assert user.check_password(NEW_PASSWORD)
    assert AuditEvent.objects.filter(action="user.password_set", actor=user).count() == 1
    again = Client().get(link)
    assert again.status_code == 200 and not again.context["validlink"]


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"username": "bad@name"}, "username"),
        ({"username": "bad name!"}, "username"),
        ({"email": "not-an-email"}, "email"),
        ({"role": "emperor"}, "role"),
        ({"reason": " "}, "reason"),
    ],
)
def test_bad_invitations_change_nothing(
    overrides: dict[str, str], field: str, cast: Cast, client_for: ClientFor
) -> None:
    users_before = User.objects.count()
    response = _invite(client_for(cast.user(Role.FIRM_ADMIN)), **overrides)
    assert response.status_code == 200
    assert field in response.context["form"].errors
    assert User.objects.count() == users_before
    assert not AuditEvent.objects.filter(action="membership.invite").exists()


def test_set_role_over_htmx_returns_the_row_and_audits(cast: Cast, client_for: ClientFor) -> None:
    target = Membership.objects.get(user=cast.user(Role.DATA_MANAGER))
    response = client_for(cast.user(Role.FIRM_ADMIN)).post(
        reverse("member_set_role", args=[target.pk]),
        {"role": Role.IPC, "reason": "moved to the committee"},
        headers=HTMX,
    )
    assert response.status_code == 200
    html = response.content.decode()
    assert html.lstrip().startswith(f'<tr id="member-{target.pk}"')
    assert "role changed." in html
    target.refresh_from_db()
    assert target.role == Role.IPC
    event = AuditEvent.objects.get(action="membership.set_role")
    assert (event.before, event.after) == ({"role": "data_manager"}, {"role": "ipc"})
    assert event.reason == "moved to the committee"


def test_set_role_without_reason_changes_nothing(cast: Cast, client_for: ClientFor) -> None:
    target = Membership.objects.get(user=cast.user(Role.DATA_MANAGER))
    response = client_for(cast.user(Role.FIRM_ADMIN)).post(
        reverse("member_set_role", args=[target.pk]), {"role": Role.IPC, "reason": ""}
    )
    assert response.status_code == 302  # no htmx: back to the members page with a message
    target.refresh_from_db()
    assert target.role == Role.DATA_MANAGER
    assert not AuditEvent.objects.exists()


def test_the_last_firm_admin_cannot_be_demoted_or_deactivated(cast: Cast) -> None:
    admin = cast.user(Role.FIRM_ADMIN)
    own = Membership.objects.get(user=admin)
    with pytest.raises(ValidationError, match="last active firm admin"):
        services.membership_set_role(membership=own, actor=admin, role=Role.IPC, reason="x")
    operator = User.objects.create_superuser("operator", "op@example.com", "pw")
    with pytest.raises(ValidationError, match="last active firm admin"):
        services.membership_deactivate(membership=own, actor=operator, reason="x")
    own.refresh_from_db()
    admin.refresh_from_db()
    assert own.role == Role.FIRM_ADMIN and admin.is_active


def test_deactivate_locks_the_user_out_and_revokes_their_token(
    cast: Cast, client_for: ClientFor
) -> None:
    target_user = cast.user(Role.COMPLIANCE)
    _, key = api_token_create(user=target_user, name="script", days=30)
    target_session = client_for(target_user)
    target = Membership.objects.get(user=target_user)
    response = client_for(cast.user(Role.FIRM_ADMIN)).post(
        reverse("member_deactivate", args=[target.pk]), {"reason": "left the firm"}, headers=HTMX
    )
    assert response.status_code == 200
    assert "deactivated" in response.content.decode()
    target_user.refresh_from_db()
    assert not target_user.is_active
    assert not any(t.is_active for t in ApiToken.objects.filter(user=target_user))
    api = Client().get(reverse("api:account-list"), HTTP_AUTHORIZATION=f"Token {key}")
    assert api.status_code == 401
    assert target_session.get(reverse("home")).status_code == 302  # logged out
    event = AuditEvent.objects.get(action="membership.deactivate")
    assert event.reason == "left the firm"


def test_an_invitation_link_dies_with_deactivation(cast: Cast) -> None:
    admin = cast.user(Role.FIRM_ADMIN)
    invitation = services.membership_invite(
        firm=cast.firm_a,
        actor=admin,
        username="shortlived",
        email="s@example.com",
        role=Role.IPC,
        reason="hire",
    )
    services.membership_deactivate(membership=invitation.membership, actor=admin, reason="gone")
    response = Client().get(invitation.set_password_path)
    assert response.status_code == 200 and not response.context["validlink"]


def test_admins_cannot_deactivate_themselves(cast: Cast) -> None:
    admin = cast.user(Role.FIRM_ADMIN)
    with pytest.raises(ValidationError, match="yourself"):
        services.membership_deactivate(
            membership=Membership.objects.get(user=admin), actor=admin, reason="x"
        )


def test_membership_services_refuse_other_firms_and_other_roles(cast: Cast) -> None:
    target = Membership.objects.get(user=cast.user(Role.DATA_MANAGER))
    for actor in (cast.admin_b, cast.user(Role.MANAGEMENT)):
        with pytest.raises(PermissionDenied):
            services.membership_set_role(membership=target, actor=actor, role=Role.IPC, reason="x")
        with pytest.raises(PermissionDenied):
            services.membership_invite(
                firm=cast.firm_a,
                actor=actor,
                username="intruder",
                email="i@example.com",
                role=Role.FIRM_ADMIN,
                reason="x",
            )
    assert not User.objects.filter(username="intruder").exists()
    target.refresh_from_db()
    assert target.role == Role.DATA_MANAGER


def test_only_the_platform_operator_creates_firms(cast: Cast) -> None:
    with pytest.raises(PermissionDenied):
        services.firm_create(operator=cast.user(Role.FIRM_ADMIN), name="Gamma", slug="gamma")
    operator = User.objects.create_superuser("operator", "op@example.com", "pw")
    firm = services.firm_create(operator=operator, name=" Gamma Capital ", slug="gamma")
    assert firm.name == "Gamma Capital"
    event = AuditEvent.objects.get(firm=firm)
    assert (event.action, event.actor) == ("firm.create", operator)
    with pytest.raises(ValidationError):
        services.firm_create(operator=operator, name="Gamma Capital", slug="gamma-2")
    assert Firm.objects.filter(name="Gamma Capital").count() == 1


def test_members_page_lists_own_firm_and_hides_actions_from_management(
    cast: Cast, client_for: ClientFor
) -> None:
    html = client_for(cast.user(Role.MANAGEMENT)).get(reverse("member_list")).content.decode()
    assert "a_data_manager" in html and "b_firm_admin" not in html
    assert "Set role" not in html and "Invite a member" not in html
    admin_html = client_for(cast.user(Role.FIRM_ADMIN)).get(reverse("member_list")).content.decode()
    assert "Set role" in admin_html and "Invite a member" in admin_html


def test_members_page_is_paged_with_a_bounded_query_count(
    cast: Cast, client_for: ClientFor, django_assert_max_num_queries: Any
) -> None:
    for n in range(55):
        member(cast.firm_a, Role.ADVISOR, f"extra_{n:02d}")
    client = client_for(cast.user(Role.FIRM_ADMIN))
    with django_assert_max_num_queries(7):
        response = client.get(reverse("member_list"))
    html = response.content.decode()
    assert "Page 1 of 2" in html
    assert html.count('<tr id="member-') == 50
