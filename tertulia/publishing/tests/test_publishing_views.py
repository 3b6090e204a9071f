"""The publishing pages: the queue, pause and resume, the queue slots and a target's delivery
log with retry, edit, cancel and delete (issue 4). Hostile input: wrong tenant, wrong role,
script injection, oversized and malformed forms."""

from __future__ import annotations

import uuid
from datetime import datetime, time, timedelta, timezone

import pytest
from django.test import Client
from django.urls import reverse

from tertulia.content.approvals import do_mark_approved
from tertulia.content.services import do_create_post
from tertulia.core.models import Brand
from tertulia.core.services import Ctx
from tertulia.core.tests.web_helpers import XSS, assert_escaped, html, messages_of
from tertulia.networks.models import SocialAccount
from tertulia.networks.services import do_add_account
from tertulia.publishing.models import DeliveryAttempt, PostTarget, QueueSlot

S = PostTarget.State
UTC = timezone.utc
pytestmark = pytest.mark.django_db


@pytest.fixture
def a(brand_a):
    brand, people = brand_a
    ctx = Ctx(people["owner"], via="test")
    account = do_add_account(ctx, brand, network="mastodon", handle="@alpha", base_url="https://mastodon.example",
                             access_token="tok")
    return brand, people, ctx, account


def _target(brand, ctx, account, text="Hola", state=None, due_at=None, **fields) -> PostTarget:
    post = do_create_post(ctx, brand, text=text, accounts=[account], submit=True, scheduled_at=due_at)
    do_mark_approved(ctx, post)
    target = post.targets.get()
    if state or fields:
        PostTarget.objects.filter(pk=target.pk).update(**({"state": state} if state else {}), **fields)
        target.refresh_from_db()
    return target


def _client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _url(name, brand, *args):
    return reverse(name, args=[brand.pk, *args])


# --- The queue page -------------------------------------------------------------------------

def test_queue_shows_attention_first_with_the_plain_error_escaped(a):
    brand, people, ctx, account = a
    failed = _target(brand, ctx, account, text=f"Failed {XSS}", state=S.FAILED,
                     last_error=f"The network said {XSS}")
    later = _target(brand, ctx, account, text="Coming soon", due_at=datetime.now(UTC) + timedelta(days=2))
    page = html(_client(people["client_reviewer"]).get(_url("publishing_queue", brand)))
    assert page.index("1 post needs your attention") < page.index("Coming up")
    assert_escaped(page)
    assert "The network said &lt;script&gt;" in page
    assert reverse("target_log", args=[brand.pk, failed.pk]) in page
    assert reverse("target_log", args=[brand.pk, later.pk]) in page
    # A client reviewer sees, but has no buttons.
    assert reverse("publishing_pause", args=[brand.pk]) not in page
    assert reverse("publishing_account_pause", args=[brand.pk, account.pk]) not in page


def test_queue_times_are_in_the_brands_zone(a):
    brand, people, ctx, account = a
    Brand.objects.filter(pk=brand.pk).update(timezone="America/Mexico_City")
    _target(brand, ctx, account, due_at=datetime(2030, 1, 8, 15, 0, tzinfo=UTC))  # 09:00 in Mexico City
    page = html(_client(people["owner"]).get(_url("publishing_queue", brand)))
    assert "Jan. 8, 2030, 9 a.m." in page and "3 p.m." not in page
    assert "America/Mexico_City" in page


def test_queue_lists_slots_and_the_next_free_one(a):
    brand, people, ctx, account = a
    QueueSlot.objects.create(brand=brand, weekday=2, time=time(9, 45))
    page = html(_client(people["analyst"]).get(_url("publishing_queue", brand)))
    assert "Next free slot:" in page and "9:45 a.m." in page and "Wednesday" in page
    assert _url("queue_slots", brand) in page


def test_settings_tabs_link_the_publishing_queue(a):
    brand, people, _ctx, _account = a
    page = html(_client(people["owner"]).get(reverse("brand_settings", args=[brand.pk])))
    assert _url("publishing_queue", brand) in page and "Publishing queue" in page


# --- Pause and resume -----------------------------------------------------------------------

def test_manager_pauses_and_resumes_the_brand(a):
    brand, people, _ctx, _account = a
    client = _client(people["manager"])
    response = client.post(_url("publishing_pause", brand), {"paused": "1"})
    assert response.status_code == 302 and Brand.objects.get(pk=brand.pk).publishing_paused
    page = html(client.get(_url("publishing_queue", brand)))
    assert "Publishing is paused for this brand" in page and "Resume publishing" in page
    client.post(_url("publishing_pause", brand), {"paused": "0"})
    assert not Brand.objects.get(pk=brand.pk).publishing_paused
    # Garbage is "resume", never an error.
    client.post(_url("publishing_pause", brand), {"paused": XSS * 100})
    assert not Brand.objects.get(pk=brand.pk).publishing_paused


