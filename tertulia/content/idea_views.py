"""The idea board (kanban: idea → writing → ready) with its feeds, and the brand dictionary of
the spell checker.

Thin views: the brand comes from ``brand_view`` (404 for strangers before any form is read),
rows from ``for_user(...).filter(brand=brand)``, and every write goes through a ``do_*`` service.
Drag and drop (ideas.js) posts to the same move URL as the keyboard buttons, which are plain
forms that work without JavaScript.
"""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from tertulia.core import roles
from tertulia.core.scoping import permissions_in
from tertulia.core.services import Ctx
from tertulia.core.views import _apply_errors, _errors_to_messages, brand_view

from . import feeds as feed_service
from . import ideas as idea_service
from . import spelling
from .models import BrandWord, Feed, Idea


class IdeaForm(forms.Form):
    title = forms.CharField(label=gettext_lazy("Title"), max_length=idea_service.TITLE_MAX)
    notes = forms.CharField(label=gettext_lazy("Notes"), required=False, max_length=idea_service.NOTES_MAX,
                            widget=forms.Textarea(attrs={"rows": 3}))
    pillar = forms.ModelChoiceField(label=gettext_lazy("Content pillar"), required=False, queryset=None,
                                    empty_label=gettext_lazy("No pillar"))
    source_url = forms.CharField(label=gettext_lazy("Source address"), required=False,
                                 max_length=idea_service.URL_MAX,
                                 widget=forms.URLInput(attrs={"placeholder": "https://"}))

    def __init__(self, *args, brand, user, **kwargs):
        super().__init__(*args, **kwargs)
        from tertulia.strategy.models import ContentPillar

        self.fields["pillar"].queryset = (ContentPillar.objects.for_user(user).filter(brand=brand)
                                          .order_by("name"))


class FeedForm(forms.Form):
    url = forms.CharField(label=gettext_lazy("Feed address (RSS or Atom)"), max_length=idea_service.URL_MAX,
                          widget=forms.URLInput(attrs={"placeholder": "https://example.com/feed.xml"}))


class WordForm(forms.Form):
    word = forms.CharField(label=gettext_lazy("Word"), max_length=spelling.BRAND_WORD_MAX)


def _can_compose(request, brand) -> bool:
    return roles.COMPOSE in permissions_in(request.user, brand)


def _idea(request, brand, idea_id, permission=roles.VIEW) -> Idea:
    return get_object_or_404(Idea.objects.for_user(request.user, permission).select_related("brand"),
                             pk=idea_id, brand=brand)


def _feed(request, brand, feed_id, permission=roles.COMPOSE) -> Feed:
    return get_object_or_404(Feed.objects.for_user(request.user, permission).select_related("brand"),
                             pk=feed_id, brand=brand)


def _wants_json(request) -> bool:
    return "application/json" in request.headers.get("Accept", "") or request.headers.get("HX-Request") == "true"


# --- the board ----------------------------------------------------------------------------------


@brand_view()
def idea_board(request, brand):
    can_edit = _can_compose(request, brand)
    form = IdeaForm(brand=brand, user=request.user)
    if request.method == "POST":
        if not can_edit:
            raise PermissionDenied
        form = IdeaForm(request.POST, brand=brand, user=request.user)
        if form.is_valid():
            try:
                idea = idea_service.do_create_idea(Ctx.from_request(request), brand, **form.cleaned_data)
            except ValidationError as exc:
                _apply_errors(form, exc)
            else:
                messages.success(request, _("Idea added."))
                return redirect(reverse("idea_board", args=[brand.pk]) + f"#idea-{idea.pk}")
    ideas = (Idea.objects.for_user(request.user).filter(brand=brand)
             .select_related("pillar", "feed").order_by("status", "position", "-id"))
    feeds = Feed.objects.for_user(request.user).filter(brand=brand).order_by("title", "url")
    return render(request, "content/ideas/board.html", {
        "columns": idea_service.board(brand, ideas), "form": form, "feed_form": FeedForm(),
        "feeds": [{"feed": f, "error": feed_service.error_message(f.last_error)} for f in feeds],
        "can_edit": can_edit, "section_key": "compose", "statuses": idea_service.STATUSES,
    })


@brand_view()
def idea_edit(request, brand, idea_id):
    idea = _idea(request, brand, idea_id)
    can_edit = _can_compose(request, brand)
    initial = {"title": idea.title, "notes": idea.notes, "pillar": idea.pillar_id, "source_url": idea.source_url}
    form = IdeaForm(initial=initial, brand=brand, user=request.user)
    if request.method == "POST":
        if not can_edit:
            raise PermissionDenied
        form = IdeaForm(request.POST, brand=brand, user=request.user)
        if form.is_valid():
            try:
                idea_service.do_update_idea(Ctx.from_request(request), idea, **form.cleaned_data)
            except ValidationError as exc:
                _apply_errors(form, exc)
                idea.refresh_from_db()
            else:
                messages.success(request, _("Idea saved."))
                return redirect(reverse("idea_board", args=[brand.pk]) + f"#idea-{idea.pk}")
    return render(request, "content/ideas/edit.html", {
        "idea": idea, "form": form, "can_edit": can_edit, "section_key": "compose",
    })


