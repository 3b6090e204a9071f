"""Facebook Pages through the Graph API (developers.facebook.com/docs/pages-api).

The account is a Page: ``external_id`` is the Page id and the access token is the Page's
long-lived token (from the Meta sign-in, ``meta/connect.py``: a Page token obtained with a
long-lived user token does not expire). The token goes in the ``Authorization`` header.

What it does, with the Graph calls it makes:

- Publishing: a text or link post (``POST /{page-id}/feed`` with ``message`` and, when the text
  has a web address, ``link`` so that Facebook shows the preview); one photo
  (``POST /{page-id}/photos`` with the file as ``source``, the text as its caption and the alt
  text as ``alt_text_custom``); several photos (each uploaded with ``published=false``, then one
  ``/feed`` post with ``attached_media``). Video is not offered (see ``MSG_NO_VIDEO``).
- Facebook has no idempotency key, so after an ambiguous send ``find_published`` reads the
  Page's recent posts (``/{page-id}/posts`` since the attempt) and matches the words (the
  content fingerprint: NFC, whitespace collapsed). A first comment is matched the same way
  among the Page's own comments under the post.
- Deleting: ``DELETE /{post-id}``; a post that no longer exists answers "already gone".
- Profile: ``/{page-id}?fields=id,name,username,link,fan_count,followers_count,about,picture``.
- Metrics: reactions, comments and shares from the post's own fields, and the post insights
  (``/{post-id}/insights``). Meta retires insights metrics every few months and then answers
  the whole request with error 100 "The value must be a valid insights metric": we then ask
  for the metrics one by one, drop the retired one (remembered for the process) and keep the
  others, so one retired metric never blanks the chart. ``fetch_page_insights`` does the same
  for Page metrics.
- Inbox: comments (and replies to comments) under the Page's recent posts, newest first from
  Graph, handed over oldest first with a cursor; the Page's own comments are left out.
- Replies: ``POST /{object-id}/comments`` on a post (a comment) or a comment (a reply); the
  first comment of a post is such a reply.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from datetime import datetime, timedelta, timezone
from typing import Any, ClassVar

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
from ..errors import Ambiguous, ConnectorError, Permanent, RateLimited, Retryable, fill
from ..http import clean_text, safe_url
from ..meta.graph import GraphConnector, object_gone

MAX_TEXT = 63_206  # Facebook's limit for a post's text
MAX_COMMENT = 8_000
MAX_PHOTOS = 10
PHOTO_LIMIT = 4 * 1024 * 1024  # /{page-id}/photos: 4 MB per photo
PHOTO_TYPES = frozenset({"image/jpeg", "image/png", "image/gif", "image/bmp", "image/tiff", "image/webp",
                         "image/heif"})
POSTS_FOR_INBOX = 25  # recent posts whose comments we read on each poll
THREAD_PAGES = 5  # pages of 100 comments read per re-read thread
COMMENT_FIELDS = "id,message,created_time,from{id,name},parent{id},permalink_url,like_count,comment_count"
# Post insights that exist today (after the 2025 retirements of post_impressions*).
POST_METRICS = ("post_media_view", "post_total_media_view_unique", "post_clicks")
PAGE_METRICS = ("page_follows", "page_post_engagements", "page_media_view", "page_total_media_view_unique",
                "page_views_total")

_OBJECT_ID = re.compile(r"^\d{1,25}(_\d{1,25})?$")
_URL = re.compile(r"https?://[^\s<>\"']+", re.IGNORECASE)

MSG_EMPTY = _("A Facebook post needs some text or at least one photo.")
MSG_TOO_LONG = _("Facebook accepts at most %(limit)s characters in a post; this text has %(length)s.")
MSG_TOO_MANY = _("A Facebook post holds at most 10 photos.")
MSG_PHOTO_TYPE = _("Facebook Pages take photos as JPEG, PNG, GIF, BMP, TIFF, WebP or HEIF.")
MSG_PHOTO_SIZE = _("Facebook accepts photos of at most 4 MB; make this one smaller.")
MSG_NO_VIDEO = _("Tertulia does not publish videos to Facebook Pages yet. Post photos or a link, or upload "
                 "the video from Facebook.")
MSG_VISIBILITY = _("A Facebook Page post is public; it has no other visibility.")
MSG_BAD_ID = _("That is not a Facebook post or comment id.")
MSG_HIDE_UNREADABLE = _("Meta did not confirm that the comment was hidden or shown. We will try again.")
MSG_NO_PAGE = _("This Facebook account has no Page id. Reconnect it with the Meta sign-in.")
MSG_MAYBE_CREATED = _("Facebook had a problem while taking the post, so it may have gone out. We will check "
                      "the Page before trying again.")
MSG_UNREADABLE = _("Facebook accepted the request but its answer could not be read. We will check the Page "
                   "before trying again.")


def graph_time(value: Any) -> datetime | None:
    """Graph's ``2021-07-04T19:50:58+0000`` (an offset without a colon), as UTC."""
    if not isinstance(value, str) or not value:
        return None
    for fmt in ("%Y-%m-%dT%H:%M:%S%z", "%Y-%m-%dT%H:%M:%S.%f%z"):
        try:
            return datetime.strptime(value, fmt).astimezone(timezone.utc)
        except ValueError:
            continue
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


