"""API routes for the idea backlog, its feeds, the brand dictionary and the spell checker, under
/brands/{brand_id}/…

Thin: the brand comes from ``scoping.get_brand`` (404 for strangers, 403 for a role or token
without the permission), rows only through ``for_user``, and every write through a ``do_*``
service, which checks again and records it in the audit log (via="api"). Reading needs VIEW;
writing needs COMPOSE.
"""

from datetime import datetime
from typing import Annotated

from ninja import Field, Query, Router, Schema, Status
from ninja.pagination import paginate
from pydantic import AfterValidator, StringConstraints

from tertulia.core import roles
from tertulia.core.api import MAX_PAGE, In, Pagination, Patch, Text, _ctx, _no_nul, _one, _responses, _values
from tertulia.core.scoping import get_brand

from . import feeds as feed_service
from . import ideas as idea_service
from . import spelling
from .models import BrandWord, Feed, Idea

router = Router()

# Columns are documented as an enum but checked by the service, after the brand and the card are
# resolved: another brand's ids are a 404 whatever the body holds.
COLUMNS = {"enum": list(Idea.Status.values)}


# --- Schemas ------------------------------------------------------------------------------

class IdeaOut(Schema):
    id: int
    brand_id: int
    title: str
    notes: str
    column: Idea.Status = Field(description="The board column: idea, writing or ready.")
    position: int = Field(description="Place in the column, 0 at the top.")
    pillar_id: int | None
    source_url: str
    feed_id: int | None
    created_at: datetime
    updated_at: datetime

    @staticmethod
    def resolve_column(obj):
        return obj.status


class IdeaCreate(In):
    title: Text(idea_service.TITLE_MAX, 1)
    notes: Annotated[str, StringConstraints(max_length=idea_service.NOTES_MAX), AfterValidator(_no_nul)] = ""
    pillar_id: int | None = Field(None, description="One of the brand's content pillars.")
    source_url: Text(idea_service.URL_MAX) = ""
    # A plain string checked by the service (after the brand is resolved), so that another
    # brand's ids are a 404 whatever the body holds.
    column: Text(16) = Field(Idea.Status.IDEA.value, description="idea, writing or ready.", json_schema_extra=COLUMNS)


class IdeaPatch(Patch):
    title: Text(idea_service.TITLE_MAX, 1) = None
    notes: Annotated[str, StringConstraints(max_length=idea_service.NOTES_MAX), AfterValidator(_no_nul)] = None
    pillar_id: int = Field(None, description="A pillar id; 0 clears it.")
    source_url: Text(idea_service.URL_MAX) = None
    column: Text(16) = Field(None, description="idea, writing or ready: moves the card to the bottom of that column.",
                             json_schema_extra=COLUMNS)


class MoveIn(In):
    column: Text(16) = Field(..., description="idea, writing or ready.", json_schema_extra=COLUMNS)
    position: int | None = Field(None, ge=0, le=1_000_000, description="0 is the top; left out: the bottom.")


class IdeaFilter(Schema):
    column: Idea.Status | None = None


class FeedOut(Schema):
    id: int
    brand_id: int
    url: str
    title: str
    last_fetched_at: datetime | None
    last_error: str = Field(description="What went wrong on the last fetch, in plain words; empty if it worked.")

    @staticmethod
    def resolve_last_error(obj):
        return feed_service.error_message(obj.last_error)


class FeedCreate(In):
    url: Text(idea_service.URL_MAX, 1) = Field(..., json_schema_extra={"format": "uri"},
                                                description="An http or https address of an RSS or Atom feed.")


class FetchOut(Schema):
    created: int
    feed: FeedOut


class WordOut(Schema):
    id: int
    brand_id: int
    word: str
    created_at: datetime


class WordCreate(In):
    word: Annotated[str, StringConstraints(max_length=spelling.BRAND_WORD_MAX * 4), AfterValidator(_no_nul)]


class SpellIn(In):
    text: Annotated[str, StringConstraints(max_length=spelling.MAX_CHECKED_CHARS)]
    language: Text(8, 2) = Field(..., description="es or en (es-ES, en-GB… are accepted).")


