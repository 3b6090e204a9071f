"""Turning a ``ReportData`` into HTML (the page, the public link, the PDF) and PDF bytes.

Everything is rendered in the report's language (the brand's, fixed when the report was
built): numbers and dates through ``django.utils.formats`` under ``translation.override``, the
charts by ``tertulia.analytics.charts`` in that locale. Text from the data (post texts, names)
goes through Django's autoescape; the only markup that is not escaped is the SVG of a chart,
which the charts module produces from our own spec and sanitises.

The PDF is made by WeasyPrint with a URL fetcher that refuses everything but ``data:`` URIs:
the logo is embedded as a data URI, and nothing in a report (a hostile ``<img src>`` in a post
text is escaped anyway) can make the server fetch a URL.
"""

from __future__ import annotations

import base64
import logging
from datetime import date, datetime
from pathlib import Path
from typing import Any

from django.template.loader import render_to_string
from django.utils import formats, translation
from django.utils.safestring import mark_safe
from django.utils.translation import gettext as _

from .blocks import ChartBlock, Checklist, Fact, Facts, Paragraphs, ReportData, Table

log = logging.getLogger(__name__)

DASH = "—"
NBSP = "\u00a0"
PDF_CSS = Path(__file__).parent / "static" / "reports" / "report_pdf.css"


# --- Numbers and dates in the report's language ---------------------------------------------

def number(value: Any, places: int | None = None) -> str:
    """A number in the active language: "1,234.5" / "1.234,5"; None is "—" (unknown, not 0)."""
    if value is None or value == "":
        return DASH
    if isinstance(value, bool):
        return str(value)
    if not isinstance(value, (int, float)):
        try:
            value = float(value)
        except (TypeError, ValueError):
            return str(value)
    if places is None:
        places = 0 if float(value).is_integer() else (1 if abs(value) >= 10 else 2)
    return formats.number_format(round(float(value), places) if places else int(round(value)), places,
                                 use_l10n=True, force_grouping=True)


def with_unit(value: Any, unit: str) -> str:
    if value is None:
        return DASH
    if unit == "%":
        return f"{number(value, 1)}{NBSP}%"
    if unit == "h":
        return f"{number(value, 1)}{NBSP}h"
    if unit:
        return f"{number(value, 2)}{NBSP}{unit}"
    return number(value)


def day(value: date | str | None) -> str:
    if value is None:
        return DASH
    if isinstance(value, str):
        try:
            value = date.fromisoformat(value)
        except ValueError:
            return value
    return formats.date_format(value, "DATE_FORMAT", use_l10n=True)


# Bidirectional embedding, override and isolate controls: in text from networks they can
# make "gnp.exe" read as "exe.png" and flip the rest of a line; they are dropped (the letters of
# right-to-left scripts need none of them to show correctly).
_BIDI_CONTROLS = dict.fromkeys(map(ord, "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"))


def clean_text(value: str) -> str:
    return value.translate(_BIDI_CONTROLS) if isinstance(value, str) else value


def _cell(value: Any, numeric: bool) -> str:
    if value is None:
        return DASH
    if numeric:
        return number(value)
    if isinstance(value, str):
        value = clean_text(value)
    if isinstance(value, (datetime, date)):
        value = value.isoformat()
    if isinstance(value, str) and len(value) in (10, 16, 19, 25, 32) and value[:4].isdigit() and value[4:5] == "-":
        try:
            if len(value) == 10:
                return day(value)
            return formats.date_format(datetime.fromisoformat(value), "SHORT_DATETIME_FORMAT", use_l10n=True)
        except ValueError:
            pass
    return str(value)


def change(value: Any, previous: Any, unit: str) -> str:
    """"+3.2 %" for counts (relative change), "+0.4 pp" for rates (absolute change); "" when unknown."""
    if value is None or previous is None:
        return ""
    try:
        value, previous = float(value), float(previous)
    except (TypeError, ValueError):
        return ""
    if unit == "%":
        delta = value - previous
        sign = "+" if delta > 0 else ("−" if delta < 0 else "±")
        return f"{sign}{number(abs(delta), 1)}{NBSP}{_('pp')}"
    if previous == 0:
        return ""
    delta = (value - previous) / abs(previous) * 100
    sign = "+" if delta > 0 else ("−" if delta < 0 else "±")
    return f"{sign}{number(abs(delta), 1)}{NBSP}%"


# --- Charts -----------------------------------------------------------------------------

def chart_svg(spec: dict, language: str) -> str:
    """The chart as inline SVG (sanitised by the charts module), or "" if it cannot be drawn:
    the table under it still carries the figures."""
    try:
        from tertulia.analytics import charts
    except ImportError:  # pragma: no cover - the charts module ships with analytics
        return ""
    try:
        return charts.render_svg(spec, language)
    except Exception:  # a chart that fails must not lose the report: its table is still printed
        log.exception("report chart failed to render")
        return ""


# --- Blocks to view models ---------------------------------------------------------------

