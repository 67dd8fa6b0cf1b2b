"""Fast bulk inserts of plain rows, for the market-data loader and the demo book builder.

Why not ``bulk_create``: it builds a model instance per row and compiles SQL per batch, about
22,000 rows/s on SQLite here; a 100,000-account demo book has millions of lots. These helpers send
plain tuples: ``executemany`` on SQLite (about 90,000 rows/s) and ``COPY ... FROM STDIN`` on
PostgreSQL. They bypass model validation and ``save()``, so callers pass values that are already
valid and complete (no defaults, no ``auto_now_add``): only for trusted, generated rows, inside the
caller's transaction.

Values per column: ``int``, ``str``, ``bool``, ``datetime.date``, ``Decimal`` (or a string form of
one), and aware datetimes adapted once with ``connection.ops.adapt_datetimefield_value``.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from itertools import islice
from typing import Any, TypeVar

from django.db import connection, models

BATCH_SIZE = 5_000
_T = TypeVar("_T")
#: SQLite page cache during bulk loads, in KiB (the default is 2 MiB): index pages stay in memory
#: instead of spilling, about a third faster for the 635,000-row price history.
SQLITE_BULK_CACHE_KIB = 256 * 1024


@contextmanager
def bulk_session() -> Iterator[None]:
    """Around a bulk load: on SQLite a larger page cache for this connection, restored after."""
    if connection.vendor != "sqlite":
        yield
        return
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA cache_size")
        (previous,) = cursor.fetchone()
        cursor.execute(f"PRAGMA cache_size = -{SQLITE_BULK_CACHE_KIB:d}")
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute(f"PRAGMA cache_size = {int(previous):d}")


def _column(model: type[models.Model], name: str) -> str:
    column = getattr(model._meta.get_field(name), "column", None)
    if not isinstance(column, str):
        raise ValueError(f"{model.__name__}.{name} is not a database column")
    return column


def chunked(items: Sequence[_T], size: int = 2_000) -> Iterator[Sequence[_T]]:
    """``items`` in consecutive slices of ``size`` (e.g. ids for ``pk__in`` lookups, which SQLite
    bounds by its variable limit)."""
    for start in range(0, len(items), size):
        yield items[start : start + size]


def rows_insert(
    *,
    model: type[models.Model],
    fields: Sequence[str],
    rows: Iterable[Sequence[Any]],
    batch_size: int = BATCH_SIZE,
) -> int:
    """Insert ``rows``, tuples in the order of ``fields`` (attnames: ``firm_id``); count them."""
    quote = connection.ops.quote_name
    table = quote(model._meta.db_table)
    columns = ", ".join(quote(_column(model, name)) for name in fields)
    count = 0
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # Django's cursor wraps a psycopg 3 cursor, which speaks COPY.
            with cursor.cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
                    count += 1
            return count
        placeholders = ", ".join(["%s"] * len(fields))
        sql = f"INSERT INTO {table} ({columns}) VALUES ({placeholders})"
        iterator = iter(rows)
        while batch := list(islice(iterator, batch_size)):
            cursor.executemany(sql, batch)
            count += len(batch)
    return count


def ids_reserve(*, model: type[models.Model], count: int) -> list[int]:
    """``count`` primary keys for rows of ``model`` that the caller inserts with explicit ids.

    PostgreSQL: values drawn from the table's identity sequence (safe beside concurrent writers).
    SQLite: the ids after the largest used one (or the AUTOINCREMENT counter, if higher). Safe
    because the caller is inside a transaction that holds SQLite's single write lock (our settings
    begin transactions IMMEDIATE; in any case the first write takes it) until it commits.
    """
    if count <= 0:
        return []
    table = model._meta.db_table
    if model._meta.pk is None:
        raise ValueError(f"{model.__name__} has no primary key")
    pk_column = _column(model, model._meta.pk.name)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                "SELECT nextval(pg_get_serial_sequence(%s, %s)) FROM generate_series(1, %s)",
                [table, pk_column, count],
            )
            return sorted(int(r[0]) for r in cursor.fetchall())
        quote = connection.ops.quote_name
        cursor.execute(f"SELECT MAX({quote(pk_column)}) FROM {quote(table)}")
        (largest,) = cursor.fetchone()
        start = int(largest or 0)
        if connection.vendor == "sqlite":
            cursor.execute("SELECT seq FROM sqlite_sequence WHERE name = %s", [table])
            seq = cursor.fetchone()
            start = max(start, int(seq[0]) if seq else 0)
    return list(range(start + 1, start + 1 + count))


def rows_update(*, model: type[models.Model], field: str, rows: Iterable[tuple[Any, int]]) -> int:
    """Set one column of rows given by primary key: ``rows`` are ``(value, pk)`` pairs. One
    prepared ``UPDATE`` executed for every pair (trusted values, as for :func:`rows_insert`)."""
    quote = connection.ops.quote_name
    table = quote(model._meta.db_table)
    pk = model._meta.pk
    if pk is None:
        raise ValueError(f"{model.__name__} has no primary key")
    sql = (
        f"UPDATE {table} SET {quote(_column(model, field))} = %s "
        f"WHERE {quote(_column(model, pk.name))} = %s"
    )
    batch = list(rows)
    with connection.cursor() as cursor:
        cursor.executemany(sql, batch)
    return len(batch)


def statistics_refresh(*, full: bool = True) -> None:
    """Refresh the query planner's statistics after a bulk load (outside its transaction).

    Without them SQLite cannot tell that ``firm_id`` has one value in a one-firm book and walks
    the firm index of 7.7 million lots instead of the position index (1.2 s instead of 5 ms for
    one account's lots, measured on the 100,000-account book). ``full`` runs ``ANALYZE`` (the
    demo build); otherwise SQLite's ``PRAGMA optimize`` re-analyzes only what changed enough (after
    each applied import). PostgreSQL's autovacuum keeps its own statistics; a full refresh runs
    ``ANALYZE`` there too.
    """
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            # Sample at most 1,000 rows per index: the statistics the planner needs (how selective
            # an index is), at a fraction of a full scan of millions of rows.
            cursor.execute("PRAGMA analysis_limit = 1000")
            cursor.execute("ANALYZE" if full else "PRAGMA optimize")
        elif full:
            cursor.execute("ANALYZE")
