"""Inbox pages: the conversation list (unified or per brand), a conversation with its thread,
the author's history, and the team's actions (assign, label, status, hide, relabel, reply,
bulk). Thin: reads go through ``listing`` and brand-scoped querysets, writes through
``services`` and ``replies``.

Everything a network hands us is untrusted: besides Django's escaping, names, handles and
excerpts lose the invisible characters that reorder or hide text (bidi overrides, zero-width
marks), and long messages are shown shortened.
"""

from __future__ import annotations

import html
import re
import time
import unicodedata
from datetime import timedelta

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection
from django.db.models import Exists, OuterRef, Value
from django.db.models.functions import Upper
from django.http import HttpResponseRedirect
from django.shortcuts import get_object_or_404, redirect, render
from django.templatetags.tz import do_timezone
from django.urls import reverse
from django.utils import timezone
from django.utils.formats import get_format
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.safestring import mark_safe
from django.utils.text import Truncator
from django.utils.timesince import timesince, timeuntil
from django.utils.timezone import template_localtime
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from tertulia.core.dateformats import DateFormat
from tertulia.core import roles
from tertulia.core.models import Membership
from tertulia.core.scoping import brands_for, permissions_in
from tertulia.core.services import Ctx
from tertulia.core.views import _errors_to_messages, brand_view
from tertulia.networks.models import Network, SocialAccount

from . import listing, presence, rules, services
from .forms import (
    BULK_ACTIONS,
    STATUS_ACTIONS,
    AssignForm,
    BulkForm,
    LabelForm,
    RelabelForm,
    ReplyForm,
    StatusForm,
)
from .models import Author, Conversation, Interaction, Label, OutgoingReply, SavedReply
from .triage import TOXIC  # toxicity from which a message counts as an offence

PAGE_SIZE = 50
EXCERPT_CHARS = 140
MESSAGE_CHARS = 5000  # longer messages are shown shortened (the full text stays stored)
THREAD_LIMIT = 200  # newest messages shown in a conversation
AUTHOR_CONVERSATIONS = 100  # newest conversations on an author's page
NAME_CHARS = 80

# Characters that change how text around them is shown without being visible themselves: bidi
# embeddings, overrides and isolates, and zero-width marks. A handle with U+202E can make
# "evil.com" read "moc.live"; zero-width joiners make two handles look identical.
_INVISIBLE = re.compile("[\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff\u180e]")


def clean(text: str | None, limit: int | None = None) -> str:
    text = _INVISIBLE.sub("", text or "")
    if limit is not None:
        if 0 < limit and len(text) <= limit:
            # What Truncator.chars returns when nothing is cut (it counts characters, so a
            # text of at most ``limit`` code points is never cut): the NFC form.
            return unicodedata.normalize("NFC", text)
        text = Truncator(text[: limit * 2]).chars(limit)
    return text


def _safe_next(request, fallback: str) -> str:
    nxt = request.POST.get("next") or request.GET.get("next") or ""
    if nxt and url_has_allowed_host_and_scheme(nxt, allowed_hosts={request.get_host()},
                                               require_https=request.is_secure()):
        return nxt
    return fallback


def _person(user) -> str:
    return clean(user.get_full_name() or user.get_username(), NAME_CHARS) if user else ""


# --- The SLA timer and ages ------------------------------------------------------------

def sla_state(conv: Conversation, now=None) -> dict:
    """What the list shows for a conversation's service targets: the first answer owed (due
    or overdue); once answered, "Answered" with the resolution still owed beside it (until the
    conversation is closed); a resolution overdue wins over everything else."""
    return _sla(conv.status, conv.first_response_at, conv.first_response_due_at, conv.resolution_due_at,
                now or timezone.now())


def _sla(status, first_response_at, first_response_due_at, res_due, now) -> dict:
    if status == Conversation.Status.CLOSED:
        return {"state": "closed", "text": _("Closed"), "due": None, "resolution": ""}
    resolution = ""
    if res_due is not None and res_due >= now:
        resolution = _("Resolution due in %(time)s") % {"time": timeuntil(res_due, now, depth=1)}
    if first_response_at is None and first_response_due_at is not None:
        due = first_response_due_at
        if due >= now:
            return {"state": "due", "due": due, "resolution": "",
                    "text": _("First answer due in %(time)s") % {"time": timeuntil(due, now, depth=1)}}
        return {"state": "overdue", "due": due, "resolution": "",
                "text": _("First answer overdue by %(time)s") % {"time": timesince(due, now, depth=1)}}
    if res_due is not None and res_due < now:
        late = timesince(res_due, now, depth=1)
        if first_response_at is not None:
            return {"state": "overdue", "due": res_due, "resolution": "",
                    "text": _("Answered; resolution overdue by %(time)s") % {"time": late}}
        return {"state": "overdue", "due": res_due, "resolution": "",
                "text": _("Resolution overdue by %(time)s") % {"time": late}}
    if first_response_at is not None:
        return {"state": "answered", "due": first_response_at, "text": _("Answered"),
                "resolution": resolution}
    if resolution:
        return {"state": "due", "due": res_due, "text": resolution, "resolution": ""}
    return {"state": "none", "text": "", "due": None, "resolution": ""}


