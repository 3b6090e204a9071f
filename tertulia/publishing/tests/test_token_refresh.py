"""Token health: sign-ins that expire are renewed before they do, the new tokens are stored
encrypted (never dropping a refresh token), and a refused renewal parks the account and tells
the team (issue 4). Against the fake Bluesky PDS, which rotates refresh JWTs like the real one."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from tertulia.core.models import Notification
from tertulia.networks.base import Credentials
from tertulia.networks.bluesky import jwt_expiry
from tertulia.networks.models import SocialAccount
from tertulia.networks.services import refresh_account, store_credentials
from tertulia.publishing import services, tasks
from tertulia.publishing.models import PostTarget

from .conftest import drain, now

S = PostTarget.State
pytestmark = pytest.mark.django_db(transaction=True)


def _raw_tokens(account_id: int) -> tuple[str, str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT access_token, refresh_token FROM networks_socialaccount WHERE id = %s", [account_id])
        return cursor.fetchone()


def _expiring(account, seconds: float = 60):
    SocialAccount.objects.filter(pk=account.pk).update(token_expires_at=timezone.now() + timedelta(seconds=seconds))
    account.refresh_from_db()
    return account


def test_a_sign_in_about_to_expire_is_renewed_before_publishing(ctx, make_target, bluesky_account, fake_bluesky):
    account = _expiring(bluesky_account)
    old_refresh = account.refresh_token
    target = make_target(accounts=[account])
    services.do_schedule(ctx, target, due_at=now() - timedelta(seconds=1))
    target = drain(target)
    assert target.state == S.PUBLISHED and len(fake_bluesky.posts_of()) == 1
    assert len(fake_bluesky.requests_to("com.atproto.server.refreshSession")) == 1
    account.refresh_from_db()
    assert account.refresh_token and account.refresh_token != old_refresh  # rotated, and kept
    assert old_refresh not in fake_bluesky.refresh  # the old one is spent on the server
    assert account.refresh_token in fake_bluesky.refresh
    assert account.token_expires_at == jwt_expiry(account.access_token) > timezone.now() + timedelta(minutes=30)
    raw_access, raw_refresh = _raw_tokens(account.pk)
    assert raw_refresh != account.refresh_token and account.refresh_token not in raw_refresh  # encrypted at rest
    assert raw_access != account.access_token


def test_an_access_token_the_network_calls_expired_is_refreshed_during_the_call(ctx, make_target, bluesky_account,
                                                                             fake_bluesky):
    fake_bluesky.expire_access_tokens()  # our clock says it is fine; the PDS says ExpiredToken
    target = make_target(accounts=[bluesky_account])
    services.do_schedule(ctx, target, due_at=now() - timedelta(seconds=1))
    target = drain(target)
    assert target.state == S.PUBLISHED and len(fake_bluesky.posts_of()) == 1
    account = SocialAccount.objects.get(pk=bluesky_account.pk)
    # The rotated pair was stored as soon as the connector got it: the next consumer can use it.
    assert account.refresh_token in fake_bluesky.refresh and account.access_token != bluesky_account.access_token


def test_a_refused_renewal_parks_the_account_keeps_its_tokens_and_tells_the_team(ctx, make_target, bluesky_account,
                                                                             fake_bluesky, mailoutbox):
    account = _expiring(bluesky_account)
    fake_bluesky.revoke_sessions()
    target = make_target(accounts=[account])
    services.do_schedule(ctx, target, due_at=now() - timedelta(seconds=1))
    target = drain(target)
    assert target.state == S.NEEDS_ATTENTION and fake_bluesky.posts_of() == []
    account.refresh_from_db()
    assert account.status == SocialAccount.Status.NEEDS_RECONNECT
    assert account.refresh_token == bluesky_account.refresh_token  # never dropped
    (note,) = Notification.objects.filter(kind="account.needs_reconnect")
    assert note.link == f"/brands/{target.brand_id}/posts/{target.post_id}/"
    assert any("needs to be reconnected" in m.body for m in mailoutbox)


def test_the_periodic_task_renews_what_expires_soon_and_leaves_the_rest(bluesky_account, fake_bluesky):
    assert tasks.refresh_tokens_once() == {}  # two hours left: nothing to do
    _expiring(bluesky_account, seconds=20 * 60)
    assert tasks.refresh_tokens_once() == {"refreshed": 1}
    assert tasks.refresh_tokens_once() == {}
    assert len(fake_bluesky.requests_to("com.atproto.server.refreshSession")) == 1


def test_a_second_refresher_uses_the_stored_tokens_instead_of_spending_them_again(bluesky_account, fake_bluesky):
    account = _expiring(bluesky_account)
    stale_copy = SocialAccount.objects.get(pk=account.pk)  # another consumer read the row earlier
    assert refresh_account(account) == "refreshed"
    assert refresh_account(stale_copy) == "fresh"  # re-read under the lock: already renewed
    assert stale_copy.refresh_token == SocialAccount.objects.get(pk=account.pk).refresh_token
    assert len(fake_bluesky.requests_to("com.atproto.server.refreshSession")) == 1


def test_an_answer_without_a_refresh_token_keeps_the_stored_one(bluesky_account):
    store_credentials(bluesky_account, Credentials(access_token="new-access", refresh_token="",
                                                   expires_at=timezone.now() + timedelta(hours=2)))
    account = SocialAccount.objects.get(pk=bluesky_account.pk)
    assert account.access_token == "new-access" and account.refresh_token == bluesky_account.refresh_token
