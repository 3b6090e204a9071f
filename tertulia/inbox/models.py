"""Conversations and the interactions in them (comments, mentions, DMs)."""

from django.conf import settings
from django.db import models
from django.db.models.functions import Upper
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from tertulia.core.models import Brand, BrandScopedModel
from tertulia.networks.models import Network, SocialAccount


# Ingestion writes these tables at tens of thousands of rows a second, and every index costs
# on each insert. Foreign keys whose column already leads a composite or unique index get no
# index of their own (db_index=False): the composite one serves those lookups.


class Author(BrandScopedModel):
    """A person on a network, as seen by one brand (history, sentiment, offences)."""

    brand = models.ForeignKey(Brand, on_delete=models.CASCADE, related_name="+", db_index=False)
    network = models.CharField(max_length=16, choices=Network.choices)
    external_id = models.CharField(max_length=200)
    handle = models.CharField(max_length=200)
    display_name = models.CharField(max_length=200, blank=True)
    followers = models.PositiveIntegerField(null=True, blank=True)
    account_created_at = models.DateTimeField(null=True, blank=True)
    first_seen_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["brand", "network", "external_id"], name="uniq_author")
        ]
        # The same person on the brand's other networks (the conversation page): by handle,
        # case-insensitive.
        indexes = [models.Index(models.F("brand"), Upper("handle"), name="inbox_author_handle_ci")]

    def __str__(self) -> str:
        return self.handle


class Conversation(BrandScopedModel):
    class Kind(models.TextChoices):
        COMMENT = "comment", _("Comment")
        MENTION = "mention", _("Mention")
        DM = "dm", _("Direct message")

    class Status(models.TextChoices):
        OPEN = "open", _("Open")
        PENDING = "pending", _("Waiting for the customer")
        CLOSED = "closed", _("Closed")

    brand = models.ForeignKey(Brand, on_delete=models.CASCADE, related_name="conversations", db_index=False)
    account = models.ForeignKey(SocialAccount, on_delete=models.CASCADE, related_name="conversations",
                                db_index=False)
    kind = models.CharField(max_length=16, choices=Kind.choices)
    author = models.ForeignKey(Author, on_delete=models.CASCADE, related_name="conversations")
    root_external_id = models.CharField(max_length=200, blank=True)  # the post commented on, or the DM thread
    # Three values: an index of its own would not pay for itself; (brand, status, ...) below does.
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.OPEN)
    assignee = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    last_message_at = models.DateTimeField()
    first_response_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    # Triage of the conversation, from its newest inbound message (kept by inbox.triage), so
    # that the list filters and sorts on one table.
    priority = models.PositiveSmallIntegerField(default=0, db_default=0)  # 0..100, the urgency score
    sentiment = models.CharField(max_length=8, blank=True, default="", db_default="")
    intent = models.CharField(max_length=16, blank=True, default="", db_default="")
    language = models.CharField(max_length=8, blank=True, default="", db_default="")
    flagged = models.BooleanField(default=False, db_default=False)  # toxic, or from a known troll
    labels = models.ManyToManyField("Label", blank=True, related_name="conversations")
    # SLA: when the team owes its first answer and the resolution (None: no target / not owed)
    first_response_due_at = models.DateTimeField(null=True, blank=True)
    resolution_due_at = models.DateTimeField(null=True, blank=True)
    breach_notified_at = models.DateTimeField(null=True, blank=True)
    escalated_at = models.DateTimeField(null=True, blank=True)
    # When the customer first wrote: the earliest inbound message's created_at (None until they
    # have). Kept by ingestion (the MIN with the stored value, so a late-arriving earlier message
    # moves it back) and by Interaction.save; the inbox metrics count "received" by it.
    opened_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        # The inbox list (inbox.listing) walks one of these per brand and stops after a page:
        # by status and recency (the default), by recency across statuses, by priority, and
        # by the SLA's due time. The id ends each one because it breaks ties in the order.
        indexes = [
            models.Index(fields=["brand", "status", "last_message_at", "id"], name="inbox_conv_status_recent"),
            models.Index(fields=["brand", "last_message_at", "id"], name="inbox_conv_recent"),
            models.Index(fields=["brand", "status", "priority", "last_message_at", "id"],
                         name="inbox_conv_status_priority"),
            models.Index(fields=["brand", "status", "first_response_due_at", "id"], name="inbox_conv_status_due"),
            # The inbox metrics of a period (analytics.inbox_metrics): by when the customer first
            # wrote, covering the columns they read, so the table itself is never visited.
            models.Index(fields=["brand", "opened_at", "first_response_at", "closed_at", "status",
                                 "first_response_due_at"], name="inbox_conv_opened"),
        ]
        constraints = [
            models.UniqueConstraint(fields=["account", "kind", "author", "root_external_id"], name="uniq_conversation")
        ]


