"""Service targets: when the team owes a first answer and a resolution, breach alerts, metrics.

- When the customer speaks and the conversation is open, ingest sets ``first_response_due_at``
  (only if the brand never answered) and ``resolution_due_at`` (only if none is running), from
  the brand's ``InboxSettings`` (defaults when it has none). See ``triage.update_conversations``:
  the due times are written in the same UPDATE as the triage.
- The brand's answer (an outbound interaction, ours or one the network shows us) sets
  ``first_response_at`` (ingest): the first-response timer stops. Closing clears
  ``resolution_due_at``: the resolution timer stops, and a new message starts a new one.
- ``check()`` (every minute) tells someone, once, about each conversation past a target:
  the assignee, else the brand's owners, managers and community managers.
- ``metrics(brand, start, end)`` feeds analytics.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from tertulia.core import notes, notifications

from .models import Conversation, InboxSettings

S = Conversation.Status

# Above this many breaches for one person in one check, they get one summary instead of one
# notification each (a backfill of old messages must not send a hundred e-mails).
SUMMARY_FROM = 4
CHECK_LIMIT = 2000

MSG_FIRST_RESPONSE = _("%(author)s has been waiting for a first answer on %(network)s since %(since)s "
                       "(target: %(minutes)s minutes).")
MSG_RESOLUTION = _("The conversation with %(author)s on %(network)s is past its resolution target "
                   "(%(minutes)s minutes).")
MSG_SUMMARY = _("%(count)s conversations of %(brand)s are past their service targets.")


@dataclass(frozen=True)
class Targets:
    first_response: timedelta
    resolution: timedelta
    escalation_urgency: int
    escalation_emails: tuple[str, ...]


def settings_for(brand_id: int) -> InboxSettings:
    """The brand's settings, or the defaults (unsaved) when it has none."""
    found = InboxSettings.objects.filter(brand_id=brand_id).first()
    return found if found is not None else InboxSettings(brand_id=brand_id)


def targets(brand_id: int) -> Targets:
    s = settings_for(brand_id)
    emails = tuple(e.strip() for e in (s.escalation_emails or "").splitlines() if "@" in e.strip())
    return Targets(timedelta(minutes=s.first_response_minutes), timedelta(minutes=s.resolution_minutes),
                   s.escalation_urgency, emails)


def conversation_link(conversation) -> str:
    return f"/brands/{conversation.brand_id}/inbox/{conversation.pk}/"


def watchers(brand_id: int):
    """Who hears about a conversation nobody is assigned to: the brand's owners, managers and
    community managers."""
    from tertulia.core.models import Membership, User

    ids = Membership.objects.filter(brand_id=brand_id, role__in=("owner", "manager", "community_manager")) \
        .values("user_id")
    return list(User.objects.filter(pk__in=ids, is_active=True).order_by("pk"))


def _recipients(conversation, cache: dict) -> list:
    if conversation.assignee_id is not None and conversation.assignee is not None \
            and conversation.assignee.is_active:
        return [conversation.assignee]
    if conversation.brand_id not in cache:
        cache[conversation.brand_id] = watchers(conversation.brand_id)
    return cache[conversation.brand_id]


def _first_response_late(now):
    return Q(status=S.OPEN, first_response_at__isnull=True, first_response_due_at__lte=now) & (
        Q(breach_notified_at__isnull=True) | Q(breach_notified_at__lt=F("first_response_due_at")))


def _resolution_late(now):
    return Q(status__in=(S.OPEN, S.PENDING), resolution_due_at__lte=now) & (
        Q(breach_notified_at__isnull=True) | Q(breach_notified_at__lt=F("resolution_due_at")))


def _cached_targets(cache: dict, brand_id: int) -> Targets:
    if brand_id not in cache:
        cache[brand_id] = targets(brand_id)
    return cache[brand_id]


