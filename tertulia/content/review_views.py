"""Pages of the approval workflow: a post's page (preview, targets, review actions, comments
with @mentions, client review links), the client's magic-link page, and the brand's approval
settings.

Thin views: the brand comes from ``brand_view`` (404 for strangers before any form is read),
the post from ``Post.objects.for_user`` within that brand, and every write goes through
``content.approvals``. The magic-link page is public: its token is the only key, and it opens
exactly one post.
"""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.cache import never_cache

from tertulia.core import roles
from tertulia.core.scoping import permissions_in
from tertulia.core.services import Ctx, client_ip
from tertulia.core.views import _apply_errors, _errors_to_messages, brand_view

from . import approvals
from .models import Post, PostMedia, ReviewLink


class CommentForm(forms.Form):
    body = forms.CharField(label=gettext_lazy("Comment"), max_length=approvals.COMMENT_LIMIT, strip=True,
                           widget=forms.Textarea(attrs={"rows": 3}),
                           help_text=gettext_lazy("Mention a teammate with @username."))


class ReviewLinkForm(forms.Form):
    reviewer_name = forms.CharField(label=gettext_lazy("Client's name"), max_length=120)
    reviewer_email = forms.EmailField(label=gettext_lazy("Client's e-mail (optional)"), required=False,
                                      max_length=254,
                                      help_text=gettext_lazy("If given, the link is e-mailed to the client."))


class ClientReviewForm(forms.Form):
    body = forms.CharField(label=gettext_lazy("Comment"), max_length=approvals.COMMENT_LIMIT, required=False,
                           widget=forms.Textarea(attrs={"rows": 4}))


