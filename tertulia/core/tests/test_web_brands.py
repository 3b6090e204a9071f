"""Brand pages: list, create, settings and guidelines, deletion, and the shell's sections."""

import pytest
from django.urls import reverse

from tertulia.core import roles
from tertulia.core.context_processors import SECTIONS
from tertulia.core.models import AuditEvent, Brand, OrganizationMember

from .web_helpers import ALL_ROLES, XSS, assert_escaped, html, messages_of

pytestmark = pytest.mark.django_db

EDITORS = {r for r in ALL_ROLES if roles.MANAGE_BRAND in roles.ROLE_PERMISSIONS[r]}
DELETERS = {r for r in ALL_ROLES if roles.DELETE_BRAND in roles.ROLE_PERMISSIONS[r]}


def test_role_table_is_what_these_tests_assume():
    assert EDITORS == {"owner", "manager"}
    assert DELETERS == {"owner"}


def _settings_post(brand, **overrides):
    data = {
        "name": brand.name, "timezone": brand.timezone, "language": brand.language, "tone": brand.tone,
        "banned_words": ", ".join(brand.banned_words), "required_hashtags": ", ".join(brand.required_hashtags),
        "signature": brand.signature,
    }
    data.update(overrides)
    return data


# --- List and create ----------------------------------------------------------------------

def test_brand_list_shows_only_my_brands(client, brand_a, brand_b):
    brand, people = brand_a
    client.force_login(people["analyst"])
    page = html(client.get(reverse("brand_list")))
    assert brand.name in page
    assert brand_b[0].name not in page
    assert brand_b[0].organization.name not in page


def test_workspace_admin_creates_a_brand_and_it_is_audited(client, brand_a):
    brand, people = brand_a
    owner = people["owner"]
    client.force_login(owner)
    response = client.post(reverse("brand_create"), {
        "org": brand.organization_id, "name": "Gamma", "timezone": "America/Mexico_City", "language": "en",
        "tone": "Warm", "banned_words": "cheap, Cheap, free", "required_hashtags": "gamma, #GammaLife",
        "signature": "— G",
    })
    new = Brand.objects.get(name="Gamma")
    assert response.status_code == 302 and response["Location"] == reverse("brand_settings", args=[new.pk])
    assert new.organization_id == brand.organization_id
    assert new.banned_words == ["cheap", "free"]
    assert new.required_hashtags == ["#gamma", "#GammaLife"]
    assert roles.Role.OWNER == new.memberships.get(user=owner).role
    event = AuditEvent.objects.get(action="brand.create", brand=new)
    assert event.actor == owner and event.via == "web" and event.ip == "127.0.0.1"
    assert event.changes["name"] == [None, "Gamma"]
    assert event.changes["timezone"] == [None, "America/Mexico_City"]


def test_non_admin_member_cannot_create_brands(client, brand_a):
    _brand, people = brand_a
    manager = people["manager"]
    assert OrganizationMember.objects.filter(user=manager, is_admin=False).exists()
    client.force_login(manager)
    assert client.get(reverse("brand_create")).status_code == 403
    assert client.post(reverse("brand_create"), {"name": "Nope", "timezone": "UTC", "language": "es"}).status_code == 403
    assert not Brand.objects.filter(name="Nope").exists()


def test_brand_cannot_be_created_in_someone_elses_workspace(client, brand_a, brand_b):
    brand, people = brand_a
    other_org = brand_b[0].organization
    client.force_login(people["owner"])
    response = client.post(reverse("brand_create"), {
        "org": other_org.pk, "name": "Planted", "timezone": "UTC", "language": "es",
    })
    assert response.status_code == 404
    assert not Brand.objects.filter(name="Planted").exists()


@pytest.mark.parametrize("field, value", [
    ("name", "x" * 121),
    ("name", ""),
    ("timezone", "Mars/Olympus_Mons"),
    ("language", "xx"),
    ("tone", "t" * 4001),
    ("signature", "s" * 201),
    ("banned_words", "b" * 4001),
])
def test_create_refuses_hostile_values(client, brand_a, field, value):
    brand, people = brand_a
    client.force_login(people["owner"])
    data = {"org": brand.organization_id, "name": "Delta", "timezone": "UTC", "language": "es", field: value}
    count = Brand.objects.count()
    response = client.post(reverse("brand_create"), data)
    assert response.status_code == 200
    assert response.context["form"].errors.get(field), response.context["form"].errors
    assert Brand.objects.count() == count


