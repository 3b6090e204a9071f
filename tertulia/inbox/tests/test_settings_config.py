"""inbox.config: saved replies, labels, rules and service targets — permissions, limits,
validation with readable reasons, ordering, and the audit trail."""

from __future__ import annotations

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import translation

from tertulia.core.models import AuditEvent
from tertulia.core.services import Ctx
from tertulia.inbox import config
from tertulia.inbox.models import InboxRule, InboxSettings, Label, SavedReply

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def english():
    with translation.override("en"):
        yield


@pytest.fixture
def alpha(brand_a):
    brand, people = brand_a
    return brand, people, {role: Ctx(user, via="test") for role, user in people.items()}


def _error(exc: ValidationError) -> str:
    return " ".join(exc.messages)


# --- Saved replies ---------------------------------------------------------------------------------

def test_saved_reply_create_edit_delete_with_audit(alpha):
    brand, people, ctx = alpha
    saved = config.do_save_saved_reply(ctx["community_manager"], brand, title="Horario", language="es",
                                       text="Hola {name}, abrimos de 9 a 18. {agent}, de {brand}.")
    assert saved.pk and saved.created_by == people["community_manager"]
    config.do_save_saved_reply(ctx["community_manager"], brand, saved, text="Hola {name} ({handle})")
    saved.refresh_from_db()
    assert saved.text == "Hola {name} ({handle})" and saved.title == "Horario" and saved.language == "es"
    events = list(AuditEvent.objects.filter(brand=brand, action__startswith="saved_reply").order_by("pk")
                  .values_list("action", "changes"))
    assert [a for a, _c in events] == ["saved_reply.create", "saved_reply.update"]
    assert events[1][1]["text"] == ["Hola {name}, abrimos de 9 a 18. {agent}, de {brand}.", "Hola {name} ({handle})"]
    config.do_delete_saved_reply(ctx["community_manager"], saved)
    assert not SavedReply.objects.filter(pk=saved.pk).exists()
    assert AuditEvent.objects.filter(brand=brand, action="saved_reply.delete").count() == 1


@pytest.mark.parametrize("text, unknown", [
    ("Hola {nombre}", "{nombre}"),
    ("Hi {name}, your order {order_id} is late", "{order_id}"),
    ("{__class__} {name}", "{__class__}"),
    ("Hola { name }", "{ name }"),
    ("{0} hola {name}", "{0}"),
])
def test_unknown_variables_are_refused_by_name(alpha, text, unknown):
    brand, _people, ctx = alpha
    with pytest.raises(ValidationError) as exc:
        config.do_save_saved_reply(ctx["owner"], brand, title="T", language="en", text=text)
    message = _error(exc.value)
    assert unknown in message and "{name}" in message and "{agent}" in message
    assert not SavedReply.objects.filter(brand=brand).exists()


def test_known_variables_and_lone_braces_are_accepted(alpha):
    brand, _people, ctx = alpha
    saved = config.do_save_saved_reply(ctx["owner"], brand, title="Emoji", language="en",
                                       text="Thanks {name} :-{ see you {brand} {} {agent}{handle}")
    assert config.unknown_variables(saved.text) == []


def test_saved_reply_limits_and_shapes(alpha):
    brand, _people, ctx = alpha
    for fields, field in [
        ({"title": "", "language": "es", "text": "x"}, "title"),
        ({"title": "x" * 121, "language": "es", "text": "x"}, "title"),
        ({"title": "T", "language": "fr", "text": "x"}, "language"),
        ({"title": "T", "language": "es", "text": "x" * 5001}, "text"),
        ({"title": "T", "language": "es", "text": "   "}, "text"),
        ({"title": "\x00\u200b", "language": "es", "text": "x"}, "title"),
        ({"title": "T", "language": "es", "text": "x\x00"}, "text"),
        ({"title": "T", "language": "es", "text": ["x"]}, "text"),
    ]:
        with pytest.raises(ValidationError) as exc:
            config.do_save_saved_reply(ctx["owner"], brand, **fields)
        assert field in exc.value.message_dict, fields
    with pytest.raises(ValidationError):
        config.do_save_saved_reply(ctx["owner"], brand, title="T", language="es", text="x", created_by=1)


