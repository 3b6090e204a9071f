"""WhatsApp in the inbox, end to end against the loopback Cloud API fake: signed webhooks in,
triage, media through our proxy, locations, read receipts, replies at most once, the 24-hour
window (service, page and API), templates, and hostile input of every kind."""

from __future__ import annotations

import json
import time
from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.test import Client
from django.urls import reverse
from django.utils import timezone, translation

from tertulia.core.services import Ctx
from tertulia.core.tests.web_helpers import XSS, assert_escaped
from tertulia.inbox import replies
from tertulia.inbox.models import Conversation, Interaction, OutgoingReply, WhatsAppMessage, WhatsAppTemplate
from tertulia.networks.errors import AuthExpired
from tertulia.networks.models import SocialAccount
from tertulia.networks.services import do_add_account
from tertulia.networks.whatsapp import services as wa
from tests.fakes.whatsapp import APP_SECRET, PHONE_ID, WABA_ID, Fault, FakeWhatsApp
from tests.fakes.whatsapp_plugin import fake_whatsapp  # noqa: F401

from .backend_helpers import loopback  # noqa: F401

pytestmark = pytest.mark.django_db
CUSTOMER = "34600111222"
WEBHOOK = "/networks/whatsapp/webhook/"
R = OutgoingReply.State


@pytest.fixture
def wa_settings(settings, loopback, fake_whatsapp):  # noqa: F811
    settings.NETWORK_APPS = {**settings.NETWORK_APPS, "meta": {
        "client_id": "1", "client_secret": APP_SECRET, "webhook_verify_token": "verify-me"}}
    settings.NETWORK_ENDPOINTS = {**settings.NETWORK_ENDPOINTS, "whatsapp": {"api": fake_whatsapp.base_url}}
    return settings


@pytest.fixture
def account(wa_settings, brand_a, fake_whatsapp):  # noqa: F811
    brand, people = brand_a
    account, created = wa.do_connect_whatsapp(Ctx(people["owner"], via="test"), brand, phone_number_id=PHONE_ID,
                                              waba_id=WABA_ID, access_token=fake_whatsapp.token)
    assert created and fake_whatsapp.subscribed
    return account


def post(client, body: bytes, signature: str | None = "auto"):
    headers = {}
    if signature == "auto":
        signature = FakeWhatsApp.sign(body)
    if signature is not None:
        headers["HTTP_X_HUB_SIGNATURE_256"] = signature
    return client.post(WEBHOOK, data=body, content_type="application/json", **headers)


def say(fake, text="hola", *, wa_id=CUSTOMER, name="Lucía", at=None, **kw):
    return fake.message_body(wa_id, {"type": "text", "text": {"body": text}}, name=name, at=at, **kw)


