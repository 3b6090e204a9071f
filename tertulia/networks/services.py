"""Writes to social accounts, with permission checks and the audit log."""

from __future__ import annotations

import logging
from datetime import timedelta

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from tertulia.core import audit, notes, notifications, roles
from tertulia.core.services import Ctx, _log, _require

from .models import Network, SocialAccount

ACCOUNT_FIELDS = ("network", "handle", "display_name", "base_url", "status", "external_id", "options")
# Publishing options a team may set per network (see ``clean_options``).
WORDPRESS_STATUSES = ("publish", "draft")
# Where the account's token is sent: changing either invalidates the stored credentials.
IDENTITY_FIELDS = frozenset({"base_url", "external_id"})
log = logging.getLogger(__name__)


SIGNED_IN_ID = "signed_in_id"  # options key: the external id a network's sign-in vouched for


def clean_options(network: str, options) -> dict:
    """The per-network publishing options of an account. WordPress: ``post_status`` (publish, or
    draft for someone to finish in WordPress) and ``categories`` (names that exist on the site)."""
    if not options:
        return {}
    if isinstance(options, dict) and network == Network.JOOMLA:
        return clean_joomla_options(options)
    if not isinstance(options, dict) or network != Network.WORDPRESS:
        raise ValidationError({"options": _("This network has no publishing options.")})
    unknown = set(options) - {"post_status", "categories"}
    if unknown:
        raise ValidationError({"options": _("Unknown option: %(name)s.") % {"name": sorted(unknown)[0][:40]}})
    status = options.get("post_status", "publish")
    if status not in WORDPRESS_STATUSES:
        raise ValidationError({"options": _("Choose whether posts are published or saved as drafts.")})
    categories = options.get("categories") or []
    if isinstance(categories, str):
        categories = categories.split(",")
    if not isinstance(categories, (list, tuple)) or len(categories) > 20:
        raise ValidationError({"options": _("At most 20 categories.")})
    names = []
    for name in categories:
        name = " ".join(str(name).split())
        if len(name) > 100:
            raise ValidationError({"options": _("A category name is at most 100 characters.")})
        if name and name.casefold() not in {n.casefold() for n in names}:
            names.append(name)
    return {"post_status": status, "categories": names}


JOOMLA_STATES = ("published", "unpublished")


def clean_joomla_options(options: dict) -> dict:
    """Joomla: ``category`` (a category's title, alias or id on the site; empty for Joomla's
    "Uncategorised"), ``state`` (articles arrive published, or unpublished for someone to
    finish in Joomla) and ``featured`` (shown on the site's featured page)."""
    unknown = set(options) - {"category", "state", "featured"}
    if unknown:
        raise ValidationError({"options": _("Unknown option: %(name)s.") % {"name": sorted(unknown)[0][:40]}})
    category = options.get("category") or ""
    if isinstance(category, int) and not isinstance(category, bool):
        category = str(category)
    if not isinstance(category, str):
        raise ValidationError({"options": _("The category is a name or a number.")})
    category = " ".join(category.split())
    if len(category) > 100:
        raise ValidationError({"options": _("A category name is at most 100 characters.")})
    state = options.get("state") or "published"
    if state not in JOOMLA_STATES:
        raise ValidationError({"options": _("Choose whether articles are published or saved unpublished.")})
    featured = options.get("featured", False)
    if not isinstance(featured, bool):
        raise ValidationError({"options": _("Featured is yes or no.")})
    return {"category": category, "state": state, "featured": featured}


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
        if key == "options":
            value = clean_options(network, value)
        setattr(account, key, value)
    account.full_clean()
    account.save()
    _log(ctx, "account.add", brand=brand, obj=account,
         changes=audit.diff({}, audit.snapshot(account, ACCOUNT_FIELDS)))
    return account


