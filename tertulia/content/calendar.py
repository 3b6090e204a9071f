"""The editorial calendar: range queries with filters, the grids in a brand's time zone, the
pillar mix of a period, and moving a post to another time (``do_reschedule_post``).

Times are stored in UTC and shown in the brand's zone (or, across brands, the reader's). A
day of the calendar is the span between two local midnights, so a post at 00:30 in Madrid is
on the day Madrid sees, whatever UTC says.
"""

from __future__ import annotations

import calendar as _calendar
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F, Prefetch, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from tertulia.core import audit, roles, timezones
from tertulia.core.services import Ctx, _log, _require
from tertulia.networks.models import Network
from tertulia.publishing.models import PostTarget
from tertulia.strategy.models import ContentPillar

from .models import Campaign, Post

VIEWS = ("month", "week", "list")
MAX_RANGE_DAYS = 400
# Targets whose delivery is over (or under way): a move leaves them alone.
_SETTLED_TARGETS = (PostTarget.State.PUBLISHED, PostTarget.State.CANCELED, PostTarget.State.DELETED)


# --- Local time ------------------------------------------------------------------------------

def week_start(day: date) -> date:
    """The Monday of ``day``'s week."""
    return day - timedelta(days=day.weekday())


def make_aware_local(naive: datetime, tz: ZoneInfo) -> datetime:
    """A wall-clock time in ``tz`` as an aware datetime (an aware one is returned as is). The
    DST rules are ``core.timezones.resolve``'s: first occurrence in an overlap, the moment of
    the change in a gap."""
    if naive.tzinfo is not None:
        return naive
    return timezones.resolve(naive, tz)


def day_bounds(start: date, end: date, tz: ZoneInfo) -> tuple[datetime, datetime]:
    """The UTC instants of local midnight on ``start`` and on the day after ``end``."""
    lo = make_aware_local(datetime.combine(start, time.min), tz)
    hi = make_aware_local(datetime.combine(end + timedelta(days=1), time.min), tz)
    return lo.astimezone(UTC), hi.astimezone(UTC)


def parse_date(value: str | None) -> date | None:
    """ISO ``YYYY-MM-DD`` or ``DD/MM/YYYY``; None if it is neither."""
    value = (value or "").strip()
    if not value or len(value) > 10:
        return None
    for fmt in ("%Y-%m-%d", "%d/%m/%Y"):
        try:
            return datetime.strptime(value, fmt).date()
        except ValueError:
            continue
    return None


# --- Filters ---------------------------------------------------------------------------------

@dataclass
class Filters:
    network: str = ""
    pillar: ContentPillar | None = None
    state: str = ""
    campaign: Campaign | None = None
    author_id: int | None = None
    notes: list[str] = field(default_factory=list)

    def as_query(self) -> dict[str, str]:
        """The valid filters as GET parameters (for links that keep them)."""
        out = {}
        if self.network:
            out["network"] = self.network
        if self.pillar is not None:
            out["pillar"] = str(self.pillar.pk)
        if self.state:
            out["state"] = self.state
        if self.campaign is not None:
            out["campaign"] = str(self.campaign.pk)
        if self.author_id is not None:
            out["author"] = str(self.author_id)
        return out

    def active(self) -> bool:
        return bool(self.as_query())


def _int(value) -> int | None:
    try:
        number = int(str(value).strip())
    except (TypeError, ValueError):
        return None
    return number if 0 < number < 2**62 else None


