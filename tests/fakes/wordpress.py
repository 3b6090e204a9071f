"""A loopback fake WordPress site (REST API, ``/wp-json/wp/v2``): real HTTP on 127.0.0.1, in a
thread, with state.

No recorded corpus of WordPress REST traffic exists in ``../shared/corpora``, so the shapes here
follow the REST API handbook (developer.wordpress.org/rest-api/reference): posts, media,
categories, tags, comments, ``users/me``, the ``/wp-json/`` index, ``X-WP-Total`` and
``X-WP-TotalPages`` headers, and errors as ``{"code": "rest_…", "message": "…", "data":
{"status": N}}``.

What it does like WordPress:

- application passwords over HTTP Basic (with or without the spaces WordPress shows),
  ``incorrect_password`` / ``invalid_username`` 401s, and roles: a contributor cannot publish
  or upload, an author cannot create tags, an editor can;
- posts with ``context=edit`` (``raw`` title and content), every status, ``author``,
  ``modified_after``, paging, ``DELETE ?force=true`` (and trash without it);
- media uploads as multipart ``file`` or as a raw body named by ``Content-Disposition``, with
  ``alt_text``; ``featured_media`` must be an existing attachment;
- categories and tags searched by name; tags created by who may (``term_exists`` when taken);
- comments with ``post``, ``parent``, ``after``, ``status`` (``hold`` needs a moderator),
  ``author_exclude``, and replies created as the signed-in user.

Faults (``inject("POST /wp/v2/posts", Fault…)``, ``:id`` for a number, or ``"*"``): latency,
429 with ``Retry-After`` and reset headers, 5xx (503 with ``Retry-After``), a hang or a dropped
connection after the post was created, a revoked application password, malformed JSON, and
the PHP warning printed before the JSON that shared hosting is known for.
"""

from __future__ import annotations

import base64
import html
import json
import random
import re
import secrets
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from email.parser import BytesParser
from email.policy import HTTP
from http.server import ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, unquote

from . import server

PHP_WARNING = ("<br />\n<b>Warning</b>:  Undefined array key \"HTTP_X_FORWARDED_PROTO\" in "
               "<b>/var/www/html/wp-config.php</b> on line <b>42</b><br />\n")


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _gmt(dt: datetime) -> str:
    return dt.astimezone(timezone.utc).replace(tzinfo=None, microsecond=0).isoformat()


class Fault(server.Fault):
    """WordPress's own error bodies on top of the shared fault vocabulary."""

    @classmethod
    def server_error(cls, status: int = 503, *, after: bool = False, retry_after: float | None = None) -> Fault:
        return cls("status", status=status, after=after, retry_after=retry_after,
                   body=json.dumps({"code": "internal_server_error",
                                    "message": "<p>There has been a critical error on this website.</p>",
                                    "data": {"status": status}}))

    @classmethod
    def respond(cls, status: int, code: str, message: str, *, after: bool = False) -> Fault:
        return cls("status", status=status, after=after,
                   body=json.dumps({"code": code, "message": message, "data": {"status": status}}))

    @classmethod
    def malformed(cls, body: str = '{"id":12,"date":"2026-', *, after: bool = True, status: int = 200) -> Fault:
        return cls("malformed", body=body, after=after, status=status)

    @classmethod
    def php_warning(cls) -> Fault:
        """Process the request, then answer with a PHP warning printed before the JSON."""
        return cls("warning", after=True)

    @classmethod
    def expired_token(cls) -> Fault:
        return cls("unauthorized", status=401)


class WpError(Exception):
    def __init__(self, status: int, code: str, message: str, extra: dict | None = None):
        super().__init__(message)
        self.status, self.code, self.message, self.extra = status, code, message, extra or {}

    def body(self) -> dict[str, Any]:
        return {"code": self.code, "message": self.message, "data": {"status": self.status, **self.extra}}


