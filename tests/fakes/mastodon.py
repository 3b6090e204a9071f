"""A loopback fake Mastodon server: real HTTP on 127.0.0.1, in a thread, with state.

It follows the documented client API (docs.joinmastodon.org) for the endpoints Tertulia uses,
and its payloads are the recorded real responses of a Mastodon 4.6 server (Mastodon.py's VCR
cassettes, read at run time from ``../shared/corpora``) with ids, text and counters filled in
from its own state. What it does like the real server:

- statuses: validation (empty text, the instance's character limit with links counted as 23
  and remote mentions as their user name, visibility, up to 4 attachments that must have
  finished processing), ``Idempotency-Key`` honoured per account for an hour, content rendered
  to Mastodon's HTML (paragraphs, ``<br />``, linked URLs with invisible spans, h-card
  mentions, hashtags), threads, context, source, delete;
- media: ``POST /api/v2/media`` answers 202 with ``url: null`` while "processing", and
  ``GET /api/v1/media/:id`` answers 206 until it is ready, then 200;
- notifications (mentions), conversations (direct messages), hashtag timelines, search;
- OAuth: app registration, the authorization-code flow with PKCE (S256), token, revoke;
- rate limits per token and bucket with ``x-ratelimit-*`` headers and 429 when exhausted.

Faults are injected per endpoint (``inject("POST /api/v1/statuses", Fault.timeout_after())``):
latency, 5xx, 429 with reset headers, a hang *after* the request was processed (the client
times out but the status exists: an ambiguous outcome), a dropped connection after processing,
an expired token (401) and malformed JSON.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import html
import json
import random
import re
import secrets
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from email.parser import BytesParser
from email.policy import HTTP
from http.server import ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, quote, unquote, urlencode, urlsplit

from . import server
from .corpora import Cassettes, mastodon_cassettes

try:
    import regex as _regex
except ImportError:  # pragma: no cover - regex is a dependency of the project
    _regex = None

RECORDED_BASE = "http://localhost:3000"
RECORDED_HOST = "localhost:3000"

MSG_INVALID_TOKEN = "The access token is invalid"  # recorded: test_home_tl_anonymous_throws
MSG_NOT_FOUND = "Not Found"  # recorded: test_status_missing
MSG_TOO_LONG = "Validation failed: Text character limit of {limit} exceeded"
MSG_BLANK = "Validation failed: Text can't be blank"
MSG_NOT_READY = "Cannot attach files that have not finished processing. Try again in a moment!"
MSG_TOO_MANY = "Cannot attach more than {max} files"
MSG_MEDIA_MISSING = "Media {ids} not found or already attached to another post"
MSG_PROCESSING_FAILED = "Error processing thumbnail for uploaded media"
MSG_RATE = "Too many requests"

_URL = r"https?://[^\s<>\"']+[^\s<>\"'.,;:!?)\]]"
_MENTION = r"(?<![\w/@])@([A-Za-z0-9_]{1,30})(?:@([A-Za-z0-9.-]+\.[A-Za-z]{2,}))?"
_TOKEN = re.compile(r"(?P<url>" + _URL + r")"
                    r"|(?P<mention>(?<![\w/@])@(?P<user>[A-Za-z0-9_]{1,30})(?:@(?P<domain>[A-Za-z0-9.-]+\.[A-Za-z]{2,}))?)"
                    r"|(?P<tag>(?<![\w/#&])#(?P<tagname>\w{1,100}))")


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _iso(dt: datetime) -> str:
    return dt.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}Z"


def _rewrite(value: Any, base: str, netloc: str) -> Any:
    """Point recorded payloads at this fake instead of the recording server."""
    if isinstance(value, str):
        return value.replace(RECORDED_BASE, base).replace(RECORDED_HOST, netloc)
    if isinstance(value, list):
        return [_rewrite(v, base, netloc) for v in value]
    if isinstance(value, dict):
        return {k: _rewrite(v, base, netloc) for k, v in value.items()}
    return value


def _idkey(value: str) -> tuple[int, str]:
    return len(value), value


# -- faults ------------------------------------------------------------------------------------


class Fault(server.Fault):
    """Mastodon's own error bodies on top of the shared fault vocabulary."""

    @classmethod
    def server_error(cls, status: int = 503, *, after: bool = False, retry_after: float | None = None) -> Fault:
        return cls("status", status=status, after=after, retry_after=retry_after,
                   body=json.dumps({"error": "We're sorry, but something went wrong on our end."}))

    @classmethod
    def respond(cls, status: int, payload: Any, *, after: bool = False) -> Fault:
        """Any status with a JSON body, e.g. ``respond(404, {"error": "Not Found"})``."""
        return cls("status", status=status, body=json.dumps(payload), after=after)

    @classmethod
    def malformed(cls, body: str = '{"id": "1", "content": "<p>tru', *, after: bool = True,
                  status: int = 200) -> Fault:
        return cls("malformed", body=body, after=after, status=status)

    @classmethod
    def expired_token(cls) -> Fault:
        return cls("unauthorized", status=401)


class HttpError(Exception):
    def __init__(self, status: int, payload: Any, headers: dict[str, str] | None = None):
        super().__init__(status)
        self.status, self.payload, self.headers = status, payload, headers or {}


@dataclass
class Request:
    method: str
    path: str
    query: list[tuple[str, str]]
    headers: dict[str, str]
    body: bytes
    at: float = field(default_factory=time.time)
    status: int | None = None
    token: str = ""

    def q(self, name: str, default: str = "") -> str:
        for key, value in self.query:
            if key == name:
                return value
        return default

    def q_all(self, name: str) -> list[str]:
        return [v for k, v in self.query if k == name]

    def params(self) -> dict[str, Any]:
        """JSON or form body as a dict; repeated ``x[]`` form keys become lists."""
        ctype = self.headers.get("content-type", "")
        if not self.body:
            return {}
        if ctype.startswith("application/json"):
            try:
                data = json.loads(self.body)
            except ValueError as exc:
                raise HttpError(400, {"error": f"Invalid JSON: {exc}"}) from exc
            return data if isinstance(data, dict) else {}
        if ctype.startswith("multipart/form-data"):
            return {k: v for k, v in self.multipart().items() if not isinstance(v, tuple)}
        out: dict[str, Any] = {}
        for key, value in parse_qsl(self.body.decode("utf-8", "replace"), keep_blank_values=True):
            if key.endswith("[]"):
                out.setdefault(key[:-2], []).append(value)
            else:
                out[key] = value
        return out

    def multipart(self) -> dict[str, Any]:
        message = BytesParser(policy=HTTP).parsebytes(
            b"Content-Type: " + self.headers.get("content-type", "").encode() + b"\r\nMIME-Version: 1.0\r\n\r\n"
            + self.body)
        out: dict[str, Any] = {}
        if not message.is_multipart():
            return out
        for part in message.iter_parts():
            name = part.get_param("name", header="content-disposition")
            content = part.get_payload(decode=True) or b""
            if part.get_filename():
                out[name] = (part.get_filename(), part.get_content_type(), content)
            else:
                out[name] = content.decode("utf-8", "replace")
        return out


