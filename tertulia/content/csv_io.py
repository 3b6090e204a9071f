"""CSV export and import of posts (bulk scheduling).

Export: one row per post with its time in the brand's zone, UTF-8 with a BOM (so Excel opens
accents right), and every cell that a spreadsheet would run as a formula prefixed with ``'``
(OWASP "CSV injection").

Import: the same columns (``date``, ``time``, ``accounts``, ``text``, ``pillar``, ``format``,
``campaign``; ``time_zone`` optional, the brand's zone when absent; ``state`` and ``id`` are
ignored: imported posts are always new drafts, or submitted for review). Each row is checked
and created in its own savepoint through ``composer.do_create_draft`` (submitted through ``approvals`` when asked); a bad row is reported
with its line number and the good rows are kept.

Encoding: UTF-8 (with or without BOM) first, then Windows-1252 (what Excel on Windows saves
in Spanish); a file that is neither, or that holds NUL bytes, is refused. The delimiter is
``,`` or ``;`` (Excel in Spanish uses ``;``) or a tab, detected from the header line.
"""

from __future__ import annotations

import csv
import io
import zoneinfo
from dataclasses import dataclass, field
from datetime import datetime

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from tertulia.core import roles
from tertulia.core.services import Ctx, _log, _require
from tertulia.networks.models import Network, SocialAccount
from tertulia.strategy.models import ContentPillar

from . import approvals, composer
from .calendar import make_aware_local, parse_date
from .models import Campaign, Post

MAX_BYTES = 2 * 1024 * 1024
MAX_ROWS = 2000
MAX_TEXT = 70000
COLUMNS = ("date", "time", "time_zone", "accounts", "text", "pillar", "format", "campaign", "state", "id")
REQUIRED = ("date", "time", "accounts", "text")
# Header names people write by hand, in both languages, mapped to ours.
ALIASES = {
    "date": "date", "fecha": "date", "day": "date", "día": "date", "dia": "date",
    "time": "time", "hora": "time",
    "time_zone": "time_zone", "time zone": "time_zone", "timezone": "time_zone", "zona horaria": "time_zone",
    "zona_horaria": "time_zone",
    "accounts": "accounts", "account": "accounts", "cuentas": "accounts", "cuenta": "accounts",
    "text": "text", "texto": "text",
    "pillar": "pillar", "pilar": "pillar",
    "format": "format", "formato": "format",
    "campaign": "campaign", "campaña": "campaign", "campana": "campaign",
    "state": "state", "estado": "state",
    "id": "id",
}
_DANGEROUS = ("=", "+", "-", "@", "\t", "\r")


# --- Export ----------------------------------------------------------------------------------

def escape_cell(value) -> str:
    """A cell a spreadsheet shows as text, never runs: formulas get a leading apostrophe."""
    text = "" if value is None else str(value)
    # A text that already starts with an apostrophe and a formula character gets one more, so
    # that ``unescape_cell`` gives back exactly what was exported.
    if text.startswith(_DANGEROUS) or (text[:1] == "'" and text[1:2] in ("'",) + _DANGEROUS and text[1:2]):
        return "'" + text
    return text


def unescape_cell(text: str) -> str:
    """Undo ``escape_cell`` (only the apostrophe it adds), so an export imports back the same."""
    if len(text) > 1 and text[0] == "'" and text[1] in "'=+-@\t\r":
        return text[1:]
    return text


def export_rows(posts, tz: zoneinfo.ZoneInfo):
    yield list(COLUMNS)
    for post in posts:
        local = post.scheduled_at.astimezone(tz) if post.scheduled_at else None
        accounts = "|".join(f"{t.account.network}:{t.account.handle}" for t in post.targets.all())
        yield [escape_cell(v) for v in (
            local.date().isoformat() if local else "",
            local.strftime("%H:%M") if local else "",
            tz.key,
            accounts,
            post.text,
            post.pillar.name if post.pillar_id else "",
            post.format,
            post.campaign.name if post.campaign_id else "",
            post.state,
            post.pk,
        )]


