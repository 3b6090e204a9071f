"""End to end through the publishing engine to the fake X API: a scheduled post (with an image
and a first comment) goes out once; an ambiguous send is reconciled, not re-posted; an expired
access token is renewed with the rotating refresh token and the new pair stored at once; a
refused refresh parks the account; a 429 blocks the account until X's reset; an endpoint
outside the app's plan fails with the plain fix."""

from __future__ import annotations

import hashlib
import io
from datetime import datetime, timedelta, timezone

import pytest
from huey.contrib.djhuey import HUEY

from tertulia.networks.models import SocialAccount
from tertulia.publishing import engine, services
from tertulia.publishing.models import DeliveryAttempt, PostTarget
from tests.fakes.x import Fault
from tests.fakes.x_plugin import fake_x, x_http_config  # noqa: F401

S = PostTarget.State
pytestmark = pytest.mark.django_db(transaction=True)


def png() -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (64, 48), (200, 120, 40)).save(out, format="PNG")
    return out.getvalue()


@pytest.fixture(autouse=True)
def publishing_settings(settings, fake_x):
    from tertulia.networks.ratelimit import BUCKETS
    from tertulia.publishing.engine import RATE_BOOK

    settings.PUBLISHING = {
        **settings.PUBLISHING, "BACKOFF_BASE": 0.05, "BACKOFF_CAP": 0.2, "MAX_ATTEMPTS": 4,
        "LEASE_SECONDS": 60.0, "SWEEP_GRACE_SECONDS": 0.0,
        "HTTP": {"connect_timeout": 2.0, "read_timeout": 0.6, "write_timeout": 2.0, "allow_private_networks": True},
    }
    settings.NETWORK_APPS = {**settings.NETWORK_APPS, "x": {"client_id": fake_x.client_id,
                                                            "client_secret": fake_x.client_secret}}
    HUEY.flush()
    BUCKETS.clear()
    RATE_BOOK._states.clear()
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
def account(ctx, fake_x):
    from tertulia.networks.services import do_add_account

    context, brand = ctx
    answer = fake_x.issue(fake_x.own["id"])
    account = do_add_account(context, brand, network="x", handle="TweepyDev", access_token=answer["access_token"],
                             refresh_token=answer["refresh_token"], base_url=fake_x.base_url,
                             external_id=fake_x.own["id"])
    SocialAccount.objects.filter(pk=account.pk).update(token_expires_at=datetime.now(timezone.utc) + timedelta(hours=2))
    account.refresh_from_db()
    return account


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


def test_post_with_image_and_first_comment_goes_out_once(ctx, account, fake_x, settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path)
    assert account.handle == "@TweepyDev"
    target = _target(ctx, account, "Carta de otoño & <b>castañas</b> https://cafetertulia.es/carta",
                     media=[("carta.png", png(), "La carta de otoño")], first_comment="Reservas: 910 000 000")
    assert target.state == S.PUBLISHED
    post = fake_x.own_posts()[0]
    assert post["source_text"] == "Carta de otoño & <b>castañas</b> https://cafetertulia.es/carta"
    assert target.external_id == post["id"]
    assert target.external_url == f"https://x.com/TweepyDev/status/{post['id']}"
    assert [a.outcome for a in _attempts(target)][:1] == ["published"]
    media = fake_x.media[post["attachments"]["media_keys"][0].split("_", 1)[1]]
    assert media["metadata"]["alt_text"]["text"] == "La carta de otoño"
    if engine.comment_status(target) != "posted":
        engine.publish_comment(target.pk)
    target.refresh_from_db()
    comment = fake_x.tweets[target.comment_external_id]
    assert comment["source_text"] == "Reservas: 910 000 000"
    assert comment["referenced_tweets"] == [{"type": "replied_to", "id": post["id"]}]
    assert len(fake_x.requests_to("POST /2/tweets")) == 2


def test_ambiguous_send_is_found_not_reposted(ctx, account, fake_x):
    fake_x.inject("POST /2/tweets", Fault.timeout_after(2.0))
    target = _target(ctx, account, "Una sola vez, por favor https://cafetertulia.es")
    assert target.state == S.PUBLISHED
    (post,) = fake_x.own_posts()
    assert target.external_id == post["id"]
    attempt = _attempts(target)[0]
    assert attempt.outcome == "found" and attempt.error_kind == "ambiguous"
    assert len(fake_x.requests_to("POST /2/tweets")) == 1


def test_expired_access_token_is_renewed_and_stored(ctx, account, fake_x):
    old_access, old_refresh = account.access_token, account.refresh_token
    fake_x.expire_token(old_access)
    target = _target(ctx, account, "Tras renovar la sesión")
    assert target.state == S.PUBLISHED
    account.refresh_from_db()
    assert account.status == SocialAccount.Status.CONNECTED
    assert account.access_token != old_access and account.access_token in fake_x.tokens
    assert account.refresh_token != old_refresh and account.refresh_token in fake_x.refresh_tokens
    assert old_refresh in fake_x.spent_refresh
    assert len(fake_x.own_posts()) == 1


def test_token_near_expiry_is_renewed_before_publishing(ctx, account, fake_x):
    SocialAccount.objects.filter(pk=account.pk).update(token_expires_at=datetime.now(timezone.utc) + timedelta(minutes=2))
    target = _target(ctx, account, "Renovada antes")
    assert target.state == S.PUBLISHED
    account.refresh_from_db()
    assert account.token_expires_at > datetime.now(timezone.utc) + timedelta(minutes=100)
    assert [r.status for r in fake_x.requests_to("POST /2/tweets")] == [201]


def test_revoked_sign_in_parks_the_account(ctx, account, fake_x):
    fake_x.expire_token(account.access_token)
    fake_x.refresh_tokens.clear()
    target = _target(ctx, account, "No saldrá")
    assert target.state == S.NEEDS_ATTENTION
    account.refresh_from_db()
    assert account.status == SocialAccount.Status.NEEDS_RECONNECT
    assert fake_x.own_posts() == []


def test_rate_limit_blocks_the_account_until_x_reset(ctx, account, fake_x):
    fake_x.inject("POST /2/tweets", Fault.rate_limited(reset_in=600), times=None)
    target = _target(ctx, account, "Más tarde")
    assert target.state == S.SCHEDULED
    account.refresh_from_db()
    assert account.blocked_until > datetime.now(timezone.utc) + timedelta(seconds=500)
    assert _attempts(target)[0].error_kind == "rate_limited"
    assert fake_x.own_posts() == []


def test_endpoint_outside_the_plan_fails_with_the_fix(ctx, account, fake_x):
    fake_x.not_in_plan.add("POST /2/tweets")
    target = _target(ctx, account, "Sin plan")
    assert target.state == S.FAILED
    assert "developer.x.com" in target.last_error and "plan" in target.last_error
    assert len(fake_x.requests_to("POST /2/tweets")) == 1
