"""Competitor pages and API: escaping of names and post texts, no javascript: links, another
brand's ids are 404, readers and analysts cannot write, CSV import with good/bad/hostile rows,
the benchmark with its monthly section."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone

from tertulia.core.services import Ctx
from tertulia.core.tests.web_helpers import XSS, assert_escaped, html, messages_of
from tertulia.listening import competitors
from tertulia.listening.models import Competitor, CompetitorPost, CompetitorSnapshot

pytestmark = pytest.mark.django_db


@pytest.fixture
def rival(brand_a):
    brand, people = brand_a
    comp = competitors.do_add_competitor(Ctx(people["owner"]), brand, name=f"Rival {XSS}",
                                         website="https://rival.example/",
                                         accounts=[("instagram", "rival"), ("mastodon", "rival@m.example")])
    account = comp.accounts.get(network="instagram")
    now = timezone.now()
    CompetitorSnapshot.objects.create(brand=brand, account=account, taken_at=now - timedelta(days=1), followers=4200,
                                      posts=None)
    CompetitorPost.objects.create(brand=brand, account=account, external_id="p1", url="javascript:alert(1)",
                                  published_at=now - timedelta(days=2), text=f"Hostile {XSS}", format="image",
                                  likes=50, comments=5)
    CompetitorPost.objects.create(brand=brand, account=account, external_id="p2", url="https://instagram.com/p/2",
                                  published_at=now - timedelta(days=3), text="Normal post", format="video", likes=3)
    comp.accounts.filter(network="mastodon").update(last_error=competitors.notes.note(competitors.MSG_CSV_ONLY))
    return comp


def test_pages_escape_and_never_link_javascript(client, brand_a, rival):
    brand, people = brand_a
    client.force_login(people["analyst"])
    page = html(client.get(reverse("competitors", args=[brand.pk])))
    assert_escaped(page)
    assert "4200" in page or "4,200" in page
    assert reverse("competitor_add", args=[brand.pk]) not in page  # analysts read, they do not add
    detail = client.get(reverse("competitor_detail", args=[brand.pk, rival.pk]))
    page = html(detail)
    assert_escaped(page)
    assert "Hostile &lt;script&gt;" in page and "javascript:" not in page
    assert 'href="https://instagram.com/p/2"' in page and 'href="https://rival.example/"' in page
    assert "This network has no public reading" in page  # the account's kept error, in words
    assert reverse("competitor_read", args=[brand.pk, rival.pk]) not in page
    bench = client.get(reverse("competitor_benchmark", args=[brand.pk]), {"month": timezone.now().strftime("%Y-%m")})
    page = html(bench)
    assert bench.status_code == 200 and "javascript:" not in page
    assert_escaped(page)
    assert "<svg" in page and "Monthly section" in page
    for hostile in ({"month": "2025-13"}, {"since": "<script>", "until": "9999-99-99"}, {"since": "1900-01-01"}):
        assert client.get(reverse("competitor_benchmark", args=[brand.pk]), hostile).status_code == 200


@pytest.mark.parametrize("role", ["analyst", "client_reviewer", "community_manager"])
def test_only_managers_write(client, brand_a, rival, role):
    brand, people = brand_a
    client.force_login(people[role])
    account = rival.accounts.get(network="instagram")
    for name, args in (("competitor_add", []), ("competitor_edit", [rival.pk]), ("competitor_delete", [rival.pk]),
                       ("competitor_read", [rival.pk]), ("competitor_account_add", [rival.pk]),
                       ("competitor_account_delete", [account.pk]), ("competitor_import", [account.pk])):
        response = client.post(reverse(name, args=[brand.pk, *args]), {"name": "x", "network": "x", "handle": "y"})
        assert response.status_code == 403, name
    assert Competitor.objects.filter(pk=rival.pk, name=f"Rival {XSS}").exists()
    assert rival.accounts.count() == 2


def test_another_brands_ids_are_404(client, brand_a, brand_b, rival):
    brand, people = brand_a
    other, other_people = brand_b
    theirs = competitors.do_add_competitor(Ctx(other_people["owner"]), other, name="Theirs",
                                           accounts=[("x", "theirs")])
    account = theirs.accounts.get()
    client.force_login(people["owner"])
    for name, args in (("competitor_detail", [theirs.pk]), ("competitor_edit", [theirs.pk]),
                       ("competitor_delete", [theirs.pk]), ("competitor_read", [theirs.pk]),
                       ("competitor_account_add", [theirs.pk]), ("competitor_account_delete", [account.pk]),
                       ("competitor_import", [account.pk])):
        assert client.post(reverse(name, args=[brand.pk, *args]), {"name": "x"}).status_code == 404, name
    assert client.get(f"/api/v1/brands/{brand.pk}/competitors/{theirs.pk}").status_code == 404
    assert client.get(f"/api/v1/brands/{brand.pk}/competitor-accounts/{account.pk}/snapshots").status_code == 404
    assert client.delete(f"/api/v1/brands/{brand.pk}/competitor-accounts/{account.pk}").status_code == 404
    assert Competitor.objects.filter(pk=theirs.pk, name="Theirs").exists()


def test_add_edit_import_and_remove_as_manager(client, brand_a):
    brand, people = brand_a
    client.force_login(people["manager"])
    response = client.post(reverse("competitor_add", args=[brand.pk]),
                           {"name": "  Molienda  ", "website": "javascript:alert(1)", "network": "", "handle": ""})
    assert response.status_code == 200 and not Competitor.objects.filter(brand=brand).exists()  # bad website
    response = client.post(reverse("competitor_add", args=[brand.pk]),
                           {"name": "Molienda", "website": "", "network": "instagram", "handle": "molienda"})
    comp = Competitor.objects.get(brand=brand, name="Molienda")
    assert response.status_code == 302
    client.post(reverse("competitor_account_add", args=[brand.pk, comp.pk]), {"network": "x", "handle": "bad handle"})
    assert comp.accounts.count() == 1
    account = comp.accounts.get()
    csv_body = ("date,url,format,likes,comments,shares,views,text\n"
                "2025-03-01,https://instagram.com/p/9,image,10,1,0,,Primera\n"
                "2025-03-02,javascript:alert(1),image,1,,,,<script>alert(1)</script>\n"
                "2025-03-03,,carousel,=2+2,,,,Fórmula\n").encode()
    response = client.post(reverse("competitor_import", args=[brand.pk, account.pk]),
                           {"kind": "posts", "file": SimpleUploadedFile("posts.csv", csv_body, "text/csv")})
    page = html(response)
    assert "1 rows added, 0 updated, 2 skipped." in page
    assert ">3</td>" in page and ">4</td>" in page  # the lines of the bad rows
    assert "<script>alert" not in page
    assert CompetitorPost.objects.filter(account=account).count() == 1
    big = SimpleUploadedFile("big.csv", b"date,followers\n" + b"2025-01-01,1\n" * 200_000, "text/csv")
    page = html(client.post(reverse("competitor_import", args=[brand.pk, account.pk]), {"kind": "snapshots",
                                                                                         "file": big}))
    assert "larger than 2 MB" in page
    client.post(reverse("competitor_edit", args=[brand.pk, comp.pk]), {"name": "Molienda SL", "website": ""})
    comp.refresh_from_db()
    assert comp.name == "Molienda SL"
    response = client.post(reverse("competitor_read", args=[brand.pk, comp.pk]))
    assert any("import their numbers from CSV" in m for m in messages_of(client.get(response["Location"])))
    client.post(reverse("competitor_delete", args=[brand.pk, comp.pk]))
    assert not Competitor.objects.filter(pk=comp.pk).exists()


def test_api_crud_import_and_figures(client, brand_a):
    brand, people = brand_a
    base = f"/api/v1/brands/{brand.pk}"
    client.force_login(people["analyst"])
    assert client.post(f"{base}/competitors", {"name": "X"}, content_type="application/json").status_code == 403
    client.force_login(people["owner"])
    assert client.post(f"{base}/competitors", {"name": "x" * 201}, content_type="application/json").status_code == 422
    assert client.post(f"{base}/competitors", {"name": "A", "extra": 1},
                       content_type="application/json").status_code == 422
    response = client.post(f"{base}/competitors", {"name": f"API {XSS}", "accounts": [
        {"network": "bluesky", "handle": "rival.bsky.social"}, {"network": "linkedin", "handle": "rival"}]},
        content_type="application/json")
    assert response.status_code == 201
    body = response.json()
    assert body["name"] == f"API {XSS}" and [a["readable"] for a in body["accounts"]] == [True, False]
    cid = body["id"]
    linkedin = next(a["id"] for a in body["accounts"] if a["network"] == "linkedin")
    assert client.patch(f"{base}/competitors/{cid}", {"website": "ftp://nope"},
                        content_type="application/json").status_code == 422
    assert client.patch(f"{base}/competitors/{cid}", {"name": "Rival"},
                        content_type="application/json").json()["name"] == "Rival"
    csv_body = b"date,followers,posts\n2025-01-01,100,5\n2025-01-31,130,\nbad,1,1\n"
    response = client.post(f"{base}/competitor-accounts/{linkedin}/import",
                           {"kind": "snapshots", "file": SimpleUploadedFile("s.csv", csv_body, "text/csv")})
    assert response.status_code == 200
    assert response.json() == {"created": 2, "updated": 0, "errors": [[4, response.json()["errors"][0][1]]],
                               "skipped": 1}
    snaps = client.get(f"{base}/competitor-accounts/{linkedin}/snapshots").json()["items"]
    assert [(s["followers"], s["posts"]) for s in snaps] == [(130, None), (100, 5)]
    bench = client.get(f"{base}/competitor-benchmark", {"since": "2025-01-01", "until": "2025-01-31"}).json()
    rival_row = next(r for r in bench["rows"] if r["kind"] == "competitor")
    assert (rival_row["followers_start"], rival_row["followers_end"], rival_row["growth"]) == (100, 130, 30)
    assert rival_row["engagement_per_post"] is None and bench["rows"][0]["kind"] == "brand"
    assert client.get(f"{base}/competitor-benchmark", {"since": "2025-02-01", "until": "2025-01-01"}).status_code == 422
    monthly = client.get(f"{base}/competitor-monthly", {"year": 2025, "month": 1}).json()
    assert monthly["language"] == "es" and any("Rival ganó 30 seguidores" in s for s in monthly["sentences"])
    assert client.get(f"{base}/competitor-monthly", {"year": 2025, "month": 13}).status_code == 422
    assert client.delete(f"{base}/competitor-accounts/{linkedin}").status_code == 204
    assert client.delete(f"{base}/competitors/{cid}").status_code == 204
    assert client.get(f"{base}/competitors").json()["items"] == []
