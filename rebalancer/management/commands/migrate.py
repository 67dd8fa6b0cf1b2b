"""``migrate`` as the owner role, then the append-only triggers and the app role's grants.

Replaces Django's command of the same name (this app's commands take precedence), so every
migration path (``manage.py migrate``, the test runner's database set-up) ends in
:func:`rebalancer.dbroles.database_secure`.
"""

from __future__ import annotations

from typing import Any

from django.core.management.commands import migrate
from django.db import connections

from rebalancer.dbroles import database_secure, owner_session


class Command(migrate.Command):
    help = migrate.Command.help + " Runs as DATABASE_OWNER_URL's role when that is set."

    def handle(self, *args: Any, **options: Any) -> None:
        connection = connections[options["database"]]
        with owner_session(connection):
            super().handle(*args, **options)
            database_secure(connection)
