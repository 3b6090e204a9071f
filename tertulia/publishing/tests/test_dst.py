"""Time zones and daylight saving time: queue slots and scheduled posts keep their wall time in
the brand's zone across a change (issue 4). Checked against the tz database (zoneinfo + tzdata).

Europe/Madrid: 2026-03-29 02:00 → 03:00 (CET → CEST), 2026-10-25 03:00 → 02:00 (CEST → CET).
America/Mexico_City: DST abolished in October 2022; its last changes were 2022-04-03 02:00 →
03:00 and 2022-10-30 02:00 → 01:00, and since then it is UTC−6 all year.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from tertulia.publishing import services
from tertulia.publishing.models import PostTarget, QueueSlot
from tertulia.publishing.slots import next_free_slot, resolve_wall_time, upcoming

UTC = timezone.utc
MADRID = ZoneInfo("Europe/Madrid")
MEXICO = ZoneInfo("America/Mexico_City")


def utc(*args) -> datetime:
    return datetime(*args, tzinfo=UTC)


# --- The wall clock → instant map -----------------------------------------------------------

def test_tz_database_has_the_transitions_we_test():
    """The premises, from tzdata itself: if these fail, the tests below prove nothing."""
    assert datetime(2026, 3, 28, 12, tzinfo=MADRID).utcoffset() == timedelta(hours=1)
    assert datetime(2026, 3, 30, 12, tzinfo=MADRID).utcoffset() == timedelta(hours=2)
    assert datetime(2026, 10, 24, 12, tzinfo=MADRID).utcoffset() == timedelta(hours=2)
    assert datetime(2026, 10, 26, 12, tzinfo=MADRID).utcoffset() == timedelta(hours=1)
    assert datetime(2022, 4, 2, 12, tzinfo=MEXICO).utcoffset() == timedelta(hours=-6)
    assert datetime(2022, 4, 4, 12, tzinfo=MEXICO).utcoffset() == timedelta(hours=-5)
    assert datetime(2022, 10, 29, 12, tzinfo=MEXICO).utcoffset() == timedelta(hours=-5)
    assert datetime(2022, 10, 31, 12, tzinfo=MEXICO).utcoffset() == timedelta(hours=-6)


def test_madrid_ordinary_days_either_side_of_spring_forward():
    assert resolve_wall_time(date(2026, 3, 28), time(9), MADRID) == utc(2026, 3, 28, 8)
    assert resolve_wall_time(date(2026, 3, 29), time(9), MADRID) == utc(2026, 3, 29, 7)
    assert resolve_wall_time(date(2026, 3, 29), time(1, 59), MADRID) == utc(2026, 3, 29, 0, 59)


@pytest.mark.parametrize("wall", [time(2, 0), time(2, 1), time(2, 30), time(2, 59)])
def test_madrid_slot_in_the_spring_gap_moves_to_the_end_of_the_gap(wall):
    """02:00–02:59 does not exist on 2026-03-29: the slot fires when the clocks jump, 03:00
    CEST = 01:00 UTC, the first valid instant after the gap."""
    at = resolve_wall_time(date(2026, 3, 29), wall, MADRID)
    assert at == utc(2026, 3, 29, 1, 0)
    assert at.astimezone(MADRID).strftime("%H:%M %Z") == "03:00 CEST"
    # 03:00 itself exists and is the same instant.
    assert resolve_wall_time(date(2026, 3, 29), time(3), MADRID) == at


@pytest.mark.parametrize("wall,expected", [(time(2, 0), utc(2026, 10, 25, 0, 0)),
                                           (time(2, 30), utc(2026, 10, 25, 0, 30)),
                                           (time(2, 59), utc(2026, 10, 25, 0, 59))])
def test_madrid_slot_in_the_autumn_overlap_uses_the_first_occurrence(wall, expected):
    """02:00–02:59 happens twice on 2026-10-25 (CEST, then CET): the first one (fold=0)."""
    at = resolve_wall_time(date(2026, 10, 25), wall, MADRID)
    assert at == expected
    assert at.astimezone(MADRID).utcoffset() == timedelta(hours=2)  # still summer time
    assert resolve_wall_time(date(2026, 10, 25), time(3), MADRID) == utc(2026, 10, 25, 2)


def test_mexico_city_2022_transitions():
    # Spring forward 2022-04-03 02:00 → 03:00: 02:30 is in the gap → 03:00 CDT = 08:00 UTC.
    assert resolve_wall_time(date(2022, 4, 3), time(2, 30), MEXICO) == utc(2022, 4, 3, 8)
    assert resolve_wall_time(date(2022, 4, 2), time(9), MEXICO) == utc(2022, 4, 2, 15)
    assert resolve_wall_time(date(2022, 4, 3), time(9), MEXICO) == utc(2022, 4, 3, 14)
    # Fall back 2022-10-30 02:00 → 01:00: 01:30 happens twice → the first (CDT, 06:30 UTC).
    assert resolve_wall_time(date(2022, 10, 30), time(1, 30), MEXICO) == utc(2022, 10, 30, 6, 30)
    assert resolve_wall_time(date(2022, 10, 29), time(9), MEXICO) == utc(2022, 10, 29, 14)
    assert resolve_wall_time(date(2022, 10, 30), time(9), MEXICO) == utc(2022, 10, 30, 15)


def test_mexico_city_2026_has_no_change_a_9am_slot_is_15_utc_all_year():
    day = date(2026, 1, 1)
    while day.year == 2026:
        assert resolve_wall_time(day, time(9), MEXICO) == datetime.combine(day, time(15), UTC), day
        day += timedelta(days=1)


# --- Slots of a brand across the change -------------------------------------------------------

@pytest.fixture
def madrid_brand(tenant):
    brand, people = tenant("Dst")
    assert brand.timezone == "Europe/Madrid"
    return brand


def _slots(brand, *pairs):
    for weekday, wall in pairs:
        QueueSlot.objects.create(brand=brand, weekday=weekday, time=wall)


@pytest.mark.django_db
def test_daily_slot_keeps_its_wall_time_across_spring_forward(madrid_brand):
    _slots(madrid_brand, *[(d, time(9)) for d in range(7)])
    found = upcoming(madrid_brand, after=utc(2026, 3, 26, 12), count=5)
    assert [s.at.astimezone(MADRID).strftime("%m-%d %H:%M") for s in found] == [
        "03-27 09:00", "03-28 09:00", "03-29 09:00", "03-30 09:00", "03-31 09:00"]
    assert [s.at.hour for s in found] == [8, 8, 7, 7, 7]  # UTC moves, the wall clock does not


@pytest.mark.django_db
def test_daily_slot_keeps_its_wall_time_across_fall_back(madrid_brand):
    _slots(madrid_brand, *[(d, time(17, 30)) for d in range(7)])
    found = upcoming(madrid_brand, after=utc(2026, 10, 23, 18), count=4)
    assert [s.at.astimezone(MADRID).strftime("%m-%d %H:%M") for s in found] == [
        "10-24 17:30", "10-25 17:30", "10-26 17:30", "10-27 17:30"]
    assert [s.at.hour for s in found] == [15, 16, 16, 16]


@pytest.mark.django_db
def test_gap_slot_on_the_spring_sunday_and_its_neighbours(madrid_brand):
    """Sunday 02:30 is in the gap on 2026-03-29 only; the Sundays around it are ordinary."""
    _slots(madrid_brand, (6, time(2, 30)))
    found = upcoming(madrid_brand, after=utc(2026, 3, 21, 12), count=3)
    assert [s.at for s in found] == [utc(2026, 3, 22, 1, 30), utc(2026, 3, 29, 1, 0), utc(2026, 4, 5, 0, 30)]


@pytest.mark.django_db
def test_two_slots_inside_one_gap_are_one_instant_that_day(madrid_brand):
    _slots(madrid_brand, (6, time(2, 15)), (6, time(2, 45)))
    found = upcoming(madrid_brand, after=utc(2026, 3, 28, 12), count=2)
    assert found[0].at == utc(2026, 3, 29, 1, 0)
    assert found[1].at == utc(2026, 4, 5, 0, 15)  # the next Sunday, not 03:00 again


@pytest.mark.django_db
def test_overlap_slot_never_fires_twice(madrid_brand):
    """02:30 on the autumn Sunday: one instant (the first), and after it the next week."""
    _slots(madrid_brand, (6, time(2, 30)))
    first = next_free_slot(madrid_brand, after=utc(2026, 10, 24, 12))
    assert first == utc(2026, 10, 25, 0, 30)
    # Just after the first occurrence, while the wall clock reads 02:30 again an hour later,
    # the slot is not offered a second time that day.
    again = next_free_slot(madrid_brand, after=first)
    assert again == utc(2026, 11, 1, 1, 30)
    assert next_free_slot(madrid_brand, after=utc(2026, 10, 25, 1, 15)) == utc(2026, 11, 1, 1, 30)


@pytest.mark.django_db
def test_mexico_brand_slots_across_2022_and_in_2026(madrid_brand):
    brand = madrid_brand
    brand.timezone = "America/Mexico_City"
    brand.save(update_fields=["timezone"])
    _slots(brand, *[(d, time(9)) for d in range(7)])
    spring = upcoming(brand, after=utc(2022, 4, 1, 18), count=3)
    assert [s.at.hour for s in spring] == [15, 14, 14]
    autumn = upcoming(brand, after=utc(2022, 10, 28, 18), count=3)
    assert [s.at.hour for s in autumn] == [14, 15, 15]
    for s in spring + autumn:
        assert s.at.astimezone(MEXICO).hour == 9
    year = upcoming(brand, after=utc(2026, 1, 1), count=365)
    assert len(year) == 365 and {s.at.hour for s in year} == {15}


@pytest.mark.django_db
def test_taken_minute_is_judged_in_utc_across_the_change(madrid_brand, make_user):
    """A post at 09:00 Madrid on the Monday after the change holds 07:00 UTC; the slot before
    the change (08:00 UTC) is still free."""
    from tertulia.content.models import Post

    _slots(madrid_brand, (0, time(9)))
    Post.objects.create(brand=madrid_brand, text="held", state="scheduled",
                        scheduled_at=datetime(2026, 3, 30, 9, tzinfo=MADRID))
    assert next_free_slot(madrid_brand, after=utc(2026, 3, 22)) == utc(2026, 3, 23, 8)
    assert next_free_slot(madrid_brand, after=utc(2026, 3, 24)) == utc(2026, 4, 6, 7)


# --- do_schedule stores UTC from an aware time in the brand's zone ------------------------------

@pytest.mark.django_db
@pytest.mark.parametrize("local,expected_utc", [
    (datetime(2027, 3, 27, 9, tzinfo=MADRID), utc(2027, 3, 27, 8)),   # the Saturday before (CET)
    (datetime(2027, 3, 28, 9, tzinfo=MADRID), utc(2027, 3, 28, 7)),   # the day of the change (CEST)
    (datetime(2027, 10, 31, 2, 30, tzinfo=MADRID), utc(2027, 10, 31, 0, 30)),  # overlap, fold=0
    (datetime(2027, 10, 31, 2, 30, fold=1, tzinfo=MADRID), utc(2027, 10, 31, 1, 30)),  # the second one
    (datetime(2027, 4, 1, 9, tzinfo=MEXICO), utc(2027, 4, 1, 15)),
])
def test_do_schedule_stores_utc_and_the_brand_reads_its_wall_time(ctx, make_target, local, expected_utc):
    target = make_target()
    services.do_schedule(ctx, target, due_at=local)
    stored = PostTarget.objects.get(pk=target.pk).due_at
    assert stored == expected_utc and stored.utcoffset() == timedelta(0)
    assert stored.astimezone(local.tzinfo).replace(tzinfo=None) == local.replace(tzinfo=None, fold=0)


@pytest.mark.django_db
def test_weekly_posts_scheduled_at_9_keep_9_across_the_change(ctx, make_target):
    """Four Mondays at 09:00 Madrid, two before and two after 2027-03-28: stored in UTC an hour
    apart, read back in the brand's zone all at 09:00."""
    mondays = [date(2027, 3, 15), date(2027, 3, 22), date(2027, 3, 29), date(2027, 4, 5)]
    stored = []
    for day in mondays:
        target = make_target()
        services.do_schedule(ctx, target, due_at=datetime.combine(day, time(9), MADRID))
        stored.append(PostTarget.objects.get(pk=target.pk).due_at)
    assert [s.hour for s in stored] == [8, 8, 7, 7]
    assert {s.astimezone(target.brand.tzinfo).strftime("%H:%M") for s in stored} == {"09:00"}
