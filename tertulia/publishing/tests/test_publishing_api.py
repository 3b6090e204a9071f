"""The publishing API: targets and their delivery log, retry / cancel / delete, queue slots,
add to queue, pause and resume (issue 4). Hostile input: wrong tenant (404), wrong role or a
read-only token (403), malformed and oversized bodies (422), script injection returned as data."""

from __future__ import annotations

import uuid
from datetime import datetime, time, timedelta, timezone

import pytest
from django.test import Client

from tertulia.content.approvals import do_mark_approved
from tertulia.content.models import Post
from tertulia.content.services import do_create_post
from tertulia.core import services as core_services
from tertulia.core.models import AuditEvent, Brand
from tertulia.core.services import Ctx
from tertulia.core.tests.web_helpers import XSS
from tertulia.networks.models import SocialAccount
from tertulia.networks.services import do_add_account
from tertulia.publishing.models import DeliveryAttempt, PostTarget, QueueSlot

S = PostTarget.State
UTC = timezone.utc
pytestmark = pytest.mark.django_db
API = "/api/v1"


@pytest.fixture
def a(brand_a):
    brand, people = brand_a
    ctx = Ctx(people["owner"], via="test")
    account = do_add_account(ctx, brand, network="mastodon", handle="@alpha", base_url="https://mastodon.example",
                             access_token="tok")
    return brand, people, ctx, account


def _target(brand, ctx, account, text="Hola", due_at=None, **fields) -> PostTarget:
    post = do_create_post(ctx, brand, text=text, accounts=[account], submit=True, scheduled_at=due_at)
    do_mark_approved(ctx, post)
    target = post.targets.get()
    if fields:
        PostTarget.objects.filter(pk=target.pk).update(**fields)
        target.refresh_from_db()
    return target


def _client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _token_client(user, brand, scope) -> Client:
    _token, raw = core_services.do_create_token(Ctx(user, via="test"), f"t-{scope}", {brand.pk: scope})
    return Client(HTTP_AUTHORIZATION=f"Bearer {raw}")


def _post(client, url, body=None):
    return client.post(url, data=body or {}, content_type="application/json")


# --- Targets and the delivery log -----------------------------------------------------------

def test_list_filters_and_pages(a):
    brand, people, ctx, account = a
    other = do_add_account(ctx, brand, network="mastodon", handle="@alpha2", base_url="https://mastodon.example")
    t1 = _target(brand, ctx, account, due_at=datetime(2030, 1, 7, 8, tzinfo=UTC))
    t2 = _target(brand, ctx, other, due_at=datetime(2030, 1, 9, 8, tzinfo=UTC))
    t3 = _target(brand, ctx, account, state=S.FAILED, due_at=datetime(2030, 1, 8, 8, tzinfo=UTC))
    client = _client(people["client_reviewer"])
    base = f"{API}/brands/{brand.pk}/targets"
    body = client.get(base).json()
    assert body["count"] == 3 and [i["id"] for i in body["items"]] == [t1.pk, t3.pk, t2.pk]
    assert [i["id"] for i in client.get(base, {"state": "failed"}).json()["items"]] == [t3.pk]
    assert [i["id"] for i in client.get(base, {"account": other.pk}).json()["items"]] == [t2.pk]
    # from/to without an offset are the brand's wall clock (Madrid, UTC+1 in January).
    got = client.get(base, {"from": "2030-01-08T09:00:00", "to": "2030-01-09T08:59:59"}).json()
    assert [i["id"] for i in got["items"]] == [t3.pk]
    got = client.get(base, {"from": "2030-01-08T08:00:01Z"}).json()
    assert [i["id"] for i in got["items"]] == [t2.pk]
    assert client.get(base, {"limit": 1, "offset": 1}).json()["items"][0]["id"] == t3.pk
    for bad in ({"state": "exploded"}, {"account": "x"}, {"from": "yesterday"}, {"account": 0},
                {"offset": 10**12}):
        assert client.get(base, bad).status_code == 422, bad


def test_target_detail_has_the_attempts_and_the_networks_text_as_data(a):
    brand, people, ctx, account = a
    target = _target(brand, ctx, account, state=S.FAILED, attempts=1, last_error="The network refused the post.")
    DeliveryAttempt.objects.create(brand=brand, target=target, attempt_id=uuid.uuid4(), number=1,
                                   started_at=datetime.now(UTC), finished_at=datetime.now(UTC), outcome="failed",
                                   error_kind="permanent", http_status=422, error_detail=f"permanent 422: {XSS}",
                                   user_message="The network refused the post.")
    body = _client(people["analyst"]).get(f"{API}/brands/{brand.pk}/targets/{target.pk}").json()
    assert body["state"] == "failed" and body["error"] == "The network refused the post."
    (attempt,) = body["attempt_log"]
    assert attempt["http_status"] == 422 and attempt["error_detail"].endswith(XSS)  # JSON data, not HTML
    assert attempt["outcome_label"] == "Failed" and attempt["message"] == "The network refused the post."


