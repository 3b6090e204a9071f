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
        PENDING_APPROVAL = "pending_approval", _("In review")
        CHANGES_REQUESTED = "changes_requested", _("Changes requested")
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
    # A follow-up reply posted under the main post where the network allows it (threads).
    first_comment = models.TextField(_("first comment"), blank=True, max_length=10000)
    # The idea this post was written from, if any.
    idea = models.ForeignKey("content.Idea", on_delete=models.SET_NULL, null=True, blank=True, related_name="posts")
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
    # What a video's probe found (content.video.probe); empty for images.
    container = models.CharField(max_length=8, blank=True)  # mp4, mov, webm, mkv
    video_codec = models.CharField(max_length=32, blank=True)  # as ffmpeg names it: h264, hevc, vp9…
    audio_codec = models.CharField(max_length=32, blank=True)  # "" for a silent video
    frame_rate = models.FloatField(null=True, blank=True)
    bitrate = models.PositiveBigIntegerField(null=True, blank=True)  # bits per second
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

    @property
    def duration_label(self) -> str:
        """A video's length as people read it: "0.5 s", "2 min 20 s" ("" for images)."""
        from .video import human_duration

        return human_duration(self.duration_seconds) if self.duration_seconds else ""


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


# --- Planning: ideas, feeds, weekly themes, key dates -------------------------------------

class Feed(BrandScopedModel):
    """An RSS or Atom feed of the brand's sources; new entries land in the idea backlog."""

    brand = models.ForeignKey(Brand, on_delete=models.CASCADE, related_name="feeds")
    url = models.URLField(_("feed address"), max_length=2000)
    title = models.CharField(_("title"), max_length=300, blank=True)
    etag = models.CharField(max_length=300, blank=True)
    modified = models.CharField(max_length=100, blank=True)
    last_fetched_at = models.DateTimeField(null=True, blank=True)
    last_error = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["title", "url"]
        constraints = [models.UniqueConstraint(fields=["brand", "url"], name="uniq_feed_per_brand")]

    def __str__(self) -> str:
        return self.title or self.url


