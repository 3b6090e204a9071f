"""Writes to content: campaigns, posts with their per-network variants and targets, short links.

A post is written once and delivered to several accounts: one ``PostTarget`` row per account
carries the delivery state (see ``publishing``). Creating a post happens here; review and
approval live in ``approvals``; the delivery outcome (published, failed) is recorded by
``publishing.services``.
"""

from __future__ import annotations

import errno
import secrets
import string
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.validators import URLValidator
from django.db import IntegrityError, transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone
from django.utils.text import slugify
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from tertulia.core import audit, roles
from tertulia.core.services import Ctx, _log, _require
from tertulia.networks.models import SocialAccount
from tertulia.publishing.models import PostTarget
from tertulia.strategy.models import ContentPillar

from .models import Campaign, LinkClick, Post, PostVariant, ShortLink


# --- Campaigns --------------------------------------------------------------------------

@transaction.atomic
def do_create_campaign(ctx: Ctx, brand, *, name: str, utm_campaign: str = "", starts_on: date | None = None,
                       ends_on: date | None = None, cost: Decimal | None = None,
                       value: Decimal | None = None) -> Campaign:
    _require(ctx, brand, roles.COMPOSE)
    if starts_on and ends_on and ends_on < starts_on:
        raise ValidationError({"ends_on": _("The end comes before the start.")})
    campaign = Campaign(brand=brand, name=(name or "").strip()[:200],
                        utm_campaign=slugify(utm_campaign or name)[:100], starts_on=starts_on, ends_on=ends_on,
                        cost=cost, value=value)
    campaign.full_clean()
    campaign.save()
    _log(ctx, "campaign.create", brand=brand, obj=campaign,
         changes=audit.diff({}, audit.snapshot(campaign, ("name", "utm_campaign", "starts_on", "ends_on"))))
    return campaign


# --- Posts ------------------------------------------------------------------------------

@transaction.atomic
def do_create_post(ctx: Ctx, brand, *, text: str, accounts: Sequence[SocialAccount],
                   pillar: ContentPillar | None = None, format: str = Post.Format.TEXT,
                   campaign: Campaign | None = None, scheduled_at: datetime | None = None,
                   variants: dict[str, str] | None = None, submit: bool = False,
                   at: datetime | None = None) -> Post:
    """Write a post for some of the brand's accounts, as a draft or submitted for approval.

    ``variants`` maps a network to its own text; the other networks use the post's text.
    ``at`` is when the post was written (importers and the demo pass the original time).
    """
    _require(ctx, brand, roles.COMPOSE)
    text = (text or "").strip()
    if not text:
        raise ValidationError({"text": _("Write something first.")})
    if "\x00" in text or any("\x00" in (v or "") for v in (variants or {}).values()):
        # As the composer: a NUL is never text, and PostgreSQL cannot store it.
        raise ValidationError({"text": _("Null characters are not allowed.")})
    if format not in Post.Format.values:
        raise ValidationError({"format": _("Unknown format.")})
    accounts = list(accounts)
    if not accounts:
        raise ValidationError({"accounts": _("Choose at least one account.")})
    if any(a.brand_id != brand.pk for a in accounts) or (pillar and pillar.brand_id != brand.pk) or (
        campaign and campaign.brand_id != brand.pk
    ):
        raise PermissionDenied(_("That belongs to another brand."))
    if scheduled_at is not None and timezone.is_naive(scheduled_at):
        raise ValidationError({"scheduled_at": _("Times must carry a time zone.")})
    variants = variants or {}
    networks = sorted({a.network for a in accounts})
    unknown = set(variants) - set(networks)
    if unknown:
        raise ValidationError({"variants": _("There is no account on %(network)s for this post.")
                               % {"network": ", ".join(sorted(unknown))}})
    state = Post.State.PENDING_APPROVAL if submit else Post.State.DRAFT
    created_at = at or timezone.now()
    post = Post.objects.create(brand=brand, author=ctx.user, text=text, pillar=pillar, format=format,
                               campaign=campaign, state=state, scheduled_at=scheduled_at, created_at=created_at)
    PostVariant.objects.bulk_create([
        PostVariant(post=post, network=n, text=variants.get(n, "").strip(), is_custom=n in variants)
        for n in networks
    ])
    PostTarget.objects.bulk_create([
        PostTarget(brand=brand, post=post, account=a, state=state, due_at=scheduled_at, created_at=created_at)
        for a in accounts
    ])
    _log(ctx, "post.submit" if submit else "post.create", brand=brand, obj=post,
         changes={"accounts": [str(a) for a in accounts], "scheduled_at": scheduled_at})
    return post


