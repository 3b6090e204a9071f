"""Signed, expiring public links to one media file, for the networks that fetch media by URL
instead of taking an upload (Instagram and Threads: their servers download the image or video
from an address we give them while the post is being created).

The link carries the asset's id and the first 16 hex digits of its SHA-256, signed with the
site's key and a salt of its own: it opens that exact file and nothing else, for
``PUBLIC_MEDIA_MAX_AGE`` seconds (two days by default: long enough for a retry a day later, short
enough that a link found in a network's log soon stops working). A forged, tampered, expired or
stale link (the asset was deleted, or its file replaced) is a plain 404: nothing tells a
stranger which part was wrong. ``SITE_URL`` must be the address the networks can reach.
"""

from __future__ import annotations

from django.conf import settings
from django.core import signing
from django.http import Http404
from django.urls import reverse
from django.views.decorators.http import require_safe

from .models import MediaAsset

SALT = "tertulia.content.public-media"
DEFAULT_MAX_AGE = 2 * 24 * 3600


def max_age() -> int:
    return int(getattr(settings, "PUBLIC_MEDIA_MAX_AGE", DEFAULT_MAX_AGE))


def public_url(asset: MediaAsset) -> str:
    """The absolute public link to the asset's file."""
    token = signing.dumps({"a": asset.pk, "h": asset.sha256[:16]}, salt=SALT, compress=False)
    return settings.SITE_URL.rstrip("/") + reverse("public_media", args=[token])


def asset_for(token: str) -> MediaAsset:
    """The asset a link opens, or Http404."""
    if len(token) > 200:
        raise Http404
    try:
        data = signing.loads(token, salt=SALT, max_age=max_age())
    except signing.BadSignature:  # SignatureExpired included
        raise Http404 from None
    if not isinstance(data, dict) or not isinstance(data.get("a"), int) or not isinstance(data.get("h"), str):
        raise Http404
    asset = MediaAsset.objects.filter(pk=data["a"], brand__deleted_at__isnull=True).first()
    if asset is None or asset.sha256[:16] != data["h"]:
        raise Http404
    return asset


@require_safe
def public_media(request, media_token: str):
    from .media_views import serve_asset

    response = serve_asset(asset_for(media_token), "file")
    response["Cache-Control"] = "public, max-age=3600"
    response["X-Robots-Tag"] = "noindex"
    return response
