"""WhatsApp's business rules: connecting a number, the 24-hour customer-service window,
approved templates and their parameters, and read receipts. Writes check permissions and go
to the audit log (``do_*``); the network calls are the connector's.

The window (developers.facebook.com/docs/whatsapp/pricing#customer-service-windows): a business
may send free-form messages to a person for 24 hours after that person's last message. Outside
it only an approved template may be sent. We compute it from the customer's newest inbound
message stored in the conversation; the rule is enforced here (``check_free_text``, called by
``inbox.replies.do_reply`` for every reply, page or API), and WhatsApp enforces it again
(error 131047, explained in words).
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Max
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from tertulia.core import roles
from tertulia.core.services import Ctx, _log, _require

from ..errors import ConnectorError
from ..http import HttpConfig, clean_text, publishing_http_config
from ..models import Network, SocialAccount
from ..services import SIGNED_IN_ID
from .connector import MAX_TEMPLATE_PARAM, MAX_TEXT, WhatsAppConnector

log = logging.getLogger(__name__)
WINDOW = timedelta(hours=24)
MAX_TEMPLATE_BODY = 1024
_PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z0-9_]{1,40})\s*\}\}")
_PARAM_FORBIDDEN = re.compile(r"[\n\r\t]| {5,}")
_LANGUAGE = re.compile(r"^[a-z]{2,3}(_[A-Za-z]{2,4})?$")
_TEMPLATE_NAME = re.compile(r"^[a-z0-9_]{1,512}$")

MSG_WINDOW_CLOSED = gettext_lazy(
    "More than 24 hours have passed since the customer last wrote, so WhatsApp only allows an approved "
    "template. Choose one of the templates below; the conversation opens again when the customer answers.")
MSG_NO_INBOUND = gettext_lazy("The customer has not written yet, so only an approved template can be sent.")
MSG_TOO_LONG = gettext_lazy("A WhatsApp message is at most %(limit)s characters; this one has %(length)s.")
MSG_TEMPLATE_NOT_APPROVED = gettext_lazy("Only templates that WhatsApp has approved can be sent.")
MSG_TEMPLATE_UNSUPPORTED = gettext_lazy("Tertulia cannot send this template: %(reason)s")
MSG_PARAM_COUNT = gettext_lazy("This template needs %(count)s values.")
MSG_PARAM_EMPTY = gettext_lazy("Fill in value %(name)s.")
MSG_PARAM_LONG = gettext_lazy("Value %(name)s is too long (at most %(limit)s characters).")
MSG_PARAM_FORMAT = gettext_lazy("Value %(name)s may not contain line breaks, tabs or more than four spaces in a "
                                "row (a WhatsApp rule).")
MSG_BODY_LONG = gettext_lazy("With these values the message is %(length)s characters long; WhatsApp accepts at "
                             "most %(limit)s.")
MSG_WRONG_ACCOUNT = gettext_lazy("This template belongs to another WhatsApp number.")
MSG_NOT_WHATSAPP = gettext_lazy("This conversation is not on WhatsApp.")
MSG_NOT_WHATSAPP_ACCOUNT = gettext_lazy("Only WhatsApp numbers have message templates.")
MSG_BAD_IDS = gettext_lazy("Enter the phone number id and the WhatsApp Business Account id as shown in "
                           "WhatsApp Manager (digits only).")
MSG_NOT_IN_WABA = gettext_lazy("This phone number does not belong to that WhatsApp Business Account, or the token "
                               "cannot see it.")
MSG_TAKEN = gettext_lazy("This WhatsApp number is already connected to this brand.")
# Template features Tertulia does not fill in yet (said plainly in the list).
REASON_MEDIA_HEADER = gettext_lazy("its header is an image, video or document")
REASON_HEADER_VARS = gettext_lazy("its header has variables")
REASON_BUTTON_VARS = gettext_lazy("a button has variables")
REASON_OTHER_FORMAT = gettext_lazy("it is not a standard text template")


# -- the window -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Window:
    last_inbound_at: datetime | None
    closes_at: datetime | None

    @property
    def open(self) -> bool:
        return self.closes_at is not None and timezone.now() < self.closes_at


def window_for(conversation) -> Window:
    from tertulia.inbox.models import Interaction

    last = (Interaction.objects.filter(conversation=conversation, direction=Interaction.Direction.INBOUND)
            .aggregate(last=Max("created_at"))["last"])
    return Window(last, last + WINDOW if last else None)


def check_free_text(conversation, text: str) -> None:
    """A free-form reply on WhatsApp: inside the window, and within WhatsApp's length."""
    if len(text) > MAX_TEXT:
        raise ValidationError({"text": MSG_TOO_LONG % {"limit": MAX_TEXT, "length": len(text)}})
    window = window_for(conversation)
    if not window.open:
        raise ValidationError({"text": str(MSG_WINDOW_CLOSED if window.last_inbound_at else MSG_NO_INBOUND)})