class Interaction(BrandScopedModel):
    class Direction(models.TextChoices):
        INBOUND = "in", _("Received")
        OUTBOUND = "out", _("Sent")

    class Sentiment(models.TextChoices):
        NEGATIVE = "negative", _("Negative")
        NEUTRAL = "neutral", _("Neutral")
        POSITIVE = "positive", _("Positive")

    class Intent(models.TextChoices):
        QUESTION = "question", _("Question")
        COMPLAINT = "complaint", _("Complaint")
        PRAISE = "praise", _("Praise")
        REQUEST = "request", _("Request")
        SPAM = "spam", _("Spam")
        OTHER = "other", _("Other")

    brand = models.ForeignKey(Brand, on_delete=models.CASCADE, related_name="+", db_index=False)
    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE, related_name="interactions")
    account = models.ForeignKey(SocialAccount, on_delete=models.CASCADE, related_name="+", db_index=False)
    external_id = models.CharField(max_length=200)
    parent_external_id = models.CharField(max_length=200, blank=True)
    direction = models.CharField(max_length=3, choices=Direction.choices, default=Direction.INBOUND)
    author = models.ForeignKey(Author, on_delete=models.CASCADE, related_name="interactions")
    text = models.TextField(max_length=70000)
    language = models.CharField(max_length=8, blank=True)
    created_at = models.DateTimeField()  # on the network
    received_at = models.DateTimeField(default=timezone.now)
    edited_at = models.DateTimeField(null=True, blank=True)
    deleted_at = models.DateTimeField(null=True, blank=True)
    # Triage (filled by the nlp models)
    sentiment = models.CharField(max_length=8, blank=True, choices=Sentiment.choices)
    intent = models.CharField(max_length=16, blank=True, choices=Intent.choices)
    toxicity = models.FloatField(null=True, blank=True)  # 0..1; trolls and insults score high
    urgency = models.FloatField(null=True, blank=True)
    hidden = models.BooleanField(default=False, db_default=False)  # hidden on the network (by a rule or a CM)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["account", "external_id"], name="uniq_interaction")
        ]
        indexes = [
            models.Index(fields=["brand", "-created_at"]),
            # Covers the dashboard's sentiment mix (inbound messages of a period by sentiment).
            models.Index(fields=["brand", "created_at", "direction", "sentiment"], name="inbox_inter_sentiment"),
        ]

    def save(self, *args, **kwargs):
        """Ingestion inserts in bulk and keeps ``Conversation.opened_at`` itself; a row saved one
        at a time (tests, fixtures, the admin) recomputes it from the conversation's messages."""
        super().save(*args, **kwargs)
        fields = kwargs.get("update_fields")
        if fields is None or {"created_at", "direction", "conversation", "conversation_id"} & set(fields):
            first = (Interaction.objects.filter(conversation_id=models.OuterRef("pk"),
                                                direction=Interaction.Direction.INBOUND)
                     .order_by().values("conversation_id").annotate(m=models.Min("created_at")).values("m"))
            Conversation.objects.filter(pk=self.conversation_id).update(opened_at=models.Subquery(first))


class Label(BrandScopedModel):
    brand = models.ForeignKey(Brand, on_delete=models.CASCADE, related_name="+", db_index=False)
    name = models.CharField(_("name"), max_length=60)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["brand", "name"], name="uniq_label")]
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class InboxSettings(BrandScopedModel):
    """A brand's service targets and escalation."""

    brand = models.OneToOneField(Brand, on_delete=models.CASCADE, related_name="inbox_settings")
    first_response_minutes = models.PositiveIntegerField(_("first response within (minutes)"), default=60)
    resolution_minutes = models.PositiveIntegerField(_("resolved within (minutes)"), default=24 * 60)
    escalation_urgency = models.PositiveSmallIntegerField(
        _("escalate complaints from this urgency (0-100)"), default=80)
    escalation_emails = models.TextField(_("escalate to these e-mails"), blank=True, max_length=2000,
                                         help_text=_("One per line. Empty: the brand's managers."))


