"""End to end through the publishing engine (``tertulia.publishing``) to the fake Graph API:
a scheduled Page post goes out once, with its first comment; an ambiguous send is reconciled
by ``find_published``, not re-posted; an expired Meta token (code 190) parks the account."""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta, timezone

import pytest
from huey.contrib.djhuey import HUEY

from tertulia.networks.models import SocialAccount
from tertulia.publishing import engine, services
from tertulia.publishing.models import DeliveryAttempt, PostTarget
from tests.fakes.facebook import PAGE_ID, Fault
from tests.fakes.facebook_plugin import fake_graph  # noqa: F401

S = PostTarget.State
pytestmark = pytest.mark.django_db(transaction=True)
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


@pytest.fixture(autouse=True)
def publishing_settings(settings):
    from tertulia.networks.facebook import FacebookConnector
    from tertulia.networks.ratelimit import BUCKETS
    from tertulia.publishing.engine import RATE_BOOK

    settings.PUBLISHING = {
        **settings.PUBLISHING, "BACKOFF_BASE": 0.05, "BACKOFF_CAP": 0.2, "MAX_ATTEMPTS": 4,
        "LEASE_SECONDS": 60.0, "SWEEP_GRACE_SECONDS": 0.0,
        "HTTP": {"connect_timeout": 2.0, "read_timeout": 0.6, "write_timeout": 2.0, "allow_private_networks": True},
    }
    HUEY.flush()
    BUCKETS.clear()
    RATE_BOOK._states.clear()
    FacebookConnector.retired_metrics.clear()
    yield
    HUEY.flush()
    BUCKETS.clear()
    RATE_BOOK._states.clear()


@pytest.fixture
def ctx(tenant):
    from tertulia.core.models import Membership
    from tertulia.core.services import Ctx

    brand, _people = tenant("Engine")
    return Ctx(Membership.objects.get(brand=brand, role="owner").user, via="test"), brand


@pytest.fixture
def page(ctx, fake_graph):
    from tertulia.networks.services import do_add_account

    context, brand = ctx
    return do_add_account(context, brand, network="facebook", handle="facebookapp", access_token=fake_graph.page_token,
                          base_url=fake_graph.base_url, external_id=PAGE_ID)


def _target(ctx, account, text, media=(), first_comment=""):
    from django.core.files.base import ContentFile

    from tertulia.content.approvals import do_mark_approved
    from tertulia.content.models import MediaAsset, Post, PostMedia
    from tertulia.content.services import do_create_post

    context, brand = ctx
    post = do_create_post(context, brand, text=text, accounts=[account], submit=True)
    if first_comment:
        Post.objects.filter(pk=post.pk).update(first_comment=first_comment)
    do_mark_approved(context, post)
    for name, content, alt in media:
        asset = MediaAsset.objects.create(brand=brand, file=ContentFile(content, name=name), kind="image",
                                          mime_type="image/png", size_bytes=len(content),
                                          sha256=hashlib.sha256(name.encode() + content).hexdigest(), alt_text=alt)
        PostMedia.objects.create(post=post, asset=asset)
    target = post.targets.select_related("account", "post", "brand").get()
    services.do_schedule(context, target, due_at=datetime.now(timezone.utc) - timedelta(seconds=1))
    target.refresh_from_db()
    return target


def _attempts(target):
    return list(DeliveryAttempt.objects.filter(target=target).order_by("started_at", "pk"))


def test_page_post_goes_out_once_with_its_first_comment(ctx, page, fake_graph):
    target = _target(ctx, page, "Hoy tertulia a las 19 h <b>¡ven!</b>", first_comment="Reserva: https://cafe.example")
    assert target.state == S.PUBLISHED
    (post,) = fake_graph.page_posts()
    assert post["message"] == "Hoy tertulia a las 19 h <b>¡ven!</b>"
    assert target.external_id == post["id"] and target.external_url.startswith("https://www.facebook.com/")
    assert [a.outcome for a in _attempts(target)][:1] == ["published"]
    if engine.comment_status(target) != "posted":
        engine.publish_comment(target.pk)
    target.refresh_from_db()
    comment = fake_graph.comments[target.comment_external_id]
    assert comment["message"] == "Reserva: https://cafe.example" and comment["post"] == post["id"]
    assert comment["from"]["id"] == PAGE_ID
    assert len(fake_graph.requests_to("POST /:id/feed")) == 1


def test_photo_post_from_the_media_library(ctx, page, fake_graph, settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path)
    target = _target(ctx, page, "Dos carteles", media=[("a.png", PNG, "uno"), ("b.png", PNG, "dos")])
    assert target.state == S.PUBLISHED
    (post,) = fake_graph.page_posts()
    assert target.external_id == post["id"] and len(post["attached_media"]) == 2
    assert sorted(p["alt"] for p in fake_graph.photos.values()) == ["dos", "uno"]


def test_ambiguous_send_is_found_not_reposted(ctx, page, fake_graph):
    fake_graph.inject("POST /:id/feed", Fault.timeout_after(2.0))
    target = _target(ctx, page, "Una sola vez, por favor")
    assert target.state == S.PUBLISHED
    (post,) = fake_graph.page_posts()
    assert target.external_id == post["id"]
    (attempt,) = _attempts(target)
    assert attempt.outcome == "found" and attempt.error_kind == "ambiguous"
    assert len(fake_graph.requests_to("POST /:id/feed")) == 1


def test_expired_meta_token_parks_the_account(ctx, page, fake_graph):
    fake_graph.expire_token()
    target = _target(ctx, page, "No saldrá")
    assert target.state == S.NEEDS_ATTENTION
    page.refresh_from_db()
    assert page.status == SocialAccount.Status.NEEDS_RECONNECT
    assert fake_graph.page_posts() == []
    for attempt in _attempts(target):
        assert fake_graph.page_token not in attempt.error_detail + attempt.user_message


def test_throttled_page_is_retried_later_not_failed(ctx, page, fake_graph):
    fake_graph.inject("POST /:id/feed", Fault.throttled(minutes=3))
    target = _target(ctx, page, "Con calma")
    assert target.state != S.FAILED
    (attempt,) = _attempts(target)
    assert attempt.error_kind == "rate_limited"
    assert fake_graph.page_posts() == []
