"""Pytest fixtures for the fake Bluesky PDS. Import them into a conftest.py:

    from tests.fakes.bluesky_plugin import bluesky, bluesky_http_config, fake_bluesky  # noqa: F401
"""

from __future__ import annotations

import pytest

from .corpora import CorpusMissing


@pytest.fixture
def fake_bluesky():
    """A fresh fake PDS on 127.0.0.1 for one test."""
    from .bluesky import FakeBluesky

    try:
        fake = FakeBluesky()
    except CorpusMissing as exc:
        pytest.skip(str(exc))
    with fake:
        yield fake


@pytest.fixture
def bluesky_http_config():
    """Short timeouts, and loopback allowed explicitly (DESIGN.md §7)."""
    from tertulia.networks.http import HttpConfig

    return HttpConfig(connect_timeout=2.0, read_timeout=5.0, write_timeout=5.0, allow_private_networks=True)


@pytest.fixture
def bluesky(fake_bluesky, bluesky_http_config):
    """A BlueskyConnector with the fake's own session (access and refresh JWTs)."""
    from tertulia.networks.base import Credentials
    from tertulia.networks.bluesky import BlueskyConnector, jwt_expiry

    credentials = Credentials(access_token=fake_bluesky.access_jwt, refresh_token=fake_bluesky.refresh_jwt,
                              expires_at=jwt_expiry(fake_bluesky.access_jwt))
    connector = BlueskyConnector(base_url=fake_bluesky.base_url, credentials=credentials,
                                 http_config=bluesky_http_config, account_key="test-bluesky")
    with connector:
        yield connector