@transaction.atomic
def do_update_account(ctx: Ctx, account: SocialAccount, *, access_token: str | None = None,
                      **fields) -> SocialAccount:
    """``access_token`` (a bot token, an application password) replaces the stored secret
    when given; the audit log records that it changed, never its value."""
    _require(ctx, account.brand, roles.MANAGE_ACCOUNTS)
    before = audit.snapshot(account, ACCOUNT_FIELDS)
    for key, value in fields.items():
        if key not in ACCOUNT_FIELDS or key == "network":
            raise ValidationError({key: _("This field cannot be changed.")})
        if key == "handle":
            value = _clean_handle(account.network, value)
        if key == "options":
            value = clean_options(account.network, value)
        setattr(account, key, value)
    changes = audit.diff(before, audit.snapshot(account, ACCOUNT_FIELDS))
    if changes.keys() & IDENTITY_FIELDS and SIGNED_IN_ID in (account.options or {}):
        account.options = {k: v for k, v in account.options.items() if k != SIGNED_IN_ID}
        fields["options"] = account.options  # saved below, with the rest of what changed
    if (changes.keys() & IDENTITY_FIELDS) and (account.access_token or account.refresh_token):
        # The token was issued by the old server for the old account. Sending it anywhere
        # else would hand it to whoever runs that address, so it is dropped, not moved.
        account.access_token = account.refresh_token = ""  # nosec B105 # not a password: an empty value, a URL or a regex
        account.token_expires_at = None
        account.status = SocialAccount.Status.NEEDS_RECONNECT
        account.status_reason = _("The server address or account id changed, so the stored sign-in was removed. "
                                  "Reconnect the account.")
        changes["credentials"] = ["kept", "removed"]
    if access_token:
        # A secret entered with (or after) the new address belongs to it: keep it.
        account.access_token, account.refresh_token, account.token_expires_at = access_token, "", None
        if account.status == SocialAccount.Status.NEEDS_RECONNECT:
            account.status, account.status_reason = SocialAccount.Status.CONNECTED, ""
        changes["credentials"] = [changes.get("credentials", ["kept"])[0], "replaced"]
    account.full_clean()
    # Only what this form edits: ``options`` also holds state a connector keeps between
    # attempts (Instagram's pending containers), which a stale copy must not overwrite.
    saved = [f for f in ACCOUNT_FIELDS if f != "network" and (f != "options" or "options" in fields)]
    account.save(update_fields=[*saved, "access_token", "refresh_token", "token_expires_at", "status_reason"])
    if changes:
        _log(ctx, "account.update", brand=account.brand, obj=account, changes=changes)
    return account


@transaction.atomic
def do_remove_account(ctx: Ctx, account: SocialAccount) -> None:
    _require(ctx, account.brand, roles.MANAGE_ACCOUNTS)
    _log(ctx, "account.remove", brand=account.brand, obj=account)
    account.delete()


MSG_RECONNECT_NOTICE = gettext_lazy(
    "The %(network)s account %(handle)s needs to be reconnected: the network no longer accepts its "
    "sign-in, so nothing can be published on it. Open Accounts and connect it again; its scheduled "
    "posts wait and its history is kept.")
MSG_RECONNECT_POST = gettext_lazy("A post for this account could not go out. Once the account is reconnected, "
                                  "open the post to retry it.")


def account_watchers(account: SocialAccount):
    """Who must hear about an account's problems: the brand's owners and managers."""
    from tertulia.core.models import Membership, User

    ids = Membership.objects.filter(brand_id=account.brand_id, role__in=("owner", "manager")).values("user_id")
    return list(User.objects.filter(pk__in=ids, is_active=True).order_by("pk"))


