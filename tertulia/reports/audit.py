"""The quarterly internal audit of a brand's networks: each profile checked against what a CM
should check, the quarter against the one before, and the KPI review.

``build(brand, period_end)`` covers the calendar quarter that contains ``period_end``, from its
first day to ``period_end`` (the last day included, in the brand's time zone; the scheduled
report runs on the first day of a quarter for the quarter just ended), against the previous
calendar quarter. Sections:

1. summary: the executive summary (``summary.executive_summary("quarterly", facts)``);
2. overview: the brand's figures of the quarter against the previous one;
3. networks: reach, engagement by network; followers per account (charts + tables);
   top posts of the quarter (by engagement rate by reach);
4. one section per account (connected or needing reconnection; disabled ones are left out):
   a checklist (connection, profile completeness from the profile as last read by the metrics
   collector — ``MetricsSync.profile`` —, image sizes, posting frequency, abandonment, growth,
   engagement) and the account's figures;
5. responsiveness: the inbox over the quarter against the previous one;
6. KPI review: each KPI month by month, and suggestions by rule (see ``kpi_review``);
7. market: the quarterly market analysis, the monthly report's competitor blocks over the
   quarter.

Profile images are measured by downloading them through the SSRF-safe fetcher
(``networks.http.fetch_url``: private, loopback and link-local addresses are refused, redirects
re-checked) with a byte cap, asking for the first bytes only, and decoding only the header with
Pillow. An image that cannot be read is "could not check", with the reason.
"""

from __future__ import annotations

import io
import re
import unicodedata
import warnings
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from django.db.models import Max, Q, Sum
from django.utils import translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from tertulia.analytics import figures, kpis
from tertulia.analytics.models import MetricsSync, PostMetricLatest
from tertulia.networks.http import FetchError, HttpConfig, clean_text, fetch_url
from tertulia.networks.models import Network, SocialAccount

from . import frequency
from .blocks import Checklist, CheckItem, Fact, Facts, Paragraphs, ReportData, Section, Table
from .summary import executive_summary, rank

# --- Recommended profile sizes per network -----------------------------------------------------


@dataclass(frozen=True)
class ProfileSpec:
    avatar: tuple[int, int] | None  # recommended profile picture, pixels
    cover: tuple[int, int] | None  # recommended header/cover/banner; None: the network has none
    bio_max: int | None  # the longest bio/description the network shows, in characters


PROFILE_SPECS: dict[str, ProfileSpec] = {
    # X: profile photo 400×400, header 1500×500; bio up to 160 characters.
    # Source: help.x.com, "How to customize your profile" / "Profile photo guidelines".
    "x": ProfileSpec((400, 400), (1500, 500), 160),
    # Facebook Page: profile picture shown at 170×170 on computers; cover shown at 851×315
    # (820×312 on computers, 640×360 on phones, at least 400×150). Page intro: 255 characters.
    # Source: Meta Business Help Center, "Facebook Page profile picture and cover photo sizes".
    "facebook": ProfileSpec((170, 170), (851, 315), 255),
    # Instagram: profile photo shown at 110×110, stored at 320×320; no cover; bio 150 characters.
    # Source: Instagram Help Center, "Change your Instagram profile photo"; bio limit in the app.
    "instagram": ProfileSpec((320, 320), None, 150),
    # Threads: the profile photo is Instagram's (320×320); bio 150 characters; no cover.
    # Source: Threads Help Center, "Edit your Threads profile".
    "threads": ProfileSpec((320, 320), None, 150),
    # LinkedIn Page: logo 300×300 (a 400×400 upload, the size of a personal profile photo, passes:
    # larger is fine), cover 1128×191; the About text up to 2,000 characters (tagline 120).
    # Source: LinkedIn Help, "Add or edit your LinkedIn Page logo and cover image" (checked
    # against current size guides, e.g. picturesizes.com/specs/social-media/linkedin).
    "linkedin": ProfileSpec((300, 300), (1128, 191), 2000),
    # YouTube: profile picture 800×800 (shown at 98×98); banner 2560×1440 (at least 2048×1152);
    # channel description 1,000 characters. Source: YouTube Help, "Manage your channel's
    # branding" (answer 2972003).
    "youtube": ProfileSpec((800, 800), (2560, 1440), 1000),
    # Mastodon: avatar 400×400 and header 1500×500 (larger ones are downscaled); bio 500
    # characters by default (instances may change it). Source: docs.joinmastodon.org/user/profile.
    "mastodon": ProfileSpec((400, 400), (1500, 500), 500),
    # Bluesky: the app resizes the avatar to 1000×1000 and the banner to 3000×1000; description
    # 256 graphemes. Source: the app.bsky.actor.profile lexicon and the official app's resize.
    "bluesky": ProfileSpec((1000, 1000), (3000, 1000), 256),
    # Telegram channel: photo 640×640 (stored size); description 255 characters; no cover.
    # Source: Telegram Bot API, setChatPhoto / setChatDescription (0-255 characters).
    "telegram": ProfileSpec((640, 640), None, 255),
    # WhatsApp Business: profile photo 640×640; "About" 139 characters; no cover.
    # Source: WhatsApp Business Help Center, "How to edit your business profile".
    "whatsapp": ProfileSpec((640, 640), None, 139),
}
# WordPress and Joomla are the brand's websites: no profile images or bio to audit.

