"""Answers written in the inbox: stored first, sent at most once, never lost.

``do_reply`` checks the text against the network's rules and stores an ``OutgoingReply``
(``queued``, with a fresh idempotency marker that every attempt reuses); the send task is
queued after the commit. ``send`` then:

1. claims the row with one conditional UPDATE (``queued`` -> ``sending``, attempts + 1, a lease
   in ``next_attempt_at``), so two consumers holding the same task send it once;
2. calls ``connector.reply(to, text, marker=...)``;
3. on success stores the network's id, ``sent``, and ingests our answer as an outbound
   interaction: the conversation gets its first response (the SLA timer stops) and waits for
   the customer (``pending``);
4. on failure, by the error's class:
   - ``Retryable`` / ``RateLimited``: back to ``queued`` with a capped, jittered backoff (at least
     what the network asked for), until the attempts run out -> ``failed``;
   - ``AuthExpired``: the account needs reconnecting (the team is told); the reply stays
     ``queued`` and waits, with a plain note, and goes out once the account is reconnected;
   - ``Permanent``: ``failed`` with the network's reason; the writer is told;
   - ``Ambiguous``: the request may have reached the network. We look for it
     (``find_published``: marker, reply target and text). Found -> ``sent``; not there -> an
     ordinary retry; cannot look -> ``failed`` with "we cannot tell whether it went out".
     Never re-sent blindly.

``sweep`` (every minute) sends queued replies whose task was lost or whose retry is due, and
takes over ``sending`` rows whose lease ran out (a consumer died mid-call) only through the
same look-up: a reply is never sent twice and never silently lost.
"""

from __future__ import annotations

import logging
import re
import secrets
import unicodedata
from datetime import timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from tertulia.core import notes, notifications, roles
from tertulia.core.services import Ctx, _log, _require
from tertulia.networks.base import PostPayload, PublishedRef
from tertulia.networks.errors import Ambiguous, AuthExpired, ConnectorError, Permanent, RateLimited
from tertulia.networks.models import SocialAccount
from tertulia.publishing.clock import db_now

from .models import Conversation, Interaction, OutgoingReply

log = logging.getLogger(__name__)
R = OutgoingReply.State

MAX_LENGTH = 10000
SWEEP_BATCH = 200
# A queued reply with no retry time is normally sent by its own task right after the commit;
# the sweeper only picks it up after this long (its task was lost).
LOST_AFTER = timedelta(seconds=30)

MSG_EMPTY = _("Write something before sending.")
MSG_TOO_LONG = _("This reply is %(length)s characters long; the limit is %(limit)s.")
MSG_NOTHING_TO_ANSWER = _("There is no message in this conversation to answer.")
MSG_NOT_IN_CONVERSATION = _("That message is not part of this conversation.")
MSG_WAITING_RECONNECT = _("Waiting: the account needs to be reconnected. The reply goes out once it is.")
MSG_GAVE_UP = _("We tried %(count)s times and the network did not accept the reply. Its last answer:")
MSG_UNCONFIRMED = _("We cannot tell whether this reply went out; check on the network. If it is not there, "
                    "retry it.")
MSG_NOT_RETRYABLE = _("Only a reply that was not sent can be retried.")
MSG_REPLY_FAILED = _("Your reply to %(author)s on %(network)s was not sent.")
MSG_RECONNECT = _("This account needs to be reconnected: the network no longer accepts its sign-in.")


def conf(key: str):
    return settings.PUBLISHING[key]


def new_marker() -> str:
    return secrets.token_hex(16)


# -- writing a reply ----------------------------------------------------------------------------------

def text_problems(account: SocialAccount, text: str) -> list[str]:
    """The network's objections to ``text`` as a reply (the composer's rules)."""
    from tertulia.content.text_rules import NETWORKS, validate
    from tertulia.publishing.services import text_rule_options

    text = text.strip()
    if not text:
        return [str(MSG_EMPTY)]
    if len(text) > MAX_LENGTH:
        return [str(MSG_TOO_LONG) % {"length": len(text), "limit": MAX_LENGTH}]
    if account.network not in NETWORKS:
        return []
    result = validate(account.network, text, has_media=False, **text_rule_options(account))
    return [str(p.message) for p in result.problems]


