"""The invitation flow end to end, with a real SMTP server on 127.0.0.1.

Django's SMTP backend talks to an aiosmtpd server started per test; Huey runs in immediate
mode in tests, so the e-mail task runs when the transaction commits (captured here with
``django_capture_on_commit_callbacks(execute=True)``).
"""

from __future__ import annotations

import hashlib
import re
import socket
from datetime import timedelta
from email import message_from_bytes, policy

import pytest
from aiosmtpd.controller import Controller
from django.conf import settings as django_settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from tertulia.core import services
from tertulia.core.models import AuditEvent, Invitation, Membership, User
from tertulia.core.services import Ctx

from .web_helpers import XSS, XSS_ESCAPED, html, messages_of

pytestmark = pytest.mark.django_db


class Mailbox:
    """An aiosmtpd handler that keeps every message it is given."""

    def __init__(self):
        self.envelopes = []

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 (aiosmtpd's hook name)
        self.envelopes.append(envelope)
        return "250 Message accepted for delivery"

    @property
    def messages(self):
        return [message_from_bytes(e.original_content or e.content, policy=policy.default) for e in self.envelopes]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def smtp(settings):
    mailbox = Mailbox()
    port = _free_port()
    controller = Controller(mailbox, hostname="127.0.0.1", port=port)
    controller.start()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = "127.0.0.1"
    settings.EMAIL_PORT = port
    settings.EMAIL_HOST_USER = ""
    settings.EMAIL_HOST_PASSWORD = ""
    settings.EMAIL_USE_TLS = False
    settings.EMAIL_USE_SSL = False
    settings.EMAIL_TIMEOUT = 5
    settings.SITE_URL = "https://tertulia.example"
    mailbox.port = port
    try:
        yield mailbox
    finally:
        controller.stop()


def _invite(client, brand, inviter, email, role, capture):
    client.force_login(inviter)
    with capture(execute=True):
        response = client.post(reverse("member_list", args=[brand.pk]), {"email": email, "role": role})
    assert response.status_code == 302, messages_of(response)
    return Invitation.objects.get(brand=brand, email=email.lower())


def _parts(message):
    text = message.get_body(preferencelist=("plain",)).get_content()
    html_part = message.get_body(preferencelist=("html",)).get_content()
    return text, html_part


def _link(text: str) -> str:
    match = re.search(r"https://tertulia\.example(/invitations/[^/\s]+/)", text)
    assert match, text
    return match.group(1)


def test_full_flow_new_person(client, brand_a, smtp, django_capture_on_commit_callbacks):
    brand, people = brand_a
    assert brand.language == "es"
    inv = _invite(client, brand, people["manager"], "Nueva.Persona@Example.com", "community_manager",
                  django_capture_on_commit_callbacks)

    # The message went through SMTP, in the brand's language, with text and HTML parts.
    assert len(smtp.envelopes) == 1
    envelope = smtp.envelopes[0]
    assert envelope.rcpt_tos == ["nueva.persona@example.com"]
    message = smtp.messages[0]
    assert message["Subject"] == "Te invitan a gestionar Alpha Brand en Tertulia"
    assert message["To"] == "nueva.persona@example.com"
    assert message.get_content_type() == "multipart/alternative"
    text, html_part = _parts(message)
    path = _link(text)
    assert f'href="https://tertulia.example{path}"' in html_part
    assert "Acepta la invitación" in text and "7 días" in text  # in Spanish
    assert "<p>" in html_part and "<p>" not in text

    # Only a hash of the link's secret is stored, nowhere the secret itself.
    raw = path.strip("/").split("/")[-1]
    inv.refresh_from_db()
    assert inv.token_hash == hashlib.sha256(raw.encode()).hexdigest()
    assert raw not in str(Invitation.objects.filter(pk=inv.pk).values().get())
    assert not any(raw in str(e.changes) for e in AuditEvent.objects.all())
    assert abs((inv.expires_at - timezone.now()) - timedelta(days=django_settings.INVITATION_TTL_DAYS)) < timedelta(minutes=1)

    # The link works for a visitor: it shows who invited them, as what, and a sign-up form.
    visitor = Client()
    response = visitor.get(path)
    assert response.status_code == 200
    page = html(response)
    assert "Alpha Brand" in page and "nueva.persona@example.com" in page and 'name="password"' in page

    # A weak password or a taken username keep the invitation open.
    response = visitor.post(path, {"first_name": "Nu", "username": "alpha_owner", "password": "123"})
    assert response.status_code == 200
    assert {"username", "__all__"} <= set(response.context["form"].errors)
    assert Invitation.objects.get(pk=inv.pk).is_open

    response = visitor.post(path, {"first_name": "Nu", "last_name": "Eva", "username": "nueva",
                                   "password": "un cafe bien cargado 2024"})
    assert response.status_code == 302 and response["Location"] == reverse("section_calendar", args=[brand.pk])
    user = User.objects.get(username="nueva")
    assert user.email == "nueva.persona@example.com"
    assert Membership.objects.get(brand=brand, user=user).role == "community_manager"
    assert user.org_memberships.filter(organization=brand.organization, is_admin=False).exists()
    event = AuditEvent.objects.get(action="invitation.accept")
    assert event.actor == user and event.changes == {"role": "community_manager"}
    # Signed in as the new member.
    assert visitor.get(reverse("section_calendar", args=[brand.pk])).status_code == 200

    # Single use: the same link is dead now, for anyone.
    assert visitor.get(path).status_code == 410
    assert Client().get(path).status_code == 410
    assert Client().post(path, {"first_name": "X", "username": "other", "password": "another long password 9"}).status_code == 410
    assert not User.objects.filter(username="other").exists()


def test_subject_follows_the_brand_language(client, brand_a, smtp, django_capture_on_commit_callbacks):
    brand, people = brand_a
    services.do_update_brand(Ctx(people["owner"]), brand, language="en")
    _invite(client, brand, people["owner"], "someone@example.com", "analyst", django_capture_on_commit_callbacks)
    message = smtp.messages[0]
    assert message["Subject"] == "You are invited to manage Alpha Brand on Tertulia"
    text, _html = _parts(message)
    assert "as Analyst" in text and "7 days" in text


def test_an_existing_user_signs_in_and_accepts(client, brand_a, make_user, smtp, django_capture_on_commit_callbacks):
    brand, people = brand_a
    existing = make_user("known", email="known@example.com")
    inv = _invite(client, brand, people["owner"], "KNOWN@example.com", "analyst", django_capture_on_commit_callbacks)
    path = _link(_parts(smtp.messages[0])[0])

    visitor = Client()
    page = html(visitor.get(path))
    assert 'name="password"' not in page  # no sign-up form for an address that has an account
    assert f'{reverse("login")}?next={path}' in page.replace("%2F", "/")
    # Posting the sign-up form anyway creates nothing.
    visitor.post(path, {"first_name": "X", "username": "dupe", "password": "another long password 9"})
    assert not User.objects.filter(username="dupe").exists()

    response = visitor.post(reverse("login"), {"username": "known", "password": "correct horse battery", "next": path})
    assert response.status_code == 302 and response["Location"] == path
    response = visitor.post(path)
    assert response.status_code == 302
    assert Membership.objects.get(brand=brand, user=existing).role == "analyst"
    inv.refresh_from_db()
    assert inv.accepted_by == existing and inv.accepted_at is not None


def test_someone_signed_in_with_another_address_cannot_accept(client, brand_a, brand_b, smtp, django_capture_on_commit_callbacks):
    brand, people = brand_a
    inv = _invite(client, brand, people["owner"], "intended@example.com", "manager", django_capture_on_commit_callbacks)
    path = _link(_parts(smtp.messages[0])[0])
    intruder = brand_b[1]["owner"]
    other = Client()
    other.force_login(intruder)
    response = other.post(path, follow=True)
    assert any("intended@example.com" in m for m in messages_of(response))
    assert not Membership.objects.filter(brand=brand, user=intruder).exists()
    assert Invitation.objects.get(pk=inv.pk).is_open
    with pytest.raises(PermissionDenied):
        services.do_accept_invitation(intruder, path.strip("/").split("/")[-1])


def test_expired_links_are_refused(client, brand_a, smtp, django_capture_on_commit_callbacks):
    brand, people = brand_a
    inv = _invite(client, brand, people["owner"], "late@example.com", "analyst", django_capture_on_commit_callbacks)
    path = _link(_parts(smtp.messages[0])[0])
    Invitation.objects.filter(pk=inv.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    response = Client().get(path)
    assert response.status_code == 410
    assert "Alpha Brand" not in html(response)
    with pytest.raises(ValidationError):
        services.do_accept_invitation(User.objects.create_user("late", "late@example.com", "x" * 12), path.split("/")[-2])
    # Expired invitations are not listed as pending any more.
    client.force_login(people["owner"])
    assert list(client.get(reverse("member_list", args=[brand.pk])).context["invitations"]) == []


def test_revoked_links_are_refused(client, brand_a, smtp, django_capture_on_commit_callbacks):
    brand, people = brand_a
    inv = _invite(client, brand, people["owner"], "revoked@example.com", "analyst", django_capture_on_commit_callbacks)
    path = _link(_parts(smtp.messages[0])[0])
    client.post(reverse("invitation_revoke", args=[brand.pk, inv.pk]))
    assert Client().get(path).status_code == 410


def test_an_invitation_revoked_before_the_mail_goes_out_is_not_sent(brand_a, smtp, django_capture_on_commit_callbacks):
    brand, people = brand_a
    ctx = Ctx(people["owner"])
    with django_capture_on_commit_callbacks(execute=True):
        inv = services.do_invite(ctx, brand, "quick@example.com", "analyst")
        services.do_revoke_invitation(ctx, inv)
    assert smtp.envelopes == []
    with django_capture_on_commit_callbacks(execute=True):
        services.do_invite(ctx, brand, "slow@example.com", "analyst", language="en")
    assert [m["Subject"] for m in smtp.messages] == ["You are invited to manage Alpha Brand on Tertulia"]


def test_a_made_up_or_hashed_token_is_not_a_link(client, brand_a):
    brand, people = brand_a
    inv = services.do_invite(Ctx(people["owner"]), brand, "x@example.com", "analyst")
    for token in (inv.token_hash, "tta_" + "a" * 43, "..", "%00", "a" * 5000):
        response = Client().get(f"/invitations/{token}/")
        assert response.status_code in (404, 410), token
        assert "Alpha Brand" not in html(response)


def test_markup_in_the_brand_name_is_escaped_in_the_email_and_on_the_page(client, brand_a, smtp, django_capture_on_commit_callbacks):
    brand, people = brand_a
    services.do_update_brand(Ctx(people["owner"]), brand, name=XSS)
    _invite(client, brand, people["owner"], "esc@example.com", "analyst", django_capture_on_commit_callbacks)
    text, html_part = _parts(smtp.messages[0])
    assert XSS_ESCAPED in html_part and "<script>" not in html_part
    assert XSS in text  # plain text is not HTML: shown as typed
    page = html(Client().get(_link(text)))
    assert XSS_ESCAPED in page and "<script>alert" not in page


def test_mail_server_down_does_not_break_the_page(client, brand_a, settings, django_capture_on_commit_callbacks):
    brand, people = brand_a
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = "127.0.0.1", _free_port(), 2
    client.force_login(people["owner"])
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("member_list", args=[brand.pk]), {"email": "queued@example.com", "role": "analyst"})
    assert response.status_code == 302
    assert Invitation.objects.filter(email="queued@example.com").exists()


@pytest.mark.django_db(transaction=True)
def test_the_mail_goes_out_when_the_invitation_commits(client, brand_a, smtp):
    """No captured callbacks: the real commit of the view's transaction queues the task."""
    brand, people = brand_a
    client.force_login(people["owner"])
    response = client.post(reverse("member_list", args=[brand.pk]), {"email": "committed@example.com", "role": "manager"})
    assert response.status_code == 302
    assert [e.rcpt_tos for e in smtp.envelopes] == [["committed@example.com"]]
    path = _link(_parts(smtp.messages[0])[0])
    assert Invitation.find_open(path.strip("/").split("/")[-1]).role == "manager"