def login(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_connecting_checks_the_number_with_whatsapp_and_reads_the_templates(account, brand_a, fake_whatsapp):
    brand, people = brand_a
    assert account.handle == "+34 910 00 00 00" and account.external_id == PHONE_ID
    assert account.options["waba_id"] == WABA_ID and account.access_token == fake_whatsapp.token
    assert wa.do_sync_templates(Ctx(people["owner"], via="test"), account) == 4
    sendable = WhatsAppTemplate.objects.get(name="pedido_listo")
    assert sendable.params == ["1", "2"] and not sendable.unsupported
    assert WhatsAppTemplate.objects.get(name="promo_imagen").unsupported
    # A token WhatsApp does not accept connects nothing.
    with pytest.raises(AuthExpired):
        wa.do_connect_whatsapp(Ctx(people["owner"], via="test"), brand, phone_number_id=PHONE_ID, waba_id=WABA_ID,
                               access_token="stolen")


def test_the_connect_page_refuses_bad_input_and_wrong_roles(wa_settings, brand_a, fake_whatsapp):
    brand, people = brand_a
    url = reverse("whatsapp_connect", args=[brand.pk])
    assert login(people["community_manager"]).get(url).status_code in (403, 404)
    client = login(people["owner"])
    assert client.get(url).status_code == 200
    bad = client.post(url, {"phone_number_id": "12<b>3", "waba_id": "x" * 40, "access_token": "t"})
    assert bad.status_code == 400 and not SocialAccount.objects.filter(network="whatsapp").exists()
    refused = client.post(url, {"phone_number_id": PHONE_ID, "waba_id": WABA_ID, "access_token": "nope"})
    assert refused.status_code == 400 and "WhatsApp" in refused.content.decode()
    ok = client.post(url, {"phone_number_id": PHONE_ID, "waba_id": WABA_ID, "access_token": fake_whatsapp.token})
    assert ok.status_code == 302 and SocialAccount.objects.get(network="whatsapp").brand == brand


def test_a_signed_message_lands_in_the_inbox_once_and_is_triaged(account, fake_whatsapp):
    body = say(fake_whatsapp, "Es una vergüenza, el pedido llegó roto y nadie me contesta. Quiero una solución ya.")
    client = Client()
    assert post(client, body).status_code == 200
    assert post(client, body).status_code == 200  # WhatsApp retries: stored once
    message = Interaction.objects.get()
    assert message.conversation.kind == "dm" and message.conversation.root_external_id == CUSTOMER
    assert message.author.handle == f"+{CUSTOMER}" and message.author.display_name == "Lucía"
    assert message.sentiment == "negative" and message.intent == "complaint"
    assert WhatsAppMessage.objects.get().message_type == "text"


@pytest.mark.parametrize("signature", [None, "", "sha256=", "sha256=" + "0" * 64, "sha1=abc",
                                       FakeWhatsApp.sign(b"other body"), FakeWhatsApp.sign(b"x", "wrong-secret")])
def test_wrong_or_missing_signatures_are_refused(account, fake_whatsapp, signature):
    body = say(fake_whatsapp)
    response = post(Client(), body, signature=signature)
    assert response.status_code == 403
    assert not Interaction.objects.exists()


def test_a_huge_body_is_refused_before_reading(account):
    body = b'{"object": "whatsapp_business_account", "entry": []' + b" " * (10 * 1024 * 1024) + b"}"
    assert post(Client(), body).status_code == 413


@pytest.mark.parametrize("payload", [
    b"not json", b"[]", b'{"entry": "x"}', b'{"object": "whatsapp_business_account"}',
])
def test_malformed_bodies_are_refused(account, payload):
    assert post(Client(), payload).status_code == 400


def test_wrong_types_and_missing_fields_store_nothing_and_do_not_fail(account):
    value_bad = [
        {"metadata": "x", "messages": [{"from": CUSTOMER, "id": "wamid.1", "type": "text"}]},
        {"metadata": {"phone_number_id": PHONE_ID}, "messages": "notalist"},
        {"metadata": {"phone_number_id": PHONE_ID}, "messages": [1, None, "x", {"from": 34600, "id": "wamid.2"},
                                                                   {"from": CUSTOMER, "id": ["wamid.3"]},
                                                                   {"from": "<b>", "id": "wamid.4"}]},
        {"metadata": {"phone_number_id": PHONE_ID}, "statuses": [{"id": 5, "status": "read"}, {"status": "x"}]},
    ]
    data = {"object": "whatsapp_business_account", "entry": [
        1, "x", {"id": 7}, {"id": WABA_ID, "changes": "x"},
        {"id": WABA_ID, "changes": [None, {"field": "statuses", "value": {}}] + [
            {"field": "messages", "value": v} for v in value_bad]}]}
    assert post(Client(), json.dumps(data).encode()).status_code == 200
    assert not Interaction.objects.exists()


def test_odd_values_are_bounded(account, fake_whatsapp):
    huge = fake_whatsapp.message_body(CUSTOMER, {"type": "text", "text": {"body": "a" * 70000},
                                                 "timestamp": "99999999999"}, at=time.time())
    data = json.loads(huge)
    data["entry"][0]["changes"][0]["value"]["messages"][0]["timestamp"] = "99999999999"  # far future
    body = json.dumps(data).encode()
    assert post(Client(), body).status_code == 200
    message = Interaction.objects.get()
    # A customer may write more than a business may answer (4,096): kept up to 65,536 characters.
    assert len(message.text) == 65536
    assert message.created_at <= timezone.now() + timedelta(seconds=5)


def test_a_number_that_needs_reconnecting_still_receives(account, fake_whatsapp):
    """Storing a message needs the app secret, not the account's token; WhatsApp is never
    polled, so a message turned away while the token is expired would be lost for good."""
    SocialAccount.objects.filter(pk=account.pk).update(status=SocialAccount.Status.NEEDS_RECONNECT)
    body = fake_whatsapp.message_body(CUSTOMER, {"type": "text", "text": {"body": "¿Seguís ahí?"}}, at=time.time())
    assert post(Client(), body).status_code == 200
    assert Interaction.objects.get().text == "¿Seguís ahí?"


def test_an_unknown_number_is_ignored_with_200(account, fake_whatsapp):
    body = say(fake_whatsapp, phone_id="999999999999")
    assert post(Client(), body).status_code == 200
    body = say(fake_whatsapp, waba_id="888888888")  # our number, another business account
    assert post(Client(), body).status_code == 200
    assert not Interaction.objects.exists()


def test_brand_b_number_never_reaches_brand_a(account, brand_a, brand_b, fake_whatsapp):
    brand, people = brand_a
    other, other_people = brand_b
    # Brand A types brand B's phone number id into the plain account form: no WhatsApp check,
    # so nothing is ever routed to it.
    do_add_account(Ctx(people["owner"], via="test"), brand, network="whatsapp", handle="copy",
                   external_id="555000111", options={})
    b_account = SocialAccount.objects.create(brand=other, network="whatsapp", handle="+34 911", external_id="555000111",
                                             access_token="t", options={"signed_in_id": "555000111",
                                                                        "waba_id": "444000"})
    body = say(fake_whatsapp, "hola B", phone_id="555000111", waba_id="444000")
    assert post(Client(), body).status_code == 200
    assert list(Interaction.objects.values_list("account_id", flat=True)) == [b_account.pk]
    # Brand A's member cannot open B's conversation or its media.
    conv = Conversation.objects.get()
    client = login(people["owner"])
    assert client.get(reverse("inbox_conversation", args=[brand.pk, conv.pk])).status_code == 404
    assert client.get(reverse("whatsapp_media", args=[brand.pk, Interaction.objects.get().pk])).status_code == 404
    assert client.get(reverse("whatsapp_media", args=[other.pk, Interaction.objects.get().pk])).status_code in (403, 404)


def test_media_location_contacts_and_unsupported_are_shown_safely(account, brand_a, fake_whatsapp,
                                                                  django_capture_on_commit_callbacks):
    brand, people = brand_a
    image = fake_whatsapp.add_media(b"\x89PNG\r\n\x1a\n" + b"0" * 100, "image/png")
    html_doc = fake_whatsapp.add_media(b"<html><script>alert(1)</script></html>", "text/html")
    bodies = [
        fake_whatsapp.message_body(CUSTOMER, {"type": "image", "image": {"id": image, "mime_type": "image/png",
                                                                         "caption": f"foto {XSS}"}}, name=XSS),
        fake_whatsapp.message_body(CUSTOMER, {"type": "document", "document": {
            "id": html_doc, "mime_type": "text/html", "filename": f"{XSS}.html"}}),
        fake_whatsapp.message_body(CUSTOMER, {"type": "location", "location": {
            "latitude": 40.4168, "longitude": -3.7038, "name": f"Bar {XSS}", "address": "Sol 1, Madrid"}}),
        fake_whatsapp.message_body(CUSTOMER, {"type": "location", "location": {
            "latitude": "javascript:alert(1)", "longitude": 999, "name": "Nowhere"}}),
        fake_whatsapp.message_body(CUSTOMER, {"type": "contacts", "contacts": [
            {"name": {"formatted_name": f"Pepe {XSS}"}, "phones": [{"phone": "+34 600 000 001"}]}]}),
        fake_whatsapp.message_body(CUSTOMER, {"type": "ephemeral", "errors": [{"code": 131051}]}),
    ]
    for body in bodies:
        assert post(Client(), body).status_code == 200
    assert Interaction.objects.count() == 6
    conv = Conversation.objects.get()
    client = login(people["community_manager"])
    with django_capture_on_commit_callbacks(execute=True):
        page = client.get(reverse("inbox_conversation", args=[brand.pk, conv.pk])).content.decode()
    assert_escaped(page)
    assert "graph.facebook.com" not in page and fake_whatsapp.base_url not in page
    assert "https://www.openstreetmap.org/?mlat=40.416800&amp;mlon=-3.703800" in page
    assert page.count("openstreetmap.org") == 1  # not for the bad coordinates
    assert "Sol 1, Madrid" in page and "+34 600 000 001" in page
    assert "Unsupported message" in page or "Mensaje no admitido" in page
    # Opening it marked the customer's newest message as read on WhatsApp, once.
    assert len(fake_whatsapp.read_marks) == 1
    with django_capture_on_commit_callbacks(execute=True):
        client.get(reverse("inbox_conversation", args=[brand.pk, conv.pk]))
    assert len(fake_whatsapp.read_marks) == 1
    # The image, through our proxy, as an image that cannot run anything.
    photo = Interaction.objects.get(whatsapp__message_type="image")
    response = client.get(reverse("whatsapp_media", args=[brand.pk, photo.pk]))
    assert response.status_code == 200 and response["Content-Type"] == "image/png"
    assert response["X-Content-Type-Options"] == "nosniff" and "sandbox" in response["Content-Security-Policy"]
    assert response.content.startswith(b"\x89PNG")
    # HTML is only ever a download, never rendered by the browser.
    doc = Interaction.objects.get(whatsapp__message_type="document")
    response = client.get(reverse("whatsapp_media", args=[brand.pk, doc.pk]))
    assert response["Content-Type"] == "application/octet-stream"
    assert response["Content-Disposition"].startswith("attachment;") and "<" not in response["Content-Disposition"]
    # A message without a file has nothing to fetch; WhatsApp having lost it is said in words.
    text_only = Interaction.objects.get(whatsapp__message_type="location", whatsapp__latitude__isnull=False)
    assert client.get(reverse("whatsapp_media", args=[brand.pk, text_only.pk])).status_code == 404
    fake_whatsapp.media.clear()
    assert client.get(reverse("whatsapp_media", args=[brand.pk, photo.pk])).status_code == 404


def _conversation_with(fake, text="¿Tenéis mesa para 4?", hours_ago=0.1):
    body = say(fake, text, at=time.time() - hours_ago * 3600)
    assert post(Client(), body).status_code == 200
    return Conversation.objects.get()


def _drain(reply):
    reply.refresh_from_db()
    return reply


def test_a_reply_goes_out_once_and_its_receipts_are_recorded(account, brand_a, fake_whatsapp,
                                                               django_capture_on_commit_callbacks):
    brand, people = brand_a
    conv = _conversation_with(fake_whatsapp)
    with django_capture_on_commit_callbacks(execute=True):
        reply = replies.do_reply(Ctx(people["community_manager"], via="test"), conv, "Sí, a las 21:00 🙂")
    reply = _drain(reply)
    assert reply.state == R.SENT and reply.external_id.startswith("wamid.")
    sent = [m for m in fake_whatsapp.sent if m.get("type") == "text"]
    assert len(sent) == 1 and sent[0]["to"] == CUSTOMER
    assert Interaction.objects.filter(direction="out").count() == 1
    client = Client()
    for status in ("delivered", "read", "sent", "delivered"):  # late and repeated news never go back
        assert post(client, fake_whatsapp.status_body(reply.external_id, status, recipient=CUSTOMER)).status_code == 200
    reply.refresh_from_db()
    assert reply.delivery_status == "read"
    page = login(people["community_manager"]).get(reverse("inbox_conversation", args=[brand.pk, conv.pk]))
    assert 'data-delivery="read"' in page.content.decode()


def test_a_failed_delivery_is_explained(account, brand_a, fake_whatsapp, django_capture_on_commit_callbacks):
    brand, people = brand_a
    conv = _conversation_with(fake_whatsapp)
    with django_capture_on_commit_callbacks(execute=True):
        reply = replies.do_reply(Ctx(people["community_manager"], via="test"), conv, "Hola")
    reply.refresh_from_db()
    body = fake_whatsapp.status_body(reply.external_id, "failed", errors=[
        {"code": 131026, "title": "Message undeliverable", "error_data": {"details": f"x {XSS}"}}])
    assert post(Client(), body).status_code == 200
    reply.refresh_from_db()
    assert reply.delivery_status == "failed" and "could not deliver" in reply.delivery_error
    page = login(people["owner"]).get(reverse("inbox_conversation", args=[brand.pk, conv.pk])).content.decode()
    assert 'data-delivery="failed"' in page and "<script>alert" not in page


def test_send_errors_are_in_words(account, brand_a, fake_whatsapp, django_capture_on_commit_callbacks):
    brand, people = brand_a
    conv = _conversation_with(fake_whatsapp)
    fake_whatsapp.inject("messages", Fault.graph(131026, "Message Undeliverable"))
    with django_capture_on_commit_callbacks(execute=True):
        reply = replies.do_reply(Ctx(people["community_manager"], via="test"), conv, "Hola")
    reply.refresh_from_db()
    assert reply.state == R.FAILED and "could not deliver" in reply.error
    fake_whatsapp.inject("messages", Fault.expired_token())
    with django_capture_on_commit_callbacks(execute=True):
        replies.do_reply(Ctx(people["community_manager"], via="test"), conv, "Otra vez")
    account.refresh_from_db()
    assert account.status == SocialAccount.Status.NEEDS_RECONNECT


def test_an_ambiguous_send_is_never_sent_twice(account, brand_a, fake_whatsapp, django_capture_on_commit_callbacks):
    brand, people = brand_a
    conv = _conversation_with(fake_whatsapp)
    fake_whatsapp.inject("messages", Fault.drop_after())
    with django_capture_on_commit_callbacks(execute=True):
        reply = replies.do_reply(Ctx(people["community_manager"], via="test"), conv, "Hola")
    reply.refresh_from_db()
    assert reply.state == R.FAILED and len(fake_whatsapp.sent) == 1
    assert "cannot tell" in reply.error


def test_outside_the_window_only_templates_service_page_and_api(account, brand_a, fake_whatsapp,
                                                                  django_capture_on_commit_callbacks):
    brand, people = brand_a
    conv = _conversation_with(fake_whatsapp, "hola", hours_ago=30)
    cm = Ctx(people["community_manager"], via="test")
    with pytest.raises(ValidationError) as caught, translation.override("en"):
        replies.do_reply(cm, conv, "¿Seguís interesada?")
    assert "24 hours" in " ".join(caught.value.messages)
    assert not OutgoingReply.objects.exists()
    client = login(people["community_manager"])
    page = client.get(reverse("inbox_conversation", args=[brand.pk, conv.pk])).content.decode()
    assert 'data-wa-window="closed"' in page and 'id="reply-text"' not in page
    refused = client.post(reverse("inbox_reply", args=[brand.pk, conv.pk]), {"text": "hola", "opened_at": "1"})
    assert refused.status_code == 200 and not OutgoingReply.objects.exists()
    fake_whatsapp.add_template("hostil", "es", f"Hola {{{{1}}}} {XSS}", header={"type": "HEADER", "format": "TEXT",
                                                                            "text": XSS})
    wa.do_sync_templates(Ctx(people["owner"], via="test"), account)
    template = WhatsAppTemplate.objects.get(name="pedido_listo")
    page = client.get(reverse("inbox_conversation", args=[brand.pk, conv.pk])).content.decode()
    assert "pedido_listo" in page and 'name="param"' in page
    assert_escaped(page)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("whatsapp_send_template", args=[brand.pk, conv.pk]),
                               {"template": template.pk, "param": ["Lucía", "A-77"]})
    assert response.status_code == 302
    reply = OutgoingReply.objects.get()
    assert reply.state == R.SENT and reply.template["name"] == "pedido_listo"
    assert reply.text == "Hola Lucía, tu pedido A-77 está listo para recoger."
    assert fake_whatsapp.sent[-1]["type"] == "template"


