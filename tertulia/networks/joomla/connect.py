"""Connecting a Joomla site: check the address, the API token and the chosen category by
asking the site itself, before anything is stored. Network calls only; the write is
``services.do_connect_joomla``."""

from __future__ import annotations

from dataclasses import dataclass


from ..base import Credentials, Profile
from ..http import HttpConfig, publishing_http_config
from .connector import JoomlaConnector, normalize_site_url


http_config = publishing_http_config  # the deployment's connector settings


@dataclass(frozen=True)
class CheckedSite:
    base_url: str
    profile: Profile
    category: dict


def check_site(base_url: str, token: str, *, category: str = "", config: HttpConfig | None = None) -> CheckedSite:
    """Read the site's article count with the token (proves the address is a Joomla 4/5 with
    its API on and that the token works), its name when allowed, and the category. Raises the
    connector's errors (``AuthExpired`` for a refused token, ``Permanent`` for an unknown
    category, a private address or a site that is not Joomla, ``Retryable`` when unreachable)."""
    base_url = normalize_site_url(base_url)
    with JoomlaConnector(base_url=base_url, credentials=Credentials(access_token=token), category=category,
                         http_config=config or http_config(), account_key=f"joomla-connect:{base_url}") as connector:
        profile = connector.fetch_profile()
        found = connector.find_category()
    return CheckedSite(base_url=base_url, profile=profile, category=found)
