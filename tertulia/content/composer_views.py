"""The composer: one post, a variant per network, live validation, previews and UTM links.

Thin views: the brand comes from ``brand_view`` (404 for strangers before any form is read),
rows from ``for_user`` querysets filtered by the brand (the form's choices and the accounts
by that brand alone: ``brand_view(roles.COMPOSE)`` has just checked it), and every write goes through
``content.composer``. The same form and the same ``validate_post`` serve the live (htmx)
check and the save, so a browser without JavaScript gets the same answers.
"""

from __future__ import annotations

from datetime import date

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from tertulia.analytics import best_time
from tertulia.core import roles
from tertulia.core.services import Ctx
from tertulia.core.views import _errors_to_messages, brand_view
from tertulia.networks.capabilities import MESSAGING_ONLY
from tertulia.networks.models import Network, SocialAccount
from tertulia.strategy.models import ContentPillar

from . import composer, fast_widgets, previews
from .models import Campaign, Idea, MediaAsset, Post, UtmPreset

PICKER_SIZE = 60  # recent images offered in the composer's picker (plus those attached)


class _ModelChoiceField(forms.ModelChoiceField):
    iterator = fast_widgets.ListedModelChoiceIterator
    widget = fast_widgets.Select


class ComposeForm(forms.Form):
    # The widgets are fast_widgets' (Django's HTML, rendered without the template engine).
    text = forms.CharField(label=gettext_lazy("Main text"), required=False, max_length=composer.MAX_TEXT,
                           strip=False, widget=fast_widgets.Textarea(attrs={"rows": 7}),
                           help_text=gettext_lazy("Every network uses this text unless you write its own version."))
    accounts = forms.ModelMultipleChoiceField(label=gettext_lazy("Accounts"), queryset=SocialAccount.objects.none(),
                                              required=False, widget=forms.CheckboxSelectMultiple)
    pillar = _ModelChoiceField(label=gettext_lazy("Pillar"), queryset=ContentPillar.objects.none(),
                               required=False)
    format = forms.ChoiceField(label=gettext_lazy("Format"), choices=Post.Format.choices, initial=Post.Format.TEXT,
                               widget=fast_widgets.Select)
    campaign = _ModelChoiceField(label=gettext_lazy("Campaign"), queryset=Campaign.objects.none(),
                                 required=False)
    scheduled_date = forms.DateField(label=gettext_lazy("Date"), required=False,
                                     widget=fast_widgets.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"))
    scheduled_time = forms.TimeField(label=gettext_lazy("Time"), required=False,
                                     widget=fast_widgets.TimeInput(attrs={"type": "time"}, format="%H:%M"))
    first_comment = forms.CharField(label=gettext_lazy("First comment"), required=False,
                                    max_length=composer.MAX_FIRST_COMMENT,
                                    widget=fast_widgets.Textarea(attrs={"rows": 2}),
                                    help_text=gettext_lazy("Posted as a reply under the post, where the network "
                                                           "allows it."))
    media = forms.ModelMultipleChoiceField(label=gettext_lazy("Images"), queryset=MediaAsset.objects.none(),
                                           required=False, widget=forms.CheckboxSelectMultiple)
    idea = forms.ModelChoiceField(queryset=Idea.objects.none(), required=False, widget=fast_widgets.HiddenInput)
    version = forms.IntegerField(required=False, min_value=0, widget=fast_widgets.HiddenInput)

    def __init__(self, *args, brand, user, networks, **kwargs):
        super().__init__(*args, **kwargs)
        self.brand = brand
        self.networks = networks
        # Only built by ``brand_view(roles.COMPOSE)`` views: ``get_brand`` has checked that the
        # user may compose for ``brand``, so its rows are read by brand (the rows ``for_user``
        # would give, without compiling its membership subquery in every query).
        self.fields["accounts"].queryset = (SocialAccount.objects.filter(brand=brand)
                                            .exclude(network__in=MESSAGING_ONLY))
        self.fields["pillar"].queryset = ContentPillar.objects.filter(brand=brand)
        self.fields["campaign"].queryset = Campaign.objects.filter(brand=brand)
        self.fields["media"].queryset = MediaAsset.objects.filter(brand=brand)
        self.fields["idea"].queryset = Idea.objects.filter(brand=brand)
        self.fields["text"].widget.attrs["data-master"] = ""
        for network in networks:
            self.fields[f"variant_{network}"] = forms.CharField(
                label=composer.network_label(network), required=False, max_length=composer.MAX_TEXT, strip=False,
                widget=fast_widgets.Textarea(attrs={"rows": 5}))

    def clean(self):
        data = super().clean()
        day, at = data.get("scheduled_date"), data.get("scheduled_time")
        data["scheduled_at"] = None
        if day and at:
            try:
                data["scheduled_at"] = composer.local_to_utc(self.brand, day, at)
            except ValidationError as exc:
                self.add_error("scheduled_time", exc.message_dict["scheduled_time"])
        elif day and not at and "scheduled_time" not in self.errors:
            self.add_error("scheduled_time", _("Choose a time too, or clear the date."))
        elif at and not day and "scheduled_date" not in self.errors:
            self.add_error("scheduled_date", _("Choose a date too, or clear the time."))
        return data

    def variants(self) -> dict[str, str | None]:
        return {n: (self.cleaned_data.get(f"variant_{n}") or None) for n in self.networks}

    def ordered_media(self) -> list[MediaAsset]:
        """The chosen images, in the order their ids were sent."""
        chosen = {a.pk: a for a in self.cleaned_data.get("media") or []}
        order = []
        for raw in self.data.getlist("media") if hasattr(self.data, "getlist") else []:
            try:
                pk = int(raw)
            except (TypeError, ValueError):
                continue
            if pk in chosen and chosen[pk] not in order:
                order.append(chosen[pk])
        return order + [a for a in chosen.values() if a not in order]

    def service_fields(self) -> dict:
        d = self.cleaned_data
        return {"text": d.get("text") or "", "accounts": list(d.get("accounts") or []), "variants": self.variants(),
                "pillar": d.get("pillar"), "format": d.get("format") or Post.Format.TEXT,
                "campaign": d.get("campaign"), "scheduled_at": d.get("scheduled_at"),
                "first_comment": d.get("first_comment") or "", "media": self.ordered_media()}


def _brand_accounts(brand) -> list[SocialAccount]:
    """The accounts the composer offers (ComposeForm's ``accounts`` choices), in page order."""
    return list(SocialAccount.objects.filter(brand=brand).exclude(network__in=MESSAGING_ONLY)
                .order_by("network", "handle"))


def _brand_networks(request, brand, post: Post | None = None, accounts: list | None = None) -> list[str]:
    # ``brand`` comes from ``brand_view(roles.COMPOSE)`` (checked), as in ComposeForm.
    if accounts is not None:  # _brand_accounts(brand)
        networks = {a.network for a in accounts if a.status != SocialAccount.Status.DISABLED}
    else:
        networks = set(SocialAccount.objects.filter(brand=brand)
                       .exclude(status=SocialAccount.Status.DISABLED).exclude(network__in=MESSAGING_ONLY)
                       .values_list("network", flat=True))
    if post is not None:
        networks |= set(post.targets.values_list("account__network", flat=True))
        networks |= set(post.variants.filter(is_custom=True).values_list("network", flat=True))
    return composer.ordered_networks(networks)


def _initial_for(post: Post) -> dict:
    initial = {"text": post.text, "accounts": list(post.targets.values_list("account_id", flat=True)),
               "pillar": post.pillar_id, "format": post.format, "campaign": post.campaign_id,
               "first_comment": post.first_comment,
               "media": list(post.attachments.order_by("position").values_list("asset_id", flat=True)),
               "idea": post.idea_id, "version": post.version}
    if post.scheduled_at:
        local = timezone.localtime(post.scheduled_at, post.brand.tzinfo)
        initial.update(scheduled_date=local.date(), scheduled_time=local.time().replace(second=0, microsecond=0))
    for v in post.variants.filter(is_custom=True):
        initial[f"variant_{v.network}"] = v.text
    return initial


def _prefill(request, brand) -> dict:
    initial: dict = {}
    idea_id = request.GET.get("idea", "")
    if idea_id:
        if not idea_id.isdigit():
            raise Http404
        idea = get_object_or_404(Idea.objects.for_user(request.user), pk=int(idea_id), brand=brand)
        initial.update(idea=idea.pk, text="\n\n".join(p for p in (idea.title, idea.notes, idea.source_url) if p),
                       pillar=idea.pillar_id)
    day = request.GET.get("date", "")
    if day:
        try:
            initial["scheduled_date"] = date.fromisoformat(day[:10])
        except ValueError:
            pass  # a bad date in a link just leaves the field empty
    return initial


def _form_values(form: ComposeForm) -> dict:
    """What the report is computed from: the cleaned data when valid, else what can be read."""
    if not form.is_bound:
        initial = form.initial
        account_ids = list(initial.get("accounts") or [])
        media_ids = list(initial.get("media") or [])
        media_rows = {a.pk: a for a in form.fields["media"].queryset.filter(pk__in=media_ids)} if media_ids else {}
        scheduled_at = None
        if initial.get("scheduled_date") and initial.get("scheduled_time"):
            try:
                scheduled_at = composer.local_to_utc(form.brand, initial["scheduled_date"], initial["scheduled_time"])
            except ValidationError:
                scheduled_at = None
        return {"text": initial.get("text") or "",
                "accounts": list(form.fields["accounts"].queryset.filter(pk__in=account_ids)) if account_ids else [],
                "variants": {n: (initial.get(f"variant_{n}") or None) for n in form.networks},
                "media": [media_rows[pk] for pk in media_ids if pk in media_rows],
                "first_comment": initial.get("first_comment") or "", "scheduled_at": scheduled_at}
    if form.is_valid():
        return form.service_fields()
    data = getattr(form, "cleaned_data", {}) or {}
    text = data.get("text")
    if text is None and form.is_bound:
        text = (form.data.get("text") or "")[: composer.MAX_TEXT]
    return {"text": text or "", "accounts": list(data.get("accounts") or []),
            "variants": {n: (data.get(f"variant_{n}") or None) for n in form.networks},
            "media": list(data.get("media") or []), "first_comment": data.get("first_comment") or "",
            "scheduled_at": data.get("scheduled_at")}


def _report_and_previews(brand, form: ComposeForm, values: dict):
    report = composer.validate_post(brand, values["text"], values["variants"], values["accounts"], values["media"],
                                    first_comment=values["first_comment"], scheduled_at=values.get("scheduled_at"),
                                    networks=form.networks)
    cards = {n: previews.build(n, r.text, brand=brand, accounts=values["accounts"], assets=values["media"],
                               first_comment=values["first_comment"] if n in composer.FIRST_COMMENT_NETWORKS else "")
             for n, r in report.networks.items()}
    return report, cards


def _sections(form: ComposeForm, report, cards, values) -> list[dict]:
    selected = {a.network for a in values["accounts"]}
    for n in form.networks:
        # An empty variant shows the text it inherits; compose.js keeps it in step as you type.
        form.fields[f"variant_{n}"].widget.attrs.update({"placeholder": values["text"][:5000],
                                                         "data-variant-input": n})
    return [{"network": n, "label": composer.network_label(n), "field": form[f"variant_{n}"],
             "report": report.networks.get(n), "preview": cards.get(n), "selected": n in selected}
            for n in form.networks]


def _page(request, brand, form: ComposeForm, post: Post | None, status: int = 200, accounts: list | None = None):
    values = _form_values(form)
    report, cards = _report_and_previews(brand, form, values)
    if accounts is None:
        accounts = list(form.fields["accounts"].queryset.order_by("network", "handle"))
    chosen_accounts = {a.pk for a in values["accounts"]} if form.is_bound else set(form.initial.get("accounts", []))
    groups: dict[str, list] = {}
    for a in accounts:
        if a.status != SocialAccount.Status.DISABLED or a.pk in chosen_accounts:
            groups.setdefault(a.network, []).append(a)
    chosen_media = [a.pk for a in values["media"]] if form.is_bound else list(form.initial.get("media", []))
    picker = list(form.fields["media"].queryset.filter(kind__in=[MediaAsset.Kind.IMAGE, MediaAsset.Kind.VIDEO])
                  .order_by("-created_at", "-id")[:PICKER_SIZE])
    missing = set(chosen_media) - {a.pk for a in picker}
    if missing:
        picker = list(form.fields["media"].queryset.filter(pk__in=missing)) + picker
    editable = post is None or post.state in composer.EDITABLE
    return render(request, "content/compose/page.html", {
        "form": form, "post": post, "report": report, "sections": _sections(form, report, cards, values),
        "account_groups": [(composer.network_label(n), n, groups[n]) for n in composer.ordered_networks(groups)],
        "chosen_accounts": chosen_accounts, "picker": picker, "chosen_media": chosen_media,
        "editable": editable, "section_key": "compose", "zone": brand.timezone,
        "utm_networks": [n for n in form.networks],
        # Best time to post (analytics.best_time): each account's best weekday × hour so far.
        "best_times": best_time.brand_suggestions(
            brand, n=3, accounts=[a for a in accounts if a.status != SocialAccount.Status.DISABLED]),
    }, status=status)


def _save(request, brand, form: ComposeForm, post: Post | None):
    """Save the post (a draft is always saved, problems or not), then submit it if asked."""
    ctx = Ctx.from_request(request)
    fields = form.service_fields()
    action = request.POST.get("action", "save")
    reset = request.POST.get("reset", "")
    if reset in form.networks:
        fields["variants"][reset] = None
    was = post.state if post is not None else None
    if post is None:
        post = composer.do_create_draft(ctx, brand, idea=form.cleaned_data.get("idea"), **fields)
    else:
        post = composer.do_update_post(ctx, post, expected_version=form.cleaned_data.get("version"), **fields)
    if action == "submit":
        try:
            post = composer.submit_for_review(ctx, post)
        except ValidationError as exc:
            messages.warning(request, _("Saved, but not sent for review:"))
            _errors_to_messages(request, exc)
        else:
            messages.success(request, _("Sent for review."))
    elif was in (Post.State.APPROVED, Post.State.SCHEDULED) and post.state == Post.State.PENDING_APPROVAL:
        messages.warning(request, _("Saved. The post had been approved, so it went back to review."))
    elif post.state == Post.State.DRAFT:
        messages.success(request, _("Draft saved."))
    else:
        messages.success(request, _("Post saved."))
    return redirect("post_edit", brand.pk, post.pk)


def _handle(request, brand, post: Post | None, initial: dict):
    accounts = _brand_accounts(brand)
    networks = _brand_networks(request, brand, post, accounts)
    if request.method == "POST":
        form = ComposeForm(request.POST, brand=brand, user=request.user, networks=networks)
        if form.is_valid():
            try:
                return _save(request, brand, form, post)
            except ValidationError as exc:
                if hasattr(exc, "error_dict"):
                    for key, errors in exc.error_dict.items():
                        form.add_error(key if key in form.fields else None, errors)
                else:
                    form.add_error(None, exc)
        return _page(request, brand, form, post, accounts=accounts)
    form = ComposeForm(initial=initial, brand=brand, user=request.user, networks=networks)
    return _page(request, brand, form, post, accounts=accounts)


@brand_view(roles.COMPOSE)
def compose(request, brand):
    """A new post. ``?idea=<id>`` starts from an idea of the brand, ``?date=YYYY-MM-DD`` from a day."""
    return _handle(request, brand, None, _prefill(request, brand) if request.method == "GET" else {})


@brand_view(roles.COMPOSE)
def post_edit(request, brand, post_id):
    post = get_object_or_404(Post.objects.for_user(request.user, roles.COMPOSE).select_related("brand"),
                             pk=post_id, brand=brand)
    return _handle(request, brand, post, _initial_for(post))


@brand_view(roles.COMPOSE)
@require_POST
def compose_validate(request, brand):
    """The live check (htmx): the report, counters and previews for the form as typed."""
    post_id = request.POST.get("post", "")
    post = None
    if post_id.isdigit():
        post = Post.objects.for_user(request.user, roles.COMPOSE).filter(pk=int(post_id), brand=brand).first()
    form = ComposeForm(request.POST, brand=brand, user=request.user, networks=_brand_networks(request, brand, post))
    form.is_valid()
    values = _form_values(form)
    report, cards = _report_and_previews(brand, form, values)
    return render(request, "content/compose/_live.html", {
        "form": form, "report": report, "sections": _sections(form, report, cards, values), "oob": True,
    })


@brand_view(roles.COMPOSE)
@require_POST
def compose_utm(request, brand):
    """The UTM builder (htmx): the tagged URL for each chosen network, or short links."""
    ctx = Ctx.from_request(request)
    url = request.POST.get("utm_url", "")[:2100]
    campaign = None
    campaign_id = request.POST.get("campaign", "")
    if campaign_id.isdigit():
        campaign = get_object_or_404(Campaign.objects.for_user(request.user), pk=int(campaign_id), brand=brand)
    account_ids = [int(x) for x in request.POST.getlist("accounts") if x.isdigit()][: composer.MAX_ACCOUNTS]
    networks = set(SocialAccount.objects.for_user(request.user).filter(brand=brand, pk__in=account_ids)
                   .values_list("network", flat=True))
    error, rows, shortened = "", [], False
    if not networks:
        error = _("Choose at least one account first.")
    else:
        try:
            urls = composer.tagged_urls(brand, url, networks, campaign)
            if request.POST.get("shorten") == "1":
                post_id = request.POST.get("post", "")
                post = (Post.objects.for_user(request.user, roles.COMPOSE).filter(pk=int(post_id), brand=brand).first()
                        if post_id.isdigit() else None)
                urls = composer.do_create_tracked_links(ctx, brand, url, networks, campaign, post=post)
                shortened = True
        except ValidationError as exc:
            error = " ".join(exc.messages)
        else:
            rows = [{"network": n, "label": composer.network_label(n), "url": u} for n, u in urls.items()]
    return render(request, "content/compose/_utm.html", {"rows": rows, "error": error, "shortened": shortened})


class UtmPresetForm(forms.Form):
    network = forms.ChoiceField(choices=Network.choices, widget=forms.HiddenInput)
    utm_source = forms.CharField(label="utm_source", max_length=100)
    utm_medium = forms.CharField(label="utm_medium", max_length=100, initial="social")
    utm_content = forms.CharField(label="utm_content", max_length=100, required=False)


@brand_view(roles.COMPOSE)
def utm_presets(request, brand):
    """UTM presets per network. Open to whoever composes (COMPOSE): a preset only shapes the
    links a CM builds, it publishes nothing and changes no brand setting, and CMs are the
    ones who keep their tracking consistent day to day."""
    ctx = Ctx.from_request(request)
    presets = {p.network: p for p in UtmPreset.objects.for_user(request.user).filter(brand=brand)}
    failed: dict[str, UtmPresetForm] = {}
    if request.method == "POST":
        network = request.POST.get("network", "")
        if request.POST.get("delete") and network in presets:
            composer.do_delete_utm_preset(ctx, presets[network])
            messages.success(request, _("Preset removed; links on %(network)s use the defaults.")
                             % {"network": composer.network_label(network)})
            return redirect("utm_presets", brand.pk)
        form = UtmPresetForm(request.POST, auto_id=f"utm_{network[:16]}_%s")
        if form.is_valid():
            try:
                composer.do_save_utm_preset(ctx, brand, form.cleaned_data["network"],
                                            utm_source=form.cleaned_data["utm_source"],
                                            utm_medium=form.cleaned_data["utm_medium"],
                                            utm_content=form.cleaned_data["utm_content"])
            except ValidationError as exc:
                for key, errors in exc.message_dict.items():
                    form.add_error(key if key in form.fields else None, errors)
            else:
                messages.success(request, _("Preset saved."))
                return redirect("utm_presets", brand.pk)
        if network in Network.values:
            failed[network] = form
        else:
            messages.error(request, _("Unknown network."))
    rows = []
    for network in composer.NETWORK_ORDER:
        preset = presets.get(network)
        initial = {"network": network, "utm_source": preset.utm_source if preset else network,
                   "utm_medium": preset.utm_medium if preset else "social",
                   "utm_content": preset.utm_content if preset else ""}
        form = failed.get(network) or UtmPresetForm(initial=initial, auto_id=f"utm_{network}_%s")
        rows.append({"network": network, "label": composer.network_label(network), "preset": preset, "form": form})
    return render(request, "content/compose/utm_presets.html", {"rows": rows, "section_key": "compose"})
