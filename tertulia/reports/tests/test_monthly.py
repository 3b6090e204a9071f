"""The monthly sector and competitor report on a hand-computed fixture: January 2026 in
Europe/Madrid, against December 2025."""

from __future__ import annotations

import json
from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest

from tertulia.analytics.models import ProfileSnapshot
from tertulia.core.services import Ctx
from tertulia.listening import competitors
from tertulia.listening.models import CompetitorPost, CompetitorSnapshot, ListeningQuery, Mention, MentionMatch
from tertulia.networks.services import do_add_account
from tertulia.reports import monthly
from tertulia.reports.blocks import ChartBlock, Facts, Paragraphs, Table, from_json

XSS = "<script>alert(1)</script>"
MADRID = ZoneInfo("Europe/Madrid")
NB = "\u00a0"
pytestmark = pytest.mark.django_db


def _at(*args):
    return datetime(*args, tzinfo=MADRID)


@pytest.fixture
def world(brand_a, brand_b):
    brand, people = brand_a
    ctx = Ctx(people["owner"])
    social = do_add_account(ctx, brand, network="mastodon", handle="@marca@m.example")
    ProfileSnapshot.objects.create(brand=brand, account=social, taken_at=_at(2025, 12, 31, 12), followers=1000)
    ProfileSnapshot.objects.create(brand=brand, account=social, taken_at=_at(2026, 1, 1, 12), followers=1000)
    ProfileSnapshot.objects.create(brand=brand, account=social, taken_at=_at(2026, 1, 30, 12), followers=1100)
    rival = competitors.do_add_competitor(ctx, brand, name=f"Molienda {XSS}", accounts=[("x", "molienda")])
    competitors.do_add_competitor(ctx, brand, name="Sin datos")
    x_acc = rival.accounts.get()
    for day, followers in ((2, 500), (30, 450)):
        CompetitorSnapshot.objects.create(brand=brand, account=x_acc, taken_at=_at(2026, 1, day), followers=followers)
    for ext, when, likes, comments, text in (("a", _at(2026, 1, 3), 5, 5, f"Oferta {XSS}"),
                                             ("b", _at(2026, 1, 10), 20, None, "Receta"),
                                             ("c", _at(2025, 12, 10), 10, 0, "Diciembre")):
        CompetitorPost.objects.create(brand=brand, account=x_acc, external_id=ext, published_at=when, format="text",
                                      likes=likes, comments=comments, text=text, url=f"https://x.example/{ext}")
    ours = ListeningQuery.objects.create(brand=brand, name="Nosotros", kind="brand", text="alpha")
    theirs = ListeningQuery.objects.create(brand=brand, name="Ellos", kind="competitor", text="molienda",
                                           competitor=rival)
    mentions = [  # (query, when, sentiment, text)
        (ours, _at(2026, 1, 5), "negative", "#Tormenta en la tienda"),
        (ours, _at(2026, 1, 6), "negative", "otra #tormenta"),
        (ours, _at(2026, 1, 7), "positive", "gracias #tormenta"),
        (theirs, _at(2026, 1, 8), "neutral", "molienda abre"),
        (ours, _at(2025, 12, 5), "neutral", "hola alpha"),
        (theirs, _at(2025, 12, 6), "neutral", "hola molienda"),
    ]
    for i, (query, when, sentiment, text) in enumerate(mentions):
        m = Mention.objects.create(brand=brand, network="mastodon", external_id=f"m{i}", text=text, created_at=when,
                                   sentiment=sentiment)
        MentionMatch.objects.create(brand=brand, mention=m, query=query, created_at=when, sentiment=sentiment)
    # Another tenant with its own competitor and mentions.
    other, other_people = brand_b
    competitors.do_add_competitor(Ctx(other_people["owner"]), other, name="Secreto S.A.")
    oq = ListeningQuery.objects.create(brand=other, name="Beta", kind="brand", text="beta")
    om = Mention.objects.create(brand=other, network="web", external_id="o1", text="beta secreta #tormenta",
                                created_at=_at(2026, 1, 5))
    MentionMatch.objects.create(brand=other, mention=om, query=oq, created_at=om.created_at)
    return brand


def _section(report, sid):
    return next(s for s in report.sections if s.id == sid)


