"""A loopback fake of the Threads API (graph.threads.net) and its consent page: real HTTP on
127.0.0.1, in a thread, with state.

No recording of Threads publishing, replies or insights exists in ``../shared/corpora`` (the
python-facebook fixtures have only the two token answers, which the token endpoints here
replay: ``testdata/base/threads_user_token.json`` and ``threads_user_long_lived_token.json``).
Everything else follows the documented shapes exactly (developers.facebook.com/docs/threads:
Posts, Reply Management, Delete Posts, Insights, Mentions, Troubleshooting, Long-Lived Tokens):

- ``/v1.0/...`` versioned Graph paths; the token as ``Authorization: Bearer`` or the
  ``access_token`` parameter; errors as Graph's ``{"error": {"message", "type", "code",
  "error_subcode", "fbtrace_id"}}`` with HTTP 400 (190 for an expired token, 100/33 for an
  object that does not exist, 10 for a missing permission);
- containers (``POST /{user}/threads``) with TEXT/IMAGE/VIDEO/CAROUSEL, ``reply_to_id``,
  ``is_carousel_item`` and ``children`` (2-20), 500 characters, at most 5 links
  (``THREADS_API__LINK_LIMIT_EXCEEDED``); container status IN_PROGRESS -> FINISHED (videos
  after ``video_polls`` status reads), ERROR with ``error_message``, PUBLISHED; publishing a
  container twice is refused;
- ``threads_publish``, ``threads_publishing_limit``, ``DELETE /{media}``, ``/{user}/threads``,
  ``/{user}/replies``, ``/{media}/replies``, ``/{media}/conversation``, ``/{user}/mentions``
  (code 10 without ``threads_manage_mentions``), ``/{media}/insights`` (a retired metric
  answers error 100 for the whole request), ``/{user}/threads_insights`` (followers_count);
- ``/oauth/authorize`` (the consent page: approves or denies at once and redirects back),
  ``POST /oauth/access_token``, ``GET /access_token?grant_type=th_exchange_token`` and
  ``GET /refresh_access_token?grant_type=th_refresh_token``.

Faults (``inject(pattern, Fault…)`` where ``pattern`` is a regular expression on the endpoint
name, e.g. ``"POST /:id/threads_publish"``, or ``"*"``): latency, Meta's throttling (code 4
with ``X-App-Usage``/``X-Business-Use-Case-Usage``), 5xx, a hang or a dropped connection
*after* the request was applied, an expired token (190) and malformed JSON.
"""

from __future__ import annotations

import json
import random
import re
import secrets
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from http.server import ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode

from . import server
from .corpora import corpora_dir

VERSION = "v1.0"
USER_ID = "17841400000000001"
USERNAME = "cafetertulia"
TOKEN_DIR = Path("python-facebook-graph-fixtures/testdata/base")
METRICS = ("views", "likes", "replies", "reposts", "quotes", "shares")
# The documented fields (Media Retrieval, Reply Management, Profiles): any other is error 100.
MEDIA_FIELDS = frozenset({
    "id", "media_product_type", "media_type", "media_url", "permalink", "owner", "username", "text", "timestamp",
    "shortcode", "thumbnail_url", "children", "is_quote_post", "has_replies", "root_post", "replied_to", "is_reply",
    "is_reply_owned_by_me", "hide_status", "reply_audience", "quoted_post", "reposted_post", "alt_text",
    "link_attachment_url", "gif_url", "topic_tag", "profile_picture_url", "is_verified"})
USER_FIELDS = frozenset({"id", "username", "name", "threads_profile_picture_url", "threads_biography",
                         "is_verified"})
_URL = re.compile(r"(?i)\b(?:https?://|www\.)[^\s<>\"']+")


def _recorded(name: str, fallback: dict[str, Any]) -> dict[str, Any]:
    """A recorded token answer (its keys and value types), or the documented one."""
    path = corpora_dir() / TOKEN_DIR / name
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return dict(fallback)


