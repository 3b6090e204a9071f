"""What each KPI metric means, for the pages and the API: its unit, whether lower is better
by default, and its formula in words.

The formulas are the ones computed in ``tertulia.analytics.kpis`` (its docstring is the
reference); keep the two in step.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from .models import KPI

PERCENT, HOURS, COUNT = "%", "h", ""


@dataclass(frozen=True)
class MetricInfo:
    metric: str
    unit: str
    formula: str | Promise

    @property
    def label(self):
        return KPI.Metric(self.metric).label


METRICS: dict[str, MetricInfo] = {m.metric: m for m in [
    MetricInfo(KPI.Metric.FOLLOWER_GROWTH, PERCENT,
               _("(followers at the end − followers at the start) / followers at the start × 100")),
    MetricInfo(KPI.Metric.ENGAGEMENT_RATE_REACH, PERCENT, _("(likes + comments + shares + saves) / reach × 100")),
    MetricInfo(KPI.Metric.ENGAGEMENT_RATE_FOLLOWERS, PERCENT,
               _("(likes + comments + shares + saves) / followers × 100")),
    MetricInfo(KPI.Metric.WEB_VISITS, COUNT,
               _("visits to the website that arrive from social networks (tagged and short links) during the period")),
    MetricInfo(KPI.Metric.CTR, PERCENT, _("clicks / impressions × 100")),
    MetricInfo(KPI.Metric.RESPONSE_RATE, PERCENT, _("conversations answered / conversations received × 100")),
    MetricInfo(KPI.Metric.RESPONSE_TIME, HOURS, _("median of (first reply − first inbound message), in hours")),
    MetricInfo(KPI.Metric.SHARE_OF_VOICE, PERCENT, _("brand mentions / (brand + competitor mentions) × 100")),
    MetricInfo(KPI.Metric.ROI, PERCENT, _("(value − cost) / cost × 100")),
]}


def unit_of(metric: str) -> str:
    info = METRICS.get(metric)
    return info.unit if info else ""
