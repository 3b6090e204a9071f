"""The demo workspace: one bilingual agency with a year of history, built reproducibly.

``tertulia demo`` (and ``tertulia run`` on an empty database) calls ``generate``. Every row is
written through the services the app itself uses (``core.services``, ``networks.services``,
``strategy``, ``content``, ``publishing``, ``inbox``, ``analytics`` and ``listening``), acting as
the agency's people with ``Ctx(user, via="cli")``, so the demo obeys the same permission
checks, validation and audit log as real work, and the batch services get exercised at scale.

The same seed and the same ``today`` give the same workspace, text for text. Sizes are
parameters: the default loads in seconds; benchmarks ask for a million interactions.
"""

from __future__ import annotations

import bisect
import contextlib
import heapq
import hashlib
import itertools
import math
import random
import time as _time
import zoneinfo
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta

from django.conf import settings
from django.contrib.auth.hashers import make_password
from django.db import transaction
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from tertulia.analytics import services as analytics
from tertulia.content import approvals
from tertulia.content import services as content
from tertulia.core import services as core
from tertulia.core.services import Ctx
from tertulia.inbox import services as inbox
from tertulia.listening import competitors as listening
from tertulia.networks import capabilities
from tertulia.networks import services as networks
from tertulia.publishing import services as publishing
from tertulia.strategy import services as strategy

from . import demo_data as data
from .demo_text import fill, roughen
from .models import Brand, Organization, User

DEMO_USERNAME = "demo"
DEMO_PASSWORD = "tertulia-demo"  # nosec B105 # the documented demo password, only for `--demo` data
DEMO_ORG_NAME = "Agencia Tertulia (demo)"
DEMO_EMAIL_DOMAIN = "demo.tertulia.example"
DEFAULT_SEED = 1975
DEFAULT_INTERACTIONS = 6000


class DemoExists(Exception):
    pass


@dataclass
class DemoOptions:
    seed: int = DEFAULT_SEED
    brands: int = 3
    interactions: int = DEFAULT_INTERACTIONS
    months: int = 12
    today: date | None = None  # the last day of the history; fixes every timestamp
    posts_per_week: float | None = None  # None: each brand's own cadence
    batch_size: int = 2000  # interactions per ingest call
    # One transaction for the whole demo (all or nothing). Without it, every service call
    # commits on its own, as connectors do: at a million rows SQLite's write-ahead log then
    # stays small instead of growing to the size of the database.
    atomic: bool = True


@dataclass
class DemoStats:
    counts: dict[str, int] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)
    interactions: int = 0
    ingest_seconds: float = 0.0  # time spent inside inbox.ingest_interactions
    ingest_calls: int = 0


# --- Public helpers ---------------------------------------------------------------------

def exists() -> bool:
    return (User.objects.filter(username=DEMO_USERNAME).exists()
            or Organization.objects.filter(is_demo=True).exists())


def demo_brands():
    return Brand.objects.filter(organization__is_demo=True)


@transaction.atomic
def remove() -> None:
    """Delete the demo workspace and its people (and nothing else)."""
    Organization.objects.filter(is_demo=True).delete()
    User.objects.filter(email__iendswith="@" + DEMO_EMAIL_DOMAIN).delete()


def login_banner(url: str) -> str:
    """What ``tertulia run`` prints: where to go and how to sign in."""
    lines = [_("Tertulia is running at %(url)s") % {"url": url}]
    if User.objects.filter(username=DEMO_USERNAME, email__iendswith="@" + DEMO_EMAIL_DOMAIN).exists():
        lines.append(_("Demo workspace: sign in as “%(username)s” with the password “%(password)s”.")
                     % {"username": DEMO_USERNAME, "password": DEMO_PASSWORD})
        lines.append(_("The demo team (%(people)s) uses the same password, to try each role.")
                     % {"people": ", ".join(s[0] for s in data.STAFF)})
    return "\n".join(lines)


def generate(options: DemoOptions | None = None, progress=None) -> DemoStats:
    """Build the demo. Refuses (``DemoExists``) if it is already there: call ``remove`` first."""
    options = options or DemoOptions()
    if options.brands < 1 or options.interactions < 0 or options.months < 1:
        raise ValueError("brands >= 1, interactions >= 0 and months >= 1")
    with transaction.atomic() if options.atomic else contextlib.nullcontext():
        if exists():
            raise DemoExists(_("The demo workspace already exists."))
        return _Generator(options, progress).run()


def counts() -> dict[str, int]:
    """How many rows of each kind the demo holds."""
    from tertulia.analytics.models import PostMetricSnapshot, ProfileSnapshot
    from tertulia.content.models import LinkClick, Post, ShortLink
    from tertulia.inbox.models import Author, Conversation, Interaction
    from tertulia.networks.models import SocialAccount
    from tertulia.publishing.models import PostTarget

    brands = demo_brands()
    out = {"brands": brands.count()}
    for label, model in (("accounts", SocialAccount), ("posts", Post), ("post_targets", PostTarget),
                         ("post_metric_snapshots", PostMetricSnapshot), ("profile_snapshots", ProfileSnapshot),
                         ("short_links", ShortLink), ("link_clicks", LinkClick), ("authors", Author),
                         ("conversations", Conversation), ("interactions", Interaction)):
        out[label] = model.objects.filter(brand__in=brands).count()
    return out


def digest() -> str:
    """A fingerprint of the demo's content (texts, times, counts), to check reproducibility.

    Ids and the moments rows were written (audit log, received_at) are left out: they differ
    between two runs with the same seed, and nobody reads them as content."""
    from tertulia.analytics.models import PostMetricSnapshot, ProfileSnapshot
    from tertulia.content.models import Campaign, LinkClick, Post, PostVariant, ShortLink
    from tertulia.inbox.models import Author, Conversation, Interaction
    from tertulia.listening.models import CompetitorSnapshot
    from tertulia.publishing.models import PostTarget

    brands = demo_brands()
    h = hashlib.sha256()

    def feed(label, rows):
        h.update(label.encode())
        for row in sorted(map(repr, rows)):
            h.update(row.encode())

    feed("brands", brands.values_list("name", "timezone", "language", "tone", "signature"))
    feed("posts", Post.objects.filter(brand__in=brands).values_list("text", "format", "state", "scheduled_at",
                                                                     "pillar__name", "campaign__name"))
    feed("variants", PostVariant.objects.filter(post__brand__in=brands, is_custom=True).values_list("network", "text"))
    feed("targets", PostTarget.objects.filter(brand__in=brands).values_list("account__handle", "state",
                                                                            "external_id", "published_at"))
    feed("metrics", PostMetricSnapshot.objects.filter(brand__in=brands).values_list(
        "target__external_id", "taken_at", "impressions", "reach", "likes", "comments", "shares", "saves",
        "clicks", "video_views"))
    feed("profiles", ProfileSnapshot.objects.filter(brand__in=brands).values_list(
        "account__handle", "taken_at", "followers", "following", "posts"))
    feed("interactions", Interaction.objects.filter(brand__in=brands).values_list(
        "external_id", "direction", "text", "language", "created_at", "intent", "sentiment", "toxicity"))
    feed("authors", Author.objects.filter(brand__in=brands).values_list("network", "external_id", "handle",
                                                                        "display_name"))
    feed("conversations", Conversation.objects.filter(brand__in=brands).values_list(
        "kind", "author__handle", "root_external_id", "status", "last_message_at", "first_response_at"))
    feed("links", ShortLink.objects.filter(brand__in=brands).values_list("slug", "target_url", "utm_source"))
    feed("clicks", LinkClick.objects.filter(brand__in=brands).values_list("link__slug", "clicked_at", "country"))
    feed("campaigns", Campaign.objects.filter(brand__in=brands).values_list("name", "starts_on", "ends_on"))
    feed("competitors", CompetitorSnapshot.objects.filter(brand__in=brands).values_list(
        "account__handle", "taken_at", "followers", "posts", "avg_engagement"))
    return h.hexdigest()


# --- The generator ----------------------------------------------------------------------

def _rng(*parts) -> random.Random:
    # String seeds are hashed with SHA-512 by `random`: stable across runs and machines.
    return random.Random(":".join(map(str, parts)))  # nosec B311 # jitter/spread for timing or seeded demo data, not security


def _weighted(rng: random.Random, pairs):
    items, weights = zip(*pairs)
    return rng.choices(items, weights=weights)[0]


