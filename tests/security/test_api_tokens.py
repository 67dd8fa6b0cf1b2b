"""API tokens: stored hashed, shown once, expiring, revocable; the API throttled per token."""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Iterator
from typing import Any

import pytest
from django.core.cache import cache
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from rebalancer.roles import Role
from rebalancer.tokens import ApiToken, api_token_create
from tests.conftest import Cast

pytestmark = pytest.mark.django_db

URL = "/api/v1/accounts/"


@pytest.fixture(autouse=True)
def _fresh_throttle() -> Iterator[None]:
    cache.clear()
    yield
    cache.clear()


def _get(key: str) -> Any:
    return Client().get(URL, HTTP_AUTHORIZATION=f"Token {key}")


def test_only_the_hash_is_stored(cast: Cast) -> None:
    token, key = api_token_create(user=cast.user(Role.IPC), name="script", days=30)
    stored = ApiToken.objects.filter(pk=token.pk).values().get()
    assert key not in {str(value) for value in stored.values()}
    assert stored["digest"] == hashlib.sha256(key.encode()).hexdigest()
    assert _get(key).status_code == 200
    assert _get(key[:-1] + ("x" if key[-1] != "x" else "y")).status_code == 401


def test_an_expired_token_is_refused(cast: Cast) -> None:
    token, key = api_token_create(user=cast.user(Role.IPC), name="script", days=7)
    assert _get(key).status_code == 200
    ApiToken.objects.filter(pk=token.pk).update(expires_at=timezone.now() - dt.timedelta(seconds=1))
    response = _get(key)
    assert response.status_code == 401 and "expired" in response.json()["detail"]


def test_the_owner_revokes_a_token_with_the_button(cast: Cast, client_for: Any) -> None:
    user = cast.user(Role.IPC)
    token, key = api_token_create(user=user, name="script", days=30)
    _, kept_key = api_token_create(user=user, name="other", days=30)
    page = client_for(user)
    assert (
        reverse("api_token_revoke", args=[token.pk])
        in page.get(reverse("api_token")).content.decode()
    )
    # Someone else cannot revoke it: not found, and it keeps working.
    other = client_for(cast.user(Role.COMPLIANCE))
    assert other.post(reverse("api_token_revoke", args=[token.pk])).status_code == 404
    assert _get(key).status_code == 200
    response = page.post(reverse("api_token_revoke", args=[token.pk]))
    assert response.status_code == 302
    assert _get(key).status_code == 401
    assert _get(kept_key).status_code == 200  # only that one
    assert page.post(reverse("api_token_revoke", args=[token.pk])).status_code == 404


def test_a_bad_lifetime_or_missing_name_is_refused(cast: Cast, client_for: Any) -> None:
    page = client_for(cast.user(Role.IPC))
    assert page.post(reverse("api_token"), {"name": "x", "days": "10000"}).status_code == 400
    assert page.post(reverse("api_token"), {"name": " ", "days": "30"}).status_code == 400
    assert not ApiToken.objects.exists()


def test_the_api_is_throttled_per_token(cast: Cast, settings: Any) -> None:
    settings.API_THROTTLE_RATE = "3/minute"
    _, first = api_token_create(user=cast.user(Role.IPC), name="a", days=7)
    _, second = api_token_create(user=cast.user(Role.IPC), name="b", days=7)
    assert [_get(first).status_code for _ in range(3)] == [200, 200, 200]
    limited = _get(first)
    assert limited.status_code == 429 and "Retry-After" in limited
    assert _get(second).status_code == 200  # each token has its own budget
