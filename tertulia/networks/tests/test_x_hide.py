"""Hiding replies on X (``PUT /2/tweets/:id/hidden``) through the fake X API v2."""

from __future__ import annotations

import pytest

from tertulia.networks.base import Credentials, PostPayload
from tertulia.networks.errors import Permanent
from tertulia.networks.x.connector import XConnector
from tests.fakes.x_plugin import fake_x, x, x_http_config  # noqa: F401


def en(message) -> str:
    """A lazy user message as an English reader sees it."""
    from django.utils.translation import override

    with override("en"):
        return str(message)


def test_hide_and_show_a_reply_in_our_conversation(x, fake_x):
    assert XConnector.can_hide is True
    ref = x.publish(PostPayload(text="¿Qué leemos este mes?"))
    reply = fake_x.reply_from("troll", "Qué asco de marca", to=ref.external_id)
    x.hide_comment(reply["id"], True)
    assert fake_x.tweets[reply["id"]]["hidden"] is True
    x.hide_comment(reply["id"], False)
    assert fake_x.tweets[reply["id"]]["hidden"] is False
    requests = fake_x.requests_to("PUT /2/tweets/:id/hidden")
    assert [r.json for r in requests] == [{"hidden": True}, {"hidden": False}]


def test_a_reply_in_someone_elses_conversation_is_refused_in_plain_words(x, fake_x):
    other = fake_x.add_user("otra", "Otra")
    root = fake_x._store({"id": fake_x._next_id(), "text": "Mi hilo", "author_id": other["id"]})
    root["conversation_id"] = root["id"]
    fake_x.tweets[root["id"]] = root
    reply = fake_x.reply_from("lector", "respuesta", to=root["id"])
    with pytest.raises(Permanent) as err:
        x.hide_comment(reply["id"], True)
    message = en(err.value.user_message)
    assert "Only replies to the account's own posts can be hidden" in message
    assert "hidden" not in fake_x.tweets[reply["id"]]


def test_a_token_without_the_moderation_scope_asks_to_reconnect(fake_x, x_http_config):
    from tertulia.networks.ratelimit import BucketBook

    answer = fake_x.issue(fake_x.own["id"], scope="tweet.read tweet.write users.read offline.access")
    with XConnector(base_url=fake_x.base_url, credentials=Credentials(access_token=answer["access_token"]),
                    http_config=x_http_config, buckets=BucketBook()) as old:
        ref = old.publish(PostPayload(text="Hola"))
        reply = fake_x.reply_from("lector", "feo", to=ref.external_id)
        with pytest.raises(Permanent) as err:
            old.hide_comment(reply["id"], True)
    assert "reconnect it" in en(err.value.user_message)


def test_bad_and_unknown_ids(x, fake_x):
    with pytest.raises(Permanent):
        x.hide_comment("12/../../2/users/me", True)
    assert not fake_x.requests_to("PUT /2/tweets/:id/hidden")
    with pytest.raises(Permanent):
        x.hide_comment("1999999999999999999", True)
