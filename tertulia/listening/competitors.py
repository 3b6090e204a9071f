"""Competitors: who a brand tracks, their public numbers and posts, and how the brand compares.

- Writes (``do_*``): add, edit and remove competitors and their accounts (MANAGE_BRAND), read an
  account's public numbers now, import numbers and posts from CSV where no API allows reading.
- Reading (``read_account``/``read_due``): through the connector of one of the brand's own
  accounts on the same network (``fetch_public_account``/``fetch_public_posts``); each read
  records a ``CompetitorSnapshot`` and upserts ``CompetitorPost`` rows (format from the post's
  media, pillar from the brand's content pillars). A failure is kept on the account (a note).
- Figures (``benchmark``/``monthly_section``): the brand's own accounts (analytics snapshots and
  published targets) and each competitor side by side. Missing numbers stay ``None``, never 0.
"""

from __future__ import annotations

import csv
import hashlib
import io
import re
import unicodedata
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from datetime import timezone as dt_timezone

from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.db import transaction
from django.db.models import Max
from django.utils import formats, timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from tertulia.core import audit, notes, roles
from tertulia.core.services import Ctx, _log, _require
from tertulia.networks.errors import ConnectorError
from tertulia.networks.models import Network, SocialAccount

from .models import Competitor, CompetitorAccount, CompetitorPost, CompetitorSnapshot

# Networks whose connectors read other accounts' public numbers and posts; the rest import CSV.
READABLE_NETWORKS = frozenset({"mastodon", "bluesky", "x"})
READ_EVERY = timedelta(hours=20)  # the daily task reads accounts not read for this long
POSTS_WINDOW = timedelta(days=30)  # how far back a read goes (engagement keeps changing)
POSTS_PER_READ = 40
TOP_POSTS = 5
MAX_CSV_BYTES = 2 * 1024 * 1024
MAX_CSV_ROWS = 5000
MAX_CELL = 5000  # characters in any one cell (post text included)
MAX_ERRORS_SHOWN = 50

FORMATS = ("text", "image", "carousel", "video", "link")
SNAPSHOT_COLUMNS = ("date", "followers", "posts")
POST_COLUMNS = ("date", "url", "format", "likes", "comments", "shares", "views", "text")

MSG_NO_READER = gettext_lazy("Connect one of the brand's own %(network)s accounts: Tertulia reads competitors' "
                             "public numbers through it.")
MSG_CSV_ONLY = gettext_lazy("This network has no public reading: import this account's numbers from a CSV file.")
MSG_DEMO = gettext_lazy("Demo workspace: competitors are not read from the networks.")


# --- competitors and their accounts ---------------------------------------------------------


def _handle_rules() -> dict:
    from tertulia.networks.bluesky import connector as bluesky
    from tertulia.networks.mastodon import connector as mastodon
    from tertulia.networks.x import connector as x

    return {
        "mastodon": (re.compile(r"^@?[A-Za-z0-9_]{1,30}(@[A-Za-z0-9.-]{1,253}\.[A-Za-z]{2,63})?$"), mastodon.MSG_BAD_HANDLE),
        "bluesky": (re.compile(r"^@?(did:[a-z]+:[A-Za-z0-9._:%-]{1,200}|([A-Za-z0-9-]{1,63}\.)+[A-Za-z]{2,63})$"),
                    bluesky.MSG_BAD_HANDLE),
        "x": (re.compile(r"^@?\w{1,50}$", re.ASCII), x.MSG_BAD_HANDLE),
    }


_HANDLE_RULES = _handle_rules()


def _clean_network_handle(network: str, handle: str) -> tuple[str, str]:
    if network not in Network.values:
        raise ValidationError({"network": _("Unknown network.")})
    handle = (handle or "").strip()
    if not handle:
        raise ValidationError({"handle": _("Enter the account's handle or name.")})
    # Page names (Facebook, LinkedIn) may have spaces; the connectors check their own networks' rules.
    if len(handle) > 200 or any(unicodedata.category(c).startswith("C") for c in handle):
        raise ValidationError({"handle": _("A handle has at most 200 characters and no control characters.")})
    rule = _HANDLE_RULES.get(network)
    if rule is not None and not rule[0].match(handle):
        raise ValidationError({"handle": str(rule[1])})
    return network, handle


