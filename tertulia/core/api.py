"""API routes for the foundation: the caller, brands, social accounts, members, invitations,
the knowledge base and the audit log.

Handlers are thin. Each one resolves the brand with ``scoping.get_brand`` (404 for a brand
the caller cannot see, 403 for a role or a token scope without the permission), reaches rows
only through ``Model.objects.for_user(user, permission)``, and leaves every write to the
services, which check permissions again and record the change in the audit log with
``via="api"``. Secrets (network tokens) are accepted on create and never returned.
"""

from datetime import datetime
from enum import Enum
from typing import Annotated, Any, Literal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db.models import Q
from django.http import Http404, HttpResponse
from django.utils import timezone
from django.utils.translation import gettext as _
from ninja import Field, File, Query, Router, Schema, Status
from ninja.files import UploadedFile
from ninja.pagination import LimitOffsetPagination, paginate
from pydantic import AfterValidator, ConfigDict, StringConstraints, field_validator
from pydantic_core import PydanticCustomError

from tertulia.networks import services as account_services
from tertulia.networks.models import Network, SocialAccount

from . import roles, services
from .models import AuditEvent, Brand, Invitation, KnowledgeEntry, Membership, User
from .scoping import brands_for, get_brand, permissions_in, role_in
from .services import Ctx

router = Router()

MAX_PAGE = 200  # the largest ``limit`` a list accepts; larger values are clamped to it


class Pagination(LimitOffsetPagination):
    """ninja's limit/offset, with an offset the databases can hold (a huge one was a 500)."""

    class Input(LimitOffsetPagination.Input):
        offset: int = Field(0, ge=0, le=10**9)


def _ctx(request) -> Ctx:
    return Ctx.from_request(request, via="api")


def _one(queryset, **lookup):
    """The row, or 404: rows of another brand, or of one the caller cannot reach, do not exist."""
    obj = queryset.filter(**lookup).first()
    if obj is None:
        raise Http404
    return obj


# --- Schemas ------------------------------------------------------------------------------

def _no_nul(value: str) -> str:
    # PostgreSQL cannot store NUL characters; refuse them here rather than fail later.
    if "\x00" in value:
        raise PydanticCustomError("nul_character", _("Null characters are not allowed."))
    return value


def Text(max_length: int, min_length: int = 0):  # noqa: N802 (reads as a type)
    return Annotated[
        str,
        StringConstraints(strip_whitespace=True, min_length=min_length, max_length=max_length),
        AfterValidator(_no_nul),
    ]


Word = Text(100)
Colour = Annotated[str, StringConstraints(strip_whitespace=True, pattern=r"^#[0-9a-fA-F]{6}$"), AfterValidator(str.lower)]


class Error(Schema):
    detail: str


class FieldErrors(Schema):
    detail: str
    errors: dict[str, list[str]]


class In(Schema):
    """Request bodies: unknown fields are refused, not ignored."""

    model_config = ConfigDict(extra="forbid")


class Patch(In):
    """PATCH bodies: send only the fields to change; ``null`` is refused."""

    @field_validator("*", mode="before")
    @classmethod
    def _not_null(cls, value):
        if value is None:
            raise PydanticCustomError("null", _("This field cannot be null; leave it out to keep its value."))
        return value


def _values(payload: In, exclude: set[str] | None = None) -> dict[str, Any]:
    """The fields the client sent, with choices as plain strings, for a service's ``**fields``."""
    data = payload.dict(exclude_unset=True, exclude=exclude)
    return {k: (v.value if isinstance(v, Enum) else v) for k, v in data.items()}


def _responses(ok: int, schema) -> dict:
    return {ok: schema, 401: Error, 403: Error, 404: Error, 422: FieldErrors}


def _email(value: str) -> str:
    try:
        validate_email(value)
    except ValidationError:
        raise PydanticCustomError("email", _("Enter a valid e-mail address.")) from None
    return value


Email = Annotated[Text(254, 3), AfterValidator(_email)]


# --- Me -----------------------------------------------------------------------------------

class MyBrand(Schema):
    id: int
    name: str
    organization_id: int
    organization: str
    role: str | None
    permissions: list[str]


class MeOut(Schema):
    id: int
    username: str
    email: str
    first_name: str
    last_name: str
    language: str
    timezone: str
    brands: list[MyBrand]


def _brand_access(user, brand: Brand) -> dict:
    return {"role": role_in(user, brand), "permissions": sorted(permissions_in(user, brand))}


