"""The composer's rules: one post with a variant per network, checked as each network would
check it, and the writes that save it.

- ``validate_post`` builds a per-network report (counters, errors, warnings) from the text
  rules (``text_rules``), the image rules (``media``), the brand's guidelines
  (``guidelines``) and the spell checker (``spelling``, when installed). Errors block a
  submission for review; warnings never do. It reads no database rows it is not given, so the
  live (htmx) check, the save and the API all give the same answer.
- ``do_create_draft`` / ``do_update_post`` save a post. A draft is saved whatever its
  problems (a CM never loses a draft). A variant inherits the post's text until it is
  edited; ``None`` or an empty text puts it back to inheriting.
- The re-review rule: editing the content (text, variants, media, first comment, accounts)
  of an approved or scheduled post sends it and its unfinished targets back to review when
  the brand's approval policy asks for it (``reapprove_on_edit``; a brand without a policy row
  requires approval and re-approval). The version is bumped, so a queued publishing task or an
  approval based on the old text does nothing.
- UTM helpers: the tagged URL for each network from the brand's ``UtmPreset`` (or the
  defaults), without touching the URL's own query parameters.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time
from urllib.parse import quote, unquote_plus, urlencode, urlsplit, urlunsplit

from django.core.exceptions import PermissionDenied, ValidationError
from django.core.validators import URLValidator
from django.db import transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from tertulia.core import audit, roles, timezones
from tertulia.core.services import Ctx, _log, _require
from tertulia.networks.capabilities import MESSAGING_ONLY
from tertulia.networks.models import Network, SocialAccount
from tertulia.publishing.models import PostTarget

from . import guidelines, media, text_rules
from .models import ApprovalPolicy, Campaign, MediaAsset, Post, PostMedia, PostVariant, UtmPreset

MAX_TEXT = 70000
MAX_FIRST_COMMENT = 10000
MAX_MEDIA = 20
MAX_ACCOUNTS = 100

# Networks in the order the composer shows them.
NETWORK_ORDER = [Network.X, Network.BLUESKY, Network.MASTODON, Network.INSTAGRAM, Network.THREADS,
                 Network.LINKEDIN, Network.FACEBOOK, Network.YOUTUBE, Network.TELEGRAM, Network.WORDPRESS,
                 Network.JOOMLA]
# Where a first comment (a reply under the post) can be published.
FIRST_COMMENT_NETWORKS = frozenset({Network.X, Network.BLUESKY, Network.MASTODON, Network.THREADS,
                                    Network.FACEBOOK, Network.INSTAGRAM, Network.LINKEDIN})
# Networks whose posts need an image or a video.
MEDIA_REQUIRED = frozenset({Network.INSTAGRAM})

EDITABLE = (Post.State.DRAFT, Post.State.PENDING_APPROVAL, Post.State.CHANGES_REQUESTED, Post.State.APPROVED,
            Post.State.SCHEDULED)
DELETABLE = (Post.State.DRAFT, Post.State.PENDING_APPROVAL, Post.State.CHANGES_REQUESTED)
# Targets that have not gone out yet and are not being sent: they follow the post back to review.
UNFINISHED_TARGETS = (PostTarget.State.DRAFT, PostTarget.State.PENDING_APPROVAL, PostTarget.State.APPROVED,
                      PostTarget.State.SCHEDULED)
BACK_TO_REVIEW_TARGETS = (*UNFINISHED_TARGETS, PostTarget.State.FAILED, PostTarget.State.NEEDS_ATTENTION)
# Targets that can be removed from a post (nothing went to the network).
REMOVABLE_TARGETS = (*UNFINISHED_TARGETS, PostTarget.State.CANCELED)

MESSAGES = {
    "needs_media": gettext_lazy("%(network)s posts need an image or a video."),
    "no_alt_text": gettext_lazy("Image %(index)s has no alternative text; people who use screen readers will miss it."),
    "first_comment": gettext_lazy("First comment: %(problem)s"),
    "first_comment_unsupported": gettext_lazy("%(network)s does not take a first comment; it will be left out there."),
    "misspelled": gettext_lazy("“%(word)s” may be misspelled."),
    "no_accounts": gettext_lazy("Choose at least one account."),
    "in_the_past": gettext_lazy("The scheduled time has already passed."),
    "needs_reconnect": gettext_lazy("The account %(account)s needs reconnecting before it can publish."),
    "too_long_for_account": gettext_lazy("This post is %(length)s characters long; %(account)s allows %(limit)s, "
                                         "the lowest limit of the chosen Mastodon accounts."),
    "youtube_no_title": gettext_lazy("A YouTube video needs a title: write a first line, or set a title in the "
                                     "post's YouTube video settings."),
    "youtube_title_cut": gettext_lazy("The first line becomes the YouTube title and is %(count)s characters long; "
                                      "YouTube takes 100, so it will be cut. Set a shorter title in the post's "
                                      "YouTube video settings."),
    "youtube_description_cut": gettext_lazy("The post's text takes %(size)s bytes; a YouTube description takes at "
                                            "most %(limit)s, so the description will be cut there. Shorten the text "
                                            "or write a YouTube variant."),
    "variant_ignored": gettext_lazy("There is no %(network)s account for this post; this text will not be published."),
}


# --- The report -----------------------------------------------------------------------------

@dataclass
class Issue:
    code: str
    message: str
    level: str = "error"  # "error" blocks a submission; "warning" does not
    source: str = "text"  # text, media, guidelines, spelling, first_comment, schedule, accounts
    suggestions: list[str] = field(default_factory=list)
    word: str = ""

    def as_dict(self) -> dict:
        out = {"code": self.code, "message": self.message, "level": self.level, "source": self.source}
        if self.source == "spelling":
            out.update(word=self.word, suggestions=list(self.suggestions))
        return out


@dataclass
class Counter:
    key: str  # "characters", "graphemes", "bytes", "hashtags", "mentions"
    label: str
    value: int | float
    limit: int

    @property
    def over(self) -> bool:
        return self.value > self.limit

    @property
    def display(self) -> str:
        value = int(self.value) if float(self.value).is_integer() else round(self.value, 1)
        return f"{value}/{self.limit}"

    def as_dict(self) -> dict:
        return {"key": self.key, "label": self.label, "value": self.value, "limit": self.limit, "over": self.over}


@dataclass
class NetworkReport:
    network: str
    label: str
    text: str
    inherits: bool
    selected: bool = True  # an account of this network is chosen
    counters: list[Counter] = field(default_factory=list)
    issues: list[Issue] = field(default_factory=list)

    @property
    def errors(self) -> list[Issue]:
        return [i for i in self.issues if i.level == "error"]

    @property
    def warnings(self) -> list[Issue]:
        return [i for i in self.issues if i.level != "error"]

    def as_dict(self) -> dict:
        return {"network": self.network, "label": self.label, "text": self.text, "inherits": self.inherits,
                "selected": self.selected, "counters": [c.as_dict() for c in self.counters],
                "errors": [i.as_dict() for i in self.errors], "warnings": [i.as_dict() for i in self.warnings]}


@dataclass
class PostReport:
    networks: dict[str, NetworkReport] = field(default_factory=dict)
    general: list[Issue] = field(default_factory=list)  # about the whole post
    tone: str = ""
    spelling_available: bool = False

    @property
    def errors(self) -> list[Issue]:
        return [i for i in self.general if i.level == "error"] + [
            i for r in self.networks.values() if r.selected for i in r.errors]

    @property
    def has_errors(self) -> bool:
        return bool(self.errors)

    def error_messages(self) -> list[str]:
        out = [i.message for i in self.general if i.level == "error"]
        for r in self.networks.values():
            if r.selected:
                out += [f"{r.label}: {i.message}" for i in r.errors]
        return out

    def as_dict(self) -> dict:
        return {"valid": not self.has_errors, "tone": self.tone, "spelling_available": self.spelling_available,
                "general": {"errors": [i.as_dict() for i in self.general if i.level == "error"],
                            "warnings": [i.as_dict() for i in self.general if i.level != "error"]},
                "networks": {n: r.as_dict() for n, r in self.networks.items()}}


def network_label(network: str) -> str:
    return media.network_label(network)


def ordered_networks(networks: Iterable[str]) -> list[str]:
    wanted = set(networks)
    return [n for n in NETWORK_ORDER if n in wanted]


def mastodon_limit(accounts: Sequence[SocialAccount]) -> int:
    """The character limit for the Mastodon variant: the lowest of the chosen Mastodon
    accounts' instance limits (``SocialAccount.server_limits``, read from
    ``/api/v2/instance``), Mastodon's default (500) for accounts without a stored copy."""
    return mastodon_options(accounts)[0]["limit"]


