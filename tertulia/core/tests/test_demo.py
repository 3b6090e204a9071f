"""`tertulia demo`: a reproducible, bilingual agency with a year of history.

The workspace is built once per module, small (a few hundred interactions, a post and a half
a week), and removed at the end; every test reads it.
"""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from django.core.management import CommandError, call_command
from django.db.models import Count, Max, Min, Q
from django.urls import reverse

from tertulia.core import demo
from tertulia.core.models import Brand, KnowledgeEntry, Membership, User
from tertulia.core.roles import Role
from tertulia.networks import capabilities

TODAY = date(2025, 6, 15)
ARGS = ["--seed", "7", "--interactions", "900", "--posts-per-week", "1.5", "--today", TODAY.isoformat()]


@pytest.fixture(scope="module")
def workspace(django_db_setup, django_db_blocker):
    with django_db_blocker.unblock():
        call_command("demo", *ARGS, verbosity=0)
        yield list(demo.demo_brands().order_by("pk"))
        demo.remove()


pytestmark = pytest.mark.django_db


def test_three_brands_with_their_guidelines_knowledge_and_strategy(workspace):
    by_name = {b.name: b for b in workspace}
    assert (by_name["Café Candela"].timezone, by_name["Café Candela"].language) == ("Europe/Madrid", "es")
    assert (by_name["Nopal Labs"].timezone, by_name["Nopal Labs"].language) == ("America/Mexico_City", "es")
    assert (by_name["Quill & Lantern Books"].timezone, by_name["Quill & Lantern Books"].language) == (
        "Europe/London", "en")
    for brand in workspace:
        assert brand.tone and brand.banned_words and brand.required_hashtags and brand.signature
        kinds = set(KnowledgeEntry.objects.filter(brand=brand).values_list("kind", flat=True))
        assert kinds == set(KnowledgeEntry.Kind.values)
        assert KnowledgeEntry.objects.filter(brand=brand, kind="department").exclude(contact="").exists()
        assert sum(brand.pillars.values_list("target_share", flat=True)) == 100
        assert brand.objectives.count() == 2
        assert brand.kpis.count() >= 8
        for competitor in brand.competitors.all():
            assert competitor.accounts.count() >= 2
            for account in competitor.accounts.all():
                assert account.snapshots.count() >= 52


def test_accounts_across_networks_one_needs_reconnecting(workspace):
    from tertulia.networks.models import SocialAccount

    accounts = SocialAccount.objects.filter(brand__in=workspace)
    assert accounts.count() >= 8
    assert {"mastodon", "bluesky", "x", "facebook", "instagram", "linkedin", "telegram", "wordpress"} <= set(
        accounts.values_list("network", flat=True))
    statuses = list(accounts.values_list("status", flat=True))
    assert statuses.count("needs_reconnect") == 1
    assert statuses.count("connected") == len(statuses) - 1
    expired = accounts.get(status="needs_reconnect")
    assert expired.status_reason
    # Its last posts could not go out, and they say why.
    assert expired.targets.filter(state="needs_attention").exclude(last_error="").exists()


def test_people_with_every_role_and_the_demo_user_owns_every_brand(workspace):
    demo_user = User.objects.get(username=demo.DEMO_USERNAME)
    for brand in workspace:
        assert Membership.objects.get(brand=brand, user=demo_user).role == Role.OWNER
    roles = set(Membership.objects.filter(brand__in=workspace).values_list("role", flat=True))
    assert roles == set(Role.values)


