"""Web traffic from social: clicks on Tertulia's short links, and sessions imported from web
analytics exports (GA4, Matomo, Plausible).

**What counts as "from social"** (``is_social`` and ``social_q``, the same rule in Python and SQL):
a row whose medium is one of ``SOCIAL_MEDIUMS`` (GA4's "Organic Social" and "Paid Social"
medium values: social, social-network, social-media, sm, paid-social…), or whose source is a
known social network or one of its link domains (``SOCIAL_SOURCES``: facebook.com, l.facebook.com,
t.co, lnkd.in, instagram.com, bsky.app, threads.net, youtube.com, t.me, wa.me…), or whose source
names a Mastodon server (contains "mastodon"). Sources and mediums are stored lower-cased,
without a leading "www.", so the comparison is exact.

Days: web analytics exports count whole calendar days. ``by_day`` and the imported days that
count are the calendar days the range touches in ``tz`` (UTC unless the caller passes the
brand's zone, as the pages do, so that "1 to 28 March" in Madrid means those 28 days).
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta, tzinfo
from decimal import Decimal, InvalidOperation

from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.db.models import Q
from django.db.models.functions import TruncDate
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from tertulia.content.models import LinkClick, ShortLink
from tertulia.core import roles
from tertulia.core.services import Ctx, _log, _require

from .models import WebTraffic

SOCIAL_MEDIUMS = frozenset({
    "social", "social-network", "social_network", "social network", "social-media", "social_media",
    "social media", "sm", "organic-social", "organic_social", "organic social", "paid-social",
    "paid_social", "paid social", "paidsocial", "social-paid", "social_paid",
})
SOCIAL_SOURCES = frozenset({
    # Facebook and Instagram (Meta link shims included)
    "facebook", "facebook.com", "m.facebook.com", "l.facebook.com", "lm.facebook.com", "fb", "fb.com", "fb.me",
    "instagram", "instagram.com", "l.instagram.com", "ig",
    # X / Twitter
    "twitter", "twitter.com", "mobile.twitter.com", "t.co", "x", "x.com",
    # LinkedIn
    "linkedin", "linkedin.com", "lnkd.in", "linkedin.android",
    # Mastodon, Bluesky, Threads
    "mastodon", "mastodon.social", "bluesky", "bsky", "bsky.app", "threads", "threads.net", "l.threads.net",
    "threads.com",
    # YouTube, Telegram, WhatsApp
    "youtube", "youtube.com", "m.youtube.com", "youtu.be",
    "telegram", "t.me", "web.telegram.org", "org.telegram.messenger",
    "whatsapp", "wa.me", "web.whatsapp.com", "api.whatsapp.com",
    # Other social networks a brand's audience shares links on
    "pinterest", "pinterest.com", "tiktok", "tiktok.com", "reddit", "reddit.com", "out.reddit.com",
})


def normalise(value: str) -> str:
    value = (value or "").strip().lower()
    return value[4:] if value.startswith("www.") else value


def is_social(source: str, medium: str) -> bool:
    source, medium = normalise(source), normalise(medium)
    return medium in SOCIAL_MEDIUMS or source in SOCIAL_SOURCES or "mastodon" in source


def social_q() -> Q:
    return Q(medium__in=SOCIAL_MEDIUMS) | Q(source__in=SOCIAL_SOURCES) | Q(source__contains="mastodon")


@dataclass(frozen=True, slots=True)
class TrafficFigures:
    short_link_clicks: int
    sessions: int | None  # None: no web analytics export was ever imported for these brands
    conversions: int | None  # None: no imported row (in range) carries conversions
    by_source: list[tuple[str, int, int | None]] = field(default_factory=list)  # (source, clicks, sessions)
    by_day: list[tuple[date, int, int | None]] = field(default_factory=list)  # (UTC day, clicks, sessions)


def day_bounds(start: datetime, end: datetime, tz: tzinfo = UTC) -> tuple[date, date]:
    """The first and last calendar day (in ``tz``) that ``[start, end)`` touches."""
    return start.astimezone(tz).date(), (end - timedelta(microseconds=1)).astimezone(tz).date()


def _is_social_row(source: str, medium: str) -> bool:
    """``social_q`` on one stored row (values stored normalised: compared exactly, as in SQL)."""
    return medium in SOCIAL_MEDIUMS or source in SOCIAL_SOURCES or "mastodon" in source


_IMPORTED_SQL = ("SELECT 'w', day, source, medium, COUNT(*), SUM(sessions), SUM(conversions) FROM {table} "
                 "WHERE brand_id IN ({marks}) AND day >= %s AND day <= %s GROUP BY day, source, medium")


def _imported_query(ids: list[int], bounds: list[tuple[date, date]]) -> tuple[str, list]:
    """The imported rows of the days ``bounds`` span (first, last day, both included), summed
    per (day, source, medium): ("w", day, source, medium, rows, sessions, conversions). The
    social test is applied to each group in Python (``_is_social_row``): no long IN lists."""
    sql = _IMPORTED_SQL.format(table=WebTraffic._meta.db_table, marks=", ".join(["%s"] * len(ids)))
    adapt = connection.ops.adapt_datefield_value
    return sql, [*ids, adapt(min(f for f, _l in bounds)), adapt(max(la for _f, la in bounds))]


def _read(sql: str, params: list) -> list[tuple]:
    """Rows of ``_imported_query`` / ``_clicks_query`` (with dates as dates, also on SQLite)."""
    with connection.cursor() as cursor:  # plain SQL: read on every dashboard
        cursor.execute(sql, params)
        return [(kind, day if isinstance(day, date) else date.fromisoformat(day), *rest)
                for kind, day, *rest in cursor.fetchall()]


def _imported(ids: list[int], bounds: list[tuple[date, date]]) -> list[tuple]:
    return [row[1:] for row in _read(*_imported_query(ids, bounds))]


def _clicks_query(ids: list[int], start: datetime, end: datetime, tz: tzinfo) -> tuple[str, list]:
    """Short link clicks in ``[start, end)`` per (local day in ``tz``, the link's utm source):
    ("c", day, utm_source, "", clicks, NULL, NULL), shaped as ``_imported_query``'s rows."""
    day_sql, day_params = connection.ops.datetime_cast_date_sql(
        "k.clicked_at", (), TruncDate("clicked_at", tzinfo=tz).get_tzname())
    adapt = connection.ops.adapt_datetimefield_value
    sql = (f"SELECT 'c', {day_sql}, l.utm_source, '', COUNT(*), NULL, NULL FROM {LinkClick._meta.db_table} k "  # nosec B608 # identifiers from model metadata, values bound as parameters
           f"INNER JOIN {ShortLink._meta.db_table} l ON l.id = k.link_id "
           f"WHERE k.brand_id IN ({', '.join(['%s'] * len(ids))}) AND k.clicked_at >= %s AND k.clicked_at < %s "
           "GROUP BY 2, 3")
    return sql, [*day_params, *ids, adapt(start), adapt(end)]


def _sessions_of(rows: list[tuple], first: date, last: date):
    """From ``_imported`` rows: the covered days, and the social sessions by source and by day,
    their total and the social conversions (None when no social row carries any)."""
    covered: set[date] = set()
    by_source: dict[str, int] = {}
    by_day: dict[date, int] = {}
    sessions, conversions = 0, None
    for day, source, medium, _rows, n, conv in rows:
        if day < first or day > last:
            continue
        covered.add(day)
        if not _is_social_row(source, medium):
            continue
        sessions += n or 0
        by_source[source] = by_source.get(source, 0) + (n or 0)
        by_day[day] = by_day.get(day, 0) + (n or 0)
        if conv is not None:
            conversions = conv if conversions is None else conversions + conv
    return covered, by_source, by_day, sessions, conversions


def social_visits(brand_ids: Sequence[int], start: datetime, end: datetime, tz: tzinfo = UTC) -> TrafficFigures:
    return social_visits_and_sessions(brand_ids, start, end, tz)[0]


def social_visits_and_sessions(brand_ids: Sequence[int], start: datetime, end: datetime, tz: tzinfo = UTC,
                               others: Sequence[tuple[datetime, datetime]] = ()) -> tuple[TrafficFigures, list]:
    """``social_visits`` of ``[start, end)`` and ``social_sessions`` of each range of ``others``
    (e.g. the previous period), the imported rows of all of them read in one query."""
    ids = list(brand_ids)
    if not ids or end <= start:
        return TrafficFigures(0, None, None, [], []), [social_sessions(ids, s, e, tz) for s, e in others]
    first_day, last_day = day_bounds(start, end, tz)
    days = [first_day + timedelta(days=i) for i in range((last_day - first_day).days + 1)]
    other_bounds = [day_bounds(s, e, tz) for s, e in others if e > s]
    # One round trip: the clicks grouped by (local day, utm source), which give the total, per
    # source and per day, and the imported rows of every range's days.
    clicks_sql, clicks_params = _clicks_query(ids, start, end, tz)
    imported_sql, imported_params = _imported_query(ids, [(first_day, last_day), *other_bounds])
    both = _read(f"{clicks_sql} UNION ALL {imported_sql}", [*clicks_params, *imported_params])
    rows = [row[1:] for row in both if row[0] == "w"]
    click_total = 0
    clicks_by_source: dict[str, int] = {}
    clicks_by_day: dict[date, int] = {}
    for _kind, day, source, _medium, n, _s, _c in (row for row in both if row[0] == "c"):
        click_total += n
        key = normalise(source)
        clicks_by_source[key] = clicks_by_source.get(key, 0) + n
        clicks_by_day[day] = clicks_by_day.get(day, 0) + n
    other_sessions = []
    for s, e in others:
        if e <= s:
            other_sessions.append(None)
            continue
        covered, *_rest, sessions, _conv = _sessions_of(rows, *day_bounds(s, e, tz))
        other_sessions.append(sessions if covered else None)
    # Days an import covers (any source): a day no export covers is unknown, not 0 visits.
    covered, sessions_by_source, sessions_by_day, sessions, conversions = _sessions_of(rows, first_day, last_day)
    if not covered:
        by_source = sorted(((s, n, None) for s, n in clicks_by_source.items()), key=lambda r: (-r[1], r[0]))
        return TrafficFigures(click_total, None, None, by_source,
                              [(d, clicks_by_day.get(d, 0), None) for d in days]), other_sessions
    sources = set(clicks_by_source) | set(sessions_by_source)
    by_source = sorted(((s, clicks_by_source.get(s, 0), sessions_by_source.get(s, 0)) for s in sources),
                       key=lambda r: (-(r[2] or 0) - r[1], r[0]))
    return TrafficFigures(
        short_link_clicks=click_total,
        sessions=sessions,
        conversions=conversions,
        by_source=by_source,
        by_day=[(d, clicks_by_day.get(d, 0), sessions_by_day.get(d, 0) if d in covered else None) for d in days],
    ), other_sessions


def social_sessions(brand_ids: Sequence[int], start: datetime, end: datetime, tz: tzinfo = UTC) -> int | None:
    """``social_visits(...).sessions`` alone (one query): the KPI "web visits" of a period."""
    ids = list(brand_ids)
    if not ids or end <= start:
        return None
    first_day, last_day = day_bounds(start, end, tz)
    covered, *_rest, sessions, _conv = _sessions_of(_imported(ids, [(first_day, last_day)]), first_day, last_day)
    return sessions if covered else None


# --- CSV import of web analytics exports ---------------------------------------------------------
#
# Formats, told apart by their header row (after GA4's "#" comment lines):
# - GA4 (Reports → Share → Download CSV, with "Date" as a dimension): "Date" (YYYYMMDD),
#   "Session source / medium" (or "Session source" and "Session medium"), "Session campaign",
#   "Sessions", "Total users", "Views", "Key events" (formerly "Conversions"), "Total revenue".
# - Matomo (Referrers / Campaigns reports, CSV export by day): "date", "label" (the source or the
#   campaign, "source - medium" for source/medium reports), "nb_visits", "nb_uniq_visitors" or
#   "nb_users", "nb_pageviews", "nb_conversions" or "nb_visits_converted", "revenue"; the
#   translated headers of the web UI export ("Label", "Visits", "Unique visitors"…) too.
# - Plausible (CSV export of imported_sources / utm breakdowns): "date", "source" or
#   "utm_source", "utm_medium", "utm_campaign", "visitors", "visits", "pageviews".
# Rows are keyed by day + source + medium + campaign: rows of a file with the same key (other
# dimensions, such as the landing page) are added up, and re-importing the same file is a no-op.


MAX_BYTES = 20 * 1024 * 1024
MAX_ROWS = 200_000
MAX_BAD_ROWS_SHOWN = 500
MAX_TEXT = 100  # WebTraffic.source/medium/campaign
MAX_COUNT = 2_000_000_000  # PositiveIntegerField on every database
MAX_MONEY = Decimal("999999999999.99")


@dataclass
class ImportResult:
    stored: int = 0  # new rows
    updated: int = 0  # rows whose figures changed
    unchanged: int = 0
    bad_rows: list[tuple[int, str]] = field(default_factory=list)  # (line number, reason), the first ones
    bad_count: int = 0
    format: str = ""


class BadRow(Exception):
    pass


def _read_text(file) -> str:
    """The file's text: at most ``MAX_BYTES``, no binary, UTF-8 (BOM or not) else Latin-1."""
    if isinstance(file, bytes | bytearray):
        raw = bytes(file)
    else:
        if hasattr(file, "seek"):
            try:
                file.seek(0)
            except (OSError, ValueError):
                pass
        raw = file.read(MAX_BYTES + 1)
    if len(raw) > MAX_BYTES:
        raise ValidationError(_("The file is larger than %(mb)s MB; export a shorter period or fewer dimensions.")
                              % {"mb": f"{MAX_BYTES / 1048576:g}"})
    if not raw.strip():
        raise ValidationError(_("The file is empty."))
    if b"\x00" in raw[:65536]:
        raise ValidationError(_("This is not a CSV text file."))
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = raw.decode("latin-1")
    if sum(1 for c in text[:65536] if ord(c) < 32 and c not in "\r\n\t") > 8:
        raise ValidationError(_("This is not a CSV text file."))
    return text


def read_table(file) -> tuple[list[str], list[tuple[int, list[str]]]]:
    """Header (lower-cased, trimmed) and data rows with their line numbers in the file.
    Leading "#" comment lines (GA4) and blank lines are skipped; the delimiter is ``,``, ``;``
    or a tab, detected from the header line."""
    text = _read_text(file)
    lines = text.splitlines(keepends=True)
    first = 0
    while first < len(lines) and (not lines[first].strip() or lines[first].lstrip().startswith("#")):
        first += 1
    if first >= len(lines):
        raise ValidationError(_("The file has no header row."))
    header_line = lines[first]
    delimiter = max((",", ";", "\t"), key=header_line.count)
    reader = csv.reader(io.StringIO("".join(lines[first:])), delimiter=delimiter)
    try:
        header = [re.sub(r"\s+", " ", h.strip().lower()) for h in next(reader)]
    except csv.Error:
        raise ValidationError(_("The header row could not be read.")) from None
    rows = []
    while True:
        try:
            row = next(reader)
        except StopIteration:
            break
        except csv.Error:
            raise ValidationError(_("Line %(line)s could not be read as CSV.") % {"line": first + reader.line_num})
        if not any(cell.strip() for cell in row):
            continue
        if row[0].lstrip().startswith("#"):
            continue
        rows.append((first + reader.line_num, row))
        if len(rows) > MAX_ROWS:
            raise ValidationError(_("The file has more than %(rows)s rows; import it in parts.") % {"rows": MAX_ROWS})
    return header, rows


def parse_count(value: str) -> int | None:
    """A whole number as exports write it: "1234", "1,234", "1.234", "1 234"; empty → None."""
    text = (value or "").strip().replace("\u00a0", "").replace("\u202f", "").replace(" ", "")
    if text in ("", "-", "—", "n/a", "N/A"):
        return None
    if re.fullmatch(r"\d{1,3}([.,']\d{3})+", text):
        text = re.sub(r"[.,']", "", text)
    elif re.fullmatch(r"\d+([.,]0+)?", text):
        text = re.split(r"[.,]", text)[0]
    if not text.isdigit() or len(text) > 10:
        raise BadRow(gettext_noop("a count is not a whole number"))
    number = int(text)
    if number > MAX_COUNT:
        raise BadRow(gettext_noop("a count is too large"))
    return number


def parse_money(value: str) -> Decimal | None:
    """An amount: "1234.5", "1,234.50", "1.234,50", "1234,5", with an optional currency sign."""
    text = re.sub(r"[\s\u00a0\u202f€$£]|EUR|USD", "", (value or "").strip())
    if text in ("", "-", "—"):
        return None
    if "," in text and "." in text:
        decimal_sep = "," if text.rfind(",") > text.rfind(".") else "."
    elif "," in text:
        decimal_sep = "," if re.search(r",\d{1,2}$", text) else ""
    elif "." in text:
        decimal_sep = "." if not re.fullmatch(r"\d{1,3}(\.\d{3})+", text) else ""
    else:
        decimal_sep = ""
    thousands = {",", ".", "'"} - {decimal_sep}
    for sep in thousands:
        text = text.replace(sep, "")
    if decimal_sep:
        text = text.replace(decimal_sep, ".")
    if not re.fullmatch(r"\d+(\.\d+)?", text):
        raise BadRow(gettext_noop("an amount is not a number"))
    try:
        amount = Decimal(text).quantize(Decimal("0.01"))
    except InvalidOperation:
        raise BadRow(gettext_noop("an amount is not a number")) from None
    if amount > MAX_MONEY:
        raise BadRow(gettext_noop("an amount is too large"))
    return amount


def parse_day(value: str) -> date:
    text = (value or "").strip()
    try:
        if re.fullmatch(r"\d{8}", text):
            return date(int(text[:4]), int(text[4:6]), int(text[6:]))
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text[:10]):
            return date.fromisoformat(text[:10])
        m = re.fullmatch(r"(\d{1,2})/(\d{1,2})/(\d{4})", text)
        if m:
            return date(int(m[3]), int(m[2]), int(m[1]))
    except ValueError:
        pass
    raise BadRow(gettext_noop("the date is not a date (YYYYMMDD, YYYY-MM-DD or DD/MM/YYYY)"))


