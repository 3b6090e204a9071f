"""strategy.services: every write checks MANAGE_BRAND, validates hostile input and is audited."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import translation

from tertulia.core import roles
from tertulia.core.models import AuditEvent
from tertulia.core.services import Ctx
from tertulia.strategy import services
from tertulia.strategy.models import KPI, ContentPillar, Objective

pytestmark = pytest.mark.django_db

ALL_ROLES = [r.value for r in roles.Role]
WRITERS = {r for r in ALL_ROLES if roles.MANAGE_BRAND in roles.ROLE_PERMISSIONS[r]}
JAN, MAR = date(2030, 1, 1), date(2030, 3, 31)


def _objective(brand, people, **kw):
    fields = {"name": "Crecer", "period_start": JAN, "period_end": MAR, **kw}
    return services.do_create_objective(Ctx(people["owner"], via="test"), brand, **fields)


def test_writers_are_exactly_owners_and_managers():
    assert WRITERS == {"owner", "manager"}


@pytest.mark.parametrize("role", ALL_ROLES)
def test_every_write_needs_manage_brand(brand_a, role):
    brand, people = brand_a
    objective = _objective(brand, people, kpis=[("ctr", 2)])
    kpi = objective.kpis.get()
    pillar = services.do_save_pillar(Ctx(people["owner"]), brand, name="Producto", target_share=40)
    ctx = Ctx(people[role])
    writes = [
        lambda: services.do_create_objective(ctx, brand, name="Otro", period_start=JAN, period_end=MAR),
        lambda: services.do_update_objective(ctx, objective, name="Renombrado"),
        lambda: services.do_save_kpi(ctx, objective, metric="roi", target=100),
        lambda: services.do_save_kpi(ctx, objective, kpi, target=3),
        lambda: services.do_save_pillar(ctx, brand, name="Comunidad", target_share=10),
        lambda: services.do_save_pillar(ctx, brand, pillar, target_share=30),
        lambda: services.do_delete_kpi(ctx, kpi),
        lambda: services.do_delete_pillar(ctx, pillar),
        lambda: services.do_delete_objective(ctx, objective),
    ]
    before = AuditEvent.objects.count()
    for write in writes:
        if role in WRITERS:
            write()
        else:
            with pytest.raises(PermissionDenied):
                write()
    if role in WRITERS:
        assert AuditEvent.objects.count() == before + len(writes)
        assert not Objective.objects.filter(pk=objective.pk).exists()
    else:
        assert AuditEvent.objects.count() == before
        assert Objective.objects.filter(pk=objective.pk, name="Crecer").exists()
        assert KPI.objects.get(pk=kpi.pk).target == Decimal("2.00")
        assert ContentPillar.objects.get(pk=pillar.pk).target_share == 40


def test_strangers_cannot_write_to_another_brand(brand_a, brand_b):
    brand, people = brand_a
    _other, other_people = brand_b
    objective = _objective(brand, people)
    stranger = Ctx(other_people["owner"])
    with pytest.raises(PermissionDenied):
        services.do_update_objective(stranger, objective, name="Mío")
    with pytest.raises(PermissionDenied):
        services.do_save_kpi(stranger, objective, metric="ctr", target=1)
    with pytest.raises(PermissionDenied):
        services.do_save_pillar(stranger, brand, name="Intruso", target_share=1)


def test_a_pillar_of_another_brand_cannot_be_edited_through_mine(brand_a, brand_b):
    brand, people = brand_a
    other, other_people = brand_b
    theirs = services.do_save_pillar(Ctx(other_people["owner"]), other, name="Suyo", target_share=10)
    with pytest.raises(PermissionDenied):
        services.do_save_pillar(Ctx(people["owner"]), brand, theirs, name="Mío", target_share=10)
    assert ContentPillar.objects.get(pk=theirs.pk).name == "Suyo"


def test_a_kpi_of_another_objective_cannot_be_edited_through_this_one(brand_a):
    brand, people = brand_a
    one = _objective(brand, people, kpis=[("ctr", 1)])
    two = _objective(brand, people, name="Otro")
    with pytest.raises(PermissionDenied):
        services.do_save_kpi(Ctx(people["owner"]), two, one.kpis.get(), target=5)


# --- Objectives --------------------------------------------------------------------------

def test_objective_lifecycle_is_audited(brand_a):
    brand, people = brand_a
    ctx = Ctx(people["manager"], via="test")
    objective = services.do_create_objective(ctx, brand, name="  Crecer en Instagram  ", period_start=JAN,
                                             period_end=MAR, kpis=[("follower_growth", 15), ("response_time", "2")])
    assert objective.name == "Crecer en Instagram"
    event = AuditEvent.objects.get(action="objective.create")
    assert event.actor == people["manager"] and event.brand == brand and event.object_id == str(objective.pk)
    assert event.changes["name"] == [None, "Crecer en Instagram"]
    assert event.changes["kpis"] == {"follower_growth": "15.00", "response_time": "2.00"}

    services.do_update_objective(ctx, objective, period_end=date(2030, 6, 30))
    event = AuditEvent.objects.get(action="objective.update")
    assert event.changes == {"period_end": ["2030-03-31", "2030-06-30"]}
    services.do_update_objective(ctx, objective, period_end=date(2030, 6, 30))  # no change, no event
    assert AuditEvent.objects.filter(action="objective.update").count() == 1

    services.do_delete_objective(ctx, objective)
    assert not KPI.objects.exists()  # the targets go with their objective
    event = AuditEvent.objects.get(action="objective.delete")
    assert event.object_repr == "Crecer en Instagram" and event.changes["kpis"]["follower_growth"] == "15.00"


@pytest.mark.parametrize("fields, field", [
    ({"name": "x" * 201}, "name"),
    ({"name": "   "}, "name"),
    ({"period_start": date(2030, 2, 1), "period_end": date(2030, 1, 31)}, "period_end"),
    ({"period_start": None}, "period_start"),
    ({"period_end": ""}, "period_end"),
    ({"period_start": "2030-13-01"}, "period_start"),
    ({"period_start": "2030-04-01"}, "period_end"),  # an ISO string is read as a date: after the end
])
def test_bad_objectives_are_refused_and_leave_nothing(brand_a, fields, field):
    brand, people = brand_a
    data = {"name": "Crecer", "period_start": JAN, "period_end": MAR, **fields}
    with pytest.raises(ValidationError) as exc:
        services.do_create_objective(Ctx(people["owner"]), brand, **data)
    assert field in exc.value.message_dict
    assert not Objective.objects.exists()
    assert not AuditEvent.objects.filter(action__startswith="objective.").exists()


def test_a_one_day_objective_is_fine(brand_a):
    brand, people = brand_a
    assert _objective(brand, people, period_start=JAN, period_end=JAN).pk


def test_update_refuses_end_before_start_and_unknown_fields(brand_a):
    brand, people = brand_a
    objective = _objective(brand, people)
    with pytest.raises(ValidationError):
        services.do_update_objective(Ctx(people["owner"]), objective, period_end=date(2029, 12, 31))
    with pytest.raises(ValidationError):
        services.do_update_objective(Ctx(people["owner"]), objective, brand=None)
    objective.refresh_from_db()
    assert objective.period_end == MAR


def test_bad_kpis_roll_back_the_whole_objective(brand_a):
    brand, people = brand_a
    for kpis in ([("happiness", 1)], [("ctr", 1), ("ctr", 2)], [("ctr", "lots")]):
        with pytest.raises(ValidationError):
            _objective(brand, people, kpis=kpis)
    assert not Objective.objects.exists() and not KPI.objects.exists()


# --- KPI targets -------------------------------------------------------------------------

def test_kpi_targets_and_their_direction(brand_a):
    brand, people = brand_a
    ctx = Ctx(people["owner"], via="test")
    objective = _objective(brand, people)
    rt = services.do_save_kpi(ctx, objective, metric="response_time", target="1,5")
    assert rt.target == Decimal("1.50") and rt.lower_is_better  # lower is better by default
    er = services.do_save_kpi(ctx, objective, metric="engagement_rate_reach", target=3)
    assert not er.lower_is_better
    visits = services.do_save_kpi(ctx, objective, metric="web_visits", target=2000, lower_is_better=True)
    assert visits.lower_is_better  # an explicit choice wins
    event = AuditEvent.objects.filter(action="kpi.create").get(object_id=str(rt.pk))
    assert event.changes["metric"] == [None, "response_time"] and event.changes["objective"] == "Crecer"
    assert event.object_repr.endswith("1.50")

    services.do_save_kpi(ctx, objective, er, target="3.456")
    er.refresh_from_db()
    assert er.target == Decimal("3.46")
    event = AuditEvent.objects.get(action="kpi.update")
    assert event.changes == {"target": ["3.00", "3.46"], "objective": "Crecer"}
    # A new metric without a direction takes that metric's usual one; a direction given wins.
    other = _objective(brand, people, name="Atender", kpis=[("ctr", 1)])
    moved = services.do_save_kpi(ctx, other, other.kpis.get(), metric="response_time")
    assert moved.lower_is_better and moved.target == Decimal("1.00")
    services.do_save_kpi(ctx, objective, er, lower_is_better=True)
    er.refresh_from_db()
    assert er.lower_is_better and er.target == Decimal("3.46")

    services.do_delete_kpi(ctx, rt)
    assert AuditEvent.objects.get(action="kpi.delete").changes == {
        "objective": "Crecer", "metric": "response_time", "target": "1.50"}


@pytest.mark.parametrize("metric, target", [
    ("happiness", 1),            # unknown metric
    ("ctr", "abc"),              # not a number
    ("ctr", "NaN"),
    ("ctr", "Infinity"),
    ("ctr", True),
    ("ctr", None),
    ("ctr", 101),                # a share of a whole cannot pass 100 %
    ("response_rate", "100.01"),
    ("share_of_voice", 150),
    ("web_visits", -1),          # counts and times are never negative
    ("response_time", "-0.5"),
    ("follower_growth", -101),   # a community cannot shrink by more than all of it
    ("roi", 10**12),             # absurdly large
    ("web_visits", "9" * 40),
])
def test_hostile_kpi_targets_are_refused(brand_a, metric, target):
    brand, people = brand_a
    objective = _objective(brand, people)
    with pytest.raises(ValidationError):
        services.do_save_kpi(Ctx(people["owner"]), objective, metric=metric, target=target)
    assert not KPI.objects.exists()
    assert not AuditEvent.objects.filter(action__startswith="kpi.").exists()


def test_growth_and_roi_may_be_negative_and_roi_above_100(brand_a):
    brand, people = brand_a
    objective = _objective(brand, people)
    ctx = Ctx(people["owner"])
    assert services.do_save_kpi(ctx, objective, metric="follower_growth", target=-5).target == Decimal("-5.00")
    assert services.do_save_kpi(ctx, objective, metric="roi", target=220).target == Decimal("220.00")


def test_one_target_per_metric_per_objective(brand_a):
    brand, people = brand_a
    objective = _objective(brand, people, kpis=[("ctr", 1)])
    other = _objective(brand, people, name="Otro", kpis=[("ctr", 1)])  # another objective may
    with pytest.raises(ValidationError) as exc:
        services.do_save_kpi(Ctx(people["owner"]), objective, metric="ctr", target=2)
    assert "metric" in exc.value.message_dict
    roi = services.do_save_kpi(Ctx(people["owner"]), objective, metric="roi", target=2)
    with pytest.raises(ValidationError):  # nor by changing an existing one's metric
        services.do_save_kpi(Ctx(people["owner"]), objective, roi, metric="ctr")
    assert other.kpis.count() == 1


# --- Pillars -----------------------------------------------------------------------------

def test_pillar_lifecycle_is_audited(brand_a):
    brand, people = brand_a
    ctx = Ctx(people["manager"], via="test")
    pillar = services.do_save_pillar(ctx, brand, name=" Educativo ", target_share=40, color="#2563EB")
    assert (pillar.name, pillar.color) == ("Educativo", "#2563eb")
    assert AuditEvent.objects.get(action="pillar.create").changes == {
        "name": [None, "Educativo"], "target_share": [None, 40], "color": [None, "#2563eb"]}
    services.do_save_pillar(ctx, brand, pillar, target_share=30)
    assert AuditEvent.objects.get(action="pillar.update").changes == {"target_share": [40, 30]}
    assert services.planned_share(brand) == 30
    services.do_delete_pillar(ctx, pillar)
    event = AuditEvent.objects.get(action="pillar.delete")
    assert event.changes == {"name": "Educativo", "target_share": 30} and event.actor == people["manager"]
    assert not ContentPillar.objects.exists()


def test_the_mix_cannot_pass_100_and_says_how_much_is_left(brand_a):
    brand, people = brand_a
    ctx = Ctx(people["owner"])
    services.do_save_pillar(ctx, brand, name="Producto", target_share=70)
    with translation.override("en"), pytest.raises(ValidationError) as exc:
        services.do_save_pillar(ctx, brand, name="Promos", target_share=31)
    assert exc.value.message_dict["target_share"] == [
        "The pillars' target shares cannot add up to more than 100%: the other pillars already plan 70%, "
        "so this one can have at most 30%."]
    with translation.override("es"), pytest.raises(ValidationError) as exc:
        services.do_save_pillar(ctx, brand, name="Promos", target_share=31)
    assert "el 70 %" in exc.value.message_dict["target_share"][0]
    services.do_save_pillar(ctx, brand, name="Promos", target_share=30)
    assert services.planned_share(brand) == 100


@pytest.mark.parametrize("fields, field", [
    ({"target_share": 101}, "target_share"),
    ({"target_share": -1}, "target_share"),
    ({"target_share": "many"}, "target_share"),
    ({"name": "p" * 81}, "name"),
    ({"name": ""}, "name"),
    ({"name": None}, "name"),
    ({"color": "red"}, "color"),
    ({"color": "#12345g"}, "color"),
    ({"color": "#123456\"><script>"}, "color"),
])
def test_hostile_pillars_are_refused(brand_a, fields, field):
    brand, people = brand_a
    data = {"name": "Producto", "target_share": 10, "color": "#123456", **fields}
    with pytest.raises(ValidationError) as exc:
        services.do_save_pillar(Ctx(people["owner"]), brand, **data)
    assert field in exc.value.message_dict
    assert not ContentPillar.objects.exists()
    assert not AuditEvent.objects.filter(action__startswith="pillar.").exists()


def test_pillar_names_are_unique_per_brand_only(brand_a, brand_b):
    brand, people = brand_a
    other, other_people = brand_b
    services.do_save_pillar(Ctx(people["owner"]), brand, name="Comunidad", target_share=10)
    services.do_save_pillar(Ctx(other_people["owner"]), other, name="Comunidad", target_share=10)
    with pytest.raises(ValidationError):
        services.do_save_pillar(Ctx(people["owner"]), brand, name="Comunidad", target_share=0)
    assert ContentPillar.objects.count() == 2


def test_the_demo_generator_calls_still_work(brand_a):
    brand, people = brand_a
    owner = Ctx(people["owner"], via="cli")
    pillar = services.do_save_pillar(owner, brand, name="Producto y temporada", target_share=35, color="#b45309")
    objective = services.do_create_objective(owner, brand, name="Crecer", period_start=JAN, period_end=MAR,
                                             kpis=[("follower_growth", 12), ("engagement_rate_reach", "4.5")])
    assert pillar.color == "#b45309" and objective.kpis.count() == 2
