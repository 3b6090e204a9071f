"""The inbox settings pages: saved replies (with the preview), rules, labels and service
targets. Everyone in the brand reads them; REPLY keeps saved replies and labels, MANAGE_BRAND
rules and targets. Hostile input: oversized, unknown variables, script injection, other brands."""

from __future__ import annotations

import pytest
from django.urls import reverse

from tertulia.core import roles
from tertulia.core.models import AuditEvent
from tertulia.core.services import Ctx
from tertulia.core.tests.web_helpers import ALL_ROLES, XSS, assert_escaped, html, messages_of
from tertulia.inbox import config
from tertulia.inbox.models import InboxRule, InboxSettings, Label, SavedReply

pytestmark = pytest.mark.django_db

REPLIERS = {r for r in ALL_ROLES if roles.REPLY in roles.ROLE_PERMISSIONS[r]}
MANAGERS = {r for r in ALL_ROLES if roles.MANAGE_BRAND in roles.ROLE_PERMISSIONS[r]}


def _url(name, brand, *args):
    return reverse(name, args=[brand.pk, *args])


@pytest.fixture
def alpha(brand_a):
    brand, people = brand_a
    ctx = Ctx(people["owner"], via="test")
    saved = config.do_save_saved_reply(ctx, brand, title="Horario", language="es", text="Hola {name}, abrimos a las 9.")
    label = config.do_save_label(ctx, brand, name="Reembolsos")
    rule = config.do_save_rule(ctx, brand, name="Quejas urgentes", conditions={"intents": ["complaint"], "min_urgency": 70},
                               actions={"labels": ["Reembolsos"], "escalate": True})
    return brand, people, {"saved": saved, "label": label, "rule": rule}


@pytest.fixture
def beta(brand_b):
    brand, people = brand_b
    ctx = Ctx(people["owner"], via="test")
    return brand, {
        "saved": config.do_save_saved_reply(ctx, brand, title="Beta secret reply", language="en", text="Beta text"),
        "label": config.do_save_label(ctx, brand, name="Beta secret label"),
        "rule": config.do_save_rule(ctx, brand, name="Beta secret rule", conditions={}, actions={"flag": True}),
    }


# --- Reading ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("role", ALL_ROLES)
def test_every_member_reads_the_pages_editors_see_edit_links(client, alpha, role):
    brand, people, objs = alpha
    client.force_login(people[role])
    settings_page = html(client.get(_url("brand_settings", brand)))
    assert _url("inbox_saved_replies", brand) in settings_page  # linked from Settings

    page = html(client.get(_url("inbox_saved_replies", brand)))
    assert "Horario" in page and "Hola {name}, abrimos a las 9." in page
    assert (_url("inbox_saved_reply_edit", brand, objs["saved"].pk) in page) == (role in REPLIERS)
    # The English version is missing: offered to those who can write it.
    assert ("?title=Horario&amp;language=en" in page) == (role in REPLIERS)

    page = html(client.get(_url("inbox_rules", brand)))
    assert "Quejas urgentes" in page and "Complaint" in page and "Escalate by e-mail" in page
    assert (_url("inbox_rule_edit", brand, objs["rule"].pk) in page) == (role in MANAGERS)

    page = html(client.get(_url("inbox_labels", brand)))
    assert "Reembolsos" in page
    assert (_url("inbox_label_delete", brand, objs["label"].pk) in page) == (role in REPLIERS)

    response = client.get(_url("inbox_settings", brand))
    assert response.status_code == 200
    assert ('name="first_response_minutes"' in html(response)) == (role in MANAGERS)
    assert "60 minutes" in html(response) or role in MANAGERS


