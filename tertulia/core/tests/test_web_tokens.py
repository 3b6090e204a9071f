"""The API tokens page: create (shown once, stored hashed), grant per brand, revoke."""

import pytest
from django.urls import reverse

from tertulia.core import services
from tertulia.core.models import AuditEvent, PersonalAccessToken, TokenGrant
from tertulia.core.services import Ctx

from .web_helpers import XSS, assert_escaped, html, messages_of

pytestmark = pytest.mark.django_db


def test_creating_a_token_shows_it_once_and_stores_only_its_hash(client, brand_a):
    brand, people = brand_a
    user = people["analyst"]
    client.force_login(user)
    response = client.post(reverse("token_list"), {"name": "Reporting script", "expires_in_days": "30",
                                                   f"brand_{brand.pk}": "read"})
    assert response.status_code == 200
    raw = response.context["new_raw"]
    assert raw and raw.startswith("tta_") and raw in html(response)
    token = PersonalAccessToken.objects.get(user=user)
    assert token.token_hash == PersonalAccessToken.hash(raw) and raw not in (token.token_hash, token.hint)
    assert token.hint == raw[:8] and token.expires_at is not None
    assert list(token.grants.values_list("brand_id", "scope")) == [(brand.pk, "read")]
    event = AuditEvent.objects.get(action="token.create")
    assert event.actor == user and event.brand == brand and event.changes == {"name": "Reporting script", "scope": "read"}
    # The next visit lists it by name and hint, never the secret again.
    page = html(client.get(reverse("token_list")))
    assert "Reporting script" in page and token.hint in page and raw not in page
    # And it authenticates, narrowed to its grant.
    assert services.authenticate_token(raw) == user


def test_a_token_can_only_reach_my_brands(client, brand_a, brand_b):
    brand, people = brand_a
    other = brand_b[0]
    client.force_login(people["owner"])
    page = html(client.get(reverse("token_list")))
    assert f'name="brand_{brand.pk}"' in page and f'name="brand_{other.pk}"' not in page and other.name not in page
    response = client.post(reverse("token_list"), {"name": "sneaky", f"brand_{other.pk}": "write"})
    assert "Choose at least one brand for this token." in messages_of(response)
    assert not PersonalAccessToken.objects.exists()
    assert not TokenGrant.objects.filter(brand=other).exists()


@pytest.mark.parametrize("data, field", [
    ({"name": "n" * 101}, "name"),
    ({"name": ""}, "name"),
    ({"name": "ok", "expires_in_days": "0"}, "expires_in_days"),
    ({"name": "ok", "expires_in_days": "3651"}, "expires_in_days"),
    ({"name": "ok", "expires_in_days": "soon"}, "expires_in_days"),
    ({"name": "ok", "brand_X": "admin"}, "brand_X"),
])
def test_hostile_token_forms_are_errors(client, brand_a, data, field):
    brand, people = brand_a
    client.force_login(people["owner"])
    data = {k.replace("brand_X", f"brand_{brand.pk}"): v for k, v in data.items()}
    data.setdefault(f"brand_{brand.pk}", "read")
    response = client.post(reverse("token_list"), data)
    assert response.status_code == 200
    assert response.context["form"].errors.get(field.replace("brand_X", f"brand_{brand.pk}"))
    assert response.context["new_raw"] is None
    assert not PersonalAccessToken.objects.exists()


def test_revoking_my_token_but_not_someone_elses(client, brand_a):
    brand, people = brand_a
    mine, mine_raw = services.do_create_token(Ctx(people["manager"]), "mine", {brand.pk: "write"})
    theirs, theirs_raw = services.do_create_token(Ctx(people["owner"]), "theirs", {brand.pk: "write"})
    client.force_login(people["manager"])
    page = html(client.get(reverse("token_list")))
    assert "mine" in page and "theirs" not in page
    assert client.post(reverse("token_revoke", args=[theirs.pk])).status_code == 404
    theirs.refresh_from_db()
    assert theirs.revoked_at is None and services.authenticate_token(theirs_raw) is not None
    assert client.get(reverse("token_revoke", args=[mine.pk])).status_code == 405
    response = client.post(reverse("token_revoke", args=[mine.pk]))
    assert response.status_code == 302 and response["Location"] == reverse("token_list")
    mine.refresh_from_db()
    assert mine.revoked_at is not None and services.authenticate_token(mine_raw) is None
    event = AuditEvent.objects.get(action="token.revoke")
    assert event.actor == people["manager"] and event.brand == brand
    assert "mine" not in html(client.get(reverse("token_list")))


def test_token_name_with_markup_is_escaped(client, brand_a):
    brand, people = brand_a
    client.force_login(people["owner"])
    client.post(reverse("token_list"), {"name": XSS, f"brand_{brand.pk}": "read"})
    assert PersonalAccessToken.objects.get().name == XSS
    assert_escaped(html(client.get(reverse("token_list"))))
    assert_escaped(html(client.get(reverse("audit_log", args=[brand.pk]))))


def test_tokens_page_needs_sign_in(client):
    response = client.get(reverse("token_list"))
    assert response.status_code == 302 and response["Location"].startswith(reverse("login"))
