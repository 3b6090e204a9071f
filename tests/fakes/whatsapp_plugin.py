"""Pytest fixtures for the fake WhatsApp Cloud API. Import them into a test module or conftest:

    from tests.fakes.whatsapp_plugin import fake_whatsapp, whatsapp, whatsapp_http_config  # noqa: F401
"""

from __future__ import annotations

import pytest


@pytest.fixture
def fake_whatsapp():
    """A fresh fake Cloud API on 127.0.0.1 for one test (no corpus needed)."""
    from .whatsapp import FakeWhatsApp

    with FakeWhatsApp() as fake:
        yield fake


@pytest.fixture
def whatsapp_http_config():
    """Short timeouts, and loopback allowed explicitly (DESIGN.md §7)."""
    from tertulia.networks.http import HttpConfig

    return HttpConfig(connect_timeout=2.0, read_timeout=2.5, write_timeout=2.5, allow_private_networks=True)


@pytest.fixture
def whatsapp(fake_whatsapp, whatsapp_http_config):
    """A WhatsAppConnector for the fake's business number."""
    from tertulia.networks.base import Credentials
    from tertulia.networks.whatsapp import WhatsAppConnector

    from .whatsapp import PHONE_ID, WABA_ID

    connector = WhatsAppConnector(base_url=fake_whatsapp.base_url, credentials=Credentials(fake_whatsapp.token),
                                  account_id=PHONE_ID, waba_id=WABA_ID, http_config=whatsapp_http_config)
    with connector:
        yield connector
