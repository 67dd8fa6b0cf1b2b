"""The pages as a person uses them: Debian's headless Chromium driven by Playwright.

Logs in through the form, checks the layout names the firm and role, opens an account and expands
a position's lots through htmx, and checks that no request leaves this machine (no CDN, no fonts).
Skipped where /usr/bin/chromium is missing unless REBALANCER_REQUIRE_BROWSER=1 (CI sets it).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import pytest

from rebalancer.roles import Role
from tests.conftest import Cast
from tests.factories import PASSWORD

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
HAVE_CHROMIUM = os.path.exists(CHROMIUM)
REQUIRE = os.environ.get("REBALANCER_REQUIRE_BROWSER") == "1"

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("close_stray_postgresql_sessions"),
    pytest.mark.skipif(not HAVE_CHROMIUM and not REQUIRE, reason="chromium is not installed"),
]

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]


@dataclass
class Tab:
    """A Chromium page and the host names of every request it made."""

    page: Any
    hosts: set[str]
    #: Console messages about the Content-Security-Policy (a blocked script or style).
    csp_errors: list[str]


@pytest.fixture
def browser_page(live_server: Any) -> Iterator[Tab]:
    from playwright.sync_api import sync_playwright

    # Playwright's sync API keeps an event loop on this thread; the ORM calls the live server
    # makes happen on its own threads, the fixtures' calls here are plain synchronous code.
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page()
        page.set_default_timeout(15_000)
        hosts: set[str] = set()
        page.on("request", lambda request: hosts.add(urlsplit(request.url).hostname or ""))
        csp_errors: list[str] = []
        page.on(
            "console",
            lambda message: (
                csp_errors.append(message.text)
                if "Content Security Policy" in message.text
                else None
            ),
        )
        try:
            yield Tab(page=page, hosts=hosts, csp_errors=csp_errors)
        finally:
            browser.close()
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)


def _login(page: Any, base: str, username: str) -> None:
    page.goto(f"{base}/login/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit], input[type=submit]")
    page.wait_for_load_state("networkidle")


def test_advisor_logs_in_opens_an_account_and_expands_lots(
    cast: Cast, live_server: Any, browser_page: Tab
) -> None:
    page = browser_page.page
    _login(page, live_server.url, "a_advisor")
    header = page.inner_text("header, nav, body")
    assert "Alpha Wealth" in header
    assert "Advisor" in header
    assert "Beta Advisors" not in page.content()

    page.goto(f"{live_server.url}/accounts/{cast.account_a1.pk}/")
    assert "AAPL" in page.inner_text("body")
    page.click(f"a[hx-target='#lots-{cast.account_a1.positions.get().pk}']")
    lots = page.locator(f"#lots-{cast.account_a1.positions.get().pk} tr")
    lots.nth(2).wait_for()
    rows = {
        line.split("\t")[0]: line.split("\t")
        for line in page.inner_text(f"#lots-{cast.account_a1.positions.get().pk}").splitlines()
    }
    assert rows["A1-1"][1:4] == ["2016-03-01", "1400", "long"]  # held 1,400 days on 2019-12-31
    assert rows["A1-2"][1:4] == ["2019-06-03", "211", "short"]

    # Another firm's account is a 404 in the browser too.
    response = page.goto(f"{live_server.url}/accounts/{cast.account_b1.pk}/")
    assert response is not None and response.status == 404

    hosts = browser_page.hosts
    assert hosts <= {"localhost", "127.0.0.1"}, hosts
    assert browser_page.csp_errors == []  # htmx and the pages run under the policy


def test_wrong_password_is_refused_and_stays_on_login(live_server: Any, browser_page: Tab) -> None:
    page = browser_page.page
    page.goto(f"{live_server.url}/login/")
    page.fill("input[name=username]", "nobody")
    page.fill("input[name=password]", "wrong")
    page.click("button[type=submit], input[type=submit]")
    page.wait_for_load_state("networkidle")
    assert urlsplit(page.url).path == "/login/"
    assert page.locator("input[name=password]").count() == 1


def test_each_role_sees_its_home_page(cast: Cast, live_server: Any, browser_page: Tab) -> None:
    page = browser_page.page
    for role in (Role.COMPLIANCE, Role.DATA_MANAGER):
        page.context.clear_cookies()
        _login(page, live_server.url, f"a_{role.value}")
        assert role.label in page.inner_text("body")
        assert urlsplit(page.url).path == "/"
