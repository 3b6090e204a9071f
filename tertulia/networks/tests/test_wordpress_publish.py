"""Publishing to a WordPress blog against the loopback fake: title and safe HTML, draft or
publish, featured image, categories and tags, delete."""

from __future__ import annotations

import base64
import json

import pytest
from django.utils import translation

from tertulia.networks.base import Credentials, MediaItem, PostPayload, Visibility
from tertulia.networks.errors import Permanent
from tertulia.networks.wordpress import WordPressConnector, normalize_site_url, text_to_html, title_and_body
from tests.fakes.wordpress import FakeWordPress

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


@pytest.fixture(autouse=True)
def _english():
    """Messages are compared in the source language (they are translated for readers)."""
    with translation.override("en"):
        yield


def _sent(fake):
    return [json.loads(r.body) for r in fake.requests_to("POST", "/wp/v2/posts")]


def test_publish_text_as_a_post(wordpress, fake_wordpress):
    ref = wordpress.publish(PostPayload(text="Nueva carta de otoño\n\nCalabaza, castañas y setas.\nDesde el lunes."))
    post = fake_wordpress.posts[int(ref.external_id)]
    assert post["title"] == "Nueva carta de otoño" and post["status"] == "publish"
    assert post["content"] == ("<!-- wp:paragraph -->\n<p>Calabaza, castañas y setas.<br>Desde el lunes.</p>\n"
                               "<!-- /wp:paragraph -->")
    assert post["author"] == fake_wordpress.user["id"]
    assert ref.url == f"{fake_wordpress.base_url}/{post['date']:%Y/%m/%d}/nueva-carta-de-otono/"
    (request,) = fake_wordpress.requests_to("POST", "/wp/v2/posts")
    expected = base64.b64encode(f"{fake_wordpress.username}:{fake_wordpress.app_password}".encode()).decode()
    assert request.headers["authorization"] == f"Basic {expected}"


def test_user_text_is_escaped_never_markup(wordpress, fake_wordpress):
    text = ('Oferta <b>2x1</b> & <script>alert(1)</script>\n\n<img src=x onerror=alert(1)> '
            'mira https://example.com/a?b=1&c="2" y <a href="javascript:x">aquí</a>')
    ref = wordpress.publish(PostPayload(text=text))
    post = fake_wordpress.posts[int(ref.external_id)]
    assert post["title"] == "Oferta &lt;b&gt;2x1&lt;/b&gt; &amp; &lt;script&gt;alert(1)&lt;/script&gt;"
    content = post["content"]
    assert "<script" not in content and "<img" not in content and "<b>" not in content
    assert "&lt;img src=x onerror=alert(1)&gt;" in content
    assert '<a href="https://example.com/a?b=1&amp;c=">https://example.com/a?b=1&amp;c=</a>' in content
    assert 'href="javascript' not in content and "&lt;a href=" in content


def test_title_and_body_rules():
    assert title_and_body("Solo una línea") == ("Solo una línea", "")
    assert title_and_body("\n\n# Título\ncuerpo") == ("Título", "cuerpo")
    long_title, rest = title_and_body("palabra " * 60)
    assert len(long_title) <= 201 and long_title.endswith("…") and rest.startswith("palabra")
    assert text_to_html("a\n\n\n\nb") == ("<!-- wp:paragraph -->\n<p>a</p>\n<!-- /wp:paragraph -->\n\n"
                                          "<!-- wp:paragraph -->\n<p>b</p>\n<!-- /wp:paragraph -->")


def test_draft_is_an_account_choice(fake_wordpress, wordpress_http_config):
    with WordPressConnector(base_url=fake_wordpress.base_url, username=fake_wordpress.username,
                            credentials=Credentials(fake_wordpress.app_password), post_status="draft",
                            http_config=wordpress_http_config) as connector:
        ref = connector.publish(PostPayload(text="Borrador\n\npara revisar"))
        assert fake_wordpress.posts[int(ref.external_id)]["status"] == "draft"
        assert ref.url == f"{fake_wordpress.base_url}/?p={ref.external_id}"  # a draft has no pretty link
        ref = connector.publish(PostPayload(text="Ya"), status="publish")  # per post, from code
        assert fake_wordpress.posts[int(ref.external_id)]["status"] == "publish"
    with pytest.raises(Permanent):
        WordPressConnector(base_url=fake_wordpress.base_url, post_status="pending")


def test_followers_only_becomes_private(wordpress, fake_wordpress):
    ref = wordpress.publish(PostPayload(text="Solo equipo", visibility=Visibility.FOLLOWERS))
    assert fake_wordpress.posts[int(ref.external_id)]["status"] == "private"
    with pytest.raises(Permanent):
        wordpress.publish(PostPayload(text="x", visibility=Visibility.DIRECT))


