"""Feeds of the idea backlog, fetched from a real HTTP server on 127.0.0.1: RSS 2.0 and Atom,
conditional GET, deduplication, the private-address guard (also on redirects), size and time
limits, pages that are not feeds, hostile entries, the hourly task, the pages and the API."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from tertulia.content import feeds
from tertulia.content import ideas as idea_service
from tertulia.content.models import Feed, Idea
from tertulia.content.tasks import fetch_feeds
from tertulia.core import services as core_services
from tertulia.core.models import AuditEvent
from tertulia.core.services import Ctx
from tertulia.core.tests.web_helpers import html, messages_of
from tertulia.networks.http import HttpConfig

pytestmark = pytest.mark.django_db

RSS = """<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0" xmlns:atom="http://www.w3.org/2005/Atom" xmlns:dc="http://purl.org/dc/elements/1.1/">
<channel>
  <title>Blog de Café Luna</title>
  <link>https://cafeluna.example/blog</link>
  <description>Novedades, recetas y eventos</description>
  <language>es-es</language>
  <lastBuildDate>Tue, 24 Nov 2026 08:00:00 +0000</lastBuildDate>
  <atom:link href="https://cafeluna.example/feed.xml" rel="self" type="application/rss+xml"/>
  {items}
</channel>
</rss>"""

ITEM = """<item>
    <title>{title}</title>
    <link>https://cafeluna.example/blog/{slug}</link>
    <guid isPermaLink="false">cafeluna-{slug}</guid>
    <dc:creator>Marta</dc:creator>
    <pubDate>Mon, 23 Nov 2026 09:30:00 +0000</pubDate>
    <description><![CDATA[<p>{summary}</p><p><a href="https://cafeluna.example/blog/{slug}">Leer más</a></p>]]></description>
  </item>"""

ATOM = """<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom" xml:lang="en">
  <title type="text">Roastery News</title>
  <subtitle>Coffee, origins and brewing guides</subtitle>
  <link rel="alternate" type="text/html" href="https://roastery.example/"/>
  <link rel="self" type="application/atom+xml" href="https://roastery.example/atom.xml"/>
  <id>tag:roastery.example,2026:feed</id>
  <updated>2026-11-24T10:00:00Z</updated>
  <entry>
    <title type="html">Ethiopia &amp;amp; Kenya: a tasting flight</title>
    <link rel="alternate" type="text/html" href="https://roastery.example/posts/tasting-flight"/>
    <id>tag:roastery.example,2026:post-101</id>
    <published>2026-11-23T08:00:00Z</published>
    <updated>2026-11-23T09:00:00Z</updated>
    <author><name>Sam</name></author>
    <summary type="html">&lt;p&gt;Two &lt;strong&gt;washed&lt;/strong&gt; coffees side by side.&lt;/p&gt;</summary>
  </entry>
  <entry>
    <title>Brewing guide: the V60</title>
    <link href="https://roastery.example/posts/v60"/>
    <id>tag:roastery.example,2026:post-100</id>
    <updated>2026-11-20T09:00:00Z</updated>
    <content type="xhtml"><div xmlns="http://www.w3.org/1999/xhtml"><p>Grind, bloom, pour.</p></div></content>
  </entry>
