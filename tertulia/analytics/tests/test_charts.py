"""analytics.charts: locale-aware SVG, sanitized, with a formula-safe CSV. No database."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from datetime import date

import pytest
from django.utils import translation

from tertulia.analytics import charts

XSS = '<script>alert("x")</script><img src=x onerror=alert(1)>'


def _texts(svg: str) -> list[str]:
    return re.findall(r">([^<>]+)</text>", svg)


def test_bars_spanish_and_english_number_formats():
    chart = charts.bars("er", "ER", [("Producto", 1234.5), ("Marca", 12.25)], value_title="ER", decimals=1)
    es = chart.svg("es")
    en = chart.svg("en")
    assert "1.234,5" in _texts(es) and "1,234.5" in _texts(en)
    assert es.startswith("<svg") and 'role="img"' in es


def test_user_text_is_escaped_and_nothing_active_survives():
    chart = charts.bars("pillars", "Pillars", [(XSS, 3.0), ("ok", None)], value_title="ER")
    svg = chart.svg("en")
    tree = ET.fromstring(svg)
    tags = {el.tag.rsplit("}", 1)[-1] for el in tree.iter()}
    assert not tags & {"script", "img", "foreignObject", "a", "image"}
    assert not [a for el in tree.iter() for a in el.attrib if a.lower().startswith("on")]
    assert "<script" not in svg and "<img" not in svg
    assert "&lt;script&gt;" in svg  # the text is there, as text
    # the unknown value is in the table as None ("—" on the page), and no bar is drawn for it
    assert chart.rows[1][:2] == ["ok", None]


def test_sanitizer_drops_scripts_handlers_links_and_foreign_content():
    raw = ('<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" onload="x()">'
           '<script>alert(1)</script><g onclick="y()" fill="url(http://evil/x)" stroke="url(#ok)">'
           '<a xlink:href="javascript:alert(1)"><text>t</text></a><text x="1">keep &amp; &lt;b&gt;</text>'
           '<foreignObject><div>x</div></foreignObject><image href="http://evil/p.png"/></g></svg>')
    clean = charts.sanitize_svg(raw)
    for bad in ("script", "onload", "onclick", "evil", "javascript", "foreignObject", "<a", "<image", "xlink"):
        assert bad not in clean
    assert 'stroke="url(#ok)"' in clean and "keep &amp; &lt;b&gt;" in clean
    with pytest.raises(ValueError):
        charts.sanitize_svg('<!DOCTYPE svg [<!ENTITY e "x">]><svg xmlns="http://www.w3.org/2000/svg">&e;</svg>')


@pytest.mark.parametrize("spec", [
    {"data": {"url": "http://127.0.0.1/x.json"}, "mark": "bar"},
    {"data": {"values": []}, "layer": [{"data": {"url": "file:///etc/passwd"}, "mark": "bar"}]},
    {"data": {"values": [{"u": "http://x/y.png"}]}, "mark": "image"},
])
def test_specs_that_would_fetch_are_refused(spec):
    with pytest.raises(charts.UnsafeSpec):
        charts.render_svg(spec, "en")


def test_csv_export_neutralises_formulas_and_keeps_numbers():
    with translation.override("en"):
        chart = charts.bars("x", "X", [("=cmd|' /C calc'!A0", 1.5), ("+1", None), ("@sum", -2), ("-x", 0),
                                       ("fine", 3)], value_title="Value")
    lines = chart.csv().splitlines()
    assert lines[0] == "Group,Value"
    assert lines[1] == "'=cmd|' /C calc'!A0,1.5"
    assert lines[2] == "'+1,"  # unknown is empty, not 0
    assert lines[3] == "'@sum,-2"  # a negative number stays a number
    assert lines[4:] == ["'-x,0", "fine,3"]


def test_line_chart_dates_in_spanish_and_gaps_for_unknown():
    points = [(date(2026, 3, d), "@cuenta", (None if d == 10 else 1000 + d)) for d in range(1, 29)]
    chart = charts.line("growth", "Followers", points, y_title="Seguidores")
    svg = chart.svg("es")
    texts = _texts(svg)
    assert any(t.startswith("mié") for t in texts)  # Spanish day names on the time axis
    assert any(re.fullmatch(r"1\.0[0-9]{2}", t) for t in texts)  # "1.010": Spanish thousands
    assert len(chart.spec["data"]["values"]) == 27  # the unknown day is a gap, not a 0
    assert chart.rows[9] == [date(2026, 3, 10), "@cuenta", None]


def test_heatmap_shows_sample_sizes_and_grey_unknown_cells():
    cells = [(w, h, (2.5 if (w, h) == (0, 9) else None), (7 if (w, h) == (0, 9) else 1)) for w in range(7)
             for h in range(24)]
    with translation.override("en"):
        chart = charts.heatmap("best", "Best time", cells, value_title="ER")
    svg = chart.svg("en")
    assert "#eeeeee" in svg  # cells below the minimum sample
    assert "7" in _texts(svg)  # the sample size written in the cell
    assert chart.columns[-1] == "Posts" and len(chart.rows) == 7 * 24


def test_renders_are_cached_per_language():
    chart = charts.bars("c", "C", [("a", 1.0)], value_title="V")
    charts._render_cached.cache_clear()
    chart.svg("en"), chart.svg("en"), chart.svg("es")
    info = charts._render_cached.cache_info()
    assert (info.hits, info.misses) == (1, 2)


def test_long_periods_are_summed_per_week_keeping_unknowns():
    rows = [(date(2026, 3, 2), 1, None), (date(2026, 3, 8), 2, None), (date(2026, 3, 9), 3, 5)]
    assert charts._weeks(rows, weekly=True) == [(date(2026, 3, 2), 3, None), (date(2026, 3, 9), 3, 5)]
    assert charts._weeks(rows, weekly=False) == rows


def test_table_html_is_escaped_and_localised():
    chart = charts.bars("x", "X", [(XSS, 1234.5), ("b", None)], value_title="V", extra_columns=["N"],
                        extra=[[12345], [None]])
    with translation.override("es"):
        html = chart.table_html()
    assert "<script" not in html and "&lt;script&gt;" in html
    assert "1234,50" in html.replace("\xa0", "").replace(".", "") and "—" in html
