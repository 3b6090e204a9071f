"""Each fault the fake injects maps to the right error class, and an ambiguous publish is
reconciled with find_published instead of a blind re-post."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from tertulia.networks.base import Credentials, MediaItem, PostPayload
from tertulia.networks.errors import Ambiguous, AuthExpired, Permanent, RateLimited, Retryable
from tertulia.networks.http import HttpConfig
from tertulia.networks.mastodon import MastodonConnector
from tests.fakes.mastodon import FakeMastodon, Fault


def _now():
    return datetime.now(timezone.utc)


@pytest.fixture
def impatient(fake_mastodon):
    """A connector that gives up reading after half a second."""
    config = HttpConfig(connect_timeout=1.0, read_timeout=0.5, write_timeout=1.0, allow_private_networks=True)
    with MastodonConnector(base_url=fake_mastodon.base_url, credentials=Credentials(fake_mastodon.token),
                           http_config=config, media_poll_interval=0.05) as connector:
        yield connector


def test_429_with_reset_headers_is_rate_limited(mastodon, fake_mastodon):
    fake_mastodon.inject("POST /api/v1/statuses", Fault.rate_limited(reset_in=120))
    with pytest.raises(RateLimited) as info:
        mastodon.publish(PostPayload(text="hola", marker="m"))
    assert 115 <= info.value.retry_after <= 121
    assert fake_mastodon.own_statuses() == []
    blocked = mastodon.http.blocked_until("POST /api/v1/statuses")
    assert blocked is not None and blocked > _now() + timedelta(seconds=100)
    # Until the reset the connector does not send at all (ratelimit.py): nothing reaches the server.
    sent = len(fake_mastodon.requests_to("POST", "/api/v1/statuses"))
    with pytest.raises(RateLimited) as again:
        mastodon.publish(PostPayload(text="hola", marker="m"))
    assert again.value.detail.startswith("not sent") and 115 <= again.value.retry_after <= 121
    assert len(fake_mastodon.requests_to("POST", "/api/v1/statuses")) == sent
    mastodon.http.rate_book = type(mastodon.http.rate_book)()  # the window has reset
    assert mastodon.publish(PostPayload(text="hola", marker="m")).external_id  # the fault was one-off


def test_429_retry_after_wins_over_reset(mastodon, fake_mastodon):
    fake_mastodon.inject("GET /api/v1/accounts/verify_credentials", Fault.rate_limited(reset_in=300, retry_after=7))
    with pytest.raises(RateLimited) as info:
        mastodon.fetch_profile()
    assert info.value.retry_after == 7


def test_the_servers_own_rate_limit(mastodon, fake_mastodon):
    fake_mastodon.rate_limits["api"] = (3, 300.0)
    for i in range(3):
        mastodon.publish(PostPayload(text=f"post {i}"))
    with pytest.raises(RateLimited):
        mastodon.publish(PostPayload(text="one too many"))
    assert len(fake_mastodon.own_statuses()) == 3
    (state,) = [s for s in mastodon.rate_limits if s.bucket == "POST /api/v1/statuses"]
    assert state.remaining == 0 and state.limit == 3


def test_media_uploads_have_their_own_window(mastodon, fake_mastodon):
    fake_mastodon.rate_limits["media"] = (1, 1800.0)
    fake_mastodon.media_processing_seconds = 0
    png = MediaItem("a.png", "image/png", content=b"\x89PNG")
    mastodon.publish(PostPayload(text="1", media=(png,)))
    with pytest.raises(RateLimited) as info:
        mastodon.publish(PostPayload(text="2", media=(png,)))
    assert info.value.retry_after > 1700
    mastodon.publish(PostPayload(text="text only still works"))


@pytest.mark.parametrize("status", [500, 503])
def test_5xx_is_retryable_and_nothing_was_posted(mastodon, fake_mastodon, status):
    fake_mastodon.inject("POST /api/v1/statuses", Fault.server_error(status))
    with pytest.raises(Retryable) as info:
        mastodon.publish(PostPayload(text="hola", marker="m"))
    assert type(info.value) is Retryable and info.value.status == status
    assert fake_mastodon.own_statuses() == []


def test_expired_token_is_auth_expired(mastodon, fake_mastodon):
    fake_mastodon.expire_token()
    for call in (lambda: mastodon.publish(PostPayload(text="x")), mastodon.fetch_profile,
                 lambda: mastodon.fetch_interactions()):
        with pytest.raises(AuthExpired) as info:
            call()
        assert info.value.detail == "The access token is invalid"
        assert info.value.status == 401


def test_injected_401(mastodon, fake_mastodon):
    fake_mastodon.inject("GET /api/v1/accounts/verify_credentials", Fault.expired_token())
    with pytest.raises(AuthExpired):
        mastodon.fetch_profile()
    assert mastodon.fetch_profile().external_id  # the token itself is still good


def test_malformed_json_on_a_read_is_retryable(mastodon, fake_mastodon):
    fake_mastodon.inject("GET /api/v1/accounts/verify_credentials", Fault.malformed('{"id": "1", "usern'))
    with pytest.raises(Retryable) as info:
        mastodon.fetch_profile()
    assert type(info.value) is Retryable and "not JSON" in info.value.detail


def test_json_of_the_wrong_shape_is_retryable(mastodon, fake_mastodon):
    fake_mastodon.inject("GET /api/v1/accounts/verify_credentials", Fault.malformed('["not", "an", "account"]'))
    with pytest.raises(Retryable) as info:
        mastodon.fetch_profile()
    assert "expected a JSON dict" in info.value.detail


def test_latency_is_tolerated(mastodon, fake_mastodon):
    fake_mastodon.latency = 0.2
    started = datetime.now(timezone.utc)
    ref = mastodon.publish(PostPayload(text="lento pero seguro"))
    assert ref.external_id and (datetime.now(timezone.utc) - started).total_seconds() >= 0.2


# -- the ambiguous outcome -------------------------------------------------------------------


@pytest.mark.parametrize("fault", [Fault.timeout_after(3.0), Fault.drop_after(), Fault.malformed(),
                                   Fault.server_error(504, after=True), Fault.server_error(502, after=True)],
                         ids=["read-timeout", "dropped", "garbled-200", "gateway-504", "gateway-502"])
def test_ambiguous_publish_is_found_instead_of_reposted(impatient, fake_mastodon, fault):
    since = _now()
    payload = PostPayload(text="El concierto empieza a las 20 h. #directo", content_warning="Spoiler",
                          marker="target-7")
    fake_mastodon.inject("POST /api/v1/statuses", fault)
    with pytest.raises(Ambiguous):
        impatient.publish(payload)
    (created,) = fake_mastodon.own_statuses()  # it did go out
    found = impatient.find_published(payload, since=since)
    assert found is not None and found.external_id == created["id"]
    assert found.url.endswith(created["id"])
    # No re-post was needed; and even a retry with the same marker would not duplicate.
    assert impatient.publish(payload).external_id == created["id"]
    assert len(fake_mastodon.own_statuses()) == 1


def test_ambiguous_with_media_and_a_thread(impatient, fake_mastodon):
    fake_mastodon.media_processing_seconds = 0
    root = impatient.publish(PostPayload(text="hilo 1/2"))
    since = _now()
    payload = PostPayload(text="hilo 2/2 @admin", reply_to=root.external_id, marker="t2",
                          media=(MediaItem("a.png", "image/png", content=b"\x89PNG", alt_text="x"),))
    fake_mastodon.inject("POST /api/v1/statuses", Fault.timeout_after(3.0))
    with pytest.raises(Ambiguous):
        impatient.publish(payload)
    found = impatient.find_published(payload, since=since)
    assert found is not None
    assert fake_mastodon.statuses[found.external_id]["in_reply_to_id"] == root.external_id


def test_find_published_says_none_when_nothing_arrived(mastodon, fake_mastodon):
    since = _now()
    mastodon.publish(PostPayload(text="otra cosa"))
    mastodon.publish(PostPayload(text="El texto", content_warning="otro aviso"))
    mastodon.publish(PostPayload(text="El texto", reply_to=mastodon.publish(PostPayload(text="raíz")).external_id))
    assert mastodon.find_published(PostPayload(text="El texto"), since=since) is None
    # ...so the engine may post it, once.


def test_find_published_ignores_posts_before_since(mastodon, fake_mastodon):
    old = mastodon.publish(PostPayload(text="Buenos días"))
    fake_mastodon.statuses[old.external_id]["created_at"] -= timedelta(hours=3)
    assert mastodon.find_published(PostPayload(text="Buenos días"), since=_now() - timedelta(minutes=5)) is None
    assert mastodon.find_published(PostPayload(text="Buenos días"),
                                   since=_now() - timedelta(hours=4)).external_id == old.external_id


def test_find_published_tolerates_the_servers_rendering(mastodon, fake_mastodon):
    fake_mastodon.add_account("amiga", domain="otra.example")
    text = ("Hola @amiga@otra.example y @admin:\n\n  mirad https://example.com/" + "a" * 60
            + " & <b>no es HTML</b> #Fiesta")
    since = _now()
    ref = mastodon.publish(PostPayload(text=text))
    html = fake_mastodon.statuses[ref.external_id]["html"]
    assert "&amp;" in html and "&lt;b&gt;" in html and '<span class="invisible">' in html
    assert "@<span>amiga</span>" in html  # Mastodon shows @amiga@otra.example as @amiga
    found = mastodon.find_published(PostPayload(text=text), since=since)
    assert found is not None and found.external_id == ref.external_id
    assert fake_mastodon.requests_to("GET", "/api/v1/statuses/:id/source") == []  # matched on content


def test_find_published_pages_back_through_a_busy_account(mastodon, fake_mastodon):
    since = _now()
    target = mastodon.publish(PostPayload(text="la buena"))
    for i in range(90):
        fake_mastodon._create_status(fake_mastodon.own, {"status": f"ruido {i}"})
    found = mastodon.find_published(PostPayload(text="la buena"), since=since)
    assert found is not None and found.external_id == target.external_id
    assert len(fake_mastodon.requests_to("GET", "/api/v1/accounts/:id/statuses")) == 3


def test_find_published_asks_for_the_source_when_the_server_renders_markdown(fake_mastodon):
    fake_mastodon.markdown = True  # glitch-soc/Akkoma style rendering: the asterisks vanish
    config = HttpConfig(allow_private_networks=True)
    with MastodonConnector(base_url=fake_mastodon.base_url, credentials=Credentials(fake_mastodon.token),
                           http_config=config) as connector:
        since = _now()
        ref = connector.publish(PostPayload(text="Hoy **gratis** la entrada"))
        connector.publish(PostPayload(text="Otra **cosa**"))
        found = connector.find_published(PostPayload(text="Hoy **gratis** la entrada"), since=since)
    assert found is not None and found.external_id == ref.external_id
    assert fake_mastodon.requests_to("GET", "/api/v1/statuses/:id/source")


def test_a_failure_while_uploading_media_is_never_ambiguous(impatient, fake_mastodon):
    # Only the status creates a post; an upload that timed out leaves an orphan file at worst.
    fake_mastodon.inject("POST /api/v2/media", Fault.timeout_after(3.0))
    with pytest.raises(Retryable) as info:
        impatient.publish(PostPayload(text="x", media=(MediaItem("a.png", "image/png", content=b"\x89PNG"),)))
    assert not isinstance(info.value, Ambiguous)
    assert fake_mastodon.requests_to("POST", "/api/v1/statuses") == []


def test_probabilistic_faults_for_benchmarks(fake_mastodon):
    fake_mastodon.inject("*", Fault.server_error(503), times=None, probability=0.5)
    config = HttpConfig(allow_private_networks=True)
    outcomes = []
    with MastodonConnector(base_url=fake_mastodon.base_url, credentials=Credentials(fake_mastodon.token),
                           http_config=config) as connector:
        for i in range(40):
            try:
                connector.publish(PostPayload(text=f"p{i}"))
                outcomes.append("ok")
            except Retryable:
                outcomes.append("retry")
    assert 5 < outcomes.count("retry") < 35
    assert len(fake_mastodon.own_statuses()) == outcomes.count("ok")


def test_many_accounts_on_one_fake(fake_mastodon):
    # Benchmarks publish for hundreds of accounts against one fake.
    config = HttpConfig(allow_private_networks=True)
    ids = []
    for name in ("marca1", "marca2"):
        account = fake_mastodon.add_account(name)
        token = fake_mastodon.issue_token(account["id"])
        with MastodonConnector(base_url=fake_mastodon.base_url, credentials=Credentials(token),
                               http_config=config) as connector:
            assert connector.fetch_profile().handle.startswith(f"@{name}@")
            ids.append(connector.publish(PostPayload(text="hola", marker="same-marker")).external_id)
    assert ids[0] != ids[1]  # idempotency keys are per account, like Mastodon's


def test_the_fake_refuses_to_start_without_corpora(tmp_path, monkeypatch):
    from tests.fakes.corpora import CorpusMissing

    monkeypatch.setenv("TERTULIA_CORPORA", str(tmp_path))
    with pytest.raises(CorpusMissing):
        FakeMastodon()


def test_permanent_is_not_retryable():
    # The engine tells the classes apart with isinstance: keep the hierarchy honest.
    assert not issubclass(Permanent, Retryable) and issubclass(RateLimited, Retryable)
    assert not issubclass(Ambiguous, Retryable) and not issubclass(AuthExpired, Retryable)