@pytest.mark.parametrize("role", sorted(set(ALL_ROLES) - REPLIERS))
def test_readers_cannot_write_saved_replies_or_labels(client, alpha, role):
    brand, people, objs = alpha
    client.force_login(people[role])
    assert client.get(_url("inbox_saved_reply_new", brand)).status_code == 403
    assert client.post(_url("inbox_saved_reply_new", brand),
                       {"title": "X", "language": "es", "text": "x"}).status_code == 403
    assert client.post(_url("inbox_saved_reply_delete", brand, objs["saved"].pk)).status_code == 403
    assert client.post(_url("inbox_labels", brand), {"name": "Nueva"}).status_code == 403
    assert client.post(_url("inbox_label_delete", brand, objs["label"].pk)).status_code == 403
    assert SavedReply.objects.filter(brand=brand).count() == 1 and Label.objects.filter(brand=brand).count() == 1


@pytest.mark.parametrize("role", sorted(set(ALL_ROLES) - MANAGERS))
def test_only_managers_change_rules_and_targets(client, alpha, role):
    brand, people, objs = alpha
    rule = objs["rule"]
    client.force_login(people[role])
    assert client.get(_url("inbox_rule_new", brand)).status_code == 403
    assert client.get(_url("inbox_rule_edit", brand, rule.pk)).status_code == 403
    for name in ("inbox_rule_toggle", "inbox_rule_move", "inbox_rule_delete"):
        assert client.post(_url(name, brand, rule.pk), {"direction": "down"}).status_code == 403
    assert client.post(_url("inbox_settings", brand), {"first_response_minutes": 5, "resolution_minutes": 10,
                                                       "escalation_urgency": 50}).status_code == 403
    rule.refresh_from_db()
    assert rule.enabled and not InboxSettings.objects.filter(brand=brand).exists()


# --- Saved replies ----------------------------------------------------------------------------------------

def test_create_a_saved_reply_and_its_translation(client, alpha):
    brand, people, _objs = alpha
    client.force_login(people["community_manager"])
    page = html(client.get(_url("inbox_saved_reply_new", brand) + "?title=Horario&language=en"))
    assert 'value="Horario"' in page and '<option value="en" selected>' in page
    response = client.post(_url("inbox_saved_reply_new", brand),
                           {"title": "Horario", "language": "en", "text": "Hi {name}, we open at 9. {agent}"})
    assert response.status_code == 302 and response["Location"] == _url("inbox_saved_replies", brand)
    saved = SavedReply.objects.get(brand=brand, language="en")
    assert saved.text == "Hi {name}, we open at 9. {agent}" and saved.created_by == people["community_manager"]
    assert AuditEvent.objects.filter(brand=brand, action="saved_reply.create", object_id=str(saved.pk)).exists()


def test_unknown_variable_is_named_on_the_form(client, alpha):
    brand, people, objs = alpha
    client.force_login(people["owner"])
    response = client.post(_url("inbox_saved_reply_edit", brand, objs["saved"].pk),
                           {"title": "Horario", "language": "es", "text": "Hola {nombre}"})
    assert response.status_code == 200
    page = html(response)
    assert "Unknown variable {nombre}" in page
    assert "Unknown variables: nombre" in page  # the preview says it too
    objs["saved"].refresh_from_db()
    assert objs["saved"].text == "Hola {name}, abrimos a las 9."


def test_saved_reply_oversized_and_missing_fields(client, alpha):
    brand, people, _objs = alpha
    client.force_login(people["owner"])
    response = client.post(_url("inbox_saved_reply_new", brand),
                           {"title": "x" * 500, "language": "xx", "text": "y" * 6000})
    assert response.status_code == 200
    form = response.context["form"]
    assert set(form.errors) == {"title", "language", "text"}
    assert SavedReply.objects.filter(brand=brand).count() == 1


def test_saved_reply_script_injection_is_escaped_everywhere(client, alpha):
    brand, people, _objs = alpha
    client.force_login(people["owner"])
    client.post(_url("inbox_saved_reply_new", brand), {"title": XSS, "language": "es", "text": f"{XSS} {{name}}"})
    saved = SavedReply.objects.get(brand=brand, title=XSS)
    assert_escaped(html(client.get(_url("inbox_saved_replies", brand))))
    assert_escaped(html(client.get(_url("inbox_saved_reply_edit", brand, saved.pk))))
    preview = client.get(_url("inbox_saved_reply_preview", brand), {"text": f"{XSS} {{name}} {{<b>x</b>}}"})
    assert_escaped(html(preview))
    assert "<b>" not in html(preview)