# -- templates -------------------------------------------------------------------------------------


def _component(components: list, kind: str) -> dict:
    for item in components:
        if isinstance(item, dict) and str(item.get("type") or "").upper() == kind:
            return item
    return {}


def template_fields(raw: dict) -> dict | None:
    """Our row's fields from one ``message_templates`` item, or None if it is not usable data."""
    name, language = raw.get("name"), raw.get("language")
    if not isinstance(name, str) or not _TEMPLATE_NAME.match(name) or not isinstance(language, str) \
            or not _LANGUAGE.match(language):
        return None
    components = raw.get("components") if isinstance(raw.get("components"), list) else []
    header, body, footer = (_component(components, k) for k in ("HEADER", "BODY", "FOOTER"))
    buttons = _component(components, "BUTTONS")
    body_text = clean_text(body.get("text") if isinstance(body.get("text"), str) else "", 2000)
    params = list(dict.fromkeys(_PLACEHOLDER.findall(body_text)))
    header_text = clean_text(header.get("text") if isinstance(header.get("text"), str) else "", 200)
    unsupported = ""
    if header and str(header.get("format") or "TEXT").upper() != "TEXT":
        unsupported = str(REASON_MEDIA_HEADER)
    elif _PLACEHOLDER.search(header_text):
        unsupported = str(REASON_HEADER_VARS)
    elif any(isinstance(b, dict) and _PLACEHOLDER.search(str(b.get("url") or ""))
             for b in (buttons.get("buttons") if isinstance(buttons.get("buttons"), list) else [])):
        unsupported = str(REASON_BUTTON_VARS)
    elif not body_text:
        unsupported = str(REASON_OTHER_FORMAT)
    with_english = {"unsupported": unsupported}
    return {"external_id": clean_text(str(raw.get("id") or ""), 64), "category": clean_text(str(raw.get("category") or ""), 32),
            "status": clean_text(str(raw.get("status") or ""), 32).upper(), "header": header_text, "body": body_text,
            "footer": clean_text(footer.get("text") if isinstance(footer.get("text"), str) else "", 200),
            "params": params, **with_english}


def do_sync_templates(ctx: Ctx, account: SocialAccount, *, http_config: HttpConfig | None = None) -> int:
    """Replace the account's templates with WhatsApp's current list. Returns how many. The list is
    read before the transaction opens: on SQLite a write transaction locks the whole database, and
    the HTTP calls may take many seconds."""
    from tertulia.inbox.models import WhatsAppTemplate

    _require(ctx, account.brand, roles.MANAGE_ACCOUNTS)
    if account.network != Network.WHATSAPP:
        raise ValidationError(str(MSG_NOT_WHATSAPP_ACCOUNT))
    with WhatsAppConnector.for_account(account, http_config=http_config or _http_config()) as connector:
        items = connector.fetch_templates()
    now = timezone.now()
    from django.utils.translation import override

    seen = set()
    with transaction.atomic(), override("en"):  # the "why not" reason is stored in English and shown translated
        for raw in items:
            fields = template_fields(raw) if isinstance(raw, dict) else None
            if fields is None or (raw["name"], raw["language"]) in seen:
                continue
            seen.add((raw["name"], raw["language"]))
            WhatsAppTemplate.objects.update_or_create(
                account=account, name=raw["name"], language=raw["language"],
                defaults={**fields, "brand": account.brand, "synced_at": now})
        WhatsAppTemplate.objects.filter(account=account).exclude(synced_at=now).delete()
        _log(ctx, "whatsapp.templates_sync", brand=account.brand, obj=account, changes={"templates": len(seen)})
    return len(seen)


