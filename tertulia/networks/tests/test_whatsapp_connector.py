"""The WhatsApp Cloud API connector against the loopback fake: sending text and templates,
read receipts, templates, media download, and every failure in our error vocabulary."""

from __future__ import annotations

import json
import time

import pytest
from django.utils import translation

from tertulia.networks.errors import Ambiguous, AuthExpired, Permanent, RateLimited, Retryable, Unsupported
from tertulia.networks.base import PostPayload
from tertulia.networks.whatsapp.connector import MAX_TEXT, window_error
from tests.fakes.whatsapp import Fault

CUSTOMER = "34600111222"


@pytest.fixture
def talking(fake_whatsapp):
    """The customer wrote a minute ago: the 24-hour window is open."""
    fake_whatsapp.message_body(CUSTOMER, {"type": "text", "text": {"body": "hola"}}, at=time.time() - 60)
    return fake_whatsapp


def test_reply_sends_a_text_message_with_the_token_in_the_header(whatsapp, talking):
    ref = whatsapp.reply(CUSTOMER, "  Hola, ya lo miramos  ")
    assert ref.external_id.startswith("wamid.")
    request = talking.requests_to("messages")[-1]
    assert request.params["to"] == CUSTOMER and request.params["type"] == "text"
    assert request.params["text"] == {"preview_url": False, "body": "Hola, ya lo miramos"}
    assert request.headers["authorization"] == f"Bearer {talking.token}"
    assert talking.token not in request.path


def test_outside_the_window_whatsapp_refuses_and_we_say_why(whatsapp, fake_whatsapp):
    fake_whatsapp.message_body(CUSTOMER, {"type": "text", "text": {"body": "hola"}}, at=time.time() - 25 * 3600)
    with pytest.raises(Permanent) as caught:
        whatsapp.reply(CUSTOMER, "¿Seguís ahí?")
    assert window_error(caught.value)
    with translation.override("en"):
        assert "24 hours" in str(caught.value.user_message)
    assert fake_whatsapp.sent == []


def test_a_message_longer_than_whatsapp_allows_is_refused_before_sending(whatsapp, talking):
    with pytest.raises(Permanent):
        whatsapp.reply(CUSTOMER, "a" * (MAX_TEXT + 1))
    assert talking.requests_to("messages") == []
    assert whatsapp.reply(CUSTOMER, "a" * MAX_TEXT).external_id


@pytest.mark.parametrize("to", ["", "+34", "34600111222<script>", "1234", "9" * 21])
def test_a_bad_recipient_is_refused_before_sending(whatsapp, talking, to):
    with pytest.raises(Permanent):
        whatsapp.reply(to, "hola")
    assert talking.requests_to("messages") == []


def test_templates_are_read_page_by_page(whatsapp, fake_whatsapp):
    for n in range(130):
        fake_whatsapp.add_template(f"extra_{n}", "es", "Hola {{1}}")
    templates = whatsapp.fetch_templates()
    assert len(templates) == 134
    assert len(fake_whatsapp.requests_to("templates")) == 2
    assert all("access_token" not in r.path for r in fake_whatsapp.requests_to("templates"))


def test_a_template_goes_out_at_any_time_with_its_parameters(whatsapp, fake_whatsapp):
    ref = whatsapp.send_template(CUSTOMER, "pedido_listo", "es", ["Ana", "A-123"])
    assert ref.external_id
    sent = fake_whatsapp.sent[-1]
    assert sent["type"] == "template"
    assert sent["template"]["components"] == [
        {"type": "body", "parameters": [{"type": "text", "text": "Ana"}, {"type": "text", "text": "A-123"}]}]


def test_template_errors_are_explained(whatsapp, fake_whatsapp):
    with pytest.raises(Permanent) as wrong_count:
        whatsapp.send_template(CUSTOMER, "pedido_listo", "es", ["Ana"])
    with translation.override("en"):
        assert "parameters" in str(wrong_count.value.user_message)
    with pytest.raises(Permanent) as pending:
        whatsapp.send_template(CUSTOMER, "pendiente", "es", ["x"])
    with translation.override("en"):
        assert "Sync the templates" in str(pending.value.user_message)


def test_mark_read_sends_a_read_status(whatsapp, fake_whatsapp):
    assert whatsapp.mark_read("wamid.ABC123") is True
    assert fake_whatsapp.read_marks == ["wamid.ABC123"]


def test_media_is_downloaded_with_the_token_and_capped(whatsapp, fake_whatsapp):
    media_id = fake_whatsapp.add_media(b"\xff\xd8\xff" + b"x" * 5000, "image/jpeg")
    content, mime = whatsapp.download_media(media_id)
    assert content.startswith(b"\xff\xd8\xff") and mime == "image/jpeg"
    assert fake_whatsapp.requests_to("download")[-1].headers["authorization"] == f"Bearer {fake_whatsapp.token}"
    with pytest.raises(Permanent):
        whatsapp.download_media(media_id, max_bytes=1000)
    with pytest.raises(Permanent):
        whatsapp.download_media("../../etc/passwd")


