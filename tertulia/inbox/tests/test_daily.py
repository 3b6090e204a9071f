"""inbox.daily: the per-day cache the dashboard reads never disagrees with the tables.

Every kind of change a conversation or a message goes through (ingestion, a late earlier
message, replies, a rule's bulk close, a reopen, a relabel, deletions) is made through the real
code or a bulk UPDATE, with rebuilds in between; after each step the figures read through the
cache equal the figures computed live from the tables. A change the triggers did not mark
would leave a stale cached day, and the comparison would fail.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.utils import timezone

from tertulia.analytics import inbox_metrics
from tertulia.core.services import Ctx
from tertulia.inbox import daily, services
from tertulia.inbox.models import Conversation, InboxDay, Interaction
from tertulia.inbox.services import IncomingAuthor, IncomingInteraction
from tertulia.networks.services import do_add_account

T0 = datetime(2025, 3, 1, 10, 0, tzinfo=UTC)
H = timedelta(hours=1)
START, END = T0 - 3 * 24 * H + 7 * H, T0 + 6 * 24 * H - 5 * H  # partial days at both ends


def person(who):
    return IncomingAuthor(external_id=f"u-{who}", handle=f"@{who}")


def msg(ext, at, who, author=None, **kw):
    return IncomingInteraction(external_id=ext, kind="dm", author=author or person(who), text=f"hola {ext}",
                               created_at=at, root_external_id=f"thread-{who}", **kw)


def reply(account, ext, at, who):
    me = IncomingAuthor(external_id=account.external_id, handle=account.handle)
    return msg(ext, at, who, author=me, direction="out", counterpart=person(who))


def figures(parts):
    quarters = {day: counts.tolist() for day, counts in parts.quarters.items() if counts.any()}
    return (quarters, parts.late, parts.overdue, parts.closed, sorted(parts.delays("first_response")),
            sorted(parts.delays("resolution")), {k: n for k, n in parts.sentiment.items() if n})


def live(brand_ids):
    """The same figures with no cache at all: one live computation over the whole range."""
    return figures(daily.compute(brand_ids, START, END, timezone.now())[0])


def cached(brand_ids):
    return figures(daily.load(brand_ids, START, END))


def dirty_count() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT COUNT(*) FROM inbox_day_dirty")
        return cursor.fetchone()[0]


def test_the_cache_follows_every_change(brand_a, brand_b):
    brand, people = brand_a
    other, other_people = brand_b
    acc = do_add_account(Ctx(people["owner"]), brand, network="x", handle="alpha", external_id="acc-1")
    acc_b = do_add_account(Ctx(other_people["owner"]), other, network="x", handle="beta", external_id="acc-2")
    ids = [brand.pk, other.pk]

    def step(label):
        daily.rebuild_all()
        assert dirty_count() == 0, label
        assert cached(ids) == live(ids), label
        assert cached([brand.pk]) == live([brand.pk]), label

    messages = [msg(f"m{i}", T0 + (i * 7 - 40) * H, f"p{i % 9}") for i in range(30)]
    services.ingest_interactions(acc, messages)
    services.ingest_interactions(acc_b, [msg("b1", T0 + 2 * H, "q1"), msg("b2", T0 + 30 * H, "q2")])
    assert dirty_count() > 0  # ingestion marked its days
    step("ingested")
    assert InboxDay.objects.filter(brand=brand).count() >= 5

    services.ingest_interactions(acc, [reply(acc, "r1", T0 + 3 * H, "p1"), reply(acc, "r2", T0 + 50 * H, "p4")])
    step("replies answer conversations opened on earlier days")

    services.ingest_interactions(acc, [msg("early", T0 - 70 * H, "p2")])
    step("a late-arriving earlier message moves a conversation to another day")

    convs = Conversation.objects.filter(brand=brand)
    convs.filter(author__external_id__in=["u-p3", "u-p5"]).update(status=Conversation.Status.CLOSED,
                                                                    closed_at=T0 + 60 * H)
    step("a bulk close (rules, bulk actions)")

    convs.filter(author__external_id="u-p3").update(status=Conversation.Status.OPEN, closed_at=None)
    convs.filter(author__external_id="u-p6").update(first_response_due_at=T0 - 100 * H)
    convs.filter(author__external_id="u-p7").update(first_response_due_at=timezone.now() + 5 * H)
    step("a reopen and SLA due times, one still ahead")

    Interaction.objects.filter(brand=brand, external_id__in=["m1", "m2", "m3"]).update(sentiment="negative")
    Interaction.objects.filter(brand=brand, external_id="m4").update(sentiment="positive")
    step("relabelled sentiment")

    Interaction.objects.filter(brand=brand, external_id="m5").delete()
    convs.filter(author__external_id="u-p8").delete()
    step("deleted messages and conversations")

    # Without a rebuild, the dirty days are computed live: still exact.
    services.ingest_interactions(acc, [msg("late1", T0 + 5 * H, "p10"), reply(acc, "r3", T0 + 6 * H, "p10")])
    assert dirty_count() > 0
    assert cached(ids) == live(ids)


def test_a_cached_day_with_a_due_time_ahead_counts_its_breach_once_it_passes(brand_a, monkeypatch):
    brand, people = brand_a
    acc = do_add_account(Ctx(people["owner"]), brand, network="x", handle="alpha", external_id="acc-1")
    services.ingest_interactions(acc, [msg("m1", T0, "ana")])
    Conversation.objects.filter(brand=brand).update(first_response_due_at=timezone.now() + 2 * H)
    daily.rebuild_all()
    assert InboxDay.objects.get(brand=brand).data["open_due"] == 1
    # Unanswered, due in two hours: not a breach yet (the cached day is read live, since the
    # count it stored depends on the clock).
    f = inbox_metrics.summary([brand.pk], START, END)
    assert (f.received, f.answered, f.sla_breaches) == (1, 0, 0)
    # Three hours later, with no change to any row and no mark: a breach.
    later = timezone.now() + 3 * H
    monkeypatch.setattr(daily.timezone, "now", lambda: later)
    assert dirty_count() == 0
    assert inbox_metrics.summary([brand.pk], START, END).sla_breaches == 1


def test_a_deleted_brands_marks_are_dropped(brand_a):
    brand, people = brand_a
    acc = do_add_account(Ctx(people["owner"]), brand, network="x", handle="alpha", external_id="acc-1")
    services.ingest_interactions(acc, [msg("m1", T0, "ana")])
    daily.rebuild_all()
    Conversation.objects.filter(brand=brand).delete()
    InboxDay.objects.filter(brand=brand).delete()
    with connection.cursor() as cursor:
        cursor.execute("INSERT INTO inbox_day_dirty (brand_id, day) VALUES (%s, %s)", [987654, T0.date()])
    assert daily.rebuild_all() >= 1
    assert dirty_count() == 0
    assert not InboxDay.objects.filter(brand_id=987654).exists()


@pytest.mark.parametrize("start,end", [(START, START), (END, START)])
def test_empty_ranges(brand_a, start, end):
    brand, _ = brand_a
    parts = daily.load([brand.pk], start, end)
    assert parts.quarters == {} and parts.sentiment == {}


def test_one_rebuild_at_a_time_and_a_dead_rebuilders_lease_runs_out(brand_a):
    from tertulia.inbox.models import InboxDayRebuild

    brand, people = brand_a
    acc = do_add_account(Ctx(people["owner"]), brand, network="x", handle="alpha", external_id="acc-1")
    services.ingest_interactions(acc, [msg("m1", T0, "ana")])
    # Another rebuilder holds the lease: this one builds nothing and leaves the marks.
    InboxDayRebuild.objects.update_or_create(pk=1, defaults={"until": timezone.now() + timedelta(minutes=5)})
    assert daily.rebuild() == 0 and dirty_count() > 0
    # It died: its lease runs out, and the next rebuild goes ahead.
    InboxDayRebuild.objects.filter(pk=1).update(until=timezone.now() - timedelta(seconds=1))
    assert daily.rebuild_all() > 0 and dirty_count() == 0
    assert InboxDayRebuild.objects.get(pk=1).until <= timezone.now()  # released


def test_triggers_lost_by_a_table_rebuild_are_recreated_after_migrate(transactional_db):
    from tertulia.inbox import triggers

    assert triggers.missing(connection) == []
    if connection.vendor == "sqlite":
        # What Django's SQLite schema editor does to a table it rebuilds for an ALTER.
        with connection.cursor() as cursor:
            cursor.execute("DROP TRIGGER inbox_day_conve_upd")
        assert triggers.missing(connection) == ["inbox_day_conve_upd"]
        from django.core.management import call_command

        call_command("migrate", verbosity=0)  # post_migrate puts it back
    assert triggers.missing(connection) == []
