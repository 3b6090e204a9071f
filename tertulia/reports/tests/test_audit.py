"""The quarterly audit on a hand-computed fixture: Q3 2026 (1 July – 30 September, 92 days,
14 weeks) in Europe/Madrid, against Q2."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta

import pytest

from tertulia.analytics import services
from tertulia.analytics.models import MetricsSync
from tertulia.content.approvals import do_mark_approved
from tertulia.content.services import do_create_post
from tertulia.core.services import Ctx
from tertulia.networks.services import do_add_account
from tertulia.publishing.services import mark_published
from tertulia.reports import audit
from tertulia.reports.blocks import Checklist, Facts, Paragraphs, from_json
from tertulia.reports.tests.test_audit_rules import ImageServer, png
from tertulia.strategy.services import do_create_objective, do_save_kpi

XSS = "<script>alert(1)</script>"
NB = "\u00a0"


def _utc(*args):
    return datetime(*args, tzinfo=UTC)


def _post(owner, account, text, published_at, **metrics):
    ctx = Ctx(owner)
    post = do_create_post(ctx, account.brand, text=text, accounts=[account])
    do_mark_approved(ctx, post)
    target = post.targets.get()
    mark_published(target, external_id=f"x{post.pk}", published_at=published_at)
    target.refresh_from_db()
    if metrics:
        services.record_post_metrics([services.PostMetrics(target=target, taken_at=_utc(2026, 10, 1), **metrics)])
    return target


@pytest.fixture
def images():
    s = ImageServer()
    s.routes.update({"/a.png": (200, png(400, 400)), "/h.png": (200, png(1500, 400))})
    yield s
    s.stop()


@pytest.fixture
def world(brand_a, brand_b, images, monkeypatch):
    monkeypatch.setattr(audit, "ALLOW_LOOPBACK", True)
    brand, people = brand_a
    owner = people["owner"]
    ctx = Ctx(owner)
    masto = do_add_account(ctx, brand, network="mastodon", handle="@marca@masto.es")
    bsky = do_add_account(ctx, brand, network="bluesky", handle="marca.bsky.social")
    insta = do_add_account(ctx, brand, network="instagram", handle="@marca")
    MetricsSync.objects.create(account=masto, profile={
        "display_name": "Marca " + XSS, "bio": XSS + " Hola", "url": "https://marca.example",
        "avatar_url": images.url("/a.png"), "cover_url": images.url("/h.png"), "read_at": "2026-09-29T10:00:00Z"})
    MetricsSync.objects.create(account=insta, profile={"display_name": "", "bio": "", "url": "", "avatar_url": "",
                                                       "read_at": "2026-09-29T10:00:00Z"})
    # Mastodon: one post a week, every week (14), the last on 30 September; two with metrics.
    for k in range(14):
        metrics = {}
        if k == 0:
            metrics = {"reach": 1000, "likes": 40, "comments": 10}
        elif k == 1:
            metrics = {"reach": 1000, "likes": 20, "comments": 10}
        _post(owner, masto, f"Semana {k}", _utc(2026, 7, 1, 10) + timedelta(days=7 * k), **metrics)
    _post(owner, masto, "Q2", _utc(2026, 4, 10, 10), reach=1000, likes=50)  # previous quarter: 5.0 %
    _post(owner, masto, "Q1", _utc(2026, 2, 10, 10), reach=1000, likes=60)  # Q1: 6.0 %, so Q3 is the year's lowest
    # Instagram: one post on 21 August, 40 days before the end of the quarter.
    _post(owner, insta, "Verano", _utc(2026, 8, 21, 10))
    services.record_profile_snapshots(masto, [
        services.ProfileSample(_utc(2026, 3, 15), followers=950),
        services.ProfileSample(_utc(2026, 6, 30, 12), followers=1000),
        services.ProfileSample(_utc(2026, 9, 29, 12), followers=1100),
    ])
    objective = do_create_objective(ctx, brand, name="Q3", period_start=date(2026, 7, 1), period_end=date(2026, 9, 30))
    do_save_kpi(ctx, objective, metric="follower_growth", target=5)
    do_save_kpi(ctx, objective, metric="ctr", target=1)
    # Another tenant, busy: must not show up anywhere in brand A's audit.
    other, other_people = brand_b
    theirs = do_add_account(Ctx(other_people["owner"]), other, network="mastodon", handle="@secreto@otro.es")
    for k in range(5):
        _post(other_people["owner"], theirs, "Ajeno", _utc(2026, 8, 1, 10) + timedelta(days=k), reach=10, likes=9)
    return brand, {"masto": masto, "bsky": bsky, "insta": insta}


def _checks(report, account):
    section = next(s for s in report.sections if s.id == f"account_{account.pk}")
    checklist = next(b for b in section.blocks if isinstance(b, Checklist))
    return {i.label: (i.status, i.detail) for i in checklist.items}, section


@pytest.mark.django_db
def test_quarterly_audit_in_english(world, images):
    brand, acc = world
    report = audit.build(brand, date(2026, 9, 30), language="en")
    assert (report.kind, report.period_start, report.period_end) == ("quarterly", date(2026, 7, 1), date(2026, 9, 30))
    assert (report.compared_start, report.compared_end) == (date(2026, 4, 1), date(2026, 6, 30))
    assert report.title == "Quarterly audit: Alpha Brand, Q3 2026"

    masto, section = _checks(report, acc["masto"])
    assert section.title == "Mastodon · @marca@masto.es"
    assert masto == {
        "Connection": ("ok", "Connected."),
        "Display name": ("ok", "Marca " + XSS),  # plain text in the data
        "Bio": ("ok", f"30 characters: “{XSS} Hola”"),  # plain text in the data
        "Link": ("ok", "https://marca.example"),
        "Profile picture": ("ok", "400×400 px (recommended: 400×400 px)."),
        "Cover image": ("warn", "1500×400 px; recommended: 1500×500 px."),
        "Posting frequency": ("warn", "1.1 a week (14 in 92 days); guidance: 4 a week."),
        "Weekly presence": ("ok", "Published in 14 of 14 weeks."),
        "Activity": ("ok", "Last publication 0 days before the end of the period."),
        "Community growth": ("ok", f"10.0{NB}% (previous quarter: 5.3{NB}%)."),
        "Engagement rate by reach": ("warn", f"4.0{NB}% (previous quarter: 5.0{NB}%)."),
    }
    facts = {f.label: (f.value, f.previous) for f in next(b for b in section.blocks if isinstance(b, Facts)).items}
    assert facts["Followers"] == (1100, 1000)
    assert facts["Publications"] == (14, 1)
    assert facts["Reach"] == (2000, 1000)
    assert facts["Engagement rate by reach"] == (pytest.approx(4.0), pytest.approx(5.0))

    bsky, _s = _checks(report, acc["bsky"])
    assert bsky["Profile"][0] == "unknown"
    assert bsky["Posting frequency"][0] == "fail"
    assert bsky["Weekly presence"] == ("fail", "Published in 0 of 14 weeks.")
    assert bsky["Activity"] == ("fail", "Abandoned: nothing has ever been published.")
    assert bsky["Community growth"] == ("unknown", "Not measured in this quarter.")

    insta, _s = _checks(report, acc["insta"])
    assert insta["Bio"][0] == "fail" and insta["Link"][0] == "warn" and insta["Display name"][0] == "warn"
    assert insta["Profile picture"] == ("fail", "Missing. Recommended: 320×320 px.")
    assert "Cover image" not in insta
    assert insta["Weekly presence"] == ("warn", "Published in 1 of 14 weeks.")
    assert insta["Activity"] == ("fail", "Abandoned: nothing published for 40 days.")
    assert insta["Engagement rate by reach"][0] == "unknown"  # no metrics: unknown, not 0

    review = next(s for s in report.sections if s.id == "kpi_review")
    items = {i.label: (i.status, i.detail) for i in review.blocks[0].items}
    assert items["Community growth (%) — Q3"] == ("ok", "On target: keep it.")  # 0 %, 0 %, 10 %: 10 % ≥ 5 %
    assert items["Click-through rate (%) — Q3"] == ("unknown", "Never measured: connect the source or drop the KPI.")
    assert items["No KPI for engagement"][0] == "warn"
    assert items["No KPI for responsiveness in the inbox"][0] == "warn"
    assert "No KPI for community growth" not in items
    table = review.blocks[1]
    assert table.columns[3:6] == ["Jul", "Aug", "Sep"]
    growth_row = next(r for r in table.rows if r[1] == "Community growth (%)")
    assert growth_row[3:6] == [0.0, 0.0, pytest.approx(10.0)]
    ctr_row = next(r for r in table.rows if r[1] == "Click-through rate (%)")
    assert ctr_row[3:7] == [None, None, None, None]

    summary = report.sections[0].blocks[0]
    assert isinstance(summary, Paragraphs)
    assert summary.items == [
        "KPIs on target: 1 of 2.",
        "Not measured: Click-through rate.",
        "Nothing has ever been published on Bluesky (marca.bsky.social).",
        "Nothing was published on Instagram (@marca) for 40 days.",
        "Profile checks: 10 passed, 6 with warnings, 7 failed, 5 could not be checked.",
        f"Followers grew 10.0{NB}% (from 1,000 to 1,100).",
        f"Engagement rate by reach fell from 5.0{NB}% to 4.0{NB}%. It was the lowest quarter of the year.",
        "The inbox received no conversations.",
        f"Reach rose 100.0{NB}% (from 1,000 to 2,000).",
        f"Publications rose 1,400.0{NB}% (from 1 to 15).",
        f"The best post, on Mastodon, reached an engagement rate of 5.0{NB}%.",
    ]
    top = next(s for s in report.sections if s.id == "top_posts").blocks[0]
    assert [(r[3], r[5]) for r in top.rows] == [("Semana 0", pytest.approx(5.0)), ("Semana 1", pytest.approx(3.0))]
    # Each image was fetched once, and nothing of the other tenant is in the report.
    assert sorted(images.requests) == ["/a.png", "/h.png"]
    text = json.dumps(report.to_json())
    assert "secreto" not in text and "Ajeno" not in text
    assert from_json(report.to_json()) == report


@pytest.mark.django_db
def test_quarterly_audit_in_spanish_and_hostile_profile_text_escaped(world):
    brand, acc = world
    report = audit.build(brand, date(2026, 9, 30))  # the brand's language: Spanish
    assert report.language == "es" and report.title == "Auditoría trimestral: Alpha Brand, T3 2026"
    masto, _s = _checks(report, acc["masto"])
    assert masto["Frecuencia de publicación"] == (
        "warn", "1,1 por semana (14 en 92 días); recomendación: 4 por semana.")
    assert masto["Imagen de portada"] == ("warn", "1500×400 px; recomendado: 1500×500 px.")
    summary = report.sections[0].blocks[0].items
    assert "No se publicó nada en Instagram (@marca) durante 40 días." in summary
    assert f"Los seguidores crecieron un 10,0{NB}% (de 1{NB}000 a 1{NB}100)." in summary
    # Market analysis reuses the competitor blocks: no competitors yet, said so.
    market = next(s for s in report.sections if s.id == "market")
    assert market.title == "Análisis trimestral de mercado"
    assert "Aún no se sigue a ningún competidor" in market.blocks[0].items[0]
    # The rendered report escapes the profile text it shows.
    from tertulia.reports.render import render_html

    html = render_html(report, brand)
    assert "Marca &lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt; Hola" in html
    assert "<script>alert(1)" not in html
