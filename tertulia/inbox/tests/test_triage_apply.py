"""Triage on ingest: every road in (polling, webhooks, demo) stores the models' verdicts on the
new inbound messages and their conversations take them from the newest one."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from tertulia.inbox import triage
from tertulia.inbox.models import Conversation, InboxSettings, Interaction
from tertulia.inbox.services import IncomingAuthor

from .backend_helpers import ANA, BO, brand, ingest, msg, owner_ctx, people, x_account  # noqa: F401

nlp = pytest.importorskip("tertulia.nlp.triage")

COMPLAINT_ES = "Llevo una semana esperando el reembolso, es urgente. Si no me contestáis pondré una denuncia."
QUESTION_EN = "What time do you open on Sunday?"


def test_new_inbound_messages_get_the_models_verdict(x_account):  # noqa: F811
    ingest(x_account, msg("c1", text=COMPLAINT_ES), msg("c2", text=QUESTION_EN, author=BO))
    expected = nlp.analyse([COMPLAINT_ES, QUESTION_EN], brand_id=x_account.brand_id,
                           contexts=[nlp.Context(followers=120, age_seconds=60),
                                     nlp.Context(followers=5, age_seconds=60)])
    for ext, want in zip(("c1", "c2"), expected):
        row = Interaction.objects.get(external_id=ext)
        assert (row.language, row.sentiment, row.intent) == (want.language, want.sentiment, want.intent)
        assert row.urgency == pytest.approx(want.urgency, abs=0.02)
        assert (row.toxicity >= triage.TOXIC) == want.toxic
    complaint = Interaction.objects.get(external_id="c1")
    assert (complaint.language, complaint.intent, complaint.sentiment) == ("es", "complaint", "negative")
    question = Interaction.objects.get(external_id="c2")
    assert (question.language, question.intent) == ("en", "question")


def test_the_conversation_takes_the_triage_of_its_newest_inbound_message(x_account):  # noqa: F811
    now = timezone.now()
    ingest(x_account, msg("c1", text=QUESTION_EN, at=now - timedelta(hours=2)),
           msg("c2", text=COMPLAINT_ES, at=now - timedelta(hours=1)))
    conv = Conversation.objects.get()
    newest = Interaction.objects.get(external_id="c2")
    assert (conv.intent, conv.sentiment, conv.language) == ("complaint", "negative", "es")
    assert conv.priority == round(newest.urgency * 100) and conv.priority > 0
    # A late poll brings an older message: it must not overwrite the newer one's triage.
    ingest(x_account, msg("c0", text="Thank you so much, I love it!", at=now - timedelta(hours=5)))
    conv.refresh_from_db()
    assert (conv.intent, conv.language) == ("complaint", "es")
    # A newer one does.
    ingest(x_account, msg("c3", text=QUESTION_EN, at=now))
    conv.refresh_from_db()
    assert (conv.intent, conv.language) == ("question", "en")


def test_the_brands_own_messages_are_not_triaged(x_account):  # noqa: F811
    me = IncomingAuthor(external_id=x_account.external_id, handle=x_account.handle)
    ingest(x_account, msg("r1", text="Sentimos mucho la espera, es urgente para nosotros", author=me,
                          direction="out", counterpart=ANA))
    row = Interaction.objects.get()
    assert (row.sentiment, row.intent, row.toxicity, row.urgency) == ("", "", None, None)
    conv = Conversation.objects.get()
    assert (conv.priority, conv.intent, conv.first_response_due_at) == (0, "", None)


def test_triage_given_by_the_source_is_kept_and_toxic_messages_flag_the_conversation(x_account):  # noqa: F811
    ingest(x_account, msg("c1", text="eres un inútil", sentiment="negative", intent="other", toxicity=0.93,
                          urgency=0.4, language="es"),
           msg("c2", author=BO, sentiment="positive", intent="praise", toxicity=0.01, urgency=0.1))
    row = Interaction.objects.get(external_id="c1")
    assert (row.sentiment, row.intent, row.toxicity, row.urgency) == ("negative", "other", 0.93, 0.4)
    flagged = Conversation.objects.get(author__external_id="u-ana")
    assert flagged.flagged and flagged.priority == 40
    assert not Conversation.objects.get(author__external_id="u-bo").flagged


def test_history_counts_earlier_offences_and_complaints_for_this_brand_only(x_account, brand_b):  # noqa: F811
    from tertulia.core.services import Ctx
    from tertulia.networks.services import do_add_account

    ingest(x_account, msg("c1", toxicity=0.9, sentiment="negative", intent="other"),
           msg("c2", toxicity=0.1, sentiment="negative", intent="complaint"),
           msg("c3", toxicity=0.8, sentiment="negative", intent="complaint"))
    other_brand, other_people = brand_b
    other = do_add_account(Ctx(other_people["owner"]), other_brand, network="x", handle="beta", external_id="b-x")
    ingest(other, msg("d1", toxicity=0.99, sentiment="negative", intent="complaint"))
    ana = Interaction.objects.get(external_id="c1").author_id
    assert triage.history(x_account.brand_id, [ana]) == {ana: (2, 2)}


def test_sla_due_times_are_set_when_the_customer_speaks(x_account, brand):  # noqa: F811
    InboxSettings.objects.create(brand=brand, first_response_minutes=30, resolution_minutes=240)
    at = timezone.now() - timedelta(minutes=10)
    ingest(x_account, msg("c1", at=at), msg("c2", at=at + timedelta(minutes=5)))
    conv = Conversation.objects.get()
    assert conv.first_response_due_at == at + timedelta(minutes=30)
    assert conv.resolution_due_at == at + timedelta(minutes=240)
    # Later messages do not move a running timer.
    ingest(x_account, msg("c3", at=at + timedelta(minutes=8)))
    conv.refresh_from_db()
    assert conv.first_response_due_at == at + timedelta(minutes=30)


def test_the_default_targets_apply_without_settings_and_an_answered_batch_is_not_late(x_account):  # noqa: F811
    at = timezone.now() - timedelta(minutes=10)
    me = IncomingAuthor(external_id=x_account.external_id, handle=x_account.handle)
    ingest(x_account, msg("c1", at=at), msg("b1", author=BO, at=at),
           msg("r1", author=me, direction="out", counterpart=BO, at=at + timedelta(minutes=2)))
    ana = Conversation.objects.get(author__external_id="u-ana")
    assert ana.first_response_due_at == at + timedelta(minutes=60)
    assert ana.resolution_due_at == at + timedelta(hours=24)
    bo = Conversation.objects.get(author__external_id="u-bo")
    assert bo.status == Conversation.Status.PENDING
    # Answered in the same poll: the target is kept (metrics), and the timer has stopped.
    assert bo.first_response_at == at + timedelta(minutes=2)
    assert bo.first_response_due_at == at + timedelta(minutes=60)
    from tertulia.inbox import sla

    assert sla.check(now=at + timedelta(hours=2))["breaches"] == 1  # Ana only


def test_a_big_batch_stays_bulk(x_account, django_assert_max_num_queries):  # noqa: F811
    at = timezone.now() - timedelta(hours=1)
    batch = [msg(f"c{i}", text=f"{QUESTION_EN} #{i}", author=IncomingAuthor(f"u{i % 300}", f"@u{i % 300}"),
                 root=f"post-{i % 50}", at=at + timedelta(seconds=i)) for i in range(1200)]
    with django_assert_max_num_queries(80):
        result = ingest(x_account, *batch)
    assert result.created == 1200
    assert Interaction.objects.filter(intent="question").count() == 1200
    assert Conversation.objects.filter(intent="question", first_response_due_at__isnull=False).count() \
        == Conversation.objects.count()


def test_an_edit_is_triaged_again_and_can_flag_the_conversation(x_account):  # noqa: F811
    ingest(x_account, msg("c1", text=QUESTION_EN))
    assert Interaction.objects.get().intent == "question"
    ingest(x_account, msg("c1", text=COMPLAINT_ES))
    row = Interaction.objects.get()
    assert row.edited_at is not None and (row.intent, row.language) == ("complaint", "es")
    # The source's own verdict on an edit is kept too.
    ingest(x_account, msg("c1", text="idiotas", sentiment="negative", intent="other", toxicity=0.97, urgency=0.2))
    row.refresh_from_db()
    assert row.toxicity == 0.97 and Conversation.objects.get().flagged


def test_hostile_and_huge_messages_are_stored_whole_and_triaged(x_account):  # noqa: F811
    huge = "<script>alert(1)</script> \u202eurgente\u200b reembolso " + "a" * 69000
    ingest(x_account, msg("c1", text=huge), msg("c2", text="\u200b\u200b\u200b", author=BO))
    row = Interaction.objects.get(external_id="c1")
    assert row.text == huge  # stored as sent (templates escape it)
    assert row.sentiment in ("negative", "neutral", "positive") and row.urgency is not None
    empty = Interaction.objects.get(external_id="c2")
    assert empty.intent in Interaction.Intent.values
