"""YouTube's own rows, in the networks app (migration ``0005_youtube_*``):

- ``YouTubeQuota``: the units spent per Google project and Pacific day (``quota.py``);
- ``YouTubeUpload``: a resumable upload in progress or done, per account and idempotency
  marker (one post × account target), so that a consumer that crashes mid-upload resumes the
  same session instead of uploading again, and one that crashes after the upload finished
  knows the video's id (at most once). The session URI is stored encrypted: whoever holds it
  can send bytes into the channel's upload until it expires, so it is treated as a secret;
- ``YouTubeVideoSettings``: the video's own fields chosen in the composer (title, tags,
  privacy, scheduled publication); without a row they are made from the post's text.
"""

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from tertulia.core.crypto import EncryptedTextField
from tertulia.core.models import Brand, BrandScopedModel


class YouTubeQuota(models.Model):
    project = models.CharField(max_length=200)  # the OAuth client id of the Google Cloud project
    day = models.DateField()  # in Pacific time, as Google counts
    units = models.PositiveIntegerField(default=0)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        app_label = "networks"
        constraints = [models.UniqueConstraint(fields=["project", "day"], name="uniq_youtube_quota_day")]


class YouTubeUpload(models.Model):
    account = models.ForeignKey("networks.SocialAccount", on_delete=models.CASCADE, related_name="+")
    marker = models.CharField(max_length=200)
    session_uri = EncryptedTextField(blank=True)
    fingerprint = models.CharField(max_length=200, blank=True)  # size and name of the file uploaded
    total_bytes = models.PositiveBigIntegerField(default=0)
    video_id = models.CharField(max_length=64, blank=True)
    thumbnail_done = models.BooleanField(default=False)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        app_label = "networks"
        constraints = [models.UniqueConstraint(fields=["account", "marker"], name="uniq_youtube_upload")]


class YouTubeVideoSettings(BrandScopedModel):
    class Privacy(models.TextChoices):
        PUBLIC = "public", _("Public")
        UNLISTED = "unlisted", _("Unlisted")
        PRIVATE = "private", _("Private")

    brand = models.ForeignKey(Brand, on_delete=models.CASCADE, related_name="+")
    post = models.OneToOneField("content.Post", on_delete=models.CASCADE, related_name="youtube_settings")
    title = models.CharField(_("title"), max_length=100, blank=True)
    tags = models.JSONField(_("tags"), default=list, blank=True)
    privacy = models.CharField(_("privacy"), max_length=10, choices=Privacy.choices, default=Privacy.PUBLIC)
    publish_at = models.DateTimeField(_("publish at"), null=True, blank=True)
    category_id = models.CharField(_("category"), max_length=3, default="22")
    made_for_kids = models.BooleanField(_("made for kids"), default=False)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        app_label = "networks"
