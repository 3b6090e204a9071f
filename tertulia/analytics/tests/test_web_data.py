"""Analytics → Data pages: the role table, imports with their result page, hostile files and
names (escaped on the page, neutralised in CSV exports), other brands' campaigns, the campaign
spend/value form and the metrics reading status."""

from __future__ import annotations

import csv
import io
from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone

from tertulia.analytics import collect, traffic
from tertulia.analytics.models import CampaignConversion, MetricsSync, WebTraffic
from tertulia.content.services import do_create_campaign
from tertulia.core.services import Ctx
from tertulia.core.tests.web_helpers import ALL_ROLES, XSS, assert_escaped, html
from tertulia.networks.services import do_add_account

pytestmark = pytest.mark.django_db

PAGES = ["analytics_data_traffic", "analytics_data_traffic_csv", "analytics_data_conversions",
         "analytics_data_campaigns", "analytics_data_campaigns_csv", "analytics_data_sync"]
GA4 = ("Date,Session source / medium,Session campaign,Sessions\n"
       "{day},facebook.com / referral,primavera,120\n"
       "{day},{xss} / social,primavera,3\n"
       "notadate,t.co / referral,primavera,1\n")


def upload(text: str, name: str = "export.csv") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, text.encode(), content_type="text/csv")


@pytest.fixture
def campaign(brand_a):
    brand, people = brand_a
    return do_create_campaign(Ctx(people["owner"]), brand, name=f"Primavera {XSS}", utm_campaign="primavera",
                              cost=Decimal("100"))


@pytest.mark.parametrize("role", ALL_ROLES)
def test_who_can_read_and_import(client, brand_a, role):
    brand, people = brand_a
    client.force_login(people[role])
    reads = role != "client_reviewer"  # reading needs ANALYTICS
    for name in PAGES:
        assert client.get(reverse(name, args=[brand.pk])).status_code == (200 if reads else 403), name
    can_import = role in ("owner", "manager", "community_manager")
    day = timezone.now().date().strftime("%Y%m%d")
    response = client.post(reverse("analytics_data_traffic", args=[brand.pk]),
                           {"file": upload(GA4.format(day=day, xss="x"))})
    assert response.status_code == (200 if can_import else 403)
    assert WebTraffic.objects.filter(brand=brand).exists() is can_import


def test_traffic_import_result_page_and_escaping(client, brand_a):
    brand, people = brand_a
    client.force_login(people["community_manager"])
    day = timezone.now().date().strftime("%Y%m%d")
    response = client.post(reverse("analytics_data_traffic", args=[brand.pk]),
                           {"file": upload(GA4.format(day=day, xss=XSS))})
    page = html(response)
    assert response.status_code == 200
    assert response.context["result"].stored == 2 and response.context["result"].bad_count == 1
    assert "Rows not imported" in page and ">4<" in page  # the bad row's line number
    # The imported figures and the XSS source on the traffic page (sessions from social).
    page = html(client.get(reverse("analytics_data_traffic", args=[brand.pk])))
    assert_escaped(page)
    figures = client.get(reverse("analytics_data_traffic", args=[brand.pk])).context["figures"]
    assert figures.sessions == 123
    # Re-import: nothing new.
    again = client.post(reverse("analytics_data_traffic", args=[brand.pk]),
                        {"file": upload(GA4.format(day=day, xss=XSS))})
    assert (again.context["result"].stored, again.context["result"].unchanged) == (0, 2)


def test_hostile_files_are_refused_with_a_reason(client, brand_a, monkeypatch):
    brand, people = brand_a
    client.force_login(people["owner"])
    url = reverse("analytics_data_traffic", args=[brand.pk])
    garbage = SimpleUploadedFile("x.csv", b"\x00\xff\xfe" * 100, content_type="text/csv")
    response = client.post(url, {"file": garbage})
    assert response.status_code == 200 and "not a CSV text file" in html(response)
    monkeypatch.setattr(traffic, "MAX_BYTES", 100)
    response = client.post(url, {"file": upload("date,visitors\n" + "2025-01-01,1\n" * 20)})
    assert "larger than" in html(response)
    response = client.post(url, {})
    assert response.status_code == 200 and "This field is required" in html(response)
    assert not WebTraffic.objects.exists()


def test_conversions_import_ignores_other_brands_campaigns(client, brand_a, brand_b, campaign):
    brand, people = brand_a
    other, other_people = brand_b
    foreign = do_create_campaign(Ctx(other_people["owner"]), other, name="Ajena", utm_campaign="ajena")
    client.force_login(people["community_manager"])
    text = "campaign,date,conversions,value\nprimavera,2025-03-01,4,40\najena,2025-03-01,9,9\n=1+2,2025-03-01,1,1\n"
    response = client.post(reverse("analytics_data_conversions", args=[brand.pk]), {"file": upload(text)})
    result = response.context["result"]
    assert (result.stored, [line for line, _ in result.bad_rows]) == (1, [3, 4])
    assert not CampaignConversion.objects.filter(campaign=foreign).exists()
    assert_escaped(html(client.get(reverse("analytics_data_conversions", args=[brand.pk]))))


