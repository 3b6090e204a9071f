"""Operations endpoints (issue 10): /healthz, /readyz and the Prometheus /metrics.

Readiness is proved against real failures of the queue backend: a Redis port nobody listens on
(refused at once) and a server that accepts the connection and never answers (the check must
give up within its deadline, and a second probe must not start a second stuck check). The
metrics page is proved on real rows: its figures, its format, one SQL query per family, and
its guard (token, loopback, proxies) with hostile requests; no brand, account or person ever
appears in it.
"""

from __future__ import annotations

import json
import re
import socket
import time
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone
from huey import RedisHuey
from huey.contrib import djhuey

from tertulia.content.models import Post
from tertulia.core import health, metrics
from tertulia.core.services import Ctx
from tertulia.core.tests.web_helpers import XSS
from tertulia.inbox import services as inbox
from tertulia.inbox.models import Conversation, InboxSync
from tertulia.networks.services import do_add_account
from tertulia.publishing.models import PostTarget
from tertulia.reports.models import Report, ReportSchedule

pytestmark = pytest.mark.django_db

SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)$')
LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


def parse(text: str) -> dict[tuple, float]:
    """The exposition format, strictly: HELP and TYPE before each family's samples, no stray
    line. Returns {(name, (label pairs...)): value}."""
    samples: dict[tuple, float] = {}
    typed: set[str] = set()
    helped: set[str] = set()
    for line in text.splitlines():
        if line.startswith("# HELP "):
            helped.add(line.split(" ")[2])
            continue
        if line.startswith("# TYPE "):
            _hash, _kw, name, kind = line.split(" ")
            assert kind in ("gauge", "counter"), line
            assert name in helped, f"TYPE before HELP: {line}"
            typed.add(name)
            continue
        match = SAMPLE.match(line)
        assert match, f"not a sample line: {line!r}"
        name, _braces, inner, value = match.groups()
        assert name in typed, f"sample before its TYPE: {line}"
        labels = tuple(sorted(LABEL.findall(inner or "")))
        assert (name, labels) not in samples, f"duplicate series {line}"
        samples[(name, labels)] = float(value)
    return samples


def value(samples, name, **labels):
    return samples[(name, tuple(sorted(labels.items())))]


# --- Liveness and readiness ------------------------------------------------------------------

def test_healthz_does_no_io_and_is_never_cached(client, django_assert_num_queries):
    with django_assert_num_queries(0):
        response = client.get("/healthz")
    assert response.status_code == 200 and response.json() == {"status": "ok"}
    assert "no-store" in response["Cache-Control"]
    assert client.post("/healthz").status_code == 405


def test_readyz_checks_the_database_and_the_queue(client):
    response = client.get("/readyz")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["status"] == "ok" and set(body["checks"]) == {"database", "queue"}
    assert all(c["status"] == "ok" and isinstance(c["ms"], int) for c in body["checks"].values())
    assert "no-store" in response["Cache-Control"]
    assert client.post("/readyz").status_code == 405


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_readyz_is_503_when_the_queue_is_down_and_names_no_host(client, monkeypatch, settings):
    port = _closed_port()
    monkeypatch.setattr(djhuey, "HUEY", RedisHuey("ops-down", url=f"redis://:hunter2pass@127.0.0.1:{port}/3"))
    response = client.get("/readyz")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unavailable"
    assert body["checks"]["queue"]["status"] == "error" and body["checks"]["database"]["status"] == "ok"
    raw = response.content.decode()
    for secret in ("127.0.0.1", str(port), "hunter2pass", "redis", settings.DATABASES["default"]["NAME"]):
        assert secret not in raw
    # The metrics page still answers, with the queue marked down and its depth left out.
    samples = parse(Client().get("/metrics").content.decode())
    assert value(samples, "tertulia_queue_up") == 0
    assert not any(name == "tertulia_queue_pending_tasks" for name, _ in samples)


