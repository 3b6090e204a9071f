"""A loopback fake of the Graph API for Facebook Pages and the Meta sign-in: real HTTP on
127.0.0.1, in a thread, with state.

It follows the documentation (developers.facebook.com/docs/pages-api, /docs/graph-api) and
answers with the recorded real payloads of ``python-facebook-graph-fixtures`` where they exist
(read at run time from ``../shared/corpora``, never copied):

- the Page is ``facebook/models/page.json`` (id, name, username, about, picture, link, fan_count);
- the Page's older posts are ``facebook/apidata/posts/feed_fields_p1.json`` and ``_p2``;
- the comments under one of its posts are ``facebook/apidata/comments/comments_p1.json`` and
  ``_p2`` (real public comments; Graph sent them without ``id`` and ``from``, so ids come from
  their ``permalink_url`` and there is no author, as for a Page token without
  ``pages_read_user_content``);
- a created comment answers like ``comments/create_resp.json``; the Pages list like
  ``users/user_accounts_p1.json``; the long-lived token like ``base/long_term_token.json``;
  insights rows like ``instagram/apidata/medias/insights.json``; errors like ``error.json``.

Routes (every path under ``/vNN.N/``): ``GET /oauth/access_token`` (code and
``fb_exchange_token``), ``GET /me/accounts``, ``GET /{page}``, ``GET /{page}/posts|feed``,
``POST /{page}/feed`` (``message``, ``link``, ``attached_media[i]``), ``POST /{page}/photos``
(multipart ``source``, ``published``), ``GET|POST /{object}/comments`` (``filter=stream``,
``order``), ``GET /{post}`` (``shares``, ``comments/reactions.summary``), ``GET
/{object}/insights`` (error 100 for a retired metric, like Graph: the whole request fails),
``DELETE /{post}``. The token must come in ``Authorization: Bearer``.

Faults (``inject("POST /:id/feed", Fault…)``, or ``"*"``): latency, Graph throttling (code 32
with ``X-Business-Use-Case-Usage``), a transient 500 (code 2), a gateway 502/504, a hang or a
dropped connection *after* the write was applied, an expired token (code 190) and malformed JSON.
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
from urllib.parse import urlencode

from . import server
from .corpora import corpora_dir

PAGE_ID = "20531316728"  # the recorded Page (facebook/models/page.json)
OTHER_PAGE_ID = "123512"
IG_USER_ID = "17841400000000001"
CORPUS_POST = "19292868552_10158407654328553"  # the post the recorded comments answer


def testdata() -> Path:
    return corpora_dir() / "python-facebook-graph-fixtures" / "testdata"


def recorded(name: str) -> Any:
    """A recorded Graph answer, e.g. ``facebook/apidata/comments/create_resp.json``."""
    return json.loads((testdata() / name).read_text(encoding="utf-8"))


def graph_now(offset: float = 0.0) -> str:
    return datetime.fromtimestamp(time.time() + offset, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S+0000")


def _ts(value: str) -> float:
    return datetime.strptime(value, "%Y-%m-%dT%H:%M:%S%z").timestamp()


class Fault(server.Fault):
    """Graph's error bodies on top of the shared fault vocabulary."""

    @classmethod
    def server_error(cls, status: int = 500, *, after: bool = False) -> Fault:
        if status in (502, 504):
            return cls("status", status=status, after=after, body="<html><body>Bad Gateway</body></html>")
        body = {"error": {"message": "An unexpected error has occurred. Please retry your request later.",
                          "type": "OAuthException", "is_transient": True, "code": 2,
                          "fbtrace_id": "AZfake500"}}
        return cls("status", status=status, after=after, body=json.dumps(body))

    @classmethod
    def graph_error(cls, code: int, message: str, *, status: int = 400, subcode: int | None = None,
                    after: bool = False) -> Fault:
        error = {"message": message, "type": "OAuthException", "code": code, "fbtrace_id": "AZfakeErr"}
        if subcode is not None:
            error["error_subcode"] = subcode
        return cls("status", status=status, body=json.dumps({"error": error}), after=after)

    @classmethod
    def throttled(cls, minutes: int = 7) -> Fault:
        """Page-level throttling (code 32) with the usage header that says how long."""
        return cls("rate_limit", status=400, reset_in=minutes * 60.0)

    @classmethod
    def malformed(cls, body: str = '{"id": "', *, after: bool = True, status: int = 200) -> Fault:
        return cls("malformed", body=body, after=after, status=status)

    @classmethod
    def expired_token(cls) -> Fault:
        return cls("unauthorized", status=400)


