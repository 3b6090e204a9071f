"""The Joomla connector against the fake Joomla site: articles with category, tags, featured
image, state and publish_up; update, unpublish, delete; find_published by marker; profile
and hits. Text is text: whatever the CM writes arrives escaped in the article's HTML."""

from __future__ import annotations

import base64
from datetime import datetime, timedelta, timezone

import pytest

from tertulia.networks.base import MediaItem, PostPayload, Visibility
from tertulia.networks.errors import Permanent, Unsupported
from tertulia.networks.joomla import JoomlaConnector, intro_and_full, normalize_site_url, token_user_id

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


@pytest.fixture(autouse=True)
def _english():
    """Messages are compared in English (the CM reads them in their own language)."""
    from django.utils import translation

    with translation.override("en"):
        yield


def test_an_article_with_title_paragraphs_category_and_tags(joomla, fake_joomla):
    text = ("Nueva carta de otoño\n\nCalabaza y castañas, desde hoy.\nVen a probarla.\n\n"
            "Más en https://cafe.example/carta. #otoño #café")
    ref = joomla.publish(PostPayload(text=text, marker="tertulia-7-1"))
    (article,) = fake_joomla.live_articles()
    assert ref.external_id == str(article["id"])
    assert article["title"] == "Nueva carta de otoño" and article["alias"] == "nueva-carta-de-otono"
    assert article["introtext"] == "<p>Calabaza y castañas, desde hoy.<br>Ven a probarla.</p>"
    assert article["fulltext"] == ('<p>Más en <a href="https://cafe.example/carta">https://cafe.example/carta</a>. '
                                   "#otoño #café</p>")
    assert article["catid"] == fake_joomla.category_named("Blog")["id"]
    assert article["state"] == 1 and article["featured"] == 0 and article["access"] == 1
    assert article["note"] == "Tertulia tertulia-7-1"
    # "café" existed; "otoño" was created (the fake's user is a Super User).
    assert sorted(fake_joomla.tags[t]["title"] for t in article["tags"]) == ["café", "otoño"]
    assert ref.url == (f"{fake_joomla.base_url}/index.php?option=com_content&view=article&id={article['id']}"
                       f"&catid={article['catid']}")
    assert ref.published_at is not None and abs(ref.published_at - datetime.now(timezone.utc)) < timedelta(minutes=1)
    request = fake_joomla.requests_to("POST", "/content/articles")[0]
    assert request.json()["articletext"] == article["introtext"] + '<hr id="system-readmore">' + article["fulltext"]
    assert request.headers["x-joomla-token"] == fake_joomla.token
    assert "authorization" not in request.headers and fake_joomla.token not in request.path


def test_script_in_title_and_body_arrives_escaped(joomla, fake_joomla):
    joomla.publish(PostPayload(text='<script>alert(1)</script> & "hola"\n\n<img src=x onerror=alert(2)>'))
    (article,) = fake_joomla.live_articles()
    # The title is sent as text (Joomla's input filter drops tags, its templates escape the rest);
    # the body is our own escaped HTML.
    assert fake_joomla.requests_to("POST", "/content/articles")[0].json()["title"] == \
        '<script>alert(1)</script> & "hola"'
    assert article["title"] == 'alert(1) & "hola"'
    assert article["introtext"] == "<p>&lt;img src=x onerror=alert(2)&gt;</p>"
    assert "<script" not in article["introtext"] + article["fulltext"]


def test_a_huge_text_becomes_a_long_article_with_a_short_title(joomla, fake_joomla):
    words = ("palabra " * 40_000).strip()  # 320 000 characters, one line
    joomla.publish(PostPayload(text=words))
    (article,) = fake_joomla.live_articles()
    assert len(article["title"]) <= 201 and article["title"].endswith("…")
    assert article["introtext"].startswith("<p>palabra") and len(article["introtext"]) > 300_000


def test_hostile_link_is_not_a_javascript_href():
    intro, _full = intro_and_full('javascript:alert(1) "><b>x</b> https://a.example/?a=1&b="x"')
    assert 'href="javascript' not in intro and "<b>" not in intro
    assert '<a href="https://a.example/?a=1&amp;b=">https://a.example/?a=1&amp;b=</a>&quot;x&quot;' in intro


