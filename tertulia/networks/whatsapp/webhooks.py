"""WhatsApp Cloud API webhooks (developers.facebook.com/docs/whatsapp/cloud-api/webhooks).

Meta posts ``{"object": "whatsapp_business_account", "entry": [{"id": <WABA id>, "changes":
[{"field": "messages", "value": {...}}]}]}``, signed like every Meta webhook
(``X-Hub-Signature-256``, HMAC-SHA256 of the raw body with the app secret), and retries for days
until it gets a 200. The ``value`` carries ``metadata.phone_number_id`` (our account), and:

- ``messages``: what customers wrote: ``text``, ``image``/``video``/``audio``/``document``/
  ``sticker`` (a media id, MIME type, caption, file name), ``location``, ``contacts``,
  ``reaction``, ``interactive`` (button or list replies), ``button`` (a template's quick reply)
  and anything else, shown as an unsupported message. ``contacts`` names the sender.
- ``statuses``: what happened to the messages we sent (``sent``, ``delivered``, ``read``,
  ``failed`` with ``errors``), recorded on the inbox reply with that message id.

Routing: only accounts whose phone number id *and* WhatsApp Business Account id the Cloud API
confirmed with their own token when they were connected (``options.signed_in_id`` and
``options.waba_id``), and that are still connected. A phone number id nobody connected is
ignored (and answered 200, so Meta stops retrying). Every message becomes a DM through
``inbox.services.ingest_interactions`` (triage, rules and SLA apply), idempotent on the message
id: a retried webhook stores nothing twice. Every value from the body is type-checked and
bounded; an entry or message that does not fit is skipped, not fatal for the rest.
"""

from __future__ import annotations

import json
import logging
import math
import re
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

from django.db import transaction

from ..http import clean_text
from ..models import Network, SocialAccount
from ..services import SIGNED_IN_ID

log = logging.getLogger(__name__)
# What a customer may send is longer than what a business may send (4,096, ``connector.MAX_TEXT``):
# keep it whole (the inbox stores up to 70,000 characters).
MAX_INBOUND_TEXT = 65_536
MAX_BODY = 1024 * 1024
MAX_ITEMS = 1000  # messages + statuses per body
_DIGITS = re.compile(r"^\d{1,30}$")
_WA_ID = re.compile(r"^\d{5,20}$")
_WAMID = re.compile(r"^[A-Za-z0-9_.=+/:-]{1,256}$")
_MEDIA_ID = re.compile(r"^[A-Za-z0-9_.-]{1,128}$")
_MIME = re.compile(r"^[a-z0-9.+-]{1,40}/[a-z0-9.+-]{1,60}$")
MEDIA_TYPES = ("image", "video", "audio", "document", "sticker")
KNOWN_TYPES = frozenset({"text", *MEDIA_TYPES, "location", "contacts", "reaction", "interactive", "button"})
STATUS_RANK = {"sent": 1, "delivered": 2, "read": 3, "failed": 4}


class Malformed(ValueError):
    pass


def _str(value: Any, limit: int = 200) -> str:
    return clean_text(value, limit) if isinstance(value, str) else ""


def _time(value: Any) -> datetime:
    """WhatsApp's ``timestamp`` (Unix seconds, as a string). Missing, garbled or more than a day
    in the future: now (a sender cannot move a conversation's clock forward)."""
    now = datetime.now(timezone.utc)
    if isinstance(value, str) and value.isdigit() and len(value) <= 12:
        try:
            parsed = datetime.fromtimestamp(int(value), timezone.utc)
        except (OverflowError, OSError, ValueError):
            return now
        return parsed if parsed <= now + timedelta(days=1) else now
    return now


def _number(value: Any, low: float, high: float) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) and low <= number <= high else None


@dataclass
class Message:
    """One customer message, ready for the inbox (``interaction``) and its details (``extra``)."""

    interaction: Any  # inbox.services.IncomingInteraction
    extra: dict[str, Any]


@dataclass(frozen=True)
class Status:
    message_id: str
    status: str
    at: datetime
    error: str = ""


@dataclass
class Result:
    ingested: int = 0
    ignored: int = 0
    statuses: int = 0
    accounts: set[int] = field(default_factory=set)

    def __str__(self) -> str:
        return f"ingested={self.ingested} ignored={self.ignored} statuses={self.statuses} accounts={len(self.accounts)}"