</feed>"""

HTML_PAGE = """<!doctype html><html lang="es"><head><meta charset="utf-8"><title>Café Luna</title>
<link rel="alternate" type="application/rss+xml" href="/feed.xml"></head>
<body><h1>Bienvenidos</h1><p>Somos una cafetería de barrio.</p></body></html>"""


def rss(*items):
    return RSS.format(items="\n  ".join(ITEM.format(**i) for i in items))


FIRST = [{"title": "Nuevo menú de otoño", "slug": "menu-otono",
          "summary": "Calabaza asada, <em>pan de masa madre</em> y chocolate caliente &amp; churros."},
         {"title": "Taller de latte art", "slug": "latte-art", "summary": "Aprende a dibujar corazones."}]


class FeedServer:
    """A loopback HTTP server: ``routes[path] = (status, headers, body)`` or a callable that takes
    the handler and returns that tuple. Requests are recorded with their headers."""

    def __init__(self):
        self.routes: dict = {}
        self.requests: list[tuple[str, dict]] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):  # noqa: N802
                server.requests.append((self.path, dict(self.headers)))
                route = server.routes.get(self.path, (404, {"Content-Type": "text/plain"}, b"not found"))
                if callable(route):
                    route = route(self)
                    if route is None:
                        return
                status, headers, body = route
                body = body.encode() if isinstance(body, str) else body
                self.send_response(status)
                for key, value in headers.items():
                    self.send_header(key, value)
                if "Content-Length" not in headers and body is not None:
                    self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                try:
                    self.wfile.write(body or b"")
                except (BrokenPipeError, ConnectionResetError):
                    pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self.base = f"http://127.0.0.1:{self.port}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()

    def url(self, path):
        return self.base + path

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(timeout=5)


@pytest.fixture
def server():
    s = FeedServer()
    yield s
    s.stop()


@pytest.fixture
def setup(brand_a):
    brand, people = brand_a
    return brand, people, Ctx(people["community_manager"], via="test")


def fetch(feed, **kw):
    # The guard is always on here (whatever TERTULIA_ALLOW_PRIVATE_NETWORKS says): only the test
    # server's loopback address is let through, so nothing is ever sent to a private address.
    kw.setdefault("allow_loopback", True)
    kw.setdefault("config", HttpConfig(allow_private_networks=False, proxy=None, connect_timeout=2.0, read_timeout=5.0))
    return feeds.fetch_feed(feed, **kw)


def new_feed(brand, url):
    return Feed.objects.create(brand=brand, url=url)


XML = {"Content-Type": "application/rss+xml; charset=utf-8"}


# --- fetching and parsing -----------------------------------------------------------------------


def test_rss_entries_become_ideas_and_conditional_get_avoids_work(server, setup):
    brand, people, ctx = setup
    idea_service.do_create_idea(ctx, brand, title="Idea a mano")
    server.routes["/feed.xml"] = lambda h: ((304, {"ETag": '"v1"'}, b"") if h.headers.get("If-None-Match") == '"v1"'
                                            else (200, {**XML, "ETag": '"v1"',
                                                        "Last-Modified": "Tue, 24 Nov 2026 08:00:00 GMT"}, rss(*FIRST)))
    feed = new_feed(brand, server.url("/feed.xml"))
    assert fetch(feed) == 2
    feed.refresh_from_db()
    assert (feed.title, feed.etag, feed.last_error) == ("Blog de Café Luna", '"v1"', "")
    assert feed.modified == "Tue, 24 Nov 2026 08:00:00 GMT" and feed.last_fetched_at is not None
    ideas = list(Idea.objects.filter(brand=brand, status="idea").order_by("position"))
    # Newest entry of the feed (listed first) ends at the bottom of the column.
    assert [(i.title, i.position) for i in ideas] == [("Idea a mano", 0), ("Taller de latte art", 1),
                                                       ("Nuevo menú de otoño", 2)]
    menu = ideas[2]
    assert menu.source_url == "https://cafeluna.example/blog/menu-otono"
    assert menu.feed_guid == "cafeluna-menu-otono" and menu.feed == feed
    assert menu.notes == "Calabaza asada, pan de masa madre y chocolate caliente & churros. Leer más"
    assert "<" not in menu.notes

    assert fetch(feed) == 0  # 304
    assert server.requests[-1][1].get("If-None-Match") == '"v1"'
    assert server.requests[-1][1].get("If-Modified-Since") == "Tue, 24 Nov 2026 08:00:00 GMT"
    assert Idea.objects.filter(brand=brand).count() == 3


def test_only_new_entries_are_added(server, setup):
    brand, people, ctx = setup
    server.routes["/feed.xml"] = (200, XML, rss(*FIRST))
    feed = new_feed(brand, server.url("/feed.xml"))
    assert fetch(feed) == 2
    # A card from the feed moved on the board is not re-created or moved back.
    menu = Idea.objects.get(feed_guid="cafeluna-menu-otono")
    idea_service.do_move_idea(ctx, menu, "writing", 0)
    server.routes["/feed.xml"] = (200, XML, rss({"title": "Concierto de jazz", "slug": "jazz", "summary": "Viernes"},
                                                *FIRST))
    assert fetch(feed) == 1
    assert Idea.objects.filter(brand=brand).count() == 3
    menu.refresh_from_db()
    assert menu.status == "writing"
    # The Idea column now holds the latte-art card (0) and the new one below it.
    assert Idea.objects.get(feed_guid="cafeluna-jazz").position == 1


def test_same_entry_in_two_brands_is_an_idea_in_each(server, setup, brand_b):
    brand, people, ctx = setup
    other, _ = brand_b
    server.routes["/feed.xml"] = (200, XML, rss(*FIRST))
    assert fetch(new_feed(brand, server.url("/feed.xml"))) == 2
    assert fetch(new_feed(other, server.url("/feed.xml"))) == 2


def test_atom_feed(server, setup):
    brand, people, ctx = setup
    server.routes["/atom.xml"] = (200, {"Content-Type": "application/atom+xml"}, ATOM)
    feed = new_feed(brand, server.url("/atom.xml"))
    assert fetch(feed) == 2
    feed.refresh_from_db()
    assert feed.title == "Roastery News"
    flight = Idea.objects.get(feed_guid="tag:roastery.example,2026:post-101")
    assert flight.title == "Ethiopia & Kenya: a tasting flight"
    assert flight.notes == "Two washed coffees side by side."
    assert flight.source_url == "https://roastery.example/posts/tasting-flight"
    v60 = Idea.objects.get(feed_guid="tag:roastery.example,2026:post-100")
    assert v60.source_url == "https://roastery.example/posts/v60"


def test_entries_without_id_use_the_link_and_long_text_is_truncated(server, setup):
    brand, people, ctx = setup
    long_summary = "palabra " * 1000
    body = RSS.format(items=f"""<item><title>{'T' * 500}</title><link>https://x.example/a</link>
        <description>{long_summary}</description></item>
        <item><title>Sin enlace ni id</title></item>
        <item><description>Solo un resumen, sin título</description><link>https://x.example/b</link></item>""")
    server.routes["/f"] = (200, XML, body)
    feed = new_feed(brand, server.url("/f"))
    assert fetch(feed) == 3
    a = Idea.objects.get(feed_guid="https://x.example/a")
    assert len(a.title) <= idea_service.TITLE_MAX and len(a.notes) <= feeds.NOTES_FROM_FEED
    assert a.notes.endswith("…")
    assert Idea.objects.get(feed_guid="title:Sin enlace ni id").source_url == ""
    assert Idea.objects.get(feed_guid="https://x.example/b").title == "Solo un resumen, sin título"


