"""On PostgreSQL, the database itself refuses UPDATE and DELETE of audit events.

SQLite (the embedded default) relies on the model layer (AuditEvent.save/delete and its queryset).
TRUNCATE stays possible so test databases can be flushed; no application code issues it.
"""

from typing import Any

from django.db import migrations

CREATE = """
CREATE OR REPLACE FUNCTION rebalancer_auditevent_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'audit events are append-only: % is refused', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$ LANGUAGE plpgsql;
DROP TRIGGER IF EXISTS rebalancer_auditevent_append_only ON rebalancer_auditevent;
CREATE TRIGGER rebalancer_auditevent_append_only
    BEFORE UPDATE OR DELETE ON rebalancer_auditevent
    FOR EACH ROW EXECUTE FUNCTION rebalancer_auditevent_append_only();
"""

DROP = """
DROP TRIGGER IF EXISTS rebalancer_auditevent_append_only ON rebalancer_auditevent;
DROP FUNCTION IF EXISTS rebalancer_auditevent_append_only();
"""


def forwards(apps: Any, schema_editor: Any) -> None:
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(CREATE, params=None)


def backwards(apps: Any, schema_editor: Any) -> None:
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP, params=None)


class Migration(migrations.Migration):
    dependencies = [("rebalancer", "0001_initial")]

    operations = [migrations.RunPython(forwards, backwards, elidable=False)]
