"""A loopback fake LinkedIn (Marketing REST API + OAuth 2.0): real HTTP on 127.0.0.1, in a
thread, with state.

No recorded LinkedIn traffic exists in ``../shared/corpora``, so every path, header and body
here follows the official documentation (learn.microsoft.com/linkedin/marketing: Posts API,
Images API, MultiImage, little text format, Comments API, Organizations, Organization Access
Control, Network Sizes, Organization Share/Follower Statistics, versioning, and the OAuth 2.0
3-legged flow with programmatic refresh tokens). Where the docs show no body we keep to the
shape of the documented ones.

What it does like LinkedIn:

- every ``/rest/`` call needs ``Authorization: Bearer``, ``LinkedIn-Version: YYYYMM`` (absent:
  400 ``VERSION_MISSING``; not an active version: 426 ``NONEXISTENT_VERSION``) and
  ``X-Restli-Protocol-Version: 2.0.0``; URNs are percent-encoded in paths;
- expired or revoked tokens: 401 ``EXPIRED_ACCESS_TOKEN`` / ``REVOKED_ACCESS_TOKEN``;
- ``POST /rest/posts`` answers 201 with an empty body and the new URN in ``x-restli-id``; the
  author must be an organisation the member administers (else 403 ``ACCESS_DENIED``); the
  commentary is read as *little* text: an unescaped reserved character silently cuts the
  stored text there (LinkedIn's real behaviour); an identical post by the same author within
  the duplicate window is a 422 "Content is a duplicate of urn:li:share:…";
- images: ``initializeUpload`` gives an upload URL on this server; the PUT stores the bytes;
  a post may only use an uploaded image of its author; multiImage takes 2-20 images;
- comments under posts and under comments (``parentComment``), newest first, paged;
- statistics per share with ``shares=List(...)`` and follower gains per day.

Faults (``inject("posts.create", Fault…)``, or ``"*"``): latency, 429 (LinkedIn sends no
reset header; ``Retry-After`` when asked), 5xx, a hang or a dropped connection *after* the
write, an expired token and malformed JSON.
"""

from __future__ import annotations

import json
import random
import re
import secrets
import threading
import time
from dataclasses import dataclass, field
from http.server import ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, quote, unquote, urlencode

from . import server

ORG_ID = 2414183
OTHER_ORG_ID = 5515715
MEMBER = "urn:li:person:q8sA1bT3kZ"
SUPPORTED_VERSIONS = frozenset({"202507", "202508", "202509", "202510", "202511", "202512", "202601", "202602",
                                "202603", "202604", "202605", "202606", "202607", "202608", "202609", "202610"})
RESERVED = set("\\|{}@[]()<>#*_~")
_LINK = re.compile(r"https?://[^\s<>\"]+", re.IGNORECASE)


class Fault(server.Fault):
    """LinkedIn's error bodies on top of the shared fault vocabulary."""

    @classmethod
    def server_error(cls, status: int = 500, *, after: bool = False) -> Fault:
        body = json.dumps({"message": "Internal Server Error", "status": status})
        return cls("status", status=status, after=after, body=body)

    @classmethod
    def respond(cls, status: int, message: str, *, code: str = "", after: bool = False) -> Fault:
        body: dict[str, Any] = {"message": message, "status": status}
        if code:
            body["code"] = code
        return cls("status", status=status, body=json.dumps(body), after=after)

    @classmethod
    def malformed(cls, body: str = '{"value": {"uploadUrl": ', *, after: bool = True, status: int = 200) -> Fault:
        return cls("malformed", body=body, after=after, status=status)

    @classmethod
    def expired_token(cls) -> Fault:
        return cls("unauthorized", status=401)


class ApiError(Exception):
    def __init__(self, status: int, message: str, code: str = "", service_code: int | None = None):
        super().__init__(message)
        self.status, self.message, self.code, self.service_code = status, message, code, service_code

    def body(self) -> dict[str, Any]:
        out: dict[str, Any] = {"message": self.message, "status": self.status}
        if self.code:
            out["code"] = self.code
        if self.service_code is not None:
            out["serviceErrorCode"] = self.service_code
        return out


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

    def json(self) -> Any:
        return json.loads(self.body) if self.body else None


