"""A consumer killed with SIGKILL in the middle of a task, on the poll and report queues
(issue 10, "Faults to survive"; the publish queue: ``tertulia/publishing/tests/test_crash_recovery.py``).

A real ``manage.py run_huey`` consumer in a subprocess, embedded set-up (a SQLite file and
SqliteHuey in a temporary directory), talks to loopback servers in this test process: the fake
Mastodon and a local SMTP server (aiosmtpd). The server holds the consumer's request while the
test kills it; a second consumer then starts, and once the dead one's lease has run out the
work is done again:

- poll: the second poll of an account is killed while the fake holds its notifications request.
  After the lease, the poll runs again: every interaction is stored once (unique on account +
  external id; the conversations and thread replies are read again on purpose), and the sync
  row is released (no lease left, no error, next poll in the future).
- report, killed while rendering the PDF (after the run was claimed, before the report was
  archived): after the run lease, the run is claimed again and the report is archived and
  e-mailed exactly once, for the right week.
- report, killed while the SMTP server holds its reply to the message (before "250 OK": by
  RFC 5321 the message is not accepted): after the send lease, it is sent again, exactly once,
  with the same Message-ID. The one window the code cannot close is a kill after the server's
  "250 OK" and before ``sent_at`` is written (milliseconds): then the retry sends a second copy
  with the same Message-ID (at least once, never lost; see ``reports.services.send_report``).

While a run or an e-mail is in flight its marker says so on the schedule's or report's page;
after a failure the page says why.
"""

from __future__ import annotations

import asyncio
import email
import json
import shutil
import sqlite3
import threading
from datetime import UTC, datetime, timedelta
from email import policy
from pathlib import Path

import pytest

from tests.fakes.mastodon import Fault, FakeMastodon

from . import harness as h

LEASE = 3.0

POLL_SETUP = r'''
import json
from tertulia.core import services as core
from tertulia.core.models import User
from tertulia.core.services import Ctx
from tertulia.networks.services import do_add_account
cfg = json.loads(CFG)
owner = User.objects.create_user(username="poll_owner", password="correct horse battery",
                                 email="owner@example.com", language="en")
ctx = Ctx(owner, via="test")
brand = core.do_create_brand(ctx, core.do_create_organization(ctx, "Poll Agency"), name="Poll",
                             timezone="Europe/Madrid", language="es")
account = do_add_account(ctx, brand, network="mastodon", handle="@" + cfg["username"], access_token=cfg["token"],
                         base_url=cfg["base_url"], external_id=cfg["id"])
print(account.pk)
'''

REPORT_SETUP = r'''
import json
from datetime import timedelta
from django.utils import timezone
from tertulia.core import services as core
from tertulia.core.models import User
from tertulia.core.services import Ctx
from tertulia.reports import services
from tertulia.reports.models import ReportSchedule
owner = User.objects.create_user(username="report_owner", password="correct horse battery",
                                 email="owner@example.com", language="en")
ctx = Ctx(owner, via="test")
brand = core.do_create_brand(ctx, core.do_create_organization(ctx, "Report Agency"), name="Informes",
                             timezone="Europe/Madrid", language="es")
schedule = services.do_save_schedule(ctx, brand, kind="weekly", weekday=0, recipients=["jefa@example.com"])
due = timezone.now() - timedelta(minutes=3)
ReportSchedule.objects.filter(pk=schedule.pk).update(next_run_at=due)
print(json.dumps({"id": schedule.pk, "due": due.isoformat()}))
'''

ENQUEUE = "from {module} import {task}; {task}()"


@pytest.fixture(scope="module")
def migrated(tmp_path_factory) -> Path:
    """One migrated SQLite file for the module; each test gets its own copy."""
    tmp = tmp_path_factory.mktemp("sigkill-template")
    h.manage(_env(tmp), "migrate", "--noinput", timeout=600)
    return tmp / "db.sqlite3"


def _env(tmp: Path, **extra: str) -> dict[str, str]:
    return h.consumer_env(tmp, database_url=f"sqlite:///{tmp / 'db.sqlite3'}", queue="sigkill", workers=1,
                          INBOX_LEASE_SECONDS=str(LEASE), REPORTS_RUN_LEASE_SECONDS=str(LEASE),
                          REPORTS_SEND_LEASE_SECONDS=str(LEASE), **extra)


@pytest.fixture
def world(tmp_path, migrated):
    shutil.copy(migrated, tmp_path / "db.sqlite3")
    consumers = h.Consumers(tmp_path, _env(tmp_path))
    try:
        yield tmp_path, consumers
    finally:
        consumers.stop_all()


def _query(tmp: Path, sql: str, *args) -> list[sqlite3.Row]:
    with sqlite3.connect(tmp / "db.sqlite3", timeout=20) as db:
        db.row_factory = sqlite3.Row
        return db.execute(sql, args).fetchall()


def _execute(tmp: Path, sql: str, *args) -> None:
    with sqlite3.connect(tmp / "db.sqlite3", timeout=20) as db:
        db.execute(sql, args)


def _utc(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value).replace(tzinfo=UTC) if value else None