def _clean_competitor(brand, name: str, website: str, *, exclude: int | None = None) -> tuple[str, str]:
    name = " ".join((name or "").split())
    if not name:
        raise ValidationError({"name": _("Give the competitor a name.")})
    if len(name) > 200:
        raise ValidationError({"name": _("At most 200 characters.")})
    website = (website or "").strip()
    if len(website) > Competitor._meta.get_field("website").max_length:
        raise ValidationError({"website": _("The web address is too long (200 characters at most).")})
    if website:
        try:
            URLValidator(schemes=["http", "https"])(website)
        except ValidationError:
            raise ValidationError({"website": _("Enter a web address that starts with http:// or https://.")}) \
                from None
    clash = Competitor.objects.filter(brand=brand, name__iexact=name)
    if exclude is not None:
        clash = clash.exclude(pk=exclude)
    if clash.exists():
        raise ValidationError({"name": _("This brand already tracks a competitor with that name.")})
    return name, website


@transaction.atomic
def do_add_competitor(ctx: Ctx, brand, *, name: str, website: str = "",
                      accounts: Iterable[tuple[str, str]] = ()) -> Competitor:
    """Track a competitor and its accounts, given as (network, handle) pairs."""
    _require(ctx, brand, roles.MANAGE_BRAND)
    name, website = _clean_competitor(brand, name, website)
    pairs = [_clean_network_handle(n, h) for n, h in accounts]
    competitor = Competitor(brand=brand, name=name, website=website)
    competitor.full_clean()
    competitor.save()
    for network, handle in pairs:
        CompetitorAccount.objects.get_or_create(brand=brand, competitor=competitor, network=network, handle=handle)
    _log(ctx, "competitor.add", brand=brand, obj=competitor,
         changes=audit.diff({}, {"name": competitor.name, "accounts": [f"{n} {h}" for n, h in pairs]}))
    return competitor


@transaction.atomic
def do_update_competitor(ctx: Ctx, competitor: Competitor, *, name: str, website: str = "") -> Competitor:
    brand = competitor.brand
    _require(ctx, brand, roles.MANAGE_BRAND)
    before = {"name": competitor.name, "website": competitor.website}
    competitor.name, competitor.website = _clean_competitor(brand, name, website, exclude=competitor.pk)
    competitor.save(update_fields=["name", "website"])
    _log(ctx, "competitor.update", brand=brand, obj=competitor,
         changes=audit.diff(before, {"name": competitor.name, "website": competitor.website}))
    return competitor


@transaction.atomic
def do_remove_competitor(ctx: Ctx, competitor: Competitor) -> None:
    brand = competitor.brand
    _require(ctx, brand, roles.MANAGE_BRAND)
    _log(ctx, "competitor.remove", brand=brand, obj=competitor, changes=audit.diff({"name": competitor.name}, {}))
    competitor.delete()


@transaction.atomic
def do_add_competitor_account(ctx: Ctx, competitor: Competitor, *, network: str, handle: str) -> CompetitorAccount:
    brand = competitor.brand
    _require(ctx, brand, roles.MANAGE_BRAND)
    network, handle = _clean_network_handle(network, handle)
    if CompetitorAccount.objects.filter(competitor=competitor, network=network, handle__iexact=handle).exists():
        raise ValidationError({"handle": _("This competitor already has that account.")})
    account = CompetitorAccount.objects.create(brand=brand, competitor=competitor, network=network, handle=handle)
    _log(ctx, "competitor.account_add", brand=brand, obj=competitor, changes=audit.diff({}, {"account": str(account)}))
    return account


@transaction.atomic
def do_remove_competitor_account(ctx: Ctx, account: CompetitorAccount) -> None:
    brand = account.competitor.brand
    _require(ctx, brand, roles.MANAGE_BRAND)
    _log(ctx, "competitor.account_remove", brand=brand, obj=account.competitor,
         changes=audit.diff({"account": str(account)}, {}))
    account.delete()


# --- snapshots --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CompetitorSample:
    taken_at: datetime
    followers: int | None = None
    posts: int | None = None
    avg_engagement: float | None = None  # None when it cannot be measured, never 0


@transaction.atomic
def record_competitor_snapshots(account: CompetitorAccount, samples: Iterable[CompetitorSample]) -> int:
    """Store samples; one per account and instant (a repeated sample is a no-op). Returns how
    many were new."""
    rows = []
    for s in samples:
        if timezone.is_naive(s.taken_at):
            raise ValidationError(_("Snapshot times must carry a time zone."))
        for value in (s.followers, s.posts, s.avg_engagement):
            if value is not None and value < 0:
                raise ValidationError(_("Counts cannot be negative."))
        rows.append(CompetitorSnapshot(brand_id=account.brand_id, account=account, taken_at=s.taken_at,
                                       followers=s.followers, posts=s.posts, avg_engagement=s.avg_engagement))
    before = CompetitorSnapshot.objects.filter(account=account).count()
    CompetitorSnapshot.objects.bulk_create(rows, ignore_conflicts=True, batch_size=500)
    return CompetitorSnapshot.objects.filter(account=account).count() - before


