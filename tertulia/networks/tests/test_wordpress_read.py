"""Reading a WordPress blog: the site's profile, comments for the inbox, replies, metrics."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest
from django.utils import translation

from tertulia.networks.base import Credentials, InteractionKind, PostPayload
from tertulia.networks.errors import Permanent
from tertulia.networks.http import HttpConfig
from tertulia.networks.wordpress import WordPressConnector
from tests.fakes.wordpress import FakeWordPress


@pytest.fixture(autouse=True)
def _english():
    with translation.override("en"):
        yield


def _now():
    return datetime.now(timezone.utc)


def test_fetch_profile(wordpress, fake_wordpress):
    wordpress.publish(PostPayload(text="Uno"))
    wordpress.publish(PostPayload(text="Dos"))
    profile = wordpress.fetch_profile()
    assert profile.external_id == str(fake_wordpress.user["id"]) and wordpress.account_id == profile.external_id
    assert profile.handle == "cm_tertulia"
    assert profile.display_name == "Blog del Café & Tertulia"  # unescaped once, plain text
    assert profile.bio == "Café, libros y <em>tertulias</em>"  # plain text: templates escape it
    assert profile.url == fake_wordpress.base_url and profile.posts == 2
    assert profile.fields == {"author": "Community Manager"}


def test_comments_become_interactions(wordpress, fake_wordpress):
    post = wordpress.publish(PostPayload(text="Receta de otoño"))
    pid = int(post.external_id)
    first = fake_wordpress.comment("Ana", "¡Qué rica! <script>alert(1)</script>", post=pid,
                                   author_url="https://ana.example")
    answer = fake_wordpress.comment("Luis", "Yo también", post=pid, parent=first["id"])
    batch = wordpress.fetch_interactions()
    assert [i.kind for i in batch.items] == [InteractionKind.COMMENT, InteractionKind.COMMENT]
    one, two = batch.items
    assert one.post.external_id == str(first["id"]) and one.on_post == post.external_id
    assert one.post.text == "¡Qué rica! <script>alert(1)</script>"  # plain text, escaped when shown
    assert "<script>" not in one.post.html  # the network's HTML is kept, never rendered
    assert (one.post.author.display_name, one.post.author.url) == ("Ana", "https://ana.example")
    assert one.post.in_reply_to == post.external_id
    assert two.post.in_reply_to == str(first["id"]) and two.post.external_id == str(answer["id"])
    assert one.post.created_at is not None and one.post.url.endswith(f"#comment-{first['id']}")


def test_the_cursor_hands_out_each_comment_once_and_skips_our_own(wordpress, fake_wordpress):
    pid = int(wordpress.publish(PostPayload(text="Hola")).external_id)
    fake_wordpress.comment("Ana", "uno", post=pid)
    first = wordpress.fetch_interactions()
    assert [i.post.text for i in first.items] == ["uno"]
    wordpress.reply(first.items[0].post.external_id, "¡Gracias!")  # our own answer: not for the inbox
    fake_wordpress.comment("Luis", "dos", post=pid)
    second = wordpress.fetch_interactions(cursor=first.cursor)
    assert [i.post.text for i in second.items] == ["dos"]
    assert wordpress.fetch_interactions(cursor=second.cursor).items == []
    assert json.loads(second.cursor)["id"] > json.loads(first.cursor)["id"]


def test_comments_waiting_for_moderation_are_included_for_moderators(wordpress, fake_wordpress):
    pid = int(wordpress.publish(PostPayload(text="Hola")).external_id)
    fake_wordpress.comment("Spam?", "en espera", post=pid, status="hold")
    (item,) = wordpress.fetch_interactions().items
    assert item.post.text == "en espera" and item.post.visibility == "hold"


def test_an_author_sees_approved_comments_only(wordpress_http_config):
    with FakeWordPress(role="author") as fake, WordPressConnector(
            base_url=fake.base_url, username=fake.username, credentials=Credentials(fake.app_password),
            http_config=wordpress_http_config) as connector:
        pid = int(connector.publish(PostPayload(text="Hola")).external_id)
        fake.comment("Ana", "visible", post=pid)
        fake.comment("Bot", "en espera", post=pid, status="hold")
        assert [i.post.text for i in connector.fetch_interactions().items] == ["visible"]


def test_since_and_thread_ids_bound_the_poll(wordpress, fake_wordpress):
    a = int(wordpress.publish(PostPayload(text="A")).external_id)
    b = int(wordpress.publish(PostPayload(text="B")).external_id)
    fake_wordpress.comment("Ana", "viejo", post=a, when=_now() - timedelta(days=2))
    fake_wordpress.comment("Luis", "en A", post=a)
    fake_wordpress.comment("Eva", "en B", post=b)
    recent = wordpress.fetch_interactions(since=_now() - timedelta(hours=1))
    assert sorted(i.post.text for i in recent.items) == ["en A", "en B"]
    only_b = wordpress.fetch_interactions(thread_ids=[str(b)])
    assert [i.post.text for i in only_b.items] == ["en B"]


def test_many_comments_are_paged(wordpress, fake_wordpress):
    pid = int(wordpress.publish(PostPayload(text="Viral")).external_id)
    for i in range(130):
        fake_wordpress.comment(f"Persona {i}", f"comentario {i}", post=pid)
    items = wordpress.fetch_interactions().items
    assert len(items) == 130 and items[0].post.text == "comentario 0"
    assert len([r for r in fake_wordpress.requests_to("GET", "/wp/v2/comments") if r.query["status"] == "approve"]) == 2


def test_reply_to_a_comment(wordpress, fake_wordpress):
    pid = int(wordpress.publish(PostPayload(text="Hola")).external_id)
    comment = fake_wordpress.comment("Ana", "¿Sin gluten?", post=pid)
    ref = wordpress.reply(str(comment["id"]), "Sí, <b>todas</b> las tartas & panes.\n\nPregunta en barra.")
    created = fake_wordpress.comments[int(ref.external_id)]
    assert created["parent"] == comment["id"] and created["post"] == pid
    assert created["author"] == fake_wordpress.user["id"]
    assert "&lt;b&gt;todas&lt;/b&gt;" in created["content"] and "<b>" not in created["content"]
    assert ref.url.endswith(f"#comment-{created['id']}")


def test_reply_to_a_missing_comment_is_permanent(wordpress, fake_wordpress):
    with pytest.raises(Permanent) as info:
        wordpress.reply("99999", "hola")
    assert info.value.status == 404


def test_post_metrics_count_comments_and_notice_deleted_posts(wordpress, fake_wordpress):
    ref = wordpress.publish(PostPayload(text="Hola"))
    for i in range(3):
        fake_wordpress.comment(f"P{i}", "x", post=int(ref.external_id))
    gone = wordpress.publish(PostPayload(text="Adiós"))
    wordpress.delete(gone.external_id)
    metrics = wordpress.fetch_post_metrics([ref.external_id, gone.external_id])
    assert metrics[ref.external_id].comments == 3 and metrics[ref.external_id].exists is True
    assert metrics[ref.external_id].likes is None and metrics[ref.external_id].impressions is None
    assert metrics[gone.external_id].exists is False


def test_limits_for_the_composer(wordpress):
    limits = wordpress.limits()
    assert limits.max_characters >= 1_000_000 and not limits.threads


def test_connector_for_an_account(brand_a, fake_wordpress):
    from tertulia.core.services import Ctx
    from tertulia.networks import registry, services

    brand, people = brand_a
    account = services.do_add_account(Ctx(people["owner"], via="test"), brand, network="wordpress",
                                      handle="cm_tertulia", base_url=fake_wordpress.base_url,
                                      access_token=fake_wordpress.app_password)
    account.refresh_from_db()
    with registry.connector_for(account, http_config=HttpConfig(allow_private_networks=True)) as connector:
        assert isinstance(connector, WordPressConnector) and connector.username == "cm_tertulia"
        assert connector.fetch_profile().external_id == str(fake_wordpress.user["id"])


test_connector_for_an_account = pytest.mark.django_db(test_connector_for_an_account)
