"""API routes for the inbox, under /brands/{brand_id}/…: conversations (filtered and paged by
cursor) with their interactions, replies, the team's actions (assign, status, labels, relabel,
hide), author profiles, and the brand's inbox configuration (saved replies, rules, labels and
service targets).

Thin like the core router: the brand comes from ``scoping.get_brand`` (404 for strangers, 403
for a role or token without the permission), rows only through ``for_user`` after it, and every
write through a ``do_*`` service, which checks again and writes the audit log (via="api"). A
refusal because of the data (an unknown variable in a saved reply, a reply too long for the
network) is a 422 with the reason.
Reading needs VIEW; the team's actions, replies, saved replies and labels need REPLY; rules and
service targets need MANAGE_BRAND.
"""

from datetime import datetime, timedelta
from typing import Literal

from django.core.exceptions import ValidationError
from django.db.models import Count, Max, Q
from django.http import HttpResponse
from django.utils import timezone
from django.utils.translation import gettext as _
from ninja import Field, Query, Router, Schema, Status
from ninja.pagination import paginate

from tertulia.core import roles
from tertulia.core.api import MAX_PAGE, In, Pagination, Patch, Text, _ctx, _one, _responses, _values
from tertulia.core.models import Membership
from tertulia.core.scoping import get_brand
from tertulia.networks.models import Network

from . import config, listing
from .models import (
    Author,
    Conversation,
    InboxRule,
    Interaction,
    Label,
    OutgoingReply,
    SavedReply,
)

router = Router()
TAGS = ["inbox"]
SETTINGS_TAGS = ["inbox settings"]

# --- Schemas: conversations ----------------------------------------------------------------

class InboxAuthorBrief(Schema):
    id: int
    network: str
    handle: str
    display_name: str
    followers: int | None


class ConversationOut(Schema):
    id: int
    brand_id: int
    account_id: int
    network: str
    kind: str
    status: str
    status_label: str
    author: InboxAuthorBrief
    root_external_id: str
    assignee_id: int | None
    last_message_at: datetime
    excerpt: str = Field(description="The start of the newest message (untrusted text).")
    priority: int = Field(description="0..100, the urgency of the newest inbound message.")
    sentiment: str
    intent: str
    language: str
    flagged: bool
    labels: list[str]
    first_response_at: datetime | None
    first_response_due_at: datetime | None
    resolution_due_at: datetime | None
    closed_at: datetime | None
    escalated_at: datetime | None

    @staticmethod
    def resolve_network(obj):
        return obj.account.network

    @staticmethod
    def resolve_status_label(obj):
        return str(obj.get_status_display())

    @staticmethod
    def resolve_excerpt(obj):
        text = getattr(obj, "last_text", None)
        if text is None:
            newest = obj.interactions.order_by("-created_at", "-id").values_list("text", flat=True).first()
            text = (newest or "")[: listing.EXCERPT]
        return text or ""

    @staticmethod
    def resolve_labels(obj):
        return sorted(label.name for label in obj.labels.all())


class InteractionOut(Schema):
    id: int
    conversation_id: int
    account_id: int
    external_id: str
    parent_external_id: str
    direction: str
    author_id: int
    text: str = Field(description="As received from the network (untrusted text).")
    language: str
    created_at: datetime
    received_at: datetime
    edited_at: datetime | None
    deleted_at: datetime | None = Field(description="Deleted on the network: the text is what we saw before.")
    sentiment: str
    intent: str
    toxicity: float | None
    urgency: float | None
    hidden: bool


class OutgoingReplyOut(Schema):
    id: int
    conversation_id: int
    in_reply_to_id: int | None
    account_id: int
    text: str
    state: str
    state_label: str
    attempts: int
    next_attempt_at: datetime | None
    external_id: str
    error: str
    created_by_id: int | None
    created_at: datetime
    sent_at: datetime | None
    # Delivery news from the network (WhatsApp: sent, delivered, read, failed) and, for a
    # WhatsApp template, its name, language and values.
    delivery_status: str = ""
    delivery_status_at: datetime | None = None
    delivery_error: str = ""
    template: dict = Field(default_factory=dict)

    @staticmethod
    def resolve_state_label(obj):
        return str(obj.get_state_display())


