"""API routes of the approval workflow: submit, approve, reject (request changes), comments,
client review links, the brand's approval policy, and the caller's notifications.

Thin like the other routers: the brand comes from ``scoping.get_brand`` (404 for strangers,
403 for a role or a read-only token without the permission), the post from
``Post.objects.for_user`` within that brand, and every write goes through
``content.approvals`` (audited with via="api"). A raw review-link token is returned once, on
creation; only its hash is stored.
"""

from __future__ import annotations

from datetime import datetime

from ninja import Field, Router, Schema, Status
from ninja.pagination import paginate

from tertulia.core import notifications as notices
from tertulia.core import roles
from tertulia.core.api import MAX_PAGE, In, Pagination, Text, _ctx, _one, _responses
from tertulia.core.models import Notification
from tertulia.core.scoping import get_brand, require_writing_token

from . import approvals
from .models import Post, ReviewLink

router = Router()

Version = Field(..., ge=1, le=2**31 - 1, description="The post's version you saw: a stale one is refused (422).")


# --- Schemas -------------------------------------------------------------------------------

class PostStateOut(Schema):
    id: int
    brand_id: int
    state: str
    state_label: str
    version: int
    scheduled_at: datetime | None

    @staticmethod
    def resolve_state_label(obj):
        return str(obj.get_state_display())


class SubmitIn(In):
    version: int | None = Field(None, ge=1, le=2**31 - 1,
                                description="The version you saw; left out, the current one.")


class ApproveIn(In):
    version: int = Version


class RejectIn(In):
    comment: Text(approvals.COMMENT_LIMIT, 1) = Field(..., description="What must change (required).")
    version: int = Version


class CommentOut(Schema):
    id: int
    post_id: int
    author_id: int | None
    author: str
    guest_name: str
    body: str
    mentions: list[str]
    created_at: datetime

    @staticmethod
    def resolve_author(obj):
        return obj.author.get_username() if obj.author_id and obj.author else ""

    @staticmethod
    def resolve_mentions(obj):
        return sorted(u.username for u in obj.mentions.all())


class CommentIn(In):
    body: Text(approvals.COMMENT_LIMIT, 1)


class ReviewLinkOut(Schema):
    id: int
    post_id: int
    reviewer_name: str
    reviewer_email: str
    created_at: datetime
    expires_at: datetime
    revoked_at: datetime | None
    used_at: datetime | None
    valid: bool

    @staticmethod
    def resolve_valid(obj):
        return approvals.is_valid(obj)


class ReviewLinkCreated(ReviewLinkOut):
    url: str = Field(..., description="The link to send to the client. Shown only now: only its hash is kept.")


class ReviewLinkIn(In):
    reviewer_name: Text(120, 1)
    reviewer_email: Text(254) = Field("", description="If given, the link is e-mailed to the client.")
    days: int = Field(approvals.REVIEW_LINK_DAYS, ge=1, le=60, description="How long the link works.")


class PolicyOut(Schema):
    brand_id: int
    required: bool
    approver_ids: list[int]
    reapprove_on_edit: bool


class PolicyIn(In):
    required: bool
    approver_ids: list[int] = Field(default_factory=list, max_length=500,
                                    description="Members who may approve; empty means any owner or manager.")
    reapprove_on_edit: bool = True


class NotificationOut(Schema):
    id: int
    brand_id: int | None
    kind: str
    text: str
    link: str
    created_at: datetime
    read_at: datetime | None

    @staticmethod
    def resolve_text(obj):
        return notices.text(obj)


class ReadOut(Schema):
    marked: int


# --- Helpers -------------------------------------------------------------------------------

def _post(request, brand_id: int, post_id: int, permission: str = roles.VIEW) -> Post:
    brand = get_brand(request.user, brand_id, permission)
    return _one(Post.objects.for_user(request.user, permission).select_related("brand", "author"),
                pk=post_id, brand=brand)


def _policy_out(brand, policy) -> dict:
    return {"brand_id": brand.pk, "required": policy.required, "reapprove_on_edit": policy.reapprove_on_edit,
            "approver_ids": sorted(u.pk for u in approvals.named_approvers(policy))}


# --- Transitions ----------------------------------------------------------------------------

@router.post("/brands/{brand_id}/posts/{post_id}/submit", response=_responses(200, PostStateOut),
             tags=["approvals"], summary="Send a post for review")
def post_submit(request, brand_id: int, post_id: int, payload: SubmitIn):
    """Draft or changes requested → in review (or straight to approved/scheduled when the brand
    does not require approval). A post already in review is left as it is."""
    post = _post(request, brand_id, post_id, roles.COMPOSE)
    return approvals.do_submit_for_review(_ctx(request), post, version=payload.version)


@router.post("/brands/{brand_id}/posts/{post_id}/approve", response=_responses(200, PostStateOut),
             tags=["approvals"], summary="Approve a post in review")
def post_approve(request, brand_id: int, post_id: int, payload: ApproveIn):
    """In review → scheduled (with a time, which must still be ahead) or approved."""
    post = _post(request, brand_id, post_id, roles.APPROVE)
    return approvals.do_approve(_ctx(request), post, version=payload.version)


@router.post("/brands/{brand_id}/posts/{post_id}/reject", response=_responses(200, PostStateOut),
             tags=["approvals"], summary="Request changes to a post in review")