class Idea(BrandScopedModel):
    """A card on the idea backlog (kanban: idea → writing → ready)."""

    class Status(models.TextChoices):
        IDEA = "idea", _("Idea")
        WRITING = "writing", _("Writing")
        READY = "ready", _("Ready")

    brand = models.ForeignKey(Brand, on_delete=models.CASCADE, related_name="ideas")
    title = models.CharField(_("title"), max_length=300)
    notes = models.TextField(_("notes"), blank=True, max_length=10000)
    status = models.CharField(_("status"), max_length=16, choices=Status.choices, default=Status.IDEA)
    position = models.PositiveIntegerField(default=0)
    pillar = models.ForeignKey("strategy.ContentPillar", on_delete=models.SET_NULL, null=True, blank=True,
                               related_name="+")
    source_url = models.URLField(_("source"), max_length=2000, blank=True)
    feed = models.ForeignKey(Feed, on_delete=models.SET_NULL, null=True, blank=True, related_name="ideas")
    feed_guid = models.CharField(max_length=500, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["status", "position", "-id"]
        constraints = [models.UniqueConstraint(fields=["brand", "feed_guid"], condition=~models.Q(feed_guid=""),
                                               name="uniq_idea_feed_entry")]

    def __str__(self) -> str:
        return self.title


class WeekTheme(BrandScopedModel):
    """The weekly topic plan: a theme planned for the week that starts on ``week_start`` (a Monday)."""

    brand = models.ForeignKey(Brand, on_delete=models.CASCADE, related_name="week_themes")
    week_start = models.DateField(_("week"))
    theme = models.CharField(_("theme"), max_length=300)
    notes = models.TextField(_("notes"), blank=True, max_length=4000)
    pillar = models.ForeignKey("strategy.ContentPillar", on_delete=models.SET_NULL, null=True, blank=True,
                               related_name="+")
    campaign = models.ForeignKey(Campaign, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["week_start", "id"]

    def __str__(self) -> str:
        return self.theme


class KeyDate(BrandScopedModel):
    """A date that matters to the brand (a holiday, a launch, Black Friday), shown on the calendar."""

    brand = models.ForeignKey(Brand, on_delete=models.CASCADE, related_name="key_dates")
    date = models.DateField(_("date"))
    name = models.CharField(_("name"), max_length=200)
    notes = models.TextField(_("notes"), blank=True, max_length=2000)

    class Meta:
        ordering = ["date", "id"]

    def __str__(self) -> str:
        return self.name


class CalendarFeedToken(BrandScopedModel):
    """A private iCal URL for one member and one brand. Only the hash is stored; it stops working
    when revoked or when the member leaves the brand."""

    brand = models.ForeignKey(Brand, on_delete=models.CASCADE, related_name="+")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    token_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(default=timezone.now)
    revoked_at = models.DateTimeField(null=True, blank=True)


# --- Writing aids: the brand's dictionary and UTM presets ---------------------------------

class BrandWord(BrandScopedModel):
    """A word the spell checker accepts for this brand (product names, hashtags, slang)."""

    brand = models.ForeignKey(Brand, on_delete=models.CASCADE, related_name="dictionary")
    word = models.CharField(_("word"), max_length=100)
    added_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["word"]
        constraints = [models.UniqueConstraint(fields=["brand", "word"], name="uniq_brand_word")]

    def __str__(self) -> str:
        return self.word


class UtmPreset(BrandScopedModel):
    """The UTM source and medium used for links posted on one network."""

    brand = models.ForeignKey(Brand, on_delete=models.CASCADE, related_name="utm_presets")
    network = models.CharField(max_length=16, choices=Network.choices)
    utm_source = models.CharField(max_length=100)
    utm_medium = models.CharField(max_length=100, default="social")
    utm_content = models.CharField(max_length=100, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["brand", "network"], name="uniq_utm_preset")]


# --- Approval workflow ----------------------------------------------------------------------

class ApprovalPolicy(BrandScopedModel):
    """Per brand: whether posts need approval, and from whom."""

    brand = models.OneToOneField(Brand, on_delete=models.CASCADE, related_name="approval_policy")
    required = models.BooleanField(_("posts need approval before they go out"), default=True)
    # Empty means any member who may approve (owners and managers).
    approvers = models.ManyToManyField(settings.AUTH_USER_MODEL, blank=True, related_name="+",
                                       verbose_name=_("approvers"))
    reapprove_on_edit = models.BooleanField(_("editing an approved post sends it back to review"), default=True)


class PostComment(BrandScopedModel):
    """A comment on a post during review, by a member or by a client through a review link."""

    brand = models.ForeignKey(Brand, on_delete=models.CASCADE, related_name="+")
    post = models.ForeignKey(Post, on_delete=models.CASCADE, related_name="comments")
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+")
    guest_name = models.CharField(max_length=120, blank=True)  # a client reviewer through a review link
    body = models.TextField(_("comment"), max_length=5000)
    mentions = models.ManyToManyField(settings.AUTH_USER_MODEL, blank=True, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["created_at", "id"]


class ReviewLink(BrandScopedModel):
    """A magic link that lets a client approve or comment on one post without an account.
    Only the hash is stored."""

    brand = models.ForeignKey(Brand, on_delete=models.CASCADE, related_name="+")
    post = models.ForeignKey(Post, on_delete=models.CASCADE, related_name="review_links")
    token_hash = models.CharField(max_length=64, unique=True)
    reviewer_name = models.CharField(_("reviewer's name"), max_length=120)
    reviewer_email = models.EmailField(_("reviewer's e-mail"), blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    revoked_at = models.DateTimeField(null=True, blank=True)
    used_at = models.DateTimeField(null=True, blank=True)