def _mention_tag(network: str, handle: str, display_name: str) -> str:
    if network in ("facebook", "linkedin", "wordpress"):
        return display_name
    if network == "mastodon":
        return "@" + handle.lstrip("@").split("@")[0]
    return "@" + handle.lstrip("@")


def _suffixed(network: str, handle: str, suffix: str) -> str:
    if not suffix:
        return handle
    if network == "mastodon":
        user, _sep, server = handle.lstrip("@").partition("@")
        return f"@{user}{suffix}@{server}"
    if network in ("bluesky", "wordpress"):
        first, _sep, rest = handle.partition(".")
        return f"{first}{suffix}.{rest}"
    return f"{handle} {suffix}" if " " in handle else f"{handle}{suffix}"


POST_FORMATS = {
    "cafe": [("image", 45), ("carousel", 15), ("video", 20), ("text", 20)],
    "soft": [("text", 30), ("image", 25), ("infographic", 15), ("carousel", 15), ("video", 15)],
    "books": [("image", 45), ("text", 25), ("carousel", 15), ("video", 15)],
}
FORMAT_NETWORKS = {
    "text": {"x", "mastodon", "bluesky", "threads", "facebook", "linkedin", "telegram"},
    "image": {"instagram", "facebook", "x", "mastodon", "bluesky", "threads", "linkedin", "telegram"},
    "carousel": {"instagram", "facebook", "linkedin", "threads"},
    "infographic": {"instagram", "facebook", "x", "linkedin", "bluesky", "mastodon"},
    "video": {"instagram", "facebook", "x", "linkedin", "threads", "telegram", "mastodon"},
    "link": {"x", "mastodon", "bluesky", "facebook", "linkedin", "telegram", "threads", "wordpress"},
}
# How many people a post reaches, as a share of followers, and how many of those engage.
REACH_RATE = {"instagram": 0.28, "facebook": 0.07, "x": 0.12, "linkedin": 0.22, "threads": 0.2,
              "telegram": 0.45, "mastodon": 0.3, "bluesky": 0.3, "wordpress": 0.05}
ENGAGE_RATE = {"instagram": 0.055, "facebook": 0.025, "x": 0.015, "linkedin": 0.03, "threads": 0.04,
               "telegram": 0.03, "mastodon": 0.06, "bluesky": 0.07, "wordpress": 0.01}
SNAPSHOT_HOURS = (1, 6, 24, 72, 168, 672)
SEQ_LIMIT = 1 << 22
REFERRERS = {"x": "t.co", "facebook": "l.facebook.com", "instagram": "l.instagram.com", "linkedin": "lnkd.in",
             "mastodon": "masto.es", "bluesky": "bsky.app", "threads": "l.threads.net", "telegram": "t.me",
             "wordpress": "blog.nopallabs.example"}
POST_SLOTS_LOCAL = [(8, 30), (9, 0), (11, 0), (13, 30), (17, 0), (19, 30), (20, 30)]
# When people write, by local hour (0-23).
HOUR_WEIGHTS = [1, 0.5, 0.3, 0.2, 0.2, 0.3, 0.8, 2, 4, 5, 5, 5, 6, 7, 7, 5, 5, 5, 6, 7, 8, 8, 6, 3]
KIND_MIX = [("comment", 55), ("mention", 25), ("dm", 20)]
TRIAGE = {
    # intent stored, sentiment, toxicity range, urgency range
    "praise": ("praise", "positive", (0.0, 0.04), (0.0, 0.1)),
    "question": ("question", "neutral", (0.0, 0.05), (0.2, 0.55)),
    "complaint": ("complaint", "negative", (0.05, 0.35), (0.5, 0.95)),
    "incident": ("complaint", "negative", (0.05, 0.45), (0.8, 1.0)),
    "request": ("request", "neutral", (0.0, 0.05), (0.1, 0.3)),
    "spam": ("spam", "neutral", (0.0, 0.1), (0.0, 0.05)),
    "troll": ("other", "negative", (0.72, 0.98), (0.05, 0.2)),
    "other": ("other", "positive", (0.0, 0.05), (0.0, 0.1)),
    "thanks": ("other", "positive", (0.0, 0.03), (0.0, 0.05)),
    "solved": ("praise", "positive", (0.0, 0.03), (0.0, 0.05)),
    "still": ("complaint", "negative", (0.05, 0.3), (0.6, 0.95)),
    "details": ("other", "neutral", (0.0, 0.03), (0.3, 0.6)),
}
REPLY_CHANCE = {"praise": 0.55, "question": 0.92, "complaint": 0.93, "incident": 0.9, "request": 0.7,
                "spam": 0.0, "troll": 0.1, "other": 0.2}


@dataclass
class _Account:
    obj: object
    network: str
    handle: str
    display_name: str
    tag: str
    followers: list[int]  # per day
    growth: float
    expired_at: datetime | None = None
    will_expire: bool = False
    issued: int = 0  # ids handed out on this account (posts and messages)

    def next_n(self) -> int:
        """The account's next sequence number. Ids put it in their low 22 bits, so they are
        unique by construction (two messages in the same millisecond still differ)."""
        self.issued += 1
        if self.issued >= SEQ_LIMIT:
            raise ValueError(f"More than {SEQ_LIMIT - 1} items on one account: spread them with --brands.")
        return self.issued
    published: list = field(default_factory=list)  # (published_at, external_id, weight)
    me: inbox.IncomingAuthor | None = None


@dataclass
class _Author:
    ref: inbox.IncomingAuthor
    first_name: str
    lang: str  # es | en
    locale: str


