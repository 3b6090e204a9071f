"""API routes for a post's YouTube video settings, under /brands/{brand_id}/posts/{post_id}/youtube.

Thin like the other routers: the brand from ``scoping.get_brand`` (404 for strangers), the post
through ``for_user``, the write through ``services.do_set_video_settings`` (YouTube's rules,
the audit log with via="api"). Reading needs VIEW; writing needs COMPOSE."""


from datetime import datetime
from typing import Literal

from ninja import Field, Router, Schema

from tertulia.core import roles
from tertulia.core.api import In, Text, _ctx, _one, _responses
from tertulia.core.scoping import get_brand

from . import services

router = Router()


class VideoSettingsOut(Schema):
    post_id: int
    custom: bool = Field(description="False: nothing chosen yet; the values are what the text gives.")
    title: str = Field(description="Empty: the first line of the post's text (title_from_text).")
    tags: list[str]
    privacy: Literal["public", "unlisted", "private"]
    publish_at: datetime | None
    category_id: str
    made_for_kids: bool
    title_from_text: str
    tags_from_text: list[str]


class VideoSettingsIn(In):
    title: Text(100) = ""
    tags: list[Text(100)] = Field([], max_length=100)
    privacy: Literal["public", "unlisted", "private"] = "public"
    publish_at: datetime | None = Field(None, description="Needs privacy 'private'; a time without an offset is "
                                                          "read in the brand's time zone.")
    category_id: str = Field("22", pattern=r"^\d{1,3}$")
    made_for_kids: bool = False


def _out(post) -> dict:
    row = services.video_settings(post)
    base = services.defaults_for(post)
    out = {"post_id": post.pk, "custom": row is not None, "title_from_text": base.title,
           "tags_from_text": list(base.tags)}
    if row is None:
        out.update(title="", tags=[], privacy="public", publish_at=None, category_id="22", made_for_kids=False)
    else:
        out.update(title=row.title, tags=list(row.tags), privacy=row.privacy, publish_at=row.publish_at,
                   category_id=row.category_id, made_for_kids=row.made_for_kids)
    return out


def _post(request, brand_id: int, post_id: int, permission: str):
    from tertulia.content.models import Post

    brand = get_brand(request.user, brand_id, permission)
    return _one(Post.objects.for_user(request.user, permission).select_related("brand"), pk=post_id, brand=brand)


@router.get("/brands/{brand_id}/posts/{post_id}/youtube", response=_responses(200, VideoSettingsOut), tags=["youtube"])
def youtube_settings_get(request, brand_id: int, post_id: int):
    """The post's YouTube title, tags, privacy and scheduled publication."""
    return _out(_post(request, brand_id, post_id, roles.VIEW))


@router.put("/brands/{brand_id}/posts/{post_id}/youtube", response=_responses(200, VideoSettingsOut), tags=["youtube"])
def youtube_settings_put(request, brand_id: int, post_id: int, payload: VideoSettingsIn):
    """Set the post's YouTube fields (checked with YouTube's rules: 422 with the reasons)."""
    from tertulia.content.calendar import make_aware_local

    post = _post(request, brand_id, post_id, roles.COMPOSE)
    publish_at = make_aware_local(payload.publish_at, post.brand.tzinfo) if payload.publish_at else None
    services.do_set_video_settings(_ctx(request), post, title=payload.title, tags=payload.tags,
                                   privacy=payload.privacy, publish_at=publish_at, category_id=payload.category_id,
                                   made_for_kids=payload.made_for_kids)
    return _out(post)
