"""Fixtures shared by the inbox's polling tests."""

import pytest

from tertulia.core.services import Ctx


@pytest.fixture
def polling_settings(settings):
    """Connectors may reach the loopback fakes (DESIGN.md §7), polls have no jitter, and the
    shared rate-limit memory starts and ends empty. Tests add their own INBOX_POLLING keys."""
    from tertulia.networks.ratelimit import BUCKETS
    from tertulia.publishing.engine import RATE_BOOK

    settings.PUBLISHING = {**settings.PUBLISHING, "HTTP": {
        "connect_timeout": 2.0, "read_timeout": 3.0, "write_timeout": 2.0, "allow_private_networks": True}}
    settings.INBOX_POLLING = {"JITTER": 0.0}
    BUCKETS.clear()
    RATE_BOOK._states.clear()
    yield settings
    BUCKETS.clear()
    RATE_BOOK._states.clear()


@pytest.fixture
def owner(brand_a):
    brand, people = brand_a
    return Ctx(people["owner"], via="test"), brand
