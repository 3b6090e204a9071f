"""Bluesky (AT Protocol XRPC), against a configurable PDS (which proxies ``app.bsky.*`` reads
to its AppView, so one base URL serves both).

API references: docs.bsky.app (HTTP reference and "Posting via the Bluesky API"), the lexicons
com.atproto.server.{createSession,refreshSession,getSession}, com.atproto.identity.resolveHandle,
com.atproto.repo.{uploadBlob,createRecord,getRecord,listRecords,deleteRecord},
app.bsky.feed.{post,getPosts,searchPosts}, app.bsky.actor.getProfile,
app.bsky.notification.listNotifications, app.bsky.richtext.facet, app.bsky.embed.{images,external}.

Errors. XRPC errors are ``{"error": "Name", "message": "..."}`` with a status:

==============================================  =============================================
answer                                          what the connector does
==============================================  =============================================
``ExpiredToken`` / ``InvalidToken`` (any        refresh the session once (refreshSession) and
status)                                         repeat the call; ``AuthExpired`` when the
                                                refresh JWT is rejected too
401 (``AuthMissing``, ``AuthenticationRequired``)  ``AuthExpired``
429 / ``RateLimitExceeded``                     ``RateLimited``: Retry-After, else the
                                                ``ratelimit-reset`` epoch header, else 60 s
``InvalidRequest`` and other 4xx                ``Permanent`` with the server's text
5xx, network failures, timeouts                 the shared http layer: ``Retryable``, or
                                                ``Ambiguous`` for a write that may have landed
==============================================  =============================================

Bluesky's ``ratelimit-limit/remaining/reset`` headers are recorded in the account's rate-limit
book like the ``x-ratelimit-*`` ones of other networks.

Idempotency. ``createRecord`` accepts an ``rkey``. With ``deterministic_rkeys`` (the default) a
payload with a marker gets a TID derived from the marker (``tid_for_marker``), so every attempt
of one post × account target writes the same record key:

- a second create with that rkey is refused by the PDS (today a ``500 InternalServerError``,
  bluesky-social/atproto#3718; an explicit 4xx error is being specified in #4728). Whatever the
  answer, after a failed create the connector reads the record back with ``getRecord``: if it is
  there, the post was already published and ``publish`` returns it instead of failing;
- ``find_published`` asks for that one record (``getRecord``) instead of guessing from text.

The derived TID is a valid TID (tid syntax, first character 2-j) whose timestamp lies in a fixed
past window (2020-2025), so it can never collide with the server's own current-time TIDs. The
AppView orders feeds by ``createdAt``/``indexedAt``, not by rkey, so readers see no difference;
``listRecords`` lists such records by rkey order. Payloads without a marker (or with
``deterministic_rkeys=False``, for a PDS that refuses client rkeys) get the server's TID and
``find_published`` matches them on text, reply target and ``createdAt`` over ``listRecords``.

Sessions. Access JWTs last about two hours and the PDS rotates the refresh JWT on every
``refreshSession``, so a refresh spends the stored refresh token. Whoever runs the connector must
store the new pair: pass ``on_credentials`` (called with every new ``Session``) or read
``connector.credentials`` after each call; the connector itself never forgets a refresh token
(an answer without one keeps the old one, a rejected refresh leaves it in place).

Text from the network is data: ``NetworkPost.text`` is the record's text as typed (Bluesky posts
are plain text, never HTML), which templates escape like any other string.
"""

from __future__ import annotations

import hashlib
import json
import re
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

import httpx
from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy as _

from ...content.text_rules import bluesky as rules
from ..base import (
    Author,
    Connector,
    Interaction,
    InteractionBatch,
    InteractionKind,
    Limits,
    MediaItem,
    NetworkPost,
    PostMetrics,
    PostPayload,
    Profile,
    PublishedRef,
    Visibility,
    normalize_text,
)
from ..errors import Ambiguous, AuthExpired, ConnectorError, Permanent, RateLimited, Retryable
from ..http import (
    parse_time,
    safe_url,
    DEFAULT_RATE_LIMIT_WAIT,
    MAX_RATE_LIMIT_WAIT,
    MSG_AMBIGUOUS,
    MSG_AUTH,
    MSG_MALFORMED,
    MSG_NOT_FOUND,
    MSG_RATE,
    MSG_REFUSED,
    MSG_TOO_LARGE,
    ApiResponse,
    RateLimitState,
    clean_text,
    parse_reset,
    parse_retry_after,
    rate_limit_from_headers,
)
from ..ratelimit import RateRule
from .auth import MSG_LOGIN, MSG_NO_SESSION, Session, normalize_base_url, session_from

POST = "app.bsky.feed.post"
MAX_GRAPHEMES = rules.MAX_GRAPHEMES  # 300
MAX_BYTES = rules.MAX_BYTES  # 3000
MAX_IMAGES = 4
MAX_IMAGE_BYTES = 1_000_000
MAX_ALT_TEXT = 2000  # graphemes, as the official app allows
IMAGE_TYPES = frozenset({"image/jpeg", "image/png", "image/webp", "image/gif"})
PAGE = 100  # the largest page listRecords and listNotifications serve
GET_POSTS_BATCH = 25  # app.bsky.feed.getPosts takes at most 25 uris
XRPC_ERROR_STATUSES = frozenset({400, 401, 403, 404, 409, 413, 429})
CLOCK_SKEW = timedelta(seconds=30)  # createdAt is the client's clock

