"""Telegram channels through the Bot API (core.telegram.org/bots/api).

The account is a bot that is an administrator of the brand's channel:

- ``credentials.access_token`` is the bot token from @BotFather (stored encrypted, like every
  token). The Bot API puts the token in the URL path (``/bot<token>/sendMessage``), so the
  HTTP client's base URL carries it and request paths, rate-limit buckets and the delivery
  log only ever see ``/sendMessage``; the account key names the bot by its numeric id (the
  part of the token before the colon, which is public), never by the token.
- the channel is ``@channelname`` (public channels) or its numeric id (``-100…``, private
  channels); the account's ``external_id`` wins over its handle when set.
- the linked discussion group (where readers comment on channel posts) is read from the
  channel's ``getChat`` answer (``linked_chat_id``) unless given explicitly.

What the Bot API allows and what it does not, plainly:

- Publishing: a text message (4,096 UTF-16 units), a photo or video with a caption (1,024),
  or an album of 2-10 photos/videos (``sendMediaGroup``, the caption on the first item). User
  text is sent *without* ``parse_mode``: Telegram then shows it exactly as written, so
  ``<b>``, ``*bold*``, ``_`` or ``[x](y)`` in a post can never turn into markup, and links,
  @mentions and #hashtags are still recognised by Telegram itself.
- Reconciliation after an ambiguous send: bots receive no update for their own messages and
  the Bot API cannot list a channel's history, so a channel alone gives us no way to look.
  When the channel has a linked discussion group in which the bot is an administrator,
  Telegram copies every channel post into the group as an *automatic forward*, which the bot
  does receive: ``find_published`` reads the pending updates (without confirming them) and
  matches the forward by channel, time and text. To keep those forwards readable,
  ``fetch_interactions`` confirms updates only once they are older than ``keep_seconds``.
  Without a discussion group, or when the updates no longer reach back to the attempt, it
  raises ``Ambiguous`` with a message asking the CM to check the channel: it never answers
  "not there" when it cannot know, because that answer makes the engine post again.
- Deleting: ``deleteMessage``/``deleteMessages``; Telegram lets bots delete only messages
  younger than 48 hours, which is a ``Permanent`` error with that explanation.
- Metrics: the Bot API gives bots no view, reaction or forward counts for a channel post
  (views exist only in the client API), so ``fetch_post_metrics`` returns ``None`` for every
  counter (stored as NULL, skipped by charts) rather than a made-up zero.
- Comments: the discussion group's replies to the automatic forwards, from ``getUpdates``.
  The bot must be an administrator of the group (or have privacy mode off) to see them.
  ``getUpdates`` cannot be used while the bot has a webhook; that is a ``Permanent`` error.
"""

from __future__ import annotations

import json
import logging
import re
import unicodedata
from collections.abc import Sequence
from datetime import datetime, timedelta, timezone
from typing import Any

from django.utils.translation import gettext_lazy as _

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
)
from ..errors import Ambiguous, AuthExpired, ConnectorError, Permanent, RateLimited, Retryable, fill
from ..http import MSG_MALFORMED, RateLimitState, clean_text
from ..ratelimit import RateRule

log = logging.getLogger(__name__)

DEFAULT_BASE_URL = "https://api.telegram.org"
MAX_TEXT = 4096
MAX_CAPTION = 1024
MAX_ALBUM = 10
PHOTO_LIMIT = 10 * 1024 * 1024  # photos uploaded through the Bot API
FILE_LIMIT = 50 * 1024 * 1024  # any other file uploaded through the Bot API
PHOTO_TYPES = frozenset({"image/jpeg", "image/png", "image/webp"})
VIDEO_TYPES = frozenset({"video/mp4"})
UPDATES_PAGE = 100  # the most getUpdates returns
MAX_THREADS = 300  # comment threads remembered in the inbox cursor
DEFAULT_RETRY_AFTER = 30  # a 429 without parameters.retry_after (not seen in practice)

