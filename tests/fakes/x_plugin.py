"""Pytest fixtures for the fake X API v2. Import them into a test module:

    from tests.fakes.x_plugin import fake_x, x, x_http_config  # noqa: F401
"""

from __future__ import annotations

import pytest


@pytest.fixture
def fake_x():
    """A fresh fake X API on 127.0.0.1 for one test (reads the tweepy cassettes)."""
    from .corpora import CorpusMissing
    from .x import FakeX

    try:
        fake = FakeX().start()
    except CorpusMissing as exc:  # pragma: no cover - the corpora are part of the workspace
        pytest.skip(str(exc))
    try:
        yield fake
    finally:
        fake.stop()


@pytest.fixture
def x_http_config():
    """Short timeouts, and loopback allowed explicitly (DESIGN.md §7)."""
    from tertulia.networks.http import HttpConfig

    return HttpConfig(connect_timeout=2.0, read_timeout=3.0, write_timeout=3.0, allow_private_networks=True)


@pytest.fixture
def x(fake_x, x_http_config):
    """An XConnector signed in as the fake's own account, with the fake's OAuth app (refresh)."""
    from tertulia.networks.base import Credentials
    from tertulia.networks.ratelimit import BucketBook
    from tertulia.networks.x.connector import XConnector

    answer = fake_x.issue(fake_x.own["id"])
    connector = XConnector(base_url=fake_x.base_url, credentials=Credentials(
        access_token=answer["access_token"], refresh_token=answer["refresh_token"]),
        http_config=x_http_config, client_id=fake_x.client_id, client_secret=fake_x.client_secret,
        buckets=BucketBook(), media_poll_interval=0.01)
    connector.sleep = lambda seconds: None
    with connector:
        yield connector
