"""Media on S3-compatible storage (issue 10): ``MEDIA_STORAGE=s3`` and the AWS_* settings put
the media library in a bucket, and everything that reads a media file does it through the
storage API, so the web processes and the consumers of a scaled-out install share one bucket.

The bucket is moto's ``ThreadedMotoServer`` on loopback (a real S3 HTTP API, signed requests
and all). The storage configuration comes from ``tertulia/settings.py`` itself, executed with
the environment a deployment would set. Then, through the real views and tasks: an image is
uploaded and lands in the bucket (original and preview, private), is shown and streamed back
(ranges included), cropped, offered by a signed public link, embedded as a brand logo in a
report, published to the fake Mastodon with the very bytes in the bucket, and deleted from it.
Nothing is written to MEDIA_ROOT.
"""

from __future__ import annotations

import base64
import hashlib
import importlib.util
import io
import re
import uuid
from datetime import timedelta
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.urls import reverse
from django.utils import timezone

from tertulia.core.tests.web_helpers import generated_png
from tests.fakes.pytest_plugin import fake_mastodon  # noqa: F401

pytestmark = pytest.mark.django_db

SETTINGS_FILE = Path(__file__).resolve().parents[2] / "settings.py"
KEYS = {"AWS_ACCESS_KEY_ID": "tertulia-test-key", "AWS_SECRET_ACCESS_KEY": "tertulia-test-secret-value"}


