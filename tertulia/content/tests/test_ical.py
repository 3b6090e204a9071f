"""The private iCal feed: tokens (hashed, revocable, tied to membership), the public route,
and a valid calendar for hostile text (parsed back with icalendar)."""

from __future__ import annotations

from datetime import UTC, timedelta

import pytest
from django.core.exceptions import ValidationError
from django.test import Client
from django.urls import reverse
from django.utils import timezone, translation
from icalendar import Calendar

from tertulia.content import ical, planning
from tertulia.content.models import CalendarFeedToken, Post
from tertulia.core import services as core_services
from tertulia.core.models import Membership
from tertulia.core.services import Ctx
from tertulia.core.tests.web_helpers import html

from .test_calendar_kit import build, future, post

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _english():
    with translation.override("en"):
        yield


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def feed(raw: str):
    return Client().get(reverse("calendar_ical", args=[raw]))


def events(response) -> list:
    assert response.status_code == 200 and response["Content-Type"].startswith("text/calendar")
    return Calendar.from_ical(response.content).walk("VEVENT")


def test_only_the_hash_is_stored_and_the_feed_answers(brand_a):
    c = build(brand_a)
    token, raw = ical.do_create_feed_token(Ctx(c.people["client_reviewer"]), c.brand)
    assert raw not in token.token_hash and token.token_hash == ical.hash_token(raw)
    assert not CalendarFeedToken.objects.filter(token_hash=raw).exists()
    when = future(2, hour=9, minute=30)
    p = post(c, "Primera línea\nsegunda línea", when=when, accounts=[c.mastodon, c.bluesky], approve=True,
             pillar=c.pillar)
    post(c, "Borrador sin aprobar", when=when)  # drafts are not in the feed
    key = planning.do_save_key_date(c.owner, c.brand, date=when.date() + timedelta(days=1), name="Día clave")
    evs = events(feed(raw))
    by_uid = {str(e["UID"]): e for e in evs}
    assert len(evs) == 2
    event = next(e for uid, e in by_uid.items() if uid.startswith(f"post-{p.pk}@"))
    assert event.decoded("DTSTART") == when and event.decoded("DTSTART").tzinfo is not None
    assert str(event["SUMMARY"]) == "Primera línea"
    description = str(event["DESCRIPTION"])
    assert "Bluesky, Mastodon" in description and "Scheduled" in description and "segunda línea" in description
    assert str(event["URL"]).endswith(f"/brands/{c.brand.pk}/posts/{p.pk}/")
    day = next(e for uid, e in by_uid.items() if uid.startswith(f"key-date-{key.pk}@"))
    assert day.decoded("DTSTART") == key.date and str(day["SUMMARY"]) == "Día clave"
    # The UID is stable: the same post keeps it after a move.
    from tertulia.content import calendar as cal

    cal.do_reschedule_post(c.owner, Post.objects.get(pk=p.pk), future(4))
    (moved,) = [e for e in events(feed(raw)) if str(e["UID"]) == str(event["UID"])]
    assert moved.decoded("DTSTART") == future(4) and int(moved["SEQUENCE"]) > int(event["SEQUENCE"])


def test_hostile_text_still_makes_a_valid_calendar(brand_a):
    c = build(brand_a)
    _token, raw = ical.do_create_feed_token(c.owner, c.brand)
    nasty = ("Hola;mundo,con\r\nCRLF y\rCR\nEND:VEVENT\nBEGIN:VEVENT\nSUMMARY:inyectado \U0001F680\U0001F469\u200d\U0001F469"
             "\x07\x1b " + "ñ" * 5000)
    with pytest.raises(ValidationError):  # a NUL never gets in (and PostgreSQL could not store it)
        post(c, nasty + "\x00", when=future(1), approve=True)
    p = post(c, nasty, when=future(1), approve=True)
    planning.do_save_key_date(c.owner, c.brand, date=timezone.now().date() + timedelta(days=2),
                              name="Fiesta; con, comas\nY saltos \U0001F389")
    response = feed(raw)
    evs = events(response)
    assert len(evs) == 2  # no injected event
    event = next(e for e in evs if str(e["UID"]).startswith(f"post-{p.pk}@"))
    assert str(event["SUMMARY"]) == "Hola;mundo,con"
    description = str(event["DESCRIPTION"])
    assert "\U0001F680" in description and "\x1b" not in description and "\x07" not in description
    assert "END:VEVENT\nBEGIN:VEVENT" in description  # kept as text, escaped on the wire
    assert len(description) <= ical.DESCRIPTION_LENGTH
    assert all(len(line) <= 75 for line in response.content.split(b"\r\n"))  # folded


