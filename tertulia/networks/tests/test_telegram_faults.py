"""Each fault the fake Bot API injects maps to the right error class; an ambiguous send is
reconciled through the discussion group's automatic forward, or reported, never re-posted
blindly; the bot token never leaks."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta, timezone

import pytest
from django.utils import translation

from tertulia.networks.base import Credentials, MediaItem, PostPayload
from tertulia.networks.errors import Ambiguous, AuthExpired, Permanent, RateLimited, Retryable
from tertulia.networks.http import HttpConfig
from tertulia.networks.telegram import TelegramConnector
from tests.fakes.telegram import FakeTelegram, Fault

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


@pytest.fixture(autouse=True)
def _english():
    """Messages are compared in the source language (they are translated for readers)."""
    with translation.override("en"):
        yield


def _now():
    return datetime.now(timezone.utc)


@pytest.fixture
def impatient(fake_telegram):
    config = HttpConfig(connect_timeout=1.0, read_timeout=0.5, write_timeout=1.0, allow_private_networks=True)
    with TelegramConnector(base_url=fake_telegram.base_url, credentials=Credentials(fake_telegram.token),
                           channel="@cafetertulia", http_config=config) as connector:
        yield connector


def test_429_is_rate_limited_with_telegrams_retry_after(telegram, fake_telegram):
    fake_telegram.inject("sendMessage", Fault.rate_limited(reset_in=37))
    with pytest.raises(RateLimited) as info:
        telegram.publish(PostPayload(text="hola"))
    assert info.value.retry_after == 37 and info.value.status == 429
    assert "retry after 37" in info.value.detail
    assert fake_telegram.channel_posts() == []
    blocked = telegram.http.blocked_until("POST /sendMessage")
    assert blocked is not None and blocked > _now() + timedelta(seconds=30)
    # Blocked: the next send is deferred without reaching Telegram at all.
    sent = len(fake_telegram.requests_to("sendMessage"))
    with pytest.raises(RateLimited):
        telegram.publish(PostPayload(text="hola"))
    assert len(fake_telegram.requests_to("sendMessage")) == sent


def test_429_on_a_read(telegram, fake_telegram):
    fake_telegram.inject("getChat", Fault.rate_limited(reset_in=5, retry_after=5))
    with pytest.raises(RateLimited) as info:
        telegram.fetch_profile()
    assert info.value.retry_after == 5


@pytest.mark.parametrize("status", [500, 503])
def test_5xx_is_retryable_and_nothing_was_posted(telegram, fake_telegram, status):
    fake_telegram.inject("sendMessage", Fault.server_error(status))
    with pytest.raises(Retryable) as info:
        telegram.publish(PostPayload(text="hola"))
    assert type(info.value) is Retryable and info.value.status == status
    assert fake_telegram.channel_posts() == []


def test_5xx_on_a_read_is_retryable(telegram, fake_telegram):
    fake_telegram.inject("getChat", Fault.server_error(502))
    with pytest.raises(Retryable):
        telegram.fetch_profile()


def test_a_revoked_token_is_auth_expired(telegram, fake_telegram):
    fake_telegram.expire_token()
    for call in (lambda: telegram.publish(PostPayload(text="x")), telegram.fetch_profile,
                 lambda: telegram.fetch_interactions()):
        with pytest.raises(AuthExpired) as info:
            call()
        assert info.value.status == 401 and info.value.detail == "Unauthorized"
        assert "@BotFather" in str(info.value.user_message)


def test_injected_401_is_one_off(telegram, fake_telegram):
    fake_telegram.inject("getChat", Fault.expired_token())
    with pytest.raises(AuthExpired):
        telegram.fetch_profile()
    assert telegram.fetch_profile().followers == 1234


def test_no_token_at_all(fake_telegram, telegram_http_config):
    with TelegramConnector(base_url=fake_telegram.base_url, channel="@cafetertulia",
                           http_config=telegram_http_config) as connector, pytest.raises(AuthExpired):
        connector.publish(PostPayload(text="x"))
    assert fake_telegram.requests == []


def test_bot_removed_from_the_channel_says_what_to_do(telegram, fake_telegram):
    fake_telegram.remove_bot_from_channel()
    with pytest.raises(Permanent) as info:
        telegram.publish(PostPayload(text="x"))
    assert info.value.status == 403
    assert "Add the bot to the channel as an administrator" in str(info.value.user_message)
    assert info.value.detail == "Forbidden: bot is not a member of the channel chat"


def test_bot_without_posting_rights_says_the_same(telegram, fake_telegram):
    fake_telegram.inject("sendMessage", Fault.respond(400, "Bad Request: not enough rights to send text "
                                                           "messages to the chat"))
    with pytest.raises(Permanent) as info:
        telegram.publish(PostPayload(text="x"))
    assert "Add the bot to the channel" in str(info.value.user_message)


def test_an_unknown_channel(fake_telegram, telegram_http_config):
    with TelegramConnector(base_url=fake_telegram.base_url, credentials=Credentials(fake_telegram.token),
                           channel="@otro_canal", http_config=telegram_http_config) as connector:
        with pytest.raises(Permanent) as info:
            connector.publish(PostPayload(text="x"))
    assert info.value.detail == "Bad Request: chat not found"


def test_other_400s_keep_telegrams_words(telegram, fake_telegram):
    fake_telegram.inject("sendPhoto", Fault.respond(400, "Bad Request: IMAGE_PROCESS_FAILED"))
    with pytest.raises(Permanent) as info:
        telegram.publish(PostPayload(text="x", media=(MediaItem("a.png", "image/png", content=PNG),)))
    assert "IMAGE_PROCESS_FAILED" in str(info.value.user_message)


def test_a_webhook_blocks_get_updates(telegram, fake_telegram):
    fake_telegram.webhook = "https://elsewhere.example/hook"
    with pytest.raises(Permanent) as info:
        telegram.fetch_interactions()
    assert info.value.status == 409 and "webhook" in str(info.value.user_message)


def test_malformed_json_on_a_read_is_retryable(telegram, fake_telegram):
    fake_telegram.inject("getChat", Fault.malformed('{"ok":true,"result":{"id":', after=False))
    with pytest.raises(Retryable) as info:
        telegram.fetch_profile()
    assert type(info.value) is Retryable


def test_a_2xx_without_the_envelope_on_a_write_is_ambiguous(impatient, fake_telegram):
    fake_telegram.inject("sendMessage", Fault.malformed('{"result": "maybe"}'))
    with pytest.raises(Ambiguous):
        impatient.publish(PostPayload(text="x"))


# -- the ambiguous outcome -------------------------------------------------------------------


@pytest.mark.parametrize("fault", [Fault.timeout_after(3.0), Fault.drop_after(), Fault.malformed(),
                                   Fault.server_error(502, after=True)],
                         ids=["read-timeout", "dropped", "garbled-200", "gateway-502"])
def test_ambiguous_send_is_found_through_the_discussion_group(impatient, fake_telegram, fault):
    since = _now()
    payload = PostPayload(text="El concierto empieza a las 20 h. #directo", marker="t-7")
    fake_telegram.inject("sendMessage", fault)
    with pytest.raises(Ambiguous):
        impatient.publish(payload)
    (created,) = fake_telegram.channel_posts()  # it did go out
    found = impatient.find_published(payload, since=since)
    assert found is not None and found.external_id == str(created["message_id"])
    assert found.url.endswith(f"/{created['message_id']}")
    # find_published only looked: the updates are still there for the inbox.
    assert fake_telegram.updates


def test_ambiguous_album_is_found_whole(impatient, fake_telegram):
    since = _now()
    media = tuple(MediaItem(f"{i}.png", "image/png", content=PNG) for i in range(3))
    payload = PostPayload(text="Fotos", media=media)
    fake_telegram.inject("sendMediaGroup", Fault.timeout_after(3.0))
    with pytest.raises(Ambiguous):
        impatient.publish(payload)
    found = impatient.find_published(payload, since=since)
    assert found is not None
    assert found.external_id == ",".join(str(p["message_id"]) for p in fake_telegram.channel_posts())


def test_find_published_says_none_when_nothing_arrived(telegram, fake_telegram):
    since = _now()
    telegram.publish(PostPayload(text="otra cosa"))
    fake_telegram.inject("sendMessage", Fault.server_error(500))
    with pytest.raises(Retryable):
        telegram.publish(PostPayload(text="El texto"))
    assert telegram.find_published(PostPayload(text="El texto"), since=since) is None


def test_find_published_ignores_posts_before_since(telegram, fake_telegram):
    telegram.publish(PostPayload(text="Buenos días"))
    forward = fake_telegram.group_messages()[0]
    fake_telegram.age(forward["chat"]["id"], forward["message_id"], 600)
    assert telegram.find_published(PostPayload(text="Buenos días"), since=_now() - timedelta(minutes=5)) is None


def test_without_a_discussion_group_it_cannot_know_and_says_so(telegram_http_config):
    with FakeTelegram(discussion_group=False) as fake, \
            TelegramConnector(base_url=fake.base_url, credentials=Credentials(fake.token), channel="@cafetertulia",
                              http_config=telegram_http_config) as connector:
        with pytest.raises(Ambiguous) as info:
            connector.find_published(PostPayload(text="x"), since=_now())
    assert "Check the channel" in str(info.value.user_message)


def test_an_old_attempt_cannot_be_confirmed_absent(telegram, fake_telegram):
    # Updates older than keep_seconds may already be confirmed (gone): "not found" would lie.
    with pytest.raises(Ambiguous):
        telegram.find_published(PostPayload(text="x"), since=_now() - timedelta(hours=2))


def test_a_failure_uploading_is_never_retried_as_a_new_post(impatient, fake_telegram):
    fake_telegram.inject("sendPhoto", Fault.timeout_after(3.0))
    with pytest.raises(Ambiguous):  # the photo message may exist: check first
        impatient.publish(PostPayload(text="x", media=(MediaItem("a.png", "image/png", content=PNG),)))


def test_an_ambiguous_delete_is_just_retryable(impatient, fake_telegram):
    ref = impatient.publish(PostPayload(text="borrar"))
    fake_telegram.inject("deleteMessage", Fault.drop_after())
    with pytest.raises(Retryable) as info:
        impatient.delete(ref.external_id)
    assert not isinstance(info.value, Ambiguous)
    assert impatient.delete(ref.external_id) is False  # it had gone; deleting again is harmless


def test_probabilistic_faults(fake_telegram, telegram):
    fake_telegram.inject("*", Fault.server_error(503), times=None, probability=0.5)
    outcomes = []
    for i in range(30):
        try:
            telegram.publish(PostPayload(text=f"p{i}"))
            outcomes.append("ok")
        except RateLimited:
            break
        except Retryable:
            outcomes.append("retry")
    assert outcomes.count("retry") > 3 and outcomes.count("ok") > 3
    assert len(fake_telegram.channel_posts()) == outcomes.count("ok")


# -- the token never leaks -------------------------------------------------------------------


def test_the_bot_token_never_appears_in_logs_errors_or_keys(fake_telegram, caplog):
    config = HttpConfig(connect_timeout=1.0, read_timeout=0.5, write_timeout=1.0, allow_private_networks=True)
    token = fake_telegram.token
    secret = token.split(":", 1)[1]
    caplog.set_level(logging.DEBUG)
    errors = []
    with TelegramConnector(base_url=fake_telegram.base_url, credentials=Credentials(token),
                           channel="@cafetertulia", http_config=config) as connector:
        connector.publish(PostPayload(text="ok"))
        for method, fault in [("sendMessage", Fault.timeout_after(2.0)), ("getChat", Fault.server_error(500)),
                              ("sendMessage", Fault.respond(400, "Bad Request: x")),
                              ("sendMessage", Fault.rate_limited(3))]:
            fake_telegram.inject(method, fault)
            connector._chat = None
            with pytest.raises(Exception) as info:  # noqa: PT011 - every kind, on purpose
                connector.fetch_profile() if method == "getChat" else connector.publish(PostPayload(text="y"))
            errors.append(info.value)
        fake_telegram.expire_token()
        connector._chat = None
        with pytest.raises(AuthExpired) as info:
            connector.fetch_profile()  # (sendMessage is paused by the 429 above)
        errors.append(info.value)
        exchanges = list(connector.http.exchanges)
        keys = [connector.account_key] + [s.bucket for s in connector.rate_limits]
    assert len(caplog.records) > 5 and any("/bot<redacted>/" in r.getMessage() for r in caplog.records)
    for text in [r.getMessage() for r in caplog.records] + [caplog.text]:
        assert secret not in text
    for error in errors:
        assert secret not in str(error) and secret not in error.detail and secret not in error.log_line()
        assert secret not in repr(error.args)
    for exchange in exchanges:
        assert secret not in exchange.path and secret not in exchange.detail
    assert all(secret not in key for key in keys)
    assert connector.account_key == "telegram:bot7000000001:@cafetertulia"