def _default_target(conversation: Conversation) -> Interaction | None:
    return (Interaction.objects.filter(conversation=conversation, direction=Interaction.Direction.INBOUND,
                                       deleted_at__isnull=True).order_by("-created_at", "-pk").first())


DUPLICATE_WINDOW = timedelta(minutes=2)


@transaction.atomic
def do_reply(ctx: Ctx, conversation: Conversation, text: str, *, in_reply_to: Interaction | None = None
             ) -> OutgoingReply:
    """Queue an answer in a conversation (REPLY). It goes out after the commit."""
    brand = conversation.brand
    _require(ctx, brand, roles.REPLY)
    conversation = Conversation.objects.select_related("account").get(pk=conversation.pk, brand=brand)
    text = (text or "").strip()
    problems = text_problems(conversation.account, text)
    if problems:
        raise ValidationError({"text": problems})
    _whatsapp_rules(conversation, text)
    if in_reply_to is not None:
        if in_reply_to.conversation_id != conversation.pk:
            raise ValidationError({"in_reply_to": MSG_NOT_IN_CONVERSATION})
    else:
        in_reply_to = _default_target(conversation)
    if in_reply_to is None and not conversation.root_external_id:
        raise ValidationError(MSG_NOTHING_TO_ANSWER)
    # A double click, or a browser or API client sending the same POST again, must not answer
    # the customer twice: the same text from the same person in the same conversation within
    # DUPLICATE_WINDOW is the reply already queued (unless that one failed).
    Conversation.objects.select_for_update().filter(pk=conversation.pk).exists()
    same = (OutgoingReply.objects.filter(conversation=conversation, created_by=ctx.user, text=text,
                                         created_at__gte=timezone.now() - DUPLICATE_WINDOW)
            .exclude(state=OutgoingReply.State.FAILED).order_by("-pk").first())
    if same is not None:
        return same
    account = conversation.account
    waiting = account.status != SocialAccount.Status.CONNECTED
    reply = OutgoingReply.objects.create(
        brand=brand, conversation=conversation, in_reply_to=in_reply_to, account=account, text=text,
        marker=new_marker(), created_by=ctx.user, error=notes.source(MSG_WAITING_RECONNECT) if waiting else "",
    )
    _log(ctx, "reply.create", brand=brand, obj=reply,
         changes={"conversation": conversation.pk, "length": len(text)})
    if not waiting:
        _enqueue(reply.pk)
    if account.network == "whatsapp":
        from tertulia.networks.whatsapp.services import request_mark_read

        request_mark_read(conversation)
    return reply


def _whatsapp_rules(conversation: Conversation, text: str) -> None:
    """WhatsApp's 24-hour customer-service window and text limit, for free-form replies
    (templates go through ``networks.whatsapp.services.do_send_template``)."""
    if conversation.account.network == "whatsapp":
        from tertulia.networks.whatsapp.services import check_free_text

        check_free_text(conversation, text)


@transaction.atomic
def do_retry_reply(ctx: Ctx, reply: OutgoingReply) -> OutgoingReply:
    """Send a reply that failed again (after the person checked it is not on the network, or
    fixed the cause). A conditional UPDATE: two clicks queue it once."""
    brand = reply.brand
    _require(ctx, brand, roles.REPLY)
    reply = OutgoingReply.objects.select_related("account").get(pk=reply.pk, brand=brand)
    if reply.state != R.FAILED:
        raise ValidationError(MSG_NOT_RETRYABLE)
    problems = text_problems(reply.account, reply.text)
    if problems:
        raise ValidationError({"text": problems})
    if not reply.template:
        _whatsapp_rules(reply.conversation, reply.text)
    updated = OutgoingReply.objects.filter(pk=reply.pk, state=R.FAILED).update(
        state=R.QUEUED, attempts=0, next_attempt_at=None, error="")
    if not updated:
        raise ValidationError(MSG_NOT_RETRYABLE)
    reply.refresh_from_db()
    _log(ctx, "reply.retry", brand=brand, obj=reply, changes={"state": [R.FAILED, R.QUEUED]})
    _enqueue(reply.pk)
    return reply


