from tests.fakes.pytest_plugin import fake_mastodon, mastodon, mastodon_http_config  # noqa: F401
