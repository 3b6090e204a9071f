"""Post previews that look like each network's post card.

The text is cut into segments (plain text, link, hashtag, mention) with the same entity
extraction the text rules use for that network, and the template renders each segment as
escaped text in its own element: nothing of the post is ever marked safe. Where a network's
feed truncates long posts behind "see more", the card does too.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import NamedTuple

from django.urls import reverse

from tertulia.networks.models import Network

from . import media
from .text_rules import bluesky, instagram, x

# Characters a network's feed shows before "see more" (None: the whole post).
TRUNCATE_AT: dict[str, int | None] = {
    Network.INSTAGRAM: 125,
    Network.FACEBOOK: 480,
    Network.LINKEDIN: 210,
    Network.THREADS: None,
    Network.X: None,
    Network.BLUESKY: None,
    Network.MASTODON: None,
    Network.TELEGRAM: None,
    Network.WORDPRESS: 300,
    Network.JOOMLA: 300,
}
MAX_IMAGES_SHOWN = 4


class Segment(NamedTuple):
    kind: str  # "text", "link", "hashtag", "mention"
    text: str


def _spans(network: str, text: str) -> list[tuple[int, int, str]]:
    """(start, end, kind) in code points, sorted, without overlaps."""
    spans: list[tuple[int, int, str]] = []
    if network == Network.BLUESKY:
        kinds = {"link": "link", "tag": "hashtag", "mention": "mention"}
        spans = [(f.start, f.end, kinds[f.kind]) for f in bluesky.detect_facets(text)]
    elif network == Network.INSTAGRAM:
        # Instagram captions do not link URLs; hashtags and mentions are highlighted.
        spans = [(m.start(), m.end(), "hashtag") for m in instagram._HASHTAG.finditer(text)]
        spans += [(m.start(), m.end(), "mention") for m in instagram._MENTION.finditer(text)]
    else:
        kinds = {"url": "link", "hashtag": "hashtag", "mention": "mention", "list": "mention", "cashtag": "hashtag"}
        entities = x.extract_entities(text)
        if network == Network.MASTODON:  # Mastodon links only URLs with a scheme
            entities = [e for e in entities if e.kind != "url"] + x.extract_urls(text, without_protocol=False)
        for e in entities:
            start, end = e.start, e.end
            if e.kind in ("hashtag", "mention", "list", "cashtag") and start > 0 and text[start - 1] in "#＃@＠$":
                start -= 1  # include the sign
            spans.append((start, end, kinds.get(e.kind, "text")))
    spans.sort()
    out, pos = [], 0
    for start, end, kind in spans:
        if start >= pos and end > start:
            out.append((start, end, kind))
            pos = end
    return out


def segments(network: str, text: str) -> list[Segment]:
    out: list[Segment] = []
    pos = 0
    for start, end, kind in _spans(network, text):
        if start > pos:
            out.append(Segment("text", text[pos:start]))
        out.append(Segment(kind, text[start:end]))
        pos = end
    if pos < len(text):
        out.append(Segment("text", text[pos:]))
    return out


def _cut(segs: list[Segment], limit: int) -> tuple[list[Segment], list[Segment]]:
    """Split ``segs`` after ``limit`` characters, never inside an entity."""
    shown, rest, used = [], [], 0
    for seg in segs:
        if rest:
            rest.append(seg)
        elif used + len(seg.text) <= limit:
            shown.append(seg)
            used += len(seg.text)
        elif seg.kind == "text":
            cut = limit - used
            space = seg.text.rfind(" ", 0, cut)
            cut = space if space > cut // 2 else cut
            shown.append(Segment("text", seg.text[:cut]))
            rest.append(Segment("text", seg.text[cut:]))
            used = limit
        else:
            rest.append(seg)
    return shown, rest


@dataclass
class Preview:
    network: str
    label: str
    name: str
    handle: str
    initial: str
    segments: list[Segment]
    more: list[Segment] = field(default_factory=list)
    images: list[dict] = field(default_factory=list)
    extra_images: int = 0
    first_comment: str = ""

    @property
    def truncated(self) -> bool:
        return bool(self.more)


def build(network: str, text: str, *, brand, accounts=(), assets=(), first_comment: str = "") -> Preview:
    account = next((a for a in accounts if a.network == network), None)
    name = (account.display_name or account.handle) if account else brand.name
    handle = account.handle if account else ""
    initial = (name.strip()[:1] or "?").upper()
    segs = segments(network, text)
    limit = TRUNCATE_AT.get(network)
    more: list[Segment] = []
    if limit is not None and len(text) > limit:
        segs, more = _cut(segs, limit)
    images = [{"url": reverse("media_preview", args=[brand.pk, a.pk]), "alt": a.alt_text}
              for a in list(assets)[:MAX_IMAGES_SHOWN]]
    return Preview(network, media.network_label(network), name, handle, initial, segs, more, images,
                   max(0, len(assets) - MAX_IMAGES_SHOWN), first_comment if first_comment else "")
