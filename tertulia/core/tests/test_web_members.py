"""Members and roles: who may invite, change roles and remove; the last owner stays; only
owners make owners."""

import pytest
from django.urls import reverse

from tertulia.core import roles, services
from tertulia.core.models import AuditEvent, Invitation, Membership
from tertulia.core.services import Ctx

from .web_helpers import ALL_ROLES, XSS, assert_escaped, html, make_invitation, messages_of

pytestmark = pytest.mark.django_db

MANAGERS = {r for r in ALL_ROLES if roles.MANAGE_MEMBERS in roles.ROLE_PERMISSIONS[r]}


def _m(brand, user) -> Membership:
    return Membership.objects.get(brand=brand, user=user)


def test_role_table_is_what_these_tests_assume():
    assert MANAGERS == {"owner", "manager"}
    assert roles.can_grant("owner", "owner") and not roles.can_grant("manager", "owner")


@pytest.mark.parametrize("role", ALL_ROLES)
def test_every_member_sees_the_team_only_managers_get_controls(client, brand_a, role):
    brand, people = brand_a
    inv, _raw = make_invitation(brand, people["owner"], "pending@example.com")
    client.force_login(people[role])
    response = client.get(reverse("member_list", args=[brand.pk]))
    assert response.status_code == 200
    page = html(response)
    for user in people.values():
        assert user.email in page
    role_url = reverse("member_role", args=[brand.pk, _m(brand, people["analyst"]).pk])
    assert (role_url in page) == (role in MANAGERS)
    # Pending invitations are for those who manage the team.
    assert ("pending@example.com" in page) == (role in MANAGERS)


# --- Invitations from the page ------------------------------------------------------------

@pytest.mark.parametrize("role", ALL_ROLES)
def test_inviting_needs_manage_members_and_is_audited(client, brand_a, role, mailoutbox, django_capture_on_commit_callbacks):
    brand, people = brand_a
    client.force_login(people[role])
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("member_list", args=[brand.pk]), {"email": " New.Person@Example.com ", "role": "analyst"})
    if role not in MANAGERS:
        assert response.status_code == 403
        assert not Invitation.objects.exists() and not mailoutbox
        return
    assert response.status_code == 302
    inv = Invitation.objects.get()
    assert (inv.email, inv.role, inv.invited_by) == ("new.person@example.com", "analyst", people[role])
    event = AuditEvent.objects.get(action="invitation.create")
    assert event.actor == people[role] and event.changes == {"email": "new.person@example.com", "role": "analyst"}
    assert len(mailoutbox) == 1 and mailoutbox[0].to == ["new.person@example.com"]


def test_manager_cannot_invite_an_owner(client, brand_a):
    brand, people = brand_a
    client.force_login(people["manager"])
    response = client.post(reverse("member_list", args=[brand.pk]), {"email": "boss@example.com", "role": "owner"})
    assert response.status_code == 200
    assert "Only owners can make someone an owner." in messages_of(response)
    assert not Invitation.objects.exists()


@pytest.mark.parametrize("data, field", [
    ({"email": "someone@example.com", "role": "superuser"}, "role"),
    ({"email": "someone@example.com", "role": ""}, "role"),
    ({"email": "not-an-email", "role": "analyst"}, "email"),
    ({"email": "a" * 250 + "@example.com", "role": "analyst"}, "email"),
    ({"email": "x@example.com\r\nBcc: victim@example.com", "role": "analyst"}, "email"),
])
def test_hostile_invitations_are_form_errors(client, brand_a, data, field):
    brand, people = brand_a
    client.force_login(people["owner"])
    response = client.post(reverse("member_list", args=[brand.pk]), data)
    assert response.status_code == 200
    assert response.context["invite_form"].errors.get(field)
    assert not Invitation.objects.exists()


def test_inviting_a_current_member_is_refused(client, brand_a):
    brand, people = brand_a
    client.force_login(people["owner"])
    response = client.post(reverse("member_list", args=[brand.pk]), {"email": people["analyst"].email.upper(), "role": "manager"})
    assert response.status_code == 200
    assert any("already a member" in m for m in messages_of(response))
    assert not Invitation.objects.exists()


@pytest.mark.parametrize("role", ALL_ROLES)
def test_revoking_an_invitation(client, brand_a, role):
    brand, people = brand_a
    inv, _raw = make_invitation(brand, people["owner"], "pending@example.com")
    client.force_login(people[role])
    response = client.post(reverse("invitation_revoke", args=[brand.pk, inv.pk]))
    inv.refresh_from_db()
    if role in MANAGERS:
        assert response.status_code == 302 and inv.revoked_at is not None
        event = AuditEvent.objects.get(action="invitation.revoke")
        assert event.actor == people[role] and event.changes == {"email": "pending@example.com"}
    else:
        assert response.status_code == 403 and inv.revoked_at is None


def test_revoking_an_accepted_invitation_is_refused_with_a_message(client, brand_a, make_user):
    brand, people = brand_a
    inv, raw = make_invitation(brand, people["owner"], "joiner@example.com")
    services.do_accept_invitation(make_user("joiner", email="joiner@example.com"), raw)
    client.force_login(people["owner"])
    response = client.post(reverse("invitation_revoke", args=[brand.pk, inv.pk]), follow=True)
    assert response.status_code == 200
    inv.refresh_from_db()
    assert inv.revoked_at is None
    assert messages_of(response)
    assert not AuditEvent.objects.filter(action="invitation.revoke").exists()


# --- Roles --------------------------------------------------------------------------------