def test_at_most_50_entries_per_fetch(server, setup):
    brand, people, ctx = setup
    items = [{"title": f"Entrada {n}", "slug": f"e{n}", "summary": "x"} for n in range(80)]
    server.routes["/f"] = (200, XML, rss(*items))
    assert fetch(new_feed(brand, server.url("/f"))) == feeds.MAX_ENTRIES_PER_FETCH


def test_storing_the_same_entries_twice_is_a_no_op(server, setup):
    brand, people, ctx = setup
    feed = new_feed(brand, "https://cafeluna.example/feed.xml")
    parsed = feeds.parse_feed(rss(*FIRST).encode())
    assert feeds._store_entries(feed, parsed) == 2
    assert feeds._store_entries(feed, parsed) == 0
    assert Idea.objects.filter(brand=brand).count() == 2


# --- what is refused ----------------------------------------------------------------------------


@pytest.mark.parametrize("url", [
    "http://10.0.0.1/feed.xml",
    "http://169.254.169.254/latest/meta-data/",
    "http://192.168.1.10/rss",
    "http://172.16.0.5/rss",
    "http://[fe80::1]/rss",
    "http://0.0.0.0/rss",
])
def test_private_and_link_local_addresses_are_refused(setup, url):
    # The guard refuses before dialling: nothing is sent to these addresses.
    brand, people, ctx = setup
    feed = new_feed(brand, url)
    assert fetch(feed) == 0
    feed.refresh_from_db()
    assert feed.last_error == feeds.ERRORS["private"]
    assert feed.last_fetched_at is not None
    assert not Idea.objects.filter(brand=brand).exists()


