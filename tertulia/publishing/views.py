"""Publishing pages under /brands/<id>/publishing/: the queue (what needs attention first, what
is in flight, what is coming, in the brand's zone), pause and resume, the queue slots, and each
target's delivery log with one-click retry, edit, cancel and delete from the network.

Thin: rows come through ``for_user`` after ``get_brand`` (another brand's ids are a 404) and
every write is a service call, which checks the permission again and writes the audit log.
Seeing needs VIEW; retry, cancel, delete and slots need COMPOSE; pausing the brand needs
MANAGE_BRAND or MANAGE_ACCOUNTS, pausing an account MANAGE_ACCOUNTS.
"""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import formats, timezone
from django.utils.dates import WEEKDAYS
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from tertulia.analytics import best_time
from tertulia.core import roles
from tertulia.core.scoping import permissions_in
from tertulia.core.services import Ctx
from tertulia.core.views import _errors_to_messages, brand_view
from tertulia.networks.models import SocialAccount

from . import services
from .engine import comment_status
from .models import DeliveryAttempt, PostTarget, QueueSlot
from .slots import MAX_SLOTS, upcoming

S = PostTarget.State
PAGE_SIZE = 50
ATTENTION = (S.FAILED, S.NEEDS_ATTENTION)
RETRYABLE = (S.FAILED, S.NEEDS_ATTENTION)
CANCELABLE = (S.DRAFT, S.PENDING_APPROVAL, S.APPROVED, S.SCHEDULED, S.FAILED, S.NEEDS_ATTENTION)


def _perms(request, brand) -> dict:
    perms = permissions_in(request.user, brand)
    return {
        "can_compose": roles.COMPOSE in perms,
        "can_pause": bool({roles.MANAGE_BRAND, roles.MANAGE_ACCOUNTS} & perms),
        "can_pause_accounts": roles.MANAGE_ACCOUNTS in perms,
    }


def _targets(request, brand, permission=roles.VIEW):
    return (PostTarget.objects.for_user(request.user, permission).filter(brand=brand)
            .select_related("post", "account"))


def _target(request, brand, target_id, permission=roles.VIEW) -> PostTarget:
    return get_object_or_404(_targets(request, brand, permission).select_related("brand"), pk=target_id)


def edit_path(target: PostTarget) -> str:
    """The composer's edit page of the target's post (owned by the composer)."""
    return f"/brands/{target.brand_id}/posts/{target.post_id}/edit/"


def _is_demo(brand) -> bool:
    from .engine import is_demo_brand

    return is_demo_brand(brand.pk)


# --- The queue ------------------------------------------------------------------------------

@brand_view()
def queue(request, brand):
    targets = _targets(request, brand)
    attention = list(targets.filter(state__in=ATTENTION).order_by("-due_at", "-pk")[:PAGE_SIZE])
    in_flight = list(targets.filter(state=S.PUBLISHING).order_by("due_at", "pk")[:PAGE_SIZE])
    scheduled = Paginator(targets.filter(state=S.SCHEDULED).order_by("due_at", "pk"), PAGE_SIZE)
    page = scheduled.get_page(request.GET.get("page"))
    recent = list(targets.filter(state=S.PUBLISHED).order_by("-published_at", "-pk")[:10])
    accounts = list(SocialAccount.objects.for_user(request.user).filter(brand=brand).order_by("network", "handle"))
    slots = list(QueueSlot.objects.for_user(request.user).filter(brand=brand).order_by("weekday", "time"))
    next_slots = upcoming(brand, count=5) if slots else []
    next_free = next((s for s in next_slots if not s.taken), None)
    if slots and next_free is None:
        found = upcoming(brand, count=1, free_only=True)
        next_free = found[0] if found else None
    return render(request, "publishing/queue.html", {
        "attention": attention, "attention_count": targets.filter(state__in=ATTENTION).count(),
        "in_flight": in_flight, "page": page, "recent": recent, "accounts": accounts,
        "slots": slots, "next_slots": next_slots, "next_free": next_free, "weekdays": WEEKDAYS,
        "is_demo": _is_demo(brand),
        "tab": "publishing", "subtab": "queue", **_perms(request, brand),
    })


