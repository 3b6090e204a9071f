"""Security settings and mechanisms: CSP, login throttling, password hashing, encryption of
network secrets, CSRF, secure cookies in production, and redirects that stay on the site."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from django.conf import settings as django_settings
from django.contrib.auth.hashers import Argon2PasswordHasher, check_password, identify_hasher, make_password
from django.core.exceptions import ImproperlyConfigured
from django.db import connection
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from tertulia.core import throttle
from tertulia.core.middleware import CSP
from tertulia.core.models import Brand, LoginFailure, Membership
from tertulia.core.services import Ctx
from tertulia.networks import services as account_services
from tertulia.networks.models import SocialAccount

from .web_helpers import html

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parents[3]
PASSWORD = "correct horse battery"  # conftest's make_user default


# --- Content-Security-Policy and friends -----------------------------------------------------

def test_csp_is_strict():
    directives = dict(d.split(" ", 1) for d in CSP.split("; "))
    assert directives["default-src"] == "'self'"
    assert directives["script-src"] == "'self'"
    assert directives["object-src"] == "'none'"
    assert directives["frame-ancestors"] == "'none'"
    assert "unsafe-inline" not in CSP and "unsafe-eval" not in CSP and "*" not in CSP


def test_pages_carry_csp_and_no_inline_code(client, brand_a):
    brand, people = brand_a
    urls = [reverse("login")]
    anonymous = [client.get(u) for u in urls]
    client.force_login(people["owner"])
    urls = [reverse("brand_settings", args=[brand.pk]), reverse("member_list", args=[brand.pk]),
            reverse("knowledge_list", args=[brand.pk]), reverse("account_new", args=[brand.pk]),
            reverse("audit_log", args=[brand.pk]), reverse("token_list"), reverse("preferences"),
            reverse("brand_list"), reverse("section_calendar", args=[brand.pk]), "/no/such/page/"]
    responses = anonymous + [client.get(u) for u in urls]
    client.force_login(people["client_reviewer"])
    responses.append(client.get(reverse("audit_log", args=[brand.pk])))  # the 403 page
    assert {r.status_code for r in responses} == {200, 403, 404}
    for response in responses:
        assert response.headers["Content-Security-Policy"] == CSP, response.request["PATH_INFO"]
        assert response.headers["X-Frame-Options"] == "DENY"
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert response.headers["Referrer-Policy"] == "same-origin"
        # Everything the CSP would block must not be there in the first place.
        assert _inline_code(html(response)) == [], response.request["PATH_INFO"]


def _inline_code(page: str) -> list[str]:
    found = [tag for tag in re.findall(r"<script\b[^>]*>", page) if "src=" not in tag]
    found += re.findall(r"<script\b[^>]*>(?!\s*</script>)", page)
    found += re.findall(r"\son[a-z]+\s*=", page)
    found += re.findall(r"\sstyle\s*=|<style", page)
    found += re.findall(r"javascript:", page)
    return found


def test_the_inline_code_detector_can_fail():
    assert _inline_code('<script src="/static/a.js"></script><p class="x">ok</p>') == []
    for bad in ("<script>alert(1)</script>", '<script src="/a.js">x()</script>', '<a onclick="x()">',
                '<p style="color:red">', "<style>p{}</style>", '<a href="javascript:x()">'):
        assert _inline_code(bad), bad


def test_api_answers_carry_csp_too(client, brand_a):
    client.force_login(brand_a[1]["owner"])
    response = client.get("/api/v1/openapi.json")
    assert response.status_code == 200
    assert response.headers["Content-Security-Policy"] == CSP


# --- Login throttling ------------------------------------------------------------------------

def _login(client, username, password, ip="198.51.100.7"):
    return client.post(reverse("login"), {"username": username, "password": password}, REMOTE_ADDR=ip,
                       HTTP_ACCEPT_LANGUAGE="en")


LOCKED = "Too many failed sign-in attempts"


def test_failures_lock_the_username_and_say_so(client, make_user, settings):
    settings.LOGIN_MAX_FAILURES = 3
    make_user("victim", language="en")
    for _ in range(3):
        response = _login(client, "victim", "wrong password")
        assert response.status_code == 200 and LOCKED not in html(response)
    # Now even the right password is refused, and the page says why and for how long.
    response = _login(client, "victim", PASSWORD)
    assert response.status_code == 200
    page = html(response)
    assert LOCKED in page and f"Wait {settings.LOGIN_FAILURE_WINDOW_SECONDS // 60} minutes" in page
    assert "_auth_user_id" not in client.session
    # Letter case does not open a second lock.
    assert LOCKED in html(_login(client, "VICTIM", PASSWORD))


def test_the_lock_is_in_the_visitors_language(client, make_user, settings):
    settings.LOGIN_MAX_FAILURES = 1
    make_user("victim")
    _login(client, "victim", "nope")
    page = html(client.post(reverse("login"), {"username": "victim", "password": PASSWORD},
                            HTTP_ACCEPT_LANGUAGE="es", REMOTE_ADDR="198.51.100.7"))
    assert "Demasiados intentos fallidos de inicio de sesión. Espera 15 minutos" in page


def test_other_usernames_are_not_affected(client, make_user, settings):
    settings.LOGIN_MAX_FAILURES = 3
    make_user("victim")
    make_user("bystander")
    for _ in range(3):
        _login(client, "victim", "wrong")
    response = _login(Client(), "bystander", PASSWORD)
    assert response.status_code == 302


def test_success_clears_the_count(client, make_user, settings):
    settings.LOGIN_MAX_FAILURES = 3
    make_user("forgetful")
    for _ in range(2):
        _login(client, "forgetful", "wrong")
    assert _login(client, "forgetful", PASSWORD).status_code == 302
    assert not LoginFailure.objects.filter(username="forgetful").exists()
    client.logout()
    for _ in range(2):
        _login(client, "forgetful", "wrong")
    assert _login(client, "forgetful", PASSWORD).status_code == 302


def test_one_address_guessing_many_usernames_is_locked_too(client, make_user, settings):
    settings.LOGIN_MAX_FAILURES = 2  # an address gets four times as many tries
    make_user("someone")
    for i in range(8):
        _login(client, f"guess{i}", "wrong", ip="203.0.113.66")
    assert LOCKED in html(_login(client, "someone", PASSWORD, ip="203.0.113.66"))
    assert _login(Client(), "someone", PASSWORD, ip="203.0.113.67").status_code == 302


def test_old_failures_expire_and_are_pruned(client, make_user, settings):
    settings.LOGIN_MAX_FAILURES = 2
    make_user("returning")
    for _ in range(2):
        _login(client, "returning", "wrong")
    assert throttle.is_locked("returning", None)
    LoginFailure.objects.update(created_at=timezone.now() - timedelta(seconds=settings.LOGIN_FAILURE_WINDOW_SECONDS + 1))
    assert not throttle.is_locked("returning", None)
    assert throttle.prune() == 2 and not LoginFailure.objects.exists()
    assert _login(client, "returning", PASSWORD).status_code == 302


# --- Password hashing ------------------------------------------------------------------------

def test_argon2_is_the_production_hasher(settings):
    hashers = [h for h in django_settings.PASSWORD_HASHERS if not h.endswith("MD5PasswordHasher")]
    assert hashers[0] == "django.contrib.auth.hashers.Argon2PasswordHasher"
    # MD5 is there only because the test run is on.
    assert django_settings.TESTING
    settings.PASSWORD_HASHERS = hashers
    encoded = make_password("una contraseña larga")
    assert encoded.startswith("argon2$argon2id$")
    assert isinstance(identify_hasher(encoded), Argon2PasswordHasher)
    assert check_password("una contraseña larga", encoded) and not check_password("otra", encoded)


# --- Encryption of network secrets ----------------------------------------------------------------

def _raw_column(account, column="access_token"):
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {column} FROM {SocialAccount._meta.db_table} WHERE id = %s", [account.pk])
        return cursor.fetchone()[0]


@pytest.fixture
def account(brand_a):
    brand, people = brand_a
    return account_services.do_add_account(Ctx(people["owner"]), brand, network="mastodon", handle="@cafe",
                                           access_token="plain-access-XYZ", refresh_token="plain-refresh-XYZ")


def test_access_tokens_are_encrypted_at_rest(account):
    stored = _raw_column(account)
    assert "plain-access-XYZ" not in stored and stored.startswith("gAAAA")  # a Fernet token
    assert "plain-refresh-XYZ" not in _raw_column(account, "refresh_token")
    fresh = SocialAccount.objects.get(pk=account.pk)
    assert fresh.access_token == "plain-access-XYZ" and fresh.refresh_token == "plain-refresh-XYZ"
    # Each save encrypts afresh (random IV): the same secret never looks the same twice.
    fresh.save()
    assert _raw_column(account) != stored


def test_a_wrong_key_is_a_clear_configuration_error(account, settings):
    settings.FERNET_KEYS = [Fernet.generate_key().decode()]
    with pytest.raises(ImproperlyConfigured, match="cannot be decrypted: the encryption key changed"):
        SocialAccount.objects.get(pk=account.pk)


def test_keys_rotate_newest_first(account, settings):
    old = list(settings.FERNET_KEYS)
    settings.FERNET_KEYS = [Fernet.generate_key().decode(), *old]
    fresh = SocialAccount.objects.get(pk=account.pk)
    assert fresh.access_token == "plain-access-XYZ"
    fresh.save()  # re-encrypted with the new key
    settings.FERNET_KEYS = settings.FERNET_KEYS[:1]
    assert SocialAccount.objects.get(pk=account.pk).access_token == "plain-access-XYZ"


def test_no_key_at_all_is_a_clear_configuration_error(brand_a, settings):
    settings.FERNET_KEYS = []
    brand, people = brand_a
    with pytest.raises(ImproperlyConfigured, match="No encryption key"):
        account_services.do_add_account(Ctx(people["owner"]), brand, network="x", handle="@a", access_token="t")


# --- CSRF ----------------------------------------------------------------------------------

def test_csrf_is_enforced_on_every_kind_of_post(brand_a):
    brand, people = brand_a
    owner = people["owner"]
    client = Client(enforce_csrf_checks=True)
    client.force_login(owner)
    analyst = Membership.objects.get(brand=brand, user=people["analyst"])
    posts = [
        (reverse("brand_settings", args=[brand.pk]), {"name": "Hijacked", "timezone": "UTC", "language": "es"}),
        (reverse("brand_delete", args=[brand.pk]), {"confirm_name": brand.name}),
        (reverse("member_role", args=[brand.pk, analyst.pk]), {"role": "owner"}),
        (reverse("member_list", args=[brand.pk]), {"email": "evil@example.com", "role": "owner"}),
        (reverse("set_language"), {"language": "en"}),
        (reverse("token_list"), {"name": "evil", f"brand_{brand.pk}": "write"}),
        (reverse("logout"), {}),
    ]
    for url, data in posts:
        assert client.post(url, data).status_code == 403, url
    brand.refresh_from_db()
    analyst.refresh_from_db()
    assert brand.name == "Alpha Brand" and analyst.role == "analyst"
    assert not owner.api_tokens.exists()
    assert client.get(reverse("preferences")).status_code == 200  # still signed in

    # With the token from the page, the same request goes through.
    page = html(client.get(reverse("member_list", args=[brand.pk])))
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)
    response = client.post(reverse("member_role", args=[brand.pk, analyst.pk]),
                           {"role": "manager", "csrfmiddlewaretoken": token})
    assert response.status_code == 302
    analyst.refresh_from_db()
    assert analyst.role == "manager"


def test_csrf_on_the_login_form(make_user):
    make_user("someone")
    client = Client(enforce_csrf_checks=True)
    assert client.post(reverse("login"), {"username": "someone", "password": PASSWORD}).status_code == 403


def test_api_writes_with_a_session_need_csrf(brand_a):
    brand, people = brand_a
    client = Client(enforce_csrf_checks=True)
    client.force_login(people["owner"])
    response = client.patch(f"/api/v1/brands/{brand.pk}", data={"tone": "hijacked"}, content_type="application/json")
    assert response.status_code == 403
    brand.refresh_from_db()
    assert brand.tone == ""


# --- Production settings ---------------------------------------------------------------------

def _settings_in(env_extra: dict, tmp_path) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("TERTULIA_", "DJANGO_", "SECRET_KEY", "DEBUG", "DATABASE_URL", "REDIS_URL",
                                "SECURE_", "EMAIL_", "HUEY_", "PYTEST"))}
    env.update({"TERTULIA_VAR_DIR": str(tmp_path), **env_extra})
    code = (
        "import json, tertulia.settings as s; print(json.dumps({k: getattr(s, k) for k in ("
        "'DEBUG', 'TESTING', 'SESSION_COOKIE_SECURE', 'CSRF_COOKIE_SECURE', 'SESSION_COOKIE_HTTPONLY', "
        "'SECURE_SSL_REDIRECT', 'SECURE_HSTS_SECONDS', 'PASSWORD_HASHERS', 'X_FRAME_OPTIONS', "
        "'SECURE_CONTENT_TYPE_NOSNIFF')}))"
    )
    return subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)


def _production(tmp_path, **extra):
    result = _settings_in({"SECRET_KEY": "s" * 50, **extra}, tmp_path)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_production_settings_are_secure(tmp_path):
    values = _production(tmp_path)
    assert values["DEBUG"] is False and values["TESTING"] is False
    assert values["SESSION_COOKIE_SECURE"] is True and values["CSRF_COOKIE_SECURE"] is True
    assert values["SESSION_COOKIE_HTTPONLY"] is True
    assert values["SECURE_SSL_REDIRECT"] is True and values["SECURE_HSTS_SECONDS"] >= 31536000
    assert values["PASSWORD_HASHERS"][0] == "django.contrib.auth.hashers.Argon2PasswordHasher"
    assert not any("MD5" in h for h in values["PASSWORD_HASHERS"])
    assert values["X_FRAME_OPTIONS"] == "DENY" and values["SECURE_CONTENT_TYPE_NOSNIFF"] is True


@pytest.mark.parametrize("env", [{"DEBUG": "1"}, {"TERTULIA_INSECURE_HTTP": "1"}])
def test_local_plain_http_turns_secure_cookies_off(tmp_path, env):
    values = _production(tmp_path, **env)
    assert values["SESSION_COOKIE_SECURE"] is False and values["SECURE_SSL_REDIRECT"] is False


def test_production_without_a_secret_key_refuses_to_start(tmp_path):
    result = _settings_in({}, tmp_path)
    assert result.returncode != 0
    assert "No SECRET_KEY" in result.stderr


# --- Redirects stay on the site -----------------------------------------------------------------

@pytest.mark.parametrize("target", [
    "https://evil.example/", "//evil.example/", "/\\evil.example", "\\\\evil.example", "http:evil.example",
    "javascript:alert(1)", "https://testserver.evil.example/", " //evil.example", "http://testserver@evil.example/",
])
def test_language_switch_refuses_off_site_next(client, target):
    response = client.post(reverse("set_language"), {"language": "es", "next": target})
    assert response.status_code == 302
    assert response["Location"] == "/"


def test_language_switch_keeps_on_site_next(client):
    response = client.post(reverse("set_language"), {"language": "es", "next": "/brands/?x=1"})
    assert response["Location"] == "/brands/?x=1"
    # On HTTPS, an http:// link back to the site is a downgrade: refused.
    response = client.post(reverse("set_language"), {"language": "es", "next": "http://testserver/brands/"}, secure=True)
    assert response["Location"] == "/"


@pytest.mark.parametrize("target", ["https://evil.example/", "//evil.example", "/\\evil.example"])
def test_sign_in_refuses_off_site_next(client, make_user, target):
    make_user("someone")
    response = client.post(reverse("login"), {"username": "someone", "password": PASSWORD, "next": target})
    assert response.status_code == 302
    assert response["Location"] == reverse("home")


def test_only_a_brand_member_can_delete_even_with_the_typed_name(client, brand_a, brand_b):
    """Typed confirmation is not authorisation: B's owner typing A's name gets nothing."""
    brand, _people = brand_a
    client.force_login(brand_b[1]["owner"])
    assert client.post(reverse("brand_delete", args=[brand.pk]), {"confirm_name": brand.name}).status_code == 404
    assert Brand.objects.filter(pk=brand.pk).exists()
