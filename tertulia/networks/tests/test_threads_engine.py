"""End to end through the publishing engine (``tertulia.publishing``) to the fake Threads API: a
scheduled post goes out once with its first comment; an ambiguous publish is reconciled, not
re-posted; an expired token (190) parks the account; a renewed token keeps the account's
history; media without a public address fails plainly, before any request."""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta, timezone

import pytest
from huey.contrib.djhuey import HUEY

from tertulia.networks.models import SocialAccount
from tertulia.publishing import services
from tertulia.publishing.models import DeliveryAttempt, PostTarget
from tests.fakes.threads import Fault
from tests.fakes.threads_plugin import fake_threads  # noqa: F401

S = PostTarget.State
pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def publishing_settings(settings):
    from tertulia.networks.ratelimit import BUCKETS
    from tertulia.publishing.engine import RATE_BOOK

    settings.PUBLISHING = {
        **settings.PUBLISHING, "BACKOFF_BASE": 0.05, "BACKOFF_CAP": 0.2, "MAX_ATTEMPTS": 4,
        "LEASE_SECONDS": 60.0, "SWEEP_GRACE_SECONDS": 0.0,
        "HTTP": {"connect_timeout": 2.0, "read_timeout": 0.8, "write_timeout": 2.0, "allow_private_networks": True},
    }
    for clear in (HUEY.flush, BUCKETS.clear, RATE_BOOK._states.clear):
        clear()
    yield
    for clear in (HUEY.flush, BUCKETS.clear, RATE_BOOK._states.clear):
        clear()


@pytest.fixture
def ctx(tenant):
    from tertulia.core.models import Membership
    from tertulia.core.services import Ctx

    brand, _people = tenant("Engine")
    return Ctx(Membership.objects.get(brand=brand, role="owner").user, via="test"), brand


@pytest.fixture
def account(ctx, fake_threads):
    from tertulia.networks.services import do_add_account

    context, brand = ctx
    return do_add_account(context, brand, network="threads", handle="cafetertulia", access_token=fake_threads.token,
                          refresh_token=fake_threads.token, base_url=fake_threads.base_url,
                          external_id=fake_threads.user_id)


def _target(ctx, account, text, *, first_comment="", media=()):
    from django.core.files.base import ContentFile

    from tertulia.content.approvals import do_mark_approved
    from tertulia.content.models import MediaAsset, Post, PostMedia
    from tertulia.content.services import do_create_post

    context, brand = ctx
    post = do_create_post(context, brand, text=text, accounts=[account], submit=True)
    if first_comment:
        Post.objects.filter(pk=post.pk).update(first_comment=first_comment)
        post.refresh_from_db()
    do_mark_approved(context, post)
    for name, content in media:
        asset = MediaAsset.objects.create(brand=brand, file=ContentFile(content, name=name), kind="image",
                                          mime_type="image/png", size_bytes=len(content),
                                          sha256=hashlib.sha256(name.encode() + content).hexdigest())
        PostMedia.objects.create(post=post, asset=asset)
    target = post.targets.select_related("account", "post", "brand").get()
    services.do_schedule(context, target, due_at=datetime.now(timezone.utc) - timedelta(seconds=1))
    target.refresh_from_db()
    return target


def _attempts(target):
    return list(DeliveryAttempt.objects.filter(target=target).order_by("started_at", "pk"))


def test_scheduled_post_goes_out_once_with_its_first_comment(ctx, account, fake_threads):
    from tertulia.publishing.tests.conftest import drain

    target = _target(ctx, account, "Hoy tertulia a las 19 h <b>¡ven!</b>", first_comment="Reservas: 955 000 000")
    target = drain(target, until=lambda t: t.state == S.PUBLISHED and t.comment_external_id
                   and t.comment_external_id[0].isdigit())
    (post,) = fake_threads.posts()
    assert post["text"] == "Hoy tertulia a las 19 h <b>¡ven!</b>"
    assert target.external_id == post["id"] and target.external_url == post["permalink"]
    (comment,) = fake_threads.replies_of(post["id"])
    assert comment["text"] == "Reservas: 955 000 000" and target.comment_external_id == comment["id"]
    assert len(fake_threads.requests_to(r"threads_publish$")) == 2
    # One attempt for the post and one for its comment, both first time.
    assert sorted(a.outcome for a in _attempts(target)) == ["published", "published"]


def test_ambiguous_publish_is_found_not_reposted(ctx, account, fake_threads):
    fake_threads.inject(r"threads_publish$", Fault.timeout_after(2.0))
    target = _target(ctx, account, "Una sola vez, por favor")
    assert target.state == S.PUBLISHED
    (post,) = fake_threads.posts()
    assert target.external_id == post["id"]
    (attempt,) = _attempts(target)
    assert attempt.outcome == "found" and attempt.error_kind == "ambiguous"
    assert len(fake_threads.requests_to(r"threads_publish$")) == 1


def test_expired_token_parks_the_account(ctx, account, fake_threads):
    fake_threads.expire_token()
    target = _target(ctx, account, "No saldrá")
    assert target.state == S.NEEDS_ATTENTION
    account.refresh_from_db()
    assert account.status == SocialAccount.Status.NEEDS_RECONNECT
    assert fake_threads.posts() == []
    assert fake_threads.token not in target.last_error


