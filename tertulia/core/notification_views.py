"""The signed-in user's own notifications: a paged list, mark one or all read.

Only ever the user's own rows (``recipient=request.user``): another user's notification id
is a 404, looked up before the method is checked, so nothing tells it exists.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpResponseNotAllowed
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from . import notifications
from .models import Notification

PAGE_SIZE = 30


def safe_link(link: str) -> str:
    """A notification's link as an in-app path (never another site or a script URL)."""
    if link.startswith("/") and not link.startswith("//") and url_has_allowed_host_and_scheme(link, allowed_hosts=None):
        return link
    return ""


@login_required
def notification_list(request):
    qs = Notification.objects.filter(recipient=request.user).select_related("brand")
    unread_only = request.GET.get("unread") == "1"
    if unread_only:
        qs = qs.filter(read_at__isnull=True)
    page = Paginator(qs.order_by("-created_at", "-id"), PAGE_SIZE).get_page(request.GET.get("page"))
    items = [{"n": n, "text": notifications.text(n), "link": safe_link(n.link)} for n in page]
    return render(request, "core/notifications.html", {
        "page": page, "items": items, "unread_only": unread_only,
        "unread_total": notifications.unread_count(request.user),
    })


@login_required
def notification_read(request, notification_id):
    """Mark one notification read; with ``go`` in the form, go on to what it is about."""
    notification = get_object_or_404(Notification, pk=notification_id, recipient=request.user)
    if request.method != "POST":
        return HttpResponseNotAllowed(["POST"])
    notifications.mark_read(request.user, [notification.pk])
    link = safe_link(notification.link)
    if request.POST.get("go") and link:
        return redirect(link)
    return redirect("notifications")


@login_required
@require_POST
def notification_read_all(request):
    count = notifications.mark_read(request.user)
    if count:
        messages.success(request, _("All notifications marked as read."))
    return redirect("notifications")