def sync_post_state(post_id: int) -> bool:
    """A post is published once every target has finished and at least one went out.

    One conditional UPDATE, so two publishers finishing the last two targets at the same
    time cannot both miss it. Returns whether the post became published now."""
    finished = (PostTarget.State.PUBLISHED, PostTarget.State.FAILED, PostTarget.State.NEEDS_ATTENTION,
                PostTarget.State.CANCELED)
    targets = PostTarget.objects.filter(post_id=OuterRef("pk"))
    return bool(
        Post.objects.filter(pk=post_id)
        .exclude(state=Post.State.PUBLISHED)
        .filter(Exists(targets.filter(state=PostTarget.State.PUBLISHED)), ~Exists(targets.exclude(state__in=finished)))
        .update(state=Post.State.PUBLISHED, updated_at=timezone.now())
    )


# --- Short links ------------------------------------------------------------------------

SLUG_ALPHABET = string.ascii_letters + string.digits


def new_slug(length: int = 7) -> str:
    return "".join(secrets.choice(SLUG_ALPHABET) for _ in range(length))


def safe_redirect_target(url: str) -> bool:
    """Whether ``url`` may be a short link's target: an absolute http(s) URL that every parser
    reads the same way. Refused besides what URLValidator refuses: a user name or password
    (``https://bank.example@evil.example/`` shows one host and goes to another), backslashes
    (browsers read ``\\`` as ``/``, Python does not), whitespace and control characters."""
    if not isinstance(url, str) or not url or len(url) > 2000 or url != url.strip():
        return False
    if "\\" in url or any(c.isspace() or ord(c) < 32 or ord(c) == 127 for c in url):
        return False
    try:
        URLValidator(schemes=["http", "https"])(url)
        parts = urlsplit(url)
    except (ValidationError, ValueError):
        return False
    return parts.scheme.lower() in ("http", "https") and bool(parts.hostname) and "@" not in parts.netloc


def tracked_url(link: ShortLink) -> str:
    """The target URL with the link's UTM parameters (existing query parameters are kept)."""
    parts = urlsplit(link.target_url)
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if not k.startswith("utm_")]
    query += [(k, v) for k, v in (("utm_source", link.utm_source), ("utm_medium", link.utm_medium),
                                  ("utm_campaign", link.utm_campaign)) if v]
    return urlunsplit(parts._replace(query=urlencode(query)))


def short_url(link: ShortLink) -> str:
    return f"{settings.SITE_URL}/l/{link.slug}"


@transaction.atomic
def do_create_short_link(ctx: Ctx, brand, *, target_url: str, post: Post | None = None,
                         campaign: Campaign | None = None, utm_source: str = "", utm_medium: str = "social",
                         utm_campaign: str = "", slug: str | None = None, at: datetime | None = None) -> ShortLink:
    """A tracked short link. ``slug`` is random unless given (the demo passes seeded ones)."""
    _require(ctx, brand, roles.COMPOSE)
    if not safe_redirect_target(target_url):
        raise ValidationError({"target_url": _("Enter a web address that starts with http:// or https://, "
                                               "without a user name, password or backslash.")})
    if (post and post.brand_id != brand.pk) or (campaign and campaign.brand_id != brand.pk):
        raise PermissionDenied(_("That belongs to another brand."))
    utm_campaign = utm_campaign or (campaign.utm_campaign if campaign else "")
    for attempt in range(5):
        link = ShortLink(brand=brand, slug=slug or new_slug(), target_url=target_url, post=post, campaign=campaign,
                         utm_source=utm_source[:100], utm_medium=utm_medium[:100], utm_campaign=utm_campaign[:100],
                         created_at=at or timezone.now())
        try:
            with transaction.atomic():
                link.save()
            break
        except IntegrityError:
            if slug:
                raise ValidationError({"slug": _("That short link is taken.")})
    else:  # pragma: no cover - five random 7-character collisions in a row
        raise ValidationError({"slug": _("Could not find a free short link. Try again.")})
    _log(ctx, "link.create", brand=brand, obj=link, changes={"slug": link.slug, "target_url": target_url})
    return link


