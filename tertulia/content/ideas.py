"""The idea backlog: a kanban of cards (idea → writing → ready), ordered by ``position`` in each
column. Every write goes through a ``do_*`` service that checks COMPOSE and records the audit log.

Positions are kept compact (0, 1, 2, … in each column): a move renumbers the column it left and
the column it entered inside one transaction, so concurrent moves cannot leave gaps or duplicates
that would make the order depend on the database.
"""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.db import transaction
from django.db.models import Max
from django.utils.translation import gettext as _

from tertulia.core import roles
from tertulia.core.models import Brand
from tertulia.core.services import Ctx, _log, _require

from .models import Idea

TITLE_MAX = 300
NOTES_MAX = 10_000
URL_MAX = 2000
STATUSES = tuple(Idea.Status.values)

_url_validator = URLValidator(schemes=["http", "https"])


def _clean_text(value, limit: int, field: str, *, required: bool = False, multiline: bool = False) -> str:
    text = str(value or "").replace("\x00", "")
    text = text.strip() if multiline else " ".join(text.split())
    if required and not text:
        raise ValidationError({field: [_("This field is required.")]})
    if len(text) > limit:
        raise ValidationError({field: [_("Keep it under %(limit)s characters.") % {"limit": limit}]})
    return text


def clean_source_url(value, field: str = "source_url") -> str:
    url = str(value or "").strip()
    if not url:
        return ""
    if len(url) > URL_MAX or "\x00" in url:
        raise ValidationError({field: [_("Enter a valid web address (http or https).")]})
    try:
        _url_validator(url)
    except ValidationError:
        raise ValidationError({field: [_("Enter a valid web address (http or https).")]}) from None
    return url


def _pillar(brand: Brand, pillar):
    """A pillar of this brand (object or id), or None; another brand's pillar is refused."""
    if pillar in (None, ""):
        return None
    from tertulia.strategy.models import ContentPillar

    pk = pillar.pk if isinstance(pillar, ContentPillar) else pillar
    try:
        return ContentPillar.objects.get(pk=int(pk), brand=brand)
    except (ContentPillar.DoesNotExist, TypeError, ValueError):
        raise ValidationError({"pillar": [_("Choose one of this brand's content pillars.")]}) from None


def _status(value) -> str:
    value = str(value or "")
    if value not in STATUSES:
        raise ValidationError({"status": [_("Choose idea, writing or ready.")]})
    return value


def _next_position(brand: Brand, status: str) -> int:
    top = Idea.objects.filter(brand=brand, status=status).aggregate(m=Max("position"))["m"]
    return 0 if top is None else top + 1


def _compact(brand: Brand, status: str, ordered: list[Idea] | None = None) -> None:
    """Renumber one column 0..n-1 (in ``ordered`` order, else the current order)."""
    if ordered is None:
        ordered = list(Idea.objects.filter(brand=brand, status=status).order_by("position", "-id"))
    changed = []
    for index, idea in enumerate(ordered):
        if idea.position != index or idea.status != status:
            idea.position = index
            idea.status = status
            changed.append(idea)
    if changed:
        Idea.objects.bulk_update(changed, ["position", "status"])


@transaction.atomic
def do_create_idea(ctx: Ctx, brand: Brand, *, title, notes="", pillar=None, source_url="",
                   status=Idea.Status.IDEA) -> Idea:
    _require(ctx, brand, roles.COMPOSE)
    status = _status(status)
    idea = Idea(
        brand=brand,
        title=_clean_text(title, TITLE_MAX, "title", required=True),
        notes=_clean_text(notes, NOTES_MAX, "notes", multiline=True),
        pillar=_pillar(brand, pillar),
        source_url=clean_source_url(source_url),
        status=status,
        position=_next_position(brand, status),
        created_by=ctx.user if ctx.user.is_authenticated else None,
    )
    idea.save()
    _log(ctx, "idea.create", brand=brand, obj=idea, changes={"title": idea.title, "status": status})
    return idea


IDEA_FIELDS = ("title", "notes", "pillar", "source_url")


@transaction.atomic
def do_update_idea(ctx: Ctx, idea: Idea, **fields) -> Idea:
    """Change the title, notes, pillar or source of a card (``status`` moves it to the end of
    that column; use ``do_move_idea`` to choose the place)."""
    _require(ctx, idea.brand, roles.COMPOSE)
    unknown = set(fields) - set(IDEA_FIELDS) - {"status"}
    if unknown:
        raise ValidationError(_("Unknown fields: %(fields)s") % {"fields": ", ".join(sorted(unknown))})
    changes = {}
    if "title" in fields:
        idea.title = _clean_text(fields["title"], TITLE_MAX, "title", required=True)
        changes["title"] = idea.title
    if "notes" in fields:
        idea.notes = _clean_text(fields["notes"], NOTES_MAX, "notes", multiline=True)
        changes["notes"] = len(idea.notes)
    if "pillar" in fields:
        idea.pillar = _pillar(idea.brand, fields["pillar"])
        changes["pillar"] = idea.pillar_id
    if "source_url" in fields:
        idea.source_url = clean_source_url(fields["source_url"])
        changes["source_url"] = idea.source_url
    idea.save()
    if "status" in fields and _status(fields["status"]) != idea.status:
        do_move_idea(ctx, idea, fields["status"], None)
        changes["status"] = idea.status
    _log(ctx, "idea.update", brand=idea.brand, obj=idea, changes=changes)
    return idea


@transaction.atomic
def do_move_idea(ctx: Ctx, idea: Idea, status, position: int | None) -> Idea:
    """Put a card in column ``status`` at ``position`` (0 = top; None or past the end = bottom),
    and renumber both columns."""
    _require(ctx, idea.brand, roles.COMPOSE)
    status = _status(status)
    brand = idea.brand
    # Lock the brand's cards (PostgreSQL; SQLite serialises writers already) so two moves at
    # once renumber one after the other.
    list(Idea.objects.select_for_update().filter(brand=brand).values_list("pk", flat=True))
    idea.refresh_from_db(fields=["status", "position"])
    old_status, old_position = idea.status, idea.position
    column = [i for i in Idea.objects.filter(brand=brand, status=status).order_by("position", "-id")
              if i.pk != idea.pk]
    if position is None:
        position = len(column)
    try:
        position = max(0, min(int(position), len(column)))
    except (TypeError, ValueError):
        raise ValidationError({"position": [_("Enter a whole number.")]}) from None
    column.insert(position, idea)
    _compact(brand, status, column)
    if old_status != status:
        _compact(brand, old_status)
    idea.status, idea.position = status, position
    if (old_status, old_position) != (status, position):
        _log(ctx, "idea.move", brand=brand, obj=idea,
             changes={"status": [old_status, status], "position": [old_position, position]})
    return idea


@transaction.atomic
def do_delete_idea(ctx: Ctx, idea: Idea) -> None:
    _require(ctx, idea.brand, roles.COMPOSE)
    brand, status = idea.brand, idea.status
    _log(ctx, "idea.delete", brand=brand, obj=idea, changes={"title": idea.title})
    idea.delete()
    _compact(brand, status)


def board(brand: Brand, ideas) -> list[dict]:
    """The three columns of the board, each with its cards in order."""
    by_status: dict[str, list[Idea]] = {s: [] for s in STATUSES}
    for idea in ideas:
        by_status.setdefault(idea.status, []).append(idea)
    return [{"status": value, "label": label, "ideas": sorted(by_status[value], key=lambda i: (i.position, -i.pk))}
            for value, label in Idea.Status.choices]