def test_preview_fills_sample_values(client, alpha):
    brand, people, _objs = alpha
    people["owner"].first_name, people["owner"].last_name = "Laura", "Gómez"
    people["owner"].save()
    client.force_login(people["owner"])
    response = client.get(_url("inbox_saved_reply_preview", brand),
                          {"text": "Hola {name} ({handle}), soy {agent} de {brand}.\nGracias"})
    page = html(response)
    assert response.status_code == 200
    assert f"Hola Ana (@ana), soy Laura Gómez de {brand.name}.<br>Gracias" in page
    # The edit page shows the same preview for the stored text.
    page = html(client.get(_url("inbox_saved_reply_edit", brand, SavedReply.objects.get(brand=brand).pk)))
    assert "Hola Ana, abrimos a las 9." in page and 'hx-get="' + _url("inbox_saved_reply_preview", brand) in page


def test_delete_saved_reply(client, alpha):
    brand, people, objs = alpha
    client.force_login(people["community_manager"])
    response = client.post(_url("inbox_saved_reply_delete", brand, objs["saved"].pk))
    assert response.status_code == 302
    assert not SavedReply.objects.filter(pk=objs["saved"].pk).exists()
    assert client.get(_url("inbox_saved_reply_delete", brand, objs["saved"].pk)).status_code == 405


# --- Rules --------------------------------------------------------------------------------------------------

def test_create_a_rule_from_the_form(client, alpha):
    brand, people, _objs = alpha
    client.force_login(people["manager"])
    page = html(client.get(_url("inbox_rule_new", brand)))
    # Multi-selects as checkboxes, the team as a select, the existing labels offered.
    for needle in ('name="networks" value="mastodon"', 'name="intents" value="complaint"',
                   'name="sentiments" value="negative"', 'name="languages" value="es"',
                   f'<option value="{people["community_manager"].pk}">', 'name="labels" value="Reembolsos"',
                   'name="hide"', 'name="flag"', 'name="escalate"', 'name="close"', 'name="min_toxicity"'):
        assert needle in page, needle
    assert f'<option value="{people["analyst"].pk}">' not in page  # cannot work the inbox
    response = client.post(_url("inbox_rule_new", brand), {
        "name": "Insultos fuera", "enabled": "on", "networks": ["mastodon", "facebook"], "languages": ["es"],
        "min_toxicity": "80", "keywords": "idiota, imbécil\nIDIOTA", "assign_to": str(people["community_manager"].pk),
        "labels": ["Reembolsos"], "new_labels": "trolls, Reembolsos", "hide": "on", "flag": "on",
    })
    assert response.status_code == 302, response.context["form"].errors if response.context else ""
    rule = InboxRule.objects.get(brand=brand, name="Insultos fuera")
    assert rule.conditions == {"networks": ["mastodon", "facebook"], "languages": ["es"], "min_toxicity": 0.8,
                               "keywords": ["idiota", "imbécil"]}
    assert rule.actions == {"assign_to": people["community_manager"].pk, "labels": ["Reembolsos", "trolls"],
                            "hide": True, "flag": True}
    assert rule.position == 1 and rule.enabled
    # And it reads back into the same form.
    page = html(client.get(_url("inbox_rule_edit", brand, rule.pk)))
    assert 'value="80"' in page and "idiota, imbécil" in page
    assert 'name="hide" id="id_hide" checked' in page


