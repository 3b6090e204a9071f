"""Posts with a variant per network, media, campaigns and short links."""

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from tertulia.core.models import Brand, BrandScopedModel
from tertulia.networks.models import Network


class Campaign(BrandScopedModel):
    brand = models.ForeignKey(Brand, on_delete=models.CASCADE, related_name="campaigns")
    name = models.CharField(_("name"), max_length=200)
    utm_campaign = models.SlugField(max_length=100, blank=True)
    starts_on = models.DateField(_("starts"), null=True, blank=True)
    ends_on = models.DateField(_("ends"), null=True, blank=True)
    cost = models.DecimalField(_("cost"), max_digits=12, decimal_places=2, null=True, blank=True)
    value = models.DecimalField(_("value"), max_digits=12, decimal_places=2, null=True, blank=True)

    class Meta:
        verbose_name = _("campaign")
        ordering = ["-starts_on"]

    def __str__(self) -> str:
        return self.name


class Post(BrandScopedModel):
    class Format(models.TextChoices):
        TEXT = "text", _("Text")
        IMAGE = "image", _("Image")
        CAROUSEL = "carousel", _("Carousel")
        VIDEO = "video", _("Video")
        PODCAST = "podcast", _("Podcast")
        INFOGRAPHIC = "infographic", _("Infographic")
        LINK = "link", _("Link")

    class State(models.TextChoices):
        DRAFT = "draft", _("Draft")
        PENDING_APPROVAL = "pending_approval", _("Pending approval")
        APPROVED = "approved", _("Approved")
        SCHEDULED = "scheduled", _("Scheduled")
        PUBLISHED = "published", _("Published")
        CANCELED = "canceled", _("Canceled")

    brand = models.ForeignKey(Brand, on_delete=models.CASCADE, related_name="posts")
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+")
    text = models.TextField(_("text"), max_length=70000)
    pillar = models.ForeignKey("strategy.ContentPillar", on_delete=models.SET_NULL, null=True, blank=True)
    format = models.CharField(_("format"), max_length=16, choices=Format.choices, default=Format.TEXT)
    campaign = models.ForeignKey(Campaign, on_delete=models.SET_NULL, null=True, blank=True, related_name="posts")
    state = models.CharField(_("state"), max_length=20, choices=State.choices, default=State.DRAFT)
    scheduled_at = models.DateTimeField(_("scheduled for"), null=True, blank=True, db_index=True)
    version = models.PositiveIntegerField(default=1)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("post")
        ordering = ["-scheduled_at", "-id"]
        indexes = [models.Index(fields=["brand", "state", "scheduled_at"])]

    def __str__(self) -> str:
        return self.text[:60]


class PostVariant(models.Model):
    """The text for one network. Inherits the post's text until ``is_custom``."""

    post = models.ForeignKey(Post, on_delete=models.CASCADE, related_name="variants")
    network = models.CharField(max_length=16, choices=Network.choices)
    text = models.TextField(max_length=70000, blank=True)
    is_custom = models.BooleanField(default=False)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["post", "network"], name="uniq_variant")]

    @property
    def effective_text(self) -> str:
        return self.text if self.is_custom else self.post.text


class MediaAsset(BrandScopedModel):
    class Kind(models.TextChoices):
        IMAGE = "image", _("Image")
        VIDEO = "video", _("Video")
        DOCUMENT = "document", _("Document")

    brand = models.ForeignKey(Brand, on_delete=models.CASCADE, related_name="media")
    file = models.FileField(upload_to="media/%Y/%m/")
    kind = models.CharField(max_length=16, choices=Kind.choices)
    mime_type = models.CharField(max_length=100)
    size_bytes = models.PositiveBigIntegerField()
    width = models.PositiveIntegerField(null=True, blank=True)
    height = models.PositiveIntegerField(null=True, blank=True)
    duration_seconds = models.FloatField(null=True, blank=True)
    sha256 = models.CharField(max_length=64, db_index=True)
    alt_text = models.TextField(_("alternative text"), blank=True, max_length=1500)
    tags = models.JSONField(_("tags"), default=list, blank=True)
    # A small WebP for grids and pickers (see content.media.make_preview).
    preview = models.FileField(upload_to="media/previews/%Y/%m/", blank=True)
    # A crop made from another asset with one of content.media.PRESETS.
    derived_from = models.ForeignKey("self", on_delete=models.SET_NULL, null=True, blank=True,
                                     related_name="derivatives")
    preset = models.CharField(max_length=32, blank=True)
    uploaded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [models.UniqueConstraint(fields=["brand", "sha256"], name="uniq_media_sha_per_brand")]

    def __str__(self) -> str:
        return self.alt_text[:60] or self.file.name.rsplit("/", 1)[-1]


class PostMedia(models.Model):
    post = models.ForeignKey(Post, on_delete=models.CASCADE, related_name="attachments")
    asset = models.ForeignKey(MediaAsset, on_delete=models.PROTECT, related_name="+")
    position = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["position"]


class ShortLink(BrandScopedModel):
    """A tracked link: the short slug redirects to the URL with its UTM parameters."""

    brand = models.ForeignKey(Brand, on_delete=models.CASCADE, related_name="links")
    slug = models.SlugField(max_length=16, unique=True)
    target_url = models.URLField(max_length=2000)
    campaign = models.ForeignKey(Campaign, on_delete=models.SET_NULL, null=True, blank=True)
    post = models.ForeignKey(Post, on_delete=models.SET_NULL, null=True, blank=True, related_name="links")
    utm_source = models.CharField(max_length=100, blank=True)
    utm_medium = models.CharField(max_length=100, blank=True, default="social")
    utm_campaign = models.CharField(max_length=100, blank=True)
    created_at = models.DateTimeField(default=timezone.now)


class LinkClick(BrandScopedModel):
    brand = models.ForeignKey(Brand, on_delete=models.CASCADE, related_name="+")
    link = models.ForeignKey(ShortLink, on_delete=models.CASCADE, related_name="clicks")
    clicked_at = models.DateTimeField(default=timezone.now, db_index=True)
    referrer_host = models.CharField(max_length=200, blank=True)
    country = models.CharField(max_length=2, blank=True)
