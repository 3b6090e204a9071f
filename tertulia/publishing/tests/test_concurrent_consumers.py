"""Concurrent consumers on PostgreSQL: each target is published exactly once, none is lost
(issue 4, DESIGN.md §3 "scale-out").

Two real ``manage.py run_huey`` processes with four worker threads each, Huey on Redis, the
database on PostgreSQL, publish a few hundred targets across four accounts of the loopback fake
Mastodon (in this process). Every task is delivered twice on purpose (a redelivery) and the
sweeper runs meanwhile, so consumers really do race for the same targets. The fake counts the
POSTs it receives: exactly one per target (Idempotency-Key could hide a duplicate *status*,
not a duplicate request).

Isolation from the main test run: a database of its own (created and dropped here) and a Huey
queue name of its own on Redis (its keys are flushed at the end).

Needs PostgreSQL and Redis: skipped when they are absent locally; in CI (CI=true, where
``.ci/run`` provides both) a skip fails the run (root conftest.py).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest
from cryptography.fernet import Fernet

from tests.fakes.mastodon import FakeMastodon

BASE_DIR = Path(__file__).resolve().parents[3]
TARGETS = 200
ACCOUNTS = 4
DEFAULT_PG = "postgres://tertulia:tertulia@127.0.0.1:5432/tertulia"

SETUP = r'''
import json, os, sys, time
import django
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tertulia.settings")
django.setup()
from datetime import timedelta
from django.utils import timezone
from tertulia.content.models import Post
from tertulia.core import services as core
from tertulia.core.models import User
from tertulia.core.services import Ctx
from tertulia.networks.services import do_add_account
from tertulia.publishing import tasks
from tertulia.publishing.models import PostTarget
cfg = json.loads(CFG)
owner = User.objects.create_user(username="race_owner", password="correct horse battery",
                                 email="owner@example.com", language="en")
ctx = Ctx(owner, via="test")
brand = core.do_create_brand(ctx, core.do_create_organization(ctx, "Race Agency"), name="Race",
                             timezone="Europe/Madrid", language="es")
accounts = [do_add_account(ctx, brand, network="mastodon", handle="@" + a["username"], access_token=a["token"],
                           base_url=cfg["base_url"], external_id=a["id"]) for a in cfg["accounts"]]
# Approved and scheduled posts, written in bulk (the services are tested elsewhere; the
# subject here is the consumers), all due in a few seconds.
due = timezone.now() + timedelta(seconds=cfg["delay"])
posts = Post.objects.bulk_create([Post(brand=brand, author=owner, text=f"Carrera {i}", state=Post.State.SCHEDULED,
                                       scheduled_at=due) for i in range(cfg["targets"])])
targets = PostTarget.objects.bulk_create([
    PostTarget(brand=brand, post=post, account=accounts[i % len(accounts)], state=PostTarget.State.SCHEDULED,
               due_at=due) for i, post in enumerate(posts)])
for target in targets:
    delay = max(0.0, (due - timezone.now()).total_seconds())
    # Its task, and a redelivered duplicate of the same task (same version).
    tasks.publish_target.schedule(args=(target.pk, target.version), delay=delay)
    tasks.publish_target.schedule(args=(target.pk, target.version), delay=delay)
# And the sweeper, once they are due, while the consumers are at work: a third copy of some.
time.sleep(max(0.0, (due - timezone.now()).total_seconds()))
tasks.sweep_once(grace=0)
print(json.dumps([t.pk for t in targets]))
'''


def _pg_url() -> str:
    url = os.environ.get("DATABASE_URL", "")
    return url if url.startswith(("postgres://", "postgresql://")) else os.environ.get("TERTULIA_PG_URL", DEFAULT_PG)


def _with_db(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, "/" + name, parts.query, parts.fragment))


@pytest.fixture
def pg_database():
    """A database of our own on the PostgreSQL server, dropped afterwards."""
    psycopg = pytest.importorskip("psycopg")
    admin = _pg_url()
    try:
        conn = psycopg.connect(admin, autocommit=True, connect_timeout=3)
    except psycopg.Error as exc:
        pytest.skip(f"no PostgreSQL at {admin}: {exc}")
    name = f"tertulia_consumers_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    with conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield _with_db(admin, name)
    finally:
        with psycopg.connect(admin, autocommit=True, connect_timeout=3) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def huey_queue(redis_url):
    """A Huey queue name of our own on Redis, flushed afterwards."""
    from huey import RedisHuey

    name = f"tertulia-consumers-{uuid.uuid4().hex[:8]}"
    yield name
    RedisHuey(name, url=redis_url).storage.flush_all()


def _env(tmp: Path, db_url: str, redis_url: str, queue: str) -> dict[str, str]:
    drop = ("DATABASE_URL", "REDIS_URL", "HUEY_IMMEDIATE", "HUEY_SQLITE_FILE", "HUEY_NAME", "TERTULIA_TESTING",
            "SECRET_KEY", "SECRET_KEY_FILE", "TERTULIA_FERNET_KEYS", "TERTULIA_FERNET_KEY_FILE", "DEBUG",
            "HUEY_WORKERS", "DJANGO_SETTINGS_MODULE")
    env = {k: v for k, v in os.environ.items() if k not in drop and not k.startswith("PUBLISH_")}
    env.update({
        "DATABASE_URL": db_url, "REDIS_URL": redis_url, "HUEY_IMMEDIATE": "0", "HUEY_NAME": queue,
        "HUEY_WORKERS": "4", "TERTULIA_VAR_DIR": str(tmp / "var"), "SECRET_KEY": "race-test-" + "k" * 40,
        "TERTULIA_FERNET_KEYS": _FERNET, "TERTULIA_ALLOW_PRIVATE_NETWORKS": "1",
        "PUBLISH_SWEEP_GRACE_SECONDS": "0", "PUBLISH_BACKOFF_BASE": "0.2", "PUBLISH_BACKOFF_CAP": "1",
        "PYTHONUNBUFFERED": "1",
    })
    return env


_FERNET = Fernet.generate_key().decode()


def _run(tmp_path, env, fake, *, consumers: int, targets: int, accounts: int = ACCOUNTS):
    """Start the consumers, schedule ``targets`` posts (each task queued twice, then a sweep),
    wait until all are published, stop the consumers. Returns (rows, claims, phases)."""
    import psycopg

    db_url = env["DATABASE_URL"]

    def manage(*args, timeout=240):
        result = subprocess.run([sys.executable, "manage.py", *args], cwd=BASE_DIR, env=env, capture_output=True,
                                text=True, timeout=timeout)
        assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-4000:]
        return result.stdout

    phases = {"start": time.monotonic()}
    manage("migrate", "--noinput")
    phases["migrated"] = time.monotonic()
    people = []
    for n in range(accounts):
        person = fake.add_account(f"race{n}")
        people.append({"username": f"race{n}", "id": person["id"], "token": fake.issue_token(person["id"])})
    procs = []
    try:
        for n in range(consumers):
            log = open(tmp_path / f"consumer-{n}.log", "w")
            procs.append(subprocess.Popen([sys.executable, "manage.py", "run_huey"], cwd=BASE_DIR, env=env,
                                          stdout=log, stderr=subprocess.STDOUT))
            log.close()
        cfg = {"base_url": fake.base_url, "accounts": people, "targets": targets, "delay": 2}
        ids = json.loads(manage("shell", "-c", SETUP.replace("CFG", repr(json.dumps(cfg)))).strip().splitlines()[-1])
        assert len(ids) == targets
        phases["scheduled"] = time.monotonic()

        def states():
            with psycopg.connect(db_url) as conn:
                return dict(conn.execute("SELECT state, count(*) FROM publishing_posttarget GROUP BY state").fetchall())

        deadline = time.monotonic() + 120
        while states() != {"published": targets}:
            assert time.monotonic() < deadline, (states(), (tmp_path / "consumer-0.log").read_text()[-3000:])
            assert all(c.poll() is None for c in procs), "a consumer died"
            time.sleep(0.5)
        with psycopg.connect(db_url) as conn:
            rows = conn.execute("SELECT t.id, t.external_id, t.attempts, p.text FROM publishing_posttarget t "
                                "JOIN content_post p ON p.id = t.post_id").fetchall()
            claims = conn.execute("SELECT count(*) FROM publishing_deliveryattempt").fetchone()[0]
        phases["published"] = time.monotonic()
        print({k: round(v - phases["start"], 1) for k, v in phases.items()})
    finally:
        for proc in procs:
            proc.send_signal(signal.SIGTERM)
        for proc in procs:
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)
    return rows, claims


def test_two_consumers_publish_each_target_exactly_once(tmp_path, pg_database, redis_url, huey_queue):
    (tmp_path / "var").mkdir()
    env = _env(tmp_path, pg_database, redis_url, huey_queue)
    with FakeMastodon() as fake:
        fake.latency = 0.02  # calls overlap across threads and processes
        rows, claims = _run(tmp_path, env, fake, consumers=2, targets=TARGETS)
        posts = fake.requests_to("POST", "/api/v1/statuses")
        with fake.lock:
            statuses = [s for s in fake.statuses.values() if not s["deleted"]]
    # Exactly one request per target reached the network, and one status exists per target.
    assert len(posts) == TARGETS
    assert sorted(s["text"] for s in statuses) == sorted(f"Carrera {i}" for i in range(TARGETS))
    by_id = {s["id"]: s for s in statuses}
    assert len({r[1] for r in rows}) == TARGETS and all(by_id[r[1]]["text"] == r[3] for r in rows)
    assert all(r[2] == 1 for r in rows) and claims == TARGETS  # one claim each: the losers did nothing
    # Both consumers did part of the work.
    logs = [(tmp_path / f"consumer-{n}.log").read_text() for n in range(2)]
    assert all("publish_target" in log and "executed" in log for log in logs)


def test_one_worker_thread_sends_a_batch_at_once(tmp_path, pg_database, redis_url, huey_queue):
    """BATCH: a single consumer with a single worker thread still has several requests in
    flight (engine.claim_more), and still sends each target exactly once. With one thread and
    no batching, each POST would arrive at least ``latency`` after the previous one."""
    (tmp_path / "var").mkdir()
    env = {**_env(tmp_path, pg_database, redis_url, huey_queue), "HUEY_WORKERS": "1", "PUBLISH_BATCH": "4"}
    latency, targets = 0.4, 12
    with FakeMastodon() as fake:
        fake.latency = latency
        rows, claims = _run(tmp_path, env, fake, consumers=1, targets=targets, accounts=3)
        posts = fake.requests_to("POST", "/api/v1/statuses")
    assert len(posts) == targets and claims == targets and len({r[1] for r in rows}) == targets
    arrivals = sorted(p.at for p in posts)
    overlapping = sum(1 for a, b in zip(arrivals, arrivals[1:]) if b - a < latency / 2)
    assert overlapping >= targets // 2, [round(b - a, 3) for a, b in zip(arrivals, arrivals[1:])]
