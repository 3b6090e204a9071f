"""analytics.collect end to end against the loopback fake Mastodon and Bluesky: profile and post
samples, the PostMetricLatest upsert (late and duplicated samples), posts gone on the network,
metric deprecation, expired tokens and backoff, leases, and the adaptive interval."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from tertulia.analytics import collect, services
from tertulia.analytics.models import MetricsSync, PostMetricLatest, PostMetricSnapshot, ProfileSnapshot
from tertulia.core.services import Ctx
from tertulia.networks.models import SocialAccount
from tertulia.networks.services import do_add_account
from tertulia.publishing.models import PostTarget
from tests.fakes.bluesky_plugin import fake_bluesky  # noqa: F401
from tests.fakes.mastodon import Fault
from tests.fakes.pytest_plugin import fake_mastodon  # noqa: F401

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def loopback(settings):
    from tertulia.networks.ratelimit import BUCKETS
    from tertulia.publishing.engine import RATE_BOOK

    settings.PUBLISHING = {**settings.PUBLISHING, "HTTP": {
        "connect_timeout": 2.0, "read_timeout": 3.0, "write_timeout": 2.0, "allow_private_networks": True}}
    settings.ANALYTICS_METRICS = {"JITTER": 0.0, "WORKERS": 1}
    BUCKETS.clear()
    RATE_BOOK._states.clear()
    yield
    BUCKETS.clear()
    RATE_BOOK._states.clear()


@pytest.fixture
def owner(brand_a):
    brand, people = brand_a
    return Ctx(people["owner"], via="test"), brand


@pytest.fixture
def masto(owner, fake_mastodon):
    ctx, brand = owner
    return do_add_account(ctx, brand, network="mastodon", handle=f"{fake_mastodon.own['username']}@fake.example",
                          access_token=fake_mastodon.token, base_url=fake_mastodon.base_url,
                          external_id=fake_mastodon.own["id"])


def published(owner, account, external_id, *, hours_ago: float = 1.0) -> PostTarget:
    from tertulia.content.services import do_create_post

    ctx, brand = owner
    post = do_create_post(ctx, brand, text="Nuestro café de temporada", accounts=[account])
    PostTarget.objects.filter(post=post).update(state=PostTarget.State.PUBLISHED, external_id=external_id,
                                                published_at=timezone.now() - timedelta(hours=hours_ago))
    return PostTarget.objects.get(post=post)


def make_due(account):
    MetricsSync.objects.filter(account=account).update(next_run_at=timezone.now() - timedelta(seconds=1))


def test_mastodon_profile_and_posts_end_to_end(fake_mastodon, owner, masto):
    s1 = fake_mastodon.post_as(fake_mastodon.own["username"], "uno")
    s2 = fake_mastodon.post_as(fake_mastodon.own["username"], "dos")
    fake_mastodon.set_counts(s1["id"], favourites=7, reblogs=2)
    fake_mastodon.post_as("admin", "respuesta", in_reply_to=s1["id"])
    t1 = published(owner, masto, s1["id"])
    t2 = published(owner, masto, s2["id"], hours_ago=24 * 200)  # old: read, then weekly
    gone = published(owner, masto, "999999999")  # deleted on the network: not an error

    result = collect.collect_due_accounts()
    assert result["outcomes"] == {str(masto.pk): "ok"}
    sync = MetricsSync.objects.get(account=masto)
    assert sync.last_error == "" and sync.failures == 0 and sync.lease_until is None
    assert sync.interval_seconds == collect.conf("MIN_INTERVAL")  # a fresh post
    assert sync.profile["read_at"] and "display_name" in sync.profile
    assert ProfileSnapshot.objects.filter(account=masto).count() == 1
    latest = PostMetricLatest.objects.get(target=t1)
    assert (latest.likes, latest.shares, latest.comments) == (7, 2, 1)
    assert latest.impressions is None and latest.reach is None  # Mastodon does not tell: NULL, not 0
    assert (latest.network, latest.account_id, latest.published_at) == ("mastodon", masto.pk, t1.published_at)
    assert PostMetricLatest.objects.filter(target=t2).exists()
    assert not PostMetricSnapshot.objects.filter(target=gone).exists()

    # Not due: nothing happens. Due again: the old post is skipped (read less than a week ago).
    assert collect.collect_due_accounts()["claimed"] == 0
    make_due(masto)
    fake_mastodon.set_counts(s1["id"], favourites=9)
    assert collect.collect_due_accounts()["outcomes"] == {str(masto.pk): "ok"}
    assert PostMetricSnapshot.objects.filter(target=t1).count() == 2
    assert PostMetricSnapshot.objects.filter(target=t2).count() == 1
    assert PostMetricLatest.objects.get(target=t1).likes == 9


def test_metric_deprecation_is_recorded_and_cleared(fake_mastodon, owner, masto):
    s1 = fake_mastodon.post_as(fake_mastodon.own["username"], "uno")
    fake_mastodon.set_counts(s1["id"], favourites=3)
    published(owner, masto, s1["id"])
    collect.collect_due_accounts()
    assert MetricsSync.objects.get(account=masto).missing_metrics == {}

    # The network stops sending favourites_count.
    real = fake_mastodon.render_status

    def without_favourites(status):
        out = real(status)
        out.pop("favourites_count", None)
        return out

    fake_mastodon.render_status = without_favourites
    make_due(masto)
    collect.collect_due_accounts()
    today = timezone.now().date()
    assert MetricsSync.objects.get(account=masto).missing_metrics == {"likes": today.isoformat()}
    assert collect.missing_metrics([masto.brand_id]) == {"mastodon": {"likes": today}}
    assert collect.missing_metrics([masto.brand_id + 999]) == {}

    fake_mastodon.render_status = real
    make_due(masto)
    collect.collect_due_accounts()
    assert MetricsSync.objects.get(account=masto).missing_metrics == {}


def test_expired_token_parks_the_account_and_errors_back_off(fake_mastodon, owner, masto):
    published(owner, masto, fake_mastodon.post_as(fake_mastodon.own["username"], "uno")["id"])
    fake_mastodon.inject("GET /api/v1/accounts/verify_credentials", Fault.server_error(503), times=1)
    assert collect.collect_due_accounts()["outcomes"] == {str(masto.pk): "retry"}
    sync = MetricsSync.objects.get(account=masto)
    assert sync.failures == 1 and sync.last_error == collect.MSG_RETRY and sync.next_run_at > timezone.now()

    make_due(masto)
    fake_mastodon.expire_token()
    assert collect.collect_due_accounts()["outcomes"] == {str(masto.pk): "needs_reconnect"}
    masto.refresh_from_db()
    assert masto.status == SocialAccount.Status.NEEDS_RECONNECT
    assert MetricsSync.objects.get(account=masto).last_error == collect.MSG_AUTH
    make_due(masto)
    assert collect.collect_due_accounts()["claimed"] == 0  # a parked account is not read


def test_rate_limited_waits_past_the_reset_and_the_task_runs(fake_mastodon, owner, masto):
    from tertulia.analytics import tasks

    published(owner, masto, fake_mastodon.post_as(fake_mastodon.own["username"], "uno")["id"])
    fake_mastodon.inject("GET /api/v1/accounts/verify_credentials", Fault.rate_limited(reset_in=7200,
                                                                                      retry_after=7200), times=5)
    assert tasks.collect_due_metrics.call_local()["outcomes"] == {str(masto.pk): "rate_limited"}
    sync = MetricsSync.objects.get(account=masto)
    assert sync.next_run_at >= timezone.now() + timedelta(seconds=7000)
    assert sync.last_error == collect.MSG_RATE_LIMITED and sync.lease_until is None


def test_a_held_lease_is_not_claimed_twice(owner, masto):
    now = timezone.now()
    collect.ensure_syncs(now)
    sync = MetricsSync.objects.get(account=masto)
    assert collect.claim(sync.pk, now) is True
    assert collect.claim(sync.pk, now) is False
    assert collect.claim(sync.pk, now + timedelta(seconds=collect.conf("LEASE_SECONDS") + 1)) is True


def test_demo_workspaces_are_skipped(owner, masto):
    from tertulia.core.models import Organization

    Organization.objects.filter(pk=masto.brand.organization_id).update(is_demo=True)
    assert collect.collect_due_accounts()["claimed"] == 0
    assert not MetricsSync.objects.filter(account=masto).exists()


def test_bluesky_end_to_end(fake_bluesky, owner):
    from tertulia.networks.bluesky import jwt_expiry

    ctx, brand = owner
    sky = do_add_account(ctx, brand, network="bluesky", handle=fake_bluesky.own_handle,
                         access_token=fake_bluesky.access_jwt, refresh_token=fake_bluesky.refresh_jwt,
                         base_url=fake_bluesky.base_url, external_id=fake_bluesky.own_did)
    SocialAccount.objects.filter(pk=sky.pk).update(token_expires_at=jwt_expiry(fake_bluesky.access_jwt))
    post = fake_bluesky.post_as(fake_bluesky.own_handle, "Hola desde Bluesky")
    fake_bluesky.set_counts(post["uri"], likes=4, reposts=1, quotes=1)
    target = published(owner, sky, post["uri"], hours_ago=72)
    assert collect.collect_due_accounts()["outcomes"] == {str(sky.pk): "ok"}
    latest = PostMetricLatest.objects.get(target=target)
    assert (latest.likes, latest.shares, latest.network) == (4, 2, "bluesky")
    assert latest.impressions is None
    assert ProfileSnapshot.objects.get(account=sky).followers is not None
    assert MetricsSync.objects.get(account=sky).interval_seconds == collect.conf("BASE_INTERVAL")


def test_late_and_duplicated_samples(owner, masto):
    target = published(owner, masto, "1")
    now = timezone.now().replace(microsecond=0)
    newer = services.PostMetrics(target=target, taken_at=now, likes=10, comments=2)
    late = services.PostMetrics(target=target, taken_at=now - timedelta(hours=5), likes=4)
    later_late = services.PostMetrics(target=target, taken_at=now - timedelta(hours=2), likes=6)
    assert services.record_post_metrics([newer]) == 1
    assert services.record_post_metrics([late, later_late]) == 2  # history keeps both late ones
    kept = PostMetricLatest.objects.get(target=target)
    assert (kept.taken_at, kept.likes, kept.comments) == (now, 10, 2)  # latest unchanged
    assert services.record_post_metrics([newer, late]) == 0  # duplicates are no-ops
    assert PostMetricSnapshot.objects.filter(target=target).count() == 3
    assert PostMetricLatest.objects.count() == 1
    # A newer sample in the same batch as an older one wins.
    newest = services.PostMetrics(target=target, taken_at=now + timedelta(hours=1), likes=12)
    assert services.record_post_metrics([newest, services.PostMetrics(target=target, taken_at=now + timedelta(
        minutes=30), likes=11)]) == 2
    assert PostMetricLatest.objects.get(target=target).likes == 12


def test_read_now_from_the_status_page(client, fake_mastodon, owner, masto, brand_a, brand_b):
    from django.urls import reverse

    from tertulia.core.models import AuditEvent

    brand, people = brand_a
    published(owner, masto, fake_mastodon.post_as(fake_mastodon.own["username"], "uno")["id"])
    url = reverse("analytics_data_sync_read", args=[brand.pk, masto.pk])
    client.force_login(people["analyst"])
    assert client.post(url).status_code == 403
    client.force_login(people["community_manager"])
    assert client.get(url).status_code == 405
    response = client.post(url, follow=True)
    assert "read." in response.content.decode()
    assert ProfileSnapshot.objects.filter(account=masto).count() == 1
    assert AuditEvent.objects.filter(action="metrics.read_now", brand=brand).count() == 1
    # Read again at once: the row is not due, so it is read again (idle, no failures): a second sample.
    client.post(url)
    assert ProfileSnapshot.objects.filter(account=masto).count() == 2
    # While it backs off after a failure, "Read now" leaves it alone.
    MetricsSync.objects.filter(account=masto).update(failures=2, next_run_at=timezone.now() + timedelta(hours=1))
    response = client.post(url, follow=True)
    assert "cannot be read right now" in response.content.decode()
    # Another brand's account through this brand: 404.
    other, other_people = brand_b
    theirs = do_add_account(Ctx(other_people["owner"]), other, network="mastodon", handle="@beta@masto.es")
    assert client.post(reverse("analytics_data_sync_read", args=[brand.pk, theirs.pk])).status_code == 404