DETAIL_MAX = 500  # the newest messages (and replies) a conversation's detail carries


class ConversationDetail(ConversationOut):
    interactions: list[InteractionOut] = Field(description=f"The newest {DETAIL_MAX} messages, oldest first.")
    replies: list[OutgoingReplyOut] = Field(description=f"The newest {DETAIL_MAX} replies, oldest first.")

    @staticmethod
    def resolve_interactions(obj):
        return list(reversed(obj.interactions.order_by("-created_at", "-id")[:DETAIL_MAX]))

    @staticmethod
    def resolve_replies(obj):
        return list(reversed(obj.replies.order_by("-created_at", "-id")[:DETAIL_MAX]))


class ConversationPage(Schema):
    items: list[ConversationOut]
    next_cursor: str = Field(description="Pass as ``after`` for the next page; empty on the last page.")


class ConversationFilter(Schema):
    status: Text(10) = Field(None, description="open (default), pending, closed or all")
    account: Text(12) = Field(None, description="An account id of the brand.")
    network: Text(16) = None
    sentiment: Text(10) = Field(None, description="negative, neutral or positive")
    intent: Text(16) = Field(None, description="question, complaint, praise, request, spam or other")
    assignee: Text(12) = Field(None, description="me, none, or a user id")
    priority: Text(8) = Field(None, description="high (70 and up) or normal")
    label: Text(60) = Field(None, description="A label name.")
    flagged: Text(5) = Field(None, description="1 or 0")
    language: Text(8) = Field(None, description="es, en or other")
    kind: Text(10) = Field(None, description="comment, mention or dm")
    sort: Text(10) = Field(None, description="recent (default), priority, oldest or due")
    after: Text(2000) = Field(None, description="The cursor of the previous page.")
    limit: int = Field(50, ge=1, le=listing.MAX_LIMIT)


class ConversationReplyIn(In):
    text: Text(10000, 1) = Field(None, description="The answer; or leave it out and give ``saved_reply_id``.")
    saved_reply_id: int = Field(None, ge=1, le=2**62,
                                description="Answer with this saved reply, its variables filled for this person.")
    in_reply_to_id: int | None = Field(None, ge=1, le=2**62,
                                       description="The interaction answered; left out: the newest inbound one.")


class ConversationAssignIn(In):
    user_id: int | None = Field(..., ge=1, le=2**62, description="A member who can reply, or null to unassign.")


class ConversationStatusIn(In):
    new_status: Conversation.Status


class ConversationLabelsIn(In):
    add: list[Text(60, 1)] = Field(None, max_length=50, description="Label names to add (created if new).")
    remove: list[Text(60, 1)] = Field(None, max_length=50)


class InteractionRelabelIn(In):
    """The corrected labels; the brand's model learns from each one."""

    sentiment: Interaction.Sentiment = None
    intent: Interaction.Intent = None
    toxic: bool = None


class InteractionHideIn(In):
    hidden: bool = Field(..., description="true hides the comment on the network, false shows it again.")


class InboxAuthorOut(InboxAuthorBrief):
    external_id: str
    first_seen_at: datetime
    account_created_at: datetime | None
    interactions: int
    complaints: int
    complaints_last_30_days: int
    offences: int = Field(description="Messages that scored as toxic or insulting, or that the brand hid.")
    sentiments: dict[str, int]
    last_seen_at: datetime | None
    conversations: list[ConversationOut]


# --- Schemas: configuration ----------------------------------------------------------------

class SavedReplyOut(Schema):
    id: int
    brand_id: int
    title: str
    language: str
    text: str
    variables: list[str] = Field(description="The variables the text uses.")
    updated_at: datetime

    @staticmethod
    def resolve_variables(obj):
        return [v for v in config.VARIABLES if "{%s}" % v in obj.text]


