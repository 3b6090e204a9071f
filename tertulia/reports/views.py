"""Report pages under /brands/<id>/reports/: the archive, one report (HTML, PDF, share link),
generating now, and the schedules; plus the public read-only link /r/<token>/.

Thin: every write is a service call. Reading needs VIEW (client reviewers read reports);
generating, sharing and scheduling need ``services.MANAGE``.
"""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import FileResponse, HttpResponse, HttpResponseNotAllowed
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from tertulia.core import roles
from tertulia.core.notes import render as render_note
from tertulia.core.scoping import permissions_in
from tertulia.core.services import Ctx
from tertulia.core.views import _apply_errors, brand_view

from . import services
from .forms import GenerateForm, ScheduleForm, ShareForm
from .models import Kind, Report, ReportSchedule
from .render import render_html

PAGE_SIZE = 20


def _can_manage(request, brand) -> bool:
    return services.MANAGE in permissions_in(request.user, brand)


def _report(request, brand, report_id, permission="view") -> Report:
    return get_object_or_404(Report.objects.for_user(request.user, permission).select_related("brand"),
                             pk=report_id, brand=brand)


def _schedule(request, brand, schedule_id) -> ReportSchedule:
    return get_object_or_404(ReportSchedule.objects.for_user(request.user, services.MANAGE), pk=schedule_id,
                             brand=brand)


def _local_today(brand):
    return timezone.now().astimezone(brand.tzinfo).date()


# --- The archive ------------------------------------------------------------------------

@brand_view()
def report_list(request, brand):
    reports = Report.objects.for_user(request.user).filter(brand=brand)
    kind = request.GET.get("kind", "")
    if kind in Kind.values:
        reports = reports.filter(kind=kind)
    else:
        kind = ""
    page = Paginator(reports.order_by("-created_at", "-pk").only(
        "pk", "kind", "title", "period_start", "period_end", "created_at", "created_by", "schedule", "sent_at",
        "send_error", "pdf", "brand"), PAGE_SIZE).get_page(request.GET.get("page"))
    can_manage = _can_manage(request, brand)
    form = GenerateForm(initial={"kind": Kind.WEEKLY,
                                 "period_end": services.default_period_end(Kind.WEEKLY, _local_today(brand))})
    return render(request, "reports/report_list.html", {
        "page": page, "kinds": Kind.choices, "kind": kind, "form": form if can_manage else None,
        "can_manage": can_manage, "section_key": "reports", "subtab": "archive",
    })


@brand_view(services.MANAGE)
@require_POST
def report_generate(request, brand):
    form = GenerateForm(request.POST)
    if form.is_valid():
        try:
            report = services.do_generate_report(Ctx.from_request(request), brand, form.cleaned_data["kind"],
                                                 form.cleaned_data["period_end"])
        except ValidationError as exc:
            _apply_errors(form, exc)
        else:
            messages.success(request, _("Report generated."))
            return redirect("report_detail", brand.pk, report.pk)
    page = Paginator(Report.objects.for_user(request.user).filter(brand=brand).order_by("-created_at", "-pk"),
                     PAGE_SIZE).get_page(1)
    return render(request, "reports/report_list.html", {
        "page": page, "kinds": Kind.choices, "kind": "", "form": form, "can_manage": True,
        "section_key": "reports", "subtab": "archive",
    })


def _detail(request, brand, report, *, new_link: str = "", share_form=None, status=200):
    data = services.report_data(report)
    return render(request, "reports/report_detail.html", {
        "report": report, "body": render_html(data, brand), "can_manage": _can_manage(request, brand),
        "share_form": share_form or ShareForm(), "new_link": new_link,
        "send_error": render_note(report.send_error), "section_key": "reports", "subtab": "archive",
    }, status=status)


@brand_view()
def report_detail(request, brand, report_id):
    report = _report(request, brand, report_id)
    return _detail(request, brand, report)


