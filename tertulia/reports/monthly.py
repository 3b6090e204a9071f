"""The monthly sector and competitor report.

``build(brand, period_end)`` covers the calendar month that contains ``period_end``, from its
first day to ``period_end`` (in the brand's time zone), against the month before. Sections:

1. summary: the executive summary, then the competitor benchmark's sentences
   (``listening.competitors``);
2. benchmark: the brand against each tracked competitor (followers, growth, posts a week,
   engagement per post and rate), followers over time and posting charts;
3. share of voice (``listening.trends.share_of_voice``), this month and the month before;
4. mentions: volume and sentiment per day, against the month before;
5. rising terms of the month against the three months before (``trends.rising_terms``);
6. top competitor posts (their text is untrusted: plain text in a table, escaped when shown).

``competitor_blocks(brand, period, language)`` returns sections 2–6 as blocks for any period:
the quarterly audit reuses it for its market analysis.
"""

from __future__ import annotations

from datetime import date

from django.utils import translation
from django.utils.translation import gettext as _

from tertulia.analytics import figures
from tertulia.listening import competitors, trends
from tertulia.networks.models import Network

from .blocks import Fact, Facts, Paragraphs, ReportData, Section, Table
from .summary import executive_summary, rank

TEXT_CHARS = 280
TOP_COMPETITOR_POSTS = 10
RISING_TERMS = 15


