"""The Meta Graph API, shared by the Facebook Page, Instagram and Threads connectors.

The API version is pinned here, and only here: a new version is one line and a test run.
Graph answers errors as ``{"error": {"message", "type", "code", "error_subcode", "is_transient",
"fbtrace_id"}}`` with HTTP 400/403/500 whatever the cause, so the status alone says little:
``GraphConnector._call`` reads the code and raises the matching ``errors.py`` class.

Documented codes (developers.facebook.com/docs/graph-api/guides/error-handling):
- 190 (and 102, 463, 467 subcodes): the access token is expired or invalid -> ``AuthExpired``.
- 4, 17, 32, 613, 80001-80009 (application, user, page and business-use-case throttling) ->
  ``RateLimited``; the wait comes from ``X-Business-Use-Case-Usage`` /
  ``X-App-Usage`` (``estimated_time_to_regain_access``, minutes) when present.
- 1, 2 (and Instagram's -1, -2), and any error with ``is_transient: true`` -> ``Retryable``.
- 10 and 200-299: a permission is missing -> ``Permanent`` with "reconnect and grant it".
- 368: the account is temporarily blocked for policy reasons -> ``Permanent``.
- everything else (100 invalid parameter, 9004 media URL unreachable, ...) -> ``Permanent``.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Callable, Iterator
from typing import Any, ClassVar
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy as _

from ..base import Connector, MediaItem
from ..errors import Ambiguous, AuthExpired, ConnectorError, Permanent, RateLimited, Retryable
from ..http import SAFE_METHODS, ApiResponse, clean_text, error_for_status

GRAPH_VERSION = "v26.0"
GRAPH_BASE_URL = "https://graph.facebook.com"
FACEBOOK_AUTH_URL = "https://www.facebook.com"
THREADS_VERSION = "v1.0"
THREADS_BASE_URL = "https://graph.threads.net"
THREADS_AUTH_URL = "https://threads.com"  # threads.net still answers too

THROTTLE_CODES = frozenset({4, 17, 32, 613, *range(80001, 80010)})
TOKEN_CODES = frozenset({102, 190})
PERMISSION_CODES = frozenset({10, *range(200, 300)})
# 1, 2: Graph's "unknown" and "service temporarily unavailable"; -1 (subcode 2207001, "server
# error, retry") and -2 (2207003, "timeout downloading the media") are Instagram's.
TRANSIENT_CODES = frozenset({1, 2, -1, -2})
DEFAULT_THROTTLE_WAIT = 15 * 60.0  # Meta's windows are an hour; most throttles lift well before
MAX_THROTTLE_WAIT = 24 * 3600.0

MSG_TOKEN = _("Meta no longer accepts this account's sign-in (it expired, the password changed or "
              "access was removed). Reconnect the account.")
MSG_THROTTLED = _("Meta asked us to slow down for this account. We will try again in {minutes} minutes.")
MSG_PERMISSION = _("Meta refused because Tertulia lacks a permission for this account: {reason}. "
                   "Reconnect the account and grant every permission asked.")
MSG_TRANSIENT = _("Meta's servers had a temporary problem. We will try again.")
MSG_BLOCKED = _("Meta has temporarily blocked this account from this action: {reason}")
MSG_REFUSED = _("Meta refused this: {reason}")


def graph_error(payload: Any) -> dict[str, Any] | None:
    """The ``error`` object of a Graph answer, or None."""
    if isinstance(payload, dict) and isinstance(payload.get("error"), dict):
        return payload["error"]
    return None


def throttle_wait(headers) -> float | None:
    """Minutes to regain access, from Meta's usage headers, in seconds (None if not said)."""
    waits = []
    for name in ("x-business-use-case-usage", "x-ad-account-usage", "x-app-usage"):
        raw = headers.get(name) if headers is not None else None
        if not raw:
            continue
        try:
            data = json.loads(raw)
        except ValueError:
            continue
        stack = [data]
        while stack:
            item = stack.pop()
            if isinstance(item, dict):
                minutes = item.get("estimated_time_to_regain_access")
                if isinstance(minutes, (int, float)) and not isinstance(minutes, bool) and minutes > 0:
                    waits.append(float(minutes) * 60)
                stack.extend(v for v in item.values() if isinstance(v, (dict, list)))
            elif isinstance(item, list):
                stack.extend(item)
    return max(waits) if waits else None


def error_for_graph(method: str, status: int, payload: Any, headers=None) -> ConnectorError | None:
    """The connector error for a Graph error answer, or None when the answer is not one. The
    error keeps Graph's ``code`` and ``error_subcode`` (``graph_codes``) for callers that
    treat one of them specially (a deprecated insights metric, media not ready yet)."""
    error = _error_for_graph(method, status, payload, headers)
    if error is not None:
        body = graph_error(payload) or {}
        error.graph_code = Connector._as_int(body.get("code"))
        error.graph_subcode = Connector._as_int(body.get("error_subcode"))
    return error


def graph_codes(err: ConnectorError) -> tuple[int | None, int | None]:
    """Graph's (code, error_subcode) of an error raised by ``GraphConnector._call``."""
    return getattr(err, "graph_code", None), getattr(err, "graph_subcode", None)