@router.get("/me", response=_responses(200, MeOut), tags=["me"], summary="The caller and their brands")
def me(request):
    user = request.user
    brands = brands_for(user).select_related("organization").order_by("organization__name", "name")
    return {
        "id": user.pk, "username": user.get_username(), "email": user.email,
        "first_name": user.first_name, "last_name": user.last_name,
        "language": user.language, "timezone": user.timezone,
        "brands": [
            {"id": b.pk, "name": b.name, "organization_id": b.organization_id,
             "organization": b.organization.name, **_brand_access(user, b)}
            for b in brands
        ],
    }


# --- Brands -------------------------------------------------------------------------------

class BrandOut(Schema):
    id: int
    organization_id: int
    name: str
    timezone: str
    language: str
    tone: str
    banned_words: list[str]
    required_hashtags: list[str]
    signature: str
    primary_color: str  # the reports' branding: two colours and a logo
    accent_color: str
    has_logo: bool
    created_at: datetime
    role: str | None = None
    permissions: list[str] = []

    @staticmethod
    def resolve_has_logo(obj):
        return bool(obj.logo)

    @staticmethod
    def resolve_role(obj, context):
        return role_in(context["request"].user, obj)

    @staticmethod
    def resolve_permissions(obj, context):
        return sorted(permissions_in(context["request"].user, obj))


class BrandFields(In):
    timezone: Text(64, 1) = None
    language: Text(8, 1) = None
    tone: Text(4000) = None
    banned_words: list[Word] = Field(None, max_length=200)
    required_hashtags: list[Word] = Field(None, max_length=50)
    signature: Text(200) = None
    primary_color: Colour = None
    accent_color: Colour = None


class BrandCreate(BrandFields):
    organization_id: int
    name: Text(120, 1)


class BrandPatch(BrandFields, Patch):
    name: Text(120, 1) = None


@router.get("/brands", response=_responses(200, list[BrandOut]), tags=["brands"])
@paginate(Pagination, max_limit=MAX_PAGE)
def brand_list(request):
    """The brands the caller belongs to (and, with a token, that the token was granted)."""
    return brands_for(request.user).order_by("name", "pk")


@router.post("/brands", response=_responses(201, BrandOut), tags=["brands"])
def brand_create(request, payload: BrandCreate):
    """Create a brand in a workspace where the caller is an administrator."""
    org = services.organizations_for(request.user).filter(pk=payload.organization_id).first()
    if org is None:
        raise Http404
    return Status(201, services.do_create_brand(_ctx(request), org, **_values(payload, exclude={"organization_id"})))


@router.get("/brands/{brand_id}", response=_responses(200, BrandOut), tags=["brands"])
def brand_get(request, brand_id: int):
    return get_brand(request.user, brand_id)


@router.patch("/brands/{brand_id}", response=_responses(200, BrandOut), tags=["brands"])
def brand_update(request, brand_id: int, payload: BrandPatch):
    brand = get_brand(request.user, brand_id, roles.MANAGE_BRAND)
    return services.do_update_brand(_ctx(request), brand, **_values(payload))


@router.post("/brands/{brand_id}/logo", response=_responses(200, BrandOut), tags=["brands"])
def brand_logo_set(request, brand_id: int, file: File[UploadedFile]):
    """The reports' logo (multipart): PNG, JPEG or WebP up to 2 MB, re-encoded without metadata
    and scaled to fit 600×200."""
    from tertulia.reports import branding

    brand = get_brand(request.user, brand_id, roles.MANAGE_BRAND)
    return branding.do_set_brand_logo(_ctx(request), brand, branding.process_logo(file))


_BINARY = {"schema": {"type": "string", "format": "binary"}}


@router.get("/brands/{brand_id}/logo", tags=["brands"], response={401: Error, 403: Error, 404: Error},
            openapi_extra={"responses": {200: {"description": "The reports' logo.", "content": {
                "image/png": _BINARY, "image/jpeg": _BINARY, "image/webp": _BINARY}}}})
def brand_logo_get(request, brand_id: int):
    brand = get_brand(request.user, brand_id)
    if not brand.logo:
        raise Http404
    content_type = {"png": "image/png", "jpg": "image/jpeg", "webp": "image/webp"}[brand.logo.name.rsplit(".", 1)[-1]]
    with brand.logo.open("rb") as fh:
        return HttpResponse(fh.read(), content_type=content_type)


@router.delete("/brands/{brand_id}/logo", response=_responses(200, BrandOut), tags=["brands"])
def brand_logo_remove(request, brand_id: int):
    from tertulia.reports import branding

    brand = get_brand(request.user, brand_id, roles.MANAGE_BRAND)
    return branding.do_remove_brand_logo(_ctx(request), brand)


