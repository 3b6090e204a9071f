"""Giveaways: a contest per brand, the posts it runs on, the entries read from their comments,
and the verifiable draw (commit and reveal, see ``draw``).

The seed stays encrypted (like network tokens) until the draw reveals it; its SHA-256, the
commitment, goes public when the CM publishes it, which must happen before entries close. At the draw the eligible entries
are frozen into ``frozen_entries`` (the canonical list whose hash is published) and the result
is written once: ``drawn_at`` is set under a row lock, and every later attempt is logged and
refused.
"""

from __future__ import annotations

import secrets

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from tertulia.core.crypto import EncryptedTextField
from tertulia.core.models import Brand, BrandScopedModel
from tertulia.inbox.models import Author, Interaction
from tertulia.networks.models import Network, SocialAccount
from tertulia.publishing.models import PostTarget


def new_public_id() -> str:
    return secrets.token_urlsafe(16)


class Contest(BrandScopedModel):
    class Mode(models.TextChoices):
        ONE_PER_PERSON = "one", _("One entry per person")
        WEIGHTED = "weighted", _("Entries weighted by extra actions")

    brand = models.ForeignKey(Brand, on_delete=models.CASCADE, related_name="contests")
    title = models.CharField(_("title"), max_length=200)
    prize = models.TextField(_("prize"), max_length=2000, blank=True)
    starts_at = models.DateTimeField(_("entries open"))
    ends_at = models.DateTimeField(_("entries close"))
    # Rules
    required_terms = models.JSONField(default=list, blank=True)  # every one must appear (hashtags, keywords)
    min_tags = models.PositiveSmallIntegerField(_("friends tagged, at least"), default=0)
    mode = models.CharField(_("entries"), max_length=10, choices=Mode.choices, default=Mode.ONE_PER_PERSON)
    bonus_per_tag = models.PositiveSmallIntegerField(_("extra entries per friend tagged beyond the minimum"),
                                                     default=0)
    bonus_per_post = models.PositiveSmallIntegerField(_("extra entries per further contest post commented"),
                                                      default=0)
    max_weight = models.PositiveSmallIntegerField(_("entries per person, at most"), default=10)
    excluded_handles = models.JSONField(default=list, blank=True)  # staff, partners; the brand's own always
    min_account_age_days = models.PositiveSmallIntegerField(_("minimum account age (days)"), default=0)
    winners = models.PositiveSmallIntegerField(_("winners"), default=1)
    substitutes = models.PositiveSmallIntegerField(_("substitutes"), default=0)
    # The public pages and the commitment
    public_id = models.CharField(max_length=32, unique=True, default=new_public_id)
    seed = EncryptedTextField()  # 64 hex characters, revealed at the draw
    commitment = models.CharField(max_length=64)  # SHA-256 of the seed
    # When the CM published the commitment (the public page goes live); must precede the close.
    committed_at = models.DateTimeField(null=True, blank=True)
    # The draw
    frozen_entries = models.TextField(blank=True)  # the canonical entry list (draw.canonical)
    entries_hash = models.CharField(max_length=64, blank=True)
    result = models.JSONField(default=dict, blank=True)  # {"winners": [...], "substitutes": [...]}
    drawn_at = models.DateTimeField(null=True, blank=True)
    drawn_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True,
                                 related_name="+")
    collected_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("giveaway")
        ordering = ["-starts_at", "-pk"]
        indexes = [models.Index(fields=["brand", "ends_at"])]

    def __str__(self) -> str:
        return self.title

    def status(self, now=None) -> str:
        now = now or timezone.now()
        if self.drawn_at:
            return "drawn"
        if now >= self.ends_at:
            return "closed"
        if now < self.starts_at:
            return "scheduled"
        return "open"

    def status_display(self, now=None) -> str:
        return str(STATUS_LABELS[self.status(now)])


