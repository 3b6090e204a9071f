"""The year in figures on a hand-computed fixture: 2026 to the end of March (Europe/Madrid),
against 2025."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from tertulia.analytics import services
from tertulia.content.approvals import do_mark_approved
from tertulia.content.models import Campaign
from tertulia.content.services import do_create_post
from tertulia.core.services import Ctx
from tertulia.networks.services import do_add_account
from tertulia.publishing.services import mark_published
from tertulia.reports import yearly
from tertulia.reports.blocks import Paragraphs, from_json
from tertulia.strategy.services import do_create_objective, do_save_kpi

NB = "\u00a0"
XSS = "<script>alert(1)</script>"
pytestmark = pytest.mark.django_db


def _utc(*args):
    return datetime(*args, tzinfo=UTC)


def _post(owner, account, text, published_at, **metrics):
    ctx = Ctx(owner)
    post = do_create_post(ctx, account.brand, text=text, accounts=[account])
    do_mark_approved(ctx, post)
    target = post.targets.get()
    mark_published(target, external_id=f"x{post.pk}", published_at=published_at)
    target.refresh_from_db()
    services.record_post_metrics([services.PostMetrics(target=target, taken_at=_utc(2026, 4, 1), **metrics)])


@pytest.fixture
def world(brand_a, brand_b):
    brand, people = brand_a
    owner = people["owner"]
    ctx = Ctx(owner)
    masto = do_add_account(ctx, brand, network="mastodon", handle="@marca@m.example")
    _post(owner, masto, "Enero", _utc(2026, 1, 10, 10), reach=3000, likes=60)  # 2.0 %
    _post(owner, masto, f"Febrero {XSS}", _utc(2026, 2, 10, 10), reach=2000, likes=100)  # 5.0 %
    _post(owner, masto, "Marzo", _utc(2026, 3, 10, 10), reach=500, likes=10)  # 2.0 %
    _post(owner, masto, "2025", _utc(2025, 6, 10, 10), reach=100, likes=1)  # last year: 1.0 %
    services.record_profile_snapshots(masto, [
        services.ProfileSample(_utc(2025, 12, 31, 12), followers=900),
        services.ProfileSample(_utc(2026, 1, 31, 12), followers=950),
        services.ProfileSample(_utc(2026, 3, 30, 12), followers=1000),
    ])
    objective = do_create_objective(ctx, brand, name="Año 2026", period_start=date(2026, 1, 1),
                                    period_end=date(2026, 12, 31))
    do_save_kpi(ctx, objective, metric="engagement_rate_reach", target=3)
    Campaign.objects.create(brand=brand, name="Rebajas", starts_on=date(2026, 1, 7), ends_on=date(2026, 2, 28),
                            cost=Decimal("100.00"), value=Decimal("250.00"))
    Campaign.objects.create(brand=brand, name="Sin valor", starts_on=date(2026, 3, 1), cost=Decimal("50.00"))
    other, other_people = brand_b
    theirs = do_add_account(Ctx(other_people["owner"]), other, network="mastodon", handle="@secreto@o.example")
    _post(other_people["owner"], theirs, "Ajeno", _utc(2026, 2, 1, 10), reach=10, likes=9)
    return brand


def _section(report, sid):
    return next(s for s in report.sections if s.id == sid)


def test_the_year_in_english(world):
    report = yearly.build(world, date(2026, 3, 31), language="en")
    assert report.title == "The year in figures: Alpha Brand, 2026"
    assert (report.period_start, report.period_end) == (date(2026, 1, 1), date(2026, 3, 31))
    assert (report.compared_start, report.compared_end) == (date(2025, 1, 1), date(2025, 12, 31))
    months = _section(report, "months")
    assert months.blocks[0].items == ["Best month by engagement rate: February.", "Best month by reach: January."]
    table = months.blocks[1]
    assert table.rows == [["January", 1, 3000, pytest.approx(2.0), 50], ["February", 1, 2000, pytest.approx(5.0), 0],
                          ["March", 1, 500, pytest.approx(2.0), 50]]
    growth = _section(report, "growth").blocks[0]
    assert growth.rows == [["Mastodon", 1, 900, 1000, 100, pytest.approx(100 / 9)]]
    top = _section(report, "top_posts").blocks[0]
    assert [r[3] for r in top.rows] == [f"Febrero {XSS}", "Enero", "Marzo"]  # ties by reach
    kpis = _section(report, "kpis").blocks[0]
    assert kpis.rows == [["Año 2026", "Engagement rate by reach (%)", 3.0, pytest.approx(170 / 5500 * 100),
                          pytest.approx(1.0), "On target"]]
    campaigns = _section(report, "campaigns").blocks
    assert campaigns[0].rows == [["Sin valor", 50.0, None, None, None], ["Rebajas", 100.0, 250.0, None, 150.0]]
    assert campaigns[1].items[0].value == pytest.approx(150.0)  # only campaigns with cost and value
    inbox = {f.label: f.value for f in _section(report, "inbox").blocks[0].items}
    assert inbox["Conversations received"] == 0 and inbox["Response rate"] is None  # unknown, not 0
    summary = _section(report, "summary").blocks[0].items
    assert summary[0] == "KPIs on target: 1 of 1."
    assert f"Followers grew 11.1{NB}% (from 900 to 1,000)." in summary
    assert f"Engagement rate by reach rose from 1.0{NB}% to 3.1{NB}%." in summary
    assert f"The best post, on Mastodon, reached an engagement rate of 5.0{NB}%." in summary
    assert f"Best campaign: Rebajas, with a return on investment of 150.0{NB}%." in summary
    text = json.dumps(report.to_json())  # plain JSON (no Decimal), nothing of the other tenant
    assert "secreto" not in text and "Ajeno" not in text
    assert from_json(report.to_json()) == report


def test_the_year_in_spanish(world):
    report = yearly.build(world, date(2026, 3, 31))
    assert report.language == "es" and report.title == "El año en cifras: Alpha Brand, 2026"
    assert _section(report, "months").blocks[0].items == ["Mejor mes por tasa de interacción: febrero.",
                                                          "Mejor mes por alcance: enero."]
    summary = _section(report, "summary").blocks[0].items
    assert f"Los seguidores crecieron un 11,1{NB}% (de 900 a 1{NB}000)." in summary


def test_an_empty_year_says_so(brand_a):
    brand, _people = brand_a
    report = yearly.build(brand, date(2026, 12, 31), language="en")
    assert len(_section(report, "months").blocks[0].rows) == 12
    assert all(r[1] == 0 and r[2] is None and r[3] is None for r in _section(report, "months").blocks[0].rows)
    assert isinstance(_section(report, "top_posts").blocks[0], Paragraphs)
    assert isinstance(_section(report, "campaigns").blocks[0], Paragraphs)
    overview = {f.label: f.value for f in _section(report, "overview").blocks[0].items}
    assert overview["Followers"] is None and overview["Reach"] is None and overview["Publications"] == 0
    # Only the known zeros are said; unknown followers, reach, engagement and web visits are not.
    assert _section(report, "summary").blocks[0].items == [
        "The inbox received no conversations.", "Publications: 0 (previous period: 0)."]
