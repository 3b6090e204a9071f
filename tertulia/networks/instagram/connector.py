"""Instagram professional accounts through the Instagram Graph API with Facebook Login.

The account (``SocialAccount``) is an Instagram business or creator account linked to a
Facebook Page: ``external_id`` is the IG user id, the access token is the linked Page's token
(from the Meta sign-in in ``networks/meta``), and ``options["page_id"]`` names the Page. Every
call goes to ``graph.facebook.com/<GRAPH_VERSION>`` through ``meta.graph.GraphConnector``, which
turns Graph's error codes into our error classes (190 -> AuthExpired, throttling -> RateLimited).

Publishing is Instagram's container flow (developers.facebook.com/docs/instagram-platform/
content-publishing):

1. the publishing quota, ``GET /{ig-user-id}/content_publishing_limit?fields=quota_usage,config``,
   is checked *before* anything is created: at ``quota_usage >= quota_total`` (25, and 50 in the
   2025 docs; we read the number from the answer) the post waits (``RateLimited``) until the
   oldest post of the rolling window is older than ``quota_duration``. Nothing half-done is left
   on Instagram;
2. ``POST /{ig-user-id}/media`` creates a container: ``image_url`` (JPEG, with ``alt_text``),
   ``media_type=REELS`` + ``video_url`` (every single video is a reel since July 2023), or a
   carousel: one child per item with ``is_carousel_item=true``, then a ``CAROUSEL`` container
   with ``children``. Instagram *downloads* the media, so each item needs a public address:
   the engine's signed, expiring link (``MediaItem.url``, ``content/public_media.py``), or the
   operator's own ``settings.META_MEDIA_URL_FOR(item)`` (a CDN) when set;
3. ``GET /{container-id}?fields=status_code,status`` is polled with a bounded wait:
   ``FINISHED`` -> publish; ``ERROR``/``EXPIRED`` -> ``Permanent`` with Instagram's status text;
   still ``IN_PROGRESS`` at the bound -> ``Retryable`` ("still processing"); the container is
   kept (see below) so the retry resumes it instead of creating a second post;
4. ``POST /{ig-user-id}/media_publish?creation_id=<container>`` publishes. A timeout here is
   ``Ambiguous`` (HttpClient): ``find_published`` then looks for the caption among the
   account's recent media.

Why a container store, and what it holds. A retry must never make a second post. Once
``media_publish`` has been called for a container, the container's ``status_code`` turns
``PUBLISHED`` and Instagram refuses to publish it again; a *new* container for the same post,
however, would publish happily. So the id of the container we created for a target is kept,
keyed by the target's idempotency ``marker`` (stable across retries) together with a
fingerprint of the caption and media (an edited post gets a new container), in a
``ContainerStore``:

- ``for_account`` (what the engine uses) gives the connector an ``AccountContainerStore``: the
  ids live in the account row's ``options["ig_containers"]`` (a JSON field, read-modify-write
  under ``select_for_update`` and only for that key), so a retry in another consumer process,
  or after a restart, finds the same container. Entries are dropped after 24 hours, when
  Instagram expires unpublished containers anyway;
- a connector built directly (tests, scripts) uses a ``MemoryContainerStore``.

On the next attempt the stored container is asked for its status first: ``IN_PROGRESS`` is
polled again, ``FINISHED`` is published, ``PUBLISHED`` means an earlier ``media_publish`` went
through (its answer was lost) and the media is looked up instead of published again,
``EXPIRED`` (never published, 24 h old) is forgotten and a new container made, ``ERROR`` is
``Permanent``.

What the API does not allow, plainly:

- deleting: the Instagram Graph API has no delete operation for published media (the IG Media
  reference lists reading and updating ``comment_enabled`` only), so ``delete`` raises
  ``Unsupported`` with a message telling the CM to delete it in the Instagram app;
- text-only posts, stories with a caption, visibility levels and content warnings;
- reading ``impressions`` for media created after 1 July 2024 (deprecated in v22.0, gone for
  every version since 21 April 2025): metrics ask ``views, reach, saved, shares, likes,
  comments, total_interactions``; a metric that Instagram refuses for a media (error 100, e.g.
  no ``shares`` on an album) is dropped and the rest asked again, so one refusal never costs
  the others.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import re
import time
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta, timezone
from typing import Any

from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy as _

from ..base import (
    Author,
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
from ..errors import Ambiguous, ConnectorError, Permanent, RateLimited, Retryable, Unsupported, fill
from ..http import clean_text, parse_time, safe_url
from ..meta.containers import AccountContainerStore, ContainerStore, MemoryContainerStore
from ..meta.graph import MSG_THROTTLED, GraphConnector, graph_codes, media_url_for_setting, object_gone
from ..ratelimit import RateRule

log = logging.getLogger(__name__)

MAX_CAPTION = 2200
MAX_HASHTAGS = 30
MAX_MENTIONS = 20
MAX_CAROUSEL = 10
IMAGE_LIMIT = 8 * 1024 * 1024  # JPEG, 8 MB
VIDEO_LIMIT = 1024 * 1024 * 1024  # reels: 1 GB (carousel videos: 100 MB, checked by Instagram)
IMAGE_TYPES = frozenset({"image/jpeg"})
VIDEO_TYPES = frozenset({"video/mp4", "video/quicktime"})
DEFAULT_QUOTA_WAIT = 3600.0
MEDIA_FIELDS = "id,caption,timestamp,permalink,media_type,media_product_type,username"
COMMENT_FIELDS = "id,text,timestamp,username,from,like_count,parent_id"
METRICS = ("views", "reach", "saved", "shares", "likes", "comments", "total_interactions")
THREAD_PAGES = 5  # pages of 50 comments read when one of our media is re-read
_ID = re.compile(r"^\d{1,30}$")

MSG_NEEDS_MEDIA = _("An Instagram post needs at least one image or video.")
MSG_TOO_LONG = _("Instagram captions hold at most %(limit)s characters; this one has %(length)s.")
MSG_HASHTAGS = _("Instagram accepts at most %(limit)s hashtags in a caption; this one has %(count)s.")
MSG_MENTIONS = _("Instagram accepts at most %(limit)s @mentions in a caption; this one has %(count)s.")
MSG_TOO_MANY_MEDIA = _("An Instagram carousel holds at most 10 images or videos.")
MSG_MEDIA_TYPE = _("Instagram takes JPEG images and MP4 or MOV videos. Convert the file and attach it again.")
MSG_MEDIA_SIZE = _("This file is larger than Instagram accepts (8 MB for an image, 1 GB for a video).")
MSG_NO_PUBLIC_URL = _("Instagram downloads images and videos from a public web address, and this Tertulia "
                      "server does not publish one for its media. Ask your administrator to set SITE_URL "
                      "to the server's public address.")
MSG_NOT_PUBLIC = _("Instagram posts are always public; choose public visibility for this account.")
MSG_NO_CW = _("Instagram has no content warnings. Remove the content warning for this account.")
MSG_NO_REPLY_POST = _("Instagram cannot publish a post as an answer to another one; use a comment instead.")
MSG_PROCESSING = _("Instagram is still processing the media of this post. We will check again shortly "
                   "and publish the same upload, without creating a second post.")
MSG_CONTAINER_FAILED = _("Instagram could not process the media of this post: %(status)s. Check the image or "
                         "video (format, size, aspect ratio) and try again.")
MSG_CONTAINER_EXPIRED = _("Instagram discarded the uploaded media because it was not published within 24 hours. "
                          "Retry the post to upload it again.")
MSG_QUOTA = _("Instagram allows %(total)s posts through its API every 24 hours and this account has used them "
              "all. We will publish this post in about %(minutes)s minutes, when the oldest of them is 24 "
              "hours old.")
MSG_DELETE = _("Instagram does not let apps delete posts. Delete it in the Instagram app; Tertulia will "
               "notice that it is gone.")
MSG_UNREADABLE = _("Instagram accepted the request but its answer could not be read. We will check the "
                   "account before trying again.")
MSG_PUBLISHED_NOT_LISTED = _("Instagram says this post was published, but it is not in the account's "
                             "list yet. We will check again before doing anything else.")
MSG_BAD_ID = _("That is not a valid Instagram id.")
MSG_HIDE_UNREADABLE = _("Meta did not confirm that the comment was hidden or shown. We will try again.")
MSG_MEDIA_UNREACHABLE = _("Instagram could not download the media from Tertulia (%(reason)s). Check that "
                          "this server is reachable from the internet at SITE_URL, then retry.")
MSG_NO_ACCOUNT = _("This Instagram account has no Instagram id. Reconnect it with the Meta sign-in.")


def _timestamp(value: Any) -> datetime | None:
    """Graph's times: ``2021-08-13T08:25:28+0000`` (no colon in the offset)."""
    if not isinstance(value, str):
        return None
    text = value.strip()
    if re.match(r".*[+-]\d{4}$", text):
        text = text[:-2] + ":" + text[-2:]
    return parse_time(text)


