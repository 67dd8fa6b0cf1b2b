"""AuditEvent is append-only: the model refuses changes, and PostgreSQL refuses them too."""

from __future__ import annotations

import pytest
from django.db import DatabaseError, connection, transaction

from rebalancer.audit import audit_record
from rebalancer.models import AppendOnlyError, AuditEvent
from rebalancer.roles import Role
from tests.conftest import Cast

pytestmark = pytest.mark.django_db


def _event(cast: Cast) -> AuditEvent:
    return audit_record(
        firm=cast.firm_a,
        actor=cast.user(Role.FIRM_ADMIN),
        action="account.update",
        obj=cast.account_a1,
        before={"cash_balance": "10000.00"},
        after={"cash_balance": "12000.00"},
        reason="client deposit",
    )


def test_audit_record_keeps_who_what_when_and_why(cast: Cast) -> None:
    event = _event(cast)
    stored = AuditEvent.objects.get(pk=event.pk)
    assert stored.actor_label == "a_firm_admin"
    assert stored.object_type == "accounts.Account"
    assert stored.object_id == str(cast.account_a1.pk)
    assert stored.before == {"cash_balance": "10000.00"}
    assert stored.after == {"cash_balance": "12000.00"}
    assert stored.reason == "client deposit"
    assert stored.occurred_at is not None


def test_model_layer_refuses_update_and_delete(cast: Cast) -> None:
    event = _event(cast)
    event.reason = "rewritten"
    with pytest.raises(AppendOnlyError):
        event.save()
    with pytest.raises(AppendOnlyError):
        event.delete()
    with pytest.raises(AppendOnlyError):
        AuditEvent.objects.filter(pk=event.pk).update(reason="rewritten")
    with pytest.raises(AppendOnlyError):
        AuditEvent.objects.filter(pk=event.pk).delete()
    assert AuditEvent.objects.get(pk=event.pk).reason == "client deposit"


@pytest.mark.skipif(connection.vendor != "postgresql", reason="database trigger is PostgreSQL-only")
def test_postgresql_refuses_update_and_delete_in_raw_sql(cast: Cast) -> None:
    event = _event(cast)
    for sql in (
        "UPDATE rebalancer_auditevent SET reason = 'rewritten' WHERE id = %s",
        "DELETE FROM rebalancer_auditevent WHERE id = %s",
    ):
        with (
            pytest.raises(DatabaseError, match=r"append-only|permission denied"),
            transaction.atomic(),
            connection.cursor() as cursor,
        ):
            cursor.execute(sql, [event.pk])
    assert AuditEvent.objects.get(pk=event.pk).reason == "client deposit"


def test_audit_events_are_scoped_to_firm_and_role(cast: Cast) -> None:
    _event(cast)
    assert AuditEvent.objects.for_user(cast.user(Role.COMPLIANCE)).count() == 1
    assert AuditEvent.objects.for_user(cast.admin_b).count() == 0
    assert AuditEvent.objects.for_user(cast.user(Role.ADVISOR)).count() == 0