_DID = re.compile(r"^did:[a-z]+:[A-Za-z0-9._:%-]{1,2000}$")
_RKEY = re.compile(r"^[A-Za-z0-9._:~-]{1,512}$")
_AT_URI = re.compile(r"^at://(?P<repo>did:[a-z]+:[A-Za-z0-9._:%-]+|[A-Za-z0-9.-]+)/(?P<collection>[A-Za-z0-9.-]+)"
                     r"/(?P<rkey>[A-Za-z0-9._:~-]{1,512})$")
_TID_CHARS = "234567abcdefghijklmnopqrstuvwxyz"
_TID_WINDOW_START = int(datetime(2020, 1, 1, tzinfo=timezone.utc).timestamp() * 1_000_000)
_TID_WINDOW = int(timedelta(days=6 * 365).total_seconds() * 1_000_000)

# The same English sources as the Mastodon connector's (one catalog entry each).
MSG_EMPTY = _("A post needs some text or at least one image.")
MSG_BAD_ID = _("That post's id is not valid for this network.")
MSG_TOO_MANY_MEDIA = _("This server accepts at most {count} attachments per post.")
MSG_POST_UNREADABLE = _("The network accepted the post but its answer could not be read. We will check "
                        "whether it was published before trying again.")
MSG_MEDIA_TYPE = _("Bluesky accepts only images here (JPEG, PNG, WebP or GIF).")
MSG_NO_CONTENT_WARNING = _("Bluesky has no content warnings. Remove the content warning to publish there.")
MSG_PUBLIC_ONLY = _("Every Bluesky post is public; Bluesky cannot limit who sees a post.")
MSG_BAD_HANDLE = _("That is not a Bluesky handle. Write it as name.bsky.social or a domain.")
MSG_UNKNOWN_ACTOR = _("Bluesky does not know that account. Check the handle.")
MSG_NOT_OURS = _("That post belongs to another account, so Tertulia cannot delete it.")


@dataclass(frozen=True)
class LinkCard:
    """An ``app.bsky.embed.external`` link card. Bluesky does not fetch link previews: the
    client sends the title, description and (optionally) a thumbnail it fetched itself."""

    uri: str
    title: str = ""
    description: str = ""
    thumb: MediaItem | None = None


class _TokenRejected(Exception):
    """The access JWT was refused (ExpiredToken/InvalidToken): refresh and repeat once."""

    def __init__(self, error: ConnectorError):
        super().__init__(error.detail)
        self.error = error


def tid_for_marker(marker: str) -> str:
    """A valid TID (13 base32-sortable characters) that depends only on the marker: 53 bits of
    microseconds inside a fixed past window, then a 10-bit clock id, both from SHA-256."""
    digest = int.from_bytes(hashlib.sha256(("tertulia:" + marker).encode("utf-8")).digest()[:10], "big")
    micros = _TID_WINDOW_START + (digest >> 10) % _TID_WINDOW
    value = (micros << 10) | (digest & 0x3FF)
    chars = []
    for _i in range(13):
        chars.append(_TID_CHARS[value & 31])
        value >>= 5
    return "".join(reversed(chars))



def iso_now() -> str:
    """``createdAt`` as the official app writes it: UTC, milliseconds, ``Z``."""
    now = datetime.now(timezone.utc)
    return now.strftime("%Y-%m-%dT%H:%M:%S.") + f"{now.microsecond // 1000:03d}Z"


def parse_at_uri(value: str) -> tuple[str, str, str]:
    """``at://did:plc:x/app.bsky.feed.post/3k...`` -> (repo, collection, rkey), or Permanent."""
    match = _AT_URI.match(str(value or ""))
    if not match:
        raise Permanent(MSG_BAD_ID, detail=f"id {str(value)[:120]!r}")
    return match.group("repo"), match.group("collection"), match.group("rkey")



def _dict(value: Any) -> dict:
    return value if isinstance(value, dict) else {}


