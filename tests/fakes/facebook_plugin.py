"""Pytest fixtures for the fake Graph API (Facebook Pages, the Meta sign-in). Import them into
a test module:

    from tests.fakes.facebook_plugin import facebook, fake_graph, graph_http_config  # noqa: F401
"""

from __future__ import annotations

import pytest


@pytest.fixture
def fake_graph():
    """A fresh fake Graph API on 127.0.0.1 for one test, seeded from the recorded corpus."""
    from .facebook import FakeGraph

    with FakeGraph() as fake:
        yield fake


@pytest.fixture
def graph_http_config():
    """Short timeouts, and loopback allowed explicitly (DESIGN.md §7)."""
    from tertulia.networks.http import HttpConfig

    return HttpConfig(connect_timeout=2.0, read_timeout=5.0, write_timeout=5.0, allow_private_networks=True)


@pytest.fixture
def facebook(fake_graph, graph_http_config):
    """A FacebookConnector for the fake's Page, with its Page token."""
    from tertulia.networks.base import Credentials
    from tertulia.networks.facebook import FacebookConnector

    from .facebook import PAGE_ID

    FacebookConnector.retired_metrics.clear()
    connector = FacebookConnector(base_url=fake_graph.base_url, credentials=Credentials(fake_graph.page_token),
                                  account_id=PAGE_ID, http_config=graph_http_config)
    with connector:
        yield connector
    FacebookConnector.retired_metrics.clear()
