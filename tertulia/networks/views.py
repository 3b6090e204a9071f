"""Connecting social accounts by signing in on the network (OAuth), and refreshing what the
server says about its limits. Thin: the network calls live in ``mastodon/connect.py`` and the
writes in ``services.py``.

The pending connection (``state``, PKCE ``code_verifier``, brand and instance) waits in the
person's session, never in a URL we produce; the callback takes nothing but ``code``, ``state``
and ``error`` from the instance. Tokens are never shown, logged or put in a URL.
"""

from __future__ import annotations

import logging
import secrets
import time

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import Http404, HttpResponseRedirect
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_POST

from tertulia.core import roles
from tertulia.core.scoping import get_brand
from tertulia.core.services import Ctx
from tertulia.core.views import brand_view

from . import services
from .errors import ConnectorError
from .mastodon import connect as mastodon_connect
from .mastodon.limits import fetch_server_limits
from .models import Network, SocialAccount

log = logging.getLogger(__name__)
SESSION_KEY = "mastodon_connect"
PENDING_SECONDS = 15 * 60  # how long a consent page may stay open


class MastodonServerForm(forms.Form):
    server = forms.CharField(label=gettext_lazy("Server"), max_length=mastodon_connect.MAX_SERVER_LENGTH,
                             help_text=gettext_lazy("The address of the account's Mastodon server, e.g. mastodon.social."),
                             widget=forms.TextInput(attrs={"placeholder": "mastodon.social", "autocomplete": "off",
                                                           "spellcheck": "false", "autocapitalize": "none"}))

    def clean_server(self) -> str:
        return mastodon_connect.clean_server(self.cleaned_data["server"])


def redirect_uri() -> str:
    return settings.SITE_URL.rstrip("/") + reverse("mastodon_callback")


def _network_error(request, err: ConnectorError) -> None:
    log.info("mastodon connect: %s", err.log_line())
    messages.error(request, _("The server could not be reached or refused: %(reason)s") % {"reason": err.user_message})


@brand_view(roles.MANAGE_ACCOUNTS)
def mastodon_connect_start(request, brand):
    form = MastodonServerForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        base_url = form.cleaned_data["server"]
        try:
            auth = mastodon_connect.start(base_url, redirect_uri())
        except ConnectorError as err:
            _network_error(request, err)
        else:
            request.session[SESSION_KEY] = {"state": auth.state, "code_verifier": auth.code_verifier,
                                            "brand_id": brand.pk, "base_url": base_url,
                                            "expires": time.time() + PENDING_SECONDS}
            return HttpResponseRedirect(auth.url)
    return render(request, "networks/mastodon_connect.html", {"form": form, "tab": "accounts"})


def _failed(request, message: str, status: int = 403, brand_id: int | None = None):
    return render(request, "networks/connect_failed.html", {"message": message, "brand_id": brand_id},
                  status=status)


@login_required
@require_GET
def mastodon_callback(request):
    pending = request.session.pop(SESSION_KEY, None)  # one use, whatever happens next
    state = request.GET.get("state", "")
    if not isinstance(pending, dict) or not pending.get("state"):
        # Nothing pending in this session: nothing to refuse, just say so (an old tab, a bookmark).
        return _failed(request, _("This sign-in link is not one Tertulia started, or it was already used. "
                                  "Start again from the accounts page."), status=200)
    brand = get_brand(request.user, pending.get("brand_id"), roles.MANAGE_ACCOUNTS)
    if not secrets.compare_digest(str(state)[:200], str(pending["state"])):
        return _failed(request, _("This sign-in link does not match the one Tertulia started. Nothing was "
                                  "connected. Start again from the accounts page."), brand_id=brand.pk)
    if time.time() > float(pending.get("expires") or 0):
        return _failed(request, _("This sign-in took too long and expired. Nothing was connected. "
                                  "Start again from the accounts page."), brand_id=brand.pk)
    if request.GET.get("error"):
        messages.info(request, _("The Mastodon account was not connected: access was not granted on the server."))
        return redirect("account_list", brand.pk)
    code = request.GET.get("code", "")
    if not code or len(code) > 1000:
        return _failed(request, _("The server did not send a sign-in code. Nothing was connected."),
                       brand_id=brand.pk)
    base_url = str(pending.get("base_url") or "")
    try:
        approved = mastodon_connect.finish(base_url, redirect_uri(), code, str(pending.get("code_verifier") or ""))
        account, created = services.do_connect_oauth_account(
            Ctx.from_request(request), brand, network=Network.MASTODON, base_url=base_url,
            credentials=approved.credentials, profile=approved.profile, server_limits=approved.server_limits)
    except ConnectorError as err:
        log.info("mastodon callback: %s", err.log_line())
        return _failed(request, _("The server refused to connect the account: %(reason)s")
                       % {"reason": err.user_message}, status=200, brand_id=brand.pk)
    except ValidationError as err:
        return _failed(request, " ".join(err.messages), status=200, brand_id=brand.pk)
    if created:
        messages.success(request, _("Connected %(handle)s.") % {"handle": account.handle})
    else:
        messages.success(request, _("Reconnected %(handle)s; its posts and history are kept.")
                         % {"handle": account.handle})
    return redirect("account_list", brand.pk)


@brand_view(roles.MANAGE_ACCOUNTS)
@require_POST
def account_refresh_limits(request, brand, account_id):
    account = get_object_or_404(SocialAccount.objects.for_user(request.user, roles.MANAGE_ACCOUNTS),
                                pk=account_id, brand=brand)
    if account.network != Network.MASTODON or not account.base_url:
        raise Http404("Only Mastodon accounts have server limits")
    try:
        limits = fetch_server_limits(account.base_url, http_config=mastodon_connect.http_config())
        services.do_set_server_limits(Ctx.from_request(request), account, limits)
    except ConnectorError as err:
        _network_error(request, err)
    else:
        messages.success(request, _("Server limits updated: %(count)s characters per post.")
                         % {"count": limits.get("max_characters", 500)})
    return redirect("account_list", brand.pk)