class SavedReply(BrandScopedModel):
    """A canned answer with variables ({name}, {handle}, {brand}, {agent}) in one language."""

    brand = models.ForeignKey(Brand, on_delete=models.CASCADE, related_name="+", db_index=False)
    title = models.CharField(_("title"), max_length=120)
    language = models.CharField(_("language"), max_length=8, choices=settings.LANGUAGES)
    text = models.TextField(_("text"), max_length=5000)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+")
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["brand", "title", "language"], name="uniq_saved_reply")]
        ordering = ["title", "language"]

    def __str__(self) -> str:
        return self.title


class InboxRule(BrandScopedModel):
    """When an interaction matching ``conditions`` arrives, do ``actions`` (in ``position`` order)."""

    brand = models.ForeignKey(Brand, on_delete=models.CASCADE, related_name="+", db_index=False)
    name = models.CharField(_("name"), max_length=120)
    position = models.PositiveSmallIntegerField(default=0)
    enabled = models.BooleanField(_("enabled"), default=True)
    conditions = models.JSONField(default=dict, blank=True)
    actions = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [models.Index(fields=["brand", "position"])]
        ordering = ["position", "pk"]

    def __str__(self) -> str:
        return self.name


class OutgoingReply(BrandScopedModel):
    """An answer written in the inbox, kept until the network has it (at most once)."""

    class State(models.TextChoices):
        QUEUED = "queued", _("Waiting to be sent")
        SENDING = "sending", _("Sending")
        SENT = "sent", _("Sent")
        FAILED = "failed", _("Not sent")

    brand = models.ForeignKey(Brand, on_delete=models.CASCADE, related_name="+", db_index=False)
    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE, related_name="replies")
    in_reply_to = models.ForeignKey(Interaction, on_delete=models.SET_NULL, null=True, related_name="+")
    account = models.ForeignKey(SocialAccount, on_delete=models.CASCADE, related_name="+")
    text = models.TextField(max_length=10000)
    state = models.CharField(max_length=10, choices=State.choices, default=State.QUEUED)
    marker = models.CharField(max_length=64)  # idempotency marker, the same on every attempt
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    external_id = models.CharField(max_length=200, blank=True)
    error = models.CharField(max_length=500, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    sent_at = models.DateTimeField(null=True, blank=True)
    # WhatsApp: an approved template sent instead of free text ({"name", "language", "params",
    # "names"}); empty for an ordinary reply. ``text`` then holds the body as the customer sees it.
    template = models.JSONField(default=dict, blank=True)
    # What the network later said about delivery (WhatsApp's status webhooks): sent, delivered,
    # read or failed, when, and the network's reason for a failure.
    delivery_status = models.CharField(max_length=12, blank=True, default="")
    delivery_status_at = models.DateTimeField(null=True, blank=True)
    delivery_error = models.CharField(max_length=500, blank=True, default="")

    class Meta:
        indexes = [models.Index(fields=["state", "next_attempt_at"])]


class Presence(models.Model):
    """Who has a conversation open right now (collision detection)."""

    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE, related_name="+", db_index=False)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    seen_at = models.DateTimeField(default=timezone.now)
    composing = models.BooleanField(default=False)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["conversation", "user"], name="uniq_presence")]


class Correction(BrandScopedModel):
    """A label the team fixed in the inbox: what the per-brand models learn from."""

    class Field(models.TextChoices):
        SENTIMENT = "sentiment", _("Sentiment")
        INTENT = "intent", _("Intent")
        TOXIC = "toxic", _("Toxic")

    brand = models.ForeignKey(Brand, on_delete=models.CASCADE, related_name="+", db_index=False)
    interaction = models.ForeignKey(Interaction, on_delete=models.CASCADE, related_name="+")
    field = models.CharField(max_length=16, choices=Field.choices)
    old_value = models.CharField(max_length=16, blank=True)
    new_value = models.CharField(max_length=16)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [models.Index(fields=["brand", "field", "created_at"])]