_SENTIMENTS = dict(Interaction.Sentiment.choices)
_NETWORKS = dict(Network.choices)
_INTENTS = dict(Interaction.Intent.choices)


class _RowHTML:
    """The HTML of the list's rows (one ``<li>`` each), written here rather than by a template
    included once per row: the inbox list is the most visited page, and a row is ~30 template
    lookups. Everything from the network is cleaned (``clean``) and escaped; the words are the
    catalog's. Rows are ``listing.row_values`` dicts."""

    def __init__(self, now, *, show_brand=False, can_act=False, reply_brands=()):
        self.now = now
        self.show_brand = show_brand
        self.can_act = can_act
        self.reply_brands = reply_brands
        self.urls = {}
        self.sentiments = {k: str(v) for k, v in _SENTIMENTS.items()}
        self.intents = {k: str(v) for k, v in _INTENTS.items()}
        self.networks = {k: str(v) for k, v in Network.choices}
        self.statuses = {k: str(v) for k, v in Conversation.Status.choices}
        self.t_select = _("Select this conversation")
        self.t_flagged = _("Flagged")
        self.t_priority_title = _("Priority (0-100)")
        self.t_urgent = _("Urgent")
        self.t_priority = _("Priority")
        self.t_assigned = _("Assigned to %(name)s")
        self.t_unassigned = _("Unassigned")
        self.t_ago = _("%(age)s ago")
        self.short = DateFormat(get_format("SHORT_DATETIME_FORMAT"))

    def url(self, brand_id: int, pk: int) -> str:
        prefix = self.urls.get(brand_id)
        if prefix is None:  # the conversation's URL is the brand's inbox URL and its id
            prefix = self.urls[brand_id] = reverse("section_inbox", args=[brand_id])
        return f"{prefix}{pk}/"

    def __call__(self, r: dict) -> str:
        esc = html.escape
        now = self.now
        zone = r["brand__timezone"]
        url = esc(self.url(r["brand_id"], r["pk"]))
        high = r["priority"] >= listing.HIGH_PRIORITY
        flagged = r["flagged"]
        out = ['<li class="conv', " is-flagged" if flagged else "", " is-high" if high else "",
               '" data-row data-url="', url, '">\n  ']
        if self.can_act and r["brand_id"] in self.reply_brands:
            out += ['<input type="checkbox" name="ids" value="', str(r["pk"]),
                    '" class="conv-select" data-select aria-label="', self.t_select, '">']
        out += ['\n  <a class="conv-link" href="', url,
                '" data-open>\n    <span class="conv-who"><bdi class="conv-author">',
                esc(clean(r["author__display_name"] or r["author__handle"], NAME_CHARS)),
                "</bdi> <small><bdi>", esc(clean(r["author__handle"], NAME_CHARS)), "</bdi> · ",
                esc(self.networks.get(r["account__network"], r["account__network"]))]
        if self.show_brand:
            out += [" · <bdi>", esc(clean(r["brand__name"], NAME_CHARS)), "</bdi>"]
        out += ['</small></span>\n    <span class="conv-excerpt"><bdi dir="auto">',
                esc(clean(r["last_text"] or "", EXCERPT_CHARS)),
                '</bdi></span>\n  </a>\n  <span class="conv-meta">\n    ']
        if flagged:
            out += ['<span class="badge badge-flagged">', self.t_flagged, "</span>"]
        out.append("\n    ")
        sentiment = self.sentiments.get(r["sentiment"], "")
        if sentiment:
            out += ['<span class="badge badge-', esc(r["sentiment"]), '">', esc(sentiment), "</span>"]
        out.append("\n    ")
        intent = self.intents.get(r["intent"], "")
        if intent:
            out += ['<span class="badge badge-intent">', esc(intent), "</span>"]
        out += ['\n    <span class="badge badge-priority', " high" if high else "", '" title="',
                self.t_priority_title, '">', self.t_urgent if high else self.t_priority, " ",
                str(r["priority"]), "</span>\n    "]
        for name in r["labels"]:
            out += ['<span class="badge badge-label"><bdi>', esc(clean(name, 60)), "</bdi></span>"]
        out.append('\n    <span class="conv-assignee">')
        if r["assignee__username"] is not None:
            first, last = r["assignee__first_name"], r["assignee__last_name"]
            person = clean(f"{first} {last}".strip() or r["assignee__username"], NAME_CHARS)
        else:
            person = ""
        out.append(self.t_assigned % {"name": esc(person)} if person else self.t_unassigned)
        last_at = r["last_message_at"]
        out += ['</span>\n    <time class="conv-age" datetime="', esc(template_localtime(last_at).isoformat()),
                '" title="', esc(self.short(do_timezone(last_at, zone))), '">',
                self.t_ago % {"age": esc(timesince(last_at, now, depth=1))}, "</time>\n    "]
        sla = _sla(r["status"], r["first_response_at"], r["first_response_due_at"], r["resolution_due_at"], now)
        if sla["text"]:
            state = esc(sla["state"])
            out += ['<span class="sla sla-', state, '" data-sla="', state, '"']
            if sla["due"]:
                out += [' title="', esc(self.short(do_timezone(sla["due"], zone))), '"']
            out += [">", esc(sla["text"]), "</span>"]
            if sla["resolution"]:
                out += [' <span class="sla-resolution">', esc(sla["resolution"]), "</span>"]
        out.append("\n    ")
        if r["status"] != "open":
            out += ['<span class="badge badge-status">', esc(self.statuses.get(r["status"], r["status"])), "</span>"]
        out.append("\n  </span>\n</li>\n")
        return mark_safe("".join(out))  # nosec B308 B703 # network text cleaned and escaped, words from the catalog


