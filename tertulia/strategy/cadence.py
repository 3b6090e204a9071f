"""The CM's cadence: the recurring strategic and tactical tasks of a brand, as a task calendar.

The job's rhythm, from the seed job description:

| task | when (brand's calendar) | about | done on |
|---|---|---|---|
| weekly report to the marketing lead | every week, on the plan's report day (Monday) | the 7 days before | Reports |
| weekly topic and publication planning | every week, on the planning day (Friday) | the next week | the week plan |
| monthly sector and competitor analysis | the 1st of every month | the month before | Competitors |
| quarterly internal audit of the networks | the 1st day of each quarter | the quarter before | Reports |
| quarterly market analysis | the 1st day of each quarter | the quarter before | Listening trends |
| quarterly KPI review | the 1st day of each quarter | the quarter before | Objectives and KPIs |
| yearly analysis | January 1st | the year before | Reports |

Tasks are rows (``CadenceTask``), created ahead by ``ensure_tasks`` (idempotent: one per brand,
kind and due day), so that marking one done, or turning a kind off, is a plain write. A task is
overdue from the day after it is due, in the brand's time zone, until someone marks it done.
Reminders go out once per task, on its due day from the plan's reminder hour.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from tertulia.core import roles
from tertulia.core.models import Brand, Membership
from tertulia.core.notes import note
from tertulia.core.services import Ctx, _log, _require

from .models import CadencePlan, CadenceTask

WEEKLY, MONTHLY, QUARTERLY, YEARLY = "weekly", "monthly", "quarterly", "yearly"
HORIZON_DAYS = 70  # how far ahead tasks exist: ten weeks, so the next quarter's show up in time
LOOKBACK_DAYS = 35  # a brand created or re-enabled mid-period still gets the current tasks
MAX_OVERDUE_SHOWN = 20


@dataclass(frozen=True)
class Kind:
    key: str
    label: Promise
    every: str  # WEEKLY | MONTHLY | QUARTERLY | YEARLY
    url_name: str  # where the task is done (a per-brand page)
    help: Promise
    reminder: Promise  # the notification, "%(brand)s" and "%(date)s" filled in; one msgid per kind


KINDS: dict[str, Kind] = {k.key: k for k in [
    Kind("weekly_report", _("Weekly report to the marketing lead"), WEEKLY, "section_reports",
         _("The last 7 days against the 7 before: KPIs, top posts, inbox and SLA, mentions, next week."),
         _("Weekly report for %(brand)s: due on %(date)s.")),
    Kind("weekly_plan", _("Weekly topic and publication planning"), WEEKLY, "week_plan",
         _("Choose next week's theme and fill its posts in the calendar."),
         _("Plan next week's topics and posts for %(brand)s: due on %(date)s.")),
    Kind("monthly_competitors", _("Monthly sector and competitor analysis"), MONTHLY, "competitor_benchmark",
         _("Compare the brand with its competitors and read the sector's trends."),
         _("Monthly sector and competitor analysis for %(brand)s: due on %(date)s.")),
    Kind("quarterly_audit", _("Quarterly internal audit of the brand's networks"), QUARTERLY, "section_reports",
         _("Profiles complete, posting often enough, growth, engagement and response times."),
         _("Quarterly audit of %(brand)s's networks: due on %(date)s.")),
    Kind("quarterly_market", _("Quarterly market analysis"), QUARTERLY, "listening_trends",
         _("Volume, sentiment and share of voice in the market over the quarter."),
         _("Quarterly market analysis for %(brand)s: due on %(date)s.")),
    Kind("quarterly_kpi_review", _("Quarterly KPI review"), QUARTERLY, "strategy_objectives",
         _("Check each KPI against its target and adjust targets or plans."),
         _("Quarterly KPI review for %(brand)s: due on %(date)s.")),
    Kind("yearly_analysis", _("Yearly analysis"), YEARLY, "section_reports",
         _("The year in figures: growth, best months, top posts, KPI results."),
         _("Yearly analysis for %(brand)s: due on %(date)s.")),
]}

MSG_WEEKDAY = _("Choose a day of the week.")
MSG_HOUR = _("Choose an hour between 0 and 23.")
MSG_KIND = _("Unknown task.")
MSG_DONE_EARLY = _("This task is not due until %(date)s; it can be marked done from then on.")


# --- When --------------------------------------------------------------------------------

def _quarter_start(d: date) -> date:
    return date(d.year, 3 * ((d.month - 1) // 3) + 1, 1)


def _add_months(d: date, months: int) -> date:
    index = d.year * 12 + d.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


def occurrences(kind: Kind, plan: CadencePlan, start: date, end: date) -> Iterator[tuple[date, date, date]]:
    """(due day, period start, period end) of ``kind`` due between ``start`` and ``end``,
    both included. The period is what the task looks at: the previous week for the report, the
    next week for planning, the previous month, quarter or year for the others."""
    if kind.every == WEEKLY:
        weekday = plan.report_weekday if kind.key == "weekly_report" else plan.planning_weekday
        due = start + timedelta(days=(weekday - start.weekday()) % 7)
        while due <= end:
            if kind.key == "weekly_report":
                yield due, due - timedelta(days=7), due - timedelta(days=1)
            else:  # planning: the Monday-to-Sunday week after the planning day
                monday = due + timedelta(days=7 - due.weekday())
                yield due, monday, monday + timedelta(days=6)
            due += timedelta(days=7)
        return
    step = {MONTHLY: 1, QUARTERLY: 3, YEARLY: 12}[kind.every]
    first = {MONTHLY: date(start.year, start.month, 1), QUARTERLY: _quarter_start(start),
             YEARLY: date(start.year, 1, 1)}[kind.every]
    due = first if first >= start else _add_months(first, step)
    while due <= end:
        yield due, _add_months(due, -step), due - timedelta(days=1)
        due = _add_months(due, step)


def plan_for(brand: Brand) -> CadencePlan:
    plan = CadencePlan.objects.filter(brand=brand).first()
    return plan if plan is not None else CadencePlan(brand=brand)


def today_for(brand: Brand, now: datetime | None = None) -> date:
    return timezone.localtime(now or timezone.now(), brand.tzinfo).date()


def ensure_tasks(brand: Brand, *, now: datetime | None = None, backfill: bool = True) -> int:
    """Create the brand's tasks up to ``HORIZON_DAYS`` ahead; returns how many were new. Of the
    occurrences already past, only each kind's latest is created (``backfill``), and none from
    before the brand existed: the current report or audit is owed, last month's and the ones
    before are history, not a pile of overdue work. Safe to run any number of times, from any
    number of consumers."""
    plan = plan_for(brand)
    today = today_for(brand, now)
    start, end = today - timedelta(days=LOOKBACK_DAYS), today + timedelta(days=HORIZON_DAYS)
    created_on = timezone.localtime(brand.created_at, brand.tzinfo).date()
    rows = []
    for kind in KINDS.values():
        if kind.key in plan.disabled_kinds:
            continue
        found = list(occurrences(kind, plan, start, end))
        past = [o for o in found if o[0] < today and o[0] >= created_on]
        keep = past[-1:] if backfill else []
        rows += [CadenceTask(brand=brand, kind=kind.key, due_on=due, period_start=p0, period_end=p1)
                 for due, p0, p1 in keep + [o for o in found if o[0] >= today]]
    before = CadenceTask.objects.filter(brand=brand).count()
    CadenceTask.objects.bulk_create(rows, ignore_conflicts=True)
    return CadenceTask.objects.filter(brand=brand).count() - before


def ensure_all(now: datetime | None = None) -> int:
    return sum(ensure_tasks(b, now=now) for b in Brand.objects.filter(organization__is_demo=False).iterator())


# --- Reading -----------------------------------------------------------------------------

def is_overdue(task: CadenceTask, today: date) -> bool:
    return task.done_at is None and task.due_on < today


def link(task: CadenceTask) -> str:
    return reverse(KINDS[task.kind].url_name, args=[task.brand_id])


def label(task: CadenceTask) -> str:
    kind = KINDS.get(task.kind)
    return str(kind.label) if kind else task.kind


def tasks_for(brand: Brand, *, start: date, end: date) -> list[CadenceTask]:
    """The brand's tasks due between two days (included), in due order, without disabled kinds."""
    plan = plan_for(brand)
    return list(CadenceTask.objects.filter(brand=brand, due_on__gte=start, due_on__lte=end)
                .exclude(kind__in=plan.disabled_kinds or ["-"]).select_related("done_by").order_by("due_on", "kind"))


