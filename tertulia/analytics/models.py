"""Metric snapshots over time. A metric the network does not expose is NULL, never 0."""

from django.db import models
from django.utils import timezone

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


class PostMetricLatest(BrandScopedModel):
    """The newest sample of each published target, kept beside the history so that dashboards
    read one row per post instead of scanning every snapshot. Maintained by
    ``services.record_post_metrics``: a late sample (older than the one kept) never replaces it.
    The post's dimensions are copied here (network, pillar, format, publication hour) because
    the dashboard groups by them."""

    brand = models.ForeignKey(Brand, on_delete=models.CASCADE, related_name="+", db_index=False)
    target = models.OneToOneField(PostTarget, on_delete=models.CASCADE, related_name="latest_metrics")
    account = models.ForeignKey(SocialAccount, on_delete=models.CASCADE, related_name="+", db_index=False)
    network = models.CharField(max_length=16)
    pillar_id = models.IntegerField(null=True, blank=True)  # ContentPillar id, no FK: a deleted pillar keeps history
    format = models.CharField(max_length=16, blank=True)
    published_at = models.DateTimeField()
    taken_at = models.DateTimeField()
    impressions = models.PositiveIntegerField(null=True)
    reach = models.PositiveIntegerField(null=True)
    likes = models.PositiveIntegerField(null=True)
    comments = models.PositiveIntegerField(null=True)
    shares = models.PositiveIntegerField(null=True)
    saves = models.PositiveIntegerField(null=True)
    clicks = models.PositiveIntegerField(null=True)
    video_views = models.PositiveIntegerField(null=True)

    class Meta:
        indexes = [models.Index(fields=["brand", "published_at"], name="analytics_latest_brand_pub")]


class MetricsSync(models.Model):
    """When to read an account's profile and post metrics next (adaptive interval, like
    ``inbox.InboxSync``)."""

    account = models.OneToOneField(SocialAccount, on_delete=models.CASCADE, related_name="metrics_sync")
    next_run_at = models.DateTimeField(default=timezone.now, db_index=True)
    interval_seconds = models.PositiveIntegerField(default=6 * 3600)
    last_run_at = models.DateTimeField(null=True, blank=True)
    failures = models.PositiveSmallIntegerField(default=0)
    last_error = models.CharField(max_length=500, blank=True)
    lease_until = models.DateTimeField(null=True, blank=True)
    # Metrics the network stopped giving (deprecated), with when we noticed: shown as missing
    # from then on, and explained on the dashboard.
    missing_metrics = models.JSONField(default=dict, blank=True)
    # The profile as last read (display_name, bio, url, avatar_url, cover_url, fields, read_at):
    # the quarterly audit checks its completeness without calling the network again.
    profile = models.JSONField(default=dict, blank=True)


class WebTraffic(BrandScopedModel):
    """One day of website visits for one UTM source/medium/campaign, imported from a web
    analytics export (GA4, Matomo, Plausible). A figure the export does not have is NULL."""

    class Origin(models.TextChoices):
        GA4 = "ga4", "Google Analytics 4"
        MATOMO = "matomo", "Matomo"
        PLAUSIBLE = "plausible", "Plausible"

    brand = models.ForeignKey(Brand, on_delete=models.CASCADE, related_name="+", db_index=False)
    origin = models.CharField(max_length=16, choices=Origin.choices)
    day = models.DateField()
    source = models.CharField(max_length=100, blank=True)
    medium = models.CharField(max_length=100, blank=True)
    campaign = models.CharField(max_length=100, blank=True)
    sessions = models.PositiveIntegerField(null=True)
    users = models.PositiveIntegerField(null=True)
    pageviews = models.PositiveIntegerField(null=True)
    conversions = models.PositiveIntegerField(null=True)
    revenue = models.DecimalField(max_digits=14, decimal_places=2, null=True)
    imported_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["brand", "origin", "day", "source", "medium", "campaign"],
                                               name="uniq_web_traffic_row")]
        indexes = [models.Index(fields=["brand", "day"], name="analytics_web_brand_day")]


class CampaignConversion(BrandScopedModel):
    """Conversions of one campaign on one day, imported from CSV (re-importing a day replaces it)."""

    brand = models.ForeignKey(Brand, on_delete=models.CASCADE, related_name="+", db_index=False)
    campaign = models.ForeignKey("content.Campaign", on_delete=models.CASCADE, related_name="conversions")
    day = models.DateField()
    conversions = models.PositiveIntegerField()
    value = models.DecimalField(max_digits=14, decimal_places=2, null=True)
    imported_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["campaign", "day"], name="uniq_campaign_conversion_day")]