# --- formats and pillars ----------------------------------------------------------------------


def format_of(media_kinds: Iterable[str], link: str = "") -> str:
    """A post's format (content.Post.Format values) from what it carries."""
    kinds = list(media_kinds)
    if any(k in ("video", "gif") for k in kinds):
        return "video" if len(kinds) == 1 or all(k in ("video", "gif") for k in kinds) else "carousel"
    if len(kinds) > 1:
        return "carousel"
    if kinds:
        return "image"
    return "link" if link else "text"


def _fold(text: str) -> str:
    text = unicodedata.normalize("NFKD", text or "").casefold()
    return "".join(c for c in text if not unicodedata.combining(c))


_WORD = re.compile(r"\w+")


def _stem(word: str) -> str:
    """Crude plural folding (Spanish and English): "recetas" and "receta" are one word."""
    for suffix in ("es", "s"):
        if len(word) > 4 and word.endswith(suffix):
            return word[: -len(suffix)]
    return word


class PillarMatcher:
    """The brand's pillar whose name's words appear most in a post's text (accents, case and
    plurals folded; words of 3 letters or fewer ignored), or blank."""

    def __init__(self, brand):
        from tertulia.strategy.models import ContentPillar

        self.pillars = []
        for pillar in ContentPillar.objects.filter(brand=brand).order_by("-target_share", "name"):
            words = {_stem(w) for w in _WORD.findall(_fold(pillar.name)) if len(w) > 3}
            if words:
                self.pillars.append((pillar.name, words))

    def match(self, text: str) -> str:
        if not self.pillars or not text:
            return ""
        words = {_stem(w) for w in _WORD.findall(_fold(text))}
        best, score = "", 0
        for name, keys in self.pillars:
            hits = len(keys & words)
            if hits > score:
                best, score = name, hits
        return best


# --- reading public numbers and posts ---------------------------------------------------------


@dataclass
class ReadResult:
    account: CompetitorAccount
    ok: bool
    snapshot: bool = False
    posts_new: int = 0
    posts_updated: int = 0
    error: str = ""


def reader_for(account: CompetitorAccount) -> SocialAccount | None:
    """The brand's own connected account on the competitor account's network."""
    return (SocialAccount.objects.filter(brand_id=account.brand_id, network=account.network,
                                         status=SocialAccount.Status.CONNECTED, paused=False)
            .order_by("pk").first())


def _default_connector(social: SocialAccount):
    from tertulia.publishing.engine import connector_for

    return connector_for(social)


def _fail(account: CompetitorAccount, note: list, now: datetime) -> ReadResult:
    account.last_error = note
    account.last_read_at = now
    account.save(update_fields=["last_error", "last_read_at"])
    return ReadResult(account, ok=False, error=notes.english(account.last_error))


def _engagement(likes, comments, shares) -> int | None:
    values = [v for v in (likes, comments, shares) if v is not None]
    return sum(values) if values else None


def read_account(account: CompetitorAccount, *, now: datetime | None = None,
                 connector_factory: Callable | None = None) -> ReadResult:
    """Read one competitor account now: a snapshot of its public numbers, and its recent posts
    upserted with their engagement. Never raises for a network problem: it is kept on the
    account (``last_error``) and returned."""
    now = now or timezone.now()
    if account.network not in READABLE_NETWORKS:
        return _fail(account, notes.note(MSG_CSV_ONLY), now)
    social = reader_for(account)
    if social is None:
        return _fail(account, notes.note(MSG_NO_READER, network=account.get_network_display()), now)
    try:
        with (connector_factory or _default_connector)(social) as connector:
            profile = connector.fetch_public_account(account.handle)
            posts = connector.fetch_public_posts(account.handle, since=now - POSTS_WINDOW, limit=POSTS_PER_READ)
    except ConnectorError as error:
        return _fail(account, notes.note(error.user_message), now)
    matcher = PillarMatcher(account.brand)
    existing = {p.external_id: p for p in CompetitorPost.objects.filter(
        account=account, external_id__in=[p.external_id[:300] for p in posts])}
    new, updated = [], []
    for post in posts:
        if not post.external_id or post.created_at is None:
            continue
        values = dict(url=post.url[:1000], published_at=post.created_at,
                      format=format_of(post.media_kinds, post.link), text=post.text[:70000],
                      likes=post.likes, comments=post.comments, shares=post.shares, views=post.views, read_at=now)
        row = existing.get(post.external_id[:300])
        if row is None:
            new.append(CompetitorPost(brand_id=account.brand_id, account=account, external_id=post.external_id[:300],
                                      pillar=matcher.match(post.text)[:120], **values))
        else:
            for key, value in values.items():
                setattr(row, key, value)
            updated.append(row)
    engagements = [e for e in (_engagement(p.likes, p.comments, p.shares) for p in posts) if e is not None]
    with transaction.atomic():
        CompetitorPost.objects.bulk_create(new, ignore_conflicts=True, batch_size=200)
        if updated:
            CompetitorPost.objects.bulk_update(updated, ["url", "published_at", "format", "text", "likes", "comments",
                                                         "shares", "views", "read_at"], batch_size=200)
        created = record_competitor_snapshots(account, [CompetitorSample(
            now, followers=profile.followers, posts=profile.posts,
            avg_engagement=sum(engagements) / len(engagements) if engagements else None)])
        account.last_error = []
        account.last_read_at = now
        account.save(update_fields=["last_error", "last_read_at"])
    return ReadResult(account, ok=True, snapshot=bool(created), posts_new=len(new), posts_updated=len(updated))


