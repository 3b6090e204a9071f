"""The analytics data API: figures for a period, the two multipart imports, campaign spend and
value, and the metrics reading status — roles, read-only tokens, other brands, hostile input."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from tertulia.analytics.models import CampaignConversion, MetricsSync, WebTraffic
from tertulia.content.services import do_create_campaign
from tertulia.core import services as core_services
from tertulia.core.models import AuditEvent
from tertulia.core.services import Ctx
from tertulia.core.tests.web_helpers import ALL_ROLES, XSS
from tertulia.inbox.models import Author, Conversation, Interaction
from tertulia.networks.services import do_add_account

pytestmark = pytest.mark.django_db

API = "/api/v1/brands/{}/analytics"


def bearer(raw):
    return {"HTTP_AUTHORIZATION": f"Bearer {raw}"}


@pytest.fixture
def world(brand_a, brand_b):
    brand, people = brand_a
    other, other_people = brand_b
    owner = Ctx(people["owner"], via="test")
    campaign = do_create_campaign(owner, brand, name="Primavera", utm_campaign="primavera", cost=Decimal("100"))
    foreign = do_create_campaign(Ctx(other_people["owner"]), other, name="Ajena", utm_campaign="ajena")
    account = do_add_account(owner, brand, network="mastodon", handle="@alpha@masto.es")
    author = Author.objects.create(brand=brand, network="mastodon", external_id="a1", handle="@ana")
    t0 = datetime(2025, 3, 3, 9, tzinfo=UTC)
    conv = Conversation.objects.create(brand=brand, account=account, kind="comment", author=author,
                                       root_external_id="r", last_message_at=t0,
                                       first_response_at=datetime(2025, 3, 3, 11, tzinfo=UTC))
    Interaction.objects.create(brand=brand, conversation=conv, account=account, external_id="i1", author=author,
                               text="hola", created_at=t0, direction="in")
    MetricsSync.objects.create(account=account, missing_metrics={"reach": "2025-03-02"},
                               last_error="The network could not be reached or answered with an error; "
                                          "we will try again later.")
    tokens = {role: core_services.do_create_token(Ctx(user), f"{role} token", {brand.pk: "write"})[1]
              for role, user in people.items()}
    read_token = core_services.do_create_token(owner, "read", {brand.pk: "read"})[1]
    return {"brand": brand, "other": other, "people": people, "campaign": campaign, "foreign": foreign,
            "tokens": tokens, "read_token": read_token, "account": account}


def csv_file(text: str):
    return SimpleUploadedFile("data.csv", text.encode(), content_type="text/csv")


@pytest.mark.parametrize("role", ALL_ROLES)
def test_reads_need_analytics(client, world, role):
    b = world["brand"].pk
    headers = bearer(world["tokens"][role])
    expected = 403 if role == "client_reviewer" else 200
    for path in ("/inbox", "/traffic", "/campaigns", "/sync"):
        assert client.get(API.format(b) + path, **headers).status_code == expected, path


def test_figures(client, world):
    b = world["brand"].pk
    headers = bearer(world["tokens"]["analyst"])
    inbox = client.get(API.format(b) + "/inbox?start=2025-03-01&end=2025-03-07", **headers).json()
    assert inbox["period"] == {"start": "2025-03-01", "end": "2025-03-07", "time_zone": "Europe/Madrid"}
    assert (inbox["received"], inbox["answered"], inbox["response_rate"]) == (1, 1, 100.0)
    assert inbox["median_first_response_hours"] == 2.0 and inbox["median_resolution_hours"] is None
    assert len(inbox["by_day"]) == 7 and inbox["by_day"][2] == {"day": "2025-03-03", "received": 1, "answered": 1}

    traffic = client.get(API.format(b) + "/traffic?start=2025-03-01&end=2025-03-02", **headers).json()
    assert (traffic["short_link_clicks"], traffic["sessions"], traffic["conversions"]) == (0, None, None)

    rows = client.get(API.format(b) + "/campaigns", **headers).json()
    assert rows == [{"campaign_id": world["campaign"].pk, "name": "Primavera", "utm_campaign": "primavera",
                     "starts_on": None, "ends_on": None, "cost": "100.00", "value": None, "value_source": None,
                     "conversions": None, "roi": None}]
    sync = client.get(API.format(b) + "/sync", **headers).json()
    assert sync[0]["missing_metrics"] == {"reach": "2025-03-02"} and "could not be reached" in sync[0]["last_error"]


@pytest.mark.parametrize("query", ["start=2025-03-10&end=2025-03-01", "start=nope", "start=1800-01-01&end=1800-01-02",
                                   "start=2020-01-01&end=2025-01-01"])
def test_bad_periods_are_422(client, world, query):
    r = client.get(API.format(world["brand"].pk) + "/inbox?" + query, **bearer(world["tokens"]["owner"]))
    assert r.status_code == 422


def test_imports(client, world):
    b = world["brand"].pk
    cm = bearer(world["tokens"]["community_manager"])
    ga4 = (f"Date,Session source / medium,Session campaign,Sessions\n20250301,t.co / referral,primavera,5\n"
           f"20250301,{XSS} / social,primavera,2\nbad,t.co / referral,x,1\n")
    r = client.post(API.format(b) + "/traffic/import", {"file": csv_file(ga4)}, **cm)
    assert r.status_code == 200, r.content
    assert r.json() == {"format": "ga4", "stored": 2, "updated": 0, "unchanged": 0, "bad_count": 1,
                        "bad_rows": [[4, "the date is not a date (YYYYMMDD, YYYY-MM-DD or DD/MM/YYYY)"]]}
    traffic = client.get(API.format(b) + "/traffic?start=2025-03-01&end=2025-03-01", **cm).json()
    assert traffic["sessions"] == 7 and {"source": XSS.lower(), "clicks": 0, "sessions": 2} in traffic["by_source"]

    conv = "campaign,date,conversions,value\nprimavera,2025-03-01,2,300\najena,2025-03-01,1,1\n"
    r = client.post(API.format(b) + "/conversions/import", {"file": csv_file(conv)}, **cm)
    assert (r.json()["stored"], r.json()["bad_count"]) == (1, 1)
    assert not CampaignConversion.objects.filter(campaign=world["foreign"]).exists()
    row = client.get(API.format(b) + "/campaigns", **cm).json()[0]
    assert (row["value"], row["value_source"], row["conversions"], row["roi"]) == ("300.00", "imported", 2, 200.0)
    assert AuditEvent.objects.filter(action="conversions.import", via="api").exists()


def test_imports_refuse_roles_tokens_garbage_and_missing_files(client, world):
    b = world["brand"].pk
    for headers in (bearer(world["tokens"]["analyst"]), bearer(world["read_token"])):
        r = client.post(API.format(b) + "/traffic/import", {"file": csv_file("date,visitors\n2025-03-01,1\n")},
                        **headers)
        assert r.status_code == 403
    owner = bearer(world["tokens"]["owner"])
    r = client.post(API.format(b) + "/traffic/import",
                    {"file": SimpleUploadedFile("x.csv", b"\x00\x01\x02" * 50)}, **owner)
    assert r.status_code == 422 and "not a CSV" in json.dumps(r.json())
    assert client.post(API.format(b) + "/traffic/import", {}, **owner).status_code == 422
    r = client.post(API.format(b) + "/conversions/import", {"file": csv_file("a,b\n1,2\n")}, **owner)
    assert r.status_code == 422
    # Another brand: 404, even for its own importers' files.
    r = client.post(API.format(world["other"].pk) + "/traffic/import",
                    {"file": csv_file("date,visitors\n2025-03-01,1\n")}, **owner)
    assert r.status_code == 404
    assert not WebTraffic.objects.exists()


def test_campaign_money(client, world):
    b, c = world["brand"].pk, world["campaign"].pk
    cm = bearer(world["tokens"]["community_manager"])
    url = API.format(b) + f"/campaigns/{c}"

    def put(body, headers=cm, target=url):
        return client.put(target, json.dumps(body), content_type="application/json", **headers)

    r = put({"cost": "50", "value": "125.5"})
    assert r.status_code == 200 and r.json()["roi"] == 151.0
    assert put({"cost": None, "value": None}).json()["cost"] is None
    for bad in ({"cost": "-1", "value": None}, {"cost": "1e20", "value": None}, {"cost": "1.234", "value": None},
                {"cost": "NaN", "value": None}, {"cost": 1}, {"cost": 1, "value": 1, "extra": 1}):
        assert put(bad).status_code == 422, bad
    assert put({"cost": 1, "value": 1}, headers=bearer(world["tokens"]["analyst"])).status_code == 403
    assert put({"cost": 1, "value": 1}, target=API.format(b) + f"/campaigns/{world['foreign'].pk}").status_code == 404
    world["foreign"].refresh_from_db()
    assert world["foreign"].cost is None


def test_read_now(client, world, brand_b):
    b, account = world["brand"].pk, world["account"]
    url = API.format(b) + f"/sync/{account.pk}/read"
    assert client.post(url, **bearer(world["tokens"]["analyst"])).status_code == 403
    assert client.post(url, **bearer(world["read_token"])).status_code == 403
    other, other_people = brand_b
    theirs = do_add_account(Ctx(other_people["owner"]), other, network="mastodon", handle="@beta@masto.es")
    assert client.post(API.format(b) + f"/sync/{theirs.pk}/read", **bearer(world["tokens"]["owner"])).status_code == 404
    # The world's sync row is backing off after a failure (not due yet): left alone.
    MetricsSync.objects.filter(account=account).update(failures=1, next_run_at=datetime(2100, 1, 1, tzinfo=UTC))
    r = client.post(url, **bearer(world["tokens"]["community_manager"]))
    assert r.status_code == 200 and r.json()["outcome"] == "skipped"
    assert r.json()["sync"]["account_id"] == account.pk
