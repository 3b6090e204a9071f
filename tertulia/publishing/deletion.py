"""Deleting a published post from the network (issue 4).

``do_delete_published(ctx, target)`` asks the network to delete the target's post (and its
first comment, first), then marks the target ``deleted`` with ``deleted_at`` and writes the
audit log (``post.delete_on_network``). The network is asked *before* anything is written: if
it cannot do it now, the target stays ``published`` and the person gets a clear message.

- the network says the post is not there (404, or Bluesky's "no such record"): it is gone
  already (deleted by hand on the network), so the target is marked deleted all the same;
- the account's sign-in is refused: the account -> ``needs_reconnect`` (the team is told) and
  the message says to reconnect first;
- a temporary problem (timeout, 5xx, rate limit): nothing changes; try again later.

Deleting is idempotent on both sides, so two people clicking at once do no harm: the second
finds the target already deleted.
"""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext_lazy as _

from tertulia.core import roles
from tertulia.core.services import Ctx, _log, _require
from tertulia.networks.errors import AuthExpired, ConnectorError, Permanent
from tertulia.networks.models import SocialAccount
from tertulia.networks.services import mark_needs_reconnect

from . import engine, states
from .clock import db_now
from .models import PostTarget

S = PostTarget.State

MSG_NOT_PUBLISHED = _("Only a published post can be deleted from the network; this one is “%(state)s”.")
MSG_RECONNECT_FIRST = _("The account needs to be reconnected before the post can be deleted from the network. "
                        "Reconnect it in Accounts, then try again.")
MSG_TRY_LATER = _("The network did not delete the post this time (%(reason)s). Nothing changed; "
                  "try again in a few minutes.")
MSG_REFUSED = _("The network refused to delete the post: %(reason)s")
MSG_NO_ID = _("Tertulia does not know this post's id on the network, so it cannot delete it there.")


def _gone(err: ConnectorError) -> bool:
    return isinstance(err, Permanent) and err.status in (404, 410)


def do_delete_published(ctx: Ctx, target: PostTarget) -> PostTarget:
    """Delete the target's post (and first comment) on the network, then mark it deleted.
    Raises ``ValidationError`` with a message for the person when it cannot be done now."""
    _require(ctx, target.brand, roles.COMPOSE)
    target = PostTarget.objects.select_related("account", "post", "brand").get(pk=target.pk, brand=target.brand)
    if target.state == S.DELETED:
        return target  # someone else just did it
    if target.state != S.PUBLISHED:
        raise ValidationError(MSG_NOT_PUBLISHED, code="state", params={"state": target.get_state_display()})
    if not target.external_id:
        raise ValidationError(MSG_NO_ID, code="no_id")
    account = target.account
    if account.status != SocialAccount.Status.CONNECTED:
        raise ValidationError(MSG_RECONNECT_FIRST, code="reconnect")
    deleted = {}
    try:
        with engine.connector_for(account) as connector:
            for key, external_id in (("comment", engine.comment_posted_id(target)), ("post", target.external_id)):
                if not external_id:
                    continue
                try:
                    deleted[key] = connector.delete(external_id)
                except Permanent as err:
                    if not _gone(err):
                        raise
                    deleted[key] = False
    except AuthExpired as err:
        mark_needs_reconnect(account, str(engine.messages.english(engine.messages.note(engine.MSG_RECONNECT))))
        raise ValidationError(MSG_RECONNECT_FIRST, code="reconnect") from err
    except Permanent as err:
        raise ValidationError(MSG_REFUSED, code="refused", params={"reason": str(err.user_message)}) from err
    except ConnectorError as err:
        raise ValidationError(MSG_TRY_LATER, code="retry", params={"reason": str(err.user_message)}) from err
    now = db_now()
    with transaction.atomic():
        if not states.move(target, S.DELETED, deleted_at=now):
            target.refresh_from_db()
            if target.state == S.DELETED:
                return target
            raise ValidationError(MSG_NOT_PUBLISHED, code="state", params={"state": target.get_state_display()})
        target.deleted_at = now
        _log(ctx, "post.delete_on_network", brand=target.brand, obj=target,
             changes={"state": [S.PUBLISHED, S.DELETED], "external_id": target.external_id,
                      "already_gone": not deleted.get("post", False),
                      "comment": target.comment_external_id if "comment" in deleted else ""})
    return target
