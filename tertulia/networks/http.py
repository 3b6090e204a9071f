"""The one HTTP layer all connectors share (DESIGN.md §2, §3, §4).

It turns everything that can go wrong on the wire into the error vocabulary of ``errors.py``:

=====================================================  ===========================================
what happened                                          error
=====================================================  ===========================================
could not connect, DNS failure, connect/pool timeout   ``Retryable`` (the request never left)
read timeout, connection dropped before the answer     ``Ambiguous`` for writes (POST/PATCH): the
                                                       network may have acted; ``Retryable`` for
                                                       reads and idempotent methods
502/504 on a write                                     ``Ambiguous``: a gateway lost the backend's
                                                       answer, the post may exist (Mastodon
                                                       #21840: duplicate posts after 504s)
other 5xx, 408                                         ``Retryable`` (``retry_after`` from
                                                       Retry-After when given)
429                                                    ``RateLimited`` (Retry-After, else
                                                       x-ratelimit-reset, else 60 s)
401                                                    ``AuthExpired``
other 4xx, 3xx                                         ``Permanent`` with the network's own text
a 2xx whose body is not the JSON we expect             ``Ambiguous`` for writes, ``Retryable``
                                                       for reads
=====================================================  ===========================================

Every response's ``x-ratelimit-limit/remaining/reset`` headers are recorded per account and per
endpoint in a ``RateLimitBook`` (in memory, thread-safe) that the engine can read and persist,
so accounts that are blocked until a reset are skipped when work is claimed.

Instance addresses are typed in by users, so by default the client refuses to connect to
loopback, private, link-local and other non-global addresses, checked on the address actually
dialled (no DNS-rebinding window). Tests and development against a local server allow them
explicitly with ``HttpConfig(allow_private_networks=True)`` or the environment variable
``TERTULIA_ALLOW_PRIVATE_NETWORKS=1``.
"""

from __future__ import annotations

import email.utils
import functools
import ipaddress
import json
import os
import re
import socket
import ssl
import threading
import time
from collections import deque
from collections.abc import Callable, Collection
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any
from urllib.parse import urlsplit

import httpcore
import httpx
from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy as _

from .errors import Ambiguous, AuthExpired, ConnectorError, Permanent, RateLimited, Retryable
from .ratelimit import BUCKETS, BucketBook, RateRule

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})  # idempotent: retry is harmless
DEFAULT_RATE_LIMIT_WAIT = 60.0
MAX_RATE_LIMIT_WAIT = 24 * 3600.0


