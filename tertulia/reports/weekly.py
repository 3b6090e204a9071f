"""The weekly report to the marketing lead: the last 7 days against the 7 before.

``build(brand, period_end)`` reads the week ``period_end − 6 … period_end`` (whole days in the
brand's time zone) and the week before it, and returns a ``ReportData`` in the brand's language:

1. the executive summary (``summary.executive_summary``: sentences from the figures, by rules);
2. KPI status: each KPI of the objectives active in the week, its actual figure, target,
   traffic light and the previous week (``analytics.figures.kpi_status``);
3. the week in figures: followers, posts, reach, impressions, engagement rate (its definition
   named), web visits from social and short-link clicks, each against the week before;
4. community growth (chart and table per account);
5. top posts by engagement rate;
6. inbox and SLA (``analytics.inbox_metrics.summary``);
7. notable mentions (listening): the most reached mentions, the negative ones, and the spike
   alerts of the week;
8. next week's plan: the week's theme and the posts scheduled for the next 7 days.

Figures that cannot be known stay ``None`` (printed "—", with a note), never 0.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

from django.db.models import Count, F, Q
from django.utils import translation
from django.utils.translation import gettext as _

from tertulia.analytics import charts, figures
from tertulia.networks.models import Network

from .blocks import Fact, Facts, Paragraphs, ReportData, Section, Table

TEXT_CHARS = 280  # post and mention texts are cut here in tables (the whole text is on the network)
TOP_POSTS = 5
TOP_MENTIONS = 5
PLAN_ROWS = 30


def _short(text: str, limit: int = TEXT_CHARS) -> str:
    text = " ".join((text or "").split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _network(value: str) -> str:
    if value == "web":
        return _("Web")
    return dict(Network.choices).get(value, value)


def _local(dt: datetime | None, tz) -> str | None:
    return dt.astimezone(tz).replace(microsecond=0).isoformat() if dt else None


def _pct_share(part: int, whole: int) -> float | None:
    return part / whole * 100.0 if whole else None


# --- Sections ------------------------------------------------------------------------------

def _kpi_section(kpis: list) -> Section:
    blocks: list = []
    if kpis:
        blocks.append(Facts(items=[
            Fact(label=f"{k.label} — {k.objective}", value=k.actual, unit=k.unit, previous=k.previous,
                 status=k.status,
                 note=(_("Target: %(target)s") % {"target": _target_text(k.target, k.unit)})
                 + ("" if k.actual is not None else " · " + _("Not measured in this period.")))
            for k in kpis]))
        blocks.append(Paragraphs(items=[str(figures.LIGHT_RULE)]))
    else:
        blocks.append(Paragraphs(items=[_("No objective with KPI targets is active in this period.")]))
    return Section(id="kpis", title=_("KPI status"), blocks=blocks)


def _target_text(target: float, unit: str) -> str:
    from .render import with_unit

    return with_unit(target, unit)


def _week_facts(growth, totals, prev_totals, prev_growth, traffic, prev_traffic) -> Section:
    no_data = _("No data in this period.")
    items = [
        Fact(label=_("Followers"), value=growth.followers_end, previous=prev_growth.followers_end,
             note="" if growth.followers_end is not None else _("No follower counts were read yet.")),
        Fact(label=_("Net new followers"), value=growth.net, previous=prev_growth.net),
        Fact(label=_("Publications"), value=totals.posts, previous=prev_totals.posts),
        Fact(label=_("Reach"), value=totals.reach, previous=prev_totals.reach,
             note="" if totals.reach is not None else no_data),
        Fact(label=_("Impressions"), value=totals.impressions, previous=prev_totals.impressions,
             note="" if totals.impressions is not None else no_data),
        Fact(label=_("Engagement rate"), value=totals.engagement_rate, unit="%",
             previous=prev_totals.engagement_rate,
             note="" if totals.engagement_rate is not None else no_data),
        Fact(label=_("Web visits from social"), value=traffic.sessions, previous=prev_traffic.sessions,
             note="" if traffic.sessions is not None else _("No web analytics were imported.")),
        Fact(label=_("Short link clicks"), value=traffic.short_link_clicks, previous=prev_traffic.short_link_clicks),
    ]
    return Section(id="figures", title=_("The week in figures"),
                   blocks=[Facts(items=items), Paragraphs(items=[str(figures.ENGAGEMENT_RATE_DEFINITION)])])


def _growth_section(growth, tz) -> Section:
    rows = [[a.handle, _network(a.network), a.start, a.end, a.net, a.rate] for a in growth.accounts]
    table = Table(columns=[_("Account"), _("Network"), _("Followers at the start"), _("Followers at the end"),
                           _("Net change"), _("Growth (%)")],
                  rows=rows, numeric=[False, False, True, True, True, True])
    blocks: list = []
    if growth.series:
        blocks.append(charts.growth_chart(growth).to_block())
    blocks.append(table)
    return Section(id="growth", title=_("Community growth"), blocks=blocks)


def _top_posts_section(top: list, tz) -> Section:
    rows = [[_short(p.text), p.network_label, p.account, _local(p.published_at, tz), p.reach, p.engagements,
             p.engagement_rate] for p in top]
    return Section(id="top_posts", title=_("Top posts"), blocks=[Table(
        columns=[_("Post"), _("Network"), _("Account"), _("Published"), _("Reach"), _("Interactions"),
                 _("Engagement rate (%)")],
        rows=rows, numeric=[False, False, False, False, True, True, True])])


def _inbox_section(box, prev) -> Section:
    items = [
        Fact(label=_("Conversations received"), value=box.received, previous=prev.received),
        Fact(label=_("Answered"), value=box.answered, previous=prev.answered),
        Fact(label=_("Response rate"), value=box.response_rate, unit="%", previous=prev.response_rate,
             note="" if box.response_rate is not None else _("Nothing came in.")),
        Fact(label=_("Median first response"), value=box.median_first_response_hours, unit="h",
             previous=prev.median_first_response_hours),
        Fact(label=_("Median resolution time"), value=box.median_resolution_hours, unit="h",
             previous=prev.median_resolution_hours),
        Fact(label=_("SLA breaches"), value=box.sla_breaches, previous=prev.sla_breaches,
             status="ok" if box.sla_breaches == 0 else "fail"),
    ]
    blocks: list = [Facts(items=items)]
    if box.by_day and any(r or a for _d, r, a in box.by_day):
        blocks.append(charts.inbox_chart(box).to_block())
    return Section(id="inbox", title=_("Inbox and SLA"), blocks=blocks)


def _mentions(brand, period, previous) -> tuple[Section, dict]:
    from tertulia.listening.models import Mention, SpikeAlert

    def counts(p):
        return Mention.objects.filter(brand=brand, created_at__gte=p.start, created_at__lt=p.end).aggregate(
            total=Count("id"), negative=Count("id", filter=Q(sentiment="negative")))

    now, before = counts(period), counts(previous)
    tz = brand.tzinfo
    in_week = Mention.objects.filter(brand=brand, created_at__gte=period.start, created_at__lt=period.end)
    top = list(in_week.order_by(F("author_followers").desc(nulls_last=True), "-created_at")[:TOP_MENTIONS])
    negative = list(in_week.filter(sentiment="negative").exclude(pk__in=[m.pk for m in top])
                    .order_by(F("author_followers").desc(nulls_last=True), "-created_at")[:TOP_MENTIONS])
    alerts = list(SpikeAlert.objects.filter(brand=brand, window_start__gte=period.start, window_start__lt=period.end)
                  .order_by("-window_start")[:10])

    def row(m):
        return [m.author_name or m.author_handle or m.site, _network(m.network), _local(m.created_at, tz),
                m.author_followers, _sentiment(m.sentiment), _short(m.title or m.text)]

    columns = [_("Author"), _("Where"), _("When"), _("Audience"), _("Sentiment"), _("Text")]
    numeric = [False, False, False, True, False, False]
    share = _pct_share(now["negative"], now["total"])
    blocks: list = [Facts(items=[
        Fact(label=_("Mentions"), value=now["total"], previous=before["total"]),
        Fact(label=_("Negative mentions"), value=share, unit="%",
             previous=_pct_share(before["negative"], before["total"]),
             note="" if share is not None else _("No mentions in this period.")),
    ])]
    blocks.append(Table(columns=columns, rows=[row(m) for m in top], numeric=numeric))
    if negative:
        blocks.append(Paragraphs(items=[_("Negative mentions to look at:")]))
        blocks.append(Table(columns=columns, rows=[row(m) for m in negative], numeric=numeric))
    if alerts:
        blocks.append(Table(
            columns=[_("Alert"), _("When"), _("Mentions"), _("Negative"), _("Usual")],
            rows=[[a.get_kind_display(), _local(a.window_start, tz), a.count, a.negative, round(a.baseline, 1)]
                  for a in alerts],
            numeric=[False, False, True, True, True]))
    facts = {"mentions": now["total"], "mentions_previous": before["total"], "negative_mentions_share": share}
    return Section(id="mentions", title=_("Notable mentions"), blocks=blocks), facts


def _sentiment(value: str) -> str:
    return {"negative": _("Negative"), "neutral": _("Neutral"), "positive": _("Positive")}.get(value, "—")


def _plan_section(brand, period_end: date) -> Section:
    from tertulia.content.models import WeekTheme
    from tertulia.publishing.models import PostTarget

    tz = brand.tzinfo
    nxt = figures.Period(period_end + timedelta(days=1), period_end + timedelta(days=7), tz)
    themes = list(WeekTheme.objects.filter(brand=brand, week_start__gte=nxt.first_day - timedelta(days=6),
                                           week_start__lte=nxt.last_day).order_by("week_start", "pk"))
    targets = list(
        PostTarget.objects.filter(brand=brand, due_at__gte=nxt.start, due_at__lt=nxt.end,
                                  state__in=[PostTarget.State.SCHEDULED, PostTarget.State.APPROVED,
                                             PostTarget.State.PENDING_APPROVAL])
        .select_related("post", "account").order_by("due_at", "pk")[:PLAN_ROWS])
    states = dict(PostTarget.State.choices)
    blocks: list = []
    if themes:
        blocks.append(Paragraphs(items=[_("Theme of the week: %(theme)s") % {"theme": t.theme} for t in themes]))
    else:
        blocks.append(Paragraphs(items=[_("No theme is planned for next week.")]))
    blocks.append(Table(
        columns=[_("When"), _("Network"), _("Account"), _("State"), _("Post")],
        rows=[[_local(t.due_at, tz), _network(t.account.network), t.account.handle, str(states.get(t.state, t.state)),
               _short(t.post.text)] for t in targets]))
    return Section(id="plan", title=_("Next week's plan"), blocks=blocks)


# --- The report ------------------------------------------------------------------------------

def build(brand, period_end: date, *, language: str | None = None) -> ReportData:
    language = language or brand.language
    with translation.override(language):
        tz = brand.tzinfo
        period = figures.Period.last_days(tz, 7, last_day=period_end)
        previous = period.previous()
        ids = [brand.pk]
        kpis = figures.kpi_status(ids, period)
        growth = figures.community_growth(ids, period)
        prev_growth = figures.community_growth(ids, previous, series=False)
        totals = figures.post_totals(ids, period)
        prev_totals = figures.post_totals(ids, previous)
        top = figures.top_posts(ids, period, TOP_POSTS)
        box, prev_box = figures.inbox(ids, period), figures.inbox(ids, previous)
        traffic, prev_traffic = figures.web_traffic(ids, period), figures.web_traffic(ids, previous)
        mentions_section, mention_facts = _mentions(brand, period, previous)

        facts = {
            "kpis": [{"metric": k.metric, "actual": k.actual, "target": k.target, "status": k.status,
                      "lower_is_better": k.lower_is_better, "label": k.label} for k in kpis],
            "followers_start": growth.start, "followers_end": growth.end,
            "engagement_rate": totals.engagement_rate, "engagement_rate_previous": prev_totals.engagement_rate,
            "inbox_received": box.received, "inbox_answered": box.answered,
            "inbox_response_rate": box.response_rate, "inbox_sla_breaches": box.sla_breaches,
            "inbox_median_first_response_hours": box.median_first_response_hours,
            "reach": totals.reach, "reach_previous": prev_totals.reach,
            "impressions": totals.impressions, "impressions_previous": prev_totals.impressions,
            "posts_published": totals.posts, "posts_published_previous": prev_totals.posts,
            "web_sessions": traffic.sessions, "web_sessions_previous": prev_traffic.sessions,
            "short_link_clicks": traffic.short_link_clicks,
            **mention_facts,
        }
        if top and top[0].engagement_rate is not None:
            facts["top_post"] = {"network": top[0].network_label, "engagement_rate": top[0].engagement_rate}
        sentences = _summary(facts, language)

        sections = [
            Section(id="summary", title=_("Executive summary"),
                    blocks=[Paragraphs(items=sentences or [_("There is not enough data this week for a summary.")])]),
            _kpi_section(kpis),
            _week_facts(growth, totals, prev_totals, prev_growth, traffic, prev_traffic),
            _growth_section(growth, tz),
            _top_posts_section(top, tz),
            _inbox_section(box, prev_box),
            mentions_section,
            _plan_section(brand, period.last_day),
        ]
        title = _("Weekly report: %(brand)s") % {"brand": brand.name}
        return ReportData(kind="weekly", brand_id=brand.pk, language=language, title=title,
                          period_start=period.first_day, period_end=period.last_day, sections=sections,
                          compared_start=previous.first_day, compared_end=previous.last_day)


def _summary(facts: dict, language: str) -> list[str]:
    # The executive summary rules live in summary.py (the "audit" engineer's module).
    from .summary import executive_summary

    return executive_summary("weekly", facts, language)
