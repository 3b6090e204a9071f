"""Charts as server-side SVG: Vega-Lite specs rendered by vl-convert, with the language's
number and date formats (es → "1.234,5", "marzo"; en → "1,234.5", "March").

A ``Chart`` carries its spec (with its data inline: vl-convert is never given a URL, and the
renderer refuses specs that name one), and the same data as a table (``columns``, ``rows``)
for the table view, the CSV export and the PDF. Build charts with ``line``, ``bars``,
``stacked_bars`` and ``heatmap``; the dashboard's charts come from ``dashboard_charts``.

The SVG goes inline into pages, and chart text (pillar names, account handles…) comes from
users and networks, so the output of vl-convert is sanitized: parsed as XML (no DOCTYPE or
entities accepted), only drawing elements and attributes on an allowlist are kept (no script,
foreignObject, event handlers, links or external references), and re-serialized, which escapes
every text node and attribute. Renders are cached in-process by (spec, language): the same
figures render once.
"""

from __future__ import annotations

import csv
import io
import json
import re
import xml.etree.ElementTree as ET  # nosec B405 # parses only vl-convert's own SVG; DOCTYPE/ENTITY refused before parsing
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from functools import lru_cache
from typing import Any

from django.utils.translation import get_language
from django.utils.translation import gettext as _

from tertulia.core.dateformats import DateFormat

SVG_NS = "http://www.w3.org/2000/svg"
LOCALES = {"es": "es-ES", "en": "en-US"}
WIDTH = 560
HEIGHT = 220
COLORS = ["#1f3a5f", "#e07a1f", "#3b8f6e", "#b8433a", "#7a5fa8", "#c9a227", "#4f86c6", "#8a8a8a"]
UNKNOWN_CELL = "#eeeeee"  # a heatmap cell with too few samples
SENTIMENT_COLORS = {"negative": "#b8433a", "neutral": "#9aa3ad", "positive": "#3b8f6e"}

_ALLOWED_ELEMENTS = {"svg", "g", "path", "rect", "line", "polyline", "polygon", "circle", "ellipse", "text",
                     "tspan", "title", "desc", "defs", "clipPath", "linearGradient", "radialGradient", "stop"}
_ALLOWED_ATTRS = {
    "class", "width", "height", "viewBox", "x", "y", "x1", "x2", "y1", "y2", "cx", "cy", "r", "rx", "ry", "d",
    "points", "transform", "fill", "fill-opacity", "stroke", "stroke-width", "stroke-opacity", "stroke-dasharray",
    "stroke-dashoffset", "stroke-linecap", "stroke-linejoin", "stroke-miterlimit", "opacity", "font-family",
    "font-size", "font-weight", "font-style", "text-anchor", "dominant-baseline", "dx", "dy", "role",
    "aria-label", "aria-roledescription", "aria-hidden", "pointer-events", "display", "clip-path", "id",
    "offset", "stop-color", "stop-opacity", "gradientUnits", "version", "preserveAspectRatio",
    "paint-order", "shape-rendering",
}
# Attribute values that point somewhere: only local references (url(#id)) are kept.
_EXTERNAL = re.compile(r"url\(\s*['\"]?\s*(?!#)", re.I)


class UnsafeSpec(ValueError):
    """A spec that would make vl-convert load something (a data URL, an image)."""


