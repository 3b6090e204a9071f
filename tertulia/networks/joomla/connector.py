"""Joomla 4 and 5 sites through the Web Services API (``/api/index.php/v1``, JSON:API),
signed in with a Joomla API token (User profile → "Joomla API Token").

The account: ``base_url`` is the site (``https://www.example.com``, typed in by the CM, so it
goes through the shared HTTP client's SSRF guard and must be https), ``credentials.access_token``
the API token (encrypted at rest like every secret). The token travels only in the
``X-Joomla-Token`` header: never in a URL, a log line, an error text or a rate-limit key. A
Joomla token is ``base64("sha256:<user id>:<hmac>")``, so the user id is known without asking
(``token_user_id``), which is the account's ``external_id``.

How a post becomes an article:

- the title is the text's first line (cut at a word near 200 characters; Joomla allows 255),
  the rest is the body. The body is our own HTML from plain text: every character escaped, a
  paragraph per blank-line-separated block, ``<br>`` for single line breaks, http(s) links made
  clickable. The first paragraph is the intro text (what blog and category lists show), the
  others the full text after "Read more": sent as the article form's ``articletext`` with
  Joomla's read-more line between them (the API drops ``introtext``/``fulltext`` sent directly,
  since only the form's fields pass its filter);
- ``alias`` is the title's slug; when the category already has it (trashed articles count),
  the create is repeated once with a short suffix from the idempotency marker;
- the category is the account's choice (a name or an id), looked up in
  ``/content/categories``: an unknown one is a clear error, never a silent "Uncategorised";
- ``#hashtags`` become tags (``/tags``), created when missing if the user may create tags;
  left out when not (Joomla's ACL decides, and core never auto-creates them through the API);
- the first image is uploaded with the Media API (``/media/files``, Joomla 4.1+ with the
  "Web Services - Media" plugin) into ``images/`` as ``tertulia-…`` and becomes the intro and full
  article image with its alt text; further images are appended to the body as figures. A
  site without the Media API refuses the post with words that say which plugin to enable
  (never a post quietly published without its image);
- ``state`` is the account's choice: published (1, default) or unpublished (0, to finish in
  Joomla); ``featured`` likewise; a followers-only post is published with access level
  "Registered" (2): only signed-in visitors of the site see it;
- ``publish_up`` (``publish(..., publish_up=…)``) lets the site itself publish the article
  later. It is sent with an explicit UTC offset, because Joomla reads an offset-less date in
  the API user's own time zone;
- the idempotency marker goes into the article's ``note`` (an admin-only field, 255
  characters, searched by ``filter[search]``) so that a create that timed out is found by
  ``find_published`` instead of posted twice.

Metrics: Joomla counts ``hits`` (page views of the article, including bots and repeat
visits, not unique people) and nothing else: they are reported as ``impressions``. Joomla
core has no comments, so there are no interactions and the inbox does not poll Joomla
accounts (``capabilities.INTERACTION_KINDS`` is empty).
"""

from __future__ import annotations

import base64
import binascii
import html
import logging
import re
import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta, timezone
from typing import Any
from urllib.parse import urlsplit

from django.utils.text import slugify
from django.utils.translation import gettext_lazy as _

from ..base import (Connector, InteractionBatch, Limits, MediaItem, PostMetrics, PostPayload, Profile, PublishedRef,
                    Visibility)
from ..errors import Ambiguous, AuthExpired, ConnectorError, Permanent, Retryable, Unsupported, fill
from ..http import MSG_MALFORMED, ApiResponse, clean_text, parse_time, require_https_site
from ..wordpress.connector import hashtags, lenient_json, title_and_body

log = logging.getLogger(__name__)

