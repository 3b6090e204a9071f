"""Writes for YouTube's own rows: a post's video settings, checked against YouTube's rules
(``options.problems``) before they are stored, with the permission check and the audit log."""

from __future__ import annotations

from datetime import datetime

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from tertulia.core import audit, roles
from tertulia.core.services import Ctx, _log, _require

from . import options as opts
from .models import YouTubeVideoSettings

FIELDS = ("title", "tags", "privacy", "publish_at", "category_id", "made_for_kids")


def video_settings(post) -> YouTubeVideoSettings | None:
    return YouTubeVideoSettings.objects.filter(brand_id=post.brand_id, post=post).first()


def youtube_text(post) -> str:
    """The text the video's description comes from: the YouTube variant, else the post's."""
    from tertulia.content.models import PostVariant

    variant = PostVariant.objects.filter(post=post, network="youtube").first()
    return variant.effective_text if variant else post.text


def defaults_for(post) -> opts.VideoOptions:
    """What the video gets from the post's text when a field is left empty."""
    return opts.from_text(youtube_text(post))


def initial(post, row: YouTubeVideoSettings | None) -> dict:
    if row is None:
        return {"privacy": "public", "category_id": opts.DEFAULT_CATEGORY}
    local = row.publish_at.astimezone(post.brand.tzinfo).replace(tzinfo=None) if row.publish_at else None
    return {"title": row.title, "tags": ", ".join(row.tags), "privacy": row.privacy, "publish_at": local,
            "category_id": row.category_id, "made_for_kids": row.made_for_kids}


@transaction.atomic
def do_set_video_settings(ctx: Ctx, post, *, title: str = "", tags=(), privacy: str = "public",
                          publish_at: datetime | None = None, category_id: str = opts.DEFAULT_CATEGORY,
                          made_for_kids: bool = False) -> YouTubeVideoSettings:
    """Store the video's fields for a post. They are checked as YouTube would, together with
    what the text gives for the empty ones (the description always comes from the text)."""
    _require(ctx, post.brand, roles.COMPOSE)
    tags = opts.parse_tags(tags)
    title = " ".join((title or "").split())
    base = defaults_for(post)
    candidate = opts.VideoOptions(title=title or base.title, description=base.description,
                                  tags=tags or base.tags, privacy=privacy, publish_at=publish_at,
                                  category_id=category_id or opts.DEFAULT_CATEGORY, made_for_kids=made_for_kids)
    # The upload adds the marker as one more tag: keep room for it, or the post would fail then.
    found = opts.problems(candidate, reserve=opts.MARKER_RESERVE)
    if found:
        raise ValidationError([str(p) for p in found])
    row = YouTubeVideoSettings.objects.select_for_update().filter(brand_id=post.brand_id, post=post).first()
    before = audit.snapshot(row, FIELDS) if row else {}
    if row is None:
        row = YouTubeVideoSettings(brand_id=post.brand_id, post=post)
    row.title, row.tags, row.privacy, row.publish_at = title, list(tags), privacy, publish_at
    row.category_id, row.made_for_kids, row.updated_at = candidate.category_id, made_for_kids, timezone.now()
    row.save()
    _log(ctx, "youtube.video_settings", brand=post.brand, obj=post,
         changes=audit.diff(before, audit.snapshot(row, FIELDS)))
    return row