@router.delete("/brands/{brand_id}", response=_responses(204, None), tags=["brands"])
def brand_delete(request, brand_id: int):
    brand = get_brand(request.user, brand_id, roles.DELETE_BRAND)
    services.do_delete_brand(_ctx(request), brand)
    return Status(204, None)


# --- Social accounts ----------------------------------------------------------------------

class AccountOut(Schema):
    """A social account. Its access and refresh tokens are never part of it."""

    id: int
    brand_id: int
    network: str
    handle: str
    display_name: str
    base_url: str
    external_id: str
    status: str
    status_reason: str
    token_expires_at: datetime | None
    has_credentials: bool
    created_at: datetime

    @staticmethod
    def resolve_has_credentials(obj):
        return bool(obj.access_token)


class AccountFields(In):
    display_name: Text(200) = None
    base_url: Text(200) = None
    external_id: Text(200) = None
    status: SocialAccount.Status = None


class AccountCreate(AccountFields):
    network: Network
    handle: Text(200, 1)
    access_token: Text(8000) = Field(None, description="Write-only: stored encrypted, never returned.")
    refresh_token: Text(8000) = Field(None, description="Write-only: stored encrypted, never returned.")


class AccountPatch(AccountFields, Patch):
    handle: Text(200, 1) = None


@router.get("/brands/{brand_id}/accounts", response=_responses(200, list[AccountOut]), tags=["accounts"])
@paginate(Pagination, max_limit=MAX_PAGE)
def account_list(request, brand_id: int):
    brand = get_brand(request.user, brand_id)
    return SocialAccount.objects.for_user(request.user).filter(brand=brand).order_by("network", "handle", "pk")


@router.post("/brands/{brand_id}/accounts", response=_responses(201, AccountOut), tags=["accounts"])
def account_create(request, brand_id: int, payload: AccountCreate):
    brand = get_brand(request.user, brand_id, roles.MANAGE_ACCOUNTS)
    return Status(201, account_services.do_add_account(_ctx(request), brand, **_values(payload)))


@router.get("/brands/{brand_id}/accounts/{account_id}", response=_responses(200, AccountOut), tags=["accounts"])
def account_get(request, brand_id: int, account_id: int):
    brand = get_brand(request.user, brand_id)
    return _one(SocialAccount.objects.for_user(request.user), pk=account_id, brand=brand)


@router.patch("/brands/{brand_id}/accounts/{account_id}", response=_responses(200, AccountOut), tags=["accounts"])
def account_update(request, brand_id: int, account_id: int, payload: AccountPatch):
    brand = get_brand(request.user, brand_id, roles.MANAGE_ACCOUNTS)
    account = _one(SocialAccount.objects.for_user(request.user, roles.MANAGE_ACCOUNTS), pk=account_id, brand=brand)
    return account_services.do_update_account(_ctx(request), account, **_values(payload))


@router.delete("/brands/{brand_id}/accounts/{account_id}", response=_responses(204, None), tags=["accounts"])
def account_delete(request, brand_id: int, account_id: int):
    brand = get_brand(request.user, brand_id, roles.MANAGE_ACCOUNTS)
    account = _one(SocialAccount.objects.for_user(request.user, roles.MANAGE_ACCOUNTS), pk=account_id, brand=brand)
    account_services.do_remove_account(_ctx(request), account)
    return Status(204, None)


# --- Members ------------------------------------------------------------------------------

class MemberOut(Schema):
    id: int
    user_id: int
    username: str
    email: str
    full_name: str
    role: str
    created_at: datetime

    @staticmethod
    def resolve_username(obj):
        return obj.user.get_username()

    @staticmethod
    def resolve_email(obj):
        return obj.user.email

    @staticmethod
    def resolve_full_name(obj):
        return obj.user.get_full_name()


class MemberAdd(In):
    email: Email
    role: roles.Role


class MemberPatch(In):
    role: roles.Role


def _membership(request, brand: Brand, member_id: int) -> Membership:
    qs = Membership.objects.for_user(request.user, roles.MANAGE_MEMBERS).select_related("user", "brand")
    return _one(qs, pk=member_id, brand=brand)


@router.get("/brands/{brand_id}/members", response=_responses(200, list[MemberOut]), tags=["members"])
@paginate(Pagination, max_limit=MAX_PAGE)
def member_list(request, brand_id: int):
    brand = get_brand(request.user, brand_id)
    return (Membership.objects.for_user(request.user).filter(brand=brand).select_related("user")
            .order_by("user__username", "pk"))