def test_campaign_roi_page_csv_and_money_form(client, brand_a, brand_b, campaign):
    brand, people = brand_a
    CampaignConversion.objects.create(brand=brand, campaign=campaign, day=date(2025, 3, 1), conversions=3,
                                      value=Decimal("250"))
    client.force_login(people["analyst"])
    page = html(client.get(reverse("analytics_data_campaigns", args=[brand.pk])))
    assert_escaped(page)
    assert "150" in page  # ROI (250 − 100) / 100 = 150 %
    assert client.get(reverse("analytics_data_campaign", args=[brand.pk, campaign.pk])).status_code == 403
    body = client.get(reverse("analytics_data_campaigns_csv", args=[brand.pk])).content.decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(body)))
    assert rows[1][0] == f"Primavera {XSS}" and rows[1][6] == "150.0"

    client.force_login(people["community_manager"])
    url = reverse("analytics_data_campaign", args=[brand.pk, campaign.pk])
    assert client.post(url, {"cost": "-5", "value": ""}).status_code == 200  # refused, form again
    assert client.post(url, {"cost": "1" * 20, "value": ""}).status_code == 200
    campaign.refresh_from_db()
    assert campaign.cost == Decimal("100.00")
    assert client.post(url, {"cost": "80", "value": "200"}).status_code == 302
    campaign.refresh_from_db()
    assert (campaign.cost, campaign.value) == (Decimal("80.00"), Decimal("200.00"))
    # Another brand's campaign through this brand's URL: 404.
    foreign = do_create_campaign(Ctx(brand_b[1]["owner"]), brand_b[0], name="Ajena")
    assert client.get(reverse("analytics_data_campaign", args=[brand.pk, foreign.pk])).status_code == 404
    assert client.post(reverse("analytics_data_campaign", args=[brand.pk, foreign.pk]),
                       {"cost": "1"}).status_code == 404


def test_formulas_are_neutralised_in_the_traffic_csv(client, brand_a):
    brand, people = brand_a
    WebTraffic.objects.create(brand=brand, origin="ga4", day=timezone.now().date(), source="=cmd|' /c calc'!a0",
                              medium="social", sessions=5)
    client.force_login(people["owner"])
    body = client.get(reverse("analytics_data_traffic_csv", args=[brand.pk])).content.decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(body)))
    assert rows[1][0] == "'=cmd|' /c calc'!a0"


def test_bad_periods_fall_back_with_an_error(client, brand_a):
    brand, people = brand_a
    client.force_login(people["owner"])
    url = reverse("analytics_data_traffic", args=[brand.pk])
    for query in ({"start": "2025-03-10", "end": "2025-03-01"}, {"start": "1900-01-01", "end": "2025-01-01"},
                  {"start": "garbage"}, {"start": "9999-12-31", "end": "9999-12-31"}):
        response = client.get(url, query)
        assert response.status_code == 200
        assert response.context["period_form"].errors
    ok = client.get(url, {"start": "2025-03-01", "end": "2025-03-02"})
    assert [d for d, *_ in ok.context["figures"].by_day] == [date(2025, 3, 1), date(2025, 3, 2)]


def test_sync_status_page(client, brand_a):
    brand, people = brand_a
    account = do_add_account(Ctx(people["owner"]), brand, network="mastodon", handle=f"@{XSS}@masto.es")
    fresh = do_add_account(Ctx(people["owner"]), brand, network="bluesky", handle="nuevo.bsky.social")
    MetricsSync.objects.create(account=account, last_run_at=timezone.now() - timedelta(hours=1),
                               last_error=collect.MSG_RETRY, failures=2, missing_metrics={"likes": "2025-03-01"})
    client.force_login(people["analyst"])
    page = html(client.get(reverse("analytics_data_sync", args=[brand.pk])))
    assert "could not be reached" in page and "(2 failures in a row)" in page and "Likes" in page
    assert "Not read yet" in page and fresh.handle in page
    assert_escaped(page)
    client.cookies["django_language"] = "es"
    from django.conf import settings

    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "es"
    people["analyst"].language = "es"
    people["analyst"].save(update_fields=["language"])
    page_es = html(client.get(reverse("analytics_data_sync", args=[brand.pk]), HTTP_ACCEPT_LANGUAGE="es"))
    assert "Me gusta" in page_es
