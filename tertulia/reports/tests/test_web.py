"""The report pages: archive, generate, one report (HTML, PDF), share links and the public
page, schedules, and the brand's report branding in its settings; roles and hostile input."""

from __future__ import annotations

import hashlib
import io
import os
from datetime import date, timedelta

import pytest
from django.urls import reverse
from django.utils import timezone
from PIL import Image

from tertulia.core.models import AuditEvent
from tertulia.core.tests.web_helpers import XSS, XSS_ESCAPED, html
from tertulia.reports.blocks import Paragraphs, ReportData, Section, Table
from tertulia.reports.models import Report, ReportSchedule

pytestmark = pytest.mark.django_db


def _report(brand, *, title=f"Informe {XSS}", **kw) -> Report:
    data = ReportData(kind="weekly", brand_id=brand.pk, language="es", title=title, period_start=date(2026, 3, 23),
                      period_end=date(2026, 3, 29), sections=[Section(id="summary", title="Resumen", blocks=[
                          Paragraphs(items=[f"Frase {XSS}"]),
                          Table(columns=["Post", "Alcance"], rows=[[f"texto {XSS}", 1234]], numeric=[False, True])])])
    return Report.objects.create(brand=brand, kind="weekly", title=title, period_start=data.period_start,
                                 period_end=data.period_end, language="es", data=data.to_json(), **kw)


def _login(client, people, role):
    client.force_login(people[role])


# --- Archive and generating ------------------------------------------------------------------

def test_generate_now_archives_the_report_and_its_pdf(client, brand_a, settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path)
    brand, people = brand_a
    _login(client, people, "manager")
    page = client.get(reverse("section_reports", args=[brand.pk]))
    assert page.status_code == 200 and 'name="period_end"' in html(page)
    response = client.post(reverse("report_generate", args=[brand.pk]), {"kind": "weekly", "period_end": "2026-03-29"})
    report = Report.objects.get(brand=brand)
    assert response.status_code == 302 and response["Location"] == reverse("report_detail", args=[brand.pk, report.pk])
    assert report.created_by == people["manager"] and report.pdf and report.period_start == date(2026, 3, 23)
    assert AuditEvent.objects.filter(brand=brand, action="report.generate").exists()
    # Client reviewers read reports and download them; they do not generate them.
    _login(client, people, "client_reviewer")
    detail = client.get(reverse("report_detail", args=[brand.pk, report.pk]))
    body = html(detail)
    assert detail.status_code == 200 and "La semana en cifras" in body and "Download PDF" in body
    assert "Create share link" not in body and "Generate now" not in html(
        client.get(reverse("section_reports", args=[brand.pk])))
    pdf = client.get(reverse("report_pdf", args=[brand.pk, report.pk]))
    assert pdf.status_code == 200 and pdf["Content-Type"] == "application/pdf"
    assert b"".join(pdf.streaming_content).startswith(b"%PDF-")
    assert "attachment" in pdf["Content-Disposition"]
    assert client.post(reverse("report_generate", args=[brand.pk]),
                       {"kind": "weekly", "period_end": "2026-03-29"}).status_code == 403
    assert Report.objects.filter(brand=brand).count() == 1


@pytest.mark.parametrize("data", [
    {"kind": "weekly", "period_end": "2026-13-45"},
    {"kind": "weekly", "period_end": ""},
    {"kind": "weekly", "period_end": "9999-12-31"},
    {"kind": "weekly", "period_end": "1900-01-01"},
    {"kind": XSS, "period_end": "2026-03-29"},
    {"kind": "weekly", "period_end": "2" * 5000},
])
def test_hostile_generate_input_is_a_form_error(client, brand_a, data):
    brand, people = brand_a
    _login(client, people, "owner")
    response = client.post(reverse("report_generate", args=[brand.pk]), data)
    assert response.status_code == 200 and 'role="alert"' in html(response)
    assert XSS not in html(response)
    assert not Report.objects.filter(brand=brand).exists()


