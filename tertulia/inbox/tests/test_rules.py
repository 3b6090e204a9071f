"""Inbox rules: conditions, actions in order, idempotence, failures recorded, the built-in
escalation of urgent complaints, and the validation the settings forms use."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core import mail
from django.core.exceptions import ValidationError
from django.utils import timezone

from tertulia.core.models import AuditEvent, Notification
from tertulia.inbox import rules
from tertulia.inbox.models import Conversation, InboxRule, InboxSettings, Interaction, Label

from .backend_helpers import ANA, BO, brand, ingest, msg, owner_ctx, people, tg_account, x_account  # noqa: F401

pytestmark = pytest.mark.django_db(transaction=True)


def rule(brand, name, conditions, actions, position=0, **kw):  # noqa: F811
    return InboxRule.objects.create(brand=brand, name=name, position=position, conditions=conditions,
                                    actions=actions, **kw)


def test_fold_ignores_case_accents_and_invisible_characters():
    assert rules.fold("URGÉNTE") == "urgente"
    assert rules.fold("ur\u200bgen\u202ete") == "urgente"
    pattern = rules.keyword_pattern(["reembolso", "denuncia"])
    assert pattern.search(rules.fold("Quiero mi REEMBOLSÓ ya"))
    assert not pattern.search(rules.fold("reembolsos"))  # whole words only


def test_keywords_language_and_network_conditions_label_and_assign(x_account, brand, people):  # noqa: F811
    cm = people["community_manager"]
    rule(brand, "Refunds", {"keywords": ["reembolso", "refund"], "networks": ["x"]},
         {"labels": ["refunds", "billing"], "assign_to": cm.pk})
    rule(brand, "Mastodon only", {"networks": ["mastodon"]}, {"labels": ["never"]}, position=1)
    ingest(x_account, msg("c1", text="¿Cuándo llega mi REEMBOLSO?"), msg("c2", author=BO, text="hello there"))
    conv = Conversation.objects.get(author__external_id="u-ana")
    assert sorted(conv.labels.values_list("name", flat=True)) == ["billing", "refunds"]
    assert conv.assignee == cm
    other = Conversation.objects.get(author__external_id="u-bo")
    assert other.labels.count() == 0 and other.assignee is None
    assert not Label.objects.filter(name="never").exists()


def test_triage_conditions_thresholds_and_flag(x_account, brand):  # noqa: F811
    rule(brand, "Toxic", {"min_toxicity": 0.7, "sentiments": ["negative"]}, {"flag": True, "labels": ["toxic"]})
    rule(brand, "Urgent", {"min_urgency": 80, "intents": ["complaint"]}, {"labels": ["urgent"]}, position=1)
    ingest(x_account,
           msg("c1", text="idiotas", sentiment="negative", intent="other", toxicity=0.75, urgency=0.3),
           msg("c2", author=BO, text="fatal", sentiment="negative", intent="complaint", toxicity=0.2, urgency=0.85))
    ana = Conversation.objects.get(author__external_id="u-ana")
    bo = Conversation.objects.get(author__external_id="u-bo")
    assert ana.flagged and list(ana.labels.values_list("name", flat=True)) == ["toxic"]
    assert not bo.flagged and list(bo.labels.values_list("name", flat=True)) == ["urgent"]


def test_rules_run_in_position_order_the_first_assignment_wins_and_a_cm_choice_is_kept(  # noqa: F811
        x_account, brand, people):
    manager, cm = people["manager"], people["community_manager"]
    rule(brand, "second", {}, {"assign_to": manager.pk}, position=2)
    rule(brand, "first", {}, {"assign_to": cm.pk}, position=1)
    ingest(x_account, msg("c1"))
    conv = Conversation.objects.get()
    assert conv.assignee == cm
    Conversation.objects.filter(pk=conv.pk).update(assignee=manager)
    ingest(x_account, msg("c2"))
    conv.refresh_from_db()
    assert conv.assignee == manager


def test_spam_is_closed_and_rules_are_idempotent(x_account, brand):  # noqa: F811
    rule(brand, "Spam", {"intents": ["spam"]}, {"close": True, "labels": ["spam"]})
    batch = [msg("c1", text="FREE followers http://spam.example", sentiment="neutral", intent="spam", toxicity=0.0,
                 urgency=0.0)]
    ingest(x_account, *batch)
    conv = Conversation.objects.get()
    assert conv.status == Conversation.Status.CLOSED and conv.closed_at is not None
    assert conv.resolution_due_at is None  # closing stops the resolution timer
    ingest(x_account, *batch)  # the same batch again: nothing new happens
    assert Conversation.objects.get().labels.count() == 1
    assert Interaction.objects.count() == 1


def test_disabled_rules_do_nothing(x_account, brand):  # noqa: F811
    rule(brand, "off", {}, {"labels": ["x"]}, enabled=False)
    ingest(x_account, msg("c1"))
    assert Conversation.objects.get().labels.count() == 0


def test_hiding_where_the_network_cannot_is_recorded_and_flags_instead(tg_account, brand):  # noqa: F811
    rule(brand, "Hide toxic", {"min_toxicity": 0.5}, {"hide": True})
    ingest(tg_account, msg("c1", text="basura", sentiment="negative", intent="other", toxicity=0.9, urgency=0.2))
    row = Interaction.objects.get()
    assert not row.hidden  # kept, not hidden: the network cannot
    assert Conversation.objects.get().flagged
    event = AuditEvent.objects.get(action="inbox.rule_failed")
    assert event.changes["rule"] == "Hide toxic" and event.changes["action"] == "hide"
    assert "Telegram" in event.changes["reason"]


def test_an_assignee_who_left_is_recorded_and_the_message_kept(x_account, brand, people):  # noqa: F811
    analyst = people["analyst"]  # cannot work the inbox
    rule(brand, "Bad", {}, {"assign_to": analyst.pk, "labels": ["kept"]})
    ingest(x_account, msg("c1"))
    conv = Conversation.objects.get()
    assert conv.assignee is None and list(conv.labels.values_list("name", flat=True)) == ["kept"]
    assert AuditEvent.objects.filter(action="inbox.rule_failed", changes__action="assign_to").exists()


def test_a_broken_rule_never_loses_the_message(x_account, brand):  # noqa: F811
    rule(brand, "garbage", {"min_toxicity": "lots", "keywords": 42, "networks": "x"}, {"labels": [None, ""]})
    result = ingest(x_account, msg("c1"))
    assert result.created == 1 and Interaction.objects.count() == 1


def test_urgent_complaints_escalate_once_to_the_managers(x_account, brand, people):  # noqa: F811
    ingest(x_account, msg("c1", text="Fatal, quiero una solución ya", sentiment="negative", intent="complaint",
                          toxicity=0.0, urgency=0.85))
    conv = Conversation.objects.get()
    assert conv.escalated_at is not None
    notes = Notification.objects.filter(kind="inbox.escalated")
    assert {n.recipient for n in notes} == {people["owner"], people["manager"]}
    assert f"/inbox/{conv.pk}/" in notes[0].link
    ingest(x_account, msg("c2", text="¿Hola?", sentiment="negative", intent="complaint", toxicity=0.0, urgency=0.9))
    assert Notification.objects.filter(kind="inbox.escalated").count() == 2  # not again


def test_closing_ends_the_escalation_so_a_new_urgent_complaint_escalates_again(x_account, brand, people):  # noqa: F811
    from tertulia.core.services import Ctx
    from tertulia.inbox import services

    ingest(x_account, msg("c1", sentiment="negative", intent="complaint", toxicity=0.0, urgency=0.9))
    conv = Conversation.objects.get()
    services.do_set_status(Ctx(people["owner"]), brand, [conv.pk], Conversation.Status.CLOSED)
    conv.refresh_from_db()
    assert conv.escalated_at is None
    ingest(x_account, msg("c2", sentiment="negative", intent="complaint", toxicity=0.0, urgency=0.9))
    assert Conversation.objects.get().escalated_at is not None
    assert Notification.objects.filter(kind="inbox.escalated").count() == 4  # owner and manager, twice


def test_below_the_threshold_or_not_a_complaint_does_not_escalate(x_account, brand):  # noqa: F811
    InboxSettings.objects.create(brand=brand, escalation_urgency=90)
    ingest(x_account, msg("c1", sentiment="negative", intent="complaint", toxicity=0.0, urgency=0.85),
           msg("c2", author=BO, sentiment="negative", intent="question", toxicity=0.0, urgency=0.99))
    assert not Conversation.objects.filter(escalated_at__isnull=False).exists()


def test_escalation_e_mails_the_brands_addresses(x_account, brand):  # noqa: F811
    InboxSettings.objects.create(brand=brand, escalation_emails="jefa@example.com\nnot-an-address\n")
    rule(brand, "VIP", {"keywords": ["abogado"]}, {"escalate": True})
    ingest(x_account, msg("c1", text="Mi abogado os llamará <script>x</script>", sentiment="negative",
                          intent="other", toxicity=0.0, urgency=0.3))
    assert len(mail.outbox) == 1
    sent = mail.outbox[0]
    assert sent.to == ["jefa@example.com"]
    assert "VIP" in sent.body and "abogado" in sent.body
    assert Conversation.objects.get().escalated_at is not None
    assert not Notification.objects.filter(kind="inbox.escalated").exists()


# -- validation ---------------------------------------------------------------------------------------

def test_validate_rule_cleans_good_input(brand, people):  # noqa: F811
    conditions, actions = rules.validate_rule(
        {"networks": "x, mastodon", "keywords": "reembolso\nrefund", "min_toxicity": "0.6", "min_urgency": "70",
         "intents": ["complaint"]},
        {"assign_to": str(people["community_manager"].pk), "labels": "vip, vip, billing", "hide": "on",
         "flag": False}, brand)
    assert conditions == {"networks": ["x", "mastodon"], "keywords": ["reembolso", "refund"], "min_toxicity": 0.6,
                          "min_urgency": 70, "intents": ["complaint"]}
    assert actions == {"assign_to": people["community_manager"].pk, "labels": ["vip", "billing"], "hide": True}


@pytest.mark.parametrize("conditions, actions, key", [
    ({"networks": ["myspace"]}, {"flag": True}, "networks"),
    ({"min_toxicity": 3}, {"flag": True}, "min_toxicity"),
    ({"min_urgency": "abc"}, {"flag": True}, "min_urgency"),
    ({"keywords": ["x" * 101]}, {"flag": True}, "keywords"),
    ({"keywords": [f"w{i}" for i in range(60)]}, {"flag": True}, "keywords"),
    ({"colour": "red"}, {"flag": True}, "colour"),
    ({}, {}, "actions"),
    ({}, {"status": "archived"}, "status"),
    ({}, {"labels": ["<script>" * 20]}, "labels"),
    ({}, {"hide": "maybe"}, "hide"),
    ({}, {"delete_everything": True}, "delete_everything"),
])
def test_validate_rule_refuses_bad_input_with_readable_messages(brand, conditions, actions, key):  # noqa: F811
    with pytest.raises(ValidationError) as exc:
        rules.validate_rule(conditions, actions, brand)
    assert key in exc.value.message_dict
    assert all(m for m in exc.value.message_dict[key])


def test_validate_rule_refuses_an_assignee_from_another_brand_or_without_reply(brand, people, brand_b):  # noqa: F811
    outsider = brand_b[1]["community_manager"]
    for user in (outsider, people["analyst"]):
        with pytest.raises(ValidationError) as exc:
            rules.validate_rule({}, {"assign_to": user.pk}, brand)
        assert "assign_to" in exc.value.message_dict
    with pytest.raises(ValidationError):
        rules.validate_rule("nope", {}, brand)


def test_a_rule_never_hides_a_mention_it_flags_it(x_account, brand):  # noqa: F811
    rule(brand, "Hide toxic", {"min_toxicity": 0.5}, {"hide": True})
    ingest(x_account, msg("m1", kind="mention", root="m1", text="basura", sentiment="negative", intent="other",
                          toxicity=0.9, urgency=0.2))
    assert not Interaction.objects.get().hidden and Conversation.objects.get().flagged
    assert AuditEvent.objects.filter(action="inbox.rule_failed", changes__action="hide").exists()



def test_a_backfill_of_old_messages_is_labelled_but_neither_hidden_nor_escalated(x_account, brand):  # noqa: F811
    """The first poll of an account brings its history: last year's complaints are not news."""
    rule(brand, "toxic", {"min_toxicity": 0.5}, {"hide": True, "escalate": True, "labels": ["toxic"]})
    old = timezone.now() - rules.ACT_WITHIN - timedelta(minutes=5)
    ingest(x_account, msg("c1", at=old, sentiment="negative", intent="complaint", toxicity=0.9, urgency=0.95))
    conv = Conversation.objects.get()
    assert list(conv.labels.values_list("name", flat=True)) == ["toxic"]
    assert conv.escalated_at is None and not Interaction.objects.get().hidden
    assert not Notification.objects.filter(kind="inbox.escalated").exists()
    ingest(x_account, msg("c2", sentiment="negative", intent="complaint", toxicity=0.9, urgency=0.95))
    assert Conversation.objects.get().escalated_at is not None
