"""Pytest fixtures for the fake YouTube Data API. Import them into a test module:

    from tests.fakes.youtube_plugin import fake_youtube, youtube, youtube_http_config  # noqa: F401
"""

from __future__ import annotations

import pytest


@pytest.fixture
def fake_youtube():
    """A fresh fake YouTube Data API (and Google OAuth) on 127.0.0.1 for one test."""
    from .youtube import FakeYouTube

    fake = FakeYouTube().start()
    try:
        yield fake
    finally:
        fake.stop()


@pytest.fixture
def youtube_http_config():
    """Short timeouts, and loopback allowed explicitly (DESIGN.md §7)."""
    from tertulia.networks.http import HttpConfig

    return HttpConfig(connect_timeout=2.0, read_timeout=3.0, write_timeout=3.0, allow_private_networks=True)


@pytest.fixture
def youtube(fake_youtube, youtube_http_config):
    """A YouTubeConnector signed in to the fake's channel, with the fake's OAuth app (refresh),
    a memory quota ledger and memory upload sessions, in 256 KiB chunks."""
    from tertulia.networks.base import Credentials
    from tertulia.networks.youtube.connector import CHUNK_UNIT, YouTubeConnector

    answer = fake_youtube.issue()
    connector = YouTubeConnector(base_url=fake_youtube.base_url, credentials=Credentials(
        access_token=answer["access_token"], refresh_token=answer["refresh_token"]),
        http_config=youtube_http_config, client_id=fake_youtube.client_id,
        client_secret=fake_youtube.client_secret, token_url=fake_youtube.base_url, chunk_size=CHUNK_UNIT)
    connector.sleep = lambda seconds: None
    with connector:
        yield connector
