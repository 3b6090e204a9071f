"""Listening API: competitors, their accounts, snapshots and posts, the benchmark, the monthly
section, and CSV import, under /brands/{brand_id}/…

Thin like the other routers: the brand comes from ``scoping.get_brand`` (404 for strangers, 403
for a role without the permission), rows only through ``for_user`` and the brand, and every write
through a ``competitors.do_*`` service (MANAGE_BRAND, audited with via="api"). Reading needs VIEW.
"""


from datetime import date, datetime, timedelta
from typing import Literal

from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext as _
from ninja import Field, File, Form, Query, Router, Schema, Status
from ninja.files import UploadedFile
from ninja.pagination import paginate

from tertulia.core import notes, roles
from tertulia.core.api import MAX_PAGE, In, Pagination, Patch, Text, _ctx, _one, _responses, _values
from tertulia.core.scoping import get_brand
from tertulia.networks.models import Network

from . import competitors
from .models import Competitor, CompetitorAccount, CompetitorPost, CompetitorSnapshot

router = Router(tags=["competitors"])

MAX_RANGE_DAYS = 366


# --- Schemas ----------------------------------------------------------------------------------


class AccountOut(Schema):
    id: int
    competitor_id: int
    network: str
    handle: str
    readable: bool = Field(..., description="Read every day from the network's public API; otherwise CSV import.")
    last_read_at: datetime | None
    last_error: str = Field(..., description="Why the last read failed, in the caller's language; empty if it worked.")

    @staticmethod
    def resolve_readable(obj):
        return obj.network in competitors.READABLE_NETWORKS

    @staticmethod
    def resolve_last_error(obj):
        return notes.render(obj.last_error)


class CompetitorOut(Schema):
    id: int
    brand_id: int
    name: str
    website: str
    accounts: list[AccountOut]

    @staticmethod
    def resolve_accounts(obj):
        return sorted(obj.accounts.all(), key=lambda a: (a.network, a.handle))


class AccountIn(In):
    network: Network
    handle: Text(200, 1)


class CompetitorCreate(In):
    name: Text(200, 1)
    website: Text(500) = ""
    accounts: list[AccountIn] = Field(None, max_length=20)


class CompetitorPatch(Patch):
    name: Text(200, 1) = None
    website: Text(500) = None


class SnapshotOut(Schema):
    id: int
    account_id: int
    taken_at: datetime
    followers: int | None
    posts: int | None
    avg_engagement: float | None


class PostOut(Schema):
    id: int
    account_id: int
    network: str
    external_id: str
    url: str
    published_at: datetime
    format: str
    pillar: str
    text: str
    likes: int | None
    comments: int | None
    shares: int | None
    views: int | None
    engagement: int | None = Field(..., description="likes + comments + shares, from the ones known; null if none is.")
    read_at: datetime

    @staticmethod
    def resolve_network(obj):
        return obj.account.network

    @staticmethod
    def resolve_engagement(obj):
        return competitors._engagement(obj.likes, obj.comments, obj.shares)


class PostFilter(Schema):
    since: date | None = None
    until: date | None = None


class ReadOut(Schema):
    account_id: int
    ok: bool
    snapshot: bool
    posts_new: int
    posts_updated: int
    error: str


class ImportOut(Schema):
    created: int
    updated: int
    errors: list[tuple[int, str]] = Field(..., description="(line, reason) of each skipped row, the first 50.")
    skipped: int


class MixOut(Schema):
    name: str
    count: int
    share: float


class TopPostOut(Schema):
    text: str
    url: str
    published_at: datetime
    network: str
    format: str
    pillar: str
    likes: int | None
    comments: int | None
    shares: int | None
    engagement: int | None


class ChangesOut(Schema):
    followers_end: float | None = None
    growth: float | None = None
    posts: int | None = None
    posts_per_week: float | None = None
    engagement_per_post: float | None = None
    engagement_per_post_pct: float | None = None


class RowOut(Schema):
    name: str
    kind: Literal["brand", "competitor"]
    id: int
    followers_start: int | None
    followers_end: int | None
    growth: int | None
    growth_pct: float | None
    series: list[tuple[date, int]]
    posts: int | None
    posts_per_week: float | None
    engagement_per_post: float | None
    engagement_rate: float | None = Field(..., description="Engagement per post as a % of followers at the end.")
    measured_posts: int
    formats: list[MixOut]
    pillars: list[MixOut]
    top_posts: list[TopPostOut]
    changes: ChangesOut | None = None


class BenchmarkOut(Schema):
    since: datetime
    until: datetime
    weeks: float
    rows: list[RowOut]


