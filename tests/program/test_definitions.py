"""The IPC's definitions: validation, inheritance limits, versions, concurrency, providers."""

from __future__ import annotations

from typing import Any

import pytest

from models_hub.models import (
    MAX_INHERITANCE_DEPTH,
    Definition,
    DefinitionKind,
    DefinitionVersion,
)
from models_hub.program_selectors import definition_list, version_store_load
from models_hub.program_services import (
    ConcurrentEdit,
    ProgramError,
    definition_create,
    definition_publish,
    definition_save,
    subscription_end,
    subscription_start,
)
from rebalancer.authz import NotAuthorized
from rebalancer.models import AppendOnlyError, AuditEvent
from rebalancer.roles import Role
from tests.program.conftest import CORE, LC, Program

pytestmark = pytest.mark.django_db


def _rows() -> tuple[int, int, int]:
    return (
        Definition.objects.count(),
        DefinitionVersion.objects.count(),
        AuditEvent.objects.count(),
    )


def _create(program: Program, kind: str, name: str, content: Any, parent: Any = None) -> Any:
    return definition_create(
        actor=program.ipc,
        firm_id=program.cast.firm_a.pk,
        kind=kind,
        name=name,
        content=content,
        parent_id=None if parent is None else parent.pk,
        reason="test",
    )


@pytest.mark.parametrize(
    ("content", "field", "message"),
    [
        ({"classes": {LC: "0.6", CORE: "0.3"}}, "content", "sum to 90 %"),
        (
            {"classes": {LC: "1.1", CORE: "-0.1"}},
            "classes[Equity > US > Large Cap].weight",
            "between 0 and 1",
        ),
        ({"classes": {"Equity > Mars": "1"}}, "classes[Equity > Mars]", "unknown asset class"),
        (
            {"classes": {LC: "0.123456789", CORE: "0.876543211"}},
            "classes[Equity > US > Large Cap].weight",
            "decimal places",
        ),
        ({"weights": {}}, "weights", "unknown field"),
    ],
)
def test_bad_allocations_are_refused_naming_the_field(
    program: Program, content: Any, field: str, message: str
) -> None:
    before = _rows()
    with pytest.raises(ProgramError) as caught:
        _create(program, DefinitionKind.ALLOCATION, "Bad", content)
    assert field in caught.value.errors, caught.value.errors
    assert message in caught.value.errors[field]
    assert _rows() == before


def test_unknown_securities_are_refused(program: Program) -> None:
    with pytest.raises(ProgramError, match="unknown securities: NOPE"):
        _create(program, DefinitionKind.SECURITY_MODEL, "Bad", {"securities": {"NOPE": "1"}})


def test_a_strategy_needs_a_model_for_every_invested_class(program: Program) -> None:
    with pytest.raises(ProgramError, match="Fixed Income > Core has no security model"):
        _create(
            program,
            DefinitionKind.STRATEGY,
            "Half",
            {"allocation": program.allocation.pk, "sleeves": {LC: program.stocks.pk}},
        )


def test_a_model_cannot_inherit_from_itself_or_in_a_cycle(program: Program) -> None:
    child = _create(
        program,
        DefinitionKind.SECURITY_MODEL,
        "Child",
        {"remove": ["XOM"], "rescale": True},
        parent=program.stocks,
    ).definition
    with pytest.raises(ProgramError, match="cannot inherit from itself"):
        definition_save(
            actor=program.ipc,
            definition=child,
            content={},
            expected_version=1,
            reason="x",
            parent_id=child.pk,
        )
    with pytest.raises(ProgramError, match="inheritance cycle"):
        definition_save(
            actor=program.ipc,
            definition=program.stocks,
            expected_version=1,
            reason="x",
            parent_id=child.pk,
            content={"asset_class": LC, "securities": {"AAPL": "1"}},
        )
    program.stocks.refresh_from_db()
    assert program.stocks.current_version == 1 and program.stocks.parent_id is None


def test_inheritance_deeper_than_the_limit_is_refused(program: Program) -> None:
    parent = program.stocks
    for depth in range(2, MAX_INHERITANCE_DEPTH + 1):
        parent = _create(
            program, DefinitionKind.SECURITY_MODEL, f"Level {depth}", {}, parent=parent
        ).definition
    with pytest.raises(ProgramError, match=f"more than {MAX_INHERITANCE_DEPTH} levels"):
        _create(program, DefinitionKind.SECURITY_MODEL, "Too deep", {}, parent=parent)


