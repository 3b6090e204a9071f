"""A loopback fake Telegram Bot API server: real HTTP on 127.0.0.1, in a thread, with state.

No recorded corpus of Bot API traffic exists in ``../shared/corpora``, so the shapes here follow
the documentation (core.telegram.org/bots/api): every answer is ``{"ok": true, "result": …}``
or ``{"ok": false, "error_code": N, "description": "…", "parameters": {…}}`` with the HTTP
status equal to ``error_code``; methods take GET query parameters, JSON, url-encoded forms or
multipart (files, with ``attach://name`` for albums) at ``/bot<token>/<method>``.

What it does like the real server:

- ``sendMessage`` (4,096 UTF-16 units; ``parse_mode`` HTML/MarkdownV2 really parsed, so a test
  can tell that we never send it), ``sendPhoto``/``sendVideo`` (caption 1,024),
  ``sendMediaGroup`` (2-10 items, one message each, a shared ``media_group_id``),
  ``deleteMessage``/``deleteMessages`` (48 hours, "message to delete not found"), ``getChat``
  (``linked_chat_id``), ``getChatMemberCount``, ``getMe``, ``getUpdates`` (``offset`` confirms,
  at most 100, 409 while a webhook is set);
- the bot must be an administrator of the channel (else 403/400 like Telegram);
- a channel post is copied into the linked discussion group as an automatic forward
  (``is_automatic_forward``, ``forward_origin``), which is an update for the bot; the bot's own
  messages are not updates (as on Telegram);
- ``comment(...)`` makes a reader reply to a channel post in the discussion group.

Faults (``inject("sendMessage", Fault…)``, or ``"*"``): latency, 429 with
``parameters.retry_after`` (and ``Retry-After`` when asked), 5xx, a hang or a dropped
connection *after* the message was created, an expired (revoked) token and malformed JSON.
"""

from __future__ import annotations

import html
import json
import random
import re
import secrets
import threading
import time
from dataclasses import dataclass, field
from http.server import ThreadingHTTPServer
from typing import Any

from . import server

CHANNEL_ID = -1001234567890
GROUP_ID = -1009876543210