def test_rule_form_keeps_a_label_deleted_since(client, alpha):
    brand, people, _objs = alpha
    rule = config.do_save_rule(Ctx(people["owner"]), brand, name="Ghost", conditions={},
                               actions={"labels": ["Fantasma"], "flag": True})
    client.force_login(people["owner"])
    page = html(client.get(_url("inbox_rule_edit", brand, rule.pk)))
    assert 'name="labels" value="Fantasma"' in page
    response = client.post(_url("inbox_rule_edit", brand, rule.pk), {"name": "Ghost", "enabled": "on",
                                                                       "labels": ["Fantasma"], "flag": "on"})
    assert response.status_code == 302
    rule.refresh_from_db()
    assert rule.actions == {"labels": ["Fantasma"], "flag": True}


def test_rule_form_refusals_are_shown(client, alpha):
    brand, people, _objs = alpha
    client.force_login(people["owner"])
    response = client.post(_url("inbox_rule_new", brand), {"name": "Nada", "intents": ["complaint"]})
    assert response.status_code == 200
    assert "Choose at least one action." in html(response)
    response = client.post(_url("inbox_rule_new", brand), {
        "name": "x" * 500, "intents": ["bribery"], "min_toxicity": "150", "flag": "on",
        "keywords": ",".join(f"w{i}" for i in range(60)), "assign_to": "abc"})
    errors = response.context["form"].errors
    assert {"name", "intents", "min_toxicity", "keywords", "assign_to"} <= set(errors)
    assert InboxRule.objects.filter(brand=brand).count() == 1


def test_toggle_move_and_delete_rules(client, alpha):
    brand, people, objs = alpha
    second = config.do_save_rule(Ctx(people["owner"]), brand, name="Spam", conditions={"intents": ["spam"]},
                                 actions={"close": True})
    client.force_login(people["manager"])
    client.post(_url("inbox_rule_toggle", brand, second.pk))
    second.refresh_from_db()
    assert not second.enabled
    page = html(client.get(_url("inbox_rules", brand)))
    assert "Disabled" in page and page.index("Quejas urgentes") < page.index("Spam")
    client.post(_url("inbox_rule_move", brand, second.pk), {"direction": "up"})
    page = html(client.get(_url("inbox_rules", brand)))
    assert page.index("Spam") < page.index("Quejas urgentes")
    response = client.post(_url("inbox_rule_move", brand, second.pk), {"direction": "sideways"}, follow=True)
    assert "Choose where to move the rule." in messages_of(response)
    client.post(_url("inbox_rule_delete", brand, second.pk))
    assert list(InboxRule.objects.filter(brand=brand).values_list("name", "position")) == [("Quejas urgentes", 0)]


def test_rule_script_injection_is_escaped(client, alpha):
    brand, people, _objs = alpha
    config.do_save_rule(Ctx(people["owner"]), brand, name=XSS, conditions={"keywords": [XSS]},
                        actions={"labels": [XSS]})
    client.force_login(people["owner"])
    page = html(client.get(_url("inbox_rules", brand)))
    assert_escaped(page)
    rule = InboxRule.objects.get(brand=brand, name=XSS)
    assert_escaped(html(client.get(_url("inbox_rule_edit", brand, rule.pk))))


# --- Labels ---------------------------------------------------------------------------------------------

def test_labels_create_rename_delete(client, alpha):
    brand, people, objs = alpha
    client.force_login(people["community_manager"])
    response = client.post(_url("inbox_labels", brand), {"name": "Prensa"})
    assert response.status_code == 302
    response = client.post(_url("inbox_labels", brand), {"name": "prensa"})
    assert response.status_code == 200 and "There is already a label with this name." in html(response)
    response = client.post(_url("inbox_labels", brand), {"name": "p" * 61})
    assert response.status_code == 200 and response.context["form"].errors["name"]
    client.post(_url("inbox_label_edit", brand, objs["label"].pk), {"name": "Devoluciones"})
    assert sorted(Label.objects.filter(brand=brand).values_list("name", flat=True)) == ["Devoluciones", "Prensa"]
    client.post(_url("inbox_label_delete", brand, objs["label"].pk))
    assert list(Label.objects.filter(brand=brand).values_list("name", flat=True)) == ["Prensa"]


