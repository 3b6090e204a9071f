"""The report engine: the weekly builder on a hand-made brand, the archive round trip, the
HTML rendering (every block type, numbers and dates in the report's language, hostile text
escaped) and the registry.

``report_world`` is shared by the other report test files (PDF, e-mail, pages, API)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from django.utils import timezone

from tertulia.analytics import services as analytics
from tertulia.content.approvals import do_mark_approved
from tertulia.content.models import WeekTheme
from tertulia.content.services import do_create_post
from tertulia.core.services import Ctx
from tertulia.core.tests.web_helpers import XSS, XSS_ESCAPED
from tertulia.inbox.models import Author, Conversation, Interaction
from tertulia.listening.models import Mention
from tertulia.networks.services import do_add_account
from tertulia.publishing.models import PostTarget
from tertulia.publishing.services import mark_published
from tertulia.reports import registry, services
from tertulia.reports.blocks import (
    ChartBlock,
    CheckItem,
    Checklist,
    Fact,
    Facts,
    Paragraphs,
    ReportData,
    Section,
    Table,
    from_json,
)
from tertulia.reports.render import render_html
from tertulia.strategy.services import do_create_objective, do_save_kpi

PERIOD_END = date(2026, 3, 29)  # a Sunday; the week 23–29 March 2026 has the DST change (Madrid)
RLO = "\u202e"
LONG = "larga " * 2000  # 12k characters
HOSTILE = f"{XSS} </style> {RLO}gnp.exe {LONG}"


def _utc(*args):
    return datetime(*args, tzinfo=UTC)


def _post(owner, brand, account, text, published_at, **metrics):
    ctx = Ctx(owner)
    post = do_create_post(ctx, brand, text=text, accounts=[account])
    do_mark_approved(ctx, post)
    target = post.targets.get()
    mark_published(target, external_id=f"x{post.pk}", published_at=published_at)
    target.refresh_from_db()
    analytics.record_post_metrics([analytics.PostMetrics(target=target, taken_at=_utc(2026, 4, 2), **metrics)])
    return target


def build_world(brand, owner) -> dict:
    """Two weeks of a small brand with known figures: 3 posts this week (one hostile), 1 the
    week before, follower samples, a KPI, an inbox conversation, mentions, next week's theme
    and a scheduled post."""
    ctx = Ctx(owner)
    masto = do_add_account(ctx, brand, network="mastodon", handle="@alpha@masto.es")
    _post(owner, brand, masto, "Horario de verano", _utc(2026, 3, 24, 8, 30), reach=1000, impressions=2000,
          likes=50, comments=10, shares=5, clicks=20)
    _post(owner, brand, masto, HOSTILE, _utc(2026, 3, 26, 9), reach=400, impressions=1234, likes=2)
    _post(owner, brand, masto, "Tres", _utc(2026, 3, 28, 18), reach=1234, impressions=5000, likes=12)
    _post(owner, brand, masto, "Antes", _utc(2026, 3, 18, 11), reach=100, impressions=300, likes=10)
    analytics.record_profile_snapshots(masto, [
        analytics.ProfileSample(_utc(2026, 3, 15), followers=1000),
        analytics.ProfileSample(_utc(2026, 3, 22, 12), followers=1100),
        analytics.ProfileSample(_utc(2026, 3, 29, 12), followers=1234),
    ])
    objective = do_create_objective(ctx, brand, name="Primavera", period_start=date(2026, 3, 1),
                                    period_end=date(2026, 6, 30))
    do_save_kpi(ctx, objective, metric="engagement_rate_reach", target=5)
    author = Author.objects.create(brand=brand, network="mastodon", external_id="a1", handle="@fan")
    conv = Conversation.objects.create(brand=brand, account=masto, kind=Conversation.Kind.COMMENT, author=author,
                                       root_external_id="r1", last_message_at=_utc(2026, 3, 25),
                                       first_response_at=_utc(2026, 3, 25, 2))
    Interaction.objects.create(brand=brand, conversation=conv, account=masto, external_id="i1", author=author,
                               text="hola", created_at=_utc(2026, 3, 25), direction="in", sentiment="negative")
    Mention.objects.create(brand=brand, network="mastodon", external_id="m1", author_name=f"Periodista {XSS}",
                           author_followers=54321, text=f"Mención {XSS}", created_at=_utc(2026, 3, 27),
                           sentiment="negative")
    Mention.objects.create(brand=brand, network="web", external_id="m2", site="blog.example", text="Otra mención",
                           created_at=_utc(2026, 3, 27, 5), sentiment="positive")
    WeekTheme.objects.create(brand=brand, week_start=date(2026, 3, 30), theme=f"Semana del café {XSS}")
    planned = do_create_post(ctx, brand, text="Lanzamiento del lunes", accounts=[masto])
    PostTarget.objects.filter(post=planned).update(state=PostTarget.State.SCHEDULED, due_at=_utc(2026, 3, 30, 8))
    return {"brand": brand, "owner": owner, "account": masto}


@pytest.fixture
def report_world(brand_a):
    brand, people = brand_a
    return build_world(brand, people["owner"]) | {"people": people}


def _section(data: ReportData, section_id: str) -> Section:
    return next(s for s in data.sections if s.id == section_id)


def test_weekly_report_figures(report_world):
    brand = report_world["brand"]
    data = services.build_report(brand, "weekly", PERIOD_END)
    assert (data.period_start, data.period_end) == (date(2026, 3, 23), PERIOD_END)
    assert (data.compared_start, data.compared_end) == (date(2026, 3, 16), date(2026, 3, 22))
    assert data.language == "es" and "Alpha Brand" in data.title
    assert [s.id for s in data.sections] == ["summary", "kpis", "figures", "growth", "top_posts", "inbox",
                                             "mentions", "plan"]
    facts = {f.label: f for f in _section(data, "figures").blocks[0].items}
    assert facts["Publicaciones"].value == 3 and facts["Publicaciones"].previous == 1
    assert facts["Alcance"].value == 2634 and facts["Alcance"].previous == 100
    assert facts["Impresiones"].value == 8234
    # Engagement rate by reach: (65 + 2 + 12) / 2634 × 100
    assert facts["Tasa de interacción"].value == pytest.approx(79 / 2634 * 100)
    assert facts["Tasa de interacción"].previous == pytest.approx(10.0)
    assert facts["Seguidores"].value == 1234
    assert facts["Visitas web desde redes"].value is None  # nothing imported: unknown, not 0
    kpi = _section(data, "kpis").blocks[0].items[0]
    assert kpi.status == "fail" and kpi.value == pytest.approx(79 / 2634 * 100)  # 3 % against a 5 % target
    top = _section(data, "top_posts").blocks[0]
    assert top.rows[0][0] == "Horario de verano"  # 6.5 % first
    assert top.rows[0][3] == "2026-03-24T09:30:00+01:00"  # published time in the brand's zone
    hostile = next(r for r in top.rows if r[0].startswith("<script>"))
    assert len(hostile[0]) <= 280  # long texts are cut in tables
    inbox = {f.label: f for f in _section(data, "inbox").blocks[0].items}
    assert inbox["Conversaciones recibidas"].value == 1 and inbox["Tasa de respuesta"].value == 100.0
    assert inbox["Mediana de primera respuesta"].value == pytest.approx(2.0)
    mentions = _section(data, "mentions")
    assert mentions.blocks[0].items[0].value == 2
    assert mentions.blocks[1].rows[0][3] == 54321  # the most reached mention first
    plan = _section(data, "plan")
    assert "Semana del café" in plan.blocks[0].items[0]
    assert plan.blocks[1].rows[0][4] == "Lanzamiento del lunes"
    summary = _section(data, "summary").blocks[0].items
    assert summary and all(isinstance(s, str) for s in summary)


def test_weekly_report_in_english_and_other_brand_isolated(report_world, brand_b):
    data = services.build_report(report_world["brand"], "weekly", PERIOD_END, language="en")
    assert _section(data, "figures").title == "The week in figures"
    other, _people = brand_b
    empty = services.build_report(other, "weekly", PERIOD_END)
    facts = {f.label: f for f in _section(empty, "figures").blocks[0].items}
    assert facts["Publicaciones"].value == 0
    assert facts["Alcance"].value is None and facts["Tasa de interacción"].value is None
    assert _section(empty, "top_posts").blocks[0].rows == []
    assert _section(empty, "mentions").blocks[1].rows == []


def test_archive_round_trip(report_world):
    data = services.build_report(report_world["brand"], "weekly", PERIOD_END)
    stored = services._plain(data.to_json())
    assert from_json(stored).to_json() == stored


def _every_block() -> ReportData:
    return ReportData(
        kind="weekly", brand_id=0, language="es", title=f"Informe {XSS}", period_start=date(2026, 3, 1),
        period_end=date(2026, 3, 31), sections=[Section(id="all", title="Todo", blocks=[
            Facts(items=[Fact(label="Seguidores", value=1234, previous=1000, status="ok"),
                         Fact(label="Tasa", value=3.25, unit="%", previous=2.5),
                         Fact(label="Desconocida", value=None, note="Sin datos")]),
            Paragraphs(items=[f"Frase {XSS}"]),
            Table(columns=["Texto", "Valor"], rows=[[f"{XSS}", 1234567.5], [None, None]], numeric=[False, True]),
            ChartBlock(title="Barras", spec={"data": {"values": [{"a": f"{XSS}", "b": 1234.5}]}, "mark": "bar",
                                             "encoding": {"x": {"field": "a", "type": "nominal"},
                                                          "y": {"field": "b", "type": "quantitative"}}},
                       columns=["A", "B"], rows=[[f"{XSS}", 1234.5]]),
            Checklist(items=[CheckItem(label="Biografía", status="fail", detail=f"Falta {XSS}")]),
        ])])


def test_render_html_every_block_in_spanish(report_world):
    html = render_html(_every_block(), report_world["brand"])
    assert XSS not in html and XSS_ESCAPED in html
    # Spanish (Django's locale): a non-breaking space groups thousands, a comma marks decimals.
    assert "1\xa0234" in html and "1\xa0234\xa0567,5" in html and "3,2\xa0%" in html
    assert "—" in html and "Sin datos" in html
    assert "1 de marzo de 2026" in html
    assert "<svg" in html and "<script" not in html  # the chart is inline SVG, sanitised
    assert "+23,4" in html  # 1234 vs 1000
    english = render_html(ReportData(**{**_every_block().__dict__, "language": "en"}), report_world["brand"])
    assert "1,234,567.5" in english and "March 1, 2026" in english


def test_render_html_of_the_weekly_report_escapes_post_text(report_world):
    data = services.build_report(report_world["brand"], "weekly", PERIOD_END)
    html = render_html(data, report_world["brand"])
    assert XSS not in html and "&lt;/style&gt;" in html
    assert "</style>" not in html
    assert html.count("<svg") >= 2  # growth and inbox charts


def test_registry_knows_every_kind(report_world):
    assert set(registry.BUILDERS) == {"weekly", "monthly", "quarterly", "yearly"}
    assert registry.BUILDERS["weekly"].__module__ == "tertulia.reports.weekly"
    with pytest.raises(KeyError):
        registry.BUILDERS["daily"]


@pytest.mark.parametrize("kind,today,expected", [
    ("weekly", date(2026, 3, 30), date(2026, 3, 29)),
    ("monthly", date(2026, 3, 1), date(2026, 2, 28)),
    ("quarterly", date(2026, 5, 14), date(2026, 3, 31)),
    ("yearly", date(2026, 1, 1), date(2025, 12, 31)),
])
def test_default_period_end(kind, today, expected):
    assert services.default_period_end(kind, today) == expected


def test_generate_checks_role_and_dates(report_world):
    from django.core.exceptions import PermissionDenied, ValidationError

    brand, people = report_world["brand"], report_world["people"]
    with pytest.raises(PermissionDenied):
        services.do_generate_report(Ctx(people["analyst"]), brand, "weekly", PERIOD_END)
    with pytest.raises(ValidationError):
        services.do_generate_report(Ctx(people["manager"]), brand, "weekly",
                                    timezone.localdate() + timedelta(days=3))
    with pytest.raises(ValidationError):
        services.do_generate_report(Ctx(people["manager"]), brand, "hourly", PERIOD_END)


@pytest.mark.parametrize("kind", ["monthly", "quarterly", "yearly"])
def test_every_kind_builds_and_renders_through_the_registry(report_world, kind):
    brand = report_world["brand"]
    period_end = services.default_period_end(kind, date(2026, 4, 1))
    data = services.build_report(brand, kind, period_end)
    assert data.kind == kind and data.language == "es" and data.period_end <= period_end
    stored = services._plain(data.to_json())
    html = render_html(from_json(stored), brand)  # as the archive shows it
    assert data.title in html.replace("&#x27;", "'") or data.sections[0].title in html
    assert XSS not in html
