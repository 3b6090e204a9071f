"""The media library end to end: services (atomic upload, dedup, audit, delete after
commit, crops), pages, file serving, the API, roles and cross-tenant 404s."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import DatabaseError, connection
from django.test import Client
from django.urls import reverse
from PIL import Image

from tertulia.content import services
from tertulia.content.models import MediaAsset, Post, PostMedia
from tertulia.core.models import AuditEvent
from tertulia.core.services import Ctx, do_create_token

from .media_images import image_bytes, jpeg_with_exif, png_bomb, upload

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def media_root(settings, tmp_path):
    root = tmp_path / "media"
    settings.MEDIA_ROOT = str(root)
    return root


def stored_files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []


def client_for(user) -> Client:
    c = Client()
    c.force_login(user)
    return c


def _upload(brand, user, data=None, **kw) -> MediaAsset:
    return services.do_upload_media(Ctx(user, via="test"), brand, upload(data or image_bytes()), **kw)


# --- Services -------------------------------------------------------------------------------

def test_upload_stores_a_clean_file_a_preview_and_an_audit_event(brand_a, media_root):
    brand, people = brand_a
    asset = _upload(brand, people["community_manager"], jpeg_with_exif(), alt_text="  A dog on a beach ",
                    tags="dogs, #Beach, dogs")
    assert (asset.kind, asset.mime_type, asset.width, asset.height) == ("image", "image/jpeg", 400, 200)
    assert asset.alt_text == "A dog on a beach" and asset.tags == ["dogs", "Beach"]
    assert asset.file.name.startswith(f"media/{brand.pk}/") and asset.preview.name.endswith(".preview.webp")
    assert len(stored_files(media_root)) == 2
    with asset.file.open("rb") as fh:
        data = fh.read()
    assert len(data) == asset.size_bytes and b"SnoopCam" not in data
    assert not Image.open(io.BytesIO(data)).getexif()
    event = AuditEvent.objects.get(action="media.upload")
    assert event.brand_id == brand.pk and event.actor_id == people["community_manager"].pk


def test_same_image_twice_is_one_asset_per_brand(brand_a, brand_b, media_root):
    brand, people = brand_a
    first = _upload(brand, people["owner"])
    again = _upload(brand, people["owner"])
    assert again.pk == first.pk and MediaAsset.objects.filter(brand=brand).count() == 1
    other = _upload(brand_b[0], brand_b[1]["owner"])
    assert other.pk != first.pk
    assert len(stored_files(media_root)) == 4


def test_refused_upload_leaves_no_file_and_no_row(brand_a, media_root):
    brand, people = brand_a
    for data in (png_bomb(), b"<html>not an image</html>", image_bytes(300, 300, "JPEG")[:400]):
        with pytest.raises(ValidationError) as exc:
            _upload(brand, people["owner"], data)
        assert "file" in exc.value.message_dict
    assert MediaAsset.objects.count() == 0 and stored_files(media_root) == []


def test_failed_insert_removes_the_written_files(brand_a, media_root):
    """A real failure of the INSERT (a trigger that aborts it, as a full disk would): the
    files already written are removed, and no row is left."""
    brand, people = brand_a
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            cursor.execute("CREATE TEMP TRIGGER media_insert_fails BEFORE INSERT ON content_mediaasset "
                           "BEGIN SELECT RAISE(ABORT, 'database or disk is full'); END")
        else:
            cursor.execute("CREATE FUNCTION media_insert_fails() RETURNS trigger AS $$ BEGIN "
                           "RAISE EXCEPTION 'database or disk is full'; END $$ LANGUAGE plpgsql")
            cursor.execute("CREATE TRIGGER media_insert_fails BEFORE INSERT ON content_mediaasset "
                           "FOR EACH ROW EXECUTE FUNCTION media_insert_fails()")
    with pytest.raises(DatabaseError):
        _upload(brand, people["owner"])
    assert stored_files(media_root) == []
    assert MediaAsset.objects.count() == 0
    assert not AuditEvent.objects.filter(action="media.upload").exists()


@pytest.mark.parametrize("role,allowed", [("owner", True), ("manager", True), ("community_manager", True),
                                          ("analyst", False), ("client_reviewer", False)])
def test_only_composers_write(brand_a, role, allowed, media_root):
    brand, people = brand_a
    if not allowed:
        with pytest.raises(PermissionDenied):
            _upload(brand, people[role])
        assert stored_files(media_root) == []
        asset = _upload(brand, people["owner"])
        with pytest.raises(PermissionDenied):
            services.do_update_media(Ctx(people[role]), asset, alt_text="x")
        with pytest.raises(PermissionDenied):
            services.do_crop_media(Ctx(people[role]), asset, "profile")
        with pytest.raises(PermissionDenied):
            services.do_delete_media(Ctx(people[role]), asset)
    else:
        asset = _upload(brand, people[role])
        services.do_update_media(Ctx(people[role]), asset, alt_text="ok")
        assert asset.alt_text == "ok"


def test_stranger_cannot_upload(brand_a, brand_b, media_root):
    with pytest.raises(PermissionDenied):
        _upload(brand_a[0], brand_b[1]["owner"])
    assert stored_files(media_root) == []


def test_update_is_audited_with_the_changes(brand_a):
    brand, people = brand_a
    asset = _upload(brand, people["owner"])
    services.do_update_media(Ctx(people["owner"]), asset, alt_text="New text", tags=["one", "two"])
    asset.refresh_from_db()
    assert asset.alt_text == "New text" and asset.tags == ["one", "two"]
    event = AuditEvent.objects.get(action="media.update")
    assert event.changes["alt_text"] == ["", "New text"]
    with pytest.raises(ValidationError):
        services.do_update_media(Ctx(people["owner"]), asset, alt_text="x" * 1501)
    with pytest.raises(ValidationError):
        services.do_update_media(Ctx(people["owner"]), asset, tags=[f"t{i}" for i in range(31)])


def test_delete_removes_files_after_commit(brand_a, media_root, django_capture_on_commit_callbacks):
    brand, people = brand_a
    asset = _upload(brand, people["owner"])
    with django_capture_on_commit_callbacks(execute=True):
        services.do_delete_media(Ctx(people["owner"]), asset)
    assert not MediaAsset.objects.filter(pk=asset.pk).exists()
    assert stored_files(media_root) == []
    assert AuditEvent.objects.filter(action="media.delete").count() == 1


def test_delete_keeps_files_until_commit(brand_a, media_root, django_capture_on_commit_callbacks):
    brand, people = brand_a
    asset = _upload(brand, people["owner"])
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        services.do_delete_media(Ctx(people["owner"]), asset)
    assert len(stored_files(media_root)) == 2 and len(callbacks) == 1


def test_an_attached_image_cannot_be_deleted(brand_a, media_root):
    brand, people = brand_a
    asset = _upload(brand, people["owner"])
    post = Post.objects.create(brand=brand, author=people["owner"], text="hi")
    PostMedia.objects.create(post=post, asset=asset)
    with pytest.raises(ValidationError):
        services.do_delete_media(Ctx(people["owner"]), asset)
    assert len(stored_files(media_root)) == 2


def test_crop_creates_a_derived_asset_of_the_exact_size(brand_a):
    brand, people = brand_a
    asset = _upload(brand, people["owner"], image_bytes(2000, 1000, "JPEG"), alt_text="Banner", tags=["x"])
    crop = services.do_crop_media(Ctx(people["owner"]), asset, "facebook_cover")
    assert (crop.width, crop.height, crop.preset, crop.derived_from_id) == (851, 315, "facebook_cover", asset.pk)
    assert crop.alt_text == "Banner" and crop.tags == ["x"]
    with crop.file.open("rb") as fh:
        assert Image.open(fh).size == (851, 315)
    assert services.do_crop_media(Ctx(people["owner"]), asset, "facebook_cover").pk == crop.pk  # dedup
    with pytest.raises(ValidationError):
        services.do_crop_media(Ctx(people["owner"]), asset, "billboard")
    assert AuditEvent.objects.filter(action="media.crop").count() == 1


# --- Pages -----------------------------------------------------------------------------------

def test_grid_upload_and_detail_pages(brand_a, media_root):
    brand, people = brand_a
    c = client_for(people["community_manager"])
    url = reverse("media_list", args=[brand.pk])
    assert c.get(url).status_code == 200
    response = c.post(url, {"file": upload(image_bytes(1080, 1920, "JPEG"), "story.jpg"), "alt_text": "A poster",
                            "tags": "events"})
    asset = MediaAsset.objects.get(brand=brand)
    assert response.status_code == 302 and response["Location"] == reverse("media_detail", args=[brand.pk, asset.pk])
    page = c.get(response["Location"]).content.decode()
    assert "A poster" in page
    assert 'data-code="aspect_too_tall"' in page  # Instagram's fit report
    assert reverse("media_preview", args=[brand.pk, asset.pk]) in page
    grid = c.get(url).content.decode()
    assert reverse("media_preview", args=[brand.pk, asset.pk]) in grid
    assert "style=" not in grid and "<script>" not in grid
    assert reverse("media_detail", args=[brand.pk, asset.pk]) in c.get(url, {"tag": "events"}).content.decode()
    assert reverse("media_detail", args=[brand.pk, asset.pk]) not in c.get(url, {"tag": "other"}).content.decode()


@pytest.mark.parametrize("lang,expected", [
    ("en", "SVG images are not accepted"),
    ("es", "No se aceptan imágenes SVG"),
])
def test_upload_refusal_is_shown_in_the_users_language(brand_a, make_user, lang, expected, media_root):
    brand, people = brand_a
    user = people["community_manager"]
    user.language = lang
    user.save()
    response = client_for(user).post(reverse("media_list", args=[brand.pk]), {
        "file": upload(b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>', "logo.png"),
    })
    assert response.status_code == 200
    assert expected in response.content.decode()
    assert MediaAsset.objects.count() == 0 and stored_files(media_root) == []


def test_detail_saves_alt_text_and_tags(brand_a):
    brand, people = brand_a
    asset = _upload(brand, people["owner"])
    c = client_for(people["manager"])
    url = reverse("media_detail", args=[brand.pk, asset.pk])
    response = c.post(url, {"alt_text": "<script>alert(1)</script>", "tags": "a, b"})
    assert response.status_code == 302
    asset.refresh_from_db()
    assert asset.tags == ["a", "b"]
    page = c.get(url).content.decode()
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page and "<script>alert(1)" not in page


def test_crop_button_and_delete(brand_a, media_root, django_capture_on_commit_callbacks):
    brand, people = brand_a
    asset = _upload(brand, people["owner"], image_bytes(1200, 1200, "PNG"))
    c = client_for(people["owner"])
    response = c.post(reverse("media_crop", args=[brand.pk, asset.pk]), {"preset": "x_header"})
    crop = MediaAsset.objects.get(derived_from=asset)
    assert response.status_code == 302 and (crop.width, crop.height) == (1500, 500)
    assert "x_header" in c.get(reverse("media_detail", args=[brand.pk, asset.pk])).content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        response = c.post(reverse("media_delete", args=[brand.pk, crop.pk]))
    assert response.status_code == 302 and not MediaAsset.objects.filter(pk=crop.pk).exists()


def test_readers_see_but_cannot_write(brand_a, media_root):
    brand, people = brand_a
    asset = _upload(brand, people["owner"])
    c = client_for(people["client_reviewer"])
    page = c.get(reverse("media_list", args=[brand.pk])).content.decode()
    assert 'enctype="multipart/form-data"' not in page
    assert c.get(reverse("media_detail", args=[brand.pk, asset.pk])).status_code == 200
    assert c.get(reverse("media_file", args=[brand.pk, asset.pk])).status_code == 200
    assert c.post(reverse("media_list", args=[brand.pk]), {"file": upload(image_bytes(10, 10))}).status_code == 403
    assert c.post(reverse("media_detail", args=[brand.pk, asset.pk]), {"alt_text": "x"}).status_code == 403
    assert c.post(reverse("media_crop", args=[brand.pk, asset.pk]), {"preset": "profile"}).status_code == 403
    assert c.post(reverse("media_delete", args=[brand.pk, asset.pk])).status_code == 403
    assert MediaAsset.objects.count() == 1


def test_files_are_served_to_members_only_with_nosniff(brand_a, brand_b):
    brand, people = brand_a
    asset = _upload(brand, people["owner"], image_bytes(100, 100, "JPEG"))
    url = reverse("media_file", args=[brand.pk, asset.pk])
    response = client_for(people["analyst"]).get(url)
    assert response.status_code == 200
    assert response["Content-Type"] == "image/jpeg"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert "sandbox" in response["Content-Security-Policy"]
    body = b"".join(response.streaming_content)
    assert Image.open(io.BytesIO(body)).size == (100, 100)
    preview = client_for(people["analyst"]).get(reverse("media_preview", args=[brand.pk, asset.pk]))
    assert preview["Content-Type"] == "image/webp"
    assert client_for(brand_b[1]["owner"]).get(url).status_code == 404
    anonymous = Client().get(url)
    assert anonymous.status_code == 302 and anonymous["Location"].startswith(reverse("login"))
    assert client_for(people["analyst"]).post(url).status_code == 405


def test_media_root_is_not_served_publicly(brand_a):
    brand, people = brand_a
    asset = _upload(brand, people["owner"])
    assert Client().get("/media/" + asset.file.name).status_code == 404
    assert client_for(people["owner"]).get("/media/" + asset.file.name).status_code == 404


def test_cross_tenant_pages_are_404(brand_a, brand_b):
    brand, people = brand_a
    asset = _upload(brand, people["owner"])
    b_brand, b_people = brand_b
    intruder = client_for(b_people["owner"])
    for name in ("media_detail", "media_file", "media_preview", "media_crop", "media_delete"):
        # B's own brand in the URL, A's asset after it; and A's brand outright.
        assert intruder.get(reverse(name, args=[b_brand.pk, asset.pk])).status_code in (404, 405)
        assert intruder.post(reverse(name, args=[b_brand.pk, asset.pk]), {"preset": "profile"}).status_code == 404
        assert intruder.get(reverse(name, args=[brand.pk, asset.pk])).status_code == 404
    assert intruder.get(reverse("media_list", args=[brand.pk])).status_code == 404
    assert intruder.post(reverse("media_list", args=[brand.pk]), {"file": upload(image_bytes())}).status_code == 404
    assert MediaAsset.objects.count() == 1


# --- API -------------------------------------------------------------------------------------

def _token(user, brand, scope="write") -> dict:
    _token_obj, raw = do_create_token(Ctx(user), "media", {brand.pk: scope})
    return {"HTTP_AUTHORIZATION": f"Bearer {raw}"}


def test_api_upload_list_get_patch_crop_delete(brand_a, media_root, django_capture_on_commit_callbacks):
    brand, people = brand_a
    auth = _token(people["community_manager"], brand)
    c = Client()
    base = f"/api/v1/brands/{brand.pk}/media"
    response = c.post(base, {"file": upload(image_bytes(1080, 1080, "JPEG")), "alt_text": "Square",
                             "tags": "a,b"}, **auth)
    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["width"], body["height"], body["alt_text"], body["tags"]) == (1080, 1080, "Square", ["a", "b"])
    assert body["network_problems"]["instagram"] == [] and body["file_url"].endswith("/file/")
    asset_id = body["id"]
    assert AuditEvent.objects.get(action="media.upload").via == "api"

    listing = c.get(base, **auth).json()
    assert listing["count"] == 1 and listing["items"][0]["id"] == asset_id
    assert c.get(base, {"tag": "b"}, **auth).json()["count"] == 1
    assert c.get(base, {"tag": "zzz"}, **auth).json()["count"] == 0
    assert c.get(f"{base}/{asset_id}", **auth).json()["sha256"] == body["sha256"]

    patched = c.patch(f"{base}/{asset_id}", {"alt_text": "Better"}, content_type="application/json", **auth)
    assert patched.status_code == 200 and patched.json()["alt_text"] == "Better" and patched.json()["tags"] == ["a", "b"]
    assert c.patch(f"{base}/{asset_id}", {"alt_text": None}, content_type="application/json", **auth).status_code == 422

    crop = c.post(f"{base}/{asset_id}/crops", {"preset": "instagram_portrait"}, content_type="application/json", **auth)
    assert crop.status_code == 201 and (crop.json()["width"], crop.json()["height"]) == (1080, 1350)
    assert crop.json()["derived_from_id"] == asset_id
    assert c.post(f"{base}/{asset_id}/crops", {"preset": "nope"}, content_type="application/json",
                  **auth).status_code == 422

    with django_capture_on_commit_callbacks(execute=True):
        assert c.delete(f"{base}/{crop.json()['id']}", **auth).status_code == 204
    assert MediaAsset.objects.filter(brand=brand).count() == 1


def test_api_refusals_are_422_with_the_reason(brand_a, media_root):
    brand, people = brand_a
    auth = _token(people["owner"], brand)
    response = Client().post(f"/api/v1/brands/{brand.pk}/media", {"file": upload(png_bomb(), "bomb.png")}, **auth)
    assert response.status_code == 422
    assert "file" in response.json()["errors"]
    assert MediaAsset.objects.count() == 0 and stored_files(media_root) == []


def test_api_read_only_token_and_reader_roles_cannot_write(brand_a, media_root):
    brand, people = brand_a
    asset = _upload(brand, people["owner"])
    base = f"/api/v1/brands/{brand.pk}/media"
    read = _token(people["owner"], brand, "read")
    c = Client()
    assert c.get(f"{base}/{asset.pk}", **read).status_code == 200
    assert c.post(base, {"file": upload(image_bytes(20, 20))}, **read).status_code == 403
    assert c.delete(f"{base}/{asset.pk}", **read).status_code == 403
    analyst = _token(people["analyst"], brand)
    assert c.patch(f"{base}/{asset.pk}", {"alt_text": "x"}, content_type="application/json", **analyst).status_code == 403
    assert MediaAsset.objects.count() == 1


def test_api_cross_tenant_is_404(brand_a, brand_b, media_root):
    brand, people = brand_a
    asset = _upload(brand, people["owner"])
    b_brand, b_people = brand_b
    auth = _token(b_people["owner"], b_brand)
    c = Client()
    for url in (f"/api/v1/brands/{brand.pk}/media", f"/api/v1/brands/{brand.pk}/media/{asset.pk}",
                f"/api/v1/brands/{b_brand.pk}/media/{asset.pk}"):
        assert c.get(url, **auth).status_code == 404
    assert c.post(f"/api/v1/brands/{brand.pk}/media", {"file": upload(image_bytes())}, **auth).status_code == 404
    assert c.patch(f"/api/v1/brands/{b_brand.pk}/media/{asset.pk}", {"alt_text": "x"},
                   content_type="application/json", **auth).status_code == 404
    assert c.delete(f"/api/v1/brands/{b_brand.pk}/media/{asset.pk}", **auth).status_code == 404
    assert c.post(f"/api/v1/brands/{b_brand.pk}/media/{asset.pk}/crops", {"preset": "profile"},
                  content_type="application/json", **auth).status_code == 404
    assert MediaAsset.objects.count() == 1


def test_byte_limit_comes_from_settings_and_is_explained(brand_a, settings, media_root):
    brand, people = brand_a
    settings.MEDIA_MAX_UPLOAD_BYTES = 1024 * 1024
    big = Image.effect_noise((1200, 1200), 80).convert("RGB")
    out = io.BytesIO()
    big.save(out, format="PNG")
    assert out.tell() > 1024 * 1024
    response = client_for(people["owner"]).post(reverse("media_list", args=[brand.pk]),
                                                {"file": upload(out.getvalue(), "big.png")})
    assert response.status_code == 200
    assert "The limit is 1 MB." in response.content.decode()
    assert MediaAsset.objects.count() == 0 and stored_files(media_root) == []


def test_api_file_download_is_scoped(brand_a, brand_b, media_root):
    brand, people = brand_a
    asset = _upload(brand, people["owner"], image_bytes(120, 80, "PNG"))
    auth = _token(people["analyst"], brand, "read")
    c = Client()
    response = c.get(f"/api/v1/brands/{brand.pk}/media/{asset.pk}/file", **auth)
    assert response.status_code == 200 and response["Content-Type"] == "image/png"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert Image.open(io.BytesIO(b"".join(response.streaming_content))).size == (120, 80)
    preview = c.get(f"/api/v1/brands/{brand.pk}/media/{asset.pk}/file", {"preview": "true"}, **auth)
    assert preview["Content-Type"] == "image/webp"
    b_brand, b_people = brand_b
    b_auth = _token(b_people["owner"], b_brand)
    assert c.get(f"/api/v1/brands/{brand.pk}/media/{asset.pk}/file", **b_auth).status_code == 404
    assert c.get(f"/api/v1/brands/{b_brand.pk}/media/{asset.pk}/file", **b_auth).status_code == 404
    assert Client().get(f"/api/v1/brands/{brand.pk}/media/{asset.pk}/file").status_code == 401


def test_unknown_preset_and_missing_file_are_handled(brand_a, media_root):
    brand, people = brand_a
    asset = _upload(brand, people["owner"])
    c = client_for(people["owner"])
    response = c.post(reverse("media_crop", args=[brand.pk, asset.pk]), {"preset": "billboard"}, follow=True)
    assert "Unknown size preset." in response.content.decode()
    assert MediaAsset.objects.count() == 1
    (media_root / asset.file.name).unlink()
    assert c.get(reverse("media_file", args=[brand.pk, asset.pk])).status_code == 404
