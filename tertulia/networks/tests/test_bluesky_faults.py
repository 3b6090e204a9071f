"""Each fault the fake PDS injects maps to the right error class; an ambiguous publish is found
with find_published, and a retry with the same marker never makes a second post (its rkey is
taken, and the connector reads the record back instead of failing)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from tertulia.networks.base import Credentials, MediaItem, PostPayload
from tertulia.networks.bluesky import BlueskyConnector, jwt_expiry, parse_at_uri, tid_for_marker
from tertulia.networks.errors import Ambiguous, AuthExpired, Permanent, RateLimited, Retryable
from tertulia.networks.http import HttpConfig
from tests.fakes.bluesky import FakeBluesky, Fault

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
CREATE = "POST com.atproto.repo.createRecord"


def _now():
    return datetime.now(timezone.utc)


def _credentials(fake):
    return Credentials(fake.access_jwt, fake.refresh_jwt, jwt_expiry(fake.access_jwt))


@pytest.fixture
def impatient(fake_bluesky):
    """A connector that gives up reading after half a second."""
    config = HttpConfig(connect_timeout=1.0, read_timeout=0.5, write_timeout=1.0, allow_private_networks=True)
    with BlueskyConnector(base_url=fake_bluesky.base_url, credentials=_credentials(fake_bluesky),
                          http_config=config) as connector:
        connector.fetch_profile()
        yield connector


def test_429_with_ratelimit_reset_is_rate_limited(bluesky, fake_bluesky):
    bluesky.fetch_profile()
    fake_bluesky.inject(CREATE, Fault.rate_limited(reset_in=120))
    with pytest.raises(RateLimited) as info:
        bluesky.publish(PostPayload(text="hola", marker="m"))
    assert 115 <= info.value.retry_after <= 121
    assert info.value.detail == "RateLimitExceeded: Rate Limit Exceeded" and info.value.status == 429
    assert fake_bluesky.posts_of() == []
    blocked = bluesky.http.blocked_until("POST /xrpc/com.atproto.repo.createRecord")
    assert blocked is not None and blocked > _now() + timedelta(seconds=100)
    # A rate-limited create never triggers the "already published?" check.
    assert fake_bluesky.requests_to("com.atproto.repo.getRecord") == []
    # Until the reset the connector does not even send: it knows the answer (ratelimit.py).
    sent = len(fake_bluesky.requests_to("com.atproto.repo.createRecord"))
    with pytest.raises(RateLimited) as again:
        bluesky.publish(PostPayload(text="hola", marker="m"))
    assert again.value.detail.startswith("not sent") and 115 <= again.value.retry_after <= 121
    assert len(fake_bluesky.requests_to("com.atproto.repo.createRecord")) == sent
    bluesky.http.rate_book = type(bluesky.http.rate_book)()  # the window has reset
    assert bluesky.publish(PostPayload(text="hola", marker="m")).external_id


def test_429_retry_after_wins_over_reset(bluesky, fake_bluesky):
    fake_bluesky.inject("GET com.atproto.server.getSession", Fault.rate_limited(reset_in=300, retry_after=7))
    with pytest.raises(RateLimited) as info:
        bluesky.fetch_profile()
    assert info.value.retry_after == 7


def test_the_servers_own_rate_limit_and_its_headers(fake_bluesky, bluesky_http_config):
    fake_bluesky.rate_limits["global"] = (4, 300.0)
    with BlueskyConnector(base_url=fake_bluesky.base_url, credentials=_credentials(fake_bluesky),
                          account_id=fake_bluesky.own_did, http_config=bluesky_http_config) as connector:
        for i in range(4):
            connector.publish(PostPayload(text=f"post {i}"))
        with pytest.raises(RateLimited) as info:
            connector.publish(PostPayload(text="one too many"))
        assert 290 <= info.value.retry_after <= 301
        (state,) = [s for s in connector.rate_limits if s.bucket == "POST /xrpc/com.atproto.repo.createRecord"]
    assert state.remaining == 0 and state.limit == 4 and state.reset_at > _now()
    assert len(fake_bluesky.posts_of()) == 4


def test_rate_limit_headers_are_recorded_on_success(bluesky, fake_bluesky):
    bluesky.fetch_profile()
    (state,) = [s for s in bluesky.rate_limits if s.bucket == "GET /xrpc/app.bsky.actor.getProfile"]
    assert state.limit == 3000 and state.remaining == 2998 and state.reset_at > _now()


@pytest.mark.parametrize("status", [500, 503])
def test_5xx_is_retryable_and_nothing_was_posted(bluesky, fake_bluesky, status):
    bluesky.fetch_profile()
    fake_bluesky.inject(CREATE, Fault.server_error(status))
    with pytest.raises(Retryable) as info:
        bluesky.publish(PostPayload(text="hola"))
    assert type(info.value) is Retryable and info.value.status == status
    assert fake_bluesky.posts_of() == []


def test_5xx_on_a_read_is_retryable(bluesky, fake_bluesky):
    fake_bluesky.inject("GET app.bsky.actor.getProfile", Fault.server_error(502))
    with pytest.raises(Retryable):
        bluesky.fetch_profile()


def test_invalid_request_is_permanent(bluesky, fake_bluesky):
    fake_bluesky.inject("GET app.bsky.feed.searchPosts", Fault.respond(400, "InvalidRequest", "q is too long"))
    with pytest.raises(Permanent) as info:
        bluesky.search("hola")
    assert info.value.detail == "InvalidRequest: q is too long"
    assert "q is too long" in str(info.value.user_message)


def test_401_is_auth_expired_without_a_refresh(bluesky, fake_bluesky):
    bluesky.fetch_profile()
    fake_bluesky.inject("GET app.bsky.actor.getProfile", Fault.respond(401, "AuthMissing", "Authentication Required"))
    with pytest.raises(AuthExpired):
        bluesky.fetch_profile()
    assert fake_bluesky.requests_to("com.atproto.server.refreshSession") == []


@pytest.mark.parametrize("body", ['{"did": "did:plc:kvwvcn5iqfooopmyzvb4qzba", "hand', "<html>502</html>", ""])
def test_malformed_json_on_a_read_is_retryable(bluesky, fake_bluesky, body):
    fake_bluesky.inject("GET com.atproto.server.getSession", Fault.malformed(body))
    with pytest.raises(Retryable) as info:
        bluesky.fetch_profile()
    assert type(info.value) is Retryable


def test_json_of_the_wrong_shape_is_retryable(bluesky, fake_bluesky):
    bluesky.fetch_profile()
    fake_bluesky.inject("GET app.bsky.actor.getProfile", Fault.malformed('["not", "a", "profile"]'))
    with pytest.raises(Retryable) as info:
        bluesky.fetch_profile()
    assert "expected a JSON dict" in info.value.detail


def test_a_malformed_error_body_still_maps_by_status(bluesky, fake_bluesky):
    bluesky.fetch_profile()
    fake_bluesky.inject("GET app.bsky.actor.getProfile", Fault("malformed", status=400, body="{oops", after=False))
    with pytest.raises(Permanent) as info:
        bluesky.fetch_profile()
    assert info.value.status == 400 and "{oops" in info.value.detail


def test_latency_is_tolerated(bluesky, fake_bluesky):
    fake_bluesky.latency = 0.2
    started = _now()
    assert bluesky.publish(PostPayload(text="lento pero seguro")).external_id
    assert (_now() - started).total_seconds() >= 0.2


# -- the ambiguous outcome -------------------------------------------------------------------


@pytest.mark.parametrize("fault", [Fault.timeout_after(3.0), Fault.drop_after(), Fault.malformed(),
                                   Fault.server_error(504, after=True), Fault.server_error(502, after=True)],
                         ids=["read-timeout", "dropped", "garbled-200", "gateway-504", "gateway-502"])
def test_ambiguous_publish_is_found_and_a_retry_makes_no_duplicate(impatient, fake_bluesky, fault):
    since = _now()
    payload = PostPayload(text="El concierto empieza a las 20 h. #directo 🎸", language="es", marker="target-7")
    fake_bluesky.inject(CREATE, fault)
    with pytest.raises(Ambiguous):
        impatient.publish(payload)
    (created,) = fake_bluesky.posts_of()  # it did go out
    assert parse_at_uri(created["uri"])[2] == tid_for_marker("target-7")
    found = impatient.find_published(payload, since=since)
    assert found is not None and found.external_id == created["uri"]
    # find_published asked for that one record: no guessing from text.
    assert fake_bluesky.requests_to("com.atproto.repo.listRecords") == []
    # Even a blind retry with the same marker cannot duplicate: the rkey is taken (the PDS
    # answers 500), and the connector reads the record back as "already published".
    again = impatient.publish(payload)
    assert again.external_id == created["uri"]
    assert [r.status for r in fake_bluesky.requests_to("com.atproto.repo.createRecord")][-1] == 500
    assert len(fake_bluesky.posts_of()) == 1


def test_rkey_conflict_as_an_explicit_error(fake_bluesky, bluesky_http_config):
    fake_bluesky.duplicate_rkey = (400, "InvalidRequest", "Record already exists")  # atproto#4728 style
    with BlueskyConnector(base_url=fake_bluesky.base_url, credentials=_credentials(fake_bluesky),
                          http_config=bluesky_http_config) as connector:
        first = connector.publish(PostPayload(text="una vez", marker="t-1"))
        second = connector.publish(PostPayload(text="una vez", marker="t-1"))
        other = connector.publish(PostPayload(text="una vez", marker="t-2"))
    assert first.external_id == second.external_id != other.external_id
    assert len(fake_bluesky.posts_of()) == 2


def test_a_refused_create_with_a_free_rkey_stays_refused(bluesky, fake_bluesky):
    fake_bluesky.max_graphemes = 5
    with pytest.raises(Permanent):
        bluesky.publish(PostPayload(text="demasiado largo", marker="t-9"))
    assert len(fake_bluesky.requests_to("com.atproto.repo.getRecord")) == 1  # checked, not there
    assert fake_bluesky.posts_of() == []


def test_ambiguous_without_a_marker_is_found_by_text(fake_bluesky):
    config = HttpConfig(connect_timeout=1.0, read_timeout=0.5, allow_private_networks=True)
    with BlueskyConnector(base_url=fake_bluesky.base_url, credentials=_credentials(fake_bluesky),
                          http_config=config, deterministic_rkeys=False) as connector:
        root = connector.publish(PostPayload(text="raíz"))
        since = _now()
        connector.publish(PostPayload(text="Hola  a todos"))  # same words, but not a reply
        payload = PostPayload(text="Hola a todos", reply_to=root.external_id, marker="t-3")
        fake_bluesky.inject(CREATE, Fault.timeout_after(3.0))
        with pytest.raises(Ambiguous):
            connector.publish(payload)
        found = connector.find_published(payload, since=since)
    created = [p for p in fake_bluesky.posts_of() if p["value"].get("reply")]
    assert found is not None and found.external_id == created[0]["uri"]
    assert "rkey" not in fake_bluesky.requests_to("com.atproto.repo.createRecord")[-1].body.decode()


def test_find_published_says_none_when_nothing_arrived(bluesky, fake_bluesky):
    since = _now()
    bluesky.publish(PostPayload(text="otra cosa", marker="other"))
    assert bluesky.find_published(PostPayload(text="otra cosa", marker="mine"), since=since) is None
    bluesky.deterministic_rkeys = False
    assert bluesky.find_published(PostPayload(text="El texto"), since=since) is None


def test_find_published_by_text_ignores_posts_before_since(bluesky, fake_bluesky):
    bluesky.deterministic_rkeys = False
    old = bluesky.publish(PostPayload(text="Buenos días"))
    fake_bluesky._record_at(old.external_id)["value"]["createdAt"] = "2020-01-01T00:00:00.000Z"
    assert bluesky.find_published(PostPayload(text="Buenos días"), since=_now() - timedelta(minutes=5)) is None
    assert bluesky.find_published(PostPayload(text="Buenos días"),
                                  since=datetime(2019, 12, 31, tzinfo=timezone.utc)).external_id == old.external_id


def test_find_published_pages_through_a_busy_account(bluesky, fake_bluesky):
    bluesky.deterministic_rkeys = False
    since = _now()
    target = bluesky.publish(PostPayload(text="la buena"))
    for i in range(150):
        fake_bluesky._create(fake_bluesky.own_did, "app.bsky.feed.post", fake_bluesky.next_tid(),
                             {"$type": "app.bsky.feed.post", "text": f"ruido {i}",
                              "createdAt": "2026-01-01T00:00:00.000Z"})
    found = bluesky.find_published(PostPayload(text="la buena"), since=since)
    assert found is not None and found.external_id == target.external_id
    assert len(fake_bluesky.requests_to("com.atproto.repo.listRecords")) == 2


def test_a_failure_while_uploading_an_image_is_never_ambiguous(impatient, fake_bluesky):
    # Only createRecord makes a post; an upload that timed out leaves an orphan blob at worst.
    fake_bluesky.inject("POST com.atproto.repo.uploadBlob", Fault.timeout_after(3.0))
    with pytest.raises(Retryable) as info:
        impatient.publish(PostPayload(text="x", media=(MediaItem("a.png", "image/png", content=PNG),)))
    assert not isinstance(info.value, Ambiguous)
    assert fake_bluesky.requests_to("com.atproto.repo.createRecord") == []


def test_a_timeout_on_a_read_is_retryable(impatient, fake_bluesky):
    fake_bluesky.inject("GET app.bsky.actor.getProfile", Fault.timeout_after(3.0))
    with pytest.raises(Retryable) as info:
        impatient.fetch_profile()
    assert not isinstance(info.value, Ambiguous)


def test_probabilistic_faults_for_benchmarks(fake_bluesky):
    config = HttpConfig(allow_private_networks=True)
    outcomes = []
    with BlueskyConnector(base_url=fake_bluesky.base_url, credentials=_credentials(fake_bluesky),
                          account_id=fake_bluesky.own_did, http_config=config) as connector:
        fake_bluesky.inject("*", Fault.server_error(503), times=None, probability=0.5)
        for i in range(40):
            try:
                connector.publish(PostPayload(text=f"p{i}"))
                outcomes.append("ok")
            except Retryable:
                outcomes.append("retry")
    assert 5 < outcomes.count("retry") < 35
    assert len(fake_bluesky.posts_of()) == outcomes.count("ok")


def test_many_accounts_on_one_fake(fake_bluesky, bluesky_http_config):
    refs = []
    for handle in ("marca1.bsky.social", "marca2.bsky.social"):
        fake_bluesky.add_account(handle, password="app-pass-word-0000")
        with BlueskyConnector(base_url=fake_bluesky.base_url, identifier=handle, app_password="app-pass-word-0000",
                              http_config=bluesky_http_config) as connector:
            assert connector.fetch_profile().handle == f"@{handle}"
            refs.append(connector.publish(PostPayload(text="hola", marker="same-marker")).external_id)
    # The same marker gives the same rkey, but in two repos: two posts.
    assert refs[0] != refs[1] and parse_at_uri(refs[0])[2] == parse_at_uri(refs[1])[2]


def test_the_fake_refuses_to_start_without_corpora(tmp_path, monkeypatch):
    from tests.fakes.corpora import CorpusMissing

    monkeypatch.setenv("TERTULIA_CORPORA", str(tmp_path))
    with pytest.raises(CorpusMissing):
        FakeBluesky()