# -- the server --------------------------------------------------------------------------------


class FakeMastodon(server.LoopbackServer):
    """Start with ``with FakeMastodon() as fake:`` or ``start()``/``stop()``."""

    thread_name = "fake-mastodon"

    def __init__(self, *, cassettes: Cassettes | None = None, max_characters: int = 500,
                 media_processing_seconds: float = 0.3, batch_statuses: bool = True,
                 v2_instance: bool = True, markdown: bool = False, full_text_search: bool = True,
                 rate_limits: dict[str, tuple[int, float]] | None = None, seed: int = 0):
        self.cassettes = cassettes or mastodon_cassettes()
        self.max_characters = max_characters
        self.media_processing_seconds = media_processing_seconds
        self.batch_statuses = batch_statuses
        self.v2_instance = v2_instance
        self.markdown = markdown
        self.full_text_search = full_text_search
        # bucket -> (requests, period seconds), Mastodon's defaults (docs: api/rate-limits)
        self.rate_limits = rate_limits or {"api": (300, 300.0), "media": (30, 1800.0), "delete": (30, 1800.0)}
        self.latency = 0.0
        self.random = random.Random(seed)
        self.lock = threading.RLock()
        self.requests: list[Request] = []
        self._rules: list[server.FaultRule] = []
        self._stopping = threading.Event()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._last_id = 0
        self._windows: dict[tuple[str, str], list[float]] = {}
        self.accounts: dict[str, dict[str, Any]] = {}
        self.tokens: dict[str, str | None] = {}  # token -> account id (None: an app token)
        self.revoked: set[str] = set()
        self.statuses: dict[str, dict[str, Any]] = {}
        # People on other servers this one only learns about when asked to resolve their
        # address (``/api/v2/search?resolve=true``, WebFinger): "name@domain" -> (name, domain).
        self.resolvable: dict[str, tuple[str, str]] = {}
        self.media: dict[str, dict[str, Any]] = {}
        self.notifications: dict[str, dict[str, Any]] = {}
        self.conversations: dict[str, dict[str, Any]] = {}
        self.idempotency: dict[tuple[str, str], tuple[str, float]] = {}
        self.apps: dict[str, dict[str, Any]] = {}
        self.codes: dict[str, dict[str, Any]] = {}
        # Doorkeeper's optional refresh tokens (``use_refresh_token``; off on stock Mastodon):
        # when ``token_ttl`` is set, the code grant answers ``expires_in`` and a refresh token,
        # and ``grant_type=refresh_token`` rotates both (the old access token is revoked).
        self.token_ttl: float | None = None
        self.refresh_tokens: dict[str, dict[str, Any]] = {}  # refresh token -> client, account, scope
        # The consent page: who signs in and approves (an account id; None: the fake's own
        # user), or whether they press "Deny" (RFC 6749 §4.1.2.1: error=access_denied).
        self.authorize_as: str | None = None
        self.deny_authorization = False
        self._notification_seq = 100
        self._conversation_seq = 10
        self._load_templates()

    # -- lifecycle ---------------------------------------------------------------------------

    @property
    def netloc(self) -> str:
        return urlsplit(self.base_url).netloc

    # -- recorded payloads -------------------------------------------------------------------

    def _load_templates(self) -> None:
        c = self.cassettes
        self.tpl_status = c.body("test_status_post[None-public]", 0)
        rich_account = c.body("test_media_post_multiple", 4)["account"]  # "John Lennon", with fields
        verify = c.body("test_verify_credentials", 0)
        self.tpl_own = {**rich_account, "source": verify["source"], "role": verify["role"]}
        self.tpl_other = c.body("test_notifications", 0)["account"]  # "admin"
        self.tpl_other2 = c.body("test_conversations", 1)["account"]  # "mastodonpy_test_2"
        self.tpl_media = c.body("test_media_post_file", 0)
        self.tpl_notification = c.body("test_notifications", 1)[0]
        self.tpl_conversation = c.body("test_conversations", 2)[0]
        self.tpl_instance_v2 = c.body("test_instance", 0)
        self.tpl_instance_v1 = c.body("test_instance_v1", 0)
        self.tpl_app = c.body("test_app_account_create_invalid", 0)
        self.tpl_token = c.body("test_app_account_create_invalid", 1)
        self.tpl_source = c.find("test_status_edit", "GET", "/source")
        self.localized_too_long = {  # recorded: test_lang_for_errors (the server speaks the user's language)
            "ja": c.body("test_lang_for_errors", 0)["error"],
            "de": c.body("test_lang_for_errors", 1)["error"],
        }
        self.invalid_token_body = c.body("test_home_tl_anonymous_throws", 0)
        self.not_found_body = c.body("test_status_missing", 0)

    def _seed_accounts(self) -> None:
        self.own = self.add_account(self.tpl_own["username"], template=self.tpl_own, local=True)
        self.token = self.issue_token(self.own["id"])
        self.add_account(self.tpl_other["username"], template=self.tpl_other, local=True)
        self.add_account(self.tpl_other2["username"], template=self.tpl_other2, local=True)

    # -- helpers for tests --------------------------------------------------------------------

    def next_id(self) -> str:
        """Snowflake ids like Mastodon's: milliseconds << 16 | sequence, always increasing."""
        with self.lock:
            candidate = int(time.time() * 1000) << 16
            self._last_id = max(self._last_id + 1, candidate)
            return str(self._last_id)

    def add_account(self, username: str, *, display_name: str = "", domain: str = "", local: bool = True,
                    template: dict | None = None, followers: int = 0) -> dict[str, Any]:
        """A person on this server (local) or on another one (``domain``)."""
        with self.lock:
            base = copy.deepcopy(template or self.tpl_other)
            base = _rewrite(base, self.base_url, self.netloc)
            account_id = str(base["id"]) if template is not None and str(base["id"]) not in self.accounts \
                else self.next_id()
            acct = username if not domain else f"{username}@{domain}"
            home = self.base_url if not domain else f"https://{domain}"
            base.update(id=account_id, username=username, acct=acct, url=f"{home}/@{username}",
                        uri=f"{home}/users/{username}" if domain else f"{self.base_url}/ap/users/{account_id}")
            if display_name:
                base["display_name"] = display_name
            if template is None:
                base["followers_count"] = followers
            self.accounts[account_id] = base
            return base

    def issue_token(self, account_id: str | None) -> str:
        token = secrets.token_urlsafe(32)
        with self.lock:
            self.tokens[token] = account_id
        return token

    def expire_token(self, token: str | None = None) -> None:
        with self.lock:
            self.revoked.add(token or self.token)

    def account_named(self, username: str) -> dict[str, Any]:
        with self.lock:
            for account in self.accounts.values():
                if account["acct"] == username or account["username"] == username:
                    return account
        raise KeyError(username)

    def post_as(self, username: str, text: str, *, in_reply_to: str | None = None, visibility: str = "public",
                raw_html: str | None = None, spoiler_text: str = "", language: str = "en",
                created_at: datetime | None = None) -> dict[str, Any]:
        """Someone else posts (and, like the server, notifies the people it mentions)."""
        account = self.account_named(username)
        with self.lock:
            status = self._create_status(account, {"status": text, "visibility": visibility,
                                                   "in_reply_to_id": in_reply_to, "spoiler_text": spoiler_text,
                                                   "language": language}, raw_html=raw_html,
                                         created_at=created_at)
            return self.render_status(status)

    def attach_media(self, status_id: str, *kinds: str) -> None:
        """Give a status finished attachments of these types (``image``, ``video``, ``gifv``…),
        as if its author had uploaded them."""
        with self.lock:
            status = self.statuses[status_id]
            for kind in kinds:
                media_id = self.next_id()
                self.media[media_id] = {"id": media_id, "account_id": status["account_id"], "type": kind,
                                        "description": "", "filename": f"{media_id}.bin", "ready_at": 0.0,
                                        "failed": False, "focus": None, "status_id": status_id}
                status["media_ids"].append(media_id)

    def edit_as(self, username: str, status_id: str, text: str) -> dict[str, Any]:
        """Someone edits their post (``PUT /api/v1/statuses/:id`` as them): new text, ``edited_at``."""
        account = self.account_named(username)
        with self.lock:
            return self.render_status(self._edit_status(account, status_id, {"status": text}))

    def delete_as(self, username: str, status_id: str) -> None:
        """Someone deletes their post: gone from contexts, its notifications withdrawn."""
        account = self.account_named(username)
        with self.lock:
            status = self._visible(status_id)
            if status["account_id"] != account["id"]:
                raise KeyError(status_id)
            self._delete(status)

    def set_counts(self, status_id: str, *, favourites: int | None = None, reblogs: int | None = None) -> None:
        with self.lock:
            status = self.statuses[status_id]
            if favourites is not None:
                status["favourites_count"] = favourites
            if reblogs is not None:
                status["reblogs_count"] = reblogs

    def inject(self, endpoint: str, fault: Fault, *, times: int | None = 1, probability: float = 1.0) -> None:
        """``endpoint`` is ``"METHOD /path"`` with ``:name`` for a path segment, or ``"*"``."""
        if endpoint == "*":
            method, pattern = "*", re.compile(r".*")
        else:
            method, path = endpoint.split(" ", 1)
            pattern = re.compile("^" + re.sub(r":\w+", r"[^/]+", re.escape(path).replace(r"\:", ":")) + "/?$")
        self._add_rule(method, lambda path: bool(pattern.match(path)), fault, times, probability)

    def requests_to(self, method: str, path_pattern: str) -> list[Request]:
        pattern = re.compile("^" + re.sub(r":\w+", r"[^/]+", path_pattern) + "/?$")
        with self.lock:
            return [r for r in self.requests if r.method == method and pattern.match(r.path)]

    def own_statuses(self) -> list[dict[str, Any]]:
        with self.lock:
            return [s for s in self.statuses.values() if s["account_id"] == self.own["id"] and not s["deleted"]]

    # -- request handling -------------------------------------------------------------------

    def dispatch(self, request: Request) -> tuple[int, Any, dict[str, str]]:
        for method, pattern, name in _ROUTE_TABLE:
            match = pattern.match(request.path)
            if method == request.method and match:
                handler = getattr(self, name)
                result = handler(request, **match.groupdict())
                if len(result) == 2:
                    return result[0], result[1], {}
                return result
        raise HttpError(404, self.not_found_body)

    def _authenticate(self, request: Request, *, user: bool = True) -> dict[str, Any] | None:
        header = request.headers.get("authorization", "")
        token = header[7:] if header.lower().startswith("bearer ") else ""
        request.token = token
        with self.lock:
            known = token in self.tokens and token not in self.revoked
            account_id = self.tokens.get(token) if known else None
        if not known:
            raise HttpError(401, self.invalid_token_body)
        if user and account_id is None:
            raise HttpError(422, {"error": "This method requires an authenticated user"})
        return self.accounts.get(account_id) if account_id else None

    def rate_limit_headers(self, request: Request) -> tuple[dict[str, str], bool]:
        """Fixed windows per token (or client) and bucket; returns headers and "over limit"."""
        if request.path.startswith("/api/v") and request.path.endswith("/media") and request.method == "POST":
            bucket = "media"
        elif request.method == "DELETE" and request.path.startswith("/api/v1/statuses/"):
            bucket = "delete"
        else:
            bucket = "api"
        limit, period = self.rate_limits.get(bucket, self.rate_limits["api"])
        header = request.headers.get("authorization", "")
        who = header or "anonymous"
        now = time.time()
        with self.lock:
            window = self._windows.get((who, bucket))
            if window is None or now >= window[0] + period:
                window = [now, 0]
                self._windows[(who, bucket)] = window
            window[1] += 1
            used = window[1]
        reset = datetime.fromtimestamp(window[0] + period, timezone.utc)
        headers = {"x-ratelimit-limit": str(limit), "x-ratelimit-remaining": str(max(0, limit - used)),
                   "x-ratelimit-reset": reset.strftime("%Y-%m-%dT%H:%M:%S.%fZ")}
        return headers, used > limit

    # -- rendering ---------------------------------------------------------------------------

    def render_account(self, account: dict[str, Any]) -> dict[str, Any]:
        out = copy.deepcopy(account)
        with self.lock:
            out["statuses_count"] = sum(1 for s in self.statuses.values()
                                        if s["account_id"] == account["id"] and not s["deleted"])
        if account["id"] != getattr(self, "own", {}).get("id"):
            out.pop("source", None)
            out.pop("role", None)
        return out

    def render_text(self, text: str) -> tuple[str, list[dict], list[dict]]:
        """Mastodon's plain-text formatter: escape, link URLs/mentions/hashtags, paragraphs."""
        mentions: list[dict] = []
        tags: list[dict] = []
        paragraphs = [p for p in re.split(r"\n{2,}", text.strip()) if p.strip()] or [""]
        rendered = []
        for paragraph in paragraphs:
            lines = [self._render_line(line, mentions, tags) for line in paragraph.split("\n")]
            rendered.append("<p>" + "<br />".join(lines) + "</p>")
        return "".join(rendered), mentions, tags

    def _render_line(self, line: str, mentions: list, tags: list) -> str:
        out, last = [], 0
        for match in _TOKEN.finditer(line):
            out.append(html.escape(line[last:match.start()]))
            last = match.end()
            if match.group("url"):
                url = match.group("url")
                scheme, rest = url.split("://", 1)
                shown, hidden = rest[:30], rest[30:]
                out.append(f'<a href="{html.escape(url)}" target="_blank" rel="nofollow noopener" translate="no">'
                           f'<span class="invisible">{html.escape(scheme)}://</span>'
                           f'<span class="{"ellipsis" if hidden else ""}">{html.escape(shown)}</span>'
                           f'<span class="invisible">{html.escape(hidden)}</span></a>')
            elif match.group("mention"):
                username, domain = match.group("user"), match.group("domain")
                account = self._find_mentioned(username, domain)
                if account is None:
                    out.append(html.escape(match.group(0)))
                    continue
                if account["id"] not in [m["id"] for m in mentions]:
                    mentions.append({"id": account["id"], "username": account["username"], "url": account["url"],
                                     "acct": account["acct"]})
                out.append(f'<span class="h-card" translate="no"><a href="{html.escape(account["url"])}" '
                           f'class="u-url mention">@<span>{html.escape(account["username"])}</span></a></span>')
            else:
                tag = match.group("tagname")
                url = f"{self.base_url}/tags/{quote(tag.lower())}"
                if tag.lower() not in [t["name"] for t in tags]:
                    tags.append({"name": tag.lower(), "url": url})
                out.append(f'<a href="{url}" class="mention hashtag" rel="tag">#<span>{html.escape(tag)}</span></a>')
        out.append(html.escape(line[last:]))
        rendered = "".join(out)
        if self.markdown:  # glitch-soc/Akkoma style: **bold** is rendered, the asterisks vanish
            rendered = re.sub(r"\*\*(.+?)\*\*", r"<strong>\1</strong>", rendered)
        return rendered

    def _find_mentioned(self, username: str, domain: str | None) -> dict[str, Any] | None:
        """A bare ``@name`` (or ``@name@this-server``) is a local account; ``@name@other`` a
        remote one this server knows. Unknown people stay plain text, as on Mastodon."""
        local = domain is None or domain == self.netloc
        with self.lock:
            for account in self.accounts.values():
                if account["username"].lower() != username.lower():
                    continue
                account_domain = account["acct"].split("@", 1)[1] if "@" in account["acct"] else None
                if (local and account_domain is None) or (not local and account_domain == domain):
                    return account
        return None

    def render_media(self, media: dict[str, Any]) -> dict[str, Any]:
        out = _rewrite(copy.deepcopy(self.tpl_media), self.base_url, self.netloc)
        ready = media["ready_at"] <= time.time() and not media["failed"]
        path = f"/system/media_attachments/files/{media['id']}"
        out.update(id=media["id"], type=media["type"], description=media["description"],
                   url=f"{self.base_url}{path}/original/{media['filename']}" if ready else None,
                   preview_url=f"{self.base_url}{path}/small/{media['filename']}")
        if media["focus"]:
            out["meta"] = {**out.get("meta", {}), "focus": {"x": media["focus"][0], "y": media["focus"][1]}}
        return out

    def render_status(self, status: dict[str, Any]) -> dict[str, Any]:
        with self.lock:
            out = _rewrite(copy.deepcopy(self.tpl_status), self.base_url, self.netloc)
            account = self.accounts[status["account_id"]]
            replies = sum(1 for s in self.statuses.values()
                          if s["in_reply_to_id"] == status["id"] and not s["deleted"])
            out.update(
                id=status["id"], created_at=_iso(status["created_at"]),
                in_reply_to_id=status["in_reply_to_id"], in_reply_to_account_id=status["in_reply_to_account_id"],
                sensitive=status["sensitive"], spoiler_text=status["spoiler_text"],
                visibility=status["visibility"], language=status["language"],
                uri=f"{self.base_url}/ap/users/{account['id']}/statuses/{status['id']}",
                url=f"{account['url']}/{status['id']}",
                replies_count=replies, reblogs_count=status["reblogs_count"],
                favourites_count=status["favourites_count"], content=status["html"],
                account=self.render_account(account),
                media_attachments=[self.render_media(self.media[m]) for m in status["media_ids"]],
                mentions=status["mentions"], tags=status["tags"],
                application={"name": status.get("application") or "Tertulia tests", "website": None},
                edited_at=_iso(status["edited_at"]) if status.get("edited_at") else None,
                card=None, poll=None, reblog=None,
            )
            if "text" in out:
                del out["text"]
            return out

    # -- state changes ----------------------------------------------------------------------

    def _create_status(self, account: dict[str, Any], params: dict[str, Any], *, raw_html: str | None = None,
                       created_at: datetime | None = None, application: str = "") -> dict[str, Any]:
        text = str(params.get("status") or "")
        spoiler = str(params.get("spoiler_text") or "")
        visibility = str(params.get("visibility") or "public")
        media_ids = [str(m) for m in (params.get("media_ids") or [])]
        if visibility not in ("public", "unlisted", "private", "direct"):
            raise HttpError(422, {"error": f"Validation failed: Visibility '{visibility}' is not a valid visibility"})
        if not text.strip() and not media_ids:
            raise HttpError(422, {"error": MSG_BLANK})
        if self._length(text) + self._length(spoiler) > self.max_characters:
            raise HttpError(422, {"error": MSG_TOO_LONG.format(limit=self.max_characters)})
        if len(media_ids) > 4:
            raise HttpError(422, {"error": MSG_TOO_MANY.format(max=4)})
        for media_id in media_ids:
            media = self.media.get(media_id)
            if media is None or media["account_id"] != account["id"] or media["status_id"]:
                raise HttpError(422, {"error": MSG_MEDIA_MISSING.format(ids=media_id)})
            if media["failed"] or media["ready_at"] > time.time():
                raise HttpError(422, {"error": MSG_NOT_READY})
        in_reply_to = str(params.get("in_reply_to_id") or "") or None
        reply_account = None
        if in_reply_to:
            parent = self.statuses.get(in_reply_to)
            if parent is None or parent["deleted"]:
                raise HttpError(404, self.not_found_body)
            reply_account = parent["account_id"]
        language = str(params.get("language") or "") or "en"
        if raw_html is not None:
            content, mentions, tags = raw_html, [], []
            own_name = self.own["username"]
            if re.search(rf"@{re.escape(own_name)}\b", raw_html):
                mentions = [{"id": self.own["id"], "username": own_name, "url": self.own["url"], "acct": own_name}]
        else:
            content, mentions, tags = self.render_text(text)
        status = {
            "id": self.next_id(), "account_id": account["id"], "text": text, "html": content,
            "spoiler_text": spoiler, "sensitive": bool(params.get("sensitive") in (True, "true", "1")) or bool(spoiler),
            "visibility": visibility, "language": language, "in_reply_to_id": in_reply_to,
            "in_reply_to_account_id": reply_account, "media_ids": media_ids, "mentions": mentions, "tags": tags,
            "created_at": created_at or _now(), "favourites_count": 0, "reblogs_count": 0, "deleted": False,
            "application": application,
        }
        self.statuses[status["id"]] = status
        for media_id in media_ids:
            self.media[media_id]["status_id"] = status["id"]
        for mention in mentions:
            if mention["id"] != account["id"]:
                self._notify(mention["id"], account, status)
        if visibility == "direct":
            self._converse(account, mentions, status)
        return status

    def _length(self, text: str) -> int:
        """Mastodon's StatusLengthValidator: links count 23, remote mentions their user name."""
        countable = re.sub(_URL, "x" * 23, text)
        countable = re.sub(_MENTION, lambda m: "@" + m.group(1), countable)
        if _regex is not None:
            return len(_regex.findall(r"\X", countable))
        return len(countable)

    def _notify(self, account_id: str, sender: dict[str, Any], status: dict[str, Any]) -> None:
        self._notification_seq += 1
        notification_id = str(self._notification_seq)
        self.notifications[notification_id] = {"id": notification_id, "account_id": account_id, "type": "mention",
                                                "from_id": sender["id"], "status_id": status["id"],
                                                "created_at": status["created_at"]}

    def _converse(self, sender: dict[str, Any], mentions: list[dict], status: dict[str, Any]) -> None:
        people = frozenset([sender["id"], *(m["id"] for m in mentions)])
        for conversation in self.conversations.values():
            if conversation["people"] == people:
                conversation["last_status_id"] = status["id"]
                conversation["unread"] = True
                return
        self._conversation_seq += 1
        conversation_id = str(self._conversation_seq)
        self.conversations[conversation_id] = {"id": conversation_id, "people": people,
                                               "last_status_id": status["id"], "unread": True}

    # -- endpoints -------------------------------------------------------------------------

    def instance_v2(self, request: Request):
        if not self.v2_instance:
            raise HttpError(404, self.not_found_body)
        data = _rewrite(copy.deepcopy(self.tpl_instance_v2), self.base_url, self.netloc)
        data["configuration"]["statuses"]["max_characters"] = self.max_characters
        return 200, data

    def instance_v1(self, request: Request):
        data = _rewrite(copy.deepcopy(self.tpl_instance_v1), self.base_url, self.netloc)
        data["configuration"]["statuses"]["max_characters"] = self.max_characters
        return 200, data

    def create_app(self, request: Request):
        params = request.params()
        name, redirect = str(params.get("client_name") or ""), str(params.get("redirect_uris") or "")
        if not name or not redirect:
            raise HttpError(422, {"error": "Validation failed: Application name can't be blank, "
                                           "Redirect URI can't be blank"})
        scopes = str(params.get("scopes") or "read").split()
        app = _rewrite(copy.deepcopy(self.tpl_app), self.base_url, self.netloc)
        with self.lock:
            app.update(id=str(len(self.apps) + 10), name=name, website=params.get("website") or None,
                       scopes=scopes, redirect_uris=redirect.split(), redirect_uri=redirect,
                       client_id=secrets.token_urlsafe(32), client_secret=secrets.token_urlsafe(32))
            self.apps[app["client_id"]] = app
        return 200, app

    def authorize(self, request: Request):
        """The consent page, approved at once by the fake's own user: 302 back with a code."""
        app = self.apps.get(request.q("client_id"))
        redirect = request.q("redirect_uri")
        if app is None or redirect not in app["redirect_uris"] or request.q("response_type") != "code":
            raise HttpError(400, {"error": "invalid_request",
                                  "error_description": "The request is missing a required parameter, includes "
                                                       "an unsupported parameter value, or is otherwise malformed."})
        if self.deny_authorization:
            query = {"error": "access_denied",
                     "error_description": "The resource owner or authorization server denied the request.",
                     **({"state": request.q("state")} if request.q("state") else {})}
            return 302, {}, {"location": f"{redirect}?{urlencode(query)}"}
        code = secrets.token_urlsafe(24)
        with self.lock:
            self.codes[code] = {"client_id": app["client_id"], "redirect_uri": redirect,
                                "scope": request.q("scope") or "read",
                                "account_id": self.authorize_as or self.own["id"],
                                "challenge": request.q("code_challenge"),
                                "method": request.q("code_challenge_method")}
        query = {"code": code, **({"state": request.q("state")} if request.q("state") else {})}
        return 302, {}, {"location": f"{redirect}?{urlencode(query)}"}

    def oauth_token(self, request: Request):
        params = request.params()
        app = self.apps.get(str(params.get("client_id") or ""))
        if app is None or app["client_secret"] != params.get("client_secret"):
            raise HttpError(401, {"error": "invalid_client",
                                  "error_description": "Client authentication failed due to unknown client, "
                                                       "no client authentication included, or unsupported "
                                                       "authentication method."})
        invalid_grant = HttpError(400, {"error": "invalid_grant",
                                        "error_description": "The provided authorization grant is invalid, expired, "
                                                             "revoked, does not match the redirection URI used in "
                                                             "the authorization request, or was issued to another "
                                                             "client."})
        grant = params.get("grant_type")
        if grant == "client_credentials":
            token, scope = self.issue_token(None), str(params.get("scope") or "read")
        elif grant == "authorization_code":
            with self.lock:
                code = self.codes.pop(str(params.get("code") or ""), None)
            if code is None or code["client_id"] != app["client_id"] or code["redirect_uri"] != params.get("redirect_uri"):
                raise invalid_grant
            if code["challenge"]:
                verifier = str(params.get("code_verifier") or "")
                digest = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
                if code["method"] != "S256" or digest != code["challenge"]:
                    raise invalid_grant
            token, scope = self.issue_token(code["account_id"]), code["scope"]
            if self.token_ttl:
                return 200, self._token_answer(token, scope, app["client_id"], code["account_id"])
        elif grant == "refresh_token":
            with self.lock:
                entry = self.refresh_tokens.pop(str(params.get("refresh_token") or ""), None)
            if entry is None or entry["client_id"] != app["client_id"]:
                raise invalid_grant
            self.expire_token(entry["access_token"])
            token = self.issue_token(entry["account_id"])
            return 200, self._token_answer(token, entry["scope"], app["client_id"], entry["account_id"])
        else:
            raise HttpError(400, {"error": "unsupported_grant_type",
                                  "error_description": "The authorization grant type is not supported by the "
                                                       "authorization server."})
        return 200, {**self.tpl_token, "access_token": token, "scope": scope, "created_at": int(time.time())}

    def _token_answer(self, token: str, scope: str, client_id: str, account_id: str | None) -> dict[str, Any]:
        refresh = secrets.token_urlsafe(32)
        with self.lock:
            self.refresh_tokens[refresh] = {"client_id": client_id, "account_id": account_id, "scope": scope,
                                            "access_token": token}
        return {**self.tpl_token, "access_token": token, "scope": scope, "created_at": int(time.time()),
                "expires_in": int(self.token_ttl or 0), "refresh_token": refresh}

    def oauth_revoke(self, request: Request):
        params = request.params()
        app = self.apps.get(str(params.get("client_id") or ""))
        if app is None or app["client_secret"] != params.get("client_secret"):
            raise HttpError(403, {"error": "unauthorized_client",
                                  "error_description": "You are not authorized to revoke this token"})
        self.expire_token(str(params.get("token") or ""))
        return 200, {}

    def verify_credentials(self, request: Request):
        account = self._authenticate(request)
        return 200, self.render_account(account)

    def account_lookup(self, request: Request):
        """``GET /api/v1/accounts/lookup?acct=`` (public): a local ``name`` or a known
        ``name@domain``; 404 with the recorded "Record not found"-style body otherwise."""
        acct = request.q("acct").lstrip("@")
        if acct.endswith(f"@{self.netloc}"):
            acct = acct[: -len(self.netloc) - 1]
        with self.lock:
            for account in self.accounts.values():
                if account["acct"].lower() == acct.lower():
                    return 200, self.render_account(account)
        raise HttpError(404, self.not_found_body)

    def account_statuses(self, request: Request, account_id: str):
        viewer = self._authenticate(request, user=False)
        if account_id not in self.accounts:
            raise HttpError(404, self.not_found_body)
        with self.lock:
            items = [s for s in self.statuses.values() if s["account_id"] == account_id and not s["deleted"]
                     and (viewer and viewer["id"] == account_id or s["visibility"] in ("public", "unlisted"))]
            if request.q("exclude_replies") in ("true", "1"):
                items = [s for s in items if not s["in_reply_to_id"]]
            page, links = self._paginate(request, [(s["id"], s) for s in items])
            return 200, [self.render_status(s) for s in page], links

    def create_status(self, request: Request):
        account = self._authenticate(request)
        key = request.headers.get("idempotency-key", "")
        with self.lock:
            if key:
                seen = self.idempotency.get((account["id"], key))
                if seen and seen[1] > time.time() - 3600 and seen[0] in self.statuses:
                    return 200, self.render_status(self.statuses[seen[0]])
            status = self._create_status(account, request.params(), application="Tertulia")
            if key:
                self.idempotency[(account["id"], key)] = (status["id"], time.time())
            return 200, self.render_status(status)

    def get_statuses(self, request: Request):
        """``GET /api/v1/statuses?id[]=…`` (Mastodon 4.3+): the visible ones, missing ones skipped."""
        self._authenticate(request, user=False)
        if not self.batch_statuses:
            raise HttpError(404, self.not_found_body)
        ids = request.q_all("id[]")[:20]
        with self.lock:
            return 200, [self.render_status(self.statuses[i]) for i in ids
                         if i in self.statuses and not self.statuses[i]["deleted"]]

    def _visible(self, status_id: str) -> dict[str, Any]:
        status = self.statuses.get(status_id)
        if status is None or status["deleted"]:
            raise HttpError(404, self.not_found_body)
        return status

    def get_status(self, request: Request, status_id: str):
        self._authenticate(request, user=False)
        with self.lock:
            return 200, self.render_status(self._visible(status_id))

    def delete_status(self, request: Request, status_id: str):
        account = self._authenticate(request)
        with self.lock:
            status = self._visible(status_id)
            if status["account_id"] != account["id"]:
                raise HttpError(404, self.not_found_body)
            rendered = self.render_status(status)
            self._delete(status)
        rendered["text"] = status["text"]  # the source, for "delete and redraft"
        return 200, rendered

    def _delete(self, status: dict[str, Any]) -> None:
        status["deleted"] = True
        for notification_id in [n for n, v in self.notifications.items() if v["status_id"] == status["id"]]:
            del self.notifications[notification_id]

    def _edit_status(self, account: dict[str, Any], status_id: str, params: dict[str, Any]) -> dict[str, Any]:
        status = self._visible(status_id)
        if status["account_id"] != account["id"]:
            raise HttpError(404, self.not_found_body)
        text = str(params.get("status") or "")
        if not text.strip() and not status["media_ids"]:
            raise HttpError(422, {"error": MSG_BLANK})
        if self._length(text) > self.max_characters:
            raise HttpError(422, {"error": MSG_TOO_LONG.format(limit=self.max_characters)})
        status["text"] = text
        status["html"], status["mentions"], status["tags"] = self.render_text(text)
        status["edited_at"] = _now()
        return status

    def edit_status(self, request: Request, status_id: str):
        account = self._authenticate(request)
        with self.lock:
            return 200, self.render_status(self._edit_status(account, status_id, request.params()))

    def status_context(self, request: Request, status_id: str):
        self._authenticate(request, user=False)
        with self.lock:
            status = self._visible(status_id)
            ancestors, parent = [], status["in_reply_to_id"]
            while parent and parent in self.statuses and not self.statuses[parent]["deleted"]:
                ancestors.insert(0, self.statuses[parent])
                parent = self.statuses[parent]["in_reply_to_id"]
            descendants, frontier = [], {status_id}
            for candidate in sorted(self.statuses.values(), key=lambda s: _idkey(s["id"])):
                if candidate["in_reply_to_id"] in frontier and not candidate["deleted"]:
                    descendants.append(candidate)
                    frontier.add(candidate["id"])
            return 200, {"ancestors": [self.render_status(s) for s in ancestors],
                         "descendants": [self.render_status(s) for s in descendants]}

    def status_source(self, request: Request, status_id: str):
        self._authenticate(request)
        with self.lock:
            status = self._visible(status_id)
            return 200, {**self.tpl_source, "id": status["id"], "text": status["text"],
                         "spoiler_text": status["spoiler_text"]}

    def upload_media(self, request: Request):
        account = self._authenticate(request)
        form = request.multipart()
        file = form.get("file")
        if not isinstance(file, tuple):
            raise HttpError(422, {"error": "Validation failed: File can't be blank"})
        filename, content_type, content = file
        supported = self.tpl_instance_v2["configuration"]["media_attachments"]["supported_mime_types"]
        if content_type not in supported:
            raise HttpError(422, {"error": "Validation failed: File content type is invalid, File is invalid"})
        description = str(form.get("description") or "") or None
        limit = self.tpl_instance_v2["configuration"]["media_attachments"].get("description_limit", 1500)
        if description and len(description) > limit:
            raise HttpError(422, {"error": f"Validation failed: Description is too long (maximum is {limit} characters)"})
        focus = None
        if form.get("focus"):
            try:
                x, y = (float(v) for v in str(form["focus"]).split(",", 1))
                focus = (x, y)
            except ValueError:
                pass
        media_id = self.next_id()
        processing = self.media_processing_seconds
        media = {"id": media_id, "account_id": account["id"], "filename": re.sub(r"[^\w.-]", "_", filename)[:60],
                 "type": content_type.split("/", 1)[0], "size": len(content),
                 "description": description, "focus": focus, "status_id": None,
                 "ready_at": time.time() + processing, "failed": content.startswith(b"CORRUPT")}
        with self.lock:
            self.media[media_id] = media
        async_path = request.path.startswith("/api/v2/") and (processing > 0 or media["failed"])
        return (202 if async_path else 200), self.render_media(media)

    def get_media(self, request: Request, media_id: str):
        account = self._authenticate(request)
        with self.lock:
            media = self.media.get(media_id)
            if media is None or media["account_id"] != account["id"]:
                raise HttpError(404, self.not_found_body)
            if media["failed"]:
                raise HttpError(422, {"error": MSG_PROCESSING_FAILED})
            rendered = self.render_media(media)
        return (206 if rendered["url"] is None else 200), rendered

    def list_notifications(self, request: Request):
        account = self._authenticate(request)
        types = request.q_all("types[]")
        with self.lock:
            items = [n for n in self.notifications.values() if n["account_id"] == account["id"]
                     and (not types or n["type"] in types)]
            page, links = self._paginate(request, [(n["id"], n) for n in items], max_limit=80)
            out = []
            for notification in page:
                rendered = copy.deepcopy(self.tpl_notification)
                rendered.update(id=notification["id"], type=notification["type"],
                                created_at=_iso(notification["created_at"]),
                                group_key=f"ungrouped-{notification['id']}",
                                account=self.render_account(self.accounts[notification["from_id"]]),
                                status=self.render_status(self.statuses[notification["status_id"]]))
                out.append(rendered)
            return 200, out, links

    def list_conversations(self, request: Request):
        account = self._authenticate(request)
        with self.lock:
            items = [c for c in self.conversations.values() if account["id"] in c["people"]
                     and not self.statuses[c["last_status_id"]]["deleted"]]
            # Conversations page by their last status id, like Mastodon's AccountConversation.
            page, links = self._paginate(request, [(c["last_status_id"], c) for c in items])
            out = []
            for conversation in page:
                rendered = copy.deepcopy(self.tpl_conversation)
                rendered.update(id=conversation["id"], unread=conversation["unread"],
                                accounts=[self.render_account(self.accounts[p]) for p in sorted(conversation["people"])
                                          if p != account["id"]],
                                last_status=self.render_status(self.statuses[conversation["last_status_id"]]))
                out.append(rendered)
            return 200, out, links

    def search(self, request: Request):
        self._authenticate(request, user=False)
        query = request.q("q").strip().lower()
        kind = request.q("type")
        limit = min(int(request.q("limit", "20") or 20), 40)
        out: dict[str, list] = {"accounts": [], "statuses": [], "hashtags": []}
        with self.lock:
            remote = self.resolvable.pop(query.lstrip("@"), None)
            if remote is not None and request.q("resolve") in ("true", "1") and self._authenticate(request):
                username, domain = remote
                self.add_account(username, domain=domain, local=False, followers=0)  # learnt by WebFinger
            elif remote is not None:
                self.resolvable[query.lstrip("@")] = remote
            if kind in ("", "accounts"):
                out["accounts"] = [self.render_account(a) for a in self.accounts.values()
                                   if query.lstrip("@") and query.lstrip("@") in a["acct"].lower()][:limit]
            if kind in ("", "statuses") and self.full_text_search and query:
                hits = [s for s in sorted(self.statuses.values(), key=lambda s: _idkey(s["id"]), reverse=True)
                        if not s["deleted"] and s["visibility"] == "public" and query in s["text"].lower()]
                out["statuses"] = [self.render_status(s) for s in hits[:limit]]
            if kind in ("", "hashtags") and query:
                names = sorted({t["name"] for s in self.statuses.values() for t in s["tags"]
                                if query.lstrip("#") in t["name"]})
                out["hashtags"] = [{"name": n, "url": f"{self.base_url}/tags/{n}", "history": []} for n in names][:limit]
        return 200, out

    def tag_timeline(self, request: Request, tag: str):
        tag = unquote(tag).lower()
        with self.lock:
            items = [s for s in self.statuses.values() if not s["deleted"] and s["visibility"] == "public"
                     and tag in [t["name"] for t in s["tags"]]]
            page, links = self._paginate(request, [(s["id"], s) for s in items])
            return 200, [self.render_status(s) for s in page], links

    def _paginate(self, request: Request, items: list[tuple[str, Any]], max_limit: int = 40):
        """max_id / since_id / min_id / limit as Mastodon pages, with a Link header."""
        try:
            limit = max(1, min(int(request.q("limit", "20") or 20), max_limit))
        except ValueError:
            limit = 20
        max_id, since_id, min_id = request.q("max_id"), request.q("since_id"), request.q("min_id")
        ordered = sorted(items, key=lambda pair: _idkey(pair[0]), reverse=True)
        if max_id:
            ordered = [p for p in ordered if _idkey(p[0]) < _idkey(max_id)]
        if since_id:
            ordered = [p for p in ordered if _idkey(p[0]) > _idkey(since_id)]
        if min_id:
            ordered = [p for p in ordered if _idkey(p[0]) > _idkey(min_id)]
            page = list(reversed(list(reversed(ordered))[:limit]))
        else:
            page = ordered[:limit]
        links = {}
        if page:
            base = f"{self.base_url}{request.path}"
            others = [(k, v) for k, v in request.query if k not in ("max_id", "min_id", "since_id")]
            next_q = urlencode(others + [("max_id", page[-1][0])])
            prev_q = urlencode(others + [("min_id", page[0][0])])
            links["link"] = f'<{base}?{next_q}>; rel="next", <{base}?{prev_q}>; rel="prev"'
        return [v for _k, v in page], links


