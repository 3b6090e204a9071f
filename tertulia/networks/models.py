"""Social accounts per brand. The connector packages (one per network) come with later work."""

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from tertulia.core.crypto import EncryptedTextField
from tertulia.core.models import Brand, BrandScopedModel


class Network(models.TextChoices):
    MASTODON = "mastodon", "Mastodon"
    BLUESKY = "bluesky", "Bluesky"
    X = "x", "X"
    FACEBOOK = "facebook", "Facebook"
    INSTAGRAM = "instagram", "Instagram"
    THREADS = "threads", "Threads"
    LINKEDIN = "linkedin", "LinkedIn"
    TELEGRAM = "telegram", "Telegram"
    WORDPRESS = "wordpress", "WordPress"
    JOOMLA = "joomla", "Joomla"
    YOUTUBE = "youtube", "YouTube"
    WHATSAPP = "whatsapp", "WhatsApp"


class SocialAccount(BrandScopedModel):
    class Status(models.TextChoices):
        CONNECTED = "connected", _("Connected")
        NEEDS_RECONNECT = "needs_reconnect", _("Needs reconnecting")
        DISABLED = "disabled", _("Disabled")

    brand = models.ForeignKey(Brand, on_delete=models.CASCADE, related_name="accounts")
    network = models.CharField(_("network"), max_length=16, choices=Network.choices)
    handle = models.CharField(_("handle"), max_length=200)
    display_name = models.CharField(_("display name"), max_length=200, blank=True)
    external_id = models.CharField(max_length=200, blank=True)
    base_url = models.URLField(_("server address"), blank=True, help_text=_("For Mastodon instances and WordPress sites."))
    status = models.CharField(_("status"), max_length=20, choices=Status.choices, default=Status.CONNECTED)
    status_reason = models.CharField(max_length=300, blank=True)
    # Secrets: encrypted at rest (Fernet). Never rendered, never returned by the API.
    access_token = EncryptedTextField(blank=True)
    refresh_token = EncryptedTextField(blank=True)
    token_expires_at = models.DateTimeField(null=True, blank=True)
    # Publishing: a paused account keeps its scheduled posts but nothing is sent until it is
    # resumed; ``blocked_until`` is set from the network's rate-limit answer (429 / reset
    # headers) and claims skip the account until then (DESIGN.md §3).
    paused = models.BooleanField(_("paused"), default=False)
    blocked_until = models.DateTimeField(null=True, blank=True)
    # What the server told us about itself (Mastodon's /api/v2/instance: characters per post,
    # URL length, media limits), refreshed on connect; the composer and the engine use it.
    server_limits = models.JSONField(default=dict, blank=True)
    # Per-network publishing options chosen by the team (WordPress: draft or publish, categories).
    options = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("social account")
        ordering = ["network", "handle"]
        constraints = [
            models.UniqueConstraint(fields=["brand", "network", "handle"], name="uniq_account_per_brand")
        ]

    def __str__(self) -> str:
        return f"{self.get_network_display()} {self.handle}"


class OAuthApp(models.Model):
    """Tertulia registered as an OAuth app on one server (a Mastodon instance), reused for
    every account on it. The client secret is encrypted at rest."""

    network = models.CharField(max_length=16, choices=Network.choices)
    base_url = models.URLField(max_length=200)
    redirect_uri = models.URLField(max_length=500)
    client_id = models.CharField(max_length=300)
    client_secret = EncryptedTextField()
    scopes = models.CharField(max_length=200)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["network", "base_url", "redirect_uri"], name="uniq_oauth_app")]


# YouTube's quota ledger, resumable uploads and per-post video settings (networks/youtube/).
from .youtube.models import YouTubeQuota, YouTubeUpload, YouTubeVideoSettings  # noqa: E402,F401