def test_loopback_is_refused_unless_explicitly_allowed(server, setup):
    brand, people, ctx = setup
    server.routes["/feed.xml"] = (200, XML, rss(*FIRST))
    for url in (server.url("/feed.xml"), f"http://[::1]:{server.port}/feed.xml",
                f"http://localhost:{server.port}/feed.xml"):
        feed = new_feed(brand, url)
        assert feeds.fetch_feed(feed, config=HttpConfig(allow_private_networks=False, proxy=None)) == 0
        feed.refresh_from_db()
        assert feed.last_error == feeds.ERRORS["private"], url
    assert server.requests == []
    assert not Idea.objects.filter(brand=brand).exists()


def test_a_redirect_to_a_private_address_is_refused(server, setup):
    brand, people, ctx = setup
    server.routes["/feed.xml"] = (302, {"Location": "http://10.0.0.1/internal.xml"}, b"")
    server.routes["/meta"] = (301, {"Location": "http://169.254.169.254/latest/meta-data/"}, b"")
    for path in ("/feed.xml", "/meta"):
        feed = new_feed(brand, server.url(path))
        assert fetch(feed) == 0
        feed.refresh_from_db()
        assert feed.last_error == feeds.ERRORS["private"]


def test_redirects_on_the_same_server_are_followed_but_not_forever(server, setup):
    brand, people, ctx = setup
    server.routes["/old"] = (301, {"Location": "/new"}, b"")
    server.routes["/new"] = (200, XML, rss(*FIRST))
    feed = new_feed(brand, server.url("/old"))
    assert fetch(feed) == 2
    server.routes["/loop"] = (302, {"Location": "/loop"}, b"")
    loop = new_feed(brand, server.url("/loop"))
    assert fetch(loop) == 0
    loop.refresh_from_db()
    assert loop.last_error == feeds.ERRORS["redirects"]


def test_oversized_feeds_are_not_read(server, setup):
    brand, people, ctx = setup
    big = rss(*[{"title": f"Entrada {n}", "slug": f"e{n}", "summary": "x" * 3000} for n in range(800)])
    assert len(big) > feeds.MAX_FEED_BYTES
    server.routes["/declared"] = (200, XML, big)

    def undeclared(handler):  # no Content-Length: the size is only known while reading
        handler.send_response(200)
        handler.send_header("Content-Type", "application/rss+xml")
        handler.send_header("Connection", "close")
        handler.end_headers()
        try:
            handler.wfile.write(big.encode())
        except (BrokenPipeError, ConnectionResetError):
            pass
        return None

    server.routes["/undeclared"] = undeclared
    for path in ("/declared", "/undeclared"):
        feed = new_feed(brand, server.url(path))
        assert fetch(feed) == 0
        feed.refresh_from_db()
        assert feed.last_error == feeds.ERRORS["too_large"], path
    assert not Idea.objects.filter(brand=brand).exists()


