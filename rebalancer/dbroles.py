"""PostgreSQL roles: an owner that migrates, an app role that cannot rewrite append-only tables.

Two roles share one database:

* the **owner** (``DATABASE_OWNER_URL``) owns every table, function and trigger; only ``migrate``
  (and ``flush``, a test and maintenance tool) connect as it;
* the **app** role (``DATABASE_URL``), used by the web app and the Celery workers, may SELECT,
  INSERT, UPDATE and DELETE ordinary tables but only SELECT and INSERT the tables listed in
  :data:`APPEND_ONLY_MODELS`; it owns nothing, so it cannot disable or drop a trigger or replace
  its function.

Every append-only table also carries two triggers owned by the owner, refusing UPDATE and DELETE
(per row) and TRUNCATE (per statement) to anyone, the owner included: a second wall should the
app role ever be granted too much. The embedded SQLite default keeps its model-layer guard.

:func:`database_secure` (run by ``migrate``) installs the triggers and, when an owner/app pair is
configured, the grants. ``python -m rebalancer.dbroles --admin-url URL`` creates both roles and
the database from ``DATABASE_URL`` and ``DATABASE_OWNER_URL`` (docker-compose, CI, scripts/test).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
from collections.abc import Iterator, Sequence
from typing import Any

#: Tables the app may only read and append to, as model labels. Analyses, proposed trades,
#: approvals and orders join this list when they arrive; the triggers and grants follow.
APPEND_ONLY_MODELS: tuple[str, ...] = (
    "rebalancer.AuditEvent",
    "models_hub.DefinitionVersion",
    "accounts.SettingsVersion",
    "accounts.BulkChange",
    "workflow.Analysis",
    "workflow.ProposedTrade",
    "workflow.ProposedLotSale",
)

#: The one function every append-only trigger calls.
GUARD_FUNCTION = "rebalancer_append_only"

_GUARD_SQL = f"""
CREATE OR REPLACE FUNCTION {GUARD_FUNCTION}() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'append-only table %: % is refused', TG_TABLE_NAME, TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$ LANGUAGE plpgsql
"""


def row_trigger(table: str) -> str:
    return f"{table}_append_only_row"


def truncate_trigger(table: str) -> str:
    return f"{table}_append_only_truncate"


def append_only_tables() -> list[str]:
    """The database tables of :data:`APPEND_ONLY_MODELS`."""
    from django.apps import apps

    return [apps.get_model(label)._meta.db_table for label in APPEND_ONLY_MODELS]


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def triggers_sql(tables: Sequence[str]) -> list[str]:
    """Idempotent SQL installing the guard function and both triggers on each table."""
    statements = [_GUARD_SQL]
    for table in tables:
        t = _quote(table)
        row, trunc = _quote(row_trigger(table)), _quote(truncate_trigger(table))
        statements += [
            f"DROP TRIGGER IF EXISTS {row} ON {t}",
            f"CREATE TRIGGER {row} BEFORE UPDATE OR DELETE ON {t} "
            f"FOR EACH ROW EXECUTE FUNCTION {GUARD_FUNCTION}()",
            f"DROP TRIGGER IF EXISTS {trunc} ON {t}",
            f"CREATE TRIGGER {trunc} BEFORE TRUNCATE ON {t} "
            f"FOR EACH STATEMENT EXECUTE FUNCTION {GUARD_FUNCTION}()",
        ]
    return statements


def grants_sql(app_role: str, tables: Sequence[str]) -> list[str]:
    """SQL (run as the owner) giving the app role what it needs and no more."""
    app = _quote(app_role)
    statements = [
        f"REVOKE ALL ON ALL TABLES IN SCHEMA public FROM {app}",
        f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {app}",
        f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {app}",
    ]
    statements += [f"REVOKE UPDATE, DELETE ON {_quote(t)} FROM {app}" for t in tables]
    return statements


def database_secure(connection: Any) -> None:
    """After migrating (as the owner): install the append-only triggers and the app's grants."""
    if connection.vendor != "postgresql":
        return
    from django.conf import settings

    tables = append_only_tables()
    statements = triggers_sql(tables)
    app_role = connection.settings_dict.get("APP_USER") or ""
    owner = getattr(settings, "DATABASE_OWNER", None)
    if owner is not None and app_role and app_role != owner.user:
        statements += grants_sql(app_role, tables)
    with connection.cursor() as cursor:
        for sql in statements:
            cursor.execute(sql)


@contextlib.contextmanager
def owner_session(connection: Any) -> Iterator[None]:
    """Connect ``connection`` as the owner for the block (a no-op without DATABASE_OWNER_URL).

    The app role's user name is kept in ``settings_dict["APP_USER"]`` for the grants.
    """
    from django.conf import settings

    owner = getattr(settings, "DATABASE_OWNER", None)
    if connection.vendor != "postgresql" or owner is None:
        yield
        return
    settings_dict = connection.settings_dict
    saved = (settings_dict["USER"], settings_dict["PASSWORD"])
    if saved[0] == owner.user:
        yield
        return
    connection.close()
    settings_dict["APP_USER"] = saved[0]
    settings_dict["USER"], settings_dict["PASSWORD"] = owner.user, owner.password
    try:
        yield
    finally:
        connection.close()
        settings_dict["USER"], settings_dict["PASSWORD"] = saved