def test_unpublished_featured_and_registered_only(fake_joomla, joomla_http_config):
    from tertulia.networks.base import Credentials

    with JoomlaConnector(base_url=fake_joomla.base_url, credentials=Credentials(fake_joomla.token),
                         category="noticias-eventos", state="unpublished", featured=True,
                         http_config=joomla_http_config) as connector:
        connector.publish(PostPayload(text="Solo socios\n\nEvento privado", visibility=Visibility.FOLLOWERS))
        with pytest.raises(Permanent):
            connector.publish(PostPayload(text="Directo", visibility=Visibility.DIRECT))
    (article,) = fake_joomla.live_articles()
    assert article["state"] == 0 and article["featured"] == 1 and article["access"] == 2
    assert article["catid"] == fake_joomla.category_named("Noticias & eventos")["id"]


def test_scheduled_publish_up_is_sent_with_an_explicit_utc_offset(joomla, fake_joomla):
    madrid = timezone(timedelta(hours=1))
    when = datetime(2030, 3, 1, 9, 30, tzinfo=madrid)
    ref = joomla.publish(PostPayload(text="Abrimos en primavera\n\nPronto"), publish_up=when)
    (article,) = fake_joomla.live_articles()
    body = fake_joomla.requests_to("POST", "/content/articles")[0].json()
    assert body["publish_up"] == "2030-03-01T08:30:00+00:00"
    assert article["publish_up"] == datetime(2030, 3, 1, 8, 30, tzinfo=timezone.utc)
    assert ref.published_at == datetime(2030, 3, 1, 8, 30, tzinfo=timezone.utc)
    assert article["state"] == 1 and not fake_joomla.visible_to_visitors(article)  # the site publishes it then
    assert fake_joomla.visible_to_visitors(article, now=datetime(2030, 3, 1, 8, 31, tzinfo=timezone.utc))


def test_featured_image_through_the_media_api_and_more_images_in_the_body(joomla, fake_joomla):
    media = (MediaItem("Cartel Otoño.png", "image/png", content=PNG, alt_text='Cartel "otoño" <b>'),
             MediaItem("b.png", "image/png", content=PNG, alt_text="Segundo"))
    joomla.publish(PostPayload(text="Con imágenes\n\nMira", media=media, marker="tertulia-9-2"))
    (article,) = fake_joomla.live_articles()
    paths = sorted(fake_joomla.files)
    assert paths == ["local-images:/tertulia-9-2-1-cartel-otono.png",
                     "local-images:/tertulia-9-2-2-b.png"]
    assert fake_joomla.files[paths[1]]["content"] == PNG
    assert article["images"]["image_intro"] == "images/tertulia-9-2-1-cartel-otono.png"
    assert article["images"]["image_intro_alt"] == 'Cartel "otoño" <b>'  # Joomla escapes it on output
    assert article["fulltext"].endswith('<figure><img src="images/tertulia-9-2-2-b.png" alt="Segundo"></figure>')


def test_a_site_without_the_media_api_refuses_with_words(fake_joomla, joomla):
    fake_joomla.media_api = False
    with pytest.raises(Permanent) as err:
        joomla.publish(PostPayload(text="Con imagen", media=(MediaItem("a.png", "image/png", content=PNG),)))
    assert "Web Services - Media" in str(err.value.user_message)
    assert fake_joomla.live_articles() == []  # never published without its image


def test_video_and_oversized_images_are_refused_before_any_upload(joomla, fake_joomla):
    with pytest.raises(Permanent):
        joomla.publish(PostPayload(text="v", media=(MediaItem("v.mp4", "video/mp4", content=b"x"),)))
    big = MediaItem("big.png", "image/png", content=PNG + b"\x00" * (10 * 1024 * 1024))
    with pytest.raises(Permanent, match="10 MB"):
        joomla.publish(PostPayload(text="grande", media=(big,)))
    assert fake_joomla.requests_to("POST", "/media/files") == [] and fake_joomla.live_articles() == []


def test_an_unknown_category_is_a_clear_permanent_error(fake_joomla, joomla_http_config):
    from tertulia.networks.base import Credentials

    for category in ("Recetas", "99999"):
        with JoomlaConnector(base_url=fake_joomla.base_url, credentials=Credentials(fake_joomla.token),
                             category=category, http_config=joomla_http_config) as connector:
            with pytest.raises(Permanent) as err:
                connector.publish(PostPayload(text="Hola"))
        assert f'"{category}" does not exist on the Joomla site' in str(err.value.user_message)
    assert fake_joomla.live_articles() == []


def test_without_a_category_it_goes_to_uncategorised(fake_joomla, joomla_http_config):
    from tertulia.networks.base import Credentials

    with JoomlaConnector(base_url=fake_joomla.base_url, credentials=Credentials(fake_joomla.token),
                         http_config=joomla_http_config) as connector:
        connector.publish(PostPayload(text="Sin categoría"))
    assert fake_joomla.live_articles()[0]["catid"] == fake_joomla.category_named("Uncategorised")["id"]