def _enqueue(consumers: h.Consumers, module: str, task: str) -> None:
    h.manage(consumers.env, "shell", "-c", ENQUEUE.format(module=module, task=task))


def _english(value: str) -> str:
    return " ".join(part["msgid"] % part.get("params", {}) for part in json.loads(value or "[]"))


# -- poll --------------------------------------------------------------------------------------


def test_sigkill_mid_poll(world):
    tmp, consumers = world
    with FakeMastodon() as fake:
        with fake.lock:
            own = fake.accounts[fake.tokens[fake.token]]
        fake.add_account("ana")
        ours = fake.post_as(own["username"], "Nuestro post de la semana")
        fake.post_as("ana", "Me encanta este post", in_reply_to=ours["id"])  # a reply, read in the thread
        fake.post_as("ana", f"@{own['username']} hola, ¿abrís el sábado?")  # a mention
        fake.post_as("ana", f"@{own['username']} un mensaje privado", visibility="direct")  # a DM
        account_id = int(h.shell(consumers.env, POLL_SETUP.replace("CFG", repr(json.dumps(
            {"username": own["username"], "id": own["id"], "token": fake.token, "base_url": fake.base_url})))))

        def stored() -> list[str]:
            return sorted(r[0] for r in _query(tmp, "SELECT external_id FROM inbox_interaction WHERE account_id = ?",
                                               account_id))

        def sync() -> sqlite3.Row:
            return _query(tmp, "SELECT * FROM inbox_inboxsync WHERE account_id = ?", account_id)[0]

        # 1. The first poll (the consumer runs the every-minute task when it starts) stores all three.
        first = consumers.start()
        h.wait_for(lambda: len(stored()) == 3 and _query(tmp, "SELECT 1 FROM inbox_inboxsync WHERE account_id = ? "
                                                              "AND lease_until IS NULL AND last_polled_at IS NOT NULL",
                                                         account_id), 90, lambda: (stored(), consumers.log(0, 3000)))
        # 2. A new mention; the next poll is due; the server holds its notifications request.
        fake.post_as("ana", f"@{own['username']} ¿hay descuento para socios?")
        with fake.lock:
            ana = fake.account_named("ana")["id"]
            expected = sorted(s["id"] for s in fake.statuses.values() if s["account_id"] == ana)
        assert len(expected) == 4
        held = len(fake.requests_to("GET", "/api/v1/notifications"))
        fake.inject("GET /api/v1/notifications", Fault.latency(60.0))
        _execute(tmp, "UPDATE inbox_inboxsync SET next_poll_at = '2000-01-01 00:00:00' WHERE account_id = ?",
                 account_id)
        _enqueue(consumers, "tertulia.inbox.tasks", "poll_due")
        h.wait_for(lambda: len(fake.requests_to("GET", "/api/v1/notifications")) > held, 60,
                   lambda: consumers.log(0, 3000))
        lease = _utc(sync()["lease_until"])
        assert lease is not None and lease > datetime.now(UTC)  # claimed, the request on the wire
        consumers.kill(first)
        # 3. A new consumer; once the dead one's lease has run out, its start-up poll takes over.
        h.wait_for(lambda: datetime.now(UTC) > lease, LEASE + 30)
        killed_at = datetime.now(UTC)
        consumers.start()
        h.wait_for(lambda: len(stored()) == 4 and sync()["lease_until"] is None
                   and _utc(sync()["last_polled_at"]) > killed_at, 90,
                   lambda: (stored(), dict(sync()), consumers.log(1, 3000)))
    # Nothing lost, nothing twice (the DM and the reply were read again: same rows).
    assert stored() == expected
    # The killed poll never got past its notifications; the poll after it read the DMs again.
    assert len(fake.requests_to("GET", "/api/v1/conversations")) == 2
    row = sync()
    assert row["lease_until"] is None and row["last_error"] == "" and row["failures"] == 0
    assert _utc(row["next_poll_at"]) > datetime.now(UTC)  # not stuck: scheduled again


# -- report ------------------------------------------------------------------------------------


class SMTPServer:
    """A local SMTP server (aiosmtpd). ``hold`` holds its reply to the next message until
    ``release`` is set; a message whose client is gone by then is not accepted (no "250 OK"
    was sent, RFC 5321 §4.1.1.4), as a real server does."""

    def __init__(self):
        self.delivered: list[tuple[list[str], bytes]] = []
        self.dropped: list[bytes] = []
        self.holding = threading.Event()
        self.release = threading.Event()
        self.hold = False

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's hook name
        if self.hold:
            self.hold = False
            self.holding.set()
            try:
                while not self.release.is_set():
                    await asyncio.sleep(0.05)
            except asyncio.CancelledError:  # aiosmtpd saw the connection go: nothing was accepted
                self.dropped.append(envelope.content)
                raise
            if server.transport is None or server.transport.is_closing():
                self.dropped.append(envelope.content)
                return "451 Requested action aborted: connection lost"
        self.delivered.append((list(envelope.rcpt_tos), envelope.content))
        return "250 OK"


