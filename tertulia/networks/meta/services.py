"""Keeping the Pages and Instagram accounts someone chose after the Meta sign-in.

Each choice goes through ``networks.services.do_connect_oauth_account`` (permission check,
reconnect-in-place, audit log without secrets). An Instagram account is reached with its
Page's token, so it also keeps ``options["page_id"]``: set here, in the same transaction, and
recorded in the audit log as ``account.options``.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.db import transaction

from tertulia.core import roles
from tertulia.core.services import Ctx, _log, _require

from ..base import Credentials, Profile
from ..models import Network, SocialAccount
from ..services import do_connect_oauth_account
from .connect import PageChoice


@dataclass(frozen=True)
class Connected:
    account: SocialAccount
    created: bool


@dataclass(frozen=True)
class NotConnected:
    name: str
    reason: str


def _existing_handle(brand, network: str, external_id: str, default: str) -> str:
    """Reconnect the row that already holds this Page/Instagram id, even if its name changed."""
    row = SocialAccount.objects.filter(brand=brand, network=network, external_id=external_id).first()
    return row.handle if row is not None else default


def do_connect_meta_accounts(ctx: Ctx, brand, *, base_url: str, pages: list[PageChoice],
                             picks: set[tuple[str, str]]) -> tuple[list[Connected], list[NotConnected]]:
    """Connect every ``(network, id)`` in ``picks`` (``facebook`` + Page id, ``instagram`` + IG
    user id) from the ``pages`` the sign-in returned. One failure (a handle taken by another
    account of the brand) does not undo the others."""
    _require(ctx, brand, roles.MANAGE_ACCOUNTS)
    done: list[Connected] = []
    failed: list[NotConnected] = []
    for page in pages:
        wanted = []
        if (Network.FACEBOOK, page.id) in picks:
            handle = _existing_handle(brand, Network.FACEBOOK, page.id, page.username or page.name)
            wanted.append((Network.FACEBOOK, Profile(external_id=page.id, handle=handle, display_name=page.name),
                           page.name, None))
        ig = page.instagram
        if ig is not None and (Network.INSTAGRAM, ig.id) in picks:
            handle = _existing_handle(brand, Network.INSTAGRAM, ig.id, ig.username)
            wanted.append((Network.INSTAGRAM, Profile(external_id=ig.id, handle=handle, display_name=ig.name,
                                                      followers=ig.followers, avatar_url=ig.avatar_url),
                           "@" + ig.username, {"page_id": page.id}))
        for network, profile, label, options in wanted:
            try:
                with transaction.atomic():
                    account, created = do_connect_oauth_account(
                        ctx, brand, network=network, base_url=base_url,
                        credentials=Credentials(access_token=page.token), profile=profile)
                    if options is not None:
                        _set_options(ctx, account, options)
            except ValidationError as err:
                failed.append(NotConnected(label, " ".join(err.messages)))
            else:
                done.append(Connected(account, created))
    return done, failed


def _set_options(ctx: Ctx, account: SocialAccount, options: dict) -> None:
    before = dict(account.options or {})
    after = {**before, **options}
    if after != before:
        account.options = after
        account.save(update_fields=["options"])
        _log(ctx, "account.options", brand=account.brand, obj=account, changes={"options": [before, after]})