def test_a_taken_alias_gets_a_suffix(joomla, fake_joomla):
    joomla.publish(PostPayload(text="Misma frase", marker="tertulia-1-1"))
    joomla.publish(PostPayload(text="Misma frase", marker="tertulia-2-1"))
    aliases = sorted(a["alias"] for a in fake_joomla.live_articles())
    assert aliases == ["misma-frase", "misma-frase-tertulia-2-1"]


def test_tags_the_user_may_not_create_are_left_out(fake_joomla, joomla):
    fake_joomla.user["role"] = "publisher"
    joomla.publish(PostPayload(text="Etiquetas #café #nueva"))
    (article,) = fake_joomla.live_articles()
    assert [fake_joomla.tags[t]["title"] for t in article["tags"]] == ["café"]


def test_update_unpublish_and_delete(joomla, fake_joomla):
    ref = joomla.publish(PostPayload(text="Primera versión\n\nTexto viejo #café"))
    joomla.update(ref.external_id, PostPayload(text="Segunda versión\n\nTexto <nuevo>"))
    article = fake_joomla.articles[int(ref.external_id)]
    assert article["title"] == "Segunda versión" and article["introtext"] == "<p>Texto &lt;nuevo&gt;</p>"
    assert [fake_joomla.tags[t]["title"] for t in article["tags"]] == ["café"]  # kept
    assert fake_joomla.requests_to("PATCH", "/content/articles/:id")
    assert joomla.unpublish(ref.external_id) and article["state"] == 0
    assert joomla.delete(ref.external_id) is True
    assert int(ref.external_id) not in fake_joomla.articles
    assert joomla.delete(ref.external_id) is False  # already gone
    assert joomla.unpublish(ref.external_id) is False
    with pytest.raises(Permanent):
        joomla.delete("1; DROP TABLE")


def test_find_published_by_the_marker_in_the_note(joomla, fake_joomla):
    since = datetime.now(timezone.utc)
    joomla.publish(PostPayload(text="Uno", marker="tertulia-12-30"))
    payload = PostPayload(text="Uno", marker="tertulia-12-3")
    assert joomla.find_published(payload, since=since) is None  # -30 is another target
    ref = joomla.publish(payload)
    assert joomla.find_published(payload, since=since).external_id == ref.external_id
    # Without a marker: the same title, created since.
    plain = PostPayload(text="Sin <b>marcador</b>\n\ncuerpo")
    ref2 = joomla.publish(plain)
    assert joomla.find_published(plain, since=since).external_id == ref2.external_id
    assert joomla.find_published(plain, since=since + timedelta(hours=1)) is None


def test_profile_metrics_and_no_inbox(joomla, fake_joomla):
    ref = joomla.publish(PostPayload(text="Visitas"))
    fake_joomla.articles[int(ref.external_id)]["hits"] = 41
    profile = joomla.fetch_profile()
    assert profile.display_name == "Café & Tertulia <Joomla>" and profile.posts == 1
    assert profile.handle == fake_joomla.base_url.split("://")[1]
    assert profile.external_id == str(fake_joomla.user["id"])
    metrics = joomla.fetch_post_metrics([ref.external_id, "424242"])
    assert metrics[ref.external_id].impressions == 41 and metrics[ref.external_id].likes is None
    assert metrics["424242"].exists is False
    before = len(fake_joomla.requests)
    batch = joomla.fetch_interactions(None)
    assert batch.items == [] and len(fake_joomla.requests) == before  # no request at all
    with pytest.raises(Unsupported):
        joomla.reply("1", "hola")


def test_profile_of_a_non_super_user_uses_the_address(fake_joomla, joomla):
    fake_joomla.user["role"] = "publisher"
    profile = joomla.fetch_profile()
    assert profile.display_name == profile.handle and profile.posts == 0


@pytest.mark.parametrize(("typed", "expected"), [
    ("www.example.com", "https://www.example.com"),
    ("https://www.example.com/administrator/", "https://www.example.com"),
    ("https://example.com/site/api/index.php/v1", "https://example.com/site"),
    (" https://example.com/index.php ", "https://example.com"),
])
def test_site_addresses_are_normalised(typed, expected):
    assert normalize_site_url(typed) == expected


@pytest.mark.parametrize(("token", "user_id"), [
    (base64.b64encode(b"sha256:42:abcdef").decode(), "42"),
    (base64.b64encode(b"md5:42:abcdef").decode(), ""),
    (base64.b64encode(b"sha256:4 2:abc").decode(), ""),
    ("not base64 at all!", ""),
    ("", ""),
])
def test_the_user_id_inside_a_token(token, user_id):
    assert token_user_id(token) == user_id
