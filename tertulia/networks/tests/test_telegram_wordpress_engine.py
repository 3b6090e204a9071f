"""End to end through the publishing engine (``tertulia.publishing``) to the fake Telegram
Bot API and the fake WordPress site: a scheduled post goes out once; an ambiguous send is
reconciled, not re-posted; a revoked secret parks the account."""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta, timezone

import pytest
from huey.contrib.djhuey import HUEY

from tertulia.networks.models import SocialAccount
from tertulia.publishing import services
from tertulia.publishing.models import DeliveryAttempt, PostTarget
from tests.fakes.telegram import Fault as TelegramFault
from tests.fakes.wordpress import Fault as WordPressFault

S = PostTarget.State
pytestmark = pytest.mark.django_db(transaction=True)


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

    brand, _people = tenant("Engine")
    return Ctx(Membership.objects.get(brand=brand, role="owner").user, via="test"), brand


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
                                          sha256=hashlib.sha256(name.encode() + content).hexdigest(),
                                          alt_text=alt)
        PostMedia.objects.create(post=post, asset=asset)
    target = post.targets.select_related("account", "post", "brand").get()
    services.do_schedule(context, target, due_at=datetime.now(timezone.utc) - timedelta(seconds=1))
    target.refresh_from_db()
    return target


def _attempts(target):
    return list(DeliveryAttempt.objects.filter(target=target).order_by("started_at", "pk"))


@pytest.fixture
def telegram_account(ctx, fake_telegram):
    from tertulia.networks.services import do_add_account

    context, brand = ctx
    return do_add_account(context, brand, network="telegram", handle="cafetertulia", access_token=fake_telegram.token,
                          base_url=fake_telegram.base_url)


@pytest.fixture
def wordpress_account(ctx, fake_wordpress):
    from tertulia.networks.services import do_add_account

    context, brand = ctx
    return do_add_account(context, brand, network="wordpress", handle=fake_wordpress.username,
                          access_token=fake_wordpress.app_password, base_url=fake_wordpress.base_url)


def test_telegram_post_goes_out_once(ctx, telegram_account, fake_telegram):
    assert telegram_account.handle == "@cafetertulia"  # the service adds the @
    target = _target(ctx, telegram_account, "Hoy tertulia a las 19 h <b>¡ven!</b> & trae un libro")
    assert target.state == S.PUBLISHED
    (post,) = fake_telegram.channel_posts()
    assert post["text"] == "Hoy tertulia a las 19 h <b>¡ven!</b> & trae un libro"
    assert target.external_id == str(post["message_id"])
    assert target.external_url == f"https://t.me/cafetertulia/{post['message_id']}"
    assert [a.outcome for a in _attempts(target)] == ["published"]


def test_telegram_ambiguous_send_is_found_not_reposted(ctx, telegram_account, fake_telegram):
    fake_telegram.inject("sendMessage", TelegramFault.timeout_after(2.0))
    target = _target(ctx, telegram_account, "Una sola vez, por favor")
    assert target.state == S.PUBLISHED
    (post,) = fake_telegram.channel_posts()
    assert target.external_id == str(post["message_id"])
    (attempt,) = _attempts(target)
    assert attempt.outcome == "found" and attempt.error_kind == "ambiguous"
    assert len(fake_telegram.requests_to("sendMessage")) == 1


def test_telegram_bot_removed_fails_with_the_plain_fix(ctx, telegram_account, fake_telegram):
    fake_telegram.remove_bot_from_channel()
    target = _target(ctx, telegram_account, "No saldrá")
    assert target.state == S.FAILED
    assert "Add the bot to the channel as an administrator" in target.last_error


def test_telegram_revoked_token_parks_the_account(ctx, telegram_account, fake_telegram):
    fake_telegram.expire_token()
    target = _target(ctx, telegram_account, "No saldrá")
    assert target.state == S.NEEDS_ATTENTION
    telegram_account.refresh_from_db()
    assert telegram_account.status == SocialAccount.Status.NEEDS_RECONNECT
    assert fake_telegram.channel_posts() == []


def test_wordpress_post_goes_out_once(ctx, wordpress_account, fake_wordpress):
    target = _target(ctx, wordpress_account, "Nueva carta de otoño\n\nCalabaza y castañas. #otoño")
    assert target.state == S.PUBLISHED
    (post,) = fake_wordpress.live_posts()
    assert post["title"] == "Nueva carta de otoño" and post["status"] == "publish"
    assert [fake_wordpress.terms["tags"][t]["name"] for t in post["tags"]] == ["otoño"]
    assert target.external_id == str(post["id"]) and target.external_url.startswith(fake_wordpress.base_url)


def test_wordpress_ambiguous_create_is_found_not_reposted(ctx, wordpress_account, fake_wordpress):
    fake_wordpress.inject("POST /wp/v2/posts", WordPressFault.timeout_after(2.0))
    target = _target(ctx, wordpress_account, "Solo una vez\n\nde verdad")
    assert target.state == S.PUBLISHED
    (post,) = fake_wordpress.live_posts()
    assert target.external_id == str(post["id"])
    assert [a.outcome for a in _attempts(target)] == ["found"]


def test_wordpress_503_is_retried_then_published(ctx, wordpress_account, fake_wordpress):
    from tertulia.publishing.tests.conftest import drain

    fake_wordpress.inject("POST /wp/v2/posts", WordPressFault.server_error(503), times=2)
    target = drain(_target(ctx, wordpress_account, "Reintento\n\ncuerpo"))
    assert target.state == S.PUBLISHED and target.attempts == 3
    assert [a.outcome for a in _attempts(target)] == ["retry", "retry", "published"]
    assert len(fake_wordpress.live_posts()) == 1