def _text(value: str) -> str:
    text = normalise(value)
    if text in ("(not set)", "(none)", "(direct)", "-", "—"):
        return {"(direct)": "(direct)", "(none)": "(none)"}.get(text, "")
    if len(text) > MAX_TEXT:
        raise BadRow(gettext_noop("a source, medium or campaign is longer than 100 characters"))
    return text


def _col(header: list[str], *names: str) -> int | None:
    for name in names:
        if name in header:
            return header.index(name)
    return None


def detect(header: list[str]) -> str:
    h = set(header)
    if h & {"session source / medium", "session source", "session medium", "session campaign",
            "first user source / medium", "fuente / medio de la sesión", "fuente de la sesión",
            "medio de la sesión", "campaña de la sesión"} or {"sessions", "total users"} <= h \
            or {"sesiones", "usuarios totales"} <= h:
        return WebTraffic.Origin.GA4
    if h & {"nb_visits", "nb_uniq_visitors"} or ("label" in h and h & {"visits", "unique visitors", "visitas"}):
        return WebTraffic.Origin.MATOMO
    if "visitors" in h and ("date" in h or h & {"source", "utm_source", "utm_medium", "utm_campaign"}):
        return WebTraffic.Origin.PLAUSIBLE
    raise ValidationError(_("This file is not a GA4, Matomo or Plausible export we know: its header row has "
                            "none of their columns (for example \"Session source / medium\" and \"Sessions\", "
                            "\"label\" and \"nb_visits\", or \"date\" and \"visitors\")."))