def _error_for_graph(method: str, status: int, payload: Any, headers=None) -> ConnectorError | None:
    error = graph_error(payload)
    if error is None:
        return None
    code = Connector._as_int(error.get("code"))
    subcode = Connector._as_int(error.get("error_subcode"))
    message = clean_text(str(error.get("error_user_msg") or error.get("message") or ""), 500)
    detail = f"code={code} subcode={subcode} {message} fbtrace_id={clean_text(str(error.get('fbtrace_id') or ''), 60)}"
    if code in TOKEN_CODES or error.get("type") == "OAuthException" and subcode in (458, 459, 460, 463, 464, 467):
        return AuthExpired(MSG_TOKEN, detail=detail, status=status)
    if code in THROTTLE_CODES or status == 429:
        wait = min(max(throttle_wait(headers) or DEFAULT_THROTTLE_WAIT, 60.0), MAX_THROTTLE_WAIT)
        return RateLimited(format_lazy(MSG_THROTTLED, minutes=int(round(wait / 60))), retry_after=wait,
                           detail=detail, status=status)
    if code in PERMISSION_CODES:
        return Permanent(format_lazy(MSG_PERMISSION, reason=message or code), detail=detail, status=status)
    if code in TRANSIENT_CODES or error.get("is_transient") is True or status >= 500:
        if method.upper() not in SAFE_METHODS and status in (502, 504):
            return Ambiguous(MSG_TRANSIENT, detail=detail, status=status)
        return Retryable(MSG_TRANSIENT, detail=detail, status=status)
    if code == 368:
        return Permanent(format_lazy(MSG_BLOCKED, reason=message or code), detail=detail, status=status)
    return Permanent(format_lazy(MSG_REFUSED, reason=message or code), detail=detail, status=status)


def object_gone(err: ConnectorError) -> bool:
    """Graph's "object does not exist" (code 100 with subcode 33, or a plain 404): a post or
    comment deleted on the network, or never ours to read."""
    code, subcode = graph_codes(err)
    return err.status == 404 or (code == 100 and subcode == 33)


def verify_signature(app_secret: str, body: bytes, header: str | None) -> bool:
    """Meta's webhook signature: ``X-Hub-Signature-256: sha256=<hex HMAC-SHA256 of the raw
    body with the app secret>``, compared in constant time. False without a secret."""
    if not app_secret or not header or not header.startswith("sha256="):
        return False
    expected = hmac.new(app_secret.encode(), body, hashlib.sha256).hexdigest()
    # As bytes: compare_digest refuses non-ASCII str (a TypeError, a 500, for any header sent).
    given = header[len("sha256="):].strip().lower().encode("utf-8", errors="replace")
    return hmac.compare_digest(expected.encode(), given)


class GraphConnector(Connector):
    """Base for connectors that speak the Graph API: versioned paths, Graph errors mapped to
    ours, cursor pagination. The token goes in the ``Authorization`` header (HttpClient), never
    in a URL we log."""

    version: ClassVar[str] = GRAPH_VERSION
    default_base_url: ClassVar[str] = GRAPH_BASE_URL

    def _path(self, path: str) -> str:
        if path.startswith(("http://", "https://")):
            return path  # a paging link from the server (HttpClient keeps it on the same host)
        return f"/{self.version}/{path.lstrip('/')}"

    def _call(self, method: str, path: str, **kw) -> ApiResponse:
        """One Graph request; Graph's error codes become our error classes."""
        response = self.http.request(method, self._path(path), accept=(400, 403, 404, 429, 500, 503), **kw)
        if response.status >= 400 or graph_error(response.data):
            error = (error_for_graph(method, response.status, response.data, response.headers)
                     or error_for_status(method, response.status, response.headers, response.data, response.text))
            if error is not None:
                raise error
        return response

    def _get(self, path: str, **params) -> dict[str, Any]:
        data = self._call("GET", path, params=params or None).data
        return data if isinstance(data, dict) else {}

    def _pages(self, path: str, *, params: dict[str, Any] | None = None, max_pages: int = 10) -> Iterator[dict]:
        """The items of a paged edge (``data`` + ``paging.next``), at most ``max_pages`` pages."""
        url: str | None = path
        first = True
        for _page in range(max_pages):
            if not url:
                return
            data = self._call("GET", url, params=params if first else None).data
            first = False
            if not isinstance(data, dict):
                return
            for item in data.get("data") or []:
                if isinstance(item, dict):
                    yield item
            paging = data.get("paging") if isinstance(data.get("paging"), dict) else {}
            url = without_token(paging["next"]) if isinstance(paging.get("next"), str) else None


    def _read_all(self, path: str, *, params: dict[str, Any] | None = None,
                  max_pages: int = 5) -> tuple[list[dict], bool]:
        """Every item of a paged edge up to ``max_pages`` pages, and whether that was all of it
        (no ``paging.next`` left unread): a re-read thread counts as complete only then."""
        url: str | None = path
        out: list[dict] = []
        for _page in range(max_pages):
            data = self._call("GET", url, params=params).data
            params = None
            if not isinstance(data, dict):
                return out, False
            out.extend(item for item in data.get("data") or [] if isinstance(item, dict))
            paging = data.get("paging") if isinstance(data.get("paging"), dict) else {}
            url = without_token(paging["next"]) if isinstance(paging.get("next"), str) else None
            if not url:
                return out, True
        return out, False


def without_token(url: str) -> str:
    """A paging link with any ``access_token`` removed: Graph puts the token in ``paging.next``,
    and we send it in the header instead, so it never reaches a log line."""
    parts = urlsplit(url)
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k != "access_token"]
    return urlunsplit(parts._replace(query=urlencode(query)))


def media_url_for_setting() -> Callable[[MediaItem], str] | None:
    """``settings.META_MEDIA_URL_FOR``: where Meta's servers download a post's media from, for
    Instagram and Threads (a callable taking a ``MediaItem``, or its dotted path), when the
    operator serves media from a CDN. Unset: each item's own ``url``, the engine's signed link
    to Tertulia's copy (``content/public_media.py``)."""
    from django.conf import settings
    from django.utils.module_loading import import_string

    value = getattr(settings, "META_MEDIA_URL_FOR", None)
    if value is None or value == "":
        return None
    return value if callable(value) else import_string(str(value))
