"""listening.trends: volume buckets in UTC with the sentiment split, share of voice, rising terms,
top authors and sources, on small hand-computed fixtures."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from itertools import count

import pytest

from tertulia.listening import trends
from tertulia.listening.models import Competitor, ListeningQuery, Mention, MentionMatch

_ids = count(1)


def mention(brand, queries, at, text="hello", sentiment="neutral", **extra):
    m = Mention.objects.create(brand=brand, network=extra.pop("network", "mastodon"), external_id=str(next(_ids)),
                               text=text, created_at=at, sentiment=sentiment, **extra)
    MentionMatch.objects.bulk_create([MentionMatch(brand=brand, mention=m, query=q, created_at=at, sentiment=sentiment)
                                      for q in queries])
    return m


T0 = datetime(2026, 3, 10, 9, 0, tzinfo=UTC)


@pytest.fixture
def listening(brand_a, brand_b):
    brand, people = brand_a
    rival = Competitor.objects.create(brand=brand, name="Molienda")
    q = {
        "brand": ListeningQuery.objects.create(brand=brand, name="Us", kind="brand", text="alpha"),
        "product": ListeningQuery.objects.create(brand=brand, name="Latte", kind="product", text="latte"),
        "rival1": ListeningQuery.objects.create(brand=brand, name="Molienda name", kind="competitor", text="molienda",
                                                competitor=rival),
        "rival2": ListeningQuery.objects.create(brand=brand, name="Molienda tag", kind="competitor",
                                                text="#molienda", competitor=rival),
        "loose": ListeningQuery.objects.create(brand=brand, name="Tostadero", kind="competitor", text="tostadero"),
        "topic": ListeningQuery.objects.create(brand=brand, name="Coffee", kind="industry", text="coffee"),
    }
    other, _people = brand_b
    oq = ListeningQuery.objects.create(brand=other, name="Them", text="beta")
    mention(other, [oq], T0 + timedelta(minutes=5), sentiment="negative")  # never counted for brand A
    return brand, q


def test_volume_buckets_in_utc_with_sentiment_and_distinct_mentions(listening):
    brand, q = listening
    # 09:00-09:59 UTC: two mentions, one matched two queries (counts once for the brand).
    mention(brand, [q["brand"], q["product"]], T0 + timedelta(minutes=1), sentiment="negative")
    mention(brand, [q["brand"]], T0 + timedelta(minutes=59, seconds=59), sentiment="positive")
    # 10:00 exactly belongs to the next hour; 23:30 to the same day, 00:10 the next day.
    mention(brand, [q["product"]], T0 + timedelta(hours=1), sentiment="neutral")
    mention(brand, [q["topic"]], T0.replace(hour=23, minute=30), sentiment="negative")
    mention(brand, [q["topic"]], T0.replace(hour=0, minute=10) + timedelta(days=1))

    hours = trends.volume(brand, since=T0, until=T0 + timedelta(hours=3))
    assert hours == [(T0, 2, 1, 0, 1), (T0 + timedelta(hours=1), 1, 0, 1, 0), (T0 + timedelta(hours=2), 0, 0, 0, 0)]
    assert hours[0][0].utcoffset() == timedelta(0)
    only_product = trends.volume(brand, query_ids=[q["product"].pk], since=T0, until=T0 + timedelta(hours=2))
    assert [row[1] for row in only_product] == [1, 1]
    day0 = T0.replace(hour=0)
    days = trends.volume(brand, since=day0, until=day0 + timedelta(days=2), bucket="day")
    assert days == [(day0, 4, 2, 1, 1), (day0 + timedelta(days=1), 1, 0, 1, 0)]
    with pytest.raises(ValueError):
        trends.volume(brand, since=T0, until=T0 + timedelta(hours=1), bucket="minute")


def test_share_of_voice_groups_competitor_queries(listening):
    brand, q = listening
    at = T0 + timedelta(minutes=10)
    mention(brand, [q["brand"], q["product"]], at)  # the brand: 1 (once)
    mention(brand, [q["product"]], at)  # the brand: 2
    mention(brand, [q["brand"]], at)  # the brand: 3
    mention(brand, [q["rival1"], q["rival2"]], at)  # Molienda: 1 (once for both its queries)
    mention(brand, [q["rival2"]], at)  # Molienda: 2
    mention(brand, [q["loose"]], at)  # Tostadero (no competitor row): 1
    mention(brand, [q["topic"]], at)  # industry: not a voice
    mention(brand, [q["brand"]], T0 - timedelta(days=40))  # outside the period
    sov = trends.share_of_voice(brand, T0, T0 + timedelta(days=1))
    assert [(v["name"], v["kind"], v["mentions"]) for v in sov] == [
        ("Alpha Brand", "brand", 3), ("Molienda", "competitor", 2), ("Tostadero", "competitor", 1)]
    assert [round(v["share"], 4) for v in sov] == [0.5, round(2 / 6, 4), round(1 / 6, 4)]
    assert trends.share_of_voice(brand, T0 + timedelta(days=5), T0 + timedelta(days=6))[0]["share"] == 0.0


def test_rising_terms_against_the_baseline(listening):
    brand, q = listening
    now = T0 + timedelta(days=20)
    # Baseline (14 days before the last 24 h): "cafe" in 28 mentions (2/day), "#promo" never.
    for d in range(14):
        for k in range(2):
            mention(brand, [q["brand"]], now - timedelta(days=1 + d, hours=2 + k), text="Un café rico en Alpha")
    # The window: "cafe" 3 times (as usual: 2/day expected), "#Promo"/"frío" 4 times, "lento" twice (below 3).
    for i in range(4):
        mention(brand, [q["brand"]], now - timedelta(hours=1 + i),
                text=f"¡Qué FRÍO el café! #Promo https://x.example/{i} @alpha", title="")
    mention(brand, [q["brand"]], now - timedelta(hours=6), text="lento lento y el servicio")
    mention(brand, [q["brand"]], now - timedelta(hours=7), text="muy lento")
    rising = trends.rising_terms(brand, now)
    by_term = {t.term: t for t in rising}
    assert [t.term for t in rising] == ["#promo", "frio", "cafe"]  # "lento": 2 mentions, below the minimum
    assert by_term["cafe"].count == 4 and by_term["cafe"].baseline == 2.0 and by_term["cafe"].score == round(5 / 3, 2)
    assert by_term["#promo"].count == 4 and by_term["#promo"].baseline == 0
    assert by_term["#promo"].score == 5.0 and by_term["#promo"].is_hashtag
    assert "que" not in by_term and "el" not in by_term  # stop words
    assert not any(t.startswith("http") or t.startswith("@") or "example" in t for t in by_term)


def test_rising_terms_scores_a_usual_term_low(listening):
    brand, q = listening
    now = T0 + timedelta(days=20)
    for d in range(14):
        for k in range(2):
            mention(brand, [q["brand"]], now - timedelta(days=1 + d, hours=2 + k), text="café")
    for i in range(6):
        mention(brand, [q["brand"]], now - timedelta(hours=1 + i), text="café nuevo")
    rising = {t.term: t for t in trends.rising_terms(brand, now)}
    assert rising["cafe"].count == 6 and rising["cafe"].baseline == 2.0
    assert rising["cafe"].score == round(7 / 3, 2)
    assert rising["nuevo"].score == 7.0
    assert list(rising) == ["nuevo", "cafe"]


def test_top_authors_and_sources(listening):
    brand, q = listening
    at = T0 + timedelta(minutes=3)
    for _ in range(3):
        mention(brand, [q["brand"]], at, author_handle="@ana@m.example", author_name="Ana", author_followers=50,
                sentiment="negative")
    mention(brand, [q["brand"]], at, author_handle="@bob", author_name="Bob", author_followers=9000,
            network="bluesky")
    mention(brand, [q["topic"]], at, network="web", site="news.example", author_name="Redacción")
    mention(brand, [q["topic"]], at, network="web", site="news.example")
    mention(brand, [q["brand"]], at, network="web", site="blog.example")
    authors = trends.top_authors(brand, T0, T0 + timedelta(hours=1))
    assert [(a["handle"], a["mentions"], a["negative"]) for a in authors][:2] == [("@ana@m.example", 3, 3),
                                                                                  ("@bob", 1, 0)]
    assert len(authors) == 3  # the anonymous article is left out
    sources = trends.top_sources(brand, T0, T0 + timedelta(hours=1))
    assert [(s["source"], s["mentions"]) for s in sources] == [
        ("mastodon", 3), ("news.example", 2), ("blog.example", 1), ("bluesky", 1)]
    both = trends.authors_and_sources(brand, T0, T0 + timedelta(hours=1))
    assert both == (authors, sources)  # the page's single scan agrees with the two queries
    only_topic = trends.top_sources(brand, T0, T0 + timedelta(hours=1), query_ids=[q["topic"].pk])
    assert [(s["source"], s["mentions"]) for s in only_topic] == [("news.example", 2)]


@pytest.mark.parametrize("zone, late, early", [
    ("Europe/Madrid", (23, 30), (22, 50)),  # UTC+1: 23:30 UTC is 00:30 the next day; 22:50 is 23:50
    ("Asia/Kolkata", (18, 40), (18, 20)),  # UTC+5:30: 18:40 UTC is 00:10 the next day; 18:20 is 23:50
])
def test_days_in_the_brand_time_zone(listening, zone, late, early):
    from zoneinfo import ZoneInfo

    brand, q = listening
    tz = ZoneInfo(zone)
    mention(brand, [q["brand"]], T0.replace(hour=late[0], minute=late[1]), sentiment="negative")
    mention(brand, [q["brand"]], T0.replace(hour=early[0], minute=early[1]))
    since = datetime(2026, 3, 10, tzinfo=tz)
    days = trends.volume(brand, since=since, until=since + timedelta(days=2), bucket="day", tzinfo=tz)
    assert [(d[0], d[1], d[2]) for d in days] == [(since, 1, 0), (datetime(2026, 3, 11, tzinfo=tz), 1, 1)]
