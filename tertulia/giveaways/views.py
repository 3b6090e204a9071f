"""Giveaway pages: the CM's pages under /brands/<id>/giveaways/ and the public results and
verification pages under /g/<public_id>/. Thin: every write is a service call; every text that
came from a network (handles, comments) or a user (titles, prizes) is escaped and shortened."""

from __future__ import annotations

import json

from django.conf import settings
from django.core.cache import cache
from django.contrib import messages
from django.core.exceptions import PermissionDenied, RequestDataTooBig, ValidationError
from django.core.paginator import Paginator
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt, csrf_protect
from django.views.decorators.http import require_POST

from tertulia.core import roles
from tertulia.core.scoping import permissions_in
from tertulia.core.services import Ctx
from tertulia.core.views import _apply_errors, _errors_to_messages, brand_view
from tertulia.inbox.views import clean
from tertulia.networks.models import Network

from . import draw, eligibility, services
from .forms import GiveawayForm, OverrideForm, ProofForm
from .models import Contest, Entry

NETWORKS = dict(Network.choices)
PAGE_SIZE = 50
TEXT_CHARS = 280
FILTERS = ("all", "in", "out")
# A pasted proof may claim any number of winners; recomputing is linear in the entries per
# pick, so the public page checks at most this many picks (the CLI has no such limit).
MAX_PUBLIC_PICKS = 2 * services.MAX_WINNERS
MAX_PUBLIC_WORK = 20_000_000  # entries × picks: a few seconds at most
MAX_PROOF_REQUEST = 6 * 1024 * 1024  # the 5 MB proof, its form fields and the multipart framing


def _shown(contest: Contest) -> Contest:
    """The title and prize as the pages show them: shortened, without invisible characters."""
    contest.title_shown = clean(contest.title, 200)
    contest.prize_shown = clean(contest.prize, 2000)
    return contest


def _contest(request, brand, giveaway_id, permission=roles.VIEW) -> Contest:
    return _shown(get_object_or_404(services.contests_for(request.user, brand, permission).select_related("brand"),
                                    pk=giveaway_id))


def _can_write(request, brand) -> bool:
    return roles.COMPOSE in permissions_in(request.user, brand)


def _public_url(contest: Contest) -> str:
    return settings.SITE_URL + reverse("giveaway_public", args=[contest.public_id])


def _rules_in_words(contest: Contest) -> list[str]:
    """The rules as sentences, for the CM page and the public page."""
    rules = [_("Comment on one of the giveaway's posts while entries are open.")]
    if contest.required_terms:
        rules.append(_("The comment must include: %(terms)s.") % {
            "terms": ", ".join(clean(t, 100) for t in contest.required_terms)})
    if contest.min_tags:
        rules.append(_("Tag at least %(n)s friends (@name).") % {"n": contest.min_tags})
    if contest.min_account_age_days:
        rules.append(_("The account must be at least %(n)s days old, where the network tells when it was created.")
                     % {"n": contest.min_account_age_days})
    if contest.mode == Contest.Mode.WEIGHTED:
        parts = []
        if contest.bonus_per_tag:
            parts.append(_("%(n)s more per extra friend tagged") % {"n": contest.bonus_per_tag})
        if contest.bonus_per_post:
            parts.append(_("%(n)s more per further giveaway post commented") % {"n": contest.bonus_per_post})
        rules.append(_("Entries are weighted: one per person, %(bonus)s, up to %(max)s in all.") % {
            "bonus": "; ".join(parts) if parts else _("no extra entries configured"), "max": contest.max_weight})
    else:
        rules.append(_("One entry per person, whatever the number of comments."))
    rules.append(_("The brand's own accounts cannot take part."))
    if contest.excluded_handles:
        rules.append(_("Excluded accounts: %(n)s.") % {"n": len(contest.excluded_handles)})
    rules.append(_("Winners: %(winners)s; substitutes: %(subs)s, drawn the same way, in order.") % {
        "winners": contest.winners, "subs": contest.substitutes})
    return rules


