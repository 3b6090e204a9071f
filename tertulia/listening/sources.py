"""Polling the listening sources (DESIGN.md §3), each on its own schedule with backoff.

``poll_due_sources`` (a Huey periodic task, every minute, on any number of consumers) works like
the inbox's polling (``inbox.polling``):

1. Due sources are claimed with a conditional UPDATE on ``lease_until`` (SKIP LOCKED on
   PostgreSQL): of two consumers that saw a source due, only one matches the UPDATE. A consumer
   that dies leaves a lease that expires; the next one takes over.
2. Each claimed source is read by kind:
   - ``search``: ``connector.search(term, since=...)`` on the brand's account (through the
     publishing engine's door: demo brands refused, shared rate-limit memory);
   - ``feed``: the address is fetched through the SSRF-safe ``networks.http.fetch_url`` and read
     with ``content.feeds.parse_feed``;
   - ``comments``: the inbox's inbound interactions of the brand's accounts after the source's
     cursor (the last interaction id read): nothing is fetched from a network twice.
   What was read goes to ``mentions.ingest`` (matching, triage, storage).
3. The outcome is stored and the lease released (only if still held). A good poll comes back
   after ``interval_seconds`` (± jitter); a failure backs off exponentially (interval · 2^(n-1),
   capped at a day, ± jitter); ``RateLimited`` waits at least what the network asked. The error
   is stored as a note (``core.notes``) so each CM reads it in their language.
"""

from __future__ import annotations

import calendar
import hashlib
import logging
import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from datetime import timezone as dt_timezone

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from tertulia.core import notes, roles, workers
from tertulia.core.services import Ctx, _log, _require
from tertulia.networks.errors import AuthExpired, ConnectorError, Permanent, RateLimited, Unsupported

from .mentions import WEB, IngestResult, MentionIn, ingest
from .models import Source

log = logging.getLogger(__name__)

DEFAULTS = {
    "LIMIT": 100,  # sources claimed per run of the task
    "WORKERS": 8,  # sources read at once by one run (1 when Huey runs tasks inline)
    "LEASE_SECONDS": 600,
    "JITTER": 0.1,  # ±10 % on every next time
    "MAX_BACKOFF": 86400,
    "FIRST_LOOKBACK_HOURS": 24,  # how far back the first search of a source reads
    "SEARCH_LIMIT": 100,  # posts read per search poll
    "BUSY_INTERVAL": 60,  # seconds to the next search after a full page
    "COMMENTS_LIMIT": 2000,  # inbox interactions read per comments poll
    "FEED_ENTRIES": 100,
    "FEED_BYTES": 2 * 1024 * 1024,
    "FEED_TIMEOUT": 20.0,
    # The SSRF-safe client's settings for feeds (tests allow loopback with allow_private_networks).
    "HTTP": {"connect_timeout": 5.0, "read_timeout": 10.0},
}


def conf(key: str):
    return {**DEFAULTS, **(getattr(settings, "LISTENING_SOURCES", None) or {})}[key]


MSG_RATE_LIMITED = gettext_lazy("The network asked us to slow down; the next check waits until its limit resets.")
MSG_RETRY = gettext_lazy("The source could not be read; we will try again later (attempt %(n)s).")
MSG_AUTH = gettext_lazy("The network no longer accepts this account's sign-in; reconnect the account to search "
                        "again.")
MSG_NOT_CONNECTED = gettext_lazy("The account this source searches with is not connected; reconnect it.")
MSG_UNSUPPORTED = gettext_lazy("This network does not let us search its posts with this account.")
MSG_UNEXPECTED = gettext_lazy("An unexpected error stopped this check; it was logged and the next check will try "
                              "again.")
MSG_NO_ACCOUNT = gettext_lazy("This source has no account to search with; edit it and choose one.")


@dataclass
class PollOutcome:
    status: str  # ok | rate_limited | retry | failed | error | skipped
    read: int = 0
    created: int = 0
    matched: int = 0


@dataclass
class RunResult:
    claimed: int = 0
    created: int = 0
    outcomes: dict[int, str] = field(default_factory=dict)

    def as_dict(self) -> dict:
        return {"claimed": self.claimed, "created": self.created,
                "outcomes": {str(k): v for k, v in self.outcomes.items()}}


class SourceFailed(Exception):
    """A failure to record: the note for the CM, and whether to back off to the cap."""

    def __init__(self, message, *, permanent: bool = False, retry_after: float | None = None, **params):
        super().__init__(str(message))
        self.message, self.params, self.permanent, self.retry_after = message, params, permanent, retry_after


