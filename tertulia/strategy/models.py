"""Objectives with KPI targets, and content pillars with a target mix."""

from django.db import models
from django.utils.translation import gettext_lazy as _

from tertulia.core.models import Brand, BrandScopedModel


class Objective(BrandScopedModel):
    brand = models.ForeignKey(Brand, on_delete=models.CASCADE, related_name="objectives")
    name = models.CharField(_("name"), max_length=200)
    period_start = models.DateField(_("from"))
    period_end = models.DateField(_("to"))

    class Meta:
        verbose_name = _("objective")
        ordering = ["-period_start"]

    def __str__(self) -> str:
        return self.name


class KPI(BrandScopedModel):
    """A target for one metric over the objective's period. Formulas: docs in analytics."""

    class Metric(models.TextChoices):
        FOLLOWER_GROWTH = "follower_growth", _("Community growth (%)")
        ENGAGEMENT_RATE_REACH = "engagement_rate_reach", _("Engagement rate by reach (%)")
        ENGAGEMENT_RATE_FOLLOWERS = "engagement_rate_followers", _("Engagement rate by followers (%)")
        WEB_VISITS = "web_visits", _("Web visits from social")
        CTR = "ctr", _("Click-through rate (%)")
        RESPONSE_RATE = "response_rate", _("Response rate (%)")
        RESPONSE_TIME = "response_time", _("Median response time (hours)")
        SHARE_OF_VOICE = "share_of_voice", _("Share of voice (%)")
        ROI = "roi", _("Return on investment (%)")

    brand = models.ForeignKey(Brand, on_delete=models.CASCADE, related_name="kpis")
    objective = models.ForeignKey(Objective, on_delete=models.CASCADE, related_name="kpis")
    metric = models.CharField(_("metric"), max_length=32, choices=Metric.choices)
    target = models.DecimalField(_("target"), max_digits=14, decimal_places=2)
    lower_is_better = models.BooleanField(default=False)

    class Meta:
        verbose_name = _("KPI")

    def __str__(self) -> str:
        return f"{self.get_metric_display()}: {self.target}"


class ContentPillar(BrandScopedModel):
    brand = models.ForeignKey(Brand, on_delete=models.CASCADE, related_name="pillars")
    name = models.CharField(_("name"), max_length=80)
    target_share = models.PositiveSmallIntegerField(_("target share (%)"), default=0)
    color = models.CharField(max_length=7, default="#6b7280")

    class Meta:
        verbose_name = _("content pillar")
        ordering = ["-target_share", "name"]
        constraints = [models.UniqueConstraint(fields=["brand", "name"], name="uniq_pillar")]

    def __str__(self) -> str:
        return self.name


class CadencePlan(BrandScopedModel):
    """How a brand runs the CM's recurring work: which of the cadence's tasks it keeps, on
    which weekday the weekly ones fall, and when reminders go out (brand time zone)."""

    brand = models.OneToOneField(Brand, on_delete=models.CASCADE, related_name="cadence_plan")
    disabled_kinds = models.JSONField(default=list, blank=True)
    report_weekday = models.PositiveSmallIntegerField(_("weekly report day"), default=0)  # Monday
    planning_weekday = models.PositiveSmallIntegerField(_("weekly planning day"), default=4)  # Friday
    reminder_hour = models.PositiveSmallIntegerField(_("reminder time"), default=9)


class CadenceTask(BrandScopedModel):
    """One occurrence of a recurring strategic or tactical task (the weekly report, the
    quarterly audit…), due on a day of the brand's calendar. Created ahead by
    ``strategy.cadence.ensure_tasks``; one per brand, kind and due day."""

    brand = models.ForeignKey(Brand, on_delete=models.CASCADE, related_name="cadence_tasks", db_index=False)
    kind = models.CharField(max_length=32)
    due_on = models.DateField()
    # The period the task is about (the week to report on, the quarter to audit), brand dates.
    period_start = models.DateField()
    period_end = models.DateField()
    done_at = models.DateTimeField(null=True, blank=True)
    done_by = models.ForeignKey("core.User", on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    reminded_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["due_on", "kind"]
        constraints = [models.UniqueConstraint(fields=["brand", "kind", "due_on"], name="uniq_cadence_task")]
        indexes = [models.Index(fields=["brand", "done_at", "due_on"], name="strategy_cadence_open")]
