"""The disk fills up while a CM uploads media (issue 10, "Faults to survive").

A real full disk where the machine allows it: MEDIA_ROOT on a tiny tmpfs (we run as root),
filled up but for a few kilobytes, so the write of the uploaded image fails half-way with
ENOSPC. Where mounting is not allowed (a CI container without the capability), the same fault
at the OS boundary: a storage that writes through to disk and fails with ENOSPC after N bytes,
leaving its partial file, as the kernel would. The second parametrization always uses it, so
both run wherever mounting works.

The outcome: the page and the API answer with a clear message in the user's language, no
media row, no partial file left, and what the CM typed (alt text, tags) is still in the form.
"""

from __future__ import annotations

import errno
import io
import os
import shutil
import subprocess
from pathlib import Path

import pytest
from django.core.exceptions import ValidationError
from django.core.files.base import File
from django.core.files.storage import FileSystemStorage
from django.test import Client
from django.urls import reverse
from django.utils import translation
from PIL import Image

from tertulia.content.models import MediaAsset
from tertulia.core.services import Ctx, do_create_token

pytestmark = pytest.mark.django_db

FREE = 16 * 1024  # what is left on the "disk"
FILLER = "filler.bin"
MSG = {"en": "The server&#x27;s disk is full: the file could not be stored and nothing was saved.",
       "es": "El disco del servidor está lleno: no se ha podido guardar el archivo y no se ha guardado nada."}


class _UntilFull(File):
    """The content of one save, failing like a full disk after ``budget`` bytes."""

    def __init__(self, content, budget: int):
        super().__init__(getattr(content, "file", content), getattr(content, "name", None))
        self.budget = budget

    def chunks(self, chunk_size=None):
        self.seek(0)
        for chunk in super().chunks(chunk_size):
            if len(chunk) > self.budget:
                yield chunk[:max(0, self.budget)]  # written, then the disk is full
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
            self.budget -= len(chunk)
            yield chunk


class FullDiskStorage(FileSystemStorage):
    """File system storage on a "disk" with ``free`` bytes left: writes go through to the real
    disk until then, and the write that does not fit fails with ENOSPC, its partial file kept."""

    free = FREE

    def _save(self, name, content):
        used = sum(p.stat().st_size for p in Path(self.location).rglob("*") if p.is_file())
        return super()._save(name, _UntilFull(content, self.free - used))


def _mount_tmpfs(root: Path) -> bool:
    if os.geteuid() != 0 or shutil.which("mount") is None:
        return False
    result = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(root)], capture_output=True,
                            timeout=20)
    return result.returncode == 0


@pytest.fixture(params=["disk", "storage"])
def full_disk(request, settings, tmp_path):
    """MEDIA_ROOT on a disk with ``FREE`` bytes left: a real tmpfs if it can be mounted here,
    else (and always for the "storage" parameter) the fault injected by ``FullDiskStorage``."""
    root = tmp_path / "media"
    root.mkdir()
    mounted = request.param == "disk" and _mount_tmpfs(root)
    try:
        settings.MEDIA_ROOT = str(root)
        if mounted:
            stat = os.statvfs(root)
            with open(root / FILLER, "wb") as fh:
                fh.write(b"\0" * (stat.f_bavail * stat.f_frsize - FREE))
            assert os.statvfs(root).f_bavail * stat.f_frsize <= FREE
        else:
            settings.STORAGES = {**settings.STORAGES,
                                 "default": {"BACKEND": f"{__name__}.FullDiskStorage"}}
        yield root
    finally:
        if mounted:
            subprocess.run(["umount", str(root)], capture_output=True, timeout=20)


def _image() -> io.BytesIO:
    """A photo that cannot compress much (noise): far more than ``FREE`` once re-encoded."""
    out = io.BytesIO()
    Image.frombytes("RGB", (200, 200), os.urandom(200 * 200 * 3)).save(out, format="PNG")
    out.seek(0)
    out.name = "concierto.png"
    return out


def _left(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file() and p.name != FILLER)


@pytest.mark.parametrize("language", ["en", "es"])
def test_upload_page_says_the_disk_is_full_and_keeps_what_was_typed(brand_a, full_disk, language):
    brand, people = brand_a
    user = people["community_manager"]
    user.language = language
    user.save()
    client = Client()
    client.force_login(user)
    response = client.post(reverse("media_list", args=[brand.pk]), {
        "file": _image(), "alt_text": "Cartel del concierto <b>del sábado</b>", "tags": "conciertos, verano"})
    assert response.status_code == 200  # the form again, not a 500
    page = response.content.decode()
    assert MSG[language] in page
    # What the CM typed is still there (escaped), to upload again later.
    assert "Cartel del concierto &lt;b&gt;del sábado&lt;/b&gt;" in page and "conciertos" in page
    assert MediaAsset.objects.count() == 0
    assert _left(full_disk) == []  # no partial file


def test_api_upload_is_422_with_the_reason(brand_a, full_disk):
    brand, people = brand_a
    _token, raw = do_create_token(Ctx(people["community_manager"]), "media", {brand.pk: "write"})
    response = Client().post(f"/api/v1/brands/{brand.pk}/media", {"file": _image(), "alt_text": "Cartel"},
                             HTTP_AUTHORIZATION=f"Bearer {raw}", HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 422, response.content
    (message,) = response.json()["errors"]["file"]
    assert message.startswith("The server's disk is full")
    assert MediaAsset.objects.count() == 0
    assert _left(full_disk) == []


def test_a_crop_on_a_full_disk_says_so_and_leaves_nothing(brand_a, settings, tmp_path):
    """The crop of a library image writes a new file: on a full disk, the same message (page
    and API), no new row and no partial file."""
    from tertulia.content import media, services

    brand, people = brand_a
    settings.MEDIA_ROOT = str(tmp_path / "media")
    original = services.do_upload_media(Ctx(people["community_manager"]), brand, _image(), alt_text="Cartel")
    before = _left(tmp_path / "media")
    settings.STORAGES = {**settings.STORAGES, "default": {"BACKEND": f"{__name__}.FullDiskStorage"}}
    preset = next(iter(media.PRESETS))
    with translation.override("en"):
        with pytest.raises(ValidationError) as caught:
            services.do_crop_media(Ctx(people["community_manager"]), original, preset)
        assert caught.value.message_dict["preset"][0].startswith("The server's disk is full")
    people["community_manager"].language = "es"
    people["community_manager"].save()
    _token, raw = do_create_token(Ctx(people["community_manager"]), "media", {brand.pk: "write"})
    response = Client().post(f"/api/v1/brands/{brand.pk}/media/{original.pk}/crops", {"preset": preset},
                             content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {raw}",
                             HTTP_ACCEPT_LANGUAGE="es")
    assert response.status_code == 422, response.content
    assert MSG["es"] in str(response.json()["errors"])
    assert MediaAsset.objects.count() == 1 and _left(tmp_path / "media") == before