@dataclass(frozen=True, slots=True)
class Click:
    clicked_at: datetime
    referrer_host: str = ""
    country: str = ""


def record_link_clicks(link: ShortLink, clicks: Iterable[Click]) -> int:
    """Store clicks on a short link (the redirect view records one at a time; imports many)."""
    rows = [LinkClick(brand_id=link.brand_id, link=link, clicked_at=c.clicked_at,
                      referrer_host=c.referrer_host[:200], country=c.country.upper()[:2]) for c in clicks]
    LinkClick.objects.bulk_create(rows, batch_size=500)
    return len(rows)


# --- Media library ----------------------------------------------------------------------
# Files are written before their row and removed if the row cannot be written, so a failed
# upload leaves neither. Deleting removes the files only after the deletion has committed.

MEDIA_FIELDS = ("alt_text", "tags")
MAX_TAGS = 30


def _clean_tags(values) -> list[str]:
    from tertulia.core.services import _clean_list

    tags = [t.lstrip("#").strip()[:50] for t in _clean_list(values)]
    tags = [t for t in tags if t]
    if len(tags) > MAX_TAGS:
        raise ValidationError({"tags": _("At most %(limit)s tags.") % {"limit": MAX_TAGS}})
    return tags


def _clean_alt(value: str) -> str:
    value = (value or "").strip()
    if "\x00" in value:
        raise ValidationError({"alt_text": _("Null characters are not allowed.")})
    if len(value) > 1500:
        raise ValidationError({"alt_text": _("Alternative text can be at most %(limit)s characters.") % {"limit": 1500}})
    return value


# The disk (or the quota) filling up while a file is written: a clear message instead of a 500.
MSG_DISK_FULL = gettext_lazy("The server's disk is full: the file could not be stored and nothing was saved. "
                             "Try again later, or tell your administrator.")
_DISK_FULL = frozenset({errno.ENOSPC, errno.EDQUOT})


def _disk_full(exc: OSError, field: str = "file") -> ValidationError:
    return ValidationError({field: [ValidationError(MSG_DISK_FULL, code="disk_full")]})


def _save_file(name: str, content) -> str:
    """``default_storage.save`` that leaves no partial file behind: Django's file system storage
    keeps what it wrote before a failed write (a full disk). The name is made from a fresh
    UUID, so whatever is at it after a failure is our own partial file."""
    from django.core.files.storage import default_storage

    try:
        return default_storage.save(name, content)
    except BaseException:
        try:
            if default_storage.exists(name):
                default_storage.delete(name)
        except OSError:  # pragma: no cover - the disk is in trouble; the original error matters
            pass
        raise


