"""Security review, item 8: login throttling and session handling.

The throttle itself (per username, per address, the message in the visitor's language, expiry)
is tested in test_security.py; here: it lives in the database, so every web process sees the
same count; the address cannot be dodged with a forged X-Forwarded-For; the session key
changes at sign-in (no fixation); signing out deletes the session on the server; a password
change signs out every other session.
"""

from __future__ import annotations

import pytest
from django.conf import settings as django_settings
from django.contrib.sessions.backends.db import SessionStore
from django.test import Client
from django.urls import reverse

from tertulia.core.models import LoginFailure

pytestmark = pytest.mark.django_db

PASSWORD = "correct horse battery"
LOCKED = "Too many failed sign-in attempts"
COOKIE = django_settings.SESSION_COOKIE_NAME


def _login(client, username, password, **extra):
    return client.post(reverse("login"), {"username": username, "password": password},
                       HTTP_ACCEPT_LANGUAGE="en", **extra)


def _signed_in(client) -> bool:
    return client.get(reverse("preferences")).status_code == 200


def test_the_session_key_changes_at_sign_in(make_user):
    make_user("victim")
    client = Client()
    # A session planted before sign-in (what a fixation attack relies on).
    planted = SessionStore()
    planted["planted"] = True
    planted.create()
    client.cookies[COOKIE] = planted.session_key
    assert _login(client, "victim", PASSWORD).status_code == 302
    new_key = client.cookies[COOKIE].value
    assert new_key != planted.session_key
    assert not SessionStore().exists(planted.session_key), "the planted session still exists"
    # The planted key is not signed in.
    attacker = Client()
    attacker.cookies[COOKIE] = planted.session_key
    assert not _signed_in(attacker)
    assert _signed_in(client)


def test_sign_out_deletes_the_session_on_the_server(make_user):
    make_user("leaving")
    client = Client()
    _login(client, "leaving", PASSWORD)
    key = client.cookies[COOKIE].value
    assert SessionStore().exists(key)
    assert client.post(reverse("logout")).status_code == 302
    assert not SessionStore().exists(key)
    # Replaying the old cookie (copied before sign-out) gets nothing.
    replay = Client()
    replay.cookies[COOKIE] = key
    response = replay.get(reverse("preferences"))
    assert response.status_code == 302 and response["Location"].startswith(reverse("login"))
    # Sign-out is POST only: a link or an <img> cannot sign anyone out.
    _login(client, "leaving", PASSWORD)
    assert client.get(reverse("logout")).status_code == 405
    assert _signed_in(client)


def test_a_password_change_signs_out_every_other_session(make_user):
    user = make_user("changer")
    laptop, phone = Client(), Client()
    _login(laptop, "changer", PASSWORD)
    _login(phone, "changer", PASSWORD)
    assert _signed_in(laptop) and _signed_in(phone)
    user.set_password("a brand new long password")
    user.save()
    assert not _signed_in(laptop) and not _signed_in(phone)
    # The old password no longer works; the new one does.
    assert _login(Client(), "changer", PASSWORD).status_code == 200
    assert _login(Client(), "changer", "a brand new long password").status_code == 302


def test_the_lock_is_shared_through_the_database(make_user, settings):
    """Failures recorded by another web process (rows in the shared table) lock this one too,
    with a clear message."""
    settings.LOGIN_MAX_FAILURES = 3
    make_user("shared")
    LoginFailure.objects.bulk_create([LoginFailure(username="shared", ip="203.0.113.9") for _ in range(3)])
    response = _login(Client(), "shared", PASSWORD, REMOTE_ADDR="198.51.100.1")
    assert response.status_code == 200 and LOCKED in response.content.decode()
    assert "_auth_user_id" not in Client().session


def test_a_forged_forwarded_for_does_not_dodge_the_address_lock(make_user, settings):
    settings.LOGIN_MAX_FAILURES = 1  # an address is locked after 4 failures
    make_user("target")
    # Without a proxy, X-Forwarded-For is the client's own text: ignored.
    for n in range(4):
        _login(Client(), f"guess{n}", "wrong", REMOTE_ADDR="203.0.113.50", HTTP_X_FORWARDED_FOR=f"10.0.0.{n}")
    assert LOCKED in _login(Client(), "target", PASSWORD, REMOTE_ADDR="203.0.113.50",
                            HTTP_X_FORWARDED_FOR="10.9.9.9").content.decode()
    # Behind a proxy, only the hop the proxy appended counts: what the client wrote before it is ignored.
    settings.BEHIND_PROXY = True
    for n in range(4):
        _login(Client(), f"proxied{n}", "wrong", REMOTE_ADDR="10.0.0.2",
               HTTP_X_FORWARDED_FOR=f"192.0.2.{n}, 198.51.100.77")
    assert LOCKED in _login(Client(), "target", PASSWORD, REMOTE_ADDR="10.0.0.2",
                            HTTP_X_FORWARDED_FOR="192.0.2.200, 198.51.100.77").content.decode()
    # Another visitor behind the same proxy is not locked out.
    assert _login(Client(), "target", PASSWORD, REMOTE_ADDR="10.0.0.2",
                  HTTP_X_FORWARDED_FOR="198.51.100.78").status_code == 302


def test_a_garbage_forwarded_for_is_not_a_crash(make_user, settings):
    settings.BEHIND_PROXY = True
    make_user("robust")
    response = _login(Client(), "robust", "wrong", REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR="not-an-ip")
    assert response.status_code == 200
    assert LoginFailure.objects.get(username="robust").ip == "10.0.0.2"
