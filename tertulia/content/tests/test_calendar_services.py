"""calendar: local time and DST, the range query and its filters, the pillar mix, and
do_reschedule_post (permissions, refusals, version conflict, scheduled targets)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from tertulia.content import calendar as cal
from tertulia.content.models import Post
from tertulia.core.models import AuditEvent, Brand
from tertulia.core.services import Ctx
from tertulia.publishing import services as publishing
from tertulia.publishing.models import PostTarget

from .test_calendar_kit import build, future, post

pytestmark = pytest.mark.django_db
MADRID = ZoneInfo("Europe/Madrid")


@pytest.fixture(autouse=True)
def _english():
    from django.utils import translation

    with translation.override("en"):
        yield


# --- Local time ------------------------------------------------------------------------------

def test_a_time_skipped_by_spring_forward_moves_to_the_change():
    # 2026-03-29: Madrid goes from 02:00 CET straight to 03:00 CEST.
    aware = cal.make_aware_local(datetime(2026, 3, 29, 2, 30), MADRID)
    assert aware.astimezone(UTC) == datetime(2026, 3, 29, 1, 0, tzinfo=UTC)
    assert aware.astimezone(MADRID).strftime("%H:%M %Z") == "03:00 CEST"
    # The edges: 01:59 still exists in CET; 03:00 exists in CEST.
    assert cal.make_aware_local(datetime(2026, 3, 29, 1, 59), MADRID).astimezone(UTC).hour == 0
    assert cal.make_aware_local(datetime(2026, 3, 29, 3, 0), MADRID).astimezone(UTC) == datetime(
        2026, 3, 29, 1, 0, tzinfo=UTC)


def test_an_ambiguous_time_takes_its_first_occurrence():
    # 2026-10-25: 02:00–03:00 happens twice in Madrid (CEST, then CET).
    aware = cal.make_aware_local(datetime(2026, 10, 25, 2, 30), MADRID)
    assert aware.astimezone(UTC) == datetime(2026, 10, 25, 0, 30, tzinfo=UTC)  # CEST, +02:00


def test_days_are_local_midnights():
    lo, hi = cal.day_bounds(date(2026, 3, 29), date(2026, 3, 29), MADRID)
    assert lo == datetime(2026, 3, 28, 23, 0, tzinfo=UTC)
    assert hi == datetime(2026, 3, 29, 22, 0, tzinfo=UTC)  # a 23-hour day


def test_parse_date_accepts_iso_and_spanish_and_refuses_the_rest():
    assert cal.parse_date("2026-05-04") == date(2026, 5, 4)
    assert cal.parse_date("04/05/2026") == date(2026, 5, 4)
    for bad in ("", "2026-13-01", "31/02/2026", "mañana", "2026-05-04T10:00", "9" * 5000, None):
        assert cal.parse_date(bad) is None


def test_month_range_is_whole_weeks_from_monday():
    start, end = cal.month_range(date(2026, 11, 25))
    assert start == date(2026, 10, 26) and start.weekday() == 0
    assert end == date(2026, 12, 6) and end.weekday() == 6


# --- Range query and filters ------------------------------------------------------------------

def test_range_query_filters_by_network_pillar_state_campaign_and_author(brand_a, brand_b):
    c = build(brand_a)
    when = future(5)
    educar = post(c, "Educar en Mastodon", when=when, pillar=c.pillar, campaign=c.campaign)
    bsky = post(c, "Entretener en Bluesky", when=when, accounts=[c.bluesky], pillar=c.other_pillar, approve=True)
    by_cm = post(c, "Del CM", when=when, by=Ctx(c.people["community_manager"]))
    post(c, "Fuera del rango", when=when + timedelta(days=60))
    brands = Brand.objects.filter(pk=c.brand.pk)
    lo, hi = cal.day_bounds(when.date() - timedelta(days=1), when.date() + timedelta(days=1), c.brand.tzinfo)
    user = c.people["analyst"]

    def ids(**params):
        return {p.pk for p in cal.posts_between(user, brands, lo, hi, cal.parse_filters(params, brands))}

    assert ids() == {educar.pk, bsky.pk, by_cm.pk}
    assert ids(network="bluesky") == {bsky.pk}
    assert ids(pillar=str(c.pillar.pk)) == {educar.pk}
    assert ids(state="scheduled") == {bsky.pk}
    assert ids(campaign=str(c.campaign.pk)) == {educar.pk}
    assert ids(author=str(c.people["community_manager"].pk)) == {by_cm.pk}


def test_bad_filters_are_ignored_with_a_note(brand_a, brand_b):
    c = build(brand_a)
    b_brand, b_people = brand_b
    from tertulia.strategy import services as strategy_services

    b_pillar = strategy_services.do_save_pillar(Ctx(b_people["owner"]), b_brand, name="Beta pillar", target_share=10)
    brands = Brand.objects.filter(pk=c.brand.pk)
    f = cal.parse_filters({"network": "myspace", "pillar": str(b_pillar.pk), "state": "<script>",
                           "campaign": "1e9999", "author": str(b_people["owner"].pk)}, brands)
    assert f.network == "" and f.pillar is None and f.state == "" and f.campaign is None and f.author_id is None
    assert len(f.notes) == 5
    assert not f.active()


def test_a_user_never_sees_posts_of_a_brand_they_are_not_in(brand_a, brand_b):
    c = build(brand_a)
    b_brand, b_people = brand_b
    p = post(c, "Alpha only", when=future(2))
    lo, hi = timezone.now(), timezone.now() + timedelta(days=30)
    both = Brand.objects.filter(pk__in=[c.brand.pk, b_brand.pk])
    assert list(cal.posts_between(b_people["owner"], both, lo, hi)) == []
    assert [x.pk for x in cal.posts_between(c.people["client_reviewer"], both, lo, hi)] == [p.pk]


def test_pillar_mix_compares_actual_share_with_target(brand_a):
    c = build(brand_a)
    when = future(4)
    posts = [post(c, f"E{i}", when=when, pillar=c.pillar) for i in range(3)] + [post(c, "X", when=when)]
    mix = cal.pillar_mix(posts, [c.pillar, c.other_pillar])
    rows = {r["pillar"].name: r for r in mix["rows"]}
    assert mix["total"] == 4 and mix["untagged"] == 1 and mix["untagged_share"] == 25
    assert (rows["Educar"]["count"], rows["Educar"]["share"], rows["Educar"]["gap"]) == (3, 75, 15)
    assert (rows["Entretener"]["count"], rows["Entretener"]["share"], rows["Entretener"]["gap"]) == (0, 0, -40)
    assert mix["formats"] == [{"label": "Text", "count": 4, "share": 100}]
    # Canceled posts are not part of the mix.
    Post.objects.filter(pk=posts[0].pk).update(state=Post.State.CANCELED)
    posts[0].refresh_from_db()
    assert cal.pillar_mix(posts, [c.pillar])["total"] == 3


# --- Moving a post -----------------------------------------------------------------------------

def test_moving_a_draft_keeps_its_state_and_moves_its_targets(brand_a):
    c = build(brand_a)
    p = post(c, "Borrador", when=future(3), accounts=[c.mastodon, c.bluesky])
    new = future(6, hour=15)
    version = p.version
    moved = cal.do_reschedule_post(Ctx(c.people["community_manager"]), p, new)
    assert moved.scheduled_at == new and moved.version == version + 1 and moved.state == Post.State.DRAFT
    assert Post.objects.get(pk=p.pk).scheduled_at == new
    assert {(t.state, t.due_at) for t in p.targets.all()} == {(PostTarget.State.DRAFT, new)}
    event = AuditEvent.objects.filter(action="post.reschedule", object_id=str(p.pk)).get()
    assert event.changes["scheduled_at"][0] != event.changes["scheduled_at"][1]


def test_a_naive_time_is_the_brands_local_time_across_dst(brand_a):
    c = build(brand_a)
    p = post(c, "DST", when=future(3))
    year = timezone.now().year + 1
    # Last Sunday of March and of October next year, found rather than hard-coded.
    march = max(date(year, 3, d) for d in range(25, 32) if date(year, 3, d).weekday() == 6)
    october = max(date(year, 10, d) for d in range(25, 32) if date(year, 10, d).weekday() == 6)
    moved = cal.do_reschedule_post(c.owner, p, datetime.combine(march, datetime.min.time()).replace(hour=2, minute=30))
    assert moved.scheduled_at.astimezone(MADRID).strftime("%H:%M") == "03:00"
    moved = cal.do_reschedule_post(c.owner, moved, datetime(october.year, october.month, october.day, 2, 30))
    assert moved.scheduled_at.astimezone(UTC).strftime("%H:%M") == "00:30"  # first (CEST) occurrence


def test_moving_refuses_published_and_canceled_posts_and_the_past(brand_a):
    c = build(brand_a)
    p = post(c, "Publicado", when=future(1), approve=True)
    target = p.targets.get()
    assert publishing.mark_published(target, external_id="1")
    p.refresh_from_db()
    assert p.state == Post.State.PUBLISHED
    with pytest.raises(ValidationError, match="published or canceled"):
        cal.do_reschedule_post(c.owner, p, future(5))
    draft = post(c, "Borrador", when=future(2))
    with pytest.raises(ValidationError, match="future"):
        cal.do_reschedule_post(c.owner, draft, timezone.now() - timedelta(minutes=5))
    draft.refresh_from_db()
    assert draft.scheduled_at == future(2)


def test_moving_needs_compose(brand_a):
    c = build(brand_a)
    p = post(c, "Hola", when=future(2))
    for role in ("analyst", "client_reviewer"):
        with pytest.raises(PermissionDenied):
            cal.do_reschedule_post(Ctx(c.people[role]), p, future(4))
    p.refresh_from_db()
    assert p.scheduled_at == future(2)


def test_a_move_based_on_an_old_version_is_refused(brand_a):
    c = build(brand_a)
    p = post(c, "Hola", when=future(2))
    stale = Post.objects.get(pk=p.pk)
    cal.do_reschedule_post(c.owner, p, future(3))  # someone else moves it first
    with pytest.raises(ValidationError, match="Reload"):
        cal.do_reschedule_post(Ctx(c.people["community_manager"]), stale, future(8))
    p.refresh_from_db()
    assert p.scheduled_at == future(3)
    # An explicit version the caller saw counts too.
    with pytest.raises(ValidationError, match="Reload"):
        cal.do_reschedule_post(c.owner, p, future(8), version=p.version - 1)


def test_scheduled_targets_are_rescheduled_through_publishing(brand_a, django_capture_on_commit_callbacks):
    c = build(brand_a)
    p = post(c, "Programado", when=future(2), accounts=[c.mastodon, c.bluesky], approve=True)
    assert p.state == Post.State.SCHEDULED
    before = {t.pk: t.version for t in p.targets.all()}
    new = future(9, hour=8, minute=45)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        cal.do_reschedule_post(c.owner, p, new)
    targets = list(p.targets.all())
    assert {(t.state, t.due_at) for t in targets} == {(PostTarget.State.SCHEDULED, new)}
    assert all(t.version > before[t.pk] for t in targets)
    assert len(callbacks) == 2  # one publishing task queued per target, for the new time
    assert AuditEvent.objects.filter(action="target.schedule", brand=c.brand).count() == 2


def test_an_approved_post_without_a_time_is_scheduled_when_moved_onto_the_calendar(
        brand_a, django_capture_on_commit_callbacks):
    """Approved with no time, then dragged onto a day: it must actually go out then."""
    c = build(brand_a)
    p = post(c, "Aprobado sin hora", when=None, accounts=[c.mastodon], approve=True)
    assert p.state == Post.State.APPROVED
    new = future(4, hour=10, minute=0)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        cal.do_reschedule_post(c.owner, p, new)
    p.refresh_from_db()
    assert p.state == Post.State.SCHEDULED
    (target,) = p.targets.all()
    assert (target.state, target.due_at) == (PostTarget.State.SCHEDULED, new)
    assert len(callbacks) == 1  # its publishing task is queued for the new time


def test_a_target_being_published_blocks_the_move(brand_a):
    c = build(brand_a)
    p = post(c, "En vuelo", when=future(2), approve=True)
    PostTarget.objects.filter(post=p).update(state=PostTarget.State.PUBLISHING)
    with pytest.raises(ValidationError, match="being published"):
        cal.do_reschedule_post(c.owner, p, future(5))
    p.refresh_from_db()
    assert p.scheduled_at == future(2)
