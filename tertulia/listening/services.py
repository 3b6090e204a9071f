"""Writes to listening: the brand's queries and sources (the competitor services live in
``competitors`` and are re-exported here for older callers)."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from tertulia.core import audit, roles
from tertulia.core.services import Ctx, _log, _require



# --- Listening queries and sources (issue 7) --------------------------------------------------
#
# Community managers listen: queries and sources need COMPOSE (owners, managers and CMs);
# reading them needs VIEW. Every write is audited.

MAX_QUERIES_PER_BRAND = 200
MAX_SOURCES_PER_BRAND = 50
MIN_SOURCE_INTERVAL = 300  # seconds: a CM may not make us hammer a network or a site
MAX_SOURCE_INTERVAL = 86400
QUERY_FIELDS = ("name", "kind", "text", "competitor_id", "enabled")
SOURCE_FIELDS = ("kind", "name", "account_id", "term", "url", "enabled", "interval_seconds")


def _query_state(q) -> dict:
    return {f: getattr(q, f) for f in QUERY_FIELDS}


MAX_QUERY_CHARS = 2000


def parse_query(text: str) -> dict:
    """"Check the query": ``{"ok", "error", "column", "text"}``; ``text`` is the query as the
    parser understood it (normalised), ``column`` counts from 1 where the error is."""
    from . import query as query_language

    text = (text or "").replace("\x00", "")
    if not text.strip():
        return {"ok": False, "error": _("Write the query."), "column": None, "text": ""}
    if len(text) > MAX_QUERY_CHARS:
        return {"ok": False, "error": _("A query can be at most %(n)s characters long.") % {"n": MAX_QUERY_CHARS},
                "column": MAX_QUERY_CHARS + 1, "text": ""}
    try:
        compiled = query_language.compile(text)
    except ValidationError as exc:
        return {"ok": False, "error": " ".join(exc.messages), "column": getattr(exc, "column", None), "text": ""}
    return {"ok": True, "error": "", "column": None, "text": str(compiled)}


def check_query(text: str) -> None:
    """Raise a ValidationError on ``text`` when the query does not compile (saying where and why)."""
    result = parse_query(text)
    if not result["ok"]:
        raise ValidationError({"text": [result["error"]]})


@transaction.atomic
def do_save_query(ctx: Ctx, brand, query=None, *, name: str, kind: str, text: str, competitor=None,
                  enabled: bool = True):
    """Create (``query=None``) or update a listening query. The text must compile; the error
    says where (its column) and why. Matching applies to mentions found from now on."""
    from .models import ListeningQuery

    _require(ctx, brand, roles.COMPOSE)
    if query is not None and query.brand_id != brand.pk:
        raise ValidationError(_("This query belongs to another brand."))
    name = " ".join((name or "").replace("\x00", "").split())
    if not name:
        raise ValidationError({"name": [_("Give the query a name.")]})
    if len(name) > 120:
        raise ValidationError({"name": [_("A name can be at most %(n)s characters long.") % {"n": 120}]})
    if kind not in ListeningQuery.Kind.values:
        raise ValidationError({"kind": [_("Choose a kind of query.")]})
    text = (text or "").replace("\x00", "").strip()
    check_query(text)
    if competitor is not None and competitor.brand_id != brand.pk:
        raise ValidationError({"competitor": [_("This competitor belongs to another brand.")]})
    if kind != ListeningQuery.Kind.COMPETITOR:
        competitor = None
    clash = ListeningQuery.objects.filter(brand=brand, name__iexact=name)
    if query is not None:
        clash = clash.exclude(pk=query.pk)
    if clash.exists():
        raise ValidationError({"name": [_("Another query already has this name.")]})
    if query is None and ListeningQuery.objects.filter(brand=brand).count() >= MAX_QUERIES_PER_BRAND:
        raise ValidationError(_("A brand can have at most %(n)s listening queries.") % {"n": MAX_QUERIES_PER_BRAND})
    before = _query_state(query) if query is not None else {}
    if query is None:
        query = ListeningQuery(brand=brand, created_by=ctx.user if getattr(ctx.user, "pk", None) else None)
    query.name, query.kind, query.text, query.competitor, query.enabled = name, kind, text, competitor, bool(enabled)
    query.save()
    _log(ctx, "listening_query.save" if before else "listening_query.create", brand=brand, obj=query,
         changes=audit.diff(before, _query_state(query)))
    return query


@transaction.atomic
def do_delete_query(ctx: Ctx, query) -> None:
    """Delete a query. Mentions only it matched go too, unless they were sent to the inbox."""
    from .models import Mention

    _require(ctx, query.brand, roles.COMPOSE)
    brand = query.brand
    _log(ctx, "listening_query.delete", brand=brand, obj=query, changes={"name": query.name, "text": query.text})
    orphans = list(Mention.objects.filter(brand=brand, matches__query=query).values_list("pk", flat=True))
    query.delete()
    # A mention that no query matches any more is no longer something the brand listens for.
    # Those sent to the inbox stay, linked to their conversation.
    Mention.objects.filter(brand=brand, pk__in=orphans, matches__isnull=True, conversation__isnull=True).delete()


def _source_state(s) -> dict:
    return {f: getattr(s, f) for f in SOURCE_FIELDS}


def searchable_accounts(brand):
    """The brand's connected accounts whose network lets us search its posts."""
    from tertulia.networks import registry
    from tertulia.networks.base import Connector
    from tertulia.networks.models import SocialAccount

    ok = []
    for account in SocialAccount.objects.filter(brand=brand, status=SocialAccount.Status.CONNECTED).order_by("network",
                                                                                                            "handle"):
        if registry.is_available(account.network) and \
                registry.connector_class(account.network).search is not Connector.search:
            ok.append(account)
    return ok


