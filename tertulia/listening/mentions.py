"""Mentions: what the sources found that matches the brand's queries, triaged, and the one
click that turns a network mention into an inbox conversation.

``ingest`` is what every source calls after a poll. It works on batches:

- the brand's enabled queries are compiled once per call into one ``matching.Matcher``; an item
  that matches none of them is dropped (listening stores what the brand listens for, not the
  whole firehose);
- it is idempotent on (brand, network, external_id), which the database also enforces: two polls
  (or a search source and the comments source) that see the same post store it once. A known
  mention that now matches another query gets that match added;
- new mentions are triaged in batches with ``nlp.triage.analyse`` (sentiment, intent,
  toxicity); items that arrive already triaged (comments the inbox triaged) keep theirs;
- ``MentionMatch`` rows copy the mention's time and sentiment so that volumes read one table.

Mentions are not re-matched when a query is added or edited: new matches come from new polls.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from urllib.parse import urlsplit

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from tertulia.core import roles
from tertulia.core.services import Ctx, _log, _require
from tertulia.networks.models import Network

from .models import ListeningQuery, Mention, MentionMatch, Source

log = logging.getLogger(__name__)

TRIAGE_BATCH = 500
WEB = "web"  # the network of a feed's articles


@dataclass(slots=True)
class MentionIn:
    """One post, comment or article as a source hands it over."""

    network: str  # a Network value, or "web" for feeds
    external_id: str
    text: str
    created_at: datetime  # aware
    url: str = ""
    site: str = ""
    author_handle: str = ""
    author_name: str = ""
    author_followers: int | None = None
    title: str = ""
    language: str = ""
    # Already known (comments the inbox ingested and triaged): kept instead of triaging again.
    sentiment: str = ""
    intent: str = ""
    toxicity: float | None = None
    conversation_id: int | None = None


@dataclass
class IngestResult:
    created: int = 0  # new mentions stored
    matched: int = 0  # items of the batch that matched at least one query (new or known)


def safe_url(url: str) -> str:
    """Only http(s) links are kept (a feed or a network may send javascript: or data:)."""
    url = (url or "").strip()
    if len(url) > 1000 or any(c in url for c in "\x00\r\n\t "):
        return ""
    try:
        parts = urlsplit(url)
    except ValueError:
        return ""
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        return ""
    return url


def _site(item: MentionIn) -> str:
    site = (item.site or "").strip().lower()
    if not site and item.url:
        try:
            site = (urlsplit(item.url).hostname or "").lower()
        except ValueError:
            site = ""
    return site.removeprefix("www.")[:200]


def _clean(item: MentionIn) -> MentionIn | None:
    if not item.external_id or not (item.text or item.title):
        return None
    if item.created_at is None or timezone.is_naive(item.created_at):
        raise ValidationError(_("Mention times must carry a time zone."))
    item.network = (item.network or "")[:16]
    item.external_id = item.external_id[:300]
    item.text = (item.text or "").replace("\x00", "")[:70000]
    item.title = (item.title or "").replace("\x00", "")[:500]
    item.url = safe_url(item.url)
    item.site = _site(item)
    item.author_handle = (item.author_handle or "").replace("\x00", "")[:200]
    item.author_name = (item.author_name or "").replace("\x00", "")[:200]
    item.language = (item.language or "")[:8]
    if item.author_followers is not None and item.author_followers < 0:
        item.author_followers = None
    return item


def matcher_for(brand):
    """One Matcher for the brand's enabled queries (invalid ones are skipped and logged)."""
    from .matching import Matcher

    queries = list(ListeningQuery.objects.filter(brand=brand, enabled=True).values_list("pk", "text"))
    matcher = Matcher(queries)
    for query_id, error in (getattr(matcher, "errors", None) or {}).items():
        log.warning("listening query %s of brand %s does not compile: %s", query_id, brand.pk, error)
    return matcher, bool(queries)


def _document(item: MentionIn):
    from .matching import Document

    text = f"{item.title}\n{item.text}" if item.title else item.text
    return Document.of(text=text, author=item.author_handle or item.author_name, language=item.language,
                       site=item.site, network=item.network)


