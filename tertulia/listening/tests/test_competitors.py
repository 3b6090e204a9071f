"""listening.services: competitors, their accounts and snapshots."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.core.exceptions import PermissionDenied

from tertulia.core.services import Ctx
from tertulia.listening import competitors as services
from tertulia.listening.models import CompetitorSnapshot


def test_competitor_accounts_and_idempotent_snapshots(brand_a):
    brand, people = brand_a
    comp = services.do_add_competitor(Ctx(people["owner"]), brand, name="Molienda", website="https://m.example",
                                      accounts=[("instagram", "molienda"), ("x", "molienda")])
    assert comp.accounts.count() == 2
    account = comp.accounts.get(network="x")
    t0 = datetime(2025, 1, 6, tzinfo=UTC)
    samples = [services.CompetitorSample(t0 + timedelta(days=7 * w), followers=1000 + w, posts=None,
                                         avg_engagement=None) for w in range(4)]
    assert services.record_competitor_snapshots(account, samples) == 4
    assert services.record_competitor_snapshots(account, samples) == 0
    assert CompetitorSnapshot.objects.filter(avg_engagement__isnull=True).count() == 4
    with pytest.raises(PermissionDenied):
        services.do_add_competitor(Ctx(people["analyst"]), brand, name="Otro")
