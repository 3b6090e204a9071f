"""Pytest fixtures for the fake Threads API. Import them into a test module:

    from tests.fakes.threads_plugin import fake_threads, threads, threads_http_config  # noqa: F401
"""

from __future__ import annotations

import pytest


@pytest.fixture
def fake_threads():
    """A fresh fake Threads API (and consent page) on 127.0.0.1 for one test."""
    from .threads import FakeThreads

    with FakeThreads() as fake:
        yield fake


@pytest.fixture
def threads_http_config():
    """Short timeouts, and loopback allowed explicitly (DESIGN.md §7)."""
    from tertulia.networks.http import HttpConfig

    return HttpConfig(connect_timeout=2.0, read_timeout=3.0, write_timeout=3.0, allow_private_networks=True)


@pytest.fixture
def threads_media_urls():
    """A stand-in for the public media address: ``https://media.example/<file name>``."""
    return lambda item: f"https://media.example/{item.filename}"


@pytest.fixture
def threads(fake_threads, threads_http_config, threads_media_urls):
    """A ThreadsConnector for the fake's account, polling containers quickly."""
    from tertulia.networks.base import Credentials
    from tertulia.networks.threads.connector import ThreadsConnector

    connector = ThreadsConnector(base_url=fake_threads.base_url,
                                 credentials=Credentials(fake_threads.token, refresh_token=fake_threads.token),
                                 http_config=threads_http_config, media_url_for=threads_media_urls,
                                 container_wait=1.0, poll_interval=0.05)
    with connector:
        yield connector
