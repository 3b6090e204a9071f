"""WordPress blogs through the REST API (developer.wordpress.org/rest-api), signed in with an
application password (WordPress 5.6+: Users → Profile → Application Passwords).

The account: ``base_url`` is the site (``https://blog.example.com``, typed in by the CM, so it
goes through the shared HTTP client's SSRF guard and must be https), ``handle`` is the
WordPress user name and ``credentials.access_token`` the application password (encrypted at
rest like every secret). The password travels only in the ``Authorization: Basic`` header:
never in a URL, a log line, an error text or a rate-limit key.

How a social post becomes a blog post:

- the title is the text's first line (cut at a word near 200 characters), the body is the
  rest. The body is our own HTML from plain text: every character escaped, a paragraph per
  blank-line-separated block, ``<br>`` for single line breaks, http(s) links made clickable,
  each paragraph wrapped in block-editor comments so it stays editable as blocks;
- ``#hashtags`` become tags (looked up by name, created when missing if the user may; left
  out when not), and ``categories`` (by name) must exist: an unknown one is a clear error;
- the first image is uploaded to the media library with its alt text and becomes the featured
  image; further images are added to the body as image blocks;
- ``post_status`` is the account's choice: ``publish`` (default) or ``draft`` (the CM finishes
  the post in WordPress). A followers-only post becomes ``private``.

Reconciliation after an ambiguous create: the user's own posts created since the attempt
(``context=edit``, any status) are compared by title and by the raw content we generated,
which WordPress keeps as sent.

A PHP warning printed before the JSON (common on shared hosting) does not break a call: the
JSON after it is read. Sites without pretty permalinks (``/?rest_route=``) are not handled.
"""

from __future__ import annotations

import base64
import html
import json
import logging
import re
from collections.abc import Sequence
from datetime import datetime, timedelta, timezone
from typing import Any
from urllib.parse import urlsplit

from django.utils.functional import lazy
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
from ..errors import Ambiguous, AuthExpired, ConnectorError, Permanent, Retryable
from ..http import MSG_MALFORMED, ApiResponse, clean_text, parse_time, require_https_site, safe_url
from ..mastodon.html import html_to_text

log = logging.getLogger(__name__)

API = "/wp-json/wp/v2"
PAGE = 100
STATUSES = ("publish", "draft")
IMAGE_TYPES = frozenset({"image/jpeg", "image/png", "image/gif", "image/webp", "image/avif"})
MAX_TITLE = 200

_URL = re.compile(r"https?://[^\s<>\"']+[^\s<>\"'.,;:!?)\]]")
_HASHTAG = re.compile(r"(?<![\w/#&])#(\w{1,100})")
_SAFE_ID = re.compile(r"^\d{1,19}$")
_NUMBER_SEGMENT = re.compile(r"/\d+")

MSG_EMPTY = _("A blog post needs some text.")
MSG_HTTPS = _("The WordPress site address must start with https://.")
MSG_NO_USER = _("Enter the WordPress user name and an application password for this site.")
MSG_AUTH = _("WordPress did not accept the user name and application password. Create a new "
             "application password in your WordPress profile (Users → Profile → Application Passwords) "
             "and enter it in the account settings.")
MSG_FORBIDDEN = _("Your WordPress user is not allowed to do this. Ask the site's administrator for the "
                  "Author or Editor role, or publish as a draft.")
MSG_REFUSED = _("WordPress refused this: %(reason)s")
MSG_NO_CATEGORY = _("The category \"%(name)s\" does not exist on the blog. Create it in WordPress or "
                    "remove it from the post.")
MSG_BAD_ID = _("That id is not valid for WordPress.")
MSG_BAD_STATUS = _("A WordPress post is published or saved as a draft.")
MSG_VISIBILITY = _("WordPress posts are public or private; this visibility has no equivalent.")
MSG_MEDIA_TYPE = _("WordPress featured images must be JPEG, PNG, GIF, WebP or AVIF images.")
MSG_UNREADABLE = _("WordPress accepted the post but its answer could not be read. We will check the blog "
                   "before trying again.")
MSG_NOT_WORDPRESS = _("This address does not answer like a WordPress site. Check the site address.")


def _fill_now(message, params) -> str:
    return str(message) % params


fill = lazy(lambda message, params: _fill_now(message, params), str)


