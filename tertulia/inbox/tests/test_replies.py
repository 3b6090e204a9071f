"""Replies from the inbox go out through the connector at most once, and are never lost
(the loopback Mastodon fake)."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone
from huey.contrib.djhuey import HUEY

from tertulia.core.models import Notification
from tertulia.core.services import Ctx
from tertulia.inbox import replies
from tertulia.inbox.models import Conversation, Interaction, OutgoingReply, SavedReply
from tertulia.inbox.services import IncomingAuthor
from tertulia.networks.models import SocialAccount
from tertulia.networks.services import do_add_account
from tests.fakes.mastodon import Fault
from tests.fakes.pytest_plugin import fake_mastodon  # noqa: F401

from .backend_helpers import brand, cm_ctx, ingest, loopback, msg, owner_ctx, people  # noqa: F401

pytestmark = pytest.mark.django_db(transaction=True)
R = OutgoingReply.State


@pytest.fixture
def account(owner_ctx, brand, fake_mastodon, loopback):  # noqa: F811
    return do_add_account(owner_ctx, brand, network="mastodon", handle="@john", access_token=fake_mastodon.token,
                          base_url=fake_mastodon.base_url, external_id=fake_mastodon.own["id"])


@pytest.fixture
def conversation(account, fake_mastodon):  # noqa: F811
    fake_mastodon.add_account("ana", display_name="Ana García")
    status = fake_mastodon.post_as("ana", "@john ¿cuándo abrís el domingo?")
    ana = IncomingAuthor(external_id=fake_mastodon.account_named("ana")["id"], handle="@ana",
                         display_name="Ana García")
    ingest(account, msg(status["id"], text="¿cuándo abrís el domingo?", author=ana, kind="mention",
                        root=status["id"], at=timezone.now() - timedelta(minutes=5)))
    return Conversation.objects.get()


def drain(reply, until=lambda r: r.state in (R.SENT, R.FAILED), timeout=10.0):
    deadline = time.monotonic() + timeout
    while True:
        reply.refresh_from_db()
        if until(reply):
            return reply
        if time.monotonic() > deadline:
            raise AssertionError(f"reply {reply.pk} still {reply.state}")
        for task in HUEY.read_schedule():
            HUEY.execute(task)
        time.sleep(0.02)


def own_replies(fake):
    return [s for s in fake.own_statuses() if s.get("in_reply_to_id")]


def test_a_reply_goes_out_once_and_the_conversation_is_answered(conversation, cm_ctx, fake_mastodon):  # noqa: F811
    reply = replies.do_reply(cm_ctx, conversation, "  Abrimos a las 10, ¡te esperamos!  ")
    reply.refresh_from_db()
    assert reply.state == R.SENT and reply.attempts == 1 and reply.external_id
    (status,) = own_replies(fake_mastodon)
    assert status["id"] == reply.external_id
    assert status["in_reply_to_id"] == conversation.root_external_id
    conversation.refresh_from_db()
    assert conversation.status == Conversation.Status.PENDING
    assert conversation.first_response_at is not None  # the SLA timer stopped
    answer = Interaction.objects.get(external_id=reply.external_id)
    assert answer.direction == "out" and answer.text == "Abrimos a las 10, ¡te esperamos!"
    assert answer.conversation_id == conversation.pk
    # The task running again (a duplicate delivery) sends nothing.
    assert replies.send(reply.pk) == "stale"
    assert len(own_replies(fake_mastodon)) == 1


def test_the_same_reply_sent_twice_in_a_row_goes_out_once(conversation, cm_ctx, fake_mastodon):  # noqa: F811
    """A double click or a repeated POST: one reply to the customer, the same row back."""
    first = replies.do_reply(cm_ctx, conversation, "Te escribimos por privado.")
    again = replies.do_reply(cm_ctx, conversation, "Te escribimos por privado. ")
    assert again.pk == first.pk and len(own_replies(fake_mastodon)) == 1
    other = replies.do_reply(cm_ctx, conversation, "Y otra cosa más.")
    assert other.pk != first.pk and len(own_replies(fake_mastodon)) == 2


def test_the_text_is_checked_with_the_networks_rules(conversation, cm_ctx, people):  # noqa: F811
    for text in ("", "   ", "x" * 501, "y" * 20000):
        with pytest.raises(ValidationError):
            replies.do_reply(cm_ctx, conversation, text)
    with pytest.raises(PermissionDenied):
        replies.do_reply(Ctx(people["analyst"]), conversation, "hola")
    other = Conversation(pk=conversation.pk + 1000)
    with pytest.raises(ValidationError):
        replies.do_reply(cm_ctx, conversation, "hola", in_reply_to=Interaction(conversation_id=other.pk))
    assert not OutgoingReply.objects.exists()


def test_a_5xx_is_retried_with_backoff_then_sent_once(conversation, cm_ctx, fake_mastodon):  # noqa: F811
    fake_mastodon.inject("POST /api/v1/statuses", Fault.server_error(503), times=2)
    reply = replies.do_reply(cm_ctx, conversation, "Gracias por escribirnos")
    reply.refresh_from_db()
    assert reply.state == R.QUEUED and reply.next_attempt_at is not None and reply.error
    drain(reply)
    assert reply.state == R.SENT and reply.attempts == 3
    assert len(own_replies(fake_mastodon)) == 1


def test_retries_run_out_and_the_writer_is_told(conversation, cm_ctx, fake_mastodon, people):  # noqa: F811
    fake_mastodon.inject("POST /api/v1/statuses", Fault.server_error(500), times=None)
    reply = replies.do_reply(cm_ctx, conversation, "Gracias")
    drain(reply)
    assert reply.state == R.FAILED and reply.attempts == 3
    assert reply.error.startswith("We tried 3 times")
    assert Notification.objects.filter(recipient=people["community_manager"], kind="inbox.reply_failed").exists()
    assert own_replies(fake_mastodon) == []
    # The person retries once the network is back.
    fake_mastodon.clear_faults()
    replies.do_retry_reply(cm_ctx, reply)
    drain(reply)
    assert reply.state == R.SENT and len(own_replies(fake_mastodon)) == 1
    with pytest.raises(ValidationError):
        replies.do_retry_reply(cm_ctx, reply)  # only a failed reply


def test_a_permanent_refusal_fails_with_the_networks_reason(conversation, cm_ctx, fake_mastodon):  # noqa: F811
    fake_mastodon.inject("POST /api/v1/statuses", Fault.respond(422, {"error": "Validation failed: nope"}))
    reply = replies.do_reply(cm_ctx, conversation, "Hola")
    reply.refresh_from_db()
    assert reply.state == R.FAILED and reply.attempts == 1 and reply.error
    conversation.refresh_from_db()
    assert conversation.first_response_at is None


def test_an_ambiguous_timeout_is_looked_up_not_resent(conversation, cm_ctx, fake_mastodon):  # noqa: F811
    # The server creates the status (with the mention Mastodon clients add), then stalls
    # longer than our read timeout.
    fake_mastodon.inject("POST /api/v1/statuses", Fault.timeout_after(2.0))
    reply = replies.do_reply(cm_ctx, conversation, "Abrimos a las 10")
    reply.refresh_from_db()
    (status,) = own_replies(fake_mastodon)
    assert reply.state == R.SENT and reply.external_id == status["id"]
    assert len(fake_mastodon.requests_to("POST", "/api/v1/statuses")) == 1  # never re-sent
    assert Conversation.objects.get().first_response_at is not None


def test_a_reply_that_cannot_be_looked_up_fails_plainly(conversation, cm_ctx, fake_mastodon):  # noqa: F811
    fake_mastodon.inject("POST /api/v1/statuses", Fault.timeout_after(2.0))
    fake_mastodon.inject("GET /api/v1/accounts/:id/statuses", Fault.server_error(503), times=None)
    reply = replies.do_reply(cm_ctx, conversation, "Abrimos a las 10")
    reply.refresh_from_db()
    assert reply.state == R.FAILED
    assert "cannot tell whether this reply went out" in reply.error
    assert len(fake_mastodon.requests_to("POST", "/api/v1/statuses")) == 1


def test_an_expired_sign_in_parks_the_reply_until_the_account_is_reconnected(  # noqa: F811
        conversation, cm_ctx, fake_mastodon, account, people):
    fake_mastodon.inject("POST /api/v1/statuses", Fault.expired_token())
    reply = replies.do_reply(cm_ctx, conversation, "Hola")
    reply.refresh_from_db()
    account.refresh_from_db()
    assert account.status == SocialAccount.Status.NEEDS_RECONNECT
    assert reply.state == R.QUEUED and "reconnected" in reply.error
    assert replies.sweep() == 0  # waits while the account is not connected
    SocialAccount.objects.filter(pk=account.pk).update(status=SocialAccount.Status.CONNECTED)
    OutgoingReply.objects.filter(pk=reply.pk).update(created_at=timezone.now() - timedelta(minutes=5))
    assert replies.sweep() == 1
    reply.refresh_from_db()
    assert reply.state == R.SENT and len(own_replies(fake_mastodon)) == 1


def test_a_crash_after_the_claim_is_recovered_by_looking_not_by_resending(  # noqa: F811
        conversation, cm_ctx, fake_mastodon, account):
    from django.db import transaction

    with transaction.atomic():  # stored, its task lost
        reply = OutgoingReply.objects.create(brand=conversation.brand, conversation=conversation, account=account,
                                             in_reply_to=conversation.interactions.get(), text="Hola Ana",
                                             marker=replies.new_marker())
    # The consumer claimed it and sent it, then died before writing the outcome.
    OutgoingReply.objects.filter(pk=reply.pk).update(state=R.SENDING, attempts=1,
                                                     next_attempt_at=timezone.now() - timedelta(seconds=1))
    fake_mastodon.post_as(fake_mastodon.own["username"], "@ana Hola Ana", in_reply_to=conversation.root_external_id)
    before = len(fake_mastodon.requests_to("POST", "/api/v1/statuses"))
    assert replies.sweep() == 1
    reply.refresh_from_db()
    assert reply.state == R.SENT and reply.external_id
    assert len(fake_mastodon.requests_to("POST", "/api/v1/statuses")) == before


def test_a_crash_before_the_network_saw_it_is_sent_after_looking(  # noqa: F811
        conversation, cm_ctx, fake_mastodon, account):
    reply = OutgoingReply.objects.create(brand=conversation.brand, conversation=conversation, account=account,
                                         text="Hola de nuevo", marker=replies.new_marker(), state=R.SENDING,
                                         attempts=1, next_attempt_at=timezone.now() - timedelta(seconds=1))
    replies.sweep()
    drain(reply)
    assert reply.state == R.SENT and len(own_replies(fake_mastodon)) == 1
    assert fake_mastodon.requests_to("GET", "/api/v1/accounts/:id/statuses")  # it looked first


def test_render_saved_reply(conversation, people):  # noqa: F811
    agent = people["community_manager"]
    agent.first_name = "Diego"
    saved = SavedReply(brand=conversation.brand, title="t", language="es",
                       text="Hola {name} ({handle}), soy {agent} de {brand}. {unknown} {name!r} {0} {{name}} %(name)s")
    text = replies.render_saved_reply(saved, conversation, agent)
    assert text == (f"Hola Ana García (@ana), soy Diego de {conversation.brand.name}. {{unknown}} {{name!r}} {{0}} "
                    "{Ana García} %(name)s")


def test_render_saved_reply_strips_tricks_from_names(conversation, people):  # noqa: F811
    author = conversation.author
    author.display_name = "Ana\u202e\u200b {agent}\n<script>"
    saved = SavedReply(text="Hola {name}, {agent}")
    text = replies.render_saved_reply(saved, conversation, None)
    assert text == "Hola Ana {agent} <script>, {agent}"  # values are inserted literally, once
    assert "\u202e" not in text and "\u200b" not in text


def test_our_own_error_messages_read_in_the_readers_language(conversation, cm_ctx, account):  # noqa: F811
    from django.utils import translation

    SocialAccount.objects.filter(pk=account.pk).update(status=SocialAccount.Status.NEEDS_RECONNECT)
    reply = replies.do_reply(cm_ctx, Conversation.objects.get(), "Hola")
    assert reply.state == R.QUEUED and not reply.attempts  # stored, waiting, not sent
    with translation.override("es"):
        assert replies.error_text(reply).startswith("En espera")
    with translation.override("en"):
        assert replies.error_text(reply).startswith("Waiting")
