"""`tertulia backup` / `tertulia restore` (issue 10, data safety).

The round trip runs on the database of the test pass: SQLite in the first CI pass, PostgreSQL in
the second (pg_dump/pg_restore). Its target is a database of its own, created here and dropped
afterwards (a SQLite file, or a PostgreSQL database like test_concurrent_consumers.py makes),
reached through an extra connection alias. Each refusal is checked to change nothing.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import tarfile
import uuid
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from django.db import connection, connections

from tertulia.content.models import MediaAsset, Post
from tertulia.content.services import do_create_post, do_upload_media
from tertulia.content.tests.media_images import image_bytes, upload
from tertulia.core import backup
from tertulia.core.models import Brand, User
from tertulia.core.services import Ctx
from tertulia.networks.models import SocialAccount
from tertulia.networks.services import do_add_account

TOKEN = "mastodon-secret-token-" + "x" * 20


@pytest.fixture
def media_root(settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path / "media")
    return Path(settings.MEDIA_ROOT)


def _populate(brand, owner):
    ctx = Ctx(owner, via="test")
    account = do_add_account(ctx, brand, network="mastodon", handle="@cafe", access_token=TOKEN,
                             base_url="https://social.example")
    asset = do_upload_media(ctx, brand, upload(image_bytes(64, 48)), alt_text="Una taza <b>")
    post = do_create_post(ctx, brand, text="Buenos días ☕ <script>", accounts=[account])
    post.attachments.create(asset=asset, position=0)
    return account, asset, post


def _target_alias(tmp_path):
    """A fresh empty database of the same vendor, as a connection alias; yields the alias."""
    base = connection.settings_dict
    alias = f"restore_{uuid.uuid4().hex[:6]}"
    admin = None
    if connection.vendor == "sqlite":
        cfg = {**base, "NAME": str(tmp_path / "restored.sqlite3"), "TEST": {}}
    else:
        psycopg = pytest.importorskip("psycopg")
        name = f"tertulia_restore_{os.getpid()}_{uuid.uuid4().hex[:6]}"
        admin = psycopg.connect(host=base["HOST"] or None, port=base["PORT"] or None, user=base["USER"],
                                password=base["PASSWORD"], dbname="postgres", autocommit=True)
        admin.execute(f'CREATE DATABASE "{name}"')
        cfg = {**base, "NAME": name, "TEST": {}}
    # Registered as a dynamically created connection (not in connections.settings), which
    # Django's test isolation allows.
    from django.db.utils import load_backend

    connections[alias] = load_backend(cfg["ENGINE"]).DatabaseWrapper(cfg, alias)
    try:
        yield alias
    finally:
        connections[alias].close()
        del connections[alias]
        if admin is not None:
            admin.execute(f'DROP DATABASE IF EXISTS "{cfg["NAME"]}" WITH (FORCE)')
            admin.close()


@pytest.fixture
def target(tmp_path):
    yield from _target_alias(tmp_path)


@pytest.mark.django_db(transaction=True)
def test_round_trip_restores_data_media_and_decryptable_tokens(brand_a, media_root, tmp_path, target, capsys):
    brand, people = brand_a
    account, asset, post = _populate(brand, people["owner"])
    media_before = {p.relative_to(media_root): p.read_bytes() for p in media_root.rglob("*") if p.is_file()}
    assert len(media_before) >= 2  # the image and its preview

    archive = tmp_path / "b.tar.gz"
    call_command("backup", "--output", str(archive))
    out = capsys.readouterr().out
    assert "Encryption-key reminder" in out and archive.exists()
    with tarfile.open(archive) as tar:
        names = tar.getnames()
        manifest = json.load(tar.extractfile("manifest.json"))
        raw = b"".join(tar.extractfile(m).read() for m in tar.getmembers())
    assert manifest["database_vendor"] == connection.vendor
    assert manifest["counts"]["core_brand"] == 1 and manifest["counts"]["networks_socialaccount"] == 1
    assert "0005_brand_soft_delete_and_export" in manifest["migrations"]["core"]
    assert {f"media/{p}" for p in media_before} <= set(manifest["files"]) and set(names) == {*manifest["files"],
                                                                                            "manifest.json"}
    from django.conf import settings

    key = settings.FERNET_KEYS[0]
    assert manifest["fernet_key_fingerprints"][0] == hashlib.sha256(key.encode()).hexdigest()
    assert key.encode() not in raw and TOKEN.encode() not in raw  # neither the key nor a plaintext token
    assert oct(archive.stat().st_mode & 0o777) == "0o600"  # sessions and password hashes inside

    # Wipe the media, restore into the empty database of our own.
    shutil.rmtree(media_root)
    assert not brand.publishing_paused
    call_command("restore", str(archive), "--database", target)
    out = capsys.readouterr().out
    assert "Encryption-key reminder" in out and "Publishing is paused on every brand" in out
    restored = Brand.objects.using(target).get(pk=brand.pk)
    assert restored.publishing_paused  # what the backup scheduled may have gone out since: a person resumes
    assert (restored.name, restored.timezone, restored.organization_id) == (brand.name, brand.timezone,
                                                                            brand.organization_id)
    assert SocialAccount.objects.using(target).get(pk=account.pk).access_token == TOKEN  # decrypts
    assert Post.objects.using(target).get(pk=post.pk).text == post.text
    assert list(Post.objects.using(target).get(pk=post.pk).attachments.values_list("asset_id", flat=True)) == [asset.pk]
    assert MediaAsset.objects.using(target).get(pk=asset.pk).file.name == asset.file.name
    assert User.objects.using(target).get(pk=people["owner"].pk).check_password("correct horse battery")
    media_after = {p.relative_to(media_root): p.read_bytes() for p in media_root.rglob("*") if p.is_file()}
    assert media_after == media_before

    # The target is not empty now: a second restore needs --yes, and then works.
    with pytest.raises(CommandError, match="not empty"):
        call_command("restore", str(archive), "--database", target)
    # A media file changed since the backup is put back; an identical one is left alone.
    changed = next(p for p in media_root.rglob("*") if p.is_file())
    changed.write_bytes(b"changed since the backup")
    call_command("restore", str(archive), "--database", target, "--yes")
    assert SocialAccount.objects.using(target).get(pk=account.pk).access_token == TOKEN
    assert {p.relative_to(media_root): p.read_bytes() for p in media_root.rglob("*") if p.is_file()} == media_before


# --- Refusals -------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def good_archive(django_db_setup, django_db_blocker, tmp_path_factory):
    """One good archive of the test database as migrated (no test's data), made once per
    module outside any test transaction: the refusals happen before anything is written, so
    they need a valid archive, not one of their own data (and a pg_dump per test, with a
    transactional test's flush, would cost seconds each on PostgreSQL)."""
    path = tmp_path_factory.mktemp("backup") / "good.tar"
    with django_db_blocker.unblock():
        backup.backup(path, storage=_NoMedia())
    return path.read_bytes()


class _NoMedia:
    def listdir(self, path):
        return [], []


@pytest.fixture
def archive(good_archive, db, brand_a, tmp_path):
    """The good archive, and a database with data in it (so "nothing changed" means something)."""
    brand, people = brand_a
    SocialAccount.objects.create(brand=brand, network="mastodon", handle="@cafe", access_token=TOKEN)
    path = tmp_path / "good.tar"
    path.write_bytes(good_archive)
    return path


DB_MEMBER = backup.DB_MEMBERS


def _rewrite(src: Path, dst: Path, edit) -> Path:
    """A copy of the archive with members changed by ``edit(name, data) -> [(TarInfo, bytes)]``."""
    with tarfile.open(src) as tin, tarfile.open(dst, "w") as tout:
        for m in tin.getmembers():
            for info, data in edit(m.name, tin.extractfile(m).read()):
                tout.addfile(info, io.BytesIO(data) if data is not None else None)
    return dst


def _info(name, data):
    info = tarfile.TarInfo(name)
    info.size = len(data)
    return info


def _manifest_edit(change):
    def edit(name, data):
        if name == "manifest.json":
            m = json.loads(data)
            change(m)
            data = json.dumps(m).encode()
        return [(_info(name, data), data)]
    return edit


def _refused(path, match, **kw):
    before = Brand.objects.count(), SocialAccount.objects.count()
    with pytest.raises(backup.BackupError, match=match):
        backup.restore(path, yes=True, **kw)
    assert (Brand.objects.count(), SocialAccount.objects.count()) == before


def test_refuses_a_truncated_archive(archive, tmp_path):
    data = archive.read_bytes()
    bad = tmp_path / "cut.tar"
    bad.write_bytes(data[: len(data) // 2])
    _refused(bad, "corrupt or truncated|manifest")
    gz = tmp_path / "cut.tar.gz"
    import gzip

    gz.write_bytes(gzip.compress(data)[:-200])
    _refused(gz, "corrupt or truncated")


def test_refuses_a_wrong_checksum(archive, tmp_path):
    def flip(name, data):
        if name == DB_MEMBER[connection.vendor]:
            data = data[:-1] + bytes([data[-1] ^ 1])
        return [(_info(name, data), data)]

    _refused(_rewrite(archive, tmp_path / "flip.tar", flip), "checksum mismatch")


def test_refuses_extra_members_not_in_the_manifest(archive, tmp_path):
    def extra(name, data):
        out = [(_info(name, data), data)]
        if name == "manifest.json":
            out.append((_info("media/evil.txt", b"x"), b"x"))
        return out

    _refused(_rewrite(archive, tmp_path / "extra.tar", extra), "do not match its manifest")


@pytest.mark.parametrize("name", ["../escape.txt", "/etc/evil", "media/../../escape", "media\\..\\x", "other.txt"])
def test_refuses_unsafe_paths(archive, tmp_path, name):
    def evil(n, data):
        out = [(_info(n, data), data)]
        if n == DB_MEMBER[connection.vendor]:
            out.append((_info(name, b"owned"), b"owned"))
        return out

    _refused(_rewrite(archive, tmp_path / "evil.tar", evil), "unsafe path|unexpected member")
    assert not (tmp_path.parent / "escape.txt").exists()


@pytest.mark.parametrize("kind", [tarfile.SYMTYPE, tarfile.LNKTYPE])
def test_refuses_links(archive, tmp_path, kind):
    def link(n, data):
        out = [(_info(n, data), data)]
        if n == DB_MEMBER[connection.vendor]:
            info = tarfile.TarInfo("media/passwd")
            info.type, info.linkname = kind, "/etc/passwd"
            out.append((info, None))
        return out

    _refused(_rewrite(archive, tmp_path / "link.tar", link), "not a regular file")


def test_refuses_another_vendor(archive, tmp_path):
    other = "postgresql" if connection.vendor == "sqlite" else "sqlite"
    _refused(_rewrite(archive, tmp_path / "v.tar", _manifest_edit(lambda m: m.update(database_vendor=other))),
             f"{other} database and the configured database is {connection.vendor}")


def test_refuses_a_newer_schema(archive, tmp_path):
    _refused(_rewrite(archive, tmp_path / "n.tar",
                      _manifest_edit(lambda m: m["migrations"]["core"].append("9999_from_the_future"))),
             "newer schema")


def test_refuses_another_encryption_key_with_the_reminder(archive, settings):
    from cryptography.fernet import Fernet

    settings.FERNET_KEYS = [Fernet.generate_key().decode()]
    with pytest.raises(backup.BackupError) as exc:
        backup.restore(archive, yes=True)
    assert "could not be decrypted" in str(exc.value) and "deliberately NOT in this backup" in str(exc.value)
    # Also through the command, as a clean error.
    with pytest.raises(CommandError, match="encryption key"):
        call_command("restore", str(archive), "--yes")


def test_refuses_a_non_empty_database_without_yes(archive):
    with pytest.raises(backup.BackupError, match="not empty"):
        backup.restore(archive)
    assert Brand.objects.count() == 1


def test_missing_file_is_a_clean_error(tmp_path):
    with pytest.raises(CommandError, match="No such file"):
        call_command("restore", str(tmp_path / "nope.tar.gz"))


# --- PostgreSQL tools -----------------------------------------------------------------------

def _fake_tool(dirpath: Path, name: str, version: str) -> Path:
    path = dirpath / name
    path.write_text(f"#!/bin/sh\necho '{name} (PostgreSQL) {version}'\n")
    path.chmod(0o755)
    return path


def test_pg_tool_missing_or_too_old_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setattr(backup.glob, "glob", lambda pattern: [])
    with pytest.raises(backup.BackupError, match="pg_dump was not found.*postgresql-client-16"):
        backup.find_pg_tool("pg_dump", 16)
    _fake_tool(tmp_path, "pg_dump", "13.4")
    with pytest.raises(backup.BackupError, match="pg_dump 13 .* is older than the PostgreSQL server \\(16\\)"):
        backup.find_pg_tool("pg_dump", 16)
    assert backup.find_pg_tool("pg_dump", 13) == str(tmp_path / "pg_dump")


def test_pg_password_goes_in_the_environment_only():
    env = backup._pg_env({"HOST": "db", "PORT": 5432, "USER": "u", "PASSWORD": "s3cret", "NAME": "t"})
    assert env["PGPASSWORD"] == "s3cret" and env["PGDATABASE"] == "t" and env["PGHOST"] == "db"