MAX_IMAGE_BYTES = 12 * 1024 * 1024  # a 3000×1000 banner can be a few MB; nothing larger is read
HEAD_BYTES = 256 * 1024  # asked for first (Range): the header is in the first bytes
IMAGE_TIMEOUT = 10.0
IMAGE_WORKERS = 6
TOP_POSTS = 5
BIO_SHOWN = 200  # characters of the bio quoted in the audit
ASPECT_TOLERANCE = 0.03  # 3 %: 1500×500 and 1500×510 have the same shape
# Tests against a loopback server set this; the guard still refuses every other private range.
ALLOW_LOOPBACK = False

# --- KPI review rules ------------------------------------------------------------------------
RAISE_WHEN_BEATEN_BY = 0.5  # met by more than 50 % of the target in every month → raise it
FAR_MISS = 0.3  # the quarter misses the target by more than 30 % of it → review target or plan
# The metrics every brand should steer by: one KPI at least per group.
CENTRAL_METRICS = (
    ("community", ("follower_growth",), gettext_lazy("community growth")),
    ("engagement", ("engagement_rate_reach", "engagement_rate_followers"), gettext_lazy("engagement")),
    ("responsiveness", ("response_rate", "response_time"), gettext_lazy("responsiveness in the inbox")),
)


# How a KPI's traffic light reads in a table cell.
STATUS_LABELS = {
    "ok": gettext_lazy("On target"), "warn": gettext_lazy("Close to target"), "fail": gettext_lazy("Off target"),
    "unknown": gettext_lazy("Not measured"),
}


def status_label(status: str) -> str:
    return str(STATUS_LABELS.get(status, status))


# --- Images ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ImageCheck:
    size: tuple[int, int] | None
    reason: str = ""  # why the size is unknown: a FetchError reason, "unreadable"
    status: int | None = None  # the HTTP status of a refused download

    def why(self) -> str:
        """The reason in words, in the active language."""
        if self.reason == "status":
            return _("the image could not be downloaded (error %(status)s)") % {"status": self.status or "?"}
        if self.reason == "unreadable":
            return _("the file is not an image Tertulia can read")
        return str(_FETCH_REASONS.get(self.reason, _FETCH_REASONS["connect"]))


_FETCH_REASONS = {
    "private": gettext_lazy("the address points to a private network, which Tertulia does not fetch"),
    "bad_url": gettext_lazy("the address is not valid"),
    "timeout": gettext_lazy("the image's server took too long to answer"),
    "connect": gettext_lazy("the image's server could not be reached"),
    "too_large": gettext_lazy("the image is larger than Tertulia reads"),
    "redirects": gettext_lazy("the address redirects too many times"),
}


def _decode_size(body: bytes) -> tuple[int, int] | None:
    from PIL import Image

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with Image.open(io.BytesIO(body)) as image:  # reads the header only, decodes no pixels
                return image.size
    except Exception:  # noqa: BLE001 - hostile bytes: anything Pillow raises means "not an image we read"
        return None


