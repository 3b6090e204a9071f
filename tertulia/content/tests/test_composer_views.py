"""The composer's pages: compose, edit, the live (htmx) check, the UTM builder and presets,
with roles, hostile input and escaping."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest
from django.test import Client
from django.urls import reverse

from tertulia.content import composer, services
from tertulia.content.models import Idea, Post, PostVariant, ShortLink, UtmPreset
from tertulia.core.services import Ctx
from tertulia.core.tests.web_helpers import XSS, assert_escaped, generated_png, html
from tertulia.networks.services import do_add_account

pytestmark = pytest.mark.django_db


@pytest.fixture
def setup(brand_a, settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path / "media")
    brand, people = brand_a
    owner = Ctx(people["owner"])
    accounts = {
        "x": do_add_account(owner, brand, network="x", handle="alpha", display_name="Alpha on X"),
        "bluesky": do_add_account(owner, brand, network="bluesky", handle="alpha.bsky.social"),
        "instagram": do_add_account(owner, brand, network="instagram", handle="alpha_ig"),
    }
    client = Client(HTTP_ACCEPT_LANGUAGE="en")
    client.force_login(people["community_manager"])
    return brand, people, accounts, client


def _form(accounts, **extra):
    data = {"text": "Hola", "accounts": [a.pk for a in accounts], "format": "text", "action": "save"}
    data.update(extra)
    return data


def test_compose_page_has_the_hooks_the_journey_uses(setup):
    brand, people, accounts, client = setup
    page = html(client.get(reverse("section_compose", args=[brand.pk])))
    assert 'id="id_text"' in page
    for network in ("x", "bluesky", "instagram"):
        assert f'name="variant_{network}"' in page
        assert f'data-problems="{network}"' in page
    assert 'name="action" value="save"' in page and 'name="action" value="submit"' in page
    assert 'hx-post="%s"' % reverse("compose_validate", args=[brand.pk]) in page
    assert "input changed delay:400ms" in page
    assert "content/compose.js" in page and "<script>" not in page.replace('<script src=', '')


def test_roles_without_compose_get_403(setup):
    brand, people, accounts, _client = setup
    post = composer.do_create_draft(Ctx(people["owner"]), brand, text="Hola", accounts=[accounts["x"]])
    for role in ("analyst", "client_reviewer"):
        client = Client()
        client.force_login(people[role])
        assert client.get(reverse("section_compose", args=[brand.pk])).status_code == 403
        assert client.get(reverse("post_edit", args=[brand.pk, post.pk])).status_code == 403
        assert client.post(reverse("compose_validate", args=[brand.pk]), {"text": "x"}).status_code == 403
        assert client.post(reverse("section_compose", args=[brand.pk]), _form([accounts["x"]])).status_code == 403
    assert Post.objects.filter(brand=brand).count() == 1


def test_save_a_draft_with_errors_and_fix_it(setup):
    brand, people, accounts, client = setup
    data = _form([accounts["x"], accounts["bluesky"]], text="a" * 400, variant_x="Corto para X")
    response = client.post(reverse("section_compose", args=[brand.pk]), data)
    assert response.status_code == 302
    post = Post.objects.get(brand=brand)
    assert response["Location"] == reverse("post_edit", args=[brand.pk, post.pk])
    assert post.state == Post.State.DRAFT and post.text == "a" * 400
    assert PostVariant.objects.get(post=post, network="x").effective_text == "Corto para X"
    page = html(client.get(response["Location"]))
    problems = re.search(r'data-problems="bluesky"[^>]*>(.*?)</ul>', page, re.S).group(1)
    assert "400" in problems and "300" in problems  # the length error, with numbers
    assert "Corto para X" in page
    # Asking for approval is refused while Bluesky is too long; nothing is lost.
    data.update(action="submit", version=post.version)
    response = client.post(reverse("post_edit", args=[brand.pk, post.pk]), data, follow=True)
    post.refresh_from_db()
    assert post.state == Post.State.DRAFT
    assert any("Bluesky" in str(m) for m in response.context["messages"])
    # Fix it with a Bluesky variant and ask again.
    data.update(variant_bluesky="Corto para Bluesky", version=post.version)
    response = client.post(reverse("post_edit", args=[brand.pk, post.pk]), data, follow=True)
    post.refresh_from_db()
    assert post.state == Post.State.PENDING_APPROVAL, [str(m) for m in response.context["messages"]]
    assert PostVariant.objects.get(post=post, network="bluesky").effective_text == "Corto para Bluesky"


def test_reset_button_without_javascript(setup):
    brand, people, accounts, client = setup
    post = composer.do_create_draft(Ctx(people["community_manager"]), brand, text="Común",
                                    accounts=[accounts["x"]], variants={"x": "Propio"})
    data = _form([accounts["x"]], text="Común", variant_x="Propio", reset="x", version=post.version)
    client.post(reverse("post_edit", args=[brand.pk, post.pk]), data)
    variant = PostVariant.objects.get(post=post, network="x")
    assert not variant.is_custom and variant.effective_text == "Común"


def test_live_validation_endpoint(setup):
    brand, people, accounts, client = setup
    url = reverse("compose_validate", args=[brand.pk])
    response = client.post(url, _form([accounts["x"]], text="a" * 281), HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    body = html(response)
    assert 'id="problems-x"' in body and 'hx-swap-oob="true"' in body
    assert "281/280" in body
    assert 'data-summary="errors"' in body
    fixed = html(client.post(url, _form([accounts["x"]], text="a" * 200)))
    assert "200/280" in fixed and 'data-summary="ok"' in fixed
    # Spanish for a Spanish-speaking user.
    es = Client(HTTP_ACCEPT_LANGUAGE="es")
    es.force_login(people["community_manager"])
    people["community_manager"].language = "es"
    people["community_manager"].save()
    body_es = html(es.post(url, _form([accounts["x"]], text="a" * 281)))
    assert "caracteres" in body_es
    # GET is refused, CSRF is enforced.
    assert client.get(url).status_code == 405
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(people["community_manager"])
    assert strict.post(url, _form([accounts["x"]])).status_code == 403


def test_script_in_text_is_escaped_in_page_and_previews(setup):
    brand, people, accounts, client = setup
    text = f"{XSS} #tag @someone https://example.com/?a=1&b=<b>"
    post = composer.do_create_draft(Ctx(people["community_manager"]), brand, text=text,
                                    accounts=list(accounts.values()), first_comment=XSS)
    page = html(client.get(reverse("post_edit", args=[brand.pk, post.pk])))
    assert_escaped(page)
    assert "<b>" not in page
    live = html(client.post(reverse("compose_validate", args=[brand.pk]), _form(list(accounts.values()), text=text)))
    assert_escaped(live)
    assert 'class="pv-hashtag">#tag<' in live


def test_hostile_input(setup):
    brand, people, accounts, client = setup
    url = reverse("section_compose", args=[brand.pk])
    # 100 KB of text: refused with a message, nothing stored, no crash.
    response = client.post(url, _form([accounts["x"]], text="a" * 100_000))
    assert response.status_code == 200 and not Post.objects.exists()
    assert "70000" in html(response) or "70,000" in html(response)
    live = client.post(reverse("compose_validate", args=[brand.pk]), _form([accounts["x"]], text="a" * 100_000))
    assert live.status_code == 200
    # Zero-width characters and emoji are text like any other.
    zw = "Hola\u200b\u200d\u2060 👨‍👩‍👧 mundo"
    assert client.post(url, _form([accounts["x"]], text=zw)).status_code == 302
    assert Post.objects.get().text == zw
    # Malformed values: a form error, not a 500.
    for bad in ({"accounts": ["abc"]}, {"format": "nope"}, {"scheduled_date": "2030-13-45", "scheduled_time": "10:00"},
                {"media": ["999999"]}, {"pillar": "-1"}, {"text": "a\x00b"}):
        response = client.post(url, {**_form([accounts["x"]]), **bad})
        assert response.status_code == 200, bad
    assert Post.objects.count() == 1


def test_other_brands_rows_are_refused(setup, brand_b):
    brand, people, accounts, client = setup
    b_brand, b_people = brand_b
    b_owner = Ctx(b_people["owner"])
    b_account = do_add_account(b_owner, b_brand, network="x", handle="beta")
    b_media = services.do_upload_media(b_owner, b_brand, generated_png(), alt_text="beta")
    b_post = composer.do_create_draft(b_owner, b_brand, text="Beta secret", accounts=[b_account])
    b_idea = Idea.objects.create(brand=b_brand, title="Beta idea")
    url = reverse("section_compose", args=[brand.pk])
    for bad in ({"accounts": [b_account.pk]}, {"media": [b_media.pk]}):
        response = client.post(url, {**_form([accounts["x"]]), **bad})
        assert response.status_code == 200 and not Post.objects.filter(brand=brand).exists()
    assert client.get(reverse("post_edit", args=[brand.pk, b_post.pk])).status_code == 404
    assert client.get(reverse("section_compose", args=[b_brand.pk])).status_code == 404
    assert client.get(url + f"?idea={b_idea.pk}").status_code == 404
    assert "Beta secret" not in html(client.post(reverse("compose_validate", args=[brand.pk]),
                                                 {"post": b_post.pk, "text": "x"}))


def test_prefill_from_an_idea_and_a_date(setup):
    brand, people, accounts, client = setup
    idea = Idea.objects.create(brand=brand, title="Receta de otoño", notes="Con calabaza")
    page = html(client.get(reverse("section_compose", args=[brand.pk]) + f"?idea={idea.pk}&date=2030-05-06"))
    assert "Receta de otoño" in page and "Con calabaza" in page
    assert 'value="2030-05-06"' in page
    data = _form([accounts["x"]], text="Receta", idea=idea.pk)
    client.post(reverse("section_compose", args=[brand.pk]), data)
    assert Post.objects.get().idea_id == idea.pk


def test_schedule_in_the_brand_zone_and_dst_gap(setup):
    brand, people, accounts, client = setup  # Europe/Madrid
    url = reverse("section_compose", args=[brand.pk])
    client.post(url, _form([accounts["x"]], scheduled_date="2030-07-01", scheduled_time="09:30"))
    assert Post.objects.get().scheduled_at == datetime(2030, 7, 1, 7, 30, tzinfo=UTC)
    response = client.post(url, _form([accounts["x"]], scheduled_date="2030-03-31", scheduled_time="02:30"))
    assert response.status_code == 200 and Post.objects.count() == 1
    assert "does not exist" in html(response)
    response = client.post(url, _form([accounts["x"]], scheduled_date="2030-03-31"))
    assert "Choose a time too" in html(response)


def test_editing_an_approved_post_goes_back_to_review(setup):
    from tertulia.content import approvals

    brand, people, accounts, client = setup
    cm, manager = Ctx(people["community_manager"]), Ctx(people["manager"])
    post = composer.do_create_draft(cm, brand, text="Hola", accounts=[accounts["x"]])
    approvals.do_submit_for_review(cm, post)
    approvals.do_approve(manager, Post.objects.get(pk=post.pk))
    post.refresh_from_db()
    assert post.state == Post.State.APPROVED
    response = client.post(reverse("post_edit", args=[brand.pk, post.pk]),
                           _form([accounts["x"]], text="Hola otra vez", version=post.version), follow=True)
    post.refresh_from_db()
    assert post.state == Post.State.PENDING_APPROVAL
    assert any("back to review" in str(m) for m in response.context["messages"])


def test_media_picker_and_image_rules(setup):
    brand, people, accounts, client = setup
    cm = Ctx(people["community_manager"])
    wide = services.do_upload_media(cm, brand, generated_png(1000, 300, (3, 3, 3)), alt_text="")
    page = html(client.get(reverse("section_compose", args=[brand.pk])))
    assert f'name="media" value="{wide.pk}"' in page
    live = html(client.post(reverse("compose_validate", args=[brand.pk]),
                            _form([accounts["instagram"]], media=[wide.pk])))
    problems = re.search(r'data-problems="instagram"[^>]*>(.*?)</ul>', live, re.S).group(1)
    assert "too wide" in problems and "1.91:1" in problems
    assert 'data-code="no_alt_text"' in live


# --- UTM --------------------------------------------------------------------------------------

def test_utm_builder_tags_each_network(setup):
    brand, people, accounts, client = setup
    cm = Ctx(people["community_manager"])
    campaign = services.do_create_campaign(cm, brand, name="Otoño 2030")
    UtmPreset.objects.create(brand=brand, network="bluesky", utm_source="bsky", utm_medium="organic")
    url = reverse("compose_utm", args=[brand.pk])
    body = html(client.post(url, {"utm_url": "https://shop.example/a?ref=x%20y&utm_source=old#top",
                                  "campaign": campaign.pk, "accounts": [accounts["x"].pk, accounts["bluesky"].pk]}))
    assert ("https://shop.example/a?ref=x%20y&amp;utm_source=x&amp;utm_medium=social&amp;utm_campaign=otono-2030#top"
            in body)
    assert "utm_source=bsky&amp;utm_medium=organic" in body
    assert "utm_source=old" not in body
    assert html(client.post(url, {"utm_url": "javascript:alert(1)", "accounts": [accounts["x"].pk]})).count(
        'role="alert"') == 1
    # Short links: one per network, each with its own source.
    body = html(client.post(url, {"utm_url": "https://shop.example/a", "shorten": "1", "campaign": campaign.pk,
                                  "accounts": [accounts["x"].pk, accounts["bluesky"].pk]}))
    links = ShortLink.objects.filter(brand=brand)
    assert {(l.utm_source, l.utm_campaign) for l in links} == {("x", "otono-2030"), ("bsky", "otono-2030")}
    assert all(f"/l/{l.slug}" in body for l in links)


def test_utm_presets_page(setup, brand_b):
    brand, people, accounts, client = setup
    url = reverse("utm_presets", args=[brand.pk])
    page = html(client.get(url))
    assert 'data-preset="x"' in page and 'data-preset="telegram"' in page
    response = client.post(url, {"network": "x", "utm_source": "twitter", "utm_medium": "social", "utm_content": ""})
    assert response.status_code == 302
    assert UtmPreset.objects.get(brand=brand, network="x").utm_source == "twitter"
    response = client.post(url, {"network": "x", "utm_source": XSS, "utm_medium": "social"})
    assert response.status_code == 200 and UtmPreset.objects.get(brand=brand, network="x").utm_source == "twitter"
    assert_escaped(html(response))
    client.post(url, {"network": "x", "delete": "1", "utm_source": "x", "utm_medium": "social"})
    assert not UtmPreset.objects.filter(brand=brand, network="x").exists()
    analyst = Client()
    analyst.force_login(people["analyst"])
    assert analyst.get(url).status_code == 403
    assert client.get(reverse("utm_presets", args=[brand_b[0].pk])).status_code == 404