# --- The list ----------------------------------------------------------------------------

FILTER_KEYS = ("status", "account", "network", "sentiment", "intent", "assignee", "priority", "label",
               "flagged", "language", "kind", "sort")


def _members(brands) -> list[dict]:
    """People who may be assigned in these brands (they work the inbox)."""
    rows = (Membership.objects.filter(brand__in=brands, role__in=roles.roles_with(roles.REPLY))
            .order_by("user__first_name", "user__username")
            .values_list("user_id", "user__first_name", "user__last_name", "user__username"))
    seen, out = set(), []
    for user_id, first, last, username in rows:
        if user_id not in seen:
            seen.add(user_id)
            # _person(user): the full name ("first last", stripped), or else the username
            out.append({"id": user_id, "name": clean(f"{first} {last}".strip() or username, NAME_CHARS)})
    return out


def _list_page(request, brand):
    user = request.user
    errors = []
    params = {k: request.GET.get(k, "")[:100] for k in FILTER_KEYS}
    try:
        filters = listing.parse_filters(params)
    except ValidationError as exc:
        errors += exc.messages
        filters = listing.Filters()
    visible = brands_for(user)
    scope = brand
    brand_param = (request.GET.get("brand") or "").strip()
    if brand is None and brand_param:
        numeric = brand_param.isascii() and brand_param.isdigit() and len(brand_param) < 12
        scope = visible.filter(pk=int(brand_param)).first() if numeric else None
        if scope is None:
            errors.append(_("Unknown brand: “%(value)s”.") % {"value": clean(brand_param, 40)})
    after = (request.GET.get("after") or "")[:500]
    try:
        page = listing.conversation_rows(user, scope, filters, after=after, limit=PAGE_SIZE)
    except ValidationError as exc:
        errors += exc.messages
        page = listing.conversation_rows(user, scope, filters, limit=PAGE_SIZE)
    now = timezone.now()
    scope_brands = [scope] if scope is not None else list(visible)
    can_reply_in = set(brands_for(user, roles.REPLY).values_list("pk", flat=True))
    can_act = bool(can_reply_in & {b.pk for b in scope_brands})
    row_html = _RowHTML(now, show_brand=brand is None, can_act=can_act, reply_brands=can_reply_in)
    keep = {k: v for k, v in filters.as_params().items()}
    if brand is None and scope is not None:
        keep["brand"] = str(scope.pk)
    next_params = dict(keep, after=page.next_cursor) if page.next_cursor else None
    return render(request, "inbox/list.html", {
        "brand": brand, "scope": scope, "rows": [row_html(r) for r in page.rows],
        "filters": filters, "errors": errors, "next_params": next_params, "is_first": not after,
        "keep": keep,
        "brands": list(visible.order_by("name")) if brand is None else [],
        "accounts": [{"pk": pk, "network": _NETWORKS.get(network, network), "handle": handle}
                     for pk, network, handle in SocialAccount.objects.for_user(user).filter(brand__in=scope_brands)
                     .order_by("network", "handle").values_list("pk", "network", "handle")],
        "labels": sorted({clean(n, 60) for n in Label.objects.for_user(user).filter(brand__in=scope_brands)
                          .values_list("name", flat=True)}),
        "members": _members(scope_brands),
        "networks": Network.choices, "sentiments": Interaction.Sentiment.choices,
        "intents": Interaction.Intent.choices, "statuses": Conversation.Status.choices,
        "sorts": [("recent", _("Newest")), ("oldest", _("Oldest")), ("priority", _("Most urgent")),
                  ("due", _("Answer due first"))],
        "bulk_actions": BULK_ACTIONS, "can_act": can_act,
        "section_key": "inbox",
    })


