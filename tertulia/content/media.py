"""Images for the media library: validation by content, clean re-encoding, previews, the
image rules of each network, and resize/crop presets.

Nothing here trusts a file name or a browser's content type: the bytes are opened by Pillow
with only the accepted decoders, the header's pixel count is checked before anything is
decoded (decompression bombs), the whole image is then decoded once (truncated files fail
here, not later), and what is stored is a fresh encoding of the pixels: no EXIF, no GPS, no
comments, with the EXIF orientation applied to the pixels. Only the ICC colour profile is
kept. Videos are probed and checked in ``content.video``; here they are refused as images.

The network rules and presets are plain data plus pure functions, so the composer can check
a post's images without touching the database. ``check_media`` checks a post's images and
videos together (``content.video`` holds the video rules).
"""

from __future__ import annotations

import hashlib
import io
import struct
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _
from PIL import Image, ImageOps, UnidentifiedImageError

# Pillow format name -> (MIME type, file extension). What a brand may upload.
FORMATS: dict[str, tuple[str, str]] = {
    "JPEG": ("image/jpeg", "jpg"),
    "PNG": ("image/png", "png"),
    "GIF": ("image/gif", "gif"),
    "WEBP": ("image/webp", "webp"),
}
MIME_TO_FORMAT = {mime: fmt for fmt, (mime, _ext) in FORMATS.items()}

DEFAULT_MAX_BYTES = 20 * 1024 * 1024
DEFAULT_MAX_PIXELS = 40_000_000  # 40 megapixels: above any network's limit, far below a bomb
MAX_FRAMES = 300  # frames of an animated GIF or WebP
PREVIEW_SIZE = 320


def max_bytes() -> int:
    return int(getattr(settings, "MEDIA_MAX_UPLOAD_BYTES", DEFAULT_MAX_BYTES))


def max_pixels() -> int:
    return int(getattr(settings, "MEDIA_MAX_PIXELS", DEFAULT_MAX_PIXELS))


# --- Refusals ---------------------------------------------------------------------------

MESSAGES = {
    "empty": _("The file is empty."),
    "too_large": _("The file is too large: %(size)s MB. The limit is %(limit)s MB."),
    "video": _("This video format is not accepted. Upload an MP4, MOV, WebM or MKV video."),
    "svg": _("SVG images are not accepted, because they can carry scripts. Upload a JPEG, PNG, GIF or WebP image."),
    "unsupported": _("This file is neither an image nor a video we accept. Upload a JPEG, PNG, GIF or WebP "
                     "image, or an MP4, MOV, WebM or MKV video."),
    "too_many_pixels": _(
        "The image is too large: %(width)s×%(height)s pixels. The limit is %(limit)s megapixels."
    ),
    "bomb": _("The image declares far more pixels than it can safely be opened with. The limit is %(limit)s megapixels."),
    "too_many_frames": _("The animation has too many frames (%(frames)s). The limit is %(limit)s."),
    "corrupt": _("The image is damaged or incomplete and cannot be read."),
}


def refuse(code: str, message: str | None = None, **params) -> ValidationError:
    return ValidationError(MESSAGES[message or code], code=code, params=params or None)


def _mb(n: int) -> str:
    return f"{n / (1024 * 1024):.1f}".rstrip("0").rstrip(".")


# --- Sniffing -----------------------------------------------------------------------------

def _looks_like_video(head: bytes) -> bool:
    return (
        head[4:8] == b"ftyp"  # MP4, MOV, M4V, 3GP
        or head[:4] == b"\x1a\x45\xdf\xa3"  # Matroska, WebM
        or (head[:4] == b"RIFF" and head[8:12] == b"AVI ")
        or head[:3] == b"FLV"
        or head[:4] in (b"\x00\x00\x01\xba", b"\x00\x00\x01\xb3")  # MPEG program/video stream
        or head[:4] == b"OggS"
    )


def _looks_like_svg(head: bytes) -> bool:
    text = head[:2048].lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    return b"<svg" in text and (text.startswith(b"<") or text.startswith(b"<?xml"))


# --- Processing ---------------------------------------------------------------------------

