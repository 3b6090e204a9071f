"""LinkedIn organisation (Company) pages through the versioned Marketing REST API.

API references (learn.microsoft.com/linkedin/marketing, Community Management): Posts API
(``/rest/posts``), Images API (``/rest/images?action=initializeUpload``), MultiImage, the
"little" text format, Comments (``/rest/socialActions/{urn}/comments``), Organizations
(``/rest/organizations/{id}``), Network Sizes, Organization Share and Follower Statistics, and
OAuth 2.0 3-legged flow with programmatic refresh tokens.

The account is an organisation page: ``account.external_id`` is the organisation's numeric id
and every post, image and comment is authored by ``urn:li:organization:{id}``. The token
belongs to a member who administers the page.

Every REST call sends ``LinkedIn-Version`` (``API_VERSION``, pinned here and only here) and
``X-Restli-Protocol-Version: 2.0.0``. LinkedIn does not default to the latest version: a
missing or sunset version is refused (426 ``NONEXISTENT_VERSION``), which becomes a
``Permanent`` error saying that Tertulia must be updated, never a retry loop.

What the API allows, plainly:

- Publishing: text (``commentary``, 3,000 characters, in the little text format: the reserved
  characters ``\\ | { } @ [ ] ( ) < > # * _ ~`` are backslash-escaped, or LinkedIn silently cuts
  the post at the first one; links and ``#hashtags`` are kept so they stay clickable), one
  image (``content.media``), 2-20 images (``content.multiImage``) or a link article
  (``content.article``: LinkedIn does not build link previews for API posts, so the caller
  gives the title and description; ``publish(..., article=...)`` or ``article_resolver``).
  The new post's URN comes back in the ``x-restli-id`` header.
- No idempotency key exists: ``find_published`` lists the organisation's recent posts
  (``q=author``) and matches the words (unescaped, normalised) and the time.
- Comments: ``socialActions`` read and create, as the organisation (replies and the first
  comment). Mentions of the page are not offered to this kind of app by the versioned API
  (the old organisation notifications need a separate, restricted product), so the inbox
  gets comments only.
- Metrics: ``organizationalEntityShareStatistics`` (organic only, last 12 months):
  impressions, unique impressions (reach), clicks, likes, comments, shares. Followers from
  ``networkSizes`` (``COMPANY_FOLLOWED_BY_MEMBER``); daily follower gains from
  ``organizationalEntityFollowerStatistics``.
- Tokens: access tokens last 60 days; refresh tokens (365 days from the first sign-in, not
  extended by a refresh) only for apps LinkedIn approved for them.
"""

from __future__ import annotations

import logging
import re
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any
from urllib.parse import quote, urlencode, urlsplit

from django.utils.translation import gettext_lazy as _

from ..base import (
    Author,
    Connector,
    Credentials,
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
    normalize_text,
)
from ..errors import Ambiguous, AuthExpired, ConnectorError, Permanent, RateLimited, Retryable, fill
from ..http import MSG_MALFORMED, ApiResponse, HttpClient, clean_text, error_text, safe_url
from ..ratelimit import RateRule

log = logging.getLogger(__name__)

# The one place the API version is pinned (YYYYMM). LinkedIn supports a version for at least
# a year after its release; moving it is a deliberate change tested against the fake.
API_VERSION = "202607"
RESTLI_PROTOCOL = "2.0.0"
DEFAULT_BASE_URL = "https://api.linkedin.com"
DEFAULT_AUTH_URL = "https://www.linkedin.com"
WEB_URL = "https://www.linkedin.com"

MAX_TEXT = 3000
MAX_COMMENT = 1250
MAX_IMAGES = 20
MAX_ALT_TEXT = 4086
MAX_PIXELS = 36_152_320
IMAGE_TYPES = frozenset({"image/jpeg", "image/png", "image/gif"})
ACCESS_TOKEN_DAYS = 60
PAGE_SIZE = 50
FIND_PAGES = 2
INTERACTION_POSTS = 20  # recent posts whose comments are read on each poll
CLOCK_SKEW = timedelta(minutes=2)

_URN = re.compile(r"^urn:li:(share|ugcPost|activity):\d{1,30}$")
_COMMENT_URN = re.compile(r"^urn:li:comment:\((urn:li:(?:activity|share|ugcPost):\d{1,30}),(\d{1,30})\)$")
_IMAGE_URN = re.compile(r"^urn:li:image:[A-Za-z0-9_-]{1,200}$")
_ORG_ID = re.compile(r"^\d{1,20}$")
_LINK = re.compile(r"https?://[^\s<>\"]+", re.IGNORECASE)
_HASHTAG = re.compile(r"(?<![\w\\])#(?=\w)")
_RESERVED = set("\\|{}@[]()<>#*_~")