def _fact(f: Fact) -> dict:
    return {"label": clean_text(f.label), "value": with_unit(f.value, f.unit), "known": f.value is not None,
            "previous": with_unit(f.previous, f.unit) if f.previous is not None else "",
            "change": change(f.value, f.previous, f.unit), "status": f.status or "", "note": clean_text(f.note)}


def _widths(columns: list[str], rows: list[list[str]]) -> list[int]:
    """Column widths in % for the PDF's fixed table layout (WeasyPrint's automatic layout
    measures every word of every cell, which is most of a report's rendering time): each
    column gets a share by the length of its longest text, within 8–50 %."""
    longest = [max([len(str(c))] + [len(r[i][0]) for r in rows if i < len(r)]) for i, c in enumerate(columns)]
    weights = [min(max(n, 6), 60) for n in longest]
    total = sum(weights) or 1
    widths = [max(8, min(50, round(w * 100 / total))) for w in weights]
    scale = 100 / (sum(widths) or 1)
    return [max(1, int(w * scale)) for w in widths]


def _block(block, language: str, charts: bool) -> dict:
    if isinstance(block, Facts):
        return {"type": "facts", "items": [_fact(f) for f in block.items]}
    if isinstance(block, Paragraphs):
        return {"type": "paragraphs", "items": [clean_text(p) for p in block.items]}
    if isinstance(block, Table):
        numeric = list(block.numeric) + [False] * (len(block.columns) - len(block.numeric))
        rows = [[(_cell(v, numeric[i] if i < len(numeric) else False), numeric[i] if i < len(numeric) else False)
                 for i, v in enumerate(row)] for row in block.rows]
        return {"type": "table", "columns": list(zip(block.columns, numeric, _widths(block.columns, rows))),
                "rows": rows}
    if isinstance(block, ChartBlock):
        svg = chart_svg(block.spec, language) if charts else ""
        return {"type": "chart", "title": clean_text(block.title), "svg": mark_safe(svg),  # noqa: S308 - sanitised  # nosec B308 B703 # built from escaped or sanitised parts (see above)
                "columns": block.columns, "rows": [[_cell(v, isinstance(v, (int, float))) for v in row]
                                                    for row in block.rows]}
    if isinstance(block, Checklist):
        return {"type": "checklist", "items": [{"label": clean_text(i.label), "status": i.status,
                                                "detail": clean_text(i.detail)} for i in block.items]}
    raise ValueError(f"unknown block {block!r}")


def logo_data_uri(brand) -> str:
    """The brand's logo as a data: URI (validated and re-encoded on upload), or ""."""
    logo = getattr(brand, "logo", None)
    if not logo or not logo.name:
        return ""
    try:
        with logo.open("rb") as fh:
            data = fh.read(3 * 1024 * 1024)
    except (FileNotFoundError, OSError, ValueError):
        return ""
    mime = "image/png"
    if data[:3] == b"\xff\xd8\xff":
        mime = "image/jpeg"
    elif data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        mime = "image/webp"
    elif data[:8] != b"\x89PNG\r\n\x1a\n":
        return ""
    return f"data:{mime};base64,{base64.b64encode(data).decode()}"


def context(report: ReportData, brand, *, for_pdf: bool = False, charts: bool = True) -> dict:
    with translation.override(report.language):
        return {
            "report": report,
            "brand": brand,
            "language": report.language,
            "period": f"{day(report.period_start)} – {day(report.period_end)}",
            "compared": (f"{day(report.compared_start)} – {day(report.compared_end)}"
                         if report.compared_start and report.compared_end else ""),
            "sections": [{"id": s.id, "title": s.title,
                          "blocks": [_block(b, report.language, charts) for b in s.blocks]}
                         for s in report.sections],
            "logo": logo_data_uri(brand),
            "primary": getattr(brand, "primary_color", "") or "#1f3a5f",
            "accent": getattr(brand, "accent_color", "") or "#e07a1f",
            "for_pdf": for_pdf,
            "pdf_css": PDF_CSS.read_text() if for_pdf else "",
        }


def render_html(report_data: ReportData, brand, *, for_pdf: bool = False) -> str:
    """The report as HTML in its language: a fragment for pages (``for_pdf=False``), or a
    whole document with its print stylesheet for WeasyPrint."""
    ctx = context(report_data, brand, for_pdf=for_pdf)
    with translation.override(report_data.language):
        return render_to_string("reports/report_pdf.html" if for_pdf else "reports/report_body.html", ctx)


# --- PDF --------------------------------------------------------------------------------

def _fetcher():
    from weasyprint.urls import URLFetcher

    class DataOnlyFetcher(URLFetcher):
        """Nothing leaves the machine: only data: URIs (the embedded logo) are read."""

        def fetch(self, url, headers=None):
            if not url.lower().startswith("data:"):
                raise ValueError("report PDFs fetch nothing")
            return super().fetch(url, headers)

    return DataOnlyFetcher()


def render_pdf(report_data: ReportData, brand) -> bytes:
    from weasyprint import HTML

    html = render_html(report_data, brand, for_pdf=True)
    return HTML(string=html, url_fetcher=_fetcher()).write_pdf()
