"""The 60-day warning: LinkedIn access tokens last 60 days, and only apps LinkedIn approved
get refresh tokens (which themselves end 365 days after the first sign-in, however often
they are used). A page whose sign-in cannot be renewed must be reconnected by a person, so
the brand's owners and managers are told a week before, once per sign-in."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from datetime import timezone as dt_timezone

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from tertulia.core import audit, notes, notifications

from ..models import Network, SocialAccount
from ..services import account_watchers

WARN_BEFORE = timedelta(days=7)

MSG_EXPIRING = _("The LinkedIn sign-in of the page %(handle)s ends on %(date)s, and LinkedIn does not let "
                 "Tertulia renew it. Reconnect the page before then (Accounts, Connect a LinkedIn page) so "
                 "its scheduled posts keep going out.")


@dataclass(frozen=True)
class Expiring:
    account: SocialAccount
    ends_at: datetime
    reason: str  # "access_token" (no refresh token) or "refresh_token" (the refresh token's own end)


def _refresh_end(account: SocialAccount) -> datetime | None:
    value = (account.options or {}).get("refresh_token_expires_at")
    try:
        parsed = datetime.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        return None
    return parsed if parsed is None or parsed.tzinfo else parsed.replace(tzinfo=dt_timezone.utc)


def when_it_ends(account: SocialAccount) -> tuple[datetime | None, str]:
    """When a person must reconnect the page, and why."""
    if not account.refresh_token:
        return account.token_expires_at, "access_token"
    return _refresh_end(account), "refresh_token"


def accounts_expiring(within: timedelta = WARN_BEFORE, now: datetime | None = None) -> list[Expiring]:
    """Connected LinkedIn pages whose sign-in cannot be renewed past the next ``within``."""
    now = now or timezone.now()
    out = []
    rows = SocialAccount.objects.filter(network=Network.LINKEDIN, status=SocialAccount.Status.CONNECTED)
    for account in rows.select_related("brand").order_by("pk"):
        ends_at, reason = when_it_ends(account)
        if ends_at is not None and now < ends_at <= now + within:
            out.append(Expiring(account, ends_at, reason))
    return out


def warn_expiring(within: timedelta = WARN_BEFORE, now: datetime | None = None) -> int:
    """Tell the brand's owners and managers about each page found by ``accounts_expiring``,
    once per sign-in (the end date is remembered in the account's options). Returns how many
    accounts were announced."""
    told = 0
    for item in accounts_expiring(within, now):
        stamp = item.ends_at.isoformat()
        with transaction.atomic():
            account = SocialAccount.objects.select_for_update().filter(pk=item.account.pk).first()
            if account is None or (account.options or {}).get("expiry_warned_for") == stamp:
                continue
            account.options = {**(account.options or {}), "expiry_warned_for": stamp}
            account.save(update_fields=["options"])
            day = timezone.localtime(item.ends_at, item.account.brand.tzinfo).date().isoformat()
            message = notes.note(MSG_EXPIRING, handle=account.handle, date=day)
            audit.record(None, "account.expiring", brand=item.account.brand, obj=account, via="system",
                         changes={"ends_at": stamp, "reason": item.reason})
            notifications.notify(account_watchers(account), kind="account.expiring", message=message,
                                 link=f"/brands/{account.brand_id}/accounts/connect/linkedin/",
                                 brand=item.account.brand)
        told += 1
    return told
