"""The reports API: archive (list, read, generate, PDF, share links, delete) and schedules
(CRUD) under /api/v1/brands/{brand_id}/… — roles, tokens, hostile input, other brands."""

from __future__ import annotations

import json

import pytest

from tertulia.core import services as core_services
from tertulia.core.models import AuditEvent
from tertulia.core.services import Ctx
from tertulia.core.tests.web_helpers import XSS
from tertulia.reports import services
from tertulia.reports.models import Report, ReportSchedule

from .test_web import _report

pytestmark = pytest.mark.django_db

API = "/api/v1"


def bearer(raw):
    return {"HTTP_AUTHORIZATION": f"Bearer {raw}"}


def send(client, method, url, data=None, **headers):
    body = json.dumps(data) if data is not None else ""
    return getattr(client, method)(API + url, body, content_type="application/json", **headers)


@pytest.fixture
def world(brand_a, brand_b, settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path)
    brand, people = brand_a
    other, other_people = brand_b
    return {
        "brand": brand, "people": people, "other": other, "report": _report(brand),
        "their_report": _report(other, title="Beta secret report"),
        "their_schedule": services.do_save_schedule(Ctx(other_people["owner"]), other, kind="weekly", weekday=0,
                                                    recipients=["beta@example.com"]),
        "tokens": {key: core_services.do_create_token(Ctx(user), f"{key} token", {brand.pk: "write"})[1]
                   for key, user in people.items()},
        "read_token": core_services.do_create_token(Ctx(people["owner"]), "read", {brand.pk: "read"})[1],
    }


def test_list_and_read_reports(client, world):
    brand = world["brand"]
    auth = bearer(world["tokens"]["client_reviewer"])  # client reviewers read reports
    listing = send(client, "get", f"/brands/{brand.pk}/reports", **auth)
    assert listing.status_code == 200
    items = listing.json()["items"]
    assert [r["id"] for r in items] == [world["report"].pk] and "data" not in items[0]
    assert items[0]["share_active"] is False and items[0]["scheduled"] is False
    one = send(client, "get", f"/brands/{brand.pk}/reports/{world['report'].pk}", **auth).json()
    assert one["data"]["sections"][0]["blocks"][0]["items"] == [f"Frase {XSS}"]  # JSON: data, not markup
    assert send(client, "get", f"/brands/{brand.pk}/reports?kind=monthly", **auth).json()["items"] == []
    pdf = send(client, "get", f"/brands/{brand.pk}/reports/{world['report'].pk}/pdf", **auth)
    assert pdf.status_code == 200 and pdf["Content-Type"] == "application/pdf"
    assert pdf.content.startswith(b"%PDF-")


def test_generate_share_revoke_and_delete(client, world):
    brand = world["brand"]
    auth = bearer(world["tokens"]["manager"])
    created = send(client, "post", f"/brands/{brand.pk}/reports", {"kind": "weekly", "period_end": "2026-03-29"},
                   **auth)
    assert created.status_code == 201
    body = created.json()
    assert body["has_pdf"] is True and body["period_start"] == "2026-03-23" and body["language"] == "es"
    assert AuditEvent.objects.filter(brand=brand, action="report.generate", via="api").exists()
    share = send(client, "post", f"/brands/{brand.pk}/reports/{body['id']}/share", {"days": 3}, **auth)
    assert share.status_code == 200
    url = share.json()["url"]
    assert "/r/" in url and share.json()["expires_at"]
    client.logout()
    assert client.get(url.split("testserver", 1)[1]).status_code == 200
    revoked = send(client, "post", f"/brands/{brand.pk}/reports/{body['id']}/share/revoke", **auth)
    assert revoked.status_code == 200 and revoked.json()["share_active"] is False
    assert client.get(url.split("testserver", 1)[1]).status_code == 404
    assert send(client, "delete", f"/brands/{brand.pk}/reports/{body['id']}", **auth).status_code == 204
    assert not Report.objects.filter(pk=body["id"]).exists()


@pytest.mark.parametrize("payload", [
    {"kind": "daily"},
    {"kind": XSS, "period_end": "2026-03-29"},
    {"kind": "weekly", "period_end": "2026-02-30"},
    {"kind": "weekly", "period_end": "9999-12-31"},
    {"kind": "weekly", "period_end": "2026-03-29", "brand_id": 1},
    {"kind": "w" * 5000},
    {},
])
def test_hostile_generate(client, world, payload):
    auth = bearer(world["tokens"]["owner"])
    response = send(client, "post", f"/brands/{world['brand'].pk}/reports", payload, **auth)
    assert response.status_code == 422 and XSS not in response.content.decode()
    assert Report.objects.filter(brand=world["brand"]).count() == 1


@pytest.mark.parametrize("days", [-1, 366, "x", None])
def test_hostile_share(client, world, days):
    auth = bearer(world["tokens"]["owner"])
    response = send(client, "post", f"/brands/{world['brand'].pk}/reports/{world['report'].pk}/share", {"days": days},
                    **auth)
    assert response.status_code == 422
    world["report"].refresh_from_db()
    assert world["report"].share_token_hash is None


