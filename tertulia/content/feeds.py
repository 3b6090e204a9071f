"""RSS and Atom feeds of the brand's sources, whose new entries become cards in the Idea column.

Feed addresses are typed in by users, so they are fetched only through the one SSRF-safe HTTP
layer (``tertulia.networks.http.fetch_url``): private, loopback and link-local addresses are
refused, on every redirect too, the body is capped and the whole fetch has a deadline. Fetches
are conditional (ETag / Last-Modified), so an unchanged feed costs one 304. feedparser only ever
parses the bytes we fetched; it never fetches anything itself.

Entries are deduplicated by ``(brand, feed_guid)`` (the entry's id, else its link), which the
database also enforces, so a fetch from the hourly task and a "Fetch now" at the same moment
cannot create the same card twice. A feed that cannot be fetched or read keeps its cards, gets
``last_error`` in plain words, and creates nothing.
"""

from __future__ import annotations

import hashlib
import html
import ipaddress
import logging
import re
from urllib.parse import urlsplit

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Max
from django.utils import timezone
from django.utils.html import strip_tags
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from tertulia.core import roles
from tertulia.core.models import Brand
from tertulia.core.services import Ctx, _log, _require
from tertulia.networks.http import FetchError, HttpConfig, fetch_url, is_public_address

from .ideas import NOTES_MAX, TITLE_MAX, URL_MAX, clean_source_url
from .models import Feed, Idea

log = logging.getLogger(__name__)

MAX_FEED_BYTES = 2 * 1024 * 1024
MAX_ENTRIES_PER_FETCH = 50
MAX_FEEDS_PER_BRAND = 50
NOTES_FROM_FEED = 1500
FETCH_TIMEOUT = 20.0

# Stored in English (the msgid) and translated when shown: a feed's error is read by everyone on
# the team, in their own language.
ERRORS = {
    "private": gettext_noop("This address points to a private or local network, which Tertulia does not contact."),
    "bad_url": gettext_noop("This is not a valid web address."),
    "connect": gettext_noop("We could not reach the site. We will try again in an hour."),
    "timeout": gettext_noop("The site took too long to answer. We will try again in an hour."),
    "too_large": gettext_noop("The feed is larger than 2 MB, so we did not read it."),
    "redirects": gettext_noop("The address redirects too many times."),
    "not_found": gettext_noop("The site says this feed does not exist (error 404). Check the address."),
    "status": gettext_noop("The site answered with an error. We will try again in an hour."),
    "not_a_feed": gettext_noop("This address is a web page, not an RSS or Atom feed. Look for the feed's own address."),
    "malformed": gettext_noop("The feed is broken (it is not valid RSS or Atom), so nothing was added."),
}


def error_message(code_or_text: str) -> str:
    """The stored error in the reader's language."""
    return _(code_or_text) if code_or_text else ""


# --- services ---------------------------------------------------------------------------------


def clean_feed_url(url) -> str:
    url = clean_source_url(url, field="url")
    if not url:
        raise ValidationError({"url": [_("Enter the address of an RSS or Atom feed.")]})
    # An address written as a private IP is refused at once (a host name is checked when it is
    # fetched, on the address it resolves to, as is every redirect).
    host = (urlsplit(url).hostname or "").strip("[]")
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        ip = None
    if ip is not None and not is_public_address(ip) and not HttpConfig().allow_private_networks:
        raise ValidationError({"url": [_(ERRORS["private"])]})
    return url


@transaction.atomic
def do_add_feed(ctx: Ctx, brand: Brand, url) -> Feed:
    _require(ctx, brand, roles.COMPOSE)
    url = clean_feed_url(url)
    if Feed.objects.filter(brand=brand, url=url).exists():
        raise ValidationError({"url": [_("This feed is already on the board.")]})
    if Feed.objects.filter(brand=brand).count() >= MAX_FEEDS_PER_BRAND:
        raise ValidationError({"url": [_("A brand can follow at most %(n)s feeds.") % {"n": MAX_FEEDS_PER_BRAND}]})
    try:
        with transaction.atomic():
            feed = Feed.objects.create(brand=brand, url=url)
    except IntegrityError:
        raise ValidationError({"url": [_("This feed is already on the board.")]}) from None
    _log(ctx, "feed.add", brand=brand, obj=feed, changes={"url": url})
    return feed


