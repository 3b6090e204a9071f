"""Retrying a first comment that failed: the service, the button on the delivery log and the
API route, against the Mastodon fake (issue 4). A permanent refusal, then a retry: the
comment is posted once, the main post is never sent again."""

from __future__ import annotations

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.test import Client

from tertulia.content.models import Post
from tertulia.core import services as core_services
from tertulia.core.models import AuditEvent
from tertulia.core.services import Ctx
from tertulia.core.tests.web_helpers import XSS, assert_escaped, html
from tertulia.publishing import engine, services, tasks
from tertulia.publishing.comments import do_retry_comment
from tertulia.publishing.models import DeliveryAttempt, PostTarget
from tests.fakes.mastodon import Fault

from .conftest import drain, now, timedelta

S = PostTarget.State
API = "/api/v1"
pytestmark = pytest.mark.django_db(transaction=True)


def _statuses(fake):
    return sorted(fake.own_statuses(), key=lambda s: int(s["id"]))


@pytest.fixture
def failed(ctx, make_target, fake_mastodon):
    target = make_target(text="Publicación con comentario")
    services.do_schedule(ctx, target, due_at=now() - timedelta(seconds=1))
    target = drain(target)
    assert target.state == S.PUBLISHED and engine.comment_status(target) == "none"
    Post.objects.filter(pk=target.post_id).update(first_comment="El enlace: https://example.com")
    fake_mastodon.inject("POST /api/v1/statuses", Fault.respond(422, {"error": "Validation failed: spam"}))
    assert engine.publish_comment(target.pk) == "failed"
    target.refresh_from_db()
    assert engine.comment_status(target) == "failed" and len(_statuses(fake_mastodon)) == 1
    return target


def test_retry_after_a_permanent_failure_posts_the_comment_once(ctx, failed, fake_mastodon):
    target = do_retry_comment(ctx, failed)
    target.refresh_from_db()
    assert engine.comment_status(target) == "posted"
    main, comment = _statuses(fake_mastodon)
    assert target.external_id == main["id"] and target.comment_external_id == comment["id"]
    assert comment["in_reply_to_id"] == main["id"]
    # Only the two comment attempts and the main post went out; the main post was not re-sent.
    posts = fake_mastodon.requests_to("POST", "/api/v1/statuses")
    assert [r.headers["idempotency-key"] for r in posts] == [target.marker] + [f"{target.marker}-c"] * 2
    outcomes = list(DeliveryAttempt.objects.filter(target=target).order_by("pk").values_list("outcome", flat=True))
    assert outcomes == ["published", "failed", "published"]
    (event,) = AuditEvent.objects.filter(action="post.retry_comment")
    assert event.brand_id == target.brand_id
    # Nothing else to retry: a second retry is refused, and sweeps send nothing more.
    with pytest.raises(ValidationError):
        do_retry_comment(ctx, target)
    tasks.sweep_once(grace=0)
    assert len(_statuses(fake_mastodon)) == 2


def test_retry_is_refused_unless_the_comment_failed(ctx, make_target, fake_mastodon):
    target = make_target(text="Sin comentario")
    with pytest.raises(ValidationError):  # not published, no comment
        do_retry_comment(ctx, target)
    services.do_schedule(ctx, target, due_at=now() - timedelta(seconds=1))
    target = drain(target)
    with pytest.raises(ValidationError):  # published, no comment
        do_retry_comment(ctx, target)
    Post.objects.filter(pk=target.post_id).update(first_comment="Ya publicado")
    assert engine.publish_comment(target.pk) == "posted"
    target.refresh_from_db()
    with pytest.raises(ValidationError):  # posted already
        do_retry_comment(ctx, target)
    assert len(_statuses(fake_mastodon)) == 2
    assert not AuditEvent.objects.filter(action="post.retry_comment").exists()


def test_two_retries_at_once_queue_one(ctx, failed, fake_mastodon):
    stale = PostTarget.objects.get(pk=failed.pk)
    # Someone else reset it a moment ago (as the conditional UPDATE sees it).
    PostTarget.objects.filter(pk=failed.pk).update(comment_external_id="")
    with pytest.raises(ValidationError):
        do_retry_comment(ctx, stale)
    assert len(_statuses(fake_mastodon)) == 1


