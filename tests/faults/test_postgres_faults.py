"""Scale-out faults on PostgreSQL + Redis (issue 10, "Faults to survive"; DESIGN.md §3).

Real ``manage.py run_huey`` consumers publish to the loopback fake Mastodon (in this process),
with their database on a *private* PostgreSQL cluster and Huey on a *private* Redis server,
both started here in temporary directories on free ports, so a test may restart them without
touching the servers other tests use.

- PostgreSQL restarted (``pg_ctl restart -m fast``: every connection cut) in the middle of a
  burst of 50 targets: each one ends published, exactly one POST per target.
- Redis restarted (no persistence: every queued task lost) in the middle of a burst: the
  sweeper re-queues from the database (the truth), each target published exactly once.
- Clock skew: a consumer whose clock runs 2 minutes ahead runs the task of a post due in 10 s
  at once (Huey's ETA is its own clock), but the claim compares with the database's clock: the
  post goes out when it is due, not before.

The private servers need Debian's ``postgresql`` (initdb, pg_ctl) and ``redis-server``; as root,
the cluster runs as the ``postgres`` user. Budget: one cluster and one migrated schema for the
module; each test copies it as a template.
"""

from __future__ import annotations

import json
import os
import shutil
import time
import uuid

import pytest

from tests.fakes.mastodon import FakeMastodon

from . import harness as h

TARGETS = 50

BURST = r'''
import json, os
import django
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
owner = User.objects.create_user(username="burst_owner", password="correct horse battery",
                                 email="owner@example.com", language="en")
ctx = Ctx(owner, via="test")
brand = core.do_create_brand(ctx, core.do_create_organization(ctx, "Burst Agency"), name="Burst",
                             timezone="Europe/Madrid", language="es")
accounts = [do_add_account(ctx, brand, network="mastodon", handle="@" + a["username"], access_token=a["token"],
                           base_url=cfg["base_url"], external_id=a["id"]) for a in cfg["accounts"]]
# Approved and scheduled in bulk (the services are tested elsewhere; the subject is the fault).
due = timezone.now() + timedelta(seconds=cfg["delay"])
posts = Post.objects.bulk_create([Post(brand=brand, author=owner, text=f"Ráfaga {i}", state=Post.State.SCHEDULED,
                                       scheduled_at=due) for i in range(cfg["targets"])])
targets = PostTarget.objects.bulk_create([
    PostTarget(brand=brand, post=post, account=accounts[i % len(accounts)], state=PostTarget.State.SCHEDULED,
               due_at=due) for i, post in enumerate(posts)])
for target in targets:
    tasks.publish_target.schedule(args=(target.pk, target.version), delay=cfg["delay"])
print(json.dumps([t.pk for t in targets]))
'''

SCHEDULE_ONE = r'''
import json
import django
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
from tertulia.publishing.clock import db_now
cfg = json.loads(CFG)
owner = User.objects.create_user(username="skew_owner", password="correct horse battery",
                                 email="owner@example.com", language="en")
ctx = Ctx(owner, via="test")
brand = core.do_create_brand(ctx, core.do_create_organization(ctx, "Skew Agency"), name="Skew",
                             timezone="Europe/Madrid", language="es")
account = do_add_account(ctx, brand, network="mastodon", handle="@john", access_token=cfg["token"],
                         base_url=cfg["base_url"])
post = do_create_post(ctx, brand, text="Ni un segundo antes", accounts=[account], submit=True)
do_mark_approved(ctx, post)
target = post.targets.get()
due = db_now() + timedelta(seconds=cfg["delay"])
services.do_schedule(ctx, target, due_at=due)
print(json.dumps({"id": target.pk, "due": due.timestamp()}))
'''

SWEEP = ("import django; django.setup(); import json; from tertulia.publishing.tasks import sweep_once; "
         "print(json.dumps(sweep_once(grace=0)))")


def _have_servers() -> str:
    if h.pg_bin() is None:
        return "PostgreSQL server binaries (initdb, pg_ctl) are not installed"
    if shutil.which("redis-server") is None:
        return "redis-server is not installed"
    try:
        import psycopg  # noqa: F401
    except ImportError:
        return "psycopg is not installed"
    return ""


