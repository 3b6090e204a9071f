"""Pytest fixtures for the fake LinkedIn API. Import them into a test module:

    from tests.fakes.linkedin_plugin import fake_linkedin, linkedin, linkedin_http_config  # noqa: F401
"""

from __future__ import annotations

import pytest


@pytest.fixture
def fake_linkedin():
    """A fresh fake LinkedIn (REST API, uploads and OAuth) on 127.0.0.1 for one test."""
    from .linkedin import FakeLinkedIn

    with FakeLinkedIn() as fake:
        yield fake


@pytest.fixture
def linkedin_http_config():
    """Short timeouts, and loopback allowed explicitly (DESIGN.md §7)."""
    from tertulia.networks.http import HttpConfig

    return HttpConfig(connect_timeout=2.0, read_timeout=3.0, write_timeout=3.0, allow_private_networks=True)


@pytest.fixture
def linkedin(fake_linkedin, linkedin_http_config):
    """A LinkedInConnector for the fake's organisation page, signed in as its administrator."""
    from tertulia.networks.base import Credentials
    from tertulia.networks.linkedin.connector import LinkedInConnector

    from .linkedin import ORG_ID

    connector = LinkedInConnector(base_url=fake_linkedin.base_url, credentials=Credentials(fake_linkedin.token),
                                  account_id=str(ORG_ID), http_config=linkedin_http_config,
                                  auth_base_url=fake_linkedin.base_url, client_id=fake_linkedin.client_id,
                                  client_secret=fake_linkedin.client_secret)
    with connector:
        yield connector
