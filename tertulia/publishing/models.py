"""The delivery state of each post × account: the row is the truth, Huey does the work."""

import uuid

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from tertulia.content.models import Post
from tertulia.core.models import Brand, BrandScopedModel
from tertulia.networks.models import SocialAccount


class PostTarget(BrandScopedModel):
    class State(models.TextChoices):
        DRAFT = "draft", _("Draft")
        PENDING_APPROVAL = "pending_approval", _("Pending approval")
        APPROVED = "approved", _("Approved")
        SCHEDULED = "scheduled", _("Scheduled")
        PUBLISHING = "publishing", _("Publishing")
        PUBLISHED = "published", _("Published")
        FAILED = "failed", _("Failed")
        NEEDS_ATTENTION = "needs_attention", _("Needs attention")
        CANCELED = "canceled", _("Canceled")

    brand = models.ForeignKey(Brand, on_delete=models.CASCADE, related_name="+")
    post = models.ForeignKey(Post, on_delete=models.CASCADE, related_name="targets")
    account = models.ForeignKey(SocialAccount, on_delete=models.CASCADE, related_name="targets")
    state = models.CharField(max_length=20, choices=State.choices, default=State.DRAFT, db_index=True)
    due_at = models.DateTimeField(null=True, blank=True, db_index=True)
    version = models.PositiveIntegerField(default=1)
    attempt_id = models.UUIDField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    external_id = models.CharField(max_length=200, blank=True, db_index=True)
    external_url = models.URLField(max_length=500, blank=True)
    published_at = models.DateTimeField(null=True, blank=True, db_index=True)
    last_error = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["post", "account"], name="uniq_target")]
        indexes = [models.Index(fields=["state", "due_at"])]

    @staticmethod
    def new_attempt_id() -> uuid.UUID:
        return uuid.uuid4()
