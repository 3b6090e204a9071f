"""End to end through the publishing engine to the fake LinkedIn: a scheduled post with an
image goes out once with its first comment; an ambiguous send is reconciled, not re-posted; a
sign-in about to end is refreshed first; an expired one parks the account."""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta, timezone

import pytest
from huey.contrib.djhuey import HUEY

from tertulia.networks.models import SocialAccount
from tertulia.publishing import engine, services
from tertulia.publishing.models import DeliveryAttempt, PostTarget
from tests.fakes.linkedin import ORG_ID, Fault
from tests.fakes.linkedin_plugin import fake_linkedin  # noqa: F401

S = PostTarget.State
pytestmark = pytest.mark.django_db(transaction=True)
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


@pytest.fixture(autouse=True)
def publishing_settings(settings, fake_linkedin):
    from tertulia.networks.ratelimit import BUCKETS
    from tertulia.publishing.engine import RATE_BOOK

    settings.PUBLISHING = {
        **settings.PUBLISHING, "BACKOFF_BASE": 0.05, "BACKOFF_CAP": 0.2, "MAX_ATTEMPTS": 4,
        "LEASE_SECONDS": 60.0, "SWEEP_GRACE_SECONDS": 0.0,
        "HTTP": {"connect_timeout": 2.0, "read_timeout": 0.6, "write_timeout": 2.0, "allow_private_networks": True},
    }
    settings.NETWORK_APPS = {**settings.NETWORK_APPS, "linkedin": {"client_id": fake_linkedin.client_id,
                                                                   "client_secret": fake_linkedin.client_secret}}
    settings.NETWORK_ENDPOINTS = {"linkedin": {"auth": fake_linkedin.base_url, "api": fake_linkedin.base_url}}
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
def account(ctx, fake_linkedin):
    from tertulia.networks.services import do_add_account

    context, brand = ctx
    return do_add_account(context, brand, network="linkedin", handle="cafetertulia", access_token=fake_linkedin.token,
                          base_url=fake_linkedin.base_url, external_id=str(ORG_ID))


def _target(ctx, account, text, media=(), comment=""):
    from django.core.files.base import ContentFile

    from tertulia.content.approvals import do_mark_approved
    from tertulia.content.models import MediaAsset, Post, PostMedia
    from tertulia.content.services import do_create_post

    context, brand = ctx
    post = do_create_post(context, brand, text=text, accounts=[account], submit=True)
    do_mark_approved(context, post)
    if comment:
        Post.objects.filter(pk=post.pk).update(first_comment=comment)
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


def test_scheduled_post_with_image_and_first_comment_goes_out_once(ctx, account, fake_linkedin):
    target = _target(ctx, account, "Hoy (jueves) tertulia #libros", media=[("portada.png", PNG, "Portada")],
                     comment="Reserva en https://cafetertulia.example")
    assert target.state == S.PUBLISHED
    (post,) = fake_linkedin.live_posts()
    assert post["shown"] == "Hoy (jueves) tertulia #libros"
    assert post["content"]["media"]["altText"] == "Portada"
    assert target.external_id == post["id"]
    assert target.external_url == f"https://www.linkedin.com/feed/update/{post['id']}/"
    assert [a.outcome for a in _attempts(target)] == ["published", "published"]
    (comment,) = fake_linkedin.comments[post["id"]]
    assert comment["message"]["text"] == "Reserva en https://cafetertulia.example"
    assert target.comment_external_id == comment["commentUrn"]
    assert len(fake_linkedin.requests_to("posts.create")) == 1


def test_ambiguous_send_is_found_not_reposted(ctx, account, fake_linkedin):
    fake_linkedin.inject("posts.create", Fault.timeout_after(2.0))
    target = _target(ctx, account, "Una sola vez, por favor")
    assert target.state == S.PUBLISHED
    (post,) = fake_linkedin.live_posts()
    assert target.external_id == post["id"]
    (attempt,) = _attempts(target)
    assert attempt.outcome == "found" and attempt.error_kind == "ambiguous"
    assert len(fake_linkedin.requests_to("posts.create")) == 1


