"""Listening API: queries (with a "check" that parses without saving), sources (with "poll
now") and mentions (filtered, paginated; "to-inbox"), under /brands/{brand_id}/listening/…

Thin like the other routers: the brand comes from ``scoping.get_brand`` (404 for strangers, 403
for a role or token without the permission), rows only through ``for_user``, every write through
a service, which checks again and records it in the audit log (via="api"). Reading needs VIEW;
queries and sources need COMPOSE; sending a mention to the inbox needs REPLY.
"""

from datetime import date, datetime

from django.http import QueryDict
from ninja import Field, Query, Router, Schema, Status
from ninja.pagination import paginate

from tertulia.core import notes, roles
from tertulia.core.api import MAX_PAGE, In, Pagination, Patch, Text, _ctx, _one, _responses, _values
from tertulia.core.scoping import get_brand
from tertulia.networks.models import SocialAccount

from . import services, sources
from .mentions import can_go_to_inbox, do_to_inbox, filtered_mentions, safe_url
from .models import Competitor, ListeningQuery, Mention, Source

router = Router(tags=["listening"])


# --- Schemas ------------------------------------------------------------------------------

# Kinds are checked by the services (after the brand is found), so a stranger's request is a 404
# whatever its body says.
_KINDS_Q = "brand, product, competitor or industry."

class QueryOut(Schema):
    id: int
    brand_id: int
    name: str
    kind: str
    text: str
    competitor_id: int | None
    enabled: bool
    created_at: datetime


class QueryCreate(In):
    name: Text(120, 1)
    kind: Text(12) = Field(ListeningQuery.Kind.BRAND.value, description=_KINDS_Q)
    text: Text(services.MAX_QUERY_CHARS, 1)
    competitor_id: int | None = None
    enabled: bool = True


class QueryPatch(Patch):
    name: Text(120, 1) = None
    kind: Text(12) = Field(None, description=_KINDS_Q)
    text: Text(services.MAX_QUERY_CHARS, 1) = None
    competitor_id: int = None
    enabled: bool = None


class QueryCheckIn(In):
    text: str = Field(..., max_length=services.MAX_QUERY_CHARS + 1)


class QueryCheckOut(Schema):
    ok: bool
    error: str
    column: int | None
    text: str


class SourceOut(Schema):
    id: int
    brand_id: int
    kind: str
    name: str
    account_id: int | None
    term: str
    url: str
    enabled: bool
    interval_seconds: int
    next_poll_at: datetime
    last_polled_at: datetime | None
    last_found: int
    failures: int
    error: str

    @staticmethod
    def resolve_error(obj):
        return notes.render(obj.last_error) if obj.last_error else ""


class SourceCreate(In):
    kind: Text(10) = Field(..., description="search, feed or comments.")
    name: Text(120) = ""
    account_id: int | None = None
    term: Text(512) = ""
    url: Text(1000) = ""
    enabled: bool = True
    interval_seconds: int = Field(900, ge=services.MIN_SOURCE_INTERVAL, le=services.MAX_SOURCE_INTERVAL)


class SourcePatch(Patch):
    name: Text(120) = None
    account_id: int = None
    term: Text(512) = None
    url: Text(1000) = None
    enabled: bool = None
    interval_seconds: int = Field(None, ge=services.MIN_SOURCE_INTERVAL, le=services.MAX_SOURCE_INTERVAL)


class PollOut(Schema):
    status: str
    read: int
    created: int
    source: SourceOut


class MentionOut(Schema):
    id: int
    brand_id: int
    source_id: int | None
    network: str
    external_id: str
    url: str
    site: str
    author_handle: str
    author_name: str
    author_followers: int | None
    title: str
    text: str
    language: str
    created_at: datetime
    sentiment: str
    intent: str
    toxicity: float | None
    query_ids: list[int]
    conversation_id: int | None
    can_go_to_inbox: bool

    @staticmethod
    def resolve_url(obj):
        return safe_url(obj.url)

    @staticmethod
    def resolve_query_ids(obj):
        return sorted(m.query_id for m in obj.matches.all())

    @staticmethod
    def resolve_can_go_to_inbox(obj):
        return can_go_to_inbox(obj)


