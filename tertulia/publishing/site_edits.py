"""Changing a published article on a site that allows it (Joomla): send the post's current
text again, or unpublish it (issue 11: "update and unpublish").

Like ``deletion.do_delete_published``: the site is asked first, and only when it did it is
anything written (an audit log entry; for unpublishing, a note on the target the team sees).
The target stays ``published`` (its article is still on the site, unpublished), so it can
still be deleted from the network. Both are idempotent on the site: two clicks do no harm.

Networks offer this when their connector has ``update`` / ``unpublish`` (``supports``).
"""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext_lazy as _

from tertulia.core import roles
from tertulia.core.services import Ctx, _log, _require
from tertulia.networks import registry
from tertulia.networks.base import PostPayload
from tertulia.networks.errors import AuthExpired, ConnectorError, Permanent
from tertulia.networks.models import SocialAccount
from tertulia.networks.services import mark_needs_reconnect

from . import engine
from .clock import db_now
from .deletion import MSG_NO_ID, MSG_REFUSED, MSG_TRY_LATER
from .models import PostTarget

S = PostTarget.State

MSG_NOT_PUBLISHED = _("Only a published post can be changed on the network; this one is “%(state)s”.")
MSG_UNSUPPORTED = _("This network does not let Tertulia change a post once it is published.")
MSG_RECONNECT_FIRST = _("The account needs to be reconnected before the post can be changed on the network. "
                        "Reconnect it in Accounts, then try again.")
MSG_GONE = _("The post is no longer on the network (it was deleted there), so it cannot be changed.")
MSG_UNPUBLISHED_NOTE = _("Unpublished on the site: visitors no longer see it. It is kept there, unpublished.")


def supports(network: str, operation: str) -> bool:
    """Whether the network's connector can ``update`` or ``unpublish`` a published post."""
    if operation not in ("update", "unpublish") or not registry.is_available(network):
        return False
    try:
        return callable(getattr(registry.connector_class(network), operation, None))
    except Exception:  # noqa: BLE001 - a connector that cannot be imported offers nothing
        return False


def _checked(ctx: Ctx, target: PostTarget, operation: str) -> PostTarget:
    _require(ctx, target.brand, roles.COMPOSE)
    target = PostTarget.objects.select_related("account", "post", "brand").get(pk=target.pk, brand=target.brand)
    if target.state != S.PUBLISHED:
        raise ValidationError(MSG_NOT_PUBLISHED, code="state", params={"state": target.get_state_display()})
    if not supports(target.account.network, operation):
        raise ValidationError(MSG_UNSUPPORTED, code="unsupported")
    if not target.external_id:
        raise ValidationError(MSG_NO_ID, code="no_id")
    if target.account.status != SocialAccount.Status.CONNECTED:
        raise ValidationError(MSG_RECONNECT_FIRST, code="reconnect")
    return target


def _on_network(target: PostTarget, call):
    """Run ``call(connector)`` for the target's account, errors in words for the person."""
    account = target.account
    try:
        with engine.connector_for(account) as connector:
            return call(connector)
    except AuthExpired as err:
        mark_needs_reconnect(account, engine.messages.english(engine.messages.note(engine.MSG_RECONNECT)))
        raise ValidationError(MSG_RECONNECT_FIRST, code="reconnect") from err
    except Permanent as err:
        if err.status in (404, 410):
            raise ValidationError(MSG_GONE, code="gone") from err
        raise ValidationError(MSG_REFUSED, code="refused", params={"reason": str(err.user_message)}) from err
    except ConnectorError as err:
        raise ValidationError(MSG_TRY_LATER, code="retry", params={"reason": str(err.user_message)}) from err


def do_update_published(ctx: Ctx, target: PostTarget) -> PostTarget:
    """Send the post's current text (its variant for the network, else the post's; the title
    comes from its first line) to the published article. Images, category, tags and state
    stay as they are on the site."""
    target = _checked(ctx, target, "update")
    payload = PostPayload(text=engine.target_text(target), marker=target.marker)
    ref = _on_network(target, lambda connector: connector.update(target.external_id, payload))
    url = engine.safe_url(ref.url, 500) if ref is not None and ref.url else target.external_url
    with transaction.atomic():
        PostTarget.objects.filter(pk=target.pk).update(external_url=url)
        target.external_url = url
        _log(ctx, "post.update_on_network", brand=target.brand, obj=target,
             changes={"external_id": target.external_id, "text": engine.target_text(target)[:500],
                      "at": db_now().isoformat()})
    return target


def do_unpublish_published(ctx: Ctx, target: PostTarget) -> PostTarget:
    """Unpublish the article on the site (it stays there, hidden from visitors); the target
    keeps a note saying so."""
    target = _checked(ctx, target, "unpublish")
    found = _on_network(target, lambda connector: connector.unpublish(target.external_id))
    if found is False:
        raise ValidationError(MSG_GONE, code="gone")
    note = engine.messages.note(MSG_UNPUBLISHED_NOTE)
    with transaction.atomic():
        PostTarget.objects.filter(pk=target.pk).update(error_note=note,
                                                       last_error=engine.messages.english(note)[:2000])
        target.error_note = note
        _log(ctx, "post.unpublish_on_network", brand=target.brand, obj=target,
             changes={"external_id": target.external_id, "site_state": ["published", "unpublished"]})
    return target