@pytest.mark.parametrize("role", ["community_manager", "analyst", "client_reviewer"])
def test_other_roles_cannot_pause(a, role):
    brand, people, _ctx, account = a
    client = _client(people[role])
    assert client.post(_url("publishing_pause", brand), {"paused": "1"}).status_code == 403
    assert client.post(_url("publishing_account_pause", brand, account.pk), {"paused": "1"}).status_code == 403
    assert not Brand.objects.get(pk=brand.pk).publishing_paused
    assert not SocialAccount.objects.get(pk=account.pk).paused


def test_account_pause_toggle(a):
    brand, people, _ctx, account = a
    client = _client(people["owner"])
    client.post(_url("publishing_account_pause", brand, account.pk), {"paused": "1"})
    assert SocialAccount.objects.get(pk=account.pk).paused
    assert "Paused" in html(client.get(_url("publishing_queue", brand)))
    client.post(_url("publishing_account_pause", brand, account.pk), {"paused": "0"})
    assert not SocialAccount.objects.get(pk=account.pk).paused


def test_pause_routes_refuse_get_and_other_brands(a, brand_b):
    brand, people, _ctx, account = a
    other, other_people = brand_b
    other_account = do_add_account(Ctx(other_people["owner"], via="test"), other, network="mastodon",
                                   handle="@beta", base_url="https://mastodon.example")
    client = _client(people["owner"])
    assert client.get(_url("publishing_pause", brand)).status_code == 405
    assert client.post(_url("publishing_pause", other), {"paused": "1"}).status_code == 404
    assert client.post(_url("publishing_account_pause", brand, other_account.pk), {"paused": "1"}).status_code == 404
    assert not Brand.objects.get(pk=other.pk).publishing_paused
    assert not SocialAccount.objects.get(pk=other_account.pk).paused


# --- Queue slots ----------------------------------------------------------------------------

def test_community_manager_adds_weekday_slots_in_bulk_and_removes_one(a):
    brand, people, _ctx, _account = a
    client = _client(people["community_manager"])
    response = client.post(_url("queue_slots", brand), {"weekdays": ["0", "1", "2", "3", "4"],
                                                        "times": "09:00, 17:30"})
    assert response.status_code == 302
    assert QueueSlot.objects.filter(brand=brand).count() == 10
    page = html(client.get(_url("queue_slots", brand)))
    assert "17:30" in page and "10 of at most 168 slots." in page
    slot = QueueSlot.objects.filter(brand=brand).first()
    assert client.post(_url("queue_slot_delete", brand, slot.pk)).status_code == 302
    assert QueueSlot.objects.filter(brand=brand).count() == 9


@pytest.mark.parametrize("data,field_error", [
    ({"weekdays": ["0"], "times": XSS}, True),
    ({"weekdays": ["0"], "times": "9" * 5000}, True),
    ({"weekdays": ["0"], "times": ",".join(["09:00"] * 30)}, True),
    ({"weekdays": ["9"], "times": "09:00"}, True),
    ({"weekdays": ["x"], "times": "09:00"}, True),
    ({"weekdays": [], "times": "09:00"}, True),
    ({"weekdays": ["0"], "times": "24:00"}, True),
    ({"weekdays": ["0"], "times": "09:00\x00"}, True),  # Django's form refuses NUL characters
])
def test_hostile_slot_forms(a, data, field_error):
    brand, people, _ctx, _account = a
    response = _client(people["owner"]).post(_url("queue_slots", brand), data)
    if field_error:
        assert response.status_code == 200
        assert not QueueSlot.objects.filter(brand=brand).exists()
        page = html(response)
        assert 'class="error"' in page or 'class="errors"' in page
        if XSS in data["times"]:
            assert "<script>alert" not in page
    else:
        assert response.status_code == 302
        assert list(QueueSlot.objects.filter(brand=brand).values_list("time", flat=True)) == [time(9)]


@pytest.mark.parametrize("role", ["analyst", "client_reviewer"])
def test_readers_see_slots_but_cannot_change_them(a, role):
    brand, people, _ctx, _account = a
    slot = QueueSlot.objects.create(brand=brand, weekday=0, time=time(9))
    client = _client(people[role])
    page = html(client.get(_url("queue_slots", brand)))
    assert "09:00" in page and "Add posting times" not in page
    assert _url("queue_slot_delete", brand, slot.pk) not in page
    assert client.post(_url("queue_slots", brand), {"weekdays": ["1"], "times": "10:00"}).status_code == 403
    assert client.post(_url("queue_slot_delete", brand, slot.pk)).status_code == 403
    assert QueueSlot.objects.filter(brand=brand).count() == 1


