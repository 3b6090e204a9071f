"""Security review, item 2: hostile social content is escaped in every place it is shown.

One world (brand A with an object of every kind, ``web_helpers.populate``) has a hostile
string put into every text field of every model that holds social or user text: the generic
sweep below finds the fields itself (every brand-scoped model's CharField and TextField that is
free text), so a new model is covered without touching this file. Then every page and every
API read is requested as the brand's owner, with the brand's own ids, and:

- no HTML page carries the raw markup (no ``<script>`` element, no injected ``<img onerror>``),
- no SVG (charts) has a script element or an event-handler attribute,
- the escaped text does show up on the pages that display social content (so the check is not
  vacuous): the inbox, a conversation, saved replies, listening, competitors, reports, the
  giveaway pages, notifications, the calendar and ideas,
- the report's PDF has the hostile text literally (pdftotext) and no active content,
- the HTML e-mails (invitation, client review link) escape it too.
"""

from __future__ import annotations

import re
import subprocess
from xml.etree import ElementTree

import pytest
from django.apps import apps
from django.core import mail
from django.db import models
from django.test import Client

from tertulia.core.models import Brand, Notification, Organization
from tertulia.core.services import Ctx
from tertulia.core.tests import test_isolation as iso
from tertulia.core.tests.web_helpers import fill_route, populate

pytestmark = pytest.mark.django_db

HOSTILE = '<script>alert(1)</script>"><img src=x onerror=alert(2)>'
RAW_SIGNS = ("<script>alert(1)", "<img src=x onerror", "onerror=alert(2)>")  # onerror= only as escaped text
ESCAPED_SIGN = "&lt;script&gt;alert(1)&lt;/script&gt;"

# Fields that are codes, identifiers or machine values, not text a person or a network wrote.
_NOT_TEXT = re.compile(
    r"(^|_)(id|ids|slug|url|uri|token|hash|key|email|emails|network|kind|status|state|language|lang|timezone|tz|sha256|"
    r"mime|mime_type|path|file|code|currency|color|colour|marker|cursor|etag|modified|version|utm_source|utm_medium|"
    r"utm_campaign|utm_content|format|metric|scope|role|secret|password|ip|host|country|locale|sentiment|intent|"
    r"external_id|attempt_id|public_id|seed|commitment|digest|type|source|channel|event|outcome|"
    r"method|bucket|unit|period|frequency|weekday|visibility|action|verb|provider|label_key|dedupe_key|"
    r"base_url|number|phone|handle_hash|waba_id|phone_id|template|template_name|category)$")

# Pages that show social or user text: the escaped marker must be on each (non-vacuous check).
MUST_SHOW = {
    "section_inbox", "inbox_conversation", "inbox_saved_replies", "inbox_author",
    "section_listening", "competitors", "competitor_detail", "listening_alert",
    "report_detail", "report_public", "section_reports",
    "giveaway_detail", "giveaway_public", "giveaway_verify", "giveaways",
    "notifications", "section_calendar", "report_pdf", "section_analytics", "analytics_overview", "idea_board", "post_detail", "knowledge_list", "media_list",
}


def _text_fields(model) -> list[str]:
    out = []
    for f in model._meta.get_fields():
        if not isinstance(f, (models.CharField, models.TextField)) or f.choices or not f.editable:
            continue
        if f.primary_key or f.unique or _NOT_TEXT.search(f.name):
            continue
        if isinstance(f, models.CharField) and (f.max_length or 0) < len(HOSTILE) + 8:
            continue
        out.append(f.name)
    return out


def _hostile(value: str, limit: int | None) -> str:
    text = f"{HOSTILE} {value}"
    return text[:limit] if limit else text


