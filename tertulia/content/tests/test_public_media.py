"""Signed public media links (content/public_media.py): what Instagram and Threads fetch."""

from __future__ import annotations

import pytest
from django.core import signing
from django.test import Client

from tertulia.content import public_media, services
from tertulia.core.services import Ctx

from .media_images import image_bytes, upload

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def media_root(settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path / "media")
    settings.SITE_URL = "https://tertulia.example.org"


@pytest.fixture
def asset(brand_a):
    brand, people = brand_a
    return services.do_upload_media(Ctx(people["community_manager"], via="test"), brand, upload(image_bytes()))


def _path(url: str) -> str:
    assert url.startswith("https://tertulia.example.org/m/")
    return url[len("https://tertulia.example.org"):]


def test_the_link_serves_that_file_to_anyone_without_running_anything(asset):
    url = public_media.public_url(asset)
    response = Client().get(_path(url))  # no session: the network's servers fetch it
    assert response.status_code == 200
    body = b"".join(response.streaming_content)
    with asset.file.open("rb") as fh:
        assert body == fh.read()
    assert response["Content-Type"] == "image/png"
    assert response["X-Content-Type-Options"] == "nosniff" and "sandbox" in response["Content-Security-Policy"]
    assert Client().head(_path(url)).status_code == 200
    assert Client().post(_path(url)).status_code == 405


def test_a_tampered_forged_or_oversized_link_is_a_404(asset, brand_b):
    path = _path(public_media.public_url(asset))
    token = path.rsplit("/", 1)[1]
    other_id = signing.dumps({"a": asset.pk + 1, "h": asset.sha256[:16]}, salt="another salt")
    for bad in (token[:-2] + ("AA" if not token.endswith("AA") else "BB"), other_id,
                signing.dumps({"a": asset.pk, "h": asset.sha256[:16]}),  # the site's key without our salt
                signing.dumps(["a", asset.pk], salt=public_media.SALT), "x" * 300, "<script>alert(1)</script>"):
        assert Client().get("/m/" + bad).status_code == 404, bad


def test_the_link_expires_and_dies_with_the_file(asset, settings):
    path = _path(public_media.public_url(asset))
    settings.PUBLIC_MEDIA_MAX_AGE = -1  # every signature is older than that
    assert Client().get(path).status_code == 404
    settings.PUBLIC_MEDIA_MAX_AGE = 3600
    assert Client().get(path).status_code == 200
    asset.sha256 = "0" * 64  # the asset's file was replaced: the old link must not open the new one
    asset.save(update_fields=["sha256"])
    assert Client().get(path).status_code == 404
    asset.delete()
    assert Client().get(path).status_code == 404
