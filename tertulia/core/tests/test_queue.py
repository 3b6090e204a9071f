"""Huey for real: a task queued by a service is run by a separate `run_huey` consumer process,
which delivers the e-mail to a real SMTP server. Once with SqliteHuey (the embedded mode) and
once with RedisHuey (scale-out).

How the processes share the data (the tricky part with pytest-django):

* The pytest process cannot be the producer. Its Huey was built at import time in immediate
  mode (tests run tasks inline), and on SQLite its test database lives in memory, invisible to
  any other process. Reconfiguring those objects in place would test a set-up that never
  exists in production.
* So both the producer and the consumer are child processes, configured only through the
  environment, exactly like a deployment: `DATABASE_URL`, `HUEY_IMMEDIATE=0`, `HUEY_NAME`,
  `HUEY_SQLITE_FILE` or `REDIS_URL`, `EMAIL_HOST`/`EMAIL_PORT`, real keys, no DEBUG, no test mode.
  The producer calls `services.do_invite`, which queues `tasks.send_invitation_email` after commit.
* Which database they share:
  - on SQLite, a fresh file database in tmp_path, built by running `migrate` in the same
    environment (a few seconds). Nothing touches pytest-django's in-memory database.
  - on PostgreSQL, pytest-django's own test database, with `django_db(transaction=True)`: the
    children's rows are really committed, and pytest-django truncates the tables when the test
    ends (the consumer is stopped before that, so it cannot hold a lock or a connection open).
    The marker must be static: pytest-django decides which test databases to create by reading
    markers and fixture names before the session starts, and a `transactional_db` requested only
    at run time would silently get the real database.
* The consumer starts only after the producer has exited and the task is seen waiting in the
  queue with no e-mail sent, so the e-mail that then arrives can only have come from it.
"""

from __future__ import annotations

import email
import json
import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import time
import uuid
from email import policy
from pathlib import Path
from urllib.parse import quote

import pytest
from django.conf import settings
from django.db import connection

from tertulia.core.models import _hash_token

BASE_DIR = Path(settings.BASE_DIR)
PYTHON = sys.executable  # .venv/bin/python under `make test`

PRODUCER = r"""
import json, sys
import django
django.setup()
from huey.contrib.djhuey import HUEY
from tertulia.core import services
from tertulia.core.models import User
from tertulia.core.services import Ctx

assert not HUEY.immediate, "the producer must queue the task, not run it"
tag = sys.argv[1]
owner = User.objects.create_user(username=f"owner_{tag}", email=f"owner_{tag}@example.org",
                                 password="correct horse battery", first_name="Olga")
ctx = Ctx(owner, via="test")
org = services.do_create_organization(ctx, f"Queue Agency {tag}")
brand = services.do_create_brand(ctx, org, name=f"Queue Brand {tag}", timezone="Europe/Madrid", language="en")
inv = services.do_invite(ctx, brand, f"Guest.{tag}@Example.org", "analyst")
print(json.dumps({"invitation": inv.pk, "email": inv.email, "token_hash": inv.token_hash,
                  "brand": brand.name, "huey": type(HUEY).__name__, "pending": HUEY.pending_count()}))
"""


class Inbox:
    """An aiosmtpd handler that keeps every message it is given."""

    def __init__(self):
        self.envelopes = []

    async def handle_DATA(self, server, session, envelope):
        self.envelopes.append(envelope)
        return "250 Message accepted for delivery"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def smtp_server():
    from aiosmtpd.controller import Controller

    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=_free_port())
    controller.start()
    inbox.port = controller.port
    yield inbox
    controller.stop()


@pytest.fixture
def shared_database(tmp_path):
    """A DATABASE_URL that child processes can use, and whether it still needs `migrate`."""
    if connection.vendor == "postgresql":
        s = connection.settings_dict
        assert s["NAME"].startswith("test_"), "never point the children at a real database"
        url = (f"postgres://{quote(s['USER'], safe='')}:{quote(s['PASSWORD'] or '', safe='')}"
               f"@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{s['NAME']}")
        return url, False
    assert connection.vendor == "sqlite"
    return f"sqlite:///{tmp_path / 'tertulia.sqlite3'}", True