def test_expired_token_parks_the_account(ctx, account, fake_linkedin):
    fake_linkedin.expire_token()
    target = _target(ctx, account, "No saldrá")
    assert target.state == S.NEEDS_ATTENTION
    account.refresh_from_db()
    assert account.status == SocialAccount.Status.NEEDS_RECONNECT
    assert fake_linkedin.live_posts() == []


def test_a_sign_in_about_to_end_is_refreshed_before_publishing(ctx, account, fake_linkedin):
    answer = fake_linkedin._grant("w_organization_social", refresh_expires=datetime.now().timestamp() + 200 * 86400)
    soon = datetime.now(timezone.utc) + timedelta(minutes=2)
    SocialAccount.objects.filter(pk=account.pk).update(token_expires_at=soon)
    account.refresh_from_db()
    account.access_token, account.refresh_token = answer["access_token"], answer["refresh_token"]
    account.save(update_fields=["access_token", "refresh_token"])
    target = _target(ctx, account, "Con la sesión renovada")
    assert target.state == S.PUBLISHED
    account.refresh_from_db()
    assert account.access_token not in (answer["access_token"], fake_linkedin.token)
    assert account.refresh_token == answer["refresh_token"]
    assert account.token_expires_at > datetime.now(timezone.utc) + timedelta(days=59)
    (request,) = fake_linkedin.requests_to("posts.create")
    assert request.headers["authorization"] == f"Bearer {account.access_token}"


def test_a_refused_refresh_parks_the_account(ctx, account, fake_linkedin):
    soon = datetime.now(timezone.utc) + timedelta(minutes=2)
    SocialAccount.objects.filter(pk=account.pk).update(token_expires_at=soon)
    account.refresh_from_db()
    account.refresh_token = "AQXrevoked"
    account.save(update_fields=["refresh_token"])
    target = _target(ctx, account, "No saldrá")
    account.refresh_from_db()
    assert account.status == SocialAccount.Status.NEEDS_RECONNECT
    assert target.state != S.PUBLISHED and fake_linkedin.live_posts() == []


def test_metrics_through_the_engine_connector(ctx, account, fake_linkedin):
    target = _target(ctx, account, "Medible")
    fake_linkedin.stats[target.external_id]["impressionCount"] = 42
    with engine.connector_for(target.account) as connector:
        metrics = connector.fetch_post_metrics([target.external_id])
    assert metrics[target.external_id].impressions == 42


def test_a_link_post_gets_the_pages_preview_as_an_article(ctx, account, fake_linkedin):
    fake_linkedin.web_pages["carta"] = ("text/html; charset=utf-8", (
        '<html><head><title>ignored</title><meta property="og:title" content="La carta &amp; el otoño">'
        '<meta property="og:description" content="Calabaza <b>y</b> castañas">'
        f'<meta property="og:image" content="{fake_linkedin.base_url}/web/foto"></head></html>').encode())
    fake_linkedin.web_pages["foto"] = ("image/png", PNG)
    link = f"{fake_linkedin.base_url}/web/carta"
    target = _target(ctx, account, f"Nueva carta: {link}")
    assert target.state == S.PUBLISHED
    (post,) = fake_linkedin.live_posts()
    article = post["content"]["article"]
    assert article["source"] == link and article["title"] == "La carta & el otoño"
    assert article["description"] == "Calabaza <b>y</b> castañas"  # text, never markup
    assert fake_linkedin.images[article["thumbnail"]]["bytes"] == PNG


def test_a_link_that_cannot_be_read_posts_plain_text(ctx, account, fake_linkedin):
    target = _target(ctx, account, f"Mira {fake_linkedin.base_url}/web/no-existe")
    assert target.state == S.PUBLISHED
    (post,) = fake_linkedin.live_posts()
    assert "content" not in post and post["shown"].endswith("/web/no-existe")