class SavedReplyIn(In):
    title: Text(120, 1)
    language: Literal["es", "en"]
    text: Text(5000, 1) = Field(..., description="May use {name}, {handle}, {brand} and {agent}.")


class SavedReplyPatch(Patch):
    title: Text(120, 1) = None
    language: Literal["es", "en"] = None
    text: Text(5000, 1) = None


class InboxLabelOut(Schema):
    id: int
    brand_id: int
    name: str
    conversations: int

    @staticmethod
    def resolve_conversations(obj):
        count = getattr(obj, "n_conversations", None)
        return obj.conversations.count() if count is None else count


class InboxLabelIn(In):
    name: Text(60, 1)


class InboxRuleConditions(In):
    networks: list[Network] = Field(None, max_length=len(Network.values))
    languages: list[Literal["es", "en"]] = Field(None, max_length=2)
    kinds: list[Conversation.Kind] = Field(None, max_length=3)
    intents: list[Interaction.Intent] = Field(None, max_length=6)
    sentiments: list[Interaction.Sentiment] = Field(None, max_length=3)
    min_toxicity: float = Field(None, ge=0, le=1, allow_inf_nan=False)
    min_urgency: int = Field(None, ge=0, le=100)
    keywords: list[Text(100, 1)] = Field(None, max_length=50, description="Any of these (case and accents ignored).")


class InboxRuleActions(In):
    assign_to: int | None = Field(None, ge=1, le=2**62, description="A member who can reply.")
    labels: list[Text(60, 1)] = Field(None, max_length=20, description="Label names (created if new).")
    hide: bool = Field(None, description="Hide the comment on the network, where it can.")
    flag: bool = None
    escalate: bool = Field(None, description="E-mail the escalation addresses (or the managers).")
    close: bool = None


class InboxRuleOut(Schema):
    id: int
    brand_id: int
    name: str
    position: int
    enabled: bool
    conditions: dict
    actions: dict
    created_at: datetime


class InboxRuleIn(In):
    name: Text(120, 1)
    enabled: bool = True
    conditions: InboxRuleConditions
    actions: InboxRuleActions


class InboxRulePatch(Patch):
    name: Text(120, 1) = None
    enabled: bool = None
    conditions: InboxRuleConditions = None
    actions: InboxRuleActions = None
    position: int = Field(None, ge=0, le=config.MAX_RULES, description="Move the rule to this place (0 = first).")


class InboxSettingsOut(Schema):
    brand_id: int
    first_response_minutes: int
    resolution_minutes: int
    escalation_urgency: int
    escalation_emails: list[str]

    @staticmethod
    def resolve_escalation_emails(obj):
        return config.escalation_emails(obj)


class InboxSettingsIn(In):
    first_response_minutes: int = Field(..., ge=1, le=config.MAX_MINUTES)
    resolution_minutes: int = Field(..., ge=1, le=config.MAX_MINUTES)
    escalation_urgency: int = Field(..., ge=0, le=100)
    escalation_emails: list[Text(254, 3)] = Field(..., max_length=config.MAX_ESCALATION_EMAILS,
                                                  description="Empty: the brand's managers.")


# --- Helpers ------------------------------------------------------------------------------------

def _conversations(request, brand, permission=roles.VIEW):
    return (Conversation.objects.for_user(request.user, permission).filter(brand=brand)
            .select_related("author", "account", "brand").prefetch_related("labels"))


def _conversation(request, brand_id: int, conversation_id: int, permission=roles.VIEW):
    brand = get_brand(request.user, brand_id, permission)
    return brand, _one(_conversations(request, brand, permission), pk=conversation_id)


def _interaction(request, brand_id: int, interaction_id: int, permission=roles.VIEW):
    brand = get_brand(request.user, brand_id, permission)
    return brand, _one(Interaction.objects.for_user(request.user, permission).filter(brand=brand)
                       .select_related("brand", "conversation", "account"), pk=interaction_id)


