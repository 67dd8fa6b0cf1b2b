"""A demo book is only built into a database without its names; otherwise nothing is written."""

from __future__ import annotations

import io

import pytest
from django.core.management import CommandError, call_command

from rebalancer.models import Firm
from tests.factories import FirmFactory, UserFactory

pytestmark = pytest.mark.django_db


def test_taken_username_refuses_the_build_and_writes_nothing() -> None:
    UserFactory(username="demo_ipc")
    with pytest.raises(CommandError, match="usernames already taken: demo_ipc"):
        call_command("demo_book", accounts=3, stdout=io.StringIO())
    assert not Firm.objects.exists()


def test_second_firm_without_demo_firm_is_refused() -> None:
    FirmFactory(name="Second Street Advisors", slug="second-street")
    with pytest.raises(CommandError, match="firms already exist: second-street"):
        call_command("demo_book", accounts=3, stdout=io.StringIO())
    assert Firm.objects.count() == 1
