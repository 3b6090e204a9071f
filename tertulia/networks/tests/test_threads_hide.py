"""Hiding replies on Threads (``POST /{reply-id}/manage_reply?hide=``) through the fake API."""

from __future__ import annotations

import pytest

from tertulia.networks.base import PostPayload
from tertulia.networks.errors import AuthExpired, Permanent
from tertulia.networks.threads.connector import ThreadsConnector
from tests.fakes.threads_plugin import fake_threads, threads, threads_http_config, threads_media_urls  # noqa: F401


def en(message) -> str:
    """A lazy user message as an English reader sees it."""
    from django.utils.translation import override

    with override("en"):
        return str(message)


def test_hide_and_show_a_reply_under_our_post(threads, fake_threads):
    assert ThreadsConnector.can_hide is True
    ref = threads.publish(PostPayload(text="¿Café o té?"))
    reply = fake_threads.reply_from("lector", "Ninguno, sois lo peor", to=ref.external_id)
    threads.hide_comment(reply["id"], True)
    assert fake_threads.media[reply["id"]]["hide_status"] == "HIDDEN"
    threads.hide_comment(reply["id"], False)
    assert fake_threads.media[reply["id"]]["hide_status"] == "UNHUSHED"
    (first, _second) = fake_threads.requests_to("POST /:id/manage_reply")
    assert first.params.get("hide") == "true"


def test_a_reply_to_someone_elses_post_is_refused(threads, fake_threads):
    other = fake_threads.mention_from("otra", "hola @cafetertulia")
    reply = fake_threads.reply_from("lector", "a otra persona", to=other["id"])
    with pytest.raises(Permanent) as err:
        threads.hide_comment(reply["id"], True)
    assert "Meta refused" in en(err.value.user_message)
    assert "hide_status" not in fake_threads.media[reply["id"]]


def test_without_threads_manage_replies_the_message_asks_to_reconnect(threads, fake_threads):
    ref = threads.publish(PostPayload(text="Hola"))
    reply = fake_threads.reply_from("lector", "feo", to=ref.external_id)
    fake_threads.manage_replies_permission = False
    with pytest.raises(Permanent) as err:
        threads.hide_comment(reply["id"], True)
    assert "lacks a permission" in en(err.value.user_message)


def test_bad_ids_and_expired_tokens(threads, fake_threads):
    with pytest.raises(Permanent):
        threads.hide_comment("12/../../me", True)
    assert not fake_threads.requests_to("POST /:id/manage_reply")
    ref = threads.publish(PostPayload(text="Hola"))
    reply = fake_threads.reply_from("lector", "x", to=ref.external_id)
    fake_threads.expire_token()
    with pytest.raises(AuthExpired):
        threads.hide_comment(reply["id"], True)