def _contact_text(contacts: Any) -> str:
    lines = []
    for card in contacts if isinstance(contacts, list) else []:
        if not isinstance(card, dict) or len(lines) >= 20:
            continue
        name = card.get("name") if isinstance(card.get("name"), dict) else {}
        phones = [p for p in card.get("phones") or [] if isinstance(p, dict)][:5] \
            if isinstance(card.get("phones"), list) else []
        numbers = ", ".join(_str(p.get("phone"), 40) for p in phones if _str(p.get("phone"), 40))
        label = _str(name.get("formatted_name"), 200) or _str(name.get("first_name"), 100)
        lines.append(" ".join(part for part in (label, numbers) if part))
    return "\n".join(line for line in lines if line)


def _message(raw: dict, names: dict[str, str]) -> Message | None:
    from tertulia.inbox.services import IncomingAuthor, IncomingInteraction

    message_id = raw.get("id") if isinstance(raw.get("id"), str) else ""
    sender = raw.get("from") if isinstance(raw.get("from"), str) else ""
    if not _WAMID.match(message_id) or not _WA_ID.match(sender):
        return None
    kind = raw.get("type") if isinstance(raw.get("type"), str) else ""
    kind = kind if kind in KNOWN_TYPES else "unsupported"
    body = raw.get(kind) if isinstance(raw.get(kind), dict) else {}
    extra: dict[str, Any] = {"message_type": kind}
    text = ""
    if kind == "text":
        text = _str(body.get("body"), MAX_INBOUND_TEXT)
    elif kind in MEDIA_TYPES:
        media_id = body.get("id") if isinstance(body.get("id"), str) else ""
        mime = _str(body.get("mime_type"), 100).split(";")[0].strip().lower()
        extra.update(media_id=media_id if _MEDIA_ID.match(media_id) else "",
                     mime_type=mime if _MIME.match(mime) else "",
                     filename=_str(body.get("filename"), 240))
        text = _str(body.get("caption"), 1024)
    elif kind == "location":
        lat, lon = _number(body.get("latitude"), -90, 90), _number(body.get("longitude"), -180, 180)
        if lat is None or lon is None:
            lat = lon = None
        extra.update(latitude=lat, longitude=lon, place_name=_str(body.get("name"), 300),
                     place_address=_str(body.get("address"), 500))
        text = "\n".join(p for p in (extra["place_name"], extra["place_address"]) if p)
    elif kind == "contacts":
        text = _contact_text(raw.get("contacts"))
    elif kind == "reaction":
        text = _str(body.get("emoji"), 20)
    elif kind == "interactive":
        reply = body.get("button_reply") or body.get("list_reply")
        reply = reply if isinstance(reply, dict) else {}
        text = "\n".join(p for p in (_str(reply.get("title"), 200), _str(reply.get("description"), 300)) if p)
    elif kind == "button":
        text = _str(body.get("text"), 200) or _str(body.get("payload"), 200)
    name = names.get(sender, "")
    context = raw.get("context") if isinstance(raw.get("context"), dict) else {}
    parent = context.get("id") if isinstance(context.get("id"), str) and _WAMID.match(context["id"]) else ""
    interaction = IncomingInteraction(
        external_id=message_id, kind="dm",
        author=IncomingAuthor(external_id=sender, handle=f"+{sender}", display_name=name),
        text=text, created_at=_time(raw.get("timestamp")), root_external_id=sender, parent_external_id=parent)
    return Message(interaction, extra)


def _status(raw: dict) -> Status | None:
    message_id = raw.get("id") if isinstance(raw.get("id"), str) else ""
    status = raw.get("status") if isinstance(raw.get("status"), str) else ""
    if not _WAMID.match(message_id) or status not in STATUS_RANK:
        return None
    error = ""
    errors = raw.get("errors") if isinstance(raw.get("errors"), list) else []
    if status == "failed" and errors and isinstance(errors[0], dict):
        error = failure_text(errors[0])
    return Status(message_id, status, _time(raw.get("timestamp")), error)


def failure_text(error: dict) -> str:
    """A failed status's reason, in English (shown translated where it is one of ours)."""
    from django.utils.translation import override

    from .connector import whatsapp_error

    with override("en"):
        mapped = whatsapp_error("GET", 400, {"error": {
            "code": error.get("code") if isinstance(error.get("code"), int) else None,
            "message": _str(error.get("title"), 200) or _str(error.get("message"), 200),
            "error_data": error.get("error_data") if isinstance(error.get("error_data"), dict) else {}}})
        return str(mapped.user_message)[:500] if mapped is not None else ""


