"""API routes for the calendar: the range query, moving a post, the weekly topic plan and key
dates, under /brands/{brand_id}/…

Thin like the strategy router: the brand comes from ``scoping.get_brand`` (404 for strangers,
403 for a role or token without the permission), rows only through ``for_user``, and every
write through a service (``calendar``, ``planning``), which checks again and records the change
in the audit log (via="api"). Reading needs VIEW; writing needs COMPOSE.
"""

from datetime import date, datetime

from django.core.exceptions import ValidationError
from django.db.models import Prefetch
from django.utils.translation import gettext as _
from ninja import Field, Query, Router, Schema, Status
from ninja.pagination import paginate

from tertulia.core import roles
from tertulia.core.api import MAX_PAGE, In, Pagination, Patch, Text, _ctx, _one, _responses, _values
from tertulia.core.models import Brand
from tertulia.core.scoping import get_brand
from tertulia.networks.models import Network
from tertulia.publishing.models import PostTarget
from tertulia.strategy.models import ContentPillar

from . import calendar as cal
from . import planning
from .api_paging import LightPage
from .models import Campaign, KeyDate, Post, WeekTheme

router = Router()


# --- Schemas ------------------------------------------------------------------------------

class CalendarTargetOut(Schema):
    id: int
    account_id: int
    network: str
    handle: str
    state: str
    due_at: datetime | None

    @staticmethod
    def resolve_network(obj):
        return obj.account.network

    @staticmethod
    def resolve_handle(obj):
        return obj.account.handle


class CalendarPostOut(Schema):
    id: int
    brand_id: int
    text: str
    state: str
    format: str
    pillar_id: int | None
    campaign_id: int | None
    author_id: int | None
    version: int
    scheduled_at: datetime = Field(..., description="UTC.")
    scheduled_local: str = Field(..., description="The same instant in the brand's time zone (ISO 8601).")
    time_zone: str
    targets: list[CalendarTargetOut]

    @staticmethod
    def resolve_scheduled_local(obj):
        return obj.scheduled_at.astimezone(obj.brand.tzinfo).isoformat()

    @staticmethod
    def resolve_time_zone(obj):
        return obj.brand.timezone

    @staticmethod
    def resolve_targets(obj):
        targets = getattr(obj, "api_targets", None)  # read by _CalendarPage
        return targets if targets is not None else list(obj.targets.all())


class CalendarQuery(Schema):
    start: date = Field(..., description="First day, in the brand's time zone.")
    end: date = Field(..., description=f"Last day (included); at most {cal.MAX_RANGE_DAYS} days after start.")
    network: Network = None
    pillar: int = Field(None, ge=1, le=2**62)
    state: Post.State = None
    campaign: int = Field(None, ge=1, le=2**62)
    author: int = Field(None, ge=1, le=2**62)


class PostMoveIn(In):
    scheduled_at: datetime = Field(..., description="With an offset, or without one for the brand's local time "
                                                    "(a time skipped by a DST change moves to the change; "
                                                    "a repeated one takes the first).")
    version: int = Field(None, ge=1, le=2**31,
                         description="The post's version you saw; if it changed since, nothing moves (422).")


class WeekThemeOut(Schema):
    id: int
    brand_id: int
    week_start: date
    theme: str
    notes: str
    pillar_id: int | None
    campaign_id: int | None


class WeekThemeCreate(In):
    week_start: date = Field(..., description="Any day of the week; stored as its Monday.")
    theme: Text(300, 1)
    notes: Text(4000) = ""
    pillar_id: int = Field(None, ge=0, le=2**62, description="0 or left out: no pillar.")
    campaign_id: int = Field(None, ge=0, le=2**62, description="0 or left out: no campaign.")


class WeekThemePatch(Patch):
    week_start: date = None
    theme: Text(300, 1) = None
    notes: Text(4000) = None
    pillar_id: int = Field(None, ge=0, le=2**62, description="0 removes the pillar.")
    campaign_id: int = Field(None, ge=0, le=2**62, description="0 removes the campaign.")


class KeyDateOut(Schema):
    id: int
    brand_id: int
    date: date
    name: str
    notes: str


class KeyDateCreate(In):
    date: date
    name: Text(200, 1)
    notes: Text(2000) = ""


class KeyDatePatch(Patch):
    date: date = None
    name: Text(200, 1) = None
    notes: Text(2000) = None


# --- The range query and moving a post ------------------------------------------------------

def _posts(request):
    targets = PostTarget.objects.for_user(request.user).select_related("account").order_by("account__network", "pk")
    return (Post.objects.for_user(request.user).select_related("brand")
            .prefetch_related(Prefetch("targets", queryset=targets)))