def render_little(text: str) -> str:
    """What LinkedIn stores and shows for a little-format commentary: escapes undone, links
    and ``#hashtags`` kept, and the text cut at the first unescaped reserved character."""
    out: list[str] = []
    i = 0
    links = {m.start(): m.end() for m in _LINK.finditer(text)}
    while i < len(text):
        if i in links:
            out.append(text[i:links[i]])
            i = links[i]
            continue
        c = text[i]
        if c == "\\" and i + 1 < len(text):
            out.append(text[i + 1])
            i += 2
            continue
        if c == "#" and i + 1 < len(text) and (text[i + 1].isalnum() or text[i + 1] == "_") \
                and (i == 0 or not text[i - 1].isalnum()):
            out.append(c)
            i += 1
            continue
        if c in RESERVED:
            break  # LinkedIn's silent truncation
        out.append(c)
        i += 1
    return "".join(out)


class FakeLinkedIn(server.LoopbackServer):
    """Start with ``with FakeLinkedIn() as fake:``; ``fake.token`` is a member's valid token
    for the organisation ``ORG_ID``; ``fake.client_id/client_secret`` the app."""

    thread_name = "fake-linkedin"

    def __init__(self, *, seed: int = 0, refresh_tokens: bool = True):
        self.random = random.Random(seed)
        self.lock = threading.RLock()
        self.latency = 0.0
        self._rules: list[server.FaultRule] = []
        self._stopping = threading.Event()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.requests: list[Request] = []
        self.supported_versions = set(SUPPORTED_VERSIONS)
        self.client_id = "78linkedinclient"
        self.client_secret = "s3cr3t-" + secrets.token_hex(8)
        self.refresh_tokens = refresh_tokens  # is the app approved for programmatic refresh tokens?
        self.token = "AQV" + secrets.token_urlsafe(40)
        self.tokens: dict[str, dict[str, Any]] = {}
        self.refreshes: dict[str, dict[str, Any]] = {}
        self.codes: dict[str, dict[str, Any]] = {}
        self.deny = False  # the member refuses on the consent page
        self.organizations: dict[int, dict[str, Any]] = {}
        self.admin_of: set[int] = set()
        self.followers: dict[int, int] = {}
        self.posts: dict[str, dict[str, Any]] = {}
        self.deleted: set[str] = set()
        self.images: dict[str, dict[str, Any]] = {}
        self.uploads: dict[str, str] = {}  # upload key -> image urn
        self.comments: dict[str, list[dict[str, Any]]] = {}
        self.stats: dict[str, dict[str, int]] = {}
        self.follower_gains: list[dict[str, Any]] = []
        self._seq = 7100000000000000000
        self.duplicate_window = 3600.0
        self.web_pages: dict[str, tuple[str, bytes]] = {}  # /web/<name>: a site a post links to

    def _seed_accounts(self) -> None:
        self.organizations[ORG_ID] = {"id": ORG_ID, "localizedName": "Café Tertulia",
                                      "vanityName": "cafetertulia",
                                      "name": {"localized": {"es_ES": "Café Tertulia"},
                                               "preferredLocale": {"country": "ES", "language": "es"}},
                                      "localizedDescription": "Café y libros en Valencia",
                                      "localizedWebsite": "https://cafetertulia.example"}
        self.organizations[OTHER_ORG_ID] = {"id": OTHER_ORG_ID, "localizedName": "Librería Tertulia",
                                            "vanityName": "libreria-tertulia",
                                            "name": {"localized": {"es_ES": "Librería Tertulia"}}}
        self.admin_of = {ORG_ID, OTHER_ORG_ID}
        self.followers = {ORG_ID: 1234, OTHER_ORG_ID: 56}
        self.tokens[self.token] = {"member": MEMBER, "expires": time.time() + 60 * 86400, "revoked": False}

    # -- helpers for tests --------------------------------------------------------------------

    def inject(self, endpoint: str, fault: Fault, *, times: int | None = 1, probability: float = 1.0) -> None:
        """``endpoint``: posts.create, posts.list, posts.get, posts.delete, images.initialize,
        upload, comments.list, comments.create, organizations.get, acls, network_sizes,
        share_stats, follower_stats, token, authorize; or ``"*"``."""
        self._add_rule("*", (lambda name: True) if endpoint == "*" else (lambda name: name == endpoint),
                       fault, times, probability)

    def requests_to(self, endpoint: str) -> list[Request]:
        with self.lock:
            return [r for r in self.requests if r.endpoint == endpoint]

    def expire_token(self, token: str | None = None) -> None:
        with self.lock:
            self.tokens[token or self.token]["expires"] = time.time() - 1

    def revoke_token(self, token: str | None = None) -> None:
        with self.lock:
            self.tokens[token or self.token]["revoked"] = True

    def live_posts(self) -> list[dict[str, Any]]:
        with self.lock:
            return [p for urn, p in self.posts.items() if urn not in self.deleted]

    def comment(self, post_urn: str, text: str, *, actor: str = "urn:li:person:reader1",
                parent: str = "", age: float = 0.0) -> dict[str, Any]:
        """A reader comments on a post (or answers a comment, ``parent``)."""
        with self.lock:
            return self._add_comment(post_urn, actor, text, parent, created=int((time.time() - age) * 1000))

    def age_post(self, urn: str, seconds: float) -> None:
        with self.lock:
            for key in ("createdAt", "publishedAt", "lastModifiedAt"):
                self.posts[urn][key] -= int(seconds * 1000)

    def add_post(self, commentary: str, *, author: int = ORG_ID, age: float = 0.0) -> str:
        """A post made elsewhere (LinkedIn's own composer)."""
        with self.lock:
            return self._new_post({"author": f"urn:li:organization:{author}", "commentary": commentary,
                                   "visibility": "PUBLIC", "lifecycleState": "PUBLISHED"}, age=age)

    def issue_code(self, redirect_uri: str, scope: str = "") -> str:
        code = "AQT" + secrets.token_urlsafe(24)
        with self.lock:
            self.codes[code] = {"redirect_uri": redirect_uri, "scope": scope, "expires": time.time() + 1800}
        return code

    # -- state -----------------------------------------------------------------------------------

    def _next_id(self) -> int:
        self._seq += self.random.randrange(1, 9999)
        return self._seq

    def _new_post(self, body: dict[str, Any], *, age: float = 0.0) -> str:
        urn = f"urn:li:share:{self._next_id()}"
        now = int((time.time() - age) * 1000)
        post = {"id": urn, "author": body["author"], "commentary": body.get("commentary", ""),
                "shown": render_little(str(body.get("commentary", ""))),
                "visibility": body.get("visibility", "PUBLIC"), "lifecycleState": "PUBLISHED",
                "distribution": body.get("distribution") or {"feedDistribution": "MAIN_FEED"},
                "createdAt": now, "publishedAt": now, "lastModifiedAt": now,
                "isReshareDisabledByAuthor": bool(body.get("isReshareDisabledByAuthor")),
                "lifecycleStateInfo": {"isEditedByAuthor": False}}
        if body.get("content"):
            post["content"] = body["content"]
        self.posts[urn] = post
        self.stats[urn] = {"impressionCount": 0, "uniqueImpressionsCount": 0, "clickCount": 0, "likeCount": 0,
                           "commentCount": 0, "shareCount": 0, "engagement": 0}
        return urn

    def _add_comment(self, obj: str, actor: str, text: str, parent: str, *, created: int) -> dict[str, Any]:
        cid = str(self._next_id())
        urn = f"urn:li:comment:({obj},{cid})"
        comment = {"id": cid, "object": obj, "actor": actor, "$URN": urn, "commentUrn": urn,
                   "message": {"text": text, "attributes": []},
                   "created": {"actor": actor, "time": created}, "lastModified": {"actor": actor, "time": created},
                   "likesSummary": {"totalLikes": 0, "likedByCurrentUser": False}}
        comment["commentsSummary"] = {"selectedComments": [], "totalFirstLevelComments": 0}
        if parent:
            comment["parentComment"] = parent
            for sibling in self.comments.get(obj, []):
                if sibling["commentUrn"] == parent:
                    sibling["commentsSummary"]["totalFirstLevelComments"] += 1
        self.comments.setdefault(parent or obj, []).append(comment)
        if obj in self.stats and not parent:
            self.stats[obj]["commentCount"] += 1
        return comment

    # -- the API --------------------------------------------------------------------------------

    def _member(self, request: Request) -> str:
        auth = request.headers.get("authorization", "")
        token = auth[7:] if auth.startswith("Bearer ") else ""
        info = self.tokens.get(token)
        if info is None:
            raise ApiError(401, "Invalid access token", "INVALID_ACCESS_TOKEN", 65600)
        if info["revoked"]:
            raise ApiError(401, "The token used in the request has been revoked by the user",
                           "REVOKED_ACCESS_TOKEN", 65601)
        if info["expires"] < time.time():
            raise ApiError(401, "The token used in the request has expired", "EXPIRED_ACCESS_TOKEN", 65602)
        return info["member"]

    def _versioned(self, request: Request) -> None:
        version = request.headers.get("linkedin-version", "")
        if not version:
            raise ApiError(400, "A version must be present. Please specify a version by adding the "
                                "LinkedIn-Version header.", "VERSION_MISSING")
        if version not in self.supported_versions:
            raise ApiError(426, f"Requested version {version[:20]} is not active", "NONEXISTENT_VERSION")
        if request.headers.get("x-restli-protocol-version") != "2.0.0":
            raise ApiError(400, "Rest.li protocol version 2.0.0 is required for encoded keys", "ILLEGAL_ARGUMENT")

    def _org(self, urn: str) -> int:
        match = re.match(r"^urn:li:organization:(\d+)$", urn or "")
        if not match or int(match.group(1)) not in self.organizations:
            raise ApiError(400, f"Invalid organization urn {str(urn)[:60]}", "ILLEGAL_ARGUMENT", 100)
        org = int(match.group(1))
        if org not in self.admin_of:
            raise ApiError(403, f"Not enough permissions to access: {urn}", "ACCESS_DENIED", 100)
        return org

    def dispatch(self, request: Request) -> tuple[int, Any, dict[str, str]]:
        if request.endpoint == "token":
            return self.api_token(request)
        if request.endpoint == "upload":
            self._member(request)
            return self.api_upload(request)
        self._member(request)
        self._versioned(request)
        handler = getattr(self, "api_" + request.endpoint.replace(".", "_"), None)
        if handler is None:
            raise ApiError(404, "Not Found")
        return handler(request)

    def api_token(self, request: Request):
        form = dict(parse_qsl(request.body.decode("utf-8", "replace")))
        if form.get("client_id") != self.client_id or form.get("client_secret") != self.client_secret:
            return 401, {"error": "invalid_client", "error_description": "Client authentication failed"}, {}
        grant = form.get("grant_type")
        if grant == "authorization_code":
            code = self.codes.pop(form.get("code", ""), None)
            if code is None or code["expires"] < time.time():
                return 400, {"error": "invalid_request", "error_description": "Unable to retrieve access token: "
                                                                              "authorization code not found"}, {}
            if code["redirect_uri"] != form.get("redirect_uri"):
                return 400, {"error": "invalid_request", "error_description": "Unable to retrieve access token: "
                                                                              "appid/redirect uri/code verifier does "
                                                                              "not match authorization code"}, {}
            return 200, self._grant(code["scope"], refresh_expires=time.time() + 365 * 86400), {}
        if grant == "refresh_token":
            info = self.refreshes.get(form.get("refresh_token", ""))
            if info is None or info["expires"] < time.time():
                return 400, {"error": "invalid_grant", "error_description": "The provided authorization grant or "
                                                                            "refresh token is invalid, expired or "
                                                                            "revoked"}, {}
            # The refresh token keeps its first expiry; LinkedIn returns the same one.
            answer = self._grant(info["scope"], refresh=form["refresh_token"], refresh_expires=info["expires"])
            return 200, answer, {}
        return 400, {"error": "unsupported_grant_type", "error_description": "grant_type is not supported"}, {}

    def _grant(self, scope: str, *, refresh: str = "", refresh_expires: float) -> dict[str, Any]:
        token = "AQV" + secrets.token_urlsafe(40)
        self.tokens[token] = {"member": MEMBER, "expires": time.time() + 60 * 86400, "revoked": False}
        answer: dict[str, Any] = {"access_token": token, "expires_in": 5183999, "scope": scope}
        if self.refresh_tokens:
            refresh = refresh or "AQX" + secrets.token_urlsafe(40)
            self.refreshes[refresh] = {"expires": refresh_expires, "scope": scope}
            answer["refresh_token"] = refresh
            answer["refresh_token_expires_in"] = max(0, int(refresh_expires - time.time()))
        return answer

    def api_posts_create(self, request: Request):
        body = request.json() or {}
        org = self._org(str(body.get("author") or ""))
        commentary = body.get("commentary", "")
        if not isinstance(commentary, str) or len(commentary.encode("utf-16-le")) // 2 > 3000:
            raise ApiError(422, "ERROR :: /commentary :: length of commentary exceeds 3000", "UNPROCESSABLE_ENTITY")
        if body.get("lifecycleState") != "PUBLISHED" or body.get("visibility") not in ("PUBLIC", "CONNECTIONS",
                                                                                          "LOGGED_IN"):
            raise ApiError(422, "ERROR :: /lifecycleState :: invalid value", "UNPROCESSABLE_ENTITY")
        if not isinstance(body.get("distribution"), dict):
            raise ApiError(422, "ERROR :: /distribution :: field is required but not found", "UNPROCESSABLE_ENTITY")
        content = body.get("content")
        if content is not None:
            self._check_content(content, org)
        shown = render_little(commentary)
        now = time.time() * 1000
        for urn, post in self.posts.items():
            if urn not in self.deleted and post["author"] == body["author"] and post["shown"] == shown \
                    and now - post["createdAt"] < self.duplicate_window * 1000 and not content:
                raise ApiError(422, f"Content is a duplicate of {urn}", "DUPLICATE_POST")
        urn = self._new_post(body)
        return 201, None, {"x-restli-id": urn, "x-linkedin-id": urn}

    def _check_content(self, content: dict[str, Any], org: int) -> None:
        owner = f"urn:li:organization:{org}"

        def image(urn: Any) -> None:
            info = self.images.get(str(urn))
            if info is None or info["owner"] != owner:
                raise ApiError(422, f"ERROR :: /content/media/id :: {str(urn)[:60]} is not a valid image",
                               "UNPROCESSABLE_ENTITY")
            if info["status"] != "AVAILABLE":
                raise ApiError(422, "ERROR :: /content :: media is still processing", "UNPROCESSABLE_ENTITY")

        if "media" in content:
            image(content["media"].get("id"))
        elif "multiImage" in content:
            images = content["multiImage"].get("images") or []
            if not 2 <= len(images) <= 20:
                raise ApiError(422, "ERROR :: /content/multiImage/images :: must have between 2 and 20 images",
                               "UNPROCESSABLE_ENTITY")
            for item in images:
                image(item.get("id"))
        elif "article" in content:
            article = content["article"]
            if not str(article.get("source", "")).startswith(("http://", "https://")) or not article.get("title"):
                raise ApiError(422, "ERROR :: /content/article :: source and title are required",
                               "UNPROCESSABLE_ENTITY")
            if article.get("thumbnail"):
                image(article["thumbnail"])
        else:
            raise ApiError(422, "ERROR :: /content :: unknown content type", "UNPROCESSABLE_ENTITY")

    def _out_post(self, post: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in post.items() if k != "shown"}

    def api_posts_list(self, request: Request):
        if request.query.get("q") != "author":
            raise ApiError(400, "Invalid finder", "ILLEGAL_ARGUMENT")
        author = request.query.get("author", "")
        self._org(author)
        count = max(1, min(100, int(request.query.get("count") or 10)))
        start = max(0, int(request.query.get("start") or 0))
        posts = sorted((p for urn, p in self.posts.items() if p["author"] == author and urn not in self.deleted),
                       key=lambda p: -p["lastModifiedAt"])
        page = posts[start:start + count]
        return 200, {"paging": {"start": start, "count": count, "links": [], "total": len(posts)},
                     "elements": [self._out_post(p) for p in page]}, {}

    def api_posts_get(self, request: Request):
        urn = request.path.rsplit("/", 1)[1]
        post = self.posts.get(urn)
        if post is None or urn in self.deleted:
            raise ApiError(404, f"Post {urn} not found", "NOT_FOUND")
        return 200, self._out_post(post), {}

    def api_posts_delete(self, request: Request):
        urn = request.path.rsplit("/", 1)[1]
        post = self.posts.get(urn)
        if post is None or urn in self.deleted:
            raise ApiError(404, f"Post {urn} not found", "NOT_FOUND")
        self._org(post["author"])
        self.deleted.add(urn)
        return 204, None, {}

    def api_images_initialize(self, request: Request):
        if request.query.get("action") != "initializeUpload":
            raise ApiError(400, "Unknown action", "ILLEGAL_ARGUMENT")
        owner = str(_get(request.json(), "initializeUploadRequest", "owner") or "")
        self._org(owner)
        image = "urn:li:image:C4E10AQ" + secrets.token_urlsafe(12).replace("-", "a").replace("_", "b")
        key = secrets.token_urlsafe(16)
        self.images[image] = {"owner": owner, "status": "WAITING_UPLOAD", "bytes": b""}
        self.uploads[key] = image
        return 200, {"value": {"uploadUrlExpiresAt": int((time.time() + 3600) * 1000),
                               "uploadUrl": f"{self.base_url}/dms-uploads/{key}/uploaded-image/0?ca=vector_ads",
                               "image": image}}, {}

    def api_upload(self, request: Request):
        key = request.path.split("/")[2] if request.path.count("/") >= 2 else ""
        image = self.uploads.get(key)
        if image is None or request.method != "PUT":
            raise ApiError(404, "Not Found")
        if not request.body or request.body.startswith(b"CORRUPT"):
            raise ApiError(400, "The image could not be processed")
        self.images[image].update(status="AVAILABLE", bytes=request.body,
                                  mime=request.headers.get("content-type", ""))
        return 201, None, {}

    def api_comments_list(self, request: Request):
        target = unquote(request.path.split("/")[3])
        count = max(1, min(100, int(request.query.get("count") or 10)))
        start = max(0, int(request.query.get("start") or 0))
        self._comment_target(target)
        items = sorted(self.comments.get(target, []), key=lambda c: -c["created"]["time"])
        return 200, {"paging": {"start": start, "count": count, "links": [], "total": len(items)},
                     "elements": items[start:start + count]}, {}

    def _comment_target(self, target: str) -> None:
        match = re.match(r"^urn:li:comment:\((urn:li:\w+:\d+),(\d+)\)$", target)
        post = match.group(1) if match else target
        if post not in self.posts or post in self.deleted:
            raise ApiError(404, f"{target} not found", "NOT_FOUND")

    def api_comments_create(self, request: Request):
        target = unquote(request.path.split("/")[3])
        self._comment_target(target)
        body = request.json() or {}
        actor = str(body.get("actor") or "")
        if actor.startswith("urn:li:organization:"):
            self._org(actor)
        text = _get(body, "message", "text")
        if not isinstance(text, str) or not text.strip():
            raise ApiError(422, "ERROR :: /message/text :: field is required", "UNPROCESSABLE_ENTITY")
        parent = str(body.get("parentComment") or "")
        if parent and parent != target or not parent and body.get("object") != target:
            raise ApiError(400, "object/parentComment do not match the resource key", "ILLEGAL_ARGUMENT")
        comment = self._add_comment(str(body["object"]), actor, text, parent, created=int(time.time() * 1000))
        return 201, comment, {"x-restli-id": comment["id"]}

    def api_organizations_get(self, request: Request):
        org = int(request.path.rsplit("/", 1)[1])
        data = self.organizations.get(org)
        if data is None:
            raise ApiError(404, f"Organization {org} not found", "NOT_FOUND")
        return 200, data, {}

    def api_acls(self, request: Request):
        if request.query.get("q") != "roleAssignee":
            raise ApiError(400, "Invalid finder", "ILLEGAL_ARGUMENT")
        role = request.query.get("role", "")
        elements = [{"roleAssignee": MEMBER, "state": "APPROVED", "role": "ADMINISTRATOR",
                     "organization": f"urn:li:organization:{org}"} for org in sorted(self.admin_of)
                    if not role or role == "ADMINISTRATOR"]
        return 200, {"paging": {"start": 0, "count": 10, "links": [], "total": len(elements)},
                     "elements": elements}, {}

    def api_network_sizes(self, request: Request):
        urn = unquote(request.path.rsplit("/", 1)[1])
        if request.query.get("edgeType") != "COMPANY_FOLLOWED_BY_MEMBER":
            raise ApiError(400, "edgeType is required", "ILLEGAL_ARGUMENT")
        org = self._org(urn)
        return 200, {"firstDegreeSize": self.followers.get(org, 0)}, {}

    def api_share_stats(self, request: Request):
        org_urn = request.query.get("organizationalEntity", "")
        self._org(org_urn)
        elements = []
        for param, key in (("shares", "share"), ("ugcPosts", "ugcPost")):
            raw = request.query.get(param, "")
            if not raw:
                continue
            match = re.match(r"^List\((.*)\)$", raw)
            if not match:
                raise ApiError(400, f"Invalid {param} parameter", "ILLEGAL_ARGUMENT")
            for urn in (unquote(u) for u in match.group(1).split(",") if u):
                post = self.posts.get(urn)
                if post is None or urn in self.deleted or post["author"] != org_urn:
                    continue
                elements.append({"totalShareStatistics": dict(self.stats[urn]), key: urn,
                                 "organizationalEntity": org_urn})
        return 200, {"paging": {"start": 0, "count": 10, "links": []}, "elements": elements}, {}

    def api_follower_stats(self, request: Request):
        org_urn = request.query.get("organizationalEntity", "")
        self._org(org_urn)
        if "timeIntervals" not in request.query:
            return 200, {"elements": [{"organizationalEntity": org_urn, "followerCountsByAssociationType": []}]}, {}
        return 200, {"paging": {"start": 0, "count": 10, "links": []},
                     "elements": [{"organizationalEntity": org_urn, **g} for g in self.follower_gains]}, {}


