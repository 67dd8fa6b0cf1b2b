"""Bulk changes over a filter: preview, exemptions, all-or-nothing, reversal; saved filters."""

from __future__ import annotations

from typing import Any

import pytest

from accounts.bulk_changes import (
    BulkChangeError,
    bulk_change_apply,
    bulk_change_preview,
    bulk_change_reverse,
)
from accounts.models import Account, BulkChange, SettingsVersion
from accounts.resolve import resolve_accounts
from accounts.saved_filters import (
    SavedFilterError,
    saved_filter_delete,
    saved_filter_list,
    saved_filter_save,
)
from rebalancer.authz import NotAuthorized
from rebalancer.models import AppendOnlyError, AuditEvent
from rebalancer.roles import Role
from tests.factories import AccountFactory
from tests.program.conftest import Program

pytestmark = pytest.mark.django_db

DO_NOT_BUY_AAPL = {
    "op": "add_restriction",
    "rule": "never_buy",
    "security": "AAPL",
    "reason": "firm-wide review",
}


def _book(program: Program) -> list[Account]:
    """Four accounts of household A1 on the strategy (A1 is the advisor's household)."""
    accounts = [program.cast.account_a1]
    accounts += [
        AccountFactory.create(household=program.cast.hh_a1, custodian="Fidelity") for _ in range(3)
    ]
    for a in accounts:
        program.choose(a, {"strategy": program.strategy.pk})
    return accounts


def test_preview_counts_and_samples_without_writing(program: Program) -> None:
    accounts = _book(program)
    before = SettingsVersion.objects.count()
    preview = bulk_change_preview(
        user=program.cast.user(Role.OVERLAY_MANAGER),
        criteria={"strategy": str(program.strategy.pk)},
        operation=DO_NOT_BUY_AAPL,
        exemptions=[{"account": accounts[0].pk, "reason": "client owns Apple stock elsewhere"}],
    )
    assert (preview.matched, preview.exempt, preview.to_change) == (4, 1, 3)
    assert preview.description == "add restriction: never buy security AAPL"
    assert [r.after for r in preview.sample] == ["never buy AAPL"] * 3
    assert preview.failing == ()
    assert SettingsVersion.objects.count() == before


def test_apply_changes_every_matched_account_but_the_exempt_and_can_be_reversed(
    program: Program,
) -> None:
    accounts = _book(program)
    overlay = program.cast.user(Role.OVERLAY_MANAGER)
    bulk = bulk_change_apply(
        actor=overlay,
        criteria={"custodian": "fidelity"},
        operation=DO_NOT_BUY_AAPL,
        exemptions=[{"account": accounts[1].pk, "reason": "legacy position"}],
        reason="IPC decision 2026-12",
    )
    assert (bulk.matched, bulk.changed) == (3, 2)
    resolved = resolve_accounts(program.cast.firm_a.pk, [a.pk for a in accounts])
    assert "AAPL" in resolved[accounts[2].pk].never_buy
    assert "AAPL" not in resolved[accounts[1].pk].never_buy  # exempt
    assert "AAPL" not in resolved[accounts[0].pk].never_buy  # not matched (other custodian)
    version = SettingsVersion.objects.get(account=accounts[2], bulk_change=bulk)
    assert version.reason.endswith("IPC decision 2026-12")
    assert AuditEvent.objects.filter(action="bulk_change.apply").count() == 1
    with pytest.raises(AppendOnlyError):
        BulkChange.objects.filter(pk=bulk.pk).update(reason="edited")

    reversal = bulk_change_reverse(actor=overlay, bulk_change=bulk, reason="decision withdrawn")
    assert reversal.reverses_id == bulk.pk and reversal.changed == 2
    resolved = resolve_accounts(program.cast.firm_a.pk, [a.pk for a in accounts])
    assert all("AAPL" not in r.never_buy for r in resolved.values())
    # History is kept: the change and its reversal are both versions.
    assert SettingsVersion.objects.filter(account=accounts[2]).count() == 3
    with pytest.raises(BulkChangeError, match="already reversed"):
        bulk_change_reverse(actor=overlay, bulk_change=bulk, reason="again")


