"""YouTube (Data API v3), for one channel signed in with Google OAuth 2.0.

API references (developers.google.com/youtube/v3): ``videos.insert`` with the resumable upload
protocol (guides/using_resumable_upload_protocol), ``videos.list`` (``part=statistics``,
``part=snippet``), ``videos.delete``, ``thumbnails.set``, ``channels.list`` (``mine=true``,
``part=snippet,statistics,contentDetails``), ``playlistItems.list`` (the uploads playlist),
``commentThreads.list`` (``allThreadsRelatedToChannelId``), ``comments.list`` (``parentId``) and
``comments.insert`` (a reply: ``snippet.parentId``).

Uploading a video (resumable protocol):

1. ``POST /upload/youtube/v3/videos?uploadType=resumable&part=snippet,status`` with the video's
   metadata as JSON and ``X-Upload-Content-Length``/``-Type``: the answer's ``Location`` is the
   upload session. It is stored at once (``store.DatabaseUploads``, encrypted), keyed by the
   target's idempotency marker.
2. ``PUT`` the file to the session in chunks (multiples of 256 KiB) with ``Content-Range``:
   ``308 Resume Incomplete`` with ``Range: bytes=0-N`` says how much YouTube has; the last
   chunk is answered ``200``/``201`` with the video resource.
3. When a chunk is interrupted (the connection drops, a 5xx), ``PUT`` with no body and
   ``Content-Range: bytes */<total>`` asks how much arrived, and the upload goes on from the
   reported ``Range``. A consumer that crashed finds the stored session on the next attempt
   and resumes the same way, instead of uploading again.
4. The video's id is stored as soon as YouTube gives it; the thumbnail (an image attached next
   to the video) is set with ``thumbnails.set``. At most once: a later attempt that finds the
   id only finishes the thumbnail, and ``find_published`` recognises the video by the marker,
   which goes in as one of its tags.

The file is streamed from disk in blocks: a 1 GB video is never read into memory.

Every call spends the project's daily quota units first (``quota.py``).
"""

from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
from django.utils import translation
from django.utils.functional import lazy
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
from ..errors import Ambiguous, AuthExpired, ConnectorError, Permanent, RateLimited, Retryable, fill
from ..http import (
    MSG_AUTH,
    MSG_MALFORMED,
    MSG_NOT_FOUND,
    ApiResponse,
    clean_text,
    error_for_status,
    parse_time,
    safe_url,
)
from . import options as opts
from . import quota as q
from .store import MemoryUploads, UploadSession, text_options

log = logging.getLogger(__name__)

DEFAULT_API = "https://www.googleapis.com"
DEFAULT_TOKEN = "https://oauth2.googleapis.com"  # nosec B105 # not a password: an empty value, a URL or a regex
WATCH = "https://www.youtube.com/watch?v="
CHUNK_UNIT = 256 * 1024  # every chunk but the last must be a multiple of 256 KiB
CHUNK = 32 * CHUNK_UNIT  # 8 MiB
READ_BLOCK = 256 * 1024
MAX_COMMENT = 10_000
THUMBNAIL_LIMIT = 2 * 1024 * 1024
VIDEO_LIMIT = 256 * 1024 ** 3  # 256 GB
VIDEO_TYPES = frozenset({"video/mp4", "video/quicktime", "video/webm", "video/x-msvideo", "video/x-matroska",
                         "video/mpeg", "video/3gpp", "video/x-flv", "video/x-ms-wmv"})
THUMBNAIL_TYPES = frozenset({"image/jpeg", "image/png"})
_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_COMMENT_ID = re.compile(r"^[A-Za-z0-9_-]{1,100}(\.[A-Za-z0-9_-]{1,100})?$")

MSG_NO_VIDEO = _("A YouTube post needs exactly one video attached (and, if you like, one JPEG or PNG image as "
                 "its thumbnail).")
MSG_VIDEO_TYPE = _("YouTube does not accept this kind of file as a video. Use MP4, MOV, WebM, AVI or MKV.")
MSG_THUMBNAIL = _("A YouTube thumbnail must be a JPEG or PNG image of at most 2 MB.")
MSG_FIELDS = _("YouTube would refuse this video's details: %(problems)s")
MSG_REFUSED = _("YouTube refused this: %(reason)s")
MSG_UPLOAD_STALLED = _("The video upload to YouTube was interrupted several times. It will resume from where it "
                       "stopped on the next attempt.")
MSG_UPLOAD_UNCONFIRMED = _("The whole video was sent to YouTube but its answer was lost. We will check on YouTube "
                           "before trying again.")
MSG_SESSION_EXPIRED = _("YouTube's upload session for this video expired. The upload will start again.")
MSG_RATE = _("YouTube asked us to slow down. We will try again in %(seconds)s seconds.")
MSG_UPLOAD_LIMIT = _("This YouTube channel has reached the number of videos YouTube lets it upload for now. "
                     "We will try again later.")
MSG_COMMENTS_DISABLED = _("Comments are turned off for this YouTube video.")
MSG_FORBIDDEN = _("YouTube did not allow this: %(reason)s. Reconnect the channel and approve every permission, or "
                  "check the channel's settings on YouTube.")
MSG_BAD_ID = _("That is not a valid YouTube id.")
MSG_EMPTY_REPLY = _("A reply needs some text.")
MSG_REPLY_LONG = _("A YouTube comment is at most 10,000 characters.")
MSG_APP_MISSING = _("The Google app is not configured, so the YouTube sign-in cannot be renewed. Set "
                    "YOUTUBE_CLIENT_ID and YOUTUBE_CLIENT_SECRET, then reconnect the account.")
