"""Spike alerts: an unusual number of mentions in the last full hour, and possible crises.

For each brand with enabled queries, ``check`` compares the last full UTC hour of each enabled
query (and of the brand's whole volume, ``query=None``) with two baselines:

- the same hour on each of the previous ``baseline_days`` days (the daily rhythm), and
- the ``PREVIOUS_HOURS`` hours before it (the recent level),

and takes the higher of the two averages, at least 1, as the usual count. It is a spike when
``count >= min_mentions`` and ``count >= spike_ratio × usual``. It is a possible crisis
(``SpikeAlert.Kind.NEGATIVE``) when, besides ``count >= min_mentions``, the negative mentions are
at least ``negative_share`` of the hour's and are themselves a spike against their own usual
count. A crisis is reported instead of the plain volume spike of the same window; a crisis
found after a volume alert (late mentions) is still reported, as an escalation.

Each (brand, query, kind, window) gets one alert: checked before creating (the periodic task runs
every 5 minutes, under a lock, so the same hour is looked at a dozen times) and guarded by the
unique constraint (which does not hold for ``query=None`` since NULLs are distinct, hence the
check and the lock). The reason is stored as a note with the figures; samples are a few mention
ids, negative and most toxic first. Delivery (e-mail in the brand's language with the samples'
texts, a signed webhook, an in-app notification) happens after the alert is committed and never
raises: its outcome is recorded in ``SpikeAlert.delivery``.

The settings service (``do_save_settings``) is here too: thresholds, e-mails, webhook.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import json
import logging
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

from django.conf import settings as dj_settings
from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.core.validators import URLValidator, validate_email
from django.db import IntegrityError, transaction
from django.db.models import Case, Count, F, IntegerField, Q, Value, When
from django.urls import reverse
from django.utils import formats, timezone, translation
from django.utils.translation import gettext_lazy
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from tertulia.core import roles
from tertulia.core.models import Brand, Membership
from tertulia.core.notes import note, render
from tertulia.core.services import Ctx, _log, _require

from .trends import _as_utc, _time_groups
from .models import ListeningQuery, ListeningSettings, Mention, MentionMatch, SpikeAlert

log = logging.getLogger(__name__)

PREVIOUS_HOURS = 6
SAMPLES = 5
WEBHOOK_TIMEOUT = 5.0  # seconds, connect and read

REASON = gettext_noop(
    "%(count)s mentions from %(start)s to %(end)s (%(zone)s), %(ratio)s times the usual %(baseline)s: "
    "%(same_hour)s on average at that hour on the previous %(days)s days, %(previous)s on average in the "
    "previous %(hours)s hours. %(negative)s negative (%(share)s%%).")
REASON_NEGATIVE = gettext_noop(
    "Possible crisis: %(negative)s negative mentions, %(share)s%% of the hour's, against a usual "
    "%(negative_baseline)s.")
SCOPE_BRAND = gettext_noop("All of the brand's mentions")
SUBJECT = {SpikeAlert.Kind.VOLUME: gettext_noop("Volume spike: %(scope)s"),
           SpikeAlert.Kind.NEGATIVE: gettext_noop("Possible crisis: %(scope)s")}
NOTIFY = {
    (SpikeAlert.Kind.VOLUME, False): gettext_noop("Volume spike in %(scope)s: %(count)s mentions in an hour, usually "
                                                  "%(baseline)s."),
    (SpikeAlert.Kind.NEGATIVE, False): gettext_noop("Possible crisis in %(scope)s: %(count)s mentions in an hour, "
                                                    "%(negative)s negative, usually %(baseline)s."),
    (SpikeAlert.Kind.VOLUME, True): gettext_noop("Volume spike in all of the brand's mentions: %(count)s in an hour, "
                                                 "usually %(baseline)s."),
    (SpikeAlert.Kind.NEGATIVE, True): gettext_noop("Possible crisis in all of the brand's mentions: %(count)s in an "
                                                   "hour, %(negative)s negative, usually %(baseline)s."),
}
SENTIMENT_LABELS = {"negative": gettext_noop("Negative"), "neutral": gettext_noop("Neutral"),
                    "positive": gettext_noop("Positive")}


# --- Settings ----------------------------------------------------------------------------------

def settings_for(brand: Brand) -> ListeningSettings:
    """The brand's settings, or the defaults (unsaved) when it never changed them."""
    found = ListeningSettings.objects.filter(brand=brand).first()
    return found or ListeningSettings(brand=brand)