def ingest(brand, source: Source | None, items: Iterable[MentionIn]) -> IngestResult:
    """Store the items that match at least one of the brand's enabled queries, triaged."""
    result = IngestResult()
    unique: dict[tuple[str, str], MentionIn] = {}
    for raw in items:
        item = _clean(raw)
        if item is not None:
            unique.setdefault((item.network, item.external_id), item)
    if not unique:
        return result
    matcher, any_query = matcher_for(brand)
    if not any_query:
        return result
    hits: list[tuple[MentionIn, list[int]]] = []
    for item in unique.values():
        ids = matcher.match(_document(item))
        if ids:
            hits.append((item, ids))
    result.matched = len(hits)
    if not hits:
        return result
    # Triage (the CPU-heavy part) runs before the write transaction: on SQLite a transaction
    # holds the one write lock from its start.
    known = _known(brand, [item for item, _ids in hits])
    fresh = [(item, ids) for item, ids in hits if (item.network, item.external_id) not in known]
    _triage(brand, [item for item, _ids in fresh if not item.sentiment])
    with transaction.atomic():
        now = timezone.now()
        rows = [Mention(brand=brand, source=source, network=item.network, external_id=item.external_id,
                        url=item.url, site=item.site, author_handle=item.author_handle, author_name=item.author_name,
                        author_followers=item.author_followers, title=item.title, text=item.text,
                        language=item.language, created_at=item.created_at, fetched_at=now,
                        sentiment=item.sentiment, intent=item.intent, toxicity=item.toxicity,
                        conversation_id=item.conversation_id)
                for item, _ids in fresh]
        Mention.objects.bulk_create(rows, ignore_conflicts=True, batch_size=500)
        # Re-read: a concurrent poll may have stored some of them first (ignored conflicts).
        stored = _known(brand, [item for item, _ids in hits])
        result.created = len(stored) - len(known)
        matches = []
        for item, ids in hits:
            pk, created_at, sentiment = stored[(item.network, item.external_id)]
            matches += [MentionMatch(brand=brand, mention_id=pk, query_id=qid, created_at=created_at,
                                     sentiment=sentiment) for qid in ids]
        MentionMatch.objects.bulk_create(matches, ignore_conflicts=True, batch_size=500)
    return result


def _known(brand, items: list[MentionIn]) -> dict[tuple[str, str], tuple[int, datetime, str]]:
    by_network: dict[str, list[str]] = {}
    for item in items:
        by_network.setdefault(item.network, []).append(item.external_id)
    found = {}
    for network, ids in by_network.items():
        for start in range(0, len(ids), 500):
            for pk, ext, created_at, sentiment in Mention.objects.filter(
                    brand=brand, network=network, external_id__in=ids[start:start + 500]).values_list(
                    "pk", "external_id", "created_at", "sentiment"):
                found[(network, ext)] = (pk, created_at, sentiment)
    return found


def _triage(brand, items: list[MentionIn]) -> None:
    if not items:
        return
    from tertulia.nlp.triage import analyse

    for start in range(0, len(items), TRIAGE_BATCH):
        chunk = items[start:start + TRIAGE_BATCH]
        verdicts = analyse([f"{i.title}\n{i.text}" if i.title else i.text for i in chunk], brand_id=brand.pk)
        for item, verdict in zip(chunk, verdicts):
            item.sentiment, item.intent = verdict.sentiment[:8], verdict.intent[:16]
            item.toxicity = float(verdict.toxicity)
            if not item.language and verdict.language:
                item.language = verdict.language[:8]


# --- listing (the mentions feed's filters, shared by the page and the API) --------------------

SENTIMENTS = (("negative", gettext_lazy("Negative")), ("neutral", gettext_lazy("Neutral")),
              ("positive", gettext_lazy("Positive")))


def networks():
    return [*Network.choices, (WEB, gettext_lazy("Web (news and blogs)"))]


def _int(value) -> int | None:
    try:
        number = int(value)
    except (TypeError, ValueError):
        return None
    return number if 0 < number < 2**31 else None


def _date(value):
    """A day from 2000 to 2100 (far from datetime's limits whatever the zone), else None."""
    try:
        day = datetime.strptime((value or "")[:10], "%Y-%m-%d").date()
    except ValueError:
        return None
    return day if 2000 <= day.year <= 2100 else None