class GraphError(Exception):
    def __init__(self, code: int, message: str, *, status: int = 400, subcode: int | None = None,
                 type_: str = "OAuthException"):
        super().__init__(message)
        self.code, self.message, self.status, self.subcode, self.type = code, message, status, subcode, type_

    def body(self) -> dict[str, Any]:
        error = {"message": self.message, "type": self.type, "code": self.code,
                 "fbtrace_id": "A" + secrets.token_urlsafe(16)}
        if self.subcode is not None:
            error["error_subcode"] = self.subcode
        return {"error": error}


EXPIRED = ("Error validating access token: Session has expired on Tuesday, 24-Nov-26 10:00:00 PST. "
           "The current time is Wednesday, 25-Nov-26 10:00:00 PST.")


@dataclass
class Request:
    method: str
    path: str  # without the version: "20531316728/feed"
    endpoint: str  # "POST /:id/feed"
    token: str
    params: dict[str, Any]
    files: dict[str, tuple[str, str, bytes]]
    headers: dict[str, str]
    version: str = ""
    at: float = field(default_factory=time.time)
    status: int | None = None


def endpoint_of(method: str, path: str) -> str:
    parts = [p for p in path.split("/") if p]
    if not parts:
        return f"{method} /"
    if parts[0] in ("oauth", "me"):
        return f"{method} /{'/'.join(parts)}"
    return f"{method} /:id" + ("/" + "/".join(parts[1:]) if len(parts) > 1 else "")


