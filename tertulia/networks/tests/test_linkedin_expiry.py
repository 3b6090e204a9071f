"""The 60-day warning: LinkedIn pages whose sign-in cannot be renewed are announced to the
brand's owners and managers a week before it ends, once per sign-in."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from django.utils import translation

from tertulia.core.models import AuditEvent, Notification
from tertulia.core.services import Ctx
from tertulia.networks.linkedin import expiry
from tertulia.networks.models import SocialAccount
from tertulia.networks.services import do_add_account

pytestmark = pytest.mark.django_db
NOW = datetime(2026, 11, 25, 12, 0, tzinfo=timezone.utc)

@pytest.fixture(autouse=True)
def _english():
    """Messages are checked in English, whatever language an earlier test left active."""
    with translation.override("en"):
        yield


@pytest.fixture
def alpha(brand_a):
    return brand_a


def page(brand, people, handle="cafetertulia", *, ends_in=None, refresh="", refresh_ends_in=None, **fields):
    account = do_add_account(Ctx(people["owner"], via="test"), brand, network="linkedin", handle=handle,
                             access_token="AQVtoken", refresh_token=refresh, external_id="2414183", **fields)
    account.token_expires_at = NOW + ends_in if ends_in is not None else None
    if refresh_ends_in is not None:
        account.options = {**account.options, "refresh_token_expires_at": (NOW + refresh_ends_in).isoformat()}
    account.save()
    return account


def test_which_pages_are_expiring(alpha, tenant):
    brand, people = alpha
    soon = page(brand, people, "soon", ends_in=timedelta(days=6))
    page(brand, people, "later", ends_in=timedelta(days=30))
    page(brand, people, "gone", ends_in=timedelta(days=-1))  # already over: the next call says reconnect
    page(brand, people, "renewable", ends_in=timedelta(days=1), refresh="AQXr", refresh_ends_in=timedelta(days=200))
    refresh_ending = page(brand, people, "refresh-ending", ends_in=timedelta(days=1), refresh="AQXr",
                          refresh_ends_in=timedelta(days=3))
    parked = page(brand, people, "parked", ends_in=timedelta(days=2))
    SocialAccount.objects.filter(pk=parked.pk).update(status=SocialAccount.Status.NEEDS_RECONNECT)
    do_add_account(Ctx(people["owner"], via="test"), brand, network="mastodon", handle="@x@m.example",
                   access_token="t", base_url="https://m.example")
    found = expiry.accounts_expiring(now=NOW)
    assert [(e.account.handle, e.reason) for e in found] == [("soon", "access_token"),
                                                           ("refresh-ending", "refresh_token")]
    assert found[0].account.pk == soon.pk and found[1].account.pk == refresh_ending.pk
    assert [e.account.handle for e in expiry.accounts_expiring(within=timedelta(days=31), now=NOW)] == [
        "soon", "later", "refresh-ending"]


def test_owners_and_managers_are_told_once_per_sign_in(alpha):
    brand, people = alpha
    account = page(brand, people, ends_in=timedelta(days=7))
    assert expiry.warn_expiring(now=NOW) == 1
    notes = Notification.objects.filter(kind="account.expiring")
    assert {n.recipient for n in notes} == {people["owner"], people["manager"]}
    note = notes.first()
    assert note.link == f"/brands/{brand.pk}/accounts/connect/linkedin/" and note.brand == brand
    assert note.message[0]["params"] == {"handle": "cafetertulia", "date": "2026-12-02"}
    assert AuditEvent.objects.filter(action="account.expiring", object_id=str(account.pk)).count() == 1
    # The next runs say nothing more about the same sign-in...
    assert expiry.warn_expiring(now=NOW + timedelta(hours=6)) == 0
    assert Notification.objects.filter(kind="account.expiring").count() == 2
    # ...but a reconnection that again cannot be renewed is announced again before it ends.
    account.refresh_from_db()
    account.token_expires_at = NOW + timedelta(days=65)
    account.save()
    assert expiry.warn_expiring(now=NOW + timedelta(days=60)) == 1
    assert Notification.objects.filter(kind="account.expiring").count() == 4


def test_the_message_renders_in_each_readers_language(alpha):
    from django.utils import translation

    from tertulia.core import notes

    brand, people = alpha
    page(brand, people, ends_in=timedelta(days=3))
    expiry.warn_expiring(now=NOW)
    message = Notification.objects.filter(kind="account.expiring").first().message
    with translation.override("es"):
        spanish = notes.render(message)
    with translation.override("en"):
        english = notes.render(message)
    assert "cafetertulia" in spanish and "2026-11-28" in spanish and spanish != english
    assert "Reconnect the page" in english


def test_the_periodic_task_runs_the_warning(alpha, monkeypatch):
    from tertulia.networks.linkedin import tasks

    brand, people = alpha
    page(brand, people, ends_in=timedelta(days=2))
    monkeypatch.setattr(expiry.timezone, "now", lambda: NOW)
    assert tasks.linkedin_expiry_warnings.call_local() == 1
