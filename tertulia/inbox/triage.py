"""Triage on ingest: every new inbound message gets its language, sentiment, intent, toxicity
and urgency before it is stored, and its conversation takes them from its newest one.

``services.ingest_interactions`` calls ``verdicts`` for the new rows of a batch (one call of
the nlp models for the whole batch: ingest is bulk and must stay fast) and stores the result in
the same INSERT; after the insert, ``update_conversations`` writes each touched conversation's
priority, sentiment, intent, language, ``flagged`` and SLA due times with one UPDATE per
conversation (``executemany``, chunked lookups).

The models themselves live in ``tertulia.nlp.triage``: this module only feeds them the context
(the author's reach and history, the message's age) and stores what they say.
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime

from django.db.models import Count, Q

from tertulia.core import bulk

from .models import Conversation, Interaction

log = logging.getLogger(__name__)

# A message is toxic from this score on. The stored score is kept on the same side of this
# line as the model's own verdict, so "toxic" can always be read back from the row.
TOXIC = 0.5
# The models read the start of a long message (a 70,000-character paste must not slow ingest).
MAX_TEXT = 5000
_INBOUND = Interaction.Direction.INBOUND.value


@dataclass(frozen=True, slots=True)
class Verdict:
    language: str = ""
    sentiment: str = ""
    intent: str = ""
    toxicity: float | None = None
    urgency: float | None = None  # 0..1
    toxic: bool = False
    troll: bool = False

    @property
    def priority(self) -> int:
        return 0 if self.urgency is None else max(0, min(100, round(self.urgency * 100)))

    @property
    def flag(self) -> bool:
        return self.toxic or self.troll


def _nlp():
    """The models, or None while they cannot be imported (ingest never fails because of them)."""
    try:
        from tertulia.nlp import triage as nlp_triage
    except ImportError as exc:  # pragma: no cover - only while the nlp package is incomplete
        log.warning("inbox triage skipped: tertulia.nlp.triage cannot be imported (%s)", exc)
        return None
    return nlp_triage



def history(brand_id: int, author_ids: Sequence[int]) -> dict[int, tuple[int, int]]:
    """author pk -> (previous offences, previous complaints) for this brand: their earlier
    toxic messages and complaints (messages the brand hid count as offences too)."""
    out: dict[int, tuple[int, int]] = {}
    ids = sorted(set(author_ids))
    for chunk in bulk.chunks(ids):
        rows = (
            Interaction.objects.filter(brand_id=brand_id, author_id__in=chunk, direction=_INBOUND)
            .values("author_id")
            .annotate(offences=Count("pk", filter=Q(toxicity__gte=TOXIC) | Q(hidden=True)),
                      complaints=Count("pk", filter=Q(intent=Interaction.Intent.COMPLAINT)))
        )
        for row in rows:
            out[row["author_id"]] = (row["offences"], row["complaints"])
    return out


def _given(item) -> Verdict | None:
    """What the source already knew (the demo generator, a network that classifies)."""
    if not (item.sentiment or item.intent or item.toxicity is not None or item.urgency is not None):
        return None
    toxic = item.toxicity is not None and item.toxicity >= TOXIC
    return Verdict(language=item.language, sentiment=item.sentiment, intent=item.intent, toxicity=item.toxicity,
                   urgency=item.urgency, toxic=toxic)


def verdicts(brand_id: int, items: Sequence, author_pk: dict[str, int], now: datetime) -> list[Verdict | None]:
    """One verdict per item (None for the brand's own messages), in order. ``items`` are
    ``IncomingInteraction``; inbound ones without triage go to the models in one call."""
    out: list[Verdict | None] = [None] * len(items)
    todo: list[int] = []
    for i, item in enumerate(items):
        if item.direction != _INBOUND:
            continue
        given = _given(item)
        if given is not None:
            out[i] = given
        else:
            todo.append(i)
    if not todo:
        return out
    nlp = _nlp()
    if nlp is None:
        for i in todo:
            out[i] = Verdict(language=items[i].language)
        return out
    past = history(brand_id, [author_pk[items[i].author.external_id] for i in todo])
    contexts, texts = [], []
    for i in todo:
        item = items[i]
        offences, complaints = past.get(author_pk[item.author.external_id], (0, 0))
        contexts.append(nlp.Context(followers=item.author.followers,
                                    age_seconds=max(0.0, (now - item.created_at).total_seconds()),
                                    previous_offences=offences, previous_complaints=complaints))
        texts.append(item.text[:MAX_TEXT])
    try:
        results = nlp.analyse(texts, brand_id=brand_id, contexts=contexts)
    except Exception:  # noqa: BLE001 - a model's failure must never lose a message
        log.exception("inbox triage failed for a batch of %s messages of brand %s", len(texts), brand_id)
        for i in todo:
            out[i] = Verdict(language=items[i].language)
        return out
    for i, t in zip(todo, results):
        toxicity = float(t.toxicity)
        # Keep the stored score on the model's side of the line (see TOXIC).
        toxicity = max(toxicity, TOXIC) if t.toxic else min(toxicity, TOXIC - 0.001)
        out[i] = Verdict(language=t.language or items[i].language, sentiment=t.sentiment, intent=t.intent,
                         toxicity=round(max(0.0, min(1.0, toxicity)), 4),
                         urgency=round(max(0.0, min(1.0, float(t.urgency))), 4),
                         toxic=bool(t.toxic), troll=bool(t.troll))
    return out


@dataclass(slots=True)
class _Newest:
    at: datetime
    verdict: Verdict
    first_at: datetime
    flag: bool


# One statement per chunk of conversations: the new values come in as a VALUES list joined on
# the id (UPDATE ... FROM, on SQLite 3.33+ and PostgreSQL alike), not one round trip each.
# Is the batch's message the conversation's newest inbound one? A late poll may bring an older
# message: it must not overwrite the triage of a newer one (one probe of the conversation's
# messages through its index, in the same statement).
_VALUE_COLUMNS = ("n_id", "n_created", "n_has", "n_at", "n_priority", "n_sentiment", "n_intent", "n_has_language",
                  "n_language", "n_flag", "n_first_at", "n_first_due", "n_resolution_due")
# A conversation this batch created has no message newer than the batch's newest: no probe.
_NEWEST = ("(n_created OR NOT EXISTS (SELECT 1 FROM {itable} i WHERE i.conversation_id = {table}.id "
           "AND i.direction = 'in' AND i.created_at > n_at))")
_UPDATE_SQL = (
    "WITH v({columns}) AS (VALUES {rows}) "
    "UPDATE {table} SET "
    "priority = CASE WHEN n_has AND {newest} THEN n_priority ELSE priority END, "
    "sentiment = CASE WHEN n_has AND {newest} THEN n_sentiment ELSE sentiment END, "
    "intent = CASE WHEN n_has AND {newest} THEN n_intent ELSE intent END, "
    "language = CASE WHEN n_has_language AND {newest} THEN n_language ELSE language END, "
    "flagged = CASE WHEN n_flag THEN TRUE ELSE flagged END, "
    # SLA (sla.py): the customer spoke: the team owes a first answer (unless it answered
    # before; an answer in the same batch still gets the due time, for the metrics) and a
    # resolution (if none is running and the conversation is not closed).
    "first_response_due_at = CASE WHEN first_response_due_at IS NULL AND "
    "(first_response_at IS NULL OR first_response_at >= n_first_at) THEN n_first_due ELSE first_response_due_at END, "
    "resolution_due_at = CASE WHEN status <> 'closed' AND resolution_due_at IS NULL THEN n_resolution_due "
    "ELSE resolution_due_at END "
    "FROM v WHERE {table}.id = n_id"
)
ROWS_PER_STATEMENT = 75  # 13 parameters each: under SQLite's 999


def update_conversations(brand_id: int, rows: Sequence[tuple[int, datetime, Verdict]],
                         created: Collection[int] = frozenset()) -> None:
    """``rows``: (conversation pk, created_at, verdict) of the batch's new inbound messages;
    ``created``: the conversations the batch itself created.
    Each conversation takes the triage of its newest inbound message, the flag, and the SLA
    due times."""
    from . import sla

    per_conv: dict[int, _Newest] = {}
    for conv, at, verdict in rows:
        cur = per_conv.get(conv)
        if cur is None:
            per_conv[conv] = _Newest(at, verdict, at, verdict.flag)
            continue
        cur.flag = cur.flag or verdict.flag
        cur.first_at = min(cur.first_at, at)
        if at >= cur.at:
            cur.at, cur.verdict = at, verdict
    if not per_conv:
        return
    targets = sla.targets(brand_id)
    adapt = bulk.datetime_adapter(Conversation)
    params = []
    for conv in sorted(per_conv):
        n = per_conv[conv]
        v, at = n.verdict, adapt(n.at)
        has_triage = bool(v.sentiment or v.intent or v.urgency is not None)
        params.append((
            conv, conv in created, has_triage, at, v.priority, v.sentiment[:8], v.intent[:16], bool(v.language), v.language[:8],
            n.flag, adapt(n.first_at), adapt(n.first_at + targets.first_response),
            adapt(n.first_at + targets.resolution),
        ))
    table = Conversation._meta.db_table
    newest = _NEWEST.format(itable=Interaction._meta.db_table, table=table)
    row = "(" + ", ".join(["%s"] * len(_VALUE_COLUMNS)) + ")"
    for chunk in bulk.chunks(params, ROWS_PER_STATEMENT):
        sql = _UPDATE_SQL.format(columns=", ".join(_VALUE_COLUMNS), rows=", ".join([row] * len(chunk)),
                                 table=table, newest=newest)
        bulk.execute(Conversation, sql, [value for values in chunk for value in values])
