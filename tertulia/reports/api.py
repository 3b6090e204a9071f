"""API routes for reports under /brands/{brand_id}/…: the archive (list, read, generate, PDF,
share links, delete) and the schedules (CRUD).

Thin like the other routers: the brand comes from ``scoping.get_brand`` (404 for strangers,
403 for a role or token without the permission), rows only through ``for_user``, and every
write through a ``do_*`` service (which checks again and writes the audit log, via="api").
Reading needs VIEW; generating, sharing and scheduling need ``services.MANAGE``.
"""

from datetime import date, datetime

from django.http import FileResponse, HttpResponse
from django.urls import reverse
from ninja import Field, Query, Router, Schema, Status
from ninja.pagination import paginate

from tertulia.core import roles
from tertulia.core.api import MAX_PAGE, Email, Error, In, Pagination, Patch, Text, _ctx, _one, _responses
from tertulia.core.notes import render as render_note
from tertulia.core.scoping import get_brand

from . import services
from .models import MAX_RECIPIENTS, Report, ReportSchedule

router = Router()


# --- Schemas ------------------------------------------------------------------------------

class ReportOut(Schema):
    id: int
    brand_id: int
    kind: str
    title: str
    period_start: date
    period_end: date
    language: str
    created_at: datetime
    scheduled: bool
    sent_at: datetime | None
    send_error: str
    has_pdf: bool
    share_active: bool
    share_expires_at: datetime | None

    @staticmethod
    def resolve_scheduled(obj):
        return obj.schedule_id is not None

    @staticmethod
    def resolve_send_error(obj):
        return render_note(obj.send_error)

    @staticmethod
    def resolve_has_pdf(obj):
        return bool(obj.pdf)

    @staticmethod
    def resolve_share_active(obj):
        return obj.share_active

    @staticmethod
    def resolve_share_expires_at(obj):
        return obj.share_expires_at if obj.share_active else None


class ReportDetail(ReportOut):
    data: dict = Field(..., description="The report's blocks (ReportData JSON): sections of facts, paragraphs, "
                                        "tables, charts (Vega-Lite spec + table) and checklists.")


class ReportCreate(In):
    kind: Text(16, 1) = Field(..., description="weekly | monthly | quarterly | yearly")
    period_end: date = Field(None, description="The last day included (brand time zone). Default: the last "
                                               "complete period.")


class ShareIn(In):
    days: int = Field(services.SHARE_DAYS, ge=0, le=services.MAX_SHARE_DAYS,
                      description="How long the link works; 0: no expiry.")


class ShareOut(Schema):
    url: str = Field(..., description="The public read-only link; shown once (only its hash is stored).")
    expires_at: datetime | None


class ScheduleOut(Schema):
    id: int
    brand_id: int
    kind: str
    weekday: int
    recipients: list[str]
    active: bool
    next_run_at: datetime
    last_sent_at: datetime | None
    last_error: str

    @staticmethod
    def resolve_last_error(obj):
        return render_note(obj.last_error)


class ScheduleCreate(In):
    kind: Text(16, 1)
    weekday: int = Field(0, ge=0, le=6, description="0 = Monday; weekly reports go out on this day at 08:00.")
    # At least one: checked by the service (after the brand is found: a stranger gets 404).
    recipients: list[Email] = Field(..., max_length=MAX_RECIPIENTS)
    active: bool = True


class SchedulePatch(Patch):
    kind: Text(16, 1) = None
    weekday: int = Field(None, ge=0, le=6)
    recipients: list[Email] = Field(None, min_length=1, max_length=MAX_RECIPIENTS)
    active: bool = None


class KindFilter(Schema):
    kind: Text(16) = None


# --- Reports ------------------------------------------------------------------------------

def _reports(request, brand, permission=roles.VIEW):
    return Report.objects.for_user(request.user, permission).filter(brand=brand)


@router.get("/brands/{brand_id}/reports", response=_responses(200, list[ReportOut]), tags=["reports"])
@paginate(Pagination, max_limit=MAX_PAGE)
def report_list(request, brand_id: int, filters: Query[KindFilter]):
    """The archive, newest first (``kind`` filters)."""
    brand = get_brand(request.user, brand_id)
    qs = _reports(request, brand).defer("data")
    if filters.kind:
        qs = qs.filter(kind=filters.kind)
    return qs.order_by("-created_at", "-pk")


@router.post("/brands/{brand_id}/reports", response=_responses(201, ReportDetail), tags=["reports"])
def report_generate(request, brand_id: int, payload: ReportCreate):
    """Build, render and archive a report now (it takes a few seconds)."""
    brand = get_brand(request.user, brand_id, services.MANAGE)
    period_end = payload.period_end
    if period_end is None and payload.kind in services.Kind.values:
        from django.utils import timezone

        period_end = services.default_period_end(payload.kind, timezone.now().astimezone(brand.tzinfo).date())
    report = services.do_generate_report(_ctx(request), brand, payload.kind, period_end or date.today())
    return Status(201, report)


