"""Every way a Joomla site can fail, mapped to the one error vocabulary: revoked tokens and
lost permissions, 429, 5xx, timeouts after the article was saved, malformed JSON, a site that
is not Joomla, and addresses the SSRF guard refuses."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from tertulia.networks.base import Credentials, PostPayload
from tertulia.networks.errors import Ambiguous, AuthExpired, Permanent, RateLimited, Retryable
from tertulia.networks.http import HttpConfig
from tertulia.networks.joomla import JoomlaConnector
from tests.fakes.joomla import Fault

REVOKED = "the API token was revoked or the user lost the permission"


@pytest.fixture(autouse=True)
def _english():
    """Messages are compared in English (the CM reads them in their own language)."""
    from django.utils import translation

    with translation.override("en"):
        yield


def test_a_wrong_token_is_auth_expired_and_never_leaks(fake_joomla, joomla_http_config):
    wrong = fake_joomla.issue_token(fake_joomla.user["id"])
    fake_joomla.expire_token(wrong)
    with JoomlaConnector(base_url=fake_joomla.base_url, credentials=Credentials(wrong), category="Blog",
                         http_config=joomla_http_config) as connector:
        with pytest.raises(AuthExpired) as err:
            connector.publish(PostPayload(text="Hola"))
    assert REVOKED in str(err.value.user_message) and err.value.status == 401
    assert wrong not in err.value.detail and wrong not in err.value.log_line()


def test_a_user_who_lost_the_api_permission_is_auth_expired(fake_joomla, joomla):
    fake_joomla.revoke_api_permission()
    with pytest.raises(AuthExpired) as err:
        joomla.fetch_profile()
    assert err.value.status == 403 and REVOKED in str(err.value.user_message)


def test_an_empty_token_fails_before_any_request(fake_joomla, joomla_http_config):
    with JoomlaConnector(base_url=fake_joomla.base_url, http_config=joomla_http_config) as connector:
        with pytest.raises(AuthExpired):
            connector.fetch_profile()
    assert fake_joomla.requests == []


def test_rate_limit_and_server_errors_are_retryable(fake_joomla, joomla):
    fake_joomla.inject("POST /content/articles", Fault.rate_limited(retry_after=30))
    with pytest.raises(RateLimited) as err:
        joomla.publish(PostPayload(text="Uno"))
    assert err.value.retry_after == 30
    joomla.http.rate_book._states.clear()
    fake_joomla.inject("POST /content/articles", Fault.server_error(503, retry_after=7))
    with pytest.raises(Retryable) as err:
        joomla.publish(PostPayload(text="Dos"))
    assert not isinstance(err.value, (RateLimited, Ambiguous)) and err.value.retry_after == 7
    assert fake_joomla.live_articles() == []


def test_a_gateway_error_on_create_is_ambiguous(fake_joomla, joomla):
    fake_joomla.inject("POST /content/articles", Fault.server_error(504, after=True))
    with pytest.raises(Ambiguous):
        joomla.publish(PostPayload(text="Quizá", marker="tertulia-5-1"))
    assert len(fake_joomla.live_articles()) == 1  # it was saved: find_published must say so


@pytest.mark.parametrize("fault", [Fault.timeout_after(2.0), Fault.drop_after(), Fault.malformed()])
def test_a_lost_answer_after_the_save_is_ambiguous_and_found(fake_joomla, joomla, fault):
    since = datetime.now(timezone.utc)
    payload = PostPayload(text="Una sola vez\n\ncuerpo", marker="tertulia-8-1")
    fake_joomla.inject("POST /content/articles", fault)
    with pytest.raises(Ambiguous):
        joomla.publish(payload)
    (article,) = fake_joomla.live_articles()
    ref = joomla.find_published(payload, since=since)
    assert ref is not None and ref.external_id == str(article["id"])


def test_malformed_json_on_a_read_is_retryable(fake_joomla, joomla):
    fake_joomla.inject("GET /content/articles", Fault.malformed('{"data": [', after=False))
    with pytest.raises(Retryable) as err:
        joomla.fetch_profile()
    assert not isinstance(err.value, Ambiguous)
    fake_joomla.inject("GET /content/articles", Fault.malformed('{"data": "not a list"}', after=False))
    with pytest.raises(Retryable):
        joomla.fetch_profile()


def test_validation_errors_are_permanent_with_joomla_words(fake_joomla, joomla):
    fake_joomla.inject("POST /content/articles", Fault.respond(400, "Invalid field:  Status"))
    with pytest.raises(Permanent) as err:
        joomla.publish(PostPayload(text="Hola"))
    assert "Invalid field:  Status" in str(err.value.user_message)


def test_a_site_that_is_not_joomla(fake_joomla, joomla_http_config):
    with JoomlaConnector(base_url=fake_joomla.base_url + "/otro", credentials=Credentials(fake_joomla.token),
                         http_config=joomla_http_config) as connector:
        with pytest.raises(Permanent) as err:
            connector.fetch_profile()
    assert "does not answer like a Joomla" in str(err.value.user_message)


def test_plain_http_and_private_addresses_are_refused_in_production():
    production = HttpConfig(connect_timeout=1.0, read_timeout=1.0, allow_private_networks=False)
    with JoomlaConnector(base_url="http://joomla.example", credentials=Credentials("t"),
                         http_config=production) as connector:
        with pytest.raises(Permanent, match="https"):
            connector.fetch_profile()
    for address in ("https://127.0.0.1:9", "https://10.1.2.3", "https://[::ffff:169.254.169.254]"):
        with JoomlaConnector(base_url=address, credentials=Credentials("t"), http_config=production) as connector:
            with pytest.raises(Permanent) as err:
                connector.fetch_profile()
        assert "private network" in str(err.value.user_message), address


def test_garbled_ids_in_lists_are_never_trusted(fake_joomla, joomla):
    fake_joomla.inject("GET /tags", Fault.malformed(
        '{"data": [{"type": "tags", "id": "x", "attributes": {"id": "1 OR 1=1", "title": "nueva"}}]}', after=False))
    joomla.publish(PostPayload(text="Etiqueta #nueva"))
    (article,) = fake_joomla.live_articles()
    assert [fake_joomla.tags[t]["title"] for t in article["tags"]] == ["nueva"]  # created, not the garbled id
    joomla._category_cache.clear()
    fake_joomla.inject("GET /content/categories", Fault.malformed(
        '{"data": [{"type": "categories", "id": "x", "attributes": {"id": "../1", "title": "Blog"}}]}', after=False))
    with pytest.raises(Retryable):
        joomla.publish(PostPayload(text="Otra"))
    assert len(fake_joomla.live_articles()) == 1


def test_a_php_notice_before_the_json_does_not_break_a_create(fake_joomla, joomla):
    fake_joomla.inject("POST /content/articles", Fault.php_warning())
    ref = joomla.publish(PostPayload(text="Con aviso de PHP"))
    (article,) = fake_joomla.live_articles()
    assert ref.external_id == str(article["id"])


def test_a_retry_after_a_503_reuses_the_image_it_already_uploaded(fake_joomla, joomla):
    from tertulia.networks.base import MediaItem

    png = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
    payload = PostPayload(text="Con cartel", marker="tertulia-12-1",
                          media=(MediaItem("cartel.png", "image/png", content=png),))
    fake_joomla.inject("POST /content/articles", Fault.server_error(503))
    with pytest.raises(Retryable):
        joomla.publish(payload)  # the image went up; the article did not
    assert list(fake_joomla.files) == ["local-images:/tertulia-12-1-1-cartel.png"]
    joomla.http.rate_book._states.clear()
    ref = joomla.publish(payload)  # the retry: the image name is taken (409), by our own image
    article = fake_joomla.articles[int(ref.external_id)]
    assert article["images"]["image_intro"] == "images/tertulia-12-1-1-cartel.png"
    assert len(fake_joomla.files) == 1 and len(fake_joomla.live_articles()) == 1


def test_a_name_clash_without_a_marker_is_still_refused(fake_joomla, joomla):
    from tertulia.networks.base import MediaItem

    item = MediaItem("a.png", "image/png", content=b"\x89PNG\r\n\x1a\n" + b"\x00" * 8)
    joomla.upload(item, "fixed")
    with pytest.raises(Permanent):
        joomla.upload(item, "fixed")