class InboxSync(models.Model):
    """When to poll an account for comments, mentions and messages next (adaptive interval)."""

    account = models.OneToOneField(SocialAccount, on_delete=models.CASCADE, related_name="inbox_sync")
    next_poll_at = models.DateTimeField(default=timezone.now, db_index=True)
    interval_seconds = models.PositiveIntegerField(default=300)
    cursor = models.TextField(blank=True, max_length=4000)
    last_polled_at = models.DateTimeField(null=True, blank=True)
    last_found = models.PositiveIntegerField(default=0)
    failures = models.PositiveSmallIntegerField(default=0)
    last_error = models.CharField(max_length=500, blank=True)
    lease_until = models.DateTimeField(null=True, blank=True)


class WhatsAppMessage(BrandScopedModel):
    """What a WhatsApp message carried besides its words (``Interaction.text`` holds the text or
    caption, for triage and search): its type, a media reference (fetched on demand through our
    own proxy, never linked to Meta), a shared location, and when we told WhatsApp it was read."""

    brand = models.ForeignKey(Brand, on_delete=models.CASCADE, related_name="+", db_index=False)
    interaction = models.OneToOneField(Interaction, on_delete=models.CASCADE, related_name="whatsapp")
    message_type = models.CharField(max_length=16)
    media_id = models.CharField(max_length=128, blank=True)
    mime_type = models.CharField(max_length=100, blank=True)
    filename = models.CharField(max_length=240, blank=True)
    latitude = models.FloatField(null=True, blank=True)
    longitude = models.FloatField(null=True, blank=True)
    place_name = models.CharField(max_length=300, blank=True)
    place_address = models.CharField(max_length=500, blank=True)
    read_sent_at = models.DateTimeField(null=True, blank=True)


class WhatsAppTemplate(BrandScopedModel):
    """A message template of a WhatsApp Business Account, as last synced from WhatsApp."""

    brand = models.ForeignKey(Brand, on_delete=models.CASCADE, related_name="+", db_index=False)
    account = models.ForeignKey(SocialAccount, on_delete=models.CASCADE, related_name="whatsapp_templates")
    external_id = models.CharField(max_length=64, blank=True)
    name = models.CharField(max_length=512)
    language = models.CharField(max_length=16)
    category = models.CharField(max_length=32, blank=True)
    status = models.CharField(max_length=32)
    header = models.CharField(max_length=200, blank=True)
    body = models.TextField(max_length=2000)
    footer = models.CharField(max_length=200, blank=True)
    # The body's placeholders in order: ["1", "2"] (positional) or ["name", "order"] (named).
    params = models.JSONField(default=list, blank=True)
    # Why Tertulia cannot send it ("" when it can): media headers, header or button variables.
    unsupported = models.CharField(max_length=200, blank=True)
    synced_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name", "language"]
        constraints = [models.UniqueConstraint(fields=["account", "name", "language"], name="uniq_wa_template")]

    def __str__(self) -> str:
        return f"{self.name} ({self.language})"


class InboxDay(models.Model):
    """The inbox figures of one brand's UTC day, kept for the analytics dashboard and reports
    (``inbox.daily``): conversations received (by when the customer first wrote) and answered
    per quarter hour, SLA counts, the first-response and resolution delays (exact, packed as
    float64 seconds), and the sentiment mix of the inbound messages. A row is only a cache of
    what the conversations and interactions say: database triggers mark its day dirty on any
    change that could alter it (table ``inbox_day_dirty``), readers compute dirty days live, and
    a periodic task rebuilds them."""

    brand = models.ForeignKey(Brand, on_delete=models.CASCADE, related_name="+", db_index=False)
    day = models.DateField()
    data = models.JSONField(default=dict)
    quarters = models.BinaryField(default=b"")
    first_response = models.BinaryField(default=b"")
    resolution = models.BinaryField(default=b"")
    computed_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["brand", "day"], name="uniq_inbox_day")]


class InboxDayRebuild(models.Model):
    """The lease of the one rebuild of ``InboxDay`` allowed at a time (``inbox.daily.rebuild``): two
    interleaved rebuilds of a day could store the older computation last. A single row; a
    rebuilder killed mid-way holds it only until ``until``."""

    until = models.DateTimeField()
