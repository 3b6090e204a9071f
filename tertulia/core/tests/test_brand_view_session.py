"""Brand pages remember the brand the user was on (for ``/``), writing the session only when it
changes: a session write on every page view was an UPDATE and a COMMIT per request (bench_load)."""

from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from tertulia.core import services
from tertulia.core.services import Ctx


def _session_writes(queries) -> list[str]:
    return [q["sql"] for q in queries
            if "django_session" in q["sql"] and q["sql"].lstrip().upper().startswith(("UPDATE", "INSERT", "DELETE"))]


def test_brand_pages_write_the_session_only_when_the_brand_changes(client, brand_a):
    brand, people = brand_a
    owner = people["owner"]
    other = services.do_create_brand(Ctx(owner, via="test"), brand.organization, name="Second Brand",
                                     timezone="UTC", language="en")
    client.force_login(owner)
    calendar = lambda b: reverse("section_calendar", args=[b.pk])  # noqa: E731

    assert client.get(calendar(brand)).status_code == 200
    assert client.session["brand_id"] == brand.pk
    with CaptureQueriesContext(connection) as same:
        assert client.get(calendar(brand)).status_code == 200
        assert client.get(reverse("section_inbox", args=[brand.pk])).status_code == 200
    assert _session_writes(same.captured_queries) == []

    with CaptureQueriesContext(connection) as switched:
        assert client.get(calendar(other)).status_code == 200
    assert len(_session_writes(switched.captured_queries)) == 1
    assert client.session["brand_id"] == other.pk
    response = client.get(reverse("home"))
    assert response.status_code == 302 and response.url == calendar(other)


def test_another_brands_page_does_not_move_the_remembered_brand(client, brand_a, brand_b):
    brand, people = brand_a
    client.force_login(people["community_manager"])
    assert client.get(reverse("section_calendar", args=[brand.pk])).status_code == 200
    foreign, _ = brand_b
    assert client.get(reverse("section_calendar", args=[foreign.pk])).status_code == 404
    assert client.session["brand_id"] == brand.pk