def test_duplicate_brand_name_in_a_workspace_is_a_form_error(client, brand_a):
    brand, people = brand_a
    client.force_login(people["owner"])
    response = client.post(reverse("brand_create"), {
        "org": brand.organization_id, "name": brand.name, "timezone": "UTC", "language": "es",
    })
    assert response.status_code == 200
    assert response.context["form"].non_field_errors()
    assert Brand.objects.filter(name=brand.name).count() == 1


# --- Settings -----------------------------------------------------------------------------

@pytest.mark.parametrize("role", ALL_ROLES)
def test_every_member_reads_settings_only_editors_get_the_form(client, brand_a, role):
    brand, people = brand_a
    client.force_login(people[role])
    response = client.get(reverse("brand_settings", args=[brand.pk]))
    assert response.status_code == 200
    assert response.context["can_edit"] == (role in EDITORS)
    page = html(response)
    assert ('name="name"' in page) == (role in EDITORS)
    assert ('name="confirm_name"' in page) == (role in DELETERS)


@pytest.mark.parametrize("role", ALL_ROLES)
def test_saving_settings_needs_manage_brand(client, brand_a, role):
    brand, people = brand_a
    user = people[role]
    client.force_login(user)
    response = client.post(reverse("brand_settings", args=[brand.pk]),
                           _settings_post(brand, name="Alpha Renamed", tone="Friendly, close"))
    brand.refresh_from_db()
    if role in EDITORS:
        assert response.status_code == 302
        assert brand.name == "Alpha Renamed" and brand.tone == "Friendly, close"
        event = AuditEvent.objects.get(action="brand.update", brand=brand)
        assert event.actor == user
        assert event.changes == {"name": ["Alpha Brand", "Alpha Renamed"], "tone": ["", "Friendly, close"]}
    else:
        assert response.status_code == 403
        assert brand.name == "Alpha Brand"
        assert not AuditEvent.objects.filter(action="brand.update").exists()


def test_guideline_lists_are_cleaned_and_the_audit_shows_old_and_new(client, brand_a):
    brand, people = brand_a
    client.force_login(people["manager"])
    client.post(reverse("brand_settings", args=[brand.pk]),
                _settings_post(brand, banned_words="barato,\nBarato , gratis", required_hashtags="#uno, dos"))
    brand.refresh_from_db()
    assert brand.banned_words == ["barato", "gratis"]
    assert brand.required_hashtags == ["#uno", "#dos"]
    event = AuditEvent.objects.get(action="brand.update", brand=brand)
    assert event.changes["banned_words"] == [[], ["barato", "gratis"]]
    assert event.changes["required_hashtags"] == [[], ["#uno", "#dos"]]
    # The form shows them back as it takes them.
    page = html(client.get(reverse("brand_settings", args=[brand.pk])))
    assert "barato, gratis" in page


@pytest.mark.parametrize("field, value", [
    ("timezone", "Europe/Atlantis"),
    ("language", "klingon"),
    ("name", "n" * 121),
    ("tone", "t" * 4001),
])
def test_invalid_settings_change_nothing_and_the_page_keeps_the_saved_name(client, brand_a, field, value):
    brand, people = brand_a
    client.force_login(people["owner"])
    response = client.post(reverse("brand_settings", args=[brand.pk]),
                           _settings_post(brand, name="Unsaved Name", **{field: value}) if field != "name"
                           else _settings_post(brand, name=value))
    assert response.status_code == 200
    assert response.context["form"].errors.get(field)
    brand.refresh_from_db()
    assert brand.name == "Alpha Brand"
    assert not AuditEvent.objects.filter(action="brand.update").exists()
    # The heading and the menus show the brand as saved, not the rejected input.
    assert response.context["current_brand"].name == "Alpha Brand"


