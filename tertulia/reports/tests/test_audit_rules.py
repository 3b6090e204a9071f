"""The quarterly audit's rules as pure functions: image sizes (against PNGs served on loopback),
the SSRF guard on profile image addresses, bio and link checks, posting frequency and the KPI
review. No database: the same on every database."""

from __future__ import annotations

import io
import threading
from datetime import UTC, date, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.utils import translation
from PIL import Image

from tertulia.reports import audit, frequency
from tertulia.reports.audit import kpi_suggestion, profile_checks, size_status

XSS = "<script>alert(1)</script>"


def png(width: int, height: int) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), "#336699").save(out, "PNG")
    return out.getvalue()


class ImageServer:
    """Serves fixed bytes per path on 127.0.0.1 and counts requests; ``/ranged/*`` honours
    Range with a 206 like a CDN."""

    def __init__(self):
        self.routes: dict[str, tuple[int, bytes]] = {}
        self.requests: list[str] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                server.requests.append(self.path)
                status, body = server.routes.get(self.path, (404, b"not found"))
                rng = self.headers.get("Range", "")
                if status == 200 and self.path.startswith("/ranged/") and rng.startswith("bytes=0-"):
                    end = int(rng.split("-")[1])
                    body, status = body[: end + 1], 206
                self.send_response(status)
                self.send_header("Content-Type", "image/png")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.base = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()

    def url(self, path: str) -> str:
        return self.base + path

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(timeout=5)


@pytest.fixture(scope="module")
def server():
    s = ImageServer()
    s.routes.update({
        "/avatar400.png": (200, png(400, 400)),
        "/avatar200.png": (200, png(200, 200)),
        "/header1500x500.png": (200, png(1500, 500)),
        "/ranged/header3000x1000.png": (200, png(3000, 1000)),
        "/header1500x400.png": (200, png(1500, 400)),
        "/garbage.png": (200, b"\x89PNG not really" * 10),
    })
    yield s
    s.stop()


@pytest.fixture
def loopback(monkeypatch):
    # The guard stays on: only 127.0.0.1 is let through, every other private range is refused.
    monkeypatch.setattr(audit, "ALLOW_LOOPBACK", True)


def _profile(**kw):
    return {"read_at": "2026-09-29T10:00:00+00:00", "display_name": "Marca", "bio": "Hola", "url": "https://m.example",
            "avatar_url": "", "cover_url": "", **kw}


def _by_label(items):
    return {i.label: i for i in items}


def test_image_sizes_right_wrong_missing_and_unreadable(server, loopback):
    with translation.override("en"):
        items = _by_label(profile_checks("mastodon", _profile(avatar_url=server.url("/avatar400.png"),
                                                              cover_url=server.url("/header1500x400.png")), {}))
        assert (items["Profile picture"].status, items["Profile picture"].detail) == (
            "ok", "400×400 px (recommended: 400×400 px).")
        assert (items["Cover image"].status, items["Cover image"].detail) == (
            "warn", "1500×400 px; recommended: 1500×500 px.")
        items = _by_label(profile_checks("x", _profile(avatar_url=server.url("/avatar200.png"),
                                                       cover_url=server.url("/missing.png")), {}))
        assert (items["Profile picture"].status, items["Profile picture"].detail) == (
            "warn", "200×200 px; recommended: 400×400 px.")
        assert (items["Cover image"].status, items["Cover image"].detail) == (
            "unknown", "Could not check: the image could not be downloaded (error 404).")
        items = _by_label(profile_checks("bluesky", _profile(avatar_url=server.url("/garbage.png"),
                                                             cover_url=server.url("/ranged/header3000x1000.png")), {}))
        assert items["Profile picture"].status == "unknown"
        assert items["Profile picture"].detail == "Could not check: the file is not an image Tertulia can read."
        assert items["Cover image"].status == "ok"  # read from the first bytes (206), header only
    with translation.override("es"):
        items = _by_label(profile_checks("mastodon", _profile(cover_url=server.url("/header1500x400.png")), {}))
        assert items["Imagen de portada"].detail == "1500×400 px; recomendado: 1500×500 px."
        assert items["Foto de perfil"].status == "fail"
        assert items["Foto de perfil"].detail == "Falta. Recomendado: 400×400 px."


def test_each_image_is_fetched_once_per_report(server, loopback):
    cache: dict = {}
    before = len(server.requests)
    url = server.url("/header1500x500.png")
    profile_checks("mastodon", _profile(avatar_url=url, cover_url=url), cache)
    profile_checks("x", _profile(cover_url=url), cache)
    assert server.requests[before:] == ["/header1500x500.png"]


