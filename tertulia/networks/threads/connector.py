"""Threads (threads.com) through the Threads API at graph.threads.net (developers.facebook.com/docs/threads).

The Threads API is a Graph API of its own: its own host, its own version (``THREADS_VERSION`` in
``meta/graph.py``), its own Meta app id and its own tokens, but Graph's error shapes and codes,
so ``GraphConnector`` maps its errors (190 -> ``AuthExpired``, throttling -> ``RateLimited``…).

Publishing is the container flow, in two steps:

1. ``POST /{user-id}/threads`` creates a *container* (``media_type`` TEXT, IMAGE or VIDEO, the
   text, ``image_url``/``video_url``, ``alt_text``, ``reply_to_id``). A carousel is one child
   container per item (``is_carousel_item=true``), then a CAROUSEL container naming them in
   ``children``. Creating a container publishes nothing, so a timeout there is plainly
   retryable (never ``Ambiguous``).
2. ``POST /{user-id}/threads_publish?creation_id=…`` publishes it. Only this step can make a
   post, so only a failure here is ``Ambiguous`` (the engine then runs ``find_published``).

Media is fetched by Meta's servers from a public address: Threads has no upload endpoint. The
connector is given ``media_url_for(MediaItem) -> str`` (a public, https address for each file
of the post); without one, a post with media fails before any request with a plain message.

Containers with media are processed asynchronously: ``GET /{container-id}?fields=status,
error_message`` says IN_PROGRESS, FINISHED, ERROR, EXPIRED (not published within 24 hours) or
PUBLISHED. We poll it for at most ``container_wait`` seconds. A container still IN_PROGRESS
after that is ``Retryable``, and its id is kept in the account row's
``options["threads_containers"]`` (``meta/containers.py``, keyed by the post's marker, text and
files, for the 24 hours Meta keeps a container; in process memory for a connector built
without an account), so the retry, in whichever consumer process, polls *the same container* instead of
making Meta download and transcode the video again. Were the id lost, a new container would be
made: harmless, since an unpublished container is never shown and expires by itself. ERROR is ``Permanent``
with Meta's reason (FAILED_DOWNLOADING_VIDEO, INVALID_DURATION…) in words a CM can act on.

Quotas (checked before publishing, ``GET /{user-id}/threads_publishing_limit``): 250 posts and
1,000 replies per moving 24 hours, carousels counting as one post; 100 deletions a day.
Text: 500 characters (Meta counts an emoji as its UTF-8 bytes), at most 5 distinct links.
Media: JPEG/PNG up to 8 MB, MP4/MOV up to 1 GB and 5 minutes, 2-20 items in a carousel.

Tokens: a long-lived token lasts 60 days and is renewed with
``GET /refresh_access_token?grant_type=th_refresh_token`` (the token must be at least a day
old and not yet expired). Threads has no separate refresh token: the long-lived token is its
own refresh credential, so we store it in both places (``Credentials.refresh_token``), which is
what tells the scheduler that this account can be renewed.
"""

from __future__ import annotations

import json
import logging
import re
import threading
import time
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta, timezone
from typing import Any, ClassVar

from django.utils.translation import gettext_lazy as _

from tertulia.content.text_rules.threads import threads_length