def _enqueue(reply_id: int, delay: float | None = None) -> None:
    from . import tasks

    if delay:
        transaction.on_commit(lambda: tasks.send_reply.schedule((reply_id,), delay=delay))
    else:
        transaction.on_commit(lambda: tasks.send_reply(reply_id))


def error_text(reply: OutgoingReply) -> str:
    """The reply's problem in the reader's language where it is one of our messages (the
    network's own words stay as the network wrote them)."""
    from django.utils.translation import gettext

    return gettext(reply.error) if reply.error else ""


# -- saved replies --------------------------------------------------------------------------------------

_VARIABLE = re.compile(r"\{([a-z_]{1,20})\}")


def _clean_value(value: str, size: int = 100) -> str:
    """A name from a network, made safe to paste into our answer: no control or invisible
    characters (direction overrides, zero-width), one line, bounded."""
    value = " ".join((value or "").split())  # line breaks and tabs become spaces
    value = "".join(c for c in value if unicodedata.category(c) not in ("Cc", "Cf"))
    return " ".join(value.split())[:size]


def render_saved_reply(saved, conversation: Conversation, agent) -> str:
    """Fill {name} {handle} {brand} {agent}. Unknown variables stay visible (the person sees
    them and fixes them); values are inserted literally (no format strings, no recursion)."""
    author = conversation.author
    handle = _clean_value(author.handle).lstrip("@")
    agent_name = ""
    if agent is not None:
        agent_name = _clean_value(agent.get_full_name() or agent.first_name or agent.get_username())
    values = {
        "name": _clean_value(author.display_name) or handle,
        "handle": f"@{handle}" if handle else "",
        "brand": _clean_value(conversation.brand.name),
        "agent": agent_name,
    }

    def fill(match: re.Match) -> str:
        value = values.get(match.group(1))
        return value if value else match.group(0)

    return _VARIABLE.sub(fill, saved.text)


# -- sending ----------------------------------------------------------------------------------------------

def _load(reply_id: int) -> OutgoingReply | None:
    return (OutgoingReply.objects.select_related("account", "conversation", "conversation__author",
                                                  "conversation__brand", "in_reply_to", "created_by")
            .filter(pk=reply_id).first())


def _target(reply: OutgoingReply) -> str:
    if reply.account.network == "whatsapp":
        return reply.conversation.root_external_id  # a message goes to the customer's WhatsApp id
    if reply.in_reply_to is not None:
        return reply.in_reply_to.external_id
    return reply.conversation.root_external_id


def send(reply_id: int) -> str:
    """Send one queued reply (the Huey task). Returns what happened, as a word."""
    reply = _load(reply_id)
    if reply is None or reply.state != R.QUEUED:
        return "stale"
    now = db_now()
    if reply.next_attempt_at is not None and reply.next_attempt_at > now:
        return "early"
    account = reply.account
    if reply.conversation.brand.deleted_at is not None:
        return "paused"  # a deleted brand says nothing more; restored, the sweeper sends it
    if account.status != SocialAccount.Status.CONNECTED:
        OutgoingReply.objects.filter(pk=reply.pk, state=R.QUEUED).update(error=notes.source(MSG_WAITING_RECONNECT))
        return "waiting"
    if account.blocked_until is not None and account.blocked_until > now:
        OutgoingReply.objects.filter(pk=reply.pk, state=R.QUEUED).update(next_attempt_at=account.blocked_until)
        return "early"
    lease = now + timedelta(seconds=conf("LEASE_SECONDS"))
    claimed = OutgoingReply.objects.filter(pk=reply.pk, state=R.QUEUED, account__brand__deleted_at__isnull=True).filter(
        Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now)
    ).update(state=R.SENDING, attempts=F("attempts") + 1, next_attempt_at=lease)
    if not claimed:
        return "stale"
    reply.state, reply.next_attempt_at = R.SENDING, lease
    reply.attempts += 1
    to = _target(reply)
    from tertulia.publishing.engine import connector_for

    try:
        with connector_for(account) as connector:
            try:
                if reply.template:
                    t = reply.template
                    ref = connector.send_template(to, t.get("name", ""), t.get("language", ""),
                                                  t.get("params") or (), t.get("names") or ())
                else:
                    ref = connector.reply(to, reply.text, marker=reply.marker)
            except Ambiguous as err:
                return _look_up(reply, connector, err, since=now)
    except ConnectorError as err:
        return _after_error(reply, err)
    return _sent(reply, ref)


