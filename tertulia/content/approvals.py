"""The approval workflow: review, approval, requested changes, comments, @mentions and the
client's magic review links.

States of a post (``Post.State``)::

    draft ──submit──▶ in review ──approve──▶ approved (no time) / scheduled (with a time)
      ▲                  │
      │                  └──request changes──▶ changes requested ──submit──▶ in review

Every transition is a conditional UPDATE on the post's ``version`` the actor saw: an approval
given on a stale page never applies to a text the approver did not read. Every transition is
in the audit log, and the people concerned get an in-app notification and an e-mail.

Rules per brand (``ApprovalPolicy``; defaults when the brand has no row: approval required,
any owner or manager approves, editing an approved post sends it back to review):

- ``required`` False: submitting a post approves it at once (it is scheduled if it has a time).
- ``approvers`` non-empty: only those members may approve.

Client review links: a client with no account opens ``/review/<token>/`` and may comment on or
approve that one post. The client's approval can never grant more than the member who created
the link could: it moves the post to approved/scheduled only when the post is in review and the
link's creator may still approve it themselves (holds APPROVE on the brand and, when the policy
names approvers, is one of them), and the post can go out as it is (its time is still ahead
and its text fits every network). Otherwise the approval is recorded (a comment, an audit
event, a notification to the approvers) and a member approver still has to approve.
Approving through a link uses it up; comments do not. The client sees the post and the
comments made through review links, never the team's internal comments.
"""

from __future__ import annotations

import re
import secrets
from datetime import datetime, timedelta

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import F
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from tertulia.core import audit, roles
from tertulia.core.models import Brand, Membership, User
from tertulia.core.models import _hash_token as hash_token
from tertulia.core.notes import note
from tertulia.core.notifications import notify
from tertulia.core.scoping import has_perm, require_writing_token
from tertulia.core.services import Ctx, _log, _require
from tertulia.publishing.models import PostTarget

from .models import ApprovalPolicy, Post, PostComment, ReviewLink

S = Post.State
T = PostTarget.State

MSG_CHANGED = _("This post changed since you opened it. Reload it and try again.")
MSG_CANNOT_SUBMIT = _("Only a draft or a post with changes requested can be sent for review.")
MSG_CANNOT_APPROVE = _("Only a post in review can be approved.")
MSG_CANNOT_REQUEST = _("Changes can only be requested on a post in review.")
MSG_NOT_APPROVER = _("This brand's approval rules name other approvers for its posts.")
MSG_PAST = _("The scheduled time of this post has already passed. Choose a new time, then approve it.")
MSG_NEEDS_REASON = _("Say what needs to change.")
MSG_EMPTY_COMMENT = _("Write a comment first.")
MSG_COMMENT_TOO_LONG = _("A comment can be at most %(limit)s characters.")
MSG_NOT_MEMBER_APPROVER = _("Approvers must be members of the brand who may approve posts.")
MSG_NAME_REQUIRED = _("Give the reviewer's name.")

COMMENT_LIMIT = 5000
REVIEW_LINK_DAYS = 14
# Target states before approval: the targets follow the post through review.
_UNAPPROVED_TARGETS = (T.DRAFT, T.PENDING_APPROVAL)
MENTION_RE = re.compile(r"(?<![\w@.])@([\w.+-]{1,150})")


# --- Policy --------------------------------------------------------------------------------

def get_policy(brand: Brand) -> ApprovalPolicy:
    """The brand's policy, or the defaults (an unsaved row) when it has none."""
    policy = ApprovalPolicy.objects.filter(brand=brand).first()
    return policy if policy is not None else ApprovalPolicy(brand=brand, required=True, reapprove_on_edit=True)


def named_approvers(policy: ApprovalPolicy) -> list[User]:
    """The policy's approvers who may still approve. A named approver who left the brand or
    lost the role drops out; if none is left, any owner or manager approves again (a post is
    never stuck waiting for nobody)."""
    if not policy.pk:
        return []
    return list(policy.approvers.filter(is_active=True, memberships__brand=policy.brand_id,
                                        memberships__role__in=roles.roles_with(roles.APPROVE))
                .distinct().order_by("username"))


def approvers_for(brand: Brand, policy: ApprovalPolicy | None = None) -> list[User]:
    """Who is asked to approve: the policy's approvers who still may, else every owner and manager."""
    policy = policy or get_policy(brand)
    approver_roles = roles.roles_with(roles.APPROVE)
    members = User.objects.filter(memberships__brand=brand, memberships__role__in=approver_roles, is_active=True)
    named = named_approvers(policy)
    if named:
        members = members.filter(pk__in=[u.pk for u in named])
    return list(members.distinct().order_by("username"))