from ..base import (
    Author,
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
from ..errors import Ambiguous, AuthExpired, ConnectorError, Permanent, RateLimited, Retryable, fill
from ..http import MSG_MALFORMED, clean_text, error_for_status, parse_time, safe_url
from ..meta.containers import AccountContainerStore, ContainerStore, MemoryContainerStore
from ..meta.graph import (THREADS_BASE_URL, THREADS_VERSION, GraphConnector, error_for_graph, graph_error,
                          media_url_for_setting)
from ..ratelimit import RateRule

log = logging.getLogger(__name__)

MAX_CHARACTERS = 500
MAX_LINKS = 5
MAX_CAROUSEL = 20
MAX_ALT_TEXT = 1000
IMAGE_LIMIT = 8 * 1024 * 1024
VIDEO_LIMIT = 1024 * 1024 * 1024
IMAGE_TYPES = frozenset({"image/jpeg", "image/png"})
VIDEO_TYPES = frozenset({"video/mp4", "video/quicktime"})
POSTS_PER_DAY = 250
REPLIES_PER_DAY = 1000
DELETES_PER_DAY = 100
QUOTA_RETRY = 3600.0  # the window moves: an hour later some of the day's posts have aged out
PROFILE_URL = "https://www.threads.com/@{username}"
POST_FIELDS = "id,text,timestamp,permalink,media_type,username,shortcode"
REPLY_FIELDS = ("id,text,timestamp,permalink,username,media_type,replied_to,root_post,"
                "is_reply_owned_by_me,hide_status,profile_picture_url")
METRICS = ("views", "likes", "replies", "reposts", "quotes", "shares")
INTERACTION_PAGES = 5
RECENT_POSTS = 25  # our latest posts whose replies we read when no thread ids are given
MAX_SEEN = 200

_ID = re.compile(r"^\d{1,40}$")
_USERNAME = re.compile(r"^[A-Za-z0-9._]{1,40}$")
_URL = re.compile(r"(?i)\b(?:https?://|www\.)[^\s<>\"']+|\b[a-z0-9-]+(?:\.[a-z0-9-]+)*\.[a-z]{2,24}/[^\s<>\"']*")

MSG_EMPTY = _("A Threads post needs some text or at least one image or video.")
MSG_TOO_LONG = _("Threads accepts at most %(limit)s characters (an emoji counts as several); this text has "
                 "%(length)s.")
MSG_TOO_MANY_LINKS = _("Threads accepts at most %(limit)s different links in a post; this one has %(count)s.")
MSG_TOO_MANY_MEDIA = _("A Threads carousel holds at most 20 images and videos.")
MSG_MEDIA_TYPE = _("Threads takes JPEG or PNG images and MP4 or MOV videos.")
MSG_IMAGE_SIZE = _("Threads accepts images of at most 8 MB.")
MSG_VIDEO_SIZE = _("Threads accepts videos of at most 1 GB.")
MSG_ALT_TOO_LONG = _("Threads accepts image descriptions (alt text) of at most 1,000 characters.")
MSG_NO_MEDIA_URL = _("Threads downloads images and videos from a public web address, and this Tertulia "
                     "has none set up for its media library. Ask your administrator to set the public "
                     "media address, or post without media.")
MSG_BAD_MEDIA_URL = _("Threads needs a public https address for each image or video; this file has none.")
MSG_VISIBILITY = _("A Threads post is public; Threads has no followers-only or private posts.")
MSG_CONTENT_WARNING = _("Threads has no content warnings. Remove the warning or put it in the text.")
MSG_QUOTA_POSTS = _("Threads allows %(limit)s posts a day through its API and this account has used them "
                    "all. We will try again in an hour.")
MSG_QUOTA_REPLIES = _("Threads allows %(limit)s replies a day through its API and this account has used them "
                      "all. We will try again in an hour.")
MSG_STILL_PROCESSING = _("Threads is still processing the images or video. We will check again shortly; "
                         "nothing will be uploaded twice.")
MSG_CONTAINER_FAILED = _("Threads could not use this media: %(reason)s")
MSG_CONTAINER_EXPIRED = _("Threads discarded the prepared post because it was not published within a day. "
                          "We will prepare it again.")
MSG_UNCONFIRMED = _("Threads did not confirm the post. We will check whether it went out before trying again.")
MSG_BAD_ID = _("That is not a Threads post id.")
MSG_NO_USER = _("Threads did not say which account this sign-in belongs to. Reconnect the account.")

# Meta's container error codes (troubleshooting guide), in words a CM can act on.
CONTAINER_ERRORS = {
    "FAILED_DOWNLOADING_VIDEO": _("Threads could not download the video from its public address."),
    "FAILED_PROCESSING_AUDIO": _("Threads could not process the video's sound; export it with AAC audio."),
    "FAILED_PROCESSING_VIDEO": _("Threads could not process the video; export it again as H.264 MP4."),
    "INVALID_ASPEC_RATIO": _("The video's proportions are outside what Threads accepts (up to 10:1)."),
    "INVALID_ASPECT_RATIO": _("The video's proportions are outside what Threads accepts (up to 10:1)."),
    "INVALID_BIT_RATE": _("The video's bit rate is too high for Threads (at most 25 Mbps)."),
    "INVALID_DURATION": _("The video is too long for Threads (at most 5 minutes)."),
    "INVALID_FRAME_RATE": _("The video's frame rate is outside what Threads accepts (23 to 60 frames a second)."),
    "INVALID_AUDIO_CHANNELS": _("The video's sound must be mono or stereo for Threads."),
    "INVALID_AUDIO_CHANNEL_LAYOUT": _("The video's sound must be mono or stereo for Threads."),
}

# httpx logs every URL at INFO, and Meta's token endpoints take the token and the app secret in
# the query string (as documented): redact them before any handler sees the record.
_SECRET_IN_URL = re.compile(r"((?:access_token|client_secret|code)=)[^&\s'\"]+")


class RedactThreadsSecrets(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 - a broken record is not ours to fix
            return True
        if "access_token=" in message or "client_secret=" in message or "code=" in message:
            record.msg, record.args = _SECRET_IN_URL.sub(r"\1<redacted>", message), ()
        return True


for _name in ("httpx", "httpcore"):
    if not any(isinstance(f, RedactThreadsSecrets) for f in logging.getLogger(_name).filters):
        logging.getLogger(_name).addFilter(RedactThreadsSecrets())


def links_in(text: str) -> set[str]:
    """The distinct links Threads counts in a text (scheme and trailing punctuation ignored)."""
    found = set()
    for match in _URL.finditer(text or ""):
        url = match.group(0).rstrip(".,;:!?)]}»”’")
        url = re.sub(r"(?i)^https?://", "", url)
        url = re.sub(r"(?i)^www\.", "", url).rstrip("/")
        if url:
            found.add(url.lower())
    return found


def _int(value: Any) -> int | None:
    return GraphConnector._as_int(value)


# Metrics Meta stopped serving (a deprecated name answers error 100 for the whole request):
# learnt once per process, then left out of every request.
_RETIRED_METRICS: set[str] = set()
_RETIRED_LOCK = threading.Lock()


class ThreadsConnector(GraphConnector):
    network = "threads"
    can_hide = True  # POST /{reply-id}/manage_reply hide
    version: ClassVar[str] = THREADS_VERSION
    default_base_url: ClassVar[str] = THREADS_BASE_URL
    supports_search = False  # keyword search exists but needs threads_keyword_search (app review)
    supports_refresh = True
    refresh_ahead = timedelta(days=7)  # 60-day tokens: renewed a week ahead, many tries left
    supports_first_comment = True  # a reply to our own post, published right after it
    # 100 deletions per account per day (Delete Posts, "Limitations"); posts and replies are
    # checked against Meta's own counters (threads_publishing_limit) before publishing.
    rate_rules = (RateRule("threads-deletes-day", DELETES_PER_DAY, 86400.0, methods=frozenset({"DELETE"})),)

    def __init__(self, *, media_url_for: Callable[[MediaItem], str] | None = None,
                 container_wait: float = 60.0, poll_interval: float = 5.0,
                 container_store: ContainerStore | None = None, **kwargs):
        super().__init__(**kwargs)
        self.media_url_for = media_url_for
        self.containers = container_store if container_store is not None else MemoryContainerStore()
        self.container_wait = container_wait
        self.poll_interval = poll_interval
        self.sleep = time.sleep

    @classmethod
    def for_account(cls, account, **kwargs) -> ThreadsConnector:
        """The engine's connector: pending containers kept in the account row, and the public
        media address from ``settings.META_MEDIA_URL_FOR`` when the operator set one (else each
        item's own ``url``, the engine's signed link)."""
        from django.conf import settings

        kwargs.setdefault("media_url_for", media_url_for_setting())
        # How long one attempt waits for Meta to process media, and how often it looks.
        kwargs.setdefault("container_wait", float(getattr(settings, "THREADS_CONTAINER_WAIT", 60.0)))
        kwargs.setdefault("poll_interval", float(getattr(settings, "THREADS_POLL_INTERVAL", 5.0)))
        if account.pk is not None:
            kwargs.setdefault("container_store", AccountContainerStore(account.pk, "threads_containers"))
        return super().for_account(account, **kwargs)

    # -- identity ------------------------------------------------------------------------

    def _user_id(self) -> str:
        if self.account_id and _ID.match(self.account_id):
            return self.account_id
        data = self._get("me", fields="id")
        user_id = str(data.get("id") or "")
        if not _ID.match(user_id):
            raise AuthExpired(MSG_NO_USER, detail="/me without an id")
        self.account_id = user_id
        return user_id

    # -- raw calls (token endpoints are not versioned) -----------------------------------

    def _token_call(self, path: str, params: dict[str, str]) -> dict[str, Any]:
        response = self.http.request("GET", path, params=params, auth=False,
                                     accept=(400, 401, 403, 404, 429, 500, 503))
        if response.status >= 400 or graph_error(response.data):
            error = (error_for_graph("GET", response.status, response.data, response.headers)
                     or error_for_status("GET", response.status, response.headers, response.data, response.text))
            if error is not None:
                raise error
        return response.data if isinstance(response.data, dict) else {}

    # -- publishing ----------------------------------------------------------------------

    def _check(self, payload: PostPayload) -> None:
        if not payload.text.strip() and not payload.media:
            raise Permanent(MSG_EMPTY)
        if payload.visibility != Visibility.PUBLIC:
            raise Permanent(MSG_VISIBILITY, detail=f"visibility {payload.visibility}")
        if payload.content_warning.strip():
            raise Permanent(MSG_CONTENT_WARNING)
        length = threads_length(payload.text)
        if length > MAX_CHARACTERS:
            raise Permanent(fill(MSG_TOO_LONG, limit=MAX_CHARACTERS, length=length))
        links = links_in(payload.text)
        if len(links) > MAX_LINKS:
            raise Permanent(fill(MSG_TOO_MANY_LINKS, limit=MAX_LINKS, count=len(links)))
        if len(payload.media) > MAX_CAROUSEL:
            raise Permanent(MSG_TOO_MANY_MEDIA, detail=f"{len(payload.media)} items")
        for item in payload.media:
            if item.mime_type in IMAGE_TYPES:
                if item.size > IMAGE_LIMIT:
                    raise Permanent(MSG_IMAGE_SIZE, detail=f"{item.filename}: {item.size} bytes")
            elif item.mime_type in VIDEO_TYPES:
                if item.size > VIDEO_LIMIT:
                    raise Permanent(MSG_VIDEO_SIZE, detail=f"{item.filename}: {item.size} bytes")
            else:
                raise Permanent(MSG_MEDIA_TYPE, detail=f"{item.filename}: {item.mime_type}")
            if len(item.alt_text or "") > MAX_ALT_TEXT:
                raise Permanent(MSG_ALT_TOO_LONG)
        if not all(self._has_address(item) for item in payload.media):
            raise Permanent(MSG_NO_MEDIA_URL, detail="no media_url_for given to the connector")

    def _has_address(self, item: MediaItem) -> bool:
        return self.media_url_for is not None or bool(item.url)

    def _media_url(self, item: MediaItem) -> str:
        """The https address Meta downloads the file from: ``media_url_for(item)``, or the
        item's own ``url`` (the engine's signed link to Tertulia's copy)."""
        try:
            url = self.media_url_for(item) if self.media_url_for else item.url
        except (OSError, ValueError) as exc:
            raise Permanent(MSG_BAD_MEDIA_URL, detail=f"{item.filename}: {exc}") from exc
        url = safe_url(url, 2000)
        if not url:
            raise Permanent(MSG_BAD_MEDIA_URL, detail=f"{item.filename}: no public URL")
        return url

    def _check_quota(self, user_id: str, *, reply: bool) -> None:
        fields = "reply_quota_usage,reply_config" if reply else "quota_usage,config"
        data = self._get(f"{user_id}/threads_publishing_limit", fields=fields)
        rows = data.get("data") if isinstance(data.get("data"), list) else []
        row = rows[0] if rows and isinstance(rows[0], dict) else {}
        usage = _int(row.get("reply_quota_usage" if reply else "quota_usage"))
        config = row.get("reply_config" if reply else "config")
        total = _int(config.get("quota_total")) if isinstance(config, dict) else None
        total = total or (REPLIES_PER_DAY if reply else POSTS_PER_DAY)
        if usage is not None and usage >= total:
            message = fill(MSG_QUOTA_REPLIES if reply else MSG_QUOTA_POSTS, limit=total)
            raise RateLimited(message, retry_after=QUOTA_RETRY, detail=f"threads_publishing_limit {usage}/{total}")

    def _create(self, user_id: str, params: dict[str, Any]) -> str:
        """One container. Nothing is published yet, so an unanswered request is retryable."""
        form = {k: ("true" if v is True else str(v)) for k, v in params.items() if v not in (None, "")}
        try:
            data = self._call("POST", f"{user_id}/threads", data=form).data
        except Ambiguous as exc:
            raise Retryable(exc.user_message, detail=f"container: {exc.detail}", status=exc.status) from exc
        container_id = str(data.get("id") or "") if isinstance(data, dict) else ""
        if not _ID.match(container_id):
            raise Retryable(MSG_MALFORMED, detail=f"container answer without an id: {str(data)[:200]}")
        return container_id

    def _media_params(self, item: MediaItem, *, carousel: bool) -> dict[str, Any]:
        video = item.mime_type in VIDEO_TYPES
        params: dict[str, Any] = {"media_type": "VIDEO" if video else "IMAGE",
                                  "video_url" if video else "image_url": self._media_url(item)}
        if item.alt_text:
            params["alt_text"] = item.alt_text
        if carousel:
            params["is_carousel_item"] = True
        return params

    def _status(self, container_id: str) -> tuple[str, str]:
        data = self._get(container_id, fields="status,error_message")
        return (clean_text(str(data.get("status") or ""), 40).upper(),
                clean_text(str(data.get("error_message") or ""), 200))

    def _wait_ready(self, container_id: str) -> str:
        """Poll until FINISHED (returned), within ``container_wait``. Raises on ERROR/EXPIRED,
        and ``Retryable`` when Meta is still processing (the caller keeps the container)."""
        deadline = time.monotonic() + self.container_wait
        while True:
            status, reason = self._status(container_id)
            if status in ("FINISHED", "PUBLISHED"):
                return status
            if status == "ERROR":
                words = CONTAINER_ERRORS.get(reason.upper()) or reason or "UNKNOWN"
                raise Permanent(fill(MSG_CONTAINER_FAILED, reason=words),
                                detail=f"container {container_id} ERROR {reason}")
            if status == "EXPIRED":
                raise Retryable(MSG_CONTAINER_EXPIRED, detail=f"container {container_id} EXPIRED")
            if time.monotonic() + self.poll_interval > deadline:
                raise Retryable(MSG_STILL_PROCESSING, retry_after=min(30.0, max(self.container_wait, 0.1)),
                                detail=f"container {container_id} {status or 'no status'} after "
                                       f"{self.container_wait:g}s")
            self.sleep(self.poll_interval)

    def _prepare(self, user_id: str, payload: PostPayload, key: str) -> str:
        """The container to publish for this payload (children first for a carousel; they are
        kept like the carousel itself, so a retry after "still processing" reuses them)."""
        base: dict[str, Any] = {"text": payload.text or None}
        if payload.reply_to:
            base["reply_to_id"] = payload.reply_to
        if not payload.media:
            return self._create(user_id, {"media_type": "TEXT", **base})
        if len(payload.media) == 1:
            return self._create(user_id, {**self._media_params(payload.media[0], carousel=False), **base})
        kept = ((self.containers.get(key + "#children") or {}).get("id") or "").split(",")
        children = kept if len(kept) == len(payload.media) and all(_ID.match(c) for c in kept) else []
        if children and any(self._status(c)[0] not in ("FINISHED", "IN_PROGRESS") for c in children):
            children = []  # one failed or expired: prepare them all again
        if not children:
            children = [self._create(user_id, self._media_params(item, carousel=True)) for item in payload.media]
            self.containers.put(key + "#children", ",".join(children))
        for child in children:
            self._wait_ready(child)
        return self._create(user_id, {"media_type": "CAROUSEL", "children": ",".join(children), **base})

    def _pending_key(self, payload: PostPayload) -> str:
        media = "|".join(f"{m.filename}:{m.size}" for m in payload.media)
        return f"{payload.marker or payload.content_hash()}#{payload.content_hash()}#{media}"

    def publish(self, payload: PostPayload) -> PublishedRef:
        self._check(payload)
        if payload.reply_to and not _ID.match(payload.reply_to):
            raise Permanent(MSG_BAD_ID, detail=f"reply_to {payload.reply_to[:60]!r}")
        user_id = self._user_id()
        self._check_quota(user_id, reply=bool(payload.reply_to))
        key = self._pending_key(payload)
        container_id = (self.containers.get(key) or {}).get("id")
        if container_id is not None:
            status, _reason = self._status(container_id)
            if status == "PUBLISHED":
                # An earlier attempt published it and lost the answer: look it up, never re-post.
                # The entry stays until find_published finds the post, so no later attempt makes
                # a new container for it.
                raise Ambiguous(MSG_UNCONFIRMED, detail=f"container {container_id} already PUBLISHED")
            if status in ("ERROR", "EXPIRED", ""):
                self.containers.discard(key)
                container_id = None
        if container_id is None:
            container_id = self._prepare(user_id, payload, key)
            self.containers.put(key, container_id)
        if payload.media:
            try:
                if self._wait_ready(container_id) == "PUBLISHED":
                    raise Ambiguous(MSG_UNCONFIRMED, detail=f"container {container_id} already PUBLISHED")
            except Permanent:
                self.containers.discard(key)
                self.containers.discard(key + "#children")
                raise
        # The one request that makes a post: a lost answer here is Ambiguous (HttpClient).
        data = self._call("POST", f"{user_id}/threads_publish", data={"creation_id": container_id}).data
        media_id = str(data.get("id") or "") if isinstance(data, dict) else ""
        if not _ID.match(media_id):
            raise Ambiguous(MSG_UNCONFIRMED, detail=f"threads_publish answer without an id: {str(data)[:200]}")
        self.containers.discard(key)
        self.containers.discard(key + "#children")
        return self._ref(media_id)

    def _ref(self, media_id: str) -> PublishedRef:
        """The published post's link and time. The post exists already: a failure to read them
        must never turn into an error (the engine would retry and post twice)."""
        try:
            data = self._get(media_id, fields="id,permalink,timestamp")
        except ConnectorError as exc:
            log.info("threads: published %s but could not read its link: %s", media_id, exc.log_line())
            return PublishedRef(external_id=media_id)
        return PublishedRef(external_id=media_id, url=safe_url(data.get("permalink"), 500),
                            published_at=parse_time(data.get("timestamp")))

    def reply(self, to_external_id: str, text: str, *, marker: str = "") -> PublishedRef:
        if not _ID.match(to_external_id or ""):
            raise Permanent(MSG_BAD_ID, detail=f"reply_to {str(to_external_id)[:60]!r}")
        return self.publish(PostPayload(text=text, reply_to=to_external_id, marker=marker))

    def hide_comment(self, external_id: str, hidden: bool) -> None:
        """``POST /{reply-id}/manage_reply?hide=true|false`` (needs ``threads_manage_replies``):
        only replies under the account's own posts can be hidden."""
        if not _ID.match(external_id or ""):
            raise Permanent(MSG_BAD_ID, detail=f"id {str(external_id)[:60]!r}")
        data = self._call("POST", f"{external_id}/manage_reply", data={"hide": "true" if hidden else "false"}).data
        if not isinstance(data, dict) or data.get("success") is not True:
            raise Retryable(MSG_MALFORMED, detail=clean_text(json.dumps(data)[:200] if data is not None else "", 200))

    # -- deleting ------------------------------------------------------------------------

    def delete(self, external_id: str) -> bool:
        if not _ID.match(external_id or ""):
            raise Permanent(MSG_BAD_ID, detail=f"id {str(external_id)[:60]!r}")
        try:
            data = self._call("DELETE", external_id).data
        except Permanent as exc:
            if _gone(exc):
                return False
            raise
        return bool(isinstance(data, dict) and (data.get("success") is True or data.get("deleted_id")))

    # -- reconciliation ------------------------------------------------------------------

    def find_published(self, payload: PostPayload, *, since: datetime) -> PublishedRef | None:
        """Our post among the account's recent ones. When a container we made for this payload
        says PUBLISHED, the post exists whatever the listing shows: the search goes back to
        when the container was made (an earlier attempt may have published it), and a post
        not listed yet is an error ("cannot tell"), never None (which would let the engine
        post again)."""
        key = self._pending_key(payload)
        entry = self.containers.get(key)
        if entry is not None:
            since = min(since, datetime.fromtimestamp(entry["at"], timezone.utc))
        found = self._find_listed(payload, since)
        if found is not None:
            self.containers.discard(key)
            self.containers.discard(key + "#children")
            return found
        if entry is not None and self._status(entry["id"])[0] == "PUBLISHED":
            raise Retryable(MSG_UNCONFIRMED, detail=f"container {entry['id']} PUBLISHED, post not listed yet")
        return None

    def _find_listed(self, payload: PostPayload, since: datetime) -> PublishedRef | None:
        user_id = self._user_id()
        edge = "replies" if payload.reply_to else "threads"
        # The account's own replies (GET /{user}/replies) have no hide_status: ask for the basics.
        fields = "id,text,timestamp,permalink,media_type,replied_to" if payload.reply_to else POST_FIELDS
        start = int((since - timedelta(minutes=2)).timestamp())
        wanted = normalize_text(payload.text)
        for item in self._pages(f"{user_id}/{edge}", params={"fields": fields, "since": start, "limit": 50},
                                max_pages=4):
            created = parse_time(item.get("timestamp"))
            if created is not None and created < since - timedelta(minutes=2):
                continue
            if payload.reply_to:
                replied = item.get("replied_to") if isinstance(item.get("replied_to"), dict) else {}
                if str(replied.get("id") or "") != payload.reply_to:
                    continue
            text = item.get("text") if isinstance(item.get("text"), str) else ""
            if normalize_text(text) != wanted:
                continue
            if not wanted and payload.media:
                kind = str(item.get("media_type") or "").upper()
                expected = ("CAROUSEL_ALBUM" if len(payload.media) > 1 else
                            "VIDEO" if payload.media[0].mime_type in VIDEO_TYPES else "IMAGE")
                if kind and kind != expected:
                    continue
            media_id = str(item.get("id") or "")
            if _ID.match(media_id):
                return PublishedRef(external_id=media_id, url=safe_url(item.get("permalink"), 500),
                                    published_at=created)
        return None

    # -- reading -------------------------------------------------------------------------

    def fetch_profile(self) -> Profile:
        data = self._get("me", fields="id,username,name,threads_profile_picture_url,threads_biography")
        user_id = str(data.get("id") or "")
        if not _ID.match(user_id):
            raise Retryable(MSG_MALFORMED, detail="/me without an id")
        self.account_id = user_id
        username = clean_text(str(data.get("username") or ""), 60)
        if not _USERNAME.match(username):
            username = user_id
        followers = None
        try:
            insights = self._get(f"{user_id}/threads_insights", metric="followers_count")
            followers = _metric_values(insights).get("followers_count")
        except (Permanent, Retryable) as exc:
            # Without threads_manage_insights (or while Meta is busy) the profile still reads.
            log.info("threads: followers not available: %s", exc.log_line())
        return Profile(external_id=user_id, handle=username,
                       display_name=clean_text(str(data.get("name") or ""), 200),
                       url=PROFILE_URL.format(username=username) if username != user_id else "",
                       avatar_url=safe_url(data.get("threads_profile_picture_url")),
                       bio=clean_text(str(data.get("threads_biography") or ""), 1000),
                       followers=followers)

    def fetch_post_metrics(self, external_ids: Sequence[str]) -> dict[str, PostMetrics]:
        out: dict[str, PostMetrics] = {}
        for external_id in external_ids:
            if not _ID.match(str(external_id or "")):
                continue
            try:
                values = self._insights(str(external_id))
            except Permanent as exc:
                if _gone(exc):
                    out[external_id] = PostMetrics(external_id=external_id, exists=False)
                    continue
                raise
            shared = [values[k] for k in ("reposts", "quotes", "shares") if values.get(k) is not None]
            out[external_id] = PostMetrics(external_id=external_id, impressions=values.get("views"),
                                           likes=values.get("likes"), comments=values.get("replies"),
                                           shares=sum(shared) if shared else None)
        return out

    def _insights(self, media_id: str) -> dict[str, int | None]:
        with _RETIRED_LOCK:
            metrics = [m for m in METRICS if m not in _RETIRED_METRICS]
        try:
            return _metric_values(self._get(f"{media_id}/insights", metric=",".join(metrics)))
        except Permanent as exc:
            if _gone(exc) or "metric" not in exc.detail.lower():
                raise
            log.info("threads: insights refused a metric, asking one by one: %s", exc.log_line())
        # One metric was refused (deprecated or renamed): ask for each alone, keep the rest.
        values: dict[str, int | None] = {}
        for metric in metrics:
            try:
                values.update(_metric_values(self._get(f"{media_id}/insights", metric=metric)))
            except Permanent as exc:
                if _gone(exc):
                    raise
                with _RETIRED_LOCK:
                    _RETIRED_METRICS.add(metric)
                log.warning("threads: insights metric %r refused, no longer asked: %s", metric, exc.log_line())
        return values

    def fetch_interactions(self, since: datetime | None = None, *, cursor: str = "",
                           thread_ids: Sequence[str] = ()) -> InteractionBatch:
        state = _load_cursor(cursor)
        after = parse_time(state.get("after")) or since
        seen = set(state.get("seen") or [])
        user_id = self._user_id()
        posts = [t for t in thread_ids if _ID.match(str(t))]
        # Our recent posts too (written on Threads itself), besides the ones we were given.
        params: dict[str, Any] = {"fields": "id,timestamp", "limit": RECENT_POSTS}
        for item in self._pages(f"{user_id}/threads", params=params, max_pages=1):
            if _ID.match(str(item.get("id") or "")) and str(item["id"]) not in posts:
                posts.append(str(item["id"]))
        found: list[Interaction] = []
        complete: dict[str, frozenset[str]] = {}
        # Threads has no deletion feed and does not say when a reply was edited. Each post is
        # read whole (``/conversation``: every reply at any depth), so when it was read to the
        # end a stored reply missing from it was deleted (``threads``); one handed out before
        # comes back in ``revisions`` for the inbox to compare its text.
        for post_id in posts:
            try:
                items, whole = self._read_all(f"{post_id}/conversation", max_pages=INTERACTION_PAGES,
                                              params={"fields": REPLY_FIELDS, "reverse": "false", "limit": 100})
            except Permanent as exc:
                if not _gone(exc):
                    raise
                continue
            present = set()
            for item in items:
                if item.get("is_reply_owned_by_me") is True:
                    continue  # our own answers are not inbox items
                post = self._network_post(item)
                if post is not None:
                    present.add(post.external_id)
                    found.append(Interaction(kind=InteractionKind.COMMENT, post=post, on_post=post_id))
            if whole and post_id in thread_ids:
                complete[post_id] = frozenset(present)
        found += self._mentions(user_id, after)
        fresh, revisions = [], {}
        for interaction in found:
            created = interaction.post.created_at
            old = (interaction.post.external_id in seen or (after is not None and created is not None
                                                             and created < after))
            if old and interaction.on_post in complete:
                revisions[interaction.post.external_id] = interaction
                continue
            if old or (after is not None and created is None):
                continue
            fresh.append(interaction)
        unique = {i.post.external_id: i for i in fresh}
        items = sorted(unique.values(), key=lambda i: (i.post.created_at or datetime.min.replace(tzinfo=timezone.utc),
                                                       i.post.external_id))
        newest = max((i.post.created_at for i in items if i.post.created_at), default=after)
        if newest is not None and newest != after:
            seen = set()
        seen |= {i.post.external_id for i in items if i.post.created_at == newest}
        next_cursor = json.dumps({"after": newest.isoformat() if newest else "", "seen": sorted(seen)[-MAX_SEEN:]})
        return InteractionBatch(items=items, cursor=next_cursor, threads=complete,
                                revisions=[r for k, r in revisions.items() if k not in unique])

    def _mentions(self, user_id: str, after: datetime | None) -> list[Interaction]:
        """Public posts that tag the account (``threads_manage_mentions``). Without that
        permission the comments still come in; mentions are simply not read."""
        params: dict[str, Any] = {"fields": "id,text,timestamp,permalink,username,media_type,replied_to"}
        if after is not None:
            params["since"] = max(1688540400, int(after.timestamp()) - 60)  # Meta's earliest allowed value
        out = []
        try:
            for item in self._pages(f"{user_id}/mentions", params=params, max_pages=INTERACTION_PAGES):
                post = self._network_post(item)
                if post is not None:
                    out.append(Interaction(kind=InteractionKind.MENTION, post=post))
        except Permanent as exc:
            log.info("threads: mentions not available for this account: %s", exc.log_line())
        return out

    def _network_post(self, item: dict[str, Any]) -> NetworkPost | None:
        media_id = str(item.get("id") or "")
        if not _ID.match(media_id):
            return None
        username = clean_text(str(item.get("username") or ""), 60)
        if not _USERNAME.match(username):
            username = ""
        replied = item.get("replied_to") if isinstance(item.get("replied_to"), dict) else {}
        text = item.get("text") if isinstance(item.get("text"), str) else ""
        author = Author(external_id=username, handle=username,
                        url=PROFILE_URL.format(username=username) if username else "",
                        avatar_url=safe_url(item.get("profile_picture_url")))
        in_reply_to = str(replied.get("id") or "")
        return NetworkPost(external_id=media_id, author=author, text=clean_text(text, 10_000),
                           created_at=parse_time(item.get("timestamp")), url=safe_url(item.get("permalink"), 500),
                           in_reply_to=in_reply_to if _ID.match(in_reply_to) else "",
                           media_count=1 if str(item.get("media_type") or "").upper() in ("IMAGE", "VIDEO") else 0)

    def limits(self) -> Limits:
        return Limits(max_characters=MAX_CHARACTERS, counting="threads", max_media=MAX_CAROUSEL,
                      max_alt_text=MAX_ALT_TEXT, image_size_limit=IMAGE_LIMIT, video_size_limit=VIDEO_LIMIT,
                      media_types=IMAGE_TYPES | VIDEO_TYPES, content_warnings=False,
                      visibilities=frozenset({Visibility.PUBLIC}), threads=True)

    # -- tokens --------------------------------------------------------------------------

    def refresh_credentials(self) -> Credentials:
        """Renew the long-lived token (60 more days). Meta answers 190 for a token that
        expired or was revoked: ``AuthExpired``, the account needs reconnecting."""
        token = self.credentials.refresh_token or self.credentials.access_token
        if not token:
            raise AuthExpired(MSG_NO_USER, detail="no token to refresh")
        data = self._token_call("/refresh_access_token", {"grant_type": "th_refresh_token", "access_token": token})
        credentials = credentials_from(data, previous=self.credentials)
        self._credentials_changed(credentials)
        return credentials


def credentials_from(data: dict[str, Any], *, previous: Credentials | None = None) -> Credentials:
    """Credentials from a Threads token answer (``access_token``, ``expires_in`` seconds)."""
    token = data.get("access_token") if isinstance(data.get("access_token"), str) else ""
    if not token:
        raise Retryable(MSG_MALFORMED, detail="token answer without access_token")
    seconds = _int(data.get("expires_in"))
    expires_at = datetime.now(timezone.utc) + timedelta(seconds=seconds) if seconds and seconds > 0 else None
    scope = previous.scope if previous is not None else ""
    # The long-lived token is its own refresh credential (see the module's docstring).
    return Credentials(access_token=token, refresh_token=token, expires_at=expires_at, scope=scope,
                       token_type="Bearer")  # nosec B106 # not a password: an OAuth token_type or an empty filter value


def _metric_values(data: dict[str, Any]) -> dict[str, int | None]:
    """``{"data": [{"name", "values": [{"value"}]} | {"name", "total_value": {"value"}}]}``."""
    out: dict[str, int | None] = {}
    for row in data.get("data") or []:
        if not isinstance(row, dict) or not isinstance(row.get("name"), str):
            continue
        value = None
        total = row.get("total_value")
        if isinstance(total, dict):
            value = _int(total.get("value"))
        values = row.get("values")
        if value is None and isinstance(values, list) and values and isinstance(values[-1], dict):
            value = _int(values[-1].get("value"))
        out[row["name"]] = value if value is None or value >= 0 else None
    return out


def _gone(exc: ConnectorError) -> bool:
    """Graph's "object does not exist" (code 100, subcode 33) or a plain 404."""
    detail = exc.detail or ""
    return exc.status == 404 or "subcode=33 " in detail or "does not exist" in detail.lower()


def _load_cursor(cursor: str) -> dict[str, Any]:
    try:
        data = json.loads(cursor) if cursor else {}
    except ValueError:
        return {}
    if not isinstance(data, dict):
        return {}
    seen = data.get("seen")
    data["seen"] = [str(s) for s in seen if isinstance(s, (str, int))][:MAX_SEEN] if isinstance(seen, list) else []
    return data