def _store_processed(ctx: Ctx, brand, processed, *, alt_text: str = "", tags=(), derived_from=None,
                     preset: str = "", action: str = "media.upload"):
    """Write the files, then the row (or return the brand's existing copy of the same image)."""
    import uuid

    from django.core.files.base import ContentFile
    from django.core.files.storage import default_storage

    from .models import MediaAsset

    existing = MediaAsset.objects.filter(brand=brand, sha256=processed.sha256).first()
    if existing is not None:
        return existing
    now = timezone.now()
    stem = f"media/{brand.pk}/{now:%Y/%m}/{uuid.uuid4().hex}"
    names: list[str] = []
    try:
        names.append(_save_file(f"{stem}.{processed.extension}", ContentFile(processed.content)))
        names.append(_save_file(f"{stem}.preview.webp", ContentFile(processed.preview)))
        with transaction.atomic():
            asset = MediaAsset(brand=brand, kind=MediaAsset.Kind.IMAGE, mime_type=processed.mime_type,
                               size_bytes=processed.size_bytes, width=processed.width, height=processed.height,
                               sha256=processed.sha256, alt_text=alt_text, tags=list(tags),
                               derived_from=derived_from, preset=preset, uploaded_by=ctx.user, created_at=now)
            asset.file.name, asset.preview.name = names
            asset.save()
            _log(ctx, action, brand=brand, obj=asset,
                 changes={"mime_type": asset.mime_type, "size": [asset.width, asset.height],
                          "sha256": asset.sha256, **({"preset": preset} if preset else {})})
    except IntegrityError:
        # The same image was stored by someone else in the meantime: keep theirs.
        for name in names:
            default_storage.delete(name)
        existing = MediaAsset.objects.filter(brand=brand, sha256=processed.sha256).first()
        if existing is None:  # pragma: no cover - a constraint other than the dedup one
            raise
        return existing
    except BaseException:
        for name in names:
            default_storage.delete(name)
        raise
    return asset


def do_upload_media(ctx: Ctx, brand, fileobj, *, alt_text: str = "", tags=()):
    """Validate an uploaded image or video by its content and add it to the brand's library.

    ``fileobj`` is anything with ``read()`` (an UploadedFile, BytesIO). Its first bytes decide:
    a video (``content.video``: streamed to disk, probed) or an image (``content.media``).
    Raises ValidationError with the reason for refusing it (see ``content.media.MESSAGES`` and
    ``content.video.MESSAGES``). Uploading a file the brand already has returns the existing asset.
    A full disk is a ValidationError too (``MSG_DISK_FULL``), with no file and no row left.
    """
    _require(ctx, brand, roles.COMPOSE)
    try:
        return _upload_media(ctx, brand, fileobj, alt_text=alt_text, tags=tags)
    except OSError as exc:
        if exc.errno in _DISK_FULL:
            raise _disk_full(exc) from exc
        raise


def _upload_media(ctx: Ctx, brand, fileobj, *, alt_text: str = "", tags=()):
    from . import media, video

    alt_text, tags = _clean_alt(alt_text), _clean_tags(tags)
    try:
        video.check_declared_size(fileobj, video.upload_limit())
    except ValidationError as exc:
        raise ValidationError({"file": exc.error_list}) from None
    container = video.sniff(video.peek(fileobj))
    if container == "other":  # a video container we do not take: refused before reading it all
        raise ValidationError({"file": [video.refuse("container")]})
    if container is not None:
        return _upload_video(ctx, brand, fileobj, alt_text=alt_text, tags=tags)
    data = media.read_limited(fileobj, media.max_bytes())
    try:
        processed = media.process_upload(data)
    except ValidationError as exc:
        raise ValidationError({"file": exc.error_list}) from None
    return _store_processed(ctx, brand, processed, alt_text=alt_text, tags=tags)