_ROUTE_TABLE: list[tuple[str, re.Pattern, str]] = [
    (method, re.compile(pattern), name) for method, pattern, name in [
        ("GET", r"^/api/v2/instance/?$", "instance_v2"),
        ("GET", r"^/api/v1/instance/?$", "instance_v1"),
        ("POST", r"^/api/v1/apps/?$", "create_app"),
        ("GET", r"^/oauth/authorize/?$", "authorize"),
        ("POST", r"^/oauth/token/?$", "oauth_token"),
        ("POST", r"^/oauth/revoke/?$", "oauth_revoke"),
        ("GET", r"^/api/v1/accounts/verify_credentials/?$", "verify_credentials"),
        ("GET", r"^/api/v1/accounts/lookup/?$", "account_lookup"),
        ("GET", r"^/api/v1/accounts/(?P<account_id>[^/]+)/statuses/?$", "account_statuses"),
        ("POST", r"^/api/v1/statuses/?$", "create_status"),
        ("GET", r"^/api/v1/statuses/?$", "get_statuses"),
        ("GET", r"^/api/v1/statuses/(?P<status_id>[^/]+)/?$", "get_status"),
        ("DELETE", r"^/api/v1/statuses/(?P<status_id>[^/]+)/?$", "delete_status"),
        ("PUT", r"^/api/v1/statuses/(?P<status_id>[^/]+)/?$", "edit_status"),
        ("GET", r"^/api/v1/statuses/(?P<status_id>[^/]+)/context/?$", "status_context"),
        ("GET", r"^/api/v1/statuses/(?P<status_id>[^/]+)/source/?$", "status_source"),
        ("POST", r"^/api/v2/media/?$", "upload_media"),
        ("POST", r"^/api/v1/media/?$", "upload_media"),
        ("GET", r"^/api/v1/media/(?P<media_id>[^/]+)/?$", "get_media"),
        ("GET", r"^/api/v1/notifications/?$", "list_notifications"),
        ("GET", r"^/api/v1/conversations/?$", "list_conversations"),
        ("GET", r"^/api/v2/search/?$", "search"),
        ("GET", r"^/api/v1/timelines/tag/(?P<tag>[^/]+)/?$", "tag_timeline"),
    ]
]