@transaction.atomic
def do_remove_feed(ctx: Ctx, feed: Feed) -> None:
    """Stop following a feed. The ideas it brought stay on the board."""
    _require(ctx, feed.brand, roles.COMPOSE)
    _log(ctx, "feed.remove", brand=feed.brand, obj=feed, changes={"url": feed.url})
    feed.delete()


def do_fetch_feed(ctx: Ctx, feed: Feed, *, config: HttpConfig | None = None,
                  allow_loopback: bool = False) -> int:
    """"Fetch now": fetch one feed as this user; returns how many new ideas it created."""
    _require(ctx, feed.brand, roles.COMPOSE)
    created = fetch_feed(feed, config=config, allow_loopback=allow_loopback)
    _log(ctx, "feed.fetch", brand=feed.brand, obj=feed,
         changes={"created": created, "error": feed.last_error})
    return created


# --- fetching and parsing ---------------------------------------------------------------------


_BLOCK_TAG = re.compile(r"<(?:br|/?p|/?div|/?li|/?h[1-6]|/?blockquote|/?tr|/?td)\b[^>]*>", re.IGNORECASE)


def _text(value, limit: int) -> str:
    """Plain text from an entry field that may hold HTML: tags stripped, entities decoded,
    whitespace collapsed, control characters dropped, truncated on a word boundary."""
    text = _BLOCK_TAG.sub(" ", str(value or ""))  # "</p><p>" must leave a space between sentences
    text = html.unescape(strip_tags(text))
    text = re.sub(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]", "", text)
    text = " ".join(text.split())
    if len(text) > limit:
        cut = text[: limit - 1]
        if " " in cut[limit // 2:]:
            cut = cut[: cut.rfind(" ")]
        text = cut.rstrip(" ,.;:") + "…"
    return text


def _guid(entry) -> str:
    guid = str(entry.get("id") or entry.get("guid") or entry.get("link") or "").strip()
    if not guid:
        title = str(entry.get("title") or "").strip()
        if not title:
            return ""
        guid = "title:" + title
    if len(guid) > 500:
        guid = "sha256:" + hashlib.sha256(guid.encode("utf-8", "surrogatepass")).hexdigest()
    return guid


def _link(entry) -> str:
    link = str(entry.get("link") or "").strip()
    if not link or len(link) > URL_MAX:
        return ""
    try:
        return clean_source_url(link)
    except ValidationError:
        return ""  # javascript:, data:, relative junk: keep the idea, drop the link


def parse_feed(body: bytes, content_type: str = ""):
    """feedparser's result for bytes we fetched, or raise ValueError with an ERRORS code."""
    import feedparser

    headers = {"content-type": content_type} if content_type else {}
    parsed = feedparser.parse(body, response_headers=headers)
    if not parsed.get("version"):
        if parsed.get("bozo") and not parsed.entries and b"<html" not in body[:2000].lower():
            raise ValueError("malformed")
        raise ValueError("not_a_feed")
    if parsed.get("bozo"):
        exc = parsed.get("bozo_exception")
        benign = (feedparser.CharacterEncodingOverride, feedparser.NonXMLContentType)
        if not isinstance(exc, benign):
            raise ValueError("malformed")
    return parsed


def _fail(feed: Feed, code: str, detail: str = "") -> int:
    feed.last_error = ERRORS[code]
    feed.last_fetched_at = timezone.now()
    feed.save(update_fields=["last_error", "last_fetched_at"])
    log.info("feed %s (brand %s) failed: %s %s", feed.pk, feed.brand_id, code, detail[:300])
    return 0


def fetch_feed(feed: Feed, *, config: HttpConfig | None = None, allow_loopback: bool = False) -> int:
    """Fetch one feed and add its new entries to the Idea column. Returns how many were added.
    Never raises for what the remote side does: the problem goes to ``feed.last_error``."""
    headers = {"Accept": "application/rss+xml, application/atom+xml, application/xml;q=0.9, text/xml;q=0.8, */*;q=0.1"}
    if feed.etag:
        headers["If-None-Match"] = feed.etag
    if feed.modified:
        headers["If-Modified-Since"] = feed.modified
    try:
        fetched = fetch_url(feed.url, config=config or HttpConfig(connect_timeout=5.0, read_timeout=10.0),
                            headers=headers, max_bytes=MAX_FEED_BYTES, total_timeout=FETCH_TIMEOUT,
                            allow_loopback=allow_loopback)
    except FetchError as exc:
        code = exc.reason if exc.reason in ERRORS else "connect"
        if exc.reason == "status" and exc.status in (404, 410):
            code = "not_found"
        return _fail(feed, code, exc.detail)
    if fetched.status == 304:
        feed.last_error = ""
        feed.last_fetched_at = timezone.now()
        feed.save(update_fields=["last_error", "last_fetched_at"])
        return 0
    try:
        parsed = parse_feed(fetched.body, fetched.headers.get("content-type", ""))
    except ValueError as exc:
        return _fail(feed, str(exc))
    except Exception as exc:  # feedparser on hostile bytes: never take the task down
        log.exception("feedparser failed on feed %s", feed.pk)
        return _fail(feed, "malformed", repr(exc))
    created = _store_entries(feed, parsed)
    feed.etag = (fetched.headers.get("etag") or "")[:300]
    feed.modified = (fetched.headers.get("last-modified") or "")[:100]
    if not feed.title:
        feed.title = _text(parsed.feed.get("title"), 300)
    feed.last_error = ""
    feed.last_fetched_at = timezone.now()
    feed.save(update_fields=["etag", "modified", "title", "last_error", "last_fetched_at"])
    return created


@transaction.atomic
def _store_entries(feed: Feed, parsed) -> int:
    brand = feed.brand
    entries = []
    seen: set[str] = set()
    for entry in parsed.entries[:MAX_ENTRIES_PER_FETCH]:
        guid = _guid(entry)
        if not guid or guid in seen:
            continue
        seen.add(guid)
        entries.append((guid, entry))
    if not entries:
        return 0
    existing = set(Idea.objects.filter(brand=brand, feed_guid__in=[g for g, _e in entries])
                   .values_list("feed_guid", flat=True))
    fresh = [(g, e) for g, e in entries if g not in existing]
    # Feeds list the newest first; cards go to the bottom of the Idea column oldest first, so
    # the newest ends up last, right where the eye finishes reading the column.
    fresh.reverse()
    top = Idea.objects.filter(brand=brand, status=Idea.Status.IDEA).aggregate(m=Max("position"))["m"]
    position = 0 if top is None else top + 1
    ideas = []
    for guid, entry in fresh:
        title = _text(entry.get("title"), TITLE_MAX) or _text(entry.get("summary"), 120) or _link(entry)[:TITLE_MAX]
        if not title:
            continue
        notes = _text(entry.get("summary") or entry.get("description"), min(NOTES_FROM_FEED, NOTES_MAX))
        ideas.append(Idea(brand=brand, title=title, notes=notes, source_url=_link(entry), feed=feed,
                          feed_guid=guid, status=Idea.Status.IDEA, position=position))
        position += 1
    # A concurrent fetch of the same feed may have inserted some of these since we looked: the
    # partial unique constraint turns those into no-ops.
    if not ideas:
        return 0
    Idea.objects.bulk_create(ideas, ignore_conflicts=True)
    return Idea.objects.filter(brand=brand, feed_guid__in=[i.feed_guid for i in ideas]).count()


def fetch_all_feeds() -> dict:
    """Fetch every feed of every brand, each on its own: one failure does not stop the rest."""
    done = failed = created = 0
    for feed_id in (Feed.objects.filter(brand__deleted_at__isnull=True).order_by("last_fetched_at", "pk")
                    .values_list("pk", flat=True)):
        feed = Feed.objects.select_related("brand").filter(pk=feed_id).first()
        if feed is None:
            continue  # removed meanwhile
        try:
            created += fetch_feed(feed)
            done += 1
            if feed.last_error:
                failed += 1
        except Exception:  # a bug with one feed must not stop the others
            log.exception("fetching feed %s failed", feed_id)
            failed += 1
    return {"feeds": done, "failed": failed, "created": created}
