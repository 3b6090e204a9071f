"""End to end through the publishing engine to the fake YouTube API: a scheduled video post
with its thumbnail and video settings goes out once; a consumer whose upload is cut again and
again stops and the next attempt resumes the stored (encrypted) session; the daily quota is
kept in the database and postpones work until the Pacific reset; a revoked sign-in parks the
account; comments reach the inbox and show escaped."""

from __future__ import annotations

import hashlib
import io
import os
from datetime import datetime, timedelta, timezone

import pytest
from django.db import connection
from huey.contrib.djhuey import HUEY

from tertulia.networks.models import SocialAccount, YouTubeQuota, YouTubeUpload
from tertulia.networks.youtube.connector import CHUNK_UNIT
from tertulia.publishing import engine, services
from tertulia.publishing.models import DeliveryAttempt, PostTarget

S = PostTarget.State
SIZE = 2 * CHUNK_UNIT + 999
pytestmark = pytest.mark.django_db(transaction=True)


def png() -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (64, 36), (200, 30, 30)).save(out, format="PNG")
    return out.getvalue()


@pytest.fixture(autouse=True)
def publishing_settings(settings, fake_youtube, tmp_path):
    from django.utils import translation

    from tertulia.networks.ratelimit import BUCKETS
    from tertulia.publishing.engine import RATE_BOOK

    settings.MEDIA_ROOT = str(tmp_path)
    settings.PUBLISHING = {
        **settings.PUBLISHING, "BACKOFF_BASE": 0.05, "BACKOFF_CAP": 0.2, "MAX_ATTEMPTS": 4,
        "LEASE_SECONDS": 60.0, "SWEEP_GRACE_SECONDS": 0.0,
        "HTTP": {"connect_timeout": 2.0, "read_timeout": 2.0, "write_timeout": 2.0, "allow_private_networks": True},
    }
    settings.NETWORK_APPS = {**settings.NETWORK_APPS, "youtube": {
        "client_id": fake_youtube.client_id, "client_secret": fake_youtube.client_secret}}
    settings.NETWORK_ENDPOINTS = {"youtube": {"auth": fake_youtube.base_url, "token": fake_youtube.base_url,
                                              "api": fake_youtube.base_url}}
    HUEY.flush()
    BUCKETS.clear()
    RATE_BOOK._states.clear()
    with translation.override("en"):
        yield
    HUEY.flush()


@pytest.fixture
def ctx(tenant):
    from tertulia.core.models import Membership
    from tertulia.core.services import Ctx

    brand, _people = tenant("Tube")
    return Ctx(Membership.objects.get(brand=brand, role="owner").user, via="test"), brand


@pytest.fixture
def account(ctx, fake_youtube):
    from tertulia.networks.services import do_add_account

    context, brand = ctx
    answer = fake_youtube.issue()
    account = do_add_account(context, brand, network="youtube", handle="@cafetertulia",
                             access_token=answer["access_token"], refresh_token=answer["refresh_token"],
                             base_url=fake_youtube.base_url, external_id=fake_youtube.channel["id"])
    SocialAccount.objects.filter(pk=account.pk).update(token_expires_at=datetime.now(timezone.utc) + timedelta(hours=1))
    account.refresh_from_db()
    return account


def _asset(brand, name, content, kind, mime):
    from django.core.files.base import ContentFile

    from tertulia.content.models import MediaAsset

    return MediaAsset.objects.create(brand=brand, file=ContentFile(content, name=name), kind=kind, mime_type=mime,
                                     size_bytes=len(content), sha256=hashlib.sha256(content).hexdigest())


def _target(ctx, account, text, *, video: bytes, thumbnail: bytes | None = None, schedule=True, settings_row=None):
    from tertulia.content.approvals import do_mark_approved
    from tertulia.content.models import PostMedia
    from tertulia.content.services import do_create_post

    context, brand = ctx
    post = do_create_post(context, brand, text=text, accounts=[account], submit=True)
    do_mark_approved(context, post)
    PostMedia.objects.create(post=post, asset=_asset(brand, "clip.mp4", video, "video", "video/mp4"), position=0)
    if thumbnail:
        PostMedia.objects.create(post=post, asset=_asset(brand, "thumb.png", thumbnail, "image", "image/png"),
                                 position=1)
    if settings_row:
        from tertulia.networks.youtube.services import do_set_video_settings

        do_set_video_settings(context, post, **settings_row)
    target = post.targets.select_related("account", "post", "brand").get()
    if schedule:
        services.do_schedule(context, target, due_at=datetime.now(timezone.utc) - timedelta(seconds=1))
        target.refresh_from_db()
    return target


def _again(target):
    """The retry the engine queued for later, now."""
    PostTarget.objects.filter(pk=target.pk).update(next_attempt_at=datetime.now(timezone.utc) - timedelta(seconds=1))
    SocialAccount.objects.filter(pk=target.account_id).update(blocked_until=None)
    target.refresh_from_db()
    engine.publish(target.pk, target.version)
    target.refresh_from_db()
    return target


