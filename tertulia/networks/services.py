"""Writes to social accounts, with permission checks and the audit log."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from tertulia.core import audit, roles
from tertulia.core.services import Ctx, _log, _require

from .models import Network, SocialAccount

ACCOUNT_FIELDS = ("network", "handle", "display_name", "base_url", "status", "external_id")
# Where the account's token is sent: changing either invalidates the stored credentials.
IDENTITY_FIELDS = frozenset({"base_url", "external_id"})


def _clean_handle(network: str, handle: str) -> str:
    handle = (handle or "").strip()
    if not handle:
        raise ValidationError({"handle": _("Enter the account's handle or name.")})
    if network in (Network.X, Network.INSTAGRAM, Network.THREADS, Network.TELEGRAM) and not handle.startswith("@"):
        handle = "@" + handle
    return handle[:200]


@transaction.atomic
def do_add_account(ctx: Ctx, brand, *, network: str, handle: str, access_token: str = "",
                   refresh_token: str = "", **fields) -> SocialAccount:
    _require(ctx, brand, roles.MANAGE_ACCOUNTS)
    if network not in Network.values:
        raise ValidationError({"network": _("Unknown network.")})
    account = SocialAccount(brand=brand, network=network, handle=_clean_handle(network, handle),
                            access_token=access_token, refresh_token=refresh_token)
    for key, value in fields.items():
        if key not in ACCOUNT_FIELDS:
            raise ValidationError({key: _("Unknown field.")})
        setattr(account, key, value)
    account.full_clean()
    account.save()
    _log(ctx, "account.add", brand=brand, obj=account,
         changes=audit.diff({}, audit.snapshot(account, ACCOUNT_FIELDS)))
    return account


@transaction.atomic
def do_update_account(ctx: Ctx, account: SocialAccount, **fields) -> SocialAccount:
    _require(ctx, account.brand, roles.MANAGE_ACCOUNTS)
    before = audit.snapshot(account, ACCOUNT_FIELDS)
    for key, value in fields.items():
        if key not in ACCOUNT_FIELDS or key == "network":
            raise ValidationError({key: _("This field cannot be changed.")})
        if key == "handle":
            value = _clean_handle(account.network, value)
        setattr(account, key, value)
    changes = audit.diff(before, audit.snapshot(account, ACCOUNT_FIELDS))
    if (changes.keys() & IDENTITY_FIELDS) and (account.access_token or account.refresh_token):
        # The token was issued by the old server for the old account. Sending it anywhere
        # else would hand it to whoever runs that address, so it is dropped, not moved.
        account.access_token = account.refresh_token = ""
        account.token_expires_at = None
        account.status = SocialAccount.Status.NEEDS_RECONNECT
        account.status_reason = _("The server address or account id changed, so the stored sign-in was removed. "
                                  "Reconnect the account.")
        changes["credentials"] = ["kept", "removed"]
    account.full_clean()
    account.save()
    if changes:
        _log(ctx, "account.update", brand=account.brand, obj=account, changes=changes)
    return account


@transaction.atomic
def do_remove_account(ctx: Ctx, account: SocialAccount) -> None:
    _require(ctx, account.brand, roles.MANAGE_ACCOUNTS)
    _log(ctx, "account.remove", brand=account.brand, obj=account)
    account.delete()


def mark_needs_reconnect(account: SocialAccount, reason: str) -> bool:
    """A connector got ``AuthExpired``: park the account until someone reconnects it.

    A system action (no person did it), so no permission check; the audit log still says
    what happened and why, which is what the team sees on the accounts page."""
    updated = SocialAccount.objects.filter(pk=account.pk).exclude(status=SocialAccount.Status.NEEDS_RECONNECT).update(
        status=SocialAccount.Status.NEEDS_RECONNECT, status_reason=reason[:300]
    )
    if updated:
        account.status, account.status_reason = SocialAccount.Status.NEEDS_RECONNECT, reason[:300]
        audit.record(None, "account.needs_reconnect", brand=account.brand, obj=account, via="system",
                     changes={"reason": reason[:300]})
    return bool(updated)
