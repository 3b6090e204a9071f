"""inbox.services.ingest_interactions: idempotent batches, author and conversation merging."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from tertulia.core.services import Ctx
from tertulia.inbox import services
from tertulia.inbox.models import Author, Conversation, Interaction
from tertulia.inbox.services import IncomingAuthor, IncomingInteraction
from tertulia.networks.services import do_add_account

T0 = datetime(2025, 3, 1, 10, 0, tzinfo=UTC)
ANA = IncomingAuthor(external_id="u-ana", handle="@ana", display_name="Ana", followers=120)


@pytest.fixture
def account(brand_a):
    brand, people = brand_a
    return do_add_account(Ctx(people["owner"]), brand, network="x", handle="alpha", external_id="acc-1")


def me(account):
    return IncomingAuthor(external_id=account.external_id, handle=account.handle)


def msg(ext, at=T0, author=ANA, kind="comment", root="post-1", text=None, **kw):
    return IncomingInteraction(external_id=ext, kind=kind, author=author, text=text or f"hola {ext}",
                               created_at=at, root_external_id=root, **kw)


def test_the_same_batch_twice_is_stored_once(account):
    batch = [msg("c1"), msg("c2", T0 + timedelta(minutes=5)), msg("c3", author=IncomingAuthor("u-bo", "@bo"))]
    first = services.ingest_interactions(account, batch)
    assert (first.created, first.duplicates, first.new_authors, first.new_conversations) == (3, 0, 2, 2)
    again = services.ingest_interactions(account, batch)
    assert (again.created, again.duplicates, again.new_authors, again.new_conversations) == (0, 3, 0, 0)
    assert Interaction.objects.filter(account=account).count() == 3
    assert Author.objects.count() == 2
    assert Conversation.objects.count() == 2
    # Both answers map every external id to its conversation.
    assert first.conversation_ids == again.conversation_ids


def test_a_repeated_id_inside_one_batch_is_stored_once(account):
    result = services.ingest_interactions(account, [msg("c1"), msg("c1", text="copy")])
    assert result.created == 1
    assert Interaction.objects.get().text == "hola c1"


def test_a_changed_text_on_a_known_id_is_an_edit(account):
    services.ingest_interactions(account, [msg("c1", text="Me encanta el cafe")])
    result = services.ingest_interactions(account, [msg("c1", text="Me encanta el café")])
    assert (result.created, result.edited) == (0, 1)
    row = Interaction.objects.get()
    assert row.text == "Me encanta el café" and row.edited_at is not None


def test_authors_are_merged_not_duplicated(account):
    services.ingest_interactions(account, [msg("c1")])
    renamed = IncomingAuthor(external_id="u-ana", handle="@ana_new", display_name="", followers=None)
    services.ingest_interactions(account, [msg("c2", author=renamed)])
    author = Author.objects.get()
    assert author.handle == "@ana_new"
    # An empty name or an unknown follower count does not erase what we knew.
    assert (author.display_name, author.followers) == ("Ana", 120)


def test_last_message_only_moves_forward_and_the_newest_message_decides_the_status(account):
    services.ingest_interactions(account, [msg("c2", T0 + timedelta(hours=2))])
    # A late poll brings an older reply from the brand: it must not move time back nor
    # mark the conversation as waiting for the customer.
    services.ingest_interactions(account, [
        msg("r1", T0 + timedelta(hours=1), author=me(account), direction="out", counterpart=ANA),
    ])
    conv = Conversation.objects.get()
    assert conv.last_message_at == T0 + timedelta(hours=2)
    assert conv.status == Conversation.Status.OPEN
    assert conv.first_response_at == T0 + timedelta(hours=1)


def test_a_reply_waits_for_the_customer_and_a_new_message_reopens(account, brand_a):
    brand, people = brand_a
    services.ingest_interactions(account, [
        msg("c1"),
        msg("r1", T0 + timedelta(minutes=30), author=me(account), direction="out", counterpart=ANA),
    ])
    conv = Conversation.objects.get()
    assert conv.status == Conversation.Status.PENDING
    assert conv.first_response_at == T0 + timedelta(minutes=30)
    # The brand's reply is stored with the brand's account as its author.
    assert Interaction.objects.get(external_id="r1").author.handle == account.handle

    services.do_set_status(Ctx(people["community_manager"]), brand, [conv.pk], Conversation.Status.CLOSED)
    conv.refresh_from_db()
    assert conv.status == Conversation.Status.CLOSED and conv.closed_at is not None

    services.ingest_interactions(account, [msg("c2", T0 + timedelta(days=1))])
    conv.refresh_from_db()
    assert (conv.status, conv.closed_at) == (Conversation.Status.OPEN, None)
    assert conv.last_message_at == T0 + timedelta(days=1)
    assert conv.first_response_at == T0 + timedelta(minutes=30)  # kept


def test_a_brand_reply_on_a_closed_conversation_leaves_it_pending_not_half_closed(account, brand_a):
    brand, people = brand_a
    services.ingest_interactions(account, [msg("c1")])
    conv = Conversation.objects.get()
    services.do_set_status(Ctx(people["community_manager"]), brand, [conv.pk], Conversation.Status.CLOSED)
    services.ingest_interactions(account, [
        msg("r1", T0 + timedelta(hours=2), author=me(account), direction="out", counterpart=ANA),
    ])
    conv.refresh_from_db()
    assert (conv.status, conv.closed_at) == (Conversation.Status.PENDING, None)


def test_first_response_ignores_the_brand_writing_before_the_customer(account):
    services.ingest_interactions(account, [
        msg("r0", T0, author=me(account), direction="out", counterpart=ANA, kind="dm", root="t1"),
        msg("c1", T0 + timedelta(hours=1), kind="dm", root="t1"),
        msg("r1", T0 + timedelta(hours=3), author=me(account), direction="out", counterpart=ANA, kind="dm",
            root="t1"),
    ])
    conv = Conversation.objects.get()
    assert conv.first_response_at == T0 + timedelta(hours=3)
    assert conv.interactions.count() == 3


def test_conversations_are_per_person_kind_and_thread(account):
    bo = IncomingAuthor("u-bo", "@bo")
    services.ingest_interactions(account, [
        msg("a1"), msg("a2", T0 + timedelta(minutes=1)),  # Ana on post-1
        msg("a3", root="post-2"),  # Ana on another post
        msg("b1", author=bo),  # Bo on post-1
        msg("m1", kind="mention", root="m1"),  # Ana mentions the brand
        msg("d1", kind="dm", root="dm-ana"), msg("d2", T0 + timedelta(days=9), kind="dm", root="dm-ana"),
    ])
    assert Conversation.objects.count() == 5
    assert Conversation.objects.get(kind="dm").interactions.count() == 2


def test_large_batches_go_past_the_database_parameter_limits(account):
    batch = [msg(f"c{i}", T0 + timedelta(seconds=i), author=IncomingAuthor(f"u{i % 700}", f"@u{i % 700}"),
                 root=f"post-{i % 300}") for i in range(3000)]
    first = services.ingest_interactions(account, batch)
    assert first.created == 3000
    assert Author.objects.count() == 700
    again = services.ingest_interactions(account, batch[::-1])
    assert (again.created, again.duplicates) == (0, 3000)
    assert Interaction.objects.count() == 3000
    assert Conversation.objects.count() == first.new_conversations


def test_the_same_ids_in_two_brands_stay_apart(account, brand_b):
    brand, people = brand_b
    other = do_add_account(Ctx(people["owner"]), brand, network="x", handle="beta", external_id="acc-2")
    services.ingest_interactions(account, [msg("c1")])
    services.ingest_interactions(other, [msg("c1")])
    assert Author.objects.filter(external_id="u-ana").count() == 2
    assert Interaction.objects.filter(external_id="c1").count() == 2
    assert set(Interaction.objects.values_list("brand_id", flat=True)) == {account.brand_id, brand.pk}


def test_stored_values_read_back_exactly(account):
    at = datetime(2025, 7, 14, 23, 59, 58, 123456, tzinfo=UTC)
    services.ingest_interactions(account, [msg("c1", at, language="es", intent="praise", sentiment="positive",
                                               toxicity=0.01, urgency=None, parent_external_id="post-1")])
    row = Interaction.objects.get()
    assert row.created_at == at
    assert (row.language, row.intent, row.sentiment, row.toxicity, row.urgency) == ("es", "praise", "positive",
                                                                                    0.01, None)
    assert Interaction.objects.filter(created_at__gte=at, created_at__lt=at + timedelta(microseconds=1)).exists()


@pytest.mark.parametrize("bad", [
    dict(direction="out"),  # no counterpart
    dict(kind="carrier-pigeon"),
    dict(at=datetime(2025, 1, 1)),  # naive
])
def test_invalid_items_are_refused(account, bad):
    with pytest.raises(ValidationError):
        services.ingest_interactions(account, [msg("c1", **bad)])
    assert not Interaction.objects.exists()


def test_bulk_status_needs_the_reply_permission(account, brand_a):
    brand, people = brand_a
    services.ingest_interactions(account, [msg("c1")])
    conv = Conversation.objects.get()
    with pytest.raises(PermissionDenied):
        services.do_set_status(Ctx(people["analyst"]), brand, [conv.pk], Conversation.Status.CLOSED)
    with pytest.raises(ValidationError):
        services.do_set_status(Ctx(people["community_manager"]), brand, [conv.pk], "archived")


def test_bulk_status_never_reaches_another_brand(account, brand_b):
    services.ingest_interactions(account, [msg("c1")])
    conv = Conversation.objects.get()
    brand, people = brand_b
    assert services.do_set_status(Ctx(people["owner"]), brand, [conv.pk], Conversation.Status.CLOSED) == 0
    conv.refresh_from_db()
    assert conv.status == Conversation.Status.OPEN


def test_the_inactivity_rule_closes_only_conversations_waiting_for_the_customer(account):
    services.ingest_interactions(account, [
        msg("c1"), msg("r1", T0 + timedelta(minutes=5), author=me(account), direction="out", counterpart=ANA),
        msg("c2", root="post-2"),  # unanswered: the team still owes a reply
    ])
    closed = services.close_inactive(account.brand, before=T0 + timedelta(days=7))
    assert closed == 1
    statuses = dict(Conversation.objects.values_list("root_external_id", "status"))
    assert statuses == {"post-1": Conversation.Status.CLOSED, "post-2": Conversation.Status.OPEN}
