"""Upload validation by content: accepted formats, hostile files, metadata stripping,
orientation, previews and crop presets (content.media, no database)."""

from __future__ import annotations

import io

import pytest
from django.core.exceptions import ValidationError
from django.utils import translation
from PIL import Image

from tertulia.content import media

from .media_images import image_bytes, jpeg_with_exif, png_bomb


def _code(exc: pytest.ExceptionInfo) -> str:
    (err,) = exc.value.error_list
    return err.code


def _message(exc: pytest.ExceptionInfo, lang: str = "en") -> str:
    (err,) = exc.value.error_list
    with translation.override(lang):
        return str(err.message) % (err.params or {})


@pytest.mark.parametrize("fmt,mime", [("JPEG", "image/jpeg"), ("PNG", "image/png"), ("GIF", "image/gif"),
                                      ("WEBP", "image/webp")])
def test_accepted_formats_are_recognised_by_content(fmt, mime):
    processed = media.process_upload(image_bytes(300, 200, fmt))
    assert processed.mime_type == mime
    assert (processed.width, processed.height) == (300, 200)
    assert Image.open(io.BytesIO(processed.content)).format == fmt
    preview = Image.open(io.BytesIO(processed.preview))
    assert preview.format == "WEBP" and max(preview.size) <= media.PREVIEW_SIZE


def test_the_extension_and_name_do_not_matter():
    # A JPEG called .png is stored as what it is.
    assert media.process_upload(image_bytes(50, 50, "JPEG")).mime_type == "image/jpeg"


def test_preview_is_at_most_320_pixels_and_keeps_the_shape():
    processed = media.process_upload(image_bytes(1600, 900, "JPEG"))
    assert Image.open(io.BytesIO(processed.preview)).size == (320, 180)


def test_decompression_bomb_is_refused_from_its_header():
    bomb = png_bomb(30000, 30000)
    assert len(bomb) < 200
    with pytest.raises(ValidationError) as exc:
        media.process_upload(bomb)
    assert _code(exc) == "too_many_pixels"
    assert "40 megapixels" in _message(exc)


def test_bomb_below_pillows_own_limit_is_refused_by_ours():
    with pytest.raises(ValidationError) as exc:
        media.process_upload(png_bomb(9000, 9000))  # 81 megapixels: Pillow alone would try it
    assert _code(exc) == "too_many_pixels"
    assert "9000×9000" in _message(exc)


def test_pillow_own_bomb_limit_is_also_caught(monkeypatch):
    # Beyond Pillow's MAX_IMAGE_PIXELS (×2) Image.open itself raises; that is a refusal too.
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)
    with pytest.raises(ValidationError) as exc:
        media.process_upload(image_bytes(100, 100))
    assert _code(exc) == "too_many_pixels"


def test_pixel_limit_is_per_call():
    data = image_bytes(200, 200)
    with pytest.raises(ValidationError) as exc:
        media.process_upload(data, pixel_limit=39_999)
    assert _code(exc) == "too_many_pixels"
    assert media.process_upload(data, pixel_limit=40_000).width == 200


