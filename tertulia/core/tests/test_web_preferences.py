"""A user's own language and time zone: the preferences page and the language switch."""

import pytest
from django.conf import settings
from django.urls import reverse

from tertulia.core import services
from tertulia.core.services import Ctx

from .web_helpers import html, messages_of

pytestmark = pytest.mark.django_db


def test_preferences_page_saves_language_and_time_zone(client, make_user):
    user = make_user("pref", language="en", timezone="Europe/Madrid")
    client.force_login(user)
    response = client.get(reverse("preferences"))
    assert response.status_code == 200 and 'lang="en"' in html(response) and "Your preferences" in html(response)
    response = client.post(reverse("preferences"), {"language": "es", "timezone": "America/Mexico_City"}, follow=True)
    user.refresh_from_db()
    assert (user.language, user.timezone) == ("es", "America/Mexico_City")
    page = html(response)
    assert '<html lang="es">' in page and "Tus preferencias" in page
    assert "Preferencias guardadas." in messages_of(response)


@pytest.mark.parametrize("data, field", [
    ({"language": "en", "timezone": "Mars/Olympus_Mons"}, "timezone"),
    ({"language": "en", "timezone": "Europe/Madrid\x00"}, "timezone"),
    ({"language": "en", "timezone": "x" * 10_000}, "timezone"),
    ({"language": "tlh", "timezone": "UTC"}, "language"),
    ({"language": "", "timezone": "UTC"}, "language"),
])
def test_bad_preferences_are_form_errors_and_change_nothing(client, make_user, data, field):
    user = make_user("pref", language="en", timezone="Europe/Madrid")
    client.force_login(user)
    response = client.post(reverse("preferences"), data)
    assert response.status_code == 200
    assert response.context["form"].errors.get(field)
    user.refresh_from_db()
    assert (user.language, user.timezone) == ("en", "Europe/Madrid")


def test_the_service_refuses_unknown_languages_and_zones(make_user):
    from django.core.exceptions import ValidationError

    user = make_user("pref", language="en")
    with pytest.raises(ValidationError):
        services.do_update_preferences(Ctx(user), language="fr")
    with pytest.raises(ValidationError):
        services.do_update_preferences(Ctx(user), tz="Not/AZone")
    user.refresh_from_db()
    assert user.language == "en" and user.timezone == "Europe/Madrid"


def test_times_are_shown_in_the_users_time_zone(client, brand_a):
    brand, people = brand_a
    owner = people["owner"]
    client.force_login(owner)
    services.do_update_preferences(Ctx(owner), tz="America/Mexico_City")  # UTC-6, no summer time
    page = html(client.get(reverse("audit_log", args=[brand.pk])))
    assert "-06:00" in page and "+00:00" not in page
    services.do_update_preferences(Ctx(owner), tz="Asia/Kolkata")  # UTC+5:30
    page = html(client.get(reverse("audit_log", args=[brand.pk])))
    assert "+05:30" in page and "-06:00" not in page


def test_language_switch_updates_the_user_and_the_next_page(client, brand_a):
    brand, people = brand_a
    user = people["analyst"]
    assert user.language == "en"
    client.force_login(user)
    target = reverse("brand_settings", args=[brand.pk])
    assert 'lang="en"' in html(client.get(target))
    response = client.post(reverse("set_language"), {"language": "es", "next": target})
    assert response.status_code == 302 and response["Location"] == target
    user.refresh_from_db()
    assert user.language == "es"
    page = html(client.get(target))
    assert '<html lang="es">' in page and "Marcas" in page
    # It sticks to the user, not to this browser: a fresh session is in Spanish too.
    other = client.__class__()
    other.force_login(user)
    assert '<html lang="es">' in html(other.get(target))


def test_language_switch_for_visitors_uses_a_cookie(client):
    response = client.post(reverse("set_language"), {"language": "es", "next": reverse("login")})
    assert response.cookies[settings.LANGUAGE_COOKIE_NAME].value == "es"
    page = html(client.get(reverse("login"), HTTP_ACCEPT_LANGUAGE="en"))
    assert '<html lang="es">' in page and "Iniciar sesión" in page
    client.post(reverse("set_language"), {"language": "en", "next": reverse("login")})
    assert '<html lang="en">' in html(client.get(reverse("login")))


@pytest.mark.parametrize("lang", ["fr", "", "es-x-evil", "<script>"])
def test_unknown_language_changes_nothing(client, make_user, lang):
    user = make_user("pref", language="en")
    client.force_login(user)
    response = client.post(reverse("set_language"), {"language": lang, "next": "/me/"})
    assert response.status_code == 302 and response["Location"] == "/me/"
    assert settings.LANGUAGE_COOKIE_NAME not in response.cookies
    user.refresh_from_db()
    assert user.language == "en"


def test_language_switch_needs_post(client):
    assert client.get(reverse("set_language"), {"language": "es"}).status_code == 405
