"""listening.sources end to end: network searches against the loopback fakes (Mastodon hashtag
timeline and full-text search, Bluesky searchPosts, X recent search), a feed served on loopback,
the comments our accounts already receive, leases, backoff after failures and a 429, and the
services that create queries and sources (validation, permissions, hostile input)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone, translation

from tertulia.content.tests.test_feeds import FeedServer
from tertulia.core import notes
from tertulia.core.services import Ctx
from tertulia.listening import services, sources
from tertulia.listening.models import Mention, MentionMatch, Source
from tertulia.networks.services import do_add_account
from tests.fakes.bluesky_plugin import fake_bluesky  # noqa: F401
from tests.fakes.pytest_plugin import fake_mastodon  # noqa: F401
from tests.fakes.server import Fault
from tests.fakes.x_plugin import fake_x  # noqa: F401

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def english():
    from django.utils import translation

    with translation.override("en"):
        yield


@pytest.fixture(autouse=True)
def listening_settings(settings):
    """Loopback allowed for the fakes and the feed server (DESIGN.md §7), no jitter, clean
    rate-limit memory."""
    from tertulia.networks.ratelimit import BUCKETS
    from tertulia.publishing.engine import RATE_BOOK

    http = {"connect_timeout": 2.0, "read_timeout": 3.0, "write_timeout": 2.0, "allow_private_networks": True}
    settings.PUBLISHING = {**settings.PUBLISHING, "HTTP": http}
    settings.LISTENING_SOURCES = {"JITTER": 0.0, "HTTP": http, "FEED_TIMEOUT": 5.0}
    BUCKETS.clear()
    RATE_BOOK._states.clear()
    yield settings
    BUCKETS.clear()
    RATE_BOOK._states.clear()


@pytest.fixture
def cm(brand_a):
    brand, people = brand_a
    return Ctx(people["community_manager"], via="test"), brand


@pytest.fixture
def mastodon_account(cm, fake_mastodon):
    ctx, brand = cm
    owner = Ctx(brand.memberships.get(role="owner").user, via="test")
    return do_add_account(owner, brand, network="mastodon", handle=f"{fake_mastodon.own['username']}@fake.example",
                          access_token=fake_mastodon.token, base_url=fake_mastodon.base_url,
                          external_id=fake_mastodon.own["id"])


def make_due(source):
    Source.objects.filter(pk=source.pk).update(next_poll_at=timezone.now() - timedelta(seconds=1))


def test_mastodon_hashtag_search_stores_matches_triaged_once(cm, mastodon_account, fake_mastodon):
    ctx, brand = cm
    services.do_save_query(ctx, brand, name="Marca", kind="brand", text='#cafelento OR "café lento"')
    services.do_save_query(ctx, brand, name="Quejas", kind="industry", text="#cafelento AND (pésim* OR horrible)")
    source = services.do_save_source(ctx, brand, kind="search", account=mastodon_account, term="#cafelento",
                                     interval_seconds=600)
    good = fake_mastodon.post_as("admin", "Me encanta el #CafeLento de la plaza, ¡qué maravilla!")
    bad = fake_mastodon.post_as("mastodonpy_test_2", "Servicio pésimo en #cafelento, horrible")
    fake_mastodon.post_as("admin", "Un #cafelento antiguo", created_at=timezone.now() - timedelta(days=3))

    result = sources.poll_due_sources()
    assert result["outcomes"] == {str(source.pk): "ok"} and result["created"] == 2
    assert fake_mastodon.requests_to("GET", "/api/v1/timelines/tag/:tag")
    stored = {m.external_id: m for m in Mention.objects.filter(brand=brand)}
    assert set(stored) == {good["id"], bad["id"]}  # the 3-day-old post is before the first look-back
    complaint = stored[bad["id"]]
    assert complaint.network == "mastodon" and complaint.source_id == source.pk
    assert complaint.sentiment == "negative" and complaint.intent and complaint.toxicity is not None
    assert sorted(complaint.queries.values_list("name", flat=True)) == ["Marca", "Quejas"]
    assert list(stored[good["id"]].queries.values_list("name", flat=True)) == ["Marca"]
    assert MentionMatch.objects.get(mention=complaint, query__name="Quejas").sentiment == "negative"
    source.refresh_from_db()
    assert source.last_found == 2 and source.failures == 0 and source.last_error == [] and source.lease_until is None
    assert source.cursor and timedelta(seconds=500) < source.next_poll_at - timezone.now() <= timedelta(seconds=600)

    assert sources.poll_due_sources()["claimed"] == 0  # not due yet
    make_due(source)
    again = sources.poll_due_sources()
    assert again["created"] == 0 and Mention.objects.filter(brand=brand).count() == 2
    fake_mastodon.post_as("admin", "Otra vez en #cafelento")
    make_due(source)
    assert sources.poll_due_sources()["created"] == 1


def test_bluesky_and_x_searches(cm, fake_bluesky, fake_x, settings):
    from tertulia.networks.bluesky import jwt_expiry
    from tertulia.networks.models import SocialAccount

    ctx, brand = cm
    owner = Ctx(brand.memberships.get(role="owner").user, via="test")
    settings.NETWORK_APPS = {**settings.NETWORK_APPS, "x": {"client_id": fake_x.client_id,
                                                            "client_secret": fake_x.client_secret}}
    sky = do_add_account(owner, brand, network="bluesky", handle=fake_bluesky.own_handle,
                         access_token=fake_bluesky.access_jwt, refresh_token=fake_bluesky.refresh_jwt,
                         base_url=fake_bluesky.base_url, external_id=fake_bluesky.own_did)
    SocialAccount.objects.filter(pk=sky.pk).update(token_expires_at=jwt_expiry(fake_bluesky.access_jwt))
    answer = fake_x.issue(fake_x.own["id"])
    xacc = do_add_account(owner, brand, network="x", handle="TweepyDev", access_token=answer["access_token"],
                          refresh_token=answer["refresh_token"], base_url=fake_x.base_url, external_id=fake_x.own["id"])
    SocialAccount.objects.filter(pk=xacc.pk).update(token_expires_at=timezone.now() + timedelta(hours=2))
    sky.refresh_from_db()
    xacc.refresh_from_db()
    services.do_save_query(ctx, brand, name="Tarta", kind="product", text="tarta NEAR/2 queso")
    s1 = services.do_save_source(ctx, brand, kind="search", account=sky, term="tarta")
    s2 = services.do_save_source(ctx, brand, kind="search", account=xacc, term="tarta queso")
    fake_bluesky.add_account("ana.example.com", display_name="Ana")
    hit = fake_bluesky.post_as("ana.example.com", "La tarta de queso de ayer, increíble")
    fake_bluesky.post_as("ana.example.com", "Una tarta de manzana")  # searched, but the query does not match
    user = fake_x.add_user("pepe", "Pepe")
    tweet = fake_x.add_public_post(user["username"], "Qué buena la tarta de queso")

    result = sources.poll_due_sources()
    assert result["outcomes"] == {str(s1.pk): "ok", str(s2.pk): "ok"}
    assert fake_bluesky.requests_to("app.bsky.feed.searchPosts")[0].q("q") == "tarta"
    assert fake_x.requests_to("GET /2/tweets/search/recent")
    by_network = {m.network: m for m in Mention.objects.filter(brand=brand)}
    assert set(by_network) == {"bluesky", "x"}
    assert by_network["bluesky"].external_id == hit["uri"] and by_network["bluesky"].author_handle
    assert by_network["x"].external_id == tweet["id"] and by_network["x"].author_handle == "@pepe"
    assert by_network["x"].url.startswith("https://")

    # Search outside the app's X plan: the network's own reason, and the longest wait.
    fake_x.not_in_plan.add("GET /2/tweets/search/recent")
    make_due(s2)
    assert sources.poll_due_sources()["outcomes"] == {str(s2.pk): "failed"}
    s2.refresh_from_db()
    assert "searching posts" in notes.english(s2.last_error)
    assert s2.next_poll_at - timezone.now() > timedelta(hours=23)
    services.do_save_source(ctx, brand, s2, kind="search", account=xacc, term="tarta queso", enabled=False)
    with pytest.raises(ValidationError):
        sources.poll_now(ctx, s2)


def test_rate_limit_is_honoured_and_failures_back_off_exponentially(cm, mastodon_account, fake_mastodon):
    ctx, brand = cm
    services.do_save_query(ctx, brand, name="Marca", kind="brand", text="#cafelento")
    source = services.do_save_source(ctx, brand, kind="search", account=mastodon_account, term="#cafelento",
                                     interval_seconds=300)
    fake_mastodon.inject("GET /api/v1/timelines/tag/:tag", Fault.rate_limited(reset_in=1800, retry_after=1800))
    assert sources.poll_due_sources()["outcomes"] == {str(source.pk): "rate_limited"}
    source.refresh_from_db()
    assert source.next_poll_at - timezone.now() > timedelta(seconds=1700)
    assert source.lease_until is None and source.failures == 0
    with translation.override("es"):
        assert "limite" in notes.render(source.last_error) or "límite" in notes.render(source.last_error)

    from tertulia.networks.ratelimit import BUCKETS
    from tertulia.publishing.engine import RATE_BOOK

    BUCKETS.clear()  # the shared memory of the 429 would (rightly) keep refusing until the reset
    RATE_BOOK._states.clear()
    fake_mastodon.inject("GET /api/v1/timelines/tag/:tag", Fault("status", status=503), times=2)
    delays = []
    for _attempt in range(2):
        make_due(source)
        start = timezone.now()
        assert sources.poll_due_sources()["outcomes"] == {str(source.pk): "retry"}
        source.refresh_from_db()
        delays.append((source.next_poll_at - start).total_seconds())
    assert source.failures == 2
    assert 280 < delays[0] < 320 and 580 < delays[1] < 620  # interval · 2^(n-1)
    assert "attempt 2" in notes.english(source.last_error)
    with translation.override("es"):
        assert "intento 2" in notes.render(source.last_error)
    # A good poll clears the error and the count.
    make_due(source)
    assert sources.poll_due_sources()["outcomes"] == {str(source.pk): "ok"}
    source.refresh_from_db()
    assert source.failures == 0 and source.last_error == []


def test_a_leased_source_is_not_polled_twice(cm, mastodon_account):
    ctx, brand = cm
    source = services.do_save_source(ctx, brand, kind="search", account=mastodon_account, term="#x1")
    now = timezone.now()
    assert sources.claim(source.pk, now) is not None
    assert sources.claim(source.pk, now) is None  # the other consumer's conditional UPDATE matches nothing
    assert sources.poll_due_sources(now=now)["claimed"] == 0
    assert sources.poll_now(ctx, source, now=now).status == "skipped"
    later = now + timedelta(seconds=sources.conf("LEASE_SECONDS") + 1)
    assert sources.claim(source.pk, later) is not None  # an expired lease is taken over


FEED = """<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0"><channel><title>Noticias</title><language>es-ES</language>
<item><title>El Café Lento abre en Valencia</title><link>https://news.example/cafe-lento</link>
  <guid>n-1</guid><pubDate>{when}</pubDate><description>&lt;p&gt;Crónica de la apertura&lt;/p&gt;</description></item>
