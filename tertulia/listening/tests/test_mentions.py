"""listening.mentions: ingest (matching, triage, idempotence, hostile input) and "send to the
inbox" (a network mention becomes a conversation; a web article is refused)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from tertulia.core.services import Ctx
from tertulia.inbox.models import Conversation, Interaction
from tertulia.listening import mentions, services
from tertulia.listening.mentions import MentionIn, ingest
from tertulia.listening.models import Mention, MentionMatch
from tertulia.networks.models import SocialAccount
from tertulia.networks.services import do_add_account

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def english():
    from django.utils import translation

    with translation.override("en"):
        yield


@pytest.fixture
def setup(brand_a):
    brand, people = brand_a
    ctx = Ctx(people["community_manager"], via="test")
    q1 = services.do_save_query(ctx, brand, name="Marca", kind="brand", text='"café lento" OR #cafelento')
    q2 = services.do_save_query(ctx, brand, name="Crisis", kind="brand", text="#cafelento AND (pésim* OR estafa)")
    return brand, people, ctx, q1, q2


def item(ext, text, network="mastodon", **kw):
    return MentionIn(network=network, external_id=ext, text=text,
                     created_at=kw.pop("created_at", timezone.now() - timedelta(minutes=5)), **kw)


def test_ingest_keeps_matches_triages_them_and_is_idempotent(setup):
    brand, _people, _ctx, q1, q2 = setup
    batch = [item("1", "Odio #CafeLento, servicio horrible y pésimo, una estafa", author_handle="@ana"),
             item("2", "Me encanta el CAFÉ LENTO de la plaza"),
             item("3", "Nada que ver con nosotros"),
             item("1", "duplicate inside the batch"),
             item("", "no id"),
             item("4", "café lento <script>alert(1)</script>", network="web", url="javascript:alert(1)",
                  title="Artículo", site="www.News.example")]
    result = ingest(brand, None, batch)
    assert (result.created, result.matched) == (3, 3)
    stored = {m.external_id: m for m in Mention.objects.filter(brand=brand)}
    assert set(stored) == {"1", "2", "4"}
    crisis = stored["1"]
    assert crisis.sentiment == "negative" and crisis.intent and 0 <= crisis.toxicity <= 1
    assert crisis.text == "Odio #CafeLento, servicio horrible y pésimo, una estafa"
    assert set(MentionMatch.objects.filter(mention=crisis).values_list("query_id", flat=True)) == {q1.pk, q2.pk}
    match = MentionMatch.objects.get(mention=crisis, query=q2)
    assert match.created_at == crisis.created_at and match.sentiment == crisis.sentiment
    assert stored["4"].url == "" and stored["4"].site == "news.example"
    assert stored["4"].text == "café lento <script>alert(1)</script>"  # stored as text; pages escape it
    assert stored["2"].language == "es"  # from triage when the source did not say

    again = ingest(brand, None, batch)
    assert (again.created, again.matched) == (0, 3)
    assert Mention.objects.filter(brand=brand).count() == 3 and MentionMatch.objects.filter(brand=brand).count() == 4


def test_ingest_needs_enabled_queries_and_aware_times(setup):
    brand, _people, ctx, q1, q2 = setup
    for q in (q1, q2):
        services.do_save_query(ctx, brand, q, name=q.name, kind=q.kind, text=q.text, enabled=False)
    assert ingest(brand, None, [item("9", "café lento")]).created == 0
    services.do_save_query(ctx, brand, q1, name=q1.name, kind=q1.kind, text=q1.text, enabled=True)
    with pytest.raises(ValidationError):
        ingest(brand, None, [item("9", "café lento", created_at=datetime(2026, 1, 1))])
    huge = item("10", "café lento " + "x" * 100_000, author_handle="@" + "a" * 500)
    assert ingest(brand, None, [huge]).created == 1
    stored = Mention.objects.get(external_id="10")
    assert len(stored.text) == 70000 and len(stored.author_handle) == 200


def test_to_inbox_for_a_network_mention_and_refused_for_an_article(setup):
    brand, people, ctx, _q1, _q2 = setup
    owner = Ctx(people["owner"], via="test")
    account = do_add_account(owner, brand, network="mastodon", handle="cafe@fake.example", access_token="t",
                             base_url="https://fake.example")
    SocialAccount.objects.filter(pk=account.pk).update(status=SocialAccount.Status.CONNECTED)
    when = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
    ingest(brand, None, [item("77", "Pésimo #cafelento", author_handle="@ana@mastodon.example",
                              author_name="Ana", created_at=when),
                         item("https://news.example/1", "café lento en la prensa", network="web",
                              url="https://news.example/1"),
                         item("88", "café lento en Bluesky", network="bluesky")])
    mention = Mention.objects.get(external_id="77")
    reader = Ctx(people["analyst"], via="test")
    with pytest.raises(PermissionDenied):
        mentions.do_to_inbox(reader, mention)
    conversation = mentions.do_to_inbox(ctx, mention)
    assert conversation.brand_id == brand.pk and conversation.kind == Conversation.Kind.MENTION
    interaction = Interaction.objects.get(conversation=conversation)
    assert interaction.external_id == "77" and interaction.account_id == account.pk
    assert interaction.text == "Pésimo #cafelento" and interaction.created_at == when
    assert interaction.author.handle == "@ana@mastodon.example" and interaction.sentiment == mention.sentiment
    mention.refresh_from_db()
    assert mention.conversation_id == conversation.pk
    assert mentions.do_to_inbox(ctx, mention).pk == conversation.pk  # a second click: the same one
    assert Interaction.objects.filter(brand=brand).count() == 1

    article = Mention.objects.get(network="web")
    with pytest.raises(ValidationError) as err:
        mentions.do_to_inbox(ctx, article)
    assert "cannot be answered from the inbox" in str(err.value)
    with pytest.raises(ValidationError) as err:
        mentions.do_to_inbox(ctx, Mention.objects.get(external_id="88"))  # no Bluesky account
    assert "Connect a Bluesky account" in str(err.value)
    assert Mention.objects.filter(brand=brand, conversation__isnull=False).count() == 1


def test_deleting_a_query_keeps_mentions_other_queries_matched(setup):
    brand, _people, ctx, q1, q2 = setup
    ingest(brand, None, [item("1", "Una estafa en #cafelento"), item("2", "café lento")])
    services.do_delete_query(ctx, q1)
    assert list(Mention.objects.filter(brand=brand).values_list("external_id", flat=True)) == ["1"]
    assert mentions.safe_url("https://ok.example/a") == "https://ok.example/a"
    for bad in ("javascript:alert(1)", "data:text/html,x", "//evil.example", "https://a b", "http:///x"):
        assert mentions.safe_url(bad) == ""