def _payloads(reply: OutgoingReply) -> list[PostPayload]:
    """What the reply may look like on the network: as written, and with the mention a network
    adds in front to notify the person (Mastodon does)."""
    to = _target(reply)
    out = [PostPayload(text=reply.text, reply_to=to, marker=reply.marker)]
    handle = reply.conversation.author.handle.lstrip("@")
    if handle and not reply.text.lstrip().startswith("@"):
        out.append(PostPayload(text=f"@{handle} {reply.text}", reply_to=to, marker=reply.marker))
    return out


def _look_up(reply: OutgoingReply, connector, err: ConnectorError, *, since) -> str:
    """The reply may be on the network: look before anything else."""
    log.info("reply %s ambiguous (%s): looking for it on the network", reply.pk, err.log_line())
    try:
        for payload in _payloads(reply):
            ref = connector.find_published(payload, since=since)
            if ref is not None:
                return _sent(reply, ref)
    except ConnectorError as check_err:
        log.info("reply %s: cannot look it up (%s)", reply.pk, check_err.log_line())
        return _failed(reply, notes.note(MSG_UNCONFIRMED), notify=True)
    return _retry(reply, err)


def _claim_held(reply: OutgoingReply):
    """Our claim: still ``sending`` with the attempt count and lease we set."""
    return OutgoingReply.objects.filter(pk=reply.pk, state=R.SENDING, attempts=reply.attempts,
                                        next_attempt_at=reply.next_attempt_at)


def _sent(reply: OutgoingReply, ref: PublishedRef) -> str:
    now = db_now()
    sent_at = ref.published_at or now
    done = _claim_held(reply).update(state=R.SENT, external_id=ref.external_id[:200], sent_at=sent_at, error="",
                                     next_attempt_at=None)
    if not done:
        log.warning("reply %s: sent as %s after losing the claim", reply.pk, ref.external_id)
        return "superseded"
    try:
        _ingest_answer(reply, ref, sent_at)
    except Exception:  # noqa: BLE001 - the reply is sent; the next poll brings it anyway
        log.exception("reply %s: sent, but could not be stored in its conversation", reply.pk)
    return "sent"


def _ingest_answer(reply: OutgoingReply, ref: PublishedRef, sent_at) -> None:
    from .services import IncomingAuthor, IncomingInteraction, ingest_interactions

    account, conv = reply.account, reply.conversation
    me = IncomingAuthor(external_id=account.external_id or account.handle, handle=account.handle,
                        display_name=account.display_name)
    customer = IncomingAuthor(external_id=conv.author.external_id, handle=conv.author.handle,
                              display_name=conv.author.display_name)
    ingest_interactions(account, [IncomingInteraction(
        external_id=ref.external_id, kind=conv.kind, author=me, text=reply.text, created_at=sent_at,
        root_external_id=conv.root_external_id, parent_external_id=_target(reply), direction="out",
        counterpart=customer,
    )])


def _after_error(reply: OutgoingReply, err: ConnectorError) -> str:
    log.info("reply %s attempt %s: %s", reply.pk, reply.attempts, err.log_line())
    if isinstance(err, AuthExpired):
        from tertulia.networks.services import mark_needs_reconnect

        mark_needs_reconnect(reply.account, notes.english(notes.note(MSG_RECONNECT)))
        # Refused at the door: not sent. It waits for the reconnection (the sweeper).
        _claim_held(reply).update(state=R.QUEUED, next_attempt_at=None, error=notes.source(MSG_WAITING_RECONNECT))
        return "needs_reconnect"
    if isinstance(err, Permanent):
        return _failed(reply, notes.note(err.user_message), notify=True)
    if isinstance(err, RateLimited):
        until = db_now() + timedelta(seconds=err.retry_after)
        SocialAccount.objects.filter(pk=reply.account_id).filter(
            Q(blocked_until__isnull=True) | Q(blocked_until__lt=until)).update(blocked_until=until)
    return _retry(reply, err)