class _Handler(server.FakeHandler):
    server_version = "Mastodon"

    def _handle(self, method: str) -> None:
        fake: FakeMastodon = self.server.fake  # type: ignore[attr-defined]
        parts, headers, body = self.read_request()
        request = Request(method, parts.path, parse_qsl(parts.query, keep_blank_values=True),
                          headers, body)
        with fake.lock:
            fake.requests.append(request)
        fault = fake._take_fault(method, parts.path)
        delay = fake.latency + (fault.seconds if fault and fault.kind == "latency" else 0.0)
        if delay:
            fake._stopping.wait(delay)
        limit_headers, over = fake.rate_limit_headers(request)
        if fault and not fault.after:
            if fault.kind == "lost":
                fake._stopping.wait(fault.seconds)
                self.close_connection = True
                request.status = -1
                return None
            if fault.kind == "rate_limit":
                reset = datetime.now(timezone.utc) + timedelta(seconds=fault.reset_in)
                headers = {**limit_headers, "x-ratelimit-remaining": "0",
                           "x-ratelimit-reset": reset.strftime("%Y-%m-%dT%H:%M:%S.%fZ")}
                if fault.retry_after is not None:
                    headers["retry-after"] = str(int(fault.retry_after))
                return self._send(request, 429, {"error": MSG_RATE}, headers)
            if fault.kind == "status":
                extra = {"retry-after": str(int(fault.retry_after))} if fault.retry_after is not None else {}
                return self._send(request, fault.status, None, {**limit_headers, **extra},
                                  raw=(fault.body or "").encode())
            if fault.kind == "unauthorized":
                return self._send(request, 401, fake.invalid_token_body, limit_headers)
            if fault.kind == "malformed":
                return self._send(request, fault.status, None, limit_headers, raw=(fault.body or "").encode())
        if over:
            return self._send(request, 429, {"error": MSG_RATE}, limit_headers)
        try:
            status, payload, headers = fake.dispatch(request)
        except HttpError as error:
            status, payload, headers = error.status, error.payload, error.headers
            if status == 422 and payload.get("error", "").startswith("Validation failed: Text character limit"):
                language = request.headers.get("accept-language", "")[:2]
                if language in fake.localized_too_long:
                    payload = {"error": fake.localized_too_long[language]}
        headers = {**limit_headers, **headers}
        if fault and fault.after:
            if fault.kind == "hang":
                fake._stopping.wait(fault.seconds)
                return self._send(request, status, payload, headers)
            if fault.kind == "drop":
                self.close_connection = True
                request.status = -1
                return None
            if fault.kind == "status":
                return self._send(request, fault.status, None, headers, raw=(fault.body or "").encode())
            if fault.kind == "malformed":
                return self._send(request, fault.status, None, headers, raw=(fault.body or "").encode())
        return self._send(request, status, payload, headers)

    def _send(self, request: Request, status: int, payload: Any, headers: dict[str, str],
              raw: bytes | None = None) -> None:
        request.status = status
        body = raw if raw is not None else (b"" if payload is None else json.dumps(payload).encode())
        try:
            self.send_response(status)
            self.send_header("content-type", "application/json; charset=utf-8")
            self.send_header("content-length", str(len(body)))
            self.send_header("x-request-id", secrets.token_hex(8))
            for key, value in headers.items():
                if key.lower() not in ("content-type", "content-length"):
                    self.send_header(key, value)
            self.end_headers()
            self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError, OSError):
            self.close_connection = True


FakeMastodon.handler_class = _Handler