def _env_bool(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in ("1", "true", "yes", "on")


@dataclass(frozen=True)
class HttpConfig:
    connect_timeout: float = 5.0
    read_timeout: float = 30.0
    write_timeout: float = 30.0
    pool_timeout: float = 5.0
    user_agent: str = "Tertulia/0.1 (self-hosted community management)"
    max_response_bytes: int = 8 * 1024 * 1024
    allow_private_networks: bool = field(default_factory=lambda: _env_bool("TERTULIA_ALLOW_PRIVATE_NETWORKS"))
    proxy: str | None = field(default_factory=lambda: os.environ.get("TERTULIA_HTTP_PROXY") or None)
    verify: bool = True
    max_connections: int = 20
    accept_language: str = ""  # ask for the network's error texts in this language ("es")
    # Proactive rate limiting (ratelimit.py): wait up to this long for a bucket's next token;
    # longer than that, do not send and raise RateLimited so the engine defers the work.
    rate_limit_max_wait: float = 2.0

    def timeout(self) -> httpx.Timeout:
        return httpx.Timeout(connect=self.connect_timeout, read=self.read_timeout,
                             write=self.write_timeout, pool=self.pool_timeout)


def publishing_http_config() -> HttpConfig:
    """The connector settings of this deployment (``settings.PUBLISHING["HTTP"]``: timeouts, and
    the SSRF guard: private and loopback addresses are refused unless allowed explicitly), the
    same for publishing, polling and connecting."""
    from django.conf import settings

    return HttpConfig(**(getattr(settings, "PUBLISHING", {}).get("HTTP", {}) or {}))


# -- rate limits ------------------------------------------------------------------------------


@dataclass(frozen=True)
class RateLimitState:
    """One rate-limit window the network reported for one account and endpoint bucket."""

    account_key: str
    bucket: str
    limit: int | None
    remaining: int | None
    reset_at: datetime | None
    observed_at: datetime

    def blocked_until(self, now: datetime | None = None) -> datetime | None:
        now = now or datetime.now(timezone.utc)
        if self.remaining is not None and self.remaining <= 0 and self.reset_at and self.reset_at > now:
            return self.reset_at
        return None

    def as_dict(self) -> dict[str, Any]:
        out = asdict(self)
        for key in ("reset_at", "observed_at"):
            out[key] = out[key].isoformat() if out[key] else None
        return out


class RateLimitBook:
    """Thread-safe memory of the latest rate-limit window per (account, bucket)."""

    def __init__(self):
        self._lock = threading.Lock()
        self._states: dict[tuple[str, str], RateLimitState] = {}

    def record(self, state: RateLimitState) -> None:
        with self._lock:
            self._states[(state.account_key, state.bucket)] = state

    def get(self, account_key: str, bucket: str) -> RateLimitState | None:
        with self._lock:
            return self._states.get((account_key, bucket))

    def snapshot(self, account_key: str | None = None) -> list[RateLimitState]:
        with self._lock:
            states = list(self._states.values())
        return sorted((s for s in states if account_key is None or s.account_key == account_key),
                      key=lambda s: (s.account_key, s.bucket))

    def blocked_until(self, account_key: str, bucket: str | None = None,
                      now: datetime | None = None) -> datetime | None:
        """When the account (or one of its endpoint buckets) may be called again, if blocked."""
        times = [t for s in self.snapshot(account_key) if bucket is None or s.bucket == bucket
                 if (t := s.blocked_until(now))]
        return max(times) if times else None


# An id in a path: digits (Mastodon snowflakes), a long token with digits (flake ids), a UUID.
_ID_SEGMENT = re.compile(r"^(\d+|(?=[A-Za-z_-]*\d)[A-Za-z0-9_-]{16,}|[0-9a-fA-F-]{32,36})$")


def bucket_for(method: str, path: str) -> str:
    """``POST /api/v1/statuses/123/favourite`` -> ``POST /api/v1/statuses/:id/favourite``."""
    path = httpx.URL(path).path if "://" in path else path.split("?", 1)[0]
    parts = [":id" if _ID_SEGMENT.match(p) else p for p in path.split("/")]
    return f"{method.upper()} {'/'.join(parts)}"


def parse_reset(value: str | None, now: datetime | None = None) -> datetime | None:
    """A reset time as networks send it: ISO 8601 (Mastodon), epoch seconds or milliseconds
    (X, GitHub), seconds from now (some APIs), or an HTTP date."""
    if not value:
        return None
    now = now or datetime.now(timezone.utc)
    value = value.strip()
    try:
        number = float(value)
    except ValueError:
        pass
    else:
        if number > 1e12:
            return datetime.fromtimestamp(number / 1000, timezone.utc)
        if number > 1e9:
            return datetime.fromtimestamp(number, timezone.utc)
        return now + timedelta(seconds=max(0.0, number))
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        try:
            parsed = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=timezone.utc)
    return parsed


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Retry-After is seconds or an HTTP date (RFC 9110 §10.2.3)."""
    if not value:
        return None
    now = now or datetime.now(timezone.utc)
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return max(0.0, (when - now).total_seconds())


def _header_int(headers: httpx.Headers, name: str) -> int | None:
    try:
        return int(float(headers[name]))
    except (KeyError, ValueError):
        return None


def rate_limit_from_headers(headers: httpx.Headers, *, account_key: str, bucket: str,
                            now: datetime | None = None) -> RateLimitState | None:
    now = now or datetime.now(timezone.utc)
    # Mastodon and most APIs say x-ratelimit-*; X says x-rate-limit-*.
    limit = _header_int(headers, "x-ratelimit-limit")
    if limit is None:
        limit = _header_int(headers, "x-rate-limit-limit")
    remaining = _header_int(headers, "x-ratelimit-remaining")
    if remaining is None:
        remaining = _header_int(headers, "x-rate-limit-remaining")
    reset_at = parse_reset(headers.get("x-ratelimit-reset") or headers.get("x-rate-limit-reset"), now)
    if limit is None and remaining is None and reset_at is None:
        return None
    return RateLimitState(account_key, bucket, limit, remaining, reset_at, now)


# -- the network's own words -------------------------------------------------------------------

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")


def clean_text(text: str, limit: int = 1000) -> str:
    return _CONTROL.sub("", text or "").strip()[:limit]


def parse_time(value: Any) -> datetime | None:
    """An ISO 8601 time from a network's JSON (``Z`` or an offset; none means UTC), or None."""
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


