"""Security review, item 6: secrets are never logged, and error pages show no token.

Every log record (all loggers, DEBUG and up, including httpx and httpcore, with tracebacks
formatted) is captured while things fail: a network answering 401, 500 and broken JSON to the
inbox poller and to the connector itself, a Mastodon OAuth exchange refused, an SMTP server
refusing our password, and a view crashing with DEBUG off. No access token, refresh token,
OAuth client secret, PKCE verifier, SMTP password, Fernet ciphertext, API token or webhook
secret appears in them, nor on the 500 page. The views that receive secrets in a form are
marked with ``sensitive_post_parameters``, so Django's error reports mask them.
"""

from __future__ import annotations

import logging
import traceback

import pytest
from django.db import connection
from django.test import Client
from django.urls import include, path, reverse
from django.views.debug import SafeExceptionReporterFilter

from tertulia.core.services import Ctx
from tertulia.networks import services as account_services
from tests.fakes.pytest_plugin import fake_mastodon  # noqa: F401 - the loopback fake

pytestmark = pytest.mark.django_db

TOKEN = "sekrit-access-token-7f3a9c"
REFRESH = "sekrit-refresh-token-19bd"


def _records_text(records) -> str:
    out = []
    for r in records:
        out.append(r.getMessage())
        out.append(repr(r.args))
        if r.exc_info:
            out.append("".join(traceback.format_exception(*r.exc_info)))
        if r.exc_text:
            out.append(r.exc_text)
        out.append(repr(getattr(r, "__dict__", {})))
    return "\n".join(out)


def _assert_no_secrets(text: str, secrets: list[str], where: str) -> None:
    found = [s for s in secrets if s and s in text]
    assert not found, f"{where}: secrets in the logs: {found}"


def _ciphertext(table: str, column: str, pk: int) -> str:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {column} FROM {table} WHERE id = %s", [pk])  # noqa: S608 - test-only names
        return cursor.fetchone()[0]


# --- sensitive_post_parameters on the views that receive secrets -------------------------------

def _secret_views(brand):
    account = account_services.do_add_account(Ctx(brand.memberships.get(role="owner").user, via="test"), brand,
                                              network="mastodon", handle="@masked", base_url="https://m.example",
                                              access_token="x")
    return [
        (reverse("account_new", args=[brand.pk]), {"network": "bluesky", "handle": "a.bsky.social",
                                                   "access_token": TOKEN}, ["access_token"]),
        (reverse("account_edit", args=[brand.pk, account.pk]), {"access_token": TOKEN, "refresh_token": REFRESH},
         ["access_token", "refresh_token"]),
        (reverse("joomla_connect", args=[brand.pk]), {"site": "https://j.example", "token": TOKEN}, ["token"]),
        (reverse("whatsapp_connect", args=[brand.pk]), {"phone_number_id": "1", "waba_id": "2",
                                                         "access_token": TOKEN}, ["access_token"]),
        (reverse("listening_settings", args=[brand.pk]), {"webhook_secret": TOKEN}, ["webhook_secret"]),
    ]


def test_views_that_receive_secrets_mask_them_in_error_reports(brand_a, settings):
    brand, people = brand_a
    client = Client()
    client.force_login(people["owner"])
    reporter = SafeExceptionReporterFilter()
    for url, data, fields in _secret_views(brand):
        response = client.post(url, data)
        request = response.wsgi_request
        masked = reporter.get_post_parameters(request)
        for field in fields:
            assert masked[field] != TOKEN and masked[field] != REFRESH, f"{url}: {field} not masked"
            assert set(masked[field]) == {"*"}, (url, field, masked[field])
        assert TOKEN not in response.content.decode(errors="replace")  # never echoed back into the form


def test_invitation_acceptance_masks_the_password(brand_a):
    from .web_helpers import make_invitation

    brand, people = brand_a
    _inv, raw = make_invitation(brand, people["owner"], "new.person@example.com")
    response = Client().post(reverse("invitation_accept", args=[raw]),
                             {"username": "newperson", "password": "short", "first_name": "N", "last_name": "P"})
    masked = SafeExceptionReporterFilter().get_post_parameters(response.wsgi_request)
    assert set(masked["password"]) == {"*"}
    # Django's own sign-in view masks its password too.
    response = Client().post(reverse("login"), {"username": "x", "password": "the-password-typed"})
    assert set(SafeExceptionReporterFilter().get_post_parameters(response.wsgi_request)["password"]) == {"*"}