_CHAT_USERNAME = re.compile(r"^@[A-Za-z][A-Za-z0-9_]{3,31}$")
_CHAT_NUMBER = re.compile(r"^-?\d{1,20}$")
_MESSAGE_IDS = re.compile(r"^\d{1,12}(,\d{1,12}){0,9}$")
_GROUP_MESSAGE = re.compile(r"^(-?\d{1,20}):(\d{1,12})$")
_BOT_ID = re.compile(r"^(\d{1,20}):[A-Za-z0-9_-]{20,}$")

MSG_EMPTY = _("A Telegram post needs some text or at least one image.")
MSG_NO_CHANNEL = _("Enter the Telegram channel as @channelname or its numeric id (-100…).")
MSG_NO_TOKEN = _("Enter the bot token that @BotFather gave you.")
MSG_TOO_LONG = _("Telegram accepts at most %(limit)s characters here; this text has %(length)s.")
MSG_TOO_LONG_SERVER = _("Telegram accepts at most %(limit)s characters here; shorten the text.")
MSG_TOO_MANY_MEDIA = _("A Telegram album holds at most 10 photos or videos.")
MSG_MEDIA_TYPE = _("Telegram channels take JPEG, PNG or WebP photos and MP4 videos.")
MSG_MEDIA_SIZE = _("This file is larger than Telegram accepts from a bot.")
MSG_BAD_ID = _("That message id is not valid for Telegram.")
MSG_VISIBILITY = _("A Telegram channel post is seen by everyone in the channel; it has no other visibility.")
MSG_BOT_TOKEN = _("Telegram no longer accepts this bot token. Create a new token with @BotFather and "
                  "enter it in the account settings.")
MSG_ADD_BOT = _("The bot cannot post in this channel. Add the bot to the channel as an administrator "
                "with permission to post messages.")
MSG_CHAT_NOT_FOUND = _("Telegram does not know this channel or group. Check the channel name, and that "
                       "the bot was added to it.")
MSG_REFUSED = _("Telegram refused this: %(reason)s")
MSG_RATE = _("Telegram asked us to slow down. We will try again in %(seconds)s seconds.")
MSG_DELETE_TOO_OLD = _("Telegram lets bots delete only messages younger than 48 hours. Delete this one "
                       "from the Telegram app.")
MSG_WEBHOOK = _("This bot has a webhook, so Tertulia cannot read its updates. Remove the webhook "
                "(deleteWebhook) or use a bot only for Tertulia.")
MSG_NO_DISCUSSION = _("This channel has no discussion group, so there are no comments to read or answer.")
MSG_CHECK_CHANNEL = _("The connection to Telegram dropped after the post was sent, and Telegram gives bots "
                      "no way to look it up. Check the channel to see whether it went out.")
MSG_UNREADABLE = _("Telegram accepted the post but its answer could not be read. We will check the "
                   "channel before trying again.")


_TOKEN_IN_URL = re.compile(r"/bot\d+:[A-Za-z0-9_-]+")