API = "/api/index.php/v1"
PAGE = 100
STATES = {"published": 1, "unpublished": 0}
IMAGE_TYPES = frozenset({"image/jpeg", "image/png", "image/gif", "image/webp"})
EXTENSIONS = {"image/jpeg": "jpg", "image/png": "png", "image/gif": "gif", "image/webp": "webp"}
MAX_IMAGE_BYTES = 10 * 1024 * 1024  # Joomla's default "Maximum Size (in MB)" for uploads
MAX_ALIAS = 180
MAX_TAGS = 20
NOTE_PREFIX = "Tertulia "
ACCESS_PUBLIC, ACCESS_REGISTERED = 1, 2
MEDIA_PREFIX = "tertulia"
# Joomla's "Read more" line: the article form's ``articletext`` is split there into the
# ``introtext`` (blog and category lists) and the ``fulltext`` (the article page).
READMORE = '<hr id="system-readmore">'

_URL = re.compile(r"https?://[^\s<>\"']+[^\s<>\"'.,;:!?)\]]")
_SAFE_ID = re.compile(r"^\d{1,19}$")
_NUMBER_SEGMENT = re.compile(r"/\d+")
_SAFE_NAME = re.compile(r"[^a-z0-9_-]+")

MSG_EMPTY = _("A Joomla article needs some text.")
MSG_HTTPS = _("The Joomla site address must start with https://.")
MSG_NO_TOKEN = _("Enter a Joomla API token for this site.")
MSG_AUTH = _("The Joomla site no longer accepts Tertulia: the API token was revoked or the user lost the "
             "permission to use the API (a Super User, or a group with the \"Web Services Login\" permission). "
             "Create a new token in the user's profile (Joomla API Token tab) and reconnect the account.")
MSG_REFUSED = _("Joomla refused this: %(reason)s")
MSG_NO_CATEGORY = _("The category \"%(name)s\" does not exist on the Joomla site. Create it in Joomla "
                    "(Content → Categories) or choose another one in the account settings.")
MSG_CHOOSE_CATEGORY = _("Choose the Joomla category articles are published in, in the account settings.")
MSG_BAD_ID = _("That id is not valid for Joomla.")
MSG_BAD_STATE = _("A Joomla article is published or saved unpublished.")
MSG_VISIBILITY = _("Joomla articles are public or for registered users; this visibility has no equivalent.")
MSG_MEDIA_TYPE = _("Joomla article images must be JPEG, PNG, GIF or WebP images.")
MSG_MEDIA_SIZE = _("This image is larger than the 10 MB Joomla accepts by default.")
MSG_NO_MEDIA_API = _("This Joomla site does not accept images through its API. Joomla 4.1 or later with the "
                     "\"Web Services - Media\" plugin enabled is needed; enable it, or publish without an image.")
MSG_UNREADABLE = _("Joomla accepted the article but its answer could not be read. We will check the site "
                   "before trying again.")
MSG_NOT_JOOMLA = _("This address does not answer like a Joomla 4 or 5 site with its Web Services API on. "
                   "Check the site address, and that the \"Web Services - Content\" plugin is enabled.")
MSG_NO_REPLIES = _("Joomla has no comments, so there is nothing to answer.")


def normalize_site_url(value: str) -> str:
    """``www.example.com/`` or ``https://www.example.com/administrator`` -> ``https://www.example.com``."""
    value = (value or "").strip().rstrip("/")
    if value and "://" not in value:
        value = "https://" + value
    for suffix in ("/api/index.php/v1", "/api/index.php", "/api", "/administrator/index.php", "/administrator",
                   "/index.php"):
        if value.endswith(suffix):
            value = value[: -len(suffix)]
    return value.rstrip("/")


def token_user_id(token: str) -> str:
    """The Joomla user id inside an API token (``sha256:<id>:<hmac>``, base64), or ``""``."""
    try:
        decoded = base64.b64decode((token or "").strip(), validate=True).decode("ascii")
    except (binascii.Error, ValueError, UnicodeDecodeError):
        return ""
    parts = decoded.split(":")
    if len(parts) == 3 and parts[0] in ("sha256", "sha512") and _SAFE_ID.match(parts[1]):
        return parts[1]
    return ""


