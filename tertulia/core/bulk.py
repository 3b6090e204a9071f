"""Fast batch writes for the ingestion paths (interactions, snapshots), on SQLite and PostgreSQL.

``bulk_create(ignore_conflicts=True)`` builds a model instance per row and, on SQLite, splits
the batch into INSERTs of 999 // columns rows; at a million rows that is most of the time.
``insert_ignore`` writes plain tuples with ``INSERT ... ON CONFLICT (...) DO NOTHING``: one
prepared statement run many times on SQLite (``executemany``, or multi-row VALUES when rows
must be returned), and on PostgreSQL one array per column unpacked by ``unnest`` (a statement
with one placeholder per column whatever the row count: psycopg's client-side binding parses
every placeholder of a query, which for multi-row VALUES costs more than the insert).
Values still go through Django's adapters for the field types that need one (dates, times,
decimals, JSON), so what lands in the table is exactly what the ORM would have written.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Sequence
from datetime import UTC

from django.conf import settings
from django.db import connections, models, router

# Field classes whose Python value is already what the database driver expects. Exact types:
# a subclass may prepare values its own way (an encrypted text field does).
_PASSTHROUGH = frozenset({
    models.CharField, models.TextField, models.SlugField, models.URLField, models.EmailField,
    models.IntegerField, models.SmallIntegerField, models.BigIntegerField, models.PositiveIntegerField,
    models.PositiveSmallIntegerField, models.PositiveBigIntegerField, models.FloatField, models.BooleanField,
    models.ForeignKey,
})


def _sqlite_datetime(value):
    # What Django's SQLite backend stores for an aware datetime with USE_TZ (naive UTC text),
    # without its per-value checks: at a million rows they add up to seconds.
    tz = value.tzinfo
    if tz is not None:
        value = (value if tz is UTC else value.astimezone(UTC)).replace(tzinfo=None)
    return value.isoformat(" ")


def _adapter(field, connection):
    if isinstance(field, models.DateTimeField):
        if connection.vendor == "sqlite" and settings.USE_TZ and connection.timezone_name == "UTC":
            return _sqlite_datetime
        if connection.vendor == "postgresql":
            return None  # psycopg sends aware datetimes as timestamptz
        return connection.ops.adapt_datetimefield_value
    if isinstance(field, models.DateField):
        return connection.ops.adapt_datefield_value
    if type(field) in _PASSTHROUGH:
        return None
    return lambda value: field.get_db_prep_save(value, connection)


def _memo(adapt):
    # A batch often repeats one value in a column (the moment it was received): adapt it once.
    last = [object(), None]

    def adapt_once(value):
        if value is not last[0]:
            last[0], last[1] = value, adapt(value)
        return last[1]

    return adapt_once


# Rows per IN (...) lookup, well under SQLite's 999 variables.
CHUNK = 400


def chunks(seq: Sequence, size: int = CHUNK):
    """``seq`` in slices of ``size`` (for IN lists and multi-row statements)."""
    for i in range(0, len(seq), size):
        yield seq[i:i + size]


def select_in(model: type[models.Model], columns: Sequence[str], equal: dict[str, object],
              within: dict[str, Sequence]) -> list[tuple]:
    """``SELECT columns FROM model WHERE a = %s ... AND b IN (...) ...`` in raw SQL.

    The ORM's IN lookups prepare every value one by one; on the ingestion paths, with
    thousands of ids per batch, that costs more than the query. Use for plain columns (ids,
    strings, numbers): values come back as the driver returns them. Callers keep each IN list
    to a few hundred values."""
    connection = connections[router.db_for_read(model)]
    meta = model._meta
    qn = connection.ops.quote_name
    where, params = [], []
    for name, value in equal.items():
        where.append(f"{qn(meta.get_field(name).column)} = %s")
        params.append(value)
    for name, values in within.items():
        if not values:
            return []
        field = meta.get_field(name)
        if connection.vendor == "postgresql":
            where.append(f"{qn(field.column)} = ANY(%s::{_pg_type(field, connection)}[])")
            params.append(list(values))
        else:
            where.append(f"{qn(field.column)} IN ({', '.join(['%s'] * len(values))})")
            params.extend(values)
    cols = ", ".join(qn(meta.get_field(c).column) for c in columns)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {cols} FROM {qn(meta.db_table)} WHERE {' AND '.join(where)}", params)  # nosec B608 # identifiers from model metadata or constants, values bound as parameters
        return cursor.fetchall()


def select_keys(model: type[models.Model], columns: Sequence[str], equal: dict[str, object],
                key_fields: Sequence[str], keys: Sequence[Sequence]) -> list[tuple]:
    """Rows whose ``key_fields`` match one of ``keys`` exactly (a composite-key lookup).

    ``a IN (...) AND b IN (...)`` makes SQLite probe its index for every (a, b) combination
    (160,000 probes for 400 keys), and a row-value IN scans the whole range of the other
    columns. Joining from the list of keys probes the index once per key, whatever the size
    of the table (CROSS JOIN tells SQLite to keep the keys as the outer loop)."""
    if not keys:
        return []
    connection = connections[router.db_for_read(model)]
    meta = model._meta
    qn = connection.ops.quote_name
    fields = [meta.get_field(name) for name in key_fields]
    names = [f"k{i}" for i in range(len(fields))]
    on = [f"t.{qn(meta.get_field(name).column)} = %s" for name in equal]
    on += [f"t.{qn(f.column)} = k.{n}" for f, n in zip(fields, names)]
    cols = ", ".join(f"t.{qn(meta.get_field(c).column)}" for c in columns)
    table = f"{qn(meta.db_table)} t"
    if connection.vendor == "postgresql":
        arrays = ", ".join(f"%b::{_pg_type(f, connection)}[]" for f in fields)
        sql = (f"SELECT {cols} FROM unnest({arrays}) AS k({', '.join(names)}) "  # nosec B608 # identifiers from model metadata or constants, values bound as parameters
               f"JOIN {table} ON {' AND '.join(on)}")
        return _pg_execute(connection, sql, [list(col) for col in zip(*keys)] + list(equal.values()), True)
    one = "(" + ", ".join(["%s"] * len(fields)) + ")"
    sql = (f"WITH k({', '.join(names)}) AS (VALUES {', '.join([one] * len(keys))}) "  # nosec B608 # identifiers from model metadata or constants, values bound as parameters
           f"SELECT {cols} FROM k CROSS JOIN {table} ON {' AND '.join(on)}")
    with connection.cursor() as cursor:
        cursor.execute(sql, [v for key in keys for v in key] + list(equal.values()))
        return cursor.fetchall()


def _pg_type(field, connection) -> str:
    if isinstance(field, models.ForeignKey):
        field = field.target_field
    db_type = field.rel_db_type(connection) if field.primary_key else field.db_type(connection)
    return db_type.split("(")[0] if db_type.startswith(("varchar", "character varying")) else db_type


def _pg_execute(connection, sql: str, params: list, fetch: bool) -> list[tuple]:
    """Run on PostgreSQL with server-side binding and binary parameters: Django's cursors
    bind on the client, quoting every array element into the SQL text, which is slower than
    the insert itself. Same connection, so same transaction."""
    import psycopg

    connection.ensure_connection()
    with connection.wrap_database_errors, psycopg.Cursor(connection.connection) as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall() if fetch else []


def _max_params(connection) -> int:
    if connection.vendor == "sqlite":
        connection.ensure_connection()
        return min(connection.connection.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER), 32766)
    return connection.features.max_query_params or 999


def insert_ignore(model: type[models.Model], fields: Sequence[str], rows: Iterable[Sequence],
                  conflict: Sequence[str], returning: Sequence[str] = ()) -> list[tuple] | None:
    """Insert ``rows`` (tuples in the order of ``fields``), skipping any row that would break
    the unique constraint on ``conflict``. Use field names or attnames ("brand_id").

    With ``returning``, gives back those columns for the rows actually inserted (not the
    skipped ones), where the database can (PostgreSQL, SQLite 3.35+); ``None`` elsewhere, and
    the caller looks the rows up instead."""
    rows = list(rows)
    if not rows:
        return [] if returning else None
    connection = connections[router.db_for_write(model)]
    meta = model._meta
    qn = connection.ops.quote_name
    model_fields = [meta.get_field(name) for name in fields]
    columns = ", ".join(qn(f.column) for f in model_fields)
    target = ", ".join(qn(meta.get_field(name).column) for name in conflict)
    adapters = [(i, _memo(a)) for i, f in enumerate(model_fields) if (a := _adapter(f, connection)) is not None]
    if adapters:
        adapted = []
        for row in rows:
            row = list(row)
            for i, adapt in adapters:
                if row[i] is not None:
                    row[i] = adapt(row[i])
            adapted.append(row)
        rows = adapted
    head = f"INSERT INTO {qn(meta.db_table)} ({columns}) VALUES "  # nosec B608 # identifiers from model metadata or constants, values bound as parameters
    tail = f" ON CONFLICT ({target}) DO NOTHING"
    one = "(" + ", ".join(["%s"] * len(model_fields)) + ")"
    can_return = bool(returning) and connection.features.can_return_rows_from_bulk_insert
    out: list[tuple] = []
    if can_return:
        tail += " RETURNING " + ", ".join(qn(meta.get_field(name).column) for name in returning)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # %b: binary parameters (psycopg's text array dumper runs a regex per element).
            arrays = ", ".join(f"%b::{_pg_type(f, connection)}[]" for f in model_fields)
            sql = f"INSERT INTO {qn(meta.db_table)} ({columns}) SELECT * FROM unnest({arrays}){tail}"  # nosec B608 # identifiers from model metadata or constants, values bound as parameters
            for start in range(0, len(rows), 50_000):
                chunk = rows[start:start + 50_000]
                out.extend(_pg_execute(connection, sql, [list(col) for col in zip(*chunk)], can_return))
        elif can_return:
            per = max(1, _max_params(connection) // len(model_fields))
            for start in range(0, len(rows), per):
                chunk = rows[start:start + per]
                cursor.execute(head + ", ".join([one] * len(chunk)) + tail, [v for row in chunk for v in row])
                if can_return:
                    out.extend(cursor.fetchall())
        else:
            cursor.executemany(head + one + tail, rows)
    if returning:
        return out if can_return else None
    return None


def execute(model: type[models.Model], sql: str, params: Sequence) -> int:
    """Run one parameterised statement (``%s`` placeholders); the number of rows it changed."""
    with connections[router.db_for_write(model)].cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.rowcount


def execute_many(model: type[models.Model], sql: str, params: Iterable[Sequence]) -> None:
    """Run one parameterised statement for many parameter rows (``%s`` placeholders)."""
    connection = connections[router.db_for_write(model)]
    params = list(params)
    if params:
        with connection.cursor() as cursor:
            cursor.executemany(sql, params)


def datetime_adapter(model: type[models.Model]):
    """A function turning a datetime into what ``model``'s database driver wants (None stays
    None), for hand-written SQL."""
    connection = connections[router.db_for_write(model)]
    adapt = _adapter(models.DateTimeField(), connection)
    if adapt is None:
        return lambda value: value
    return lambda value: None if value is None else adapt(value)