def parse_emails(value: str) -> list[str]:
    """Addresses separated by commas, semicolons, spaces or lines; each one validated."""
    out: list[str] = []
    for part in re.split(r"[\s,;]+", value or ""):
        if not part:
            continue
        validate_email(part)
        if part.lower() not in (e.lower() for e in out):
            out.append(part)
    return out


MAX_EMAILS = 20
_LOCAL_HOSTS = (".localhost", ".local", ".internal", ".lan", ".home.arpa")


def validate_webhook_url(url: str) -> str:
    """http or https, a host name or a public address (private, loopback and link-local
    addresses are refused here; the client refuses them again on the address it dials)."""
    url = (url or "").strip()
    if not url:
        return ""
    message = _("Enter an http or https address on the public internet.")
    try:
        URLValidator(schemes=["http", "https"])(url)
    except ValidationError as exc:
        raise ValidationError({"webhook_url": message}) from exc
    parts = urlsplit(url)
    host = (parts.hostname or "").rstrip(".").lower()
    if parts.username or parts.password or not host:
        raise ValidationError({"webhook_url": message})
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        if host == "localhost" or host.endswith(_LOCAL_HOSTS) or "." not in host:
            raise ValidationError({"webhook_url": message}) from None
    else:
        from tertulia.networks.http import is_public_address

        if not is_public_address(ip):
            raise ValidationError({"webhook_url": message})
    return url


SETTINGS_FIELDS = ("spike_ratio", "min_mentions", "negative_share", "baseline_days", "alert_emails", "webhook_url")
LIMITS = {"spike_ratio": (1.1, 100.0), "min_mentions": (1, 100000), "negative_share": (0.05, 1.0),
          "baseline_days": (1, 60)}


def do_save_settings(ctx: Ctx, brand: Brand, *, webhook_secret: str | None = None, clear_secret: bool = False,
                     **fields) -> ListeningSettings:
    """Change the thresholds and where alerts go. ``webhook_secret``: None keeps it, a value
    replaces it, ``clear_secret`` removes it. The secret is never logged."""
    _require(ctx, brand, roles.MANAGE_BRAND)
    unknown = set(fields) - set(SETTINGS_FIELDS)
    if unknown:
        raise ValidationError(_("Unknown fields: %(fields)s") % {"fields": ", ".join(sorted(unknown))})
    errors: dict[str, str] = {}
    for name, (lo, hi) in LIMITS.items():
        if name in fields:
            value = fields[name]
            if value is None or not (lo <= value <= hi):
                errors[name] = _("Enter a value between %(low)s and %(high)s.") % {"low": lo, "high": hi}
    if "alert_emails" in fields:
        try:
            emails = parse_emails(fields["alert_emails"] or "")
        except ValidationError:
            errors["alert_emails"] = _("Enter valid e-mail addresses, separated by commas.")
        else:
            if len(emails) > MAX_EMAILS:
                errors["alert_emails"] = _("At most %(n)s addresses.") % {"n": MAX_EMAILS}
            fields["alert_emails"] = ", ".join(emails)
    if "webhook_url" in fields:
        try:
            fields["webhook_url"] = validate_webhook_url(fields["webhook_url"] or "")
        except ValidationError as exc:
            errors.update({k: v[0] for k, v in exc.message_dict.items()})
    if webhook_secret is not None and len(webhook_secret) > 500:
        errors["webhook_secret"] = _("At most %(n)s characters.") % {"n": 500}
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        obj, _created = ListeningSettings.objects.select_for_update().get_or_create(brand=brand)
        changes = {}
        for name, value in fields.items():
            if getattr(obj, name) != value:
                changes[name] = [getattr(obj, name), value]
                setattr(obj, name, value)
        if clear_secret and obj.webhook_secret:
            obj.webhook_secret = ""  # nosec B105 # not a password: an empty value, a URL or a regex
            changes["webhook_secret"] = "removed"  # nosec B105 # not a password: an empty value, a URL or a regex
        elif webhook_secret:
            obj.webhook_secret = webhook_secret
            changes["webhook_secret"] = "changed"  # nosec B105 # not a password: an empty value, a URL or a regex
        obj.save()
        _log(ctx, "listening.settings.update", brand=brand, obj=obj, changes=changes)
    return obj


