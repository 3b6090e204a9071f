from tests.fakes.pytest_plugin import fake_mastodon, mastodon, mastodon_http_config  # noqa: F401
from tests.fakes.bluesky_plugin import bluesky, bluesky_http_config, fake_bluesky  # noqa: F401

import pytest


@pytest.fixture(autouse=True)
def _fresh_rate_buckets():
    """Each test starts with full proactive buckets (ratelimit.py keeps one book per process)."""
    from tertulia.networks.ratelimit import BUCKETS

    BUCKETS.clear()
    yield
    BUCKETS.clear()
from tests.fakes.telegram_plugin import fake_telegram, telegram, telegram_http_config  # noqa: F401
from tests.fakes.wordpress_plugin import fake_wordpress, wordpress, wordpress_http_config  # noqa: F401
from tests.fakes.joomla_plugin import fake_joomla, joomla, joomla_http_config  # noqa: F401
from tests.fakes.youtube_plugin import fake_youtube, youtube, youtube_http_config  # noqa: F401
from tests.fakes.whatsapp_plugin import fake_whatsapp, whatsapp, whatsapp_http_config  # noqa: F401
