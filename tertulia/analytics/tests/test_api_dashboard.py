"""The dashboard API: figures per brand and across brands, chart data, best time — with
tokens, other brands' ids, bad periods and markup in user text."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from django.utils import timezone

from tertulia.core import services as core_services
from tertulia.core.services import Ctx
from tertulia.core.tests.web_helpers import XSS
from tertulia.networks.services import do_add_account
from tertulia.strategy.services import do_create_objective, do_save_kpi

from .test_figures import _post

API = "/api/v1"


def bearer(raw):
    return {"HTTP_AUTHORIZATION": f"Bearer {raw}"}


@pytest.fixture
def world(brand_a, brand_b):
    brand, people = brand_a
    owner = people["owner"]
    acc = do_add_account(Ctx(owner), brand, network="mastodon", handle="@alpha@masto.es")
    now = timezone.now().replace(minute=0, second=0, microsecond=0)
    p1 = _post(owner, brand, acc, XSS, now - timedelta(days=2), reach=200, likes=10, comments=2)  # 6 %
    p2 = _post(owner, brand, acc, "dos", now - timedelta(days=3), reach=1000, likes=10)  # 1 %
    objective = do_create_objective(Ctx(owner), brand, name="O", period_start=date(2000, 1, 1),
                                    period_end=date(2099, 1, 1))
    do_save_kpi(Ctx(owner), objective, metric="engagement_rate_reach", target=3)
    other, other_people = brand_b
    other_acc = do_add_account(Ctx(other_people["owner"]), other, network="bluesky", handle="beta.bsky.social")
    _post(other_people["owner"], other, other_acc, "BETA-ONLY", now - timedelta(days=2), likes=4)
    return {
        "brand": brand, "people": people, "account": acc, "p1": p1, "p2": p2, "other": other,
        "other_account": other_acc,
        "analyst": core_services.do_create_token(Ctx(people["analyst"]), "read", {brand.pk: "read"})[1],
        "client": core_services.do_create_token(Ctx(people["client_reviewer"]), "c", {brand.pk: "read"})[1],
        "stranger": core_services.do_create_token(Ctx(other_people["owner"]), "s", {other.pk: "read"})[1],
    }


def test_brand_dashboard_figures(client, world):
    r = client.get(f"{API}/brands/{world['brand'].pk}/analytics/dashboard?period=7d", **bearer(world["analyst"]))
    assert r.status_code == 200, r.content
    body = r.json()
    assert body["period"]["kind"] == "7d" and body["period"]["time_zone"] == "Europe/Madrid"
    assert body["totals"]["posts"] == 2 and body["totals"]["reach"] == 1200
    assert body["totals"]["engagement_rate"] == pytest.approx(22 / 1200 * 100)
    assert body["totals"]["impressions"] is None  # unknown is null, never 0
    assert [p["target_id"] for p in body["top_posts"]] == [world["p1"].pk, world["p2"].pk]
    assert body["top_posts"][0]["text"] == XSS  # data, returned as is (JSON, not HTML)
    assert body["kpis"][0]["status"] == "fail" and body["kpis"][0]["metric"] == "engagement_rate_reach"
    assert len(body["by_hour"]) == 24 and body["brands"] == []
    assert "reach" in body["engagement_rate_definition"] or "alcance" in body["engagement_rate_definition"]
    assert "BETA-ONLY" not in r.content.decode()


def test_cross_brand_dashboard_only_covers_granted_brands(client, world):
    r = client.get(f"{API}/analytics/dashboard?period=30d", **bearer(world["analyst"]))
    assert r.status_code == 200
    assert r.json()["brand_ids"] == [world["brand"].pk] and "BETA-ONLY" not in r.content.decode()
    r = client.get(f"{API}/analytics/dashboard", **bearer(world["stranger"]))
    assert r.json()["brand_ids"] == [world["other"].pk] and [b["name"] for b in r.json()["brands"]] == ["Beta Brand"]


def test_chart_data(client, world):
    refused = client.get(f"{API}/brands/{world['brand'].pk}/analytics/charts/hours?period=7d",
                         **bearer(world["client"]))
    assert refused.status_code == 403  # a client reviewer has no analytics permission
    r = client.get(f"{API}/brands/{world['brand'].pk}/analytics/charts/hours?period=7d", **bearer(world["analyst"]))
    assert r.status_code == 200
    body = r.json()
    assert body["id"] == "hours" and len(body["rows"]) == 24
    assert body["spec"]["data"]["values"] and "url" not in body["spec"]["data"]
    assert client.get(f"{API}/brands/{world['brand'].pk}/analytics/charts/nope",
                      **bearer(world["analyst"])).status_code == 404
    for chart_id in ("growth", "inbox", "traffic", "sentiment"):
        r = client.get(f"{API}/brands/{world['brand'].pk}/analytics/charts/{chart_id}", **bearer(world["analyst"]))
        assert r.status_code == 200 and r.json()["id"] == chart_id


def test_best_time_grid(client, world):
    url = f"{API}/brands/{world['brand'].pk}/analytics/best-time/{world['account'].pk}"
    r = client.get(url, **bearer(world["analyst"]))
    assert r.status_code == 200
    body = r.json()
    assert len(body["cells"]) == 168 and body["min_samples"] == 3 and body["suggestions"] == []
    assert sum(c["samples"] for c in body["cells"]) == 2 and all(c["score"] is None for c in body["cells"])


@pytest.mark.parametrize("query", ["period=custom&start=2026-02-01&end=2026-01-01", "period=custom",
                                   "period=forever", "period=custom&start=2001-01-01&end=2009-01-01",
                                   "period=custom&start=banana&end=2026-01-01", "period=" + "x" * 3000])
def test_bad_periods_are_422(client, world, query):
    r = client.get(f"{API}/brands/{world['brand'].pk}/analytics/dashboard?{query}", **bearer(world["analyst"]))
    assert r.status_code == 422 and "errors" in r.json()


def test_other_brands_are_404(client, world):
    brand, account = world["brand"], world["account"]
    for path in (f"/brands/{brand.pk}/analytics/dashboard", f"/brands/{brand.pk}/analytics/charts/growth",
                 f"/brands/{brand.pk}/analytics/best-time/{account.pk}"):
        assert client.get(API + path, **bearer(world["stranger"])).status_code == 404
    # My brand with their account: 404 too.
    r = client.get(f"{API}/brands/{brand.pk}/analytics/best-time/{world['other_account'].pk}",
                   **bearer(world["analyst"]))
    assert r.status_code == 404
    assert client.get(f"{API}/brands/{brand.pk}/analytics/dashboard").status_code == 401