def test_truncated_jpeg_is_refused():
    noisy = Image.effect_noise((800, 600), 60).convert("RGB")
    out = io.BytesIO()
    noisy.save(out, format="JPEG")
    data = out.getvalue()
    with pytest.raises(ValidationError) as exc:
        media.process_upload(data[: len(data) // 2])
    assert _code(exc) == "corrupt"


def test_truncated_png_is_refused():
    data = image_bytes(400, 400, "PNG")
    with pytest.raises(ValidationError) as exc:
        media.process_upload(data[:-30])
    assert _code(exc) == "corrupt"


def test_html_named_png_is_refused():
    polyglot = b"<!doctype html><html><script>alert(document.cookie)</script></html>"
    with pytest.raises(ValidationError) as exc:
        media.process_upload(polyglot)
    assert _code(exc) == "unsupported"


def test_png_signature_followed_by_html_is_refused():
    # Starts like a PNG, the rest is a web page: not a decodable image.
    with pytest.raises(ValidationError) as exc:
        media.process_upload(b"\x89PNG\r\n\x1a\n<html><script>alert(1)</script></html>")
    assert _code(exc) in ("corrupt", "unsupported")


def test_image_with_html_appended_is_stored_without_it():
    # A valid GIF with a page glued on the end decodes, but only its pixels are stored.
    data = image_bytes(20, 20, "GIF") + b"<script>alert(1)</script>"
    processed = media.process_upload(data)
    assert b"<script>" not in processed.content


def test_svg_is_refused_with_its_own_message():
    svg = b'<?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"><rect/></svg>'
    with pytest.raises(ValidationError) as exc:
        media.process_upload(svg)
    assert _code(exc) == "svg"
    assert "No se aceptan imágenes SVG" in _message(exc, "es")
    assert "SVG images are not accepted" in _message(exc, "en")


def test_video_is_refused_clearly():
    mp4_head = b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom" + b"\x00" * 64
    with pytest.raises(ValidationError) as exc:
        media.process_upload(mp4_head)
    assert _code(exc) == "video"
    webm_head = b"\x1a\x45\xdf\xa3" + b"\x00" * 64
    with pytest.raises(ValidationError) as exc:
        media.process_upload(webm_head)
    assert _code(exc) == "video"


def test_oversized_bytes_are_refused_before_decoding():
    data = image_bytes(100, 100)
    with pytest.raises(ValidationError) as exc:
        media.process_upload(data, byte_limit=len(data) - 1)
    assert _code(exc) == "too_large"


def test_empty_file_is_refused():
    with pytest.raises(ValidationError) as exc:
        media.process_upload(b"")
    assert _code(exc) == "empty"


def test_exif_and_gps_are_stripped():
    original = Image.open(io.BytesIO(jpeg_with_exif()))
    assert original.getexif().get_ifd(0x8825)  # the test image really carries GPS
    processed = media.process_upload(jpeg_with_exif())
    stored = Image.open(io.BytesIO(processed.content))
    assert not stored.getexif()
    assert "exif" not in stored.info
    assert b"SnoopCam" not in processed.content


def test_exif_orientation_is_applied_to_the_pixels():
    # Orientation 6: the camera was turned; viewers rotate 90° clockwise to show it upright.
    processed = media.process_upload(jpeg_with_exif(400, 200, orientation=6))
    assert (processed.width, processed.height) == (200, 400)
    stored = Image.open(io.BytesIO(processed.content)).convert("RGB")
    assert stored.size == (200, 400)
    assert not stored.getexif().get(0x0112)
    top, bottom = stored.getpixel((100, 20)), stored.getpixel((100, 380))
    assert top[0] > 200 and top[2] < 60  # red half on top after rotating clockwise
    assert bottom[2] > 200 and bottom[0] < 60


def test_animated_gif_keeps_its_frames():
    frames = [Image.new("RGB", (40, 40), (i * 60, 255 - i * 60, 0)) for i in range(4)]
    out = io.BytesIO()
    frames[0].save(out, format="GIF", save_all=True, append_images=frames[1:], duration=100, loop=0)
    processed = media.process_upload(out.getvalue())
    assert processed.frames == 4
    assert getattr(Image.open(io.BytesIO(processed.content)), "n_frames", 1) == 4


@pytest.mark.parametrize("key", list(media.PRESETS))
def test_every_preset_gives_its_exact_size(key):
    preset = media.PRESETS[key]
    processed = media.process_preset(image_bytes(1000, 700, "JPEG"), preset)
    assert (processed.width, processed.height) == (preset.width, preset.height)
    assert Image.open(io.BytesIO(processed.content)).size == (preset.width, preset.height)


def test_preset_crops_from_the_centre():
    # Red | green | blue thirds, square crop of a 3:1 image keeps the green middle.
    img = Image.new("RGB", (900, 300), (255, 0, 0))
    img.paste((0, 255, 0), (300, 0, 600, 300))
    img.paste((0, 0, 255), (600, 0, 900, 300))
    out = io.BytesIO()
    img.save(out, format="PNG")
    processed = media.process_preset(out.getvalue(), media.PRESETS["profile"])
    cropped = Image.open(io.BytesIO(processed.content)).convert("RGB")
    assert cropped.size == (400, 400)
    for xy in ((5, 5), (200, 200), (394, 394)):
        r, g, b = cropped.getpixel(xy)
        assert g > 200 and r < 60 and b < 60


def test_transparent_images_are_cropped_to_png():
    processed = media.process_preset(image_bytes(500, 500, "PNG", color=(0, 0, 0, 0), mode="RGBA"),
                                     media.PRESETS["instagram_square"])
    assert processed.format == "PNG"


def test_png_text_chunks_are_dropped_and_transparency_kept():
    from PIL import PngImagePlugin

    img = Image.new("P", (60, 60), 1)
    img.putpalette([0, 0, 0, 255, 0, 0] + [0] * 762)
    text = PngImagePlugin.PngInfo()
    text.add_text("Comment", "home address: 1 Secret Street")
    out = io.BytesIO()
    img.save(out, format="PNG", pnginfo=text, transparency=0)
    processed = media.process_upload(out.getvalue())
    assert b"Secret Street" not in processed.content
    stored = Image.open(io.BytesIO(processed.content))
    assert "Comment" not in stored.info and stored.info.get("transparency") == 0


def test_cmyk_jpeg_is_stored_as_rgb():
    processed = media.process_upload(image_bytes(64, 64, "JPEG", color=(0, 255, 255, 0), mode="CMYK"))
    assert Image.open(io.BytesIO(processed.content)).mode == "RGB"


def test_too_many_frames_is_refused():
    frames = [Image.new("RGB", (2, 2), (i % 256, (i * 7) % 256, 0)) for i in range(media.MAX_FRAMES + 1)]
    out = io.BytesIO()
    frames[0].save(out, format="GIF", save_all=True, append_images=frames[1:], duration=20)
    with pytest.raises(ValidationError) as exc:
        media.process_upload(out.getvalue())
    assert _code(exc) == "too_many_frames"
