"""Deleting a brand is a soft delete with a grace period; then a periodic job purges it.

``do_delete_brand`` stamps ``deleted_at`` and pauses the brand's publishing in one UPDATE. From
that moment the brand is gone for everyone by construction: ``Brand.objects`` (the default
manager, behind ``core.scoping`` and every ``for_user``) leaves it out, so every page, API route
and list answers 404, and the workers' claim queries skip it (publishing sees a paused brand and
also checks ``deleted_at``; inbox polling, metrics, listening, report schedules and giveaways
filter on it). Its scheduled posts do not go out.

During ``settings.BRAND_DELETE_GRACE_DAYS`` the brand's owners and the workspace administrators
see it under "Deleted brands" with its purge date and may restore it. A restored brand comes
back with publishing still paused: posts that fell due while it was deleted wait for a person to
look at the calendar and resume, instead of going out late all at once.

``purge_expired`` (a Huey periodic task) hard-deletes brands past the grace: their rows (the
database cascades) and then their files in the media storage, with one audit event at the
workspace level (the brand's own events go with it).
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from django.apps import apps
from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.storage import default_storage
from django.db import models, transaction
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from . import audit, roles
from .models import AuditEvent, Brand, Membership, OrganizationMember, TokenGrant, User
from .notes import note
from .scoping import has_perm

log = logging.getLogger(__name__)

MSG_DELETED = gettext_lazy("%(actor)s deleted the brand “%(brand)s”. It can be restored until %(date)s; "
                           "then it is purged for good.")
MSG_RESTORED = gettext_lazy("%(actor)s restored the brand “%(brand)s”. Its publishing stays paused until "
                            "someone resumes it.")


def grace() -> timedelta:
    return timedelta(days=settings.BRAND_DELETE_GRACE_DAYS)


def _token_may_write(user, brand: Brand) -> bool:
    token = getattr(user, "api_token", None)
    if token is None:
        return True
    return TokenGrant.objects.filter(token=token, brand=brand, scope=TokenGrant.Scope.WRITE).exists()


def _is_org_admin(user, brand: Brand) -> bool:
    return OrganizationMember.objects.filter(organization_id=brand.organization_id, user=user, is_admin=True).exists()


def can_delete(user, brand: Brand) -> bool:
    """The brand's owners (``DELETE_BRAND``) and the administrators of its workspace."""
    if not user.is_authenticated:
        return False
    if has_perm(user, brand, roles.DELETE_BRAND):
        return True
    return _is_org_admin(user, brand) and _token_may_write(user, brand)


def restorable_for(user):
    """Deleted brands, still in their grace period, that ``user`` may restore: those of
    workspaces they administer and those they own (a queryset of ``Brand.all_objects``)."""
    if user is None or not user.is_authenticated:
        return Brand.all_objects.none()
    qs = Brand.all_objects.filter(deleted_at__isnull=False, deleted_at__gt=timezone.now() - grace()).filter(
        Q(organization__members__user=user, organization__members__is_admin=True)
        | Q(memberships__user=user, memberships__role=roles.Role.OWNER)
    )
    token = getattr(user, "api_token", None)
    if token is not None:
        qs = qs.filter(pk__in=TokenGrant.objects.filter(token=token, scope=TokenGrant.Scope.WRITE).values("brand_id"))
    return qs.distinct().select_related("organization", "deleted_by").order_by("deleted_at", "pk")


def get_restorable(user, brand_id) -> Brand:
    """A deleted brand the user may restore; ValidationError for a brand the user can see that
    is not deleted; 404 for any other id."""
    from django.http import Http404

    from .scoping import brands_for

    if brands_for(user).filter(pk=brand_id if str(brand_id).isdigit() else None).exists():
        raise ValidationError(_("This brand is not deleted."))
    try:
        return restorable_for(user).get(pk=int(brand_id))
    except (Brand.DoesNotExist, ValueError, TypeError):
        raise Http404("No such brand") from None


def _people_to_tell(brand: Brand) -> list[User]:
    owners = User.objects.filter(memberships__brand_id=brand.pk, memberships__role=roles.Role.OWNER)
    admins = User.objects.filter(org_memberships__organization_id=brand.organization_id, org_memberships__is_admin=True)
    return list((owners | admins).distinct())


