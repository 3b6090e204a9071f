"""Tenant scoping: the one place that decides which brands a user may reach.

Views and API handlers never touch ``Model.objects`` for tenant data; they call
``brands_for`` / ``get_brand`` or ``Model.objects.for_user(user, permission)``, which all
end here. An API request carries the personal access token it came with
(``user.api_token``), and a token narrows the user's access to the brands granted to it,
read-only unless the grant is for writing.
"""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.db.models import F
from django.http import Http404
from django.utils.translation import gettext as _

from . import roles
from .models import Brand, Membership, TokenGrant

READ_ONLY_PERMISSIONS = frozenset({roles.VIEW, roles.ANALYTICS, roles.VIEW_AUDIT})


def brands_for(user, permission: str = roles.VIEW):
    """The brands where ``user`` holds ``permission`` (a queryset)."""
    if user is None or not user.is_authenticated:
        return Brand.objects.none()
    qs = Brand.objects.filter(
        memberships__user=user, memberships__role__in=roles.roles_with(permission)
    )
    token = getattr(user, "api_token", None)
    if token is not None:
        grants = TokenGrant.objects.filter(token=token)
        if permission not in READ_ONLY_PERMISSIONS:
            grants = grants.filter(scope=TokenGrant.Scope.WRITE)
        qs = qs.filter(pk__in=grants.values("brand_id"))
    return qs.distinct()


def require_writing_token(user, brand: Brand | None = None) -> None:
    """Some writes need only VIEW (a comment, marking one's own notifications read), but through
    the API they are still writes: a token must hold a write grant (for ``brand``, or for any
    brand when the write belongs to no brand). Sessions pass."""
    token = getattr(user, "api_token", None)
    if token is None:
        return
    grants = TokenGrant.objects.filter(token=token, scope=TokenGrant.Scope.WRITE)
    if brand is not None:
        grants = grants.filter(brand=brand)
    if not grants.exists():
        raise PermissionDenied(_("This token may only read."))


def role_in(user, brand) -> str | None:
    if not user.is_authenticated:
        return None
    return (
        Membership.objects.filter(user=user, brand=brand).values_list("role", flat=True).first()
    )


def get_brand(user, brand_id, permission: str = roles.VIEW) -> Brand:
    """The brand, if the user may see it; 404 if not a member (nothing leaks), 403 if the
    user is a member whose role lacks ``permission``."""
    try:
        pk = int(brand_id)
    except (ValueError, TypeError):
        raise Http404("No such brand")
    if user is None or not user.is_authenticated:
        raise Http404("No such brand")
    if getattr(user, "api_token", None) is not None:  # a token narrows the grants: the general path
        try:
            brand = brands_for(user, roles.VIEW).select_related("organization").get(pk=pk)
        except Brand.DoesNotExist:
            raise Http404("No such brand")
        if permission != roles.VIEW and not brands_for(user, permission).filter(pk=brand.pk).exists():
            raise PermissionDenied
        return brand
    # A signed-in member: the brand and the member's role in one query (one membership per brand).
    brand = (Brand.objects.select_related("organization").filter(pk=pk, memberships__user=user)
             .annotate(member_role=F("memberships__role")).first())
    if brand is None:
        raise Http404("No such brand")
    perms = roles.ROLE_PERMISSIONS.get(brand.member_role, frozenset())
    if permission not in perms:
        raise PermissionDenied
    brand._permissions_of = (user.pk, perms)  # for permissions_in, later in the same request
    return brand


def has_perm(user, brand, permission: str) -> bool:
    return brands_for(user, permission).filter(pk=brand.pk).exists()


def permissions_in(user, brand) -> frozenset[str]:
    known = getattr(brand, "_permissions_of", None)
    if known is not None and known[0] == user.pk and getattr(user, "api_token", None) is None:
        return known[1]  # get_brand read the role a moment ago
    role = role_in(user, brand)
    perms = roles.ROLE_PERMISSIONS.get(role, frozenset())
    token = getattr(user, "api_token", None)
    if token is not None:
        grant = TokenGrant.objects.filter(token=token, brand=brand).first()
        if grant is None:
            return frozenset()
        if grant.scope != TokenGrant.Scope.WRITE:
            perms = perms & READ_ONLY_PERMISSIONS
    return perms