def can_approve(user, post: Post, policy: ApprovalPolicy | None = None) -> bool:
    """Whether ``user`` may approve ``post`` (permission and the policy's list)."""
    if user is None or not getattr(user, "is_authenticated", False):
        return False
    if not has_perm(user, post.brand, roles.APPROVE):
        return False
    policy = policy or get_policy(post.brand)
    named = named_approvers(policy)
    return not named or any(u.pk == user.pk for u in named)


def eligible_approvers(brand: Brand):
    """Members who hold APPROVE: the choices for the policy's approvers."""
    return (User.objects.filter(memberships__brand=brand, memberships__role__in=roles.roles_with(roles.APPROVE))
            .distinct().order_by("username"))


@transaction.atomic
def do_update_policy(ctx: Ctx, brand: Brand, required: bool, approver_ids, reapprove_on_edit: bool) -> ApprovalPolicy:
    _require(ctx, brand, roles.MANAGE_BRAND)
    ids = set()
    for value in approver_ids or []:
        try:
            ids.add(int(value))
        except (TypeError, ValueError):
            raise ValidationError({"approvers": MSG_NOT_MEMBER_APPROVER}) from None
    approvers = list(eligible_approvers(brand).filter(pk__in=ids))
    if len(approvers) != len(ids):
        raise ValidationError({"approvers": MSG_NOT_MEMBER_APPROVER})
    policy, _created = ApprovalPolicy.objects.select_for_update().get_or_create(brand=brand)
    before = {"required": policy.required, "reapprove_on_edit": policy.reapprove_on_edit,
              "approvers": sorted(u.username for u in policy.approvers.all())}
    policy.required, policy.reapprove_on_edit = bool(required), bool(reapprove_on_edit)
    policy.save()
    policy.approvers.set(approvers)
    after = {"required": policy.required, "reapprove_on_edit": policy.reapprove_on_edit,
             "approvers": sorted(u.username for u in approvers)}
    changes = audit.diff(before, after)
    if changes:
        _log(ctx, "approval_policy.update", brand=brand, obj=policy, changes=changes)
    return policy


# --- Helpers -------------------------------------------------------------------------------

def post_url(post: Post) -> str:
    return reverse("post_detail", args=[post.brand_id, post.pk])


def _move(post: Post, allowed: tuple, to: str, version: int, refused) -> None:
    """The conditional UPDATE of one transition; raises a clear error when it does not apply."""
    updated = Post.objects.filter(pk=post.pk, brand=post.brand_id, version=version, state__in=allowed).update(
        state=to, version=F("version") + 1, updated_at=timezone.now())
    if not updated:
        post.refresh_from_db(fields=["state", "version"])
        if post.version != version:
            raise ValidationError(MSG_CHANGED, code="changed")
        raise ValidationError(refused, code="state")
    post.refresh_from_db(fields=["state", "version", "updated_at"])


def _move_targets(post: Post, to: str, from_states=_UNAPPROVED_TARGETS, **fields) -> int:
    return PostTarget.objects.filter(post=post, state__in=from_states).update(
        state=to, version=F("version") + 1, **fields)


def _version(post: Post, version) -> int:
    if version is None:
        return post.version
    try:
        return int(version)
    except (TypeError, ValueError):
        raise ValidationError(MSG_CHANGED, code="changed") from None


def _clean_body(body, *, required_message=MSG_EMPTY_COMMENT) -> str:
    body = (body or "").strip() if isinstance(body, str) or body is None else str(body).strip()
    if not body:
        raise ValidationError({"body": required_message})
    if "\x00" in body:
        raise ValidationError({"body": _("Null characters are not allowed.")})
    if len(body) > COMMENT_LIMIT:
        raise ValidationError({"body": MSG_COMMENT_TOO_LONG % {"limit": COMMENT_LIMIT}})
    return body


def _commenters(post: Post) -> list[User]:
    ids = PostComment.objects.filter(post=post, author__isnull=False).values_list("author_id", flat=True)
    # Only people who are still members of the brand.
    return list(User.objects.filter(pk__in=ids, memberships__brand=post.brand_id).distinct())