@brand_view(roles.COMPOSE)
@require_POST
def idea_delete(request, brand, idea_id):
    idea = _idea(request, brand, idea_id, roles.COMPOSE)
    idea_service.do_delete_idea(Ctx.from_request(request), idea)
    messages.success(request, _("Idea deleted."))
    return redirect("idea_board", brand.pk)


_STEPS = {"left": (-1, 0), "right": (1, 0), "up": (0, -1), "down": (0, 1)}


@brand_view(roles.COMPOSE)
@require_POST
def idea_move(request, brand, idea_id):
    """Drag and drop sends ``status`` and ``position``; the keyboard buttons send ``direction``
    (left, right: to the neighbouring column, at the bottom; up, down: one place)."""
    idea = _idea(request, brand, idea_id, roles.COMPOSE)
    statuses = list(idea_service.STATUSES)
    direction = request.POST.get("direction", "")
    try:
        if direction:
            if direction not in _STEPS:
                raise ValidationError(_("Unknown direction."))
            column_step, place_step = _STEPS[direction]
            index = statuses.index(idea.status) + column_step
            if not 0 <= index < len(statuses):
                raise ValidationError(_("The card is already in the last column."))
            status = statuses[index]
            position = None if column_step else max(0, idea.position + place_step)
        else:
            status = request.POST.get("status", "")
            raw = request.POST.get("position", "")
            raw = raw.strip()
            if raw and (not raw.isdigit() or len(raw) > 6):
                raise ValidationError(_("Enter a whole number."))
            position = int(raw) if raw else None
        idea_service.do_move_idea(Ctx.from_request(request), idea, status, position)
    except ValidationError as exc:
        if _wants_json(request):
            return JsonResponse({"ok": False, "errors": exc.messages}, status=400)
        _errors_to_messages(request, exc)
    else:
        if _wants_json(request):
            return JsonResponse({"ok": True, "id": idea.pk, "status": idea.status, "position": idea.position})
    return redirect(reverse("idea_board", args=[brand.pk]) + f"#idea-{idea.pk}")


# --- feeds --------------------------------------------------------------------------------------


@brand_view(roles.COMPOSE)
@require_POST
def feed_add(request, brand):
    form = FeedForm(request.POST)
    if form.is_valid():
        try:
            feed = feed_service.do_add_feed(Ctx.from_request(request), brand, form.cleaned_data["url"])
        except ValidationError as exc:
            _errors_to_messages(request, exc)
        else:
            created = feed_service.do_fetch_feed(Ctx.from_request(request), feed)
            _fetch_message(request, feed, created, added=True)
    else:
        for errors in form.errors.values():
            for error in errors:
                messages.error(request, error)
    return redirect(reverse("idea_board", args=[brand.pk]) + "#feeds")


def _fetch_message(request, feed, created: int, added: bool = False) -> None:
    if feed.last_error:
        messages.error(request, feed_service.error_message(feed.last_error))
    elif added:
        messages.success(request, _("Feed added. %(n)s new ideas.") % {"n": created})
    else:
        messages.success(request, _("Feed fetched. %(n)s new ideas.") % {"n": created})


@brand_view(roles.COMPOSE)
@require_POST
def feed_fetch(request, brand, feed_id):
    feed = _feed(request, brand, feed_id)
    created = feed_service.do_fetch_feed(Ctx.from_request(request), feed)
    _fetch_message(request, feed, created)
    return redirect(reverse("idea_board", args=[brand.pk]) + "#feeds")


@brand_view(roles.COMPOSE)
@require_POST
def feed_delete(request, brand, feed_id):
    feed = _feed(request, brand, feed_id)
    feed_service.do_remove_feed(Ctx.from_request(request), feed)
    messages.success(request, _("Feed removed. The ideas it brought stay on the board."))
    return redirect(reverse("idea_board", args=[brand.pk]) + "#feeds")


# --- the brand dictionary -----------------------------------------------------------------------


@brand_view()
def brand_dictionary(request, brand):
    can_edit = _can_compose(request, brand)
    form = WordForm()
    if request.method == "POST":
        if not can_edit:
            raise PermissionDenied
        form = WordForm(request.POST)
        if form.is_valid():
            try:
                word, created = spelling.do_add_brand_word(Ctx.from_request(request), brand, form.cleaned_data["word"])
            except ValidationError as exc:
                _apply_errors(form, exc)
            else:
                if created:
                    messages.success(request, _("“%(word)s” added to the dictionary.") % {"word": word.word})
                else:
                    messages.info(request, _("“%(word)s” was already in the dictionary.") % {"word": word.word})
                return redirect("brand_dictionary", brand.pk)
    words = BrandWord.objects.for_user(request.user).filter(brand=brand).order_by("word")
    return render(request, "content/dictionary/list.html", {
        "words": words, "form": form, "can_edit": can_edit, "section_key": "compose",
        "hashtags": brand.required_hashtags or [], "signature": brand.signature,
    })


@brand_view(roles.COMPOSE)
@require_POST
def brand_word_delete(request, brand, word_id):
    word = get_object_or_404(BrandWord.objects.for_user(request.user, roles.COMPOSE).select_related("brand"),
                             pk=word_id, brand=brand)
    spelling.do_remove_brand_word(Ctx.from_request(request), word)
    messages.success(request, _("“%(word)s” removed from the dictionary.") % {"word": word.word})
    return redirect("brand_dictionary", brand.pk)
