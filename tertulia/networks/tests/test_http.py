"""The shared HTTP layer: every transport failure and status maps to the right error class,
over real HTTP on 127.0.0.1 (no mocks)."""

from __future__ import annotations

import json
import socket
import threading
import time
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.utils import translation

from tertulia.networks.errors import Ambiguous, AuthExpired, Permanent, RateLimited, Retryable
from tertulia.networks.http import (
    HttpClient,
    HttpConfig,
    RateLimitBook,
    bucket_for,
    error_text,
    parse_reset,
    parse_retry_after,
)
from tests.fakes.mastodon import Fault

LOOPBACK = HttpConfig(connect_timeout=1.0, read_timeout=1.0, write_timeout=1.0, allow_private_networks=True)


class Scripted:
    """A tiny real server whose answers each test scripts: path -> (status, headers, body)."""

    def __init__(self):
        self.routes: dict[str, tuple[int, dict[str, str], bytes]] = {}
        self.hits: list[tuple[str, str, dict[str, str]]] = []
        self.stall = threading.Event()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def _any(self):
                length = int(self.headers.get("content-length") or 0)
                if length:
                    self.rfile.read(length)
                outer.hits.append((self.command, self.path, {k.lower(): v for k, v in self.headers.items()}))
                route = outer.routes.get(self.path.split("?")[0])
                if route is None:
                    status, headers, body = 404, {}, b'{"error":"Not Found"}'
                else:
                    status, headers, body = route
                if status == -1:  # stall after reading the request, then hang up
                    outer.stall.wait(5)
                    self.close_connection = True
                    return
                self.send_response(status)
                headers = {"content-type": "application/json", **headers}
                if headers.get("content-length") == "":  # no length: the body ends when we close
                    del headers["content-length"]
                    headers["connection"] = "close"
                    self.close_connection = True
                elif "content-length" not in headers:
                    headers["content-length"] = str(len(body))
                for key, value in headers.items():
                    self.send_header(key, value)
                self.end_headers()
                try:
                    self.wfile.write(body)
                except OSError:
                    pass

            do_GET = do_POST = do_DELETE = do_PUT = _any

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()

    def route(self, path: str, status: int, body: object = b"{}", **headers: str) -> None:
        raw = body if isinstance(body, bytes) else json.dumps(body).encode()
        self.routes[path] = (status, {k.replace("_", "-"): v for k, v in headers.items()}, raw)

    def close(self):
        self.stall.set()
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def scripted():
    server = Scripted()
    yield server
    server.close()


@pytest.fixture
def client(scripted):
    http = HttpClient(scripted.url, config=LOOPBACK, account_key="acct-1", token=lambda: "secret-token")
    yield http
    http.close()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# -- transport failures -----------------------------------------------------------------------


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_connection_refused_is_retryable_even_for_writes(method):
    # Nothing listens: the request never left, so even a POST is safe to repeat.
    http = HttpClient(f"http://127.0.0.1:{_free_port()}", config=LOOPBACK)
    with pytest.raises(Retryable) as info:
        http.request(method, "/api/v1/statuses")
    assert type(info.value) is Retryable
    assert "ConnectError" in info.value.detail


def test_read_timeout_after_sending_a_post_is_ambiguous(scripted, client):
    scripted.route("/api/v1/statuses", -1)
    with pytest.raises(Ambiguous) as info:
        client.post("/api/v1/statuses", json_body={"status": "hi"})
    assert "ReadTimeout" in info.value.detail


def test_read_timeout_on_a_read_is_retryable(scripted, client):
    scripted.route("/api/v1/statuses/1", -1)
    with pytest.raises(Retryable) as info:
        client.get("/api/v1/statuses/1")
    assert type(info.value) is Retryable


def test_connection_dropped_after_a_post_is_ambiguous_but_retryable_for_get(fake_mastodon):
    http = HttpClient(fake_mastodon.base_url, config=LOOPBACK, token=lambda: fake_mastodon.token)
    fake_mastodon.inject("POST /api/v1/statuses", Fault.drop_after())
    with pytest.raises(Ambiguous):
        http.post("/api/v1/statuses", json_body={"status": "dropped"})
    assert len(fake_mastodon.own_statuses()) == 1  # it was created: that is why it is ambiguous
    fake_mastodon.inject("GET /api/v1/accounts/verify_credentials", Fault.drop_after())
    with pytest.raises(Retryable) as info:
        http.get("/api/v1/accounts/verify_credentials")
    assert type(info.value) is Retryable