# --- Detection ---------------------------------------------------------------------------------

@dataclass
class _Figures:
    count: int = 0
    negative: int = 0
    same_hour: float = 0.0  # average at that hour on the previous days
    previous: float = 0.0  # average over the previous hours
    same_hour_negative: float = 0.0
    previous_negative: float = 0.0

    @property
    def baseline(self) -> float:
        return max(self.same_hour, self.previous, 1.0)

    @property
    def negative_baseline(self) -> float:
        return max(self.same_hour_negative, self.previous_negative, 1.0)


def _windows(ws: datetime, days: int) -> tuple[list[datetime], list[datetime]]:
    same = [ws - timedelta(days=d) for d in range(1, days + 1)]
    prev = [ws - timedelta(hours=h) for h in range(1, PREVIOUS_HOURS + 1)]
    return same, prev


def _figures(counts: dict[datetime, tuple[int, int]], ws: datetime, days: int) -> _Figures:
    same, prev = _windows(ws, days)
    f = _Figures(*counts.get(ws, (0, 0)))
    f.same_hour = sum(counts.get(h, (0, 0))[0] for h in same) / len(same)
    f.previous = sum(counts.get(h, (0, 0))[0] for h in prev) / len(prev)
    f.same_hour_negative = sum(counts.get(h, (0, 0))[1] for h in same) / len(same)
    f.previous_negative = sum(counts.get(h, (0, 0))[1] for h in prev) / len(prev)
    return f


def _hour_counts(brand: Brand, ws: datetime, days: int, query_ids: list[int]):
    """Per (query, hour) and per hour for the brand: (count, negative), read in two grouped
    queries over only the hours that matter."""
    same, prev = _windows(ws, days)
    ranges = Q(created_at__gte=ws, created_at__lt=ws + timedelta(hours=1))
    ranges |= Q(created_at__gte=ws - timedelta(hours=PREVIOUS_HOURS), created_at__lt=ws)
    for h in same:
        if h < ws - timedelta(hours=PREVIOUS_HOURS):
            ranges |= Q(created_at__gte=h, created_at__lt=h + timedelta(hours=1))
    base = MentionMatch.objects.filter(ranges, brand=brand)
    per_query: dict[int, dict[datetime, tuple[int, int]]] = {}
    rows = (_time_groups(base.filter(query_id__in=query_ids), False)
            .values("query_id", "_t").annotate(n=Count("id"), neg=Count("id", filter=Q(sentiment="negative"))))
    for r in rows:
        per_query.setdefault(r["query_id"], {})[_as_utc(r["_t"])] = (r["n"], r["neg"])
    # The brand's whole volume: each mention once, from Mention itself (no DISTINCT needed).
    mentions = Mention.objects.filter(ranges, brand=brand)
    whole = {_as_utc(r["_t"]): (r["n"], r["neg"]) for r in
             _time_groups(mentions, False).values("_t")
             .annotate(n=Count("id"), neg=Count("id", filter=Q(sentiment="negative")))}
    return per_query, whole


def _kind(f: _Figures, s: ListeningSettings) -> str | None:
    if f.count < s.min_mentions:
        return None
    if (f.negative >= s.negative_share * f.count and f.negative >= s.spike_ratio * f.negative_baseline):
        return SpikeAlert.Kind.NEGATIVE
    if f.count >= s.spike_ratio * f.baseline:
        return SpikeAlert.Kind.VOLUME
    return None