class MentionFilters(Schema):
    query: int | None = Field(None, description="Only mentions that matched this query.")
    sentiment: str = Field("", max_length=10, description="negative, neutral or positive.")
    network: str = Field("", max_length=16, description="A network, or web for feeds.")
    source: int | None = None
    since: date | None = Field(None, description="From this day, in the brand's time zone.")
    until: date | None = Field(None, description="To this day (included), in the brand's time zone.")


class ToInboxOut(Schema):
    mention_id: int
    conversation_id: int


# --- Queries ------------------------------------------------------------------------------

def _competitor(brand, competitor_id):
    if competitor_id is None:
        return None
    return _one(Competitor.objects.filter(brand=brand), pk=competitor_id)


@router.get("/brands/{brand_id}/listening/queries", response=_responses(200, list[QueryOut]))
@paginate(Pagination, max_limit=MAX_PAGE)
def query_list(request, brand_id: int):
    brand = get_brand(request.user, brand_id)
    return ListeningQuery.objects.for_user(request.user).filter(brand=brand).order_by("name", "pk")


@router.post("/brands/{brand_id}/listening/queries/check", response=_responses(200, QueryCheckOut))
def query_check(request, brand_id: int, payload: QueryCheckIn):
    """Parse a query without saving it: ``ok``, or the ``error`` with its ``column`` (from 1)."""
    get_brand(request.user, brand_id, roles.COMPOSE)
    return services.parse_query(payload.text)


@router.post("/brands/{brand_id}/listening/queries", response=_responses(201, QueryOut))
def query_create(request, brand_id: int, payload: QueryCreate):
    brand = get_brand(request.user, brand_id, roles.COMPOSE)
    query = services.do_save_query(_ctx(request), brand, None, name=payload.name, kind=payload.kind,
                                   text=payload.text, competitor=_competitor(brand, payload.competitor_id),
                                   enabled=payload.enabled)
    return Status(201, query)


@router.get("/brands/{brand_id}/listening/queries/{listening_query_id}", response=_responses(200, QueryOut))
def query_get(request, brand_id: int, listening_query_id: int):
    brand = get_brand(request.user, brand_id)
    return _one(ListeningQuery.objects.for_user(request.user), pk=listening_query_id, brand=brand)


@router.patch("/brands/{brand_id}/listening/queries/{listening_query_id}", response=_responses(200, QueryOut))
def query_update(request, brand_id: int, listening_query_id: int, payload: QueryPatch):
    brand = get_brand(request.user, brand_id, roles.COMPOSE)
    query = _one(ListeningQuery.objects.for_user(request.user, roles.COMPOSE).select_related("competitor"),
                 pk=listening_query_id, brand=brand)
    data = _values(payload)
    competitor = _competitor(brand, data["competitor_id"]) if "competitor_id" in data else query.competitor
    return services.do_save_query(_ctx(request), brand, query, name=data.get("name", query.name),
                                  kind=data.get("kind", query.kind), text=data.get("text", query.text),
                                  competitor=competitor, enabled=data.get("enabled", query.enabled))


@router.delete("/brands/{brand_id}/listening/queries/{listening_query_id}", response=_responses(204, None))
def query_delete(request, brand_id: int, listening_query_id: int):
    brand = get_brand(request.user, brand_id, roles.COMPOSE)
    query = _one(ListeningQuery.objects.for_user(request.user, roles.COMPOSE).select_related("brand"),
                 pk=listening_query_id, brand=brand)
    services.do_delete_query(_ctx(request), query)
    return Status(204, None)


# --- Sources ------------------------------------------------------------------------------

def _account(brand, account_id):
    if account_id is None:
        return None
    return _one(SocialAccount.objects.filter(brand=brand), pk=account_id)


@router.get("/brands/{brand_id}/listening/sources", response=_responses(200, list[SourceOut]))
@paginate(Pagination, max_limit=MAX_PAGE)
def source_list(request, brand_id: int):
    brand = get_brand(request.user, brand_id)
    return Source.objects.for_user(request.user).filter(brand=brand).order_by("kind", "pk")