MSG_THUMBNAIL_REFUSED = _("The video is on YouTube, but YouTube did not take its thumbnail; set it in YouTube "
                          "Studio. YouTube said:")
MSG_THUMBNAIL_FORBIDDEN = _("YouTube lets a channel set custom thumbnails only once it is verified (a phone "
                            "check in YouTube Studio).")
MSG_REPLY_UNCHECKED = _("We could not read the whole YouTube thread to check whether the reply went out.")
MSG_REFRESH_REFUSED = _("Google no longer accepts this YouTube channel's sign-in (it was revoked, or it expired). "
                        "Reconnect the account.")


def _join_now(items) -> str:
    return " ".join(str(i) for i in items)


# The problems joined when the message is rendered, in the reader's language.
_joined = lazy(_join_now, str)


class _Interrupted(Exception):
    """A chunk did not get a readable answer: ask the session how much arrived."""


def _google_error(data: Any) -> tuple[str, str]:
    """(reason, message) from Google's error body ``{"error": {"errors": [{"reason"}], "message"}}``."""
    error = data.get("error") if isinstance(data, dict) else None
    if not isinstance(error, dict):
        return "", ""
    reason = ""
    errors = error.get("errors")
    if isinstance(errors, list) and errors and isinstance(errors[0], dict):
        reason = str(errors[0].get("reason") or "")
    status = error.get("status")
    return clean_text(reason or (status if isinstance(status, str) else ""), 100), clean_text(
        str(error.get("message") or ""), 500)