# -- statuses --------------------------------------------------------------------------------


@pytest.mark.parametrize("status", [500, 503])
@pytest.mark.parametrize("method", ["GET", "POST"])
def test_server_errors_are_retryable(scripted, client, status, method):
    scripted.route("/x", status, {"error": "boom"})
    with pytest.raises(Retryable) as info:
        client.request(method, "/x")
    assert type(info.value) is Retryable and info.value.status == status and info.value.detail == "boom"


@pytest.mark.parametrize("status", [502, 504])
def test_gateway_errors_on_a_write_are_ambiguous(scripted, client, status):
    # A proxy that lost the backend's answer: the post may exist (Mastodon #21840).
    scripted.route("/x", status, b"<html>Bad gateway</html>", content_type="text/html")
    with pytest.raises(Ambiguous):
        client.post("/x")
    with pytest.raises(Retryable) as info:
        client.get("/x")
    assert type(info.value) is Retryable


def test_503_with_retry_after_says_how_long(scripted, client):
    scripted.route("/x", 503, {"error": "maintenance"}, retry_after="120")
    with pytest.raises(Retryable) as info:
        client.get("/x")
    assert info.value.retry_after == 120


def test_429_with_retry_after(scripted, client):
    scripted.route("/x", 429, {"error": "Too many requests"}, retry_after="17")
    with pytest.raises(RateLimited) as info:
        client.get("/x")
    assert info.value.retry_after == 17
    assert info.value.detail == "Too many requests"


def test_429_with_mastodon_reset_header(scripted, client):
    reset = datetime.now(timezone.utc) + timedelta(seconds=90)
    scripted.route("/api/v1/statuses", 429, {"error": "Too many requests"}, x_ratelimit_limit="300",
                   x_ratelimit_remaining="0", x_ratelimit_reset=reset.strftime("%Y-%m-%dT%H:%M:%S.%fZ"))
    with pytest.raises(RateLimited) as info:
        client.post("/api/v1/statuses")
    assert 85 <= info.value.retry_after <= 91
    blocked = client.blocked_until("POST /api/v1/statuses")
    assert blocked is not None and abs((blocked - reset).total_seconds()) < 1
    assert client.blocked_until() == blocked  # the account as a whole is blocked too


def test_429_without_any_hint_waits_a_minute_and_blocks(scripted, client):
    scripted.route("/x", 429, b"")
    with pytest.raises(RateLimited) as info:
        client.get("/x")
    assert info.value.retry_after == 60
    assert client.blocked_until("GET /x") is not None


def test_401_is_auth_expired_with_the_network_text(scripted, client):
    scripted.route("/x", 401, {"error": "The access token is invalid"})
    with pytest.raises(AuthExpired) as info:
        client.get("/x")
    assert info.value.detail == "The access token is invalid"


def test_422_is_permanent_and_shows_the_network_text(scripted, client):
    scripted.route("/x", 422, {"error": "Validation failed: Text character limit of 500 exceeded"})
    with pytest.raises(Permanent) as info:
        client.post("/x")
    assert info.value.status == 422
    assert "character limit of 500" in info.value.detail
    assert "character limit of 500" in str(info.value.user_message)


@pytest.mark.parametrize("status", [400, 403, 404, 410, 413])
def test_other_4xx_are_permanent(scripted, client, status):
    scripted.route("/x", status, {"error": "nope"})
    with pytest.raises(Permanent) as info:
        client.post("/x")
    assert info.value.status == status


def test_redirects_are_not_followed(scripted, client):
    # A POST turned into a GET elsewhere would lose the post silently; say so instead.
    scripted.route("/x", 301, b"", location="https://elsewhere.example/x")
    with pytest.raises(Permanent) as info:
        client.post("/x")
    assert "elsewhere.example" in info.value.detail
    assert len(scripted.hits) == 1


def test_accepted_statuses_come_back_without_raising(scripted, client):
    scripted.route("/x", 404, {"error": "Record not found"})
    response = client.delete("/x", accept={404})
    assert response.status == 404 and response.data == {"error": "Record not found"}


# -- bodies ----------------------------------------------------------------------------------


@pytest.mark.parametrize("body", [b'{"id": "1", "content": "<p>tru', b"<html>maintenance</html>", b""])
def test_malformed_json_on_a_read_is_retryable(scripted, client, body):
    scripted.route("/x", 200, body)
    with pytest.raises(Retryable) as info:
        client.get("/x")
    assert type(info.value) is Retryable
    assert "200" in info.value.detail


