"""Fixtures for the publishing engine: a brand with a Mastodon account on the loopback fake.

The engine's tests use ``transaction=True`` databases: ``transaction.on_commit`` then fires as
in production, so a service that schedules a target really queues its Huey task after commit.
Huey runs in immediate mode (settings): a task due now runs inline, a task with an ETA waits
in Huey's in-memory schedule until ``drain`` runs it, like a consumer would when it is due.
"""

from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone

import pytest
from huey.contrib.djhuey import HUEY

from tests.fakes.bluesky_plugin import fake_bluesky  # noqa: F401
from tests.fakes.pytest_plugin import fake_mastodon  # noqa: F401


@pytest.fixture(autouse=True)
def publishing_settings(settings):
    """Short backoff and timeouts so retries take milliseconds; loopback allowed (DESIGN.md §7)."""
    settings.PUBLISHING = {
        **settings.PUBLISHING,
        "BACKOFF_BASE": 0.05,
        "BACKOFF_CAP": 0.2,
        "MAX_ATTEMPTS": 4,
        "LEASE_SECONDS": 60.0,
        "SWEEP_GRACE_SECONDS": 0.0,
        "HTTP": {"connect_timeout": 2.0, "read_timeout": 0.6, "write_timeout": 2.0,
                 "allow_private_networks": True},
    }
    from tertulia.networks.ratelimit import BUCKETS
    from tertulia.publishing.engine import RATE_BOOK

    HUEY.flush()
    BUCKETS.clear()
    RATE_BOOK._states.clear()
    yield settings.PUBLISHING
    HUEY.flush()
    BUCKETS.clear()
    RATE_BOOK._states.clear()


@pytest.fixture
def brand(tenant):
    brand, people = tenant("Pub")
    return brand


@pytest.fixture
def ctx(brand):
    from tertulia.core.models import Membership
    from tertulia.core.services import Ctx

    owner = Membership.objects.get(brand=brand, role="owner").user
    return Ctx(owner, via="test")


@pytest.fixture
def account(ctx, brand, fake_mastodon):  # noqa: F811
    from tertulia.networks.services import do_add_account

    return do_add_account(ctx, brand, network="mastodon", handle="@john", access_token=fake_mastodon.token,
                          base_url=fake_mastodon.base_url)


@pytest.fixture
def bluesky_account(ctx, brand, fake_bluesky):  # noqa: F811
    """The fake PDS's own account, with its session (access and refresh JWTs) stored."""
    from tertulia.networks.bluesky import jwt_expiry
    from tertulia.networks.models import SocialAccount
    from tertulia.networks.services import do_add_account

    account = do_add_account(ctx, brand, network="bluesky", handle=fake_bluesky.own_handle,
                             access_token=fake_bluesky.access_jwt, refresh_token=fake_bluesky.refresh_jwt,
                             base_url=fake_bluesky.base_url, external_id=fake_bluesky.own_did)
    SocialAccount.objects.filter(pk=account.pk).update(token_expires_at=jwt_expiry(fake_bluesky.access_jwt))
    account.refresh_from_db()
    return account


@pytest.fixture
def make_target(ctx, brand, account):
    """An approved post for the account; scheduled (without queuing a task) when ``due_at``."""
    from tertulia.content.approvals import do_mark_approved
    from tertulia.content.services import do_create_post

    counter = {"n": 0}

    def make(text: str | None = None, due_at: datetime | None = None, accounts=None):
        counter["n"] += 1
        post = do_create_post(ctx, brand, text=text or f"Hola desde Tertulia, post {counter['n']}",
                              accounts=accounts or [account], scheduled_at=due_at, submit=True)
        do_mark_approved(ctx, post)
        return post.targets.select_related("account", "post", "brand").get()

    return make


def now() -> datetime:
    return datetime.now(timezone.utc)


def drain(target, timeout: float = 10.0, until=None):
    """Run Huey's scheduled tasks as they come due (what a consumer does) until the target
    reaches a finished state (or ``until(target)``)."""
    from tertulia.publishing.states import FINISHED

    until = until or (lambda t: t.state in FINISHED)
    deadline = time.monotonic() + timeout
    while True:
        target.refresh_from_db()
        if until(target):
            return target
        if time.monotonic() > deadline:
            raise AssertionError(f"target {target.pk} still {target.state} after {timeout}s")
        for task in HUEY.read_schedule():
            HUEY.execute(task)
        time.sleep(0.02)


def scheduled_tasks():
    return [(t.name, t.args, t.eta) for t in HUEY.scheduled()]


__all__ = ["drain", "now", "scheduled_tasks", "timedelta"]