def test_video_post_with_settings_and_thumbnail_goes_out_once(ctx, account, fake_youtube):
    when = datetime.now(timezone.utc).replace(microsecond=0) + timedelta(days=3)
    data = os.urandom(SIZE)
    target = _target(ctx, account, "Café de olla paso a paso #cafe", video=data, thumbnail=png(),
                     settings_row={"title": "Café de olla", "tags": "receta, café mexicano", "privacy": "private",
                                   "publish_at": when})
    assert target.state == S.PUBLISHED, target.last_error
    video = fake_youtube.videos[target.external_id]
    assert video["content"] == data and video["title"] == "Café de olla"
    assert video["tags"] == ["receta", "café mexicano", target.marker]
    assert video["privacy"] == "private" and video["publishAt"] == when.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert video["description"] == "Café de olla paso a paso #cafe"
    assert fake_youtube.thumbnails[target.external_id] == png()
    assert target.external_url == f"https://www.youtube.com/watch?v={target.external_id}"
    upload = YouTubeUpload.objects.get(account=account, marker=target.marker)
    assert upload.video_id == target.external_id and upload.thumbnail_done
    # The units are in the database ledger, for every consumer to see.
    assert YouTubeQuota.objects.get(project=fake_youtube.client_id).units == 1650 == fake_youtube.used()


def test_cut_upload_resumes_on_the_next_attempt_from_the_stored_session(ctx, account, fake_youtube):
    data = os.urandom(SIZE)
    fake_youtube.cut_upload(after=1000, times=6)  # more cuts than one attempt resumes: it gives up
    target = _target(ctx, account, "Receta larga", video=data)
    assert target.state == S.SCHEDULED
    assert DeliveryAttempt.objects.get(target=target).error_kind == "retryable"
    upload = YouTubeUpload.objects.get(account=account, marker=target.marker)
    assert upload.session_uri.startswith(fake_youtube.base_url) and not upload.video_id
    with connection.cursor() as cursor:  # the session URI is a secret: encrypted at rest
        cursor.execute("SELECT session_uri FROM networks_youtubeupload WHERE id = %s", [upload.pk])
        assert "upload_id" not in cursor.fetchone()[0]
    target = _again(target)
    assert target.state == S.PUBLISHED, target.last_error
    assert fake_youtube.videos[target.external_id]["content"] == data
    assert fake_youtube.received_bytes == SIZE  # every byte once
    assert len(fake_youtube.requests_to("POST /upload/youtube/v3/videos")) == 1
    assert YouTubeQuota.objects.get(project=fake_youtube.client_id).units == 1600  # one upload's units


def test_quota_postpones_the_upload_until_the_pacific_reset(ctx, account, fake_youtube):
    from tertulia.networks.youtube import quota

    YouTubeQuota.objects.create(project=fake_youtube.client_id, day=quota.quota_day(), units=9000)
    target = _target(ctx, account, "Mañana", video=b"\0" * 5000)
    assert target.state == S.SCHEDULED
    attempt = DeliveryAttempt.objects.get(target=target)
    assert attempt.error_kind == "rate_limited"
    assert "midnight Pacific time" in target.last_error and "1,600 units" in target.last_error
    account.refresh_from_db()
    reset = quota.next_reset()
    assert abs((account.blocked_until - reset).total_seconds()) < 120
    assert fake_youtube.requests_to("POST /upload/youtube/v3/videos") == []


def test_invalid_settings_fail_with_youtube_rules(ctx, account, fake_youtube):
    target = _target(ctx, account, "x" * 3000 + "\n<b>más</b> " + "ñ" * 2000, video=b"\0" * 5000, schedule=False)
    from tertulia.networks.youtube.models import YouTubeVideoSettings

    YouTubeVideoSettings.objects.create(brand=target.brand, post=target.post, title="<b>hola</b>", privacy="public")
    services.do_schedule(ctx[0], target, due_at=datetime.now(timezone.utc) - timedelta(seconds=1))
    target.refresh_from_db()
    assert target.state == S.FAILED
    assert "< and >" in target.last_error
    assert fake_youtube.requests_to("POST /upload/youtube/v3/videos") == []


def test_revoked_sign_in_parks_the_account(ctx, account, fake_youtube):
    fake_youtube.revoke(account.refresh_token)
    fake_youtube.expire_token(account.access_token)
    target = _target(ctx, account, "Sin permiso", video=b"\0" * 5000)
    assert target.state == S.NEEDS_ATTENTION
    account.refresh_from_db()
    assert account.status == SocialAccount.Status.NEEDS_RECONNECT


def test_comments_reach_the_inbox_escaped(ctx, account, fake_youtube, client):
    from tertulia.core.tests.web_helpers import XSS, assert_escaped
    from tertulia.inbox.models import InboxSync
    from tertulia.inbox.polling import poll_account

    vid = next(iter(fake_youtube.videos))
    fake_youtube.add_comment(vid, f"Muy rico {XSS}", author=f"Eve {XSS}")
    sync = InboxSync.objects.create(account=account)
    outcome = poll_account(sync, datetime.now(timezone.utc))
    assert outcome.created == 1, outcome
    context, brand = ctx
    client.force_login(context.user)
    from django.urls import reverse

    page = client.get(reverse("section_inbox", args=[brand.pk])).content.decode()
    assert "Muy rico" in page
    assert_escaped(page, XSS)


def test_a_refused_thumbnail_is_published_with_a_warning_the_team_sees(ctx, account, fake_youtube):
    import json

    from django.utils import translation

    from tests.fakes.youtube import Fault, google_error

    fake_youtube.inject("POST /upload/youtube/v3/thumbnails/set", Fault(
        "status", status=403, body=json.dumps(google_error(403, "forbidden", "Custom thumbnails need a verified "
                                                                             "channel."))))
    target = _target(ctx, account, "Sin miniatura", video=os.urandom(SIZE), thumbnail=png())
    assert target.state == S.PUBLISHED and target.external_id in fake_youtube.videos
    assert target.external_id not in fake_youtube.thumbnails
    assert "did not take its thumbnail" in target.error_display()
    assert "only once it is verified" in target.last_error
    with translation.override("es"):
        assert "miniatura" in target.error_display()