@brand_view()
@require_POST
def pause_brand(request, brand):
    paused = request.POST.get("paused") == "1"
    services.do_set_brand_paused(Ctx.from_request(request), brand, paused)  # 403 without the permission
    if paused:
        messages.success(request, _("Publishing is paused for this brand. Nothing goes out until you resume it."))
    else:
        messages.success(request, _("Publishing resumed. Posts that became due meanwhile go out now."))
    return redirect("publishing_queue", brand.pk)


@brand_view(roles.MANAGE_ACCOUNTS)
@require_POST
def pause_account(request, brand, account_id):
    account = get_object_or_404(SocialAccount.objects.for_user(request.user, roles.MANAGE_ACCOUNTS),
                                pk=account_id, brand=brand)
    paused = request.POST.get("paused") == "1"
    services.do_set_account_paused(Ctx.from_request(request), account, paused)
    if paused:
        messages.success(request, _("Publishing is paused on %(account)s.") % {"account": account})
    else:
        messages.success(request, _("Publishing resumed on %(account)s.") % {"account": account})
    return redirect("publishing_queue", brand.pk)


@brand_view(roles.COMPOSE)
@require_POST
def add_to_queue(request, brand, post_id):
    """"Add to queue" from any page (the post page, the calendar): the post takes the next free
    slot; back to ``next`` (a local path) or to the queue."""
    from django.utils.http import url_has_allowed_host_and_scheme

    from tertulia.content.models import Post

    post = get_object_or_404(Post.objects.for_user(request.user, roles.COMPOSE).select_related("brand"),
                             pk=post_id, brand=brand)
    try:
        post = services.do_add_to_queue(Ctx.from_request(request), post)
    except (ValidationError, PermissionDenied) as exc:
        _errors_to_messages(request, exc)
    else:
        local = timezone.localtime(post.scheduled_at, brand.tzinfo)
        messages.success(request, _("Added to the queue: %(when)s (%(zone)s).") % {
            "when": formats.date_format(local, "DATETIME_FORMAT"), "zone": brand.timezone})
    target = request.POST.get("next", "")
    if target and url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()},
                                                  require_https=request.is_secure()) and target.startswith("/"):
        return redirect(target)
    return redirect("publishing_queue", brand.pk)


# --- Queue slots ----------------------------------------------------------------------------

class SlotForm(forms.Form):
    weekdays = forms.TypedMultipleChoiceField(
        label=gettext_lazy("Days"), coerce=int, choices=sorted(WEEKDAYS.items()),
        widget=forms.CheckboxSelectMultiple)
    times = forms.CharField(
        label=gettext_lazy("Times"), max_length=200,
        help_text=gettext_lazy("One or more times of day in the brand's time zone, separated by commas: "
                               "09:00, 17:30"))

    def clean_times(self):
        value = self.cleaned_data["times"].replace("\x00", "")
        parts = [p.strip() for p in value.replace(";", ",").split(",") if p.strip()]
        if not parts or len(parts) > 24:
            raise ValidationError(_("Enter between 1 and 24 times, separated by commas."))
        return parts


@brand_view()
def slot_list(request, brand):
    perms = _perms(request, brand)
    form = SlotForm(request.POST or None)
    if request.method == "POST":
        if not perms["can_compose"]:
            raise PermissionDenied
        if form.is_valid():
            try:
                created = services.do_add_slots(Ctx.from_request(request), brand,
                                                weekdays=form.cleaned_data["weekdays"],
                                                times=form.cleaned_data["times"])
            except ValidationError as exc:
                if hasattr(exc, "error_dict"):
                    for field, errs in exc.message_dict.items():
                        form.add_error("weekdays" if field == "weekday" else "times" if field == "time" else None, errs)
                else:
                    form.add_error(None, exc)
            else:
                messages.success(request, _("Queue slots saved: %(count)s new.") % {"count": len(created)})
                return redirect("queue_slots", brand.pk)
    slots = list(QueueSlot.objects.for_user(request.user).filter(brand=brand).order_by("weekday", "time"))
    days = [{"weekday": d, "label": WEEKDAYS[d], "slots": [s for s in slots if s.weekday == d]} for d in range(7)]
    return render(request, "publishing/slots.html", {
        "form": form, "days": days, "slot_count": len(slots), "max_slots": MAX_SLOTS,
        "next_slots": upcoming(brand, count=5) if slots else [],
        # Best time to post (analytics.best_time): suggestions for new slots from each account's history.
        "best_times": best_time.brand_suggestions(brand, n=3),
        "tab": "publishing", "subtab": "slots", **perms,
    })