@login_required
def inbox_all(request):
    """Every brand of mine in one list (the brand in the side menu stays the one I was on)."""
    brand_id = request.session.get("brand_id")
    current = brands_for(request.user).filter(pk=brand_id).first() if brand_id else None
    if current is not None:
        request.brand = current  # keeps the app shell's menu
    return _list_page(request, None)


@brand_view()
def inbox_brand(request, brand):
    return _list_page(request, brand)


@login_required
@require_POST
def inbox_bulk(request):
    """Assign, label, close or reopen the selected conversations (of any of my brands)."""
    fallback = reverse("inbox")
    form = BulkForm(request.POST)
    if not form.is_valid():
        for errs in form.errors.values():
            for e in errs:
                messages.error(request, e)
        return redirect(_safe_next(request, fallback))
    data = form.cleaned_data
    ids = data["ids"]
    visible = Conversation.objects.for_user(request.user).filter(pk__in=ids)
    allowed = set(Conversation.objects.for_user(request.user, roles.REPLY).filter(pk__in=ids)
                  .values_list("pk", flat=True))
    if not allowed and visible.exists():
        raise PermissionDenied
    by_brand: dict[int, list[int]] = {}
    for pk, brand_id in Conversation.objects.filter(pk__in=allowed).values_list("pk", "brand_id"):
        by_brand.setdefault(brand_id, []).append(pk)
    ctx = Ctx.from_request(request)
    action = data["action"]
    changed = 0
    for b in brands_for(request.user, roles.REPLY).filter(pk__in=by_brand):
        chunk = by_brand[b.pk]
        try:
            changed += _bulk_one(ctx, b, chunk, action, data) or 0
        except (ValidationError, PermissionDenied) as exc:
            _errors_to_messages(request, exc)
    messages.success(request, _("%(n)s of %(total)s conversations changed.") % {"n": changed, "total": len(ids)})
    return redirect(_safe_next(request, fallback))


def _assignee(ctx: Ctx, brand, raw: str):
    """"me", "none" or a user id -> the user (a member who works this brand's inbox) or None."""
    if raw == "none":
        return None
    if raw == "me":
        return ctx.user
    if not (raw.isascii() and raw.isdigit()) or len(raw) > 12:
        raise ValidationError(_("Choose who to assign to."))
    m = (Membership.objects.filter(brand=brand, user_id=int(raw), role__in=roles.roles_with(roles.REPLY))
         .select_related("user").first())
    if m is None:
        raise ValidationError(_("That person does not work this brand's inbox."))
    return m.user


def _bulk_one(ctx: Ctx, brand, ids: list[int], action: str, data: dict) -> int:
    if action == "assign_me":
        return services.do_assign(ctx, brand, ids, ctx.user)
    if action == "unassign":
        return services.do_assign(ctx, brand, ids, None)
    if action == "assign":
        return services.do_assign(ctx, brand, ids, _assignee(ctx, brand, data["assignee"]))
    if action == "label":
        return services.do_label(ctx, brand, ids, add=[data["label"].strip()])
    if action == "unlabel":
        return services.do_label(ctx, brand, ids, remove=[data["label"].strip()])
    return services.do_set_status(ctx, brand, ids, STATUS_ACTIONS[action])


# --- A conversation ------------------------------------------------------------------------

def _conversation(request, brand, conversation_id, permission=roles.VIEW) -> Conversation:
    conv = get_object_or_404(
        Conversation.objects.for_user(request.user, permission).select_related("author", "account", "assignee")
        # The account's tokens are only decrypted (read) if something asks for them.
        .defer("account__access_token", "account__refresh_token"),
        pk=conversation_id, brand=brand)
    conv.brand = brand  # the same row (brand=brand above)
    return conv


def _same_person(brand, author: Author):
    """The author's identities on this brand's networks: the same handle (without the leading
    @, case-insensitive) on each network."""
    key = author.handle.lstrip("@")
    if not key:
        return Author.objects.filter(brand=brand, pk=author.pk)
    # UPPER(handle) IN (UPPER(...), ...): the index inbox_author_handle_ci, on SQLite and
    # PostgreSQL alike. The author is among them (their own handle is one of the two).
    return Author.objects.alias(handle_ci=Upper("handle")).filter(
        brand=brand, handle_ci__in=[Upper(Value(key)), Upper(Value(f"@{key}"))])


