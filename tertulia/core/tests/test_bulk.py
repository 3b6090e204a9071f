"""core.bulk: the raw batch insert writes what the ORM would, and skips conflicts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from tertulia.core import bulk
from tertulia.core.models import AuditEvent, LoginFailure


@pytest.mark.django_db
def test_insert_ignore_round_trips_values_and_skips_conflicts(brand_a):
    from tertulia.inbox.models import Author

    brand, _people = brand_a
    madrid_noon = datetime(2025, 6, 1, 12, 0, 0, 250000, tzinfo=timezone(timedelta(hours=2)))
    rows = [(brand.pk, "x", "1", "@uno", "Uno", 5, None, madrid_noon),
            (brand.pk, "x", "2", "@dos", "", None, madrid_noon, madrid_noon)]
    fields = ("brand_id", "network", "external_id", "handle", "display_name", "followers", "account_created_at",
              "first_seen_at")
    inserted = bulk.insert_ignore(Author, fields, rows, conflict=("brand", "network", "external_id"),
                                  returning=("external_id", "id"))
    if inserted is not None:
        assert sorted(ext for ext, _pk in inserted) == ["1", "2"]
    again = bulk.insert_ignore(Author, fields, rows, conflict=("brand", "network", "external_id"),
                               returning=("external_id", "id"))
    assert again in (None, [])
    assert Author.objects.count() == 2
    uno = Author.objects.get(external_id="1")
    assert uno.first_seen_at == madrid_noon and uno.first_seen_at.astimezone(UTC).hour == 10
    assert (uno.followers, uno.account_created_at) == (5, None)
    # The ORM's own filters find what the raw insert wrote.
    assert Author.objects.filter(first_seen_at=madrid_noon).count() == 2
    assert bulk.select_in(Author, ("external_id",), {"brand_id": brand.pk}, {"external_id": ["2", "3"]}) == [("2",)]
    assert bulk.select_in(Author, ("external_id",), {"brand_id": brand.pk}, {"external_id": []}) == []


@pytest.mark.django_db
def test_insert_ignore_handles_batches_beyond_one_statement():
    now = datetime(2025, 1, 1, tzinfo=UTC)
    rows = [(f"user{i}", None, now) for i in range(25000)]
    # LoginFailure has no unique constraint but its primary key: nothing conflicts.
    bulk.insert_ignore(LoginFailure, ("username", "ip", "created_at"), rows, conflict=("id",))
    assert LoginFailure.objects.count() == 25000
    assert not AuditEvent.objects.exists()


@pytest.mark.django_db
def test_select_keys_matches_whole_keys_only(brand_a):
    from tertulia.core.services import Ctx
    from tertulia.inbox.models import Author, Conversation
    from tertulia.networks.services import do_add_account

    brand, people = brand_a
    account = do_add_account(Ctx(people["owner"]), brand, network="x", handle="alpha")
    at = datetime(2025, 1, 1, tzinfo=UTC)
    a1 = Author.objects.create(brand=brand, network="x", external_id="1", handle="@1")
    a2 = Author.objects.create(brand=brand, network="x", external_id="2", handle="@2")
    for author, root in ((a1, "p1"), (a2, "p2")):
        Conversation.objects.create(brand=brand, account=account, kind="comment", author=author,
                                    root_external_id=root, last_message_at=at)
    # (a1, p2) and (a2, p1) mix parts of two real keys: neither exists.
    rows = bulk.select_keys(Conversation, ("author_id", "root_external_id"),
                            {"account_id": account.pk, "kind": "comment"}, ("author_id", "root_external_id"),
                            [(a1.pk, "p2"), (a2.pk, "p1"), (a1.pk, "p1")])
    assert rows == [(a1.pk, "p1")]
    assert bulk.select_keys(Conversation, ("id",), {"account_id": account.pk}, ("author_id",), []) == []
