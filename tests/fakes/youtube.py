"""A loopback fake of the YouTube Data API v3 and Google's OAuth 2.0 endpoints: real HTTP on
127.0.0.1, in a thread, with state. Shapes follow developers.google.com/youtube/v3 (no
recorded payloads exist in the corpora for YouTube).

Like Google:

- OAuth: ``/o/oauth2/v2/auth`` (consent, PKCE S256, ``access_type=offline``) and ``/token``
  (``authorization_code`` with the verifier checked, ``refresh_token``; client id and secret in
  the form). Access tokens last an hour; refresh tokens are not rotated; a revoked one answers
  ``400 invalid_grant``;
- the resumable upload: ``POST /upload/youtube/v3/videos?uploadType=resumable`` checks the
  metadata (title 100 characters and no ``<``/``>``, description 5,000 bytes, tags 500
  characters, ``publishAt`` only for private videos) and answers a session ``Location``;
  ``PUT`` chunks with ``Content-Range`` answer ``308`` with ``Range`` until the last one, which
  creates the video; ``Content-Range: bytes */N`` asks the status. A chunk that does not start
  where the session is refused;
- the quota: every call spends its units of the project (the client id of the token); past
  ``quota_limit`` the answer is ``403 quotaExceeded``;
- comments: threads with up to five embedded replies (``totalReplyCount`` says how many there
  are), ``comments.list parentId``, ``comments.insert`` (``commentsDisabled``).

Faults per endpoint (``inject("GET /youtube/v3/videos", Fault.server_error())``): latency, 5xx,
429, 401, malformed JSON, a dropped connection, ``quotaExceeded``; and ``cut_upload(after=N)``
cuts the connection after reading N bytes of the next upload chunk (the bytes read are kept,
as Google keeps what arrived). ``received_bytes`` counts every byte the sessions stored, to
check that nothing was sent twice.
"""

from __future__ import annotations

import base64
import hashlib
import json
import random
import re
import secrets
import socket
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from http.server import ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

from . import server

COSTS = {"POST /upload/youtube/v3/videos": 1600, "POST /upload/youtube/v3/thumbnails/set": 50,
         "POST /youtube/v3/comments": 50, "DELETE /youtube/v3/videos": 50}


def iso(when: datetime) -> str:
    return when.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def google_error(status: int, reason: str, message: str, domain: str = "youtube.api") -> dict:
    return {"error": {"code": status, "message": message,
                      "errors": [{"message": message, "domain": domain, "reason": reason}]}}


class HttpError(Exception):
    def __init__(self, status: int, body: Any, headers: dict[str, str] | None = None):
        super().__init__(str(status))
        self.status, self.body, self.headers = status, body, headers or {}


class Fault(server.Fault):
    @classmethod
    def server_error(cls, status: int = 503) -> Fault:
        return cls("status", status=status, body=json.dumps(google_error(status, "backendError", "Backend Error")))

    @classmethod
    def malformed(cls, body: str = '{"items": [', *, status: int = 200) -> Fault:
        return cls("malformed", body=body, status=status)

    @classmethod
    def expired_token(cls) -> Fault:
        return cls("unauthorized", status=401)

    @classmethod
    def quota_exceeded(cls) -> Fault:
        return cls("quota", status=403)


@dataclass
class Request:
    method: str
    path: str
    endpoint: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes
    at: float = field(default_factory=time.time)
    status: int | None = None

    @property
    def json(self) -> Any:
        try:
            return json.loads(self.body) if self.body else None
        except ValueError:
            return None


@dataclass
class Session:
    upload_id: str
    total: int
    content_type: str
    metadata: dict
    project: str
    received: bytearray = field(default_factory=bytearray)
    video_id: str = ""