def fetch_image_size(url: str) -> ImageCheck:
    """The pixel size of the image at ``url``, or why it is unknown (never raises; safe to call
    from worker threads: no database, no translation)."""
    config = HttpConfig(connect_timeout=5.0, read_timeout=IMAGE_TIMEOUT, allow_private_networks=False, proxy=None)
    try:
        got = fetch_url(url, config=config, headers={"Range": f"bytes=0-{HEAD_BYTES - 1}", "Accept": "image/*"},
                        max_bytes=MAX_IMAGE_BYTES, total_timeout=IMAGE_TIMEOUT, allow_loopback=ALLOW_LOOPBACK)
        size = _decode_size(got.body)
        if size is None and got.status == 206:  # the header is further in (a big EXIF block): read it all
            got = fetch_url(url, config=config, headers={"Accept": "image/*"}, max_bytes=MAX_IMAGE_BYTES,
                            total_timeout=IMAGE_TIMEOUT, allow_loopback=ALLOW_LOOPBACK)
            size = _decode_size(got.body)
    except FetchError as exc:
        return ImageCheck(None, exc.reason, exc.status)
    except Exception:  # noqa: BLE001 - whatever the remote side does, the audit goes on
        return ImageCheck(None, "connect")
    return ImageCheck(size) if size is not None else ImageCheck(None, "unreadable")


def prefetch_images(urls: list[str], cache: dict[str, ImageCheck]) -> None:
    """Measures the images not in ``cache`` a few at a time, so that an audit of many profiles
    with slow image servers takes about one timeout per ``IMAGE_WORKERS`` images, not one each."""
    from concurrent.futures import ThreadPoolExecutor

    todo = [u for u in dict.fromkeys(urls) if u and u not in cache]
    if not todo:
        return
    with ThreadPoolExecutor(max_workers=min(IMAGE_WORKERS, len(todo))) as pool:
        for url, check in zip(todo, pool.map(fetch_image_size, todo)):
            cache[url] = check


def size_status(actual: tuple[int, int], recommended: tuple[int, int]) -> str:
    """"ok" when the image is at least the recommended size in both directions and has its
    shape (aspect ratio within ``ASPECT_TOLERANCE``), else "warn"."""
    (w, h), (rw, rh) = actual, recommended
    if w <= 0 or h <= 0:
        return "warn"
    same_shape = abs((w / h) / (rw / rh) - 1) <= ASPECT_TOLERANCE
    return "ok" if same_shape and w >= rw and h >= rh else "warn"


def _px(size: tuple[int, int]) -> str:
    return f"{size[0]}×{size[1]}"


def _image_item(label: str, url: str, recommended: tuple[int, int], *, missing_status: str,
                cache: dict[str, ImageCheck]) -> CheckItem:
    if not url:
        return CheckItem(label, missing_status, _("Missing. Recommended: %(size)s px.") % {"size": _px(recommended)})
    if url not in cache:
        cache[url] = fetch_image_size(url)
    check = cache[url]
    if check.size is None:
        return CheckItem(label, "unknown", _("Could not check: %(reason)s.") % {"reason": check.why()})
    status = size_status(check.size, recommended)
    if status == "ok":
        return CheckItem(label, "ok", _("%(size)s px (recommended: %(recommended)s px).") % {
            "size": _px(check.size), "recommended": _px(recommended)})
    return CheckItem(label, "warn", _("%(size)s px; recommended: %(recommended)s px.") % {
        "size": _px(check.size), "recommended": _px(recommended)})


# --- Profile completeness ----------------------------------------------------------------------


def _text_length(text: str) -> int:
    """Characters as people count them (combined accents count once)."""
    return len(unicodedata.normalize("NFC", text))


_WEB_ADDRESS = re.compile(r"https?://[^\s\"'<>]+", re.I)


def _profile_link(profile: dict) -> str:
    """The profile's web link: its ``url``, else the first web address in its fields (Mastodon's
    field values are HTML: the address is taken from the text). Only http(s) addresses count."""
    for value in [profile.get("url")] + [item.get("value") for item in profile.get("fields") or []
                                         if isinstance(item, dict)]:
        found = _WEB_ADDRESS.search(clean_text(str(value or ""), 2000))
        if found:
            return found.group(0)[:500]
    return ""


