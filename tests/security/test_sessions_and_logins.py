"""Sessions and logins: TOTP for firm admins and the operator (optional for others) with recovery
codes, idle and absolute session lifetimes, a per-address login limit beside the per-username
lock-out, and a client address believed only through the configured trusted proxies."""

from __future__ import annotations

import re
import time
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client, RequestFactory
from django.urls import reverse
from django_otp.oath import TOTP
from django_otp.plugins.otp_totp.models import TOTPDevice

from rebalancer.middleware import SESSION_SEEN_KEY, SESSION_STARTED_KEY
from rebalancer.roles import Role
from rebalancer.security.login import client_ip
from tests.conftest import Cast
from tests.factories import PASSWORD

pytestmark = pytest.mark.django_db


def _password_login(username: str, remote: str = "127.0.0.1") -> tuple[Client, Any]:
    client = Client(REMOTE_ADDR=remote)
    response = client.post(reverse("login"), {"username": username, "password": PASSWORD})
    return client, response


def _code(user: Any) -> str:
    device = TOTPDevice.objects.get(user=user)
    totp = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
    return str(totp.token()).zfill(device.digits)


def _enrol(client: Client, user: Any) -> list[str]:
    page = client.get(reverse("twofactor_setup"))
    assert page.status_code == 200 and b"<svg" in page.content
    done = client.post(reverse("twofactor_setup"), {"token": _code(user), "next": "/"})
    assert done.status_code == 200
    codes: list[str] = done.context["codes"]
    assert len(codes) == 10
    return codes


def test_a_firm_admin_must_enrol_then_verify_and_recovery_codes_work_once(cast: Cast) -> None:
    admin = cast.user(Role.FIRM_ADMIN)
    client, response = _password_login(admin.username)
    assert response.status_code == 302
    blocked = client.get(reverse("member_list"))
    assert blocked.status_code == 302
    assert blocked["Location"] == reverse("twofactor_setup") + "?next=%2Fmembers%2F"

    wrong = client.post(reverse("twofactor_setup"), {"token": "000000"})
    assert wrong.status_code == 400 and "not right" in wrong.content.decode()
    codes = _enrol(client, admin)
    assert client.get(reverse("member_list")).status_code == 200

    # The next login asks for a code before anything else; a recovery code is accepted once.
    second, _ = _password_login(admin.username)
    assert second.get(reverse("home"))["Location"].startswith(reverse("twofactor_verify"))
    bad = second.post(reverse("twofactor_verify"), {"token": "12345678"})
    assert bad.status_code == 400
    time.sleep(1.1)  # django-otp throttles a device for a second after one failure
    ok = second.post(reverse("twofactor_verify"), {"token": codes[0], "next": "/members/"})
    assert (ok.status_code, ok["Location"]) == (302, "/members/")
    assert second.get(reverse("member_list")).status_code == 200
    third, _ = _password_login(admin.username)
    assert third.post(reverse("twofactor_verify"), {"token": codes[0]}).status_code == 400
    assert third.get(reverse("home")).status_code == 302


def test_a_verify_next_that_leaves_the_site_is_ignored(cast: Cast) -> None:
    admin = cast.user(Role.FIRM_ADMIN)
    client, _ = _password_login(admin.username)
    codes = _enrol(client, admin)
    again, _ = _password_login(admin.username)
    response = again.post(
        reverse("twofactor_verify"), {"token": codes[1], "next": "https://evil.example/"}
    )
    assert response["Location"] == "/"


