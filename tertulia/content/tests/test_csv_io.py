"""CSV export (injection escaping, BOM, brand-local times) and import (row-level errors,
good rows kept, delimiters, encodings, limits), and the export→import round trip."""

from __future__ import annotations

import csv
import io
from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse
from django.utils import timezone, translation

from tertulia.content import csv_io
from tertulia.content.models import Post
from tertulia.core.services import Ctx
from tertulia.core.tests.web_helpers import ALL_ROLES, XSS, assert_escaped, html
from tertulia.networks.services import do_add_account

from .test_calendar_kit import build, future, post

pytestmark = pytest.mark.django_db
MADRID = ZoneInfo("Europe/Madrid")
HEADER = "date,time,accounts,text,pillar,format,campaign\r\n"


@pytest.fixture(autouse=True)
def _english():
    with translation.override("en"):
        yield


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def rows_of(content: bytes) -> list[list[str]]:
    assert content.startswith(b"\xef\xbb\xbf")
    return list(csv.reader(io.StringIO(content[3:].decode("utf-8"), newline="")))


def upload(text: str, encoding: str = "utf-8", name: str = "posts.csv"):
    return SimpleUploadedFile(name, text.encode(encoding), content_type="text/csv")


def day(days: int = 10) -> str:
    return (timezone.now().astimezone(MADRID).date() + timedelta(days=days)).isoformat()


# --- Export -----------------------------------------------------------------------------------

@pytest.mark.parametrize("value,expected", [
    ("=cmd|' /C calc'!A0", "'=cmd|' /C calc'!A0"), ("+1+1", "'+1+1"), ("-2+3", "'-2+3"), ("@SUM(A1)", "'@SUM(A1)"),
    ("\tTAB", "'\tTAB"), ("\rCR", "'\rCR"), ("Hola = adiós", "Hola = adiós"), ("", ""), ("'=x", "''=x"),
    ("'hola", "'hola"),
])
def test_cells_that_a_spreadsheet_would_run_are_escaped(value, expected):
    assert csv_io.escape_cell(value) == expected
    assert csv_io.unescape_cell(csv_io.escape_cell(value)) == value


def test_export_has_every_column_in_brand_local_time_and_escapes_formulas(brand_a):
    c = build(brand_a)
    when = future(5, hour=16, minute=5)
    p = post(c, '=HYPERLINK("http://evil.example","clic")', when=when, accounts=[c.mastodon, c.bluesky],
             pillar=c.pillar, campaign=c.campaign, fmt="image")
    response = client_for(c.people["analyst"]).get(reverse("calendar_export", args=[c.brand.pk]),
                                                   {"view": "list", "date": when.date().isoformat()})
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    assert "attachment" in response["Content-Disposition"]
    header, *rows = rows_of(response.content)
    assert header == list(csv_io.COLUMNS)
    (row,) = [r for r in rows if r[-1] == str(p.pk)]
    local = when.astimezone(MADRID)
    assert row[:3] == [local.date().isoformat(), local.strftime("%H:%M"), "Europe/Madrid"]
    assert row[3] == "bluesky:alpha.example|mastodon:@alpha@masto.es" or row[3] == "mastodon:@alpha@masto.es|bluesky:alpha.example"
    assert row[4] == "'" + p.text and row[5:9] == ["Educar", "image", "Primavera", "draft"]
    assert not any(cell.startswith(("=", "+", "-", "@", "\t", "\r")) for r in rows for cell in r)


def test_export_keeps_the_filters_and_the_brand(brand_a, brand_b):
    c = build(brand_a)
    when = future(3)
    a = post(c, "Mastodon", when=when)
    b = post(c, "Bluesky", when=when, accounts=[c.bluesky])
    response = client_for(c.people["owner"]).get(reverse("calendar_export", args=[c.brand.pk]),
                                                 {"network": "bluesky", "date": when.date().isoformat()})
    ids = {r[-1] for r in rows_of(response.content)[1:]}
    assert ids == {str(b.pk)} and str(a.pk) not in ids
    _b, b_people = brand_b
    assert client_for(b_people["owner"]).get(reverse("calendar_export", args=[c.brand.pk])).status_code == 404


# --- Import ------------------------------------------------------------------------------------

