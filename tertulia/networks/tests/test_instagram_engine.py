"""End to end through the publishing engine (``tertulia.publishing``) to the fake Instagram
Graph API: a scheduled post with its picture goes out once; an ambiguous media_publish is
reconciled, not re-posted; a container still processing is resumed by the retry (one post);
an expired token (code 190) parks the account; an exhausted publishing quota makes the
account wait; the first comment goes under the post."""

from __future__ import annotations

import hashlib
import io
from datetime import datetime, timedelta, timezone
from urllib.parse import urlsplit

import pytest
from huey.contrib.djhuey import HUEY

from tertulia.networks.models import SocialAccount
from tertulia.publishing import services
from tertulia.publishing.models import DeliveryAttempt, PostTarget
from tests.fakes.instagram import Fault
from tests.fakes.instagram_plugin import fake_instagram  # noqa: F401

S = PostTarget.State
pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def publishing_settings(settings, fake_instagram, tmp_path):
    from tertulia.networks.ratelimit import BUCKETS
    from tertulia.publishing.engine import RATE_BOOK

    settings.PUBLISHING = {
        **settings.PUBLISHING, "BACKOFF_BASE": 0.05, "BACKOFF_CAP": 0.2, "MAX_ATTEMPTS": 4,
        "LEASE_SECONDS": 60.0, "SWEEP_GRACE_SECONDS": 0.0,
        "HTTP": {"connect_timeout": 2.0, "read_timeout": 0.8, "write_timeout": 2.0, "allow_private_networks": True},
    }
    # The engine gives each attachment a signed public link under SITE_URL (content/public_media.py);
    # the fake treats that address as reachable, and a test fetches it through Django.
    settings.SITE_URL = "https://tertulia.example"
    fake_instagram.public_prefixes.append("https://tertulia.example/m/")
    settings.INSTAGRAM_CONTAINER_POLL = {"poll_interval": 0.0, "max_wait": 5.0, "max_polls": 3,
                                        "processing_retry_after": 0.1}
    settings.MEDIA_ROOT = str(tmp_path)
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

    brand, _people = tenant("Engine IG")
    return Ctx(Membership.objects.get(brand=brand, role="owner").user, via="test"), brand


@pytest.fixture
def account(ctx, fake_instagram):
    from tertulia.networks.services import do_add_account

    context, brand = ctx
    account = do_add_account(context, brand, network="instagram", handle=fake_instagram.username,
                             access_token=fake_instagram.token, base_url=fake_instagram.base_url,
                             external_id=fake_instagram.ig_user_id)
    # What the Meta sign-in stores: the linked Page.
    SocialAccount.objects.filter(pk=account.pk).update(options={"page_id": "104000000000001"})
    account.refresh_from_db()
    return account


def jpeg(size=(1080, 1080), color=(200, 120, 40)) -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", size, color).save(out, "JPEG")
    return out.getvalue()


def _target(ctx, account, text, *, images=1, first_comment=""):
    from django.core.files.base import ContentFile

    from tertulia.content.approvals import do_mark_approved
    from tertulia.content.models import MediaAsset, PostMedia
    from tertulia.content.services import do_create_post

    context, brand = ctx
    post = do_create_post(context, brand, text=text, accounts=[account], submit=True)
    if first_comment:
        type(post).objects.filter(pk=post.pk).update(first_comment=first_comment)
    do_mark_approved(context, post)
    for i in range(images):
        content = jpeg(color=(i * 40 % 255, 90, 30))
        asset = MediaAsset.objects.create(brand=brand, file=ContentFile(content, name=f"foto{i}.jpg"), kind="image",
                                          mime_type="image/jpeg", size_bytes=len(content), width=1080, height=1080,
                                          sha256=hashlib.sha256(content + text.encode()).hexdigest(),
                                          alt_text=f"Foto {i}")
        PostMedia.objects.create(post=post, asset=asset, position=i)
    target = post.targets.select_related("account", "post", "brand").get()
    services.do_schedule(context, target, due_at=datetime.now(timezone.utc) - timedelta(seconds=1))
    target.refresh_from_db()
    return target


def _attempts(target):
    return list(DeliveryAttempt.objects.filter(target=target).order_by("started_at", "pk"))


