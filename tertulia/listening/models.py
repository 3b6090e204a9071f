"""Competitors tracked per brand, and their public numbers over time."""

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from tertulia.core.crypto import EncryptedTextField
from tertulia.core.models import Brand, BrandScopedModel
from tertulia.networks.models import Network, SocialAccount


class Competitor(BrandScopedModel):
    brand = models.ForeignKey(Brand, on_delete=models.CASCADE, related_name="competitors")
    name = models.CharField(_("name"), max_length=200)
    website = models.URLField(blank=True)

    class Meta:
        verbose_name = _("competitor")
        ordering = ["name"]
        constraints = [models.UniqueConstraint(fields=["brand", "name"], name="uniq_competitor")]

    def __str__(self) -> str:
        return self.name


class CompetitorAccount(BrandScopedModel):
    brand = models.ForeignKey(Brand, on_delete=models.CASCADE, related_name="+")
    competitor = models.ForeignKey(Competitor, on_delete=models.CASCADE, related_name="accounts")
    network = models.CharField(max_length=16, choices=Network.choices)
    handle = models.CharField(max_length=200)
    # The last public read (competitors engineer, migration 0003): when, and why it failed (a
    # note, core.notes, shown in the reader's language; empty when it worked).
    last_read_at = models.DateTimeField(null=True, blank=True)
    last_error = models.JSONField(default=list, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["competitor", "network", "handle"], name="uniq_competitor_account")
        ]

    def __str__(self) -> str:
        return f"{self.get_network_display()} {self.handle}"


class CompetitorSnapshot(BrandScopedModel):
    brand = models.ForeignKey(Brand, on_delete=models.CASCADE, related_name="+")
    account = models.ForeignKey(CompetitorAccount, on_delete=models.CASCADE, related_name="snapshots")
    taken_at = models.DateTimeField(db_index=True)
    followers = models.PositiveIntegerField(null=True)
    posts = models.PositiveIntegerField(null=True)
    avg_engagement = models.FloatField(null=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["account", "taken_at"], name="uniq_competitor_snapshot")]


# --- Listening: queries, sources, mentions, alerts (issue 7) ---------------------------------


class ListeningQuery(BrandScopedModel):
    """A boolean query (``listening.query``) the brand listens for."""

    class Kind(models.TextChoices):
        BRAND = "brand", _("Brand terms")
        PRODUCT = "product", _("Products")
        COMPETITOR = "competitor", _("Competitor")
        INDUSTRY = "industry", _("Industry topic")

    brand = models.ForeignKey(Brand, on_delete=models.CASCADE, related_name="listening_queries")
    name = models.CharField(_("name"), max_length=120)
    kind = models.CharField(_("kind"), max_length=12, choices=Kind.choices, default=Kind.BRAND)
    text = models.TextField(_("query"), max_length=2000)
    competitor = models.ForeignKey(Competitor, on_delete=models.SET_NULL, null=True, blank=True, related_name="queries")
    enabled = models.BooleanField(_("enabled"), default=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("listening query")
        ordering = ["name", "pk"]
        constraints = [models.UniqueConstraint(fields=["brand", "name"], name="uniq_listening_query")]

    def __str__(self) -> str:
        return self.name


class Source(BrandScopedModel):
    """Where mentions come from, each polled on its own schedule with backoff."""

    class Kind(models.TextChoices):
        SEARCH = "search", _("Network search")
        FEED = "feed", _("RSS or Atom feed")
        COMMENTS = "comments", _("Comments on our accounts")

    brand = models.ForeignKey(Brand, on_delete=models.CASCADE, related_name="listening_sources")
    kind = models.CharField(_("kind"), max_length=10, choices=Kind.choices)
    name = models.CharField(_("name"), max_length=120, blank=True)
    # SEARCH: the brand's connected account whose connector searches, and what it sends.
    account = models.ForeignKey(SocialAccount, on_delete=models.CASCADE, null=True, blank=True, related_name="+")
    term = models.CharField(_("search"), max_length=512, blank=True)
    # FEED: the feed's address (fetched through the SSRF-safe client).
    url = models.URLField(_("feed address"), max_length=1000, blank=True)
    enabled = models.BooleanField(_("enabled"), default=True)
    interval_seconds = models.PositiveIntegerField(default=900)
    next_poll_at = models.DateTimeField(default=timezone.now, db_index=True)
    lease_until = models.DateTimeField(null=True, blank=True)
    last_polled_at = models.DateTimeField(null=True, blank=True)
    last_found = models.PositiveIntegerField(default=0)
    failures = models.PositiveSmallIntegerField(default=0)
    last_error = models.JSONField(default=list, blank=True)  # a note (core.notes), in the reader's language
    cursor = models.CharField(max_length=500, blank=True)  # the newest id / time seen
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("listening source")
        ordering = ["kind", "pk"]

    def __str__(self) -> str:
        return self.name or self.term or self.url or self.get_kind_display()


class Mention(BrandScopedModel):
    """A post, article or comment that matched at least one of the brand's queries, triaged."""

    brand = models.ForeignKey(Brand, on_delete=models.CASCADE, related_name="+", db_index=False)
    source = models.ForeignKey(Source, on_delete=models.SET_NULL, null=True, blank=True, related_name="mentions")
    network = models.CharField(max_length=16, blank=True)  # a Network value, or "web" for feeds
    external_id = models.CharField(max_length=300)
    url = models.URLField(max_length=1000, blank=True)
    site = models.CharField(max_length=200, blank=True)  # the domain, for site: and top sources
    author_handle = models.CharField(max_length=200, blank=True)
    author_name = models.CharField(max_length=200, blank=True)
    author_followers = models.PositiveIntegerField(null=True, blank=True)
    title = models.CharField(max_length=500, blank=True)
    text = models.TextField(max_length=70000)
    language = models.CharField(max_length=8, blank=True)
    created_at = models.DateTimeField()  # on the network / in the feed
    fetched_at = models.DateTimeField(default=timezone.now)
    sentiment = models.CharField(max_length=8, blank=True)
    intent = models.CharField(max_length=16, blank=True)
    toxicity = models.FloatField(null=True, blank=True)
    conversation = models.ForeignKey("inbox.Conversation", on_delete=models.SET_NULL, null=True, blank=True,
                                     related_name="+")  # when a CM turned it into an inbox conversation
    queries = models.ManyToManyField(ListeningQuery, through="MentionMatch", related_name="mentions")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["brand", "network", "external_id"], name="uniq_mention")]
        indexes = [models.Index(fields=["brand", "created_at"])]


