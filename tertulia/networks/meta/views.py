"""The Meta sign-in pages (Facebook Pages and Instagram professional accounts) and the
webhook endpoint. Thin: network calls in ``connect.py``, writes in ``services.py``, webhook
parsing in ``webhooks.py``.

Between the callback and the choice, the Pages Meta returned wait in the person's session
(``SESSION_ENGINE`` is Django's default database backend, so the session lives server side;
the cookie holds only its key). Their Page tokens are encrypted with the same Fernet keys as
stored tokens before they go into the session, the list expires with the sign-in (15 minutes),
and the choosing page shows names and ids only, never a token.
"""

from __future__ import annotations

import logging
import time

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpResponse, HttpResponseForbidden
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods

from tertulia.core import roles
from tertulia.core.crypto import decrypt, encrypt
from tertulia.core.services import Ctx
from tertulia.core.views import brand_view

from .. import oauth_flow
from ..errors import ConnectorError
from ..models import Network, SocialAccount
from . import connect, services, webhooks

log = logging.getLogger(__name__)
FLOW = "meta"
CHOICE_KEY = "meta_choices"
MAX_PICKS = 2 * connect.MAX_PAGES


def redirect_uri() -> str:
    return oauth_flow.redirect_uri("meta_callback")


@brand_view(roles.MANAGE_ACCOUNTS)
@require_http_methods(["GET", "POST"])
def meta_connect(request, brand):
    configured = connect.is_configured()
    if request.method == "POST" and configured:
        return oauth_flow.begin(request, brand, FLOW, connect.authorization_request(redirect_uri()))
    return render(request, "networks/meta_connect.html", {
        "tab": "accounts", "configured": configured, "callback_url": redirect_uri(),
        "scopes": connect.SCOPES, "env_vars": ("META_APP_ID", "META_APP_SECRET"),
        "webhook_var": "META_WEBHOOK_VERIFY_TOKEN"})


def _store_choices(request, brand, pages) -> None:
    request.session[CHOICE_KEY] = {
        "brand_id": brand.pk, "expires": time.time() + oauth_flow.PENDING_SECONDS, "base_url": connect.api_base(),
        "pages": [{"id": p.id, "name": p.name, "username": p.username, "token": encrypt(p.token),
                   "tasks": list(p.tasks),
                   "ig": None if p.instagram is None else {
                       "id": p.instagram.id, "username": p.instagram.username, "name": p.instagram.name,
                       "followers": p.instagram.followers, "avatar_url": p.instagram.avatar_url}}
                  for p in pages]}


def _load_choices(request, brand) -> tuple[list[connect.PageChoice], str] | None:
    stored = request.session.get(CHOICE_KEY)
    if isinstance(stored, dict) and time.time() > float(stored.get("expires") or 0):
        request.session.pop(CHOICE_KEY, None)  # expired: the encrypted tokens go too
        return None
    if not isinstance(stored, dict) or stored.get("brand_id") != brand.pk:
        return None
    pages = []
    for row in stored.get("pages") or []:
        ig = row.get("ig")
        pages.append(connect.PageChoice(
            id=row["id"], name=row["name"], username=row.get("username", ""), token=decrypt(row["token"]),
            tasks=tuple(row.get("tasks") or ()),
            instagram=None if not ig else connect.InstagramChoice(
                id=ig["id"], username=ig["username"], name=ig.get("name", ""), followers=ig.get("followers"),
                avatar_url=ig.get("avatar_url", ""))))
    return pages, str(stored.get("base_url") or "")


@login_required
@require_GET
def meta_callback(request):
    checked = oauth_flow.pending_from_callback(request, FLOW, network_label="Facebook")
    if checked.response is not None:
        return checked.response
    brand = checked.brand
    try:
        approved = connect.finish(checked.code, redirect_uri())
    except ConnectorError as err:
        return oauth_flow.refused(request, err, brand.pk, where="meta callback")
    if not approved.pages:
        return oauth_flow.failed(request, _(
            "Meta gave Tertulia no Page to manage. Sign in with a Facebook profile that manages the Page, "
            "and select the Page (and its Instagram account) when Facebook asks."), status=200, brand_id=brand.pk)
    _store_choices(request, brand, approved.pages)
    return redirect("meta_choose", brand.pk)