def _mapper(origin: str, header: list[str]):
    """A function from a CSV row to (day, source, medium, campaign, figures)."""
    c = lambda *names: _col(header, *names)  # noqa: E731
    if origin == WebTraffic.Origin.GA4:
        # English and Spanish GA4 interfaces (the export's headers follow the user's language).
        cols = dict(day=c("date", "fecha"),
                    source_medium=c("session source / medium", "first user source / medium",
                                    "fuente / medio de la sesión", "fuente / medio del primer usuario"),
                    source=c("session source", "first user source", "fuente de la sesión"),
                    medium=c("session medium", "first user medium", "medio de la sesión"),
                    campaign=c("session campaign", "first user campaign", "session campaign name",
                               "campaña de la sesión"),
                    sessions=c("sessions", "sesiones"), users=c("total users", "users", "active users",
                                                                "usuarios totales", "usuarios activos"),
                    pageviews=c("views", "vistas"), conversions=c("key events", "conversions", "eventos clave",
                                                                  "conversiones"),
                    revenue=c("total revenue", "purchase revenue", "ingresos totales"))
    elif origin == WebTraffic.Origin.MATOMO:
        cols = dict(day=c("date", "fecha"), label=c("label", "etiqueta"),
                    source=c("source", "referrer", "referer_name"),
                    medium=c("medium", "referer_type", "referrer type"),
                    campaign=c("campaign", "campaign name", "campaign_name"),
                    sessions=c("nb_visits", "visits", "visitas"),
                    users=c("nb_uniq_visitors", "nb_users", "unique visitors"),
                    pageviews=c("nb_pageviews", "pageviews"),
                    conversions=c("nb_conversions", "nb_visits_converted", "conversions"), revenue=c("revenue"))
    else:
        # The UTM source first; without one, the referrer source Plausible names ("Twitter").
        cols = dict(day=c("date"), source=c("utm_source", "source", "name"), source_fallback=c("source", "name"),
                    medium=c("utm_medium"),
                    campaign=c("utm_campaign"), sessions=c("visits"), users=c("visitors"), pageviews=c("pageviews"),
                    conversions=c("conversions", "events"), revenue=c("revenue", "total_revenue"))
    if cols["day"] is None:
        raise ValidationError(_("The export has no date column: export it with the date (day) as a dimension."))

    def cell(row, key):
        i = cols.get(key)
        return row[i] if i is not None and i < len(row) else ""

    def convert(row):
        first = (row[0] if row else "").strip().lower()
        if first in ("grand total", "total", "totals", "totales"):
            return None
        day = parse_day(cell(row, "day"))
        source, medium = _text(cell(row, "source")), _text(cell(row, "medium"))
        campaign = _text(cell(row, "campaign"))
        if not source and cols.get("source_fallback") is not None:
            source = _text(cell(row, "source_fallback"))
        if cols.get("source_medium") is not None:
            both = cell(row, "source_medium")
            source, _sep, medium = both.partition(" / ")
            source, medium = _text(source), _text(medium)
        if cols.get("label") is not None:
            label = cell(row, "label")
            if cols.get("campaign") is None and cols.get("source") is not None:
                campaign = _text(label)
            elif " - " in label and not medium:
                src, _sep, med = label.partition(" - ")
                source, medium = _text(src), _text(med)
            elif not source:
                source = _text(label)
        figures = {"sessions": parse_count(cell(row, "sessions")), "users": parse_count(cell(row, "users")),
                   "pageviews": parse_count(cell(row, "pageviews")),
                   "conversions": parse_count(cell(row, "conversions")), "revenue": parse_money(cell(row, "revenue"))}
        if all(v is None for v in figures.values()):
            raise BadRow(gettext_noop("the row has no figures"))
        return day, source, medium, campaign, figures

    return convert