@router.get("/brands/{brand_id}/calendar", response=_responses(200, list[CalendarPostOut]), tags=["calendar"])
@paginate(Pagination, max_limit=MAX_PAGE)
def calendar_range(request, brand_id: int, filters: Query[CalendarQuery]):
    """The brand's posts scheduled between two days of its calendar (local midnights), oldest
    first, with their time in UTC and in the brand's zone, and their targets."""
    brand = get_brand(request.user, brand_id)
    if filters.end < filters.start:
        raise ValidationError({"end": _("The end comes before the start.")})
    if (filters.end - filters.start).days >= cal.MAX_RANGE_DAYS:
        raise ValidationError({"end": _("At most %(days)s days at a time.") % {"days": cal.MAX_RANGE_DAYS}})
    brands = Brand.objects.filter(pk=brand.pk)
    params = {k: str(v.value if hasattr(v, "value") else v) for k, v in filters.dict().items()
              if k in ("network", "pillar", "state", "campaign", "author") and v is not None}
    parsed = cal.parse_filters(params, brands)
    bad = {k: [_("Unknown value.")] for k, attr in (("pillar", "pillar"), ("campaign", "campaign"),
                                                    ("author", "author_id"))
           if k in params and getattr(parsed, attr) is None}
    if bad:
        raise ValidationError(bad)
    lo, hi = cal.day_bounds(filters.start, filters.end, brand.tzinfo)
    return _CalendarPage(cal.posts_between(request.user, brands, lo, hi, parsed, brand=brand), brand)


class _CalendarPage(LightPage):
    """``posts_between``'s posts, a slice read with what ``CalendarPostOut`` shows and no more:
    the posts of ``brand`` (which ``get_brand`` has checked the caller may view; the same rows as
    ``for_user``) without joining their brand, pillar, campaign and author, and their targets
    with only the account's network and handle, in ``posts_between``'s order."""

    def __init__(self, queryset, brand):
        super().__init__(queryset)
        self.brand = brand

    def rows(self, index: slice) -> list:
        qs = self.queryset.select_related(None).prefetch_related(None)
        posts = list(qs[index])
        by_id = {}
        for p in posts:
            p.brand = self.brand
            by_id[p.pk] = p
            p.api_targets = []
        if posts:
            for pk, post_id, account_id, state, due_at, network, handle in (
                    PostTarget.objects.filter(post_id__in=list(by_id)).order_by("account__network", "account__handle")
                    .values_list("id", "post_id", "account_id", "state", "due_at", "account__network",
                                 "account__handle")):
                by_id[post_id].api_targets.append(_Target(pk, account_id, state, due_at, _Account(network, handle)))
        return posts


class _Account:
    __slots__ = ("network", "handle")

    def __init__(self, network, handle):
        self.network, self.handle = network, handle


class _Target:
    """What ``CalendarTargetOut`` reads of a ``PostTarget`` and its account."""

    __slots__ = ("id", "account_id", "state", "due_at", "account")

    def __init__(self, pk, account_id, state, due_at, account):
        self.id, self.account_id, self.state, self.due_at, self.account = pk, account_id, state, due_at, account


@router.post("/brands/{brand_id}/posts/{post_id}/move", response=_responses(200, CalendarPostOut), tags=["calendar"])
def post_move(request, brand_id: int, post_id: int, payload: PostMoveIn):
    """Move a post to another time. Targets already scheduled are rescheduled (their task is
    queued for the new time); published and canceled posts cannot move; times in the past
    are refused."""
    brand = get_brand(request.user, brand_id, roles.COMPOSE)
    post = _one(Post.objects.for_user(request.user, roles.COMPOSE).select_related("brand"), pk=post_id, brand=brand)
    cal.do_reschedule_post(_ctx(request), post, payload.scheduled_at, version=payload.version)
    return _one(_posts(request), pk=post.pk)


# --- Week themes ----------------------------------------------------------------------------

def _related(request, brand, model, pk, field):
    """A pillar or campaign of the brand by id (0: none); another brand's is "unknown"."""
    if not pk:
        return None
    obj = model.objects.for_user(request.user).filter(pk=pk, brand=brand).first()
    if obj is None:
        raise ValidationError({field: [_("Unknown value.")]})
    return obj


def _theme_fields(request, brand, payload) -> dict:
    fields = _values(payload)
    if "pillar_id" in fields:
        fields["pillar"] = _related(request, brand, ContentPillar, fields.pop("pillar_id"), "pillar_id")
    if "campaign_id" in fields:
        fields["campaign"] = _related(request, brand, Campaign, fields.pop("campaign_id"), "campaign_id")
    return fields