@pytest.fixture(scope="module")
def servers(tmp_path_factory):
    """A private cluster with a template database holding the schema, and a private Redis."""
    missing = _have_servers()
    if missing:
        pytest.skip(missing)
    cluster, redis_server = h.PrivateCluster(), h.PrivateRedis()
    try:
        cluster.start()
        import psycopg

        with psycopg.connect(cluster.url("postgres"), autocommit=True) as conn:
            conn.execute("CREATE DATABASE faults_template")
        tmp = tmp_path_factory.mktemp("pg-template")
        env = h.consumer_env(tmp, database_url=cluster.url("faults_template"), queue="template")
        h.manage(env, "migrate", "--noinput", timeout=300)  # the real migrations: they add triggers
        redis_server.start()
        yield cluster, redis_server
    finally:
        redis_server.stop()
        cluster.stop()


@pytest.fixture
def world(tmp_path, servers):
    """A database of this test's own (a copy of the template), a Huey queue name of its own,
    the fake Mastodon, and the consumers (stopped in ``finally``)."""
    import psycopg

    cluster, redis_server = servers
    name = f"faults_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(cluster.url("postgres"), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}" TEMPLATE faults_template')
    env = h.consumer_env(tmp_path, database_url=cluster.url(name), queue=f"faults-{name}",
                         redis_url=redis_server.url, PUBLISH_LEASE_SECONDS="4", DB_CONN_MAX_AGE="60")
    consumers = h.Consumers(tmp_path, env)
    try:
        with FakeMastodon() as fake:
            yield env, fake, consumers, cluster, redis_server
    finally:
        consumers.stop_all()


def _states(db_url: str) -> dict[str, int]:
    import psycopg

    for _ in range(50):  # the cluster may be restarting
        try:
            with psycopg.connect(db_url, connect_timeout=3) as conn:
                return dict(conn.execute("SELECT state, count(*) FROM publishing_posttarget GROUP BY state")
                            .fetchall())
        except psycopg.OperationalError:
            time.sleep(0.2)
    raise AssertionError("the database did not come back")


def _burst(env, fake, consumers, *, accounts: int = 2) -> list[int]:
    people = []
    for n in range(accounts):
        person = fake.add_account(f"burst{n}")
        people.append({"username": f"burst{n}", "id": person["id"], "token": fake.issue_token(person["id"])})
    for _ in range(2):
        consumers.start()
    cfg = {"base_url": fake.base_url, "accounts": people, "targets": TARGETS, "delay": 1}
    ids = json.loads(h.shell(env, BURST.replace("CFG", repr(json.dumps(cfg)))))
    assert len(ids) == TARGETS
    return ids


def _until_all_published(env, fake, consumers) -> None:
    """Wait until every target is published, running the sweeper (as each consumer does every
    minute) whenever progress stalls: it re-queues what is due and reconciles expired leases."""
    deadline = time.monotonic() + 150
    last, stalled_since = None, time.monotonic()
    while (states := _states(env["DATABASE_URL"])) != {"published": TARGETS}:
        assert time.monotonic() < deadline, (states, consumers.log(0, 3000), consumers.log(1, 3000))
        assert all(p.poll() is None for p in consumers.procs), ("a consumer died", consumers.log(0, 3000))
        if states != last:
            last, stalled_since = states, time.monotonic()
        elif time.monotonic() - stalled_since > 3:
            h.shell(env, SWEEP)
            stalled_since = time.monotonic()
        time.sleep(0.3)


def _assert_each_published_once(env, fake) -> None:
    import psycopg

    posts = fake.requests_to("POST", "/api/v1/statuses")
    with fake.lock:
        statuses = [s for s in fake.statuses.values() if not s["deleted"] and s["text"].startswith("Ráfaga")]
    with psycopg.connect(env["DATABASE_URL"]) as conn:
        rows = conn.execute("SELECT t.external_id, p.text FROM publishing_posttarget t "
                            "JOIN content_post p ON p.id = t.post_id").fetchall()
    # Nothing lost: one status per target, with its text; nothing duplicated: one POST each.
    assert sorted(s["text"] for s in statuses) == sorted(f"Ráfaga {i}" for i in range(TARGETS))
    assert len(posts) == TARGETS, len(posts)
    by_id = {s["id"]: s["text"] for s in statuses}
    assert len({r[0] for r in rows}) == TARGETS and all(by_id[ext] == text for ext, text in rows)