def _author_stats(brand, ids: list[int], since) -> dict:
    """One pass over the inbound messages of the identities ``ids`` for every figure (the most
    visited page of the inbox), in plain SQL (the same query the ORM would write for
    ``aggregate(v=Avg(Case(...), filter=~Q(sentiment="")), messages=Count("pk"),
    complaints=Count("pk", filter=Q(intent=COMPLAINT, created_at__gte=since)),
    offences=Count("pk", filter=Q(toxicity__gte=TOXIC) | Q(hidden=True)))``, whose building
    cost more CPU than the query itself), and, in the same query, ``conversations``: the
    identities' conversations with the brand (``Conversation.objects.filter(brand=brand,
    author_id__in=ids).count()``)."""
    if not ids:
        return {"v": None, "messages": 0, "complaints": 0, "offences": 0, "conversations": 0}
    ops = connection.ops
    q = ops.quote_name
    col = {f: q(Interaction._meta.get_field(f).column) for f in (
        "sentiment", "intent", "created_at", "toxicity", "hidden", "brand", "direction", "author")}
    conv_col = {f: q(Conversation._meta.get_field(f).column) for f in ("brand", "author")}
    in_ids = ", ".join(["%s"] * len(ids))
    sql = (
        f"SELECT AVG(CASE WHEN {col['sentiment']} = %s THEN NULL WHEN {col['sentiment']} = %s THEN %s"  # nosec B608 # identifiers from model metadata, values bound as parameters
        f" WHEN {col['sentiment']} = %s THEN %s ELSE %s END),"
        f" COUNT(*),"
        f" COUNT(CASE WHEN {col['intent']} = %s AND {col['created_at']} >= %s THEN 1 END),"
        f" COUNT(CASE WHEN {col['toxicity']} >= %s OR {col['hidden']} = %s THEN 1 END),"
        f" (SELECT COUNT(*) FROM {q(Conversation._meta.db_table)}"
        f" WHERE {conv_col['brand']} = %s AND {conv_col['author']} IN ({in_ids}))"
        f" FROM {q(Interaction._meta.db_table)}"
        f" WHERE {col['brand']} = %s AND {col['direction']} = %s AND {col['author']} IN ({in_ids})"
    )
    params = ["", Interaction.Sentiment.NEGATIVE.value, -1.0, Interaction.Sentiment.POSITIVE.value, 1.0, 0.0,
              Interaction.Intent.COMPLAINT.value, ops.adapt_datetimefield_value(since), TOXIC, True,
              brand.pk, *ids, brand.pk, Interaction.Direction.INBOUND.value, *ids]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        v, messages, complaints, offences, conversations = cursor.fetchone()
    return {"v": None if v is None else float(v), "messages": messages, "complaints": complaints,
            "offences": offences, "conversations": conversations}


def author_history(brand, author: Author) -> dict:
    identities = list(_same_person(brand, author).order_by("network", "pk"))
    ids = [a.pk for a in identities]
    since = timezone.now() - timedelta(days=30)
    stats = _author_stats(brand, ids, since)
    avg = stats["v"]
    if avg is None:
        mood = ""
    elif avg <= -0.33:
        mood = _("Mostly negative")
    elif avg >= 0.33:
        mood = _("Mostly positive")
    else:
        mood = _("Mixed or neutral")
    return {
        "identities": [{"author": a, "network": a.get_network_display(), "handle": clean(a.handle, NAME_CHARS),
                        "name": clean(a.display_name, NAME_CHARS)} for a in identities],
        "ids": ids,
        "conversations": stats["conversations"],
        "messages": stats["messages"],
        "complaints_30d": stats["complaints"],
        "offences": stats["offences"],
        "sentiment": None if avg is None else round(avg, 2),
        "mood": mood,
    }


def _choices(choices) -> list[tuple]:
    """(value, value escaped, label escaped) of (value, label) choices: the labels in the
    active language, once per page."""
    return [(value, html.escape(str(value)), html.escape(str(label))) for value, label in choices]


def _options(choices: list[tuple], selected) -> str:
    """The ``<option>``s of ``_choices``, the one whose value equals ``selected`` marked, as
    the page's ``{% for %}`` loops wrote them."""
    return mark_safe("".join(  # nosec B308 B703 # values and labels escaped by _choices
        f'<option value="{value}"{" selected" if raw == selected else ""}>{label}</option>'
        for raw, value, label in choices))


def _hidden_value(form, name: str) -> str | None:
    """The ``value`` attribute HiddenInput gives field ``name`` (None: no attribute)."""
    value = form[name].value()
    return None if value == "" or value is None else str(value)


def _message(i: Interaction) -> dict:
    text = clean(i.text)
    shortened = len(text) > MESSAGE_CHARS
    return {
        "i": i, "text": text[:MESSAGE_CHARS], "shortened": shortened, "length": len(text),
        "inbound": i.direction == Interaction.Direction.INBOUND,
        "toxic": i.toxicity is not None and i.toxicity >= TOXIC,
        "author": clean(i.author.display_name or i.author.handle, NAME_CHARS),
    }


