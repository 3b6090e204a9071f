"""Security review, item 9: incoming webhook signatures.

The incoming webhooks are Meta's (Facebook Pages, Instagram; ``/networks/meta/webhook/``) and
WhatsApp's (``/networks/whatsapp/webhook/``), both signed by Meta with the app secret
(``X-Hub-Signature-256: sha256=<HMAC-SHA256 of the raw body>``). Telegram is read by polling
(getUpdates), so there is no Telegram webhook to forge, and no other route takes unsigned,
session-less POSTs: the first test fails if one appears. Each webhook refuses a missing, wrong,
truncated or other-algorithm signature and a body altered after signing; with no app secret
configured everything is refused. Meta's signature has no timestamp, so a replayed delivery
verifies: replays are made harmless instead (stored once; an old delivery replayed after a
newer edit or removal does not bring the old text back). The comparison is constant-time.
Per-network details are in networks/tests/test_meta_webhooks.py and
inbox/tests/test_whatsapp_inbox.py.
"""

from __future__ import annotations

import hashlib
import hmac
import json

import pytest
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from tertulia.inbox.models import Interaction
from tertulia.networks.tests.test_meta_webhooks import PAGE, page_comment, signed_in

pytestmark = pytest.mark.django_db

SECRET = "app-secret-for-security-tests"
SIGNED_WEBHOOKS = {"meta_webhook", "whatsapp_webhook"}
# Exempt at Django's level only to check the body's size before the CSRF middleware reads it;
# the view then applies csrf_protect itself (test_security_csrf.py proves the refusal).
CHECKS_CSRF_ITSELF = {"giveaway_verify"}


@pytest.fixture(autouse=True)
def meta_app(settings):
    settings.NETWORK_APPS = {**settings.NETWORK_APPS, "meta": {
        "client_id": "1234567890", "client_secret": SECRET, "webhook_verify_token": "verify-me-please"}}


def sign(body: bytes, secret: str = SECRET) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def post(name: str, body: bytes, signature: str | None):
    headers = {} if signature is None else {"HTTP_X_HUB_SIGNATURE_256": signature}
    return Client(enforce_csrf_checks=True).post(reverse(name), body, content_type="application/json", **headers)


def whatsapp_message(text="hola", message_id="wamid.SEC1"):
    return json.dumps({"object": "whatsapp_business_account", "entry": [{"id": "102290129340398", "changes": [{
        "field": "messages", "value": {"messaging_product": "whatsapp",
                                       "metadata": {"display_phone_number": "15550001111",
                                                    "phone_number_id": "106540352242922"},
                                       "contacts": [{"profile": {"name": "Lucía"}, "wa_id": "34600000001"}],
                                       "messages": [{"from": "34600000001", "id": message_id,
                                                     "timestamp": "1764100000", "type": "text",
                                                     "text": {"body": text}}]}}]}]}).encode()


def _walk(patterns):
    for p in patterns:
        if isinstance(p, URLResolver):
            yield from _walk(p.url_patterns)
        elif isinstance(p, URLPattern):
            yield p


def test_the_only_session_less_post_routes_are_the_signed_webhooks():
    """Every view Django lets through without a CSRF token is one of the signed webhooks, or
    checks the token itself (the API's views are exempt at Django's level because ninja checks CSRF itself for the session
    and the token is the credential otherwise; tested in test_security_csrf.py)."""
    exempt = {p.name for p in _walk(get_resolver().url_patterns)
              if getattr(p.callback, "csrf_exempt", False) and not p.callback.__module__.startswith("ninja")}
    assert exempt == SIGNED_WEBHOOKS | CHECKS_CSRF_ITSELF
    assert not any("telegram" in (p.name or "") and "hook" in (p.name or "") for p in _walk(get_resolver().url_patterns))


def _bad_signatures(body: bytes) -> list[str | None]:
    good = sign(body)
    return [None, "", "sha256=", "sha256", good[:-1], good[:-2] + ("00" if good[-2:] != "00" else "11"),
            good.replace("sha256=", "sha1="), good.replace("sha256=", "SHA256="), "sha256=" + "0" * 64,
            sign(body, "wrong-secret"), sign(body, ""), good + "00", " " + good[7:], "sha256=" + good[7:].upper() + "x",
            "sha256=" + "é" * 64]


@pytest.mark.parametrize("name, body", [("meta_webhook", page_comment()), ("whatsapp_webhook", whatsapp_message())])
def test_missing_wrong_and_tampered_signatures_are_refused(name, body, brand_a):
    brand, people = brand_a
    signed_in(people["owner"], brand, "facebook", "cafe", PAGE)
    for signature in _bad_signatures(body):
        assert post(name, body, signature).status_code == 403, signature
    # Altered after signing: one byte, appended data, a re-serialised body (same JSON, other bytes).
    tampered = [body.replace(b"hola", b"HOLA") if b"hola" in body else body.replace(b"domingo", b"DOMINGO"),
                body + b" ", json.dumps(json.loads(body), indent=1).encode()]
    for other in tampered:
        assert other != body
        assert post(name, other, sign(body)).status_code == 403
    assert not Interaction.objects.exists()
    # The positive control: the same body, rightly signed, is accepted.
    assert post(name, body, sign(body)).status_code == 200


def test_with_no_app_secret_everything_is_refused(settings, brand_a):
    brand, people = brand_a
    signed_in(people["owner"], brand, "facebook", "cafe", PAGE)
    settings.NETWORK_APPS = {**settings.NETWORK_APPS, "meta": {"client_id": "1", "client_secret": ""}}
    body = page_comment()
    for signature in (sign(body, ""), sign(body), None):
        assert post("meta_webhook", body, signature).status_code == 403
        assert post("whatsapp_webhook", whatsapp_message(), signature).status_code == 403
    assert not Interaction.objects.exists()


def test_a_replayed_delivery_changes_nothing(brand_a):
    brand, people = brand_a
    account = signed_in(people["owner"], brand, "facebook", "cafe", PAGE)
    first = page_comment(text="primera versión")
    assert post("meta_webhook", first, sign(first)).status_code == 200
    assert post("meta_webhook", first, sign(first)).status_code == 200  # Meta retries; an attacker replays
    assert Interaction.objects.filter(account=account).count() == 1
    edited = page_comment(text="versión corregida", verb="edited")
    assert post("meta_webhook", edited, sign(edited)).status_code == 200
    # The captured first delivery, replayed after the edit, does not bring the old text back.
    assert post("meta_webhook", first, sign(first)).status_code == 200
    item = Interaction.objects.get(account=account)
    assert item.text == "versión corregida"
    removed = page_comment(verb="remove")
    assert post("meta_webhook", removed, sign(removed)).status_code == 200
    assert post("meta_webhook", first, sign(first)).status_code == 200
    assert post("meta_webhook", edited, sign(edited)).status_code == 200
    item.refresh_from_db()
    assert item.deleted_at is not None, "a replayed delivery brought a removed comment back"


def test_signatures_are_compared_in_constant_time(monkeypatch):
    from tertulia.networks.meta import graph, webhooks

    calls = []
    real = hmac.compare_digest

    def spy(a, b):
        calls.append((a, b))
        return real(a, b)

    monkeypatch.setattr(graph.hmac, "compare_digest", spy)
    body = b'{"object": "page", "entry": []}'
    assert webhooks.signature_ok(body, sign(body)) is True
    assert webhooks.signature_ok(body, sign(body, "nope")) is False
    assert len(calls) == 2  # both went through hmac.compare_digest, never ==