class RedactBotTokens(logging.Filter):
    """httpx logs every request's URL at INFO, and the Bot API's URLs carry the bot token:
    replace it with ``/bot<redacted>`` before any handler sees the record."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 - a broken record is not ours to fix
            return True
        if "/bot" in message:
            record.msg, record.args = _TOKEN_IN_URL.sub("/bot<redacted>", message), ()
        return True


_REDACTOR = RedactBotTokens()
for _name in ("httpx", "httpcore"):
    if not any(isinstance(f, RedactBotTokens) for f in logging.getLogger(_name).filters):
        logging.getLogger(_name).addFilter(_REDACTOR)


def utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def _time(value: Any) -> datetime | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    try:
        return datetime.fromtimestamp(float(value), timezone.utc)
    except (OverflowError, OSError, ValueError):
        return None


def _match_text(text: str) -> str:
    return " ".join(unicodedata.normalize("NFC", text or "").split())


def bot_id(token: str) -> str:
    match = _BOT_ID.match(token or "")
    return match.group(1) if match else ""


class TelegramConnector(Connector):
    network = "telegram"  # Network.TELEGRAM
    supports_search = False
    supports_refresh = False  # a bot token lasts until it is revoked in @BotFather
    default_base_url = DEFAULT_BASE_URL
    # Bot FAQ: no more than about 20 messages a minute into one group or channel.
    rate_rules = (RateRule("posts-minute", 20, 60.0, methods=frozenset({"POST"}),
                           path=r"/send(Message|Photo|Video|MediaGroup)$"),)

    def __init__(self, *, channel: str = "", discussion_chat_id: str = "", keep_seconds: float = 900.0,
                 **kwargs):
        credentials = kwargs.get("credentials")
        token = credentials.access_token if credentials is not None else ""
        # Never let the default account key (which includes the base URL) carry the token.
        kwargs.setdefault("account_key", f"telegram:bot{bot_id(token) or 'unknown'}:{channel}")
        super().__init__(**kwargs)
        self.channel = (channel or "").strip()
        self.discussion_chat_id = str(discussion_chat_id or "")
        self.keep_seconds = keep_seconds
        self._chat: dict[str, Any] | None = None
        # The token travels in the path: point the (not yet opened) client at /bot<token>, so
        # that every path we pass, log and bucket is just the method name. Requests go with
        # auth=False: the token is never also sent as a header.
        self.http.base_url = f"{self.base_url}/bot{token}"

    @classmethod
    def for_account(cls, account, **kwargs) -> TelegramConnector:
        kwargs.setdefault("channel", account.external_id or account.handle or "")
        return super().for_account(account, **kwargs)

    # -- the Bot API call ------------------------------------------------------------------

    def _chat_id(self) -> str | int:
        channel = self.channel
        if channel.startswith("@") and _CHAT_NUMBER.match(channel[1:]):
            channel = channel[1:]  # a numeric id typed into the handle field
        if _CHAT_NUMBER.match(channel):
            return int(channel)
        if _CHAT_USERNAME.match(channel):
            return channel
        raise Permanent(MSG_NO_CHANNEL, detail=f"channel {channel[:60]!r}")

    def call(self, method: str, params: dict[str, Any] | None = None, *, files: dict | None = None,
             write: bool = False) -> Any:
        """One Bot API method; returns its ``result`` or raises the matching error.

        Reads go as GET (a timeout is then plainly retryable), writes as POST (a timeout after
        sending is ``Ambiguous``). Telegram answers errors with the HTTP status equal to
        ``error_code`` and ``{"ok": false, "description", "parameters"}``."""
        if not self.credentials.access_token:
            raise AuthExpired(MSG_NO_TOKEN)
        try:
            return self._call(method, params, files=files, write=write)
        except ConnectorError as exc:
            # The token is in the URL: make sure no error text carries it anywhere.
            token = self.credentials.access_token
            exc.detail = exc.detail.replace(token, "<redacted>")
            exc.args = tuple(str(a).replace(token, "<redacted>") if isinstance(a, str) else a for a in exc.args)
            raise

    def _call(self, method: str, params: dict[str, Any] | None, *, files: dict | None, write: bool) -> Any:
        bucket = f"{'POST' if write else 'GET'} /{method}"
        accept = {400, 401, 403, 404, 409, 429}
        if not write:
            query = {k: (json.dumps(v) if isinstance(v, (dict, list)) else v) for k, v in (params or {}).items()}
            response = self.http.get(f"/{method}", params=query, bucket=bucket, accept=accept, auth=False)
        elif files:
            form = {k: (json.dumps(v) if isinstance(v, (dict, list)) else str(v)) for k, v in (params or {}).items()}
            response = self.http.post(f"/{method}", data=form, files=files, bucket=bucket, accept=accept,
                                      auth=False)
        else:
            response = self.http.post(f"/{method}", json_body=params or {}, bucket=bucket, accept=accept,
                                      auth=False)
        data = response.data
        if isinstance(data, dict) and data.get("ok") is True and "result" in data:
            return data["result"]
        if 200 <= response.status < 300:
            # A 2xx that is not the Bot API's envelope: the write may have happened.
            detail = f"{response.status}: {clean_text(response.text, 200)}"
            if write:
                raise Ambiguous(MSG_UNREADABLE, detail=detail, status=response.status)
            raise Retryable(MSG_MALFORMED, detail=detail, status=response.status)
        raise self._error(response.status, data if isinstance(data, dict) else {}, response.text, bucket)

    def _error(self, status: int, data: dict, raw: str, bucket: str) -> ConnectorError:
        code = data.get("error_code") if isinstance(data.get("error_code"), int) else status
        description = clean_text(str(data.get("description") or raw or status), 500)
        parameters = data.get("parameters") if isinstance(data.get("parameters"), dict) else {}
        lowered = description.lower()
        if code == 429:
            wait = self._as_int(parameters.get("retry_after"))
            wait = float(min(max(wait if wait is not None else DEFAULT_RETRY_AFTER, 1), 24 * 3600))
            now = datetime.now(timezone.utc)
            self.http.rate_book.record(RateLimitState(self.account_key, bucket, None, 0,
                                                      now + timedelta(seconds=wait), now))
            return RateLimited(fill(MSG_RATE, seconds=int(wait)), retry_after=wait,
                               detail=description, status=code)
        if code in (401, 404):  # 404: the token is not a bot token at all
            return AuthExpired(MSG_BOT_TOKEN, detail=description, status=code)
        if code == 403 or "not enough rights" in lowered or "need administrator rights" in lowered:
            return Permanent(MSG_ADD_BOT, detail=description, status=code)
        if code == 409:
            return Permanent(MSG_WEBHOOK, detail=description, status=code)
        if "chat not found" in lowered:
            return Permanent(MSG_CHAT_NOT_FOUND, detail=description, status=code)
        if "message can't be deleted" in lowered:
            return Permanent(MSG_DELETE_TOO_OLD, detail=description, status=code)
        if "too long" in lowered:
            limit = MAX_CAPTION if "caption" in lowered else MAX_TEXT
            return Permanent(fill(MSG_TOO_LONG_SERVER, limit=limit), detail=description, status=code)
        if code >= 500:
            return Retryable(MSG_MALFORMED, detail=description, status=code)
        return Permanent(fill(MSG_REFUSED, reason=description), detail=description, status=code)

    # -- identity ----------------------------------------------------------------------------

    def _channel_chat(self) -> dict[str, Any]:
        if self._chat is None:
            chat = self.call("getChat", {"chat_id": self._chat_id()})
            if not isinstance(chat, dict) or not isinstance(chat.get("id"), int):
                raise Retryable(MSG_MALFORMED, detail="getChat without an id")
            self._chat = chat
            self.account_id = str(chat["id"])
        return self._chat

    def _discussion_id(self) -> int | None:
        if self.discussion_chat_id:
            return int(self.discussion_chat_id) if _CHAT_NUMBER.match(self.discussion_chat_id) else None
        linked = self._channel_chat().get("linked_chat_id")
        return linked if isinstance(linked, int) and not isinstance(linked, bool) else None

    def fetch_profile(self) -> Profile:
        chat = self._channel_chat()
        members = self.call("getChatMemberCount", {"chat_id": chat["id"]})
        username = clean_text(str(chat.get("username") or ""), 64)
        return Profile(
            external_id=str(chat["id"]),
            handle=f"@{username}" if username else str(chat["id"]),
            display_name=clean_text(str(chat.get("title") or ""), 200),
            url=f"https://t.me/{username}" if username else "",
            bio=clean_text(str(chat.get("description") or ""), 2000),
            followers=self._as_int(members),
        )

    def limits(self) -> Limits:
        return Limits(max_characters=MAX_TEXT, counting="utf16", max_media=MAX_ALBUM,
                      image_size_limit=PHOTO_LIMIT, video_size_limit=FILE_LIMIT,
                      media_types=PHOTO_TYPES | VIDEO_TYPES, content_warnings=False,
                      visibilities=frozenset({Visibility.PUBLIC}), threads=False)

    # -- publishing ------------------------------------------------------------------------

    def publish(self, payload: PostPayload) -> PublishedRef:
        text = payload.text or ""
        media = tuple(payload.media)
        if not text.strip() and not media:
            raise Permanent(MSG_EMPTY)
        if payload.visibility != Visibility.PUBLIC:
            raise Permanent(MSG_VISIBILITY, detail=str(payload.visibility)[:40])
        limit = MAX_CAPTION if media else MAX_TEXT
        if utf16_len(text) > limit:
            raise Permanent(fill(MSG_TOO_LONG, limit=limit, length=utf16_len(text)))
        if len(media) > MAX_ALBUM:
            raise Permanent(MSG_TOO_MANY_MEDIA)
        for item in media:
            self._check_media(item)
        chat_id = self._chat_id()
        common: dict[str, Any] = {"chat_id": chat_id}
        if payload.reply_to:
            common["reply_parameters"] = {"message_id": self._message_id(payload.reply_to)}
        if payload.sensitive and media:
            common["has_spoiler"] = True
        # No parse_mode, no entities of ours: the text arrives exactly as written.
        if not media:
            message = self.call("sendMessage", {**common, "text": text}, write=True)
            messages = [message]
        elif len(media) == 1:
            item = media[0]
            kind = "photo" if item.mime_type in PHOTO_TYPES else "video"
            params = {**common, "caption": text} if text else dict(common)
            method = "sendPhoto" if kind == "photo" else "sendVideo"
            message = self.call(method, params, files={kind: (item.filename, item.read(), item.mime_type)},
                                write=True)
            messages = [message]
        else:
            files, album = {}, []
            for index, item in enumerate(media):
                name = f"file{index}"
                files[name] = (item.filename, item.read(), item.mime_type)
                entry = {"type": "photo" if item.mime_type in PHOTO_TYPES else "video", "media": f"attach://{name}"}
                if index == 0 and text:
                    entry["caption"] = text
                if payload.sensitive:
                    entry["has_spoiler"] = True
                album.append(entry)
            params = {k: v for k, v in common.items() if k != "has_spoiler"}
            result = self.call("sendMediaGroup", {**params, "media": album}, files=files, write=True)
            messages = result if isinstance(result, list) else []
        ids = [m["message_id"] for m in messages if isinstance(m, dict) and isinstance(m.get("message_id"), int)]
        if not ids or len(ids) != len(messages):
            raise Ambiguous(MSG_UNREADABLE, detail=f"no message_id in {clean_text(str(messages), 200)}")
        first = messages[0]
        chat = first.get("chat") if isinstance(first.get("chat"), dict) else {}
        return PublishedRef(external_id=",".join(str(i) for i in ids), url=self._link(chat, ids[0]),
                            published_at=_time(first.get("date")))

    def _check_media(self, item: MediaItem) -> None:
        if item.mime_type not in PHOTO_TYPES | VIDEO_TYPES:
            raise Permanent(MSG_MEDIA_TYPE, detail=item.mime_type[:80])
        limit = PHOTO_LIMIT if item.mime_type in PHOTO_TYPES else FILE_LIMIT
        if item.size > limit:
            raise Permanent(MSG_MEDIA_SIZE, detail=f"{item.size} bytes")

    def _link(self, chat: dict, message_id: int) -> str:
        username = chat.get("username") if isinstance(chat.get("username"), str) else ""
        if not username and isinstance(self._chat_id(), str):
            username = str(self._chat_id())[1:]
        if username and _CHAT_USERNAME.match("@" + username):
            return f"https://t.me/{username}/{message_id}"
        chat_id = str(chat.get("id") or self._chat_id())
        if chat_id.startswith("-100"):
            return f"https://t.me/c/{chat_id[4:]}/{message_id}"
        return ""

    @staticmethod
    def _message_id(value: str) -> int:
        value = str(value or "")
        if not _MESSAGE_IDS.match(value):
            raise Permanent(MSG_BAD_ID, detail=f"id {value[:40]!r}")
        return int(value.split(",", 1)[0])  # an album answers under its first message

    def delete(self, external_id: str) -> bool:
        if not _MESSAGE_IDS.match(str(external_id or "")):
            raise Permanent(MSG_BAD_ID, detail=f"id {str(external_id)[:40]!r}")
        ids = [int(i) for i in external_id.split(",")]
        try:
            if len(ids) == 1:
                self.call("deleteMessage", {"chat_id": self._chat_id(), "message_id": ids[0]}, write=True)
            else:
                self.call("deleteMessages", {"chat_id": self._chat_id(), "message_ids": ids}, write=True)
        except Ambiguous as exc:  # deleting twice is harmless: try again
            raise Retryable(exc.user_message, detail=exc.detail, status=exc.status) from exc
        except Permanent as exc:
            if "message to delete not found" in exc.detail.lower():
                return False
            raise
        return True

    # -- reconciliation ----------------------------------------------------------------------

    def _pending_updates(self) -> list[dict]:
        """The updates Telegram still holds (unconfirmed), oldest first, without confirming."""
        result = self.call("getUpdates", {"limit": UPDATES_PAGE, "timeout": 0,
                                          "allowed_updates": ["message", "channel_post"]})
        if not isinstance(result, list):
            raise Retryable(MSG_MALFORMED, detail="getUpdates without a list")
        return [u for u in result if isinstance(u, dict) and isinstance(u.get("update_id"), int)]

    def _forward_of(self, message: dict, channel_id: int) -> int | None:
        """The channel post id a discussion-group message is the automatic forward of."""
        if not message.get("is_automatic_forward"):
            return None
        origin = message.get("forward_origin") if isinstance(message.get("forward_origin"), dict) else {}
        chat = origin.get("chat") if isinstance(origin.get("chat"), dict) else {}
        if chat.get("id") == channel_id and isinstance(origin.get("message_id"), int):
            return origin["message_id"]
        legacy = message.get("forward_from_chat") if isinstance(message.get("forward_from_chat"), dict) else {}
        if legacy.get("id") == channel_id and isinstance(message.get("forward_from_message_id"), int):
            return message["forward_from_message_id"]
        return None

    def find_published(self, payload: PostPayload, *, since: datetime) -> PublishedRef | None:
        channel = self._channel_chat()
        group = self._discussion_id()
        if group is None:
            raise Ambiguous(MSG_CHECK_CHANNEL, detail="no discussion group: nothing to reconcile against")
        updates = self._pending_updates()
        wanted = _match_text(payload.text)
        floor = since - timedelta(seconds=5)  # Telegram dates are whole seconds
        forwards: dict[int, list[int]] = {}
        for update in updates:
            message = update.get("message") if isinstance(update.get("message"), dict) else None
            if not message or (message.get("chat") or {}).get("id") != group:
                continue
            post_id = self._forward_of(message, channel["id"])
            date = _time(message.get("date"))
            if post_id is None or date is None or date < floor:
                continue
            text = message.get("text") if isinstance(message.get("text"), str) else message.get("caption")
            group_key = message.get("media_group_id")
            if _match_text(text if isinstance(text, str) else "") == wanted or (
                    group_key and group_key in forwards and not text):
                forwards.setdefault(group_key or post_id, []).append(post_id)
        for ids in forwards.values():
            ids.sort()
            return PublishedRef(external_id=",".join(str(i) for i in ids[:MAX_ALBUM]),
                                url=self._link(channel, ids[0]))
        # Nothing found. That is an answer only if the pending updates reach back to the
        # attempt: we confirm updates only once they are older than keep_seconds, and
        # getUpdates returns at most one page.
        now = datetime.now(timezone.utc)
        if len(updates) >= UPDATES_PAGE or since < now - timedelta(seconds=self.keep_seconds - 30):
            log.info("telegram %s: cannot confirm a post since %s", self.account_key, since.isoformat())
            raise Ambiguous(MSG_CHECK_CHANNEL, detail="the pending updates do not reach back to the attempt")
        return None

    # -- metrics and inbox -----------------------------------------------------------------

    def fetch_post_metrics(self, external_ids: Sequence[str]) -> dict[str, PostMetrics]:
        """The Bot API has no counters for channel posts: every field stays None (unknown)."""
        out = {}
        for external_id in external_ids:
            if not _MESSAGE_IDS.match(str(external_id or "")):
                raise Permanent(MSG_BAD_ID, detail=f"id {str(external_id)[:40]!r}")
            out[external_id] = PostMetrics(external_id)
        return out

    def fetch_interactions(self, since: datetime | None = None, *, cursor: str = "",
                           thread_ids: Sequence[str] = ()) -> InteractionBatch:
        """Comments from the discussion group: messages that reply to an automatic forward of
        one of our channel posts (``on_post`` is the channel post's id), or to a message in
        such a thread. Private messages to the bot are ``dm``.

        ``cursor`` is the last update id handed out. Updates are confirmed to Telegram (the
        ``offset``) only when older than ``keep_seconds`` so that ``find_published`` can
        still see recent automatic forwards."""
        channel = self._channel_chat()
        group = self._discussion_id()
        last_seen, threads = _load_cursor(cursor)
        now = datetime.now(timezone.utc)
        keep_after = now - timedelta(seconds=self.keep_seconds)
        confirm_below = 0
        prefix_old = True
        items: list[Interaction] = []
        newest = last_seen
        offset = 0
        for _page in range(10):
            params: dict[str, Any] = {"limit": UPDATES_PAGE, "timeout": 0,
                                      "allowed_updates": ["message", "channel_post"]}
            if offset:
                params["offset"] = offset
            result = self.call("getUpdates", params)
            if not isinstance(result, list):
                raise Retryable(MSG_MALFORMED, detail="getUpdates without a list")
            page = [u for u in result if isinstance(u, dict) and isinstance(u.get("update_id"), int)]
            for update in page:
                update_id = update["update_id"]
                message = update.get("message") if isinstance(update.get("message"), dict) else None
                date = _time(message.get("date")) if message else None
                # An offset confirms every update below it: only a leading run of old updates.
                if prefix_old and (date is None or date < keep_after):
                    confirm_below = max(confirm_below, update_id + 1)
                else:
                    prefix_old = False
                if message is None:
                    continue
                chat = message.get("chat") if isinstance(message.get("chat"), dict) else {}
                forwarded = self._forward_of(message, channel["id"]) if chat.get("id") == group else None
                if forwarded is not None and isinstance(message.get("message_id"), int):
                    threads[message["message_id"]] = forwarded
                    continue
                if update_id <= last_seen or (since and date and date < since):
                    continue
                interaction = self._interaction(message, group, threads)
                if interaction is not None:
                    items.append(interaction)
                newest = max(newest, update_id)
            if len(page) < UPDATES_PAGE:
                break
            # A full page: go on, and confirm it even if recent (progress beats reconciliation).
            offset = page[-1]["update_id"] + 1
            confirm_below = max(confirm_below, offset)
        if confirm_below:
            # Confirms (forgets on Telegram's side) every update below the offset.
            self.call("getUpdates", {"offset": confirm_below, "limit": 1, "timeout": 0,
                                     "allowed_updates": ["message", "channel_post"]})
        items.sort(key=lambda i: (i.post.created_at or now, i.post.external_id))
        # The cursor also remembers the newest threads: a reply to a reply names only its
        # thread, and the thread's automatic forward may have been confirmed long ago.
        kept = dict(sorted(threads.items())[-MAX_THREADS:])
        return InteractionBatch(items=items, cursor=json.dumps({"u": newest, "threads": kept}))

    def _interaction(self, message: dict, group: int | None, threads: dict[int, int]) -> Interaction | None:
        chat = message.get("chat") if isinstance(message.get("chat"), dict) else {}
        sender = message.get("from") if isinstance(message.get("from"), dict) else {}
        if sender.get("is_bot") and str(sender.get("id")) == bot_id(self.credentials.access_token):
            return None
        post = self._post(message)
        if chat.get("type") == "private":
            return Interaction(InteractionKind.DM, post, conversation_id=str(chat.get("id", "")))
        if group is None or chat.get("id") != group:
            return None
        reply = message.get("reply_to_message") if isinstance(message.get("reply_to_message"), dict) else {}
        thread = message.get("message_thread_id")
        on_post = None
        if reply:
            on_post = threads.get(reply.get("message_id")) or self._forward_of(reply, self._channel_chat()["id"])
        if on_post is None and isinstance(thread, int):
            on_post = threads.get(thread)
            if on_post is None:
                # In a post's comment thread whose start we no longer know: still a comment.
                return Interaction(InteractionKind.COMMENT, post, conversation_id=f"{chat.get('id')}:{thread}")
        if on_post is None:
            return None  # group chatter that does not answer one of our posts
        return Interaction(InteractionKind.COMMENT, post, on_post=str(on_post))

    def _post(self, message: dict) -> NetworkPost:
        chat = message.get("chat") if isinstance(message.get("chat"), dict) else {}
        sender = message.get("from") if isinstance(message.get("from"), dict) else {}
        sender_chat = message.get("sender_chat") if isinstance(message.get("sender_chat"), dict) else {}
        if sender_chat:
            name = clean_text(str(sender_chat.get("title") or ""), 200)
            username = clean_text(str(sender_chat.get("username") or ""), 64)
            author_id = str(sender_chat.get("id", ""))
        else:
            name = clean_text(" ".join(str(sender.get(k) or "") for k in ("first_name", "last_name")), 200)
            username = clean_text(str(sender.get("username") or ""), 64)
            author_id = str(sender.get("id", ""))
        text = message.get("text") if isinstance(message.get("text"), str) else message.get("caption")
        reply = message.get("reply_to_message") if isinstance(message.get("reply_to_message"), dict) else {}
        chat_id = str(chat.get("id", ""))
        media = sum(1 for key in ("photo", "video", "document", "animation", "voice") if message.get(key))
        return NetworkPost(
            external_id=f"{chat_id}:{message.get('message_id')}",
            author=Author(external_id=clean_text(author_id, 32), handle=f"@{username}" if username else name,
                          display_name=name, url=f"https://t.me/{username}" if username else ""),
            text=clean_text(text if isinstance(text, str) else "", MAX_TEXT),
            created_at=_time(message.get("date")),
            in_reply_to=f"{chat_id}:{reply['message_id']}" if isinstance(reply.get("message_id"), int) else "",
            media_count=media,
        )

    def reply(self, to_external_id: str, text: str, *, marker: str = "") -> PublishedRef:
        """Answer in the discussion group: ``to_external_id`` is ``<group id>:<message id>``
        (an interaction's id) or a channel post id (then the answer goes under its thread)."""
        if not (text or "").strip():
            raise Permanent(MSG_EMPTY)
        if utf16_len(text) > MAX_TEXT:
            raise Permanent(fill(MSG_TOO_LONG, limit=MAX_TEXT, length=utf16_len(text)))
        group = self._discussion_id()
        match = _GROUP_MESSAGE.match(str(to_external_id or ""))
        if match:
            chat_id, message_id = int(match.group(1)), int(match.group(2))
            if group is None or chat_id != group:
                raise Permanent(MSG_BAD_ID, detail="not a message of the discussion group")
        else:
            if group is None:
                raise Permanent(MSG_NO_DISCUSSION)
            post_id = self._message_id(to_external_id)
            message_id = self._thread_for(post_id, group)
            chat_id = group
        message = self.call("sendMessage", {"chat_id": chat_id, "text": text,
                                            "reply_parameters": {"message_id": message_id}}, write=True)
        if not isinstance(message, dict) or not isinstance(message.get("message_id"), int):
            raise Ambiguous(MSG_UNREADABLE, detail=clean_text(str(message), 200))
        return PublishedRef(external_id=f"{chat_id}:{message['message_id']}", published_at=_time(message.get("date")))

    def _thread_for(self, post_id: int, group: int) -> int:
        channel_id = self._channel_chat()["id"]
        for update in self._pending_updates():
            message = update.get("message") if isinstance(update.get("message"), dict) else None
            if message and (message.get("chat") or {}).get("id") == group \
                    and self._forward_of(message, channel_id) == post_id:
                return message["message_id"]
        raise Permanent(MSG_BAD_ID, detail="the channel post's discussion thread is no longer in the updates; "
                                           "answer a comment instead")


def _load_cursor(cursor: str) -> tuple[int, dict[int, int]]:
    """(last update id handed out, {discussion message id of a thread: channel post id})."""
    try:
        data = json.loads(cursor) if cursor else {}
    except ValueError:
        return 0, {}
    if not isinstance(data, dict):
        return 0, {}
    last = data.get("u") if isinstance(data.get("u"), int) else 0
    threads = {}
    raw = data.get("threads") if isinstance(data.get("threads"), dict) else {}
    for key, value in list(raw.items())[:MAX_THREADS]:
        if str(key).isdigit() and isinstance(value, int):
            threads[int(key)] = value
    return last, threads


__all__ = ["TelegramConnector", "bot_id", "fill", "utf16_len"]
