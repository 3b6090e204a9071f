"""Network name -> connector, and building a connector from a SocialAccount row."""

from __future__ import annotations

import pytest

from tertulia.networks import registry
from tertulia.networks.base import Connector
from tertulia.networks.errors import Unsupported
from tertulia.networks.http import HttpConfig
from tertulia.networks.mastodon import MastodonConnector


def test_mastodon_is_registered():
    assert registry.connector_class("mastodon") is MastodonConnector
    assert registry.is_available("mastodon") and "mastodon" in registry.available()
    assert issubclass(MastodonConnector, Connector)


def test_unknown_networks_are_unsupported():
    with pytest.raises(Unsupported):
        registry.connector_class("myspace")


def test_register_a_connector():
    registry.register("dummy", MastodonConnector)
    try:
        assert registry.connector_class("dummy") is MastodonConnector
    finally:
        registry._CONNECTORS.pop("dummy", None)
    assert not registry.is_available("dummy")


@pytest.mark.django_db
def test_connector_for_an_account(brand_a, fake_mastodon):
    from tertulia.core.services import Ctx
    from tertulia.networks import services

    brand, people = brand_a
    account = services.do_add_account(Ctx(people["owner"], via="test"), brand, network="mastodon",
                                      handle="@mastodonpy_test@example", base_url=fake_mastodon.base_url,
                                      access_token=fake_mastodon.token)
    account.refresh_from_db()  # the token comes back decrypted from the database
    with registry.connector_for(account, http_config=HttpConfig(allow_private_networks=True)) as connector:
        assert isinstance(connector, MastodonConnector)
        assert connector.account_key == f"account:{account.pk}"
        profile = connector.fetch_profile()
    assert profile.external_id == fake_mastodon.own["id"]
    assert all(s.account_key == f"account:{account.pk}" for s in connector.rate_limits)


def test_the_networks_periodic_jobs_are_found_by_huey_autodiscovery():
    """``run_huey`` imports each app's top-level ``tasks`` module; a job kept in a network's
    package must be reachable from there, or it never runs."""
    from django.utils.module_loading import autodiscover_modules
    from huey.contrib.djhuey import HUEY

    autodiscover_modules("tasks")
    periodic = {task.__name__ for task in HUEY._registry._periodic_tasks}
    assert "linkedin_expiry_warnings" in periodic