def _prefill(request, brand, conv, perms) -> str:
    """The reply box's text when the page is asked for a saved reply or a suggestion."""
    if roles.REPLY not in perms:
        return ""
    saved_id = request.GET.get("saved", "")
    if saved_id.isascii() and saved_id.isdigit() and len(saved_id) < 12:
        saved = SavedReply.objects.for_user(request.user, roles.REPLY).filter(brand=brand, pk=int(saved_id)).first()
        if saved is not None:
            from . import replies

            return replies.render_saved_reply(saved, conv, request.user)
    return ""


def _suggestions(conv, language, **known) -> list:
    from . import suggest

    return suggest.suggestions(conv, language, **known)


def _conversation_context(request, brand, conv, reply_form=None, collision=None) -> dict:
    perms = permissions_in(request.user, brand)
    can_reply = roles.REPLY in perms
    thread = list(Interaction.objects.filter(brand=brand, conversation=conv).select_related("author")
                  .order_by("-created_at", "-pk")[:THREAD_LIMIT])
    # Fewer than the limit: that is all of them (no COUNT needed).
    total = (len(thread) if len(thread) < THREAD_LIMIT
             else Interaction.objects.filter(brand=brand, conversation=conv).count())
    # The newest inbound message not deleted (what the suggestions answer), if it is among those
    # read (the thread is the newest messages, in the same order).
    newest_inbound = next((i for i in thread if i.direction == Interaction.Direction.INBOUND
                           and i.deleted_at is None), None)
    known = {} if newest_inbound is None and total > len(thread) else {"message": newest_inbound}
    thread.reverse()
    language = conv.language if conv.language in ("es", "en") else brand.language
    suggestions = []
    prefill = ""
    saved = list(SavedReply.objects.filter(brand=brand).order_by("title", "language")) if can_reply else []
    if can_reply:
        suggestions = [{"kind": s.kind, "title": clean(s.title, 120), "text": s.text,
                        "department": clean(getattr(s, "department", ""), 120)}
                       for s in _suggestions(conv, language, saved=saved, **known)]
        prefill = _prefill(request, brand, conv, perms)
        idx = request.GET.get("suggestion", "")
        if not prefill and idx.isascii() and idx.isdigit() and len(idx) < 6 and int(idx) < len(suggestions):
            prefill = suggestions[int(idx)]["text"]
    if reply_form is None:
        reply_form = ReplyForm(initial={"text": prefill, "opened_at": f"{time.time():.3f}"})
    last_inbound = next((i for i in reversed(thread) if i.direction == Interaction.Direction.INBOUND), None)
    from tertulia.networks.whatsapp.inbox import delivery_label  # WhatsApp's delivery news, in words

    messages_ = [_message(i) for i in thread]
    list_url = reverse("section_inbox", args=[brand.pk])
    sentiments, intents = _choices(Interaction.Sentiment.choices), _choices(Interaction.Intent.choices)
    for m in messages_:  # the inbox_relabel and inbox_hide URLs (under the brand's inbox URL)
        m["relabel_url"] = f"{list_url}messages/{m['i'].pk}/relabel/"
        m["hide_url"] = f"{list_url}messages/{m['i'].pk}/hide/"
        if m["inbound"] and can_reply:  # the relabel forms' choices
            m["sentiment_options"] = _options(sentiments, m["i"].sentiment)
            m["intent_options"] = _options(intents, m["i"].intent)
    members = _members([brand])
    # The brand's labels (by name), each marked if this conversation has it: one query for both lists.
    brand_labels = list(Label.objects.filter(brand=brand).annotate(on_conv=Exists(
        Conversation.labels.through.objects.filter(conversation_id=conv.pk, label_id=OuterRef("pk"))))
        .order_by("name").values_list("name", "on_conv"))
    extras = {}
    if conv.account.network == Network.WHATSAPP:
        from tertulia.networks.whatsapp import inbox as whatsapp_inbox

        whatsapp_inbox.annotate_messages(brand, messages_)
        extras = whatsapp_inbox.conversation_extras(brand, conv, can_reply)
    return {**extras,
        "brand": brand, "conv": conv, "section_key": "inbox",
        "messages_": messages_, "hidden_count": max(0, total - len(thread)),
        "author": conv.author, "author_name": clean(conv.author.display_name, NAME_CHARS),
        "author_handle": clean(conv.author.handle, NAME_CHARS),
        "history": author_history(brand, conv.author),
        "network": conv.account.get_network_display(), "account_handle": clean(conv.account.handle, NAME_CHARS),
        "sla": sla_state(conv), "assignee": _person(conv.assignee),
        "conv_sentiment": _SENTIMENTS.get(conv.sentiment, ""), "conv_intent": _INTENTS.get(conv.intent, ""),
        "labels": [clean(name, 60) for name, on_conv in brand_labels if on_conv],
        "brand_labels": [clean(name, 60) for name, _on in brand_labels],
        "members": members, "statuses": Conversation.Status.choices,
        "member_options": _options(_choices((m["id"], m["name"]) for m in members), conv.assignee_id),
        "sentiments": Interaction.Sentiment.choices, "intents": Interaction.Intent.choices,
        "can_reply": can_reply, "reply_form": reply_form, "collision": collision,
        # The form's two hidden inputs, as HiddenInput would write them (without a widget
        # template rendered for each).
        "reply_opened_at": _hidden_value(reply_form, "opened_at"),
        "reply_confirm": _hidden_value(reply_form, "confirm"),
        "saved_replies": [{"id": s.pk, "title": clean(s.title, 120), "language": s.language} for s in saved],
        "suggestions": suggestions, "last_inbound": last_inbound,
        "replies": [{"r": r, "text": clean(r.text, MESSAGE_CHARS), "by": _person(r.created_by),
                     "error": clean(_(r.error) if r.error else "", 300),  # stored in English
                     "delivery": delivery_label(r.delivery_status),
                     "delivery_error": clean(_(r.delivery_error) if r.delivery_error else "", 300)}
                    for r in OutgoingReply.objects.filter(brand=brand, conversation=conv)
                    .select_related("created_by").order_by("created_at", "pk")],
        "others": presence.others(request.user, conv),
        "can_hide": rules.can_hide(conv.account.network),
        "list_url": list_url,
        "conv_url": reverse("inbox_conversation", args=[brand.pk, conv.pk]),
    }


