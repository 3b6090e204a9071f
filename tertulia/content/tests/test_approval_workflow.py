"""The approval workflow's services: submit, approve, request changes, comments with
@mentions, policies, and the notifications they raise."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone, translation

from tertulia.content import approvals
from tertulia.content.models import ApprovalPolicy, Post, PostComment
from tertulia.content.services import do_create_post
from tertulia.core.models import AuditEvent, Notification
from tertulia.core.services import Ctx
from tertulia.networks.services import do_add_account
from tertulia.publishing.models import PostTarget

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _english():
    with translation.override("en"):
        yield


@pytest.fixture
def setup(brand_a):
    brand, people = brand_a
    owner = Ctx(people["owner"])
    accounts = [do_add_account(owner, brand, network="mastodon", handle="@alpha@masto.es"),
                do_add_account(owner, brand, network="bluesky", handle="alpha.bsky.social")]
    return brand, people, accounts


def _draft(brand, people, accounts, *, text="Hola, mundo", when=timedelta(days=2), author="community_manager"):
    at = timezone.now() + when if when is not None else None
    return do_create_post(Ctx(people[author]), brand, text=text, accounts=accounts, scheduled_at=at)


def _kinds(user):
    return sorted(Notification.objects.filter(recipient=user).values_list("kind", flat=True))


def test_submit_moves_post_and_targets_to_review_and_asks_the_approvers(setup):
    brand, people, accounts = setup
    post = _draft(brand, people, accounts)
    version = post.version
    post = approvals.do_submit_for_review(Ctx(people["community_manager"]), post)
    assert post.state == Post.State.PENDING_APPROVAL
    assert post.version == version + 1
    assert set(post.targets.values_list("state", flat=True)) == {PostTarget.State.PENDING_APPROVAL}
    assert AuditEvent.objects.filter(action="post.submit", object_id=str(post.pk)).exists()
    # Owners and managers are asked; the author (the actor) and other roles are not.
    assert _kinds(people["owner"]) == ["post.submitted"]
    assert _kinds(people["manager"]) == ["post.submitted"]
    assert _kinds(people["community_manager"]) == []
    assert _kinds(people["client_reviewer"]) == _kinds(people["analyst"]) == []
    note = Notification.objects.get(recipient=people["manager"])
    assert note.link == f"/brands/{brand.pk}/posts/{post.pk}/"


def test_submit_from_a_stale_page_or_a_wrong_state_is_refused(setup):
    brand, people, accounts = setup
    cm = Ctx(people["community_manager"])
    post = _draft(brand, people, accounts)
    stale = Post.objects.get(pk=post.pk)
    Post.objects.filter(pk=post.pk).update(version=5)  # edited meanwhile
    with pytest.raises(ValidationError) as exc:
        approvals.do_submit_for_review(cm, stale)
    assert "changed" in str(exc.value)
    post.refresh_from_db()
    approvals.do_submit_for_review(cm, post)
    approvals.do_approve(Ctx(people["manager"]), post, version=post.version)
    with pytest.raises(ValidationError):  # a scheduled post is not "sent for review"
        approvals.do_submit_for_review(cm, post)
    with pytest.raises(PermissionDenied):
        approvals.do_submit_for_review(Ctx(people["analyst"]), _draft(brand, people, accounts))


def test_the_submit_approve_story_schedules_every_target(setup, django_capture_on_commit_callbacks):
    brand, people, accounts = setup
    post = approvals.do_submit_for_review(Ctx(people["community_manager"]), _draft(brand, people, accounts))
    with django_capture_on_commit_callbacks() as callbacks:
        post = approvals.do_approve(Ctx(people["manager"]), post, version=post.version)
    assert post.state == Post.State.SCHEDULED
    targets = list(post.targets.all())
    assert {t.state for t in targets} == {PostTarget.State.SCHEDULED}
    assert {t.due_at for t in targets} == {post.scheduled_at}
    # do_schedule queued one task per target (and the e-mails were queued too).
    assert len(callbacks) >= len(targets)
    assert AuditEvent.objects.filter(action="post.approve", object_id=str(post.pk)).count() == 1
    assert AuditEvent.objects.filter(action="target.schedule").count() == len(targets)
    assert _kinds(people["community_manager"]) == ["post.approved"]
    assert "post.approved" not in _kinds(people["manager"])  # never the actor


def test_approving_without_a_time_leaves_it_approved(setup):
    brand, people, accounts = setup
    post = approvals.do_submit_for_review(Ctx(people["community_manager"]),
                                          _draft(brand, people, accounts, when=None))
    post = approvals.do_approve(Ctx(people["owner"]), post, version=post.version)
    assert post.state == Post.State.APPROVED
    assert set(post.targets.values_list("state", flat=True)) == {PostTarget.State.APPROVED}


def test_a_time_already_past_asks_for_a_new_one(setup):
    brand, people, accounts = setup
    post = approvals.do_submit_for_review(Ctx(people["community_manager"]), _draft(brand, people, accounts))
    Post.objects.filter(pk=post.pk).update(scheduled_at=timezone.now() - timedelta(minutes=5))
    post.refresh_from_db()
    with pytest.raises(ValidationError) as exc:
        approvals.do_approve(Ctx(people["manager"]), post, version=post.version)
    assert "Choose a new time" in str(exc.value)
    post.refresh_from_db()
    assert post.state == Post.State.PENDING_APPROVAL


def test_approval_revalidates_the_text_and_rolls_back(setup):
    brand, people, accounts = setup
    too_long = "palabra " * 60  # > 300 for Bluesky
    draft = _draft(brand, people, accounts, text=too_long)
    with pytest.raises(ValidationError):  # refused before anyone is asked to approve it
        approvals.do_submit_for_review(Ctx(people["community_manager"]), draft)
    post = approvals.do_submit_for_review(Ctx(people["community_manager"]), _draft(brand, people, accounts))
    # The text became invalid after submission (written around the composer, or a limit changed):
    # approval checks it again.
    Post.objects.filter(pk=post.pk).update(text=too_long)
    post.refresh_from_db()
    with pytest.raises(ValidationError):
        approvals.do_approve(Ctx(people["manager"]), post, version=post.version)
    post.refresh_from_db()
    assert post.state == Post.State.PENDING_APPROVAL
    assert set(post.targets.values_list("state", flat=True)) == {PostTarget.State.PENDING_APPROVAL}
    assert not AuditEvent.objects.filter(action="post.approve").exists()


def test_only_approvers_approve_and_a_stale_version_is_refused(setup):
    brand, people, accounts = setup
    post = approvals.do_submit_for_review(Ctx(people["community_manager"]), _draft(brand, people, accounts))
    for role in ("community_manager", "analyst", "client_reviewer"):
        with pytest.raises(PermissionDenied):
            approvals.do_approve(Ctx(people[role]), post, version=post.version)
    with pytest.raises(ValidationError) as exc:
        approvals.do_approve(Ctx(people["manager"]), post, version=post.version - 1)
    assert "changed" in str(exc.value)
    # The policy names the owner: the manager may no longer approve.
    approvals.do_update_policy(Ctx(people["owner"]), brand, True, [people["owner"].pk], True)
    with pytest.raises(PermissionDenied):
        approvals.do_approve(Ctx(people["manager"]), post, version=post.version)
    approvals.do_approve(Ctx(people["owner"]), post, version=post.version)


def test_named_approvers_are_the_ones_asked(setup):
    brand, people, accounts = setup
    approvals.do_update_policy(Ctx(people["owner"]), brand, True, [people["manager"].pk], True)
    approvals.do_submit_for_review(Ctx(people["community_manager"]), _draft(brand, people, accounts))
    assert _kinds(people["manager"]) == ["post.submitted"]
    assert _kinds(people["owner"]) == []


def test_brands_without_required_approval_publish_on_submit(setup, django_capture_on_commit_callbacks):
    brand, people, accounts = setup
    approvals.do_update_policy(Ctx(people["owner"]), brand, False, [], False)
    with django_capture_on_commit_callbacks():
        post = approvals.do_submit_for_review(Ctx(people["community_manager"]), _draft(brand, people, accounts))
    assert post.state == Post.State.SCHEDULED
    assert set(post.targets.values_list("state", flat=True)) == {PostTarget.State.SCHEDULED}
    assert AuditEvent.objects.get(action="post.approve").changes["automatic"] is True
    assert Notification.objects.filter(kind="post.submitted").count() == 0


def test_request_changes_needs_a_comment_and_goes_back_to_the_author(setup):
    brand, people, accounts = setup
    cm, manager = Ctx(people["community_manager"]), Ctx(people["manager"])
    post = approvals.do_submit_for_review(cm, _draft(brand, people, accounts))
    for empty in ("", "   "):
        with pytest.raises(ValidationError):
            approvals.do_request_changes(manager, post, comment=empty, version=post.version)
    with pytest.raises(PermissionDenied):
        approvals.do_request_changes(cm, post, comment="no", version=post.version)
    post = approvals.do_request_changes(manager, post, comment="Cambia la foto, @alpha_cm", version=post.version)
    assert post.state == Post.State.CHANGES_REQUESTED
    assert set(post.targets.values_list("state", flat=True)) == {PostTarget.State.DRAFT}
    comment = PostComment.objects.get(post=post)
    assert (comment.author, comment.body) == (people["manager"], "Cambia la foto, @alpha_cm")
    assert "post.changes_requested" in _kinds(people["community_manager"])
    event = AuditEvent.objects.get(action="post.request_changes")
    assert event.changes["comment"] == "Cambia la foto, @alpha_cm"
    # Changes requested → edited → submitted again → approved.
    post = approvals.do_submit_for_review(cm, post)
    assert post.state == Post.State.PENDING_APPROVAL
    assert approvals.do_approve(manager, post, version=post.version).state == Post.State.SCHEDULED
    # Approving or requesting changes twice is refused with a clear error.
    with pytest.raises(ValidationError):
        approvals.do_request_changes(manager, post, comment="late", version=post.version)


def test_comments_notify_the_author_and_mentioned_members_only(setup, brand_b):
    brand, people, accounts = setup
    _b, b_people = brand_b
    post = approvals.do_submit_for_review(Ctx(people["community_manager"]), _draft(brand, people, accounts))
    Notification.objects.all().delete()
    body = "Mira esto @alpha_analyst y @beta_cm y @nobody, @ALPHA_MANAGER. Yo @alpha_owner"
    comment = approvals.do_comment(Ctx(people["owner"]), post, body)
    assert sorted(u.username for u in comment.mentions.all()) == ["alpha_analyst", "alpha_manager", "alpha_owner"]
    assert _kinds(people["analyst"]) == ["post.mention"]
    assert _kinds(people["manager"]) == ["post.mention"]
    assert _kinds(people["community_manager"]) == ["post.comment"]  # the author
    assert _kinds(people["owner"]) == []  # never the actor, even when mentioned
    assert _kinds(b_people["community_manager"]) == []  # another tenant's user is ignored
    assert AuditEvent.objects.get(action="post.comment").changes["mentions"] == [
        "alpha_analyst", "alpha_manager", "alpha_owner"]


def test_comment_limits(setup):
    brand, people, accounts = setup
    post = _draft(brand, people, accounts)
    ctx = Ctx(people["client_reviewer"])  # client reviewers may comment
    approvals.do_comment(ctx, post, "ok")
    for bad in ("", "x" * (approvals.COMMENT_LIMIT + 1), "a\x00b"):
        with pytest.raises(ValidationError):
            approvals.do_comment(ctx, post, bad)
    assert PostComment.objects.filter(post=post).count() == 1


def test_policy_defaults_and_validation(setup, brand_b):
    brand, people, _accounts = setup
    policy = approvals.get_policy(brand)
    assert (policy.pk, policy.required, policy.reapprove_on_edit) == (None, True, True)
    owner = Ctx(people["owner"])
    with pytest.raises(ValidationError):  # a community manager cannot approve
        approvals.do_update_policy(owner, brand, True, [people["community_manager"].pk], True)
    with pytest.raises(ValidationError):  # nor can someone from another brand
        approvals.do_update_policy(owner, brand, True, [brand_b[1]["owner"].pk], True)
    with pytest.raises(ValidationError):
        approvals.do_update_policy(owner, brand, True, ["abc"], True)
    with pytest.raises(PermissionDenied):
        approvals.do_update_policy(Ctx(people["community_manager"]), brand, False, [], True)
    policy = approvals.do_update_policy(owner, brand, False, [people["manager"].pk], False)
    assert ApprovalPolicy.objects.get(brand=brand).required is False
    assert [u.pk for u in approvals.named_approvers(policy)] == [people["manager"].pk]
    assert AuditEvent.objects.filter(action="approval_policy.update").count() == 1


def test_recording_an_approval_keeps_the_old_contract(setup):
    """do_mark_approved (the demo's and importers' history) approves a draft at any time."""
    brand, people, accounts = setup
    post = _draft(brand, people, accounts, when=timedelta(days=-3))
    post = approvals.do_mark_approved(Ctx(people["owner"]), post)
    assert post.state == Post.State.SCHEDULED
    assert set(post.targets.values_list("state", flat=True)) == {PostTarget.State.SCHEDULED}


def test_notification_emails_go_out_in_the_recipients_language(setup, django_capture_on_commit_callbacks,
                                                               mailoutbox):
    brand, people, accounts = setup
    people["manager"].language = "es"
    people["manager"].save()
    with django_capture_on_commit_callbacks(execute=True):
        approvals.do_submit_for_review(Ctx(people["community_manager"]), _draft(brand, people, accounts))
    by_to = {m.to[0]: m for m in mailoutbox}
    assert "pide que apruebes" in by_to[people["manager"].email].body
    assert "asks you to approve" in by_to[people["owner"].email].body
    assert f"/brands/{brand.pk}/posts/" in by_to[people["owner"].email].body
    assert people["community_manager"].email not in by_to


def test_a_named_approver_who_loses_the_role_does_not_block_the_brand(setup):
    from tertulia.core import services as core_services
    from tertulia.core.models import Membership

    brand, people, accounts = setup
    owner = Ctx(people["owner"])
    approvals.do_update_policy(owner, brand, True, [people["manager"].pk], True)
    post = approvals.do_submit_for_review(Ctx(people["community_manager"]), _draft(brand, people, accounts))
    with pytest.raises(PermissionDenied):
        approvals.do_approve(owner, post, version=post.version)
    membership = Membership.objects.get(brand=brand, user=people["manager"])
    core_services.do_change_role(owner, membership, "analyst")
    assert approvals.named_approvers(approvals.get_policy(brand)) == []
    assert people["owner"] in approvals.approvers_for(brand)
    assert approvals.do_approve(owner, post, version=post.version).state == Post.State.SCHEDULED
