"""The audit log page: owners and managers read who did what to their brand, and only that."""

import pytest
from django.urls import reverse

from tertulia.core import audit, roles, services
from tertulia.core.models import AuditEvent
from tertulia.core.services import Ctx

from .web_helpers import ALL_ROLES, XSS, assert_escaped, html

pytestmark = pytest.mark.django_db

READERS = {r for r in ALL_ROLES if roles.VIEW_AUDIT in roles.ROLE_PERMISSIONS[r]}


def test_role_table_is_what_these_tests_assume():
    assert READERS == {"owner", "manager"}


@pytest.mark.parametrize("role", ALL_ROLES)
def test_only_audit_readers_open_the_log_or_see_its_tab(client, brand_a, role):
    brand, people = brand_a
    client.force_login(people[role])
    response = client.get(reverse("audit_log", args=[brand.pk]))
    assert response.status_code == (200 if role in READERS else 403)
    settings_page = html(client.get(reverse("brand_settings", args=[brand.pk])))
    assert (reverse("audit_log", args=[brand.pk]) in settings_page) == (role in READERS)


def test_the_log_shows_who_what_and_the_changes_of_this_brand_only(client, brand_a, brand_b):
    brand, people = brand_a
    other, other_people = brand_b
    services.do_update_brand(Ctx(people["manager"], via="api", ip="203.0.113.9"), brand, tone="Cercano")
    services.do_update_brand(Ctx(other_people["owner"]), other, tone="Beta secret tone")
    client.force_login(people["owner"])
    response = client.get(reverse("audit_log", args=[brand.pk]))
    events = list(response.context["page"])
    assert {e.brand_id for e in events} == {brand.pk}
    page = html(response)
    assert "brand.update" in page and "alpha_manager" in page and "203.0.113.9" in page
    assert "Cercano" in page and "api" in page
    assert "Beta secret tone" not in page and other.name not in page
    # Member additions from the fixture are there too, newest first.
    assert events[0].action == "brand.update"
    assert [e.created_at for e in events] == sorted((e.created_at for e in events), reverse=True)


def test_filter_by_kind_of_change(client, brand_a):
    brand, people = brand_a
    services.do_save_knowledge(Ctx(people["owner"]), brand, title="T", answer="A")
    client.force_login(people["manager"])
    url = reverse("audit_log", args=[brand.pk])
    response = client.get(url, {"action": "knowledge"})
    assert [e.action for e in response.context["page"]] == ["knowledge.create"]
    assert "knowledge" in response.context["actions"] and "member" in response.context["actions"]
    assert list(client.get(url, {"action": "nothing-like-this"}).context["page"]) == []
    assert client.get(url, {"action": "x" * 10_000}).status_code == 200


def test_pages_by_50(client, brand_a):
    brand, people = brand_a
    for i in range(60):
        audit.record(people["owner"], "test.event", brand=brand, changes={"n": i})
    client.force_login(people["owner"])
    url = reverse("audit_log", args=[brand.pk])
    assert len(client.get(url).context["page"]) == 50
    assert client.get(url, {"page": 2}).context["page"].number == 2


def test_markup_in_recorded_values_is_escaped(client, brand_a):
    brand, people = brand_a
    services.do_update_brand(Ctx(people["owner"]), brand, name=XSS, signature=XSS)
    client.force_login(people["owner"])
    page = html(client.get(reverse("audit_log", args=[brand.pk])))
    assert_escaped(page)
    assert AuditEvent.objects.filter(action="brand.update", object_repr=XSS).exists()


def test_reflected_filter_is_escaped(client, brand_a):
    brand, people = brand_a
    client.force_login(people["owner"])
    response = client.get(reverse("audit_log", args=[brand.pk]), {"action": XSS})
    assert response.status_code == 200 and "<script>alert" not in html(response)