def _reload(request, brand, conversation_id: int):
    return _one(_conversations(request, brand), pk=conversation_id)


# --- Conversations ------------------------------------------------------------------------------

# What ``ConversationOut`` shows, read as plain values (``_conversation_out``).
_OUT_FIELDS = (
    "pk", "brand_id", "account_id", "account__network", "kind", "status", "author_id", "author__network",
    "author__handle", "author__display_name", "author__followers", "root_external_id", "assignee_id",
    "last_message_at", "priority", "sentiment", "intent", "language", "flagged", "first_response_at",
    "first_response_due_at", "resolution_due_at", "closed_at", "escalated_at",
)
_STATUS_LABELS = dict(Conversation.Status.choices)


def _conversation_out(r: dict) -> dict:
    """``ConversationOut`` of a ``listing.row_values`` row, field for field (the same order,
    values and resolvers), without a model instance per row and per relation."""
    return {
        "id": r["pk"], "brand_id": r["brand_id"], "account_id": r["account_id"], "network": r["account__network"],
        "kind": r["kind"], "status": r["status"], "status_label": str(_STATUS_LABELS.get(r["status"], r["status"])),
        "author": {"id": r["author_id"], "network": r["author__network"], "handle": r["author__handle"],
                   "display_name": r["author__display_name"], "followers": r["author__followers"]},
        "root_external_id": r["root_external_id"], "assignee_id": r["assignee_id"],
        "last_message_at": r["last_message_at"], "excerpt": r["last_text"] or "", "priority": r["priority"],
        "sentiment": r["sentiment"], "intent": r["intent"], "language": r["language"], "flagged": r["flagged"],
        "labels": sorted(r["labels"]), "first_response_at": r["first_response_at"],
        "first_response_due_at": r["first_response_due_at"], "resolution_due_at": r["resolution_due_at"],
        "closed_at": r["closed_at"], "escalated_at": r["escalated_at"],
    }


@router.get("/brands/{brand_id}/conversations", response=_responses(200, ConversationPage), tags=TAGS)
def conversation_list(request, brand_id: int, filters: Query[ConversationFilter], response: HttpResponse):
    """The brand's conversations, filtered like the inbox page; paged by cursor (``after``)."""
    brand = get_brand(request.user, brand_id)
    params = {k: v for k, v in filters.dict().items() if k not in ("after", "limit") and v is not None}
    parsed = listing.parse_filters(params)
    page = listing.conversation_rows(request.user, brand, parsed, after=filters.after or "", limit=filters.limit,
                                     fields=_OUT_FIELDS)
    # The most read list of the API: its rows are plain values shaped like ConversationPage
    # (see _conversation_out) and rendered by the API's own renderer, as ninja would.
    from tertulia.api.api import api  # the root (it imports this module)

    data = {"items": [_conversation_out(r) for r in page.rows], "next_cursor": page.next_cursor}
    response.content = api.renderer.render(request, data, response_status=200)
    return response


@router.get("/brands/{brand_id}/conversations/{conversation_id}", response=_responses(200, ConversationDetail),
            tags=TAGS)
def conversation_get(request, brand_id: int, conversation_id: int):
    """One conversation with all its interactions (oldest first) and the replies written to it."""
    return _conversation(request, brand_id, conversation_id)[1]


@router.post("/brands/{brand_id}/conversations/{conversation_id}/reply", response=_responses(201, OutgoingReplyOut),
             tags=TAGS)
