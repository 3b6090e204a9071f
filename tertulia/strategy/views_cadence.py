"""The cadence page (brands/<id>/strategy/cadence/): the brand's recurring tasks with their
due days, marking them done, the plan (which tasks, which weekdays), and the workload estimate.
Thin: reads from ``cadence`` and ``workload``, writes through their ``do_*`` services."""

from __future__ import annotations

from datetime import timedelta

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from tertulia.core import roles
from tertulia.core.scoping import brands_for, permissions_in
from tertulia.core.services import Ctx
from tertulia.core.views import _apply_errors, _errors_to_messages, brand_view

from . import cadence, workload
from .models import CadenceTask

WEEKDAYS = [(0, gettext_lazy("Monday")), (1, gettext_lazy("Tuesday")), (2, gettext_lazy("Wednesday")),
            (3, gettext_lazy("Thursday")), (4, gettext_lazy("Friday")), (5, gettext_lazy("Saturday")),
            (6, gettext_lazy("Sunday"))]
PAST_DAYS, AHEAD_DAYS = 35, 63


class PlanForm(forms.Form):
    enabled_kinds = forms.MultipleChoiceField(label=gettext_lazy("Tasks to keep"), required=False,
                                              widget=forms.CheckboxSelectMultiple)
    report_weekday = forms.TypedChoiceField(label=gettext_lazy("Weekly report day"), choices=WEEKDAYS, coerce=int)
    planning_weekday = forms.TypedChoiceField(label=gettext_lazy("Weekly planning day"), choices=WEEKDAYS, coerce=int)
    reminder_hour = forms.TypedChoiceField(label=gettext_lazy("Reminder time"), coerce=int,
                                           choices=[(h, f"{h:02d}:00") for h in range(24)])

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["enabled_kinds"].choices = [(k.key, k.label) for k in cadence.KINDS.values()]


def _task(request, brand, task_id) -> CadenceTask:
    return get_object_or_404(CadenceTask.objects.for_user(request.user, roles.COMPOSE), pk=task_id, brand=brand)


@brand_view()
def cadence_page(request, brand):
    cadence.ensure_tasks(brand)
    today = cadence.today_for(brand)
    plan = cadence.plan_for(brand)
    perms = permissions_in(request.user, brand)
    rows = [{"task": t, "label": cadence.label(t), "link": cadence.link(t), "overdue": cadence.is_overdue(t, today),
             "help": cadence.KINDS[t.kind].help}
            for t in cadence.tasks_for(brand, start=today - timedelta(days=PAST_DAYS),
                                       end=today + timedelta(days=AHEAD_DAYS))]
    form = None
    if roles.MANAGE_BRAND in perms:
        form = PlanForm(initial={"enabled_kinds": [k for k in cadence.KINDS if k not in plan.disabled_kinds],
                                 "report_weekday": plan.report_weekday, "planning_weekday": plan.planning_weekday,
                                 "reminder_hour": plan.reminder_hour})
    return render(request, "strategy/cadence.html", {
        "tab": "strategy", "subtab": "cadence", "rows": rows, "today": today, "form": form,
        "can_mark": roles.COMPOSE in perms, "workload": workload.for_brand(brand),
        "baselines": (workload.estimate(2, 7), workload.estimate(3, 15)),
        "agency": _agency(request.user) if brands_for(request.user).count() > 1 else None,
    })


def _agency(user) -> dict:
    rows = [{"brand": b, "estimate": workload.for_brand(b)} for b in brands_for(user).order_by("name")[:50]]
    return {"rows": rows, "low": round(sum(r["estimate"].low_hours for r in rows), 1),
            "high": round(sum(r["estimate"].high_hours for r in rows), 1)}


@brand_view(roles.COMPOSE)
@require_POST
def cadence_mark(request, brand, cadence_task_id):
    task = _task(request, brand, cadence_task_id)
    done = request.POST.get("done") != "0"
    try:
        cadence.do_mark_done(Ctx.from_request(request), task, done)
    except (ValidationError, PermissionDenied) as exc:
        _errors_to_messages(request, exc)
    else:
        messages.success(request, _("Marked as done.") if done else _("Marked as not done."))
    return redirect("cadence", brand.pk)


@brand_view(roles.MANAGE_BRAND)
@require_POST
def cadence_plan(request, brand):
    form = PlanForm(request.POST)
    if form.is_valid():
        try:
            cadence.do_update_plan(Ctx.from_request(request), brand, **form.cleaned_data)
        except ValidationError as exc:
            _apply_errors(form, exc)
        else:
            messages.success(request, _("Cadence saved."))
            return redirect("cadence", brand.pk)
    for field, errors in form.errors.items():
        for error in errors:
            messages.error(request, error)
    return redirect("cadence", brand.pk)
