"""Video probing with PyAV on tiny real files: sniffing, exact metadata, the poster frame, and
every refusal (audio only, truncated, cut, zero duration, absurd size, too many tracks, the
time budget), in both languages. No database."""

from __future__ import annotations

import io

import pytest
from django.core.exceptions import ValidationError
from django.utils import translation
from PIL import Image

from tertulia.content import video

from .video_samples import samples


@pytest.fixture(scope="session")
def videos(tmp_path_factory):
    return samples(tmp_path_factory.mktemp("videos"))


def _refusal(path, **kw) -> ValidationError:
    with pytest.raises(ValidationError) as exc:
        video.probe(str(path), **kw)
    return exc.value


# --- Sniffing -------------------------------------------------------------------------------

@pytest.mark.parametrize("head,expected", [
    (b"\x00\x00\x00\x18ftypisom\x00\x00\x02\x00", "mp4"),
    (b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00", "mp4"),
    (b"\x00\x00\x00\x14ftypqt  \x00\x00\x02\x00", "mov"),
    (b"\x00\x00\x00\x08wide\x00\x00\x00\x00", "mov"),
    (b"\x00\x00\x00\x18ftyp3gp5\x00\x00\x00\x00", "other"),
    (b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00", None),  # an iPhone photo, not a video
    (b"\x00\x00\x00\x1cftypavif\x00\x00\x00\x00", None),
    (b"\x1a\x45\xdf\xa3\x9f\x42\x86\x81\x01\x42\xf7\x81\x01\x42\xf2\x81\x04\x42\xf3\x81\x08\x42\x82\x84webm", "webm"),
    (b"\x1a\x45\xdf\xa3\xa3\x42\x86\x81\x01\x42\xf7\x81\x01\x42\xf2\x81\x04\x42\xf3\x81\x08\x42\x82\x88matroska",
     "mkv"),
    (b"RIFF\x00\x00\x00\x00AVI LIST", "other"),
    (b"FLV\x01\x05", "other"),
    (b"OggS\x00\x02", "other"),
    (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", None),
    (b"\xff\xd8\xff\xe0\x00\x10JFIF", None),
    (b"PK\x03\x04\x14\x00\x00\x00", None),  # a zip renamed .mp4
    (b"", None),
])
def test_sniff_reads_the_bytes_not_the_name(head, expected):
    assert video.sniff(head) == expected


# --- Probing --------------------------------------------------------------------------------

@pytest.mark.parametrize("name,container,vcodec,acodec,duration,size,rate", [
    ("mp4", "mp4", "h264", "aac", 2.048, (96, 160), 2.0),
    ("webm", "webm", "vp9", "opus", 3.008, (64, 36), 1.0),
    ("mov", "mov", "h264", "aac", 3.072, (64, 36), 1.0),
    ("mkv", "mkv", "h264", "", 3.0, (64, 36), 1.0),
    ("mpeg4", "mp4", "mpeg4", "", 2.0, (64, 36), 1.0),
    ("long", "mp4", "h264", "", 200.0, (64, 36), 1.0),
    ("rotated", "mp4", "h264", "", 2.0, (96, 160), 1.0),  # coded 160×96, shown upright
])
def test_probe_reads_exact_metadata(videos, name, container, vcodec, acodec, duration, size, rate):
    path = videos[name]
    p = video.probe(str(path))
    assert (p.container, p.video_codec, p.audio_codec) == (container, vcodec, acodec)
    assert p.duration == pytest.approx(duration, abs=0.001)
    assert (p.width, p.height) == size
    assert p.frame_rate == rate
    assert p.size_bytes == path.stat().st_size
    assert p.bitrate == pytest.approx(p.size_bytes * 8 / duration, rel=0.05)
    assert p.mime_type == video.CONTAINERS[container][0] and p.extension == video.CONTAINERS[container][1]


def test_poster_is_the_first_frame_as_webp_upright(videos):
    poster = Image.open(io.BytesIO(video.probe(str(videos["mp4"])).poster))
    assert poster.format == "WEBP" and poster.size == (96, 160)
    assert poster.getpixel((10, 80))[0] > 150 and poster.getpixel((80, 80))[0] < 60  # red left, black right
    rotated = Image.open(io.BytesIO(video.probe(str(videos["rotated"])).poster))
    assert rotated.size == (96, 160)  # the phone's portrait, not the sensor's landscape
    # Turned a quarter counter-clockwise, as the display matrix says: the coded left half is at the bottom.
    assert rotated.getpixel((48, 140))[0] > 150 and rotated.getpixel((48, 20))[0] < 60


def test_unusual_codec_is_probed_but_never_decoded(videos):
    p = video.probe(str(videos["ffv1"]))
    assert (p.container, p.video_codec, p.width, p.height, p.duration) == ("mkv", "ffv1", 64, 36, 2.0)
    assert p.poster is None
    assert [x.code for x in video.check_video("x", p)] == ["video_format", "video_codec"]


def test_the_sniffed_container_picks_the_demuxer(videos):
    # A WebM file declared as MP4 is opened by the MP4 demuxer only, which cannot read it.
    assert _refusal(videos["webm"], container="mp4").code == "video_corrupt"
    assert _refusal(videos["mp4"], container="other").code == "video_container"


@pytest.mark.parametrize("name,code,english", [
    ("audio", "video_audio_only", "This file has sound but no picture. Upload a video."),
    ("truncated", "video_truncated",
     "The video is incomplete: it should last 10 s, but the file ends at 4 s. Upload the whole file again."),
    ("truncated_webm", "video_truncated",
     "The video is incomplete: it should last 3 s, but the file ends at 2 s. Upload the whole file again."),
    ("cut", "video_corrupt", "The video is damaged or incomplete and cannot be read."),
    ("zero", "video_no_duration", "The video has no duration: it is empty or damaged."),
    ("wide", "video_dimensions",
     "The video's picture is 8200×16 pixels; each side must be between 16 and 8192 pixels."),
    ("streams", "video_too_many_streams", "The file has 11 tracks; at most 8 are accepted."),
])
def test_refusals_are_clear_and_translated(videos, name, code, english):
    exc = _refusal(videos[name])
    assert exc.code == code
    with translation.override("en"):
        assert exc.messages == [english]
    with translation.override("es"):
        (spanish,) = exc.messages
    assert spanish != english and spanish


def test_probe_keeps_to_its_time_budget(videos):
    exc = _refusal(videos["long"], budget=1e-9)
    assert exc.code == "video_timeout"
    with translation.override("en"):
        assert exc.messages == ["The video could not be checked within 1e-09 seconds. It may be damaged."]


def test_garbage_with_a_video_header_is_corrupt(tmp_path):
    fake = tmp_path / "fake.mp4"
    fake.write_bytes(b"\x00\x00\x00\x18ftypisom\x00\x00\x02\x00isomiso2" + b"\xde\xad\xbe\xef" * 2000)
    assert _refusal(fake).code == "video_corrupt"
    empty_mkv = tmp_path / "fake.mkv"
    empty_mkv.write_bytes(b"\x1a\x45\xdf\xa3" + b"\x00" * 64)
    assert _refusal(empty_mkv).code == "video_corrupt"


@pytest.mark.parametrize("n,shown", [(512, "512 B"), (1536, "1.5 KB"), (75 * 1024, "75 KB"),
                                     (300 * 1024 ** 2, "300 MB"), (1024 ** 3, "1 GB"), (5 * 1024 ** 3, "5 GB")])
def test_human_size(n, shown):
    assert video.human_size(n) == shown


@pytest.mark.parametrize("seconds,shown", [(0.5, "0.5 s"), (3, "3 s"), (59.96, "60 s"), (140, "2 min 20 s"),
                                           (900, "15 min"), (14400, "4 h"), (5430, "1 h 30 min 30 s")])
def test_human_duration(seconds, shown):
    assert video.human_duration(seconds) == shown