class FakeGraph(server.LoopbackServer):
    """Start with ``with FakeGraph() as fake:``; ``fake.page_token`` is the Page's token."""

    thread_name = "fake-graph"

    def __init__(self, *, seed: int = 0, corpus: bool = True):
        self.random = random.Random(seed)
        self.lock = threading.RLock()
        self.latency = 0.0
        self._rules: list[server.FaultRule] = []
        self._stopping = threading.Event()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.requests: list[Request] = []
        self.corpus = corpus
        self.app_id = "1234567890"
        self.app_secret = secrets.token_hex(16)
        self.page_token = "EAAPage" + secrets.token_urlsafe(24)
        self.other_page_token = "EAAOther" + secrets.token_urlsafe(24)
        self.revoked: set[str] = set()
        self.codes: dict[str, str] = {}  # code -> redirect_uri
        self.short_tokens: set[str] = set()
        self.long_tokens: set[str] = set()
        self.pages: dict[str, dict[str, Any]] = {}
        self.posts: dict[str, dict[str, Any]] = {}
        self.photos: dict[str, dict[str, Any]] = {}
        self.comments: dict[str, dict[str, Any]] = {}
        self.deleted: set[str] = set()
        self.insights: dict[str, dict[str, Any]] = {}  # object id -> metric -> value
        self.retired: set[str] = set()
        self.ig_mentions: dict[str, dict[str, Any]] = {}  # comment or media id -> what Graph returns
        self.accounts_page_size = 25
        self._seq = 10_000_000_000

    def _next(self) -> str:
        self._seq += 1
        return str(self._seq)

    def _seed_accounts(self) -> None:
        page = dict(recorded("facebook/models/page.json")) if self.corpus else {
            "id": PAGE_ID, "name": "Facebook", "username": "facebookapp", "fan_count": 214840680}
        page.update({"followers_count": page.get("fan_count", 0) + 1000, "token": self.page_token,
                     "tasks": ["ANALYZE", "ADVERTISE", "MESSAGING", "MODERATE", "CREATE_CONTENT", "MANAGE"],
                     "instagram_business_account": {"id": IG_USER_ID, "username": "cafetertulia",
                                                    "name": "Café Tertulia", "followers_count": 812,
                                                    "profile_picture_url": "https://scontent.example/ig.jpg"}})
        self.pages[PAGE_ID] = page
        self.pages[OTHER_PAGE_ID] = {"id": OTHER_PAGE_ID, "name": "EEEEEEEE", "token": self.other_page_token,
                                     "tasks": ["ANALYZE", "CREATE_CONTENT", "MODERATE"], "fan_count": 12}
        if not self.corpus:
            return
        for name in ("feed_fields_p1.json", "feed_fields_p2.json"):
            for post in recorded(f"facebook/apidata/posts/{name}")["data"]:
                _owner, _sep, number = post["id"].partition("_")
                post_id = f"{PAGE_ID}_{number}"
                self.posts[post_id] = {"id": post_id, "message": post.get("message", ""),
                                       "created_time": post["created_time"], "updated_time": post["created_time"],
                                       "page": PAGE_ID}
        # The recorded comments answer a post of another Page; we hang them under a post of ours.
        self.posts[CORPUS_POST] = {"id": CORPUS_POST, "message": "Recorded post", "page": PAGE_ID,
                                   "created_time": "2021-08-10T18:00:00+0000",
                                   "updated_time": "2021-08-14T02:40:08+0000"}
        for name in ("comments_p1.json", "comments_p2.json"):
            for comment in recorded(f"facebook/apidata/comments/{name}")["data"]:
                match = re.search(r"comment_id=(\d+)(?:&reply_comment_id=(\d+))?", comment["permalink_url"])
                own = match.group(2) or match.group(1)
                comment_id = f"10158407654328553_{own}"
                parent = f"10158407654328553_{match.group(1)}" if match.group(2) else ""
                self.comments[comment_id] = {**comment, "id": comment_id, "object": CORPUS_POST,
                                             "parent": parent, "post": CORPUS_POST}

    # -- helpers for tests ---------------------------------------------------------------------

    def inject(self, endpoint: str, fault: Fault, *, times: int | None = 1, probability: float = 1.0) -> None:
        """``endpoint`` is ``"POST /:id/feed"``-style (see ``endpoint_of``) or ``"*"``."""
        self._add_rule("*", (lambda name: True) if endpoint == "*" else (lambda name: name == endpoint),
                       fault, times, probability)

    def requests_to(self, endpoint: str) -> list[Request]:
        with self.lock:
            return [r for r in self.requests if r.endpoint == endpoint]

    def expire_token(self, token: str | None = None) -> None:
        with self.lock:
            self.revoked.add(token or self.page_token)

    def reissue_page_token(self) -> str:
        """The person signed in again: the Page gets a fresh token (the revoked one stays dead)."""
        with self.lock:
            self.page_token = "EAAPage" + secrets.token_urlsafe(24)
            self.pages[PAGE_ID]["token"] = self.page_token
            return self.page_token

    def retire_metric(self, name: str) -> None:
        with self.lock:
            self.retired.add(name)

    def page_posts(self, page: str = PAGE_ID) -> list[dict[str, Any]]:
        """Posts published through the API (not the recorded ones), oldest first."""
        with self.lock:
            return [p for p in self.posts.values() if p["page"] == page and p.get("api") and p["id"] not in self.deleted]

    def comment(self, on: str, text: str, *, name: str = "Lucía Pérez", user_id: str | None = None,
                age: float = 0.0) -> dict[str, Any]:
        """A reader comments on a post (or replies to a comment)."""
        with self.lock:
            return self._add_comment(on, text, {"id": user_id or self._next(), "name": name}, age=age)

    def authorize(self, redirect_uri: str) -> str:
        """The person approved on the consent page: a code for this redirect URI."""
        with self.lock:
            code = "AQ" + secrets.token_urlsafe(40)
            self.codes[code] = redirect_uri
            return code

    def mention_in_comment(self, comment_id: str, text: str, media_id: str = "17918195224117851") -> None:
        with self.lock:
            self.ig_mentions[comment_id] = {"edge": "mentioned_comment", "id": comment_id, "text": text,
                                            "timestamp": graph_now(), "like_count": 0, "media": {"id": media_id}}

    def mention_in_caption(self, media_id: str, caption: str, username: str) -> None:
        with self.lock:
            self.ig_mentions[media_id] = {"edge": "mentioned_media", "id": media_id, "caption": caption,
                                          "timestamp": graph_now(), "username": username,
                                          "permalink": f"https://www.instagram.com/p/{media_id}/"}

    def set_insight(self, object_id: str, metric: str, value: Any) -> None:
        with self.lock:
            self.insights.setdefault(object_id, {})[metric] = value

    # -- state ---------------------------------------------------------------------------------

    def _post_of(self, object_id: str) -> dict[str, Any] | None:
        if object_id in self.posts and object_id not in self.deleted:
            return self.posts[object_id]
        return None

    def _add_comment(self, on: str, text: str, author: dict[str, str], age: float = 0.0) -> dict[str, Any]:
        post = self._post_of(on)
        parent = ""
        if post is None:
            if on not in self.comments or on in self.deleted:
                raise GraphError(100, f"Unsupported post request. Object with ID '{on}' does not exist, cannot be "
                                      "loaded due to missing permissions, or does not support this operation.",
                                 subcode=33)
            parent = on
            post = self.posts[self.comments[on]["post"]]
            self.comments[on]["comment_count"] = self.comments[on].get("comment_count", 0) + 1
        number = post["id"].partition("_")[2] or post["id"]
        comment_id = f"{number}_{self._next()}"
        created = graph_now(-age)
        comment = {"id": comment_id, "message": text, "created_time": created, "from": author,
                   "like_count": 0, "comment_count": 0, "parent": parent, "post": post["id"],
                   "permalink_url": f"https://www.facebook.com/{post['page']}/posts/{number}/?comment_id={comment_id}"}
        self.comments[comment_id] = comment
        post["updated_time"] = max(post.get("updated_time", created), created)
        return comment

    # -- dispatch ------------------------------------------------------------------------------

    def dispatch(self, request: Request) -> Any:
        parts = [p for p in request.path.split("/") if p]
        if parts[:2] == ["oauth", "access_token"]:
            return self.oauth_access_token(request.params)
        token = request.token
        if not token:
            raise GraphError(104, "An access token is required to request this resource.")
        if token in self.revoked:
            raise GraphError(190, EXPIRED, subcode=463)
        with self.lock:
            if parts == ["me", "accounts"]:
                return self.me_accounts(token, request.params)
            page = self._page_for_token(token)
            object_id, edge = parts[0], "/".join(parts[1:])
            handler = getattr(self, f"{request.method.lower()}_{edge or 'object'}".replace("/", "_"), None)
            if handler is None:
                raise GraphError(100, f"Unsupported {request.method.lower()} request.", subcode=33)
            return handler(page, object_id, request.params, request.files)

    def _page_for_token(self, token: str) -> dict[str, Any]:
        for page in self.pages.values():
            if page["token"] == token:
                return page
        raise GraphError(190, "Invalid OAuth access token - Cannot parse access token")

    def _own(self, page: dict[str, Any], object_id: str) -> None:
        if object_id != page["id"]:
            raise GraphError(200, "(#200) The user hasn't authorized the application to perform this action",
                             status=403)

    # OAuth --------------------------------------------------------------------------------------

    def oauth_access_token(self, params: dict[str, Any]) -> Any:
        if params.get("client_id") != self.app_id or params.get("client_secret") != self.app_secret:
            raise GraphError(1, "Error validating client secret.", type_="OAuthException")
        with self.lock:
            if params.get("grant_type") == "fb_exchange_token":
                short = params.get("fb_exchange_token", "")
                if short not in self.short_tokens:
                    raise GraphError(190, "Invalid OAuth access token - Cannot parse access token")
                long_token = "EAALong" + secrets.token_urlsafe(30)
                self.long_tokens.add(long_token)
                answer = dict(recorded("base/long_term_token.json")) if self.corpus else {
                    "token_type": "bearer", "expires_in": 5184000}
                answer["access_token"] = long_token
                return answer
            code = params.get("code", "")
            redirect = self.codes.pop(code, None)
            if redirect is None:
                raise GraphError(100, "This authorization code has been used.", subcode=36009)
            if redirect != params.get("redirect_uri"):
                raise GraphError(100, "Error validating verification code. Please make sure your redirect_uri is "
                                      "identical to the one you used in the OAuth dialog request", subcode=36008)
            short = "EAAShort" + secrets.token_urlsafe(30)
            self.short_tokens.add(short)
            return {"access_token": short, "token_type": "bearer", "expires_in": 5183}

    def me_accounts(self, token: str, params: dict[str, Any]) -> Any:
        if token not in self.long_tokens and token not in self.short_tokens:
            raise GraphError(190, "Invalid OAuth access token - Cannot parse access token")
        rows = []
        for page in self.pages.values():
            row = {"id": page["id"], "name": page["name"], "access_token": page["token"],
                   "tasks": page.get("tasks", []), "category": "Website"}
            if page.get("username") and "username" in str(params.get("fields") or ""):
                row["username"] = page["username"]
            if page.get("instagram_business_account"):
                row["instagram_business_account"] = dict(page["instagram_business_account"])
            rows.append(row)
        after = int(params.get("after") or 0)
        size = self.accounts_page_size
        page_rows = rows[after:after + size]
        answer: dict[str, Any] = {"data": page_rows, "paging": {"cursors": {"before": str(after),
                                                                             "after": str(after + size)}}}
        if after + size < len(rows):
            query = {k: v for k, v in params.items() if k != "after"}
            query.update({"after": str(after + size), "access_token": token})
            answer["paging"]["next"] = f"{self.base_url}/{self.version}/me/accounts?{urlencode(query)}"
        return answer

    version = "v26.0"

    # Page and posts -----------------------------------------------------------------------------

    def get_object(self, page, object_id, params, files):
        ig = page.get("instagram_business_account") or {}
        if object_id == ig.get("id"):
            return self._ig_mention(object_id, str(params.get("fields") or ""))
        if object_id == page["id"]:
            fields = [f for f in (params.get("fields") or "id,name").split(",") if f]
            return {k: page[k] for k in fields if k in page}
        post = self._post_of(object_id)
        if post is None or post["page"] != page["id"]:
            raise GraphError(100, f"Unsupported get request. Object with ID '{object_id}' does not exist, cannot be "
                                  "loaded due to missing permissions, or does not support this operation.",
                             subcode=33)
        answer = {"id": post["id"], "created_time": post["created_time"], "message": post.get("message", "")}
        fields = params.get("fields") or ""
        if "shares" in fields and post.get("shares"):
            answer["shares"] = {"count": post["shares"]}
        if "comments" in fields:
            count = sum(1 for c in self.comments.values() if c["post"] == post["id"] and c["id"] not in self.deleted)
            answer["comments"] = {"data": [], "summary": {"order": "ranked", "total_count": count, "can_comment": True}}
        if "reactions" in fields:
            answer["reactions"] = {"data": [], "summary": {"total_count": post.get("reactions", 0),
                                                           "viewer_reaction": "NONE"}}
        return answer

    def _ig_mention(self, ig_id: str, fields: str) -> dict[str, Any]:
        """``mentioned_comment.comment_id(X){…}`` / ``mentioned_media.media_id(X){…}``."""
        match = re.match(r"^(mentioned_comment|mentioned_media)\.(comment_id|media_id)\((\d+)\)(?:\{([^}]*(?:\{[^}]*\})?[^}]*)\})?$", fields)
        if match is None:
            return {"id": ig_id}
        edge, _key, wanted, _subfields = match.groups()
        found = self.ig_mentions.get(wanted)
        if found is None or found["edge"] != edge:
            raise GraphError(100, "(#100) Invalid parameter", subcode=2108006)
        return {edge: {k: v for k, v in found.items() if k != "edge"}, "id": ig_id}

    def _list(self, items: list[dict[str, Any]], params: dict[str, Any], path: str) -> dict[str, Any]:
        limit = max(1, min(int(params.get("limit") or 25), 100))
        offset = int(params.get("after") or 0)
        chunk = items[offset:offset + limit]
        answer: dict[str, Any] = {"data": chunk, "paging": {"cursors": {"before": str(offset),
                                                                         "after": str(offset + limit)}}}
        if offset + limit < len(items):
            query = {k: v for k, v in params.items() if k != "after"}
            query["after"] = str(offset + limit)
            query["access_token"] = "leaked-token-in-paging"  # Graph puts the token here
            answer["paging"]["next"] = f"{self.base_url}/{self.version}/{path}?{urlencode(query)}"
        return answer

    def _page_posts(self, page, params, path):
        since = float(params["since"]) if str(params.get("since") or "").isdigit() else None
        posts = [p for p in self.posts.values() if p["page"] == page["id"] and p["id"] not in self.deleted]
        if since is not None:
            posts = [p for p in posts if _ts(p["created_time"]) >= since]
        posts.sort(key=lambda p: (p["created_time"], p["id"]), reverse=True)
        fields = [f for f in (params.get("fields") or "id,message,created_time").split(",") if f]
        rows = [{k: p[k] for k in fields if k in p} for p in posts]
        return self._list(rows, params, path)

    def get_posts(self, page, object_id, params, files):
        self._own(page, object_id)
        return self._page_posts(page, params, f"{object_id}/posts")

    def get_feed(self, page, object_id, params, files):
        self._own(page, object_id)
        return self._page_posts(page, params, f"{object_id}/feed")

    def _new_post(self, page, message: str, **extra) -> dict[str, Any]:
        post_id = f"{page['id']}_{self._next()}"
        now = graph_now()
        post = {"id": post_id, "message": message, "created_time": now, "updated_time": now, "page": page["id"],
                "api": True, "permalink_url": f"https://www.facebook.com/{page['id']}/posts/{post_id.split('_')[1]}",
                **extra}
        self.posts[post_id] = post
        return post

    def post_feed(self, page, object_id, params, files):
        self._own(page, object_id)
        message = str(params.get("message") or "")
        attached = []
        for key in sorted(k for k in params if k.startswith("attached_media[")):
            media = json.loads(params[key])
            photo = self.photos.get(str(media.get("media_fbid")))
            if photo is None or photo["published"]:
                raise GraphError(100, "(#100) param attached_media must be an array of unpublished photo ids")
            attached.append(photo["id"])
        if not message.strip() and not attached and not params.get("link"):
            raise GraphError(100, "(#100) Invalid parameter")
        if len(message) > 63206:
            raise GraphError(100, "(#100) The message is too long")
        post = self._new_post(page, message, link=params.get("link", ""), attached_media=attached)
        return {"id": post["id"]}

    def post_photos(self, page, object_id, params, files):
        self._own(page, object_id)
        if "source" not in files and not params.get("url"):
            raise GraphError(324, "(#324) Requires upload file")
        content = files["source"][2] if "source" in files else b""
        if content.startswith(b"CORRUPT"):
            raise GraphError(324, "(#324) Missing or invalid image file")
        photo_id = self._next()
        published = str(params.get("published", "true")).lower() != "false"
        photo = {"id": photo_id, "published": published, "size": len(content), "alt": params.get("alt_text_custom", ""),
                 "filename": files.get("source", ("", "", b""))[0]}
        self.photos[photo_id] = photo
        if not published:
            return {"id": photo_id}
        post = self._new_post(page, str(params.get("message") or ""), attached_media=[photo_id])
        return {"id": photo_id, "post_id": post["id"]}

    def delete_object(self, page, object_id, params, files):
        post = self._post_of(object_id)
        if post is None and (object_id not in self.comments or object_id in self.deleted):
            raise GraphError(100, f"(#100) Unsupported delete request. Object with ID '{object_id}' does not exist, "
                                  "cannot be loaded due to missing permissions, or does not support this operation.",
                             subcode=33)
        self.deleted.add(object_id)
        return {"success": True}

    def post_subscribed_apps(self, page, object_id, params, files):
        self._own(page, object_id)
        fields = [f for f in str(params.get("subscribed_fields") or "").split(",") if f]
        if not fields:
            raise GraphError(100, "(#100) The parameter subscribed_fields is required.")
        page["subscribed_fields"] = fields
        return {"success": True}

    # Comments -----------------------------------------------------------------------------------

    def get_comments(self, page, object_id, params, files):
        if self._post_of(object_id) is None and object_id not in self.comments:
            raise GraphError(100, f"Object with ID '{object_id}' does not exist", subcode=33)
        stream = params.get("filter") == "stream"
        rows = [c for c in self.comments.values() if c["id"] not in self.deleted and (
            (c["post"] == object_id and (stream or not c["parent"])) or c["parent"] == object_id)]
        rows.sort(key=lambda c: (c["created_time"], c["id"]), reverse=params.get("order") == "reverse_chronological")
        fields = params.get("fields") or "id,message,created_time"
        out = []
        for c in rows:
            row = {k: v for k, v in c.items() if k in ("id", "message", "created_time", "permalink_url",
                                                       "like_count", "comment_count") and k in fields}
            if "is_hidden" in fields:
                row["is_hidden"] = bool(c.get("is_hidden"))
            if "from" in fields and c.get("from"):
                row["from"] = c["from"]
            if "parent" in fields and c["parent"]:
                row["parent"] = {"id": c["parent"]}
            out.append(row)
        return self._list(out, params, f"{object_id}/comments")

    def post_object(self, page, object_id, params, files):
        """``POST /{comment-id}``: the Page hides or shows a comment (``is_hidden``), or edits
        its own comment (``message``). Needs the MODERATE task on the Page for hiding."""
        comment = self.comments.get(object_id)
        if comment is None or object_id in self.deleted or self.posts[comment["post"]]["page"] != page["id"]:
            raise GraphError(100, f"Unsupported post request. Object with ID '{object_id}' does not exist, cannot "
                                  "be loaded due to missing permissions, or does not support this operation.",
                             subcode=33)
        if "is_hidden" in params:
            if "MODERATE" not in page.get("tasks", ()):
                raise GraphError(200, "(#200) Requires pages_manage_engagement permission to manage the object",
                                 status=403)
            if (comment.get("from") or {}).get("id") == page["id"]:
                raise GraphError(100, "(#100) The Page's own comments cannot be hidden")
            comment["is_hidden"] = str(params["is_hidden"]).lower() == "true"
            return {"success": True}
        if "message" in params:
            if (comment.get("from") or {}).get("id") != page["id"]:
                raise GraphError(200, "(#200) Users can only edit their own comments", status=403)
            comment["message"] = str(params["message"])
            return {"success": True}
        raise GraphError(100, "(#100) Nothing to update")

    def edit_comment(self, comment_id: str, text: str) -> None:
        """The comment's author edits it on Facebook."""
        with self.lock:
            self.comments[comment_id]["message"] = text

    def remove_comment(self, comment_id: str) -> None:
        """The comment's author (or a Page moderator in Business Suite) deletes it."""
        with self.lock:
            self.deleted.add(comment_id)

    def post_comments(self, page, object_id, params, files):
        message = str(params.get("message") or "")
        if not message.strip():
            raise GraphError(100, "(#100) Missing message or attachment")
        comment = self._add_comment(object_id, message, {"id": page["id"], "name": page["name"]})
        answer = dict(recorded("facebook/apidata/comments/create_resp.json")) if self.corpus else {}
        answer.update({"id": comment["id"], "message": message, "permalink_url": comment["permalink_url"],
                       "created_time": comment["created_time"]})
        return {"id": answer["id"]}

    # Insights -----------------------------------------------------------------------------------

    def get_insights(self, page, object_id, params, files):
        metrics = [m for m in str(params.get("metric") or "").split(",") if m]
        if not metrics:
            raise GraphError(3001, "No metric was specified to be fetched.", subcode=1504028)
        if any(m in self.retired for m in metrics):
            raise GraphError(100, "(#100) The value must be a valid insights metric")
        if object_id != page["id"] and (self._post_of(object_id) or {}).get("page") != page["id"]:
            raise GraphError(100, f"Object with ID '{object_id}' does not exist", subcode=33)
        period = params.get("period") or "lifetime"
        values = self.insights.get(object_id, {})
        rows = []
        for metric in metrics:
            value = values.get(metric, 0)
            series = value if isinstance(value, list) else [{"value": value, "end_time": graph_now()}]
            rows.append({"name": metric, "period": period, "values": series, "title": metric.replace("_", " ").title(),
                         "description": "", "id": f"{object_id}/insights/{metric}/{period}"})
        return {"data": rows, "paging": {}}