def test_label_page_names_the_rules_that_add_it(client, alpha):
    brand, people, objs = alpha
    client.force_login(people["community_manager"])
    page = html(client.get(_url("inbox_label_edit", brand, objs["label"].pk)))
    assert "Rules that add this label: Quejas urgentes." in page
    client.post(_url("inbox_label_edit", brand, objs["label"].pk), {"name": "Devoluciones"})
    objs["rule"].refresh_from_db()
    assert objs["rule"].actions["labels"] == ["Devoluciones"]


def test_label_script_injection_is_escaped(client, alpha):
    brand, people, _objs = alpha
    client.force_login(people["owner"])
    client.post(_url("inbox_labels", brand), {"name": XSS})
    label = Label.objects.get(brand=brand, name=XSS)
    assert_escaped(html(client.get(_url("inbox_labels", brand))))
    assert_escaped(html(client.get(_url("inbox_label_edit", brand, label.pk))))


# --- Service targets --------------------------------------------------------------------------------------

def test_save_service_targets(client, alpha):
    brand, people, _objs = alpha
    client.force_login(people["manager"])
    page = html(client.get(_url("inbox_settings", brand)))
    assert 'value="60"' in page and 'value="1440"' in page  # the defaults
    response = client.post(_url("inbox_settings", brand), {
        "first_response_minutes": "15", "resolution_minutes": "240", "escalation_urgency": "85",
        "escalation_emails": "jefa@example.com\nsoporte@example.com"})
    assert response.status_code == 302
    obj = InboxSettings.objects.get(brand=brand)
    assert (obj.first_response_minutes, obj.resolution_minutes, obj.escalation_urgency) == (15, 240, 85)
    assert config.escalation_emails(obj) == ["jefa@example.com", "soporte@example.com"]
    client.force_login(people["analyst"])
    page = html(client.get(_url("inbox_settings", brand)))
    assert "15 minutes" in page and "soporte@example.com" in page


def test_service_targets_refusals(client, alpha):
    brand, people, _objs = alpha
    client.force_login(people["owner"])
    response = client.post(_url("inbox_settings", brand), {
        "first_response_minutes": "600", "resolution_minutes": "60", "escalation_urgency": "50",
        "escalation_emails": f"{XSS}@example.com"})
    assert response.status_code == 200
    page = html(response)
    assert "is not a valid e-mail address" in page
    assert "<script>alert" not in page
    response = client.post(_url("inbox_settings", brand), {
        "first_response_minutes": "600", "resolution_minutes": "60", "escalation_urgency": "50"})
    assert "cannot be shorter than the first-response target" in html(response)
    response = client.post(_url("inbox_settings", brand), {
        "first_response_minutes": "-1", "resolution_minutes": "9" * 30, "escalation_urgency": "500",
        "escalation_emails": "a@example.com\n" * 400})
    assert set(response.context["form"].errors) == {"first_response_minutes", "resolution_minutes",
                                                    "escalation_urgency", "escalation_emails"}
    assert not InboxSettings.objects.filter(brand=brand).exists()


# --- Other brands ------------------------------------------------------------------------------------------

def test_other_brands_rows_are_404_and_untouched(client, alpha, beta):
    brand, people, _objs = alpha
    _other, theirs = beta
    client.force_login(people["owner"])
    urls = [
        ("get", _url("inbox_saved_reply_edit", brand, theirs["saved"].pk)),
        ("post", _url("inbox_saved_reply_edit", brand, theirs["saved"].pk)),
        ("post", _url("inbox_saved_reply_delete", brand, theirs["saved"].pk)),
        ("get", _url("inbox_rule_edit", brand, theirs["rule"].pk)),
        ("post", _url("inbox_rule_toggle", brand, theirs["rule"].pk)),
        ("post", _url("inbox_rule_move", brand, theirs["rule"].pk)),
        ("post", _url("inbox_rule_delete", brand, theirs["rule"].pk)),
        ("get", _url("inbox_label_edit", brand, theirs["label"].pk)),
        ("post", _url("inbox_label_delete", brand, theirs["label"].pk)),
        ("get", _url("inbox_saved_replies", _other)),
        ("get", _url("inbox_settings", _other)),
    ]
    for method, url in urls:
        response = getattr(client, method)(url, {"name": "hijack", "title": "hijack", "language": "en", "text": "x",
                                                 "direction": "up"})
        assert response.status_code == 404, (method, url)
        assert "Beta secret" not in html(response)
    for obj in theirs.values():
        assert type(obj).objects.filter(pk=obj.pk).exists()
    theirs["rule"].refresh_from_db()
    assert theirs["rule"].enabled
    # Nor do they show up in my lists.
    for name in ("inbox_saved_replies", "inbox_rules", "inbox_labels"):
        assert "Beta secret" not in html(client.get(_url(name, brand)))


