"""Queue slots: their CRUD, the next free slot, and "add to queue" (issue 4)."""

from __future__ import annotations

import threading
from datetime import datetime, time, timedelta, timezone

import pytest
from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection
from django.utils import timezone as dj_timezone
from django.utils import translation

from tertulia.content.models import Post
from tertulia.content.approvals import do_approve, do_mark_approved
from tertulia.content.services import do_create_post
from tertulia.core.models import AuditEvent
from tertulia.core.services import Ctx, do_add_member
from tertulia.publishing import services
from tertulia.publishing.models import PostTarget, QueueSlot
from tertulia.publishing.slots import MAX_SLOTS, next_free_slot, parse_wall_time, upcoming

UTC = timezone.utc
S = PostTarget.State


def utc(*args) -> datetime:
    return datetime(*args, tzinfo=UTC)


@pytest.fixture
def member(brand, make_user, ctx):
    def make(role: str):
        user = make_user(f"{role}_{brand.pk}")
        do_add_member(ctx, brand, user, role)
        return Ctx(user, via="test")

    return make


def every_day(ctx, brand, *walls):
    return services.do_add_slots(ctx, brand, weekdays=range(7), times=walls)


# --- CRUD -----------------------------------------------------------------------------------

@pytest.mark.django_db
def test_bulk_add_weekdays_at_two_times_is_idempotent(ctx, brand):
    created = services.do_add_slots(ctx, brand, weekdays=[0, 1, 2, 3, 4], times=["09:00", "17:30"])
    assert len(created) == 10
    assert sorted(QueueSlot.objects.filter(brand=brand).values_list("weekday", "time"))[:2] == [
        (0, time(9)), (0, time(17, 30))]
    # Adding them again, plus Saturday, creates only Saturday's.
    again = services.do_add_slots(ctx, brand, weekdays=[0, 5], times=["9:00", "17.30"])
    assert sorted((s.weekday, s.time) for s in again) == [(5, time(9)), (5, time(17, 30))]
    assert QueueSlot.objects.filter(brand=brand).count() == 12
    assert AuditEvent.objects.filter(action="queue_slot.create", brand=brand).count() == 2


@pytest.mark.django_db
@pytest.mark.parametrize("weekdays,times,field", [
    ([7], ["09:00"], "weekday"), ([-1], ["09:00"], "weekday"), (["lunes"], ["09:00"], "weekday"),
    ([True], ["09:00"], "weekday"), ([], ["09:00"], "weekday"), ([10**30], ["09:00"], "weekday"),
    ([0], ["25:00"], "time"), ([0], ["09:60"], "time"), ([0], ["<script>alert(1)</script>"], "time"),
    ([0], ["9" * 10_000], "time"), ([0], ["09:00\x00"], "time"), ([0], [], "time"), ([0], [None], "time"),
    ([0], ["09:00:30"], "time"),
])
def test_hostile_slot_input_is_refused(ctx, brand, weekdays, times, field):
    with pytest.raises(ValidationError) as exc:
        services.do_add_slots(ctx, brand, weekdays=weekdays, times=times)
    assert field in exc.value.message_dict
    assert not QueueSlot.objects.filter(brand=brand).exists()


@pytest.mark.django_db
def test_slot_count_is_capped(ctx, brand):
    walls = [f"{h:02d}:00" for h in range(24)]
    services.do_add_slots(ctx, brand, weekdays=range(7), times=walls)
    assert QueueSlot.objects.filter(brand=brand).count() == MAX_SLOTS
    with pytest.raises(ValidationError):
        services.do_add_slots(ctx, brand, weekdays=[0], times=["08:30"])
    assert QueueSlot.objects.filter(brand=brand).count() == MAX_SLOTS


@pytest.mark.django_db
def test_parse_wall_time_drops_seconds_of_a_time_object():
    assert parse_wall_time(time(9, 15, 42)) == time(9, 15)
    assert parse_wall_time(" 7:05 ") == time(7, 5)


@pytest.mark.django_db
@pytest.mark.parametrize("role,allowed", [("manager", True), ("community_manager", True), ("analyst", False),
                                          ("client_reviewer", False)])
def test_slot_roles(brand, member, role, allowed):
    who = member(role)
    if allowed:
        (slot,) = services.do_add_slots(who, brand, weekdays=[2], times=["10:00"])
        services.do_delete_slot(who, slot)
        assert not QueueSlot.objects.filter(brand=brand).exists()
        assert AuditEvent.objects.filter(action="queue_slot.delete", actor=who.user).exists()
    else:
        with pytest.raises(PermissionDenied):
            services.do_add_slots(who, brand, weekdays=[2], times=["10:00"])
        slot = QueueSlot.objects.create(brand=brand, weekday=2, time=time(10))
        with pytest.raises(PermissionDenied):
            services.do_delete_slot(who, slot)
        assert QueueSlot.objects.filter(pk=slot.pk).exists()