@dataclass
class Request:
    method: str
    path: str  # after /wp-json
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes
    at: float = field(default_factory=time.time)
    status: int | None = None
    user: dict[str, Any] | None = None

    def json(self) -> dict[str, Any]:
        ctype = self.headers.get("content-type", "")
        if not self.body:
            return {}
        if ctype.startswith("application/json"):
            try:
                data = json.loads(self.body)
            except ValueError as exc:
                raise WpError(400, "rest_invalid_json", "Invalid JSON body passed.") from exc
            return data if isinstance(data, dict) else {}
        if ctype.startswith("application/x-www-form-urlencoded"):
            return dict(parse_qsl(self.body.decode("utf-8", "replace")))
        return {}

    def multipart(self) -> tuple[dict[str, str], dict[str, tuple[str, str, bytes]]]:
        message = BytesParser(policy=HTTP).parsebytes(
            b"Content-Type: " + self.headers.get("content-type", "").encode() + b"\r\nMIME-Version: 1.0\r\n\r\n"
            + self.body)
        fields, files = {}, {}
        if message.is_multipart():
            for part in message.iter_parts():
                name = part.get_param("name", header="content-disposition")
                content = part.get_payload(decode=True) or b""
                if part.get_filename():
                    files[name] = (part.get_filename(), part.get_content_type(), content)
                else:
                    fields[name] = content.decode("utf-8", "replace")
        return fields, files


ROLES = {
    "administrator": {"publish", "upload", "create_tags", "moderate"},
    "editor": {"publish", "upload", "create_tags", "moderate"},
    "author": {"publish", "upload"},
    "contributor": set(),
}