@dataclass(frozen=True)
class Processed:
    """A validated image, re-encoded without metadata, and its preview."""

    content: bytes
    format: str
    width: int
    height: int
    preview: bytes
    preview_format: str = "WEBP"
    frames: int = 1

    @property
    def mime_type(self) -> str:
        return FORMATS[self.format][0]

    @property
    def extension(self) -> str:
        return FORMATS[self.format][1]

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.content).hexdigest()

    @property
    def size_bytes(self) -> int:
        return len(self.content)


def read_limited(fileobj, limit: int) -> bytes:
    """Read at most ``limit`` + 1 bytes, so an oversized upload is known without reading it all."""
    data = fileobj.read(limit + 1)
    return data if isinstance(data, bytes) else bytes(data)


def open_image(data: bytes, *, pixel_limit: int | None = None) -> Image.Image:
    """Open, check and fully decode ``data``. Raises ValidationError with a stable code."""
    pixel_limit = pixel_limit or max_pixels()
    head = data[:4096]
    if not data:
        raise refuse("empty")
    if _looks_like_video(head):
        raise refuse("video")
    if _looks_like_svg(head):
        raise refuse("svg")
    with warnings.catch_warnings():
        # Pillow's own bomb check (MAX_IMAGE_PIXELS) warns between 1× and 2× its limit and
        # raises above; both are refusals here. Our limit, checked on the header, is tighter.
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            probe = Image.open(io.BytesIO(data), formats=list(FORMATS))
            width, height = probe.size
            if width <= 0 or height <= 0:
                raise refuse("corrupt")
            if width * height > pixel_limit:
                raise refuse("too_many_pixels", width=width, height=height, limit=_mb_pixels(pixel_limit))
            probe.verify()  # structure and checksums; the object is unusable afterwards
            image = Image.open(io.BytesIO(data), formats=list(FORMATS))
            frames = getattr(image, "n_frames", 1)
            if frames > MAX_FRAMES:
                raise refuse("too_many_frames", frames=frames, limit=MAX_FRAMES)
            if frames * width * height > pixel_limit * 4:
                raise refuse("too_many_pixels", width=width, height=height, limit=_mb_pixels(pixel_limit))
            image.seek(0)
            image.load()  # decode every pixel now: a truncated file fails here
        except ValidationError:
            raise
        except (Image.DecompressionBombError, Image.DecompressionBombWarning):
            raise refuse("too_many_pixels", "bomb", limit=_mb_pixels(pixel_limit)) from None
        except UnidentifiedImageError:
            raise refuse("unsupported") from None
        except (OSError, SyntaxError, ValueError, EOFError, IndexError, struct.error, MemoryError):
            raise refuse("corrupt") from None
    if image.format not in FORMATS:  # pragma: no cover - formats= above already restricts it
        raise refuse("unsupported")
    return image


def _mb_pixels(n: int) -> str:
    return f"{n / 1_000_000:g}"


def _encode(image: Image.Image, fmt: str, *, icc: bytes | None = None, animated: bool = False) -> bytes:
    out = io.BytesIO()
    options: dict = {}
    if icc:
        options["icc_profile"] = icc
    if fmt == "JPEG":
        if image.mode not in ("RGB", "L"):
            image = image.convert("RGB")
        options.update(quality=90, optimize=True)
    elif fmt == "PNG":
        options.update(optimize=True)
    elif fmt == "WEBP":
        options.update(quality=90)
    if animated:
        options.update(save_all=True)
    image.save(out, format=fmt, **options)
    return out.getvalue()


def _strip(image: Image.Image) -> Image.Image:
    """The pixels (and palette) of ``image``, with no metadata."""
    clean = image.copy()
    # Transparency is part of the picture (a palette index), not metadata: it stays.
    clean.info = {k: image.info[k] for k in ("transparency",) if k in image.info}
    if hasattr(clean, "_exif"):
        clean._exif = None
    return clean


def make_preview(image: Image.Image, size: int = PREVIEW_SIZE) -> bytes:
    thumb = image.copy()
    thumb.info = {}
    if thumb.mode not in ("RGB", "RGBA"):
        thumb = thumb.convert("RGBA" if "transparency" in image.info or thumb.mode in ("LA", "PA", "P") else "RGB")
    thumb.thumbnail((size, size), Image.Resampling.LANCZOS)
    out = io.BytesIO()
    thumb.save(out, format="WEBP", quality=80)
    return out.getvalue()


