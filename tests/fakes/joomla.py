"""A loopback fake Joomla 4/5 site (Web Services API, ``/api/index.php/v1``): real HTTP on
127.0.0.1, in a thread, with state.

No recorded corpus of Joomla API traffic exists in ``../shared/corpora``, so the shapes follow
the Joomla manual (manual.joomla.org, "Web Services API") and the core API views of
joomla-cms 4/5:

- JSON:API documents: ``{"links": …, "data": {"type", "id", "attributes", "relationships"}}``
  for an item, ``data: [...]`` plus ``meta: {"total-pages": N}`` for a list, paged with
  ``page[offset]`` / ``page[limit]`` (20 by default);
- errors as ``{"errors": [{"title": "…", "code": N}]}`` (the 409 for deleting an article that
  is not in the trash uses Joomla's plain ``{"status", "code", "message"}`` body);
- the API token in ``X-Joomla-Token`` (or ``Authorization: Bearer``), which is
  ``base64("sha256:<user id>:<hmac>")``; a revoked or unknown token is a 401;
- articles: ``title`` (tags removed, as Joomla's default input filter does) and ``catid``
  required; the text as ``articletext``, split at ``<hr id="system-readmore">`` into
  ``introtext``/``fulltext`` and rendered as ``text`` (fields outside the article form, such as
  ``introtext`` itself, are dropped like Joomla's form filter does); ``alias`` unique per
  category (trashed ones included), ``state``
  (1, 0, 2, -2), ``featured``, ``access``, ``note``, ``publish_up`` (an explicit offset is
  honoured; without one the API user's zone, UTC here), ``images``, ``tags`` (ids),
  ``hits``; list filters ``filter[search]`` (title, alias or note, like Joomla's LIKE),
  ``filter[state]``, ``filter[category]``, ``list[ordering]``/``list[direction]``; PATCH
  keeps what it is not sent; DELETE only from the trash (204);
- categories (``/content/categories``) and tags (``/tags``, created by who may);
- the Media API (``POST /media/files`` with an adapter path and base64 ``content``; switched
  off with ``media_api=False`` to look like a site without the plugin);
- ``/config/application`` (site name) for super users only.

Faults (``inject("POST /content/articles", Fault…)``, ``:id`` for a number, or ``"*"``):
latency, 429, 5xx, a hang or a dropped connection after the article was saved, a revoked
token, a user who lost the API permission (403), malformed JSON, and a PHP notice printed
before the JSON.
"""

from __future__ import annotations

import base64
import hashlib
import html
import json
import random
import re
import secrets
import threading
import time
import unicodedata
from dataclasses import dataclass, field
from datetime import datetime, timezone
from http.server import ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl

from . import server

API = "/api/index.php/v1"
PHP_NOTICE = ("<br />\n<b>Deprecated</b>:  Creation of dynamic property Joomla\\CMS\\Table\\Content::$articletext "
              "is deprecated in <b>/var/www/html/libraries/src/Table/Table.php</b> on line <b>1014</b><br />\n")
NULL_DATE = None  # Joomla 4 stores "no date" as NULL


def _now() -> datetime:
    return datetime.now(timezone.utc).replace(microsecond=0)


def _sql(dt: datetime | None) -> str | None:
    return dt.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M:%S") if dt else None


READMORE = re.compile(r"<hr\s+id=[\"']system-readmore[\"']\s*/?>", re.I)


def strip_tags(value: str) -> str:
    """Joomla's default input filter on a text field: entities decoded, tags removed."""
    return re.sub(r"<[^>]*>", "", html.unescape(value))


def _int(value: Any, field_name: str) -> int:
    try:
        return int(value or 0)
    except (TypeError, ValueError):
        raise JoomlaError(400, f"Invalid field:  {field_name}") from None


def slug(text: str) -> str:
    text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().lower()
    return re.sub(r"[^a-z0-9]+", "-", text).strip("-")[:190]