def profile_checks(network: str, profile: dict, cache: dict[str, ImageCheck]) -> list[CheckItem]:
    """The completeness checks of one profile as last read (``MetricsSync.profile``)."""
    spec = PROFILE_SPECS.get(network)
    if spec is None:
        return []
    if not profile or not profile.get("read_at"):
        return [CheckItem(_("Profile"), "unknown",
                          _("Could not check: Tertulia has not read this profile yet (the metrics collection "
                            "reads it with the account's figures)."))]
    items = []
    name = clean_text(str(profile.get("display_name") or ""), 300)
    items.append(CheckItem(_("Display name"), "ok", name) if name else
                 CheckItem(_("Display name"), "warn", _("Missing: the profile shows only the handle.")))
    bio = clean_text(str(profile.get("bio") or ""), 5000)
    if not bio:
        items.append(CheckItem(_("Bio"), "fail", _("Missing: say who the brand is and what it offers.")))
    else:
        length = _text_length(bio)
        shown = bio if len(bio) <= BIO_SHOWN else bio[: BIO_SHOWN - 1].rstrip() + "…"
        shown = " ".join(shown.split())  # plain text, escaped where it is shown
        if spec.bio_max and length > spec.bio_max:
            items.append(CheckItem(_("Bio"), "warn", _("%(count)s characters; the network shows up to %(max)s: "
                                                       "“%(bio)s”") % {"count": length, "max": spec.bio_max,
                                                                        "bio": shown}))
        else:
            items.append(CheckItem(_("Bio"), "ok", _("%(count)s characters: “%(bio)s”") % {"count": length,
                                                                                          "bio": shown}))
    link = _profile_link(profile)
    items.append(CheckItem(_("Link"), "ok", link) if link else
                 CheckItem(_("Link"), "warn", _("Missing: add the website or a landing page.")))
    if spec.avatar:
        items.append(_image_item(_("Profile picture"), clean_text(str(profile.get("avatar_url") or ""), 2000),
                                 spec.avatar, missing_status="fail", cache=cache))
    if spec.cover:
        items.append(_image_item(_("Cover image"), clean_text(str(profile.get("cover_url") or ""), 2000),
                                 spec.cover, missing_status="warn", cache=cache))
    return items


# --- Figures per account -------------------------------------------------------------------------

_KNOWN_ENGAGEMENT = (Q(likes__isnull=False) | Q(comments__isnull=False) | Q(shares__isnull=False)
                     | Q(saves__isnull=False))
_ER = _KNOWN_ENGAGEMENT & Q(reach__gt=0)


def account_posts(brand_id: int, period: figures.Period) -> dict[int, dict]:
    """Per account: posts with metrics, reach and the engagement rate by reach (the dashboard's
    definition) of the posts published in the period, from the rollup; one grouped query."""
    rows = (PostMetricLatest.objects.filter(brand_id=brand_id, published_at__gte=period.start,
                                            published_at__lt=period.end)
            .values("account_id").annotate(
                reach_sum=Sum("reach"), er_reach=Sum("reach", filter=_ER),
                **{f"er_{n}": Sum(n, filter=_ER) for n in figures.ENGAGEMENT_FIELDS}).order_by())
    return {r["account_id"]: {
        "reach": r["reach_sum"],
        "engagement_rate": kpis.engagement_rate_by_reach(reach=r["er_reach"], **{
            n: r[f"er_{n}"] for n in figures.ENGAGEMENT_FIELDS})} for r in rows}


def publications(brand_id: int, period: figures.Period) -> tuple[dict[int, list[date]], dict[int, datetime]]:
    """(the local days of each account's publications in the period, each account's last
    publication up to the period's end)."""
    from tertulia.publishing.models import PostTarget

    published = PostTarget.objects.filter(brand_id=brand_id, published_at__isnull=False,
                                          state__in=[PostTarget.State.PUBLISHED, PostTarget.State.DELETED])
    days: dict[int, list[date]] = {}
    for account_id, at in published.filter(published_at__gte=period.start, published_at__lt=period.end) \
            .values_list("account_id", "published_at"):
        days.setdefault(account_id, []).append(at.astimezone(period.tz).date())
    last = dict(published.filter(published_at__lt=period.end).values("account_id").annotate(
        last=Max("published_at")).values_list("account_id", "last"))
    return days, last


