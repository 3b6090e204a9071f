"""Reading other accounts' public numbers and posts (competitor tracking) from Mastodon, Bluesky
and X, against their loopback fakes: counts, formats, links, an unknown handle, a 429, and X's
plan refusal."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from tertulia.networks.base import Connector
from tertulia.networks.errors import Permanent, RateLimited, Unsupported
from tests.fakes.bluesky import Fault as BlueskyFault
from tests.fakes.bluesky_plugin import bluesky, bluesky_http_config, fake_bluesky  # noqa: F401
from tests.fakes.mastodon import Fault as MastodonFault
from tests.fakes.pytest_plugin import fake_mastodon, mastodon, mastodon_http_config  # noqa: F401
from tests.fakes.x import Fault as XFault
from tests.fakes.x_plugin import fake_x, x, x_http_config  # noqa: F401



@pytest.fixture(autouse=True)
def _english():
    from django.utils import translation

    with translation.override("en"):
        yield

@pytest.fixture(autouse=True)
def _fresh_rate_buckets():
    from tertulia.networks.ratelimit import BUCKETS

    BUCKETS.clear()
    yield
    BUCKETS.clear()


def test_the_interface_says_unsupported_by_default():
    class Bare(Connector):
        network = "telegram"
        publish = delete = find_published = fetch_profile = fetch_post_metrics = None
        fetch_interactions = reply = limits = None

    Bare.__abstractmethods__ = frozenset()
    with Bare(base_url="http://127.0.0.1:9") as bare:
        with pytest.raises(Unsupported) as caught:
            bare.fetch_public_account("alguien")
        assert "CSV" in str(caught.value.user_message)
        with pytest.raises(Unsupported):
            bare.fetch_public_posts("alguien")


def test_mastodon_public_account_and_posts(mastodon, fake_mastodon):
    fake_mastodon.add_account("molienda", display_name="Molienda <b>café</b>", followers=321)
    fake_mastodon.post_as("molienda", "Antiguo", created_at=datetime.now(timezone.utc) - timedelta(days=30))
    photo = fake_mastodon.post_as("molienda", "Nuevo tueste <script>x</script>")
    fake_mastodon.attach_media(photo["id"], "image", "image")
    clip = fake_mastodon.post_as("molienda", "Así se muele")
    fake_mastodon.attach_media(clip["id"], "video")
    fake_mastodon.set_counts(photo["id"], favourites=12, reblogs=3)
    fake_mastodon.post_as("admin", "@molienda ¡rico!", in_reply_to=photo["id"])
    fake_mastodon.post_as("molienda", "respuesta propia", in_reply_to=photo["id"])  # a reply: left out

    profile = mastodon.fetch_public_account(f"@molienda@{fake_mastodon.netloc}")
    assert (profile.followers, profile.posts) == (321, 4)
    assert profile.handle == f"@molienda@{fake_mastodon.netloc}"
    assert profile.display_name == "Molienda <b>café</b>"  # plain text, escaped where shown

    since = datetime.now(timezone.utc) - timedelta(days=7)
    posts = mastodon.fetch_public_posts("molienda", since=since)
    by_text = {p.text: p for p in posts}
    assert set(by_text) == {"Nuevo tueste <script>x</script>", "Así se muele"}  # not the old one, no replies
    assert by_text["Nuevo tueste <script>x</script>"].media_kinds == ("image", "image")
    assert (by_text["Nuevo tueste <script>x</script>"].likes, by_text["Nuevo tueste <script>x</script>"].shares,
            by_text["Nuevo tueste <script>x</script>"].comments) == (12, 3, 2)
    assert by_text["Así se muele"].media_kinds == ("video",)
    assert [r.path for r in fake_mastodon.requests if "/statuses" in r.path][-1].endswith(f"/{profile.external_id}/statuses")

    # Someone on another server: unknown to this one until it resolves the address.
    fake_mastodon.resolvable["tostadores@cafe.example"] = ("tostadores", "cafe.example")
    remote = mastodon.fetch_public_account("@tostadores@cafe.example")
    assert remote.handle == "@tostadores@cafe.example" and remote.followers == 0
    assert mastodon.fetch_public_account("tostadores@cafe.example").external_id == remote.external_id  # now known

    with pytest.raises(Permanent) as unknown:
        mastodon.fetch_public_account("nadie")
    with pytest.raises(Permanent):
        mastodon.fetch_public_account("nadie@otro.example")  # not even by resolving
    assert unknown.value.status == 404 and "does not know" in str(unknown.value.user_message)
    with pytest.raises(Permanent):
        mastodon.fetch_public_posts("../../admin")  # never reaches a URL path
    fake_mastodon.inject("GET /api/v1/accounts/lookup", MastodonFault.rate_limited(reset_in=90))
    with pytest.raises(RateLimited) as slow:
        mastodon.fetch_public_account("molienda")
    assert slow.value.retry_after and slow.value.retry_after > 30


def test_bluesky_public_account_and_posts(bluesky, fake_bluesky):
    fake_bluesky.add_account("molienda.bsky.social", display_name="Molienda", followers=900, follows=12)
    image = {"$type": "app.bsky.embed.images", "images": [
        {"alt": "", "image": {"$type": "blob", "ref": {"$link": "bafkreiaaa"}, "mimeType": "image/jpeg", "size": 10}}]}
    link = {"$type": "app.bsky.embed.external", "external": {"uri": "https://molienda.example/blog", "title": "Blog",
                                                              "description": ""}}
    first = fake_bluesky.post_as("molienda.bsky.social", "Foto del día", embed=image)
    fake_bluesky.post_as("molienda.bsky.social", "Lee el blog", embed=link)
    fake_bluesky.post_as("molienda.bsky.social", "Texto sin más")
    fake_bluesky.set_counts(first["uri"], likes=40, reposts=5, quotes=1)

    profile = bluesky.fetch_public_account("@molienda.bsky.social")
    assert (profile.followers, profile.following, profile.posts) == (900, 12, 3)
    posts = bluesky.fetch_public_posts("molienda.bsky.social", limit=10)
    assert [p.text for p in posts] == ["Texto sin más", "Lee el blog", "Foto del día"]
    assert posts[2].media_kinds == ("image",) and (posts[2].likes, posts[2].shares) == (40, 6)
    assert posts[1].link == "https://molienda.example/blog" and posts[1].media_kinds == ()
    assert posts[0].media_kinds == () and posts[0].link == ""

    with pytest.raises(Permanent) as unknown:
        bluesky.fetch_public_account("nadie.bsky.social")
    assert "does not know" in str(unknown.value.user_message)
    fake_bluesky.inject("GET app.bsky.feed.getAuthorFeed", BlueskyFault.rate_limited(reset_in=60))
    with pytest.raises(RateLimited):
        bluesky.fetch_public_posts("molienda.bsky.social")


def test_x_public_account_posts_and_plan(x, fake_x):
    fake_x.add_user("molienda", "Molienda", public_metrics={"followers_count": 5000, "following_count": 10,
                                                           "tweet_count": 42, "listed_count": 1})
    fake_x.add_public_post("molienda", "Carrusel", media=("photo", "photo", "photo"), likes=10, replies=2,
                           retweets=3, quotes=1, impressions=900)
    fake_x.add_public_post("molienda", "Vídeo", media=("video",), likes=1)
    fake_x.add_public_post("molienda", "Antiguo", when=datetime.now(timezone.utc) - timedelta(days=40))

    profile = x.fetch_public_account("@molienda")
    assert (profile.followers, profile.following, profile.posts) == (5000, 10, 42)
    posts = x.fetch_public_posts("molienda", since=datetime.now(timezone.utc) - timedelta(days=7))
    by_text = {p.text: p for p in posts}
    assert set(by_text) == {"Carrusel", "Vídeo"}
    carousel = by_text["Carrusel"]
    assert carousel.media_kinds == ("image", "image", "image")
    assert (carousel.likes, carousel.comments, carousel.shares, carousel.views) == (10, 2, 4, 900)
    assert by_text["Vídeo"].media_kinds == ("video",)

    with pytest.raises(Permanent) as unknown:
        x.fetch_public_account("nadie_aqui")
    assert unknown.value.status == 404 and "does not know" in str(unknown.value.user_message)
    fake_x.not_in_plan.add("GET /2/users/:id/tweets")
    with pytest.raises(Unsupported) as plan:
        x.fetch_public_posts("molienda")
    assert "plan" in str(plan.value.user_message)
    fake_x.inject("GET /2/users/by/username/:username", XFault.rate_limited(reset_in=120))
    with pytest.raises(RateLimited):
        x.fetch_public_account("molienda")