@dataclass
class Chart:
    """One chart: ``id`` (stable, used in URLs: ``[a-z0-9_-]``), ``title`` (translated),
    ``spec`` (Vega-Lite, data inline), and its table view ``columns`` × ``rows`` (cells: str,
    int, float, Decimal, date or None = unknown). ``numeric``: which columns are numbers."""

    id: str
    title: str
    spec: dict
    columns: list[str]
    rows: list[list[Any]]
    numeric: list[bool] = field(default_factory=list)
    note: str = ""  # e.g. what a missing figure means, shown under the chart
    svg_url: str = ""  # where a page loads it from (set by the views)
    csv_url: str = ""

    @property
    def empty(self) -> bool:
        return not self.rows

    @property
    def cells(self) -> list[list[tuple[str, Any]]]:
        """The table view for templates (``table_cells``)."""
        return table_cells(self)

    def table_html(self) -> str:
        """The table view as HTML rows (``<tr>``…), numbers and dates in the active language,
        unknown values as "—", every text escaped. Built here rather than in a template loop:
        a long period's rows would cost more to render than the figures cost to compute."""
        from html import escape  # what django.utils.html.escape does, without its lazy-string wrapper

        from django.utils import numberformat
        from django.utils.formats import get_format
        from django.utils.safestring import mark_safe

        date_fmt = DateFormat(get_format("SHORT_DATE_FORMAT"))
        decimal_sep, thousand_sep = get_format("DECIMAL_SEPARATOR"), get_format("THOUSAND_SEPARATOR")
        grouping = get_format("NUMBER_GROUPING")
        dash = '<td class="num"><span class="missing">—</span></td>'
        by_threes = grouping == 3  # ints: Python's grouping gives numberformat's result, faster
        parts = []
        for row in table_cells(self):
            tds = []
            for kind, value in row:
                if kind == "none":
                    tds.append(dash)
                elif kind == "num":
                    if by_threes and type(value) is int:
                        text = f"{value:,}".replace(",", thousand_sep)
                    else:
                        places = 0 if isinstance(value, int) or float(value).is_integer() else 2
                        text = numberformat.format(value, decimal_sep, places, grouping, thousand_sep,
                                                   force_grouping=True)
                    tds.append(f'<td class="num">{text}</td>')  # digits, sign and the language's separators
                elif kind == "date":
                    tds.append(f"<td>{escape(date_fmt(value))}</td>")
                else:
                    tds.append(f"<td>{escape(str(value))}</td>")
            parts.append("<tr>" + "".join(tds) + "</tr>")
        return mark_safe("\n".join(parts))  # nosec B308 B703 # built from escaped or sanitised parts (see above)

    def svg(self, language: str | None = None) -> str:
        """The chart as a sanitized inline SVG, numbers and dates in ``language`` (default:
        the active one)."""
        return render_svg(self.spec, language or get_language() or "en")

    def csv(self) -> str:
        """The table view as CSV (header row first); text cells a spreadsheet would run as a
        formula (starting with = + - @, tab or CR) are prefixed with ``'``."""
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\r\n")
        writer.writerow([_csv_cell(c) for c in self.columns])
        for row in self.rows:
            writer.writerow([_csv_cell(c) for c in row])
        return out.getvalue()

    def to_block(self):
        """The chart as a report block (``tertulia.reports.blocks.ChartBlock``)."""
        from tertulia.reports.blocks import ChartBlock

        return ChartBlock(title=self.title, spec=self.spec, columns=list(self.columns),
                          rows=[[_json_cell(c) for c in r] for r in self.rows])


def _csv_cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, (int, float, Decimal)):
        return str(round(value, 4)) if isinstance(value, float) else str(value)
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    text = str(value)
    if text[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + text
    return text


def _json_cell(value):
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    return value


# --- Rendering ---------------------------------------------------------------------------------

def _check_inline(node) -> None:
    if isinstance(node, dict):
        for k, v in node.items():
            if k == "url" or (k == "data" and isinstance(v, dict) and "values" not in v and "name" not in v):
                raise UnsafeSpec("charts carry their data inline")
            if k == "mark" and (v == "image" or (isinstance(v, dict) and v.get("type") == "image")):
                raise UnsafeSpec("no image marks")
            _check_inline(v)
    elif isinstance(node, list):
        for v in node:
            _check_inline(v)


def render_svg(spec: dict, language: str) -> str:
    """Render a Vega-Lite spec to a sanitized SVG string in ``language`` ("es"/"en")."""
    _check_inline(spec)
    locale = LOCALES.get((language or "en")[:2], "en-US")
    return _render_cached(json.dumps(spec, sort_keys=True, default=str), locale)


@lru_cache(maxsize=256)
def _render_cached(spec_json: str, locale: str) -> str:
    import vl_convert

    raw = vl_convert.vegalite_to_svg(json.loads(spec_json), format_locale=locale, time_format_locale=locale)
    return sanitize_svg(raw)


def sanitize_svg(raw: str) -> str:
    """Keep only allowlisted SVG drawing elements and attributes; drop everything else (with
    its content). Refuses documents with a DOCTYPE or entities."""
    if "<!DOCTYPE" in raw.upper() or "<!ENTITY" in raw.upper():
        raise ValueError("SVG with a DOCTYPE")
    root = ET.fromstring(raw)  # nosec B314 # parses only vl-convert's own SVG; DOCTYPE/ENTITY refused before parsing
    if _local(root.tag) != "svg":
        raise ValueError("not an SVG")
    _clean(root)
    root.set("role", "img")
    ET.register_namespace("", SVG_NS)
    return ET.tostring(root, encoding="unicode")


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1] if isinstance(tag, str) else ""


