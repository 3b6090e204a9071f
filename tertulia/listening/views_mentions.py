"""Listening pages under /brands/<id>/listening/: the mentions feed (the section's page), the
queries (with a live "check the query"), and the sources with their polling state.

Thin: every write is a service call (``services``, ``sources.poll_now``, ``mentions.do_to_inbox``).
Reading needs VIEW; queries and sources need COMPOSE; sending a mention to the inbox needs REPLY.
"""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.db.models import Prefetch
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from tertulia.core import notes, roles
from tertulia.core.scoping import permissions_in
from tertulia.core.services import Ctx
from tertulia.core.views import _apply_errors, _errors_to_messages, brand_view
from tertulia.inbox.models import Interaction
from tertulia.inbox.views import clean

from . import services, sources
from .mentions import SENTIMENTS, can_go_to_inbox, do_to_inbox, filtered_mentions, networks, safe_url
from .models import Competitor, ListeningQuery, Mention, Source

PAGE_SIZE = 50
TEXT_CHARS = 600


def _perms(request, brand) -> set[str]:
    return set(permissions_in(request.user, brand))


def _query(request, brand, query_id, permission=roles.COMPOSE) -> ListeningQuery:
    return get_object_or_404(ListeningQuery.objects.for_user(request.user, permission), pk=query_id, brand=brand)


def _source(request, brand, source_id, permission=roles.COMPOSE) -> Source:
    return get_object_or_404(Source.objects.for_user(request.user, permission).select_related("brand", "account"),
                             pk=source_id, brand=brand)


# --- Mentions ------------------------------------------------------------------------------


@brand_view()
def mention_list(request, brand):
    """The section's page: what is said about the brand, newest first."""
    queries = list(ListeningQuery.objects.for_user(request.user).filter(brand=brand))
    qs = Mention.objects.for_user(request.user).filter(brand=brand)
    qs, f = filtered_mentions(qs, brand, request.GET)
    qs = qs.select_related("source").prefetch_related(
        Prefetch("queries", queryset=ListeningQuery.objects.filter(brand=brand).order_by("name")))
    page = Paginator(qs, PAGE_SIZE).get_page(request.GET.get("page"))
    rows = [{"mention": m, "title": clean(m.title, 200), "text": clean(m.text, TEXT_CHARS), "url": safe_url(m.url),
             "author": clean(m.author_name or m.author_handle, 120), "handle": clean(m.author_handle, 120),
             "can_inbox": can_go_to_inbox(m), "queries": list(m.queries.all()),
             "sentiment": dict(SENTIMENTS).get(m.sentiment, ""),
             "intent": "" if m.intent == "other" else dict(Interaction.Intent.choices).get(m.intent, ""),
             "network": dict(networks()).get(m.network, m.network)} for m in page.object_list]
    perms = _perms(request, brand)
    return render(request, "listening/mentions.html", {
        "tab": "listening", "subtab": "mentions", "rows": rows, "page": page, "filters": f, "queries": queries,
        "sources": Source.objects.for_user(request.user).filter(brand=brand), "sentiments": SENTIMENTS,
        "networks": networks(), "can_reply": roles.REPLY in perms, "can_edit": roles.COMPOSE in perms,
    })


@brand_view(roles.REPLY)
@require_POST
def mention_to_inbox(request, brand, mention_id):
    mention = get_object_or_404(Mention.objects.for_user(request.user, roles.REPLY).select_related("brand"),
                                pk=mention_id, brand=brand)
    try:
        conversation = do_to_inbox(Ctx.from_request(request), mention)
    except (ValidationError, PermissionDenied) as exc:
        _errors_to_messages(request, exc)
        return redirect("section_listening", brand.pk)
    messages.success(request, _("The mention is now a conversation in the inbox."))
    return redirect("inbox_conversation", brand.pk, conversation.pk)


# --- Queries -------------------------------------------------------------------------------


class QueryForm(forms.Form):
    name = forms.CharField(label=gettext_lazy("Name"), max_length=120)
    kind = forms.ChoiceField(label=gettext_lazy("Kind"), choices=ListeningQuery.Kind.choices)
    text = forms.CharField(label=gettext_lazy("Query"), max_length=services.MAX_QUERY_CHARS,
                           widget=forms.Textarea(attrs={"rows": 4, "spellcheck": "false"}),
                           help_text=gettext_lazy('For example: "café lento" OR #cafelento NOT lang:en'))
    competitor = forms.ModelChoiceField(label=gettext_lazy("Competitor"), queryset=Competitor.objects.none(),
                                        required=False,
                                        help_text=gettext_lazy("Only for competitor queries: whose share of voice "
                                                               "this query measures."))
    enabled = forms.BooleanField(label=gettext_lazy("Enabled"), required=False, initial=True)

    def __init__(self, *args, brand, **kw):
        super().__init__(*args, **kw)
        self.fields["competitor"].queryset = Competitor.objects.filter(brand=brand).order_by("name")


@brand_view()
def query_list(request, brand):
    rows = (ListeningQuery.objects.for_user(request.user).filter(brand=brand).select_related("competitor"))
    return render(request, "listening/queries.html", {
        "tab": "listening", "subtab": "queries", "queries": rows,
        "can_edit": roles.COMPOSE in _perms(request, brand),
    })


