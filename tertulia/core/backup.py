"""``tertulia backup`` and ``tertulia restore``: the database and the media in one archive.

The archive is a tar (gzip-compressed when its name ends in .gz) holding

- ``database.sqlite3`` (SQLite, copied with the sqlite3 online backup API: a consistent copy
  while the app keeps running) or ``database.pgdump`` (PostgreSQL, ``pg_dump --format=custom``
  run inside an exported snapshot, so the row counts in the manifest are those of the dump);
- ``media/<name>``: every file of the media storage, read through the storage API (a local
  disk or S3 alike), except ``exports/`` (temporary brand exports);
- ``manifest.json``, last: format version, Tertulia version, creation time (UTC), database
  vendor, the applied migrations per app, the row count per table, the SHA-256 fingerprints of
  the encryption keys (never the keys) and a SHA-256 per file.

The encryption keys are deliberately NOT in the backup: a stolen backup without them has no
readable network token. Keep ``var/fernet.key`` (or TERTULIA_FERNET_KEYS) in your own safe
place; restore refuses an archive whose key fingerprint the running configuration lacks.

Restore checks everything before it changes anything: a corrupt or truncated archive, a wrong
checksum, a member with an unsafe path (``..``, absolute, links, devices), another database
vendor, a schema newer than this code, a database that is not empty (unless ``--yes``), or a
missing encryption key: each refuses with a clear message and nothing changed.

PostgreSQL: ``pg_dump``/``pg_restore`` are looked up on PATH and in /usr/lib/postgresql/*/bin,
the newest one not older than the server; the password goes in the PGPASSWORD environment
variable, never on a command line or in a log.
"""

from __future__ import annotations

import glob
import hashlib
import io
import json
import os
import re
import shutil
import sqlite3
import subprocess  # nosec B404 # fixed argv lists only, never a shell
import tarfile
import tempfile
import zlib
from dataclasses import dataclass
from datetime import datetime, timezone as dt_timezone
from pathlib import Path, PurePosixPath

from django.apps import apps
from django.conf import settings
from django.core.files import File
from django.core.files.storage import default_storage
from django.db import connections
from django.db.migrations.loader import MigrationLoader

FORMAT_VERSION = 1
MANIFEST = "manifest.json"
DB_MEMBERS = {"sqlite": "database.sqlite3", "postgresql": "database.pgdump"}
SKIPPED_MEDIA_PREFIXES = ("exports/",)
CHUNK = 1024 * 1024

KEY_REMINDER = (
    "Encryption-key reminder: the key files are deliberately NOT in this backup. Network tokens "
    "in the database can only be decrypted with the same key(s): keep var/fernet.key (or the "
    "TERTULIA_FERNET_KEYS value) in your own safe place, apart from the backups, and restore it "
    "before restoring the database."
)


class BackupError(Exception):
    """A refusal or a failure, with a message for the person at the terminal."""


def tertulia_version() -> str:
    try:
        from importlib.metadata import version

        return version("tertulia")
    except Exception:  # noqa: BLE001 - not installed as a package
        return "0+unknown"


def key_fingerprints(keys=None) -> list[str]:
    """SHA-256 of each encryption key (newest first): tells keys apart, reveals nothing."""
    keys = settings.FERNET_KEYS if keys is None else keys
    return [hashlib.sha256(k.strip().encode()).hexdigest() for k in keys]


def _sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(CHUNK), b""):
            h.update(block)
    return h.hexdigest()


# --- Media through the storage API ---------------------------------------------------------

def media_names(storage=None, path: str = "") -> list[str]:
    storage = storage or default_storage
    try:
        dirs, files = storage.listdir(path)
    except (FileNotFoundError, NotADirectoryError):
        return []
    out = []
    for f in files:
        name = f"{path}/{f}" if path else f
        if not name.startswith(SKIPPED_MEDIA_PREFIXES):
            out.append(name)
    for d in dirs:
        sub = f"{path}/{d}" if path else d
        if not (sub + "/").startswith(SKIPPED_MEDIA_PREFIXES):
            out.extend(media_names(storage, sub))
    return sorted(out)


# --- PostgreSQL tools ----------------------------------------------------------------------

