"""The demo book as ``manage.py demo_book --accounts 40`` builds it (once for this module)."""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Iterator
from dataclasses import replace
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command
from django.db import connection, transaction
from django.test import override_settings

from accounts.invariants import position_lot_mismatches
from accounts.models import Account, Household, Position, TaxLot
from demo.book.build import (
    LOCAL_DEMO_PASSWORD,
    demo_password,
    demo_specs,
    firm_book_build,
)
from demo.book.program import subscribed_tickers
from demo.book.universe import universe_load
from models_hub.models import Price, Security
from rebalancer.authz import SystemActor
from rebalancer.models import AuditEvent, Firm, Membership
from rebalancer.roles import Role
from tests.marketdata.csvfile import csv_closes, csv_dates

ACCOUNTS = 40
MD5_HASHER = "django.contrib.auth.hashers.MD5PasswordHasher"


#: The demo logins' password in these tests (REBALANCER_DEMO_PASSWORD), on either database.
PASSWORD = "test-demo-password"


@pytest.fixture(scope="module")
def built(django_db_setup: None, django_db_blocker: Any) -> Iterator[str]:
    """Build the book once, in a transaction rolled back after the module; yield the output."""
    with django_db_blocker.unblock():
        atomic = transaction.atomic()
        atomic.__enter__()
        try:
            out = io.StringIO()
            # The same fast hasher that tests/conftest.py sets for every test (tests run after
            # this fixture, so they could not read a PBKDF2 hash).
            with override_settings(
                DEMO_MODE=True, DEMO_PASSWORD=PASSWORD, PASSWORD_HASHERS=[MD5_HASHER]
            ):
                call_command("demo_book", accounts=ACCOUNTS, stdout=out)
            # The book was written with raw bulk inserts: check every foreign key now (this raises
            # IntegrityError naming a broken row). On PostgreSQL this also settles the deferred
            # checks once, instead of again at the end of every test.
            connection.check_constraints()
            yield out.getvalue()
        finally:
            transaction.set_rollback(True)
            atomic.__exit__(None, None, None)


@pytest.fixture
def book(built: str, db: None) -> str:
    return built


def _demo() -> Firm:
    return Firm.objects.get(slug="demo")


def _lots(firm: Firm) -> list[tuple[Any, ...]]:
    return list(
        TaxLot.objects.for_firm(firm.pk)
        .order_by("lot_id")
        .values_list(
            "account__account_number",
            "security__ticker",
            "lot_id",
            "quantity",
            "cost_basis",
            "acquired_on",
        )
    )


def test_firms_users_and_logins_printed_in_demo_mode(book: str) -> None:
    demo = _demo()
    second = Firm.objects.get(slug="second-street")
    assert demo.name == "Demo Wealth Partners" and second.name == "Second Street Advisors"
    roles = dict(Membership.objects.filter(firm=demo).values_list("user__username", "role"))
    for role in Role:
        assert roles[f"demo_{role.value}"] == role
    assert set(Membership.objects.filter(firm=second).values_list("user__username", flat=True)) == {
        "second_firm_admin",
        "second_advisor",
    }
    user_model = get_user_model()
    operator = user_model.objects.get(username="operator")
    assert operator.is_superuser and not Membership.objects.filter(user=operator).exists()
    assert user_model.objects.get(username="demo_ipc").check_password(PASSWORD)
    assert "demo_overlay_manager" in book and PASSWORD in book and "operator" in book
    assert f"{ACCOUNTS} accounts" in book


def test_position_lot_invariant_holds_for_the_whole_book(book: str) -> None:
    for firm in Firm.objects.filter(slug__in=["demo", "second-street"]):
        assert Position.objects.for_firm(firm.pk).exists()
        assert position_lot_mismatches(firm=firm) == []


