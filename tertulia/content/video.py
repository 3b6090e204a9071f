"""Videos for the media library: streaming an upload to disk, sniffing, probing with PyAV, the
poster frame, and the video rules of each network.

Nothing trusts a file name or a browser's content type. An upload is written to disk in
chunks (never held in memory) and refused as soon as it passes the size limit. Its first
bytes decide whether it is a video at all and which demuxer may open it (MP4/MOV: ``mov``,
WebM/MKV: ``matroska``; no other demuxer is ever tried, so a hostile file cannot reach
ffmpeg's rarer parsers). The probe reads the container's metadata, decodes the first
frame only (the poster, stored as the preview WebP), and checks the file's tail against
the declared duration (a truncated upload is refused), all within a time budget.

The network rules are plain data plus pure functions over a probe (or a ``MediaAsset``
with the same fields), so the composer checks a post's videos without opening any file.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from fractions import Fraction
from typing import Protocol

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files import File
from django.core.files.uploadhandler import TemporaryFileUploadHandler
from django.utils.translation import gettext_lazy as _

from .media import Problem, make_preview

# Our container key -> (MIME type, file extension, label shown to people).
CONTAINERS: dict[str, tuple[str, str, str]] = {
    "mp4": ("video/mp4", "mp4", "MP4"),
    "mov": ("video/quicktime", "mov", "MOV"),
    "webm": ("video/webm", "webm", "WebM"),
    "mkv": ("video/x-matroska", "mkv", "MKV"),
}
MIME_TO_CONTAINER = {mime: key for key, (mime, _ext, _label) in CONTAINERS.items()}
# The only ffmpeg demuxer each container may be opened with.
DEMUXER = {"mp4": "mov", "mov": "mov", "webm": "matroska", "mkv": "matroska"}
# Codec names as ffmpeg reports them -> how people know them.
CODEC_LABELS = {
    "h264": "H.264", "hevc": "HEVC (H.265)", "vp8": "VP8", "vp9": "VP9", "av1": "AV1", "mpeg4": "MPEG-4 Part 2",
    "prores": "ProRes", "aac": "AAC", "mp3": "MP3", "opus": "Opus", "vorbis": "Vorbis", "ac3": "AC-3",
    "eac3": "E-AC-3", "alac": "ALAC", "flac": "FLAC", "pcm_s16le": "PCM",
}

DEFAULT_MAX_VIDEO_BYTES = 1024 * 1024 * 1024  # 1 GB
DEFAULT_PROBE_SECONDS = 5.0
MAX_STREAMS = 8  # a video, its sound, and a few metadata tracks (phones add some); more is not a post
MIN_SIDE = 16
MAX_SIDE = 8192  # 8K is 7680×4320; no network takes more
MAX_DURATION = 12 * 3600  # YouTube's own limit is the longest of any network
CHUNK = 1024 * 1024
TAIL_PACKETS = 4000  # packets read from the last seconds to find where the file really ends

# The only decoders ever run (for the poster frame): what networks take, nothing exotic. A video
# in another codec is still probed (metadata only) and simply has no poster.
POSTER_CODECS = frozenset({"h264", "hevc", "vp8", "vp9", "av1", "mpeg4", "mjpeg", "prores"})

# ISO base media files that are images, not videos (HEIF, AVIF, JPEG XL).
_IMAGE_BRANDS = {b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis", b"mif1", b"msf1", b"avif", b"avis", b"jxl "}


def max_video_bytes() -> int:
    return int(getattr(settings, "MEDIA_MAX_VIDEO_BYTES", DEFAULT_MAX_VIDEO_BYTES))


def probe_seconds() -> float:
    return float(getattr(settings, "MEDIA_VIDEO_PROBE_SECONDS", DEFAULT_PROBE_SECONDS))


def upload_limit() -> int:
    """The largest upload of any kind: what the upload handler lets through to the services."""
    from .media import max_bytes

    return max(max_video_bytes(), max_bytes())


# --- Refusals ---------------------------------------------------------------------------

MESSAGES = {
    "too_large": _("The file is too large: %(size)s. The limit is %(limit)s."),
    "container": _("This video format is not accepted. Upload an MP4, MOV, WebM or MKV video."),
    "corrupt": _("The video is damaged or incomplete and cannot be read."),
    "truncated": _("The video is incomplete: it should last %(expected)s, but the file ends at %(found)s. "
                   "Upload the whole file again."),
    "audio_only": _("This file has sound but no picture. Upload a video."),
    "no_video": _("This file has no video track."),
    "no_duration": _("The video has no duration: it is empty or damaged."),
    "too_long": _("The video lasts %(duration)s; the limit is %(limit)s."),
    "dimensions": _("The video's picture is %(width)s×%(height)s pixels; each side must be between %(min)s and "
                    "%(max)s pixels."),
    "too_many_streams": _("The file has %(count)s tracks; at most %(limit)s are accepted."),
    "timeout": _("The video could not be checked within %(seconds)s seconds. It may be damaged."),
}


def refuse(code: str, **params) -> ValidationError:
    return ValidationError(MESSAGES[code], code=f"video_{code}", params=params or None)


def human_size(n: int) -> str:
    """1536 -> "1.5 KB", 300 * 1024**2 -> "300 MB", 4 * 1024**3 -> "4 GB"."""
    for unit, factor in (("GB", 1024 ** 3), ("MB", 1024 ** 2), ("KB", 1024)):
        if n >= factor:
            return f"{n / factor:.1f}".rstrip("0").rstrip(".") + f" {unit}"
    return f"{n} B"


def human_duration(seconds: float) -> str:
    """0.5 -> "0.5 s", 140 -> "2 min 20 s", 900 -> "15 min", 14400 -> "4 h"."""
    if seconds < 60:
        return f"{seconds:.1f}".rstrip("0").rstrip(".") + " s"
    total = round(seconds)
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    parts = [f"{hours} h" if hours else "", f"{minutes} min" if minutes else "", f"{secs} s" if secs else ""]
    return " ".join(p for p in parts if p)


# --- Sniffing -------------------------------------------------------------------------------

def sniff(head: bytes) -> str | None:
    """The container a file's first bytes declare: "mp4", "mov", "webm", "mkv", "other" for a
    video container we do not accept (AVI, FLV, MPEG, Ogg, 3GP), None when it is no video."""
    if head[4:8] == b"ftyp":
        brand = head[8:12]
        if brand in _IMAGE_BRANDS:
            return None
        if brand == b"qt  ":
            return "mov"
        if brand[:3] in (b"3gp", b"3g2"):
            return "other"
        return "mp4"
    if head[:4] == b"\x1a\x45\xdf\xa3":  # EBML: the DocType element says WebM or Matroska
        return "webm" if b"\x42\x82\x84webm" in head[:64] else "mkv"
    if head[4:8] in (b"moov", b"mdat", b"wide"):  # QuickTime without an ftyp box
        return "mov"
    if (
        (head[:4] == b"RIFF" and head[8:12] == b"AVI ")
        or head[:3] == b"FLV"
        or head[:4] in (b"\x00\x00\x01\xba", b"\x00\x00\x01\xb3")
        or head[:4] == b"OggS"
        or (len(head) > 188 and head[0] == 0x47 and head[188] == 0x47)  # MPEG transport stream
    ):
        return "other"
    return None


def peek(fileobj, size: int = 4096) -> bytes:
    """The first ``size`` bytes of an upload, leaving it where it was (b"" if it cannot seek)."""
    try:
        position = fileobj.tell()
        head = fileobj.read(size)
        fileobj.seek(position)
    except (AttributeError, OSError, ValueError):
        return b""
    return head if isinstance(head, bytes) else bytes(head or b"")


# --- Streaming an upload to disk ------------------------------------------------------------

class LimitedUploadHandler(TemporaryFileUploadHandler):
    """Writes every uploaded file to a temporary file in chunks, and stops writing the moment
    it passes the largest accepted size (``upload_limit``): the bytes already written are
    dropped and the rest of the upload is only counted. The file object then reports the full
    size and ``over_limit``, so the services refuse it with both sizes in the message."""

    def new_file(self, *args, **kwargs):
        super().new_file(*args, **kwargs)
        self.limit = upload_limit()
        self.received = 0
        self.over_limit = False

    def receive_data_chunk(self, raw_data, start):
        self.received += len(raw_data)
        if self.over_limit:
            return None
        if self.received > self.limit:
            self.over_limit = True
            self.file.seek(0)
            self.file.truncate()
            return None
        self.file.write(raw_data)
        return None

    def file_complete(self, file_size):
        uploaded = super().file_complete(file_size)
        uploaded.over_limit = self.over_limit
        return uploaded


@dataclass
class Spooled:
    """An upload on disk: its path, size and SHA-256, and the container its first bytes declare."""

    path: str
    size: int
    sha256: str
    container: str | None


def too_large(size: int, limit: int) -> ValidationError:
    return refuse("too_large", size=human_size(size), limit=human_size(limit))


def check_declared_size(fileobj, limit: int) -> None:
    """Refuse an upload the upload handler already found too large (or that says so itself)."""
    size = getattr(fileobj, "size", None)
    if getattr(fileobj, "over_limit", False) or (isinstance(size, int) and size > limit):
        raise too_large(size or limit + 1, limit)


@contextmanager
def spooled(fileobj, *, limit: int | None = None) -> Iterator[Spooled]:
    """``fileobj`` on disk, in chunks: a Django temporary upload is used where it is; anything
    else is copied to a temporary file, and the copy stops (and is removed) as soon as it passes
    ``limit``. The copy is removed on leaving, unless it was moved into storage meanwhile."""
    limit = limit or max_video_bytes()
    check_declared_size(fileobj, limit)
    digest = hashlib.sha256()
    owned = False
    if hasattr(fileobj, "temporary_file_path"):
        path = fileobj.temporary_file_path()
        size = 0
        with open(path, "rb") as fh:
            while chunk := fh.read(CHUNK):
                size += len(chunk)
                if size > limit:
                    raise too_large(size, limit)
                digest.update(chunk)
    else:
        fd, path = tempfile.mkstemp(prefix="tertulia-video-", suffix=".upload",
                                    dir=getattr(settings, "FILE_UPLOAD_TEMP_DIR", None))
        owned = True
        size = 0
        try:
            with os.fdopen(fd, "wb") as out:
                for chunk in _chunks(fileobj):
                    size += len(chunk)
                    if size > limit:
                        raise too_large(size, limit)
                    digest.update(chunk)
                    out.write(chunk)
        except BaseException:
            _remove(path)
            raise
    try:
        with open(path, "rb") as fh:
            head = fh.read(4096)
        yield Spooled(path=path, size=size, sha256=digest.hexdigest(), container=sniff(head))
    finally:
        if owned:
            _remove(path)


def _chunks(fileobj) -> Iterator[bytes]:
    if hasattr(fileobj, "chunks"):
        try:
            fileobj.seek(0)
        except (AttributeError, OSError, ValueError):
            pass
        yield from fileobj.chunks(CHUNK)
        return
    while True:
        chunk = fileobj.read(CHUNK)
        if not chunk:
            return
        yield chunk


def _remove(path: str) -> None:
    try:
        os.remove(path)
    except FileNotFoundError:
        pass


class SpooledFile(File):
    """A spooled upload for ``Storage.save``: the file system storage moves it into place
    (``temporary_file_path``) instead of copying a gigabyte."""

    def __init__(self, spool: Spooled):
        super().__init__(open(spool.path, "rb"), name=os.path.basename(spool.path))
        self._path = spool.path

    def temporary_file_path(self) -> str:
        return self._path


# --- Probing --------------------------------------------------------------------------------

@dataclass(frozen=True)
class VideoProbe:
    """What a video file is, read from its container and first frame."""

    container: str
    video_codec: str
    audio_codec: str  # "" when the video is silent
    duration: float  # seconds
    width: int  # as displayed (a phone's rotation applied)
    height: int
    frame_rate: float | None
    bitrate: int | None  # bits per second, the whole file
    size_bytes: int
    streams: int = 1
    poster: bytes | None = None  # the first frame as a preview WebP

    @property
    def mime_type(self) -> str:
        return CONTAINERS[self.container][0]

    @property
    def extension(self) -> str:
        return CONTAINERS[self.container][1]

    @property
    def duration_seconds(self) -> float:
        return self.duration


def probe(path: str, container: str | None = None, *, budget: float | None = None) -> VideoProbe:
    """Probe the video at ``path`` (whose first bytes declare ``container``), or raise a
    ValidationError with a stable ``video_*`` code and a translated message."""
    import av

    if container is None:
        with open(path, "rb") as fh:
            container = sniff(fh.read(4096))
    if container not in CONTAINERS:
        raise refuse("container")
    budget = budget or probe_seconds()
    deadline = time.monotonic() + budget
    size = os.path.getsize(path)
    try:
        # probesize / analyzeduration bound how much ffmpeg reads to fill in stream details;
        # the timeout bounds each blocking read.
        handle = av.open(path, mode="r", format=DEMUXER[container], metadata_errors="ignore",
                         options={"probesize": "10000000", "analyzeduration": "10000000",
                                  "protocol_whitelist": "file"},
                         timeout=(budget, budget))
    except (av.FFmpegError, OSError, ValueError, EOFError, UnicodeDecodeError):
        raise _failure(deadline, budget) from None
    with handle:
        streams = list(handle.streams)
        videos = [s for s in streams if s.type == "video"]
        audios = [s for s in streams if s.type == "audio"]
        if not streams:
            raise refuse("corrupt")
        if len(streams) > MAX_STREAMS:
            raise refuse("too_many_streams", count=len(streams), limit=MAX_STREAMS)
        if not videos:
            raise refuse("audio_only" if audios else "no_video")
        stream = videos[0]
        width, height = int(stream.codec_context.width or 0), int(stream.codec_context.height or 0)
        if not (MIN_SIDE <= width <= MAX_SIDE and MIN_SIDE <= height <= MAX_SIDE):
            raise refuse("dimensions", width=width, height=height, min=MIN_SIDE, max=MAX_SIDE)
        _over(deadline, budget)
        duration = _duration(handle, stream)
        if duration <= 0:
            raise refuse("no_duration")
        if duration > MAX_DURATION:
            raise refuse("too_long", duration=human_duration(duration), limit=human_duration(MAX_DURATION))
        rate = _rate(stream)
        bitrate = int(handle.bit_rate) if handle.bit_rate else (round(size * 8 / duration) if duration else None)
        poster, rotation = None, 0  # no decoder is run on a codec outside POSTER_CODECS
        if stream.codec_context.name in POSTER_CODECS:
            poster, rotation = _first_frame(handle, stream, deadline, budget)
        if rotation in (90, -90, 270, -270):
            width, height = height, width
        _check_tail(handle, stream, duration, deadline, budget)
        return VideoProbe(container=container, video_codec=stream.codec_context.name or "",
                          audio_codec=(audios[0].codec_context.name or "") if audios else "",
                          duration=round(duration, 3), width=width, height=height, frame_rate=rate,
                          bitrate=bitrate, size_bytes=size, streams=len(streams), poster=poster)


def _duration(handle, stream) -> float:
    if handle.duration and handle.duration > 0:
        return handle.duration / 1_000_000  # AV_TIME_BASE
    if stream.duration and stream.time_base:
        return float(stream.duration * stream.time_base)
    return 0.0


def _rate(stream) -> float | None:
    for value in (stream.average_rate, stream.guessed_rate, stream.base_rate):
        if value and Fraction(value) > 0:
            return round(float(value), 3)
    return None


def _failure(deadline: float, budget: float) -> ValidationError:
    """What an ffmpeg error means: the budget ran out (ffmpeg's reads were interrupted at the
    timeout, which it reports as a read or data error), or the file is damaged."""
    if time.monotonic() > deadline:
        return refuse("timeout", seconds=f"{budget:g}")
    return refuse("corrupt")


def _over(deadline: float, budget: float) -> None:
    if time.monotonic() > deadline:
        raise refuse("timeout", seconds=f"{budget:g}")


def _first_frame(handle, stream, deadline: float, budget: float) -> tuple[bytes | None, int]:
    """The first decodable frame as a preview WebP, and its rotation in degrees. Reads at most
    a few hundred packets; a file whose first frame cannot be decoded is refused."""
    import av

    packets = 0
    try:
        for packet in handle.demux(stream):
            packets += 1
            for frame in packet.decode():
                image = frame.to_image()
                rotation = int(getattr(frame, "rotation", 0) or 0)
                if rotation:
                    image = image.rotate(rotation, expand=True)
                return make_preview(image), rotation
            if packets > 600:
                break
            _over(deadline, budget)
        for frame in stream.codec_context.decode(None):  # frames held back by the decoder
            return make_preview(frame.to_image()), int(getattr(frame, "rotation", 0) or 0)
    except ValidationError:
        raise
    except (av.FFmpegError, OSError, ValueError, EOFError, MemoryError):
        raise _failure(deadline, budget) from None
    raise refuse("corrupt")


def _check_tail(handle, stream, duration: float, deadline: float, budget: float) -> None:
    """Jump to the last seconds and read to the end: a file cut short ends well before the
    duration its header declares."""
    import av

    start = float(stream.start_time * stream.time_base) if stream.start_time and stream.time_base else 0.0
    tolerance = max(0.5, min(1.5, duration * 0.02))
    target = max(0.0, duration - 1.5)
    end, last_lasts = 0.0, 0.0
    try:
        handle.seek(int((start + target) / stream.time_base), stream=stream, backward=True)
        for count, packet in enumerate(handle.demux(), start=1):
            if packet.pts is not None and packet.time_base:
                ends = float((packet.pts + (packet.duration or 0)) * packet.time_base)
                if ends >= end:
                    end, last_lasts = ends, float((packet.duration or 0) * packet.time_base)
                if end - start >= duration - tolerance:
                    return  # the file reaches the end its header declares
            if count > TAIL_PACKETS:
                return  # cannot tell within reason (a seek far back): not refused for that
            if count % 64 == 0:
                _over(deadline, budget)
    except ValidationError:
        raise
    except (av.FFmpegError, OSError, ValueError, EOFError):
        raise _failure(deadline, budget) from None
    if not last_lasts:  # the last packet has no duration (some Matroska muxers): allow one frame
        rate = _rate(stream)
        tolerance += 1 / rate if rate else 0.0
    if end - start < duration - tolerance:
        raise refuse("truncated", expected=human_duration(duration), found=human_duration(max(0.0, end - start)))


# --- Network rules --------------------------------------------------------------------------

class VideoLike(Protocol):
    container: str
    video_codec: str
    audio_codec: str
    duration_seconds: float | None
    width: int | None
    height: int | None
    frame_rate: float | None
    bitrate: int | None
    size_bytes: int


@dataclass(frozen=True)
class VideoRules:
    max_videos: int = 1
    containers: frozenset[str] = frozenset({"mp4"})
    video_codecs: frozenset[str] | None = None  # None: any
    audio_codecs: frozenset[str] | None = None  # None: any; a silent video is always fine
    min_duration: float | None = None  # seconds
    max_duration: float | None = None
    min_bytes: int | None = None
    max_bytes: int | None = None
    min_side: int | None = None  # both sides at least
    max_width: int | None = None  # horizontal pixels
    max_long_side: int | None = None  # either orientation: e.g. 1920×1200 or 1200×1920
    max_short_side: int | None = None
    max_pixels: int | None = None
    min_aspect: float | None = None  # width / height
    max_aspect: float | None = None
    aspect_label: str = ""
    min_fps: float | None = None
    max_fps: float | None = None
    max_bitrate: int | None = None  # bits per second
    with_images: bool = False  # images and videos in the same post (a carousel or album)
    shared_count: bool = True  # images and videos count together (a carousel), not apart (a thumbnail)
    requires_video: bool = False  # a post without a video is refused
    recommended_aspect: tuple[int, int] | None = None  # advice only
    verified_over: float | None = None  # longer than this needs a verified account (advice)


_MB = 1024 * 1024
_GB = 1024 * _MB
_H264_HEVC = frozenset({"h264", "hevc"})
_AAC = frozenset({"aac"})

# From each network's API documentation (the strictest published limit where they differ).
NETWORK_VIDEO_RULES: dict[str, VideoRules] = {
    # YouTube Data API videos.insert: up to 256 GB and 12 hours; accepted formats (YouTube Help
    # "Supported YouTube file formats") include MOV, MP4 and WebM; MKV is not listed there but
    # YouTube processes it and the connector sends it. Longer than 15 minutes needs a verified
    # channel. Exactly one video per upload; an image next to it is its thumbnail.
    "youtube": VideoRules(containers=frozenset({"mp4", "mov", "webm", "mkv"}), max_duration=12 * 3600,
                          max_bytes=256 * _GB, verified_over=15 * 60, with_images=True, shared_count=False,
                          requires_video=True),
    # Instagram Graph API, Reels (media_type=REELS): MOV or MP4, HEVC or H.264, AAC, 23–60 fps,
    # at most 1920 px wide, aspect 0.01:1 to 10:1 (9:16 recommended), 25 Mbps, 3 s to 15 min,
    # 300 MB. A carousel mixes up to 10 images and videos.
    "instagram": VideoRules(max_videos=10, containers=frozenset({"mp4", "mov"}), video_codecs=_H264_HEVC,
                            audio_codecs=_AAC, min_duration=3, max_duration=15 * 60, max_bytes=300 * _MB,
                            max_width=1920, min_aspect=0.01, max_aspect=10, aspect_label="0.01:1 – 10:1",
                            min_fps=23, max_fps=60, max_bitrate=25_000_000, with_images=True,
                            recommended_aspect=(9, 16)),
    # X API v2 media upload (media_category=tweet_video) and "Media best practices": MP4/MOV,
    # H.264 with AAC, 0.5 s to 140 s, 512 MB, at most 1920×1200 (either orientation) and at
    # least 32×32, at most 60 fps, aspect 1:3 to 3:1. One video per post, never with photos.
    "x": VideoRules(containers=frozenset({"mp4", "mov"}), video_codecs=frozenset({"h264"}), audio_codecs=_AAC,
                    min_duration=0.5, max_duration=140, max_bytes=512 * _MB, min_side=32, max_long_side=1920,
                    max_short_side=1200, max_fps=60, min_aspect=1 / 3, max_aspect=3, aspect_label="1:3 – 3:1"),
    # Threads API: MOV or MP4, HEVC or H.264, AAC, 23–60 fps, at most 1920 px wide, aspect
    # 0.01:1 to 10:1 (9:16 recommended), 25 Mbps, at most 5 minutes, 1 GB. Carousels mix up
    # to 20 images and videos.
    "threads": VideoRules(max_videos=20, containers=frozenset({"mp4", "mov"}), video_codecs=_H264_HEVC,
                          audio_codecs=_AAC, max_duration=5 * 60, max_bytes=1 * _GB, max_width=1920,
                          min_aspect=0.01, max_aspect=10, aspect_label="0.01:1 – 10:1", min_fps=23, max_fps=60,
                          max_bitrate=25_000_000, with_images=True, recommended_aspect=(9, 16)),
    # Mastodon (default instance limits, MediaAttachment): one video of 99 MB, at most
    # 3840×2160 pixels in all and 120 fps; MP4, MOV or WebM.
    "mastodon": VideoRules(containers=frozenset({"mp4", "mov", "webm"}), max_bytes=99 * _MB,
                           max_pixels=8_294_400, max_fps=120),
    # Telegram Bot API sendVideo / sendMediaGroup: MPEG-4 video up to 50 MB (bots); albums of up
    # to 10 photos and videos.
    "telegram": VideoRules(max_videos=10, containers=frozenset({"mp4"}), max_bytes=50 * _MB, with_images=True),
    # WhatsApp Cloud API, supported media: video/mp4, H.264 with AAC (or silent), 16 MB; one
    # media item per message.
    "whatsapp": VideoRules(containers=frozenset({"mp4"}), video_codecs=frozenset({"h264"}), audio_codecs=_AAC,
                           max_bytes=16 * _MB),
}


# Not here yet: LinkedIn, Facebook and Bluesky. Their connectors publish images only, so a video
# for them is "not published" (``video_unsupported``) until they upload video. Their documented
# limits, for then: LinkedIn Videos API, MP4, 3 s to 30 min, 75 KB to 5 GB, aspect 1:2.4 to 2.4:1;
# Facebook Video API, up to 4 GB and 240 min (MP4, MOV, MKV, WebM); Bluesky app.bsky.embed.video,
# one video of at most 3 min and 100 MB (MP4, MOV, WebM).


def _labels(values) -> str:
    return ", ".join(sorted(CODEC_LABELS.get(v, CONTAINERS.get(v, (None, None, v))[2]) for v in values))


def _codec(name: str) -> str:
    return CODEC_LABELS.get(name, name or "?")


def _aspect(width: int, height: int) -> str:
    return f"{width / height:.2f}:1"


def check_videos(network: str, videos: Sequence[VideoLike], *, images: int = 0) -> list[Problem]:
    """What ``network`` would refuse about posting ``videos`` (together with ``images`` images)
    as one post. Problems of level "warning" are advice and do not block."""
    rules = NETWORK_VIDEO_RULES.get(network)
    if rules is None:
        return [Problem("video_unsupported", network)] if videos else []
    problems: list[Problem] = []
    if videos and images and not rules.with_images:
        problems.append(Problem("mixed_media", network))
    if len(videos) > rules.max_videos:
        code = "one_video" if rules.max_videos == 1 else "too_many_videos"
        problems.append(Problem(code, network, None, {"limit": rules.max_videos, "count": len(videos)}))
    for i, video in enumerate(videos, start=1):
        problems.extend(_check_one(network, rules, video, i))
    return problems


def check_video(network: str, video: VideoLike) -> list[Problem]:
    return check_videos(network, [video])


def _check_one(network: str, rules: VideoRules, v: VideoLike, index: int) -> list[Problem]:  # noqa: C901
    out: list[Problem] = []

    def add(code: str, level: str = "error", **params) -> None:
        out.append(Problem(code, network, index, params, level=level))

    container = v.container or MIME_TO_CONTAINER.get(getattr(v, "mime_type", ""), "")
    if container not in rules.containers:
        add("video_format", format=CONTAINERS.get(container, ("", "", container or "?"))[2],
            allowed=_labels(rules.containers))
    if rules.video_codecs is not None and v.video_codec not in rules.video_codecs:
        add("video_codec", codec=_codec(v.video_codec), allowed=_labels(rules.video_codecs))
    if rules.audio_codecs is not None and v.audio_codec and v.audio_codec not in rules.audio_codecs:
        add("audio_codec", codec=_codec(v.audio_codec), allowed=_labels(rules.audio_codecs))
    if rules.max_bytes and v.size_bytes > rules.max_bytes:
        add("video_too_large", size=human_size(v.size_bytes), limit=human_size(rules.max_bytes))
    if rules.min_bytes and v.size_bytes < rules.min_bytes:
        add("video_too_small", size=human_size(v.size_bytes), limit=human_size(rules.min_bytes))
    duration = v.duration_seconds or 0.0
    if rules.min_duration and duration < rules.min_duration:
        add("video_too_short", duration=human_duration(duration), limit=human_duration(rules.min_duration))
    if rules.max_duration and duration > rules.max_duration:
        add("video_too_long", duration=human_duration(duration), limit=human_duration(rules.max_duration))
    elif rules.verified_over and duration > rules.verified_over:
        add("video_needs_verification", "warning", duration=human_duration(duration),
            limit=human_duration(rules.verified_over))
    rate = v.frame_rate
    if rate:
        shown = f"{rate:.2f}".rstrip("0").rstrip(".")
        if rules.max_fps and rate > rules.max_fps + 0.01:
            add("video_fps_high", rate=shown, limit=f"{rules.max_fps:g}")
        if rules.min_fps and rate < rules.min_fps - 0.01:
            add("video_fps_low", rate=shown, limit=f"{rules.min_fps:g}")
    if rules.max_bitrate and v.bitrate and v.bitrate > rules.max_bitrate:
        add("video_bitrate", rate=f"{v.bitrate / 1_000_000:.1f}", limit=f"{rules.max_bitrate / 1_000_000:g}")
    w, h = v.width or 0, v.height or 0
    if not w or not h:
        return out
    dims = {"width": w, "height": h}
    if rules.min_side and min(w, h) < rules.min_side:
        add("video_too_small_dimensions", **dims, min=rules.min_side)
    if rules.max_width and w > rules.max_width:
        add("video_too_wide", **dims, limit=rules.max_width)
    if (rules.max_long_side and max(w, h) > rules.max_long_side) or (
            rules.max_short_side and min(w, h) > rules.max_short_side):
        add("video_too_big_dimensions", **dims, long=rules.max_long_side, short=rules.max_short_side)
    if rules.max_pixels and w * h > rules.max_pixels:
        add("video_too_many_pixels", pixels=f"{w * h / 1_000_000:.1f}", limit=f"{rules.max_pixels / 1_000_000:.1f}")
    aspect = w / h
    if (rules.min_aspect and aspect < rules.min_aspect * 0.99) or (rules.max_aspect and aspect > rules.max_aspect * 1.01):
        add("video_aspect", ratio=_aspect(w, h), range=rules.aspect_label)
    elif rules.recommended_aspect:
        rw, rh = rules.recommended_aspect
        if abs(aspect - rw / rh) > 0.02 * (rw / rh):
            add("video_recommended_aspect", "warning", ratio=_aspect(w, h), recommended=f"{rw}:{rh}")
    return out


def blocking(problems: Sequence[Problem]) -> list[Problem]:
    """The problems that stop a post (advice left out)."""
    return [p for p in problems if p.level == "error"]


def fit_report(video: VideoLike) -> list[tuple[str, str, list[Problem]]]:
    """(network, label, problems) for every network that publishes videos."""
    from .media import network_label

    return [(n, network_label(n), check_video(n, video)) for n in NETWORK_VIDEO_RULES]


def facts(asset: VideoLike) -> list[tuple[str, str]]:
    """(label, value) rows describing a video for its detail page."""
    container = CONTAINERS.get(asset.container, ("", "", asset.container or "—"))[2]
    rate = f"{asset.frame_rate:.2f}".rstrip("0").rstrip(".") if asset.frame_rate else "—"
    return [
        (_("Format"), container),
        (_("Video codec"), _codec(asset.video_codec)),
        (_("Sound"), _codec(asset.audio_codec) if asset.audio_codec else _("None (silent)")),
        (_("Duration"), human_duration(asset.duration_seconds or 0)),
        (_("Picture size"), f"{asset.width}×{asset.height}"),
        (_("Frame rate"), _("%(rate)s frames per second") % {"rate": rate}),
        (_("Bitrate"), f"{asset.bitrate / 1_000_000:.2f} Mbps" if asset.bitrate and asset.bitrate >= 100_000
         else (f"{asset.bitrate / 1000:.0f} kbps" if asset.bitrate else "—")),
        (_("File size"), human_size(asset.size_bytes)),
    ]