def _upload_video(ctx: Ctx, brand, fileobj, *, alt_text: str, tags: list[str]):
    """A video upload (``do_upload_media`` checked the role): streamed to disk, probed, then
    moved into storage with its poster frame, and only then its row written. A refused or
    failed upload leaves no file and no row; the same video twice is one asset."""
    import uuid

    from django.core.files.base import ContentFile
    from django.core.files.storage import default_storage

    from . import video
    from .models import MediaAsset

    try:
        with video.spooled(fileobj) as spool:
            existing = MediaAsset.objects.filter(brand=brand, sha256=spool.sha256).first()
            if existing is not None:
                return existing
            probe = video.probe(spool.path, spool.container)
            now = timezone.now()
            stem = f"media/{brand.pk}/{now:%Y/%m}/{uuid.uuid4().hex}"
            names: list[str] = []
            try:
                source = video.SpooledFile(spool)
                try:
                    names.append(_save_file(f"{stem}.{probe.extension}", source))
                finally:
                    source.close()
                if probe.poster:
                    names.append(_save_file(f"{stem}.preview.webp", ContentFile(probe.poster)))
                with transaction.atomic():
                    asset = MediaAsset(
                        brand=brand, kind=MediaAsset.Kind.VIDEO, mime_type=probe.mime_type, size_bytes=spool.size,
                        width=probe.width, height=probe.height, duration_seconds=probe.duration,
                        container=probe.container, video_codec=probe.video_codec, audio_codec=probe.audio_codec,
                        frame_rate=probe.frame_rate, bitrate=probe.bitrate, sha256=spool.sha256, alt_text=alt_text,
                        tags=list(tags), uploaded_by=ctx.user, created_at=now)
                    asset.file.name = names[0]
                    asset.preview.name = names[1] if len(names) > 1 else ""
                    asset.save()
                    _log(ctx, "media.upload", brand=brand, obj=asset,
                         changes={"mime_type": asset.mime_type, "size": [asset.width, asset.height],
                                  "duration": asset.duration_seconds, "codecs": [probe.video_codec, probe.audio_codec],
                                  "sha256": asset.sha256})
            except IntegrityError:
                for name in names:
                    default_storage.delete(name)
                existing = MediaAsset.objects.filter(brand=brand, sha256=spool.sha256).first()
                if existing is None:  # pragma: no cover - a constraint other than the dedup one
                    raise
                return existing
            except BaseException:
                for name in names:
                    default_storage.delete(name)
                raise
    except ValidationError as exc:
        raise ValidationError({"file": exc.error_list}) from None
    return asset


@transaction.atomic
def do_update_media(ctx: Ctx, asset, **fields):
    """Change an asset's alternative text and tags."""
    _require(ctx, asset.brand, roles.COMPOSE)
    before = audit.snapshot(asset, MEDIA_FIELDS)
    for key, value in fields.items():
        if key == "alt_text":
            asset.alt_text = _clean_alt(value)
        elif key == "tags":
            asset.tags = _clean_tags(value)
        else:
            raise ValidationError({key: _("Unknown field.")})
    changes = audit.diff(before, audit.snapshot(asset, MEDIA_FIELDS))
    if changes:
        asset.save(update_fields=list(changes))
        _log(ctx, "media.update", brand=asset.brand, obj=asset, changes=changes)
    return asset


@transaction.atomic
def do_delete_media(ctx: Ctx, asset) -> None:
    """Delete an asset and, once that has committed, its files. Assets used by a post stay."""
    from django.core.files.storage import default_storage

    from .models import PostMedia

    _require(ctx, asset.brand, roles.COMPOSE)
    if PostMedia.objects.filter(asset=asset).exists():
        raise ValidationError(_("This image is attached to a post. Remove it from the post first."))
    names = [n for n in (asset.file.name, asset.preview.name) if n]
    _log(ctx, "media.delete", brand=asset.brand, obj=asset, changes={"sha256": asset.sha256})
    asset.delete()
    transaction.on_commit(lambda: [default_storage.delete(n) for n in names])


def do_crop_media(ctx: Ctx, asset, preset: str):
    """A new asset: ``asset`` centre-cropped and resized to one of ``media.PRESETS``."""
    from . import media

    _require(ctx, asset.brand, roles.COMPOSE)
    chosen = media.PRESETS.get(preset)
    if chosen is None:
        raise ValidationError({"preset": _("Unknown size preset.")})
    if asset.kind != asset.Kind.IMAGE:
        raise ValidationError({"preset": _("Only images can be cropped.")})
    with asset.file.open("rb") as fh:
        data = fh.read()
    try:
        processed = media.process_preset(data, chosen)
    except ValidationError as exc:
        raise ValidationError({"preset": exc.error_list}) from None
    try:
        return _store_processed(ctx, asset.brand, processed, alt_text=asset.alt_text, tags=asset.tags,
                                derived_from=asset, preset=preset, action="media.crop")
    except OSError as exc:  # a full disk: the same message as an upload, no file and no row left
        if exc.errno in _DISK_FULL:
            raise _disk_full(exc, "preset") from exc
        raise
