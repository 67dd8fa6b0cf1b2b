"""The audit table's UPDATE/DELETE trigger of 0002 is superseded by rebalancer/dbroles.py.

``migrate`` now installs one guard function and two triggers (row: UPDATE/DELETE; statement:
TRUNCATE) on every table listed in ``APPEND_ONLY_MODELS``, after the migrations run; this drops
0002's single-table trigger so each table has one set. Reversing restores 0002's trigger.
"""

from typing import Any

from django.db import migrations

DROP = """
DROP TRIGGER IF EXISTS rebalancer_auditevent_append_only ON rebalancer_auditevent;
DROP FUNCTION IF EXISTS rebalancer_auditevent_append_only();
"""


def forwards(apps: Any, schema_editor: Any) -> None:
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP, params=None)


def backwards(apps: Any, schema_editor: Any) -> None:
    if schema_editor.connection.vendor == "postgresql":
        from importlib import import_module

        previous = import_module("rebalancer.migrations.0002_auditevent_append_only_trigger")
        schema_editor.execute(previous.CREATE, params=None)


class Migration(migrations.Migration):
    dependencies = [("rebalancer", "0002_auditevent_append_only_trigger")]

    operations = [migrations.RunPython(forwards, backwards, elidable=False)]