def test_a_year_of_published_posts_with_metrics_and_links(workspace):
    from tertulia.analytics.models import PostMetricSnapshot, ProfileSnapshot
    from tertulia.content.models import LinkClick, Post
    from tertulia.publishing.models import PostTarget

    published = PostTarget.objects.filter(brand__in=workspace, state="published")
    span = published.aggregate(first=Min("published_at"), last=Max("published_at"))
    assert span["first"].date() <= TODAY - timedelta(days=358)
    assert span["last"].date() >= TODAY - timedelta(days=7)
    posts = Post.objects.filter(brand__in=workspace, state="published")
    assert posts.filter(pillar__isnull=True).count() == 0
    assert posts.exclude(campaign=None).exists()
    assert posts.values("format").distinct().count() >= 4
    assert PostMetricSnapshot.objects.filter(target__in=published).values("target").distinct().count() >= (
        published.count() * 0.9)
    profiles = ProfileSnapshot.objects.filter(brand__in=workspace).aggregate(first=Min("taken_at"),
                                                                             last=Max("taken_at"))
    assert (profiles["last"] - profiles["first"]).days >= 364
    assert LinkClick.objects.filter(brand__in=workspace).count() > 100
    # The calendar ahead: scheduled posts, and some waiting for approval.
    upcoming = Post.objects.filter(brand__in=workspace, scheduled_at__date__gt=TODAY)
    assert upcoming.filter(state="scheduled").exists()
    assert upcoming.filter(state__in=["pending_approval", "draft"]).exists()


def test_posts_follow_each_brands_guidelines(workspace):
    from tertulia.content.models import Post
    from tertulia.inbox.models import Interaction

    for brand in workspace:
        texts = list(Post.objects.filter(brand=brand).values_list("text", flat=True))
        texts += list(Interaction.objects.filter(brand=brand, direction="out").values_list("text", flat=True))
        for text in texts:
            for word in brand.banned_words:
                assert word.lower() not in text.lower(), (brand.name, word, text)
        for text in Post.objects.filter(brand=brand).values_list("text", flat=True):
            assert brand.required_hashtags[0].lower() in text.lower(), text


def test_missing_metrics_are_null_never_zero(workspace):
    from tertulia.analytics.models import PostMetricSnapshot, ProfileSnapshot
    from tertulia.networks.models import SocialAccount

    metrics = ("impressions", "reach", "likes", "comments", "shares", "saves", "clicks")
    for account in SocialAccount.objects.filter(brand__in=workspace):
        rows = PostMetricSnapshot.objects.filter(target__account=account)
        exposed = capabilities.POST_METRICS[account.network]
        for name in metrics:
            if name in exposed:
                assert rows.filter(**{f"{name}__isnull": False}).exists(), (account.network, name)
            else:
                assert not rows.filter(**{f"{name}__isnull": False}).exists(), (account.network, name)
        profile = ProfileSnapshot.objects.filter(account=account)
        for name in ("followers", "following", "posts"):
            known = profile.filter(**{f"{name}__isnull": False}).exists()
            assert known == (name in capabilities.PROFILE_FIELDS[account.network]), (account.network, name)
    mastodon = PostMetricSnapshot.objects.filter(target__account__network="mastodon")
    assert mastodon.exists() and not mastodon.filter(impressions=0).exists()


def test_an_inbox_in_spanish_and_english_with_every_intent(workspace):
    from tertulia.inbox.models import Conversation, Interaction

    rows = Interaction.objects.filter(brand__in=workspace)
    assert rows.count() == 900
    inbound = rows.filter(direction="in")
    assert set(inbound.values_list("language", flat=True)) == {"es", "en"}
    assert set(inbound.values_list("intent", flat=True)) == set(Interaction.Intent.values)
    for lang in ("es", "en"):
        assert inbound.filter(language=lang, intent="complaint").exists()
    assert inbound.filter(toxicity__gte=0.7).exists()  # trolls
    assert rows.filter(direction="out").count() > 100  # the team answers
    conversations = Conversation.objects.filter(brand__in=workspace)
    assert set(conversations.values_list("kind", flat=True)) == {"comment", "mention", "dm"}
    assert set(conversations.values_list("status", flat=True)) == {"open", "pending", "closed"}
    span = rows.aggregate(first=Min("created_at"), last=Max("created_at"))
    assert (span["last"] - span["first"]).days >= 330
    # Comments hang from published posts.
    from tertulia.publishing.models import PostTarget

    roots = set(conversations.filter(kind="comment").values_list("root_external_id", flat=True))
    assert roots <= set(PostTarget.objects.filter(brand__in=workspace).values_list("external_id", flat=True))


