"""The report leases in-process, on every database (the SIGKILL tests in ``test_sigkill_queues``
run them with real consumers on SQLite): a run claimed by a consumer that died before archiving
its report is built again once the run lease has passed, never before and never twice; an
e-mail whose sender died is sent again once the send lease has passed, never while in flight.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core import mail
from django.utils import timezone

from tertulia.core.notes import english
from tertulia.core.services import Ctx
from tertulia.reports import services
from tertulia.reports.models import Report, ReportSchedule

pytestmark = pytest.mark.django_db
LEASE = 60.0


@pytest.fixture
def schedule(brand_a, settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    settings.REPORTS = {"RUN_LEASE_SECONDS": LEASE, "SEND_LEASE_SECONDS": LEASE}
    brand, people = brand_a
    schedule = services.do_save_schedule(Ctx(people["owner"]), brand, kind="weekly", weekday=0,
                                         recipients=["jefa@example.com"])
    ReportSchedule.objects.filter(pk=schedule.pk).update(next_run_at=timezone.now() - timedelta(minutes=2))
    return ReportSchedule.objects.select_related("brand").get(pk=schedule.pk)


def test_a_run_whose_consumer_died_is_built_again_after_the_lease_once(schedule):
    now = timezone.now()
    due = schedule.next_run_at
    assert services.claim_schedule(schedule, now)  # ...and the consumer dies here: nothing archived
    schedule.refresh_from_db()
    assert english(schedule.last_error).startswith("This report is being generated and sent")
    assert services.run_due_schedules(now + timedelta(seconds=LEASE / 2)) == {"ran": 0, "skipped": 0, "retried": 0}
    assert Report.objects.count() == 0  # still within the lease: maybe still rendering
    later = now + timedelta(seconds=LEASE + 1)
    assert services.run_due_schedules(later)["recovered"] == 1
    (report,) = Report.objects.all()
    run_day = due.astimezone(schedule.brand.tzinfo).date()
    assert report.period_end == run_day - timedelta(days=1)  # the run that was lost, not another
    assert report.sent_at is not None and len(mail.outbox) == 1
    schedule.refresh_from_db()
    assert schedule.last_error == []
    assert services.run_due_schedules(later + timedelta(seconds=LEASE + 1)) == {"ran": 0, "skipped": 0, "retried": 0}
    assert Report.objects.count() == 1 and len(mail.outbox) == 1


def test_a_run_interrupted_again_and_again_says_so(schedule, settings):
    settings.REPORTS = {**settings.REPORTS, "RUN_TRIES": 1}
    now = timezone.now()
    assert services.claim_schedule(schedule, now)
    services.run_due_schedules(now + timedelta(seconds=LEASE + 1))
    schedule.refresh_from_db()
    assert english(schedule.last_error) == "The report could not be generated: it was interrupted 1 times."
    assert Report.objects.count() == 0


def test_an_email_whose_sender_died_is_sent_again_after_the_lease(schedule):
    now = timezone.now()
    services.run_due_schedules(now)
    (report,) = Report.objects.all()
    assert report.sent_at is not None and len(mail.outbox) == 1
    # A second report whose send was claimed by a consumer that died at once.
    claimed = now + timedelta(minutes=1)
    Report.objects.filter(pk=report.pk).update(sent_at=None, send_attempts=1, send_error=services.note(
        services.MSG_SENDING, since=claimed.isoformat()))
    assert services.retry_unsent(claimed + timedelta(seconds=LEASE / 2)) == 0  # in flight: left alone
    assert len(mail.outbox) == 1
    assert services.retry_unsent(claimed + timedelta(seconds=LEASE + 1)) == 1
    report.refresh_from_db()
    assert report.sent_at is not None and report.send_error == [] and report.send_attempts == 2
    assert len(mail.outbox) == 2 and mail.outbox[0].extra_headers["Message-ID"] == \
        mail.outbox[1].extra_headers["Message-ID"]  # the same message, should a copy ever go twice