def test_future_period_is_refused(client, brand_a):
    brand, people = brand_a
    _login(client, people, "owner")
    future = (timezone.now() + timedelta(days=5)).date().isoformat()
    response = client.post(reverse("report_generate", args=[brand.pk]), {"kind": "weekly", "period_end": future})
    assert response.status_code == 200 and not Report.objects.filter(brand=brand).exists()


def test_archive_filters_pages_and_escapes(client, brand_a):
    brand, people = brand_a
    for i in range(23):
        _report(brand, title=f"Semana {i} {XSS}")
    monthly = _report(brand, title="Mensual")
    Report.objects.filter(pk=monthly.pk).update(kind="monthly")
    _login(client, people, "analyst")
    url = reverse("section_reports", args=[brand.pk])
    first = html(client.get(url))
    assert first.count("/reports/") >= 20 and XSS not in first and XSS_ESCAPED in first
    assert 'rel="next"' in first
    assert "Mensual" in html(client.get(url, {"kind": "monthly"}))
    assert "Mensual" not in html(client.get(url, {"kind": "weekly"}))
    assert client.get(url, {"kind": XSS, "page": "-1"}).status_code == 200  # hostile filters are ignored


# --- Share links and the public page --------------------------------------------------------------

def test_share_link_is_shown_once_hashed_and_revocable(client, brand_a):
    brand, people = brand_a
    report = _report(brand)
    _login(client, people, "manager")
    response = client.post(reverse("report_share", args=[brand.pk, report.pk]), {"days": "7"})
    body = html(response)
    assert response.status_code == 200
    raw = body.split("/r/")[1].split("/")[0]
    report.refresh_from_db()
    assert report.share_token_hash == hashlib.sha256(raw.encode()).hexdigest() and raw not in str(report.__dict__)
    assert report.share_expires_at - timezone.now() > timedelta(days=6)
    # The public page: the report only, read-only, escaped, not indexed.
    client.logout()
    public = client.get(f"/r/{raw}/")
    page = html(public)
    assert public.status_code == 200 and "Frase" in page and XSS not in page and XSS_ESCAPED in page
    assert public["X-Robots-Tag"].startswith("noindex") and 'name="robots" content="noindex' in page
    assert "Sign out" not in page and "<form" not in page and 'lang="es"' in page
    assert client.post(f"/r/{raw}/").status_code == 405
    # A wrong token, the stored hash, and a revoked link are one and the same 404 page.
    assert client.get(f"/r/{raw}x/").status_code == 404
    assert client.get(f"/r/{report.share_token_hash}/").status_code == 404
    client.force_login(people["manager"])
    client.post(reverse("report_share_revoke", args=[brand.pk, report.pk]))
    client.logout()
    gone = client.get(f"/r/{raw}/")
    assert gone.status_code == 404 and "Informe" not in html(gone) and gone["X-Robots-Tag"].startswith("noindex")
    assert AuditEvent.objects.filter(brand=brand, action__in=["report.share", "report.share_revoke"]).count() == 2


def test_expired_link_is_gone_and_a_new_link_replaces_the_old(client, brand_a):
    brand, people = brand_a
    report = _report(brand)
    _login(client, people, "owner")
    first = html(client.post(reverse("report_share", args=[brand.pk, report.pk]), {"days": "0"})).split("/r/")[1]
    first = first.split("/")[0]
    report.refresh_from_db()
    assert report.share_expires_at is None  # 0: no expiry
    second = html(client.post(reverse("report_share", args=[brand.pk, report.pk]), {"days": "1"}))
    second = second.split("/r/")[1].split("/")[0]
    client.logout()
    assert client.get(f"/r/{first}/").status_code == 404 and client.get(f"/r/{second}/").status_code == 200
    Report.objects.filter(pk=report.pk).update(share_expires_at=timezone.now() - timedelta(seconds=1))
    assert client.get(f"/r/{second}/").status_code == 404