@pytest.mark.parametrize(("values", "expected"), [
    (["Lucía"], "needs 2 values"),
    (["", "A-1"], "Fill in"),
    (["Lucía\nhola", "A-1"], "line breaks"),
    (["Lucía     x", "A-1"], "line breaks"),
    (["x" * 1025, "A-1"], "too long"),
    (["x" * 1000, "y" * 1000], "1024"),
])
def test_template_values_are_checked(account, brand_a, fake_whatsapp, values, expected):
    brand, people = brand_a
    conv = _conversation_with(fake_whatsapp)
    wa.do_sync_templates(Ctx(people["owner"], via="test"), account)
    template = WhatsAppTemplate.objects.get(name="pedido_listo")
    with pytest.raises(ValidationError) as caught, translation.override("en"):
        wa.do_send_template(Ctx(people["community_manager"], via="test"), conv, template, values)
    assert expected in " ".join(caught.value.messages)
    assert not OutgoingReply.objects.exists()


def test_templates_that_cannot_be_sent_and_wrong_roles(account, brand_a, brand_b, fake_whatsapp):
    brand, people = brand_a
    conv = _conversation_with(fake_whatsapp)
    wa.do_sync_templates(Ctx(people["owner"], via="test"), account)
    cm = Ctx(people["community_manager"], via="test")
    for name in ("promo_imagen", "pendiente"):
        with pytest.raises(ValidationError):
            wa.do_send_template(cm, conv, WhatsAppTemplate.objects.get(name=name), ["x"])
    from django.core.exceptions import PermissionDenied

    with pytest.raises(PermissionDenied):
        wa.do_send_template(Ctx(people["analyst"], via="test"), conv,
                            WhatsAppTemplate.objects.get(name="seguimiento"), [])
    # Another brand's member posting to A's conversation: 404.
    other = login(brand_b[1]["community_manager"])
    url = reverse("whatsapp_send_template", args=[brand.pk, conv.pk])
    assert other.post(url, {"template": WhatsAppTemplate.objects.get(name="seguimiento").pk}).status_code == 404
    # A template id that is not this number's: refused in words, nothing queued.
    client = login(people["community_manager"])
    client.post(url, {"template": "999999", "param": ["x"] * 50})
    client.post(url, {"template": "<script>"})
    assert not OutgoingReply.objects.exists()
    assert login(people["analyst"]).post(url, {"template": "1"}).status_code in (403, 404)


