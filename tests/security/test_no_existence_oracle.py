"""Defect 6: no cross-firm existence oracle.

An accounts import naming another firm's account number, and an invitation naming another firm's
username, get exactly the answer a value nobody holds gets.
"""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse

from accounts.models import Account
from rebalancer.models import Membership
from rebalancer.roles import Role
from tests.conftest import Cast
from tests.feeds.conftest import run
from workflow.models import ImportRecord

pytestmark = pytest.mark.django_db

HEADER = (
    "household_id,household_name,custodian,account_number,account_name,registration_type,"
    "discretionary,status,advisor,cash_balance,flags\n"
)


def _outcome(record: ImportRecord) -> dict[str, Any]:
    return {
        "status": record.status,
        "message": record.message,
        "errors": record.errors,
        "counts": (record.created, record.updated, record.unchanged, record.deleted),
    }


def test_an_account_number_of_another_firm_is_answered_like_a_free_one(cast: Cast) -> None:
    b1 = cast.account_b1
    taken = HEADER + f"HH-9,Nine,{b1.custodian},{b1.account_number},Nine,taxable,true,active,,0,\n"
    free = HEADER + f"HH-8,Eight,{b1.custodian},FREE-0001,Eight,taxable,true,active,,0,\n"
    taken_record = run(cast, "accounts", taken, name="a.csv")
    free_record = run(cast, "accounts", free, name="b.csv")
    assert _outcome(taken_record) == _outcome(free_record)
    assert taken_record.status == "applied"
    # Each firm has its own account; firm B's is untouched.
    mine = Account.objects.for_firm(cast.firm_a.pk).get(account_number=b1.account_number)
    assert mine.pk != b1.pk and mine.name == "Nine"
    b1.refresh_from_db()
    assert b1.firm_id == cast.firm_b.pk and b1.household_id == cast.hh_b1.pk


def _invite(client: Client, username: str) -> Any:
    return client.post(
        reverse("member_invite"),
        {
            "username": username,
            "email": f"{username}@example.com",
            "role": Role.ADVISOR,
            "reason": "hire",
        },
    )


def _shape(response: Any) -> tuple[int, str, list[str]]:
    """Status, template and form errors: everything but the username itself."""
    form = response.context.get("form")
    errors = sorted(form.errors) if form is not None else []
    return response.status_code, response.templates[0].name, errors


def test_inviting_another_firms_username_is_answered_like_a_free_one(
    cast: Cast, client_for: Any
) -> None:
    admin_a = client_for(cast.user(Role.FIRM_ADMIN))
    other = cast.admin_b.get_username()  # "b_firm_admin", a user of firm B
    taken = _invite(admin_a, other)
    free = _invite(admin_a, "nobody_holds_this")
    assert _shape(taken) == _shape(free)
    assert taken.status_code == 200 and taken.templates[0].name == "members/member_invite_done.html"
    invited = User.objects.get(username=f"{other}@alpha")
    assert Membership.objects.get(user=invited).firm == cast.firm_a
    cast.admin_b.refresh_from_db()
    assert Membership.objects.get(user=cast.admin_b).firm == cast.firm_b


def test_a_username_already_in_the_same_firm_is_still_reported(cast: Cast, client_for: Any) -> None:
    admin_a = client_for(cast.user(Role.FIRM_ADMIN))
    assert _invite(admin_a, "twice").templates[0].name == "members/member_invite_done.html"
    again = _invite(admin_a, "twice")
    assert "username" in again.context["form"].errors