def _go_live(ctx: Ctx, post: Post) -> Post:
    """After the post moved to approved: approve its targets and, if it has a time, schedule
    each of them (``do_schedule`` validates the text for the network and queues the task)."""
    from tertulia.publishing.services import do_schedule

    _move_targets(post, T.APPROVED)
    if post.scheduled_at:
        for target in PostTarget.objects.filter(post=post, state=T.APPROVED).select_related("account", "brand"):
            do_schedule(ctx, target, due_at=post.scheduled_at)
        Post.objects.filter(pk=post.pk, state=S.APPROVED).update(state=S.SCHEDULED)
        post.refresh_from_db(fields=["state", "version", "updated_at"])
    return post


def _check_time(post: Post) -> None:
    if post.scheduled_at and post.scheduled_at <= timezone.now():
        raise ValidationError({"scheduled_at": MSG_PAST}, code="past")


# --- Transitions ---------------------------------------------------------------------------

@transaction.atomic
def do_submit_for_review(ctx: Ctx, post: Post, *, version: int | None = None) -> Post:
    """Send a draft (or a post with changes requested) for review and ask the approvers.

    When the brand does not require approval, the post is approved at once (and scheduled if
    it has a time)."""
    _require(ctx, post.brand, roles.COMPOSE)
    version = _version(post, version)
    if post.state == S.PENDING_APPROVAL and post.version == version:
        return post  # already in review (a double click, a retried request): nothing to do
    # Every way in (composer, post page, API, CSV import) gets the same check: a post with an
    # error for one of its networks is refused with the reasons, before anyone is asked.
    from .composer import report_for_post

    report = report_for_post(post)
    if report.has_errors:
        raise ValidationError(report.error_messages(), code="invalid")
    policy = get_policy(post.brand)
    before = post.state
    if not policy.required:
        _check_time(post)
    _move(post, (S.DRAFT, S.CHANGES_REQUESTED), S.PENDING_APPROVAL, version, MSG_CANNOT_SUBMIT)
    _move_targets(post, T.PENDING_APPROVAL)
    _log(ctx, "post.submit", brand=post.brand, obj=post, changes={"state": [before, post.state]})
    if not policy.required:
        approved_version = post.version
        _move(post, (S.PENDING_APPROVAL,), S.APPROVED, approved_version, MSG_CANNOT_APPROVE)
        _go_live(ctx, post)
        _log(ctx, "post.approve", brand=post.brand, obj=post,
             changes={"state": [S.PENDING_APPROVAL, post.state], "automatic": True})
        return post
    ask_approvers(ctx, post, policy)
    return post


def ask_approvers(ctx: Ctx, post: Post, policy: ApprovalPolicy | None = None) -> None:
    """Notify the approvers (the policy's, else owners and managers) that ``post`` waits for
    them; never the actor. Also for a post sent back to review by an edit (the composer)."""
    who = ctx.user.get_full_name() or ctx.user.get_username()
    notify(approvers_for(post.brand, policy), kind="post.submitted", brand=post.brand, link=post_url(post),
           message=note(_("%(user)s asks you to approve a post for %(brand)s: “%(post)s”"),
                        user=who, brand=post.brand.name, post=str(post)),
           exclude=ctx.user)


@transaction.atomic
def do_approve(ctx: Ctx, post: Post, *, version: int | None = None) -> Post:
    """Approve a post in review: scheduled if it has a time (that must still be ahead),
    approved otherwise. Only the policy's approvers, or any owner or manager."""
    _require(ctx, post.brand, roles.APPROVE)
    policy = get_policy(post.brand)
    if not can_approve(ctx.user, post, policy):
        raise PermissionDenied(MSG_NOT_APPROVER)
    version = _version(post, version)
    return _approve(ctx, post, version, who=ctx.user.get_full_name() or ctx.user.get_username())


def _approve(ctx: Ctx, post: Post, version: int, *, who: str, via_link: ReviewLink | None = None) -> Post:
    if post.state == S.PENDING_APPROVAL and post.version == version:
        _check_time(post)
    _move(post, (S.PENDING_APPROVAL,), S.APPROVED, version, MSG_CANNOT_APPROVE)
    _go_live(ctx, post)
    changes = {"state": [S.PENDING_APPROVAL, post.state]}
    if via_link is not None:
        changes["review_link"] = via_link.pk
    if via_link is None:
        _log(ctx, "post.approve", brand=post.brand, obj=post, changes=changes)
    recipients = [post.author, *_commenters(post)] if post.author_id else _commenters(post)
    message = (_("%(user)s, the client, approved a post for %(brand)s: “%(post)s”") if via_link is not None
               else _("%(user)s approved your post for %(brand)s: “%(post)s”"))
    notify(recipients, kind="post.approved", brand=post.brand, link=post_url(post),
           message=note(message, user=who, brand=post.brand.name, post=str(post)),
           exclude=ctx.user if via_link is None else None)
    return post