def test_postgresql_restarted_during_a_publishing_burst(world):
    env, fake, consumers, cluster, _redis = world
    env.update(HUEY_WORKERS="1", PUBLISH_BATCH="2")
    fake.latency = 0.4  # 2 consumers x 2 in flight: the burst lasts several seconds
    _burst(env, fake, consumers)
    h.wait_for(lambda: len(fake.requests_to("POST", "/api/v1/statuses")) >= 8, 90,
               lambda: (_states(env["DATABASE_URL"]), consumers.log(0, 3000)))
    cluster.restart()  # every connection is cut, some in the middle of a claim or a result
    sent_before = len(fake.requests_to("POST", "/api/v1/statuses"))
    assert sent_before < TARGETS, "the burst ended before the restart: the test proves nothing"
    _until_all_published(env, fake, consumers)
    _assert_each_published_once(env, fake)
    # The consumers lived through it: each reconnected and kept working.
    assert all(p.poll() is None for p in consumers.procs)


def test_redis_restarted_during_a_publishing_burst(world):
    env, fake, consumers, _cluster, redis_server = world
    env.update(HUEY_WORKERS="1", PUBLISH_BATCH="1")
    fake.latency = 0.4
    _burst(env, fake, consumers)
    h.wait_for(lambda: len(fake.requests_to("POST", "/api/v1/statuses")) >= 6, 90,
               lambda: (_states(env["DATABASE_URL"]), consumers.log(0, 3000)))
    redis_server.restart()  # no persistence: every queued task is gone
    import redis

    # The server came back empty: it loaded no key from before. (Not ``dbsize() == 0``: the
    # consumers reconnect at once and may already have written a key of their own.)
    assert redis.Redis.from_url(redis_server.url).info("persistence")["rdb_last_load_keys_loaded"] == 0
    assert len(fake.requests_to("POST", "/api/v1/statuses")) < TARGETS
    _until_all_published(env, fake, consumers)
    _assert_each_published_once(env, fake)


def test_a_consumer_with_its_clock_two_minutes_ahead_does_not_publish_early(world):
    env, fake, consumers, _cluster, _redis = world
    consumer = consumers.start(FAULT_CLOCK_OFFSET="120", HUEY_WORKERS="1")
    h.wait_for(lambda: "Huey consumer started" in consumers.log(0) or consumer.poll() is not None, 60,
               lambda: consumers.log(0, 3000))
    assert consumer.poll() is None, consumers.log(0, 3000)
    delay = 12
    out = json.loads(h.shell(env, SCHEDULE_ONE.replace("CFG", repr(json.dumps(
        {"token": fake.token, "base_url": fake.base_url, "delay": delay})))))
    executions = lambda: consumers.log(0).count("Executing tertulia.publishing.tasks.publish_target")  # noqa: E731
    # For the skewed consumer the task is 110 s late: it runs it at once...
    h.wait_for(lambda: executions() >= 1, 60, lambda: consumers.log(0, 3000))
    posts = fake.requests_to("POST", "/api/v1/statuses")
    assert not posts and time.time() < out["due"], "it published before the post was due"
    assert _states(env["DATABASE_URL"]) == {"scheduled": 1}
    # ...and the claim, which compares with the database's clock, sends it when it is due.
    h.wait_for(lambda: _states(env["DATABASE_URL"]) == {"published": 1}, 90, lambda: consumers.log(0, 3000))
    (post,) = fake.requests_to("POST", "/api/v1/statuses")
    assert post.at >= out["due"] - 0.05, (post.at, out["due"])  # same machine: one wall clock
    assert executions() >= 2  # the early run did nothing but re-queue itself
    assert os.environ.get("FAULT_CLOCK_OFFSET") is None  # only the consumer's clock was skewed