@router.get("/brands/{brand_id}/reports/{report_id}", response=_responses(200, ReportDetail), tags=["reports"])
def report_get(request, brand_id: int, report_id: int):
    brand = get_brand(request.user, brand_id)
    return _one(_reports(request, brand), pk=report_id)


@router.get("/brands/{brand_id}/reports/{report_id}/pdf", tags=["reports"],
            response={401: Error, 403: Error, 404: Error},
            openapi_extra={"responses": {200: {"description": "The report as PDF.",
                                               "content": {"application/pdf": {"schema": {"type": "string",
                                                                                          "format": "binary"}}}}}})
def report_pdf(request, brand_id: int, report_id: int):
    """The report's PDF."""
    brand = get_brand(request.user, brand_id)
    report = _one(_reports(request, brand), pk=report_id)
    filename = f"{report.kind}-{report.period_end.isoformat()}.pdf"
    try:
        response = FileResponse(report.pdf.open("rb"), content_type="application/pdf") if report.pdf else None
    except FileNotFoundError:
        response = None
    if response is None:
        response = HttpResponse(services.render_pdf(report.data), content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


@router.post("/brands/{brand_id}/reports/{report_id}/share", response=_responses(200, ShareOut), tags=["reports"])
def report_share(request, brand_id: int, report_id: int, payload: ShareIn):
    """A new public read-only link (an earlier one stops working)."""
    brand = get_brand(request.user, brand_id, services.MANAGE)
    report = _one(_reports(request, brand, services.MANAGE), pk=report_id)
    raw = services.do_create_share_link(_ctx(request), report, days=payload.days)
    return {"url": request.build_absolute_uri(reverse("report_public", args=[raw])),
            "expires_at": report.share_expires_at}


@router.post("/brands/{brand_id}/reports/{report_id}/share/revoke", response=_responses(200, ReportOut),
             tags=["reports"])
def report_share_revoke(request, brand_id: int, report_id: int):
    brand = get_brand(request.user, brand_id, services.MANAGE)
    report = _one(_reports(request, brand, services.MANAGE), pk=report_id)
    return services.do_revoke_share_link(_ctx(request), report)


@router.delete("/brands/{brand_id}/reports/{report_id}", response=_responses(204, None), tags=["reports"])
def report_delete(request, brand_id: int, report_id: int):
    brand = get_brand(request.user, brand_id, services.MANAGE)
    report = _one(_reports(request, brand, services.MANAGE), pk=report_id)
    services.do_delete_report(_ctx(request), report)
    return Status(204, None)


# --- Schedules ----------------------------------------------------------------------------

def _schedules(request, brand, permission=roles.ANALYTICS):
    """Schedules hold their recipients' e-mail addresses: analysts and up, not client reviewers."""
    return ReportSchedule.objects.for_user(request.user, permission).filter(brand=brand)


@router.get("/brands/{brand_id}/report-schedules", response=_responses(200, list[ScheduleOut]), tags=["reports"])
@paginate(Pagination, max_limit=MAX_PAGE)
def schedule_list(request, brand_id: int):
    brand = get_brand(request.user, brand_id, roles.ANALYTICS)
    return _schedules(request, brand).order_by("kind", "pk")


@router.post("/brands/{brand_id}/report-schedules", response=_responses(201, ScheduleOut), tags=["reports"])
def schedule_create(request, brand_id: int, payload: ScheduleCreate):
    brand = get_brand(request.user, brand_id, services.MANAGE)
    schedule = services.do_save_schedule(_ctx(request), brand, None, kind=payload.kind, weekday=payload.weekday,
                                         recipients=list(payload.recipients), active=payload.active)
    return Status(201, schedule)


@router.get("/brands/{brand_id}/report-schedules/{report_schedule_id}", response=_responses(200, ScheduleOut),
            tags=["reports"])
def schedule_get(request, brand_id: int, report_schedule_id: int):
    brand = get_brand(request.user, brand_id, roles.ANALYTICS)
    return _one(_schedules(request, brand), pk=report_schedule_id)


@router.patch("/brands/{brand_id}/report-schedules/{report_schedule_id}", response=_responses(200, ScheduleOut),
              tags=["reports"])
def schedule_update(request, brand_id: int, report_schedule_id: int, payload: SchedulePatch):
    brand = get_brand(request.user, brand_id, services.MANAGE)
    schedule = _one(_schedules(request, brand, services.MANAGE), pk=report_schedule_id)
    fields = payload.dict(exclude_unset=True)
    return services.do_save_schedule(_ctx(request), brand, schedule, **fields)


@router.delete("/brands/{brand_id}/report-schedules/{report_schedule_id}", response=_responses(204, None),
               tags=["reports"])
def schedule_delete(request, brand_id: int, report_schedule_id: int):
    brand = get_brand(request.user, brand_id, services.MANAGE)
    schedule = _one(_schedules(request, brand, services.MANAGE), pk=report_schedule_id)
    services.do_delete_schedule(_ctx(request), schedule)
    return Status(204, None)
