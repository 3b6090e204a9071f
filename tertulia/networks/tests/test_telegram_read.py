"""Reading a Telegram channel: profile, comments from the discussion group, replies."""

from __future__ import annotations

import json

import pytest
from django.utils import translation

from tertulia.networks.base import Credentials, InteractionKind, PostPayload
from tertulia.networks.errors import Permanent
from tertulia.networks.telegram import TelegramConnector
from tests.fakes.telegram import CHANNEL_ID, GROUP_ID, FakeTelegram


@pytest.fixture(autouse=True)
def _english():
    """Messages are compared in the source language (they are translated for readers)."""
    with translation.override("en"):
        yield


def test_fetch_profile(telegram, fake_telegram):
    profile = telegram.fetch_profile()
    assert profile.external_id == str(CHANNEL_ID) and telegram.account_id == str(CHANNEL_ID)
    assert (profile.handle, profile.display_name, profile.url) == ("@cafetertulia", "Café Tertulia",
                                                                   "https://t.me/cafetertulia")
    assert profile.bio == "Noticias del café <b>y</b> más"  # plain text, escaped by templates
    assert profile.followers == 1234
    assert [r.method for r in fake_telegram.requests] == ["GET", "GET"]  # reads are GETs


def test_comments_become_interactions_on_the_right_post(telegram, fake_telegram):
    first = telegram.publish(PostPayload(text="Primera"))
    second = telegram.publish(PostPayload(text="Segunda"))
    ana = fake_telegram.comment("Ana", "¡Me encanta! <b>sí</b>", on_post=int(first.external_id), username="ana_k")
    luis = fake_telegram.comment("Luis", "¿A qué hora?", on_post=int(second.external_id))
    answer = fake_telegram.comment("Eva", "A las 9", on_post=int(second.external_id), reply_to=luis["message_id"])
    batch = telegram.fetch_interactions()
    assert [i.kind for i in batch.items] == [InteractionKind.COMMENT] * 3
    by_text = {i.post.text: i for i in batch.items}
    assert by_text["¡Me encanta! <b>sí</b>"].on_post == first.external_id
    assert by_text["¿A qué hora?"].on_post == second.external_id
    assert by_text["A las 9"].on_post == second.external_id  # a reply to a reply stays on the post
    assert by_text["A las 9"].post.in_reply_to == f"{GROUP_ID}:{luis['message_id']}"
    ana_post = by_text["¡Me encanta! <b>sí</b>"].post
    assert ana_post.external_id == f"{GROUP_ID}:{ana['message_id']}"
    assert (ana_post.author.handle, ana_post.author.display_name, ana_post.author.url) == (
        "@ana_k", "Ana", "https://t.me/ana_k")
    assert ana_post.created_at is not None
    assert answer["message_id"] > luis["message_id"]


def test_the_cursor_hands_out_each_comment_once(telegram, fake_telegram):
    post = telegram.publish(PostPayload(text="Hola"))
    fake_telegram.comment("Ana", "uno", on_post=int(post.external_id))
    first = telegram.fetch_interactions()
    assert [i.post.text for i in first.items] == ["uno"]
    fake_telegram.comment("Luis", "dos", on_post=int(post.external_id))
    second = telegram.fetch_interactions(cursor=first.cursor)
    assert [i.post.text for i in second.items] == ["dos"]
    assert telegram.fetch_interactions(cursor=second.cursor).items == []
    assert json.loads(second.cursor)["u"] > json.loads(first.cursor)["u"]


def _pending(fake):
    return [u["message"].get("text") for u in fake.updates]


def test_old_updates_are_confirmed_recent_ones_kept_for_reconciliation(telegram, fake_telegram):
    post = telegram.publish(PostPayload(text="Hola"))
    old = fake_telegram.comment("Ana", "viejo", on_post=int(post.external_id))
    fake_telegram.age(GROUP_ID, fake_telegram.thread_of(int(post.external_id))["message_id"], 3600)
    fake_telegram.age(GROUP_ID, old["message_id"], 3600)
    recent = telegram.publish(PostPayload(text="Adiós"))
    fake_telegram.comment("Luis", "nuevo", on_post=int(recent.external_id))
    assert [i.post.text for i in telegram.fetch_interactions().items] == ["viejo", "nuevo"]
    # The old run is confirmed (gone from Telegram); the recent forward and comment stay.
    assert _pending(fake_telegram) == ["Adiós", "nuevo"]


def test_an_offset_never_confirms_a_recent_update(telegram, fake_telegram):
    post = telegram.publish(PostPayload(text="Hola"))  # a recent automatic forward first
    old = fake_telegram.comment("Ana", "viejo", on_post=int(post.external_id))
    fake_telegram.age(GROUP_ID, old["message_id"], 3600)
    telegram.fetch_interactions()
    assert _pending(fake_telegram) == ["Hola", "viejo"]


def test_group_chatter_and_the_bots_own_answers_are_not_comments(telegram, fake_telegram):
    post = telegram.publish(PostPayload(text="Hola"))
    comment = fake_telegram.comment("Ana", "pregunta", on_post=int(post.external_id))
    telegram.reply(f"{GROUP_ID}:{comment['message_id']}", "respuesta")
    with fake_telegram.lock:  # someone talks in the group about something else
        message = fake_telegram._new_message(fake_telegram.group, {"text": "off-topic",
                                                                  "from": {"id": 5, "is_bot": False,
                                                                           "first_name": "X"}})
        fake_telegram._add_update({"message": message})
    texts = [i.post.text for i in telegram.fetch_interactions().items]
    assert texts == ["pregunta"]


