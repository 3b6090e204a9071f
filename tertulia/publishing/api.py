"""API routes for publishing, under /brands/{brand_id}/…: delivery targets with their delivery
log (retry, cancel, delete from the network), queue slots and "add to queue", and pausing the
brand or one account.

Thin like the core router: the brand comes from ``scoping.get_brand`` (404 for strangers, 403
for a role or token without the permission), rows only through ``for_user``, and every write
through a ``do_*`` service, which checks again and writes the audit log (via="api"). A refusal
because of the target's state (retrying a published post) is a 422 with the reason.
Reading needs VIEW; retry, cancel, delete, slots and queueing need COMPOSE; pausing the brand
MANAGE_BRAND or MANAGE_ACCOUNTS; pausing an account MANAGE_ACCOUNTS.
"""


from datetime import datetime

from django.db.models import Prefetch
from django.utils import timezone
from django.utils.dates import WEEKDAYS
from ninja import Field, Query, Router, Schema, Status
from ninja.pagination import paginate

from tertulia.content.models import Post
from tertulia.core import roles
from tertulia.core.api import MAX_PAGE, In, Pagination, Text, _ctx, _one, _responses
from tertulia.core.scoping import get_brand
from tertulia.networks.models import SocialAccount

from . import services
from .models import DeliveryAttempt, PostTarget, QueueSlot
from .slots import parse_wall_time, upcoming

router = Router()
TAGS = ["publishing"]


# --- Schemas ------------------------------------------------------------------------------

class AttemptOut(Schema):
    """One attempt to deliver the target: the delivery log."""

    number: int
    started_at: datetime
    finished_at: datetime | None
    outcome: str
    outcome_label: str
    error_kind: str = Field(description="rate_limited, retryable, permanent, ambiguous, auth_expired…")
    http_status: int | None
    error_detail: str = Field(description="The network's answer, as received (untrusted text).")
    message: str = Field(description="What it means, in the caller's language.")
    external_id: str
    retry_at: datetime | None

    @staticmethod
    def resolve_outcome_label(obj):
        return str(obj.get_outcome_display())

    @staticmethod
    def resolve_message(obj):
        return obj.message_display()


class TargetOut(Schema):
    """A post × account: its delivery state."""

    id: int
    brand_id: int
    post_id: int
    account_id: int
    network: str
    state: str
    state_label: str
    due_at: datetime | None
    next_attempt_at: datetime | None
    attempts: int
    published_at: datetime | None
    external_id: str
    external_url: str
    error: str = Field(description="The last error in plain words, in the caller's language.")
    held: bool = Field(description="Publishing is paused for the brand or the account.")
    comment_status: str = Field(description="The first comment: none, queued, pending, waiting, failed or posted.")
    version: int

    @staticmethod
    def resolve_comment_status(obj):
        from .engine import comment_status

        return comment_status(obj)

    @staticmethod
    def resolve_network(obj):
        return obj.account.network

    @staticmethod
    def resolve_state_label(obj):
        return str(obj.get_state_display())

    @staticmethod
    def resolve_error(obj):
        return obj.error_display()

    @staticmethod
    def resolve_held(obj):
        return bool(obj.brand.publishing_paused or obj.account.paused)


class TargetDetail(TargetOut):
    attempt_log: list[AttemptOut]

    @staticmethod
    def resolve_attempt_log(obj):
        return list(obj.attempt_log.all())


class TargetFilter(Schema):
    state: PostTarget.State = None
    account: int = Field(None, ge=1, le=2**62, description="Only this account's targets.")
    from_: datetime = Field(None, alias="from", description="Due at or after (without an offset: the brand's time).")
    to: datetime = Field(None, description="Due at or before (without an offset: the brand's time).")


class SlotOut(Schema):
    id: int
    weekday: int = Field(description="0 = Monday … 6 = Sunday")
    weekday_label: str
    time: str = Field(description="HH:MM on the brand's wall clock")

    @staticmethod
    def resolve_weekday_label(obj):
        return str(WEEKDAYS[obj.weekday])

    @staticmethod
    def resolve_time(obj):
        return obj.time.strftime("%H:%M")


class SlotIn(In):
    weekday: int = Field(..., ge=0, le=6, description="0 = Monday … 6 = Sunday")
    time: Text(16, 1) = Field(..., description="HH:MM in the brand's time zone, e.g. 09:30")


class SlotTimeOut(Schema):
    at: datetime
    local: str = Field(description="The same instant on the brand's wall clock (ISO 8601 with offset).")
    taken: bool


class NextSlotOut(Schema):
    timezone: str
    next_free: SlotTimeOut | None
    upcoming: list[SlotTimeOut]


class QueuedOut(Schema):
    post_id: int
    state: str
    scheduled_at: datetime
    local: str
    targets: list[TargetOut]


class BrandPauseOut(Schema):
    brand_id: int
    publishing_paused: bool


class AccountPauseOut(Schema):
    id: int
    brand_id: int
    network: str
    handle: str
    paused: bool


