"""The team's actions: assign, label, relabel, hide. Permission and tenant checks, audit log,
bulk-safe."""

from __future__ import annotations

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from tertulia.core.models import AuditEvent, Notification
from tertulia.core.services import Ctx
from tertulia.inbox import services
from tertulia.inbox.models import Conversation, Correction, Interaction, Label
from tertulia.inbox.services import IncomingAuthor

from .backend_helpers import (ANA, BO, brand, cm_ctx, ingest, msg, owner_ctx, people, tg_account,  # noqa: F401
                              x_account)


@pytest.fixture
def convs(x_account):  # noqa: F811
    ingest(x_account, msg("c1"), msg("c2", author=BO), msg("c3", author=IncomingAuthor("u-cy", "@cy")))
    return list(Conversation.objects.order_by("pk"))


@pytest.fixture
def foreign(brand_b):
    from tertulia.networks.services import do_add_account

    other, other_people = brand_b
    account = do_add_account(Ctx(other_people["owner"]), other, network="x", handle="beta", external_id="b-x")
    ingest(account, msg("z1"))
    return Conversation.objects.get(brand=other)


# -- assign -------------------------------------------------------------------------------------------

def test_assign_many_and_tell_the_assignee(convs, brand, people, owner_ctx):  # noqa: F811
    cm = people["community_manager"]
    assert services.do_assign(owner_ctx, brand, [c.pk for c in convs], cm) == 3
    assert set(Conversation.objects.values_list("assignee", flat=True)) == {cm.pk}
    note = Notification.objects.get(recipient=cm, kind="inbox.assigned")
    assert note.message[0]["params"]["count"] == "3"
    assert AuditEvent.objects.filter(action="conversation.assign", changes__count=3).exists()
    # Again: nothing changes, nobody is told twice.
    assert services.do_assign(owner_ctx, brand, [c.pk for c in convs], cm) == 0
    assert Notification.objects.filter(kind="inbox.assigned").count() == 1
    # Unassign.
    assert services.do_assign(owner_ctx, brand, [convs[0].pk], None) == 1
    assert Conversation.objects.get(pk=convs[0].pk).assignee is None


def test_assigning_myself_does_not_notify_me(convs, brand, people, cm_ctx):  # noqa: F811
    services.do_assign(cm_ctx, brand, [convs[0].pk], people["community_manager"])
    assert not Notification.objects.filter(kind="inbox.assigned").exists()


def test_assign_refuses_people_who_do_not_work_the_inbox(convs, brand, people, owner_ctx, brand_b):  # noqa: F811
    for user in (people["analyst"], brand_b[1]["community_manager"]):
        with pytest.raises(ValidationError):
            services.do_assign(owner_ctx, brand, [convs[0].pk], user)


def test_assign_needs_reply_and_ignores_other_brands(convs, brand, people, foreign, cm_ctx):  # noqa: F811
    with pytest.raises(PermissionDenied):
        services.do_assign(Ctx(people["analyst"]), brand, [convs[0].pk], people["community_manager"])
    assert services.do_assign(cm_ctx, brand, [foreign.pk], people["community_manager"]) == 0
    assert Conversation.objects.get(pk=foreign.pk).assignee is None
    with pytest.raises(ValidationError):
        services.do_assign(cm_ctx, brand, ["1; DROP TABLE"], None)


# -- labels -------------------------------------------------------------------------------------------

def test_label_add_and_remove_in_bulk(convs, brand, cm_ctx):  # noqa: F811
    ids = [c.pk for c in convs]
    assert services.do_label(cm_ctx, brand, ids, add=["VIP", "billing", " "]) == 3
    assert Label.objects.filter(brand=brand).count() == 2
    assert all(set(c.labels.values_list("name", flat=True)) == {"VIP", "billing"} for c in convs)
    services.do_label(cm_ctx, brand, ids, add=["VIP"])  # idempotent
    assert Conversation.labels.through.objects.count() == 6
    services.do_label(cm_ctx, brand, ids[:1], remove=["billing"])
    assert list(convs[0].labels.values_list("name", flat=True)) == ["VIP"]
    assert AuditEvent.objects.filter(action="conversation.label").count() == 3


def test_label_checks(convs, brand, people, foreign, cm_ctx):  # noqa: F811
    with pytest.raises(ValidationError):
        services.do_label(cm_ctx, brand, [convs[0].pk], add=["x" * 61])
    with pytest.raises(PermissionDenied):
        services.do_label(Ctx(people["client_reviewer"]), brand, [convs[0].pk], add=["a"])
    assert services.do_label(cm_ctx, brand, [foreign.pk], add=["leak"]) == 0
    assert not Label.objects.filter(name="leak").exists()
    assert foreign.labels.count() == 0


# -- relabel ------------------------------------------------------------------------------------------