def test_another_brands_slot_is_a_404(a, brand_b):
    brand, people, _ctx, _account = a
    other, _ = brand_b
    slot = QueueSlot.objects.create(brand=other, weekday=0, time=time(9))
    client = _client(people["owner"])
    assert client.post(_url("queue_slot_delete", brand, slot.pk)).status_code == 404
    assert client.post(_url("queue_slot_delete", other, slot.pk)).status_code == 404
    assert QueueSlot.objects.filter(pk=slot.pk).exists()


# --- The delivery log -----------------------------------------------------------------------

def _attempt(target, number, outcome, **fields):
    now = datetime.now(UTC)
    return DeliveryAttempt.objects.create(brand_id=target.brand_id, target=target, attempt_id=uuid.uuid4(),
                                          number=number, started_at=now - timedelta(minutes=10 - number),
                                          finished_at=now - timedelta(minutes=9 - number), outcome=outcome, **fields)


def test_delivery_log_shows_each_attempt_with_the_networks_text_escaped(a):
    brand, people, ctx, account = a
    target = _target(brand, ctx, account, state=S.FAILED, attempts=2, last_error="The network refused the post.")
    _attempt(target, 1, "retry", error_kind="retryable", http_status=503,
             error_detail=f"retryable 503: {XSS}", user_message="The network is having trouble. We will try again.")
    _attempt(target, 2, "failed", error_kind="permanent", http_status=422,
             error_detail='permanent 422: {"error": "Validation failed: Text is too long"}',
             user_message="The network refused the post.")
    page = html(_client(people["community_manager"]).get(_url("target_log", brand, target.pk)))
    assert_escaped(page)
    assert "503" in page and "422" in page and "Validation failed: Text is too long" in page
    assert "Will retry" in page and "The network is having trouble" in page
    assert page.index("503") < page.index("422")  # in order
    # One click to retry or edit, and cancel.
    assert _url("target_retry", brand, target.pk) in page
    assert f'href="/brands/{brand.pk}/posts/{target.post_id}/edit/"' in page
    assert _url("target_cancel", brand, target.pk) in page
    assert _url("target_delete", brand, target.pk) not in page  # not published


def test_delivery_log_readers_have_no_buttons(a):
    brand, people, ctx, account = a
    target = _target(brand, ctx, account, state=S.FAILED)
    page = html(_client(people["analyst"]).get(_url("target_log", brand, target.pk)))
    assert "Delivery log" in page
    for name in ("target_retry", "target_cancel", "target_delete"):
        assert _url(name, brand, target.pk) not in page


def test_retry_now_from_the_log(a):
    brand, people, ctx, account = a
    target = _target(brand, ctx, account, state=S.FAILED, due_at=datetime.now(UTC) - timedelta(hours=1),
                     attempts=6)
    client = _client(people["community_manager"])
    response = client.post(_url("target_retry", brand, target.pk))
    assert response.status_code == 302 and response["Location"] == _url("target_log", brand, target.pk)
    target.refresh_from_db()
    assert target.state == S.SCHEDULED and target.attempts == 0
    # Retrying a scheduled target that never ran is refused, with the reason, not a 500.
    response = client.post(_url("target_retry", brand, target.pk), follow=True)
    assert any("cannot be retried" in m for m in messages_of(response))


def test_cancel_from_the_log_and_roles(a):
    brand, people, ctx, account = a
    target = _target(brand, ctx, account, due_at=datetime.now(UTC) + timedelta(days=1))
    assert _client(people["analyst"]).post(_url("target_cancel", brand, target.pk)).status_code == 403
    assert _client(people["client_reviewer"]).post(_url("target_retry", brand, target.pk)).status_code == 403
    assert PostTarget.objects.get(pk=target.pk).state == S.SCHEDULED
    _client(people["community_manager"]).post(_url("target_cancel", brand, target.pk))
    assert PostTarget.objects.get(pk=target.pk).state == S.CANCELED


def test_delete_of_an_unpublished_target_is_refused_with_a_message(a):
    brand, people, ctx, account = a
    target = _target(brand, ctx, account, state=S.FAILED)
    response = _client(people["owner"]).post(_url("target_delete", brand, target.pk), follow=True)
    assert response.status_code == 200 and messages_of(response)
    assert PostTarget.objects.get(pk=target.pk).state == S.FAILED