def post_reject(request, brand_id: int, post_id: int, payload: RejectIn):
    post = _post(request, brand_id, post_id, roles.APPROVE)
    return approvals.do_request_changes(_ctx(request), post, comment=payload.comment, version=payload.version)


# --- Comments --------------------------------------------------------------------------------

@router.get("/brands/{brand_id}/posts/{post_id}/comments", response=_responses(200, list[CommentOut]),
            tags=["approvals"])
@paginate(Pagination, max_limit=MAX_PAGE)
def comment_list(request, brand_id: int, post_id: int):
    """The post's review comments, oldest first."""
    post = _post(request, brand_id, post_id)
    return approvals.comments_for(post)


@router.post("/brands/{brand_id}/posts/{post_id}/comments", response=_responses(201, CommentOut),
             tags=["approvals"])
def comment_create(request, brand_id: int, post_id: int, payload: CommentIn):
    """Comment on a post; ``@username`` of a brand member notifies them."""
    post = _post(request, brand_id, post_id)
    return Status(201, approvals.do_comment(_ctx(request), post, payload.body))


# --- Client review links ----------------------------------------------------------------------

@router.get("/brands/{brand_id}/posts/{post_id}/review-links", response=_responses(200, list[ReviewLinkOut]),
            tags=["approvals"])
@paginate(Pagination, max_limit=MAX_PAGE)
def review_link_list(request, brand_id: int, post_id: int):
    post = _post(request, brand_id, post_id, roles.COMPOSE)
    return ReviewLink.objects.for_user(request.user, roles.COMPOSE).filter(brand=post.brand, post=post).order_by(
        "-created_at", "-id")


@router.post("/brands/{brand_id}/posts/{post_id}/review-links", response=_responses(201, ReviewLinkCreated),
             tags=["approvals"])
def review_link_create(request, brand_id: int, post_id: int, payload: ReviewLinkIn):
    """A magic link for a client to comment on or approve this post without an account."""
    post = _post(request, brand_id, post_id, roles.COMPOSE)
    # The service validates the address (422 with the field's error).
    link, raw = approvals.do_create_review_link(_ctx(request), post, reviewer_name=payload.reviewer_name,
                                                reviewer_email=payload.reviewer_email, days=payload.days)
    link.url = approvals.review_url(raw)
    return Status(201, link)


@router.delete("/brands/{brand_id}/posts/{post_id}/review-links/{review_link_id}", response=_responses(204, None),
               tags=["approvals"])
def review_link_revoke(request, brand_id: int, post_id: int, review_link_id: int):
    post = _post(request, brand_id, post_id, roles.COMPOSE)
    link = _one(ReviewLink.objects.for_user(request.user, roles.COMPOSE), pk=review_link_id, post=post,
                brand=post.brand)
    approvals.do_revoke_review_link(_ctx(request), link)
    return Status(204, None)


# --- Approval policy --------------------------------------------------------------------------

@router.get("/brands/{brand_id}/approval-policy", response=_responses(200, PolicyOut), tags=["approvals"])
def policy_get(request, brand_id: int):
    brand = get_brand(request.user, brand_id)
    return _policy_out(brand, approvals.get_policy(brand))


@router.put("/brands/{brand_id}/approval-policy", response=_responses(200, PolicyOut), tags=["approvals"])
def policy_put(request, brand_id: int, payload: PolicyIn):
    brand = get_brand(request.user, brand_id, roles.MANAGE_BRAND)
    policy = approvals.do_update_policy(_ctx(request), brand, payload.required, payload.approver_ids,
                                        payload.reapprove_on_edit)
    return _policy_out(brand, policy)


# --- The caller's notifications ---------------------------------------------------------------

@router.get("/notifications", response=_responses(200, list[NotificationOut]), tags=["notifications"])
@paginate(Pagination, max_limit=MAX_PAGE)
def notification_list(request, unread: bool = False):
    """The caller's own notifications, newest first, in the caller's language."""
    qs = Notification.objects.filter(recipient=request.user)
    if unread:
        qs = qs.filter(read_at__isnull=True)
    return _scoped_notifications(request, qs).order_by("-created_at", "-id")


def _scoped_notifications(request, qs):
    # A token reaches only the brands granted to it: notifications of other brands stay hidden.
    if getattr(request.user, "api_token", None) is not None:
        from django.db.models import Q

        from tertulia.core.scoping import brands_for

        qs = qs.filter(Q(brand__isnull=True) | Q(brand__in=brands_for(request.user)))
    return qs


@router.post("/notifications/{notification_id}/read", response=_responses(200, ReadOut), tags=["notifications"])
def notification_read(request, notification_id: int):
    require_writing_token(request.user)  # marking read is a write
    notification = _one(_scoped_notifications(request, Notification.objects.filter(recipient=request.user)),
                        pk=notification_id)
    return {"marked": notices.mark_read(request.user, [notification.pk])}


@router.post("/notifications/read-all", response=_responses(200, ReadOut), tags=["notifications"])
def notification_read_all(request):
    require_writing_token(request.user)  # marking read is a write
    ids = _scoped_notifications(request, Notification.objects.filter(recipient=request.user, read_at__isnull=True))
    return {"marked": notices.mark_read(request.user, list(ids.values_list("pk", flat=True)))}

