"""Failure tells the people concerned: an in-app notification and an e-mail in each reader's
language, saying what happened and how to fix it, linking to the post (issue 4)."""

from __future__ import annotations

import pytest

from tertulia.core.models import Notification
from tertulia.networks.models import SocialAccount
from tertulia.publishing import services
from tertulia.publishing.models import PostTarget
from tests.fakes.mastodon import Fault

from .conftest import drain, now, timedelta

S = PostTarget.State
pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def team(brand, make_user):
    """A Spanish-speaking manager and an English-speaking analyst (who is not told)."""
    from tertulia.core import services as core_services
    from tertulia.core.models import Membership
    from tertulia.core.services import Ctx

    owner = Membership.objects.get(brand=brand, role="owner").user
    manager = make_user("gestora", language="es")
    analyst = make_user("analista", language="en")
    core_services.do_add_member(Ctx(owner, via="test"), brand, manager, "manager")
    core_services.do_add_member(Ctx(owner, via="test"), brand, analyst, "analyst")
    return {"owner": owner, "manager": manager, "analyst": analyst}


def _schedule(ctx, target):
    services.do_schedule(ctx, target, due_at=now() - timedelta(seconds=1))
    return drain(target)


def test_a_refused_post_tells_author_owners_and_managers_once(ctx, team, make_target, fake_mastodon, mailoutbox):
    fake_mastodon.inject("POST /api/v1/statuses", Fault.respond(422, {"error": "Validation failed: Text contains spam"}))
    target = _schedule(ctx, make_target())
    assert target.state == S.FAILED
    notes = list(Notification.objects.filter(kind="publishing.failed"))
    assert {n.recipient_id for n in notes} == {team["owner"].pk, team["manager"].pk}  # the author is the owner
    assert all(n.link == f"/brands/{target.brand_id}/posts/{target.post_id}/" and n.brand_id == target.brand_id
               for n in notes)
    by_address = {m.to[0]: m for m in mailoutbox}
    english = by_address[team["owner"].email].body
    spanish = by_address[team["manager"].email].body
    assert "could not be published" in english and "Text contains spam" in english
    assert "retry it with one click" in english and f"/brands/{target.brand_id}/posts/{target.post_id}/" in english
    assert "no se ha podido publicar" in spanish and "reintentarla con un clic" in spanish
    assert "Text contains spam" in spanish  # the network's own words, as it said them
    assert team["analyst"].email not in by_address


def test_retries_are_not_failures_and_giving_up_is_one_event(ctx, team, make_target, fake_mastodon, mailoutbox):
    fake_mastodon.inject("POST /api/v1/statuses", Fault.server_error(503), times=2)
    target = _schedule(ctx, make_target())
    assert target.state == S.PUBLISHED and target.attempts == 3
    assert not Notification.objects.exists() and mailoutbox == []
    fake_mastodon.inject("POST /api/v1/statuses", Fault.server_error(503), times=None)
    target = _schedule(ctx, make_target())
    assert target.state == S.FAILED and target.attempts == 4
    assert Notification.objects.filter(kind="publishing.failed").count() == 2  # owner and manager, once each
    assert len(mailoutbox) == 2
    assert "We tried 4 times" in next(m.body for m in mailoutbox if m.to[0] == team["owner"].email)


def test_an_expired_sign_in_tells_the_team_once_per_account(ctx, team, make_target, fake_mastodon, mailoutbox):
    fake_mastodon.expire_token()
    first = _schedule(ctx, make_target())
    assert first.state == S.NEEDS_ATTENTION
    account = SocialAccount.objects.get(pk=first.account_id)
    assert account.status == SocialAccount.Status.NEEDS_RECONNECT
    (owner_note, manager_note) = Notification.objects.filter(kind="account.needs_reconnect").order_by("recipient_id")
    assert owner_note.link == f"/brands/{first.brand_id}/posts/{first.post_id}/"
    assert not Notification.objects.filter(kind__startswith="publishing.").exists()
    spanish = next(m.body for m in mailoutbox if m.to[0] == team["manager"].email)
    assert "tiene que volver a conectarse" in spanish and "@john" in spanish
    # The tokens are kept for the record; reconnecting replaces them.
    assert account.access_token == fake_mastodon.token
    # A second post on the parked account: its author hears about that post, no repeat of the account notice.
    second = _schedule(ctx, make_target())
    assert second.state == S.NEEDS_ATTENTION and "not connected" in second.last_error
    assert Notification.objects.filter(kind="account.needs_reconnect").count() == 2
    assert Notification.objects.filter(kind="publishing.needs_attention").count() == 2
