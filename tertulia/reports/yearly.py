"""The year in figures.

``build(brand, period_end)`` covers the calendar year that contains ``period_end``, from 1 January
to ``period_end`` (in the brand's time zone), against the year before. Sections:

1. summary: the executive summary;
2. the year in figures (followers, publications, reach, impressions, engagement, web visits);
3. growth per network (each account's followers at the start and end of the year);
4. month by month: publications, reach, engagement rate and net followers per month, and the
   best months (by engagement rate and by reach, among months with a known figure);
5. top posts of the year (by engagement rate by reach);
6. KPI results per objective (the objectives active in the year, measured over the year);
7. inbox totals;
8. campaigns and their return on investment.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date

from django.utils import translation
from django.utils.dates import MONTHS
from django.utils.translation import gettext as _

from tertulia.analytics import figures, kpis
from tertulia.networks.models import Network

from .audit import status_label
from .blocks import Fact, Facts, Paragraphs, ReportData, Section, Table
from .summary import executive_summary

TOP_POSTS = 10
TEXT_CHARS = 280


def year_period(tz, period_end: date) -> figures.Period:
    y = figures.Period.containing("year", tz, period_end)
    return figures.Period(y.first_day, min(period_end, y.last_day), tz, "year")


def months_of(period: figures.Period) -> list[figures.Period]:
    out = []
    for month in range(period.first_day.month, period.last_day.month + 1):
        m = figures.Period.month(period.tz, period.first_day.year, month)
        out.append(figures.Period(m.first_day, min(m.last_day, period.last_day), period.tz, "month"))
    return out


def best(items: list[tuple[str, float | None]]) -> tuple[str, float] | None:
    """The label with the highest known value (the first one on a tie), None if none is known."""
    known = [(label, value) for label, value in items if value is not None]
    return max(known, key=lambda x: x[1]) if known else None


def _float(value) -> float | None:
    return float(value) if value is not None else None


def _network(value: str) -> str:
    return str(dict(Network.choices).get(value, value))


def build(brand, period_end: date, *, language: str | None = None) -> ReportData:
    language = language or brand.language or "es"
    with translation.override(language):
        return _build(brand, period_end, language)


def _build(brand, period_end: date, language: str) -> ReportData:
    from tertulia.analytics import charts

    period = year_period(brand.tzinfo, period_end)
    prev = period.previous()
    ids = [brand.pk]
    growth, prev_growth = figures.community_growth(ids, period, series=False), \
        figures.community_growth(ids, prev, series=False)
    totals, prev_totals = figures.post_totals(ids, period), figures.post_totals(ids, prev)
    box, prev_box = figures.inbox(ids, period), figures.inbox(ids, prev)
    traffic, prev_traffic = figures.web_traffic(ids, period), figures.web_traffic(ids, prev)
    statuses = figures.kpi_status(ids, period)
    campaigns = figures.campaigns_roi(ids, period)
    top = figures.top_posts(ids, period, TOP_POSTS)

    # Month by month
    month_rows, month_er, month_reach = [], [], []
    for m in months_of(period):
        t = figures.post_totals(ids, m)
        g = figures.community_growth(ids, m, series=False)
        label = f"{MONTHS[m.first_day.month]}"
        month_rows.append([str(label), t.posts, t.reach, t.engagement_rate, g.net])
        month_er.append((str(label), t.engagement_rate))
        month_reach.append((str(label), t.reach))
    best_er, best_reach = best(month_er), best(month_reach)
    best_lines = []
    if best_er:
        best_lines.append(_("Best month by engagement rate: %(month)s.") % {"month": best_er[0]})
    if best_reach:
        best_lines.append(_("Best month by reach: %(month)s.") % {"month": best_reach[0]})

    # Growth per network: accounts grouped by network
    per_network: dict[str, list] = defaultdict(list)
    for a in growth.accounts:
        per_network[a.network].append(a)
    network_rows = []
    for network, accs in sorted(per_network.items()):
        both = [a for a in accs if a.start is not None and a.end is not None]
        start = sum(a.start for a in both) if both else None
        end = sum(a.end for a in both) if both else None
        network_rows.append([_network(network), len(accs), start, end,
                             end - start if both else None, kpis.growth_rate(start, end)])
    account_rows = [[_network(a.network), a.handle, a.start, a.end, a.net, a.rate] for a in growth.accounts]

    best_campaign = max((c for c in campaigns if c.roi is not None), key=lambda c: c.roi, default=None)
    facts = {
        "kpis": [{"metric": s.metric, "actual": s.actual, "target": s.target, "status": s.status,
                  "lower_is_better": s.lower_is_better} for s in statuses],
        "followers_start": growth.start, "followers_end": growth.end,
        "engagement_rate": totals.engagement_rate, "engagement_rate_previous": prev_totals.engagement_rate,
        "inbox_received": box.received, "inbox_answered": box.answered, "inbox_response_rate": box.response_rate,
        "inbox_sla_breaches": box.sla_breaches, "inbox_median_first_response_hours": box.median_first_response_hours,
        "reach": totals.reach, "reach_previous": prev_totals.reach,
        "impressions": totals.impressions, "impressions_previous": prev_totals.impressions,
        "posts_published": totals.posts, "posts_published_previous": prev_totals.posts,
        "web_sessions": traffic.sessions, "web_sessions_previous": prev_traffic.sessions,
        "top_post": {"network": top[0].network_label, "engagement_rate": top[0].engagement_rate} if top else None,
        "best_campaign": {"name": best_campaign.campaign.name, "roi": best_campaign.roi} if best_campaign else None,
    }

    # KPI results per objective
    kpi_sections_blocks = []
    by_objective: dict[tuple[int, str], list] = defaultdict(list)
    for s in statuses:
        by_objective[(s.objective_id, s.objective)].append(s)
    for (_oid, name), rows in by_objective.items():
        kpi_sections_blocks.append(Table(
            columns=[_("Objective"), _("KPI"), _("Target"), _("Result"), _("Previous year"), _("Status")],
            rows=[[name, s.label, s.target, s.actual, s.previous, status_label(s.status)] for s in rows],
            numeric=[False, False, True, True, True, False]))
    if not kpi_sections_blocks:
        kpi_sections_blocks.append(Paragraphs([_("No objective with KPIs was active this year.")]))

    campaign_rows = [[c.campaign.name, _float(c.cost), _float(c.value), c.conversions, c.roi] for c in campaigns]
    total_roi = figures.total_roi(campaigns)

    sections = [
        Section("summary", _("Executive summary"), [Paragraphs(executive_summary("yearly", facts, language))]),
        Section("overview", _("The year in figures"), [Facts(items=[
            Fact(_("Followers"), growth.end, "", growth.start),
            Fact(_("Community growth"), growth.rate, "%", prev_growth.rate),
            Fact(_("Publications"), totals.posts, "", prev_totals.posts),
            Fact(_("Reach"), totals.reach, "", prev_totals.reach),
            Fact(_("Impressions"), totals.impressions, "", prev_totals.impressions),
            Fact(_("Engagement rate by reach"), totals.engagement_rate, "%", prev_totals.engagement_rate,
                 note=str(figures.ENGAGEMENT_RATE_DEFINITION)),
            Fact(_("Web visits from social"), traffic.sessions, "", prev_traffic.sessions),
            Fact(_("Short-link clicks"), traffic.short_link_clicks, "", prev_traffic.short_link_clicks),
        ])]),
        Section("growth", _("Growth per network"), [
            Table(columns=[_("Network"), _("Accounts"), _("Followers on 1 January"), _("Followers at the end"),
                           _("Net change"), _("Growth (%)")], rows=network_rows,
                  numeric=[False, True, True, True, True, True]),
            Table(columns=[_("Network"), _("Account"), _("Followers on 1 January"), _("Followers at the end"),
                           _("Net change"), _("Growth (%)")], rows=account_rows,
                  numeric=[False, False, True, True, True, True]),
        ]),
        Section("months", _("Month by month"), [
            *([Paragraphs(best_lines)] if best_lines else []),
            Table(columns=[_("Month"), _("Publications"), _("Reach"), _("Engagement rate by reach"),
                           _("Net followers")], rows=month_rows, numeric=[False, True, True, True, True]),
            charts.bars("year_months", _("Engagement rate by month"), month_er, value_title=_("Engagement rate (%)"),
                        category_title=_("Month"), decimals=2, horizontal=False).to_block(),
        ]),
        Section("top_posts", _("Top posts of the year"), [Table(
            columns=[_("Network"), _("Account"), _("Published"), _("Text"), _("Reach"), _("Engagement rate by reach")],
            rows=[[p.network_label, p.account, p.published_at.astimezone(period.tz).replace(microsecond=0).isoformat(),
                   p.text, p.reach, p.engagement_rate] for p in top],
            numeric=[False, False, False, False, True, True])] if top else [
            Paragraphs([_("No post of the year has a known engagement rate.")])]),
        Section("kpis", _("KPI results per objective"), kpi_sections_blocks),
        Section("inbox", _("Inbox"), [Facts(items=[
            Fact(_("Conversations received"), box.received, "", prev_box.received),
            Fact(_("Conversations answered"), box.answered, "", prev_box.answered),
            Fact(_("Response rate"), box.response_rate, "%", prev_box.response_rate),
            Fact(_("Median first response"), box.median_first_response_hours, "h",
                 prev_box.median_first_response_hours),
            Fact(_("Median resolution time"), box.median_resolution_hours, "h", prev_box.median_resolution_hours),
            Fact(_("SLA breaches"), box.sla_breaches, "", prev_box.sla_breaches),
        ])]),
        Section("campaigns", _("Campaigns and return on investment"), [
            Table(columns=[_("Campaign"), _("Cost"), _("Value"), _("Conversions"), _("Return on investment (%)")],
                  rows=campaign_rows, numeric=[False, True, True, True, True]),
            Facts(items=[Fact(_("Return on investment of all campaigns"), total_roi, "%")]),
        ] if campaigns else [Paragraphs([_("No campaign this year.")])]),
    ]
    return ReportData(
        kind="yearly", brand_id=brand.pk, language=language,
        title=_("The year in figures: %(brand)s, %(year)s") % {"brand": brand.name, "year": period.first_day.year},
        period_start=period.first_day, period_end=period.last_day,
        compared_start=prev.first_day, compared_end=prev.last_day, sections=sections,
    )
