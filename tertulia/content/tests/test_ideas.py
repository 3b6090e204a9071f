"""The idea backlog: services (positions stay compact), the kanban page with its keyboard
buttons and drag-and-drop endpoint, roles, other tenants and hostile input."""

from __future__ import annotations

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.urls import reverse

from tertulia.content import ideas as svc
from tertulia.content.models import Idea
from tertulia.core.models import AuditEvent
from tertulia.core.services import Ctx
from tertulia.core.tests.web_helpers import XSS, assert_escaped, html, messages_of
from tertulia.strategy import services as strategy_services

pytestmark = pytest.mark.django_db


def columns(brand):
    out = {}
    for status in svc.STATUSES:
        out[status] = [(i.title, i.position) for i in Idea.objects.filter(brand=brand, status=status)
                       .order_by("position")]
    return out


@pytest.fixture
def board(brand_a):
    brand, people = brand_a
    ctx = Ctx(people["community_manager"], via="test")
    cards = [svc.do_create_idea(ctx, brand, title=t) for t in ("Uno", "Dos", "Tres")]
    return brand, people, ctx, cards


# --- services -----------------------------------------------------------------------------------


def test_create_appends_to_the_column_and_is_audited(board):
    brand, people, ctx, cards = board
    assert [(c.title, c.position, c.status) for c in cards] == [("Uno", 0, "idea"), ("Dos", 1, "idea"),
                                                                 ("Tres", 2, "idea")]
    ready = svc.do_create_idea(ctx, brand, title="  Lista   ya ", status="ready", notes="  línea 1\nlínea 2 ")
    assert (ready.title, ready.position, ready.notes) == ("Lista ya", 0, "línea 1\nlínea 2")
    assert AuditEvent.objects.filter(action="idea.create", brand=brand).count() == 4


def test_move_between_columns_renumbers_both(board):
    brand, people, ctx, (uno, dos, tres) = board
    svc.do_move_idea(ctx, dos, "writing", 0)
    assert columns(brand) == {"idea": [("Uno", 0), ("Tres", 1)], "writing": [("Dos", 0)], "ready": []}
    svc.do_move_idea(ctx, uno, "writing", 0)
    svc.do_move_idea(ctx, tres, "writing", 1)
    assert columns(brand)["writing"] == [("Uno", 0), ("Tres", 1), ("Dos", 2)]
    assert columns(brand)["idea"] == []
    event = AuditEvent.objects.filter(action="idea.move", object_id=str(tres.pk)).get()
    assert event.changes["status"] == ["idea", "writing"]


def test_move_within_a_column_and_out_of_range_positions(board):
    brand, people, ctx, (uno, dos, tres) = board
    svc.do_move_idea(ctx, tres, "idea", 0)
    assert columns(brand)["idea"] == [("Tres", 0), ("Uno", 1), ("Dos", 2)]
    svc.do_move_idea(ctx, tres, "idea", 999)
    assert columns(brand)["idea"] == [("Uno", 0), ("Dos", 1), ("Tres", 2)]
    svc.do_move_idea(ctx, uno, "idea", None)
    assert columns(brand)["idea"] == [("Dos", 0), ("Tres", 1), ("Uno", 2)]
    with pytest.raises(ValidationError):
        svc.do_move_idea(ctx, uno, "published", 0)


def test_delete_compacts_the_column(board):
    brand, people, ctx, (uno, dos, tres) = board
    svc.do_delete_idea(ctx, dos)
    assert columns(brand)["idea"] == [("Uno", 0), ("Tres", 1)]
    assert AuditEvent.objects.filter(action="idea.delete", brand=brand).exists()


def test_update_fields_and_status(board):
    brand, people, ctx, (uno, dos, tres) = board
    pillar = strategy_services.do_save_pillar(Ctx(people["owner"]), brand, name="Educativo", target_share=30)
    svc.do_update_idea(ctx, uno, title="Uno bis", pillar=pillar.pk, source_url="https://example.org/a",
                       status="ready")
    uno.refresh_from_db()
    assert (uno.title, uno.pillar_id, uno.source_url, uno.status, uno.position) == (
        "Uno bis", pillar.pk, "https://example.org/a", "ready", 0)
    assert columns(brand)["idea"] == [("Dos", 0), ("Tres", 1)]
    svc.do_update_idea(ctx, uno, pillar=None, source_url="")
    uno.refresh_from_db()
    assert (uno.pillar_id, uno.source_url) == (None, "")