def make_hostile(brand: Brand) -> dict[str, list[str]]:
    """Put HOSTILE at the start of every free-text field of every row of ``brand``. Returns
    {model label: fields changed} (what the sweep covered)."""
    covered = {}
    targets = [m for m in apps.get_models() if m._meta.app_label != "auth" and any(
        f.name == "brand" and f.is_relation and f.related_model is Brand for f in m._meta.get_fields())]
    for model in targets:
        fields = _text_fields(model)
        if not fields:
            continue
        rows = list(model._base_manager.filter(brand=brand))
        for row in rows:
            for name in fields:
                limit = model._meta.get_field(name).max_length
                setattr(row, name, _hostile(getattr(row, name) or "", limit))
        if rows:
            model._base_manager.bulk_update(rows, fields)
            covered[model._meta.label] = fields
    Brand.objects.filter(pk=brand.pk).update(name=_hostile(brand.name, 200))
    Organization.objects.filter(pk=brand.organization_id).update(name=_hostile(brand.organization.name, 200))
    Notification.objects.filter(brand=brand).update(
        message=[{"msgid": "%(text)s", "params": {"text": _hostile("notification", None)}}])
    return covered


@pytest.fixture
def hostile(brand_a, settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path / "media")
    world = populate(*brand_a, marker="Alpha")
    _hostile_report(world)
    _published_post_with_metrics(world)
    covered = make_hostile(world.brand)
    world.brand.refresh_from_db()
    # The giveaway drawn after its entrants' names turned hostile: the winners are shown on the
    # detail page, the public results and the verification page.
    from tertulia.giveaways import services as giveaways

    ctx = Ctx(world.people["owner"], via="test")
    giveaways.do_close_entries(ctx, world.contest)
    world.contest = giveaways.do_draw(ctx, world.contest)
    assert world.contest.drawn_at is not None and world.contest.winners
    return world, covered


def _published_post_with_metrics(world) -> None:
    """A published post with metrics, so the dashboards' top posts and charts show its text."""
    from datetime import timedelta

    from django.utils import timezone

    from tertulia.analytics.services import PostMetrics, record_post_metrics
    from tertulia.content import services as content_services
    from tertulia.publishing.models import PostTarget

    now = timezone.now()
    post = content_services.do_create_post(Ctx(world.people["owner"], via="test"), world.brand,
                                           text="Alpha published post about the lighthouse", accounts=[world.account],
                                           pillar=world.pillar, campaign=world.campaign)
    PostTarget.objects.filter(post=post).update(state=PostTarget.State.PUBLISHED, published_at=now - timedelta(days=2),
                                                external_id="alpha-published-1")
    record_post_metrics([PostMetrics(target=t, taken_at=now - timedelta(hours=1), impressions=900, reach=700,
                                     likes=40, comments=5, shares=3)
                         for t in PostTarget.objects.filter(post=post)])


def _hostile_report(world) -> None:
    from tertulia.reports.blocks import Paragraphs, ReportData, Section

    report = world.report
    data = ReportData(kind="weekly", brand_id=world.brand.pk, language="en", title=f"{HOSTILE} weekly",
                      period_start=report.period_start, period_end=report.period_end,
                      sections=[Section(id="summary", title=f"{HOSTILE} section",
                                        blocks=[Paragraphs(items=[f"{HOSTILE} summary sentence"])])])
    report.data = data.to_json()
    report.save(update_fields=["data"])


def _body(response) -> bytes:
    return b"".join(response.streaming_content) if response.streaming else response.content


def _svg_problems(svg: bytes) -> list[str]:
    try:
        root = ElementTree.fromstring(svg)
    except ElementTree.ParseError as exc:
        return [f"not well-formed: {exc}"]
    problems = []
    for el in root.iter():
        tag = el.tag.rsplit("}", 1)[-1].lower()
        if tag in ("script", "foreignobject", "img", "iframe"):
            problems.append(f"<{tag}> element")
        problems += [f"attribute {a}" for a in el.attrib if a.rsplit("}", 1)[-1].lower().startswith("on")]
        href = el.attrib.get("href") or el.attrib.get("{http://www.w3.org/1999/xlink}href") or ""
        if href.strip().lower().startswith("javascript:"):
            problems.append("javascript: link")
    return problems


def _check(response, where: str, failures: list[str], shown: set[str], name: str) -> None:
    kind = response.get("Content-Type", "").split(";")[0].strip()
    body = _body(response)
    if kind == "text/html":
        page = body.decode(errors="replace")
        failures += [f"{where}: raw {sign!r} in the HTML" for sign in RAW_SIGNS if sign in page]
        if ESCAPED_SIGN in page:
            shown.add(name)
        # Inline SVG charts in the page: no script elements or handlers either.
        for svg in re.findall(r"<svg\b.*?</svg>", page, flags=re.S):
            failures += [f"{where}: inline chart: {p}" for p in _svg_problems(svg.encode())]
    elif kind == "image/svg+xml":
        failures += [f"{where}: {p}" for p in _svg_problems(body)]
        if HOSTILE.encode() in body:
            failures.append(f"{where}: raw hostile text in the SVG")


