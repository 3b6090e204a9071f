"""Listening pages: the mentions feed (filters, escaping, links, send to the inbox), queries
(with the live check) and sources (with their state and "check now"); hostile input, other
brands' ids and roles that may only read."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from tertulia.core.services import Ctx
from tertulia.core.tests.web_helpers import XSS, XSS_ESCAPED, assert_escaped, html
from tertulia.listening import services
from tertulia.listening.mentions import MentionIn, ingest
from tertulia.listening.models import ListeningQuery, Mention, Source
from tertulia.networks.models import SocialAccount
from tertulia.networks.services import do_add_account

pytestmark = pytest.mark.django_db


@pytest.fixture
def world(brand_a, brand_b):
    brand, people = brand_a
    ctx = Ctx(people["community_manager"], via="test")
    query = services.do_save_query(ctx, brand, name=f"Marca {XSS}", kind="brand", text='"café lento" OR #cafelento')
    other = services.do_save_query(ctx, brand, name="Prensa", kind="industry", text="site:news.example")
    source = services.do_save_source(ctx, brand, kind="feed", url="https://news.example/rss", name=f"Noticias {XSS}")
    now = timezone.now()
    ingest(brand, source, [
        MentionIn(network="mastodon", external_id="m1", text=f"Pésimo #cafelento {XSS}", author_handle=f"@{XSS}",
                  url="javascript:alert(1)", created_at=now - timedelta(hours=1)),
        MentionIn(network="web", external_id="w1", text="café lento en la prensa", title=f"Titular {XSS}",
                  url="https://news.example/a?x=1&y=2", created_at=now - timedelta(days=3)),
    ])
    b_brand, b_people = brand_b
    b_ctx = Ctx(b_people["owner"], via="test")
    b_query = services.do_save_query(b_ctx, b_brand, name="Beta secret query", kind="brand", text="beta")
    b_source = services.do_save_source(b_ctx, b_brand, kind="comments")
    ingest(b_brand, None, [MentionIn(network="mastodon", external_id="b1", text="beta secret mention",
                                     created_at=now)])
    return {"brand": brand, "people": people, "query": query, "other": other, "source": source,
            "b": b_brand, "b_query": b_query, "b_source": b_source, "b_mention": Mention.objects.get(brand=b_brand)}


def client_for(user):
    c = Client()
    c.force_login(user)
    return c


def test_mentions_feed_escapes_filters_and_links(world):
    brand = world["brand"]
    c = client_for(world["people"]["community_manager"])
    url = reverse("section_listening", args=[brand.pk])
    page = html(c.get(url))
    assert_escaped(page)
    assert XSS not in page and page.count(XSS_ESCAPED) >= 4  # query name, author, text, title
    assert 'href="javascript:' not in page
    assert 'href="https://news.example/a?x=1&amp;y=2"' in page
    assert "beta secret" not in page.lower()
    assert reverse("listening_queries", args=[brand.pk]) in page
    assert reverse("listening_sources", args=[brand.pk]) in page
    assert "Send to the inbox" in page and "answer it on its site" in page
    m1 = Mention.objects.get(external_id="m1")
    assert reverse("listening_mention_to_inbox", args=[brand.pk, m1.pk]) in page

    assert "Mentions found: 2" in page
    only_web = html(c.get(url, {"network": "web"}))
    assert "café lento en la prensa" in only_web and "Pésimo" not in only_web and "Mentions found: 1" in only_web
    by_query = html(c.get(url, {"query": world["other"].pk}))
    assert "café lento en la prensa" in by_query and "Pésimo" not in by_query
    recent = html(c.get(url, {"since": (timezone.localdate() - timedelta(days=1)).isoformat()}))
    assert "Pésimo" in recent and "café lento en la prensa" not in recent
    negative = html(c.get(url, {"sentiment": m1.sentiment}))
    assert "Pésimo" in negative
    # Junk filters are ignored, not errors.
    for junk in ({"query": "x'; DROP"}, {"since": "2026-13-45"}, {"network": "<b>"}, {"page": "999999"},
                 {"source": "99999999999999999999"}):
        assert c.get(url, junk).status_code == 200
    assert c.get(url, {"query": world["b_query"].pk}).status_code == 200
    assert "beta secret" not in html(c.get(url, {"query": world["b_query"].pk})).lower()


def test_send_to_inbox_from_the_page(world):
    brand, people = world["brand"], world["people"]
    owner = Ctx(people["owner"], via="test")
    account = do_add_account(owner, brand, network="mastodon", handle="cafe@fake.example", access_token="t",
                             base_url="https://fake.example")
    SocialAccount.objects.filter(pk=account.pk).update(status=SocialAccount.Status.CONNECTED)
    m1, w1 = Mention.objects.get(external_id="m1"), Mention.objects.get(external_id="w1")
    reader = client_for(people["analyst"])
    assert reader.post(reverse("listening_mention_to_inbox", args=[brand.pk, m1.pk])).status_code == 403
    assert "Send to the inbox" not in html(reader.get(reverse("section_listening", args=[brand.pk])))
    c = client_for(people["community_manager"])
    response = c.post(reverse("listening_mention_to_inbox", args=[brand.pk, m1.pk]))
    m1.refresh_from_db()
    assert m1.conversation_id and response.status_code == 302
    assert response["Location"] == reverse("inbox_conversation", args=[brand.pk, m1.conversation_id])
    page = html(c.get(reverse("section_listening", args=[brand.pk])))
    assert reverse("inbox_conversation", args=[brand.pk, m1.conversation_id]) in page
    refused = c.post(reverse("listening_mention_to_inbox", args=[brand.pk, w1.pk]), follow=True)
    assert "cannot be answered from the inbox" in html(refused)
    w1.refresh_from_db()
    assert w1.conversation_id is None
    b_mention = world["b_mention"]
    assert c.post(reverse("listening_mention_to_inbox", args=[brand.pk, b_mention.pk])).status_code == 404
    assert c.get(reverse("listening_mention_to_inbox", args=[brand.pk, m1.pk])).status_code == 405


def test_queries_pages_check_and_hostile_input(world):
    brand, people = world["brand"], world["people"]
    c = client_for(people["community_manager"])
    listing = html(c.get(reverse("listening_queries", args=[brand.pk])))
    assert_escaped(listing)
    new_url = reverse("listening_query_new", args=[brand.pk])
    form_page = html(c.get(new_url))
    assert 'hx-post="' + reverse("listening_query_check", args=[brand.pk]) in form_page
    assert "<script>" not in form_page.replace('<script src=', '')  # no inline scripts

    check = reverse("listening_query_check", args=[brand.pk])
    ok = html(c.post(check, {"text": "#cafelento NOT lang:en"}, HTTP_HX_REQUEST="true"))
    assert "The query is valid" in ok
    bad = html(c.post(check, {"text": f'cafe AND "{XSS}'}, HTTP_HX_REQUEST="true"))
    assert "Column 10" in bad and XSS not in bad
    assert "at most 2000" in html(c.post(check, {"text": "a" * 5000}))

    response = c.post(new_url, {"name": "Rota", "kind": "brand", "text": "(cafe OR"})
    assert response.status_code == 200 and "Column" in html(response)
    assert not ListeningQuery.objects.filter(brand=brand, name="Rota").exists()
    response = c.post(new_url, {"name": "Nueva", "kind": "brand", "text": "pésim* lento", "enabled": "on"})
    assert response.status_code == 302
    created = ListeningQuery.objects.get(brand=brand, name="Nueva")
    assert created.enabled and created.text == "pésim* lento"
    edit = reverse("listening_query_edit", args=[brand.pk, created.pk])
    assert c.post(edit, {"name": "Nueva 2", "kind": "product", "text": "lento"}).status_code == 302
    created.refresh_from_db()
    assert (created.name, created.kind, created.enabled) == ("Nueva 2", "product", False)
    assert c.post(reverse("listening_query_delete", args=[brand.pk, created.pk])).status_code == 302
    assert not ListeningQuery.objects.filter(pk=created.pk).exists()

    b_query = world["b_query"]
    for name in ("listening_query_edit", "listening_query_delete"):
        assert c.post(reverse(name, args=[brand.pk, b_query.pk]), {"name": "x", "kind": "brand",
                                                                   "text": "x"}).status_code == 404
    assert c.get(reverse("listening_queries", args=[world["b"].pk])).status_code == 404
    assert ListeningQuery.objects.get(pk=b_query.pk).name == "Beta secret query"

    reader = client_for(people["analyst"])
    assert reader.get(reverse("listening_queries", args=[brand.pk])).status_code == 200
    assert new_url not in html(reader.get(reverse("listening_queries", args=[brand.pk])))
    for url in (new_url, check, reverse("listening_query_delete", args=[brand.pk, world["query"].pk])):
        assert reader.post(url, {"name": "x", "kind": "brand", "text": "x"}).status_code == 403
    assert ListeningQuery.objects.filter(pk=world["query"].pk).exists()


def test_sources_pages_state_poll_now_and_hostile_input(world, settings):
    brand, people = world["brand"], world["people"]
    settings.LISTENING_SOURCES = {"JITTER": 0.0}
    c = client_for(people["community_manager"])
    source = world["source"]
    Source.objects.filter(pk=source.pk).update(last_error=[{"msgid": "The source could not be read; we will try "
                                                                     "again later (attempt %(n)s).",
                                                            "params": {"n": "3"}}], failures=3)
    listing = html(c.get(reverse("listening_sources", args=[brand.pk])))
    assert_escaped(listing)
    assert "(attempt 3)" in listing
    cm = people["community_manager"]
    cm.language = "es"
    cm.save(update_fields=["language"])
    spanish = html(c.get(reverse("listening_sources", args=[brand.pk])))
    assert "(intento 3)" in spanish and "Revisar ahora" in spanish and "Feed RSS o Atom" in spanish
    assert "Enviar a la bandeja de entrada" in html(c.get(reverse("section_listening", args=[brand.pk])))
    cm.language = "en"
    cm.save(update_fields=["language"])
    new_url = reverse("listening_source_new", args=[brand.pk])
    for url in ("http://10.1.2.3/rss", "javascript:alert(1)", "https://" + "a" * 1100 + ".example/rss",
                "http://169.254.169.254/latest"):
        response = c.post(new_url, {"kind": "feed", "url": url, "minutes": "15", "enabled": "on"})
        assert response.status_code == 200 and 'class="error"' in html(response)
    assert Source.objects.filter(brand=brand).count() == 1
    assert c.post(new_url, {"kind": "feed", "url": "https://blog.example/feed", "minutes": "1"}).status_code == 200
    assert c.post(new_url, {"kind": "search", "term": "#x", "account": "999", "minutes": "15"}).status_code == 200
    response = c.post(new_url, {"kind": "feed", "url": "https://blog.example/feed", "minutes": "30", "enabled": "on",
                                "name": XSS})
    assert response.status_code == 302
    created = Source.objects.get(brand=brand, url="https://blog.example/feed")
    assert created.interval_seconds == 1800 and created.name == XSS
    assert_escaped(html(c.get(reverse("listening_sources", args=[brand.pk]))))

    # "Check now" on a source that cannot be reached: the error is shown to the CM.
    Source.objects.filter(pk=created.pk).update(url="http://127.0.0.1:9/feed")
    response = c.post(reverse("listening_source_poll", args=[brand.pk, created.pk]), follow=True)
    created.refresh_from_db()
    assert created.failures == 1 and created.last_polled_at is not None
    assert "private or local network" in html(response)

    assert c.post(reverse("listening_source_delete", args=[brand.pk, created.pk])).status_code == 302
    assert not Source.objects.filter(pk=created.pk).exists()

    b_source = world["b_source"]
    for name in ("listening_source_edit", "listening_source_delete", "listening_source_poll"):
        assert c.post(reverse(name, args=[brand.pk, b_source.pk]), {"kind": "comments",
                                                                    "minutes": "15"}).status_code == 404
    reader = client_for(people["client_reviewer"])
    assert reader.get(reverse("listening_sources", args=[brand.pk])).status_code == 200
    for name in ("listening_source_poll", "listening_source_delete"):
        assert reader.post(reverse(name, args=[brand.pk, source.pk])).status_code == 403
    assert Source.objects.filter(pk=source.pk).exists()
