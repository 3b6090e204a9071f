"""Each fault the fake WordPress injects maps to the right error class; an ambiguous create is
reconciled with find_published; the site address goes through the SSRF guard; the application
password never leaks."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta, timezone

import pytest
from django.utils import translation

from tertulia.networks.base import Credentials, MediaItem, PostPayload
from tertulia.networks.errors import Ambiguous, AuthExpired, Permanent, RateLimited, Retryable
from tertulia.networks.http import HttpConfig
from tertulia.networks.wordpress import WordPressConnector
from tests.fakes.wordpress import Fault

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


@pytest.fixture(autouse=True)
def _english():
    """Messages are compared in the source language (they are translated for readers)."""
    with translation.override("en"):
        yield


def _now():
    return datetime.now(timezone.utc)


def _connector(fake, config=None, **kw):
    return WordPressConnector(base_url=fake.base_url, username=fake.username,
                              credentials=Credentials(fake.app_password),
                              http_config=config or HttpConfig(allow_private_networks=True), **kw)


@pytest.fixture
def impatient(fake_wordpress):
    config = HttpConfig(connect_timeout=1.0, read_timeout=0.5, write_timeout=1.0, allow_private_networks=True)
    with _connector(fake_wordpress, config) as connector:
        yield connector


def test_429_with_retry_after_is_rate_limited(wordpress, fake_wordpress):
    fake_wordpress.inject("POST /wp/v2/posts", Fault.rate_limited(reset_in=120, retry_after=30))
    with pytest.raises(RateLimited) as info:
        wordpress.publish(PostPayload(text="hola"))
    assert info.value.retry_after == 30
    assert fake_wordpress.live_posts() == []


def test_429_with_only_reset_headers(wordpress, fake_wordpress):
    fake_wordpress.inject("GET /wp/v2/users/me", Fault.rate_limited(reset_in=90))
    with pytest.raises(RateLimited) as info:
        wordpress.fetch_profile()
    assert 85 <= info.value.retry_after <= 91


def test_503_with_retry_after_is_retryable_and_says_when(wordpress, fake_wordpress):
    fake_wordpress.inject("POST /wp/v2/posts", Fault.server_error(503, retry_after=45))
    with pytest.raises(Retryable) as info:
        wordpress.publish(PostPayload(text="hola"))
    assert type(info.value) is Retryable and info.value.status == 503 and info.value.retry_after == 45
    assert fake_wordpress.live_posts() == []


def test_500_is_retryable(wordpress, fake_wordpress):
    fake_wordpress.inject("GET /wp/v2/users/me", Fault.server_error(500))
    with pytest.raises(Retryable):
        wordpress.fetch_profile()


def test_a_revoked_application_password_says_how_to_fix_it(wordpress, fake_wordpress):
    fake_wordpress.expire_token()
    for call in (lambda: wordpress.publish(PostPayload(text="x")), wordpress.fetch_profile,
                 lambda: wordpress.fetch_interactions()):
        with pytest.raises(AuthExpired) as info:
            call()
        assert info.value.status == 401 and "incorrect_password" in info.value.detail
        assert "create a new application password in your wordpress profile" in str(info.value.user_message).lower()


def test_a_wrong_user_name_is_auth_expired(fake_wordpress):
    with WordPressConnector(base_url=fake_wordpress.base_url, username="nadie",
                            credentials=Credentials(fake_wordpress.app_password),
                            http_config=HttpConfig(allow_private_networks=True)) as connector:
        with pytest.raises(AuthExpired) as info:
            connector.fetch_profile()
    assert "invalid_username" in info.value.detail


def test_basic_auth_stripped_by_the_server_is_auth_expired(wordpress, fake_wordpress):
    # Some hosts drop the Authorization header: WordPress then sees a visitor.
    fake_wordpress.inject("POST /wp/v2/posts", Fault.respond(401, "rest_cannot_create",
                                                             "Sorry, you are not allowed to create posts as this user."))
    with pytest.raises(AuthExpired) as info:
        wordpress.publish(PostPayload(text="x"))
    assert "rest_cannot_create" in info.value.detail


def test_no_password_at_all(fake_wordpress):
    with WordPressConnector(base_url=fake_wordpress.base_url, username="x",
                            http_config=HttpConfig(allow_private_networks=True)) as connector:
        with pytest.raises(AuthExpired):
            connector.publish(PostPayload(text="x"))
    assert fake_wordpress.requests == []


def test_403_is_permanent(wordpress, fake_wordpress):
    fake_wordpress.inject("POST /wp/v2/media", Fault.respond(403, "rest_cannot_create",
                                                             "Sorry, you are not allowed to upload media on this site."))
    with pytest.raises(Permanent) as info:
        wordpress.publish(PostPayload(text="x", media=(MediaItem("a.png", "image/png", content=PNG),)))
    assert info.value.status == 403 and "upload media" in info.value.detail
    assert fake_wordpress.live_posts() == []


def test_a_php_warning_before_the_json_is_read_past(wordpress, fake_wordpress):
    fake_wordpress.inject("POST /wp/v2/posts", Fault.php_warning())
    ref = wordpress.publish(PostPayload(text="Con aviso de PHP"))
    assert int(ref.external_id) in fake_wordpress.posts
    fake_wordpress.inject("GET /wp/v2/users/me", Fault.php_warning())
    assert wordpress.fetch_profile().external_id == str(fake_wordpress.user["id"])


def test_malformed_json_on_a_read_is_retryable(wordpress, fake_wordpress):
    fake_wordpress.inject("GET /wp/v2/users/me", Fault.malformed('{"id": 5, "name": "tru'))
    with pytest.raises(Retryable) as info:
        wordpress.fetch_profile()
    assert type(info.value) is Retryable and "not JSON" in info.value.detail


def test_an_html_error_page_is_not_wordpress(wordpress, fake_wordpress):
    fake_wordpress.inject("GET /wp/v2/users/me", Fault.malformed("<html>Not Found</html>", status=404, after=False))
    with pytest.raises(Permanent) as info:
        wordpress.fetch_profile()
    assert "WordPress site" in str(info.value.user_message)


# -- the ambiguous outcome -------------------------------------------------------------------


@pytest.mark.parametrize("fault", [Fault.timeout_after(3.0), Fault.drop_after(), Fault.malformed(),
                                   Fault.server_error(504, after=True)],
                         ids=["read-timeout", "dropped", "garbled-200", "gateway-504"])
def test_ambiguous_create_is_found_instead_of_reposted(impatient, fake_wordpress, fault):
    since = _now()
    payload = PostPayload(text="El concierto empieza a las 20 h\n\nEntradas en taquilla. #directo",
                          media=(MediaItem("a.png", "image/png", content=PNG, alt_text="cartel"),))
    fake_wordpress.inject("POST /wp/v2/posts", fault)
    with pytest.raises(Ambiguous):
        impatient.publish(payload)
    (created,) = fake_wordpress.live_posts()
    found = impatient.find_published(payload, since=since)
    assert found is not None and found.external_id == str(created["id"])


def test_find_published_says_none_when_nothing_arrived(wordpress, fake_wordpress):
    since = _now()
    wordpress.publish(PostPayload(text="El texto\n\notro cuerpo"))
    wordpress.publish(PostPayload(text="Otro título\n\nEl cuerpo"))
    assert wordpress.find_published(PostPayload(text="El texto\n\nEl cuerpo"), since=since) is None


def test_find_published_ignores_posts_before_since(wordpress, fake_wordpress):
    ref = wordpress.publish(PostPayload(text="Buenos días"))
    post = fake_wordpress.posts[int(ref.external_id)]
    post["date"] -= timedelta(hours=3)
    post["modified"] -= timedelta(hours=3)
    assert wordpress.find_published(PostPayload(text="Buenos días"), since=_now() - timedelta(minutes=5)) is None
    assert wordpress.find_published(PostPayload(text="Buenos días"),
                                    since=_now() - timedelta(hours=4)).external_id == ref.external_id


def test_find_published_sees_drafts_and_other_authors_posts_do_not_count(fake_wordpress):
    since = _now()
    other = fake_wordpress.add_user("otra", "Otra persona")
    with _connector(fake_wordpress, post_status="draft") as mine:
        ref = mine.publish(PostPayload(text="Mismo texto"))
    with WordPressConnector(base_url=fake_wordpress.base_url, username="otra",
                            credentials=Credentials(fake_wordpress.issue_password(other["id"])),
                            http_config=HttpConfig(allow_private_networks=True)) as theirs:
        theirs.publish(PostPayload(text="Mismo texto"))
        assert theirs.find_published(PostPayload(text="Mismo texto"), since=since).external_id != ref.external_id
    with _connector(fake_wordpress, post_status="draft") as mine:
        assert mine.find_published(PostPayload(text="Mismo texto"), since=since).external_id == ref.external_id


def test_a_failure_uploading_media_is_never_ambiguous(impatient, fake_wordpress):
    fake_wordpress.inject("POST /wp/v2/media", Fault.server_error(500))
    with pytest.raises(Retryable) as info:
        impatient.publish(PostPayload(text="x", media=(MediaItem("a.png", "image/png", content=PNG),)))
    assert not isinstance(info.value, Ambiguous)
    assert fake_wordpress.requests_to("POST", "/wp/v2/posts") == []


def test_latency_is_tolerated(wordpress, fake_wordpress):
    fake_wordpress.latency = 0.2
    started = _now()
    assert wordpress.publish(PostPayload(text="lento")).external_id
    assert (_now() - started).total_seconds() >= 0.2


# -- the site address ------------------------------------------------------------------------


@pytest.mark.parametrize("site", ["http://127.0.0.1:8080", "https://10.0.0.5", "https://192.168.1.10/blog",
                                  "https://169.254.169.254", "https://localhost", "https://[::1]"])
def test_a_private_site_address_is_refused(site):
    # Without the tests' loopback allowance (the default): the guard checks the dialled address.
    with WordPressConnector(base_url=site, username="u", credentials=Credentials("p p p"),
                            http_config=HttpConfig(allow_private_networks=False, connect_timeout=1.0)) as connector:
        with pytest.raises(Permanent) as info:
            connector.publish(PostPayload(text="x"))
    message = str(info.value.user_message)
    assert "private network" in message or "https://" in message


def test_a_real_private_fake_is_refused_without_the_allowance(fake_wordpress):
    site = fake_wordpress.base_url.replace("http://", "https://")
    with WordPressConnector(base_url=site, username=fake_wordpress.username,
                            credentials=Credentials(fake_wordpress.app_password),
                            http_config=HttpConfig(allow_private_networks=False)) as connector:
        with pytest.raises(Permanent) as info:
            connector.fetch_profile()
    assert "private network" in str(info.value.user_message)
    assert fake_wordpress.requests == []  # never dialled


def test_plain_http_is_refused(fake_wordpress):
    with WordPressConnector(base_url="http://blog.example.com", username="u", credentials=Credentials("p"),
                            http_config=HttpConfig(allow_private_networks=False)) as connector:
        with pytest.raises(Permanent) as info:
            connector.fetch_profile()
    assert "https://" in str(info.value.user_message)


def test_a_site_cannot_redirect_us_elsewhere(wordpress, fake_wordpress):
    fake_wordpress.inject("GET /wp/v2/users/me", Fault("status", status=301, body=""))
    with pytest.raises(Permanent):
        wordpress.fetch_profile()


# -- the password never leaks ----------------------------------------------------------------


def test_the_application_password_never_appears_in_logs_or_errors(fake_wordpress, caplog):
    config = HttpConfig(connect_timeout=1.0, read_timeout=0.5, write_timeout=1.0, allow_private_networks=True)
    password = fake_wordpress.app_password
    caplog.set_level(logging.DEBUG)
    errors = []
    with _connector(fake_wordpress, config) as connector:
        connector.publish(PostPayload(text="ok #nuevo"))
        for endpoint, fault in [("POST /wp/v2/posts", Fault.timeout_after(2.0)),
                                ("GET /wp/v2/users/me", Fault.server_error(500)),
                                ("POST /wp/v2/posts", Fault.respond(400, "rest_invalid_param", "Invalid")),
                                ("GET /wp/v2/comments", Fault.rate_limited(3)),
                                ("GET /wp/v2/users/me", Fault.malformed("garbage"))]:
            fake_wordpress.inject(endpoint, fault)
            connector._me = None
            with pytest.raises(Exception) as info:  # noqa: PT011 - every kind, on purpose
                if endpoint.startswith("POST"):
                    connector.publish(PostPayload(text="y"))
                elif "comments" in endpoint:
                    connector.fetch_interactions()
                else:
                    connector.fetch_profile()
            errors.append(info.value)
        fake_wordpress.expire_token()
        connector._me = None
        with pytest.raises(AuthExpired) as info:
            connector.fetch_profile()
        errors.append(info.value)
        exchanges = list(connector.http.exchanges)
        keys = [connector.account_key] + [s.bucket for s in connector.rate_limits]
    compact = password.replace(" ", "")
    texts = [r.getMessage() for r in caplog.records] + [caplog.text]
    texts += [str(e) for e in errors] + [e.detail for e in errors] + [e.log_line() for e in errors]
    texts += [repr(e.args) for e in errors] + [e.path + e.detail for e in exchanges] + keys
    assert len(caplog.records) > 5
    for text in texts:
        assert password not in text and compact not in text
