"""Roles per brand and what each may do.

Permissions are plain strings checked through ``core.scoping``; a role is a set of them.
"""

from django.db import models
from django.utils.translation import gettext_lazy as _


class Role(models.TextChoices):
    OWNER = "owner", _("Owner")
    MANAGER = "manager", _("Manager (approves)")
    COMMUNITY_MANAGER = "community_manager", _("Community manager")
    ANALYST = "analyst", _("Analyst")
    CLIENT_REVIEWER = "client_reviewer", _("Client reviewer")


# What each permission lets a member do.
VIEW = "view"  # see the brand, its calendar and posts
COMPOSE = "compose"  # write and schedule posts
APPROVE = "approve"  # approve posts before they go out
REPLY = "reply"  # work the inbox
ANALYTICS = "analytics"  # dashboards and reports
MANAGE_ACCOUNTS = "manage_accounts"  # connect and disconnect social accounts
MANAGE_MEMBERS = "manage_members"  # invite, change roles, remove members
MANAGE_BRAND = "manage_brand"  # edit brand settings, guidelines and knowledge base
VIEW_AUDIT = "view_audit"  # read the audit log
DELETE_BRAND = "delete_brand"

ROLE_PERMISSIONS: dict[str, frozenset[str]] = {
    Role.OWNER: frozenset(
        {VIEW, COMPOSE, APPROVE, REPLY, ANALYTICS, MANAGE_ACCOUNTS, MANAGE_MEMBERS, MANAGE_BRAND,
         VIEW_AUDIT, DELETE_BRAND}
    ),
    Role.MANAGER: frozenset(
        {VIEW, COMPOSE, APPROVE, REPLY, ANALYTICS, MANAGE_ACCOUNTS, MANAGE_MEMBERS, MANAGE_BRAND,
         VIEW_AUDIT}
    ),
    Role.COMMUNITY_MANAGER: frozenset({VIEW, COMPOSE, REPLY, ANALYTICS}),
    Role.ANALYST: frozenset({VIEW, ANALYTICS}),
    Role.CLIENT_REVIEWER: frozenset({VIEW}),
}

# Roles a member holding ``role`` may grant to others. Only owners make owners.
GRANTABLE: dict[str, frozenset[str]] = {
    Role.OWNER: frozenset(Role.values),
    Role.MANAGER: frozenset(Role.values) - {Role.OWNER},
}


def roles_with(permission: str) -> list[str]:
    return [role for role, perms in ROLE_PERMISSIONS.items() if permission in perms]


def can_grant(granter_role: str, role: str) -> bool:
    return role in GRANTABLE.get(granter_role, frozenset())
