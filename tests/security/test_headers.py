"""Headers: a Content-Security-Policy allowing only the app's own files (and no inline scripts
anywhere to need more), and ``Cache-Control: no-store`` on every page and API response."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from rebalancer.roles import Role
from rebalancer.tokens import api_token_create
from tests.conftest import Cast

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parents[2]
INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)(?![^>]*application/json)[^>]*>", re.I)
EVENT_HANDLER = re.compile(r"\son[a-z]+\s*=", re.I)


def _pages(cast: Cast) -> list[str]:
    return [
        reverse("home"),
        reverse("accounts:account_list"),
        reverse("accounts:account_detail", args=[cast.account_a1.pk]),
        reverse("accounts:account_settings", args=[cast.account_a1.pk]),
        reverse("accounts:household_settings", args=[cast.hh_a1.pk]),
        reverse("accounts:saved_filters"),
        reverse("accounts:bulk_change"),
        reverse("models:definition_list"),
        reverse("models:asset_classes"),
        reverse("models:subscriptions"),
        reverse("feeds:import_list"),
        reverse("member_list"),
        reverse("audit_log"),
        reverse("api_token"),
        reverse("twofactor_setup"),
        reverse("api:docs"),
        reverse("api:account-list"),
        reverse("api:schema"),
    ]


def test_every_page_and_api_response_has_the_policy_and_no_store(
    cast: Cast, client_for: Any
) -> None:
    client = client_for(cast.user(Role.FIRM_ADMIN))
    for url in _pages(cast):
        response = client.get(url)
        assert response.status_code == 200, url
        policy = response["Content-Security-Policy"]
        assert "script-src 'self'" in policy and "unsafe-inline" not in policy, url
        assert "default-src 'self'" in policy and "frame-ancestors 'none'" in policy
        assert "no-store" in response["Cache-Control"], url
        if response["Content-Type"].startswith("text/html"):
            html = response.content.decode()
            assert not INLINE_SCRIPT.search(html), (url, INLINE_SCRIPT.search(html))
            assert not EVENT_HANDLER.search(html), url
            assert " style=" not in html, url


def test_token_api_calls_are_not_cached_either(cast: Cast) -> None:
    _, key = api_token_create(user=cast.user(Role.IPC), name="t", days=7)
    response = Client().get(reverse("api:account-list"), HTTP_AUTHORIZATION=f"Token {key}")
    assert response.status_code == 200 and "no-store" in response["Cache-Control"]


def test_the_login_page_has_the_policy(db: None) -> None:
    response = Client().get(reverse("login"))
    assert "script-src 'self'" in response["Content-Security-Policy"]


def test_the_swagger_start_up_script_is_a_file_of_our_own(cast: Cast, client_for: Any) -> None:
    client = client_for(cast.user(Role.IPC))
    html = client.get(reverse("api:docs")).content.decode()
    script = re.findall(r'<script src="([^"]+\?script[^"]*)"', html)
    assert script, html
    response = client.get(script[0].replace("&amp;", "&"))
    assert response.status_code == 200 and "javascript" in response["Content-Type"]


def test_no_template_has_an_inline_script_or_handler() -> None:
    for template in (ROOT / "templates").rglob("*.html"):
        text = template.read_text()
        assert not INLINE_SCRIPT.search(text), template
        assert not EVENT_HANDLER.search(text), template
        assert " style=" not in text, template  # style-src 'self': inline styles are blocked