@brand_view(roles.COMPOSE)
def query_edit(request, brand, listening_query_id=None):
    query = _query(request, brand, listening_query_id) if listening_query_id is not None else None
    initial = ({"name": query.name, "kind": query.kind, "text": query.text, "competitor": query.competitor_id,
                "enabled": query.enabled} if query else {"enabled": True})
    form = QueryForm(request.POST or None, initial=initial, brand=brand)
    if request.method == "POST" and form.is_valid():
        try:
            query = services.do_save_query(Ctx.from_request(request), brand, query, **form.cleaned_data)
        except ValidationError as exc:
            _apply_errors(form, exc)
        else:
            messages.success(request, _("Query saved. It applies to the mentions found from now on."))
            return redirect("listening_queries", brand.pk)
    return render(request, "listening/query_form.html", {
        "tab": "listening", "subtab": "queries", "form": form, "query": query,
    })


@brand_view(roles.COMPOSE)
@require_POST
def query_delete(request, brand, listening_query_id):
    query = _query(request, brand, listening_query_id)
    services.do_delete_query(Ctx.from_request(request), query)
    messages.success(request, _("Query deleted."))
    return redirect("listening_queries", brand.pk)


@brand_view(roles.COMPOSE)
@require_POST
def query_check(request, brand):
    """htmx: the parse result of the form's query, or the error with its column."""
    result = services.parse_query(request.POST.get("text", "")[: services.MAX_QUERY_CHARS + 1])
    return render(request, "listening/_query_check.html", {"result": result})


# --- Sources -------------------------------------------------------------------------------


class SourceForm(forms.Form):
    kind = forms.ChoiceField(label=gettext_lazy("Kind"), choices=Source.Kind.choices)
    name = forms.CharField(label=gettext_lazy("Name"), max_length=120, required=False)
    account = forms.TypedChoiceField(label=gettext_lazy("Search with the account"), required=False, coerce=int,
                                     empty_value=None,
                                     help_text=gettext_lazy("Network search: Mastodon (hashtags and, where the "
                                                            "server allows it, words), Bluesky and X."))
    term = forms.CharField(label=gettext_lazy("Search for"), max_length=512, required=False,
                           help_text=gettext_lazy("Network search: a #hashtag or a few words, as the network "
                                                  "searches them."))
    url = forms.CharField(label=gettext_lazy("Feed address"), max_length=1000, required=False,
                          help_text=gettext_lazy("RSS or Atom: the address of a news site's or a blog's feed."))
    minutes = forms.IntegerField(label=gettext_lazy("Check every (minutes)"), min_value=5, max_value=1440,
                                 initial=15)
    enabled = forms.BooleanField(label=gettext_lazy("Enabled"), required=False, initial=True)

    def __init__(self, *args, accounts, **kw):
        super().__init__(*args, **kw)
        self.accounts = {a.pk: a for a in accounts}
        self.fields["account"].choices = [("", "—")] + [(a.pk, f"{a.get_network_display()} · {a.handle}")
                                                        for a in accounts]


@brand_view()
def source_list(request, brand):
    rows = []
    for source in Source.objects.for_user(request.user).filter(brand=brand).select_related("account"):
        rows.append({"source": source, "error": notes.render(source.last_error) if source.last_error else "",
                     "what": source.term or source.url or ""})
    return render(request, "listening/sources.html", {
        "tab": "listening", "subtab": "sources", "rows": rows, "can_edit": roles.COMPOSE in _perms(request, brand),
    })


@brand_view(roles.COMPOSE)
def source_edit(request, brand, source_id=None):
    source = _source(request, brand, source_id) if source_id is not None else None
    accounts = services.searchable_accounts(brand)
    if source is not None and source.account is not None and source.account not in accounts:
        accounts.append(source.account)
    initial = ({"kind": source.kind, "name": source.name, "account": source.account_id, "term": source.term,
                "url": source.url, "minutes": source.interval_seconds // 60, "enabled": source.enabled}
               if source else {"enabled": True, "minutes": 15, "kind": request.GET.get("kind", "")})
    form = SourceForm(request.POST or None, initial=initial, accounts=accounts)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            source = services.do_save_source(
                Ctx.from_request(request), brand, source, kind=data["kind"], name=data["name"],
                account=form.accounts.get(data["account"]) if data["account"] else None, term=data["term"],
                url=data["url"], enabled=data["enabled"], interval_seconds=data["minutes"] * 60)
        except ValidationError as exc:
            if hasattr(exc, "error_dict") and "interval_seconds" in exc.error_dict:
                exc = ValidationError({("minutes" if k == "interval_seconds" else k): v
                                       for k, v in exc.error_dict.items()})
            _apply_errors(form, exc)
        else:
            messages.success(request, _("Source saved."))
            return redirect("listening_sources", brand.pk)
    return render(request, "listening/source_form.html", {
        "tab": "listening", "subtab": "sources", "form": form, "source": source,
    })


@brand_view(roles.COMPOSE)
@require_POST
def source_delete(request, brand, source_id):
    source = _source(request, brand, source_id)
    services.do_delete_source(Ctx.from_request(request), source)
    messages.success(request, _("Source deleted. The mentions it found stay."))
    return redirect("listening_sources", brand.pk)


@brand_view(roles.COMPOSE)
@require_POST
def source_poll(request, brand, source_id):
    source = _source(request, brand, source_id)
    try:
        outcome = sources.poll_now(Ctx.from_request(request), source)
    except ValidationError as exc:
        _errors_to_messages(request, exc)
        return redirect("listening_sources", brand.pk)
    if outcome.status == "ok":
        messages.success(request, _("Checked: %(read)s items read, %(created)s new mentions.")
                         % {"read": outcome.read, "created": outcome.created})
    elif outcome.status == "skipped":
        messages.info(request, _("This source is being checked right now; its result will show here shortly."))
    else:
        source.refresh_from_db()
        messages.error(request, notes.render(source.last_error) or _("The check failed."))
    return redirect("listening_sources", brand.pk)
