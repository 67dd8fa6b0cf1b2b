"""Login, lock-out after repeated failures (django-axes), logout, password change, API tokens."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.conf import settings
from django.test import Client
from django.urls import reverse

from rebalancer.models import AuditEvent
from rebalancer.roles import Role
from rebalancer.tokens import ApiToken
from tests.conftest import Cast
from tests.factories import PASSWORD

pytestmark = pytest.mark.django_db

ClientFor = Callable[[Any], Client]
NEW_PASSWORD = "another-long-passphrase-7"


def _login(client: Client, username: str, password: str) -> Any:
    return client.post(reverse("login"), {"username": username, "password": password})


def test_login_with_the_right_password_goes_home(cast: Cast) -> None:
    client = Client()
    response = _login(client, "a_advisor", PASSWORD)
    assert response.status_code == 302 and response["Location"] == reverse("home")
    assert client.get(reverse("home")).status_code == 200


def test_repeated_failures_lock_the_username_out(cast: Cast) -> None:
    client = Client()
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        response = _login(client, "a_advisor", "wrong")
        assert response.status_code == 200
        assert "did not match" in response.content.decode()
    locked = _login(client, "a_advisor", "wrong")
    assert locked.status_code == 429
    assert 'data-testid="locked-out"' in locked.content.decode()
    # Even the right password is refused now, and nothing logs in.
    after = _login(client, "a_advisor", PASSWORD)
    assert after.status_code == 429
    assert "Account locked" in after.content.decode()
    assert client.get(reverse("home")).status_code == 302
    # Another username from the same address is not locked.
    assert _login(Client(), "a_compliance", PASSWORD).status_code == 302


def test_password_change_works_and_is_audited(cast: Cast) -> None:
    client = Client()
    assert _login(client, "a_compliance", PASSWORD).status_code == 302
    response = client.post(
        reverse("password_change"),
        {"old_password": PASSWORD, "new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD},
    )
    assert response.status_code == 302 and response["Location"] == reverse("password_change_done")
    assert client.get(reverse("home")).status_code == 200  # still logged in
    user = cast.user(Role.COMPLIANCE)
    user.refresh_from_db()
    assert user.check_password(NEW_PASSWORD)
    event = AuditEvent.objects.get(action="user.password_change")
    assert (event.firm, event.actor) == (cast.firm_a, user)
    assert NEW_PASSWORD not in str(event.after) and NEW_PASSWORD not in event.reason


def test_wrong_old_password_changes_nothing(cast: Cast, client_for: ClientFor) -> None:
    response = client_for(cast.user(Role.COMPLIANCE)).post(
        reverse("password_change"),
        {"old_password": "nope", "new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD},
    )
    assert response.status_code == 200
    assert "old_password" in response.context["form"].errors
    assert not AuditEvent.objects.exists()


def test_logout_is_a_post_and_ends_the_session(cast: Cast, client_for: ClientFor) -> None:
    client = client_for(cast.user(Role.IPC))
    response = client.post(reverse("logout"))
    assert response.status_code == 302 and response["Location"] == reverse("login")
    assert client.get(reverse("home")).status_code == 302


def test_api_token_page_shows_a_new_key_once_and_stores_only_its_hash(
    cast: Cast, client_for: ClientFor
) -> None:
    user = cast.user(Role.OVERLAY_MANAGER)
    client = client_for(user)
    assert "You have no API token yet" in client.get(reverse("api_token")).content.decode()
    created = client.post(reverse("api_token"), {"name": "reports", "days": "30"})
    assert created.status_code == 200
    key = created.context["new_key"]
    assert key in created.content.decode()
    token = ApiToken.objects.get(user=user)
    assert key not in (token.digest, token.prefix) and key.startswith(token.prefix + ".")
    again = client.get(reverse("api_token")).content.decode()
    assert key not in again and f"{token.prefix}…" in again  # never shown again
    actions = list(AuditEvent.objects.order_by("id").values_list("action", flat=True))
    assert actions == ["api_token.create"]
    assert not AuditEvent.objects.filter(reason__contains=key).exists()