def parse_filters(params, brands) -> Filters:
    """Filters from GET parameters, each checked against ``brands`` (a queryset the caller
    may see). A value that is not valid is dropped, with a note saying so; never an error."""
    from tertulia.core.models import Membership

    f = Filters()
    network = (params.get("network") or "").strip()
    if network:
        if network in Network.values:
            f.network = network
        else:
            f.notes.append(_("Unknown network; that filter was ignored."))
    pillar = (params.get("pillar") or "").strip()
    if pillar:
        pk = _int(pillar)
        f.pillar = ContentPillar.objects.filter(pk=pk, brand__in=brands).first() if pk else None
        if f.pillar is None:
            f.notes.append(_("Unknown pillar; that filter was ignored."))
    state = (params.get("state") or "").strip()
    if state:
        if state in Post.State.values:
            f.state = state
        else:
            f.notes.append(_("Unknown state; that filter was ignored."))
    campaign = (params.get("campaign") or "").strip()
    if campaign:
        pk = _int(campaign)
        f.campaign = Campaign.objects.filter(pk=pk, brand__in=brands).first() if pk else None
        if f.campaign is None:
            f.notes.append(_("Unknown campaign; that filter was ignored."))
    author = (params.get("author") or "").strip()
    if author:
        pk = _int(author)
        if pk and Membership.objects.filter(user_id=pk, brand__in=brands).exists():
            f.author_id = pk
        else:
            f.notes.append(_("Unknown author; that filter was ignored."))
    return f


def posts_between(user, brands, start: datetime, end: datetime, filters: Filters | None = None, *, brand=None):
    """Posts of ``brands`` the user may see, scheduled in [start, end), with what a calendar
    shows of them loaded. ``brand``: the only brand asked for, one the caller has already
    checked the user may view (``get_brand``, ``brand_view``): its posts are read by brand,
    the same rows as ``for_user``, without compiling its membership subquery."""
    qs = (_scheduled(user, brands, start, end, filters, brand)
          .select_related("brand", "pillar", "campaign", "author")
          .prefetch_related(Prefetch("targets", queryset=PostTarget.objects.select_related("account")
                                     .order_by("account__network", "account__handle")))
          .order_by("scheduled_at", "pk"))
    return qs


def _scheduled(user, brands, start, end, filters: Filters | None, brand=None):
    rows = Post.objects.filter(brand=brand) if brand is not None else Post.objects.for_user(user).filter(
        brand__in=brands)
    qs = rows.filter(scheduled_at__gte=start, scheduled_at__lt=end)
    if filters is not None:
        if filters.network:
            qs = qs.filter(Q(targets__account__network=filters.network)).distinct()
        if filters.pillar is not None:
            qs = qs.filter(pillar=filters.pillar)
        if filters.state:
            qs = qs.filter(state=filters.state)
        if filters.campaign is not None:
            qs = qs.filter(campaign=filters.campaign)
        if filters.author_id is not None:
            qs = qs.filter(author_id=filters.author_id)
    return qs


def calendar_posts(user, brands, start: datetime, end: datetime, filters: Filters | None = None, *,
                   brand=None, pillars: dict | None = None, campaigns: dict | None = None) -> list[Post]:
    """The posts ``posts_between`` returns, loaded for the calendar pages only: pillar and
    campaign joined (or attached, see below), each post's accounts as ``(network, handle)``
    pairs in ``post.calendar_accounts`` (ordered like ``posts_between``'s targets), without
    building a model per target. With
    ``brand`` (the only brand shown, one the caller has already checked the user may view: a
    ``brand_view`` page), its posts are read directly and that object is attached to each.
    ``pillars`` and ``campaigns`` (by id, every one of the brands shown), when the caller has
    them already, are attached the same way instead of being joined."""
    related = [] if brand is not None else ["brand"]
    if pillars is None:
        related.append("pillar")
    if campaigns is None:
        related.append("campaign")
    qs = _scheduled(user, brands, start, end, filters, brand)
    if related:  # (select_related() without names would join every relation)
        qs = qs.select_related(*related)
    posts = list(qs.order_by("scheduled_at", "pk"))
    for p in posts:
        if pillars is not None and p.pillar_id is not None and p.pillar_id in pillars:
            p.pillar = pillars[p.pillar_id]
        if campaigns is not None and p.campaign_id is not None and p.campaign_id in campaigns:
            p.campaign = campaigns[p.campaign_id]
    accounts: dict[int, list[tuple[str, str]]] = {p.pk: [] for p in posts}
    if posts:
        for post_id, network, handle in (PostTarget.objects.filter(post_id__in=list(accounts))
                                         .order_by("account__network", "account__handle")
                                         .values_list("post_id", "account__network", "account__handle")):
            accounts[post_id].append((network, handle))
    for p in posts:
        if brand is not None:
            p.brand = brand
        p.calendar_accounts = accounts[p.pk]
    return posts