def _add(a, b):
    return b if a is None else (a if b is None else a + b)


FIGURES = ("sessions", "users", "pageviews", "conversions", "revenue")


def do_import_web_traffic(ctx: Ctx, brand, file) -> ImportResult:
    """Import a GA4, Matomo or Plausible CSV export into ``WebTraffic`` for ``brand``. Bad rows
    are reported (line number and reason) and the good ones kept; a whole-file problem raises
    ``ValidationError``. Existing rows of the same origin, day, source, medium and campaign are
    replaced by the file's figures."""
    _require(ctx, brand, roles.COMPOSE)
    header, rows = read_table(file)
    origin = detect(header)
    convert = _mapper(origin, header)
    result = ImportResult(format=origin)
    merged: dict[tuple, dict] = {}
    for line, row in rows:
        try:
            got = convert(row)
        except BadRow as bad:
            result.bad_count += 1
            if len(result.bad_rows) < MAX_BAD_ROWS_SHOWN:
                result.bad_rows.append((line, _(str(bad.args[0]))))
            continue
        if got is None:
            continue
        day, source, medium, campaign, figures = got
        key = (day, source, medium, campaign)
        kept = merged.setdefault(key, dict.fromkeys(FIGURES))
        for name in FIGURES:
            kept[name] = _add(kept[name], figures[name])
    for figures in merged.values():  # sums of many rows may still overflow a count column
        for name in FIGURES[:4]:
            if figures[name] is not None and figures[name] > MAX_COUNT:
                figures[name] = MAX_COUNT
    with transaction.atomic():
        _upsert(brand, origin, merged, result)
        _log(ctx, "web_traffic.import", brand=brand, changes={
            "format": origin, "stored": result.stored, "updated": result.updated, "bad_rows": result.bad_count})
    return result


def _upsert(brand, origin: str, merged: dict[tuple, dict], result: ImportResult) -> None:
    if not merged:
        return
    days = sorted({k[0] for k in merged})
    existing = {(r.day, r.source, r.medium, r.campaign): r for r in
                WebTraffic.objects.filter(brand=brand, origin=origin, day__gte=days[0], day__lte=days[-1])}
    now = timezone.now()
    new, changed = [], []
    for key, figures in merged.items():
        row = existing.get(key)
        if row is None:
            new.append(WebTraffic(brand=brand, origin=origin, day=key[0], source=key[1], medium=key[2],
                                  campaign=key[3], imported_at=now, **figures))
        elif any(getattr(row, name) != figures[name] for name in FIGURES):
            for name in FIGURES:
                setattr(row, name, figures[name])
            row.imported_at = now
            changed.append(row)
        else:
            result.unchanged += 1
    WebTraffic.objects.bulk_create(new, batch_size=1000)
    WebTraffic.objects.bulk_update(changed, [*FIGURES, "imported_at"], batch_size=1000)
    result.stored, result.updated = len(new), len(changed)