def mastodon_options(accounts: Sequence[SocialAccount]):
    """``(options, strictest account, limits differ)`` for the Mastodon text rules, from the
    chosen Mastodon accounts (see ``networks.mastodon.limits.strictest``)."""
    from tertulia.networks.mastodon.limits import strictest

    return strictest(a for a in accounts if a.network == Network.MASTODON)


def _text_result(network: str, text: str, *, has_media: bool, accounts: Sequence[SocialAccount]):
    if network not in text_rules.NETWORKS:
        return None
    options: dict = {"has_media": has_media}
    if network == Network.MASTODON:
        options.update(mastodon_options(accounts)[0])
    elif network == Network.TELEGRAM:
        options["caption"] = has_media
    elif network == Network.INSTAGRAM:
        options["has_media"] = True  # a caption may be empty; the missing image is its own error
    return text_rules.validate(network, text, **options)


def _problem_message(network: str, problem, accounts: Sequence[SocialAccount]) -> str:
    """The text rule's message; for Mastodon accounts on servers with different limits, a
    too-long text names the account whose (lowest) limit it breaks."""
    if network == Network.MASTODON and problem.code == "too_long":
        _options, account, differ = mastodon_options(accounts)
        if differ and account is not None:
            return _msg("too_long_for_account", length=problem.params.get("length"),
                        limit=problem.params.get("limit"), account=account.handle)
    return str(problem.message)


