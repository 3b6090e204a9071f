"""API routes for strategy: objectives with their nested KPI targets, and content pillars
with their target mix, under /brands/{brand_id}/…

Thin like the core router: the brand comes from ``scoping.get_brand`` (404 for strangers, 403
for a role or token without the permission), rows only through ``for_user``, and every write
through a ``do_*`` service, which checks again and records it in the audit log (via="api").
Reading needs VIEW; writing needs MANAGE_BRAND (owners and managers).
"""

from datetime import date
from decimal import Decimal

from django.db.models import Prefetch
from ninja import Field, Router, Schema, Status
from ninja.pagination import LimitOffsetPagination, paginate

from tertulia.core import roles
from tertulia.core.api import MAX_PAGE, In, Patch, Text, _ctx, _one, _responses, _values
from tertulia.core.scoping import get_brand

from . import services
from .metrics import unit_of
from .models import KPI, ContentPillar, Objective

router = Router()

Target = Field(..., max_digits=14, decimal_places=2, allow_inf_nan=False,
               description="The value to reach. Rates are percentages (3.5 means 3.5 %); response time is in hours.")


# --- Schemas ------------------------------------------------------------------------------

class KPIOut(Schema):
    id: int
    objective_id: int
    metric: str
    metric_label: str
    unit: str
    target: float
    lower_is_better: bool

    @staticmethod
    def resolve_metric_label(obj):
        return str(obj.get_metric_display())

    @staticmethod
    def resolve_unit(obj):
        return unit_of(obj.metric)


class KPICreate(In):
    metric: KPI.Metric
    target: Decimal = Target
    lower_is_better: bool = Field(None, description="Left out: lower is better only for response time.")


class KPIPatch(Patch):
    metric: KPI.Metric = None
    target: Decimal = Field(None, max_digits=14, decimal_places=2, allow_inf_nan=False)
    lower_is_better: bool = None


class ObjectiveOut(Schema):
    id: int
    brand_id: int
    name: str
    period_start: date
    period_end: date
    kpis: list[KPIOut]

    @staticmethod
    def resolve_kpis(obj):
        return sorted(obj.kpis.all(), key=lambda k: k.metric)


class ObjectiveCreate(In):
    name: Text(200, 1)
    period_start: date
    period_end: date
    kpis: list[KPICreate] = Field(None, max_length=len(KPI.Metric.values),
                                  description="KPI targets to create with the objective.")


class ObjectivePatch(Patch):
    name: Text(200, 1) = None
    period_start: date = None
    period_end: date = None


class PillarOut(Schema):
    id: int
    brand_id: int
    name: str
    target_share: int
    color: str


class PillarCreate(In):
    name: Text(80, 1)
    target_share: int = Field(0, ge=0, le=100, description="Percent of the posts; all pillars add up to 100 at most.")
    color: Text(7) = Field(None, description="#rrggbb")


class PillarPatch(Patch):
    name: Text(80, 1) = None
    target_share: int = Field(None, ge=0, le=100)
    color: Text(7) = None


class MixOut(Schema):
    planned: int
    remaining: int
    pillars: list[PillarOut]


# --- Objectives ---------------------------------------------------------------------------

def _objectives(request, permission=roles.VIEW):
    kpis = KPI.objects.for_user(request.user, permission)
    return Objective.objects.for_user(request.user, permission).prefetch_related(Prefetch("kpis", queryset=kpis))


@router.get("/brands/{brand_id}/objectives", response=_responses(200, list[ObjectiveOut]), tags=["strategy"])
@paginate(LimitOffsetPagination, max_limit=MAX_PAGE)
def objective_list(request, brand_id: int):
    """The brand's objectives, newest period first, each with its KPI targets."""
    brand = get_brand(request.user, brand_id)
    return _objectives(request).filter(brand=brand).order_by("-period_start", "name", "pk")


@router.post("/brands/{brand_id}/objectives", response=_responses(201, ObjectiveOut), tags=["strategy"])
def objective_create(request, brand_id: int, payload: ObjectiveCreate):
    brand = get_brand(request.user, brand_id, roles.MANAGE_BRAND)
    kpis = [(k.metric.value, k.target, k.lower_is_better) for k in payload.kpis or []]
    objective = services.do_create_objective(_ctx(request), brand, name=payload.name,
                                             period_start=payload.period_start, period_end=payload.period_end,
                                             kpis=kpis)
    return Status(201, objective)


@router.get("/brands/{brand_id}/objectives/{objective_id}", response=_responses(200, ObjectiveOut), tags=["strategy"])
def objective_get(request, brand_id: int, objective_id: int):
    brand = get_brand(request.user, brand_id)
    return _one(_objectives(request), pk=objective_id, brand=brand)


@router.patch("/brands/{brand_id}/objectives/{objective_id}", response=_responses(200, ObjectiveOut),
              tags=["strategy"])
def objective_update(request, brand_id: int, objective_id: int, payload: ObjectivePatch):
    brand = get_brand(request.user, brand_id, roles.MANAGE_BRAND)
    objective = _one(Objective.objects.for_user(request.user, roles.MANAGE_BRAND), pk=objective_id, brand=brand)
    return services.do_update_objective(_ctx(request), objective, **_values(payload))


@router.delete("/brands/{brand_id}/objectives/{objective_id}", response=_responses(204, None), tags=["strategy"])
def objective_delete(request, brand_id: int, objective_id: int):
    """Delete an objective and its KPI targets."""
    brand = get_brand(request.user, brand_id, roles.MANAGE_BRAND)
    objective = _one(Objective.objects.for_user(request.user, roles.MANAGE_BRAND).select_related("brand"),
                     pk=objective_id, brand=brand)
    services.do_delete_objective(_ctx(request), objective)
    return Status(204, None)


