"""The inbox list: conversations filtered, sorted and paged, for the pages and the API alike.

Tenant scoping comes first: the rows are those of the brands the user may see (or the one brand
the caller already resolved with ``scoping.get_brand``). Filters only narrow that set, so an
account or label id of another brand finds nothing rather than leaking anything.

Paging is by keyset (the sort key of the last row shown, signed into an opaque cursor), never by
OFFSET: page 200 of a million-row inbox costs what page 1 costs.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from datetime import datetime

from django.core import signing
from django.core.exceptions import ValidationError
from django.db.models import OuterRef, Q, Subquery
from django.db.models.functions import Substr
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext as _

from tertulia.core.scoping import brands_for
from tertulia.networks.models import Network

from .models import Conversation, Interaction

HIGH_PRIORITY = 70  # 0..100: "high" starts here
EXCERPT = 200  # characters of the newest message shown in the list
MAX_LIMIT = 200

SORTS = {
    # name: ((field, descending), ...) — the last one is always the primary key, so the order is total
    "recent": (("last_message_at", True), ("id", True)),
    "oldest": (("last_message_at", False), ("id", False)),
    "priority": (("priority", True), ("last_message_at", True), ("id", True)),
    # The SLA: whoever has been waiting the longest for a first answer comes first.
    "due": (("first_response_due_at", False), ("id", False)),
}
STATUSES = ("open", "pending", "closed", "all")


@dataclass(frozen=True)
class Filters:
    status: str = "open"
    account: int | None = None
    network: str = ""
    sentiment: str = ""
    intent: str = ""
    assignee: str = ""  # "" (anyone) | "me" | "none" | a user id
    priority: str = ""  # "" | "high" | "normal"
    label: str = ""
    flagged: bool | None = None
    language: str = ""
    kind: str = ""
    sort: str = "recent"

    def as_params(self) -> dict[str, str]:
        """The non-default filters as query parameters (for links that keep them)."""
        out = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if value == f.default:
                continue
            out[f.name] = ("1" if value else "0") if isinstance(value, bool) else str(value)
        return out


@dataclass
class Page:
    items: list[Conversation]
    next_cursor: str = ""
    filters: Filters = field(default_factory=Filters)


def _choice(params, name: str, allowed, label: str) -> str:
    value = (params.get(name) or "").strip()
    if value and value not in allowed:
        raise ValidationError(_("Unknown %(what)s: “%(value)s”.") % {"what": label, "value": value[:40]})
    return value


def _int(params, name: str, label: str) -> int | None:
    value = (params.get(name) or "").strip()
    if not value:
        return None
    if not (value.isascii() and value.isdigit()) or len(value) > 12:
        raise ValidationError(_("%(what)s must be a number.") % {"what": label})
    return int(value)


def parse_filters(params: Mapping[str, str]) -> Filters:
    """Filters from query parameters; a wrong value raises ValidationError naming it."""
    status = _choice(params, "status", STATUSES, _("status")) or "open"
    assignee = (params.get("assignee") or "").strip()
    if assignee and assignee not in ("me", "none") and (not (assignee.isascii() and assignee.isdigit())
                                                         or len(assignee) > 12):
        raise ValidationError(_("Unknown assignee: “%(value)s”.") % {"value": assignee[:40]})
    flagged_raw = (params.get("flagged") or "").strip()
    if flagged_raw not in ("", "0", "1"):
        raise ValidationError(_("“Flagged” must be 1 or 0."))
    label = (params.get("label") or "").strip()
    if len(label) > 60 or "\x00" in label:
        raise ValidationError(_("That label name is too long."))
    return Filters(
        status=status,
        account=_int(params, "account", _("Account")),
        network=_choice(params, "network", Network.values, _("network")),
        sentiment=_choice(params, "sentiment", Interaction.Sentiment.values, _("sentiment")),
        intent=_choice(params, "intent", Interaction.Intent.values, _("intent")),
        assignee=assignee,
        priority=_choice(params, "priority", ("high", "normal"), _("priority")),
        label=label,
        flagged=None if not flagged_raw else flagged_raw == "1",
        language=_choice(params, "language", ("es", "en", "other"), _("language")),
        kind=_choice(params, "kind", Conversation.Kind.values, _("kind")),
        sort=_choice(params, "sort", SORTS, _("order")) or "recent",
    )


def _filtered(qs, user, f: Filters):
    if f.status != "all":
        qs = qs.filter(status=f.status)
    if f.account is not None:
        qs = qs.filter(account_id=f.account)
    if f.network:
        qs = qs.filter(account__network=f.network)
    if f.sentiment:
        qs = qs.filter(sentiment=f.sentiment)
    if f.intent:
        qs = qs.filter(intent=f.intent)
    if f.assignee == "me":
        qs = qs.filter(assignee_id=user.pk)
    elif f.assignee == "none":
        qs = qs.filter(assignee__isnull=True)
    elif f.assignee:
        qs = qs.filter(assignee_id=int(f.assignee))
    if f.priority == "high":
        qs = qs.filter(priority__gte=HIGH_PRIORITY)
    elif f.priority == "normal":
        qs = qs.filter(priority__lt=HIGH_PRIORITY)
    if f.label:
        qs = qs.filter(labels__name=f.label)
    if f.flagged is not None:
        qs = qs.filter(flagged=f.flagged)
    if f.language == "other":
        qs = qs.exclude(language__in=("es", "en"))
    elif f.language:
        qs = qs.filter(language=f.language)
    if f.kind:
        qs = qs.filter(kind=f.kind)
    if f.sort == "due":
        qs = qs.filter(first_response_due_at__isnull=False, first_response_at__isnull=True)
    return qs


def _key(conv: Conversation, sort: str) -> list:
    out = []
    for name, _desc in SORTS[sort]:
        value = getattr(conv, name)
        out.append(value.isoformat() if isinstance(value, datetime) else value)
    return out


_SALT = "tertulia.inbox.listing"


def _cursor_filter(sort: str, cursor: str) -> Q:
    try:
        values = signing.loads(cursor, salt=_SALT)
        keys = SORTS[sort]
        if not isinstance(values, list) or len(values) != len(keys):
            raise ValueError
        parsed = []
        for (name, _desc), value in zip(keys, values):
            if name.endswith("_at"):
                value = parse_datetime(value) if isinstance(value, str) else None
                if value is None:
                    raise ValueError
            elif not isinstance(value, int):
                raise ValueError
            parsed.append(value)
    except (signing.BadSignature, ValueError, TypeError):
        raise ValidationError(_("That page link is not valid any more; start from the first page."))
    # (a, b, c) after (x, y, z) in the sort order: a > x, or a = x and (b, c) after (y, z), ...
    q = Q()
    for i in reversed(range(len(keys))):
        name, desc = keys[i]
        step = Q(**{f"{name}__{'lt' if desc else 'gt'}": parsed[i]})
        q = step if i == len(keys) - 1 else step | (Q(**{name: parsed[i]}) & q)
    # The same bound on the first key alone, which the database can read as an index range
    # (it cannot see one through the OR).
    first, desc = keys[0]
    return Q(**{f"{first}__{'lte' if desc else 'gte'}": parsed[0]}) & q


def _page_keys(user, brand, filters: Filters, after: str, limit: int) -> tuple[list[tuple], bool]:
    """The sort keys (ending with the primary key) of one page's rows, in order, and whether
    more rows follow."""
    keys = SORTS[filters.sort]
    names = [name for name, _desc in keys]
    order = [f"-{name}" if desc else name for name, desc in keys]
    bound = _cursor_filter(filters.sort, after) if after else None
    if brand is not None:
        brand_ids = [brand.pk]
    else:
        brand_ids = list(brands_for(user).order_by("pk").values_list("pk", flat=True))
    candidates = []
    for brand_id in brand_ids:
        qs = _filtered(Conversation.objects.filter(brand_id=brand_id), user, filters)
        if bound is not None:
            qs = qs.filter(bound)
        candidates += qs.order_by(*order).values_list(*names)[: limit + 1]
    candidates.sort(reverse=keys[0][1])  # every sort runs one way on all its keys
    return candidates[:limit], len(candidates) > limit


def _newest_excerpt(length: int = EXCERPT) -> Subquery:
    newest = Interaction.objects.filter(conversation=OuterRef("pk")).order_by("-created_at", "-id")
    return Subquery(newest.annotate(excerpt=Substr("text", 1, length)).values("excerpt")[:1])


def conversations(user, brand, filters: Filters, *, after: str = "", limit: int = 50) -> Page:
    """One page of conversations the user may see, newest first unless sorted otherwise.

    Each brand's page is read on its own index (brand, status, sort key, id) and the pages are
    merged here: one index walk per brand, stopping after ``limit`` rows, instead of sorting
    every open conversation of every brand in the database. Then the page's rows are loaded
    with their author, account, labels and newest message in a few more queries."""
    limit = max(1, min(int(limit), MAX_LIMIT))
    page_keys, more = _page_keys(user, brand, filters, after, limit)
    wanted = [row[-1] for row in page_keys]
    by_pk = Conversation.objects.select_related("author", "account", "assignee", "brand").annotate(
        last_text=_newest_excerpt()
    ).prefetch_related("labels").in_bulk(wanted)
    rows = [by_pk[pk] for pk in wanted if pk in by_pk]
    cursor = signing.dumps(_key(rows[-1], filters.sort), salt=_SALT) if more and rows else ""
    return Page(items=rows, next_cursor=cursor, filters=filters)


# What the inbox page shows of each row (``row_values``): plain values, no model instances.
ROW_FIELDS = (
    "pk", "brand_id", "status", "flagged", "priority", "sentiment", "intent", "last_message_at",
    "first_response_at", "first_response_due_at", "resolution_due_at",
    "brand__name", "brand__timezone", "author__display_name", "author__handle", "account__network",
    "assignee__first_name", "assignee__last_name", "assignee__username",
)


def _attach_labels(rows: list[dict]) -> None:
    """``labels``: each row's label names, in order (one query)."""
    by_pk = {}
    for r in rows:
        r["labels"] = []
        by_pk[r["pk"]] = r
    if not by_pk:
        return
    through = Conversation.labels.through
    for conv_id, name in (through.objects.filter(conversation_id__in=list(by_pk))
                          .order_by("label__name").values_list("conversation_id", "label__name")):
        by_pk[conv_id]["labels"].append(name)


