"""X (API v2), for one account signed in with OAuth 2.0 (Authorization Code with PKCE).

API references (docs.x.com/x-api): ``POST /2/tweets`` (text, ``media.media_ids``,
``reply.in_reply_to_tweet_id``), ``DELETE /2/tweets/:id`` (``{"data": {"deleted": true}}``),
``GET /2/users/me``, ``GET /2/users/:id/tweets``, ``GET /2/users/:id/mentions``,
``GET /2/tweets?ids=`` (``public_metrics``, ``non_public_metrics``, ``organic_metrics``),
``GET /2/tweets/search/recent`` (``conversation_id:``), the v2 media upload
(``POST /2/media/upload`` for an image in one call; ``POST /2/media/upload/initialize``,
``/2/media/upload/:id/append``, ``/2/media/upload/:id/finalize`` and
``GET /2/media/upload?command=STATUS`` for videos and GIFs), ``POST /2/media/metadata`` (alt
text, sensitive-media warning) and ``POST /2/oauth2/token`` (refresh; X rotates refresh tokens).

The paid-tier reality. What an X app may call depends on the plan its developer account pays
for. An endpoint outside the plan answers 403 ``client-not-enrolled`` (problem type
``client-forbidden``), or the v1.1-style "you currently have access to a subset … access level"
(code 453); a plan whose monthly quota is spent answers 429 ``usage-capped``. Those become a
``Permanent`` / ``RateLimited`` whose message names the feature and what to do (upgrade the
plan at developer.x.com or turn the feature off), never an "unknown error". Reading replies
through recent search is optional: when the plan lacks search, mentions still come in and
publishing is never affected.

Text read from X is plain text with ``&``, ``<`` and ``>`` escaped as entities (X does that in
its JSON); it is unescaped into ``NetworkPost.text``, which templates escape like any string.
Links in what X returns are ``t.co`` short links, so matching our post back after an
ambiguous failure compares the words with every link taken out on both sides.
"""

from __future__ import annotations

import dataclasses
import html
import json
import logging
import re
import time
from collections.abc import Iterator, Sequence
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from django.utils.translation import gettext_lazy as _

