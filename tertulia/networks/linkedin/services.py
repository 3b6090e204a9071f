"""Keeping a LinkedIn page someone just approved: the shared OAuth account service, plus what
only LinkedIn needs (the refresh token's own end, for the expiry warning)."""

from __future__ import annotations

from datetime import datetime

from django.db import transaction

from tertulia.core import roles
from tertulia.core.services import Ctx, _log, _require

from ..models import Network, SocialAccount
from ..services import do_connect_oauth_account


@transaction.atomic
def do_connect_linkedin_page(ctx: Ctx, brand, *, api_base: str, credentials, profile,
                             refresh_expires_at: datetime | None) -> tuple[SocialAccount, bool]:
    _require(ctx, brand, roles.MANAGE_ACCOUNTS)
    account, created = do_connect_oauth_account(ctx, brand, network=Network.LINKEDIN, base_url=api_base,
                                                credentials=credentials, profile=profile)
    options = dict(account.options or {})
    before = {k: options.get(k) for k in ("organization_urn", "refresh_token_expires_at")}
    options["organization_urn"] = f"urn:li:organization:{profile.external_id}"
    if refresh_expires_at is not None:
        options["refresh_token_expires_at"] = refresh_expires_at.isoformat()
    elif not credentials.refresh_token:
        options.pop("refresh_token_expires_at", None)
    options.pop("expiry_warned_for", None)  # a new sign-in: warn again before it ends
    account.options = options
    account.save(update_fields=["options"])
    after = {k: options.get(k) for k in ("organization_urn", "refresh_token_expires_at")}
    if after != before:
        _log(ctx, "account.linkedin_page", brand=brand, obj=account,
             changes={k: [before[k], after[k]] for k in after if before[k] != after[k]})
    return account, created