def test_a_hung_queue_times_out_and_is_not_piled_up(client, monkeypatch, settings):
    """A server that takes the connection and never answers: PING would wait forever."""
    settings.HEALTH_CHECK_TIMEOUT = 0.4
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(8)  # never accepted: the kernel completes the handshake, nobody replies
    port = silent.getsockname()[1]
    monkeypatch.setattr(djhuey, "HUEY", RedisHuey("ops-hung", url=f"redis://127.0.0.1:{port}/0"))
    try:
        started = time.monotonic()
        first = client.get("/readyz")
        took = time.monotonic() - started
        assert first.status_code == 503 and first.json()["checks"]["queue"]["status"] == "timeout"
        assert first.json()["checks"]["database"]["status"] == "ok"
        assert 0.35 < took < 10, took  # waited for the deadline, and not for PING
        stuck = health._running["queue"]
        assert not stuck.done()
        # A second probe while the first check still hangs: it waits for that check (a
        # concurrent probe gets its answer, not a false timeout), and starts no second one.
        second = client.get("/readyz")
        assert second.status_code == 503 and second.json()["checks"]["queue"] == {"status": "timeout", "ms": 400}
        assert health._running["queue"] is stuck
    finally:
        silent.close()  # the pending connection is reset: the stuck PING ends with an error
        with pytest.raises(Exception):  # noqa: B017 - whatever redis raises for a reset
            health._running["queue"].result(timeout=10)
    # Once it has ended, the next probe checks again (and finds the queue of the test run).
    monkeypatch.setattr(djhuey, "HUEY", RedisHuey("ops-back", url=f"redis://127.0.0.1:{port}/0"))
    assert client.get("/readyz").json()["checks"]["queue"]["status"] == "error"


def test_the_queue_check_reads_a_real_redis(redis_url):
    queue = RedisHuey(f"ops-check-{time.monotonic_ns()}", url=redis_url)
    health.check_queue(queue)  # PING answered
    results = health.run_checks({"queue": lambda: health.check_queue(queue)}, timeout=5)
    assert [r.status for r in results] == ["ok"]


def test_the_queue_check_reads_a_sqlite_queue_file(tmp_path):
    from huey import SqliteHuey

    queue = SqliteHuey("ops", filename=str(tmp_path / "huey.sqlite3"))
    assert [r.status for r in health.run_checks({"queue": lambda: health.check_queue(queue)}, timeout=5)] == ["ok"]
    (tmp_path / "huey.sqlite3").write_bytes(b"this is not a database" * 100)
    assert [r.status for r in health.run_checks({"queue": lambda: health.check_queue(queue)}, timeout=5)] == ["error"]


# --- Metrics: the guard ----------------------------------------------------------------------

@pytest.mark.parametrize("remote, headers, expected", [
    ("127.0.0.1", {}, 200),
    ("127.0.0.5", {}, 200),
    ("::1", {}, 200),
    ("::ffff:127.0.0.1", {}, 200),
    ("10.0.0.5", {}, 403),
    ("203.0.113.9", {}, 403),
    ("", {}, 403),
    ("not-an-ip", {}, 403),
    # Loopback, but through a reverse proxy on this machine: the visitor is somewhere else.
    ("127.0.0.1", {"HTTP_X_FORWARDED_FOR": "203.0.113.9"}, 403),
    ("127.0.0.1", {"HTTP_X_FORWARDED_FOR": "127.0.0.1"}, 403),
    ("127.0.0.1", {"HTTP_FORWARDED": "for=203.0.113.9"}, 403),
    ("127.0.0.1", {"HTTP_X_REAL_IP": "203.0.113.9"}, 403),
    # A bearer token means nothing while none is configured.
    ("203.0.113.9", {"HTTP_AUTHORIZATION": "Bearer "}, 403),
])
def test_without_a_token_only_direct_loopback_reads_metrics(settings, remote, headers, expected):
    settings.METRICS_TOKEN = ""
    response = Client(REMOTE_ADDR=remote).get("/metrics", **headers)
    assert response.status_code == expected
    if expected != 200:
        assert b"tertulia_" not in response.content


