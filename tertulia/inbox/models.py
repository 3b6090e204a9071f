"""Conversations and the interactions in them (comments, mentions, DMs)."""

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from tertulia.core.models import Brand, BrandScopedModel
from tertulia.networks.models import Network, SocialAccount


class Author(BrandScopedModel):
    """A person on a network, as seen by one brand (history, sentiment, offences)."""

    brand = models.ForeignKey(Brand, on_delete=models.CASCADE, related_name="+")
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

    brand = models.ForeignKey(Brand, on_delete=models.CASCADE, related_name="conversations")
    account = models.ForeignKey(SocialAccount, on_delete=models.CASCADE, related_name="conversations")
    kind = models.CharField(max_length=16, choices=Kind.choices)
    author = models.ForeignKey(Author, on_delete=models.CASCADE, related_name="conversations")
    root_external_id = models.CharField(max_length=200, blank=True)  # the post commented on, or the DM thread
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.OPEN, db_index=True)
    assignee = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    last_message_at = models.DateTimeField(db_index=True)
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

    brand = models.ForeignKey(Brand, on_delete=models.CASCADE, related_name="+")
    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE, related_name="interactions")
    account = models.ForeignKey(SocialAccount, on_delete=models.CASCADE, related_name="+")
    external_id = models.CharField(max_length=200)
    parent_external_id = models.CharField(max_length=200, blank=True)
    direction = models.CharField(max_length=3, choices=Direction.choices, default=Direction.INBOUND)
    author = models.ForeignKey(Author, on_delete=models.CASCADE, related_name="interactions")
    text = models.TextField(max_length=70000)
    language = models.CharField(max_length=8, blank=True)
    created_at = models.DateTimeField(db_index=True)  # on the network
    received_at = models.DateTimeField(default=timezone.now)
    edited_at = models.DateTimeField(null=True, blank=True)
    deleted_at = models.DateTimeField(null=True, blank=True)
    # Triage (filled by the nlp models)
    sentiment = models.CharField(max_length=8, blank=True)  # negative | neutral | positive
    intent = models.CharField(max_length=16, blank=True)  # question | complaint | praise | request | spam | other
    toxicity = models.FloatField(null=True, blank=True)
    urgency = models.FloatField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["account", "external_id"], name="uniq_interaction")
        ]
        indexes = [models.Index(fields=["brand", "-created_at"])]
