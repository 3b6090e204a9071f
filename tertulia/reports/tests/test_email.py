"""Scheduled reports delivered by e-mail to a real SMTP server on loopback (aiosmtpd): the
PDF attached, the summary and the archive link in the body, in the brand's language; an SMTP
failure keeps the report in the archive with the error in words, and the next tick retries it."""

from __future__ import annotations

import email
import socket
from datetime import timedelta
from email import policy

import pytest
from aiosmtpd.controller import Controller
from django.core.files.base import ContentFile
from django.utils import timezone

from tertulia.core.notes import english
from tertulia.core.services import Ctx
from tertulia.reports import services
from tertulia.reports.models import Report, ReportSchedule


class Collector:
    def __init__(self):
        self.messages = []

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's hook name
        self.messages.append((list(envelope.rcpt_tos), envelope.content))
        return "250 OK"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def smtp_settings(settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path)
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = "127.0.0.1"
    settings.EMAIL_PORT = _free_port()
    settings.EMAIL_USE_TLS = False
    settings.EMAIL_HOST_USER = settings.EMAIL_HOST_PASSWORD = ""
    settings.EMAIL_TIMEOUT = 5
    settings.SITE_URL = "https://tertulia.example"
    return settings


def test_scheduled_report_goes_out_once_with_the_pdf_and_retries_after_a_failure(brand_a, smtp_settings):
    brand, people = brand_a
    schedule = services.do_save_schedule(Ctx(people["owner"]), brand, kind="weekly", weekday=0,
                                         recipients=["jefa@example.com", "director@example.com"])
    due = timezone.now() - timedelta(minutes=3)
    ReportSchedule.objects.filter(pk=schedule.pk).update(next_run_at=due)

    # 1. The SMTP server is down: the report is archived, the error recorded in words.
    result = services.run_due_schedules()
    assert result == {"ran": 1, "skipped": 0, "retried": 0}
    report = Report.objects.get(brand=brand)
    assert report.schedule_id == schedule.pk and report.created_by is None and report.pdf
    assert report.sent_at is None and report.send_attempts == 1
    unreachable = f"The e-mail could not be sent. Tertulia could not reach the mail server (127.0.0.1:{smtp_settings.EMAIL_PORT})."
    assert english(report.send_error).startswith(unreachable)
    assert "Errno" not in english(report.send_error)  # the raw exception stays in the log
    schedule.refresh_from_db()
    assert english(schedule.last_error).startswith(unreachable)
    assert schedule.next_run_at > timezone.now() and schedule.last_sent_at is None
    # The period is the 7 days before the run's day, in the brand's zone.
    run_day = due.astimezone(brand.tzinfo).date()
    assert (report.period_start, report.period_end) == (run_day - timedelta(days=7), run_day - timedelta(days=1))

    # 2. The server is back: the next tick sends the archived report, once.
    collector = Collector()
    controller = Controller(collector, hostname="127.0.0.1", port=smtp_settings.EMAIL_PORT)
    controller.start()
    try:
        assert services.run_due_schedules() == {"ran": 0, "skipped": 0, "retried": 1}
        assert services.run_due_schedules() == {"ran": 0, "skipped": 0, "retried": 0}  # nothing twice
    finally:
        controller.stop()
    assert Report.objects.filter(brand=brand).count() == 1
    assert len(collector.messages) == 1
    rcpt, raw = collector.messages[0]
    assert sorted(rcpt) == ["director@example.com", "jefa@example.com", "tertulia@localhost"]
    message = email.message_from_bytes(raw, policy=policy.default)
    assert "jefa@example.com" not in message.get("To", "") and message.get("Bcc") is None  # Bcc: private
    assert "Informe semanal: Alpha Brand" in message["Subject"]  # the brand's language (es)
    body = message.get_body(("plain",)).get_content()
    assert f"https://tertulia.example/brands/{brand.pk}/reports/{report.pk}/" in body
    assert "El informe completo va adjunto en PDF" in body
    attachments = list(message.iter_attachments())
    assert len(attachments) == 1
    assert attachments[0].get_content_type() == "application/pdf"
    assert attachments[0].get_filename() == f"weekly-{report.period_end.isoformat()}.pdf"
    assert attachments[0].get_content().startswith(b"%PDF-")
    report.refresh_from_db()
    schedule.refresh_from_db()
    assert report.sent_at is not None and report.send_error == []
    assert schedule.last_sent_at is not None and schedule.last_error == []


def test_a_report_gives_up_after_the_last_attempt(brand_a, smtp_settings):
    brand, people = brand_a
    schedule = services.do_save_schedule(Ctx(people["owner"]), brand, kind="weekly", weekday=0,
                                         recipients=["jefa@example.com"])
    report = Report.objects.create(brand=brand, kind="weekly", title="t", period_start=timezone.localdate(),
                                   period_end=timezone.localdate(), language="es", data={}, schedule=schedule,
                                   recipients=["jefa@example.com"], send_attempts=services.MAX_SEND_ATTEMPTS - 1,
                                   send_error=[{"msgid": "The e-mail could not be sent: %(error)s", "params": {
                                       "error": "connection refused"}}])  # the previous attempt failed
    report.pdf.save("weekly.pdf", ContentFile(b"%PDF-1.7 archived"), save=True)
    assert services.retry_unsent(timezone.now()) == 0  # still failing (no server), last attempt used
    report.refresh_from_db()
    assert report.send_attempts == services.MAX_SEND_ATTEMPTS
    assert english(report.send_error).startswith(
        f"The e-mail could not be sent after {services.MAX_SEND_ATTEMPTS} attempts. Tertulia could not reach the "
        "mail server")  # the SMTP error, in words
    assert services.retry_unsent(timezone.now()) == 0
    report.refresh_from_db()
    assert report.send_attempts == services.MAX_SEND_ATTEMPTS  # not tried again


def test_a_report_being_sent_is_not_retried_by_another_consumer(brand_a, smtp_settings):
    """An attempt in flight (claimed, no error recorded yet) is not a failed one: the periodic
    retry must leave it alone, or a slow send would go out twice."""
    from django.core import mail

    brand, people = brand_a
    schedule = services.do_save_schedule(Ctx(people["owner"]), brand, kind="weekly", weekday=0,
                                         recipients=["jefa@example.com"])
    report = Report.objects.create(brand=brand, kind="weekly", title="t", period_start=timezone.localdate(),
                                   period_end=timezone.localdate(), language="es", data={}, schedule=schedule,
                                   recipients=["jefa@example.com"], send_attempts=1)
    report.pdf.save("weekly.pdf", ContentFile(b"%PDF-1.7 archived"), save=True)
    smtp_settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    assert services.retry_unsent(timezone.now()) == 0
    assert mail.outbox == []
    report.refresh_from_db()
    assert report.send_attempts == 1 and report.sent_at is None