def flush_sql(sql_list: Sequence[str], tables: Sequence[str]) -> list[str]:
    """The flush statements with the TRUNCATE guards lifted around them (run as the owner)."""
    off = [f"ALTER TABLE {_quote(t)} DISABLE TRIGGER {_quote(truncate_trigger(t))}" for t in tables]
    on = [f"ALTER TABLE {_quote(t)} ENABLE TRIGGER {_quote(truncate_trigger(t))}" for t in tables]
    return [*off, *sql_list, *on]


# --- Creating the roles (an administrator's one-off, as a superuser) ----------------------------


def roles_create(*, admin_url: str, owner_url: str, app_url: str) -> None:
    """Create (or update) the owner and app roles and the database the two URLs name.

    Idempotent: an existing role gets the URL's password again, an existing database is handed to
    the owner. The owner may create databases (the test suite creates its own); the app role is a
    plain login.
    """
    import psycopg
    from psycopg import sql

    from rebalancer.env import env_database_url

    owner = env_database_url("DATABASE_OWNER_URL", environ={"DATABASE_OWNER_URL": owner_url})
    app = env_database_url("DATABASE_URL", environ={"DATABASE_URL": app_url})
    assert owner is not None and app is not None
    if owner.user == app.user or not owner.user or not app.user:
        raise SystemExit("the owner and the app need two different, named roles")
    if owner.name != app.name:
        raise SystemExit("DATABASE_URL and DATABASE_OWNER_URL must name the same database")
    maintenance = psycopg.conninfo.make_conninfo(admin_url, dbname="postgres")
    with psycopg.connect(maintenance, autocommit=True) as conn:
        for role, password, attrs in (
            (owner.user, owner.password, "LOGIN CREATEDB"),
            (app.user, app.password, "LOGIN NOCREATEDB NOCREATEROLE NOSUPERUSER"),
        ):
            exists = conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", [role]).fetchone()
            verb = "ALTER" if exists else "CREATE"
            statement = sql.SQL(verb + " ROLE {} " + attrs).format(sql.Identifier(role))
            if password:
                statement = sql.SQL("{} PASSWORD {}").format(statement, sql.Literal(password))
            conn.execute(statement)
        row = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [owner.name]).fetchone()
        if row is None:
            conn.execute(
                sql.SQL("CREATE DATABASE {} OWNER {}").format(
                    sql.Identifier(owner.name), sql.Identifier(owner.user)
                )
            )
        else:
            conn.execute(
                sql.SQL("ALTER DATABASE {} OWNER TO {}").format(
                    sql.Identifier(owner.name), sql.Identifier(owner.user)
                )
            )
    # Inside the database: only the owner creates objects in the public schema.
    target = psycopg.conninfo.make_conninfo(admin_url, dbname=owner.name)
    with psycopg.connect(target, autocommit=True) as conn:
        conn.execute(sql.SQL("ALTER SCHEMA public OWNER TO {}").format(sql.Identifier(owner.user)))
        conn.execute("REVOKE CREATE ON SCHEMA public FROM PUBLIC")


def derived_urls(admin_url: str, password: str) -> tuple[str, str]:
    """(owner URL, app URL) for roles named after the admin URL's database: ``<db>_owner``..."""
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(admin_url)
    db = parts.path.lstrip("/")
    host = parts.hostname or "127.0.0.1"
    netloc_host = f"[{host}]" if ":" in host else host
    port = f":{parts.port}" if parts.port else ""

    def url(role: str) -> str:
        netloc = f"{db}_{role}:{password}@{netloc_host}{port}"
        return urlunsplit((parts.scheme, netloc, parts.path, parts.query, ""))

    return url("owner"), url("app")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m rebalancer.dbroles",
        description="Create the owner (DATABASE_OWNER_URL) and app (DATABASE_URL) roles.",
    )
    parser.add_argument("--admin-url", required=True, help="a superuser's postgres:// URL")
    parser.add_argument(
        "--derive",
        action="store_true",
        help="name the roles <db>_owner and <db>_app with a fresh random password and print "
        "the two URLs as shell exports (scripts/test, CI)",
    )
    args = parser.parse_args(argv)
    if args.derive:
        import secrets

        owner_url, app_url = derived_urls(args.admin_url, secrets.token_urlsafe(24))
        roles_create(admin_url=args.admin_url, owner_url=owner_url, app_url=app_url)
        sys.stdout.write(
            f"export DATABASE_OWNER_URL='{owner_url}'\nexport DATABASE_URL='{app_url}'\n"
        )
        return 0
    owner_env, app_env = os.environ.get("DATABASE_OWNER_URL"), os.environ.get("DATABASE_URL")
    if not owner_env or not app_env:
        parser.error("set DATABASE_URL (app role) and DATABASE_OWNER_URL (owner role)")
    roles_create(admin_url=args.admin_url, owner_url=owner_env, app_url=app_env)
    sys.stdout.write("roles ready\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