def normalize_site_url(value: str) -> str:
    """``blog.example.com/`` or ``https://blog.example.com/wp-json`` -> ``https://blog.example.com``."""
    value = (value or "").strip().rstrip("/")
    if value and "://" not in value:
        value = "https://" + value
    for suffix in ("/wp-json/wp/v2", "/wp-json", "/wp-admin", "/wp-login.php"):
        if value.endswith(suffix):
            value = value[: -len(suffix)]
    return value.rstrip("/")



def _gmt(value: datetime) -> str:
    return value.astimezone(timezone.utc).replace(tzinfo=None, microsecond=0).isoformat()


def lenient_json(text: str) -> tuple[Any, bool]:
    """The JSON in a body, skipping anything PHP printed before it (notices, warnings, a BOM).
    Returns (data, found)."""
    text = (text or "").lstrip("\ufeff")
    try:
        return json.loads(text), True
    except (ValueError, RecursionError):
        pass
    decoder = json.JSONDecoder()
    for match in re.finditer(r"[\[{]", text[:20000]):
        try:
            data, end = decoder.raw_decode(text, match.start())
        except (ValueError, RecursionError):
            continue
        if isinstance(data, (dict, list)) and not text[end:].strip():
            return data, True
    return None, False


def title_and_body(text: str) -> tuple[str, str]:
    """The first non-empty line is the title; the rest is the body."""
    lines = (text or "").strip().split("\n")
    title, rest = lines[0].strip(), "\n".join(lines[1:]).strip()
    title = title.lstrip("#").strip() or title
    if len(title) > MAX_TITLE:
        cut = title[:MAX_TITLE].rsplit(" ", 1)[0] or title[:MAX_TITLE]
        rest = (title[len(cut):].strip() + ("\n\n" + rest if rest else "")).strip()
        title = cut.rstrip() + "…"
    return title, rest


def _linkify(line: str) -> str:
    out, last = [], 0
    for match in _URL.finditer(line):
        out.append(html.escape(line[last:match.start()]))
        url = match.group(0)
        out.append(f'<a href="{html.escape(url)}">{html.escape(url)}</a>')
        last = match.end()
    out.append(html.escape(line[last:]))
    return "".join(out)


def text_to_html(text: str) -> str:
    """Plain text to block-editor paragraphs: escaped, linked, one block per paragraph."""
    blocks = []
    for paragraph in re.split(r"\n\s*\n", (text or "").strip()):
        if not paragraph.strip():
            continue
        inner = "<br>".join(_linkify(line.strip()) for line in paragraph.strip().split("\n"))
        blocks.append(f"<!-- wp:paragraph -->\n<p>{inner}</p>\n<!-- /wp:paragraph -->")
    return "\n\n".join(blocks)


def image_block(media: dict) -> str:
    media_id = int(media["id"])
    url = html.escape(str(media.get("source_url") or ""), quote=True)
    alt = html.escape(str(media.get("alt_text") or ""), quote=True)
    return (f'<!-- wp:image {{"id":{media_id}}} -->\n<figure class="wp-block-image">'
            f'<img src="{url}" alt="{alt}" class="wp-image-{media_id}"/></figure>\n<!-- /wp:image -->')


def hashtags(text: str) -> list[str]:
    seen: dict[str, str] = {}
    for match in _HASHTAG.finditer(text or ""):
        seen.setdefault(match.group(1).lower(), match.group(1))
    return list(seen.values())


def _match(value: str) -> str:
    return " ".join(html.unescape(value or "").split())


