"""Pytest fixtures for the fakes. Import them into a conftest.py:

    from tests.fakes.pytest_plugin import fake_mastodon, mastodon_http_config  # noqa: F401
"""

from __future__ import annotations

import pytest

from .corpora import CorpusMissing


@pytest.fixture
def fake_mastodon():
    """A fresh fake Mastodon server on 127.0.0.1 for one test."""
    from .mastodon import FakeMastodon

    try:
        fake = FakeMastodon()
    except CorpusMissing as exc:
        pytest.skip(str(exc))
    with fake:
        yield fake


@pytest.fixture
def mastodon_http_config():
    """Short timeouts, and loopback allowed explicitly (DESIGN.md §7)."""
    from tertulia.networks.http import HttpConfig

    return HttpConfig(connect_timeout=2.0, read_timeout=5.0, write_timeout=5.0,
                      allow_private_networks=True)


@pytest.fixture
def mastodon(fake_mastodon, mastodon_http_config):
    """A MastodonConnector signed in as the fake's own account."""
    from tertulia.networks.base import Credentials
    from tertulia.networks.mastodon import MastodonConnector

    connector = MastodonConnector(base_url=fake_mastodon.base_url,
                                  credentials=Credentials(access_token=fake_mastodon.token),
                                  http_config=mastodon_http_config, media_poll_interval=0.05,
                                  account_key="test-account")
    with connector:
        yield connector