def process_upload(data: bytes, *, byte_limit: int | None = None, pixel_limit: int | None = None) -> Processed:
    """Validate an upload and return its clean re-encoding and preview (or raise ValidationError)."""
    byte_limit = byte_limit or max_bytes()
    if len(data) > byte_limit:
        raise refuse("too_large", size=_mb(len(data)), limit=_mb(byte_limit))
    image = open_image(data, pixel_limit=pixel_limit)
    fmt = image.format
    # The colour profile is kept, except for CMYK, which is converted to RGB on encoding.
    icc = image.info.get("icc_profile") if image.mode != "CMYK" else None
    frames = getattr(image, "n_frames", 1)
    try:
        if frames > 1 and fmt in ("GIF", "WEBP"):
            # Animated: re-encode every frame (orientation tags are not used by these formats).
            image.info = {k: image.info[k] for k in ("duration", "loop", "background", "transparency", "disposal")
                          if k in image.info}
            content = _encode(image, fmt, animated=True)
            image.seek(0)
            first = _strip(image)
        else:
            upright = ImageOps.exif_transpose(image)  # a copy, with the orientation applied
            first = _strip(upright)
            content = _encode(first, fmt, icc=icc)
            frames = 1
        preview = make_preview(first)
    except (OSError, ValueError) as exc:  # pragma: no cover - decoded fine, failed to re-encode
        raise refuse("corrupt") from exc
    width, height = first.size
    return Processed(content=content, format=fmt, width=width, height=height, preview=preview, frames=frames)


# --- Network rules --------------------------------------------------------------------------

class ImageLike(Protocol):
    width: int | None
    height: int | None
    size_bytes: int
    mime_type: str


@dataclass(frozen=True)
class ImageRules:
    max_images: int
    max_bytes: int
    formats: frozenset[str]  # MIME types
    min_width: int = 1
    min_height: int = 1
    max_width: int | None = None
    max_height: int | None = None
    max_pixels: int | None = None
    min_aspect: float | None = None  # width / height
    max_aspect: float | None = None
    aspect_label: str = ""  # how the network documents the range, e.g. "4:5 – 1.91:1"


_MB = 1024 * 1024
_ALL = frozenset(MIME_TO_FORMAT)

# From each network's API documentation (the strictest published limit where they differ).
NETWORK_IMAGE_RULES: dict[str, ImageRules] = {
    # Instagram Graph API: JPEG only, 8 MB, 320–1440 px wide, aspect 4:5 to 1.91:1, carousels of 10.
    "instagram": ImageRules(max_images=10, max_bytes=8 * _MB, formats=frozenset({"image/jpeg"}), min_width=320,
                            min_aspect=4 / 5, max_aspect=1.91, aspect_label="4:5 – 1.91:1"),
    # X: 4 images of 5 MB (JPEG, PNG, GIF, WebP), at most 8192×8192.
    "x": ImageRules(max_images=4, max_bytes=5 * _MB, formats=_ALL, min_width=4, min_height=4,
                    max_width=8192, max_height=8192),
    # Bluesky: 4 images, each blob at most 1,000,000 bytes.
    "bluesky": ImageRules(max_images=4, max_bytes=1_000_000, formats=_ALL),
    # Mastodon (default instance limits): 4 attachments, 16 MB, 7680×4320 pixels in all.
    "mastodon": ImageRules(max_images=4, max_bytes=16 * _MB, formats=_ALL, max_pixels=33_177_600),
    # LinkedIn: 20 images, 36,152,320 pixels at most, JPEG/PNG/GIF.
    "linkedin": ImageRules(max_images=20, max_bytes=20 * _MB,
                           formats=frozenset({"image/jpeg", "image/png", "image/gif"}), max_pixels=36_152_320),
    # Facebook Pages (Graph API photo upload): photos under 4 MB, JPEG/PNG/GIF/WebP; 10 photos
    # in a multi-photo post.
    "facebook": ImageRules(max_images=10, max_bytes=4 * _MB,
                           formats=frozenset({"image/jpeg", "image/png", "image/gif", "image/webp"})),
    # Threads API: JPEG/PNG, 8 MB, 320–1440 px wide, aspect at most 10:1, carousels of 20.
    "threads": ImageRules(max_images=20, max_bytes=8 * _MB, formats=frozenset({"image/jpeg", "image/png"}),
                          min_width=320, min_aspect=1 / 10, max_aspect=10, aspect_label="1:10 – 10:1"),
    # Telegram Bot API: a photo of 10 MB, width + height at most 10000, aspect at most 20; albums of 10.
    "telegram": ImageRules(max_images=10, max_bytes=10 * _MB, formats=frozenset({"image/jpeg", "image/png",
                                                                                 "image/webp", "image/gif"}),
                           min_aspect=1 / 20, max_aspect=20, aspect_label="1:20 – 20:1"),
    # Joomla (Web Services API + Media API): the first image is the article's intro and full
    # image, the others go into the body (the connector takes 10); the media manager's default
    # legal image extensions (jpg, png, gif, webp) and upload size (10 MB).
    "joomla": ImageRules(max_images=10, max_bytes=10 * _MB, formats=_ALL),
    # WhatsApp Cloud API, supported media: one image per message, JPEG or PNG, 5 MB.
    "whatsapp": ImageRules(max_images=1, max_bytes=5 * _MB, formats=frozenset({"image/jpeg", "image/png"})),
    # YouTube: an image next to the video is its custom thumbnail (Data API thumbnails.set):
    # one JPEG or PNG of at most 2 MB (1280×720 is recommended, not required). A post of images
    # alone is refused (content.video: a video is required).
    "youtube": ImageRules(max_images=1, max_bytes=2 * _MB, formats=frozenset({"image/jpeg", "image/png"})),
    # WordPress articles take any library image.
}

