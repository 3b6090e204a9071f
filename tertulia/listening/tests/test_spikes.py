"""listening.spikes: detection against the same hour on earlier days and the previous hours,
possible crises, one alert per window, and delivery by e-mail (locmem outbox) and a signed
webhook (a loopback HTTP server), a failing webhook recorded without crashing the check."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from itertools import count

import pytest
from django.utils import translation

from tertulia.core.notes import english
from tertulia.listening import spikes
from tertulia.listening.models import ListeningQuery, ListeningSettings, Mention, MentionMatch, SpikeAlert

_ids = count(1)
NOW = datetime(2026, 3, 10, 10, 20, tzinfo=UTC)
WS = datetime(2026, 3, 10, 9, 0, tzinfo=UTC)  # the last full hour: 09:00-10:00


def add(brand, queries, hour_start, n, sentiment="neutral", text="mention", **extra):
    made = []
    for i in range(n):
        at = hour_start + timedelta(minutes=(i * 7) % 60)
        m = Mention.objects.create(brand=brand, network="mastodon", external_id=f"m{next(_ids)}", text=text,
                                   created_at=at, sentiment=sentiment, **extra)
        MentionMatch.objects.bulk_create([MentionMatch(brand=brand, mention=m, query=q, created_at=at,
                                                       sentiment=sentiment) for q in queries])
        made.append(m)
    return made


@pytest.fixture
def setup(brand_a, brand_b):
    brand, people = brand_a
    ListeningSettings.objects.create(brand=brand, spike_ratio=3, min_mentions=5, negative_share=0.5, baseline_days=7)
    q = {name: ListeningQuery.objects.create(brand=brand, name=name, text=name.lower()) for name in ("Us", "Latte",
                                                                                                   "New")}
    return brand, people, q


def test_spikes_against_same_hour_and_previous_hours_once_per_window(setup, brand_b, mailoutbox):
    brand, people, q = setup
    for d in range(1, 8):  # the same hour on the 7 previous days
        add(brand, [q["Us"]], WS - timedelta(days=d), 2)
        add(brand, [q["Latte"]], WS - timedelta(days=d), 3)
    for h in range(1, 7):  # the previous 6 hours
        add(brand, [q["Us"]], WS - timedelta(hours=h), 1)
    add(brand, [q["Us"]], WS, 6)  # 6 ≥ 5 and ≥ 3 × 2: a spike
    add(brand, [q["Latte"]], WS, 5)  # 5 < 3 × 3 (its usual at that hour), although the previous hours were empty
    add(brand, [q["New"]], WS, 4)  # no history but under the minimum of 5
    add(brand, [q["Us"]], WS + timedelta(hours=1), 50)  # the current, unfinished hour is not looked at
    other, _ = brand_b  # another brand's spike is its own
    oq = ListeningQuery.objects.create(brand=other, name="Them", text="them")
    add(other, [oq], WS, 3)

    assert spikes.check(NOW) == 2
    alerts = {a.query_id: a for a in SpikeAlert.objects.filter(brand=brand)}
    assert set(alerts) == {q["Us"].pk, None}
    us = alerts[q["Us"].pk]
    assert (us.kind, us.count, us.negative, us.baseline) == (SpikeAlert.Kind.VOLUME, 6, 0, 2.0)
    assert (us.window_start, us.window_end) == (WS, WS + timedelta(hours=1))
    reason = english(us.reason)
    assert "6 mentions" in reason and "3 times the usual 2" in reason
    assert "2 on average at that hour on the previous 7 days" in reason and "1 on average in the previous 6" in reason
    in_window = Mention.objects.filter(created_at__gte=WS, created_at__lt=WS + timedelta(hours=1))
    assert len(us.samples) == 5 and set(us.samples) <= set(in_window.values_list("pk", flat=True))
    whole = alerts[None]  # the brand: 15 distinct mentions against the usual 5 (2 + 3) at that hour
    assert (whole.count, whole.baseline) == (15, 5.0)
    assert not SpikeAlert.objects.filter(brand=other).exists()
    # Delivered to the brand's managers (no e-mails configured), in the brand's language (Spanish).
    assert us.__class__.objects.get(pk=us.pk).notified_at is not None
    assert len(mailoutbox) == 2 and sorted(mailoutbox[0].to) == sorted([people["owner"].email,
                                                                        people["manager"].email])
    assert any(m.subject.startswith("[Tertulia · Alpha Brand] Pico de volumen: Us") for m in mailoutbox)

    # A second run (5 minutes later, the periodic task's) looks at the same hour: nothing new or sent.
    assert spikes.check(NOW + timedelta(minutes=5)) == 0
    from tertulia.listening import tasks_trends

    assert tasks_trends.check_spikes.call_local() == 0  # now: no mentions in the last hour
    assert SpikeAlert.objects.filter(brand=brand).count() == 2 and len(mailoutbox) == 2


def test_negative_spike_is_a_possible_crisis_with_negative_samples_first(setup, mailoutbox):
    brand, people, q = setup
    ListeningSettings.objects.filter(brand=brand).update(alert_emails="crisis@example.com, pr@example.com")
    for d in range(1, 8):
        add(brand, [q["Us"]], WS - timedelta(days=d), 2)
    calm = add(brand, [q["Us"]], WS, 3, sentiment="positive", author_followers=10**6)
    angry = add(brand, [q["Us"]], WS, 6, sentiment="negative", text="<script>alert(1)</script> pésimo servicio")
    Mention.objects.filter(pk=angry[2].pk).update(toxicity=0.9)
    assert spikes.check(NOW) == 2  # the query and the brand's whole volume
    alert = SpikeAlert.objects.get(brand=brand, query=q["Us"])
    assert alert.kind == SpikeAlert.Kind.NEGATIVE and (alert.count, alert.negative) == (9, 6)
    assert alert.samples[0] == angry[2].pk and set(alert.samples[:5]) <= {m.pk for m in angry}
    assert calm[0].pk not in alert.samples
    assert "Possible crisis: 6 negative mentions, 67% of the hour's" in english(alert.reason)
    mail = next(m for m in mailoutbox if "Us" in m.subject)
    assert mail.to == ["crisis@example.com", "pr@example.com"]
    assert "Posible crisis" in mail.subject and "pésimo servicio" in mail.body
    # Not negative enough: a share below the threshold is a plain volume spike.
    ListeningSettings.objects.filter(brand=brand).update(negative_share=0.8)
    SpikeAlert.objects.all().delete()
    assert spikes.check(NOW) == 2
    assert SpikeAlert.objects.get(brand=brand, query=q["Us"]).kind == SpikeAlert.Kind.VOLUME


class _Hook(BaseHTTPRequestHandler):
    received: list = []
    status = 204

    def do_POST(self):  # noqa: N802
        body = self.rfile.read(int(self.headers["Content-Length"]))
        type(self).received.append((dict(self.headers), body))
        self.send_response(type(self).status)
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def hook():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Hook)
    _Hook.received, _Hook.status = [], 204
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server, f"http://127.0.0.1:{server.server_address[1]}/hooks/tertulia"
    server.shutdown()
    server.server_close()


def test_webhook_is_signed_and_failures_are_recorded(setup, hook, settings, mailoutbox):
    brand, people, q = setup
    server, url = hook
    settings.LISTENING_WEBHOOK_ALLOW_LOOPBACK = True
    s = ListeningSettings.objects.get(brand=brand)
    s.webhook_url, s.webhook_secret = url, "s3cret-value"
    s.save()
    add(brand, [q["Us"]], WS, 7, sentiment="negative", text="todo mal", url="https://m.example/@a/1")
    assert spikes.check(NOW) == 2
    assert len(_Hook.received) == 2
    headers, body = _Hook.received[0]
    expected = "sha256=" + hmac.new(b"s3cret-value", body, hashlib.sha256).hexdigest()
    assert headers["X-Tertulia-Signature"] == expected
    data = json.loads(body)
    assert data["event"] == "listening.spike" and data["brand"]["id"] == brand.pk
    assert data["alert"]["count"] == 7 and data["alert"]["kind"] == "negative"
    assert data["samples"][0]["text"] == "todo mal"
    delivery = SpikeAlert.objects.filter(brand=brand).first().delivery
    assert delivery["webhook"]["ok"] is True and delivery["webhook"]["status"] == 204

    # The receiver fails: recorded, the e-mail still goes, the check goes on.
    _Hook.status = 500
    add(brand, [q["Latte"]], WS, 8)
    SpikeAlert.objects.all().delete()
    assert spikes.check(NOW) == 3
    for alert in SpikeAlert.objects.filter(brand=brand):
        assert alert.delivery["webhook"] == {"ok": False, "status": 500, "at": alert.delivery["webhook"]["at"],
                                             "error": "HTTP 500"}
        assert alert.delivery["email"]["ok"] is True

    # Nobody listening, and then a private address without the tests' allowance: refused, recorded.
    port = server.server_address[1]
    server.shutdown()
    server.server_close()
    SpikeAlert.objects.all().delete()
    assert spikes.check(NOW) == 3
    assert {(a.delivery["webhook"]["ok"], a.delivery["webhook"]["error"])
            for a in SpikeAlert.objects.filter(brand=brand)} == {(False, "unreachable")}
    settings.LISTENING_WEBHOOK_ALLOW_LOOPBACK = False
    SpikeAlert.objects.all().delete()
    assert spikes.check(NOW) == 3
    assert {a.delivery["webhook"]["error"] for a in SpikeAlert.objects.filter(brand=brand)} == {"refused"}
    with translation.override("es"):
        assert spikes.delivery_error("refused").startswith("la dirección no está permitida")
    assert port


def test_webhook_url_validation_and_settings_service(setup):
    from django.core.exceptions import PermissionDenied, ValidationError

    from tertulia.core.services import Ctx

    brand, people, q = setup
    for bad in ("ftp://example.com/x", "http://127.0.0.1/x", "http://10.0.0.5/", "http://[::1]/", "http://localhost/",
                "https://metadata.internal/", "http://169.254.169.254/latest", "javascript:alert(1)",
                "http://user:pw@example.com/", "https://intranet/"):
        with pytest.raises(ValidationError):
            spikes.validate_webhook_url(bad)
    assert spikes.validate_webhook_url(" https://hooks.example.com/t?x=1 ") == "https://hooks.example.com/t?x=1"
    with pytest.raises(PermissionDenied):
        spikes.do_save_settings(Ctx(people["analyst"]), brand, min_mentions=3)
    with pytest.raises(ValidationError) as exc:
        spikes.do_save_settings(Ctx(people["manager"]), brand, spike_ratio=0.5, alert_emails="nope, a@b.example")
    assert set(exc.value.message_dict) == {"spike_ratio", "alert_emails"}
    s = spikes.do_save_settings(Ctx(people["manager"]), brand, spike_ratio=2.5, alert_emails="a@b.example;c@d.example",
                                webhook_url="https://hooks.example.com/x", webhook_secret="k")
    assert (s.spike_ratio, s.alert_emails, s.webhook_secret) == (2.5, "a@b.example, c@d.example", "k")
    s = spikes.do_save_settings(Ctx(people["manager"]), brand, min_mentions=7)  # the secret is kept
    assert ListeningSettings.objects.get(brand=brand).webhook_secret == "k"
    from tertulia.core.models import AuditEvent

    event = AuditEvent.objects.filter(action="listening.settings.update").order_by("-pk")[1]
    assert event.changes["webhook_secret"] == "changed"


def test_the_spike_check_runs_every_5_minutes_through_autodiscovery():
    from django.utils.module_loading import autodiscover_modules
    from huey.contrib.djhuey import HUEY

    autodiscover_modules("tasks")
    task = next(t for t in HUEY._registry._periodic_tasks if t.__name__ == "check_spikes")()
    assert task.validate_datetime(datetime(2026, 3, 10, 10, 5)) and not task.validate_datetime(
        datetime(2026, 3, 10, 10, 7))