@transaction.atomic
def mark_needs_reconnect(account: SocialAccount, reason: str, *, post=None) -> bool:
    """A connector got ``AuthExpired``: park the account until someone reconnects it.

    A system action (no person did it), so no permission check; the audit log still says
    what happened and why, which is what the team sees on the accounts page. The first time
    (only: the UPDATE is conditional) the brand's owners and managers, and the author of
    ``post`` if given, get a notification and an e-mail. The tokens are kept: reconnecting
    replaces them and keeps the account's history."""
    updated = SocialAccount.objects.filter(pk=account.pk).exclude(status=SocialAccount.Status.NEEDS_RECONNECT).update(
        status=SocialAccount.Status.NEEDS_RECONNECT, status_reason=reason[:300]
    )
    if updated:
        account.status, account.status_reason = SocialAccount.Status.NEEDS_RECONNECT, reason[:300]
        audit.record(None, "account.needs_reconnect", brand=account.brand, obj=account, via="system",
                     changes={"reason": reason[:300]})
        message = notes.note(MSG_RECONNECT_NOTICE, network=account.get_network_display(), handle=account.handle)
        link = f"/brands/{account.brand_id}/accounts/"
        recipients = account_watchers(account)
        if post is not None:
            message = message + notes.note(MSG_RECONNECT_POST)
            link = f"/brands/{account.brand_id}/posts/{post.pk}/"
            recipients = [post.author, *recipients]
        notifications.notify(recipients, kind="account.needs_reconnect", message=message, link=link,
                             brand=account.brand)
    return bool(updated)


# -- sign-ins that expire: refresh before they do ------------------------------------------------

REFRESH_MARGIN = timedelta(minutes=10)


def store_credentials(account: SocialAccount, credentials) -> None:
    """Keep a connector's new credentials (encrypted at rest). A refresh that came back without
    a refresh token keeps the stored one: never drop it."""
    account.access_token = credentials.access_token or account.access_token
    if credentials.refresh_token:
        account.refresh_token = credentials.refresh_token
    account.token_expires_at = credentials.expires_at
    account.save(update_fields=["access_token", "refresh_token", "token_expires_at"])


def _default_connector(account: SocialAccount):
    from . import registry
    from .http import publishing_http_config

    return registry.connector_for(account, http_config=publishing_http_config())


def needs_refresh(account: SocialAccount, margin: timedelta = REFRESH_MARGIN, now=None) -> bool:
    from . import registry

    if account.status != SocialAccount.Status.CONNECTED or account.token_expires_at is None:
        return False
    if not registry.is_available(account.network) or not registry.connector_class(account.network).supports_refresh:
        return False
    if not account.refresh_token:
        return False
    now = now or timezone.now()
    return account.token_expires_at - now <= margin


def refresh_account(account: SocialAccount, *, margin: timedelta = REFRESH_MARGIN, connector_factory=None,
                    post=None) -> str:
    """Refresh the account's sign-in if it expires within ``margin``. Returns ``fresh`` (nothing
    to do), ``refreshed``, ``needs_reconnect`` (the network refused the refresh token) or
    ``retry`` (the network could not be reached; the next publish or sweep tries again).

    The account row is locked while the network is asked (SELECT … FOR UPDATE; on SQLite the
    IMMEDIATE transaction does the same), so two consumers never spend one rotating refresh
    token twice: the second one finds the row already refreshed and does nothing."""
    from .errors import AuthExpired, ConnectorError

    with transaction.atomic():
        locked = SocialAccount.objects.select_for_update().filter(pk=account.pk).first()
        if locked is None or not needs_refresh(locked, margin):
            if locked is not None:
                account.access_token, account.refresh_token = locked.access_token, locked.refresh_token
                account.token_expires_at, account.status = locked.token_expires_at, locked.status
            return "fresh"
        factory = connector_factory or _default_connector
        connector = factory(locked)
        connector.credentials_listener = lambda credentials: store_credentials(locked, credentials)
        try:
            with connector:
                connector.refresh_credentials()
        except AuthExpired as err:
            reason = notes.english(notes.note(MSG_REFRESH_REFUSED))
            log.warning("account %s: refresh refused: %s", account.pk, err.log_line())
            failed = err
        except ConnectorError as err:
            log.info("account %s: refresh failed, will retry: %s", account.pk, err.log_line())
            return "retry"
        else:
            account.access_token, account.refresh_token = locked.access_token, locked.refresh_token
            account.token_expires_at = locked.token_expires_at
            audit.record(None, "account.refresh_token", brand=locked.brand, obj=locked, via="system",
                         changes={"expires_at": str(locked.token_expires_at or "")})
            return "refreshed"
    mark_needs_reconnect(account, reason, post=post)
    log.debug("refresh failure: %s", failed.kind)
    return "needs_reconnect"