@pytest.mark.parametrize("days", ["-1", "366", "abc", "9" * 400, ""])
def test_hostile_share_days(client, brand_a, days):
    brand, people = brand_a
    report = _report(brand)
    _login(client, people, "owner")
    response = client.post(reverse("report_share", args=[brand.pk, report.pk]), {"days": days})
    assert response.status_code == 200 and "/r/" not in html(response)
    report.refresh_from_db()
    assert report.share_token_hash is None


@pytest.mark.parametrize("role", ["community_manager", "analyst", "client_reviewer"])
def test_only_managers_share_and_delete(client, brand_a, role):
    brand, people = brand_a
    report = _report(brand)
    _login(client, people, role)
    assert client.post(reverse("report_share", args=[brand.pk, report.pk]), {"days": "7"}).status_code == 403
    assert client.post(reverse("report_delete", args=[brand.pk, report.pk])).status_code == 403
    assert Report.objects.filter(pk=report.pk, share_token_hash__isnull=True).exists()


def test_delete_report(client, brand_a):
    brand, people = brand_a
    report = _report(brand)
    _login(client, people, "manager")
    assert client.post(reverse("report_delete", args=[brand.pk, report.pk])).status_code == 302
    assert not Report.objects.filter(pk=report.pk).exists()


# --- Schedules -----------------------------------------------------------------------------------

def test_schedule_crud_and_errors_shown(client, brand_a):
    brand, people = brand_a
    _login(client, people, "manager")
    response = client.post(reverse("report_schedule_new", args=[brand.pk]),
                           {"kind": "weekly", "weekday": "4", "recipients": "jefa@example.com\notro@example.com",
                            "active": "on"})
    assert response.status_code == 302
    schedule = ReportSchedule.objects.get(brand=brand)
    assert schedule.recipients == ["jefa@example.com", "otro@example.com"] and schedule.weekday == 4
    ReportSchedule.objects.filter(pk=schedule.pk).update(
        last_error=[{"msgid": "The e-mail could not be sent: %(error)s", "params": {"error": f"SMTP {XSS}"}}])
    _login(client, people, "analyst")
    listing = html(client.get(reverse("report_schedules", args=[brand.pk])))
    assert "jefa@example.com" in listing and "The e-mail could not be sent: SMTP" in listing
    assert XSS not in listing and XSS_ESCAPED in listing
    assert reverse("report_schedule_edit", args=[brand.pk, schedule.pk]) not in listing  # analysts only read
    assert client.get(reverse("report_schedule_edit", args=[brand.pk, schedule.pk])).status_code == 403
    _login(client, people, "owner")
    edit = client.post(reverse("report_schedule_edit", args=[brand.pk, schedule.pk]),
                       {"kind": "monthly", "weekday": "0", "recipients": "jefa@example.com"})
    assert edit.status_code == 302
    schedule.refresh_from_db()
    assert schedule.kind == "monthly" and not schedule.active
    assert client.post(reverse("report_schedule_delete", args=[brand.pk, schedule.pk])).status_code == 302
    assert not ReportSchedule.objects.filter(brand=brand).exists()


@pytest.mark.parametrize("data", [
    {"kind": "weekly", "weekday": "0", "recipients": ""},
    {"kind": "weekly", "weekday": "0", "recipients": f"{XSS}@example.com"},
    {"kind": "weekly", "weekday": "0", "recipients": ",".join(f"p{i}@example.com" for i in range(51))},
    {"kind": "weekly", "weekday": "0", "recipients": "a@example.com" + "x" * 20000},
    {"kind": "weekly", "weekday": "9", "recipients": "a@example.com"},
    {"kind": "hourly", "weekday": "0", "recipients": "a@example.com"},
])
def test_hostile_schedules_are_form_errors(client, brand_a, data):
    brand, people = brand_a
    _login(client, people, "owner")
    response = client.post(reverse("report_schedule_new", args=[brand.pk]), data)
    assert response.status_code == 200 and 'role="alert"' in html(response)
    assert XSS not in html(response)
    assert not ReportSchedule.objects.filter(brand=brand).exists()


