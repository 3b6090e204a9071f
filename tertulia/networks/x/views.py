"""Connecting an X account: thin views over ``x/connect.py`` (the network calls),
``oauth_flow`` (session, state and callback checks) and ``services.do_connect_oauth_account``."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods

from tertulia.core import roles
from tertulia.core.services import Ctx
from tertulia.core.views import brand_view

from .. import oauth_flow, services
from ..errors import ConnectorError
from ..models import Network
from . import connect


def redirect_uri() -> str:
    return oauth_flow.redirect_uri("x_callback")


@brand_view(roles.MANAGE_ACCOUNTS)
@require_http_methods(["GET", "POST"])
def x_connect_start(request, brand):
    client_id, _secret = connect.app()
    if request.method == "POST" and client_id:
        return oauth_flow.begin(request, brand, Network.X, connect.start(redirect_uri()))
    return render(request, "networks/x_connect.html", {
        "tab": "accounts", "configured": bool(client_id), "callback_url": redirect_uri(),
        "scopes": connect.SCOPES})


@login_required
@require_GET
def x_callback(request):
    checked = oauth_flow.pending_from_callback(request, Network.X, network_label="X")
    if checked.response is not None:
        return checked.response
    brand, pending = checked.brand, checked.pending
    try:
        approved = connect.finish(checked.code, str(pending.get("code_verifier") or ""), redirect_uri())
        account, created = services.do_connect_oauth_account(
            Ctx.from_request(request), brand, network=Network.X, base_url=approved.base_url,
            credentials=approved.credentials, profile=approved.profile)
    except ConnectorError as err:
        return oauth_flow.refused(request, err, brand.pk, where="x callback")
    except ValidationError as err:
        return oauth_flow.failed(request, " ".join(err.messages), status=200, brand_id=brand.pk)
    oauth_flow.connected(request, account, created)
    return redirect("account_list", brand.pk)