@pytest.mark.django_db
def test_a_stranger_cannot_touch_another_brands_slots(ctx, brand, tenant):
    other, people = tenant("Other")
    stranger = Ctx(people["owner"], via="test")
    with pytest.raises(PermissionDenied):
        services.do_add_slots(stranger, brand, weekdays=[0], times=["09:00"])
    (slot,) = services.do_add_slots(ctx, brand, weekdays=[0], times=["09:00"])
    with pytest.raises(PermissionDenied):
        services.do_delete_slot(stranger, slot)


# --- The next free slot ---------------------------------------------------------------------

def _post(brand, at, state="scheduled"):
    return Post.objects.create(brand=brand, text="held", state=state, scheduled_at=at)


@pytest.mark.django_db
def test_next_free_slot_skips_minutes_held_by_the_brands_posts(ctx, brand, tenant):
    services.do_add_slots(ctx, brand, weekdays=[0], times=["09:00", "12:00"])  # Mondays, Madrid (CET in Dec)
    after = utc(2026, 11, 30, 0)  # a Monday
    assert next_free_slot(brand, after=after) == utc(2026, 11, 30, 8)
    _post(brand, utc(2026, 11, 30, 8, 0, 30))  # the same minute, seconds aside
    assert next_free_slot(brand, after=after) == utc(2026, 11, 30, 11)
    _post(brand, utc(2026, 11, 30, 11), state="pending_approval")  # a queued post in review holds it too
    assert next_free_slot(brand, after=after) == utc(2026, 12, 7, 8)
    # A canceled post frees its slot; another brand's post never holds ours.
    Post.objects.filter(scheduled_at=utc(2026, 11, 30, 11)).update(state="canceled")
    other, _people = tenant("Other")
    _post(other, utc(2026, 11, 30, 11))
    assert next_free_slot(brand, after=after) == utc(2026, 11, 30, 11)


@pytest.mark.django_db
def test_next_free_slot_is_strictly_after_and_none_without_slots(ctx, brand):
    assert next_free_slot(brand) is None
    services.do_add_slots(ctx, brand, weekdays=[0], times=["09:00"])
    assert next_free_slot(brand, after=utc(2026, 11, 30, 8)) == utc(2026, 12, 7, 8)
    found = next_free_slot(brand)
    assert found > dj_timezone.now() and found.astimezone(brand.tzinfo).strftime("%a %H:%M") == "Mon 09:00"


@pytest.mark.django_db
def test_a_year_of_taken_slots_means_no_free_slot(ctx, brand):
    services.do_add_slots(ctx, brand, weekdays=[0], times=["09:00"])
    after = utc(2026, 11, 30, 0)
    taken = [s.at for s in upcoming(brand, after=after, count=60)]
    Post.objects.bulk_create([Post(brand=brand, text="held", state="scheduled", scheduled_at=at) for at in taken])
    assert next_free_slot(brand, after=after) is None


# --- Add to queue ---------------------------------------------------------------------------

@pytest.mark.django_db
def test_add_an_approved_post_to_the_queue_schedules_its_targets(ctx, brand, make_target):
    every_day(ctx, brand, "09:00", "18:00")
    target = make_target()
    post = target.post
    assert post.state == "approved" and target.state == S.APPROVED
    expected = next_free_slot(brand)
    services.do_add_to_queue(ctx, post)
    post.refresh_from_db()
    target.refresh_from_db()
    assert post.scheduled_at == expected and post.state == "scheduled"
    assert target.state == S.SCHEDULED and target.due_at == expected
    assert AuditEvent.objects.filter(action="post.queue", object_id=str(post.pk)).exists()
    assert AuditEvent.objects.filter(action="target.schedule", object_id=str(target.pk)).exists()


@pytest.mark.django_db
def test_a_post_in_review_only_gets_the_time_and_approval_schedules_it(ctx, brand, account):
    every_day(ctx, brand, "10:15")
    post = do_create_post(ctx, brand, text="En revisión", accounts=[account], submit=True)
    services.do_add_to_queue(ctx, post)
    post.refresh_from_db()
    target = post.targets.get()
    assert post.state == "pending_approval" and post.scheduled_at is not None
    assert target.state == S.PENDING_APPROVAL and target.due_at == post.scheduled_at
    assert post.scheduled_at.astimezone(brand.tzinfo).strftime("%H:%M") == "10:15"
    do_approve(ctx, post)
    target.refresh_from_db()
    assert target.state == S.SCHEDULED and target.due_at == post.scheduled_at


