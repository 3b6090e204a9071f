"""Query-count guards: the calendar grid and the calendar API read a period's posts with a fixed
number of queries, however many posts, targets, pillars and campaigns it holds."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from tertulia.core import services as core_services

from .test_calendar_kit import build, future, post

pytestmark = pytest.mark.django_db


def _count(client, path, **extra) -> int:
    client.get(path, **extra)  # warm: session and caches
    with CaptureQueriesContext(connection) as captured:
        assert client.get(path, **extra).status_code == 200
    return len(captured.captured_queries)


def test_the_month_grid_and_the_calendar_api_do_not_query_per_post(brand_a):
    c = build(brand_a)
    day = future(4, hour=9)
    post(c, "Uno", when=day, pillar=c.pillar, campaign=c.campaign)
    client = Client()
    client.force_login(c.people["owner"])
    page = f"{reverse('section_calendar', args=[c.brand.pk])}?view=month&date={day.date().isoformat()}"
    _token, raw = core_services.do_create_token(c.owner, "q", {c.brand.pk: "read"})
    api = Client(HTTP_AUTHORIZATION=f"Bearer {raw}")
    endpoint = (f"/api/v1/brands/{c.brand.pk}/calendar?start={day.date().isoformat()}"
                f"&end={day.date().isoformat()}")
    before = _count(client, page), _count(api, endpoint)
    for i in range(3):
        post(c, f"Más {i}", when=day.replace(minute=i + 1), accounts=[c.mastodon, c.bluesky],
             pillar=c.other_pillar if i % 2 else c.pillar, campaign=c.campaign)
    assert (_count(client, page), _count(api, endpoint)) == before
