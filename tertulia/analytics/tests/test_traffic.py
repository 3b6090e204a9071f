"""Web traffic import (GA4, Matomo, Plausible) and traffic.social_visits on hand-made exports."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import translation

from tertulia.analytics import traffic
from tertulia.analytics.models import WebTraffic
from tertulia.content.services import Click, do_create_short_link, record_link_clicks
from tertulia.core.models import AuditEvent
from tertulia.core.services import Ctx


@pytest.fixture(autouse=True)
def english():
    """Messages are checked in English (the default language of the project is Spanish)."""
    with translation.override("en"):
        yield

pytestmark = pytest.mark.django_db

GA4 = (
    "# ----------------------------------------\n"
    "# Traffic acquisition: Session source / medium\n"
    "# Start date: 20250301\n"
    "# End date: 20250302\n"
    "# ----------------------------------------\n"
    "\n"
    "Date,Session source / medium,Session campaign,Sessions,Total users,Views,Key events,Total revenue\n"
    "20250301,facebook.com / referral,primavera,\"1,200\",900,\"2,500\",12,\"1,234.50\"\n"
    "20250301,google / organic,(not set),3000,2500,7000,30,0\n"
    "20250302,t.co / referral,primavera,40,35,60,1,10\n"
    "20250302,lnkd.in / social,(not set),7,7,9,,\n"
    "2025030X,t.co / referral,primavera,1,1,1,0,0\n"
    "20250302,instagram / social,primavera,many,1,1,0,0\n"
    "20250302,=cmd|' /C calc'!A0 / social,primavera,5,5,5,0,0\n"
)
MATOMO = (
    "date;label;nb_uniq_visitors;nb_visits;nb_pageviews;nb_conversions;revenue\n"
    "2025-03-01;mastodon.social - social;10;12;30;1;5,50\n"
    "2025-03-01;bsky.app - social;4;5;9;0;0\n"
)
PLAUSIBLE = (
    "date,source,utm_source,utm_medium,utm_campaign,visitors,visits,pageviews\n"
    "2025-03-01,Facebook,facebook,social,primavera,20,25,40\n"
    "2025-03-01,Facebook,facebook,social,primavera,2,3,4\n"  # another landing page: added up
    "2025-03-01,Google,google,organic,,100,120,300\n"
    "2025-03-01,Twitter,,,,5,6,7\n"  # no UTM: the referrer source
)


@pytest.fixture
def cm(brand_a):
    brand, people = brand_a
    return Ctx(people["community_manager"], via="test"), brand


def test_ga4_import_keeps_good_rows_reports_bad_ones_and_is_idempotent(cm):
    ctx, brand = cm
    result = traffic.do_import_web_traffic(ctx, brand, GA4.encode())
    assert result.format == "ga4"
    assert (result.stored, result.updated) == (5, 0)
    assert [line for line, _ in result.bad_rows] == [12, 13]
    assert "date" in result.bad_rows[0][1] and "whole number" in result.bad_rows[1][1]
    fb = WebTraffic.objects.get(brand=brand, source="facebook.com")
    assert (fb.day, fb.medium, fb.campaign, fb.sessions, fb.users, fb.pageviews, fb.conversions, fb.revenue) == (
        date(2025, 3, 1), "referral", "primavera", 1200, 900, 2500, 12, Decimal("1234.50"))
    lnkd = WebTraffic.objects.get(brand=brand, source="lnkd.in")
    assert (lnkd.conversions, lnkd.revenue) == (None, None)  # missing, not 0
    # A formula in a source name is kept as text.
    assert WebTraffic.objects.filter(brand=brand, source="=cmd|' /c calc'!a0").exists()

    again = traffic.do_import_web_traffic(ctx, brand, GA4.encode())
    assert (again.stored, again.updated, again.unchanged) == (0, 0, 5)
    assert WebTraffic.objects.filter(brand=brand).count() == 5

    changed = GA4.replace('"1,200"', "1300")
    assert traffic.do_import_web_traffic(ctx, brand, changed.encode()).updated == 1
    assert WebTraffic.objects.get(brand=brand, source="facebook.com").sessions == 1300
    assert AuditEvent.objects.filter(action="web_traffic.import", brand=brand).count() == 3


def test_matomo_and_plausible_exports(cm):
    ctx, brand = cm
    m = traffic.do_import_web_traffic(ctx, brand, MATOMO.encode("latin-1"))
    assert (m.format, m.stored, m.bad_rows) == ("matomo", 2, [])
    row = WebTraffic.objects.get(brand=brand, origin="matomo", source="mastodon.social")
    assert (row.medium, row.sessions, row.users, row.pageviews, row.conversions, row.revenue) == (
        "social", 12, 10, 30, 1, Decimal("5.50"))
    p = traffic.do_import_web_traffic(ctx, brand, ("\ufeff" + PLAUSIBLE).encode())
    assert (p.format, p.stored) == ("plausible", 3)
    assert WebTraffic.objects.get(brand=brand, origin="plausible", source="twitter").sessions == 6
    fb = WebTraffic.objects.get(brand=brand, origin="plausible", source="facebook")
    assert (fb.campaign, fb.sessions, fb.users, fb.pageviews) == ("primavera", 28, 22, 44)


def test_whole_file_problems_and_permissions(cm, brand_a):
    ctx, brand = cm
    with pytest.raises(ValidationError):
        traffic.do_import_web_traffic(ctx, brand, b"\x00\x01PK\x03\x04 garbage")
    with pytest.raises(ValidationError):
        traffic.do_import_web_traffic(ctx, brand, b"name,amount\nx,1\n")
    with pytest.raises(ValidationError, match="date"):
        traffic.do_import_web_traffic(ctx, brand, b"Session source / medium,Sessions\nt.co / referral,4\n")
    analyst = Ctx(brand_a[1]["analyst"], via="test")
    with pytest.raises(PermissionDenied):
        traffic.do_import_web_traffic(analyst, brand, GA4.encode())
    assert not WebTraffic.objects.exists()


def test_social_visits_counts_clicks_and_social_sessions_only(cm, brand_b):
    ctx, brand = cm
    start, end = datetime(2025, 3, 1, tzinfo=UTC), datetime(2025, 3, 3, tzinfo=UTC)
    # Before any import: sessions unknown, clicks known.
    link = do_create_short_link(ctx, brand, target_url="https://example.com/a", utm_source="mastodon")
    record_link_clicks(link, [Click(start + timedelta(hours=h)) for h in (1, 2, 30)] + [Click(end)])
    before = traffic.social_visits([brand.pk], start, end)
    assert (before.short_link_clicks, before.sessions, before.conversions) == (3, None, None)
    assert before.by_day == [(date(2025, 3, 1), 2, None), (date(2025, 3, 2), 1, None)]

    traffic.do_import_web_traffic(ctx, brand, GA4.encode())
    traffic.do_import_web_traffic(ctx, brand, MATOMO.encode())
    f = traffic.social_visits([brand.pk], start, end)
    # Social: facebook.com 1200, t.co 40, lnkd.in 7, the "=cmd" row (medium social) 5, Matomo 12 + 5;
    # google / organic is not.
    assert f.sessions == 1200 + 40 + 7 + 5 + 12 + 5
    assert f.conversions == 12 + 1 + 0 + 1 + 0
    assert f.by_day == [(date(2025, 3, 1), 2, 1200 + 12 + 5), (date(2025, 3, 2), 1, 40 + 7 + 5)]
    sources = {s: (c, n) for s, c, n in f.by_source}
    assert sources["facebook.com"] == (0, 1200) and sources["mastodon"] == (3, 0)
    assert "google" not in sources
    # Another brand sees nothing of this; nothing imported there: unknown sessions.
    other = traffic.social_visits([brand_b[0].pk], start, end)
    assert (other.short_link_clicks, other.sessions) == (0, None)
    # Imported, but no social rows in range: zero, not unknown.
    # A period no import covers is unknown, not 0 visits (another period was imported).
    assert traffic.social_visits([brand.pk], end + timedelta(days=30), end + timedelta(days=31)).sessions is None


def test_days_in_the_brands_time_zone(cm):
    from zoneinfo import ZoneInfo

    ctx, brand = cm
    link = do_create_short_link(ctx, brand, target_url="https://example.com/a", utm_source="bsky.app")
    # 23:30 UTC on 28 February is 00:30 on 1 March in Madrid.
    record_link_clicks(link, [Click(datetime(2025, 2, 28, 23, 30, tzinfo=UTC))])
    WebTraffic.objects.create(brand=brand, origin="ga4", day=date(2025, 2, 28), source="t.co", sessions=50)
    WebTraffic.objects.create(brand=brand, origin="ga4", day=date(2025, 3, 1), source="t.co", sessions=7)
    start, end = datetime(2025, 2, 28, 23, tzinfo=UTC), datetime(2025, 3, 1, 23, tzinfo=UTC)  # 1 March, Madrid
    f = traffic.social_visits([brand.pk], start, end, ZoneInfo("Europe/Madrid"))
    assert f.by_day == [(date(2025, 3, 1), 1, 7)]
    assert (f.short_link_clicks, f.sessions) == (1, 7)