class YouTubeConnector(Connector):
    network = "youtube"  # Network.YOUTUBE
    supports_refresh = True  # access tokens last an hour
    default_base_url = DEFAULT_API
    thread_ids_widen = True

    def __init__(self, *, client_id: str = "", client_secret: str = "", token_url: str = "",
                 quota=None, uploads=None, options_for: Callable[[PostPayload], opts.VideoOptions] | None = None,
                 chunk_size: int = CHUNK, max_resumes: int = 5, interaction_pages: int = 3,
                 find_pages: int = 2, **kwargs):
        super().__init__(**kwargs)
        self.client_id = client_id
        self.client_secret = client_secret
        self.token_url = (token_url or "").rstrip("/")
        self.quota = quota if quota is not None else q.MemoryLedger()
        self.uploads = uploads if uploads is not None else MemoryUploads()
        self.options_for = options_for or text_options
        self.chunk_size = max(CHUNK_UNIT, chunk_size - chunk_size % CHUNK_UNIT)
        self.max_resumes = max_resumes
        self.interaction_pages = interaction_pages
        self.find_pages = find_pages
        self.sleep = time.sleep
        self.uploads_playlist = ""
        self._known_counts: dict[str, int] = {}
        self._seen_counts: dict[str, int] = {}

    @classmethod
    def for_account(cls, account, **kwargs) -> YouTubeConnector:
        from .quota import DatabaseLedger
        from .store import DatabaseUploads, database_options

        kwargs.setdefault("quota", DatabaseLedger())
        kwargs.setdefault("uploads", DatabaseUploads(account.pk))
        kwargs.setdefault("options_for", database_options)
        return super().for_account(account, **kwargs)

    # -- sign-in ---------------------------------------------------------------------------

    def _app(self) -> tuple[str, str, str]:
        client_id, secret, token = self.client_id, self.client_secret, self.token_url
        if not client_id or not token:
            try:
                from . import connect

                app_id, app_secret = connect.app()
                client_id, secret = client_id or app_id, secret or app_secret
                token = token or connect.token_base()
            except Exception:  # noqa: BLE001 - no Django settings (a benchmark)
                token = token or DEFAULT_TOKEN
        return client_id, secret, token

    @property
    def project(self) -> str:
        """The quota is per Google Cloud project: its OAuth client id names it."""
        return self._app()[0] or "default"

    def refresh_credentials(self) -> Credentials:
        from .connect import refresh_tokens

        client_id, secret, token = self._app()
        if not client_id:
            raise AuthExpired(MSG_APP_MISSING, detail="NETWORK_APPS['youtube'] has no client_id")
        if not self.credentials.refresh_token:
            raise AuthExpired(MSG_REFRESH_REFUSED, detail="no refresh token stored")
        fresh = refresh_tokens(token, client_id, secret, self.credentials, http_config=self.http.config)
        self._credentials_changed(fresh)
        return fresh

    def _can_refresh(self) -> bool:
        return bool(self.credentials.refresh_token and self._app()[0])

    def _fresh_token(self) -> None:
        if self._can_refresh() and self.credentials.expires_within(timedelta(seconds=60)):
            self.refresh_credentials()

    # -- quota -----------------------------------------------------------------------------

    def _spend(self, operation: str) -> None:
        units = q.COSTS.get(operation, 1)
        reserve = q.READ_RESERVE if operation in q.READS else 0
        ok, used = self.quota.try_spend(self.project, units, reserve=reserve)
        if not ok:
            raise q.quota_error(used, units, self.quota.limit, reserve=reserve)

    def quota_used(self) -> int:
        return self.quota.used(self.project)

    # -- one call --------------------------------------------------------------------------

    def _call(self, method: str, path: str, *, op: str, params: Any = None, json_body: Any = None,
              data: Any = None, files: Any = None, content_headers: dict[str, str] | None = None,
              expect_json: bool = True, missing_ok: bool = False) -> ApiResponse:
        """One authenticated call: quota units spent first; an access token about to expire is
        renewed before, one Google refuses (401) renewed once and the call repeated."""
        self._spend(op)
        self._fresh_token()
        for attempt in (0, 1):
            try:
                response = self.http.request(method, path, params=params, json_body=json_body, data=data,
                                             files=files, headers=content_headers, expect_json=expect_json,
                                             accept={400, 403, 404, 409})
            except AuthExpired:
                if attempt == 0 and self._can_refresh():
                    self.refresh_credentials()
                    continue
                raise
            if response.status == 404 and missing_ok:
                return response
            if response.status >= 400:
                raise self._error(response.status, response.data, response.text, response.headers)
            return response
        raise AssertionError("unreachable")  # pragma: no cover

    def _error(self, status: int, data: Any, text: str, headers: httpx.Headers | None = None) -> ConnectorError:
        reason, message = _google_error(data)
        detail = clean_text(f"{status} {reason} {message or text}".strip(), 1000)
        if reason in ("quotaExceeded", "dailyLimitExceeded"):
            # The project's units are gone for today, whatever our ledger said.
            self.quota.exhaust(self.project)
            err = q.quota_error(self.quota.limit, 1, self.quota.limit)
            err.detail, err.status = detail, status
            return err
        if reason in ("rateLimitExceeded", "userRateLimitExceeded", "RESOURCE_EXHAUSTED") or status == 429:
            wait = 60.0
            base = error_for_status("GET", 429, headers or httpx.Headers(), data, text)
            if base is not None and base.retry_after:
                wait = base.retry_after
            return RateLimited(fill(MSG_RATE, seconds=int(wait)), retry_after=wait, detail=detail, status=status)
        if reason == "uploadLimitExceeded":
            return RateLimited(MSG_UPLOAD_LIMIT, retry_after=6 * 3600.0, detail=detail, status=status)
        if reason in ("commentsDisabled",):
            return Permanent(MSG_COMMENTS_DISABLED, detail=detail, status=status)
        if reason in ("authError", "invalidCredentials"):
            return AuthExpired(MSG_AUTH, detail=detail, status=status)
        if status == 404:
            return Permanent(MSG_NOT_FOUND, detail=detail, status=status)
        if status == 403:
            return Permanent(fill(MSG_FORBIDDEN, reason=message or reason or "403"), detail=detail, status=status)
        if status >= 500:
            return Retryable(MSG_MALFORMED, detail=detail, status=status)
        return Permanent(fill(MSG_REFUSED, reason=message or reason or str(status)), detail=detail, status=status)

    @staticmethod
    def _expect(response: ApiResponse) -> dict:
        if not isinstance(response.data, dict):
            raise Retryable(MSG_MALFORMED, detail=f"expected a JSON object: {clean_text(response.text, 200)}",
                            status=response.status)
        return response.data

    @staticmethod
    def _items(data: dict) -> list[dict]:
        items = data.get("items")
        if items is None:
            return []
        if not isinstance(items, list):
            raise Retryable(MSG_MALFORMED, detail="items is not a list")
        return [i for i in items if isinstance(i, dict)]

    @staticmethod
    def _segment(value: str, pattern: re.Pattern = _ID) -> str:
        value = str(value or "")
        if not pattern.match(value):
            raise Permanent(MSG_BAD_ID, detail=f"id {value[:80]!r}")
        return value

    # -- the channel -----------------------------------------------------------------------

    def _channel(self, parts: str) -> dict:
        params = {"part": parts}
        if self.account_id:
            params["id"] = self.account_id
        else:
            params["mine"] = "true"
        items = self._items(self._expect(self._call("GET", "/youtube/v3/channels", op="channels.list", params=params)))
        if not items or not _ID.match(str(items[0].get("id") or "")):
            raise Permanent(fill(MSG_REFUSED, reason="no YouTube channel for this Google account"),
                            detail="channels.list: no channel")
        channel = items[0]
        self.account_id = str(channel["id"])
        uploads = ((channel.get("contentDetails") or {}).get("relatedPlaylists") or {}).get("uploads")
        if isinstance(uploads, str) and _ID.match(uploads):
            self.uploads_playlist = uploads
        return channel

    def fetch_profile(self) -> Profile:
        channel = self._channel("snippet,statistics,contentDetails")
        snippet = channel.get("snippet") if isinstance(channel.get("snippet"), dict) else {}
        stats = channel.get("statistics") if isinstance(channel.get("statistics"), dict) else {}
        custom = clean_text(str(snippet.get("customUrl") or ""), 100)
        handle = custom if custom.startswith("@") else (f"@{custom}" if custom else self.account_id)
        thumbs = snippet.get("thumbnails") if isinstance(snippet.get("thumbnails"), dict) else {}
        avatar = ""
        for size in ("medium", "default", "high"):
            if isinstance(thumbs.get(size), dict):
                avatar = safe_url(thumbs[size].get("url"))
                if avatar:
                    break
        hidden = bool(stats.get("hiddenSubscriberCount"))
        fields = {}
        views = self._as_int(stats.get("viewCount"))
        if views is not None:
            fields["views"] = str(views)
        return Profile(
            external_id=self.account_id, handle=handle,
            display_name=clean_text(str(snippet.get("title") or ""), 200),
            url=f"https://www.youtube.com/{custom}" if custom.startswith("@") else
            f"https://www.youtube.com/channel/{self.account_id}",
            avatar_url=avatar, bio=clean_text(str(snippet.get("description") or ""), 5000),
            followers=None if hidden else self._as_int(stats.get("subscriberCount")),
            posts=self._as_int(stats.get("videoCount")), fields=fields)

    def limits(self) -> Limits:
        """YouTube's rules: the description is the text (5,000 bytes), one video (up to 256 GB)
        and one thumbnail image (JPEG/PNG, 2 MB)."""
        return Limits(max_characters=opts.MAX_DESCRIPTION_BYTES, counting="utf8_bytes", max_media=2,
                      image_size_limit=THUMBNAIL_LIMIT, video_size_limit=VIDEO_LIMIT,
                      media_types=VIDEO_TYPES | THUMBNAIL_TYPES, content_warnings=False,
                      visibilities=frozenset({Visibility.PUBLIC, Visibility.UNLISTED, Visibility.DIRECT}),
                      threads=False)

    # -- publishing ------------------------------------------------------------------------

    def _split_media(self, payload: PostPayload) -> tuple[MediaItem, MediaItem | None]:
        videos = [m for m in payload.media if (m.mime_type or "").startswith("video/")]
        images = [m for m in payload.media if (m.mime_type or "").startswith("image/")]
        if len(videos) != 1 or len(images) > 1 or len(videos) + len(images) != len(payload.media):
            raise Permanent(MSG_NO_VIDEO, detail=f"{len(videos)} videos, {len(images)} images")
        video = videos[0]
        if video.mime_type not in VIDEO_TYPES:
            raise Permanent(MSG_VIDEO_TYPE, detail=video.mime_type[:80])
        thumbnail = images[0] if images else None
        if thumbnail is not None and (thumbnail.mime_type not in THUMBNAIL_TYPES or thumbnail.size > THUMBNAIL_LIMIT):
            raise Permanent(MSG_THUMBNAIL, detail=f"{thumbnail.mime_type[:40]} {thumbnail.size} bytes")
        return video, thumbnail

    def video_options(self, payload: PostPayload) -> opts.VideoOptions:
        options = self.options_for(payload)
        if options.publish_at is not None and options.publish_at <= datetime.now(timezone.utc) + timedelta(minutes=1):
            # The post went out after the video's own publication time (a retry, a paused
            # account): YouTube would have made it public by now, so it goes out public.
            log.info("youtube: publishAt %s has passed; uploading as public", options.publish_at.isoformat())
            options = replace(options, privacy="public", publish_at=None)
        if payload.marker and payload.marker not in options.tags:
            # The marker finds the video again after a lost answer (find_published).
            options = replace(options, tags=(*options.tags, payload.marker))
        found = opts.problems(options)
        if found:
            with translation.override("en"):  # the delivery log's detail is in English
                detail = "; ".join(str(p) for p in found)[:500]
            raise Permanent(fill(MSG_FIELDS, problems=_joined(found)), detail=detail)
        return options

    @staticmethod
    def metadata(options: opts.VideoOptions) -> dict:
        status: dict[str, Any] = {"privacyStatus": options.privacy, "selfDeclaredMadeForKids": options.made_for_kids}
        if options.publish_at is not None:
            status["publishAt"] = options.publish_at.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        snippet = {"title": options.title, "description": options.description, "categoryId": options.category_id}
        if options.tags:
            snippet["tags"] = list(options.tags)
        return {"snippet": snippet, "status": status}

    @staticmethod
    def _fingerprint(item: MediaItem) -> str:
        return f"{item.size}:{item.filename}"[:200]

    def publish(self, payload: PostPayload) -> PublishedRef:
        video, thumbnail = self._split_media(payload)
        options = self.video_options(payload)
        marker = payload.marker
        session = self.uploads.get(marker) if marker else None
        fresh = False
        if session is None or (not session.video_id and (not session.session_uri
                                                          or session.fingerprint != self._fingerprint(video))):
            session, fresh = self._start_session(video, options, marker), True
        if not session.video_id:
            resource = self._upload(video, session, marker, fresh=fresh)
            session = replace(session, video_id=self._video_id(resource), session_uri="")
            self.uploads.save(marker, session)
        warnings: tuple = ()
        if thumbnail is not None and not session.thumbnail_done:
            try:
                self._set_thumbnail(session.video_id, thumbnail)
            except (Permanent, RateLimited) as err:
                warnings = (MSG_THUMBNAIL_REFUSED,
                            MSG_THUMBNAIL_FORBIDDEN if err.status == 403 and not isinstance(err, RateLimited)
                            else err.user_message)
                # The video is on YouTube: a thumbnail YouTube refuses (a channel not verified
                # for custom thumbnails) or that would wait for tomorrow's quota does not turn
                # a published video into a failed post. A passing failure (Retryable) does
                # retry: the next attempt finds the video's id and only sets the thumbnail.
                log.warning("youtube video %s published without its thumbnail: %s", session.video_id,
                            err.log_line())
            session = replace(session, thumbnail_done=True)
            self.uploads.save(marker, session)
        return PublishedRef(external_id=session.video_id, url=WATCH + session.video_id,
                            published_at=datetime.now(timezone.utc), warnings=warnings)

    def _start_session(self, video: MediaItem, options: opts.VideoOptions, marker: str) -> UploadSession:
        total = video.size
        if total <= 0:
            raise Permanent(MSG_NO_VIDEO, detail="empty video file")
        try:
            response = self._call(
                "POST", "/upload/youtube/v3/videos", op="videos.insert", expect_json=False,
                params={"uploadType": "resumable", "part": "snippet,status"}, json_body=self.metadata(options),
                content_headers={"X-Upload-Content-Length": str(total), "X-Upload-Content-Type": video.mime_type})
        except Ambiguous as err:
            # A session without any bytes creates no video: starting again is safe.
            raise Retryable(err.user_message, detail=err.detail, status=err.status) from err
        location = response.headers.get("location", "")
        if not location:
            raise Retryable(MSG_MALFORMED, detail="resumable session without a Location", status=response.status)
        session = UploadSession(session_uri=location, fingerprint=self._fingerprint(video), total=total)
        self.uploads.save(marker, session)
        return session

    def _session_url(self, uri: str) -> str:
        # The session must be on the API's own server: never send the token elsewhere.
        url, base = httpx.URL(uri), httpx.URL(self.base_url)
        if (url.scheme, url.host, url.port) != (base.scheme, base.host, base.port):
            raise Permanent(MSG_MALFORMED, detail=f"upload session off the API server: {clean_text(uri, 200)!r}")
        return uri

    def _put(self, uri: str, headers: dict[str, str], content=b"") -> tuple[int, httpx.Headers, Any, str]:
        return self._raw("PUT", uri, headers, content)

    def _raw(self, method: str, uri: str, headers: dict[str, str], content=b"") -> tuple[int, httpx.Headers, Any, str]:
        """One request with a raw (streamed) body, through the account's HTTP client (its
        timeouts and address guard); transport failures raise ``_Interrupted``."""
        self._fresh_token()
        client = self.http._http()
        send = {"Authorization": f"Bearer {self.credentials.access_token}", **headers}
        request = client.build_request(method, self._session_url(uri), content=content, headers=send)
        try:
            response = client.send(request, stream=True)
            try:
                body = response.read()
            finally:
                response.close()
        except httpx.TransportError as exc:
            raise _Interrupted(f"{type(exc).__name__}: {exc}") from exc
        text = body.decode("utf-8", errors="replace")
        try:
            data = json.loads(text) if text.strip() else None
        except ValueError:
            data = None
        return response.status_code, response.headers, data, text

    @staticmethod
    def _range_end(headers: httpx.Headers) -> int:
        """``Range: bytes=0-N`` -> N + 1 bytes received; no header -> none."""
        match = re.fullmatch(r"\s*bytes=0-(\d+)\s*", headers.get("range", ""))
        return int(match.group(1)) + 1 if match else 0

    def _blocks(self, item: MediaItem, start: int, length: int) -> Iterator[bytes]:
        if item.content is not None:
            view = memoryview(item.content)
            for offset in range(start, start + length, READ_BLOCK):
                yield bytes(view[offset:min(offset + READ_BLOCK, start + length)])
            return
        with open(Path(item.path), "rb") as handle:
            handle.seek(start)
            left = length
            while left > 0:
                block = handle.read(min(READ_BLOCK, left))
                if not block:
                    raise OSError(f"{item.filename}: the file got shorter during the upload")
                left -= len(block)
                yield block

    def _upload(self, video: MediaItem, session: UploadSession, marker: str, *, fresh: bool) -> dict:
        """Send the file to the session from wherever YouTube says it is (a new session from
        the start, a stored one from its reported ``Range``); the video resource."""
        total = session.total
        offset: int | None = 0 if fresh else None
        resumes = 0
        sent_all = False  # the last chunk went out whole: the video may exist
        while True:
            if offset is None:
                try:
                    done, offset = self._status(session, marker)
                except _Interrupted as exc:
                    resumes += 1
                    if resumes > self.max_resumes:
                        if sent_all:
                            raise Ambiguous(MSG_UPLOAD_UNCONFIRMED, detail=f"status query: {exc}"[:300]) from None
                        raise Retryable(MSG_UPLOAD_STALLED, detail=f"status query: {exc}"[:300]) from None
                    self.sleep(min(30.0, 0.5 * 2 ** resumes))
                    continue
                if done is not None:
                    return done
            end = min(offset + self.chunk_size, total)
            sent_all = end == total
            headers = {"Content-Length": str(end - offset), "Content-Type": video.mime_type,
                       "Content-Range": f"bytes {offset}-{end - 1}/{total}"}
            try:
                status, rheaders, data, text = self._put(session.session_uri, headers,
                                                         self._blocks(video, offset, end - offset))
            except _Interrupted as exc:
                log.info("youtube upload interrupted at %s/%s: %s", offset, total, exc)
                resumes += 1
                if resumes > self.max_resumes:
                    raise Retryable(MSG_UPLOAD_STALLED, detail=str(exc)[:300]) from None
                offset = None
                continue
            if status == 308:
                offset = self._range_end(rheaders)
                continue
            if status in (200, 201):
                return self._resource(data, text, status)
            if status in (404, 410):
                self.uploads.forget(marker)
                raise Retryable(MSG_SESSION_EXPIRED, detail=f"{status} on the upload session", status=status)
            if status >= 500 or status == 408:
                resumes += 1
                if resumes > self.max_resumes:
                    raise Retryable(MSG_UPLOAD_STALLED, detail=f"{status} on a chunk", status=status)
                self.sleep(min(30.0, 0.5 * 2 ** resumes))  # Google asks for exponential backoff
                offset = None
                continue
            if status == 401:
                raise AuthExpired(MSG_AUTH, detail="401 on the upload session", status=401)
            raise self._error(status, data, text, rheaders)

    def _status(self, session: UploadSession, marker: str) -> tuple[dict | None, int]:
        """Ask the session how much arrived: (the video resource if complete, next offset).
        No answer (a dropped connection, a 5xx) raises ``_Interrupted``: ask again later."""
        status, headers, data, text = self._put(
            session.session_uri, {"Content-Length": "0", "Content-Range": f"bytes */{session.total}"})
        if status in (200, 201):
            return self._resource(data, text, status), session.total
        if status == 308:
            return None, self._range_end(headers)
        if status in (404, 410):
            self.uploads.forget(marker)
            raise Retryable(MSG_SESSION_EXPIRED, detail=f"{status} on the upload session status", status=status)
        if status == 401:
            raise AuthExpired(MSG_AUTH, detail="401 on the upload session", status=401)
        if status >= 500:
            raise _Interrupted(f"{status} on the status query")
        raise self._error(status, data, text, headers)

    def _resource(self, data: Any, text: str, status: int) -> dict:
        if not isinstance(data, dict) or not _ID.match(str(data.get("id") or "")):
            raise Ambiguous(MSG_UPLOAD_UNCONFIRMED, detail=f"{status}: {clean_text(text, 200)}", status=status)
        return data

    @staticmethod
    def _video_id(resource: dict) -> str:
        return str(resource["id"])

    def _set_thumbnail(self, video_id: str, image: MediaItem) -> None:
        """``thumbnails.set``: the image as the request body (media upload, at most 2 MB)."""
        self._spend("thumbnails.set")
        query = urlencode({"videoId": self._segment(video_id), "uploadType": "media"})
        url = f"{self.base_url}/upload/youtube/v3/thumbnails/set?{query}"
        body = image.read()
        for attempt in (0, 1):
            try:
                status, headers, data, text = self._raw("POST", url, {"Content-Type": image.mime_type,
                                                                      "Content-Length": str(len(body))}, body)
            except _Interrupted as exc:
                # Setting a thumbnail twice is harmless: the video is stored, the next attempt
                # sets it again.
                raise Retryable(MSG_MALFORMED, detail=f"thumbnails.set: {exc}"[:300]) from None
            if status == 401 and attempt == 0 and self._can_refresh():
                self.refresh_credentials()
                continue
            if status == 401:
                raise AuthExpired(MSG_AUTH, detail="401 on thumbnails.set", status=401)
            if 200 <= status < 300:
                return
            raise self._error(status, data, text, headers)

    def delete(self, external_id: str) -> bool:
        response = self._call("DELETE", "/youtube/v3/videos", op="videos.delete", expect_json=False,
                              params={"id": self._segment(external_id)}, missing_ok=True)
        return response.status != 404

    def find_published(self, payload: PostPayload, *, since: datetime) -> PublishedRef | None:
        """The video carrying this target's marker: the stored id, else the channel's newest
        uploads (``playlistItems.list`` then ``videos.list`` for their tags). For a reply from
        the inbox (``reply_to`` set): the channel's comment with the same text in that thread."""
        if payload.reply_to:
            return self._find_reply(payload, since)
        session = self.uploads.get(payload.marker) if payload.marker else None
        if session is not None and session.video_id:
            return PublishedRef(external_id=session.video_id, url=WATCH + session.video_id)
        if not payload.marker:
            return None
        if not self.uploads_playlist:
            self._channel("contentDetails")
        if not self.uploads_playlist:
            return None
        page_token = ""  # nosec B105 # not a password: an empty value, a URL or a regex
        for _page in range(self.find_pages):
            params = {"part": "contentDetails", "playlistId": self.uploads_playlist, "maxResults": 50}
            if page_token:
                params["pageToken"] = page_token
            data = self._expect(self._call("GET", "/youtube/v3/playlistItems", op="playlistItems.list",
                                           params=params))
            ids = []
            older = False
            for item in self._items(data):
                details = item.get("contentDetails") if isinstance(item.get("contentDetails"), dict) else {}
                vid = str(details.get("videoId") or "")
                at = parse_time(details.get("videoPublishedAt"))
                if at is not None and at < since - timedelta(minutes=5):
                    older = True
                if _ID.match(vid):
                    ids.append(vid)
            if ids:
                videos = self._expect(self._call("GET", "/youtube/v3/videos", op="videos.list",
                                                 params={"part": "snippet", "id": ",".join(ids)}))
                for video in self._items(videos):
                    tags = (video.get("snippet") or {}).get("tags") or []
                    if isinstance(tags, list) and payload.marker in tags:
                        vid = str(video.get("id"))
                        self.uploads.save(payload.marker, UploadSession(video_id=vid))
                        return PublishedRef(external_id=vid, url=WATCH + vid,
                                            published_at=parse_time((video.get("snippet") or {}).get("publishedAt")))
            page_token = str(data.get("nextPageToken") or "")
            if older or not page_token:
                break
        return None

    def _find_reply(self, payload: PostPayload, since: datetime) -> PublishedRef | None:
        """``comments.list parentId``: a reply by our channel, with the same text (normalised),
        written since ``since``. A thread that cannot be read to its end raises (the inbox then
        says it cannot tell, and does not send it again)."""
        parent = self._segment(payload.reply_to, _COMMENT_ID).split(".", 1)[0]
        if not self.account_id:
            self._channel("contentDetails")
        want = normalize_text(payload.text)
        earliest = since - timedelta(minutes=5)
        page_token = ""  # nosec B105 # not a password: an empty value, a URL or a regex
        for _page in range(self.find_pages + 3):
            params = {"part": "snippet", "parentId": parent, "maxResults": 100, "textFormat": "plainText"}
            if page_token:
                params["pageToken"] = page_token
            data = self._expect(self._call("GET", "/youtube/v3/comments", op="comments.list", params=params))
            for comment in self._items(data):
                snippet = comment.get("snippet") if isinstance(comment.get("snippet"), dict) else {}
                author = snippet.get("authorChannelId") if isinstance(snippet.get("authorChannelId"), dict) else {}
                comment_id = str(comment.get("id") or "")
                at = parse_time(snippet.get("publishedAt"))
                if (str(author.get("value") or "") != self.account_id or not _COMMENT_ID.match(comment_id)
                        or at is None or at < earliest):
                    continue
                if normalize_text(str(snippet.get("textOriginal") or "")) == want:
                    return PublishedRef(external_id=comment_id, published_at=at)
            page_token = str(data.get("nextPageToken") or "")
            if not page_token:
                return None
        raise Retryable(MSG_REPLY_UNCHECKED, detail=f"comments.list {parent}: more pages than we read")

    # -- statistics --------------------------------------------------------------------------

    def fetch_post_metrics(self, external_ids: Sequence[str]) -> dict[str, PostMetrics]:
        """``videos.list part=statistics``: views, likes and comments (no reach or impressions:
        those are in YouTube Analytics, not the Data API). A video YouTube does not return is
        gone."""
        ids = [i for i in dict.fromkeys(external_ids) if _ID.match(str(i or ""))]
        out: dict[str, PostMetrics] = {}
        for start in range(0, len(ids), 50):
            batch = ids[start:start + 50]
            data = self._expect(self._call("GET", "/youtube/v3/videos", op="videos.list",
                                           params={"part": "statistics", "id": ",".join(batch)}))
            for video in self._items(data):
                vid = str(video.get("id") or "")
                stats = video.get("statistics") if isinstance(video.get("statistics"), dict) else {}
                if vid in batch:
                    out[vid] = PostMetrics(external_id=vid, video_views=self._as_int(stats.get("viewCount")),
                                           likes=self._as_int(stats.get("likeCount")),
                                           comments=self._as_int(stats.get("commentCount")))
            for vid in batch:
                out.setdefault(vid, PostMetrics(external_id=vid, exists=False))
        return out

    # -- comments ------------------------------------------------------------------------------

    def fetch_interactions(self, since: datetime | None = None, *, cursor: str = "",
                           thread_ids: Sequence[str] = ()) -> InteractionBatch:
        """New and edited comments on the channel's videos, oldest first
        (``commentThreads.list allThreadsRelatedToChannelId``, newest threads first, up to
        ``interaction_pages`` pages; a thread's replies beyond the five YouTube embeds are read
        with ``comments.list parentId``). The cursor keeps the newest time seen; when the page
        bound stops a read, it keeps the next page instead, so the next call goes on from there.

        ``thread_ids`` are not re-read: every thread of the channel's videos is already in
        ``allThreadsRelatedToChannelId``, and re-reading each recent video's threads on every
        poll would spend quota units the uploads need (deleted comments are not detected)."""
        state = _load_cursor(cursor)
        # Each long thread's reply count when its replies were last read: comments.list only
        # for a thread whose count changed (one unit per thread per poll otherwise).
        self._known_counts: dict[str, int] = dict(state.get("r") or {})
        self._seen_counts: dict[str, int] = {}
        watermark = state.get("w") or since
        newest = state.get("n") or watermark
        page_token = state.get("p") or ""
        if not self.account_id:
            self._channel("contentDetails")
        own = self.account_id
        found: dict[str, Interaction] = {}
        more = False
        for page in range(self.interaction_pages):
            params = {"part": "snippet,replies", "allThreadsRelatedToChannelId": own, "maxResults": 100,
                      "order": "time", "textFormat": "plainText"}
            if page_token:
                params["pageToken"] = page_token
            data = self._expect(self._call("GET", "/youtube/v3/commentThreads", op="commentThreads.list",
                                           params=params))
            all_old = True
            for thread in self._items(data):
                for comment, parent, video_id in self._thread_comments(thread):
                    snippet = comment.get("snippet") if isinstance(comment.get("snippet"), dict) else {}
                    changed = parse_time(snippet.get("updatedAt")) or parse_time(snippet.get("publishedAt"))
                    if changed is None or (watermark is not None and changed <= watermark):
                        continue
                    all_old = False
                    newest = changed if newest is None or changed > newest else newest
                    author = snippet.get("authorChannelId") if isinstance(snippet.get("authorChannelId"), dict) else {}
                    if str(author.get("value") or "") == own:
                        continue  # the channel's own replies
                    item = self._interaction(comment, parent, video_id)
                    if item is not None:
                        found[item.post.external_id] = item
            page_token = str(data.get("nextPageToken") or "")
            if all_old or not page_token:
                page_token = ""  # nosec B105 # not a password: an empty value, a URL or a regex
                break
            if page == self.interaction_pages - 1:
                more = True
        # Stopped at the page bound: the next call goes on from the next page with the same
        # watermark (older unread comments are not skipped); done: the newest time seen.
        counts = {**self._seen_counts, **{k: v for k, v in self._known_counts.items() if k not in self._seen_counts}}
        next_cursor = _dump_cursor({"w": watermark, "n": newest, "p": page_token, "r": counts} if more
                                   else {"w": newest, "r": counts})
        items = sorted(found.values(), key=lambda i: i.post.edited_at or i.post.created_at or datetime.min.replace(
            tzinfo=timezone.utc))
        return InteractionBatch(items=items, cursor=next_cursor, more=more)

    def _thread_comments(self, thread: dict) -> Iterator[tuple[dict, str, str]]:
        snippet = thread.get("snippet") if isinstance(thread.get("snippet"), dict) else {}
        top = snippet.get("topLevelComment") if isinstance(snippet.get("topLevelComment"), dict) else None
        video_id = str(snippet.get("videoId") or "")
        thread_id = str(thread.get("id") or "")
        if top is None or not _COMMENT_ID.match(thread_id):
            return
        yield top, "", video_id
        embedded = (thread.get("replies") or {}).get("comments") if isinstance(thread.get("replies"), dict) else None
        replies = [r for r in embedded or [] if isinstance(r, dict)]
        total = self._as_int(snippet.get("totalReplyCount")) or 0
        if total > len(replies):
            self._seen_counts[thread_id] = total
            if self._known_counts.get(thread_id) == total:
                # Nothing new beyond the embedded (newest) replies since the last read.
                total = len(replies)
        if total > len(replies):
            data = self._expect(self._call("GET", "/youtube/v3/comments", op="comments.list", params={
                "part": "snippet", "parentId": thread_id, "maxResults": 100, "textFormat": "plainText"}))
            replies = self._items(data)
        for reply in replies:
            yield reply, thread_id, video_id

    def _interaction(self, comment: dict, parent: str, video_id: str) -> Interaction | None:
        comment_id = str(comment.get("id") or "")
        if not _COMMENT_ID.match(comment_id):
            return None
        snippet = comment.get("snippet") if isinstance(comment.get("snippet"), dict) else {}
        author_id = (snippet.get("authorChannelId") or {}).get("value") if isinstance(
            snippet.get("authorChannelId"), dict) else ""
        name = clean_text(str(snippet.get("authorDisplayName") or ""), 200)
        created = parse_time(snippet.get("publishedAt"))
        updated = parse_time(snippet.get("updatedAt"))
        text = clean_text(str(snippet.get("textOriginal") or snippet.get("textDisplay") or ""), 10_000)
        video_id = video_id if _ID.match(video_id) else str(snippet.get("videoId") or "")
        post = NetworkPost(
            external_id=comment_id,
            author=Author(external_id=clean_text(str(author_id or ""), 100), handle=name or "?",
                          display_name=name, url=safe_url(snippet.get("authorChannelUrl")),
                          avatar_url=safe_url(snippet.get("authorProfileImageUrl"))),
            text=text, created_at=created, url=f"{WATCH}{video_id}&lc={comment_id}" if video_id else "",
            html=clean_text(str(snippet.get("textDisplay") or ""), 20_000),
            in_reply_to=parent or video_id, edited_at=updated if updated and created and updated > created else None,
            likes=self._as_int(snippet.get("likeCount")))
        return Interaction(kind=InteractionKind.COMMENT, post=post, on_post=video_id)

    def reply(self, to_external_id: str, text: str, *, marker: str = "") -> PublishedRef:
        """``comments.insert``: YouTube threads are one level deep, so a reply to a reply goes
        under the thread's top-level comment (the part of the id before the dot)."""
        text = (text or "").strip()
        if not text:
            raise Permanent(MSG_EMPTY_REPLY)
        if len(text) > MAX_COMMENT:
            raise Permanent(MSG_REPLY_LONG, detail=f"{len(text)} characters")
        parent = self._segment(to_external_id, _COMMENT_ID).split(".", 1)[0]
        response = self._call("POST", "/youtube/v3/comments", op="comments.insert", params={"part": "snippet"},
                              json_body={"snippet": {"parentId": parent, "textOriginal": text}})
        data = response.data if isinstance(response.data, dict) else {}
        comment_id = str(data.get("id") or "")
        if not _COMMENT_ID.match(comment_id):
            raise Ambiguous(MSG_MALFORMED, detail=clean_text(response.text, 300), status=response.status)
        return PublishedRef(external_id=comment_id, published_at=parse_time((data.get("snippet") or {}).get(
            "publishedAt")) or datetime.now(timezone.utc))