def _string(value: Any, limit: int = 2200) -> str:
    return clean_text(value if isinstance(value, str) else "", limit)


def _caption_key(text: str) -> str:
    return normalize_text(text)


class InstagramConnector(GraphConnector):
    network = "instagram"  # Network.INSTAGRAM
    can_hide = True  # POST /{ig-comment-id} hide
    supports_search = False
    supports_refresh = False  # a Page token from a long-lived user token does not expire; reconnect if revoked
    supports_first_comment = True
    # Documented: 400 containers per rolling 24 h per account. The publishing quota itself
    # (content_publishing_limit) is read from Instagram before every post.
    rate_rules = (RateRule("ig-containers-day", 400, 86400.0, methods=frozenset({"POST"}), path=r"/\d+/media$"),)

    def __init__(self, *, page_id: str = "", media_url_for: Callable[[MediaItem], str] | None = None,
                 container_store: ContainerStore | None = None, poll_interval: float = 3.0,
                 max_wait: float = 60.0, max_polls: int = 12, processing_retry_after: float = 60.0,
                 sleep: Callable[[float], None] = time.sleep, **kwargs):
        super().__init__(**kwargs)
        self.page_id = str(page_id or "")
        self.media_url_for = media_url_for
        self.container_store = container_store if container_store is not None else MemoryContainerStore()
        self.poll_interval = max(0.0, float(poll_interval))
        self.max_wait = max(0.0, float(max_wait))
        self.max_polls = max(1, int(max_polls))
        # Meta: "query a container's status once per minute, for no more than 5 minutes".
        self.processing_retry_after = max(0.0, float(processing_retry_after))
        self.sleep = sleep
        self._username: str | None = None

    @classmethod
    def for_account(cls, account, **kwargs) -> InstagramConnector:
        from django.conf import settings

        options = account.options if isinstance(account.options, dict) else {}
        kwargs.setdefault("page_id", str(options.get("page_id") or ""))
        kwargs.setdefault("media_url_for", media_url_for_setting())
        if account.pk is not None:
            kwargs.setdefault("container_store", AccountContainerStore(account.pk, "ig_containers"))
        # Optional: {"poll_interval": s, "max_wait": s, "max_polls": n, "processing_retry_after": s}.
        for key, value in (getattr(settings, "INSTAGRAM_CONTAINER_POLL", None) or {}).items():
            if key in ("poll_interval", "max_wait", "max_polls", "processing_retry_after"):
                kwargs.setdefault(key, value)
        return super().for_account(account, **kwargs)

    # -- helpers ---------------------------------------------------------------------------

    @property
    def ig_user_id(self) -> str:
        if not _ID.match(self.account_id or ""):
            raise Permanent(MSG_NO_ACCOUNT, detail=f"external_id {str(self.account_id)[:40]!r}")
        return self.account_id

    @staticmethod
    def _check_id(value: str) -> str:
        value = str(value or "")
        if not _ID.match(value):
            raise Permanent(MSG_BAD_ID, detail=f"id {value[:40]!r}")
        return value

    def _post(self, path: str, params: dict[str, Any]) -> dict[str, Any]:
        """A Graph write (form-encoded): its answer must carry an ``id``."""
        try:
            data = self._call("POST", path, data={k: str(v) for k, v in params.items()}).data
        except Permanent as exc:
            if graph_codes(exc)[0] == 9004 or graph_codes(exc)[1] == 2207052:
                # Instagram could not download a media file from the address we gave it.
                reason = exc.detail.split(" ", 2)[-1].rsplit(" fbtrace_id=", 1)[0][:200]
                raise Permanent(fill(MSG_MEDIA_UNREACHABLE, reason=reason), detail=exc.detail,
                                status=exc.status) from exc
            raise
        if not isinstance(data, dict) or not _ID.match(str(data.get("id") or "")):
            raise Ambiguous(MSG_UNREADABLE, detail=f"POST {path}: no id in {clean_text(str(data), 200)}")
        return data

    def username(self) -> str:
        if self._username is None:
            data = self._get(self.ig_user_id, fields="username")
            self._username = _string(data.get("username"), 60)
        return self._username

    # -- profile and limits ------------------------------------------------------------------

    def fetch_profile(self) -> Profile:
        data = self._get(self.ig_user_id, fields="id,username,name,biography,followers_count,follows_count,"
                                                 "media_count,profile_picture_url,website")
        username = _string(data.get("username"), 60)
        self._username = username
        fields = {}
        website = safe_url(data.get("website"), 500)
        if website:
            fields["website"] = website
        return Profile(
            external_id=_string(str(data.get("id") or self.ig_user_id), 40),
            handle=f"@{username}" if username else self.ig_user_id,
            display_name=_string(data.get("name"), 200),
            url=f"https://www.instagram.com/{username}/" if re.match(r"^[A-Za-z0-9._]{1,30}$", username) else "",
            avatar_url=safe_url(data.get("profile_picture_url"), 1000),
            bio=_string(data.get("biography"), 2000),
            followers=self._as_int(data.get("followers_count")),
            following=self._as_int(data.get("follows_count")),
            posts=self._as_int(data.get("media_count")),
            fields=fields,
        )

    def limits(self) -> Limits:
        return Limits(max_characters=MAX_CAPTION, counting="codepoints", max_media=MAX_CAROUSEL,
                      max_alt_text=None, image_size_limit=IMAGE_LIMIT, video_size_limit=VIDEO_LIMIT,
                      media_types=IMAGE_TYPES | VIDEO_TYPES, content_warnings=False,
                      visibilities=frozenset({Visibility.PUBLIC}), threads=False)

    # -- publishing --------------------------------------------------------------------------

    def _validate(self, payload: PostPayload) -> None:
        from tertulia.content.text_rules import instagram as rules

        text = payload.text or ""
        if payload.reply_to:
            raise Permanent(MSG_NO_REPLY_POST)
        if payload.visibility != Visibility.PUBLIC:
            raise Permanent(MSG_NOT_PUBLIC, detail=str(payload.visibility)[:40])
        if payload.content_warning:
            raise Permanent(MSG_NO_CW)
        if not payload.media:
            raise Permanent(MSG_NEEDS_MEDIA)
        if len(text) > MAX_CAPTION:
            raise Permanent(fill(MSG_TOO_LONG, limit=MAX_CAPTION, length=len(text)))
        tags, people = rules.hashtags(text), rules.mentions(text)
        if len(tags) > MAX_HASHTAGS:
            raise Permanent(fill(MSG_HASHTAGS, limit=MAX_HASHTAGS, count=len(tags)))
        if len(people) > MAX_MENTIONS:
            raise Permanent(fill(MSG_MENTIONS, limit=MAX_MENTIONS, count=len(people)))
        if len(payload.media) > MAX_CAROUSEL:
            raise Permanent(MSG_TOO_MANY_MEDIA)
        for item in payload.media:
            if item.mime_type not in IMAGE_TYPES | VIDEO_TYPES:
                raise Permanent(MSG_MEDIA_TYPE, detail=item.mime_type[:80])
            if item.size > (IMAGE_LIMIT if item.mime_type in IMAGE_TYPES else VIDEO_LIMIT):
                raise Permanent(MSG_MEDIA_SIZE, detail=f"{item.filename[:80]}: {item.size} bytes")
        if self.media_url_for is None and not all(getattr(item, "url", "") for item in payload.media):
            raise Permanent(MSG_NO_PUBLIC_URL, detail="a media item without a public url, and no media_url_for")

    @staticmethod
    def _fingerprint(payload: PostPayload) -> str:
        digest = hashlib.sha256(_caption_key(payload.text).encode())
        for item in payload.media:
            digest.update(f"\x1f{item.filename}\x1e{item.mime_type}\x1e{item.size}".encode())
        return digest.hexdigest()[:32]

    def _media_url(self, item: MediaItem) -> str:
        """The address Instagram downloads the item from: the operator's ``media_url_for`` (a
        CDN, say) when configured, else the engine's signed public link (``MediaItem.url``)."""
        try:
            url = self.media_url_for(item) if self.media_url_for else getattr(item, "url", "")
        except Exception as exc:  # noqa: BLE001 - the hook is the operator's; report, never crash the worker
            raise Permanent(MSG_NO_PUBLIC_URL, detail=f"media_url_for: {type(exc).__name__}: {exc}") from exc
        url = safe_url(url, 2000)
        if not url.startswith(("https://", "http://")):
            raise Permanent(MSG_NO_PUBLIC_URL, detail=f"media_url_for gave {str(url)[:100]!r}")
        return url

    def publish(self, payload: PostPayload) -> PublishedRef:
        self._validate(payload)
        fingerprint = self._fingerprint(payload)
        stored = self.container_store.get(payload.marker) if payload.marker else None
        container = str(stored["id"]) if stored and _ID.match(str(stored.get("id") or "")) else ""
        if container and stored.get("fp") != fingerprint:
            # The post was edited since: its old container is not this post, unless an earlier
            # attempt published it (answer lost), in which case the post is out, old words and all.
            if self._container_status(container)[0] == "PUBLISHED":
                raise Ambiguous(MSG_PUBLISHED_NOT_LISTED, detail=f"container {container} PUBLISHED before an edit")
            container = ""
        if container:
            try:
                status, text = self._container_status(container)
            except Permanent as exc:
                if graph_codes(exc)[0] != 100:
                    raise
                # Instagram no longer knows it (never published, cleaned up): start again.
                status, text = "EXPIRED", exc.detail[:200]
            if status == "PUBLISHED":
                # An earlier media_publish went through and its answer was lost.
                ref = self._find_media(payload, since=datetime.fromtimestamp(stored["at"], timezone.utc))
                if ref is None:
                    # Published, not listed yet: the engine asks find_published (which says
                    # "cannot tell" while the container is PUBLISHED) and never posts again.
                    raise Ambiguous(MSG_PUBLISHED_NOT_LISTED, detail=f"container {container} PUBLISHED")
                self._forget(payload)
                return ref
            if status == "EXPIRED":
                self._forget(payload)  # never published; a new upload is safe
                container = ""
            elif status == "ERROR":
                self._forget(payload)
                raise Permanent(fill(MSG_CONTAINER_FAILED, status=text or status), detail=f"container {container}: "
                                f"{status} {text}")
        # The quota first: never leave a half-made post behind a refusal.
        self._check_quota()
        if not container:
            container = self._create_container(payload)
            if payload.marker:
                self.container_store.put(payload.marker, container, fp=fingerprint)
        self._wait_until_finished(container, payload)
        try:
            data = self._post(f"{self.ig_user_id}/media_publish", {"creation_id": container})
        except Permanent as exc:
            # Refusals that are about timing, not about the post (the container is kept).
            if graph_codes(exc)[1] == 2207027 or graph_codes(exc)[0] == 9007:  # "Media ID is not available"
                raise Retryable(MSG_PROCESSING, retry_after=self.processing_retry_after, detail=exc.detail) from exc
            if graph_codes(exc)[1] == 2207042:  # the publishing limit, reached meanwhile
                self._check_quota()  # raises with Instagram's own figures and the real wait
                raise RateLimited(format_lazy(MSG_THROTTLED, minutes=60), retry_after=DEFAULT_QUOTA_WAIT,
                                  detail=exc.detail) from exc
            raise
        media_id = str(data["id"])
        self._forget(payload)
        return self._ref_for(media_id)

    def _forget(self, payload: PostPayload) -> None:
        if payload.marker:
            try:
                self.container_store.discard(payload.marker)
            except Exception:  # noqa: BLE001 - a leftover entry expires by itself within 24 h
                log.warning("instagram: could not forget the container of %s", payload.marker, exc_info=True)

    def _ref_for(self, media_id: str) -> PublishedRef:
        """The published media's link and time; the post is out even if this read fails."""
        try:
            data = self._get(media_id, fields="id,permalink,timestamp")
        except ConnectorError as exc:
            log.info("instagram: published %s but could not read its permalink: %s", media_id, exc.log_line())
            return PublishedRef(external_id=media_id)
        return PublishedRef(external_id=media_id, url=safe_url(data.get("permalink"), 500),
                            published_at=_timestamp(data.get("timestamp")))

    def _create_container(self, payload: PostPayload) -> str:
        ig = self.ig_user_id
        media = payload.media
        caption = payload.text or ""
        if len(media) == 1:
            item = media[0]
            if item.mime_type in IMAGE_TYPES:
                params: dict[str, Any] = {"image_url": self._media_url(item)}
                if item.alt_text:
                    params["alt_text"] = item.alt_text[:1000]
            else:
                params = {"media_type": "REELS", "video_url": self._media_url(item), "share_to_feed": "true"}
            if caption:
                params["caption"] = caption
            return str(self._post(f"{ig}/media", params)["id"])
        children = []
        for item in media:
            if item.mime_type in IMAGE_TYPES:
                params = {"image_url": self._media_url(item), "is_carousel_item": "true"}
            else:
                params = {"media_type": "VIDEO", "video_url": self._media_url(item), "is_carousel_item": "true"}
            children.append(str(self._post(f"{ig}/media", params)["id"]))
        # Videos in a carousel are processed one by one; the album waits for all of them.
        for child, item in zip(children, media):
            if item.mime_type not in IMAGE_TYPES:
                self._wait_until_finished(child, payload, child=True)
        params = {"media_type": "CAROUSEL", "children": ",".join(children)}
        if caption:
            params["caption"] = caption
        return str(self._post(f"{ig}/media", params)["id"])

    def _container_status(self, container: str) -> tuple[str, str]:
        data = self._get(container, fields="status_code,status")
        return _string(data.get("status_code"), 40).upper(), _string(data.get("status"), 300)

    def _wait_until_finished(self, container: str, payload: PostPayload, *, child: bool = False) -> None:
        deadline = time.monotonic() + self.max_wait
        delay = self.poll_interval
        polls = 0
        while True:
            status, text = self._container_status(container)
            polls += 1
            if status in ("FINISHED", "PUBLISHED"):
                return
            if status == "ERROR":
                self._forget(payload)
                raise Permanent(fill(MSG_CONTAINER_FAILED, status=text or status),
                                detail=f"container {container}: {status} {text}")
            if status == "EXPIRED":
                self._forget(payload)
                raise Permanent(MSG_CONTAINER_EXPIRED, detail=f"container {container}: {status} {text}")
            if polls >= self.max_polls or time.monotonic() + delay > deadline:
                # Kept in the store: the next attempt resumes this container.
                raise Retryable(MSG_PROCESSING, retry_after=self.processing_retry_after,
                                detail=f"container {container}{' (carousel item)' if child else ''}: "
                                       f"{status or 'no status'} {text}")
            self.sleep(delay)
            delay = min(delay * 2 if delay else 0.0, 30.0)

    # -- the publishing quota ----------------------------------------------------------------

    def _check_quota(self) -> None:
        data = self._get(f"{self.ig_user_id}/content_publishing_limit", fields="quota_usage,config")
        rows = data.get("data") if isinstance(data.get("data"), list) else []
        row = rows[0] if rows and isinstance(rows[0], dict) else {}
        usage = self._as_int(row.get("quota_usage"))
        config = row.get("config") if isinstance(row.get("config"), dict) else {}
        total = self._as_int(config.get("quota_total"))
        duration = self._as_int(config.get("quota_duration")) or 86400
        if usage is None or total is None or usage < total:
            return
        wait = self._quota_wait(total, duration)
        raise RateLimited(fill(MSG_QUOTA, total=total, minutes=max(1, int(round(wait / 60)))), retry_after=wait,
                          detail=f"content_publishing_limit quota_usage={usage} quota_total={total} "
                                 f"quota_duration={duration}")

    def _quota_wait(self, total: int, duration: int) -> float:
        """Until the oldest post of the rolling window leaves it (plus a minute), from the
        account's own media; an hour when that cannot be read."""
        now = datetime.now(timezone.utc)
        window = now - timedelta(seconds=duration)
        try:
            times = []
            for item in self._pages(f"{self.ig_user_id}/media", params={"fields": "id,timestamp", "limit": 50},
                                    max_pages=2):
                when = _timestamp(item.get("timestamp"))
                if when is None or when < window:
                    break
                times.append(when)
        except ConnectorError:
            return DEFAULT_QUOTA_WAIT
        recent = sorted(times, reverse=True)[:total]
        if len(recent) < total:
            # Posts made outside the API, or deleted ones, are not in this picture.
            return DEFAULT_QUOTA_WAIT
        oldest = recent[-1]
        return min(max((oldest + timedelta(seconds=duration) - now).total_seconds() + 60.0, 60.0), float(duration))

    # -- reconciliation ----------------------------------------------------------------------

    def find_published(self, payload: PostPayload, *, since: datetime) -> PublishedRef | None:
        if payload.reply_to:
            return self._find_comment(payload, since=since)
        stored = self.container_store.get(payload.marker) if payload.marker else None
        if stored and isinstance(stored.get("at"), (int, float)):
            since = min(since, datetime.fromtimestamp(stored["at"], timezone.utc))  # an earlier attempt's upload
        ref = self._find_media(payload, since=since)
        if ref is not None:
            # The container entry stays (it expires in 24 h): a publish with this marker
            # would see the container PUBLISHED and return this post, never a second one.
            return ref
        if stored and _ID.match(str(stored.get("id") or "")):
            status, _text = self._container_status(str(stored["id"]))
            if status == "PUBLISHED":
                # Published, not listed yet: "not there" would make the engine publish again.
                raise Retryable(MSG_PUBLISHED_NOT_LISTED, detail=f"container {stored['id']} PUBLISHED")
        return None

    def _find_media(self, payload: PostPayload, *, since: datetime) -> PublishedRef | None:
        wanted = _caption_key(payload.text)
        floor = since - timedelta(minutes=2)  # Instagram's clock and ours
        for item in self._pages(f"{self.ig_user_id}/media", params={"fields": MEDIA_FIELDS, "limit": 25},
                                max_pages=4):
            when = _timestamp(item.get("timestamp"))
            if when is not None and when < floor:
                return None  # newest first: everything after this is older
            if _caption_key(item.get("caption") if isinstance(item.get("caption"), str) else "") == wanted:
                media_id = str(item.get("id") or "")
                if _ID.match(media_id):
                    return PublishedRef(external_id=media_id, url=safe_url(item.get("permalink"), 500),
                                        published_at=when)
        return None

    def _find_comment(self, payload: PostPayload, *, since: datetime) -> PublishedRef | None:
        on = self._check_id(payload.reply_to)
        me = self.username()
        wanted = _caption_key(payload.text)
        floor = since - timedelta(minutes=2)
        for comment in self._comments(on, max_pages=5):
            for item in [comment, *self._replies_of(comment)]:
                when = _timestamp(item.get("timestamp"))
                if when is not None and when < floor:
                    continue
                if _string(item.get("username"), 60) == me and _caption_key(_string(item.get("text"))) == wanted:
                    return PublishedRef(external_id=str(item["id"]), published_at=when)
        return None

    # -- delete ------------------------------------------------------------------------------

    def delete(self, external_id: str) -> bool:
        raise Unsupported(MSG_DELETE, detail="the Instagram Graph API has no DELETE for IG Media")

    # -- comments, replies, mentions ---------------------------------------------------------

    def _comments(self, media_id: str, *, max_pages: int = 5):
        fields = f"{COMMENT_FIELDS},replies{{{COMMENT_FIELDS}}}"
        yield from self._pages(f"{media_id}/comments", params={"fields": fields, "limit": 50}, max_pages=max_pages)

    @staticmethod
    def _replies_of(comment: dict) -> list[dict]:
        replies = comment.get("replies") if isinstance(comment.get("replies"), dict) else {}
        return [r for r in replies.get("data") or [] if isinstance(r, dict)]

    def _author(self, item: dict) -> Author:
        sender = item.get("from") if isinstance(item.get("from"), dict) else {}
        username = _string(item.get("username") or sender.get("username"), 60)
        valid = bool(re.match(r"^[A-Za-z0-9._]{1,30}$", username))
        return Author(external_id=_string(str(sender.get("id") or ""), 40) if _ID.match(str(sender.get("id") or ""))
                      else "", handle=f"@{username}" if username else "", display_name=username,
                      url=f"https://www.instagram.com/{username}/" if valid else "")

    def _comment_post(self, item: dict, on_post: str, in_reply_to: str = "") -> NetworkPost:
        return NetworkPost(external_id=str(item.get("id")), author=self._author(item),
                           text=_string(item.get("text"), 2200), created_at=_timestamp(item.get("timestamp")),
                           in_reply_to=in_reply_to or on_post, likes=self._as_int(item.get("like_count")))

    def fetch_interactions(self, since: datetime | None = None, *, cursor: str = "",
                           thread_ids: Sequence[str] = ()) -> InteractionBatch:
        """Comments (and their replies) on the account's recent media and on ``thread_ids``, and
        the media that tag the account (mentions).

        Instagram has no deletion or edit signal for polling, and its ``comments`` webhook only
        announces new comments. The media in ``thread_ids`` are read whole: their comment ids
        go in ``threads`` (a stored comment missing there was deleted, by its author or by us)
        when every page (and every reply page) was read, and comments handed out before come
        back in ``revisions`` so that a changed text is recorded as an edit."""
        state = _decode_cursor(cursor)
        floor_c = max(filter(None, [since, _timestamp(state.get("c"))]), default=None)
        floor_m = max(filter(None, [since, _timestamp(state.get("m"))]), default=None)
        seen = set(state.get("seen") or [])
        me = self.username()
        items: list[Interaction] = []
        revisions: list[Interaction] = []
        complete: dict[str, frozenset[str]] = {}
        media_ids = [self._check_id(t) for t in thread_ids if _ID.match(str(t or ""))]
        for media_id in media_ids:
            fields = f"{COMMENT_FIELDS},replies{{{COMMENT_FIELDS}}}"
            try:
                comments, whole = self._read_all(f"{media_id}/comments", params={"fields": fields, "limit": 50},
                                                 max_pages=THREAD_PAGES)
            except Permanent as exc:
                if not object_gone(exc):
                    raise
                continue  # the media was deleted on Instagram: its comments stay as they were
            present = set()
            for comment in comments:
                replies = comment.get("replies") if isinstance(comment.get("replies"), dict) else {}
                if isinstance((replies.get("paging") or {}).get("next"), str):
                    whole = False  # more replies than the first page: not a complete read
                for item, parent in [(comment, ""), *((r, str(comment.get("id"))) for r in self._replies_of(comment))]:
                    cid = str(item.get("id") or "")
                    if not _ID.match(cid) or (me and _string(item.get("username"), 60) == me):
                        continue
                    present.add(cid)
                    when = _timestamp(item.get("timestamp"))
                    interaction = Interaction(kind=InteractionKind.COMMENT, on_post=media_id,
                                              post=self._comment_post(item, media_id, parent))
                    if cid in seen or (floor_c and when and when < floor_c):
                        revisions.append(interaction)
                    else:
                        items.append(interaction)
            if whole:
                complete[media_id] = frozenset(present)
        # And the account's recent media (posted on Instagram itself too), as before.
        reread, media_ids = set(media_ids), []
        for media in self._pages(f"{self.ig_user_id}/media",
                                 params={"fields": "id,timestamp,comments_count", "limit": 25}, max_pages=1):
            mid = str(media.get("id") or "")
            if _ID.match(mid) and mid not in reread and self._as_int(media.get("comments_count")) != 0:
                media_ids.append(mid)
        for media_id in media_ids:
            for comment in self._comments(media_id, max_pages=3):
                for item, parent in [(comment, ""), *((r, str(comment.get("id"))) for r in self._replies_of(comment))]:
                    cid = str(item.get("id") or "")
                    when = _timestamp(item.get("timestamp"))
                    if not _ID.match(cid) or cid in seen or (floor_c and when and when < floor_c):
                        continue
                    if me and _string(item.get("username"), 60) == me:
                        continue  # our own replies are not for the inbox
                    items.append(Interaction(kind=InteractionKind.COMMENT, on_post=media_id,
                                             post=self._comment_post(item, media_id, parent)))
        for media in self._pages(f"{self.ig_user_id}/tags",
                                 params={"fields": "id,caption,timestamp,permalink,username,media_type,"
                                                   "comments_count,like_count", "limit": 25}, max_pages=2):
            mid = str(media.get("id") or "")
            when = _timestamp(media.get("timestamp"))
            if not _ID.match(mid) or mid in seen or (floor_m and when and when < floor_m):
                continue
            post = NetworkPost(external_id=mid, author=self._author(media), text=_string(media.get("caption")),
                               created_at=when, url=safe_url(media.get("permalink"), 500), media_count=1,
                               likes=self._as_int(media.get("like_count")),
                               comments=self._as_int(media.get("comments_count")))
            items.append(Interaction(kind=InteractionKind.MENTION, post=post))
        epoch = datetime.min.replace(tzinfo=timezone.utc)
        items.sort(key=lambda i: (i.post.created_at or epoch, i.post.external_id))
        newest_c = max((i.post.created_at for i in items if i.kind == InteractionKind.COMMENT and i.post.created_at),
                       default=_timestamp(state.get("c")))
        newest_m = max((i.post.created_at for i in items if i.kind == InteractionKind.MENTION and i.post.created_at),
                       default=_timestamp(state.get("m")))
        # Ids at the newest second, so an item sharing that second is not shown twice.
        edge = [i.post.external_id for i in items if i.post.created_at in (newest_c, newest_m)]
        keep = (list(seen) + edge)[-200:]
        new_cursor = _encode_cursor({"c": newest_c.isoformat() if newest_c else "",
                                     "m": newest_m.isoformat() if newest_m else "", "seen": keep})
        return InteractionBatch(items=items, cursor=new_cursor, threads=complete, revisions=revisions)

    def hide_comment(self, external_id: str, hidden: bool) -> None:
        """``POST /{ig-comment-id}?hide=true|false`` (needs ``instagram_manage_comments``). Only
        comments on the account's own media can be hidden; Graph refuses the rest."""
        data = self._call("POST", self._check_id(external_id), data={"hide": "true" if hidden else "false"}).data
        if not isinstance(data, dict) or data.get("success") is not True:
            raise Retryable(MSG_HIDE_UNREADABLE,
                            detail=clean_text(json.dumps(data)[:200] if data is not None else "", 200))

    def reply(self, to_external_id: str, text: str, *, marker: str = "") -> PublishedRef:
        """A reply to a comment (``POST /{comment-id}/replies``) or a comment on a media
        (``POST /{media-id}/comments``, the first comment under our own post)."""
        target = self._check_id(to_external_id)
        text = text or ""
        if not text.strip():
            raise Permanent(_("A reply needs some text."))
        if len(text) > MAX_CAPTION:
            raise Permanent(fill(MSG_TOO_LONG, limit=MAX_CAPTION, length=len(text)))
        edge = "comments" if self._is_media(target) else "replies"
        data = self._post(f"{target}/{edge}", {"message": text})
        return PublishedRef(external_id=str(data["id"]), published_at=datetime.now(timezone.utc))

    def _is_media(self, object_id: str) -> bool:
        """Media and comments share the id space: ask which one this is (a read, harmless)."""
        try:
            data = self._get(object_id, fields="id,media_type")
        except Permanent as exc:
            if graph_codes(exc)[0] == 100:  # "nonexisting field (media_type) on node type (IGComment)"
                return False
            raise
        return bool(data.get("media_type"))

    # -- metrics -----------------------------------------------------------------------------

    def fetch_post_metrics(self, external_ids: Sequence[str]) -> dict[str, PostMetrics]:
        out: dict[str, PostMetrics] = {}
        for external_id in external_ids:
            media_id = str(external_id or "")
            if not _ID.match(media_id):
                continue
            try:
                media = self._get(media_id, fields="id,like_count,comments_count,media_type,media_product_type")
            except Permanent as exc:
                if graph_codes(exc) == (100, 33):
                    out[media_id] = PostMetrics(external_id=media_id, exists=False)  # deleted on Instagram
                    continue
                raise
            values = self._insights(media_id)
            video = str(media.get("media_type") or "") == "VIDEO" or media.get("media_product_type") == "REELS"
            likes = values.get("likes", self._as_int(media.get("like_count")))
            comments = values.get("comments", self._as_int(media.get("comments_count")))
            out[media_id] = PostMetrics(external_id=media_id, impressions=values.get("views"),
                                        reach=values.get("reach"),
                                        likes=likes, comments=comments, shares=values.get("shares"),
                                        saves=values.get("saved"), video_views=values.get("views") if video else None)
        return out

    def _insights(self, media_id: str) -> dict[str, int]:
        """The metrics Instagram gives for this media. A metric it refuses (error 100: deprecated,
        or not for this media type) is dropped and the rest asked again."""
        metrics = list(METRICS)
        for _round in range(len(METRICS)):
            if not metrics:
                return {}
            try:
                data = self._get(f"{media_id}/insights", metric=",".join(metrics))
            except Permanent as exc:
                if graph_codes(exc)[0] not in (10, 100):
                    raise
                if graph_codes(exc)[0] == 10:
                    return {}  # "(#10) Not enough viewers for the media to show insights"
                named = [m for m in metrics if re.search(rf"\b{re.escape(m)}\b", exc.detail)]
                # Not named: drop the last one and try again (one metric per round, bounded).
                for m in named or metrics[-1:]:
                    metrics.remove(m)
                log.info("instagram: insights for %s without %s: %s", media_id, named or "last", exc.detail[:200])
                continue
            values: dict[str, int] = {}
            for row in data.get("data") or []:
                if not isinstance(row, dict) or not isinstance(row.get("name"), str):
                    continue
                value = None
                total = row.get("total_value") if isinstance(row.get("total_value"), dict) else None
                if total is not None:
                    value = self._as_int(total.get("value"))
                rows = row.get("values") if isinstance(row.get("values"), list) else []
                if value is None and rows and isinstance(rows[-1], dict):
                    value = self._as_int(rows[-1].get("value"))
                if value is not None:
                    values[row["name"]] = value
            return values
        return {}


def _encode_cursor(state: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(state, separators=(",", ":")).encode()).decode()


def _decode_cursor(cursor: str) -> dict:
    if not cursor or len(cursor) > 20000:
        return {}
    try:
        state = json.loads(base64.urlsafe_b64decode(cursor.encode()).decode())
    except (ValueError, UnicodeDecodeError):
        return {}
    if not isinstance(state, dict):
        return {}
    seen = state.get("seen")
    state["seen"] = [s for s in seen if isinstance(s, str)] if isinstance(seen, list) else []
    for key in ("c", "m"):
        if not isinstance(state.get(key), str):
            state[key] = ""
    return state


__all__ = ["InstagramConnector"]