def _fmt(x: float) -> str:
    return f"{x:.1f}".rstrip("0").rstrip(".")


def _reason(brand: Brand, f: _Figures, s: ListeningSettings, kind: str, ws: datetime, we: datetime) -> list:
    tz = brand.tzinfo
    share = round(100 * f.negative / f.count) if f.count else 0
    parts = note(REASON, count=f.count, start=ws.astimezone(tz).strftime("%Y-%m-%d %H:%M"),
                 end=we.astimezone(tz).strftime("%H:%M"), zone=brand.timezone,
                 ratio=_fmt(f.count / f.baseline), baseline=_fmt(f.baseline), same_hour=_fmt(f.same_hour),
                 days=s.baseline_days, previous=_fmt(f.previous), hours=PREVIOUS_HOURS, negative=f.negative,
                 share=share)
    if kind == SpikeAlert.Kind.NEGATIVE:
        parts += note(REASON_NEGATIVE, negative=f.negative, share=share,
                      negative_baseline=_fmt(f.negative_baseline))
    return parts


def _samples(brand: Brand, query_id: int | None, ws: datetime, we: datetime) -> list[int]:
    qs = Mention.objects.filter(brand=brand, created_at__gte=ws, created_at__lt=we)
    if query_id is not None:
        qs = qs.filter(matches__query_id=query_id)
    qs = qs.annotate(neg=Case(When(sentiment="negative", then=Value(0)), default=Value(1),
                              output_field=IntegerField()))
    return list(qs.order_by("neg", F("toxicity").desc(nulls_last=True), F("author_followers").desc(nulls_last=True),
                            "-created_at").values_list("pk", flat=True)[:SAMPLES])


def _create(brand, query_id, kind, f, s, ws, we) -> SpikeAlert | None:
    existing = set(SpikeAlert.objects.filter(brand=brand, query_id=query_id, window_start=ws)
                   .values_list("kind", flat=True))
    if kind in existing or (kind == SpikeAlert.Kind.VOLUME and existing):
        return None
    try:
        with transaction.atomic():
            return SpikeAlert.objects.create(
                brand=brand, query_id=query_id, kind=kind, window_start=ws, window_end=we, count=f.count,
                negative=f.negative, baseline=round(f.baseline, 2), reason=_reason(brand, f, s, kind, ws, we),
                samples=_samples(brand, query_id, ws, we))
    except IntegrityError:  # another checker created it first
        return None


def check_brand(brand: Brand, now: datetime, *, deliver_alerts: bool = True) -> list[SpikeAlert]:
    we = now.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
    ws = we - timedelta(hours=1)
    s = getattr(brand, "_listening_settings", None) or settings_for(brand)
    query_ids = list(ListeningQuery.objects.filter(brand=brand, enabled=True).values_list("pk", flat=True))
    if not query_ids:
        return []
    per_query, whole = _hour_counts(brand, ws, s.baseline_days, query_ids)
    created = []
    for qid in [None, *query_ids]:
        counts = whole if qid is None else per_query.get(qid, {})
        if not counts.get(ws):
            continue
        f = _figures(counts, ws, s.baseline_days)
        kind = _kind(f, s)
        if kind is None:
            continue
        alert = _create(brand, qid, kind, f, s, ws, we)
        if alert is not None:
            created.append(alert)
    if deliver_alerts:
        for alert in created:
            deliver(alert, s)
    return created


def check(now: datetime | None = None, *, deliver_alerts: bool = True) -> int:
    """Look at the last full hour of every brand that listens (the demo's made-up mentions
    excepted); returns the alerts created."""
    now = now or timezone.now()
    settings_by_brand = {s.brand_id: s for s in ListeningSettings.objects.all()}
    brands = (Brand.objects.filter(listening_queries__enabled=True, organization__is_demo=False)
              .distinct().order_by("pk"))
    n = 0
    for brand in brands:
        if brand.pk in settings_by_brand:
            brand._listening_settings = settings_by_brand[brand.pk]
        try:
            n += len(check_brand(brand, now, deliver_alerts=deliver_alerts))
        except Exception:  # one brand's trouble must not stop the others'
            log.exception("spike check failed for brand %s", brand.pk)
    return n