def _fmt_dec(value: float, places: int = 1) -> str:
    from django.utils.formats import number_format

    return number_format(round(value, places), places, force_grouping=True)


def frequency_items(f: frequency.Frequency) -> list[CheckItem]:
    detail = _("%(per_week)s a week (%(posts)s in %(days)s days); guidance: %(ideal)s a week.") % {
        "per_week": _fmt_dec(f.per_week), "posts": f.posts, "days": f.days, "ideal": _fmt_dec(f.ideal, 0)}
    if f.large:
        detail += " " + _("A large account (%(followers)s followers or more) should post daily.") % {
            "followers": _fmt_dec(frequency.LARGE_ACCOUNT_FOLLOWERS, 0)}
    items = [CheckItem(_("Posting frequency"), "fail" if f.per_week < frequency.MINIMUM_PER_WEEK else
                       ("ok" if f.per_week >= f.ideal else "warn"), detail)]
    items.append(CheckItem(_("Weekly presence"), "ok" if f.weeks_with_posts == f.weeks else
                           ("fail" if f.weeks_with_posts == 0 else "warn"),
                           _("Published in %(weeks)s of %(total)s weeks.") % {"weeks": f.weeks_with_posts,
                                                                               "total": f.weeks}))
    if f.days_since_last is None:
        items.append(CheckItem(_("Activity"), "fail", _("Abandoned: nothing has ever been published.")))
    elif f.abandoned:
        items.append(CheckItem(_("Activity"), "fail", _("Abandoned: nothing published for %(days)s days.") % {
            "days": f.days_since_last}))
    else:
        items.append(CheckItem(_("Activity"), "ok", _("Last publication %(days)s days before the end of the period.")
                               % {"days": f.days_since_last}))
    return items


def _trend_item(label: str, now: float | None, before: float | None, *, unit: str = "%") -> CheckItem:
    if now is None:
        return CheckItem(label, "unknown", _("Not measured in this quarter."))
    value = f"{_fmt_dec(now)}\u00a0{unit}".rstrip()
    if before is None:
        return CheckItem(label, "ok" if now >= 0 else "warn", _("%(value)s; no figure for the previous quarter.")
                         % {"value": value})
    prev = f"{_fmt_dec(before)}\u00a0{unit}".rstrip()
    return CheckItem(label, "ok" if now >= before else "warn",
                     _("%(value)s (previous quarter: %(previous)s).") % {"value": value, "previous": prev})


# --- KPI review ----------------------------------------------------------------------------------


def _beats_by(actual: float, target: float, lower_is_better: bool) -> float | None:
    """How far past the target (a fraction of it) the actual figure is; negative: missed."""
    if target == 0:
        return None
    return (target - actual) / abs(target) if lower_is_better else (actual - target) / abs(target)


def kpi_suggestion(*, monthly: list[float | None], quarter: float | None, target: float,
                   lower_is_better: bool) -> tuple[str, str]:
    """(status, rule) for one KPI: "raise" (beaten by more than half the target every month),
    "review" (the quarter misses by more than ``FAR_MISS``), "measure" (never measured),
    "missed" (missed, not by far), "keep" (on target)."""
    if quarter is None and all(v is None for v in monthly):
        return "unknown", "measure"
    measured = [v for v in monthly if v is not None]
    beaten = [_beats_by(v, target, lower_is_better) for v in measured]
    if measured and len(measured) == len(monthly) and all(b is not None and b > RAISE_WHEN_BEATEN_BY for b in beaten):
        return "warn", "raise"
    if quarter is not None:
        gap = _beats_by(quarter, target, lower_is_better)
        if gap is not None and gap < -FAR_MISS:
            return "fail", "review"
        if not kpis.on_target(quarter, target, lower_is_better=lower_is_better):
            return "warn", "missed"
    return "ok", "keep"