@transaction.atomic
def do_request_changes(ctx: Ctx, post: Post, *, comment: str, version: int | None = None) -> Post:
    """Send a post in review back to its author with what must change (a comment, required)."""
    _require(ctx, post.brand, roles.APPROVE)
    policy = get_policy(post.brand)
    if not can_approve(ctx.user, post, policy):
        raise PermissionDenied(MSG_NOT_APPROVER)
    body = _clean_body(comment, required_message=MSG_NEEDS_REASON)
    version = _version(post, version)
    _move(post, (S.PENDING_APPROVAL,), S.CHANGES_REQUESTED, version, MSG_CANNOT_REQUEST)
    _move_targets(post, T.DRAFT, from_states=(T.PENDING_APPROVAL,))
    comment_row = _add_comment(post, body, author=ctx.user)
    _log(ctx, "post.request_changes", brand=post.brand, obj=post,
         changes={"state": [S.PENDING_APPROVAL, post.state], "comment": body[:500], "comment_id": comment_row.pk})
    who = ctx.user.get_full_name() or ctx.user.get_username()
    recipients = [post.author, *_commenters(post)] if post.author_id else _commenters(post)
    notify(recipients, kind="post.changes_requested", brand=post.brand, link=post_url(post),
           message=note(_("%(user)s asked for changes to your post for %(brand)s: “%(comment)s”"),
                        user=who, brand=post.brand.name, comment=body[:200]),
           exclude=ctx.user)
    return post


@transaction.atomic
def do_mark_approved(ctx: Ctx, post: Post) -> Post:
    """Record an approval given outside the review workflow (the demo's history, importers,
    fixtures): a draft or a post in review becomes scheduled at its time (past or not) or
    approved. Its targets follow; nothing is queued here — the publishing sweeper picks up
    targets as they come due. Still a conditional UPDATE on the version, and audited."""
    _require(ctx, post.brand, roles.APPROVE)
    allowed = (S.DRAFT, S.PENDING_APPROVAL, S.CHANGES_REQUESTED)
    new_state = S.SCHEDULED if post.scheduled_at else S.APPROVED
    before = post.state
    _move(post, allowed, new_state, post.version, MSG_CANNOT_APPROVE)
    _move_targets(post, T(new_state), due_at=post.scheduled_at)
    _log(ctx, "post.approve", brand=post.brand, obj=post, changes={"state": [before, new_state]})
    return post


# --- Comments and @mentions ------------------------------------------------------------------

def mentioned_members(brand: Brand, body: str) -> list[User]:
    """The brand's members named as ``@username`` in ``body``. Anyone else is ignored, so a
    mention never reveals whether a username exists outside the brand."""
    names = {m.lower() for m in MENTION_RE.findall(body or "")}
    # "@ana." at the end of a sentence: also try without trailing punctuation.
    names |= {n.rstrip(".-") for n in names}
    names.discard("")
    if not names:
        return []
    members = User.objects.filter(memberships__brand=brand, is_active=True).distinct()
    return [u for u in members if u.username.lower() in names]


def _add_comment(post: Post, body: str, *, author: User | None = None, guest_name: str = "") -> PostComment:
    comment = PostComment.objects.create(brand=post.brand, post=post, author=author, guest_name=guest_name[:120],
                                         body=body)
    mentioned = mentioned_members(post.brand, body)
    if mentioned:
        comment.mentions.set(mentioned)
    return comment


@transaction.atomic
def do_comment(ctx: Ctx, post: Post, body: str) -> PostComment:
    """A member's comment on a post. Anyone who may see the brand may comment (client
    reviewers included). The author and the mentioned members are notified."""
    _require(ctx, post.brand, roles.VIEW)
    require_writing_token(ctx.user, post.brand)  # commenting needs only VIEW, but it is a write
    body = _clean_body(body)
    comment = _add_comment(post, body, author=ctx.user)
    mentioned = list(comment.mentions.all())
    _log(ctx, "post.comment", brand=post.brand, obj=post,
         changes={"comment_id": comment.pk, "mentions": sorted(u.username for u in mentioned)})
    _notify_comment(post, comment, who=ctx.user.get_full_name() or ctx.user.get_username(), exclude=ctx.user,
                    mentioned=mentioned)
    return comment


