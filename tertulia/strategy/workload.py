"""How many hours a week a brand's social media takes: the workload estimator.

The model is calibrated on the two baselines of the CM job description:

- 2 profiles with 3–4 posts a week each take 2–3 hours a week;
- 3 profiles with 5 posts a week each take 6–8 hours a week.

Time does not grow in proportion to the posts: more posts on more profiles means more variants
to adapt, more comments to follow and more coordination. A power law of the weekly posts,
``hours = C × posts ** K``, passes exactly through both baselines' midpoints (7 posts → 2.5 h,
15 posts → 7 h), which gives K = ln(7/2.5) / ln(15/7) ≈ 1.35. The range comes from the posts
per profile ± half a post (3.5 ± 0.5 → 2.0–3.0 h; 5 ± 0.5 → 6.1–7.9 h), matching both
baselines' ranges.

The baselines include a small brand's community work. Inbox volume beyond that
(``INCLUDED_INTERACTIONS`` a week) adds ``MINUTES_PER_INTERACTION`` each: reading, triage and
a reply for some.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db.models import Count
from django.utils import timezone

BASE_A = (7.0, 2.5)  # (posts a week, hours a week): 2 profiles × 3.5 posts, 2–3 h
BASE_B = (15.0, 7.0)  # 3 profiles × 5 posts, 6–8 h
K = math.log(BASE_B[1] / BASE_A[1]) / math.log(BASE_B[0] / BASE_A[0])
C = BASE_A[1] / BASE_A[0] ** K
INCLUDED_INTERACTIONS = 50
MINUTES_PER_INTERACTION = 1.5
SAMPLE_WEEKS = 4
MAX_INPUT = 1_000_000


@dataclass(frozen=True)
class Estimate:
    profiles: int
    posts_per_week: float
    interactions_per_week: float
    low_hours: float
    high_hours: float
    inbox_hours: float

    @property
    def hours(self) -> float:
        return (self.low_hours + self.high_hours) / 2


def _posting_hours(posts: float) -> float:
    return C * posts ** K if posts > 0 else 0.0


def estimate(profiles: int, posts_per_week: float, interactions_per_week: float = 0) -> Estimate:
    """Hours a week for ``profiles`` profiles publishing ``posts_per_week`` posts in all
    (across the profiles) and receiving ``interactions_per_week`` comments, mentions and DMs."""
    for value in (profiles, posts_per_week, interactions_per_week):
        if not isinstance(value, int | float) or isinstance(value, bool) or not 0 <= value <= MAX_INPUT \
                or math.isnan(value):
            raise ValueError("workload inputs must be numbers between 0 and 1,000,000")
    spread = 0.5 * profiles  # half a post a week per profile, either way
    inbox = max(0.0, interactions_per_week - INCLUDED_INTERACTIONS) * MINUTES_PER_INTERACTION / 60
    low = _posting_hours(max(0.0, posts_per_week - spread)) + inbox
    high = _posting_hours(posts_per_week + spread) + inbox
    return Estimate(profiles=profiles, posts_per_week=posts_per_week, interactions_per_week=interactions_per_week,
                    low_hours=round(low, 1), high_hours=round(high, 1), inbox_hours=round(inbox, 1))


def for_brand(brand, *, now: datetime | None = None) -> Estimate:
    """The estimate from the brand's own last ``SAMPLE_WEEKS`` weeks: its connected profiles,
    the posts it published (each post × profile counts) and the interactions it received."""
    from tertulia.inbox.models import Interaction
    from tertulia.networks.models import SocialAccount
    from tertulia.publishing.models import PostTarget

    now = now or timezone.now()
    since = now - timedelta(weeks=SAMPLE_WEEKS)
    profiles = SocialAccount.objects.filter(brand=brand).exclude(status=SocialAccount.Status.DISABLED).count()
    posts = PostTarget.objects.filter(brand=brand, state=PostTarget.State.PUBLISHED, published_at__gte=since,
                                      published_at__lt=now).aggregate(n=Count("id"))["n"]
    received = Interaction.objects.filter(brand=brand, direction=Interaction.Direction.INBOUND, created_at__gte=since,
                                          created_at__lt=now).count()
    return estimate(profiles, posts / SAMPLE_WEEKS, received / SAMPLE_WEEKS)
