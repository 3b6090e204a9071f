"""The delivery state of each post × account: the row is the truth, Huey does the work."""

import uuid

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext
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
        DELETED = "deleted", _("Deleted from the network")

    brand = models.ForeignKey(Brand, on_delete=models.CASCADE, related_name="+")
    post = models.ForeignKey(Post, on_delete=models.CASCADE, related_name="targets")
    account = models.ForeignKey(SocialAccount, on_delete=models.CASCADE, related_name="targets")
    state = models.CharField(max_length=20, choices=State.choices, default=State.DRAFT, db_index=True)
    due_at = models.DateTimeField(null=True, blank=True, db_index=True)
    version = models.PositiveIntegerField(default=1)
    attempt_id = models.UUIDField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    # While ``publishing``: when the claim runs out. A consumer that dies mid-call leaves the
    # row here; the sweeper reconciles it with find_published once the lease has expired.
    lease_expires_at = models.DateTimeField(null=True, blank=True)
    external_id = models.CharField(max_length=200, blank=True, db_index=True)
    external_url = models.URLField(max_length=500, blank=True)
    published_at = models.DateTimeField(null=True, blank=True, db_index=True)
    # The follow-up reply (Post.first_comment) once it is out.
    comment_external_id = models.CharField(max_length=200, blank=True)
    deleted_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)  # in English; error_note renders it per reader
    error_note = models.JSONField(default=list, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["post", "account"], name="uniq_target")]
        indexes = [models.Index(fields=["state", "due_at"]), models.Index(fields=["state", "next_attempt_at"])]

    @staticmethod
    def new_attempt_id() -> uuid.UUID:
        return uuid.uuid4()

    @property
    def marker(self) -> str:
        """The idempotency marker: the same on every retry of this target, different for every
        target (and for a new approval of the post, which bumps the post's version)."""
        return f"tertulia-{self.pk}-{self.post.version}"

    def error_display(self) -> str:
        """The last error in the reader's language."""
        from tertulia.core.notes import render

        return render(self.error_note) if self.error_note else (gettext(self.last_error) if self.last_error else "")


class DeliveryAttempt(BrandScopedModel):
    """One row per attempt to deliver a target: the per-target delivery log."""

    class Outcome(models.TextChoices):
        IN_FLIGHT = "in_flight", _("In flight")
        PUBLISHED = "published", _("Published")
        FOUND = "found", _("Found on the network")
        RETRY = "retry", _("Will retry")
        FAILED = "failed", _("Failed")
        NEEDS_ATTENTION = "needs_attention", _("Needs attention")
        UNCONFIRMED = "unconfirmed", _("Not confirmed yet")
        LOST = "lost", _("Not found on the network")
        SUPERSEDED = "superseded", _("Superseded")

    brand = models.ForeignKey(Brand, on_delete=models.CASCADE, related_name="+")
    target = models.ForeignKey(PostTarget, on_delete=models.CASCADE, related_name="attempt_log")
    attempt_id = models.UUIDField(unique=True)
    number = models.PositiveSmallIntegerField()
    started_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)
    outcome = models.CharField(max_length=16, choices=Outcome.choices, default=Outcome.IN_FLIGHT)
    error_kind = models.CharField(max_length=32, blank=True)  # ConnectorError.kind: rate_limited…
    http_status = models.PositiveSmallIntegerField(null=True, blank=True)
    error_detail = models.TextField(blank=True)  # err.log_line(): kind, status, the network's text
    user_message = models.TextField(blank=True)  # in English; user_note renders it per reader
    user_note = models.JSONField(default=list, blank=True)
    external_id = models.CharField(max_length=200, blank=True)
    content_hash = models.CharField(max_length=64, blank=True)
    retry_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["target", "started_at", "number"]

    def message_display(self) -> str:
        from tertulia.core.notes import render

        return render(self.user_note) if self.user_note else self.user_message


class QueueSlot(BrandScopedModel):
    """A weekly posting slot in the brand's time zone: "add to queue" fills the next free one."""

    brand = models.ForeignKey(Brand, on_delete=models.CASCADE, related_name="queue_slots")
    weekday = models.PositiveSmallIntegerField(_("weekday"))  # 0 = Monday
    time = models.TimeField(_("time"))  # wall-clock time in the brand's zone

    class Meta:
        ordering = ["weekday", "time"]
        constraints = [models.UniqueConstraint(fields=["brand", "weekday", "time"], name="uniq_queue_slot")]