def _api(client, method, url, data=None, token=None):
    from tertulia.core import services as core_services  # noqa: F401

    body = json.dumps(data) if data is not None else ""
    return getattr(client, method)("/api/v1" + url, body, content_type="application/json",
                                   HTTP_AUTHORIZATION=f"Bearer {token}")


def test_the_api_enforces_the_window_and_sends_templates(account, brand_a, brand_b, fake_whatsapp,
                                                         django_capture_on_commit_callbacks):
    from tertulia.core import services as core_services

    brand, people = brand_a
    token = core_services.do_create_token(Ctx(people["owner"]), "t", {brand.pk: "write"})[1]
    conv = _conversation_with(fake_whatsapp, "hola", hours_ago=30)
    client = Client()
    window = _api(client, "get", f"/brands/{brand.pk}/conversations/{conv.pk}/whatsapp-window", token=token).json()
    assert window["applies"] is True and window["open"] is False
    refused = _api(client, "post", f"/brands/{brand.pk}/conversations/{conv.pk}/reply", {"text": "hola"}, token)
    assert refused.status_code == 422 and "24" in refused.content.decode()
    synced = _api(client, "post", f"/brands/{brand.pk}/accounts/{account.pk}/whatsapp/templates/sync", token=token)
    assert synced.status_code == 200 and synced.json() == {"templates": 4}
    listed = _api(client, "get", f"/brands/{brand.pk}/whatsapp/templates", token=token).json()
    template = next(t for t in listed if t["name"] == "pedido_listo")
    assert template["sendable"] and template["params"] == ["1", "2"]
    url = f"/brands/{brand.pk}/conversations/{conv.pk}/whatsapp-template"
    for bad in ({"template_id": template["id"], "params": ["x"] * 21},
                {"template_id": template["id"], "params": ["x" * 1025, "y"]},
                {"template_id": template["id"], "params": ["Ana"]},
                {"template_id": template["id"], "params": ["Ana", "1"], "extra": 1},
                {"template_id": "<script>", "params": []}):
        assert _api(client, "post", url, bad, token).status_code == 422, bad
    assert _api(client, "post", url, {"template_id": 10**12, "params": []}, token).status_code == 404
    with django_capture_on_commit_callbacks(execute=True):
        sent = _api(client, "post", url, {"template_id": template["id"], "params": ["Ana", "B-9"]}, token)
    assert sent.status_code == 201 and sent.json()["template"]["name"] == "pedido_listo"
    assert OutgoingReply.objects.get().state == R.SENT
    # Another brand's token sees none of it.
    other = core_services.do_create_token(Ctx(brand_b[1]["owner"]), "t", {brand_b[0].pk: "write"})[1]
    assert _api(client, "get", f"/brands/{brand.pk}/conversations/{conv.pk}/whatsapp-window",
                token=other).status_code == 404
    assert _api(client, "post", url, {"template_id": template["id"], "params": ["Ana", "B-9"]},
                other).status_code == 404


