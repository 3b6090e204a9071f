"""Liveness and readiness checks for a load balancer or an orchestrator (``/healthz``, ``/readyz``).

Liveness answers "is this process serving requests at all" and does no I/O: a database outage
must not make the orchestrator restart every web process (restarts would not fix it).

Readiness answers "can this process do useful work now": a real query on the database and a
round trip to Huey's queue storage (Redis PING, or a read of the SQLite queue file). Each check
runs on a small thread pool with a deadline, so a database or Redis that hangs (a dropped
packet, a full connection table) turns into "timeout" within a few seconds instead of holding
the web worker until the TCP stack gives up. A check still running from an earlier probe is not
started again: a hung backend costs one thread per check, not one per probe.

What a check reports is only its name, "ok", "error" or "timeout" and how long it took. The
reason (which may name a host or a user) goes to the server log, never to the response.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass

from django.conf import settings

log = logging.getLogger(__name__)

OK, ERROR, TIMEOUT = "ok", "error", "timeout"
DEFAULT_TIMEOUT = 3.0


@dataclass(frozen=True)
class CheckResult:
    name: str
    status: str  # OK, ERROR or TIMEOUT
    ms: int

    @property
    def ok(self) -> bool:
        return self.status == OK

    def as_dict(self) -> dict:
        return {"status": self.status, "ms": self.ms}


def timeout_seconds() -> float:
    return float(getattr(settings, "HEALTH_CHECK_TIMEOUT", DEFAULT_TIMEOUT))


# --- The checks ------------------------------------------------------------------------------

def check_database() -> None:
    """A real query on a real table (the migration history exists once the schema does), on a
    connection of this thread that is closed afterwards."""
    from django.db import connection

    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1 FROM django_migrations LIMIT 1")
            if cursor.fetchone() is None:
                raise RuntimeError("the database has no migrations applied")
    finally:
        connection.close()


def check_queue(huey=None) -> None:
    """Huey's storage answers: PING on Redis; on SQLite (and the in-memory storage of the
    immediate mode) a count of the queue table, which opens and reads the queue file."""
    if huey is None:
        from huey.contrib.djhuey import HUEY as huey
    storage = huey.storage
    conn = getattr(storage, "conn", None)
    if conn is not None and callable(getattr(conn, "ping", None)):
        if not conn.ping():
            raise RuntimeError("the queue storage did not answer PING")
        return
    storage.queue_size()


CHECKS: dict[str, Callable[[], None]] = {"database": check_database, "queue": check_queue}

# --- Running them with a deadline --------------------------------------------------------------

_pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="tertulia-health")
_running: dict[str, Future] = {}
_lock = threading.Lock()


def _timed(check: Callable[[], None]) -> float:
    started = time.monotonic()
    check()
    return time.monotonic() - started


def run_checks(checks: dict[str, Callable[[], None]] | None = None, *, timeout: float | None = None
               ) -> list[CheckResult]:
    """Run every check at once; each gets ``timeout`` seconds (HEALTH_CHECK_TIMEOUT, 3)."""
    checks = CHECKS if checks is None else checks
    timeout = timeout_seconds() if timeout is None else timeout
    started = time.monotonic()
    futures: dict[str, Future] = {}
    with _lock:
        for name, check in checks.items():
            previous = _running.get(name)
            if previous is not None and not previous.done():
                # Another probe's check is under way (a load balancer and an orchestrator probe
                # at once; or it is stuck): wait for that one rather than pile up a second.
                futures[name] = previous
                continue
            futures[name] = _running[name] = _pool.submit(_timed, check)
    results = []
    for name, future in futures.items():
        left = max(0.0, timeout - (time.monotonic() - started))
        try:
            elapsed = future.result(timeout=left)
        except FutureTimeout:
            results.append(CheckResult(name, TIMEOUT, int(timeout * 1000)))
            log.warning("readiness check %s: no answer within %.1f s", name, timeout)
        except Exception as exc:  # noqa: BLE001 - any failure is "not ready"; the reason is logged
            results.append(CheckResult(name, ERROR, int((time.monotonic() - started) * 1000)))
            log.warning("readiness check %s failed: %s: %s", name, type(exc).__name__, str(exc)[:300])
        else:
            results.append(CheckResult(name, OK, int(elapsed * 1000)))
    return results


def readiness() -> tuple[bool, dict]:
    """(ready, body) for ``/readyz``."""
    results = run_checks()
    ready = all(r.ok for r in results)
    return ready, {"status": "ok" if ready else "unavailable", "checks": {r.name: r.as_dict() for r in results}}