def fill_template(template, values: list[str]) -> str:
    """The template's body with the values in, after checking them (``ValidationError``)."""
    if template.status != "APPROVED":
        raise ValidationError(str(MSG_TEMPLATE_NOT_APPROVED))
    if template.unsupported:
        raise ValidationError(str(MSG_TEMPLATE_UNSUPPORTED) % {"reason": _(template.unsupported)})
    names = list(template.params or [])
    if len(values) != len(names):
        raise ValidationError({"params": str(MSG_PARAM_COUNT) % {"count": len(names)}})
    cleaned = {}
    for name, value in zip(names, values, strict=True):
        value = value.strip() if isinstance(value, str) else ""
        label = "{{%s}}" % name
        if not value:
            raise ValidationError({"params": str(MSG_PARAM_EMPTY) % {"name": label}})
        if len(value) > MAX_TEMPLATE_PARAM:
            raise ValidationError({"params": str(MSG_PARAM_LONG) % {"name": label, "limit": MAX_TEMPLATE_PARAM}})
        if _PARAM_FORBIDDEN.search(value):
            raise ValidationError({"params": str(MSG_PARAM_FORMAT) % {"name": label}})
        cleaned[name] = value
    body = _PLACEHOLDER.sub(lambda m: cleaned.get(m.group(1), m.group(0)), template.body)
    if len(body) > MAX_TEMPLATE_BODY:
        raise ValidationError({"params": str(MSG_BODY_LONG) % {"length": len(body), "limit": MAX_TEMPLATE_BODY}})
    return body


@transaction.atomic
def do_send_template(ctx: Ctx, conversation, template, values: list[str]):
    """Queue an approved template in a WhatsApp conversation (REPLY), at any time (inside or
    outside the window). Sent once, like every inbox reply (``inbox.replies``)."""
    from tertulia.core import notes
    from tertulia.inbox import replies
    from tertulia.inbox.models import Conversation, OutgoingReply

    brand = conversation.brand
    _require(ctx, brand, roles.REPLY)
    conversation = Conversation.objects.select_related("account").get(pk=conversation.pk, brand=brand)
    if conversation.account.network != Network.WHATSAPP:
        raise ValidationError(str(MSG_NOT_WHATSAPP))
    if template.account_id != conversation.account_id:
        raise ValidationError(str(MSG_WRONG_ACCOUNT))
    body = fill_template(template, list(values))
    names = list(template.params or [])
    positional = all(n.isdigit() for n in names)
    Conversation.objects.select_for_update().filter(pk=conversation.pk).exists()
    payload = {"name": template.name, "language": template.language, "params": [v.strip() for v in values],
               "names": [] if positional else names}
    same = (OutgoingReply.objects.filter(conversation=conversation, created_by=ctx.user, text=body,
                                         created_at__gte=timezone.now() - replies.DUPLICATE_WINDOW)
            .exclude(state=OutgoingReply.State.FAILED).order_by("-pk").first())
    if same is not None:
        return same  # a double click
    account = conversation.account
    waiting = account.status != SocialAccount.Status.CONNECTED
    reply = OutgoingReply.objects.create(
        brand=brand, conversation=conversation, in_reply_to=None, account=account, text=body, template=payload,
        marker=replies.new_marker(), created_by=ctx.user,
        error=notes.source(replies.MSG_WAITING_RECONNECT) if waiting else "")
    _log(ctx, "reply.create", brand=brand, obj=reply,
         changes={"conversation": conversation.pk, "template": f"{template.name}/{template.language}"})
    if not waiting:
        replies._enqueue(reply.pk)
    request_mark_read(conversation)
    return reply


# -- read receipts ---------------------------------------------------------------------------------


def request_mark_read(conversation) -> None:
    """After the commit: tell WhatsApp the customer's newest message was read (blue ticks)."""
    if conversation.account.network != Network.WHATSAPP:
        return
    from tertulia.inbox.models import Interaction, WhatsAppMessage

    newest = (Interaction.objects.filter(conversation=conversation, direction=Interaction.Direction.INBOUND)
              .order_by("-created_at", "-pk").values_list("pk", flat=True).first())
    if newest is None or not WhatsAppMessage.objects.filter(interaction_id=newest, read_sent_at__isnull=True).exists():
        return  # already marked (or nothing to mark): no task
    from . import tasks

    transaction.on_commit(lambda: tasks.mark_read(conversation.pk))


