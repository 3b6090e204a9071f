"""Metric snapshots over time. A metric the network does not expose is NULL, never 0."""

from django.db import models

from tertulia.core.models import Brand, BrandScopedModel
from tertulia.networks.models import SocialAccount
from tertulia.publishing.models import PostTarget


class ProfileSnapshot(BrandScopedModel):
    brand = models.ForeignKey(Brand, on_delete=models.CASCADE, related_name="+")
    account = models.ForeignKey(SocialAccount, on_delete=models.CASCADE, related_name="profile_snapshots")
    taken_at = models.DateTimeField(db_index=True)
    followers = models.PositiveIntegerField(null=True)
    following = models.PositiveIntegerField(null=True)
    posts = models.PositiveIntegerField(null=True)

    class Meta:
        # One sample per account and instant: re-recording the same poll is a no-op.
        constraints = [models.UniqueConstraint(fields=["account", "taken_at"], name="uniq_profile_snapshot")]


class PostMetricSnapshot(BrandScopedModel):
    brand = models.ForeignKey(Brand, on_delete=models.CASCADE, related_name="+")
    target = models.ForeignKey(PostTarget, on_delete=models.CASCADE, related_name="metric_snapshots")
    taken_at = models.DateTimeField(db_index=True)
    impressions = models.PositiveIntegerField(null=True)
    reach = models.PositiveIntegerField(null=True)
    likes = models.PositiveIntegerField(null=True)
    comments = models.PositiveIntegerField(null=True)
    shares = models.PositiveIntegerField(null=True)
    saves = models.PositiveIntegerField(null=True)
    clicks = models.PositiveIntegerField(null=True)
    video_views = models.PositiveIntegerField(null=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["target", "taken_at"], name="uniq_post_metric_snapshot")]
