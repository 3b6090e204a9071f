"""The database triggers that keep ``inbox_day_dirty`` (see ``inbox.daily``): which (brand, UTC day)
of the per-day inbox cache a change to a conversation or an inbound message makes stale.

- SQLite (one writer at a time): one row per (brand, day); every change bumps ``gen``.
- PostgreSQL: an append-only log, ``gen`` a sequence, written by statement-level triggers from
  their transition tables (one row per day a statement touched). No row is ever updated, so
  concurrent ingestion never waits on, or deadlocks over, a hot (brand, today) row.

Created by the migration ``inbox.0005``. SQLite drops a table's triggers when Django's schema
editor rebuilds the table (most ALTERs do), so ``ensure`` recreates any missing one after every
``migrate`` (``InboxConfig.ready`` connects it to ``post_migrate``): a trigger lost without a
word would leave cached days stale for good.
"""

from __future__ import annotations

SQLITE = [
    """CREATE TABLE inbox_day_dirty (brand_id integer NOT NULL, day date NOT NULL,
           gen integer NOT NULL DEFAULT 1, PRIMARY KEY (brand_id, day))""",
]
_MARK = ("INSERT INTO inbox_day_dirty (brand_id, day) SELECT {row}.brand_id, date({row}.{col}) "
         "WHERE {row}.{col} IS NOT NULL{extra} ON CONFLICT (brand_id, day) DO UPDATE SET gen = gen + 1;")
_CONV = "opened_at"
_CONV_COLUMNS = ("brand_id", "opened_at", "first_response_at", "closed_at", "status", "first_response_due_at")
_INTER_COLUMNS = ("brand_id", "created_at", "direction", "sentiment")
for table, col, columns, extra in (
    ("inbox_conversation", _CONV, _CONV_COLUMNS, ""),
    ("inbox_interaction", "created_at", _INTER_COLUMNS, " AND {row}.direction = 'in'"),
):
    short = table.split("_")[1][:5]
    changed = " OR ".join(f"OLD.{c} IS NOT NEW.{c}" for c in columns)
    mark = lambda row: _MARK.format(row=row, col=col, extra=extra.format(row=row))  # noqa: E731
    SQLITE += [
        f"CREATE TRIGGER inbox_day_{short}_ins AFTER INSERT ON {table} BEGIN {mark('NEW')} END",
        f"CREATE TRIGGER inbox_day_{short}_upd AFTER UPDATE OF {', '.join(columns)} ON {table} "
        f"WHEN {changed} BEGIN {mark('OLD')} {mark('NEW')} END",
        f"CREATE TRIGGER inbox_day_{short}_del AFTER DELETE ON {table} BEGIN {mark('OLD')} END",
    ]

POSTGRES = [
    """CREATE TABLE inbox_day_dirty (gen bigserial PRIMARY KEY, brand_id bigint NOT NULL, day date NOT NULL)""",
    "CREATE INDEX inbox_day_dirty_key ON inbox_day_dirty (brand_id, day)",
]
_PG_FUNCTION = """CREATE FUNCTION inbox_day_{short}_mark() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO inbox_day_dirty (brand_id, day) SELECT DISTINCT * FROM ({new}) m;
    ELSIF TG_OP = 'DELETE' THEN
        INSERT INTO inbox_day_dirty (brand_id, day) SELECT DISTINCT * FROM ({old}) m;
    ELSE
        INSERT INTO inbox_day_dirty (brand_id, day) SELECT DISTINCT * FROM ({changed_old} UNION {changed_new}) m;
    END IF;
    RETURN NULL;
END $$"""
_PG_PICK = "SELECT brand_id, ({col} AT TIME ZONE 'UTC')::date AS day FROM {rows} WHERE {col} IS NOT NULL{extra}"
_PG_CHANGED = "(SELECT {side}.* FROM old_rows o JOIN new_rows n ON n.id = o.id WHERE {changed}) c{side}"
_PG_TRIGGER = ("CREATE TRIGGER inbox_day_{short}_{op} AFTER {event} ON {table} REFERENCING {tables} "
               "FOR EACH STATEMENT EXECUTE FUNCTION inbox_day_{short}_mark()")