def test_retry_cancel_and_refusals(a):
    brand, people, ctx, account = a
    target = _target(brand, ctx, account, state=S.NEEDS_ATTENTION, attempts=1,
                     due_at=datetime.now(UTC) - timedelta(hours=1))
    client = _client(people["community_manager"])
    url = f"{API}/brands/{brand.pk}/targets/{target.pk}"
    response = _post(client, url + "/retry")
    assert response.status_code == 200 and response.json()["state"] == "scheduled"
    refused = _post(client, url + "/retry")  # scheduled, never attempted since
    assert refused.status_code == 422 and "cannot be retried" in str(refused.json()["errors"])
    assert _post(client, url + "/cancel").json()["state"] == "canceled"
    assert _post(client, url + "/cancel").status_code == 422
    assert _post(client, url + "/delete").status_code == 422  # not published
    assert AuditEvent.objects.filter(action="target.retry", object_id=str(target.pk), via="api").exists()


@pytest.mark.parametrize("role", ["analyst", "client_reviewer"])
def test_readers_cannot_act_on_targets(a, role):
    brand, people, ctx, account = a
    target = _target(brand, ctx, account, state=S.FAILED)
    client = _client(people[role])
    for action in ("retry", "cancel", "delete"):
        assert _post(client, f"{API}/brands/{brand.pk}/targets/{target.pk}/{action}").status_code == 403
    assert PostTarget.objects.get(pk=target.pk).state == S.FAILED


def test_a_read_only_token_reads_but_cannot_act(a):
    brand, people, ctx, account = a
    target = _target(brand, ctx, account, state=S.FAILED)
    client = _token_client(people["owner"], brand, "read")
    assert client.get(f"{API}/brands/{brand.pk}/targets/{target.pk}").status_code == 200
    assert _post(client, f"{API}/brands/{brand.pk}/targets/{target.pk}/cancel").status_code == 403
    assert _post(client, f"{API}/brands/{brand.pk}/pause").status_code == 403
    assert _post(client, f"{API}/brands/{brand.pk}/queue-slots", {"weekday": 0, "time": "09:00"}).status_code == 403
    assert PostTarget.objects.get(pk=target.pk).state == S.FAILED
    assert not Brand.objects.get(pk=brand.pk).publishing_paused


def test_other_brands_rows_are_404(a, brand_b):
    brand, people, _ctx, _account = a
    other, other_people = brand_b
    octx = Ctx(other_people["owner"], via="test")
    oaccount = do_add_account(octx, other, network="mastodon", handle="@beta", base_url="https://mastodon.example")
    target = _target(other, octx, oaccount, text="Beta secret", state=S.FAILED)
    slot = QueueSlot.objects.create(brand=other, weekday=0, time=time(9))
    client = _client(people["owner"])
    for b in (brand, other):
        assert client.get(f"{API}/brands/{b.pk}/targets/{target.pk}").status_code == 404
        for action in ("retry", "cancel", "delete"):
            assert _post(client, f"{API}/brands/{b.pk}/targets/{target.pk}/{action}").status_code == 404
        assert client.delete(f"{API}/brands/{b.pk}/queue-slots/{slot.pk}").status_code == 404
        assert _post(client, f"{API}/brands/{b.pk}/posts/{target.post_id}/queue").status_code == 404
        assert _post(client, f"{API}/brands/{b.pk}/accounts/{oaccount.pk}/pause").status_code == 404
    assert _post(client, f"{API}/brands/{other.pk}/pause").status_code == 404
    assert client.get(f"{API}/brands/{other.pk}/targets").status_code == 404
    assert client.get(f"{API}/brands/{other.pk}/queue-slots/next").status_code == 404
    assert PostTarget.objects.get(pk=target.pk).state == S.FAILED and QueueSlot.objects.filter(pk=slot.pk).exists()
    assert not Brand.objects.get(pk=other.pk).publishing_paused and not SocialAccount.objects.get(pk=oaccount.pk).paused


def test_anonymous_is_401(a):
    brand, _people, _ctx, _account = a
    assert Client().get(f"{API}/brands/{brand.pk}/targets").status_code == 401
    assert _post(Client(), f"{API}/brands/{brand.pk}/pause").status_code == 401


# --- Queue slots and add to queue -----------------------------------------------------------

def test_slot_crud_and_next(a):
    brand, people, _ctx, _account = a
    client = _client(people["community_manager"])
    base = f"{API}/brands/{brand.pk}/queue-slots"
    created = _post(client, base, {"weekday": 0, "time": "9:05"})
    assert created.status_code == 201 and created.json()["time"] == "09:05"
    assert created.json()["weekday_label"] == "Monday"
    again = _post(client, base, {"weekday": 0, "time": "09:05"})
    assert again.status_code == 200 and again.json()["id"] == created.json()["id"]
    _post(client, base, {"weekday": 3, "time": "18:00"})
    assert [s["time"] for s in client.get(base).json()["items"]] == ["09:05", "18:00"]
    nxt = client.get(base + "/next").json()
    assert nxt["timezone"] == "Europe/Madrid" and nxt["next_free"]["taken"] is False
    assert nxt["next_free"]["local"][11:16] in ("09:05", "18:00") and len(nxt["upcoming"]) == 10
    assert client.delete(f"{base}/{created.json()['id']}").status_code == 204
    assert QueueSlot.objects.filter(brand=brand).count() == 1


