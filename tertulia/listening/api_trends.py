"""Listening API: trends (volume, share of voice, rising terms, top authors and sources), spike
alerts (list and detail) and the alert settings (get and put).

Thin like the other routers: the brand comes from ``scoping.get_brand`` (404 for strangers, 403
for a role without the permission), rows only through ``for_user``, the one write through
``spikes.do_save_settings`` (which checks again and records it in the audit log, via="api").
Reading needs VIEW; changing the settings needs MANAGE_BRAND. The webhook secret is write-only.
"""


from datetime import datetime, timedelta
from typing import Literal

from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext as _
from ninja import Field, Query, Router, Schema
from ninja.pagination import LimitOffsetPagination, paginate

from tertulia.core import roles
from tertulia.core.api import MAX_PAGE, In, Text, _ctx, _one, _responses
from tertulia.core.notes import render as render_note
from tertulia.core.scoping import get_brand

from . import spikes, trends
from .models import ListeningQuery, Mention, SpikeAlert

router = Router()

MAX_SPAN = timedelta(days=366)


# --- Schemas ------------------------------------------------------------------------------------

class Period(Schema):
    since: datetime = Field(None, description="Start (ISO 8601, aware); 7 days before `until` if left out.")
    until: datetime = Field(None, description="End, exclusive; now if left out. At most 366 days after `since`.")
    query_id: int = Field(None, description="Only the mentions of this query of the brand.")


class VolumeParams(Period):
    bucket: Literal["hour", "day"] = "day"


class RisingParams(Schema):
    hours: int = Field(24, ge=1, le=24 * 14, description="The window: the last N hours.")
    baseline_days: int = Field(14, ge=1, le=90)
    limit: int = Field(20, ge=1, le=100)
    min_count: int = Field(3, ge=1, le=1000)
    query_id: int = None


class VolumeOut(Schema):
    start: datetime
    total: int
    negative: int
    neutral: int
    positive: int


class VoiceOut(Schema):
    name: str
    kind: Literal["brand", "competitor"]
    competitor_id: int | None
    mentions: int
    share: float


class TermOut(Schema):
    term: str
    count: int
    baseline: float
    score: float


class AuthorOut(Schema):
    network: str
    handle: str
    name: str
    mentions: int
    negative: int
    followers: int | None


class SourceOut(Schema):
    source: str
    network: str
    site: str
    mentions: int
    negative: int


class SampleOut(Schema):
    id: int
    network: str
    url: str
    site: str
    author_handle: str
    author_name: str
    title: str
    text: str
    sentiment: str
    created_at: datetime


class AlertOut(Schema):
    id: int
    brand_id: int
    query_id: int | None
    query_name: str | None
    kind: str
    window_start: datetime
    window_end: datetime
    count: int
    negative: int
    baseline: float
    reason: str
    sample_ids: list[int]
    notified_at: datetime | None
    delivery: dict
    created_at: datetime

    @staticmethod
    def resolve_query_name(obj):
        return obj.query.name if obj.query_id else None

    @staticmethod
    def resolve_reason(obj):
        return render_note(obj.reason)

    @staticmethod
    def resolve_sample_ids(obj):
        return [i for i in obj.samples or [] if isinstance(i, int)]


class AlertDetailOut(AlertOut):
    samples: list[SampleOut]

    @staticmethod
    def resolve_samples(obj):
        return obj.sample_mentions


class SettingsOut(Schema):
    spike_ratio: float
    min_mentions: int
    negative_share: float
    baseline_days: int
    alert_emails: str
    webhook_url: str
    has_webhook_secret: bool

    @staticmethod
    def resolve_has_webhook_secret(obj):
        return bool(obj.webhook_secret)


class SettingsIn(In):
    """The whole settings; a field left out takes its default."""

    spike_ratio: float = Field(3.0, ge=1.1, le=100, allow_inf_nan=False)
    min_mentions: int = Field(10, ge=1, le=100000)
    negative_share: float = Field(0.5, ge=0.05, le=1, allow_inf_nan=False, description="A fraction: 0.5 is 50 %.")
    baseline_days: int = Field(7, ge=1, le=60)
    alert_emails: Text(2000) = Field("", description="Separated by commas; empty: the brand's managers.")
    webhook_url: Text(1000) = Field("", description="http or https, on the public internet.")
    webhook_secret: Text(500) = Field(None, description="Write-only. Left out: kept; \"\": removed.")


# --- Helpers --------------------------------------------------------------------------------------

def _period(request, brand_id: int, params: Period):
    brand = get_brand(request.user, brand_id)
    until = params.until or timezone.now()
    since = params.since or until - timedelta(days=7)
    if timezone.is_naive(since) or timezone.is_naive(until):
        raise ValidationError({"since": _("Give times with their offset, e.g. 2026-03-01T00:00:00Z.")})
    if since >= until or until - since > MAX_SPAN:
        raise ValidationError({"since": _("“since” must come before “until”, at most 366 days before.")})
    qids = None
    if params.query_id is not None:
        query = _one(ListeningQuery.objects.for_user(request.user), pk=params.query_id, brand=brand)
        qids = [query.pk]
    return brand, since, until, qids