@pytest.mark.parametrize("fields,field", [
    ({"title": ""}, "title"),
    ({"title": "   "}, "title"),
    ({"title": "x" * 301}, "title"),
    ({"notes": "x" * 10_001}, "notes"),
    ({"source_url": "javascript:alert(1)"}, "source_url"),
    ({"source_url": "ftp://example.org/x"}, "source_url"),
    ({"source_url": "https://" + "a" * 2000 + ".com"}, "source_url"),
    ({"source_url": "not a url"}, "source_url"),
    ({"status": "published"}, "status"),
])
def test_invalid_input_is_refused_and_changes_nothing(board, fields, field):
    brand, people, ctx, (uno, dos, tres) = board
    data = {"title": "Válida", **fields}
    with pytest.raises(ValidationError) as exc:
        svc.do_create_idea(ctx, brand, **data)
    assert field in exc.value.message_dict
    assert Idea.objects.filter(brand=brand).count() == 3


def test_another_brands_pillar_is_refused(board, brand_b):
    brand, people, ctx, cards = board
    other, other_people = brand_b
    theirs = strategy_services.do_save_pillar(Ctx(other_people["owner"]), other, name="Suyo", target_share=10)
    with pytest.raises(ValidationError) as exc:
        svc.do_create_idea(ctx, brand, title="X", pillar=theirs.pk)
    assert "pillar" in exc.value.message_dict


@pytest.mark.parametrize("role", ["analyst", "client_reviewer"])
def test_roles_without_compose_cannot_write(board, role):
    brand, people, ctx, (uno, dos, tres) = board
    other = Ctx(people[role], via="test")
    with pytest.raises(PermissionDenied):
        svc.do_create_idea(other, brand, title="Nope")
    with pytest.raises(PermissionDenied):
        svc.do_move_idea(other, uno, "ready", 0)
    with pytest.raises(PermissionDenied):
        svc.do_delete_idea(other, uno)
    with pytest.raises(PermissionDenied):
        svc.do_update_idea(other, uno, title="Nope")


# --- pages --------------------------------------------------------------------------------------


def test_board_shows_three_columns_in_order_with_write_links(client, board):
    brand, people, ctx, (uno, dos, tres) = board
    svc.do_move_idea(ctx, tres, "writing", 0)
    client.force_login(people["community_manager"])
    page = html(client.get(reverse("idea_board", args=[brand.pk])))
    for label in ("Idea", "Writing", "Ready"):
        assert f">{label} <small" in page
    assert page.index("Uno") < page.index("Dos") < page.index("Tres")
    assert f'href="/brands/{brand.pk}/compose/?idea={uno.pk}"' in page
    assert 'src="/static/content/ideas.js"' in page or "content/ideas" in page
    assert f'data-move-url="/brands/{brand.pk}/ideas/{uno.pk}/move/"' in page


def test_create_from_the_board(client, board):
    brand, people, ctx, cards = board
    client.force_login(people["community_manager"])
    response = client.post(reverse("idea_board", args=[brand.pk]),
                           {"title": "Nueva idea", "notes": "Con notas", "source_url": "https://example.org/x"})
    assert response.status_code == 302
    idea = Idea.objects.get(brand=brand, title="Nueva idea")
    assert response["Location"].endswith(f"#idea-{idea.pk}")
    assert (idea.position, idea.created_by) == (3, people["community_manager"])


def test_create_with_bad_input_shows_errors(client, board):
    brand, people, ctx, cards = board
    client.force_login(people["community_manager"])
    response = client.post(reverse("idea_board", args=[brand.pk]),
                           {"title": "Ok", "source_url": "javascript:alert(1)"})
    assert response.status_code == 200
    assert "Enter a valid web address (http or https)." in html(response)
    assert not Idea.objects.filter(title="Ok").exists()


def test_keyboard_buttons_move_without_javascript(client, board):
    brand, people, ctx, (uno, dos, tres) = board
    client.force_login(people["community_manager"])
    url = reverse("idea_move", args=[brand.pk, dos.pk])
    assert client.post(url, {"direction": "right"}).status_code == 302
    assert columns(brand)["writing"] == [("Dos", 0)]
    client.post(url, {"direction": "right"})
    assert columns(brand)["ready"] == [("Dos", 0)]
    response = client.post(url, {"direction": "right"}, follow=True)
    assert "The card is already in the last column." in messages_of(response)
    client.post(url, {"direction": "left"})
    client.post(url, {"direction": "left"})
    assert columns(brand)["idea"] == [("Uno", 0), ("Tres", 1), ("Dos", 2)]
    client.post(url, {"direction": "up"})
    assert columns(brand)["idea"] == [("Uno", 0), ("Dos", 1), ("Tres", 2)]
    client.post(url, {"direction": "up"})
    client.post(url, {"direction": "up"})  # already at the top: stays
    assert columns(brand)["idea"] == [("Dos", 0), ("Uno", 1), ("Tres", 2)]
    client.post(url, {"direction": "down"})
    assert columns(brand)["idea"] == [("Uno", 0), ("Dos", 1), ("Tres", 2)]


