"""Pytest fixtures for the fake Instagram Graph API. Import them in a test module:

    from tests.fakes.instagram_plugin import fake_instagram, instagram, instagram_http_config  # noqa: F401
"""

from __future__ import annotations

import pytest


@pytest.fixture
def fake_instagram():
    """A fresh fake Graph API server on 127.0.0.1 for one test (reads the recorded fixtures)."""
    from .instagram import FakeInstagram

    with FakeInstagram() as fake:
        yield fake


@pytest.fixture
def instagram_http_config():
    """Short timeouts, and loopback allowed explicitly (DESIGN.md §7)."""
    from tertulia.networks.http import HttpConfig

    return HttpConfig(connect_timeout=2.0, read_timeout=1.0, write_timeout=2.0, allow_private_networks=True)


@pytest.fixture
def instagram(fake_instagram, instagram_http_config):
    """An InstagramConnector for the fake's account. Media get public addresses on the fake
    (what ``settings.META_MEDIA_URL_FOR`` gives in production); container polls do not sleep."""
    from tertulia.networks.base import Credentials
    from tertulia.networks.instagram import InstagramConnector
    from tertulia.networks.ratelimit import BUCKETS

    BUCKETS.clear()
    connector = InstagramConnector(base_url=fake_instagram.base_url, credentials=Credentials(fake_instagram.token),
                                   account_id=fake_instagram.ig_user_id, page_id="104000000000001",
                                   media_url_for=fake_instagram.host, http_config=instagram_http_config,
                                   poll_interval=0.0, max_wait=5.0, max_polls=4, sleep=lambda s: None)
    with connector:
        yield connector
    BUCKETS.clear()
