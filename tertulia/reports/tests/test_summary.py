"""The executive summary: rules and templates over the facts, in both languages."""

import pytest

from tertulia.reports.summary import executive_summary

NB = "\u00a0"

WEEK = {
    "followers_start": 12100, "followers_end": 12487,
    "engagement_rate": 3.0, "engagement_rate_previous": 4.1, "engagement_rate_rank": "lowest",
    "kpis": [
        {"metric": "response_time", "actual": 6.5, "target": 4, "status": "fail", "lower_is_better": True},
        {"metric": "response_rate", "actual": 95.0, "target": 90, "status": "ok"},
        {"metric": "ctr", "actual": None, "target": 1.5, "status": "unknown"},
        {"metric": "engagement_rate_reach", "actual": 3.9, "target": 4, "status": "warn"},
        {"metric": "follower_growth", "actual": 3.2, "target": 2, "status": "ok"},
    ],
    "inbox_received": 140, "inbox_answered": 129, "inbox_sla_breaches": 3,
    "inactive_accounts": [{"network": "Instagram", "handle": "@marca", "days": 23}],
}


def test_english_sentences_in_order_of_importance():
    out = executive_summary("weekly", WEEK, "en")
    assert out == [
        f"KPIs on target: 2 of 5. Response time (6.5{NB}h) misses its target of 4.0{NB}h.",
        "Not measured: Click-through rate.",
        "Nothing was published on Instagram (@marca) for 23 days.",
        f"Followers grew 3.2{NB}% (from 12,100 to 12,487).",
        f"Engagement rate by reach fell from 4.1{NB}% to 3.0{NB}%. It was the lowest week of the quarter.",
        f"The inbox answered 92.1{NB}% of 140 conversations. SLA breaches: 3.",
    ]


def test_spanish_sentences_and_number_formats():
    out = executive_summary("weekly", WEEK, "es")
    assert out[0] == f"KPI en objetivo: 2 de 5. Tiempo de respuesta (6,5{NB}h) no alcanza su objetivo de 4,0{NB}h."
    assert f"Los seguidores crecieron un 3,2{NB}% (de 12{NB}100 a 12{NB}487)." in out
    assert f"La bandeja de entrada respondió el 92,1{NB}% de 140 conversaciones. Incumplimientos del SLA: 3." in out
    assert "Fue la semana más baja del trimestre." in out[4]


def test_unknown_figures_produce_no_sentence_never_zero():
    facts = {"followers_start": None, "followers_end": None, "engagement_rate": None, "inbox_received": None,
             "reach": None, "web_sessions": None, "share_of_voice": None, "top_post": {"network": "X"}}
    assert executive_summary("weekly", facts, "en") == []
    assert executive_summary("monthly", {}, "es") == []
    # A known zero is said; an unknown sibling figure is not.
    out = executive_summary("weekly", {"inbox_received": 0, "reach": 1000}, "en")
    assert out == ["The inbox received no conversations.", "Reach: 1,000."]


@pytest.mark.parametrize("start,end,expected", [
    (1000, 1100, f"Followers grew 10.0{NB}% (from 1,000 to 1,100)."),
    (1000, 900, f"Followers fell 10.0{NB}% (from 1,000 to 900)."),
    (1000, 1000, "Followers held steady at 1,000."),
    (None, 1000, "Followers: 1,000."),
])
def test_followers(start, end, expected):
    assert executive_summary("quarterly", {"followers_start": start, "followers_end": end}, "en") == [expected]


def test_counts_compared_and_a_previous_zero_is_not_a_percentage():
    out = executive_summary("monthly", {"reach": 12400, "reach_previous": 10000,
                                        "impressions": 500, "impressions_previous": 0}, "en")
    assert out == [f"Reach rose 24.0{NB}% (from 10,000 to 12,400).", "Impressions: 500 (previous period: 0)."]


def test_never_published_and_audit_counts_and_highlights():
    facts = {"inactive_accounts": [{"network": "Bluesky", "handle": "<b>x</b>", "days": None}],
             "audit_checks": {"ok": 7, "warn": 2, "fail": 1, "unknown": 1},
             "top_post": {"network": "Mastodon", "engagement_rate": 7.26},
             "best_campaign": {"name": "Rebajas", "roi": 150}}
    out = executive_summary("quarterly", facts, "es")
    # Plain text: the template escapes the handle when the report is rendered.
    assert out[0] == "Nunca se ha publicado nada en Bluesky (<b>x</b>)."
    assert out[1] == ("Comprobaciones de perfil: 7 correctas, 2 con avisos, 1 fallidas, 1 sin poder comprobar.")
    assert out[2] == f"La mejor publicación, en Mastodon, alcanzó una tasa de interacción del 7,3{NB}%."
    assert out[3] == f"Mejor campaña: Rebajas, con un retorno de la inversión del 150,0{NB}%."


def test_rank_phrase_follows_the_report_kind():
    facts = {"engagement_rate": 5.0, "engagement_rate_previous": 4.0, "engagement_rate_rank": "highest"}
    assert executive_summary("monthly", facts, "en") == [
        f"Engagement rate by reach rose from 4.0{NB}% to 5.0{NB}%. It was the highest month of the year."]


@pytest.mark.parametrize("current,earlier,expected", [
    (3.0, [4.0, 5.0], "lowest"), (6.0, [4.0, 5.0], "highest"), (4.5, [4.0, 5.0], None),
    (4.0, [4.0, 5.0], None),  # a tie is not "the lowest"
    (3.0, [4.0, None], None),  # one known earlier value: not news
    (None, [4.0, 5.0], None),
])
def test_rank(current, earlier, expected):
    from tertulia.reports.summary import rank

    assert rank(current, earlier) == expected


def test_odd_values_are_unknown_and_decimals_are_numbers():
    from decimal import Decimal

    facts = {"followers_start": "mucho", "followers_end": True, "reach": Decimal("1234.5"),
             "kpis": [{"metric": "roi", "actual": Decimal("80.5"), "target": Decimal("100"), "status": "fail"},
                      {"metric": "custom_metric", "label": "Leads", "actual": None, "target": 5, "status": "unknown"},
                      "not a dict"],
             "inactive_accounts": ["nope", {"network": "X", "handle": "@a", "days": 45}]}
    assert executive_summary("monthly", facts, "en") == [
        f"KPIs on target: 0 of 2. Return on investment (80.5{NB}%) misses its target of 100.0{NB}%.",
        "Not measured: Leads.",
        "Nothing was published on X (@a) for 45 days.",
        "Reach: 1,234.",
    ]
