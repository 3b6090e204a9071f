"""inbox.polling end to end against the loopback fake Mastodon: the InboxSync row, claims and
leases, pages of notifications, duplicates across polls, edits and deletions found by re-reading
our posts' threads, 429 and expired tokens, and the adaptive interval."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from tertulia.inbox import polling
from tertulia.inbox.models import Conversation, InboxSync, Interaction
from tertulia.networks.models import SocialAccount
from tertulia.networks.services import do_add_account
from tests.fakes.mastodon import Fault
from tests.fakes.pytest_plugin import fake_mastodon  # noqa: F401

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("polling_settings")]


@pytest.fixture
def account(owner, fake_mastodon):
    ctx, brand = owner
    return do_add_account(ctx, brand, network="mastodon", handle=f"{fake_mastodon.own['username']}@fake.example",
                          access_token=fake_mastodon.token, base_url=fake_mastodon.base_url,
                          external_id=fake_mastodon.own["id"])


def published(owner, account, external_id, *, hours_ago: float = 1.0):
    """One of our posts, published on ``account`` as ``external_id``."""
    from tertulia.content.services import do_create_post
    from tertulia.publishing.models import PostTarget

    ctx, brand = owner
    post = do_create_post(ctx, brand, text="Nuestro café de temporada", accounts=[account])
    PostTarget.objects.filter(post=post).update(state=PostTarget.State.PUBLISHED, external_id=external_id,
                                                published_at=timezone.now() - timedelta(hours=hours_ago))
    return post


def our_post(fake, owner, account, *, hours_ago: float = 1.0) -> str:
    status = fake.post_as(fake.own["username"], "Nuestro café de temporada")
    published(owner, account, status["id"], hours_ago=hours_ago)
    return status["id"]


def poll(**kw):
    return polling.poll_due_accounts(**kw)


def make_due(account):
    InboxSync.objects.filter(account=account).update(next_poll_at=timezone.now() - timedelta(seconds=1))


def test_first_poll_creates_the_row_and_stores_replies_mentions_and_the_cursor(fake_mastodon, owner, account):
    root = our_post(fake_mastodon, owner, account)
    reply = fake_mastodon.post_as("admin", "¿Tenéis opciones sin lactosa?", in_reply_to=root)
    mention = fake_mastodon.post_as("mastodonpy_test_2", f"Gran servicio @{fake_mastodon.own['username']}")
    result = poll()
    assert result["outcomes"] == {str(account.pk): "ok"}
    assert result["created"] == 2
    sync = InboxSync.objects.get(account=account)
    assert sync.cursor and sync.last_error == "" and sync.lease_until is None
    assert sync.next_poll_at > timezone.now()
    comment = Interaction.objects.get(external_id=reply["id"])
    assert comment.text == "¿Tenéis opciones sin lactosa?"
    assert comment.conversation.kind == Conversation.Kind.COMMENT
    assert comment.conversation.root_external_id == root
    assert comment.parent_external_id == root
    assert comment.author.handle.startswith("@admin")
    assert Interaction.objects.get(external_id=mention["id"]).conversation.kind == Conversation.Kind.MENTION


def test_duplicates_across_polls_are_stored_once_and_new_ones_added(fake_mastodon, owner, account):
    root = our_post(fake_mastodon, owner, account)
    fake_mastodon.post_as("admin", "primero", in_reply_to=root)
    assert poll()["created"] == 1
    make_due(account)
    second = poll()
    assert second["created"] == 0
    assert Interaction.objects.filter(account=account).count() == 1
    fake_mastodon.post_as("admin", "segundo", in_reply_to=root)
    make_due(account)
    assert poll()["created"] == 1
    assert sorted(Interaction.objects.values_list("text", flat=True)) == ["primero", "segundo"]


def test_a_poll_that_is_not_due_does_nothing(fake_mastodon, account):
    poll()
    before = len(fake_mastodon.requests)
    assert poll()["claimed"] == 0
    assert len(fake_mastodon.requests) == before


def test_several_pages_of_mentions_are_all_read_then_resumed_from_the_cursor(fake_mastodon, account):
    name = fake_mastodon.own["username"]
    for n in range(95):  # three pages of 40
        fake_mastodon.post_as("admin", f"@{name} mensaje {n}")
    assert poll()["created"] == 95
    assert len(fake_mastodon.requests_to("GET", "/api/v1/notifications")) >= 3
    cursor = InboxSync.objects.get(account=account).cursor
    for n in range(95, 180):
        fake_mastodon.post_as("admin", f"@{name} mensaje {n}")
    make_due(account)
    assert poll()["created"] == 85
    assert Interaction.objects.filter(account=account).count() == 180
    assert InboxSync.objects.get(account=account).cursor != cursor
    # The resumed poll walked forward from the stored position (min_id), not from the top.
    forward = [r for r in fake_mastodon.requests_to("GET", "/api/v1/notifications") if r.q("min_id")]
    assert forward


def test_more_than_the_page_bound_is_read_in_further_rounds(fake_mastodon, account, settings):
    name = fake_mastodon.own["username"]
    fake_mastodon.post_as("admin", f"@{name} antes")
    poll()
    for n in range(90):
        fake_mastodon.post_as("admin", f"@{name} luego {n}")
    # One page of 40 per call: the connector says "more" and the poller calls again.
    settings.INBOX_POLLING = {"JITTER": 0.0, "CONNECTOR_OPTIONS": {"mastodon": {"interaction_pages": 1}}}
    make_due(account)
    result = poll()
    assert result["created"] == 90
    assert Interaction.objects.filter(account=account).count() == 91
    forward = [r for r in fake_mastodon.requests_to("GET", "/api/v1/notifications") if r.q("min_id")]
    assert len(forward) >= 3  # 40 + 40 + 10, one page per round


def test_an_edit_on_the_network_updates_the_text(fake_mastodon, owner, account):
    root = our_post(fake_mastodon, owner, account)
    # Written two hours ago, so only its edited_at brings it back past the cursor's floor.
    reply = fake_mastodon.post_as("admin", "El pedido llegó tarde", in_reply_to=root,
                                  created_at=timezone.now() - timedelta(hours=2))
    fake_mastodon.post_as("admin", f"@{fake_mastodon.own['username']} otra cosa")
    poll()
    assert Interaction.objects.filter(account=account).count() == 2
    make_due(account)
    assert poll()["edited"] == 0
    fake_mastodon.edit_as("admin", reply["id"], "El pedido llegó tarde y frío")
    make_due(account)
    result = poll()
    assert result["edited"] == 1 and result["created"] == 0
    row = Interaction.objects.get(external_id=reply["id"])
    assert row.text == "El pedido llegó tarde y frío"
    assert row.edited_at is not None


def test_a_deletion_on_the_network_is_marked_and_the_row_kept(fake_mastodon, owner, account):
    root = our_post(fake_mastodon, owner, account)
    keep = fake_mastodon.post_as("admin", "me quedo", in_reply_to=root)
    gone = fake_mastodon.post_as("mastodonpy_test_2", "me voy", in_reply_to=root)
    poll()
    fake_mastodon.delete_as("mastodonpy_test_2", gone["id"])
    make_due(account)
    assert poll()["deleted"] == 1
    row = Interaction.objects.get(external_id=gone["id"])
    assert row.deleted_at is not None and row.text == "me voy"
    assert Interaction.objects.get(external_id=keep["id"]).deleted_at is None
    # Seen again as deleted: counted once.
    make_due(account)
    assert poll()["deleted"] == 0


def test_a_thread_that_could_not_be_read_marks_nothing_deleted(fake_mastodon, owner, account):
    root = our_post(fake_mastodon, owner, account)
    fake_mastodon.post_as("admin", "hola", in_reply_to=root)
    poll()
    fake_mastodon.inject("GET /api/v1/statuses/:id/context", Fault.respond(404, {"error": "Not Found"}))
    make_due(account)
    assert poll()["deleted"] == 0
    assert Interaction.objects.get().deleted_at is None


def test_rate_limited_postpones_the_next_poll_past_the_reset(fake_mastodon, account):
    fake_mastodon.inject("GET /api/v1/notifications", Fault.rate_limited(reset_in=900, retry_after=900), times=5)
    start = timezone.now()
    result = poll()
    assert result["outcomes"] == {str(account.pk): "rate_limited"}
    sync = InboxSync.objects.get(account=account)
    assert sync.next_poll_at >= start + timedelta(seconds=900)
    assert "slow down" in sync.last_error
    assert sync.lease_until is None
    assert poll()["claimed"] == 0  # not due before the reset


def test_an_expired_token_marks_the_account_and_stops_polling_it(fake_mastodon, account, brand_a):
    fake_mastodon.expire_token()
    result = poll()
    assert result["outcomes"] == {str(account.pk): "needs_reconnect"}
    account.refresh_from_db()
    assert account.status == SocialAccount.Status.NEEDS_RECONNECT
    sync = InboxSync.objects.get(account=account)
    assert "reconnect" in sync.last_error
    from tertulia.core.models import Notification

    assert Notification.objects.filter(kind="account.needs_reconnect").exists()
    make_due(account)
    assert poll()["claimed"] == 0  # a parked account is not polled


def test_server_errors_back_off_and_one_account_does_not_stop_another(fake_mastodon, owner, account):
    ctx, brand = owner
    broken = do_add_account(ctx, brand, network="mastodon", handle="broken@fake.example", access_token="x",
                            base_url="http://127.0.0.1:9", external_id="1")
    fake_mastodon.post_as("admin", f"@{fake_mastodon.own['username']} hola")
    result = poll()
    assert result["outcomes"][str(account.pk)] == "ok"
    assert result["outcomes"][str(broken.pk)] == "retry"
    assert Interaction.objects.filter(account=account).count() == 1
    sync = InboxSync.objects.get(account=broken)
    assert sync.failures == 1 and "could not be reached" in sync.last_error
    first_delay = sync.next_poll_at - sync.last_polled_at
    make_due(broken)
    poll()
    sync.refresh_from_db()
    assert sync.failures == 2
    assert sync.next_poll_at - sync.last_polled_at > first_delay  # exponential


def test_the_interval_shortens_with_activity_and_lengthens_when_quiet(fake_mastodon, account):
    name = fake_mastodon.own["username"]
    poll()  # quiet
    sync = InboxSync.objects.get(account=account)
    assert sync.interval_seconds == 450  # 300 x 1.5
    make_due(account)
    poll()
    assert InboxSync.objects.get(account=account).interval_seconds == 675
    fake_mastodon.post_as("admin", f"@{name} ¡hola!")
    make_due(account)
    poll()
    sync.refresh_from_db()
    assert sync.interval_seconds == 337 and sync.last_found == 1
    for _ in range(10):  # quiet for a long time: capped
        make_due(account)
        poll()
    assert InboxSync.objects.get(account=account).interval_seconds == 3600


def test_a_fresh_post_keeps_the_interval_short(fake_mastodon, owner, account):
    our_post(fake_mastodon, owner, account, hours_ago=1)
    for _ in range(3):
        make_due(account)
        poll()
    assert InboxSync.objects.get(account=account).interval_seconds <= 150


def test_two_consumers_never_claim_the_same_account(account):
    now = timezone.now()
    polling.ensure_syncs(now)
    sync = InboxSync.objects.get(account=account)
    assert polling.claim(sync.pk, now) is True
    assert polling.claim(sync.pk, now) is False  # the lease is held
    assert polling.claim(sync.pk, now + timedelta(seconds=polling.conf("LEASE_SECONDS") + 1)) is True  # expired


def test_paused_and_demo_accounts_are_not_polled(fake_mastodon, account):
    from tertulia.core.models import Organization

    SocialAccount.objects.filter(pk=account.pk).update(paused=True)
    assert poll()["claimed"] == 0
    SocialAccount.objects.filter(pk=account.pk).update(paused=False)
    Organization.objects.filter(pk=account.brand.organization_id).update(is_demo=True)
    assert poll()["claimed"] == 0
    assert not fake_mastodon.requests_to("GET", "/api/v1/notifications")
    Organization.objects.filter(pk=account.brand.organization_id).update(is_demo=False)
    assert poll()["claimed"] == 1  # resumed: polled again