def test_pages_in_spanish(client, alpha):
    brand, people, objs = alpha
    people["manager"].language = "es"
    people["manager"].save()
    client.force_login(people["manager"])
    checks = {
        _url("inbox_saved_replies", brand): ["Respuestas guardadas", "Nueva respuesta guardada", "Añadir en"],
        _url("inbox_rules", brand): ["Nueva regla", "Intenciones: Queja", "Escalar por correo electrónico"],
        _url("inbox_rule_new", brand): ["Cuando un mensaje cumple todo esto", "Ocultar el comentario en la red"],
        _url("inbox_labels", brand): ["Añadir etiqueta", "Reembolsos"],
        _url("inbox_label_edit", brand, objs["label"].pk): ["0 conversaciones tienen esta etiqueta"],
        _url("inbox_settings", brand): ["Objetivos de servicio", "Primera respuesta en (minutos)"],
        _url("inbox_saved_reply_preview", brand) + "?text=Hola+{nombre}": ["Variables desconocidas: nombre"],
    }
    for url, needles in checks.items():
        page = html(client.get(url))
        for needle in needles:
            assert needle in page, (url, needle)


def test_try_a_rule_on_the_latest_messages(client, alpha):
    from datetime import timedelta

    from django.utils import timezone

    from tertulia.inbox import services as inbox
    from tertulia.networks.services import do_add_account

    brand, people, _objs = alpha
    account = do_add_account(Ctx(people["owner"]), brand, network="x", handle="alpha", external_id="acc-1")
    now = timezone.now()
    fan = inbox.IncomingAuthor(external_id="u1", handle="@fan")
    inbox.ingest_interactions(account, [
        inbox.IncomingInteraction(external_id=f"c{i}", kind="comment", author=fan, root_external_id="p",
                                  text=text, created_at=now - timedelta(minutes=10 - i), intent=intent,
                                  sentiment="negative", toxicity=tox, urgency=0.5)
        for i, (text, intent, tox) in enumerate([
            ("Quiero mi REEMBOLSO ya", "complaint", 0.1), (f"{XSS} reembolso", "complaint", 0.9),
            ("Gracias por todo", "praise", 0.0), ("¿Reembolso?", "question", 0.0)])])
    client.force_login(people["manager"])
    url = _url("inbox_rule_try", brand)
    page = html(client.post(url, {"name": "t", "intents": ["complaint"], "keywords": "reembolso"}))
    assert "This rule would act on 2 of the latest 4 messages received." in page
    assert "Quiero mi REEMBOLSO ya" in page and "Gracias" not in page
    assert_escaped(page)
    page = html(client.post(url, {"intents": ["complaint"], "min_toxicity": "50"}))
    assert "act on 1 of the latest 4" in page
    page = html(client.post(url, {"min_toxicity": "500"}))
    assert "act on" not in page and "error" in page
    assert client.get(url).status_code == 405
    client.force_login(people["community_manager"])
    assert client.post(url, {"intents": ["complaint"]}).status_code == 403
    # The form offers it.
    client.force_login(people["owner"])
    assert f'hx-post="{url}"' in html(client.get(_url("inbox_rule_new", brand)))
