"""Parsing WhatsApp webhook bodies (no database): every shape the Cloud API documents, and any
JSON at all never raises anything but ``Malformed`` (hypothesis)."""

from __future__ import annotations

import json
import math

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tertulia.networks.whatsapp import webhooks
from tertulia.networks.whatsapp.inbox import osm_url
from tests.fakes.whatsapp import PHONE_ID, WABA_ID, FakeWhatsApp

CUSTOMER = "34600111222"


def _body(message: dict) -> bytes:
    return FakeWhatsApp().message_body(CUSTOMER, message, name="Lucía")


def _one(body: bytes):
    batches, _result = webhooks.parse(body)
    (items,) = batches.values()
    assert list(batches) == [(WABA_ID, PHONE_ID)]
    return items


@pytest.mark.parametrize(("message", "text", "extra"), [
    ({"type": "text", "text": {"body": "Hola"}}, "Hola", {"message_type": "text"}),
    ({"type": "image", "image": {"id": "123", "mime_type": "image/jpeg", "caption": "foto"}}, "foto",
     {"media_id": "123", "mime_type": "image/jpeg"}),
    ({"type": "audio", "audio": {"id": "55", "mime_type": "audio/ogg; codecs=opus", "voice": True}}, "",
     {"media_id": "55", "mime_type": "audio/ogg"}),
    ({"type": "document", "document": {"id": "9", "mime_type": "application/pdf", "filename": "f.pdf"}}, "",
     {"filename": "f.pdf"}),
    ({"type": "image", "image": {"id": "../x", "mime_type": "text/html<script>"}}, "", {"media_id": "", "mime_type": ""}),
    ({"type": "location", "location": {"latitude": 40.5, "longitude": -3.5, "name": "Bar", "address": "Sol"}},
     "Bar\nSol", {"latitude": 40.5, "longitude": -3.5}),
    ({"type": "location", "location": {"latitude": "NaN", "longitude": 1}}, "", {"latitude": None}),
    ({"type": "location", "location": {"latitude": 91, "longitude": 1}}, "", {"latitude": None}),
    ({"type": "reaction", "reaction": {"message_id": "wamid.1", "emoji": "👍"}}, "👍", {"message_type": "reaction"}),
    ({"type": "interactive", "interactive": {"type": "list_reply", "list_reply": {"id": "a", "title": "Mañana",
                                                                                  "description": "10-12"}}},
     "Mañana\n10-12", {}),
    ({"type": "button", "button": {"payload": "STOP", "text": "Parar"}}, "Parar", {}),
    ({"type": "order", "order": {}}, "", {"message_type": "unsupported"}),
    ({"type": "unsupported", "errors": [{"code": 131051}]}, "", {"message_type": "unsupported"}),
])
def test_each_message_type(message, text, extra):
    (item,) = _one(_body(message))
    assert item.interaction.text == text
    assert item.interaction.kind == "dm" and item.interaction.root_external_id == CUSTOMER
    assert item.interaction.author.display_name == "Lucía"
    for key, value in extra.items():
        assert item.extra.get(key) == value, key


def test_contacts_become_text():
    body = _body({"type": "contacts", "contacts": [
        {"name": {"formatted_name": "Pepe"}, "phones": [{"phone": "+34 600"}, {"phone": "+34 700"}]}, "junk"]})
    (item,) = _one(body)
    assert item.interaction.text == "Pepe +34 600, +34 700"


def test_statuses_and_their_errors():
    body = FakeWhatsApp().status_body("wamid.ABC", "failed", errors=[{"code": 131047, "title": "Re-engagement"}])
    (status,) = _one(body)
    assert status.status == "failed" and "24 hours" in status.error
    assert _one(FakeWhatsApp().status_body("wamid.ABC", "read"))[0].error == ""
    batches, result = webhooks.parse(FakeWhatsApp().status_body("wamid.ABC", "deleted"))
    assert not batches and result.ignored == 1


def test_other_objects_are_ignored():
    batches, result = webhooks.parse(json.dumps({"object": "page", "entry": []}).encode())
    assert not batches and result.ignored == 1


def test_a_flood_of_items_is_bounded():
    fake = FakeWhatsApp()
    data = json.loads(fake.message_body(CUSTOMER, {"type": "text", "text": {"body": "x"}}))
    first = data["entry"][0]["changes"][0]["value"]["messages"][0]
    data["entry"][0]["changes"][0]["value"]["messages"] = [
        {**first, "id": f"wamid.{n}"} for n in range(webhooks.MAX_ITEMS + 50)]
    batches, result = webhooks.parse(json.dumps(data).encode())
    assert len(next(iter(batches.values()))) == webhooks.MAX_ITEMS and result.ignored == 50


@pytest.mark.parametrize(("lat", "lon", "ok"), [(40.0, -3.0, True), (90.0, 180.0, True), (91.0, 0.0, False),
                                                (math.nan, 0.0, False), ("1", 1.0, False), (None, None, False)])
def test_map_links_only_for_checked_numbers(lat, lon, ok):
    assert bool(osm_url(lat, lon)) is ok


_json = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
                     lambda children: st.lists(children, max_size=4)
                     | st.dictionaries(st.sampled_from(["object", "entry", "id", "changes", "field", "value",
                                                        "metadata", "phone_number_id", "messages", "statuses",
                                                        "from", "type", "text", "body", "timestamp", "contacts",
                                                        "location", "latitude", "errors", "status", "image"]),
                                       children, max_size=6), max_leaves=30)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.dictionaries(st.sampled_from(["object", "entry"]), _json, max_size=2))
def test_any_json_is_parsed_or_refused_cleanly(data):
    if isinstance(data, dict) and "object" in data:
        data["object"] = "whatsapp_business_account"
    try:
        webhooks.parse(json.dumps(data).encode())
    except webhooks.Malformed:
        pass