def test_relabel_keeps_a_correction_and_updates_the_conversation(x_account, brand, cm_ctx, people):  # noqa: F811
    pytest.importorskip("tertulia.nlp.triage")
    ingest(x_account, msg("c1", sentiment="neutral", intent="question", toxicity=0.1, urgency=0.2))
    row = Interaction.objects.get()
    services.do_relabel(cm_ctx, row, "intent", "complaint")
    row.refresh_from_db()
    assert row.intent == "complaint"
    correction = Correction.objects.get()
    assert (correction.field, correction.old_value, correction.new_value, correction.user) == (
        "intent", "question", "complaint", people["community_manager"])
    assert Conversation.objects.get().intent == "complaint"
    assert AuditEvent.objects.filter(action="interaction.relabel").exists()
    # The brand's model learnt from it (its per-brand layer).
    from tertulia.nlp.models import BrandLayer

    assert BrandLayer.objects.get(brand=brand, task="intent").updates == 1
    # The same value again: no second correction.
    services.do_relabel(cm_ctx, row, "intent", "complaint")
    assert Correction.objects.count() == 1
    assert BrandLayer.objects.get(brand=brand, task="intent").updates == 1


def test_relabel_toxic_flags_and_unflags(x_account, cm_ctx):  # noqa: F811
    pytest.importorskip("tertulia.nlp.triage")
    ingest(x_account, msg("c1", sentiment="negative", intent="other", toxicity=0.9, urgency=0.2))
    row = Interaction.objects.get()
    assert Conversation.objects.get().flagged
    services.do_relabel(cm_ctx, row, "toxic", "no")
    row.refresh_from_db()
    assert row.toxicity == 0.0 and not Conversation.objects.get().flagged
    services.do_relabel(cm_ctx, row, "toxic", "yes")
    assert Conversation.objects.get().flagged
    assert list(Correction.objects.values_list("old_value", "new_value")) == [("yes", "no"), ("no", "yes")]


def test_relabelling_an_older_message_leaves_the_conversation_alone(x_account, cm_ctx):  # noqa: F811
    pytest.importorskip("tertulia.nlp.triage")
    from datetime import timedelta

    from django.utils import timezone

    now = timezone.now()
    ingest(x_account, msg("c1", at=now - timedelta(hours=1), sentiment="neutral", intent="question", toxicity=0.0,
                          urgency=0.2),
           msg("c2", at=now, sentiment="positive", intent="praise", toxicity=0.0, urgency=0.1))
    services.do_relabel(cm_ctx, Interaction.objects.get(external_id="c1"), "sentiment", "negative")
    assert Conversation.objects.get().sentiment == "positive"


def test_relabel_checks(x_account, brand, people, cm_ctx):  # noqa: F811
    ingest(x_account, msg("c1", sentiment="neutral", intent="question", toxicity=0.1, urgency=0.2))
    row = Interaction.objects.get()
    for field, value in (("colour", "red"), ("intent", "<script>"), ("toxic", "maybe"), ("sentiment", "")):
        with pytest.raises(ValidationError):
            services.do_relabel(cm_ctx, row, field, value)
    with pytest.raises(PermissionDenied):
        services.do_relabel(Ctx(people["analyst"]), row, "intent", "spam")
    assert not Correction.objects.exists()


# -- hide ----------------------------------------------------------------------------------------------

def test_hide_sets_the_intent_and_queues_the_network_call_after_commit(
        x_account, brand, cm_ctx, django_capture_on_commit_callbacks):  # noqa: F811
    ingest(x_account, msg("c1", toxicity=0.9, sentiment="negative", intent="other", urgency=0.1))
    row = Interaction.objects.get()
    with django_capture_on_commit_callbacks() as callbacks:
        services.do_hide(cm_ctx, row, True)
    row.refresh_from_db()
    assert row.hidden and len(callbacks) == 1
    assert AuditEvent.objects.filter(action="interaction.hide").exists()
    with django_capture_on_commit_callbacks() as callbacks:
        services.do_hide(cm_ctx, row, True)  # already hidden: nothing queued
    assert callbacks == []


def test_hide_is_refused_clearly_where_the_network_cannot(tg_account, cm_ctx):  # noqa: F811
    ingest(tg_account, msg("c1"))
    row = Interaction.objects.get()
    with pytest.raises(ValidationError) as exc:
        services.do_hide(cm_ctx, row, True)
    assert "Telegram" in " ".join(exc.value.messages)
    row.refresh_from_db()
    assert not row.hidden


def test_hide_checks_role_and_direction(x_account, people, cm_ctx):  # noqa: F811
    me = IncomingAuthor(external_id=x_account.external_id, handle=x_account.handle)
    ingest(x_account, msg("c1"), msg("r1", author=me, direction="out", counterpart=ANA))
    with pytest.raises(PermissionDenied):
        services.do_hide(Ctx(people["analyst"]), Interaction.objects.get(external_id="c1"), True)
    with pytest.raises(ValidationError):
        services.do_hide(cm_ctx, Interaction.objects.get(external_id="r1"), True)


def test_hide_refuses_mentions_and_private_messages(x_account, cm_ctx):  # noqa: F811
    ingest(x_account, msg("m1", kind="mention", root="m1"), msg("d1", kind="dm", root="t1", author=BO))
    for ext in ("m1", "d1"):
        with pytest.raises(ValidationError):
            services.do_hide(cm_ctx, Interaction.objects.get(external_id=ext), True)
    assert not Interaction.objects.filter(hidden=True).exists()
