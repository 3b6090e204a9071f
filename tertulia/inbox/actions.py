"""Hiding and showing comments on the network (a rule's or a CM's decision).

``services.do_hide`` and the rules set ``Interaction.hidden`` (what we want) and queue
``apply_on_network`` after the commit. Here the connector is asked (a transient failure is
retried a few times at once: hiding is idempotent); if the network refuses or still fails,
the row goes back to what the network shows, the conversation stays flagged, and the team is told in plain words (the assignee, else the brand's inbox team).
"""

from __future__ import annotations

import logging
import time

from django.db import transaction
from django.utils.translation import gettext_lazy as _

from tertulia.core import audit, notes, notifications
from tertulia.networks.errors import AuthExpired, ConnectorError, Retryable, Unsupported
from tertulia.networks.services import mark_needs_reconnect

from .models import Conversation, Interaction

log = logging.getLogger(__name__)

ATTEMPTS = 3
MAX_WAIT = 5.0  # seconds

MSG_HIDE_FAILED = _("We could not hide the comment from %(author)s on %(network)s.")
MSG_UNHIDE_FAILED = _("We could not show again the comment from %(author)s on %(network)s.")
MSG_CANNOT_HIDE = _("This network does not let us hide comments.")
MSG_RECONNECT = _("This account needs to be reconnected: the network no longer accepts its sign-in.")


def apply_on_network(interaction_id: int, action: str) -> str:
    """Ask the network to hide or show a comment. Returns "done", "stale" or "failed"."""
    if action not in ("hide", "unhide"):
        return "stale"
    interaction = (Interaction.objects.select_related("account", "brand", "author", "conversation")
                   .filter(pk=interaction_id).first())
    want = action == "hide"
    if interaction is None or interaction.hidden != want or interaction.deleted_at is not None:
        return "stale"  # changed its mind since (a hide then an unhide), or gone
    account = interaction.account
    from tertulia.publishing.engine import connector_for

    from .rules import can_hide

    try:
        if not can_hide(account.network):
            raise Unsupported(MSG_CANNOT_HIDE)
        with connector_for(account) as connector:
            _hide_with_retries(connector, interaction.external_id, want)
    except ConnectorError as err:
        return _failed(interaction, action, err)
    audit.record(None, f"interaction.{action}_on_network", brand=interaction.brand, obj=interaction, via="system",
                 changes={"hidden": want})
    return "done"


def _hide_with_retries(connector, external_id: str, hidden: bool) -> None:
    """Hiding is idempotent on every network that offers it, so a transient failure is
    retried at once a few times (short waits; a long rate-limit wait is a failure to report)."""
    from tertulia.publishing.engine import backoff

    for attempt in range(1, ATTEMPTS + 1):
        try:
            connector.hide_comment(external_id, hidden)
            return
        except Retryable as err:
            wait = backoff(attempt, err.retry_after)
            if attempt == ATTEMPTS or wait > MAX_WAIT:
                raise
            time.sleep(wait)


@transaction.atomic
def _failed(interaction: Interaction, action: str, err: ConnectorError) -> str:
    want = action == "hide"
    log.info("interaction %s: %s failed (%s)", interaction.pk, action, err.log_line())
    account = interaction.account
    if isinstance(err, AuthExpired):
        mark_needs_reconnect(account, notes.english(notes.note(MSG_RECONNECT)))
    # The row says what the network shows: not hidden (or still hidden), and the
    # conversation keeps its flag so someone looks at it.
    Interaction.objects.filter(pk=interaction.pk, hidden=want).update(hidden=not want)
    Conversation.objects.filter(pk=interaction.conversation_id).update(flagged=True)
    template = MSG_HIDE_FAILED if want else MSG_UNHIDE_FAILED
    message = notes.note(template, author=interaction.author.handle, network=account.get_network_display()) \
        + notes.note(err.user_message)
    audit.record(None, f"interaction.{action}_failed", brand=interaction.brand, obj=interaction, via="system",
                 changes={"reason": err.log_line()[:300]})
    from . import sla

    conv = interaction.conversation
    recipients = [conv.assignee] if conv.assignee_id else sla.watchers(interaction.brand_id)
    notifications.notify(recipients, kind="inbox.hide_failed", message=message, link=sla.conversation_link(conv),
                         brand=interaction.brand)
    return "failed"