# The inbox stores at most 4,000 characters of cursor: the reply counts of this many threads fit.
CURSOR_THREADS = 80
CURSOR_CHARS = 3900


def _load_cursor(cursor: str) -> dict:
    """``{"w": watermark, "n": newest seen, "p": next page, "r": {thread id: reply count}}``
    (times parsed), or empty."""
    try:
        data = json.loads(cursor) if cursor else {}
    except ValueError:
        return {}
    if not isinstance(data, dict):
        return {}
    page = data.get("p")
    counts = data.get("r") if isinstance(data.get("r"), dict) else {}
    return {"w": parse_time(data.get("w")), "n": parse_time(data.get("n")),
            "p": page if isinstance(page, str) and len(page) <= 500 else "",
            "r": {str(k): v for k, v in counts.items()
                  if isinstance(v, int) and not isinstance(v, bool) and _COMMENT_ID.match(str(k))}}


def _dump_cursor(state: dict) -> str:
    out = {k: (v.astimezone(timezone.utc).isoformat() if isinstance(v, datetime) else v)
           for k, v in state.items() if v}
    counts = list((out.pop("r", None) or {}).items())[:CURSOR_THREADS]
    while True:
        if counts:
            out["r"] = dict(counts)
        text = json.dumps(out, separators=(",", ":")) if out else ""
        if len(text) <= CURSOR_CHARS or not counts:
            return text
        counts = counts[:len(counts) // 2]  # the most recently seen threads are kept