def test_saved_reply_title_unique_per_language_and_count_limit(alpha, monkeypatch):
    brand, _people, ctx = alpha
    config.do_save_saved_reply(ctx["owner"], brand, title="Horario", language="es", text="a")
    config.do_save_saved_reply(ctx["owner"], brand, title="Horario", language="en", text="b")  # the translation
    with pytest.raises(ValidationError) as exc:
        config.do_save_saved_reply(ctx["owner"], brand, title="horario", language="es", text="c")
    assert "already" in _error(exc.value)
    monkeypatch.setattr(config, "MAX_SAVED_REPLIES", 2)
    with pytest.raises(ValidationError) as exc:
        config.do_save_saved_reply(ctx["owner"], brand, title="Otra", language="es", text="c")
    assert "2 saved replies" in _error(exc.value)


def test_saved_replies_need_reply_permission_and_the_right_brand(alpha, brand_b):
    brand, _people, ctx = alpha
    other, other_people = brand_b
    for role in ("analyst", "client_reviewer"):
        with pytest.raises(PermissionDenied):
            config.do_save_saved_reply(ctx[role], brand, title="T", language="es", text="x")
    theirs = config.do_save_saved_reply(Ctx(other_people["owner"]), other, title="Beta", language="es", text="x")
    with pytest.raises(PermissionDenied):  # my brand, their row
        config.do_save_saved_reply(ctx["owner"], brand, theirs, text="hijacked")
    with pytest.raises(PermissionDenied):
        config.do_delete_saved_reply(ctx["owner"], theirs)
    theirs.refresh_from_db()
    assert theirs.text == "x"


def test_preview_fills_sample_values_and_leaves_unknown_visible(alpha):
    brand, _people, _ctx = alpha
    out = config.preview("Hola {name} ({handle}), soy {agent} de {brand}. {otra}", brand, "Laura")
    assert out == f"Hola Ana (@ana), soy Laura de {brand.name}. {{otra}}"


# --- Labels ------------------------------------------------------------------------------------------

def test_labels_create_rename_delete_unique_case_insensitive(alpha):
    brand, _people, ctx = alpha
    label = config.do_save_label(ctx["community_manager"], brand, name="  Reembolsos   urgentes ")
    assert label.name == "Reembolsos urgentes"
    with pytest.raises(ValidationError) as exc:
        config.do_save_label(ctx["community_manager"], brand, name="REEMBOLSOS urgentes")
    assert "already" in _error(exc.value)
    for bad in ("", "a,b", "x" * 61, "\x00"):
        with pytest.raises(ValidationError):
            config.do_save_label(ctx["owner"], brand, name=bad)
    config.do_save_label(ctx["owner"], brand, label, name="Reembolsos")
    label.refresh_from_db()
    assert label.name == "Reembolsos"
    config.do_delete_label(ctx["owner"], label)
    assert not Label.objects.filter(brand=brand).exists()
    assert list(AuditEvent.objects.filter(brand=brand, action__startswith="label.").order_by("pk")
                .values_list("action", flat=True)) == ["label.create", "label.update", "label.delete"]


def test_renaming_a_label_updates_the_rules_that_add_it(alpha):
    brand, _people, ctx = alpha
    label = config.do_save_label(ctx["owner"], brand, name="Quejas")
    rule = config.do_save_rule(ctx["owner"], brand, name="r", conditions={},
                               actions={"labels": ["Quejas", "VIP"], "flag": True})
    untouched = config.do_save_rule(ctx["owner"], brand, name="s", conditions={}, actions={"labels": ["VIP"]})
    config.do_save_label(ctx["owner"], brand, label, name="Reclamaciones")
    rule.refresh_from_db()
    untouched.refresh_from_db()
    assert rule.actions == {"labels": ["Reclamaciones", "VIP"], "flag": True}
    assert untouched.actions == {"labels": ["VIP"]}
    event = AuditEvent.objects.get(brand=brand, action="label.update")
    assert event.changes["name"] == ["Quejas", "Reclamaciones"] and event.changes["rules"] == ["r"]