<item><title>&lt;script&gt;alert(1)&lt;/script&gt; café lento</title><link>javascript:alert(1)</link>
  <guid>n-2</guid><description>Texto</description></item>
<item><title>Otra noticia</title><link>https://news.example/otra</link><guid>n-3</guid>
  <description>Nada que ver</description></item>
</channel></rss>"""


def test_feed_source_on_loopback(cm, monkeypatch):
    from email.utils import format_datetime

    monkeypatch.setenv("TERTULIA_ALLOW_PRIVATE_NETWORKS", "1")  # the test server is on loopback
    ctx, brand = cm
    services.do_save_query(ctx, brand, name="Marca", kind="brand", text='"café lento"')
    server = FeedServer()
    try:
        body = FEED.format(when=format_datetime(timezone.now() - timedelta(hours=2)))
        server.routes["/rss"] = (200, {"Content-Type": "application/rss+xml"}, body)
        server.routes["/html"] = (200, {"Content-Type": "text/html"}, "<html><body>hola</body></html>")
        source = services.do_save_source(ctx, brand, kind="feed", url=server.url("/rss"))
        broken = services.do_save_source(ctx, brand, kind="feed", url=server.url("/html"))
        gone = services.do_save_source(ctx, brand, kind="feed", url=server.url("/missing"))
        server.routes["/big"] = (200, {"Content-Type": "application/rss+xml"},
                                 "<rss version='2.0'><channel>" + "<item><title>café lento</title></item>" * 80_000)
        server.routes["/bad"] = (200, {"Content-Type": "application/rss+xml"},
                                 "<rss version='2.0'><channel><item><title>café lento</title><item></rss>")
        big = services.do_save_source(ctx, brand, kind="feed", url=server.url("/big"))
        bad = services.do_save_source(ctx, brand, kind="feed", url=server.url("/bad"))
        result = sources.poll_due_sources()
    finally:
        server.stop()
    assert result["outcomes"] == {str(source.pk): "ok", str(broken.pk): "retry", str(gone.pk): "failed",
                                  str(big.pk): "failed", str(bad.pk): "retry"}
    big.refresh_from_db()
    bad.refresh_from_db()
    assert "larger than 2 MB" in notes.english(big.last_error)
    assert "broken" in notes.english(bad.last_error)
    # A guid is unique only within its feed: the id is the feed's address and the guid, hashed.
    import hashlib

    ids = {f"feed:{hashlib.sha256(f'{source.url}{chr(31)}{guid}'.encode()).hexdigest()}": guid for guid in ("n-1", "n-2")}
    mentions = {ids.get(m.external_id, m.external_id): m for m in Mention.objects.filter(brand=brand)}
    assert set(mentions) == {"n-1", "n-2"}
    article = mentions["n-1"]
    assert article.network == "web" and article.site == "news.example"
    assert article.url == "https://news.example/cafe-lento"
    assert article.title == "El Café Lento abre en Valencia" and article.text == "Crónica de la apertura"
    assert article.language == "es" and article.sentiment
    assert timezone.now() - article.created_at > timedelta(hours=1)
    assert mentions["n-2"].url == ""  # javascript: is never kept as a link
    broken.refresh_from_db()
    gone.refresh_from_db()
    assert "not an RSS or Atom feed" in notes.english(broken.last_error)
    assert "does not exist" in notes.english(gone.last_error)
    assert gone.next_poll_at - timezone.now() > timedelta(hours=23)  # permanent: waits the longest


def test_comments_source_reads_inbox_interactions_once(cm, mastodon_account):
    from tertulia.inbox.services import IncomingAuthor, IncomingInteraction, ingest_interactions

    ctx, brand = cm
    services.do_save_query(ctx, brand, name="Quejas", kind="brand", text="pésim* OR horrible")
    source = services.do_save_source(ctx, brand, kind="comments")

    def comment(ext, text):
        return IncomingInteraction(external_id=ext, kind="comment", text=text, created_at=timezone.now(),
                                   author=IncomingAuthor(external_id="a1", handle="@ana@fake.example"),
                                   root_external_id="root-1")

    ingest_interactions(mastodon_account, [comment("c1", "Servicio pésimo hoy"), comment("c2", "Todo bien")])
    from tertulia.listening import tasks

    assert tasks.poll_sources.call_local()["created"] == 1  # the periodic task runs the same poll
    mention = Mention.objects.get(brand=brand)
    assert mention.external_id == "c1" and mention.network == "mastodon" and mention.conversation_id
    assert mention.author_handle == "@ana@fake.example"
    source.refresh_from_db()
    cursor = int(source.cursor)
    make_due(source)
    assert sources.poll_due_sources()["created"] == 0
    source.refresh_from_db()
    assert int(source.cursor) == cursor and source.last_found == 0
    ingest_interactions(mastodon_account, [comment("c3", "Horrible la espera")])
    make_due(source)
    assert sources.poll_due_sources()["created"] == 1
    source.refresh_from_db()
    assert int(source.cursor) > cursor
    assert sorted(Mention.objects.filter(brand=brand).values_list("external_id", flat=True)) == ["c1", "c3"]


def test_query_and_source_services_refuse_bad_input(cm, brand_b, mastodon_account):
    from tertulia.networks.models import SocialAccount

    ctx, brand = cm
    with pytest.raises(ValidationError) as err:
        services.do_save_query(ctx, brand, name="Rota", kind="brand", text='cafe AND "lento')
    assert "Column" in str(err.value.message_dict["text"])
    with pytest.raises(ValidationError):
        services.do_save_query(ctx, brand, name="Larga", kind="brand", text="a" * 2001)
    with pytest.raises(ValidationError):
        services.do_save_query(ctx, brand, name="x" * 121, kind="brand", text="cafe")
    with pytest.raises(ValidationError):
        services.do_save_query(ctx, brand, name="Tipo", kind="nope", text="cafe")
    query = services.do_save_query(ctx, brand, name="  Café   lento ", kind="brand", text="cafe")
    assert query.name == "Café lento"
    with pytest.raises(ValidationError):
        services.do_save_query(ctx, brand, name="café LENTO", kind="brand", text="otro")  # same name
    analyst = Ctx(brand.memberships.get(role="analyst").user, via="test")
    with pytest.raises(PermissionDenied):
        services.do_save_query(analyst, brand, name="Nada", kind="brand", text="cafe")
    with pytest.raises(PermissionDenied):
        services.do_delete_query(analyst, query)

    b_brand, b_people = brand_b
    b_account = do_add_account(Ctx(b_people["owner"]), b_brand, network="mastodon", handle="beta@fake.example",
                               access_token="t", base_url="https://fake.example")
    with pytest.raises(ValidationError):
        services.do_save_source(ctx, brand, kind="search", account=b_account, term="#x")
    wp = do_add_account(Ctx(brand.memberships.get(role="owner").user), brand, network="telegram", handle="@canal",
                        access_token="t")
    SocialAccount.objects.filter(pk=wp.pk).update(status=SocialAccount.Status.CONNECTED)
    wp.refresh_from_db()
    with pytest.raises(ValidationError) as err:
        services.do_save_source(ctx, brand, kind="search", account=wp, term="#x")
    assert "does not let us search" in str(err.value)
    with pytest.raises(ValidationError):
        services.do_save_source(ctx, brand, kind="search", account=mastodon_account, term="")
    with pytest.raises(ValidationError):
        services.do_save_source(ctx, brand, kind="search", account=mastodon_account, term="#x", interval_seconds=5)
    for url in ("http://10.0.0.1/feed", "http://127.0.0.1/feed", "http://[::1]/rss", "javascript:alert(1)",
                "ftp://news.example/rss", "https://" + "a" * 1000 + ".example/rss", "no es una url"):
        with pytest.raises(ValidationError):
            services.do_save_source(ctx, brand, kind="feed", url=url)
    services.do_save_source(ctx, brand, kind="comments")
    with pytest.raises(ValidationError):
        services.do_save_source(ctx, brand, kind="comments")  # one per brand
    with pytest.raises(PermissionDenied):
        services.do_save_source(analyst, brand, kind="feed", url="https://news.example/rss")
    assert Source.objects.filter(brand=brand).count() == 1