def export_csv(posts, tz: zoneinfo.ZoneInfo) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    for row in export_rows(posts, tz):
        writer.writerow(row)
    return "\ufeff".encode() + out.getvalue().encode("utf-8", "surrogatepass")


# --- Import ----------------------------------------------------------------------------------

@dataclass
class RowError:
    line: int
    message: str


@dataclass
class ImportResult:
    created: list[Post] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)
    problem: str = ""  # a reason the whole file was refused

    @property
    def ok(self) -> bool:
        return not self.problem and not self.errors


def decode(data: bytes) -> str:
    if b"\x00" in data:
        raise ValidationError(_("This does not look like a CSV file (it holds binary data)."))
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("cp1252")
    except UnicodeDecodeError:
        raise ValidationError(_("The file is neither UTF-8 nor Windows-1252 text. Save it as “CSV UTF-8”.")) from None


def sniff_delimiter(text: str) -> str:
    header = text.split("\n", 1)[0]
    counts = {d: header.count(d) for d in (",", ";", "\t")}
    best = max(counts, key=counts.get)
    return best if counts[best] else ","


def _norm_handle(handle: str) -> str:
    return handle.strip().lstrip("@").lower()


class _Lookups:
    """The brand's accounts, pillars and campaigns, by the names a CSV uses."""

    def __init__(self, brand):
        self.accounts = {}
        for a in SocialAccount.objects.filter(brand=brand):
            self.accounts[(a.network, _norm_handle(a.handle))] = a
        self.pillars = {p.name.strip().lower(): p for p in ContentPillar.objects.filter(brand=brand)}
        self.campaigns = {}
        for c in Campaign.objects.filter(brand=brand).order_by("pk"):
            self.campaigns.setdefault(c.name.strip().lower(), c)
        self.formats = {}
        for value, label in Post.Format.choices:
            self.formats[value] = value
            self.formats[str(label).lower()] = value


def _row_values(row: dict, lookups: _Lookups, brand_tz) -> dict:
    """The arguments of ``do_create_post`` for one row, or ValidationError with the reason."""
    text = row.get("text", "").strip()
    if not text:
        raise ValidationError(_("The text is empty."))
    if len(text) > MAX_TEXT:
        raise ValidationError(_("The text is longer than %(limit)s characters.") % {"limit": MAX_TEXT})
    accounts = []
    for item in [a.strip() for a in row.get("accounts", "").split("|") if a.strip()]:
        network, sep, handle = item.partition(":")
        network = network.strip().lower()
        account = lookups.accounts.get((network, _norm_handle(handle))) if sep and network in Network.values else None
        if account is None:
            raise ValidationError(_("Unknown account “%(account)s” (write it as network:handle, e.g. "
                                    "mastodon:@brand).") % {"account": item[:100]})
        if account not in accounts:
            accounts.append(account)
    if not accounts:
        raise ValidationError(_("Name at least one account."))
    tz = brand_tz
    zone = row.get("time_zone", "").strip()
    if zone:
        try:
            tz = zoneinfo.ZoneInfo(zone)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            raise ValidationError(_("Unknown time zone “%(zone)s”.") % {"zone": zone[:64]}) from None
    raw_date, raw_time = row.get("date", "").strip(), row.get("time", "").strip()
    scheduled_at = None
    if raw_date or raw_time:
        day = parse_date(raw_date)
        if day is None:
            raise ValidationError(_("The date “%(value)s” is not valid (use YYYY-MM-DD or DD/MM/YYYY).")
                                  % {"value": raw_date[:20]})
        moment = None
        for fmt in ("%H:%M", "%H:%M:%S"):
            try:
                moment = datetime.strptime(raw_time, fmt).time()
                break
            except ValueError:
                continue
        if moment is None:
            raise ValidationError(_("The time “%(value)s” is not valid (use HH:MM, 24-hour).")
                                  % {"value": raw_time[:20]})
        scheduled_at = make_aware_local(datetime.combine(day, moment), tz)
        if scheduled_at <= timezone.now():
            raise ValidationError(_("The date and time are in the past."))
    pillar = None
    if row.get("pillar", "").strip():
        pillar = lookups.pillars.get(row["pillar"].strip().lower())
        if pillar is None:
            raise ValidationError(_("Unknown pillar “%(name)s”.") % {"name": row["pillar"].strip()[:80]})
    fmt = Post.Format.TEXT
    if row.get("format", "").strip():
        fmt = lookups.formats.get(row["format"].strip().lower())
        if fmt is None:
            raise ValidationError(_("Unknown format “%(name)s”.") % {"name": row["format"].strip()[:40]})
    campaign = None
    if row.get("campaign", "").strip():
        campaign = lookups.campaigns.get(row["campaign"].strip().lower())
        if campaign is None:
            raise ValidationError(_("Unknown campaign “%(name)s”.") % {"name": row["campaign"].strip()[:200]})
    return {"text": text, "accounts": accounts, "pillar": pillar, "format": fmt, "campaign": campaign,
            "scheduled_at": scheduled_at}