def overdue(brands: Iterable[Brand], *, now: datetime | None = None, limit: int = MAX_OVERDUE_SHOWN) -> list[CadenceTask]:
    """Tasks past their due day and not done, oldest first, across the given brands."""
    condition = Q()
    plans = {p.brand_id: p for p in CadencePlan.objects.filter(brand__in=list(brands))}
    for brand in brands:
        disabled = plans[brand.pk].disabled_kinds if brand.pk in plans else []
        condition |= Q(brand=brand, due_on__lt=today_for(brand, now)) & ~Q(kind__in=disabled or ["-"])
    if not condition:
        return []
    return list(CadenceTask.objects.filter(condition, done_at__isnull=True).select_related("brand")
                .order_by("due_on", "brand__name", "kind")[:limit])


# --- Writing -----------------------------------------------------------------------------

def _task_in(ctx: Ctx, task: CadenceTask) -> None:
    _require(ctx, task.brand, roles.COMPOSE)


@transaction.atomic
def do_mark_done(ctx: Ctx, task: CadenceTask, done: bool = True) -> CadenceTask:
    _task_in(ctx, task)
    task = CadenceTask.objects.select_for_update().get(pk=task.pk)
    if done and task.done_at is None:
        if task.due_on > today_for(task.brand) + timedelta(days=7):
            raise ValidationError(MSG_DONE_EARLY, params={"date": task.due_on.isoformat()}, code="early")
        task.done_at, task.done_by = timezone.now(), ctx.user
    elif not done:
        task.done_at, task.done_by = None, None
    task.save(update_fields=["done_at", "done_by"])
    _log(ctx, "cadence.done" if done else "cadence.undone", brand=task.brand, obj=task,
         changes={"kind": task.kind, "due_on": task.due_on.isoformat()})
    return task