def _result_rows(contest: Contest, with_messages: bool = False) -> dict:
    conversations = services.winner_conversations(contest) if with_messages else {}
    out = {}
    for key in ("winners", "substitutes"):
        rows = []
        for i, row in enumerate(contest.result.get(key, []), start=1):
            item = {"rank": i, "network": NETWORKS.get(row[0], clean(row[0], 30)), "handle": clean(row[1], 100),
                    "comment_id": clean(row[2], 100),
                    "weight": row[3]}
            if with_messages:
                item["message"] = services.winner_message(contest, row, substitute=i if key == "substitutes" else 0)
                item["conversation"] = conversations.get(row[2])
            rows.append(item)
        out[key] = rows
    return out


# --- The CM's pages ---------------------------------------------------------------------------

@brand_view()
def giveaway_list(request, brand):
    now = timezone.now()
    rows = []
    for contest in services.contests_for(request.user, brand).order_by("-starts_at", "-pk")[:200]:
        rows.append({"contest": _shown(contest), "status": contest.status(now),
                     "status_label": contest.status_display(now),
                     "taking_part": len(services.frozen_rows(contest)) if contest.drawn_at is None
                     else len(json.loads(contest.frozen_entries or "[]")),
                     "winners": [clean(r[1], 60) for r in contest.result.get("winners", [])]})
    return render(request, "giveaways/list.html", {
        "rows": rows, "can_write": _can_write(request, brand), "brand_tz": brand.tzinfo,
        "section_key": "giveaways",
    })


@brand_view(roles.COMPOSE)
def giveaway_edit(request, brand, giveaway_id=None):
    contest = _contest(request, brand, giveaway_id, roles.COMPOSE) if giveaway_id is not None else None
    if contest is not None and contest.drawn_at is not None:
        messages.error(request, _("This giveaway has been drawn: it can no longer change."))
        return redirect("giveaway_detail", brand.pk, contest.pk)
    initial = GiveawayForm.initial_for(contest) if contest else {}
    form = GiveawayForm(request.POST or None, brand=brand, contest=contest, initial=initial)
    if request.method == "POST" and form.is_valid():
        ctx = Ctx.from_request(request)
        try:
            if contest is None:
                contest = services.do_create_contest(ctx, brand, posts=form.cleaned_data["posts"], **form.values())
                messages.success(request, _("Giveaway created. Publish its commitment before entries close."))
            else:
                services.do_update_contest(ctx, contest, posts=form.cleaned_data["posts"], **form.values())
                messages.success(request, _("Giveaway saved."))
        except ValidationError as exc:
            _apply_errors(form, exc)
        else:
            return redirect("giveaway_detail", brand.pk, contest.pk)
    return render(request, "giveaways/form.html", {
        "form": form, "contest": contest, "section_key": "giveaways", "zone": brand.timezone,
    })


@brand_view()
def giveaway_detail(request, brand, giveaway_id):
    contest = _contest(request, brand, giveaway_id)
    can_write = _can_write(request, brand)
    show = request.GET.get("show", "all")
    show = show if show in FILTERS else "all"
    entries = contest.entries.select_related("override_by", "post__account").order_by("commented_at", "pk")
    if show == "all":
        page = Paginator(entries, PAGE_SIZE).get_page(request.GET.get("page"))
        chosen = list(page.object_list)
    else:  # the verdict depends on the override, so pick the pks first; pages hold 50 of the kind
        wanted = [pk for pk, rejection, override in entries.values_list("pk", "rejection", "override")
                  if Entry(rejection=rejection, override=override).counts == (show == "in")]
        page = Paginator(wanted, PAGE_SIZE).get_page(request.GET.get("page"))
        by_pk = {e.pk: e for e in entries.filter(pk__in=list(page.object_list))}
        chosen = [by_pk[pk] for pk in page.object_list]
    rows = [_entry_row(contest, e) for e in chosen]
    summary = services.summary(contest)
    # An entry the rules accept but a CM left out is counted under the code "".
    summary_rows = [{"label": eligibility.REASONS.get(code, code) if code else _("Left out by a team member"),
                     "count": n}
                    for code, n in sorted(summary["rejected"].items(), key=lambda kv: -kv[1])]
    drawn = contest.drawn_at is not None
    return render(request, "giveaways/detail.html", {
        "contest": contest, "status": contest.status(), "status_label": contest.status_display(),
        "can_write": can_write, "brand_tz": brand.tzinfo, "zone": brand.timezone,
        "rules": _rules_in_words(contest), "posts": contest.posts.select_related("account", "target__post"),
        "rows": rows, "page": page, "show": show, "summary": summary, "summary_rows": summary_rows,
        "public_url": _public_url(contest),
        "announce_line": _("Draw verifiable: commitment %(commitment)s, check at %(url)s") % {
            "commitment": contest.commitment, "url": _public_url(contest)} if contest.committed_at else "",
        "confirm_draw": request.GET.get("confirm") == "draw" and can_write and not drawn,
        "result": _result_rows(contest, with_messages=True) if drawn else None,
        "runs": contest.runs.select_related("user"),
        "effect": services.effect(contest),
        "override_form": OverrideForm(), "fetched": request.session.pop(f"giveaway_fetch_{contest.pk}", None),
        "section_key": "giveaways",
    })


