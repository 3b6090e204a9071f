"""The trends, alerts and alert-settings pages and their API, with hostile input: markup in
mentions escaped, bad settings refused, other brands' rows 404, readers cannot change settings."""

from __future__ import annotations

import json
import re
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from tertulia.core import services as core_services
from tertulia.core.models import AuditEvent
from tertulia.core.services import Ctx
from tertulia.core.tests.web_helpers import XSS, assert_escaped, html
from tertulia.listening.models import (
    Competitor,
    ListeningQuery,
    ListeningSettings,
    Mention,
    MentionMatch,
    SpikeAlert,
)

pytestmark = pytest.mark.django_db
API = "/api/v1/brands/{}/listening"


@pytest.fixture
def world(brand_a, brand_b):
    brand, people = brand_a
    other, other_people = brand_b
    now = timezone.now()
    rival = Competitor.objects.create(brand=brand, name=f"Rival {XSS}")
    q = ListeningQuery.objects.create(brand=brand, name=f"Us {XSS}", kind="brand", text="alpha")
    rq = ListeningQuery.objects.create(brand=brand, name="Rival q", kind="competitor", text="rival", competitor=rival)
    mentions = []
    for i in range(4):
        at = now - timedelta(hours=1 + i)
        m = Mention.objects.create(brand=brand, network="web", external_id=f"a{i}", site=f"news{XSS}.example",
                                   author_name=f"Ana {XSS}", author_handle="@ana", text=f"{XSS} #Tormenta horrible",
                                   created_at=at, sentiment="negative")
        MentionMatch.objects.create(brand=brand, mention=m, query=q if i else rq, created_at=at, sentiment="negative")
        mentions.append(m)
    alert = SpikeAlert.objects.create(brand=brand, query=q, kind=SpikeAlert.Kind.NEGATIVE,
                                      window_start=now - timedelta(hours=2), window_end=now - timedelta(hours=1),
                                      count=4, negative=4, baseline=1.0, samples=[m.pk for m in mentions],
                                      reason=[{"msgid": "Volume spike: %(scope)s", "params": {"scope": XSS}}],
                                      delivery={"email": {"ok": True, "to": 2},
                                                "webhook": {"ok": False, "status": 500, "error": "HTTP 500"}},
                                      notified_at=now)
    oq = ListeningQuery.objects.create(brand=other, name="Beta secret query", text="beta")
    om = Mention.objects.create(brand=other, network="web", external_id="b1", text="Beta secret mention",
                                author_name="Beta secret author", created_at=now - timedelta(hours=1))
    MentionMatch.objects.create(brand=other, mention=om, query=oq, created_at=om.created_at)
    their_alert = SpikeAlert.objects.create(brand=other, query=oq, kind="volume", window_start=now, window_end=now,
                                            count=1, baseline=1, samples=[om.pk])
    tokens = {k: core_services.do_create_token(Ctx(u), f"{k} token", {brand.pk: "write"})[1] for k, u in people.items()}
    return {"brand": brand, "people": people, "q": q, "alert": alert, "other": other, "oq": oq,
            "their_alert": their_alert, "tokens": tokens, "mentions": mentions}


def test_trends_page_escapes_and_shows_charts_tables_and_sov(client, world):
    brand = world["brand"]
    client.force_login(world["people"]["client_reviewer"])
    response = client.get(reverse("listening_trends", args=[brand.pk]), {"days": "1"})
    assert response.status_code == 200
    page = html(response)
    assert_escaped(page)
    assert page.count("<svg role=\"img\"") == 2 and "<polyline" in page and "<table>" in page
    assert "Ana &lt;script&gt;" in page and "news&lt;script&gt;alert(1)&lt;/script&gt;.example" in page
    assert "Rival &lt;script&gt;" in page  # share of voice, by competitor
    assert "Beta secret" not in page
    # A tampered or foreign period or query: the defaults, never another brand's data.
    for params in ({"days": "999"}, {"query": "abc"}, {"query": str(world["oq"].pk)}, {"days": "1e9", "query": "-1"}):
        response = client.get(reverse("listening_trends", args=[brand.pk]), params)
        assert response.status_code == 200 and "Beta secret" not in html(response)
    only = client.get(reverse("listening_trends", args=[brand.pk]), {"days": "7", "query": str(world["q"].pk)})
    assert only.status_code == 200 and only.context["sums"]["total"] == 3
    assert client.get(reverse("listening_trends", args=[world["other"].pk])).status_code == 404
    # In Spanish the numbers on the page use a decimal comma, the SVG's coordinates never do.
    reader = world["people"]["client_reviewer"]
    reader.language = "es"
    reader.save(update_fields=["language"])
    page = html(client.get(reverse("listening_trends", args=[brand.pk]), {"days": "90"}, HTTP_ACCEPT_LANGUAGE="es"))
    assert "Volumen y sentimiento" in page and "Cuota de voz" in page
    assert not re.search(r'\b(?:x|y|width|height)="[^"]*\d,\d', page)
    points = re.search(r'points="([^"]*)"', page).group(1).split()
    assert points and all(re.fullmatch(r"\d+(\.\d+)?,\d+(\.\d+)?", p) for p in points)