MSG_REFRESH_REFUSED = gettext_lazy("The network refused to renew this account's sign-in. Reconnect the account.")


# -- connecting with OAuth (Mastodon) -------------------------------------------------------------

OAUTH_FIELDS = ("network", "handle", "display_name", "base_url", "status", "external_id")


@transaction.atomic
def do_connect_oauth_account(ctx: Ctx, brand, *, network: str, base_url: str, credentials, profile,
                             server_limits: dict | None = None) -> tuple[SocialAccount, bool]:
    """Keep the account someone just approved on the network: a new ``SocialAccount``, or, when
    the brand already has this handle on this network, the same row reconnected (its id, posts
    and history kept; the token replaced; a stored refresh token kept unless the network sent a
    new one). Returns ``(account, created)``. The audit log says what changed, never a secret."""
    _require(ctx, brand, roles.MANAGE_ACCOUNTS)
    if network not in Network.values:
        raise ValidationError({"network": _("Unknown network.")})
    if not credentials.access_token:
        raise ValidationError({"access_token": _("The network did not give Tertulia access to the account.")})
    handle = _clean_handle(network, profile.handle)
    account = (SocialAccount.objects.select_for_update()
               .filter(brand=brand, network=network, handle=handle).first())
    created = account is None
    if created:
        account = SocialAccount(brand=brand, network=network, handle=handle)
        before = {}
    else:
        before = audit.snapshot(account, OAUTH_FIELDS)
        if account.external_id and profile.external_id and account.external_id != str(profile.external_id) \
                or account.base_url and account.base_url.rstrip("/") != base_url.rstrip("/"):
            # Same handle, other person or other server: never hand this token to another row.
            raise ValidationError({"handle": _("This handle already belongs to another account of the brand. "
                                               "Remove that account first.")})
    account.base_url = base_url
    account.external_id = str(profile.external_id or "")[:200]
    account.display_name = (profile.display_name or "")[:200] or account.display_name
    account.access_token = credentials.access_token
    if credentials.refresh_token:
        account.refresh_token = credentials.refresh_token
    account.token_expires_at = credentials.expires_at
    account.status, account.status_reason = SocialAccount.Status.CONNECTED, ""
    # The network itself said, through the sign-in, that this id is the account's: what
    # webhooks trust (an id typed into a form or the API proves nothing, and page ids are
    # public). ``options`` cannot be set by hand for these networks (``clean_options``).
    account.options = {**(account.options or {}), SIGNED_IN_ID: account.external_id}
    if server_limits is not None:
        account.server_limits = dict(server_limits)
    account.full_clean(validate_constraints=False)
    try:
        with transaction.atomic():
            account.save()
    except IntegrityError:  # the same account connected at the same moment in another tab
        raise ValidationError({"handle": _("This account was just connected by someone else. "
                                           "Reload the accounts page.")}) from None
    changes = audit.diff(before, audit.snapshot(account, OAUTH_FIELDS))
    changes["credentials"] = ["none", "connected"] if created else ["kept", "replaced"]
    if server_limits is not None:
        changes["server_limits"] = {k: v for k, v in server_limits.items() if k != "supported_mime_types"}
    _log(ctx, "account.connect", brand=brand, obj=account, changes=changes)
    return account, created


@transaction.atomic
def do_set_server_limits(ctx: Ctx, account: SocialAccount, server_limits: dict) -> SocialAccount:
    """Store what the server said about its limits (``mastodon.limits.fetch_server_limits``)."""
    _require(ctx, account.brand, roles.MANAGE_ACCOUNTS)
    before = {k: v for k, v in (account.server_limits or {}).items() if k != "supported_mime_types"}
    account.server_limits = dict(server_limits)
    account.save(update_fields=["server_limits"])
    after = {k: v for k, v in account.server_limits.items() if k != "supported_mime_types"}
    _log(ctx, "account.server_limits", brand=account.brand, obj=account, changes={"server_limits": [before, after]})
    return account
