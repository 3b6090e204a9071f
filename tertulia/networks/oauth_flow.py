"""The web side of connecting an account by signing in on the network (OAuth 2.0), shared by
every network: keep the pending sign-in in the person's session, send them to the consent
page, and check what comes back before anything is stored.

The pending connection (``state``, PKCE ``code_verifier``, brand and anything the network's
flow needs) waits in the session, never in a URL we produce; the callback reads nothing but
``code``, ``state`` and ``error`` from the network. Tokens are never shown, logged or put in a
URL. Each network's package keeps its own network calls (``<network>/connect.py``) and calls
``begin`` from its start view and ``pending_from_callback`` from its callback view.
"""

from __future__ import annotations

import logging
import secrets
import time
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any, Callable
from urllib.parse import urlencode

from django.conf import settings
from django.contrib import messages
from django.http import HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _

from tertulia.core import roles
from tertulia.core.scoping import get_brand

from .base import AuthorizationRequest, Credentials, Profile, pkce_pair
from .errors import AuthExpired, ConnectorError, Permanent, Retryable
from .http import MSG_MALFORMED, clean_text

log = logging.getLogger(__name__)
PENDING_SECONDS = 15 * 60  # how long a consent page may stay open
MAX_CODE_LENGTH = 2000


def session_key(network: str) -> str:
    return f"{network}_connect"


def redirect_uri(callback_name: str) -> str:
    """The absolute callback address to register with the network's app."""
    return settings.SITE_URL.rstrip("/") + reverse(callback_name)


def app_settings(name: str) -> dict[str, str]:
    """The operator's OAuth app for a network (``settings.NETWORK_APPS``)."""
    return dict(getattr(settings, "NETWORK_APPS", {}).get(name) or {})


def endpoint(network: str, which: str, default: str) -> str:
    """A network's consent-page (``auth``) or API (``api``) address, or its override in
    ``settings.NETWORK_ENDPOINTS`` (tests point it at a loopback fake)."""
    value = (getattr(settings, "NETWORK_ENDPOINTS", {}).get(network) or {}).get(which) or default
    return value.rstrip("/")


def begin(request, brand, network: str, auth: AuthorizationRequest, **extra: Any) -> HttpResponse:
    """Remember this sign-in in the session and send the person to the consent page."""
    request.session[session_key(network)] = {
        "state": auth.state, "code_verifier": auth.code_verifier, "brand_id": brand.pk,
        "expires": time.time() + PENDING_SECONDS, **extra}
    return HttpResponseRedirect(auth.url)


def failed(request, message: str, status: int = 403, brand_id: int | None = None) -> HttpResponse:
    return render(request, "networks/connect_failed.html", {"message": message, "brand_id": brand_id},
                  status=status)


@dataclass
class Callback:
    """A checked callback: the brand (the person may still manage its accounts), the code to
    exchange, and what ``begin`` kept. ``response`` is set instead when there is nothing to
    exchange: return it as it is."""

    brand: Any = None
    code: str = ""
    pending: dict | None = None
    response: HttpResponse | None = None


def pending_from_callback(request, network: str, *, network_label: str) -> Callback:
    """Check a callback against the sign-in this session started: same ``state`` (compared in
    constant time), not expired, access granted, a code present. The pending sign-in is used
    up whatever happens next."""
    pending = request.session.pop(session_key(network), None)
    state = request.GET.get("state", "")
    if not isinstance(pending, dict) or not pending.get("state"):
        # Nothing pending in this session: nothing to refuse, just say so (an old tab, a bookmark).
        return Callback(response=failed(request, _(
            "This sign-in link is not one Tertulia started, or it was already used. "
            "Start again from the accounts page."), status=200))
    brand = get_brand(request.user, pending.get("brand_id"), roles.MANAGE_ACCOUNTS)
    if not secrets.compare_digest(str(state)[:200], str(pending["state"])):
        return Callback(response=failed(request, _(
            "This sign-in link does not match the one Tertulia started. Nothing was connected. "
            "Start again from the accounts page."), brand_id=brand.pk))
    if time.time() > float(pending.get("expires") or 0):
        return Callback(response=failed(request, _(
            "This sign-in took too long and expired. Nothing was connected. "
            "Start again from the accounts page."), brand_id=brand.pk))
    if request.GET.get("error"):
        messages.info(request, _("The %(network)s account was not connected: access was not granted.")
                      % {"network": network_label})
        return Callback(response=redirect("account_list", brand.pk))
    code = request.GET.get("code", "")
    if not code or len(code) > MAX_CODE_LENGTH:
        return Callback(response=failed(request, _(
            "The server did not send a sign-in code. Nothing was connected."), brand_id=brand.pk))
    return Callback(brand=brand, code=code, pending=pending)


