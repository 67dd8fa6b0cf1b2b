"""Accounts imports: households, accounts, flags and advisor assignments, scoped to one firm."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from accounts.models import Account, AccountFlag, Household
from rebalancer.roles import Action, Role
from tests.conftest import Cast
from tests.feeds.conftest import assert_rejected, run, snapshot
from workflow.models import ImportStatus

pytestmark = pytest.mark.django_db

HEADER = (
    "household_id,household_name,custodian,account_number,account_name,registration_type,"
    "discretionary,status,advisor,cash_balance,flags\n"
)


def test_creates_households_accounts_flags_and_assigns_the_advisor(cast: Cast) -> None:
    text = HEADER + (
        "HH-900,Diaz Family,Fidelity,F-1,Diaz joint,taxable,true,active,a_advisor,2500.50,"
        "legacy concentrated;do not contact\n"
        "HH-900,Diaz Family,Fidelity,F-2,Diaz IRA,traditional_ira,no,active,,0,\n"
    )
    record = run(cast, "accounts", text)
    assert record.status == ImportStatus.APPLIED, record.errors
    assert (record.rows, record.created, record.updated) == (2, 2, 0)
    assert record.detail["households_created"] == 1
    assert record.detail["flags_created"] == 2
    household = Household.objects.get(firm=cast.firm_a, external_id="HH-900")
    joint = Account.objects.get(firm=cast.firm_a, account_number="F-1")
    assert joint.household == household
    assert joint.cash_balance == Decimal("2500.50")
    assert joint.advisor == cast.user(Role.ADVISOR)
    assert sorted(joint.flags.values_list("name", flat=True)) == [
        "do not contact",
        "legacy concentrated",
    ]
    ira = Account.objects.get(firm=cast.firm_a, account_number="F-2")
    assert (ira.discretionary, ira.advisor, ira.flags.count()) == (False, None, 0)
    # The household is now in the advisor's book (guardian), so the advisor sees the accounts.
    visible = Account.objects.for_user(cast.user(Role.ADVISOR), Action.VIEW)
    assert {joint, ira} <= set(visible)


def test_updates_existing_accounts_in_place_and_is_idempotent(cast: Cast) -> None:
    a1 = cast.account_a1
    text = HEADER + (
        f"{cast.hh_a1.external_id},Adams Family,{a1.custodian},{a1.account_number},"
        f"Adams taxable,taxable,true,suspended,a_advisor,12000.00,watch\n"
    )
    first = run(cast, "accounts", text)
    assert (first.status, first.created, first.updated) == (ImportStatus.APPLIED, 0, 1)
    a1.refresh_from_db()
    assert (a1.name, a1.status, a1.cash_balance) == ("Adams taxable", "suspended", Decimal("12000"))
    after = snapshot()
    again = run(cast, "accounts", text, name="accounts-copy.csv")  # same rows, another file
    assert again.status == ImportStatus.UNCHANGED
    assert (again.created, again.updated, again.unchanged) == (0, 0, 1)
    assert snapshot() == after
    # Removing the flag in the file removes it from the account.
    cleared = run(cast, "accounts", text.replace(",watch\n", ",\n"))
    assert cleared.updated == 1
    assert a1.flags.count() == 0
    assert AccountFlag.objects.filter(firm=cast.firm_a, name="watch").exists()


def test_advisor_must_be_an_advisor_of_this_firm(cast: Cast, before: dict[str, Any]) -> None:
    text = HEADER + (
        "HH-1,One,Schwab,N-1,One,taxable,true,active,b_advisor,0,\n"
        "HH-2,Two,Schwab,N-2,Two,taxable,true,active,a_compliance,0,\n"
        "HH-3,Three,Schwab,N-3,Three,taxable,true,active,nobody,0,\n"
    )
    assert_rejected(
        run(cast, "accounts", text),
        [
            (2, "advisor", "unknown advisor for this firm"),
            (3, "advisor", "this user is not an advisor"),
            (4, "advisor", "unknown advisor for this firm"),
        ],
    )
    assert snapshot() == before


def test_bad_cells_are_each_reported(cast: Cast, before: dict[str, Any]) -> None:
    text = HEADER + (
        "HH-1,One,Schwab,N-1,One,401k,maybe,open,,-5.00,\n"
        "HH-1,Other name,Schwab,N-2,Two,taxable,true,active,,1.234,\n"
        'HH-2,Two,Schwab,N-3,Three,taxable,true,active,,"1,000",\n'
        "HH-3,Three,Schwab,N-3,Three again,taxable,true,active,,0,\n"
    )
    assert_rejected(
        run(cast, "accounts", text),
        [
            (2, "registration_type", "expected one of taxable"),
            (2, "discretionary", "expected true or false"),
            (2, "status", "expected one of active"),
            (2, "cash_balance", "must not be negative"),
            (3, "household_name", "household HH-1 is named 'One' on line 2"),
            (3, "cash_balance", "more than 2 decimal places"),
            (4, "cash_balance", "malformed number"),
            (5, "account_number", "account appears twice (first on line 4)"),
        ],
    )
    assert snapshot() == before


def test_household_named_two_ways_is_an_error(cast: Cast, before: dict[str, Any]) -> None:
    text = HEADER + (
        "HH-1,One,Schwab,N-1,One,taxable,true,active,,0,\n"
        "HH-1,Uno,Schwab,N-2,Two,taxable,true,active,,0,\n"
    )
    assert_rejected(
        run(cast, "accounts", text), [(3, "household_name", "household HH-1 is named 'One'")]
    )
    assert snapshot() == before


def test_missing_column(cast: Cast, before: dict[str, Any]) -> None:
    text = "household_id,household_name,custodian,account_name,registration_type\nH,H,S,N,taxable\n"
    assert_rejected(run(cast, "accounts", text), [(1, "account_number", "missing column")])
    assert snapshot() == before