class FakeYouTube(server.LoopbackServer):
    thread_name = "fake-youtube"

    def __init__(self, *, seed: int = 0):
        self.random = random.Random(seed)
        self.lock = threading.RLock()
        self.latency = 0.0
        self._rules: list[server.FaultRule] = []
        self._stopping = threading.Event()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.requests: list[Request] = []
        self.client_id = "1234567890-tertulia.apps.googleusercontent.com"
        self.client_secret = "GOCSPX-" + secrets.token_urlsafe(20)
        self.redirect_uris: set[str] = {"http://testserver/networks/youtube/callback/"}
        self.consent = "approve"
        self.codes: dict[str, dict[str, Any]] = {}
        self.tokens: dict[str, dict[str, Any]] = {}
        self.refresh_tokens: dict[str, str] = {}
        self.channel = {"id": "UCtertuliaFakeChannel0001", "title": "Café Tertulia", "customUrl": "@cafetertulia",
                        "description": "Recetas & <b>charlas</b>", "subscribers": 1234, "views": 98765}
        self.videos: dict[str, dict[str, Any]] = {}
        self.deleted: set[str] = set()
        self.threads: dict[str, dict[str, Any]] = {}  # thread id -> {video, top, replies: [comment]}
        self.sessions: dict[str, Session] = {}
        self.thumbnails: dict[str, bytes] = {}
        self.comments_disabled: set[str] = set()
        self.quota_limit = 10_000
        self.quota_used: dict[str, int] = {}
        self.received_bytes = 0
        self._cut: list[int] = []  # bytes to read of the next upload chunks before cutting
        self._seq = 0

    def _seed_accounts(self) -> None:
        now = datetime.now(timezone.utc)
        self.add_video("Receta de café de olla", when=now - timedelta(days=3), views=1500, likes=120)

    # -- state -----------------------------------------------------------------------------

    def _new_id(self, length: int = 11) -> str:
        with self.lock:
            self._seq += 1
            return base64.urlsafe_b64encode(hashlib.sha256(f"{self._seq}".encode()).digest()).decode()[:length]

    def add_video(self, title: str, *, when: datetime | None = None, views: int = 0, likes: int = 0,
                  tags: list[str] | None = None, description: str = "", privacy: str = "public") -> dict:
        vid = self._new_id()
        video = {"id": vid, "title": title, "description": description, "tags": list(tags or []),
                 "publishedAt": iso(when or datetime.now(timezone.utc)), "privacy": privacy, "publishAt": None,
                 "views": views, "likes": likes, "categoryId": "22", "madeForKids": False}
        with self.lock:
            self.videos[vid] = video
        return video

    def add_comment(self, video_id: str, text: str, *, author: str = "Ana", author_id: str = "",
                    parent: str = "", when: datetime | None = None, likes: int = 0) -> dict:
        """A viewer's comment on a video (a top-level comment starts a thread; ``parent`` is
        a thread id for a reply)."""
        when = when or datetime.now(timezone.utc)
        author_id = author_id or "UC" + hashlib.sha1(author.encode()).hexdigest()[:22]
        with self.lock:
            if parent:
                thread = self.threads[parent]
                cid = f"{parent}.{self._new_id(22)}"
            else:
                cid = "Ug" + self._new_id(24)
            comment = {"id": cid, "snippet": {
                "authorDisplayName": author, "authorChannelId": {"value": author_id},
                "authorChannelUrl": f"http://www.youtube.com/channel/{author_id}",
                "authorProfileImageUrl": "https://yt3.ggpht.example/a.jpg",
                "videoId": video_id, "textDisplay": text.replace("<", "&lt;").replace(">", "&gt;"),
                "textOriginal": text, "likeCount": likes, "publishedAt": iso(when), "updatedAt": iso(when),
                "canRate": True, "viewerRating": "none", **({"parentId": parent} if parent else {})}}
            if parent:
                thread["replies"].append(comment)
            else:
                self.threads[cid] = {"id": cid, "video": video_id, "top": comment, "replies": []}
            self.videos[video_id]["comments"] = self.videos[video_id].get("comments", 0) + 1
            return comment

    def edit_comment(self, comment_id: str, text: str, when: datetime | None = None) -> None:
        with self.lock:
            for thread in self.threads.values():
                for c in (thread["top"], *thread["replies"]):
                    if c["id"] == comment_id:
                        c["snippet"].update(textOriginal=text, textDisplay=text, updatedAt=iso(
                            when or datetime.now(timezone.utc)))

    def issue(self, *, expires_in: int = 3600, refresh: bool = True) -> dict[str, Any]:
        with self.lock:
            token = "ya29." + secrets.token_urlsafe(24)
            self.tokens[token] = {"expires": time.time() + expires_in}
            answer = {"access_token": token, "expires_in": expires_in, "token_type": "Bearer",
                      "scope": "https://www.googleapis.com/auth/youtube.upload "
                               "https://www.googleapis.com/auth/youtube.force-ssl"}
            if refresh:
                answer["refresh_token"] = "1//" + secrets.token_urlsafe(32)
                self.refresh_tokens[answer["refresh_token"]] = self.channel["id"]
            return answer

    def expire_token(self, token: str) -> None:
        with self.lock:
            self.tokens[token]["expires"] = time.time() - 1

    def revoke(self, refresh_token: str) -> None:
        with self.lock:
            self.refresh_tokens.pop(refresh_token, None)

    def inject(self, endpoint: str, fault: Fault, *, times: int | None = 1, probability: float = 1.0) -> None:
        method, _sep, _rest = endpoint.partition(" ")
        self._add_rule(method if endpoint != "*" else "*",
                       (lambda name: True) if endpoint == "*" else (lambda name: name == endpoint),
                       fault, times, probability)

    def cut_upload(self, after: int, times: int = 1) -> None:
        """Read ``after`` bytes of each of the next ``times`` upload chunks, keep them, and cut
        the connection (no answer)."""
        with self.lock:
            self._cut.extend([after] * times)

    def requests_to(self, endpoint: str) -> list[Request]:
        with self.lock:
            return [r for r in self.requests if r.endpoint == endpoint]

    def used(self) -> int:
        with self.lock:
            return self.quota_used.get(self.client_id, 0)

    # -- routing ---------------------------------------------------------------------------

    def _auth(self, request: Request) -> None:
        header = request.headers.get("authorization", "")
        token = header[7:] if header.lower().startswith("bearer ") else ""
        with self.lock:
            entry = self.tokens.get(token)
            if entry is None or entry["expires"] < time.time():
                raise HttpError(401, {"error": {"code": 401, "status": "UNAUTHENTICATED",
                                                "message": "Request had invalid authentication credentials.",
                                                "errors": [{"reason": "authError", "domain": "global",
                                                            "message": "Invalid Credentials"}]}})

    def _charge(self, request: Request) -> None:
        cost = COSTS.get(request.endpoint, 0 if request.method == "PUT" else 1)
        with self.lock:
            used = self.quota_used.get(self.client_id, 0)
            if used + cost > self.quota_limit:
                raise HttpError(403, google_error(403, "quotaExceeded", "The request cannot be completed because "
                                                  "you have exceeded your <a href=\"/youtube/v3/getting-started#quota\">"
                                                  "quota</a>.", "youtube.quota"))
            self.quota_used[self.client_id] = used + cost

    def dispatch(self, request: Request) -> tuple[int, Any, dict[str, str]]:
        if request.endpoint == "POST /token":
            return self.api_token(request)
        self._auth(request)
        self._charge(request)
        route = {
            "GET /youtube/v3/channels": self.api_channels,
            "GET /youtube/v3/videos": self.api_videos,
            "DELETE /youtube/v3/videos": self.api_delete,
            "GET /youtube/v3/playlistItems": self.api_playlist,
            "GET /youtube/v3/commentThreads": self.api_threads,
            "GET /youtube/v3/comments": self.api_comments,
            "POST /youtube/v3/comments": self.api_comment_insert,
            "POST /upload/youtube/v3/videos": self.api_upload_start,
            "POST /upload/youtube/v3/thumbnails/set": self.api_thumbnail,
        }.get(request.endpoint)
        if route is None:
            raise HttpError(404, google_error(404, "notFound", "Not Found"))
        return route(request)

    # -- OAuth -----------------------------------------------------------------------------

    def authorize(self, query: dict[str, str]) -> tuple[int, dict[str, str]]:
        if query.get("client_id") != self.client_id or query.get("redirect_uri") not in self.redirect_uris:
            raise HttpError(400, {"error": "redirect_uri_mismatch"})
        if query.get("code_challenge_method") != "S256" or not query.get("code_challenge") \
                or query.get("access_type") != "offline" or "youtube.upload" not in query.get("scope", ""):
            raise HttpError(400, {"error": "invalid_request"})
        back = {"state": query.get("state", "")}
        if self.consent == "deny":
            back["error"] = "access_denied"
        else:
            code = "4/" + secrets.token_urlsafe(24)
            with self.lock:
                self.codes[code] = {"challenge": query["code_challenge"], "redirect_uri": query["redirect_uri"]}
            back["code"] = code
        return 302, {"location": f"{query['redirect_uri']}?{urlencode(back)}"}

    def api_token(self, request: Request):
        form = dict(parse_qsl(request.body.decode("utf-8", "replace")))
        if form.get("client_id") != self.client_id or form.get("client_secret") != self.client_secret:
            raise HttpError(401, {"error": "invalid_client", "error_description": "Unauthorized"})
        if form.get("grant_type") == "authorization_code":
            with self.lock:
                pending = self.codes.pop(form.get("code", ""), None)
            verifier = form.get("code_verifier", "")
            challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
            if pending is None or pending["challenge"] != challenge \
                    or pending["redirect_uri"] != form.get("redirect_uri"):
                raise HttpError(400, {"error": "invalid_grant", "error_description": "Bad Request"})
            return 200, self.issue(), {}
        if form.get("grant_type") == "refresh_token":
            with self.lock:
                known = form.get("refresh_token", "") in self.refresh_tokens
            if not known:
                raise HttpError(400, {"error": "invalid_grant", "error_description": "Token has been expired or revoked."})
            answer = self.issue(refresh=False)
            return 200, answer, {}
        raise HttpError(400, {"error": "unsupported_grant_type"})

    # -- read ------------------------------------------------------------------------------

    def api_channels(self, request: Request):
        if request.query.get("mine") != "true" and request.query.get("id") != self.channel["id"]:
            return 200, {"kind": "youtube#channelListResponse", "items": []}, {}
        c = self.channel
        with self.lock:
            count = len([v for v in self.videos.values() if v["id"] not in self.deleted])
        item = {"kind": "youtube#channel", "id": c["id"],
                "snippet": {"title": c["title"], "description": c["description"], "customUrl": c["customUrl"],
                            "thumbnails": {"default": {"url": "https://yt3.ggpht.example/c.jpg"}}},
                "statistics": {"viewCount": str(c["views"]), "subscriberCount": str(c["subscribers"]),
                               "hiddenSubscriberCount": False, "videoCount": str(count)},
                "contentDetails": {"relatedPlaylists": {"uploads": "UU" + c["id"][2:]}}}
        return 200, {"kind": "youtube#channelListResponse", "items": [item]}, {}

    def _video_resource(self, v: dict, parts: set[str]) -> dict:
        out: dict[str, Any] = {"kind": "youtube#video", "id": v["id"]}
        if "snippet" in parts:
            out["snippet"] = {"title": v["title"], "description": v["description"], "tags": v["tags"],
                              "publishedAt": v["publishedAt"], "channelId": self.channel["id"],
                              "categoryId": v["categoryId"]}
        if "statistics" in parts:
            out["statistics"] = {"viewCount": str(v["views"]), "likeCount": str(v["likes"]), "favoriteCount": "0",
                                 "commentCount": str(v.get("comments", 0))}
        if "status" in parts:
            status = {"privacyStatus": v["privacy"], "uploadStatus": "uploaded",
                      "selfDeclaredMadeForKids": v["madeForKids"]}
            if v["publishAt"]:
                status["publishAt"] = v["publishAt"]
            out["status"] = status
        return out

    def api_videos(self, request: Request):
        ids = [i for i in request.query.get("id", "").split(",") if i]
        if len(ids) > 50:
            raise HttpError(400, google_error(400, "invalidValue", "Too many ids"))
        parts = set(request.query.get("part", "").split(","))
        with self.lock:
            items = [self._video_resource(self.videos[i], parts) for i in ids
                     if i in self.videos and i not in self.deleted]
        return 200, {"kind": "youtube#videoListResponse", "items": items}, {}

    def api_delete(self, request: Request):
        vid = request.query.get("id", "")
        with self.lock:
            if vid not in self.videos or vid in self.deleted:
                raise HttpError(404, google_error(404, "videoNotFound", "The video could not be found."))
            self.deleted.add(vid)
        return 204, None, {}

    def api_playlist(self, request: Request):
        if request.query.get("playlistId") != "UU" + self.channel["id"][2:]:
            raise HttpError(404, google_error(404, "playlistNotFound", "Playlist not found"))
        with self.lock:
            videos = sorted((v for v in self.videos.values() if v["id"] not in self.deleted),
                            key=lambda v: v["publishedAt"], reverse=True)
        size = min(50, int(request.query.get("maxResults") or 5))
        start = int(request.query.get("pageToken") or 0)
        page = videos[start:start + size]
        data = {"items": [{"kind": "youtube#playlistItem", "contentDetails": {
            "videoId": v["id"], "videoPublishedAt": v["publishedAt"]}} for v in page]}
        if start + size < len(videos):
            data["nextPageToken"] = str(start + size)
        return 200, data, {}

    def api_threads(self, request: Request):
        channel = request.query.get("allThreadsRelatedToChannelId")
        video = request.query.get("videoId")
        if channel and channel != self.channel["id"]:
            raise HttpError(403, google_error(403, "forbidden", "The comment thread could not be retrieved."))
        with self.lock:
            threads = [t for t in self.threads.values()
                       if t["video"] not in self.deleted and (not video or t["video"] == video)]
            threads.sort(key=lambda t: t["top"]["snippet"]["publishedAt"], reverse=True)
            size = min(100, int(request.query.get("maxResults") or 20))
            start = int(request.query.get("pageToken") or 0)
            items = []
            for t in threads[start:start + size]:
                item = {"kind": "youtube#commentThread", "id": t["id"], "snippet": {
                    "channelId": self.channel["id"], "videoId": t["video"], "topLevelComment": t["top"],
                    "totalReplyCount": len(t["replies"]), "canReply": True, "isPublic": True}}
                if t["replies"]:
                    item["replies"] = {"comments": list(reversed(t["replies"][-5:]))}
                items.append(item)
        data = {"kind": "youtube#commentThreadListResponse", "items": items}
        if start + size < len(threads):
            data["nextPageToken"] = str(start + size)
        return 200, data, {}

    def api_comments(self, request: Request):
        parent = request.query.get("parentId", "")
        with self.lock:
            thread = self.threads.get(parent)
            if thread is None:
                raise HttpError(404, google_error(404, "commentNotFound", "Comment not found"))
            return 200, {"items": list(thread["replies"])}, {}

    # -- write -----------------------------------------------------------------------------

    def api_comment_insert(self, request: Request):
        body = request.json
        snippet = body.get("snippet") if isinstance(body, dict) else None
        if not isinstance(snippet, dict) or not snippet.get("parentId") or not snippet.get("textOriginal"):
            raise HttpError(400, google_error(400, "invalidCommentMetadata", "The request metadata is invalid."))
        text = str(snippet["textOriginal"])
        if len(text) > 10_000:
            raise HttpError(400, google_error(400, "commentTextTooLong", "The comment is too long."))
        with self.lock:
            thread = self.threads.get(snippet["parentId"])
            if thread is None:
                raise HttpError(404, google_error(404, "parentCommentNotFound", "The parent comment was not found."))
            if thread["video"] in self.comments_disabled:
                raise HttpError(403, google_error(403, "commentsDisabled", "Comments are disabled for this video."))
        comment = self.add_comment(thread["video"], text, author=self.channel["title"], author_id=self.channel["id"],
                                   parent=thread["id"])
        return 200, comment, {}

    def _check_metadata(self, meta: Any) -> None:
        def bad(reason: str, message: str):
            raise HttpError(400, google_error(400, reason, message))

        if not isinstance(meta, dict) or not isinstance(meta.get("snippet"), dict):
            bad("invalidVideoMetadata", "The request metadata is invalid.")
        snippet, status = meta["snippet"], meta.get("status") or {}
        title = str(snippet.get("title") or "")
        if not title or len(title) > 100 or "<" in title or ">" in title:
            bad("invalidTitle", "The request metadata specifies an invalid video title.")
        description = str(snippet.get("description") or "")
        if len(description.encode()) > 5000 or "<" in description or ">" in description:
            bad("invalidDescription", "The request metadata specifies an invalid video description.")
        tags = snippet.get("tags") or []
        if sum(len(t) + (2 if " " in t else 0) for t in tags) + max(0, len(tags) - 1) > 500:
            bad("invalidTags", "The request metadata specifies invalid video keywords.")
        if status.get("privacyStatus", "public") not in ("public", "unlisted", "private"):
            bad("invalidVideoMetadata", "invalid privacyStatus")
        if status.get("publishAt"):
            if status.get("privacyStatus") != "private":
                bad("invalidPublishAt", "The request metadata specifies an invalid scheduled publishing time.")

    def api_upload_start(self, request: Request):
        if request.query.get("uploadType") != "resumable":
            raise HttpError(400, google_error(400, "badRequest", "Only resumable uploads in this fake"))
        meta = request.json
        self._check_metadata(meta)
        try:
            total = int(request.headers.get("x-upload-content-length", ""))
        except ValueError:
            raise HttpError(400, google_error(400, "badContent", "X-Upload-Content-Length missing")) from None
        upload_id = secrets.token_urlsafe(24)
        with self.lock:
            self.sessions[upload_id] = Session(upload_id, total, request.headers.get("x-upload-content-type", ""),
                                               meta, self.client_id)
        location = f"{self.base_url}/upload/youtube/v3/videos?uploadType=resumable&upload_id={upload_id}"
        return 200, None, {"location": location, "x-guploader-uploadid": upload_id}

    def _complete(self, session: Session) -> dict:
        if not session.video_id:
            meta = session.metadata
            snippet, status = meta["snippet"], meta.get("status") or {}
            video = self.add_video(snippet["title"], tags=snippet.get("tags"), description=snippet.get("description", ""),
                                   privacy=status.get("privacyStatus", "public"))
            video.update(publishAt=status.get("publishAt"), madeForKids=bool(status.get("selfDeclaredMadeForKids")),
                         categoryId=snippet.get("categoryId", "22"), content=bytes(session.received))
            session.video_id = video["id"]
        return self._video_resource(self.videos[session.video_id], {"snippet", "status"})

    def api_thumbnail(self, request: Request):
        vid = request.query.get("videoId", "")
        with self.lock:
            if vid not in self.videos:
                raise HttpError(404, google_error(404, "videoNotFound", "The video could not be found."))
            if len(request.body) > 2 * 1024 * 1024:
                raise HttpError(400, google_error(400, "mediaBodyTooBig", "The image is too large."))
            self.thumbnails[vid] = request.body
        return 200, {"kind": "youtube#thumbnailSetResponse", "items": [
            {"default": {"url": f"https://i.ytimg.example/vi/{vid}/default.jpg"}}]}, {}


