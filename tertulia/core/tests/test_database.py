"""The suite runs on the database CI asked for, and SQLite is configured the way we promise
(WAL journal, foreign keys enforced, IMMEDIATE transactions)."""

from __future__ import annotations

import os

import pytest
from django.db import connection
from django.db.backends.sqlite3.base import DatabaseWrapper as SQLiteWrapper

EXPECTED = os.environ.get("TERTULIA_EXPECT_DB", "")


@pytest.mark.django_db
def test_database_engine_is_the_one_ci_asked_for():
    # .ci/run sets TERTULIA_EXPECT_DB for each run, so a typo in DATABASE_URL cannot quietly
    # run the "PostgreSQL" suite on SQLite.
    if EXPECTED:
        assert connection.vendor == EXPECTED
    assert connection.vendor in ("sqlite", "postgresql")
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        assert cursor.fetchone() == (1,)


def _pragmas(wrapper) -> dict[str, object]:
    values = {}
    with wrapper.cursor() as cursor:
        for name in ("journal_mode", "foreign_keys", "synchronous", "busy_timeout"):
            cursor.execute(f"PRAGMA {name}")
            values[name] = cursor.fetchone()[0]
    return values


@pytest.mark.django_db
def test_sqlite_uses_wal_and_foreign_keys(tmp_path):
    if connection.vendor != "sqlite":
        assert connection.vendor == "postgresql"
        return  # nothing SQLite-specific to check; the engine test above covers this run
    # The test database is in memory, where SQLite has no WAL (journal_mode is "memory").
    # So open a file database with exactly the configured settings, as production does.
    settings_dict = {**connection.settings_dict, "NAME": str(tmp_path / "wal.sqlite3")}
    wrapper = SQLiteWrapper(settings_dict, alias="wal-check")
    try:
        pragmas = _pragmas(wrapper)
        assert pragmas["journal_mode"] == "wal"
        assert pragmas["foreign_keys"] == 1
        assert pragmas["synchronous"] == 1  # NORMAL: safe with WAL, much faster than FULL
        assert pragmas["busy_timeout"] >= 5000  # writers wait for each other instead of failing
        assert wrapper.transaction_mode == "IMMEDIATE"
    finally:
        wrapper.close()

    # And the connection the tests use enforces foreign keys too.
    live = _pragmas(connection)
    assert live["foreign_keys"] == 1
    if not connection.is_in_memory_db():
        assert live["journal_mode"] == "wal"


@pytest.mark.django_db
def test_every_model_change_has_its_migration():
    """A model edited without its migration works in the tests (built from the models) and breaks
    the upgrade of a real database: makemigrations must find nothing to do."""
    from io import StringIO

    from django.core.management import call_command

    out = StringIO()
    try:
        call_command("makemigrations", "--check", "--dry-run", stdout=out, stderr=out)
    except SystemExit:
        pytest.fail("models changed without a migration:\n" + out.getvalue())