def row_values(pks: list[int], excerpt: int = EXCERPT, fields: tuple[str, ...] = ROW_FIELDS) -> list[dict]:
    """The rows ``pks`` (in that order) as dicts of ``fields``, plus ``last_text`` (the
    first ``excerpt`` characters of the newest message) and ``labels`` (their names, in
    order): two queries."""
    if not pks:
        return []
    by_pk = {r["pk"]: r for r in Conversation.objects.filter(pk__in=pks).annotate(last_text=_newest_excerpt(excerpt))
             .values(*fields, "last_text")}
    rows = [by_pk[pk] for pk in pks if pk in by_pk]
    _attach_labels(rows)
    return rows


@dataclass
class RowPage:
    rows: list[dict]
    next_cursor: str = ""


def conversation_rows(user, brand, filters: Filters, *, after: str = "", limit: int = 50,
                      fields: tuple[str, ...] = ROW_FIELDS) -> RowPage:
    """``conversations``, as ``row_values`` dicts (for the inbox page and the API's list)."""
    limit = max(1, min(int(limit), MAX_LIMIT))
    if brand is None:  # several brands: their pages merged (``_page_keys``), then the rows read
        page_keys, more = _page_keys(user, brand, filters, after, limit)
        rows = row_values([row[-1] for row in page_keys], fields=fields)
        last = page_keys[-1] if page_keys else None
    else:
        # One brand: its page is read with its values in one query (the same index walk).
        keys = SORTS[filters.sort]
        names = [name if name != "id" else "pk" for name, _desc in keys]
        qs = _filtered(Conversation.objects.filter(brand_id=brand.pk), user, filters)
        if after:
            qs = qs.filter(_cursor_filter(filters.sort, after))
        rows = list(qs.order_by(*[f"-{name}" if desc else name for name, desc in keys])
                    .annotate(last_text=_newest_excerpt())
                    .values(*fields, *[n for n in names if n not in fields], "last_text")[: limit + 1])
        more = len(rows) > limit
        rows = rows[:limit]
        _attach_labels(rows)
        last = [rows[-1][n] for n in names] if rows else None
    cursor = ""
    if more and last is not None:
        cursor = signing.dumps([v.isoformat() if isinstance(v, datetime) else v for v in last], salt=_SALT)
    return RowPage(rows=rows, next_cursor=cursor)
