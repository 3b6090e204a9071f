"""Writes for Joomla accounts, with the permission check and the audit log."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from tertulia.core import audit, roles
from tertulia.core.services import Ctx, _log, _require

from ..models import Network, SocialAccount
from ..services import clean_joomla_options
from .connect import CheckedSite

FIELDS = ("handle", "display_name", "base_url", "status", "external_id", "options")


@transaction.atomic
def do_connect_joomla(ctx: Ctx, brand, site: CheckedSite, *, token: str, options: dict) -> tuple[SocialAccount, bool]:
    """Keep a Joomla site the site itself vouched for (``connect.check_site``): a new account,
    or the brand's account for the same site reconnected (its id, posts and history kept; the
    token and options replaced). Returns ``(account, created)``. The audit log says what
    changed, never the token."""
    _require(ctx, brand, roles.MANAGE_ACCOUNTS)
    if not token:
        raise ValidationError({"token": _("Enter the Joomla API token.")})
    options = clean_joomla_options(options)
    handle = site.profile.handle[:200]
    account = (SocialAccount.objects.select_for_update()
               .filter(brand=brand, network=Network.JOOMLA, handle=handle).first())
    created = account is None
    before = {} if created else audit.snapshot(account, FIELDS)
    if created:
        account = SocialAccount(brand=brand, network=Network.JOOMLA, handle=handle)
    account.base_url = site.base_url
    account.external_id = str(site.profile.external_id or "")[:200]
    account.display_name = (site.profile.display_name or handle)[:200]
    account.access_token, account.refresh_token, account.token_expires_at = token, "", None
    account.status, account.status_reason = SocialAccount.Status.CONNECTED, ""
    account.options = options
    account.full_clean(validate_constraints=False)
    try:
        with transaction.atomic():
            account.save()
    except IntegrityError:  # the same site connected at the same moment in another tab
        raise ValidationError({"site": _("This site was just connected by someone else. Reload the accounts page.")}) \
            from None
    changes = audit.diff(before, audit.snapshot(account, FIELDS))
    changes["credentials"] = ["none", "connected"] if created else ["kept", "replaced"]
    _log(ctx, "account.connect", brand=brand, obj=account, changes=changes)
    return account, created
