"""Account customization: every limit, bad input, concurrency, who may edit, the audit trail."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from accounts.customization import (
    SettingsConflict,
    SettingsError,
    owner_of,
    settings_save,
)
from accounts.models import Account, SettingsVersion
from models_hub.models import DefinitionKind
from models_hub.program_services import definition_create, definition_save
from rebalancer.authz import NotAuthorized
from rebalancer.models import AuditEvent
from rebalancer.roles import Role
from tests.program.conftest import LC, Program

pytestmark = pytest.mark.django_db


def _save(program: Program, content: dict[str, Any], *, actor: Any = None, version: int = 0) -> Any:
    account = program.cast.account_a1
    return settings_save(
        actor=actor or program.advisor,
        owner=owner_of(firm_id=account.firm_id, account=account),
        content={"strategy": program.strategy.pk, **content},
        expected_version=version,
        reason="client meeting",
    )


def _refused(program: Program, content: dict[str, Any], field: str, message: str) -> None:
    before = (SettingsVersion.objects.count(), AuditEvent.objects.count())
    with pytest.raises(SettingsError) as caught:
        _save(program, content)
    assert field in caught.value.errors, caught.value.errors
    assert message in caught.value.errors[field], caught.value.errors
    assert (SettingsVersion.objects.count(), AuditEvent.objects.count()) == before
    program.cast.account_a1.refresh_from_db()
    assert program.cast.account_a1.settings_version_id is None


def test_a_tilt_beyond_the_limit_names_the_limit(program: Program) -> None:
    _refused(
        program,
        {"tilts": {LC: "0.06"}},
        f"tilts[{LC}]",
        "a tilt of 6 points is beyond the limit of ±5 points (firm limits v1)",
    )


def test_too_many_restrictions(program: Program) -> None:
    restrictions = [
        {"rule": "never_buy", "security": t, "reason": "client"}
        for t in ("AAPL", "MSFT", "JNJ", "IVV")
    ]
    _refused(
        program, {"restrictions": restrictions}, "restrictions", "4 restrictions; the limit is 3"
    )


def test_a_cash_target_beyond_the_limit(program: Program) -> None:
    _refused(program, {"cash_target": "0.15"}, "cash_target", "beyond the limit of 10 %")


def test_a_strategy_overrides_a_firm_limit(program: Program) -> None:
    definition_save(
        actor=program.ipc,
        definition=program.strategy,
        expected_version=1,
        reason="wider cash",
        content={
            "allocation": program.allocation.pk,
            "sleeves": {LC: program.stocks.pk, "Fixed Income > Core": program.bonds.pk},
            "limits": {"max_cash_target": "0.2"},
        },
    )
    version = _save(program, {"cash_target": "0.15"})
    assert version.number == 1


def test_substitutions_must_stay_in_the_asset_class(program: Program) -> None:
    _refused(
        program,
        {"substitutions": [{"instead_of": "AAPL", "hold": "AGG", "reason": "x"}]},
        "substitutions",
        "must stay in the same asset class",
    )
    assert (
        _save(
            program, {"substitutions": [{"instead_of": "IVV", "hold": "VOO", "reason": "x"}]}
        ).number
        == 1
    )


def test_taxable_accounts_need_the_minimum_tax_sensitivity(program: Program) -> None:
    Account.objects.filter(pk=program.cast.account_a1.pk).update(registration_type="taxable")
    _refused(
        program,
        {"tax_sensitivity": "indifferent"},
        "tax_sensitivity",
        "taxable accounts must be at least 'moderate'",
    )


def test_screens_outside_the_allowed_list(program: Program) -> None:
    definition_save(
        actor=program.ipc,
        definition=program.limits,
        expected_version=1,
        reason="no screens",
        content={"allowed_screens": []},
    )
    _refused(program, {"screens": [program.screen.pk]}, "screens", "is not allowed")


def test_a_withdrawal_larger_than_the_account(program: Program) -> None:
    account = Account.objects.get(pk=program.cast.account_a1.pk)
    value = account.cash_balance + account.securities_value
    assert value > 0
    _refused(
        program,
        {"cash_flow_amount": str(-(value + Decimal("1"))), "cash_flow_date": "2026-12-20"},
        "cash_flow_amount",
        "is larger than the account",
    )


def test_a_screen_that_excludes_every_security_of_a_class(program: Program) -> None:
    screen = definition_create(
        actor=program.ipc,
        firm_id=program.cast.firm_a.pk,
        kind=DefinitionKind.SCREEN,
        name="All large caps",
        reason="test",
        content={"securities": ["AAPL", "MSFT", "XOM", "JNJ"]},
    ).definition
    _refused(
        program,
        {"screens": [screen.pk]},
        "strategy",
        "exclude every security of Equity > US > Large Cap",
    )


@pytest.mark.parametrize(
    ("content", "field"),
    [
        ({"tax_sensitivity": "extreme"}, "tax_sensitivity"),
        ({"cash_target": "abc"}, "cash_target"),
        ({"restrictions": [{"rule": "never_buy", "security": "AAPL"}]}, "restrictions[0].reason"),
        (
            {"restrictions": [{"rule": "never_buy", "security": "NOPE", "reason": "x"}]},
            "securities",
        ),
        ({"cost_schedules": {}}, "cost_schedules"),
        ({"favourite_colour": "blue"}, "favourite_colour"),
        ({"strategy": 999999}, "strategy"),
    ],
)
def test_bad_menu_input_names_the_choice(program: Program, content: Any, field: str) -> None:
    before = SettingsVersion.objects.count()
    with pytest.raises(SettingsError) as caught:
        _save(program, content)
    assert field in caught.value.errors, caught.value.errors
    assert SettingsVersion.objects.count() == before


def test_concurrent_edits_are_detected(program: Program) -> None:
    _save(program, {"min_trade": "100"})
    with pytest.raises(SettingsConflict, match=r"changed by someone else.*version 1 by a_advisor"):
        _save(program, {"min_trade": "200"}, version=0)
    assert _save(program, {"min_trade": "200"}, version=1).number == 2


def test_who_may_edit_a_clients_settings(program: Program) -> None:
    cast = program.cast
    for role in (Role.IPC, Role.OVERLAY_MANAGER, Role.COMPLIANCE, Role.DATA_MANAGER):
        with pytest.raises(NotAuthorized):
            _save(program, {"min_trade": "1"}, actor=cast.user(role))
    assert _save(program, {"min_trade": "1"}, actor=cast.user(Role.FIRM_ADMIN)).number == 1
    # An advisor's unassigned household is hidden (404), another firm's user too.
    with pytest.raises(NotAuthorized) as hidden:
        settings_save(
            actor=program.advisor,
            owner=owner_of(firm_id=cast.firm_a.pk, account=cast.account_a2),
            content={},
            expected_version=0,
            reason="x",
        )
    assert hidden.value.hidden
    with pytest.raises(NotAuthorized):
        _save(program, {}, actor=cast.advisor_b)
    # Firm defaults are the IPC's.
    with pytest.raises(NotAuthorized):
        settings_save(
            actor=program.advisor,
            owner=owner_of(firm_id=cast.firm_a.pk),
            content={"min_trade": "5"},
            expected_version=0,
            reason="x",
        )


def test_every_edit_is_audited_with_the_reason(program: Program) -> None:
    version = _save(program, {"min_trade": "75"})
    event = AuditEvent.objects.filter(action="settings.account").latest("occurred_at")
    assert event.reason == "client meeting"
    assert event.after is not None
    assert event.after["content"]["min_trade"] == "75"
    assert event.actor_label == "a_advisor"
    program.cast.account_a1.refresh_from_db()
    assert program.cast.account_a1.settings_version_id == version.pk
    assert version.strategy_id == program.strategy.pk
