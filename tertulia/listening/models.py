"""Competitors tracked per brand, and their public numbers over time."""

from django.db import models
from django.utils.translation import gettext_lazy as _

from tertulia.core.models import Brand, BrandScopedModel
from tertulia.networks.models import Network


class Competitor(BrandScopedModel):
    brand = models.ForeignKey(Brand, on_delete=models.CASCADE, related_name="competitors")
    name = models.CharField(_("name"), max_length=200)
    website = models.URLField(blank=True)

    class Meta:
        verbose_name = _("competitor")
        ordering = ["name"]
        constraints = [models.UniqueConstraint(fields=["brand", "name"], name="uniq_competitor")]

    def __str__(self) -> str:
        return self.name


class CompetitorAccount(BrandScopedModel):
    brand = models.ForeignKey(Brand, on_delete=models.CASCADE, related_name="+")
    competitor = models.ForeignKey(Competitor, on_delete=models.CASCADE, related_name="accounts")
    network = models.CharField(max_length=16, choices=Network.choices)
    handle = models.CharField(max_length=200)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["competitor", "network", "handle"], name="uniq_competitor_account")
        ]

    def __str__(self) -> str:
        return f"{self.get_network_display()} {self.handle}"


class CompetitorSnapshot(BrandScopedModel):
    brand = models.ForeignKey(Brand, on_delete=models.CASCADE, related_name="+")
    account = models.ForeignKey(CompetitorAccount, on_delete=models.CASCADE, related_name="snapshots")
    taken_at = models.DateTimeField(db_index=True)
    followers = models.PositiveIntegerField(null=True)
    posts = models.PositiveIntegerField(null=True)
    avg_engagement = models.FloatField(null=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["account", "taken_at"], name="uniq_competitor_snapshot")]