def test_an_invalid_comment_is_not_retried_until_fixed(ctx, failed, fake_mastodon):
    Post.objects.filter(pk=failed.post_id).update(first_comment="x" * 600)  # the instance allows 500
    failed.refresh_from_db()
    with pytest.raises(ValidationError):
        do_retry_comment(ctx, failed)
    failed.refresh_from_db()
    assert engine.comment_status(failed) == "failed"
    Post.objects.filter(pk=failed.post_id).update(first_comment="Corto y bien")
    do_retry_comment(ctx, failed)
    failed.refresh_from_db()
    assert engine.comment_status(failed) == "posted" and len(_statuses(fake_mastodon)) == 2


def test_roles_without_compose_cannot_retry(ctx, brand, failed, make_user):
    analyst = make_user("pub_analyst")
    core_services.do_add_member(ctx, brand, analyst, "analyst")
    with pytest.raises(PermissionDenied):
        do_retry_comment(Ctx(analyst, via="test"), failed)
    client = Client()
    client.force_login(analyst)
    log = client.get(f"/brands/{brand.pk}/publishing/targets/{failed.pk}/")
    assert log.status_code == 200 and 'name="retry_comment"' not in html(log)
    assert client.post(f"/brands/{brand.pk}/publishing/targets/{failed.pk}/retry-comment/").status_code == 403
    assert client.post(f"{API}/brands/{brand.pk}/targets/{failed.pk}/retry-comment",
                       content_type="application/json").status_code == 403
    failed.refresh_from_db()
    assert engine.comment_status(failed) == "failed"


def test_the_delivery_log_button_retries_it(ctx, brand, failed, fake_mastodon):
    Post.objects.filter(pk=failed.post_id).update(text=f"Texto {XSS}")
    client = Client()
    client.force_login(ctx.user)
    url = f"/brands/{brand.pk}/publishing/targets/{failed.pk}/"
    page = html(client.get(url))
    assert 'name="retry_comment"' in page and "Could not be posted" in page
    assert f'action="{url}retry-comment/"' in page
    assert_escaped(page)
    assert client.get(url + "retry-comment/").status_code == 405
    response = client.post(url + "retry-comment/")
    assert response.status_code == 302 and response["Location"] == url
    failed.refresh_from_db()
    assert engine.comment_status(failed) == "posted" and len(_statuses(fake_mastodon)) == 2
    page = html(client.get(url))
    assert 'name="retry_comment"' not in page and "Posted" in page


def test_the_api_retries_it_and_refuses_strangers(ctx, brand, failed, fake_mastodon, tenant):
    client = Client()
    client.force_login(ctx.user)
    url = f"{API}/brands/{brand.pk}/targets/{failed.pk}/retry-comment"
    assert client.get(f"{API}/brands/{brand.pk}/targets/{failed.pk}").json()["comment_status"] == "failed"
    # Another brand's owner: 404 for this brand's target; and for its own brand with this id.
    other, people = tenant("Ajena")
    stranger = Client()
    stranger.force_login(people["owner"])
    assert stranger.post(url, content_type="application/json").status_code == 404
    assert stranger.post(f"{API}/brands/{other.pk}/targets/{failed.pk}/retry-comment",
                         content_type="application/json").status_code == 404
    # A read-only token cannot.
    _tok, raw = core_services.do_create_token(Ctx(ctx.user, via="test"), "ro", {brand.pk: "read"})
    assert Client(HTTP_AUTHORIZATION=f"Bearer {raw}").post(url, content_type="application/json").status_code == 403
    response = client.post(url, content_type="application/json")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["comment_status"] == "posted" and body["id"] == failed.pk
    assert len(_statuses(fake_mastodon)) == 2
    again = client.post(url, content_type="application/json")
    assert again.status_code == 422
    assert client.post(f"{API}/brands/{brand.pk}/targets/999999999/retry-comment",
                       content_type="application/json").status_code == 404
