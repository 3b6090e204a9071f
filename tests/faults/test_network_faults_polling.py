"""Network faults while polling the inbox, against the loopback fakes (issue 10, "Faults to
survive"): the ones the inbox's own tests did not cover yet (the map is in the report):
truncated JSON, slow answers (within and past the timeout), and a token that expires in the
middle of a multi-round poll, on Mastodon and on the Graph API (Facebook Pages).

The outcome each time: nothing lost (a later poll stores everything), nothing twice (one row
per network id), and the account's sync row says why it is waiting (``last_error``, shown on
the accounts page) until a good poll clears it.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from tertulia.inbox import polling
from tertulia.inbox.models import InboxSync, Interaction
from tertulia.inbox.tests.conftest import owner, polling_settings  # noqa: F401
from tertulia.networks.models import SocialAccount
from tertulia.networks.services import do_add_account, do_update_account
from tests.fakes import facebook, mastodon
from tests.fakes.facebook_plugin import fake_graph  # noqa: F401
from tests.fakes.pytest_plugin import fake_mastodon  # noqa: F401

pytestmark = pytest.mark.django_db
READ_TIMEOUT = 0.5


@pytest.fixture(autouse=True)
def fast_timeouts(polling_settings):  # noqa: F811
    polling_settings.PUBLISHING = {**polling_settings.PUBLISHING, "HTTP": {
        "connect_timeout": 2.0, "read_timeout": READ_TIMEOUT, "write_timeout": 2.0, "allow_private_networks": True}}
    polling_settings.INBOX_POLLING = {"JITTER": 0.0, "THREAD_DAYS": 100_000}
    return polling_settings


@pytest.fixture
def toot(owner, fake_mastodon):  # noqa: F811
    ctx, brand = owner
    return do_add_account(ctx, brand, network="mastodon", handle=f"{fake_mastodon.own['username']}@fake.example",
                          access_token=fake_mastodon.token, base_url=fake_mastodon.base_url,
                          external_id=fake_mastodon.own["id"])


@pytest.fixture
def page(owner, fake_graph):  # noqa: F811
    ctx, brand = owner
    return do_add_account(ctx, brand, network="facebook", handle="facebookapp", access_token=fake_graph.page_token,
                          base_url=fake_graph.base_url, external_id=facebook.PAGE_ID)


def _our_facebook_post(owner, page) -> None:
    from tertulia.content.services import do_create_post
    from tertulia.publishing.models import PostTarget

    ctx, brand = owner
    post = do_create_post(ctx, brand, text="Novedades de la semana", accounts=[page])
    PostTarget.objects.filter(post=post).update(state=PostTarget.State.PUBLISHED, external_id=facebook.CORPUS_POST,
                                                published_at=timezone.now() - timedelta(hours=30))


def _make_due(account) -> None:
    InboxSync.objects.filter(account=account).update(next_poll_at=timezone.now() - timedelta(seconds=1))


def _stored(account) -> list[str]:
    ids = list(Interaction.objects.filter(account=account).values_list("external_id", flat=True))
    assert len(ids) == len(set(ids))  # (the unique constraint would refuse a second row anyway)
    return sorted(ids)


def _mentions(fake, n: int, start: int = 0) -> list[str]:
    name = fake.own["username"]
    return [fake.post_as("admin", f"@{name} pregunta {i}")["id"] for i in range(start, start + n)]


def _waiting_with_reason(account, words: str) -> InboxSync:
    sync = InboxSync.objects.get(account=account)
    assert sync.lease_until is None and sync.failures >= 1 and words in sync.last_error
    assert sync.next_poll_at > timezone.now()
    return sync


def _recovers(account, expected: list[str]) -> None:
    _make_due(account)
    result = polling.poll_due_accounts()
    assert result["outcomes"] == {str(account.pk): "ok"}, result
    assert _stored(account) == sorted(expected)
    sync = InboxSync.objects.get(account=account)
    assert sync.last_error == "" and sync.failures == 0 and sync.lease_until is None
    _make_due(account)
    assert polling.poll_due_accounts()["created"] == 0  # read again: nothing twice


# -- truncated JSON --------------------------------------------------------------------------------


def test_mastodon_truncated_json_is_retried_and_nothing_is_lost(fake_mastodon, toot):  # noqa: F811
    expected = _mentions(fake_mastodon, 3)
    fake_mastodon.inject("GET /api/v1/notifications", mastodon.Fault.malformed('[{"id": "1", "type": "ment'))
    assert polling.poll_due_accounts()["outcomes"] == {str(toot.pk): "retry"}
    assert _stored(toot) == []
    _waiting_with_reason(toot, "could not be reached or answered with an error")
    _recovers(toot, expected)


def test_facebook_truncated_json_is_retried_and_nothing_is_lost(fake_graph, owner, page):  # noqa: F811
    _our_facebook_post(owner, page)
    for n in range(5):
        fake_graph.comment(facebook.CORPUS_POST, f"comentario {n}", name=f"Persona {n}", age=60 + n)
    fake_graph.inject("GET /:id/comments", facebook.Fault.malformed('{"data": [{"id": "'))
    assert polling.poll_due_accounts()["outcomes"] == {str(page.pk): "retry"}
    assert _stored(page) == []
    _waiting_with_reason(page, "could not be reached or answered with an error")
    _make_due(page)
    assert polling.poll_due_accounts()["outcomes"] == {str(page.pk): "ok"}
    first = _stored(page)
    assert len(first) >= 5
    _recovers(page, first)


# -- 5xx -----------------------------------------------------------------------------------------


def test_mastodon_5xx_is_retried_and_nothing_is_lost(fake_mastodon, toot):  # noqa: F811
    expected = _mentions(fake_mastodon, 2)
    fake_mastodon.inject("GET /api/v1/conversations", mastodon.Fault.server_error(503))
    assert polling.poll_due_accounts()["outcomes"] == {str(toot.pk): "retry"}
    assert _stored(toot) == []  # the notifications read before it are not half-stored
    _waiting_with_reason(toot, "could not be reached or answered with an error")
    _recovers(toot, expected)


# -- slow answers ----------------------------------------------------------------------------------


def test_mastodon_slow_answers_within_the_timeout_are_read(fake_mastodon, toot):  # noqa: F811
    expected = _mentions(fake_mastodon, 2)
    fake_mastodon.latency = READ_TIMEOUT / 3  # every request, not only one
    assert polling.poll_due_accounts()["outcomes"] == {str(toot.pk): "ok"}
    assert _stored(toot) == sorted(expected)


def test_mastodon_answer_slower_than_the_timeout_is_retried_later(fake_mastodon, toot):  # noqa: F811
    expected = _mentions(fake_mastodon, 2)
    fake_mastodon.inject("GET /api/v1/notifications", mastodon.Fault.latency(READ_TIMEOUT * 3))
    assert polling.poll_due_accounts()["outcomes"] == {str(toot.pk): "retry"}
    assert _stored(toot) == []
    _waiting_with_reason(toot, "could not be reached")
    _recovers(toot, expected)


def test_facebook_answer_slower_than_the_timeout_is_retried_later(fake_graph, owner, page):  # noqa: F811
    _our_facebook_post(owner, page)
    fake_graph.comment(facebook.CORPUS_POST, "¿Abrís el domingo?", name="Ana", age=30)
    fake_graph.inject("GET /:id/comments", facebook.Fault.latency(READ_TIMEOUT * 3))
    assert polling.poll_due_accounts()["outcomes"] == {str(page.pk): "retry"}
    assert _stored(page) == []
    _waiting_with_reason(page, "could not be reached")
    _make_due(page)
    assert polling.poll_due_accounts()["outcomes"] == {str(page.pk): "ok"}
    stored = _stored(page)
    assert stored
    _recovers(page, stored)


# -- an expired token in the middle of a batch -----------------------------------------------------


def test_mastodon_token_expiring_between_rounds_keeps_what_was_read(fake_mastodon, owner, toot, settings):  # noqa: F811
    """Round 1 of a poll is stored with its cursor; the token expires before round 2. The account
    is parked with the reason; once reconnected, the next poll resumes from the cursor."""
    from tertulia.core.models import Notification

    first = _mentions(fake_mastodon, 1)
    polling.poll_due_accounts()
    later = _mentions(fake_mastodon, 90, start=1)
    settings.INBOX_POLLING = {**settings.INBOX_POLLING, "CONNECTOR_OPTIONS": {"mastodon": {"interaction_pages": 1}}}
    seen = {"notifications": 0}

    def expires_before_round_two(path: str) -> bool:
        # The network revokes the token once the first round of this poll has been read.
        if path.rstrip("/") == "/api/v1/notifications":
            seen["notifications"] += 1
            if seen["notifications"] == 2:
                fake_mastodon.expire_token()
        return False

    fake_mastodon._add_rule("GET", expires_before_round_two, mastodon.Fault.latency(0), None, 1.0)
    _make_due(toot)
    assert polling.poll_due_accounts()["outcomes"] == {str(toot.pk): "needs_reconnect"}
    kept = _stored(toot)
    assert len(kept) == 1 + 40  # round 1 stored (one page of 40), nothing of round 2
    toot.refresh_from_db()
    assert toot.status == SocialAccount.Status.NEEDS_RECONNECT
    _waiting_with_reason(toot, "reconnect the account")
    assert Notification.objects.filter(kind="account.needs_reconnect").exists()  # the team is told
    # Reconnected with a new token: the next poll resumes where round 1 stopped.
    ctx, _brand = owner
    do_update_account(ctx, toot, access_token=fake_mastodon.issue_token(fake_mastodon.own["id"]))
    _recovers(toot, first + later)
