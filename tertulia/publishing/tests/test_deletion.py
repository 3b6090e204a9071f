"""Deleting a published post from Tertulia deletes it on the network (issue 4)."""

from __future__ import annotations

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import translation

from tertulia.content.models import Post
from tertulia.core.models import AuditEvent
from tertulia.core.services import Ctx
from tertulia.networks.models import SocialAccount
from tertulia.publishing import engine, services
from tertulia.publishing.deletion import do_delete_published
from tertulia.publishing.models import PostTarget
from tests.fakes.mastodon import Fault

from .conftest import drain, now, timedelta

S = PostTarget.State
pytestmark = pytest.mark.django_db(transaction=True)


def _published(ctx, make_target, comment: str = "", **kw):
    target = make_target(**kw)
    if comment:
        Post.objects.filter(pk=target.post_id).update(first_comment=comment)
        target.post.refresh_from_db()
    services.do_schedule(ctx, target, due_at=now() - timedelta(seconds=1))
    return drain(target, until=lambda t: t.state == S.PUBLISHED and engine.comment_status(t) in ("none", "posted"))


def test_delete_removes_the_post_and_its_first_comment_from_the_network(ctx, make_target, fake_mastodon):
    target = _published(ctx, make_target, comment="Más detalles")
    assert len(fake_mastodon.own_statuses()) == 2
    target = do_delete_published(ctx, target)
    assert target.state == S.DELETED and target.deleted_at is not None
    assert fake_mastodon.own_statuses() == []
    deletes = [r.path for r in fake_mastodon.requests_to("DELETE", "/api/v1/statuses/:id")]
    assert deletes == [f"/api/v1/statuses/{target.comment_external_id}", f"/api/v1/statuses/{target.external_id}"]
    event = AuditEvent.objects.get(action="post.delete_on_network", object_id=str(target.pk))
    assert event.changes["already_gone"] is False and event.changes["external_id"] == target.external_id
    target.refresh_from_db()
    assert target.state == S.DELETED
    # A second click (another person, an old page): nothing more is asked of the network.
    assert do_delete_published(ctx, target).state == S.DELETED
    assert len(fake_mastodon.requests_to("DELETE", "/api/v1/statuses/:id")) == 2


def test_a_post_already_gone_on_the_network_is_marked_deleted(ctx, make_target, fake_mastodon):
    target = _published(ctx, make_target)
    with engine.connector_for(target.account) as connector:
        assert connector.delete(target.external_id) is True  # deleted by hand on the network
    target = do_delete_published(ctx, target)
    assert target.state == S.DELETED
    assert AuditEvent.objects.get(action="post.delete_on_network").changes["already_gone"] is True


def test_an_expired_sign_in_asks_to_reconnect_and_changes_nothing(ctx, make_target, fake_mastodon):
    target = _published(ctx, make_target)
    fake_mastodon.expire_token()
    with pytest.raises(ValidationError) as info:
        do_delete_published(ctx, target)
    with translation.override("en"):
        assert info.value.code == "reconnect" and "Reconnect" in info.value.messages[0]
    target.refresh_from_db()
    assert target.state == S.PUBLISHED and len(fake_mastodon.own_statuses()) == 1
    assert SocialAccount.objects.get(pk=target.account_id).status == SocialAccount.Status.NEEDS_RECONNECT
    # Disconnected now: refused up front, without calling the network.
    with pytest.raises(ValidationError) as again:
        do_delete_published(ctx, target)
    assert again.value.code == "reconnect"


def test_a_temporary_failure_keeps_the_post_published(ctx, make_target, fake_mastodon):
    target = _published(ctx, make_target)
    fake_mastodon.inject("DELETE /api/v1/statuses/:id", Fault.server_error(503))
    with pytest.raises(ValidationError) as info:
        do_delete_published(ctx, target)
    with translation.override("en"):
        assert info.value.code == "retry" and "try again" in info.value.messages[0]
    target.refresh_from_db()
    assert target.state == S.PUBLISHED and target.deleted_at is None
    assert not AuditEvent.objects.filter(action="post.delete_on_network").exists()
    assert do_delete_published(ctx, target).state == S.DELETED  # the second time it works
    assert fake_mastodon.own_statuses() == []


def test_only_published_posts_and_only_people_who_compose(ctx, tenant, make_user, make_target, fake_mastodon):
    target = make_target()
    with pytest.raises(ValidationError) as info:
        do_delete_published(ctx, target)
    assert info.value.code == "state"
    target = _published(ctx, make_target)
    from tertulia.core import services as core_services

    for role in ("analyst", "client_reviewer"):
        user = make_user(f"del_{role}")
        core_services.do_add_member(ctx, target.brand, user, role)
        with pytest.raises(PermissionDenied):
            do_delete_published(Ctx(user, via="test"), target)
    other_brand, people = tenant("Other")
    with pytest.raises(PermissionDenied):
        do_delete_published(Ctx(people["owner"], via="test"), target)
    target.refresh_from_db()
    assert target.state == S.PUBLISHED and len(fake_mastodon.own_statuses()) == 1


def test_bluesky_delete(ctx, make_target, bluesky_account, fake_bluesky):
    target = _published(ctx, make_target, comment="Segunda parte", accounts=[bluesky_account])
    assert len(fake_bluesky.posts_of()) == 2
    target = do_delete_published(ctx, target)
    assert target.state == S.DELETED and fake_bluesky.posts_of() == []
    assert len(fake_bluesky.requests_to("com.atproto.repo.deleteRecord")) == 2