def test_delete_button_offered_for_published_targets(a):
    brand, people, ctx, account = a
    target = _target(brand, ctx, account, state=S.PUBLISHED, external_id="109", published_at=datetime.now(UTC),
                     external_url="https://mastodon.example/@alpha/109")
    page = html(_client(people["owner"]).get(_url("target_log", brand, target.pk)))
    assert _url("target_delete", brand, target.pk) in page
    assert _url("target_retry", brand, target.pk) not in page and "/edit/" not in page
    assert 'href="https://mastodon.example/@alpha/109"' in page


def test_another_brands_target_is_a_404_everywhere(a, brand_b):
    brand, people, _ctx, _account = a
    other, other_people = brand_b
    octx = Ctx(other_people["owner"], via="test")
    oaccount = do_add_account(octx, other, network="mastodon", handle="@beta", base_url="https://mastodon.example")
    target = _target(other, octx, oaccount, text=f"Beta secret {XSS}", state=S.FAILED)
    client = _client(people["owner"])
    for b in (brand, other):
        assert client.get(_url("target_log", b, target.pk)).status_code == 404
        for name in ("target_retry", "target_cancel", "target_delete"):
            assert client.post(_url(name, b, target.pk)).status_code == 404
    assert PostTarget.objects.get(pk=target.pk).state == S.FAILED


@pytest.fixture
def keep_language():
    """The middleware activates the reader's language on this thread; give it back after."""
    from django.utils import translation

    before = translation.get_language()
    yield
    translation.activate(before)


def test_pages_render_in_spanish(a, keep_language):
    brand, people, ctx, account = a
    user = people["owner"]
    user.language = "es"
    user.save(update_fields=["language"])
    target = _target(brand, ctx, account, state=S.FAILED)
    client = _client(user)
    assert "Cola de publicación" in html(client.get(_url("publishing_queue", brand)))
    assert "Reintentar ahora" in html(client.get(_url("target_log", brand, target.pk)))
    assert "Franjas de la cola" in html(client.get(_url("queue_slots", brand)))


# --- Add to queue from any page -------------------------------------------------------------

def test_add_to_queue_from_a_page(a):
    brand, people, ctx, account = a
    QueueSlot.objects.create(brand=brand, weekday=4, time=time(12, 15))
    target = _target(brand, ctx, account)
    client = _client(people["community_manager"])
    back = f"/brands/{brand.pk}/posts/{target.post_id}/"
    response = client.post(_url("post_add_to_queue", brand, target.post_id), {"next": back})
    assert response.status_code == 302 and response["Location"] == back
    target.refresh_from_db()
    assert target.state == S.SCHEDULED
    local = target.due_at.astimezone(brand.tzinfo)
    assert (local.weekday(), local.strftime("%H:%M")) == (4, "12:15")
    page = html(client.get(_url("publishing_queue", brand)))
    assert "Added to the queue:" in page and "Europe/Madrid" in page


@pytest.mark.parametrize("evil", ["https://evil.example/", "//evil.example/x", "javascript:alert(1)", XSS])
def test_add_to_queue_never_redirects_off_site(a, evil):
    brand, people, ctx, account = a
    QueueSlot.objects.create(brand=brand, weekday=4, time=time(12, 15))
    target = _target(brand, ctx, account)
    response = _client(people["owner"]).post(_url("post_add_to_queue", brand, target.post_id), {"next": evil})
    assert response["Location"] == _url("publishing_queue", brand)


def test_add_to_queue_refusals_on_the_web(a, brand_b):
    brand, people, ctx, account = a
    target = _target(brand, ctx, account)
    # No slots: the reason, not an error page.
    response = _client(people["owner"]).post(_url("post_add_to_queue", brand, target.post_id), follow=True)
    assert any("no free slot" in m for m in messages_of(response))
    QueueSlot.objects.create(brand=brand, weekday=4, time=time(12, 15))
    assert _client(people["analyst"]).post(_url("post_add_to_queue", brand, target.post_id)).status_code == 403
    other, other_people = brand_b
    octx = Ctx(other_people["owner"], via="test")
    oaccount = do_add_account(octx, other, network="mastodon", handle="@beta", base_url="https://mastodon.example")
    foreign = _target(other, octx, oaccount)
    client = _client(people["owner"])
    assert client.post(_url("post_add_to_queue", brand, foreign.post_id)).status_code == 404
    assert client.post(_url("post_add_to_queue", other, foreign.post_id)).status_code == 404
    assert client.get(_url("post_add_to_queue", brand, target.post_id)).status_code == 405
    assert PostTarget.objects.get(pk=foreign.pk).due_at is None