@transaction.atomic
def do_update_plan(ctx: Ctx, brand: Brand, *, enabled_kinds: Iterable[str], report_weekday: int,
                   planning_weekday: int, reminder_hour: int) -> CadencePlan:
    _require(ctx, brand, roles.MANAGE_BRAND)
    enabled = set(enabled_kinds)
    if not enabled <= set(KINDS):
        raise ValidationError({"enabled_kinds": MSG_KIND}, code="kind")
    for name, value in (("report_weekday", report_weekday), ("planning_weekday", planning_weekday)):
        if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= 6:
            raise ValidationError({name: MSG_WEEKDAY}, code="weekday")
    if not isinstance(reminder_hour, int) or isinstance(reminder_hour, bool) or not 0 <= reminder_hour <= 23:
        raise ValidationError({"reminder_hour": MSG_HOUR}, code="hour")
    plan, _created = CadencePlan.objects.select_for_update().get_or_create(brand=brand)
    old_weekdays = (plan.report_weekday, plan.planning_weekday)
    plan.disabled_kinds = sorted(set(KINDS) - enabled)
    plan.report_weekday, plan.planning_weekday, plan.reminder_hour = report_weekday, planning_weekday, reminder_hour
    plan.save()
    if old_weekdays != (report_weekday, planning_weekday):
        # Weekly tasks still to come move to the new day; done and past ones stay as history.
        today = today_for(brand)
        CadenceTask.objects.filter(brand=brand, kind__in=["weekly_report", "weekly_plan"], due_on__gte=today,
                                   done_at__isnull=True).delete()
    ensure_tasks(brand, backfill=False)  # the new weekdays from today on, no past ones
    _log(ctx, "cadence.plan", brand=brand, obj=plan,
         changes={"disabled": plan.disabled_kinds, "report_weekday": report_weekday,
                  "planning_weekday": planning_weekday, "reminder_hour": reminder_hour})
    return plan


# --- Reminders ---------------------------------------------------------------------------

def _recipients(brand: Brand) -> list:
    return [m.user for m in Membership.objects.filter(brand=brand, role__in=roles.roles_with(roles.COMPOSE))
            .select_related("user")]


def send_reminders(now: datetime | None = None) -> int:
    """Remind the brand's team of each task due today (from the reminder hour) or overdue and
    never reminded; once per task. Returns how many tasks were reminded."""
    from tertulia.core.notifications import notify

    now = now or timezone.now()
    sent = 0
    pending = (CadenceTask.objects.filter(done_at__isnull=True, reminded_at__isnull=True,
                                          due_on__lte=now.date() + timedelta(days=1),
                                          brand__organization__is_demo=False, brand__deleted_at__isnull=True)
               .select_related("brand").order_by("brand_id", "due_on"))
    for task in pending.iterator():
        brand = task.brand
        plan = plan_for(brand)
        if task.kind in plan.disabled_kinds:
            continue
        local = timezone.localtime(now, brand.tzinfo)
        if task.due_on > local.date() or (task.due_on == local.date() and local.time() < time(plan.reminder_hour)):
            continue
        if task.due_on < local.date() - timedelta(days=1):
            # Long overdue before reminders ran (created late, or no consumer for days): the home
            # page shows it; an e-mail about it now would be noise. Claimed without a message.
            CadenceTask.objects.filter(pk=task.pk, reminded_at__isnull=True).update(reminded_at=now)
            continue
        # Claim it: a second consumer running the same reminder finds nothing to update.
        if not CadenceTask.objects.filter(pk=task.pk, reminded_at__isnull=True).update(reminded_at=now):
            continue
        if task.kind in KINDS:
            notify(_recipients(brand), kind="cadence", brand=brand, link=reverse("cadence", args=[brand.pk]),
                   message=note(KINDS[task.kind].reminder, brand=brand.name, date=task.due_on.isoformat()))
            sent += 1
    return sent
