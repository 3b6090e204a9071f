"""Security review, item 5: upload bombs.

Every service that takes a file reads it in bounded pieces: each is given a file that never
ends (a hostile client can stream forever, and a size it declares may be a lie) and must refuse
it with a clear message after reading little more than its limit. The CSV imports (calendar
posts, GA4/Matomo web analytics, conversions, competitor numbers) are also given the shapes that
break naive parsers: one gigantic cell (beyond Python's csv field limit), tens of thousands of
columns, NUL bytes, a binary file; each is a clear refusal or a row-level error, never a crash.
Image decompression bombs are refused from the header by the media library (its own tests:
content/tests/test_media_validation.py) and by the report logo (here); absurd video dimensions,
durations and track counts by content/tests/test_video_probe.py; an oversized video is refused
while it streams (here, with a small limit). There is no giveaway CSV import (the giveaway
pages only export), nor any zip import.
"""

from __future__ import annotations

import io
import time

import pytest
from django.core.exceptions import ValidationError
from django.utils import translation

from tertulia.content.tests.media_images import png_bomb
from tertulia.core.services import Ctx

pytestmark = pytest.mark.django_db

SLACK = 1024 * 1024  # what a reader may take past its limit in one piece


class EndlessFile:
    """An upload that never ends: read(n) always returns n bytes. A read() without a size
    would never return, so it fails the test instead."""

    name = "endless.csv"

    def __init__(self, head: bytes = b"", fill: bytes = b"2026-01-01,1,2\n"):
        self.head, self.fill, self.consumed = head, fill, 0

    def read(self, n: int = -1) -> bytes:
        if n is None or n < 0:
            raise AssertionError("an upload was read without a size limit")
        block = (self.head + self.fill * (n // len(self.fill) + 2))[:n] if self.consumed == 0 else \
            (self.fill * (n // len(self.fill) + 2))[:n]
        self.consumed += len(block)
        return block

    def seek(self, *args):
        return 0

    def tell(self):
        return self.consumed


def _refused(call) -> str:
    """The clear message of a refusal: a ValidationError, or an ImportResult's problem."""
    try:
        outcome = call()
    except ValidationError as exc:
        return " ".join(exc.messages)
    problem = getattr(outcome, "problem", "")
    assert problem, f"accepted: {outcome!r}"
    return str(problem)


@pytest.fixture
def owner_ctx(brand_a, settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path / "media")
    brand, people = brand_a
    return brand, Ctx(people["owner"], via="test")


def _competitor_account(brand):
    from tertulia.listening.models import Competitor, CompetitorAccount

    competitor = Competitor.objects.create(brand=brand, name="Rival")
    return CompetitorAccount.objects.create(brand=brand, competitor=competitor, network="mastodon",
                                            handle="@rival@mastodon.example")


def _entry_points(brand, ctx):
    from tertulia.analytics import roi, traffic
    from tertulia.content import csv_io
    from tertulia.listening import competitors

    account = _competitor_account(brand)
    return {
        # name: (call with a file object, its byte limit)
        "calendar CSV import": (lambda f: csv_io.do_import_posts(ctx, brand, f), csv_io.MAX_BYTES),
        "web analytics CSV (GA4/Matomo)": (lambda f: traffic.do_import_web_traffic(ctx, brand, f), traffic.MAX_BYTES),
        "conversions CSV": (lambda f: roi.do_import_conversions(ctx, brand, f), traffic.MAX_BYTES),
        # The view and the API read at most limit + 1 bytes of the upload and hand them over.
        "competitor CSV": (lambda f: competitors.do_import_csv(ctx, account, kind="snapshots",
                                                              data=f.read(competitors.MAX_CSV_BYTES + 1)),
                           competitors.MAX_CSV_BYTES),
    }


def test_endless_uploads_are_refused_after_reading_about_their_limit(owner_ctx):
    brand, ctx = owner_ctx
    for name, (call, limit) in _entry_points(brand, ctx).items():
        endless = EndlessFile(head=b"date,sessions,users\n")
        message = _refused(lambda: call(endless))
        assert "MB" in message, (name, message)  # says what the limit is
        assert endless.consumed <= limit + SLACK, f"{name} read {endless.consumed} bytes for a {limit}-byte limit"


def test_endless_images_logos_and_videos_are_refused(owner_ctx, settings):
    from tertulia.content import media
    from tertulia.content.services import do_upload_media
    from tertulia.reports.branding import MAX_BYTES as LOGO_BYTES, process_logo

    brand, ctx = owner_ctx
    png_head = png_bomb(100, 100)[:33]  # a real PNG signature and header, then endless data
    image = EndlessFile(head=png_head, fill=b"\x00" * 64)
    with pytest.raises(ValidationError):
        do_upload_media(ctx, brand, image)
    assert image.consumed <= media.max_bytes() + SLACK
    logo = EndlessFile(head=png_head, fill=b"\x00" * 64)
    with pytest.raises(ValidationError) as info:
        process_logo(logo)
    assert "2 MB" in " ".join(info.value.messages)
    assert logo.consumed <= LOGO_BYTES + SLACK
    # A video (an MP4 header) streams to a temporary file that stops at the limit.
    settings.MEDIA_MAX_VIDEO_BYTES = 3 * 1024 * 1024
    video = EndlessFile(head=b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom", fill=b"\x00" * 4096)
    with pytest.raises(ValidationError):
        do_upload_media(ctx, brand, video)
    from tertulia.content.video import CHUNK

    assert video.consumed <= settings.MEDIA_MAX_VIDEO_BYTES + 2 * CHUNK
    from tertulia.content.models import MediaAsset

    assert not MediaAsset.objects.filter(brand=brand).exists()


def test_a_logo_decompression_bomb_is_refused_from_its_header(owner_ctx):
    from tertulia.reports.branding import process_logo

    bomb = png_bomb(30000, 30000)
    assert len(bomb) < 200
    started = time.monotonic()
    with pytest.raises(ValidationError) as info, translation.override("en"):
        process_logo(io.BytesIO(bomb))
    with translation.override("en"):
        assert "megapixels" in " ".join(info.value.messages)
    assert time.monotonic() - started < 2  # refused from the header, nothing decoded


def _csv_shapes() -> dict[str, bytes]:
    return {
        "a cell beyond the csv module's field limit": b'date,sessions,text\n2026-01-01,1,"' + b"x" * 300_000 + b'"\n',
        "an unterminated quote to the end of the file": b'date,sessions\n2026-01-01,"' + b"y" * 200_000 + b"\n",
        "50,000 columns": b",".join(b"c%d" % i for i in range(50_000)) + b"\n" + b",".join(b"1" for _ in range(50_000)),
        "NUL bytes": b"date,sessions\n2026-01-01,\x001\n" * 10,
        "a binary file": png_bomb(100, 100) * 20,
        "only a byte-order mark": b"\xef\xbb\xbf",
    }


@pytest.mark.parametrize("shape", list(_csv_shapes()))
def test_pathological_csv_files_are_clear_errors_not_crashes(owner_ctx, shape):
    brand, ctx = owner_ctx
    data = _csv_shapes()[shape]
    for name, (call, _limit) in _entry_points(brand, ctx).items():
        started = time.monotonic()
        try:
            outcome = call(io.BytesIO(data))
        except ValidationError as exc:
            assert exc.messages and all(m.strip() for m in exc.messages), (name, shape)
        else:
            # Accepted as a file: then every bad row is reported and nothing bogus is stored.
            created = getattr(outcome, "created", 0)
            assert created == 0 or getattr(outcome, "problem", ""), (name, shape, outcome)
        assert time.monotonic() - started < 5, f"{name} took too long on {shape}"