def _retry(reply: OutgoingReply, err: ConnectorError) -> str:
    from tertulia.publishing.engine import backoff

    budget = conf("MAX_ATTEMPTS") * (3 if isinstance(err, RateLimited) else 1)
    if reply.attempts >= budget:
        return _failed(reply, notes.note(MSG_GAVE_UP, count=reply.attempts) + notes.note(err.user_message),
                       notify=True)
    delay = backoff(reply.attempts, err.retry_after)
    at = db_now() + timedelta(seconds=delay)
    with transaction.atomic():
        done = _claim_held(reply).update(state=R.QUEUED, next_attempt_at=at,
                                         error=notes.english(notes.note(err.user_message))[:500])
        if done:
            _enqueue(reply.pk, delay=delay)
    return "retry" if done else "superseded"


def _failed(reply: OutgoingReply, message: notes.Note, *, notify: bool) -> str:
    with transaction.atomic():
        done = _claim_held(reply).update(state=R.FAILED, next_attempt_at=None,
                                         error=notes.english(message)[:500])
        if done and notify and reply.created_by_id:
            conv = reply.conversation
            from .sla import conversation_link

            notifications.notify([reply.created_by], kind="inbox.reply_failed", brand=conv.brand,
                                 message=notes.note(MSG_REPLY_FAILED, author=conv.author.handle,
                                                    network=reply.account.get_network_display()) + message,
                                 link=conversation_link(conv))
    return "failed" if done else "superseded"


def reconcile(reply_id: int) -> str:
    """A ``sending`` reply whose lease ran out (its consumer died mid-call): take it over and
    look for it on the network before anything else."""
    reply = _load(reply_id)
    now = db_now()
    if reply is None or reply.state != R.SENDING or reply.next_attempt_at is None or reply.next_attempt_at > now:
        return "stale"
    lease = now + timedelta(seconds=conf("LEASE_SECONDS"))
    if not OutgoingReply.objects.filter(pk=reply.pk, state=R.SENDING, attempts=reply.attempts,
                                        next_attempt_at=reply.next_attempt_at).update(next_attempt_at=lease):
        return "stale"
    reply.next_attempt_at = lease
    lost = Ambiguous(MSG_UNCONFIRMED, detail="lease expired while sending")
    from tertulia.publishing.engine import connector_for

    try:
        with connector_for(reply.account) as connector:
            return _look_up(reply, connector, lost, since=reply.created_at)
    except ConnectorError:
        return _failed(reply, notes.note(MSG_UNCONFIRMED), notify=True)


def sweep(limit: int = SWEEP_BATCH) -> int:
    """Take over stale ``sending`` rows (through the look-up) and send due ``queued`` ones."""
    now = db_now()
    handled = 0
    stale = list(OutgoingReply.objects.filter(state=R.SENDING, next_attempt_at__lt=now)
                 .order_by("next_attempt_at").values_list("pk", flat=True)[:limit])
    for pk in stale:
        if reconcile(pk) != "stale":
            handled += 1
    due = list(
        OutgoingReply.objects.filter(state=R.QUEUED, account__status=SocialAccount.Status.CONNECTED,
                                     account__brand__deleted_at__isnull=True)
        .filter(Q(next_attempt_at__lte=now) | Q(next_attempt_at__isnull=True, created_at__lte=now - LOST_AFTER))
        .filter(Q(account__blocked_until__isnull=True) | Q(account__blocked_until__lte=now))
        .order_by("created_at").values_list("pk", flat=True)[:limit]
    )
    for pk in due:
        if send(pk) not in ("stale", "early"):
            handled += 1
    return handled
