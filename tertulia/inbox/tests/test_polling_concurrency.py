"""Many accounts, several consumers: each due account is polled by exactly one of them, and one
run polls its accounts in parallel threads (real commits: transactional test database).

Threads need a database where concurrent writers wait for each other: PostgreSQL, or SQLite in
a file (WAL, busy_timeout: production's set-up), e.g.
``TERTULIA_TEST_SQLITE_FILE=1 TERTULIA_VAR_DIR=/tmp/x pytest …``. The default in-memory shared
cache answers "table is locked" at once instead of waiting, which says nothing about production,
so there the test is not defined (like ``publishing/tests/test_concurrency.py``: a skip would
fail CI).
"""

from __future__ import annotations

import threading

import pytest
from django.conf import settings

from tertulia.core.services import Ctx
from tertulia.inbox import polling
from tertulia.inbox.models import InboxSync, Interaction
from tertulia.networks.services import do_add_account
from tests.fakes.pytest_plugin import fake_mastodon  # noqa: F401

_DB = settings.DATABASES["default"]
WAITING_WRITERS = "postgresql" in _DB["ENGINE"] or bool((_DB.get("TEST") or {}).get("NAME"))
pytestmark = pytest.mark.django_db(transaction=True)


if WAITING_WRITERS:
    @pytest.fixture(autouse=True)
    def http_settings(polling_settings):
        polling_settings.PUBLISHING["HTTP"]["read_timeout"] = 5.0
        polling_settings.INBOX_POLLING = {"JITTER": 0.0, "WORKERS": 4}
        polling_settings.HUEY = {**polling_settings.HUEY, "immediate": False}


    @pytest.fixture
    def accounts(brand_a, fake_mastodon):
        """Six accounts on the fake server, each with a mention waiting."""
        brand, people = brand_a
        ctx = Ctx(people["owner"], via="test")
        out = []
        for n in range(6):
            person = fake_mastodon.add_account(f"cuenta{n}")
            token = fake_mastodon.issue_token(person["id"])
            fake_mastodon.post_as("admin", f"@cuenta{n} hola {n}")
            out.append((do_add_account(ctx, brand, network="mastodon", handle=f"cuenta{n}@fake.example",
                                       access_token=token, base_url=fake_mastodon.base_url,
                                       external_id=person["id"]), token))
        return out


    def test_two_consumers_at_once_poll_every_account_exactly_once(fake_mastodon, accounts):
        results = []

        def run():
            results.append(polling.poll_due_accounts())

        threads = [threading.Thread(target=run) for _ in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=60)
        assert sum(r["claimed"] for r in results) == len(accounts)
        polled = {}
        for r in results:
            for account_id, status in r["outcomes"].items():
                assert account_id not in polled  # never by both
                polled[account_id] = status
        assert set(polled.values()) == {"ok"} and len(polled) == len(accounts)
        for account, token in accounts:
            notifications = [r for r in fake_mastodon.requests_to("GET", "/api/v1/notifications") if r.token == token]
            assert len(notifications) == 1
            assert Interaction.objects.filter(account=account).count() == 1
        assert InboxSync.objects.filter(lease_until__isnull=False).count() == 0