def _message(exc: Exception) -> str:
    if isinstance(exc, PermissionDenied):
        return str(exc) or _("You do not have permission to do that.")
    return " ".join(exc.messages)


def do_import_posts(ctx: Ctx, brand, fileobj, *, submit: bool = False) -> ImportResult:
    """Create a post per good row of the CSV in ``fileobj``. Not one transaction: each row is
    its own savepoint, so a bad row costs only itself."""
    _require(ctx, brand, roles.COMPOSE)
    result = ImportResult()
    data = fileobj.read(MAX_BYTES + 1)
    if len(data) > MAX_BYTES:
        result.problem = _("The file is larger than %(size)s MB.") % {"size": MAX_BYTES // (1024 * 1024)}
        return result
    try:
        text = decode(data)
    except ValidationError as exc:
        result.problem = _message(exc)
        return result
    if not text.strip():
        result.problem = _("The file is empty.")
        return result
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=sniff_delimiter(text))
    try:
        header = next(reader)
    except csv.Error:
        result.problem = _("The file could not be read as CSV.")
        return result
    columns = [ALIASES.get(h.strip().lstrip("\ufeff").strip().lower()) for h in header]
    missing = [c for c in REQUIRED if c not in columns]
    if missing:
        result.problem = _("Missing columns: %(columns)s. The first row must name the columns (%(expected)s).") % {
            "columns": ", ".join(missing), "expected": ", ".join(COLUMNS)}
        return result
    lookups = _Lookups(brand)
    rows = 0
    while True:
        try:
            cells = next(reader)
        except StopIteration:
            break
        except csv.Error:
            result.errors.append(RowError(reader.line_num, _("This line could not be read as CSV.")))
            break
        line = reader.line_num
        if not any(c.strip() for c in cells):
            continue
        rows += 1
        if rows > MAX_ROWS:
            result.errors.append(RowError(line, _("At most %(limit)s rows per file; the rest was not imported.")
                                          % {"limit": MAX_ROWS}))
            break
        if len(cells) > len(columns):
            result.errors.append(RowError(line, _("This row has more cells than the header has columns.")))
            continue
        row = {}
        for name, cell in zip(columns, cells):
            if name:
                row[name] = unescape_cell(cell)
        try:
            values = _row_values(row, lookups, brand.tzinfo)
            with transaction.atomic():
                post = composer.do_create_draft(ctx, brand, **values)
        except (ValidationError, PermissionDenied) as exc:
            result.errors.append(RowError(line, _message(exc)))
            continue
        result.created.append(post)
        if submit:
            # The same submission as the composer's: checked per network, approvers notified.
            # A row that fails the check is kept as a draft and reported.
            try:
                with transaction.atomic():
                    approvals.do_submit_for_review(ctx, post)
            except (ValidationError, PermissionDenied) as exc:
                result.errors.append(RowError(line, _("Saved as a draft, not sent for approval: %(reason)s")
                                              % {"reason": _message(exc)}))
    if result.created or result.errors:
        _log(ctx, "post.import", brand=brand,
             changes={"created": len(result.created), "errors": len(result.errors), "submit": submit})
    return result