def _linkify(line: str) -> str:
    out, last = [], 0
    for match in _URL.finditer(line):
        out.append(html.escape(line[last:match.start()]))
        url = html.escape(match.group(0))
        out.append(f'<a href="{url}">{url}</a>')
        last = match.end()
    out.append(html.escape(line[last:]))
    return "".join(out)


def paragraphs(text: str) -> list[str]:
    """Plain text to escaped HTML paragraphs (``<p>…</p>``), links clickable."""
    out = []
    for block in re.split(r"\n\s*\n", (text or "").strip()):
        if block.strip():
            out.append("<p>" + "<br>".join(_linkify(line.strip()) for line in block.strip().split("\n")) + "</p>")
    return out


def intro_and_full(text: str) -> tuple[str, str]:
    """The body as Joomla's introtext (first paragraph) and fulltext (the rest)."""
    blocks = paragraphs(text)
    return (blocks[0] if blocks else ""), "\n".join(blocks[1:])


def articletext(introtext: str, fulltext: str) -> str:
    """The article form's one text field: the intro, then the read-more line and the rest."""
    return introtext + (READMORE + fulltext if fulltext else "")


def figure(url: str, alt: str) -> str:
    return f'<figure><img src="{html.escape(url, quote=True)}" alt="{html.escape(alt, quote=True)}"></figure>'


def utc_offset_iso(value: datetime) -> str:
    """An aware time as ``YYYY-MM-DDTHH:MM:SS+00:00``: Joomla reads a date without an offset in
    the API user's own time zone, so the offset is always explicit."""
    if value.tzinfo is None:
        raise ValueError("publish_up must be timezone-aware")
    return value.astimezone(timezone.utc).replace(microsecond=0).isoformat()


def _sql_time(value: Any) -> datetime | None:
    """Joomla's ``YYYY-MM-DD HH:MM:SS`` (UTC in the database), or None."""
    if not isinstance(value, str) or not value or value.startswith("0000"):
        return None
    return parse_time(value.replace(" ", "T"))


def _title_key(title: str) -> str:
    """A title as Joomla keeps it (its input filter drops tags), whitespace collapsed."""
    return " ".join(re.sub(r"<[^>]*>", "", html.unescape(title)).split())


def _note_for(marker: str) -> str:
    return (NOTE_PREFIX + marker)[:255] if marker else ""