@pytest.mark.parametrize("url", ["http://10.0.0.1/avatar.png", "http://169.254.169.254/latest/meta-data",
                                 "http://[::ffff:10.0.0.1]/a.png"])
def test_private_addresses_are_refused_by_the_ssrf_guard(url, loopback):
    with translation.override("en"):
        item = _by_label(profile_checks("x", _profile(avatar_url=url), {}))["Profile picture"]
    assert item.status == "unknown"
    assert item.detail == "Could not check: the address points to a private network, which Tertulia does not fetch."


def test_loopback_is_refused_and_not_fetched_without_the_test_switch(server):
    before = len(server.requests)
    with translation.override("en"):
        item = _by_label(profile_checks("x", _profile(avatar_url=server.url("/avatar400.png")), {}))["Profile picture"]
    assert item.status == "unknown" and "private network" in item.detail
    assert len(server.requests) == before  # never reached the server


def test_non_http_addresses_are_not_fetched():
    with translation.override("en"):
        item = _by_label(profile_checks("x", _profile(avatar_url="file:///etc/passwd"), {}))["Profile picture"]
    assert (item.status, item.detail) == ("unknown", "Could not check: the address is not valid.")


def test_bio_link_and_name_checks_keep_hostile_text_as_plain_text():
    with translation.override("en"):
        items = _by_label(profile_checks("x", _profile(bio=XSS + " " + "é" * 140, url="", display_name=XSS), {}))
        # 25 + 1 + 140 characters: over X's 160.
        assert items["Bio"].status == "warn"
        assert items["Bio"].detail == f"166 characters; the network shows up to 160: “{XSS} {'é' * 140}”"
        assert (items["Link"].status, items["Link"].detail) == ("warn", "Missing: add the website or a landing page.")
        assert items["Display name"].detail == XSS  # plain text: the templates escape it
        # Combining accents count once; a Mastodon verified field counts as the link.
        items = _by_label(profile_checks("mastodon", _profile(bio="Cafe\u0301 " * 10, url="", fields=[
            {"name": "Web", "value": "https://marca.example"}]), {}))
        assert items["Bio"].detail == "49 characters: “" + " ".join(["Cafe\u0301"] * 10) + "”"  # last space trimmed
        long_bio = _by_label(profile_checks("mastodon", _profile(bio="a" * 450 + "\n\n\u202eb"), {}))["Bio"]
        assert long_bio.status == "ok" and long_bio.detail == "454 characters: “" + "a" * 199 + "…”"
        assert items["Link"].detail == "https://marca.example"
        items = _by_label(profile_checks("mastodon", _profile(url="javascript:alert(1)", fields=[
            {"name": "Tienda", "value": '<a href="https://tienda.example/x" rel="me">tienda.example/x</a>'}]), {}))
        assert items["Link"].detail == "https://tienda.example/x"
        items = _by_label(profile_checks("x", _profile(url="javascript://%0aalert(1)"), {}))
        assert items["Link"].status == "warn"
        items = _by_label(profile_checks("instagram", _profile(bio="", display_name=""), {}))
        assert items["Bio"].status == "fail" and items["Display name"].status == "warn"
        assert "Cover image" not in items  # Instagram has no cover
        assert profile_checks("wordpress", _profile(), {}) == []
        unread = profile_checks("mastodon", {}, {})
        assert [(i.label, i.status) for i in unread] == [("Profile", "unknown")]


@pytest.mark.parametrize("actual,recommended,expected", [
    ((400, 400), (400, 400), "ok"), ((800, 800), (400, 400), "ok"), ((399, 399), (400, 400), "warn"),
    ((1500, 500), (1500, 500), "ok"), ((1500, 510), (1500, 500), "ok"), ((1500, 600), (1500, 500), "warn"),
    ((3000, 1000), (1500, 500), "ok"), ((500, 1500), (1500, 500), "warn"), ((0, 0), (400, 400), "warn"),
])
def test_size_status(actual, recommended, expected):
    assert size_status(actual, recommended) == expected


Q3_END = datetime(2026, 9, 30, 22, 0, tzinfo=UTC)  # 1 October 00:00 in Madrid


def _assess(days, *, last=None, followers=None):
    return frequency.assess(publication_days=days, first_day=date(2026, 7, 1), last_day=date(2026, 9, 30),
                            last_published=last, period_end=Q3_END, followers=followers)


