"""Strategy pages under /brands/<id>/strategy/: objectives with their KPI targets, content
pillars with their target mix, and the KPI formulas. Thin: every write is a service call."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db.models import Prefetch
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from tertulia.core import roles
from tertulia.core.scoping import permissions_in
from tertulia.core.services import Ctx
from tertulia.core.views import _apply_errors, brand_view

from . import services
from .forms import KPIForm, ObjectiveForm, PillarForm
from .metrics import METRICS, unit_of
from .models import KPI, ContentPillar, Objective


def _can_edit(request, brand) -> bool:
    return roles.MANAGE_BRAND in permissions_in(request.user, brand)


def _objective(request, brand, objective_id, permission=roles.MANAGE_BRAND) -> Objective:
    return get_object_or_404(Objective.objects.for_user(request.user, permission), pk=objective_id, brand=brand)


def _kpi(request, objective, kpi_id) -> KPI:
    return get_object_or_404(KPI.objects.for_user(request.user, roles.MANAGE_BRAND), pk=kpi_id,
                             brand_id=objective.brand_id, objective=objective)


def _pillar(request, brand, pillar_id) -> ContentPillar:
    return get_object_or_404(ContentPillar.objects.for_user(request.user, roles.MANAGE_BRAND), pk=pillar_id,
                             brand=brand)


def _places(value) -> str:
    """The ``floatformat`` argument that shows a target with the decimals it has (12, 4.5,
    1.25), grouped by thousands in the user's locale."""
    exponent = value.normalize().as_tuple().exponent if value is not None else 0
    return f"{min(2, max(0, -exponent))}g"


def _kpi_rows(kpis):
    return [{"kpi": k, "unit": unit_of(k.metric), "places": _places(k.target)} for k in kpis]


# --- Objectives ------------------------------------------------------------------------

@brand_view()
def objective_list(request, brand):
    kpis = KPI.objects.for_user(request.user).filter(brand=brand).order_by("metric")
    objectives = (Objective.objects.for_user(request.user).filter(brand=brand)
                  .prefetch_related(Prefetch("kpis", queryset=kpis)).order_by("-period_start", "name", "pk"))
    today = timezone.localdate()
    rows = []
    for o in objectives:
        status = "current" if o.period_start <= today <= o.period_end else ("upcoming" if o.period_start > today else "past")
        rows.append({"objective": o, "status": status, "kpis": _kpi_rows(o.kpis.all())})
    return render(request, "strategy/objective_list.html", {
        "rows": rows, "tab": "strategy", "subtab": "objectives", "can_edit": _can_edit(request, brand),
    })


@brand_view(roles.MANAGE_BRAND)
def objective_edit(request, brand, objective_id=None):
    objective = _objective(request, brand, objective_id) if objective_id is not None else None
    initial = ({f: getattr(objective, f) for f in services.OBJECTIVE_FIELDS} if objective else {})
    form = ObjectiveForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        ctx = Ctx.from_request(request)
        try:
            if objective is None:
                objective = services.do_create_objective(ctx, brand, **form.cleaned_data)
                messages.success(request, _("Objective created. Now give it its KPI targets."))
            else:
                services.do_update_objective(ctx, objective, **form.cleaned_data)
                messages.success(request, _("Objective saved."))
        except ValidationError as exc:
            _apply_errors(form, exc)
            if objective is not None and objective.pk:
                objective.refresh_from_db()
        else:
            return redirect("strategy_objective_edit", brand.pk, objective.pk)
    kpis = objective.kpis.order_by("metric") if objective is not None else []
    return render(request, "strategy/objective_form.html", {
        "form": form, "objective": objective, "kpis": _kpi_rows(kpis), "kpi_form": KPIForm(),
        "tab": "strategy", "subtab": "objectives",
    })


@brand_view(roles.MANAGE_BRAND)
@require_POST
def objective_delete(request, brand, objective_id):
    objective = _objective(request, brand, objective_id)
    services.do_delete_objective(Ctx.from_request(request), objective)
    messages.success(request, _("Objective deleted."))
    return redirect("strategy_objectives", brand.pk)