def _counters(network: str, result) -> list[Counter]:
    if result is None:
        return []
    if network == Network.BLUESKY:
        return [Counter("graphemes", _("characters"), result.length, result.limit),
                Counter("bytes", _("bytes"), result.details["bytes"], result.details["byte_limit"])]
    counters = [Counter("characters", _("characters"), result.length, result.limit)]
    if network == Network.INSTAGRAM:
        from .text_rules import instagram

        counters += [Counter("hashtags", _("hashtags"), len(result.details["hashtags"]), instagram.MAX_HASHTAGS),
                     Counter("mentions", _("mentions"), len(result.details["mentions"]), instagram.MAX_MENTIONS)]
    return counters


def _spell_checker():
    """``(check, brand_words_for)`` from ``content.spelling`` (imported when first needed: it
    loads the dictionaries)."""
    from . import spelling

    return spelling.check, spelling.brand_words_for


SPELL_CHARS = 5000  # a post longer than any network's limit but Facebook's is not spell checked past this
_LONG_RUN = re.compile(r"\S{61,}")


def _speller_text(text: str) -> str:
    """What the spell checker reads: the first SPELL_CHARS characters, with runs of more than
    60 non-space characters (long links, pasted junk) blanked out, offsets unchanged. No word is
    that long, and a checker's regexes can be slow on them."""
    return _LONG_RUN.sub(lambda m: " " * len(m.group()), text[:SPELL_CHARS])


def _msg(code: str, **params) -> str:
    return str(MESSAGES[code]) % params


def _requires_video(network: str) -> bool:
    from .video import NETWORK_VIDEO_RULES

    rules = NETWORK_VIDEO_RULES.get(network)
    return bool(rules is not None and rules.requires_video)


def _youtube_issues(text: str) -> list[Issue]:
    """What the video's title and description, made from the text, would lose. Warnings: the
    post's YouTube video settings may set a title of their own."""
    from tertulia.networks.youtube import options as yt

    first = next((line.strip() for line in (text or "").splitlines() if line.strip()), "")
    out = []
    if not first:
        out.append(Issue("youtube_no_title", _msg("youtube_no_title"), "warning", "text"))
    elif len(first) > yt.MAX_TITLE:
        out.append(Issue("youtube_title_cut", _msg("youtube_title_cut", count=len(first)), "warning", "text"))
    size = len((text or "").strip().encode("utf-8"))
    if size > yt.MAX_DESCRIPTION_BYTES:
        out.append(Issue("youtube_description_cut", _msg("youtube_description_cut", size=size,
                                                         limit=yt.MAX_DESCRIPTION_BYTES), "warning", "text"))
    return out


