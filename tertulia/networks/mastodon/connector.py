"""Mastodon (any instance, and servers compatible with its client API).

API references: docs.joinmastodon.org/methods/{statuses,media,accounts,notifications,
conversations,search,timelines,instance,apps,oauth} and /api/rate-limits.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Sequence
from datetime import datetime, timedelta, timezone
from typing import Any
from urllib.parse import parse_qsl, quote, urlsplit

from django.utils.text import format_lazy
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
    OAuthClient,
    PostMetrics,
    PostPayload,
    Profile,
    PublishedRef,
    Visibility,
)
from ..errors import Ambiguous, Permanent, Retryable
from ..http import MSG_MALFORMED, ApiResponse, clean_text, parse_time, safe_url
from ..ratelimit import RateRule
from .auth import normalize_base_url
from .html import html_to_text, match_key

# Our visibility -> Mastodon's.
VISIBILITY = {Visibility.PUBLIC: "public", Visibility.UNLISTED: "unlisted",
              Visibility.FOLLOWERS: "private", Visibility.DIRECT: "direct"}
FROM_VISIBILITY = {v: k for k, v in VISIBILITY.items()}

PAGE = 40  # the largest page Mastodon serves for statuses and notifications
_SAFE_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_HASHTAG = re.compile(r"^#(\w{1,100})$")

_ACCT = re.compile(r"^[A-Za-z0-9_]{1,30}(@[A-Za-z0-9.-]{1,253}\.[A-Za-z]{2,63})?$")
_MEDIA_KIND = {"image": "image", "gifv": "gif", "video": "video", "audio": "audio"}
MSG_BAD_HANDLE = _("That is not a Mastodon handle. Write it as name@server.example.")
MSG_UNKNOWN_HANDLE = _("The server does not know that account. Check the handle (name@server.example).")
MSG_EMPTY = _("A post needs some text or at least one image.")
MSG_BAD_VISIBILITY = _("This network does not know that visibility setting.")
MSG_BAD_ID = _("That post's id is not valid for this network.")
MSG_TOO_MANY_MEDIA = _("This server accepts at most {count} attachments per post.")
MSG_MEDIA_TYPE = _("This server does not accept files of this type.")
MSG_MEDIA_SLOW = _("The server is still processing the attached media. We will try again.")
MSG_POST_UNREADABLE = _("The network accepted the post but its answer could not be read. We will check "
                        "whether it was published before trying again.")




def _id_key(value: str) -> tuple[int, str]:
    """Mastodon ids are integers as strings; compatible servers use fixed-length flake ids.
    (length, text) orders both correctly."""
    return len(value), value


class MastodonConnector(Connector):
    network = "mastodon"  # Network.MASTODON; a plain string so connectors import without the ORM
    supports_search = True
    supports_refresh = False  # Mastodon tokens do not expire; a revoked one means reconnect
    supports_first_comment = True  # a reply with in_reply_to_id
    # docs.joinmastodon.org/api/rate-limits: per account, 300 requests per 5 minutes on every
    # endpoint; media uploads and deletions also 30 per 30 minutes.
    rate_rules = (
        RateRule("api", 300, 300.0),
        RateRule("media", 30, 1800.0, methods=frozenset({"POST"}), path=r"/api/v[12]/media/?$"),
        RateRule("delete", 30, 1800.0, methods=frozenset({"DELETE"}), path=r"/api/v1/statuses/[^/]+/?$"),
    )

    def __init__(self, *, media_timeout: float = 60.0, media_poll_interval: float = 0.5,
                 find_pages: int = 5, interaction_pages: int = 5, context_threads: int = 10,
                 context_days: float = 3.0, oauth_client: OAuthClient | None = None, **kwargs):
        kwargs["base_url"] = normalize_base_url(kwargs.get("base_url", ""))
        super().__init__(**kwargs)
        self.media_timeout = media_timeout
        self.media_poll_interval = media_poll_interval
        self.find_pages = find_pages
        self.interaction_pages = interaction_pages
        self.context_threads = context_threads
        self.context_days = context_days
        self.sleep = time.sleep
        self.oauth_client = oauth_client  # the app, for the refresh grant (see refresh_credentials)
        self._limits: Limits | None = None
        self._batch_lookup = True  # GET /api/v1/statuses?id[]= (Mastodon 4.3+); off after a 404

    # -- sign-in ------------------------------------------------------------------------------

    def needs_refresh(self, margin: timedelta = timedelta(minutes=10), now: datetime | None = None) -> bool:
        return bool(self.oauth_client and self.credentials.refresh_token) and self.credentials.expires_within(margin, now)

    def refresh_credentials(self) -> Credentials:
        """Stock Mastodon tokens never expire. A server that issues refresh tokens (Doorkeeper's
        ``use_refresh_token``) renews them with the refresh grant, given the app's client."""
        if self.oauth_client is None or not self.credentials.refresh_token:
            return super().refresh_credentials()
        from .auth import refresh

        fresh = refresh(self.oauth_client, self.credentials, http_config=self.http.config)
        self._credentials_changed(fresh)
        return fresh

    # -- identity ----------------------------------------------------------------------------

    def _own_id(self) -> str:
        if not self.account_id:
            self.fetch_profile()
        return self.account_id

    @property
    def domain(self) -> str:
        return urlsplit(self.base_url).netloc

    def fetch_profile(self) -> Profile:
        account = self._expect(self.http.get("/api/v1/accounts/verify_credentials"), dict)
        if not account.get("id"):
            raise Retryable(MSG_MALFORMED, detail="verify_credentials without an id")
        self.account_id = str(account["id"])
        fields = {}
        for entry in account.get("fields") or []:
            if isinstance(entry, dict):
                fields[html_to_text(str(entry.get("name", "")))[:255]] = html_to_text(str(entry.get("value", "")))[:255]
        return self._profile(account, external_id=self.account_id,
                             handle=f"@{clean_text(str(account.get('username', '')), 100)}@{self.domain}",
                             fields=fields)

    def _profile(self, account: dict, *, external_id: str, handle: str, fields: dict | None = None) -> Profile:
        """A Mastodon account as a ``Profile`` (ours, or another one read publicly)."""
        return Profile(
            external_id=external_id, handle=handle,
            display_name=clean_text(str(account.get("display_name") or ""), 200),
            url=safe_url(account.get("url")),
            avatar_url=safe_url(account.get("avatar_static") or account.get("avatar")),
            bio=html_to_text(account.get("note")),
            followers=self._as_int(account.get("followers_count")),
            following=self._as_int(account.get("following_count")),
            posts=self._as_int(account.get("statuses_count")),
            fields=fields or {},
        )

    # -- limits ------------------------------------------------------------------------------

    def limits(self) -> Limits:
        """From ``/api/v2/instance`` (Mastodon 4.0+), else ``/api/v1/instance`` (older servers,
        and ``max_toot_chars`` on Pleroma/Akkoma). Cached for the connector's life."""
        if self._limits is not None:
            return self._limits
        response = self.http.get("/api/v2/instance", accept={404}, bucket="GET /api/v2/instance")
        if response.status == 404:
            response = self.http.get("/api/v1/instance", bucket="GET /api/v1/instance")
        data = self._expect(response, dict)
        config = data.get("configuration") if isinstance(data.get("configuration"), dict) else {}
        statuses = config.get("statuses") if isinstance(config.get("statuses"), dict) else {}
        media = config.get("media_attachments") if isinstance(config.get("media_attachments"), dict) else {}
        as_int = self._as_int
        max_chars = as_int(statuses.get("max_characters")) or as_int(data.get("max_toot_chars")) or 500
        languages = data.get("languages") if isinstance(data.get("languages"), list) else []
        types = media.get("supported_mime_types") if isinstance(media.get("supported_mime_types"), list) else []
        self._limits = Limits(
            max_characters=max_chars,
            counting="mastodon",
            url_length=as_int(statuses.get("characters_reserved_per_url")) or 23,
            max_media=as_int(statuses.get("max_media_attachments")) or 4,
            max_alt_text=as_int(media.get("description_limit")) or 1500,
            image_size_limit=as_int(media.get("image_size_limit")),
            video_size_limit=as_int(media.get("video_size_limit")),
            media_types=frozenset(str(t) for t in types),
            content_warnings=True,
            visibilities=frozenset(VISIBILITY),
            languages=frozenset(str(x) for x in languages),
            threads=True,
        )
        return self._limits

    # -- publishing --------------------------------------------------------------------------

    def publish(self, payload: PostPayload) -> PublishedRef:
        if not payload.text.strip() and not payload.media:
            raise Permanent(MSG_EMPTY)
        self._check_media(payload.media)
        reply_to = self._segment(payload.reply_to) if payload.reply_to else ""
        try:
            visibility = VISIBILITY[Visibility(payload.visibility)]
        except ValueError as exc:
            raise Permanent(MSG_BAD_VISIBILITY, detail=str(payload.visibility)[:40]) from exc
        media_ids = [self._upload(item, payload) for item in payload.media]
        body: dict[str, Any] = {"status": payload.text, "visibility": visibility}
        if media_ids:
            body["media_ids"] = media_ids
        if payload.content_warning:
            body["spoiler_text"] = payload.content_warning
        if payload.sensitive:
            body["sensitive"] = True
        if payload.language:
            body["language"] = payload.language
        if reply_to:
            body["in_reply_to_id"] = reply_to
        # Mastodon keeps Idempotency-Key per account for an hour: a retry it already saw gets
        # the original status back instead of a second post.
        headers = {"Idempotency-Key": payload.marker[:255]} if payload.marker else None
        response = self.http.post("/api/v1/statuses", json_body=body, headers=headers,
                                  bucket="POST /api/v1/statuses")
        status = response.data
        if not isinstance(status, dict) or not status.get("id"):
            raise Ambiguous(MSG_POST_UNREADABLE, detail=clean_text(response.text, 300), status=response.status)
        return self._ref(status)

    def _check_media(self, media: Sequence[MediaItem]) -> None:
        if not media or self._limits is None:
            return  # the server has the last word; limits() is checked when already known
        if len(media) > self._limits.max_media:
            raise Permanent(format_lazy(MSG_TOO_MANY_MEDIA, count=self._limits.max_media))
        for item in media:
            if self._limits.media_types and item.mime_type not in self._limits.media_types:
                raise Permanent(MSG_MEDIA_TYPE, detail=item.mime_type)

    def _upload(self, item: MediaItem, payload: PostPayload) -> str:
        """``POST /api/v2/media``: 200 when processed at once, 202 (url null) while the server
        processes it; then poll ``GET /api/v1/media/:id`` (206 while processing, 200 when
        ready) before the status may use it."""
        form: dict[str, str] = {}
        if item.alt_text:
            form["description"] = item.alt_text
        if item.focus:
            form["focus"] = f"{item.focus[0]:.2f},{item.focus[1]:.2f}"
        files = {"file": (item.filename, item.read(), item.mime_type)}
        try:
            response = self.http.post("/api/v2/media", files=files, data=form, bucket="POST /api/v2/media",
                                      accept={404})
            if response.status == 404:  # servers without v2 media
                response = self.http.post("/api/v1/media", files=files, data=form, bucket="POST /api/v1/media")
        except Ambiguous as exc:
            # An upload that may or may not have arrived leaves at worst an unattached file,
            # which the server cleans up: nothing was published, so it is safe to retry.
            raise Retryable(exc.user_message, detail=exc.detail, status=exc.status) from exc
        media = self._expect(response, dict)
        media_id = self._segment(str(media.get("id", "")))
        if response.status == 202 or not media.get("url"):
            self._wait_for_media(media_id)
        return media_id

    def _wait_for_media(self, media_id: str) -> None:
        deadline = time.monotonic() + self.media_timeout
        delay = self.media_poll_interval
        while True:
            response = self.http.get(f"/api/v1/media/{media_id}", bucket="GET /api/v1/media/:id")
            media = self._expect(response, dict)
            if response.status == 200 and media.get("url"):
                return
            if time.monotonic() + delay > deadline:
                raise Retryable(MSG_MEDIA_SLOW, detail=f"media {media_id} still processing", status=response.status)
            self.sleep(delay)
            delay = min(delay * 1.5, 5.0)

    def delete(self, external_id: str) -> bool:
        response = self.http.delete(f"/api/v1/statuses/{self._segment(external_id)}", accept={404},
                                    bucket="DELETE /api/v1/statuses/:id")
        return response.status != 404

    def reply(self, to_external_id: str, text: str, *, marker: str = "") -> PublishedRef:
        """Answer a post the way Mastodon clients do: mention its author (or they are not
        notified), keep its content warning, and never widen its audience."""
        original = self._expect(self.http.get(f"/api/v1/statuses/{self._segment(to_external_id)}",
                                              bucket="GET /api/v1/statuses/:id"), dict)
        author = original.get("account") if isinstance(original.get("account"), dict) else {}
        acct = clean_text(str(author.get("acct") or ""), 200)
        if acct and str(author.get("id")) != self._own_id():
            username = acct.split("@", 1)[0]
            if not re.search(rf"(?<![\w@])@{re.escape(username)}\b", text, re.IGNORECASE):
                text = f"@{acct} {text}"
        visibility = FROM_VISIBILITY.get(str(original.get("visibility")), Visibility.PUBLIC)
        return self.publish(PostPayload(text=text, reply_to=to_external_id, visibility=visibility, marker=marker,
                                        content_warning=str(original.get("spoiler_text") or "")))

    # -- reconciliation ------------------------------------------------------------------------

    def find_published(self, payload: PostPayload, *, since: datetime) -> PublishedRef | None:
        """Read the account's own recent statuses (newest first, back to ``since`` minus a
        little clock skew) and return the oldest one that matches what we tried to post: same
        words, content warning, reply target and number of attachments.

        Mastodon does not return the Idempotency-Key, so matching is by content. If a server
        renders text differently (Markdown on glitch-soc or Akkoma), candidates with the same
        shape are checked against ``/api/v1/statuses/:id/source``, the text as typed."""
        own = self._own_id()
        want_text, want_cw = match_key(payload.text), match_key(payload.content_warning)
        cutoff = since - timedelta(minutes=2)
        found: dict | None = None
        shaped: list[dict] = []
        max_id = ""
        for _page in range(self.find_pages):
            params: dict[str, Any] = {"limit": PAGE, "exclude_reblogs": "true"}
            if max_id:
                params["max_id"] = max_id
            statuses = self._expect(self.http.get(f"/api/v1/accounts/{self._segment(own)}/statuses", params=params,
                                                  bucket="GET /api/v1/accounts/:id/statuses"), list)
            reached_cutoff = not statuses
            for status in statuses:
                if not isinstance(status, dict):
                    continue
                created = parse_time(status.get("created_at"))
                if created is not None and created < cutoff:
                    reached_cutoff = True
                    continue
                if not self._same_shape(status, payload, want_cw):
                    continue
                if match_key(html_to_text(status.get("content"))) == want_text:
                    found = status  # newest first: the last match is the oldest
                else:
                    shaped.append(status)
            if found is not None:
                return self._ref(found)
            if reached_cutoff or len(statuses) < PAGE:
                break
            max_id = str(statuses[-1].get("id", "")) if isinstance(statuses[-1], dict) else ""
            if not max_id:
                break
        for status in reversed(shaped[:5]):
            source = self.http.get(f"/api/v1/statuses/{self._segment(str(status.get('id', '')))}/source",
                                   accept={404}, bucket="GET /api/v1/statuses/:id/source")
            if source.status == 200 and isinstance(source.data, dict) \
                    and match_key(str(source.data.get("text", ""))) == want_text:
                return self._ref(status)
        return None

    @staticmethod
    def _same_shape(status: dict, payload: PostPayload, want_cw: str) -> bool:
        if status.get("reblog"):
            return False
        if str(status.get("in_reply_to_id") or "") != (payload.reply_to or ""):
            return False
        if match_key(str(status.get("spoiler_text") or "")) != want_cw:
            return False
        attachments = status.get("media_attachments") if isinstance(status.get("media_attachments"), list) else []
        return len(attachments) == len(payload.media)

    # -- analytics -------------------------------------------------------------------------

    def fetch_post_metrics(self, external_ids: Sequence[str]) -> dict[str, PostMetrics]:
        """Favourites, boosts and replies. Mastodon shows no impressions or reach: None."""
        ids = list(dict.fromkeys(self._segment(i) for i in external_ids))
        statuses: dict[str, dict] = {}
        if self._batch_lookup and len(ids) > 1:
            for start in range(0, len(ids), 20):
                chunk = ids[start:start + 20]
                response = self.http.get("/api/v1/statuses", params=[("id[]", i) for i in chunk], accept={404},
                                         bucket="GET /api/v1/statuses")
                if response.status == 404:
                    self._batch_lookup = False
                    break
                for status in self._expect(response, list):
                    if isinstance(status, dict) and status.get("id"):
                        statuses[str(status["id"])] = status
        out: dict[str, PostMetrics] = {}
        for external_id in ids:
            status = statuses.get(external_id)
            if status is None:  # not in the batch (or no batch): ask for it alone, 404 = deleted
                response = self.http.get(f"/api/v1/statuses/{external_id}", accept={404},
                                         bucket="GET /api/v1/statuses/:id")
                if response.status == 404:
                    out[external_id] = PostMetrics(external_id, exists=False)
                    continue
                status = self._expect(response, dict)
            out[external_id] = PostMetrics(
                external_id,
                likes=self._as_int(status.get("favourites_count")),
                shares=self._as_int(status.get("reblogs_count")),
                comments=self._as_int(status.get("replies_count")),
            )
        return out

    # -- inbox -----------------------------------------------------------------------------

    def fetch_interactions(self, since: datetime | None = None, *, cursor: str = "",
                           thread_ids: Sequence[str] = ()) -> InteractionBatch:
        """Mentions and replies from notifications (type ``mention``), private messages from
        conversations, and replies found in the context of the account's recent posts (or
        of ``thread_ids``), which catches replies that did not notify (deep in a thread).

        ``cursor`` (from the previous batch) resumes notifications exactly where they were
        left; ``since`` bounds the first poll and the time-based sources.

        Edits and deletions: Mastodon's REST API has no deletion feed (the streaming API's
        ``delete`` events need a connection held open per account) and its ``update``
        notification is only for posts the account boosted. What it does give is a thread's
        full context: every reply still there, each with ``edited_at``. So each thread read
        in full is returned in ``threads`` (a stored reply missing from it was deleted), and a
        reply edited since the floor is handed out again with its new text. A deleted mention
        also vanishes from the notifications, which cannot be told from "never existed"."""
        own = self._own_id()
        state = _load_cursor(cursor)
        floor = since
        if state.get("t"):
            resumed = parse_time(state["t"])
            if resumed is not None:
                resumed -= timedelta(minutes=5)
                floor = max(floor, resumed) if floor else resumed
        found: dict[str, Interaction] = {}

        newest_notification = state.get("n", "")
        notifications, more = self._notifications(state.get("n", ""), floor)
        for notification in notifications:
            newest_notification = max(newest_notification, str(notification.get("id", "")), key=_id_key)
            status = notification.get("status")
            if isinstance(status, dict) and status.get("id") and str((status.get("account") or {}).get("id")) != own:
                found[str(status["id"])] = self._classify(status, own, notification_id=str(notification.get("id", "")))

        for conversation in self._conversations(floor):
            status = conversation.get("last_status")
            if not isinstance(status, dict) or not status.get("id"):
                continue
            if str((status.get("account") or {}).get("id")) == own:
                continue
            post = self._post(status)
            found[post.external_id] = Interaction(InteractionKind.DM, post,
                                                  conversation_id=clean_text(str(conversation.get("id", "")), 64))

        threads = [self._segment(t) for t in thread_ids] or self._recent_threads(own)
        complete: dict[str, frozenset[str]] = {}
        for root in threads[: self.context_threads]:
            response = self.http.get(f"/api/v1/statuses/{root}/context", accept={404},
                                     bucket="GET /api/v1/statuses/:id/context")
            if response.status == 404:
                continue  # our post is gone: its replies stay as they were
            context = self._expect(response, dict)
            present: set[str] = set()
            for status in context.get("descendants") or []:
                if not isinstance(status, dict) or not status.get("id"):
                    continue
                if str((status.get("account") or {}).get("id")) == own:
                    continue
                post = self._post(status)
                present.add(post.external_id)
                if post.external_id in found:
                    continue
                changed = post.edited_at is not None and (floor is None or post.edited_at >= floor)
                if floor and post.created_at and post.created_at < floor and not changed:
                    continue
                kind = InteractionKind.DM if post.visibility == "direct" else InteractionKind.COMMENT
                found[post.external_id] = Interaction(kind, post, on_post=root)
            complete[root] = frozenset(present)

        items = sorted(found.values(), key=lambda i: (i.post.created_at or datetime.min.replace(tzinfo=timezone.utc),
                                                      _id_key(i.post.external_id)))
        newest_time = max((i.post.created_at for i in items if i.post.created_at), default=None)
        previous = parse_time(state.get("t"))
        if newest_time and previous:
            newest_time = max(newest_time, previous)  # an old reply edited now must not move it back
        new_state = {"n": newest_notification,
                     "t": (newest_time or previous or since or datetime.now(timezone.utc)).isoformat()}
        return InteractionBatch(items=items, cursor=json.dumps(new_state, sort_keys=True), threads=complete,
                                more=more)

    def _notifications(self, after_id: str, floor: datetime | None) -> tuple[list[dict], bool]:
        """With a cursor: every mention newer than it (min_id pages walk forward), and whether
        the page bound stopped the walk with more to read. Without: newest first back to
        ``floor`` (one page when there is no floor)."""
        out: list[dict] = []
        base = [("types[]", "mention"), ("limit", str(PAGE))]
        if after_id:
            cursor = after_id
            for _page in range(self.interaction_pages):
                page = self._expect(self.http.get("/api/v1/notifications", params=base + [("min_id", cursor)],
                                                  bucket="GET /api/v1/notifications"), list)
                page = [n for n in page if isinstance(n, dict) and n.get("id")]
                if not page:
                    break
                out.extend(page)
                cursor = max((str(n["id"]) for n in page), key=_id_key)
                if len(page) < PAGE:
                    break
            else:
                return out, True
            return out, False
        max_id = ""
        for _page in range(self.interaction_pages if floor else 1):
            params = base + ([("max_id", max_id)] if max_id else [])
            page = self._expect(self.http.get("/api/v1/notifications", params=params,
                                              bucket="GET /api/v1/notifications"), list)
            page = [n for n in page if isinstance(n, dict) and n.get("id")]
            older = False
            for notification in page:
                created = parse_time(notification.get("created_at"))
                if floor and created and created < floor:
                    older = True
                    continue
                out.append(notification)
            if not page or older or len(page) < PAGE:
                break
            max_id = min((str(n["id"]) for n in page), key=_id_key)
        return out, False

    def _conversations(self, floor: datetime | None) -> list[dict]:
        out: list[dict] = []
        max_id = ""
        for _page in range(self.interaction_pages if floor else 1):
            params = {"limit": PAGE, **({"max_id": max_id} if max_id else {})}
            response = self.http.get("/api/v1/conversations", params=params, bucket="GET /api/v1/conversations")
            page = [c for c in self._expect(response, list) if isinstance(c, dict)]
            older = False
            for conversation in page:
                last = conversation.get("last_status") if isinstance(conversation.get("last_status"), dict) else {}
                created = parse_time(last.get("created_at"))
                if floor and created and created < floor:
                    older = True
                    continue
                out.append(conversation)
            next_url = response.links.get("next")
            if not page or older or len(page) < PAGE or not next_url:
                break
            max_id = dict(_query(next_url)).get("max_id", "")
            if not max_id:
                break
        return out

    def _recent_threads(self, own: str) -> list[str]:
        """The account's posts from the last ``context_days`` that have replies. A reply deep in
        a thread does not change the root's ``replies_count``, so every such thread is read;
        the engine bounds the cost by passing ``thread_ids`` (or tuning the two knobs)."""
        oldest = datetime.now(timezone.utc) - timedelta(days=self.context_days)
        statuses = self._expect(self.http.get(f"/api/v1/accounts/{self._segment(own)}/statuses",
                                              params={"limit": PAGE, "exclude_reblogs": "true"},
                                              bucket="GET /api/v1/accounts/:id/statuses"), list)
        threads = []
        for status in statuses:
            if not isinstance(status, dict) or not status.get("id"):
                continue
            if not self._as_int(status.get("replies_count")):
                continue
            created = parse_time(status.get("created_at"))
            if created and created < oldest:
                continue  # older posts: replies that mention us still arrive as notifications
            threads.append(self._segment(str(status["id"])))
        return threads

    def _classify(self, status: dict, own: str, *, notification_id: str = "") -> Interaction:
        post = self._post(status)
        if post.visibility == "direct":
            return Interaction(InteractionKind.DM, post, notification_id=notification_id)
        if post.in_reply_to and post.in_reply_to_author == own:
            return Interaction(InteractionKind.COMMENT, post, on_post=post.in_reply_to, notification_id=notification_id)
        return Interaction(InteractionKind.MENTION, post, notification_id=notification_id)

    # -- listening ------------------------------------------------------------------------

    def search(self, query: str, *, since: datetime | None = None, limit: int = 40) -> list[NetworkPost]:
        """A single ``#hashtag`` reads the hashtag timeline (works on every server); anything
        else uses ``/api/v2/search`` for statuses, which needs full-text search enabled on the
        server (without it Mastodon answers with no statuses)."""
        query = (query or "").strip()
        if not query:
            return []
        limit = max(1, min(limit, 200))
        tag = _HASHTAG.match(query)
        results: list[NetworkPost] = []
        if tag:
            max_id = ""
            while len(results) < limit:
                params = {"limit": min(PAGE, limit), **({"max_id": max_id} if max_id else {})}
                page = self._expect(self.http.get(f"/api/v1/timelines/tag/{quote(tag.group(1), safe='')}",
                                                  params=params, bucket="GET /api/v1/timelines/tag/:tag"), list)
                page = [s for s in page if isinstance(s, dict) and s.get("id")]
                older = self._collect(page, since, results)
                if older or len(page) < min(PAGE, limit):
                    break
                max_id = min((str(s["id"]) for s in page), key=_id_key)
        else:
            data = self._expect(self.http.get("/api/v2/search", params={"q": query, "type": "statuses",
                                                                         "limit": min(PAGE, limit), "resolve": "false"},
                                              bucket="GET /api/v2/search"), dict)
            page = [s for s in data.get("statuses") or [] if isinstance(s, dict) and s.get("id")]
            self._collect(page, since, results)
        return results[:limit]

    # -- competitors: other accounts' public numbers and posts ----------------------------------

    def _lookup(self, handle: str) -> dict:
        """``GET /api/v1/accounts/lookup?acct=`` (public): ``name`` for this server's people,
        ``name@domain`` for others the server knows."""
        acct = (handle or "").strip().lstrip("@")
        if acct.endswith(f"@{self.domain}"):
            acct = acct[: -len(self.domain) - 1]
        if not _ACCT.match(acct):
            raise Permanent(MSG_BAD_HANDLE, detail=f"handle {handle[:80]!r}")
        response = self.http.get("/api/v1/accounts/lookup", params={"acct": acct}, accept={404},
                                 bucket="GET /api/v1/accounts/lookup")
        if response.status == 404 and "@" in acct:
            # Someone on another server this one has not met yet: ask it to resolve the
            # address (WebFinger) through search, which needs our sign-in.
            data = self._expect(self.http.get("/api/v2/search", params={"q": f"@{acct}", "type": "accounts",
                                                                         "resolve": "true", "limit": 5},
                                              bucket="GET /api/v2/search"), dict)
            found = [a for a in data.get("accounts") or []
                     if isinstance(a, dict) and str(a.get("acct") or "").lower() == acct.lower()]
            if found:
                response = None
                account = found[0]
        if response is not None and response.status == 404:
            raise Permanent(MSG_UNKNOWN_HANDLE, detail=f"lookup {acct}: 404", status=404)
        if response is not None:
            account = self._expect(response, dict)
        if not account.get("id"):
            raise Retryable(MSG_MALFORMED, detail="lookup without an id")
        return account

    def fetch_public_account(self, handle: str) -> Profile:
        account = self._lookup(handle)
        acct = clean_text(str(account.get("acct") or account.get("username") or ""), 200)
        if acct and "@" not in acct:
            acct = f"{acct}@{self.domain}"
        return self._profile(account, external_id=clean_text(str(account["id"]), 64),
                             handle=f"@{acct}" if acct else "")

    def fetch_public_posts(self, handle: str, *, since: datetime | None = None, limit: int = 40) -> list[NetworkPost]:
        """The account's own public posts (no boosts, no replies), newest first."""
        account_id = self._segment(str(self._lookup(handle)["id"]))
        limit = max(1, min(limit, 200))
        results: list[NetworkPost] = []
        max_id = ""
        while len(results) < limit:
            params = {"limit": min(PAGE, limit), "exclude_replies": "true", "exclude_reblogs": "true",
                      **({"max_id": max_id} if max_id else {})}
            page = self._expect(self.http.get(f"/api/v1/accounts/{account_id}/statuses", params=params,
                                              bucket="GET /api/v1/accounts/:id/statuses"), list)
            page = [s for s in page if isinstance(s, dict) and s.get("id")]
            older = self._collect(page, since, results)
            if older or len(page) < min(PAGE, limit):
                break
            max_id = min((str(s["id"]) for s in page), key=_id_key)
        return results[:limit]

    def _collect(self, statuses: list[dict], since: datetime | None, into: list[NetworkPost]) -> bool:
        older = False
        for status in statuses:
            if status.get("reblog"):
                continue
            post = self._post(status)
            if since and post.created_at and post.created_at < since:
                older = True
                continue
            into.append(post)
        return older

    # -- mapping --------------------------------------------------------------------------

    def _post(self, status: dict) -> NetworkPost:
        account = status.get("account") if isinstance(status.get("account"), dict) else {}
        acct = clean_text(str(account.get("acct") or account.get("username") or ""), 200)
        if acct and "@" not in acct:
            acct = f"{acct}@{self.domain}"
        author = Author(
            external_id=clean_text(str(account.get("id") or ""), 64),
            handle=f"@{acct}" if acct else "",
            display_name=clean_text(str(account.get("display_name") or ""), 200),
            url=safe_url(account.get("url")),
            avatar_url=safe_url(account.get("avatar_static") or account.get("avatar")),
            created_at=parse_time(account.get("created_at")),
            followers=self._as_int(account.get("followers_count")),
        )
        html = status.get("content") if isinstance(status.get("content"), str) else ""
        attachments = status.get("media_attachments") if isinstance(status.get("media_attachments"), list) else []
        kinds = tuple(_MEDIA_KIND.get(str(a.get("type") or ""), "image") for a in attachments if isinstance(a, dict))
        card = status.get("card") if isinstance(status.get("card"), dict) else {}
        return NetworkPost(
            media_kinds=kinds,
            link=safe_url(card.get("url")) if card else "",
            external_id=clean_text(str(status.get("id") or ""), 64),
            author=author,
            text=html_to_text(html),
            created_at=parse_time(status.get("created_at")),
            url=safe_url(status.get("url") or status.get("uri")),
            html=html,
            content_warning=clean_text(str(status.get("spoiler_text") or ""), 1000),
            language=clean_text(str(status.get("language") or ""), 16),
            visibility=clean_text(str(status.get("visibility") or ""), 16),
            in_reply_to=clean_text(str(status.get("in_reply_to_id") or ""), 64),
            in_reply_to_author=clean_text(str(status.get("in_reply_to_account_id") or ""), 64),
            media_count=len(attachments),
            edited_at=parse_time(status.get("edited_at")),
            likes=self._as_int(status.get("favourites_count")),
            shares=self._as_int(status.get("reblogs_count")),
            comments=self._as_int(status.get("replies_count")),
        )

    def _ref(self, status: dict) -> PublishedRef:
        return PublishedRef(external_id=str(status["id"]), url=safe_url(status.get("url") or status.get("uri")),
                            published_at=parse_time(status.get("created_at")))

    @staticmethod
    def _segment(value: str) -> str:
        """Ids go into URL paths: only plain id characters, never ``../`` or ``?``."""
        value = str(value or "")
        if not _SAFE_ID.match(value):
            raise Permanent(MSG_BAD_ID, detail=f"id {value[:80]!r}")
        return value

    @staticmethod
    def _expect(response: ApiResponse, kind: type) -> Any:
        if not isinstance(response.data, kind):
            raise Retryable(MSG_MALFORMED, detail=f"expected a JSON {kind.__name__}: {clean_text(response.text, 200)}",
                            status=response.status)
        return response.data


def _load_cursor(cursor: str) -> dict[str, str]:
    if not cursor:
        return {}
    try:
        data = json.loads(cursor)
    except ValueError:
        return {}
    if not isinstance(data, dict):
        return {}
    out = {}
    if isinstance(data.get("n"), str) and (data["n"] == "" or _SAFE_ID.match(data["n"])):
        out["n"] = data["n"]
    if isinstance(data.get("t"), str):
        out["t"] = data["t"]
    return out


def _query(url: str) -> list[tuple[str, str]]:
    return parse_qsl(urlsplit(url).query)