def test_good_rows_are_kept_and_bad_rows_reported_by_line(brand_a, brand_b):
    c = build(brand_a)
    b_brand, b_people = brand_b
    do_add_account(Ctx(b_people["owner"]), b_brand, network="x", handle="beta")
    text = HEADER + "\r\n".join([
        f"{day()},10:00,mastodon:@alpha@masto.es,Buena 1,Educar,image,Primavera",  # line 2: ok
        f"{day()},25:00,mastodon:@alpha@masto.es,Hora mala,,,",  # 3
        f"{day()},10:00,x:beta,Cuenta de otra marca,,,",  # 4
        "2001-01-01,10:00,mastodon:@alpha@masto.es,Pasado,,,",  # 5
        f"{day()},10:00,mastodon:@alpha@masto.es,Pilar raro,Inventado,,",  # 6
        f"{day()},10:00,mastodon:@alpha@masto.es,,,,",  # 7: empty text
        f"{day()},10:00,mastodon:@alpha@masto.es,Formato raro,,hologram,",  # 8
        f"{day(11)},09:30,bluesky:alpha.example|mastodon:alpha@masto.es,\"Buena 2, con coma\",,,",  # 9: ok
        "32/01/2030,10:00,mastodon:@alpha@masto.es,Fecha mala,,,",  # 10
    ]) + "\r\n"
    result = csv_io.do_import_posts(Ctx(c.people["community_manager"]), c.brand, io.BytesIO(text.encode()))
    assert [p.text for p in result.created] == ["Buena 1", "Buena 2, con coma"]
    assert [e.line for e in result.errors] == [3, 4, 5, 6, 7, 8, 10]
    messages = {e.line: e.message for e in result.errors}
    assert "time" in messages[3] and "x:beta" in messages[4] and "past" in messages[5]
    assert "Inventado" in messages[6] and "empty" in messages[7] and "hologram" in messages[8]
    first, second = result.created
    assert (first.pillar, first.format, first.campaign, first.state) == (c.pillar, "image", c.campaign, "draft")
    assert first.scheduled_at.astimezone(MADRID).strftime("%Y-%m-%d %H:%M") == f"{day()} 10:00"
    assert {t.account for t in second.targets.all()} == {c.mastodon, c.bluesky}
    assert Post.objects.filter(brand=c.brand).count() == 2


def test_spanish_excel_semicolons_windows_1252_and_day_first_dates(brand_a):
    c = build(brand_a)
    d = timezone.now().astimezone(MADRID).date() + timedelta(days=20)
    text = ("Fecha;Hora;Cuentas;Texto;Pilar;Formato;Campaña\r\n"
            f"{d:%d/%m/%Y};08:15;mastodon:@alpha@masto.es;Año nuevo, vida nueva: ¡ñandú!;educar;Image;primavera\r\n")
    result = csv_io.do_import_posts(c.owner, c.brand, io.BytesIO(text.encode("cp1252")), submit=True)
    assert not result.errors and not result.problem
    (p,) = result.created
    assert p.text == "Año nuevo, vida nueva: ¡ñandú!" and p.state == Post.State.PENDING_APPROVAL
    assert p.pillar == c.pillar and p.campaign == c.campaign and p.format == "image"
    assert p.scheduled_at.astimezone(MADRID).strftime("%d/%m/%Y %H:%M") == f"{d:%d/%m/%Y} 08:15"


def test_submitting_from_csv_goes_through_approvals_and_keeps_invalid_rows_as_drafts(brand_a):
    """The same submission as the composer's: checked per network, approvers notified; a row
    too long for its network stays a draft and is reported, and nothing is lost."""
    from tertulia.core.models import Notification

    c = build(brand_a)
    d = timezone.now().astimezone(MADRID).date() + timedelta(days=20)
    long_text = "palabra " * 60  # 480 characters: fine for Mastodon (500), not for Bluesky (300)
    text = ("date,time,accounts,text\r\n"
            f"{d:%Y-%m-%d},09:00,mastodon:@alpha@masto.es,Corto y bien\r\n"
            f"{d:%Y-%m-%d},10:00,bluesky:alpha.example,{long_text.strip()}\r\n")
    result = csv_io.do_import_posts(c.owner, c.brand, io.BytesIO(text.encode()), submit=True)
    good, kept = result.created
    assert good.state == Post.State.PENDING_APPROVAL
    assert kept.state == Post.State.DRAFT and kept.text == long_text.strip()
    ((line, message),) = [(e.line, e.message) for e in result.errors]
    assert line == 3 and "draft" in message and "300" in message
    assert Notification.objects.filter(kind__startswith="post.", brand=c.brand).exists()


def test_an_optional_time_zone_column(brand_a):
    c = build(brand_a)
    text = ("date,time,time_zone,accounts,text\r\n"
            f"{day()},09:00,America/New_York,mastodon:@alpha@masto.es,NY\r\n"
            f"{day()},09:00,Mars/Olympus,mastodon:@alpha@masto.es,Marte\r\n")
    result = csv_io.do_import_posts(c.owner, c.brand, io.BytesIO(text.encode()))
    (p,) = result.created
    assert p.scheduled_at.astimezone(ZoneInfo("America/New_York")).strftime("%H:%M") == "09:00"
    assert [e.line for e in result.errors] == [3] and "Mars/Olympus" in result.errors[0].message