@brand_view()
def report_pdf(request, brand, report_id):
    report = _report(request, brand, report_id)
    if request.method not in ("GET", "HEAD"):
        return HttpResponseNotAllowed(["GET", "HEAD"])
    filename = f"{report.kind}-{report.period_end.isoformat()}.pdf"
    if report.pdf:
        try:
            response = FileResponse(report.pdf.open("rb"), content_type="application/pdf")
        except FileNotFoundError:
            response = None
    else:
        response = None
    if response is None:  # the PDF could not be made when archived: make it now
        response = HttpResponse(services.render_pdf(report.data), content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    response["X-Content-Type-Options"] = "nosniff"
    return response


@brand_view(services.MANAGE)
@require_POST
def report_share(request, brand, report_id):
    report = _report(request, brand, report_id, services.MANAGE)
    form = ShareForm(request.POST)
    if not form.is_valid():
        return _detail(request, brand, report, share_form=form)
    try:
        raw = services.do_create_share_link(Ctx.from_request(request), report, days=form.cleaned_data["days"])
    except ValidationError as exc:
        _apply_errors(form, exc)
        return _detail(request, brand, report, share_form=form)
    report.refresh_from_db()
    # The link is shown once, on this response: only its hash is stored.
    link = request.build_absolute_uri(reverse("report_public", args=[raw]))
    return _detail(request, brand, report, new_link=link)


@brand_view(services.MANAGE)
@require_POST
def report_share_revoke(request, brand, report_id):
    report = _report(request, brand, report_id, services.MANAGE)
    services.do_revoke_share_link(Ctx.from_request(request), report)
    messages.success(request, _("The share link no longer works."))
    return redirect("report_detail", brand.pk, report.pk)


@brand_view(services.MANAGE)
@require_POST
def report_delete(request, brand, report_id):
    report = _report(request, brand, report_id, services.MANAGE)
    services.do_delete_report(Ctx.from_request(request), report)
    messages.success(request, _("Report deleted."))
    return redirect("section_reports", brand.pk)


# --- Schedules ---------------------------------------------------------------------------

@brand_view(roles.ANALYTICS)  # recipients' addresses: not for client reviewers
def schedule_list(request, brand):
    can_manage = _can_manage(request, brand)
    schedules = ReportSchedule.objects.for_user(request.user, roles.ANALYTICS).filter(brand=brand).order_by("kind", "pk")
    rows = [{"schedule": s, "error": render_note(s.last_error)} for s in schedules]
    return render(request, "reports/schedule_list.html", {
        "rows": rows, "can_manage": can_manage, "form": ScheduleForm() if can_manage else None,
        "section_key": "reports", "subtab": "schedules", "zone": brand.timezone,
    })


@brand_view(services.MANAGE)
def schedule_edit(request, brand, report_schedule_id=None):
    schedule = _schedule(request, brand, report_schedule_id) if report_schedule_id is not None else None
    initial = {}
    if schedule is not None:
        initial = {"kind": schedule.kind, "weekday": schedule.weekday, "recipients": "\n".join(schedule.recipients),
                   "active": schedule.active}
    form = ScheduleForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            services.do_save_schedule(Ctx.from_request(request), brand, schedule, **form.cleaned_data)
        except ValidationError as exc:
            _apply_errors(form, exc)
            if schedule is not None:
                schedule.refresh_from_db()
        else:
            messages.success(request, _("Schedule saved."))
            return redirect("report_schedules", brand.pk)
    return render(request, "reports/schedule_form.html", {
        "form": form, "schedule": schedule, "section_key": "reports", "subtab": "schedules",
    })


@brand_view(services.MANAGE)
@require_POST
def schedule_delete(request, brand, report_schedule_id):
    schedule = _schedule(request, brand, report_schedule_id)
    services.do_delete_schedule(Ctx.from_request(request), schedule)
    messages.success(request, _("Schedule deleted."))
    return redirect("report_schedules", brand.pk)


# --- The public read-only link -------------------------------------------------------------

def report_public(request, share_token):
    """The report behind a share link, read-only, without signing in; nothing else of the
    brand. Unknown, revoked and expired links are the same 404 page."""
    report = Report.find_shared(share_token)
    if report is None:
        response = render(request, "reports/public_gone.html", status=404)
        response["X-Robots-Tag"] = "noindex, nofollow"
        return response
    if request.method not in ("GET", "HEAD"):
        return HttpResponseNotAllowed(["GET", "HEAD"])
    data = services.report_data(report)
    response = render(request, "reports/public_report.html", {
        "report": report, "body": render_html(data, report.brand), "language": report.language,
    })
    response["X-Robots-Tag"] = "noindex, nofollow"
    response["Referrer-Policy"] = "no-referrer"
    response["Cache-Control"] = "private, no-store"
    return response
