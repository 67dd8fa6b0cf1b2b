"""Defect 1: the app's database role cannot rewrite an append-only table, by any route.

The suite on PostgreSQL connects as the app role (``DATABASE_URL``) while ``DATABASE_OWNER_URL``
migrated the schema (scripts/test creates the pair). Every table of ``APPEND_ONLY_MODELS`` is
checked, so the analyses, trades, approvals and orders tables are covered once they are listed.
"""

from __future__ import annotations

from typing import Any

import psycopg
import pytest
from django.conf import settings
from django.db import DatabaseError, connection, transaction
from django.utils import timezone

from rebalancer.audit import audit_record
from rebalancer.authz import SystemActor
from rebalancer.dbroles import (
    APPEND_ONLY_MODELS,
    GUARD_FUNCTION,
    append_only_tables,
    row_trigger,
    truncate_trigger,
)
from rebalancer.models import AuditEvent
from rebalancer.roles import Role
from tests.conftest import Cast

pytestmark = [pytest.mark.services, pytest.mark.django_db]


def _refused(sql: str, params: list[Any] | None = None) -> str:
    """Run ``sql`` as the app role; return the database's refusal (fails if it succeeds)."""
    with (
        pytest.raises(DatabaseError) as caught,
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute(sql, params)
    return str(caught.value)


def _one_row_in_each_append_only_table(cast: Cast) -> None:
    """A row in every append-only table, so per-row triggers have something to refuse."""
    from accounts.customization import owner_of, settings_save
    from accounts.models import BulkChange
    from models_hub.models import DefinitionKind
    from models_hub.program_services import definition_create

    definition_create(
        actor=SystemActor.COMMAND,
        firm_id=cast.firm_a.pk,
        kind=DefinitionKind.SCREEN,
        name="Tech",
        content={"securities": ["AAPL"]},
        reason="row for the guard test",
    )
    settings_save(
        actor=SystemActor.COMMAND,
        owner=owner_of(firm_id=cast.firm_a.pk),
        content={"min_trade": "100"},
        expected_version=0,
        reason="row for the guard test",
    )
    BulkChange.objects.create(
        firm=cast.firm_a,
        criteria={},
        operation={},
        description="row",
        matched=0,
        changed=0,
        created_at=timezone.now(),
        actor_label="test",
        reason="row for the guard test",
    )
    from workflow.models import Analysis, ProposedLotSale, ProposedTrade, Run

    run = Run.objects.create(
        firm=cast.firm_a, as_of=timezone.localdate(), trigger="manual", actor_label="test"
    )
    analysis = Analysis.objects.create(
        firm=cast.firm_a,
        run=run,
        account=cast.account_a1,
        status="proposed",
        created_at=timezone.now(),
    )
    ProposedTrade.objects.create(
        firm=cast.firm_a,
        analysis=analysis,
        account=cast.account_a1,
        security=cast.security_a,
        side="sell",
        shares=1,
        value=1,
    )
    ProposedLotSale.objects.create(
        firm=cast.firm_a,
        analysis=analysis,
        account=cast.account_a1,
        security=cast.security_a,
        lot_id="A1-1",
        acquired_on=timezone.localdate(),
        shares=1,
        proceeds=1,
        realized_gain=0,
        term="LT",
        tax=0,
    )


def _owner_connection() -> psycopg.Connection[Any]:
    owner = settings.DATABASE_OWNER
    assert owner is not None
    info = connection.settings_dict
    return psycopg.connect(
        host=info["HOST"],
        port=info["PORT"],
        dbname=info["NAME"],
        user=owner.user,
        password=owner.password,
    )


def test_the_suite_runs_as_an_app_role_that_owns_nothing() -> None:
    assert settings.DATABASE_OWNER is not None, "set DATABASE_OWNER_URL (scripts/test does)"
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_user, rolsuper FROM pg_roles WHERE rolname = current_user")
        user, superuser = cursor.fetchone()
        cursor.execute("SELECT count(*) FROM pg_tables WHERE tableowner = current_user")
        (owned,) = cursor.fetchone()
    assert user != settings.DATABASE_OWNER.user
    assert superuser is False
    assert owned == 0


def test_every_append_only_model_is_guarded() -> None:
    assert "rebalancer.AuditEvent" in APPEND_ONLY_MODELS
    tables = append_only_tables()
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.relname, t.tgname FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid "
            "WHERE NOT t.tgisinternal AND t.tgenabled = 'O'"
        )
        triggers = set(cursor.fetchall())
    for table in tables:
        assert (table, row_trigger(table)) in triggers
        assert (table, truncate_trigger(table)) in triggers


@pytest.mark.parametrize("table", append_only_tables())
def test_app_role_can_insert_and_read_but_not_rewrite(cast: Cast, table: str) -> None:
    _one_row_in_each_append_only_table(cast)
    event = audit_record(
        firm=cast.firm_a, actor=cast.user(Role.FIRM_ADMIN), action="test.insert", reason="kept"
    )
    pk = event.pk if table == AuditEvent._meta.db_table else None
    attacks = [
        (f"UPDATE {table} SET id = id WHERE id = %s", [pk]),
        (f"DELETE FROM {table} WHERE id = %s", [pk]),
        (f"TRUNCATE {table}", None),
        (f"TRUNCATE {table} CASCADE", None),
        (f"ALTER TABLE {table} DISABLE TRIGGER ALL", None),
        (f"ALTER TABLE {table} DISABLE TRIGGER {truncate_trigger(table)}", None),
        (f"DROP TRIGGER {row_trigger(table)} ON {table}", None),
        (f"DROP TRIGGER {truncate_trigger(table)} ON {table}", None),
        (f"ALTER TABLE {table} OWNER TO CURRENT_USER", None),
        (f"DROP TABLE {table} CASCADE", None),
        (
            f"CREATE OR REPLACE FUNCTION {GUARD_FUNCTION}() RETURNS trigger AS "
            "$$ BEGIN RETURN NULL; END; $$ LANGUAGE plpgsql",
            None,
        ),
        (f"DROP FUNCTION {GUARD_FUNCTION}() CASCADE", None),
    ]
    for sql, params in attacks:
        message = _refused(sql, params)
        assert "permission denied" in message or "must be owner" in message, (sql, message)
    assert AuditEvent.objects.filter(pk=event.pk, reason="kept").exists()


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("table", append_only_tables())
def test_the_triggers_refuse_even_the_owner(cast: Cast, table: str) -> None:
    """The second wall: should the app role ever be granted too much, the triggers still hold."""
    _one_row_in_each_append_only_table(cast)
    audit_record(firm=cast.firm_a, actor=SystemActor.COMMAND, action="test.insert", reason="kept")
    with _owner_connection() as owner:
        for sql in (f"UPDATE {table} SET id = id", f"DELETE FROM {table}", f"TRUNCATE {table}"):
            # TRUNCATE of a table other tables reference is refused before the trigger runs.
            with pytest.raises(psycopg.Error, match=r"append-only|foreign key constraint"):
                owner.execute(sql)
            owner.rollback()
    assert AuditEvent.objects.filter(action="test.insert").count() == 1