def test_expiring_token_is_renewed_and_the_account_keeps_its_history(ctx, account, fake_threads):
    from tertulia.publishing.tasks import refresh_tokens_once

    first = _target(ctx, account, "Antes de renovar")
    assert first.state == S.PUBLISHED
    old = fake_threads.token
    SocialAccount.objects.filter(pk=account.pk).update(token_expires_at=datetime.now(timezone.utc) + timedelta(minutes=5))
    assert refresh_tokens_once() == {"refreshed": 1}
    account.refresh_from_db()
    assert account.access_token != old and account.refresh_token == account.access_token
    assert account.token_expires_at - datetime.now(timezone.utc) > timedelta(days=59)
    assert account.status == SocialAccount.Status.CONNECTED
    assert PostTarget.objects.filter(account=account, state=S.PUBLISHED).count() == 1  # same row, same history
    second = _target(ctx, account, "Después de renovar")
    assert second.state == S.PUBLISHED and second.account_id == first.account_id
    assert fake_threads.requests_to(r"threads_publish$")[-1].token == account.access_token


def test_refused_renewal_parks_the_account(ctx, account, fake_threads):
    from tertulia.publishing.tasks import refresh_tokens_once

    fake_threads.expire_token()
    SocialAccount.objects.filter(pk=account.pk).update(token_expires_at=datetime.now(timezone.utc) + timedelta(minutes=5))
    assert refresh_tokens_once() == {"needs_reconnect": 1}
    account.refresh_from_db()
    assert account.status == SocialAccount.Status.NEEDS_RECONNECT


def test_media_goes_out_with_the_engines_signed_public_link(ctx, account, fake_threads, settings, tmp_path):
    """Meta downloads the image from Tertulia: the engine gives each item a signed link
    (content/public_media.py) under SITE_URL, and that is the address Threads receives."""
    from django.test import Client

    settings.MEDIA_ROOT = str(tmp_path)
    settings.SITE_URL = "https://tertulia.example.org"
    png = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
    target = _target(ctx, account, "Con cartel", media=[("cartel.png", png)])
    assert target.state == S.PUBLISHED
    (create,) = fake_threads.requests_to(r"^POST /:id/threads$")
    link = create.params["image_url"]
    assert link.startswith("https://tertulia.example.org/m/")
    served = Client().get(link[len("https://tertulia.example.org"):])
    assert served.status_code == 200 and b"".join(served.streaming_content) == png


def public_url(item):
    """An operator's CDN address (``settings.META_MEDIA_URL_FOR``)."""
    return f"https://media.example/{item.filename}"


def test_stuck_media_is_retried_with_the_same_container(ctx, account, fake_threads, settings, tmp_path):
    from tertulia.publishing.tests.conftest import drain

    settings.MEDIA_ROOT = str(tmp_path)
    settings.META_MEDIA_URL_FOR = f"{__name__}.public_url"
    settings.THREADS_CONTAINER_WAIT, settings.THREADS_POLL_INTERVAL = 0.3, 0.05
    fake_threads.stuck = True
    png = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
    target = _target(ctx, account, "Con cartel", media=[("cartel.png", png)])
    assert target.state != S.PUBLISHED and fake_threads.posts() == []
    account.refresh_from_db()
    (entry,) = account.options["threads_containers"].values()  # kept for every consumer process
    (create,) = fake_threads.requests_to(r"^POST /:id/threads$")
    assert create.params["image_url"].startswith("https://media.example/cartel")
    fake_threads.stuck = False
    target = drain(target)
    assert target.state == S.PUBLISHED
    (post,) = fake_threads.posts()
    assert post["container"] == entry["id"] and len(fake_threads.requests_to(r"^POST /:id/threads$")) == 1
    account.refresh_from_db()
    assert "threads_containers" not in account.options  # forgotten once published


def test_account_container_store_keeps_other_options_and_survives_garbage(account):
    from tertulia.networks.meta.containers import AccountContainerStore

    SocialAccount.objects.filter(pk=account.pk).update(options={"other": 1, "threads_containers": ["garbage"]})
    store = AccountContainerStore(account.pk, "threads_containers")
    assert store.get("post-1") is None
    store.put("post-1", "18000000000000001")
    again = AccountContainerStore(account.pk, "threads_containers")  # another consumer process
    assert again.get("post-1")["id"] == "18000000000000001"
    account.refresh_from_db()
    assert account.options["other"] == 1
    store.discard("post-1")
    account.refresh_from_db()
    assert account.options == {"other": 1}


def test_a_60_day_token_is_renewed_days_ahead_not_in_its_last_half_hour(ctx, account, fake_threads):
    """``refresh_ahead``: a week for Threads, so an outage at renewal time leaves many retries;
    a token with weeks left is not touched."""
    from tertulia.publishing.tasks import refresh_tokens_once

    far = datetime.now(timezone.utc) + timedelta(days=20)
    SocialAccount.objects.filter(pk=account.pk).update(token_expires_at=far)
    assert refresh_tokens_once() == {}
    SocialAccount.objects.filter(pk=account.pk).update(token_expires_at=datetime.now(timezone.utc) + timedelta(days=3))
    assert refresh_tokens_once() == {"refreshed": 1}
    account.refresh_from_db()
    assert account.token_expires_at - datetime.now(timezone.utc) > timedelta(days=59)