def _entry_row(contest: Contest, e: Entry) -> dict:
    return {"entry": e, "text": clean(e.text, TEXT_CHARS), "handle": clean(e.handle, 100),
            "verdict": eligibility.explain(e.rejection, e.detail),
            "age_unknown": bool(e.detail.get("age_unknown")) and bool(contest.min_account_age_days),
            "override_by": clean(e.override_by.get_full_name() or e.override_by.username, 100) if e.override_by else "",
            "override_reason": clean(e.override_reason, 500)}


def _action(request, brand, giveaway_id, act, success):
    contest = _contest(request, brand, giveaway_id, roles.COMPOSE)
    try:
        act(Ctx.from_request(request), contest)
    except (ValidationError, PermissionDenied) as exc:
        _errors_to_messages(request, exc)
    else:
        if success:
            messages.success(request, success)
    return redirect("giveaway_detail", brand.pk, contest.pk)


@brand_view(roles.COMPOSE)
@require_POST
def giveaway_delete(request, brand, giveaway_id):
    contest = _contest(request, brand, giveaway_id, roles.COMPOSE)
    try:
        services.do_delete_contest(Ctx.from_request(request), contest)
    except ValidationError as exc:
        _errors_to_messages(request, exc)
        return redirect("giveaway_detail", brand.pk, contest.pk)
    messages.success(request, _("Giveaway deleted."))
    return redirect("giveaways", brand.pk)


@brand_view(roles.COMPOSE)
@require_POST
def giveaway_commit(request, brand, giveaway_id):
    return _action(request, brand, giveaway_id, services.do_publish_commitment,
                   _("Commitment published: copy the line below into the giveaway's announcement."))


@brand_view(roles.COMPOSE)
@require_POST
def giveaway_close(request, brand, giveaway_id):
    return _action(request, brand, giveaway_id, services.do_close_entries, _("Entries are closed."))


@brand_view(roles.COMPOSE)
@require_POST
def giveaway_fetch(request, brand, giveaway_id):
    def fetch(ctx, contest):
        result = services.do_fetch_now(ctx, contest)
        polls = result.get("polls", {})
        request.session[f"giveaway_fetch_{contest.pk}"] = {
            "new": result.get("new", 0), "entries": result.get("entries", 0),
            "polled": sum(1 for s in polls.values() if s not in ("skipped",)),
            "skipped": sum(1 for s in polls.values() if s == "skipped"),
        }
    return _action(request, brand, giveaway_id, fetch, None)


@brand_view(roles.COMPOSE)
@require_POST
def giveaway_draw(request, brand, giveaway_id):
    contest = _contest(request, brand, giveaway_id, roles.COMPOSE)
    if request.POST.get("confirm") != "yes" and contest.drawn_at is None:
        messages.error(request, _("Confirm the draw: it happens once and cannot be undone."))
        return redirect(reverse("giveaway_detail", args=[brand.pk, contest.pk]) + "?confirm=draw#draw")
    return _action(request, brand, giveaway_id, services.do_draw,
                   _("Drawn. The seed is public now: anyone can check the result."))


@brand_view(roles.COMPOSE)
@require_POST
def giveaway_announce(request, brand, giveaway_id):
    contest = _contest(request, brand, giveaway_id, roles.COMPOSE)
    try:
        post = services.do_create_announcement(Ctx.from_request(request), contest, _public_url(contest))
    except (ValidationError, PermissionDenied) as exc:
        _errors_to_messages(request, exc)
        return redirect("giveaway_detail", brand.pk, contest.pk)
    messages.success(request, _("Announcement draft created: review it and schedule it."))
    return redirect("post_edit", brand.pk, post.pk)