# -- scheduling ----------------------------------------------------------------------------------


def _jitter(seconds: float) -> float:
    spread = float(conf("JITTER"))
    return max(1.0, seconds * (1 + random.uniform(-spread, spread)))  # nosec B311 # jitter/spread for timing or seeded demo data, not security


def backoff(interval: int, failures: int) -> float:
    """Seconds before the next try after ``failures`` failures in a row: interval·2^(n-1), capped."""
    return min(float(conf("MAX_BACKOFF")), float(max(60, interval)) * (2 ** max(0, min(failures, 30) - 1)))


def _due(now: datetime):
    # A search whose account the network asked us to leave alone until a reset waits for it.
    account_free = Q(account__isnull=True) | Q(account__blocked_until__isnull=True) | Q(account__blocked_until__lte=now)
    return (Source.objects.filter(enabled=True, next_poll_at__lte=now, brand__organization__is_demo=False,
                                  brand__deleted_at__isnull=True)
            .filter(account_free, workers.lease_free(now)).order_by("next_poll_at"))


def claim(source_id: int, now: datetime) -> datetime | None:
    """Take the lease on one source with a conditional UPDATE; the lease taken, or None."""
    return workers.take_lease(Source.objects.filter(pk=source_id, enabled=True, next_poll_at__lte=now), now,
                              float(conf("LEASE_SECONDS")))


def claim_due(now: datetime, limit: int) -> list[int]:
    return workers.claim_due(_due(now), lambda pk: claim(pk, now), limit)


def poll_due_sources(now: datetime | None = None, limit: int | None = None) -> dict:
    """Poll every source that is due (at most ``limit``); one failing never stops the others."""
    now = now or timezone.now()
    result = RunResult()
    claimed = claim_due(now, int(limit or conf("LIMIT")))
    result.claimed = len(claimed)
    outcomes = workers.run_each(lambda source_id: _poll_one(source_id, now), claimed,
                              workers=workers.pool_size(conf("WORKERS")), name="tertulia-listen")
    for source_id, outcome in zip(claimed, outcomes):
        result.outcomes[source_id] = outcome.status
        result.created += outcome.created
    return result.as_dict()




def poll_now(ctx: Ctx, source: Source, now: datetime | None = None) -> PollOutcome:
    """"Poll now": read this source out of turn. A source being read at this moment is left to
    that poll ("skipped")."""
    _require(ctx, source.brand, roles.COMPOSE)
    if not source.enabled:
        raise ValidationError(_("This source is paused; enable it to check it."))
    from tertulia.publishing.engine import is_demo_brand

    if is_demo_brand(source.brand_id):
        raise ValidationError(_("This is the demo workspace: its sources are made up, so Tertulia does not "
                                "check them."))
    now = now or timezone.now()
    source.refresh_from_db()
    if source.failures and source.next_poll_at > now:
        # Backing off after failures or a 429: reading now would only be refused again.
        raise ValidationError(_("This source is waiting after an error (see below); it will be checked again at "
                                "its next time."))
    (Source.objects.filter(pk=source.pk).filter(Q(lease_until__isnull=True) | Q(lease_until__lt=now))
     .update(next_poll_at=now))
    if not claim(source.pk, now):
        return PollOutcome("skipped")
    outcome = _poll_one(source.pk, now)
    _log(ctx, "listening_source.poll", brand=source.brand, obj=source,
         changes={"status": outcome.status, "created": outcome.created})
    return outcome


def _poll_one(source_id: int, now: datetime) -> PollOutcome:
    source = Source.objects.select_related("brand", "account").filter(pk=source_id).first()
    if source is None:
        return PollOutcome("skipped")
    try:
        return poll_source(source, now)
    except Exception:  # a bug with one source must not stop the others
        log.exception("listening poll of source %s failed", source_id)
        try:
            _finish(source, now, status="error", error=notes.note(MSG_UNEXPECTED),
                    delay=backoff(source.interval_seconds, source.failures + 1), failed=True)
        except Exception:
            log.exception("listening poll of source %s: could not record the failure", source_id)
        return PollOutcome("error")