ASPECT_TOLERANCE = 0.01  # 1%: 1080×566 is 1.908, and counts as 1.91:1

RULE_MESSAGES = {
    "too_many_images": _("%(network)s accepts at most %(limit)s images in a post; this one has %(count)s."),
    "too_large": _("Image %(index)s is %(size)s MB; %(network)s accepts at most %(limit)s MB."),
    "format": _("Image %(index)s is %(format)s, which %(network)s does not accept."),
    "too_small": _("Image %(index)s is %(width)s×%(height)s pixels; %(network)s needs at least %(min_width)s×%(min_height)s."),
    "too_big_dimensions": _("Image %(index)s is %(width)s×%(height)s pixels; %(network)s accepts at most %(max_width)s×%(max_height)s."),
    "too_many_pixels": _("Image %(index)s has %(pixels)s megapixels; %(network)s accepts at most %(limit)s."),
    "aspect_too_tall": _("Image %(index)s is too tall for %(network)s (aspect ratio %(ratio)s); the allowed range is %(range)s."),
    "aspect_too_wide": _("Image %(index)s is too wide for %(network)s (aspect ratio %(ratio)s); the allowed range is %(range)s."),
    "unknown_network": _("There are no image rules for %(network)s."),
    "needs_video": _("%(network)s publishes a video: attach one (an image goes with it as its thumbnail)."),
    # Videos (content.video.check_videos)
    "video_unsupported": _("%(network)s does not publish videos."),
    "too_many_items": _("%(network)s accepts at most %(limit)s images and videos in a post; this one has %(count)s."),
    "mixed_media": _("%(network)s cannot publish images and a video in the same post."),
    "one_video": _("%(network)s accepts one video in a post; this one has %(count)s."),
    "too_many_videos": _("%(network)s accepts at most %(limit)s videos in a post; this one has %(count)s."),
    "video_format": _("Video %(index)s is %(format)s; %(network)s accepts %(allowed)s."),
    "video_codec": _("Video %(index)s is encoded with %(codec)s; %(network)s accepts %(allowed)s."),
    "audio_codec": _("The sound of video %(index)s is encoded with %(codec)s; %(network)s accepts %(allowed)s."),
    "video_too_large": _("Video %(index)s is %(size)s; %(network)s accepts at most %(limit)s."),
    "video_too_small": _("Video %(index)s is %(size)s; %(network)s needs at least %(limit)s."),
    "video_too_short": _("Video %(index)s lasts %(duration)s; %(network)s needs at least %(limit)s."),
    "video_too_long": _("Video %(index)s lasts %(duration)s; %(network)s accepts at most %(limit)s."),
    "video_needs_verification": _("Video %(index)s lasts %(duration)s: %(network)s accepts videos longer than "
                                  "%(limit)s only from verified accounts."),
    "video_fps_high": _("Video %(index)s runs at %(rate)s frames per second; %(network)s accepts at most %(limit)s."),
    "video_fps_low": _("Video %(index)s runs at %(rate)s frames per second; %(network)s needs at least %(limit)s."),
    "video_bitrate": _("Video %(index)s has a bitrate of %(rate)s Mbps; %(network)s accepts at most %(limit)s Mbps."),
    "video_too_small_dimensions": _("Video %(index)s is %(width)s×%(height)s pixels; %(network)s needs at least "
                                    "%(min)s pixels on each side."),
    "video_too_wide": _("Video %(index)s is %(width)s pixels wide; %(network)s accepts at most %(limit)s."),
    "video_too_big_dimensions": _("Video %(index)s is %(width)s×%(height)s pixels; %(network)s accepts at most "
                                  "%(long)s×%(short)s, in either orientation."),
    "video_too_many_pixels": _("Video %(index)s has %(pixels)s megapixels; %(network)s accepts at most %(limit)s."),
    "video_aspect": _("Video %(index)s has an aspect ratio of %(ratio)s; %(network)s accepts %(range)s."),
    "video_recommended_aspect": _("Video %(index)s has an aspect ratio of %(ratio)s; %(network)s recommends "
                                  "%(recommended)s, so it may be shown cropped or with bars."),
}