class MisspellingOut(Schema):
    word: str
    start: int = Field(description="Offset in Unicode code points (Python string index).")
    end: int
    start_utf16: int = Field(description="Offset in UTF-16 code units (JavaScript string index).")
    end_utf16: int
    suggestions: list[str]


# --- Ideas --------------------------------------------------------------------------------

def _ideas(request, permission=roles.VIEW):
    return Idea.objects.for_user(request.user, permission).select_related("brand")


def _idea(request, brand_id: int, idea_id: int, permission=roles.VIEW) -> Idea:
    brand = get_brand(request.user, brand_id, permission)
    return _one(_ideas(request, permission), pk=idea_id, brand=brand)


@router.get("/brands/{brand_id}/ideas", response=_responses(200, list[IdeaOut]), tags=["ideas"])
@paginate(Pagination, max_limit=MAX_PAGE)
def idea_list(request, brand_id: int, filters: Query[IdeaFilter]):
    """The backlog's cards, column by column (idea, ready, writing) in board order."""
    brand = get_brand(request.user, brand_id)
    qs = _ideas(request).filter(brand=brand)
    if filters.column:
        qs = qs.filter(status=filters.column.value)
    return qs.order_by("status", "position", "-id")


@router.post("/brands/{brand_id}/ideas", response=_responses(201, IdeaOut), tags=["ideas"])
def idea_create(request, brand_id: int, payload: IdeaCreate):
    brand = get_brand(request.user, brand_id, roles.COMPOSE)
    idea = idea_service.do_create_idea(_ctx(request), brand, title=payload.title, notes=payload.notes,
                                       pillar=payload.pillar_id, source_url=payload.source_url,
                                       status=payload.column)
    return Status(201, idea)


@router.get("/brands/{brand_id}/ideas/{idea_id}", response=_responses(200, IdeaOut), tags=["ideas"])
def idea_get(request, brand_id: int, idea_id: int):
    return _idea(request, brand_id, idea_id)


@router.patch("/brands/{brand_id}/ideas/{idea_id}", response=_responses(200, IdeaOut), tags=["ideas"])
def idea_update(request, brand_id: int, idea_id: int, payload: IdeaPatch):
    idea = _idea(request, brand_id, idea_id, roles.COMPOSE)
    fields = _values(payload)
    if "column" in fields:
        fields["status"] = fields.pop("column")
    if "pillar_id" in fields:
        fields["pillar"] = fields.pop("pillar_id") or None
    idea_service.do_update_idea(_ctx(request), idea, **fields)
    idea.refresh_from_db()
    return idea


@router.delete("/brands/{brand_id}/ideas/{idea_id}", response=_responses(204, None), tags=["ideas"])
def idea_delete(request, brand_id: int, idea_id: int):
    idea = _idea(request, brand_id, idea_id, roles.COMPOSE)
    idea_service.do_delete_idea(_ctx(request), idea)
    return Status(204, None)


@router.post("/brands/{brand_id}/ideas/{idea_id}/move", response=_responses(200, IdeaOut), tags=["ideas"])
def idea_move(request, brand_id: int, idea_id: int, payload: MoveIn):
    """Put a card in a column at a position (0 = top). Both columns are renumbered 0, 1, 2…"""
    idea = _idea(request, brand_id, idea_id, roles.COMPOSE)
    idea_service.do_move_idea(_ctx(request), idea, payload.column, payload.position)
    idea.refresh_from_db()
    return idea


# --- Feeds --------------------------------------------------------------------------------

def _feed(request, brand_id: int, feed_id: int, permission=roles.VIEW) -> Feed:
    brand = get_brand(request.user, brand_id, permission)
    return _one(Feed.objects.for_user(request.user, permission).select_related("brand"), pk=feed_id, brand=brand)


@router.get("/brands/{brand_id}/feeds", response=_responses(200, list[FeedOut]), tags=["ideas"])
@paginate(Pagination, max_limit=MAX_PAGE)
def feed_list(request, brand_id: int):
    brand = get_brand(request.user, brand_id)
    return Feed.objects.for_user(request.user).filter(brand=brand).order_by("title", "url", "pk")


