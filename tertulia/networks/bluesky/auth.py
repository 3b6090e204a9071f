"""Connecting a Bluesky account: app-password sessions (``com.atproto.server.*``).

1. The person creates an app password in Bluesky (Settings → Privacy and security → App
   passwords) and gives Tertulia their handle (or e-mail, or DID) and that password.
2. ``create_session`` (``com.atproto.server.createSession``) returns an access JWT (short-lived,
   about two hours on bsky.social), a refresh JWT (about two months), the account's DID and
   handle. Keep both JWTs encrypted; the password itself need not be stored.
3. When the access JWT expires the PDS answers ``400 {"error": "ExpiredToken"}``; the connector
   calls ``com.atproto.server.refreshSession`` with the refresh JWT as the bearer token, once,
   and keeps going. The PDS rotates the refresh JWT: the new one replaces the old, and when an
   answer does not carry one the old one is kept (never dropped).
4. When the refresh JWT is rejected too, the account needs reconnecting (``AuthExpired``).

Lexicons: com.atproto.server.{createSession,refreshSession,getSession}.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from django.utils.translation import gettext_lazy as _

from ..base import Credentials
from ..errors import Permanent
from ..http import clean_text

MSG_LOGIN = _("Bluesky did not accept the handle and app password. Check them and connect the account again.")
MSG_NO_SESSION = _("This Bluesky account has no session. Connect it again with an app password.")
MSG_BAD_SESSION = _("The Bluesky server did not open a session. Is the server address right?")


def normalize_base_url(value: str) -> str:
    """``bsky.social`` or ``https://bsky.social/`` -> ``https://bsky.social``."""
    value = (value or "").strip().rstrip("/")
    if value and "://" not in value:
        value = "https://" + value
    return value


def jwt_expiry(token: str) -> datetime | None:
    """The ``exp`` claim of a JWT, read without verifying it (only the PDS can, and only the
    PDS needs to): used to refresh before expiry instead of after a failed call."""
    try:
        payload = token.split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        return datetime.fromtimestamp(float(claims["exp"]), timezone.utc)
    except (IndexError, ValueError, KeyError, TypeError, OverflowError):
        return None


@dataclass(frozen=True)
class Session:
    """What createSession/refreshSession return that we keep."""

    credentials: Credentials
    did: str
    handle: str


def session_from(data: Any, previous: Credentials | None = None) -> Session:
    """A session answer -> ``Session``. A missing refresh JWT keeps the previous one."""
    if not isinstance(data, dict) or not isinstance(data.get("accessJwt"), str) or not data.get("accessJwt") \
            or not isinstance(data.get("did"), str) or not data["did"].startswith("did:"):
        raise Permanent(MSG_BAD_SESSION, detail=clean_text(json.dumps(data)[:300] if data is not None else "", 300))
    refresh = data.get("refreshJwt") if isinstance(data.get("refreshJwt"), str) and data.get("refreshJwt") else ""
    if not refresh and previous is not None:
        refresh = previous.refresh_token
    access = data["accessJwt"]
    credentials = Credentials(access_token=access, refresh_token=refresh, expires_at=jwt_expiry(access),
                              scope=(previous.scope if previous else "") or "app-password")
    return Session(credentials=credentials, did=clean_text(data["did"], 200),
                   handle=clean_text(str(data.get("handle") or ""), 253))