def test_featured_image_with_alt_text_and_more_images_in_the_body(wordpress, fake_wordpress):
    ref = wordpress.publish(PostPayload(text="Fotos del concierto\n\nQué noche.", media=(
        MediaItem("portada.png", "image/png", content=PNG, alt_text="Escenario con luces \"azules\""),
        MediaItem("publico.jpg", "image/jpeg", content=b"\xff\xd8\xff", alt_text="El público <3"),
    )))
    post = fake_wordpress.posts[int(ref.external_id)]
    uploads = fake_wordpress.requests_to("POST", "/wp/v2/media")
    assert len(uploads) == 2 and uploads[0].headers["content-type"].startswith("multipart/form-data")
    featured = fake_wordpress.media[post["featured_media"]]
    assert featured["alt_text"] == 'Escenario con luces "azules"' and featured["size"] == len(PNG)
    second = [m for m in fake_wordpress.media.values() if m["id"] != featured["id"]][0]
    assert f'<!-- wp:image {{"id":{second["id"]}}} -->' in post["content"]
    assert 'alt="El público &lt;3"' in post["content"]
    # The images were uploaded before the post was created.
    assert fake_wordpress.requests_to("POST", "/wp/v2/posts")[0].at >= uploads[-1].at


def test_only_images_can_be_featured(wordpress, fake_wordpress):
    with pytest.raises(Permanent):
        wordpress.publish(PostPayload(text="x", media=(MediaItem("v.mp4", "video/mp4", content=b"\x00"),)))
    assert fake_wordpress.requests == []


def test_hashtags_become_tags_existing_or_created(wordpress, fake_wordpress):
    ref = wordpress.publish(PostPayload(text="Otoño en el #Café\n\nCon #castañas y #café otra vez, #Castañas."))
    post = fake_wordpress.posts[int(ref.external_id)]
    names = {fake_wordpress.terms["tags"][t]["name"] for t in post["tags"]}
    assert names == {"castañas", "café"}
    assert len(fake_wordpress.requests_to("POST", "/wp/v2/tags")) == 1  # café existed


def test_an_author_cannot_create_tags_so_they_are_left_out(wordpress_http_config):
    with FakeWordPress(role="author") as fake, WordPressConnector(
            base_url=fake.base_url, username=fake.username, credentials=Credentials(fake.app_password),
            http_config=wordpress_http_config) as connector:
        ref = connector.publish(PostPayload(text="Hoy #café y #nuevo"))
        post = fake.posts[int(ref.external_id)]
        assert [fake.terms["tags"][t]["name"] for t in post["tags"]] == ["café"]
        assert fake.requests_to("POST", "/wp/v2/tags")[0].status == 403


def test_categories_by_name_must_exist(fake_wordpress, wordpress_http_config):
    with WordPressConnector(base_url=fake_wordpress.base_url, username=fake_wordpress.username,
                            credentials=Credentials(fake_wordpress.app_password), categories=["noticias & EVENTOS"],
                            http_config=wordpress_http_config) as connector:
        ref = connector.publish(PostPayload(text="Con categoría"))
        category = fake_wordpress.term_named("categories", "Noticias & eventos")
        assert fake_wordpress.posts[int(ref.external_id)]["categories"] == [category["id"]]
        with pytest.raises(Permanent) as info:
            connector.publish(PostPayload(text="x"), categories=["Recetas"])
    assert '"Recetas" does not exist' in str(info.value.user_message)
    assert len(fake_wordpress.live_posts()) == 1


def test_a_contributor_cannot_publish_but_can_draft(wordpress_http_config):
    with FakeWordPress(role="contributor") as fake, WordPressConnector(
            base_url=fake.base_url, username=fake.username, credentials=Credentials(fake.app_password),
            http_config=wordpress_http_config) as connector:
        with pytest.raises(Permanent) as info:
            connector.publish(PostPayload(text="x"))
        assert info.value.status == 403 and "rest_cannot_publish" in info.value.detail
        assert "Author or Editor" in str(info.value.user_message)
        assert connector.publish(PostPayload(text="x"), status="draft").external_id


def test_delete_then_again(wordpress, fake_wordpress):
    ref = wordpress.publish(PostPayload(text="borrar"))
    assert wordpress.delete(ref.external_id) is True
    assert fake_wordpress.live_posts() == []
    (request,) = fake_wordpress.requests_to("DELETE", "/wp/v2/posts/:id")
    assert request.query["force"] == "true"
    assert wordpress.delete(ref.external_id) is False


@pytest.mark.parametrize("hostile", ["../users/me", "1?force=false", "", "1/revisions", "-1", "1" * 25])
def test_ids_cannot_steer_the_request_path(wordpress, fake_wordpress, hostile):
    with pytest.raises(Permanent):
        wordpress.delete(hostile)
    with pytest.raises(Permanent):
        wordpress.fetch_post_metrics([hostile])
    with pytest.raises(Permanent):
        wordpress.reply(hostile, "hola")
    assert fake_wordpress.requests == []


def test_empty_text_is_refused_before_any_request(wordpress, fake_wordpress):
    with pytest.raises(Permanent):
        wordpress.publish(PostPayload(text=" \n "))
    assert fake_wordpress.requests == []


def test_a_long_text_is_fine(wordpress, fake_wordpress):
    ref = wordpress.publish(PostPayload(text="Título\n\n" + "palabra " * 20000))
    assert len(fake_wordpress.posts[int(ref.external_id)]["content"]) > 150000


@pytest.mark.parametrize("typed, clean", [
    ("blog.example.com", "https://blog.example.com"),
    ("https://blog.example.com/", "https://blog.example.com"),
    ("https://blog.example.com/wp-json/", "https://blog.example.com"),
    ("https://example.com/blog/wp-admin", "https://example.com/blog"),
])
def test_site_addresses_are_normalised(typed, clean):
    assert normalize_site_url(typed) == clean
