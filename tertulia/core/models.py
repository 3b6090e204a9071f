"""Workspaces, brands, people and their roles, invitations, tokens and the audit log."""

from __future__ import annotations

import hashlib
import re
import secrets
import zoneinfo

from django.conf import settings
from django.contrib.auth.models import AbstractUser
from django.core.exceptions import ValidationError
from django.db import models
from django.utils.timezone import now
from django.utils.translation import gettext_lazy as _

from .roles import Role


_TIMEZONES = frozenset(zoneinfo.available_timezones())  # reading tzdata is slow: once


def validate_timezone(value: str) -> None:
    if value not in _TIMEZONES:
        raise ValidationError(_("“%(value)s” is not a known time zone."), params={"value": value})


_HEX_COLOR = re.compile(r"#[0-9a-fA-F]{6}")


def validate_hex_color(value: str) -> None:
    if not isinstance(value, str) or not _HEX_COLOR.fullmatch(value):
        raise ValidationError(_("Enter a colour as #rrggbb, for example #2563eb."), code="invalid")


class User(AbstractUser):
    email = models.EmailField(_("e-mail"), unique=True)
    language = models.CharField(_("language"), max_length=8, choices=settings.LANGUAGES, default="es")
    timezone = models.CharField(
        _("time zone"), max_length=64, default="Europe/Madrid", validators=[validate_timezone]
    )

    def __str__(self) -> str:
        return self.get_full_name() or self.username


