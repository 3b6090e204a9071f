"""Shared helpers for the inbox back-end tests (triage, rules, SLA, replies, actions)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from tertulia.core.services import Ctx
from tertulia.inbox import services
from tertulia.inbox.services import IncomingAuthor, IncomingInteraction
from tertulia.networks.services import do_add_account

ANA = IncomingAuthor(external_id="u-ana", handle="@ana", display_name="Ana García", followers=120)
BO = IncomingAuthor(external_id="u-bo", handle="@bo", display_name="", followers=5)


@pytest.fixture
def people(brand_a):
    return brand_a[1]


@pytest.fixture
def brand(brand_a):
    return brand_a[0]


@pytest.fixture
def owner_ctx(people):
    return Ctx(people["owner"], via="test")


@pytest.fixture
def cm_ctx(people):
    return Ctx(people["community_manager"], via="test")


@pytest.fixture
def x_account(brand, owner_ctx):
    """An account on X (no network calls in these tests: X can hide replies)."""
    return do_add_account(owner_ctx, brand, network="x", handle="alpha", external_id="acc-x")


@pytest.fixture
def tg_account(brand, owner_ctx):
    """An account on a network that cannot hide comments (Telegram)."""
    return do_add_account(owner_ctx, brand, network="telegram", handle="alpha_bot", external_id="acc-tg")


@pytest.fixture
def loopback(settings):
    """Short backoff and timeouts; loopback allowed explicitly (DESIGN.md §7)."""
    settings.PUBLISHING = {
        **settings.PUBLISHING, "BACKOFF_BASE": 0.05, "BACKOFF_CAP": 0.2, "MAX_ATTEMPTS": 3, "LEASE_SECONDS": 60.0,
        "HTTP": {"connect_timeout": 2.0, "read_timeout": 0.6, "write_timeout": 2.0, "allow_private_networks": True},
    }
    from huey.contrib.djhuey import HUEY

    from tertulia.networks.ratelimit import BUCKETS
    from tertulia.publishing.engine import RATE_BOOK

    HUEY.flush()
    BUCKETS.clear()
    RATE_BOOK._states.clear()
    yield settings.PUBLISHING
    HUEY.flush()
    BUCKETS.clear()
    RATE_BOOK._states.clear()


def msg(ext, *, text=None, author=ANA, at=None, kind="comment", root="post-1", **kw) -> IncomingInteraction:
    return IncomingInteraction(external_id=ext, kind=kind, author=author, text=text or f"hola {ext}",
                               created_at=at or timezone.now() - timedelta(minutes=1), root_external_id=root, **kw)


def ingest(account, *items):
    return services.ingest_interactions(account, list(items))