class Fault(server.Fault):
    """Joomla's own error bodies on top of the shared fault vocabulary."""

    @classmethod
    def server_error(cls, status: int = 503, *, after: bool = False, retry_after: float | None = None) -> Fault:
        return cls("status", status=status, after=after, retry_after=retry_after,
                   body=json.dumps({"errors": [{"title": "Internal Server Error", "code": status}]}))

    @classmethod
    def respond(cls, status: int, title: str, *, after: bool = False) -> Fault:
        body = json.dumps({"errors": [{"title": title, "code": status}]})
        return cls("status", status=status, after=after, body=body)

    @classmethod
    def malformed(cls, body: str = '{"data":{"type":"articles","id":"1', *, after: bool = True,
                  status: int = 200) -> Fault:
        return cls("malformed", body=body, after=after, status=status)

    @classmethod
    def php_warning(cls) -> Fault:
        """Process the request, then answer with a PHP deprecation notice printed before the
        JSON (shared hosting with display_errors on)."""
        return cls("warning", after=True)

    @classmethod
    def expired_token(cls) -> Fault:
        return cls("unauthorized", status=401)


class JoomlaError(Exception):
    def __init__(self, status: int, title: str):
        super().__init__(title)
        self.status, self.title = status, title

    def body(self) -> dict[str, Any]:
        return {"errors": [{"title": self.title, "code": self.status}]}


@dataclass
class Request:
    method: str
    path: str  # after /api/index.php/v1
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes
    at: float = field(default_factory=time.time)
    status: int | None = None
    user: dict[str, Any] | None = None

    def json(self) -> dict[str, Any]:
        if not self.body:
            return {}
        try:
            data = json.loads(self.body)
        except ValueError as exc:
            raise JoomlaError(400, "Syntax error, malformed JSON") from exc
        if not isinstance(data, dict):
            raise JoomlaError(400, "Syntax error, malformed JSON")
        return data


# What each kind of API user may do (Joomla's ACL reduced to what the connector meets).
ROLES = {
    "super": {"api", "create", "publish", "delete", "create_tags", "upload", "config"},
    "publisher": {"api", "create", "publish", "delete", "upload"},
    "author": {"api", "create", "upload"},  # may create, not publish: new articles stay unpublished
}


