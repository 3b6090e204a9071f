"""The first comment (threads): posted as a reply right after the main post, at most once, a
resumable step of its own, and never a reason to mark the main post failed (issue 4)."""

from __future__ import annotations

import pytest

from tertulia.content.models import Post
from tertulia.core.models import Notification
from tertulia.publishing import engine, services, tasks
from tertulia.publishing.clock import db_now
from tertulia.publishing.models import DeliveryAttempt, PostTarget
from tests.fakes.mastodon import Fault

from .conftest import drain, now, timedelta

S = PostTarget.State
pytestmark = pytest.mark.django_db(transaction=True)


def _statuses(fake):
    return sorted(fake.own_statuses(), key=lambda s: int(s["id"]))


def _with_comment(target, comment: str):
    Post.objects.filter(pk=target.post_id).update(first_comment=comment)
    target.post.refresh_from_db()
    return target


def _publish(ctx, target):
    services.do_schedule(ctx, target, due_at=now() - timedelta(seconds=1))
    return drain(target, until=lambda t: t.state != S.SCHEDULED and engine.comment_status(t) not in
                 ("queued", "waiting", "pending"))


def test_the_first_comment_is_a_reply_to_the_published_post(ctx, make_target, fake_mastodon):
    target = _with_comment(make_target(text="Lanzamos la nueva web"), "El enlace, aquí: https://example.com")
    target = _publish(ctx, target)
    assert target.state == S.PUBLISHED and engine.comment_status(target) == "posted"
    main, comment = _statuses(fake_mastodon)
    assert target.external_id == main["id"] and target.comment_external_id == comment["id"]
    assert comment["in_reply_to_id"] == main["id"] and "example.com" in comment["text"]
    posts = fake_mastodon.requests_to("POST", "/api/v1/statuses")
    assert [r.headers["idempotency-key"] for r in posts] == [target.marker, f"{target.marker}-c"]
    log = list(DeliveryAttempt.objects.filter(target=target).order_by("pk"))
    assert [a.outcome for a in log] == ["published", "published"]
    assert log[1].external_id == comment["id"] and log[0].content_hash != log[1].content_hash
    # A duplicate task, and a sweep: nothing more goes out.
    assert tasks.publish_comment.call_local(target.pk) == "stale"
    tasks.sweep_once(grace=0)
    assert len(_statuses(fake_mastodon)) == 2


def test_a_crash_between_the_post_and_its_comment_resumes_with_the_comment_only(ctx, make_target, fake_mastodon):
    """The consumer died after the main post's commit, before the comment task ran: the
    sweeper sends the comment; the main post is not sent again."""
    target = _publish(ctx, make_target())
    assert engine.comment_status(target) == "none"
    _with_comment(target, "Y un comentario")  # as if its task had been lost
    target.refresh_from_db()
    assert engine.comment_status(target) == "queued"
    assert tasks.sweep_once(grace=0) == {"due": 0, "reconcile": 0, "comments": 1, "reconcile_comments": 0}
    target.refresh_from_db()
    assert engine.comment_status(target) == "posted"
    assert len(fake_mastodon.requests_to("POST", "/api/v1/statuses")) == 2
    assert len(_statuses(fake_mastodon)) == 2


def test_an_ambiguous_comment_is_looked_up_before_any_retry(ctx, make_target, fake_mastodon):
    target = _publish(ctx, make_target())
    _with_comment(target, "Comentario que se pierde por el camino")
    fake_mastodon.inject("POST /api/v1/statuses", Fault.timeout_after(2.0))
    assert engine.publish_comment(target.pk) == "found"
    target.refresh_from_db()
    main, comment = _statuses(fake_mastodon)
    assert target.comment_external_id == comment["id"] and comment["in_reply_to_id"] == main["id"]
    outcome = DeliveryAttempt.objects.filter(target=target).order_by("pk").last()
    assert outcome.outcome == "found" and outcome.error_kind == "ambiguous"


def test_a_consumer_killed_mid_comment_is_reconciled_by_the_sweeper(ctx, make_target, fake_mastodon, settings):
    target = _publish(ctx, make_target())
    _with_comment(target, "Comentario en vuelo")
    # The dead consumer's claim, from longer ago than the lease, and its request had landed.
    attempt = engine._claim_comment(target, "", db_now() - timedelta(seconds=settings.PUBLISHING["LEASE_SECONDS"] + 5))
    assert attempt is not None and engine.comment_status(target) == "pending"
    with engine.connector_for(target.account) as connector:
        landed = connector.reply(target.external_id, "Comentario en vuelo", marker=engine.comment_marker(target))
    assert tasks.publish_comment.call_local(target.pk) == "stale"  # in flight: never a second send
    assert tasks.sweep_once(grace=0)["reconcile_comments"] == 1
    target.refresh_from_db()
    assert target.comment_external_id == landed.external_id
    assert len(_statuses(fake_mastodon)) == 2
    attempt.refresh_from_db()
    assert attempt.outcome == "lost"


def test_a_refused_comment_leaves_the_post_published_and_tells_the_team(ctx, make_target, fake_mastodon, mailoutbox):
    target = _publish(ctx, make_target())
    _with_comment(target, "Comentario que el servidor rechaza")
    fake_mastodon.inject("POST /api/v1/statuses", Fault.respond(422, {"error": "Validation failed: spam"}))
    assert engine.publish_comment(target.pk) == "failed"
    target.refresh_from_db()
    assert target.state == S.PUBLISHED and engine.comment_status(target) == "failed"
    failed = DeliveryAttempt.objects.filter(target=target).order_by("pk").last()
    assert failed.outcome == "failed" and "spam" in failed.error_detail and "First comment" in failed.user_message
    (note,) = Notification.objects.filter(kind="publishing.comment_failed")
    assert note.link == f"/brands/{target.brand_id}/posts/{target.post_id}/"
    assert any("first comment could not be posted" in m.body for m in mailoutbox)
    assert tasks.publish_comment.call_local(target.pk) == "stale"  # given up: no more tries
    assert len(_statuses(fake_mastodon)) == 1


def test_a_comment_that_breaks_the_rules_stops_the_post_at_publish_time(ctx, make_target, fake_mastodon):
    target = make_target()
    services.do_schedule(ctx, target, due_at=now() + timedelta(hours=1))
    _with_comment(target, "x" * 600)  # edited after scheduling; the instance allows 500
    target.refresh_from_db()
    assert engine.publish(target.pk, target.version) in ("needs_attention", "early")
    PostTarget.objects.filter(pk=target.pk).update(due_at=db_now() - timedelta(seconds=1))
    target.refresh_from_db()
    assert engine.publish(target.pk, target.version) == "needs_attention"
    target.refresh_from_db()
    assert "first comment" in target.last_error.lower()
    assert fake_mastodon.own_statuses() == []


def test_bluesky_first_comment_carries_root_and_parent_refs(ctx, make_target, bluesky_account, fake_bluesky):
    target = _with_comment(make_target(text="Hilo en Bluesky", accounts=[bluesky_account]), "Segunda parte del hilo")
    target = _publish(ctx, target)
    assert engine.comment_status(target) == "posted"
    records = {r["uri"]: r for r in fake_bluesky.posts_of()}
    assert set(records) == {target.external_id, target.comment_external_id}
    reply = records[target.comment_external_id]["value"]["reply"]
    assert reply["root"]["uri"] == reply["parent"]["uri"] == target.external_id
    assert reply["parent"]["cid"] == records[target.external_id]["cid"]