MSG_EMPTY = _("A LinkedIn post needs some text, an image or a link.")
MSG_TOO_LONG = _("LinkedIn accepts at most %(limit)s characters here; this text has %(length)s.")
MSG_TOO_MANY_MEDIA = _("A LinkedIn post holds at most 20 images.")
MSG_MEDIA_TYPE = _("LinkedIn posts take JPEG, PNG or GIF images; videos and documents are not supported yet.")
MSG_VISIBILITY = _("A LinkedIn page post is public; it has no other visibility.")
MSG_NO_ORG = _("This LinkedIn account has no organisation page id. Reconnect it and choose the page.")
MSG_BAD_ID = _("That is not a LinkedIn post or comment id.")
MSG_VERSION = _("LinkedIn no longer accepts the API version this Tertulia uses (%(version)s). "
                "Update Tertulia to a newer release.")
MSG_FORBIDDEN = _("LinkedIn refused: the person who connected this page may no longer be one of its "
                  "administrators, or the app lacks the Community Management permissions. Reconnect the page.")
MSG_DUPLICATE = _("LinkedIn refuses a post identical to one the page published recently. Change the text.")
MSG_REFUSED = _("LinkedIn refused this: %(reason)s")
MSG_NOT_FOUND = _("LinkedIn could not find it; it may have been deleted.")
MSG_UNREADABLE = _("LinkedIn accepted the post but did not say its id. We will check the page before "
                   "trying again.")
MSG_UPLOAD_URL = _("LinkedIn gave an upload address Tertulia does not trust; the image was not sent.")
MSG_NO_APP = _("The LinkedIn app is not configured (LINKEDIN_CLIENT_ID and LINKEDIN_CLIENT_SECRET), "
               "so the sign-in cannot be renewed.")
MSG_NO_REFRESH = _("LinkedIn gave this page no renewable sign-in. Reconnect the page before the sign-in expires.")
MSG_REFRESH_REFUSED = _("LinkedIn no longer accepts this page's sign-in. Reconnect the page.")
MSG_TOKEN_UNREADABLE = _("LinkedIn's sign-in answer could not be read. Try again.")


# -- the "little" text format ----------------------------------------------------------------


def escape_little(text: str) -> str:
    """Plain text -> LinkedIn's little format: every reserved character backslash-escaped,
    except inside links (so they stay links) and a ``#`` that starts a hashtag."""
    out: list[str] = []
    pos = 0
    for match in _LINK.finditer(text):
        out.append(_escape_plain(text[pos:match.start()]))
        out.append(match.group(0))
        pos = match.end()
    out.append(_escape_plain(text[pos:]))
    return "".join(out)


def _escape_plain(chunk: str) -> str:
    keep = {m.start() for m in _HASHTAG.finditer(chunk)}
    return "".join("\\" + c if c in _RESERVED and i not in keep else c for i, c in enumerate(chunk))


_MENTION = re.compile(r"@\[([^\]\\]*)\]\((urn:li:[^)]*)\)")
_TEMPLATE = re.compile(r"\{hashtag\|\\?#\|([^}]*)\}")


def unescape_little(text: str) -> str:
    """Little text -> plain text as LinkedIn shows it (mentions by name, hashtags as #tag)."""
    text = _TEMPLATE.sub(lambda m: "#" + m.group(1), text or "")
    text = _MENTION.sub(lambda m: m.group(1), text)
    return re.sub(r"\\(.)", r"\1", text, flags=re.DOTALL)


def char_count(text: str) -> int:
    """LinkedIn counts characters as UTF-16 code units."""
    return len((text or "").encode("utf-16-le")) // 2


def _match_text(text: str) -> str:
    return normalize_text(unicodedata.normalize("NFC", text or "")).casefold()


def _ms(value: Any) -> datetime | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    try:
        return datetime.fromtimestamp(value / 1000, timezone.utc)
    except (OverflowError, OSError, ValueError):
        return None


def _dict(value: Any) -> dict:
    return value if isinstance(value, dict) else {}


def _list(value: Any) -> list:
    return value if isinstance(value, list) else []


def encode_urn(urn: str) -> str:
    """A URN as Rest.li 2.0 wants it in a path or a query value: fully percent-encoded."""
    return quote(urn, safe="")


def post_url(urn: str) -> str:
    return f"{WEB_URL}/feed/update/{urn}/"


@dataclass(frozen=True)
class Article:
    """A link post: LinkedIn shows ``title`` and ``description`` under the commentary; it does
    not fetch them itself for API posts."""

    source: str
    title: str
    description: str = ""
    thumbnail: MediaItem | None = None


