"""A loopback fake of the Instagram Graph API (Facebook Login flavour, graph.facebook.com):
real HTTP on 127.0.0.1, in a thread, with state.

Recorded real answers come from ``../shared/corpora/python-facebook-graph-fixtures/testdata/
instagram/apidata`` (read at run time, never copied): the account's profile
(``users/user_fields.json``), its existing media (``users/medias_p1/p2.json``), comments and
replies (``medias/comments_p1/p2.json``, ``comments/comments_fields.json``,
``comments/replies.json``), the posts it is tagged in (``users/tagged_medias.json``), the
publishing quota (``publish/publish_limit_resp.json``), the container / publish answers
(``publish/create_photo.json``, ``publish/container_info.json``, ``publish/publish_container.json``)
and the insights rows (``medias/insights.json``). New objects follow the same shapes. What is
not recorded follows the reference docs: Graph's error body
``{"error": {"message", "type", "code", "error_subcode", "fbtrace_id"}}``, cursor paging
(``paging.cursors.after`` + ``paging.next``), field selection with ``fields=``, nested
``replies{...}`` expansion.

Like Instagram:

- the token goes in ``Authorization: Bearer`` (or ``access_token=``); an unknown or expired one
  is 400 OAuthException code 190 (subcode 463 when expired);
- containers (``POST /{ig-user-id}/media``) download their media: an ``image_url`` / ``video_url``
  the fake does not host is error 9004 / 2207052; images are ``FINISHED`` at once, videos after
  ``video_polls`` status reads; ``script_next_container([...])`` makes the next (non-child)
  container go through the given status codes (e.g. IN_PROGRESS, IN_PROGRESS, ERROR);
- ``media_publish`` publishes a FINISHED container once (its status turns PUBLISHED; a second
  call is refused), counts against ``content_publishing_limit`` (25 per 86,400 s), and refuses
  at the quota (code 9, subcode 2207042);
- ``/{media-id}/insights`` refuses a deprecated metric (``impressions`` for new media) or one in
  ``unsupported_metrics`` with error 100, naming it;
- there is no DELETE on media (error 100 "Unsupported delete request").

Faults (``inject("POST media_publish", Fault…)``; names are ``<METHOD> <edge>``, the edge being
``node`` for the object itself, or ``"*"``): latency, 5xx with a transient Graph error, a hang or a
dropped connection *after* the write was applied, throttling (code 4 with ``X-App-Usage``), an
expired token and malformed JSON.
"""

from __future__ import annotations

import copy
import json
import random
import secrets
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from http.server import ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, quote, urlencode

from . import server
from .corpora import CorpusMissing, corpora_dir

_ONE_OF_METRICS = ("views", "reach", "saved", "shares", "likes", "comments", "total_interactions", "impressions",
                   "profile_activity", "profile_visits", "follows", "ig_reels_avg_watch_time")


# Fields of one node type that the other does not have (asking for them is error 100).
_MEDIA_ONLY = frozenset({"media_type", "media_product_type", "caption", "permalink", "media_url", "children",
                         "comments_count", "thumbnail_url", "shortcode", "owner"})
_COMMENT_ONLY = frozenset({"text", "parent_id", "hidden", "from"})


def fixtures_dir() -> Path:
    path = corpora_dir() / "python-facebook-graph-fixtures" / "testdata" / "instagram" / "apidata"
    if not path.is_dir():
        raise CorpusMissing(f"no Instagram fixtures at {path} (set TERTULIA_CORPORA)")
    return path


def fixture(name: str) -> Any:
    with open(fixtures_dir() / name, encoding="utf-8") as fh:
        return json.load(fh)


def graph_time(when: datetime) -> str:
    return when.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S+0000")


class Fault(server.Fault):
    """Graph's error bodies on top of the shared fault vocabulary."""

    @classmethod
    def server_error(cls, status: int = 500, *, after: bool = False) -> Fault:
        body = {"error": {"message": "An unexpected error has occurred. Please retry your request later.",
                          "type": "OAuthException", "is_transient": True, "code": 2,
                          "fbtrace_id": "AFakeTrace500"}}
        return cls("status", status=status, after=after, body=json.dumps(body))

    @classmethod
    def graph_error(cls, code: int, message: str, *, subcode: int | None = None, status: int = 400,
                    after: bool = False) -> Fault:
        error = {"message": message, "type": "OAuthException", "code": code, "fbtrace_id": "AFakeTrace"}
        if subcode is not None:
            error["error_subcode"] = subcode
        return cls("status", status=status, after=after, body=json.dumps({"error": error}))

    @classmethod
    def throttled(cls, minutes: int = 12) -> Fault:
        return cls("rate_limit", status=400, reset_in=minutes * 60.0)

    @classmethod
    def malformed(cls, body: str = '{"id": "1789', *, after: bool = True, status: int = 200) -> Fault:
        return cls("malformed", body=body, after=after, status=status)

    @classmethod
    def expired_token(cls) -> Fault:
        return cls("unauthorized", status=400)


