"""Writes to the inbox: ingesting what the networks send, and the team's triage actions.

``ingest_interactions`` is what every connector calls after polling (or receiving a webhook),
and what the demo generator calls to fill the inbox. It works on batches so that a poll of a
busy account, a history backfill or a benchmark of a million rows all take the same road:

- idempotent on (account, external_id): the same comment seen by two polls is stored once;
  a changed text on a known id is recorded as an edit;
- authors are created or merged on (brand, network, external_id); a new handle or follower
  count overwrites the old one;
- conversations are created or merged on (account, kind, author, root); their
  ``last_message_at`` only moves forward (MAX in SQL, so two concurrent pollers cannot move it
  back), and the newest message decides who the conversation is waiting for;
- every insert is ``bulk_create(ignore_conflicts=True)`` on a unique constraint, so a race
  with another poller of the same account loses nothing and duplicates nothing, on SQLite and
  PostgreSQL alike.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from tertulia.core import bulk, roles
from tertulia.core.services import Ctx, _log, _require
from tertulia.networks.models import SocialAccount

from .models import Author, Conversation, Interaction

# Rows per IN (...) lookup and per UPDATE ... CASE: well under SQLite's 999 variables.
CHUNK = 400


@dataclass(frozen=True, slots=True)
class IncomingAuthor:
    external_id: str
    handle: str
    display_name: str = ""
    followers: int | None = None
    account_created_at: datetime | None = None


@dataclass(slots=True)
class IncomingInteraction:
    """One comment, mention or direct message as a connector hands it over."""

    external_id: str
    kind: str  # Conversation.Kind: comment | mention | dm
    author: IncomingAuthor  # who wrote it
    text: str
    created_at: datetime
    root_external_id: str = ""  # the post commented on, the DM thread, the mention's thread
    parent_external_id: str = ""
    direction: str = Interaction.Direction.INBOUND
    # For an outbound message (the brand's own reply), the person the brand is talking to:
    # the conversation belongs to them, not to the brand's account.
    counterpart: IncomingAuthor | None = None
    language: str = ""
    # Triage, when the source already knows it (the nlp models fill these otherwise).
    sentiment: str = ""
    intent: str = ""
    toxicity: float | None = None
    urgency: float | None = None
    edited_at: datetime | None = None


@dataclass
class IngestResult:
    created: int = 0  # new interactions stored
    duplicates: int = 0  # already known, unchanged
    edited: int = 0  # already known, text changed
    new_authors: int = 0
    new_conversations: int = 0
    # external_id -> conversation id, for every interaction of the batch (new or known)
    conversation_ids: dict[str, int] = field(default_factory=dict)


def _chunks(seq: Sequence, size: int = CHUNK):
    for i in range(0, len(seq), size):
        yield seq[i:i + size]


_KINDS = frozenset(Conversation.Kind.values)
_DIRECTIONS = frozenset(Interaction.Direction.values)
_INBOUND = Interaction.Direction.INBOUND.value


def _validate(item: IncomingInteraction) -> None:
    if not item.external_id:
        raise ValidationError(_("An interaction without an id cannot be stored."))
    if item.kind not in _KINDS:
        raise ValidationError(_("Unknown kind of interaction: %(kind)s.") % {"kind": item.kind})
    if item.direction not in _DIRECTIONS:
        raise ValidationError(_("Unknown direction: %(direction)s.") % {"direction": item.direction})
    if item.direction != _INBOUND and item.counterpart is None:
        raise ValidationError(_("A message sent by the brand needs the person it answers."))
    if item.created_at.tzinfo is None:
        raise ValidationError(_("Interaction times must carry a time zone."))


def _owner(item: IncomingInteraction) -> IncomingAuthor:
    """The conversation's person: the writer of an inbound message, the addressee of a reply."""
    return item.author if item.direction == _INBOUND else item.counterpart