def validate_post(brand, master_text: str, variants: Mapping[str, str | None] | None = None,
                  accounts: Sequence[SocialAccount] = (), media_assets: Sequence[MediaAsset] = (), *,
                  first_comment: str = "", scheduled_at: datetime | None = None, networks: Iterable[str] = (),
                  spelling: bool = True, now: datetime | None = None) -> PostReport:
    """The per-network report for a post as typed.

    ``variants`` maps a network to its own text (``None`` or "" inherits ``master_text``).
    Reports are made for the chosen accounts' networks and for any extra ``networks`` (the
    composer shows every network the brand has, chosen or not); only chosen ones count as
    errors. Messages are rendered in the active language.
    """
    variants = dict(variants or {})
    accounts = list(accounts)
    media_assets = list(media_assets)
    master_text = master_text or ""
    selected = {a.network for a in accounts}
    report = PostReport(tone=getattr(brand, "tone", ""))
    has_media = bool(media_assets)
    speller = _spell_checker() if spelling else None
    report.spelling_available = speller is not None
    brand_words: set[str] = set()
    if speller is not None:
        try:
            brand_words = set(speller[1](brand))
        except Exception:  # noqa: BLE001 - a broken dictionary must not break the composer
            brand_words = set()
    # Texts shared by several networks are checked once.
    guideline_cache: dict[str, guidelines.GuidelineReport] = {}
    spelling_cache: dict[str, list] = {}

    def guideline_issues(text: str) -> list[Issue]:
        if text not in guideline_cache:
            guideline_cache[text] = guidelines.check(brand, text)
        found = guideline_cache[text]
        return ([Issue(p.code, str(p.message), "error", "guidelines") for p in found.errors]
                + [Issue(p.code, str(p.message), "warning", "guidelines") for p in found.warnings])

    def spelling_issues(text: str) -> list[Issue]:
        if speller is None or not text.strip():
            return []
        if text not in spelling_cache:
            try:
                spelling_cache[text] = list(speller[0](_speller_text(text), getattr(brand, "language", "es") or "es",
                                                       brand_words))
            except Exception:  # noqa: BLE001 - spelling is an aid; it never blocks the composer
                spelling_cache[text] = []
        return [Issue("misspelled", _msg("misspelled", word=m.word), "warning", "spelling",
                      suggestions=list(m.suggestions)[:5], word=m.word) for m in spelling_cache[text]]

    for network in ordered_networks(selected | set(networks) | {n for n, t in variants.items() if t}):
        custom = (variants.get(network) or "").strip()
        inherits = not custom
        text = master_text if inherits else custom
        is_selected = network in selected
        result = _text_result(network, text, has_media=has_media, accounts=accounts)
        nr = NetworkReport(network, network_label(network), text, inherits, is_selected, _counters(network, result))
        if result is not None:
            nr.issues += [Issue(p.code, _problem_message(network, p, accounts), "error", "text")
                          for p in result.problems]
        if network in MEDIA_REQUIRED and not has_media:
            nr.issues.append(Issue("needs_media", _msg("needs_media", network=nr.label), "error", "media"))
        if network == Network.YOUTUBE:
            nr.issues += _youtube_issues(text)
        # Networks that publish a video check their media even when none is attached ("needs a video").
        if media.has_media_rules(network) and (has_media or _requires_video(network)):
            nr.issues += [Issue(p.code, p.message, p.level, "media") for p in media.check_media(network, media_assets)]
        nr.issues += guideline_issues(text)
        if first_comment.strip():
            if network in FIRST_COMMENT_NETWORKS:
                comment = _text_result(network, first_comment, has_media=False, accounts=accounts)
                if comment is not None:
                    nr.issues += [Issue(p.code, _msg("first_comment", problem=_problem_message(network, p, accounts)),
                                        "error", "first_comment")
                                  for p in comment.problems]
            elif is_selected:
                nr.issues.append(Issue("first_comment_unsupported",
                                       _msg("first_comment_unsupported", network=nr.label), "warning", "first_comment"))
        nr.issues += spelling_issues(text)
        if not is_selected and not inherits:
            nr.issues.append(Issue("variant_ignored", _msg("variant_ignored", network=nr.label), "warning", "accounts"))
        report.networks[network] = nr

    if not accounts:
        report.general.append(Issue("no_accounts", _msg("no_accounts"), "error", "accounts"))
    for account in accounts:
        if account.status != SocialAccount.Status.CONNECTED:
            report.general.append(Issue("needs_reconnect", _msg("needs_reconnect", account=str(account)), "warning",
                                        "accounts"))
    for index, asset in enumerate(media_assets, start=1):
        if not (asset.alt_text or "").strip():
            report.general.append(Issue("no_alt_text", _msg("no_alt_text", index=index), "warning", "media"))
    if scheduled_at is not None and scheduled_at < (now or timezone.now()):
        report.general.append(Issue("in_the_past", _msg("in_the_past"), "error", "schedule"))
    return report


def report_for_post(post: Post, *, networks: Iterable[str] = ()) -> PostReport:
    """The report for a saved post, as its targets would be checked now."""
    accounts = [t.account for t in post.targets.select_related("account")]
    variants = {v.network: (v.text if v.is_custom else None) for v in post.variants.all()}
    assets = [pm.asset for pm in post.attachments.select_related("asset")]
    return validate_post(post.brand, post.text, variants, accounts, assets, first_comment=post.first_comment,
                         scheduled_at=post.scheduled_at if post.state in (Post.State.DRAFT, Post.State.CHANGES_REQUESTED)
                         else None, networks=networks)


# --- Times in the brand's zone --------------------------------------------------------------

def local_to_utc(brand, day: date, at: time) -> datetime:
    """A wall-clock date and time in the brand's zone, as an aware datetime.

    A time that does not exist there (the hour skipped when clocks go forward) is refused
    with a clear message rather than shifted silently. A time that happens twice (clocks go
    back) is the first of the two, as calendars read it.
    """
    zone = brand.tzinfo
    naive = datetime.combine(day, at.replace(tzinfo=None, fold=0))
    if not timezones.exists(naive, zone):
        raise ValidationError(
            {"scheduled_time": _("%(time)s does not exist on %(date)s in %(zone)s: the clocks go forward that night. "
                                 "Choose another time.") % {"time": at.strftime("%H:%M"), "date": day.isoformat(),
                                                             "zone": brand.timezone}})
    return timezones.resolve(naive, zone)


# --- Cleaning ---------------------------------------------------------------------------------

def _clean_text(value, *, field_name: str, limit: int) -> str:
    value = (value or "")
    if not isinstance(value, str):
        raise ValidationError({field_name: _("Enter text.")})
    value = value.strip()
    if "\x00" in value:
        raise ValidationError({field_name: _("Null characters are not allowed.")})
    if len(value) > limit:
        raise ValidationError({field_name: _("This text is %(length)s characters long; the limit is %(limit)s.")
                               % {"length": len(value), "limit": limit}})
    return value


def _own(brand, obj, what: str = "") -> None:
    if obj is not None and getattr(obj, "brand_id", None) != brand.pk:
        raise PermissionDenied(_("That belongs to another brand."))


def _clean_variants(variants: Mapping[str, str | None]) -> dict[str, str]:
    out = {}
    for network, text in (variants or {}).items():
        if network not in Network.values:
            raise ValidationError({"variants": _("Unknown network: %(network)s.") % {"network": str(network)[:30]}})
        out[network] = _clean_text(text, field_name="variants", limit=MAX_TEXT)
    return out


