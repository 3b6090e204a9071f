"""Calendar pages: the brand calendar (month, week, list), the calendar across brands, moving a
post, the weekly topic plan, key dates, the private iCal feed and CSV export/import.

Thin: the brand comes from ``brand_view`` (404 for strangers), rows through ``for_user`` and
the brand (on a brand's calendar, by that checked brand alone: see ``_rows``), and every
write through a service (``calendar``, ``planning``, ``ical``, ``csv_io``). Query parameters
are checked; a bad one is ignored with a note, never a 500.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from html import escape as _html_escape

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.db import connection
from django.http import Http404, HttpResponse, HttpResponseNotAllowed, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme, urlencode
from django.utils.safestring import mark_safe
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from tertulia.core import roles
from tertulia.core.models import Brand
from tertulia.core.scoping import brands_for, permissions_in
from tertulia.core.services import Ctx
from tertulia.core.views import _apply_errors, brand_view
from tertulia.networks.models import Network
from tertulia.strategy.models import ContentPillar

from . import calendar as cal
from . import csv_io, ical, planning
from .models import CalendarFeedToken, Campaign, KeyDate, Post, WeekTheme

LIST_PAGE = 50
CAMPAIGN_CHOICES = 200  # campaigns offered in the filter
MOVABLE = (Post.State.DRAFT, Post.State.PENDING_APPROVAL, Post.State.CHANGES_REQUESTED, Post.State.APPROVED,
           Post.State.SCHEDULED)


# --- Parameters ------------------------------------------------------------------------------

def _view_and_anchor(request, today: date) -> tuple[str, date, list[str]]:
    notes = []
    view = request.GET.get("view", "month")
    if view not in cal.VIEWS:
        notes.append(_("Unknown view; showing the month."))
        view = "month"
    anchor = today
    raw = request.GET.get("date", "")
    if raw:
        parsed = cal.parse_date(raw)
        if parsed is None or not (planning.MIN_DATE <= parsed <= planning.MAX_DATE):
            notes.append(_("That date is not valid; showing today."))
        else:
            anchor = parsed
    return view, anchor, notes


def _span(view: str, anchor: date) -> tuple[date, date, date, date]:
    """(first day, last day, previous anchor, next anchor) of the period shown."""
    if view == "week":
        start = cal.week_start(anchor)
        return start, start + timedelta(days=6), start - timedelta(days=7), start + timedelta(days=7)
    first = anchor.replace(day=1)
    prev_month = (first - timedelta(days=1)).replace(day=1)
    next_month = (first + timedelta(days=32)).replace(day=1)
    if view == "list":
        return first, next_month - timedelta(days=1), prev_month, next_month
    start, end = cal.month_range(anchor)
    return start, end, prev_month, next_month


def _query(**params) -> str:
    return "?" + urlencode({k: v for k, v in params.items() if v not in (None, "")})


def _calendar_context(request, brands, tz, *, brand=None):
    today = timezone.now().astimezone(tz).date()
    view, anchor, notes = _view_and_anchor(request, today)
    filters = cal.parse_filters(request.GET, brands)
    notes += filters.notes
    first, last, prev_anchor, next_anchor = _span(view, anchor)
    lo, hi = cal.day_bounds(first, last, tz)
    # One brand: its object is attached to the rows (_with_brand) instead of joining its row to
    # each of them (_join_brand, across brands).
    pillars = _with_brand(_join_brand(_rows(ContentPillar, request, brands, brand), brand)
                          .order_by("-target_share", "name"), brand)
    all_campaigns = list(_rows(Campaign, request, brands, brand).order_by("name")[:CAMPAIGN_CHOICES + 1])
    every_campaign = len(all_campaigns) <= CAMPAIGN_CHOICES
    all_campaigns = all_campaigns[:CAMPAIGN_CHOICES]
    if brand is not None and every_campaign:
        # All the brand's campaigns are here: the period's are picked from them.
        campaigns = _with_brand(cal.overlapping(all_campaigns, first, last,
                                                nulls_first=connection.vendor != "postgresql"), brand)
    else:
        campaigns = _with_brand(_join_brand(cal.campaigns_overlapping(request.user, brands, first, last,
                                                                      brand=brand), brand), brand)
    by_pk = {p.pk: p for p in pillars}
    posts = cal.calendar_posts(request.user, brands, lo, hi, filters, brand=brand, pillars=by_pk,
                               campaigns={c.pk: c for c in all_campaigns} if every_campaign else None)
    entries = [cal.entry(p, tz) for p in posts]
    key_dates = _with_brand(_join_brand(_rows(KeyDate, request, brands, brand)
                                        .filter(date__gte=first, date__lte=last), brand), brand)
    themes = _with_brand(_join_brand(_rows(WeekTheme, request, brands, brand)
                                     .filter(week_start__gte=cal.week_start(first), week_start__lte=last)
                                     .select_related("campaign"), brand), brand)
    for t in themes:
        if t.pillar_id is not None and t.pillar_id in by_pk:
            t.pillar = by_pk[t.pillar_id]
    kept = filters.as_query()
    ctx = {
        "view": view, "anchor": anchor, "today": today, "first": first, "last": last, "notes": notes,
        "filters": filters, "entries": entries, "key_dates": key_dates, "campaigns": campaigns, "themes": themes,
        "tz_name": tz.key,
        "q_prev": _query(view=view, date=prev_anchor.isoformat(), **kept),
        "q_next": _query(view=view, date=next_anchor.isoformat(), **kept),
        "q_today": _query(view=view, **kept),
        "q_views": [(v, label, _query(view=v, date=anchor.isoformat(), **kept))
                    for v, label in (("month", _("Month")), ("week", _("Week")), ("list", _("List")))],
        "q_export": _query(view=view, date=anchor.isoformat(), **kept),
        "networks": Network.choices, "states": Post.State.choices,
        "pillars": pillars,
        "all_campaigns": all_campaigns,
        "authors": _authors(brands if brand is None else [brand]),
        "section_key": "calendar",
    }
    if view == "list":
        ctx["page"] = Paginator(entries, LIST_PAGE).get_page(request.GET.get("page"))
    else:
        weeks = cal.grid(first, last, anchor, entries, key_dates, campaigns, today)
        by_week = {}
        for t in themes:
            by_week.setdefault(t.week_start, []).append(t)
        ctx["weeks"] = [{"days": w, "themes": by_week.get(w[0].day, [])} for w in weeks]
        ctx["weekdays"] = [d.day for d in weeks[0]] if weeks else []
    ctx["posts"] = posts
    return ctx


def _rows(model, request, brands, brand):
    """``model``'s rows of the brands shown. On a brand's page ``brand_view`` has just checked
    that the user may view ``brand`` (``get_brand``), so its rows are filtered by it directly:
    the same rows as ``for_user``, without compiling the membership subquery once per query."""
    if brand is not None:
        return model.objects.filter(brand=brand)
    return model.objects.for_user(request.user).filter(brand__in=brands)


def _join_brand(qs, brand):
    return qs.select_related("brand") if brand is None else qs


def _with_brand(qs, brand) -> list:
    rows = list(qs)
    if brand is not None:
        for row in rows:
            row.brand = brand
    return rows


_MOVE_HTML = (
    '  \n  <details class="cal-move">\n    <summary>{move}</summary>\n'
    '    <form method="post" action="{url}" class="cal-move-form">\n      {csrf}\n'
    '      <input type="hidden" name="version" value="{version}">\n'
    '      <input type="hidden" name="next" value="{next}">\n'
    '      <label for="move-date-{pk}">{date_label}</label>\n'
    '      <input id="move-date-{pk}" type="date" name="date" value="{date}" required>\n'
    '      <label for="move-time-{pk}">{time_label}</label>\n'
    '      <input id="move-time-{pk}" type="time" name="time" value="{time}" required>\n'
    '      <button type="submit">{move}</button>\n    </form>\n  </details>\n  \n')


_SENTINEL_ID = 987654321


def _move_url(cache: dict, brand_id: int, post_id: int) -> str:
    """``reverse("calendar_post_move", args=[brand_id, post_id])``, reversed once per brand:
    the path around an integer post id does not depend on the id."""
    parts = cache.get(brand_id)
    if parts is None:
        parts = cache[brand_id] = reverse("calendar_post_move", args=[brand_id, _SENTINEL_ID]).split(
            str(_SENTINEL_ID))
    if len(parts) != 2:  # the sentinel also appears elsewhere in the path: no shortcut
        return reverse("calendar_post_move", args=[brand_id, post_id])
    return f"{parts[0]}{post_id}{parts[1]}"


def _esc(value) -> str:
    """``django.utils.html.escape`` (the same characters) for the markup built below, without
    its lazy-string wrapper and SafeString on each of the hundreds of values of a grid."""
    return _html_escape(str(value))


def _filter_options(ctx, *, cross_brand: bool) -> dict:
    """The options of the filter form's selects, as calendar.html's loops rendered them."""
    escape = _esc

    f = ctx["filters"]

    def options(rows):
        return mark_safe("".join(  # nosec B308 B703 # values escaped here, labels by the callers
            f'<option value="{escape(value)}"{" selected" if chosen else ""}>{label}</option>'
            for value, chosen, label in rows))

    pillar_pk = f.pillar.pk if f.pillar is not None else None
    campaign_pk = f.campaign.pk if f.campaign is not None else None
    return {
        "network": options((v, f.network == v, escape(label)) for v, label in ctx["networks"]),
        "pillar": options((p.pk, pillar_pk == p.pk,
                           escape(p.name) + (f" · {escape(p.brand.name)}" if cross_brand else ""))
                          for p in ctx["pillars"]),
        "state": options((v, f.state == v, escape(label)) for v, label in ctx["states"]),
        "campaign": options((c.pk, campaign_pk == c.pk, escape(c.name)) for c in ctx["all_campaigns"]),
        "author": options((u.pk, f.author_id == u.pk, escape(u.get_full_name() or u.username))
                          for u in ctx["authors"]),
    }


def _render_grid_entries(request, ctx, *, can_compose: bool, cross_brand: bool, movable) -> None:
    """The cells of the month and week grids, built once here: each entry's ``<li>`` (what a
    per-post template with ``_move.html`` rendered before) and each day's ``<td>``, with the same
    markup and escaping, without template includes and filters per post and per day."""
    if ctx["view"] == "list":
        return
    from django.middleware.csrf import get_token
    from django.utils.text import Truncator

    escape = _esc

    labels = None
    move_urls: dict = {}
    state_labels = {value: str(label) for value, label in Post.State.choices}
    for e in ctx["entries"]:
        post = e.post
        pk = post.pk
        movable_here = can_compose and post.state in movable
        if movable_here:
            if labels is None:
                labels = {
                    # {% translate %} of a template literal is not escaped (a trusted catalog).
                    "move": _("Move"), "date_label": _("Date"),
                    "time_label": _("Time (%(zone)s)") % {"zone": escape(ctx["tz_name"])},
                    "csrf": ('<input type="hidden" name="csrfmiddlewaretoken" value="%s">'
                             % escape(get_token(request))),
                    "next": escape(request.get_full_path()),
                }
            url = escape(_move_url(move_urls, post.brand_id, pk))
            drag = f' draggable="true" tabindex="0" data-move-url="{url}"'
            move = _MOVE_HTML.format(url=url, version=post.version, pk=pk, date=escape(e.date_value),
                                     time=escape(e.time_value), **labels)
        else:
            drag = ""
            move = "  \n"
        pillar = post.pillar
        swatch = (f'<svg class="swatch" width="10" height="10" viewBox="0 0 10 10" aria-hidden="true">'
                  f'<rect width="10" height="10" fill="{escape(pillar.color)}"/></svg>') if pillar else ""
        brand_span = f'<span class="cal-brand">{escape(post.brand.name)}</span> · ' if cross_brand else ""
        pillar_span = f' ·\n    <span class="cal-pillar">{escape(pillar.name)}</span>' if pillar else ""
        e.html = mark_safe(  # nosec B308 B703 # every value escaped (escape) in the f-string
            f'<li class="cal-post state-{escape(post.state)}" data-post-id="{pk}" data-version="{post.version}" '
            f'data-time="{escape(e.time_value)}" data-date="{escape(e.date_value)}"{drag}>\n'
            f'  <time datetime="{escape(e.iso)}" class="cal-time">{e.local.strftime("%H:%M")}</time>\n'
            f'  {swatch}\n'
            f'  <a class="cal-text" href="{escape(e.link)}">{escape(Truncator(post.text).chars(70))}</a>\n'
            f'  <small class="cal-meta">\n'
            f'    {brand_span}\n'
            f'    <span class="cal-networks">{", ".join(escape(n) for n in e.networks)}</span> ·\n'
            f'    <span class="cal-state">{escape(state_labels.get(post.state, post.state))}</span>{pillar_span}\n'
            f'  </small>\n'
            f'  {move}\n'
            f'</li>\n')
    # Each day's cell, as the loop over ``week.days`` in calendar.html rendered it.
    out_of_month = ctx["view"] == "month"
    today_label = _("today")  # as {% translate %}: not escaped
    for week in ctx["weeks"]:
        for day in week["days"]:
            d = day.day
            number = str(d.day)
            css = (" out" if out_of_month and not day.in_month else "") + (" today" if day.is_today else "")
            daynum = (f'<strong>{number}</strong> <span class="visually-hidden">{today_label}</span>'
                      if day.is_today else number)
            keys = "".join(
                f'<div class="cal-keydate" title="{escape(k.notes)}">{escape(k.name)}'
                f'{f" ({escape(k.brand.name)})" if cross_brand else ""}</div>' for k in day.key_dates)
            monday = d.weekday() == 0
            camps = "".join(
                f'<div class="cal-campaign" title="{escape(c.name)}">'
                + (escape(c.name) if (d == c.starts_on or monday)
                   else f'<span class="visually-hidden">{escape(c.name)}</span>') + '</div>'
                for c in day.campaigns)
            posts = "".join(e.html for e in day.entries)
            day.html = mark_safe(  # nosec B308 B703 # escaped parts and the entries' own safe HTML
                f'\n        <td class="cal-day{css}" data-date="{d.isoformat()}">\n'
                f'          <div class="cal-daynum">{daynum}</div>\n'
                f'          {keys}\n'
                f'          {camps}\n'
                f'          <ul class="cal-posts">\n'
                f'            {posts}\n'
                f'          </ul>\n'
                f'        </td>\n      ')


def _authors(brands):
    from tertulia.core.models import User

    # What the author filter shows of them (id, full name, username).
    return list(User.objects.filter(memberships__brand__in=brands).only("id", "username", "first_name", "last_name")
                .distinct().order_by("first_name", "username")[:200])


def _overdue(brands) -> list[dict]:
    """The cadence's overdue tasks, shown at the top of the calendar (the home page)."""
    from tertulia.strategy import cadence

    return [{"task": t, "label": cadence.label(t), "link": cadence.link(t)} for t in cadence.overdue(brands)]


