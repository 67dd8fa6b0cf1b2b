"""account_update: validated field changes, one audit event with before/after, scoped by role."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from accounts.models import Account, AccountFlag
from accounts.services import account_update
from rebalancer.authz import SystemActor
from rebalancer.models import AuditEvent
from rebalancer.roles import Role
from tests.conftest import Cast

pytestmark = pytest.mark.django_db


def test_update_saves_changes_and_audits_before_and_after(cast: Cast) -> None:
    AccountFlag.objects.create(firm=cast.firm_a, name="Do not contact")
    actor = cast.user(Role.OVERLAY_MANAGER)
    account = account_update(
        account=cast.account_a2,
        actor=actor,
        changes={
            "cash_balance": "12500.10",
            "status": "suspended",
            "discretionary": False,
            "flags": ["Do not contact"],
        },
        reason="client on a trading hold",
    )
    stored = Account.objects.get(pk=cast.account_a2.pk)
    assert stored.cash_balance == Decimal("12500.10")
    assert (stored.status, stored.discretionary) == ("suspended", False)
    assert list(stored.flags.values_list("name", flat=True)) == ["Do not contact"]
    assert account.pk == stored.pk
    event = AuditEvent.objects.for_firm(cast.firm_a.pk).get(action="account.update")
    assert event.actor == actor
    assert event.before == {
        "cash_balance": "10000.00",
        "discretionary": True,
        "flags": [],
        "status": "active",
    }
    assert event.after == {
        "cash_balance": "12500.10",
        "discretionary": False,
        "flags": ["Do not contact"],
        "status": "suspended",
    }


def test_no_real_change_writes_nothing(cast: Cast) -> None:
    account_update(
        account=cast.account_a1,
        actor=SystemActor.COMMAND,
        changes={"cash_balance": Decimal("10000.00"), "status": "active"},
        reason="re-sent by the custodian",
    )
    assert not AuditEvent.objects.filter(action="account.update").exists()


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"household": 10**9}, "household"),
        ({"household": "Adams"}, "household"),
        ({"created_at": "2020-01-01"}, "created_at"),
        ({"cash_balance": "lots"}, "cash_balance"),
        ({"cash_balance": "1.005"}, "cash_balance"),
        ({"status": "frozen"}, "status"),
        ({"discretionary": "yes"}, "discretionary"),
        ({"flags": ["No such flag"]}, "flags"),
        ({"advisor": 10**9}, "advisor"),
        ({"name": ""}, "name"),
    ],
)
def test_bad_changes_are_refused_and_nothing_changes(
    cast: Cast, changes: dict[str, object], field: str
) -> None:
    with pytest.raises(ValidationError) as raised:
        account_update(
            account=cast.account_a1, actor=SystemActor.COMMAND, changes=changes, reason="r"
        )
    assert field in raised.value.message_dict
    stored = Account.objects.get(pk=cast.account_a1.pk)
    assert (stored.cash_balance, stored.status, stored.name) == (
        Decimal("10000.00"),
        "active",
        cast.account_a1.name,
    )
    assert not AuditEvent.objects.filter(action="account.update").exists()


def test_advisor_may_change_only_accounts_of_assigned_households(cast: Cast) -> None:
    advisor = cast.user(Role.ADVISOR)
    account_update(account=cast.account_a1, actor=advisor, changes={"name": "Joint"}, reason="r")
    assert Account.objects.get(pk=cast.account_a1.pk).name == "Joint"
    with pytest.raises(PermissionDenied):  # hh_a2 is not assigned to the advisor
        account_update(account=cast.account_a2, actor=advisor, changes={"name": "X"}, reason="r")
    with pytest.raises(PermissionDenied):  # another firm
        account_update(account=cast.account_b1, actor=advisor, changes={"name": "X"}, reason="r")


def test_roles_without_account_change_are_refused(cast: Cast) -> None:
    for role in (Role.COMPLIANCE, Role.DATA_MANAGER, Role.IPC, Role.MANAGEMENT):
        with pytest.raises(PermissionDenied):
            account_update(
                account=cast.account_a1, actor=cast.user(role), changes={"name": "X"}, reason="r"
            )


def test_advisor_reassignment_needs_an_advisor_of_the_same_firm(cast: Cast) -> None:
    with pytest.raises(ValidationError, match="no active advisor"):
        account_update(
            account=cast.account_a2,
            actor=SystemActor.COMMAND,
            changes={"advisor": cast.advisor_b.pk},
            reason="r",
        )
    advisor = cast.user(Role.ADVISOR)
    account_update(
        account=cast.account_a2,
        actor=SystemActor.COMMAND,
        changes={"advisor": advisor.pk},
        reason="r",
    )
    assert Account.objects.get(pk=cast.account_a2.pk).advisor == advisor


def test_an_account_moves_household_within_the_firm_only(cast: Cast) -> None:
    admin = cast.user(Role.FIRM_ADMIN)
    moved = account_update(
        account=cast.account_a1,
        actor=admin,
        changes={"household": cast.hh_a2.pk},
        reason="joined the trust's household",
    )
    assert moved.household_id == cast.hh_a2.pk
    event = AuditEvent.objects.filter(action="account.update").latest("occurred_at")
    assert event.before == {"household": cast.hh_a1.pk}
    assert event.after == {"household": cast.hh_a2.pk}
    with pytest.raises(ValidationError, match="no household"):
        account_update(account=moved, actor=admin, changes={"household": cast.hh_b1.pk}, reason="x")
    # An advisor cannot move an account into a household not assigned to them.
    with pytest.raises(PermissionDenied):
        account_update(
            account=cast.account_a1,
            actor=cast.user(Role.ADVISOR),
            changes={"household": cast.hh_a2.pk},
            reason="x",
        )
