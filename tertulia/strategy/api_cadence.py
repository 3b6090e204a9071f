"""API routes for the CM cadence and the workload estimate, under /brands/{brand_id}/…

Reading needs VIEW; marking a task done needs COMPOSE; changing the plan needs MANAGE_BRAND.
"""

from datetime import date, datetime, timedelta

from ninja import Field, Router, Schema
from ninja.pagination import paginate

from tertulia.core import roles
from tertulia.core.api import MAX_PAGE, In, Pagination, _ctx, _one, _responses
from tertulia.core.scoping import get_brand

from . import cadence, workload
from .models import CadenceTask

router = Router()
MAX_SPAN_DAYS = 800


class CadenceTaskOut(Schema):
    id: int
    brand_id: int
    kind: str
    label: str
    due_on: date
    period_start: date
    period_end: date
    done_at: datetime | None
    overdue: bool
    link: str

    @staticmethod
    def resolve_label(obj):
        return cadence.label(obj)

    @staticmethod
    def resolve_overdue(obj):
        return cadence.is_overdue(obj, cadence.today_for(obj.brand))

    @staticmethod
    def resolve_link(obj):
        return cadence.link(obj)


class DoneIn(In):
    done: bool = True


class PlanIn(In):
    enabled_kinds: list[str] = Field(..., max_length=len(cadence.KINDS))
    report_weekday: int = Field(0, ge=0, le=6, description="0 = Monday")
    planning_weekday: int = Field(4, ge=0, le=6)
    reminder_hour: int = Field(9, ge=0, le=23, description="In the brand's time zone.")


class PlanOut(Schema):
    enabled_kinds: list[str]
    report_weekday: int
    planning_weekday: int
    reminder_hour: int


class WorkloadOut(Schema):
    profiles: int
    posts_per_week: float
    interactions_per_week: float
    low_hours: float
    high_hours: float
    inbox_hours: float


def _plan_out(plan) -> dict:
    return {"enabled_kinds": [k for k in cadence.KINDS if k not in plan.disabled_kinds],
            "report_weekday": plan.report_weekday, "planning_weekday": plan.planning_weekday,
            "reminder_hour": plan.reminder_hour}


@router.get("/brands/{brand_id}/cadence/tasks", response=_responses(200, list[CadenceTaskOut]), tags=["strategy"])
@paginate(Pagination, max_limit=MAX_PAGE)
def cadence_tasks(request, brand_id: int, start: date = None, end: date = None):
    """The brand's recurring tasks due between ``start`` and ``end`` (brand dates, included;
    by default five weeks back to nine weeks ahead)."""
    brand = get_brand(request.user, brand_id)
    cadence.ensure_tasks(brand)
    today = cadence.today_for(brand)
    start = start or today - timedelta(days=35)
    end = end or today + timedelta(days=63)
    if end < start or (end - start).days > MAX_SPAN_DAYS:
        end = start + timedelta(days=MAX_SPAN_DAYS) if end >= start else start
    return cadence.tasks_for(brand, start=start, end=end)


@router.post("/brands/{brand_id}/cadence/tasks/{cadence_task_id}", response=_responses(200, CadenceTaskOut),
             tags=["strategy"])
def cadence_task_done(request, brand_id: int, cadence_task_id: int, payload: DoneIn):
    """Mark a task done (``done: true``) or not done."""
    brand = get_brand(request.user, brand_id, roles.COMPOSE)
    task = _one(CadenceTask.objects.for_user(request.user, roles.COMPOSE).select_related("brand"),
                pk=cadence_task_id, brand=brand)
    return cadence.do_mark_done(_ctx(request), task, payload.done)


@router.get("/brands/{brand_id}/cadence/plan", response=_responses(200, PlanOut), tags=["strategy"])
def cadence_plan_get(request, brand_id: int):
    return _plan_out(cadence.plan_for(get_brand(request.user, brand_id)))


@router.put("/brands/{brand_id}/cadence/plan", response=_responses(200, PlanOut), tags=["strategy"])
def cadence_plan_put(request, brand_id: int, payload: PlanIn):
    brand = get_brand(request.user, brand_id, roles.MANAGE_BRAND)
    return _plan_out(cadence.do_update_plan(_ctx(request), brand, **payload.dict()))


@router.get("/brands/{brand_id}/workload", response=_responses(200, WorkloadOut), tags=["strategy"])
def workload_get(request, brand_id: int):
    """Hours a week the brand's social media takes, estimated from its last four weeks."""
    return workload.for_brand(get_brand(request.user, brand_id))
