"""ROI per campaign: entered cost/value, imported conversions, and the import's hostile rows."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import translation

from tertulia.analytics import roi
from tertulia.analytics.models import CampaignConversion
from tertulia.content.services import do_create_campaign
from tertulia.core.services import Ctx


@pytest.fixture(autouse=True)
def english():
    """Messages are checked in English (the default language of the project is Spanish)."""
    with translation.override("en"):
        yield

pytestmark = pytest.mark.django_db


@pytest.fixture
def setup(brand_a, brand_b):
    brand, people = brand_a
    ctx = Ctx(people["community_manager"], via="test")
    spring = do_create_campaign(ctx, brand, name="Primavera 2025", utm_campaign="primavera",
                                starts_on=date(2025, 3, 1), ends_on=date(2025, 3, 31),
                                cost=Decimal("200.00"), value=Decimal("500.00"))
    summer = do_create_campaign(ctx, brand, name="Verano", starts_on=date(2025, 6, 1), cost=Decimal("100"))
    bare = do_create_campaign(ctx, brand, name="Sin datos")
    other_brand, other_people = brand_b
    foreign = do_create_campaign(Ctx(other_people["owner"]), other_brand, name="Ajena", utm_campaign="ajena")
    return ctx, brand, spring, summer, bare, foreign


CSV = (
    "campaign;date;conversions;value\n"
    "primavera;2025-03-02;3;30,00\n"
    "Primavera 2025;2025-03-03;2;\n"
    "VERANO;20250602;4;150.50\n"
    "verano;20250603;1;\n"
    "ajena;2025-03-02;9;99\n"  # another brand's campaign: not found
    "=HYPERLINK(\"http://x\");2025-03-02;1;1\n"
    "primavera;2025-13-02;1;1\n"
    "primavera;2025-03-04;-1;1\n"
    ";2025-03-04;1;1\n"
)


def test_import_and_roi(setup):
    ctx, brand, spring, summer, bare, foreign = setup
    result = roi.do_import_conversions(ctx, brand, CSV.encode())
    assert (result.stored, result.updated) == (4, 0)
    assert [line for line, _ in result.bad_rows] == [6, 7, 8, 9, 10]
    assert not CampaignConversion.objects.filter(campaign=foreign).exists()
    again = roi.do_import_conversions(ctx, brand, CSV.encode())
    assert (again.stored, again.updated, again.unchanged) == (0, 0, 4)

    rows = {r.campaign.pk: r for r in roi.campaigns([brand.pk])}
    assert set(rows) == {spring.pk, summer.pk, bare.pk}
    s = rows[spring.pk]
    assert (s.value, s.value_source, s.conversions) == (Decimal("500.00"), "entered", 5)
    assert s.roi == pytest.approx(150.0)  # (500 − 200) / 200
    v = rows[summer.pk]
    assert (v.value, v.value_source, v.conversions) == (Decimal("150.50"), "imported", 5)
    assert v.roi == pytest.approx(50.5)
    b = rows[bare.pk]
    assert (b.cost, b.value, b.value_source, b.conversions, b.roi) == (None, None, None, None, None)

    # A range: only campaigns running then, and conversions of those days.
    march = roi.campaigns([brand.pk], datetime(2025, 3, 3, tzinfo=UTC), datetime(2025, 4, 1, tzinfo=UTC))
    by_pk = {r.campaign.pk: r for r in march}
    assert summer.pk not in by_pk and bare.pk in by_pk
    assert by_pk[spring.pk].conversions == 2


def test_import_refuses_bad_files_and_roles(setup, brand_a):
    ctx, brand, *_ = setup
    with pytest.raises(ValidationError, match="conversions"):
        roi.do_import_conversions(ctx, brand, b"campaign,date\nprimavera,2025-03-01\n")
    with pytest.raises(ValidationError):
        roi.do_import_conversions(ctx, brand, bytes(range(256)) * 10)
    with pytest.raises(PermissionDenied):
        roi.do_import_conversions(Ctx(brand_a[1]["analyst"]), brand, CSV.encode())


def test_set_campaign_money(setup, brand_a):
    ctx, brand, spring, *_ = setup
    roi.do_set_campaign_money(ctx, spring, cost=Decimal("50"), value=None)
    spring.refresh_from_db()
    assert (spring.cost, spring.value) == (Decimal("50.00"), None)
    for bad in (Decimal("-1"), Decimal("10000000000"), Decimal("1.001")):
        with pytest.raises(ValidationError):
            roi.do_set_campaign_money(ctx, spring, cost=bad, value=None)
    with pytest.raises(PermissionDenied):
        roi.do_set_campaign_money(Ctx(brand_a[1]["analyst"]), spring, cost=None, value=None)