def test_first_and_last_buttons_are_disabled(client, board):
    brand, people, ctx, cards = board
    client.force_login(people["community_manager"])
    page = html(client.get(reverse("idea_board", args=[brand.pk])))
    # In the first column every "previous column" button is disabled; the first card cannot go up.
    assert page.count('disabled aria-label="Move to the previous column"') == 3
    assert page.count('disabled aria-label="Move up"') == 1
    assert page.count('disabled aria-label="Move down"') == 1
    assert page.count('disabled aria-label="Move to the next column"') == 0


def test_drag_and_drop_endpoint_answers_json(client, board):
    brand, people, ctx, (uno, dos, tres) = board
    client.force_login(people["community_manager"])
    url = reverse("idea_move", args=[brand.pk, uno.pk])
    response = client.post(url, {"status": "ready", "position": "0"}, HTTP_ACCEPT="application/json")
    assert response.status_code == 200
    assert response.json() == {"ok": True, "id": uno.pk, "status": "ready", "position": 0}
    bad = client.post(url, {"status": "nowhere", "position": "0"}, HTTP_ACCEPT="application/json")
    assert bad.status_code == 400 and bad.json()["ok"] is False
    bad = client.post(url, {"status": "idea", "position": "-3"}, HTTP_ACCEPT="application/json")
    assert bad.status_code == 400
    huge = client.post(url, {"status": "idea", "position": "9" * 50}, HTTP_ACCEPT="application/json")
    assert huge.status_code == 400
    assert columns(brand)["ready"] == [("Uno", 0)]


def test_move_needs_post(client, board):
    brand, people, ctx, (uno, *_rest) = board
    client.force_login(people["community_manager"])
    assert client.get(reverse("idea_move", args=[brand.pk, uno.pk])).status_code == 405


def test_edit_and_delete_pages(client, board):
    brand, people, ctx, (uno, dos, tres) = board
    client.force_login(people["community_manager"])
    url = reverse("idea_edit", args=[brand.pk, uno.pk])
    assert "Uno" in html(client.get(url))
    response = client.post(url, {"title": "Uno editada", "notes": "N", "source_url": ""})
    assert response.status_code == 302
    uno.refresh_from_db()
    assert uno.title == "Uno editada"
    assert client.post(reverse("idea_delete", args=[brand.pk, dos.pk])).status_code == 302
    assert columns(brand)["idea"] == [("Uno editada", 0), ("Tres", 1)]


def test_script_in_a_card_is_escaped(client, board):
    brand, people, ctx, cards = board
    svc.do_create_idea(ctx, brand, title=XSS, notes=XSS)
    client.force_login(people["community_manager"])
    assert_escaped(html(client.get(reverse("idea_board", args=[brand.pk]))))
    idea = Idea.objects.get(title=XSS)
    assert_escaped(html(client.get(reverse("idea_edit", args=[brand.pk, idea.pk]))))


@pytest.mark.parametrize("role", ["analyst", "client_reviewer"])
def test_viewers_see_the_board_without_controls_and_cannot_write(client, board, role):
    brand, people, ctx, (uno, dos, tres) = board
    client.force_login(people[role])
    page = html(client.get(reverse("idea_board", args=[brand.pk])))
    assert "Uno" in page
    assert "Write a post" not in page and 'name="direction"' not in page and "draggable" not in page
    assert "Fetch now" not in page
    assert client.post(reverse("idea_board", args=[brand.pk]), {"title": "x"}).status_code == 403
    assert client.post(reverse("idea_move", args=[brand.pk, uno.pk]), {"direction": "right"}).status_code == 403
    assert client.post(reverse("idea_delete", args=[brand.pk, uno.pk])).status_code == 403
    assert client.post(reverse("idea_edit", args=[brand.pk, uno.pk]), {"title": "x"}).status_code == 403
    assert client.get(reverse("idea_edit", args=[brand.pk, uno.pk])).status_code == 200
    assert columns(brand)["idea"] == [("Uno", 0), ("Dos", 1), ("Tres", 2)]


def test_another_brands_cards_are_404(client, board, brand_b):
    brand, people, ctx, (uno, *_rest) = board
    other, other_people = brand_b
    theirs = svc.do_create_idea(Ctx(other_people["owner"]), other, title="Secreto de Beta")
    client.force_login(people["community_manager"])
    for name in ("idea_edit", "idea_move", "idea_delete"):
        assert client.post(reverse(name, args=[brand.pk, theirs.pk]), {"direction": "right"}).status_code == 404
    assert client.get(reverse("idea_board", args=[other.pk])).status_code == 404
    assert "Secreto de Beta" not in html(client.get(reverse("idea_board", args=[brand.pk])))
    theirs.refresh_from_db()
    assert (theirs.status, theirs.title) == ("idea", "Secreto de Beta")


def test_page_in_spanish(client, board):
    brand, people, ctx, cards = board
    user = people["community_manager"]
    user.language = "es"
    user.save()
    client.force_login(user)
    page = html(client.get(reverse("idea_board", args=[brand.pk]), HTTP_ACCEPT_LANGUAGE="es"))
    assert "Banco de ideas" in page and "Escribir una publicación" in page