def safe_url(value: Any, limit: int = 1000) -> str:
    """A link a network gave us, fit for an ``href``: http(s) only (never ``javascript:`` or
    ``data:``), without control characters; anything else is dropped."""
    if not isinstance(value, str):
        return ""
    value = clean_text(value, 10_000)
    return value[:limit] if urlsplit(value).scheme in ("http", "https") and len(value) <= limit else ""


def error_text(data: Any, raw: str = "") -> str:
    """The network's error message from the usual JSON shapes, else the start of the body."""
    found: list[str] = []
    if isinstance(data, dict):
        for key in ("error_description", "error", "message", "detail", "title", "error_message"):
            value = data.get(key)
            if isinstance(value, str) and value and value not in found:
                found.append(value)
            elif isinstance(value, dict) and isinstance(value.get("message"), str):
                found.append(value["message"])
        errors = data.get("errors")
        if isinstance(errors, list):
            found += [e.get("message", "") if isinstance(e, dict) else str(e) for e in errors[:5]]
        elif isinstance(errors, dict):
            found += [f"{k}: {v}" for k, v in list(errors.items())[:5]]
    elif isinstance(data, str):
        found.append(data)
    text = "; ".join(f for f in found if f) or raw
    return clean_text(text)


# -- SSRF guard --------------------------------------------------------------------------------


class PrivateAddressRefused(httpcore.ConnectError):
    pass


_NAT64 = ipaddress.ip_network("64:ff9b::/96")