def test_revoked_unknown_and_departed_members_get_the_same_404(brand_a, brand_b):
    c = build(brand_a)
    member = c.people["analyst"]
    token, raw = ical.do_create_feed_token(Ctx(member), c.brand)
    assert feed(raw).status_code == 200
    assert feed("x" * 43).status_code == 404
    assert feed(token.token_hash).status_code == 404  # the stored hash is not the link
    # Someone else cannot revoke it; its owner can.
    with pytest.raises(Exception):
        ical.do_revoke_feed_token(c.owner, token)
    ical.do_revoke_feed_token(Ctx(member), token)
    assert feed(raw).status_code == 404
    # A live link stops when its member leaves the brand.
    _token2, raw2 = ical.do_create_feed_token(Ctx(member), c.brand)
    assert feed(raw2).status_code == 200
    core_services.do_remove_member(c.owner, Membership.objects.get(brand=c.brand, user=member))
    gone = feed(raw2)
    assert gone.status_code == 404 and feed("y" * len(raw2)).status_code == 404
    assert c.brand.name not in html(gone) and not gone.get("Content-Type", "").startswith("text/calendar")
    # Only GET.
    _t3, raw3 = ical.do_create_feed_token(c.owner, c.brand)
    assert Client().post(reverse("calendar_ical", args=[raw3])).status_code == 405


def test_creating_and_revoking_from_the_calendar_page(brand_a):
    c = build(brand_a)
    client = client_for(c.people["client_reviewer"])
    response = client.post(reverse("calendar_feed_create", args=[c.brand.pk]))
    assert response.status_code == 200 and response["Cache-Control"] == "no-store"
    url = response.context["url"]
    assert url in html(response) and "/ical/" in url and url.endswith(".ics")
    raw = url.rsplit("/", 1)[1][: -len(".ics")]
    assert feed(raw).status_code == 200
    page = html(client.get(reverse("section_calendar", args=[c.brand.pk])))
    assert raw not in page and "1 active address" in page
    assert client.get(reverse("calendar_feed_create", args=[c.brand.pk])).status_code == 405
    assert client.post(reverse("calendar_feed_revoke", args=[c.brand.pk])).status_code == 302
    assert feed(raw).status_code == 404


def test_another_brands_member_cannot_make_a_feed_for_it(brand_a, brand_b):
    c = build(brand_a)
    _b, b_people = brand_b
    outsider = client_for(b_people["owner"])
    assert outsider.post(reverse("calendar_feed_create", args=[c.brand.pk])).status_code == 404
    assert not CalendarFeedToken.objects.filter(brand=c.brand).exists()


def test_events_are_in_utc(brand_a):
    c = build(brand_a)
    _t, raw = ical.do_create_feed_token(c.owner, c.brand)
    post(c, "UTC", when=future(3, hour=22, minute=45), approve=True)
    assert b"DTSTART:" in feed(raw).content and b"Z\r\n" in feed(raw).content
    (event,) = events(feed(raw))
    assert event.decoded("DTSTART").utcoffset() == timedelta(0)
    assert event.decoded("DTSTART") == future(3, hour=22, minute=45).astimezone(UTC)