def test_a_web_page_is_not_a_feed(server, setup):
    brand, people, ctx = setup
    server.routes["/"] = (200, {"Content-Type": "text/html; charset=utf-8"}, HTML_PAGE)
    feed = new_feed(brand, server.url("/"))
    assert fetch(feed) == 0
    feed.refresh_from_db()
    assert feed.last_error == feeds.ERRORS["not_a_feed"]


@pytest.mark.parametrize("body", [
    rss(*FIRST)[:-200],  # cut short
    rss(*FIRST).replace("<title>Nuevo", "<title>Nuevo <b>sin cerrar"),
    "<?xml version='1.0'?><rss version='2.0'><channel><item><title>x</title></rss>",
    b"\x00\xff\xfe garbage \x89PNG",
    "",
])
def test_malformed_feeds_create_nothing(server, setup, body):
    brand, people, ctx = setup
    server.routes["/f"] = (200, XML, body)
    feed = new_feed(brand, server.url("/f"))
    assert fetch(feed) == 0
    feed.refresh_from_db()
    assert feed.last_error in (feeds.ERRORS["malformed"], feeds.ERRORS["not_a_feed"])
    assert not Idea.objects.filter(brand=brand).exists()


def test_http_errors_and_timeouts_in_plain_words(server, setup):
    brand, people, ctx = setup
    server.routes["/gone"] = (404, {}, b"nope")
    server.routes["/boom"] = (500, {}, b"error")

    def slow(handler):
        time.sleep(1.5)
        return 200, XML, rss(*FIRST)

    server.routes["/slow"] = slow
    expected = {"/gone": "not_found", "/boom": "status", "/slow": "timeout"}
    for path, code in expected.items():
        feed = new_feed(brand, server.url(path))
        config = HttpConfig(connect_timeout=1.0, read_timeout=0.5, allow_private_networks=False)
        assert fetch(feed, config=config) == 0
        feed.refresh_from_db()
        assert feed.last_error == feeds.ERRORS[code], path
    closed = new_feed(brand, "http://127.0.0.1:9/feed.xml")  # discard port: nothing listens
    assert fetch(closed, config=HttpConfig(connect_timeout=1.0, allow_private_networks=False)) == 0
    closed.refresh_from_db()
    assert closed.last_error == feeds.ERRORS["connect"]


def test_a_good_fetch_clears_the_previous_error(server, setup):
    brand, people, ctx = setup
    server.routes["/f"] = (500, {}, b"")
    feed = new_feed(brand, server.url("/f"))
    fetch(feed)
    assert feed.last_error
    server.routes["/f"] = (200, XML, rss(*FIRST))
    assert fetch(feed) == 2
    feed.refresh_from_db()
    assert feed.last_error == ""


def test_script_injection_in_entries_is_escaped_on_the_board(server, setup, client):
    brand, people, ctx = setup
    body = RSS.format(items="""
      <item><title>&lt;script&gt;alert(1)&lt;/script&gt;Oferta &amp;lt;b&amp;gt;</title>
        <link>javascript:alert(document.cookie)</link><guid>evil-1</guid>
        <description><![CDATA[<img src=x onerror=alert(2)><script>alert(3)</script>Texto]]></description></item>
      <item><title><![CDATA[<img src=x onerror=alert(4)> 2x1 en cafés]]></title><guid>evil-2</guid>
        <link>https://ok.example/x" onmouseover="alert(5)</link></item>""")
    server.routes["/evil"] = (200, XML, body)
    feed = new_feed(brand, server.url("/evil"))
    assert fetch(feed) == 2
    evil = Idea.objects.get(feed_guid="evil-1")
    assert evil.source_url == ""  # javascript: links are dropped
    client.force_login(people["community_manager"])
    page = html(client.get(reverse("idea_board", args=[brand.pk])))
    assert "<script>alert" not in page and "onerror=" not in page and "javascript:alert" not in page
    assert "onmouseover=\"alert" not in page
    assert "Oferta" in page and "2x1 en cafés" in page


