"""A YouTube video's own fields (title, tags, privacy, scheduled publication) and YouTube's
rules for them, checked before anything is sent (videos.insert answers 400 ``invalidTitle``,
``invalidDescription``, ``invalidTags`` or ``invalidPublishAt`` otherwise).

The rules (developers.google.com/youtube/v3/docs/videos, snippet and status):
- title: required, at most 100 characters, no ``<`` or ``>``;
- description: at most 5,000 bytes of UTF-8, no ``<`` or ``>``;
- tags: at most 500 characters in all, counting the comma between two tags and the quotes
  YouTube puts around a tag that contains a space;
- ``status.publishAt``: only for a video uploaded as ``private``; YouTube makes it public at
  that time, which must be in the future.

When a post has no YouTube settings of its own, they are made from its text: the first line is
the title, the text the description, its hashtags the tags.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timezone

from django.utils.translation import gettext_lazy as _

from ..errors import fill

MAX_TITLE = 100
MAX_DESCRIPTION_BYTES = 5000
MAX_TAGS_CHARS = 500
MAX_TAG = 100
# Room kept in the tags for the idempotency marker the upload adds as a tag of its own
# (``tertulia-<target>-<version>`` and its comma): settings are checked against the rest.
MARKER_RESERVE = 40
PRIVACY = ("public", "unlisted", "private")
DEFAULT_CATEGORY = "22"  # People & Blogs, YouTube's own default
_HASHTAG = re.compile(r"(?<![\w#])#(\w{1,100})")
_CATEGORY = re.compile(r"^\d{1,3}$")

MSG_TITLE_REQUIRED = _("A YouTube video needs a title.")
MSG_TITLE_LONG = _("The YouTube title is %(count)s characters long; YouTube accepts at most 100.")
MSG_TITLE_ANGLE = _("YouTube does not accept the characters < and > in a title.")
MSG_DESCRIPTION_LONG = _("The YouTube description is %(count)s bytes long; YouTube accepts at most 5,000 bytes "
                         "(accented letters and emoji take more than one byte).")
MSG_DESCRIPTION_ANGLE = _("YouTube does not accept the characters < and > in a description.")
MSG_TAGS_LONG = _("The YouTube tags take %(count)s characters; YouTube accepts at most 500 in all (commas "
                  "between tags count, and tags with spaces count two more for quotes).")
MSG_TAGS_LONG_RESERVED = _("The YouTube tags take %(count)s characters; at most %(limit)s fit. YouTube accepts 500 "
                           "in all and Tertulia adds one tag of its own to find the video again (commas between "
                           "tags count, and tags with spaces count two more for quotes).")
MSG_TAG_ANGLE = _("YouTube does not accept the characters < and > in a tag.")
MSG_PRIVACY = _("Choose public, unlisted or private for the YouTube video.")
MSG_PUBLISH_AT_PRIVATE = _("A YouTube video with a scheduled publication time must be uploaded as private: "
                           "YouTube keeps it private until that time and then makes it public.")
MSG_PUBLISH_AT_PAST = _("The YouTube publication time must be in the future.")
MSG_CATEGORY = _("The YouTube category must be a category number, such as 22.")


@dataclass(frozen=True)
class VideoOptions:
    title: str
    description: str = ""
    tags: tuple[str, ...] = ()
    privacy: str = "public"
    publish_at: datetime | None = None
    category_id: str = DEFAULT_CATEGORY
    made_for_kids: bool = False


def tags_length(tags) -> int:
    """How YouTube counts the tags' length: each tag, plus 2 for quotes when it has a space,
    plus one comma between two tags."""
    tags = [t for t in tags if t]
    return sum(len(t) + (2 if " " in t else 0) for t in tags) + max(0, len(tags) - 1)


def parse_tags(value) -> tuple[str, ...]:
    """Tags from a comma-separated string or a list: trimmed, whitespace collapsed, ``#``
    dropped, duplicates (case-insensitive) removed, in order."""
    if isinstance(value, str):
        value = value.split(",")
    out: list[str] = []
    seen: set[str] = set()
    for raw in value or ():
        tag = " ".join(str(raw).split()).lstrip("#").strip()
        if tag and tag.casefold() not in seen:
            seen.add(tag.casefold())
            out.append(tag)
    return tuple(out)


def problems(options: VideoOptions, *, now: datetime | None = None, reserve: int = 0) -> list:
    """YouTube's refusals for these fields, as lazy messages (empty: fine). ``reserve``: tag
    characters kept for the marker tag the upload adds (``MARKER_RESERVE`` for settings a
    person types; 0 for the tags as uploaded, the marker included)."""
    now = now or datetime.now(timezone.utc)
    out: list = []
    title = options.title or ""
    if not title.strip():
        out.append(MSG_TITLE_REQUIRED)
    elif len(title) > MAX_TITLE:
        out.append(fill(MSG_TITLE_LONG, count=len(title)))
    if "<" in title or ">" in title:
        out.append(MSG_TITLE_ANGLE)
    size = len((options.description or "").encode("utf-8"))
    if size > MAX_DESCRIPTION_BYTES:
        out.append(fill(MSG_DESCRIPTION_LONG, count=size))
    if "<" in (options.description or "") or ">" in (options.description or ""):
        out.append(MSG_DESCRIPTION_ANGLE)
    if tags_length(options.tags) > MAX_TAGS_CHARS - reserve:
        if reserve:
            out.append(fill(MSG_TAGS_LONG_RESERVED, count=tags_length(options.tags), limit=MAX_TAGS_CHARS - reserve))
        else:
            out.append(fill(MSG_TAGS_LONG, count=tags_length(options.tags)))
    if any("<" in t or ">" in t for t in options.tags):
        out.append(MSG_TAG_ANGLE)
    if options.privacy not in PRIVACY:
        out.append(MSG_PRIVACY)
    if options.publish_at is not None:
        if options.privacy != "private":
            out.append(MSG_PUBLISH_AT_PRIVATE)
        if options.publish_at <= now:
            out.append(MSG_PUBLISH_AT_PAST)
    if not _CATEGORY.match(options.category_id or ""):
        out.append(MSG_CATEGORY)
    return out


def _safe(text: str) -> str:
    # YouTube refuses < and > in titles and descriptions; in text written for every network
    # they become the look-alike single angle quotes instead of a refusal.
    return (text or "").replace("<", "\u2039").replace(">", "\u203a")


def from_text(text: str, *, privacy: str = "public") -> VideoOptions:
    """Fields made from a post's text: the first line as the title (cut at 100 characters on
    a word), the whole text as the description (cut to 5,000 bytes), its hashtags as tags."""
    text = _safe(text or "").strip()
    first = next((line.strip() for line in text.splitlines() if line.strip()), "")
    title = first
    if len(title) > MAX_TITLE:
        title = title[:MAX_TITLE - 1].rsplit(" ", 1)[0].rstrip() + "\u2026"
    description = text
    data = description.encode("utf-8")
    if len(data) > MAX_DESCRIPTION_BYTES:
        description = data[:MAX_DESCRIPTION_BYTES].decode("utf-8", errors="ignore")
    tags: list[str] = []
    for tag in parse_tags(_HASHTAG.findall(text)):
        if tags_length([*tags, tag]) > MAX_TAGS_CHARS - MARKER_RESERVE:  # room for the marker
            break
        tags.append(tag)
    return VideoOptions(title=title, description=description, tags=tuple(tags), privacy=privacy)
