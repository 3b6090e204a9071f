"""inbox.listing: scoping, every filter, the sorts and keyset paging."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.core.exceptions import ValidationError

from tertulia.core.services import Ctx
from tertulia.inbox import listing
from tertulia.inbox.models import Conversation, Label
from tertulia.inbox.services import IncomingAuthor, IncomingInteraction, ingest_interactions
from tertulia.networks.services import do_add_account

pytestmark = pytest.mark.django_db
T0 = datetime(2026, 3, 1, 10, 0, tzinfo=UTC)


def fill(account, n, prefix, **fields):
    items = [IncomingInteraction(external_id=f"{prefix}{i}", kind="comment",
                                 author=IncomingAuthor(f"{prefix}-u{i}", f"@{prefix}{i}"),
                                 text=f"{prefix} message {i} " + "x" * 300, created_at=T0 + timedelta(minutes=i),
                                 root_external_id="p1") for i in range(n)]
    ingest_interactions(account, items)
    convs = Conversation.objects.filter(account=account, author__handle__startswith=f"@{prefix}")
    if fields:
        convs.update(**fields)
    return list(convs.order_by("last_message_at"))


@pytest.fixture
def world(brand_a, brand_b):
    (a, pa), (b, pb) = brand_a, brand_b
    xa = do_add_account(Ctx(pa["owner"]), a, network="x", handle="alpha", external_id="x-a")
    ma = do_add_account(Ctx(pa["owner"]), a, network="mastodon", handle="@alpha", base_url="https://m.example")
    xb = do_add_account(Ctx(pb["owner"]), b, network="x", handle="beta", external_id="x-b")
    return a, pa, b, pb, xa, ma, xb


def ids(page):
    return [c.pk for c in page.items]


def test_a_user_sees_only_their_brands_and_the_newest_message_excerpt(world):
    a, pa, b, pb, xa, ma, xb = world
    mine = fill(xa, 3, "a")
    fill(xb, 3, "b")
    page = listing.conversations(pa["community_manager"], None, listing.Filters())
    assert ids(page) == [c.pk for c in reversed(mine)]
    assert page.items[0].last_text.startswith("a message 2") and len(page.items[0].last_text) == listing.EXCERPT
    # Another brand's account id narrows to nothing instead of showing its rows.
    assert ids(listing.conversations(pa["owner"], None, listing.Filters(account=xb.pk))) == []
    assert ids(listing.conversations(pb["community_manager"], b, listing.Filters())) != []


def test_filters_narrow_by_each_field(world):
    a, pa, b, pb, xa, ma, xb = world
    cm = pa["community_manager"]
    neg = fill(xa, 2, "neg", sentiment="negative", intent="complaint", priority=90, flagged=True, language="es")
    pos = fill(ma, 2, "pos", sentiment="positive", intent="praise", priority=10, language="en", assignee=cm)
    label = Label.objects.create(brand=a, name="vip")
    pos[0].labels.add(label)

    def q(**params):
        return set(ids(listing.conversations(cm, a, listing.parse_filters(params))))

    n, p = {c.pk for c in neg}, {c.pk for c in pos}
    assert q(sentiment="negative") == n and q(intent="praise") == p
    assert q(priority="high") == n and q(priority="normal") == p
    assert q(flagged="1") == n and q(flagged="0") == p
    assert q(network="mastodon") == p and q(account=str(xa.pk)) == n
    assert q(assignee="me") == p and q(assignee="none") == n and q(assignee=str(cm.pk)) == p
    assert q(label="vip") == {pos[0].pk} and q(language="es") == n and q(language="other") == set()
    assert q(status="closed") == set() and q(status="all") == n | p
    assert q(sort="priority") == n | p


@pytest.mark.parametrize("params", [
    {"status": "nope"}, {"sentiment": "<script>"}, {"account": "1; DROP"}, {"assignee": "someone"},
    {"flagged": "yes"}, {"sort": "random"}, {"label": "x" * 61}, {"account": "9" * 40},
])
def test_bad_filters_say_what_is_wrong(params):
    with pytest.raises(ValidationError):
        listing.parse_filters(params)


@pytest.mark.parametrize("sort", list(listing.SORTS))
def test_keyset_pages_cover_everything_once_in_order(world, sort):
    a, pa, b, pb, xa, ma, xb = world
    convs = fill(xa, 23, "k")
    for i, c in enumerate(convs):  # ties on priority and due times, broken by id
        Conversation.objects.filter(pk=c.pk).update(priority=i % 3, first_response_due_at=T0 + timedelta(hours=i % 4))
    f = listing.Filters(sort=sort)
    seen, after = [], ""
    while True:
        page = listing.conversations(pa["owner"], a, f, after=after, limit=5)
        seen += page.items
        if not page.next_cursor:
            break
        after = page.next_cursor
    assert len(seen) == 23 and len({c.pk for c in seen}) == 23
    expected = sorted(seen, key=lambda c: [(-v.timestamp() if desc else v.timestamp()) if isinstance(v, datetime)
                                           else (-v if desc else v)
                                           for (name, desc) in listing.SORTS[sort] for v in [getattr(c, name)]])
    assert [c.pk for c in seen] == [c.pk for c in expected]


def test_a_tampered_cursor_is_refused(world):
    a, pa, *_ = world
    with pytest.raises(ValidationError):
        listing.conversations(pa["owner"], a, listing.Filters(), after="abc:def")


def test_the_unified_inbox_merges_every_brand_of_the_user_in_one_order(world):
    from tertulia.core.models import Membership

    a, pa, b, pb, xa, ma, xb = world
    cm = pa["community_manager"]
    Membership.objects.create(brand=b, user=cm, role="community_manager")
    mine = fill(xa, 7, "ma") + fill(xb, 6, "mb")
    # Interleave the two brands in time.
    for i, c in enumerate(mine):
        Conversation.objects.filter(pk=c.pk).update(last_message_at=T0 + timedelta(minutes=(i * 7) % 13))
    expected = list(Conversation.objects.filter(pk__in=[c.pk for c in mine]).order_by("-last_message_at", "-id"))
    seen, after = [], ""
    while True:
        page = listing.conversations(cm, None, listing.Filters(), after=after, limit=4)
        seen += ids(page)
        if not page.next_cursor:
            break
        after = page.next_cursor
    assert seen == [c.pk for c in expected]


@pytest.mark.parametrize("params", [{"account": "²"}, {"assignee": "①"}, {"label": "a\x00b"}])
def test_unicode_digits_and_nul_characters_are_refused_not_crashed_on(params):
    with pytest.raises(ValidationError):
        listing.parse_filters(params)