class WordPressConnector(Connector):
    network = "wordpress"  # Network.WORDPRESS
    thread_ids_widen = False  # thread_ids narrow the site-wide comment listing to those posts
    supports_search = False
    supports_refresh = False  # application passwords last until revoked

    def __init__(self, *, username: str = "", post_status: str = "publish", categories: Sequence[str] = (),
                 create_tags: bool = True, interaction_pages: int = 5, **kwargs):
        kwargs["base_url"] = normalize_site_url(kwargs.get("base_url", ""))
        super().__init__(**kwargs)
        if post_status not in STATUSES:
            raise Permanent(MSG_BAD_STATUS, detail=str(post_status)[:20])
        self.username = (username or "").strip().lstrip("@")
        self.post_status = post_status
        self.categories = tuple(categories)
        self.create_tags = create_tags
        self.interaction_pages = interaction_pages
        # Basic auth, not Bearer: every request goes through ``request`` with auth=False and
        # its own Authorization header.
        self._me: dict[str, Any] | None = None
        self._term_cache: dict[tuple[str, str], int] = {}

    @classmethod
    def for_account(cls, account, **kwargs) -> WordPressConnector:
        kwargs.setdefault("username", account.handle or "")
        options = account.options or {}
        kwargs.setdefault("post_status", options.get("post_status") or "publish")
        kwargs.setdefault("categories", tuple(options.get("categories") or ()))
        return super().for_account(account, **kwargs)

    # -- the REST call ---------------------------------------------------------------------

    def _auth_header(self) -> dict[str, str]:
        password = self.credentials.access_token
        if not self.username or not password:
            raise AuthExpired(MSG_NO_USER)
        # WordPress shows application passwords in groups of four ("abcd efgh ..."); the
        # spaces are optional when signing in.
        raw = f"{self.username}:{password}".encode()
        return {"Authorization": "Basic " + base64.b64encode(raw).decode()}

    def request(self, method: str, path: str, *, params: Any = None, json_body: Any = None,
                files: Any = None, data: Any = None, auth: bool = True, accept=(),
                bucket: str | None = None) -> ApiResponse:
        """One REST call. Parses the JSON itself (after any PHP noise) and maps WordPress's
        ``{"code", "message", "data": {"status"}}`` errors to our vocabulary."""
        require_https_site(self.base_url, self.http.config, MSG_HTTPS)
        headers = self._auth_header() if auth else {}
        unsafe = method.upper() not in ("GET", "HEAD", "DELETE")
        bucket = bucket or f"{method.upper()} {_NUMBER_SEGMENT.sub('/:id', path)}"
        try:
            response = self.http.request(method, path, params=params, json_body=json_body, files=files, data=data,
                                         headers=headers, bucket=bucket, expect_json=False, auth=False,
                                         accept=set(accept) | {400, 401, 403, 404, 409, 410})
        except ConnectorError as exc:
            self._scrub(exc)
            if exc.status == 401:
                raise AuthExpired(MSG_AUTH, detail=exc.detail, status=401) from exc
            raise
        data_out, found = lenient_json(response.text)
        response.data = data_out
        if response.status >= 400 and response.status not in accept:
            if not found and response.status not in (401, 403):
                raise Permanent(MSG_NOT_WORDPRESS, status=response.status,
                                detail=f"{response.status}: not JSON: {clean_text(response.text, 200)}")
            raise self._error(response.status, data_out if isinstance(data_out, dict) else {})
        if not found and 200 <= response.status < 300 and response.status != 204:
            detail = f"{response.status}: not JSON: {clean_text(response.text, 200)}"
            if unsafe:
                raise Ambiguous(MSG_UNREADABLE, detail=detail, status=response.status)
            raise Retryable(MSG_MALFORMED, detail=detail, status=response.status)
        return response

    def _scrub(self, exc: ConnectorError) -> None:
        password = self.credentials.access_token
        if password and password in exc.detail:
            exc.detail = exc.detail.replace(password, "<redacted>")

    def _error(self, status: int, data: dict) -> ConnectorError:
        code = clean_text(str(data.get("code") or ""), 100)
        message = clean_text(html.unescape(str(data.get("message") or "")), 500)
        detail = f"{code}: {message}" if code else message or str(status)
        if status == 401:
            return AuthExpired(MSG_AUTH, detail=detail, status=status)
        if status == 403:
            return Permanent(MSG_FORBIDDEN, detail=detail, status=status)
        return Permanent(fill(MSG_REFUSED, {"reason": message or code or str(status)}), detail=detail,
                         status=status)

    def get(self, path: str, **kw) -> ApiResponse:
        return self.request("GET", path, **kw)

    def post(self, path: str, **kw) -> ApiResponse:
        return self.request("POST", path, **kw)

    @staticmethod
    def _expect(response: ApiResponse, kind: type) -> Any:
        if not isinstance(response.data, kind):
            raise Retryable(MSG_MALFORMED, detail=f"expected a JSON {kind.__name__}", status=response.status)
        return response.data

    @staticmethod
    def _id(value: Any) -> str:
        value = str(value or "")
        if not _SAFE_ID.match(value):
            raise Permanent(MSG_BAD_ID, detail=f"id {value[:40]!r}")
        return value

    # -- identity --------------------------------------------------------------------------

    def _user(self) -> dict[str, Any]:
        if self._me is None:
            me = self._expect(self.get(f"{API}/users/me", params={"context": "edit"}), dict)
            if not isinstance(me.get("id"), int):
                raise Retryable(MSG_MALFORMED, detail="users/me without an id")
            self._me = me
            self.account_id = str(me["id"])
        return self._me

    def fetch_profile(self) -> Profile:
        me = self._user()
        index = self.get("/wp-json/", auth=False, accept={404})
        if index.status == 404 or not isinstance(index.data, dict):
            raise Permanent(MSG_NOT_WORDPRESS, detail=f"/wp-json/ answered {index.status}")
        site = index.data
        posts = self.get(f"{API}/posts", params={"per_page": 1, "_fields": "id"})
        return Profile(
            external_id=str(me["id"]),
            handle=clean_text(str(me.get("username") or me.get("slug") or self.username), 100),
            display_name=clean_text(html.unescape(str(site.get("name") or "")), 200),
            url=safe_url(site.get("home") or site.get("url") or self.base_url, 500),
            bio=clean_text(html.unescape(str(site.get("description") or "")), 2000),
            posts=self._as_int(posts.headers.get("x-wp-total")),
            fields={"author": clean_text(str(me.get("name") or ""), 200)},
        )

    def limits(self) -> Limits:
        return Limits(max_characters=1_000_000, counting="codepoints", max_media=20,
                      media_types=IMAGE_TYPES, content_warnings=False,
                      visibilities=frozenset({Visibility.PUBLIC, Visibility.FOLLOWERS}), threads=False)

    # -- terms -----------------------------------------------------------------------------

    def _find_term(self, taxonomy: str, name: str) -> int | None:
        key = (taxonomy, name.lower())
        if key in self._term_cache:
            return self._term_cache[key]
        found = self._expect(self.get(f"{API}/{taxonomy}", params={"search": name, "per_page": PAGE,
                                                                     "_fields": "id,name,slug"}), list)
        for term in found:
            if isinstance(term, dict) and isinstance(term.get("id"), int) and (
                    _match(str(term.get("name", ""))).lower() == name.lower()
                    or str(term.get("slug", "")).lower() == name.lower()):
                self._term_cache[key] = term["id"]
                return term["id"]
        return None

    def category_ids(self, names: Sequence[str]) -> list[int]:
        ids = []
        for name in names:
            name = " ".join(str(name).split())
            if not name:
                continue
            term = self._find_term("categories", name)
            if term is None:
                raise Permanent(fill(MSG_NO_CATEGORY, {"name": name[:100]}), detail=f"category {name[:100]!r}")
            ids.append(term)
        return ids

    def tag_ids(self, names: Sequence[str]) -> list[int]:
        ids = []
        for name in names:
            term = self._find_term("tags", name)
            if term is None and self.create_tags:
                response = self.post(f"{API}/tags", json_body={"name": name}, accept={400, 403})
                data = response.data if isinstance(response.data, dict) else {}
                if response.status in (200, 201) and isinstance(data.get("id"), int):
                    term = data["id"]
                elif data.get("code") == "term_exists":  # created meanwhile
                    term = self._as_int((data.get("data") or {}).get("term_id"))
                else:  # the user may not create tags: publish without this one
                    log.info("wordpress: tag %r not created (%s)", name, data.get("code"))
            if term is not None:
                self._term_cache[("tags", name.lower())] = term
                ids.append(term)
        return ids

    # -- publishing ------------------------------------------------------------------------

    def upload(self, item: MediaItem) -> dict[str, Any]:
        if item.mime_type not in IMAGE_TYPES:
            raise Permanent(MSG_MEDIA_TYPE, detail=item.mime_type[:80])
        form = {"alt_text": item.alt_text} if item.alt_text else None
        media = self._expect(self.post(f"{API}/media", files={"file": (item.filename, item.read(), item.mime_type)},
                                       data=form), dict)
        if not isinstance(media.get("id"), int):
            raise Retryable(MSG_MALFORMED, detail="media without an id")
        return media

    def build(self, payload: PostPayload, *, title: str | None = None, status: str | None = None,
              categories: Sequence[str] | None = None) -> tuple[dict[str, Any], list[MediaItem]]:
        """The post's fields (without media) and the images to upload."""
        text = payload.text or ""
        if not text.strip():
            raise Permanent(MSG_EMPTY)
        status = status or self.post_status
        if status not in STATUSES:
            raise Permanent(MSG_BAD_STATUS, detail=str(status)[:20])
        if payload.visibility == Visibility.FOLLOWERS:
            status = "private" if status == "publish" else status
        elif payload.visibility != Visibility.PUBLIC:
            raise Permanent(MSG_VISIBILITY, detail=str(payload.visibility)[:40])
        if title is None:
            title, body = title_and_body(text)
        else:
            body = text
        images = [m for m in payload.media if m.mime_type in IMAGE_TYPES]
        for item in payload.media:
            if item.mime_type not in IMAGE_TYPES:
                raise Permanent(MSG_MEDIA_TYPE, detail=item.mime_type[:80])
        fields = {"title": html.escape(title, quote=False), "content": text_to_html(body), "status": status}
        return fields, images

    def publish(self, payload: PostPayload, *, title: str | None = None, status: str | None = None,
                categories: Sequence[str] | None = None, tags: Sequence[str] | None = None) -> PublishedRef:
        fields, images = self.build(payload, title=title, status=status)
        names = self.categories if categories is None else categories
        fields["categories"] = self.category_ids(names) if names else []
        fields["tags"] = self.tag_ids(hashtags(payload.text) if tags is None else list(tags))
        if not fields["categories"]:
            del fields["categories"]
        if images:
            uploaded = [self.upload(item) for item in images]
            fields["featured_media"] = uploaded[0]["id"]
            extra = "\n\n".join(image_block(m) for m in uploaded[1:])
            if extra:
                fields["content"] = (fields["content"] + "\n\n" + extra).strip()
        response = self.post(f"{API}/posts", json_body=fields, bucket="POST /wp-json/wp/v2/posts")
        post = response.data
        if not isinstance(post, dict) or not isinstance(post.get("id"), int):
            raise Ambiguous(MSG_UNREADABLE, detail=clean_text(response.text, 300), status=response.status)
        return self._ref(post)

    def _ref(self, post: dict) -> PublishedRef:
        return PublishedRef(external_id=str(post["id"]), url=safe_url(post.get("link"), 500),
                            published_at=parse_time(post.get("date_gmt")))

    def find_published(self, payload: PostPayload, *, since: datetime) -> PublishedRef | None:
        fields, _images = self.build(payload)
        me = self._user()
        after = _gmt(since - timedelta(minutes=2))
        page = 1
        while page <= 5:
            response = self.get(f"{API}/posts", params={
                "author": me["id"], "context": "edit", "per_page": PAGE, "page": page, "orderby": "date",
                "order": "desc", "status": "publish,future,draft,pending,private", "modified_after": after})
            posts = self._expect(response, list)
            for post in posts:
                if not isinstance(post, dict) or not isinstance(post.get("id"), int):
                    continue
                created = parse_time(post.get("date_gmt")) or parse_time(post.get("modified_gmt"))
                if created and created < since - timedelta(minutes=2):
                    continue
                title = post.get("title") if isinstance(post.get("title"), dict) else {}
                content = post.get("content") if isinstance(post.get("content"), dict) else {}
                if _match(str(title.get("raw", ""))) == _match(fields["title"]) and \
                        str(content.get("raw", "")).startswith(fields["content"]):
                    return self._ref(post)
            pages = self._as_int(response.headers.get("x-wp-totalpages")) or 1
            if page >= pages:
                break
            page += 1
        return None

    def delete(self, external_id: str) -> bool:
        post_id = self._id(external_id)
        response = self.request("DELETE", f"{API}/posts/{post_id}", params={"force": "true"}, accept={404, 410})
        return response.status not in (404, 410)

    # -- metrics and inbox -----------------------------------------------------------------

    def fetch_post_metrics(self, external_ids: Sequence[str]) -> dict[str, PostMetrics]:
        """WordPress counts comments, nothing else (visits come from our short links)."""
        ids = [self._id(i) for i in external_ids]
        out: dict[str, PostMetrics] = {}
        for post_id in ids:
            exists = self.get(f"{API}/posts/{post_id}", params={"context": "edit", "_fields": "id"}, accept={404})
            if exists.status == 404:
                out[post_id] = PostMetrics(post_id, exists=False)
                continue
            comments = self.get(f"{API}/comments", params={"post": post_id, "per_page": 1, "_fields": "id"})
            out[post_id] = PostMetrics(post_id, comments=self._as_int(comments.headers.get("x-wp-total")))
        return out

    def fetch_interactions(self, since: datetime | None = None, *, cursor: str = "",
                           thread_ids: Sequence[str] = ()) -> InteractionBatch:
        """Comments on the blog (approved ones, and those waiting for moderation when the user
        may see them), oldest first. ``cursor`` remembers the newest comment handed out."""
        me = self._user()
        try:
            state = json.loads(cursor) if cursor else {}
            last_id = int(state.get("id", 0)) if isinstance(state, dict) else 0
            floor = parse_time(state.get("t")) if isinstance(state, dict) else None
        except (ValueError, TypeError):
            last_id, floor = 0, None
        floor = floor or since
        base: dict[str, Any] = {"per_page": PAGE, "orderby": "date_gmt", "order": "asc",
                                "author_exclude": me["id"]}
        if thread_ids:
            base["post"] = ",".join(self._id(t) for t in thread_ids)
        if floor:
            base["after"] = _gmt(floor - timedelta(seconds=1))
        found: dict[int, dict] = {}
        for status in ("approve", "hold"):
            params = {**base, "status": status}
            if status == "hold":
                params["context"] = "edit"
            for page in range(1, self.interaction_pages + 1):
                response = self.get(f"{API}/comments", params={**params, "page": page}, accept={400, 401, 403})
                if response.status in (400, 401, 403):
                    break  # moderation queue: only for users who may moderate
                batch = self._expect(response, list)
                for comment in batch:
                    if isinstance(comment, dict) and isinstance(comment.get("id"), int) and comment["id"] > last_id:
                        found[comment["id"]] = comment
                if page >= (self._as_int(response.headers.get("x-wp-totalpages")) or 1):
                    break
        items = [self._interaction(c) for c in sorted(found.values(), key=lambda c: (c.get("date_gmt") or "", c["id"]))]
        newest = max(found) if found else last_id
        newest_time = max((i.post.created_at for i in items if i.post.created_at), default=floor)
        state = {"id": newest, "t": newest_time.isoformat() if newest_time else ""}
        return InteractionBatch(items=items, cursor=json.dumps(state))

    def _interaction(self, comment: dict) -> Interaction:
        content = comment.get("content") if isinstance(comment.get("content"), dict) else {}
        rendered = str(content.get("rendered") or content.get("raw") or "")
        avatars = comment.get("author_avatar_urls") if isinstance(comment.get("author_avatar_urls"), dict) else {}
        avatar = str(avatars.get("48") or "")
        url = str(comment.get("author_url") or "")
        post_id = str(comment.get("post") or "")
        parent = str(comment.get("parent") or "")
        post = NetworkPost(
            external_id=str(comment["id"]),
            author=Author(external_id=str(comment.get("author") or ""),
                          handle=clean_text(html.unescape(str(comment.get("author_name") or "")), 200),
                          display_name=clean_text(html.unescape(str(comment.get("author_name") or "")), 200),
                          url=url[:500] if urlsplit(url).scheme in ("http", "https") else "",
                          avatar_url=avatar[:500] if urlsplit(avatar).scheme in ("http", "https") else ""),
            text=html_to_text(rendered),
            created_at=parse_time(comment.get("date_gmt")),
            url=safe_url(comment.get("link"), 500),
            html=rendered,
            in_reply_to=parent if parent and parent != "0" else post_id,
            visibility=clean_text(str(comment.get("status") or ""), 20),
        )
        return Interaction(InteractionKind.COMMENT, post, on_post=post_id)

    def reply(self, to_external_id: str, text: str, *, marker: str = "") -> PublishedRef:
        """Answer a comment (``to_external_id`` is the comment's id) as the signed-in user."""
        if not (text or "").strip():
            raise Permanent(MSG_EMPTY)
        comment_id = self._id(to_external_id)
        parent = self._expect(self.get(f"{API}/comments/{comment_id}", params={"context": "edit"}), dict)
        post_id = parent.get("post")
        if not isinstance(post_id, int):
            raise Retryable(MSG_MALFORMED, detail="comment without a post")
        body = {"post": post_id, "parent": int(comment_id), "content": text_to_html(text)}
        response = self.post(f"{API}/comments", json_body=body)
        created = response.data
        if not isinstance(created, dict) or not isinstance(created.get("id"), int):
            raise Ambiguous(MSG_UNREADABLE, detail=clean_text(response.text, 300), status=response.status)
        return PublishedRef(external_id=str(created["id"]), url=safe_url(created.get("link"), 500),
                            published_at=parse_time(created.get("date_gmt")))


__all__ = ["WordPressConnector", "hashtags", "lenient_json", "normalize_site_url", "text_to_html",
           "title_and_body"]