def test_invisible_characters_do_not_make_look_alike_names(alpha):
    brand, _people, ctx = alpha
    config.do_save_label(ctx["owner"], brand, name="VIP")
    for trick in ("V\u200bIP", "\u202eVIP", "VIP\u2066", "\ufeffVIP", "V\x07IP"):
        with pytest.raises(ValidationError) as exc:
            config.do_save_label(ctx["owner"], brand, name=trick)
        assert "already" in _error(exc.value), repr(trick)
    with pytest.raises(ValidationError):
        config.do_save_label(ctx["owner"], brand, name="\u200b\u200f")  # nothing visible left
    saved = config.do_save_saved_reply(ctx["owner"], brand, title="Hora\u200brio\n  de\tverano", language="es",
                                       text="Hola {name} \U0001F469\u200D\U0001F4BB")
    assert saved.title == "Horario de verano"
    assert saved.text.endswith("\U0001F469\u200D\U0001F4BB")  # emoji sequences keep their joiner
    rule = config.do_save_rule(ctx["owner"], brand, name="\u202eselur", conditions={}, actions={"flag": True})
    assert rule.name == "selur"


def test_label_limit_and_permissions(alpha, monkeypatch):
    brand, _people, ctx = alpha
    with pytest.raises(PermissionDenied):
        config.do_save_label(ctx["analyst"], brand, name="x")
    monkeypatch.setattr(config, "MAX_LABELS", 1)
    config.do_save_label(ctx["owner"], brand, name="uno")
    with pytest.raises(ValidationError):
        config.do_save_label(ctx["owner"], brand, name="dos")


# --- Rules ---------------------------------------------------------------------------------------------

def test_rule_saved_through_the_engines_validation(alpha):
    brand, people, ctx = alpha
    rule = config.do_save_rule(ctx["manager"], brand, name="Quejas a Laura",
                               conditions={"intents": ["complaint"], "networks": ["x"], "min_urgency": "60",
                                           "keywords": ["reembolso", "urgente"]},
                               actions={"assign_to": people["community_manager"].pk, "labels": ["quejas"],
                                        "escalate": True})
    assert rule.conditions == {"intents": ["complaint"], "networks": ["x"], "min_urgency": 60,
                               "keywords": ["reembolso", "urgente"]}
    assert rule.actions["assign_to"] == people["community_manager"].pk and rule.enabled
    assert AuditEvent.objects.filter(brand=brand, action="inbox_rule.create").count() == 1


@pytest.mark.parametrize("conditions, actions, field", [
    ({"intents": ["bribery"]}, {"flag": True}, "intents"),
    ({"min_toxicity": 2}, {"flag": True}, "min_toxicity"),
    ({"colour": ["red"]}, {"flag": True}, "colour"),
    ({}, {}, "actions"),
    ({}, {"assign_to": 999999}, "assign_to"),
])
def test_bad_rules_are_refused_with_reasons(alpha, conditions, actions, field):
    brand, _people, ctx = alpha
    with pytest.raises(ValidationError) as exc:
        config.do_save_rule(ctx["owner"], brand, name="Bad", conditions=conditions, actions=actions)
    assert field in exc.value.message_dict
    assert not InboxRule.objects.filter(brand=brand).exists()


def test_assign_to_must_be_able_to_reply(alpha):
    brand, people, ctx = alpha
    with pytest.raises(ValidationError) as exc:
        config.do_save_rule(ctx["owner"], brand, name="To the analyst", conditions={},
                            actions={"assign_to": people["analyst"].pk})
    assert "assign_to" in exc.value.message_dict


def test_rules_need_manage_brand(alpha):
    brand, _people, ctx = alpha
    with pytest.raises(PermissionDenied):
        config.do_save_rule(ctx["community_manager"], brand, name="r", conditions={}, actions={"flag": True})
    rule = config.do_save_rule(ctx["owner"], brand, name="r", conditions={}, actions={"flag": True})
    for action in (lambda c: config.do_delete_rule(c, rule), lambda c: config.do_move_rule(c, rule, 1),
                   lambda c: config.do_save_rule(c, brand, rule, enabled=False)):
        with pytest.raises(PermissionDenied):
            action(ctx["community_manager"])


