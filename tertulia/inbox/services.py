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

import logging
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from tertulia.core import bulk, roles
from tertulia.core.scoping import has_perm
from tertulia.core.services import Ctx, _log, _require
from tertulia.networks.models import SocialAccount

from . import rules, triage
from .models import Author, Conversation, Correction, Interaction, Label

MSG_ASSIGNED_ONE = gettext_lazy("%(who)s assigned you a conversation.")
MSG_ASSIGNED_MANY = gettext_lazy("%(who)s assigned you %(count)s conversations.")

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
    # conversations this batch created (known only where the database returns inserted rows)
    created_conversation_ids: set[int] = field(default_factory=set)


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
        for chunk in bulk.chunks(ids):
            for row in bulk.select_in(Author, ("external_id", "id", "handle", "display_name", "followers",
                                               "account_created_at"),
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
                known[ext] = (pk, None, None, None, None)
            result.new_authors += len(inserted)
            if len(inserted) < len(fresh):  # created meanwhile by another poller
                lookup([ext for ext in fresh if ext not in known])
    changed = []
    fresh_set = set(fresh)
    for ext, (pk, handle, display_name, followers, opened) in known.items():
        if ext in fresh_set:
            continue
        a = seen[ext][0]
        new = (a.handle[:200], a.display_name[:200] or display_name,
               a.followers if a.followers is not None else followers, opened or a.account_created_at)
        if new != (handle, display_name, followers, opened):
            changed.append(Author(pk=pk, handle=new[0], display_name=new[1], followers=new[2],
                                  account_created_at=new[3]))
    if changed:
        Author.objects.bulk_update(changed, ["handle", "display_name", "followers", "account_created_at"],
                                   batch_size=bulk.CHUNK // 5)
    return {ext: row[0] for ext, row in known.items()}


AUTHOR_COLUMNS = ("brand_id", "network", "external_id", "handle", "display_name", "followers",
                  "account_created_at", "first_seen_at")
CONVERSATION_COLUMNS = ("brand_id", "account_id", "kind", "author_id", "root_external_id", "status",
                        "last_message_at", "first_response_at", "opened_at")
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
        for chunk in bulk.chunks(kind_keys):
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
            [(account.brand_id, account.pk, k[0], k[1], k[2], *values[k], deltas[k].first_in_at) for k in fresh],
            conflict=("account", "kind", "author", "root_external_id"),
            returning=("id", "kind", "author_id", "root_external_id"),
        )
        if inserted is not None:
            for pk, kind, author_id, root in inserted:
                found[(kind, author_id, root)] = pk
                result.created_conversation_ids.add(pk)
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
# the old row, so the status and closed_at tests see the old last_message_at. ``opened_at``
# (the customer's first message) takes the earlier of the stored one and this batch's.
_MERGE_SQL = (
    "UPDATE {table} SET "
    "status = CASE WHEN last_message_at <= %s THEN %s ELSE status END, "
    "closed_at = CASE WHEN last_message_at <= %s THEN NULL ELSE closed_at END, "
    "first_response_at = COALESCE(first_response_at, %s), "
    "opened_at = CASE WHEN opened_at IS NULL OR opened_at > %s THEN COALESCE(%s, opened_at) ELSE opened_at END, "
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
        first_in = adapt(d.first_in_at)
        params.append((last, _status_for(d.last_direction), last,
                       adapt(d.first_response(earlier_inbound=True)), first_in, first_in, last, last, found[k]))
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
        known: dict[str, tuple[int, str, int, str, int]] = {}
        for chunk in bulk.chunks(list(items)):
            for ext, pk, text, conv, direction, author_id in bulk.select_in(
                Interaction, ("external_id", "id", "text", "conversation_id", "direction", "author_id"),
                {"account_id": account.pk}, {"external_id": chunk},
            ):
                known[ext] = (pk, text, conv, direction, author_id)
        edits, edited_items, edited_authors = [], [], {}
        for ext, (pk, text, conv, direction, author_id) in known.items():
            result.conversation_ids[ext] = conv
            item = items[ext]
            if item.text != text:
                edits.append(Interaction(pk=pk, text=item.text, edited_at=item.edited_at or now))
                edited_items.append(item)
                edited_authors[item.author.external_id] = author_id
            else:
                result.duplicates += 1
        if edits:
            _store_edits(account, edits, edited_items, edited_authors, now, result)
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
        # Triage of the new inbound messages: one call of the models for the whole batch,
        # stored in the same INSERT.
        verdicts = triage.verdicts(brand_id, new, author_pk, now)
        rows = []
        for item, key, v in zip(new, item_key, verdicts):
            conv = conv_pk[key]
            result.conversation_ids[item.external_id] = conv
            if v is None:
                fields = (item.language[:8], item.sentiment, item.intent, item.toxicity, item.urgency)
            else:
                fields = (v.language[:8], v.sentiment[:8], v.intent[:16], v.toxicity, v.urgency)
            rows.append((
                brand_id, conv, account_id, item.external_id, item.parent_external_id[:200], item.direction,
                author_pk[item.author.external_id], item.text, fields[0], item.created_at, now,
                item.edited_at, *fields[1:],
            ))
        inbound = any(v is not None for v in verdicts)
        inserted = bulk.insert_ignore(Interaction, INTERACTION_COLUMNS, rows, conflict=("account", "external_id"),
                                      returning=("external_id", "id") if inbound else ())
        result.created = len(rows)
        if inbound:
            _after_insert(account, new, verdicts, result, inserted)
    return result


def _store_edits(account: SocialAccount, edits: list[Interaction], items: list[IncomingInteraction],
                 author_pk: dict[str, int], now: datetime, result: IngestResult) -> None:
    """New words on a known message: stored, and triaged again (an edit can turn a question
    into an insult); a message that became toxic flags its conversation."""
    fields = ["text", "edited_at"]
    verdicts = triage.verdicts(account.brand_id, items, author_pk, now)
    flag = set()
    if any(v is not None for v in verdicts):
        fields += ["language", "sentiment", "intent", "toxicity", "urgency"]
        for row, item, v in zip(edits, items, verdicts):
            v = v or triage.Verdict()  # the brand's own message: no triage
            row.language, row.sentiment, row.intent = v.language[:8], v.sentiment[:8], v.intent[:16]
            row.toxicity, row.urgency = v.toxicity, v.urgency
            if v.flag:
                flag.add(result.conversation_ids[item.external_id])
    Interaction.objects.bulk_update(edits, fields, batch_size=bulk.CHUNK // 4)
    if flag:
        Conversation.objects.filter(pk__in=sorted(flag)).update(flagged=True)
    result.edited = len(edits)


def _after_insert(account: SocialAccount, new: list[IncomingInteraction], verdicts: list, result: IngestResult,
                  inserted: list[tuple] | None) -> None:
    """The new inbound messages' conversations take their triage and SLA due times, then the
    brand's rules and the built-in escalation run on them."""
    if inserted is None:  # a database that cannot return inserted rows: look them up
        ext = [item.external_id for item, v in zip(new, verdicts) if v is not None]
        pks = {}
        for chunk in bulk.chunks(ext):
            pks.update(bulk.select_in(Interaction, ("external_id", "id"), {"account_id": account.pk},
                                      {"external_id": chunk}))
    else:
        pks = dict(inserted)
    fresh = [(item, v) for item, v in zip(new, verdicts) if v is not None and item.external_id in pks]
    if not fresh:
        return
    triage.update_conversations(account.brand_id, [
        (result.conversation_ids[item.external_id], item.created_at, v) for item, v in fresh],
        created=result.created_conversation_ids)
    rules.apply(account, [
        rules.Message(interaction_id=pks[item.external_id], conversation_id=result.conversation_ids[item.external_id],
                      network=account.network, kind=item.kind, text=item.text, language=v.language,
                      sentiment=v.sentiment, intent=v.intent, toxicity=v.toxicity, urgency=v.priority,
                      author=item.author.handle, created_at=item.created_at)
        for item, v in fresh])


# --- The team's actions ----------------------------------------------------------------

@transaction.atomic
def do_set_status(ctx: Ctx, brand, conversation_ids: Iterable[int], status: str) -> int:
    """Close, reopen or park many conversations at once (the inbox's bulk action)."""
    _require(ctx, brand, roles.REPLY)
    if status not in Conversation.Status.values:
        raise ValidationError({"status": _("Unknown status.")})
    from . import sla

    ids = _ids(conversation_ids)
    now = timezone.now()
    closed_at = now if status == Conversation.Status.CLOSED else None
    changed = 0
    for chunk in bulk.chunks(ids):
        moving = list(Conversation.objects.filter(brand=brand, pk__in=chunk).exclude(status=status)
                      .values_list("pk", flat=True))
        if not moving:
            continue
        changed += Conversation.objects.filter(pk__in=moving).update(status=status, closed_at=closed_at)
        if status == Conversation.Status.CLOSED:
            sla.stop_on_close(moving)  # the resolution timer stops
        else:  # reopened: the team owes a resolution again
            Conversation.objects.filter(pk__in=moving, resolution_due_at__isnull=True).update(
                resolution_due_at=now + sla.targets(brand.pk).resolution)
    if changed:
        _log(ctx, "conversation.status", brand=brand, changes={"status": status, "count": changed})
    return changed


def close_inactive(brand, before: datetime) -> int:
    """The inbox rule: a conversation waiting for the customer with no news since ``before``
    is closed. Open ones (the customer is waiting for us) are never closed by a rule."""
    return Conversation.objects.filter(
        brand=brand, status=Conversation.Status.PENDING, last_message_at__lt=before
    ).update(status=Conversation.Status.CLOSED, closed_at=timezone.now(), resolution_due_at=None, escalated_at=None)


def _ids(conversation_ids: Iterable) -> list[int]:
    try:
        return sorted({int(i) for i in conversation_ids})
    except (TypeError, ValueError):
        raise ValidationError(_("Unknown conversation.")) from None


@transaction.atomic
def do_assign(ctx: Ctx, brand, conversation_ids: Iterable[int], user) -> int:
    """Give many conversations to a member who works the inbox (or to nobody: ``user=None``).
    Ids of another brand are ignored. The new assignee is told (unless they assigned themselves)."""
    _require(ctx, brand, roles.REPLY)
    if user is not None and (not user.is_active or not has_perm(user, brand, roles.REPLY)):
        raise ValidationError({"assignee": _("This person does not work this brand's inbox.")})
    ids = _ids(conversation_ids)
    changed: list[int] = []
    for chunk in bulk.chunks(ids):
        qs = Conversation.objects.filter(brand=brand, pk__in=chunk)
        qs = qs.exclude(assignee=user) if user is not None else qs.exclude(assignee__isnull=True)
        found = list(qs.values_list("pk", flat=True))
        if found:
            Conversation.objects.filter(pk__in=found).update(assignee=user)
            changed.extend(found)
    if changed:
        _log(ctx, "conversation.assign", brand=brand,
             changes={"assignee": user.get_username() if user else None, "count": len(changed),
                      "ids": changed[:50]})
        if user is not None and user.pk != ctx.user.pk:
            from tertulia.core import notes, notifications

            if len(changed) == 1:
                message = notes.note(MSG_ASSIGNED_ONE, who=ctx.user.get_username())
                link = f"/brands/{brand.pk}/inbox/{changed[0]}/"
            else:
                message = notes.note(MSG_ASSIGNED_MANY, who=ctx.user.get_username(), count=len(changed))
                link = f"/brands/{brand.pk}/inbox/?assignee=me"
            notifications.notify([user], kind="inbox.assigned", message=message, link=link, brand=brand,
                                 email=False)
    return len(changed)


@transaction.atomic
def do_label(ctx: Ctx, brand, conversation_ids: Iterable[int], add: Iterable[str] = (),
             remove: Iterable[str] = ()) -> int:
    """Add and remove labels (by name; new names become labels) on many conversations.
    Returns how many conversations were touched."""
    _require(ctx, brand, roles.REPLY)
    add = [n.strip() for n in add if n and n.strip()]
    remove = [n.strip() for n in remove if n and n.strip()]
    if any(len(n) > 60 for n in add):
        raise ValidationError({"labels": _("A label is at most 60 characters long.")})
    if len(add) > rules.MAX_LABELS:
        raise ValidationError({"labels": _("At most %(count)s labels.") % {"count": rules.MAX_LABELS}})
    ids = []
    for chunk in bulk.chunks(_ids(conversation_ids)):
        ids.extend(Conversation.objects.filter(brand=brand, pk__in=chunk).values_list("pk", flat=True))
    if not ids or not (add or remove):
        return 0
    through = Conversation.labels.through
    if add:
        label_ids = list(rules.ensure_labels(brand.pk, add).values())
        for chunk in bulk.chunks(ids):
            rules.add_labels(chunk, label_ids)
    if remove:
        drop = list(Label.objects.filter(brand=brand, name__in=remove).values_list("pk", flat=True))
        for chunk in bulk.chunks(ids):
            through.objects.filter(conversation_id__in=chunk, label_id__in=drop).delete()
    _log(ctx, "conversation.label", brand=brand, changes={"add": add, "remove": remove, "count": len(ids)})
    return len(ids)


_RELABEL = {
    "sentiment": Interaction.Sentiment.values,
    "intent": Interaction.Intent.values,
    "toxic": ["yes", "no"],
}


@transaction.atomic
def do_relabel(ctx: Ctx, interaction: Interaction, field: str, value: str) -> Interaction:
    """The team corrects a label the models gave: the row changes, a ``Correction`` is kept,
    the conversation follows when it is its newest message, and the brand's model learns."""
    brand = interaction.brand
    _require(ctx, brand, roles.REPLY)
    if field not in _RELABEL:
        raise ValidationError({"field": _("Unknown label.")})
    if value not in _RELABEL[field]:
        raise ValidationError({"value": _("Unknown value for this label.")})
    interaction = Interaction.objects.select_for_update().get(pk=interaction.pk, brand=brand)
    if interaction.direction != Interaction.Direction.INBOUND:
        raise ValidationError(_("Only received messages have labels to correct."))
    if field == "toxic":
        old = "" if interaction.toxicity is None else ("yes" if interaction.toxicity >= triage.TOXIC else "no")
    else:
        old = getattr(interaction, field)
    if old == value:
        return interaction
    Correction.objects.create(brand=brand, interaction=interaction, field=field, old_value=old, new_value=value,
                              user=ctx.user)
    if field == "toxic":
        interaction.toxicity = 1.0 if value == "yes" else 0.0
        interaction.save(update_fields=["toxicity"])
    else:
        setattr(interaction, field, value)
        interaction.save(update_fields=[field])
    newest = not Interaction.objects.filter(
        conversation_id=interaction.conversation_id, direction=Interaction.Direction.INBOUND,
        deleted_at__isnull=True, created_at__gt=interaction.created_at).exists()
    conv = Conversation.objects.filter(pk=interaction.conversation_id)
    if field == "toxic":
        if value == "yes":
            conv.update(flagged=True)
        elif not Interaction.objects.filter(conversation_id=interaction.conversation_id,
                                            direction=Interaction.Direction.INBOUND,
                                            toxicity__gte=triage.TOXIC).exists():
            conv.update(flagged=False)
    elif newest:
        conv.update(**{field: value})
    _log(ctx, "interaction.relabel", brand=brand, obj=interaction, changes={field: [old, value]})
    from tertulia.nlp import triage as nlp_triage

    try:
        with transaction.atomic():  # a savepoint: the correction is kept whatever the model does
            nlp_triage.learn(brand.pk, interaction.text, field, value)
    except Exception:  # noqa: BLE001 - the Correction row stays, to learn from later
        logging.getLogger(__name__).exception("brand %s: the model could not learn a correction", brand.pk)
    return interaction


@transaction.atomic
def do_hide(ctx: Ctx, interaction: Interaction, hidden: bool) -> Interaction:
    """Hide (or show again) a comment on the network. The row says what we want at once; the
    network is asked after the commit (``actions.apply_on_network``), which undoes the row
    and tells the team if the network refuses."""
    brand = interaction.brand
    _require(ctx, brand, roles.REPLY)
    interaction = Interaction.objects.select_for_update().select_related("account", "conversation").get(
        pk=interaction.pk, brand=brand)
    if interaction.direction != Interaction.Direction.INBOUND:
        raise ValidationError(_("Only messages people sent to the brand can be hidden."))
    if interaction.conversation.kind != Conversation.Kind.COMMENT:
        raise ValidationError(_("Only comments under the brand's posts can be hidden; mentions and private "
                                "messages cannot."))
    if interaction.deleted_at is not None:
        raise ValidationError(_("This message was deleted on the network."))
    if not rules.can_hide(interaction.account.network):
        raise ValidationError(
            _("%(network)s does not let us hide comments. You can delete or report it on the network.")
            % {"network": interaction.account.get_network_display()})
    hidden = bool(hidden)
    if interaction.hidden == hidden:
        return interaction
    interaction.hidden = hidden
    interaction.save(update_fields=["hidden"])
    _log(ctx, "interaction.hide" if hidden else "interaction.unhide", brand=brand, obj=interaction,
         changes={"hidden": hidden})
    from . import tasks

    pk, action = interaction.pk, "hide" if hidden else "unhide"
    transaction.on_commit(lambda: tasks.apply_network_action(pk, action))
    return interaction
