"""What a report is made of, independent of how it is shown.

A builder (``weekly``, ``monthly``, ``quarterly``, ``yearly``) turns a brand and a period into
a ``ReportData``: sections of typed blocks. The same data renders as the HTML page, the PDF and
the e-mail, and is stored as JSON in the archive, so a report read a year later shows the
figures of the day it was made.

Every text here is already translated into the report's language (the brand's) by the builder;
numbers stay numbers (``None`` when unknown, never 0) and are formatted when rendered, in that
language. Text that comes from social networks or users is plain text: templates escape it.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import date
from typing import Any, Literal

Status = Literal["ok", "warn", "fail", "unknown"]


@dataclass
class Fact:
    """One headline figure: "Followers 12,340 (+3.2 % vs the previous week)"."""

    label: str
    value: float | int | None
    unit: str = ""  # "%", "h", "" (a count), or a currency code
    previous: float | int | None = None  # the comparison period's value, when there is one
    status: Status | None = None  # a KPI's traffic light
    note: str = ""  # e.g. why a figure is missing


@dataclass
class Facts:
    items: list[Fact]
    type: str = "facts"


@dataclass
class Paragraphs:
    """Sentences, e.g. the executive summary: facts put into words by rules, never invented."""

    items: list[str]
    type: str = "paragraphs"


@dataclass
class Table:
    columns: list[str]
    rows: list[list[Any]]  # cells: str, int, float, None (shown as "—"), or a date/datetime as ISO text
    numeric: list[bool] = field(default_factory=list)  # per column: right-aligned, formatted as a number
    type: str = "table"


@dataclass
class ChartBlock:
    """A chart by its spec (Vega-Lite); rendered to SVG in the report's language. ``rows`` and
    ``columns`` are the chart's table view (the PDF prints it under the chart)."""

    title: str
    spec: dict
    columns: list[str]
    rows: list[list[Any]]
    type: str = "chart"


@dataclass
class CheckItem:
    label: str
    status: Status
    detail: str = ""


@dataclass
class Checklist:
    """The audit's checks: each passes, warns, fails or could not be checked (and says why)."""

    items: list[CheckItem]
    type: str = "checklist"


Block = Facts | Paragraphs | Table | ChartBlock | Checklist


@dataclass
class Section:
    id: str  # stable, for anchors and tests: "summary", "kpis", "top_posts"…
    title: str
    blocks: list[Block]


@dataclass
class ReportData:
    kind: str  # weekly | monthly | quarterly | yearly
    brand_id: int
    language: str  # the brand's language: "es" or "en"
    title: str
    period_start: date
    period_end: date  # inclusive, in the brand's time zone
    sections: list[Section]
    compared_start: date | None = None
    compared_end: date | None = None

    def to_json(self) -> dict:
        """Plain data; dates as ISO text, so it fits a JSONField as is."""
        data = asdict(self)
        for key in ("period_start", "period_end", "compared_start", "compared_end"):
            if data[key] is not None:
                data[key] = data[key].isoformat()
        return data


def _block_from(d: dict) -> Block:
    kind = d.get("type")
    if kind == "facts":
        return Facts(items=[Fact(**i) for i in d["items"]])
    if kind == "paragraphs":
        return Paragraphs(items=list(d["items"]))
    if kind == "table":
        return Table(columns=d["columns"], rows=d["rows"], numeric=d.get("numeric", []))
    if kind == "chart":
        return ChartBlock(title=d["title"], spec=d["spec"], columns=d["columns"], rows=d["rows"])
    if kind == "checklist":
        return Checklist(items=[CheckItem(**i) for i in d["items"]])
    raise ValueError(f"unknown block type {kind!r}")


def from_json(d: dict) -> ReportData:
    """The inverse of ``ReportData.to_json`` (archived reports)."""
    return ReportData(
        kind=d["kind"], brand_id=d["brand_id"], language=d["language"], title=d["title"],
        period_start=date.fromisoformat(str(d["period_start"])), period_end=date.fromisoformat(str(d["period_end"])),
        compared_start=date.fromisoformat(str(d["compared_start"])) if d.get("compared_start") else None,
        compared_end=date.fromisoformat(str(d["compared_end"])) if d.get("compared_end") else None,
        sections=[Section(id=s["id"], title=s["title"], blocks=[_block_from(b) for b in s["blocks"]])
                  for s in d["sections"]],
    )