def test_frequency_weekly_poster_is_below_the_ideal():
    days = [date(2026, 7, 1) + timedelta(days=7 * k) for k in range(14)]
    f = _assess(days, last=datetime(2026, 9, 23, 10, tzinfo=UTC))
    assert (f.posts, f.days, f.weeks, f.weeks_with_posts) == (14, 92, 14, 14)
    assert f.per_week == pytest.approx(14 / (92 / 7))
    assert (f.status, f.abandoned, f.days_since_last, f.ideal) == ("warn", False, 7, 4.0)


def test_frequency_ideal_and_large_accounts():
    days = [date(2026, 7, 1) + timedelta(days=k // 2 * 3) for k in range(60)]  # 60 posts: 4.57 a week
    assert _assess(days, last=Q3_END - timedelta(days=1)).status == "ok"
    large = _assess(days, last=Q3_END - timedelta(days=1), followers=150_000)
    assert (large.large, large.ideal, large.status) == (True, 7.0, "warn")
    daily = [date(2026, 7, 1) + timedelta(days=k) for k in range(92)]
    assert _assess(daily, last=Q3_END - timedelta(hours=3), followers=100_000).status == "ok"
    assert frequency.is_large(99_999) is False and frequency.is_large(None) is False


def test_frequency_abandoned_and_never():
    f = _assess([date(2026, 8, 21)], last=datetime(2026, 8, 21, 10, tzinfo=UTC))
    assert (f.status, f.abandoned, f.days_since_last, f.weeks_with_posts) == ("fail", True, 40, 1)
    # Plenty of posts early in the quarter, then silence for 30 days: abandoned all the same.
    busy = [date(2026, 7, 1) + timedelta(days=k) for k in range(60)]
    assert _assess(busy, last=Q3_END - timedelta(days=30)).status == "fail"
    assert _assess(busy, last=Q3_END - timedelta(days=29, hours=23)).status == "ok"
    never = _assess([], last=None)
    assert (never.status, never.abandoned, never.days_since_last, never.per_week) == ("fail", True, None, 0.0)


@pytest.mark.parametrize("monthly,quarter,target,lower,expected", [
    ([8.0, 9.0, 7.6], 8.2, 5, False, ("warn", "raise")),  # beaten by 60 %, 80 %, 52 %
    ([8.0, 9.0, 7.4], 8.1, 5, False, ("ok", "keep")),  # 48 % in September: not every month
    ([None, 9.0, 9.0], 9.0, 5, False, ("ok", "keep")),  # a month not measured: no raise
    ([1.5, 1.9, 1.0], 1.5, 4, True, ("warn", "raise")),  # response time far under 4 h
    ([2.0, 2.5, 3.0], 2.5, 4, False, ("fail", "review")),  # missed by 37.5 %
    ([6.0, 5.5, 5.6], 5.6, 4, True, ("fail", "review")),  # 5.6 h against 4 h: 40 % over
    ([3.5, 3.9, 3.7], 3.7, 4, False, ("warn", "missed")),  # 7.5 % short
    ([None, None, None], None, 4, False, ("unknown", "measure")),
])
def test_kpi_suggestion(monthly, quarter, target, lower, expected):
    assert kpi_suggestion(monthly=monthly, quarter=quarter, target=target, lower_is_better=lower) == expected


def test_followers_series_keeps_first_changes_and_last_day():
    from tertulia.reports.monthly import changes_only

    d = [date(2026, 1, k) for k in range(1, 7)]
    assert changes_only(list(zip(d, [5, 5, 7, 7, 7, 7]))) == [(d[0], 5), (d[2], 7), (d[5], 7)]
    assert changes_only([(d[0], 1)]) == [(d[0], 1)]
    assert changes_only([]) == []


def test_prefetch_measures_each_image_once_in_parallel_and_explains_in_the_reader_language(server, loopback):
    cache: dict = {}
    before = len(server.requests)
    urls = [server.url("/avatar400.png"), server.url("/nothing.png"), server.url("/avatar400.png"), ""]
    audit.prefetch_images(urls, cache)
    assert sorted(server.requests[before:]) == ["/avatar400.png", "/nothing.png"]
    assert cache[server.url("/avatar400.png")].size == (400, 400)
    missing = cache[server.url("/nothing.png")]
    assert (missing.size, missing.reason, missing.status) == (None, "status", 404)
    with translation.override("es"):  # worked out in threads, worded here
        assert missing.why() == "no se pudo descargar la imagen (error 404)"
    audit.prefetch_images(urls, cache)
    assert len(server.requests) == before + 2  # cached