@brand_view(roles.COMPOSE)
@require_POST
def slot_delete(request, brand, slot_id):
    slot = get_object_or_404(QueueSlot.objects.for_user(request.user, roles.COMPOSE).select_related("brand"),
                             pk=slot_id, brand=brand)
    services.do_delete_slot(Ctx.from_request(request), slot)
    messages.success(request, _("Queue slot removed. Posts already queued keep their time."))
    return redirect("queue_slots", brand.pk)


# --- One target's delivery log --------------------------------------------------------------

@brand_view()
def target_log(request, brand, target_id):
    target = _target(request, brand, target_id)
    attempts = list(DeliveryAttempt.objects.for_user(request.user).filter(brand=brand, target=target)
                    .order_by("started_at", "number", "pk")[:200])
    perms = _perms(request, brand)
    return render(request, "publishing/target_log.html", {
        "target": target, "attempts": attempts, "edit_url": edit_path(target),
        "can_retry": perms["can_compose"] and target.state in RETRYABLE,
        "can_cancel": perms["can_compose"] and target.state in CANCELABLE,
        "can_delete": perms["can_compose"] and target.state == S.PUBLISHED,
        **_site_edit_flags(perms["can_compose"], target),
        "comment_status": comment_status(target),
        "can_retry_comment": perms["can_compose"] and comment_status(target) == "failed",
        "paused": brand.publishing_paused or target.account.paused,
        "tab": "publishing", "subtab": "queue", **perms,
    })


def _site_edit_flags(can_compose: bool, target) -> dict:
    """May this person update / unpublish this published post on its network (Joomla)?"""
    from .site_edits import supports

    ok = can_compose and target.state == S.PUBLISHED and bool(target.external_id)
    network = target.account.network
    return {"can_update_on_network": ok and supports(network, "update"),
            "can_unpublish": ok and supports(network, "unpublish")}


def _act(request, brand, target_id, action, done_message):
    target = _target(request, brand, target_id, roles.COMPOSE)
    try:
        action(Ctx.from_request(request), target)
    except (ValidationError, PermissionDenied) as exc:
        _errors_to_messages(request, exc)
    else:
        messages.success(request, done_message)
    return redirect("target_log", brand.pk, target.pk)


@brand_view(roles.COMPOSE)
@require_POST
def target_retry(request, brand, target_id):
    return _act(request, brand, target_id, services.do_retry_now, _("Trying again now."))


@brand_view(roles.COMPOSE)
@require_POST
def target_cancel(request, brand, target_id):
    return _act(request, brand, target_id, services.do_cancel, _("This post will not be published on this account."))


def _delete_published(ctx, target):
    # Written alongside this page by the engine's owner; imported when used.
    from .deletion import do_delete_published

    return do_delete_published(ctx, target)


@brand_view(roles.COMPOSE)
@require_POST
def target_delete(request, brand, target_id):
    return _act(request, brand, target_id, _delete_published, _("The post was deleted from the network."))


def _update_published(ctx, target):
    from .site_edits import do_update_published

    return do_update_published(ctx, target)


def _unpublish_published(ctx, target):
    from .site_edits import do_unpublish_published

    return do_unpublish_published(ctx, target)


@brand_view(roles.COMPOSE)
@require_POST
def target_update_on_network(request, brand, target_id):
    return _act(request, brand, target_id, _update_published, _("The post's current text was sent to the network."))


@brand_view(roles.COMPOSE)
@require_POST
def target_unpublish(request, brand, target_id):
    return _act(request, brand, target_id, _unpublish_published, _("The post was unpublished on the site."))


def _retry_comment(ctx, target):
    from .comments import do_retry_comment

    return do_retry_comment(ctx, target)


@brand_view(roles.COMPOSE)
@require_POST
def target_retry_comment(request, brand, target_id):
    return _act(request, brand, target_id, _retry_comment, _("The first comment will be posted again now."))