class FakeJoomla(server.LoopbackServer):
    """Start with ``with FakeJoomla() as fake:``; ``fake.token`` is a valid API token."""

    thread_name = "fake-joomla"

    def __init__(self, *, seed: int = 0, role: str = "super", site_name: str = "Café & Tertulia <Joomla>",
                 media_api: bool = True):
        self.random = random.Random(seed)
        self.lock = threading.RLock()
        self.latency = 0.0
        self._rules: list[server.FaultRule] = []
        self._stopping = threading.Event()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.requests: list[Request] = []
        self.site_name = site_name
        self.media_api = media_api
        self.users: dict[int, dict[str, Any]] = {}
        self.tokens: dict[str, int] = {}
        self.articles: dict[int, dict[str, Any]] = {}
        self.categories: dict[int, dict[str, Any]] = {}
        self.tags: dict[int, dict[str, Any]] = {}
        self.files: dict[str, dict[str, Any]] = {}
        self._seq = 10
        self._role = role

    def _seed_accounts(self) -> None:
        self.user = self.add_user("cm", "Community Manager", role=self._role)
        self.token = self.issue_token(self.user["id"])
        self.add_category("Uncategorised", alias="uncategorised")
        self.add_category("Blog")
        self.add_category("Noticias & eventos", alias="noticias-eventos")
        self.add_tag("café", alias="cafe")

    # -- helpers for tests ------------------------------------------------------------------

    def next_id(self) -> int:
        with self.lock:
            self._seq += 1
            return self._seq

    def add_user(self, username: str, name: str, *, role: str = "super") -> dict[str, Any]:
        user = {"id": self.next_id(), "username": username, "name": name, "role": role}
        self.users[user["id"]] = user
        return user

    def issue_token(self, user_id: int) -> str:
        hmac = hashlib.sha256(secrets.token_bytes(16)).hexdigest()
        token = base64.b64encode(f"sha256:{user_id}:{hmac}".encode()).decode()
        with self.lock:
            self.tokens[token] = user_id
        return token

    def expire_token(self, token: str | None = None) -> None:
        with self.lock:
            self.tokens.pop(token or self.token, None)

    def revoke_api_permission(self) -> None:
        """The user is moved out of a group allowed to use the API (``core.login.api``)."""
        with self.lock:
            self.user["role"] = "no_api"

    def add_category(self, title: str, *, alias: str = "") -> dict[str, Any]:
        category = {"id": self.next_id(), "title": title, "alias": alias or slug(title), "published": 1,
                    "extension": "com_content"}
        self.categories[category["id"]] = category
        return category

    def category_named(self, title: str) -> dict[str, Any] | None:
        return next((c for c in self.categories.values() if c["title"].lower() == title.lower()), None)

    def add_tag(self, title: str, *, alias: str = "") -> dict[str, Any]:
        tag = {"id": self.next_id(), "title": title, "alias": alias or slug(title), "published": 1, "parent_id": 1}
        self.tags[tag["id"]] = tag
        return tag

    def inject(self, endpoint: str, fault: Fault, *, times: int | None = 1, probability: float = 1.0) -> None:
        """``endpoint`` is ``"METHOD /content/articles"`` with ``:id`` for a number, or ``"*"``."""
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

    def live_articles(self) -> list[dict[str, Any]]:
        with self.lock:
            return [a for a in self.articles.values() if a["state"] != -2]

    def visible_to_visitors(self, article: dict[str, Any], now: datetime | None = None) -> bool:
        """What the site's front end shows: published, public, and past its publish_up."""
        now = now or _now()
        return (article["state"] == 1 and article["access"] == 1
                and (article["publish_up"] is None or article["publish_up"] <= now))

    # -- rendering --------------------------------------------------------------------------

    def render_article(self, article: dict[str, Any]) -> dict[str, Any]:
        tags = {str(t): self.tags[t]["title"] for t in article["tags"] if t in self.tags}
        attributes = {
            "typeAlias": "com_content.article", "id": article["id"], "asset_id": article["id"] + 1000,
            "title": article["title"], "text": article["introtext"] + " " + article["fulltext"],
            "tags": tags or [], "language": "*", "state": article["state"], "category": article["catid"],
            "images": article["images"], "metakey": "", "metadesc": "", "metadata": {"robots": "", "author": ""},
            "access": article["access"], "featured": article["featured"], "alias": article["alias"],
            "note": article["note"], "publish_up": _sql(article["publish_up"]), "publish_down": None,
            "urls": {}, "created": _sql(article["created"]), "created_by": article["created_by"],
            "created_by_alias": "", "modified": _sql(article["modified"]), "hits": article["hits"],
            "version": article["version"], "featured_up": None, "featured_down": None,
        }
        return {"type": "articles", "id": str(article["id"]), "attributes": attributes,
                "relationships": {"category": {"data": {"type": "categories", "id": str(article["catid"])}},
                                  "created_by": {"data": {"type": "users", "id": str(article["created_by"])}},
                                  "tags": {"data": [{"type": "tags", "id": t} for t in tags]}},
                "links": {"self": f"{self.base_url}{API}/content/articles/{article['id']}"}}

    def _doc(self, resource: dict[str, Any]) -> dict[str, Any]:
        return {"links": {"self": resource.get("links", {}).get("self", "")}, "data": resource}

    def _list(self, request: Request, items: list, render) -> tuple[int, dict, dict]:
        try:
            limit = int(request.query.get("page[limit]", 20))
            offset = int(request.query.get("page[offset]", 0))
        except ValueError as exc:
            raise JoomlaError(400, "Invalid parameter") from exc
        limit = max(1, min(limit, 100))
        if offset and offset > len(items):
            raise JoomlaError(404, "Resource not found")
        chunk = items[offset: offset + limit]
        pages = max(1, -(-len(items) // limit)) if items else 0
        return 200, {"links": {"self": f"{self.base_url}{API}{request.path}"},
                     "data": [render(i) for i in chunk], "meta": {"total-pages": pages}}, {}

    # -- dispatch -----------------------------------------------------------------------------

    def authenticate(self, request: Request) -> dict[str, Any]:
        token = request.headers.get("x-joomla-token", "")
        bearer = request.headers.get("authorization", "")
        if not token and bearer.lower().startswith("bearer "):
            token = bearer[7:]
        user_id = self.tokens.get(token.strip())
        if user_id is None:
            raise JoomlaError(401, "Forbidden")
        user = self.users[user_id]
        if "api" not in ROLES.get(user["role"], set()):
            raise JoomlaError(403, "Forbidden")
        return user

    def dispatch(self, request: Request) -> tuple[int, Any, dict[str, str]]:
        for method, pattern, name in ROUTES:
            match = pattern.match(request.path)
            if match and method == request.method:
                return getattr(self, name)(request, **{k: int(v) for k, v in match.groupdict().items()})
        raise JoomlaError(404, "Resource not found")

    @staticmethod
    def _may(request: Request, what: str) -> bool:
        return what in ROLES.get(request.user["role"], set())

    # -- endpoints -----------------------------------------------------------------------------

    def config_application(self, request):
        if not self._may(request, "config"):
            raise JoomlaError(403, "You are not authorised to view this resource.")
        items = [{"type": "application", "id": "224", "attributes": {"offline": False, "id": 224}},
                 {"type": "application", "id": "224", "attributes": {"sitename": self.site_name, "id": 224}},
                 {"type": "application", "id": "224", "attributes": {"offset": "UTC", "id": 224}}]
        return 200, {"links": {}, "data": items, "meta": {"total-pages": 1}}, {}

    def list_articles(self, request):
        articles = list(self.articles.values())
        state = request.query.get("filter[state]")
        if state not in (None, ""):
            articles = [a for a in articles if a["state"] == int(state)]
        else:
            articles = [a for a in articles if a["state"] in (0, 1)]
        if request.query.get("filter[category]"):
            articles = [a for a in articles if a["catid"] == int(request.query["filter[category]"])]
        search = request.query.get("filter[search]", "").strip()
        if search.startswith("id:"):
            articles = [a for a in articles if str(a["id"]) == search[3:]]
        elif search:
            pattern = re.compile(".*".join(re.escape(part) for part in search.split(" ")), re.I)
            articles = [a for a in articles if any(pattern.search(a[k] or "") for k in ("title", "alias", "note"))]
        ordering = request.query.get("list[ordering]", "a.id").removeprefix("a.")
        reverse = request.query.get("list[direction]", "ASC").upper() == "DESC"
        articles.sort(key=lambda a: (str(a.get(ordering, "")) if ordering != "id" else a["id"]), reverse=reverse)
        return self._list(request, articles, self.render_article)

    def get_article(self, request, article_id):
        article = self.articles.get(article_id)
        if article is None:
            raise JoomlaError(404, "Resource not found")
        return 200, self._doc(self.render_article(article)), {}

    def _check(self, data: dict, article: dict | None) -> dict:
        title = data.get("title", article["title"] if article else "")
        if isinstance(title, str) and "title" in data:
            title = strip_tags(title)  # a text field without a filter: InputFilter removes tags
        if not isinstance(title, str) or not title.strip():
            raise JoomlaError(400, "Field required: Title")
        if len(title) > 255:
            raise JoomlaError(400, "Invalid field:  Title")
        catid = data.get("catid", article["catid"] if article else None)
        try:
            catid = int(catid)
        except (TypeError, ValueError):
            raise JoomlaError(400, "Field required: Category") from None
        if catid not in self.categories:
            raise JoomlaError(400, "Invalid field:  Category")
        state = data.get("state", article["state"] if article else 1)
        if str(state) not in ("1", "0", "2", "-2"):
            raise JoomlaError(400, "Invalid field:  Status")
        alias = str(data.get("alias") or (article["alias"] if article else "") or slug(title)
                    or _now().strftime("%Y-%m-%d-%H-%M-%S"))
        for other in self.articles.values():
            same = article is not None and other["id"] == article["id"]
            if other["alias"] == alias and other["catid"] == catid and not same:
                raise JoomlaError(400, "Save failed with the following error: Another article from this category "
                                       "has the same alias (remember it may be a trashed item).")
        tags = data.get("tags", article["tags"] if article else [])
        if not isinstance(tags, list) or any(not str(t).isdigit() or int(t) not in self.tags for t in tags):
            raise JoomlaError(400, "Invalid field:  Tags")
        publish_up = data.get("publish_up", article["publish_up"] if article else None)
        if isinstance(publish_up, str):
            try:
                parsed = datetime.fromisoformat(publish_up)
            except ValueError:
                raise JoomlaError(400, "Invalid field:  Start Publishing") from None
            publish_up = parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)  # the user's zone: UTC
        images = data.get("images", article["images"] if article else {})
        if not isinstance(images, dict):
            raise JoomlaError(400, "Invalid field:  Images")
        note = str(data.get("note", article["note"] if article else "") or "")
        if len(note) > 255:
            raise JoomlaError(400, "Invalid field:  Note")
        # Only the form's fields survive Joomla's form filter: the text arrives as
        # ``articletext`` and is split at the read-more line; ``introtext``/``fulltext`` sent
        # directly are dropped.
        if "articletext" in data:
            parts = READMORE.split(str(data.get("articletext") or ""), maxsplit=1)
            introtext, fulltext = parts[0], (parts[1] if len(parts) > 1 else "")
        else:
            introtext, fulltext = (article["introtext"], article["fulltext"]) if article else ("", "")
        return {"title": title, "catid": catid, "state": int(state), "alias": alias,
                "tags": [int(t) for t in tags], "publish_up": publish_up, "images": images, "note": note,
                "introtext": introtext, "fulltext": fulltext,
                "featured": _int(data.get("featured", article["featured"] if article else 0), "Featured"),
                "access": _int(data.get("access", article["access"] if article else 1), "Access") or 1}

    def create_article(self, request):
        if not self._may(request, "create"):
            raise JoomlaError(403, "You are not allowed to create this item.")
        fields = self._check(request.json(), None)
        if fields["state"] != 0 and not self._may(request, "publish"):
            fields["state"] = 0  # Joomla keeps an author's article unpublished
        now = _now()
        article = {"id": self.next_id(), "created": now, "modified": now, "created_by": request.user["id"],
                   "hits": 0, "version": 1, **fields}
        if article["publish_up"] is None and article["state"] == 1:
            article["publish_up"] = now
        with self.lock:
            self.articles[article["id"]] = article
        return 200, self._doc(self.render_article(article)), {}

    def patch_article(self, request, article_id):
        article = self.articles.get(article_id)
        if article is None:
            raise JoomlaError(404, "Resource not found")
        data = request.json()
        if not self._may(request, "publish") and "state" in data:
            raise JoomlaError(403, "You are not allowed to edit the state of this item.")
        fields = self._check(data, article)
        article.update(fields, modified=_now(), version=article["version"] + 1)
        return 200, self._doc(self.render_article(article)), {}

    def delete_article(self, request, article_id):
        if not self._may(request, "delete"):
            raise JoomlaError(403, "You are not allowed to delete this item.")
        article = self.articles.get(article_id)
        if article is None:
            raise JoomlaError(404, "Resource not found")
        if article["state"] != -2:
            return 409, {"status": "Conflict", "code": 409,
                         "message": "Resource not in state that can be deleted, must be trashed before it can be "
                                    "deleted"}, {}
        del self.articles[article_id]
        return 204, None, {}

    def _render_category(self, category):
        return {"type": "categories", "id": str(category["id"]), "attributes": dict(category)}

    def list_categories(self, request):
        items = list(self.categories.values())
        search = request.query.get("filter[search]", "").strip().lower()
        if search:
            items = [c for c in items if search in c["title"].lower() or search in c["alias"]]
        return self._list(request, items, self._render_category)

    def get_category(self, request, category_id):
        category = self.categories.get(category_id)
        if category is None:
            raise JoomlaError(404, "Resource not found")
        return 200, self._doc(self._render_category(category)), {}

    def _render_tag(self, tag):
        return {"type": "tags", "id": str(tag["id"]), "attributes": dict(tag)}

    def list_tags(self, request):
        items = list(self.tags.values())
        search = request.query.get("filter[search]", "").strip().lower()
        if search:
            items = [t for t in items if search in t["title"].lower() or search in t["alias"]]
        return self._list(request, items, self._render_tag)

    def create_tag(self, request):
        if not self._may(request, "create_tags"):
            raise JoomlaError(403, "You are not allowed to create this item.")
        title = str(request.json().get("title") or "").strip()
        if not title:
            raise JoomlaError(400, "Field required: Title")
        if any(t["alias"] == slug(title) for t in self.tags.values()):
            raise JoomlaError(400, "Save failed with the following error: Another Tag has the same alias.")
        return 200, self._doc(self._render_tag(self.add_tag(title))), {}

    def upload_file(self, request):
        if not self.media_api:
            raise JoomlaError(404, "Resource not found")
        if not self._may(request, "upload"):
            raise JoomlaError(403, "You are not allowed to create this item.")
        data = request.json()
        path = str(data.get("path") or "")
        match = re.match(r"^(local-images):/([A-Za-z0-9._/-]+)$", path)
        if not match or ".." in path:
            raise JoomlaError(400, "Invalid path")
        try:
            content = base64.b64decode(str(data.get("content") or ""), validate=True)
        except ValueError:
            raise JoomlaError(400, "Invalid content") from None
        if not content:
            raise JoomlaError(400, "Invalid content")
        extension = path.rsplit(".", 1)[-1].lower()
        if extension not in ("jpg", "jpeg", "png", "gif", "webp", "avif"):
            raise JoomlaError(400, "Unsupported file extension")
        if path in self.files and not data.get("override"):
            raise JoomlaError(409, "File exists")
        name = path.rsplit("/", 1)[-1]
        info = {"type": "file", "name": name, "path": path, "extension": extension, "size": len(content),
                "mime_type": f"image/{'jpeg' if extension == 'jpg' else extension}",
                "url": f"{self.base_url}/images/{match.group(2)}"}
        with self.lock:
            self.files[path] = {**info, "content": content}
        return 200, {"data": {"type": "media", "id": path, "attributes": info}}, {}


ROUTES = [(m, re.compile(p), n) for m, p, n in [
    ("GET", r"^/config/application/?$", "config_application"),
    ("GET", r"^/content/articles/?$", "list_articles"),
    ("POST", r"^/content/articles/?$", "create_article"),
    ("GET", r"^/content/articles/(?P<article_id>\d+)/?$", "get_article"),
    ("PATCH", r"^/content/articles/(?P<article_id>\d+)/?$", "patch_article"),
    ("DELETE", r"^/content/articles/(?P<article_id>\d+)/?$", "delete_article"),
    ("GET", r"^/content/categories/?$", "list_categories"),
    ("GET", r"^/content/categories/(?P<category_id>\d+)/?$", "get_category"),
    ("GET", r"^/tags/?$", "list_tags"),
    ("POST", r"^/tags/?$", "create_tag"),
    ("POST", r"^/media/files/?$", "upload_file"),
]]


class _Handler(server.FakeHandler):
    server_version = "Apache/2.4.62 (Debian)"
    content_type = "application/vnd.api+json; charset=utf-8"

    def do_PATCH(self):
        self._handle("PATCH")

    def _handle(self, method: str) -> None:
        fake: FakeJoomla = self.server.fake  # type: ignore[attr-defined]
        parts, headers, body = self.read_request()
        if not parts.path.startswith(API):
            return self._send(None, 404, None, {}, raw=b"<html><body>404 Article not found</body></html>",
                              content_type="text/html; charset=utf-8")
        path = parts.path[len(API):] or "/"
        request = Request(method, path, dict(parse_qsl(parts.query, keep_blank_values=True)), headers, body)
        with fake.lock:
            fake.requests.append(request)
        fault = fake._take_fault(method, path)
        delay = fake.latency + (fault.seconds if fault and fault.kind == "latency" else 0.0)
        if delay:
            fake._stopping.wait(delay)
        if fault and not fault.after:
            if fault.kind == "rate_limit":
                extra = {"x-ratelimit-limit": "60", "x-ratelimit-remaining": "0",
                         "x-ratelimit-reset": str(int(time.time() + fault.reset_in))}
                if fault.retry_after is not None:
                    extra["retry-after"] = str(int(fault.retry_after))
                return self._send(request, 429, {"errors": [{"title": "Too Many Requests", "code": 429}]}, extra)
            if fault.kind == "unauthorized":
                return self._send(request, 401, JoomlaError(401, "Forbidden").body(), {})
            if fault.kind in ("status", "malformed"):
                extra = {"retry-after": str(int(fault.retry_after))} if fault.retry_after is not None else {}
                return self._send(request, fault.status, None, extra, raw=(fault.body or "").encode())
            if fault.kind == "lost":
                fake._stopping.wait(fault.seconds)
                self.close_connection = True
                request.status = -1
                return None
        try:
            with fake.lock:
                request.user = fake.authenticate(request)
                status, payload, extra = fake.dispatch(request)
        except JoomlaError as error:
            status, payload, extra = error.status, error.body(), {}
        if fault and fault.after:
            if fault.kind == "hang":
                fake._stopping.wait(fault.seconds)
            elif fault.kind == "drop":
                self.close_connection = True
                request.status = -1
                return None
            elif fault.kind in ("status", "malformed"):
                return self._send(request, fault.status, None, extra, raw=(fault.body or "").encode())
            elif fault.kind == "warning":
                return self._send(request, status, None, extra, raw=PHP_NOTICE.encode() + json.dumps(payload).encode())
        if status == 204:
            return self._send(request, 204, None, extra, raw=b"")
        return self._send(request, status, payload, extra)


FakeJoomla.handler_class = _Handler

__all__ = ["API", "FakeJoomla", "Fault", "JoomlaError"]