def refused(request, err: ConnectorError, brand_id: int, *, where: str) -> HttpResponse:
    """The network refused the exchange or a read after it: say why, keep nothing."""
    log.info("%s: %s", where, err.log_line())
    return failed(request, _("The server refused to connect the account: %(reason)s")
                  % {"reason": err.user_message}, status=200, brand_id=brand_id)


def connected(request, account, created: bool) -> None:
    if created:
        messages.success(request, _("Connected %(handle)s.") % {"handle": account.handle})
    else:
        messages.success(request, _("Reconnected %(handle)s; its posts and history are kept.")
                         % {"handle": account.handle})


def token_answer(response, *, refreshing: bool, app_refused, refresh_refused, code_refused) -> Credentials:
    """The credentials in an OAuth 2 token endpoint's answer (RFC 6749 §5), or the error it
    means: the app's own credentials refused → ``Permanent(app_refused)``; a refused refresh
    token (revoked, expired or spent) → ``AuthExpired(refresh_refused)``; a refused sign-in code
    → ``Permanent(code_refused)``; an answer without an access token → ``Retryable``. The
    messages are the network's (they name it and its settings)."""
    data = response.data if isinstance(response.data, dict) else {}
    if response.status >= 400:
        error = clean_text(str(data.get("error") or ""), 100)
        detail = clean_text(f"{response.status} {error}: {data.get('error_description') or response.text}", 500)
        if error in ("invalid_client", "unauthorized_client") or response.status == 401:
            raise Permanent(app_refused, detail=detail, status=response.status)
        if refreshing:
            raise AuthExpired(refresh_refused, detail=detail, status=response.status)
        raise Permanent(code_refused, detail=detail, status=response.status)
    token = data.get("access_token")
    if not isinstance(token, str) or not token:
        raise Retryable(MSG_MALFORMED, detail="token answer without access_token", status=response.status)
    expires_in = data.get("expires_in")
    expires_at = None
    if isinstance(expires_in, (int, float)) and not isinstance(expires_in, bool) and expires_in > 0:
        expires_at = datetime.now(timezone.utc) + timedelta(seconds=float(expires_in))
    refresh = data.get("refresh_token") if isinstance(data.get("refresh_token"), str) else ""
    return Credentials(access_token=token, refresh_token=refresh or "", expires_at=expires_at,
                       scope=clean_text(str(data.get("scope") or ""), 500), token_type="Bearer")  # nosec B106 # not a password: an OAuth token_type or an empty filter value


# --- The authorization-code flow with PKCE (X, YouTube) -------------------------------------------
# ``token_call(form, refreshing=...)`` is the network's POST to its token endpoint (its address and
# client authentication differ), answering ``token_answer``'s credentials.

TokenCall = Callable[..., Credentials]


@dataclass(frozen=True)
class Approved:
    """A finished sign-in: the credentials, whose account they are, and its API address."""

    credentials: Credentials
    profile: Profile
    base_url: str


def app_credentials(name: str) -> tuple[str, str]:
    """(client id, client secret) of the operator's app for a network."""
    conf = app_settings(name)
    return str(conf.get("client_id") or ""), str(conf.get("client_secret") or "")


def pkce_authorization(consent_url: str, client_id: str, redirect_uri: str, scopes: str,
                       **extra: str) -> AuthorizationRequest:
    """The consent page's address for an authorization code with PKCE (S256), a fresh state
    and code verifier, and the network's ``extra`` parameters after the standard ones."""
    verifier, challenge = pkce_pair()
    state = secrets.token_urlsafe(32)
    query = urlencode({"response_type": "code", "client_id": client_id, "redirect_uri": redirect_uri,
                       "scope": scopes, "state": state, "code_challenge": challenge,
                       "code_challenge_method": "S256", **extra})
    return AuthorizationRequest(url=f"{consent_url}?{query}", state=state, code_verifier=verifier)


def exchange_code(token_call: TokenCall, code: str, code_verifier: str, redirect_uri: str, *,
                  no_token) -> Credentials:
    """The sign-in code for credentials; ``Permanent(no_token)`` when no access token came."""
    credentials = token_call({"grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri,
                              "code_verifier": code_verifier}, refreshing=False)
    if not credentials.access_token:
        raise Permanent(no_token)
    return credentials


def refresh_tokens(token_call: TokenCall, current: Credentials) -> Credentials:
    """Renew with the refresh token. A network that rotates it (X) sends a new one, which
    replaces the old; an answer without one keeps the stored one (never drop a refresh token the
    network did not replace)."""
    fresh = token_call({"grant_type": "refresh_token", "refresh_token": current.refresh_token}, refreshing=True)
    if not fresh.refresh_token:
        fresh = Credentials(access_token=fresh.access_token, refresh_token=current.refresh_token,
                            expires_at=fresh.expires_at, scope=fresh.scope or current.scope)
    return fresh
