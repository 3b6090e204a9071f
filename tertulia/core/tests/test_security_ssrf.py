"""Security review, item 4: SSRF through every user-supplied URL.

Table-driven: every entry point that fetches an address a user typed (an idea-board feed, a
listening RSS source, a listening alert's outgoing webhook, the server address of a Mastodon,
Bluesky, WordPress or Joomla account, Mastodon's app registration, a LinkedIn link preview, the
profile-audit image check, the report PDF's resource fetcher, and the shared fetcher itself) is
given every hostile address below. Two things are watched from outside our code:

- a loopback "canary" HTTP server that every loopback spelling points at: it must get no hit;
- a spy on the socket layer (``httpcore.SyncBackend.connect_tcp``): no connection may be
  opened to a non-public address at all (private, loopback, link-local, metadata, CGNAT,
  IPv6 ULA/link-local, IPv4-mapped).

Host names are resolved by a fake resolver (the tests are offline): names that resolve to
private addresses, and one that resolves to a public *and* a private address (rebinding), are
refused. Numeric spellings (decimal, hex, short) are resolved by the system's own numeric
parser, as in production.
"""

from __future__ import annotations

import _socket
import ipaddress
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import httpcore
import pytest
from django.core.exceptions import ValidationError

from tertulia.networks.errors import ConnectorError
from tertulia.networks.mastodon.auth import register_app
from tertulia.networks.http import FetchError, HttpConfig, fetch_url, is_public_address


class _Canary(BaseHTTPRequestHandler):
    hits: list = []

    def do_GET(self):  # noqa: N802 - http.server's name
        type(self).hits.append(self.path)
        if self.path.startswith("/redirect"):
            target = parse_qs(urlsplit(self.path).query)["to"][0]
            self.send_response(302)
            self.send_header("Location", target)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        body = b'<?xml version="1.0"?><rss version="2.0"><channel><title>canary</title></channel></rss>'
        self.send_response(200)
        self.send_header("Content-Type", "application/rss+xml")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_POST = do_GET  # noqa: N815

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def canary():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Canary)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


FAKE_DNS = {
    "intranet.example": ["10.0.0.7"],
    "metadata.example": ["169.254.169.254"],
    "loopback.example": ["127.0.0.1"],
    "v6private.example": ["fd00::7"],
    "rebind.example": ["93.184.216.34", "127.0.0.1"],  # one public, one private answer
}