def mark_read(conversation_id: int) -> str:
    """The newest inbound message not yet marked (WhatsApp marks the earlier ones with it).
    Claimed with a conditional UPDATE, so two open tabs send one receipt."""
    from tertulia.inbox.models import Interaction, WhatsAppMessage
    from tertulia.publishing.engine import connector_for

    newest = (Interaction.objects.filter(conversation_id=conversation_id, direction=Interaction.Direction.INBOUND,
                                         account__network=Network.WHATSAPP)
              .select_related("account").order_by("-created_at", "-pk").first())
    if newest is None or newest.account.status != SocialAccount.Status.CONNECTED:
        return "nothing"
    if newest.created_at < timezone.now() - timedelta(days=30):
        return "old"  # WhatsApp only accepts read receipts for recent messages
    claimed = WhatsAppMessage.objects.filter(interaction=newest, read_sent_at__isnull=True).update(
        read_sent_at=timezone.now())
    if not claimed:
        return "done"
    try:
        with connector_for(newest.account) as connector:
            connector.mark_read(newest.external_id)
    except ConnectorError as err:
        log.info("whatsapp: read receipt for %s not sent: %s", newest.pk, err.log_line())
        WhatsAppMessage.objects.filter(interaction=newest).update(read_sent_at=None)
        return "failed"
    return "sent"


# -- connecting ------------------------------------------------------------------------------------


def _http_config() -> HttpConfig:
    return publishing_http_config()


def api_base() -> str:
    from .. import oauth_flow
    from ..meta.graph import GRAPH_BASE_URL

    return oauth_flow.endpoint("whatsapp", "api", GRAPH_BASE_URL)


def do_connect_whatsapp(ctx: Ctx, brand, *, phone_number_id: str, waba_id: str, access_token: str,
                        http_config: HttpConfig | None = None) -> tuple[SocialAccount, bool]:
    """Check the token against WhatsApp (the number exists, the business account owns it),
    subscribe our app to the business account's webhooks, and keep the account. Network calls
    happen before the transaction; nothing is stored if WhatsApp says no (``ConnectorError``)."""
    from tertulia.core import audit

    _require(ctx, brand, roles.MANAGE_ACCOUNTS)
    phone_number_id, waba_id, access_token = phone_number_id.strip(), waba_id.strip(), access_token.strip()
    if not (phone_number_id.isascii() and phone_number_id.isdigit() and waba_id.isascii() and waba_id.isdigit()
            and len(phone_number_id) <= 30 and len(waba_id) <= 30):
        raise ValidationError(str(MSG_BAD_IDS))
    base_url = api_base()
    connector = WhatsAppConnector(base_url=base_url, account_id=phone_number_id, waba_id=waba_id,
                                  http_config=http_config or _http_config(),
                                  account_key=f"whatsapp-connect:{phone_number_id}")
    from ..base import Credentials

    connector.credentials = Credentials(access_token=access_token)
    with connector:
        profile = connector.fetch_profile()
        numbers = connector.business_numbers()
        if not any(str(n.get("id") or "") == phone_number_id for n in numbers):
            raise ValidationError(str(MSG_NOT_IN_WABA))
        try:
            subscribed = connector.subscribe_app()
        except ConnectorError as err:  # the inbox still works once someone subscribes by hand
            log.info("whatsapp: subscribe_app failed: %s", err.log_line())
            subscribed = False
    with transaction.atomic():
        account = (SocialAccount.objects.select_for_update()
                   .filter(brand=brand, network=Network.WHATSAPP, external_id=phone_number_id).first())
        created = account is None
        before = {} if created else audit.snapshot(account, ("handle", "display_name", "external_id", "status"))
        if created:
            account = SocialAccount(brand=brand, network=Network.WHATSAPP)
        account.handle = profile.handle[:200]
        account.display_name = profile.display_name[:200]
        account.external_id = phone_number_id
        account.base_url = base_url
        account.access_token = access_token
        account.refresh_token, account.token_expires_at = "", None
        account.status, account.status_reason = SocialAccount.Status.CONNECTED, ""
        # WhatsApp itself confirmed both ids with this token: what the webhook routing trusts.
        account.options = {**(account.options or {}), SIGNED_IN_ID: phone_number_id, "waba_id": waba_id,
                           "webhooks": bool(subscribed)}
        account.full_clean(validate_constraints=False)
        try:
            with transaction.atomic():
                account.save()
        except IntegrityError:
            raise ValidationError(str(MSG_TAKEN)) from None
        changes = audit.diff(before, audit.snapshot(account, ("handle", "display_name", "external_id", "status")))
        changes["credentials"] = ["none", "connected"] if created else ["kept", "replaced"]
        _log(ctx, "account.connect", brand=brand, obj=account, changes=changes)
    return account, created
