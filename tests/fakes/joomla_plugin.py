"""Pytest fixtures for the fake Joomla site. Import them into a conftest.py:

    from tests.fakes.joomla_plugin import fake_joomla, joomla, joomla_http_config  # noqa: F401
"""

from __future__ import annotations

import pytest


@pytest.fixture
def fake_joomla():
    """A fresh fake Joomla 4/5 site on 127.0.0.1 for one test (no corpus needed)."""
    from .joomla import FakeJoomla

    with FakeJoomla() as fake:
        yield fake


@pytest.fixture
def joomla_http_config():
    """Short timeouts, and loopback allowed explicitly (DESIGN.md §7)."""
    from tertulia.networks.http import HttpConfig

    return HttpConfig(connect_timeout=2.0, read_timeout=1.5, write_timeout=2.0, allow_private_networks=True)


@pytest.fixture
def joomla(fake_joomla, joomla_http_config):
    """A JoomlaConnector signed in with the fake's API token, publishing to the "Blog" category."""
    from tertulia.networks.base import Credentials
    from tertulia.networks.joomla import JoomlaConnector

    connector = JoomlaConnector(base_url=fake_joomla.base_url, credentials=Credentials(fake_joomla.token),
                                category="Blog", http_config=joomla_http_config, account_key="test-joomla")
    with connector:
        yield connector