def test_lot_basis_is_the_real_close_on_a_real_trading_day(book: str) -> None:
    closes = csv_closes()
    days = set(csv_dates())
    stock_lots = (
        TaxLot.objects.for_firm(_demo().pk)
        .filter(security__is_synthetic=False)
        .order_by("lot_id")
        .values_list("security__ticker", "quantity", "cost_basis", "acquired_on")
    )
    checked = 0
    for ticker, quantity, basis, acquired_on in list(stock_lots)[::25]:
        assert acquired_on in days
        assert dt.date(2015, 1, 12) <= acquired_on <= dt.date(2020, 1, 10)
        close = closes[(ticker, acquired_on)]
        assert basis == (quantity * close).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
        checked += 1
    assert checked > 50
    # The lots' own prices are in the firm's price history too.
    lot = TaxLot.objects.for_firm(_demo().pk).filter(security__ticker="AAPL").first()
    assert lot is not None
    price = Price.objects.for_firm(_demo().pk).get(security=lot.security, date=lot.acquired_on)
    assert price.close == closes[("AAPL", lot.acquired_on)]


def test_gains_and_losses_short_and_long_term_are_all_present(book: str) -> None:
    firm = _demo()
    today = dt.date(2020, 1, 10)
    last = dict(
        Price.objects.for_firm(firm.pk).filter(date=today).values_list("security_id", "close")
    )
    seen = set()
    for security_id, quantity, basis, acquired_on in TaxLot.objects.for_firm(firm.pk).values_list(
        "security_id", "quantity", "cost_basis", "acquired_on"
    ):
        gain = quantity * last[security_id] - basis
        long_term = acquired_on <= dt.date(2019, 1, 10)
        seen.add((gain > 0, long_term))
    assert seen == {(True, True), (True, False), (False, True), (False, False)}


def test_synthetic_securities_are_labelled_and_prices_are_full_or_held(book: str) -> None:
    demo, second = _demo(), Firm.objects.get(slug="second-street")
    synthetic = Security.objects.for_firm(demo.pk).filter(is_synthetic=True)
    assert synthetic.count() >= 30
    for security in synthetic:
        assert "(synthetic)" in security.name and security.source.startswith("Synthetic:")
        assert "(synthetic)" in str(security)
    assert not Security.objects.filter(is_synthetic=False, name__contains="synthetic").exists()
    expected = len(csv_closes()) + synthetic.count() * len(csv_dates())
    assert Price.objects.for_firm(demo.pk).count() == expected  # the full history, ~635,000
    held = set(TaxLot.objects.for_firm(second.pk).values_list("security__ticker", flat=True))
    loaded = set(Security.objects.for_firm(second.pk).values_list("ticker", flat=True))
    # What it holds, and the funds of the strategy it uses through its subscription.
    assert loaded == held | set(subscribed_tickers())


def test_book_mix_cash_flags_and_statuses(book: str) -> None:
    accounts = Account.objects.for_firm(_demo().pk)
    assert accounts.count() == ACCOUNTS
    assert (
        accounts.filter(status="suspended").exists() and accounts.filter(status="closed").exists()
    )
    assert accounts.filter(discretionary=False).exists()
    assert accounts.filter(flags__name="Legacy concentrated").exists()
    assert accounts.filter(cash_balance__gt=0).count() > ACCOUNTS * 0.9
    households = Household.objects.for_firm(_demo().pk)
    mixed = [
        h
        for h in households
        if {"taxable", "traditional_ira", "roth_ira", "trust"}
        <= set(h.accounts.values_list("registration_type", flat=True))
    ]
    assert mixed
    held = Position.objects.for_firm(_demo().pk).values("account_id")
    biggest = max(
        (Position.objects.filter(account_id=row["account_id"]).count() for row in held[:2000]),
        default=0,
    )
    assert biggest >= 100  # a direct-indexing account