@dataclass(frozen=True)
class Problem:
    """One reason a network refuses a post's images. ``code`` is stable; ``message`` is
    rendered in the active language when it is read."""

    code: str
    network: str
    index: int | None = None  # 1-based position of the image (or video), None for the whole post
    params: dict = field(default_factory=dict)
    level: str = "error"  # "error" blocks the post; "warning" is advice

    @property
    def message(self) -> str:
        return str(RULE_MESSAGES[self.code]) % {"network": network_label(self.network), "index": self.index,
                                                **self.params}

    def __str__(self) -> str:
        return self.message


def network_label(network: str) -> str:
    from tertulia.networks.models import Network

    try:
        return str(Network(network).label)
    except ValueError:
        return network


def _ratio(width: int, height: int) -> str:
    return f"{width / height:.2f}:1"


def check_images(network: str, images: Sequence[ImageLike]) -> list[Problem]:
    """What ``network`` would refuse about posting ``images`` together (empty list: fine)."""
    rules = NETWORK_IMAGE_RULES.get(network)
    if rules is None:
        return [Problem("unknown_network", network)]
    problems: list[Problem] = []
    if len(images) > rules.max_images:
        problems.append(Problem("too_many_images", network, None, {"limit": rules.max_images, "count": len(images)}))
    for i, img in enumerate(images, start=1):
        problems.extend(_check_one(network, rules, img, i))
    return problems


def check_image(network: str, image: ImageLike) -> list[Problem]:
    return check_images(network, [image])


def _check_one(network: str, rules: ImageRules, img: ImageLike, index: int) -> list[Problem]:
    out: list[Problem] = []
    if img.mime_type not in rules.formats:
        fmt = MIME_TO_FORMAT.get(img.mime_type, img.mime_type)
        out.append(Problem("format", network, index, {"format": fmt}))
    if img.size_bytes > rules.max_bytes:
        out.append(Problem("too_large", network, index, {"size": _mb(img.size_bytes), "limit": _mb(rules.max_bytes)}))
    w, h = img.width or 0, img.height or 0
    if not w or not h:
        return out
    dims = {"width": w, "height": h}
    if w < rules.min_width or h < rules.min_height:
        out.append(Problem("too_small", network, index, {**dims, "min_width": rules.min_width,
                                                         "min_height": rules.min_height}))
    if (rules.max_width and w > rules.max_width) or (rules.max_height and h > rules.max_height):
        out.append(Problem("too_big_dimensions", network, index, {**dims, "max_width": rules.max_width,
                                                                  "max_height": rules.max_height}))
    if rules.max_pixels and w * h > rules.max_pixels:
        out.append(Problem("too_many_pixels", network, index, {"pixels": _mb_pixels(w * h),
                                                               "limit": _mb_pixels(rules.max_pixels)}))
    aspect = w / h
    if rules.min_aspect and aspect < rules.min_aspect * (1 - ASPECT_TOLERANCE):
        out.append(Problem("aspect_too_tall", network, index, {"ratio": _ratio(w, h), "range": rules.aspect_label}))
    if rules.max_aspect and aspect > rules.max_aspect * (1 + ASPECT_TOLERANCE):
        out.append(Problem("aspect_too_wide", network, index, {"ratio": _ratio(w, h), "range": rules.aspect_label}))
    return out