def test_alerts_pages_escape_samples_and_show_delivery(client, world):
    brand, alert = world["brand"], world["alert"]
    client.force_login(world["people"]["analyst"])
    page = html(client.get(reverse("listening_alerts", args=[brand.pk])))
    assert_escaped(page)
    assert "Volume spike: &lt;script&gt;" in page  # the reason's figures are escaped too
    assert "failed (HTTP 500)" in page and "sent to 2 addresses" in page
    assert page.count("&lt;script&gt;alert(1)&lt;/script&gt; #Tormenta") == 4
    detail = client.get(reverse("listening_alert", args=[brand.pk, alert.pk]))
    assert detail.status_code == 200 and f'id="alert-{alert.pk}"' in html(detail)
    assert client.get(reverse("listening_alert", args=[brand.pk, world["their_alert"].pk])).status_code == 404
    assert client.get(reverse("listening_alerts", args=[brand.pk]), {"kind": "volume"}).context["rows"] == []
    assert client.get(reverse("listening_alerts", args=[brand.pk]), {"kind": XSS, "page": "x"}).status_code == 200


def test_settings_page_readers_cannot_change_and_bad_values_are_refused(client, world):
    brand, people = world["brand"], world["people"]
    url = reverse("listening_settings", args=[brand.pk])
    good = {"spike_ratio": "2.5", "min_mentions": "8", "negative_percent": "60", "baseline_days": "14",
            "alert_emails": "crisis@example.com, pr@example.com", "webhook_url": "https://hooks.example.com/t",
            "webhook_secret": "top-secret-value"}
    client.force_login(people["community_manager"])
    page = html(client.get(url))
    assert "disabled" in page and "Only owners and managers" in page
    assert client.post(url, good).status_code == 403
    assert not ListeningSettings.objects.filter(brand=brand).exists()

    client.force_login(people["manager"])
    for field, bad in (("webhook_url", "http://169.254.169.254/latest/meta-data"), ("webhook_url", "http://10.1.2.3/"),
                       ("webhook_url", "javascript:alert(1)"), ("alert_emails", f"{XSS}@x"),
                       ("alert_emails", "a@example.com," * 300), ("spike_ratio", "0"), ("negative_percent", "500"),
                       ("min_mentions", "-3"), ("baseline_days", "x")):
        response = client.post(url, {**good, field: bad})
        assert response.status_code == 200 and response.context["form"].errors, (field, bad)
        if XSS in bad:
            assert_escaped(html(response))
        assert not ListeningSettings.objects.filter(brand=brand).exists()
    response = client.post(url, good)
    assert response.status_code == 302
    s = ListeningSettings.objects.get(brand=brand)
    assert (s.spike_ratio, s.min_mentions, s.negative_share, s.baseline_days) == (2.5, 8, 0.6, 14)
    assert s.webhook_secret == "top-secret-value"
    page = html(client.get(url))
    assert "top-secret-value" not in page and "A webhook secret is set." in page
    client.post(url, {**good, "webhook_secret": "", "min_mentions": "9"})  # empty: the secret is kept
    assert ListeningSettings.objects.get(brand=brand).webhook_secret == "top-secret-value"
    client.post(url, {**good, "webhook_secret": "", "clear_secret": "on"})
    assert ListeningSettings.objects.get(brand=brand).webhook_secret == ""
    assert AuditEvent.objects.filter(action="listening.settings.update", brand=brand).count() == 3
    assert client.get(reverse("listening_settings", args=[world["other"].pk])).status_code == 404