class JoomlaConnector(Connector):
    network = "joomla"  # Network.JOOMLA
    thread_ids_widen = False  # nothing to read: no comments in Joomla core
    supports_search = False
    supports_refresh = False  # API tokens last until the user resets or disables them

    def __init__(self, *, category: str = "", state: str = "published", featured: bool = False,
                 create_tags: bool = True, **kwargs):
        kwargs["base_url"] = normalize_site_url(kwargs.get("base_url", ""))
        super().__init__(**kwargs)
        if state not in STATES:
            raise Permanent(MSG_BAD_STATE, detail=str(state)[:20])
        self.category = " ".join(str(category or "").split())
        self.state = state
        self.featured = bool(featured)
        self.create_tags = create_tags
        self.account_id = self.account_id or token_user_id(self.credentials.access_token)
        self._category_cache: dict[str, dict[str, Any]] = {}
        self._tag_cache: dict[str, int] = {}

    @classmethod
    def for_account(cls, account, **kwargs) -> JoomlaConnector:
        options = account.options or {}
        kwargs.setdefault("category", str(options.get("category") or ""))
        kwargs.setdefault("state", options.get("state") or "published")
        kwargs.setdefault("featured", bool(options.get("featured")))
        return super().for_account(account, **kwargs)

    # -- the API call ----------------------------------------------------------------------

    def _headers(self) -> dict[str, str]:
        token = (self.credentials.access_token or "").strip()
        if not token:
            raise AuthExpired(MSG_NO_TOKEN)
        return {"X-Joomla-Token": token, "Accept": "application/vnd.api+json"}

    def request(self, method: str, path: str, *, params: Any = None, json_body: Any = None,
                accept=(), bucket: str | None = None) -> ApiResponse:
        """One API call. Parses the JSON itself (after any PHP noise) and maps Joomla's
        JSON:API ``errors[]`` to our vocabulary. Statuses in ``accept`` come back to the caller."""
        require_https_site(self.base_url, self.http.config, MSG_HTTPS)
        headers = self._headers()
        method = method.upper()
        unsafe = method not in ("GET", "HEAD", "DELETE")
        bucket = bucket or f"{method} {_NUMBER_SEGMENT.sub('/:id', path)}"
        try:
            response = self.http.request(method, API + path, params=params, json_body=json_body, headers=headers,
                                         bucket=bucket, expect_json=False, auth=False,
                                         accept=set(accept) | {400, 401, 403, 404, 405, 406, 409, 422})
        except ConnectorError as exc:
            self._scrub(exc)
            if exc.status == 401:
                raise AuthExpired(MSG_AUTH, detail=exc.detail, status=401) from exc
            raise
        data, found = lenient_json(response.text)
        response.data = data
        if response.status >= 400 and response.status not in accept:
            if not found and response.status not in (401, 403):
                raise Permanent(MSG_NOT_JOOMLA, status=response.status,
                                detail=f"{response.status}: not JSON: {clean_text(response.text, 200)}")
            raise self._error(response.status, data)
        if not found and 200 <= response.status < 300 and response.status != 204:
            detail = f"{response.status}: not JSON: {clean_text(response.text, 200)}"
            if unsafe:
                raise Ambiguous(MSG_UNREADABLE, detail=detail, status=response.status)
            raise Retryable(MSG_MALFORMED, detail=detail, status=response.status)
        return response

    def _scrub(self, exc: ConnectorError) -> None:
        token = (self.credentials.access_token or "").strip()
        if token and token in exc.detail:
            exc.detail = exc.detail.replace(token, "<redacted>")

    @staticmethod
    def error_text(data: Any) -> str:
        """Joomla's words: the titles (and details) of ``errors[]``, or a plain ``message``."""
        if not isinstance(data, dict):
            return ""
        found = []
        errors = data.get("errors")
        if isinstance(errors, list):
            for error in errors[:5]:
                if isinstance(error, dict):
                    for key in ("title", "detail"):
                        if isinstance(error.get(key), str) and error[key] not in found:
                            found.append(error[key])
        if isinstance(data.get("message"), str):
            found.append(data["message"])
        return clean_text(html.unescape("; ".join(found)), 500)

    def _error(self, status: int, data: Any) -> ConnectorError:
        reason = self.error_text(data)
        detail = f"{status}: {reason}" if reason else str(status)
        if status in (401, 403):
            # A Joomla API user either may use the API or not: a 403 on an ordinary call
            # means the token's user lost that permission (or was blocked), which only a
            # person can fix, so the account waits for them like an expired sign-in.
            return AuthExpired(MSG_AUTH, detail=detail, status=status)
        return Permanent(fill(MSG_REFUSED, reason=reason or str(status)), detail=detail, status=status)

    def get(self, path: str, **kw) -> ApiResponse:
        return self.request("GET", path, **kw)

    @staticmethod
    def _resource(response: ApiResponse) -> dict[str, Any]:
        """``data`` of a JSON:API item document, with ``attributes`` checked."""
        data = response.data.get("data") if isinstance(response.data, dict) else None
        if not isinstance(data, dict) or not isinstance(data.get("attributes"), dict):
            raise Retryable(MSG_MALFORMED, detail="JSON:API document without data.attributes", status=response.status)
        return data

    @staticmethod
    def _resources(response: ApiResponse) -> list[dict[str, Any]]:
        data = response.data.get("data") if isinstance(response.data, dict) else None
        if not isinstance(data, list):
            raise Retryable(MSG_MALFORMED, detail="JSON:API list without data[]", status=response.status)
        return [r for r in data if isinstance(r, dict) and isinstance(r.get("attributes"), dict)]

    @staticmethod
    def _id(value: Any) -> str:
        value = str(value or "")
        if not _SAFE_ID.match(value):
            raise Permanent(MSG_BAD_ID, detail=f"id {value[:40]!r}")
        return value

    # -- site and profile ------------------------------------------------------------------

    def _total(self, path: str, params: dict | None = None) -> int | None:
        response = self.get(path, params={**(params or {}), "page[limit]": 1})
        self._resources(response)
        meta = response.data.get("meta") if isinstance(response.data, dict) else None
        return self._as_int(meta.get("total-pages")) if isinstance(meta, dict) else None

    def site_name(self) -> str:
        """The site's name from ``/config/application`` (Super Users only), or ``""``."""
        response = self.get("/config/application", accept={403, 404})
        if response.status != 200:
            return ""
        for item in self._resources(response):
            name = item["attributes"].get("sitename")
            if isinstance(name, str):
                return clean_text(name, 200)
        return ""

    def fetch_profile(self) -> Profile:
        """The site: its name (when the token's user may read the global configuration), its
        address, and how many articles it has (published and unpublished). The first call
        also proves the token and that the site is a Joomla with its API on."""
        articles = self._total("/content/articles")
        host = urlsplit(self.base_url)
        handle = (host.netloc + host.path).strip("/")[:200]
        return Profile(external_id=self.account_id or "", handle=handle, display_name=self.site_name() or handle,
                       url=self.base_url, posts=articles)

    def limits(self) -> Limits:
        return Limits(max_characters=1_000_000, counting="codepoints", max_media=10, image_size_limit=MAX_IMAGE_BYTES,
                      media_types=IMAGE_TYPES, content_warnings=False,
                      visibilities=frozenset({Visibility.PUBLIC, Visibility.FOLLOWERS}), threads=False)

    # -- categories and tags -----------------------------------------------------------------

    def find_category(self, name_or_id: str | None = None) -> dict[str, Any]:
        """The category to publish in: by id (digits) or by title/alias (case-insensitive);
        with none configured, Joomla's own "Uncategorised". Unknown: ``Permanent`` in words."""
        wanted = " ".join(str(self.category if name_or_id is None else name_or_id).split())
        key = wanted.casefold()
        if key in self._category_cache:
            return self._category_cache[key]
        if wanted and _SAFE_ID.match(wanted):
            response = self.get(f"/content/categories/{wanted}", accept={404})
            if response.status == 404:
                raise Permanent(fill(MSG_NO_CATEGORY, name=wanted), detail=f"category {wanted} not found", status=404)
            found = self._resource(response)["attributes"]
        else:
            search = wanted or "uncategorised"
            response = self.get("/content/categories", params={"filter[search]": search[:100], "page[limit]": PAGE})
            found = None
            for item in self._resources(response):
                attrs = item["attributes"]
                if str(attrs.get("title", "")).casefold() == search.casefold() or \
                        str(attrs.get("alias", "")).casefold() == search.casefold():
                    found = attrs
                    break
            if found is None:
                if not wanted:
                    raise Permanent(MSG_CHOOSE_CATEGORY, detail="no category configured, no Uncategorised")
                raise Permanent(fill(MSG_NO_CATEGORY, name=wanted[:100]), detail=f"category {wanted[:100]!r}")
        if not isinstance(found.get("id"), int) and not _SAFE_ID.match(str(found.get("id", ""))):
            raise Retryable(MSG_MALFORMED, detail="category without an id")
        category = {"id": int(found["id"]), "title": clean_text(str(found.get("title", "")), 200)}
        self._category_cache[key] = category
        return category

    def tag_ids(self, names: Sequence[str]) -> list[int]:
        """Tag ids for names, created when missing if the user may (else left out)."""
        ids: list[int] = []
        for name in list(dict.fromkeys(n.strip() for n in names if n.strip()))[:MAX_TAGS]:
            key = name.casefold()
            if key not in self._tag_cache:
                response = self.get("/tags", params={"filter[search]": name[:100], "page[limit]": PAGE})
                for item in self._resources(response):
                    attrs = item["attributes"]
                    tag_id = self._as_int(attrs.get("id"))
                    if tag_id and (str(attrs.get("title", "")).casefold() == key
                                   or str(attrs.get("alias", "")) == slugify(name)):
                        self._tag_cache[key] = tag_id
                        break
            if key not in self._tag_cache and self.create_tags:
                body = {"title": name[:100], "parent_id": 1, "published": 1}
                response = self.request("POST", "/tags", json_body=body, accept={400, 403})
                tag_id = None
                if response.status == 200:
                    tag_id = self._as_int(self._resource(response)["attributes"].get("id"))
                if tag_id:
                    self._tag_cache[key] = tag_id
                else:  # the user may not create tags (Joomla's ACL), or a clash: publish without it
                    log.info("joomla: tag %r not created (%s)", name, self.error_text(response.data)[:100])
            if key in self._tag_cache:
                ids.append(self._tag_cache[key])
        return ids

    # -- images ------------------------------------------------------------------------------

    def upload(self, item: MediaItem, name_hint: str, *, ours: bool = False) -> str:
        """Upload one image with the Media API; return its site-relative URL (``images/…``).

        ``ours``: the name comes from the target's idempotency marker, so a file already there
        (``409 File exists``) is this image, uploaded by an earlier attempt that failed later
        (a 503 on the article): it is used as it is instead of failing the retry."""
        if item.mime_type not in IMAGE_TYPES:
            raise Permanent(MSG_MEDIA_TYPE, detail=item.mime_type[:80])
        content = item.read()
        if len(content) > MAX_IMAGE_BYTES:
            raise Permanent(MSG_MEDIA_SIZE, detail=f"{len(content)} bytes")
        stem = _SAFE_NAME.sub("-", slugify(item.filename.rsplit(".", 1)[0]))[:60].strip("-") or "image"
        # In the images root, not a folder of our own: whether the Media API creates a missing
        # folder depends on the storage adapter, and a name of ours is enough to find them.
        relative = f"{MEDIA_PREFIX}-{name_hint}-{stem}.{EXTENSIONS[item.mime_type]}"
        response = self.request("POST", "/media/files", accept={404, 409} if ours else {404},
                                json_body={"path": f"local-images:/{relative}",
                                           "content": base64.b64encode(content).decode("ascii")})
        if response.status == 404:
            raise Permanent(MSG_NO_MEDIA_API, detail="POST /media/files answered 404", status=404)
        if response.status == 409:
            log.info("joomla: %s is already on the site (an earlier attempt); using it", relative)
            return f"images/{relative}"
        attrs = self._resource(response)["attributes"]
        path = str(attrs.get("path") or "")
        if not path.startswith("local-images:/"):
            raise Retryable(MSG_MALFORMED, detail="media upload without a local-images path")
        return "images/" + path.removeprefix("local-images:/").lstrip("/")

    # -- publishing --------------------------------------------------------------------------

    def build(self, payload: PostPayload, *, title: str | None = None, state: str | None = None,
              featured: bool | None = None) -> tuple[dict[str, Any], list[MediaItem]]:
        """The article's fields (without category, tags and images) and the images to upload."""
        text = payload.text or ""
        if not text.strip():
            raise Permanent(MSG_EMPTY)
        state = state or self.state
        if state not in STATES:
            raise Permanent(MSG_BAD_STATE, detail=str(state)[:20])
        if payload.visibility == Visibility.FOLLOWERS:
            access = ACCESS_REGISTERED
        elif payload.visibility == Visibility.PUBLIC:
            access = ACCESS_PUBLIC
        else:
            raise Permanent(MSG_VISIBILITY, detail=str(payload.visibility)[:40])
        if title is None:
            title, body = title_and_body(text)
        else:
            body = text
        for item in payload.media:
            if item.mime_type not in IMAGE_TYPES:
                raise Permanent(MSG_MEDIA_TYPE, detail=item.mime_type[:80])
        introtext, fulltext = intro_and_full(body)
        if not introtext:  # a title-only post: the title is the text too
            introtext = paragraphs(title)[0]
        fields: dict[str, Any] = {
            # Joomla keeps the title as text (its input filter drops tags) and escapes it on output.
            "title": title[:255], "articletext": articletext(introtext, fulltext), "state": STATES[state],
            "featured": int(self.featured if featured is None else featured), "access": access, "language": "*",
        }
        alias = slugify(title)[:MAX_ALIAS].strip("-")
        if alias:
            fields["alias"] = alias
        if payload.marker:
            fields["note"] = _note_for(payload.marker)
        return fields, list(payload.media)

    def publish(self, payload: PostPayload, *, title: str | None = None, state: str | None = None,
                featured: bool | None = None, category: str | None = None, tags: Sequence[str] | None = None,
                publish_up: datetime | None = None) -> PublishedRef:
        fields, images = self.build(payload, title=title, state=state, featured=featured)
        fields["catid"] = self.find_category(category)["id"]
        fields["tags"] = self.tag_ids(hashtags(payload.text) if tags is None else list(tags))
        if publish_up is not None:
            fields["publish_up"] = utc_offset_iso(publish_up)
        if images:
            marker = payload.marker.lower().removeprefix(MEDIA_PREFIX + "-")
            hint = _SAFE_NAME.sub("-", marker or uuid.uuid4().hex[:12])[:40]
            urls = [self.upload(item, f"{hint}-{index}", ours=bool(marker)) for index, item in enumerate(images, 1)]
            fields["images"] = {"image_intro": urls[0], "image_intro_alt": images[0].alt_text[:500],
                                "float_intro": "", "image_intro_caption": "",
                                "image_fulltext": urls[0], "image_fulltext_alt": images[0].alt_text[:500],
                                "float_fulltext": "", "image_fulltext_caption": ""}
            extra = "\n".join(figure(url, item.alt_text) for url, item in zip(urls[1:], images[1:]))
            if extra:
                intro, _sep, full = fields["articletext"].partition(READMORE)
                fields["articletext"] = articletext(intro, (full + "\n" + extra).strip())
        article = self._create(fields, payload.marker)
        return self._ref(article)

    def _create(self, fields: dict[str, Any], marker: str) -> dict[str, Any]:
        response = self.request("POST", "/content/articles", json_body=fields, accept={400},
                                bucket="POST /api/index.php/v1/content/articles")
        if response.status == 400:
            reason = self.error_text(response.data)
            if "alias" in reason.lower() and "alias" in fields:
                # The category already has this alias (perhaps a trashed article): once more
                # with a suffix. Refused means not created, so repeating is safe.
                suffix = _SAFE_NAME.sub("-", (marker or uuid.uuid4().hex[:8]).lower()).strip("-")[-12:]
                fields = {**fields, "alias": f"{fields['alias'][:MAX_ALIAS - 13]}-{suffix}"}
                response = self.request("POST", "/content/articles", json_body=fields,
                                        bucket="POST /api/index.php/v1/content/articles")
            else:
                raise self._error(400, response.data)
        data = response.data.get("data") if isinstance(response.data, dict) else None
        if not isinstance(data, dict) or not isinstance(data.get("attributes"), dict) or \
                not _SAFE_ID.match(str(data.get("id", ""))):
            raise Ambiguous(MSG_UNREADABLE, detail=clean_text(response.text, 300), status=response.status)
        return data

    def article_url(self, article_id: str, catid: Any = None) -> str:
        """A link that works on every Joomla site (SEF URLs redirect from it)."""
        url = f"{self.base_url}/index.php?option=com_content&view=article&id={self._id(article_id)}"
        return url + (f"&catid={int(catid)}" if isinstance(catid, int) or str(catid or "").isdigit() else "")

    def _ref(self, article: dict[str, Any]) -> PublishedRef:
        attrs = article["attributes"]
        relationships = article.get("relationships") if isinstance(article.get("relationships"), dict) else {}
        related = (relationships.get("category") or {}) if isinstance(relationships.get("category"), dict) else {}
        catid = attrs.get("catid") or attrs.get("category")
        if not catid and isinstance(related.get("data"), dict):
            catid = related["data"].get("id")
        return PublishedRef(external_id=str(article["id"]), url=self.article_url(str(article["id"]), catid),
                            published_at=_sql_time(attrs.get("publish_up")) or _sql_time(attrs.get("created")))

    def find_published(self, payload: PostPayload, *, since: datetime) -> PublishedRef | None:
        """By the marker in ``note`` (Joomla's search covers title, alias and note); without a
        marker, by the exact title among articles created since ``since``."""
        fields, _images = self.build(payload)
        note = fields.get("note", "")
        search = payload.marker or _title_key(fields["title"])[:100]
        response = self.get("/content/articles", params={
            "filter[search]": search, "list[ordering]": "a.id", "list[direction]": "DESC", "page[limit]": 50})
        floor = since - timedelta(minutes=2)
        for item in self._resources(response):
            attrs = item["attributes"]
            if not _SAFE_ID.match(str(item.get("id", ""))):
                continue
            if note:
                if str(attrs.get("note") or "") == note:
                    return self._ref(item)
                continue
            created = _sql_time(attrs.get("created"))
            if _title_key(str(attrs.get("title") or "")) == _title_key(fields["title"]) and \
                    (created is None or created >= floor):
                return self._ref(item)
        return None

    def update(self, external_id: str, payload: PostPayload, *, title: str | None = None) -> PublishedRef:
        """Replace the article's title and text (PATCH); category, tags, images, state and
        publish_up stay as they are on the site (the payload's media are not uploaded again)."""
        article_id = self._id(external_id)
        fields, _images = self.build(payload, title=title)
        body = {k: fields[k] for k in ("title", "articletext")}
        response = self.request("PATCH", f"/content/articles/{article_id}", json_body=body)
        return self._ref(self._resource(response))

    def set_state(self, external_id: str, state: int) -> bool:
        """PATCH the article's state; False if the article is gone."""
        article_id = self._id(external_id)
        response = self.request("PATCH", f"/content/articles/{article_id}", json_body={"state": state}, accept={404})
        return response.status != 404

    def unpublish(self, external_id: str) -> bool:
        return self.set_state(external_id, 0)

    def delete(self, external_id: str) -> bool:
        """Joomla deletes only from the trash: trash it (PATCH state -2), then DELETE."""
        article_id = self._id(external_id)
        if not self.set_state(article_id, -2):
            return False
        response = self.request("DELETE", f"/content/articles/{article_id}", accept={404})
        return response.status != 404

    # -- metrics and (no) inbox ----------------------------------------------------------------

    def fetch_post_metrics(self, external_ids: Sequence[str]) -> dict[str, PostMetrics]:
        """Joomla counts ``hits`` (views of the article page, bots and repeats included): they
        are reported as impressions. Nothing else is counted by Joomla core."""
        out: dict[str, PostMetrics] = {}
        for article_id in [self._id(i) for i in external_ids]:
            response = self.get(f"/content/articles/{article_id}", accept={404})
            if response.status == 404:
                out[article_id] = PostMetrics(article_id, exists=False)
                continue
            attrs = self._resource(response)["attributes"]
            exists = self._as_int(attrs.get("state")) != -2
            out[article_id] = PostMetrics(article_id, exists=exists, impressions=self._as_int(attrs.get("hits")))
        return out

    def fetch_interactions(self, since: datetime | None = None, *, cursor: str = "",
                           thread_ids: Sequence[str] = ()) -> InteractionBatch:
        """Joomla core has no comments: nothing to read, and no request is made."""
        return InteractionBatch(items=[], cursor=cursor)

    def reply(self, to_external_id: str, text: str, *, marker: str = "") -> PublishedRef:
        raise Unsupported(MSG_NO_REPLIES)


__all__ = ["JoomlaConnector", "intro_and_full", "normalize_site_url", "paragraphs", "token_user_id"]
