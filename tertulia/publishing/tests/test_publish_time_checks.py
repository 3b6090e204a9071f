"""Publish-time validation runs the scheduler's own check (``services.target_problems``: text,
first comment, images): what changed after scheduling and would now be refused is stopped
before the network, with the plain reason and a notification (issue 4)."""

from __future__ import annotations

import pytest
from django.utils import translation

from tertulia.content.models import MediaAsset, PostMedia
from tertulia.core.models import Notification
from tertulia.publishing import engine, services, tasks
from tertulia.publishing.clock import db_now
from tertulia.publishing.models import DeliveryAttempt, PostTarget

from .conftest import now, timedelta

S = PostTarget.State
pytestmark = pytest.mark.django_db(transaction=True)


def _image(brand, n: int, size: int = 2048) -> MediaAsset:
    return MediaAsset.objects.create(brand=brand, file=f"media/test/foto{n}.png", kind="image", mime_type="image/png",
                                     size_bytes=size, width=800, height=600, sha256=f"{n:064d}")


def _schedule_then_make_due(ctx, target):
    services.do_schedule(ctx, target, due_at=now() + timedelta(hours=1))  # passes the check here
    PostTarget.objects.filter(pk=target.pk).update(due_at=db_now() - timedelta(seconds=1))
    target.refresh_from_db()
    return target


def test_images_added_after_scheduling_are_refused_at_publish_time(ctx, brand, make_target, fake_mastodon):
    target = make_target(text="Cuatro fotos del taller")
    PostMedia.objects.create(post=target.post, asset=_image(brand, 1))
    target = _schedule_then_make_due(ctx, target)
    assert services.target_problems(target) == {}
    for n in range(2, 6):  # now five: the instance takes four
        PostMedia.objects.create(post=target.post, asset=_image(brand, n), position=n)
    assert "media" in services.target_problems(target)

    assert tasks.publish_target.call_local(target.pk, target.version) == "needs_attention"
    target.refresh_from_db()
    assert target.state == S.NEEDS_ATTENTION
    assert "at most 4 images" in target.last_error and "has 5" in target.last_error
    with translation.override("en"):
        assert "at most 4 images" in target.error_display()
    with translation.override("es"):
        shown = target.error_display()
    assert "4" in shown and "at most" not in shown  # the reader's language, not the consumer's
    (attempt,) = DeliveryAttempt.objects.filter(target=target)
    assert attempt.outcome == "needs_attention" and "at most 4 images" in attempt.user_message
    assert Notification.objects.filter(kind="publishing.needs_attention").exists()
    assert fake_mastodon.own_statuses() == []
    assert fake_mastodon.requests_to("POST", "/api/v2/media") == []


def test_an_image_replaced_by_a_too_large_one_is_refused(ctx, brand, make_target, fake_mastodon):
    target = make_target(text="Una foto")
    asset = _image(brand, 7)
    PostMedia.objects.create(post=target.post, asset=asset)
    target = _schedule_then_make_due(ctx, target)
    MediaAsset.objects.filter(pk=asset.pk).update(size_bytes=40 * 1024 * 1024)
    assert engine.publish(target.pk, target.version) == "needs_attention"
    target.refresh_from_db()
    assert "Image 1 is 40" in target.last_error and "MB" in target.last_error
    assert fake_mastodon.own_statuses() == []


def test_a_text_edited_past_the_limit_is_refused_and_fixing_it_publishes(ctx, brand, make_target, fake_mastodon):
    from tertulia.content.models import Post

    target = _schedule_then_make_due(ctx, make_target(text="Corto"))
    Post.objects.filter(pk=target.post_id).update(text="x" * 600)
    target.refresh_from_db()
    target.post.refresh_from_db()
    assert engine.publish(target.pk, target.version) == "needs_attention"
    target.refresh_from_db()
    assert target.error_display() and fake_mastodon.own_statuses() == []
    # Fixed, then "Retry now": it goes out.
    Post.objects.filter(pk=target.post_id).update(text="Ya corto")
    target.refresh_from_db()
    services.do_retry_now(ctx, target)
    target.refresh_from_db()
    assert target.state == S.PUBLISHED and len(fake_mastodon.own_statuses()) == 1


def test_the_instances_own_limit_is_used_at_publish_time(ctx, brand, make_target, fake_mastodon):
    """A server that allows 1000 characters: an 800-character post goes out; lowered to 500
    after scheduling, the post is stopped with the server's own figure in the reason."""
    text = ("Texto largo para una instancia generosa. " * 20)[:800]
    fake_mastodon.max_characters = 1000  # the fake server refuses what its limit refuses
    target = make_target(text=text)
    account = target.account
    account.server_limits = {"max_characters": 1000, "characters_reserved_per_url": 23}
    account.save(update_fields=["server_limits"])
    target = _schedule_then_make_due(ctx, target)
    assert tasks.publish_target.call_local(target.pk, target.version) == "published"
    assert len(fake_mastodon.own_statuses()) == 1

    second = make_target(text=text.replace("Texto", "Otro texto"))
    second = _schedule_then_make_due(ctx, second)
    account.server_limits = {"max_characters": 700, "characters_reserved_per_url": 23}
    account.save(update_fields=["server_limits"])
    assert tasks.publish_target.call_local(second.pk, second.version) == "needs_attention"
    second.refresh_from_db()
    assert "700" in second.last_error and "500" not in second.last_error
    assert len(fake_mastodon.own_statuses()) == 1