# --- Trends ---------------------------------------------------------------------------------------

@router.get("/brands/{brand_id}/listening/trends/volume", response=_responses(200, list[VolumeOut]),
            tags=["listening"])
def trends_volume(request, brand_id: int, params: Query[VolumeParams]):
    """Mentions per UTC hour or day, with the sentiment split (a mention counts once)."""
    brand, since, until, qids = _period(request, brand_id, params)
    if params.bucket == "hour" and until - since > timedelta(days=31):
        raise ValidationError({"bucket": _("Hours for at most 31 days; use days.")})
    rows = trends.volume(brand, query_ids=qids, since=since, until=until, bucket=params.bucket)
    return [{"start": r[0], "total": r[1], "negative": r[2], "neutral": r[3], "positive": r[4]} for r in rows]


@router.get("/brands/{brand_id}/listening/trends/share-of-voice", response=_responses(200, list[VoiceOut]),
            tags=["listening"])
def trends_share_of_voice(request, brand_id: int, params: Query[Period]):
    """The brand's queries (brand, product) against each competitor's, as counts and shares."""
    brand, since, until, _qids = _period(request, brand_id, params)
    return trends.share_of_voice(brand, since, until)


@router.get("/brands/{brand_id}/listening/trends/rising", response=_responses(200, list[TermOut]),
            tags=["listening"])
def trends_rising(request, brand_id: int, params: Query[RisingParams]):
    """Terms and hashtags said more in the last hours than their baseline rate predicts."""
    brand = get_brand(request.user, brand_id)
    qids = None
    if params.query_id is not None:
        qids = [_one(ListeningQuery.objects.for_user(request.user), pk=params.query_id, brand=brand).pk]
    return trends.rising_terms(brand, timezone.now(), window=timedelta(hours=params.hours),
                               baseline_days=params.baseline_days, limit=params.limit, min_count=params.min_count,
                               query_ids=qids)


@router.get("/brands/{brand_id}/listening/trends/authors", response=_responses(200, list[AuthorOut]),
            tags=["listening"])
def trends_authors(request, brand_id: int, params: Query[Period]):
    brand, since, until, qids = _period(request, brand_id, params)
    return trends.top_authors(brand, since, until, query_ids=qids, limit=20)


@router.get("/brands/{brand_id}/listening/trends/sources", response=_responses(200, list[SourceOut]),
            tags=["listening"])
def trends_sources(request, brand_id: int, params: Query[Period]):
    brand, since, until, qids = _period(request, brand_id, params)
    return trends.top_sources(brand, since, until, query_ids=qids, limit=20)


# --- Alerts ---------------------------------------------------------------------------------------

@router.get("/brands/{brand_id}/listening/alerts", response=_responses(200, list[AlertOut]), tags=["listening"])
@paginate(LimitOffsetPagination, max_limit=MAX_PAGE)
def alert_list(request, brand_id: int, kind: SpikeAlert.Kind = None):
    """Spike alerts, newest window first."""
    brand = get_brand(request.user, brand_id)
    qs = SpikeAlert.objects.for_user(request.user).filter(brand=brand).select_related("query")
    if kind is not None:
        qs = qs.filter(kind=kind.value)
    return qs.order_by("-window_start", "-pk")


@router.get("/brands/{brand_id}/listening/alerts/{alert_id}", response=_responses(200, AlertDetailOut),
            tags=["listening"])
def alert_get(request, brand_id: int, alert_id: int):
    """One alert with its sample mentions (most negative first)."""
    brand = get_brand(request.user, brand_id)
    alert = _one(SpikeAlert.objects.for_user(request.user).select_related("query"), pk=alert_id, brand=brand)
    found = {m.pk: m for m in Mention.objects.for_user(request.user).filter(brand=brand, pk__in=alert.samples or [])}
    alert.sample_mentions = [found[i] for i in alert.samples or [] if i in found]
    return alert


# --- Settings -------------------------------------------------------------------------------------

@router.get("/brands/{brand_id}/listening/alert-settings", response=_responses(200, SettingsOut), tags=["listening"])
def settings_get(request, brand_id: int):
    brand = get_brand(request.user, brand_id)
    return spikes.settings_for(brand)


@router.put("/brands/{brand_id}/listening/alert-settings", response=_responses(200, SettingsOut), tags=["listening"])
def settings_put(request, brand_id: int, payload: SettingsIn):
    """Replace the thresholds and where alerts go. ``webhook_secret`` left out keeps it."""
    brand = get_brand(request.user, brand_id, roles.MANAGE_BRAND)
    data = payload.dict(exclude_unset=False)
    secret = data.pop("webhook_secret", None)
    return spikes.do_save_settings(_ctx(request), brand, webhook_secret=secret or None,
                                   clear_secret=secret == "", **data)  # nosec B105 # not a password: an empty value, a URL or a regex