# --- Connector and polling failures -----------------------------------------------------------

@pytest.fixture
def masto_account(brand_a, fake_mastodon, settings):  # noqa: F811
    settings.PUBLISHING = {**settings.PUBLISHING, "HTTP": {"connect_timeout": 2.0, "read_timeout": 2.0,
                                                           "write_timeout": 2.0, "allow_private_networks": True}}
    brand, people = brand_a
    account = account_services.do_add_account(
        Ctx(people["owner"], via="test"), brand, network="mastodon", handle="@tertulia",
        base_url=fake_mastodon.base_url, access_token=fake_mastodon.token, refresh_token=REFRESH,
        external_id=fake_mastodon.own["id"])
    return account


def test_network_failures_log_no_token(masto_account, fake_mastodon, caplog):  # noqa: F811
    from tests.fakes.mastodon import Fault as MastodonFault
    from tertulia.inbox import polling
    from tertulia.networks import registry
    from tertulia.networks.errors import ConnectorError
    from tertulia.networks.http import HttpConfig

    caplog.set_level(logging.DEBUG)
    account = masto_account
    token = fake_mastodon.token
    ciphertext = _ciphertext("networks_socialaccount", "access_token", account.pk)
    assert ciphertext and token not in ciphertext  # stored encrypted
    config = HttpConfig(connect_timeout=2.0, read_timeout=2.0, allow_private_networks=True)
    for fault in (MastodonFault.server_error(500), MastodonFault.malformed(after=False),
                  MastodonFault.expired_token()):
        fake_mastodon.inject("*", fault, times=None)
        with registry.connector_for(account, http_config=config) as connector:
            try:
                connector.fetch_profile()
            except ConnectorError as exc:
                logging.getLogger("tertulia.test").exception("connector failed: %s", exc)
                assert token not in str(exc) and token not in repr(exc.__dict__)
        polling.poll_now([account.pk])  # the real task path, with its own logging
        fake_mastodon.clear_faults()
    assert caplog.records, "nothing was logged at all: the capture is not working"
    _assert_no_secrets(_records_text(caplog.records), [token, REFRESH, ciphertext], "connector failures")


def test_a_refused_oauth_exchange_logs_no_secret(brand_a, fake_mastodon, settings, caplog):  # noqa: F811
    from urllib.parse import parse_qs, urlsplit

    import httpx

    from tertulia.networks.models import OAuthApp

    settings.SITE_URL = "http://testserver"
    settings.PUBLISHING = {**settings.PUBLISHING, "HTTP": {"connect_timeout": 2.0, "read_timeout": 5.0,
                                                           "write_timeout": 5.0, "allow_private_networks": True}}
    caplog.set_level(logging.DEBUG)
    brand, people = brand_a
    client = Client()
    client.force_login(people["owner"])
    response = client.post(reverse("mastodon_connect", args=[brand.pk]), {"server": fake_mastodon.base_url})
    assert response.status_code == 302
    answer = httpx.get(response["Location"], follow_redirects=False, timeout=5.0)
    query = {k: v[0] for k, v in parse_qs(urlsplit(answer.headers["location"]).query).items()}
    verifier = str(client.session.get("oauth:mastodon", {}).get("code_verifier", "")) or None
    query["code"] = "a-code-the-server-never-issued"
    page = client.get(reverse("mastodon_callback"), query, follow=True)
    assert page.status_code == 200
    app = OAuthApp.objects.get()
    secrets = [app.client_secret, _ciphertext("networks_oauthapp", "client_secret", app.pk)]
    if verifier:
        secrets.append(verifier)
    _assert_no_secrets(_records_text(caplog.records), secrets, "OAuth failure")
    _assert_no_secrets(page.content.decode(), secrets, "OAuth failure page")