@brand_view(roles.COMPOSE)
@require_POST
def giveaway_entry_override(request, brand, giveaway_id, giveaway_entry_id):
    contest = _contest(request, brand, giveaway_id, roles.COMPOSE)
    entry = get_object_or_404(Entry.objects.for_user(request.user, roles.COMPOSE).filter(brand=brand, contest=contest),
                              pk=giveaway_entry_id)
    form = OverrideForm(request.POST)
    if not form.is_valid():
        for errors in form.errors.values():
            for error in errors:
                messages.error(request, error)
    else:
        try:
            services.do_override(Ctx.from_request(request), entry, form.cleaned_data["decision"],
                                 form.cleaned_data["reason"])
        except (ValidationError, PermissionDenied) as exc:
            _errors_to_messages(request, exc)
        else:
            messages.success(request, _("Entry by %(handle)s updated.") % {"handle": clean(entry.handle, 100)})
    back = reverse("giveaway_detail", args=[brand.pk, contest.pk])
    show = request.POST.get("show", "")
    page = request.POST.get("page", "")
    query = "&".join(f"{k}={v}" for k, v in (("show", show), ("page", page))
                     if v and (v in FILTERS if k == "show" else v.isdigit()))
    return redirect(f"{back}?{query}#entry-{entry.pk}" if query else f"{back}#entry-{entry.pk}")


def _attachment(body: str, content_type: str, filename: str) -> HttpResponse:
    response = HttpResponse(body, content_type=content_type)
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = "no-store"
    return response


@brand_view()
def giveaway_export_csv(request, brand, giveaway_id):
    contest = _contest(request, brand, giveaway_id)
    return _attachment(services.entries_csv(contest), "text/csv; charset=utf-8", f"giveaway-{contest.pk}-entries.csv")


@brand_view()
def giveaway_export_json(request, brand, giveaway_id):
    contest = _contest(request, brand, giveaway_id)
    return _attachment(services.proof_json(contest), "application/json; charset=utf-8",
                       f"giveaway-{contest.pk}-proof.json")


# --- Public pages -----------------------------------------------------------------------------

def _public(request, public_id) -> Contest:
    contest = services.public_contest(public_id)
    if contest is None:
        raise Http404
    _shown(contest)
    # The visitor's language if their browser or a cookie says one; else the brand's.
    if not request.COOKIES.get(settings.LANGUAGE_COOKIE_NAME) and not request.META.get("HTTP_ACCEPT_LANGUAGE"):
        translation.activate(contest.brand.language)
        request.LANGUAGE_CODE = translation.get_language()
    return contest


def _public_context(contest: Contest) -> dict:
    drawn = contest.drawn_at is not None
    return {"contest": contest, "brand": contest.brand, "brand_tz": contest.brand.tzinfo,
            "zone": contest.brand.timezone, "drawn": drawn, "status_label": contest.status_display(),
            "rules": _rules_in_words(contest), "result": _result_rows(contest) if drawn else None,
            "entry_count": len(json.loads(contest.frozen_entries or "[]")) if drawn else None,
            "algorithm": draw.ALGORITHM, "verify_command": "tertulia verify-draw proof.json"}


def giveaway_public(request, public_id):
    contest = _public(request, public_id)
    response = render(request, "giveaways/public.html", _public_context(contest))
    response["Cache-Control"] = "no-cache"
    return response


def giveaway_public_proof(request, public_id):
    contest = _public(request, public_id)
    if contest.drawn_at is None:
        raise Http404
    return _attachment(services.proof_json(contest), "application/json; charset=utf-8", "proof.json")


def giveaway_public_entries(request, public_id):
    contest = _public(request, public_id)
    if contest.drawn_at is None:
        raise Http404
    return _attachment(services.entries_csv(contest), "text/csv; charset=utf-8", "entries.csv")


def _check_rows(verdict) -> list[dict]:
    labels = {
        "published": _("The proof is this giveaway's: its commitment (and, once drawn, its entry list hash and "
                       "number of winners) are the ones published here"),
        "commitment": _("The seed matches the proof's commitment"),
        "entries_hash": _("The entry list matches its published hash"),
        "winners": _("The winners are the ones the algorithm picks"),
        "substitutes": _("The substitutes are the ones the algorithm picks"),
    }
    return [{"name": name, "label": labels.get(name, name), "passed": passed} for name, passed in verdict.checks]