def _clean_accounts(brand, accounts) -> list[SocialAccount]:
    seen, out = set(), []
    for account in accounts or ():
        _own(brand, account)
        if account.network in MESSAGING_ONLY:
            raise ValidationError({"accounts": _("%(network)s is a messaging channel: it is answered from the inbox, "
                                                 "and nothing is published on it.")
                                   % {"network": Network(account.network).label}})
        if account.pk not in seen:
            seen.add(account.pk)
            out.append(account)
    if len(out) > MAX_ACCOUNTS:
        raise ValidationError({"accounts": _("At most %(limit)s accounts.") % {"limit": MAX_ACCOUNTS}})
    return out


def _clean_media(brand, assets) -> list[MediaAsset]:
    seen, out = set(), []
    for asset in assets or ():
        _own(brand, asset)
        if asset.pk not in seen:
            seen.add(asset.pk)
            out.append(asset)
    if len(out) > MAX_MEDIA:
        raise ValidationError({"media": _("At most %(limit)s images in a post.") % {"limit": MAX_MEDIA}})
    return out


# --- Saving -----------------------------------------------------------------------------------

def _snapshot(post: Post) -> dict:
    variants = {v.network: v.text for v in post.variants.all() if v.is_custom}
    return {
        "text": post.text, "format": post.format, "pillar": post.pillar_id, "campaign": post.campaign_id,
        "scheduled_at": post.scheduled_at, "first_comment": post.first_comment, "idea": post.idea_id,
        "variants": variants,
        "accounts": sorted(post.targets.values_list("account_id", flat=True)),
        "media": list(post.attachments.order_by("position").values_list("asset_id", flat=True)),
    }


CONTENT_KEYS = ("text", "variants", "media", "first_comment", "accounts")


def _target_state_for(post: Post) -> str:
    return {
        Post.State.DRAFT: PostTarget.State.DRAFT,
        Post.State.CHANGES_REQUESTED: PostTarget.State.DRAFT,
        Post.State.PENDING_APPROVAL: PostTarget.State.PENDING_APPROVAL,
        Post.State.APPROVED: PostTarget.State.APPROVED,
        Post.State.SCHEDULED: PostTarget.State.APPROVED,  # scheduled below, with its task
    }[post.state]


def _set_variants(post: Post, variants: dict[str, str]) -> None:
    existing = {v.network: v for v in post.variants.all()}
    for network, text in variants.items():
        custom = bool(text) and text != post.text
        variant = existing.get(network)
        if variant is None:
            PostVariant.objects.create(post=post, network=network, text=text if custom else "", is_custom=custom)
        elif (variant.is_custom, variant.text) != (custom, text if custom else ""):
            variant.is_custom, variant.text = custom, (text if custom else "")
            variant.save(update_fields=["is_custom", "text"])


def _ensure_variant_rows(post: Post, networks: Iterable[str]) -> None:
    have = set(post.variants.values_list("network", flat=True))
    PostVariant.objects.bulk_create([PostVariant(post=post, network=n) for n in set(networks) - have])


def _set_accounts(ctx: Ctx, post: Post, accounts: list[SocialAccount]) -> list[PostTarget]:
    """Add targets for new accounts and remove the ones no longer chosen. Returns the new ones."""
    wanted = {a.pk: a for a in accounts}
    current = {t.account_id: t for t in post.targets.all()}
    removed = [t for account_id, t in current.items() if account_id not in wanted]
    for target in removed:
        if target.state not in REMOVABLE_TARGETS:
            raise ValidationError({"accounts": _("%(account)s cannot be removed: this post already went out there "
                                                 "or is being sent.") % {"account": str(target.account)}})
    if removed:
        PostTarget.objects.filter(pk__in=[t.pk for t in removed]).delete()
    state = _target_state_for(post)
    added = [PostTarget(brand=post.brand, post=post, account=a, state=state, due_at=post.scheduled_at)
             for pk, a in wanted.items() if pk not in current]
    PostTarget.objects.bulk_create(added)
    _ensure_variant_rows(post, {a.network for a in accounts})
    return [t for t in post.targets.filter(account_id__in=[t.account_id for t in added])]


def _set_media(post: Post, assets: list[MediaAsset]) -> None:
    PostMedia.objects.filter(post=post).delete()
    PostMedia.objects.bulk_create([PostMedia(post=post, asset=a, position=i) for i, a in enumerate(assets)])


def approval_policy(brand) -> ApprovalPolicy:
    """The brand's policy, or the default one (approval required, re-approval on edit)."""
    from .approvals import get_policy

    return get_policy(brand)


