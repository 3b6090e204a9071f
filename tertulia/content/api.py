"""API routes for the media library: list, get, upload (multipart), change alt text and
tags, crop to a preset, delete.

Thin handlers in the core API's style: the brand from ``scoping.get_brand``, assets through
``MediaAsset.objects.for_user``, writes through the ``do_*_media`` services (audited with
``via="api"``). The files themselves are served by the web view named in ``file_url``.
"""

from datetime import datetime
from enum import Enum

from django.urls import reverse
from ninja import Field, File, Form, Query, Router, Schema, Status
from ninja.files import UploadedFile
from ninja.pagination import LimitOffsetPagination, paginate

from tertulia.core import roles
from tertulia.core.api import MAX_PAGE, Error, FieldErrors, In, Patch, Text, Word, _ctx, _one, _responses, _values
from tertulia.core.scoping import get_brand

from . import media, services
from .media_views import serve_asset
from .models import MediaAsset

router = Router(tags=["media"])

Preset = Enum("Preset", {key: key for key in media.PRESETS}, type=str)


class ProblemOut(Schema):
    code: str
    message: str
    index: int | None = None
    level: str = Field("error", description='"error" blocks a post; "warning" is advice.')


class MediaOut(Schema):
    id: int
    brand_id: int
    kind: str
    mime_type: str
    size_bytes: int
    width: int | None
    height: int | None
    duration_seconds: float | None = Field(None, description="Videos: the length in seconds.")
    container: str = Field("", description="Videos: mp4, mov, webm or mkv.")
    video_codec: str = Field("", description="Videos: the video codec as ffmpeg names it (h264, hevc, vp9…).")
    audio_codec: str = Field("", description="Videos: the sound's codec (aac, opus…); empty when silent.")
    frame_rate: float | None = Field(None, description="Videos: frames per second.")
    bitrate: int | None = Field(None, description="Videos: bits per second.")
    sha256: str
    alt_text: str
    tags: list[str]
    preset: str
    derived_from_id: int | None
    created_at: datetime
    file_url: str
    preview_url: str
    network_problems: dict[str, list[ProblemOut]] = Field(
        ..., description="For each network, why it would refuse this image (empty: accepted)."
    )

    @staticmethod
    def resolve_file_url(obj):
        return reverse("media_file", args=[obj.brand_id, obj.pk])

    @staticmethod
    def resolve_preview_url(obj):
        return reverse("media_preview", args=[obj.brand_id, obj.pk])

    @staticmethod
    def resolve_network_problems(obj):
        return {network: [{"code": p.code, "message": p.message, "index": p.index, "level": p.level}
                          for p in problems]
                for network, _label, problems in media.fit_report(obj)}


class MediaPatch(Patch):
    alt_text: Text(1500) = None
    tags: list[Word] = Field(None, max_length=services.MAX_TAGS)


class CropIn(In):
    preset: Preset


class MediaFilter(Schema):
    tag: Text(50) | None = Field(None, description="Only assets with this tag.")


@router.get("/brands/{brand_id}/media", response=_responses(200, list[MediaOut]))
@paginate(LimitOffsetPagination, max_limit=MAX_PAGE)
def media_list(request, brand_id: int, filters: Query[MediaFilter]):
    brand = get_brand(request.user, brand_id)
    qs = MediaAsset.objects.for_user(request.user).filter(brand=brand).order_by("-created_at", "-id")
    if filters.tag:
        tag = filters.tag.lstrip("#").lower()
        return [a for a in qs if tag in (t.lower() for t in a.tags)]
    return qs


@router.post("/brands/{brand_id}/media", response=_responses(201, MediaOut))
def media_upload(request, brand_id: int, file: File[UploadedFile], alt_text: Form[str] = "",
                 tags: Form[str] = ""):
    """Upload an image or a video (multipart). It is validated by its content (a video is
    probed: container, codecs, duration, size); ``tags`` are comma separated. Uploading a file
    the brand already has returns the existing asset."""
    brand = get_brand(request.user, brand_id, roles.COMPOSE)
    asset = services.do_upload_media(_ctx(request), brand, file, alt_text=alt_text, tags=tags)
    return Status(201, asset)


@router.get("/brands/{brand_id}/media/{asset_id}", response=_responses(200, MediaOut))
def media_get(request, brand_id: int, asset_id: int):
    brand = get_brand(request.user, brand_id)
    return _one(MediaAsset.objects.for_user(request.user), pk=asset_id, brand=brand)


@router.patch("/brands/{brand_id}/media/{asset_id}", response=_responses(200, MediaOut))
def media_update(request, brand_id: int, asset_id: int, payload: MediaPatch):
    brand = get_brand(request.user, brand_id, roles.COMPOSE)
    asset = _one(MediaAsset.objects.for_user(request.user, roles.COMPOSE).select_related("brand"),
                 pk=asset_id, brand=brand)
    return services.do_update_media(_ctx(request), asset, **_values(payload))


@router.post("/brands/{brand_id}/media/{asset_id}/crops", response=_responses(201, MediaOut))
def media_crop(request, brand_id: int, asset_id: int, payload: CropIn):
    """A new asset cropped from the centre and resized to a network's recommended size."""
    brand = get_brand(request.user, brand_id, roles.COMPOSE)
    asset = _one(MediaAsset.objects.for_user(request.user, roles.COMPOSE).select_related("brand"),
                 pk=asset_id, brand=brand)
    return Status(201, services.do_crop_media(_ctx(request), asset, payload.preset.value))


@router.delete("/brands/{brand_id}/media/{asset_id}", response=_responses(204, None))
def media_delete(request, brand_id: int, asset_id: int):
    brand = get_brand(request.user, brand_id, roles.COMPOSE)
    asset = _one(MediaAsset.objects.for_user(request.user, roles.COMPOSE).select_related("brand"),
                 pk=asset_id, brand=brand)
    services.do_delete_media(_ctx(request), asset)
    return Status(204, None)


@router.get("/brands/{brand_id}/media/{asset_id}/file", response={401: Error, 403: Error, 404: Error, 422: FieldErrors},
            openapi_extra={"responses": {200: {"description": "The image, with its own content type.",
                                               "content": {"image/*": {"schema": {"type": "string",
                                                                                  "format": "binary"}}}}}})
def media_file(request, brand_id: int, asset_id: int, preview: bool = False):
    """Download the stored image (``preview=true``: the small WebP preview)."""
    brand = get_brand(request.user, brand_id)
    asset = _one(MediaAsset.objects.for_user(request.user), pk=asset_id, brand=brand)
    return serve_asset(asset, "preview" if preview else "file")