# --- Delivery ----------------------------------------------------------------------------------

# What ``delivery`` records of a failure (codes, shown translated by ``delivery_error``).
DELIVERY_ERRORS = {
    "refused": gettext_lazy("the address is not allowed (private or not http/https)"),
    "unreachable": gettext_lazy("the receiver could not be reached"),
    "no_recipients": gettext_lazy("nobody to send it to"),
    "failed": gettext_lazy("the mail server refused it"),
}


def delivery_error(code: str) -> str:
    if code in DELIVERY_ERRORS:
        return str(DELIVERY_ERRORS[code])
    return code if code.startswith("HTTP ") else str(DELIVERY_ERRORS["unreachable"])

def recipients(brand: Brand, s: ListeningSettings) -> list[str]:
    emails = parse_emails(s.alert_emails) if s.alert_emails else []
    if emails:
        return emails
    managers = Membership.objects.filter(brand=brand, role__in=roles.roles_with(roles.MANAGE_BRAND),
                                         user__is_active=True).select_related("user")
    return sorted({m.user.email for m in managers if m.user.email})


def scope_name(alert: SpikeAlert) -> str:
    return alert.query.name if alert.query_id else _(SCOPE_BRAND)


def sample_mentions(alert: SpikeAlert) -> list[Mention]:
    found = {m.pk: m for m in Mention.objects.filter(brand_id=alert.brand_id, pk__in=alert.samples or [])}
    return [found[i] for i in alert.samples or [] if i in found]


def _link(alert: SpikeAlert) -> str:
    return reverse("listening_alerts", args=[alert.brand_id]) + f"#alert-{alert.pk}"


def _email(alert: SpikeAlert, to: list[str], samples: list[Mention]) -> None:
    brand = alert.brand
    with translation.override(brand.language or dj_settings.LANGUAGE_CODE):
        subject = _(SUBJECT[alert.kind]) % {"scope": scope_name(alert)}
        lines = [render(alert.reason), ""]
        if samples:
            lines.append(_("Some of the mentions:"))
            for m in samples:
                who = m.author_handle or m.author_name or m.site or m.network
                when = formats.date_format(m.created_at.astimezone(brand.tzinfo), "SHORT_DATETIME_FORMAT")
                text = " ".join((m.title + " " + m.text if m.title else m.text).split())
                feeling = _(SENTIMENT_LABELS[m.sentiment]) if m.sentiment in SENTIMENT_LABELS else ""
                lines.append(" · ".join(x for x in (f"- {who}", when, feeling) if x))
                lines.append(f"  {text[:400]}")
                if m.url:
                    lines.append(f"  {m.url}")
            lines.append("")
        lines.append(f"{dj_settings.SITE_URL}{_link(alert)}")
        subject = " ".join(f"[Tertulia · {brand.name}] {subject}".split())[:200]  # no header injection
        send_mail(subject, "\n".join(lines),
                  dj_settings.DEFAULT_FROM_EMAIL, to)


def payload(alert: SpikeAlert, samples: list[Mention]) -> dict:
    from tertulia.core.notes import english

    return {
        "event": "listening.spike",
        "brand": {"id": alert.brand_id, "name": alert.brand.name},
        "alert": {"id": alert.pk, "kind": alert.kind,
                  "query": {"id": alert.query_id, "name": alert.query.name} if alert.query_id else None,
                  "window_start": alert.window_start.isoformat(), "window_end": alert.window_end.isoformat(),
                  "count": alert.count, "negative": alert.negative, "baseline": alert.baseline,
                  "reason": english(alert.reason), "url": f"{dj_settings.SITE_URL}{_link(alert)}"},
        "samples": [{"id": m.pk, "network": m.network, "url": m.url, "site": m.site, "author": m.author_handle
                     or m.author_name, "text": m.text[:1000], "title": m.title, "sentiment": m.sentiment,
                     "created_at": m.created_at.isoformat()} for m in samples],
    }