@pytest.fixture
def network_spy(monkeypatch):
    """A fake resolver for the names above and the system's numeric parser for IP spellings,
    plus a record of every address a connection was opened to."""
    offline = socket.getaddrinfo
    dialled: list[str] = []

    def getaddrinfo(host, port, *args, **kwargs):
        name = host.decode() if isinstance(host, bytes) else str(host)
        if name in FAKE_DNS:
            family = {4: socket.AF_INET, 6: socket.AF_INET6}
            return [(family[ipaddress.ip_address(a).version], socket.SOCK_STREAM, 6, "",
                     (a, port) if ":" not in a else (a, port, 0, 0)) for a in FAKE_DNS[name]]
        try:  # 2130706433, 0x7f000001, 127.1: the C library's numeric forms, never a DNS query
            return _socket.getaddrinfo(name, port, 0, socket.SOCK_STREAM, 0, socket.AI_NUMERICHOST)
        except (socket.gaierror, UnicodeError):
            return offline(host, port, *args, **kwargs)

    real_connect = httpcore.SyncBackend.connect_tcp

    def connect_tcp(self, host, port, *args, **kwargs):
        dialled.append(host)
        return real_connect(self, host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    monkeypatch.setattr(httpcore.SyncBackend, "connect_tcp", connect_tcp)
    return dialled


def hostile_urls(port: int) -> list[str]:
    loopback = [f"http://127.0.0.1:{port}/", f"http://localhost:{port}/", f"http://2130706433:{port}/",
                f"http://0x7f000001:{port}/", f"http://127.1:{port}/", f"http://0177.0.0.1:{port}/",
                f"http://[::ffff:127.0.0.1]:{port}/", f"http://0.0.0.0:{port}/", f"http://[::]:{port}/",
                f"http://loopback.example:{port}/", f"http://rebind.example:{port}/",
                f"http://user:pass@127.0.0.1:{port}/", f"https://127.0.0.1:{port}/"]
    private = ["http://169.254.169.254/latest/meta-data/", "http://metadata.example/", "http://10.0.0.1/",
               "http://172.16.0.1/", "http://192.168.1.1/", "http://100.64.0.1/", "http://intranet.example/",
               "http://[::1]/", "http://[fc00::1]/", "http://[fe80::1]/", "http://[fd00:ec2::254]/",
               "http://[::ffff:169.254.169.254]/", "http://[64:ff9b::a9fe:a9fe]/", "http://v6private.example/"]
    schemes = ["file:///etc/passwd", f"ftp://127.0.0.1:{port}/", f"gopher://127.0.0.1:{port}/_x",
               f"dict://127.0.0.1:{port}/", "javascript:alert(1)", "data:text/plain,hello", "//127.0.0.1/",
               "", "not a url"]
    return loopback + private + schemes


def _check_nothing_private_dialled(dialled: list[str], where: str) -> None:
    bad = [a for a in dialled if not is_public_address(ipaddress.ip_address(a.strip("[]").split("%", 1)[0]))]
    assert not bad, f"{where}: a connection was opened to {bad}"


# --- The entry points: each tries one address the way the app does, and must refuse it -------

def _fetcher(url):
    with pytest.raises(FetchError):
        fetch_url(url, config=HttpConfig(connect_timeout=1.0, read_timeout=1.0))


def _idea_feed(url):
    from tertulia.content.feeds import clean_feed_url, fetch_feed
    from tertulia.content.models import Feed

    try:
        clean_feed_url(url)
    except ValidationError:
        return  # refused when typed
    feed = Feed(url=url)
    feed.save = lambda **kw: None  # the row's bookkeeping; the fetch is what is tested
    assert fetch_feed(feed, config=HttpConfig(connect_timeout=1.0, read_timeout=1.0)) == 0
    assert feed.last_error, url


def _listening_feed(url):
    from django.utils import timezone

    from tertulia.listening import sources
    from tertulia.listening.models import Source

    source = Source(kind=Source.Kind.FEED, url=url, name="x")
    with pytest.raises(sources.SourceFailed):
        sources._read_feed(source, timezone.now())


def _alert_webhook(url):
    from tertulia.listening.spikes import post_webhook, validate_webhook_url

    try:
        validate_webhook_url(url)  # an IP literal, a bad scheme or userinfo is refused when typed
    except ValidationError:
        pass
    outcome = post_webhook(url, "secret", {"event": "test"})
    assert outcome["ok"] is False, (url, outcome)


def _account_server(network):
    def attempt(url):
        from tertulia.networks import registry
        from tertulia.networks.models import SocialAccount

        account = SocialAccount(network=network, handle="someone", base_url=url, access_token="t")
        try:
            with registry.connector_for(account, http_config=HttpConfig(connect_timeout=1.0,
                                                                        read_timeout=1.0)) as connector:
                connector.fetch_profile()
        except (ConnectorError, ValueError):
            return
        raise AssertionError(f"{network} read a profile from {url!r}")
    return attempt


def _mastodon_registration(url):
    from tertulia.networks.mastodon import connect

    try:
        base = connect.clean_server(url)
    except ValidationError:
        return
    with pytest.raises((ConnectorError, ValidationError)):
        register_app(base, client_name="Tertulia", redirect_uri="https://tertulia.example/cb",
                     http_config=HttpConfig(connect_timeout=1.0, read_timeout=1.0))


def _linkedin_preview(url):
    from tertulia.networks.linkedin.preview import page_article

    assert page_article(url, config=HttpConfig(connect_timeout=1.0, read_timeout=1.0)) is None


def _audit_image(url):
    from tertulia.reports.audit import fetch_image_size

    check = fetch_image_size(url)
    assert check.size is None and check.reason in ("private", "bad_url", "connect"), (url, check)


def _report_pdf_resource(url):
    from tertulia.reports.render import _fetcher

    if url.startswith("data:"):
        return  # by design: the embedded logo is a data: URI (read in memory, no connection)
    with pytest.raises(Exception):  # noqa: B017 - WeasyPrint turns any error into a missing resource
        _fetcher().fetch(url)


ENTRY_POINTS = {
    "shared fetcher (networks.http.fetch_url)": _fetcher,
    "idea board feed (content.feeds)": _idea_feed,
    "listening RSS source": _listening_feed,
    "listening alert webhook": _alert_webhook,
    "Mastodon server address": _account_server("mastodon"),
    "Mastodon app registration": _mastodon_registration,
    "Bluesky server address": _account_server("bluesky"),
    "WordPress site": _account_server("wordpress"),
    "Joomla site": _account_server("joomla"),
    "LinkedIn link preview": _linkedin_preview,
    "profile audit image": _audit_image,
    "report PDF resources": _report_pdf_resource,
}


@pytest.mark.parametrize("entry", list(ENTRY_POINTS))
def test_every_entry_point_refuses_every_private_address(entry, canary, network_spy):
    attempt = ENTRY_POINTS[entry]
    _Canary.hits.clear()
    for url in hostile_urls(canary):
        attempt(url)
    assert _Canary.hits == [], f"{entry}: the loopback canary was reached: {_Canary.hits}"
    _check_nothing_private_dialled(network_spy, entry)


@pytest.mark.parametrize("url, reason", [
    ("http://169.254.169.254/", "private"), ("http://2130706433/", "private"), ("http://0x7f000001/", "private"),
    ("http://127.1/", "private"), ("http://[::1]/", "private"), ("http://[fc00::1]/", "private"),
    ("http://[fe80::1]/", "private"), ("http://metadata.example/", "private"), ("http://rebind.example/", "private"),
    ("file:///etc/passwd", "bad_url"), ("gopher://example.org/", "bad_url"), ("ftp://example.org/", "bad_url"),
])
def test_the_fetcher_says_why(url, reason, network_spy):
    with pytest.raises(FetchError) as info:
        fetch_url(url, config=HttpConfig(connect_timeout=1.0, read_timeout=1.0))
    assert info.value.reason == reason
    assert network_spy == []


@pytest.mark.parametrize("target", [
    "http://169.254.169.254/latest/meta-data/", "http://10.0.0.1/", "http://metadata.example/",
    "http://[::ffff:169.254.169.254]/", "http://[fd00::1]/", "file:///etc/passwd", "gopher://10.0.0.1/",
])
def test_a_redirect_to_a_private_address_is_refused(target, canary, network_spy):
    """The first hop is the loopback test server (allowed for this test only); where it
    redirects is checked again on the address dialled."""
    from tertulia.content.feeds import fetch_feed
    from tertulia.content.models import Feed

    url = f"http://127.0.0.1:{canary}/redirect?to={target}"
    with pytest.raises(FetchError) as info:
        fetch_url(url, allow_loopback=True, config=HttpConfig(connect_timeout=1.0, read_timeout=1.0))
    assert info.value.reason in ("private", "bad_url")
    feed = Feed(url=url)
    feed.save = lambda **kw: None
    assert fetch_feed(feed, allow_loopback=True, config=HttpConfig(connect_timeout=1.0, read_timeout=1.0)) == 0
    assert feed.last_error
    _check_nothing_private_dialled([a for a in network_spy if a != "127.0.0.1"], "redirect")


def test_short_link_targets_are_never_fetched(brand_a, canary, network_spy):
    """A short link only redirects the visitor's browser: creating one and following it opens
    no connection from the server."""
    from django.test import Client

    from tertulia.content.services import do_create_short_link
    from tertulia.core.services import Ctx

    brand, people = brand_a
    _Canary.hits.clear()
    link = do_create_short_link(Ctx(people["owner"], via="test"), brand, target_url=f"http://127.0.0.1:{canary}/x")
    response = Client().get(f"/l/{link.slug}", HTTP_USER_AGENT="Mozilla/5.0")
    assert response.status_code == 302
    assert _Canary.hits == [] and network_spy == []
