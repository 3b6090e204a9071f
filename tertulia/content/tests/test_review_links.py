"""The client's magic review link: one post, comment or approve without an account."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.cache import cache
from django.test import Client
from django.urls import reverse
from django.utils import timezone, translation

from tertulia.content import approvals, review_views
from tertulia.content.models import Post, PostComment, ReviewLink
from tertulia.content.services import do_create_post
from tertulia.core.models import AuditEvent, Notification
from tertulia.core.services import Ctx
from tertulia.core.tests.web_helpers import XSS, assert_escaped, html
from tertulia.networks.services import do_add_account
from tertulia.publishing.models import PostTarget

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _english_and_fresh_throttle(settings):
    settings.LANGUAGE_CODE = "en"
    cache.clear()
    with translation.override("en"):
        yield
    cache.clear()


@pytest.fixture
def setup(brand_a):
    brand, people = brand_a
    account = do_add_account(Ctx(people["owner"]), brand, network="mastodon", handle="@alpha@masto.es")
    post = do_create_post(Ctx(people["community_manager"]), brand, text=f"Nuevo menú {XSS}", accounts=[account],
                          scheduled_at=timezone.now() + timedelta(days=2))
    post = approvals.do_submit_for_review(Ctx(people["community_manager"]), post)
    return brand, people, post


def _link(people, post, role="manager", **kw):
    return approvals.do_create_review_link(Ctx(people[role]), post, reviewer_name=kw.pop("name", "Lucía Cliente"),
                                           **kw)


def _url(raw):
    return reverse("review_link", args=[raw])


def test_the_client_sees_the_post_escaped_and_nothing_else(setup):
    brand, people, post = setup
    _link_row, raw = _link(people, post)
    client = Client()
    response = client.get(_url(raw))
    assert response.status_code == 200
    page = html(response)
    assert_escaped(page)
    assert "Lucía Cliente" in page and 'value="approve"' in page
    assert response["Cache-Control"].startswith("no-store") or "no-store" in response["Cache-Control"]
    assert response["Referrer-Policy"] == "no-referrer"
    # The link opens no other page: the post page and the brand still need an account.
    response = client.get(reverse("post_detail", args=[brand.pk, post.pk]))
    assert response.status_code == 302 and response["Location"].startswith(reverse("login"))


def test_client_comment_is_recorded_by_name_and_notifies_the_team(setup):
    brand, people, post = setup
    link, raw = _link(people, post)
    approvals.do_comment(Ctx(people["owner"]), post, "Internal: the client will not like the price")
    response = Client().post(_url(raw), {"action": "comment", "body": f"Me gusta {XSS} @alpha_analyst"})
    assert response.status_code == 302
    comment = PostComment.objects.get(post=post, author__isnull=True)
    assert (comment.author, comment.guest_name) == (None, "Lucía Cliente")
    assert [u.username for u in comment.mentions.all()] == ["alpha_analyst"]
    event = AuditEvent.objects.get(action="review_link.comment")
    assert (event.actor, event.actor_name, event.via) == (None, "Lucía Cliente (client)", "review_link")
    assert Notification.objects.filter(recipient=people["community_manager"], kind="post.comment").exists()
    assert Notification.objects.filter(recipient=people["manager"], kind="post.comment").exists()  # link creator
    assert Notification.objects.filter(recipient=people["analyst"], kind="post.mention").exists()
    # Comments do not use the link up; the thread shows the comment, escaped.
    page = html(Client().get(_url(raw)))
    assert "Me gusta" in page
    assert "Internal:" not in page and "alpha_owner" not in page  # the team's comments stay internal
    assert_escaped(page)
    link.refresh_from_db()
    assert link.used_at is None


def test_client_approval_on_a_managers_link_schedules_the_post(setup):
    brand, people, post = setup
    link, raw = _link(people, post, role="manager")
    response = Client().post(_url(raw), {"action": "approve", "version": post.version, "body": "Perfecto"})
    assert response.status_code == 200 and "Thank you, the post is approved" in html(response)
    post.refresh_from_db()
    assert post.state == Post.State.SCHEDULED
    assert post.targets.get().state == PostTarget.State.SCHEDULED
    event = AuditEvent.objects.get(action="review_link.approve")
    assert event.changes["counts"] is True and event.actor_name == "Lucía Cliente (client)"
    assert PostComment.objects.get(post=post).body.startswith("Approved.")
    assert Notification.objects.filter(recipient=people["community_manager"], kind="post.approved").exists()
    # The link is used up: the same page as any invalid link.
    response = Client().get(_url(raw))
    assert response.status_code == 410 and "This link is no longer valid" in html(response)


def test_client_approval_on_a_cms_link_still_needs_a_member(setup):
    brand, people, post = setup
    _link_row, raw = _link(people, post, role="community_manager")
    response = Client().post(_url(raw), {"action": "approve", "version": post.version})
    assert "A member of the team will give the final approval" in html(response)
    post.refresh_from_db()
    assert post.state == Post.State.PENDING_APPROVAL
    assert AuditEvent.objects.get(action="review_link.approve").changes["counts"] is False
    assert Notification.objects.filter(recipient=people["manager"], kind="post.client_approved").exists()
    assert Notification.objects.filter(recipient=people["community_manager"], kind="post.client_approved").exists()


def test_client_approval_does_not_bypass_named_approvers(setup):
    brand, people, post = setup
    approvals.do_update_policy(Ctx(people["owner"]), brand, True, [people["owner"].pk], True)
    _link_row, raw = _link(people, post, role="manager")  # the manager is not a named approver
    Client().post(_url(raw), {"action": "approve", "version": post.version})
    post.refresh_from_db()
    assert post.state == Post.State.PENDING_APPROVAL


def test_a_stale_page_does_not_approve(setup):
    brand, people, post = setup
    link, raw = _link(people, post)
    response = Client().post(_url(raw), {"action": "approve", "version": post.version - 1})
    assert response.status_code == 200 and "changed since you opened it" in html(response)
    post.refresh_from_db()
    link.refresh_from_db()
    assert post.state == Post.State.PENDING_APPROVAL and link.used_at is None


@pytest.mark.parametrize("spoil", ["revoked", "expired", "unknown", "hash"])
def test_invalid_links_are_410_and_alike(setup, spoil):
    brand, people, post = setup
    link, raw = _link(people, post)
    if spoil == "revoked":
        approvals.do_revoke_review_link(Ctx(people["owner"]), link)
    elif spoil == "expired":
        ReviewLink.objects.filter(pk=link.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    elif spoil == "unknown":
        raw = raw[:-2] + ("AA" if raw[-2:] != "AA" else "BB")
    else:
        raw = link.token_hash  # what a database reader would know
    for response in (Client().get(_url(raw)), Client().post(_url(raw), {"action": "approve", "body": "x"})):
        assert response.status_code == 410
        page = html(response)
        assert "This link is no longer valid" in page and "Nuevo menú" not in page
    post.refresh_from_db()
    assert post.state == Post.State.PENDING_APPROVAL
    assert not PostComment.objects.exists()


def test_the_form_keeps_csrf_protection(setup):
    brand, people, post = setup
    _link_row, raw = _link(people, post)
    response = Client(enforce_csrf_checks=True).post(_url(raw), {"action": "approve", "version": post.version})
    assert response.status_code == 403
    post.refresh_from_db()
    assert post.state == Post.State.PENDING_APPROVAL


@pytest.mark.parametrize("body", ["x" * 5001, "a\x00b"])
def test_hostile_client_comments(setup, body):
    brand, people, post = setup
    _link_row, raw = _link(people, post)
    response = Client().post(_url(raw), {"action": "comment", "body": body})
    assert response.status_code == 200
    assert not PostComment.objects.exists()


def test_empty_comment_or_no_action_changes_nothing(setup):
    brand, people, post = setup
    _link_row, raw = _link(people, post)
    assert Client().post(_url(raw), {"action": "comment", "body": ""}).status_code == 200
    assert Client().post(_url(raw), {"body": "hola"}).status_code == 200
    assert not PostComment.objects.exists()


def test_guessing_is_throttled(setup, monkeypatch):
    brand, people, post = setup
    monkeypatch.setattr(review_views, "REVIEW_GUESS_LIMIT", 3)
    _link_row, raw = _link(people, post)
    client = Client()
    assert client.get(_url(raw)).status_code == 200
    for i in range(3):
        assert client.get(_url(f"guess{i}")).status_code == 410
    # Locked out for the window: even the right token answers as invalid from this address.
    assert client.get(_url(raw)).status_code == 410
    assert Client(REMOTE_ADDR="10.0.0.9").get(_url(raw)).status_code == 200


def test_review_link_email_and_expiry_bounds(setup, django_capture_on_commit_callbacks, mailoutbox):
    brand, people, post = setup
    with django_capture_on_commit_callbacks(execute=True):
        link, raw = _link(people, post, reviewer_email="lucia@example.com", days=500)
    assert link.expires_at <= timezone.now() + timedelta(days=60, minutes=1)
    (mail,) = mailoutbox
    assert mail.to == ["lucia@example.com"]
    assert _url(raw) in mail.body
    # In the brand's language (Spanish) and with the post escaped in the HTML part.
    assert "te pide que revises" in mail.subject
    html_part = mail.alternatives[0][0]
    assert "&lt;script&gt;" in html_part and "<script>" not in html_part
    # A link revoked before the task ran is not sent.
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        link2, _raw2 = _link(people, post, reviewer_email="other@example.com")
    approvals.do_revoke_review_link(Ctx(people["owner"]), link2)
    for callback in callbacks:
        callback()
    assert len(mailoutbox) == 1


def test_a_client_approval_that_cannot_go_out_is_recorded_for_the_team(setup):
    """The time has passed: the client's approval stands, and the team picks a new time."""
    brand, people, post = setup
    link, raw = _link(people, post, role="manager")
    Post.objects.filter(pk=post.pk).update(scheduled_at=timezone.now() - timedelta(minutes=1))
    response = Client().post(_url(raw), {"action": "approve", "version": post.version})
    assert "A member of the team will give the final approval" in html(response)
    post.refresh_from_db()
    link.refresh_from_db()
    assert post.state == Post.State.PENDING_APPROVAL and link.used_at is not None
    assert AuditEvent.objects.get(action="review_link.approve").changes["counts"] is False
    assert Notification.objects.filter(recipient=people["owner"], kind="post.client_approved").exists()
