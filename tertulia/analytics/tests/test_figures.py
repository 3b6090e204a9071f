"""analytics.figures on a hand-computed fixture, in a DST week (Europe/Madrid moves from
UTC+1 to UTC+2 on Sunday 29 March 2026 at 02:00)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest
from django.utils import translation

from tertulia.analytics import figures, services
from tertulia.analytics.figures import Period
from tertulia.content.approvals import do_mark_approved
from tertulia.content.services import do_create_post
from tertulia.core.services import Ctx
from tertulia.inbox.models import Author, Conversation, Interaction
from tertulia.networks.services import do_add_account
from tertulia.publishing.services import mark_published
from tertulia.strategy.services import do_create_objective, do_save_kpi, do_save_pillar

MADRID = ZoneInfo("Europe/Madrid")
WEEK = Period(date(2026, 3, 23), date(2026, 3, 29), MADRID, "7d")


def _utc(*args):
    return datetime(*args, tzinfo=UTC)


def _post(owner, brand, account, text, published_at, *, pillar=None, format="text", **metrics):
    ctx = Ctx(owner)
    post = do_create_post(ctx, brand, text=text, accounts=[account], pillar=pillar, format=format)
    do_mark_approved(ctx, post)
    target = post.targets.get()
    mark_published(target, external_id=f"x{post.pk}", published_at=published_at)
    target.refresh_from_db()
    services.record_post_metrics([services.PostMetrics(target=target, taken_at=_utc(2026, 4, 2), **metrics)])
    return target


@pytest.fixture
def world(brand_a, brand_b):
    brand, people = brand_a
    owner = people["owner"]
    ctx = Ctx(owner)
    masto = do_add_account(ctx, brand, network="mastodon", handle="@alpha@masto.es")
    bsky = do_add_account(ctx, brand, network="bluesky", handle="alpha.bsky.social")
    producto = do_save_pillar(ctx, brand, name="Producto", target_share=50)
    p1 = _post(owner, brand, masto, "Uno", _utc(2026, 3, 24, 8, 30), pillar=producto, format="image",
               reach=1000, impressions=2000, likes=50, comments=10, shares=5, clicks=20)  # 09:30 CET, ER 6.5
    p2 = _post(owner, brand, bsky, "Dos <b>", _utc(2026, 3, 29, 8, 15), likes=30, comments=3, shares=2)  # 10:15 CEST
    p3 = _post(owner, brand, masto, "Tres", _utc(2026, 3, 29, 18, 0), pillar=producto, format="video",
               reach=400, impressions=1000, likes=2, comments=0, shares=0, clicks=5)  # 20:00 CEST, ER 0.5
    _post(owner, brand, masto, "Antes", _utc(2026, 3, 22, 11, 0), reach=100, likes=10)  # previous week, ER 10
    _post(owner, brand, masto, "Después", _utc(2026, 3, 29, 22, 30), reach=10, likes=10)  # 00:30 on the 30th
    services.record_profile_snapshots(masto, [
        services.ProfileSample(_utc(2026, 3, 10), followers=980),
        services.ProfileSample(_utc(2026, 3, 20), followers=1000),
        services.ProfileSample(_utc(2026, 3, 25, 12), followers=1010),
        services.ProfileSample(_utc(2026, 3, 29, 21, 30), followers=1050),  # 23:30 local, last of the week
        services.ProfileSample(_utc(2026, 3, 29, 22, 30), followers=1100),  # 00:30 on Monday 30th
    ])
    objective = do_create_objective(ctx, brand, name="Q1-Q2", period_start=date(2026, 3, 1),
                                    period_end=date(2026, 6, 30))
    do_save_kpi(ctx, objective, metric="engagement_rate_reach", target=5)
    do_save_kpi(ctx, objective, metric="follower_growth", target=4)
    do_save_kpi(ctx, objective, metric="response_time", target=2)
    old = do_create_objective(ctx, brand, name="2025", period_start=date(2025, 1, 1), period_end=date(2025, 12, 31))
    do_save_kpi(ctx, old, metric="ctr", target=1)
    # Inbox: 2 negative, 1 positive, 1 unclassified inbound in the week; an outbound and an
    # earlier inbound that do not count.
    author = Author.objects.create(brand=brand, network="mastodon", external_id="a1", handle="@fan")
    conv = Conversation.objects.create(brand=brand, account=masto, kind=Conversation.Kind.COMMENT, author=author,
                                       root_external_id="r1", last_message_at=_utc(2026, 3, 25))
    for i, (sentiment, direction, at) in enumerate([
            ("negative", "in", _utc(2026, 3, 24)), ("negative", "in", _utc(2026, 3, 25)),
            ("positive", "in", _utc(2026, 3, 26)), ("", "in", _utc(2026, 3, 27)),
            ("positive", "out", _utc(2026, 3, 27)), ("positive", "in", _utc(2026, 3, 1))]):
        Interaction.objects.create(brand=brand, conversation=conv, account=masto, external_id=f"i{i}", author=author,
                                   text="x", created_at=at, direction=direction, sentiment=sentiment)
    # Brand B: a post that must never show up in brand A's figures.
    other, other_people = brand_b
    other_acc = do_add_account(Ctx(other_people["owner"]), other, network="mastodon", handle="@beta@masto.es")
    _post(other_people["owner"], other, other_acc, "Beta", _utc(2026, 3, 25, 10), reach=10, likes=9)
    return {"brand": brand, "other": other, "masto": masto, "bsky": bsky, "p1": p1, "p2": p2, "p3": p3,
            "producto": producto}


# --- Periods --------------------------------------------------------------------------------------

def test_period_bounds_follow_the_brand_zone_and_dst():
    assert WEEK.start == _utc(2026, 3, 22, 23)  # Monday 00:00 CET
    assert WEEK.end == _utc(2026, 3, 29, 22)  # Monday 30th 00:00 CEST: the week is 167 hours long
    assert WEEK.previous() == Period(date(2026, 3, 16), date(2026, 3, 22), MADRID, "7d")
    assert Period.last_days(MADRID, 7, last_day=date(2026, 3, 29)) == WEEK


# The current month, quarter or year is to date: it is compared with as many days of the
# previous one (a mid-month count against a whole month would always look like a fall).
@pytest.mark.parametrize("kind,today,first,last,prev_first,prev_last", [
    ("month", date(2026, 3, 15), date(2026, 3, 1), date(2026, 3, 31), date(2026, 2, 1), date(2026, 2, 15)),
    ("month", date(2026, 1, 5), date(2026, 1, 1), date(2026, 1, 31), date(2025, 12, 1), date(2025, 12, 5)),
    ("month", date(2026, 3, 30), date(2026, 3, 1), date(2026, 3, 31), date(2026, 2, 1), date(2026, 2, 28)),
    ("month", date(2026, 4, 30), date(2026, 4, 1), date(2026, 4, 30), date(2026, 3, 1), date(2026, 3, 31)),
    ("quarter", date(2026, 5, 2), date(2026, 4, 1), date(2026, 6, 30), date(2026, 1, 1), date(2026, 2, 1)),
    ("quarter", date(2026, 2, 2), date(2026, 1, 1), date(2026, 3, 31), date(2025, 10, 1), date(2025, 11, 2)),
    ("year", date(2024, 7, 1), date(2024, 1, 1), date(2024, 12, 31), date(2023, 1, 1), date(2023, 7, 2)),
    ("30d", date(2026, 3, 31), date(2026, 3, 2), date(2026, 3, 31), date(2026, 1, 31), date(2026, 3, 1)),
])
def test_period_kinds_and_previous(kind, today, first, last, prev_first, prev_last):
    p = Period.of_kind(kind, MADRID, today=today)
    assert (p.first_day, p.last_day) == (first, last)
    assert (p.previous().first_day, p.previous().last_day) == (prev_first, prev_last)


def test_a_past_month_is_compared_with_the_whole_previous_month():
    p = Period.month(MADRID, 2026, 3)
    assert (p.previous().first_day, p.previous().last_day) == (date(2026, 2, 1), date(2026, 2, 28))
    assert Period.containing("year", MADRID, date(2024, 7, 1)).previous().last_day == date(2023, 12, 31)


def test_custom_period_is_validated():
    with pytest.raises(ValueError):
        Period.custom(MADRID, date(2026, 3, 2), date(2026, 3, 1))
    with pytest.raises(ValueError):
        Period.custom(MADRID, date(2024, 1, 1), date(2026, 1, 1))
    assert Period.custom(MADRID, date(2026, 3, 1), date(2026, 3, 1)).days == 1


@pytest.mark.parametrize("actual,target,lower,light", [
    (5.0, 5, False, "ok"), (4.5, 5, False, "warn"), (4.49, 5, False, "fail"), (None, 5, False, "unknown"),
    (2.0, 2, True, "ok"), (2.2, 2, True, "warn"), (2.3, 2, True, "fail"), (0.0, 0, False, "ok"),
])
def test_traffic_light_rule(actual, target, lower, light):
    assert figures.kpi_light(actual, target, lower) == light


# --- Posts ---------------------------------------------------------------------------------------

def test_totals_are_hand_computed(world):
    t = figures.post_totals([world["brand"].pk], WEEK)
    assert t.posts == 3
    assert (t.impressions, t.reach, t.engagements, t.clicks) == (3000, 1400, 102, 25)
    assert t.engagement_rate == pytest.approx(67 / 1400 * 100)  # p2 has no reach: out of the rate
    assert t.ctr == pytest.approx(25 / 3000 * 100)
    assert t.saves is None and t.video_views is None  # nobody reported them: unknown, not 0


def test_unknown_stays_none_for_an_empty_period(world):
    t = figures.post_totals([world["brand"].pk], Period(date(2020, 1, 1), date(2020, 1, 7), MADRID))
    assert t.posts == 0
    assert (t.impressions, t.reach, t.engagements, t.engagement_rate, t.ctr) == (None,) * 5


def test_by_hour_uses_the_local_hour_across_dst(world):
    hours = figures.by_hour([world["brand"].pk], WEEK)
    assert [h.key for h in hours] == list(range(24))
    assert {h.key: h.posts for h in hours if h.posts} == {9: 1, 10: 1, 20: 1}
    assert hours[9].engagement_rate == pytest.approx(6.5)
    assert hours[10].engagement_rate is None and hours[10].engagements == 35
    assert hours[20].engagement_rate == pytest.approx(0.5)
    assert hours[3].reach is None and hours[3].posts == 0


def test_by_network_format_and_pillar(world):
    ids = [world["brand"].pk]
    nets = {g.key: g for g in figures.by_network(ids, WEEK)}
    assert nets["bluesky"].posts == 1 and nets["bluesky"].reach is None and nets["bluesky"].engagement_rate is None
    assert nets["mastodon"].engagement_rate == pytest.approx(67 / 1400 * 100)
    formats = {g.key: g.engagement_rate for g in figures.by_format(ids, WEEK)}
    assert formats == {"image": pytest.approx(6.5), "text": None, "video": pytest.approx(0.5)}
    with translation.override("es"):
        pillars = figures.by_pillar(ids, WEEK)
    assert [(g.label, g.posts) for g in pillars] == [("Producto", 2), ("Sin pilar", 1)]


def test_top_and_bottom_posts(world):
    ids = [world["brand"].pk]
    top = figures.top_posts(ids, WEEK)
    assert [p.target_id for p in top] == [world["p1"].pk, world["p3"].pk]  # p2's rate is unknown
    assert top[0].engagement_rate == pytest.approx(6.5) and top[0].network == "mastodon"
    assert top[0].published_at == _utc(2026, 3, 24, 8, 30)
    bottom = figures.top_posts(ids, WEEK, bottom=True)
    assert [p.target_id for p in bottom] == [world["p3"].pk, world["p1"].pk]
    assert figures.top_posts(ids, WEEK, 1)[0].target_id == world["p1"].pk


def test_missing_metrics_are_explained(world):
    ids = [world["brand"].pk]
    missing = {(m.network, m.metric): m for m in figures.missing_metrics(ids, figures.by_network(ids, WEEK))}
    assert ("bluesky", "reach") in missing and ("mastodon", "saves") in missing
    assert ("mastodon", "reach") not in missing
    with translation.override("en"):
        assert missing[("bluesky", "reach")].explanation == "Bluesky does not report reach for these posts."


# --- Community, inbox ----------------------------------------------------------------------------

def test_community_growth(world):
    g = figures.community_growth([world["brand"].pk], WEEK)
    by_handle = {a.handle: a for a in g.accounts}
    masto = by_handle["@alpha@masto.es"]
    assert (masto.start, masto.end, masto.net) == (1000, 1050, 50)  # the 00:30 Monday sample is next week
    assert masto.rate == pytest.approx(5.0)
    bsky = by_handle["alpha.bsky.social"]
    assert (bsky.start, bsky.end, bsky.net, bsky.rate) == (None, None, None, None)
    assert (g.net, g.rate, g.followers_end) == (50, pytest.approx(5.0), 1050)
    assert [(d, f) for d, _a, _h, f in g.series] == [(date(2026, 3, 25), 1010), (date(2026, 3, 29), 1050)]


def test_sentiment_mix(world):
    mix = figures.sentiment_mix([world["brand"].pk], WEEK)
    assert (mix.negative, mix.neutral, mix.positive, mix.unclassified) == (2, 0, 1, 1)
    assert mix.share("negative") == pytest.approx(200 / 3)
    empty = figures.sentiment_mix([world["brand"].pk], Period(date(2020, 1, 1), date(2020, 1, 2), MADRID))
    assert empty.share("positive") is None


# --- KPIs and the whole dashboard ------------------------------------------------------------------

def test_kpi_status_light_and_trend(world):
    status = {k.metric: k for k in figures.kpi_status([world["brand"].pk], WEEK)}
    assert set(status) == {"engagement_rate_reach", "follower_growth", "response_time"}  # 2025's CTR is not active
    er = status["engagement_rate_reach"]
    assert er.actual == pytest.approx(67 / 1400 * 100) and er.status == "warn"
    assert er.previous == pytest.approx(10.0) and (er.trend, er.improving) == ("down", False)
    growth = status["follower_growth"]
    assert growth.status == "ok" and growth.actual == pytest.approx(5.0)
    assert growth.previous == pytest.approx((1000 - 980) / 980 * 100) and growth.trend == "up"
    rt = status["response_time"]
    assert (rt.actual, rt.status, rt.trend, rt.unit, rt.lower_is_better) == (None, "unknown", None, "h", True)


def test_isolation_and_cross_brand(world):
    a, b = world["brand"].pk, world["other"].pk
    assert figures.post_totals([b], WEEK).posts == 1
    assert figures.post_totals([a, b], WEEK).posts == 4
    assert all(p.brand_id == a for p in figures.top_posts([a], WEEK, 50))
    d = figures.dashboard([a, b], WEEK)
    assert [r.name for r in d.brands] == ["Alpha Brand", "Beta Brand"]
    assert d.brands[0].posts == 3 and d.brands[1].engagement_rate == pytest.approx(90.0)
    assert d.brands[1].followers is None  # no snapshots: unknown
    single = figures.dashboard([a], WEEK)
    assert single.brands == [] and single.totals.posts == 3 and single.previous_totals.posts == 1
    assert {p.target_id for p in single.top}.isdisjoint(p.target_id for p in single.bottom)
