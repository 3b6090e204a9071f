"""The database's clock.

Consumers run on many machines and their clocks drift. Whether a target is due is decided
against one clock, the database's, so a consumer whose clock runs ahead never publishes early
(DESIGN.md §3). Leases are set from the same clock, so the sweeper never reconciles a claim
that a consumer with a slow clock thinks it still holds.
"""

from __future__ import annotations

from datetime import datetime, timezone

from django.db import connection


def db_now() -> datetime:
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            # Millisecond precision, UTC, in the same text form Django stores datetimes in.
            cursor.execute("SELECT STRFTIME('%Y-%m-%d %H:%M:%f', 'now')")
            (value,) = cursor.fetchone()
            return datetime.fromisoformat(value).replace(tzinfo=timezone.utc)
        if connection.vendor == "postgresql":
            # clock_timestamp(), not now(): now() is frozen at the start of the transaction.
            cursor.execute("SELECT clock_timestamp()")
            (value,) = cursor.fetchone()
            return value.astimezone(timezone.utc)
    return datetime.now(timezone.utc)  # pragma: no cover - other databases are not supported
