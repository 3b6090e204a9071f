"""Running one job per claimed row side by side, as the pollers do (inbox, listening, metrics).

Each row was claimed with a lease before any network call, so a slow account must not hold the
others past their leases: the jobs run on a thread pool, each with its own database connection
(Django's connections are per thread; they are closed before and after so none outlives its
thread). In Huey's immediate mode (tests, ``make run`` without a consumer) and for a single row
they run inline, in order.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from django.conf import settings
from django.db import close_old_connections

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
