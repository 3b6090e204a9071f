"""Videos in the media library end to end: the service (streamed to disk, probed, stored with
its poster, audited, deduplicated), the size limit (refused while uploading, nothing left on
disk), the page and the API (multipart), content sniffing (an image or a zip renamed .mp4),
hostile names, roles, other brands, file serving and the composer's checks."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse
from django.utils import translation
from PIL import Image

from tertulia.content import composer, services, video
from tertulia.content.models import MediaAsset
from tertulia.core.models import AuditEvent
from tertulia.core.services import Ctx, do_create_token

from .media_images import image_bytes
from .video_samples import samples

pytestmark = pytest.mark.django_db


@pytest.fixture(scope="session")
def videos(tmp_path_factory):
    return samples(tmp_path_factory.mktemp("library-videos"))


@pytest.fixture(autouse=True)
def dirs(settings, tmp_path):
    """Where files are stored and where uploads are spooled: both must end up clean."""
    settings.MEDIA_ROOT = str(tmp_path / "media")
    spool = tmp_path / "spool"
    spool.mkdir()
    settings.FILE_UPLOAD_TEMP_DIR = str(spool)
    return {"media": tmp_path / "media", "spool": spool}


def files_in(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []


def named(path: Path, name: str | None = None) -> io.BytesIO:
    f = io.BytesIO(path.read_bytes())
    f.name = name or path.name
    return f


def _upload(brand, user, fileobj, **kw) -> MediaAsset:
    return services.do_upload_media(Ctx(user, via="test"), brand, fileobj, **kw)


def client_for(user) -> Client:
    c = Client()
    c.force_login(user)
    return c


def _token(user, brand, scope="write") -> dict:
    _obj, raw = do_create_token(Ctx(user), "video", {brand.pk: scope})
    return {"HTTP_AUTHORIZATION": f"Bearer {raw}"}


# --- Service ----------------------------------------------------------------------------------

def test_upload_probes_and_stores_the_video_and_its_poster(brand_a, videos, dirs):
    brand, people = brand_a
    asset = _upload(brand, people["community_manager"], named(videos["mp4"]), alt_text="A countdown", tags="reels")
    assert (asset.kind, asset.mime_type, asset.container) == ("video", "video/mp4", "mp4")
    assert (asset.video_codec, asset.audio_codec, asset.width, asset.height) == ("h264", "aac", 96, 160)
    assert asset.duration_seconds == pytest.approx(2.048) and asset.frame_rate == 2.0
    assert asset.size_bytes == videos["mp4"].stat().st_size and asset.bitrate > 0
    assert asset.file.name.startswith(f"media/{brand.pk}/") and asset.file.name.endswith(".mp4")
    with asset.file.open("rb") as fh:
        assert fh.read() == videos["mp4"].read_bytes()  # stored as uploaded, byte for byte
    with asset.preview.open("rb") as fh:
        assert Image.open(fh).format == "WEBP"
    assert len(files_in(dirs["media"])) == 2 and files_in(dirs["spool"]) == []
    event = AuditEvent.objects.get(action="media.upload")
    assert event.changes["codecs"] == ["h264", "aac"] and event.actor_id == people["community_manager"].pk
    again = _upload(brand, people["owner"], named(videos["mp4"], "copy.mp4"))
    assert again.pk == asset.pk and MediaAsset.objects.count() == 1 and len(files_in(dirs["media"])) == 2


@pytest.mark.parametrize("name,code", [
    ("audio", "video_audio_only"), ("truncated", "video_truncated"), ("cut", "video_corrupt"),
    ("zero", "video_no_duration"), ("streams", "video_too_many_streams"),
])
def test_refused_video_leaves_no_row_and_no_file(brand_a, videos, dirs, name, code):
    brand, people = brand_a
    with pytest.raises(ValidationError) as exc:
        _upload(brand, people["owner"], named(videos[name]))
    assert [e.code for e in exc.value.error_dict["file"]] == [code]
    assert MediaAsset.objects.count() == 0 and AuditEvent.objects.filter(action="media.upload").count() == 0
    assert files_in(dirs["media"]) == [] and files_in(dirs["spool"]) == []


def test_over_the_limit_is_refused_with_both_sizes_and_nothing_kept(brand_a, videos, dirs, settings):
    brand, people = brand_a
    settings.MEDIA_MAX_VIDEO_BYTES = 10 * 1024
    with pytest.raises(ValidationError) as exc, translation.override("en"):
        _upload(brand, people["owner"], named(videos["long"]))
    with translation.override("en"):
        assert exc.value.message_dict["file"] == ["The file is too large: 18 KB. The limit is 10 KB."]
    assert MediaAsset.objects.count() == 0 and files_in(dirs["media"]) == [] and files_in(dirs["spool"]) == []


def test_upload_handler_stops_writing_past_the_limit(settings, dirs):
    settings.MEDIA_MAX_VIDEO_BYTES = 1000
    settings.MEDIA_MAX_UPLOAD_BYTES = 500
    handler = video.LimitedUploadHandler()
    handler.new_file("file", "big.mp4", "video/mp4", None)
    on_disk = Path(handler.file.temporary_file_path())
    handler.receive_data_chunk(b"x" * 800, 0)
    handler.file.flush()
    assert on_disk.stat().st_size == 800
    handler.receive_data_chunk(b"x" * 800, 800)  # past the limit: what was written is dropped
    handler.receive_data_chunk(b"x" * 800, 1600)
    handler.file.flush()
    assert on_disk.stat().st_size == 0
    uploaded = handler.file_complete(2400)
    assert uploaded.over_limit and uploaded.size == 2400
    with pytest.raises(ValidationError) as exc:
        video.check_declared_size(uploaded, video.upload_limit())
    assert exc.value.code == "video_too_large"
    uploaded.close()
    assert not on_disk.exists()


def test_an_image_named_mp4_is_an_image_and_a_zip_named_mp4_is_refused(brand_a, dirs):
    brand, people = brand_a
    asset = _upload(brand, people["owner"], SimpleUploadedFile("clip.mp4", image_bytes(64, 64), "video/mp4"))
    assert (asset.kind, asset.mime_type, asset.container) == ("image", "image/png", "")
    zipped = b"PK\x03\x04\x14\x00\x00\x00\x08\x00" + b"\x00" * 200
    with pytest.raises(ValidationError) as exc:
        _upload(brand, people["owner"], SimpleUploadedFile("clip.mp4", zipped, "video/mp4"))
    assert [e.code for e in exc.value.error_dict["file"]] == ["unsupported"]
    avi = b"RIFF\x00\x10\x00\x00AVI LIST" + b"\x00" * 200
    with pytest.raises(ValidationError) as exc:
        _upload(brand, people["owner"], SimpleUploadedFile("clip.mp4", avi, "video/mp4"))
    assert [e.code for e in exc.value.error_dict["file"]] == ["video_container"]
    assert MediaAsset.objects.count() == 1 and files_in(dirs["spool"]) == []


# --- Pages ------------------------------------------------------------------------------------

def test_page_upload_detail_and_grid(brand_a, videos, dirs):
    brand, people = brand_a
    c = client_for(people["community_manager"])
    url = reverse("media_list", args=[brand.pk])
    form = c.get(url).content.decode()
    assert "video/mp4" in form and ("up to 1 GB" in form or "hasta 1 GB" in form)
    response = c.post(url, {"file": named(videos["webm"]), "alt_text": "Teaser"})
    asset = MediaAsset.objects.get(brand=brand)
    assert response.status_code == 302 and response["Location"] == reverse("media_detail", args=[brand.pk, asset.pk])
    with translation.override("en"):
        page = client_for(people["community_manager"]).get(response["Location"], HTTP_ACCEPT_LANGUAGE="en")
    html = page.content.decode()
    assert f'<video class="media-full" controls preload="metadata" src="{reverse("media_file", args=[brand.pk, asset.pk])}"' in html
    assert "VP9" in html and "Opus" in html and "64×36" in html
    assert 'data-code="video_format"' in html  # X takes MP4 or MOV, not WebM
    assert "preset" not in html  # no crop buttons for a video
    grid = c.get(url).content.decode()
    assert "media-badge" in grid and "3 s" in grid and "<script>" not in grid
    assert files_in(dirs["spool"]) == []


def test_page_upload_streamed_to_disk_is_moved_into_storage(brand_a, videos, dirs, settings):
    brand, people = brand_a
    settings.FILE_UPLOAD_MAX_MEMORY_SIZE = 0  # through the streaming handler, as any large upload
    response = client_for(people["owner"]).post(reverse("media_list", args=[brand.pk]), {"file": named(videos["long"])})
    assert response.status_code == 302
    asset = MediaAsset.objects.get()
    assert (asset.kind, asset.duration_seconds, asset.size_bytes) == ("video", 200.0, videos["long"].stat().st_size)
    with asset.file.open("rb") as fh:
        assert fh.read() == videos["long"].read_bytes()
    assert files_in(dirs["spool"]) == [] and len(files_in(dirs["media"])) == 2


def test_page_over_the_limit_is_explained_and_leaves_nothing(brand_a, videos, dirs, settings):
    brand, people = brand_a
    settings.MEDIA_MAX_VIDEO_BYTES = 10 * 1024
    settings.FILE_UPLOAD_MAX_MEMORY_SIZE = 0  # every upload goes through the streaming handler
    user = people["owner"]
    user.language = "en"
    user.save()
    response = client_for(user).post(reverse("media_list", args=[brand.pk]), {"file": named(videos["long"])})
    assert response.status_code == 200
    assert "The file is too large: 18 KB. The limit is 10 KB." in response.content.decode()
    assert MediaAsset.objects.count() == 0 and files_in(dirs["media"]) == [] and files_in(dirs["spool"]) == []


def test_refusal_in_spanish_on_the_page(brand_a, videos, dirs):
    brand, people = brand_a
    user = people["community_manager"]
    user.language = "es"
    user.save()
    response = client_for(user).post(reverse("media_list", args=[brand.pk]), {"file": named(videos["audio"])})
    assert response.status_code == 200
    assert "Este archivo tiene sonido pero no imagen. Sube un vídeo." in response.content.decode()


def test_hostile_file_name_is_never_used(brand_a, videos, dirs):
    brand, people = brand_a
    evil = '../../<script>alert(1)</script>".mp4'
    c = client_for(people["owner"])
    response = c.post(reverse("media_list", args=[brand.pk]), {"file": named(videos["mov"], evil)})
    assert response.status_code == 302
    asset = MediaAsset.objects.get()
    assert asset.file.name.startswith(f"media/{brand.pk}/") and "script" not in asset.file.name
    assert ".." not in asset.file.name and asset.file.name.endswith(".mov")
    assert all(dirs["media"] in p.parents for p in files_in(dirs["media"]))
    page = c.get(reverse("media_detail", args=[brand.pk, asset.pk])).content.decode()
    assert "<script>alert(1)" not in page


def test_roles_and_other_brands(brand_a, brand_b, videos, dirs):
    brand, people = brand_a
    b_brand, b_people = brand_b
    asset = _upload(brand, people["owner"], named(videos["mp4"]))
    url = reverse("media_list", args=[brand.pk])
    assert client_for(people["analyst"]).post(url, {"file": named(videos["mov"])}).status_code == 403
    intruder = client_for(b_people["community_manager"])
    assert intruder.post(url, {"file": named(videos["mov"])}).status_code == 404
    for name in ("media_detail", "media_file", "media_preview"):
        assert intruder.get(reverse(name, args=[brand.pk, asset.pk])).status_code == 404
        assert intruder.get(reverse(name, args=[b_brand.pk, asset.pk])).status_code == 404
    auth = _token(b_people["owner"], b_brand)
    assert Client().post(f"/api/v1/brands/{brand.pk}/media", {"file": named(videos["mov"])}, **auth).status_code == 404
    assert Client().get(f"/api/v1/brands/{b_brand.pk}/media/{asset.pk}", **auth).status_code == 404
    assert MediaAsset.objects.count() == 1 and files_in(dirs["spool"]) == []


def test_video_file_is_served_to_members_only_and_runs_nothing(brand_a, videos, dirs):
    brand, people = brand_a
    asset = _upload(brand, people["owner"], named(videos["mp4"]))
    response = client_for(people["analyst"]).get(reverse("media_file", args=[brand.pk, asset.pk]))
    assert response.status_code == 200 and response["Content-Type"] == "video/mp4"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert "media-src 'self'" in response["Content-Security-Policy"] and "sandbox" in response["Content-Security-Policy"]
    data = videos["mp4"].read_bytes()
    assert b"".join(response.streaming_content) == data and response["Accept-Ranges"] == "bytes"
    url = reverse("media_file", args=[brand.pk, asset.pk])
    part = client_for(people["analyst"]).get(url, HTTP_RANGE="bytes=100-199")
    assert part.status_code == 206 and part["Content-Range"] == f"bytes 100-199/{len(data)}"
    assert b"".join(part.streaming_content) == data[100:200] and part["Content-Type"] == "video/mp4"
    beyond = client_for(people["analyst"]).get(url, HTTP_RANGE=f"bytes={len(data)}-")
    assert beyond.status_code == 416 and beyond["Content-Range"] == f"bytes */{len(data)}"
    assert Client().get(url).status_code in (302, 404)


# --- API --------------------------------------------------------------------------------------

def test_api_multipart_upload_returns_the_probe_and_the_fit(brand_a, videos, dirs):
    brand, people = brand_a
    auth = _token(people["community_manager"], brand)
    response = Client().post(f"/api/v1/brands/{brand.pk}/media", {"file": named(videos["mov"]), "tags": "teaser"},
                             HTTP_ACCEPT_LANGUAGE="en", **auth)
    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["kind"], body["mime_type"], body["container"]) == ("video", "video/quicktime", "mov")
    assert (body["video_codec"], body["audio_codec"], body["width"], body["height"]) == ("h264", "aac", 64, 36)
    assert body["duration_seconds"] == pytest.approx(3.072) and body["frame_rate"] == 1.0
    instagram = {p["code"]: p["level"] for p in body["network_problems"]["instagram"]}
    assert instagram == {"video_fps_low": "error", "video_recommended_aspect": "warning"}
    assert body["network_problems"]["mastodon"] == [] and "facebook" not in body["network_problems"]
    assert AuditEvent.objects.get(action="media.upload").via == "api"


def test_api_refusals_are_422(brand_a, videos, dirs, settings):
    brand, people = brand_a
    auth = _token(people["owner"], brand)
    response = Client().post(f"/api/v1/brands/{brand.pk}/media", {"file": named(videos["truncated"])}, **auth)
    assert response.status_code == 422 and "file" in response.json()["errors"]
    settings.MEDIA_MAX_VIDEO_BYTES = 10 * 1024
    settings.FILE_UPLOAD_MAX_MEMORY_SIZE = 0
    response = Client().post(f"/api/v1/brands/{brand.pk}/media", {"file": named(videos["long"])}, **auth)
    assert response.status_code == 422 and "file" in response.json()["errors"]
    read_only = _token(people["analyst"], brand, "read")
    assert Client().post(f"/api/v1/brands/{brand.pk}/media", {"file": named(videos["mp4"])},
                         **read_only).status_code == 403
    assert MediaAsset.objects.count() == 0 and files_in(dirs["media"]) == [] and files_in(dirs["spool"]) == []


# --- Composer ---------------------------------------------------------------------------------

def test_composer_shows_video_problems_per_network(brand_a, videos, dirs):
    brand, people = brand_a
    clip = _upload(brand, people["owner"], named(videos["long"]))  # 200 s, 64×36, 1 fps, silent H.264
    photo = _upload(brand, people["owner"], io.BytesIO(image_bytes(1080, 1080, "JPEG")))
    with translation.override("en"):
        report = composer.validate_post(brand, "Launch day", {}, (), [clip, photo],
                                        networks=["x", "instagram", "facebook"], spelling=False)
    media_issues = {n: [(i.code, i.level) for i in r.issues if i.source == "media"] for n, r in report.networks.items()}
    assert media_issues["x"] == [("mixed_media", "error"), ("video_too_long", "error")]
    assert ("video_fps_low", "error") in media_issues["instagram"]
    assert ("video_recommended_aspect", "warning") in media_issues["instagram"]
    # Facebook's connector publishes images only: the video is refused there.
    assert ("video_unsupported", "error") in media_issues["facebook"]
    x_messages = [i.message for i in report.networks["x"].issues if i.code == "video_too_long"]
    assert x_messages == ["Video 1 lasts 3 min 20 s; X accepts at most 2 min 20 s."]


def test_composer_picker_offers_videos(brand_a, videos, dirs):
    brand, people = brand_a
    clip = _upload(brand, people["owner"], named(videos["long"]))
    page = client_for(people["community_manager"]).get(reverse("section_compose", args=[brand.pk])).content.decode()
    assert f'name="media" value="{clip.pk}"' in page and "3 min 20 s" in page


def test_video_without_a_poster_shows_a_placeholder(brand_a, videos, dirs):
    brand, people = brand_a
    asset = _upload(brand, people["owner"], named(videos["ffv1"]))
    assert asset.video_codec == "ffv1" and not asset.preview and len(files_in(dirs["media"])) == 1
    c = client_for(people["owner"])
    grid = c.get(reverse("media_list", args=[brand.pk])).content.decode()
    assert 'class="media-placeholder"' in grid
    assert reverse("media_preview", args=[brand.pk, asset.pk]) not in grid
    assert c.get(reverse("media_preview", args=[brand.pk, asset.pk])).status_code == 404
    detail = c.get(reverse("media_detail", args=[brand.pk, asset.pk])).content.decode()
    assert "poster=" not in detail and "<video" in detail
