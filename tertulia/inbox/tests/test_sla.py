"""Service targets: timers stop when the brand answers or closes, breach alerts go out once to
the right people, and the metrics analytics reads."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from tertulia.core.models import Notification
from tertulia.inbox import services, sla
from tertulia.inbox.models import Conversation, InboxSettings
from tertulia.inbox.services import IncomingAuthor

from .backend_helpers import ANA, BO, brand, cm_ctx, ingest, msg, owner_ctx, people, x_account  # noqa: F401


def me(account):
    return IncomingAuthor(external_id=account.external_id, handle=account.handle)


def test_a_late_first_response_notifies_the_team_once(x_account, brand, people):  # noqa: F811
    at = timezone.now() - timedelta(minutes=90)
    ingest(x_account, msg("c1", at=at, text="<b>hola</b>"))
    result = sla.check()
    assert result == {"breaches": 1, "notifications": 3}
    recipients = set(Notification.objects.filter(kind="inbox.sla_breach").values_list("recipient__username",
                                                                                       flat=True))
    assert recipients == {people["owner"].username, people["manager"].username,
                          people["community_manager"].username}
    note = Notification.objects.filter(kind="inbox.sla_breach").first()
    conv = Conversation.objects.get()
    assert note.link == f"/brands/{brand.pk}/inbox/{conv.pk}/"
    assert "@ana" in note.message[0]["params"]["author"]
    assert sla.check() == {"breaches": 0, "notifications": 0}  # once


def test_the_assignee_alone_hears_about_their_conversation(x_account, brand, people, cm_ctx):  # noqa: F811
    ingest(x_account, msg("c1", at=timezone.now() - timedelta(hours=2)))
    conv = Conversation.objects.get()
    services.do_assign(cm_ctx, brand, [conv.pk], people["community_manager"])
    sla.check()
    assert list(Notification.objects.filter(kind="inbox.sla_breach").values_list("recipient", flat=True)) \
        == [people["community_manager"].pk]


def test_an_answer_stops_the_first_response_timer(x_account):  # noqa: F811
    at = timezone.now() - timedelta(minutes=90)
    ingest(x_account, msg("c1", at=at),
           msg("r1", at=at + timedelta(minutes=20), author=me(x_account), direction="out", counterpart=ANA))
    assert sla.check()["breaches"] == 0


def test_resolution_breach_after_a_first_response_breach_is_a_second_alert(x_account, brand):  # noqa: F811
    InboxSettings.objects.create(brand=brand, first_response_minutes=10, resolution_minutes=60)
    at = timezone.now() - timedelta(minutes=30)
    ingest(x_account, msg("c1", at=at))
    assert sla.check(now=timezone.now())["breaches"] == 1  # first response late
    ingest(x_account, msg("r1", at=at + timedelta(minutes=25), author=me(x_account), direction="out",
                          counterpart=ANA))
    assert sla.check(now=timezone.now())["breaches"] == 0
    later = timezone.now() + timedelta(minutes=45)
    assert sla.check(now=later)["breaches"] == 1  # resolution late, still pending
    assert sla.check(now=later)["breaches"] == 0


def test_an_unanswered_conversation_also_gets_its_resolution_alert(x_account, brand):  # noqa: F811
    """Nobody answered: the first-response alert, then the resolution one, then nothing more."""
    InboxSettings.objects.create(brand=brand, first_response_minutes=10, resolution_minutes=60)
    ingest(x_account, msg("c1", at=timezone.now() - timedelta(minutes=30)))
    assert sla.check(now=timezone.now())["breaches"] == 1
    later = timezone.now() + timedelta(minutes=45)
    assert sla.check(now=later)["breaches"] == 1
    assert sla.check(now=later + timedelta(minutes=1))["breaches"] == 0


def test_closing_stops_the_resolution_timer_and_a_new_message_starts_another(x_account, brand, cm_ctx):  # noqa: F811
    at = timezone.now() - timedelta(minutes=30)
    ingest(x_account, msg("c1", at=at),
           msg("r1", at=at + timedelta(minutes=5), author=me(x_account), direction="out", counterpart=ANA))
    conv = Conversation.objects.get()
    services.do_set_status(cm_ctx, brand, [conv.pk], Conversation.Status.CLOSED)
    conv.refresh_from_db()
    assert conv.resolution_due_at is None
    assert sla.check(now=timezone.now() + timedelta(days=3))["breaches"] == 0
    new_at = timezone.now()
    ingest(x_account, msg("c2", at=new_at))
    conv.refresh_from_db()
    assert conv.status == Conversation.Status.OPEN
    assert conv.resolution_due_at == new_at + timedelta(hours=24)


def test_many_breaches_make_one_summary_per_person(x_account, brand, people):  # noqa: F811
    at = timezone.now() - timedelta(days=3)
    ingest(x_account, *[msg(f"c{i}", at=at, author=IncomingAuthor(f"u{i}", f"@u{i}")) for i in range(6)])
    result = sla.check()
    assert result == {"breaches": 6, "notifications": 3}
    note = Notification.objects.filter(recipient=people["owner"], kind="inbox.sla_breach").get()
    assert note.message[0]["params"]["count"] == "6" and "sort=due" in note.link


def test_metrics(x_account, brand, cm_ctx):  # noqa: F811
    InboxSettings.objects.create(brand=brand, first_response_minutes=30)
    base = timezone.now() - timedelta(days=1)
    ingest(x_account,
           # answered in 10 minutes, closed after 2 hours
           msg("a1", at=base),
           msg("a2", at=base + timedelta(minutes=10), author=me(x_account), direction="out", counterpart=ANA),
           # answered in 50 minutes: a breach
           msg("b1", at=base, author=BO),
           msg("b2", at=base + timedelta(minutes=50), author=me(x_account), direction="out", counterpart=BO),
           # never answered: a breach
           msg("c1", at=base, author=IncomingAuthor("u-cy", "@cy")),
           # outside the period
           msg("d1", at=base - timedelta(days=10), author=IncomingAuthor("u-di", "@di")))
    ana = Conversation.objects.get(author__external_id="u-ana")
    services.do_set_status(cm_ctx, brand, [ana.pk], Conversation.Status.CLOSED)
    Conversation.objects.filter(pk=ana.pk).update(closed_at=base + timedelta(hours=2))
    m = sla.metrics(brand, base - timedelta(hours=1), base + timedelta(hours=1))
    assert (m.conversations, m.answered, m.breaches, m.resolved) == (3, 2, 2, 1)
    assert m.response_rate == pytest.approx(2 / 3)
    assert m.first_response_median == pytest.approx(30 * 60)
    assert m.first_response_p90 == pytest.approx(46 * 60)
    assert m.resolution_median == pytest.approx(2 * 3600)
    empty = sla.metrics(brand, base + timedelta(days=5), base + timedelta(days=6))
    assert (empty.conversations, empty.response_rate, empty.first_response_median) == (0, None, None)


def test_metrics_are_per_brand(x_account, brand, brand_b):  # noqa: F811
    ingest(x_account, msg("c1"))
    m = sla.metrics(brand_b[0], timezone.now() - timedelta(days=1), timezone.now() + timedelta(days=1))
    assert m.conversations == 0


def test_reopening_by_hand_owes_a_resolution_again(x_account, brand, cm_ctx):  # noqa: F811
    ingest(x_account, msg("c1"))
    conv = Conversation.objects.get()
    services.do_set_status(cm_ctx, brand, [conv.pk], Conversation.Status.CLOSED)
    before = timezone.now()
    assert services.do_set_status(cm_ctx, brand, [conv.pk], Conversation.Status.OPEN) == 1
    conv.refresh_from_db()
    assert conv.closed_at is None and conv.resolution_due_at >= before + timedelta(hours=24)
    assert services.do_set_status(cm_ctx, brand, [conv.pk], Conversation.Status.OPEN) == 0