def test_monthly_report_in_english(world):
    report = monthly.build(world, date(2026, 1, 31), language="en")
    assert report.title == "Sector and competitor report: Alpha Brand, January 2026"
    assert (report.period_start, report.period_end) == (date(2026, 1, 1), date(2026, 1, 31))
    assert (report.compared_start, report.compared_end) == (date(2025, 12, 1), date(2025, 12, 31))
    assert [s.id for s in report.sections] == ["summary", "benchmark", "share_of_voice", "mentions", "rising_terms",
                                               "competitor_posts"]
    table = next(b for b in _section(report, "benchmark").blocks if isinstance(b, Table))
    assert table.rows == [
        ["Alpha Brand", 1100, 100, 10.0, 0, 0.0, None, None],
        [f"Molienda {XSS}", 450, -50, -10.0, 2, round(2 / (31 / 7), 2), 15.0, round(100 * 15 / 450, 3)],
        ["Sin datos", None, None, None, None, None, None, None],  # nothing read: unknown, not 0
    ]
    charts = [b for b in _section(report, "benchmark").blocks if isinstance(b, ChartBlock)]
    assert [c.title for c in charts] == ["Followers over time", "Posts a week"]
    assert all("url" not in json.dumps(c.spec["data"]) for c in charts)  # inline data only

    sov = _section(report, "share_of_voice").blocks[0]
    assert sov.rows == [["Alpha Brand", 3, 75.0, 50.0], [f"Molienda {XSS}", 1, 25.0, 50.0]]
    facts = {f.label: (f.value, f.previous) for f in _section(report, "mentions").blocks[0].items}
    assert facts == {"Mentions": (4, 2), "Negative": (50.0, 0.0), "Neutral": (25.0, 100.0),
                     "Positive": (25.0, 0.0)}
    rising = _section(report, "rising_terms").blocks[0]
    assert rising.rows[0][:2] == ["#tormenta", 3]
    posts = _section(report, "competitor_posts").blocks[0]
    assert [r[3] for r in posts.rows] == ["Receta", f"Oferta {XSS}"]  # plain text, by engagement
    assert [r[4] for r in posts.rows] == [20, 10]
    assert posts.rows[0][2] == "2026-01-10T00:00:00+01:00"  # the brand's time zone

    summary = _section(report, "summary").blocks[0].items
    assert f"Followers grew 10.0{NB}% (from 1,000 to 1,100)." in summary
    assert f"Mentions rose 100.0{NB}% (from 2 to 4). Negative: 50.0{NB}%." in summary
    assert f"Share of voice rose from 50.0{NB}% to 75.0{NB}%." in summary
    assert "Publications: 0 (previous period: 0)." in summary
    assert any(s.startswith(f"Molienda {XSS} lost 50 followers") for s in summary)
    text = json.dumps(report.to_json())
    assert "Secreto" not in text and "secreta" not in text
    assert from_json(report.to_json()) == report


def test_monthly_report_in_spanish_escaped_when_rendered(world):
    report = monthly.build(world, date(2026, 1, 31))
    assert report.language == "es"
    assert report.title == "Informe del sector y la competencia: Alpha Brand, enero 2026"
    summary = _section(report, "summary").blocks[0].items
    assert f"Los seguidores crecieron un 10,0{NB}% (de 1{NB}000 a 1{NB}100)." in summary
    assert f"Cuota de voz: subió de 50,0{NB}% a 75,0{NB}%." in summary
    from tertulia.reports.render import render_html

    html = render_html(report, world)
    assert "Molienda &lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "Oferta &lt;script&gt;" in html and "<script>alert(1)" not in html


def test_no_competitors_and_no_mentions_is_said_not_zeroed(brand_a):
    brand, _people = brand_a
    report = monthly.build(brand, date(2026, 1, 15), language="en")
    assert report.period_end == date(2026, 1, 15)
    bench = _section(report, "benchmark").blocks
    assert isinstance(bench[0], Paragraphs) and "No competitors are tracked yet" in bench[0].items[0]
    assert bench[1].rows == [["Alpha Brand", None, None, None, 0, 0.0, None, None]]
    sov = _section(report, "share_of_voice").blocks
    assert isinstance(sov[0], Paragraphs)
    facts = {f.label: f.value for f in _section(report, "mentions").blocks[0].items}
    assert facts == {"Mentions": 0, "Negative": None, "Neutral": None, "Positive": None}
    assert "competitor_posts" not in [s.id for s in report.sections]
    assert all(isinstance(b, (Paragraphs, Table, Facts, ChartBlock)) for s in report.sections for b in s.blocks)