def conversation_reply(request, brand_id: int, conversation_id: int, payload: ConversationReplyIn):
    """Answer through the account's network, with a text or a saved reply. The reply is queued
    and sent in the background; read it back (``/replies/{reply_id}``) to follow its state."""
    from . import replies

    brand, conversation = _conversation(request, brand_id, conversation_id, roles.REPLY)
    in_reply_to = None
    if payload.in_reply_to_id is not None:
        in_reply_to = _one(Interaction.objects.for_user(request.user, roles.REPLY)
                           .filter(brand=brand, conversation=conversation), pk=payload.in_reply_to_id)
    if (payload.text is None) == (payload.saved_reply_id is None):
        raise ValidationError({"text": _("Write the answer or choose a saved reply (one of the two).")})
    text = payload.text
    if payload.saved_reply_id is not None:
        saved = _one(SavedReply.objects.for_user(request.user, roles.REPLY).filter(brand=brand).select_related("brand"),
                     pk=payload.saved_reply_id)
        text = replies.render_saved_reply(saved, conversation, request.user)
    reply = replies.do_reply(_ctx(request), conversation, text, in_reply_to=in_reply_to)
    return Status(201, reply)


@router.post("/brands/{brand_id}/conversations/{conversation_id}/assign", response=_responses(200, ConversationOut),
             tags=TAGS)
def conversation_assign(request, brand_id: int, conversation_id: int, payload: ConversationAssignIn):
    from . import services

    brand, conversation = _conversation(request, brand_id, conversation_id, roles.REPLY)
    user = None
    if payload.user_id is not None:
        membership = (Membership.objects.filter(brand=brand, user_id=payload.user_id, role__in=roles.roles_with(roles.REPLY))
                      .select_related("user").first())
        if membership is None:
            raise ValidationError({"user_id": _("Assign the conversation to a member of this brand who can reply.")})
        user = membership.user
    services.do_assign(_ctx(request), brand, [conversation.pk], user)
    return _reload(request, brand, conversation.pk)


@router.post("/brands/{brand_id}/conversations/{conversation_id}/status", response=_responses(200, ConversationOut),
             tags=TAGS)
def conversation_status(request, brand_id: int, conversation_id: int, payload: ConversationStatusIn):
    """Close, reopen, or mark as waiting for the customer."""
    from . import services

    brand, conversation = _conversation(request, brand_id, conversation_id, roles.REPLY)
    services.do_set_status(_ctx(request), brand, [conversation.pk], payload.new_status.value)
    return _reload(request, brand, conversation.pk)


@router.post("/brands/{brand_id}/conversations/{conversation_id}/labels", response=_responses(200, ConversationOut),
             tags=TAGS)
def conversation_labels(request, brand_id: int, conversation_id: int, payload: ConversationLabelsIn):
    from . import services

    brand, conversation = _conversation(request, brand_id, conversation_id, roles.REPLY)
    if payload.add or payload.remove:
        services.do_label(_ctx(request), brand, [conversation.pk], add=tuple(payload.add or ()),
                          remove=tuple(payload.remove or ()))
    return _reload(request, brand, conversation.pk)


@router.post("/brands/{brand_id}/interactions/{interaction_id}/relabel", response=_responses(200, InteractionOut),
             tags=TAGS)
def interaction_relabel(request, brand_id: int, interaction_id: int, payload: InteractionRelabelIn):
    """Correct the triage of one message; the brand's model learns from it."""
    from . import services

    _brand, interaction = _interaction(request, brand_id, interaction_id, roles.REPLY)
    values = _values(payload)
    ctx = _ctx(request)
    for field in ("sentiment", "intent", "toxic"):
        if field in values:
            value = values[field]
            if field == "toxic":
                value = "yes" if value else "no"
            services.do_relabel(ctx, interaction, field, value)
    interaction.refresh_from_db()
    return interaction


@router.post("/brands/{brand_id}/interactions/{interaction_id}/hide", response=_responses(200, InteractionOut),
             tags=TAGS)
def interaction_hide(request, brand_id: int, interaction_id: int, payload: InteractionHideIn):
    """Hide (or show again) a comment on the network, where the network allows it."""
    from . import services

    _brand, interaction = _interaction(request, brand_id, interaction_id, roles.REPLY)
    services.do_hide(_ctx(request), interaction, payload.hidden)
    interaction.refresh_from_db()
    return interaction


