"""Deleting a brand is a soft delete with a grace period (issue 10, data safety).

A deleted brand disappears from every page and API route at once (crawled with the isolation
crawl's own route discovery and world), its workers' claim queries skip it, its owners and the
workspace administrators can restore it until the purge date, and the periodic purge removes its
rows and files for good with an audit event at workspace level.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.files.storage import default_storage
from django.urls import reverse
from django.utils import timezone

from tertulia.core import brand_lifecycle, roles, services
from tertulia.core.models import AuditEvent, Brand, Organization, OrganizationMember
from tertulia.core.scoping import brands_for
from tertulia.core.services import Ctx
from tertulia.core.tests.test_isolation import discover, fill_route
from tertulia.core.tests.test_isolation import _values as route_values
from tertulia.core.tests.web_helpers import XSS, assert_escaped, html, messages_of, populate

API = "/api/v1"


@pytest.fixture
def world(brand_a, settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path / "media")
    return populate(*brand_a, marker="Alpha")


def _bearer(user, brand, scope="write"):
    raw = services.do_create_token(Ctx(user), "t", {brand.pk: scope})[1]
    return {"HTTP_AUTHORIZATION": f"Bearer {raw}"}


def test_a_deleted_brand_is_gone_from_every_page_and_api_route(world, client):
    owner = world.people["owner"]
    values = route_values(world)
    brand_id = world.brand.pk
    services.do_delete_brand(Ctx(owner), world.brand)
    assert not brands_for(owner).exists() and not Brand.objects.filter(pk=brand_id).exists()
    client.force_login(owner)
    web, api_routes, _ = discover()
    failures, crawled = [], 0
    for name, route in web:
        if "<int:brand_id>" not in route or name == "brand_restore":
            continue
        url = fill_route(route, values)
        response = client.get(url)
        crawled += 1
        if response.status_code not in (404, 405):
            failures.append(f"GET {url} ({name}): {response.status_code}")
    for name, route, methods in api_routes:
        if "brand_id" not in route or "deleted-brands" in route:
            continue
        url = fill_route(route, values)
        for method in {"get", "delete"} & set(methods):
            response = getattr(client, method)(url)
            crawled += 1
            # 422: a required query parameter is missing (refused before the handler runs).
            if response.status_code not in (404, 422) or world.brand.name in response.content.decode():
                failures.append(f"{method.upper()} {url} ({name}): {response.status_code}")
    assert crawled > 100 and not failures, "\n".join(failures)
    # Lists and pages without a brand id: the brand's name is nowhere.
    for url in (reverse("home"), reverse("brand_list"), f"{API}/brands", f"{API}/me"):
        response = client.get(url, follow=True)
        assert world.brand.name not in response.content.decode(), url
    # The brand's own posts are no longer reachable through any member's scoping either.
    from tertulia.content.models import Post

    assert not Post.objects.for_user(owner).exists()


def test_workers_skip_a_deleted_brand(world, client):
    from tertulia.analytics import collect
    from tertulia.giveaways import services as giveaways
    from tertulia.inbox import polling
    from tertulia.listening import sources
    from tertulia.publishing import engine
    from tertulia.publishing.models import PostTarget
    from tertulia.reports import services as reports
    from tertulia.reports.models import ReportSchedule

    now = timezone.now()
    account, target = world.account, world.target
    PostTarget.objects.filter(pk=target.pk).update(state=PostTarget.State.SCHEDULED, due_at=now - timedelta(minutes=1))
    polling.ensure_syncs(now)
    collect.ensure_syncs(now)
    polling_due = lambda: polling._due(now + timedelta(days=30)).filter(account=account).exists()  # noqa: E731
    metrics_due = lambda: collect._due(now + timedelta(days=30)).filter(account=account).exists()  # noqa: E731
    sources_due = lambda: sources._due(now + timedelta(days=30)).filter(pk=world.source.pk).exists()  # noqa: E731
    ReportSchedule.objects.filter(pk=world.report_schedule.pk).update(active=True, next_run_at=now - timedelta(hours=1))
    # Before: each worker would take this brand's work (so the checks below are not vacuous).
    assert engine.due_targets(now).filter(pk=target.pk).exists()
    assert polling_due() and metrics_due() and sources_due()
    from tertulia.content import public_media

    media_url = public_media.public_url(world.media).split("://", 1)[1].split("/", 1)[1]
    assert client.get(f"/{media_url}").status_code == 200
    assert client.get(f"/l/{world.link.slug}", HTTP_USER_AGENT="Mozilla/5.0").status_code == 302

    services.do_delete_brand(Ctx(world.people["owner"]), world.brand)
    # Its public links go dark at once: the signed media link (Instagram, Threads) and short links.
    assert client.get(f"/{media_url}").status_code == 404
    assert client.get(f"/l/{world.link.slug}", HTTP_USER_AGENT="Mozilla/5.0").status_code == 404
    assert not engine.due_targets(now).filter(pk=target.pk).exists()
    target.refresh_from_db()
    assert engine.publish(target.pk, target.version) == "paused"
    assert engine.claim(target, now) is None
    assert not polling_due() and not metrics_due() and not sources_due()
    assert reports.run_due_schedules(now)["ran"] == 0
    assert ReportSchedule.objects.filter(pk=world.report_schedule.pk, next_run_at__lt=now).exists()
    from tertulia.giveaways.models import Contest

    Contest.objects.filter(pk=world.contest.pk).update(starts_at=now - timedelta(days=1), ends_at=now + timedelta(days=1),
                                                       drawn_at=None)
    assert giveaways.collect_running(now) == 0
    target.refresh_from_db()
    assert target.state == PostTarget.State.SCHEDULED  # it did not go out


def test_owner_deletes_by_typing_the_name_and_restores_from_deleted_brands(client, brand_a):
    brand, people = brand_a
    owner = people["owner"]
    client.force_login(owner)
    response = client.post(reverse("brand_delete", args=[brand.pk]), {"confirm_name": brand.name}, follow=True)
    assert any("can be restored" in m for m in messages_of(response))
    assert client.get(reverse("brand_settings", args=[brand.pk])).status_code == 404
    event = AuditEvent.objects.get(action="brand.delete")
    assert event.brand_id == brand.pk and event.actor == owner and "purge_at" in event.changes

    assert client.get(reverse("brand_restore", args=[brand.pk])).status_code == 405  # POST only
    page = html(client.get(reverse("deleted_brands")))
    deleted = Brand.all_objects.get(pk=brand.pk)
    assert brand.name in page and reverse("brand_restore", args=[brand.pk]) in page
    assert deleted.purge_at == deleted.deleted_at + timedelta(days=30)
    assert "Deleted brands (1)" in html(client.get(reverse("brand_list")))

    response = client.post(reverse("brand_restore", args=[brand.pk]))
    assert response.status_code == 302 and response["Location"] == reverse("brand_settings", args=[brand.pk])
    restored = Brand.objects.get(pk=brand.pk)
    assert restored.deleted_at is None and restored.publishing_paused  # overdue posts wait for a person
    assert AuditEvent.objects.filter(action="brand.restore", brand=brand).exists()
    assert client.get(reverse("brand_settings", args=[brand.pk])).status_code == 200
    # Restoring a brand that is not deleted: a message, nothing else.
    response = client.post(reverse("brand_restore", args=[brand.pk]), follow=True)
    assert "This brand is not deleted." in messages_of(response)


def test_a_workspace_admin_who_is_not_a_member_can_restore(client, brand_a, make_user):
    brand, people = brand_a
    admin = make_user("org_admin")
    OrganizationMember.objects.create(organization=brand.organization, user=admin, is_admin=True)
    services.do_delete_brand(Ctx(people["owner"]), brand)
    client.force_login(admin)
    assert brand.name in html(client.get(reverse("deleted_brands")))
    assert client.post(reverse("brand_restore", args=[brand.pk])).status_code == 302
    assert Brand.objects.filter(pk=brand.pk).exists()


@pytest.mark.parametrize("role", ["manager", "community_manager", "analyst", "client_reviewer"])
def test_other_roles_can_neither_delete_nor_restore(client, brand_a, role):
    brand, people = brand_a
    client.force_login(people[role])
    assert client.post(reverse("brand_delete", args=[brand.pk]), {"confirm_name": brand.name}).status_code == 403
    assert client.delete(f"{API}/brands/{brand.pk}", **_bearer(people[role], brand)).status_code == 403
    assert Brand.objects.filter(pk=brand.pk).exists()
    services.do_delete_brand(Ctx(people["owner"]), brand)
    assert brand.name not in html(client.get(reverse("deleted_brands")))
    assert client.post(reverse("brand_restore", args=[brand.pk])).status_code == 404
    assert Brand.all_objects.get(pk=brand.pk).deleted_at is not None


def test_another_tenant_gets_404(client, brand_a, brand_b):
    brand, people = brand_a
    other, other_people = brand_b
    services.do_delete_brand(Ctx(people["owner"]), brand)
    client.force_login(other_people["owner"])
    assert brand.name not in html(client.get(reverse("deleted_brands")))
    assert client.post(reverse("brand_restore", args=[brand.pk])).status_code == 404
    headers = _bearer(other_people["owner"], other)
    assert client.post(f"{API}/deleted-brands/{brand.pk}/restore", **headers).status_code == 404
    assert client.get(f"{API}/deleted-brands", **headers).json()["items"] == []
    # And B's owner cannot delete A's brand (nor see that it exists).
    brand_lifecycle.do_restore_brand(Ctx(people["owner"]), brand)
    assert client.delete(f"{API}/brands/{brand.pk}", **headers).status_code == 404


def test_api_delete_list_and_restore(client, brand_a):
    brand, people = brand_a
    headers = _bearer(people["owner"], brand)
    read_only = _bearer(people["owner"], brand, scope="read")
    assert client.delete(f"{API}/brands/{brand.pk}", **read_only).status_code == 403
    assert client.delete(f"{API}/brands/{brand.pk}", **headers).status_code == 204
    assert client.get(f"{API}/brands/{brand.pk}", **headers).status_code == 404
    listed = client.get(f"{API}/deleted-brands", **headers).json()["items"]
    assert [(b["id"], b["name"]) for b in listed] == [(brand.pk, brand.name)] and listed[0]["purge_at"]
    assert client.delete(f"{API}/brands/{brand.pk}", **headers).status_code == 404  # already gone
    # Its name stays taken until the purge: a clear 422, not the database's unique constraint.
    for method, url, body in (("post", f"{API}/brands", {"organization_id": brand.organization_id, "name": brand.name}),):
        taken = getattr(client, method)(url, body, content_type="application/json", **headers)
        assert taken.status_code == 422 and "deleted brand" in taken.json()["errors"]["name"][0], taken.content
    assert client.post(f"{API}/deleted-brands/{brand.pk}/restore", **read_only).status_code == 403  # a read token
    response = client.post(f"{API}/deleted-brands/{brand.pk}/restore", **headers)
    assert response.status_code == 200 and response.json()["id"] == brand.pk
    assert client.get(f"{API}/brands/{brand.pk}", **headers).status_code == 200
    assert client.post(f"{API}/deleted-brands/{brand.pk}/restore", **headers).status_code == 422
    assert client.post(f"{API}/deleted-brands/abc/restore", **headers).status_code in (404, 422)


def test_purge_after_the_grace_period_removes_rows_and_files(world, settings):
    from tertulia.content.models import MediaAsset, Post

    brand, owner = world.brand, world.people["owner"]
    files = brand_lifecycle.brand_files(brand)
    assert files and all(default_storage.exists(n) for n in files)
    posts = list(Post.objects.filter(brand=brand).values_list("pk", flat=True))
    services.do_delete_brand(Ctx(owner), brand)
    assert brand_lifecycle.purge_expired() == 0  # still in its grace period
    assert brand_lifecycle.purge_expired(timezone.now() + timedelta(days=29)) == 0
    Brand.all_objects.filter(pk=brand.pk).update(deleted_at=timezone.now() - timedelta(days=31))
    # Too late to restore.
    with pytest.raises(Exception):
        brand_lifecycle.do_restore_brand(Ctx(owner), Brand.all_objects.get(pk=brand.pk))
    assert brand_lifecycle.purge_expired() == 1
    assert not Brand.all_objects.filter(pk=brand.pk).exists()
    assert not Post.objects.filter(pk__in=posts).exists() and not MediaAsset.objects.filter(brand_id=brand.pk).exists()
    assert not any(default_storage.exists(n) for n in files)
    event = AuditEvent.objects.get(action="brand.purge")
    assert event.organization_id == brand.organization_id and event.brand_id is None
    assert event.brand_name == brand.name and event.via == "system"
    assert Organization.objects.filter(pk=brand.organization_id).exists()


def test_deleted_brands_page_escapes_names(client, tenant):
    brand, people = tenant("Gamma")
    services.do_update_brand(Ctx(people["owner"]), brand, name=f"Gamma {XSS}"[:120])
    services.do_delete_brand(Ctx(people["owner"]), brand)
    client.force_login(people["owner"])
    assert_escaped(html(client.get(reverse("deleted_brands"))))


def test_delete_permission_follows_the_role_table():
    assert roles.roles_with(roles.DELETE_BRAND) == ["owner"]
