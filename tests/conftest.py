"""The shared cast: firm A with one user per role, firm B with an admin and an advisor.

Each firm has households; advisor A is assigned only ``hh_a1`` (``hh_a2`` belongs to nobody),
advisor B only ``hh_b1``. Every boundary test reads from this cast.
"""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from django.test import Client

from rebalancer.roles import Role
from tests.factories import (
    AccountFactory,
    FirmFactory,
    HouseholdFactory,
    PriceFactory,
    SecurityFactory,
    assign_household,
    holding,
    member,
)

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def django_db_modify_db_settings(django_db_modify_db_settings_parallel_suffix: None) -> None:
    """With an owner/app role pair (DATABASE_OWNER_URL), create and migrate as the owner."""
    from django.conf import settings
    from django.db import connections

    owner = settings.DATABASE_OWNER
    if owner is None:
        return
    settings_dict = connections["default"].settings_dict
    settings_dict["APP_USER"], settings_dict["APP_PASSWORD"] = (
        settings_dict["USER"],
        settings_dict["PASSWORD"],
    )
    settings_dict["USER"], settings_dict["PASSWORD"] = owner.user, owner.password


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup: None, django_db_blocker: Any) -> Iterator[None]:
    """The tests (and the workers they start) then connect as the app role, as production does."""
    from django.db import connections

    settings_dict = connections["default"].settings_dict
    owner = (settings_dict["USER"], settings_dict["PASSWORD"])
    app = (settings_dict.get("APP_USER"), settings_dict.get("APP_PASSWORD"))
    if app[0] is None:
        yield
        return
    connections.close_all()
    settings_dict["USER"], settings_dict["PASSWORD"] = app
    yield
    connections.close_all()
    settings_dict["USER"], settings_dict["PASSWORD"] = owner


@pytest.fixture(scope="session")
def close_stray_postgresql_sessions(
    django_db_setup: None, django_db_blocker: Any
) -> Iterator[None]:
    """Before the test database is dropped, end sessions left by live-server request threads.

    A browser that closes mid-request leaves that thread's connection open, and PostgreSQL
    refuses to drop a database with sessions on it.
    """
    yield
    from django.db import connection

    if connection.vendor != "postgresql":
        return
    with django_db_blocker.unblock(), connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )


@pytest.fixture(autouse=True)
def _fast_passwords(settings: Any) -> None:
    """The cast hashes a password per user; PBKDF2 would make every test slow."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def login(client: Client, user: Any) -> Client:
    """``force_login``, with the second factor passed for users who must have one.

    Firm admins and superusers must pass TOTP (rebalancer/security): they get a confirmed device
    and a session that has verified it, as after a real two-step login.
    """
    from django_otp import DEVICE_ID_SESSION_KEY
    from django_otp.plugins.otp_totp.models import TOTPDevice

    from rebalancer.security.twofactor import twofactor_required

    client.force_login(user)
    if twofactor_required(user):
        device = TOTPDevice.objects.filter(user=user, confirmed=True).first()
        if device is None:
            device = TOTPDevice.objects.create(user=user, name="test", confirmed=True)
        session = client.session
        session[DEVICE_ID_SESSION_KEY] = device.persistent_id
        session.save()
    return client


@pytest.fixture
def client_for() -> Callable[[Any], Client]:
    """A function that returns a test client logged in as the given user."""

    def make(user: Any) -> Client:
        return login(Client(), user)

    return make


@dataclass
class Cast:
    firm_a: Any
    firm_b: Any
    users_a: dict[Role, Any]
    admin_b: Any
    advisor_b: Any
    hh_a1: Any
    hh_a2: Any
    hh_b1: Any
    account_a1: Any
    account_a2: Any
    account_b1: Any
    security_a: Any
    security_b: Any

    def user(self, role: Role) -> Any:
        return self.users_a[role]


@pytest.fixture
def cast(db: None) -> Cast:
    firm_a = FirmFactory.create(name="Alpha Wealth", slug="alpha")
    firm_b = FirmFactory.create(name="Beta Advisors", slug="beta")
    users_a = {role: member(firm_a, role, f"a_{role.value}") for role in Role}
    admin_b = member(firm_b, Role.FIRM_ADMIN, "b_firm_admin")
    advisor_b = member(firm_b, Role.ADVISOR, "b_advisor")

    hh_a1 = HouseholdFactory.create(firm=firm_a, name="Adams Family")
    hh_a2 = HouseholdFactory.create(firm=firm_a, name="Baker Trust")
    hh_b1 = HouseholdFactory.create(firm=firm_b, name="Clark Household")
    assign_household(hh_a1, users_a[Role.ADVISOR])
    assign_household(hh_b1, advisor_b)

    account_a1 = AccountFactory.create(household=hh_a1, advisor=users_a[Role.ADVISOR])
    account_a2 = AccountFactory.create(household=hh_a2)
    account_b1 = AccountFactory.create(household=hh_b1, advisor=advisor_b)

    security_a = SecurityFactory.create(firm=firm_a, ticker="AAPL", name="Apple Inc.")
    security_b = SecurityFactory.create(firm=firm_b, ticker="AAPL", name="Apple Inc.")
    for security in (security_a, security_b):
        PriceFactory.create(security=security, date=dt.date(2019, 12, 31), close=Decimal("293.65"))
    holding(
        account_a1,
        security_a,
        [
            ("A1-1", Decimal("10"), Decimal("1000.00"), dt.date(2016, 3, 1)),
            ("A1-2", Decimal("5"), Decimal("1600.00"), dt.date(2019, 6, 3)),
        ],
    )
    holding(
        account_b1, security_b, [("B1-1", Decimal("7"), Decimal("700.00"), dt.date(2017, 1, 3))]
    )
    return Cast(
        firm_a=firm_a,
        firm_b=firm_b,
        users_a=users_a,
        admin_b=admin_b,
        advisor_b=advisor_b,
        hh_a1=hh_a1,
        hh_a2=hh_a2,
        hh_b1=hh_b1,
        account_a1=account_a1,
        account_a2=account_a2,
        account_b1=account_b1,
        security_a=security_a,
        security_b=security_b,
    )


# --- Service tests (PostgreSQL + Redis + a real Celery worker) -----------------------------------

REQUIRE_SERVICES = os.environ.get("REBALANCER_REQUIRE_SERVICES") == "1"


def services_available() -> bool:
    return bool(os.environ.get("DATABASE_URL")) and bool(os.environ.get("REDIS_URL"))


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Service tests skip in embedded mode, and must run when REBALANCER_REQUIRE_SERVICES=1."""
    if services_available():
        return
    if REQUIRE_SERVICES:
        raise pytest.UsageError(
            "REBALANCER_REQUIRE_SERVICES=1 but DATABASE_URL and REDIS_URL are not both set"
        )
    skip = pytest.mark.skip(reason="needs DATABASE_URL (PostgreSQL) and REDIS_URL (Redis)")
    for item in items:
        if item.get_closest_marker("services"):
            item.add_marker(skip)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    """Under REBALANCER_REQUIRE_SERVICES=1 a skipped service test is a failure, not a pass."""
    outcome = yield
    report = outcome.get_result()
    if REQUIRE_SERVICES and report.skipped and item.get_closest_marker("services"):
        report.outcome = "failed"
        report.longrepr = f"service test {item.nodeid} was skipped under REQUIRE_SERVICES"