def _slot_time(brand, s) -> dict:
    return {"at": s.at, "local": s.at.astimezone(brand.tzinfo).isoformat(), "taken": s.taken}


# --- Targets and their delivery log -----------------------------------------------------------

def _targets(request, brand, permission=roles.VIEW):
    return (PostTarget.objects.for_user(request.user, permission).filter(brand=brand)
            .select_related("account", "brand", "post"))


def _target(request, brand_id: int, target_id: int, permission=roles.VIEW) -> PostTarget:
    brand = get_brand(request.user, brand_id, permission)
    attempts = DeliveryAttempt.objects.for_user(request.user).filter(brand=brand).order_by("started_at", "number", "pk")
    return _one(_targets(request, brand, permission).prefetch_related(Prefetch("attempt_log", queryset=attempts)),
                pk=target_id)


def _aware(value: datetime | None, brand) -> datetime | None:
    if value is not None and timezone.is_naive(value):
        return timezone.make_aware(value, brand.tzinfo)
    return value


@router.get("/brands/{brand_id}/targets", response=_responses(200, list[TargetOut]), tags=TAGS)
@paginate(Pagination, max_limit=MAX_PAGE)
def target_list(request, brand_id: int, filters: Query[TargetFilter]):
    """The brand's delivery targets, soonest due first (targets without a time last)."""
    brand = get_brand(request.user, brand_id)
    qs = _targets(request, brand)
    if filters.state:
        qs = qs.filter(state=filters.state)
    if filters.account:
        qs = qs.filter(account_id=filters.account)
    start, end = _aware(filters.from_, brand), _aware(filters.to, brand)
    if start is not None:
        qs = qs.filter(due_at__gte=start)
    if end is not None:
        qs = qs.filter(due_at__lte=end)
    return qs.order_by("due_at", "pk")


@router.get("/brands/{brand_id}/targets/{target_id}", response=_responses(200, TargetDetail), tags=TAGS)
def target_get(request, brand_id: int, target_id: int):
    """A target with every delivery attempt: times, outcome, HTTP status, the network's text."""
    return _target(request, brand_id, target_id)


def _after(request, brand_id: int, target_id: int) -> PostTarget:
    return _target(request, brand_id, target_id)


@router.post("/brands/{brand_id}/targets/{target_id}/retry", response=_responses(200, TargetDetail), tags=TAGS)
def target_retry(request, brand_id: int, target_id: int):
    """Try again now: a failed target, or one that needs attention once its cause is fixed."""
    target = _target(request, brand_id, target_id, roles.COMPOSE)
    services.do_retry_now(_ctx(request), target)
    return _after(request, brand_id, target_id)


@router.post("/brands/{brand_id}/targets/{target_id}/cancel", response=_responses(200, TargetDetail), tags=TAGS)
def target_cancel(request, brand_id: int, target_id: int):
    """Do not publish the post on this account (not possible while it is being published)."""
    target = _target(request, brand_id, target_id, roles.COMPOSE)
    services.do_cancel(_ctx(request), target)
    return _after(request, brand_id, target_id)


@router.post("/brands/{brand_id}/targets/{target_id}/delete", response=_responses(200, TargetDetail), tags=TAGS)
def target_delete(request, brand_id: int, target_id: int):
    """Delete a published post from the network (the target becomes ``deleted``)."""
    from .deletion import do_delete_published

    target = _target(request, brand_id, target_id, roles.COMPOSE)
    do_delete_published(_ctx(request), target)
    return _after(request, brand_id, target_id)


@router.post("/brands/{brand_id}/targets/{target_id}/update-on-network", response=_responses(200, TargetDetail),
             tags=TAGS)
def target_update_on_network(request, brand_id: int, target_id: int):
    """Send the post's current text to the published article again (sites that allow it:
    Joomla); 422 when the network does not or the target is not published."""
    from .site_edits import do_update_published

    target = _target(request, brand_id, target_id, roles.COMPOSE)
    do_update_published(_ctx(request), target)
    return _after(request, brand_id, target_id)


@router.post("/brands/{brand_id}/targets/{target_id}/unpublish", response=_responses(200, TargetDetail), tags=TAGS)
def target_unpublish(request, brand_id: int, target_id: int):
    """Unpublish the article on the site (Joomla): it stays there, hidden from visitors."""
    from .site_edits import do_unpublish_published

    target = _target(request, brand_id, target_id, roles.COMPOSE)
    do_unpublish_published(_ctx(request), target)
    return _after(request, brand_id, target_id)


@router.post("/brands/{brand_id}/targets/{target_id}/retry-comment", response=_responses(200, TargetDetail),
             tags=TAGS)
def target_retry_comment(request, brand_id: int, target_id: int):
    """Post a first comment that failed again (after fixing its cause); 422 unless it failed."""
    from .comments import do_retry_comment

    target = _target(request, brand_id, target_id, roles.COMPOSE)
    do_retry_comment(_ctx(request), target)
    return _after(request, brand_id, target_id)


# --- Queue slots and "add to queue" -----------------------------------------------------------