TOKEN = "m3trics-" + "t" * 40


@pytest.mark.parametrize("remote, authorization, expected", [
    ("203.0.113.9", f"Bearer {TOKEN}", 200),
    ("203.0.113.9", f"bearer {TOKEN}", 200),
    ("127.0.0.1", f"Bearer {TOKEN}", 200),
    ("127.0.0.1", None, 401),  # with a token configured, loopback needs it too
    ("203.0.113.9", None, 401),
    ("203.0.113.9", "Bearer", 401),
    ("203.0.113.9", "Bearer ", 401),
    ("203.0.113.9", f"Basic {TOKEN}", 401),
    ("203.0.113.9", f"Token {TOKEN}", 401),
    ("203.0.113.9", "Bearer wrong", 403),
    ("203.0.113.9", f"Bearer {TOKEN}x", 403),
    ("203.0.113.9", f"Bearer {TOKEN[:-1]}", 403),
    ("203.0.113.9", f"Bearer {TOKEN.upper()}", 403),
    ("203.0.113.9", "Bearer " + "x" * 10000, 403),
    ("203.0.113.9", "Bearer ñandú", 403),
])
def test_with_a_token_metrics_need_it(settings, remote, authorization, expected):
    settings.METRICS_TOKEN = TOKEN
    headers = {"HTTP_AUTHORIZATION": authorization} if authorization is not None else {}
    response = Client(REMOTE_ADDR=remote).get("/metrics", **headers)
    assert response.status_code == expected
    if expected == 200:
        assert response["Content-Type"] == "text/plain; version=0.0.4; charset=utf-8"
        assert "no-store" in response["Cache-Control"]
    else:
        assert b"tertulia_" not in response.content and TOKEN.encode() not in response.content
    if expected == 401:
        assert response["WWW-Authenticate"].startswith("Bearer")


