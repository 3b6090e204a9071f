"""Report schedules: when they are due (the brand's time zone, across DST), how a due run is
claimed (two consumers, one send), and how recipients are validated."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone, translation

from tertulia.core.models import AuditEvent
from tertulia.core.services import Ctx
from tertulia.reports import services
from tertulia.reports.models import ReportSchedule

MADRID = ZoneInfo("Europe/Madrid")


def _utc(*args):
    return datetime(*args, tzinfo=UTC)


@pytest.mark.parametrize("kind,weekday,after,expected", [
    # Weekly on Monday at 08:00 Madrid: CET is UTC+1, CEST (from 29 March 2026) UTC+2.
    ("weekly", 0, _utc(2026, 3, 23, 7, 0), _utc(2026, 3, 30, 6, 0)),  # exactly at the run: the next one, after DST
    ("weekly", 0, _utc(2026, 3, 23, 6, 59), _utc(2026, 3, 23, 7, 0)),  # a minute before: today
    ("weekly", 0, _utc(2026, 10, 20, 12), _utc(2026, 10, 26, 7, 0)),  # back to CET on 25 October
    ("weekly", 4, _utc(2026, 3, 28, 23, 30), _utc(2026, 4, 3, 6, 0)),  # Sunday 00:30 local → Friday
    ("weekly", 6, _utc(2026, 3, 28, 23, 30), _utc(2026, 3, 29, 6, 0)),  # the DST Sunday itself, 08:00 CEST
    ("monthly", 0, _utc(2026, 1, 15), _utc(2026, 2, 1, 7, 0)),
    ("monthly", 0, _utc(2026, 3, 1, 6, 0), _utc(2026, 3, 1, 7, 0)),
    ("monthly", 0, _utc(2026, 12, 5), _utc(2027, 1, 1, 7, 0)),
    ("quarterly", 0, _utc(2026, 2, 10), _utc(2026, 4, 1, 6, 0)),
    ("quarterly", 0, _utc(2026, 10, 1, 6, 0), _utc(2027, 1, 1, 7, 0)),  # at the run: the next quarter
    ("yearly", 0, _utc(2026, 1, 1, 7, 0), _utc(2027, 1, 1, 7, 0)),
])
def test_next_run_in_the_brand_time_zone(kind, weekday, after, expected):
    assert services.next_run(kind, weekday, MADRID, after) == expected
    assert expected.astimezone(MADRID).hour == 8


def test_next_run_in_another_zone():
    tokyo = ZoneInfo("Asia/Tokyo")  # no DST; 08:00 JST is 23:00 UTC the day before
    assert services.next_run("weekly", 0, tokyo, _utc(2026, 3, 22, 12)) == _utc(2026, 3, 22, 23)


@pytest.fixture
def schedule(brand_a):
    brand, people = brand_a
    return services.do_save_schedule(Ctx(people["manager"]), brand, kind="weekly", weekday=0,
                                     recipients="jefa@example.com\nJefa@example.com; otro@example.com")


def test_save_schedule_computes_next_run_and_cleans_recipients(schedule, brand_a):
    brand, people = brand_a
    assert schedule.recipients == ["jefa@example.com", "otro@example.com"]  # case-insensitive duplicates out
    assert schedule.next_run_at > timezone.now()
    local = schedule.next_run_at.astimezone(brand.tzinfo)
    assert (local.weekday(), local.hour, local.minute) == (0, 8, 0)
    assert AuditEvent.objects.filter(brand=brand, action="report_schedule.create").exists()
    updated = services.do_save_schedule(Ctx(people["owner"]), brand, schedule, weekday=3)
    assert updated.next_run_at.astimezone(brand.tzinfo).weekday() == 3


@pytest.mark.parametrize("recipients,message", [
    ("", "at least one"),
    ("no-es-un-correo", "not valid"),
    ("a@example.com, <script>@x", "not valid"),
    (", ".join(f"p{i}@example.com" for i in range(51)), "At most 50"),
    ("x" * 300 + "@example.com", "not valid"),
    ("a@example.com\x00", "not valid"),
])
def test_recipients_are_validated(brand_a, recipients, message):
    brand, people = brand_a
    with translation.override("en"), pytest.raises(ValidationError) as exc:
        services.do_save_schedule(Ctx(people["owner"]), brand, kind="weekly", weekday=0, recipients=recipients)
    assert message in " ".join(exc.value.message_dict["recipients"])
    assert not ReportSchedule.objects.filter(brand=brand).exists()


@pytest.mark.parametrize("fields", [{"kind": "daily"}, {"weekday": 7}, {"weekday": "x"}, {"owner": 1}])
def test_schedule_fields_are_validated(schedule, brand_a, fields):
    brand, people = brand_a
    with pytest.raises(ValidationError):
        services.do_save_schedule(Ctx(people["owner"]), brand, schedule, **fields)


def test_only_managers_schedule(brand_a, brand_b, schedule):
    brand, people = brand_a
    for role in ("community_manager", "analyst", "client_reviewer"):
        with pytest.raises(PermissionDenied):
            services.do_save_schedule(Ctx(people[role]), brand, kind="weekly", weekday=0, recipients="a@example.com")
        with pytest.raises(PermissionDenied):
            services.do_delete_schedule(Ctx(people[role]), schedule)
    other, other_people = brand_b
    with pytest.raises(PermissionDenied):  # another brand's schedule through one's own brand
        services.do_save_schedule(Ctx(other_people["owner"]), other, schedule, weekday=2)


def test_two_consumers_claim_a_due_run_once(schedule):
    due = timezone.now() - timedelta(minutes=1)
    ReportSchedule.objects.filter(pk=schedule.pk).update(next_run_at=due)
    first = ReportSchedule.objects.select_related("brand").get(pk=schedule.pk)
    second = ReportSchedule.objects.select_related("brand").get(pk=schedule.pk)  # read at the same time
    now = timezone.now()
    assert services.claim_schedule(first, now) is True
    assert services.claim_schedule(second, now) is False  # the due time it read has moved on
    fresh = ReportSchedule.objects.get(pk=schedule.pk)
    assert fresh.next_run_at > now and fresh.last_run_at == now
    assert fresh.next_run_at.astimezone(MADRID).hour == 8


def test_paused_schedules_are_not_claimed(schedule):
    ReportSchedule.objects.filter(pk=schedule.pk).update(next_run_at=timezone.now() - timedelta(hours=1), active=False)
    assert services.run_due_schedules() == {"ran": 0, "skipped": 0, "retried": 0}