@transaction.atomic
def do_create_draft(ctx: Ctx, brand, *, text: str = "", accounts: Sequence[SocialAccount] = (),
                    variants: Mapping[str, str | None] | None = None, pillar=None, format: str = Post.Format.TEXT,
                    campaign: Campaign | None = None, scheduled_at: datetime | None = None,
                    first_comment: str = "", media: Sequence[MediaAsset] = (), idea=None) -> Post:
    """Save a new post as a draft. Problems for the networks do not stop a draft; only data
    that cannot be stored does (another brand's rows, unknown choices, oversized text)."""
    _require(ctx, brand, roles.COMPOSE)
    post = Post(brand=brand, author=ctx.user, state=Post.State.DRAFT)
    fields = {"text": text, "accounts": accounts, "variants": variants or {}, "pillar": pillar, "format": format,
              "campaign": campaign, "scheduled_at": scheduled_at, "first_comment": first_comment, "media": media,
              "idea": idea}
    _apply(ctx, post, fields, creating=True)
    _log(ctx, "post.create", brand=brand, obj=post,
         changes={"accounts": list(post.targets.values_list("account__handle", flat=True)),
                  "scheduled_at": post.scheduled_at})
    return post


@transaction.atomic
def do_update_post(ctx: Ctx, post: Post, *, expected_version: int | None = None, **fields) -> Post:
    """Change a post. ``fields``: text, accounts, variants (a mapping of network to text or
    None; only the networks given change), pillar, format, campaign, scheduled_at,
    first_comment, media, idea. ``expected_version`` (the version the editor loaded) refuses
    to overwrite a colleague's newer edit."""
    _require(ctx, post.brand, roles.COMPOSE)
    unknown = set(fields) - {"text", "accounts", "variants", "pillar", "format", "campaign", "scheduled_at",
                             "first_comment", "media", "idea"}
    if unknown:
        raise ValidationError({sorted(unknown)[0]: _("Unknown field.")})
    post = Post.objects.select_for_update().select_related("brand").get(pk=post.pk)
    if expected_version is not None and post.version != expected_version:
        raise ValidationError(_("This post changed since you opened it. Reload it and make your changes again."),
                              code="changed")
    _apply(ctx, post, fields, creating=False)
    return post


def _apply(ctx: Ctx, post: Post, fields: dict, *, creating: bool) -> None:
    brand = post.brand
    if not creating:
        if post.state not in EDITABLE:
            raise ValidationError(_("A post that is “%(state)s” cannot be edited.")
                                  % {"state": post.get_state_display()}, code="state")
        if post.targets.filter(state=PostTarget.State.PUBLISHING).exists():
            raise ValidationError(_("This post is being published right now. Wait a moment and reload."),
                                  code="in_flight")
    before = {} if creating else _snapshot(post)
    if "text" in fields:
        post.text = _clean_text(fields["text"], field_name="text", limit=MAX_TEXT)
    if "first_comment" in fields:
        post.first_comment = _clean_text(fields["first_comment"], field_name="first_comment", limit=MAX_FIRST_COMMENT)
    if "format" in fields:
        if fields["format"] not in Post.Format.values:
            raise ValidationError({"format": _("Unknown format.")})
        post.format = fields["format"]
    for key in ("pillar", "campaign", "idea"):
        if key in fields:
            _own(brand, fields[key])
            setattr(post, key, fields[key])
    if "scheduled_at" in fields:
        when = fields["scheduled_at"]
        if when is not None and timezone.is_naive(when):
            raise ValidationError({"scheduled_at": _("Times must carry a time zone.")})
        post.scheduled_at = when
    variants = _clean_variants(fields["variants"]) if "variants" in fields else None
    accounts = _clean_accounts(brand, fields["accounts"]) if "accounts" in fields else None
    assets = _clean_media(brand, fields["media"]) if "media" in fields else None
    if creating:
        if not (post.text or variants and any(variants.values()) or assets):
            raise ValidationError({"text": _("Write something first.")})
        post.created_at = timezone.now()
        post.save()
    else:
        post.save()
    new_targets: list[PostTarget] = []
    if accounts is not None:
        new_targets = _set_accounts(ctx, post, accounts)
    if variants is not None:
        _set_variants(post, variants)
    elif "text" in fields and not creating:
        # A custom variant that now equals the master text goes back to inheriting.
        post.variants.filter(is_custom=True, text=post.text).update(is_custom=False, text="")
    if assets is not None:
        _set_media(post, assets)
    if creating:
        return
    after = _snapshot(post)
    changes = audit.diff(before, after)
    if not changes:
        return
    Post.objects.filter(pk=post.pk).update(version=F("version") + 1, updated_at=timezone.now())
    post.refresh_from_db(fields=["version", "updated_at"])
    content_changed = any(k in changes for k in CONTENT_KEYS)
    _log(ctx, "post.update", brand=brand, obj=post, changes=changes)
    policy = approval_policy(brand)
    if (content_changed and post.state in (Post.State.APPROVED, Post.State.SCHEDULED) and policy.required
            and policy.reapprove_on_edit):
        _back_to_review(ctx, post)
        return
    _follow_schedule(ctx, post, before.get("scheduled_at"), new_targets)


def _back_to_review(ctx: Ctx, post: Post) -> None:
    before = post.state
    Post.objects.filter(pk=post.pk).update(state=Post.State.PENDING_APPROVAL, version=F("version") + 1,
                                           updated_at=timezone.now())
    # Failed targets follow too: a retry must not send the new, unapproved text.
    PostTarget.objects.filter(post=post, state__in=BACK_TO_REVIEW_TARGETS).update(
        state=PostTarget.State.PENDING_APPROVAL, due_at=post.scheduled_at, version=F("version") + 1,
        next_attempt_at=None)
    post.refresh_from_db(fields=["state", "version", "updated_at"])
    _log(ctx, "post.back_to_review", brand=post.brand, obj=post, changes={"state": [before, post.state]})
    _notify_back_to_review(ctx, post)


