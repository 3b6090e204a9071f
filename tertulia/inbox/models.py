"""Conversations and the interactions in them (comments, mentions, DMs)."""

from django.conf import settings
from django.db import models
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

    class Meta:
        indexes = [models.Index(fields=["brand", "status", "-last_message_at"])]
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

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["account", "external_id"], name="uniq_interaction")
        ]
        indexes = [models.Index(fields=["brand", "-created_at"])]