def test_media_on_an_untrusted_host_is_not_fetched_with_our_token(whatsapp, fake_whatsapp, monkeypatch):
    media_id = fake_whatsapp.add_media(b"data", "image/png")
    original = fake_whatsapp.api_media

    def elsewhere(request):
        return {**original(request), "url": "http://127.0.0.2:9/steal"}

    monkeypatch.setattr(fake_whatsapp, "api_media", elsewhere)
    with pytest.raises(Permanent):
        whatsapp.download_media(media_id)


def test_an_expired_token_is_auth_expired_everywhere(whatsapp, fake_whatsapp):
    media_id = fake_whatsapp.add_media(b"data", "image/png")
    fake_whatsapp.expire_token()
    with pytest.raises(AuthExpired):
        whatsapp.reply(CUSTOMER, "hola")
    with pytest.raises(AuthExpired):
        whatsapp.download_media(media_id)


@pytest.mark.parametrize(("fault", "error"), [
    (Fault.rate_limited(), RateLimited),
    (Fault.graph(130429, "Rate limit hit"), RateLimited),
    (Fault.graph(80007, "Rate limit issues"), RateLimited),
    (Fault.graph(131056, "(Business Account, Consumer Account) pair rate limit hit"), RateLimited),
    (Fault.graph(131026, "Message Undeliverable"), Permanent),
    (Fault.graph(131048, "Spam rate limit hit"), Permanent),
    (Fault.graph(133010, "Phone number not registered"), Permanent),
    (Fault.expired_token(), AuthExpired),
    (Fault.graph(131000, "Something went wrong", status=500), Ambiguous),
    (Fault.server_error(503), Retryable),
    (Fault.drop_after(), Ambiguous),
    (Fault.malformed(), Ambiguous),
])
def test_send_failures_map_to_our_error_classes(whatsapp, talking, fault, error):
    talking.inject("messages", fault)
    with pytest.raises(error) as caught:
        whatsapp.reply(CUSTOMER, "hola")
    assert str(caught.value.user_message)


def test_a_timeout_after_sending_is_ambiguous(whatsapp, talking):
    talking.inject("messages", Fault.timeout_after(3.0))
    with pytest.raises(Ambiguous):
        whatsapp.reply(CUSTOMER, "hola")
    assert len(talking.sent) == 1  # it did go out: the inbox must not send it again


def test_whatsapp_has_no_posts_and_no_polling(whatsapp, fake_whatsapp):
    with pytest.raises(Unsupported):
        whatsapp.publish(PostPayload(text="hola"))
    with pytest.raises(Unsupported):
        whatsapp.find_published(PostPayload(text="hola"), since=None)
    assert whatsapp.fetch_interactions().items == []
    assert fake_whatsapp.requests == []


def test_profile_is_the_business_number(whatsapp):
    profile = whatsapp.fetch_profile()
    assert profile.handle == "+34 910 00 00 00" and profile.display_name == "Café Tertulia"


def test_the_fake_signs_webhooks_like_meta(fake_whatsapp):
    body = fake_whatsapp.message_body(CUSTOMER, {"type": "text", "text": {"body": "hola"}})
    data = json.loads(body)
    assert data["entry"][0]["changes"][0]["value"]["messages"][0]["from"] == CUSTOMER
    assert fake_whatsapp.sign(body).startswith("sha256=") and len(fake_whatsapp.sign(body)) == 71


def test_the_fake_delivers_signed_webhooks_that_our_check_accepts(fake_whatsapp):
    """``deliver`` POSTs like Meta: raw JSON body, ``X-Hub-Signature-256`` over exactly those bytes."""
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    from tertulia.networks.meta.graph import verify_signature
    from tests.fakes.whatsapp import APP_SECRET

    received = {}

    class Receiver(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802
            received["body"] = self.rfile.read(int(self.headers["content-length"]))
            received["signature"] = self.headers["x-hub-signature-256"]
            self.send_response(200)
            self.send_header("content-length", "0")
            self.end_headers()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        body = fake_whatsapp.status_body("wamid.X1", "delivered", recipient=CUSTOMER)
        assert fake_whatsapp.deliver(f"http://127.0.0.1:{server.server_address[1]}/hook", body) == 200
    finally:
        server.shutdown()
        server.server_close()
    assert received["body"] == body
    assert verify_signature(APP_SECRET, received["body"], received["signature"])
    assert not verify_signature("another-secret", received["body"], received["signature"])
