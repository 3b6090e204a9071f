"""A brand's logo for its reports: validated by content with the media library's rules
(``tertulia.content.media``: Pillow with only the image decoders, pixel limits, no SVG), only
PNG, JPEG or WebP, at most 2 MB, re-encoded without metadata and scaled down to fit 600×200.

``process_logo`` validates without writing (so a form can refuse it before saving anything);
``do_set_brand_logo`` / ``do_remove_brand_logo`` store it (MANAGE_BRAND, audit-logged).
"""

from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.db import transaction
from django.utils.translation import gettext as _
from PIL import Image, ImageOps

from tertulia.content import media
from tertulia.core import roles
from tertulia.core.models import Brand
from tertulia.core.services import Ctx, _log, _require

MAX_BYTES = 2 * 1024 * 1024
MAX_SIZE = (600, 200)
FORMATS = {"PNG": "png", "JPEG": "jpg", "WEBP": "webp"}


@dataclass(frozen=True)
class Logo:
    content: bytes
    extension: str
    width: int
    height: int


def process_logo(fileobj) -> Logo:
    """The logo, checked and re-encoded, or ValidationError({"logo": ...}) saying why."""
    data = media.read_limited(fileobj, MAX_BYTES)
    if len(data) > MAX_BYTES:
        raise ValidationError({"logo": _("The logo is too large: the limit is 2 MB.")})
    try:
        image = media.open_image(data)
    except ValidationError as exc:
        raise ValidationError({"logo": exc.messages}) from None
    fmt = image.format
    if fmt not in FORMATS:
        raise ValidationError({"logo": _("A logo must be a PNG, JPEG or WebP image.")})
    if getattr(image, "n_frames", 1) > 1:
        image.seek(0)
    upright = ImageOps.exif_transpose(image)
    upright.info = {}
    if fmt == "JPEG" and upright.mode not in ("RGB", "L"):
        upright = upright.convert("RGB")
    elif upright.mode not in ("RGB", "RGBA", "L", "LA"):
        upright = upright.convert("RGBA")
    upright.thumbnail(MAX_SIZE, Image.Resampling.LANCZOS)  # only ever shrinks, keeps the aspect
    out = io.BytesIO()
    options = {"JPEG": {"quality": 90, "optimize": True}, "PNG": {"optimize": True}, "WEBP": {"quality": 90}}[fmt]
    upright.save(out, format=fmt, **options)
    return Logo(out.getvalue(), FORMATS[fmt], *upright.size)


def do_set_brand_logo(ctx: Ctx, brand: Brand, logo: Logo) -> Brand:
    _require(ctx, brand, roles.MANAGE_BRAND)
    old = brand.logo.name if brand.logo else ""
    name = f"brand-{brand.pk}-{hashlib.sha256(logo.content).hexdigest()[:16]}.{logo.extension}"
    with transaction.atomic():
        brand.logo.save(name, ContentFile(logo.content), save=False)
        Brand.objects.filter(pk=brand.pk).update(logo=brand.logo.name)
        _log(ctx, "brand.logo", brand=brand, obj=brand,
             changes={"logo": [old, brand.logo.name], "size": f"{logo.width}×{logo.height}"})
    if old and old != brand.logo.name:
        transaction.on_commit(lambda: brand.logo.storage.delete(old))
    return brand


def do_remove_brand_logo(ctx: Ctx, brand: Brand) -> Brand:
    _require(ctx, brand, roles.MANAGE_BRAND)
    old = brand.logo.name if brand.logo else ""
    if not old:
        return brand
    storage = brand.logo.storage
    with transaction.atomic():
        Brand.objects.filter(pk=brand.pk).update(logo="")
        brand.logo = ""
        _log(ctx, "brand.logo", brand=brand, obj=brand, changes={"logo": [old, ""]})
    transaction.on_commit(lambda: storage.delete(old))
    return brand