def sign(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def post_webhook(url: str, secret: str, data: dict) -> dict:
    """POST the JSON through the private-address guard; never raises. Returns the outcome."""
    import httpx

    from tertulia.networks import http

    body = json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode()
    headers = {"Content-Type": "application/json", "X-Tertulia-Event": data.get("event", "")}
    if secret:
        headers["X-Tertulia-Signature"] = sign(secret, body)
    config = http.HttpConfig(connect_timeout=WEBHOOK_TIMEOUT, read_timeout=WEBHOOK_TIMEOUT,
                             write_timeout=WEBHOOK_TIMEOUT)
    loopback = getattr(dj_settings, "LISTENING_WEBHOOK_ALLOW_LOOPBACK", False)  # tests' local server only
    try:
        if not loopback:
            validate_webhook_url(url)
        transport = http._transport(config)
        if loopback and not config.allow_private_networks and config.proxy is None:
            transport._pool._network_backend = http._GuardedBackend(allow_loopback=True)
        with httpx.Client(transport=transport, timeout=config.timeout(), follow_redirects=False) as client:
            # Streamed and never read: only the status matters, and a receiver's huge or endless
            # body must not be loaded into memory.
            with client.stream("POST", url, content=body,
                               headers={"User-Agent": config.user_agent, **headers}) as response:
                status = response.status_code
        ok = 200 <= status < 300
        return {"ok": ok, "status": status, "at": timezone.now().isoformat(),
                **({} if ok else {"error": f"HTTP {status}"})}
    except ValidationError:
        return {"ok": False, "status": None, "at": timezone.now().isoformat(), "error": "refused"}
    except Exception as exc:  # noqa: BLE001 - a webhook's failure is recorded (as a code), never raised
        log.info("listening webhook failed: %s", http.clean_text(f"{type(exc).__name__}: {exc}", 300))
        return {"ok": False, "status": None, "at": timezone.now().isoformat(), "error": "unreachable"}


def deliver(alert: SpikeAlert, s: ListeningSettings | None = None) -> dict:
    """E-mail, webhook and in-app notification; the outcome goes in ``alert.delivery``."""
    from tertulia.core.notifications import notify

    alert = SpikeAlert.objects.select_related("brand", "query").get(pk=alert.pk)
    s = s or settings_for(alert.brand)
    samples = sample_mentions(alert)
    delivery: dict = {}
    try:
        to = recipients(alert.brand, s)
        if to:
            _email(alert, to, samples)
            delivery["email"] = {"ok": True, "to": len(to), "at": timezone.now().isoformat()}
        else:
            delivery["email"] = {"ok": False, "to": 0, "error": "no_recipients"}
    except Exception:  # noqa: BLE001 - the details (the mail server's) go to the log, not to the page
        log.exception("spike alert e-mail failed")
        delivery["email"] = {"ok": False, "error": "failed"}
    if s.webhook_url:
        delivery["webhook"] = post_webhook(s.webhook_url, s.webhook_secret or "", payload(alert, samples))
    try:
        managers = [m.user for m in Membership.objects.filter(
            brand=alert.brand, role__in=roles.roles_with(roles.MANAGE_BRAND)).select_related("user")]
        notify(managers, kind="listening_alert", brand=alert.brand, link=_link(alert), email=False,
               message=note(NOTIFY[(alert.kind, alert.query_id is None)], scope=alert.query.name if alert.query_id
                            else "", count=alert.count, negative=alert.negative, baseline=_fmt(alert.baseline)))
    except Exception:  # noqa: BLE001
        log.exception("spike alert notification failed")
    SpikeAlert.objects.filter(pk=alert.pk).update(delivery=delivery, notified_at=timezone.now())
    return delivery