MSG_BACK_TO_REVIEW = gettext_lazy("%(user)s edited an approved post for %(brand)s; it needs your approval again: "
                                  "“%(post)s”")


def _notify_back_to_review(ctx: Ctx, post: Post) -> None:
    """Tell the approvers, as a submission would (the approvals module decides who they are)."""
    from tertulia.core.notes import note

    from .approvals import approvers_for, post_url
    from tertulia.core.notifications import notify

    who = ctx.user.get_full_name() or ctx.user.get_username()
    notify(approvers_for(post.brand), kind="post.back_to_review", brand=post.brand, link=post_url(post),
           message=note(MSG_BACK_TO_REVIEW, user=who, brand=post.brand.name, post=str(post)), exclude=ctx.user)


def _follow_schedule(ctx: Ctx, post: Post, scheduled_before, new_targets: list[PostTarget]) -> None:
    """Keep the targets' times in step with the post's. Targets that are already scheduled are
    rescheduled through publishing (which queues their task); new ones join the post's state."""
    from tertulia.publishing import services as publishing

    moved = post.scheduled_at != scheduled_before
    waiting = (PostTarget.State.DRAFT, PostTarget.State.PENDING_APPROVAL, PostTarget.State.APPROVED)
    if moved:
        PostTarget.objects.filter(post=post, state__in=waiting).update(due_at=post.scheduled_at)
    if post.state == Post.State.APPROVED and moved and post.scheduled_at is not None:
        # An approved post that gets a time is scheduled, as approving a post with a time does.
        for target in post.targets.filter(state=PostTarget.State.APPROVED):
            publishing.do_schedule(ctx, target, due_at=post.scheduled_at)
        Post.objects.filter(pk=post.pk).update(state=Post.State.SCHEDULED)
        post.state = Post.State.SCHEDULED
        return
    if post.state != Post.State.SCHEDULED:
        return
    if post.scheduled_at is None:
        # Unscheduled: the approved post waits for a new time.
        PostTarget.objects.filter(post=post, state=PostTarget.State.SCHEDULED).update(
            state=PostTarget.State.APPROVED, due_at=None, version=F("version") + 1, next_attempt_at=None)
        Post.objects.filter(pk=post.pk).update(state=Post.State.APPROVED)
        post.state = Post.State.APPROVED
        return
    targets = list(post.targets.filter(state=PostTarget.State.SCHEDULED)) if moved else []
    targets += [t for t in new_targets if t.state == PostTarget.State.APPROVED]
    for target in targets:
        publishing.do_schedule(ctx, target, due_at=post.scheduled_at)


@transaction.atomic
def do_set_variant(ctx: Ctx, post: Post, network: str, text: str | None) -> PostVariant:
    """Give ``network`` its own text, or (``None``/"") put it back to inheriting the post's."""
    do_update_post(ctx, post, variants={network: text})
    return PostVariant.objects.get(post=post, network=network)


def do_reset_variant(ctx: Ctx, post: Post, network: str) -> PostVariant:
    return do_set_variant(ctx, post, network, None)


@transaction.atomic
def do_delete_post(ctx: Ctx, post: Post) -> None:
    """Delete a post that has not been approved yet. Approved and scheduled posts are canceled
    instead (their history matters); published ones stay."""
    _require(ctx, post.brand, roles.COMPOSE)
    post = Post.objects.select_for_update().get(pk=post.pk)
    if post.state not in DELETABLE:
        raise ValidationError(_("A post that is “%(state)s” cannot be deleted. Only drafts and posts in review or "
                                "with changes requested can; cancel it instead.") % {"state": post.get_state_display()},
                              code="conflict")
    _log(ctx, "post.delete", brand=post.brand, obj=post, changes={"text": post.text[:200], "state": post.state})
    from .models import ShortLink

    ShortLink.objects.filter(post=post).update(post=None)
    post.delete()


def submit_for_review(ctx: Ctx, post: Post) -> Post:
    """Hand the post to the approvals workflow, which refuses a post with errors for a chosen
    network with the reasons (``approvals.do_submit_for_review``)."""
    from .approvals import do_submit_for_review

    return do_submit_for_review(ctx, post)


# --- UTM ------------------------------------------------------------------------------------

_URL_OK = URLValidator(schemes=["http", "https"])