@router.post("/brands/{brand_id}/members", response=_responses(201, MemberOut), tags=["members"])
def member_add(request, brand_id: int, payload: MemberAdd):
    """Add someone who is already in the brand's workspace. Everyone else gets an invitation."""
    brand = get_brand(request.user, brand_id, roles.MANAGE_MEMBERS)
    # Only people already in this brand's workspace: adding a user from elsewhere without
    # their consent, or learning whether an address has an account, is what invitations avoid.
    user = User.objects.filter(email__iexact=payload.email, is_active=True,
                               org_memberships__organization=brand.organization).first()
    if user is None:
        raise ValidationError({"email": [_(
            "This person is not in this workspace yet. Send them an invitation instead "
            "(POST /api/v1/brands/%(brand_id)s/invitations)."
        ) % {"brand_id": brand.pk}]})
    return Status(201, services.do_add_member(_ctx(request), brand, user, payload.role.value))


@router.patch("/brands/{brand_id}/members/{member_id}", response=_responses(200, MemberOut), tags=["members"])
def member_update(request, brand_id: int, member_id: int, payload: MemberPatch):
    brand = get_brand(request.user, brand_id, roles.MANAGE_MEMBERS)
    membership = _membership(request, brand, member_id)
    return services.do_change_role(_ctx(request), membership, payload.role.value)


@router.delete("/brands/{brand_id}/members/{member_id}", response=_responses(204, None), tags=["members"])
def member_remove(request, brand_id: int, member_id: int):
    brand = get_brand(request.user, brand_id, roles.MANAGE_MEMBERS)
    services.do_remove_member(_ctx(request), _membership(request, brand, member_id))
    return Status(204, None)


# --- Invitations --------------------------------------------------------------------------

class InvitationOut(Schema):
    """An invitation. Its link's token is e-mailed to the invitee and never returned."""

    id: int
    email: str
    role: str
    status: Literal["open", "accepted", "revoked", "expired"]
    invited_by: str | None
    created_at: datetime
    expires_at: datetime
    accepted_at: datetime | None
    revoked_at: datetime | None

    @staticmethod
    def resolve_status(obj):
        if obj.accepted_at is not None:
            return "accepted"
        if obj.revoked_at is not None:
            return "revoked"
        return "open" if obj.expires_at > timezone.now() else "expired"

    @staticmethod
    def resolve_invited_by(obj):
        return obj.invited_by.get_username() if obj.invited_by else None


class InvitationCreate(In):
    email: Email
    role: roles.Role
    language: Literal[tuple(code for code, _name in settings.LANGUAGES)] = Field(  # type: ignore[misc]
        None, description="The e-mail's language; the brand's language if left out."
    )


class InvitationFilter(Schema):
    include_closed: bool = Field(False, description="Also list accepted, revoked and expired invitations.")


@router.get("/brands/{brand_id}/invitations", response=_responses(200, list[InvitationOut]), tags=["members"])
@paginate(Pagination, max_limit=MAX_PAGE)
def invitation_list(request, brand_id: int, filters: Query[InvitationFilter]):
    brand = get_brand(request.user, brand_id, roles.MANAGE_MEMBERS)
    qs = Invitation.objects.for_user(request.user, roles.MANAGE_MEMBERS).filter(brand=brand).select_related("invited_by")
    if not filters.include_closed:
        qs = qs.filter(accepted_at=None, revoked_at=None, expires_at__gt=timezone.now())
    return qs.order_by("-created_at", "-pk")


@router.post("/brands/{brand_id}/invitations", response=_responses(201, InvitationOut), tags=["members"])
def invitation_create(request, brand_id: int, payload: InvitationCreate):
    """Invite someone by e-mail; they get a link that is valid for a limited time."""
    brand = get_brand(request.user, brand_id, roles.MANAGE_MEMBERS)
    inv = services.do_invite(_ctx(request), brand, payload.email, payload.role.value, language=payload.language)
    return Status(201, inv)


@router.delete("/brands/{brand_id}/invitations/{invitation_id}", response=_responses(204, None), tags=["members"])
def invitation_revoke(request, brand_id: int, invitation_id: int):
    brand = get_brand(request.user, brand_id, roles.MANAGE_MEMBERS)
    inv = _one(Invitation.objects.for_user(request.user, roles.MANAGE_MEMBERS).select_related("brand"),
               pk=invitation_id, brand=brand)
    services.do_revoke_invitation(_ctx(request), inv)
    return Status(204, None)