def fit_report(asset) -> list[tuple[str, str, list[Problem]]]:
    """(network, label, problems) for every network: which accept this image (or video, for
    an asset of kind "video": every network that publishes videos), and why not."""
    if getattr(asset, "kind", "image") == "video":
        from . import video

        return video.fit_report(asset)
    return [(n, network_label(n), check_image(n, asset)) for n in NETWORK_IMAGE_RULES]


def has_media_rules(network: str) -> bool:
    from .video import NETWORK_VIDEO_RULES

    return network in NETWORK_IMAGE_RULES or network in NETWORK_VIDEO_RULES


def check_media(network: str, assets: Sequence) -> list[Problem]:
    """What ``network`` would refuse about a post's attached images and videos together
    (assets with a ``kind``; anything without one counts as an image). Empty: fine."""
    from . import video

    images = [a for a in assets if getattr(a, "kind", "image") == "image"]
    videos = [a for a in assets if getattr(a, "kind", "image") == "video"]
    problems: list[Problem] = []
    rules = video.NETWORK_VIDEO_RULES.get(network)
    if rules is not None and rules.requires_video and not videos:
        problems.append(Problem("needs_video", network))
    if images:
        problems += check_images(network, images)
    if videos:
        problems += video.check_videos(network, videos, images=len(images))
        image_rules = NETWORK_IMAGE_RULES.get(network)
        if images and rules and rules.with_images and rules.shared_count and image_rules:
            limit = max(image_rules.max_images, rules.max_videos)
            if len(images) + len(videos) > limit:
                problems.append(Problem("too_many_items", network, None,
                                        {"limit": limit, "count": len(images) + len(videos)}))
    return problems


# --- Presets ------------------------------------------------------------------------------

@dataclass(frozen=True)
class Preset:
    key: str
    label: str
    width: int
    height: int


PRESETS: dict[str, Preset] = {p.key: p for p in [
    Preset("instagram_square", _("Instagram square"), 1080, 1080),
    Preset("instagram_portrait", _("Instagram portrait (4:5)"), 1080, 1350),
    Preset("instagram_landscape", _("Instagram landscape (1.91:1)"), 1080, 566),
    Preset("story", _("Story or reel (9:16)"), 1080, 1920),
    Preset("x_landscape", _("X landscape (16:9)"), 1600, 900),
    Preset("x_header", _("X header"), 1500, 500),
    Preset("facebook_post", _("Facebook link or post"), 1200, 630),
    Preset("facebook_cover", _("Facebook cover"), 851, 315),
    Preset("linkedin", _("LinkedIn post"), 1200, 627),
    Preset("linkedin_cover", _("LinkedIn cover"), 1584, 396),
    Preset("bluesky_banner", _("Bluesky banner"), 3000, 1000),
    Preset("mastodon_header", _("Mastodon header"), 1500, 500),
    Preset("profile", _("Profile picture"), 400, 400),
]}


def crop_to_preset(image: Image.Image, preset: Preset) -> Image.Image:
    """Centre-crop ``image`` to the preset's aspect ratio, then resize it to its exact size."""
    if getattr(image, "n_frames", 1) > 1:
        image.seek(0)
    source = image
    if source.mode not in ("RGB", "RGBA", "L"):
        source = source.convert("RGBA" if source.mode in ("LA", "PA", "P") else "RGB")
    return ImageOps.fit(source, (preset.width, preset.height), method=Image.Resampling.LANCZOS,
                        centering=(0.5, 0.5))


def process_preset(data: bytes, preset: Preset) -> Processed:
    """The stored image ``data`` cropped to ``preset``: JPEG, or PNG when it has transparency."""
    image = open_image(data)
    cropped = crop_to_preset(image, preset)
    fmt = "PNG" if cropped.mode == "RGBA" else "JPEG"
    content = _encode(_strip(cropped), fmt)
    return Processed(content=content, format=fmt, width=cropped.width, height=cropped.height,
                     preview=make_preview(cropped))