def _is_demo(brand_id: int) -> bool:
    from tertulia.publishing.engine import is_demo_brand

    return is_demo_brand(brand_id)


def do_read_now(ctx: Ctx, competitor: Competitor, *, connector_factory: Callable | None = None) -> list[ReadResult]:
    """Read every account of a competitor now (the "read now" button)."""
    _require(ctx, competitor.brand, roles.MANAGE_BRAND)
    results = []
    for account in competitor.accounts.order_by("network", "handle"):
        if account.network not in READABLE_NETWORKS:
            continue
        if _is_demo(competitor.brand_id):
            results.append(_fail(account, notes.note(MSG_DEMO), timezone.now()))
            continue
        results.append(read_account(account, connector_factory=connector_factory))
    _log(ctx, "competitor.read", brand=competitor.brand, obj=competitor,
         changes={"ok": sum(r.ok for r in results), "failed": sum(not r.ok for r in results)})
    return results


def read_due(now: datetime | None = None, *, connector_factory: Callable | None = None, limit: int = 500) -> int:
    """The daily task: read every API-readable account not read for ``READ_EVERY`` (demo
    brands left alone). Returns how many were read successfully."""
    now = now or timezone.now()
    due = (CompetitorAccount.objects.filter(network__in=READABLE_NETWORKS, brand__organization__is_demo=False)
           .exclude(last_read_at__gt=now - READ_EVERY).select_related("brand").order_by("last_read_at", "pk")[:limit])
    return sum(read_account(account, now=now, connector_factory=connector_factory).ok for account in due)


# --- CSV import -------------------------------------------------------------------------------


@dataclass
class ImportResult:
    created: int = 0
    updated: int = 0
    errors: list[tuple[int, str]] = field(default_factory=list)  # (line, reason), lines from 1