STATUS_LABELS = {
    "scheduled": _("Not open yet"),
    "open": _("Open for entries"),
    "closed": _("Closed, not drawn yet"),
    "drawn": _("Drawn"),
}


class ContestPost(BrandScopedModel):
    """A post the contest runs on: one of ours published through Tertulia (``target``), or one
    published elsewhere that the CM names by its id on the network."""

    brand = models.ForeignKey(Brand, on_delete=models.CASCADE, related_name="+", db_index=False)
    contest = models.ForeignKey(Contest, on_delete=models.CASCADE, related_name="posts")
    account = models.ForeignKey(SocialAccount, on_delete=models.CASCADE, related_name="+")
    external_id = models.CharField(max_length=200)
    target = models.ForeignKey(PostTarget, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["contest", "account", "external_id"],
                                               name="uniq_contest_post")]
        indexes = [models.Index(fields=["account", "external_id"])]

    @property
    def network(self) -> str:
        return self.account.network


class Entry(BrandScopedModel):
    """A comment on a contest post, with the rules' verdict and the CM's override if any."""

    class Override(models.TextChoices):
        NONE = "", _("As the rules say")
        INCLUDE = "include", _("Counted anyway")
        EXCLUDE = "exclude", _("Left out")

    brand = models.ForeignKey(Brand, on_delete=models.CASCADE, related_name="+", db_index=False)
    contest = models.ForeignKey(Contest, on_delete=models.CASCADE, related_name="entries")
    interaction = models.ForeignKey(Interaction, on_delete=models.SET_NULL, null=True, related_name="+")
    post = models.ForeignKey(ContestPost, on_delete=models.CASCADE, related_name="entries")
    author = models.ForeignKey(Author, on_delete=models.SET_NULL, null=True, related_name="+")
    network = models.CharField(max_length=16, choices=Network.choices)
    external_id = models.CharField(max_length=200)  # the comment's id on the network
    handle = models.CharField(max_length=200)
    person = models.CharField(max_length=220)  # who this is across networks (eligibility.person_key)
    text = models.TextField(max_length=70000, blank=True)
    commented_at = models.DateTimeField()
    tags = models.PositiveSmallIntegerField(default=0)
    # The rules' verdict: "" when eligible, else a rejection code (eligibility.REASONS).
    rejection = models.CharField(max_length=24, blank=True)
    detail = models.JSONField(default=dict, blank=True)
    weight = models.PositiveSmallIntegerField(default=1)
    override = models.CharField(max_length=8, choices=Override.choices, blank=True, default="")
    own_person = models.BooleanField(default=False)  # included over a "duplicate": someone else
    override_reason = models.CharField(max_length=500, blank=True)
    override_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True,
                                    related_name="+")
    override_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("entry")
        verbose_name_plural = _("entries")
        ordering = ["commented_at", "pk"]
        constraints = [models.UniqueConstraint(fields=["contest", "network", "external_id"], name="uniq_entry")]

    @property
    def counts(self) -> bool:
        """Whether the entry takes part in the draw (the override wins over the rules)."""
        if self.override == self.Override.INCLUDE:
            return True
        if self.override == self.Override.EXCLUDE:
            return False
        return not self.rejection


class DrawRun(BrandScopedModel):
    """Every press of "Draw", kept: the first one's result stands, later ones are refused."""

    brand = models.ForeignKey(Brand, on_delete=models.CASCADE, related_name="+", db_index=False)
    contest = models.ForeignKey(Contest, on_delete=models.CASCADE, related_name="runs")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+")
    at = models.DateTimeField(default=timezone.now)
    accepted = models.BooleanField(default=False)
    entries_hash = models.CharField(max_length=64, blank=True)
    outcome = models.JSONField(default=list)  # a note (core.notes): shown in each reader's language

    class Meta:
        ordering = ["at", "pk"]

    def outcome_display(self) -> str:
        from tertulia.core.notes import render

        return render(self.outcome)
