"""The web flow's network side for LinkedIn pages (OAuth 2.0, 3-legged): the consent URL,
the code exchange, the pages the member administers, and what the session keeps while the
person chooses one.

Nothing here renders pages or writes rows: the views keep the session and the messages, and
``linkedin.services.do_connect_linkedin_page`` stores the account.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import quote, urlencode


from tertulia.core import crypto

from .. import oauth_flow
from ..base import AuthorizationRequest, Credentials, Profile
from ..http import HttpConfig, clean_text, publishing_http_config
from .connector import DEFAULT_AUTH_URL, DEFAULT_BASE_URL, LinkedInConnector, Organization, TokenAnswer, token_request

NETWORK = "linkedin"
# Community Management API: post, comment and read as the page (w_/r_organization_social),
# list the pages the member administers and read their statistics (rw_organization_admin).
DEFAULT_SCOPES = "r_organization_social w_organization_social rw_organization_admin"
CHOOSE_KEY = "linkedin_choose"
CHOOSE_SECONDS = 15 * 60
MAX_ORGANIZATIONS = 50


http_config = publishing_http_config  # the deployment's connector settings


def app() -> dict[str, str]:
    return oauth_flow.app_settings(NETWORK)


def configured() -> bool:
    conf = app()
    return bool(conf.get("client_id") and conf.get("client_secret"))


def scopes() -> str:
    return " ".join((app().get("scopes") or DEFAULT_SCOPES).split())


def auth_base() -> str:
    return oauth_flow.endpoint(NETWORK, "auth", DEFAULT_AUTH_URL)


def api_base() -> str:
    return oauth_flow.endpoint(NETWORK, "api", DEFAULT_BASE_URL)


def start(redirect_uri: str) -> AuthorizationRequest:
    """The consent page. LinkedIn's web flow uses the client secret (no PKCE for web apps)."""
    state = secrets.token_urlsafe(32)
    query = urlencode({"response_type": "code", "client_id": app().get("client_id", ""),
                       "redirect_uri": redirect_uri, "state": state, "scope": scopes()}, quote_via=quote)
    return AuthorizationRequest(url=f"{auth_base()}/oauth/v2/authorization?{query}", state=state, code_verifier="")


def exchange(code: str, redirect_uri: str, *, config: HttpConfig | None = None) -> TokenAnswer:
    conf = app()
    return token_request(auth_base(), {"grant_type": "authorization_code", "code": code,
                                       "redirect_uri": redirect_uri, "client_id": conf.get("client_id", ""),
                                       "client_secret": conf.get("client_secret", "")},
                         config=config or http_config())


def _connector(credentials: Credentials, org_id: str = "", config: HttpConfig | None = None) -> LinkedInConnector:
    return LinkedInConnector(base_url=api_base(), credentials=credentials, account_id=org_id,
                             http_config=config or http_config(), account_key=f"connect:linkedin:{org_id}")


def administered(credentials: Credentials, *, config: HttpConfig | None = None) -> list[Organization]:
    """The organisation pages the member is an (approved) administrator of."""
    with _connector(credentials, config=config) as connector:
        response = connector.call("GET", "/rest/organizationAcls",
                                  query={"q": "roleAssignee", "role": "ADMINISTRATOR", "state": "APPROVED"})
        ids: list[str] = []
        for element in (response.data or {}).get("elements", []) if isinstance(response.data, dict) else []:
            if not isinstance(element, dict) or element.get("state", "APPROVED") != "APPROVED":
                continue
            urn = element.get("organization") or element.get("organizationalTarget")
            if isinstance(urn, str) and urn.startswith("urn:li:organization:"):
                org = urn.rsplit(":", 1)[1]
                if org.isdigit() and org not in ids:
                    ids.append(org)
        return [connector.organization(org) for org in ids[:MAX_ORGANIZATIONS]]


def page_profile(credentials: Credentials, org_id: str, *, config: HttpConfig | None = None) -> Profile:
    with _connector(credentials, org_id, config=config) as connector:
        return connector.fetch_profile()


# -- what waits in the session while the person chooses a page ------------------------------------


@dataclass(frozen=True)
class Pending:
    brand_id: int
    answer: TokenAnswer
    organizations: list[Organization]


def keep(session, brand_id: int, answer: TokenAnswer, organizations: list[Organization]) -> None:
    """The tokens wait encrypted in the server-side session, never in a page or a URL."""
    creds = answer.credentials
    session[CHOOSE_KEY] = {
        "brand_id": brand_id, "expires": time.time() + CHOOSE_SECONDS,
        "access": crypto.encrypt(creds.access_token),
        "refresh": crypto.encrypt(creds.refresh_token) if creds.refresh_token else "",
        "expires_at": creds.expires_at.isoformat() if creds.expires_at else "",
        "refresh_expires_at": answer.refresh_expires_at.isoformat() if answer.refresh_expires_at else "",
        "scope": creds.scope,
        "organizations": [{"id": o.id, "name": o.name, "vanity_name": o.vanity_name, "url": o.url}
                          for o in organizations],
    }


def _time(value: Any) -> datetime | None:
    try:
        return datetime.fromisoformat(value) if isinstance(value, str) and value else None
    except ValueError:
        return None


def waiting(session, brand_id: int) -> Pending | None:
    """The choice waiting for this brand, if any and not expired."""
    data = session.get(CHOOSE_KEY)
    if not isinstance(data, dict) or data.get("brand_id") != brand_id or time.time() > float(data.get("expires") or 0):
        return None
    try:
        access = crypto.decrypt(data["access"])
        refresh = crypto.decrypt(data["refresh"]) if data.get("refresh") else ""
    except Exception:  # noqa: BLE001 - a key rotation or a tampered row: start again
        return None
    creds = Credentials(access_token=access, refresh_token=refresh, expires_at=_time(data.get("expires_at")),
                        scope=str(data.get("scope") or ""))
    orgs = [Organization(id=str(o.get("id")), name=clean_text(str(o.get("name") or ""), 200),
                         vanity_name=str(o.get("vanity_name") or ""), url=str(o.get("url") or ""))
            for o in data.get("organizations") or [] if isinstance(o, dict) and str(o.get("id", "")).isdigit()]
    return Pending(brand_id, TokenAnswer(creds, _time(data.get("refresh_expires_at"))), orgs)


def forget(session) -> None:
    session.pop(CHOOSE_KEY, None)