def _graph_error(message: str, code: int, *, subcode: int | None = None, kind: str = "OAuthException",
                 transient: bool = False, user_msg: str = "") -> dict[str, Any]:
    error: dict[str, Any] = {"message": message, "type": kind, "code": code,
                             "fbtrace_id": "A" + secrets.token_urlsafe(16)}
    if subcode is not None:
        error["error_subcode"] = subcode
    if transient:
        error["is_transient"] = True
    if user_msg:
        error["error_user_msg"] = user_msg
    return {"error": error}


class Fault(server.Fault):
    """Meta's error bodies on top of the shared fault vocabulary."""

    @classmethod
    def server_error(cls, status: int = 500, *, after: bool = False) -> Fault:
        body = json.dumps(_graph_error("An unknown error has occurred.", 1, transient=True))
        return cls("status", status=status, after=after, body=body)

    @classmethod
    def gateway(cls, status: int = 502, *, after: bool = True) -> Fault:
        return cls("status", status=status, after=after, body="<html><body>Bad Gateway</body></html>")

    @classmethod
    def throttled(cls, minutes: int = 30) -> Fault:
        """Meta's application throttling: code 4, with the usage headers saying when."""
        return cls("rate_limit", status=403, reset_in=minutes * 60.0)

    @classmethod
    def malformed(cls, body: str = '{"id": "1790', *, after: bool = True, status: int = 200) -> Fault:
        return cls("malformed", body=body, after=after, status=status)

    @classmethod
    def expired_token(cls) -> Fault:
        return cls("unauthorized", status=400)


class ApiError(Exception):
    def __init__(self, status: int, payload: dict[str, Any]):
        super().__init__(payload)
        self.status, self.payload = status, payload


def _not_found(object_id: str) -> ApiError:
    return ApiError(400, _graph_error(
        f"Unsupported get request. Object with ID '{object_id}' does not exist, cannot be loaded due to missing "
        "permissions, or does not support this operation.", 100, subcode=33, kind="GraphMethodException"))


def _param_error(message: str, *, subcode: int | None = None, user_msg: str = "") -> ApiError:
    return ApiError(400, _graph_error(message, 100, subcode=subcode, user_msg=user_msg))


@dataclass
class Request:
    method: str
    path: str
    endpoint: str  # "POST /:id/threads_publish"
    params: dict[str, str]
    headers: dict[str, str]
    token: str
    at: float = field(default_factory=time.time)
    status: int | None = None


_ID_PART = re.compile(r"^\d+$")


def endpoint_name(method: str, path: str) -> str:
    parts = [p for p in path.split("/") if p]
    if parts and parts[0] == VERSION:
        parts = parts[1:]
    return f"{method} /" + "/".join(":id" if _ID_PART.match(p) else p for p in parts)