# --- Authors ------------------------------------------------------------------------------------

@router.get("/brands/{brand_id}/authors/{author_id}", response=_responses(200, InboxAuthorOut), tags=TAGS)
def author_get(request, brand_id: int, author_id: int):
    """A person as the brand knows them: their history, sentiment, complaints and offences."""
    from .triage import TOXIC

    brand = get_brand(request.user, brand_id)
    author = _one(Author.objects.for_user(request.user).filter(brand=brand), pk=author_id)
    inbound = Interaction.objects.filter(brand=brand, author=author, direction=Interaction.Direction.INBOUND)
    month_ago = timezone.now() - timedelta(days=30)
    stats = inbound.aggregate(
        interactions=Count("pk"),
        complaints=Count("pk", filter=Q(intent=Interaction.Intent.COMPLAINT)),
        recent=Count("pk", filter=Q(intent=Interaction.Intent.COMPLAINT, created_at__gte=month_ago)),
        offences=Count("pk", filter=Q(toxicity__gte=TOXIC) | Q(hidden=True)),
        last=Max("created_at"),
    )
    sentiments = {row["sentiment"]: row["n"] for row in
                  inbound.exclude(sentiment="").values("sentiment").annotate(n=Count("pk")).order_by()}
    conversations = list(_conversations(request, brand).filter(author=author).order_by("-last_message_at", "-id")[:20])
    return {
        "id": author.pk, "network": author.network, "handle": author.handle, "display_name": author.display_name,
        "followers": author.followers, "external_id": author.external_id, "first_seen_at": author.first_seen_at,
        "account_created_at": author.account_created_at, "interactions": stats["interactions"],
        "complaints": stats["complaints"], "complaints_last_30_days": stats["recent"], "offences": stats["offences"],
        "sentiments": sentiments, "last_seen_at": stats["last"], "conversations": conversations,
    }


# --- Outgoing replies ---------------------------------------------------------------------------

def _reply(request, brand_id: int, reply_id: int, permission=roles.VIEW) -> OutgoingReply:
    brand = get_brand(request.user, brand_id, permission)
    return _one(OutgoingReply.objects.for_user(request.user, permission).filter(brand=brand)
                .select_related("brand", "conversation", "account"), pk=reply_id)


@router.get("/brands/{brand_id}/replies/{reply_id}", response=_responses(200, OutgoingReplyOut), tags=TAGS)
def reply_get(request, brand_id: int, reply_id: int):
    return _reply(request, brand_id, reply_id)


@router.post("/brands/{brand_id}/replies/{reply_id}/retry", response=_responses(200, OutgoingReplyOut), tags=TAGS)
def reply_retry(request, brand_id: int, reply_id: int):
    """Send a reply that failed again (never one that went out, or may have)."""
    from . import replies

    reply = _reply(request, brand_id, reply_id, roles.REPLY)
    result = replies.do_retry_reply(_ctx(request), reply)
    if isinstance(result, OutgoingReply):
        return result
    reply.refresh_from_db()
    return reply


# --- Saved replies ------------------------------------------------------------------------------

@router.get("/brands/{brand_id}/saved-replies", response=_responses(200, list[SavedReplyOut]), tags=SETTINGS_TAGS)
@paginate(Pagination, max_limit=MAX_PAGE)
def saved_reply_list(request, brand_id: int, language: Literal["es", "en"] = None):
    brand = get_brand(request.user, brand_id)
    qs = SavedReply.objects.for_user(request.user).filter(brand=brand)
    if language:
        qs = qs.filter(language=language)
    return qs.order_by("title", "language", "pk")


@router.post("/brands/{brand_id}/saved-replies", response=_responses(201, SavedReplyOut), tags=SETTINGS_TAGS)
def saved_reply_create(request, brand_id: int, payload: SavedReplyIn):
    brand = get_brand(request.user, brand_id, roles.REPLY)
    return Status(201, config.do_save_saved_reply(_ctx(request), brand, None, **_values(payload)))