def _child_env(tmp_path: Path, database_url: str, smtp_port: int, **extra: str) -> dict[str, str]:
    from cryptography.fernet import Fernet

    env = {k: v for k, v in os.environ.items()
           if k not in ("DEBUG", "TERTULIA_TESTING", "HUEY_IMMEDIATE", "REDIS_URL", "HUEY_SQLITE_FILE",
                        "HUEY_NAME", "EMAIL_BACKEND", "SECRET_KEY_FILE", "TERTULIA_FERNET_KEY_FILE")}
    env.update({
        "DJANGO_SETTINGS_MODULE": "tertulia.settings",
        "DATABASE_URL": database_url,
        "TERTULIA_VAR_DIR": str(tmp_path / "var"),
        "SECRET_KEY": secrets.token_urlsafe(50),
        "TERTULIA_FERNET_KEYS": Fernet.generate_key().decode(),
        "HUEY_IMMEDIATE": "0",
        "HUEY_NAME": f"tertulia-test-{uuid.uuid4().hex[:12]}",
        "HUEY_WORKERS": "1",
        "EMAIL_HOST": "127.0.0.1",
        "EMAIL_PORT": str(smtp_port),
        "SITE_URL": "https://tertulia.example",
        "PYTHONUNBUFFERED": "1",
    })
    env.update(extra)
    return env


def _run(args: list[str], env: dict[str, str], timeout: float = 120) -> str:
    done = subprocess.run([PYTHON, *args], env=env, cwd=BASE_DIR, capture_output=True, text=True, timeout=timeout)
    assert done.returncode == 0, f"{args[:3]} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}"
    return done.stdout


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)  # the consumer's graceful shutdown
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)


def _exercise_queue(tmp_path, env, huey, inbox, needs_migrate: bool) -> None:
    (tmp_path / "var").mkdir(exist_ok=True)
    if needs_migrate:
        _run(["-m", "tertulia.cli", "migrate", "--noinput", "-v", "0"], env, timeout=300)

    tag = uuid.uuid4().hex[:8]
    produced = json.loads(_run(["-c", PRODUCER, tag], env).strip().splitlines()[-1])
    assert produced["huey"] == type(huey).__name__
    assert produced["pending"] == 1

    # Queued and waiting: nobody has sent anything yet.
    assert huey.pending_count() == 1
    assert inbox.envelopes == []

    log_path = tmp_path / "consumer.log"
    with open(log_path, "w") as log:
        consumer = subprocess.Popen([PYTHON, "-m", "tertulia.cli", "run_huey"], env=env, cwd=BASE_DIR,
                                    stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        while not inbox.envelopes and consumer.poll() is None and time.monotonic() < deadline:
            time.sleep(0.1)
        assert inbox.envelopes, f"no e-mail; consumer exit={consumer.poll()}; log:\n{log_path.read_text()}"
        deadline = time.monotonic() + 10
        while huey.pending_count() and time.monotonic() < deadline:
            time.sleep(0.1)
        assert huey.pending_count() == 0
        assert consumer.poll() is None, "the consumer must keep running after a task"
    finally:
        _stop(consumer)
    assert consumer.returncode is not None

    assert len(inbox.envelopes) == 1
    envelope = inbox.envelopes[0]
    assert envelope.rcpt_tos == [produced["email"]]
    assert produced["email"] == f"guest.{tag}@example.org"
    message = email.message_from_bytes(envelope.original_content or envelope.content, policy=policy.default)
    assert produced["brand"] in message["Subject"]
    text = message.get_body(("plain",)).get_content()
    html = message.get_body(("html",)).get_content()
    match = re.search(r"https://tertulia\.example/invitations/([A-Za-z0-9_-]+)/", text)
    assert match, text
    assert match.group(0) in html
    # The link carries the raw token whose hash is stored on the invitation row.
    assert _hash_token(match.group(1)) == produced["token_hash"]


# transaction=True: see the module docstring (on SQLite the tests do not use pytest's database).
@pytest.mark.django_db(transaction=True)
def test_sqlite_huey_consumer_sends_the_invitation(tmp_path, shared_database, smtp_server):
    from huey import SqliteHuey

    database_url, needs_migrate = shared_database
    queue_file = tmp_path / "huey.sqlite3"
    env = _child_env(tmp_path, database_url, smtp_server.port, HUEY_SQLITE_FILE=str(queue_file))
    huey = SqliteHuey(env["HUEY_NAME"], filename=str(queue_file))
    _exercise_queue(tmp_path, env, huey, smtp_server, needs_migrate)


@pytest.mark.redis
@pytest.mark.django_db(transaction=True)
def test_redis_huey_consumer_sends_the_invitation(tmp_path, shared_database, smtp_server, redis_url):
    from huey import RedisHuey

    database_url, needs_migrate = shared_database
    env = _child_env(tmp_path, database_url, smtp_server.port, REDIS_URL=redis_url)
    huey = RedisHuey(env["HUEY_NAME"], url=redis_url)
    try:
        _exercise_queue(tmp_path, env, huey, smtp_server, needs_migrate)
    finally:
        huey.storage.flush_all()  # this test's own queue name only
