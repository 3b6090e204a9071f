"""Pytest fixtures for the fake Telegram Bot API. Import them into a conftest.py:

    from tests.fakes.telegram_plugin import fake_telegram, telegram, telegram_http_config  # noqa: F401
"""

from __future__ import annotations

import pytest


@pytest.fixture
def fake_telegram():
    """A fresh fake Bot API server on 127.0.0.1 for one test (no corpus needed)."""
    from .telegram import FakeTelegram

    with FakeTelegram() as fake:
        yield fake


@pytest.fixture
def telegram_http_config():
    """Short timeouts, and loopback allowed explicitly (DESIGN.md §7)."""
    from tertulia.networks.http import HttpConfig

    return HttpConfig(connect_timeout=2.0, read_timeout=5.0, write_timeout=5.0, allow_private_networks=True)


@pytest.fixture
def telegram(fake_telegram, telegram_http_config):
    """A TelegramConnector for the fake's bot, posting to the fake's channel."""
    from tertulia.networks.base import Credentials
    from tertulia.networks.telegram import TelegramConnector

    connector = TelegramConnector(base_url=fake_telegram.base_url, credentials=Credentials(fake_telegram.token),
                                  channel="@cafetertulia", http_config=telegram_http_config)
    with connector:
        yield connector