class _Generator:
    def __init__(self, options: DemoOptions, progress=None):
        self.o = options
        self.progress = progress or (lambda message: None)
        self.stats = DemoStats()
        if options.today:
            self.now = datetime.combine(options.today, time(17, 30), tzinfo=UTC)
        else:
            self.now = timezone.now().replace(microsecond=0)
        self.days = round(options.months * 365 / 12)
        self.start = self.now - timedelta(days=self.days)
        self.password = make_password(DEMO_PASSWORD)

    def _tick(self, label: str, started: float) -> None:
        self.stats.seconds[label] = self.stats.seconds.get(label, 0.0) + _time.perf_counter() - started

    # --- people and workspace

    def run(self) -> DemoStats:
        t0 = _time.perf_counter()
        self.users = self._people()
        self.owner = Ctx(self.users[DEMO_USERNAME], via="cli")
        org = core.do_create_organization(self.owner, DEMO_ORG_NAME)
        Organization.objects.filter(pk=org.pk).update(is_demo=True)
        weights = [data.BRANDS[i % len(data.BRANDS)]["interaction_weight"] for i in range(self.o.brands)]
        budgets = [self.o.interactions * w // sum(weights) for w in weights]
        budgets[0] += self.o.interactions - sum(budgets)
        self._tick("setup", t0)
        for i in range(self.o.brands):
            self._brand(i, org, budgets[i])
        t1 = _time.perf_counter()
        from tertulia.inbox import daily

        daily.rebuild_all()  # the dashboard's per-day inbox cache, as the periodic task would
        self._tick("inbox days", t1)
        self.stats.counts = counts()
        self.stats.seconds["total"] = _time.perf_counter() - t0
        return self.stats

    def _people(self) -> dict[str, User]:
        users = {}
        specs = [(DEMO_USERNAME, "Demo", "Tertulia", "es", "Europe/Madrid")] + [s[:5] for s in data.STAFF]
        for username, first, last, lang, tz in specs:
            user = User(username=username, email=f"{username}@{DEMO_EMAIL_DOMAIN}", first_name=first,
                        last_name=last, language=lang, timezone=tz, password=self.password)
            user.full_clean(exclude=["password"])
            user.save()
            users[username] = user
        return users

    # --- one brand

    def _brand(self, index: int, org, budget: int) -> None:
        t0 = _time.perf_counter()
        spec = data.BRANDS[index % len(data.BRANDS)]
        copy = index // len(data.BRANDS)
        suffix = str(copy + 1) if copy else ""
        name = f"{spec['name']} {suffix}".strip()
        self.progress(_("Building %(brand)s…") % {"brand": name})
        rng = _rng(self.o.seed, index, "brand")
        brand = core.do_create_brand(
            self.owner, org, name=name, timezone=spec["timezone"], language=spec["language"], tone=spec["tone"],
            banned_words=spec["banned_words"], required_hashtags=spec["required_hashtags"],
            signature=spec["signature"],
        )
        # Its accounts are made up (no sign-in; some on real servers): the demo never publishes.
        # The engine refuses demo accounts too (publishing.engine.is_demo_brand), even if resumed.
        publishing.do_set_brand_paused(self.owner, brand, True)
        self.tz = zoneinfo.ZoneInfo(spec["timezone"])
        self.countries = spec["countries"]
        roles_here = {}
        for username, *_rest, brand_roles in data.STAFF:
            role = brand_roles.get(spec["key"])
            if role:
                core.do_add_member(self.owner, brand, self.users[username], role)
                roles_here.setdefault(role, self.users[username])
        cm = Ctx(roles_here["community_manager"], via="cli")
        manager = Ctx(roles_here["manager"], via="cli")
        for kind, title, answer, dept, contact, keywords in spec["knowledge"]:
            core.do_save_knowledge(self.owner, brand, kind=kind, title=title, answer=answer, department=dept,
                                   contact=contact, keywords=keywords)
        pillars = {}
        for pname, share, color in spec["pillars"]:
            pillars[pname] = strategy.do_save_pillar(self.owner, brand, name=pname, target_share=share, color=color)
        half = self.start.date() + timedelta(days=self.days // 2)
        periods = [(self.start.date(), half - timedelta(days=1)), (half, self.now.date() + timedelta(days=60))]
        for (oname, kpis), (p_start, p_end) in zip(spec["objectives"], periods):
            strategy.do_create_objective(self.owner, brand, name=oname, period_start=p_start, period_end=p_end,
                                         kpis=kpis)
        accounts = self._accounts(brand, spec, suffix, rng)
        campaigns = self._campaigns(brand, spec, cm)
        self._competitors(brand, spec, index, suffix)
        self._tick("brand_setup", t0)

        t0 = _time.perf_counter()
        self._posts(brand, spec, index, accounts, pillars, campaigns, cm, manager)
        self._planning(brand, spec, rng, pillars, cm, manager)
        self._tick("posts", t0)
        t0 = _time.perf_counter()
        self._profiles(accounts)
        self._tick("profiles", t0)
        t0 = _time.perf_counter()
        self._inbox_setup(brand, spec, roles_here)
        self._interactions(brand, spec, index, accounts, budget, cm)
        self._tick("interactions", t0)
        t0 = _time.perf_counter()
        self._giveaways(brand, spec, cm)
        self._tick("giveaways", t0)
        t0 = _time.perf_counter()
        self._listening(brand, spec, index, cm)
        self._tick("listening", t0)
        t0 = _time.perf_counter()
        self._web_analytics(brand, accounts, campaigns, cm)
        self._tick("web_analytics", t0)
        for acc in accounts:
            if acc.expired_at:
                with translation.override(spec["language"]):
                    reason = _("The access token expired on %(date)s. Reconnect the account to resume publishing "
                               "and reading comments.") % {"date": acc.expired_at.astimezone(self.tz).strftime("%d/%m/%Y")}
                networks.mark_needs_reconnect(acc.obj, reason)

    def _giveaways(self, brand, spec, cm) -> None:
        """Two giveaways on the posts the demo comments landed on: one drawn weeks ago (on the
        post with the most comments from 10 to 45 days back), one running on the newest post with
        comments. Both had their commitment published when the post went out."""
        from django.db.models import Count

        from tertulia.giveaways import services as giveaways
        from tertulia.giveaways.models import Contest
        from tertulia.publishing.models import PostTarget

        commented = (inbox.Interaction.objects
                     .filter(brand=brand, direction="in", conversation__kind="comment",
                             created_at__gte=self.now - timedelta(days=45))
                     .values_list("conversation__account_id", "conversation__root_external_id")
                     .annotate(n=Count("pk")).order_by("-n")[:300])
        published = {(t.account_id, t.external_id): t for t in PostTarget.objects.filter(
            brand=brand, state=PostTarget.State.PUBLISHED, external_id__in={r[1] for r in commented})
            .select_related("account")}
        ranked = [published[(a, e)] for a, e, _n in commented if (a, e) in published]
        past = next((t for t in ranked if self.now - timedelta(days=45) <= t.published_at <= self.now - timedelta(days=10)),
                    None)
        recent = max((t for t in ranked if t.published_at >= self.now - timedelta(days=3)),
                     key=lambda t: t.published_at, default=None)
        with translation.override(spec["language"]):
            plans = [(past, _("Anniversary giveaway"), timedelta(days=7)), (recent, _("Weekend giveaway"), None)]
            for target, title, length in plans:
                if target is None:
                    continue
                opens = target.published_at
                closes = opens + length if length else self.now + timedelta(days=4)
                contest = giveaways.do_create_contest(
                    cm, brand, title=str(title), prize=_("A box of our products and a personalised card"),
                    starts_at=opens, ends_at=closes, winners=3, substitutes=2,
                    posts=[(target.account, target.external_id)])
                Contest.objects.filter(pk=contest.pk).update(committed_at=opens + timedelta(minutes=1),
                                                             created_at=opens)
                contest.refresh_from_db()
                giveaways.collect(contest)
                if length and timezone.now() >= closes:
                    giveaways.do_draw(cm, contest)

    def _listening(self, brand, spec, index, cm) -> None:
        """Queries for the brand, each competitor and the sector; three sources; 90 days of
        mentions on the networks and the web with a daily rhythm, a negative spike three days ago
        (and the alert it raised); and the competitors' posts."""
        from tertulia.listening import mentions as found
        from tertulia.listening import services as listen
        from tertulia.listening import spikes
        from tertulia.listening.models import Competitor, CompetitorAccount, CompetitorPost, Source

        rng = _rng(self.o.seed, index, "listening")
        lang = spec["language"]
        words = data.LISTENING[lang]
        tag = spec["required_hashtags"][0] if spec["required_hashtags"] else ""
        with translation.override(lang):
            listen.do_save_query(cm, brand, name=spec["name"], kind="brand",
                                 text=f'"{spec["name"]}"' + (f" OR {tag}" if tag else ""))
            for comp in Competitor.objects.filter(brand=brand).order_by("pk"):
                listen.do_save_query(cm, brand, name=comp.name, kind="competitor", text=f'"{comp.name}"',
                                     competitor=comp)
            listen.do_save_query(cm, brand, name=str(_("Sector")), kind="industry", text=data.SECTOR_QUERIES[spec["key"]])
            comments = listen.do_save_source(cm, brand, kind="comments", name=str(_("Comments on our accounts")))
        Source.objects.create(brand=brand, kind=Source.Kind.FEED, name=words["feed"], url=words["feed_url"])
        subjects = [spec["name"]] * 5 + [c.name for c in Competitor.objects.filter(brand=brand)] * 2 + \
            [data.SECTOR_WORDS[spec["key"]]]
        items, now = [], self.now
        spike_at = (now - timedelta(days=3)).replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
        for d in range(90, 0, -1):
            day = now - timedelta(days=d)
            for n in range(int(rng.triangular(4, 22, 10) * (0.6 if day.weekday() >= 5 else 1.0))):
                at = day.replace(hour=0, minute=0, second=0) + timedelta(hours=rng.triangular(7, 23, 13))
                items.append(self._mention(rng, words, rng.choice(subjects), at, f"{d}-{n}"))
        for n in range(36):  # an hour of complaints: a possible crisis
            at = spike_at - timedelta(minutes=rng.uniform(1, 59))
            items.append(self._mention(rng, words, spec["name"], at, f"spike-{n}", tone="negative"))
        found.ingest(brand, comments, [i for i in items if i.created_at < now])
        spikes.check_brand(brand, spike_at + timedelta(minutes=5), deliver_alerts=False)
        posts = []
        for account in CompetitorAccount.objects.filter(brand=brand).select_related("competitor"):
            for d in range(90, 0, -1):
                if rng.random() < 0.45:
                    at = now - timedelta(days=d, hours=rng.uniform(0, 12))
                    posts.append(CompetitorPost(
                        brand=brand, account=account, external_id=f"demo-{account.pk}-{d}", published_at=at,
                        format=rng.choice(["text", "image", "image", "video", "link", "carousel"]),
                        text=rng.choice(words["competitor_posts"]).format(name=account.competitor.name),
                        likes=int(rng.lognormvariate(3.2, 0.9)), comments=int(rng.lognormvariate(1.2, 0.8)),
                        shares=int(rng.lognormvariate(0.8, 0.9)) if account.network != "instagram" else None,
                        views=None, read_at=now))
        CompetitorPost.objects.bulk_create(posts, batch_size=500)

    def _mention(self, rng, words, subject: str, at: datetime, key: str, tone: str = ""):
        from tertulia.listening.mentions import MentionIn

        tone = tone or rng.choices(["positive", "neutral", "negative"], weights=[4, 4, 2])[0]
        text = rng.choice(words[tone]).format(name=subject)
        network = rng.choice(["mastodon", "bluesky", "x", "x", "web"])
        handle = rng.choice(words["people"]) + str(rng.randint(1, 999))
        if network == "web":
            site = rng.choice(words["sites"])
            return MentionIn(network="web", external_id=f"https://{site}/{key}", text=text, created_at=at,
                             url=f"https://{site}/{key}", site=site, author_name=handle.title(),
                             title=text[:80])
        return MentionIn(network=network, external_id=f"demo-{key}-{rng.randint(0, 10**9)}", text=text,
                         created_at=at, author_handle=f"@{handle}", author_followers=int(rng.lognormvariate(5, 1.4)))

    def _planning(self, brand, spec, rng, pillars, cm, manager) -> None:
        """The weeks ahead: posting slots, themes per week, key dates, the idea backlog, and a
        review conversation on a post waiting for approval."""
        from tertulia.content import ideas, planning

        plan = data.PLANNING[spec["language"]]
        publishing.do_add_slots(cm, brand, weekdays=[0, 1, 2, 3, 4], times=plan["slots"])
        publishing.do_add_slots(cm, brand, weekdays=[5], times=plan["slots"][:1])
        today = self.now.astimezone(self.tz).date()
        monday = today - timedelta(days=today.weekday())
        names = list(pillars)
        for week, theme in enumerate(plan["themes"]):
            planning.do_save_week_theme(cm, brand, week_start=monday + timedelta(weeks=week), theme=theme,
                                        pillar=pillars[names[week % len(names)]])
        for month, day, name in plan["key_dates"]:
            when = date(today.year, month, day)
            if when < today:
                when = date(today.year + 1, month, day)
            if when <= today + timedelta(days=120):
                planning.do_save_key_date(cm, brand, date=when, name=name)
        for status, title, notes in plan["ideas"]:
            ideas.do_create_idea(cm, brand, title=title, notes=notes, status=status,
                                 pillar=pillars[rng.choice(names)])
        waiting = brand.posts.filter(state="pending_approval").order_by("scheduled_at").first()
        if waiting is not None:
            approvals.do_comment(manager, waiting, plan["comment"] % {"user": cm.user.username})

    def _accounts(self, brand, spec, suffix, rng) -> list[_Account]:
        out = []
        for network, handle, display, base_url, followers0, growth in spec["accounts"]:
            handle = _suffixed(network, handle, suffix)
            ext = str(rng.randrange(10**9, 10**10)) if network != "bluesky" else f"did:plc:{rng.getrandbits(100):025x}"
            obj = networks.do_add_account(self.owner, brand, network=network, handle=handle, display_name=display,
                                          base_url=base_url, external_id=ext)
            followers = self._series(rng, followers0, growth) if followers0 else [0] * (self.days + 1)
            acc = _Account(obj=obj, network=network, handle=obj.handle, display_name=display,
                           tag=_mention_tag(network, obj.handle, display), followers=followers, growth=growth)
            acc.me = inbox.IncomingAuthor(external_id=ext, handle=obj.handle, display_name=display)
            acc.will_expire = spec.get("expired_account") == network
            out.append(acc)
        return out

    def _series(self, rng, start: int, growth: float) -> list[int]:
        """Daily followers: steady growth with a curve, noise, and a few jumps after good posts."""
        end = start * (1 + growth)
        values, bumps = [], 0.0
        shape = rng.uniform(0.9, 1.3)
        for d in range(self.days + 1):
            base = start + (end - start) * (d / self.days) ** shape
            if rng.random() < 0.02:
                bumps += start * rng.uniform(0.002, 0.012)
            noise = start * rng.gauss(0, 0.0015)
            values.append(max(0, int(base + bumps + noise)))
        return values

    def _campaigns(self, brand, spec, cm) -> list:
        out = []
        for cname, utm, month, day, length, cost, value, pillar, templates in spec["campaigns"]:
            year = self.now.year
            starts = date(year, month, day)
            if starts > self.now.date() + timedelta(days=20):
                starts = date(year - 1, month, day)
            ends = starts + timedelta(days=length - 1)
            campaign = content.do_create_campaign(cm, brand, name=f"{cname} {starts.year}", utm_campaign=utm,
                                                  starts_on=starts, ends_on=ends, cost=cost, value=value)
            out.append((campaign, pillar, templates))
        return out

    # Where the demo's website visits come from (GA4's "source / medium"), with a day's typical
    # sessions and the share that converts. Social sources first; search and e-mail for contrast.
    WEB_SOURCES = (("facebook.com / social", 38, 0.012), ("instagram.com / social", 45, 0.015),
                   ("t.co / social", 12, 0.006), ("lnkd.in / social", 9, 0.02), ("bsky.app / social", 4, 0.01),
                   ("google / organic", 160, 0.018), ("newsletter / email", 25, 0.04))

    def _web_analytics(self, brand, accounts, campaigns, cm) -> None:
        """What a CM imports from the website's analytics: a GA4 export of the demo period and the
        campaigns' conversions, through the same imports as the Data page; and the profiles as the
        metrics reader last saw them (for the quarterly audit)."""
        from django.core.files.uploadedfile import SimpleUploadedFile

        from tertulia.analytics import roi, traffic
        from tertulia.analytics.models import MetricsSync

        rng = _rng(self.o.seed, brand.pk, "web")
        active = [(c, c.starts_on, c.ends_on) for c, _pillar, _templates in campaigns]
        visits = ["Date,Session source / medium,Session campaign,Sessions,Total users,Views,Key events,Total revenue"]
        conversions = ["campaign,date,conversions,value"]
        for d in range(self.days):
            day = (self.start + timedelta(days=d)).date()
            running = [c for c, start, end in active if start and end and start <= day <= end]
            weekend = 0.7 if day.weekday() >= 5 else 1.0
            for source, base, rate in self.WEB_SOURCES:
                campaign = running[0] if running and "social" in source else None
                sessions = max(0, round(rng.gauss(base * weekend * (1.6 if campaign else 1.0), base * 0.15)))
                converted = sum(1 for _i in range(sessions) if rng.random() < rate)
                visits.append(f"{day:%Y%m%d},{source},{campaign.utm_campaign if campaign else '(not set)'},"
                              f"{sessions},{round(sessions * 0.82)},{round(sessions * 2.4)},{converted},"
                              f"{converted * 35:.2f}")
                if campaign is not None and converted:
                    conversions.append(f"{campaign.utm_campaign},{day.isoformat()},{converted},{converted * 35:.2f}")
        traffic.do_import_web_traffic(cm, brand, SimpleUploadedFile("ga4.csv", "\n".join(visits).encode()))
        if len(conversions) > 1:
            roi.do_import_conversions(cm, brand, SimpleUploadedFile("conversions.csv", "\n".join(conversions).encode()))
        for acc in accounts:
            complete = rng.random() > 0.3
            MetricsSync.objects.update_or_create(account=acc.obj, defaults={"profile": {
                "display_name": acc.obj.display_name or acc.handle, "bio": brand.name if complete else "",
                "url": f"https://{brand.name.lower().replace(' ', '')}.example/" if complete else "",
                "avatar_url": "", "cover_url": "", "fields": {}, "read_at": self.now.isoformat()}})

    def _competitors(self, brand, spec, index, suffix) -> None:
        rng = _rng(self.o.seed, index, "competitors")
        for cname, website, accounts in spec["competitors"]:
            comp = listening.do_add_competitor(self.owner, brand, name=f"{cname} {suffix}".strip(), website=website,
                                               accounts=[(n, h) for n, h, _f in accounts])
            for account, (_n, _h, followers) in zip(comp.accounts.order_by("pk"), accounts):
                growth, posts = rng.uniform(0.03, 0.3), rng.randint(400, 3000)
                samples = []
                for week in range(self.days // 7 + 1):
                    at = self.start + timedelta(days=7 * week)
                    posts += rng.randint(2, 7)
                    samples.append(listening.CompetitorSample(
                        taken_at=at, followers=int(followers * (1 + growth * week * 7 / self.days) + rng.gauss(0, 20)),
                        posts=posts, avg_engagement=round(max(0.1, rng.gauss(2.2, 0.7)), 2),
                    ))
                listening.record_competitor_snapshots(account, samples)

    # --- posts

    def _post_ids(self, acc: _Account, at: datetime, rng) -> tuple[str, str]:
        n = acc.next_n()
        ms = int(at.timestamp() * 1000)
        h = acc.handle.lstrip("@")
        if acc.network == "x":
            ext = str(((ms - 1288834974657) << 22) | n)  # a snowflake: time, then sequence
            return ext, f"https://x.com/{h}/status/{ext}"
        if acc.network == "mastodon":
            ext = str((ms << 22) | n)
            user, _s, server = h.partition("@")
            return ext, f"https://{server}/@{user}/{ext}"
        if acc.network == "bluesky":
            rkey = _tid(ms, n)
            return f"at://{acc.me.external_id}/app.bsky.feed.post/{rkey}", f"https://bsky.app/profile/{h}/post/{rkey}"
        if acc.network == "facebook":
            ext = f"{acc.me.external_id}_{10**15 + n * 7919}"
            return ext, f"https://www.facebook.com/{ext.replace('_', '/posts/')}"
        if acc.network == "instagram":
            code = "".join(rng.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-") for _ in range(11))
            return str(17_900_000_000_000_000 + n), f"https://www.instagram.com/p/{code}/"
        if acc.network == "threads":
            code = "".join(rng.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789") for _ in range(11))
            return str(18_000_000_000_000_000 + n), f"https://www.threads.net/@{h}/post/{code}"
        if acc.network == "linkedin":
            ext = f"urn:li:share:{7_100_000_000_000_000_000 + n}"
            return ext, f"https://www.linkedin.com/feed/update/{ext}/"
        if acc.network == "telegram":
            return str(n), f"https://t.me/{h}/{n}"
        return str(n), f"{acc.obj.base_url}/?p={n}"  # wordpress

    def _posts(self, brand, spec, index, accounts, pillars, campaigns, cm, manager) -> None:
        rng = _rng(self.o.seed, index, "posts")
        slots = dict(data.COMMON_SLOTS[spec["language"]], **spec["slots"])
        per_week = self.o.posts_per_week if self.o.posts_per_week is not None else spec["posts_per_week"]
        pillar_mix = [(p, s) for p, s, _c in spec["pillars"]]
        hashtag = spec["required_hashtags"][0]
        metrics: list[analytics.PostMetrics] = []
        by_network = {a.network: a for a in accounts}
        weeks = self.days // 7
        # Monday of the first full week of the history, in the brand's time zone.
        first_day = self.start.astimezone(self.tz).date() + timedelta(days=1)
        first_monday = first_day + timedelta(days=(7 - first_day.weekday()) % 7)
        plans = []
        for week in range(weeks + 3):  # the last weeks run into the future: the calendar ahead
            count = int(per_week) + (1 if rng.random() < per_week % 1 else 0)
            days = rng.sample(range(7), k=min(count, 7)) if count else []
            for wd in sorted(days):
                day = first_monday + timedelta(days=7 * week + wd)
                hh, mm = rng.choice(POST_SLOTS_LOCAL)
                local = datetime.combine(day, time(hh, mm), tzinfo=self.tz) + timedelta(minutes=rng.randint(-15, 15))
                plans.append(local.astimezone(UTC))
        # The account whose token expires: it happened a few hours before the last post went
        # out, so that post failed on it (the team sees it in the calendar).
        past = [w for w in plans if w <= self.now]
        for acc in accounts:
            if acc.will_expire:
                last = past[-1] if past else self.now
                acc.expired_at = last - timedelta(hours=rng.randint(2, 30))
        future_posts = 0
        for when in plans:
            if when > self.now + timedelta(days=14):
                break
            future = when > self.now
            campaign = next((c for c in campaigns if c[0].starts_on <= when.date() <= c[0].ends_on), None)
            if campaign and rng.random() < 0.5:
                template, pillar = rng.choice(campaign[2]), pillars[campaign[1]]
            else:
                campaign = None
                pname = _weighted(rng, pillar_mix)
                template, pillar = rng.choice(spec["posts"][pname]), pillars[pname]
            fmt = "link" if "{link}" in template else _weighted(rng, POST_FORMATS[spec["key"]])
            choices = [a for a in accounts if a.network in FORMAT_NETWORKS[fmt]]
            if fmt == "link" and "wordpress" in by_network and rng.random() > 0.4:
                choices = [a for a in choices if a.network != "wordpress"]
            elif "wordpress" in by_network and fmt != "link":
                choices = [a for a in choices if a.network != "wordpress"]
            targets = rng.sample(choices, k=min(len(choices), rng.choice((1, 2, 2, 3, 3, 4))))
            if when == (past[-1] if past else None):
                targets += [a for a in accounts if a.expired_at and a not in targets]
            targets.sort(key=lambda a: accounts.index(a))
            link_url = rng.choice(spec["links"]) if fmt == "link" else ""
            slugs = {a.network: "".join(rng.choice(content.SLUG_ALPHABET) for _ in range(7)) for a in targets}
            short = {n: f"{settings.SITE_URL}/l/{s}" for n, s in slugs.items()}
            body = fill(template, slots, rng, link=short[targets[0].network] if fmt == "link" else "")
            text = body if hashtag.lower() in body.lower() else f"{body} {hashtag}"
            variants = {}
            if fmt == "link":
                for a in targets[1:]:
                    variants[a.network] = text.replace(short[targets[0].network], short[a.network])
                if any(a.network == "wordpress" for a in targets):
                    variants["wordpress"] = _blog_body(text, short.get("wordpress", ""), spec["language"])
            elif any(a.network == "x" for a in targets) and len(text) > 250:
                variants["x"] = text[:240].rsplit(" ", 1)[0] + "… " + hashtag
            created = when - timedelta(days=rng.randint(1, 6), minutes=rng.randint(0, 600))
            submit = not future or rng.random() < 0.85
            post = content.do_create_post(cm, brand, text=text, accounts=[a.obj for a in targets], pillar=pillar,
                                          format=fmt, campaign=campaign[0] if campaign else None, scheduled_at=when,
                                          variants=variants, submit=submit, at=min(created, self.now))
            if future:
                future_posts += 1
                # The calendar ahead: most approved and scheduled, a few waiting for approval.
                if submit and rng.random() < 0.75:
                    approvals.do_mark_approved(manager, post)
                continue
            approvals.do_mark_approved(manager, post)
            post_targets = list(post.targets.order_by("pk").select_related("account"))
            links = {}
            if fmt == "link":
                for a in targets:
                    links[a.network] = content.do_create_short_link(
                        cm, brand, target_url=link_url, post=post, campaign=campaign[0] if campaign else None,
                        utm_source=a.network, slug=slugs[a.network], at=created)
            for target, acc in zip(post_targets, targets):
                published_at = when + timedelta(seconds=rng.randint(2, 50))
                if acc.expired_at and published_at >= acc.expired_at:
                    with translation.override(spec["language"]):
                        publishing.mark_needs_attention(target, _("The network rejected the access token (expired). "
                                                                  "Reconnect the account and publish again."))
                    continue
                ext, url = self._post_ids(acc, published_at, rng)
                publishing.mark_published(target, external_id=ext, external_url=url, published_at=published_at)
                metrics.extend(self._post_metrics(rng, target, acc, fmt, published_at, pillar, links.get(acc.network)))
            if len(metrics) > 2000:
                analytics.record_post_metrics(metrics)
                metrics = []
        analytics.record_post_metrics(metrics)

    def _post_metrics(self, rng, target, acc, fmt, published_at, pillar, link):
        day = min(self.days, max(0, (published_at - self.start).days))
        followers = max(50, acc.followers[day])
        exposed = capabilities.POST_METRICS[acc.network]
        quality = rng.lognormvariate(0, 0.55) * (1.25 if fmt in ("video", "carousel") else 1.0)
        reach = followers * REACH_RATE[acc.network] * quality
        engaged = reach * ENGAGE_RATE[acc.network] * rng.uniform(0.7, 1.3)
        final = {
            "impressions": reach * rng.uniform(1.2, 1.7),
            "reach": reach,
            "likes": engaged * 0.8,
            "comments": engaged * rng.uniform(0.04, 0.12),
            "shares": engaged * rng.uniform(0.05, 0.2),
            "saves": engaged * rng.uniform(0.03, 0.15),
            "clicks": reach * (rng.uniform(0.01, 0.03) if fmt == "link" else rng.uniform(0.001, 0.006)),
            "video_views": reach * rng.uniform(0.4, 0.8) if fmt == "video" else None,
        }
        if acc.network == "wordpress":
            final["comments"] = rng.randint(0, 14)
        tau = 40.0 if fmt == "video" else 12.0
        acc.published.append((published_at, target.external_id, max(1.0, engaged)))
        samples = []
        for hours in SNAPSHOT_HOURS:
            at = published_at + timedelta(hours=hours)
            if at > self.now:
                break
            share = 1 - math.exp(-hours / tau)
            values = {k: (int(v * share) if k in exposed and v is not None else None) for k, v in final.items()}
            samples.append(analytics.PostMetrics(target=target, taken_at=at, **values))
        if link is not None:
            total = int(final["clicks"] * rng.uniform(0.6, 0.9)) + rng.randint(0, 3)
            clicks = []
            for _i in range(total):
                at = published_at + timedelta(hours=rng.expovariate(1 / 10))
                if at < self.now:
                    clicks.append(content.Click(clicked_at=at, referrer_host=REFERRERS[acc.network],
                                                country=rng.choice(self.countries)))
            content.record_link_clicks(link, clicks)
        return samples

    # --- followers over time

    def _profiles(self, accounts) -> None:
        for acc in accounts:
            fields = capabilities.PROFILE_FIELDS[acc.network]
            rng = _rng(self.o.seed, acc.handle, "profile")
            following = rng.randint(80, 900)
            posts_before = rng.randint(300, 2500)
            published_days = sorted((p[0] - self.start).days for p in acc.published)
            samples, k = [], 0
            for d in range(self.days + 1):
                at = self.start + timedelta(days=d)
                if acc.expired_at and at >= acc.expired_at:
                    break  # nobody can read the profile without a token
                while k < len(published_days) and published_days[k] <= d:
                    k += 1
                if rng.random() < 0.05:
                    following += 1
                samples.append(analytics.ProfileSample(
                    taken_at=at,
                    followers=acc.followers[d] if "followers" in fields else None,
                    following=following if "following" in fields else None,
                    posts=posts_before + k if "posts" in fields else None,
                ))
            analytics.record_profile_snapshots(acc.obj, samples)

    # --- the inbox

    def _inbox_setup(self, brand, spec, roles_here) -> None:
        """Saved replies in both languages, labels, and three rules a CM would write first:
        spam is closed, insults are flagged and labelled, complaints go to the CM."""
        from tertulia.inbox import config

        for titles, texts in data.SAVED_REPLIES:
            for lang in ("es", "en"):
                config.do_save_saved_reply(self.owner, brand, title=titles[lang], language=lang, text=texts[lang])
        names = data.LABELS[spec["language"]]
        for name in names:
            config.do_save_label(self.owner, brand, name=name)
        cm_user = roles_here["community_manager"]
        with translation.override(spec["language"]):
            for name, conditions, actions in (
                (_("Spam is closed"), {"intents": ["spam"]}, {"close": True}),
                (_("Insults are flagged"), {"min_toxicity": 0.7}, {"flag": True, "labels": ["troll"]}),
                (_("Complaints go to the community manager"), {"intents": ["complaint"]},
                 {"assign_to": cm_user.pk}),
            ):
                config.do_save_rule(self.owner, brand, name=str(name), enabled=True, conditions=conditions,
                                    actions=actions)

    def _interactions(self, brand, spec, index, accounts, budget, cm) -> None:
        if budget <= 0:
            return
        g = _InboxGenerator(self, brand, spec, index, accounts, budget)
        close = g.run()
        t0 = _time.perf_counter()
        inbox.do_set_status(cm, brand, close, inbox.Conversation.Status.CLOSED)
        inbox.close_inactive(brand, before=self.now - timedelta(days=7))
        self._tick("inbox_triage", t0)


def _tid(ms: int, n: int) -> str:
    """An AT Protocol record key (TID): a time, then the sequence, in sortable base32."""
    alphabet = "234567abcdefghijklmnopqrstuvwxyz"
    value = ((ms >> 2) << 22) | n
    out = []
    for _i in range(13):
        out.append(alphabet[value & 31])
        value >>= 5
    return "".join(reversed(out))


def _blog_body(text: str, url: str, lang: str) -> str:
    if lang == "es":
        return (f"{text}\n\nEn este artículo te contamos paso a paso cómo hacerlo, con capturas y los errores "
                f"más comunes que vemos en soporte. ¿Dudas? Déjalas en los comentarios.")
    return f"{text}\n\nThe full piece, with pictures and our booksellers' notes, is on the blog. Comments welcome."


class _InboxGenerator:
    """Comments, mentions and DMs for one brand, streamed to ``inbox.ingest_interactions`` in
    batches per account."""

    def __init__(self, gen: _Generator, brand, spec, index, accounts, budget):
        self.g, self.brand, self.spec, self.budget = gen, brand, spec, budget
        self.rng = _rng(gen.o.seed, index, "inbox")
        self.index = index
        self.accounts = accounts
        self.tz = zoneinfo.ZoneInfo(spec["timezone"])
        self.now, self.start, self.days = gen.now, gen.start, gen.days
        self.primary = spec["language"]
        self.second = "en" if self.primary == "es" else "es"
        self.slots = {lang: dict(data.COMMON_SLOTS[lang], **spec["slots"]) for lang in ("es", "en")}
        self.buffers: dict[int, list] = defaultdict(list)
        self.close_exts: set[str] = set()  # first message of each conversation to close
        self.close_ids: list[int] = []
        self.authors: dict[tuple, _Author] = {}
        self.bad: dict[tuple, list[_Author]] = {}
        # Local midnight of each day, as UTC, and the offset, for quick local-time maths.
        self.midnights = []
        d0 = self.start.astimezone(self.tz).date()
        for d in range(self.days + 2):
            self.midnights.append(datetime.combine(d0 + timedelta(days=d), time(0), tzinfo=self.tz).astimezone(UTC))
        # Which days people write on: growing over the year, busier in campaigns, quieter at weekends.
        campaigns = list(brand.campaigns.values_list("starts_on", "ends_on"))
        weights = []
        for d in range(self.days + 1):
            day = d0 + timedelta(days=d)
            w = 0.55 + 0.9 * d / self.days
            if day.weekday() >= 5:
                w *= 0.85
            if any(s <= day <= e for s, e in campaigns):
                w *= 1.6
            weights.append(w)
        self.day_weights = weights
        self.hour_cum = list(itertools.accumulate(HOUR_WEIGHTS))
        # Posts people can comment on, across the brand's accounts, in publishing order.
        self.posts = sorted(((p[0], p[1], p[2], a) for a in accounts for p in a.published), key=lambda p: p[:2])
        self.post_times = [p[0] for p in self.posts]
        self._day_posts: tuple[int, list, list] | None = None
        self.kind_accounts = {
            kind: [a for a in accounts if kind in capabilities.INTERACTION_KINDS[a.network]]
            for kind in ("comment", "mention", "dm")
        }
        self.kind_accounts = {k: v for k, v in self.kind_accounts.items() if v}
        self.kind_cum = {k: list(itertools.accumulate(math.sqrt(max(a.followers[-1], 100)) for a in accs))
                         for k, accs in self.kind_accounts.items()}
        self.pool_size = {a.network: max(25, budget // (5 * len(accounts))) for a in accounts}
        self.incident_day = spec.get("incident_day_ago")

    # time helpers

    def _pick_time(self, d: int) -> datetime:
        """A moment of day ``d`` (local), busier at lunch and in the evening."""
        rng = self.rng
        hour = bisect.bisect_left(self.hour_cum, rng.random() * self.hour_cum[-1])
        return self.midnights[d] + timedelta(hours=hour, seconds=rng.randrange(3600))

    def _posts_for_day(self, d: int) -> tuple[list, list]:
        """Posts of the last week that people comment on during day ``d``, weighted by how
        engaging they were and how fresh: yesterday's post still gets comments, last week's
        a few."""
        if self._day_posts is None or self._day_posts[0] != d:
            noon = self.midnights[d] + timedelta(hours=12)
            lo = bisect.bisect_left(self.post_times, self.midnights[d] - timedelta(days=7))
            hi = bisect.bisect_left(self.post_times, self.midnights[d + 1])
            candidates = self.posts[lo:hi]
            weights = [p[2] * math.exp(-max(0.0, (noon - p[0]).total_seconds()) / 86400) for p in candidates]
            self._day_posts = (d, candidates, list(itertools.accumulate(weights)))
        return self._day_posts[1], self._day_posts[2]

    def _local_hour(self, t: datetime) -> tuple[int, int]:
        d = max(0, min(len(self.midnights) - 2, (t - self.midnights[0]).days))
        while d + 1 < len(self.midnights) and t >= self.midnights[d + 1]:
            d += 1
        while d > 0 and t < self.midnights[d]:
            d -= 1
        return d, int((t - self.midnights[d]).total_seconds() // 3600)

    def _reply_time(self, t: datetime) -> datetime:
        """The team answers within the hour in office hours; at night, the next morning."""
        delay = timedelta(minutes=min(60 * 48, self.rng.lognormvariate(math.log(40), 0.9)))
        out = t + delay
        d, hour = self._local_hour(out)
        if hour < 8 or hour >= 21:
            nxt = d + 1 if hour >= 21 else d
            if nxt < len(self.midnights):
                out = self.midnights[nxt] + timedelta(hours=8, minutes=self.rng.randint(5, 120))
        return out

    # people

    def _author(self, acc: _Account, intent: str) -> _Author:
        rng = self.rng
        if intent in ("spam", "troll"):
            key = (acc.network, intent)
            pool = self.bad.get(key)
            if pool is None:
                names = data.SPAM_HANDLES if intent == "spam" else data.TROLL_HANDLES
                pool = self.bad[key] = [
                    self._make_author(acc, f"{intent[0]}{i}", handle=name, locale=self.spec["locale"])
                    for i, name in enumerate(rng.sample(names, k=min(len(names), 6 if intent == "spam" else 4)))
                ]
            return rng.choice(pool)
        size = self.pool_size[acc.network]
        i = int(size * rng.random() ** 1.8)
        key = (acc.network, i)
        author = self.authors.get(key)
        if author is None:
            locale = self.spec["second_locale"] if rng.random() < self.spec["second_share"] else self.spec["locale"]
            author = self.authors[key] = self._make_author(acc, str(i), locale=locale)
        return author

    def _make_author(self, acc: _Account, key: str, handle: str = "", locale: str = "es-ES") -> _Author:
        rng = self.rng
        first = rng.choice(data.FIRST_NAMES[locale])
        last = rng.choice(data.LAST_NAMES[locale])
        if not handle:
            base = _ascii(first.split()[0].lower())
            style = rng.random()
            if style < 0.35:
                handle = f"{base}_{_ascii(last.lower())}"
            elif style < 0.6:
                handle = f"{base}{rng.randint(1, 99):02d}"
            elif style < 0.8:
                handle = f"{base}.{rng.choice(data.HANDLE_WORDS[locale])}"
            else:
                handle = f"{rng.choice(data.HANDLE_WORDS[locale])}_{base}"
            handle = handle.replace("'", "")
        display = f"{first} {last}" if not handle.startswith(tuple(data.SPAM_HANDLES + data.TROLL_HANDLES)) else handle
        n = acc.network
        if n == "mastodon":
            shown = f"@{handle.replace('.', '_')}@{rng.choice(['mastodon.social', 'masto.es', 'mstdn.social', 'mas.to'])}"
        elif n == "bluesky":
            shown = f"{handle.replace('_', '-')}.bsky.social"
        elif n in ("facebook", "linkedin", "wordpress"):
            shown = display
        else:
            shown = "@" + handle
        prefix = {"x": "14", "instagram": "178", "threads": "639", "facebook": "100", "linkedin": "urn:li:person:",
                  "telegram": "52", "mastodon": "1099", "wordpress": "wp-"}.get(n, "")
        ext = f"did:plc:{_h(self.index, n, key)}" if n == "bluesky" else f"{prefix}{self.index:02d}{key}"
        created = self.start - timedelta(days=rng.randint(30, 4000))
        ref = inbox.IncomingAuthor(external_id=ext, handle=shown, display_name=display,
                                   followers=int(rng.lognormvariate(5.5, 1.3)), account_created_at=created)
        return _Author(ref=ref, first_name=first.split()[0] if display != handle else handle, lang=locale[:2],
                       locale=locale)

    # texts

    def _inbound_text(self, intent: str, lang: str, kind: str, acc: _Account) -> tuple[str, str]:
        """(text, answer) for a customer's message; answer is set for known questions."""
        rng = self.rng
        texts = self.spec["texts"].get(lang) or self.spec["texts"][self.primary]
        answer = ""
        if intent == "spam":
            template = rng.choice(data.SPAM[lang])
        elif intent == "troll":
            template = rng.choice(data.TROLL[lang])
        elif intent == "other":
            template = rng.choice(data.OTHER[lang])
        elif intent == "question":
            template, answer = rng.choice(texts["question"])
        else:
            template = rng.choice(texts[intent] or texts["complaint"])
        text = fill(template, self.slots[lang], rng)
        answer = fill(answer, self.slots[lang], rng) if answer else ""
        if kind == "mention" and acc.tag:
            text = f"{acc.tag} {text}" if rng.random() < 0.6 else f"{text} {acc.tag}"
        return roughen(text, lang, rng, shouting=intent in ("complaint", "incident", "troll")), answer

    def _reply_text(self, kind: str, lang: str, author: _Author, answer: str = "") -> str:
        rng = self.rng
        replies = self.spec["replies"].get(lang) or self.spec["replies"][self.primary]
        if answer and kind == "answer":
            text = answer
        else:
            text = fill(rng.choice(replies.get(kind) or replies["praise"]), self.slots[lang], rng,
                        name=author.first_name)
        if lang == self.primary and rng.random() < 0.3:
            text = f"{text} {self.spec['signature']}"
        return text

    def _follow_up(self, key: str, lang: str) -> str:
        return roughen(fill(self.rng.choice(data.FOLLOW_UPS[lang][key]), self.slots[lang], self.rng), lang, self.rng)

    # conversations

    def _ext(self, acc: _Account, at: datetime, writer: str) -> str:
        """A message id in the network's own shape, unique within the account."""
        n = acc.next_n()
        ms = int(at.timestamp() * 1000)
        net = acc.network
        if net == "x":
            return str(((ms - 1288834974657) << 22) | n)
        if net == "mastodon":
            return str((ms << 22) | n)
        if net == "bluesky":
            return f"at://{writer}/app.bsky.feed.post/{_tid(ms, n)}"
        if net == "facebook":
            return f"{acc.me.external_id}_{n}"
        if net in ("instagram", "threads"):
            return str(17_800_000_000_000_000 + n)
        if net == "linkedin":
            return f"urn:li:comment:{n}"
        return str(n)

    def _choose_account(self, kind: str) -> _Account:
        cum = self.kind_cum[kind]
        return self.kind_accounts[kind][bisect.bisect_left(cum, self.rng.random() * cum[-1])]

    def _conversation(self, d: int, incident: bool = False) -> tuple[_Account, list[inbox.IncomingInteraction], bool]:
        """A conversation that starts on day ``d``, with the replies that followed."""
        rng = self.rng
        intent = "incident" if incident else _weighted(rng, data.INTENT_MIX)
        kind = "mention" if incident else _weighted(rng, KIND_MIX)
        if kind == "dm" and intent in ("other", "troll") and rng.random() < 0.7:
            kind = "comment"
        candidates, cum = self._posts_for_day(d) if kind == "comment" else ([], [])
        if kind == "comment" and not candidates:
            kind = "mention"
        if kind != "comment" and kind not in self.kind_accounts:
            kind = "comment" if candidates else next(iter(self.kind_accounts))
            if kind == "comment":
                candidates, cum = self._posts_for_day(d)
        root_post = None
        for _attempt in range(8):
            if kind == "comment":
                root_post = candidates[bisect.bisect_left(cum, rng.random() * cum[-1])]
                acc = root_post[3]
                t = self._pick_time(d)
                if t <= root_post[0]:  # published later that day: comments come after it
                    t = root_post[0] + timedelta(minutes=2 + rng.expovariate(1 / 90))
            else:
                acc = self._choose_account(kind)
                t = self._incident_time() if incident else self._pick_time(d)
            if t < self.now and not (acc.expired_at and t >= acc.expired_at):
                break
        else:
            return acc, [], False
        author = self._author(acc, intent)
        lang = author.lang
        if intent == "incident":
            texts = self.spec["texts"][lang]["incident"] or self.spec["texts"][self.primary]["incident"]
            text, answer = roughen(fill(rng.choice(texts), self.slots[lang], rng), lang, rng, shouting=True), ""
            if acc.tag:
                text = f"{acc.tag} {text}"
        else:
            text, answer = self._inbound_text(intent, lang, kind, acc)
        if kind == "comment":
            root = root_post[1]
        elif kind == "dm":
            root = f"dm:{acc.me.external_id}:{author.ref.external_id}"
        else:
            root = ""
        msgs: list[inbox.IncomingInteraction] = []

        def say(direction: str, body: str, at: datetime, label: str = "") -> inbox.IncomingInteraction:
            ext = self._ext(acc, at, (author.ref if direction == "in" else acc.me).external_id)
            parent = msgs[-1].external_id if msgs else (root if kind == "comment" else "")
            if direction == "in":
                stored_intent, sentiment, tox, urg = TRIAGE[label or intent]
                item = inbox.IncomingInteraction(
                    external_id=ext, kind=kind, author=author.ref, text=body, created_at=at,
                    root_external_id=root or ext, parent_external_id=parent, language=lang,
                    intent=stored_intent, sentiment=sentiment,
                    toxicity=round(rng.uniform(*tox), 3), urgency=round(rng.uniform(*urg), 3))
            else:
                item = inbox.IncomingInteraction(
                    external_id=ext, kind=kind, author=acc.me, counterpart=author.ref, text=body, created_at=at,
                    root_external_id=root or msgs[0].root_external_id, parent_external_id=parent,
                    direction="out", language=lang)
            msgs.append(item)
            return item

        say("in", text, t)
        episodes = 1 + (rng.random() < 0.25 if kind == "dm" else 0)
        for episode in range(episodes):
            if episode:  # the same person writes again, weeks later, in the same DM thread
                t = msgs[-1].created_at + timedelta(days=rng.randint(7, 90), hours=rng.randint(0, 12))
                if t >= self.now:
                    break
                intent = rng.choice(["question", "complaint", "praise"])
                text, answer = self._inbound_text(intent, lang, kind, acc)
                say("in", text, t)
            if rng.random() >= REPLY_CHANCE[intent]:
                continue
            t = self._reply_time(msgs[-1].created_at)
            if t >= self.now:
                break
            if intent == "complaint" and kind == "dm":
                say("out", self._reply_text("ask_details", lang, author), t)
                t = t + timedelta(minutes=rng.randint(3, 240))
                if t >= self.now:
                    break
                say("in", self._follow_up("details", lang), t, "details")
                t = self._reply_time(t)
                if t >= self.now:
                    break
                say("out", self._reply_text("resolve", lang, author), t)
                follow = "solved" if rng.random() < 0.8 else "still"
            elif intent == "question":
                say("out", self._reply_text("answer", lang, author, answer) if answer else
                    self._reply_text("request", lang, author), t)
                follow = "thanks"
            elif intent == "incident":
                say("out", self._reply_text("incident", lang, author), t)
                follow = "thanks" if rng.random() < 0.5 else "still"
            else:
                say("out", self._reply_text(intent, lang, author), t)
                follow = "thanks" if intent != "complaint" else ("still" if rng.random() < 0.4 else "solved")
            chance = {"question": 0.35, "complaint": 0.5, "incident": 0.3}.get(intent, 0.12)
            if rng.random() < chance:
                t = msgs[-1].created_at + timedelta(minutes=rng.randint(2, 600))
                if t < self.now:
                    say("in", self._follow_up(follow, lang), t, follow)
                    if follow == "still":
                        t = self._reply_time(t)
                        if t < self.now:
                            say("out", self._reply_text("resolve", lang, author), t)
        last = msgs[-1]
        age = self.now - last.created_at
        close = last.direction == "in" and (
            (intent in ("spam", "troll") and age > timedelta(days=2))
            or (age > timedelta(days=10) and rng.random() < 0.97)
        )
        return acc, msgs, close

    def _incident_time(self) -> datetime:
        d = max(0, self.days - self.incident_day)
        return self.midnights[d] + timedelta(hours=9 + self.rng.expovariate(1 / 2.5))

    def _day_budgets(self, total: int) -> list[int]:
        """``total`` messages shared among the days by weight (largest remainders)."""
        weight_sum = sum(self.day_weights)
        quotas = [total * w / weight_sum for w in self.day_weights]
        budgets = [int(q) for q in quotas]
        by_remainder = sorted(range(len(quotas)), key=lambda i: (budgets[i] - quotas[i], i))
        for i in by_remainder[: total - sum(budgets)]:
            budgets[i] += 1
        return budgets

    def run(self) -> list[int]:
        """Generate day by day and hand messages to ingestion in the order they were
        written, as a connector polling the accounts would: a heap holds the replies that
        come later than the day being generated."""
        incident_day = self.days - self.incident_day if self.incident_day and self.incident_day < self.days else None
        incident_budget = int(self.budget * 0.03) if incident_day is not None else 0
        budgets = self._day_budgets(self.budget - incident_budget)
        if incident_day is not None:
            budgets[incident_day] += incident_budget
        pending: list[tuple[datetime, int, _Account, inbox.IncomingInteraction]] = []
        order = itertools.count()
        produced, target = 0, 0
        for d, day_budget in enumerate(budgets):
            # Cumulative targets: a conversation that overshoots its day (replies count too)
            # takes from the next days, so the year is filled evenly to its last day.
            target = min(self.budget, target + day_budget)
            incident_left = incident_budget if d == incident_day else 0
            failures = 0
            while produced < target and failures < 20:
                acc, msgs, close = self._conversation(d, incident=incident_left > 0)
                if not msgs:  # nothing could happen then (an expired account, later than now)
                    failures += 1
                    continue
                msgs = msgs[: self.budget - produced]
                produced += len(msgs)
                incident_left -= len(msgs)
                if close:
                    self.close_exts.add(msgs[0].external_id)
                for m in msgs:
                    heapq.heappush(pending, (m.created_at, next(order), acc, m))
            self._release(pending, self.midnights[d + 1])
        # What failed to fit on its day goes to the last weeks, so the total is exact.
        while produced < self.budget:
            acc, msgs, close = self._conversation(self.rng.randrange(max(0, self.days - 30), self.days))
            msgs = msgs[: self.budget - produced]
            produced += len(msgs)
            if msgs and close:
                self.close_exts.add(msgs[0].external_id)
            for m in msgs:
                heapq.heappush(pending, (m.created_at, next(order), acc, m))
        self._release(pending, None)
        for acc in self.accounts:
            self._flush(acc.obj)
        return self.close_ids

    def _release(self, pending: list, until: datetime | None) -> None:
        batch = self.g.o.batch_size
        while pending and (until is None or pending[0][0] < until):
            _at, _n, acc, m = heapq.heappop(pending)
            buf = self.buffers[acc.obj.pk]
            buf.append(m)
            if len(buf) >= batch:
                self._flush(acc.obj)

    def _flush(self, account) -> None:
        buf = self.buffers.pop(account.pk, None)
        if not buf:
            return
        t0 = _time.perf_counter()
        result = inbox.ingest_interactions(account, buf)
        stats = self.g.stats
        stats.ingest_seconds += _time.perf_counter() - t0
        stats.ingest_calls += 1
        stats.interactions += result.created
        if self.close_exts:
            for ext, conv in result.conversation_ids.items():
                if ext in self.close_exts:
                    self.close_ids.append(conv)
                    self.close_exts.discard(ext)


def _ascii(text: str) -> str:
    from .demo_text import strip_accents

    return strip_accents(text).replace("ñ", "n").replace(" ", "")


def _h(*parts) -> str:
    return hashlib.sha256(":".join(map(str, parts)).encode()).hexdigest()[:24]
