"""API routes for WhatsApp, under /brands/{brand_id}/…: the message templates of the brand's
numbers, a conversation's 24-hour window, and sending an approved template. Free-form replies use
the inbox's ``/conversations/{conversation_id}/reply``, which refuses them outside the window
(422 with the reason), exactly like the page.

Thin: the brand comes from ``scoping.get_brand`` (404 for strangers), rows through ``for_user``
after it, writes through ``services.do_*``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from ninja import Field, Router, Schema, Status

from tertulia.core import roles
from tertulia.core.api import In, Text, _ctx, _one, _responses
from tertulia.core.scoping import get_brand
from tertulia.inbox.api import OutgoingReplyOut

from ..models import Network, SocialAccount
from . import services

router = Router()
TAGS = ["whatsapp"]


class TemplateOut(Schema):
    id: int
    account_id: int
    name: str
    language: str
    category: str
    status: str
    header: str
    body: str
    footer: str
    params: list[str]
    sendable: bool
    unsupported: str
    synced_at: datetime

    @staticmethod
    def resolve_sendable(obj):
        return obj.status == "APPROVED" and not obj.unsupported


class WindowOut(Schema):
    applies: bool = Field(..., description="False for conversations that are not on WhatsApp.")
    open: bool
    last_inbound_at: datetime | None
    closes_at: datetime | None


class TemplateSendIn(In):
    template_id: int = Field(..., ge=1, le=2**62)
    params: list[Annotated[str, Text(1024)]] = Field(default_factory=list, max_length=20,
                                                     description="The body's values, in order.")


class SyncOut(Schema):
    templates: int


def _conversation(request, brand_id: int, conversation_id: int, permission=roles.VIEW):
    from tertulia.inbox.models import Conversation

    brand = get_brand(request.user, brand_id, permission)
    return brand, _one(Conversation.objects.for_user(request.user, permission).filter(brand=brand)
                       .select_related("account", "brand"), pk=conversation_id)


@router.get("/brands/{brand_id}/whatsapp/templates", response=_responses(200, list[TemplateOut]), tags=TAGS)
def template_list(request, brand_id: int):
    """Every message template of the brand's WhatsApp numbers, as last synced."""
    from tertulia.inbox.models import WhatsAppTemplate

    brand = get_brand(request.user, brand_id, roles.VIEW)
    return list(WhatsAppTemplate.objects.for_user(request.user).filter(brand=brand)[:2000])


@router.post("/brands/{brand_id}/accounts/{account_id}/whatsapp/templates/sync", response=_responses(200, SyncOut),
             tags=TAGS)
def template_sync(request, brand_id: int, account_id: int):
    """Read the number's templates from WhatsApp again (MANAGE_ACCOUNTS)."""
    from django.core.exceptions import ValidationError

    from ..errors import ConnectorError

    brand = get_brand(request.user, brand_id, roles.MANAGE_ACCOUNTS)
    account = _one(SocialAccount.objects.for_user(request.user, roles.MANAGE_ACCOUNTS).filter(brand=brand),
                   pk=account_id)
    if account.network != Network.WHATSAPP:
        raise ValidationError(str(services.MSG_NOT_WHATSAPP_ACCOUNT))
    try:
        count = services.do_sync_templates(_ctx(request), account)
    except ConnectorError as err:
        raise ValidationError(str(err.user_message)) from None
    return {"templates": count}


@router.get("/brands/{brand_id}/conversations/{conversation_id}/whatsapp-window", response=_responses(200, WindowOut),
            tags=TAGS)
def conversation_window(request, brand_id: int, conversation_id: int):
    """Whether free-form replies are allowed now (24 hours after the customer's last message)."""
    _brand, conversation = _conversation(request, brand_id, conversation_id)
    if conversation.account.network != Network.WHATSAPP:
        return {"applies": False, "open": True, "last_inbound_at": None, "closes_at": None}
    window = services.window_for(conversation)
    return {"applies": True, "open": window.open, "last_inbound_at": window.last_inbound_at,
            "closes_at": window.closes_at}


@router.post("/brands/{brand_id}/conversations/{conversation_id}/whatsapp-template",
             response=_responses(201, OutgoingReplyOut), tags=TAGS)
def conversation_template(request, brand_id: int, conversation_id: int, payload: TemplateSendIn):
    """Send an approved template in a WhatsApp conversation (allowed at any time). Queued and sent
    in the background like any reply: follow it at ``/replies/{reply_id}``."""
    from tertulia.inbox.models import WhatsAppTemplate

    from django.core.exceptions import ValidationError

    _brand, conversation = _conversation(request, brand_id, conversation_id, roles.REPLY)
    if conversation.account.network != Network.WHATSAPP:
        raise ValidationError(str(services.MSG_NOT_WHATSAPP))
    template = _one(WhatsAppTemplate.objects.for_user(request.user, roles.REPLY)
                    .filter(brand=conversation.brand, account=conversation.account_id), pk=payload.template_id)
    reply = services.do_send_template(_ctx(request), conversation, template, payload.params)
    return Status(201, reply)