def test_an_smtp_refusal_logs_no_password(settings, caplog, make_user):
    from aiosmtpd.controller import Controller
    from aiosmtpd.smtp import AuthResult

    from tertulia.core.models import Notification
    from tertulia.core.notifications import send_emails

    class Refuse:
        async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's name
            return "250 OK"

    import socket

    with socket.socket() as probe:  # a free port (the controller cannot be asked for port 0)
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    controller = Controller(Refuse(), hostname="127.0.0.1", port=port, auth_require_tls=False,
                            authenticator=lambda *args: AuthResult(success=False, handled=False))
    controller.start()
    try:
        settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
        settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", port
        settings.EMAIL_HOST_USER, settings.EMAIL_HOST_PASSWORD = "tertulia", "smtp-password-9a8b7c"
        settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
        caplog.set_level(logging.DEBUG)
        user = make_user("mailee", email="mailee@example.com")
        note = Notification.objects.create(recipient=user, kind="test",
                                           message=[{"msgid": "%(text)s", "params": {"text": "hello"}}])
        with pytest.raises(Exception) as info:  # noqa: B017 - smtplib's own error, whatever its class
            send_emails([note.pk])
        logging.getLogger("huey").error("task failed", exc_info=info.value)  # what the consumer logs
        text = _records_text(caplog.records) + "".join(traceback.format_exception(info.value))
        assert "535" in text or "auth" in text.lower()
        _assert_no_secrets(text, ["smtp-password-9a8b7c"], "SMTP failure")
    finally:
        controller.stop()


# --- The 500 page with DEBUG off ----------------------------------------------------------------

def _crash(request):
    api_token = request.headers.get("Authorization", "")  # noqa: F841 - secrets in the view's locals
    webhook_secret = "webhook-secret-in-a-local"  # noqa: F841 - what the traceback must not show
    raise RuntimeError("the view failed")


urlpatterns = [path("crash-for-tests/", _crash), path("", include("tertulia.urls"))]


def test_the_500_page_and_its_log_show_no_secret(settings, caplog, brand_a):
    from tertulia.core import services

    brand, people = brand_a
    settings.DEBUG = False
    settings.ROOT_URLCONF = __name__
    caplog.set_level(logging.DEBUG)
    _tok, raw = services.do_create_token(Ctx(people["owner"], via="test"), "crash", {brand.pk: "read"})
    client = Client(raise_request_exception=False)
    client.force_login(people["owner"])
    response = client.get("/crash-for-tests/", HTTP_AUTHORIZATION=f"Bearer {raw}")
    assert response.status_code == 500
    page = response.content.decode(errors="replace")
    assert "Traceback" not in page and "RuntimeError" not in page
    secrets = [raw, "webhook-secret-in-a-local", client.cookies[settings.SESSION_COOKIE_NAME].value]
    _assert_no_secrets(page, secrets, "500 page")
    # The request log has the traceback (lines of code, never the locals' values).
    _assert_no_secrets("\n".join(r.getMessage() + (r.exc_text or "") +
                                 ("".join(traceback.format_exception(*r.exc_info)) if r.exc_info else "")
                                 for r in caplog.records), secrets, "500 log")
    assert any(r.name == "django.request" and r.levelno >= logging.ERROR for r in caplog.records)


def test_a_failed_alert_webhook_logs_no_secret(caplog, settings):
    """A listening alert's webhook to a server that is not there (and to one refused by the
    address guard): the outcome and the logs carry neither the secret nor the signature key."""
    import socket

    from tertulia.listening.spikes import post_webhook

    caplog.set_level(logging.DEBUG)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # closed again: nothing listens there
    settings.LISTENING_WEBHOOK_ALLOW_LOOPBACK = True
    closed = post_webhook(f"http://127.0.0.1:{port}/hook", "webhook-secret-5e6f", {"event": "spike"})
    settings.LISTENING_WEBHOOK_ALLOW_LOOPBACK = False
    refused = post_webhook("http://10.0.0.1/hook", "webhook-secret-5e6f", {"event": "spike"})
    assert closed["ok"] is False and refused["ok"] is False
    text = _records_text(caplog.records) + repr(closed) + repr(refused)
    _assert_no_secrets(text, ["webhook-secret-5e6f"], "alert webhook failure")