class GraphError(Exception):
    def __init__(self, code: int, message: str, *, subcode: int | None = None, status: int = 400):
        super().__init__(message)
        self.code, self.message, self.subcode, self.status = code, message, subcode, status

    def body(self) -> dict:
        error = {"message": self.message, "type": "OAuthException", "code": self.code,
                 "fbtrace_id": f"AFake{secrets.token_hex(6)}"}
        if self.subcode is not None:
            error["error_subcode"] = self.subcode
        return {"error": error}


@dataclass
class Request:
    method: str
    path: str
    endpoint: str  # "POST media_publish", "GET node"...
    object_id: str
    edge: str
    params: dict[str, str]
    headers: dict[str, str]
    token: str
    at: float = field(default_factory=time.time)
    status: int | None = None


class FakeInstagram(server.LoopbackServer):
    """Start with ``with FakeInstagram() as fake:``; ``fake.token`` is the Page token and
    ``fake.ig_user_id`` the account's id."""

    thread_name = "fake-instagram"

    def __init__(self, *, seed: int = 0, video_polls: int = 1):
        self.random = random.Random(seed)
        self.lock = threading.RLock()
        self.latency = 0.0
        self._rules: list[server.FaultRule] = []
        self._stopping = threading.Event()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.requests: list[Request] = []
        self.token = "EAAG" + secrets.token_urlsafe(40).replace("-", "x").replace("_", "y")
        self.expired: set[str] = set()
        self.video_polls = video_polls
        self.hosted: dict[str, bytes] = {}
        # Addresses outside the fake that count as reachable (SITE_URL + the signed media route).
        self.public_prefixes: list[str] = []
        self.fetched_urls: list[str] = []
        self.media: dict[str, dict[str, Any]] = {}  # newest first when listed (by timestamp)
        self.containers: dict[str, dict[str, Any]] = {}
        self.comments: dict[str, dict[str, Any]] = {}  # id -> comment (with "media_id", "parent_id")
        self.tagged: list[dict[str, Any]] = []
        self.insights: dict[str, dict[str, int]] = {}
        self.deprecated_metrics = {"impressions"}
        self.unsupported_metrics: dict[str, set[str]] = {}
        self.published_at: list[float] = []  # media_publish times (the quota window)
        self.extra_quota_usage = 0
        # Permissions the token lacks (e.g. "instagram_manage_comments"): Graph answers code 10.
        self.missing_permissions: set[str] = set()
        self._scripts: list[list[tuple[str, str]]] = []
        self._seq = 17920238422030506

    # -- seeding from the recorded answers ------------------------------------------------------

    def _seed_accounts(self) -> None:
        profile = fixture("users/user_fields.json")
        self.ig_user_id = str(profile["id"])
        self.profile = {**profile, "follows_count": 312, "website": "https://developers.facebook.com/"}
        self.username = profile["username"]
        quota = fixture("publish/publish_limit_resp.json")["data"][0]
        self.quota_total = quota["config"]["quota_total"]
        self.quota_duration = quota["config"]["quota_duration"]
        for page in ("users/medias_p1.json", "users/medias_p2.json"):
            for item in fixture(page)["data"]:
                self.media[str(item["id"])] = {**item, "caption": item.get("caption", ""),
                                               "media_product_type": "FEED", "username": self.username,
                                               "owner": self.ig_user_id}
        # Comments recorded on one post of the account, with their authors and a reply.
        post_id = next(iter(self.media))
        self.commented_media_id = post_id
        authors = fixture("comments/comments_fields.json")
        for page in ("medias/comments_p1.json", "medias/comments_p2.json"):
            for item in fixture(page)["data"]:
                known = authors.get(item["id"], {})
                username = known.get("username") or f"reader{item['id'][-4:]}"
                self.comments[item["id"]] = {**item, "username": username, "like_count": known.get("like_count", 0),
                                             "from": {"id": f"178414{item['id'][-8:]}", "username": username},
                                             "media_id": post_id, "parent_id": ""}
        first = fixture("medias/comments_p1.json")["data"][0]["id"]
        for item in fixture("comments/replies.json")["data"]:
            self.comments[item["id"]] = {**item, "username": "lixiangguodu123", "like_count": 0,
                                         "from": {"id": "17841400000000001", "username": "lixiangguodu123"},
                                         "media_id": post_id, "parent_id": first}
        self.media[post_id]["comments_count"] = len([c for c in self.comments.values() if not c["parent_id"]])
        for item in fixture("users/tagged_medias.json")["data"]:
            self.tagged.append({**item, "username": "someone.else"})
        recorded = {row["name"]: row["values"][0]["value"] for row in fixture("medias/insights.json")["data"]}
        self.recorded_insights = recorded  # impressions 8, reach 5, saved 0

    # -- helpers for tests ------------------------------------------------------------------

    def inject(self, endpoint: str, fault: Fault, *, times: int | None = 1, probability: float = 1.0) -> None:
        """``endpoint``: ``"POST media"``, ``"POST media_publish"``, ``"GET node"``, ``"GET insights"``,
        ``"GET content_publishing_limit"``…, or ``"*"``."""
        self._add_rule("*", (lambda name: True) if endpoint == "*" else (lambda name: name == endpoint),
                       fault, times, probability)

    def requests_to(self, endpoint: str) -> list[Request]:
        with self.lock:
            return [r for r in self.requests if r.endpoint == endpoint]

    def expire_token(self) -> None:
        with self.lock:
            self.expired.add(self.token)

    def host(self, item) -> str:
        """Serve a MediaItem at a public-looking address of the fake (what SITE_URL + a signed
        media route would be), so containers can "download" it."""
        name = f"{secrets.token_hex(8)}/{quote(getattr(item, 'filename', 'file'))}"
        with self.lock:
            self.hosted[name] = item.read()
        return f"{self.base_url}/_media/{name}"

    def script_next_container(self, statuses: list[str], status_text: str = "") -> None:
        """The next top-level container answers these status codes, one per status read (the
        last one stays)."""
        text = status_text or "Error: Media upload has failed with error code 2207003"
        with self.lock:
            self._scripts.append([(s, text if s == "ERROR" else "") for s in statuses])

    def set_quota_used(self, used: int) -> None:
        with self.lock:
            self.extra_quota_usage = max(0, used - self._quota_usage())

    def published_media(self) -> list[dict[str, Any]]:
        with self.lock:
            return [m for m in self._listed() if m.get("via_api")]

    def comment_as(self, username: str, text: str, *, media_id: str, parent_id: str = "",
                   ago: float = 0.0) -> dict[str, Any]:
        with self.lock:
            cid = self._next_id()
            when = datetime.now(timezone.utc) - timedelta(seconds=ago)
            comment = {"id": cid, "text": text, "timestamp": graph_time(when),
                       "username": username, "like_count": 0, "from": {"id": f"1784{cid[-9:]}", "username": username},
                       "media_id": media_id, "parent_id": parent_id}
            self.comments[cid] = comment
            if not parent_id:
                self.media[media_id]["comments_count"] = self.media[media_id].get("comments_count", 0) + 1
            return comment

    def remove_comment(self, comment_id: str) -> None:
        """The comment's author (or the account) deletes it; its replies go with it."""
        with self.lock:
            gone = {comment_id} | {c for c, v in self.comments.items() if v["parent_id"] == comment_id}
            for cid in gone:
                self.comments.pop(cid, None)

    # -- state -------------------------------------------------------------------------------

    def _next_id(self) -> str:
        self._seq += self.random.randint(3, 97)
        return str(self._seq)

    def _listed(self) -> list[dict[str, Any]]:
        return sorted(self.media.values(), key=lambda m: m.get("timestamp", ""), reverse=True)

    def _quota_usage(self) -> int:
        floor = time.time() - self.quota_duration
        return len([t for t in self.published_at if t >= floor])

    # -- the API -----------------------------------------------------------------------------

    def dispatch(self, request: Request) -> Any:
        if request.token not in (self.token,) or request.token in self.expired:
            if request.token in self.expired:
                raise GraphError(190, "Error validating access token: Session has expired on Tuesday, "
                                      "24-Nov-26 10:00:00 PST. The current time is Wednesday, 25-Nov-26.", subcode=463)
            raise GraphError(190, "Invalid OAuth access token - Cannot parse access token")
        oid, edge, method = request.object_id, request.edge, request.method
        if oid == self.ig_user_id:
            handler = {("GET", ""): self._user, ("POST", "media"): self._create_container,
                       ("GET", "media"): self._list_media, ("POST", "media_publish"): self._media_publish,
                       ("GET", "content_publishing_limit"): self._quota,
                       ("GET", "tags"): self._tags}.get((method, edge))
        elif oid in self.containers and (method, edge) == ("GET", ""):
            handler = self._container
        elif oid in self.media:
            handler = {("GET", ""): self._media_node, ("GET", "insights"): self._insights,
                       ("GET", "comments"): self._list_comments, ("POST", "comments"): self._add_comment,
                       ("DELETE", ""): self._no_delete}.get((method, edge))
        elif oid in self.comments:
            handler = {("GET", ""): self._comment_node, ("GET", "replies"): self._list_replies,
                       ("POST", "replies"): self._add_reply, ("POST", ""): self._update_comment}.get((method, edge))
        else:
            raise GraphError(100, f"Unsupported {method.lower()} request. Object with ID '{oid[:40]}' does not exist, "
                                  "cannot be loaded due to missing permissions, or does not support this operation. "
                                  "Please read the Graph API documentation at "
                                  "https://developers.facebook.com/docs/graph-api",
                             subcode=33)
        if handler is None:
            raise GraphError(100, f"Unsupported {method.lower()} request. Object with ID '{oid[:40]}' does not "
                                  "support this operation.", subcode=33)
        return handler(request)

    @staticmethod
    def _fields(request: Request, default: str) -> list[str]:
        raw = request.params.get("fields") or default
        out, depth, current = [], 0, ""
        for ch in raw:
            if ch == "{":
                depth += 1
            elif ch == "}":
                depth -= 1
            if ch == "," and depth == 0:
                out.append(current.strip())
                current = ""
            else:
                current += ch
        if current.strip():
            out.append(current.strip())
        return out

    @staticmethod
    def _select(obj: dict[str, Any], fields: list[str], node_type: str) -> dict[str, Any]:
        out = {}
        for name in fields:
            base = name.split("{", 1)[0]
            if base == "id" or base in obj:
                out[base] = copy.deepcopy(obj[base]) if base in obj else obj["id"]
            elif node_type == "IGComment" and base in _MEDIA_ONLY or node_type != "IGComment" and base in _COMMENT_ONLY:
                raise GraphError(100, f"(#100) Tried accessing nonexisting field ({base}) on node type ({node_type})")
        return out

    def _page(self, request: Request, items: list[dict[str, Any]], path: str) -> dict[str, Any]:
        try:
            limit = max(1, min(100, int(request.params.get("limit") or 25)))
            start = int(request.params.get("after") or 0)
        except ValueError:
            raise GraphError(100, "(#100) Invalid parameter") from None
        chunk = items[start:start + limit]
        body: dict[str, Any] = {"data": chunk}
        if chunk:
            body["paging"] = {"cursors": {"before": str(start), "after": str(start + len(chunk))}}
            if start + limit < len(items):
                query = {k: v for k, v in request.params.items() if k not in ("after", "access_token")}
                query["after"] = str(start + len(chunk))
                # Graph puts the token in paging links; the connector must strip it.
                query["access_token"] = request.token
                body["paging"]["next"] = f"{self.base_url}{path}?{urlencode(query)}"
        return body

    def _user(self, request: Request) -> dict[str, Any]:
        return self._select({**self.profile, "media_count": len(self.media)},
                            self._fields(request, "id,username"), "IGUser")

    def _public_media(self, media: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in media.items() if k not in ("owner", "via_api", "container")}

    def _list_media(self, request: Request) -> dict[str, Any]:
        fields = self._fields(request, "id")
        items = [self._select(self._public_media(m), fields, "IGMedia") for m in self._listed()]
        return self._page(request, items, request.path)

    def _tags(self, request: Request) -> dict[str, Any]:
        fields = self._fields(request, "id")
        items = [self._select(m, fields, "IGMedia") for m in sorted(self.tagged, key=lambda m: m["timestamp"],
                                                                  reverse=True)]
        return self._page(request, items, request.path)

    def _quota(self, request: Request) -> dict[str, Any]:
        return {"data": [{"quota_usage": self._quota_usage() + self.extra_quota_usage,
                          "config": {"quota_total": self.quota_total, "quota_duration": self.quota_duration}}]}

    def _hosted(self, url: str) -> bool:
        prefix = f"{self.base_url}/_media/"
        if any(url.startswith(p) for p in self.public_prefixes):
            self.fetched_urls.append(url)  # a test checks that the address really serves the file
            return True
        return url.startswith(prefix) and url[len(prefix):] in self.hosted

    def _create_container(self, request: Request) -> dict[str, Any]:
        p = request.params
        caption = p.get("caption", "")
        if len(caption) > 2200:
            raise GraphError(100, "(#100) The caption is too long.", subcode=2207010)
        media_type = p.get("media_type", "")
        carousel_item = p.get("is_carousel_item") == "true"
        if media_type == "CAROUSEL":
            children = [c for c in p.get("children", "").split(",") if c]
            if not 2 <= len(children) <= 10 or any(c not in self.containers for c in children):
                raise GraphError(100, "(#100) The carousel children are invalid.", subcode=2207016)
            if any(self.containers[c]["status_code"] != "FINISHED" for c in children):
                raise GraphError(9007, "Media ID is not available", subcode=2207027)
            kind, url = "CAROUSEL_ALBUM", ""
        elif media_type in ("REELS", "VIDEO"):
            url = p.get("video_url", "")
            kind = "VIDEO"
            if media_type == "VIDEO" and not carousel_item:
                raise GraphError(100, "(#100) The VIDEO media type is no longer supported; use REELS.", subcode=2207067)
        elif media_type == "":
            url, kind = p.get("image_url", ""), "IMAGE"
            if not url:
                raise GraphError(100, "(#100) The parameter image_url is required")
        else:
            raise GraphError(100, "(#100) Param media_type must be one of {CAROUSEL, REELS, STORIES, VIDEO}")
        if url and not self._hosted(url):
            raise GraphError(9004, "The media could not be fetched from this URI: " + url[:200], subcode=2207052)
        cid = self._next_id()
        script = self._scripts.pop(0) if self._scripts and not carousel_item else None
        polls = self.video_polls if kind == "VIDEO" else 0
        self.containers[cid] = {"id": cid, "kind": kind, "caption": caption, "carousel_item": carousel_item,
                                "children": p.get("children", ""), "alt_text": p.get("alt_text", ""),
                                "media_product_type": "REELS" if media_type == "REELS" else "FEED",
                                "status_code": "FINISHED" if polls == 0 and not script else "IN_PROGRESS",
                                "status": "", "polls_left": polls, "script": script or [], "created": time.time()}
        return fixture("publish/create_photo.json") | {"id": cid}

    def _container(self, request: Request) -> dict[str, Any]:
        c = self.containers[request.object_id]
        if c["status_code"] not in ("PUBLISHED", "EXPIRED"):
            if c["script"]:
                c["status_code"], c["status"] = c["script"].pop(0) if len(c["script"]) > 1 else c["script"][0]
            elif c["polls_left"] > 0:
                c["polls_left"] -= 1
                c["status_code"] = "IN_PROGRESS"
            else:
                c["status_code"] = "FINISHED"
        status = {"FINISHED": fixture("publish/container_info.json")["status"],
                  "IN_PROGRESS": "In Progress: Media is still being processed.", "PUBLISHED": "Published",
                  "EXPIRED": "Expired: container was not published within 24 hours."}.get(c["status_code"], c["status"])
        return self._select({"id": c["id"], "status_code": c["status_code"], "status": status},
                            self._fields(request, "id"), "ShadowIGMediaBuilder")

    def expire_container(self, container_id: str) -> None:
        with self.lock:
            self.containers[container_id]["status_code"] = "EXPIRED"
            self.containers[container_id]["script"] = []

    def _media_publish(self, request: Request) -> dict[str, Any]:
        cid = request.params.get("creation_id", "")
        c = self.containers.get(cid)
        if c is None or c["carousel_item"]:
            raise GraphError(100, "(#100) Invalid parameter creation_id", subcode=2207001)
        if c["status_code"] == "PUBLISHED":
            raise GraphError(9, "The media has already been published.", subcode=2207008)
        if c["status_code"] != "FINISHED":
            raise GraphError(9007, "Media ID is not available", subcode=2207027)
        if self._quota_usage() + self.extra_quota_usage >= self.quota_total:
            raise GraphError(9, "Application request limit reached: the account reached the maximum number of "
                                "posts allowed by the Content Publishing API.", subcode=2207042)
        mid = self._next_id()
        now = datetime.now(timezone.utc)
        children = c["children"].split(",") if c["children"] else []
        self.media[mid] = {"id": mid, "caption": c["caption"], "timestamp": graph_time(now),
                           "permalink": f"https://www.instagram.com/p/Fk{mid[-9:]}/", "media_type": c["kind"],
                           "media_product_type": c["media_product_type"], "like_count": 0, "comments_count": 0,
                           "username": self.username, "owner": self.ig_user_id, "via_api": True, "container": cid,
                           "alt_text": c["alt_text"], "children_count": len(children)}
        self.insights[mid] = {"views": 120, "reach": 80, "saved": 3, "shares": 2, "likes": 11, "comments": 0,
                              "total_interactions": 16, "profile_activity": 1}
        c["status_code"] = "PUBLISHED"
        self.published_at.append(time.time())
        return fixture("publish/publish_container.json") | {"id": mid}

    def _media_node(self, request: Request) -> dict[str, Any]:
        return self._select(self._public_media(self.media[request.object_id]), self._fields(request, "id"), "IGMedia")

    def _no_delete(self, request: Request) -> dict[str, Any]:
        raise GraphError(100, f"Unsupported delete request. Object with ID '{request.object_id}' does not support "
                              "this operation.", subcode=33)

    def _insights(self, request: Request) -> dict[str, Any]:
        mid = request.object_id
        names = [m for m in (request.params.get("metric") or "").split(",") if m]
        if not names:
            raise GraphError(100, "(#100) The parameter metric is required")
        values = self.insights.get(mid) or {**self.recorded_insights, "likes": self.media[mid].get("like_count", 0),
                                            "comments": self.media[mid].get("comments_count", 0)}
        for name in names:
            if name not in _ONE_OF_METRICS:
                raise GraphError(100, f"(#100) metric[0] must be one of the following values: "
                                      f"{', '.join(_ONE_OF_METRICS)}")
            if name in self.deprecated_metrics and mid in self.insights:
                raise GraphError(100, f"(#100) Starting from version v22.0 and above, the {name} metric is no longer "
                                      "supported for media created after July 1, 2024. Please use views instead.")
            if name in self.unsupported_metrics.get(mid, set()):
                raise GraphError(100, f"(#100) The Media Insights API does not support the {name} metric for this "
                                      "media product type.")
        rows = []
        for name in names:
            if name not in values:
                continue
            rows.append({"name": name, "period": "lifetime", "values": [{"value": values[name]}],
                         "title": name.replace("_", " ").title(), "description": f"{name} of the media",
                         "id": f"{mid}/insights/{name}/lifetime"})
        return {"data": rows}

    def _render_comment(self, comment: dict[str, Any], fields: list[str]) -> dict[str, Any]:
        public = {k: v for k, v in comment.items() if k not in ("media_id",)}
        if not public.get("parent_id"):
            public.pop("parent_id", None)
        out = self._select(public, fields, "IGComment")
        for name in fields:
            if name.startswith("replies"):
                sub = name[len("replies{"):-1].split(",") if "{" in name else ["id"]
                replies = sorted((c for c in self.comments.values() if c["parent_id"] == comment["id"]),
                                 key=lambda c: c["timestamp"])
                if replies:
                    out["replies"] = {"data": [self._render_comment(r, sub) for r in replies]}
        return out

    def _list_comments(self, request: Request) -> dict[str, Any]:
        fields = self._fields(request, "id,text,timestamp")
        top = sorted((c for c in self.comments.values() if c["media_id"] == request.object_id and not c["parent_id"]),
                     key=lambda c: c["timestamp"], reverse=True)
        return self._page(request, [self._render_comment(c, fields) for c in top], request.path)

    def _list_replies(self, request: Request) -> dict[str, Any]:
        fields = self._fields(request, "id,text,timestamp")
        replies = sorted((c for c in self.comments.values() if c["parent_id"] == request.object_id),
                         key=lambda c: c["timestamp"])
        return self._page(request, [self._render_comment(c, fields) for c in replies], request.path)

    def _comment_node(self, request: Request) -> dict[str, Any]:
        return self._render_comment(self.comments[request.object_id], self._fields(request, "id,text,timestamp"))

    def _add_comment(self, request: Request) -> dict[str, Any]:
        text = request.params.get("message", "")
        if not text:
            raise GraphError(100, "(#100) The parameter message is required")
        return {"id": self.comment_as(self.username, text, media_id=request.object_id)["id"]}

    def _update_comment(self, request: Request) -> dict[str, Any]:
        """``POST /{ig-comment-id}?hide=true|false``: hide or show a comment on the account's
        own media (instagram_manage_comments)."""
        comment = self.comments[request.object_id]
        if "hide" not in request.params:
            raise GraphError(100, "(#100) The parameter hide is required")
        if "instagram_manage_comments" in self.missing_permissions:
            raise GraphError(10, "(#10) Application does not have permission for this action", status=403)
        media = self.media.get(comment["media_id"]) or {}
        if media.get("owner") != self.ig_user_id:
            raise GraphError(100, "(#100) Comments can only be hidden on media owned by the account")
        comment["hidden"] = str(request.params["hide"]).lower() == "true"
        return {"success": True}

    def _add_reply(self, request: Request) -> dict[str, Any]:
        text = request.params.get("message", "")
        if not text:
            raise GraphError(100, "(#100) The parameter message is required")
        parent = self.comments[request.object_id]
        if parent["parent_id"]:
            raise GraphError(100, "(#100) Replies to replies are not supported.")
        reply = self.comment_as(self.username, text, media_id=parent["media_id"], parent_id=parent["id"])
        return {"id": reply["id"]}


