"""Account edits that would redirect a stored token drop the token instead."""

import pytest
from django.utils import translation

from tertulia.core.models import AuditEvent
from tertulia.core.services import Ctx
from tertulia.networks import services
from tertulia.networks.models import SocialAccount


@pytest.fixture
def account(brand_a):
    brand, people = brand_a
    return services.do_add_account(Ctx(people["owner"], via="test"), brand, network="mastodon", handle="@cafe",
                                   base_url="https://mastodon.example", access_token="tok-123", refresh_token="ref-456")


@pytest.mark.parametrize("change", [{"base_url": "https://attacker.example"}, {"external_id": "999"}])
def test_moving_the_account_elsewhere_removes_its_credentials(brand_a, account, change):
    _brand, people = brand_a
    with translation.override("en"):
        services.do_update_account(Ctx(people["manager"], via="test"), account, **change)
    stored = SocialAccount.objects.get(pk=account.pk)
    assert stored.access_token == "" and stored.refresh_token == ""
    assert stored.status == SocialAccount.Status.NEEDS_RECONNECT
    assert "Reconnect" in stored.status_reason
    event = AuditEvent.objects.filter(action="account.update").latest("id")
    assert event.changes["credentials"] == ["kept", "removed"]
    assert "tok-123" not in str(event.changes)


def test_renaming_keeps_the_credentials(brand_a, account):
    _brand, people = brand_a
    services.do_update_account(Ctx(people["manager"], via="test"), account, display_name="Café Candela", handle="@cafe")
    stored = SocialAccount.objects.get(pk=account.pk)
    assert (stored.access_token, stored.refresh_token) == ("tok-123", "ref-456")
    assert stored.status == SocialAccount.Status.CONNECTED
