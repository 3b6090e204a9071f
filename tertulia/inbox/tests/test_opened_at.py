"""Conversation.opened_at: the customer's first message, kept by ingestion, by single saves and
by the migration's backfill; what the inbox metrics count "received" by."""

from __future__ import annotations

import importlib
from datetime import UTC, datetime, timedelta

import pytest
from django.apps import apps as django_apps
from django.db import connection

from tertulia.analytics import inbox_metrics
from tertulia.core.services import Ctx
from tertulia.inbox import services, sla
from tertulia.inbox.models import Conversation, Interaction
from tertulia.inbox.services import IncomingAuthor, IncomingInteraction
from tertulia.networks.services import do_add_account

T0 = datetime(2025, 3, 1, 10, 0, tzinfo=UTC)
H = timedelta(hours=1)
ANA = IncomingAuthor(external_id="u-ana", handle="@ana")
LUIS = IncomingAuthor(external_id="u-luis", handle="@luis")


@pytest.fixture
def account(brand_a):
    brand, people = brand_a
    return do_add_account(Ctx(people["owner"]), brand, network="x", handle="alpha", external_id="acc-1")


def msg(ext, at, author=ANA, **kw):
    return IncomingInteraction(external_id=ext, kind="dm", author=author, text=f"hola {ext}", created_at=at,
                               root_external_id=f"thread-{(kw.get('counterpart') or author).external_id}", **kw)


def reply(account, ext, at, to=ANA):
    me = IncomingAuthor(external_id=account.external_id, handle=account.handle)
    return msg(ext, at, author=me, direction="out", counterpart=to)


def opened(author=ANA):
    return Conversation.objects.get(author__external_id=author.external_id).opened_at


def test_a_late_arriving_earlier_inbound_message_moves_opened_at_back(account):
    # The brand wrote first: nobody has written to the brand yet.
    services.ingest_interactions(account, [reply(account, "r0", T0)])
    assert opened() is None
    # One batch: the earliest inbound of the batch, whatever the order.
    services.ingest_interactions(account, [msg("c3", T0 + 3 * H), msg("c2", T0 + 2 * H),
                                           reply(account, "r1", T0 + 4 * H)])
    assert opened() == T0 + 2 * H
    # A later poll brings an older message (a network's delayed delivery): it moves back...
    services.ingest_interactions(account, [msg("c1", T0 + H)])
    assert opened() == T0 + H
    # ...while newer messages, replies and repeated batches leave it alone.
    services.ingest_interactions(account, [msg("c5", T0 + 5 * H), reply(account, "r2", T0 + 6 * H)])
    services.ingest_interactions(account, [msg("c2", T0 + 2 * H), msg("c3", T0 + 3 * H)])
    assert opened() == T0 + H
    # A new conversation in the same batch as a merge into the known one.
    services.ingest_interactions(account, [msg("l1", T0 + 7 * H, author=LUIS), msg("c0", T0 + H / 2)])
    assert (opened(), opened(LUIS)) == (T0 + H / 2, T0 + 7 * H)

    # The metrics count the conversation in the hour its customer first wrote, not later.
    brand_ids = [account.brand_id]
    assert inbox_metrics.summary(brand_ids, T0, T0 + H).received == 1
    assert inbox_metrics.summary(brand_ids, T0 + H, T0 + 7 * H).received == 0
    assert inbox_metrics.summary(brand_ids, T0 + H, T0 + 8 * H).received == 1  # Luis
    assert sla.metrics(account.brand, T0, T0 + H).conversations == 1
    assert sla.metrics(account.brand, T0 + H, T0 + 7 * H).conversations == 0


def test_single_saves_keep_opened_at(account):
    services.ingest_interactions(account, [msg("c1", T0 + 2 * H)])
    conv = Conversation.objects.get()
    author = conv.author
    earlier = Interaction.objects.create(brand_id=account.brand_id, conversation=conv, account=account,
                                         external_id="c0", author=author, text="antes", created_at=T0)
    assert opened() == T0
    # A correction of the time (or direction) is followed both ways; other saves change nothing.
    earlier.created_at = T0 + 3 * H
    earlier.save()
    assert opened() == T0 + 2 * H
    earlier.sentiment = "negative"
    earlier.save(update_fields=["sentiment"])
    assert opened() == T0 + 2 * H
    Interaction.objects.filter(external_id="c1").update(direction="out")  # bypasses save
    earlier.save(update_fields=["direction"])
    assert opened() == T0 + 3 * H


def test_the_migration_backfills_from_the_interactions(account):
    services.ingest_interactions(account, [
        reply(account, "r0", T0), msg("c1", T0 + H), msg("c2", T0 + 2 * H), msg("l1", T0 + 5 * H, author=LUIS),
        reply(account, "r9", T0, to=IncomingAuthor(external_id="u-eva", handle="@eva")),
    ])
    expected = dict(Conversation.objects.values_list("author__external_id", "opened_at"))
    assert expected == {"u-ana": T0 + H, "u-luis": T0 + 5 * H, "u-eva": None}
    Conversation.objects.update(opened_at=T0 - 100 * H)  # wrong values, to be replaced
    migration = importlib.import_module("tertulia.inbox.migrations.0004_conversation_opened_at")
    migration.backfill_opened_at(django_apps, connection.schema_editor())
    assert dict(Conversation.objects.values_list("author__external_id", "opened_at")) == expected