def _get(data: Any, *keys: str) -> Any:
    for key in keys:
        if not isinstance(data, dict):
            return None
        data = data.get(key)
    return data


# -- HTTP ----------------------------------------------------------------------------------------

_ROUTES: list[tuple[str, re.Pattern, str]] = [
    ("POST", re.compile(r"^/oauth/v2/accessToken$"), "token"),
    ("GET", re.compile(r"^/web/[^/]+$"), "web"),
    ("GET", re.compile(r"^/oauth/v2/authorization$"), "authorize"),
    ("PUT", re.compile(r"^/dms-uploads/[^/]+/.*$"), "upload"),
    ("POST", re.compile(r"^/rest/posts$"), "posts.create"),
    ("GET", re.compile(r"^/rest/posts$"), "posts.list"),
    ("GET", re.compile(r"^/rest/posts/[^/]+$"), "posts.get"),
    ("DELETE", re.compile(r"^/rest/posts/[^/]+$"), "posts.delete"),
    ("POST", re.compile(r"^/rest/images$"), "images.initialize"),
    ("GET", re.compile(r"^/rest/socialActions/[^/]+/comments$"), "comments.list"),
    ("POST", re.compile(r"^/rest/socialActions/[^/]+/comments$"), "comments.create"),
    ("GET", re.compile(r"^/rest/organizations/\d+$"), "organizations.get"),
    ("GET", re.compile(r"^/rest/organizationAcls$"), "acls"),
    ("GET", re.compile(r"^/rest/networkSizes/[^/]+$"), "network_sizes"),
    ("GET", re.compile(r"^/rest/organizationalEntityShareStatistics$"), "share_stats"),
    ("GET", re.compile(r"^/rest/organizationalEntityFollowerStatistics$"), "follower_stats"),
]