# --- What the grid shows ----------------------------------------------------------------------

@dataclass
class Entry:
    """One post on the calendar, with its time in the zone of the page."""

    post: Post
    local: datetime  # naive wall-clock time in the page's zone (templates must not convert it)
    iso: str  # the same instant, ISO 8601 with its offset
    networks: list[str]
    accounts: list[str]
    time_value: str  # HH:MM, for the move form
    date_value: str  # YYYY-MM-DD

    @property
    def link(self) -> str:
        return f"/brands/{self.post.brand_id}/posts/{self.post.pk}/"


def entry(post: Post, tz: ZoneInfo) -> Entry:
    """``post``'s entry; its accounts come from ``calendar_posts`` when it loaded the post,
    else from its targets."""
    pairs = getattr(post, "calendar_accounts", None)
    if pairs is None:
        pairs = [(t.account.network, t.account.handle) for t in post.targets.all()]
    aware = post.scheduled_at.astimezone(tz)
    networks = sorted({n for n, _h in pairs})
    return Entry(post=post, local=aware.replace(tzinfo=None), iso=aware.isoformat(),
                 networks=[_NETWORK_LABELS[n] if n in _NETWORK_LABELS else n for n in networks],
                 accounts=[f"{n}:{h}" for n, h in pairs],
                 time_value=aware.strftime("%H:%M"), date_value=aware.date().isoformat())


_NETWORK_LABELS = {value: label for value, label in Network.choices}


@dataclass
class Day:
    day: date
    in_month: bool
    is_today: bool
    entries: list[Entry] = field(default_factory=list)
    key_dates: list = field(default_factory=list)
    campaigns: list = field(default_factory=list)


def month_range(anchor: date) -> tuple[date, date]:
    """The Monday before the 1st and the Sunday after the last day: whole weeks."""
    first = anchor.replace(day=1)
    last = anchor.replace(day=_calendar.monthrange(anchor.year, anchor.month)[1])
    return week_start(first), week_start(last) + timedelta(days=6)


def grid(start: date, end: date, anchor: date, entries: list[Entry], key_dates, campaigns, today: date):
    """Weeks of Days from ``start`` to ``end`` (both Mondays-to-Sundays), filled in."""
    days: dict[date, Day] = {}
    d = start
    while d <= end:
        days[d] = Day(d, in_month=(d.month == anchor.month), is_today=(d == today))
        d += timedelta(days=1)
    for e in entries:
        slot = days.get(e.local.date())
        if slot is not None:
            slot.entries.append(e)
    for k in key_dates:
        if k.date in days:
            days[k.date].key_dates.append(k)
    for c in campaigns:
        lo = max(c.starts_on or start, start)
        hi = min(c.ends_on or end, end)
        d = lo
        while d <= hi:
            days[d].campaigns.append(c)
            d += timedelta(days=1)
    ordered = list(days.values())
    return [ordered[i:i + 7] for i in range(0, len(ordered), 7)]


def campaigns_overlapping(user, brands, start: date, end: date, *, brand=None):
    """Campaigns with dates that touch [start, end] (campaigns without dates are not shown).
    ``brand``: the only brand shown, one the caller has already checked the user may view."""
    rows = Campaign.objects.filter(brand=brand) if brand is not None else Campaign.objects.for_user(user).filter(
        brand__in=brands)
    return (rows.exclude(starts_on__isnull=True, ends_on__isnull=True)
            .filter(Q(starts_on__lte=end) | Q(starts_on__isnull=True))
            .filter(Q(ends_on__gte=start) | Q(ends_on__isnull=True))
            .order_by("starts_on", "name"))


def overlapping(campaigns, start: date, end: date, *, nulls_first: bool) -> list:
    """``campaigns_overlapping`` over campaigns already read (in name order): the same rows in
    the same order ("starts_on", then name; campaigns without a start first when the database
    sorts NULL first, SQLite, else last, PostgreSQL)."""
    rows = [c for c in campaigns if not (c.starts_on is None and c.ends_on is None)
            and (c.starts_on is None or c.starts_on <= end) and (c.ends_on is None or c.ends_on >= start)]
    return sorted(rows, key=lambda c: ((c.starts_on is not None) if nulls_first else (c.starts_on is None),
                                       c.starts_on or date.min))