# --- Calendar pages ---------------------------------------------------------------------------

@brand_view()
def calendar_page(request, brand):
    brands = Brand.objects.filter(pk=brand.pk)
    ctx = _calendar_context(request, brands, brand.tzinfo, brand=brand)
    perms = permissions_in(request.user, brand)
    ctx.update({
        "brand": brand, "cross_brand": False, "can_compose": roles.COMPOSE in perms,
        "movable": MOVABLE, "mix": cal.pillar_mix(ctx["posts"], ctx["pillars"]),
        "feed_links": CalendarFeedToken.objects.filter(brand=brand, user=request.user, revoked_at__isnull=True).count(),
        "overdue_tasks": _overdue([brand]),
    })
    ctx["filter_options"] = _filter_options(ctx, cross_brand=False)
    _render_grid_entries(request, ctx, can_compose=ctx["can_compose"], cross_brand=False, movable=MOVABLE)
    return render(request, "content/calendar/calendar.html", ctx)


@login_required
def calendar_all(request):
    """Every brand the user can view, in the user's own time zone."""
    brands = brands_for(request.user)
    tz = _user_tz(request.user)
    ctx = _calendar_context(request, brands, tz)
    ctx.update({"brand": None, "cross_brand": True, "can_compose": False, "movable": (), "mix": None,
                "overdue_tasks": _overdue(list(brands[:100]))})
    ctx["filter_options"] = _filter_options(ctx, cross_brand=True)
    _render_grid_entries(request, ctx, can_compose=False, cross_brand=True, movable=())
    return render(request, "content/calendar/calendar.html", ctx)