from ..base import (
    Author,
    Connector,
    Credentials,
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
from ..errors import Ambiguous, AuthExpired, ConnectorError, Permanent, RateLimited, Retryable, Unsupported, fill
from ..http import MSG_MALFORMED, MSG_NOT_FOUND, ApiResponse, clean_text, error_for_status, parse_time, safe_url
from ..ratelimit import RateRule

log = logging.getLogger(__name__)

DEFAULT_API = "https://api.x.com"
WEB = "https://x.com"
MAX_CHARACTERS = 280
URL_LENGTH = 23
MAX_IMAGES = 4
MAX_ALT_TEXT = 1000
IMAGE_LIMIT = 5 * 1024 * 1024
GIF_LIMIT = 15 * 1024 * 1024
VIDEO_LIMIT = 512 * 1024 * 1024
CHUNK = 4 * 1024 * 1024  # append segments (the API takes at most 5 MB a segment)
IMAGE_TYPES = frozenset({"image/jpeg", "image/png", "image/webp"})
GIF_TYPES = frozenset({"image/gif"})
VIDEO_TYPES = frozenset({"video/mp4", "video/quicktime"})
PAGE = 100  # the largest page of the timelines and lookups
SEARCH_PAGE = 100
PRIVATE_METRICS_DAYS = 30  # non-public and organic metrics exist for posts of the last 30 days
SEARCH_DAYS = 7  # recent search covers the last seven days
TWEET_FIELDS = ("created_at,author_id,conversation_id,in_reply_to_user_id,referenced_tweets,lang,public_metrics,"
                "attachments")
USER_FIELDS = "username,name,profile_image_url,created_at,public_metrics"
_ID = re.compile(r"^\d{1,20}$")
_LANG = re.compile(r"[a-z]{2,8}(-[A-Za-z0-9]{1,8})?")
_URL = re.compile(r"https?://\S+", re.IGNORECASE)
_TWITTER_EPOCH_MS = 1288834974657

MSG_EMPTY = _("A post needs some text or at least one image or video.")
MSG_BAD_ID = _("That post's id is not valid for X.")
MSG_HIDE_FORBIDDEN = _("X refused to hide this reply. Only replies to the account's own posts can be hidden, "
                       "and the account must allow moderation: reconnect it and approve every permission.")
MSG_TOO_LONG = _("The text is longer than X accepts (280 characters, links count as 23, some characters "
                 "count double). Shorten it.")
MSG_VISIBILITY = _("X posts are always public; X has no unlisted, followers-only or direct posts.")
MSG_CONTENT_WARNING = _("X has no content warnings. Remove it, or mark the media as sensitive instead.")
MSG_MEDIA_MIX = _("An X post carries up to 4 images, or a single video or GIF on its own.")
MSG_MEDIA_TYPE = _("X does not accept files of this type. Use JPEG, PNG, WebP or GIF images, or MP4/MOV videos.")
MSG_MEDIA_SIZE = _("This file is larger than X accepts: 5 MB for images, 15 MB for GIFs, 512 MB for videos.")
MSG_MEDIA_SLOW = _("X is still processing the video. We will try again.")
MSG_MEDIA_FAILED = _("X could not process the attached media: %(reason)s")
MSG_POST_UNREADABLE = _("X accepted the post but its answer could not be read. We will check whether it was "
                        "published before trying again.")
MSG_DUPLICATE = _("X refuses a post whose text is the same as a recent post of this account. Change the text "
                  "a little and try again.")
MSG_PLAN = _("The X API plan of Tertulia's X app does not include %(feature)s. Upgrade the app's plan at "
             "developer.x.com, or turn this feature off for X accounts.")
MSG_USAGE_CAPPED = _("Tertulia's X app has used up its X API plan's monthly quota (%(feature)s). Upgrade the plan "
                     "at developer.x.com or wait for the quota to reset; we will try again later.")
MSG_RATE = _("X asked us to slow down (%(feature)s). We will try again in %(seconds)s seconds.")
MSG_REFUSED = _("X refused this: %(reason)s")
MSG_APP_MISSING = _("The X app is not configured, so the sign-in cannot be renewed. Set X_CLIENT_ID and "
                    "X_CLIENT_SECRET, then reconnect the account.")
MSG_REFRESH_REFUSED = _("X no longer accepts this account's sign-in. Reconnect the account.")

# What each call is for, in words a CM understands (for the plan and quota messages).
F_PUBLISH = _("publishing posts")
F_DELETE = _("deleting posts")
F_MEDIA = _("uploading images and videos")
F_PROFILE = _("reading the account's profile")
F_TIMELINE = _("reading the account's own posts")
F_METRICS = _("reading post metrics")
F_MENTIONS = _("reading mentions")
F_SEARCH = _("searching posts")
F_HIDE = _("hiding replies")
F_PUBLIC = _("reading other accounts' public numbers and posts")
MSG_BAD_HANDLE = _("That is not an X user name. Write it without spaces, like @name.")
MSG_UNKNOWN_USER = _("X does not know that account (or it is suspended). Check the user name.")
_USERNAME = re.compile(r"^\w{1,50}$", re.ASCII)
_X_MEDIA_KIND = {"photo": "image", "video": "video", "animated_gif": "gif"}


def snowflake_time(tweet_id: str) -> datetime | None:
    """When X created a post, from its id (ids are snowflakes: milliseconds since 2010-11-04
    in the high bits)."""
    try:
        value = int(tweet_id)
    except (TypeError, ValueError):
        return None
    if value < (1 << 22):
        return None
    return datetime.fromtimestamp(((value >> 22) + _TWITTER_EPOCH_MS) / 1000, timezone.utc)


def match_key(text: str) -> str:
    """The words of a post with every link taken out (X turns each one into a ``t.co`` link and
    appends one for attached media), entities unescaped, whitespace collapsed."""
    from tertulia.content.text_rules.x import extract_urls

    text = html.unescape(text or "")
    # Our own text: twitter-text finds links written without a scheme too (cafe.example/menu).
    urls = extract_urls(text)
    if urls:
        chars = list(text)
        for entity in reversed(urls):
            chars[entity.start:entity.end] = " "
        text = "".join(chars)
    text = _URL.sub(" ", text)
    return normalize_text(text)


def plain_text(value: Any, limit: int = 25_000) -> str:
    """X's post text (entities escaped in JSON) as plain text."""
    return clean_text(html.unescape(value if isinstance(value, str) else ""), limit)


class _Unavailable(Permanent):
    """An endpoint outside the app's X plan (403 client-not-enrolled and the like)."""


class _Duplicate(Permanent):
    """X refused the post as a duplicate of a recent one."""


class XConnector(Connector):
    network = "x"  # Network.X
    can_hide = True  # PUT /2/tweets/:id/hidden
    supports_search = True  # recent search (last 7 days), where the app's plan includes it
    supports_refresh = True  # access tokens last two hours; offline.access gives a refresh token
    supports_first_comment = True  # a reply with reply.in_reply_to_tweet_id
    default_base_url = DEFAULT_API
    # docs.x.com manage Posts: per user, 200 creates per 15 minutes and 300 per 3 hours (shared
    # with reposts); 50 deletions per 15 minutes.
    rate_rules = (
        RateRule("x_create_15m", 200, 900.0, methods=frozenset({"POST"}), path=r"^/2/tweets/?$"),
        RateRule("x_create_3h", 300, 3 * 3600.0, methods=frozenset({"POST"}), path=r"^/2/tweets/?$"),
        RateRule("x_delete", 50, 900.0, methods=frozenset({"DELETE"}), path=r"^/2/tweets/\d+$"),
    )

    def __init__(self, *, client_id: str = "", client_secret: str = "", media_timeout: float = 120.0,
                 media_poll_interval: float = 1.0, find_pages: int = 3, interaction_pages: int = 3,
                 context_threads: int = 5, chunk_size: int = CHUNK, **kwargs):
        super().__init__(**kwargs)
        self.client_id = client_id
        self.client_secret = client_secret
        self.media_timeout = media_timeout
        self.media_poll_interval = media_poll_interval
        self.find_pages = find_pages
        self.interaction_pages = interaction_pages
        self.context_threads = context_threads
        self.chunk_size = max(1, chunk_size)
        self.sleep = time.sleep
        self.username = ""
        # Features the plan lacks, learned during this connector's life (not asked again).
        self.unavailable: set[str] = set()

    @classmethod
    def for_account(cls, account, **kwargs) -> XConnector:
        connector = super().for_account(account, **kwargs)
        username = (account.handle or "").lstrip("@")
        if re.fullmatch(r"\w{1,50}", username):
            connector.username = username  # for links to posts without asking X who we are
        return connector

    # -- sign-in -------------------------------------------------------------------------------

    def _app(self) -> tuple[str, str]:
        if self.client_id:
            return self.client_id, self.client_secret
        try:
            from ..oauth_flow import app_settings

            app = app_settings("x")
        except Exception:  # noqa: BLE001 - no Django settings (a benchmark): no app
            app = {}
        return str(app.get("client_id") or ""), str(app.get("client_secret") or "")

    def refresh_credentials(self) -> Credentials:
        """``POST /2/oauth2/token`` with ``grant_type=refresh_token``. X rotates refresh tokens:
        the old one is spent, so the new pair is handed to ``credentials_listener`` at once."""
        from .connect import refresh_tokens

        client_id, client_secret = self._app()
        if not client_id:
            raise AuthExpired(MSG_APP_MISSING, detail="NETWORK_APPS['x'] has no client_id")
        if not self.credentials.refresh_token:
            raise AuthExpired(MSG_REFRESH_REFUSED, detail="no refresh token stored (offline.access not granted?)")
        fresh = refresh_tokens(self.base_url, client_id, client_secret, self.credentials,
                               http_config=self.http.config)
        self._credentials_changed(fresh)
        return fresh

    def _can_refresh(self) -> bool:
        return bool(self.credentials.refresh_token and self._app()[0])

    # -- one call ------------------------------------------------------------------------------

    def _call(self, method: str, path: str, *, feature, params: Any = None, json_body: Any = None,
              data: Any = None, files: Any = None, expect_json: bool = True, missing_ok: bool = False,
              bucket: str | None = None) -> ApiResponse:
        """One authenticated request. An access token about to expire is renewed first; one X
        refuses (401) is renewed once and the request repeated (a 401 means X did nothing).
        X's error bodies become our errors with plain words (``_error``)."""
        if self._can_refresh() and self.credentials.expires_within(timedelta(seconds=60)):
            self.refresh_credentials()
        for attempt in (0, 1):
            try:
                response = self.http.request(method, path, params=params, json_body=json_body, data=data,
                                             files=files, expect_json=expect_json, bucket=bucket,
                                             accept={400, 403, 404, 409, 429})
            except AuthExpired:
                if attempt == 0 and self._can_refresh():
                    self.refresh_credentials()
                    continue
                raise
            if response.status == 404 and missing_ok:
                return response
            if response.status >= 400:
                raise self._error(response, feature)
            return response
        raise AssertionError("unreachable")  # pragma: no cover

    def _error(self, response: ApiResponse, feature) -> ConnectorError:
        data = response.data if isinstance(response.data, dict) else {}
        status = response.status
        kind = str(data.get("type") or "")
        reason = str(data.get("reason") or "")
        texts = [str(data.get(k)) for k in ("detail", "title", "error_description", "error") if data.get(k)]
        errors = data.get("errors") if isinstance(data.get("errors"), list) else []
        codes = set()
        for error in errors[:5]:
            if isinstance(error, dict):
                texts.append(str(error.get("message") or error.get("detail") or ""))
                codes.add(error.get("code"))
        text = clean_text("; ".join(t for t in texts if t) or response.text, 600)
        detail = clean_text(f"{status} {reason or kind} {text}".strip(), 1000)
        lowered = text.lower()
        if status == 429:
            base = error_for_status("GET", 429, response.headers, data, response.text)
            wait = base.retry_after if base is not None and base.retry_after else 60.0
            if "usage-capped" in kind or "usagecap" in lowered.replace(" ", ""):
                # The monthly quota: asking again in a minute only spends more of nothing.
                wait = max(wait, 3600.0)
                return RateLimited(fill(MSG_USAGE_CAPPED, feature=feature), retry_after=wait,
                                   detail=detail, status=status)
            return RateLimited(fill(MSG_RATE, feature=feature, seconds=int(round(wait))), retry_after=wait,
                               detail=detail, status=status)
        if status == 403 and (reason == "client-not-enrolled" or "client-forbidden" in kind or 453 in codes
                              or "access level" in lowered or "subset of x api" in lowered):
            self.unavailable.add(str(feature))
            return _Unavailable(fill(MSG_PLAN, feature=feature), detail=detail, status=status)
        if status == 403 and "duplicate" in lowered:
            return _Duplicate(MSG_DUPLICATE, detail=detail, status=status)
        if status == 404:
            return Permanent(MSG_NOT_FOUND, detail=detail, status=status)
        return Permanent(fill(MSG_REFUSED, reason=text or str(status)), detail=detail, status=status)

    @staticmethod
    def _expect(response: ApiResponse, kind: type = dict) -> Any:
        if not isinstance(response.data, kind):
            raise Retryable(MSG_MALFORMED, detail=f"expected a JSON {kind.__name__}: {clean_text(response.text, 200)}",
                            status=response.status)
        return response.data

    @staticmethod
    def _segment(value: str) -> str:
        value = str(value or "")
        if not _ID.match(value):
            raise Permanent(MSG_BAD_ID, detail=f"id {value[:80]!r}")
        return value

    # -- identity ------------------------------------------------------------------------------

    def _own_id(self) -> str:
        if not self.account_id:
            self.fetch_profile()
        return self.account_id

    def fetch_profile(self) -> Profile:
        response = self._call("GET", "/2/users/me", feature=F_PROFILE, params={
            "user.fields": "public_metrics,description,profile_image_url,url,created_at,location,entities,verified"})
        user = self._expect(response).get("data")
        if not isinstance(user, dict) or not _ID.match(str(user.get("id") or "")):
            raise Retryable(MSG_MALFORMED, detail="users/me without a valid id")
        self.account_id = str(user["id"])
        self.username = clean_text(str(user.get("username") or ""), 50)
        metrics = user.get("public_metrics") if isinstance(user.get("public_metrics"), dict) else {}
        fields: dict[str, str] = {}
        website = ""
        entities = user.get("entities") if isinstance(user.get("entities"), dict) else {}
        url_entity = entities.get("url") if isinstance(entities.get("url"), dict) else {}
        for entry in url_entity.get("urls") or []:
            if isinstance(entry, dict):
                website = safe_url(entry.get("expanded_url")) or website
        website = website or safe_url(user.get("url"))
        if website:
            fields["website"] = website[:255]
        if isinstance(user.get("location"), str) and user["location"]:
            fields["location"] = clean_text(user["location"], 255)
        created = parse_time(user.get("created_at"))
        if created:
            fields["joined"] = created.date().isoformat()
        return Profile(
            external_id=self.account_id,
            handle=f"@{self.username}" if self.username else "",
            display_name=plain_text(user.get("name"), 200),
            url=f"{WEB}/{self.username}" if self.username else "",
            avatar_url=safe_url(user.get("profile_image_url")),
            bio=plain_text(user.get("description"), 2000),
            followers=self._as_int(metrics.get("followers_count")),
            following=self._as_int(metrics.get("following_count")),
            posts=self._as_int(metrics.get("tweet_count")),
            fields=fields,
        )

    # -- limits ----------------------------------------------------------------------------------

    def limits(self) -> Limits:
        """X's published rules (no per-account endpoint gives them): 280 weighted characters
        (twitter-text v3; links count 23), 4 images or 1 video/GIF, 1,000 characters of alt
        text, 5 MB images, 15 MB GIFs, 512 MB videos."""
        return Limits(max_characters=MAX_CHARACTERS, counting="twitter", url_length=URL_LENGTH,
                      max_media=MAX_IMAGES, max_alt_text=MAX_ALT_TEXT, image_size_limit=IMAGE_LIMIT,
                      video_size_limit=VIDEO_LIMIT, media_types=IMAGE_TYPES | GIF_TYPES | VIDEO_TYPES,
                      content_warnings=False, visibilities=frozenset({Visibility.PUBLIC}), threads=True)

    # -- publishing ------------------------------------------------------------------------------

    def publish(self, payload: PostPayload) -> PublishedRef:
        self._check(payload)
        reply_to = self._segment(payload.reply_to) if payload.reply_to else ""
        media_ids = [self._upload(item, sensitive=payload.sensitive) for item in payload.media]
        body: dict[str, Any] = {"text": payload.text} if payload.text.strip() else {}
        if media_ids:
            body["media"] = {"media_ids": media_ids}
        if reply_to:
            body["reply"] = {"in_reply_to_tweet_id": reply_to}
        started = datetime.now(timezone.utc)
        try:
            response = self._call("POST", "/2/tweets", feature=F_PUBLISH, json_body=body, bucket="POST /2/tweets")
        except _Duplicate as err:
            # Often our own earlier attempt went through and X refuses the retry: look for it.
            try:
                found = self.find_published(payload, since=started - timedelta(hours=6))
            except ConnectorError as check:
                log.info("x: could not look for the duplicate's original: %s", check.log_line())
                found = None
            if found is not None:
                return found
            raise err
        data = response.data.get("data") if isinstance(response.data, dict) else None
        if not isinstance(data, dict) or not _ID.match(str(data.get("id") or "")):
            raise Ambiguous(MSG_POST_UNREADABLE, detail=clean_text(response.text, 300), status=response.status)
        return self._ref(str(data["id"]), started)

    def _ref(self, tweet_id: str, published_at: datetime | None = None) -> PublishedRef:
        user = self.username or "i"
        url = f"{WEB}/{user}/status/{tweet_id}" if self.username else f"{WEB}/i/web/status/{tweet_id}"
        return PublishedRef(external_id=tweet_id, url=url, published_at=snowflake_time(tweet_id) or published_at)

    def _check(self, payload: PostPayload) -> None:
        if not payload.text.strip() and not payload.media:
            raise Permanent(MSG_EMPTY)
        if payload.visibility not in (Visibility.PUBLIC, "public"):
            raise Permanent(MSG_VISIBILITY, detail=str(payload.visibility)[:40])
        if payload.content_warning:
            raise Permanent(MSG_CONTENT_WARNING)
        if payload.text.strip():
            from tertulia.content.text_rules.x import parse_tweet

            parsed = parse_tweet(payload.text)
            if not parsed.valid:
                raise Permanent(MSG_TOO_LONG, detail=f"weighted length {parsed.weighted_length}")
        kinds = [self._kind(item) for item in payload.media]
        if len(kinds) > MAX_IMAGES or (len(kinds) > 1 and any(k != "image" for k in kinds)):
            raise Permanent(MSG_MEDIA_MIX, detail=f"{len(kinds)} attachments: {', '.join(kinds)}")
        for item, kind in zip(payload.media, kinds):
            limit = {"image": IMAGE_LIMIT, "gif": GIF_LIMIT, "video": VIDEO_LIMIT}[kind]
            if item.size > limit:
                raise Permanent(MSG_MEDIA_SIZE, detail=f"{item.filename[:80]}: {item.size} bytes > {limit}")

    @staticmethod
    def _kind(item: MediaItem) -> str:
        mime = (item.mime_type or "").lower()
        if mime in IMAGE_TYPES:
            return "image"
        if mime in GIF_TYPES:
            return "gif"
        if mime in VIDEO_TYPES:
            return "video"
        raise Permanent(MSG_MEDIA_TYPE, detail=mime[:80])

    def _upload(self, item: MediaItem, *, sensitive: bool = False) -> str:
        """Images in one call (``POST /2/media/upload``, ``media_category=tweet_image``);
        videos and GIFs chunked (initialize, append, finalize, then STATUS until
        ``succeeded``). Then the alt text and the sensitive flag (``POST /2/media/metadata``).
        A dropped connection during an upload publishes nothing: it becomes Retryable."""
        try:
            kind = self._kind(item)
            if kind == "image":
                response = self._call("POST", "/2/media/upload", feature=F_MEDIA,
                                      data={"media_category": "tweet_image", "media_type": item.mime_type},
                                      files={"media": (item.filename, item.read(), item.mime_type)},
                                      bucket="POST /2/media/upload")
                media = self._media_data(response)
            else:
                media = self._chunked(item, "tweet_gif" if kind == "gif" else "tweet_video")
            media_id = self._segment(str(media.get("id") or ""))
            if isinstance(media.get("processing_info"), dict):
                self._wait_for_media(media_id, media["processing_info"])
            metadata: dict[str, Any] = {}
            if item.alt_text.strip() and kind != "video":
                metadata["alt_text"] = {"text": item.alt_text.strip()[:MAX_ALT_TEXT]}
            if sensitive:
                metadata["sensitive_media_warning"] = {"adult_content": False, "graphic_violence": False, "other": True}
            if metadata:
                self._call("POST", "/2/media/metadata", feature=F_MEDIA,
                           json_body={"id": media_id, "metadata": metadata},
                           bucket="POST /2/media/metadata")
            return media_id
        except Ambiguous as exc:
            raise Retryable(exc.user_message, detail=exc.detail, status=exc.status) from exc

    def _media_data(self, response: ApiResponse) -> dict:
        data = self._expect(response).get("data")
        if not isinstance(data, dict):
            raise Retryable(MSG_MALFORMED, detail=f"media answer without data: {clean_text(response.text, 200)}",
                            status=response.status)
        return data

    def _chunks(self, item: MediaItem) -> Iterator[bytes]:
        if item.content is not None:
            for start in range(0, len(item.content), self.chunk_size):
                yield item.content[start:start + self.chunk_size]
            return
        with Path(item.path).open("rb") as handle:  # type: ignore[arg-type]
            while chunk := handle.read(self.chunk_size):
                yield chunk

    def _chunked(self, item: MediaItem, category: str) -> dict:
        init = self._call("POST", "/2/media/upload/initialize", feature=F_MEDIA,
                          json_body={"media_type": item.mime_type, "total_bytes": item.size,
                                     "media_category": category},
                          bucket="POST /2/media/upload/initialize")
        media_id = self._segment(str(self._media_data(init).get("id") or ""))
        for index, chunk in enumerate(self._chunks(item)):
            self._call("POST", f"/2/media/upload/{media_id}/append", feature=F_MEDIA,
                       data={"segment_index": str(index)},
                       files={"media": ("chunk", chunk, "application/octet-stream")}, expect_json=False,
                       bucket="POST /2/media/upload/:id/append")
        final = self._call("POST", f"/2/media/upload/{media_id}/finalize", feature=F_MEDIA,
                           bucket="POST /2/media/upload/:id/finalize")
        data = self._media_data(final)
        data.setdefault("id", media_id)
        return data

    def _wait_for_media(self, media_id: str, info: dict) -> None:
        deadline = time.monotonic() + self.media_timeout
        while True:
            state = str(info.get("state") or "")
            if state == "succeeded":
                return
            if state == "failed":
                error = info.get("error") if isinstance(info.get("error"), dict) else {}
                reason = clean_text(str(error.get("message") or error.get("name") or "failed"), 300)
                raise Permanent(fill(MSG_MEDIA_FAILED, reason=reason), detail=f"media {media_id}: {reason}")
            wait = self._as_int(info.get("check_after_secs"))
            delay = min(max(float(wait) if wait else self.media_poll_interval, self.media_poll_interval), 10.0)
            if time.monotonic() + delay > deadline:
                raise Retryable(MSG_MEDIA_SLOW, detail=f"media {media_id} still {state or 'processing'}")
            self.sleep(delay)
            response = self._call("GET", "/2/media/upload", feature=F_MEDIA,
                                  params={"command": "STATUS", "media_id": media_id}, bucket="GET /2/media/upload")
            data = self._media_data(response)
            info = data.get("processing_info")
            if not isinstance(info, dict):
                info = {"state": "succeeded"}

    def delete(self, external_id: str) -> bool:
        response = self._call("DELETE", f"/2/tweets/{self._segment(external_id)}", feature=F_DELETE, missing_ok=True,
                              bucket="DELETE /2/tweets/:id")
        if response.status == 404:
            return False
        data = response.data.get("data") if isinstance(response.data, dict) else None
        if not isinstance(data, dict) or "deleted" not in data:
            raise Retryable(MSG_MALFORMED, detail=clean_text(response.text, 200), status=response.status)
        return data.get("deleted") is True

    def reply(self, to_external_id: str, text: str, *, marker: str = "") -> PublishedRef:
        """A reply (``reply.in_reply_to_tweet_id``); X adds the conversation's mentions itself."""
        return self.publish(PostPayload(text=text, reply_to=self._segment(to_external_id), marker=marker))

    def hide_comment(self, external_id: str, hidden: bool) -> None:
        """``PUT /2/tweets/:id/hidden`` with ``{"hidden": true|false}`` (scope
        ``tweet.moderate.write``). X lets an account hide replies in conversations it started
        only; it answers 403 otherwise, and for a token granted before we asked for the scope."""
        tweet_id = self._segment(external_id)
        try:
            response = self._call("PUT", f"/2/tweets/{tweet_id}/hidden", feature=F_HIDE,
                                  json_body={"hidden": bool(hidden)}, bucket="PUT /2/tweets/:id/hidden")
        except _Unavailable:
            raise
        except Permanent as exc:
            if exc.status == 403:
                raise Permanent(MSG_HIDE_FORBIDDEN, detail=exc.detail, status=exc.status) from exc
            raise
        data = response.data.get("data") if isinstance(response.data, dict) else None
        if not isinstance(data, dict) or data.get("hidden") is not bool(hidden):
            raise Retryable(MSG_MALFORMED, detail=clean_text(response.text, 200), status=response.status)

    # -- reconciliation ----------------------------------------------------------------------------

    def find_published(self, payload: PostPayload, *, since: datetime) -> PublishedRef | None:
        """The account's own posts since ``since`` (minus clock skew), oldest match first: the
        same words with links taken out on both sides (X shows them as ``t.co`` links), the
        same reply target and the same number of attachments. X keeps no idempotency key, and
        refuses duplicate texts, so the words are a reliable match."""
        own = self._own_id()
        want = match_key(payload.text)
        start = (since - timedelta(minutes=2)).astimezone(timezone.utc)
        params: dict[str, Any] = {"start_time": start.strftime("%Y-%m-%dT%H:%M:%SZ"), "max_results": PAGE,
                                  "tweet.fields": "created_at,text,referenced_tweets,attachments,conversation_id",
                                  "exclude": "retweets"}
        matches: list[dict] = []
        for _page in range(self.find_pages):
            response = self._call("GET", f"/2/users/{self._segment(own)}/tweets", feature=F_TIMELINE, params=params,
                                  bucket="GET /2/users/:id/tweets")
            body = self._expect(response)
            for tweet in body.get("data") or []:
                if isinstance(tweet, dict) and self._same(tweet, payload, want):
                    matches.append(tweet)
            token = (body.get("meta") or {}).get("next_token") if isinstance(body.get("meta"), dict) else None
            if not token:
                break
            params = {**params, "pagination_token": str(token)[:200]}
        if not matches:
            return None
        oldest = min(matches, key=lambda t: int(t["id"]))
        return self._ref(str(oldest["id"]), parse_time(oldest.get("created_at")))

    def _same(self, tweet: dict, payload: PostPayload, want: str) -> bool:
        if not _ID.match(str(tweet.get("id") or "")):
            return False
        if match_key(str(tweet.get("text") or "")) != want:
            return False
        replied = ""
        for ref in tweet.get("referenced_tweets") or []:
            if isinstance(ref, dict) and ref.get("type") == "replied_to":
                replied = str(ref.get("id") or "")
        if replied != (payload.reply_to or ""):
            return False
        attachments = tweet.get("attachments") if isinstance(tweet.get("attachments"), dict) else {}
        keys = attachments.get("media_keys") if isinstance(attachments.get("media_keys"), list) else []
        return len(keys) == len(payload.media)

    # -- analytics -------------------------------------------------------------------------------

    def fetch_post_metrics(self, external_ids: Sequence[str]) -> dict[str, PostMetrics]:
        """``GET /2/tweets?ids=`` in batches of 100. Public metrics for every post; impressions,
        link clicks and profile clicks (``non_public_metrics``/``organic_metrics``) for posts of
        the last 30 days, which need the author's sign-in. A refusal of the private fields
        (an error for those ids, or a 403 for the whole batch) never loses the public ones:
        those posts are asked again with public metrics only. A post X reports as not found is
        ``exists=False``."""
        ids = list(dict.fromkeys(self._segment(i) for i in external_ids))
        out: dict[str, PostMetrics] = {}
        now = datetime.now(timezone.utc)
        recent = {i for i in ids if (t := snowflake_time(i)) and now - t < timedelta(days=PRIVATE_METRICS_DAYS - 0.5)}
        for start in range(0, len(ids), PAGE):
            batch = ids[start:start + PAGE]
            private = [i for i in batch if i in recent]
            public = [i for i in batch if i not in recent]
            if private:
                try:
                    found, missing, refused = self._lookup(private, "public_metrics,non_public_metrics,organic_metrics")
                except Permanent as err:
                    if err.status not in (400, 403):
                        raise
                    log.info("x metrics: private metrics refused for %d posts: %s", len(private), err.log_line())
                    found, missing, refused = {}, set(), set(private)
                out.update(found)
                for i in missing:
                    out[i] = PostMetrics(i, exists=False)
                public += [i for i in private if i in refused or (i not in found and i not in missing)]
            if public:
                found, missing, _refused = self._lookup(public, "public_metrics")
                out.update(found)
                for i in missing:
                    out[i] = PostMetrics(i, exists=False)
        return out

    def _lookup(self, ids: list[str], fields: str) -> tuple[dict[str, PostMetrics], set[str], set[str]]:
        response = self._call("GET", "/2/tweets", feature=F_METRICS,
                              params={"ids": ",".join(ids), "tweet.fields": fields},
                              bucket="GET /2/tweets")
        body = self._expect(response)
        found: dict[str, PostMetrics] = {}
        for tweet in body.get("data") or []:
            if isinstance(tweet, dict) and str(tweet.get("id")) in ids:
                found[str(tweet["id"])] = self._metrics(tweet)
        missing, refused = set(), set()
        for error in body.get("errors") or []:
            if not isinstance(error, dict):
                continue
            value = str(error.get("resource_id") or error.get("value") or "")
            kind = str(error.get("type") or "")
            if value not in ids or value in found:
                continue
            if "resource-not-found" in kind:
                missing.add(value)
            else:  # not-authorized-for-field, not-authorized-for-resource…
                refused.add(value)
        return found, missing, refused

    def _metrics(self, tweet: dict) -> PostMetrics:
        def block(name: str) -> dict:
            value = tweet.get(name)
            return value if isinstance(value, dict) else {}

        public, private, organic = block("public_metrics"), block("non_public_metrics"), block("organic_metrics")
        as_int = self._as_int
        impressions = as_int(private.get("impression_count"))
        if impressions is None:
            impressions = as_int(organic.get("impression_count"))
        if impressions is None:
            impressions = as_int(public.get("impression_count"))
        clicks = [as_int(private.get(k)) for k in ("url_link_clicks", "user_profile_clicks")]
        retweets, quotes = as_int(public.get("retweet_count")), as_int(public.get("quote_count"))
        return PostMetrics(
            external_id=str(tweet["id"]),
            impressions=impressions,
            likes=as_int(public.get("like_count")),
            comments=as_int(public.get("reply_count")),
            shares=None if retweets is None and quotes is None else (retweets or 0) + (quotes or 0),
            saves=as_int(public.get("bookmark_count")),
            clicks=None if all(c is None for c in clicks) else sum(c or 0 for c in clicks),
        )

    # -- inbox -------------------------------------------------------------------------------------

    def fetch_interactions(self, since: datetime | None = None, *, cursor: str = "",
                           thread_ids: Sequence[str] = ()) -> InteractionBatch:
        """Mentions (``GET /2/users/:id/mentions``, resumed with ``since_id``, pages followed
        with ``pagination_token``, authors from ``expansions=author_id``) and replies to our
        posts found with recent search (``conversation_id:<id>``, the last seven days) where
        the app's plan includes search. A reply that mentions us is a comment on the post it
        answers; anything else naming us is a mention. When the plan lacks search, mentions
        still come in; when it lacks the mentions timeline, the error says so plainly."""
        own = self._own_id()
        state = _load_cursor(cursor)
        found: dict[str, Interaction] = {}
        versions: dict[str, list[str]] = {}  # tweet id -> edit_history_tweet_ids

        newest_mention = state.get("m", "")
        mention_params: dict[str, Any] = {"max_results": PAGE, "tweet.fields": TWEET_FIELDS,
                                          "expansions": "author_id", "user.fields": USER_FIELDS}
        if newest_mention:
            mention_params["since_id"] = newest_mention
        elif since is not None:
            mention_params["start_time"] = since.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        pages = self.interaction_pages if (newest_mention or since) else 1
        for tweet, users in self._pages(f"/2/users/{self._segment(own)}/mentions", mention_params, F_MENTIONS,
                                        "GET /2/users/:id/mentions", pages):
            newest_mention = _newer(newest_mention, str(tweet["id"]))
            if str(tweet.get("author_id") or "") == own:
                continue
            versions[str(tweet["id"])] = _history(tweet)
            found[str(tweet["id"])] = self._classify(tweet, users, own)

        newest_reply = state.get("r", "")
        if str(F_SEARCH) not in self.unavailable:
            roots = [self._segment(t) for t in thread_ids][: self.context_threads]
            floor = datetime.now(timezone.utc) - timedelta(days=SEARCH_DAYS) + timedelta(minutes=5)
            reply_since = newest_reply if (t := snowflake_time(newest_reply)) and t > floor else ""
            for root in roots:
                params: dict[str, Any] = {"query": f"conversation_id:{root} is:reply",
                                          "max_results": SEARCH_PAGE, "tweet.fields": TWEET_FIELDS,
                                          "expansions": "author_id", "user.fields": USER_FIELDS}
                if reply_since:
                    params["since_id"] = reply_since
                else:
                    start = max(floor, since) if since else floor
                    params["start_time"] = start.strftime("%Y-%m-%dT%H:%M:%SZ")
                try:
                    for tweet, users in self._pages("/2/tweets/search/recent", params, F_SEARCH,
                                                    "GET /2/tweets/search/recent", self.interaction_pages):
                        newest_reply = _newer(newest_reply, str(tweet["id"]))
                        if str(tweet.get("author_id") or "") == own or str(tweet["id"]) in found:
                            continue
                        post = self._post(tweet, users)
                        versions[post.external_id] = _history(tweet)
                        found[post.external_id] = Interaction(InteractionKind.COMMENT, post, on_post=root)
                except _Unavailable as err:
                    # The plan has no search: mentions (above) still cover replies that name us.
                    log.info("x: recent search unavailable on this plan: %s", err.log_line())
                    break

        items = sorted(found.values(), key=lambda i: (len(i.post.external_id), i.post.external_id))
        return InteractionBatch(items=[self._as_original(i, versions) for i in items],
                                cursor=json.dumps({"m": newest_mention, "r": newest_reply}, sort_keys=True))

    @staticmethod
    def _as_original(item: Interaction, versions: dict[str, list[str]]) -> Interaction:
        """An edited post comes back from X as a new version with an id of its own, and
        ``edit_history_tweet_ids`` lists the chain (oldest first). The inbox knows the post by
        its first id: hand the new text under that id, with the new version's time as the edit
        time, so it is recorded as an edit of the same message, not a new one."""
        history = versions.get(item.post.external_id) or []
        if len(history) < 2 or history[-1] != item.post.external_id:
            return item
        original = history[0]
        post = dataclasses.replace(item.post, external_id=original, edited_at=item.post.created_at,
                                   created_at=snowflake_time(original) or item.post.created_at)
        return dataclasses.replace(item, post=post)

    def _pages(self, path: str, params: dict[str, Any], feature, bucket: str,
               pages: int) -> Iterator[tuple[dict, dict[str, dict]]]:
        for _page in range(max(1, pages)):
            body = self._expect(self._call("GET", path, feature=feature, params=params, bucket=bucket))
            includes = body.get("includes") if isinstance(body.get("includes"), dict) else {}
            users = {str(u.get("id")): u for u in includes.get("users") or [] if isinstance(u, dict)}
            for tweet in body.get("data") or []:
                if isinstance(tweet, dict) and _ID.match(str(tweet.get("id") or "")):
                    yield tweet, users
            meta = body.get("meta") if isinstance(body.get("meta"), dict) else {}
            token = meta.get("next_token")
            if not token or not isinstance(token, str):
                return
            params = {**params, "pagination_token": token[:200]}

    def _classify(self, tweet: dict, users: dict[str, dict], own: str) -> Interaction:
        post = self._post(tweet, users)
        if post.in_reply_to and str(tweet.get("in_reply_to_user_id") or "") == own:
            return Interaction(InteractionKind.COMMENT, post, on_post=post.in_reply_to)
        return Interaction(InteractionKind.MENTION, post)

    # -- listening ---------------------------------------------------------------------------------

    def search(self, query: str, *, since: datetime | None = None, limit: int = 40) -> list[NetworkPost]:
        """Recent search (the last seven days), where the app's plan includes it."""
        query = (query or "").strip()[:512]
        if not query:
            return []
        limit = max(1, min(limit, 500))
        params: dict[str, Any] = {"query": query, "max_results": max(10, min(SEARCH_PAGE, limit)),
                                  "tweet.fields": TWEET_FIELDS, "expansions": "author_id", "user.fields": USER_FIELDS}
        floor = datetime.now(timezone.utc) - timedelta(days=SEARCH_DAYS) + timedelta(minutes=5)
        if since is not None:
            params["start_time"] = max(since, floor).strftime("%Y-%m-%dT%H:%M:%SZ")
        results: list[NetworkPost] = []
        pages = -(-limit // SEARCH_PAGE)
        for tweet, users in self._pages("/2/tweets/search/recent", params, F_SEARCH, "GET /2/tweets/search/recent",
                                        pages):
            results.append(self._post(tweet, users))
            if len(results) >= limit:
                break
        return results

    # -- competitors: other accounts' public numbers and posts -----------------------------------

    def _user_by_name(self, handle: str) -> dict:
        username = (handle or "").strip().lstrip("@")
        if not _USERNAME.match(username):
            raise Permanent(MSG_BAD_HANDLE, detail=f"handle {handle[:80]!r}")
        try:
            body = self._expect(self._call("GET", f"/2/users/by/username/{username}", feature=F_PUBLIC,
                                           params={"user.fields": "public_metrics,description,profile_image_url"},
                                           bucket="GET /2/users/by/username/:username"))
        except _Unavailable as error:
            raise Unsupported(error.user_message, detail=error.detail, status=error.status) from None
        except Permanent as error:
            if error.status == 404:
                raise Permanent(MSG_UNKNOWN_USER, detail=error.detail, status=404) from None
            raise
        user = body.get("data")
        if not isinstance(user, dict) or not _ID.match(str(user.get("id") or "")):
            # X answers an unknown (or suspended) name with 200 and only ``errors``.
            raise Permanent(MSG_UNKNOWN_USER, detail=clean_text(json.dumps(body.get("errors") or "")[:300], 300),
                            status=404)
        return user

    def fetch_public_account(self, handle: str) -> Profile:
        """``GET /2/users/by/username/:username`` with ``public_metrics``."""
        user = self._user_by_name(handle)
        metrics = user.get("public_metrics") if isinstance(user.get("public_metrics"), dict) else {}
        username = clean_text(str(user.get("username") or ""), 50)
        return Profile(
            external_id=str(user["id"]),
            handle=f"@{username}" if username else "",
            display_name=plain_text(user.get("name"), 200),
            url=f"{WEB}/{username}" if username else "",
            avatar_url=safe_url(user.get("profile_image_url")),
            bio=plain_text(user.get("description"), 2000),
            followers=self._as_int(metrics.get("followers_count")),
            following=self._as_int(metrics.get("following_count")),
            posts=self._as_int(metrics.get("tweet_count")),
        )

    def fetch_public_posts(self, handle: str, *, since: datetime | None = None, limit: int = 40) -> list[NetworkPost]:
        """``GET /2/users/:id/tweets`` (no retweets, no replies) with public metrics and the
        media types, where the app's plan includes reading other users' timelines."""
        user = self._user_by_name(handle)
        limit = max(1, min(limit, 500))
        params: dict[str, Any] = {"max_results": max(5, min(PAGE, limit)), "exclude": "retweets,replies",
                                  "tweet.fields": TWEET_FIELDS + ",entities", "expansions": "attachments.media_keys",
                                  "media.fields": "type,public_metrics"}
        if since is not None:
            params["start_time"] = since.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        users = {str(user["id"]): user}
        results: list[NetworkPost] = []
        try:
            for _page in range(max(1, -(-limit // PAGE))):
                body = self._expect(self._call("GET", f"/2/users/{self._segment(str(user['id']))}/tweets",
                                               feature=F_PUBLIC, params=params, bucket="GET /2/users/:id/tweets"))
                includes = body.get("includes") if isinstance(body.get("includes"), dict) else {}
                media = {str(m.get("media_key")): m for m in includes.get("media") or [] if isinstance(m, dict)}
                for tweet in body.get("data") or []:
                    if isinstance(tweet, dict) and _ID.match(str(tweet.get("id") or "")):
                        results.append(self._public_post(tweet, users, media))
                meta = body.get("meta") if isinstance(body.get("meta"), dict) else {}
                token = meta.get("next_token")
                if len(results) >= limit or not token or not isinstance(token, str):
                    break
                params = {**params, "pagination_token": token[:200]}
        except _Unavailable as error:
            raise Unsupported(error.user_message, detail=error.detail, status=error.status) from None
        return results[:limit]

    def _public_post(self, tweet: dict, users: dict[str, dict], media: dict[str, dict]) -> NetworkPost:
        post = self._post(tweet, users)
        attachments = tweet.get("attachments") if isinstance(tweet.get("attachments"), dict) else {}
        keys = attachments.get("media_keys") if isinstance(attachments.get("media_keys"), list) else []
        kinds = tuple(_X_MEDIA_KIND.get(str(media.get(str(k), {}).get("type") or ""), "image") for k in keys)
        entities = tweet.get("entities") if isinstance(tweet.get("entities"), dict) else {}
        link = ""
        for entry in entities.get("urls") or []:
            if isinstance(entry, dict) and not entry.get("media_key"):
                link = safe_url(entry.get("expanded_url") or entry.get("url"))
                if link:
                    break
        metrics = tweet.get("public_metrics") if isinstance(tweet.get("public_metrics"), dict) else {}
        quotes = self._as_int(metrics.get("quote_count"))
        shares = post.shares if quotes is None or post.shares is None else post.shares + quotes
        return dataclasses.replace(post, media_kinds=kinds, link=link, shares=shares,
                                   views=self._as_int(metrics.get("impression_count")))

    # -- mapping -----------------------------------------------------------------------------------

    def _post(self, tweet: dict, users: dict[str, dict]) -> NetworkPost:
        author_id = str(tweet.get("author_id") or "")
        user = users.get(author_id, {})
        username = clean_text(str(user.get("username") or ""), 50)
        if username and not re.fullmatch(r"\w{1,50}", username):
            username = ""
        author = Author(
            external_id=author_id if _ID.match(author_id) else "",
            handle=f"@{username}" if username else "",
            display_name=plain_text(user.get("name"), 200),
            url=f"{WEB}/{username}" if username else "",
            avatar_url=safe_url(user.get("profile_image_url")),
            created_at=parse_time(user.get("created_at")),
            followers=self._as_int((user.get("public_metrics") or {}).get("followers_count")
                                   if isinstance(user.get("public_metrics"), dict) else None),
        )
        tweet_id = str(tweet["id"])
        replied = ""
        for ref in tweet.get("referenced_tweets") or []:
            if isinstance(ref, dict) and ref.get("type") == "replied_to" and _ID.match(str(ref.get("id") or "")):
                replied = str(ref["id"])
        metrics = tweet.get("public_metrics") if isinstance(tweet.get("public_metrics"), dict) else {}
        attachments = tweet.get("attachments") if isinstance(tweet.get("attachments"), dict) else {}
        keys = attachments.get("media_keys") if isinstance(attachments.get("media_keys"), list) else []
        raw = tweet.get("text") if isinstance(tweet.get("text"), str) else ""
        reply_user = str(tweet.get("in_reply_to_user_id") or "")
        return NetworkPost(
            external_id=tweet_id,
            author=author,
            text=plain_text(raw),
            created_at=parse_time(tweet.get("created_at")) or snowflake_time(tweet_id),
            url=f"{WEB}/{username}/status/{tweet_id}" if username else f"{WEB}/i/web/status/{tweet_id}",
            html=raw[:25_000],
            language=lang if isinstance(lang := tweet.get("lang"), str) and _LANG.fullmatch(lang) else "",
            visibility="public",
            in_reply_to=replied,
            in_reply_to_author=reply_user if _ID.match(reply_user) else "",
            media_count=len(keys),
            likes=self._as_int(metrics.get("like_count")),
            shares=self._as_int(metrics.get("retweet_count")),
            comments=self._as_int(metrics.get("reply_count")),
        )


def _history(tweet: dict) -> list[str]:
    """A post's ``edit_history_tweet_ids`` (oldest first), valid ids only."""
    ids = tweet.get("edit_history_tweet_ids") if isinstance(tweet.get("edit_history_tweet_ids"), list) else []
    return [str(i) for i in ids[:10] if _ID.match(str(i))]


def _newer(a: str, b: str) -> str:
    """The newer of two post ids (snowflakes: longer is newer, then by digits)."""
    if not a:
        return b
    if not b:
        return a
    return max(a, b, key=lambda v: (len(v), v))


def _load_cursor(cursor: str) -> dict[str, str]:
    if not cursor:
        return {}
    try:
        data = json.loads(cursor)
    except ValueError:
        return {}
    if not isinstance(data, dict):
        return {}
    return {k: data[k] for k in ("m", "r") if isinstance(data.get(k), str) and _ID.match(data[k])}
