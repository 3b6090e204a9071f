"""The post page (review actions, comments, review links) and the approval settings page."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone, translation

from tertulia.content import approvals
from tertulia.content.models import ApprovalPolicy, Post, PostComment, ReviewLink
from tertulia.content.services import do_create_post
from tertulia.core.models import AuditEvent, Notification
from tertulia.core.services import Ctx
from tertulia.core.tests.web_helpers import XSS, assert_escaped, html, messages_of
from tertulia.networks.services import do_add_account
from tertulia.publishing.models import PostTarget

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _english(settings):
    settings.LANGUAGE_CODE = "en"
    with translation.override("en"):
        yield


@pytest.fixture
def setup(brand_a):
    brand, people = brand_a
    account = do_add_account(Ctx(people["owner"]), brand, network="mastodon", handle="@alpha@masto.es")
    return brand, people, account


def _post(brand, people, account, *, text="Hola, mundo", submit=True, when=timedelta(days=2)):
    post = do_create_post(Ctx(people["community_manager"]), brand, text=text, accounts=[account],
                          scheduled_at=timezone.now() + when if when is not None else None)
    if submit:
        post = approvals.do_submit_for_review(Ctx(people["community_manager"]), post)
    return post


def _url(post):
    return reverse("post_detail", args=[post.brand_id, post.pk])


def test_cm_asks_manager_approves_and_the_post_is_scheduled(client, setup):
    """The journey: a CM sends a draft for review; a manager approves it from the page."""
    brand, people, account = setup
    post = _post(brand, people, account, submit=False)
    client.force_login(people["community_manager"])
    page = html(client.get(_url(post)))
    assert 'name="action" value="submit"' in page
    assert 'value="approve"' not in page  # a CM does not approve
    response = client.post(_url(post), {"action": "submit", "version": post.version})
    assert response.status_code == 302
    post.refresh_from_db()
    assert post.state == Post.State.PENDING_APPROVAL
    assert Notification.objects.filter(recipient=people["manager"], kind="post.submitted").exists()

    client.force_login(people["manager"])
    page = html(client.get(_url(post)))
    assert re.search(r'<button type="submit" name="action" value="approve"', page)
    assert 'value="request_changes"' in page and 'id="id_body"' in page
    assert "In review" in page
    response = client.post(_url(post), {"action": "approve", "version": post.version}, follow=True)
    post.refresh_from_db()
    assert post.state == Post.State.SCHEDULED
    assert "Post approved and scheduled." in messages_of(response)
    assert post.targets.get().state == PostTarget.State.SCHEDULED
    assert 'value="approve"' not in html(response)


@pytest.mark.parametrize("version", ["stale", "missing", "garbage"])
def test_a_stale_page_cannot_approve(client, setup, version):
    """Approval applies to the text the approver saw: an old version, or none at all (a
    hand-made request), is refused rather than read as "whatever the text is now"."""
    brand, people, account = setup
    post = _post(brand, people, account)
    client.force_login(people["manager"])
    data = {"action": "approve"}
    if version == "stale":
        data["version"] = post.version - 1
    elif version == "garbage":
        data["version"] = "12abc"
    response = client.post(_url(post), data, follow=True)
    assert any("changed since you opened it" in m for m in messages_of(response))
    post.refresh_from_db()
    assert post.state == Post.State.PENDING_APPROVAL


@pytest.mark.parametrize("role", ["community_manager", "analyst", "client_reviewer"])
def test_other_roles_cannot_approve_by_posting(client, setup, role):
    brand, people, account = setup
    post = _post(brand, people, account)
    client.force_login(people[role])
    client.post(_url(post), {"action": "approve", "version": post.version})
    client.post(_url(post), {"action": "request_changes", "body": "no", "version": post.version})
    post.refresh_from_db()
    assert post.state == Post.State.PENDING_APPROVAL


def test_request_changes_needs_a_reason_and_is_shown_in_the_thread(client, setup):
    brand, people, account = setup
    post = _post(brand, people, account)
    client.force_login(people["manager"])
    response = client.post(_url(post), {"action": "request_changes", "body": "  ", "version": post.version})
    assert response.status_code == 200 and "This field is required." in html(response)
    post.refresh_from_db()
    assert post.state == Post.State.PENDING_APPROVAL
    client.post(_url(post), {"action": "request_changes", "body": "Falta el hashtag", "version": post.version})
    post.refresh_from_db()
    assert post.state == Post.State.CHANGES_REQUESTED
    client.force_login(people["community_manager"])
    page = html(client.get(_url(post)))
    assert "Falta el hashtag" in page and "Changes requested" in page


def test_comments_with_mentions_and_escaping(client, setup):
    brand, people, account = setup
    post = _post(brand, people, account, text=f"Texto {XSS}")
    client.force_login(people["analyst"])
    response = client.post(_url(post), {"action": "comment", "body": f"@alpha_manager mira {XSS}"})
    assert response.status_code == 302
    comment = PostComment.objects.get(post=post)
    assert [u.username for u in comment.mentions.all()] == ["alpha_manager"]
    assert Notification.objects.filter(recipient=people["manager"], kind="post.mention").exists()
    page = html(client.get(_url(post)))
    assert_escaped(page)
    assert 'data-mention="alpha_manager"' in page  # the mention picker lists the members


@pytest.mark.parametrize("body", ["", "x" * 5001, "a\x00b"])
def test_hostile_comments_are_refused(client, setup, body):
    brand, people, account = setup
    post = _post(brand, people, account)
    client.force_login(people["owner"])
    response = client.post(_url(post), {"action": "comment", "body": body})
    assert response.status_code == 200
    assert not PostComment.objects.filter(post=post).exists()


def test_unknown_action_and_variants_render(client, setup):
    brand, people, account = setup
    post = _post(brand, people, account)
    post.variants.update(text=f"Solo Mastodon {XSS}", is_custom=True)
    client.force_login(people["owner"])
    response = client.post(_url(post), {"action": "explode"}, follow=True)
    assert "Unknown action." in messages_of(response)
    page = html(response)
    assert "Solo Mastodon" in page and f"/brands/{brand.pk}/posts/{post.pk}/edit/" in page
    assert_escaped(page)


def test_another_brands_post_is_404(client, setup, brand_b):
    brand, people, account = setup
    b_brand, b_people = brand_b
    b_account = do_add_account(Ctx(b_people["owner"]), b_brand, network="mastodon", handle="@beta@masto.es")
    b_post = do_create_post(Ctx(b_people["owner"]), b_brand, text="Beta secret", accounts=[b_account], submit=True)
    client.force_login(people["owner"])
    assert client.get(reverse("post_detail", args=[brand.pk, b_post.pk])).status_code == 404
    assert client.get(reverse("post_detail", args=[b_brand.pk, b_post.pk])).status_code == 404
    response = client.post(reverse("post_detail", args=[brand.pk, b_post.pk]),
                           {"action": "approve", "version": b_post.version})
    assert response.status_code == 404
    b_post.refresh_from_db()
    assert b_post.state == Post.State.PENDING_APPROVAL


def test_review_links_are_created_shown_once_listed_and_revoked(client, setup, django_capture_on_commit_callbacks,
                                                                 mailoutbox):
    brand, people, account = setup
    post = _post(brand, people, account)
    client.force_login(people["community_manager"])
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(_url(post), {"action": "create_link", "reviewer_name": f"Cliente {XSS}",
                                            "reviewer_email": "cliente@example.com"})
    page = html(response)
    raw = re.search(r'/review/([A-Za-z0-9_-]{20,})/', page).group(1)
    link = ReviewLink.objects.get(post=post)
    assert link.token_hash != raw and raw not in link.token_hash
    assert_escaped(page)
    assert len(mailoutbox) == 1 and raw in mailoutbox[0].body and mailoutbox[0].to == ["cliente@example.com"]
    # Shown once: the next view of the page lists it without the secret.
    page = html(client.get(_url(post)))
    assert raw not in page and "Valid until" in page
    client.post(_url(post), {"action": "revoke_link", "link": link.pk})
    link.refresh_from_db()
    assert link.revoked_at is not None
    assert AuditEvent.objects.filter(action="review_link.revoke").exists()
    assert client.get(reverse("review_link", args=[raw])).status_code == 410


@pytest.mark.parametrize("data", [{"reviewer_name": ""}, {"reviewer_name": "x" * 121},
                                  {"reviewer_name": "Ana", "reviewer_email": "not-an-email"}])
def test_hostile_review_link_forms(client, setup, data):
    brand, people, account = setup
    post = _post(brand, people, account)
    client.force_login(people["owner"])
    response = client.post(_url(post), {"action": "create_link", **data})
    assert response.status_code == 200
    assert not ReviewLink.objects.exists()


def test_review_links_need_compose(client, setup, brand_b):
    brand, people, account = setup
    post = _post(brand, people, account)
    approvals.do_create_review_link(Ctx(people["owner"]), post, reviewer_name="Ana")
    client.force_login(people["analyst"])
    page = html(client.get(_url(post)))
    assert "Client review links" not in page
    client.post(_url(post), {"action": "create_link", "reviewer_name": "Eve"})
    assert ReviewLink.objects.count() == 1
    link = ReviewLink.objects.get()
    client.post(_url(post), {"action": "revoke_link", "link": link.pk})
    link.refresh_from_db()
    assert link.revoked_at is None


def test_approval_settings_page(client, setup, brand_b):
    brand, people, _account = setup
    url = reverse("approval_settings", args=[brand.pk])
    client.force_login(people["community_manager"])
    assert client.get(url).status_code == 403
    client.force_login(people["manager"])
    page = html(client.get(url))
    assert "alpha_owner" in page and "alpha_manager" in page and "alpha_cm" not in page
    # Another brand's user, or a community manager, is not a valid choice.
    for bad in (brand_b[1]["owner"].pk, people["community_manager"].pk, "abc"):
        response = client.post(url, {"required": "on", "approvers": [bad]})
        assert response.status_code == 200
        assert not ApprovalPolicy.objects.filter(brand=brand).exists()
    response = client.post(url, {"approvers": [people["owner"].pk]}, follow=True)
    assert "Approval rules saved." in messages_of(response)
    policy = ApprovalPolicy.objects.get(brand=brand)
    assert (policy.required, policy.reapprove_on_edit) == (False, False)
    assert list(policy.approvers.all()) == [people["owner"]]
    page = html(client.get(reverse("brand_settings", args=[brand.pk])))
    assert url in page  # the settings tabs link it


@pytest.mark.parametrize("url, shown", [("https://masto.es/@alpha/1", True), ("javascript:alert(1)", False)])
def test_published_targets_link_to_the_network_only_over_https(client, setup, url, shown):
    brand, people, account = setup
    post = _post(brand, people, account, submit=False)
    approvals.do_mark_approved(Ctx(people["owner"]), post)
    PostTarget.objects.filter(post=post).update(state=PostTarget.State.PUBLISHED, external_url=url)
    client.force_login(people["analyst"])
    page = html(client.get(_url(post)))
    assert (f'href="{url}"' in page) is shown
    assert "javascript:alert" not in page.split("<main", 1)[1] or not shown
