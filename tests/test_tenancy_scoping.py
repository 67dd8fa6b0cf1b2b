"""FirmQuerySet.for_user: firm isolation, role table, advisor household assignment."""

from __future__ import annotations

from typing import Any

import pytest

from accounts.models import Account, Household, TaxLot
from models_hub.models import Security
from rebalancer.models import AuditEvent
from rebalancer.roles import Action, Role
from tests.conftest import Cast

pytestmark = pytest.mark.django_db


def test_users_see_only_their_own_firm(cast: Cast) -> None:
    manager = cast.user(Role.MANAGEMENT)
    assert set(Household.objects.for_user(manager)) == {cast.hh_a1, cast.hh_a2}
    assert list(Security.objects.for_user(manager)) == [cast.security_a]
    assert set(Household.objects.for_user(cast.admin_b)) == {cast.hh_b1}


def test_advisor_sees_only_assigned_households_and_their_rows(cast: Cast) -> None:
    advisor = cast.user(Role.ADVISOR)
    assert list(Household.objects.for_user(advisor)) == [cast.hh_a1]
    assert list(Account.objects.for_user(advisor)) == [cast.account_a1]
    assert {lot.lot_id for lot in TaxLot.objects.for_user(advisor)} == {"A1-1", "A1-2"}
    assert list(Account.objects.for_user(cast.advisor_b)) == [cast.account_b1]


def test_advisor_scope_is_one_subquery(cast: Cast, django_assert_num_queries: object) -> None:
    advisor = cast.user(Role.ADVISOR)
    Household.objects.for_user(advisor).count()  # warms the membership cache on the user
    with django_assert_num_queries(1):  # type: ignore[operator]
        assert Account.objects.for_user(advisor).count() == 1


def test_role_without_the_right_sees_nothing(cast: Cast) -> None:
    assert not AuditEvent.objects.for_user(cast.user(Role.ADVISOR)).exists()
    assert not Account.objects.for_user(cast.user(Role.COMPLIANCE), Action.CHANGE).exists()
    assert Account.objects.for_user(cast.user(Role.OVERLAY_MANAGER), Action.CHANGE).count() == 2


def test_user_without_membership_sees_nothing(cast: Cast, django_user_model: Any) -> None:
    operator = django_user_model.objects.create_superuser("operator", "op@example.com", "pw")
    assert not Household.objects.for_user(operator).exists()
    assert not Household.objects.for_user(None).exists()