def _clean(el) -> None:
    for name in list(el.attrib):
        local = _local(name)
        value = el.attrib[name]
        if ("}" in name or local not in _ALLOWED_ATTRS or local.lower().startswith("on")
                or _EXTERNAL.search(value) or "javascript:" in value.lower()):
            del el.attrib[name]
    for child in list(el):
        if not isinstance(child.tag, str) or not child.tag.startswith("{" + SVG_NS + "}") \
                or _local(child.tag) not in _ALLOWED_ELEMENTS:
            el.remove(child)
        else:
            _clean(child)


# --- Builders ------------------------------------------------------------------------------------

def _base(width: int = WIDTH, height: int = HEIGHT) -> dict:
    return {
        "$schema": "https://vega.github.io/schema/vega-lite/v5.json",
        "width": width, "height": height, "background": "white",
        "config": {"font": "DejaVu Sans, sans-serif", "axis": {"labelFontSize": 11, "titleFontSize": 11},
                   "legend": {"labelFontSize": 11, "titleFontSize": 11, "orient": "bottom"},
                   "range": {"category": COLORS}},
    }


def _num_format(decimals: int) -> str:
    return f",.{decimals}f" if decimals else ",d"


def line(id: str, title: str, points: Sequence[tuple[date, str, float | None]], *, y_title: str,
         series_title: str = "", decimals: int = 0, note: str = "") -> Chart:
    """A line over time: ``points`` = (day, series name, value); unknown values are left out
    of the line (a gap in the table: "—"), never drawn as 0."""
    values = [{"day": d.isoformat(), "series": str(s), "value": float(v)} for d, s, v in points if v is not None]
    spec = _base() | {
        "data": {"values": values},
        "mark": {"type": "line", "point": True, "interpolate": "monotone"},
        "encoding": {
            "x": {"field": "day", "type": "temporal", "title": None, "scale": {"type": "utc"}},
            "y": {"field": "value", "type": "quantitative", "title": y_title, "scale": {"zero": False},
                  "axis": {"format": _num_format(decimals)}},
            "color": {"field": "series", "type": "nominal", "title": series_title or None},
        },
    }
    return Chart(id, title, spec, [_("Day"), series_title or _("Series"), y_title],
                 [[d, str(s), v] for d, s, v in points], [False, False, True], note)