@router.post("/brands/{brand_id}/listening/sources", response=_responses(201, SourceOut))
def source_create(request, brand_id: int, payload: SourceCreate):
    brand = get_brand(request.user, brand_id, roles.COMPOSE)
    source = services.do_save_source(_ctx(request), brand, None, kind=payload.kind, name=payload.name,
                                     account=_account(brand, payload.account_id), term=payload.term, url=payload.url,
                                     enabled=payload.enabled, interval_seconds=payload.interval_seconds)
    return Status(201, source)


@router.get("/brands/{brand_id}/listening/sources/{source_id}", response=_responses(200, SourceOut))
def source_get(request, brand_id: int, source_id: int):
    brand = get_brand(request.user, brand_id)
    return _one(Source.objects.for_user(request.user), pk=source_id, brand=brand)


def _writable_source(request, brand_id: int, source_id: int) -> Source:
    brand = get_brand(request.user, brand_id, roles.COMPOSE)
    return _one(Source.objects.for_user(request.user, roles.COMPOSE).select_related("brand", "account"),
                pk=source_id, brand=brand)


@router.patch("/brands/{brand_id}/listening/sources/{source_id}", response=_responses(200, SourceOut))
def source_update(request, brand_id: int, source_id: int, payload: SourcePatch):
    source = _writable_source(request, brand_id, source_id)
    data = _values(payload)
    account = _account(source.brand, data["account_id"]) if "account_id" in data else source.account
    return services.do_save_source(
        _ctx(request), source.brand, source, kind=source.kind, name=data.get("name", source.name), account=account,
        term=data.get("term", source.term), url=data.get("url", source.url),
        enabled=data.get("enabled", source.enabled),
        interval_seconds=data.get("interval_seconds", source.interval_seconds))


@router.delete("/brands/{brand_id}/listening/sources/{source_id}", response=_responses(204, None))
def source_delete(request, brand_id: int, source_id: int):
    services.do_delete_source(_ctx(request), _writable_source(request, brand_id, source_id))
    return Status(204, None)


@router.post("/brands/{brand_id}/listening/sources/{source_id}/poll", response=_responses(200, PollOut))
def source_poll(request, brand_id: int, source_id: int):
    """Check the source now ("skipped" when a consumer is checking it at this moment)."""
    source = _writable_source(request, brand_id, source_id)
    outcome = sources.poll_now(_ctx(request), source)
    source.refresh_from_db()
    return {"status": outcome.status, "read": outcome.read, "created": outcome.created, "source": source}


# --- Mentions -----------------------------------------------------------------------------

@router.get("/brands/{brand_id}/listening/mentions", response=_responses(200, list[MentionOut]))
@paginate(Pagination, max_limit=MAX_PAGE)
def mention_list(request, brand_id: int, filters: Query[MentionFilters]):
    """The brand's mentions, newest first, filtered."""
    brand = get_brand(request.user, brand_id)
    params = QueryDict(mutable=True)
    for key, value in filters.dict().items():
        if value not in (None, ""):
            params[key] = value.isoformat() if isinstance(value, date) else str(value)
    qs, _f = filtered_mentions(Mention.objects.for_user(request.user).filter(brand=brand), brand, params)
    return qs.prefetch_related("matches")


@router.get("/brands/{brand_id}/listening/mentions/{mention_id}", response=_responses(200, MentionOut))
def mention_get(request, brand_id: int, mention_id: int):
    brand = get_brand(request.user, brand_id)
    return _one(Mention.objects.for_user(request.user).prefetch_related("matches"), pk=mention_id, brand=brand)


@router.post("/brands/{brand_id}/listening/mentions/{mention_id}/to-inbox", response=_responses(200, ToInboxOut))
def mention_to_inbox(request, brand_id: int, mention_id: int):
    """Turn a network mention into an inbox conversation (422 for a web article, with why)."""
    brand = get_brand(request.user, brand_id, roles.REPLY)
    mention = _one(Mention.objects.for_user(request.user, roles.REPLY).select_related("brand"), pk=mention_id,
                   brand=brand)
    conversation = do_to_inbox(_ctx(request), mention)
    return {"mention_id": mention.pk, "conversation_id": conversation.pk}