def _upsert_authors(account: SocialAccount, seen: dict[str, tuple[IncomingAuthor, datetime]],
                    result: IngestResult) -> dict[str, int]:
    """Create the authors we do not know, merge the ones we do; return external_id -> pk."""
    brand_id, network = account.brand_id, account.network
    known: dict[str, tuple] = {}

    def lookup(ids):
        for chunk in _chunks(ids):
            for row in bulk.select_in(Author, ("external_id", "id", "handle", "display_name", "followers"),
                                      {"brand_id": brand_id, "network": network}, {"external_id": chunk}):
                known[row[0]] = row[1:]

    lookup(list(seen))
    fresh = [ext for ext in seen if ext not in known]
    if fresh:
        inserted = bulk.insert_ignore(
            Author, AUTHOR_COLUMNS,
            [(brand_id, network, ext, a.handle[:200], a.display_name[:200], a.followers, a.account_created_at, first)
             for ext in fresh for a, first in (seen[ext],)],
            conflict=("brand", "network", "external_id"), returning=("external_id", "id"),
        )
        if inserted is None:
            lookup(fresh)
            result.new_authors += len(fresh)
        else:
            for ext, pk in inserted:
                known[ext] = (pk, None, None, None)
            result.new_authors += len(inserted)
            if len(inserted) < len(fresh):  # created meanwhile by another poller
                lookup([ext for ext in fresh if ext not in known])
    changed = []
    fresh_set = set(fresh)
    for ext, (pk, handle, display_name, followers) in known.items():
        if ext in fresh_set:
            continue
        a = seen[ext][0]
        new = (a.handle[:200], a.display_name[:200] or display_name,
               a.followers if a.followers is not None else followers)
        if new != (handle, display_name, followers):
            changed.append(Author(pk=pk, handle=new[0], display_name=new[1], followers=new[2]))
    if changed:
        Author.objects.bulk_update(changed, ["handle", "display_name", "followers"], batch_size=CHUNK // 4)
    return {ext: row[0] for ext, row in known.items()}


AUTHOR_COLUMNS = ("brand_id", "network", "external_id", "handle", "display_name", "followers",
                  "account_created_at", "first_seen_at")
CONVERSATION_COLUMNS = ("brand_id", "account_id", "kind", "author_id", "root_external_id", "status",
                        "last_message_at", "first_response_at")
INTERACTION_COLUMNS = ("brand_id", "conversation_id", "account_id", "external_id", "parent_external_id",
                       "direction", "author_id", "text", "language", "created_at", "received_at", "edited_at",
                       "sentiment", "intent", "toxicity", "urgency")

ConvKey = tuple[str, int, str]  # (kind, author pk, root external id)


@dataclass(slots=True)
class _ConvDelta:
    last_at: datetime
    last_direction: str
    first_in_at: datetime | None = None
    out_times: list = field(default_factory=list)

    def add(self, item: IncomingInteraction) -> None:
        if item.created_at >= self.last_at:
            self.last_at, self.last_direction = item.created_at, item.direction
        if item.direction == _INBOUND:
            if self.first_in_at is None or item.created_at < self.first_in_at:
                self.first_in_at = item.created_at
        else:
            self.out_times.append(item.created_at)

    def first_response(self, earlier_inbound: bool = False) -> datetime | None:
        """The brand's first message after the customer's first one (None if it has not
        answered yet). ``earlier_inbound``: the customer spoke before this batch."""
        if earlier_inbound:
            return min(self.out_times, default=None)
        if self.first_in_at is None:
            return None
        return min((t for t in self.out_times if t >= self.first_in_at), default=None)


def _status_for(direction: str) -> str:
    # The customer spoke last: the team owes an answer. The brand spoke last: we wait.
    return Conversation.Status.OPEN.value if direction == _INBOUND else Conversation.Status.PENDING.value


def _lookup_conversations(account: SocialAccount, keys: list[ConvKey], found: dict[ConvKey, int],
                          state: dict[ConvKey, tuple] | None = None) -> None:
    """Find conversations by their full key, one exact probe of the unique index per key.
    ``state`` receives (status, last_message_at, first_response_at) when given."""
    by_kind: dict[str, list[ConvKey]] = defaultdict(list)
    for key in keys:
        by_kind[key[0]].append(key)
    for kind, kind_keys in by_kind.items():
        for chunk in _chunks(kind_keys, CHUNK):
            pairs = [(k[1], k[2]) for k in chunk]
            if state is None:
                for pk, author_id, root in bulk.select_keys(
                    Conversation, ("id", "author_id", "root_external_id"), {"account_id": account.pk, "kind": kind},
                    ("author_id", "root_external_id"), pairs,
                ):
                    found[(kind, author_id, root)] = pk
                continue
            # The ORM converts the datetimes back, for comparing with ours (only when the
            # database cannot return inserted rows, so this path stays rare).
            wanted = set(chunk)
            for row in Conversation.objects.filter(
                account=account, kind=kind, author_id__in={k[1] for k in chunk},
                root_external_id__in={k[2] for k in chunk},
            ).values_list("pk", "author_id", "root_external_id", "status", "last_message_at", "first_response_at"):
                key = (kind, row[1], row[2])
                if key in wanted:
                    found[key] = row[0]
                    state[key] = row[3:]


def _upsert_conversations(account: SocialAccount, deltas: dict[ConvKey, _ConvDelta],
                          result: IngestResult) -> dict[ConvKey, int]:
    keys = list(deltas)
    found: dict[ConvKey, int] = {}
    _lookup_conversations(account, keys, found)
    existing = [k for k in keys if k in found]
    fresh = [k for k in keys if k not in found]
    if fresh:
        values = {k: (_status_for(deltas[k].last_direction), deltas[k].last_at, deltas[k].first_response())
                  for k in fresh}
        inserted = bulk.insert_ignore(
            Conversation, CONVERSATION_COLUMNS,
            [(account.brand_id, account.pk, k[0], k[1], k[2], *values[k]) for k in fresh],
            conflict=("account", "kind", "author", "root_external_id"),
            returning=("id", "kind", "author_id", "root_external_id"),
        )
        if inserted is not None:
            for pk, kind, author_id, root in inserted:
                found[(kind, author_id, root)] = pk
            result.new_conversations += len(inserted)
            skipped = [k for k in fresh if k not in found]
            _lookup_conversations(account, skipped, found)
        else:
            state: dict[ConvKey, tuple] = {}
            _lookup_conversations(account, fresh, found, state)
            skipped = [k for k in fresh if state.get(k) != values[k]]
            result.new_conversations += len(fresh) - len(skipped)
        # Another poller created these between our lookup and our insert, so ON CONFLICT
        # skipped ours: merge our messages into theirs like any existing conversation.
        existing += skipped
    _merge_existing(existing, found, deltas)
    return found


# Every value is computed in SQL from the row's current one (newest message wins, the first
# response is kept once set), so two batches touching the same conversation commute: the
# result does not depend on which commits first. SQL evaluates every SET expression against
# the old row, so the status and closed_at tests see the old last_message_at.
_MERGE_SQL = (
    "UPDATE {table} SET "
    "status = CASE WHEN last_message_at <= %s THEN %s ELSE status END, "
    "closed_at = CASE WHEN last_message_at <= %s THEN NULL ELSE closed_at END, "
    "first_response_at = COALESCE(first_response_at, %s), "
    "last_message_at = CASE WHEN last_message_at < %s THEN %s ELSE last_message_at END "
    "WHERE id = %s"
)


def _merge_existing(keys: list[ConvKey], found: dict[ConvKey, int], deltas: dict[ConvKey, _ConvDelta]) -> None:
    if not keys:
        return
    adapt = bulk.datetime_adapter(Conversation)
    params = []
    for k in keys:
        d = deltas[k]
        last = adapt(d.last_at)
        # A newer message, either way, leaves the conversation open or pending: never closed.
        params.append((last, _status_for(d.last_direction), last,
                       adapt(d.first_response(earlier_inbound=True)), last, last, found[k]))
    bulk.execute_many(Conversation, _MERGE_SQL.format(table=Conversation._meta.db_table), params)


def ingest_interactions(account: SocialAccount, batch: Iterable[IncomingInteraction]) -> IngestResult:
    """Store a batch of interactions seen on ``account``. Safe to call again with the same batch."""
    result = IngestResult()
    items: dict[str, IncomingInteraction] = {}
    for item in batch:
        _validate(item)
        items.setdefault(item.external_id, item)  # the first copy of an id in a batch wins
    if not items:
        return result
    now = timezone.now()
    with transaction.atomic():
        known: dict[str, tuple[int, str, int]] = {}
        for chunk in _chunks(list(items)):
            for ext, pk, text, conv in bulk.select_in(
                Interaction, ("external_id", "id", "text", "conversation_id"), {"account_id": account.pk},
                {"external_id": chunk},
            ):
                known[ext] = (pk, text, conv)
        edits = []
        for ext, (pk, text, conv) in known.items():
            result.conversation_ids[ext] = conv
            item = items[ext]
            if item.text != text:
                edits.append(Interaction(pk=pk, text=item.text, edited_at=item.edited_at or now))
            else:
                result.duplicates += 1
        if edits:
            Interaction.objects.bulk_update(edits, ["text", "edited_at"], batch_size=CHUNK // 4)
            result.edited = len(edits)
        new = [item for ext, item in items.items() if ext not in known]
        if not new:
            return result

        seen: dict[str, tuple[IncomingAuthor, datetime]] = {}
        for item in new:
            for a in (item.author, item.counterpart):
                if a is None:
                    continue
                prev = seen.get(a.external_id)
                if prev is None or item.created_at < prev[1]:
                    seen[a.external_id] = (a, item.created_at)
        author_pk = _upsert_authors(account, seen, result)

        deltas: dict[ConvKey, _ConvDelta] = {}
        item_key: list[ConvKey] = []
        for item in new:
            key = (item.kind, author_pk[_owner(item).external_id], item.root_external_id[:200])
            item_key.append(key)
            d = deltas.get(key)
            if d is None:
                d = deltas[key] = _ConvDelta(last_at=item.created_at, last_direction=item.direction)
            d.add(item)
        conv_pk = _upsert_conversations(account, deltas, result)

        brand_id, account_id = account.brand_id, account.pk
        rows = []
        for item, key in zip(new, item_key):
            conv = conv_pk[key]
            result.conversation_ids[item.external_id] = conv
            rows.append((
                brand_id, conv, account_id, item.external_id, item.parent_external_id[:200], item.direction,
                author_pk[item.author.external_id], item.text, item.language[:8], item.created_at, now,
                item.edited_at, item.sentiment, item.intent, item.toxicity, item.urgency,
            ))
        bulk.insert_ignore(Interaction, INTERACTION_COLUMNS, rows, conflict=("account", "external_id"))
        result.created = len(rows)
    return result


# --- The team's actions ----------------------------------------------------------------

@transaction.atomic
def do_set_status(ctx: Ctx, brand, conversation_ids: Iterable[int], status: str) -> int:
    """Close, reopen or park many conversations at once (the inbox's bulk action)."""
    _require(ctx, brand, roles.REPLY)
    if status not in Conversation.Status.values:
        raise ValidationError({"status": _("Unknown status.")})
    ids = sorted(set(int(i) for i in conversation_ids))
    closed_at = timezone.now() if status == Conversation.Status.CLOSED else None
    changed = 0
    for chunk in _chunks(ids):
        changed += (
            Conversation.objects.filter(brand=brand, pk__in=chunk).exclude(status=status)
            .update(status=status, closed_at=closed_at)
        )
    if changed:
        _log(ctx, "conversation.status", brand=brand, changes={"status": status, "count": changed})
    return changed


def close_inactive(brand, before: datetime) -> int:
    """The inbox rule: a conversation waiting for the customer with no news since ``before``
    is closed. Open ones (the customer is waiting for us) are never closed by a rule."""
    return Conversation.objects.filter(
        brand=brand, status=Conversation.Status.PENDING, last_message_at__lt=before
    ).update(status=Conversation.Status.CLOSED, closed_at=timezone.now())
