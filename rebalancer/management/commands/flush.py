"""``flush`` as the owner role, lifting the append-only TRUNCATE guards for its one transaction.

The app role may not TRUNCATE the audit trail, and the guard triggers refuse it to everyone; only
the owner, which may disable its own triggers, can empty the database (the test suite's
transactional tests do so after each test).
"""

from __future__ import annotations

from typing import Any

from django.core.management.color import no_style
from django.core.management.commands import flush
from django.core.management.sql import emit_post_migrate_signal, sql_flush
from django.db import connections, transaction

from rebalancer.dbroles import append_only_tables, flush_sql, owner_session


class Command(flush.Command):
    def handle(self, **options: Any) -> None:
        database = options["database"]
        connection = connections[database]
        if connection.vendor != "postgresql":
            super().handle(**options)
            return
        if options["interactive"]:
            answer = input(f"Empty every table of {connection.settings_dict['NAME']}? (yes/no): ")
            if answer != "yes":
                self.stdout.write("Flush cancelled.")
                return
        sql_list = sql_flush(
            no_style(),
            connection,
            reset_sequences=options.get("reset_sequences", True),
            allow_cascade=options.get("allow_cascade", False),
        )
        if not sql_list:
            return
        tables = set(connection.introspection.table_names())
        guarded = [t for t in append_only_tables() if t in tables]
        with (
            owner_session(connection),
            transaction.atomic(using=database),
            connection.cursor() as cursor,
        ):
            for sql in flush_sql(sql_list, guarded):
                cursor.execute(sql)
        if not options.get("inhibit_post_migrate", False):
            emit_post_migrate_signal(options["verbosity"], False, database)