# --- services, task, pages and API --------------------------------------------------------------


@pytest.mark.parametrize("url", ["ftp://example.org/feed", "javascript:alert(1)", "", "   ", "feed.xml",
                                 "https://" + "a" * 2100 + ".com/"])
def test_add_feed_refuses_what_is_not_a_web_address(setup, url):
    brand, people, ctx = setup
    with pytest.raises(ValidationError):
        feeds.do_add_feed(ctx, brand, url)
    assert not Feed.objects.filter(brand=brand).exists()


@pytest.mark.parametrize("url", ["http://10.0.0.1/feed.xml", "http://169.254.169.254/latest/", "http://[::1]/f",
                                 "http://127.0.0.1:8000/feed", "http://192.168.0.1/rss"])
def test_add_feed_refuses_a_private_ip_at_once(setup, url, monkeypatch):
    monkeypatch.delenv("TERTULIA_ALLOW_PRIVATE_NETWORKS", raising=False)
    brand, people, ctx = setup
    with pytest.raises(ValidationError) as exc:
        feeds.do_add_feed(ctx, brand, url)
    assert exc.value.message_dict["url"] == [feeds.ERRORS["private"]]
    assert not Feed.objects.filter(brand=brand).exists()


def test_add_feed_twice_is_refused(setup):
    brand, people, ctx = setup
    feeds.do_add_feed(ctx, brand, "https://cafeluna.example/feed.xml")
    with pytest.raises(ValidationError):
        feeds.do_add_feed(ctx, brand, "https://cafeluna.example/feed.xml")
    assert AuditEvent.objects.filter(action="feed.add", brand=brand).count() == 1


def test_hourly_task_fetches_each_feed_independently(server, setup, brand_b, monkeypatch):
    monkeypatch.setenv("TERTULIA_ALLOW_PRIVATE_NETWORKS", "1")  # the test server is on loopback
    brand, people, ctx = setup
    other, _ = brand_b
    server.routes["/a"] = (200, XML, rss(*FIRST))
    server.routes["/broken"] = (500, {}, b"")
    server.routes["/html"] = (200, {"Content-Type": "text/html"}, HTML_PAGE)
    server.routes["/b"] = (200, {"Content-Type": "application/atom+xml"}, ATOM)
    for b, path in ((brand, "/broken"), (brand, "/a"), (other, "/html"), (other, "/b")):
        new_feed(b, server.url(path))
    result = fetch_feeds.call_local()
    assert result == {"feeds": 4, "failed": 2, "created": 4}
    assert Idea.objects.filter(brand=brand).count() == 2 and Idea.objects.filter(brand=other).count() == 2
    assert Feed.objects.filter(last_fetched_at__isnull=True).count() == 0


def test_hourly_task_is_scheduled():
    from datetime import datetime

    from huey.contrib.djhuey import HUEY

    assert fetch_feeds.task_class in HUEY._registry._periodic_tasks
    validate = fetch_feeds.task_class().validate_datetime
    assert validate(datetime(2026, 11, 25, 14, 23)) and not validate(datetime(2026, 11, 25, 14, 24))


def test_board_add_fetch_and_remove_feed(server, setup, client, monkeypatch):
    monkeypatch.setenv("TERTULIA_ALLOW_PRIVATE_NETWORKS", "1")
    brand, people, ctx = setup
    server.routes["/feed.xml"] = (200, XML, rss(*FIRST))
    client.force_login(people["community_manager"])
    response = client.post(reverse("feed_add", args=[brand.pk]), {"url": server.url("/feed.xml")}, follow=True)
    assert "Feed added. 2 new ideas." in messages_of(response)
    feed = Feed.objects.get(brand=brand)
    page = html(client.get(reverse("idea_board", args=[brand.pk])))
    assert "Blog de Café Luna" in page and "Fetch now" in page and "Nuevo menú de otoño" in page
    server.routes["/feed.xml"] = (500, {}, b"")
    response = client.post(reverse("feed_fetch", args=[brand.pk, feed.pk]), follow=True)
    assert feeds.ERRORS["status"] in messages_of(response)
    assert feeds.ERRORS["status"] in html(client.get(reverse("idea_board", args=[brand.pk])))
    assert client.post(reverse("feed_delete", args=[brand.pk, feed.pk])).status_code == 302
    assert not Feed.objects.filter(brand=brand).exists()
    assert Idea.objects.filter(brand=brand).count() == 2  # the ideas stay
    assert AuditEvent.objects.filter(brand=brand, action__in=["feed.add", "feed.fetch", "feed.remove"]).count() == 4