def _verify(data, contest: Contest) -> tuple[list[dict] | None, bool, str]:
    """(checks, all passed, error) for a proof already read as JSON, checked in itself and
    against what ``contest`` published (a proof made up from scratch is consistent in itself)."""
    if isinstance(data, dict):
        counts = [data.get("winner_count"), data.get("substitute_count")]
        if all(isinstance(n, int) and not isinstance(n, bool) for n in counts) and sum(counts) > MAX_PUBLIC_PICKS:
            return None, False, _("This page checks draws of up to %(n)s winners and substitutes; use the "
                                  "tertulia verify-draw command for larger ones.") % {"n": MAX_PUBLIC_PICKS}
        entries = data.get("entries")
        if isinstance(entries, list) and all(isinstance(n, int) for n in counts) \
                and len(entries) * max(1, sum(counts)) > MAX_PUBLIC_WORK:
            return None, False, _("This proof is too large to check on this page; use the tertulia verify-draw "
                                  "command.")
    try:
        verdict = draw.verify(data)
    except draw.ProofError as exc:
        return None, False, _("The proof cannot be checked: %(reason)s") % {"reason": clean(exc.translated(_), 300)}
    except (TypeError, ValueError, OverflowError):  # e.g. a commitment with non-ASCII characters
        return None, False, _("The proof cannot be checked: %(reason)s") % {
            "reason": _("a field has a value of the wrong kind")}
    published = str(data.get("commitment", "")).lower() == contest.commitment
    if contest.drawn_at is not None:
        published = published and str(data.get("entries_hash", "")).lower() == contest.entries_hash and (
            data.get("winner_count"), data.get("substitute_count")) == (contest.winners, contest.substitutes)
    verdict.checks.insert(0, ("published", published))
    verdict.ok = verdict.ok and published
    return _check_rows(verdict), verdict.ok, ""


def _too_large(request) -> bool:
    """Refused before the body is read: Django spools uploaded files to disk whatever their size."""
    try:
        return int(request.META.get("CONTENT_LENGTH") or 0) > MAX_PROOF_REQUEST
    except ValueError:
        return True


@csrf_exempt  # checked below by _verify_page, once the request is known to be small enough
def giveaway_verify(request, public_id):
    """The CSRF middleware would read (and spool to disk) the whole body of a POST before any view
    runs, so the size is checked first, from the Content-Length, and only then the token."""
    if request.method == "POST" and _too_large(request):
        contest = _public(request, public_id)
        context = _public_context(contest)
        context.update({"own": None, "form": ProofForm(),
                        "pasted": {"error": _("The proof is too large (5 MB at most).")}})
        return render(request, "giveaways/verify.html", context, status=413)
    return _verify_page(request, public_id)


@csrf_protect
def _verify_page(request, public_id):
    contest = _public(request, public_id)
    context = _public_context(contest)
    own = None
    if contest.drawn_at is not None:
        # The result never changes after the draw: checked once, then read from the cache.
        key = f"giveaway-verified:{contest.pk}:{contest.entries_hash}:{translation.get_language()}"
        own = cache.get(key)
        if own is None:
            checks, ok, error = _verify(services.proof(contest), contest)
            own = {"checks": checks, "ok": ok, "error": error}
            cache.set(key, own, 3600)
    pasted = None
    form = ProofForm()
    if request.method == "POST":
        try:
            form = ProofForm(request.POST, request.FILES)
            valid = form.is_valid()
        except RequestDataTooBig:
            form, valid = ProofForm(), False
            pasted = {"error": _("The proof is too large (5 MB at most).")}
        if valid:
            try:
                data = json.loads(form.cleaned_data["text"])
            except (ValueError, RecursionError):
                pasted = {"error": _("That is not valid JSON: paste the whole proof.json file.")}
            else:
                checks, ok, error = _verify(data, contest)
                pasted = {"checks": checks, "ok": ok, "error": error}
    context.update({"own": own, "pasted": pasted, "form": form})
    response = render(request, "giveaways/verify.html", context)
    response["Cache-Control"] = "no-store"
    return response
