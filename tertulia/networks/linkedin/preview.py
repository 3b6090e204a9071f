"""Link previews for LinkedIn posts. LinkedIn does not read a link's page for posts made
through the API: without ``content.article`` a link is only a link. So, for a text post with a
link and no images, Tertulia reads the page itself (through the SSRF-safe fetcher: public
addresses only, at most 1 MB, a few seconds) and sends its Open Graph title, description and
image as the article. Anything that fails leaves the post as plain text with its link."""

from __future__ import annotations

import logging
from html.parser import HTMLParser

from ..base import MediaItem
from ..http import FetchError, HttpConfig, clean_text, fetch_url, safe_url
from .connector import IMAGE_TYPES, Article

log = logging.getLogger(__name__)
MAX_PAGE = 1024 * 1024
MAX_THUMBNAIL = 5 * 1024 * 1024
TIMEOUT = 8.0


class _Meta(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.meta: dict[str, str] = {}
        self.title = ""
        self._in_title = False

    def handle_starttag(self, tag, attrs):
        attrs = {k.lower(): (v or "") for k, v in attrs}
        if tag == "meta":
            key = (attrs.get("property") or attrs.get("name") or "").lower()
            if key in ("og:title", "og:description", "og:image", "description", "twitter:title") \
                    and key not in self.meta:
                self.meta[key] = attrs.get("content", "")
        elif tag == "title" and not self.title:
            self._in_title = True

    def handle_endtag(self, tag):
        if tag == "title":
            self._in_title = False

    def handle_data(self, data):
        if self._in_title:
            self.title += data


def page_article(url: str, *, config: HttpConfig | None = None, thumbnail: bool = True) -> Article | None:
    """The article LinkedIn should show for ``url``, or None when the page cannot be read."""
    source = safe_url(url, 2000)
    if not source:
        return None
    try:
        page = fetch_url(source, config=config, max_bytes=MAX_PAGE, total_timeout=TIMEOUT)
    except FetchError as exc:
        log.info("linkedin preview %s: %s", source[:200], exc)
        return None
    if "html" not in page.headers.get("content-type", "text/html").lower():
        return None
    parser = _Meta()
    try:
        parser.feed(page.body.decode("utf-8", errors="replace"))
    except Exception:  # noqa: BLE001 - a broken page gives no preview, never an error
        return None
    title = clean_text(parser.meta.get("og:title") or parser.meta.get("twitter:title") or parser.title, 400)
    if not title:
        return None
    description = clean_text(parser.meta.get("og:description") or parser.meta.get("description") or "", 1000)
    image = None
    image_url = safe_url(parser.meta.get("og:image", ""), 2000)
    if thumbnail and image_url:
        image = _thumbnail(image_url, config)
    return Article(source=source, title=" ".join(title.split()), description=" ".join(description.split()),
                   thumbnail=image)


def _thumbnail(url: str, config: HttpConfig | None) -> MediaItem | None:
    try:
        fetched = fetch_url(url, config=config, max_bytes=MAX_THUMBNAIL, total_timeout=TIMEOUT)
    except FetchError:
        return None
    mime = fetched.headers.get("content-type", "").split(";")[0].strip().lower()
    if mime not in IMAGE_TYPES or not fetched.body:
        return None
    return MediaItem(filename="preview", mime_type=mime, content=fetched.body)