@pytest.fixture
def celery_eager() -> Iterator[None]:
    """Run Celery tasks in-process, as the embedded mode does, even when REDIS_URL is set."""
    from rebalancer.celery import app

    saved = (app.conf.task_always_eager, app.conf.task_eager_propagates)
    app.conf.task_always_eager = True
    app.conf.task_eager_propagates = True
    try:
        yield
    finally:
        app.conf.task_always_eager, app.conf.task_eager_propagates = saved


@pytest.fixture
def celery_worker_process(transactional_db: None) -> Iterator[subprocess.Popen[str]]:
    """A real Celery worker in its own process, on the test database and the configured Redis."""
    from rebalancer.celery import app

    app.control.purge()  # a message left by an aborted earlier run must not reach this worker
    proc = start_celery_worker()
    try:
        yield proc
    finally:
        stop_celery_worker(proc)


def start_celery_worker(**extra_env: str) -> subprocess.Popen[str]:
    """Start a worker process on the test database; returns once it is ready."""
    from django.db import connection

    env = {
        **os.environ,
        "DATABASE_URL": _database_url_for(connection.settings_dict),
        "DATABASE_OWNER_URL": "",  # a worker never migrates
        "CELERY_WORKER_HIJACK_ROOT_LOGGER": "false",
        **extra_env,
    }
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "rebalancer",
            "worker",
            "-Q",
            "celery,nightly",
            "--pool",
            "solo",
            "--loglevel",
            "INFO",
            "--without-heartbeat",
            "--without-gossip",
            "--without-mingle",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    deadline = time.monotonic() + 60
    assert proc.stdout is not None
    for line in proc.stdout:
        if "ready." in line:
            break
        if time.monotonic() > deadline or proc.poll() is not None:
            stop_celery_worker(proc)
            raise RuntimeError("Celery worker did not start")
    threading.Thread(target=proc.stdout.read, daemon=True).start()
    return proc


def stop_celery_worker(proc: subprocess.Popen[str]) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=20)


def _database_url_for(settings_dict: dict[str, Any]) -> str:
    user = settings_dict.get("USER") or ""
    password = settings_dict.get("PASSWORD") or ""
    auth = f"{user}:{password}@" if password else (f"{user}@" if user else "")
    host = settings_dict.get("HOST") or "127.0.0.1"
    port = settings_dict.get("PORT") or "5432"
    return f"postgres://{auth}{host}:{port}/{settings_dict['NAME']}"