def test_metrics_refuse_writes(settings):
    settings.METRICS_TOKEN = TOKEN
    response = Client().post("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
    assert response.status_code == 405


# --- Metrics: the figures --------------------------------------------------------------------

@pytest.fixture
def busy(brand_a, brand_b):
    """Two tenants with work in every state the metrics count."""
    now = timezone.now()
    brand, people = brand_a
    other, other_people = brand_b
    for b in (brand, other):
        b.name = f"{b.name} {XSS} \"quoted\"\nline"
        b.save(update_fields=["name"])
    owner = people["owner"]
    masto = do_add_account(Ctx(owner), brand, network="mastodon", handle="@secret_handle@masto.example")
    bsky = do_add_account(Ctx(other_people["owner"]), other, network="bluesky", handle="hidden-handle.bsky.social")
    S = PostTarget.State

    def target(account, state, due=None, **extra):
        post = Post.objects.create(brand=account.brand, author=owner, text=f"Private text {XSS}",
                                   state=Post.State.SCHEDULED, scheduled_at=due)
        return PostTarget.objects.create(brand=account.brand, post=post, account=account, state=state, due_at=due,
                                         **extra)

    target(masto, S.PUBLISHED, now - timedelta(hours=2), published_at=now - timedelta(hours=2))
    target(masto, S.PUBLISHED, now - timedelta(hours=1), published_at=now - timedelta(hours=1))
    target(bsky, S.FAILED, now - timedelta(hours=1))
    target(masto, S.SCHEDULED, now - timedelta(minutes=10))  # due and not sent: the publish lag
    target(bsky, S.SCHEDULED, now + timedelta(hours=1))  # not due yet
    # An inbox account 2 minutes overdue for its poll; the other one not due.
    InboxSync.objects.update_or_create(account=masto, defaults={"next_poll_at": now - timedelta(seconds=120),
                                                                "lease_until": None})
    InboxSync.objects.update_or_create(account=bsky, defaults={"next_poll_at": now + timedelta(minutes=5)})
    # One conversation late for its first answer, one late for its resolution, one in time.
    fan = inbox.IncomingAuthor(external_id="fan-1", handle="@secret_fan", display_name="Secret Fan")
    inbox.ingest_interactions(masto, [inbox.IncomingInteraction(
        external_id=f"c{i}", kind="comment", author=inbox.IncomingAuthor(external_id=f"fan-{i}", handle=f"@fan{i}"),
        text="hola?", created_at=now - timedelta(hours=1), root_external_id=f"post-{i}") for i in range(3)]
        + [inbox.IncomingInteraction(external_id="c9", kind="comment", author=fan, text="x", created_at=now,
                                     root_external_id="post-9")])
    convs = list(Conversation.objects.filter(brand=brand).order_by("pk"))
    Conversation.objects.filter(pk=convs[0].pk).update(status=Conversation.Status.OPEN, first_response_at=None,
                                                       first_response_due_at=now - timedelta(minutes=5),
                                                       resolution_due_at=now + timedelta(hours=5))
    Conversation.objects.filter(pk=convs[1].pk).update(status=Conversation.Status.PENDING,
                                                       first_response_at=now - timedelta(minutes=50),
                                                       first_response_due_at=now - timedelta(minutes=40),
                                                       resolution_due_at=now - timedelta(minutes=1))
    Conversation.objects.filter(pk__in=[c.pk for c in convs[2:]]).update(
        status=Conversation.Status.OPEN, first_response_at=None, first_response_due_at=now + timedelta(hours=1),
        resolution_due_at=now + timedelta(hours=8))
    # A scheduled report overdue by a minute, one e-mail failing (to retry), one given up.
    schedule = ReportSchedule.objects.create(brand=brand, recipients=["boss@example.com"],
                                             next_run_at=now - timedelta(seconds=60))
    error = [{"msgid": "The e-mail could not be sent: %(error)s", "params": {"error": "smtp.secret.example"}}]
    for attempts in (1, 5):
        Report.objects.create(brand=brand, kind="weekly", title="Secret report", period_start=now.date(),
                              period_end=now.date(), language="es", schedule=schedule, recipients=["a@example.com"],
                              send_attempts=attempts, send_error=error)
    Report.objects.create(brand=brand, kind="weekly", title="Sent", period_start=now.date(), period_end=now.date(),
                          language="es", schedule=schedule, recipients=["a@example.com"], send_attempts=1,
                          sent_at=now)
    return brand, other, people


def test_metrics_count_the_real_rows(busy, client):
    brand, other, people = busy
    response = client.get("/metrics")
    assert response.status_code == 200
    text = response.content.decode()
    samples = parse(text)
    assert value(samples, "tertulia_queue_up") == 1
    assert value(samples, "tertulia_queue_pending_tasks") >= 0
    assert value(samples, "tertulia_publish_targets", network="mastodon", state="published") == 2
    assert value(samples, "tertulia_publish_targets", network="mastodon", state="failed") == 0
    assert value(samples, "tertulia_publish_targets", network="mastodon", state="scheduled") == 1
    assert value(samples, "tertulia_publish_targets", network="bluesky", state="failed") == 1
    assert value(samples, "tertulia_publish_targets", network="bluesky", state="published") == 0
    assert value(samples, "tertulia_publish_targets", network="bluesky", state="scheduled") == 1
    assert 600 <= value(samples, "tertulia_publish_lag_seconds") < 700
    assert 120 <= value(samples, "tertulia_poll_lag_seconds", kind="inbox") < 200
    assert 60 <= value(samples, "tertulia_poll_lag_seconds", kind="reports") < 140
    assert value(samples, "tertulia_poll_lag_seconds", kind="metrics") >= 0
    assert value(samples, "tertulia_poll_lag_seconds", kind="listening") == 0
    assert value(samples, "tertulia_sla_breached_conversations", target="first_response") == 1
    assert value(samples, "tertulia_sla_breached_conversations", target="resolution") == 1
    assert value(samples, "tertulia_report_deliveries_failed", final="false") == 1
    assert value(samples, "tertulia_report_deliveries_failed", final="true") == 1
    # Aggregates only: nothing that names a tenant, an account, a person or their words.
    for secret in ("Alpha", "Beta", "secret_handle", "hidden-handle", "Secret Fan", "secret_fan", "Private text",
                   "Secret report", "smtp.secret", "boss@example.com", people["owner"].username, "<script"):
        assert secret not in text, secret
    labels = {key for (_name, pairs) in samples for key, _v in pairs}
    assert labels <= {"network", "state", "kind", "target", "final"}


def test_one_query_per_family(busy, django_assert_num_queries):
    # Targets, publish lag, poll lag (one UNION ALL), SLA, report e-mails. The queue is Huey's.
    with django_assert_num_queries(5):
        metrics.exposition()


def test_the_lag_is_zero_once_the_work_is_taken(busy, client):
    now = timezone.now()
    InboxSync.objects.update(lease_until=now + timedelta(minutes=5))  # a consumer holds it
    PostTarget.objects.filter(state=PostTarget.State.SCHEDULED).update(state=PostTarget.State.PUBLISHING)
    ReportSchedule.objects.update(next_run_at=now + timedelta(days=7))
    samples = parse(client.get("/metrics").content.decode())
    assert value(samples, "tertulia_publish_lag_seconds") == 0
    assert value(samples, "tertulia_poll_lag_seconds", kind="inbox") == 0
    assert value(samples, "tertulia_poll_lag_seconds", kind="reports") == 0
    assert value(samples, "tertulia_publish_targets", network="mastodon", state="publishing") == 1


# --- The exposition format itself (no database) ------------------------------------------------

@pytest.mark.parametrize("raw, escaped", [
    ("plain", "plain"),
    ('say "hi"', 'say \\"hi\\"'),
    ("back\\slash", "back\\\\slash"),
    ("two\nlines", "two\\nlines"),
    ('\\"\n', '\\\\\\"\\n'),
    ("ñandú 🦤", "ñandú 🦤"),
])
def test_label_values_are_escaped(raw, escaped):
    assert metrics.escape_label(raw) == escaped
    line = metrics.Family("x_total", "counter", "help\nwith \\ newline").add(3, network=raw).render()
    assert line == f'# HELP x_total help\\nwith \\\\ newline\n# TYPE x_total counter\nx_total{{network="{escaped}"}} 3\n'
    parsed = parse(line)
    assert list(parsed.values()) == [3.0]


@pytest.mark.parametrize("number, text", [(0, "0"), (7, "7"), (1.5, "1.5"), (float("nan"), "NaN"),
                                          (float("inf"), "+Inf"), (float("-inf"), "-Inf"), (True, "1")])
def test_values_are_formatted(number, text):
    assert metrics.format_value(number) == text


def test_readyz_body_is_json_with_only_names_and_statuses(client):
    body = json.loads(client.get("/readyz").content)
    assert set(body) == {"status", "checks"}
    assert all(set(check) == {"status", "ms"} for check in body["checks"].values())


def test_probes_are_not_redirected_to_https(client, settings):
    """Production redirects plain HTTP to HTTPS; a load balancer's probe and an internal scraper
    talk plain HTTP to the web process itself, so the three ops routes are exempt."""
    settings.SECURE_SSL_REDIRECT = True
    assert client.get("/healthz").status_code == 200
    assert client.get("/readyz").status_code == 200
    assert client.get("/metrics").status_code == 200
    assert client.get("/login/").status_code == 301
    assert client.get("/healthz/x").status_code == 301  # exact paths only


def test_behind_a_proxy_only_a_token_opens_the_metrics(client, settings):
    """A same-host proxy makes every visitor loopback, with no forwarding header."""
    settings.METRICS_TOKEN = ""
    settings.BEHIND_PROXY = True
    assert client.get("/metrics", REMOTE_ADDR="127.0.0.1").status_code == 403
    settings.METRICS_TOKEN = "s3cret-metrics-token"
    assert client.get("/metrics", REMOTE_ADDR="127.0.0.1", HTTP_AUTHORIZATION="Bearer s3cret-metrics-token"
                      ).status_code == 200
