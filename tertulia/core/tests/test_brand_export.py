"""Brand export (issue 10, data portability): every table of the brand as JSON and CSV, its media,
a README; no secret in it; CSV cells a spreadsheet would run are neutralised; only members
who manage the brand get it, and only while the link is valid."""

from __future__ import annotations

import csv
import io
import json
import zipfile
from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.files.storage import default_storage
from django.urls import reverse
from django.utils import timezone

from tertulia.core import export, services
from tertulia.core.models import AuditEvent, BrandExport, Notification
from tertulia.core.services import Ctx
from tertulia.core.tests.web_helpers import populate
from tertulia.networks.models import SocialAccount

API = "/api/v1"
HOSTILE = ["=HYPERLINK(\"http://evil.example\",\"x\")", "+1+cmd|' /C calc'!A0", "-2+3", "@SUM(A1)", "\tlead", "plain"]


@pytest.fixture
def world(brand_a, settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path / "media")
    return populate(*brand_a, marker="Alpha")


@pytest.fixture
def built(world, django_capture_on_commit_callbacks):
    """An export requested through the web and built by its job (Huey runs inline in tests)."""
    from django.test import Client

    client = Client()
    client.force_login(world.people["owner"])
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("brand_export_new", args=[world.brand.pk]))
    assert response.status_code == 302
    item = BrandExport.objects.exclude(pk=world.export.pk).get(brand=world.brand, state=BrandExport.State.READY)
    return world, item, client


def _zip(item) -> zipfile.ZipFile:
    with default_storage.open(item.file, "rb") as fh:
        return zipfile.ZipFile(io.BytesIO(fh.read()))


def test_the_zip_holds_every_table_as_json_and_csv_with_media_and_a_readme(built):
    world, item, client = built
    zf = _zip(item)
    names = set(zf.namelist())
    for table in ("core.brand", "content.post", "publishing.posttarget", "content.mediaasset", "networks.socialaccount",
                  "inbox.conversation", "inbox.interaction", "listening.mention", "reports.report",
                  "giveaways.contest", "strategy.objective", "core.auditevent", "content.postvariant"):
        assert f"json/{table}.json" in names and f"csv/{table}.csv" in names, table
    posts = json.loads(zf.read("json/content.post.json"))
    from tertulia.content.models import Post

    assert [p["id"] for p in posts] == sorted(Post.objects.filter(brand=world.brand).values_list("pk", flat=True))
    assert any(p["id"] == world.post.pk and p["text"] == world.post.text for p in posts)
    rows = list(csv.reader(io.StringIO(zf.read("csv/networks.socialaccount.csv").decode())))
    assert rows[0][:3] == ["id", "brand_id", "network"] and rows[1][0] == str(world.account.pk)
    assert f"media/{world.media.file.name}" in names
    with default_storage.open(world.media.file.name, "rb") as fh:
        assert zf.read(f"media/{world.media.file.name}") == fh.read()
    readme = zf.read("README.txt").decode()
    assert "json/<app>.<table>.json" in readme and "content.post: " in readme and "apostrophe" in readme
    # Nothing of another brand (brand B is not in this world, but its own rows would show by id).
    audit = json.loads(zf.read("json/core.auditevent.json"))
    assert audit and {row["brand_id"] for row in audit} == {world.brand.pk}
    # The requester was told, with the link, and the request is in the audit log.
    note = Notification.objects.get(recipient=world.people["owner"], kind="brand.export")
    assert note.link == reverse("brand_exports", args=[world.brand.pk])
    assert AuditEvent.objects.filter(action="brand.export", brand=world.brand).exists()
    # The download, for the owner.
    response = client.get(reverse("brand_export_download", args=[world.brand.pk, item.pk]))
    assert response.status_code == 200 and response["Content-Type"] == "application/zip"
    assert "attachment" in response["Content-Disposition"]
    assert b"".join(response.streaming_content)[:2] == b"PK"


def test_no_secret_in_the_export(built):
    world, item, _client = built
    raw_account = SocialAccount.objects.filter(pk=world.account.pk).values_list("access_token", flat=True)
    ciphertext = SocialAccount._meta.get_field("access_token").get_prep_value("alpha-access-token-plaintext")
    stored = next(iter(SocialAccount.objects.raw(
        "SELECT id, access_token FROM networks_socialaccount WHERE id = %s", [world.account.pk])))
    zf = _zip(item)
    blob = b"".join(zf.read(n) for n in zf.namelist())
    assert raw_account[0] == "alpha-access-token-plaintext"
    for secret in ("alpha-access-token-plaintext", world.token_raw, world.invitation_raw, world.review_raw,
                   world.calendar_raw, world.report_raw):
        if secret:
            assert secret.encode() not in blob, secret
    assert ciphertext[:20].encode() not in blob
    assert b"gAAAAA" not in blob  # no Fernet token at all (they all start with this)
    assert stored is not None
    columns = json.loads(zf.read("json/networks.socialaccount.json"))[0]
    assert "access_token" not in columns and "refresh_token" not in columns and columns["handle"] == "@alphaquokka"
    assert not any(n.startswith(("json/core.tokengrant", "json/core.personalaccesstoken", "json/core.notification"))
                   for n in zf.namelist())


