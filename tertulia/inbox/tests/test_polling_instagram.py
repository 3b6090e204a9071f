"""inbox.polling against the fake Instagram Graph API (recorded comments and replies): our
media's comments stored once, and a comment deleted on Instagram shown as deleted."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from tertulia.inbox import polling
from tertulia.inbox.models import InboxSync, Interaction
from tertulia.networks.models import SocialAccount
from tertulia.networks.services import do_add_account
from tests.fakes.instagram_plugin import fake_instagram  # noqa: F401

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def http_settings(polling_settings):
    polling_settings.INBOX_POLLING = {"JITTER": 0.0, "THREAD_DAYS": 100_000, "FIRST_LOOKBACK_HOURS": 24 * 365 * 20}


@pytest.fixture
def account(owner, fake_instagram):
    ctx, brand = owner
    account = do_add_account(ctx, brand, network="instagram", handle=fake_instagram.username,
                             access_token=fake_instagram.token, base_url=fake_instagram.base_url,
                             external_id=fake_instagram.ig_user_id)
    SocialAccount.objects.filter(pk=account.pk).update(options={"page_id": "104000000000001"})
    account.refresh_from_db()
    return account


def published(owner, account, external_id):
    from tertulia.content.services import do_create_post
    from tertulia.publishing.models import PostTarget

    ctx, brand = owner
    post = do_create_post(ctx, brand, text="Nuestro nuevo tueste", accounts=[account])
    PostTarget.objects.filter(post=post).update(state=PostTarget.State.PUBLISHED, external_id=external_id,
                                                published_at=timezone.now() - timedelta(hours=3))


def test_recorded_comments_and_replies_are_stored_once_and_deletions_reflected(fake_instagram, owner, account):
    media_id = fake_instagram.commented_media_id
    published(owner, account, media_id)
    on_media = [c for c, v in fake_instagram.comments.items() if v["media_id"] == media_id]
    result = polling.poll_due_accounts()
    assert result["outcomes"] == {str(account.pk): "ok"}
    stored = set(Interaction.objects.filter(account=account).values_list("external_id", flat=True))
    assert set(on_media) <= stored
    replies = [c for c in on_media if fake_instagram.comments[c]["parent_id"]]
    assert replies and Interaction.objects.get(external_id=replies[0]).parent_external_id == \
        fake_instagram.comments[replies[0]]["parent_id"]

    InboxSync.objects.filter(account=account).update(next_poll_at=timezone.now())
    assert polling.poll_due_accounts()["created"] == 0  # the same comments again: stored once

    top = next(c for c in on_media if not fake_instagram.comments[c]["parent_id"])
    fake_instagram.remove_comment(top)
    fresh = fake_instagram.comment_as("lectora", "¿Hacéis envíos a Canarias?", media_id=media_id)
    InboxSync.objects.filter(account=account).update(next_poll_at=timezone.now())
    result = polling.poll_due_accounts()
    assert result["created"] == 1 and result["deleted"] >= 1
    assert Interaction.objects.get(external_id=top).deleted_at is not None
    assert Interaction.objects.get(external_id=fresh["id"]).deleted_at is None
    alive = Interaction.objects.filter(account=account, deleted_at__isnull=True).count()
    assert alive == len(stored) - result["deleted"] + 1