def test_a_parent_change_that_would_break_a_child_is_refused(program: Program) -> None:
    _create(
        program,
        DefinitionKind.SECURITY_MODEL,
        "Ex XOM",
        {"remove": ["XOM"], "securities": {"AAPL": "0.6"}},
        parent=program.stocks,
    )
    # Without XOM the child sums to 0.6 + 0.3 + 0.1 = 1.0; raising MSFT in the parent breaks it.
    with pytest.raises(ProgramError, match=r"'Ex XOM' v1 .*sum to 110 %"):
        definition_save(
            actor=program.ipc,
            definition=program.stocks,
            expected_version=1,
            reason="x",
            content={
                "asset_class": LC,
                "securities": {"AAPL": "0.3", "MSFT": "0.4", "XOM": "0.2", "JNJ": "0.1"},
            },
        )


def test_concurrent_edits_do_not_lose_an_update(program: Program) -> None:
    content = {"asset_class": LC, "securities": {"AAPL": "0.5", "MSFT": "0.5"}}
    definition_save(
        actor=program.ipc,
        definition=program.stocks,
        content=content,
        expected_version=1,
        reason="first editor",
    )
    with pytest.raises(ConcurrentEdit, match=r"changed by someone else.*version 2 by a_ipc"):
        definition_save(
            actor=program.ipc,
            definition=program.stocks,
            expected_version=1,
            reason="second",
            content={"asset_class": LC, "securities": {"AAPL": "1"}},
        )
    versions = DefinitionVersion.objects.filter(definition=program.stocks)
    assert [v.number for v in versions] == [1, 2]
    assert versions.get(number=2).content["securities"] == {"AAPL": "0.5", "MSFT": "0.5"}


def test_versions_are_append_only(program: Program) -> None:
    version = DefinitionVersion.objects.filter(definition=program.stocks).get()
    version.reason = "rewritten"
    with pytest.raises(AppendOnlyError):
        version.save()
    with pytest.raises(AppendOnlyError):
        DefinitionVersion.objects.filter(pk=version.pk).update(reason="x")
    with pytest.raises(AppendOnlyError):
        version.delete()


def test_equivalence_sets_do_not_overlap(program: Program) -> None:
    with pytest.raises(ProgramError, match="VOO already in equivalence set 'S&P 500 ETFs'"):
        _create(program, DefinitionKind.EQUIVALENCE_SET, "Other", {"members": ["VOO", "AGG"]})


def test_only_the_ipc_edits_models(program: Program) -> None:
    for role in (Role.ADVISOR, Role.OVERLAY_MANAGER, Role.COMPLIANCE, Role.DATA_MANAGER):
        with pytest.raises(NotAuthorized):
            definition_save(
                actor=program.cast.user(role),
                definition=program.stocks,
                expected_version=1,
                reason="x",
                content={"securities": {"AAPL": "1"}},
            )
    with pytest.raises(NotAuthorized):
        definition_create(
            actor=program.cast.admin_b,
            firm_id=program.cast.firm_a.pk,
            kind=DefinitionKind.SCREEN,
            name="x",
            content={"securities": ["AAPL"]},
        )


def test_a_subscriber_uses_published_models_read_only_and_sees_no_provider_accounts(
    program: Program,
) -> None:
    cast = program.cast
    from tests.factories import member

    ipc_b = member(cast.firm_b, Role.IPC, "b_ipc")
    assert not definition_list(user=ipc_b).filter(firm=cast.firm_a).exists()
    definition_publish(
        actor=program.ipc, definition=program.strategy, published=True, reason="offer it"
    )
    subscription = subscription_start(
        actor=ipc_b, firm_id=cast.firm_b.pk, provider_id=cast.firm_a.pk, reason="use Alpha's"
    )
    visible = set(definition_list(user=ipc_b).values_list("name", flat=True))
    assert "Balanced stocks" in visible
    assert "US LC stocks" not in visible  # not published: resolution reads it, users don't see it
    store = version_store_load(cast.firm_b.pk)
    assert program.stocks.pk in store.versions  # referenced by the published strategy
    # Read-only: the subscriber cannot write a version of it.
    with pytest.raises(NotAuthorized):
        definition_save(
            actor=ipc_b, definition=program.strategy, expected_version=1, reason="x", content={}
        )
    # The provider sees none of the subscriber's rows.
    assert not definition_list(user=program.ipc).filter(firm=cast.firm_b).exists()
    subscription_end(actor=ipc_b, subscription=subscription, reason="done")
    assert "Balanced stocks" not in set(definition_list(user=ipc_b).values_list("name", flat=True))
    actions = set(AuditEvent.objects.values_list("action", flat=True))
    assert {"definition.publish", "subscription.start", "subscription.end"} <= actions