def test_private_messages_to_the_bot_are_dms(telegram, fake_telegram):
    fake_telegram.private_message("Marta", "Hola, ¿hacéis reservas?")
    (item,) = telegram.fetch_interactions().items
    assert item.kind == InteractionKind.DM and item.post.text == "Hola, ¿hacéis reservas?"
    assert item.conversation_id == item.post.external_id.split(":")[0]


def test_since_bounds_the_first_poll(telegram, fake_telegram):
    from datetime import datetime, timedelta, timezone

    post = telegram.publish(PostPayload(text="Hola"))
    old = fake_telegram.comment("Ana", "antes", on_post=int(post.external_id))
    fake_telegram.age(GROUP_ID, old["message_id"], 120)
    fake_telegram.comment("Luis", "después", on_post=int(post.external_id))
    items = telegram.fetch_interactions(since=datetime.now(timezone.utc) - timedelta(seconds=60)).items
    assert [i.post.text for i in items] == ["después"]


def test_reply_to_a_comment_goes_to_the_discussion_group(telegram, fake_telegram):
    post = telegram.publish(PostPayload(text="Hola"))
    comment = fake_telegram.comment("Ana", "¿Abrís el domingo?", on_post=int(post.external_id))
    (item,) = telegram.fetch_interactions().items
    ref = telegram.reply(item.post.external_id, "Sí, de 10 a 14 <b>h</b>")
    (request,) = fake_telegram.requests_to("sendMessage")[-1:]
    assert request.params["chat_id"] == GROUP_ID and "parse_mode" not in request.params
    assert request.params["reply_parameters"] == {"message_id": comment["message_id"]}
    sent = fake_telegram.messages[(GROUP_ID, int(ref.external_id.split(":")[1]))]
    assert sent["text"] == "Sí, de 10 a 14 <b>h</b>"
    assert sent["reply_to_message"]["message_id"] == comment["message_id"]
    assert ref.external_id == f"{GROUP_ID}:{sent['message_id']}"


def test_reply_under_a_channel_post_uses_its_thread(telegram, fake_telegram):
    post = telegram.publish(PostPayload(text="Hola"))
    ref = telegram.reply(post.external_id, "Primer comentario de la marca")
    sent = fake_telegram.messages[(GROUP_ID, int(ref.external_id.split(":")[1]))]
    assert sent["reply_to_message"]["message_id"] == fake_telegram.thread_of(int(post.external_id))["message_id"]


@pytest.mark.parametrize("target", ["-100999:5", "abc", "", "1:2:3"])
def test_reply_targets_are_checked(telegram, fake_telegram, target):
    with pytest.raises(Permanent):
        telegram.reply(target, "hola")
    assert fake_telegram.requests_to("sendMessage") == []


def test_without_a_discussion_group_there_is_nothing_to_answer(telegram_http_config):
    with FakeTelegram(discussion_group=False) as fake, \
            TelegramConnector(base_url=fake.base_url, credentials=Credentials(fake.token), channel="@cafetertulia",
                              http_config=telegram_http_config) as connector:
        ref = connector.publish(PostPayload(text="Hola"))
        assert connector.fetch_interactions().items == []
        with pytest.raises(Permanent) as info:
            connector.reply(ref.external_id, "hola")
    assert "discussion group" in str(info.value.user_message)


def test_a_limits_object_for_the_composer(telegram):
    limits = telegram.limits()
    assert (limits.max_characters, limits.counting, limits.max_media) == (4096, "utf16", 10)


def test_a_late_reply_in_an_old_thread_still_finds_its_post(telegram, fake_telegram):
    post = telegram.publish(PostPayload(text="Hola"))
    first = fake_telegram.comment("Ana", "pregunta", on_post=int(post.external_id))
    for message in fake_telegram.group_messages():
        fake_telegram.age(GROUP_ID, message["message_id"], 3600)
    batch = telegram.fetch_interactions()
    assert fake_telegram.updates == []  # everything old was confirmed, the forward too
    fake_telegram.comment("Luis", "respuesta tardía", on_post=int(post.external_id), reply_to=first["message_id"])
    (late,) = telegram.fetch_interactions(cursor=batch.cursor).items
    assert late.kind == InteractionKind.COMMENT and late.on_post == post.external_id
    # Without the cursor's memory it is still a comment, in its thread.
    fake_telegram.comment("Eva", "otra", on_post=int(post.external_id), reply_to=first["message_id"])
    fake_telegram.updates = fake_telegram.updates[-1:]
    (orphan,) = telegram.fetch_interactions().items
    assert orphan.kind == InteractionKind.COMMENT and orphan.on_post == ""
    assert orphan.conversation_id.startswith(f"{GROUP_ID}:")


@pytest.mark.parametrize("cursor", ["nonsense", "[]", '{"u": "x", "threads": {"a": "b"}}', '{"threads": []}'])
def test_a_garbled_cursor_is_a_fresh_start(telegram, fake_telegram, cursor):
    post = telegram.publish(PostPayload(text="Hola"))
    fake_telegram.comment("Ana", "uno", on_post=int(post.external_id))
    assert [i.post.text for i in telegram.fetch_interactions(cursor=cursor).items] == ["uno"]
