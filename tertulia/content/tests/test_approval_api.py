"""The approval workflow's API: submit, approve, reject, comments, review links, the policy
and the caller's notifications; roles, tokens, tenants and hostile input."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.utils import timezone, translation

from tertulia.content import approvals
from tertulia.content.models import Post, PostComment, ReviewLink
from tertulia.content.services import do_create_post
from tertulia.core import services
from tertulia.core.models import AuditEvent, Notification
from tertulia.core.services import Ctx
from tertulia.core.tests.web_helpers import XSS
from tertulia.networks.services import do_add_account
from tertulia.publishing.models import PostTarget

pytestmark = pytest.mark.django_db
API = "/api/v1"


@pytest.fixture(autouse=True)
def _english():
    with translation.override("en"):
        yield


def send(client, method, url, data=None, **headers):
    body = json.dumps(data) if data is not None else ""
    return getattr(client, method)(url, body, content_type="application/json", **headers)


def bearer(raw):
    return {"HTTP_AUTHORIZATION": f"Bearer {raw}"}


@pytest.fixture
def setup(brand_a):
    brand, people = brand_a
    account = do_add_account(Ctx(people["owner"]), brand, network="mastodon", handle="@alpha@masto.es")
    post = do_create_post(Ctx(people["community_manager"]), brand, text="Hola", accounts=[account],
                          scheduled_at=timezone.now() + timedelta(days=1))
    return brand, people, post


def _base(post):
    return f"{API}/brands/{post.brand_id}/posts/{post.pk}"


def test_submit_approve_through_the_api(client, setup):
    brand, people, post = setup
    client.force_login(people["community_manager"])
    response = send(client, "post", f"{_base(post)}/submit", {})
    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["state"], body["state_label"]) == ("pending_approval", "In review")
    # Submitting again is harmless.
    assert send(client, "post", f"{_base(post)}/submit", {}).json()["version"] == body["version"]
    assert send(client, "post", f"{_base(post)}/approve", {"version": body["version"]}).status_code == 403
    client.force_login(people["manager"])
    stale = send(client, "post", f"{_base(post)}/approve", {"version": body["version"] - 1})
    assert stale.status_code == 422 and "changed" in stale.content.decode()
    response = send(client, "post", f"{_base(post)}/approve", {"version": body["version"]})
    assert response.status_code == 200 and response.json()["state"] == "scheduled"
    assert PostTarget.objects.get(post=post).state == PostTarget.State.SCHEDULED
    assert AuditEvent.objects.get(action="post.approve").via == "api"


def test_reject_needs_a_comment(client, setup):
    brand, people, post = setup
    post = approvals.do_submit_for_review(Ctx(people["community_manager"]), post)
    client.force_login(people["owner"])
    for bad in ({"version": post.version}, {"comment": "", "version": post.version},
                {"comment": "x" * 5001, "version": post.version}, {"comment": "ok", "version": "abc"},
                {"comment": "ok", "version": post.version, "extra": 1}, {"comment": "a\x00b", "version": 1}):
        assert send(client, "post", f"{_base(post)}/reject", bad).status_code == 422, bad
    response = send(client, "post", f"{_base(post)}/reject", {"comment": "Otra foto", "version": post.version})
    assert response.status_code == 200 and response.json()["state"] == "changes_requested"


def test_comments_list_and_create_with_mentions(client, setup):
    brand, people, post = setup
    client.force_login(people["client_reviewer"])
    response = send(client, "post", f"{_base(post)}/comments", {"body": f"{XSS} @alpha_manager"})
    assert response.status_code == 201, response.content
    assert response.json()["mentions"] == ["alpha_manager"]
    listed = client.get(f"{_base(post)}/comments").json()
    assert listed["count"] == 1 and listed["items"][0]["body"] == f"{XSS} @alpha_manager"
    assert listed["items"][0]["author"] == "alpha_client"
    assert send(client, "post", f"{_base(post)}/comments", {"body": ""}).status_code == 422
    assert send(client, "post", f"{_base(post)}/comments", {"body": "x" * 5001}).status_code == 422


def test_a_read_only_token_cannot_comment(client, setup):
    brand, people, post = setup
    _token, raw = services.do_create_token(Ctx(people["owner"]), "read", {brand.pk: "read"})
    assert client.get(f"{_base(post)}/comments", **bearer(raw)).status_code == 200
    response = send(client, "post", f"{_base(post)}/comments", {"body": "hola"}, **bearer(raw))
    assert response.status_code == 403
    assert not PostComment.objects.exists()
    _token, raw = services.do_create_token(Ctx(people["owner"]), "write", {brand.pk: "write"})
    assert send(client, "post", f"{_base(post)}/comments", {"body": "hola"}, **bearer(raw)).status_code == 201


def test_review_links_through_the_api(client, setup):
    brand, people, post = setup
    client.force_login(people["community_manager"])
    response = send(client, "post", f"{_base(post)}/review-links", {"reviewer_name": "Ana", "days": 3})
    assert response.status_code == 201, response.content
    created = response.json()
    assert "/review/" in created["url"] and created["valid"] is True
    raw = created["url"].rstrip("/").rsplit("/", 1)[1]
    assert ReviewLink.objects.get().token_hash != raw
    listed = client.get(f"{_base(post)}/review-links").json()
    assert listed["count"] == 1 and "url" not in listed["items"][0]
    for bad in ({"reviewer_name": ""}, {"reviewer_name": "Ana", "reviewer_email": "nope"},
                {"reviewer_name": "Ana", "days": 0}, {"reviewer_name": "x" * 121}):
        assert send(client, "post", f"{_base(post)}/review-links", bad).status_code == 422, bad
    client.force_login(people["analyst"])
    assert send(client, "post", f"{_base(post)}/review-links", {"reviewer_name": "Eve"}).status_code == 403
    assert client.delete(f"{_base(post)}/review-links/{created['id']}").status_code == 403
    client.force_login(people["community_manager"])
    assert client.delete(f"{_base(post)}/review-links/{created['id']}").status_code == 204
    assert ReviewLink.objects.get().revoked_at is not None


def test_policy_get_and_put(client, setup, brand_b):
    brand, people, _post = setup
    url = f"{API}/brands/{brand.pk}/approval-policy"
    client.force_login(people["analyst"])
    assert client.get(url).json() == {"brand_id": brand.pk, "required": True, "approver_ids": [],
                                      "reapprove_on_edit": True}
    assert send(client, "put", url, {"required": False}).status_code == 403
    client.force_login(people["manager"])
    for bad in ({"required": True, "approver_ids": [people["community_manager"].pk]},
                {"required": True, "approver_ids": [brand_b[1]["owner"].pk]},
                {"required": "maybe"}, {"required": True, "approver_ids": ["x"]}):
        assert send(client, "put", url, bad).status_code == 422, bad
    response = send(client, "put", url, {"required": True, "approver_ids": [people["owner"].pk],
                                         "reapprove_on_edit": False})
    assert response.status_code == 200
    assert response.json()["approver_ids"] == [people["owner"].pk]


def test_another_brands_posts_are_404(client, setup, brand_b):
    brand, people, post = setup
    b_brand, b_people = brand_b
    b_account = do_add_account(Ctx(b_people["owner"]), b_brand, network="mastodon", handle="@beta@masto.es")
    b_post = do_create_post(Ctx(b_people["owner"]), b_brand, text="Beta", accounts=[b_account], submit=True)
    client.force_login(people["owner"])
    for base in (f"{API}/brands/{brand.pk}/posts/{b_post.pk}", f"{API}/brands/{b_brand.pk}/posts/{b_post.pk}"):
        assert send(client, "post", f"{base}/approve", {"version": b_post.version}).status_code == 404
        assert send(client, "post", f"{base}/comments", {"body": "hola"}).status_code == 404
        assert client.get(f"{base}/comments").status_code == 404
    assert send(client, "put", f"{API}/brands/{b_brand.pk}/approval-policy", {"required": False}).status_code == 404
    b_post.refresh_from_db()
    assert b_post.state == Post.State.PENDING_APPROVAL


def test_notifications_api_is_the_callers_own(client, setup):
    brand, people, post = setup
    approvals.do_submit_for_review(Ctx(people["community_manager"]), post)
    client.force_login(people["manager"])
    listed = client.get(f"{API}/notifications").json()
    assert listed["count"] == 1
    item = listed["items"][0]
    assert item["kind"] == "post.submitted" and "asks you to approve" in item["text"]
    others = Notification.objects.get(recipient=people["owner"])
    assert client.post(f"{API}/notifications/{others.pk}/read").status_code == 404
    assert client.post(f"{API}/notifications/{item['id']}/read").json() == {"marked": 1}
    assert client.get(f"{API}/notifications?unread=true").json()["count"] == 0
    others.refresh_from_db()
    assert others.read_at is None
    client.force_login(people["owner"])
    assert client.post(f"{API}/notifications/read-all").json() == {"marked": 1}


def test_a_read_only_token_cannot_mark_notifications_read(client, setup):
    from tertulia.core import services as core_services

    brand, people, post = setup
    approvals.do_submit_for_review(Ctx(people["community_manager"]), post)
    _token, raw = core_services.do_create_token(Ctx(people["manager"]), "lector", {brand.pk: "read"})
    auth = {"HTTP_AUTHORIZATION": f"Bearer {raw}"}
    (item,) = client.get(f"{API}/notifications", **auth).json()["items"]
    assert client.post(f"{API}/notifications/{item['id']}/read", **auth).status_code == 403
    assert client.post(f"{API}/notifications/read-all", **auth).status_code == 403
    assert Notification.objects.get(pk=item["id"]).read_at is None
    _token, raw = core_services.do_create_token(Ctx(people["manager"]), "escritor", {brand.pk: "write"})
    assert client.post(f"{API}/notifications/{item['id']}/read",
                       HTTP_AUTHORIZATION=f"Bearer {raw}").json() == {"marked": 1}