def check(now: datetime | None = None) -> dict:
    """Notify once per breach. A conversation is claimed with a conditional UPDATE of
    ``breach_notified_at`` (two checkers at once: one notifies)."""
    now = now or timezone.now()
    late = list(
        Conversation.objects.filter(_first_response_late(now) | _resolution_late(now), brand__deleted_at__isnull=True)
        .select_related("brand", "author", "account", "assignee").order_by("pk")[:CHECK_LIMIT]
    )
    with transaction.atomic():  # claims and notifications commit together
        cache: dict = {}
        brand_targets: dict[int, Targets] = {}
        pending: dict[tuple[int, int], list] = defaultdict(list)  # (brand, user) -> [(conv, note)]
        claimed = 0
        for conv in late:
            due = conv.first_response_due_at
            # The same test as _first_response_late: once its alert went out, the row is here
            # for the resolution breach.
            first = (conv.status == S.OPEN and conv.first_response_at is None and due is not None and due <= now
                     and (conv.breach_notified_at is None or conv.breach_notified_at < due))
            if first:
                condition = _first_response_late(now)
                targets_ = _cached_targets(brand_targets, conv.brand_id)
                since = timezone.localtime(due - targets_.first_response, conv.brand.tzinfo)
                message = notes.note(MSG_FIRST_RESPONSE, author=conv.author.handle,
                                     network=conv.account.get_network_display(),
                                     since=since.strftime("%Y-%m-%d %H:%M"),
                                     minutes=int(targets_.first_response.total_seconds() // 60))
            else:
                condition = _resolution_late(now)
                targets_ = _cached_targets(brand_targets, conv.brand_id)
                message = notes.note(MSG_RESOLUTION, author=conv.author.handle,
                                     network=conv.account.get_network_display(),
                                     minutes=int(targets_.resolution.total_seconds() // 60))
            if not Conversation.objects.filter(condition, pk=conv.pk).update(breach_notified_at=now):
                continue
            claimed += 1
            for user in _recipients(conv, cache):
                pending[(conv.brand_id, user.pk)].append((conv, message, user))
        sent = 0
        for (_brand_id, _user_id), items in pending.items():
            user = items[0][2]
            brand = items[0][0].brand
            if len(items) >= SUMMARY_FROM:
                notifications.notify([user], kind="inbox.sla_breach", brand=brand,
                                     message=notes.note(MSG_SUMMARY, count=len(items), brand=brand.name),
                                     link=f"/brands/{brand.pk}/inbox/?sort=due")
                sent += 1
                continue
            for conv, message, _user in items:
                notifications.notify([user], kind="inbox.sla_breach", brand=brand, message=message,
                                     link=conversation_link(conv))
                sent += 1
    return {"breaches": claimed, "notifications": sent}


def stop_on_close(conversation_ids) -> None:
    """Closing stops the resolution timer (the first-response due time stays, for metrics;
    a closed conversation is never late for its first answer) and ends its escalation: an
    urgent complaint in the same conversation months later is escalated again."""
    Conversation.objects.filter(pk__in=list(conversation_ids), status=S.CLOSED).update(
        resolution_due_at=None, escalated_at=None)


@dataclass(frozen=True)
class Metrics:
    conversations: int  # where the customer spoke in the period
    answered: int
    response_rate: float | None  # 0..1
    first_response_median: float | None  # seconds
    first_response_p90: float | None
    resolution_median: float | None  # seconds, closed conversations
    resolved: int
    breaches: int  # first answers or resolutions later than the target (or still late now)

    def as_dict(self) -> dict:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


def _percentile(values: list[float], p: float) -> float | None:
    if not values:
        return None
    values = sorted(values)
    k = (len(values) - 1) * p
    lo, hi = int(k), min(int(k) + 1, len(values) - 1)
    return values[lo] + (values[hi] - values[lo]) * (k - lo)


def metrics(brand, start: datetime, end: datetime, *, now: datetime | None = None) -> Metrics:
    """Response rate and times for the conversations whose customer first wrote in
    [start, end): first-response time is from their first message to the brand's first
    answer; resolution time from their first message to the close."""
    now = now or timezone.now()
    rows = list(
        Conversation.objects.filter(brand=brand, opened_at__gte=start, opened_at__lt=end)
        .annotate(first_in=F("opened_at"))  # the customer's first message, kept by ingestion
        .values("first_in", "first_response_at", "first_response_due_at", "resolution_due_at", "closed_at",
                "status")
    )
    answered, response_times, resolution_times, breaches = 0, [], [], 0
    for r in rows:
        if r["first_response_at"] is not None and r["first_response_at"] >= r["first_in"]:
            answered += 1
            response_times.append((r["first_response_at"] - r["first_in"]).total_seconds())
        due = r["first_response_due_at"]
        answered_or_closed = r["first_response_at"] or (r["closed_at"] if r["status"] == S.CLOSED else None)
        if due is not None and (answered_or_closed or now) > due:
            breaches += 1
        elif r["resolution_due_at"] is not None and r["status"] != S.CLOSED and now > r["resolution_due_at"]:
            breaches += 1
        if r["status"] == S.CLOSED and r["closed_at"] is not None:
            resolution_times.append(max(0.0, (r["closed_at"] - r["first_in"]).total_seconds()))
    total = len(rows)
    return Metrics(
        conversations=total, answered=answered, response_rate=(answered / total) if total else None,
        first_response_median=statistics.median(response_times) if response_times else None,
        first_response_p90=_percentile(response_times, 0.9),
        resolution_median=statistics.median(resolution_times) if resolution_times else None,
        resolved=len(resolution_times), breaches=breaches,
    )