def endpoint_of(method: str, path: str) -> str:
    return f"{method} {path.rstrip('/') or '/'}"


_RANGE = re.compile(r"^bytes (\d+)-(\d+)/(\d+)$")
_STATUS = re.compile(r"^bytes \*/(\d+)$")


class _Handler(server.FakeHandler):
    server_version = "UploadServer"

    def _handle(self, method: str) -> None:
        fake: FakeYouTube = self.server.fake  # type: ignore[attr-defined]
        parts = urlsplit(self.path)
        headers = {k.lower(): v for k, v in self.headers.items()}
        query = dict(parse_qsl(parts.query, keep_blank_values=True))
        if method == "GET" and parts.path == "/o/oauth2/v2/auth":
            try:
                status, extra = fake.authorize(query)
            except HttpError as error:
                return self._send(None, error.status, error.body)
            return self._send(None, status, None, extra, raw=b"")
        endpoint = endpoint_of(method, parts.path)
        if method == "PUT" and parts.path == "/upload/youtube/v3/videos":
            return self._upload_chunk(fake, query, headers, endpoint, parts.path)
        length = int(headers.get("content-length") or 0)
        body = self.rfile.read(length) if length else b""
        request = Request(method, parts.path, endpoint, query, headers, body)
        with fake.lock:
            fake.requests.append(request)
        fault = fake._take_fault(method, endpoint)
        delay = fake.latency + (fault.seconds if fault and fault.kind == "latency" else 0.0)
        if delay:
            fake._stopping.wait(delay)
        if fault is not None and not fault.after and self._early_fault(request, fault):
            return None
        try:
            status, payload, extra = fake.dispatch(request)
        except HttpError as error:
            status, payload, extra = error.status, error.body, error.headers
        if fault is not None and fault.after:
            if fault.kind == "drop":
                self.close_connection = True
                request.status = -1
                return None
            if fault.kind == "hang":
                fake._stopping.wait(fault.seconds)
        if status == 204:
            return self._send(request, 204, None, extra, raw=b"")
        return self._send(request, status, payload, extra)

    def _early_fault(self, request: Request, fault: Fault) -> bool:
        if fault.kind == "rate_limit":
            self._send(request, 429, google_error(429, "rateLimitExceeded", "Rate Limit Exceeded"),
                       {"retry-after": str(int(fault.retry_after or fault.reset_in))})
            return True
        if fault.kind == "quota":
            self._send(request, 403, google_error(403, "quotaExceeded", "You have exceeded your quota.",
                                                  "youtube.quota"))
            return True
        if fault.kind == "unauthorized":
            self._send(request, 401, google_error(401, "authError", "Invalid Credentials"))
            return True
        if fault.kind in ("status", "malformed"):
            self._send(request, fault.status, None, raw=(fault.body or "").encode())
            return True
        if fault.kind == "lost":
            self.close_connection = True
            return True
        return False

    def _upload_chunk(self, fake: FakeYouTube, query, headers, endpoint, path) -> None:
        length = int(headers.get("content-length") or 0)
        request = Request("PUT", path, endpoint, query, headers, b"")
        with fake.lock:
            fake.requests.append(request)
            session = fake.sessions.get(query.get("upload_id", ""))
            cut = fake._cut.pop(0) if (fake._cut and length) else None
        # A chunk being cut takes no other fault (the cut is its fault).
        fault = None if cut is not None and cut < length else fake._take_fault("PUT", endpoint)
        if session is None:
            self.rfile.read(length)
            return self._send(request, 404, google_error(404, "notFound", "Upload session not found"))
        try:
            fake._auth(request)
        except HttpError as error:
            self.rfile.read(length)
            return self._send(request, error.status, error.body)
        content_range = headers.get("content-range", "")
        status_query = _STATUS.match(content_range)
        if status_query:
            self.rfile.read(length)
            if fault is not None and fault.kind in ("status", "drop"):
                if fault.kind == "drop":
                    self.close_connection = True
                    return None
                return self._send(request, fault.status, None, raw=(fault.body or "").encode())
            return self._progress(request, fake, session)
        match = _RANGE.match(content_range)
        if not match or int(match.group(3)) != session.total or int(match.group(2)) - int(match.group(1)) + 1 != length:
            self.rfile.read(length)
            return self._send(request, 400, google_error(400, "badContent", "Bad Content-Range"))
        start = int(match.group(1))
        if start != len(session.received):
            # Not where the session is: nothing is stored, the client must ask the status.
            self.rfile.read(length)
            return self._send(request, 400, google_error(400, "badContent", "Chunk does not start at the offset"))
        limit = length if cut is None else min(cut, length)
        got = 0
        while got < limit:
            block = self.rfile.read(min(65536, limit - got))
            if not block:
                break
            with fake.lock:
                session.received.extend(block)
                fake.received_bytes += len(block)
            got += len(block)
        if cut is not None and cut < length:
            request.status = -1
            self.close_connection = True
            try:
                self.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            return None
        if fault is not None and fault.kind == "status":
            return self._send(request, fault.status, None, raw=(fault.body or "").encode())
        if fault is not None and fault.kind == "drop":
            self.close_connection = True
            request.status = -1
            with fake.lock:
                if len(session.received) == session.total:
                    fake._complete(session)
            return None
        return self._progress(request, fake, session)

    def _progress(self, request: Request, fake: FakeYouTube, session: Session) -> None:
        with fake.lock:
            done = len(session.received) == session.total
            resource = fake._complete(session) if done else None
            received = len(session.received)
        if resource is not None:
            return self._send(request, 200, resource)
        extra = {"range": f"bytes=0-{received - 1}"} if received else {}
        return self._send(request, 308, None, extra, raw=b"")


FakeYouTube.handler_class = _Handler