def _decode_path(raw_path: str) -> str:
    """Percent-decoded segments (URNs arrive encoded), slashes kept as separators."""
    return "/".join(unquote(part) for part in raw_path.split("/"))


class _Handler(server.FakeHandler):
    server_version = "Play"
    content_type = "application/json"
    extra_headers = {"x-restli-protocol-version": "2.0.0"}

    def _handle(self, method: str) -> None:
        fake: FakeLinkedIn = self.server.fake  # type: ignore[attr-defined]
        parts, headers, body = self.read_request()
        endpoint = next((name for m, pattern, name in _ROUTES if m == method and pattern.match(parts.path)), "")
        # Rest.li query values keep their encoding inside List(...): decode only the top level.
        query = {k: v for k, v in parse_qsl(parts.query, keep_blank_values=True)}
        if "shares" in query or "ugcPosts" in query:
            raw = dict(pair.split("=", 1) for pair in parts.query.split("&") if "=" in pair)
            for key in ("shares", "ugcPosts"):
                if key in raw:
                    query[key] = raw[key]
        request = Request(method, _decode_path(parts.path), endpoint, query, headers, body)
        with fake.lock:
            fake.requests.append(request)
        if not endpoint:
            return self._send(request, 404, {"message": "Not Found", "status": 404})
        if endpoint == "authorize":
            return self._authorize(fake, request)
        if endpoint == "web":
            return self._web(fake, request)
        fault = fake._take_fault(method, endpoint)
        delay = fake.latency + (fault.seconds if fault and fault.kind == "latency" else 0.0)
        if delay:
            fake._stopping.wait(delay)
        if fault and not fault.after and self._early_fault(request, fault):
            return None
        extra: dict[str, str] = {}
        try:
            with fake.lock:
                status, payload, extra = fake.dispatch(request)
        except ApiError as error:
            status, payload = error.status, error.body()
        except (ValueError, KeyError, TypeError) as error:
            status, payload = 400, {"message": f"Bad request: {type(error).__name__}", "status": 400}
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

    def _authorize(self, fake: FakeLinkedIn, request: Request) -> None:
        q = request.query
        redirect = q.get("redirect_uri", "")
        if q.get("client_id") != fake.client_id or q.get("response_type") != "code" or not redirect:
            return self._send(request, 400, {"error": "invalid_request"})
        if fake.deny:
            params = {"error": "user_cancelled_authorize", "error_description": "The user cancelled the authorization",
                      "state": q.get("state", "")}
        else:
            params = {"code": fake.issue_code(redirect, q.get("scope", "")), "state": q.get("state", "")}
        request.status = 302
        self.send_response(302)
        self.send_header("location", f"{redirect}?{urlencode(params, quote_via=quote)}")
        self.send_header("content-length", "0")
        self.end_headers()

    def _web(self, fake: FakeLinkedIn, request: Request) -> None:
        """Not LinkedIn: a web page or image a post links to (for link previews)."""
        page = fake.web_pages.get(request.path.rsplit("/", 1)[1])
        if page is None:
            return self._send(request, 404, {"message": "Not Found"})
        content_type, body = page
        request.status = 200
        self.send_response(200)
        self.send_header("content-type", content_type)
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
        return None

    def _early_fault(self, request: Request, fault: Fault) -> bool:
        if fault.kind == "rate_limit":
            headers = {"retry-after": str(int(fault.retry_after))} if fault.retry_after is not None else {}
            self._send(request, 429, {"status": 429, "serviceErrorCode": 101, "code": "TOO_MANY_REQUESTS",
                                      "message": "Resource level throttle APPLICATION DAY limit for calls to this "
                                                 "resource is reached."}, headers)
            return True
        if fault.kind == "unauthorized":
            self._send(request, 401, {"status": 401, "serviceErrorCode": 65602, "code": "EXPIRED_ACCESS_TOKEN",
                                      "message": "The token used in the request has expired"})
            return True
        if fault.kind in ("status", "malformed"):
            self._send(request, fault.status, None, raw=(fault.body or "").encode())
            return True
        return False



FakeLinkedIn.handler_class = _Handler