@dataclass(frozen=True)
class Organization:
    id: str
    name: str
    vanity_name: str = ""
    url: str = ""
    description: str = ""


class LinkedInConnector(Connector):
    network = "linkedin"
    supports_refresh = True
    refresh_ahead = timedelta(days=7)  # 60-day tokens: renewed a week ahead, many tries left
    supports_first_comment = True
    default_base_url = DEFAULT_BASE_URL
    # LinkedIn's documented daily throttles per member for the Posts API are 150 creates; the
    # rest are app-wide daily quotas that LinkedIn enforces with 429.
    rate_rules = (RateRule("linkedin-posts-create", 150, 24 * 3600, frozenset({"POST"}), r"^/rest/posts$"),)

    def __init__(self, *, auth_base_url: str = "", client_id: str = "", client_secret: str = "",
                 article_resolver: Callable[[str], Article | None] | None = None, **kwargs):
        super().__init__(**kwargs)
        self.auth_base_url = (auth_base_url or "").rstrip("/")
        self.client_id = client_id
        self.client_secret = client_secret
        self.article_resolver = article_resolver  # url -> Article, for text posts with a link

    @classmethod
    def for_account(cls, account, **kwargs) -> LinkedInConnector:
        connector = super().for_account(account, **kwargs)
        if connector.article_resolver is None:  # link posts get a preview, as in LinkedIn's composer
            from .preview import page_article

            connector.article_resolver = lambda url: page_article(url, config=connector.http.config)
        return connector  # type: ignore[return-value]

    # -- plumbing ----------------------------------------------------------------------------

    @property
    def org_urn(self) -> str:
        org = str(self.account_id or "")
        if org.startswith("urn:li:organization:"):
            org = org.rsplit(":", 1)[1]
        if not _ORG_ID.match(org):
            raise Permanent(MSG_NO_ORG, detail=f"organisation id {org[:40]!r}")
        return f"urn:li:organization:{org}"

    def _headers(self, extra: dict[str, str] | None = None) -> dict[str, str]:
        return {"LinkedIn-Version": API_VERSION, "X-Restli-Protocol-Version": RESTLI_PROTOCOL, **(extra or {})}

    def call(self, method: str, path: str, *, query: dict[str, str] | None = None, raw_query: str = "",
             json_body: Any = None, expect_json: bool = True, accept: Sequence[int] = ()) -> ApiResponse:
        """One REST call with the versioned headers; LinkedIn's refusals mapped to our errors.
        ``raw_query`` is appended as it is (Rest.li ``List(...)`` values, already encoded)."""
        parts = [urlencode(query or {}, quote_via=quote, safe=""), raw_query]
        qs = "&".join(p for p in parts if p)
        full = f"{path}?{qs}" if qs else path
        own = (400, 403, 404, 409, 410, 412, 415, 422, 426)
        # Rest.li names the method of a DELETE explicitly (the Posts API examples send it).
        extra = {"X-RestLi-Method": "DELETE"} if method == "DELETE" else None
        response = self.http.request(method, full, json_body=json_body, headers=self._headers(extra),
                                     expect_json=expect_json, accept=tuple(set(own) | set(accept)))
        if response.status in accept or response.status < 400:
            return response
        raise self._error(response)

    def _error(self, response: ApiResponse) -> ConnectorError:
        data = _dict(response.data)
        status = response.status
        code = str(data.get("code") or "")
        detail = error_text(data, response.text) or str(status)
        if code:
            detail = f"{code}: {detail}"[:2000]
        if status == 426 or code in ("NONEXISTENT_VERSION", "VERSION_MISSING", "VERSION_SUNSET"):
            return Permanent(fill(MSG_VERSION, version=API_VERSION), detail=detail, status=status)
        if status == 403:
            return Permanent(MSG_FORBIDDEN, detail=detail, status=status)
        if status in (404, 410):
            return Permanent(MSG_NOT_FOUND, detail=detail, status=status)
        if status == 422 and "duplicate" in detail.lower():
            return Permanent(MSG_DUPLICATE, detail=detail, status=status)
        reason = clean_text(str(data.get("message") or detail), 300)
        return Permanent(fill(MSG_REFUSED, reason=reason), detail=detail, status=status)

    # -- limits --------------------------------------------------------------------------------

    def limits(self) -> Limits:
        return Limits(max_characters=MAX_TEXT, counting="utf16", max_media=MAX_IMAGES, max_alt_text=MAX_ALT_TEXT,
                      media_types=IMAGE_TYPES, content_warnings=False,
                      visibilities=frozenset({Visibility.PUBLIC}), threads=False)

    # -- publishing ----------------------------------------------------------------------------

    def _check(self, payload: PostPayload, article: Article | None) -> None:
        text = payload.text or ""
        if not text.strip() and not payload.media and article is None:
            raise Permanent(MSG_EMPTY)
        if payload.visibility != Visibility.PUBLIC:
            raise Permanent(MSG_VISIBILITY, detail=str(payload.visibility)[:40])
        if char_count(text) > MAX_TEXT:
            raise Permanent(fill(MSG_TOO_LONG, limit=MAX_TEXT, length=char_count(text)))
        if len(payload.media) > MAX_IMAGES:
            raise Permanent(MSG_TOO_MANY_MEDIA)
        for item in payload.media:
            if item.mime_type not in IMAGE_TYPES:
                raise Permanent(MSG_MEDIA_TYPE, detail=item.mime_type[:80])

    def publish(self, payload: PostPayload, *, article: Article | None = None) -> PublishedRef:
        if payload.reply_to:  # a thread on LinkedIn is a comment under the post
            return self.reply(payload.reply_to, payload.text, marker=payload.marker)
        if article is None and not payload.media and self.article_resolver is not None:
            link = next(iter(_LINK.findall(payload.text or "")), "")
            article = self.article_resolver(link) if link else None
        self._check(payload, article)
        author = self.org_urn
        body: dict[str, Any] = {
            "author": author,
            "commentary": escape_little(payload.text or ""),
            "visibility": "PUBLIC",
            "distribution": {"feedDistribution": "MAIN_FEED", "targetEntities": [],
                             "thirdPartyDistributionChannels": []},
            "lifecycleState": "PUBLISHED",
            "isReshareDisabledByAuthor": False,
        }
        media = tuple(payload.media)
        if len(media) == 1:
            item = media[0]
            body["content"] = {"media": {"id": self.upload_image(item),
                                         "altText": (item.alt_text or "")[:MAX_ALT_TEXT]}}
        elif media:
            body["content"] = {"multiImage": {"images": [
                {"id": self.upload_image(item), "altText": (item.alt_text or "")[:MAX_ALT_TEXT]} for item in media]}}
        elif article is not None:
            source = safe_url(article.source, 2000)
            if not source:
                raise Permanent(fill(MSG_REFUSED, reason="link"), detail=f"article source {article.source[:100]!r}")
            content: dict[str, Any] = {"source": source, "title": clean_text(article.title, 400) or source}
            if article.description:
                content["description"] = clean_text(article.description, 4086)
            if article.thumbnail is not None and article.thumbnail.mime_type in IMAGE_TYPES:
                content["thumbnail"] = self.upload_image(article.thumbnail)
            body["content"] = {"article": content}
        try:
            response = self.call("POST", "/rest/posts", json_body=body, expect_json=False)
        except RateLimited:
            raise
        except Retryable as exc:
            # A 5xx on the one request that creates the post may come after LinkedIn created it:
            # look on the page before any retry (a blind retry would post twice, or meet LinkedIn's
            # 422 DUPLICATE and report a live post as failed).
            raise Ambiguous(MSG_UNREADABLE, detail=exc.detail, status=exc.status) from exc
        urn = clean_text(response.headers.get("x-restli-id", ""), 200)
        if not _URN.match(urn):
            raise Ambiguous(MSG_UNREADABLE, detail=f"{response.status} x-restli-id={urn[:80]!r}",
                            status=response.status)
        return PublishedRef(external_id=urn, url=post_url(urn), published_at=datetime.now(timezone.utc))

    def upload_image(self, item: MediaItem) -> str:
        """Images API: ``initializeUpload`` for the organisation, then PUT the bytes to the
        upload URL LinkedIn gave. Returns the ``urn:li:image:…``. An image uploaded without a
        post is never shown, so an unclear answer here is a plain retry, never ambiguous."""
        if item.mime_type not in IMAGE_TYPES:
            raise Permanent(MSG_MEDIA_TYPE, detail=item.mime_type[:80])
        try:
            response = self.call("POST", "/rest/images", query={"action": "initializeUpload"},
                                 json_body={"initializeUploadRequest": {"owner": self.org_urn}})
        except Ambiguous as exc:
            raise Retryable(MSG_MALFORMED, detail=exc.detail, status=exc.status) from None
        value = _dict(_dict(response.data).get("value"))
        upload_url, image = value.get("uploadUrl"), value.get("image")
        if not isinstance(upload_url, str) or not isinstance(image, str) or not _IMAGE_URN.match(image):
            raise Retryable(MSG_MALFORMED, detail=f"initializeUpload: {clean_text(response.text, 200)}")
        self._put_bytes(upload_url, item)
        return image

    def _upload_client(self, upload_url: str) -> tuple[HttpClient, str]:
        parts = urlsplit(upload_url)
        api = urlsplit(self.base_url)
        host = (parts.hostname or "").lower()
        same_origin = (parts.scheme, parts.netloc) == (api.scheme, api.netloc)
        linkedin = parts.scheme == "https" and (host == "linkedin.com" or host.endswith(".linkedin.com"))
        if not (same_origin or linkedin) or parts.username or parts.password:
            raise Permanent(MSG_UPLOAD_URL, detail=f"upload URL host {host[:100]!r}")
        origin = f"{parts.scheme}://{parts.netloc}"
        path = parts.path + (f"?{parts.query}" if parts.query else "")
        client = HttpClient(origin, config=self.http.config, account_key=self.account_key,
                            rate_book=self.http.rate_book, network=self.network,
                            token=lambda: self.credentials.access_token)
        return client, path

    def _put_bytes(self, upload_url: str, item: MediaItem) -> None:
        import warnings

        client, path = self._upload_client(upload_url)
        try:
            with warnings.catch_warnings():
                # The shared client has no ``content=``; httpx sends ``data=bytes`` as the raw body.
                warnings.filterwarnings("ignore", message="Use 'content=", category=DeprecationWarning)
                client.request("PUT", path, data=item.read(), expect_json=False,
                               headers={"Content-Type": item.mime_type})
        except OSError as exc:
            raise Permanent(MSG_MEDIA_TYPE, detail=f"read {item.filename}: {exc}") from exc
        finally:
            client.close()

    # -- deleting ------------------------------------------------------------------------------

    def delete(self, external_id: str) -> bool:
        urn = self._post_urn(external_id)
        response = self.call("DELETE", f"/rest/posts/{encode_urn(urn)}", expect_json=False, accept=(404, 410))
        return response.status not in (404, 410)

    def _post_urn(self, value: str) -> str:
        value = (value or "").strip()
        if not _URN.match(value):
            raise Permanent(MSG_BAD_ID, detail=f"id {value[:80]!r}")
        return value

    # -- reconciliation ------------------------------------------------------------------------

    def recent_posts(self, *, count: int = PAGE_SIZE, start: int = 0) -> list[dict[str, Any]]:
        response = self.call("GET", "/rest/posts", query={"author": self.org_urn, "q": "author",
                                                          "count": str(count), "start": str(start),
                                                          "sortBy": "LAST_MODIFIED"})
        return [p for p in _list(_dict(response.data).get("elements")) if isinstance(p, dict)]

    def find_published(self, payload: PostPayload, *, since: datetime) -> PublishedRef | None:
        if payload.reply_to:
            return self._find_comment(payload, since=since)
        wanted = _match_text(payload.text)
        floor = since - CLOCK_SKEW
        for page in range(FIND_PAGES):
            posts = self.recent_posts(count=PAGE_SIZE, start=page * PAGE_SIZE)
            for post in posts:
                urn = post.get("id")
                created = _ms(post.get("createdAt")) or _ms(post.get("publishedAt"))
                if not isinstance(urn, str) or not _URN.match(urn) or created is None or created < floor:
                    continue
                if post.get("author") != self.org_urn or post.get("lifecycleState") not in (None, "PUBLISHED"):
                    continue
                if _match_text(unescape_little(str(post.get("commentary") or ""))) == wanted:
                    return PublishedRef(external_id=urn, url=post_url(urn), published_at=created)
            oldest = [_ms(p.get("createdAt")) for p in posts]
            if len(posts) < PAGE_SIZE or any(t is not None and t < floor for t in oldest):
                break
        return None

    def _find_comment(self, payload: PostPayload, *, since: datetime) -> PublishedRef | None:
        target = payload.reply_to
        wanted = _match_text(payload.text)
        for comment in self._comments(self._comment_target(target), count=100):
            created = _ms(_dict(comment.get("created")).get("time"))
            if comment.get("actor") != self.org_urn or created is None or created < since - CLOCK_SKEW:
                continue
            if _match_text(_dict(comment.get("message")).get("text", "")) == wanted:
                urn = self._comment_urn(comment)
                if urn:
                    return PublishedRef(external_id=urn, url=post_url(str(comment.get("object") or "")),
                                        published_at=created)
        return None

    # -- comments ------------------------------------------------------------------------------

    def _comment_target(self, external_id: str) -> str:
        value = (external_id or "").strip()
        if _URN.match(value) or _COMMENT_URN.match(value):
            return value
        raise Permanent(MSG_BAD_ID, detail=f"id {value[:80]!r}")

    def _comments(self, target: str, *, count: int = PAGE_SIZE, start: int = 0) -> list[dict[str, Any]]:
        response = self.call("GET", f"/rest/socialActions/{encode_urn(target)}/comments",
                             query={"count": str(count), "start": str(start)})
        return [c for c in _list(_dict(response.data).get("elements")) if isinstance(c, dict)]

    @staticmethod
    def _comment_urn(comment: dict[str, Any]) -> str:
        for key in ("commentUrn", "$URN"):
            value = comment.get(key)
            if isinstance(value, str) and _COMMENT_URN.match(value):
                return value
        obj, cid = comment.get("object"), comment.get("id")
        if isinstance(obj, str) and _URN.match(obj) and isinstance(cid, (str, int)) and str(cid).isdigit():
            return f"urn:li:comment:({obj},{cid})"
        return ""

    def reply(self, to_external_id: str, text: str, *, marker: str = "") -> PublishedRef:
        """A comment as the organisation under a post (the first comment) or under a comment
        (a reply in the comment's thread)."""
        target = self._comment_target(to_external_id)
        text = text or ""
        if not text.strip():
            raise Permanent(MSG_EMPTY)
        if char_count(text) > MAX_COMMENT:
            raise Permanent(fill(MSG_TOO_LONG, limit=MAX_COMMENT, length=char_count(text)))
        body: dict[str, Any] = {"actor": self.org_urn, "message": {"text": text}}
        comment_match = _COMMENT_URN.match(target)
        if comment_match:
            body["object"] = comment_match.group(1)
            body["parentComment"] = target
        else:
            body["object"] = target
        response = self.call("POST", f"/rest/socialActions/{encode_urn(target)}/comments", json_body=body,
                             expect_json=False)
        data = _dict(response.data)
        urn = self._comment_urn(data) if data else ""
        if not urn:
            header = clean_text(response.headers.get("x-restli-id", ""), 300)
            if _COMMENT_URN.match(header):
                urn = header
            elif header.isdigit():
                urn = f"urn:li:comment:({body['object']},{header})"
        if not urn:
            raise Ambiguous(MSG_UNREADABLE, detail=f"{response.status}: {clean_text(response.text, 200)}",
                            status=response.status)
        return PublishedRef(external_id=urn, url=post_url(body["object"]),
                            published_at=_ms(_dict(data.get("created")).get("time")) or datetime.now(timezone.utc))

    def _author(self, actor: str) -> Author:
        """A comment's author. The API names people by URN only (their names need a restricted
        product); organisations are linked by id."""
        actor = clean_text(actor, 200)
        if actor.startswith("urn:li:organization:"):
            org = actor.rsplit(":", 1)[1]
            url = f"{WEB_URL}/company/{org}/" if org.isdigit() else ""
            return Author(external_id=actor, handle=actor, display_name="", url=url)
        return Author(external_id=actor, handle=actor, display_name="")

    def _comment_post(self, comment: dict[str, Any], on_post: str) -> NetworkPost | None:
        urn = self._comment_urn(comment)
        if not urn:
            return None
        text = clean_text(str(_dict(comment.get("message")).get("text") or ""), 20_000)
        parent = comment.get("parentComment")
        return NetworkPost(
            external_id=urn, author=self._author(str(comment.get("actor") or "")), text=text,
            created_at=_ms(_dict(comment.get("created")).get("time")), url=post_url(on_post),
            in_reply_to=parent if isinstance(parent, str) and _COMMENT_URN.match(parent) else on_post,
            likes=self._as_int(_dict(_dict(comment.get("likesSummary"))).get("totalLikes")))

    def _thread(self, post: str) -> list[dict[str, Any]]:
        """A post's comments and the first-level replies under them (LinkedIn lists replies
        under their parent comment, ``commentsSummary.totalFirstLevelComments`` says how many)."""
        out = []
        for comment in self._comments(post, count=100):
            out.append(comment)
            nested = self._as_int(_dict(comment.get("commentsSummary")).get("totalFirstLevelComments")) or 0
            urn = self._comment_urn(comment)
            if nested > 0 and urn:
                out.extend(self._comments(urn, count=100))
        return out

    def fetch_interactions(self, since: datetime | None = None, *, cursor: str = "",
                           thread_ids: Sequence[str] = ()) -> InteractionBatch:
        """Comments by others on the page's recent posts (and on ``thread_ids``), oldest first.
        The cursor is the newest comment time seen (milliseconds)."""
        floor_ms = int(cursor) if cursor.isdigit() else (int(since.timestamp() * 1000) if since else 0)
        posts = [str(p["id"]) for p in self.recent_posts(count=INTERACTION_POSTS)
                 if isinstance(p.get("id"), str) and _URN.match(p["id"])]
        for extra in thread_ids:
            if isinstance(extra, str) and _URN.match(extra) and extra not in posts:
                posts.append(extra)
        items: list[tuple[int, Interaction]] = []
        newest = floor_ms
        seen: set[str] = set()
        for post in posts:
            for comment in self._thread(post):
                created = _dict(comment.get("created")).get("time")
                if not isinstance(created, int) or isinstance(created, bool) or created <= floor_ms:
                    continue
                if comment.get("actor") == self.org_urn:
                    continue  # our own replies are not inbox items
                network_post = self._comment_post(comment, post)
                if network_post is None or network_post.external_id in seen:
                    continue
                seen.add(network_post.external_id)
                newest = max(newest, created)
                items.append((created, Interaction(kind=InteractionKind.COMMENT, post=network_post, on_post=post)))
        items.sort(key=lambda pair: pair[0])
        return InteractionBatch(items=[i for _t, i in items], cursor=str(newest) if newest else cursor)

    # -- profile and metrics -------------------------------------------------------------------

    def organization(self, org_id: str | None = None) -> Organization:
        org = org_id or self.org_urn.rsplit(":", 1)[1]
        if not _ORG_ID.match(str(org)):
            raise Permanent(MSG_NO_ORG, detail=f"organisation id {str(org)[:40]!r}")
        data = _dict(self.call("GET", f"/rest/organizations/{org}").data)
        name = data.get("localizedName")
        if not isinstance(name, str) or not name:
            localized = _dict(_dict(data.get("name")).get("localized"))
            name = next((v for v in localized.values() if isinstance(v, str)), "")
        vanity = data.get("vanityName") if isinstance(data.get("vanityName"), str) else ""
        vanity = vanity if re.match(r"^[A-Za-z0-9_-]{1,100}$", vanity or "") else ""
        url = f"{WEB_URL}/company/{vanity or org}/"
        description = data.get("localizedDescription") if isinstance(data.get("localizedDescription"), str) else ""
        return Organization(id=str(org), name=clean_text(name, 200), vanity_name=vanity, url=url,
                            description=clean_text(description, 2000))

    def follower_count(self) -> int | None:
        response = self.call("GET", f"/rest/networkSizes/{encode_urn(self.org_urn)}",
                             query={"edgeType": "COMPANY_FOLLOWED_BY_MEMBER"})
        return self._as_int(_dict(response.data).get("firstDegreeSize"))

    def fetch_profile(self) -> Profile:
        org = self.organization()
        return Profile(external_id=org.id, handle=org.vanity_name or f"organization-{org.id}",
                       display_name=org.name, url=org.url, bio=org.description, followers=self.follower_count())

    def follower_gains(self, start: datetime, end: datetime) -> list[dict[str, Any]]:
        """Daily organic and paid follower gains (``organizationalEntityFollowerStatistics``,
        time-bound): ``[{"day": date, "organic": n, "paid": n}]``."""
        raw = ("timeIntervals=(timeRange:(start:%d,end:%d),timeGranularityType:DAY)"
               % (int(start.timestamp() * 1000), int(end.timestamp() * 1000)))
        response = self.call("GET", "/rest/organizationalEntityFollowerStatistics",
                             query={"q": "organizationalEntity", "organizationalEntity": self.org_urn}, raw_query=raw)
        out = []
        for element in _list(_dict(response.data).get("elements")):
            element = _dict(element)
            day = _ms(_dict(_dict(element.get("timeRange"))).get("start"))
            gains = _dict(element.get("followerGains"))
            if day is None:
                continue
            out.append({"day": day.date(), "organic": self._as_int(gains.get("organicFollowerGain")),
                        "paid": self._as_int(gains.get("paidFollowerGain"))})
        return sorted(out, key=lambda row: row["day"])

    def fetch_post_metrics(self, external_ids: Sequence[str]) -> dict[str, PostMetrics]:
        ids = [i for i in dict.fromkeys(external_ids) if isinstance(i, str) and _URN.match(i)]
        out: dict[str, PostMetrics] = {}
        for kind, param in (("share", "shares"), ("ugcPost", "ugcPosts")):
            group = [i for i in ids if i.startswith(f"urn:li:{kind}:")]
            for chunk in (group[n:n + 20] for n in range(0, len(group), 20)):
                raw = f"{param}=List({','.join(encode_urn(i) for i in chunk)})"
                response = self.call("GET", "/rest/organizationalEntityShareStatistics",
                                     query={"q": "organizationalEntity", "organizationalEntity": self.org_urn},
                                     raw_query=raw)
                for element in _list(_dict(response.data).get("elements")):
                    element = _dict(element)
                    urn = element.get(kind) or element.get("share") or element.get("ugcPost")
                    if urn not in chunk:
                        continue
                    stats = _dict(element.get("totalShareStatistics"))
                    out[urn] = PostMetrics(
                        external_id=urn, impressions=self._as_int(stats.get("impressionCount")),
                        reach=self._as_int(stats.get("uniqueImpressionsCount")),
                        clicks=self._as_int(stats.get("clickCount")), likes=self._as_int(stats.get("likeCount")),
                        comments=self._as_int(stats.get("commentCount")),
                        shares=self._as_int(stats.get("shareCount")))
        for urn in ids:
            if urn not in out:
                out[urn] = self._missing_metrics(urn)
        return out

    def _missing_metrics(self, urn: str) -> PostMetrics:
        """No statistics row: the post is gone, or too new/old for statistics (12 months)."""
        response = self.call("GET", f"/rest/posts/{encode_urn(urn)}", accept=(404, 410))
        if response.status in (404, 410):
            return PostMetrics(external_id=urn, exists=False)
        return PostMetrics(external_id=urn)

    # -- tokens --------------------------------------------------------------------------------

    def _app(self) -> tuple[str, str, str]:
        client_id, secret, auth = self.client_id, self.client_secret, self.auth_base_url
        if not (client_id and secret and auth):
            from .. import oauth_flow

            app = oauth_flow.app_settings("linkedin")
            client_id = client_id or app.get("client_id", "")
            secret = secret or app.get("client_secret", "")
            auth = auth or oauth_flow.endpoint("linkedin", "auth", DEFAULT_AUTH_URL)
        if not client_id or not secret:
            raise Permanent(MSG_NO_APP)
        return client_id, secret, auth

    def refresh_credentials(self) -> Credentials:
        if not self.credentials.refresh_token:
            raise AuthExpired(MSG_NO_REFRESH, detail="no refresh token")
        client_id, secret, auth = self._app()
        new = token_request(auth, {"grant_type": "refresh_token", "refresh_token": self.credentials.refresh_token,
                                   "client_id": client_id, "client_secret": secret},
                            config=self.http.config, previous=self.credentials).credentials
        self._credentials_changed(new)
        return new