class FakeWordPress(server.LoopbackServer):
    """Start with ``with FakeWordPress() as fake:``; ``fake.username``/``fake.app_password``."""

    thread_name = "fake-wordpress"

    def __init__(self, *, seed: int = 0, role: str = "editor", site_name: str = "Blog del Café & Tertulia"):
        self.random = random.Random(seed)
        self.lock = threading.RLock()
        self.latency = 0.0
        self._rules: list[server.FaultRule] = []
        self._stopping = threading.Event()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.requests: list[Request] = []
        self.site_name = site_name
        self.users: dict[int, dict[str, Any]] = {}
        self.app_passwords: dict[str, int] = {}  # password without spaces -> user id
        self.posts: dict[int, dict[str, Any]] = {}
        self.media: dict[int, dict[str, Any]] = {}
        self.terms: dict[str, dict[int, dict[str, Any]]] = {"categories": {}, "tags": {}}
        self.comments: dict[int, dict[str, Any]] = {}
        self._seq = 100
        self._role = role

    def _seed_accounts(self) -> None:
        self.user = self.add_user("cm_tertulia", "Community Manager", role=self._role)
        self.username = self.user["username"]
        self.app_password = self.issue_password(self.user["id"])
        self.add_term("categories", "Uncategorized", slug="uncategorized")
        self.add_term("categories", "Noticias & eventos", slug="noticias-eventos")
        self.add_term("tags", "café", slug="cafe")

    # -- helpers for tests --------------------------------------------------------------------

    def next_id(self) -> int:
        with self.lock:
            self._seq += 1
            return self._seq

    def add_user(self, username: str, name: str, *, role: str = "editor") -> dict[str, Any]:
        user = {"id": self.next_id(), "username": username, "name": name, "slug": username, "roles": [role]}
        self.users[user["id"]] = user
        return user

    def issue_password(self, user_id: int) -> str:
        raw = secrets.token_urlsafe(18).replace("-", "a").replace("_", "b")[:24]
        with self.lock:
            self.app_passwords[raw] = user_id
        return " ".join(raw[i:i + 4] for i in range(0, 24, 4))  # shown like WordPress does

    def expire_token(self, password: str | None = None) -> None:
        with self.lock:
            self.app_passwords.pop((password or self.app_password).replace(" ", ""), None)

    def add_term(self, taxonomy: str, name: str, *, slug: str = "") -> dict[str, Any]:
        term = {"id": self.next_id(), "name": html.escape(name, quote=False), "slug": slug or _slug(name),
                "taxonomy": "category" if taxonomy == "categories" else "post_tag", "count": 0}
        self.terms[taxonomy][term["id"]] = term
        return term

    def term_named(self, taxonomy: str, name: str) -> dict[str, Any] | None:
        for term in self.terms[taxonomy].values():
            if html.unescape(term["name"]).lower() == name.lower():
                return term
        return None

    def comment(self, author_name: str, text: str, *, post: int, parent: int = 0, status: str = "approved",
                author_url: str = "", when: datetime | None = None) -> dict[str, Any]:
        """A visitor comments on a post (or answers a comment)."""
        with self.lock:
            return self._create_comment({"post": post, "parent": parent, "content": text,
                                         "author_name": author_name, "author_url": author_url},
                                        author=0, status=status, when=when)

    def inject(self, endpoint: str, fault: Fault, *, times: int | None = 1, probability: float = 1.0) -> None:
        """``endpoint`` is ``"METHOD /wp/v2/path"`` with ``:id`` for a number, or ``"*"``."""
        if endpoint == "*":
            method, pattern = "*", re.compile(".*")
        else:
            method, path = endpoint.split(" ", 1)
            pattern = re.compile("^" + re.escape(path).replace(":id", r"\d+") + "/?$")
        self._add_rule(method, lambda p: bool(pattern.match(p)), fault, times, probability)

    def requests_to(self, method: str, path_pattern: str) -> list[Request]:
        pattern = re.compile("^" + re.escape(path_pattern).replace(":id", r"\d+") + "/?$")
        with self.lock:
            return [r for r in self.requests if r.method == method and pattern.match(r.path)]

    def live_posts(self) -> list[dict[str, Any]]:
        with self.lock:
            return [p for p in self.posts.values() if p["status"] != "trash"]

    # -- rendering -----------------------------------------------------------------------------

    def render_post(self, post: dict[str, Any], context: str) -> dict[str, Any]:
        out = {
            "id": post["id"], "date": _gmt(post["date"]), "date_gmt": _gmt(post["date"]),
            "modified": _gmt(post["modified"]), "modified_gmt": _gmt(post["modified"]), "slug": post["slug"],
            "status": post["status"], "type": "post",
            "link": f"{self.base_url}/?p={post['id']}" if post["status"] != "publish"
            else f"{self.base_url}/{post['date']:%Y/%m/%d}/{post['slug']}/",
            "title": {"rendered": post["title"]},
            "content": {"rendered": _render(post["content"]), "protected": False},
            "excerpt": {"rendered": "", "protected": False},
            "author": post["author"], "featured_media": post["featured_media"], "comment_status": "open",
            "categories": post["categories"], "tags": post["tags"], "meta": {"footnotes": ""},
        }
        if context == "edit":
            out["title"]["raw"] = post["title"]
            out["content"]["raw"] = post["content"]
        return out

    def render_comment(self, comment: dict[str, Any], context: str) -> dict[str, Any]:
        out = {
            "id": comment["id"], "post": comment["post"], "parent": comment["parent"],
            "author": comment["author"], "author_name": comment["author_name"],
            "author_url": comment["author_url"], "date": _gmt(comment["date"]), "date_gmt": _gmt(comment["date"]),
            "content": {"rendered": _render(html.escape(comment["content"], quote=False))},
            "link": f"{self.base_url}/?p={comment['post']}#comment-{comment['id']}",
            "status": comment["status"], "type": "comment",
            "author_avatar_urls": {"24": "https://secure.gravatar.com/avatar/x?s=24",
                                   "48": "https://secure.gravatar.com/avatar/x?s=48"},
        }
        if context == "edit":
            out["content"]["raw"] = comment["content"]
        return out

    # -- state changes -------------------------------------------------------------------------

    def _create_comment(self, data: dict[str, Any], *, author: int, status: str,
                        when: datetime | None = None) -> dict[str, Any]:
        post_id = int(data.get("post") or 0)
        if post_id not in self.posts or self.posts[post_id]["status"] == "trash":
            raise WpError(403, "rest_comment_invalid_post_id", "Sorry, you are not allowed to create this "
                                                                "comment without a post.")
        parent = int(data.get("parent") or 0)
        if parent and (parent not in self.comments or self.comments[parent]["post"] != post_id):
            raise WpError(400, "rest_comment_invalid_parent", "Invalid parent ID.")
        content = str(data.get("content") or "")
        if not content.strip():
            raise WpError(400, "rest_comment_content_invalid", "Invalid comment content.")
        user = self.users.get(author)
        comment = {"id": self.next_id(), "post": post_id, "parent": parent, "author": author,
                   "author_name": user["name"] if user else str(data.get("author_name") or "Anónimo"),
                   "author_url": str(data.get("author_url") or ""), "date": when or _now(),
                   "content": content, "status": status}
        self.comments[comment["id"]] = comment
        return comment

    # -- routing -----------------------------------------------------------------------------

    def authenticate(self, request: Request) -> dict[str, Any] | None:
        header = request.headers.get("authorization", "")
        if not header:
            return None
        if not header.lower().startswith("basic "):
            return None
        try:
            username, _sep, password = base64.b64decode(header[6:]).decode().partition(":")
        except (ValueError, UnicodeDecodeError) as exc:
            raise WpError(401, "invalid_username", "Unknown username.") from exc
        user = next((u for u in self.users.values() if u["username"] == username), None)
        if user is None:
            raise WpError(401, "invalid_username", "<strong>Error:</strong> The username <strong>"
                          + html.escape(username) + "</strong> is not registered on this site.")
        with self.lock:
            owner = self.app_passwords.get(password.replace(" ", ""))
        if owner != user["id"]:
            raise WpError(401, "incorrect_password", "The provided password is an invalid application password.")
        return user

    def dispatch(self, request: Request) -> tuple[int, Any, dict[str, str]]:
        for method, pattern, name in ROUTES:
            match = pattern.match(request.path)
            if match and method == request.method:
                return getattr(self, name)(request, **{k: int(v) for k, v in match.groupdict().items()})
        raise WpError(404, "rest_no_route", "No route was found matching the URL and request method.")

    @staticmethod
    def _need(request: Request, capability: str | None, code: str, message: str) -> dict[str, Any]:
        user = request.user
        if user is None:
            raise WpError(401, code, message)
        if capability and capability not in ROLES[user["roles"][0]]:
            raise WpError(403, code, message)
        return user

    @staticmethod
    def _page(items: list, request: Request) -> tuple[int, list, dict[str, str]]:
        try:
            per_page = int(request.query.get("per_page", 10))
            page = int(request.query.get("page", 1))
        except ValueError as exc:
            raise WpError(400, "rest_invalid_param", "Invalid parameter(s): per_page") from exc
        if not 1 <= per_page <= 100:
            raise WpError(400, "rest_invalid_param", "Invalid parameter(s): per_page")
        pages = max(1, -(-len(items) // per_page))
        if page > pages and items:
            raise WpError(400, "rest_post_invalid_page_number",
                          "The page number requested is larger than the number of pages available.")
        chunk = items[(page - 1) * per_page: page * per_page]
        return 200, chunk, {"x-wp-total": str(len(items)), "x-wp-totalpages": str(pages)}

    # -- endpoints -------------------------------------------------------------------------------

    def index(self, request):
        return 200, {"name": self.site_name, "description": "Café, libros y <em>tertulias</em>",
                     "url": self.base_url, "home": self.base_url, "gmt_offset": "1", "timezone_string":
                     "Europe/Madrid", "namespaces": ["oembed/1.0", "wp/v2", "wp-site-health/v1"],
                     "authentication": {"application-passwords": {"endpoints": {
                         "authorization": f"{self.base_url}/wp-admin/authorize-application.php"}}},
                     "routes": {}}, {}

    def users_me(self, request):
        user = self._need(request, None, "rest_not_logged_in", "You are not currently logged in.")
        return 200, {"id": user["id"], "username": user["username"], "name": user["name"], "slug": user["slug"],
                     "roles": user["roles"], "link": f"{self.base_url}/author/{user['slug']}/"}, {}

    def list_posts(self, request):
        context = request.query.get("context", "view")
        statuses = request.query.get("status", "publish").split(",")
        if (context == "edit" or statuses != ["publish"]) and request.user is None:
            raise WpError(401, "rest_forbidden_context", "Sorry, you are not allowed to edit posts in this post type.")
        posts = [p for p in self.posts.values() if p["status"] in statuses]
        if request.query.get("author"):
            posts = [p for p in posts if str(p["author"]) in request.query["author"].split(",")]
        if request.query.get("modified_after"):
            floor = datetime.fromisoformat(request.query["modified_after"]).replace(tzinfo=timezone.utc)
            posts = [p for p in posts if p["modified"] > floor]
        if request.query.get("search"):
            needle = request.query["search"].lower()
            posts = [p for p in posts if needle in p["title"].lower() or needle in p["content"].lower()]
        posts.sort(key=lambda p: (p["date"], p["id"]), reverse=request.query.get("order", "desc") == "desc")
        status, chunk, headers = self._page(posts, request)
        return status, [self.render_post(p, context) for p in chunk], headers

    def get_post(self, request, post_id):
        post = self.posts.get(post_id)
        if post is None or (post["status"] != "publish" and request.user is None):
            raise WpError(404, "rest_post_invalid_id", "Invalid post ID.")
        return 200, self.render_post(post, request.query.get("context", "view")), {}

    def create_post(self, request):
        user = self._need(request, None, "rest_cannot_create", "Sorry, you are not allowed to create posts as this user.")
        data = request.json()
        status = data.get("status", "draft")
        if status not in ("publish", "draft", "pending", "private", "future"):
            raise WpError(400, "rest_invalid_param", "Invalid parameter(s): status",
                          {"params": {"status": "status is not one of publish, future, draft, pending, private."}})
        if status in ("publish", "private", "future") and "publish" not in ROLES[user["roles"][0]]:
            raise WpError(403, "rest_cannot_publish", "Sorry, you are not allowed to publish posts in this post type.")
        featured = int(data.get("featured_media") or 0)
        if featured and featured not in self.media:
            raise WpError(400, "rest_invalid_featured_media", "Invalid featured media ID.")
        for taxonomy in ("categories", "tags"):
            for term_id in data.get(taxonomy) or []:
                if term_id not in self.terms[taxonomy]:
                    raise WpError(400, "rest_invalid_param", f"Invalid parameter(s): {taxonomy}")
        title = str(data.get("title") or "")
        content = str(data.get("content") or "")
        if not title.strip() and not content.strip():
            raise WpError(400, "empty_content", "Content, title, and excerpt are empty.")
        now = _now()
        post = {"id": self.next_id(), "date": now, "modified": now, "status": status, "title": title,
                "content": content, "author": user["id"], "featured_media": featured,
                "slug": _slug(html.unescape(title)) or str(self._seq),
                "categories": list(data.get("categories") or [self._default_category()]),
                "tags": list(data.get("tags") or [])}
        with self.lock:
            self.posts[post["id"]] = post
        return 201, self.render_post(post, "edit"), {"location": f"{self.base_url}/wp-json/wp/v2/posts/{post['id']}"}

    def _default_category(self) -> int:
        return next(iter(self.terms["categories"]))

    def delete_post(self, request, post_id):
        self._need(request, None, "rest_cannot_delete", "Sorry, you are not allowed to delete this post.")
        post = self.posts.get(post_id)
        if post is None:
            raise WpError(404, "rest_post_invalid_id", "Invalid post ID.")
        previous = self.render_post(post, "edit")
        if request.query.get("force") in ("true", "1"):
            del self.posts[post_id]
            return 200, {"deleted": True, "previous": previous}, {}
        if post["status"] == "trash":
            raise WpError(410, "rest_already_trashed", "The post has already been deleted.")
        post["status"] = "trash"
        return 200, self.render_post(post, "edit"), {}

    def upload_media(self, request):
        self._need(request, "upload", "rest_cannot_create", "Sorry, you are not allowed to upload media on this site.")
        ctype = request.headers.get("content-type", "")
        fields: dict[str, str] = {}
        if ctype.startswith("multipart/form-data"):
            fields, files = request.multipart()
            if "file" not in files:
                raise WpError(400, "rest_upload_no_data", "No data supplied.")
            filename, mime, content = files["file"]
        else:
            disposition = request.headers.get("content-disposition", "")
            match = re.search(r'filename="?([^";]+)"?', disposition)
            if not match:
                raise WpError(400, "rest_upload_no_content_disposition", "No Content-Disposition supplied.")
            filename, mime, content = unquote(match.group(1)), ctype, request.body
        if not content:
            raise WpError(400, "rest_upload_no_data", "No data supplied.")
        if not mime.startswith("image/") or content.startswith(b"CORRUPT"):
            raise WpError(500, "rest_upload_unknown_error", "Sorry, you are not allowed to upload this file type.")
        media = {"id": self.next_id(), "source_url": f"{self.base_url}/wp-content/uploads/2026/11/{filename}",
                 "alt_text": fields.get("alt_text", ""), "mime_type": mime, "size": len(content),
                 "media_type": "image", "title": {"rendered": filename.rsplit(".", 1)[0]}}
        with self.lock:
            self.media[media["id"]] = media
        return 201, dict(media), {}

    def list_terms(self, request, taxonomy):
        terms = list(self.terms[taxonomy].values())
        if request.query.get("search"):
            needle = request.query["search"].lower()
            terms = [t for t in terms if needle in html.unescape(t["name"]).lower() or needle in t["slug"]]
        status, chunk, headers = self._page(terms, request)
        return status, [dict(t) for t in chunk], headers

    def list_categories(self, request):
        return self.list_terms(request, "categories")

    def list_tags(self, request):
        return self.list_terms(request, "tags")

    def create_tag(self, request):
        self._need(request, "create_tags", "rest_cannot_create",
                   "Sorry, you are not allowed to create terms in this taxonomy.")
        name = str(request.json().get("name") or "").strip()
        if not name:
            raise WpError(400, "rest_missing_callback_param", "Missing parameter(s): name")
        existing = self.term_named("tags", name)
        if existing:
            raise WpError(400, "term_exists", "A term with the name provided already exists in this taxonomy.",
                          {"term_id": existing["id"]})
        return 201, dict(self.add_term("tags", name)), {}

    def list_comments(self, request):
        context = request.query.get("context", "view")
        status = request.query.get("status", "approve")
        if status != "approve" and (request.user is None or "moderate" not in ROLES[request.user["roles"][0]]):
            raise WpError(401 if request.user is None else 403, "rest_forbidden_param",
                          "Query parameter not permitted: status")
        wanted = "approved" if status == "approve" else status
        comments = [c for c in self.comments.values() if c["status"] == wanted]
        if request.query.get("post"):
            ids = {int(x) for x in request.query["post"].split(",")}
            comments = [c for c in comments if c["post"] in ids]
        if request.query.get("after"):
            floor = datetime.fromisoformat(request.query["after"]).replace(tzinfo=timezone.utc)
            comments = [c for c in comments if c["date"] > floor]
        if request.query.get("author_exclude"):
            excluded = {int(x) for x in request.query["author_exclude"].split(",")}
            comments = [c for c in comments if c["author"] not in excluded]
        comments.sort(key=lambda c: (c["date"], c["id"]), reverse=request.query.get("order", "desc") == "desc")
        code, chunk, headers = self._page(comments, request)
        return code, [self.render_comment(c, context) for c in chunk], headers

    def get_comment(self, request, comment_id):
        comment = self.comments.get(comment_id)
        if comment is None:
            raise WpError(404, "rest_comment_invalid_id", "Invalid comment ID.")
        return 200, self.render_comment(comment, request.query.get("context", "view")), {}

    def create_comment(self, request):
        user = self._need(request, None, "rest_comment_login_required",
                          "Sorry, you must be logged in to comment.")
        comment = self._create_comment(request.json(), author=user["id"], status="approved")
        return 201, self.render_comment(comment, "edit"), {}


def _slug(text: str) -> str:
    import unicodedata

    text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().lower()
    return re.sub(r"[^a-z0-9]+", "-", text).strip("-")[:200]


def _render(content: str) -> str:
    """What the_content shows: block comments removed (the fake's stand-in for do_blocks)."""
    return re.sub(r"<!-- /?wp:[^>]*-->\n?", "", content).strip()


ROUTES = [(m, re.compile(p), n) for m, p, n in [
    ("GET", r"^/?$", "index"),
    ("GET", r"^/wp/v2/users/me/?$", "users_me"),
    ("GET", r"^/wp/v2/posts/?$", "list_posts"),
    ("POST", r"^/wp/v2/posts/?$", "create_post"),
    ("GET", r"^/wp/v2/posts/(?P<post_id>\d+)/?$", "get_post"),
    ("DELETE", r"^/wp/v2/posts/(?P<post_id>\d+)/?$", "delete_post"),
    ("POST", r"^/wp/v2/media/?$", "upload_media"),
    ("GET", r"^/wp/v2/categories/?$", "list_categories"),
    ("GET", r"^/wp/v2/tags/?$", "list_tags"),
    ("POST", r"^/wp/v2/tags/?$", "create_tag"),
    ("GET", r"^/wp/v2/comments/?$", "list_comments"),
    ("GET", r"^/wp/v2/comments/(?P<comment_id>\d+)/?$", "get_comment"),
    ("POST", r"^/wp/v2/comments/?$", "create_comment"),
]]


class _Handler(server.FakeHandler):
    server_version = "Apache/2.4.62 (Debian)"
    content_type = "application/json; charset=UTF-8"
    extra_headers = {"x-robots-tag": "noindex"}

    def _handle(self, method: str) -> None:
        fake: FakeWordPress = self.server.fake  # type: ignore[attr-defined]
        parts, headers, body = self.read_request()
        if not parts.path.startswith("/wp-json"):
            return self._send(None, 404, None, {}, raw=b"<html><body>Not Found</body></html>")
        path = parts.path[len("/wp-json"):] or "/"
        request = Request(method, path, dict(parse_qsl(parts.query, keep_blank_values=True)),
                          headers, body)
        with fake.lock:
            fake.requests.append(request)
        fault = fake._take_fault(method, path)
        delay = fake.latency + (fault.seconds if fault and fault.kind == "latency" else 0.0)
        if delay:
            fake._stopping.wait(delay)
        if fault and not fault.after:
            if fault.kind == "rate_limit":
                reset = int(time.time() + fault.reset_in)
                headers = {"x-ratelimit-limit": "60", "x-ratelimit-remaining": "0", "x-ratelimit-reset": str(reset)}
                if fault.retry_after is not None:
                    headers["retry-after"] = str(int(fault.retry_after))
                return self._send(request, 429, {"code": "rest_too_many_requests", "message": "Too many requests.",
                                                 "data": {"status": 429}}, headers)
            if fault.kind == "unauthorized":
                return self._send(request, 401, WpError(401, "incorrect_password", "The provided password is an "
                                                        "invalid application password.").body(), {})
            if fault.kind in ("status", "malformed"):
                extra = {"retry-after": str(int(fault.retry_after))} if fault.retry_after is not None else {}
                return self._send(request, fault.status, None, extra, raw=(fault.body or "").encode())
        try:
            request.user = fake.authenticate(request)
            with fake.lock:
                status, payload, headers = fake.dispatch(request)
        except WpError as error:
            status, payload, headers = error.status, error.body(), {}
        if fault and fault.after:
            if fault.kind == "hang":
                fake._stopping.wait(fault.seconds)
            elif fault.kind == "drop":
                self.close_connection = True
                request.status = -1
                return None
            elif fault.kind in ("status", "malformed"):
                return self._send(request, fault.status, None, headers, raw=(fault.body or "").encode())
            elif fault.kind == "warning":
                return self._send(request, status, None, headers,
                                  raw=PHP_WARNING.encode() + json.dumps(payload).encode())
        return self._send(request, status, payload, headers)



FakeWordPress.handler_class = _Handler

__all__ = ["FakeWordPress", "Fault", "PHP_WARNING"]
