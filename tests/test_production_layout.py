"""The production layout of the README's "Scale out", for real (issue 10).

PostgreSQL, Huey on Redis (a queue name of its own, flushed), **two gunicorn web processes** (``-w 2``) on a free loopback port and **two
``run_huey`` consumers**, every one a separate OS process configured only through the
environment, as on a server: no DEBUG, no test mode, real keys, ``METRICS_TOKEN`` set, static
files served by WhiteNoise (``tests/layout_settings.py``). Then, over real HTTP like any client:

1. ``/healthz`` and ``/readyz`` answer 200 (the database and the Redis queue checked);
2. ``/metrics`` needs the token and lists the families;
3. a person signs in through the login form (CSRF), creates an API token on their tokens page,
   connects a Mastodon account (the loopback fake, in this process), writes, submits and approves
   a post and gives it a time a second ahead, all through the API;
4. a consumer publishes it: the fake receives exactly one POST, the API shows the target
   published, and ``/metrics`` counts it.

The database is pytest-django's own PostgreSQL test database (already migrated), used with
``transaction=True`` as in ``tertulia/core/tests/test_queue.py``: the owner written here and the
rows the processes write are really committed, and pytest-django empties the tables afterwards
(every process is stopped first). So it runs in CI's PostgreSQL pass; the SQLite pass leaves it
out (POSTGRESQL_ONLY in conftest.py), and a machine without PostgreSQL and Redis skips it.
"""

from __future__ import annotations

import re
import signal
import socket
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest

from tertulia.core.management.commands.run import _no_control_socket
from tertulia.publishing.tests.test_concurrent_consumers import _env, huey_queue  # noqa: F401
from tests.fakes.mastodon import FakeMastodon

BASE_DIR = Path(__file__).resolve().parents[1]
PASSWORD = "layout-password-" + "p" * 12
METRICS_TOKEN = "layout-metrics-" + "m" * 32


def _database_url() -> str:
    """pytest-django's PostgreSQL test database, as a DATABASE_URL for the processes."""
    from django.db import connection

    if connection.vendor != "postgresql":
        pytest.skip("the production layout runs on PostgreSQL (CI's PostgreSQL pass)")
    s = connection.settings_dict
    assert s["NAME"].startswith("test_"), "never point the processes at a real database"
    return (f"postgres://{quote(s['USER'], safe='')}:{quote(s['PASSWORD'] or '', safe='')}"
            f"@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{s['NAME']}")