def is_public_address(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    """Globally routable and not multicast. IPv6 forms that carry an IPv4 address (mapped,
    6to4, NAT64) are judged by the IPv4 address inside: ``64:ff9b::a9fe:a9fe`` is 169.254.169.254."""
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            ip = ip.ipv4_mapped
        elif ip.sixtofour is not None:
            ip = ip.sixtofour
        elif ip in _NAT64:
            ip = ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return ip.is_global and not ip.is_multicast


class _GuardedBackend(httpcore.NetworkBackend):
    """Resolve, refuse non-global addresses, then dial the checked address itself (TLS still
    verifies the host name: httpcore passes it separately as the SNI/server name)."""

    def __init__(self, allow_loopback: bool = False):
        self._inner = httpcore.SyncBackend()
        # Only ``fetch_url(..., allow_loopback=True)`` sets this (tests against a local server
        # that must still see every other private range refused, e.g. on a redirect).
        self.allow_loopback = allow_loopback

    def connect_tcp(self, host, port, timeout=None, local_address=None, socket_options=None):
        try:
            infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except (socket.gaierror, UnicodeError) as exc:
            raise httpcore.ConnectError(f"cannot resolve {host}: {exc}") from exc
        addresses = []
        for *_info, sockaddr in infos:
            ip = ipaddress.ip_address(sockaddr[0].split("%", 1)[0])
            if not is_public_address(ip) and not (self.allow_loopback and ip.is_loopback):
                raise PrivateAddressRefused(f"{host} resolves to {ip}, a non-public address")
            addresses.append(str(ip))
        last: Exception | None = None
        for address in dict.fromkeys(addresses):
            try:
                return self._inner.connect_tcp(address, port, timeout=timeout, local_address=local_address,
                                               socket_options=socket_options)
            except httpcore.ConnectError as exc:
                last = exc
        raise last or httpcore.ConnectError(f"no address for {host}")

    def connect_unix_socket(self, *args, **kwargs):  # pragma: no cover - never used
        raise httpcore.ConnectError("unix sockets are not allowed")

    def sleep(self, seconds: float) -> None:
        self._inner.sleep(seconds)


@functools.lru_cache(maxsize=2)
def _ssl_context(verify: bool) -> ssl.SSLContext:
    """One TLS context per process (and ``verify`` value): loading the CA bundle costs tens of
    milliseconds, which a consumer would otherwise pay for every post it sends. Contexts are
    safe to share between threads and connections."""
    return httpx.create_ssl_context(verify=verify)


def _transport(config: HttpConfig) -> httpx.HTTPTransport:
    limits = httpx.Limits(max_connections=config.max_connections,
                          max_keepalive_connections=config.max_connections)
    transport = httpx.HTTPTransport(verify=_ssl_context(bool(config.verify)), limits=limits, proxy=config.proxy,
                                    retries=0)
    if not config.allow_private_networks and config.proxy is None:
        pool = transport._pool  # httpx keeps its httpcore pool here; checked by the SSRF tests
        if not hasattr(pool, "_network_backend"):
            raise RuntimeError("httpcore changed: cannot install the private-address guard")
        pool._network_backend = _GuardedBackend()
    return transport


# -- the client --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Exchange:
    """One request as the delivery log shows it."""

    method: str
    path: str
    status: int | None
    elapsed_ms: float
    outcome: str  # "ok" or the error kind
    detail: str = ""
    request_id: str = ""
    at: datetime = field(default_factory=lambda: datetime.now(timezone.utc))


@dataclass
class ApiResponse:
    status: int
    headers: httpx.Headers
    data: Any
    text: str
    rate_limit: RateLimitState | None = None

    @property
    def links(self) -> dict[str, str]:
        """The Link header (RFC 8288) as rel -> URL, for pagination."""
        out = {}
        for part in self.headers.get("link", "").split(","):
            match = re.match(r'\s*<([^>]*)>\s*;\s*rel="?([^";]+)"?', part)
            if match:
                out[match.group(2)] = match.group(1)
        return out


class _BodyTooLarge(Exception):
    pass


MSG_CONNECT = _("We could not reach the network's server. We will try again.")
MSG_TIMEOUT = _("The network's server took too long to answer. We will try again.")
MSG_AMBIGUOUS = _("The connection to the network dropped after the request was sent, so it may "
                  "have gone through. We will check on the network before trying again.")
MSG_SERVER = _("The network's server had a problem (error {status}). We will try again.")
MSG_RATE = _("The network asked us to slow down. We will try again in {seconds} seconds.")
MSG_AUTH = _("The network no longer accepts this account's sign-in. Reconnect the account.")
MSG_REFUSED = _("The network refused this: {reason}")
MSG_NOT_FOUND = _("The network could not find it; it may have been deleted.")
MSG_TOO_LARGE = _("It is larger than the network accepts.")
MSG_REDIRECT = _("The server address answered with a redirect. Check the account's server address.")
MSG_MALFORMED = _("The network's server sent a reply we could not read. We will try again.")
MSG_BAD_URL = _("The account's server address is not valid. Check it in the account settings.")
MSG_PRIVATE = _("The account's server address points to a private network, which Tertulia does "
                "not contact. Check the server address.")


def error_for_status(method: str, status: int, headers: httpx.Headers, data: Any, raw: str,
                     now: datetime | None = None) -> ConnectorError | None:
    """The error for an HTTP status, or None for 2xx."""
    if 200 <= status < 300:
        return None
    now = now or datetime.now(timezone.utc)
    unsafe = method.upper() not in SAFE_METHODS
    detail = error_text(data, raw)
    if status == 429:
        wait = parse_retry_after(headers.get("retry-after"), now)
        if wait is None:
            reset = parse_reset(headers.get("x-ratelimit-reset") or headers.get("x-rate-limit-reset"), now)
            wait = (reset - now).total_seconds() if reset else DEFAULT_RATE_LIMIT_WAIT
        wait = min(max(wait, 1.0), MAX_RATE_LIMIT_WAIT)
        return RateLimited(format_lazy(MSG_RATE, seconds=int(round(wait))), retry_after=wait,
                           detail=detail, status=status)
    if status == 401:
        return AuthExpired(MSG_AUTH, detail=detail, status=status)
    if status >= 500:
        if unsafe and status in (502, 504):
            return Ambiguous(MSG_AMBIGUOUS, detail=detail, status=status)
        return Retryable(format_lazy(MSG_SERVER, status=status), detail=detail, status=status,
                         retry_after=parse_retry_after(headers.get("retry-after"), now))
    if status == 408:
        return Retryable(MSG_TIMEOUT, detail=detail, status=status)
    if 300 <= status < 400:
        return Permanent(MSG_REDIRECT, detail=f"{status} -> {clean_text(headers.get('location', ''), 300)}",
                         status=status)
    if status in (404, 410):
        return Permanent(MSG_NOT_FOUND, detail=detail, status=status)
    if status == 413:
        return Permanent(MSG_TOO_LARGE, detail=detail, status=status)
    return Permanent(format_lazy(MSG_REFUSED, reason=detail or str(status)), detail=detail, status=status)


class HttpClient:
    """httpx with our timeouts, error mapping and rate-limit book, for one account."""

    def __init__(self, base_url: str, *, config: HttpConfig | None = None, account_key: str = "",
                 rate_book: RateLimitBook | None = None, network: str = "",
                 token: Callable[[], str] | None = None,
                 on_exchange: Callable[[Exchange], None] | None = None,
                 rate_rules: Collection[RateRule] = (), buckets: BucketBook | None = None):
        self.config = config or HttpConfig()
        self.rate_rules = tuple(rate_rules)
        self.buckets = buckets if buckets is not None else BUCKETS
        self.sleep = time.sleep
        self.base_url = (base_url or "").rstrip("/")
        self.account_key = account_key
        self.network = network
        self.rate_book = rate_book if rate_book is not None else RateLimitBook()
        self._token = token
        self.on_exchange = on_exchange
        self.exchanges: deque[Exchange] = deque(maxlen=100)
        self._client: httpx.Client | None = None
        self._lock = threading.Lock()

    # The httpx client is built on first use, so that constructing a connector never touches
    # the network and an invalid address fails as a Permanent error at call time.
    def _http(self) -> httpx.Client:
        with self._lock:
            if self._client is None:
                try:
                    url = httpx.URL(self.base_url)
                except (httpx.InvalidURL, ValueError, TypeError):
                    url = None  # a malformed host or port ("0177.0.0.1", "x:alert(1)"): Permanent too
                if url is None or url.scheme not in ("http", "https") or not url.host:
                    raise Permanent(MSG_BAD_URL, detail=f"base URL {self.base_url!r}")
                headers = {"User-Agent": self.config.user_agent, "Accept": "application/json"}
                if self.config.accept_language:
                    headers["Accept-Language"] = self.config.accept_language
                self._client = httpx.Client(base_url=self.base_url, timeout=self.config.timeout(),
                                            transport=_transport(self.config), follow_redirects=False,
                                            headers=headers)
            return self._client

    def close(self) -> None:
        with self._lock:
            if self._client is not None:
                self._client.close()
                self._client = None

    def rate_limits(self) -> list[RateLimitState]:
        return self.rate_book.snapshot(self.account_key)

    def blocked_until(self, bucket: str | None = None) -> datetime | None:
        return self.rate_book.blocked_until(self.account_key, bucket)

    def get(self, path: str, **kw) -> ApiResponse:
        return self.request("GET", path, **kw)

    def post(self, path: str, **kw) -> ApiResponse:
        return self.request("POST", path, **kw)

    def delete(self, path: str, **kw) -> ApiResponse:
        return self.request("DELETE", path, **kw)

    def request(self, method: str, path: str, *, params: Any = None, json_body: Any = None,
                data: Any = None, files: Any = None, headers: dict[str, str] | None = None,
                auth: bool = True, bucket: str | None = None, expect_json: bool = True,
                accept: Collection[int] = ()) -> ApiResponse:
        """Send one request; return the response for 2xx (and the statuses in ``accept``), or
        raise the matching ``ConnectorError``. Never retries: retrying is the engine's call."""
        method = method.upper()
        unsafe = method not in SAFE_METHODS
        bucket = bucket or bucket_for(method, path)
        send_headers = dict(headers or {})
        token = self._token() if (auth and self._token) else ""
        if token:
            send_headers["Authorization"] = f"Bearer {token}"
        started = time.monotonic()
        status: int | None = None
        response_headers = httpx.Headers()
        try:
            self._pace(method, path, bucket)
            client = self._http()
            path = self._same_origin(client, path)
            try:
                request = client.build_request(method, path, params=params, json=json_body, data=data,
                                               files=files, headers=send_headers)
            except (httpx.InvalidURL, ValueError, TypeError) as exc:
                raise Permanent(MSG_BAD_URL, detail=clean_text(str(exc))) from exc
            try:
                response = client.send(request, stream=True)
            except httpx.TransportError as exc:
                raise self._transport_error(exc, unsafe) from exc
            status, response_headers = response.status_code, response.headers
            self._record_rate_limit(response_headers, bucket)
            try:
                body = self._read(response)
            except (httpx.TransportError, _BodyTooLarge) as exc:
                if isinstance(exc, _BodyTooLarge) or 200 <= status < 300:
                    raise self._unreadable(unsafe, status, f"body: {exc}") from exc
                body = b""
            finally:
                response.close()
            text = _decode(body, response.charset_encoding)
            parsed, parse_error = _parse_json(text)
            error = error_for_status(method, status, response_headers, parsed, text)
            if isinstance(error, RateLimited):
                self._record_block(bucket, error.retry_after)
            if error is not None and status not in accept:
                raise error
            if expect_json and 200 <= status < 300 and status != 204 and parse_error:
                raise self._unreadable(unsafe, status, parse_error + ": " + clean_text(text, 200))
            result = ApiResponse(status, response_headers, parsed, text,
                                 self.rate_book.get(self.account_key, bucket))
        except ConnectorError as exc:
            self._log(method, path, status, started, exc.kind, exc.detail, response_headers)
            raise
        self._log(method, path, status, started, "ok", "", response_headers)
        return result

    # -- internals -----------------------------------------------------------------------

    def _same_origin(self, client: httpx.Client, path: str) -> str:
        """Absolute URLs (pagination links come from the server) must stay on the account's
        server: never send its token to a host a response named."""
        if "://" not in path:
            return path
        url, base = httpx.URL(path), client.base_url
        if (url.scheme, url.host, url.port) != (base.scheme, base.host, base.port):
            raise Permanent(MSG_BAD_URL, detail=f"refused off-server URL {clean_text(path, 200)!r}")
        return path

    def _pace(self, method: str, path: str, bucket: str) -> None:
        """Before sending: honour a window the network said is exhausted (remaining 0 until
        its reset), then take a token from each of the connector's buckets. Either may raise
        ``RateLimited``: nothing was sent, so the caller may defer without any ambiguity."""
        now = datetime.now(timezone.utc)
        blocked = self.rate_book.blocked_until(self.account_key, bucket, now)
        if blocked is not None:
            wait = (blocked - now).total_seconds()
            if wait > self.config.rate_limit_max_wait:
                raise RateLimited(format_lazy(MSG_RATE, seconds=int(round(wait))), retry_after=wait,
                                  detail=f"not sent: {bucket} exhausted until {blocked.isoformat()}")
            self.sleep(max(0.0, wait))
        rules = [rule for rule in self.rate_rules if rule.matches(method, path)]
        if not rules:
            return
        wait = self.buckets.reserve(self.account_key, rules, max_wait=self.config.rate_limit_max_wait)
        if wait < 0:
            names = ", ".join(rule.name for rule in rules)
            raise RateLimited(format_lazy(MSG_RATE, seconds=int(round(-wait))), retry_after=-wait,
                              detail=f"not sent: proactive limit ({names}) for {bucket}")
        if wait > 0:
            self.sleep(wait)

    def _record_block(self, bucket: str, wait: float) -> None:
        now = datetime.now(timezone.utc)
        previous = self.rate_book.get(self.account_key, bucket)
        self.rate_book.record(RateLimitState(self.account_key, bucket, previous.limit if previous else None,
                                             0, now + timedelta(seconds=wait), now))

    def _read(self, response: httpx.Response) -> bytes:
        limit = self.config.max_response_bytes
        declared = response.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > limit:
            raise _BodyTooLarge(f"declared {declared} bytes, limit {limit}")
        chunks, size = [], 0
        for chunk in response.iter_bytes():
            size += len(chunk)
            if size > limit:
                raise _BodyTooLarge(f"more than {limit} bytes")
            chunks.append(chunk)
        return b"".join(chunks)

    def _transport_error(self, exc: httpx.TransportError, unsafe: bool) -> ConnectorError:
        detail = clean_text(f"{type(exc).__name__}: {exc}")
        if isinstance(exc.__cause__, PrivateAddressRefused) or isinstance(exc.__context__, PrivateAddressRefused):
            return Permanent(MSG_PRIVATE, detail=detail)
        if isinstance(exc, httpx.UnsupportedProtocol):
            return Permanent(MSG_BAD_URL, detail=detail)
        if isinstance(exc, (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout, httpx.ProxyError)):
            return Retryable(MSG_CONNECT, detail=detail)
        # The request (or part of it) left: a read timeout, a reset or a close before the
        # answer. A write may have happened; reads and idempotent methods are safe to repeat.
        if unsafe:
            return Ambiguous(MSG_AMBIGUOUS, detail=detail)
        if isinstance(exc, httpx.TimeoutException):
            return Retryable(MSG_TIMEOUT, detail=detail)
        return Retryable(MSG_CONNECT, detail=detail)

    def _unreadable(self, unsafe: bool, status: int, detail: str) -> ConnectorError:
        detail = f"{status}: {detail}"
        if unsafe:
            return Ambiguous(MSG_AMBIGUOUS, detail=detail, status=status)
        return Retryable(MSG_MALFORMED, detail=detail, status=status)

    def _record_rate_limit(self, headers: httpx.Headers, bucket: str) -> None:
        state = rate_limit_from_headers(headers, account_key=self.account_key, bucket=bucket)
        if state is not None:
            self.rate_book.record(state)

    def _log(self, method, path, status, started, outcome, detail, headers) -> None:
        exchange = Exchange(method, bucket_for(method, path).split(" ", 1)[1], status,
                            round((time.monotonic() - started) * 1000, 1), outcome, detail,
                            clean_text(headers.get("x-request-id", ""), 100))
        self.exchanges.append(exchange)
        if self.on_exchange is not None:
            self.on_exchange(exchange)


def require_https_site(base_url: str, config: HttpConfig, message) -> None:
    """A self-hosted site's address (WordPress, Joomla) must be https; plain http only where the
    configuration allows private networks (tests and development against a loopback server).
    Raises ``Permanent(message)``."""
    parts = urlsplit(base_url)
    if parts.hostname and (parts.scheme == "https" or (parts.scheme == "http" and config.allow_private_networks)):
        return
    raise Permanent(message, detail=f"site scheme {parts.scheme!r}")


def _decode(body: bytes, charset: str | None) -> str:
    try:
        return body.decode(charset or "utf-8", errors="replace")
    except LookupError:
        return body.decode("utf-8", errors="replace")


def _parse_json(text: str) -> tuple[Any, str]:
    if not text.strip():
        return None, "empty body"
    try:
        return json.loads(text), ""
    except (ValueError, RecursionError) as exc:
        return None, f"not JSON ({type(exc).__name__})"


# -- fetching a URL a user typed (feeds) -------------------------------------------------------


@dataclass
class FetchedUrl:
    url: str  # after redirects
    status: int  # 200, or 304 for a conditional GET whose content did not change
    headers: httpx.Headers
    body: bytes


class FetchError(Exception):
    """Why a URL could not be fetched: ``reason`` is one of ``bad_url``, ``private``, ``connect``,
    ``timeout``, ``too_large``, ``redirects``, ``status`` (with ``status``)."""

    def __init__(self, reason: str, detail: str = "", status: int | None = None):
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail
        self.status = status


def fetch_url(url: str, *, config: HttpConfig | None = None, headers: dict[str, str] | None = None,
              max_bytes: int = 2 * 1024 * 1024, max_redirects: int = 5, total_timeout: float = 30.0,
              allow_loopback: bool = False) -> FetchedUrl:
    """GET one URL through the private-address guard, following up to ``max_redirects``
    redirects (each hop dials through the guard again, so a redirect to 10.0.0.1 or
    169.254.169.254 is refused), reading at most ``max_bytes`` within ``total_timeout`` seconds.
    A 304 is returned, not raised (conditional GET). Raises ``FetchError``."""
    config = config or HttpConfig()
    transport = _transport(config)
    if allow_loopback and not config.allow_private_networks and config.proxy is None:
        transport._pool._network_backend = _GuardedBackend(allow_loopback=True)
    send_headers = {"User-Agent": config.user_agent, **(headers or {})}
    deadline = time.monotonic() + total_timeout
    with httpx.Client(transport=transport, timeout=config.timeout(), follow_redirects=False) as client:
        for _hop in range(max_redirects + 1):
            try:
                parsed = httpx.URL(url)
            except (httpx.InvalidURL, ValueError, TypeError) as exc:
                raise FetchError("bad_url", clean_text(str(exc), 200)) from exc
            if parsed.scheme not in ("http", "https") or not parsed.host:
                raise FetchError("bad_url", clean_text(url, 200))
            try:
                response = client.send(client.build_request("GET", parsed, headers=send_headers), stream=True)
            except httpx.TransportError as exc:
                cause = exc.__cause__ or exc.__context__
                if isinstance(cause, PrivateAddressRefused) or isinstance(exc.__context__, PrivateAddressRefused):
                    raise FetchError("private", clean_text(str(exc), 300)) from exc
                if isinstance(exc, httpx.TimeoutException):
                    raise FetchError("timeout", clean_text(str(exc), 300)) from exc
                if isinstance(exc, httpx.UnsupportedProtocol):
                    raise FetchError("bad_url", clean_text(str(exc), 300)) from exc
                raise FetchError("connect", clean_text(f"{type(exc).__name__}: {exc}", 300)) from exc
            except (httpx.InvalidURL, ValueError) as exc:
                raise FetchError("bad_url", clean_text(str(exc), 200)) from exc
            try:
                if response.is_redirect:
                    location = response.headers.get("location", "")
                    if not location:
                        raise FetchError("status", "redirect without Location", response.status_code)
                    url = str(parsed.join(location))
                    continue
                if response.status_code == 304:
                    return FetchedUrl(str(parsed), 304, response.headers, b"")
                if not 200 <= response.status_code < 300:
                    raise FetchError("status", str(response.status_code), response.status_code)
                declared = response.headers.get("content-length", "")
                if declared.isdigit() and int(declared) > max_bytes:
                    raise FetchError("too_large", f"declared {declared} bytes, limit {max_bytes}")
                chunks, size = [], 0
                try:
                    for chunk in response.iter_bytes():
                        size += len(chunk)
                        if size > max_bytes:
                            raise FetchError("too_large", f"more than {max_bytes} bytes")
                        if time.monotonic() > deadline:
                            raise FetchError("timeout", f"slower than {total_timeout} s")
                        chunks.append(chunk)
                except httpx.TimeoutException as exc:
                    raise FetchError("timeout", clean_text(str(exc), 300)) from exc
                except httpx.TransportError as exc:
                    raise FetchError("connect", clean_text(f"{type(exc).__name__}: {exc}", 300)) from exc
                return FetchedUrl(str(parsed), response.status_code, response.headers, b"".join(chunks))
            finally:
                response.close()
    raise FetchError("redirects", f"more than {max_redirects} redirects")