@router.post("/brands/{brand_id}/feeds", response=_responses(201, FeedOut), tags=["ideas"])
def feed_create(request, brand_id: int, payload: FeedCreate):
    """Follow a feed. It is fetched within the hour, or now with …/fetch."""
    brand = get_brand(request.user, brand_id, roles.COMPOSE)
    return Status(201, feed_service.do_add_feed(_ctx(request), brand, payload.url))


@router.delete("/brands/{brand_id}/feeds/{feed_id}", response=_responses(204, None), tags=["ideas"])
def feed_delete(request, brand_id: int, feed_id: int):
    """Stop following a feed; the ideas it brought stay."""
    feed = _feed(request, brand_id, feed_id, roles.COMPOSE)
    feed_service.do_remove_feed(_ctx(request), feed)
    return Status(204, None)


@router.post("/brands/{brand_id}/feeds/{feed_id}/fetch", response=_responses(200, FetchOut), tags=["ideas"])
def feed_fetch(request, brand_id: int, feed_id: int):
    """Fetch a feed now. A problem with the feed is not an error of this call: it is in
    ``feed.last_error``."""
    feed = _feed(request, brand_id, feed_id, roles.COMPOSE)
    created = feed_service.do_fetch_feed(_ctx(request), feed)
    return {"created": created, "feed": feed}


# --- Brand dictionary and spelling ----------------------------------------------------------

@router.get("/brands/{brand_id}/dictionary", response=_responses(200, list[WordOut]), tags=["ideas"])
@paginate(Pagination, max_limit=MAX_PAGE)
def word_list(request, brand_id: int):
    """The words the spell checker accepts for this brand."""
    brand = get_brand(request.user, brand_id)
    return BrandWord.objects.for_user(request.user).filter(brand=brand).order_by("word", "pk")


@router.post("/brands/{brand_id}/dictionary", response={**_responses(201, WordOut), 200: WordOut}, tags=["ideas"])
def word_create(request, brand_id: int, payload: WordCreate):
    """Add a word. Adding one that is already there returns it (200) and changes nothing."""
    brand = get_brand(request.user, brand_id, roles.COMPOSE)
    word, created = spelling.do_add_brand_word(_ctx(request), brand, payload.word)
    return Status(201 if created else 200, word)


@router.delete("/brands/{brand_id}/dictionary/{word_id}", response=_responses(204, None), tags=["ideas"])
def word_delete(request, brand_id: int, word_id: int):
    brand = get_brand(request.user, brand_id, roles.COMPOSE)
    word = _one(BrandWord.objects.for_user(request.user, roles.COMPOSE).select_related("brand"),
                pk=word_id, brand=brand)
    spelling.do_remove_brand_word(_ctx(request), word)
    return Status(204, None)


def _utf16_offsets(text: str, indices) -> dict[int, int]:
    """Code-point offsets -> UTF-16 offsets, in one pass over the text."""
    wanted = sorted(set(indices))
    out: dict[int, int] = {}
    units = position = 0
    for index in wanted:
        for ch in text[position:index]:
            units += 2 if ord(ch) > 0xFFFF else 1
        position = index
        out[index] = units
    return out


@router.post("/brands/{brand_id}/spelling", response=_responses(200, list[MisspellingOut]), tags=["ideas"])
def spell_check(request, brand_id: int, payload: SpellIn):
    """The misspelled words of a text, with suggestions. The brand's dictionary, required
    hashtags and signature are accepted."""
    brand = get_brand(request.user, brand_id)
    try:
        found = spelling.check(payload.text, payload.language, spelling.brand_words_for(brand))
    except ValueError:
        from django.core.exceptions import ValidationError
        from django.utils.translation import gettext as _

        raise ValidationError({"language": [_("Choose Spanish (es) or English (en).")]}) from None
    utf16 = _utf16_offsets(payload.text, [i for m in found for i in (m.start, m.end)])
    return [{"word": m.word, "start": m.start, "end": m.end, "start_utf16": utf16[m.start],
             "end_utf16": utf16[m.end], "suggestions": m.suggestions} for m in found]