def _listening_socket() -> socket.socket:
    """A bound, listening socket on a free loopback port, handed to gunicorn by file descriptor:
    no window in which another process could take the port."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(64)
    sock.set_inheritable(True)
    return sock


def _wait(what, predicate, procs, logs, timeout=60.0, every=0.1):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        for proc, log in zip(procs, logs):
            assert proc.poll() is None, f"{what}: a process died:\n{Path(log).read_text()[-3000:]}"
        assert time.monotonic() < deadline, f"{what}: not after {timeout}s\n" + "\n".join(
            Path(log).read_text()[-1500:] for log in logs)
        time.sleep(every)


def _metric(text: str, name: str, **labels) -> float | None:
    inner = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
    pattern = "^" + re.escape(f"{name}{{{inner}}}" if labels else name) + r" (\S+)$"
    found = re.search(pattern, text, re.MULTILINE)
    return float(found.group(1)) if found else None


@pytest.mark.django_db(transaction=True)
def test_two_web_processes_and_two_consumers_publish_once(tmp_path, redis_url, huey_queue):  # noqa: F811
    from django.contrib.auth.hashers import make_password

    from tertulia.core import services as core
    from tertulia.core.models import User
    from tertulia.core.services import Ctx

    database_url = _database_url()
    (tmp_path / "var").mkdir()
    sock = _listening_socket()
    port = sock.getsockname()[1]
    base = f"http://127.0.0.1:{port}"
    env = _env(tmp_path, database_url, redis_url, huey_queue)
    env.update({"HUEY_WORKERS": "2", "TERTULIA_INSECURE_HTTP": "1", "ALLOWED_HOSTS": "127.0.0.1",
                "SITE_URL": base, "CSRF_TRUSTED_ORIGINS": base, "METRICS_TOKEN": METRICS_TOKEN,
                "LOG_LEVEL": "WARNING", "DJANGO_SETTINGS_MODULE": "tests.layout_settings"})
    python = sys.executable
    started = time.monotonic()
    commands = [
        # --preload: the app is imported once by the master, and its two workers are forked from it.
        [python, "-m", "gunicorn", "tertulia.wsgi:application", "--bind", f"fd://{sock.fileno()}", "--preload",
         "--workers", "2", "--threads", "2", "--graceful-timeout", "5", "--timeout", "60", *_no_control_socket()],
        [python, "manage.py", "run_huey"],
        [python, "manage.py", "run_huey"],
    ]
    procs, logs, clients = [], [], []
    with FakeMastodon() as fake:
        person = fake.add_account("layout")
        token_for_fake = fake.issue_token(person["id"])
        try:
            for n, argv in enumerate(commands):
                log = tmp_path / f"process-{n}.log"
                with open(log, "w") as out:
                    procs.append(subprocess.Popen(argv, cwd=BASE_DIR, env=env, stdout=out, stderr=subprocess.STDOUT,
                                                  pass_fds=(sock.fileno(),) if n == 0 else ()))
                logs.append(log)
            sock.close()  # gunicorn holds its own copy
            # The agency's owner (committed: transaction=True), while the processes start.
            # (Hashed with argon2, the production hasher: the tests' fast MD5 is unknown to the processes.)
            owner = User.objects.create_user(username="layout_owner", email="owner@example.com", language="en")
            owner.password = make_password(PASSWORD, hasher="argon2")
            owner.save(update_fields=["password"])
            ctx = Ctx(owner, via="test")
            brand_id = core.do_create_brand(ctx, core.do_create_organization(ctx, "Layout Agency"),
                                            name="Layout Brand", timezone="Europe/Madrid", language="es").pk
            prepared = time.monotonic()
            web = httpx.Client(base_url=base, timeout=15.0)
            clients.append(web)

            def ready():
                try:
                    return web.get("/readyz").status_code == 200
                except httpx.TransportError:
                    return False

            _wait("readyz", ready, procs, logs, timeout=120)
            serving = time.monotonic()
            print(f"owner created: {prepared - started:.1f}s, all serving: {serving - started:.1f}s", flush=True)
            assert web.get("/healthz").json() == {"status": "ok"}
            checks = web.get("/readyz").json()["checks"]
            assert {k: v["status"] for k, v in checks.items()} == {"database": "ok", "queue": "ok"}
            # Metrics: the token is required, even from this machine.
            assert web.get("/metrics").status_code == 401
            assert web.get("/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 403
            scrape = {"Authorization": f"Bearer {METRICS_TOKEN}"}
            text = web.get("/metrics", headers=scrape).text
            for family in ("tertulia_queue_up", "tertulia_queue_pending_tasks", "tertulia_queue_scheduled_tasks",
                           "tertulia_publish_targets", "tertulia_publish_lag_seconds", "tertulia_poll_lag_seconds",
                           "tertulia_sla_breached_conversations", "tertulia_report_deliveries_failed"):
                assert f"# TYPE {family} gauge" in text, family
            assert _metric(text, "tertulia_queue_up") == 1

            # Sign in through the form, with its CSRF token.
            page = web.get("/login/")
            csrf = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text).group(1)
            signed_in = web.post("/login/", data={"username": "layout_owner", "password": PASSWORD,
                                                  "csrfmiddlewaretoken": csrf})
            assert signed_in.status_code == 302, signed_in.text[:500]
            # An API token made on the tokens page.
            page = web.get("/me/tokens/")
            csrf = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text).group(1)
            made = web.post("/me/tokens/", data={"name": "layout", f"brand_{brand_id}": "write",
                                                 "csrfmiddlewaretoken": csrf})
            raw = re.search(r"\btta_[A-Za-z0-9_\-]+", made.text).group(0)
            api = httpx.Client(base_url=f"{base}/api/v1", timeout=15.0, headers={"Authorization": f"Bearer {raw}"})
            clients.append(api)
            account = api.post(f"/brands/{brand_id}/accounts", json={
                "network": "mastodon", "handle": "@layout", "access_token": token_for_fake,
                "base_url": fake.base_url, "external_id": person["id"]})
            assert account.status_code == 201, account.text
            post = api.post(f"/brands/{brand_id}/posts", json={
                "text": "Publicado por la disposición de producción", "account_ids": [account.json()["id"]]})
            assert post.status_code == 201, post.text
            post_id = post.json()["id"]
            submitted = api.post(f"/brands/{brand_id}/posts/{post_id}/submit", json={})
            assert submitted.status_code == 200 and submitted.json()["state"] == "pending_approval", submitted.text
            approved = api.post(f"/brands/{brand_id}/posts/{post_id}/approve",
                                json={"version": submitted.json()["version"]})
            assert approved.status_code == 200 and approved.json()["state"] == "approved", approved.text
            # An approved post that gets a time is scheduled: its task is queued (on Redis, with
            # an ETA) by the web process, after its transaction commits.
            due = datetime.now(timezone.utc) + timedelta(seconds=1)
            timed = api.patch(f"/brands/{brand_id}/posts/{post_id}", json={
                "scheduled_at": due.isoformat(), "version": approved.json()["version"]})
            assert timed.status_code == 200 and timed.json()["state"] == "scheduled", timed.text

            def published():
                targets = api.get(f"/brands/{brand_id}/targets").json()
                items = targets["items"] if isinstance(targets, dict) else targets
                return items if items and all(t["state"] == "published" for t in items) else None

            (target,) = _wait("published", published, procs, logs, timeout=120, every=0.2)
            done = time.monotonic()
            assert datetime.fromisoformat(target["published_at"].replace("Z", "+00:00")) >= due - timedelta(seconds=1)
            posts = fake.requests_to("POST", "/api/v1/statuses")
            assert len(posts) == 1, posts
            with fake.lock:
                (status,) = [s for s in fake.statuses.values() if s["account_id"] == person["id"]]
            assert status["text"] == "Publicado por la disposición de producción"
            assert target["external_id"] == status["id"]
            text = web.get("/metrics", headers=scrape).text
            assert _metric(text, "tertulia_publish_targets", network="mastodon", state="published") == 1
            assert _metric(text, "tertulia_publish_targets", network="mastodon", state="failed") == 0
            assert _metric(text, "tertulia_publish_lag_seconds") == 0
            assert "Layout" not in text and "layout" not in text
            # Two web worker processes were booted, and all three processes are still running.
            assert Path(logs[0]).read_text().count("Booting worker") == 2
            assert all(p.poll() is None for p in procs)
        finally:
            for client in clients:
                client.close()  # no idle keep-alive connection for gunicorn's graceful stop to wait on
            # Gunicorn: SIGTERM (graceful); Huey: SIGINT (running tasks finish, nothing new starts).
            for proc, sig in zip(procs, (signal.SIGTERM, signal.SIGINT, signal.SIGINT)):
                if proc.poll() is None:
                    proc.send_signal(sig)
            for proc in procs:
                try:
                    proc.wait(15)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait(5)
    print({"setup": round(prepared - started, 1), "serving": round(serving - prepared, 1),
           "published": round(done - serving, 1)})
    # Nothing published twice after the stop either.
    assert len(fake.requests_to("POST", "/api/v1/statuses")) == 1