def _decode(data: bytes) -> str:
    if len(data) > MAX_CSV_BYTES:
        raise ValidationError(_("The file is larger than %(size)s MB.") % {"size": MAX_CSV_BYTES // (1024 * 1024)})
    if b"\x00" in data:
        raise ValidationError(_("This is not a CSV text file."))
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ValidationError(_("Save the file as UTF-8 text and try again.")) from None


_INT = re.compile(r"^\d{1,3}(?:[.,  ]\d{3})+$|^\d{1,10}$")


def _count(value: str, column: str) -> int | None:
    value = value.strip()
    if not value:
        return None
    if not _INT.match(value):
        raise ValueError(_("%(column)s is not a whole number: %(value)s") % {"column": column, "value": value[:40]})
    number = int(re.sub(r"\D", "", value))
    if number > 2_000_000_000:
        raise ValueError(_("%(column)s is too large.") % {"column": column})
    return number


_DATE_FORMATS = ("%Y-%m-%d", "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S",
                 "%d/%m/%Y", "%d/%m/%Y %H:%M")


def _when(value: str, tz) -> datetime:
    value = value.strip()
    for fmt in _DATE_FORMATS:
        try:
            parsed = datetime.strptime(value, fmt)
        except ValueError:
            continue
        if not 2000 <= parsed.year <= 2100:
            break
        return timezone.make_aware(parsed, tz)
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        parsed = None
    if parsed is not None and parsed.tzinfo is not None and 2000 <= parsed.year <= 2100:
        return parsed
    raise ValueError(_("The date is not valid (use YYYY-MM-DD, optionally with HH:MM): %(value)s")
                     % {"value": value[:40]})


def _rows(text: str, expected: tuple[str, ...], required: tuple[str, ...]):
    sample = text[:4096]
    delimiter = ";" if sample.count(";") > sample.count(",") else ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        header = next(reader)
    except StopIteration:
        raise ValidationError(_("The file is empty.")) from None
    except csv.Error:
        raise ValidationError(_("The file could not be read as CSV.")) from None
    names = [h.strip().lower().lstrip("\ufeff") for h in header]
    missing = [c for c in required if c not in names]
    if missing:
        raise ValidationError(_("The first line must name the columns; missing: %(columns)s. Expected: %(expected)s.")
                              % {"columns": ", ".join(missing), "expected": ", ".join(expected)})
    index = {c: names.index(c) for c in expected if c in names}
    count = 0
    while True:
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as error:
            yield reader.line_num, None, str(error)
            continue
        if not any(c.strip() for c in cells):
            continue
        count += 1
        if count > MAX_CSV_ROWS:
            raise ValidationError(_("The file has more than %(rows)s rows: split it.") % {"rows": MAX_CSV_ROWS})
        if any(len(c) > MAX_CELL for c in cells):
            yield reader.line_num, None, _("A cell is longer than %(size)s characters.") % {"size": MAX_CELL}
            continue
        yield reader.line_num, {c: (cells[i] if i < len(cells) else "") for c, i in index.items()}, ""


def _import_snapshots(account, text: str, tz) -> ImportResult:
    result = ImportResult()
    by_time: dict[datetime, tuple[int | None, int | None]] = {}
    for line, row, problem in _rows(text, SNAPSHOT_COLUMNS, ("date", "followers")):
        if row is None:
            result.errors.append((line, problem))
            continue
        try:
            when = _when(row["date"], tz)
            followers = _count(row["followers"], "followers")
            posts = _count(row.get("posts", ""), "posts")
            if followers is None and posts is None:
                raise ValueError(_("The row has no numbers."))
        except ValueError as error:
            result.errors.append((line, str(error)))
            continue
        by_time[when] = (followers, posts)
    existing = {s.taken_at: s for s in CompetitorSnapshot.objects.filter(account=account, taken_at__in=list(by_time))}
    for when, (followers, posts) in by_time.items():
        row = existing.get(when)
        if row is None:
            CompetitorSnapshot.objects.create(brand_id=account.brand_id, account=account, taken_at=when,
                                              followers=followers, posts=posts)
            result.created += 1
        else:
            row.followers, row.posts = followers, posts
            row.save(update_fields=["followers", "posts"])
            result.updated += 1
    return result


def _import_posts(account, text: str, tz) -> ImportResult:
    result = ImportResult()
    matcher = PillarMatcher(account.brand)
    validate_url = URLValidator(schemes=["http", "https"])
    parsed: dict[str, dict] = {}
    for line, row, problem in _rows(text, POST_COLUMNS, ("date",)):
        if row is None:
            result.errors.append((line, problem))
            continue
        try:
            when = _when(row["date"], tz)
            url = row.get("url", "").strip()
            if len(url) > CompetitorPost._meta.get_field("url").max_length:
                raise ValueError(_("The url is too long (1,000 characters at most)."))
            if url:
                try:
                    validate_url(url)
                except ValidationError:
                    raise ValueError(_("The url is not a web address (http or https): %(value)s")
                                     % {"value": url[:60]}) from None
            fmt = row.get("format", "").strip().lower()
            if fmt and fmt not in FORMATS:
                raise ValueError(_("Unknown format %(value)s: use one of %(formats)s.")
                                 % {"value": fmt[:20], "formats": ", ".join(FORMATS)})
            counts = {c: _count(row.get(c, ""), c) for c in ("likes", "comments", "shares", "views")}
            body = row.get("text", "").strip()
            if not url and not body:
                raise ValueError(_("A post needs its url or its text."))
        except ValueError as error:
            result.errors.append((line, str(error)))
            continue
        # An id that fits the column whatever the url's length (a long url is kept whole in ``url``).
        key = url if len(url) <= 300 else "url:" + hashlib.sha256(url.encode()).hexdigest()
        key = key or "csv:" + hashlib.sha256(f"{when.isoformat()}\x1f{body}".encode()).hexdigest()[:40]
        parsed[key] = dict(url=url, published_at=when, format=fmt, text=body, **counts)
    existing = {p.external_id: p for p in CompetitorPost.objects.filter(account=account, external_id__in=list(parsed))}
    now = timezone.now()
    for key, values in parsed.items():
        row = existing.get(key)
        if row is None:
            CompetitorPost.objects.create(brand_id=account.brand_id, account=account, external_id=key, read_at=now,
                                          pillar=matcher.match(values["text"])[:120], **values)
            result.created += 1
        else:
            for name, value in values.items():
                setattr(row, name, value)
            row.read_at = now
            row.save()
            result.updated += 1
    return result


def do_import_csv(ctx: Ctx, account: CompetitorAccount, *, kind: str, data: bytes) -> ImportResult:
    """Import an account's snapshots (date, followers, posts) or posts (date, url, format,
    likes, comments, shares, views, text) from CSV. Bad rows are reported with their line and
    reason and the good ones kept. Cells are only ever data (a cell starting with ``=`` is text,
    or a bad number), dates are in the brand's time zone unless they carry an offset."""
    brand = account.competitor.brand
    _require(ctx, brand, roles.MANAGE_BRAND)
    if kind not in ("snapshots", "posts"):
        raise ValidationError({"kind": _("Choose what the file holds: snapshots or posts.")})
    text = _decode(data)
    with transaction.atomic():
        importer = _import_snapshots if kind == "snapshots" else _import_posts
        result = importer(account, text, brand.tzinfo)
        _log(ctx, "competitor.import", brand=brand, obj=account.competitor,
             changes={"account": str(account), "kind": kind, "created": result.created, "updated": result.updated,
                      "errors": len(result.errors)})
    return result


# --- benchmark --------------------------------------------------------------------------------


def _followers_series(samples: dict[int, list[tuple[datetime, int]]], days: list[date], tz) -> list[tuple[date, int]]:
    """Per day, the sum over accounts of each one's latest known followers up to that day
    (accounts join the sum from their first sample)."""
    out = []
    for day in days:
        end = datetime.combine(day, time.max, tzinfo=tz)
        total, known = 0, False
        for points in samples.values():
            latest = None
            for taken_at, value in points:
                if taken_at <= end:
                    latest = value
                else:
                    break
            if latest is not None:
                total += latest
                known = True
        if known:
            out.append((day, total))
    return out


def _growth(samples: dict[int, list[tuple[datetime, int]]]) -> tuple[int | None, int | None, int | None, int | None]:
    """(start, end, growth, growth's start) over accounts with at least one sample in the window;
    growth, and the start it is measured from, only over accounts with two or more."""
    start = end = growth = base = None
    for points in samples.values():
        if not points:
            continue
        start = (start or 0) + points[0][1]
        end = (end or 0) + points[-1][1]
        if len(points) > 1:
            growth = (growth or 0) + points[-1][1] - points[0][1]
            base = (base or 0) + points[0][1]
    return start, end, growth, base


def _mix(values: list[str]) -> list[dict]:
    counts = Counter(v for v in values if v)
    total = sum(counts.values())
    return [{"name": k, "count": n, "share": round(100 * n / total, 1)} for k, n in counts.most_common()] if total else []


def _summary(*, name: str, kind: str, obj_id, samples, posts: list[dict], days: list[date], tz, weeks: float,
             posts_known: bool = True) -> dict:
    """``posts_known``: whether Tertulia has ever read or imported this side's posts; if not, its
    posting figures are unknown (None), not zero."""
    start, end, growth, base = _growth(samples)
    engagements = [p["engagement"] for p in posts if p["engagement"] is not None]
    per_post = round(sum(engagements) / len(engagements), 2) if engagements else None
    return {
        "name": name, "kind": kind, "id": obj_id,
        "followers_start": start, "followers_end": end, "growth": growth,
        "growth_pct": round(100 * growth / base, 2) if growth is not None and base else None,
        "series": _followers_series(samples, days, tz),
        "posts": len(posts) if posts_known else None,
        "posts_per_week": round(len(posts) / weeks, 2) if weeks and posts_known else None,
        "engagement_per_post": per_post,
        "engagement_rate": round(100 * per_post / end, 3) if per_post is not None and end else None,
        "measured_posts": len(engagements),
        "formats": _mix([p["format"] for p in posts]), "pillars": _mix([p["pillar"] for p in posts]),
        "top_posts": sorted((p for p in posts if p["engagement"] is not None),
                            key=lambda p: (-p["engagement"], p["published_at"]))[:TOP_POSTS],
    }


def _brand_row(brand, since: datetime, until: datetime, days, tz, weeks) -> dict:
    from tertulia.analytics.models import PostMetricSnapshot, ProfileSnapshot
    from tertulia.publishing.models import PostTarget

    samples: dict[int, list[tuple[datetime, int]]] = defaultdict(list)
    for account_id, taken_at, followers in (ProfileSnapshot.objects
                                            .filter(brand=brand, taken_at__gte=since, taken_at__lt=until,
                                                    followers__isnull=False)
                                            .order_by("taken_at").values_list("account_id", "taken_at", "followers")):
        samples[account_id].append((taken_at, followers))
    targets = list(PostTarget.objects.filter(brand=brand, state=PostTarget.State.PUBLISHED, published_at__gte=since,
                                             published_at__lt=until)
                   .select_related("post", "post__pillar", "account"))
    latest = {}
    if targets:
        newest = (PostMetricSnapshot.objects.filter(target__in=targets).values("target_id")
                  .annotate(last=Max("taken_at")))
        wanted = {(r["target_id"], r["last"]) for r in newest}
        for snap in PostMetricSnapshot.objects.filter(target__in=targets, taken_at__in={w[1] for w in wanted}):
            if (snap.target_id, snap.taken_at) in wanted:
                latest[snap.target_id] = snap
    posts = []
    for t in targets:
        snap = latest.get(t.pk)
        posts.append({
            "text": t.post.text[:280], "url": t.external_url, "published_at": t.published_at,
            "network": t.account.network, "format": t.post.format or "",
            "pillar": t.post.pillar.name if t.post.pillar_id else "",
            "likes": snap.likes if snap else None, "comments": snap.comments if snap else None,
            "shares": snap.shares if snap else None,
            "engagement": _engagement(snap.likes, snap.comments, snap.shares) if snap else None,
        })
    return _summary(name=brand.name, kind="brand", obj_id=brand.pk, samples=samples, posts=posts, days=days, tz=tz,
                    weeks=weeks)


def _competitor_rows(brand, since: datetime, until: datetime, days, tz, weeks) -> list[dict]:
    competitors = list(Competitor.objects.filter(brand=brand).order_by("name"))
    samples: dict[int, dict[int, list]] = defaultdict(lambda: defaultdict(list))
    for comp_id, account_id, taken_at, followers in (
            CompetitorSnapshot.objects.filter(brand=brand, taken_at__gte=since, taken_at__lt=until,
                                              followers__isnull=False)
            .order_by("taken_at").values_list("account__competitor_id", "account_id", "taken_at", "followers")):
        samples[comp_id][account_id].append((taken_at, followers))
    posts: dict[int, list[dict]] = defaultdict(list)
    for p in (CompetitorPost.objects.filter(brand=brand, published_at__gte=since, published_at__lt=until)
              .select_related("account")):
        posts[p.account.competitor_id].append({
            "text": p.text[:280], "url": p.url, "published_at": p.published_at, "network": p.account.network,
            "format": p.format, "pillar": p.pillar, "likes": p.likes, "comments": p.comments, "shares": p.shares,
            "engagement": _engagement(p.likes, p.comments, p.shares), "id": p.pk,
        })
    # Posts are known for a competitor once some were read or imported, or a read succeeded.
    known = set(CompetitorPost.objects.filter(brand=brand).values_list("account__competitor_id", flat=True)
                .distinct()) | set(CompetitorAccount.objects.filter(brand=brand, last_read_at__isnull=False)
                                   .exclude(last_error__len__gt=0)
                                   .values_list("competitor_id", flat=True))
    return [_summary(name=c.name, kind="competitor", obj_id=c.pk, samples=samples.get(c.pk, {}),
                     posts=posts.get(c.pk, []), days=days, tz=tz, weeks=weeks, posts_known=c.pk in known)
            for c in competitors]


def benchmark(brand, since: datetime, until: datetime) -> dict:
    """The brand and each of its competitors side by side over [since, until): followers over
    time and growth, posts per week, engagement per post (likes + comments + shares, and as a
    % of followers where known), formats and pillars mixes, top posts."""
    if timezone.is_naive(since) or timezone.is_naive(until):
        raise ValueError("benchmark needs aware datetimes")
    if until <= since:
        raise ValueError("until must be after since")
    tz = brand.tzinfo
    first, last = since.astimezone(tz).date(), (until - timedelta(microseconds=1)).astimezone(tz).date()
    days = [first + timedelta(days=n) for n in range((last - first).days + 1)]
    weeks = (until - since).total_seconds() / (7 * 86400)
    rows = [_brand_row(brand, since, until, days, tz, weeks)] + _competitor_rows(brand, since, until, days, tz, weeks)
    return {"since": since, "until": until, "weeks": round(weeks, 2), "rows": rows}


# --- the monthly section ----------------------------------------------------------------------


def month_bounds(brand, year: int, month: int) -> tuple[datetime, datetime]:
    if not (1970 <= year <= 2100 and 1 <= month <= 12):
        raise ValueError("month out of range")
    tz = brand.tzinfo
    start = datetime(year, month, 1, tzinfo=tz)
    end = datetime(year + (month == 12), month % 12 + 1, 1, tzinfo=tz)
    return start.astimezone(dt_timezone.utc), end.astimezone(dt_timezone.utc)


def _delta(now, before):
    if now is None or before is None:
        return None
    return round(now - before, 2)


def _num(value, places: int = 0) -> str:
    return formats.number_format(value, decimal_pos=places, use_l10n=True, force_grouping=True)


def _sentences(rows: list[dict]) -> list[str]:
    out: list[str] = []
    brand = rows[0]
    others = rows[1:]
    for row in rows:
        if row["growth"] is not None and row["growth"] != 0:
            pct = f" ({_num(abs(row['growth_pct']), 1)} %)" if row["growth_pct"] is not None else ""
            template = (_("%(name)s gained %(count)s followers%(pct)s.") if row["growth"] > 0
                        else _("%(name)s lost %(count)s followers%(pct)s."))
            out.append(template % {"name": row["name"], "count": _num(abs(row["growth"])), "pct": pct})
    active = [r for r in rows if r["posts"]]
    if active:
        leader = max(active, key=lambda r: r["posts_per_week"] or 0)
        out.append(_("%(name)s posted most often: %(value)s posts a week.")
                   % {"name": leader["name"], "value": _num(leader["posts_per_week"], 1)})
        if leader is not brand and others:
            out.append(_("The brand posted %(value)s times a week.") % {"value": _num(brand["posts_per_week"] or 0, 1)})
    measured = [r for r in rows if r["engagement_per_post"] is not None]
    if measured:
        top = max(measured, key=lambda r: r["engagement_per_post"])
        out.append(_("%(name)s had the highest engagement per post: %(value)s interactions.")
                   % {"name": top["name"], "value": _num(top["engagement_per_post"], 1)})
    for row in rows:
        change = row.get("changes", {}).get("engagement_per_post_pct")
        if change is not None and abs(change) >= 10:
            template = (_("%(name)s's engagement per post rose %(pct)s %% against the month before.") if change > 0
                        else _("%(name)s's engagement per post fell %(pct)s %% against the month before."))
            out.append(template % {"name": row["name"], "pct": _num(abs(change), 0)})
        if row["formats"] and (row["posts"] or 0) >= 3:
            main = row["formats"][0]
            out.append(_("%(name)s mostly used the %(format)s format (%(share)s %% of its posts).")
                       % {"name": row["name"], "format": format_label(main["name"]).lower(), "share": _num(main["share"], 0)})
    return out


def format_label(value: str) -> str:
    from tertulia.content.models import Post

    return str(dict(Post.Format.choices).get(value, value))


def monthly_section(brand, year: int, month: int) -> dict:
    """The benchmark for one month (in the brand's time zone), each row with its changes
    against the month before, and a few sentences of facts in the brand's language."""
    since, until = month_bounds(brand, year, month)
    prev_year, prev_month = (year - 1, 12) if month == 1 else (year, month - 1)
    prev_since, prev_until = month_bounds(brand, prev_year, prev_month)
    current = benchmark(brand, since, until)
    previous = {(r["kind"], r["id"]): r for r in benchmark(brand, prev_since, prev_until)["rows"]}
    for row in current["rows"]:
        before = previous.get((row["kind"], row["id"]))
        if before is None:
            row["changes"] = {}
            continue
        epp_pct = None
        if row["engagement_per_post"] is not None and before["engagement_per_post"]:
            epp_pct = round(100 * (row["engagement_per_post"] - before["engagement_per_post"])
                            / before["engagement_per_post"], 1)
        row["changes"] = {
            "followers_end": _delta(row["followers_end"], before["followers_end"]),
            "growth": _delta(row["growth"], before["growth"]),
            "posts": _delta(row["posts"], before["posts"]),
            "posts_per_week": _delta(row["posts_per_week"], before["posts_per_week"]),
            "engagement_per_post": _delta(row["engagement_per_post"], before["engagement_per_post"]),
            "engagement_per_post_pct": epp_pct,
        }
    with translation.override(brand.language or "es"):
        sentences = _sentences(current["rows"])
    return {"year": year, "month": month, "since": since, "until": until, "language": brand.language,
            "rows": current["rows"], "weeks": current["weeks"], "sentences": sentences}
