"""The pollers' scheduling (inbox, listening, metrics): rows due at a time, claimed with a lease,
then one job per claimed row side by side.

Claiming: a row is due when its due time has passed and no live lease holds it (``lease_free``).
``claim_due`` reads the earliest due rows (PostgreSQL: ``FOR UPDATE SKIP LOCKED``, so consumers
looking at the same rows take different ones instead of queuing behind each other; SQLite has one
writer at a time) and takes each lease with a conditional single-table UPDATE (``take_lease``), so
of two consumers that saw a row due only one gets it.

Each row was claimed with a lease before any network call, so a slow account must not hold the
others past their leases: the jobs run on a thread pool, each with its own database connection
(Django's connections are per thread; they are closed before and after so none outlives its
thread). In Huey's immediate mode (tests, ``make run`` without a consumer) and for a single row
they run inline, in order.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from typing import TypeVar

from django.conf import settings
from django.db import IntegrityError, close_old_connections, connection, transaction
from django.db.models import Q, QuerySet

T = TypeVar("T")
R = TypeVar("R")


def pool_size(configured) -> int:
    """``configured`` workers, or 1 when Huey runs tasks inline."""
    huey_conf = getattr(settings, "HUEY", {}) or {}
    return 1 if huey_conf.get("immediate") else max(1, int(configured))


def _with_connection(job: Callable[[T], R], item: T) -> R:
    close_old_connections()
    try:
        return job(item)
    finally:
        close_old_connections()


def run_each(job: Callable[[T], R], items: Sequence[T], *, workers: int, name: str) -> list[R]:
    """``[job(item) for item in items]``, on up to ``workers`` threads named ``name``."""
    if workers <= 1 or len(items) <= 1:
        return [job(item) for item in items]
    with ThreadPoolExecutor(max_workers=min(workers, len(items)), thread_name_prefix=name) as pool:
        return list(pool.map(lambda item: _with_connection(job, item), items))


def lease_free(now: datetime) -> Q:
    """No lease on the row, or an expired one."""
    return Q(lease_until__isnull=True) | Q(lease_until__lt=now)


def take_lease(still_due: QuerySet, now: datetime, seconds: float) -> datetime | None:
    """The lease on the row of ``still_due`` (filtered to one pk and to what makes it due), by a
    conditional UPDATE; the lease's end, or None when another consumer took it first."""
    lease = now + timedelta(seconds=seconds)
    return lease if still_due.filter(lease_free(now)).update(lease_until=lease) else None


def claim_due(due: QuerySet, claim: Callable[[int], object], limit: int) -> list[int]:
    """The pks among the first ``limit`` rows of ``due`` whose lease ``claim(pk)`` took."""
    with transaction.atomic():
        if connection.features.has_select_for_update_skip_locked:
            due = due.select_for_update(skip_locked=True, of=("self",))
        return [pk for pk in list(due.values_list("pk", flat=True)[:limit]) if claim(pk)]


def ensure_rows(model, missing_accounts: QuerySet, due_field: str, now: datetime, interval: int) -> int:
    """A ``model`` row (due now) for each account of ``missing_accounts`` (those without one)."""
    missing = list(missing_accounts.values_list("pk", flat=True)[:5000])
    if not missing:
        return 0
    try:
        model.objects.bulk_create([model(account_id=pk, interval_seconds=interval, **{due_field: now})
                                   for pk in missing], ignore_conflicts=True)
    except IntegrityError:  # an account removed meanwhile; the next run tries again
        return 0
    return len(missing)