@router.get("/brands/{brand_id}/week-themes", response=_responses(200, list[WeekThemeOut]), tags=["calendar"])
@paginate(Pagination, max_limit=MAX_PAGE)
def week_theme_list(request, brand_id: int, start: date = None, end: date = None):
    """The weekly topic plan, by week. ``start``/``end`` limit the weeks (by their Monday)."""
    brand = get_brand(request.user, brand_id)
    qs = WeekTheme.objects.for_user(request.user).filter(brand=brand)
    if start is not None:
        qs = qs.filter(week_start__gte=cal.week_start(start))
    if end is not None:
        qs = qs.filter(week_start__lte=end)
    return qs.order_by("week_start", "pk")


@router.post("/brands/{brand_id}/week-themes", response=_responses(201, WeekThemeOut), tags=["calendar"])
def week_theme_create(request, brand_id: int, payload: WeekThemeCreate):
    brand = get_brand(request.user, brand_id, roles.COMPOSE)
    return Status(201, planning.do_save_week_theme(_ctx(request), brand, None,
                                                   **_theme_fields(request, brand, payload)))


@router.get("/brands/{brand_id}/week-themes/{theme_id}", response=_responses(200, WeekThemeOut), tags=["calendar"])
def week_theme_get(request, brand_id: int, theme_id: int):
    brand = get_brand(request.user, brand_id)
    return _one(WeekTheme.objects.for_user(request.user), pk=theme_id, brand=brand)


@router.patch("/brands/{brand_id}/week-themes/{theme_id}", response=_responses(200, WeekThemeOut),
              tags=["calendar"])
def week_theme_update(request, brand_id: int, theme_id: int, payload: WeekThemePatch):
    brand = get_brand(request.user, brand_id, roles.COMPOSE)
    theme = _one(WeekTheme.objects.for_user(request.user, roles.COMPOSE), pk=theme_id, brand=brand)
    return planning.do_save_week_theme(_ctx(request), brand, theme, **_theme_fields(request, brand, payload))


@router.delete("/brands/{brand_id}/week-themes/{theme_id}", response=_responses(204, None), tags=["calendar"])
def week_theme_delete(request, brand_id: int, theme_id: int):
    brand = get_brand(request.user, brand_id, roles.COMPOSE)
    theme = _one(WeekTheme.objects.for_user(request.user, roles.COMPOSE).select_related("brand"), pk=theme_id,
                 brand=brand)
    planning.do_delete_week_theme(_ctx(request), theme)
    return Status(204, None)


# --- Key dates -------------------------------------------------------------------------------

@router.get("/brands/{brand_id}/key-dates", response=_responses(200, list[KeyDateOut]), tags=["calendar"])
@paginate(Pagination, max_limit=MAX_PAGE)
def key_date_list(request, brand_id: int, start: date = None, end: date = None):
    brand = get_brand(request.user, brand_id)
    qs = KeyDate.objects.for_user(request.user).filter(brand=brand)
    if start is not None:
        qs = qs.filter(date__gte=start)
    if end is not None:
        qs = qs.filter(date__lte=end)
    return qs.order_by("date", "pk")


@router.post("/brands/{brand_id}/key-dates", response=_responses(201, KeyDateOut), tags=["calendar"])
def key_date_create(request, brand_id: int, payload: KeyDateCreate):
    brand = get_brand(request.user, brand_id, roles.COMPOSE)
    return Status(201, planning.do_save_key_date(_ctx(request), brand, None, **_values(payload)))


@router.get("/brands/{brand_id}/key-dates/{key_date_id}", response=_responses(200, KeyDateOut), tags=["calendar"])
def key_date_get(request, brand_id: int, key_date_id: int):
    brand = get_brand(request.user, brand_id)
    return _one(KeyDate.objects.for_user(request.user), pk=key_date_id, brand=brand)


@router.patch("/brands/{brand_id}/key-dates/{key_date_id}", response=_responses(200, KeyDateOut), tags=["calendar"])
def key_date_update(request, brand_id: int, key_date_id: int, payload: KeyDatePatch):
    brand = get_brand(request.user, brand_id, roles.COMPOSE)
    key_date = _one(KeyDate.objects.for_user(request.user, roles.COMPOSE), pk=key_date_id, brand=brand)
    return planning.do_save_key_date(_ctx(request), brand, key_date, **_values(payload))


@router.delete("/brands/{brand_id}/key-dates/{key_date_id}", response=_responses(204, None), tags=["calendar"])
def key_date_delete(request, brand_id: int, key_date_id: int):
    brand = get_brand(request.user, brand_id, roles.COMPOSE)
    key_date = _one(KeyDate.objects.for_user(request.user, roles.COMPOSE).select_related("brand"), pk=key_date_id,
                    brand=brand)
    planning.do_delete_key_date(_ctx(request), key_date)
    return Status(204, None)