def bars(id: str, title: str, items: Sequence[tuple[str, float | None]], *, value_title: str,
         category_title: str = "", decimals: int = 0, horizontal: bool = True, sort: bool = False,
         extra_columns: Sequence[str] = (), extra: Sequence[Sequence[Any]] = (), note: str = "") -> Chart:
    """Bars with their value written beside each (locale formatted). Unknown values get no bar
    and stay "—" in the table. ``extra_columns``/``extra`` add table-only columns (e.g. posts)."""
    values = [{"category": str(c), "value": float(v), "order": i} for i, (c, v) in enumerate(items) if v is not None]
    cat_axis = "y" if horizontal else "x"
    val_axis = "x" if horizontal else "y"
    sort_spec = "-x" if (sort and horizontal) else ("-y" if sort else {"field": "order"})
    enc = {
        cat_axis: {"field": "category", "type": "nominal", "title": category_title or None, "sort": sort_spec,
                   "axis": {"labelLimit": 180}},
        val_axis: {"field": "value", "type": "quantitative", "title": value_title,
                   "axis": {"format": _num_format(decimals)}},
    }
    label = {"mark": {"type": "text", "align": "left" if horizontal else "center",
                      "baseline": "middle" if horizontal else "bottom",
                      "dx": 3 if horizontal else 0, "dy": 0 if horizontal else -2, "fontSize": 10},
             "encoding": {"text": {"field": "value", "type": "quantitative", "format": _num_format(decimals)}}}
    height = max(60, 22 * len(items)) if horizontal else HEIGHT
    spec = _base(height=height) | {
        "data": {"values": values},
        "encoding": enc,
        "layer": [{"mark": {"type": "bar", "color": COLORS[0]}}, label],
    }
    columns = [category_title or _("Group"), value_title, *extra_columns]
    rows = [[str(c), v, *(extra[i] if i < len(extra) else [])] for i, (c, v) in enumerate(items)]
    return Chart(id, title, spec, columns, rows, [False, True, *([True] * len(extra_columns))], note)


def stacked_bars(id: str, title: str, items: Sequence[tuple[str, str, float | None]], *, value_title: str,
                 category_title: str = "", stack_title: str = "", colors: dict[str, str] | None = None,
                 stack_order: Sequence[str] = (), decimals: int = 0, note: str = "") -> Chart:
    """Stacked bars: ``items`` = (category, stack part, value)."""
    order = {s: i for i, s in enumerate(stack_order)}
    values = [{"category": str(c), "part": str(p), "value": float(v), "o": order.get(p, 99)}
              for c, p, v in items if v is not None]
    color: dict = {"field": "part", "type": "nominal", "title": stack_title or None,
                   "sort": [str(s) for s in stack_order] or None}
    if colors:
        color["scale"] = {"domain": list(colors), "range": list(colors.values())}
    spec = _base(height=max(60, 30 * len({c for c, _p, _v in items}))) | {
        "data": {"values": values},
        "mark": {"type": "bar"},
        "encoding": {
            "y": {"field": "category", "type": "nominal", "title": category_title or None},
            "x": {"field": "value", "type": "quantitative", "title": value_title, "stack": "zero",
                  "axis": {"format": _num_format(decimals)}},
            "color": color,
            "order": {"field": "o", "type": "quantitative"},
        },
    }
    return Chart(id, title, spec, [category_title or _("Group"), stack_title or _("Part"), value_title],
                 [[str(c), str(p), v] for c, p, v in items], [False, False, True], note)


def heatmap(id: str, title: str, cells: Sequence[tuple[int, int, float | None, int]], *, value_title: str,
            decimals: int = 1, note: str = "") -> Chart:
    """A weekday × hour grid: ``cells`` = (weekday 0 = Monday, hour 0..23, value or None,
    samples). A cell without a value (too few samples) is grey; the number in each cell is its
    sample size."""
    days = _weekday_names()
    values = [{"day": days[w], "w": w, "hour": h, "value": (float(v) if v is not None else None), "n": n}
              for w, h, v, n in cells]
    spec = _base(width=WIDTH, height=7 * 24) | {
        "data": {"values": values},
        "encoding": {
            "x": {"field": "hour", "type": "ordinal", "title": _("Hour"), "axis": {"labelAngle": 0}},
            "y": {"field": "day", "type": "ordinal", "title": None, "sort": days},
        },
        "layer": [
            {"mark": {"type": "rect", "stroke": "white", "color": UNKNOWN_CELL}},
            {"transform": [{"filter": "datum.value !== null"}],
             "mark": {"type": "rect", "stroke": "white"},
             "encoding": {"color": {"field": "value", "type": "quantitative", "title": value_title,
                                    "scale": {"scheme": "blues"},
                                    "legend": {"format": _num_format(decimals)}}}},
            {"mark": {"type": "text", "fontSize": 8},
             "encoding": {"text": {"field": "n", "type": "quantitative", "format": ",d"},
                          "color": {"value": "#333333"}}},
        ],
    }
    return Chart(id, title, spec, [_("Day"), _("Hour"), value_title, _("Posts")],
                 [[days[w], h, v, n] for w, h, v, n in cells], [False, True, True, True], note)


