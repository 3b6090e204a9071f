from tests.fakes.pytest_plugin import fake_mastodon, mastodon, mastodon_http_config  # noqa: F401
from tests.fakes.bluesky_plugin import bluesky, bluesky_http_config, fake_bluesky  # noqa: F401