def test_the_platform_operator_must_use_two_factors_for_the_admin(db: None) -> None:
    User.objects.create_superuser("operator", "op@example.com", PASSWORD)
    client, _ = _password_login("operator")
    response = client.get(reverse("admin:index"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("twofactor_setup"))


def test_two_factors_are_optional_for_other_roles_until_they_enrol(cast: Cast) -> None:
    advisor = cast.user(Role.ADVISOR)
    client, _ = _password_login(advisor.username)
    assert client.get(reverse("home")).status_code == 200
    _enrol(client, advisor)
    later, _ = _password_login(advisor.username)
    assert later.get(reverse("home"))["Location"].startswith(reverse("twofactor_verify"))


def _logged_in(cast: Cast) -> Client:
    client, _ = _password_login(cast.user(Role.ADVISOR).username)
    assert client.get(reverse("home")).status_code == 200
    return client


def _age(client: Client, key: str, seconds: int) -> None:
    session = client.session
    session[key] = int(time.time()) - seconds
    session.save()


def test_an_idle_session_ends(cast: Cast, settings: Any) -> None:
    client = _logged_in(cast)
    _age(client, SESSION_SEEN_KEY, settings.SESSION_IDLE_SECONDS - 120)
    assert client.get(reverse("home")).status_code == 200  # still inside, and renewed
    _age(client, SESSION_SEEN_KEY, settings.SESSION_IDLE_SECONDS + 1)
    response = client.get(reverse("home"))
    assert response.status_code == 302 and response["Location"].startswith(reverse("login"))
    assert client.get(reverse("home")).status_code == 302  # logged out for good


def test_a_busy_session_still_ends_at_its_absolute_lifetime(cast: Cast, settings: Any) -> None:
    assert (settings.SESSION_IDLE_SECONDS, settings.SESSION_ABSOLUTE_SECONDS) == (1800, 43200)
    client = _logged_in(cast)
    _age(client, SESSION_STARTED_KEY, settings.SESSION_ABSOLUTE_SECONDS + 1)
    response = client.get(reverse("home"))
    assert response.status_code == 302 and response["Location"].startswith(reverse("login"))


def test_one_address_trying_many_usernames_is_refused(cast: Cast, settings: Any) -> None:
    settings.LOGIN_IP_FAILURE_LIMIT = 3
    attacker = Client(REMOTE_ADDR="203.0.113.9")
    for name in ("a_ipc", "a_compliance", "a_management"):  # one failure each: no username lock
        response = attacker.post(reverse("login"), {"username": name, "password": "wrong"})
        assert response.status_code == 200
    refused = attacker.post(
        reverse("login"), {"username": "a_advisor", "password": PASSWORD}
    )  # right password, but this address is out of tries
    assert refused.status_code == 429
    assert "After 3 failed attempts from one address" in refused.content.decode()
    assert "_auth_user_id" not in attacker.session
    _, elsewhere = _password_login("a_advisor", remote="198.51.100.7")
    assert elsewhere.status_code == 302  # the same user from another address is fine


@pytest.mark.parametrize(
    ("remote", "forwarded", "trusted", "expected"),
    [
        ("198.51.100.7", "", [], "198.51.100.7"),
        ("198.51.100.7", "1.2.3.4", [], "198.51.100.7"),  # no proxy configured: header ignored
        ("10.0.0.2", "6.6.6.6, 1.2.3.4", ["10.0.0.0/8"], "1.2.3.4"),  # a forged left entry
        ("10.0.0.2", "1.2.3.4, 10.0.0.7", ["10.0.0.0/8"], "1.2.3.4"),  # two proxies
        ("198.51.100.7", "1.2.3.4", ["10.0.0.0/8"], "198.51.100.7"),  # not via our proxy
        ("10.0.0.2", "not-an-ip", ["10.0.0.0/8"], "10.0.0.2"),
    ],
)
def test_the_client_address_comes_only_through_trusted_proxies(
    settings: Any, remote: str, forwarded: str, trusted: list[str], expected: str
) -> None:
    settings.TRUSTED_PROXY_IPS = trusted
    request = RequestFactory().get("/", REMOTE_ADDR=remote, HTTP_X_FORWARDED_FOR=forwarded)
    assert client_ip(request) == expected


def test_the_setup_page_shows_the_key_and_a_local_qr_code(cast: Cast) -> None:
    client, _ = _password_login(cast.user(Role.ADVISOR).username)
    page = client.get(reverse("twofactor_setup")).content.decode()
    assert re.search(r'data-testid="totp-secret">[A-Z2-7]{16,}<', page)
    assert '<div class="qr" data-testid="totp-qr"><svg' in page