def test_malformed_json_after_a_write_is_ambiguous(scripted, client):
    # The server said 200 to our POST but we cannot read the id: the post probably exists.
    scripted.route("/api/v1/statuses", 200, b'{"id": "1", "conte')
    with pytest.raises(Ambiguous):
        client.post("/api/v1/statuses")


def test_deeply_nested_json_is_malformed_not_a_crash(scripted, client):
    scripted.route("/x", 200, b"[" * 100_000 + b"]" * 100_000)
    with pytest.raises(Retryable):
        client.get("/x")


def test_oversized_bodies_are_refused(scripted):
    http = HttpClient(scripted.url, config=HttpConfig(allow_private_networks=True, max_response_bytes=1000))
    scripted.route("/declared", 200, b"[" + b"1," * 2000 + b"1]")
    with pytest.raises(Retryable) as info:
        http.get("/declared")
    assert "limit" in info.value.detail
    scripted.route("/undeclared", 200, b"[" + b"1," * 2000 + b"1]", content_length="")
    with pytest.raises(Retryable) as info:  # no declared length: cut while streaming
        http.get("/undeclared")
    assert "more than 1000 bytes" in info.value.detail
    http.close()


def test_the_network_error_text_shapes():
    assert error_text({"error": "invalid_grant", "error_description": "The grant is invalid"}) == \
        "The grant is invalid; invalid_grant"
    assert error_text({"errors": [{"message": "a"}, {"message": "b"}]}) == "a; b"
    assert error_text({"errors": {"text": ["too long"]}}) == "text: ['too long']"
    assert error_text(None, "plain \x00text\x07") == "plain text"


# -- rate-limit book --------------------------------------------------------------------------


def test_rate_limit_headers_are_recorded_per_account_and_bucket(fake_mastodon):
    book = RateLimitBook()
    one = HttpClient(fake_mastodon.base_url, config=LOOPBACK, account_key="a1", rate_book=book,
                     token=lambda: fake_mastodon.token)
    one.get("/api/v1/accounts/verify_credentials")
    one.get("/api/v1/accounts/verify_credentials")
    state = book.get("a1", "GET /api/v1/accounts/verify_credentials")
    assert state.limit == 300 and state.remaining == 298
    assert state.reset_at > datetime.now(timezone.utc)
    assert state.blocked_until() is None
    assert book.snapshot("someone-else") == []
    json.dumps([s.as_dict() for s in book.snapshot("a1")])  # persistable as it is


def test_an_exhausted_window_blocks_the_account_until_reset(fake_mastodon):
    fake_mastodon.rate_limits["api"] = (2, 300.0)
    http = HttpClient(fake_mastodon.base_url, config=LOOPBACK, account_key="a1", token=lambda: fake_mastodon.token)
    http.get("/api/v1/accounts/verify_credentials")
    http.get("/api/v1/accounts/verify_credentials")
    assert http.blocked_until() is not None  # remaining 0 until the reset: skip this account
    with pytest.raises(RateLimited) as info:
        http.get("/api/v1/accounts/verify_credentials")
    assert 250 < info.value.retry_after <= 300


@pytest.mark.parametrize("value, expected_seconds", [
    ("2030-01-01T00:00:00.000Z", None),
    ("30", 30),
    ("0", 0),
])
def test_parse_reset_forms(value, expected_seconds):
    now = datetime(2029, 12, 31, 23, 59, 0, tzinfo=timezone.utc)
    parsed = parse_reset(value, now)
    if expected_seconds is None:
        assert parsed == datetime(2030, 1, 1, tzinfo=timezone.utc)
    else:
        assert parsed == now + timedelta(seconds=expected_seconds)


def test_parse_reset_epochs_dates_and_garbage():
    now = datetime(2026, 1, 1, tzinfo=timezone.utc)
    assert parse_reset("1767225600", now) == datetime(2026, 1, 1, tzinfo=timezone.utc)
    assert parse_reset("1767225600000", now) == datetime(2026, 1, 1, tzinfo=timezone.utc)
    assert parse_reset("Thu, 01 Jan 2026 00:01:00 GMT", now) == now + timedelta(minutes=1)
    assert parse_reset("soon", now) is None
    assert parse_reset("", now) is None
    assert parse_retry_after("Thu, 01 Jan 2026 00:01:00 GMT", now) == 60
    assert parse_retry_after("later", now) is None