def _utf16(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


class Fault(server.Fault):
    """Telegram's error bodies on top of the shared fault vocabulary."""

    @classmethod
    def server_error(cls, status: int = 502, *, after: bool = False) -> Fault:
        # Telegram's front end answers an overloaded backend with a plain nginx page.
        return cls("status", status=status, after=after, body=f"<html><body><h1>{status} Bad Gateway</h1></body></html>")

    @classmethod
    def respond(cls, status: int, description: str, *, after: bool = False, parameters: dict | None = None) -> Fault:
        body = {"ok": False, "error_code": status, "description": description}
        if parameters:
            body["parameters"] = parameters
        return cls("status", status=status, body=json.dumps(body), after=after)

    @classmethod
    def malformed(cls, body: str = '{"ok":true,"result":{"message_id":', *, after: bool = True,
                  status: int = 200) -> Fault:
        return cls("malformed", body=body, after=after, status=status)

    @classmethod
    def expired_token(cls) -> Fault:
        return cls("unauthorized", status=401)


class ApiError(Exception):
    def __init__(self, code: int, description: str, parameters: dict | None = None):
        super().__init__(description)
        self.code, self.description, self.parameters = code, description, parameters


@dataclass
class Request:
    method: str  # the HTTP method
    api_method: str  # sendMessage…
    token: str
    params: dict[str, Any]
    files: dict[str, tuple[str, str, bytes]]
    headers: dict[str, str]
    at: float = field(default_factory=time.time)
    status: int | None = None


class FakeTelegram(server.LoopbackServer):
    """Start with ``with FakeTelegram() as fake:``; ``fake.token`` is the bot's token."""

    thread_name = "fake-telegram"

    def __init__(self, *, seed: int = 0, discussion_group: bool = True):
        self.random = random.Random(seed)
        self.lock = threading.RLock()
        self.latency = 0.0
        self._rules: list[server.FaultRule] = []
        self._stopping = threading.Event()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.requests: list[Request] = []
        self.bot = {"id": 7000000001, "is_bot": True, "first_name": "Tertulia", "username": "tertulia_test_bot"}
        self.token = f"{self.bot['id']}:AAH{secrets.token_urlsafe(30)[:32]}"
        self.revoked: set[str] = set()
        self.webhook = ""
        self.chats: dict[int, dict[str, Any]] = {}
        self.messages: dict[tuple[int, int], dict[str, Any]] = {}
        self.deleted: set[tuple[int, int]] = set()
        self.updates: list[dict[str, Any]] = []
        self.members = 1234
        self._message_seq: dict[int, int] = {}
        self._update_seq = 500000000
        self._user_seq = 100
        self.discussion_group = discussion_group

    def _seed_accounts(self) -> None:
        self.channel = {"id": CHANNEL_ID, "type": "channel", "title": "Café Tertulia", "username": "cafetertulia",
                        "description": "Noticias del café <b>y</b> más", "admins": {self.bot["id"]}}
        self.chats[CHANNEL_ID] = self.channel
        if self.discussion_group:
            self.group = {"id": GROUP_ID, "type": "supergroup", "title": "Café Tertulia Chat",
                          "admins": {self.bot["id"]}, "linked_chat_id": CHANNEL_ID}
            self.chats[GROUP_ID] = self.group
            self.channel["linked_chat_id"] = GROUP_ID

    # -- helpers for tests --------------------------------------------------------------------

    def inject(self, api_method: str, fault: Fault, *, times: int | None = 1, probability: float = 1.0) -> None:
        """``api_method`` is a Bot API method name (``sendMessage``) or ``"*"``."""
        self._add_rule("*", (lambda name: True) if api_method == "*" else (lambda name: name == api_method),
                       fault, times, probability)

    def requests_to(self, api_method: str) -> list[Request]:
        with self.lock:
            return [r for r in self.requests if r.api_method == api_method]

    def expire_token(self) -> None:
        with self.lock:
            self.revoked.add(self.token)

    def remove_bot_from_channel(self) -> None:
        with self.lock:
            self.channel["admins"].discard(self.bot["id"])

    def channel_posts(self) -> list[dict[str, Any]]:
        with self.lock:
            return [m for (chat, mid), m in sorted(self.messages.items())
                    if chat == CHANNEL_ID and (chat, mid) not in self.deleted]

    def group_messages(self) -> list[dict[str, Any]]:
        with self.lock:
            return [m for (chat, mid), m in sorted(self.messages.items())
                    if chat == GROUP_ID and (chat, mid) not in self.deleted]

    def age(self, chat_id: int, message_id: int, seconds: float) -> None:
        """Make a message (and the updates carrying it) older."""
        with self.lock:
            message = self.messages[(chat_id, message_id)]
            message["date"] -= int(seconds)

    def thread_of(self, channel_post_id: int) -> dict[str, Any]:
        """The automatic forward of a channel post in the discussion group."""
        with self.lock:
            for message in self.group_messages():
                origin = message.get("forward_origin") or {}
                if message.get("is_automatic_forward") and origin.get("message_id") == channel_post_id:
                    return message
        raise KeyError(channel_post_id)

    def comment(self, first_name: str, text: str, *, on_post: int, reply_to: int | None = None,
                username: str = "") -> dict[str, Any]:
        """A reader answers a channel post (or another comment, ``reply_to``) in the group."""
        with self.lock:
            thread = self.thread_of(on_post)
            self._user_seq += 1
            sender = {"id": 9000 + self._user_seq, "is_bot": False, "first_name": first_name}
            if username:
                sender["username"] = username
            target = self.messages[(GROUP_ID, reply_to)] if reply_to else thread
            message = self._new_message(self.group, {"text": text, "from": sender, "is_topic_message": False,
                                                     "message_thread_id": thread["message_id"],
                                                     "reply_to_message": self._strip(target)})
            self._add_update({"message": message})
            return message

    def private_message(self, first_name: str, text: str) -> dict[str, Any]:
        with self.lock:
            self._user_seq += 1
            sender = {"id": 9000 + self._user_seq, "is_bot": False, "first_name": first_name}
            chat = {"id": sender["id"], "type": "private", "first_name": first_name}
            message = self._new_message(chat, {"text": text, "from": sender})
            self._add_update({"message": message})
            return message

    # -- state -------------------------------------------------------------------------------

    def _next_message_id(self, chat_id: int) -> int:
        self._message_seq[chat_id] = self._message_seq.get(chat_id, 0) + 1
        return self._message_seq[chat_id]

    @staticmethod
    def _public_chat(chat: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in chat.items() if k in ("id", "type", "title", "username", "first_name")}

    def _strip(self, message: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in message.items() if k != "reply_to_message"}

    def _new_message(self, chat: dict[str, Any], fields: dict[str, Any]) -> dict[str, Any]:
        message = {"message_id": self._next_message_id(chat["id"]), "date": int(time.time()),
                   "chat": self._public_chat(chat), **fields}
        self.messages[(chat["id"], message["message_id"])] = message
        return message

    def _add_update(self, fields: dict[str, Any]) -> None:
        self._update_seq += 1
        self.updates.append({"update_id": self._update_seq, **fields})

    def _post_to_channel(self, fields: dict[str, Any]) -> dict[str, Any]:
        message = self._new_message(self.channel, {"sender_chat": self._public_chat(self.channel), **fields})
        if self.channel.get("linked_chat_id"):
            # Telegram copies every channel post into the discussion group; the bot gets that.
            forward = self._new_message(self.group, {
                "sender_chat": self._public_chat(self.channel), "is_automatic_forward": True,
                "forward_origin": {"type": "channel", "chat": self._public_chat(self.channel),
                                   "message_id": message["message_id"], "date": message["date"]},
                **{k: v for k, v in fields.items() if k in ("text", "caption", "photo", "video", "media_group_id")}})
            self._add_update({"message": forward})
        return message

    # -- the Bot API ---------------------------------------------------------------------------

    def dispatch(self, request: Request) -> Any:
        if request.token in self.revoked:
            raise ApiError(401, "Unauthorized")
        if request.token != self.token:
            raise ApiError(404, "Not Found") if ":" not in request.token else ApiError(401, "Unauthorized")
        handler = getattr(self, "api_" + request.api_method, None)
        if handler is None:
            raise ApiError(404, "Not Found")
        with self.lock:
            return handler(request.params, request.files)

    def _chat(self, params: dict[str, Any], *, post: bool = False) -> dict[str, Any]:
        chat_id = params.get("chat_id")
        chat = None
        if isinstance(chat_id, str) and chat_id.startswith("@"):
            chat = next((c for c in self.chats.values() if c.get("username") == chat_id[1:]), None)
        else:
            try:
                chat = self.chats.get(int(chat_id))
            except (TypeError, ValueError):
                chat = None
        if chat is None:
            raise ApiError(400, "Bad Request: chat not found")
        if self.bot["id"] not in chat.get("admins", set()):
            if chat["type"] == "channel":
                raise ApiError(403, "Forbidden: bot is not a member of the channel chat")
            if post:
                raise ApiError(400, "Bad Request: not enough rights to send text messages to the chat")
        return chat

    def _text(self, text: str, parse_mode: str | None, limit: int, what: str) -> dict[str, Any]:
        if parse_mode:
            text = self._parse(text, parse_mode)
        if _utf16(text) > limit:
            raise ApiError(400, f"Bad Request: message {what}is too long")
        return {"text": text}

    @staticmethod
    def _parse(text: str, parse_mode: str) -> str:
        """Enough of Telegram's parsers to show what markup would do to user text."""
        if parse_mode == "HTML":
            if re.search(r"<(?!/?(b|i|u|s|a|code|pre|strong|em|tg-spoiler)\b)[^>]*>", text):
                raise ApiError(400, "Bad Request: can't parse entities: Unsupported start tag")
            return html.unescape(re.sub(r"</?[a-z-]+[^>]*>", "", text))
        if parse_mode in ("MarkdownV2", "Markdown"):
            if re.search(r"(?<!\\)[_*\[\]()~`>#+\-=|{}.!]", text) and parse_mode == "MarkdownV2":
                raise ApiError(400, "Bad Request: can't parse entities: Character '.' is reserved")
            return re.sub(r"[*_]", "", text)
        raise ApiError(400, f"Bad Request: unsupported parse_mode \"{parse_mode}\"")

    def _reply(self, chat: dict[str, Any], params: dict[str, Any]) -> dict[str, Any]:
        reply = params.get("reply_parameters")
        if isinstance(reply, str):
            reply = json.loads(reply)
        if not reply:
            return {}
        key = (chat["id"], int(reply.get("message_id", 0)))
        if key not in self.messages or key in self.deleted:
            raise ApiError(400, "Bad Request: message to be replied not found")
        return {"reply_to_message": self._strip(self.messages[key])}

    def _send(self, chat: dict[str, Any], fields: dict[str, Any]) -> dict[str, Any]:
        if chat["type"] == "channel":
            return self._post_to_channel(fields)
        return self._new_message(chat, {"from": self.bot, **fields})

    def api_getMe(self, params, files):  # noqa: N802 - Bot API method names
        return {**self.bot, "can_join_groups": True, "can_read_all_group_messages": False}

    def api_sendMessage(self, params, files):  # noqa: N802
        chat = self._chat(params, post=True)
        text = str(params.get("text") or "")
        if not text.strip():
            raise ApiError(400, "Bad Request: message text is empty")
        fields = self._text(text, params.get("parse_mode"), 4096, "")
        fields.update(self._reply(chat, params))
        fields["parse_mode_sent"] = params.get("parse_mode")
        fields["entities_sent"] = params.get("entities")
        message = self._send(chat, fields)
        return self._out(message)

    def _media(self, files, name: str) -> bytes:
        if name not in files:
            raise ApiError(400, f"Bad Request: there is no {name} in the request")
        content = files[name][2]
        if not content or content.startswith(b"CORRUPT"):
            raise ApiError(400, "Bad Request: IMAGE_PROCESS_FAILED")
        return content

    def _single(self, params, files, kind: str):
        chat = self._chat(params, post=True)
        content = self._media(files, kind)
        caption = str(params.get("caption") or "")
        fields: dict[str, Any] = {kind: [{"file_id": secrets.token_urlsafe(12), "file_size": len(content)}]}
        if caption:
            fields["caption"] = self._text(caption, params.get("parse_mode"), 1024, "caption ")["text"]
        if str(params.get("has_spoiler")).lower() == "true":
            fields["has_media_spoiler"] = True
        fields.update(self._reply(chat, params))
        return self._out(self._send(chat, fields))

    def api_sendPhoto(self, params, files):  # noqa: N802
        return self._single(params, files, "photo")

    def api_sendVideo(self, params, files):  # noqa: N802
        return self._single(params, files, "video")

    def api_sendMediaGroup(self, params, files):  # noqa: N802
        chat = self._chat(params, post=True)
        media = params.get("media")
        if isinstance(media, str):
            media = json.loads(media)
        if not isinstance(media, list) or not 2 <= len(media) <= 10:
            raise ApiError(400, "Bad Request: wrong number of messages in the media group")
        group_id = str(self.random.randrange(10**17, 10**18))
        prepared = []
        for item in media:
            ref = str(item.get("media", ""))
            if not ref.startswith("attach://"):
                raise ApiError(400, "Bad Request: wrong file identifier/HTTP URL specified")
            content = self._media(files, ref[len("attach://"):])
            kind = item.get("type")
            if kind not in ("photo", "video"):
                raise ApiError(400, "Bad Request: wrong media type")
            fields: dict[str, Any] = {kind: [{"file_id": secrets.token_urlsafe(12), "file_size": len(content)}],
                                      "media_group_id": group_id}
            if item.get("caption"):
                fields["caption"] = self._text(str(item["caption"]), item.get("parse_mode"), 1024, "caption ")["text"]
            prepared.append(fields)
        reply = self._reply(chat, params)
        return [self._out(self._send(chat, {**fields, **reply})) for fields in prepared]

    def api_deleteMessage(self, params, files):  # noqa: N802
        chat = self._chat(params)
        self._delete(chat, int(params.get("message_id", 0)))
        return True

    def api_deleteMessages(self, params, files):  # noqa: N802
        chat = self._chat(params)
        ids = params.get("message_ids")
        if isinstance(ids, str):
            ids = json.loads(ids)
        for message_id in ids or []:
            try:
                self._delete(chat, int(message_id))
            except ApiError:
                pass  # deleteMessages skips messages that cannot be deleted
        return True

    def _delete(self, chat, message_id: int) -> None:
        key = (chat["id"], message_id)
        if key not in self.messages or key in self.deleted:
            raise ApiError(400, "Bad Request: message to delete not found")
        if time.time() - self.messages[key]["date"] > 48 * 3600:
            raise ApiError(400, "Bad Request: message can't be deleted for everyone")
        self.deleted.add(key)

    def api_getChat(self, params, files):  # noqa: N802
        chat = self._chat(params)
        return {k: v for k, v in chat.items() if k != "admins"} | {"accent_color_id": 1, "max_reaction_count": 11}

    def api_getChatMemberCount(self, params, files):  # noqa: N802
        self._chat(params)
        return self.members

    def api_getUpdates(self, params, files):  # noqa: N802
        if self.webhook:
            raise ApiError(409, "Conflict: can't use getUpdates method while webhook is active; use deleteWebhook "
                                "to delete the webhook first")
        offset = int(params.get("offset") or 0)
        limit = max(1, min(100, int(params.get("limit") or 100)))
        if offset:
            self.updates = [u for u in self.updates if u["update_id"] >= offset]
        return [self._out_update(u) for u in self.updates[:limit]]

    def _out(self, message: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in message.items() if not k.endswith("_sent")}

    def _out_update(self, update: dict[str, Any]) -> dict[str, Any]:
        return {k: (self._out(v) if isinstance(v, dict) else v) for k, v in update.items()}


# -- HTTP ----------------------------------------------------------------------------------------

_PATH = re.compile(r"^/bot(?P<token>[^/]*)/(?P<method>[A-Za-z]+)/?$")


def _params(method: str, query: str, headers: dict[str, str], body: bytes):
    params, files = server.request_params(query, headers, body)
    for key in ("reply_parameters", "media", "message_ids", "allowed_updates", "entities"):
        if isinstance(params.get(key), str) and params[key][:1] in ("{", "["):
            params[key] = json.loads(params[key])
    return params, files


class _Handler(server.FakeHandler):
    server_version = "nginx/1.18.0"
    content_type = "application/json"

    def _handle(self, method: str) -> None:
        fake: FakeTelegram = self.server.fake  # type: ignore[attr-defined]
        parts, headers, body = self.read_request()
        match = _PATH.match(parts.path)
        if match is None:
            return self._send(None, 404, {"ok": False, "error_code": 404, "description": "Not Found"})
        try:
            params, files = _params(method, parts.query, headers, body)
        except ValueError:
            return self._send(None, 400, {"ok": False, "error_code": 400, "description": "Bad Request: invalid JSON"})
        request = Request(method, match.group("method"), match.group("token"), params, files, headers)
        with fake.lock:
            fake.requests.append(request)
        fault = fake._take_fault(method, request.api_method)
        delay = fake.latency + (fault.seconds if fault and fault.kind == "latency" else 0.0)
        if delay:
            fake._stopping.wait(delay)
        if fault and not fault.after:
            sent = self._early_fault(request, fault)
            if sent:
                return None
        try:
            result = fake.dispatch(request)
            status, payload = 200, {"ok": True, "result": result}
        except ApiError as error:
            status = error.code
            payload = {"ok": False, "error_code": error.code, "description": error.description}
            if error.parameters:
                payload["parameters"] = error.parameters
        if fault and fault.after:
            if fault.kind == "hang":
                fake._stopping.wait(fault.seconds)
                return self._send(request, status, payload)
            if fault.kind == "drop":
                self.close_connection = True
                request.status = -1
                return None
            if fault.kind in ("status", "malformed"):
                return self._send(request, fault.status, None, raw=(fault.body or "").encode())
        return self._send(request, status, payload)

    def _early_fault(self, request: Request, fault: Fault) -> bool:
        if fault.kind == "rate_limit":
            wait = int(fault.reset_in)
            headers = {"retry-after": str(int(fault.retry_after))} if fault.retry_after is not None else {}
            self._send(request, 429, {"ok": False, "error_code": 429,
                                      "description": f"Too Many Requests: retry after {wait}",
                                      "parameters": {"retry_after": wait}}, headers)
            return True
        if fault.kind == "unauthorized":
            self._send(request, 401, {"ok": False, "error_code": 401, "description": "Unauthorized"})
            return True
        if fault.kind in ("status", "malformed"):
            self._send(request, fault.status, None, raw=(fault.body or "").encode())
            return True
        return False



FakeTelegram.handler_class = _Handler
