"""Helpers shared by the calendar, plan, iCal and CSV tests (no tests here).

Objects are made through the same services the app uses."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.utils import timezone

from tertulia.content import services as content_services
from tertulia.content.approvals import do_mark_approved
from tertulia.core.services import Ctx
from tertulia.networks.services import do_add_account
from tertulia.strategy import services as strategy_services


@dataclass
class Cal:
    brand: object
    people: dict
    owner: Ctx
    mastodon: object
    bluesky: object
    pillar: object
    other_pillar: object
    campaign: object


def build(brand_a) -> Cal:
    brand, people = brand_a
    owner = Ctx(people["owner"], via="test")
    mastodon = do_add_account(owner, brand, network="mastodon", handle="@alpha@masto.es")
    bluesky = do_add_account(owner, brand, network="bluesky", handle="alpha.example")
    pillar = strategy_services.do_save_pillar(owner, brand, name="Educar", target_share=60, color="#2563eb")
    other = strategy_services.do_save_pillar(owner, brand, name="Entretener", target_share=40, color="#16a34a")
    campaign = content_services.do_create_campaign(owner, brand, name="Primavera")
    return Cal(brand, people, owner, mastodon, bluesky, pillar, other, campaign)


def future(days: int = 3, hour: int = 10, minute: int = 0) -> datetime:
    """A whole-minute UTC time ``days`` from now."""
    base = (timezone.now() + timedelta(days=days)).astimezone(UTC)
    return base.replace(hour=hour, minute=minute, second=0, microsecond=0)


def post(c: Cal, text: str = "Hola", *, when: datetime | None = None, accounts=None, pillar=None, campaign=None,
         approve: bool = False, by: Ctx | None = None, fmt: str = "text"):
    p = content_services.do_create_post(by or c.owner, c.brand, text=text, accounts=accounts or [c.mastodon],
                                        scheduled_at=when, pillar=pillar, campaign=campaign, format=fmt)
    if approve:
        p = do_mark_approved(c.owner, p)
    p.refresh_from_db()
    return p