# --- Branding in the brand's settings -------------------------------------------------------------

def _image(fmt="PNG", size=(1800, 300), color=(10, 120, 200)) -> io.BytesIO:
    out = io.BytesIO()
    Image.new("RGB", size, color).save(out, format=fmt)
    out.seek(0)
    out.name = f"logo.{fmt.lower()}"
    return out


def _settings_post(client, brand, **extra):
    data = {"name": brand.name, "timezone": brand.timezone, "language": brand.language, "tone": "",
            "banned_words": "", "required_hashtags": "", "signature": ""}
    data.update(extra)
    return client.post(reverse("brand_settings", args=[brand.pk]), data)


def test_logo_and_colours_are_saved_and_used(client, brand_a, settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path)
    brand, people = brand_a
    _login(client, people, "manager")
    response = _settings_post(client, brand, primary_color="#C01F6E", accent_color="#1f6ec0",
                              logo_upload=_image())
    assert response.status_code == 302
    brand.refresh_from_db()
    assert (brand.primary_color, brand.accent_color) == ("#c01f6e", "#1f6ec0")
    with brand.logo.open("rb") as fh:
        stored = Image.open(io.BytesIO(fh.read()))
    assert stored.format == "PNG" and stored.size == (600, 100)  # fits 600×200, aspect kept
    page = html(client.get(reverse("brand_settings", args=[brand.pk])))
    assert 'src="data:image/png;base64,' in page
    report = html(client.get(reverse("report_detail", args=[brand.pk, _report(brand).pk])))
    assert 'fill="#c01f6e"' in report and 'src="data:image/png;base64,' in report
    # Removing it.
    _settings_post(client, brand, remove_logo="on")
    brand.refresh_from_db()
    assert not brand.logo


@pytest.mark.parametrize("name,content", [
    ("logo.svg", b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'),
    ("logo.png", b"<script>alert(1)</script>"),
    ("logo.png", b"\x89PNG\r\n\x1a\n" + b"\x00" * 100),
    ("logo.gif", None),
    ("logo.png", b""),
])
def test_hostile_logos_are_refused(client, brand_a, settings, tmp_path, name, content):
    settings.MEDIA_ROOT = str(tmp_path)
    brand, people = brand_a
    _login(client, people, "owner")
    if content is None:
        upload = _image("GIF")
    else:
        upload = io.BytesIO(content)
        upload.name = name
    response = _settings_post(client, brand, logo_upload=upload, name="Renamed")
    assert response.status_code == 200 and 'role="alert"' in html(response)
    brand.refresh_from_db()
    assert not brand.logo and brand.name == "Alpha Brand"  # nothing saved


def test_oversized_logo_is_refused(client, brand_a, settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path)
    brand, people = brand_a
    _login(client, people, "owner")
    big = io.BytesIO()
    Image.frombytes("RGB", (1000, 800), os.urandom(1000 * 800 * 3)).save(big, format="PNG")  # noise: ~2.3 MB
    assert big.tell() > 2 * 1024 * 1024
    big.seek(0)
    big.name = "big.png"
    response = _settings_post(client, brand, logo_upload=big)
    assert response.status_code == 200 and "2 MB" in html(response)


@pytest.mark.parametrize("colour", ["red", "#12345g", "#1234567", XSS, "#fff"])
def test_hostile_colours_are_refused(client, brand_a, colour):
    brand, people = brand_a
    _login(client, people, "owner")
    response = _settings_post(client, brand, primary_color=colour)
    assert response.status_code == 200 and XSS not in html(response)
    brand.refresh_from_db()
    assert brand.primary_color == "#1f3a5f"


def test_only_brand_managers_change_branding(client, brand_a, settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path)
    brand, people = brand_a
    _login(client, people, "analyst")
    assert _settings_post(client, brand, primary_color="#000000", logo_upload=_image()).status_code == 403
    brand.refresh_from_db()
    assert brand.primary_color == "#1f3a5f" and not brand.logo