@pytest.mark.parametrize("payload,problem", [
    (b"", "empty"),
    (b"a,b,c\r\n1,2,3\r\n", "Missing columns"),
    (b"date,time,accounts,text\r\n\x00\x01\x02", "binary"),
    (b"date,time,accounts,text\r\n" + b"x" * (2 * 1024 * 1024), "larger"),
    (b"\x81\x8d\x8f\x90\x9d", "neither UTF-8"),
])
def test_files_that_are_refused_whole(brand_a, payload, problem):
    c = build(brand_a)
    result = csv_io.do_import_posts(c.owner, c.brand, io.BytesIO(payload))
    assert problem in result.problem and not result.created


def test_at_most_2000_rows(brand_a):
    c = build(brand_a)
    lines = [f"{day()},10:{i % 60:02d},mastodon:@alpha@masto.es,P{i}" for i in range(2001)]
    text = "date,time,accounts,text\n" + "\n".join(lines)
    result = csv_io.do_import_posts(c.owner, c.brand, io.BytesIO(text.encode()))
    assert len(result.created) == 2000 and result.errors[-1].line == 2002 and "2000" in result.errors[-1].message


def test_export_then_import_gives_the_same_posts(brand_a):
    c = build(brand_a)
    when = future(6, hour=11, minute=20)
    originals = [
        post(c, "-5% en todo\nsegunda línea; con \"comillas\"", when=when, accounts=[c.mastodon, c.bluesky],
             pillar=c.pillar, campaign=c.campaign, fmt="carousel"),
        post(c, "@todos: ¡hola! 🚀", when=when + timedelta(hours=1), accounts=[c.bluesky], fmt="video"),
    ]

    def shape(p):
        return (p.text, p.scheduled_at, p.pillar_id, p.campaign_id, p.format,
                sorted(t.account_id for t in p.targets.all()))

    before = sorted(map(shape, originals))
    exported = client_for(c.people["owner"]).get(reverse("calendar_export", args=[c.brand.pk]),
                                                 {"view": "list", "date": when.date().isoformat()}).content
    Post.objects.filter(pk__in=[p.pk for p in originals]).delete()
    result = csv_io.do_import_posts(c.owner, c.brand, io.BytesIO(exported))
    assert not result.errors and not result.problem
    assert sorted(map(shape, result.created)) == before


@pytest.mark.parametrize("role", ALL_ROLES)
def test_the_import_page(brand_a, role):
    c = build(brand_a)
    client = client_for(c.people[role])
    can = role in ("owner", "manager", "community_manager")
    assert client.get(reverse("calendar_import", args=[c.brand.pk])).status_code == (200 if can else 403)
    text = HEADER + f"{day()},10:00,mastodon:@alpha@masto.es,{XSS},,,\r\n{day()},10:00,nope:nobody,{XSS},,,\r\n"
    response = client.post(reverse("calendar_import", args=[c.brand.pk]),
                           {"file": upload(text), "submit_for_review": "on"})
    assert response.status_code == (200 if can else 403)
    if can:
        page = html(response)
        assert "1 post created." in page and "1 row has errors" in page and "nope:nobody" in page
        assert Post.objects.get(brand=c.brand).state == Post.State.PENDING_APPROVAL
        assert_escaped(html(client.get(reverse("section_calendar", args=[c.brand.pk]) + "?view=list&date=" + day())))
    else:
        assert not Post.objects.filter(brand=c.brand).exists()


def test_the_import_page_reports_a_refused_file(brand_a, brand_b):
    c = build(brand_a)
    client = client_for(c.people["owner"])
    response = client.post(reverse("calendar_import", args=[c.brand.pk]), {"file": upload("x,y\r\n1,2\r\n")})
    assert response.status_code == 200 and "Missing columns" in html(response)
    _b, b_people = brand_b
    assert client_for(b_people["owner"]).post(reverse("calendar_import", args=[c.brand.pk]),
                                              {"file": upload(HEADER)}).status_code == 404


def test_row_errors_are_in_the_users_language(brand_a):
    c = build(brand_a)
    owner = c.people["owner"]
    owner.language = "es"
    owner.save()
    text = HEADER + f"{day()},10:00,tiktok:@nadie,Hola,,,\r\n{day()},10:00,mastodon:@alpha@masto.es,Bien,,,\r\n"
    response = client_for(owner).post(reverse("calendar_import", args=[c.brand.pk]), {"file": upload(text)})
    page = html(response)
    assert "Cuenta desconocida «tiktok:@nadie»" in page and "1 publicación creada." in page
    assert "1 fila tiene errores y no se importó." in page
