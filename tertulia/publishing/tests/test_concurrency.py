"""Concurrent consumers on PostgreSQL: each target is claimed and published exactly once.

Defined only when the suite runs on PostgreSQL (CI runs it there: DATABASE_URL). On SQLite the
test database is an in-memory shared cache, where concurrent writers from threads get "table
is locked" instead of waiting, which says nothing about the production set-up (a WAL file with
busy_timeout); one writer at a time is the SQLite mode anyway.
"""

from __future__ import annotations

import threading

import pytest
from django.conf import settings
from django.db import connection

from tertulia.publishing import tasks

from .conftest import now, timedelta

ON_POSTGRES = "postgresql" in settings.DATABASES["default"]["ENGINE"]

if ON_POSTGRES:
    pytestmark = pytest.mark.django_db(transaction=True)

    def test_concurrent_consumers_publish_exactly_once(make_target, fake_mastodon):
        """Several consumer threads (each with its own database connection) run the same task at
        the same moment, as after a redelivery plus a sweep: one claim wins, one status exists."""
        fake_mastodon.latency = 0.2  # keep the winner's call on the wire while the others try
        target = make_target(due_at=now() - timedelta(seconds=1))
        results, start = [], threading.Barrier(6)

        def consumer():
            try:
                start.wait()
                results.append(tasks.publish_target.call_local(target.pk, target.version))
            finally:
                connection.close()

        threads = [threading.Thread(target=consumer) for _ in range(6)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
        assert sorted(results) == ["published"] + ["stale"] * 5
        assert len(fake_mastodon.own_statuses()) == 1
        assert len(fake_mastodon.requests_to("POST", "/api/v1/statuses")) == 1