@transaction.atomic
def do_save_source(ctx: Ctx, brand, source=None, *, kind: str, name: str = "", account=None, term: str = "",
                   url: str = "", enabled: bool = True, interval_seconds: int = 900):
    """Create (``source=None``) or update where mentions come from:

    - ``search``: ``term`` searched on ``account`` (a connected account of the brand whose network
      can search: Mastodon, Bluesky, X);
    - ``feed``: an RSS or Atom address (private and local addresses refused);
    - ``comments``: what our own accounts already receive in the inbox (one per brand).
    """
    from tertulia.content.feeds import clean_feed_url
    from tertulia.networks.models import SocialAccount

    from .models import Source

    _require(ctx, brand, roles.COMPOSE)
    if source is not None and source.brand_id != brand.pk:
        raise ValidationError(_("This source belongs to another brand."))
    if kind not in Source.Kind.values:
        raise ValidationError({"kind": [_("Choose a kind of source.")]})
    if source is not None and source.kind != kind:
        raise ValidationError({"kind": [_("The kind of a source cannot change; add a new source instead.")]})
    name = " ".join((name or "").replace("\x00", "").split())
    if len(name) > 120:
        raise ValidationError({"name": [_("A name can be at most %(n)s characters long.") % {"n": 120}]})
    try:
        interval = int(interval_seconds)
    except (TypeError, ValueError):
        raise ValidationError({"interval_seconds": [_("Enter a number of minutes.")]}) from None
    if not MIN_SOURCE_INTERVAL <= interval <= MAX_SOURCE_INTERVAL:
        raise ValidationError({"interval_seconds": [
            _("Check a source between every %(low)s minutes and once a day.") % {"low": MIN_SOURCE_INTERVAL // 60}]})
    term, url = (term or "").replace("\x00", "").strip(), (url or "").strip()
    if kind == Source.Kind.SEARCH:
        url = ""
        if account is None:
            raise ValidationError({"account": [_("Choose the account to search with.")]})
        if account.brand_id != brand.pk:
            raise ValidationError({"account": [_("This account belongs to another brand.")]})
        if account.status != SocialAccount.Status.CONNECTED:
            raise ValidationError({"account": [_("This account is not connected; reconnect it first.")]})
        if account not in searchable_accounts(brand):
            raise ValidationError({"account": [
                _("%(network)s does not let us search its posts. Use Mastodon, Bluesky or X.")
                % {"network": account.get_network_display()}]})
        if not term:
            raise ValidationError({"term": [_("Write what to search for, such as #hashtag or a few words.")]})
        if len(term) > 512:
            raise ValidationError({"term": [_("A search can be at most %(n)s characters long.") % {"n": 512}]})
    elif kind == Source.Kind.FEED:
        account, term = None, ""
        if len(url) > 1000:
            raise ValidationError({"url": [_("This address is too long.")]})
        url = clean_feed_url(url)
        dup = Source.objects.filter(brand=brand, kind=kind, url=url)
        if source is not None:
            dup = dup.exclude(pk=source.pk)
        if dup.exists():
            raise ValidationError({"url": [_("The brand already listens to this feed.")]})
    else:
        account, term, url = None, "", ""
        dup = Source.objects.filter(brand=brand, kind=kind)
        if source is not None:
            dup = dup.exclude(pk=source.pk)
        if dup.exists():
            raise ValidationError({"kind": [_("The brand already listens to the comments on its accounts.")]})
    if source is None and Source.objects.filter(brand=brand).count() >= MAX_SOURCES_PER_BRAND:
        raise ValidationError(_("A brand can have at most %(n)s sources.") % {"n": MAX_SOURCES_PER_BRAND})
    before = _source_state(source) if source is not None else {}
    if source is None:
        source = Source(brand=brand, kind=kind, next_poll_at=timezone.now())
    changed_what = source.pk is not None and (source.term != term or source.url != url
                                              or source.account_id != (account.pk if account else None))
    source.name, source.account, source.term, source.url = name, account, term, url
    source.enabled, source.interval_seconds = bool(enabled), interval
    if changed_what:
        # A new search or address starts afresh: its own cursor, due now, no old error.
        source.cursor, source.failures, source.last_error, source.next_poll_at = "", 0, [], timezone.now()
    source.save()
    _log(ctx, "listening_source.save" if before else "listening_source.create", brand=brand, obj=source,
         changes=audit.diff(before, _source_state(source)))
    return source


@transaction.atomic
def do_delete_source(ctx: Ctx, source) -> None:
    """Stop listening to a source. The mentions it found stay."""
    _require(ctx, source.brand, roles.COMPOSE)
    _log(ctx, "listening_source.delete", brand=source.brand, obj=source,
         changes={"kind": source.kind, "term": source.term, "url": source.url})
    source.delete()