def test_the_subscription_check_echoes_only_for_our_verify_token(wa_settings):
    client = Client()
    ok = client.get(WEBHOOK, {"hub.mode": "subscribe", "hub.verify_token": "verify-me", "hub.challenge": "1158201444"})
    assert ok.status_code == 200 and ok.content == b"1158201444"
    for params in ({"hub.mode": "subscribe", "hub.verify_token": "nope", "hub.challenge": "1"},
                   {"hub.mode": "unsubscribe", "hub.verify_token": "verify-me", "hub.challenge": "1"},
                   {"hub.mode": "subscribe", "hub.verify_token": "verify-me", "hub.challenge": "x" * 500}, {}):
        assert client.get(WEBHOOK, params).status_code == 403


def test_a_free_answer_longer_than_whatsapp_allows_is_refused(account, brand_a, fake_whatsapp):
    brand, people = brand_a
    conv = _conversation_with(fake_whatsapp)
    with pytest.raises(ValidationError) as caught, translation.override("en"):
        replies.do_reply(Ctx(people["community_manager"], via="test"), conv, "a" * 4097)
    assert "4096" in " ".join(caught.value.messages)
    assert not OutgoingReply.objects.exists()


def test_templates_sync_from_the_accounts_page(account, brand_a, fake_whatsapp):
    brand, people = brand_a
    url = reverse("whatsapp_templates_sync", args=[brand.pk, account.pk])
    page = login(people["owner"]).get(reverse("account_list", args=[brand.pk])).content.decode()
    assert url in page and reverse("whatsapp_connect", args=[brand.pk]) in page
    fake_whatsapp.add_template("aviso", "en_US", f"Hi {{{{1}}}} {XSS}")
    assert login(people["community_manager"]).post(url).status_code in (403, 404)
    assert login(people["owner"]).post(url).status_code == 302
    assert WhatsAppTemplate.objects.filter(account=account).count() == 5
    fake_whatsapp.templates[:] = fake_whatsapp.templates[:1]
    login(people["owner"]).post(url)
    assert list(WhatsAppTemplate.objects.values_list("name", flat=True)) == ["pedido_listo"]
