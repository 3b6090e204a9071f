"""Kill a consumer with SIGKILL in the middle of a publish: after a restart there is no
duplicate and no loss (issue 4, DESIGN.md §3).

A real ``manage.py run_huey`` consumer in a subprocess, with the embedded set-up (a file-based
SQLite database and SqliteHuey in a temporary directory), publishes to the loopback fake
Mastodon running in this test process. The fake holds the request long enough to kill the
consumer while it is on the wire. After a restart, the sweeper (run as it runs every minute)
finds the expired lease and reconciles it with ``find_published`` before any retry:

- killed after the request reached the network: the post is found -> published, one status;
- killed before the request reached the network (a proxy held it and dropped it): not found ->
  retried -> published, one status.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from tests.fakes.mastodon import Fault, FakeMastodon

BASE_DIR = Path(__file__).resolve().parents[3]
LEASE = 4.0

SETUP = r'''
import json, os, sys
import django
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tertulia.settings")
django.setup()
from datetime import timedelta
from django.utils import timezone
from tertulia.content.approvals import do_mark_approved
from tertulia.content.services import do_create_post
from tertulia.core import services as core
from tertulia.core.models import User
from tertulia.core.services import Ctx
from tertulia.networks.services import do_add_account
from tertulia.publishing import services
cfg = json.loads(sys.argv[1])
owner = User.objects.create_user(username="crash_owner", password="correct horse battery",
                                 email="owner@example.com", language="en")
ctx = Ctx(owner, via="test")
brand = core.do_create_brand(ctx, core.do_create_organization(ctx, "Crash Agency"), name="Crash",
                             timezone="Europe/Madrid", language="es")
account = do_add_account(ctx, brand, network="mastodon", handle="@john", access_token=cfg["token"],
                         base_url=cfg["base_url"])
post = do_create_post(ctx, brand, text=cfg["text"], accounts=[account], submit=True)
do_mark_approved(ctx, post)
target = post.targets.get()
services.do_schedule(ctx, target, due_at=timezone.now() - timedelta(seconds=1))
print(target.pk)
'''

SWEEP = ("from tertulia.publishing.tasks import sweep_once; "
         "import json; print(json.dumps(sweep_once(grace=0)))")


def _env(tmp: Path) -> dict[str, str]:
    drop = ("DATABASE_URL", "REDIS_URL", "HUEY_IMMEDIATE", "HUEY_SQLITE_FILE", "HUEY_NAME", "TERTULIA_TESTING",
            "SECRET_KEY", "SECRET_KEY_FILE", "TERTULIA_FERNET_KEYS", "TERTULIA_FERNET_KEY_FILE", "DEBUG",
            "HUEY_WORKERS", "DJANGO_SETTINGS_MODULE")
    env = {k: v for k, v in os.environ.items() if k not in drop and not k.startswith("PUBLISH_")}
    env.update({
        "DATABASE_URL": f"sqlite:///{tmp / 'db.sqlite3'}", "HUEY_IMMEDIATE": "0",
        "HUEY_SQLITE_FILE": str(tmp / "huey.sqlite3"), "HUEY_NAME": "crash", "HUEY_WORKERS": "1",
        "TERTULIA_VAR_DIR": str(tmp / "var"), "SECRET_KEY": "crash-test-" + "k" * 40,
        "TERTULIA_FERNET_KEYS": _FERNET, "TERTULIA_ALLOW_PRIVATE_NETWORKS": "1",
        "PUBLISH_LEASE_SECONDS": str(LEASE), "PUBLISH_SWEEP_GRACE_SECONDS": "0",
        "PUBLISH_BACKOFF_BASE": "0.2", "PUBLISH_BACKOFF_CAP": "0.5", "PYTHONUNBUFFERED": "1",
    })
    return env


_FERNET = Fernet.generate_key().decode()


def _manage(tmp: Path, *args: str, timeout: float = 120) -> str:
    result = subprocess.run([sys.executable, "manage.py", *args], cwd=BASE_DIR, env=_env(tmp), capture_output=True,
                            text=True, timeout=timeout)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-4000:]
    return result.stdout


@pytest.fixture(scope="module")
def migrated(tmp_path_factory) -> Path:
    """One migrated SQLite file for the module; each test gets its own copy."""
    tmp = tmp_path_factory.mktemp("crash-template")
    (tmp / "var").mkdir()
    _manage(tmp, "migrate", "--noinput", timeout=300)
    return tmp / "db.sqlite3"


@pytest.fixture
def world(tmp_path, migrated):
    (tmp_path / "var").mkdir()
    shutil.copy(migrated, tmp_path / "db.sqlite3")
    consumers: list[subprocess.Popen] = []

    def start() -> subprocess.Popen:
        log = open(tmp_path / f"consumer-{len(consumers)}.log", "w")
        proc = subprocess.Popen([sys.executable, "manage.py", "run_huey"], cwd=BASE_DIR, env=_env(tmp_path),
                                stdout=log, stderr=subprocess.STDOUT)
        log.close()
        consumers.append(proc)
        return proc

    with FakeMastodon() as fake:
        yield tmp_path, fake, start
        for proc in consumers:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(10)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait(5)


def _row(tmp: Path, target_id: int) -> dict:
    with sqlite3.connect(tmp / "db.sqlite3", timeout=10) as db:
        db.row_factory = sqlite3.Row
        row = db.execute("SELECT state, external_id, attempts, lease_expires_at FROM publishing_posttarget "
                         "WHERE id = ?", (target_id,)).fetchone()
        outcomes = [r[0] for r in db.execute("SELECT outcome FROM publishing_deliveryattempt WHERE target_id = ? "
                                             "ORDER BY id", (target_id,))]
    return {**dict(row), "outcomes": outcomes}


def _wait(what, timeout: float, describe) -> None:
    deadline = time.monotonic() + timeout
    while not what():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting: {describe()}")
        time.sleep(0.1)


def _schedule(tmp: Path, fake: FakeMastodon, text: str) -> int:
    out = _manage(tmp, "shell", "-c", SETUP.replace("sys.argv[1]", repr(json.dumps(
        {"token": fake.token, "base_url": fake.base_url, "text": text}))))
    return int(out.strip().splitlines()[-1])


def _kill_mid_publish(tmp, fake, start, target_id) -> None:
    consumer = start()
    posts = lambda: fake.requests_to("POST", "/api/v1/statuses")  # noqa: E731
    _wait(lambda: len(posts()) == 1, 60, lambda: (_row(tmp, target_id), (tmp / "consumer-0.log").read_text()[-2000:]))
    assert _row(tmp, target_id)["state"] == "publishing"  # claimed and committed, the call on the wire
    consumer.send_signal(signal.SIGKILL)
    consumer.wait(10)
    assert consumer.returncode == -signal.SIGKILL


def _restart_and_sweep(tmp, start, target_id) -> None:
    """Restart the consumer. Huey runs the every-minute sweeper when a consumer starts; if the
    lease had not run out by then, run the sweeper once more (as the next minute would)."""
    start()
    time.sleep(LEASE + 0.5)  # the dead consumer's claim counts until its lease runs out
    if _row(tmp, target_id)["state"] != "published":
        counts = json.loads(_manage(tmp, "shell", "-c", SWEEP).strip().splitlines()[-1])
        assert counts["due"] == 0 and counts["reconcile"] in (0, 1), counts
    _wait(lambda: _row(tmp, target_id)["state"] == "published", 60,
          lambda: (_row(tmp, target_id), (tmp / "consumer-1.log").read_text()[-3000:]))
    # Nothing is left for the sweeper: no second publish can be queued.
    assert json.loads(_manage(tmp, "shell", "-c", SWEEP).strip().splitlines()[-1]) == {"due": 0, "reconcile": 0}


def test_sigkill_after_the_request_reached_the_network(world):
    tmp, fake, start = world
    # The server takes 3 s to answer (and then creates the status, whoever is still listening).
    fake.inject("POST /api/v1/statuses", Fault.latency(3.0))
    target_id = _schedule(tmp, fake, "Publicado aunque el consumidor muera")
    _kill_mid_publish(tmp, fake, start, target_id)
    _wait(lambda: len(fake.own_statuses()) == 1, 10, lambda: fake.own_statuses())
    _restart_and_sweep(tmp, start, target_id)
    (status,) = fake.own_statuses()
    row = _row(tmp, target_id)
    assert row["external_id"] == status["id"]
    assert row["outcomes"] == ["lost", "found"]  # found on the network, never posted again
    assert len(fake.requests_to("POST", "/api/v1/statuses")) == 1


def test_sigkill_before_the_request_reached_the_network(world):
    tmp, fake, start = world
    # A proxy holds the request for 6 s and drops it: the server never sees it.
    fake.inject("POST /api/v1/statuses", Fault.lost(6.0))
    target_id = _schedule(tmp, fake, "Publicado una sola vez tras reiniciar")
    _kill_mid_publish(tmp, fake, start, target_id)
    _restart_and_sweep(tmp, start, target_id)
    (status,) = fake.own_statuses()
    row = _row(tmp, target_id)
    assert row["external_id"] == status["id"] and status["text"] == "Publicado una sola vez tras reiniciar"
    assert row["outcomes"] == ["lost", "retry", "published"]  # looked first, then sent once
    assert len(fake.requests_to("POST", "/api/v1/statuses")) == 2  # the lost one and the retry
