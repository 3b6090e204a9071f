"""analytics.inbox_metrics.summary on a hand-computed inbox."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import numpy as np
import pytest
from django.utils import timezone

from tertulia.analytics import inbox_metrics
from tertulia.core.services import Ctx
from tertulia.inbox import daily
from tertulia.inbox.models import Author, Conversation, InboxDay, Interaction
from tertulia.networks.services import do_add_account

T0 = datetime(2025, 3, 3, 9, 0, tzinfo=UTC)  # a Monday
H = timedelta(hours=1)


def _conversation(account, n, first_in, *, replies=(), more_in=(), first_response_at=None, closed_at=None,
                  due=None):
    author = Author.objects.create(brand=account.brand, network=account.network, external_id=f"a{n}", handle=f"@a{n}")
    conv = Conversation.objects.create(
        brand=account.brand, account=account, kind=Conversation.Kind.COMMENT, author=author,
        root_external_id=f"root{n}", last_message_at=first_in, first_response_at=first_response_at,
        closed_at=closed_at, first_response_due_at=due,
        status=Conversation.Status.CLOSED if closed_at else Conversation.Status.OPEN)
    for i, at in enumerate((first_in, *more_in)):
        Interaction.objects.create(brand=account.brand, conversation=conv, account=account, external_id=f"{n}-in{i}",
                                   author=author, text="hola", created_at=at, direction="in")
    for i, at in enumerate(replies):
        Interaction.objects.create(brand=account.brand, conversation=conv, account=account, external_id=f"{n}-out{i}",
                                   author=author, text="¡gracias!", created_at=at, direction="out")
    return conv


@pytest.fixture(params=["live", "cached"])
def inbox(request, brand_a, brand_b):
    """The hand-computed inbox, read live from the tables or from inbox.daily's per-day cache:
    both give the same figures (whole UTC days from the cache, the partial edges live)."""
    brand, people = brand_a
    acc = do_add_account(Ctx(people["owner"]), brand, network="mastodon", handle="@alpha@masto.es")
    other_brand, other_people = brand_b
    other = do_add_account(Ctx(other_people["owner"]), other_brand, network="mastodon", handle="@beta@masto.es")
    # 1: answered after 1 h, closed after 5 h, due in 2 h: on time.
    _conversation(acc, 1, T0, replies=[T0 + H], first_response_at=T0 + H, closed_at=T0 + 5 * H, due=T0 + 2 * H)
    # 2: answered after 3 h, late (due at 2 h); still open. A second inbound later changes nothing.
    _conversation(acc, 2, T0 + 24 * H, more_in=[T0 + 30 * H], replies=[T0 + 27 * H],
                  first_response_at=T0 + 27 * H, due=T0 + 26 * H)
    # 3: never answered, due long ago: breach.
    _conversation(acc, 3, T0 + 25 * H, due=T0 + 27 * H)
    # 4: answered after 5 h, closed after 9 h, no SLA.
    _conversation(acc, 4, T0 + 48 * H, first_response_at=T0 + 53 * H, closed_at=T0 + 57 * H)
    # 5: started before the range; its new message in range does not make it "received" now.
    _conversation(acc, 5, T0 - 48 * H, more_in=[T0 + 2 * H], first_response_at=T0 + 3 * H)
    # 6: first message after the range.
    _conversation(acc, 6, T0 + 7 * 24 * H)
    # Another brand's conversation in range.
    _conversation(other, 7, T0 + H, first_response_at=T0 + 2 * H)
    if request.param == "cached":
        assert daily.rebuild_all() > 0
        assert InboxDay.objects.filter(brand=brand).exists()
    return brand, other_brand


def test_summary_counts_rates_medians_and_breaches(inbox):
    brand, _ = inbox
    f = inbox_metrics.summary([brand.pk], T0, T0 + 7 * 24 * H)
    assert (f.received, f.answered) == (4, 3)
    assert f.response_rate == pytest.approx(75.0)
    assert f.median_first_response_hours == pytest.approx(3.0)  # 1, 3, 5
    assert f.median_resolution_hours == pytest.approx(7.0)  # (5 + 9) / 2
    assert f.sla_breaches == 2
    # 09:00 Monday to 09:00 next Monday touches 8 UTC days.
    assert f.by_day[:3] == [(date(2025, 3, 3), 1, 1), (date(2025, 3, 4), 2, 1), (date(2025, 3, 5), 1, 1)]
    assert len(f.by_day) == 8 and all(r[1:] == (0, 0) for r in f.by_day[3:])


def test_summary_across_brands_and_empty_ranges(inbox):
    brand, other = inbox
    both = inbox_metrics.summary([brand.pk, other.pk], T0, T0 + 7 * 24 * H)
    assert (both.received, both.answered) == (5, 4)
    empty = inbox_metrics.summary([brand.pk], T0 - 365 * 24 * H, T0 - 300 * 24 * H)
    assert (empty.received, empty.response_rate, empty.median_first_response_hours) == (0, None, None)
    assert empty.median_resolution_hours is None and empty.sla_breaches == 0
    assert inbox_metrics.summary([], T0, T0 + H).received == 0
    # A range cut in the middle: only conversation 1 starts in the first hour.
    assert inbox_metrics.summary([brand.pk], T0, T0 + H).received == 1


def test_unanswered_before_due_is_not_yet_a_breach(brand_a):
    brand, people = brand_a
    acc = do_add_account(Ctx(people["owner"]), brand, network="mastodon", handle="@alpha@masto.es")
    now = timezone.now()
    _conversation(acc, 1, now - H, due=now + H)
    f = inbox_metrics.summary([brand.pk], now - 2 * H, now + H)
    assert (f.received, f.answered, f.sla_breaches, f.median_first_response_hours) == (1, 0, 0, None)
    assert f.response_rate == 0.0


def test_days_in_the_brands_time_zone(inbox):
    from zoneinfo import ZoneInfo

    brand, _ = inbox
    madrid = ZoneInfo("Europe/Madrid")
    # Madrid days 3 to 5 March (UTC+1): conversation 1 (09:00 UTC on the 3rd) to 4 (the 5th).
    start, end = datetime(2025, 3, 2, 23, tzinfo=UTC), datetime(2025, 3, 5, 23, tzinfo=UTC)
    f = inbox_metrics.summary([brand.pk], start, end, madrid)
    assert f.by_day == [(date(2025, 3, 3), 1, 1), (date(2025, 3, 4), 2, 1), (date(2025, 3, 5), 1, 1)]
    # Quarter-hour counts become local days in any zone: across the spring change (30 March in
    # Madrid, 01:00 UTC), and in a half-hour zone (Kolkata, UTC+5:30).
    def quarters(*entries):
        out = {}
        for (y, m, d, hh, mm), r, a in entries:
            day, i = divmod(int(datetime(y, m, d, hh, mm, tzinfo=UTC).timestamp()) // 900, 96)
            out.setdefault(day, np.zeros((96, 2), dtype=np.int64))[i] += (r, a)
        return out

    spring = quarters(((2025, 3, 29, 22, 30), 1, 0), ((2025, 3, 30, 0, 45), 2, 1), ((2025, 3, 30, 1, 0), 4, 4),
                      ((2025, 3, 30, 21, 45), 8, 0), ((2025, 3, 30, 22, 0), 16, 16))
    assert inbox_metrics._local_days(spring, madrid) == {
        date(2025, 3, 29): [1, 0], date(2025, 3, 30): [14, 5], date(2025, 3, 31): [16, 16]}
    kolkata = quarters(((2025, 3, 1, 18, 15), 1, 1), ((2025, 3, 1, 18, 30), 2, 0), ((2025, 3, 2, 18, 15), 4, 0))
    assert inbox_metrics._local_days(kolkata, ZoneInfo("Asia/Kolkata")) == {
        date(2025, 3, 1): [1, 1], date(2025, 3, 2): [6, 0]}
    assert inbox_metrics._local_days(kolkata, UTC) == {date(2025, 3, 1): [3, 1], date(2025, 3, 2): [4, 0]}
    west = quarters(((2025, 3, 2, 4, 45), 1, 0), ((2025, 3, 2, 5, 0), 2, 2))  # Bogotá, UTC−5
    assert inbox_metrics._local_days(west, ZoneInfo("America/Bogota")) == {date(2025, 3, 1): [1, 0],
                                                                           date(2025, 3, 2): [2, 2]}
    far_east = quarters(((2025, 3, 1, 9, 45), 1, 0), ((2025, 3, 1, 10, 0), 2, 1))  # Kiritimati, UTC+14
    assert inbox_metrics._local_days(far_east, ZoneInfo("Pacific/Kiritimati")) == {date(2025, 3, 1): [1, 0],
                                                                                  date(2025, 3, 2): [2, 1]}