def _user_tz(user):
    import zoneinfo

    try:
        return zoneinfo.ZoneInfo(getattr(user, "timezone", "") or "UTC")
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return zoneinfo.ZoneInfo("UTC")


# --- Moving a post ----------------------------------------------------------------------------

def _wants_json(request) -> bool:
    return "application/json" in request.headers.get("Accept", "") or bool(getattr(request, "htmx", False))


def _back(request, brand):
    target = request.POST.get("next", "")
    if target and url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()},
                                                  require_https=request.is_secure()):
        return redirect(target)
    return redirect("section_calendar", brand.pk)


@brand_view(roles.COMPOSE)
@require_POST
def post_move(request, brand, post_id):
    post = get_object_or_404(Post.objects.for_user(request.user, roles.COMPOSE).select_related("brand"),
                             pk=post_id, brand=brand)
    day = cal.parse_date(request.POST.get("date", ""))
    raw_time = request.POST.get("time", "").strip()
    version = cal._int(request.POST.get("version", ""))
    error = None
    if day is None or not (planning.MIN_DATE <= day <= planning.MAX_DATE):
        error = _("Choose a valid date.")
    moment = None
    if error is None:
        if raw_time:
            try:
                moment = datetime.strptime(raw_time[:8], "%H:%M" if len(raw_time) <= 5 else "%H:%M:%S").time()
            except ValueError:
                error = _("Choose a valid time.")
        elif post.scheduled_at is not None:
            moment = post.scheduled_at.astimezone(brand.tzinfo).time().replace(tzinfo=None)
        else:
            moment = time(9, 0)
    moved = None
    if error is None:
        try:
            moved = cal.do_reschedule_post(Ctx.from_request(request), post, datetime.combine(day, moment),
                                           version=version)
        except (ValidationError, PermissionDenied) as exc:
            error = " ".join(exc.messages) if isinstance(exc, ValidationError) else (str(exc) or _(
                "You do not have permission to do that."))
    if moved is not None:
        local = moved.scheduled_at.astimezone(brand.tzinfo)
        message = _("Post moved to %(when)s.") % {"when": local.strftime("%Y-%m-%d %H:%M")}
    if _wants_json(request):
        if error:
            return JsonResponse({"ok": False, "message": error}, status=422)
        return JsonResponse({"ok": True, "message": message, "version": moved.version,
                             "local": local.isoformat(), "date": local.date().isoformat(),
                             "time": local.strftime("%H:%M")})
    if error:
        messages.error(request, error)
    else:
        messages.success(request, message)
    return _back(request, brand)