def is_invalid_metric(err: ConnectorError) -> bool:
    """Graph's answer for a retired (or unknown) insights metric: code 100, "The value must be
    a valid insights metric"."""
    return isinstance(err, Permanent) and "code=100 " in err.detail and "insights metric" in err.detail.lower()


def is_missing_object(err: ConnectorError) -> bool:
    """Code 100 subcode 33: the object does not exist (deleted), or is not ours to see."""
    detail = err.detail
    return isinstance(err, Permanent) and ("subcode=33 " in detail or err.status == 404
                                           or "does not exist" in detail.lower())


def _int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    return None


class FacebookConnector(GraphConnector):
    network = "facebook"  # Network.FACEBOOK
    supports_search = False
    supports_refresh = False  # a Page token from a long-lived user token does not expire
    supports_first_comment = True
    can_hide = True  # POST /{comment-id} is_hidden
    # Meta's limits are dynamic (Business Use Case limits grow with the Page's audience) and are
    # reported per call in X-Business-Use-Case-Usage, which graph.py turns into RateLimited.
    rate_rules = ()

    # Insights metrics Graph called invalid in this process: not asked for again.
    retired_metrics: ClassVar[set[str]] = set()

    @property
    def page_id(self) -> str:
        page = str(self.account_id or "")
        if not _OBJECT_ID.match(page) or "_" in page:
            raise Permanent(MSG_NO_PAGE, detail=f"page id {page[:40]!r}")
        return page

    @staticmethod
    def _object_id(value: Any) -> str:
        value = str(value or "")
        if not _OBJECT_ID.match(value):
            raise Permanent(MSG_BAD_ID, detail=f"id {value[:40]!r}")
        return value

    def post_url(self, post_id: str) -> str:
        page, _sep, post = post_id.partition("_")
        if post:
            return f"https://www.facebook.com/{page}/posts/{post}"
        return f"https://www.facebook.com/{post_id}"

    # -- publishing --------------------------------------------------------------------------

    def _check(self, payload: PostPayload) -> None:
        text = payload.text or ""
        if not text.strip() and not payload.media:
            raise Permanent(MSG_EMPTY)
        if len(text) > MAX_TEXT:
            raise Permanent(fill(MSG_TOO_LONG, limit=MAX_TEXT, length=len(text)))
        if payload.visibility != Visibility.PUBLIC:
            raise Permanent(MSG_VISIBILITY)
        if len(payload.media) > MAX_PHOTOS:
            raise Permanent(MSG_TOO_MANY)
        for item in payload.media:
            if item.mime_type.startswith("video/"):
                raise Permanent(MSG_NO_VIDEO, detail=item.mime_type)
            if item.mime_type not in PHOTO_TYPES:
                raise Permanent(MSG_PHOTO_TYPE, detail=item.mime_type)
            if item.size > PHOTO_LIMIT:
                raise Permanent(MSG_PHOTO_SIZE, detail=f"{item.size} bytes")

    def publish(self, payload: PostPayload) -> PublishedRef:
        if payload.reply_to:
            return self.reply(payload.reply_to, payload.text, marker=payload.marker)
        self._check(payload)
        page = self.page_id
        if len(payload.media) == 1:
            return self._publish_photo(page, payload)
        if payload.media:
            return self._publish_album(page, payload)
        data = {"message": payload.text}
        link = first_link(payload.text)
        if link:
            data["link"] = link
        return self._created(self._write(f"{page}/feed", data=data))

    def _write(self, path: str, *, data: dict[str, Any], files: dict | None = None) -> Any:
        """A POST that creates something. Graph answers 500 or a transient code (1, 2) as a
        catch-all, sometimes after the post was created, and Pages take no idempotency key: so
        such an answer is ``Ambiguous`` (the engine looks on the Page before any retry), not a
        plain retry. A throttle answer (``RateLimited``) created nothing and stays as it is."""
        try:
            return self._call("POST", path, data=data, files=files).data
        except RateLimited:
            raise
        except Retryable as exc:
            raise Ambiguous(MSG_MAYBE_CREATED, detail=exc.detail, status=exc.status) from exc

    def _created(self, data: Any, *, key: str = "id") -> PublishedRef:
        post_id = data.get(key) if isinstance(data, dict) else None
        if not isinstance(post_id, str) or not _OBJECT_ID.match(post_id):
            raise Ambiguous(MSG_UNREADABLE, detail=clean_text(json.dumps(data)[:200] if data is not None else "", 200))
        return PublishedRef(external_id=post_id, url=self.post_url(post_id))

    @staticmethod
    def _file(item: MediaItem) -> tuple[str, bytes, str]:
        return (item.filename or "photo", item.read(), item.mime_type)

    def _publish_photo(self, page: str, payload: PostPayload) -> PublishedRef:
        item = payload.media[0]
        data = {"message": payload.text, "published": "true"}
        if item.alt_text:
            data["alt_text_custom"] = item.alt_text[:1000]
        answer = self._write(f"{page}/photos", data=data, files={"source": self._file(item)})
        # A published photo answers {"id": photo id, "post_id": the feed post's id}.
        key = "post_id" if isinstance(answer, dict) and "post_id" in answer else "id"
        return self._created(answer, key=key)

    def _publish_album(self, page: str, payload: PostPayload) -> PublishedRef:
        media_ids = []
        for item in payload.media:
            data = {"published": "false"}
            if item.alt_text:
                data["alt_text_custom"] = item.alt_text[:1000]
            try:
                answer = self._write(f"{page}/photos", data=data, files={"source": self._file(item)})
            except Ambiguous as exc:
                # An unpublished photo is invisible: uploading it again is harmless.
                raise Retryable(exc.user_message, detail=exc.detail, status=exc.status) from exc
            photo_id = answer.get("id") if isinstance(answer, dict) else None
            if not isinstance(photo_id, str) or not _OBJECT_ID.match(photo_id):
                raise Retryable(MSG_UNREADABLE, detail="photo upload without an id")
            media_ids.append(photo_id)
        data = {"message": payload.text}
        for index, media_id in enumerate(media_ids):
            data[f"attached_media[{index}]"] = json.dumps({"media_fbid": media_id})
        return self._created(self._write(f"{page}/feed", data=data))

    def delete(self, external_id: str) -> bool:
        post_id = self._object_id(external_id)
        try:
            answer = self._call("DELETE", post_id).data
        except Permanent as exc:
            if is_missing_object(exc):
                return False
            raise
        if isinstance(answer, dict) and answer.get("success") is False:
            return False
        return True

    # -- reconciliation ----------------------------------------------------------------------

    def find_published(self, payload: PostPayload, *, since: datetime) -> PublishedRef | None:
        wanted = normalize_text(payload.text)
        floor = since - timedelta(seconds=60)  # clocks differ; Graph times are whole seconds
        if payload.reply_to:
            for comment in self._comments(self._object_id(payload.reply_to), pages=3):
                author = comment.get("from") if isinstance(comment.get("from"), dict) else {}
                created = graph_time(comment.get("created_time"))
                if created is not None and created < floor:
                    break
                if str(author.get("id", "")) == self.page_id and normalize_text(str(comment.get("message") or "")) == wanted:
                    return PublishedRef(external_id=str(comment["id"]), url=safe_url(comment.get("permalink_url")),
                                        published_at=created)
            return None
        params = {"fields": "id,message,created_time,permalink_url", "since": int(floor.timestamp()), "limit": 25}
        for post in self._pages(f"{self.page_id}/posts", params=params, max_pages=4):
            created = graph_time(post.get("created_time"))
            if created is not None and created < floor:
                continue
            post_id = str(post.get("id") or "")
            if _OBJECT_ID.match(post_id) and normalize_text(str(post.get("message") or "")) == wanted:
                return PublishedRef(external_id=post_id, url=safe_url(post.get("permalink_url")) or self.post_url(post_id),
                                    published_at=created)
        return None

    # -- reading ------------------------------------------------------------------------------

    def fetch_profile(self) -> Profile:
        data = self._get(self.page_id, fields="id,name,username,link,fan_count,followers_count,about,picture")
        name = clean_text(str(data.get("name") or ""), 200)
        username = clean_text(str(data.get("username") or ""), 100)
        picture = data.get("picture") if isinstance(data.get("picture"), dict) else {}
        picture = picture.get("data") if isinstance(picture.get("data"), dict) else {}
        page_id = str(data.get("id") or self.page_id)
        if not _OBJECT_ID.match(page_id):
            raise Retryable(MSG_UNREADABLE, detail="profile without a valid id")
        followers = _int(data.get("followers_count"))
        return Profile(external_id=page_id, handle=username or name or page_id, display_name=name,
                       url=safe_url(data.get("link")) or f"https://www.facebook.com/{page_id}",
                       avatar_url=safe_url(picture.get("url")), bio=clean_text(str(data.get("about") or ""), 2000),
                       followers=followers if followers is not None else _int(data.get("fan_count")),
                       fields={"fan_count": str(_int(data.get("fan_count")) or 0)})

    def insights(self, object_id: str, metrics: Sequence[str], **params) -> dict[str, list[dict]]:
        """``/{object-id}/insights``: metric name -> its values (``[{"value", "end_time"}]``).

        A retired metric makes Graph refuse the whole request (code 100); we then ask for each
        metric alone, remember the retired ones and return the others."""
        wanted = [m for m in metrics if m not in self.retired_metrics]
        if not wanted:
            return {}
        try:
            data = self._get(f"{object_id}/insights", metric=",".join(wanted), **params)
        except Permanent as exc:
            if not is_invalid_metric(exc):
                raise
            if len(wanted) == 1:
                self.retired_metrics.add(wanted[0])
                return {}
            out: dict[str, list[dict]] = {}
            for metric in wanted:
                out.update(self.insights(object_id, [metric], **params))
            return out
        out = {}
        for row in data.get("data") or []:
            if isinstance(row, dict) and isinstance(row.get("name"), str):
                values = row.get("values") if isinstance(row.get("values"), list) else []
                out[row["name"]] = [v for v in values if isinstance(v, dict)]
        return out

    @staticmethod
    def _last_number(values: list[dict] | None) -> int | None:
        for value in reversed(values or []):
            number = value.get("value")
            if isinstance(number, dict):  # breakdowns (reactions by type): the sum
                numbers = [v for v in number.values() if isinstance(v, int) and not isinstance(v, bool)]
                return sum(numbers) if numbers else None
            if isinstance(number, (int, float)) and not isinstance(number, bool):
                return int(number)
        return None

    def fetch_post_metrics(self, external_ids: Sequence[str]) -> dict[str, PostMetrics]:
        out = {}
        for external_id in external_ids:
            post_id = self._object_id(external_id)
            try:
                post = self._get(post_id, fields="id,shares,comments.limit(0).summary(true),"
                                                 "reactions.limit(0).summary(true)")
            except Permanent as exc:
                if is_missing_object(exc):
                    out[external_id] = PostMetrics(external_id, exists=False)
                    continue
                raise
            shares = post.get("shares") if isinstance(post.get("shares"), dict) else {}
            comments = post.get("comments") if isinstance(post.get("comments"), dict) else {}
            reactions = post.get("reactions") if isinstance(post.get("reactions"), dict) else {}
            summary = lambda edge: edge.get("summary") if isinstance(edge.get("summary"), dict) else {}  # noqa: E731
            insights = self.insights(post_id, POST_METRICS)
            out[external_id] = PostMetrics(
                external_id,
                impressions=self._last_number(insights.get("post_media_view")),
                reach=self._last_number(insights.get("post_total_media_view_unique")),
                clicks=self._last_number(insights.get("post_clicks")),
                likes=_int(summary(reactions).get("total_count")),
                comments=_int(summary(comments).get("total_count")),
                # Graph leaves ``shares`` out of a post nobody shared.
                shares=_int(shares.get("count")) if shares else 0,
            )
        return out

    def fetch_page_insights(self, metrics: Sequence[str] = PAGE_METRICS, *, period: str = "day",
                            since: datetime | None = None, until: datetime | None = None) -> dict[str, list[tuple]]:
        """Page insights: metric -> ``[(end_time, value), …]``. Graph serves at most 90 days
        per request; a retired metric is dropped, the others come back."""
        params: dict[str, Any] = {"period": period}
        if since is not None:
            params["since"] = int(since.timestamp())
        if until is not None:
            params["until"] = int(until.timestamp())
        out = {}
        for name, values in self.insights(self.page_id, metrics, **params).items():
            rows = []
            for value in values:
                number = value.get("value")
                if isinstance(number, bool) or not isinstance(number, (int, float, dict)):
                    continue
                rows.append((graph_time(value.get("end_time")), number))
            out[name] = rows
        return out

    # -- inbox ---------------------------------------------------------------------------------

    def _comments(self, object_id: str, *, pages: int = 3):
        params = {"filter": "stream", "order": "reverse_chronological", "fields": COMMENT_FIELDS, "limit": 100}
        yield from self._pages(f"{object_id}/comments", params=params, max_pages=pages)

    def _thread(self, object_id: str, *, pages: int = THREAD_PAGES) -> tuple[list[dict], bool]:
        """Every comment and reply under a post (``filter=stream``), newest first, and whether
        the read was complete (no page left unread within the bound)."""
        params = {"filter": "stream", "order": "reverse_chronological", "fields": COMMENT_FIELDS, "limit": 100}
        return self._read_all(f"{object_id}/comments", params=params, max_pages=pages)

    def _recent_posts(self, floor: datetime | None) -> list[str]:
        params: dict[str, Any] = {"fields": "id,updated_time", "limit": POSTS_FOR_INBOX}
        ids = []
        for post in self._pages(f"{self.page_id}/feed", params=params, max_pages=1):
            updated = graph_time(post.get("updated_time"))
            post_id = str(post.get("id") or "")
            if not _OBJECT_ID.match(post_id):
                continue
            if floor is not None and updated is not None and updated < floor:
                continue  # no new comment since the last poll
            ids.append(post_id)
        return ids

    def fetch_interactions(self, since: datetime | None = None, *, cursor: str = "",
                           thread_ids: Sequence[str] = ()) -> InteractionBatch:
        """Comments and replies under the Page's recent posts and under ``thread_ids`` (re-read in
        full: see ``InteractionBatch.threads``).

        ``cursor`` remembers the newest comment time handed out and the ids at that time, so a
        poll never hands the same comment twice and never misses one written in that second."""
        last_time, last_ids = _load_cursor(cursor)
        floor = max((t for t in (since, last_time) if t is not None), default=None)
        page = self.page_id
        found: dict[str, Interaction] = {}
        revisions: dict[str, Interaction] = {}
        complete: dict[str, frozenset[str]] = {}
        # Our recent posts are re-read in full: Graph has no deletion or edit feed for polling
        # (the webhook's ``verb: remove`` / ``edited`` is the push side), so a comment no longer
        # listed was deleted (or removed by a moderator), and a known one is handed out again
        # for the inbox to compare its text (an edit).
        for post_id in [self._object_id(t) for t in thread_ids]:
            try:
                comments, whole = self._thread(post_id)
            except Permanent as exc:
                if not object_gone(exc):
                    raise
                continue  # the post was deleted on Facebook: its comments stay as they were
            present = set()
            for comment in comments:
                comment_id = str(comment.get("id") or "")
                author = comment.get("from") if isinstance(comment.get("from"), dict) else {}
                if not _OBJECT_ID.match(comment_id) or str(author.get("id", "")) == page:
                    continue
                present.add(comment_id)
                if comment_id in found or comment_id in revisions:
                    continue
                item = Interaction(InteractionKind.COMMENT, self._network_post(comment, post_id), on_post=post_id)
                created = item.post.created_at
                if comment_id in last_ids or (floor is not None and created is not None and created < floor):
                    revisions[comment_id] = item  # handed out before: only its text may have changed
                else:
                    found[comment_id] = item
            if whole:
                complete[post_id] = frozenset(present)
        # Without ``thread_ids``: the Page's recent posts. With them and a floor (every poll
        # after the first has one): also the posts with activity since the floor that are not
        # among them, i.e. posts written on Facebook itself. With them and no floor: only them.
        read = {self._object_id(t) for t in thread_ids}
        posts = [p for p in self._recent_posts(floor) if p not in read] if not thread_ids or floor else []
        for post_id in posts:
            for comment in self._comments(post_id):
                created = graph_time(comment.get("created_time"))
                if floor is not None and created is not None and created < floor:
                    break  # newest first: the rest is older
                comment_id = str(comment.get("id") or "")
                if not _OBJECT_ID.match(comment_id) or comment_id in found or comment_id in last_ids \
                        or comment_id in revisions:
                    continue
                author = comment.get("from") if isinstance(comment.get("from"), dict) else {}
                if str(author.get("id", "")) == page:
                    continue  # the Page's own replies
                found[comment_id] = Interaction(InteractionKind.COMMENT, self._network_post(comment, post_id),
                                                on_post=post_id)
        items = sorted(found.values(), key=lambda i: (i.post.created_at or datetime.min.replace(tzinfo=timezone.utc),
                                                      i.post.external_id))
        newest, newest_ids = last_time, set(last_ids)
        for item in items:
            created = item.post.created_at
            if created is None:
                continue
            if newest is None or created > newest:
                newest, newest_ids = created, {item.post.external_id}
            elif created == newest:
                newest_ids.add(item.post.external_id)
        return InteractionBatch(items=items, cursor=_dump_cursor(newest, newest_ids), threads=complete,
                                revisions=list(revisions.values()))

    def _network_post(self, comment: dict, post_id: str) -> NetworkPost:
        author = comment.get("from") if isinstance(comment.get("from"), dict) else {}
        parent = comment.get("parent") if isinstance(comment.get("parent"), dict) else {}
        author_id = clean_text(str(author.get("id") or ""), 40)
        name = clean_text(str(author.get("name") or ""), 200)
        return NetworkPost(
            external_id=str(comment["id"]),
            author=Author(external_id=author_id if _OBJECT_ID.match(author_id) else "",
                          handle=name or str(_("Facebook user")), display_name=name),
            text=clean_text(comment.get("message") if isinstance(comment.get("message"), str) else "", MAX_TEXT),
            created_at=graph_time(comment.get("created_time")),
            url=safe_url(comment.get("permalink_url")),
            in_reply_to=str(parent.get("id") or post_id),
            likes=_int(comment.get("like_count")),
            comments=_int(comment.get("comment_count")),
        )

    def hide_comment(self, external_id: str, hidden: bool) -> None:
        """``POST /{comment-id}`` with ``is_hidden`` (needs ``pages_manage_engagement``): the
        comment stays visible to its author and their friends, hidden from everyone else.
        Idempotent, so a transient failure is a plain retry."""
        data = self._call("POST", self._object_id(external_id), data={"is_hidden": "true" if hidden else "false"}).data
        if not isinstance(data, dict) or data.get("success") is not True:
            raise Retryable(MSG_HIDE_UNREADABLE,
                            detail=clean_text(json.dumps(data)[:200] if data is not None else "", 200))

    def reply(self, to_external_id: str, text: str, *, marker: str = "") -> PublishedRef:
        object_id = self._object_id(to_external_id)
        if not (text or "").strip():
            raise Permanent(MSG_EMPTY)
        if len(text) > MAX_COMMENT:
            raise Permanent(fill(MSG_TOO_LONG, limit=MAX_COMMENT, length=len(text)))
        answer = self._write(f"{object_id}/comments", data={"message": text})
        comment_id = answer.get("id") if isinstance(answer, dict) else None
        if not isinstance(comment_id, str) or not _OBJECT_ID.match(comment_id):
            raise Ambiguous(MSG_UNREADABLE, detail="comment without an id")
        return PublishedRef(external_id=comment_id, url=safe_url(answer.get("permalink_url")),
                            published_at=graph_time(answer.get("created_time")))

    def limits(self) -> Limits:
        return Limits(max_characters=MAX_TEXT, counting="graphemes", max_media=MAX_PHOTOS,
                      max_alt_text=1000, image_size_limit=PHOTO_LIMIT, media_types=PHOTO_TYPES,
                      content_warnings=False, visibilities=frozenset({Visibility.PUBLIC}), threads=True)


def first_link(text: str) -> str:
    """The first web address in a post's text (for the link preview), or ''."""
    for match in _URL.finditer(text or ""):
        url = safe_url(match.group(0).rstrip(".,;:!?)]}»”’"))
        if url:
            return url
    return ""


def _load_cursor(cursor: str) -> tuple[datetime | None, set[str]]:
    try:
        data = json.loads(cursor) if cursor else {}
    except ValueError:
        return None, set()
    if not isinstance(data, dict):
        return None, set()
    when = graph_time(data.get("t")) if isinstance(data.get("t"), str) else None
    ids = data.get("ids") if isinstance(data.get("ids"), list) else []
    return when, {str(i) for i in ids[:200] if isinstance(i, str) and _OBJECT_ID.match(i)}


def _dump_cursor(when: datetime | None, ids: set[str]) -> str:
    if when is None:
        return ""
    return json.dumps({"t": when.astimezone(timezone.utc).isoformat(), "ids": sorted(ids)[:200]})


__all__ = ["FacebookConnector", "POST_METRICS", "PAGE_METRICS", "first_link", "graph_time"]