class BenchmarkQuery(Schema):
    # Years 2000 to 2100, as everywhere else: a day in year 409 came back in the zone's
    # local mean time ("-00:14:44"), which is no valid date-time.
    since: date | None = Field(None, ge=date(2000, 1, 1), le=date(2100, 12, 31),
                               description="First day, in the brand's time zone (default: 30 days ago).")
    until: date | None = Field(None, ge=date(2000, 1, 1), le=date(2100, 12, 31),
                               description="Last day, included (default: today).")


class MonthlyOut(Schema):
    year: int
    month: int
    since: datetime
    until: datetime
    language: str
    weeks: float
    rows: list[RowOut]
    sentences: list[str]


class MonthQuery(Schema):
    year: int = Field(..., ge=2000, le=2100)
    month: int = Field(..., ge=1, le=12)


# --- helpers ----------------------------------------------------------------------------------


def _competitors(request, permission=roles.VIEW):
    return Competitor.objects.for_user(request.user, permission).prefetch_related("accounts")


def _competitor(request, brand_id: int, competitor_id: int, permission=roles.VIEW) -> Competitor:
    brand = get_brand(request.user, brand_id, permission)
    return _one(_competitors(request, permission).select_related("brand"), pk=competitor_id, brand=brand)


def _account(request, brand_id: int, account_id: int, permission=roles.VIEW) -> CompetitorAccount:
    brand = get_brand(request.user, brand_id, permission)
    return _one(CompetitorAccount.objects.for_user(request.user, permission).select_related("competitor__brand"),
                pk=account_id, brand=brand)


# --- competitors ------------------------------------------------------------------------------


@router.get("/brands/{brand_id}/competitors", response=_responses(200, list[CompetitorOut]))
@paginate(Pagination, max_limit=MAX_PAGE)
def competitor_list(request, brand_id: int):
    brand = get_brand(request.user, brand_id)
    return _competitors(request).filter(brand=brand).order_by("name", "pk")


@router.post("/brands/{brand_id}/competitors", response=_responses(201, CompetitorOut))
def competitor_create(request, brand_id: int, payload: CompetitorCreate):
    brand = get_brand(request.user, brand_id, roles.MANAGE_BRAND)
    pairs = [(a.network.value, a.handle) for a in payload.accounts or []]
    competitor = competitors.do_add_competitor(_ctx(request), brand, name=payload.name, website=payload.website,
                                               accounts=pairs)
    return Status(201, competitor)


@router.get("/brands/{brand_id}/competitors/{competitor_id}", response=_responses(200, CompetitorOut))
def competitor_get(request, brand_id: int, competitor_id: int):
    return _competitor(request, brand_id, competitor_id)


@router.patch("/brands/{brand_id}/competitors/{competitor_id}", response=_responses(200, CompetitorOut))
def competitor_update(request, brand_id: int, competitor_id: int, payload: CompetitorPatch):
    competitor = _competitor(request, brand_id, competitor_id, roles.MANAGE_BRAND)
    values = {"name": competitor.name, "website": competitor.website, **_values(payload)}
    return competitors.do_update_competitor(_ctx(request), competitor, **values)


@router.delete("/brands/{brand_id}/competitors/{competitor_id}", response=_responses(204, None))
def competitor_delete(request, brand_id: int, competitor_id: int):
    """Stop tracking a competitor: its accounts, numbers and posts go with it."""
    competitor = _competitor(request, brand_id, competitor_id, roles.MANAGE_BRAND)
    competitors.do_remove_competitor(_ctx(request), competitor)
    return Status(204, None)


@router.post("/brands/{brand_id}/competitors/{competitor_id}/read", response=_responses(200, list[ReadOut]))
def competitor_read(request, brand_id: int, competitor_id: int):
    """Read the competitor's accounts on Mastodon, Bluesky and X now (through the brand's own
    account on each network). A failure is reported per account, not as an error status."""
    competitor = _competitor(request, brand_id, competitor_id, roles.MANAGE_BRAND)
    results = competitors.do_read_now(_ctx(request), competitor)
    return [{"account_id": r.account.pk, "ok": r.ok, "snapshot": r.snapshot, "posts_new": r.posts_new,
             "posts_updated": r.posts_updated, "error": notes.render(r.account.last_error) if not r.ok else ""}
            for r in results]


@router.get("/brands/{brand_id}/competitors/{competitor_id}/posts", response=_responses(200, list[PostOut]))
@paginate(Pagination, max_limit=MAX_PAGE)
def competitor_posts(request, brand_id: int, competitor_id: int, filters: Query[PostFilter]):
    """The competitor's posts, newest first; ``since``/``until`` are days in the brand's time zone."""
    competitor = _competitor(request, brand_id, competitor_id)
    tz = competitor.brand.tzinfo
    qs = CompetitorPost.objects.for_user(request.user).filter(brand=competitor.brand, account__competitor=competitor)
    if filters.since:
        qs = qs.filter(published_at__gte=datetime.combine(filters.since, datetime.min.time(), tzinfo=tz))
    if filters.until:
        qs = qs.filter(published_at__lt=datetime.combine(filters.until + timedelta(days=1), datetime.min.time(),
                                                         tzinfo=tz))
    return qs.select_related("account").order_by("-published_at", "-pk")