# --- Weekly topic plan -----------------------------------------------------------------------

class _BrandChoice(forms.ModelChoiceField):
    def label_from_instance(self, obj):
        return obj.name


class WeekThemeForm(forms.Form):
    week_start = forms.DateField(label=gettext_lazy("Week (any day of it)"),
                                 widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
                                 input_formats=["%Y-%m-%d", "%d/%m/%Y"])
    theme = forms.CharField(label=gettext_lazy("Theme"), max_length=300)
    notes = forms.CharField(label=gettext_lazy("Notes"), required=False, max_length=4000,
                            widget=forms.Textarea(attrs={"rows": 3}))
    pillar = _BrandChoice(label=gettext_lazy("Pillar"), required=False, queryset=ContentPillar.objects.none())
    campaign = _BrandChoice(label=gettext_lazy("Campaign"), required=False, queryset=Campaign.objects.none())

    def __init__(self, *args, brand, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["pillar"].queryset = ContentPillar.objects.filter(brand=brand).order_by("name")
        self.fields["campaign"].queryset = Campaign.objects.filter(brand=brand).order_by("name")


class KeyDateForm(forms.Form):
    date = forms.DateField(label=gettext_lazy("Date"), widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
                           input_formats=["%Y-%m-%d", "%d/%m/%Y"])
    name = forms.CharField(label=gettext_lazy("Name"), max_length=200)
    notes = forms.CharField(label=gettext_lazy("Notes"), required=False, max_length=2000,
                            widget=forms.Textarea(attrs={"rows": 2}))


def _theme(request, brand, theme_id, permission=roles.VIEW) -> WeekTheme:
    return get_object_or_404(WeekTheme.objects.for_user(request.user, permission).select_related("brand"),
                             pk=theme_id, brand=brand)


def _key_date(request, brand, key_date_id, permission=roles.VIEW) -> KeyDate:
    return get_object_or_404(KeyDate.objects.for_user(request.user, permission).select_related("brand"),
                             pk=key_date_id, brand=brand)


PLAN_WEEKS = 5


@brand_view()
def week_plan(request, brand):
    tz = brand.tzinfo
    today = timezone.now().astimezone(tz).date()
    notes = []
    first = cal.week_start(today)
    raw = request.GET.get("week", "")
    if raw:
        parsed = cal.parse_date(raw)
        if parsed is None or not (planning.MIN_DATE <= parsed <= planning.MAX_DATE):
            notes.append(_("That date is not valid; showing this week."))
        else:
            first = cal.week_start(parsed)
    can_compose = roles.COMPOSE in permissions_in(request.user, brand)
    planned = cal.parse_date(request.GET.get("plan", ""))
    if planned is None or not (planning.MIN_DATE <= planned <= planning.MAX_DATE):
        planned = first
    form = WeekThemeForm(brand=brand, initial={"week_start": cal.week_start(planned)})
    if request.method == "POST":
        if not can_compose:
            raise PermissionDenied
        form = WeekThemeForm(request.POST, brand=brand)
        if form.is_valid():
            try:
                theme = planning.do_save_week_theme(Ctx.from_request(request), brand, **form.cleaned_data)
            except (ValidationError, PermissionDenied) as exc:
                if isinstance(exc, ValidationError):
                    _apply_errors(form, exc)
                else:
                    form.add_error(None, str(exc))
            else:
                messages.success(request, _("Theme saved."))
                return redirect(reverse("week_plan", args=[brand.pk]) + _query(week=theme.week_start.isoformat()))
    weeks = planning.weeks_ahead(first, PLAN_WEEKS)
    last = weeks[-1] + timedelta(days=6)
    lo, hi = cal.day_bounds(first, last, tz)
    posts = list(cal.posts_between(request.user, Brand.objects.filter(pk=brand.pk), lo, hi)
                 .exclude(state=Post.State.CANCELED))
    pillars = list(ContentPillar.objects.for_user(request.user).filter(brand=brand).order_by("-target_share", "name"))
    themes = list(WeekTheme.objects.for_user(request.user).filter(brand=brand, week_start__in=weeks)
                  .select_related("pillar", "campaign"))
    key_dates = list(KeyDate.objects.for_user(request.user).filter(brand=brand, date__gte=first, date__lte=last))
    rows = []
    for monday in weeks:
        sunday = monday + timedelta(days=6)
        week_posts = [p for p in posts if monday <= p.scheduled_at.astimezone(tz).date() <= sunday]
        rows.append({
            "monday": monday, "sunday": sunday, "is_current": monday <= today <= sunday,
            "themes": [t for t in themes if t.week_start == monday],
            "key_dates": [k for k in key_dates if monday <= k.date <= sunday],
            "posts": len(week_posts),
            "mix": cal.pillar_mix(week_posts, pillars),
            "q_calendar": _query(view="week", date=monday.isoformat()),
            "q_plan": _query(week=first.isoformat(), plan=monday.isoformat()),
        })
    return render(request, "content/calendar/week_plan.html", {
        "brand": brand, "rows": rows, "form": form, "can_compose": can_compose, "notes": notes,
        "q_prev": _query(week=(first - timedelta(weeks=PLAN_WEEKS)).isoformat()),
        "q_next": _query(week=(first + timedelta(weeks=PLAN_WEEKS)).isoformat()),
        "section_key": "calendar",
    })


@brand_view(roles.COMPOSE)
def week_theme_edit(request, brand, theme_id):
    theme = _theme(request, brand, theme_id, roles.COMPOSE)
    initial = {"week_start": theme.week_start, "theme": theme.theme, "notes": theme.notes, "pillar": theme.pillar,
               "campaign": theme.campaign}
    form = WeekThemeForm(request.POST or None, brand=brand, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            planning.do_save_week_theme(Ctx.from_request(request), brand, theme, **form.cleaned_data)
        except (ValidationError, PermissionDenied) as exc:
            if isinstance(exc, ValidationError):
                _apply_errors(form, exc)
            else:
                form.add_error(None, str(exc))
            theme.refresh_from_db()
        else:
            messages.success(request, _("Theme saved."))
            return redirect(reverse("week_plan", args=[brand.pk]) + _query(week=theme.week_start.isoformat()))
    return render(request, "content/calendar/theme_form.html", {
        "brand": brand, "theme": theme, "form": form, "section_key": "calendar",
    })


@brand_view(roles.COMPOSE)
@require_POST
def week_theme_delete(request, brand, theme_id):
    theme = _theme(request, brand, theme_id, roles.COMPOSE)
    week = theme.week_start
    planning.do_delete_week_theme(Ctx.from_request(request), theme)
    messages.success(request, _("Theme deleted."))
    return redirect(reverse("week_plan", args=[brand.pk]) + _query(week=week.isoformat()))


# --- Key dates ---------------------------------------------------------------------------------

@brand_view()
def key_date_list(request, brand):
    can_compose = roles.COMPOSE in permissions_in(request.user, brand)
    form = KeyDateForm()
    if request.method == "POST":
        if not can_compose:
            raise PermissionDenied
        form = KeyDateForm(request.POST)
        if form.is_valid():
            try:
                planning.do_save_key_date(Ctx.from_request(request), brand, **form.cleaned_data)
            except ValidationError as exc:
                _apply_errors(form, exc)
            else:
                messages.success(request, _("Key date saved."))
                return redirect("key_date_list", brand.pk)
    today = timezone.now().astimezone(brand.tzinfo).date()
    show_past = request.GET.get("past") == "1"
    qs = KeyDate.objects.for_user(request.user).filter(brand=brand)
    qs = qs.order_by("-date", "-pk") if show_past else qs.filter(date__gte=today).order_by("date", "pk")
    if show_past:
        qs = qs.filter(date__lt=today)
    page = Paginator(qs, LIST_PAGE).get_page(request.GET.get("page"))
    return render(request, "content/calendar/key_date_list.html", {
        "brand": brand, "page": page, "form": form, "can_compose": can_compose, "show_past": show_past,
        "section_key": "calendar",
    })


@brand_view(roles.COMPOSE)
def key_date_edit(request, brand, key_date_id):
    key_date = _key_date(request, brand, key_date_id, roles.COMPOSE)
    form = KeyDateForm(request.POST or None,
                       initial={"date": key_date.date, "name": key_date.name, "notes": key_date.notes})
    if request.method == "POST" and form.is_valid():
        try:
            planning.do_save_key_date(Ctx.from_request(request), brand, key_date, **form.cleaned_data)
        except ValidationError as exc:
            _apply_errors(form, exc)
            key_date.refresh_from_db()
        else:
            messages.success(request, _("Key date saved."))
            return redirect("key_date_list", brand.pk)
    return render(request, "content/calendar/key_date_form.html", {
        "brand": brand, "key_date": key_date, "form": form, "section_key": "calendar",
    })


@brand_view(roles.COMPOSE)
@require_POST
def key_date_delete(request, brand, key_date_id):
    key_date = _key_date(request, brand, key_date_id, roles.COMPOSE)
    planning.do_delete_key_date(Ctx.from_request(request), key_date)
    messages.success(request, _("Key date deleted."))
    return redirect("key_date_list", brand.pk)


# --- Private iCal feed ------------------------------------------------------------------------

@brand_view()
@require_POST
def calendar_feed_create(request, brand):
    token, raw = ical.do_create_feed_token(Ctx.from_request(request), brand)
    response = render(request, "content/calendar/feed_created.html", {
        "brand": brand, "url": ical.feed_url(raw), "section_key": "calendar",
    })
    response["Cache-Control"] = "no-store"
    return response


@brand_view()
@require_POST
def calendar_feed_revoke(request, brand):
    ctx = Ctx.from_request(request)
    tokens = CalendarFeedToken.objects.filter(brand=brand, user=request.user, revoked_at__isnull=True)
    count = 0
    for token in tokens.select_related("brand"):
        ical.do_revoke_feed_token(ctx, token)
        count += 1
    if count:
        messages.success(request, _("Your calendar links for this brand no longer work."))
    else:
        messages.info(request, _("You had no calendar links for this brand."))
    return redirect("section_calendar", brand.pk)


def calendar_ical(request, calendar_token):
    """The public feed: the URL is the credential. Unknown, revoked, or its member gone: 404."""
    token = ical.resolve(calendar_token)
    if token is None:
        raise Http404
    if request.method not in ("GET", "HEAD"):
        return HttpResponseNotAllowed(["GET", "HEAD"])
    response = HttpResponse(ical.build(token), content_type="text/calendar; charset=utf-8")
    response["Content-Disposition"] = 'inline; filename="calendar.ics"'
    response["Cache-Control"] = "private, max-age=300"
    response["X-Content-Type-Options"] = "nosniff"
    response["Referrer-Policy"] = "no-referrer"
    return response


# --- CSV export and import --------------------------------------------------------------------

@brand_view()
def calendar_export(request, brand):
    tz = brand.tzinfo
    today = timezone.now().astimezone(tz).date()
    view, anchor, _notes = _view_and_anchor(request, today)
    filters = cal.parse_filters(request.GET, Brand.objects.filter(pk=brand.pk))
    first, last, _p, _n = _span(view, anchor)
    lo, hi = cal.day_bounds(first, last, tz)
    posts = cal.posts_between(request.user, Brand.objects.filter(pk=brand.pk), lo, hi, filters)
    response = HttpResponse(csv_io.export_csv(posts, tz), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="calendar-{brand.pk}-{first:%Y%m%d}-{last:%Y%m%d}.csv"'
    response["X-Content-Type-Options"] = "nosniff"
    return response


class ImportForm(forms.Form):
    file = forms.FileField(label=gettext_lazy("CSV file"),
                           help_text=gettext_lazy("At most 2 MB and 2,000 rows; separated by commas or semicolons."),
                           widget=forms.FileInput(attrs={"accept": ".csv,text/csv"}))
    submit_for_review = forms.BooleanField(label=gettext_lazy("Submit the posts for review"), required=False)


@brand_view(roles.COMPOSE)
def calendar_import(request, brand):
    form = ImportForm()
    result = None
    if request.method == "POST":
        form = ImportForm(request.POST, request.FILES)
        if form.is_valid():
            result = csv_io.do_import_posts(Ctx.from_request(request), brand, form.cleaned_data["file"],
                                            submit=form.cleaned_data["submit_for_review"])
            if result.problem:
                form.add_error("file", result.problem)
            elif result.created and not result.errors:
                messages.success(request, _("All %(count)s posts were imported.") % {"count": len(result.created)})
    return render(request, "content/calendar/import.html", {
        "brand": brand, "form": form, "result": result, "columns": csv_io.COLUMNS, "section_key": "calendar",
    })