_RULE_TEXT = {
    "raise": gettext_lazy("Beaten by more than half the target every month: raise the target."),
    "review": gettext_lazy("Missed by far: review the target or the plan."),
    "measure": gettext_lazy("Never measured: connect the source or drop the KPI."),
    "missed": gettext_lazy("Missed, but close: keep the target and adjust the plan."),
    "keep": gettext_lazy("On target: keep it."),
}


def _months(period: figures.Period) -> list[figures.Period]:
    out, day = [], period.first_day
    while day <= period.last_day:
        month = figures.Period.month(period.tz, day.year, day.month)
        out.append(figures.Period(month.first_day, min(month.last_day, period.last_day), period.tz, "month"))
        day = month.last_day + timedelta(days=1)
    return out


def kpi_review(brand, period: figures.Period, statuses: list[figures.KPIStatus]) -> tuple[Table, Checklist]:
    from django.utils.dates import MONTHS_3

    months = _months(period)
    columns = [_("Objective"), _("KPI"), _("Target"),
               *[str(MONTHS_3[m.first_day.month]).capitalize() for m in months], _("Quarter"), _("Status")]
    rows, items = [], []
    for s in statuses:
        monthly = [figures.kpi_actual(s.metric, [brand.pk], m) for m in months]
        status, rule = kpi_suggestion(monthly=monthly, quarter=s.actual, target=s.target,
                                      lower_is_better=s.lower_is_better)
        rows.append([s.objective, s.label, s.target, *monthly, s.actual, status_label(s.status)])
        items.append(CheckItem(f"{s.label} — {s.objective}", status, str(_RULE_TEXT[rule])))
    present = {s.metric for s in statuses}
    for _key, metrics, name in CENTRAL_METRICS:
        if not present.intersection(metrics):
            items.append(CheckItem(_("No KPI for %(what)s") % {"what": name}, "warn",
                                   _("A central metric without a target: add one.")))
    table = Table(columns=columns, rows=rows, numeric=[False, False, True] + [True] * len(months) + [True, False])
    return table, Checklist(items=items)


# --- The report --------------------------------------------------------------------------------


def quarter_period(tz, period_end: date) -> figures.Period:
    q = figures.Period.containing("quarter", tz, period_end)
    return figures.Period(q.first_day, min(period_end, q.last_day), tz, "quarter")


def _network_label(network: str) -> str:
    return str(dict(Network.choices).get(network, network))


def _posts_count(brand_id: int, period: figures.Period) -> int:
    from tertulia.publishing.models import PostTarget

    return PostTarget.objects.filter(brand_id=brand_id, published_at__gte=period.start, published_at__lt=period.end,
                                     state__in=[PostTarget.State.PUBLISHED, PostTarget.State.DELETED]).count()


def build(brand, period_end: date, *, language: str | None = None) -> ReportData:
    language = language or brand.language or "es"
    with translation.override(language):
        return _build(brand, period_end, language)