def test_board_feed_errors_in_spanish(setup, client):
    brand, people, ctx = setup
    user = people["community_manager"]
    user.language = "es"
    user.save()
    Feed.objects.create(brand=brand, url="http://10.0.0.1/f", last_error=feeds.ERRORS["private"])
    client.force_login(user)
    page = html(client.get(reverse("idea_board", args=[brand.pk]), HTTP_ACCEPT_LANGUAGE="es"))
    assert "Esta dirección apunta a una red privada o local" in page


def test_board_add_feed_refuses_a_private_address(setup, client, monkeypatch):
    monkeypatch.delenv("TERTULIA_ALLOW_PRIVATE_NETWORKS", raising=False)
    brand, people, ctx = setup
    client.force_login(people["community_manager"])
    response = client.post(reverse("feed_add", args=[brand.pk]), {"url": "http://169.254.169.254/latest/"},
                           follow=True)
    assert feeds.ERRORS["private"] in messages_of(response)


@pytest.mark.parametrize("role", ["analyst", "client_reviewer"])
def test_viewers_cannot_touch_feeds(setup, client, role):
    brand, people, ctx = setup
    feed = Feed.objects.create(brand=brand, url="https://cafeluna.example/feed.xml")
    client.force_login(people[role])
    assert client.post(reverse("feed_add", args=[brand.pk]), {"url": "https://x.example/f"}).status_code == 403
    assert client.post(reverse("feed_fetch", args=[brand.pk, feed.pk])).status_code == 403
    assert client.post(reverse("feed_delete", args=[brand.pk, feed.pk])).status_code == 403
    assert Feed.objects.filter(brand=brand).count() == 1


def test_another_brands_feed_is_404(setup, client, brand_b):
    brand, people, ctx = setup
    other, _ = brand_b
    theirs = Feed.objects.create(brand=other, url="https://beta.example/feed.xml")
    client.force_login(people["community_manager"])
    assert client.post(reverse("feed_fetch", args=[brand.pk, theirs.pk])).status_code == 404
    assert client.post(reverse("feed_delete", args=[brand.pk, theirs.pk])).status_code == 404
    assert Feed.objects.filter(pk=theirs.pk, last_fetched_at__isnull=True).exists()


API = "/api/v1"


def _token(user, brand, scope="write"):
    return core_services.do_create_token(Ctx(user), f"t-{user.pk}-{scope}", {brand.pk: scope})[1]