@brand_view()
def conversation_detail(request, brand, conversation_id):
    conv = _conversation(request, brand, conversation_id)
    presence.touch(request.user, conv, composing=False)
    if conv.account.network == Network.WHATSAPP and roles.REPLY in permissions_in(request.user, brand):
        # A CM opening the conversation: the customer sees their messages as read.
        from tertulia.networks.whatsapp.services import request_mark_read

        request_mark_read(conv)
    ctx = _conversation_context(request, brand, conv)
    if request.htmx and (request.GET.get("saved") or request.GET.get("suggestion")):
        # The "insert" links swap only the reply box.
        return render(request, "inbox/_reply_text.html", ctx)
    return render(request, "inbox/conversation.html", ctx)


@brand_view()
def conversation_presence(request, brand, conversation_id):
    """Polled by the open page: keeps me "here" and says who else is (and who is writing)."""
    conv = _conversation(request, brand, conversation_id)
    composing = None
    if request.method == "POST" and ("text" in request.POST or "composing" in request.POST):
        # The page posts its reply box as it is typed in and with every poll: an unsent draft
        # in the box is "replying"; an empty box (sent, or cleared) is only "viewing".
        draft = bool(request.POST.get("text", "").strip()) or request.POST.get("composing") == "1"
        composing = draft and roles.REPLY in permissions_in(request.user, brand)
    presence.touch(request.user, conv, composing=composing)
    return render(request, "inbox/_presence.html", {"others": presence.others(request.user, conv)})


def _back(brand, conv) -> HttpResponseRedirect:
    return redirect("inbox_conversation", brand.pk, conv.pk)


@brand_view(roles.REPLY)
@require_POST
def conversation_assign(request, brand, conversation_id):
    conv = _conversation(request, brand, conversation_id, roles.REPLY)
    form = AssignForm(request.POST)
    ctx = Ctx.from_request(request)
    try:
        if not form.is_valid():
            raise ValidationError(_("Choose who to assign to."))
        who = _assignee(ctx, brand, form.cleaned_data["assignee"])
        services.do_assign(ctx, brand, [conv.pk], who)
    except (ValidationError, PermissionDenied) as exc:
        _errors_to_messages(request, exc)
    else:
        messages.success(request, _("Assigned to %(name)s.") % {"name": _person(who)} if who
                         else _("Nobody is assigned now."))
    return redirect(_safe_next(request, reverse("inbox_conversation", args=[brand.pk, conv.pk])))


@brand_view(roles.REPLY)
@require_POST
def conversation_labels(request, brand, conversation_id):
    conv = _conversation(request, brand, conversation_id, roles.REPLY)
    form = LabelForm(request.POST)
    try:
        if not form.is_valid():
            raise ValidationError([e for errs in form.errors.values() for e in errs])
        add = [form.cleaned_data["add"].strip()] if form.cleaned_data["add"].strip() else []
        remove = [form.cleaned_data["remove"].strip()] if form.cleaned_data["remove"].strip() else []
        services.do_label(Ctx.from_request(request), brand, [conv.pk], add=add, remove=remove)
    except (ValidationError, PermissionDenied) as exc:
        _errors_to_messages(request, exc)
    else:
        messages.success(request, _("Labels saved."))
    return _back(brand, conv)


