"""The private iCal feed of a brand's calendar, for calendar apps (Google, Apple, Thunderbird).

A member creates a secret URL; only the SHA-256 of its token is stored, so the database (or a
log of it) cannot be turned back into the URL. The feed answers while the token is not
revoked and its owner is still a member who may view the brand; otherwise it is a 404, the
same answer as for a token that never existed.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from icalendar import Calendar, Event

from tertulia.core import roles
from tertulia.core.scoping import has_perm
from tertulia.core.services import Ctx, _log, _require
from tertulia.networks.models import Network

from .models import CalendarFeedToken, KeyDate, Post

PAST_DAYS, FUTURE_DAYS = 90, 400
MAX_EVENTS = 3000
SUMMARY_LENGTH = 80
DESCRIPTION_LENGTH = 2000
EVENT_MINUTES = 15
# Posts that are on their way out or out: what a calendar app should show.
FEED_STATES = (Post.State.APPROVED, Post.State.SCHEDULED, Post.State.PUBLISHED)
# iCalendar TEXT allows no control characters except the line break, which it escapes.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


def hash_token(raw: str) -> str:
    return hashlib.sha256(raw.encode("utf-8", "surrogatepass")).hexdigest()


def feed_url(raw: str) -> str:
    from django.urls import reverse

    return settings.SITE_URL + reverse("calendar_ical", args=[raw])


@transaction.atomic
def do_create_feed_token(ctx: Ctx, brand) -> tuple[CalendarFeedToken, str]:
    """A new secret feed URL for the acting member. Returns the row and the raw token, which
    is shown once and never stored."""
    _require(ctx, brand, roles.VIEW)
    raw = secrets.token_urlsafe(32)
    token = CalendarFeedToken.objects.create(brand=brand, user=ctx.user, token_hash=hash_token(raw))
    _log(ctx, "calendar_feed.create", brand=brand, obj=token)
    return token, raw


@transaction.atomic
def do_revoke_feed_token(ctx: Ctx, token: CalendarFeedToken) -> None:
    """Revoke one of the acting member's own feed URLs."""
    if token.user_id != ctx.user.pk:
        raise PermissionDenied(_("You can only revoke your own calendar links."))
    _require(ctx, token.brand, roles.VIEW)
    if CalendarFeedToken.objects.filter(pk=token.pk, revoked_at__isnull=True).update(revoked_at=timezone.now()):
        _log(ctx, "calendar_feed.revoke", brand=token.brand, obj=token)


def resolve(raw: str) -> CalendarFeedToken | None:
    """The live token for ``raw``, with its brand and user, or None."""
    if not raw or len(raw) > 200:
        return None
    token = (CalendarFeedToken.objects.filter(token_hash=hash_token(raw), revoked_at__isnull=True)
             .select_related("brand__organization", "user").first())
    if token is None or not token.user.is_active or not has_perm(token.user, token.brand, roles.VIEW):
        return None
    return token


def _clean(value: str, limit: int) -> str:
    value = value.replace("\r\n", "\n").replace("\r", "\n")
    value = _CONTROL.sub("", value)
    # A lone surrogate cannot be encoded as UTF-8; drop it rather than fail the whole feed.
    value = value.encode("utf-8", "ignore").decode("utf-8")
    return value if len(value) <= limit else value[: limit - 1] + "…"


def summary_of(text: str) -> str:
    first = next((line.strip() for line in (text or "").splitlines() if line.strip()), "")
    return _clean(first, SUMMARY_LENGTH) or _("(no text)")


def build(token: CalendarFeedToken, now: datetime | None = None) -> bytes:
    """The feed for ``token``'s brand, in the token owner's language."""
    brand, user = token.brand, token.user
    now = now or timezone.now()
    host = settings.SITE_URL.split("://", 1)[-1].split("/", 1)[0] or "tertulia"
    posts = (Post.objects.for_user(user).filter(brand=brand, state__in=FEED_STATES, scheduled_at__isnull=False,
                                                scheduled_at__gte=now - timedelta(days=PAST_DAYS),
                                                scheduled_at__lt=now + timedelta(days=FUTURE_DAYS))
             .prefetch_related("targets__account").select_related("pillar", "campaign")
             .order_by("scheduled_at", "pk")[:MAX_EVENTS])
    key_dates = KeyDate.objects.for_user(user).filter(
        brand=brand, date__gte=(now - timedelta(days=PAST_DAYS)).date(),
        date__lt=(now + timedelta(days=FUTURE_DAYS)).date()).order_by("date", "pk")[:MAX_EVENTS]
    cal = Calendar()
    cal.add("prodid", "-//Tertulia//Editorial calendar//EN")
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    cal.add("method", "PUBLISH")
    with translation.override(user.language or settings.LANGUAGE_CODE):
        cal.add("x-wr-calname", _clean(_("%(brand)s · editorial calendar") % {"brand": brand.name}, 200))
        cal.add("x-wr-timezone", brand.timezone)
        stamp = now.astimezone(UTC).replace(microsecond=0)
        for post in posts:
            targets = list(post.targets.all())
            networks = sorted({Network(t.account.network).label if t.account.network in Network.values
                               else t.account.network for t in targets})
            lines = [
                _("Networks: %(networks)s") % {"networks": ", ".join(networks) or "—"},
                _("State: %(state)s") % {"state": post.get_state_display()},
            ]
            if post.pillar_id:
                lines.append(_("Pillar: %(pillar)s") % {"pillar": post.pillar.name})
            if post.campaign_id:
                lines.append(_("Campaign: %(campaign)s") % {"campaign": post.campaign.name})
            lines += ["", post.text]
            start = post.scheduled_at.astimezone(UTC)
            event = Event()
            event.add("uid", f"post-{post.pk}@{host}")
            event.add("dtstamp", stamp)
            # Calendar apps replace an event they know when its sequence grows (a moved post).
            event.add("sequence", post.version)
            event.add("last-modified", post.updated_at.astimezone(UTC).replace(microsecond=0))
            event.add("dtstart", start)
            event.add("dtend", start + timedelta(minutes=EVENT_MINUTES))
            event.add("summary", summary_of(post.text))
            event.add("description", _clean("\n".join(lines), DESCRIPTION_LENGTH))
            event.add("url", f"{settings.SITE_URL}/brands/{brand.pk}/posts/{post.pk}/")
            event.add("status", "CONFIRMED" if post.state != Post.State.APPROVED else "TENTATIVE")
            event.add("categories", [_clean(n, 50) for n in networks] or ["Tertulia"])
            cal.add_component(event)
        for key_date in key_dates:
            event = Event()
            event.add("uid", f"key-date-{key_date.pk}@{host}")
            event.add("dtstamp", stamp)
            event.add("dtstart", key_date.date)
            event.add("dtend", key_date.date + timedelta(days=1))
            event.add("summary", _clean(key_date.name, 200))
            if key_date.notes:
                event.add("description", _clean(key_date.notes, DESCRIPTION_LENGTH))
            event.add("transp", "TRANSPARENT")
            cal.add_component(event)
    return cal.to_ical()