class _Handler(server.FakeHandler):
    server_version = "proxygen-bolt"
    content_type = "application/json; charset=UTF-8"

    def _handle(self, method: str) -> None:
        fake: FakeGraph = self.server.fake  # type: ignore[attr-defined]
        parts, headers, body = self.read_request()
        match = re.match(r"^/(v\d+\.\d+)/(.*)$", parts.path)
        if match is None:
            return self._send(None, 400, GraphError(2500, "Unknown path components").body())
        try:
            params, files = server.request_params(parts.query, headers, body)
        except ValueError:
            return self._send(None, 400, GraphError(100, "Invalid JSON").body())
        auth = headers.get("authorization", "")
        token = auth[7:] if auth.lower().startswith("bearer ") else str(params.pop("access_token", ""))
        path = match.group(2).strip("/")
        request = Request(method, path, endpoint_of(method, path), token, params, files, headers, match.group(1))
        with fake.lock:
            fake.requests.append(request)
        fault = fake._take_fault(method, request.endpoint)
        delay = fake.latency + (fault.seconds if fault and fault.kind == "latency" else 0.0)
        if delay:
            fake._stopping.wait(delay)
        if fault and not fault.after and self._early_fault(request, fault):
            return None
        try:
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
            usage = {PAGE_ID: [{"type": "pages", "call_count": 100, "total_cputime": 40, "total_time": 60,
                                "estimated_time_to_regain_access": minutes}]}
            self._send(request, fault.status, GraphError(32, "(#32) Page request limit reached").body(),
                       {"x-business-use-case-usage": json.dumps(usage)})
            return True
        if fault.kind == "unauthorized":
            self._send(request, 400, GraphError(190, EXPIRED, subcode=463).body())
            return True
        if fault.kind in ("status", "malformed"):
            self._send(request, fault.status, None, raw=(fault.body or "").encode())
            return True
        return False


FakeGraph.handler_class = _Handler
