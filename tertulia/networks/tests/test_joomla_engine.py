"""End to end through the publishing engine (approval, schedule, delivery log) to the fake
Joomla site: a post goes out once; an ambiguous create is found, never posted twice; server
errors are retried; a revoked token parks the account; the inbox never polls Joomla."""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta, timezone

import pytest
from huey.contrib.djhuey import HUEY

from tertulia.networks.models import SocialAccount
from tertulia.publishing import services
from tertulia.publishing.models import DeliveryAttempt, PostTarget
from tests.fakes.joomla import Fault

S = PostTarget.State
pytestmark = pytest.mark.django_db(transaction=True)
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


@pytest.fixture(autouse=True)
def publishing_settings(settings):
    """Short backoff and timeouts; loopback allowed explicitly (DESIGN.md §7)."""
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
    yield
    HUEY.flush()
    BUCKETS.clear()
    RATE_BOOK._states.clear()


@pytest.fixture
def ctx(tenant):
    from tertulia.core.models import Membership
    from tertulia.core.services import Ctx

    brand, _people = tenant("Joomla engine")
    return Ctx(Membership.objects.get(brand=brand, role="owner").user, via="test"), brand


@pytest.fixture
def account(ctx, fake_joomla):
    from tertulia.networks.services import do_add_account

    context, brand = ctx
    return do_add_account(context, brand, network="joomla", handle="cafe.example", access_token=fake_joomla.token,
                          base_url=fake_joomla.base_url, options={"category": "Blog", "featured": True})


def _target(ctx, account, text, media=()):
    from django.core.files.base import ContentFile

    from tertulia.content.approvals import do_mark_approved
    from tertulia.content.models import MediaAsset, PostMedia
    from tertulia.content.services import do_create_post

    context, brand = ctx
    post = do_create_post(context, brand, text=text, accounts=[account], submit=True)
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


def _outcomes(target):
    return [a.outcome for a in DeliveryAttempt.objects.filter(target=target).order_by("started_at", "pk")]


def test_an_approved_post_goes_out_once_with_its_options(ctx, account, fake_joomla, settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path)
    target = _target(ctx, account, "Nueva carta <b>de otoño</b>\n\nCalabaza y castañas. #otoño",
                     media=[("cartel.png", PNG, "El cartel")])
    assert target.state == S.PUBLISHED
    (article,) = fake_joomla.live_articles()
    sent = fake_joomla.requests_to("POST", "/content/articles")[0].json()
    assert sent["title"] == "Nueva carta <b>de otoño</b>"  # text; Joomla's input filter drops the tags
    assert article["title"] == "Nueva carta de otoño"
    assert article["introtext"] == "<p>Calabaza y castañas. #otoño</p>"
    assert article["catid"] == fake_joomla.category_named("Blog")["id"] and article["featured"] == 1
    assert article["note"] == f"Tertulia {target.marker}"
    assert article["images"]["image_intro_alt"] == "El cartel" and len(fake_joomla.files) == 1
    assert [fake_joomla.tags[t]["title"] for t in article["tags"]] == ["otoño"]
    assert target.external_id == str(article["id"]) and target.external_url.startswith(fake_joomla.base_url)
    assert _outcomes(target) == ["published"]

    # Deleting it from the network (the post page's action): trashed, then deleted, on Joomla.
    from tertulia.publishing.deletion import do_delete_published

    context, _brand = ctx
    assert do_delete_published(context, target).state == S.DELETED
    assert fake_joomla.articles == {}
    assert [r.method for r in fake_joomla.requests[-2:]] == ["PATCH", "DELETE"]


def test_an_ambiguous_create_is_found_never_posted_twice(ctx, account, fake_joomla):
    fake_joomla.inject("POST /content/articles", Fault.timeout_after(2.0))
    target = _target(ctx, account, "Solo una vez\n\nde verdad")
    assert target.state == S.PUBLISHED
    (article,) = fake_joomla.live_articles()
    assert target.external_id == str(article["id"])
    assert _outcomes(target) == ["found"]
    assert len(fake_joomla.requests_to("POST", "/content/articles")) == 1


def test_server_errors_are_retried_then_published(ctx, account, fake_joomla):
    from tertulia.publishing.tests.conftest import drain

    fake_joomla.inject("POST /content/articles", Fault.server_error(503), times=2)
    target = drain(_target(ctx, account, "Reintento\n\ncuerpo"))
    assert target.state == S.PUBLISHED and target.attempts == 3
    assert _outcomes(target) == ["retry", "retry", "published"]
    assert len(fake_joomla.live_articles()) == 1


def test_a_revoked_token_parks_the_account(ctx, account, fake_joomla):
    fake_joomla.expire_token()
    target = _target(ctx, account, "No saldrá")
    assert target.state == S.NEEDS_ATTENTION
    account.refresh_from_db()
    assert account.status == SocialAccount.Status.NEEDS_RECONNECT
    assert fake_joomla.token not in target.last_error
    for attempt in DeliveryAttempt.objects.filter(target=target):
        assert fake_joomla.token not in attempt.error_detail + attempt.user_message
    assert fake_joomla.live_articles() == []


def test_an_unknown_category_fails_with_the_fix(ctx, account, fake_joomla):
    from tertulia.networks.services import do_update_account

    context, _brand = ctx
    do_update_account(context, account, options={"category": "Recetas"})
    target = _target(ctx, account, "Sin categoría")
    assert target.state == S.FAILED
    assert 'The category "Recetas" does not exist on the Joomla site' in target.last_error
    assert fake_joomla.live_articles() == []


def test_the_inbox_never_polls_a_joomla_account(ctx, account, fake_joomla):
    from tertulia.inbox.models import InboxSync
    from tertulia.inbox.polling import poll_due_accounts, poll_now

    result = poll_due_accounts()
    assert str(account.pk) not in result["outcomes"]
    assert poll_now([account.pk]) == {account.pk: "skipped"}
    assert not InboxSync.objects.filter(account=account).exists()
    assert fake_joomla.requests == []