for table, col, columns, extra in (
    ("inbox_conversation", _CONV, _CONV_COLUMNS, ""),
    ("inbox_interaction", "created_at", _INTER_COLUMNS, " AND direction = 'in'"),
):
    short = table.split("_")[1][:5]
    changed = " OR ".join(f"o.{c} IS DISTINCT FROM n.{c}" for c in columns)
    picks = {rows: _PG_PICK.format(col=col, rows=rows, extra=extra)  # nosec B608 # DDL from the constants above, no input
             for rows in ("new_rows", "old_rows", _PG_CHANGED.format(side="o", changed=changed),
                          _PG_CHANGED.format(side="n", changed=changed))}
    old_changed, new_changed = list(picks.values())[2:]
    POSTGRES.append(_PG_FUNCTION.format(short=short, new=picks["new_rows"], old=picks["old_rows"],
                                        changed_old=old_changed, changed_new=new_changed))
    for op, event, tables in (("ins", "INSERT", "NEW TABLE AS new_rows"),
                              ("upd", "UPDATE", "OLD TABLE AS old_rows NEW TABLE AS new_rows"),
                              ("del", "DELETE", "OLD TABLE AS old_rows")):
        POSTGRES.append(_PG_TRIGGER.format(short=short, op=op, event=event, table=table, tables=tables))

BACKFILL = {
    "sqlite": ["INSERT OR IGNORE INTO inbox_day_dirty (brand_id, day) SELECT DISTINCT brand_id, date(opened_at) "
               "FROM inbox_conversation WHERE opened_at IS NOT NULL",
               "INSERT OR IGNORE INTO inbox_day_dirty (brand_id, day) SELECT DISTINCT brand_id, date(created_at) "
               "FROM inbox_interaction WHERE direction = 'in'"],
    "postgresql": ["INSERT INTO inbox_day_dirty (brand_id, day) SELECT DISTINCT brand_id, day FROM ("
                   "SELECT brand_id, (opened_at AT TIME ZONE 'UTC')::date AS day FROM inbox_conversation "
                   "WHERE opened_at IS NOT NULL UNION SELECT brand_id, (created_at AT TIME ZONE 'UTC')::date "
                   "FROM inbox_interaction WHERE direction = 'in') d"],
}
DROP = {
    "sqlite": [f"DROP TRIGGER IF EXISTS inbox_day_{t}_{op}" for t in ("conve", "inter") for op in ("ins", "upd", "del")]
    + ["DROP TABLE IF EXISTS inbox_day_dirty"],
    "postgresql": [f"DROP FUNCTION IF EXISTS inbox_day_{t}_mark() CASCADE" for t in ("conve", "inter")]
    + ["DROP TABLE IF EXISTS inbox_day_dirty"],
}


def create(execute, vendor: str, *, backfill: bool) -> None:
    for statement in {"sqlite": SQLITE, "postgresql": POSTGRES}[vendor] + (BACKFILL[vendor] if backfill else []):
        execute(statement)


def drop(execute, vendor: str) -> None:
    for statement in DROP[vendor]:
        execute(statement)


TRIGGERS = [f"inbox_day_{t}_{op}" for t in ("conve", "inter") for op in ("ins", "upd", "del")]


def missing(connection) -> list[str]:
    """The triggers that should exist and do not."""
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            cursor.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'")
        else:
            cursor.execute("SELECT tgname FROM pg_trigger WHERE NOT tgisinternal")
        present = {row[0] for row in cursor.fetchall()}
    return [name for name in TRIGGERS if name not in present]


def ensure(connection) -> list[str]:
    """Recreate the SQLite triggers a table rebuild dropped; returns their names. (PostgreSQL
    keeps triggers across ALTER TABLE; a missing one there is an error to look into.)"""
    if connection.vendor != "sqlite":
        return []
    lost = missing(connection)
    if lost:
        with connection.cursor() as cursor:
            for statement in SQLITE[1:]:  # the table itself survives
                name = statement.split()[2]
                if name in lost:
                    cursor.execute(statement)
    return lost