@pytest.mark.parametrize("role", ["community_manager", "analyst", "client_reviewer"])
def test_writes_need_a_manager(client, world, role):
    brand, report = world["brand"], world["report"]
    auth = bearer(world["tokens"][role])
    assert send(client, "post", f"/brands/{brand.pk}/reports", {"kind": "weekly"}, **auth).status_code == 403
    assert send(client, "post", f"/brands/{brand.pk}/reports/{report.pk}/share", {}, **auth).status_code == 403
    assert send(client, "delete", f"/brands/{brand.pk}/reports/{report.pk}", **auth).status_code == 403
    assert send(client, "post", f"/brands/{brand.pk}/report-schedules",
                {"kind": "weekly", "recipients": ["a@example.com"]}, **auth).status_code == 403


def test_read_only_token_cannot_write(client, world):
    auth = bearer(world["read_token"])
    brand = world["brand"]
    assert send(client, "get", f"/brands/{brand.pk}/reports", **auth).status_code == 200
    assert send(client, "post", f"/brands/{brand.pk}/reports/{world['report'].pk}/share", {}, **auth).status_code == 403


def test_other_brands_are_404(client, world):
    auth = bearer(world["tokens"]["owner"])
    brand, other = world["brand"], world["other"]
    their, sched = world["their_report"], world["their_schedule"]
    for method, url in [
        ("get", f"/brands/{other.pk}/reports"), ("get", f"/brands/{brand.pk}/reports/{their.pk}"),
        ("get", f"/brands/{brand.pk}/reports/{their.pk}/pdf"), ("post", f"/brands/{brand.pk}/reports/{their.pk}/share"),
        ("delete", f"/brands/{brand.pk}/reports/{their.pk}"),
        ("get", f"/brands/{brand.pk}/report-schedules/{sched.pk}"),
        ("patch", f"/brands/{brand.pk}/report-schedules/{sched.pk}"),
        ("delete", f"/brands/{brand.pk}/report-schedules/{sched.pk}"),
    ]:
        response = send(client, method, url, {} if method in ("post", "patch") else None, **auth)
        assert response.status_code == 404, (method, url, response.status_code)
        assert b"Beta secret" not in response.content and b"beta@example.com" not in response.content
    assert Report.objects.filter(pk=their.pk).exists() and ReportSchedule.objects.filter(pk=sched.pk).exists()


def test_schedule_crud(client, world):
    brand = world["brand"]
    auth = bearer(world["tokens"]["owner"])
    created = send(client, "post", f"/brands/{brand.pk}/report-schedules",
                   {"kind": "weekly", "weekday": 2, "recipients": ["jefa@example.com", "JEFA@example.com"]}, **auth)
    assert created.status_code == 201
    body = created.json()
    assert body["recipients"] == ["jefa@example.com"] and body["weekday"] == 2 and body["last_error"] == ""
    url = f"/brands/{brand.pk}/report-schedules/{body['id']}"
    patched = send(client, "patch", url, {"kind": "quarterly", "active": False}, **auth)
    assert patched.status_code == 200 and patched.json()["kind"] == "quarterly"
    assert patched.json()["next_run_at"] != body["next_run_at"]
    assert send(client, "patch", url, {"recipients": None}, **auth).status_code == 422
    listing = send(client, "get", f"/brands/{brand.pk}/report-schedules", **auth).json()["items"]
    assert [s["id"] for s in listing] == [body["id"]]
    assert send(client, "delete", url, **auth).status_code == 204
    assert not ReportSchedule.objects.filter(brand=brand).exists()


@pytest.mark.parametrize("payload", [
    {"kind": "weekly", "recipients": []},
    {"kind": "weekly", "recipients": ["no-email"]},
    {"kind": "weekly", "recipients": [f"p{i}@example.com" for i in range(51)]},
    {"kind": "weekly", "recipients": [f"{XSS}@example.com"]},
    {"kind": "weekly", "weekday": 7, "recipients": ["a@example.com"]},
    {"kind": "hourly", "recipients": ["a@example.com"]},
    {"kind": "weekly", "recipients": ["a@example.com"], "next_run_at": "2020-01-01T00:00:00Z"},
])
def test_hostile_schedules(client, world, payload):
    auth = bearer(world["tokens"]["owner"])
    response = send(client, "post", f"/brands/{world['brand'].pk}/report-schedules", payload, **auth)
    assert response.status_code == 422 and XSS not in response.content.decode()
    assert not ReportSchedule.objects.filter(brand=world["brand"]).exists()


def test_schedules_and_their_recipients_are_not_shown_to_client_reviewers(client, world):
    brand = world["brand"]
    schedule = services.do_save_schedule(Ctx(world["people"]["owner"]), brand, kind="weekly", weekday=0,
                                         recipients=["jefa@example.com"])
    reviewer = bearer(world["tokens"]["client_reviewer"])
    assert send(client, "get", f"/brands/{brand.pk}/report-schedules", **reviewer).status_code == 403
    assert send(client, "get", f"/brands/{brand.pk}/report-schedules/{schedule.pk}", **reviewer).status_code == 403
    analyst = bearer(world["tokens"]["analyst"])
    listing = send(client, "get", f"/brands/{brand.pk}/report-schedules", **analyst)
    assert listing.status_code == 200 and listing.json()["items"][0]["recipients"] == ["jefa@example.com"]
    # On the pages too: no "Schedules" tab, and the page refuses.
    client.force_login(world["people"]["client_reviewer"])
    from django.urls import reverse

    assert client.get(reverse("report_schedules", args=[brand.pk])).status_code == 403
    archive = client.get(reverse("section_reports", args=[brand.pk])).content.decode()
    assert reverse("report_schedules", args=[brand.pk]) not in archive and "jefa@example.com" not in archive