def test_apply_is_all_or_nothing_when_an_account_would_break_a_limit(program: Program) -> None:
    accounts = _book(program)
    program.choose(
        accounts[3],
        {
            "strategy": program.strategy.pk,
            "restrictions": [
                {"rule": "never_buy", "security": t, "reason": "x"} for t in ("MSFT", "JNJ", "IVV")
            ],
        },
        reason="three already",
    )
    before = SettingsVersion.objects.count()
    with pytest.raises(
        BulkChangeError, match=r"1 account\(s\) would break a limit.*4 restrictions"
    ):
        bulk_change_apply(
            actor=program.cast.user(Role.OVERLAY_MANAGER),
            criteria={"custodian": "fidelity"},
            operation=DO_NOT_BUY_AAPL,
            reason="x",
        )
    assert SettingsVersion.objects.count() == before
    bulk = bulk_change_apply(
        actor=program.cast.user(Role.OVERLAY_MANAGER),
        criteria={"custodian": "fidelity"},
        operation=DO_NOT_BUY_AAPL,
        reason="x",
        exemptions=[{"account": accounts[3].pk, "reason": "already at the restriction limit"}],
    )
    assert bulk.changed == 2


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"operation": {"op": "explode"}}, "must be one of"),
        ({"operation": {**DO_NOT_BUY_AAPL, "security": "NOPE"}}, "unknown securities"),
        ({"criteria": {"nonsense": "1"}}, "unknown criterion"),
        ({"exemptions": [{"account": 1}]}, "give the reason for the exemption"),
        ({"reason": " "}, "say why"),
    ],
)
def test_bad_bulk_input_changes_nothing(
    program: Program, kwargs: dict[str, Any], message: str
) -> None:
    _book(program)
    before = SettingsVersion.objects.count()
    args = {
        "criteria": {"custodian": "fidelity"},
        "operation": DO_NOT_BUY_AAPL,
        "reason": "x",
        **kwargs,
    }
    with pytest.raises((BulkChangeError, SavedFilterError), match=message):
        bulk_change_apply(actor=program.cast.user(Role.OVERLAY_MANAGER), **args)
    assert SettingsVersion.objects.count() == before


def test_an_advisor_changes_only_their_households_and_compliance_cannot(program: Program) -> None:
    _book(program)
    other = AccountFactory.create(household=program.cast.hh_a2, custodian="Fidelity")
    preview = bulk_change_preview(
        user=program.advisor, criteria={"custodian": "fidelity"}, operation=DO_NOT_BUY_AAPL
    )
    assert other.pk not in {a.pk for a, _ in preview.changes}
    assert preview.matched == 3
    with pytest.raises(NotAuthorized):
        bulk_change_apply(
            actor=program.cast.user(Role.COMPLIANCE),
            criteria={"custodian": "fidelity"},
            operation=DO_NOT_BUY_AAPL,
            reason="x",
        )


def test_set_a_choice_in_bulk_for_a_saved_filter(program: Program) -> None:
    accounts = _book(program)
    overlay = program.cast.user(Role.OVERLAY_MANAGER)
    saved = saved_filter_save(
        actor=overlay,
        firm_id=program.cast.firm_a.pk,
        name="Schwab",
        shared=True,
        criteria={"custodian": "fidelity"},
    )
    bulk = bulk_change_apply(
        actor=overlay,
        criteria={"saved": str(saved.pk)},
        operation={"op": "set", "choice": "min_trade", "value": "500"},
        reason="platinum",
    )
    assert bulk.changed == 3
    resolved = resolve_accounts(program.cast.firm_a.pk, [a.pk for a in accounts])
    assert resolved[accounts[1].pk].knob("Settings.min_trade").value == 500.0
    assert resolved[accounts[0].pk].knob("Settings.min_trade").value == 50.0


def test_saved_filters_are_private_unless_shared(program: Program) -> None:
    cast = program.cast
    advisor, overlay = program.advisor, cast.user(Role.OVERLAY_MANAGER)
    mine = saved_filter_save(
        actor=advisor, firm_id=cast.firm_a.pk, name="Mine", criteria={"discretionary": "true"}
    )
    shared = saved_filter_save(
        actor=overlay,
        firm_id=cast.firm_a.pk,
        name="Team",
        criteria={"has_restrictions": "true"},
        shared=True,
    )
    assert set(saved_filter_list(user=advisor)) == {mine, shared}
    assert set(saved_filter_list(user=overlay)) == {shared}
    assert not saved_filter_list(user=cast.advisor_b).exists()
    with pytest.raises(NotAuthorized):
        saved_filter_delete(actor=overlay, saved_filter=mine)
    with pytest.raises(SavedFilterError, match="already have a filter named"):
        saved_filter_save(
            actor=advisor, firm_id=cast.firm_a.pk, name="Mine", criteria={"discretionary": "false"}
        )
    with pytest.raises(SavedFilterError, match="value_min"):
        saved_filter_save(
            actor=advisor, firm_id=cast.firm_a.pk, name="Bad", criteria={"value_min": "lots"}
        )
    saved_filter_delete(actor=advisor, saved_filter=mine)
    assert set(saved_filter_list(user=advisor)) == {shared}