def filtered_mentions(queryset, brand, params) -> tuple:
    """The mentions ``params`` asks for (query, sentiment, network, source, from/to dates in the
    brand's time zone), newest first, and the filters as understood."""
    f = {"query": _int(params.get("query")), "sentiment": params.get("sentiment", ""),
         "network": params.get("network", ""), "source": _int(params.get("source")),
         "since": _date(params.get("since")), "until": _date(params.get("until"))}
    if f["query"]:
        queryset = queryset.filter(matches__query_id=f["query"])
    if f["sentiment"] in dict(SENTIMENTS):
        queryset = queryset.filter(sentiment=f["sentiment"])
    else:
        f["sentiment"] = ""
    if f["network"] in dict(networks()):
        queryset = queryset.filter(network=f["network"])
    else:
        f["network"] = ""
    if f["source"]:
        queryset = queryset.filter(source_id=f["source"])
    tz = brand.tzinfo
    if f["since"]:
        queryset = queryset.filter(created_at__gte=datetime.combine(f["since"], time.min, tzinfo=tz))
    if f["until"]:
        queryset = queryset.filter(created_at__lt=datetime.combine(f["until"] + timedelta(days=1), time.min, tzinfo=tz))
    return queryset.order_by("-created_at", "-pk"), f


def can_go_to_inbox(mention: Mention) -> bool:
    return mention.network in Network.values


@transaction.atomic
def do_to_inbox(ctx: Ctx, mention: Mention):
    """Turn a network mention into an inbox conversation on the brand's account on that network
    (kind "mention"); the same conversation on a second click. A web article cannot be answered
    from the inbox, so it is refused with the reason."""
    from tertulia.inbox.models import Conversation
    from tertulia.inbox.services import IncomingAuthor, IncomingInteraction, ingest_interactions
    from tertulia.networks.models import SocialAccount

    brand = mention.brand
    _require(ctx, brand, roles.REPLY)
    mention = Mention.objects.select_for_update().get(pk=mention.pk, brand=brand)
    if mention.conversation_id:
        conversation = Conversation.objects.filter(pk=mention.conversation_id, brand=brand).first()
        if conversation is not None:
            return conversation
    if not can_go_to_inbox(mention):
        raise ValidationError(_("An article from the web cannot be answered from the inbox. Open it on its site "
                                "to read or comment on it."))
    # A post's id means something on the server that returned it (two Mastodon accounts may live on
    # two servers): the account whose search found it, else the brand's only account there.
    connected = SocialAccount.objects.filter(brand=brand, network=mention.network,
                                             status=SocialAccount.Status.CONNECTED)
    source_account = mention.source.account if mention.source_id and mention.source.account_id else None
    if source_account is not None:
        account = connected.filter(pk=source_account.pk).first()
    else:
        candidates = list(connected.order_by("pk")[:2])
        account = candidates[0] if len(candidates) == 1 else None
        if len(candidates) > 1:
            raise ValidationError(_("This brand has several %(network)s accounts and this mention was not found "
                                    "through one of them: answer it on the network.")
                                  % {"network": Network(mention.network).label})
    if account is None:
        raise ValidationError(_("Connect a %(network)s account to this brand to answer this mention from the inbox.")
                              % {"network": Network(mention.network).label})
    handle = mention.author_handle or mention.author_name or "?"
    incoming = IncomingInteraction(
        external_id=mention.external_id[:200], kind=Conversation.Kind.MENTION,
        author=IncomingAuthor(external_id=f"handle:{handle}"[:200], handle=handle[:200],
                              display_name=mention.author_name[:200], followers=mention.author_followers),
        text=mention.text, created_at=mention.created_at, language=mention.language,
        sentiment=mention.sentiment, intent=mention.intent, toxicity=mention.toxicity)
    result = ingest_interactions(account, [incoming])
    conversation_id = result.conversation_ids.get(incoming.external_id)
    if conversation_id is None:
        raise ValidationError(_("The mention could not be added to the inbox."))
    Mention.objects.filter(pk=mention.pk).update(conversation_id=conversation_id)
    mention.conversation_id = conversation_id
    _log(ctx, "mention.to_inbox", brand=brand, obj=mention,
         changes={"conversation": conversation_id, "account": account.pk})
    return Conversation.objects.get(pk=conversation_id)