def test_post_with_its_picture_goes_out_once(ctx, account, fake_instagram):
    target = _target(ctx, account, "Nueva carta de otoño 🍂 #otoño")
    assert target.state == S.PUBLISHED
    (media,) = fake_instagram.published_media()
    assert media["caption"] == "Nueva carta de otoño 🍂 #otoño" and media["alt_text"] == "Foto 0"
    assert target.external_id == media["id"] and target.external_url == media["permalink"]
    assert [a.outcome for a in _attempts(target)] == ["published"]
    (create,) = fake_instagram.requests_to("POST media")
    url = create.params["image_url"]
    assert url.startswith("https://tertulia.example/m/") and fake_instagram.fetched_urls == [url]
    # The signed link really serves the picture, to anyone (Instagram's servers), without a login.
    from django.test import Client

    from tertulia.content.models import MediaAsset

    response = Client().get(urlsplit(url).path)
    assert response.status_code == 200
    asset = MediaAsset.objects.get(brand=target.brand)
    assert b"".join(response.streaming_content if response.streaming else [response.content]) == asset.file.read()
    account.refresh_from_db()
    assert "ig_containers" not in account.options or account.options["ig_containers"] == {}


def test_carousel_goes_out_as_one_post(ctx, account, fake_instagram):
    target = _target(ctx, account, "Tres platos", images=3)
    assert target.state == S.PUBLISHED
    (media,) = fake_instagram.published_media()
    assert media["media_type"] == "CAROUSEL_ALBUM" and media["children_count"] == 3


def test_ambiguous_media_publish_is_found_not_reposted(ctx, account, fake_instagram):
    fake_instagram.inject("POST media_publish", Fault.timeout_after(2.0))
    target = _target(ctx, account, "Una sola vez, por favor")
    assert target.state == S.PUBLISHED
    (media,) = fake_instagram.published_media()
    assert target.external_id == media["id"]
    (attempt,) = _attempts(target)
    assert attempt.outcome == "found" and attempt.error_kind == "ambiguous"
    assert len(fake_instagram.requests_to("POST media_publish")) == 1


def test_container_still_processing_is_resumed_by_the_retry(ctx, account, fake_instagram):
    """The container id survives between attempts in the account row: the retry (a new
    connector, as in another consumer) publishes the same upload, once."""
    from tertulia.publishing.tests.conftest import drain

    fake_instagram.script_next_container(["IN_PROGRESS"] * 4 + ["FINISHED"])
    target = _target(ctx, account, "Tarda un poco")
    assert target.state == S.SCHEDULED
    account.refresh_from_db()
    (entry,) = account.options["ig_containers"].values()
    assert account.options["page_id"] == "104000000000001"  # the other options are kept
    target = drain(target)
    assert target.state == S.PUBLISHED
    assert [a.outcome for a in _attempts(target)] == ["retry", "published"]
    assert "still processing" in _attempts(target)[0].user_message
    assert len(fake_instagram.requests_to("POST media")) == 1
    (media,) = fake_instagram.published_media()
    assert media["container"] == entry["id"] and target.external_id == media["id"]


def test_container_error_fails_the_target_with_instagrams_reason(ctx, account, fake_instagram):
    from tertulia.publishing.tests.conftest import drain

    fake_instagram.script_next_container(["IN_PROGRESS"] * 4 + ["ERROR"], "Error: Unsupported image aspect ratio")
    target = drain(_target(ctx, account, "No cabe"))
    assert target.state == S.FAILED
    assert "Unsupported image aspect ratio" in target.last_error
    assert len(fake_instagram.requests_to("POST media")) == 1 and fake_instagram.published_media() == []


def test_expired_token_parks_the_account(ctx, account, fake_instagram):
    fake_instagram.expire_token()
    target = _target(ctx, account, "No saldrá")
    assert target.state == S.NEEDS_ATTENTION
    account.refresh_from_db()
    assert account.status == SocialAccount.Status.NEEDS_RECONNECT
    assert fake_instagram.published_media() == []
    (attempt,) = _attempts(target)
    assert "code=190" in attempt.error_detail and fake_instagram.token not in attempt.error_detail


def test_quota_exhausted_makes_the_account_wait_and_creates_nothing(ctx, account, fake_instagram):
    fake_instagram.set_quota_used(25)
    before = datetime.now(timezone.utc)
    target = _target(ctx, account, "Mañana")
    assert target.state == S.SCHEDULED
    account.refresh_from_db()
    assert account.blocked_until is not None and account.blocked_until >= before + timedelta(minutes=59)
    assert target.next_attempt_at >= before + timedelta(minutes=59)
    (attempt,) = _attempts(target)
    assert attempt.error_kind == "rate_limited" and "25 posts" in attempt.user_message
    assert fake_instagram.requests_to("POST media") == []


def test_first_comment_goes_under_the_post(ctx, account, fake_instagram):
    from tertulia.publishing.tests.conftest import drain

    target = _target(ctx, account, "Con comentario", first_comment="Reserva en el enlace de la bio")
    target = drain(target, until=lambda t: t.state == S.PUBLISHED and bool(t.comment_external_id)
                   and not t.comment_external_id.startswith("pending:"))
    comment = fake_instagram.comments[target.comment_external_id]
    assert comment["media_id"] == target.external_id and comment["username"] == fake_instagram.username
    assert comment["text"] == "Reserva en el enlace de la bio"