@pytest.fixture
def smtp(world):
    from aiosmtpd.controller import Controller

    tmp, consumers = world
    handler = SMTPServer()
    port = h.free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    consumers.env.update(EMAIL_HOST="127.0.0.1", EMAIL_PORT=str(port), EMAIL_TIMEOUT="60")
    try:
        yield handler
    finally:
        handler.release.set()
        controller.stop()


def _report_rows(tmp: Path) -> list[sqlite3.Row]:
    return _query(tmp, "SELECT * FROM reports_report ORDER BY id")


def _schedule_row(tmp: Path, schedule_id: int) -> sqlite3.Row:
    return _query(tmp, "SELECT * FROM reports_reportschedule WHERE id = ?", schedule_id)[0]


def _assert_sent_once(tmp: Path, smtp: SMTPServer, schedule: dict) -> email.message.EmailMessage:
    (report,) = _report_rows(tmp)
    assert report["sent_at"] is not None and report["send_error"] == "[]"
    assert len(smtp.delivered) == 1, len(smtp.delivered)
    rcpt, raw = smtp.delivered[0]
    assert "jefa@example.com" in rcpt
    message = email.message_from_bytes(raw, policy=policy.default)
    (attachment,) = list(message.iter_attachments())
    assert attachment.get_content().startswith(b"%PDF-")
    # The run that was due: the 7 days before its (Madrid) day.
    from zoneinfo import ZoneInfo

    run_day = datetime.fromisoformat(schedule["due"]).astimezone(ZoneInfo("Europe/Madrid")).date()
    assert report["period_end"] == (run_day - timedelta(days=1)).isoformat()
    row = _schedule_row(tmp, schedule["id"])
    assert row["last_error"] == "[]" and row["last_sent_at"] is not None
    return message


def test_sigkill_while_rendering_a_scheduled_report(world, smtp):
    tmp, consumers = world
    schedule = json.loads(h.shell(consumers.env, REPORT_SETUP))
    marks = tmp / "marks"
    marks.mkdir()
    first = consumers.start(FAULT_SLOW_PDF="60", FAULT_MARK_DIR=str(marks))
    _enqueue(consumers, "tertulia.reports.tasks", "run_report_schedules")
    h.wait_for(lambda: list(marks.iterdir()), 90, lambda: consumers.log(0, 3000))
    # Claimed (the next run moved on), nothing archived yet, and the page says it is in flight.
    row = _schedule_row(tmp, schedule["id"])
    assert _utc(row["next_run_at"]) > datetime.now(UTC) and _report_rows(tmp) == []
    assert _english(row["last_error"]).startswith("This report is being generated and sent")
    consumers.kill(first)
    claimed_at = _utc(row["last_run_at"])
    h.wait_for(lambda: (datetime.now(UTC) - claimed_at).total_seconds() > LEASE + 0.5, LEASE + 30)
    consumers.start()
    _enqueue(consumers, "tertulia.reports.tasks", "run_report_schedules")
    h.wait_for(lambda: any(r["sent_at"] for r in _report_rows(tmp)), 120, lambda: consumers.log(1, 3000))
    _assert_sent_once(tmp, smtp, schedule)
    # And nothing is left to recover: another tick sends nothing more.
    _enqueue(consumers, "tertulia.reports.tasks", "run_report_schedules")
    h.wait_for(lambda: consumers.log(1).count("run_report_schedules") >= 4, 60, lambda: consumers.log(1, 3000))
    assert len(_report_rows(tmp)) == 1 and len(smtp.delivered) == 1


def test_sigkill_while_the_smtp_server_holds_the_message(world, smtp):
    tmp, consumers = world
    schedule = json.loads(h.shell(consumers.env, REPORT_SETUP))
    smtp.hold = True
    first = consumers.start()
    _enqueue(consumers, "tertulia.reports.tasks", "run_report_schedules")
    assert smtp.holding.wait(120), consumers.log(0, 3000)
    (report,) = _report_rows(tmp)
    assert report["sent_at"] is None and report["send_attempts"] == 1
    assert _english(report["send_error"]).startswith("This report is being sent by e-mail")  # on its page
    consumers.kill(first)
    smtp.release.set()
    h.wait_for(lambda: smtp.dropped, 30, lambda: "the held message was neither dropped nor delivered")
    assert smtp.delivered == []
    since = datetime.fromisoformat(json.loads(report["send_error"])[0]["params"]["since"])
    h.wait_for(lambda: (datetime.now(UTC) - since).total_seconds() > LEASE + 0.5, LEASE + 30)
    consumers.start()
    _enqueue(consumers, "tertulia.reports.tasks", "run_report_schedules")
    h.wait_for(lambda: any(r["sent_at"] for r in _report_rows(tmp)), 120, lambda: consumers.log(1, 3000))
    message = _assert_sent_once(tmp, smtp, schedule)
    (report,) = _report_rows(tmp)
    assert report["send_attempts"] == 2
    dropped = email.message_from_bytes(smtp.dropped[0], policy=policy.default)
    assert message["Message-ID"] == dropped["Message-ID"]  # a copy could be told apart by nobody