# --- KPI targets --------------------------------------------------------------------------

def _objective(request, brand_id: int, objective_id: int, permission: str = roles.VIEW) -> Objective:
    brand = get_brand(request.user, brand_id, permission)
    return _one(Objective.objects.for_user(request.user, permission).select_related("brand"),
                pk=objective_id, brand=brand)


def _kpi(request, objective: Objective, kpi_id: int, permission: str = roles.VIEW) -> KPI:
    return _one(KPI.objects.for_user(request.user, permission).select_related("brand", "objective"),
                pk=kpi_id, brand_id=objective.brand_id, objective=objective)


@router.get("/brands/{brand_id}/objectives/{objective_id}/kpis", response=_responses(200, list[KPIOut]),
            tags=["strategy"])
@paginate(LimitOffsetPagination, max_limit=MAX_PAGE)
def kpi_list(request, brand_id: int, objective_id: int):
    objective = _objective(request, brand_id, objective_id)
    return KPI.objects.for_user(request.user).filter(objective=objective).order_by("metric", "pk")


@router.post("/brands/{brand_id}/objectives/{objective_id}/kpis", response=_responses(201, KPIOut),
             tags=["strategy"])
def kpi_create(request, brand_id: int, objective_id: int, payload: KPICreate):
    objective = _objective(request, brand_id, objective_id, roles.MANAGE_BRAND)
    kpi = services.do_save_kpi(_ctx(request), objective, metric=payload.metric.value, target=payload.target,
                               lower_is_better=payload.lower_is_better)
    return Status(201, kpi)


@router.get("/brands/{brand_id}/objectives/{objective_id}/kpis/{kpi_id}", response=_responses(200, KPIOut),
            tags=["strategy"])
def kpi_get(request, brand_id: int, objective_id: int, kpi_id: int):
    return _kpi(request, _objective(request, brand_id, objective_id), kpi_id)


@router.patch("/brands/{brand_id}/objectives/{objective_id}/kpis/{kpi_id}", response=_responses(200, KPIOut),
              tags=["strategy"])
def kpi_update(request, brand_id: int, objective_id: int, kpi_id: int, payload: KPIPatch):
    objective = _objective(request, brand_id, objective_id, roles.MANAGE_BRAND)
    kpi = _kpi(request, objective, kpi_id, roles.MANAGE_BRAND)
    return services.do_save_kpi(_ctx(request), objective, kpi, **_values(payload))


@router.delete("/brands/{brand_id}/objectives/{objective_id}/kpis/{kpi_id}", response=_responses(204, None),
               tags=["strategy"])
def kpi_delete(request, brand_id: int, objective_id: int, kpi_id: int):
    objective = _objective(request, brand_id, objective_id, roles.MANAGE_BRAND)
    services.do_delete_kpi(_ctx(request), _kpi(request, objective, kpi_id, roles.MANAGE_BRAND))
    return Status(204, None)


# --- Content pillars ----------------------------------------------------------------------

@router.get("/brands/{brand_id}/pillars", response=_responses(200, list[PillarOut]), tags=["strategy"])
@paginate(LimitOffsetPagination, max_limit=MAX_PAGE)
def pillar_list(request, brand_id: int):
    brand = get_brand(request.user, brand_id)
    return ContentPillar.objects.for_user(request.user).filter(brand=brand).order_by("-target_share", "name", "pk")


@router.get("/brands/{brand_id}/pillar-mix", response=_responses(200, MixOut), tags=["strategy"])
def pillar_mix(request, brand_id: int):
    """The planned mix: every pillar, the share they plan together, and what is left to plan."""
    brand = get_brand(request.user, brand_id)
    pillars = list(ContentPillar.objects.for_user(request.user).filter(brand=brand).order_by("-target_share", "name"))
    planned = sum(p.target_share for p in pillars)
    return {"planned": planned, "remaining": max(0, 100 - planned), "pillars": pillars}


@router.post("/brands/{brand_id}/pillars", response=_responses(201, PillarOut), tags=["strategy"])
def pillar_create(request, brand_id: int, payload: PillarCreate):
    brand = get_brand(request.user, brand_id, roles.MANAGE_BRAND)
    return Status(201, services.do_save_pillar(_ctx(request), brand, None, **_values(payload)))


@router.get("/brands/{brand_id}/pillars/{pillar_id}", response=_responses(200, PillarOut), tags=["strategy"])
def pillar_get(request, brand_id: int, pillar_id: int):
    brand = get_brand(request.user, brand_id)
    return _one(ContentPillar.objects.for_user(request.user), pk=pillar_id, brand=brand)


@router.patch("/brands/{brand_id}/pillars/{pillar_id}", response=_responses(200, PillarOut), tags=["strategy"])
def pillar_update(request, brand_id: int, pillar_id: int, payload: PillarPatch):
    brand = get_brand(request.user, brand_id, roles.MANAGE_BRAND)
    pillar = _one(ContentPillar.objects.for_user(request.user, roles.MANAGE_BRAND), pk=pillar_id, brand=brand)
    return services.do_save_pillar(_ctx(request), brand, pillar, **_values(payload))


@router.delete("/brands/{brand_id}/pillars/{pillar_id}", response=_responses(204, None), tags=["strategy"])
def pillar_delete(request, brand_id: int, pillar_id: int):
    brand = get_brand(request.user, brand_id, roles.MANAGE_BRAND)
    pillar = _one(ContentPillar.objects.for_user(request.user, roles.MANAGE_BRAND).select_related("brand"),
                  pk=pillar_id, brand=brand)
    services.do_delete_pillar(_ctx(request), pillar)
    return Status(204, None)