def test_advisors_see_only_their_households(book: str) -> None:
    user_model = get_user_model()
    advisor = user_model.objects.get(username="demo_advisor")
    visible = Account.objects.for_user(advisor)
    assert visible.exists()
    assert set(visible.values_list("advisor__username", flat=True)) == {"demo_advisor"}
    assert visible.count() < Account.objects.for_firm(_demo().pk).count()
    second_admin = user_model.objects.get(username="second_firm_admin")
    assert not Account.objects.for_user(second_admin).filter(firm=_demo()).exists()
    assert Account.objects.for_user(second_admin).exists()


def test_one_audit_event_per_firm_build(book: str) -> None:
    events = AuditEvent.objects.filter(action="demo_book.build")
    assert sorted(events.values_list("firm__slug", flat=True)) == ["demo", "second-street"]
    event = events.get(firm__slug="demo")
    assert event.after is not None and event.after["accounts"] == ACCOUNTS
    assert event.actor is None and event.actor_label == "system:demo"


def test_rerun_leaves_the_book_and_logins_only_in_demo_mode(book: str) -> None:
    before = _lots(_demo()), AuditEvent.objects.count()
    out = io.StringIO()
    with override_settings(DEMO_MODE=True, DEMO_PASSWORD=PASSWORD):
        call_command("demo_book", stdout=out)
    assert "left as it is" in out.getvalue()
    assert "demo_advisor" in out.getvalue() and PASSWORD in out.getvalue()
    assert (_lots(_demo()), AuditEvent.objects.count()) == before


def test_demo_book_refuses_to_run_outside_demo_mode(book: str) -> None:
    before = _lots(_demo()), AuditEvent.objects.count()
    out = io.StringIO()
    with override_settings(DEMO_MODE=False), pytest.raises(CommandError, match="demo mode"):
        call_command("demo_book", stdout=out)
    assert "demo_advisor" not in out.getvalue() and PASSWORD not in out.getvalue()
    assert (_lots(_demo()), AuditEvent.objects.count()) == before


def test_the_repository_password_is_only_for_the_embedded_local_demo() -> None:
    with override_settings(DEMO_PASSWORD="", EMBEDDED_DATABASE=True):
        assert demo_password() == LOCAL_DEMO_PASSWORD
    with override_settings(DEMO_PASSWORD="", EMBEDDED_DATABASE=False):
        assert demo_password() is None  # a shared database: a random password, printed once
    with override_settings(DEMO_PASSWORD="chosen-for-this-stack", EMBEDDED_DATABASE=False):
        assert demo_password() == "chosen-for-this-stack"


def test_same_seed_builds_identical_lots_in_another_firm(book: str) -> None:
    """The demo spec again, under another firm and user names: lot for lot the same book."""
    demo_spec, _ = demo_specs(seed=42, accounts=ACCOUNTS)
    copy = replace(demo_spec, name="Demo Copy", slug="demo-copy", user_prefix="copy", prices="none")
    firm_book_build(spec=copy, universe=universe_load(), password_hash="!")
    assert _lots(Firm.objects.get(slug="demo-copy")) == _lots(_demo())
    other = replace(
        copy,
        name="Demo Other",
        slug="demo-other",
        user_prefix="other",
        book=replace(copy.book, seed=7),
    )
    firm_book_build(spec=other, universe=universe_load(), password_hash="!")
    assert _lots(Firm.objects.get(slug="demo-other")) != _lots(_demo())


def test_bad_account_count_is_refused(book: str) -> None:
    with pytest.raises(CommandError, match="between 1 and"):
        call_command("demo_book", accounts=0, stdout=io.StringIO())


def test_account_values_written_on_insert_match_a_fresh_valuation(book: str) -> None:
    """The bulk path values the new accounts in Python; the SQL refresh finds the same figures."""
    from accounts.services import account_values_refresh

    firm = _demo()
    before = dict(Account.objects.for_firm(firm.pk).values_list("pk", "securities_value"))
    assert sum(1 for v in before.values() if v > 0) > len(before) // 2
    account_values_refresh(firm_id=firm.pk, actor=SystemActor.COMMAND)
    after = dict(Account.objects.for_firm(firm.pk).values_list("pk", "securities_value"))
    assert after == before