def _api(client, method, url, token, data=None):
    body = json.dumps(data) if data is not None else ""
    return getattr(client, method)(url, body, content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {token}")


def test_api_trends_alerts_and_settings(client, world):
    brand, other, tokens = world["brand"], world["other"], world["tokens"]
    base, reader = API.format(brand.pk), tokens["client_reviewer"]
    vol = _api(client, "get", f"{base}/trends/volume?bucket=hour&since="
               + (timezone.now() - timedelta(hours=6)).isoformat().replace("+", "%2B"), reader)
    assert vol.status_code == 200 and sum(r["total"] for r in vol.json()) == 4
    assert sum(r["negative"] for r in vol.json()) == 4
    sov = _api(client, "get", f"{base}/trends/share-of-voice", reader).json()
    assert [(v["kind"], v["mentions"]) for v in sov] == [("brand", 3), ("competitor", 1)]
    assert sov[1]["name"] == f"Rival {XSS}"
    rising = _api(client, "get", f"{base}/trends/rising?min_count=2", reader).json()
    assert any(r["term"] == "#tormenta" and r["count"] == 4 and r["baseline"] == 0 for r in rising)
    authors = _api(client, "get", f"{base}/trends/authors", reader).json()
    assert authors[0]["handle"] == "@ana" and authors[0]["mentions"] == 4 and authors[0]["name"] == f"Ana {XSS}"
    assert _api(client, "get", f"{base}/trends/sources?query_id={world['q'].pk}", reader).json()[0]["mentions"] == 3
    # Hostile: another brand's query, naive or reversed periods, huge spans, unknown buckets.
    assert _api(client, "get", f"{base}/trends/authors?query_id={world['oq'].pk}", reader).status_code == 404
    for bad in ("since=2026-01-01T00:00:00", "since=2030-01-01T00:00:00Z&until=2029-01-01T00:00:00Z",
                "since=2000-01-01T00:00:00Z", "bucket=minute", "since=not-a-date"):
        assert _api(client, "get", f"{base}/trends/volume?{bad}", reader).status_code == 422, bad
    assert _api(client, "get", f"{base}/trends/rising?hours=100000", reader).status_code == 422
    assert _api(client, "get", f"{API.format(other.pk)}/trends/volume", reader).status_code == 404

    alerts = _api(client, "get", f"{base}/alerts", reader).json()
    assert alerts["count"] == 1 and alerts["items"][0]["reason"] == f"Volume spike: {XSS}"
    detail = _api(client, "get", f"{base}/alerts/{world['alert'].pk}", reader).json()
    assert [s["id"] for s in detail["samples"]] == [m.pk for m in world["mentions"]]
    assert detail["delivery"]["webhook"]["error"] == "HTTP 500"
    assert _api(client, "get", f"{base}/alerts/{world['their_alert'].pk}", reader).status_code == 404

    body = {"spike_ratio": 4, "min_mentions": 12, "negative_share": 0.4, "baseline_days": 10,
            "alert_emails": "a@example.com", "webhook_url": "https://hooks.example.com/x", "webhook_secret": "shh"}
    assert _api(client, "put", f"{base}/alert-settings", tokens["analyst"], body).status_code == 403
    assert _api(client, "put", f"{API.format(other.pk)}/alert-settings", tokens["owner"], body).status_code == 404
    for field, bad in (("webhook_url", "http://127.0.0.1:8000/"), ("webhook_url", "file:///etc/passwd"),
                       ("spike_ratio", 1e309), ("negative_share", 2), ("alert_emails", "x" * 3000),
                       ("alert_emails", "not an email"), ("extra", 1), ("min_mentions", "many")):
        response = _api(client, "put", f"{base}/alert-settings", tokens["owner"], {**body, field: bad})
        assert response.status_code == 422, (field, response.content)
    assert not ListeningSettings.objects.filter(brand=brand).exists()
    saved = _api(client, "put", f"{base}/alert-settings", tokens["manager"], body)
    assert saved.status_code == 200 and saved.json()["has_webhook_secret"] is True
    assert "shh" not in saved.content.decode()
    got = _api(client, "get", f"{base}/alert-settings", reader).json()
    assert (got["spike_ratio"], got["min_mentions"], got["negative_share"]) == (4, 12, 0.4)
    body.pop("webhook_secret")
    _api(client, "put", f"{base}/alert-settings", tokens["manager"], {**body, "min_mentions": 13})
    assert ListeningSettings.objects.get(brand=brand).webhook_secret == "shh"  # left out: kept
    _api(client, "put", f"{base}/alert-settings", tokens["manager"], {**body, "webhook_secret": ""})
    assert ListeningSettings.objects.get(brand=brand).webhook_secret == ""  # "": removed