@brand_view(roles.MANAGE_ACCOUNTS)
@require_http_methods(["GET", "POST"])
def meta_choose(request, brand):
    loaded = _load_choices(request, brand)
    if loaded is None:
        messages.info(request, _("The list of Pages from Meta has expired. Sign in with Meta again."))
        return redirect("meta_connect", brand.pk)
    pages, base_url = loaded
    known = {(a.network, a.external_id) for a in SocialAccount.objects.for_user(request.user).filter(
        brand=brand, network__in=(Network.FACEBOOK, Network.INSTAGRAM))}
    offered = {(Network.FACEBOOK, p.id) for p in pages} | {(Network.INSTAGRAM, p.instagram.id)
                                                           for p in pages if p.instagram}
    error = ""
    if request.method == "POST":
        raw = request.POST.getlist("pick")
        picks = set()
        for value in raw[:MAX_PICKS + 1]:
            network, _sep, external_id = str(value).partition(":")
            picks.add((network, external_id))
        if len(raw) > MAX_PICKS or not picks <= offered:
            error = _("That choice is not one of the accounts Meta offered. Choose again.")
        elif not picks:
            error = _("Choose at least one Page or Instagram account.")
        else:
            done, failed = services.do_connect_meta_accounts(Ctx.from_request(request), brand, base_url=base_url,
                                                             pages=pages, picks=picks)
            request.session.pop(CHOICE_KEY, None)
            if done and connect.webhooks_enabled():
                chosen = {p for p in pages if (Network.FACEBOOK, p.id) in picks
                          or p.instagram is not None and (Network.INSTAGRAM, p.instagram.id) in picks}
                for page in connect.subscribe_webhooks(sorted(chosen, key=lambda p: p.id)):
                    messages.warning(request, _(
                        "Meta did not let Tertulia receive %(name)s's comments in real time; Tertulia will "
                        "check for new comments regularly instead.") % {"name": page.name})
            for item in done:
                oauth_flow.connected(request, item.account, item.created)
            for item in failed:
                messages.error(request, _("%(name)s was not connected: %(reason)s")
                               % {"name": item.name, "reason": item.reason})
            return redirect("account_list", brand.pk)
    rows = [{"page": p, "page_known": (Network.FACEBOOK, p.id) in known,
             "ig_known": p.instagram is not None and (Network.INSTAGRAM, p.instagram.id) in known} for p in pages]
    return render(request, "networks/meta_choose.html", {"tab": "accounts", "rows": rows, "error": error},
                  status=400 if error else 200)


@csrf_exempt
@require_http_methods(["GET", "POST"])
def meta_webhook(request):
    """Meta's webhook endpoint: the subscription check (GET) and signed change notifications
    (POST). No session, no CSRF token: the signature is the credential."""
    if request.method == "GET":
        challenge = webhooks.verify_subscription(request.GET)
        if challenge is None:
            return HttpResponseForbidden("forbidden", content_type="text/plain")
        return HttpResponse(challenge, content_type="text/plain")
    length = request.META.get("CONTENT_LENGTH") or "0"
    if not length.isdigit() or int(length) > webhooks.MAX_BODY:
        return HttpResponse("too large", status=413, content_type="text/plain")
    body = request.read(webhooks.MAX_BODY + 1)
    if len(body) > webhooks.MAX_BODY:
        return HttpResponse("too large", status=413, content_type="text/plain")
    if not webhooks.signature_ok(body, request.headers.get("X-Hub-Signature-256")):
        return HttpResponseForbidden("forbidden", content_type="text/plain")
    try:
        result = webhooks.handle(body)
    except webhooks.Malformed:
        return HttpResponse("malformed", status=400, content_type="text/plain")
    log.info("meta webhook: %s", result)
    return HttpResponse("ok", content_type="text/plain")