def _saved(request, brand, saved_reply_id: int, permission=roles.VIEW) -> SavedReply:
    return _one(SavedReply.objects.for_user(request.user, permission).filter(brand=brand).select_related("brand"),
                pk=saved_reply_id)


@router.get("/brands/{brand_id}/saved-replies/{saved_reply_id}", response=_responses(200, SavedReplyOut),
            tags=SETTINGS_TAGS)
def saved_reply_get(request, brand_id: int, saved_reply_id: int):
    return _saved(request, get_brand(request.user, brand_id), saved_reply_id)


@router.patch("/brands/{brand_id}/saved-replies/{saved_reply_id}", response=_responses(200, SavedReplyOut),
              tags=SETTINGS_TAGS)
def saved_reply_update(request, brand_id: int, saved_reply_id: int, payload: SavedReplyPatch):
    brand = get_brand(request.user, brand_id, roles.REPLY)
    saved = _saved(request, brand, saved_reply_id, roles.REPLY)
    return config.do_save_saved_reply(_ctx(request), brand, saved, **_values(payload))


@router.delete("/brands/{brand_id}/saved-replies/{saved_reply_id}", response=_responses(204, None),
               tags=SETTINGS_TAGS)
def saved_reply_delete(request, brand_id: int, saved_reply_id: int):
    brand = get_brand(request.user, brand_id, roles.REPLY)
    config.do_delete_saved_reply(_ctx(request), _saved(request, brand, saved_reply_id, roles.REPLY))
    return Status(204, None)


# --- Labels ---------------------------------------------------------------------------------------

def _labels(request, brand, permission=roles.VIEW):
    return (Label.objects.for_user(request.user, permission).filter(brand=brand).select_related("brand")
            .annotate(n_conversations=Count("conversations")))


@router.get("/brands/{brand_id}/labels", response=_responses(200, list[InboxLabelOut]), tags=SETTINGS_TAGS)
@paginate(Pagination, max_limit=MAX_PAGE)
def label_list(request, brand_id: int):
    return _labels(request, get_brand(request.user, brand_id)).order_by("name", "pk")


@router.post("/brands/{brand_id}/labels", response=_responses(201, InboxLabelOut), tags=SETTINGS_TAGS)
def label_create(request, brand_id: int, payload: InboxLabelIn):
    brand = get_brand(request.user, brand_id, roles.REPLY)
    label = config.do_save_label(_ctx(request), brand, None, name=payload.name)
    return Status(201, _one(_labels(request, brand), pk=label.pk))


@router.get("/brands/{brand_id}/labels/{label_id}", response=_responses(200, InboxLabelOut), tags=SETTINGS_TAGS)
def label_get(request, brand_id: int, label_id: int):
    return _one(_labels(request, get_brand(request.user, brand_id)), pk=label_id)


@router.patch("/brands/{brand_id}/labels/{label_id}", response=_responses(200, InboxLabelOut), tags=SETTINGS_TAGS)
def label_update(request, brand_id: int, label_id: int, payload: InboxLabelIn):
    """Rename a label (conversations keep it under its new name)."""
    brand = get_brand(request.user, brand_id, roles.REPLY)
    label = _one(_labels(request, brand, roles.REPLY), pk=label_id)
    config.do_save_label(_ctx(request), brand, label, name=payload.name)
    return _one(_labels(request, brand), pk=label.pk)


@router.delete("/brands/{brand_id}/labels/{label_id}", response=_responses(204, None), tags=SETTINGS_TAGS)
def label_delete(request, brand_id: int, label_id: int):
    brand = get_brand(request.user, brand_id, roles.REPLY)
    config.do_delete_label(_ctx(request), _one(_labels(request, brand, roles.REPLY), pk=label_id))
    return Status(204, None)


# --- Rules -----------------------------------------------------------------------------------------