class ApprovalPolicyForm(forms.Form):
    required = forms.BooleanField(label=gettext_lazy("Posts need approval before they go out"), required=False)
    approvers = forms.ModelMultipleChoiceField(
        label=gettext_lazy("Approvers"), required=False, queryset=None, widget=forms.CheckboxSelectMultiple,
        help_text=gettext_lazy("Leave all unticked to let any owner or manager approve."))
    reapprove_on_edit = forms.BooleanField(
        label=gettext_lazy("Editing an approved post sends it back to review"), required=False)

    def __init__(self, *args, brand, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["approvers"].queryset = approvals.eligible_approvers(brand)
        self.fields["approvers"].label_from_instance = lambda u: (
            f"{u.get_full_name()} (@{u.username})" if u.get_full_name() else f"@{u.username}")


def _post(request, brand, post_id, permission=roles.VIEW) -> Post:
    return get_object_or_404(Post.objects.for_user(request.user, permission).select_related("brand", "author"),
                             pk=post_id, brand=brand)


def _version(request) -> str:
    """The version of the text the person saw. Required: a form without it (a hand-made
    request) is treated as stale rather than as "whatever the text is now"."""
    return request.POST.get("version", "")


ACTIONS = ("comment", "approve", "request_changes", "submit", "create_link", "revoke_link")


@brand_view()
def post_detail(request, brand, post_id):
    post = _post(request, brand, post_id)
    perms = permissions_in(request.user, brand)
    comment_form = CommentForm()
    link_form = ReviewLinkForm()
    new_link = None
    if request.method == "POST":
        action = request.POST.get("action", "")
        ctx = Ctx.from_request(request)
        try:
            if action == "comment":
                comment_form = CommentForm(request.POST)
                if comment_form.is_valid():
                    approvals.do_comment(ctx, post, comment_form.cleaned_data["body"])
                    messages.success(request, _("Comment added."))
                    return redirect("post_detail", brand.pk, post.pk)
            elif action == "request_changes":
                comment_form = CommentForm(request.POST)
                if comment_form.is_valid():
                    approvals.do_request_changes(ctx, post, comment=comment_form.cleaned_data["body"],
                                                 version=_version(request))
                    messages.success(request, _("Changes requested. The author has been told."))
                    return redirect("post_detail", brand.pk, post.pk)
            elif action == "approve":
                approvals.do_approve(ctx, post, version=_version(request))
                messages.success(request, _("Post approved.") if post.state == Post.State.APPROVED
                                 else _("Post approved and scheduled."))
                return redirect("post_detail", brand.pk, post.pk)
            elif action == "submit":
                approvals.do_submit_for_review(ctx, post, version=_version(request))
                messages.success(request, _("Post sent for review.") if post.state == Post.State.PENDING_APPROVAL
                                 else _("This brand does not require approval: the post is approved."))
                return redirect("post_detail", brand.pk, post.pk)
            elif action == "create_link":
                if roles.COMPOSE not in perms:
                    raise PermissionDenied
                link_form = ReviewLinkForm(request.POST)
                if link_form.is_valid():
                    link, raw = approvals.do_create_review_link(
                        ctx, post, reviewer_name=link_form.cleaned_data["reviewer_name"],
                        reviewer_email=link_form.cleaned_data["reviewer_email"])
                    new_link = approvals.review_url(raw)
                    link_form = ReviewLinkForm()
            elif action == "revoke_link":
                if roles.COMPOSE not in perms:
                    raise PermissionDenied
                link = get_object_or_404(ReviewLink.objects.for_user(request.user, roles.COMPOSE),
                                         pk=_int(request.POST.get("link")), post=post, brand=brand)
                approvals.do_revoke_review_link(ctx, link)
                messages.success(request, _("Review link revoked."))
                return redirect("post_detail", brand.pk, post.pk)
            else:
                messages.error(request, _("Unknown action."))
                return redirect("post_detail", brand.pk, post.pk)
        except ValidationError as exc:
            form = link_form if action == "create_link" else comment_form
            if action in ("comment", "request_changes", "create_link") and hasattr(exc, "error_dict"):
                _apply_errors(form, exc)
            else:
                _errors_to_messages(request, exc)
                return redirect("post_detail", brand.pk, post.pk)
        except PermissionDenied as exc:
            _errors_to_messages(request, exc)
            return redirect("post_detail", brand.pk, post.pk)
        post.refresh_from_db()
    return render(request, "content/review/post_detail.html", _context(request, brand, post, perms, comment_form,
                                                                      link_form, new_link))


def _int(value):
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _context(request, brand, post, perms, comment_form, link_form, new_link) -> dict:
    from tertulia.core.models import User

    policy = approvals.get_policy(brand)
    can_compose = roles.COMPOSE in perms
    targets = post.targets.select_related("account").order_by("account__network", "account__handle")
    links = (ReviewLink.objects.for_user(request.user).filter(brand=brand, post=post).select_related("created_by")
             .order_by("-created_at")) if can_compose else []
    return {
        "post": post,
        "brand": brand,
        "section_key": "calendar",
        "variants": post.variants.order_by("network"),
        "targets": targets,
        **_publishing(post, targets, can_compose),
        "attachments": PostMedia.objects.filter(post=post, asset__brand=brand).select_related("asset"),
        "comments": approvals.comments_for(post),
        "comment_form": comment_form,
        "link_form": link_form,
        "new_link": new_link,
        "links": links,
        "now": timezone.now(),
        "policy": policy,
        "approvers": approvals.approvers_for(brand, policy),
        "can_approve": post.state == Post.State.PENDING_APPROVAL and approvals.can_approve(request.user, post, policy),
        "can_submit": can_compose and post.state in (Post.State.DRAFT, Post.State.CHANGES_REQUESTED),
        "can_compose": can_compose,
        "can_edit": can_compose and post.state not in (Post.State.PUBLISHED, Post.State.CANCELED),
        "members": User.objects.filter(memberships__brand=brand, is_active=True).distinct().order_by("username"),
        "brand_tz": brand.tzinfo,
    }


def _publishing(post, targets, can_compose: bool) -> dict:
    """Each target's delivery for the post page (state, link, plain-words error, first comment,
    what the person may do about it) and whether the post can take a queue slot."""
    from tertulia.publishing.engine import comment_status
    from tertulia.publishing.models import PostTarget
    from tertulia.publishing.views import _site_edit_flags

    S = PostTarget.State
    rows = []
    for t in targets:
        rows.append({
            "target": t,
            "comment_status": comment_status(t),
            "can_retry": can_compose and t.state in (S.FAILED, S.NEEDS_ATTENTION),
            "can_delete": can_compose and t.state == S.PUBLISHED,
            **_site_edit_flags(can_compose, t),
        })
    return {
        "deliveries": rows,
        "can_queue": can_compose and post.scheduled_at is None
        and post.state in (Post.State.APPROVED, Post.State.PENDING_APPROVAL),
    }


# --- The client's magic link ---------------------------------------------------------------

# Guesses per address within the window before the page stops looking tokens up.
REVIEW_GUESS_LIMIT = 60
REVIEW_GUESS_WINDOW = 600


def _too_many_guesses(request) -> bool:
    from django.core.cache import cache

    key = f"review-guess:{client_ip(request) or '-'}"
    return (cache.get(key) or 0) >= REVIEW_GUESS_LIMIT


def _count_guess(request) -> None:
    from django.core.cache import cache

    key = f"review-guess:{client_ip(request) or '-'}"
    if cache.add(key, 1, REVIEW_GUESS_WINDOW):
        return
    try:
        cache.incr(key)
    except ValueError:  # expired in between
        cache.add(key, 1, REVIEW_GUESS_WINDOW)


def _gone(request):
    response = render(request, "content/review/link_invalid.html", status=410)
    response["Cache-Control"] = "no-store"
    return response


@never_cache
def review_link(request, review_token):
    """The client's review page: the post, and a form to comment on or approve it."""
    if _too_many_guesses(request):
        return _gone(request)
    link = approvals.find_review_link(review_token)
    if link is None:
        _count_guess(request)
        return _gone(request)
    post = link.post
    form = ClientReviewForm()
    if request.method == "POST":
        form = ClientReviewForm(request.POST)
        action = request.POST.get("action", "")
        ip = client_ip(request)
        if form.is_valid() and action in ("comment", "approve"):
            try:
                if action == "comment":
                    approvals.do_client_comment(link, form.cleaned_data["body"], ip=ip)
                    messages.success(request, _("Thank you, your comment was sent."))
                    return redirect("review_link", review_token)
                post, moved = approvals.do_client_approve(link, version=_version(request),
                                                          note_text=form.cleaned_data["body"], ip=ip)
                response = render(request, "content/review/link_done.html", {"link": link, "post": post,
                                                                              "moved": moved})
                response["Cache-Control"] = "no-store"
                return response
            except PermissionDenied:
                return _gone(request)
            except ValidationError as exc:
                _apply_errors(form, exc)
                post.refresh_from_db()
        elif form.is_valid():
            form.add_error(None, _("Choose to comment or to approve."))
    # The team's own comments are internal: the client sees the comments made through review links.
    comments = approvals.comments_for(post).filter(author__isnull=True)
    response = render(request, "content/review/link_review.html", {
        "link": link, "post": post, "brand": link.brand, "form": form, "comments": comments,
        "variants": post.variants.order_by("network"),
        "targets": post.targets.select_related("account").order_by("account__network"),
        "can_approve": post.state == Post.State.PENDING_APPROVAL, "brand_tz": link.brand.tzinfo,
    })
    response["Cache-Control"] = "no-store"
    response["Referrer-Policy"] = "no-referrer"  # the token is in the URL
    return response


# --- Approval settings -----------------------------------------------------------------------

@brand_view(roles.MANAGE_BRAND)
def approval_settings(request, brand):
    policy = approvals.get_policy(brand)
    initial = {"required": policy.required, "reapprove_on_edit": policy.reapprove_on_edit,
               "approvers": approvals.named_approvers(policy)}
    form = ApprovalPolicyForm(request.POST or None, brand=brand, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            approvals.do_update_policy(Ctx.from_request(request), brand, form.cleaned_data["required"],
                                       [u.pk for u in form.cleaned_data["approvers"]],
                                       form.cleaned_data["reapprove_on_edit"])
        except ValidationError as exc:
            _apply_errors(form, exc)
        else:
            messages.success(request, _("Approval rules saved."))
            return redirect("approval_settings", brand.pk)
    return render(request, "content/review/approval_settings.html", {"form": form, "tab": "approvals"})
