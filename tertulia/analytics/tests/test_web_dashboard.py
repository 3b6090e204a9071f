"""The analytics pages: the brand dashboard, the cross-brand one, chart SVG and CSV endpoints,
best time to post. Hostile input: periods, chart ids, other brands' ids, script in user text."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from tertulia.core.services import Ctx
from tertulia.core.tests.web_helpers import XSS, XSS_ESCAPED, assert_escaped, html
from tertulia.networks.services import do_add_account
from tertulia.strategy.services import do_create_objective, do_save_kpi, do_save_pillar

from .test_figures import _post


@pytest.fixture
def site(brand_a, brand_b, client):
    brand, people = brand_a
    owner = people["owner"]
    ctx = Ctx(owner)
    acc = do_add_account(ctx, brand, network="mastodon", handle="@alpha@masto.es")
    pillar = do_save_pillar(ctx, brand, name=XSS, target_share=10)
    now = timezone.now().replace(minute=0, second=0, microsecond=0)
    posts = [_post(owner, brand, acc, f"{XSS} número {i}", now - timedelta(days=1 + 7 * i), pillar=pillar,
                   reach=1000 + i, likes=10 * (i + 1), comments=1) for i in range(3)]
    objective = do_create_objective(ctx, brand, name="Crecer", period_start=date(2000, 1, 1),
                                    period_end=date(2099, 12, 31))
    do_save_kpi(ctx, objective, metric="engagement_rate_reach", target=2)
    do_save_kpi(ctx, objective, metric="response_rate", target=90)
    other, other_people = brand_b
    other_acc = do_add_account(Ctx(other_people["owner"]), other, network="mastodon", handle="@beta@masto.es")
    _post(other_people["owner"], other, other_acc, "SECRET-BETA-POST", now - timedelta(days=2), reach=10, likes=1)
    return {"brand": brand, "people": people, "account": acc, "posts": posts, "other": other,
            "other_people": other_people, "other_account": other_acc}


def test_dashboard_shows_figures_escaped_with_unknowns_as_dashes(site, client):
    client.force_login(site["people"]["owner"])
    r = client.get(reverse("section_analytics", args=[site["brand"].pk]) + "?period=30d")
    assert r.status_code == 200
    page = html(r)
    assert_escaped(page)
    assert "SECRET-BETA-POST" not in page
    assert "Engagement rate by reach" in page or "Tasa de interacción" in page  # the definition is named
    assert 'class="light light-ok"' in page  # ER ≥ 2 %: on target
    assert 'class="light light-unknown"' in page  # no inbox: response rate unknown, grey
    assert "—" in page  # unknown figures are dashes, never 0
    for chart_id in ("pillars", "hours", "engagement_network"):
        assert reverse(f"analytics_chart_{chart_id}", args=[site["brand"].pk]) + "?period=30d" in page
    assert "analytics/dashboard.js" in page and "onclick" not in page


def test_chart_svg_escapes_pillar_names_and_uses_the_language(site, client):
    user = site["people"]["owner"]
    user.language = "es"
    user.save()
    client.force_login(user)
    r = client.get(reverse("analytics_chart_pillars", args=[site["brand"].pk]) + "?period=90d")
    assert r.status_code == 200
    page = html(r)
    assert "<svg" in page and XSS_ESCAPED in page and "<script>" not in page
    assert "1,10" in page or "2,00" in page  # Spanish decimals in the labels


def test_chart_csv_is_formula_safe(site, client):
    from tertulia.strategy.models import ContentPillar

    ContentPillar.objects.filter(brand=site["brand"]).update(name="=HYPERLINK(\"http://x\")")
    client.force_login(site["people"]["analyst"])
    r = client.get(reverse("analytics_chart_pillars_csv", args=[site["brand"].pk]) + "?period=90d")
    assert r.status_code == 200 and r["Content-Type"].startswith("text/csv")
    body = r.content.decode("utf-8-sig")
    assert "\r\n\"'=HYPERLINK" in body
    assert "attachment" in r["Content-Disposition"]


@pytest.mark.parametrize("query", [
    "period=custom&start=2026-03-10&end=2026-03-01",  # reversed
    "period=custom&start=2020-01-01&end=2026-01-01",  # too long
    "period=custom&start=not-a-date&end=2026-01-01",
    "period=custom",  # no dates
    "period=decade",  # not a choice
    "period=custom&start=1900-01-01&end=1900-01-02",
    "period=" + "9" * 5000,
])
def test_bad_periods_are_refused_with_a_message(site, client, query):
    client.force_login(site["people"]["owner"])
    r = client.get(reverse("section_analytics", args=[site["brand"].pk]) + "?" + query)
    assert r.status_code == 400
    assert 'role="alert"' in html(r)


def test_custom_period(site, client):
    client.force_login(site["people"]["owner"])
    today = timezone.now().date()
    r = client.get(reverse("section_analytics", args=[site["brand"].pk]),
                   {"period": "custom", "start": (today - timedelta(days=3)).isoformat(), "end": today.isoformat()})
    assert r.status_code == 200
    assert "número 0" in html(r) and "número 2" not in html(r)


def test_unknown_chart_is_404_and_pages_only_read(site, client):
    client.force_login(site["people"]["owner"])
    base = reverse("section_analytics", args=[site["brand"].pk])
    assert client.get(base + "charts/nope/").status_code == 404
    assert client.get(base + "charts/nope/csv/").status_code == 404
    assert client.post(base, {"period": "7d"}).status_code == 405
    bad = client.get(base + "charts/hours/csv/?period=custom&start=2026-02-01&end=2026-01-01")
    assert bad.status_code == 400 and b"before" in bad.content


def test_other_brands_are_404_and_roles(site, client):
    brand = site["brand"]
    client.force_login(site["other_people"]["community_manager"])
    for url in (reverse("section_analytics", args=[brand.pk]),
                reverse("analytics_chart_growth", args=[brand.pk]),
                reverse("analytics_chart_hours_csv", args=[brand.pk]),
                reverse("analytics_best_time", args=[brand.pk]),
                reverse("analytics_best_time_account", args=[brand.pk, site["account"].pk])):
        assert client.get(url).status_code == 404
    # Brand B's account through brand B's own page is fine; through A's page it is a 404.
    client.force_login(site["people"]["owner"])
    assert client.get(reverse("analytics_best_time_account",
                              args=[brand.pk, site["other_account"].pk])).status_code == 404
    # Dashboards need the analytics permission (analysts and up): a client reviewer of the brand
    # is refused (its figures include campaign spend and the inbox); strangers go to sign in.
    client.force_login(site["people"]["client_reviewer"])
    assert client.get(reverse("section_analytics", args=[brand.pk])).status_code == 403
    client.logout()
    assert client.get(reverse("section_analytics", args=[brand.pk])).status_code == 302


def test_cross_brand_overview(site, client, tenant):
    owner = site["people"]["owner"]
    client.force_login(owner)
    r = client.get(reverse("analytics_overview") + "?period=30d")
    page = html(r)
    assert r.status_code == 200 and "Alpha Brand" in page and "Beta Brand" not in page
    # A member of both brands sees both, side by side.
    from tertulia.core.services import do_add_member

    do_add_member(Ctx(site["other_people"]["owner"]), site["other"], owner, "analyst")
    page = html(client.get(reverse("analytics_overview") + "?period=30d"))
    assert "Alpha Brand" in page and "Beta Brand" in page and 'class="compare"' in page
    csv = client.get(reverse("analytics_overview_chart_engagement_network_csv") + "?period=30d")
    assert csv.status_code == 200 and "Mastodon" in csv.content.decode("utf-8-sig")


def test_best_time_page_shows_the_heatmap_and_sample_sizes(site, client):
    client.force_login(site["people"]["analyst"])
    r = client.get(reverse("analytics_best_time_account", args=[site["brand"].pk, site["account"].pk]))
    assert r.status_code == 200
    page = html(r)
    assert "<svg" in page and "<script>" not in page
    assert "@alpha@masto.es" in page
    csv = client.get(reverse("analytics_best_time_csv", args=[site["brand"].pk, site["account"].pk]))
    assert csv.status_code == 200 and len(csv.content.decode("utf-8-sig").splitlines()) == 1 + 7 * 24


def test_dashboard_query_budget_and_all_brands_link(site, client, django_assert_max_num_queries):
    """The page's figures come from a bounded number of queries (current and previous period
    read together), and "All my brands" shows only to someone with analytics on several brands."""
    owner = site["people"]["owner"]
    client.force_login(owner)
    url = reverse("section_analytics", args=[site["brand"].pk]) + "?period=30d"
    overview = reverse("analytics_overview")
    client.get(url)
    with django_assert_max_num_queries(30):
        page = html(client.get(url))
    assert f'href="{overview}"' not in page
    from tertulia.core.services import do_add_member

    do_add_member(Ctx(site["other_people"]["owner"]), site["other"], owner, "client_reviewer")  # no analytics there
    assert f'href="{overview}"' not in html(client.get(url))
    do_add_member(Ctx(site["other_people"]["owner"]), site["other"], site["people"]["analyst"], "analyst")
    client.force_login(site["people"]["analyst"])
    assert f'href="{overview}"' in html(client.get(url))