def _api(client, method, url, raw, data=None):
    body = json.dumps(data) if data is not None else ""
    return getattr(client, method)(API + url, body, content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {raw}")


def test_feeds_api(server, setup, client, monkeypatch, brand_b):
    monkeypatch.setenv("TERTULIA_ALLOW_PRIVATE_NETWORKS", "1")
    brand, people, ctx = setup
    raw = _token(people["community_manager"], brand)
    server.routes["/feed.xml"] = (200, XML, rss(*FIRST))
    created = _api(client, "post", f"/brands/{brand.pk}/feeds", raw, {"url": server.url("/feed.xml")})
    assert created.status_code == 201, created.content
    feed_id = created.json()["id"]
    assert created.json()["last_fetched_at"] is None
    fetched = _api(client, "post", f"/brands/{brand.pk}/feeds/{feed_id}/fetch", raw)
    assert fetched.status_code == 200
    assert fetched.json()["created"] == 2 and fetched.json()["feed"]["title"] == "Blog de Café Luna"
    listed = _api(client, "get", f"/brands/{brand.pk}/feeds", raw).json()
    assert [f["id"] for f in listed["items"]] == [feed_id]
    server.routes["/feed.xml"] = (200, {"Content-Type": "text/html"}, HTML_PAGE)
    again = _api(client, "post", f"/brands/{brand.pk}/feeds/{feed_id}/fetch", raw).json()
    assert again["created"] == 0 and again["feed"]["last_error"] == feeds.ERRORS["not_a_feed"]
    # Hostile and wrong-tenant requests.
    assert _api(client, "post", f"/brands/{brand.pk}/feeds", raw, {"url": "javascript:alert(1)"}).status_code == 422
    monkeypatch.delenv("TERTULIA_ALLOW_PRIVATE_NETWORKS")
    assert _api(client, "post", f"/brands/{brand.pk}/feeds", raw, {"url": "http://10.1.2.3/x"}).status_code == 422
    assert _api(client, "post", f"/brands/{brand.pk}/feeds", raw, {"url": "x" * 3000}).status_code == 422
    assert _api(client, "post", f"/brands/{brand.pk}/feeds", raw, {"url": "https://a.example", "x": 1}).status_code == 422
    other, _ = brand_b
    theirs = Feed.objects.create(brand=other, url="https://beta.example/feed.xml")
    assert _api(client, "post", f"/brands/{brand.pk}/feeds/{theirs.pk}/fetch", raw).status_code == 404
    assert _api(client, "delete", f"/brands/{brand.pk}/feeds/{theirs.pk}", raw).status_code == 404
    assert _api(client, "get", f"/brands/{other.pk}/feeds", raw).status_code == 404
    read_only = _token(people["community_manager"], brand, "read")
    assert _api(client, "delete", f"/brands/{brand.pk}/feeds/{feed_id}", read_only).status_code == 403
    analyst = _token(people["analyst"], brand)
    assert _api(client, "post", f"/brands/{brand.pk}/feeds/{feed_id}/fetch", analyst).status_code == 403
    assert _api(client, "delete", f"/brands/{brand.pk}/feeds/{feed_id}", raw).status_code == 204
    assert Feed.objects.filter(pk=theirs.pk).exists() and not Feed.objects.filter(pk=feed_id).exists()


def test_fetch_url_follows_redirects_and_reports_the_final_address(server):
    from tertulia.networks.http import FetchError, fetch_url

    server.routes["/a"] = (302, {"Location": "/b"}, b"")
    server.routes["/b"] = (200, {"Content-Type": "text/plain"}, b"hola")
    config = HttpConfig(allow_private_networks=False, proxy=None, connect_timeout=2.0)
    got = fetch_url(server.url("/a"), config=config, allow_loopback=True, headers={"X-Test": "1"})
    assert (got.url, got.status, got.body) == (server.url("/b"), 200, b"hola")
    assert server.requests[-1][1].get("X-Test") == "1"
    with pytest.raises(FetchError) as exc:
        fetch_url(server.url("/a"), config=config, allow_loopback=True, max_redirects=0)
    assert exc.value.reason == "redirects"
    with pytest.raises(FetchError) as exc:
        fetch_url(server.url("/b"), config=config, allow_loopback=True, max_bytes=3)
    assert exc.value.reason == "too_large"
    with pytest.raises(FetchError) as exc:
        fetch_url("file:///etc/passwd", config=config)
    assert exc.value.reason == "bad_url"
    with pytest.raises(FetchError) as exc:
        fetch_url(server.url("/b"), config=config)  # loopback not allowed
    assert exc.value.reason == "private"