def test_wordpress_revoked_password_parks_the_account(ctx, wordpress_account, fake_wordpress):
    fake_wordpress.expire_token()
    target = _target(ctx, wordpress_account, "No saldrá")
    assert target.state == S.NEEDS_ATTENTION
    wordpress_account.refresh_from_db()
    assert wordpress_account.status == SocialAccount.Status.NEEDS_RECONNECT
    assert fake_wordpress.app_password not in target.last_error
    for attempt in _attempts(target):
        assert fake_wordpress.app_password not in attempt.error_detail + attempt.user_message


def test_telegram_without_a_discussion_group_stays_unconfirmed_never_reposts(ctx):
    from tests.fakes.telegram import FakeTelegram
    from tertulia.networks.services import do_add_account
    from tertulia.publishing import engine

    context, brand = ctx
    with FakeTelegram(discussion_group=False) as fake:
        account = do_add_account(context, brand, network="telegram", handle="cafetertulia", access_token=fake.token,
                                 base_url=fake.base_url)
        fake.inject("sendMessage", TelegramFault.timeout_after(2.0))
        target = _target(ctx, account, "¿Salió o no salió?")
        assert target.state == S.PUBLISHING  # not known: kept for the sweeper, not sent again
        (attempt,) = _attempts(target)
        assert attempt.outcome == "unconfirmed"
        assert engine.reconcile(target.pk, target.version) in ("early", "unconfirmed")
        assert len(fake.requests_to("sendMessage")) == 1 and len(fake.channel_posts()) == 1


PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


def test_telegram_album_from_the_media_library(ctx, telegram_account, fake_telegram, settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path)
    target = _target(ctx, telegram_account, "Dos carteles", media=[("a.png", PNG, "uno"), ("b.png", PNG, "dos")])
    assert target.state == S.PUBLISHED
    posts = fake_telegram.channel_posts()
    assert [p.get("caption") for p in posts] == ["Dos carteles", None]
    assert target.external_id == ",".join(str(p["message_id"]) for p in posts)


def test_wordpress_featured_image_from_the_media_library(ctx, wordpress_account, fake_wordpress, settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path)
    target = _target(ctx, wordpress_account, "Cartel del festival\n\nTodo el programa.",
                     media=[("cartel.png", PNG, "El cartel del festival")])
    assert target.state == S.PUBLISHED
    (post,) = fake_wordpress.live_posts()
    assert fake_wordpress.media[post["featured_media"]]["alt_text"] == "El cartel del festival"


def test_wordpress_account_options_drafts_and_categories_reach_the_blog(ctx, wordpress_account, fake_wordpress):
    """The team chose, on the account, that posts arrive as drafts in an existing category."""
    from tertulia.networks.services import do_update_account

    context, _brand = ctx
    do_update_account(context, wordpress_account,
                      options={"post_status": "draft", "categories": "Noticias & eventos,  noticias & EVENTOS"})
    wordpress_account.refresh_from_db()
    assert wordpress_account.options == {"post_status": "draft", "categories": ["Noticias & eventos"]}
    target = _target(ctx, wordpress_account, "Carta de invierno\n\nSopas y guisos.")
    assert target.state == S.PUBLISHED
    (post,) = fake_wordpress.live_posts()
    assert post["status"] == "draft"
    # WordPress stores term names HTML-escaped ("Noticias &amp; eventos"); the slug names it plainly.
    assert [fake_wordpress.terms["categories"][c]["slug"] for c in post["categories"]] == ["noticias-eventos"]


@pytest.mark.parametrize("options", [
    {"post_status": "private"}, {"post_status": "publish", "secret": 1}, {"categories": ["x" * 101]},
    {"categories": [f"c{i}" for i in range(21)]}, "draft",
])
def test_wordpress_account_options_refuse_bad_values(ctx, wordpress_account, options):
    from django.core.exceptions import ValidationError

    from tertulia.networks.services import do_update_account

    with pytest.raises(ValidationError):
        do_update_account(ctx[0], wordpress_account, options=options)
    wordpress_account.refresh_from_db()
    assert wordpress_account.options == {}


def test_options_are_refused_for_networks_without_them(ctx, telegram_account):
    from django.core.exceptions import ValidationError

    from tertulia.networks.services import do_update_account

    with pytest.raises(ValidationError):
        do_update_account(ctx[0], telegram_account, options={"post_status": "draft"})


def test_a_hostile_site_cannot_store_a_script_link(ctx, wordpress_account, fake_wordpress, monkeypatch):
    """The site is the user's choice; its answer is untrusted. A ``javascript:`` link is not
    stored, so no page or API client ever gets it as the post's address."""
    render = fake_wordpress.render_post

    def hostile(post, context):
        return {**render(post, context), "link": "javascript:alert(document.cookie)"}

    monkeypatch.setattr(fake_wordpress, "render_post", hostile)
    target = _target(ctx, wordpress_account, "Enlace raro\n\ncuerpo")
    assert target.state == S.PUBLISHED and target.external_id
    assert target.external_url == ""


@pytest.mark.parametrize("value, expected", [
    ("https://blog.example.com/a/", "https://blog.example.com/a/"),
    ("http://blog.example.com/?p=1", "http://blog.example.com/?p=1"),
    ("javascript:alert(1)", ""), ("data:text/html,<script>", ""), ("  JAVASCRIPT:x", ""),
    ("https://ex.com/\x00x", "https://ex.com/x"), ("//evil.example/x", ""), (None, ""), (42, ""),
    ("https://ex.com/" + "a" * 2000, ""),
])
def test_safe_url_keeps_only_http_links(value, expected):
    from tertulia.networks.http import safe_url

    assert safe_url(value) == expected