class Organization(models.Model):
    """A workspace: an agency, or a company with its own brands."""

    name = models.CharField(_("name"), max_length=120)
    # The workspace ``tertulia demo`` built: made-up accounts that must never be contacted, and
    # the only workspace ``tertulia demo --remove`` deletes (never one that merely shares its name).
    is_demo = models.BooleanField(default=False, editable=False)
    created_at = models.DateTimeField(default=now)

    class Meta:
        verbose_name = _("organisation")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class OrganizationMember(models.Model):
    """Who belongs to a workspace. Admins may create brands; brand access is per brand."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="members")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="org_memberships")
    is_admin = models.BooleanField(default=False)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["organization", "user"], name="uniq_org_member")]


class BrandManager(models.Manager):
    """Brands that are not deleted. A deleted brand (soft delete, ``do_delete_brand``) waits out
    its grace period invisible to every page, route, list and worker that starts from
    ``Brand.objects`` (the default manager, so also ``organization.brands`` and scoping);
    ``Brand.all_objects`` sees it, for restoring and purging only. Related objects still reach
    their brand (``post.brand`` uses the plain base manager)."""

    def get_queryset(self):
        return super().get_queryset().filter(deleted_at__isnull=True)


class Brand(models.Model):
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="brands")
    name = models.CharField(_("name"), max_length=120)
    timezone = models.CharField(_("time zone"), max_length=64, default="Europe/Madrid", validators=[validate_timezone])
    language = models.CharField(_("language"), max_length=8, choices=settings.LANGUAGES, default="es")
    # Guidelines
    tone = models.TextField(_("tone of voice"), blank=True, max_length=4000)
    banned_words = models.JSONField(_("banned words"), default=list, blank=True)
    required_hashtags = models.JSONField(_("required hashtags"), default=list, blank=True)
    signature = models.CharField(_("signature"), max_length=200, blank=True)
    # Nothing of this brand is published while paused; due posts wait and go out on resume.
    publishing_paused = models.BooleanField(_("publishing paused"), default=False)
    # Branding for reports: a logo (validated by content and re-encoded, fits 600×200) and two colours.
    logo = models.FileField(_("logo"), upload_to="brands/logos/", blank=True)
    primary_color = models.CharField(_("primary colour"), max_length=7, default="#1f3a5f",
                                     validators=[validate_hex_color])
    accent_color = models.CharField(_("accent colour"), max_length=7, default="#e07a1f",
                                    validators=[validate_hex_color])
    created_at = models.DateTimeField(default=now)
    # Soft delete: set by ``do_delete_brand``; the brand is purged for good once
    # ``settings.BRAND_DELETE_GRACE_DAYS`` have passed, and can be restored until then.
    deleted_at = models.DateTimeField(_("deleted at"), null=True, blank=True, editable=False)
    deleted_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True,
                                   editable=False, related_name="+")

    objects = BrandManager()
    all_objects = models.Manager()

    class Meta:
        verbose_name = _("brand")
        ordering = ["name"]
        constraints = [models.UniqueConstraint(fields=["organization", "name"], name="uniq_brand_name_per_org")]

    def __str__(self) -> str:
        return self.name

    @property
    def tzinfo(self) -> zoneinfo.ZoneInfo:
        return zoneinfo.ZoneInfo(self.timezone)

    @property
    def purge_at(self):
        """When a deleted brand is purged for good (None while it is not deleted)."""
        if self.deleted_at is None:
            return None
        from datetime import timedelta

        return self.deleted_at + timedelta(days=settings.BRAND_DELETE_GRACE_DAYS)


class BrandScopedQuerySet(models.QuerySet):
    """Every tenant row has a ``brand``; views reach rows only through ``for_user``."""

    def for_user(self, user, permission: str = "view"):
        from .scoping import brands_for

        return self.filter(brand__in=brands_for(user, permission))


class BrandScopedModel(models.Model):
    objects = BrandScopedQuerySet.as_manager()

    class Meta:
        abstract = True


class Membership(models.Model):
    brand = models.ForeignKey(Brand, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(_("role"), max_length=32, choices=Role.choices)
    created_at = models.DateTimeField(default=now)

    objects = BrandScopedQuerySet.as_manager()

    class Meta:
        verbose_name = _("member")
        constraints = [models.UniqueConstraint(fields=["brand", "user"], name="uniq_membership")]

    def __str__(self) -> str:
        return f"{self.user} @ {self.brand} ({self.role})"


class KnowledgeEntry(BrandScopedModel):
    """A canned answer the team can rely on: a product, a service, or where to refer people."""

    class Kind(models.TextChoices):
        PRODUCT = "product", _("Product")
        SERVICE = "service", _("Service")
        FAQ = "faq", _("Frequent question")
        DEPARTMENT = "department", _("Department to refer to")

    brand = models.ForeignKey(Brand, on_delete=models.CASCADE, related_name="knowledge")
    kind = models.CharField(_("kind"), max_length=16, choices=Kind.choices, default=Kind.FAQ)
    title = models.CharField(_("title"), max_length=200)
    answer = models.TextField(_("answer"), max_length=5000)
    department = models.CharField(_("department"), max_length=120, blank=True)
    contact = models.CharField(_("contact"), max_length=200, blank=True)
    keywords = models.JSONField(_("keywords"), default=list, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("knowledge entry")
        ordering = ["kind", "title"]

    def __str__(self) -> str:
        return self.title


def _hash_token(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


class Invitation(BrandScopedModel):
    brand = models.ForeignKey(Brand, on_delete=models.CASCADE, related_name="invitations")
    email = models.EmailField(_("e-mail"))
    role = models.CharField(_("role"), max_length=32, choices=Role.choices)
    token_hash = models.CharField(max_length=64, unique=True)
    invited_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+")
    created_at = models.DateTimeField(default=now)
    expires_at = models.DateTimeField()
    accepted_at = models.DateTimeField(null=True, blank=True)
    accepted_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("invitation")
        ordering = ["-created_at"]

    @staticmethod
    def new_token() -> tuple[str, str]:
        raw = secrets.token_urlsafe(32)
        return raw, _hash_token(raw)

    @classmethod
    def find_open(cls, raw: str) -> "Invitation | None":
        # Not for a deleted brand (in its grace period): nobody can join it.
        inv = cls.objects.filter(token_hash=_hash_token(raw), brand__deleted_at__isnull=True).select_related("brand").first()
        if inv and inv.is_open:
            return inv
        return None

    @property
    def is_open(self) -> bool:
        return self.accepted_at is None and self.revoked_at is None and self.expires_at > now()


class AuditEvent(models.Model):
    """Who did what, when, to which object. Append-only."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+", null=True)
    brand = models.ForeignKey(Brand, on_delete=models.SET_NULL, null=True, blank=True, related_name="audit_events")
    brand_name = models.CharField(max_length=120, blank=True)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+")
    actor_name = models.CharField(max_length=150, blank=True)
    action = models.CharField(max_length=64)
    object_type = models.CharField(max_length=64, blank=True)
    object_id = models.CharField(max_length=64, blank=True)
    object_repr = models.CharField(max_length=200, blank=True)
    changes = models.JSONField(default=dict, blank=True)
    ip = models.GenericIPAddressField(null=True, blank=True)
    via = models.CharField(max_length=16, default="web")  # web | api | cli | system
    created_at = models.DateTimeField(default=now, db_index=True)

    objects = BrandScopedQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["brand", "-created_at"])]