MSG_MENTION = _("%(user)s mentioned you in a comment on a post for %(brand)s: “%(comment)s”")
MSG_COMMENTED = _("%(user)s commented on your post for %(brand)s: “%(comment)s”")
MSG_CLIENT_COMMENTED = _("%(user)s, the client, commented on a post for %(brand)s: “%(comment)s”")


def _notify_comment(post: Post, comment: PostComment, *, who: str, exclude: User | None, mentioned,
                    client: bool = False, also=()) -> None:
    link = f"{post_url(post)}#comment-{comment.pk}"
    params = {"user": who, "brand": post.brand.name, "comment": comment.body[:200]}
    notify(mentioned, kind="post.mention", brand=post.brand, link=link,
           message=note(MSG_CLIENT_COMMENTED if client else MSG_MENTION, **params), exclude=exclude)
    already = {u.pk for u in mentioned}
    others = [post.author] if post.author_id else []
    others += list(also)
    others = [u for u in others if u.pk not in already and u.is_active
              and Membership.objects.filter(brand=post.brand_id, user=u.pk).exists()]
    notify(others, kind="post.comment", brand=post.brand, link=link,
           message=note(MSG_CLIENT_COMMENTED if client else MSG_COMMENTED, **params), exclude=exclude)


def comments_for(post: Post):
    return (PostComment.objects.filter(post=post, brand=post.brand_id)
            .select_related("author").prefetch_related("mentions"))


# --- Client review links ----------------------------------------------------------------------

def review_url(raw: str) -> str:
    return settings.SITE_URL + reverse("review_link", args=[raw])


@transaction.atomic
def do_create_review_link(ctx: Ctx, post: Post, *, reviewer_name: str, reviewer_email: str = "",
                          days: int = REVIEW_LINK_DAYS, language: str | None = None) -> tuple[ReviewLink, str]:
    """A magic link for a client to review one post. Returns the link and its raw token
    (shown once; only the hash is stored). E-mailed to the reviewer after commit if an
    address is given."""
    from django.core.validators import validate_email

    _require(ctx, post.brand, roles.COMPOSE)
    name = (reviewer_name or "").strip()
    if not name:
        raise ValidationError({"reviewer_name": MSG_NAME_REQUIRED})
    if len(name) > 120 or "\x00" in name:
        raise ValidationError({"reviewer_name": _("A name can be at most %(limit)s characters.") % {"limit": 120}})
    email = (reviewer_email or "").strip()
    if email:
        if len(email) > 254:
            raise ValidationError({"reviewer_email": _("Enter a valid e-mail address.")})
        try:
            validate_email(email)
        except ValidationError:
            raise ValidationError({"reviewer_email": _("Enter a valid e-mail address.")}) from None
    days = max(1, min(int(days or REVIEW_LINK_DAYS), 60))
    raw = secrets.token_urlsafe(32)
    link = ReviewLink.objects.create(brand=post.brand, post=post, token_hash=hash_token(raw), reviewer_name=name,
                                     reviewer_email=email, created_by=ctx.user,
                                     expires_at=timezone.now() + timedelta(days=days))
    _log(ctx, "review_link.create", brand=post.brand, obj=link,
         changes={"post": post.pk, "reviewer_name": name, "reviewer_email": email, "expires_at": link.expires_at})
    if email:
        from .tasks_review import send_review_link_email

        lang = language or post.brand.language
        transaction.on_commit(lambda: send_review_link_email(link.pk, raw, lang))
    return link, raw


def send_review_link(link: ReviewLink, raw: str, language: str) -> None:
    """The e-mail to the client, in ``language`` (the brand's unless given)."""
    from django.core.mail import EmailMultiAlternatives
    from django.template.loader import render_to_string
    from django.utils import translation

    with translation.override(language):
        context = {"link": link, "url": review_url(raw), "brand": link.brand, "post": link.post,
                   "sender": link.created_by, "expires_at": link.expires_at}
        subject = str(_("%(brand)s asks you to review a post") % {"brand": link.brand.name})
        text = render_to_string("content/review/email_review_link.txt", context)
        html = render_to_string("content/review/email_review_link.html", context)
    msg = EmailMultiAlternatives(subject.replace("\n", " "), text, settings.DEFAULT_FROM_EMAIL, [link.reviewer_email])
    msg.attach_alternative(html, "text/html")
    msg.send()


