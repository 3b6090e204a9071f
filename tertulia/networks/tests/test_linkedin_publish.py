"""Publishing on a LinkedIn organisation page against the loopback fake: text in the little
format, one image, 2-20 images, a link article, comments, deletion and reconciliation."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from django.utils import translation

from tertulia.networks.base import MediaItem, PostPayload, Visibility
from tertulia.networks.errors import Permanent
from tertulia.networks.linkedin.connector import API_VERSION, Article, escape_little, unescape_little
from tests.fakes.linkedin import ORG_ID, render_little
from tests.fakes.linkedin_plugin import fake_linkedin, linkedin, linkedin_http_config  # noqa: F401

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64

@pytest.fixture(autouse=True)
def _english():
    """Messages are checked in English, whatever language an earlier test left active."""
    with translation.override("en"):
        yield


def image(name="a.png", alt="Una taza de café", mime="image/png", content=PNG):
    return MediaItem(filename=name, mime_type=mime, content=content, alt_text=alt)


def test_text_post_is_authored_by_the_page_with_the_versioned_headers(linkedin, fake_linkedin):
    ref = linkedin.publish(PostPayload(text="Hola, tertulia esta tarde"))
    (post,) = fake_linkedin.live_posts()
    assert ref.external_id == post["id"] and ref.external_id.startswith("urn:li:share:")
    assert ref.url == f"https://www.linkedin.com/feed/update/{post['id']}/"
    assert post["author"] == f"urn:li:organization:{ORG_ID}"
    assert post["visibility"] == "PUBLIC" and post["lifecycleState"] == "PUBLISHED"
    assert post["distribution"]["feedDistribution"] == "MAIN_FEED"
    (request,) = fake_linkedin.requests_to("posts.create")
    assert request.headers["linkedin-version"] == API_VERSION
    assert request.headers["x-restli-protocol-version"] == "2.0.0"
    assert request.headers["authorization"] == f"Bearer {fake_linkedin.token}"


def test_reserved_characters_survive_instead_of_cutting_the_post(linkedin, fake_linkedin):
    text = ("Menú (nuevo) [hoy]: café_con_leche *2* ~ {oferta} <3 | a\\b @todos "
            "#OtoñoEnTertulia https://example.com/carta_(2024)?a=1~b ¡ven!")
    linkedin.publish(PostPayload(text=text))
    (post,) = fake_linkedin.live_posts()
    assert post["shown"] == text  # nothing cut, nothing doubled
    assert "\\(nuevo\\)" in post["commentary"] and "#OtoñoEnTertulia" in post["commentary"]
    assert "https://example.com/carta_(2024)?a=1~b" in post["commentary"]  # links left as links


def test_without_escaping_linkedin_would_cut_the_text():
    # The fake does what LinkedIn does with raw reserved characters: keeps what comes before.
    assert render_little("Hola (mundo)") == "Hola "
    assert render_little(escape_little("Hola (mundo)")) == "Hola (mundo)"


@pytest.mark.parametrize("text", ["a_b", "(x)", "\\", "#1 #tag", "@[Ana](urn:li:person:1)", "~*<>|{}[]", "x # y"])
def test_escape_round_trip(text):
    assert unescape_little(escape_little(text)) == text
    assert render_little(escape_little(text)) == text


def test_single_image_is_uploaded_then_attached_with_alt_text(linkedin, fake_linkedin):
    linkedin.publish(PostPayload(text="Nuestra barra", media=(image(),)))
    (post,) = fake_linkedin.live_posts()
    media = post["content"]["media"]
    assert media["altText"] == "Una taza de café"
    assert fake_linkedin.images[media["id"]]["bytes"] == PNG
    assert fake_linkedin.images[media["id"]]["owner"] == f"urn:li:organization:{ORG_ID}"
    (init,) = fake_linkedin.requests_to("images.initialize")
    assert init.json() == {"initializeUploadRequest": {"owner": f"urn:li:organization:{ORG_ID}"}}
    (upload,) = fake_linkedin.requests_to("upload")
    assert upload.method == "PUT" and upload.headers["content-type"] == "image/png"


def test_multi_image_post(linkedin, fake_linkedin):
    items = tuple(image(f"{n}.jpg", alt=f"foto {n}", mime="image/jpeg") for n in range(3))
    linkedin.publish(PostPayload(text="Tres fotos", media=items))
    (post,) = fake_linkedin.live_posts()
    images = post["content"]["multiImage"]["images"]
    assert [i["altText"] for i in images] == ["foto 0", "foto 1", "foto 2"]
    assert all(fake_linkedin.images[i["id"]]["status"] == "AVAILABLE" for i in images)


def test_more_than_twenty_images_or_a_video_is_refused_before_any_request(linkedin, fake_linkedin):
    with pytest.raises(Permanent) as err:
        linkedin.publish(PostPayload(text="x", media=tuple(image(f"{n}.png") for n in range(21))))
    assert "20 images" in str(err.value.user_message)
    with pytest.raises(Permanent) as err:
        linkedin.publish(PostPayload(text="x", media=(image("v.mp4", mime="video/mp4"),)))
    assert "JPEG, PNG or GIF" in str(err.value.user_message)
    assert fake_linkedin.requests == []


def test_too_long_and_empty_and_private_are_refused_locally(linkedin, fake_linkedin):
    with pytest.raises(Permanent) as err:
        linkedin.publish(PostPayload(text="é" * 3001))
    assert "3000" in str(err.value.user_message) and "3001" in str(err.value.user_message)
    linkedin.publish(PostPayload(text="😀" * 1500))  # 3,000 UTF-16 units: accepted
    with pytest.raises(Permanent):
        linkedin.publish(PostPayload(text="   "))
    with pytest.raises(Permanent):
        linkedin.publish(PostPayload(text="x", visibility=Visibility.FOLLOWERS))
    assert len(fake_linkedin.requests_to("posts.create")) == 1


def test_link_article_with_title_description_and_thumbnail(linkedin, fake_linkedin):
    article = Article(source="https://cafetertulia.example/carta", title="La carta de otoño",
                      description="Calabaza y castañas", thumbnail=image("t.png"))
    linkedin.publish(PostPayload(text="Nueva carta https://cafetertulia.example/carta"), article=article)
    (post,) = fake_linkedin.live_posts()
    content = post["content"]["article"]
    assert content["source"] == "https://cafetertulia.example/carta"
    assert content["title"] == "La carta de otoño" and content["description"] == "Calabaza y castañas"
    assert content["thumbnail"] in fake_linkedin.images


def test_article_resolver_is_asked_for_the_first_link(linkedin, fake_linkedin):
    asked = []

    def resolver(url):
        asked.append(url)
        return Article(source=url, title="Título")

    linkedin.article_resolver = resolver
    linkedin.publish(PostPayload(text="Lee esto https://a.example/1 y https://b.example/2"))
    assert asked == ["https://a.example/1"]
    assert fake_linkedin.live_posts()[0]["content"]["article"]["title"] == "Título"


def test_article_with_a_javascript_link_is_refused(linkedin, fake_linkedin):
    with pytest.raises(Permanent):
        linkedin.publish(PostPayload(text="x"), article=Article(source="javascript:alert(1)", title="t"))
    assert fake_linkedin.requests_to("posts.create") == []


def test_delete_then_already_gone(linkedin, fake_linkedin):
    ref = linkedin.publish(PostPayload(text="Se borrará"))
    assert linkedin.delete(ref.external_id) is True
    assert fake_linkedin.live_posts() == []
    assert linkedin.delete(ref.external_id) is False
    request = fake_linkedin.requests_to("posts.delete")[0]
    assert request.headers["x-restli-method"] == "DELETE" and request.headers["linkedin-version"] == API_VERSION
    with pytest.raises(Permanent):
        linkedin.delete("../../rest/organizations/1")


def test_first_comment_and_reply_to_a_comment(linkedin, fake_linkedin):
    ref = linkedin.publish(PostPayload(text="Con comentario"))
    first = linkedin.reply(ref.external_id, "Más info: https://cafetertulia.example (reserva) #café")
    assert first.external_id.startswith(f"urn:li:comment:({ref.external_id},")
    (stored,) = fake_linkedin.comments[ref.external_id]
    assert stored["actor"] == f"urn:li:organization:{ORG_ID}"
    assert stored["message"]["text"] == "Más info: https://cafetertulia.example (reserva) #café"
    reader = fake_linkedin.comment(ref.external_id, "¿Abrís el domingo?")
    answer = linkedin.reply(reader["commentUrn"], "Sí, de 10 a 14 h")
    (nested,) = fake_linkedin.comments[reader["commentUrn"]]
    assert nested["parentComment"] == reader["commentUrn"] and nested["object"] == ref.external_id
    assert answer.external_id == nested["commentUrn"]


def test_publish_with_reply_to_is_a_comment(linkedin, fake_linkedin):
    ref = linkedin.publish(PostPayload(text="Post"))
    comment = linkedin.publish(PostPayload(text="Primer comentario", reply_to=ref.external_id))
    assert comment.external_id.startswith("urn:li:comment:")
    assert len(fake_linkedin.live_posts()) == 1


def test_find_published_matches_words_and_time(linkedin, fake_linkedin):
    since = datetime.now(timezone.utc)
    text = "Una sola vez (de verdad) #tertulia"
    assert linkedin.find_published(PostPayload(text=text), since=since) is None
    old = fake_linkedin.add_post(escape_little(text), age=3600)
    assert linkedin.find_published(PostPayload(text=text), since=since) is None  # older than the attempt
    fake_linkedin.add_post(escape_little("Otra cosa"))
    ref = linkedin.publish(PostPayload(text=text + "  "))
    found = linkedin.find_published(PostPayload(text=text), since=since)
    assert found is not None and found.external_id == ref.external_id != old


def test_find_published_pages_back_through_many_posts(linkedin, fake_linkedin):
    since = datetime.now(timezone.utc) - timedelta(minutes=1)
    target = linkedin.publish(PostPayload(text="La buscada"))
    fake_linkedin.age_post(target.external_id, 1)  # strictly older than the others: on the second page
    for n in range(60):
        fake_linkedin.add_post(f"relleno {n}")
    found = linkedin.find_published(PostPayload(text="La buscada"), since=since)
    assert found is not None and found.external_id == target.external_id
    assert len(fake_linkedin.requests_to("posts.list")) == 2


def test_find_published_for_a_comment(linkedin, fake_linkedin):
    since = datetime.now(timezone.utc)
    ref = linkedin.publish(PostPayload(text="Post"))
    fake_linkedin.comment(ref.external_id, "Gracias")  # a reader's words: not ours
    payload = PostPayload(text="Gracias", reply_to=ref.external_id)
    assert linkedin.find_published(payload, since=since) is None
    mine = linkedin.reply(ref.external_id, "Gracias")
    assert linkedin.find_published(payload, since=since).external_id == mine.external_id


def test_an_upload_url_off_linkedin_is_refused(linkedin, fake_linkedin, monkeypatch):
    original = fake_linkedin.api_images_initialize

    def evil(request):
        status, body, headers = original(request)
        body["value"]["uploadUrl"] = "http://169.254.169.254/latest/meta-data"
        return status, body, headers

    monkeypatch.setattr(fake_linkedin, "api_images_initialize", evil)
    with pytest.raises(Permanent) as err:
        linkedin.publish(PostPayload(text="x", media=(image(),)))
    assert "upload address" in str(err.value.user_message)
    assert fake_linkedin.requests_to("posts.create") == []


def test_a_page_the_member_does_not_administer_is_refused_plainly(linkedin, fake_linkedin):
    fake_linkedin.admin_of.discard(ORG_ID)
    with pytest.raises(Permanent) as err:
        linkedin.publish(PostPayload(text="x"))
    assert "administrators" in str(err.value.user_message) and "ACCESS_DENIED" in err.value.detail


def test_a_duplicate_is_refused_with_the_reason(linkedin, fake_linkedin):
    linkedin.publish(PostPayload(text="Repetido"))
    with pytest.raises(Permanent) as err:
        linkedin.publish(PostPayload(text="Repetido"))
    assert "identical" in str(err.value.user_message) and "duplicate" in err.value.detail