class FakeThreads(server.LoopbackServer):
    """Start with ``with FakeThreads() as fake:``; ``fake.token`` is a valid long-lived token of
    the account ``@cafetertulia`` (``fake.user_id``)."""

    thread_name = "fake-threads"

    def __init__(self, *, seed: int = 0, client_id: str = "990602627938098", client_secret: str = "s3cr3t-app"):
        self.random = random.Random(seed)
        self.lock = threading.RLock()
        self.latency = 0.0
        self._rules: list[server.FaultRule] = []
        self._stopping = threading.Event()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.requests: list[Request] = []
        self.client_id, self.client_secret = client_id, client_secret
        self.user_id = USER_ID
        self.user = {"id": USER_ID, "username": USERNAME, "name": "Café Tertulia",
                     "threads_profile_picture_url": "https://scontent.cdninstagram.com/v/t51/cafe.jpg",
                     "threads_biography": "Café y libros en Sevilla ☕📚"}
        self.followers = 1280
        self.tokens: dict[str, dict[str, Any]] = {}
        self.codes: dict[str, dict[str, Any]] = {}
        self.manage_replies_permission = True  # False: the token lacks threads_manage_replies
        self.deny = False  # the consent page answers error=access_denied
        self.containers: dict[str, dict[str, Any]] = {}
        self.media: dict[str, dict[str, Any]] = {}
        self.deleted: set[str] = set()
        self.mentions: list[str] = []
        self.mentions_permission = True
        self.retired_metrics: set[str] = set()
        self.quota_usage = 0  # posts published "earlier today" besides ours
        self.reply_quota_usage = 0
        self.video_polls = 1  # status reads a video container stays IN_PROGRESS
        self.stuck = False  # every media container stays IN_PROGRESS
        self.listing_lag = False  # new posts exist but are not in the account's listing yet
        self.failing_media: dict[str, str] = {}  # URL substring -> error_message (ERROR status)
        self.page_size = 25
        self._seq = 18000000000000000
        self.token = self.new_token(USER_ID, kind="long")

    def _seed_accounts(self) -> None:
        return None

    # -- helpers for tests --------------------------------------------------------------------

    def new_token(self, user_id: str = USER_ID, *, kind: str = "long", seconds: int = 5183944) -> str:
        token = "THQVJ" + secrets.token_urlsafe(40)
        with self.lock:
            self.tokens[token] = {"user_id": user_id, "kind": kind, "expires": time.time() + seconds,
                                  "issued": time.time()}
        return token

    def expire_token(self, token: str | None = None) -> None:
        with self.lock:
            self.tokens[token or self.token]["expires"] = time.time() - 1

    def inject(self, pattern: str, fault: Fault, *, times: int | None = 1, probability: float = 1.0) -> None:
        matches = (lambda name: True) if pattern == "*" else (lambda name: re.search(pattern, name) is not None)
        self._add_rule("*", matches, fault, times, probability)

    def requests_to(self, pattern: str) -> list[Request]:
        with self.lock:
            return [r for r in self.requests if re.search(pattern, r.endpoint)]

    def posts(self) -> list[dict[str, Any]]:
        """Our account's live top-level posts, oldest first."""
        with self.lock:
            return [m for m in self.media.values() if m["owner"] == USER_ID and not m.get("replied_to")
                    and m["id"] not in self.deleted]

    def replies_of(self, media_id: str) -> list[dict[str, Any]]:
        with self.lock:
            return [m for m in self.media.values() if (m.get("replied_to") or {}).get("id") == media_id
                    and m["id"] not in self.deleted]

    def _next_id(self) -> str:
        self._seq += self.random.randint(1, 999)
        return str(self._seq)

    def _new_media(self, *, owner: str, username: str, text: str, media_type: str,
                   replied_to: str = "", when: datetime | None = None, **extra: Any) -> dict[str, Any]:
        media_id = self._next_id()
        shortcode = secrets.token_urlsafe(8).replace("-", "a").replace("_", "b")
        when = when or datetime.now(timezone.utc)
        media = {"id": media_id, "owner": owner, "username": username, "text": text, "media_type": media_type,
                 "timestamp": when.strftime("%Y-%m-%dT%H:%M:%S+0000"), "shortcode": shortcode,
                 "permalink": f"https://www.threads.com/@{username}/post/{shortcode}",
                 "insights": {m: 0 for m in METRICS}, **extra}
        if replied_to:
            parent = self.media[replied_to]
            media["replied_to"] = {"id": replied_to}
            media["root_post"] = {"id": (parent.get("root_post") or {}).get("id") or replied_to}
            media["is_reply"] = True
        else:
            media["is_reply"] = False
        self.media[media_id] = media
        return media

    def reply_from(self, username: str, text: str, *, to: str, when: datetime | None = None) -> dict[str, Any]:
        """Someone else answers one of our posts (or a reply under it)."""
        with self.lock:
            return self._new_media(owner="9" + self._next_id(), username=username, text=text, media_type="TEXT_POST",
                                   replied_to=to, when=when,
                                   profile_picture_url="https://scontent.cdninstagram.com/v/t51/someone.jpg")

    def mention_from(self, username: str, text: str, *, when: datetime | None = None) -> dict[str, Any]:
        with self.lock:
            media = self._new_media(owner="9" + self._next_id(), username=username, text=text,
                                    media_type="TEXT_POST", when=when)
            self.mentions.append(media["id"])
            return media

    def set_insights(self, media_id: str, **values: int) -> None:
        with self.lock:
            self.media[media_id]["insights"].update(values)

    # -- auth ---------------------------------------------------------------------------------

    def _authenticate(self, request: Request) -> str:
        info = self.tokens.get(request.token) if request.token else None
        if info is None:
            raise ApiError(400, _graph_error("Invalid OAuth access token - Cannot parse access token", 190))
        if info["expires"] < time.time():
            raise ApiError(400, _graph_error(
                "Error validating access token: Session has expired on Tuesday, 25-Nov-25 10:00:00 PST.", 190,
                subcode=463))
        return info["user_id"]

    # -- dispatch -----------------------------------------------------------------------------

    def dispatch(self, request: Request) -> tuple[int, Any, dict[str, str]]:
        path = [p for p in request.path.split("/") if p]
        with self.lock:
            if request.method == "GET" and path == ["oauth", "authorize"]:
                return self._authorize(request)
            if request.method == "POST" and path == ["oauth", "access_token"]:
                return 200, self._code_exchange(request.params), {}
            if request.method == "GET" and path == ["access_token"]:
                return 200, self._long_lived(request.params), {}
            if request.method == "GET" and path == ["refresh_access_token"]:
                return 200, self._refresh(request.params), {}
            if not path or path[0] != VERSION:
                raise ApiError(404, _graph_error("Unknown path components", 2500))
            user = self._authenticate(request)
            return 200, self._graph(request, user, path[1:]), {}

    def _graph(self, request: Request, user: str, path: list[str]) -> Any:
        method, params = request.method, request.params
        target = USER_ID if path and path[0] == "me" else (path[0] if path else "")
        if target == USER_ID and user != USER_ID:
            raise _not_found(target)
        if len(path) == 1:
            if method == "GET":
                return self._read_object(target, params)
            if method == "DELETE":
                return self._delete(target)
        edge = path[1] if len(path) == 2 else ""
        if target == USER_ID:
            if method == "POST" and edge == "threads":
                return self._create_container(params)
            if method == "POST" and edge == "threads_publish":
                return self._publish(params)
            if method == "GET" and edge == "threads_publishing_limit":
                return self._limits(params)
            if method == "GET" and edge == "threads":
                listed = [] if self.listing_lag else list(reversed(self.posts()))
                return self._page(request, listed, params)
            if method == "GET" and edge == "replies":
                mine = [m for m in self.media.values() if m["owner"] == USER_ID and m.get("replied_to")
                        and m["id"] not in self.deleted]
                return self._page(request, list(reversed(mine)), params)
            if method == "GET" and edge == "mentions":
                if not self.mentions_permission:
                    raise ApiError(400, _graph_error("(#10) Application does not have permission for this action",
                                                     10))
                items = [self.media[i] for i in reversed(self.mentions) if i not in self.deleted]
                return self._page(request, items, params)
            if method == "GET" and edge == "threads_insights":
                metrics = params.get("metric", "").split(",")
                if metrics != ["followers_count"]:
                    raise _param_error("(#100) The value must be a valid insights metric")
                return {"data": [{"name": "followers_count", "period": "day", "title": "followers_count",
                                  "description": "The number of followers of the Threads profile.",
                                  "total_value": {"value": self.followers},
                                  "id": f"{USER_ID}/insights/followers_count/day"}]}
        if target in self.media and target not in self.deleted and method == "POST" and edge == "manage_reply":
            return self._manage_reply(target, params)
        if target in self.media and target not in self.deleted and method == "GET":
            if edge == "insights":
                return self._insights(target, params)
            if edge == "replies":
                return self._page(request, self.replies_of(target), params, reverse_default=True)
            if edge == "conversation":
                return self._page(request, self._conversation(target), params, reverse_default=True)
        if target in self.deleted or (target not in self.media and target not in self.containers):
            raise _not_found(target)
        raise ApiError(400, _graph_error("Unsupported request - method type: " + method.lower(), 100))

    def _manage_reply(self, target: str, params: dict[str, str]) -> Any:
        """``POST /{reply-id}/manage_reply?hide=true|false``: hide a reply under one of our posts
        (threads_manage_replies)."""
        if not self.manage_replies_permission:
            raise ApiError(400, _graph_error("(#10) Application does not have permission for this action", 10))
        if "hide" not in params:
            raise _param_error("(#100) The parameter hide is required")
        reply = self.media[target]
        root = self.media.get((reply.get("root_post") or {}).get("id", ""))
        if not reply.get("replied_to") or root is None or root["owner"] != USER_ID:
            raise _param_error("(#100) Only replies to your own posts can be hidden")
        reply["hide_status"] = "HIDDEN" if str(params["hide"]).lower() == "true" else "UNHUSHED"
        return {"success": True}

    # -- objects --------------------------------------------------------------------------------

    def _fields(self, obj: dict[str, Any], params: dict[str, str], allowed: frozenset[str] = MEDIA_FIELDS) -> dict:
        fields = [f for f in (params.get("fields") or "id").split(",") if f]
        for name in fields:
            if name not in allowed:
                raise _param_error(f"(#100) Tried accessing nonexisting field ({name}) on node type (ThreadsMedia)")
        out = {"id": obj["id"]}
        for name in fields:
            if name == "is_reply_owned_by_me":
                out[name] = obj.get("owner") == USER_ID
            elif name in obj and name not in ("owner", "insights", "page"):
                out[name] = obj[name]
        return out

    def _read_object(self, target: str, params: dict[str, str]) -> Any:
        if target == USER_ID:
            return self._fields(self.user, params, USER_FIELDS)
        if target in self.containers:
            container = self.containers[target]
            if container["status"] == "IN_PROGRESS":
                container["polls"] += 1
                if not self.stuck and container["polls"] > container["wait"]:
                    container["status"] = "FINISHED"
                    if container.get("fails"):
                        container["status"], container["error_message"] = "ERROR", container["fails"]
            for name in (params.get("fields") or "id").split(","):
                if name not in ("id", "status", "error_message"):
                    raise _param_error(f"(#100) Tried accessing nonexisting field ({name}) on node type "
                                       "(ThreadsMediaContainer)")
            out = {"id": target, "status": container["status"]}
            if "error_message" in (params.get("fields") or "") and container.get("error_message"):
                out["error_message"] = container["error_message"]
            return out
        if target in self.media and target not in self.deleted:
            return self._fields(self.media[target], params)
        raise _not_found(target)

    def _delete(self, target: str) -> Any:
        media = self.media.get(target)
        if media is None or target in self.deleted or media["owner"] != USER_ID:
            raise _not_found(target)
        self.deleted.add(target)
        return {"success": True, "deleted_id": target}

    def _create_container(self, params: dict[str, str]) -> Any:
        media_type = params.get("media_type", "")
        text = params.get("text", "")
        if media_type not in ("TEXT", "IMAGE", "VIDEO", "CAROUSEL"):
            raise _param_error("(#100) The parameter media_type is required.")
        if len(text) > 500:
            raise _param_error("Param text must be at most 500 characters long.", subcode=4279009,
                               user_msg="The post text is too long.")
        links = {re.sub(r"(?i)^(https?://)?(www\.)?", "", u).rstrip("/").lower() for u in _URL.findall(text)}
        if len(links) > 5:
            raise _param_error("THREADS_API__LINK_LIMIT_EXCEEDED", subcode=4279025,
                               user_msg="Posts can include at most 5 links.")
        reply_to = params.get("reply_to_id", "")
        if reply_to and (reply_to not in self.media or reply_to in self.deleted):
            raise _not_found(reply_to)
        container: dict[str, Any] = {"id": self._next_id(), "media_type": media_type, "text": text,
                                     "reply_to_id": reply_to, "status": "FINISHED", "polls": 0, "wait": 0,
                                     "carousel_item": params.get("is_carousel_item") == "true",
                                     "alt_text": params.get("alt_text", "")}
        if media_type == "TEXT" and not text:
            raise _param_error("(#100) The parameter text is required for TEXT posts.")
        if media_type in ("IMAGE", "VIDEO"):
            url = params.get("image_url" if media_type == "IMAGE" else "video_url", "")
            if not url.startswith(("http://", "https://")):
                raise _param_error(f"(#100) The parameter {'image_url' if media_type == 'IMAGE' else 'video_url'} "
                                   "is required.")
            container["url"] = url
            container["status"] = "IN_PROGRESS"
            container["wait"] = self.video_polls if media_type == "VIDEO" else 0
            for fragment, message in self.failing_media.items():
                if fragment in url:
                    container["fails"] = message
        if media_type == "CAROUSEL":
            children = [c for c in params.get("children", "").split(",") if c]
            if not 2 <= len(children) <= 20:
                raise _param_error("(#100) A carousel needs between 2 and 20 children.")
            for child in children:
                item = self.containers.get(child)
                if item is None or not item["carousel_item"]:
                    raise _param_error(f"(#100) Child {child} is not a carousel item.")
                if item["status"] != "FINISHED":
                    raise _param_error(f"(#100) Child {child} is not ready.", subcode=4279009)
            container["children"] = children
        self.containers[container["id"]] = container
        return {"id": container["id"]}

    def _publish(self, params: dict[str, str]) -> Any:
        container = self.containers.get(params.get("creation_id", ""))
        if container is None:
            raise _not_found(params.get("creation_id", ""))
        if container["status"] == "PUBLISHED":
            raise _param_error("(#100) This media container has already been published.")
        if container["status"] != "FINISHED" or container["carousel_item"]:
            raise _param_error("The media is not ready for publishing, please wait for a moment", subcode=4279009)
        kinds = {"TEXT": "TEXT_POST", "IMAGE": "IMAGE", "VIDEO": "VIDEO", "CAROUSEL": "CAROUSEL_ALBUM"}
        media = self._new_media(owner=USER_ID, username=USERNAME, text=container["text"],
                                media_type=kinds[container["media_type"]], replied_to=container["reply_to_id"],
                                container=container["id"])
        if container.get("children"):
            media["children"] = {"data": [{"id": c} for c in container["children"]]}
        container["status"] = "PUBLISHED"
        return {"id": media["id"]}

    def _limits(self, params: dict[str, str]) -> Any:
        day = time.time() - 86400
        ours = [m for m in self.media.values() if m["owner"] == USER_ID]
        posts = sum(1 for m in ours if not m.get("replied_to") and _epoch(m["timestamp"]) > day)
        replies = sum(1 for m in ours if m.get("replied_to") and _epoch(m["timestamp"]) > day)
        row: dict[str, Any] = {}
        for name in (params.get("fields") or "quota_usage,config").split(","):
            if name == "quota_usage":
                row[name] = self.quota_usage + posts
            elif name == "config":
                row[name] = {"quota_total": 250, "quota_duration": 86400}
            elif name == "reply_quota_usage":
                row[name] = self.reply_quota_usage + replies
            elif name == "reply_config":
                row[name] = {"quota_total": 1000, "quota_duration": 86400}
        return {"data": [row]}

    def _insights(self, target: str, params: dict[str, str]) -> Any:
        metrics = [m for m in params.get("metric", "").split(",") if m]
        valid = [m for m in METRICS if m not in self.retired_metrics]
        for index, metric in enumerate(metrics):
            if metric not in valid:
                raise _param_error(f"(#100) metric[{index}] must be one of the following values: {', '.join(valid)}")
        values = self.media[target]["insights"]
        return {"data": [{"name": m, "period": "lifetime", "values": [{"value": values.get(m, 0)}], "title": m,
                          "description": f"The number of {m} of the post.",
                          "id": f"{target}/insights/{m}/lifetime"} for m in metrics]}

    def _conversation(self, root: str) -> list[dict[str, Any]]:
        out, todo = [], [root]
        while todo:
            parent = todo.pop(0)
            for reply in self.replies_of(parent):
                out.append(reply)
                todo.append(reply["id"])
        return out

    def _page(self, request: Request, items: list[dict[str, Any]], params: dict[str, str], *,
              reverse_default: bool = False) -> Any:
        since = params.get("since")
        if since:
            try:
                since_at = float(since)
            except ValueError:
                raise _param_error("(#100) since must be a unix timestamp") from None
            items = [m for m in items if _epoch(m["timestamp"]) >= since_at]
        if reverse_default and params.get("reverse", "true") == "true":
            items = list(reversed(items))
        try:
            limit = max(1, min(int(params.get("limit") or self.page_size), 100))
        except ValueError:
            raise _param_error("(#100) limit must be a number") from None
        limit = min(limit, self.page_size)
        start = int(params.get("after") or 0)
        chunk = items[start:start + limit]
        out: dict[str, Any] = {"data": [self._fields(m, params) for m in chunk]}
        if chunk:
            out["paging"] = {"cursors": {"before": str(start), "after": str(start + len(chunk))}}
        if start + limit < len(items):
            query = {k: v for k, v in params.items() if k != "after"}
            query.update({"after": str(start + limit), "access_token": request.token})
            out["paging"]["next"] = f"{self.base_url}{request.path}?{urlencode(query)}"
        return out

    # -- OAuth ----------------------------------------------------------------------------------

    def _authorize(self, request: Request) -> tuple[int, Any, dict[str, str]]:
        params = request.params
        if params.get("client_id") != self.client_id or params.get("response_type") != "code":
            return 400, _graph_error("Invalid platform app", 100), {}
        redirect = params.get("redirect_uri", "")
        if self.deny:
            query = {"error": "access_denied", "error_reason": "user_denied",
                     "error_description": "Permissions error", "state": params.get("state", "")}
        else:
            code = "AQ" + secrets.token_urlsafe(60)
            self.codes[code] = {"redirect_uri": redirect, "scope": params.get("scope", ""), "used": False}
            query = {"code": code, "state": params.get("state", "")}
        return 302, None, {"location": f"{redirect}?{urlencode(query)}#_"}

    def _code_exchange(self, params: dict[str, str]) -> Any:
        if params.get("client_id") != self.client_id or params.get("client_secret") != self.client_secret:
            raise ApiError(400, _graph_error("Error validating client secret.", 1, kind="OAuthException"))
        if params.get("grant_type") != "authorization_code":
            raise _param_error("Unsupported grant_type")
        code = self.codes.get(params.get("code", ""))
        if code is None or code["used"]:
            raise ApiError(400, _graph_error("Invalid verification code format.", 100))
        if code["redirect_uri"] != params.get("redirect_uri"):
            raise ApiError(400, _graph_error("Error validating verification code. Please make sure your "
                                             "redirect_uri is identical to the one you used in the OAuth dialog "
                                             "request", 100, subcode=36008))
        code["used"] = True
        answer = _recorded("threads_user_token.json", {"access_token": "", "user_id": 0})
        answer["access_token"] = self.new_token(USER_ID, kind="short", seconds=3600)
        answer["user_id"] = int(USER_ID) if isinstance(answer.get("user_id"), int) else USER_ID
        return answer

    def _long_lived(self, params: dict[str, str]) -> Any:
        if params.get("grant_type") != "th_exchange_token" or params.get("client_secret") != self.client_secret:
            raise ApiError(400, _graph_error("Error validating client secret.", 1))
        info = self.tokens.get(params.get("access_token", ""))
        if info is None or info["kind"] != "short" or info["expires"] < time.time():
            raise ApiError(400, _graph_error("Error validating access token.", 190))
        answer = _recorded("threads_user_long_lived_token.json",
                           {"access_token": "", "token_type": "bearer", "expires_in": 5183944})
        answer["access_token"] = self.new_token(info["user_id"], kind="long", seconds=int(answer["expires_in"]))
        return answer

    def _refresh(self, params: dict[str, str]) -> Any:
        if params.get("grant_type") != "th_refresh_token":
            raise _param_error("Unsupported grant_type")
        info = self.tokens.get(params.get("access_token", ""))
        if info is None or info["kind"] != "long":
            raise ApiError(400, _graph_error("Invalid OAuth access token - Cannot parse access token", 190))
        if info["expires"] < time.time():
            raise ApiError(400, _graph_error("Error validating access token: Session has expired.", 190,
                                             subcode=463))
        answer = _recorded("threads_user_long_lived_token.json",
                           {"access_token": "", "token_type": "bearer", "expires_in": 5183944})
        answer["access_token"] = self.new_token(info["user_id"], kind="long", seconds=int(answer["expires_in"]))
        return answer