@pytest.mark.parametrize("body", [
    {"weekday": 7, "time": "09:00"}, {"weekday": -1, "time": "09:00"}, {"weekday": "lunes", "time": "09:00"},
    {"weekday": 0, "time": "25:00"}, {"weekday": 0, "time": XSS[:16]}, {"weekday": 0, "time": "9" * 5000},
    {"weekday": 0, "time": "09:00\x00"}, {"weekday": 0}, {"time": "09:00"}, {"weekday": 0, "time": "09:00", "x": 1},
    {"weekday": 0, "time": None},
])
def test_hostile_slot_bodies_are_422(a, body):
    brand, people, _ctx, _account = a
    response = _post(_client(people["owner"]), f"{API}/brands/{brand.pk}/queue-slots", body)
    assert response.status_code == 422
    assert not QueueSlot.objects.filter(brand=brand).exists()


def test_malformed_json_is_refused(a):
    brand, people, _ctx, _account = a
    response = _client(people["owner"]).post(f"{API}/brands/{brand.pk}/queue-slots", data="{not json",
                                              content_type="application/json")
    assert response.status_code in (400, 422)
    assert not QueueSlot.objects.filter(brand=brand).exists()


def test_analyst_cannot_change_slots(a):
    brand, people, _ctx, _account = a
    slot = QueueSlot.objects.create(brand=brand, weekday=0, time=time(9))
    client = _client(people["analyst"])
    assert client.get(f"{API}/brands/{brand.pk}/queue-slots").status_code == 200
    assert _post(client, f"{API}/brands/{brand.pk}/queue-slots", {"weekday": 1, "time": "09:00"}).status_code == 403
    assert client.delete(f"{API}/brands/{brand.pk}/queue-slots/{slot.pk}").status_code == 403
    assert QueueSlot.objects.filter(brand=brand).count() == 1


def test_add_to_queue(a):
    brand, people, ctx, account = a
    QueueSlot.objects.create(brand=brand, weekday=2, time=time(11, 30))
    target = _target(brand, ctx, account)
    client = _client(people["community_manager"])
    response = _post(client, f"{API}/brands/{brand.pk}/posts/{target.post_id}/queue")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["state"] == "scheduled" and body["local"][11:16] == "11:30"
    assert [t["state"] for t in body["targets"]] == ["scheduled"]
    post = Post.objects.get(pk=target.post_id)
    assert post.scheduled_at.astimezone(brand.tzinfo).weekday() == 2
    # A second post takes the next Wednesday, not the same slot.
    second = _target(brand, ctx, account, text="Otro")
    body2 = _post(client, f"{API}/brands/{brand.pk}/posts/{second.post_id}/queue").json()
    assert datetime.fromisoformat(body2["local"]) - datetime.fromisoformat(body["local"]) == timedelta(days=7)
    assert _post(_client(people["analyst"]), f"{API}/brands/{brand.pk}/posts/{second.post_id}/queue").status_code == 403


def test_add_to_queue_without_slots_says_why(a):
    brand, people, ctx, account = a
    target = _target(brand, ctx, account)
    response = _post(_client(people["owner"]), f"{API}/brands/{brand.pk}/posts/{target.post_id}/queue")
    assert response.status_code == 422 and "no free slot" in str(response.json()["errors"])


# --- Pause and resume -----------------------------------------------------------------------

def test_pause_and_resume_brand_and_account(a):
    brand, people, _ctx, account = a
    client = _client(people["manager"])
    assert _post(client, f"{API}/brands/{brand.pk}/pause").json() == {"brand_id": brand.pk, "publishing_paused": True}
    assert Brand.objects.get(pk=brand.pk).publishing_paused
    assert _post(client, f"{API}/brands/{brand.pk}/resume").json()["publishing_paused"] is False
    body = _post(client, f"{API}/brands/{brand.pk}/accounts/{account.pk}/pause").json()
    assert body["paused"] is True and body["id"] == account.pk and "access_token" not in body
    assert _post(client, f"{API}/brands/{brand.pk}/accounts/{account.pk}/resume").json()["paused"] is False
    cm = _client(people["community_manager"])
    assert _post(cm, f"{API}/brands/{brand.pk}/pause").status_code == 403
    assert _post(cm, f"{API}/brands/{brand.pk}/accounts/{account.pk}/pause").status_code == 403
    assert not Brand.objects.get(pk=brand.pk).publishing_paused
