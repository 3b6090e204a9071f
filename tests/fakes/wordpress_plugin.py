"""Pytest fixtures for the fake WordPress site. Import them into a conftest.py:

    from tests.fakes.wordpress_plugin import fake_wordpress, wordpress, wordpress_http_config  # noqa: F401
"""

from __future__ import annotations

import pytest


@pytest.fixture
def fake_wordpress():
    """A fresh fake WordPress site on 127.0.0.1 for one test (no corpus needed)."""
    from .wordpress import FakeWordPress

    with FakeWordPress() as fake:
        yield fake


@pytest.fixture
def wordpress_http_config():
    """Short timeouts, and loopback allowed explicitly (DESIGN.md §7)."""
    from tertulia.networks.http import HttpConfig

    return HttpConfig(connect_timeout=2.0, read_timeout=5.0, write_timeout=5.0, allow_private_networks=True)


@pytest.fixture
def wordpress(fake_wordpress, wordpress_http_config):
    """A WordPressConnector signed in with the fake's application password."""
    from tertulia.networks.base import Credentials
    from tertulia.networks.wordpress import WordPressConnector

    connector = WordPressConnector(base_url=fake_wordpress.base_url, username=fake_wordpress.username,
                                   credentials=Credentials(fake_wordpress.app_password),
                                   http_config=wordpress_http_config, account_key="test-wordpress")
    with connector:
        yield connector