class _Handler(server.FakeHandler):
    server_version = "proxygen-bolt"
    content_type = "application/json; charset=UTF-8"
    extra_headers = {"facebook-api-version": "v26.0"}

    def _handle(self, method: str) -> None:
        fake: FakeInstagram = self.server.fake  # type: ignore[attr-defined]
        parts, headers, body = self.read_request()
        if parts.path.startswith("/_media/"):
            data = fake.hosted.get(parts.path[len("/_media/"):])
            return self._send(None, 200 if data is not None else 404, None, raw=data or b"not found",
                              content_type="application/octet-stream")
        segments = [s for s in parts.path.split("/") if s]
        if len(segments) < 2 or not segments[0].startswith("v") or len(segments) > 3:
            return self._send(None, 400, GraphError(100, "Unknown path components").body())
        object_id, edge = segments[1], segments[2] if len(segments) == 3 else ""
        params = dict(parse_qsl(parts.query, keep_blank_values=True))
        if body:
            content_type = headers.get("content-type", "")
            if "json" in content_type:
                try:
                    params.update({k: str(v) for k, v in json.loads(body).items()})
                except (ValueError, AttributeError):
                    return self._send(None, 400, GraphError(100, "Invalid JSON").body())
            else:
                params.update(dict(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True)))
        auth = headers.get("authorization", "")
        token = auth[len("Bearer "):] if auth.startswith("Bearer ") else params.get("access_token", "")
        params.pop("access_token", None)
        endpoint = f"{method} {edge or 'node'}"
        if object_id in fake.containers and method == "GET" and not edge:
            endpoint = "GET container"
        request = Request(method, parts.path, endpoint, object_id, edge, params, headers, token)
        with fake.lock:
            fake.requests.append(request)
        fault = fake._take_fault(method, endpoint)
        delay = fake.latency + (fault.seconds if fault and fault.kind == "latency" else 0.0)
        if delay:
            fake._stopping.wait(delay)
        if fault and not fault.after:
            if self._early_fault(request, fault):
                return None
        try:
            with fake.lock:
                status, payload = 200, fake.dispatch(request)
        except GraphError as error:
            status, payload = error.status, error.body()
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
            minutes = max(1, int(fault.reset_in // 60))
            usage = json.dumps({"call_count": 100, "total_cputime": 40, "total_time": 60,
                                "estimated_time_to_regain_access": minutes})
            self._send(request, 400, GraphError(4, "(#4) Application request limit reached").body(),
                       {"x-app-usage": usage})
            return True
        if fault.kind == "unauthorized":
            self._send(request, 400, GraphError(190, "Error validating access token: Session has expired.",
                                                 subcode=463).body())
            return True
        if fault.kind in ("status", "malformed"):
            self._send(request, fault.status, None, raw=(fault.body or "").encode())
            return True
        return False



FakeInstagram.handler_class = _Handler
