"""Per-network image rules: a pure function over width, height, size and type."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from django.utils import translation

from tertulia.content import media
from tertulia.networks.models import Network


@dataclass
class Img:
    width: int
    height: int
    size_bytes: int = 200_000
    mime_type: str = "image/jpeg"


def codes(problems):
    return [p.code for p in problems]


def test_every_network_with_images_has_rules():
    # WordPress articles take any library image.
    assert set(media.NETWORK_IMAGE_RULES) == set(Network.values) - {"wordpress"}


def test_joomla_takes_ten_images_of_10_mb():
    assert media.check_images("joomla", [Img(1200, 630, 10 * 1024 * 1024, "image/webp")] * 10) == []
    assert codes(media.check_images("joomla", [Img(1200, 630)] * 11)) == ["too_many_images"]
    assert codes(media.check_images("joomla", [Img(1200, 630, 10 * 1024 * 1024 + 1)])) == ["too_large"]


def test_whatsapp_sends_one_jpeg_or_png_of_5_mb():
    assert media.check_images("whatsapp", [Img(800, 800, 5 * 1024 * 1024, "image/png")]) == []
    assert codes(media.check_images("whatsapp", [Img(800, 800, mime_type="image/webp")])) == ["format"]
    assert codes(media.check_images("whatsapp", [Img(800, 800, 5 * 1024 * 1024 + 1)])) == ["too_large"]
    assert codes(media.check_images("whatsapp", [Img(800, 800)] * 2)) == ["too_many_images"]


def test_youtube_takes_one_image_as_the_thumbnail_of_its_video():
    assert codes(media.check_images("youtube", [Img(1280, 720, 2 * 1024 * 1024, "image/png")])) == []
    assert codes(media.check_images("youtube", [Img(1280, 720, mime_type="image/webp")])) == ["format"]
    assert codes(media.check_images("youtube", [Img(1280, 720, 2 * 1024 * 1024 + 1)])) == ["too_large"]
    assert codes(media.check_images("youtube", [Img(1280, 720)] * 2)) == ["too_many_images"]
    assert codes(media.check_media("youtube", [Img(1280, 720)])) == ["needs_video"]


@pytest.mark.parametrize("size", [(1080, 1080), (1080, 1350), (1080, 566), (1440, 754)])
def test_instagram_accepts_its_range(size):
    assert media.check_images("instagram", [Img(*size)]) == []


def test_instagram_refuses_9_16_with_the_aspect_message():
    (problem,) = media.check_images("instagram", [Img(1080, 1920)])
    assert problem.code == "aspect_too_tall" and problem.index == 1
    with translation.override("en"):
        assert problem.message == ("Image 1 is too tall for Instagram (aspect ratio 0.56:1); "
                                   "the allowed range is 4:5 – 1.91:1.")
    with translation.override("es"):
        assert "Instagram" in problem.message and "4:5 – 1.91:1" in problem.message
        assert problem.message.startswith("La imagen 1")


def test_instagram_refuses_too_wide_png_and_small():
    problems = media.check_images("instagram", [Img(300, 100, mime_type="image/png")])
    assert codes(problems) == ["format", "too_small", "aspect_too_wide"]


def test_instagram_carousel_limit():
    assert codes(media.check_images("instagram", [Img(1080, 1080)] * 11)) == ["too_many_images"]
    assert media.check_images("instagram", [Img(1080, 1080)] * 10) == []


def test_x_five_megabytes_and_four_images():
    assert media.check_images("x", [Img(1600, 900, 5 * 1024 * 1024)]) == []
    (problem,) = media.check_images("x", [Img(1600, 900, 5 * 1024 * 1024 + 1)])
    assert problem.code == "too_large"
    with translation.override("en"):
        assert "X accepts at most 5 MB" in problem.message
    (problem,) = media.check_images("x", [Img(1600, 900)] * 5)
    assert problem.code == "too_many_images" and problem.index is None
    with translation.override("en"):
        assert problem.message == "X accepts at most 4 images in a post; this one has 5."
    # X has no aspect rule: a 9:16 image is fine there.
    assert media.check_images("x", [Img(1080, 1920)]) == []


def test_x_dimension_limit():
    assert codes(media.check_images("x", [Img(9000, 4000)])) == ["too_big_dimensions"]


def test_bluesky_one_megabyte_and_four_images():
    assert media.check_images("bluesky", [Img(1000, 1000, 1_000_000)] * 4) == []
    assert codes(media.check_images("bluesky", [Img(1000, 1000, 1_000_001)])) == ["too_large"]
    assert codes(media.check_images("bluesky", [Img(1000, 1000)] * 5)) == ["too_many_images"]


def test_mastodon_pixel_limit():
    assert media.check_images("mastodon", [Img(7680, 4320)]) == []
    assert codes(media.check_images("mastodon", [Img(7681, 4320)])) == ["too_many_pixels"]


def test_threads_and_telegram_extreme_aspects():
    assert codes(media.check_images("threads", [Img(4000, 320)])) == ["aspect_too_wide"]
    assert codes(media.check_images("telegram", [Img(100, 2500)])) == ["aspect_too_tall"]


def test_each_problem_points_at_its_image():
    problems = media.check_images("instagram", [Img(1080, 1080), Img(1080, 1920)])
    assert [(p.code, p.index) for p in problems] == [("aspect_too_tall", 2)]


def test_unknown_network():
    assert codes(media.check_images("myspace", [Img(10, 10)])) == ["unknown_network"]


def test_fit_report_covers_every_network():
    report = media.fit_report(Img(1080, 1920))
    by_network = {n: codes(p) for n, _label, p in report}
    assert by_network["instagram"] == ["aspect_too_tall"]
    assert by_network["x"] == [] and by_network["linkedin"] == []


def test_every_message_renders_in_both_languages():
    params = {"limit": 1, "count": 2, "size": 1, "format": "PNG", "width": 1, "height": 1, "min_width": 1,
              "min_height": 1, "max_width": 1, "max_height": 1, "pixels": 1, "ratio": "1:1", "range": "1:1",
              # video rules
              "allowed": "MP4", "codec": "VP9", "duration": "2 s", "rate": "30", "min": 32, "long": 1920,
              "short": 1200, "recommended": "9:16"}
    for code in media.RULE_MESSAGES:
        problem = media.Problem(code, "x", 1, params)
        for lang in ("es", "en"):
            with translation.override(lang):
                assert problem.message