@pytest.mark.parametrize("role", ALL_ROLES)
def test_changing_a_role_needs_manage_members_and_is_audited(client, brand_a, role):
    brand, people = brand_a
    target = _m(brand, people["community_manager"])
    client.force_login(people[role])
    response = client.post(reverse("member_role", args=[brand.pk, target.pk]), {"role": "analyst"})
    target.refresh_from_db()
    if role not in MANAGERS:
        assert response.status_code == 403 and target.role == "community_manager"
        return
    assert response.status_code == 302 and target.role == "analyst"
    event = AuditEvent.objects.get(action="member.role")
    assert event.actor == people[role] and event.changes == {"role": ["community_manager", "analyst"]}


@pytest.mark.parametrize("bad", ["superuser", "", "OWNER", "owner ", "x" * 5000])
def test_unknown_role_changes_nothing_and_says_so(client, brand_a, bad):
    brand, people = brand_a
    target = _m(brand, people["analyst"])
    client.force_login(people["owner"])
    response = client.post(reverse("member_role", args=[brand.pk, target.pk]), {"role": bad}, follow=True)
    target.refresh_from_db()
    assert target.role == "analyst"
    assert "Unknown role." in messages_of(response)
    assert not AuditEvent.objects.filter(action="member.role").exists()


def test_managers_cannot_make_owners_nor_touch_owners(client, brand_a, make_user):
    brand, people = brand_a
    client.force_login(people["manager"])
    target = _m(brand, people["analyst"])
    response = client.post(reverse("member_role", args=[brand.pk, target.pk]), {"role": "owner"}, follow=True)
    target.refresh_from_db()
    assert target.role == "analyst"
    assert "Only owners can make someone an owner." in messages_of(response)
    owner = _m(brand, people["owner"])
    response = client.post(reverse("member_role", args=[brand.pk, owner.pk]), {"role": "analyst"}, follow=True)
    owner.refresh_from_db()
    assert owner.role == "owner"
    assert "Only owners can change an owner's role." in messages_of(response)
    response = client.post(reverse("member_remove", args=[brand.pk, owner.pk]), follow=True)
    assert Membership.objects.filter(pk=owner.pk).exists()
    assert "Only owners can remove an owner." in messages_of(response)
    # A manager can still promote someone to manager.
    client.post(reverse("member_role", args=[brand.pk, target.pk]), {"role": "manager"})
    target.refresh_from_db()
    assert target.role == "manager"


def test_the_last_owner_can_be_neither_demoted_nor_removed(client, brand_a):
    brand, people = brand_a
    owner = _m(brand, people["owner"])
    client.force_login(people["owner"])
    msg = "A brand needs at least one owner. Make someone else owner first."
    response = client.post(reverse("member_role", args=[brand.pk, owner.pk]), {"role": "manager"}, follow=True)
    owner.refresh_from_db()
    assert owner.role == "owner" and msg in messages_of(response)
    response = client.post(reverse("member_remove", args=[brand.pk, owner.pk]), follow=True)
    assert Membership.objects.filter(pk=owner.pk).exists() and msg in messages_of(response)
    # A failed removal of oneself stays on the team page (the owner is still a member).
    assert response.redirect_chain[0][0] == reverse("member_list", args=[brand.pk])


def test_with_a_second_owner_the_first_may_step_down(client, brand_a):
    brand, people = brand_a
    client.force_login(people["owner"])
    manager = _m(brand, people["manager"])
    client.post(reverse("member_role", args=[brand.pk, manager.pk]), {"role": "owner"})
    manager.refresh_from_db()
    assert manager.role == "owner"
    me = _m(brand, people["owner"])
    client.post(reverse("member_role", args=[brand.pk, me.pk]), {"role": "analyst"})
    me.refresh_from_db()
    assert me.role == "analyst"
    # Now an analyst, the former owner cannot manage the team any more.
    assert client.post(reverse("member_role", args=[brand.pk, me.pk]), {"role": "owner"}).status_code == 403


@pytest.mark.parametrize("role", ALL_ROLES)
def test_removing_a_member(client, brand_a, role):
    brand, people = brand_a
    target = _m(brand, people["client_reviewer"]) if role != "client_reviewer" else _m(brand, people["analyst"])
    client.force_login(people[role])
    response = client.post(reverse("member_remove", args=[brand.pk, target.pk]))
    exists = Membership.objects.filter(pk=target.pk).exists()
    if role in MANAGERS:
        assert response.status_code == 302 and not exists
        event = AuditEvent.objects.get(action="member.remove")
        assert event.actor == people[role] and event.changes == {"user": target.user.email}
    else:
        assert response.status_code == 403 and exists


def test_leaving_a_brand_goes_home(client, brand_a):
    brand, people = brand_a
    me = _m(brand, people["manager"])
    client.force_login(people["manager"])
    response = client.post(reverse("member_remove", args=[brand.pk, me.pk]))
    assert response["Location"] == reverse("home")
    assert not Membership.objects.filter(pk=me.pk).exists()
    assert client.get(reverse("member_list", args=[brand.pk])).status_code == 404


def test_names_with_markup_are_escaped_on_the_team_page(client, brand_a, make_user):
    brand, people = brand_a
    user = make_user("marked", first_name=XSS, email="marked@example.com")
    services.do_add_member(Ctx(people["owner"], via="test"), brand, user, "analyst")
    client.force_login(people["owner"])
    assert_escaped(html(client.get(reverse("member_list", args=[brand.pk]))))


def test_the_invite_form_suggests_community_manager_not_owner(client, brand_a):
    brand, people = brand_a
    client.force_login(people["owner"])
    page = client.get(reverse("member_list", args=[brand.pk])).content.decode()
    invite_form = page[page.index('id="id_role"'):]
    invite_form = invite_form[: invite_form.index("</select>")]
    assert 'value="community_manager" selected' in invite_form
    assert 'value="owner" selected' not in invite_form
