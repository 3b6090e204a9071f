"""What the triage models learn per brand from the team's corrections."""

from django.db import models
from django.utils import timezone

from tertulia.core.models import Brand, BrandScopedModel


class BrandLayer(BrandScopedModel):
    """A brand's small online layer on top of a shared model (one per task), stored as bytes."""

    brand = models.ForeignKey(Brand, on_delete=models.CASCADE, related_name="+", db_index=False)
    task = models.CharField(max_length=16)  # sentiment | intent | toxic
    state = models.BinaryField()
    updates = models.PositiveIntegerField(default=0)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["brand", "task"], name="uniq_brand_layer")]