def _rule_parts(payload) -> dict:
    values = _values(payload, exclude={"position"})
    for key in ("conditions", "actions"):
        if key in values:
            # What the client sent, without the keys it left out or set to null.
            values[key] = {k: v for k, v in getattr(payload, key).dict(exclude_unset=True).items() if v is not None}
            values[key] = {k: ([getattr(i, "value", i) for i in v] if isinstance(v, list) else v)
                           for k, v in values[key].items()}
    return values


def _rules(request, brand, permission=roles.VIEW):
    return InboxRule.objects.for_user(request.user, permission).filter(brand=brand).select_related("brand")


@router.get("/brands/{brand_id}/inbox-rules", response=_responses(200, list[InboxRuleOut]), tags=SETTINGS_TAGS)
@paginate(Pagination, max_limit=MAX_PAGE)
def rule_list(request, brand_id: int):
    """The brand's rules in the order they run."""
    return _rules(request, get_brand(request.user, brand_id)).order_by("position", "pk")


@router.post("/brands/{brand_id}/inbox-rules", response=_responses(201, InboxRuleOut), tags=SETTINGS_TAGS)
def rule_create(request, brand_id: int, payload: InboxRuleIn):
    """A new rule; it runs after the existing ones."""
    brand = get_brand(request.user, brand_id, roles.MANAGE_BRAND)
    return Status(201, config.do_save_rule(_ctx(request), brand, None, **_rule_parts(payload)))


@router.get("/brands/{brand_id}/inbox-rules/{rule_id}", response=_responses(200, InboxRuleOut), tags=SETTINGS_TAGS)
def rule_get(request, brand_id: int, rule_id: int):
    return _one(_rules(request, get_brand(request.user, brand_id)), pk=rule_id)


@router.patch("/brands/{brand_id}/inbox-rules/{rule_id}", response=_responses(200, InboxRuleOut), tags=SETTINGS_TAGS)
def rule_update(request, brand_id: int, rule_id: int, payload: InboxRulePatch):
    """Change a rule: its name, conditions or actions, enable or disable it, or move it."""
    brand = get_brand(request.user, brand_id, roles.MANAGE_BRAND)
    rule = _one(_rules(request, brand, roles.MANAGE_BRAND), pk=rule_id)
    ctx = _ctx(request)
    values = _rule_parts(payload)
    if values:
        rule = config.do_save_rule(ctx, brand, rule, **values)
    if payload.position is not None:
        ordered = list(_rules(request, brand).order_by("position", "pk").values_list("pk", flat=True))
        config.do_move_rule(ctx, rule, min(payload.position, len(ordered) - 1) - ordered.index(rule.pk))
    return _one(_rules(request, brand), pk=rule.pk)


@router.delete("/brands/{brand_id}/inbox-rules/{rule_id}", response=_responses(204, None), tags=SETTINGS_TAGS)
def rule_delete(request, brand_id: int, rule_id: int):
    brand = get_brand(request.user, brand_id, roles.MANAGE_BRAND)
    config.do_delete_rule(_ctx(request), _one(_rules(request, brand, roles.MANAGE_BRAND), pk=rule_id))
    return Status(204, None)


# --- Service targets ---------------------------------------------------------------------------------

@router.get("/brands/{brand_id}/inbox-settings", response=_responses(200, InboxSettingsOut), tags=SETTINGS_TAGS)
def inbox_settings_get(request, brand_id: int):
    """First-response and resolution targets and escalation (the defaults until set)."""
    brand = get_brand(request.user, brand_id)
    return config.inbox_settings(brand)


@router.put("/brands/{brand_id}/inbox-settings", response=_responses(200, InboxSettingsOut), tags=SETTINGS_TAGS)
def inbox_settings_put(request, brand_id: int, payload: InboxSettingsIn):
    brand = get_brand(request.user, brand_id, roles.MANAGE_BRAND)
    return config.do_save_inbox_settings(_ctx(request), brand, **_values(payload))