def load_settings(monkeypatch, **env):
    """A fresh copy of tertulia/settings.py run with ``env`` (the live settings are untouched)."""
    for name in ("MEDIA_STORAGE", "AWS_STORAGE_BUCKET_NAME", "AWS_S3_ENDPOINT_URL", "AWS_S3_REGION_NAME",
                 "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_S3_CUSTOM_DOMAIN", "AWS_S3_ADDRESSING_STYLE",
                 "AWS_LOCATION"):
        monkeypatch.delenv(name, raising=False)
    for name, val in env.items():
        monkeypatch.setenv(name, val)
    spec = importlib.util.spec_from_file_location(f"settings_probe_{uuid.uuid4().hex}", SETTINGS_FILE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_local_disk_stays_the_default(monkeypatch):
    loaded = load_settings(monkeypatch)
    assert loaded.STORAGES["default"] == {"BACKEND": "django.core.files.storage.FileSystemStorage"}


def test_s3_settings(monkeypatch):
    loaded = load_settings(monkeypatch, MEDIA_STORAGE="S3", AWS_STORAGE_BUCKET_NAME="agency-media",
                           AWS_S3_ENDPOINT_URL="https://minio.internal:9000", AWS_S3_REGION_NAME="eu-west-3",
                           AWS_S3_CUSTOM_DOMAIN="media.example.com", **KEYS)
    default = loaded.STORAGES["default"]
    assert default["BACKEND"] == "storages.backends.s3.S3Storage"
    options = default["OPTIONS"]
    assert (options["bucket_name"], options["endpoint_url"], options["region_name"], options["custom_domain"]) == (
        "agency-media", "https://minio.internal:9000", "eu-west-3", "media.example.com")
    assert (options["access_key"], options["secret_key"]) == (KEYS["AWS_ACCESS_KEY_ID"], KEYS["AWS_SECRET_ACCESS_KEY"])
    assert options["default_acl"] == "private" and options["querystring_auth"] is True
    assert options["file_overwrite"] is False and options["signature_version"] == "s3v4"
    # Unset: boto3's own credential chain and AWS's own endpoint.
    bare = load_settings(monkeypatch, MEDIA_STORAGE="s3", AWS_STORAGE_BUCKET_NAME="b").STORAGES
    assert bare["default"]["OPTIONS"]["access_key"] is None and bare["default"]["OPTIONS"]["endpoint_url"] is None


@pytest.mark.parametrize("env, message", [
    ({"MEDIA_STORAGE": "s3"}, "AWS_STORAGE_BUCKET_NAME"),
    ({"MEDIA_STORAGE": "ftp", "AWS_STORAGE_BUCKET_NAME": "b"}, "MEDIA_STORAGE must be"),
])
def test_s3_misconfiguration_is_refused_at_start(monkeypatch, env, message):
    with pytest.raises(ImproperlyConfigured, match=message):
        load_settings(monkeypatch, **env)


# --- A real S3 API on loopback ----------------------------------------------------------------

@pytest.fixture(scope="module")
def s3_server():
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def bucket(s3_server, settings, monkeypatch, tmp_path):
    """A fresh bucket, and the live settings' default storage pointed at it, as settings.py
    builds it from the environment."""
    import boto3

    name = f"tertulia-{uuid.uuid4().hex[:12]}"
    loaded = load_settings(monkeypatch, MEDIA_STORAGE="s3", AWS_STORAGE_BUCKET_NAME=name,
                           AWS_S3_ENDPOINT_URL=s3_server, AWS_S3_REGION_NAME="us-east-1",
                           AWS_S3_ADDRESSING_STYLE="path", **KEYS)
    client = boto3.client("s3", endpoint_url=s3_server, region_name="us-east-1",
                          aws_access_key_id=KEYS["AWS_ACCESS_KEY_ID"],
                          aws_secret_access_key=KEYS["AWS_SECRET_ACCESS_KEY"])
    client.create_bucket(Bucket=name)
    settings.MEDIA_ROOT = str(tmp_path / "media-root-must-stay-empty")
    settings.STORAGES = {**settings.STORAGES, "default": loaded.STORAGES["default"]}
    yield client, name
    assert not Path(settings.MEDIA_ROOT).exists(), "something wrote media to the local disk"


def keys(client, name) -> set[str]:
    return {o["Key"] for o in client.list_objects_v2(Bucket=name).get("Contents", [])}


def body(client, name, key) -> bytes:
    return client.get_object(Bucket=name, Key=key)["Body"].read()


def test_the_media_library_lives_in_the_bucket(bucket, brand_a, client, settings, django_capture_on_commit_callbacks,
                                               fake_mastodon):  # noqa: F811
    from django.core.files.storage import default_storage
    from storages.backends.s3 import S3Storage

    from tertulia.content.approvals import do_mark_approved
    from tertulia.content.models import MediaAsset, PostMedia
    from tertulia.content.public_media import public_url
    from tertulia.content.services import do_create_post
    from tertulia.core.services import Ctx
    from tertulia.networks.services import do_add_account
    from tertulia.publishing import tasks

    s3, name = bucket
    default_storage.exists("x")  # the lazy storage is built from the settings now in force
    assert isinstance(default_storage._wrapped, S3Storage)
    brand, people = brand_a
    client.force_login(people["community_manager"])

    # 1. Upload through the real media library view.
    response = client.post(reverse("media_list", args=[brand.pk]),
                           {"file": generated_png(800, 600), "alt_text": "Cartel del concierto", "tags": "s3"})
    assert response.status_code == 302, response.content[:500]
    asset = MediaAsset.objects.get(brand=brand)
    assert keys(s3, name) == {asset.file.name, asset.preview.name}
    original = body(s3, name, asset.file.name)
    assert original[:8] == b"\x89PNG\r\n\x1a\n" and hashlib.sha256(original).hexdigest() == asset.sha256
    assert len(original) == asset.size_bytes
    # Private objects: no grant to everyone, and an anonymous GET of the bucket's URL is refused.
    grants = s3.get_object_acl(Bucket=name, Key=asset.file.name)["Grants"]
    assert not [g for g in grants if "AllUsers" in str(g.get("Grantee", {}))]

    # 2. Read back through the storage: the page, the preview, the file and a byte range.
    page = client.get(reverse("media_detail", args=[brand.pk, asset.pk]))
    assert page.status_code == 200
    preview = client.get(reverse("media_preview", args=[brand.pk, asset.pk]))
    assert preview.status_code == 200 and b"".join(preview.streaming_content) == body(s3, name, asset.preview.name)
    assert preview["Content-Type"] == "image/webp"
    whole = client.get(reverse("media_file", args=[brand.pk, asset.pk]))
    assert b"".join(whole.streaming_content) == original
    part = client.get(reverse("media_file", args=[brand.pk, asset.pk]), HTTP_RANGE="bytes=8-99")
    assert part.status_code == 206 and b"".join(part.streaming_content) == original[8:100]
    assert part["Content-Range"] == f"bytes 8-99/{len(original)}"

    # 3. A cropped copy reads the original from the bucket and writes its own there.
    response = client.post(reverse("media_crop", args=[brand.pk, asset.pk]), {"preset": "instagram_square"})
    assert response.status_code == 302
    crop = MediaAsset.objects.get(derived_from=asset)
    assert (crop.width, crop.height) == (1080, 1080) and {crop.file.name, crop.preview.name} <= keys(s3, name)

    # 4. The signed public link (Instagram and Threads fetch media by URL) serves the bucket's bytes.
    link = public_url(asset)
    served = client.get(link[len(settings.SITE_URL):])
    assert served.status_code == 200 and b"".join(served.streaming_content) == original

    # 5. Published to the fake Mastodon by the publishing task: the bytes it receives are the bucket's.
    owner = people["owner"]
    account = do_add_account(Ctx(owner), brand, network="mastodon", handle="@john", access_token=fake_mastodon.token,
                             base_url=fake_mastodon.base_url)
    post = do_create_post(Ctx(owner), brand, text="Con cartel", accounts=[account], submit=True,
                          scheduled_at=timezone.now() - timedelta(seconds=1))
    PostMedia.objects.create(post=post, asset=asset)
    do_mark_approved(Ctx(owner), post)
    target = post.targets.get()
    settings.PUBLISHING = {**settings.PUBLISHING, "HTTP": {"allow_private_networks": True, "read_timeout": 5.0}}
    fake_mastodon.media_processing_seconds = 0
    assert tasks.publish_target.call_local(target.pk, target.version) == "published"
    (upload,) = fake_mastodon.requests_to("POST", "/api/v2/media")
    filename, content_type, sent = upload.multipart()["file"]
    assert sent == original and content_type == "image/png"
    (media,) = fake_mastodon.media.values()
    assert media["description"] == "Cartel del concierto"

    # 6. Deleting the asset removes its objects from the bucket once the row is gone.
    with django_capture_on_commit_callbacks(execute=True):
        assert client.post(reverse("media_delete", args=[brand.pk, crop.pk])).status_code == 302
    assert crop.file.name not in keys(s3, name) and crop.preview.name not in keys(s3, name)
    assert asset.file.name in keys(s3, name)


def test_a_report_logo_in_the_bucket_is_embedded(bucket, brand_a):
    from tertulia.core.services import Ctx
    from tertulia.reports import branding
    from tertulia.reports.render import logo_data_uri

    s3, name = bucket
    brand, people = brand_a
    png = generated_png(300, 100, (10, 90, 200)).read()
    logo = branding.process_logo(io.BytesIO(png))
    branding.do_set_brand_logo(Ctx(people["owner"]), brand, logo)
    brand.refresh_from_db()
    assert brand.logo.name in keys(s3, name)
    uri = logo_data_uri(brand)
    assert re.match(r"data:image/(png|jpeg|webp);base64,", uri)
    assert base64.b64decode(uri.split(",", 1)[1]) == body(s3, name, brand.logo.name)


def test_a_video_goes_to_the_bucket_and_leaves_no_local_copy(bucket, brand_a, client, settings, tmp_path):
    """Videos are spooled to a temporary file to be probed (PyAV needs a file), then moved to
    the bucket with their poster frame; the spool is removed."""
    from tertulia.content.models import MediaAsset
    from tertulia.content.tests.video_samples import _video

    s3, name = bucket
    spool = tmp_path / "spool"
    spool.mkdir()
    settings.FILE_UPLOAD_TEMP_DIR = str(spool)
    source = _video(tmp_path / "clip.mp4", width=64, height=48, frames=12, rate=12, fmt="mp4")
    upload = io.BytesIO(source.read_bytes())
    upload.name = "clip.mp4"
    brand, people = brand_a
    client.force_login(people["community_manager"])
    response = client.post(reverse("media_list", args=[brand.pk]), {"file": upload, "alt_text": "Clip"})
    assert response.status_code == 302, response.content[:500]
    asset = MediaAsset.objects.get(brand=brand)
    assert asset.kind == MediaAsset.Kind.VIDEO and (asset.width, asset.height) == (64, 48)
    assert keys(s3, name) == {asset.file.name, asset.preview.name}
    assert body(s3, name, asset.file.name) == source.read_bytes()
    poster = client.get(reverse("media_preview", args=[brand.pk, asset.pk]))
    assert b"".join(poster.streaming_content) == body(s3, name, asset.preview.name)
    assert list(spool.iterdir()) == []
    # 5. Publishing it: the engine streams the video from a temporary copy of the bucket's object
    #    (never the whole file in memory), and the copy goes with the payload.
    import gc

    from tertulia.content.models import PostMedia
    from tertulia.content.services import do_create_post
    from tertulia.core.services import Ctx
    from tertulia.networks.services import do_add_account
    from tertulia.publishing import engine

    account = do_add_account(Ctx(people["owner"]), brand, network="mastodon", handle="@clip@masto.example")
    post = do_create_post(Ctx(people["owner"]), brand, text="Vídeo", accounts=[account])
    PostMedia.objects.create(post=post, asset=asset)
    (item,) = engine.media_items(post.targets.get())
    copy = Path(item.path)
    assert item.content is None and copy.parent == spool and copy.read_bytes() == source.read_bytes()
    assert item.size == len(source.read_bytes()) and item.read() == source.read_bytes()
    del item
    gc.collect()
    assert not copy.exists() and list(spool.iterdir()) == []