def pillar_mix(posts, pillars) -> dict:
    """For the posts of a period: each pillar's share of them against its target share."""
    posts = [p for p in posts if p.state != Post.State.CANCELED]  # canceled posts are not in the mix
    total = len(posts)
    counts: dict[int | None, int] = {}
    formats: dict[str, int] = {}
    for p in posts:
        counts[p.pillar_id] = counts.get(p.pillar_id, 0) + 1
        formats[p.format] = formats.get(p.format, 0) + 1
    rows = []
    for pillar in pillars:
        n = counts.get(pillar.pk, 0)
        share = round(100 * n / total) if total else 0
        rows.append({"pillar": pillar, "count": n, "share": share, "target": pillar.target_share,
                     "gap": share - pillar.target_share})
    untagged = counts.get(None, 0)
    return {"total": total, "rows": rows, "untagged": untagged,
            "untagged_share": round(100 * untagged / total) if total else 0,
            "formats": [{"label": label, "count": formats[value], "share": round(100 * formats[value] / total)}
                        for value, label in Post.Format.choices if formats.get(value)]}


# --- Moving a post ---------------------------------------------------------------------------

@transaction.atomic
def do_reschedule_post(ctx: Ctx, post: Post, when: datetime, *, version: int | None = None) -> Post:
    """Move ``post`` to ``when`` (aware, or naive wall-clock time in the brand's zone).

    A conditional UPDATE on the version the caller saw (``version``, or the one ``post`` was
    read with): if someone edited the post meanwhile, nothing moves and the caller is told to
    reload. Targets already scheduled are rescheduled through ``publishing`` (which checks
    their text and queues the task at the new time); the others keep their state and get the
    new due time. Published and canceled targets stay as they are."""
    from tertulia.publishing import services as publishing

    brand = post.brand
    _require(ctx, brand, roles.COMPOSE)
    if when is None:
        raise ValidationError({"scheduled_at": _("Choose a date and time.")})
    if timezone.is_naive(when):
        when = make_aware_local(when, brand.tzinfo)
    when = when.astimezone(UTC).replace(microsecond=0)
    if post.state in (Post.State.PUBLISHED, Post.State.CANCELED):
        raise ValidationError(_("A published or canceled post cannot be moved."), code="state")
    if when <= timezone.now():
        raise ValidationError({"scheduled_at": _("Choose a time in the future.")})
    expected = post.version if version is None else version
    before = post.scheduled_at
    targets = list(PostTarget.objects.filter(post=post).select_related("brand", "account", "post"))
    if any(t.state == PostTarget.State.PUBLISHING for t in targets):
        raise ValidationError(_("This post is being published right now. Wait a moment and reload."),
                              code="in_flight")
    # An approved post without a time becomes scheduled once it has one, like in the composer.
    fields = {"scheduled_at": when, "version": F("version") + 1, "updated_at": timezone.now()}
    if post.state in (Post.State.APPROVED, Post.State.SCHEDULED):
        fields["state"] = Post.State.SCHEDULED
    updated = (Post.objects.filter(pk=post.pk, version=expected)
               .exclude(state__in=(Post.State.PUBLISHED, Post.State.CANCELED))
               .update(**fields))
    if not updated:
        raise ValidationError(_("This post changed since you opened it. Reload the calendar and try again."),
                              code="changed")
    for target in targets:
        if target.state in _SETTLED_TARGETS:
            continue
        if target.state in (PostTarget.State.SCHEDULED, PostTarget.State.APPROVED):
            publishing.do_schedule(ctx, target, due_at=when)
        elif not PostTarget.objects.filter(pk=target.pk, state=target.state, version=target.version).update(
                due_at=when, version=F("version") + 1):
            raise ValidationError(_("This post changed since you opened it. Reload the calendar and try again."),
                                  code="changed")
    post.refresh_from_db(fields=["scheduled_at", "version", "updated_at", "state"])
    _log(ctx, "post.reschedule", brand=brand, obj=post,
         changes=audit.diff({"scheduled_at": before}, {"scheduled_at": post.scheduled_at}))
    return post