def test_rules_order_move_toggle_and_delete_renumbers(alpha):
    brand, _people, ctx = alpha
    owner = ctx["owner"]
    a, b, c = (config.do_save_rule(owner, brand, name=n, conditions={}, actions={"flag": True}) for n in "abc")

    def order():
        return list(InboxRule.objects.filter(brand=brand).order_by("position", "pk").values_list("name", flat=True))

    assert order() == ["a", "b", "c"]
    config.do_move_rule(owner, c, -1)
    assert order() == ["a", "c", "b"]
    config.do_move_rule(owner, a, 10)  # clamped to the end
    assert order() == ["c", "b", "a"]
    config.do_reorder_rules(owner, brand, [a.pk, b.pk, c.pk])
    assert order() == ["a", "b", "c"]
    with pytest.raises(ValidationError):
        config.do_reorder_rules(owner, brand, [a.pk, a.pk, c.pk])
    config.do_save_rule(owner, brand, b, enabled=False)
    b.refresh_from_db()
    assert b.enabled is False and b.actions == {"flag": True}
    config.do_delete_rule(owner, b)
    assert list(InboxRule.objects.filter(brand=brand).order_by("position").values_list("name", "position")) == [
        ("a", 0), ("c", 1)]
    assert AuditEvent.objects.filter(brand=brand, action="inbox_rule.reorder").count() == 3


def test_rule_limit(alpha, monkeypatch):
    brand, _people, ctx = alpha
    monkeypatch.setattr(config, "MAX_RULES", 1)
    config.do_save_rule(ctx["owner"], brand, name="one", conditions={}, actions={"flag": True})
    with pytest.raises(ValidationError) as exc:
        config.do_save_rule(ctx["owner"], brand, name="two", conditions={}, actions={"flag": True})
    assert "1 rules" in _error(exc.value)


# --- Service targets -----------------------------------------------------------------------------------

def test_inbox_settings_defaults_then_saved(alpha):
    brand, _people, ctx = alpha
    defaults = config.inbox_settings(brand)
    assert defaults.pk is None and defaults.first_response_minutes == 60 and defaults.resolution_minutes == 1440
    obj = config.do_save_inbox_settings(ctx["manager"], brand, first_response_minutes="30", resolution_minutes=480,
                                        escalation_urgency=75,
                                        escalation_emails="jefa@example.com\n, JEFA@example.com ; otro@example.org")
    assert InboxSettings.objects.get(brand=brand).pk == obj.pk
    assert (obj.first_response_minutes, obj.resolution_minutes, obj.escalation_urgency) == (30, 480, 75)
    assert config.escalation_emails(obj) == ["jefa@example.com", "otro@example.org"]
    event = AuditEvent.objects.get(brand=brand, action="inbox_settings.update")
    assert event.changes["first_response_minutes"] == [60, 30]


@pytest.mark.parametrize("fields, field", [
    ({"first_response_minutes": 0}, "first_response_minutes"),
    ({"first_response_minutes": "soon"}, "first_response_minutes"),
    ({"first_response_minutes": True}, "first_response_minutes"),
    ({"resolution_minutes": 10 ** 9}, "resolution_minutes"),
    ({"first_response_minutes": 600, "resolution_minutes": 60}, "resolution_minutes"),
    ({"escalation_urgency": 101}, "escalation_urgency"),
    ({"escalation_emails": ["not-an-email"]}, "escalation_emails"),
    ({"escalation_emails": [f"p{i}@example.com" for i in range(21)]}, "escalation_emails"),
    ({"escalation_emails": "a@example.com " * 300}, "escalation_emails"),
    ({"colour": "red"}, "colour"),
])
def test_inbox_settings_refuse_bad_values(alpha, fields, field):
    brand, _people, ctx = alpha
    with pytest.raises(ValidationError) as exc:
        config.do_save_inbox_settings(ctx["owner"], brand, **fields)
    assert field in exc.value.message_dict
    assert not InboxSettings.objects.filter(brand=brand).exists()


def test_inbox_settings_need_manage_brand(alpha):
    brand, _people, ctx = alpha
    with pytest.raises(PermissionDenied):
        config.do_save_inbox_settings(ctx["community_manager"], brand, first_response_minutes=5)