@transaction.atomic
def do_revoke_review_link(ctx: Ctx, link: ReviewLink) -> ReviewLink:
    _require(ctx, link.brand, roles.COMPOSE)
    if link.revoked_at is None:
        ReviewLink.objects.filter(pk=link.pk, revoked_at__isnull=True).update(revoked_at=timezone.now())
        link.refresh_from_db(fields=["revoked_at"])
        _log(ctx, "review_link.revoke", brand=link.brand, obj=link,
             changes={"post": link.post_id, "reviewer_name": link.reviewer_name})
    return link


def is_valid(link: ReviewLink | None, now: datetime | None = None) -> bool:
    now = now or timezone.now()
    return bool(link and link.revoked_at is None and link.used_at is None and link.expires_at > now)


def find_review_link(raw: str) -> ReviewLink | None:
    """The valid link for a raw token, or None (unknown, revoked, expired or used alike)."""
    if not raw or len(raw) > 200:
        return None
    link = (ReviewLink.objects.filter(token_hash=hash_token(raw))
            .select_related("post", "brand", "brand__organization", "created_by").first())
    return link if is_valid(link) else None


def _guest_log(link: ReviewLink, action: str, ip: str | None, changes: dict):
    """An audit event whose actor is the client, recorded by name (they have no account)."""
    event = audit.record(None, action, brand=link.brand, obj=link.post, via="review_link", ip=ip,
                         changes={"review_link": link.pk, **changes})
    event.actor_name = f"{link.reviewer_name} (client)"[:150]
    event.save(update_fields=["actor_name"])
    return event


def client_approval_counts(link: ReviewLink) -> bool:
    """The client's approval stands for the link creator's: it counts only if they could
    approve the post themselves now."""
    creator = link.created_by
    return creator is not None and creator.is_active and can_approve(creator, link.post)


@transaction.atomic
def do_client_comment(link: ReviewLink, body: str, *, ip: str | None = None) -> PostComment:
    link = ReviewLink.objects.select_for_update(of=("self",)).select_related("post", "brand").get(pk=link.pk)
    if not is_valid(link):
        raise PermissionDenied(_("This link is no longer valid."))
    body = _clean_body(body)
    post = link.post
    comment = _add_comment(post, body, guest_name=link.reviewer_name)
    mentioned = list(comment.mentions.all())
    _guest_log(link, "review_link.comment", ip, {"comment_id": comment.pk})
    # The link's creator follows the client's review even if they did not write the post.
    _notify_comment(post, comment, who=link.reviewer_name, exclude=None, mentioned=mentioned, client=True,
                    also=[link.created_by] if link.created_by_id else [])
    return comment


@transaction.atomic
def do_client_approve(link: ReviewLink, *, version: int | None, note_text: str = "",
                      ip: str | None = None) -> tuple[Post, bool]:
    """The client approves the post they were sent. Returns the post and whether the approval
    moved it (see the module's docstring for the rule); the link is used up either way."""
    link = ReviewLink.objects.select_for_update(of=("self",)).select_related("post", "brand", "created_by").get(
        pk=link.pk)
    if not is_valid(link):
        raise PermissionDenied(_("This link is no longer valid."))
    post = link.post
    version = _version(post, version)
    if post.version != version:
        raise ValidationError(MSG_CHANGED, code="changed")
    extra = (note_text or "").strip()
    body = _clean_body(str(_("Approved.")) + (f"\n\n{extra}" if extra else ""))
    comment = _add_comment(post, body, guest_name=link.reviewer_name)
    moved = False
    who = link.reviewer_name
    if post.state == S.PENDING_APPROVAL and client_approval_counts(link):
        # Schedules on behalf of the creator, who may approve (and so compose) for the brand.
        # If the post cannot go out as it is (its time has passed, its text no longer fits a
        # network), the client's approval is still recorded and the team decides.
        ctx = Ctx(link.created_by, via="review_link", ip=ip)
        try:
            with transaction.atomic():
                _approve(ctx, post, version, who=who, via_link=link)
            moved = True
        except ValidationError:
            post.refresh_from_db()
    ReviewLink.objects.filter(pk=link.pk).update(used_at=timezone.now())
    _guest_log(link, "review_link.approve", ip,
               {"comment_id": comment.pk, "counts": moved, "state": post.state, "version": version})
    if not moved:
        notify([*approvers_for(post.brand), *([link.created_by] if link.created_by_id else [])],
               kind="post.client_approved", brand=post.brand, link=post_url(post),
               message=note(_("%(user)s, the client, approved a post for %(brand)s: “%(post)s”"),
                            user=who, brand=post.brand.name, post=str(post)))
    return post, moved
