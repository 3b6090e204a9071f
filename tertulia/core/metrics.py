"""Prometheus metrics (``/metrics``), in the text exposition format, written by hand.

``prometheus_client`` would keep counters in each process's memory, which is wrong for us twice
over: with N web processes each would report its own numbers, and what matters happens in the
consumers, not in the web process being scraped. Here every figure is read from the database
(the truth, DESIGN.md §3) or from Huey's queue, so any web process gives the same answer.

Aggregates only, and no tenant names: labels are a network, a state or a kind, never a brand,
an account or a person. Each family is one SQL query, chosen to be cheap on a big database:

* the queue: Redis LLEN and ZCARD (or two counts on the SQLite queue file);
* publish targets by network and state: one GROUP BY over the targets table joined to the
  (small) accounts table. Never a scan of the interactions;
* the oldest due target still not sent: the (state, due_at) index, walked from its start;
* poll lag: for inbox polling, metrics collection, listening sources and report schedules, the
  oldest row that is due and not leased, by exactly the pollers' own definition of "due"
  (their ``_due`` querysets), on the next-due index of each (small: one row per account,
  source or schedule), in one UNION ALL;
* SLA breaches: open conversations past their first-response or resolution due time, one pass
  over conversations (never interactions) with two filtered counts;
* report e-mails that failed: the reports table (a few rows per brand and week).

A figure that cannot be read (the queue is down) is left out and its ``*_up`` gauge says 0;
the rest of the page is still served, so one broken backend does not blind the dashboard.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

from django.db.models import CharField, Count, F, Min, Q, Value
from django.utils import timezone

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


# --- The exposition format ---------------------------------------------------------------------

def escape_label(value: str) -> str:
    """A label value: backslash, double quote and line feed escaped (exposition format 0.0.4)."""
    return str(value).replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def escape_help(value: str) -> str:
    return str(value).replace("\\", "\\\\").replace("\n", "\\n")


def format_value(value: float) -> str:
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, int):
        return str(value)
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return repr(float(value))


@dataclass
class Family:
    name: str
    kind: str  # gauge, counter
    help: str
    samples: list[tuple[dict[str, str], float]] = field(default_factory=list)

    def add(self, value: float, **labels: str) -> "Family":
        self.samples.append((labels, value))
        return self

    def render(self) -> str:
        lines = [f"# HELP {self.name} {escape_help(self.help)}", f"# TYPE {self.name} {self.kind}"]
        for labels, value in self.samples:
            if labels:
                inner = ",".join(f'{key}="{escape_label(val)}"' for key, val in sorted(labels.items()))
                lines.append(f"{self.name}{{{inner}}} {format_value(value)}")
            else:
                lines.append(f"{self.name} {format_value(value)}")
        return "\n".join(lines) + "\n"


def render(families: Iterable[Family]) -> str:
    return "".join(family.render() for family in families)


# --- The figures -----------------------------------------------------------------------------

def _seconds_since(moment: datetime | None, now: datetime) -> float:
    return max(0.0, (now - moment).total_seconds()) if moment is not None else 0.0


def queue_families(huey=None) -> list[Family]:
    """Pending and scheduled Huey tasks, read with the readiness checks' deadline."""
    from . import health

    if huey is None:
        from huey.contrib.djhuey import HUEY as huey
    counts: dict[str, int] = {}

    def read() -> None:
        counts["pending"] = int(huey.pending_count())
        counts["scheduled"] = int(huey.scheduled_count())

    (result,) = health.run_checks({"queue_depth": read})
    up = Family("tertulia_queue_up", "gauge", "1 when Huey's queue storage answered this scrape, else 0.")
    up.add(1 if result.ok else 0)
    families = [up]
    if result.ok:
        families.append(Family("tertulia_queue_pending_tasks", "gauge",
                               "Huey tasks waiting for a consumer (ready to run now).").add(counts["pending"]))
        families.append(Family("tertulia_queue_scheduled_tasks", "gauge",
                               "Huey tasks scheduled for later (ETA or retry delay).").add(counts["scheduled"]))
    return families


def publish_target_family() -> Family:
    from tertulia.publishing.models import PostTarget

    family = Family("tertulia_publish_targets", "gauge",
                    "Post targets (a post on one account) by network and delivery state; "
                    "published and failed are the totals delivered and given up.")
    rows = (PostTarget.objects.order_by().values("account__network", "state")
            .annotate(n=Count("pk")).values_list("account__network", "state", "n"))
    seen = set()
    for network, state, n in rows:
        family.add(n, network=network, state=state)
        seen.add((network, state))
    # The two outcomes a dashboard alerts on are always present, at 0 when nothing happened yet
    # (an absent series cannot be compared with a threshold).
    for network in sorted({network for network, _state in seen}):
        for state in (PostTarget.State.PUBLISHED, PostTarget.State.FAILED):
            if (network, state) not in seen:
                family.add(0, network=network, state=str(state))
    return family


