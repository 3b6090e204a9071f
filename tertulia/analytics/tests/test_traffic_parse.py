"""Pure parsing rules of the web traffic import: numbers, amounts, dates, format detection and
the "from social" rule. No database."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.utils import translation

from tertulia.analytics import traffic


@pytest.fixture(autouse=True)
def english():
    """Messages are checked in English (the default language of the project is Spanish)."""
    with translation.override("en"):
        yield


@pytest.mark.parametrize("text, expected", [
    ("1234", 1234), ("1,234", 1234), ("1.234", 1234), ("1 234", 1234), ("1\u00a0234", 1234),
    ("1,234,567", 1234567), ("12.0", 12), ("", None), ("-", None), ("0", 0),
])
def test_counts(text, expected):
    assert traffic.parse_count(text) == expected


@pytest.mark.parametrize("text", ["abc", "-5", "1.5", "=1+1", "99999999999", "1e9"])
def test_bad_counts(text):
    with pytest.raises(traffic.BadRow):
        traffic.parse_count(text)


@pytest.mark.parametrize("text, expected", [
    ("1234.5", Decimal("1234.50")), ("1,234.50", Decimal("1234.50")), ("1.234,50", Decimal("1234.50")),
    ("1234,5", Decimal("1234.50")), ("€ 12", Decimal("12.00")), ("1.234", Decimal("1234.00")), ("", None),
])
def test_money(text, expected):
    assert traffic.parse_money(text) == expected


@pytest.mark.parametrize("text", ["twelve", "=SUM(A1)", "1e400", "9999999999999999"])
def test_bad_money(text):
    with pytest.raises(traffic.BadRow):
        traffic.parse_money(text)


@pytest.mark.parametrize("text, expected", [
    ("20250301", date(2025, 3, 1)), ("2025-03-01", date(2025, 3, 1)), ("01/03/2025", date(2025, 3, 1)),
])
def test_days(text, expected):
    assert traffic.parse_day(text) == expected


@pytest.mark.parametrize("text", ["20251301", "2025-02-30", "yesterday", "", "3/1"])
def test_bad_days(text):
    with pytest.raises(traffic.BadRow):
        traffic.parse_day(text)


@pytest.mark.parametrize("header, origin", [
    (["date", "session source / medium", "session campaign", "sessions", "total users"], "ga4"),
    (["date", "session source", "session medium", "sessions"], "ga4"),
    (["fecha", "fuente / medio de la sesión", "sesiones", "usuarios totales", "vistas"], "ga4"),  # GA4 in Spanish
    (["date", "label", "nb_visits", "nb_uniq_visitors"], "matomo"),
    (["fecha", "label", "visits"], "matomo"),
    (["date", "utm_source", "utm_medium", "utm_campaign", "visitors", "visits", "pageviews"], "plausible"),
    (["date", "visitors", "pageviews", "visits"], "plausible"),
])
def test_detect(header, origin):
    assert traffic.detect(header) == origin


def test_a_spanish_ga4_export_is_read():
    header, rows = traffic.read_table("Fecha,Fuente / medio de la sesión,Campaña de la sesión,Sesiones,Usuarios totales,"
                                      "Vistas,Eventos clave\n20251103,instagram.com / social,rebajas,120,98,300,4\n"
                                      .encode())
    convert = traffic._mapper(traffic.detect(header), header)
    day, source, medium, campaign, figures = convert(rows[0][1])
    assert (day, source, medium, campaign) == (date(2025, 11, 3), "instagram.com", "social", "rebajas")
    assert (figures["sessions"], figures["users"], figures["pageviews"], figures["conversions"]) == (120, 98, 300, 4)


def test_unknown_header_is_refused():
    with pytest.raises(ValidationError):
        traffic.detect(["name", "amount"])


@pytest.mark.parametrize("source, medium, social", [
    ("facebook.com", "referral", True), ("l.facebook.com", "", True), ("t.co", "referral", True),
    ("lnkd.in", "", True), ("mastodon.social", "referral", True), ("fosstodon.mastodon.host", "", True),
    ("newsletter", "social", True), ("meta", "paid-social", True), ("www.instagram.com", "referral", True),
    ("google", "organic", False), ("(direct)", "(none)", False), ("newsletter", "email", False),
])
def test_social_rule(source, medium, social):
    assert traffic.is_social(source, medium) is social


def test_binary_and_empty_files_are_refused():
    for content in (b"", b"   \n", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", bytes(range(1, 31)) * 10):
        with pytest.raises(ValidationError):
            traffic.read_table(content)


def test_oversized_file_is_refused(monkeypatch):
    monkeypatch.setattr(traffic, "MAX_BYTES", 1000)
    with pytest.raises(ValidationError, match="larger than"):
        traffic.read_table(b"date,visitors\n" + b"20250101,1\n" * 200)


def test_too_many_rows_is_refused(monkeypatch):
    monkeypatch.setattr(traffic, "MAX_ROWS", 10)
    with pytest.raises(ValidationError, match="more than 10 rows"):
        traffic.read_table(b"date,visitors\n" + b"20250101,1\n" * 11)


def test_table_reading_skips_comments_and_detects_semicolons_and_latin1():
    raw = ("# ----\n# Adquisición de tráfico\n\nDate;Session source / medium;Sessions\n"
           "20250301;campaña / social;1.234\n").encode("latin-1")
    header, rows = traffic.read_table(raw)
    assert header == ["date", "session source / medium", "sessions"]
    assert rows == [(5, ["20250301", "campaña / social", "1.234"])]
    bom = "\ufeffdate,visitors\n2025-03-01,5\n".encode()
    assert traffic.read_table(bom)[0] == ["date", "visitors"]
