"""What goes wrong with Facebook, against the fake Graph API: an expired token (code 190),
Graph throttling with its usage header, transient errors, gateways that lose a write's
answer, a timeout after the post was created, malformed JSON, a missing permission."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from tertulia.networks.base import PostPayload
from tertulia.networks.errors import Ambiguous, AuthExpired, Permanent, RateLimited, Retryable
from tests.fakes.facebook import Fault
from tests.fakes.facebook_plugin import facebook, fake_graph, graph_http_config  # noqa: F401


@pytest.fixture(autouse=True)
def _english():
    """The messages are checked in English, whatever language an earlier test left active."""
    from django.utils import translation

    with translation.override("en"):
        yield


def test_expired_token_code_190_is_auth_expired_with_the_fix(facebook, fake_graph):
    fake_graph.expire_token()
    with pytest.raises(AuthExpired) as caught:
        facebook.publish(PostPayload(text="No saldrá"))
    assert "Reconnect the account" in str(caught.value.user_message)
    assert "code=190 subcode=463" in caught.value.detail
    assert fake_graph.page_token not in caught.value.detail
    assert fake_graph.page_posts() == []
    for call in (facebook.fetch_profile, lambda: facebook.fetch_interactions()):
        with pytest.raises(AuthExpired):
            call()


def test_throttling_waits_as_long_as_the_usage_header_says(facebook, fake_graph):
    fake_graph.inject("POST /:id/feed", Fault.throttled(minutes=7))
    with pytest.raises(RateLimited) as caught:
        facebook.publish(PostPayload(text="Luego"))
    assert caught.value.retry_after == 7 * 60
    assert "7 minutes" in str(caught.value.user_message)
    assert fake_graph.page_posts() == []


def test_a_transient_graph_error_is_retryable(facebook, fake_graph):
    fake_graph.inject("GET /:id", Fault.server_error(500))
    with pytest.raises(Retryable) as caught:
        facebook.fetch_profile()
    assert not isinstance(caught.value, Ambiguous)
    assert facebook.fetch_profile().handle  # the next call goes through


@pytest.mark.parametrize("fault", [Fault.server_error(502, after=True), Fault.server_error(504, after=True),
                                   Fault.timeout_after(2.0), Fault.drop_after(),
                                   # Graph's catch-alls, which can come after the post was created:
                                   Fault.server_error(500, after=True),
                                   Fault.graph_error(2, "An unexpected error has occurred.", status=500,
                                                     after=True)])
def test_a_write_whose_answer_was_lost_is_ambiguous(facebook, fake_graph, fault):
    facebook.http.config = type(facebook.http.config)(read_timeout=0.5, allow_private_networks=True)
    fake_graph.inject("POST /:id/feed", fault)
    with pytest.raises(Ambiguous):
        facebook.publish(PostPayload(text="¿Salió?"))
    assert len(fake_graph.page_posts()) == 1  # it did: find_published must look before any retry
    assert facebook.find_published(PostPayload(text="¿Salió?"), since=datetime.now(timezone.utc) - timedelta(minutes=1))


def test_a_garbled_read_is_retryable(facebook, fake_graph):
    fake_graph.inject("GET /:id", Fault.malformed("{\"id\": ", after=False))
    with pytest.raises(Retryable):
        facebook.fetch_profile()


def test_a_missing_permission_is_permanent_and_says_to_reconnect(facebook, fake_graph):
    fake_graph.inject("POST /:id/feed", Fault.graph_error(
        200, "(#200) The user hasn't authorized the application to perform this action", status=403))
    with pytest.raises(Permanent) as caught:
        facebook.publish(PostPayload(text="x"))
    assert "grant every permission" in str(caught.value.user_message)


def test_the_recorded_code_100_error_is_permanent_with_metas_words(facebook, fake_graph):
    from tests.fakes.facebook import recorded

    body = recorded("error.json")
    fake_graph.inject("GET /:id", Fault("status", status=400, body=__import__("json").dumps(body)))
    with pytest.raises(Permanent) as caught:
        facebook.fetch_profile()
    assert body["error"]["message"] in caught.value.detail
    assert "code=100" in caught.value.detail