@router.get("/brands/{brand_id}/queue-slots", response=_responses(200, list[SlotOut]), tags=TAGS)
@paginate(Pagination, max_limit=MAX_PAGE)
def slot_list(request, brand_id: int):
    """The brand's weekly posting slots, Monday first."""
    brand = get_brand(request.user, brand_id)
    return QueueSlot.objects.for_user(request.user).filter(brand=brand).order_by("weekday", "time", "pk")


@router.post("/brands/{brand_id}/queue-slots", response={**_responses(201, SlotOut), 200: SlotOut}, tags=TAGS)
def slot_create(request, brand_id: int, payload: SlotIn):
    """Add a weekly slot. If the brand has it already, it is returned as it is (200)."""
    brand = get_brand(request.user, brand_id, roles.COMPOSE)
    wall = parse_wall_time(payload.time)
    created = services.do_add_slots(_ctx(request), brand, weekdays=[payload.weekday], times=[wall])
    if created:
        return Status(201, created[0])
    return Status(200, QueueSlot.objects.for_user(request.user).get(brand=brand, weekday=payload.weekday, time=wall))


# Before /queue-slots/{slot_id}: ninja's path parameter would take "next" for an id.
@router.get("/brands/{brand_id}/queue-slots/next", response=_responses(200, NextSlotOut), tags=TAGS)
def slot_next(request, brand_id: int):
    """The next free slot (what "add to queue" would take now) and the next few slots."""
    brand = get_brand(request.user, brand_id)
    coming = upcoming(brand, count=10)
    free = next((s for s in coming if not s.taken), None)
    if free is None and coming:
        found = upcoming(brand, count=1, free_only=True)
        free = found[0] if found else None
    return {"timezone": brand.timezone, "next_free": _slot_time(brand, free) if free else None,
            "upcoming": [_slot_time(brand, s) for s in coming]}


@router.delete("/brands/{brand_id}/queue-slots/{slot_id}", response=_responses(204, None), tags=TAGS)
def slot_delete(request, brand_id: int, slot_id: int):
    brand = get_brand(request.user, brand_id, roles.COMPOSE)
    slot = _one(QueueSlot.objects.for_user(request.user, roles.COMPOSE).select_related("brand"), pk=slot_id,
                brand=brand)
    services.do_delete_slot(_ctx(request), slot)
    return Status(204, None)


@router.post("/brands/{brand_id}/posts/{post_id}/queue", response=_responses(200, QueuedOut), tags=TAGS)
def post_queue(request, brand_id: int, post_id: int):
    """Add the post to the queue: it gets the next free slot. Approved posts are scheduled
    there at once; a post in draft or review keeps the time and is scheduled when approved."""
    brand = get_brand(request.user, brand_id, roles.COMPOSE)
    post = _one(Post.objects.for_user(request.user, roles.COMPOSE).select_related("brand"), pk=post_id, brand=brand)
    post = services.do_add_to_queue(_ctx(request), post)
    return {"post_id": post.pk, "state": post.state, "scheduled_at": post.scheduled_at,
            "local": post.scheduled_at.astimezone(brand.tzinfo).isoformat(),
            "targets": list(_targets(request, brand).filter(post=post).order_by("pk"))}


# --- Pause and resume -------------------------------------------------------------------------

def _set_brand(request, brand_id: int, paused: bool):
    brand = get_brand(request.user, brand_id)
    services.do_set_brand_paused(_ctx(request), brand, paused)  # 403 without MANAGE_BRAND/ACCOUNTS
    return {"brand_id": brand.pk, "publishing_paused": brand.publishing_paused}


@router.post("/brands/{brand_id}/pause", response=_responses(200, BrandPauseOut), tags=TAGS)
def brand_pause(request, brand_id: int):
    """Pause all publishing of the brand. Nothing is canceled: due posts wait."""
    return _set_brand(request, brand_id, True)


@router.post("/brands/{brand_id}/resume", response=_responses(200, BrandPauseOut), tags=TAGS)
def brand_resume(request, brand_id: int):
    """Resume publishing; posts that became due meanwhile go out now."""
    return _set_brand(request, brand_id, False)


def _set_account(request, brand_id: int, account_id: int, paused: bool):
    brand = get_brand(request.user, brand_id, roles.MANAGE_ACCOUNTS)
    account = _one(SocialAccount.objects.for_user(request.user, roles.MANAGE_ACCOUNTS), pk=account_id, brand=brand)
    return services.do_set_account_paused(_ctx(request), account, paused)


@router.post("/brands/{brand_id}/accounts/{account_id}/pause", response=_responses(200, AccountPauseOut), tags=TAGS)
def account_pause(request, brand_id: int, account_id: int):
    return _set_account(request, brand_id, account_id, True)


@router.post("/brands/{brand_id}/accounts/{account_id}/resume", response=_responses(200, AccountPauseOut), tags=TAGS)
def account_resume(request, brand_id: int, account_id: int):
    return _set_account(request, brand_id, account_id, False)