@pytest.mark.django_db
def test_queued_posts_take_consecutive_slots(ctx, brand, make_target):
    """Sequential proof of the concurrency rule: each "add to queue" looks the free slot up
    again inside its transaction, under the brand's lock, so a slot computed before another
    add is never reused."""
    every_day(ctx, brand, "09:00", "13:00", "18:00")
    first, second, third = (make_target().post for _ in range(3))
    stale_view = next_free_slot(brand)  # what a second request computed before the first committed
    services.do_add_to_queue(ctx, first)
    services.do_add_to_queue(ctx, second)
    services.do_add_to_queue(ctx, third)
    times = [Post.objects.get(pk=p.pk).scheduled_at for p in (first, second, third)]
    assert times[0] == stale_view and len(set(times)) == 3 and times == sorted(times)
    assert times == [s.at for s in upcoming(brand, count=3)]
    # Queuing the first again keeps it in its own slot (it does not hold itself).
    services.do_add_to_queue(ctx, first)
    assert Post.objects.get(pk=first.pk).scheduled_at == times[0]


@pytest.mark.django_db
def test_add_to_queue_validates_like_scheduling_and_changes_nothing_on_refusal(ctx, brand, account):
    every_day(ctx, brand, "09:00")
    post = do_create_post(ctx, brand, text="x" * 600, accounts=[account], submit=True)  # Mastodon: 500
    do_mark_approved(ctx, post)
    with pytest.raises(ValidationError) as exc:
        services.do_add_to_queue(ctx, post)
    assert "text" in exc.value.message_dict
    post.refresh_from_db()
    assert post.scheduled_at is None and post.state == "approved"
    assert post.targets.get().state == S.APPROVED


@pytest.mark.django_db
def test_add_to_queue_refusals(ctx, brand, make_target, member):
    target = make_target()
    with pytest.raises(ValidationError) as exc:
        services.do_add_to_queue(ctx, target.post)  # no slots
    assert exc.value.code == "no_slot"
    every_day(ctx, brand, "09:00")
    with pytest.raises(PermissionDenied):
        services.do_add_to_queue(member("analyst"), target.post)
    Post.objects.filter(pk=target.post_id).update(state="published")
    with pytest.raises(ValidationError) as exc:
        services.do_add_to_queue(ctx, target.post)
    assert exc.value.code == "state"


@pytest.mark.django_db
def test_first_comment_and_images_are_validated_at_schedule_time(ctx, brand, make_target, settings, tmp_path):
    from tertulia.content.models import PostMedia
    from tertulia.content.services import do_upload_media
    from tertulia.core.tests.web_helpers import generated_png

    settings.MEDIA_ROOT = str(tmp_path)
    target = make_target()
    Post.objects.filter(pk=target.post_id).update(first_comment="y" * 600)
    target.post.refresh_from_db()
    with translation.override("en"), pytest.raises(ValidationError) as exc:
        services.do_schedule(ctx, target, due_at=dj_timezone.now() + timedelta(days=1))
    assert list(exc.value.message_dict) == ["first_comment"]
    assert exc.value.message_dict["first_comment"][0].startswith("First comment: ")
    Post.objects.filter(pk=target.post_id).update(first_comment="Más detalles en el blog")
    target.post.refresh_from_db()
    for i in range(5):  # Mastodon takes 4 images
        asset = do_upload_media(ctx, brand, generated_png(64 + i, 64))
        PostMedia.objects.create(post=target.post, asset=asset, position=i)
    with pytest.raises(ValidationError) as exc:
        services.do_schedule(ctx, target, due_at=dj_timezone.now() + timedelta(days=1))
    assert list(exc.value.message_dict) == ["media"]
    PostMedia.objects.filter(post=target.post, position=4).delete()
    services.do_schedule(ctx, target, due_at=dj_timezone.now() + timedelta(days=1))
    assert PostTarget.objects.get(pk=target.pk).state == S.SCHEDULED


ON_POSTGRES = "postgresql" in settings.DATABASES["default"]["ENGINE"]


if ON_POSTGRES:  # defined only there (a skip fails CI): SQLite's in-memory test database reports
    # "table is locked" to concurrent writers instead of waiting (see test_concurrency.py).

    @pytest.mark.django_db(transaction=True)
    def test_concurrent_add_to_queue_never_share_a_slot(ctx, brand, make_target):
        every_day(ctx, brand, "09:00", "13:00", "18:00")
        posts = [make_target().post for _ in range(6)]
        start, errors = threading.Barrier(len(posts)), []

        def add(post):
            try:
                start.wait()
                services.do_add_to_queue(ctx, Post.objects.get(pk=post.pk))
            except Exception as exc:  # pragma: no cover - reported below
                errors.append(exc)
            finally:
                connection.close()

        threads = [threading.Thread(target=add, args=(p,)) for p in posts]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        assert not errors
        times = list(Post.objects.filter(pk__in=[p.pk for p in posts]).values_list("scheduled_at", flat=True))
        assert len(set(times)) == len(posts)