# --- KPI targets -----------------------------------------------------------------------

@brand_view(roles.MANAGE_BRAND)
def kpi_edit(request, brand, objective_id, kpi_id=None):
    objective = _objective(request, brand, objective_id)
    kpi = _kpi(request, objective, kpi_id) if kpi_id is not None else None
    initial = {}
    if kpi is not None:
        initial = {"metric": kpi.metric, "target": kpi.target,
                   "better": "lower" if kpi.lower_is_better else "higher"}
    form = KPIForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            services.do_save_kpi(Ctx.from_request(request), objective, kpi, metric=form.cleaned_data["metric"],
                                 target=form.cleaned_data["target"], lower_is_better=form.lower_is_better())
        except ValidationError as exc:
            _apply_errors(form, exc)
            if kpi is not None:
                kpi.refresh_from_db()
        else:
            messages.success(request, _("KPI target saved."))
            return redirect("strategy_objective_edit", brand.pk, objective.pk)
    return render(request, "strategy/kpi_form.html", {
        "form": form, "objective": objective, "kpi": kpi, "tab": "strategy", "subtab": "objectives",
    })


@brand_view(roles.MANAGE_BRAND)
@require_POST
def kpi_delete(request, brand, objective_id, kpi_id):
    objective = _objective(request, brand, objective_id)
    kpi = _kpi(request, objective, kpi_id)
    services.do_delete_kpi(Ctx.from_request(request), kpi)
    messages.success(request, _("KPI target deleted."))
    return redirect("strategy_objective_edit", brand.pk, objective.pk)


@brand_view()
def kpi_formulas(request, brand):
    return render(request, "strategy/kpi_formulas.html", {
        "metrics": list(METRICS.values()), "lower": services.LOWER_IS_BETTER, "tab": "strategy", "subtab": "formulas",
    })


# --- Content pillars -------------------------------------------------------------------

def _mix(pillars) -> dict:
    """The planned mix as segments of a 0–100 bar (offsets for the SVG), and what is left."""
    segments, offset = [], 0
    for p in pillars:
        if p.target_share:
            segments.append({"pillar": p, "x": offset, "width": p.target_share})
            offset += p.target_share
    return {"segments": segments, "planned": offset, "remaining": max(0, 100 - offset)}


@brand_view()
def pillar_list(request, brand):
    pillars = list(ContentPillar.objects.for_user(request.user).filter(brand=brand).order_by("-target_share", "name"))
    can_edit = _can_edit(request, brand)
    return render(request, "strategy/pillar_list.html", {
        "pillars": pillars, "mix": _mix(pillars), "can_edit": can_edit, "tab": "strategy", "subtab": "pillars",
    })


@brand_view(roles.MANAGE_BRAND)
def pillar_edit(request, brand, pillar_id=None):
    pillar = _pillar(request, brand, pillar_id) if pillar_id is not None else None
    if pillar is not None:
        initial = {f: getattr(pillar, f) for f in services.PILLAR_FIELDS}
    else:
        initial = {"target_share": 100 - services.planned_share(brand), "color": services.DEFAULT_COLOR}
    form = PillarForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            services.do_save_pillar(Ctx.from_request(request), brand, pillar, **form.cleaned_data)
        except ValidationError as exc:
            _apply_errors(form, exc)
            if pillar is not None:
                pillar.refresh_from_db()
        else:
            messages.success(request, _("Pillar saved."))
            return redirect("strategy_pillars", brand.pk)
    return render(request, "strategy/pillar_form.html", {
        "form": form, "pillar": pillar, "remaining": 100 - services.planned_share(brand, exclude=pillar),
        "tab": "strategy", "subtab": "pillars",
    })


@brand_view(roles.MANAGE_BRAND)
@require_POST
def pillar_delete(request, brand, pillar_id):
    pillar = _pillar(request, brand, pillar_id)
    services.do_delete_pillar(Ctx.from_request(request), pillar)
    messages.success(request, _("Pillar deleted."))
    return redirect("strategy_pillars", brand.pk)