def _epoch(timestamp: str) -> float:
    return datetime.strptime(timestamp, "%Y-%m-%dT%H:%M:%S%z").timestamp()


class _Handler(server.FakeHandler):
    server_version = "proxygen-bolt"
    content_type = "application/json; charset=UTF-8"

    def _handle(self, method: str) -> None:
        fake: FakeThreads = self.server.fake  # type: ignore[attr-defined]
        parts, headers, body = self.read_request()
        params = dict(parse_qsl(parts.query, keep_blank_values=True))
        if body and "application/x-www-form-urlencoded" in headers.get("content-type", ""):
            params.update(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))
        elif body and "json" in headers.get("content-type", ""):
            try:
                loaded = json.loads(body)
            except ValueError:
                loaded = {}
            params.update({k: str(v) for k, v in (loaded.items() if isinstance(loaded, dict) else [])})
        auth = headers.get("authorization", "")
        token = auth[7:].strip() if auth.lower().startswith("bearer ") else params.get("access_token", "")
        request = Request(method, parts.path, endpoint_name(method, parts.path), params, headers, token)
        with fake.lock:
            fake.requests.append(request)
        fault = fake._take_fault(method, request.endpoint)
        delay = fake.latency + (fault.seconds if fault and fault.kind == "latency" else 0.0)
        if delay:
            fake._stopping.wait(delay)
        if fault and not fault.after and self._early_fault(request, fault):
            return None
        extra: dict[str, str] = {}
        try:
            status, payload, extra = fake.dispatch(request)
        except ApiError as error:
            status, payload = error.status, error.payload
        if fault and fault.after:
            if fault.kind == "hang":
                fake._stopping.wait(fault.seconds)
                return self._send(request, status, payload, extra)
            if fault.kind == "drop":
                self.close_connection = True
                request.status = -1
                return None
            if fault.kind in ("status", "malformed"):
                return self._send(request, fault.status, None, raw=(fault.body or "").encode())
        return self._send(request, status, payload, extra)

    def _early_fault(self, request: Request, fault: Fault) -> bool:
        if fault.kind == "rate_limit":
            minutes = max(1, int(fault.reset_in // 60))
            usage = {"call_count": 100, "total_cputime": 40, "total_time": 60}
            business = {"17841400000000001": [{"type": "threads", "call_count": 100, "total_cputime": 40,
                                               "total_time": 60, "estimated_time_to_regain_access": minutes}]}
            self._send(request, fault.status, _graph_error("(#4) Application request limit reached", 4,
                                                           transient=True),
                       {"x-app-usage": json.dumps(usage), "x-business-use-case-usage": json.dumps(business)})
            return True
        if fault.kind == "unauthorized":
            self._send(request, 400, _graph_error("Error validating access token: Session has expired.", 190,
                                                  subcode=463))
            return True
        if fault.kind in ("status", "malformed"):
            self._send(request, fault.status, None, raw=(fault.body or "").encode())
            return True
        return False



FakeThreads.handler_class = _Handler