def test_every_page_escapes_hostile_social_content(hostile):
    world, covered = hostile
    # The sweep reached the models that hold social and user text.
    for label in ("inbox.Interaction", "inbox.Author", "inbox.SavedReply", "listening.Mention",
                  "listening.CompetitorPost", "giveaways.Contest", "content.Post", "content.Idea",
                  "reports.Report", "core.KnowledgeEntry", "strategy.ContentPillar", "content.Campaign"):
        assert label in covered, f"the hostile sweep missed {label}: {sorted(covered)}"
    web, api_routes, _ = iso.discover()
    values = iso._values(world)
    client = Client()
    client.force_login(world.people["owner"])
    failures, shown = [], set()
    for name, route in web:
        if name in ("logout",):
            continue
        url = fill_route(route, values)
        response = client.get(url, HTTP_ACCEPT_LANGUAGE="en")
        if response.status_code >= 500:
            failures.append(f"GET {url} ({name}): {response.status_code}")
            continue
        if name == "report_pdf":  # rendered once here (WeasyPrint is the slow part of the crawl)
            _check_pdf(response)
            shown.add(name)
            continue
        _check(response, f"GET {url}", failures, shown, name)
    # The public pages, anonymously (a giveaway's results and a report's share link).
    anonymous = Client()
    for name, url in (("giveaway_public", f"/g/{world.contest.public_id}/"),
                      ("giveaway_verify", f"/g/{world.contest.public_id}/verify/"),
                      ("report_public", f"/r/{world.report_raw}/")):
        response = anonymous.get(url)
        assert response.status_code == 200, (url, response.status_code)
        _check(response, f"anonymous GET {url}", failures, shown, name)
    assert not failures, "\n".join(failures)
    missing = MUST_SHOW - shown
    assert not missing, f"pages that did not show the (escaped) hostile text at all: {sorted(missing)}"
    # The same world's HTML e-mails (one world for everything: building it is the cost).
    _check_emails(world)


def _check_pdf(response) -> None:
    """The report's PDF (from the crawl): the hostile text is there literally, as text."""
    pdf = _body(response)
    assert response.status_code == 200 and pdf.startswith(b"%PDF")
    text = subprocess.run(["pdftotext", "-", "-"], input=pdf, capture_output=True, timeout=30, check=True).stdout
    flat = b" ".join(text.split())
    assert b"<script>alert(1)</script>" in flat, flat[:500]  # literally, as text
    # No active content in the file: no JavaScript actions, no launch actions.
    for sign in (b"/JavaScript", b"/JS ", b"/Launch", b"/OpenAction"):
        assert sign not in pdf


def _check_emails(world) -> None:
    """The HTML e-mails with the hostile brand, inviter, reviewer and post text."""
    from tertulia.content.approvals import send_review_link
    from tertulia.core.services import send_invitation_email

    world.invitation.refresh_from_db()
    world.review_link.refresh_from_db()
    world.review_link.reviewer_email = "client@example.com"
    send_invitation_email(world.invitation, world.invitation_raw, "en")
    send_review_link(world.review_link, world.review_raw, "en")
    assert len(mail.outbox) == 2
    for message in mail.outbox:
        assert "\n" not in message.subject
        html = next(content for content, kind in message.alternatives if kind == "text/html")
        assert ESCAPED_SIGN in html, html[:400]
        for sign in RAW_SIGNS:
            assert sign not in html


def test_the_svg_checker_can_fail():
    assert _svg_problems(b'<svg xmlns="http://www.w3.org/2000/svg"><script>x</script></svg>')
    assert _svg_problems(b'<svg xmlns="http://www.w3.org/2000/svg"><text onclick="x">a</text></svg>')
    assert not _svg_problems(b'<svg xmlns="http://www.w3.org/2000/svg"><text>&lt;script&gt;</text></svg>')