# -- the token endpoint (shared with connect.py) ---------------------------------------------------


@dataclass(frozen=True)
class TokenAnswer:
    credentials: Credentials
    refresh_expires_at: datetime | None = None  # the refresh token's own end (365 days)


def token_request(auth_base_url: str, form: dict[str, str], *, config=None,
                  previous: Credentials | None = None) -> TokenAnswer:
    """POST ``{auth}/oauth/v2/accessToken`` (form-encoded). ``invalid_grant`` (an expired,
    revoked or used code or refresh token) is ``AuthExpired``; other refusals ``Permanent``."""
    client = HttpClient(auth_base_url, config=config, account_key=f"linkedin-auth:{form.get('client_id', '')}",
                        network="linkedin")
    try:
        try:
            response = client.request("POST", "/oauth/v2/accessToken", data=form, auth=False,
                                      headers={"Content-Type": "application/x-www-form-urlencoded"},
                                      accept=(400, 401, 403))
        except Ambiguous as exc:  # a token request creates nothing that matters: ask again
            raise Retryable(MSG_TOKEN_UNREADABLE, detail=exc.detail, status=exc.status) from None
    finally:
        client.close()
    data = _dict(response.data)
    if response.status >= 400:
        detail = error_text(data, response.text)
        if data.get("error") == "invalid_grant" or response.status == 401:
            raise AuthExpired(MSG_REFRESH_REFUSED, detail=detail, status=response.status)
        raise Permanent(fill(MSG_REFUSED, reason=clean_text(detail, 300) or str(response.status)), detail=detail,
                        status=response.status)
    token = data.get("access_token")
    if not isinstance(token, str) or not token:
        raise Retryable(MSG_TOKEN_UNREADABLE, detail=f"{response.status}: no access_token in the answer")
    now = datetime.now(timezone.utc)
    expires_in = Connector._as_int(data.get("expires_in")) or ACCESS_TOKEN_DAYS * 86400
    refresh = data.get("refresh_token") if isinstance(data.get("refresh_token"), str) else ""
    credentials = Credentials(access_token=token,
                              refresh_token=refresh or (previous.refresh_token if previous else ""),
                              expires_at=now + timedelta(seconds=expires_in),
                              scope=clean_text(str(data.get("scope") or (previous.scope if previous else "")), 500))
    refresh_seconds = Connector._as_int(data.get("refresh_token_expires_in")) if refresh else None
    return TokenAnswer(credentials, now + timedelta(seconds=refresh_seconds) if refresh_seconds else None)


__all__ = ["API_VERSION", "Article", "LinkedInConnector", "Organization", "char_count", "escape_little",
           "TokenAnswer", "token_request", "unescape_little"]