@pytest.mark.parametrize("value", HOSTILE)
def test_csv_cells_that_would_run_as_formulas_are_prefixed(value):
    cell = export.csv_cell(value)
    if value[0] in "=+-@\t\r":
        assert cell == "'" + value
    else:
        assert cell == value


@pytest.mark.parametrize("value,cell", [(-3, "-3"), (-0.5, "-0.5"), (Decimal("-12.50"), "-12.50"), (True, "True"),
                                        ("-3", "'-3")])
def test_numbers_stay_numbers_and_only_text_is_prefixed(value, cell):
    assert export.csv_cell(value) == cell


def test_csv_injection_in_social_content_is_neutralised_in_the_file(world):
    from tertulia.content.models import Post

    Post.objects.filter(pk=world.post.pk).update(text=HOSTILE[0])
    buf = io.BytesIO()
    export.write_zip(world.brand, buf)
    zf = zipfile.ZipFile(buf)
    rows = list(csv.DictReader(io.StringIO(zf.read("csv/content.post.csv").decode())))
    cell = next(r["text"] for r in rows if r["id"] == str(world.post.pk))
    assert cell == "'" + HOSTILE[0]
    # The JSON keeps the text as it is (JSON is not run by spreadsheets).
    assert any(p["text"] == HOSTILE[0] for p in json.loads(zf.read("json/content.post.json")))


@pytest.mark.parametrize("role", ["community_manager", "analyst", "client_reviewer"])
def test_roles_without_manage_brand_get_403(client, brand_a, role):
    brand, people = brand_a
    client.force_login(people[role])
    assert client.get(reverse("brand_exports", args=[brand.pk])).status_code == 403
    assert client.post(reverse("brand_export_new", args=[brand.pk])).status_code == 403
    raw = services.do_create_token(Ctx(people[role]), "t", {brand.pk: "write"})[1]
    assert client.post(f"{API}/brands/{brand.pk}/exports", HTTP_AUTHORIZATION=f"Bearer {raw}").status_code == 403
    assert not BrandExport.objects.exists()


def test_another_tenant_gets_404_and_expired_links_are_gone(built, brand_b, client):
    world, item, owner_client = built
    other, other_people = brand_b
    client.force_login(other_people["owner"])
    assert client.get(reverse("brand_export_download", args=[world.brand.pk, item.pk])).status_code == 404
    assert client.get(reverse("brand_export_download", args=[other.pk, item.pk])).status_code == 404
    raw = services.do_create_token(Ctx(other_people["owner"]), "t", {other.pk: "write"})[1]
    auth = {"HTTP_AUTHORIZATION": f"Bearer {raw}"}
    assert client.get(f"{API}/brands/{world.brand.pk}/exports/{item.pk}", **auth).status_code == 404
    assert client.get(f"{API}/brands/{other.pk}/exports/{item.pk}/download", **auth).status_code == 404
    assert client.post(f"{API}/brands/{world.brand.pk}/exports", **auth).status_code == 404
    # The link expires: the file goes and the download is 404.
    BrandExport.objects.filter(pk=item.pk).update(expires_at=timezone.now() - timedelta(minutes=1))
    assert owner_client.get(reverse("brand_export_download", args=[world.brand.pk, item.pk])).status_code == 404
    assert export.expire() == 1 and not default_storage.exists(item.file)
    assert BrandExport.objects.get(pk=item.pk).state == BrandExport.State.EXPIRED


def test_api_start_poll_and_download(world, client, django_capture_on_commit_callbacks):
    owner = world.people["owner"]
    raw = services.do_create_token(Ctx(owner), "t", {world.brand.pk: "write"})[1]
    auth = {"HTTP_AUTHORIZATION": f"Bearer {raw}"}
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(f"{API}/brands/{world.brand.pk}/exports", **auth)
    assert response.status_code == 202
    export_id = response.json()["id"]
    body = client.get(f"{API}/brands/{world.brand.pk}/exports/{export_id}", **auth).json()
    assert body["state"] == "ready" and body["download_url"].endswith(f"/exports/{export_id}/download")
    download = client.get(body["download_url"], **auth)
    assert download.status_code == 200 and b"".join(download.streaming_content)[:2] == b"PK"
    listed = client.get(f"{API}/brands/{world.brand.pk}/exports", **auth).json()["items"]
    assert export_id in [e["id"] for e in listed]
    # A second request while one is being prepared is refused (a pending one, here).
    BrandExport.objects.filter(pk=export_id).update(state=BrandExport.State.PENDING)
    assert client.post(f"{API}/brands/{world.brand.pk}/exports", **auth).status_code == 422


def test_exports_page_lists_and_escapes(built):
    world, item, client = built
    page = client.get(reverse("brand_exports", args=[world.brand.pk])).content.decode()
    assert reverse("brand_export_download", args=[world.brand.pk, item.pk]) in page