def _short(text: str, limit: int = TEXT_CHARS) -> str:
    text = " ".join((text or "").split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _network(value: str) -> str:
    return _("Web") if value == "web" else str(dict(Network.choices).get(value, value))


def _sentiment_label(name: str) -> str:
    return {"negative": _("Negative"), "neutral": _("Neutral"), "positive": _("Positive")}[name]


def _with_changes(rows: list[dict], previous: list[dict]) -> list[dict]:
    """Each row's changes against the previous period (as ``competitors.monthly_section``)."""
    before = {(r["kind"], r["id"]): r for r in previous}
    for row in rows:
        b = before.get((row["kind"], row["id"]))
        pct = None
        if b and row["engagement_per_post"] is not None and b["engagement_per_post"]:
            pct = round(100 * (row["engagement_per_post"] - b["engagement_per_post"]) / b["engagement_per_post"], 1)
        row["changes"] = {"engagement_per_post_pct": pct} if b else {}
    return rows


def changes_only(series: list[tuple[date, int]]) -> list[tuple[date, int]]:
    """A daily series (carried forward) reduced to its first day, the days its value changes
    and its last day: the same line, and a table view short enough to print."""
    out = []
    for i, (day, value) in enumerate(series):
        if i == 0 or i == len(series) - 1 or value != series[i - 1][1]:
            out.append((day, value))
    return out


def benchmark_rows(brand, period: figures.Period) -> list[dict]:
    """The brand (first) and its competitors over the period, with changes vs the previous one."""
    prev = period.previous()
    rows = competitors.benchmark(brand, period.start, period.end)["rows"]
    return _with_changes(rows, competitors.benchmark(brand, prev.start, prev.end)["rows"])


def benchmark_sentences(rows: list[dict], language: str) -> list[str]:
    """The competitor module's fact sentences, in ``language``."""
    with translation.override(language):
        return competitors._sentences(rows)


def competitor_blocks(brand, period: figures.Period, language: str, rows: list[dict] | None = None) -> list:
    """``competitor_sections`` as one list of blocks (the audit's market analysis)."""
    return [block for section in competitor_sections(brand, period, language, rows) for block in section.blocks]


def competitor_sections(brand, period: figures.Period, language: str, rows: list[dict] | None = None) -> list[Section]:
    """Benchmark, share of voice, mentions, rising terms and top competitor posts over the
    period, as report sections (texts in ``language``)."""
    from tertulia.analytics import charts

    with translation.override(language):
        rows = rows if rows is not None else benchmark_rows(brand, period)
        prev = period.previous()
        tz = period.tz
        sections: list[Section] = []
        blocks: list = []
        if len(rows) == 1:
            blocks.append(Paragraphs([_("No competitors are tracked yet: add them under Listening → Competitors "
                                        "to compare the brand with them.")]))
        blocks.append(Table(
            columns=[_("Name"), _("Followers"), _("Growth"), _("Growth (%)"), _("Publications"), _("Posts a week"),
                     _("Engagement per post"), _("Engagement rate by followers (%)")],
            rows=[[r["name"], r["followers_end"], r["growth"], r["growth_pct"], r["posts"], r["posts_per_week"],
                   r["engagement_per_post"], r["engagement_rate"]] for r in rows],
            numeric=[False] + [True] * 7))
        points = [(day, r["name"], value) for r in rows for day, value in changes_only(r["series"])]
        if points:
            blocks.append(charts.line("market_followers", _("Followers over time"), points, y_title=_("Followers"),
                                      series_title=_("Name")).to_block())
        if any(r["posts_per_week"] is not None for r in rows):
            blocks.append(charts.bars("market_posting", _("Posts a week"),
                                      [(r["name"], r["posts_per_week"]) for r in rows],
                                      value_title=_("Posts a week"), category_title=_("Name"), decimals=1).to_block())
        sections.append(Section("benchmark", _("The brand and its competitors"), blocks))
        # Share of voice
        blocks = []
        voices = trends.share_of_voice(brand, period.start, period.end)
        before = {(v["kind"], v["competitor_id"], v["name"]): v for v in
                  trends.share_of_voice(brand, prev.start, prev.end)}
        total = sum(v["mentions"] for v in voices)
        if total:
            prev_total = sum(v["mentions"] for v in before.values())
            sov_rows = []
            for v in voices:
                b = before.get((v["kind"], v["competitor_id"], v["name"]))
                sov_rows.append([v["name"], v["mentions"], v["share"] * 100.0,
                                 b["share"] * 100.0 if b and prev_total else None])
            blocks.append(Table(columns=[_("Voice"), _("Mentions"), _("Share of voice (%)"), _("Previous period (%)")],
                                rows=sov_rows, numeric=[False, True, True, True]))
            blocks.append(charts.bars("market_sov", _("Share of voice"), [(r[0], r[2]) for r in sov_rows],
                                      value_title=_("Share of voice (%)"), category_title=_("Voice"),
                                      decimals=1).to_block())
        else:
            blocks.append(Paragraphs([_("Share of voice: no listening mentions in the period (set up brand and "
                                        "competitor queries in Listening).")]))
        sections.append(Section("share_of_voice", _("Share of voice"), blocks))
        # Mentions and sentiment
        blocks = []
        now_t, prev_t = trends.totals(brand, period.start, period.end), trends.totals(brand, prev.start, prev.end)
        classified = sum(now_t[s] for s in trends.SENTIMENTS)
        blocks.append(Facts(items=[
            Fact(_("Mentions"), now_t["total"], "", prev_t["total"]),
            *[Fact(_sentiment_label(s), now_t[s] / classified * 100.0 if classified else None, "%",
                   prev_t[s] / sum(prev_t[x] for x in trends.SENTIMENTS) * 100.0
                   if sum(prev_t[x] for x in trends.SENTIMENTS) else None) for s in trends.SENTIMENTS],
        ]))
        if now_t["total"]:
            volume = trends.volume(brand, since=period.start, until=period.end, bucket="day", tzinfo=tz)
            blocks.append(charts.line("market_mentions", _("Mentions per day"),
                                      [(b.date(), _sentiment_label(s), n) for b, _t, *by in volume
                                       for s, n in zip(trends.SENTIMENTS, by)],
                                      y_title=_("Mentions"), series_title=_("Sentiment")).to_block())
        sections.append(Section("mentions", _("Mentions and sentiment"), blocks))
        # Rising terms: the period against the three periods of its length before it
        window = period.end - period.start
        rising = trends.rising_terms(brand, period.end, window=window, baseline_days=max(7, 3 * window.days),
                                     limit=RISING_TERMS)
        sections.append(Section("rising_terms", _("Rising terms"), [
            Table(columns=[_("Term"), _("Mentions"), _("Expected")],
                  rows=[[t.term, t.count, t.baseline] for t in rising], numeric=[False, True, True])] if rising else [
            Paragraphs([_("No term rose above its usual volume.")])]))
        # Top competitor posts (untrusted text: plain text, escaped by the templates)
        posts = sorted(((r["name"], p) for r in rows[1:] for p in r["top_posts"]),
                       key=lambda x: (-x[1]["engagement"], x[1]["published_at"]))[:TOP_COMPETITOR_POSTS]
        if posts:
            sections.append(Section("competitor_posts", _("Top competitor posts"), [Table(
                columns=[_("Competitor"), _("Network"), _("Published"), _("Text"), _("Engagement"), _("Link")],
                rows=[[name, _network(p["network"]),
                       p["published_at"].astimezone(tz).replace(microsecond=0).isoformat(),
                       _short(p["text"]), p["engagement"], p["url"]] for name, p in posts],
                numeric=[False, False, False, False, True, False])]))
        return sections


def month_period(tz, period_end: date) -> figures.Period:
    m = figures.Period.containing("month", tz, period_end)
    return figures.Period(m.first_day, min(period_end, m.last_day), tz, "month")


def build(brand, period_end: date, *, language: str | None = None) -> ReportData:
    language = language or brand.language or "es"
    with translation.override(language):
        period = month_period(brand.tzinfo, period_end)
        prev = period.previous()
        ids = [brand.pk]
        rows = benchmark_rows(brand, period)
        growth = figures.community_growth(ids, period, series=False)
        totals, prev_totals = figures.post_totals(ids, period), figures.post_totals(ids, prev)
        now_t, prev_t = trends.totals(brand, period.start, period.end), trends.totals(brand, prev.start, prev.end)
        classified = sum(now_t[s] for s in trends.SENTIMENTS)
        facts = {
            "followers_start": growth.start, "followers_end": growth.end,
            "engagement_rate": totals.engagement_rate, "engagement_rate_previous": prev_totals.engagement_rate,
            "engagement_rate_rank": rank(totals.engagement_rate, [
                figures.post_totals(ids, figures.Period.month(period.tz, period.first_day.year, m)).engagement_rate
                for m in range(1, period.first_day.month)]),
            "posts_published": totals.posts, "posts_published_previous": prev_totals.posts,
            "reach": totals.reach, "reach_previous": prev_totals.reach,
            "mentions": now_t["total"], "mentions_previous": prev_t["total"],
            "negative_mentions_share": now_t["negative"] / classified * 100.0 if classified else None,
            "share_of_voice": figures.share_of_voice(ids, period),
            "share_of_voice_previous": figures.share_of_voice(ids, prev),
        }
        summary = executive_summary("monthly", facts, language) + benchmark_sentences(rows, language)
        market = competitor_sections(brand, period, language, rows=rows)
        return ReportData(
            kind="monthly", brand_id=brand.pk, language=language,
            title=_("Sector and competitor report: %(brand)s, %(month)s") % {
                "brand": brand.name, "month": _month_name(period.first_day)},
            period_start=period.first_day, period_end=period.last_day,
            compared_start=prev.first_day, compared_end=prev.last_day,
            sections=[Section("summary", _("Executive summary"), [Paragraphs(summary)]), *market],
        )


def _month_name(day: date) -> str:
    from django.utils.dates import MONTHS

    return f"{MONTHS[day.month]} {day.year}"