def test_conversations_agree_with_their_messages(workspace):
    from tertulia.inbox.models import Conversation

    conversations = Conversation.objects.filter(brand__in=workspace).annotate(
        newest=Max("interactions__created_at"), first_in=Min("interactions__created_at",
                                                            filter=Q(interactions__direction="in")),
        n=Count("interactions"),
    )
    for conv in conversations:
        assert conv.n >= 1
        assert conv.last_message_at == conv.newest
        if conv.first_response_at is not None:
            assert conv.first_response_at >= conv.first_in


def test_the_demo_user_signs_in_and_sees_the_brands(workspace, client):
    assert client.login(username=demo.DEMO_USERNAME, password=demo.DEMO_PASSWORD)
    page = client.get(reverse("brand_list")).content.decode()
    for brand in workspace:
        assert brand.name.replace("&", "&amp;") in page
    banner = demo.login_banner("http://127.0.0.1:8000/")
    assert "http://127.0.0.1:8000/" in banner and demo.DEMO_USERNAME in banner and demo.DEMO_PASSWORD in banner


def test_running_again_refuses_and_reset_rebuilds_the_same_content(workspace):
    before = demo.digest()
    brands = Brand.objects.count()
    with pytest.raises(CommandError, match="--reset"):
        call_command("demo", *ARGS, verbosity=0)
    assert Brand.objects.count() == brands
    call_command("demo", *ARGS, "--reset", verbosity=0)
    assert demo.digest() == before
    assert Brand.objects.count() == brands
    call_command("demo", *ARGS[2:], "--seed", "8", "--reset", verbosity=0)
    assert demo.digest() != before


def test_the_banner_without_a_demo_gives_no_password(workspace):
    demo.remove()  # inside this test's transaction: rolled back afterwards
    assert not demo.exists()
    banner = demo.login_banner("http://example.test/")
    assert "http://example.test/" in banner and demo.DEMO_PASSWORD not in banner


def test_a_workspace_that_only_shares_the_demos_name_is_not_the_demo(workspace, make_user):
    """Removing the demo, or refusing to publish for it, goes by the flag the demo sets, never
    by a name someone else may choose."""
    from tertulia.core import services
    from tertulia.core.models import Organization
    from tertulia.core.services import Ctx
    from tertulia.publishing import engine

    owner = make_user("homonym_owner")
    org = services.do_create_organization(Ctx(owner, via="test"), demo.DEMO_ORG_NAME)
    brand = services.do_create_brand(Ctx(owner, via="test"), org, name="Real brand")
    assert not org.is_demo and not engine.is_demo_brand(brand.pk)
    assert all(engine.is_demo_brand(b.pk) for b in workspace)
    assert brand not in demo.demo_brands()
    demo.remove()  # inside this test's transaction: rolled back afterwards
    assert Organization.objects.filter(pk=org.pk).exists() and Brand.objects.filter(pk=brand.pk).exists()
    assert not demo.demo_brands().exists()


def test_each_brand_has_a_drawn_giveaway_that_verifies(workspace):
    from tertulia.giveaways import draw, services as giveaways
    from tertulia.giveaways.models import Contest

    for brand in workspace:
        drawn = Contest.objects.get(brand=brand, drawn_at__isnull=False)
        assert drawn.committed_at < drawn.ends_at and drawn.entries.count() >= len(drawn.result["winners"]) >= 1
        assert draw.verify(giveaways.proof(drawn)).ok
        assert drawn.title in ("Sorteo de aniversario", "Anniversary giveaway")


def test_each_brand_listens_with_mentions_a_crisis_alert_and_competitor_posts(workspace):
    from tertulia.listening.models import CompetitorPost, ListeningQuery, Mention, SpikeAlert

    for brand in workspace:
        kinds = set(ListeningQuery.objects.filter(brand=brand).values_list("kind", flat=True))
        assert kinds == {"brand", "competitor", "industry"}
        mentions = Mention.objects.filter(brand=brand)
        assert mentions.count() > 500 and set(mentions.values_list("sentiment", flat=True)) >= {"positive", "negative"}
        assert all(m.queries.exists() for m in mentions[:50])
        assert SpikeAlert.objects.filter(brand=brand, kind="negative").exists()
        assert CompetitorPost.objects.filter(brand=brand).count() > 20