def _tool_major(path: str) -> int | None:
    try:
        out = subprocess.run([path, "--version"], capture_output=True, text=True, timeout=10).stdout  # nosec B603 # fixed argv list (our own executables), no shell, no user input
    except (OSError, subprocess.SubprocessError):
        return None
    m = re.search(r"(\d+)(?:\.\d+)?", out)
    return int(m.group(1)) if m else None


def find_pg_tool(name: str, server_major: int) -> str:
    """The newest ``pg_dump``/``pg_restore`` that is not older than the server."""
    candidates = {p for p in [shutil.which(name), *glob.glob(f"/usr/lib/postgresql/*/bin/{name}")] if p}
    found = sorted(((_tool_major(p) or 0), p) for p in candidates)
    if not found:
        raise BackupError(f"{name} was not found (PATH, /usr/lib/postgresql/*/bin). Install the PostgreSQL "
                          f"client tools of version {server_major} or newer (Debian: postgresql-client-{server_major}).")
    major, path = found[-1]
    if major < server_major:
        raise BackupError(f"{name} {major} ({path}) is older than the PostgreSQL server ({server_major}); it cannot "
                          f"read this server. Install postgresql-client-{server_major} or newer.")
    return path


_LIBPQ_OPTIONS = {"sslmode": "PGSSLMODE", "sslrootcert": "PGSSLROOTCERT", "sslcert": "PGSSLCERT",
                  "sslkey": "PGSSLKEY", "sslcrl": "PGSSLCRL", "service": "PGSERVICE", "passfile": "PGPASSFILE",
                  "target_session_attrs": "PGTARGETSESSIONATTRS", "connect_timeout": "PGCONNECT_TIMEOUT"}


def _pg_env(settings_dict: dict) -> dict[str, str]:
    """The environment for pg_dump/pg_restore: the inherited PG* variables (PGSSLMODE and the
    certificates psycopg obeys too), overridden by the database settings and their OPTIONS."""
    env = dict(os.environ)
    pairs = {"PGHOST": settings_dict.get("HOST"), "PGPORT": settings_dict.get("PORT"),
             "PGUSER": settings_dict.get("USER"), "PGPASSWORD": settings_dict.get("PASSWORD"),
             "PGDATABASE": settings_dict.get("NAME")}
    for option, value in (settings_dict.get("OPTIONS") or {}).items():
        if option in _LIBPQ_OPTIONS:
            pairs[_LIBPQ_OPTIONS[option]] = value
    env.update({k: str(v) for k, v in pairs.items() if v})
    return env


def _server_major(conn) -> int:
    conn.ensure_connection()
    return conn.pg_version // 10000


def _run_pg(cmd: list[str], env: dict, what: str) -> None:
    result = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=6 * 3600)  # nosec B603 # fixed argv list (our own executables), no shell, no user input
    if result.returncode != 0:
        # stderr of pg_dump/pg_restore never holds the password (it is only in the environment).
        raise BackupError(f"{what} failed (exit {result.returncode}): {result.stderr.strip()[-2000:]}")


# --- Database facts ------------------------------------------------------------------------

def _model_tables() -> list[str]:
    tables = {m._meta.db_table for m in apps.get_models(include_auto_created=True) if m._meta.managed}
    return sorted(tables)


def _facts(cursor, quote, existing: set[str]) -> tuple[dict, dict]:
    counts = {}
    for table in _model_tables():
        if table in existing:
            cursor.execute(f"SELECT COUNT(*) FROM {quote(table)}")  # nosec B608 # identifiers from model metadata or constants, values bound as parameters
            counts[table] = cursor.fetchone()[0]
    migrations: dict[str, list[str]] = {}
    if "django_migrations" in existing:
        cursor.execute("SELECT app, name FROM django_migrations ORDER BY app, name")
        for app, name in cursor.fetchall():
            migrations.setdefault(app, []).append(name)
    return counts, migrations


