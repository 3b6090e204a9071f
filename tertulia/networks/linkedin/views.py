"""Connecting a LinkedIn organisation page: start (a page with the button), the callback
(exchange the code, list the pages the member administers) and, when there is more than one
page, a small choice. Thin: network calls in ``connect.py``, writes in ``services.py``."""

from __future__ import annotations

import logging

from django import forms
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET

from tertulia.core import roles
from tertulia.core.services import Ctx
from tertulia.core.views import brand_view

from .. import oauth_flow
from ..errors import ConnectorError
from ..models import Network
from . import connect
from .services import do_connect_linkedin_page

log = logging.getLogger(__name__)


def redirect_uri() -> str:
    return oauth_flow.redirect_uri("linkedin_callback")


class ChoosePageForm(forms.Form):
    organization = forms.ChoiceField(label=gettext_lazy("LinkedIn page"), widget=forms.RadioSelect)

    def __init__(self, organizations, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["organization"].choices = [(o.id, o.name or o.vanity_name or o.id) for o in organizations]


@brand_view(roles.MANAGE_ACCOUNTS)
def linkedin_connect_start(request, brand):
    ready = connect.configured()
    if request.method == "POST" and ready:
        return oauth_flow.begin(request, brand, Network.LINKEDIN, connect.start(redirect_uri()))
    return render(request, "networks/linkedin_connect.html",
                  {"tab": "accounts", "configured": ready, "callback_url": redirect_uri(),
                   "scopes": connect.scopes()})


def _finish(request, brand, pending: connect.Pending, org_id: str):
    try:
        profile = connect.page_profile(pending.answer.credentials, org_id)
        account, created = do_connect_linkedin_page(
            Ctx.from_request(request), brand, api_base=connect.api_base(), credentials=pending.answer.credentials,
            profile=profile, refresh_expires_at=pending.answer.refresh_expires_at)
    except ConnectorError as err:
        return oauth_flow.refused(request, err, brand.pk, where="linkedin connect")
    except ValidationError as err:
        return oauth_flow.failed(request, " ".join(err.messages), status=200, brand_id=brand.pk)
    oauth_flow.connected(request, account, created)
    return redirect("account_list", brand.pk)


@login_required
@require_GET
def linkedin_callback(request):
    checked = oauth_flow.pending_from_callback(request, Network.LINKEDIN, network_label="LinkedIn")
    if checked.response is not None:
        return checked.response
    brand = checked.brand
    try:
        answer = connect.exchange(checked.code, redirect_uri())
        organizations = connect.administered(answer.credentials)
    except ConnectorError as err:
        return oauth_flow.refused(request, err, brand.pk, where="linkedin callback")
    if not organizations:
        return oauth_flow.failed(request, _(
            "This LinkedIn member is not an administrator of any LinkedIn page, so there is nothing to connect. "
            "Ask a page administrator to add you, or to connect the page."), status=200, brand_id=brand.pk)
    pending = connect.Pending(brand.pk, answer, organizations)
    if len(organizations) == 1:
        return _finish(request, brand, pending, organizations[0].id)
    connect.keep(request.session, brand.pk, answer, organizations)
    return redirect("linkedin_choose", brand.pk)


@brand_view(roles.MANAGE_ACCOUNTS)
def linkedin_choose(request, brand):
    pending = connect.waiting(request.session, brand.pk)
    if pending is None:
        return oauth_flow.failed(request, _(
            "There is no LinkedIn sign-in waiting for a page choice, or it expired. Start again from the "
            "accounts page."), status=200, brand_id=brand.pk)
    form = ChoosePageForm(pending.organizations, request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        connect.forget(request.session)
        return _finish(request, brand, pending, form.cleaned_data["organization"])
    return render(request, "networks/linkedin_choose.html",
                  {"tab": "accounts", "form": form, "organizations": pending.organizations})
