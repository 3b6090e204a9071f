"""strategy.services: objectives with KPI targets, pillars with a mix that adds up."""

from __future__ import annotations

from datetime import date

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from tertulia.core.services import Ctx
from tertulia.strategy import services
from tertulia.strategy.models import KPI


def test_objective_with_kpis(brand_a):
    brand, people = brand_a
    objective = services.do_create_objective(
        Ctx(people["manager"]), brand, name="Crecer", period_start=date(2025, 1, 1), period_end=date(2025, 6, 30),
        kpis=[("follower_growth", 12), ("response_time", "2.5")],
    )
    kpis = {k.metric: k for k in objective.kpis.all()}
    assert str(kpis["follower_growth"].target) == "12.00" and not kpis["follower_growth"].lower_is_better
    assert kpis["response_time"].lower_is_better
    with pytest.raises(ValidationError):
        services.do_create_objective(Ctx(people["manager"]), brand, name="x", period_start=date(2025, 2, 1),
                                     period_end=date(2025, 1, 1))
    with pytest.raises(ValidationError):
        services.do_create_objective(Ctx(people["manager"]), brand, name="x", period_start=date(2025, 1, 1),
                                     period_end=date(2025, 2, 1), kpis=[("happiness", 1)])
    with pytest.raises(PermissionDenied):
        services.do_create_objective(Ctx(people["community_manager"]), brand, name="x",
                                     period_start=date(2025, 1, 1), period_end=date(2025, 2, 1))
    assert KPI.objects.count() == 2


def test_pillar_shares_cannot_pass_100(brand_a):
    brand, people = brand_a
    ctx = Ctx(people["owner"])
    product = services.do_save_pillar(ctx, brand, name="Producto", target_share=60)
    services.do_save_pillar(ctx, brand, name="Comunidad", target_share=40)
    with pytest.raises(ValidationError):
        services.do_save_pillar(ctx, brand, name="Promos", target_share=1)
    services.do_save_pillar(ctx, brand, product, name="Producto", target_share=50)  # editing frees room
    services.do_save_pillar(ctx, brand, name="Promos", target_share=10)
    with pytest.raises(ValidationError):  # names are unique per brand
        services.do_save_pillar(ctx, brand, name="Promos", target_share=0)