def _build(brand, period_end: date, language: str) -> ReportData:
    from tertulia.analytics import charts

    tz = brand.tzinfo
    period = quarter_period(tz, period_end)
    prev = period.previous()
    ids = [brand.pk]

    growth = figures.community_growth(ids, period)
    prev_growth = figures.community_growth(ids, prev, series=False)
    totals, prev_totals = figures.post_totals(ids, period), figures.post_totals(ids, prev)
    networks, prev_networks = figures.by_network(ids, period), figures.by_network(ids, prev)
    box, prev_box = figures.inbox(ids, period), figures.inbox(ids, prev)
    traffic, prev_traffic = figures.web_traffic(ids, period), figures.web_traffic(ids, prev)
    statuses = figures.kpi_status(ids, period)
    posts_now, posts_before = _posts_count(brand.pk, period), _posts_count(brand.pk, prev)
    top = figures.top_posts(ids, period, TOP_POSTS)

    # --- per account ---
    accounts = list(SocialAccount.objects.filter(brand=brand).exclude(status=SocialAccount.Status.DISABLED)
                    .order_by("network", "handle"))
    profiles = dict(MetricsSync.objects.filter(account__in=accounts).values_list("account_id", "profile"))
    per_now, per_prev = account_posts(brand.pk, period), account_posts(brand.pk, prev)
    pub_days, last_pub = publications(brand.pk, period)
    prev_pub_days, _unused = publications(brand.pk, prev)
    growth_of = {g.account_id: g for g in growth.accounts}
    prev_growth_of = {g.account_id: g for g in prev_growth.accounts}
    image_cache: dict[str, ImageCheck] = {}
    prefetch_images([clean_text(str((profiles.get(a.pk) or {}).get(key) or ""), 2000)
                     for a in accounts if a.network in PROFILE_SPECS and (profiles.get(a.pk) or {}).get("read_at")
                     for key in ("avatar_url", "cover_url")],
                    image_cache)
    account_sections, inactive, counts = [], [], {"ok": 0, "warn": 0, "fail": 0, "unknown": 0}
    for acc in accounts:
        label = _network_label(acc.network)
        g, pg = growth_of.get(acc.pk), prev_growth_of.get(acc.pk)
        items = [CheckItem(_("Connection"), "ok", _("Connected.")) if acc.status == SocialAccount.Status.CONNECTED
                 else CheckItem(_("Connection"), "fail", _("Needs reconnecting: Tertulia cannot read or publish."))]
        items += profile_checks(acc.network, profiles.get(acc.pk) or {}, image_cache)
        freq = None
        if acc.network != Network.WHATSAPP:  # a messaging channel: nothing is "posted" there
            freq = frequency.assess(publication_days=pub_days.get(acc.pk, []), first_day=period.first_day,
                                    last_day=period.last_day, last_published=last_pub.get(acc.pk),
                                    period_end=period.end, followers=g.end if g else None)
            items += frequency_items(freq)
            if freq.abandoned:
                inactive.append({"network": label, "handle": acc.handle, "days": freq.days_since_last})
        items.append(_trend_item(_("Community growth"), g.rate if g else None, pg.rate if pg else None))
        items.append(_trend_item(_("Engagement rate by reach"), per_now.get(acc.pk, {}).get("engagement_rate"),
                                 per_prev.get(acc.pk, {}).get("engagement_rate")))
        for item in items:
            counts[item.status] += 1
        facts = Facts(items=[
            Fact(_("Followers"), g.end if g else None, "", g.start if g else None),
            Fact(_("Community growth"), g.rate if g else None, "%", pg.rate if pg else None),
            Fact(_("Publications"), freq.posts if freq else None, "",
                 len(prev_pub_days.get(acc.pk, [])) if freq else None),
            Fact(_("Posts a week"), round(freq.per_week, 2) if freq else None, "",
                 note=_("Guidance: %(ideal)s a week.") % {"ideal": _fmt_dec(freq.ideal, 0)} if freq else ""),
            Fact(_("Reach"), per_now.get(acc.pk, {}).get("reach"), "", per_prev.get(acc.pk, {}).get("reach")),
            Fact(_("Engagement rate by reach"), per_now.get(acc.pk, {}).get("engagement_rate"), "%",
                 per_prev.get(acc.pk, {}).get("engagement_rate")),
        ])
        account_sections.append(Section(id=f"account_{acc.pk}", title=f"{label} · {acc.handle}",
                                        blocks=[Checklist(items=items), facts]))

    # --- brand sections ---
    kpi_table, kpi_items = kpi_review(brand, period, statuses)
    summary_facts = {
        "kpis": [{"metric": s.metric, "actual": s.actual, "target": s.target, "status": s.status,
                  "lower_is_better": s.lower_is_better} for s in statuses],
        "inactive_accounts": inactive,
        "audit_checks": counts,
        "followers_start": growth.start, "followers_end": growth.end,
        "engagement_rate": totals.engagement_rate, "engagement_rate_previous": prev_totals.engagement_rate,
        "engagement_rate_rank": rank(totals.engagement_rate, [
            figures.post_totals(ids, figures.Period.quarter(tz, period.first_day.year, q)).engagement_rate
            for q in range(1, (period.first_day.month - 1) // 3 + 1)]),
        "inbox_received": box.received, "inbox_answered": box.answered, "inbox_response_rate": box.response_rate,
        "inbox_sla_breaches": box.sla_breaches, "inbox_median_first_response_hours": box.median_first_response_hours,
        "reach": totals.reach, "reach_previous": prev_totals.reach,
        "posts_published": posts_now, "posts_published_previous": posts_before,
        "web_sessions": traffic.sessions, "web_sessions_previous": prev_traffic.sessions,
        "top_post": {"network": top[0].network_label, "engagement_rate": top[0].engagement_rate} if top else None,
    }
    overview = Facts(items=[
        Fact(_("Followers"), growth.end, "", growth.start),
        Fact(_("Community growth"), growth.rate, "%", prev_growth.rate),
        Fact(_("Publications"), posts_now, "", posts_before),
        Fact(_("Reach"), totals.reach, "", prev_totals.reach),
        Fact(_("Impressions"), totals.impressions, "", prev_totals.impressions),
        Fact(_("Engagement rate by reach"), totals.engagement_rate, "%", prev_totals.engagement_rate,
             note=str(figures.ENGAGEMENT_RATE_DEFINITION)),
        Fact(_("Web visits from social"), traffic.sessions, "", prev_traffic.sessions,
             note="" if traffic.sessions is not None else _("No web analytics export was imported.")),
    ])
    prev_by_net = {n.key: n for n in prev_networks}
    network_table = Table(
        columns=[_("Network"), _("Publications"), _("Reach"), _("Engagement rate by reach"),
                 _("Previous quarter")],
        rows=[[n.label, n.posts, n.reach, n.engagement_rate,
               prev_by_net[n.key].engagement_rate if n.key in prev_by_net else None] for n in networks],
        numeric=[False, True, True, True, True])
    network_blocks = [network_table]
    if networks:
        network_blocks.append(charts.group_chart("audit_networks", _("Engagement rate by network"), networks,
                                                 _("Network")).to_block())
    if growth.series:
        network_blocks.append(charts.growth_chart(growth).to_block())
    top_blocks = [Table(
        columns=[_("Network"), _("Account"), _("Published"), _("Text"), _("Reach"), _("Engagement rate by reach")],
        rows=[[p.network_label, p.account, p.published_at.astimezone(tz).replace(microsecond=0).isoformat(), p.text,
               p.reach, p.engagement_rate] for p in top],
        numeric=[False, False, False, False, True, True])] if top else [
        Paragraphs([_("No post of the quarter has a known engagement rate.")])]
    responsiveness = Facts(items=[
        Fact(_("Conversations received"), box.received, "", prev_box.received),
        Fact(_("Response rate"), box.response_rate, "%", prev_box.response_rate),
        Fact(_("Median first response"), box.median_first_response_hours, "h", prev_box.median_first_response_hours),
        Fact(_("Median resolution time"), box.median_resolution_hours, "h", prev_box.median_resolution_hours),
        Fact(_("SLA breaches"), box.sla_breaches, "", prev_box.sla_breaches),
    ])
    from .monthly import competitor_sections

    # The quarterly market analysis: the monthly report's competitor sections over the quarter.
    market = [Section(f"market_{s.id}" if i else "market", _("Quarterly market analysis") if i == 0 else s.title,
                      s.blocks) for i, s in enumerate(competitor_sections(brand, period, language))]
    sections = [
        Section("summary", _("Executive summary"),
                [Paragraphs(executive_summary("quarterly", summary_facts, language))]),
        Section("overview", _("The quarter in figures"), [overview]),
        Section("networks", _("Networks"), network_blocks),
        Section("top_posts", _("Top posts of the quarter"), top_blocks),
        *account_sections,
        Section("responsiveness", _("Responsiveness"), [responsiveness]),
        Section("kpi_review", _("KPI review"), [kpi_items, kpi_table] if statuses else [kpi_items]),
        *market,
    ]
    if not accounts:
        sections.insert(3, Section("accounts", _("Profiles"), [Paragraphs([_("No connected account to audit.")])]))
    quarter_no = (period.first_day.month - 1) // 3 + 1
    return ReportData(
        kind="quarterly", brand_id=brand.pk, language=language,
        title=_("Quarterly audit: %(brand)s, Q%(quarter)s %(year)s") % {
            "brand": brand.name, "quarter": quarter_no, "year": period.first_day.year},
        period_start=period.first_day, period_end=period.last_day, sections=sections,
        compared_start=prev.first_day, compared_end=prev.last_day,
    )
