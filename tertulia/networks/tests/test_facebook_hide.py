"""Hiding comments on a Facebook Page (``POST /{comment-id}`` with ``is_hidden``) through the
fake Graph API: hide, show again, idempotent, and the refusals mapped to our error classes."""

from __future__ import annotations

import pytest

from tertulia.networks.base import Connector, PostPayload
from tertulia.networks.errors import AuthExpired, Permanent, Retryable, Unsupported
from tests.fakes.facebook import Fault
from tests.fakes.facebook_plugin import facebook, fake_graph, graph_http_config  # noqa: F401


def en(message) -> str:
    """A lazy user message as an English reader sees it."""
    from django.utils.translation import override

    with override("en"):
        return str(message)


def test_the_interface_says_who_can_hide():
    from tertulia.networks.bluesky import BlueskyConnector
    from tertulia.networks.facebook import FacebookConnector

    assert Connector.can_hide is False and BlueskyConnector.can_hide is False
    assert FacebookConnector.can_hide is True


def test_a_network_without_hiding_says_so_in_plain_words(bluesky):
    with pytest.raises(Unsupported) as err:
        bluesky.hide_comment("at://did:plc:x/app.bsky.feed.post/1", True)
    assert "does not let an account hide comments" in en(err.value.user_message)


def test_hide_and_show_a_comment_on_our_post(facebook, fake_graph):
    ref = facebook.publish(PostPayload(text="¿Qué tal el café?"))
    comment = fake_graph.comment(ref.external_id, "Sois unos estafadores", name="Troll")
    facebook.hide_comment(comment["id"], True)
    assert fake_graph.comments[comment["id"]]["is_hidden"] is True
    (request,) = fake_graph.requests_to("POST /:id")
    assert request.params == {"is_hidden": "true"}
    assert request.token == fake_graph.page_token and "access_token" not in request.params
    facebook.hide_comment(comment["id"], True)  # idempotent
    facebook.hide_comment(comment["id"], False)
    assert fake_graph.comments[comment["id"]]["is_hidden"] is False


def test_without_the_moderate_task_the_refusal_asks_to_reconnect(facebook, fake_graph):
    ref = facebook.publish(PostPayload(text="Hola"))
    comment = fake_graph.comment(ref.external_id, "feo")
    fake_graph.pages[facebook.page_id]["tasks"].remove("MODERATE")
    with pytest.raises(Permanent) as err:
        facebook.hide_comment(comment["id"], True)
    assert "lacks a permission" in en(err.value.user_message) and "Reconnect" in en(err.value.user_message)
    assert "is_hidden" not in fake_graph.comments[comment["id"]]


def test_unknown_or_malformed_ids_and_the_pages_own_comment_are_refused(facebook, fake_graph):
    with pytest.raises(Permanent):
        facebook.hide_comment("../me/feed", True)
    assert not fake_graph.requests_to("POST /:id")
    with pytest.raises(Permanent) as err:
        facebook.hide_comment("123_456", True)
    assert "Meta refused" in en(err.value.user_message)
    ref = facebook.publish(PostPayload(text="Hola"))
    ours = facebook.reply(ref.external_id, "Gracias a todos")
    with pytest.raises(Permanent):
        facebook.hide_comment(ours.external_id, True)


def test_expired_token_and_server_errors(facebook, fake_graph):
    ref = facebook.publish(PostPayload(text="Hola"))
    comment = fake_graph.comment(ref.external_id, "x")
    fake_graph.inject("POST /:id", Fault.server_error(500))
    with pytest.raises(Retryable):  # hiding twice is harmless: a plain retry, never "ambiguous"
        facebook.hide_comment(comment["id"], True)
    fake_graph.expire_token()
    with pytest.raises(AuthExpired):
        facebook.hide_comment(comment["id"], True)