def publish_lag_family(now: datetime) -> Family:
    from tertulia.publishing.engine import due_targets

    oldest = due_targets(now).order_by().aggregate(oldest=Min("due_at"))["oldest"]
    return Family("tertulia_publish_lag_seconds", "gauge",
                  "Seconds since the oldest post target that is due (and not paused or rate-limited) "
                  "was due; 0 when none is waiting.").add(_seconds_since(oldest, now))


POLL_KINDS = ("inbox", "metrics", "listening", "reports")


def _oldest(qs, column: str, kind: str):
    return (qs.order_by().annotate(lag_kind=Value(kind, output_field=CharField())).values("lag_kind")
            .annotate(oldest=Min(F(column))).values_list("lag_kind", "oldest"))


def poll_lag_family(now: datetime) -> Family:
    from tertulia.analytics import collect
    from tertulia.inbox import polling
    from tertulia.listening import sources
    from tertulia.reports.models import ReportSchedule

    reports_due = ReportSchedule.objects.filter(active=True, next_run_at__lte=now, brand__deleted_at__isnull=True,
                                                brand__organization__is_demo=False)
    parts = [_oldest(polling._due(now), "next_poll_at", "inbox"),
             _oldest(collect._due(now), "next_run_at", "metrics"),
             _oldest(sources._due(now), "next_poll_at", "listening"),
             _oldest(reports_due, "next_run_at", "reports")]
    found = dict(parts[0].union(*parts[1:], all=True))
    family = Family("tertulia_poll_lag_seconds", "gauge",
                    "Per kind of periodic work, seconds since the oldest due item that no consumer has "
                    "taken yet was due (inbox polling, metrics collection, listening sources, report "
                    "schedules); 0 when nothing is waiting.")
    for kind in POLL_KINDS:
        family.add(_seconds_since(found.get(kind), now), kind=kind)
    return family


def sla_family(now: datetime) -> Family:
    from tertulia.inbox.models import Conversation

    from .models import Brand

    S = Conversation.Status
    # The brands' own manager: the demo workspace and brands deleted (in their grace period) owe nobody.
    live = Brand.objects.filter(organization__is_demo=False).values("pk")
    counts = (Conversation.objects.filter(status__in=(S.OPEN, S.PENDING), brand__in=live)
              .filter(Q(first_response_due_at__lte=now) | Q(resolution_due_at__lte=now))
              .aggregate(first_response=Count("pk", filter=Q(status=S.OPEN, first_response_at__isnull=True,
                                                               first_response_due_at__lte=now)),
                         resolution=Count("pk", filter=Q(resolution_due_at__lte=now))))
    family = Family("tertulia_sla_breached_conversations", "gauge",
                    "Conversations still waiting past their service target: a first answer "
                    "(target=first_response) or a resolution (target=resolution).")
    family.add(counts["first_response"], target="first_response")
    family.add(counts["resolution"], target="resolution")
    return family


def report_delivery_family() -> Family:
    from tertulia.reports.models import Report
    from tertulia.reports.services import MAX_SEND_ATTEMPTS

    counts = (Report.objects.filter(schedule__isnull=False, sent_at__isnull=True, send_attempts__gte=1)
              .exclude(send_error=[])
              .aggregate(retrying=Count("pk", filter=Q(send_attempts__lt=MAX_SEND_ATTEMPTS)),
                         gave_up=Count("pk", filter=Q(send_attempts__gte=MAX_SEND_ATTEMPTS))))
    family = Family("tertulia_report_deliveries_failed", "gauge",
                    "Scheduled report e-mails whose last attempt failed: still to be retried "
                    "(final=false) or given up (final=true).")
    family.add(counts["retrying"], final="false")
    family.add(counts["gave_up"], final="true")
    return family


def collect(now: datetime | None = None) -> list[Family]:
    started = time.monotonic()
    now = now or timezone.now()
    families = queue_families()
    families += [publish_target_family(), publish_lag_family(now), poll_lag_family(now), sla_family(now),
                 report_delivery_family()]
    families.append(Family("tertulia_metrics_scrape_seconds", "gauge",
                           "How long this page took to compute.").add(round(time.monotonic() - started, 6)))
    return families


def exposition(now: datetime | None = None) -> str:
    return render(collect(now))