def test_brand_name_with_markup_is_stored_verbatim_and_escaped_everywhere(client, brand_a):
    brand, people = brand_a
    client.force_login(people["owner"])
    client.post(reverse("brand_settings", args=[brand.pk]), _settings_post(brand, name=XSS, signature=XSS, tone=XSS))
    brand.refresh_from_db()
    assert brand.name == XSS and brand.signature == XSS
    for url in (reverse("brand_settings", args=[brand.pk]), reverse("brand_list"),
                reverse("section_calendar", args=[brand.pk]), reverse("audit_log", args=[brand.pk])):
        assert_escaped(html(client.get(url)))
    # The read-only view of the same settings, for a member who cannot edit.
    client.force_login(people["client_reviewer"])
    assert_escaped(html(client.get(reverse("brand_settings", args=[brand.pk]))))


# --- Deletion -----------------------------------------------------------------------------

def test_deleting_needs_the_exact_typed_name(client, brand_a):
    brand, people = brand_a
    client.force_login(people["owner"])
    url = reverse("brand_delete", args=[brand.pk])
    for wrong in ("", "alpha brand", "Alpha", "Alpha Brand!"):
        response = client.post(url, {"confirm_name": wrong}, follow=True)
        assert Brand.objects.filter(pk=brand.pk).exists(), wrong
        assert "Type the brand's exact name to confirm deletion." in messages_of(response)
    assert not AuditEvent.objects.filter(action="brand.delete").exists()

    response = client.post(url, {"confirm_name": "  Alpha Brand "})
    assert response.status_code == 302 and response["Location"] == reverse("home")
    assert not Brand.objects.filter(pk=brand.pk).exists()  # a soft delete: gone for everyone, restorable
    event = AuditEvent.objects.get(action="brand.delete")
    assert event.actor == people["owner"] and event.brand_id == brand.pk and event.brand_name == "Alpha Brand"


@pytest.mark.parametrize("role", sorted(set(ALL_ROLES) - {"owner"}))
def test_only_owners_delete_brands(client, brand_a, role):
    brand, people = brand_a
    client.force_login(people[role])
    response = client.post(reverse("brand_delete", args=[brand.pk]), {"confirm_name": brand.name})
    assert response.status_code == 403
    assert Brand.objects.filter(pk=brand.pk).exists()


def test_delete_refuses_get(client, brand_a):
    brand, people = brand_a
    client.force_login(people["owner"])
    assert client.get(reverse("brand_delete", args=[brand.pk])).status_code == 405
    assert Brand.objects.filter(pk=brand.pk).exists()


# --- Sections and home ------------------------------------------------------------------------

@pytest.mark.parametrize("role", ALL_ROLES)
def test_every_section_of_the_menu_opens_for_every_role(client, brand_a, role):
    """Each entry of the brand's menu is a real page for every role (none is a placeholder)."""
    brand, people = brand_a
    client.force_login(people[role])
    nav = client.get(reverse("section_calendar", args=[brand.pk])).context["nav"]
    assert [item["key"] for item in nav] == [key for key, _label in SECTIONS]
    needs = {"compose": roles.COMPOSE, "analytics": roles.ANALYTICS}  # every other section reads
    for item in nav:
        response = client.get(item["url"])
        allowed = needs.get(item["key"], roles.VIEW) in roles.ROLE_PERMISSIONS[role]
        expected = 200 if allowed else 403
        assert response.status_code == expected, item["url"]
        assert "Not available yet." not in html(response)


def test_home_goes_to_the_last_brand_or_welcomes_newcomers(client, brand_a, make_user):
    brand, people = brand_a
    client.force_login(people["cm"] if "cm" in people else people["community_manager"])
    assert client.get(reverse("home"))["Location"] == reverse("section_calendar", args=[brand.pk])
    client.force_login(make_user("newcomer"))
    response = client.get(reverse("home"))
    assert response.status_code == 200
    assert "Welcome to Tertulia" in html(response)


def test_new_workspace_name_is_validated(client, make_user):
    user = make_user("founder")
    client.force_login(user)
    response = client.post(reverse("org_create"), {"name": "w" * 121}, follow=True)
    assert not OrganizationMember.objects.filter(user=user).exists()
    assert messages_of(response)
    response = client.post(reverse("org_create"), {"name": XSS})
    org = OrganizationMember.objects.get(user=user).organization
    assert org.name == XSS and response["Location"] == reverse("brand_create") + f"?org={org.pk}"
    assert_escaped(html(client.get(response["Location"])))
    assert AuditEvent.objects.filter(action="organization.create", actor=user).exists()