def clean_link(url: str) -> str:
    """An http(s) URL, or ValidationError. ``javascript:``, ``data:`` and friends are refused."""
    url = (url or "").strip()
    if not url or len(url) > 2000 or any(c in url for c in "\x00\r\n\t <>\"'"):
        raise ValidationError({"url": _("Enter a web address that starts with http:// or https://.")})
    if urlsplit(url).scheme.lower() not in ("http", "https"):
        raise ValidationError({"url": _("Enter a web address that starts with http:// or https://.")})
    try:
        _URL_OK(url)
    except ValidationError:
        raise ValidationError({"url": _("Enter a web address that starts with http:// or https://.")}) from None
    from .services import safe_redirect_target

    if not safe_redirect_target(url):  # https://bank.example@evil.example/, backslashes: the short link refuses them
        raise ValidationError({"url": _("Enter a web address that starts with http:// or https://, "
                                        "without a user name, password or backslash.")})
    return url


def utm_params(brand, network: str, campaign: Campaign | None = None, *,
               presets: Mapping[str, UtmPreset] | None = None) -> dict[str, str]:
    """utm_source, utm_medium, utm_campaign (and utm_content) for links posted on ``network``."""
    if presets is None:
        preset = UtmPreset.objects.filter(brand=brand, network=network).first()
    else:
        preset = presets.get(network)
    params = {"utm_source": network, "utm_medium": "social"}
    if preset is not None:
        params = {"utm_source": preset.utm_source or network, "utm_medium": preset.utm_medium or "social"}
        if preset.utm_content:
            params["utm_content"] = preset.utm_content
    if campaign is not None and campaign.utm_campaign:
        params["utm_campaign"] = campaign.utm_campaign
    return params


def tag_url(url: str, params: Mapping[str, str]) -> str:
    """``url`` with ``params`` added. The URL's own query is kept byte for byte (no decoding
    and re-encoding), except for the utm_* parameters it already had, which are replaced."""
    url = clean_link(url)
    parts = urlsplit(url)
    kept = [pair for pair in parts.query.split("&") if pair and not
            unquote_plus(pair.split("=", 1)[0]).lower().startswith("utm_")]
    added = urlencode([(k, v) for k, v in params.items() if v], quote_via=quote)
    query = "&".join(kept + ([added] if added else []))
    return urlunsplit(parts._replace(query=query))


def tagged_urls(brand, url: str, networks: Iterable[str], campaign: Campaign | None = None) -> dict[str, str]:
    presets = {p.network: p for p in UtmPreset.objects.filter(brand=brand)}
    clean_link(url)
    return {n: tag_url(url, utm_params(brand, n, campaign, presets=presets)) for n in ordered_networks(networks)}


def do_create_tracked_links(ctx: Ctx, brand, url: str, networks: Iterable[str], campaign: Campaign | None = None,
                            post: Post | None = None) -> dict[str, str]:
    """A Tertulia short link per network (``/l/<code>``), each carrying that network's UTM
    parameters. Returns {network: short URL}."""
    from .services import do_create_short_link, short_url

    _require(ctx, brand, roles.COMPOSE)
    url = clean_link(url)
    _own(brand, campaign)
    _own(brand, post)
    presets = {p.network: p for p in UtmPreset.objects.filter(brand=brand)}
    out = {}
    for network in ordered_networks(networks):
        params = utm_params(brand, network, campaign, presets=presets)
        link = do_create_short_link(ctx, brand, target_url=url, post=post, campaign=campaign,
                                    utm_source=params["utm_source"], utm_medium=params["utm_medium"],
                                    utm_campaign=params.get("utm_campaign", ""))
        out[network] = short_url(link)
    return out


_UTM_VALUE = re.compile(r"^[\w.\-~+ ]{0,100}$", re.UNICODE)


def _clean_utm(value: str, field_name: str, required: bool = False) -> str:
    value = (value or "").strip()
    if required and not value:
        raise ValidationError({field_name: _("This field is required.")})
    if not _UTM_VALUE.match(value):
        raise ValidationError({field_name: _("Use letters, digits, spaces, dots, dashes and underscores "
                                             "(at most 100).")})
    return value


@transaction.atomic
def do_save_utm_preset(ctx: Ctx, brand, network: str, *, utm_source: str, utm_medium: str = "social",
                       utm_content: str = "") -> UtmPreset:
    """Set the UTM source, medium and content used for links on one network."""
    _require(ctx, brand, roles.COMPOSE)
    if network not in Network.values:
        raise ValidationError({"network": _("Unknown network.")})
    values = {"utm_source": _clean_utm(utm_source, "utm_source", required=True),
              "utm_medium": _clean_utm(utm_medium, "utm_medium", required=True),
              "utm_content": _clean_utm(utm_content, "utm_content")}
    preset = UtmPreset.objects.filter(brand=brand, network=network).first()
    before = audit.snapshot(preset, values) if preset else {}
    if preset is None:
        preset = UtmPreset(brand=brand, network=network)
    for key, value in values.items():
        setattr(preset, key, value)
    preset.save()
    changes = audit.diff(before, values)
    if changes:
        _log(ctx, "utm_preset.save", brand=brand, obj=preset, changes={"network": network, **changes})
    return preset


@transaction.atomic
def do_delete_utm_preset(ctx: Ctx, preset: UtmPreset) -> None:
    _require(ctx, preset.brand, roles.COMPOSE)
    _log(ctx, "utm_preset.delete", brand=preset.brand, obj=preset, changes={"network": preset.network})
    preset.delete()
