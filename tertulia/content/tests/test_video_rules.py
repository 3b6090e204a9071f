"""Per-network video rules: a pure function over a probe's figures, checked at each documented
boundary, plus the composer-facing ``check_media`` (images and videos together). No database."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from django.utils import translation

from tertulia.content import media, video
from tertulia.networks.models import Network

MB = 1024 * 1024
GB = 1024 * MB


@dataclass
class Vid:
    width: int = 1080
    height: int = 1920
    duration_seconds: float = 30.0
    size_bytes: int = 20 * MB
    container: str = "mp4"
    video_codec: str = "h264"
    audio_codec: str = "aac"
    frame_rate: float | None = 30.0
    bitrate: int | None = 8_000_000
    kind: str = "video"
    mime_type: str = "video/mp4"


@dataclass
class Img:
    width: int = 1080
    height: int = 1080
    size_bytes: int = 200_000
    mime_type: str = "image/jpeg"
    kind: str = "image"


def codes(problems):
    return [p.code for p in problems]


def errors(network, *videos, images=0):
    return codes(video.blocking(video.check_videos(network, list(videos), images=images)))


def test_rules_cover_the_networks_that_publish_video():
    # LinkedIn, Facebook and Bluesky publish images only for now (their connectors refuse video).
    assert set(video.NETWORK_VIDEO_RULES) == set(Network.values) - {"wordpress", "joomla", "linkedin", "facebook",
                                                                    "bluesky"}
    assert codes(video.check_videos("joomla", [Vid()])) == ["video_unsupported"]
    assert video.check_videos("joomla", []) == []


@pytest.mark.parametrize("network,vid,expected", [
    # X: 0.5 s – 140 s, 512 MB, H.264 + AAC, MP4/MOV, ≤ 1920×1200 either way, ≥ 32 px, ≤ 60 fps, 1:3 – 3:1.
    ("x", Vid(duration_seconds=0.5), []),
    ("x", Vid(duration_seconds=0.4), ["video_too_short"]),
    ("x", Vid(duration_seconds=140), []),
    ("x", Vid(duration_seconds=140.6), ["video_too_long"]),
    ("x", Vid(size_bytes=512 * MB), []),
    ("x", Vid(size_bytes=512 * MB + 1), ["video_too_large"]),
    ("x", Vid(width=1920, height=1200), []),
    ("x", Vid(width=1200, height=1920), []),
    ("x", Vid(width=1921, height=1080), ["video_too_big_dimensions"]),
    ("x", Vid(width=1920, height=1201), ["video_too_big_dimensions"]),
    ("x", Vid(width=31, height=64), ["video_too_small_dimensions"]),
    ("x", Vid(frame_rate=60), []),
    ("x", Vid(frame_rate=120), ["video_fps_high"]),
    ("x", Vid(width=1500, height=500), []),
    ("x", Vid(width=1600, height=400), ["video_aspect"]),
    ("x", Vid(video_codec="hevc"), ["video_codec"]),
    ("x", Vid(audio_codec="opus"), ["audio_codec"]),
    ("x", Vid(audio_codec=""), []),  # silent is fine
    ("x", Vid(container="webm", video_codec="vp9", audio_codec="opus"), ["video_format", "video_codec", "audio_codec"]),
    # Instagram reels: 3 s – 15 min, 300 MB, MP4/MOV, H.264/HEVC, AAC, 23–60 fps, ≤ 1920 wide, 25 Mbps.
    ("instagram", Vid(duration_seconds=3), []),
    ("instagram", Vid(duration_seconds=2.9), ["video_too_short"]),
    ("instagram", Vid(duration_seconds=15 * 60), []),
    ("instagram", Vid(duration_seconds=15 * 60 + 1), ["video_too_long"]),
    ("instagram", Vid(size_bytes=300 * MB + 1), ["video_too_large"]),
    ("instagram", Vid(container="mov", video_codec="hevc"), []),
    ("instagram", Vid(container="mkv"), ["video_format"]),
    ("instagram", Vid(frame_rate=22), ["video_fps_low"]),
    ("instagram", Vid(frame_rate=23.976), []),
    ("instagram", Vid(width=2160, height=3840), ["video_too_wide"]),
    ("instagram", Vid(bitrate=30_000_000), ["video_bitrate"]),
    # LinkedIn, Facebook and Bluesky: their connectors publish images only, so any video is refused.
    ("linkedin", Vid(), ["video_unsupported"]),
    ("facebook", Vid(container="mkv", video_codec="vp9", audio_codec="opus"), ["video_unsupported"]),
    ("bluesky", Vid(duration_seconds=30), ["video_unsupported"]),
    # Threads: ≤ 5 min, 1 GB, MP4/MOV, H.264/HEVC, AAC.
    ("threads", Vid(duration_seconds=300, size_bytes=GB), []),
    ("threads", Vid(duration_seconds=301), ["video_too_long"]),
    ("threads", Vid(size_bytes=GB + 1), ["video_too_large"]),
    ("threads", Vid(video_codec="vp9", container="webm"), ["video_format", "video_codec"]),
    # YouTube: 12 h, 256 GB, MP4/MOV/WebM, any codec (longer than 15 min is advice, not an error).
    ("youtube", Vid(duration_seconds=11 * 3600, size_bytes=200 * GB, container="webm", video_codec="vp9"), []),
    ("youtube", Vid(duration_seconds=12 * 3600 + 1), ["video_too_long"]),
    ("youtube", Vid(container="mkv"), []),
    # WhatsApp: 16 MB, MP4 with H.264 + AAC.
    ("whatsapp", Vid(size_bytes=16 * MB), []),
    ("whatsapp", Vid(size_bytes=16 * MB + 1), ["video_too_large"]),
    # Mastodon: 99 MB, 3840×2160 pixels in all; Telegram: 50 MB MP4.
    ("mastodon", Vid(width=3840, height=2160), []),
    ("mastodon", Vid(width=4096, height=2160), ["video_too_many_pixels"]),
    ("telegram", Vid(size_bytes=50 * MB + 1, container="mov"), ["video_format", "video_too_large"]),
])
def test_documented_limits(network, vid, expected):
    assert errors(network, vid) == expected


def test_counts_and_mixing():
    assert errors("x", Vid(), Vid()) == ["one_video"]
    assert errors("x", Vid(), images=1) == ["mixed_media"]
    assert errors("mastodon", Vid(), images=2) == ["mixed_media"]
    assert errors("threads", *[Vid()] * 20) == []
    assert errors("threads", *[Vid()] * 21) == ["too_many_videos"]
    # Instagram and Threads carousels mix images and videos, up to their item limit.
    assert codes(media.check_media("instagram", [Img()] * 5 + [Vid()] * 5)) == []
    assert codes(media.check_media("instagram", [Img()] * 6 + [Vid()] * 5)) == ["too_many_items"]
    assert codes(media.check_media("x", [Img(), Vid()])) == ["mixed_media"]
    # YouTube: one video, and one image beside it as its thumbnail (not a carousel item).
    assert codes(media.check_media("youtube", [Vid(), Img(1280, 720)])) == []
    assert codes(media.check_media("youtube", [Vid(), Img(1280, 720), Img(1280, 720)])) == ["too_many_images"]
    assert codes(media.check_media("youtube", [Vid(), Vid()])) == ["one_video"]


def test_advice_is_a_warning_that_does_not_block():
    landscape = Vid(width=1920, height=1080)
    (problem,) = video.check_videos("instagram", [landscape])
    assert (problem.code, problem.level) == ("video_recommended_aspect", "warning")
    assert video.blocking([problem]) == []
    with translation.override("en"):
        assert problem.message == ("Video 1 has an aspect ratio of 1.78:1; Instagram recommends 9:16, so it may be "
                                   "shown cropped or with bars.")
    (long,) = video.check_videos("youtube", [Vid(duration_seconds=20 * 60)])
    assert (long.code, long.level) == ("video_needs_verification", "warning")
    with translation.override("en"):
        assert long.message == ("Video 1 lasts 20 min: YouTube accepts videos longer than 15 min only from verified "
                                "accounts.")


def test_messages_name_the_figures_in_both_languages():
    (problem,) = video.check_videos("x", [Vid(duration_seconds=141, width=1280, height=720)])
    with translation.override("en"):
        assert problem.message == "Video 1 lasts 2 min 21 s; X accepts at most 2 min 20 s."
    with translation.override("es"):
        assert problem.message == "El vídeo 1 dura 2 min 21 s; X acepta como máximo 2 min 20 s."
    (codec,) = video.check_videos("instagram", [Vid(video_codec="vp9")])
    with translation.override("en"):
        assert codec.message == "Video 1 is encoded with VP9; Instagram accepts H.264, HEVC (H.265)."
    (fmt,) = video.check_videos("telegram", [Vid(container="mov")])
    with translation.override("en"):
        assert fmt.message == "Video 1 is MOV; Telegram accepts MP4."
    (unsupported,) = video.check_videos("linkedin", [Vid()])
    with translation.override("en"):
        assert unsupported.message == "LinkedIn does not publish videos."


def test_fit_report_of_a_video_lists_every_video_network():
    report = media.fit_report(Vid(width=1080, height=1920, duration_seconds=30))
    by_network = {n: codes(p) for n, _label, p in report}
    assert set(by_network) == set(video.NETWORK_VIDEO_RULES)
    assert by_network["instagram"] == [] and by_network["x"] == [] and by_network["whatsapp"] == ["video_too_large"]
    tall = {n: codes(p) for n, _label, p in media.fit_report(Vid(width=1080, height=2400))}
    assert tall["x"] == ["video_too_big_dimensions"] and tall["instagram"] == ["video_recommended_aspect"]


def test_real_probe_against_the_rules(tmp_path):
    from .video_samples import samples

    files = samples(tmp_path)
    portrait = video.probe(str(files["mp4"]))  # 96×160, 2.048 s, 2 fps, H.264 + AAC
    assert errors("instagram", portrait) == ["video_too_short", "video_fps_low"]
    assert errors("x", portrait) == []
    assert errors("linkedin", portrait) == ["video_unsupported"]
    webm = video.probe(str(files["webm"]))
    assert errors("x", webm) == ["video_format", "video_codec", "audio_codec"]
    assert errors("mastodon", webm) == [] and errors("youtube", webm) == []
    long = video.probe(str(files["long"]))  # 200 s
    assert errors("x", long) == ["video_too_long"] and errors("threads", long) == ["video_fps_low"]


# --- Byte ranges (seeking in the browser's video player) ---------------------------------------

@pytest.mark.parametrize("header,expected", [
    ("bytes=0-99", (0, 99)),
    ("bytes=100-", (100, 999)),
    ("bytes=900-5000", (900, 999)),
    ("bytes=-100", (900, 999)),
    ("bytes=-5000", (0, 999)),
    ("bytes=1000-", False),
    ("bytes=-0", False),
    ("bytes=5-2", None),  # invalid: ignored, the whole file is sent
    ("bytes=0-1,5-9", None),  # several ranges: not served, the whole file is sent
    ("items=0-9", None),
    ("bytes=-", None),
    ("bytes=" + "9" * 40 + "-", None),  # absurdly long numbers are not parsed
    ("", None),
])
def test_byte_range(header, expected):
    from tertulia.content.media_views import byte_range

    assert byte_range(header, 1000) == expected
