"""Connecting a YouTube channel: thin views over ``youtube/connect.py`` (the network calls),
``oauth_flow`` (session, state and callback checks) and ``services.do_connect_oauth_account``;
and the per-post video settings page (``services.do_set_video_settings``)."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods

from tertulia.core import roles
from tertulia.core.scoping import has_perm
from tertulia.core.services import Ctx
from tertulia.core.views import _apply_errors, brand_view

from .. import oauth_flow
from .. import services as account_services
from ..errors import ConnectorError
from ..models import Network
from . import connect, quota, services
from . import options as opts
from .forms import VideoSettingsForm


def redirect_uri() -> str:
    return oauth_flow.redirect_uri("youtube_callback")


@brand_view(roles.MANAGE_ACCOUNTS)
@require_http_methods(["GET", "POST"])
def youtube_connect_start(request, brand):
    client_id, _secret = connect.app()
    if request.method == "POST" and client_id:
        return oauth_flow.begin(request, brand, Network.YOUTUBE, connect.start(redirect_uri()))
    ledger = quota.DatabaseLedger()
    return render(request, "networks/youtube_connect.html", {
        "tab": "accounts", "configured": bool(client_id), "callback_url": redirect_uri(),
        "scopes": connect.SCOPES, "quota_used": ledger.used(client_id or "default") if client_id else 0,
        "quota_limit": ledger.limit, "quota_reset": quota.next_reset()})


@login_required
@require_GET
def youtube_callback(request):
    checked = oauth_flow.pending_from_callback(request, Network.YOUTUBE, network_label="YouTube")
    if checked.response is not None:
        return checked.response
    brand, pending = checked.brand, checked.pending
    try:
        approved = connect.finish(checked.code, str(pending.get("code_verifier") or ""), redirect_uri())
        account, created = account_services.do_connect_oauth_account(
            Ctx.from_request(request), brand, network=Network.YOUTUBE, base_url=approved.base_url,
            credentials=approved.credentials, profile=approved.profile)
    except ConnectorError as err:
        return oauth_flow.refused(request, err, brand.pk, where="youtube callback")
    except ValidationError as err:
        return oauth_flow.failed(request, " ".join(err.messages), status=200, brand_id=brand.pk)
    oauth_flow.connected(request, account, created)
    return redirect("account_list", brand.pk)


@brand_view(roles.VIEW)
@require_http_methods(["GET", "POST"])
def youtube_video_settings(request, brand, post_id):
    from tertulia.content.models import Post

    post = get_object_or_404(Post.objects.filter(brand=brand), pk=post_id)
    current = services.video_settings(post)
    can_edit = has_perm(request.user, brand, roles.COMPOSE)
    if request.method == "POST":
        if not can_edit:
            raise PermissionDenied
        form = VideoSettingsForm(request.POST, brand=brand)
        if form.is_valid():
            try:
                services.do_set_video_settings(Ctx.from_request(request), post, **form.cleaned_data)
            except ValidationError as err:
                _apply_errors(form, err)
            else:
                messages.success(request, _("YouTube video settings saved."))
                return redirect("youtube_video_settings", brand.pk, post.pk)
    else:
        form = VideoSettingsForm(initial=services.initial(post, current), brand=brand)
    return render(request, "networks/youtube_video_settings.html", {
        "post": post, "form": form, "can_edit": can_edit, "settings_row": current,
        "defaults": services.defaults_for(post), "tab": "compose",
        "description_bytes": len(services.youtube_text(post).encode("utf-8")),
        "description_limit": opts.MAX_DESCRIPTION_BYTES})