class MentionMatch(BrandScopedModel):
    """Which query a mention matched (a mention can match several), with the mention's time and
    sentiment copied so that volumes and sentiment over time read one table."""

    brand = models.ForeignKey(Brand, on_delete=models.CASCADE, related_name="+", db_index=False)
    mention = models.ForeignKey(Mention, on_delete=models.CASCADE, related_name="matches")
    query = models.ForeignKey(ListeningQuery, on_delete=models.CASCADE, related_name="matches")
    created_at = models.DateTimeField()
    sentiment = models.CharField(max_length=8, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["mention", "query"], name="uniq_mention_match")]
        indexes = [models.Index(fields=["query", "created_at"]), models.Index(fields=["brand", "created_at"])]


class ListeningSettings(BrandScopedModel):
    """Spike alert tuning and where alerts go."""

    brand = models.OneToOneField(Brand, on_delete=models.CASCADE, related_name="listening_settings")
    spike_ratio = models.FloatField(_("alert when the volume is this many times the usual"), default=3.0)
    min_mentions = models.PositiveIntegerField(_("and at least this many mentions in the hour"), default=10)
    negative_share = models.FloatField(_("possible crisis when this share of them is negative"), default=0.5)
    baseline_days = models.PositiveSmallIntegerField(_("usual volume: the same hour on this many earlier days"),
                                                     default=7)
    alert_emails = models.TextField(_("send alerts to these e-mails"), blank=True, max_length=2000)
    webhook_url = models.URLField(_("and to this webhook"), max_length=1000, blank=True)
    webhook_secret = EncryptedTextField(blank=True)  # signs the webhook's body (HMAC-SHA256)


class SpikeAlert(BrandScopedModel):
    """A spike found in one query's volume (or the brand's whole volume), with why."""

    class Kind(models.TextChoices):
        VOLUME = "volume", _("Volume spike")
        NEGATIVE = "negative", _("Possible crisis (negative spike)")

    brand = models.ForeignKey(Brand, on_delete=models.CASCADE, related_name="+", db_index=False)
    query = models.ForeignKey(ListeningQuery, on_delete=models.CASCADE, null=True, blank=True, related_name="alerts")
    kind = models.CharField(max_length=10, choices=Kind.choices)
    window_start = models.DateTimeField()
    window_end = models.DateTimeField()
    count = models.PositiveIntegerField()
    negative = models.PositiveIntegerField(default=0)
    baseline = models.FloatField()  # the usual count for that window
    reason = models.JSONField(default=list)  # a note: the figures that triggered it
    samples = models.JSONField(default=list)  # ids of mentions that caused it
    notified_at = models.DateTimeField(null=True, blank=True)
    delivery = models.JSONField(default=dict, blank=True)  # e-mail / webhook outcome
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-window_start", "-pk"]
        constraints = [
            models.UniqueConstraint(fields=["brand", "query", "kind", "window_start"], name="uniq_spike_alert"),
            # NULLs are distinct in a unique index: the brand-wide alerts (no query) get their own.
            models.UniqueConstraint(fields=["brand", "kind", "window_start"], condition=models.Q(query__isnull=True),
                                    name="uniq_spike_alert_brandwide"),
        ]


class CompetitorPost(BrandScopedModel):
    """A competitor's public post, with its engagement when last read (or imported from CSV)."""

    brand = models.ForeignKey(Brand, on_delete=models.CASCADE, related_name="+", db_index=False)
    account = models.ForeignKey(CompetitorAccount, on_delete=models.CASCADE, related_name="posts")
    external_id = models.CharField(max_length=300)
    url = models.URLField(max_length=1000, blank=True)
    published_at = models.DateTimeField()
    format = models.CharField(max_length=16, blank=True)  # content.Post.Format values
    pillar = models.CharField(max_length=120, blank=True)  # the brand's pillar it resembles, if any
    text = models.TextField(max_length=70000, blank=True)
    likes = models.PositiveIntegerField(null=True, blank=True)
    comments = models.PositiveIntegerField(null=True, blank=True)
    shares = models.PositiveIntegerField(null=True, blank=True)
    views = models.PositiveIntegerField(null=True, blank=True)
    read_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-published_at", "-pk"]
        constraints = [models.UniqueConstraint(fields=["account", "external_id"], name="uniq_competitor_post")]
        indexes = [models.Index(fields=["brand", "published_at"])]
