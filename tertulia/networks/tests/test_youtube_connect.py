"""Connecting a YouTube channel through the web pages (Google OAuth with PKCE and offline
access) against the loopback fake, and the per-post video settings page: validation with
YouTube's rules, the brand's time zone, escaping, tenants and roles."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from django.test import Client
from django.urls import reverse

from tertulia.core.models import AuditEvent
from tertulia.core.tests.web_helpers import XSS, assert_escaped
from tertulia.networks.models import SocialAccount, YouTubeVideoSettings

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def youtube_app(settings, fake_youtube):
    from django.utils import translation

    settings.SITE_URL = "http://testserver"
    settings.PUBLISHING = {**settings.PUBLISHING, "HTTP": {"connect_timeout": 2.0, "read_timeout": 5.0,
                                                           "write_timeout": 5.0, "allow_private_networks": True}}
    settings.NETWORK_APPS = {**settings.NETWORK_APPS, "youtube": {"client_id": fake_youtube.client_id,
                                                                  "client_secret": fake_youtube.client_secret}}
    settings.NETWORK_ENDPOINTS = {"youtube": {"auth": fake_youtube.base_url, "token": fake_youtube.base_url,
                                              "api": fake_youtube.base_url}}
    with translation.override("en"):
        yield settings


@pytest.fixture
def alpha(brand_a):
    brand, people = brand_a
    client = Client(HTTP_ACCEPT_LANGUAGE="en")
    client.force_login(people["owner"])
    return brand, people, client


def consent(location: str) -> dict[str, str]:
    answer = httpx.get(location, follow_redirects=False, timeout=5.0)
    assert answer.status_code == 302, answer.text
    back = urlsplit(answer.headers["location"])
    assert f"{back.scheme}://{back.netloc}{back.path}" == "http://testserver" + reverse("youtube_callback")
    return {k: v[0] for k, v in parse_qs(back.query).items()}


def test_full_connection_keeps_the_tokens_encrypted(alpha, fake_youtube):
    brand, _people, client = alpha
    page = client.get(reverse("youtube_connect", args=[brand.pk])).content.decode()
    assert "Continue to Google" in page and "10000" in page.replace(",", "").replace(".", "")
    response = client.post(reverse("youtube_connect", args=[brand.pk]))
    location = response["Location"]
    params = parse_qs(urlsplit(location).query)
    assert location.startswith(fake_youtube.base_url + "/o/oauth2/v2/auth?")
    assert params["access_type"] == ["offline"] and params["code_challenge_method"] == ["S256"]
    assert "youtube.upload" in params["scope"][0] and fake_youtube.client_secret not in location
    done = client.get(reverse("youtube_callback"), consent(location), follow=True)
    assert done.status_code == 200
    account = SocialAccount.objects.get(brand=brand)
    assert account.network == "youtube" and account.handle == "@cafetertulia"
    assert account.display_name == "Café Tertulia" and account.external_id == fake_youtube.channel["id"]
    assert account.access_token in fake_youtube.tokens and account.refresh_token in fake_youtube.refresh_tokens
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT access_token, refresh_token FROM networks_socialaccount WHERE id = %s", [account.pk])
        raw_access, raw_refresh = cursor.fetchone()
    assert account.access_token not in raw_access and account.refresh_token not in raw_refresh
    for text in (done.content.decode(), str(AuditEvent.objects.get(action="account.connect").changes)):
        assert account.refresh_token not in text and fake_youtube.client_secret not in text
    token_call = fake_youtube.requests_to("POST /token")[0]
    assert b"code_verifier=" in token_call.body


def test_state_mismatch_and_denied_consent_store_nothing(alpha, fake_youtube):
    brand, _people, client = alpha
    query = consent(client.post(reverse("youtube_connect", args=[brand.pk]))["Location"])
    forged = client.get(reverse("youtube_callback"), {**query, "state": "attacker"})
    assert forged.status_code == 403
    fake_youtube.consent = "deny"
    query = consent(client.post(reverse("youtube_connect", args=[brand.pk]))["Location"])
    done = client.get(reverse("youtube_callback"), query, follow=True)
    assert "access was not granted" in done.content.decode()
    assert not SocialAccount.objects.filter(brand=brand).exists()


def test_unconfigured_app_explains_the_setup(alpha, settings):
    brand, _people, client = alpha
    settings.NETWORK_APPS = {**settings.NETWORK_APPS, "youtube": {"client_id": "", "client_secret": ""}}
    text = client.get(reverse("youtube_connect", args=[brand.pk])).content.decode()
    assert "YOUTUBE_CLIENT_ID" in text and "http://testserver/networks/youtube/callback/" in text


def test_connect_needs_the_account_role(brand_a):
    brand, people = brand_a
    client = Client()
    client.force_login(people["analyst"])
    assert client.get(reverse("youtube_connect", args=[brand.pk])).status_code in (403, 404)


# -- the video settings page ----------------------------------------------------------------


@pytest.fixture
def post(alpha):
    from tertulia.content.services import do_create_post
    from tertulia.core.services import Ctx

    from tertulia.networks.services import do_add_account

    brand, people, _client = alpha
    ctx = Ctx(people["owner"], via="test")
    account = do_add_account(ctx, brand, network="youtube", handle="@cafetertulia", access_token="token")
    return do_create_post(ctx, brand, text="Receta de café de olla\n#cafe #receta", accounts=[account])


def url(post):
    return reverse("youtube_video_settings", args=[post.brand_id, post.pk])


def test_settings_saved_in_the_brand_time_zone(alpha, post):
    brand, _people, client = alpha
    brand.timezone = "America/Mexico_City"
    brand.save()
    page = client.get(url(post)).content.decode()
    assert "Receta de café de olla" in page  # the title the text gives
    response = client.post(url(post), {"title": "Café de olla", "tags": "receta, #café, receta", "privacy": "private",
                                       "publish_at": "2099-05-01T10:30", "category_id": "26"})
    assert response.status_code == 302
    row = YouTubeVideoSettings.objects.get(post=post)
    assert row.tags == ["receta", "café"] and row.category_id == "26"
    assert row.publish_at == datetime(2099, 5, 1, 16, 30, tzinfo=timezone.utc)  # 10:30 in Mexico City (UTC-6)
    assert AuditEvent.objects.filter(action="youtube.video_settings").exists()


@pytest.mark.parametrize("data, fragment", [
    ({"title": "x" * 101}, "at most 100"),
    ({"title": XSS}, "&lt; and &gt;"),
    ({"tags": ", ".join(f"etiqueta numero {i}" for i in range(40))}, "500"),
    ({"privacy": "public", "publish_at": "2099-01-01T10:00"}, "private"),
    ({"privacy": "private", "publish_at": "2001-01-01T10:00"}, "future"),
    ({"privacy": "secret"}, "valid choice"),
    ({"publish_at": "not a date"}, "valid date"),
    ({"category_id": "<b>"}, "valid value"),
    ({"tags": "x" * 5000}, "at most 2000"),
])
def test_hostile_settings_are_refused_and_escaped(alpha, post, data, fragment):
    _brand, _people, client = alpha
    form = {"title": "", "tags": "", "privacy": "public", "category_id": "22", **data}
    response = client.post(url(post), form)
    text = response.content.decode()
    assert response.status_code == 200 and fragment in text
    assert "<script>alert" not in text
    assert not YouTubeVideoSettings.objects.filter(post=post).exists()


def test_other_brand_and_read_only_roles(alpha, post, brand_b):
    brand, people, client = alpha
    other, other_people = brand_b
    stranger = Client()
    stranger.force_login(other_people["owner"])
    assert stranger.get(url(post)).status_code == 404
    assert client.get(reverse("youtube_video_settings", args=[other.pk, post.pk])).status_code == 404
    analyst = Client()
    analyst.force_login(people["analyst"])
    assert analyst.get(url(post)).status_code == 200
    assert analyst.post(url(post), {"title": "hack", "privacy": "public", "category_id": "22"}).status_code == 403
    assert not YouTubeVideoSettings.objects.filter(post=post).exists()


def test_stored_title_shown_escaped(alpha, post):
    brand, people, client = alpha
    YouTubeVideoSettings.objects.create(brand=brand, post=post, title=XSS, tags=[XSS])
    analyst = Client()
    analyst.force_login(people["analyst"])
    assert_escaped(analyst.get(url(post)).content.decode())
    assert_escaped(client.get(url(post)).content.decode())


# -- the API -----------------------------------------------------------------------------------


def api_url(post):
    return f"/api/v1/brands/{post.brand_id}/posts/{post.pk}/youtube"


def test_api_reads_and_writes_the_settings(alpha, post):
    _brand, _people, client = alpha
    got = client.get(api_url(post)).json()
    assert got["custom"] is False and got["title_from_text"] == "Receta de café de olla"
    assert got["tags_from_text"] == ["cafe", "receta"]
    put = client.put(api_url(post), {"title": "Café", "tags": ["a", "b c"], "privacy": "private",
                                     "publish_at": "2099-01-02T03:04:00Z"}, content_type="application/json")
    assert put.status_code == 200, put.content
    assert put.json()["custom"] is True and put.json()["tags"] == ["a", "b c"]
    assert YouTubeVideoSettings.objects.get(post=post).publish_at == datetime(2099, 1, 2, 3, 4, tzinfo=timezone.utc)


@pytest.mark.parametrize("body", [
    {"title": "x" * 101},
    {"title": XSS},
    {"privacy": "public", "publish_at": "2099-01-02T03:04:00Z"},
    {"tags": [f"{i}" + "x" * 60 for i in range(9)]},
    {"category_id": "abc"},
    {"unknown": 1},
    "not json",
])
def test_api_refuses_hostile_bodies(alpha, post, body):
    _brand, _people, client = alpha
    raw = body if isinstance(body, str) else json.dumps(body)
    response = client.put(api_url(post), raw, content_type="application/json")
    assert response.status_code in (400, 422), response.content
    assert "<script>" not in response.content.decode()
    assert not YouTubeVideoSettings.objects.filter(post=post).exists()


def test_api_other_brand_and_role(alpha, post, brand_b):
    _brand, people, _client = alpha
    _other, other_people = brand_b
    stranger = Client()
    stranger.force_login(other_people["owner"])
    assert stranger.get(api_url(post)).status_code == 404
    assert stranger.put(api_url(post), {"title": "x"}, content_type="application/json").status_code == 404
    analyst = Client()
    analyst.force_login(people["analyst"])
    assert analyst.get(api_url(post)).status_code == 200
    assert analyst.put(api_url(post), {"title": "x"}, content_type="application/json").status_code == 403


def test_long_text_warns_that_the_description_will_be_cut(alpha, post):
    from tertulia.content.models import Post

    _brand, _people, client = alpha
    Post.objects.filter(pk=post.pk).update(text="Título\n" + "ñ" * 2600)
    page = client.get(url(post)).content.decode()
    assert "will be cut" in page and ("5208 bytes" in page or "5,208 bytes" in page)


def test_tags_keep_room_for_the_marker_tag_the_upload_adds(alpha, post):
    from django.core.exceptions import ValidationError

    from tertulia.core.services import Ctx
    from tertulia.networks.youtube import options as opts
    from tertulia.networks.youtube.connector import YouTubeConnector
    from tertulia.networks.youtube.services import do_set_video_settings

    _brand, people, _client = alpha
    ctx = Ctx(people["owner"], via="test")
    full = tuple(f"t{i:02d}" + "x" * 95 for i in range(5))  # 5 x 99 + 4 commas = 499 characters
    assert opts.tags_length(full) <= opts.MAX_TAGS_CHARS
    with pytest.raises(ValidationError) as caught:
        do_set_video_settings(ctx, post, title="Café", tags=full)
    assert "at most 460 fit" in " ".join(caught.value.messages)
    fits = (*full[:4], "y" * 55)  # 4 x 99 + 55 + 4 commas = 455
    row = do_set_video_settings(ctx, post, title="Café", tags=fits)
    # What the upload sends, with the marker of a target with a long id, is still within 500.
    options = opts.VideoOptions(title="Café", tags=tuple(row.tags))
    connector = YouTubeConnector(options_for=lambda payload: options)
    from tertulia.networks.base import PostPayload

    sent = connector.video_options(PostPayload(text="x", marker="tertulia-123456789012-12345"))
    assert sent.tags[-1] == "tertulia-123456789012-12345" and opts.tags_length(sent.tags) <= 500


def test_refused_fields_keep_an_english_detail_for_the_log():
    from django.utils import translation

    from tertulia.networks.base import PostPayload
    from tertulia.networks.errors import Permanent
    from tertulia.networks.youtube import options as opts
    from tertulia.networks.youtube.connector import YouTubeConnector

    connector = YouTubeConnector(options_for=lambda payload: opts.VideoOptions(title="x" * 101))
    with translation.override("es"):
        with pytest.raises(Permanent) as caught:
            connector.video_options(PostPayload(text="x"))
        assert "YouTube" in str(caught.value.user_message)
    assert "at most 100" in caught.value.detail