def test_buckets_name_endpoints_not_ids():
    assert bucket_for("post", "/api/v1/statuses/117020593780198542/favourite") == \
        "POST /api/v1/statuses/:id/favourite"
    assert bucket_for("GET", "/api/v1/accounts/verify_credentials") == "GET /api/v1/accounts/verify_credentials"
    assert bucket_for("GET", "/api/v1/scheduled_statuses?limit=5") == "GET /api/v1/scheduled_statuses"
    assert bucket_for("GET", "http://h/api/v1/media/42?x=1") == "GET /api/v1/media/:id"


# -- requests we send -----------------------------------------------------------------------


def test_bearer_token_only_when_asked(scripted, client):
    scripted.route("/x", 200, {})
    client.get("/x")
    client.get("/x", auth=False)
    assert scripted.hits[0][2]["authorization"] == "Bearer secret-token"
    assert "authorization" not in scripted.hits[1][2]


def test_pagination_links_never_carry_the_token_to_another_host(scripted, client):
    with pytest.raises(Permanent):
        client.get("http://evil.example/api/v1/notifications?max_id=1")
    scripted.route("/x", 200, [])
    client.get(f"{scripted.url}/x?max_id=3")  # the same server is fine
    assert [hit[1] for hit in scripted.hits] == ["/x?max_id=3"]


def test_the_exchange_log_records_each_attempt(scripted, client):
    seen = []
    client.on_exchange = seen.append
    scripted.route("/api/v1/statuses/5", 404, {"error": "Not Found"})
    with pytest.raises(Permanent):
        client.get("/api/v1/statuses/5")
    (exchange,) = seen
    assert (exchange.method, exchange.path, exchange.status, exchange.outcome) == \
        ("GET", "/api/v1/statuses/:id", 404, "permanent")
    assert exchange.detail == "Not Found"
    assert list(client.exchanges) == seen


def test_latency_is_waited_out_within_the_timeout(fake_mastodon):
    http = HttpClient(fake_mastodon.base_url, config=LOOPBACK, token=lambda: fake_mastodon.token)
    fake_mastodon.inject("GET /api/v1/accounts/verify_credentials", Fault.latency(0.3))
    started = time.monotonic()
    assert http.get("/api/v1/accounts/verify_credentials").status == 200
    assert time.monotonic() - started >= 0.3


# -- private addresses (DESIGN §7) -------------------------------------------------------------


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost"])
def test_private_addresses_are_refused_by_default(scripted, host):
    port = scripted.server.server_address[1]
    http = HttpClient(f"http://{host}:{port}", config=HttpConfig(allow_private_networks=False))
    with pytest.raises(Permanent) as info:
        http.get("/x")
    assert "non-public" in info.value.detail
    assert scripted.hits == []  # nothing reached the server


def test_invalid_base_urls_are_permanent():
    for base in ("ftp://example.org", "not a url", ""):
        with pytest.raises(Permanent):
            HttpClient(base, config=LOOPBACK).get("/x")


def test_messages_are_translated_when_read():
    http_error = None
    try:
        HttpClient(f"http://127.0.0.1:{_free_port()}", config=LOOPBACK).get("/x")
    except Retryable as exc:
        http_error = exc
    with translation.override("es"):
        spanish = str(http_error.user_message)
    with translation.override("en"):
        english = str(http_error.user_message)
    assert english == "We could not reach the network's server. We will try again."
    assert spanish != english and "servidor" in spanish


@pytest.mark.parametrize("address, public", [
    ("93.184.216.34", True), ("2606:2800:220:1:248:1893:25c8:1946", True),
    ("10.0.0.1", False), ("169.254.169.254", False), ("127.0.0.1", False), ("::1", False), ("0.0.0.0", False),
    ("::ffff:169.254.169.254", False),  # IPv4-mapped
    ("64:ff9b::a9fe:a9fe", False),  # NAT64 of 169.254.169.254
    ("64:ff9b::5db8:d822", True),  # NAT64 of 93.184.216.34
    ("2002:a9fe:a9fe::1", False),  # 6to4 of 169.254.169.254
    ("2002:0a00:0001::1", False),  # 6to4 of 10.0.0.1
    ("ff02::1", False), ("224.0.0.1", False),
])
def test_private_addresses_are_refused_in_every_spelling(address, public):
    import ipaddress

    from tertulia.networks.http import is_public_address

    assert is_public_address(ipaddress.ip_address(address)) is public