def _sqlite_facts(path: Path) -> tuple[dict, dict]:
    con = sqlite3.connect(path)
    try:
        cur = con.cursor()
        existing = {r[0] for r in cur.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        return _facts(cur, lambda t: '"%s"' % t.replace('"', '""'), existing)
    finally:
        con.close()


# --- Backup --------------------------------------------------------------------------------

def _dump_database(conn, workdir: Path) -> tuple[Path, dict, dict]:
    vendor = conn.vendor
    if vendor == "sqlite":
        target = workdir / DB_MEMBERS["sqlite"]
        conn.ensure_connection()
        dest = sqlite3.connect(target)
        try:
            conn.connection.backup(dest)  # the online backup API: consistent while others write
        finally:
            dest.close()
        counts, migrations = _sqlite_facts(target)
        return target, counts, migrations
    if vendor == "postgresql":
        target = workdir / DB_MEMBERS["postgresql"]
        pg_dump = find_pg_tool("pg_dump", _server_major(conn))
        # One snapshot for the counts and the dump: the manifest describes exactly what was dumped.
        raw = conn.get_new_connection(conn.get_connection_params())
        try:
            raw.autocommit = False
            with raw.cursor() as cur:
                cur.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
                cur.execute("SELECT pg_export_snapshot()")
                snapshot = cur.fetchone()[0]
                existing = set(conn.introspection.table_names(cur))
                counts, migrations = _facts(cur, conn.ops.quote_name, existing)
                _run_pg([pg_dump, "--format=custom", f"--snapshot={snapshot}", "--no-password",
                         "--file", str(target)], _pg_env(conn.settings_dict), "pg_dump")
            raw.rollback()
        finally:
            raw.close()
        return target, counts, migrations
    raise BackupError(f"Backups support SQLite and PostgreSQL, not {vendor}.")


def backup(output: str | Path, using: str = "default", storage=None) -> dict:
    """Write the archive to ``output`` (written aside and renamed: never a half archive under
    the final name). Returns the manifest."""
    output = Path(output)
    storage = storage or default_storage
    conn = connections[using]
    mode = "w:gz" if output.name.endswith((".gz", ".tgz")) else "w"
    partial = output.with_name(output.name + ".partial")
    files: dict[str, str] = {}
    with tempfile.TemporaryDirectory(prefix="tertulia-backup-") as tmp:
        workdir = Path(tmp)
        db_file, counts, migrations = _dump_database(conn, workdir)
        try:
            # The archive holds sessions and password hashes: readable by its owner only.
            fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            os.fchmod(fd, 0o600)
            with os.fdopen(fd, "wb") as raw, tarfile.open(fileobj=raw, mode=mode) as tar:
                member = db_file.name
                files[member] = _sha256_file(db_file)
                tar.add(db_file, arcname=member, recursive=False)
                for name in media_names(storage):
                    # Copied to a local file while hashing: the tar header needs the size first,
                    # and S3 objects are read once.
                    spool = workdir / "media.tmp"
                    h = hashlib.sha256()
                    with storage.open(name, "rb") as src, open(spool, "wb") as dst:
                        for block in iter(lambda: src.read(CHUNK), b""):
                            h.update(block)
                            dst.write(block)
                    arcname = f"media/{name}"
                    files[arcname] = h.hexdigest()
                    info = tarfile.TarInfo(arcname)
                    info.size = spool.stat().st_size
                    info.mtime = int(datetime.now().timestamp())
                    with open(spool, "rb") as fh:
                        tar.addfile(info, fh)
                manifest = {
                    "format": FORMAT_VERSION,
                    "tertulia_version": tertulia_version(),
                    "created_at": datetime.now(dt_timezone.utc).replace(microsecond=0).isoformat(),
                    "database_vendor": conn.vendor,
                    "database_member": member,
                    "migrations": migrations,
                    "counts": counts,
                    "fernet_key_fingerprints": key_fingerprints(),
                    "files": files,
                }
                data = json.dumps(manifest, indent=2, sort_keys=True).encode()
                info = tarfile.TarInfo(MANIFEST)
                info.size = len(data)
                info.mtime = int(datetime.now().timestamp())
                tar.addfile(info, io.BytesIO(data))
        except BaseException:
            partial.unlink(missing_ok=True)
            raise
    os.replace(partial, output)
    return manifest


# --- Restore -------------------------------------------------------------------------------

@dataclass
class Extracted:
    manifest: dict
    workdir: Path
    paths: dict[str, Path]  # archive member -> local file


def _safe_member(member: tarfile.TarInfo) -> str:
    name = member.name
    if not member.isreg():
        raise BackupError(f"Refused: the archive member {name!r} is not a regular file (a link, a device or a "
                          "directory); a Tertulia backup never holds one.")
    if "\\" in name or "\x00" in name:
        raise BackupError(f"Refused: unsafe path in the archive: {name!r}.")
    path = PurePosixPath(name)
    if path.is_absolute() or ".." in path.parts or not path.parts or name.startswith("/"):
        raise BackupError(f"Refused: unsafe path in the archive: {name!r}.")
    if not (name == MANIFEST or name in DB_MEMBERS.values() or (name.startswith("media/") and len(path.parts) > 1)):
        raise BackupError(f"Refused: unexpected member in the archive: {name!r}.")
    return str(path)


def extract(archive: str | Path, workdir: Path) -> Extracted:
    """Read the whole archive into ``workdir`` (files named by us, never by the archive),
    checking every path and every checksum. Raises BackupError; changes nothing else."""
    paths: dict[str, Path] = {}
    hashes: dict[str, str] = {}
    manifest = None
    try:
        with tarfile.open(archive, "r:*") as tar:
            for n, member in enumerate(tar):
                name = _safe_member(member)
                if name in paths or (name == MANIFEST and manifest is not None):
                    raise BackupError(f"Refused: the archive holds {name!r} twice.")
                src = tar.extractfile(member)
                if name == MANIFEST:
                    manifest = json.loads(src.read(10 * 1024 * 1024).decode())
                    continue
                local = workdir / f"{n:08d}.bin"
                h = hashlib.sha256()
                with open(local, "wb") as dst:
                    for block in iter(lambda: src.read(CHUNK), b""):
                        h.update(block)
                        dst.write(block)
                paths[name], hashes[name] = local, h.hexdigest()
    except BackupError:
        raise
    except (tarfile.TarError, EOFError, zlib.error, OSError, ValueError, UnicodeDecodeError) as exc:
        raise BackupError(f"Refused: the archive is corrupt or truncated ({type(exc).__name__}: {exc}).") from None
    if not isinstance(manifest, dict) or "files" not in manifest:
        raise BackupError("Refused: the archive has no valid manifest.json; it is not a complete Tertulia backup.")
    if not isinstance(manifest.get("format"), int) or manifest["format"] > FORMAT_VERSION:
        raise BackupError(f"Refused: archive format {manifest.get('format')!r} is newer than this Tertulia "
                          f"understands ({FORMAT_VERSION}). Upgrade Tertulia first.")
    listed = manifest["files"]
    if set(listed) != set(hashes):
        raise BackupError("Refused: the archive's files do not match its manifest (missing or extra files).")
    for name, digest in hashes.items():
        if listed[name] != digest:
            raise BackupError(f"Refused: checksum mismatch for {name}; the archive is damaged or was altered.")
    if manifest.get("database_member") not in paths:
        raise BackupError("Refused: the archive holds no database.")
    return Extracted(manifest, workdir, paths)


def _current_facts(conn) -> tuple[dict, dict]:
    with conn.cursor() as cur:
        existing = set(conn.introspection.table_names(cur))
        return _facts(cur, conn.ops.quote_name, existing)


def database_is_empty(conn) -> bool:
    """No users, workspaces or brands: a fresh ``migrate`` (or nothing at all)."""
    counts, _ = _current_facts(conn)
    from .models import Brand, Organization, User

    return not any(counts.get(m._meta.db_table) for m in (User, Organization, Brand))


def check(extracted: Extracted, using: str = "default", yes: bool = False) -> None:
    """Every refusal that depends on the target, before anything is written."""
    manifest = extracted.manifest
    conn = connections[using]
    if manifest.get("database_vendor") != conn.vendor:
        raise BackupError(f"Refused: this backup is of a {manifest.get('database_vendor')} database and the "
                          f"configured database is {conn.vendor}. Restore it into the same kind of database.")
    known = set(MigrationLoader(None, ignore_no_migrations=True).disk_migrations)
    unknown = sorted(f"{app}.{name}" for app, names in (manifest.get("migrations") or {}).items() for name in names
                     if (app, name) not in known)
    if unknown:
        raise BackupError("Refused: the backup comes from a newer schema than this code (unknown migrations: "
                          + ", ".join(unknown[:10]) + "). Install the Tertulia version that made it, or newer.")
    archived = set(manifest.get("fernet_key_fingerprints") or [])
    if archived and not archived <= set(key_fingerprints()):
        raise BackupError("Refused: the encryption key configured here is not the one this backup's data was "
                          "encrypted with, so its network tokens could not be decrypted.\n" + KEY_REMINDER)
    if database_is_empty(conn):
        return
    if not yes:
        raise BackupError("Refused: the database is not empty. Restoring replaces its contents; run again with "
                          "--yes to do that (make a backup of it first).")
    if conn.vendor == "postgresql":
        # pg_restore --clean drops only the backup's own tables: a newer schema's extra tables
        # (and their foreign keys) would stay and make it fail.
        from django.db.migrations.recorder import MigrationRecorder

        applied = set(MigrationRecorder(conn).applied_migrations())
        archived_set = {(app, name) for app, names in (manifest.get("migrations") or {}).items() for name in names}
        if applied - archived_set:
            raise BackupError("Refused: this database has a newer schema than the backup. Restore it into an empty "
                              "database, then run `tertulia migrate`.")


def _restore_database(extracted: Extracted, conn) -> None:
    source = extracted.paths[extracted.manifest["database_member"]]
    if conn.vendor == "sqlite":
        conn.ensure_connection()
        src = sqlite3.connect(source)
        try:
            src.backup(conn.connection)  # replaces every page of the target, atomically
        finally:
            src.close()
        return
    pg_restore = find_pg_tool("pg_restore", _server_major(conn))
    conn.close()  # our idle connection must not hold locks on the tables being replaced
    _run_pg([pg_restore, "--clean", "--if-exists", "--no-owner", "--no-privileges", "--single-transaction",
             "--no-password",
             "--dbname", conn.settings_dict["NAME"], str(source)], _pg_env(conn.settings_dict), "pg_restore")


def _restore_media(extracted: Extracted, storage) -> int:
    """Put back the archive's media files. A file already there with the same content is left
    alone; a different one is replaced only once its new copy is stored, so a failure (a full
    disk, a bucket's permissions) leaves every file whole."""
    n = 0
    for member, local in extracted.paths.items():
        if not member.startswith("media/"):
            continue
        name = member[len("media/"):]
        wanted = extracted.manifest["files"][member]
        if storage.exists(name):
            h = hashlib.sha256()
            with storage.open(name, "rb") as fh:
                for block in iter(lambda: fh.read(CHUNK), b""):
                    h.update(block)
            if h.hexdigest() == wanted:
                continue
        with open(local, "rb") as fh:
            aside = storage.save(f"{name}.restoring", File(fh, name=PurePosixPath(name).name))
        try:
            if storage.exists(name):
                storage.delete(name)
            with storage.open(aside, "rb") as fh:
                saved = storage.save(name, File(fh, name=PurePosixPath(name).name))
        finally:
            storage.delete(aside)
        if saved != name:
            raise BackupError(f"The media file {name} was stored as {saved}; check the storage's permissions.")
        n += 1
    return n


def restore(archive: str | Path, using: str = "default", yes: bool = False, storage=None) -> dict:
    """Check the archive and the target, then restore the database and the media. Returns the
    manifest. Raises BackupError (with nothing changed) when any check fails."""
    storage = storage or default_storage
    if not Path(archive).is_file():
        raise BackupError(f"No such file: {archive}")
    conn = connections[using]
    with tempfile.TemporaryDirectory(prefix="tertulia-restore-") as tmp:
        extracted = extract(archive, Path(tmp))
        check(extracted, using=using, yes=yes)
        _restore_media(extracted, storage)  # first: a failure here leaves the database untouched
        _restore_database(extracted, conn)
    # The backup's scheduled posts and queued replies may have gone out since it was made:
    # publishing waits for a person to look and resume each brand (at most once, DESIGN.md §3).
    from .models import Brand

    Brand.all_objects.using(using).update(publishing_paused=True)
    counts, _ = _current_facts(connections[using])
    differ = {t: (c, counts.get(t)) for t, c in extracted.manifest.get("counts", {}).items() if counts.get(t) != c}
    if differ:
        raise BackupError(f"The restored row counts differ from the backup's: {dict(list(differ.items())[:5])}.")
    return extracted.manifest