class PersonalAccessToken(models.Model):
    """An API token. Only a SHA-256 of it is stored; the user sees the token once."""

    PREFIX = "tta_"

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(_("name"), max_length=100)
    token_hash = models.CharField(max_length=64, unique=True)
    hint = models.CharField(max_length=12)  # first characters, to tell tokens apart
    created_at = models.DateTimeField(default=now)
    expires_at = models.DateTimeField(_("expires"), null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("personal access token")
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.name} ({self.hint}…)"

    @classmethod
    def new_raw(cls) -> str:
        return cls.PREFIX + secrets.token_urlsafe(32)

    @staticmethod
    def hash(raw: str) -> str:
        return _hash_token(raw)

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None and (self.expires_at is None or self.expires_at > now())


class TokenGrant(models.Model):
    """A token reaches a brand only through a grant, read or write."""

    class Scope(models.TextChoices):
        READ = "read", _("Read")
        WRITE = "write", _("Read and write")

    token = models.ForeignKey(PersonalAccessToken, on_delete=models.CASCADE, related_name="grants")
    brand = models.ForeignKey(Brand, on_delete=models.CASCADE, related_name="+")
    scope = models.CharField(max_length=8, choices=Scope.choices, default=Scope.READ)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["token", "brand"], name="uniq_token_brand")]


class LoginFailure(models.Model):
    """Failed sign-ins, for throttling. Rows older than the window are pruned on write."""

    username = models.CharField(max_length=150, db_index=True)
    ip = models.GenericIPAddressField(null=True, db_index=True)
    created_at = models.DateTimeField(default=now, db_index=True)


class Notification(models.Model):
    """An in-app notification for one user (and, where it matters, an e-mail).

    ``message`` is a list of [msgid, params] pairs rendered in the reader's language when shown
    (see ``core.notifications``), so the same row reads right in Spanish and in English."""

    recipient = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notifications")
    brand = models.ForeignKey(Brand, on_delete=models.CASCADE, null=True, blank=True, related_name="+")
    kind = models.CharField(max_length=40)
    message = models.JSONField(default=list)
    link = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(default=now, db_index=True)
    read_at = models.DateTimeField(null=True, blank=True)
    emailed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["recipient", "read_at"])]


class BrandExport(BrandScopedModel):
    """A brand's data as one zip (data portability), built by a background job. The file lives in
    the media storage under ``exports/`` and is handed out, until ``expires_at``, only to members
    who may manage the brand; then the file is removed."""

    class State(models.TextChoices):
        PENDING = "pending", _("Being prepared")
        READY = "ready", _("Ready")
        FAILED = "failed", _("Failed")
        EXPIRED = "expired", _("Expired")

    brand = models.ForeignKey(Brand, on_delete=models.CASCADE, related_name="exports")
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True,
                                     related_name="+")
    state = models.CharField(max_length=16, choices=State.choices, default=State.PENDING)
    file = models.CharField(max_length=300, blank=True)  # the storage name under exports/
    size = models.BigIntegerField(default=0)
    error = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(default=now)
    finished_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("brand export")
        ordering = ["-created_at", "-id"]

    @property
    def downloadable(self) -> bool:
        return self.state == self.State.READY and self.expires_at is not None and self.expires_at > now()