def _weekday_names() -> list[str]:
    from django.utils.dates import WEEKDAYS_ABBR

    return [str(WEEKDAYS_ABBR[i]) for i in range(7)]


# --- The dashboard's charts -------------------------------------------------------------------

def dashboard_charts(d) -> list[Chart]:
    """The charts of a ``figures.Dashboard``, in page order. Chart ids are stable
    ("growth", "engagement_network", "pillars", "formats", "hours", "sentiment", "inbox",
    "traffic")."""
    charts = [growth_chart(d.growth)]
    charts.append(group_chart("engagement_network", _("Engagement rate by network"), d.networks, _("Network")))
    charts.append(group_chart("pillars", _("Engagement rate by pillar"), d.pillars, _("Pillar")))
    charts.append(group_chart("formats", _("Engagement rate by format"), d.formats, _("Format")))
    charts.append(hours_chart(d.hours))
    charts.append(sentiment_chart(d.sentiment))
    weekly = d.period.days > 92
    if d.inbox is not None:
        charts.append(inbox_chart(d.inbox, weekly=weekly))
    if d.traffic is not None:
        charts.append(traffic_chart(d.traffic, weekly=weekly))
    return charts


CHART_IDS = ("growth", "engagement_network", "pillars", "formats", "hours", "sentiment", "inbox", "traffic")


def growth_chart(growth) -> Chart:
    """Followers per account; the table has one row per day and one column per account."""
    chart = line("growth", _("Followers per account"),
                 [(day, handle, followers) for day, _a, handle, followers in growth.series],
                 y_title=_("Followers"), series_title=_("Account"))
    accounts = list(dict.fromkeys(label for _d, _a, label, _f in growth.series))
    by_day: dict = {}
    for day, _a, label, followers in growth.series:
        by_day.setdefault(day, {})[label] = followers
    chart.columns = [_("Day"), *accounts]
    chart.rows = [[day, *(values.get(a) for a in accounts)] for day, values in sorted(by_day.items())]
    chart.numeric = [False, *([True] * len(accounts))]
    return chart


def group_chart(id: str, title: str, groups, category_title: str) -> Chart:
    """Engagement rate per group (network, pillar, format), with posts and reach in the table."""
    return bars(id, title, [(g.label, g.engagement_rate) for g in groups],
                value_title=_("Engagement rate (%)"), category_title=category_title, decimals=2,
                extra_columns=[_("Posts"), _("Reach"), _("Engagements")],
                extra=[[g.posts, g.reach, g.engagements] for g in groups])


def hours_chart(hours) -> Chart:
    return bars("hours", _("Engagement rate by hour of publication"),
                [(g.label, g.engagement_rate) for g in hours],
                value_title=_("Engagement rate (%)"), category_title=_("Hour"), decimals=2, horizontal=False,
                extra_columns=[_("Posts")], extra=[[g.posts] for g in hours])


def sentiment_chart(mix) -> Chart:
    from tertulia.inbox.models import Interaction

    labels = dict(Interaction.Sentiment.choices)
    parts = [(str(labels[s]), getattr(mix, s)) for s in ("negative", "neutral", "positive")]
    if mix.unclassified:
        parts.append((_("Not classified"), mix.unclassified))
    colors = {str(labels[s]): c for s, c in SENTIMENT_COLORS.items()} | {str(_("Not classified")): "#dddddd"}
    return stacked_bars("sentiment", _("Sentiment of received messages"),
                        [(str(_("Messages")), p, v) for p, v in parts] if mix.classified + mix.unclassified else [],
                        value_title=_("Messages"), stack_title=_("Sentiment"), colors=colors,
                        stack_order=[p for p, _v in parts])