@router.get("/brands/{brand_id}/competitor-posts/{competitor_post_id}", response=_responses(200, PostOut))
def competitor_post_get(request, brand_id: int, competitor_post_id: int):
    brand = get_brand(request.user, brand_id)
    return _one(CompetitorPost.objects.for_user(request.user).select_related("account"), pk=competitor_post_id,
                brand=brand)


# --- accounts ---------------------------------------------------------------------------------


@router.post("/brands/{brand_id}/competitors/{competitor_id}/accounts", response=_responses(201, AccountOut))
def account_create(request, brand_id: int, competitor_id: int, payload: AccountIn):
    competitor = _competitor(request, brand_id, competitor_id, roles.MANAGE_BRAND)
    account = competitors.do_add_competitor_account(_ctx(request), competitor, network=payload.network.value,
                                                    handle=payload.handle)
    return Status(201, account)


@router.get("/brands/{brand_id}/competitor-accounts/{competitor_account_id}", response=_responses(200, AccountOut))
def account_get(request, brand_id: int, competitor_account_id: int):
    return _account(request, brand_id, competitor_account_id)


@router.delete("/brands/{brand_id}/competitor-accounts/{competitor_account_id}", response=_responses(204, None))
def account_delete(request, brand_id: int, competitor_account_id: int):
    account = _account(request, brand_id, competitor_account_id, roles.MANAGE_BRAND)
    competitors.do_remove_competitor_account(_ctx(request), account)
    return Status(204, None)


@router.get("/brands/{brand_id}/competitor-accounts/{competitor_account_id}/snapshots",
            response=_responses(200, list[SnapshotOut]))
@paginate(Pagination, max_limit=MAX_PAGE)
def account_snapshots(request, brand_id: int, competitor_account_id: int):
    """The account's public numbers over time, newest first. Unknown numbers are null, never 0."""
    account = _account(request, brand_id, competitor_account_id)
    return CompetitorSnapshot.objects.for_user(request.user).filter(account=account).order_by("-taken_at", "-pk")


@router.post("/brands/{brand_id}/competitor-accounts/{competitor_account_id}/import", response=_responses(200, ImportOut))
def account_import(request, brand_id: int, competitor_account_id: int, file: File[UploadedFile],
                   kind: Form[str] = "snapshots"):
    """Import the account's numbers (``kind=snapshots``: date, followers, posts) or posts
    (``kind=posts``: date, url, format, likes, comments, shares, views, text) from a CSV file
    (multipart, UTF-8, at most 2 MB and 5,000 rows). Bad rows are listed with their line and
    reason and the good ones kept; a file that is not CSV text is a 422."""
    account = _account(request, brand_id, competitor_account_id, roles.MANAGE_BRAND)
    if file.size is not None and file.size > competitors.MAX_CSV_BYTES:
        raise ValidationError({"file": _("The file is larger than %(size)s MB.")
                               % {"size": competitors.MAX_CSV_BYTES // (1024 * 1024)}})
    result = competitors.do_import_csv(_ctx(request), account, kind=kind,
                                       data=file.read(competitors.MAX_CSV_BYTES + 1))
    return {"created": result.created, "updated": result.updated,
            "errors": result.errors[:competitors.MAX_ERRORS_SHOWN], "skipped": len(result.errors)}


# --- figures ----------------------------------------------------------------------------------


@router.get("/brands/{brand_id}/competitor-benchmark", response=_responses(200, BenchmarkOut))
def benchmark(request, brand_id: int, filters: Query[BenchmarkQuery]):
    """The brand and each competitor side by side over whole days (at most a year)."""
    brand = get_brand(request.user, brand_id)
    tz = brand.tzinfo
    today = timezone.localdate(timezone=tz)
    until_day = filters.until or today
    since_day = filters.since or until_day - timedelta(days=30)
    if until_day < since_day:
        raise ValidationError({"since": _("The first day must come before the last one.")})
    since_day = max(since_day, until_day - timedelta(days=MAX_RANGE_DAYS))
    since = datetime.combine(since_day, datetime.min.time(), tzinfo=tz)
    until = datetime.combine(until_day + timedelta(days=1), datetime.min.time(), tzinfo=tz)
    return competitors.benchmark(brand, since, until)


@router.get("/brands/{brand_id}/competitor-monthly", response=_responses(200, MonthlyOut))
def monthly(request, brand_id: int, filters: Query[MonthQuery]):
    """One month (in the brand's time zone) with the changes against the month before and a few
    sentences of facts in the brand's language."""
    brand = get_brand(request.user, brand_id)
    return competitors.monthly_section(brand, filters.year, filters.month)
