"""The executive summary: a report's figures put into sentences by rules and templates.

Facts, not an LLM: every sentence comes from one figure (or a pair: this period and the one
it is compared with) and a translated template. A figure that is unknown (missing key or
``None``) produces no sentence: "we don't know" must never read as 0. Numbers are formatted in
the report's language (``django.utils.formats.number_format``: "12,487" / "12 487", "3.2" /
"3,2").

The ``facts`` contract
======================
Every key is optional; ``None`` means unknown. "previous" is the comparison period (the week
before for the weekly report, the quarter before for the audit, ...). Rates are percentages
(3.2 means 3.2 %), as in ``tertulia.analytics.kpis``.

=============================== ===============================================================
key                             meaning
=============================== ===============================================================
``kpis``                        list of dicts, one per KPI of the objectives active in the
                                period: ``metric`` (a ``strategy.KPI.Metric`` value), ``actual``
                                (float or None = not measured), ``target`` (number), ``status``
                                ("ok" | "warn" | "fail" | "unknown"), ``lower_is_better`` (bool,
                                optional). ``label`` (optional): the name used for a metric
                                this module does not know (known metrics use METRIC_NAMES).
``inactive_accounts``           list of dicts, accounts with nothing published for 30+ days:
                                ``network`` (display name), ``handle``, ``days`` (int, days since
                                the last publication; None = never published).
``audit_checks``                dict of counts by check status: ``ok``, ``warn``, ``fail``,
                                ``unknown`` (the quarterly audit's checklists).
``followers_start``             total followers of the brand's accounts at the start of the period
``followers_end``               ... and at its end (the same accounts in both).
``engagement_rate``             engagement rate in the period (%).
``engagement_rate_previous``    the same in the comparison period (%).
``engagement_rate_basis``       "reach" (default) or "followers": which definition was used.
``engagement_rate_rank``        "lowest" | "highest": the period is the lowest/highest of its
                                context (weekly: weeks of the quarter; monthly: months of the
                                year; quarterly: quarters of the year). Omit otherwise.
``inbox_received``              conversations received (``inbox_metrics.summary().received``)
``inbox_answered``              conversations answered
``inbox_response_rate``         answered / received, % (computed from the two if missing)
``inbox_sla_breaches``          conversations that breached the first-response SLA
``inbox_median_first_response_hours``  median first-response time, hours
``reach`` / ``reach_previous``  total reach of the posts published in the period
``impressions`` / ``impressions_previous``  total impressions
``posts_published`` / ``posts_published_previous``  publications (post × account)
``web_sessions`` / ``web_sessions_previous``  web visits from social (imported analytics)
``short_link_clicks``           clicks on Tertulia's short links in the period
``mentions`` / ``mentions_previous``  listening mentions of the brand
``negative_mentions_share``     share of those mentions with negative sentiment (%)
``share_of_voice`` / ``share_of_voice_previous``  brand mentions / all tracked mentions (%)
``top_post``                    dict: ``network`` (display name), ``engagement_rate`` (%)
``best_campaign``               dict: ``name``, ``roi`` (%)
=============================== ===============================================================

Order of the sentences (importance): the KPI status first (what the marketing lead asked for),
then what is broken (abandoned profiles, failed audit checks), community growth, engagement,
the inbox, reach and impressions, publishing volume, web traffic, listening, and the
highlights (best post, best campaign).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.utils import translation
from django.utils.formats import number_format
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from tertulia.analytics import kpis as formulas

NBSP = "\u00a0"

# Short names of the KPI metrics, used inside sentences (the model's labels carry units).
METRIC_NAMES = {
    "follower_growth": _("Community growth"),
    "engagement_rate_reach": _("Engagement rate by reach"),
    "engagement_rate_followers": _("Engagement rate by followers"),
    "web_visits": _("Web visits from social"),
    "ctr": _("Click-through rate"),
    "response_rate": _("Response rate"),
    "response_time": _("Response time"),
    "share_of_voice": _("Share of voice"),
    "roi": _("Return on investment"),
}
# How a metric's value is written: "%" (a rate), "h" (hours) or "" (a count).
METRIC_UNITS = {
    "follower_growth": "%", "engagement_rate_reach": "%", "engagement_rate_followers": "%",
    "web_visits": "", "ctr": "%", "response_rate": "%", "response_time": "h", "share_of_voice": "%",
    "roi": "%",
}

_RANK = {
    ("weekly", "lowest"): _("It was the lowest week of the quarter."),
    ("weekly", "highest"): _("It was the highest week of the quarter."),
    ("monthly", "lowest"): _("It was the lowest month of the year."),
    ("monthly", "highest"): _("It was the highest month of the year."),
    ("quarterly", "lowest"): _("It was the lowest quarter of the year."),
    ("quarterly", "highest"): _("It was the highest quarter of the year."),
}


def rank(current: float | None, earlier: list[float | None]) -> str | None:
    """For ``engagement_rate_rank``: "lowest" or "highest" when ``current`` is strictly below or
    above every known earlier value of its context (e.g. the earlier quarters of the year), with
    at least two known earlier values (against one, it is always one or the other: not news)."""
    known = [v for v in earlier if v is not None]
    if current is None or len(known) < 2:
        return None
    if current < min(known):
        return "lowest"
    if current > max(known):
        return "highest"
    return None


# -- number formatting (call under translation.override) --------------------------------------

def fmt_int(value: float | int) -> str:
    return number_format(round(value), 0, force_grouping=True)


def fmt_dec(value: float | int, places: int = 1) -> str:
    return number_format(round(float(value), places), places, force_grouping=True)


def fmt_pct(value: float | int) -> str:
    return f"{fmt_dec(value)}{NBSP}%"


def fmt_value(value: float | int, unit: str) -> str:
    if unit == "%":
        return fmt_pct(value)
    if unit == "h":
        return f"{fmt_dec(value)}{NBSP}h"
    if float(value).is_integer():
        return fmt_int(value)
    return fmt_dec(value)


def _num(value: Any) -> float | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


# -- sentence rules -----------------------------------------------------------------------------

def _kpis(kind: str, facts: dict) -> list[str]:
    rows = [k for k in facts.get("kpis") or [] if isinstance(k, dict) and k.get("metric")]
    if not rows:
        return []

    def name(k: dict) -> str:
        return str(METRIC_NAMES.get(k["metric"]) or k.get("label") or k["metric"])

    out = []
    met = sum(1 for k in rows if k.get("status") == "ok")
    measured = [k for k in rows if _num(k.get("actual")) is not None]
    text = gettext("KPIs on target: %(met)s of %(total)s.") % {"met": fmt_int(met), "total": fmt_int(len(rows))}
    # The worst miss, by relative distance to the target.
    missed = [k for k in measured if k.get("status") in ("fail", "warn") and _num(k.get("target"))]

    def gap(k: dict) -> float:
        actual, target = float(k["actual"]), float(k["target"])
        return abs(actual - target) / abs(target)

    if missed:
        worst = max(missed, key=gap)
        unit = METRIC_UNITS.get(worst["metric"], "")
        text += " " + gettext("%(kpi)s (%(actual)s) misses its target of %(target)s.") % {
            "kpi": name(worst), "actual": fmt_value(float(worst["actual"]), unit),
            "target": fmt_value(float(worst["target"]), unit)}
    out.append(text)
    unmeasured = [k for k in rows if _num(k.get("actual")) is None]
    if unmeasured:
        out.append(gettext("Not measured: %(kpis)s.") % {"kpis": ", ".join(name(k) for k in unmeasured)})
    return out


def _inactive(kind: str, facts: dict) -> list[str]:
    out = []
    for acc in facts.get("inactive_accounts") or []:
        if not isinstance(acc, dict):
            continue
        params = {"network": str(acc.get("network", "")), "handle": str(acc.get("handle", ""))}
        days = acc.get("days")
        if days is None:
            out.append(gettext("Nothing has ever been published on %(network)s (%(handle)s).") % params)
        else:
            out.append(gettext("Nothing was published on %(network)s (%(handle)s) for %(days)s days.")
                       % {**params, "days": fmt_int(days)})
    return out


def _audit_checks(kind: str, facts: dict) -> list[str]:
    counts = facts.get("audit_checks")
    if not isinstance(counts, dict) or not any(counts.get(k) for k in ("ok", "warn", "fail", "unknown")):
        return []
    return [gettext("Profile checks: %(ok)s passed, %(warn)s with warnings, %(fail)s failed, "
                    "%(unknown)s could not be checked.") % {
        k: fmt_int(int(counts.get(k) or 0)) for k in ("ok", "warn", "fail", "unknown")}]


def _followers(kind: str, facts: dict) -> list[str]:
    start, end = _num(facts.get("followers_start")), _num(facts.get("followers_end"))
    if end is None:
        return []
    if start is None:
        return [gettext("Followers: %(count)s.") % {"count": fmt_int(end)}]
    change = formulas.growth_rate(start, end)
    params = {"before": fmt_int(start), "after": fmt_int(end)}
    if start == end or change is None:
        return [gettext("Followers held steady at %(count)s.") % {"count": fmt_int(end)}]
    params["change"] = fmt_pct(abs(change))
    if end > start:
        return [gettext("Followers grew %(change)s (from %(before)s to %(after)s).") % params]
    return [gettext("Followers fell %(change)s (from %(before)s to %(after)s).") % params]


def _rate_change(metric: str, now: float | None, before: float | None) -> str | None:
    """A rate (%) this period vs the previous one: "X rose from 3.0 % to 4.1 %."."""
    if now is None:
        return None
    if before is None:
        return gettext("%(metric)s: %(value)s.") % {"metric": metric, "value": fmt_pct(now)}
    params = {"metric": metric, "before": fmt_pct(before), "after": fmt_pct(now)}
    if round(now, 1) == round(before, 1):
        return gettext("%(metric)s held steady at %(value)s.") % {"metric": metric, "value": fmt_pct(now)}
    if now > before:
        return gettext("%(metric)s rose from %(before)s to %(after)s.") % params
    return gettext("%(metric)s fell from %(before)s to %(after)s.") % params


def _count_change(metric: str, now: float | None, before: float | None) -> str | None:
    """A count this period vs the previous one: "Reach rose 24.0 % (from 10,000 to 12,400)."."""
    if now is None:
        return None
    change = formulas.growth_rate(before, now) if before is not None else None
    if before is None or change is None:  # no comparison (or nothing before: no % of 0)
        if before is None:
            return gettext("%(metric)s: %(value)s.") % {"metric": metric, "value": fmt_int(now)}
        return gettext("%(metric)s: %(value)s (previous period: %(previous)s).") % {
            "metric": metric, "value": fmt_int(now), "previous": fmt_int(before)}
    params = {"metric": metric, "change": fmt_pct(abs(change)), "before": fmt_int(before), "after": fmt_int(now)}
    if now == before:
        return gettext("%(metric)s held steady at %(value)s.") % {"metric": metric, "value": fmt_int(now)}
    if now > before:
        return gettext("%(metric)s rose %(change)s (from %(before)s to %(after)s).") % params
    return gettext("%(metric)s fell %(change)s (from %(before)s to %(after)s).") % params


def _engagement(kind: str, facts: dict) -> list[str]:
    basis = facts.get("engagement_rate_basis") or "reach"
    metric = str(METRIC_NAMES["engagement_rate_followers" if basis == "followers" else "engagement_rate_reach"])
    text = _rate_change(metric, _num(facts.get("engagement_rate")), _num(facts.get("engagement_rate_previous")))
    if text is None:
        return []
    rank = _RANK.get((kind, facts.get("engagement_rate_rank")))
    if rank is not None:
        text += " " + str(rank)
    return [text]


def _inbox(kind: str, facts: dict) -> list[str]:
    received = _num(facts.get("inbox_received"))
    if received is None:
        return []
    if received == 0:
        return [gettext("The inbox received no conversations.")]
    rate = _num(facts.get("inbox_response_rate"))
    if rate is None:
        rate = formulas.response_rate(answered=facts.get("inbox_answered"), received=received) \
            if _num(facts.get("inbox_answered")) is not None else None
    if rate is not None:
        text = gettext("The inbox answered %(rate)s of %(received)s conversations.") % {
            "rate": fmt_pct(rate), "received": fmt_int(received)}
    else:
        text = gettext("The inbox received %(received)s conversations.") % {"received": fmt_int(received)}
    hours = _num(facts.get("inbox_median_first_response_hours"))
    if hours is not None:
        text += " " + gettext("Median first response: %(hours)s.") % {"hours": fmt_value(hours, "h")}
    breaches = _num(facts.get("inbox_sla_breaches"))
    if breaches is not None:
        text += " " + (gettext("No conversation breached the SLA.") if breaches == 0 else
                       gettext("SLA breaches: %(count)s.") % {"count": fmt_int(breaches)})
    return [text]


def _reach(kind: str, facts: dict) -> list[str]:
    out = []
    for key, label in (("reach", _("Reach")), ("impressions", _("Impressions"))):
        text = _count_change(str(label), _num(facts.get(key)), _num(facts.get(f"{key}_previous")))
        if text:
            out.append(text)
    return out


def _posts(kind: str, facts: dict) -> list[str]:
    text = _count_change(gettext("Publications"), _num(facts.get("posts_published")),
                         _num(facts.get("posts_published_previous")))
    return [text] if text else []


def _web(kind: str, facts: dict) -> list[str]:
    out = []
    text = _count_change(str(METRIC_NAMES["web_visits"]), _num(facts.get("web_sessions")),
                         _num(facts.get("web_sessions_previous")))
    if text:
        out.append(text)
    clicks = _num(facts.get("short_link_clicks"))
    if clicks is not None:
        out.append(gettext("Short-link clicks: %(count)s.") % {"count": fmt_int(clicks)})
    return out


def _listening(kind: str, facts: dict) -> list[str]:
    out = []
    text = _count_change(gettext("Mentions"), _num(facts.get("mentions")), _num(facts.get("mentions_previous")))
    if text:
        negative = _num(facts.get("negative_mentions_share"))
        if negative is not None:
            text += " " + gettext("Negative: %(share)s.") % {"share": fmt_pct(negative)}
        out.append(text)
    text = _rate_change(str(METRIC_NAMES["share_of_voice"]), _num(facts.get("share_of_voice")),
                        _num(facts.get("share_of_voice_previous")))
    if text:
        out.append(text)
    return out


def _highlights(kind: str, facts: dict) -> list[str]:
    out = []
    top = facts.get("top_post")
    if isinstance(top, dict) and _num(top.get("engagement_rate")) is not None:
        out.append(gettext("The best post, on %(network)s, reached an engagement rate of %(rate)s.") % {
            "network": str(top.get("network", "")), "rate": fmt_pct(float(top["engagement_rate"]))})
    best = facts.get("best_campaign")
    if isinstance(best, dict) and _num(best.get("roi")) is not None:
        out.append(gettext("Best campaign: %(campaign)s, with a return on investment of %(roi)s.") % {
            "campaign": str(best.get("name", "")), "roi": fmt_pct(float(best["roi"]))})
    return out


# In order of importance.
RULES: list[Callable[[str, dict], list[str]]] = [
    _kpis, _inactive, _audit_checks, _followers, _engagement, _inbox, _reach, _posts, _web, _listening,
    _highlights,
]


def executive_summary(kind: str, facts: dict, language: str) -> list[str]:
    """The summary's sentences, most important first, in ``language``. See the module's
    docstring for the ``facts`` keys; unknown figures produce no sentence."""
    with translation.override(language):
        out: list[str] = []
        for rule in RULES:
            out.extend(rule(kind, facts or {}))
        return out