@transaction.atomic
def do_delete_brand(ctx, brand: Brand) -> Brand:
    from .notifications import notify

    if not can_delete(ctx.user, brand):
        raise PermissionDenied(_("You do not have permission to do that for this brand."))
    now = timezone.now()
    was_paused = Brand.all_objects.filter(pk=brand.pk).values_list("publishing_paused", flat=True).first()
    # One conditional UPDATE: of two owners deleting at once, only one records it.
    if not Brand.all_objects.filter(pk=brand.pk, deleted_at__isnull=True).update(
            deleted_at=now, deleted_by=ctx.user, publishing_paused=True):
        raise ValidationError(_("This brand has already been deleted."))
    brand.deleted_at, brand.deleted_by, brand.publishing_paused = now, ctx.user, True
    audit.record(ctx.user, "brand.delete", brand=brand, obj=brand, via=ctx.via, ip=ctx.ip,
                 changes={"purge_at": brand.purge_at.isoformat(), "publishing_paused": [was_paused, True]})
    when = timezone.localtime(brand.purge_at, brand.tzinfo).strftime("%Y-%m-%d %H:%M")
    notify(_people_to_tell(brand), kind="brand.deleted", brand=None, link=reverse("deleted_brands"),
           message=note(MSG_DELETED, actor=ctx.user, brand=brand.name, date=when), exclude=ctx.user)
    return brand


@transaction.atomic
def do_restore_brand(ctx, brand: Brand) -> Brand:
    from .notifications import notify

    if not restorable_for(ctx.user).filter(pk=brand.pk).exists():
        # Not deleted, past its grace, or not the caller's to restore.
        raise PermissionDenied(_("You do not have permission to do that for this brand."))
    if not Brand.all_objects.filter(pk=brand.pk, deleted_at__isnull=False).update(deleted_at=None, deleted_by=None):
        raise ValidationError(_("This brand is not deleted."))
    deleted_at = brand.deleted_at
    brand.deleted_at = brand.deleted_by = None
    audit.record(ctx.user, "brand.restore", brand=brand, obj=brand, via=ctx.via, ip=ctx.ip,
                 changes={"deleted_at": [deleted_at.isoformat() if deleted_at else None, None]})
    notify(_people_to_tell(brand), kind="brand.restored", brand=brand, link=reverse("brand_settings", args=[brand.pk]),
           message=note(MSG_RESTORED, actor=ctx.user, brand=brand.name), exclude=ctx.user)
    return brand


# --- Purge ---------------------------------------------------------------------------------

def _brand_models():
    """Every model with a ``brand`` foreign key to Brand (the brand's own rows)."""
    for model in apps.get_models():
        field = next((f for f in model._meta.get_fields() if f.name == "brand" and f.is_relation
                      and getattr(f, "related_model", None) is Brand and f.many_to_one), None)
        if field is not None:
            yield model


def brand_files(brand: Brand) -> list[str]:
    """The storage names of every file the brand's rows point to (media, previews, report PDFs,
    exports, the logo)."""
    names = [brand.logo.name] if brand.logo else []
    for model in _brand_models():
        file_fields = [f.name for f in model._meta.concrete_fields if isinstance(f, models.FileField)]
        if file_fields:
            for row in model._base_manager.filter(brand=brand).values_list(*file_fields).iterator():
                names.extend(n for n in row if n)
    from .models import BrandExport

    names.extend(n for n in BrandExport.objects.filter(brand=brand).values_list("file", flat=True) if n)
    return names


def purge_brand(brand: Brand) -> int:
    """Delete a brand's rows and then its files, for good. Returns how many files went."""
    files = brand_files(brand)
    with transaction.atomic():
        # Kept at workspace level (brand=None): the brand's own audit events go with it.
        AuditEvent.objects.create(
            organization_id=brand.organization_id, brand=None, brand_name=brand.name[:120], actor=None,
            actor_name="system", action="brand.purge", object_type="brand", object_id=str(brand.pk),
            object_repr=brand.name[:200], via="system",
            changes={"deleted_at": brand.deleted_at.isoformat() if brand.deleted_at else None,
                     "deleted_by": str(brand.deleted_by) if brand.deleted_by_id else None, "files": len(files)},
        )
        Membership.objects.filter(brand=brand).delete()
        Brand.all_objects.filter(pk=brand.pk).delete()
    gone = 0
    for name in files:  # after the commit: a failed purge keeps its files
        try:
            default_storage.delete(name)
            gone += 1
        except Exception:  # noqa: BLE001 - a missing or locked file must not stop the purge
            log.warning("purge of brand %s: could not delete file %s", brand.pk, name)
    return gone


def purge_expired(now: datetime | None = None) -> int:
    """Purge every brand whose grace period is over. Returns how many brands were purged."""
    now = now or timezone.now()
    count = 0
    for brand in Brand.all_objects.filter(deleted_at__isnull=False, deleted_at__lte=now - grace()).select_related(
            "deleted_by").order_by("deleted_at"):
        try:
            purge_brand(brand)
            count += 1
        except Exception:  # one brand failing (a lock) must not stop the others; retried next run
            log.exception("purge of brand %s failed", brand.pk)
    return count