def _weeks(by_day, weekly: bool):
    """Daily rows (day, a, b) as they are, or summed per week (Monday to Sunday, dated on the
    week's Monday) for long periods; a sum over only unknown values stays unknown."""
    if not weekly:
        return list(by_day)
    out: dict = {}
    for day, *values in by_day:
        monday = day - timedelta(days=day.weekday())
        acc = out.setdefault(monday, [None] * len(values))
        for i, v in enumerate(values):
            if v is not None:
                acc[i] = (acc[i] or 0) + v
    return [(monday, *values) for monday, values in sorted(out.items())]


def _two_series(id, title, rows, names, y_title, weekly) -> Chart:
    """A line per series over time; the table has one row per day (or week) and a column
    per series."""
    points = [(day, str(name), value) for day, *values in rows for name, value in zip(names, values)]
    chart = line(id, title, points, y_title=y_title)
    chart.columns = [_("Week") if weekly else _("Day"), *[str(n) for n in names]]
    chart.rows = [list(r) for r in rows]
    chart.numeric = [False, *([True] * len(names))]
    return chart


def inbox_chart(figures, *, weekly: bool = False) -> Chart:
    return _two_series("inbox", _("Conversations received and answered"), _weeks(figures.by_day, weekly),
                       [_("Received"), _("Answered")], _("Conversations"), weekly)


def traffic_chart(figures, *, weekly: bool = False) -> Chart:
    return _two_series("traffic", _("Web traffic from social"), _weeks(figures.by_day, weekly),
                       [_("Short link clicks"), _("Sessions from social")], _("Visits"), weekly)


def chart_by_id(chart_id: str, brand_ids, period) -> Chart:
    """One dashboard chart by its id, computing only the figures it needs (the chart and CSV
    endpoints). KeyError for an unknown id."""
    from . import figures

    ids = list(brand_ids)
    builders = {
        "growth": lambda: growth_chart(figures.community_growth(ids, period)),
        "engagement_network": lambda: group_chart("engagement_network", _("Engagement rate by network"),
                                                  figures.by_network(ids, period), _("Network")),
        "pillars": lambda: group_chart("pillars", _("Engagement rate by pillar"), figures.by_pillar(ids, period),
                                       _("Pillar")),
        "formats": lambda: group_chart("formats", _("Engagement rate by format"), figures.by_format(ids, period),
                                       _("Format")),
        "hours": lambda: hours_chart(figures.by_hour(ids, period)),
        "sentiment": lambda: sentiment_chart(figures.sentiment_mix(ids, period)),
        "inbox": lambda: inbox_chart(figures.inbox(ids, period), weekly=period.days > 92),
        "traffic": lambda: traffic_chart(figures.web_traffic(ids, period), weekly=period.days > 92),
    }
    return builders[chart_id]()


def best_time_chart(grid) -> Chart:
    """The day × hour heatmap of a ``best_time.BestTime``."""
    from .best_time import ENGAGEMENT_RATE

    is_rate = grid.metric == ENGAGEMENT_RATE
    value_title = _("Engagement rate (%)") if is_rate else _("Engagements per post")
    return heatmap("best_time", _("Best time to post"),
                   [(c.weekday, c.hour, c.score, c.samples) for c in grid.cells], value_title=value_title,
                   decimals=2 if is_rate else 1)


def table_cells(chart: Chart) -> list[list[tuple[str, Any]]]:
    """The table view for templates: each cell as (kind, value), kind one of "none" (shown as
    "—"), "num", "date", "text"."""
    out = []
    for row in chart.rows:
        cells = []
        for i, value in enumerate(row):
            if value is None:
                cells.append(("none", None))
            elif isinstance(value, (date, datetime)):
                cells.append(("date", value))
            elif isinstance(value, (int, float, Decimal)) and not isinstance(value, bool) and (
                    i >= len(chart.numeric) or chart.numeric[i]):
                cells.append(("num", value))
            else:
                cells.append(("text", value))
        out.append(cells)
    return out