@brand_view(roles.REPLY)
@require_POST
def conversation_status(request, brand, conversation_id):
    conv = _conversation(request, brand, conversation_id, roles.REPLY)
    form = StatusForm(request.POST)
    try:
        if not form.is_valid():
            raise ValidationError(_("Unknown status."))
        services.do_set_status(Ctx.from_request(request), brand, [conv.pk], form.cleaned_data["status"])
    except (ValidationError, PermissionDenied) as exc:
        _errors_to_messages(request, exc)
    else:
        messages.success(request, _("Status changed."))
    return redirect(_safe_next(request, reverse("inbox_conversation", args=[brand.pk, conv.pk])))


@brand_view(roles.REPLY)
@require_POST
def conversation_reply(request, brand, conversation_id):
    conv = _conversation(request, brand, conversation_id, roles.REPLY)
    form = ReplyForm(request.POST)
    if form.is_valid():
        data = form.cleaned_data
        others = presence.replied_since(request.user, conv, data["opened_at"])
        if others and not data["confirm"]:
            # A colleague answered after this page was opened: show their answer and ask.
            form = ReplyForm(initial={"text": data["text"], "opened_at": f"{time.time():.3f}", "confirm": True})
            ctx = _conversation_context(request, brand, conv, reply_form=form, collision=others)
            return render(request, "inbox/conversation.html", ctx, status=409)
        from . import replies

        in_reply_to = (Interaction.objects.filter(brand=brand, conversation=conv,
                                                  direction=Interaction.Direction.INBOUND, deleted_at__isnull=True)
                       .order_by("-created_at", "-pk").first())
        try:
            replies.do_reply(Ctx.from_request(request), conv, data["text"], in_reply_to=in_reply_to)
        except ValidationError as exc:
            for msg in exc.messages:
                form.add_error("text", msg)
        else:
            presence.touch(request.user, conv, composing=False)
            messages.success(request, _("Your answer is on its way."))
            return _back(brand, conv)
    ctx = _conversation_context(request, brand, conv, reply_form=form)
    return render(request, "inbox/conversation.html", ctx, status=200)


def _interaction(request, brand, interaction_id, permission=roles.REPLY) -> Interaction:
    return get_object_or_404(Interaction.objects.for_user(request.user, permission).select_related("conversation"),
                             pk=interaction_id, brand=brand)


@brand_view(roles.REPLY)
@require_POST
def interaction_hide(request, brand, interaction_id):
    interaction = _interaction(request, brand, interaction_id)
    hidden = request.POST.get("hidden", "1") != "0"
    try:
        services.do_hide(Ctx.from_request(request), interaction, hidden)
    except (ValidationError, PermissionDenied) as exc:
        _errors_to_messages(request, exc)
    else:
        messages.success(request, _("The message will be hidden on the network.") if hidden
                         else _("The message will be shown again on the network."))
    return _back(brand, interaction.conversation)


@brand_view(roles.REPLY)
@require_POST
def interaction_relabel(request, brand, interaction_id):
    interaction = _interaction(request, brand, interaction_id)
    form = RelabelForm(request.POST)
    try:
        if not form.is_valid():
            raise ValidationError(_("Choose one of the listed values."))
        services.do_relabel(Ctx.from_request(request), interaction, form.cleaned_data["field"],
                            form.cleaned_data["value"])
    except (ValidationError, PermissionDenied) as exc:
        _errors_to_messages(request, exc)
    else:
        messages.success(request, _("Thanks: the brand's triage learns from this correction."))
    return _back(brand, interaction.conversation)


@brand_view(roles.REPLY)
@require_POST
def reply_retry(request, brand, reply_id):
    reply = get_object_or_404(OutgoingReply.objects.for_user(request.user, roles.REPLY)
                              .select_related("conversation"), pk=reply_id, brand=brand)
    from . import replies

    try:
        replies.do_retry_reply(Ctx.from_request(request), reply)
    except (ValidationError, PermissionDenied) as exc:
        _errors_to_messages(request, exc)
    else:
        messages.success(request, _("Sending again."))
    return _back(brand, reply.conversation)


@brand_view()
def author_detail(request, brand, author_id):
    author = get_object_or_404(Author.objects.for_user(request.user), pk=author_id, brand=brand)
    history = author_history(brand, author)
    now = timezone.now()
    pks = list(Conversation.objects.filter(brand=brand, author_id__in=history["ids"])
               .order_by("-last_message_at", "-pk").values_list("pk", flat=True)[:AUTHOR_CONVERSATIONS])
    row_html = _RowHTML(now)
    rows = [row_html(r) for r in listing.row_values(pks, excerpt=300)]
    return render(request, "inbox/author.html", {
        "brand": brand, "author": author, "author_name": clean(author.display_name, NAME_CHARS),
        "author_handle": clean(author.handle, NAME_CHARS), "history": history, "rows": rows,
        "section_key": "inbox",
    })