def poll_source(source: Source, now: datetime) -> PollOutcome:
    """Read one claimed source, ingest what it found and record the outcome (lease released)."""
    readers = {Source.Kind.SEARCH: _read_search, Source.Kind.FEED: _read_feed, Source.Kind.COMMENTS: _read_comments}
    outcome = PollOutcome("ok")
    try:
        items, cursor = readers[source.kind](source, now)
    except SourceFailed as failure:
        note = notes.note(failure.message, **failure.params)
        if failure.retry_after is not None:
            wait = max(failure.retry_after, float(source.interval_seconds))
            _finish(source, now, status="rate_limited", error=note, delay=wait + _jitter(30.0), failed=True,
                    count_failure=False)
            return PollOutcome("rate_limited")
        failures = source.failures + 1
        delay = float(conf("MAX_BACKOFF")) if failure.permanent else backoff(source.interval_seconds, failures)
        _finish(source, now, status="failed" if failure.permanent else "retry", error=note, delay=_jitter(delay),
                failed=True)
        return PollOutcome("failed" if failure.permanent else "retry")
    outcome.read = len(items)
    ingested: IngestResult = ingest(source.brand, source, items) if items else IngestResult()
    outcome.created, outcome.matched = ingested.created, ingested.matched
    delay = float(source.interval_seconds)
    if source.kind == Source.Kind.SEARCH and len(items) >= int(conf("SEARCH_LIMIT")):
        # A full page: the search returns the newest posts only, so a busy term is read again
        # soon rather than at its interval (posts beyond a page between two polls are not read).
        delay = min(delay, float(conf("BUSY_INTERVAL")))
    _finish(source, now, status="ok", error=[], delay=_jitter(delay), cursor=cursor, found=ingested.created)
    return outcome


def _finish(source: Source, now: datetime, *, status: str, error: list, delay: float, cursor: str | None = None,
            found: int | None = None, failed: bool = False, count_failure: bool = True) -> None:
    """Record the outcome and release the lease, only if we still hold it."""
    values = {"next_poll_at": now + timedelta(seconds=delay), "lease_until": None, "last_error": error,
              "last_polled_at": now}
    if not failed:
        values["failures"] = 0
    elif count_failure:
        values["failures"] = min(source.failures + 1, 1000)
    if cursor is not None:
        values["cursor"] = cursor[:500]
    if found is not None:
        values["last_found"] = found
    Source.objects.filter(pk=source.pk, lease_until=source.lease_until).update(**values)
    for key, value in values.items():
        setattr(source, key, value)


# -- readers: each returns (items, new cursor) or raises SourceFailed ----------------------------


def _since(source: Source, now: datetime) -> datetime:
    if source.cursor:
        try:
            return datetime.fromisoformat(source.cursor)
        except ValueError:
            pass
    return now - timedelta(hours=float(conf("FIRST_LOOKBACK_HOURS")))


def _read_search(source: Source, now: datetime) -> tuple[list[MentionIn], str]:
    from tertulia.networks.models import SocialAccount
    from tertulia.publishing.engine import connector_for

    account = source.account
    if account is None:
        raise SourceFailed(MSG_NO_ACCOUNT, permanent=True)
    if account.status != SocialAccount.Status.CONNECTED:
        raise SourceFailed(MSG_NOT_CONNECTED, permanent=True)
    since = _since(source, now)
    try:
        with connector_for(account) as connector:
            posts = connector.search(source.term, since=since, limit=int(conf("SEARCH_LIMIT")))
    except RateLimited as err:
        log.info("listening search %s rate limited: %s", source.pk, err.log_line())
        raise SourceFailed(MSG_RATE_LIMITED, retry_after=float(err.retry_after or 0)) from None
    except Unsupported as err:
        raise SourceFailed(MSG_UNSUPPORTED, permanent=True) from err
    except AuthExpired as err:
        log.info("listening search %s: sign-in refused: %s", source.pk, err.log_line())
        raise SourceFailed(MSG_AUTH, permanent=True) from None
    except Permanent as err:  # e.g. search is not in the app's X plan: the network's own reason
        log.info("listening search %s refused: %s", source.pk, err.log_line())
        raise SourceFailed(err.user_message or MSG_UNSUPPORTED, permanent=True) from None
    except ConnectorError as err:
        log.info("listening search %s failed: %s", source.pk, err.log_line())
        raise SourceFailed(MSG_RETRY, n=source.failures + 1) from None
    newest = since
    items = []
    for post in posts:
        if not post.external_id:
            continue
        created = post.created_at or now
        newest = max(newest, created)
        text = post.text
        if post.content_warning:
            text = f"{post.content_warning}\n\n{text}" if text else post.content_warning
        items.append(MentionIn(network=account.network, external_id=post.external_id, text=text, created_at=created,
                               url=post.url, author_handle=post.author.handle, author_name=post.author.display_name,
                               author_followers=post.author.followers, language=post.language or ""))
    # The next search starts a second before the newest post seen (ingest drops repeats), so a
    # post published in the same second as the newest is not missed.
    cursor = (newest - timedelta(seconds=1)).isoformat() if items else since.isoformat()
    return items, cursor


