"""The state graph: every allowed transition is one conditional UPDATE that bumps the version,
every other one is refused, and a write based on an old read changes nothing."""

from __future__ import annotations

import itertools

import pytest

from tertulia.publishing import states
from tertulia.publishing.models import PostTarget

S = PostTarget.State
ALL = list(S.values)


@pytest.fixture
def target(make_target):
    return make_target()


def _put(target, state):
    """Put the row in ``state`` (set-up only) and return a fresh read of it."""
    PostTarget.objects.filter(pk=target.pk).update(state=state)
    return PostTarget.objects.get(pk=target.pk)


def test_the_graph_is_the_one_in_the_design():
    # DESIGN.md §3: draft -> pending_approval -> approved/scheduled -> publishing -> published |
    # failed | needs_attention | canceled.
    for a, b in [(S.DRAFT, S.PENDING_APPROVAL), (S.PENDING_APPROVAL, S.APPROVED), (S.PENDING_APPROVAL, S.SCHEDULED),
                 (S.APPROVED, S.SCHEDULED), (S.SCHEDULED, S.PUBLISHING), (S.PUBLISHING, S.PUBLISHED),
                 (S.PUBLISHING, S.FAILED), (S.PUBLISHING, S.NEEDS_ATTENTION), (S.SCHEDULED, S.CANCELED)]:
        assert states.allowed(a, b), (a, b)
    assert set(states.ALLOWED) == set(ALL)
    assert states.ALLOWED[S.PUBLISHED] == frozenset({S.DELETED})  # only deletion.do_delete_published
    assert states.ALLOWED[S.DELETED] == frozenset()
    # Never straight to the network without a claim, and never cancel a call in flight.
    for source in set(ALL) - {S.SCHEDULED, S.PUBLISHING}:
        assert not states.allowed(source, S.PUBLISHING)
    assert not states.allowed(S.PUBLISHING, S.CANCELED)
    for source in set(ALL) - {S.PUBLISHING}:
        assert not states.allowed(source, S.PUBLISHED)


@pytest.mark.django_db
@pytest.mark.parametrize("source,dest", list(itertools.product(ALL, ALL)))
def test_every_transition(target, source, dest):
    row = _put(target, source)
    version = row.version
    if states.allowed(source, dest):
        assert states.move(row, dest)
        fresh = PostTarget.objects.get(pk=target.pk)
        assert (fresh.state, fresh.version) == (dest, version + 1)
        assert (row.state, row.version) == (dest, version + 1)
    else:
        with pytest.raises(states.TransitionRefused):
            states.move(row, dest)
        fresh = PostTarget.objects.get(pk=target.pk)
        assert (fresh.state, fresh.version) == (source, version)


@pytest.mark.django_db
def test_a_write_based_on_an_old_read_does_nothing(target):
    first = PostTarget.objects.get(pk=target.pk)
    second = PostTarget.objects.get(pk=target.pk)
    assert first.state == S.APPROVED
    assert states.move(first, S.CANCELED)
    # The second reader still believes it is approved at the old version: its write is lost.
    assert not states.move(second, S.SCHEDULED)
    assert PostTarget.objects.get(pk=target.pk).state == S.CANCELED


@pytest.mark.django_db
def test_finishing_the_last_target_publishes_the_post(target):
    states.move(target, S.SCHEDULED)
    states.move(target, S.PUBLISHING)
    assert states.move(target, S.PUBLISHED, external_id="1")
    target.post.refresh_from_db()
    assert target.post.state == "published"