# --- Knowledge base -----------------------------------------------------------------------

class KnowledgeOut(Schema):
    id: int
    brand_id: int
    kind: str
    title: str
    answer: str
    department: str
    contact: str
    keywords: list[str]
    updated_at: datetime


class KnowledgeFields(In):
    kind: KnowledgeEntry.Kind = None
    department: Text(120) = None
    contact: Text(200) = None
    keywords: list[Word] = Field(None, max_length=50)


class KnowledgeCreate(KnowledgeFields):
    title: Text(200, 1)
    answer: Text(5000, 1)


class KnowledgePatch(KnowledgeFields, Patch):
    title: Text(200, 1) = None
    answer: Text(5000, 1) = None


class KnowledgeFilter(Schema):
    kind: KnowledgeEntry.Kind | None = None
    q: Text(100) | None = Field(None, description="Words in the title or the answer.")


@router.get("/brands/{brand_id}/knowledge", response=_responses(200, list[KnowledgeOut]), tags=["knowledge"])
@paginate(Pagination, max_limit=MAX_PAGE)
def knowledge_list(request, brand_id: int, filters: Query[KnowledgeFilter]):
    brand = get_brand(request.user, brand_id)
    qs = KnowledgeEntry.objects.for_user(request.user).filter(brand=brand)
    if filters.kind:
        qs = qs.filter(kind=filters.kind.value)
    if filters.q:
        qs = qs.filter(Q(title__icontains=filters.q) | Q(answer__icontains=filters.q))
    return qs.order_by("kind", "title", "pk")


@router.post("/brands/{brand_id}/knowledge", response=_responses(201, KnowledgeOut), tags=["knowledge"])
def knowledge_create(request, brand_id: int, payload: KnowledgeCreate):
    brand = get_brand(request.user, brand_id, roles.MANAGE_BRAND)
    return Status(201, services.do_save_knowledge(_ctx(request), brand, None, **_values(payload)))


@router.get("/brands/{brand_id}/knowledge/{entry_id}", response=_responses(200, KnowledgeOut), tags=["knowledge"])
def knowledge_get(request, brand_id: int, entry_id: int):
    brand = get_brand(request.user, brand_id)
    return _one(KnowledgeEntry.objects.for_user(request.user), pk=entry_id, brand=brand)


@router.patch("/brands/{brand_id}/knowledge/{entry_id}", response=_responses(200, KnowledgeOut), tags=["knowledge"])
def knowledge_update(request, brand_id: int, entry_id: int, payload: KnowledgePatch):
    brand = get_brand(request.user, brand_id, roles.MANAGE_BRAND)
    entry = _one(KnowledgeEntry.objects.for_user(request.user, roles.MANAGE_BRAND), pk=entry_id, brand=brand)
    return services.do_save_knowledge(_ctx(request), brand, entry, **_values(payload))


@router.delete("/brands/{brand_id}/knowledge/{entry_id}", response=_responses(204, None), tags=["knowledge"])
def knowledge_delete(request, brand_id: int, entry_id: int):
    brand = get_brand(request.user, brand_id, roles.MANAGE_BRAND)
    entry = _one(KnowledgeEntry.objects.for_user(request.user, roles.MANAGE_BRAND).select_related("brand"),
                 pk=entry_id, brand=brand)
    services.do_delete_knowledge(_ctx(request), entry)
    return Status(204, None)


# --- Audit log ----------------------------------------------------------------------------

class AuditOut(Schema):
    id: int
    created_at: datetime
    actor_name: str
    action: str
    object_type: str
    object_id: str
    object_repr: str
    changes: dict[str, Any]
    via: str
    ip: str | None


class AuditFilter(Schema):
    action: Text(64) | None = Field(None, description="Only actions that start with this, e.g. “member” or “brand.update”.")


@router.get("/brands/{brand_id}/audit", response=_responses(200, list[AuditOut]), tags=["audit"])
@paginate(Pagination, max_limit=MAX_PAGE)
def audit_list(request, brand_id: int, filters: Query[AuditFilter]):
    """Who did what in this brand, newest first."""
    brand = get_brand(request.user, brand_id, roles.VIEW_AUDIT)
    qs = AuditEvent.objects.for_user(request.user, roles.VIEW_AUDIT).filter(brand=brand)
    if filters.action:
        qs = qs.filter(action__startswith=filters.action)
    return qs.order_by("-created_at", "-id")