def parse(body: bytes) -> tuple[dict[tuple[str, str], list], Result]:
    """``(WABA id, phone number id) -> [Message | Status]`` from a verified body."""
    result = Result()
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise Malformed(str(exc)) from exc
    if not isinstance(data, dict) or not isinstance(data.get("entry"), list):
        raise Malformed("no entry list")
    batches: dict[tuple[str, str], list] = defaultdict(list)
    if data.get("object") != "whatsapp_business_account":
        result.ignored += 1
        return batches, result
    count = 0
    for entry in data["entry"]:
        waba_id = entry.get("id") if isinstance(entry, dict) and isinstance(entry.get("id"), str) else ""
        changes = entry.get("changes") if isinstance(entry, dict) and isinstance(entry.get("changes"), list) else []
        for change in changes:
            value = change.get("value") if isinstance(change, dict) else None
            if not isinstance(value, dict) or change.get("field") != "messages" or not _DIGITS.match(waba_id):
                result.ignored += 1
                continue
            metadata = value.get("metadata") if isinstance(value.get("metadata"), dict) else {}
            phone_id = metadata.get("phone_number_id") if isinstance(metadata.get("phone_number_id"), str) else ""
            if not _DIGITS.match(phone_id):
                result.ignored += 1
                continue
            names = {}
            for contact in value.get("contacts") if isinstance(value.get("contacts"), list) else []:
                if isinstance(contact, dict) and isinstance(contact.get("wa_id"), str):
                    profile = contact.get("profile") if isinstance(contact.get("profile"), dict) else {}
                    names[contact["wa_id"]] = _str(profile.get("name"), 200)
            raw_messages = value.get("messages") if isinstance(value.get("messages"), list) else []
            raw_statuses = value.get("statuses") if isinstance(value.get("statuses"), list) else []
            raw_items = [(_message, m) for m in raw_messages] + [(None, s) for s in raw_statuses]
            for parser, raw in raw_items:
                count += 1
                if count > MAX_ITEMS or not isinstance(raw, dict):
                    result.ignored += 1
                    continue
                item = parser(raw, names) if parser is not None else _status(raw)
                if item is None:
                    result.ignored += 1
                else:
                    batches[(waba_id, phone_id)].append(item)
    return batches, result


def accounts_for(waba_id: str, phone_id: str) -> list[SocialAccount]:
    """Accounts whose number and business account WhatsApp confirmed at connection. One that
    needs reconnecting still receives: storing a message needs the app secret (checked already),
    not the account's token, and WhatsApp is never polled, so a message refused here is lost."""
    return list(SocialAccount.objects.filter(
        network=Network.WHATSAPP, external_id=phone_id,
        status__in=[SocialAccount.Status.CONNECTED, SocialAccount.Status.NEEDS_RECONNECT],
        **{f"options__{SIGNED_IN_ID}": phone_id, "options__waba_id": waba_id}).order_by("pk"))


def handle(body: bytes) -> Result:
    from tertulia.inbox.services import ingest_interactions

    batches, result = parse(body)
    for (waba_id, phone_id), items in batches.items():
        accounts = accounts_for(waba_id, phone_id)
        if not accounts:
            result.ignored += len(items)
            continue
        messages = [m for m in items if isinstance(m, Message)]
        statuses = [s for s in items if isinstance(s, Status)]
        for account in accounts:
            if messages:
                ingest_interactions(account, [m.interaction for m in messages])
                _store_details(account, messages)
                result.ingested += len(messages)
            if statuses:
                result.statuses += record_statuses(account, statuses)
            result.accounts.add(account.pk)
    return result


def _store_details(account: SocialAccount, messages: list[Message]) -> None:
    """The type, media and location of each stored message (once: a replay adds nothing)."""
    from tertulia.inbox.models import Interaction, WhatsAppMessage

    by_id = {m.interaction.external_id: m.extra for m in messages}
    rows = Interaction.objects.filter(account=account, external_id__in=list(by_id)).values_list("pk", "external_id")
    WhatsAppMessage.objects.bulk_create(
        [WhatsAppMessage(brand_id=account.brand_id, interaction_id=pk, **by_id[ext]) for pk, ext in rows],
        ignore_conflicts=True)


def record_statuses(account: SocialAccount, statuses: list[Status]) -> int:
    """Delivery news on our replies. A status only moves forward (sent < delivered < read;
    failed wins), so webhooks arriving out of order or twice leave the latest truth."""
    from tertulia.inbox.models import OutgoingReply

    changed = 0
    with transaction.atomic():
        replies = {r.external_id: r for r in OutgoingReply.objects.select_for_update().filter(
            account=account, external_id__in=[s.message_id for s in statuses])}
        for status in statuses:
            reply = replies.get(status.message_id)
            if reply is None:
                continue
            if STATUS_RANK[status.status] <= STATUS_RANK.get(reply.delivery_status, 0):
                continue
            reply.delivery_status, reply.delivery_status_at = status.status, status.at
            reply.delivery_error = status.error
            reply.save(update_fields=["delivery_status", "delivery_status_at", "delivery_error"])
            changed += 1
    return changed
