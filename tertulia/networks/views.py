"""Connecting social accounts by signing in on the network (OAuth), and refreshing what the
server says about its limits. Thin: the network calls live in ``mastodon/connect.py`` and the
writes in ``services.py``.

The session and callback checks are ``oauth_flow``'s, shared by every network.
"""

from __future__ import annotations

import logging

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_POST

from tertulia.core import roles
from tertulia.core.services import Ctx
from tertulia.core.views import brand_view

from . import oauth_flow, services
from .errors import ConnectorError
from .mastodon import connect as mastodon_connect
from .mastodon.limits import fetch_server_limits
from .models import Network, SocialAccount

log = logging.getLogger(__name__)


class MastodonServerForm(forms.Form):
    server = forms.CharField(label=gettext_lazy("Server"), max_length=mastodon_connect.MAX_SERVER_LENGTH,
                             help_text=gettext_lazy("The address of the account's Mastodon server, e.g. mastodon.social."),
                             widget=forms.TextInput(attrs={"placeholder": "mastodon.social", "autocomplete": "off",
                                                           "spellcheck": "false", "autocapitalize": "none"}))

    def clean_server(self) -> str:
        return mastodon_connect.clean_server(self.cleaned_data["server"])


def redirect_uri() -> str:
    return oauth_flow.redirect_uri("mastodon_callback")


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
            return oauth_flow.begin(request, brand, Network.MASTODON, auth, base_url=base_url)
    return render(request, "networks/mastodon_connect.html", {"form": form, "tab": "accounts"})


@login_required
@require_GET
def mastodon_callback(request):
    checked = oauth_flow.pending_from_callback(request, Network.MASTODON, network_label="Mastodon")
    if checked.response is not None:
        return checked.response
    brand, pending = checked.brand, checked.pending
    base_url = str(pending.get("base_url") or "")
    try:
        approved = mastodon_connect.finish(base_url, redirect_uri(), checked.code,
                                           str(pending.get("code_verifier") or ""))
        account, created = services.do_connect_oauth_account(
            Ctx.from_request(request), brand, network=Network.MASTODON, base_url=base_url,
            credentials=approved.credentials, profile=approved.profile, server_limits=approved.server_limits)
    except ConnectorError as err:
        return oauth_flow.refused(request, err, brand.pk, where="mastodon callback")
    except ValidationError as err:
        return oauth_flow.failed(request, " ".join(err.messages), status=200, brand_id=brand.pk)
    oauth_flow.connected(request, account, created)
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
