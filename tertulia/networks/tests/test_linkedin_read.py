"""Reading a LinkedIn page against the loopback fake: profile and followers, share
statistics, follower gains and comments for the inbox; hostile content stays inert."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from django.utils import translation

from tertulia.networks.base import InteractionKind, PostPayload
from tertulia.networks.errors import Permanent
from tests.fakes.linkedin import ORG_ID
from tests.fakes.linkedin_plugin import fake_linkedin, linkedin, linkedin_http_config  # noqa: F401

@pytest.fixture(autouse=True)
def _english():
    """Messages are checked in English, whatever language an earlier test left active."""
    with translation.override("en"):
        yield


def test_profile_names_the_page_and_its_followers(linkedin, fake_linkedin):
    profile = linkedin.fetch_profile()
    assert profile.external_id == str(ORG_ID) and profile.handle == "cafetertulia"
    assert profile.display_name == "Café Tertulia" and profile.followers == 1234
    assert profile.url == "https://www.linkedin.com/company/cafetertulia/"
    (sizes,) = fake_linkedin.requests_to("network_sizes")
    assert sizes.query["edgeType"] == "COMPANY_FOLLOWED_BY_MEMBER"


def test_hostile_profile_fields_stay_plain_text(linkedin, fake_linkedin):
    fake_linkedin.organizations[ORG_ID].update(localizedName="<script>alert(1)</script>\x00" + "A" * 5000,
                                               vanityName="javascript:alert(1)", localizedDescription=["x"])
    profile = linkedin.fetch_profile()
    assert profile.display_name.startswith("<script>alert(1)</script>") and "\x00" not in profile.display_name
    assert len(profile.display_name) <= 200
    assert profile.handle == f"organization-{ORG_ID}"  # a vanity name that is not one is ignored
    assert profile.url == f"https://www.linkedin.com/company/{ORG_ID}/" and profile.bio == ""


def test_name_falls_back_to_the_localized_map(linkedin, fake_linkedin):
    del fake_linkedin.organizations[ORG_ID]["localizedName"]
    assert linkedin.fetch_profile().display_name == "Café Tertulia"


def test_post_metrics_from_share_statistics(linkedin, fake_linkedin):
    a = linkedin.publish(PostPayload(text="Uno")).external_id
    b = linkedin.publish(PostPayload(text="Dos")).external_id
    fake_linkedin.stats[a].update(impressionCount=900, uniqueImpressionsCount=700, clickCount=30, likeCount=12,
                                  commentCount=3, shareCount=2)
    metrics = linkedin.fetch_post_metrics([a, b, a])
    assert metrics[a].impressions == 900 and metrics[a].reach == 700 and metrics[a].clicks == 30
    assert (metrics[a].likes, metrics[a].comments, metrics[a].shares) == (12, 3, 2)
    assert metrics[a].saves is None and metrics[a].video_views is None  # not offered: NULL, never 0
    assert metrics[b].impressions == 0 and metrics[b].exists
    (request,) = fake_linkedin.requests_to("share_stats")
    assert request.query["shares"].startswith("List(urn%3Ali%3Ashare%3A")


def test_metrics_of_a_deleted_post_say_it_is_gone(linkedin, fake_linkedin):
    ref = linkedin.publish(PostPayload(text="Se irá")).external_id
    linkedin.delete(ref)
    metrics = linkedin.fetch_post_metrics([ref, "not-an-urn"])
    assert metrics == {ref: metrics[ref]} and metrics[ref].exists is False


def test_hostile_statistics_are_not_trusted(linkedin, fake_linkedin):
    ref = linkedin.publish(PostPayload(text="Raro")).external_id
    fake_linkedin.stats[ref].update(impressionCount="<b>9</b>", likeCount=True, clickCount=None, shareCount=4.0)
    metrics = linkedin.fetch_post_metrics([ref])[ref]
    assert metrics.impressions is None and metrics.likes is None and metrics.clicks is None
    assert metrics.shares == 4


def test_follower_gains_per_day(linkedin, fake_linkedin):
    start = datetime(2026, 11, 1, tzinfo=timezone.utc)
    fake_linkedin.follower_gains = [
        {"timeRange": {"start": int((start + timedelta(days=d)).timestamp() * 1000),
                       "end": int((start + timedelta(days=d + 1)).timestamp() * 1000)},
         "followerGains": {"organicFollowerGain": d * 2, "paidFollowerGain": 1}} for d in (1, 0)]
    gains = linkedin.follower_gains(start, start + timedelta(days=2))
    assert [(g["day"].isoformat(), g["organic"], g["paid"]) for g in gains] == [
        ("2026-11-01", 0, 1), ("2026-11-02", 2, 1)]
    (request,) = fake_linkedin.requests_to("follower_stats")
    assert "timeGranularityType:DAY" in request.query["timeIntervals"]


def test_comments_become_inbox_items_oldest_first_without_our_own(linkedin, fake_linkedin):
    ref = linkedin.publish(PostPayload(text="Hablemos")).external_id
    fake_linkedin.comment(ref, "Primero", age=120)
    fake_linkedin.comment(ref, "Segundo", actor="urn:li:organization:999", age=60)
    linkedin.reply(ref, "Respuesta de la página")
    batch = linkedin.fetch_interactions()
    assert [i.post.text for i in batch.items] == ["Primero", "Segundo"]
    first = batch.items[0]
    assert first.kind == InteractionKind.COMMENT and first.on_post == ref
    assert first.post.author.handle == "urn:li:person:reader1" and first.post.in_reply_to == ref
    assert batch.items[1].post.author.url == "https://www.linkedin.com/company/999/"
    # The cursor only lets newer comments through.
    assert linkedin.fetch_interactions(cursor=batch.cursor).items == []
    fake_linkedin.comment(ref, "Tercero")
    assert [i.post.text for i in linkedin.fetch_interactions(cursor=batch.cursor).items] == ["Tercero"]


def test_comment_replies_point_at_their_parent(linkedin, fake_linkedin):
    ref = linkedin.publish(PostPayload(text="Hilo")).external_id
    parent = fake_linkedin.comment(ref, "¿Precio?", age=30)
    # LinkedIn lists replies under their parent comment, not under the post.
    fake_linkedin.comment(ref, "Yo también quiero saberlo", parent=parent["commentUrn"])
    items = linkedin.fetch_interactions().items
    assert [i.post.text for i in items] == ["¿Precio?", "Yo también quiero saberlo"]
    assert items[1].post.in_reply_to == parent["commentUrn"] and items[1].on_post == ref
    assert len(fake_linkedin.requests_to("comments.list")) == 2


def test_since_filters_old_comments(linkedin, fake_linkedin):
    ref = linkedin.publish(PostPayload(text="Viejo")).external_id
    fake_linkedin.comment(ref, "Hace un día", age=86400)
    fake_linkedin.comment(ref, "Ahora")
    items = linkedin.fetch_interactions(since=datetime.now(timezone.utc) - timedelta(hours=1)).items
    assert [i.post.text for i in items] == ["Ahora"]


def test_hostile_comments_stay_inert(linkedin, fake_linkedin):
    ref = linkedin.publish(PostPayload(text="Abierto")).external_id
    fake_linkedin.comment(ref, "<script>alert(1)</script><img src=x onerror=alert(2)>")
    fake_linkedin.comment(ref, "x" * 50_000)
    bad = fake_linkedin.comment(ref, "tipo raro")
    bad["message"] = {"text": ["no", "es", "texto"]}
    broken = fake_linkedin.comment(ref, "sin urn")
    for key in ("$URN", "commentUrn", "id"):
        broken.pop(key)
    items = linkedin.fetch_interactions().items
    texts = sorted(i.post.text for i in items)
    assert "<script>alert(1)</script><img src=x onerror=alert(2)>" in texts  # plain text, escaped by templates
    assert max(len(t) for t in texts) == 20_000
    assert "['no', 'es', 'texto']" in texts or "" in texts
    assert all(i.post.html == "" for i in items) and len(items) == 3


def test_thread_ids_read_older_posts_too(linkedin, fake_linkedin):
    old = fake_linkedin.add_post("Antiguo", age=86400 * 30)
    for n in range(25):
        fake_linkedin.add_post(f"nuevo {n}")
    fake_linkedin.comment(old, "Comentario en un post antiguo")
    assert linkedin.fetch_interactions().items == []
    items = linkedin.fetch_interactions(thread_ids=[old, "javascript:alert(1)"]).items
    assert [i.post.text for i in items] == ["Comentario en un post antiguo"]


def test_an_account_without_an_organisation_id_says_so(fake_linkedin, linkedin_http_config):
    from tertulia.networks.base import Credentials
    from tertulia.networks.linkedin.connector import LinkedInConnector

    with LinkedInConnector(base_url=fake_linkedin.base_url, credentials=Credentials(fake_linkedin.token),
                           account_id="../1", http_config=linkedin_http_config) as connector:
        with pytest.raises(Permanent) as err:
            connector.publish(PostPayload(text="x"))
    assert "organisation page id" in str(err.value.user_message)
    assert fake_linkedin.requests == []


def test_limits():
    from tertulia.networks.linkedin.connector import LinkedInConnector

    limits = LinkedInConnector(base_url="https://api.linkedin.com").limits()
    assert limits.max_characters == 3000 and limits.max_media == 20 and limits.counting == "utf16"
    assert limits.media_types == frozenset({"image/jpeg", "image/png", "image/gif"})
    assert limits.visibilities == frozenset({"public"}) and not limits.content_warnings


def test_link_preview_reads_open_graph_and_refuses_private_addresses(fake_linkedin, linkedin_http_config):
    from tertulia.networks.http import HttpConfig
    from tertulia.networks.linkedin.preview import page_article

    fake_linkedin.web_pages["plain"] = ("text/html", "<title> Sólo   título </title>".encode())
    fake_linkedin.web_pages["json"] = ("application/json", b'{"og:title": "no"}')
    url = f"{fake_linkedin.base_url}/web/plain"
    article = page_article(url, config=linkedin_http_config)
    assert article is not None and article.title == "Sólo título" and article.thumbnail is None
    assert page_article(f"{fake_linkedin.base_url}/web/json", config=linkedin_http_config) is None
    assert page_article("javascript:alert(1)", config=linkedin_http_config) is None
    # Without the test-only loopback allowance the fetcher refuses 127.0.0.1 (SSRF guard).
    assert page_article(url, config=HttpConfig(allow_private_networks=False)) is None