class BlueskyConnector(Connector):
    network = "bluesky"  # Network.BLUESKY
    supports_search = True
    supports_refresh = True
    supports_first_comment = True  # a reply with root and parent strong refs
    default_base_url = "https://bsky.social"
    # docs.bsky.app "Rate Limits": per account, 5000 write points an hour and 35000 a day
    # (a create costs 3, an update 2, a delete 1); createSession 30 per 5 minutes, 300 a day.
    rate_rules = (
        RateRule("writes-hour", 5000, 3600.0, methods=frozenset({"POST"}),
                 path=r"/xrpc/com\.atproto\.repo\.createRecord$", cost=3),
        RateRule("writes-day", 35000, 86400.0, methods=frozenset({"POST"}),
                 path=r"/xrpc/com\.atproto\.repo\.createRecord$", cost=3),
        RateRule("deletes-hour", 5000, 3600.0, methods=frozenset({"POST"}),
                 path=r"/xrpc/com\.atproto\.repo\.deleteRecord$", cost=1),
        RateRule("session-5min", 30, 300.0, methods=frozenset({"POST"}),
                 path=r"/xrpc/com\.atproto\.server\.createSession$"),
        RateRule("session-day", 300, 86400.0, methods=frozenset({"POST"}),
                 path=r"/xrpc/com\.atproto\.server\.createSession$"),
    )

    def __init__(self, *, identifier: str = "", app_password: str = "", handle: str = "",
                 web_url: str = "https://bsky.app", deterministic_rkeys: bool = True, find_pages: int = 3,
                 interaction_pages: int = 5, on_credentials: Callable[[Session], None] | None = None,
                 card_resolver: Callable[[str], LinkCard | None] | None = None, **kwargs):
        kwargs["base_url"] = normalize_base_url(kwargs.get("base_url", ""))
        super().__init__(**kwargs)
        self.identifier = identifier
        self.app_password = app_password
        self.handle = handle
        self.web_url = web_url.rstrip("/")
        self.deterministic_rkeys = deterministic_rkeys
        self.find_pages = find_pages
        self.interaction_pages = interaction_pages
        self.on_credentials = on_credentials  # called with every new session, to store it
        self.card_resolver = card_resolver  # url -> LinkCard, for posts with a link and no card

    # -- sessions ---------------------------------------------------------------------------

    def login(self) -> Session:
        """``createSession`` with the identifier and app password."""
        if not self.identifier or not self.app_password:
            raise AuthExpired(MSG_NO_SESSION)
        try:
            response = self._send("POST", "com.atproto.server.createSession",
                                  body={"identifier": self.identifier, "password": self.app_password}, auth=False)
        except _TokenRejected as exc:
            raise AuthExpired(MSG_LOGIN, detail=exc.error.detail, status=exc.error.status) from None
        except AuthExpired as exc:
            raise AuthExpired(MSG_LOGIN, detail=exc.detail, status=exc.status) from None
        except Ambiguous as exc:  # a session nobody holds is harmless: just open another one
            raise Retryable(MSG_AMBIGUOUS, detail=exc.detail, status=exc.status) from None
        return self._adopt(session_from(response.data, self.credentials))

    def refresh_credentials(self):
        """``refreshSession`` with the refresh JWT; the new pair replaces the old one (the PDS
        rotates refresh tokens), and an answer without a refresh JWT keeps the old one."""
        if not self.credentials.refresh_token:
            if self.app_password:
                return self.login().credentials
            raise AuthExpired(MSG_NO_SESSION)
        headers = {"Authorization": f"Bearer {self.credentials.refresh_token}"}
        try:
            response = self._send("POST", "com.atproto.server.refreshSession", auth=False, headers=headers)
        except (_TokenRejected, AuthExpired) as exc:
            error = exc.error if isinstance(exc, _TokenRejected) else exc
            if self.app_password:
                return self.login().credentials
            raise AuthExpired(MSG_AUTH, detail=error.detail, status=error.status) from None
        except Ambiguous as exc:
            raise Retryable(MSG_AMBIGUOUS, detail=exc.detail, status=exc.status) from None
        return self._adopt(session_from(response.data, self.credentials)).credentials

    def _adopt(self, session: Session) -> Session:
        if self.account_id and self.account_id != session.did:
            self.credentials = session.credentials
            raise AuthExpired(MSG_LOGIN, detail=f"session is for {session.did}, not {self.account_id}")
        self._credentials_changed(session.credentials)
        self.account_id = session.did
        self.handle = session.handle or self.handle
        if self.on_credentials is not None:
            self.on_credentials(session)
        return session

    def _ensure_session(self) -> None:
        if not self.credentials.access_token:
            if self.credentials.refresh_token:
                self.refresh_credentials()
            else:
                self.login()
        elif self.needs_refresh(timedelta(seconds=60)):
            self.refresh_credentials()

    def _own_did(self) -> str:
        self._ensure_session()
        if not self.account_id:
            data = self._expect(self._call("GET", "com.atproto.server.getSession"), dict)
            did = data.get("did")
            if not isinstance(did, str) or not _DID.match(did):
                raise Retryable(MSG_MALFORMED, detail="getSession without a did")
            self.account_id = did
            self.handle = clean_text(str(data.get("handle") or ""), 253)
        return self.account_id

    # -- XRPC -----------------------------------------------------------------------------------

    def _call(self, method: str, nsid: str, *, params: Any = None, body: Any = None, content: bytes | None = None,
              content_type: str = "") -> ApiResponse:
        """An authenticated XRPC call; an expired access JWT is refreshed once and the call
        repeated (the PDS refused it before acting, so repeating a write is safe)."""
        self._ensure_session()
        try:
            return self._send(method, nsid, params=params, body=body, content=content, content_type=content_type)
        except _TokenRejected:
            self.refresh_credentials()
        try:
            return self._send(method, nsid, params=params, body=body, content=content, content_type=content_type)
        except _TokenRejected as exc:
            raise AuthExpired(MSG_AUTH, detail=exc.error.detail, status=exc.error.status) from None

    def _send(self, method: str, nsid: str, *, params: Any = None, body: Any = None, content: bytes | None = None,
              content_type: str = "", auth: bool = True, headers: dict[str, str] | None = None) -> ApiResponse:
        bucket = f"{method} /xrpc/{nsid}"
        send_headers = dict(headers or {})
        data = None
        if content is not None:
            send_headers["Content-Type"] = content_type or "application/octet-stream"
            data = content
        with warnings.catch_warnings():
            # The shared client has no ``content=``; httpx sends ``data=bytes`` as the raw body.
            warnings.filterwarnings("ignore", message="Use 'content=", category=DeprecationWarning)
            response = self.http.request(method, f"/xrpc/{nsid}", params=params, json_body=body, data=data,
                                         headers=send_headers, auth=auth, bucket=bucket,
                                         accept=XRPC_ERROR_STATUSES)
        self._record_rate_limit(response, bucket)
        if 200 <= response.status < 300:
            return response
        raise self._xrpc_error(response, bucket)

    def _record_rate_limit(self, response: ApiResponse, bucket: str) -> None:
        """Bluesky names its headers ``ratelimit-*`` (IETF draft), without the ``x-``."""
        if not any(k in response.headers for k in ("ratelimit-limit", "ratelimit-remaining", "ratelimit-reset")):
            return
        renamed = httpx.Headers({f"x-{k}": response.headers[k] for k in
                                 ("ratelimit-limit", "ratelimit-remaining", "ratelimit-reset") if k in response.headers})
        state = rate_limit_from_headers(renamed, account_key=self.account_key, bucket=bucket)
        if state is not None:
            self.http.rate_book.record(state)

    def _xrpc_error(self, response: ApiResponse, bucket: str) -> ConnectorError | _TokenRejected:
        data = _dict(response.data)
        name = clean_text(str(data.get("error") or ""), 100)
        message = clean_text(str(data.get("message") or ""), 1000)
        detail = ": ".join(p for p in (name, message) if p) or clean_text(response.text, 300)
        status = response.status
        if name in ("ExpiredToken", "InvalidToken"):
            return _TokenRejected(AuthExpired(MSG_AUTH, detail=detail, status=status))
        if status == 429 or name == "RateLimitExceeded":
            now = datetime.now(timezone.utc)
            wait = parse_retry_after(response.headers.get("retry-after"), now)
            if wait is None:
                reset = parse_reset(response.headers.get("ratelimit-reset"), now)
                wait = (reset - now).total_seconds() if reset else DEFAULT_RATE_LIMIT_WAIT
            wait = min(max(wait, 1.0), MAX_RATE_LIMIT_WAIT)
            previous = self.http.rate_book.get(self.account_key, bucket)
            self.http.rate_book.record(RateLimitState(self.account_key, bucket, previous.limit if previous else None,
                                                      0, now + timedelta(seconds=wait), now))
            return RateLimited(format_lazy(MSG_RATE, seconds=int(round(wait))), retry_after=wait, detail=detail,
                               status=status)
        if status == 401 or name in ("AuthMissing", "AuthenticationRequired", "AccountTakedown",
                                     "AccountDeactivated"):
            return AuthExpired(MSG_AUTH, detail=detail, status=status)
        if status == 404 or name in ("RecordNotFound", "NotFound"):
            return Permanent(MSG_NOT_FOUND, detail=detail, status=status)
        if status == 413 or name in ("PayloadTooLarge", "BlobTooLarge"):
            return Permanent(MSG_TOO_LARGE, detail=detail, status=status)
        return Permanent(format_lazy(MSG_REFUSED, reason=message or name or str(status)), detail=detail, status=status)

    @staticmethod
    def _expect(response: ApiResponse, kind: type) -> Any:
        if not isinstance(response.data, kind):
            raise Retryable(MSG_MALFORMED, detail=f"expected a JSON {kind.__name__}: {clean_text(response.text, 200)}",
                            status=response.status)
        return response.data

    # -- identity --------------------------------------------------------------------------------

    def fetch_profile(self) -> Profile:
        did = self._own_did()
        data = self._expect(self._call("GET", "app.bsky.actor.getProfile", params={"actor": did}), dict)
        handle = clean_text(str(data.get("handle") or self.handle), 253)
        self.handle = handle or self.handle
        fields = {}
        website = safe_url(data.get("website"))
        if website:
            fields["website"] = website
        pronouns = clean_text(str(data.get("pronouns") or ""), 100)
        if pronouns:
            fields["pronouns"] = pronouns
        return Profile(
            external_id=did,
            handle=f"@{handle}" if handle else did,
            display_name=clean_text(str(data.get("displayName") or ""), 200),
            url=f"{self.web_url}/profile/{handle or did}",
            avatar_url=safe_url(data.get("avatar")),
            bio=clean_text(str(data.get("description") or ""), 5000),
            followers=self._as_int(data.get("followersCount")),
            following=self._as_int(data.get("followsCount")),
            posts=self._as_int(data.get("postsCount")),
            fields=fields,
        )

    def resolve_handle(self, handle: str) -> str | None:
        """A handle's DID, or None when the network does not know it."""
        if not rules.is_valid_handle(handle):
            return None
        try:
            data = self._call("GET", "com.atproto.identity.resolveHandle", params={"handle": handle}).data
        except Permanent:
            return None  # "Unable to resolve handle": the text stays plain, like the app does
        did = _dict(data).get("did")
        return did if isinstance(did, str) and _DID.match(did) else None

    # -- limits ----------------------------------------------------------------------------------

    def limits(self) -> Limits:
        """Fixed by the lexicons and the app: 300 graphemes and 3000 bytes of text (both are
        checked before sending), 4 images of at most 1 MB each, no content warnings, every post
        public. Alt text up to 2000 graphemes."""
        return Limits(max_characters=MAX_GRAPHEMES, counting="graphemes", url_length=None, max_media=MAX_IMAGES,
                      max_alt_text=MAX_ALT_TEXT, image_size_limit=MAX_IMAGE_BYTES, video_size_limit=None,
                      media_types=IMAGE_TYPES, content_warnings=False, visibilities=frozenset({Visibility.PUBLIC}),
                      threads=True)

    # -- publishing ------------------------------------------------------------------------------

    def publish(self, payload: PostPayload, *, link_card: LinkCard | None = None) -> PublishedRef:
        self._check(payload)
        repo = self._own_did()
        record: dict[str, Any] = {"$type": POST, "text": payload.text, "createdAt": iso_now()}
        if payload.language:
            record["langs"] = [payload.language[:16]]
        facets = self._facets(payload.text)
        if facets:
            record["facets"] = facets
        if payload.reply_to:
            record["reply"] = self._reply_ref(payload.reply_to)
        if payload.media:
            record["embed"] = {"$type": "app.bsky.embed.images",
                               "images": [self._image(item) for item in payload.media]}
            if payload.sensitive:
                record["labels"] = {"$type": "com.atproto.label.defs#selfLabels", "values": [{"val": "graphic-media"}]}
        else:
            card = link_card
            if card is None and self.card_resolver is not None:
                first_link = next((f.value for f in rules.detect_facets(payload.text) if f.kind == "link"), "")
                card = self.card_resolver(first_link) if first_link else None
            if card is not None:
                record["embed"] = self._external(card)
        rkey = tid_for_marker(payload.marker) if (payload.marker and self.deterministic_rkeys) else ""
        body: dict[str, Any] = {"repo": repo, "collection": POST, "record": record}
        if rkey:
            body["rkey"] = rkey
        try:
            response = self._call("POST", "com.atproto.repo.createRecord", body=body)
        except (Permanent, Retryable) as exc:
            # A create with our rkey that fails may mean "that record exists": it was published.
            if not rkey or isinstance(exc, RateLimited):
                raise
            existing = self._get_own_record(repo, rkey)
            if existing is None:
                raise
            return existing
        data = response.data
        if not isinstance(data, dict) or not isinstance(data.get("uri"), str) or not _AT_URI.match(data["uri"]):
            raise Ambiguous(MSG_POST_UNREADABLE, detail=clean_text(response.text, 300), status=response.status)
        return self._ref(data["uri"], parse_time(record["createdAt"]))

    def _check(self, payload: PostPayload) -> None:
        if not payload.text.strip() and not payload.media:
            raise Permanent(MSG_EMPTY)
        if payload.content_warning:
            raise Permanent(MSG_NO_CONTENT_WARNING)
        try:
            visibility = Visibility(payload.visibility)
        except ValueError:
            visibility = None
        if visibility != Visibility.PUBLIC:
            raise Permanent(MSG_PUBLIC_ONLY, detail=str(payload.visibility)[:40])
        result = rules.validate(payload.text, has_media=bool(payload.media))
        for problem in result.problems:
            if problem.code != "empty":
                raise Permanent(problem.message, detail=str(problem))
        if len(payload.media) > MAX_IMAGES:
            raise Permanent(format_lazy(MSG_TOO_MANY_MEDIA, count=MAX_IMAGES))
        for item in payload.media:
            if item.mime_type not in IMAGE_TYPES:
                raise Permanent(MSG_MEDIA_TYPE, detail=item.mime_type[:100])
            if item.size > MAX_IMAGE_BYTES:
                raise Permanent(MSG_TOO_LARGE, detail=f"{item.filename[:100]}: {item.size} bytes > {MAX_IMAGE_BYTES}")

    def _facets(self, text: str) -> list[dict[str, Any]]:
        out = []
        dids: dict[str, str | None] = {}
        for facet in rules.detect_facets(text):
            if facet.kind == "mention":
                key = facet.value.lower()
                if key not in dids:
                    dids[key] = self.resolve_handle(key)
                if not dids[key]:
                    continue
                out.append(facet.as_record(dids[key]))
            else:
                out.append(facet.as_record())
        return out

    def _reply_ref(self, parent_uri: str) -> dict[str, Any]:
        """Root and parent strong refs (uri + cid). The parent's own reply root is the thread's
        root; a parent that is not a reply is the root itself."""
        parse_at_uri(parent_uri)
        posts = self._get_posts([parent_uri])
        parent = posts.get(parent_uri)
        if parent is None:
            raise Permanent(MSG_NOT_FOUND, detail=f"reply target {parent_uri[:200]} not found")
        parent_ref = {"uri": parent_uri, "cid": str(parent.get("cid") or "")}
        root = _dict(_dict(_dict(parent.get("record")).get("reply")).get("root"))
        if isinstance(root.get("uri"), str) and isinstance(root.get("cid"), str) and _AT_URI.match(root["uri"]):
            root_ref = {"uri": root["uri"], "cid": root["cid"]}
        else:
            root_ref = dict(parent_ref)
        return {"root": root_ref, "parent": parent_ref}

    def _upload(self, item: MediaItem) -> dict[str, Any]:
        try:
            response = self._call("POST", "com.atproto.repo.uploadBlob", content=item.read(),
                                  content_type=item.mime_type)
        except Ambiguous as exc:  # an upload creates no post: an orphan blob is garbage-collected
            raise Retryable(MSG_AMBIGUOUS, detail=exc.detail, status=exc.status) from None
        blob = _dict(self._expect(response, dict).get("blob"))
        if blob.get("$type") != "blob" or not isinstance(_dict(blob.get("ref")).get("$link"), str):
            raise Retryable(MSG_MALFORMED, detail=f"uploadBlob without a blob: {clean_text(response.text, 200)}")
        return blob

    def _image(self, item: MediaItem) -> dict[str, Any]:
        return {"alt": item.alt_text or "", "image": self._upload(item)}

    def _external(self, card: LinkCard) -> dict[str, Any]:
        external: dict[str, Any] = {"uri": card.uri, "title": card.title or "", "description": card.description or ""}
        if card.thumb is not None and card.thumb.mime_type in IMAGE_TYPES and card.thumb.size <= MAX_IMAGE_BYTES:
            external["thumb"] = self._upload(card.thumb)
        return {"$type": "app.bsky.embed.external", "external": external}

    def _ref(self, uri: str, published_at: datetime | None) -> PublishedRef:
        repo, _collection, rkey = parse_at_uri(uri)
        who = self.handle if repo == self.account_id and self.handle else repo
        return PublishedRef(external_id=uri, url=f"{self.web_url}/profile/{who}/post/{rkey}", published_at=published_at)

    def _get_own_record(self, repo: str, rkey: str) -> PublishedRef | None:
        try:
            response = self._call("GET", "com.atproto.repo.getRecord",
                                  params={"repo": repo, "collection": POST, "rkey": rkey})
        except Permanent as exc:
            if exc.status in (400, 404):  # RecordNotFound
                return None
            raise
        data = self._expect(response, dict)
        uri = data.get("uri") if isinstance(data.get("uri"), str) else f"at://{repo}/{POST}/{rkey}"
        return self._ref(uri, parse_time(_dict(data.get("value")).get("createdAt")))

    def reply(self, to_external_id: str, text: str, *, marker: str = "") -> PublishedRef:
        return self.publish(PostPayload(text=text, reply_to=to_external_id, marker=marker))

    def delete(self, external_id: str) -> bool:
        """``deleteRecord`` succeeds whether or not the record exists, so ``getRecord`` first
        tells "deleted now" from "already gone"."""
        repo, collection, rkey = parse_at_uri(external_id)
        own = self._own_did()
        if repo not in (own, self.handle):
            raise Permanent(MSG_NOT_OURS, detail=external_id[:200])
        if self._get_own_record(own, rkey) is None and collection == POST:
            return False
        self._call("POST", "com.atproto.repo.deleteRecord", body={"repo": own, "collection": collection, "rkey": rkey})
        return True

    def find_published(self, payload: PostPayload, *, since: datetime) -> PublishedRef | None:
        repo = self._own_did()
        if payload.marker and self.deterministic_rkeys:
            return self._get_own_record(repo, tid_for_marker(payload.marker))
        wanted = normalize_text(payload.text)
        floor = since - CLOCK_SKEW
        cursor = ""
        for _page in range(self.find_pages):
            params: dict[str, Any] = {"repo": repo, "collection": POST, "limit": PAGE}
            if cursor:
                params["cursor"] = cursor
            data = self._expect(self._call("GET", "com.atproto.repo.listRecords", params=params), dict)
            records = [r for r in data.get("records") or [] if isinstance(r, dict)]
            for item in records:
                value = _dict(item.get("value"))
                created = parse_time(value.get("createdAt"))
                if created is None or created < floor:
                    continue
                if normalize_text(str(value.get("text") or "")) != wanted:
                    continue
                parent = _dict(_dict(value.get("reply")).get("parent")).get("uri") or ""
                if parent != (payload.reply_to or ""):
                    continue
                uri = item.get("uri")
                if isinstance(uri, str) and _AT_URI.match(uri):
                    return self._ref(uri, created)
            cursor = data.get("cursor") if isinstance(data.get("cursor"), str) else ""
            if not cursor or not records:
                break
        return None

    # -- analytics -------------------------------------------------------------------------------

    def _get_posts(self, uris: Sequence[str]) -> dict[str, dict]:
        out: dict[str, dict] = {}
        for start in range(0, len(uris), GET_POSTS_BATCH):
            chunk = list(uris[start:start + GET_POSTS_BATCH])
            data = self._expect(self._call("GET", "app.bsky.feed.getPosts", params=[("uris", u) for u in chunk]), dict)
            for post in data.get("posts") or []:
                if isinstance(post, dict) and isinstance(post.get("uri"), str):
                    out[post["uri"]] = post
        return out

    def fetch_post_metrics(self, external_ids: Sequence[str]) -> dict[str, PostMetrics]:
        """``getPosts``: likes, replies, and reposts plus quotes as shares. Bluesky publishes
        no impressions or reach (None, not zero). A post missing from the answer is gone."""
        ids = list(dict.fromkeys(external_ids))
        for external_id in ids:
            parse_at_uri(external_id)
        posts = self._get_posts(ids) if ids else {}
        out = {}
        for external_id in ids:
            post = posts.get(external_id)
            if post is None:
                out[external_id] = PostMetrics(external_id, exists=False)
                continue
            reposts, quotes = self._as_int(post.get("repostCount")), self._as_int(post.get("quoteCount"))
            shares = None if reposts is None and quotes is None else (reposts or 0) + (quotes or 0)
            out[external_id] = PostMetrics(external_id, likes=self._as_int(post.get("likeCount")),
                                           comments=self._as_int(post.get("replyCount")), shares=shares)
        return out

    # -- inbox -----------------------------------------------------------------------------------

    def fetch_interactions(self, since: datetime | None = None, *, cursor: str = "",
                           thread_ids: Sequence[str] = ()) -> InteractionBatch:
        """Replies, mentions and quotes from ``listNotifications`` (newest first, paged back to
        the floor). ``cursor`` is the newest ``indexedAt`` already seen; ``thread_ids`` is not
        needed: Bluesky notifies replies anywhere in the account's threads."""
        own = self._own_did()
        floor = since
        resumed = _load_cursor(cursor)
        if resumed is not None:
            floor = max(floor, resumed) if floor else resumed
        found: dict[str, Interaction] = {}
        newest = resumed
        page_cursor = ""
        for _page in range(self.interaction_pages if floor else 1):
            params: list[tuple[str, Any]] = [("reasons", r) for r in ("reply", "mention", "quote")]
            params.append(("limit", PAGE))
            if page_cursor:
                params.append(("cursor", page_cursor))
            data = self._expect(self._call("GET", "app.bsky.notification.listNotifications", params=params), dict)
            notifications = [n for n in data.get("notifications") or [] if isinstance(n, dict)]
            older = False
            for notification in notifications:
                indexed = parse_time(notification.get("indexedAt"))
                if floor and indexed and (indexed <= floor if resumed is not None else indexed < floor):
                    older = True
                    continue
                reason = notification.get("reason")
                if reason not in ("reply", "mention", "quote"):
                    continue
                author = _dict(notification.get("author"))
                if author.get("did") == own or not isinstance(notification.get("uri"), str):
                    continue
                post = self._post({**notification, "author": author, "record": _dict(notification.get("record"))})
                if not post.external_id:
                    continue
                if indexed and (newest is None or indexed > newest):
                    newest = indexed
                if reason == "reply":
                    kind, on_post = InteractionKind.COMMENT, post.in_reply_to
                elif reason == "quote":
                    quoted = _dict(_dict(_dict(notification.get("record")).get("embed")).get("record"))
                    kind, on_post = InteractionKind.MENTION, clean_text(str(quoted.get("uri") or ""), 500)
                else:
                    kind, on_post = InteractionKind.MENTION, ""
                found[post.external_id] = Interaction(kind, post, on_post=on_post, notification_id=post.external_id)
            page_cursor = data.get("cursor") if isinstance(data.get("cursor"), str) else ""
            if older or not notifications or not page_cursor:
                break
        items = sorted(found.values(), key=lambda i: (i.post.created_at or datetime.min.replace(tzinfo=timezone.utc),
                                                      i.post.external_id))
        new_cursor = newest or since
        return InteractionBatch(items=items, cursor=json.dumps({"t": new_cursor.isoformat()}) if new_cursor else "")

    # -- listening -------------------------------------------------------------------------------

    def search(self, query: str, *, since: datetime | None = None, limit: int = 40) -> list[NetworkPost]:
        """``app.bsky.feed.searchPosts`` (newest first, ``since`` passed to the server too)."""
        query = (query or "").strip()
        if not query:
            return []
        limit = max(1, min(limit, 500))
        results: list[NetworkPost] = []
        cursor = ""
        while len(results) < limit:
            params: dict[str, Any] = {"q": query[:500], "limit": min(PAGE, limit - len(results)), "sort": "latest"}
            if since:
                params["since"] = since.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
            if cursor:
                params["cursor"] = cursor
            data = self._expect(self._call("GET", "app.bsky.feed.searchPosts", params=params), dict)
            posts = [p for p in data.get("posts") or [] if isinstance(p, dict)]
            for view in posts:
                post = self._post(view)
                if since and post.created_at and post.created_at < since:
                    continue
                if post.external_id:
                    results.append(post)
            cursor = data.get("cursor") if isinstance(data.get("cursor"), str) else ""
            if not posts or not cursor:
                break
        return results[:limit]

    # -- competitors: other accounts' public numbers and posts ----------------------------------

    def _actor(self, handle: str) -> str:
        actor = (handle or "").strip().lstrip("@")
        if not (_DID.match(actor) or rules.is_valid_handle(actor)):
            raise Permanent(MSG_BAD_HANDLE, detail=f"handle {handle[:80]!r}")
        return actor

    def _unknown(self, error: Permanent) -> Permanent:
        """The AppView answers an unknown actor with 400 InvalidRequest "Profile not found"
        (or "Actor not found"): say so in plain words."""
        if "not found" in (error.detail or "").lower():
            return Permanent(MSG_UNKNOWN_ACTOR, detail=error.detail, status=error.status)
        return error

    def fetch_public_account(self, handle: str) -> Profile:
        """``app.bsky.actor.getProfile`` for someone else."""
        actor = self._actor(handle)
        try:
            data = self._expect(self._call("GET", "app.bsky.actor.getProfile", params={"actor": actor}), dict)
        except Permanent as error:
            raise self._unknown(error) from None
        did = str(data.get("did") or "")
        if not _DID.match(did):
            raise Retryable(MSG_MALFORMED, detail="getProfile without a did")
        found = clean_text(str(data.get("handle") or ""), 253)
        return Profile(
            external_id=did,
            handle=f"@{found}" if found else did,
            display_name=clean_text(str(data.get("displayName") or ""), 200),
            url=f"{self.web_url}/profile/{found or did}",
            avatar_url=safe_url(data.get("avatar")),
            bio=clean_text(str(data.get("description") or ""), 5000),
            followers=self._as_int(data.get("followersCount")),
            following=self._as_int(data.get("followsCount")),
            posts=self._as_int(data.get("postsCount")),
        )

    def fetch_public_posts(self, handle: str, *, since: datetime | None = None, limit: int = 40) -> list[NetworkPost]:
        """``app.bsky.feed.getAuthorFeed`` with ``posts_no_replies``, reposts left out."""
        actor = self._actor(handle)
        limit = max(1, min(limit, 500))
        results: list[NetworkPost] = []
        cursor = ""
        while len(results) < limit:
            params: dict[str, Any] = {"actor": actor, "limit": min(PAGE, limit - len(results)),
                                      "filter": "posts_no_replies"}
            if cursor:
                params["cursor"] = cursor
            try:
                data = self._expect(self._call("GET", "app.bsky.feed.getAuthorFeed", params=params), dict)
            except Permanent as error:
                raise self._unknown(error) from None
            items = [i for i in data.get("feed") or [] if isinstance(i, dict)]
            older = False
            for item in items:
                if item.get("reason"):  # a repost of someone else's post
                    continue
                post = self._post(_dict(item.get("post")))
                if not post.external_id:
                    continue
                if since and post.created_at and post.created_at < since:
                    older = True
                    continue
                results.append(post)
            cursor = data.get("cursor") if isinstance(data.get("cursor"), str) else ""
            if not items or not cursor or older:
                break
        return results[:limit]

    # -- mapping ---------------------------------------------------------------------------------

    def _post(self, view: dict) -> NetworkPost:
        """A postView (or a notification, which has the same uri/author/record fields)."""
        author = _dict(view.get("author"))
        record = _dict(view.get("record"))
        did = clean_text(str(author.get("did") or ""), 200)
        handle = clean_text(str(author.get("handle") or ""), 253)
        uri = str(view.get("uri") or "")
        rkey = ""
        match = _AT_URI.match(uri)
        if match:
            rkey = match.group("rkey")
        else:
            uri = ""
        parent = clean_text(str(_dict(_dict(record.get("reply")).get("parent")).get("uri") or ""), 500)
        parent_match = _AT_URI.match(parent)
        embed = _dict(record.get("embed"))
        images = embed.get("images") or _dict(embed.get("media")).get("images") or []
        langs = record.get("langs") if isinstance(record.get("langs"), list) else []
        reposts, quotes = self._as_int(view.get("repostCount")), self._as_int(view.get("quoteCount"))
        kinds, link = _embed_kinds(embed)
        return NetworkPost(
            media_kinds=kinds,
            link=link,
            external_id=uri,
            author=Author(external_id=did, handle=f"@{handle}" if handle else did,
                          display_name=clean_text(str(author.get("displayName") or ""), 200),
                          url=f"{self.web_url}/profile/{handle or did}" if (handle or did) else "",
                          avatar_url=safe_url(author.get("avatar"))),
            text=str(record.get("text") or "") if isinstance(record.get("text"), str) else "",
            created_at=parse_time(record.get("createdAt")) or parse_time(view.get("indexedAt")),
            url=f"{self.web_url}/profile/{handle or did}/post/{rkey}" if rkey and (handle or did) else "",
            html="",
            language=clean_text(str(langs[0]), 16) if langs else "",
            visibility="public",
            in_reply_to=parent if parent_match else "",
            in_reply_to_author=parent_match.group("repo") if parent_match else "",
            media_count=len(images) if isinstance(images, list) else 0,
            likes=self._as_int(view.get("likeCount")),
            shares=None if reposts is None and quotes is None else (reposts or 0) + (quotes or 0),
            comments=self._as_int(view.get("replyCount")),
        )


def _embed_kinds(embed: dict) -> tuple[tuple[str, ...], str]:
    """What a post record's embed carries: its attachments' kinds and a link card's address."""
    kind = str(embed.get("$type") or "")
    if kind == "app.bsky.embed.recordWithMedia":
        return _embed_kinds(_dict(embed.get("media")))
    if kind == "app.bsky.embed.images":
        images = embed.get("images") if isinstance(embed.get("images"), list) else []
        return ("image",) * len(images), ""
    if kind == "app.bsky.embed.video":
        return ("video",), ""
    if kind == "app.bsky.embed.external":
        return (), safe_url(_dict(embed.get("external")).get("uri"))
    return (), ""


def _load_cursor(cursor: str) -> datetime | None:
    if not cursor:
        return None
    try:
        data = json.loads(cursor)
    except ValueError:
        return None
    return parse_time(data.get("t")) if isinstance(data, dict) else None