def _entry_time(entry, now: datetime) -> datetime:
    for key in ("published_parsed", "updated_parsed", "created_parsed"):
        value = entry.get(key)
        if value:
            try:
                when = datetime.fromtimestamp(calendar.timegm(value), tz=dt_timezone.utc)
            except (OverflowError, TypeError, ValueError):
                continue
            return min(when, now)  # a feed dated in the future is not news from the future
    return now


def _read_feed(source: Source, now: datetime) -> tuple[list[MentionIn], str]:
    from tertulia.content.feeds import ERRORS, _guid, _link, _text, parse_feed
    from tertulia.networks.http import FetchError, HttpConfig, fetch_url

    headers = {"Accept": "application/rss+xml, application/atom+xml, application/xml;q=0.9, text/xml;q=0.8, "
                         "*/*;q=0.1"}
    try:
        fetched = fetch_url(source.url, config=HttpConfig(**conf("HTTP")), headers=headers,
                            max_bytes=int(conf("FEED_BYTES")), total_timeout=float(conf("FEED_TIMEOUT")))
    except FetchError as exc:
        log.info("listening feed %s failed: %s %s", source.pk, exc.reason, (exc.detail or "")[:300])
        if exc.reason == "status" and exc.status == 429:
            raise SourceFailed(MSG_RATE_LIMITED, retry_after=float(source.interval_seconds)) from None
        if exc.reason == "status" and exc.status in (404, 410):
            raise SourceFailed(ERRORS["not_found"], permanent=True) from None
        if exc.reason in ("private", "bad_url", "too_large", "redirects"):
            raise SourceFailed(ERRORS[exc.reason], permanent=True) from None
        raise SourceFailed(MSG_RETRY, n=source.failures + 1) from None
    if fetched.status == 304:
        return [], source.cursor
    try:
        parsed = parse_feed(fetched.body, fetched.headers.get("content-type", ""))
    except ValueError as exc:
        code = str(exc) if str(exc) in ERRORS else "malformed"
        raise SourceFailed(ERRORS[code]) from None
    except Exception:  # feedparser on hostile bytes
        log.exception("feedparser failed on listening source %s", source.pk)
        raise SourceFailed(ERRORS["malformed"]) from None
    language = str(parsed.feed.get("language") or "")[:2].lower()
    items = []
    for entry in parsed.entries[: int(conf("FEED_ENTRIES"))]:
        guid = _guid(entry)
        if not guid:
            continue
        body = entry.get("summary") or entry.get("description") or ""
        contents = entry.get("content") or []
        if contents and isinstance(contents, list) and isinstance(contents[0], dict):
            body = contents[0].get("value") or body
        link = _link(entry)
        # A guid is only unique within its feed ("123", a title): the feed's address is part of the id.
        key = hashlib.sha256(f"{source.url}\x1f{guid}".encode()).hexdigest()
        items.append(MentionIn(network=WEB, external_id=f"feed:{key}", title=_text(entry.get("title"), 500),
                               text=_text(body, 5000), created_at=_entry_time(entry, now), url=link,
                               site="", author_name=_text(entry.get("author"), 200), language=language))
        if not link:
            items[-1].site = _host(source.url)
    return items, source.cursor


def _host(url: str) -> str:
    from urllib.parse import urlsplit

    try:
        return (urlsplit(url).hostname or "").lower().removeprefix("www.")
    except ValueError:
        return ""


def _read_comments(source: Source, now: datetime) -> tuple[list[MentionIn], str]:
    """The inbox's inbound interactions since the cursor (the last interaction id read)."""
    from tertulia.inbox.models import Interaction

    try:
        after = int(source.cursor or 0)
    except ValueError:
        after = 0
    rows = list(Interaction.objects.filter(brand_id=source.brand_id, direction=Interaction.Direction.INBOUND,
                                           deleted_at__isnull=True, pk__gt=after)
                .select_related("account", "author").order_by("pk")[: int(conf("COMMENTS_LIMIT"))])
    if not rows and not source.cursor:
        # First poll with nothing yet: start after whatever arrives from now on.
        return [], "0"
    items = [MentionIn(network=i.account.network, external_id=i.external_id, text=i.text, created_at=i.created_at,
                       author_handle=i.author.handle, author_name=i.author.display_name,
                       author_followers=i.author.followers, language=i.language, sentiment=i.sentiment,
                       intent=i.intent, toxicity=i.toxicity, conversation_id=i.conversation_id)
             for i in rows]
    return items, str(rows[-1].pk if rows else after)
