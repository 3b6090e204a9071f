"""Every write to workspaces, brands, members, invitations and tokens goes through here.

Each ``do_*`` function checks the actor's permission, makes the change in one transaction
and records it in the audit log. Views, the API, the CLI and the demo generator all call
these, so the rules live in one place.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.mail import EmailMultiAlternatives
from django.db import transaction
from django.template.loader import render_to_string
from django.utils import timezone, translation
from django.utils.formats import date_format
from django.utils.translation import gettext as _

from . import audit, roles
from .models import (
    Brand,
    Invitation,
    KnowledgeEntry,
    Membership,
    Organization,
    OrganizationMember,
    PersonalAccessToken,
    TokenGrant,
    User,
)
from .scoping import brands_for, has_perm, role_in


def client_ip(request) -> str | None:
    """The visitor's address. Behind a proxy (BEHIND_PROXY=1) that is the last hop the proxy
    appended to X-Forwarded-For; anything before it was written by the client and is not trusted."""
    if settings.BEHIND_PROXY:
        forwarded = [part.strip() for part in request.headers.get("X-Forwarded-For", "").split(",") if part.strip()]
        if forwarded:
            try:  # not an address (a misconfigured proxy passing the client's text): REMOTE_ADDR.
                # Stored as is, it would be a 500 on PostgreSQL (inet) at every sign-in failure.
                return str(ipaddress.ip_address(forwarded[-1].split("%", 1)[0]))
            except ValueError:
                pass
    return request.META.get("REMOTE_ADDR")


@dataclass(frozen=True)
class Ctx:
    """Who is acting, and through which door (for the audit log)."""

    user: User
    via: str = "web"
    ip: str | None = None

    @classmethod
    def from_request(cls, request, via: str = "web") -> "Ctx":
        return cls(user=request.user, via=via, ip=client_ip(request))


def _require(ctx: Ctx, brand: Brand, permission: str) -> None:
    if not has_perm(ctx.user, brand, permission):
        raise PermissionDenied(_("You do not have permission to do that for this brand."))


def _log(ctx: Ctx, action: str, **kw):
    return audit.record(ctx.user, action, via=ctx.via, ip=ctx.ip, **kw)


BRAND_FIELDS = ("name", "timezone", "language", "tone", "banned_words", "required_hashtags", "signature",
                "primary_color", "accent_color")


def _clean_list(values) -> list[str]:
    if isinstance(values, str):
        values = values.replace("\n", ",").split(",")
    seen, out = set(), []
    for v in values or []:
        v = str(v).strip()
        if v and v.lower() not in seen:
            seen.add(v.lower())
            out.append(v[:100])
    return out


def _clean_hashtags(values) -> list[str]:
    return ["#" + h.lstrip("#") for h in _clean_list(values)]


# --- Organisations and brands ------------------------------------------------------------

@transaction.atomic
def do_create_organization(ctx: Ctx, name: str) -> Organization:
    org = Organization.objects.create(name=name.strip()[:120])
    OrganizationMember.objects.create(organization=org, user=ctx.user, is_admin=True)
    _log(ctx, "organization.create", organization=org, obj=org)
    return org


def can_create_brand(user, organization: Organization) -> bool:
    if not OrganizationMember.objects.filter(organization=organization, user=user, is_admin=True).exists():
        return False
    token = getattr(user, "api_token", None)
    if token is not None:
        # An API token acts only where it was granted write access: it may add brands to a
        # workspace only if it can already write to one of that workspace's brands.
        return TokenGrant.objects.filter(
            token=token, brand__organization=organization, scope=TokenGrant.Scope.WRITE
        ).exists()
    return True


def organizations_for(user):
    return Organization.objects.filter(members__user=user).distinct()


@transaction.atomic
def do_create_brand(ctx: Ctx, organization: Organization, **fields) -> Brand:
    if not can_create_brand(ctx.user, organization):
        raise PermissionDenied(_("Only workspace administrators can create brands."))
    brand = Brand(organization=organization)
    _apply_brand_fields(brand, fields)
    _check_name_free(brand)
    brand.full_clean()
    brand.save()
    Membership.objects.create(brand=brand, user=ctx.user, role=roles.Role.OWNER)
    token = getattr(ctx.user, "api_token", None)
    if token is not None:
        # The token that created the brand can go on to set it up (accounts, members…).
        TokenGrant.objects.create(token=token, brand=brand, scope=TokenGrant.Scope.WRITE)
    _log(ctx, "brand.create", brand=brand, obj=brand,
         changes=audit.diff({}, audit.snapshot(brand, BRAND_FIELDS)))
    return brand


def _apply_brand_fields(brand: Brand, fields: dict) -> None:
    for key, value in fields.items():
        if key not in BRAND_FIELDS:
            raise ValidationError({key: _("Unknown field.")})
        if key == "banned_words":
            value = _clean_list(value)
        elif key == "required_hashtags":
            value = _clean_hashtags(value)
        elif isinstance(value, str):
            value = value.strip()
        setattr(brand, key, value)


def _check_name_free(brand: Brand) -> None:
    """A deleted brand keeps its name until it is purged (it can be restored): say so, rather
    than fail on the unique constraint (whose check sees only the brands not deleted)."""
    deleted = (Brand.all_objects.filter(organization_id=brand.organization_id, name=brand.name,
                                        deleted_at__isnull=False).exclude(pk=brand.pk).first())
    if deleted is not None:
        raise ValidationError({"name": _("A deleted brand of this workspace uses this name until it is purged on "
                                         "%(date)s: restore it from “Deleted brands”, or choose another name.")
                               % {"date": date_format(timezone.localtime(deleted.purge_at, deleted.tzinfo),
                                                      "DATE_FORMAT")}})


@transaction.atomic
def do_update_brand(ctx: Ctx, brand: Brand, **fields) -> Brand:
    _require(ctx, brand, roles.MANAGE_BRAND)
    before = audit.snapshot(brand, BRAND_FIELDS)
    _apply_brand_fields(brand, fields)
    _check_name_free(brand)
    brand.full_clean()
    brand.save()
    changes = audit.diff(before, audit.snapshot(brand, BRAND_FIELDS))
    if changes:
        _log(ctx, "brand.update", brand=brand, obj=brand, changes=changes)
    return brand


def do_delete_brand(ctx: Ctx, brand: Brand) -> Brand:
    """Soft delete with a grace period (tertulia/core/brand_lifecycle.py): the brand vanishes from
    every page, route and worker at once and is purged for good after
    ``BRAND_DELETE_GRACE_DAYS``; until then its owner or a workspace administrator can restore it."""
    from .brand_lifecycle import do_delete_brand as soft_delete

    return soft_delete(ctx, brand)


# --- Knowledge base --------------------------------------------------------------------

KNOWLEDGE_FIELDS = ("kind", "title", "answer", "department", "contact", "keywords")


@transaction.atomic
def do_save_knowledge(ctx: Ctx, brand: Brand, entry: KnowledgeEntry | None = None, **fields) -> KnowledgeEntry:
    _require(ctx, brand, roles.MANAGE_BRAND)
    if entry is not None and entry.brand_id != brand.pk:
        raise PermissionDenied
    entry = entry or KnowledgeEntry(brand=brand)
    before = audit.snapshot(entry, KNOWLEDGE_FIELDS) if entry.pk else {}
    for key, value in fields.items():
        if key not in KNOWLEDGE_FIELDS:
            raise ValidationError({key: _("Unknown field.")})
        setattr(entry, key, _clean_list(value) if key == "keywords" else value)
    entry.full_clean()
    created = entry.pk is None
    entry.save()
    _log(ctx, "knowledge.create" if created else "knowledge.update", brand=brand, obj=entry,
         changes=audit.diff(before, audit.snapshot(entry, KNOWLEDGE_FIELDS)))
    return entry


@transaction.atomic
def do_delete_knowledge(ctx: Ctx, entry: KnowledgeEntry) -> None:
    _require(ctx, entry.brand, roles.MANAGE_BRAND)
    _log(ctx, "knowledge.delete", brand=entry.brand, obj=entry)
    entry.delete()


# --- Members and invitations -----------------------------------------------------------

def _check_grant(ctx: Ctx, brand: Brand, role: str) -> None:
    _require(ctx, brand, roles.MANAGE_MEMBERS)
    if role not in roles.Role.values:
        raise ValidationError({"role": _("Unknown role.")})
    if not roles.can_grant(role_in(ctx.user, brand), role):
        raise PermissionDenied(_("Only owners can make someone an owner."))


def _owners(brand: Brand) -> int:
    """How many owners the brand has, with their rows locked until the transaction ends: two
    owners demoting each other at once must not leave the brand with none (PostgreSQL)."""
    return len(Membership.objects.select_for_update().filter(brand=brand, role=roles.Role.OWNER).values_list("pk", flat=True))


@transaction.atomic
def do_add_member(ctx: Ctx, brand: Brand, user: User, role: str) -> Membership:
    """Add an existing user directly (the API and the demo use this; people get invitations)."""
    _check_grant(ctx, brand, role)
    membership, created = Membership.objects.get_or_create(brand=brand, user=user, defaults={"role": role})
    if not created:
        raise ValidationError(_("%(user)s is already a member of this brand.") % {"user": user})
    OrganizationMember.objects.get_or_create(organization=brand.organization, user=user)
    _log(ctx, "member.add", brand=brand, obj=membership, changes={"user": user.email, "role": role})
    return membership


@transaction.atomic
def do_change_role(ctx: Ctx, membership: Membership, role: str) -> Membership:
    brand = membership.brand
    _check_grant(ctx, brand, role)
    if membership.role == roles.Role.OWNER and not roles.can_grant(role_in(ctx.user, brand), roles.Role.OWNER):
        raise PermissionDenied(_("Only owners can change an owner's role."))
    if membership.role == roles.Role.OWNER and role != roles.Role.OWNER and _owners(brand) <= 1:
        raise ValidationError(_("A brand needs at least one owner. Make someone else owner first."))
    old = membership.role
    membership.role = role
    membership.save(update_fields=["role"])
    _log(ctx, "member.role", brand=brand, obj=membership, changes={"role": [old, role]})
    return membership


@transaction.atomic
def do_remove_member(ctx: Ctx, membership: Membership) -> None:
    brand = membership.brand
    _require(ctx, brand, roles.MANAGE_MEMBERS)
    if membership.role == roles.Role.OWNER:
        if not roles.can_grant(role_in(ctx.user, brand), roles.Role.OWNER):
            raise PermissionDenied(_("Only owners can remove an owner."))
        if _owners(brand) <= 1:
            raise ValidationError(_("A brand needs at least one owner. Make someone else owner first."))
    _log(ctx, "member.remove", brand=brand, obj=membership, changes={"user": membership.user.email})
    membership.delete()


@transaction.atomic
def do_invite(ctx: Ctx, brand: Brand, email: str, role: str, language: str | None = None) -> Invitation:
    """Create an invitation and e-mail its link. The e-mail goes out after commit."""
    _check_grant(ctx, brand, role)
    email = User.objects.normalize_email(email.strip()).lower()
    if Membership.objects.filter(brand=brand, user__email__iexact=email).exists():
        raise ValidationError(_("%(email)s is already a member of this brand.") % {"email": email})
    raw, token_hash = Invitation.new_token()
    inv = Invitation.objects.create(
        brand=brand, email=email, role=role, token_hash=token_hash, invited_by=ctx.user,
        expires_at=timezone.now() + timedelta(days=settings.INVITATION_TTL_DAYS),
    )
    _log(ctx, "invitation.create", brand=brand, obj=inv, changes={"email": email, "role": role})
    lang = language or brand.language
    from .tasks import send_invitation_email as task

    # Queued only after commit, so the worker always finds the row.
    transaction.on_commit(lambda: task(inv.pk, raw, lang))
    return inv


def send_invitation_email(inv: Invitation, raw_token: str, language: str) -> None:
    from django.urls import reverse

    url = settings.SITE_URL + reverse("invitation_accept", args=[raw_token])
    with translation.override(language):
        context = {
            "inv": inv, "url": url, "brand": inv.brand, "inviter": inv.invited_by,
            "role": roles.Role(inv.role).label, "days": settings.INVITATION_TTL_DAYS,
        }
        subject = _("You are invited to manage %(brand)s on Tertulia") % {"brand": inv.brand.name}
        text = render_to_string("core/email/invitation.txt", context)
        html = render_to_string("core/email/invitation.html", context)
    msg = EmailMultiAlternatives(subject, text, settings.DEFAULT_FROM_EMAIL, [inv.email])
    msg.attach_alternative(html, "text/html")
    msg.send()


@transaction.atomic
def do_revoke_invitation(ctx: Ctx, inv: Invitation) -> None:
    _require(ctx, inv.brand, roles.MANAGE_MEMBERS)
    if inv.accepted_at is not None:
        raise ValidationError(_("This invitation has already been accepted; remove the member instead."))
    if inv.revoked_at is not None:
        return
    inv.revoked_at = timezone.now()
    inv.save(update_fields=["revoked_at"])
    _log(ctx, "invitation.revoke", brand=inv.brand, obj=inv, changes={"email": inv.email})


@transaction.atomic
def do_accept_invitation(user: User, raw_token: str, via: str = "web", ip: str | None = None) -> Membership:
    inv = Invitation.find_open(raw_token)
    if inv is None:
        raise ValidationError(_("This invitation is no longer valid. Ask for a new one."))
    # Lock the row: two clicks on the link must not create two memberships.
    inv = Invitation.objects.select_for_update().get(pk=inv.pk)
    if not inv.is_open:
        raise ValidationError(_("This invitation is no longer valid. Ask for a new one."))
    if user.email.lower() != inv.email.lower():
        raise PermissionDenied(
            _("This invitation was sent to %(email)s. Sign in with that address to accept it.") % {"email": inv.email}
        )
    membership, created = Membership.objects.get_or_create(brand=inv.brand, user=user, defaults={"role": inv.role})
    OrganizationMember.objects.get_or_create(organization=inv.brand.organization, user=user)
    inv.accepted_at = timezone.now()
    inv.accepted_by = user
    inv.save(update_fields=["accepted_at", "accepted_by"])
    audit.record(user, "invitation.accept", brand=inv.brand, obj=membership, via=via, ip=ip,
                 changes={"role": membership.role})
    return membership


# --- Personal access tokens ------------------------------------------------------------

@transaction.atomic
def do_create_token(ctx: Ctx, name: str, grants: dict[int, str], expires_at=None) -> tuple[PersonalAccessToken, str]:
    """Create a token; returns it and the raw secret, which is shown once and never stored."""
    if not grants:
        raise ValidationError(_("Choose at least one brand for this token."))
    raw = PersonalAccessToken.new_raw()
    token = PersonalAccessToken.objects.create(
        user=ctx.user, name=name.strip()[:100] or _("API token"), token_hash=PersonalAccessToken.hash(raw),
        hint=raw[:8], expires_at=expires_at,
    )
    allowed = set(brands_for(ctx.user).filter(pk__in=grants.keys()).values_list("pk", flat=True))
    for brand_id, scope in grants.items():
        if int(brand_id) not in allowed:
            raise PermissionDenied(_("You can only grant access to brands you belong to."))
        if scope not in TokenGrant.Scope.values:
            raise ValidationError({"scope": _("Unknown scope.")})
        TokenGrant.objects.create(token=token, brand_id=brand_id, scope=scope)
        _log(ctx, "token.create", brand=Brand.objects.get(pk=brand_id), obj=token,
             changes={"name": token.name, "scope": scope})
    return token, raw


@transaction.atomic
def do_revoke_token(ctx: Ctx, token: PersonalAccessToken) -> None:
    if token.user_id != ctx.user.pk:
        raise PermissionDenied
    token.revoked_at = timezone.now()
    token.save(update_fields=["revoked_at"])
    for grant in token.grants.select_related("brand"):
        _log(ctx, "token.revoke", brand=grant.brand, obj=token)


def authenticate_token(raw: str) -> User | None:
    """The user behind a raw token, with ``user.api_token`` set so scoping narrows to its grants."""
    if not raw or not raw.startswith(PersonalAccessToken.PREFIX):
        return None
    token = PersonalAccessToken.objects.filter(token_hash=PersonalAccessToken.hash(raw)).select_related("user").first()
    if token is None or not token.is_active or not token.user.is_active:
        return None
    now = timezone.now()
    if token.last_used_at is None or now - token.last_used_at > timedelta(minutes=1):
        PersonalAccessToken.objects.filter(pk=token.pk).update(last_used_at=now)
    user = token.user
    user.api_token = token
    return user


# --- User preferences ------------------------------------------------------------------

def do_update_preferences(ctx: Ctx, language: str | None = None, tz: str | None = None) -> User:
    user = ctx.user
    if language is not None:
        if language not in dict(settings.LANGUAGES):
            raise ValidationError({"language": _("Unknown language.")})
        user.language = language
    if tz is not None:
        user.timezone = tz
    user.full_clean(exclude=["password"])
    user.save(update_fields=["language", "timezone"])
    return user
