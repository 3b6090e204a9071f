"""Inbox settings pages under /brands/<id>/settings/inbox/: saved replies (with a live preview),
rules (conditions and actions, order, on/off), labels, and the service targets with escalation.

Thin: forms check shapes and sizes, every write is a ``config.do_*`` call (permissions, limits,
audit log). Anyone in the brand can read these pages; saved replies and labels are kept by whoever
works the inbox (REPLY), rules and targets by owners and managers (MANAGE_BRAND).
"""

from __future__ import annotations

from django import forms
from django.conf import settings
from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Count
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from tertulia.core import roles
from tertulia.core.models import Membership
from tertulia.core.scoping import permissions_in
from tertulia.core.services import Ctx
from tertulia.core.views import _apply_errors, _errors_to_messages, brand_view
from tertulia.networks.models import Network

from . import config
from .models import Conversation, InboxRule, Interaction, Label, SavedReply

MAX_KEYWORDS = 50
MAX_RULE_LABELS = 20
LANGUAGE_CONDITIONS = settings.LANGUAGES


def _perms(request, brand) -> frozenset:
    return permissions_in(request.user, brand)


def _split(value: str) -> list[str]:
    """Items typed one per line or separated by commas, trimmed, without repeats."""
    seen, out = set(), []
    for part in (value or "").replace("\n", ",").split(","):
        part = " ".join(part.split())
        if part and part.lower() not in seen:
            seen.add(part.lower())
            out.append(part)
    return out


def _page(request, template: str, subtab: str, **context):
    perms = _perms(request, request.brand)
    return render(request, f"inbox/settings/{template}", {
        "tab": "inbox", "subtab": subtab, "can_reply": roles.REPLY in perms,
        "can_manage": roles.MANAGE_BRAND in perms, **context,
    })


# --- Saved replies ----------------------------------------------------------------------------

class SavedReplyForm(forms.Form):
    title = forms.CharField(label=gettext_lazy("Title"), max_length=120,
                            help_text=gettext_lazy("What the team picks it by, e.g. “Opening hours”."))
    language = forms.ChoiceField(label=gettext_lazy("Language"), choices=settings.LANGUAGES)
    text = forms.CharField(
        label=gettext_lazy("Text"), max_length=5000,
        widget=forms.Textarea(attrs={"rows": 6, "data-preview-source": "1"}),
        help_text=gettext_lazy("Variables: {name} (the person's name), {handle}, {brand} and {agent} (you)."))


def _saved(request, brand, saved_reply_id, permission=roles.REPLY) -> SavedReply:
    return get_object_or_404(SavedReply.objects.for_user(request.user, permission), pk=saved_reply_id, brand=brand)


@brand_view()
def saved_reply_list(request, brand):
    language = request.GET.get("language", "")
    qs = SavedReply.objects.for_user(request.user).filter(brand=brand)
    if language in dict(settings.LANGUAGES):
        qs = qs.filter(language=language)
    else:
        language = ""
    rows = list(qs.order_by("title", "language", "pk")[:config.MAX_SAVED_REPLIES])
    # Which titles exist in which language, to offer the missing translation.
    have = {}
    for title, lang in SavedReply.objects.filter(brand=brand).values_list("title", "language"):
        have.setdefault(title.lower(), set()).add(lang)
    langs = dict(settings.LANGUAGES)
    items = []
    for s in rows:
        missing = [code for code in langs if code not in have.get(s.title.lower(), set())]
        items.append({"saved": s, "missing": [(code, langs[code]) for code in missing]})
    return _page(request, "saved_replies.html", "replies", items=items, language=language,
                 languages=settings.LANGUAGES)


@brand_view(roles.REPLY)
def saved_reply_edit(request, brand, saved_reply_id=None):
    saved = _saved(request, brand, saved_reply_id) if saved_reply_id is not None else None
    if saved is not None:
        initial = {f: getattr(saved, f) for f in config.SAVED_REPLY_FIELDS}
    else:
        # "Add the other language": the same title, in the language asked for.
        initial = {"title": request.GET.get("title", "")[:120],
                   "language": request.GET.get("language") or brand.language}
    form = SavedReplyForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            saved = config.do_save_saved_reply(Ctx.from_request(request), brand, saved, **form.cleaned_data)
        except ValidationError as exc:
            _apply_errors(form, exc)
            if saved is not None and saved.pk:
                saved.refresh_from_db()
        else:
            messages.success(request, _("Saved reply saved."))
            return redirect("inbox_saved_replies", brand.pk)
    text = form.data.get("text", "") if form.is_bound else initial.get("text", "")
    return _page(request, "saved_reply_form.html", "replies", form=form, saved=saved,
                 preview=_preview_context(request, brand, text))


def _preview_context(request, brand, text: str) -> dict:
    text = (text or "")[:5000]
    agent = request.user.get_full_name() or request.user.get_username()
    return {"text": config.preview(text, brand, agent), "unknown": config.unknown_variables(text),
            "samples": {**config.SAMPLE_VALUES, "brand": brand.name, "agent": agent}}


@brand_view()
def saved_reply_preview(request, brand):
    """The text with sample values in its variables (htmx, while typing)."""
    text = request.GET.get("text", "") if request.method == "GET" else request.POST.get("text", "")
    return render(request, "inbox/settings/_preview.html", {"preview": _preview_context(request, brand, text)})


@brand_view(roles.REPLY)
@require_POST
def saved_reply_delete(request, brand, saved_reply_id):
    saved = _saved(request, brand, saved_reply_id)
    config.do_delete_saved_reply(Ctx.from_request(request), saved)
    messages.success(request, _("Saved reply deleted."))
    return redirect("inbox_saved_replies", brand.pk)


# --- Rules ----------------------------------------------------------------------------------------

class RuleForm(forms.Form):
    name = forms.CharField(label=gettext_lazy("Name"), max_length=120,
                           help_text=gettext_lazy("For example: “Hide insults” or “Complaints to Laura”."))
    enabled = forms.BooleanField(label=gettext_lazy("Enabled"), required=False, initial=True)
    # When…
    networks = forms.MultipleChoiceField(label=gettext_lazy("Networks"), choices=Network.choices, required=False,
                                         widget=forms.CheckboxSelectMultiple)
    languages = forms.MultipleChoiceField(label=gettext_lazy("Languages"), choices=LANGUAGE_CONDITIONS,
                                          required=False, widget=forms.CheckboxSelectMultiple)
    kinds = forms.MultipleChoiceField(label=gettext_lazy("Kinds"), choices=Conversation.Kind.choices, required=False,
                                      widget=forms.CheckboxSelectMultiple)
    intents = forms.MultipleChoiceField(label=gettext_lazy("Intents"), choices=Interaction.Intent.choices,
                                        required=False, widget=forms.CheckboxSelectMultiple)
    sentiments = forms.MultipleChoiceField(label=gettext_lazy("Sentiments"), choices=Interaction.Sentiment.choices,
                                           required=False, widget=forms.CheckboxSelectMultiple)
    min_toxicity = forms.IntegerField(label=gettext_lazy("Toxicity at least (%)"), min_value=0, max_value=100,
                                      required=False,
                                      help_text=gettext_lazy("0–100. Insults and trolls score high."))
    min_urgency = forms.IntegerField(label=gettext_lazy("Urgency at least"), min_value=0, max_value=100,
                                     required=False, help_text=gettext_lazy("0–100, the priority in the inbox."))
    keywords = forms.CharField(label=gettext_lazy("Any of these words"), required=False, max_length=5000,
                               widget=forms.Textarea(attrs={"rows": 2}),
                               help_text=gettext_lazy("Separated by commas; capitals and accents are ignored."))
    # …then
    assign_to = forms.TypedChoiceField(label=gettext_lazy("Assign to"), required=False, coerce=int, empty_value=None)
    labels = forms.MultipleChoiceField(label=gettext_lazy("Add labels"), required=False,
                                       widget=forms.CheckboxSelectMultiple)
    new_labels = forms.CharField(label=gettext_lazy("New labels"), required=False, max_length=1300,
                                 help_text=gettext_lazy("Separated by commas; they are created when the rule is saved."))
    flag = forms.BooleanField(label=gettext_lazy("Flag for review"), required=False)
    hide = forms.BooleanField(label=gettext_lazy("Hide the comment on the network (where the network allows it)"),
                              required=False)
    escalate = forms.BooleanField(label=gettext_lazy("Escalate by e-mail"), required=False,
                                  help_text=gettext_lazy("To the escalation addresses in Service targets, or the "
                                                         "brand's managers."))
    close = forms.BooleanField(label=gettext_lazy("Close the conversation (for example, spam)"), required=False)

    CONDITION_FIELDS = ("networks", "languages", "kinds", "intents", "sentiments", "min_toxicity", "min_urgency",
                        "keywords")
    ACTION_FIELDS = ("assign_to", "labels", "flag", "hide", "escalate", "close")

    def __init__(self, *args, brand, **kwargs):
        super().__init__(*args, **kwargs)
        members = (Membership.objects.filter(brand=brand, role__in=roles.roles_with(roles.REPLY))
                   .select_related("user").order_by("user__first_name", "user__username"))
        self.fields["assign_to"].choices = [("", _("Nobody"))] + [
            (m.user_id, m.user.get_full_name() or m.user.get_username()) for m in members]
        names = list(Label.objects.filter(brand=brand).order_by("name").values_list("name", flat=True))
        # A rule may name a label that was deleted since (rules create labels when they act).
        names += [n for n in (self.initial.get("labels") or []) if n not in names]
        self.fields["labels"].choices = [(n, n) for n in names]

    def clean_keywords(self):
        words = _split(self.cleaned_data.get("keywords", ""))
        if len(words) > MAX_KEYWORDS:
            raise ValidationError(_("At most %(max)s words.") % {"max": MAX_KEYWORDS})
        if any(len(w) > 100 for w in words):
            raise ValidationError(_("Each word or phrase can have at most 100 characters."))
        return words

    def clean_new_labels(self):
        names = _split(self.cleaned_data.get("new_labels", ""))
        if any(len(n) > 60 for n in names):
            raise ValidationError(_("A label name can have at most 60 characters."))
        return names

    def clean(self):
        data = super().clean()
        labels = list(data.get("labels") or [])
        for name in data.get("new_labels") or []:
            if name.lower() not in (n.lower() for n in labels):
                labels.append(name)
        if len(labels) > MAX_RULE_LABELS:
            self.add_error("new_labels", _("A rule can add at most %(max)s labels.") % {"max": MAX_RULE_LABELS})
        data["labels"] = labels
        return data

    def conditions(self) -> dict:
        d = getattr(self, "cleaned_data", {})
        out = {k: d[k] for k in ("networks", "languages", "kinds", "intents", "sentiments", "keywords") if d.get(k)}
        if d.get("min_toxicity") is not None:
            out["min_toxicity"] = d["min_toxicity"] / 100
        if d.get("min_urgency") is not None:
            out["min_urgency"] = d["min_urgency"]
        return out

    def actions(self) -> dict:
        d = self.cleaned_data
        out = {k: True for k in ("flag", "hide", "escalate", "close") if d.get(k)}
        if d.get("assign_to"):
            out["assign_to"] = d["assign_to"]
        if d.get("labels"):
            out["labels"] = d["labels"]
        return out

    @staticmethod
    def initial_for(rule: InboxRule) -> dict:
        c, a = rule.conditions or {}, rule.actions or {}
        initial = {"name": rule.name, "enabled": rule.enabled}
        for key in ("networks", "languages", "kinds", "intents", "sentiments"):
            initial[key] = list(c.get(key) or [])
        if c.get("min_toxicity") is not None:
            initial["min_toxicity"] = round(float(c["min_toxicity"]) * 100)
        if c.get("min_urgency") is not None:
            initial["min_urgency"] = c["min_urgency"]
        initial["keywords"] = ", ".join(c.get("keywords") or [])
        initial["assign_to"] = a.get("assign_to") or ""
        initial["labels"] = list(a.get("labels") or [])
        for key in ("flag", "hide", "escalate", "close"):
            initial[key] = bool(a.get(key))
        return initial

    def condition_fields(self):
        return [self[name] for name in self.CONDITION_FIELDS]

    def action_fields(self):
        return [self[name] for name in ("assign_to", "labels", "new_labels", "flag", "hide", "escalate", "close")]


def _rule(request, brand, rule_id, permission=roles.MANAGE_BRAND) -> InboxRule:
    return get_object_or_404(InboxRule.objects.for_user(request.user, permission), pk=rule_id, brand=brand)


def describe_rule(rule: InboxRule, members: dict, brand) -> dict:
    """The rule in words, for the list: [(label, values)] for its conditions and its actions."""
    c, a = rule.conditions or {}, rule.actions or {}
    names = {
        "networks": dict(Network.choices), "languages": dict(LANGUAGE_CONDITIONS),
        "kinds": dict(Conversation.Kind.choices), "intents": dict(Interaction.Intent.choices),
        "sentiments": dict(Interaction.Sentiment.choices),
    }
    titles = {"networks": _("Networks"), "languages": _("Languages"), "kinds": _("Kinds"), "intents": _("Intents"),
              "sentiments": _("Sentiments"), "keywords": _("Words")}
    when = []
    for key in ("networks", "languages", "kinds", "intents", "sentiments"):
        if c.get(key):
            when.append((titles[key], ", ".join(str(names[key].get(v, v)) for v in c[key])))
    if c.get("keywords"):
        when.append((titles["keywords"], ", ".join(c["keywords"])))
    if c.get("min_toxicity") is not None:
        when.append((_("Toxicity at least"), f"{round(float(c['min_toxicity']) * 100)} %"))
    if c.get("min_urgency") is not None:
        when.append((_("Urgency at least"), str(c["min_urgency"])))
    then = []
    if a.get("assign_to"):
        then.append((_("Assign to"), members.get(a["assign_to"], _("a former member"))))
    if a.get("labels"):
        then.append((_("Add labels"), ", ".join(a["labels"])))
    for key, text in (("flag", _("Flag for review")), ("hide", _("Hide on the network")),
                      ("escalate", _("Escalate by e-mail")), ("close", _("Close"))):
        if a.get(key):
            then.append((text, ""))
    return {"rule": rule, "when": when, "then": then}


def _members(brand) -> dict:
    return {m.user_id: (m.user.get_full_name() or m.user.get_username())
            for m in Membership.objects.filter(brand=brand).select_related("user")}


@brand_view()
def rule_list(request, brand):
    rules = list(InboxRule.objects.for_user(request.user).filter(brand=brand).order_by("position", "pk"))
    members = _members(brand)
    return _page(request, "rules.html", "rules", rows=[describe_rule(r, members, brand) for r in rules],
                 last=len(rules) - 1)


@brand_view(roles.MANAGE_BRAND)
def rule_edit(request, brand, rule_id=None):
    rule = _rule(request, brand, rule_id) if rule_id is not None else None
    initial = RuleForm.initial_for(rule) if rule is not None else {"enabled": True}
    form = RuleForm(request.POST or None, initial=initial, brand=brand)
    if request.method == "POST" and form.is_valid():
        try:
            rule = config.do_save_rule(Ctx.from_request(request), brand, rule, name=form.cleaned_data["name"],
                                       enabled=form.cleaned_data["enabled"], conditions=form.conditions(),
                                       actions=form.actions())
        except ValidationError as exc:
            _apply_errors(form, exc)
            if rule is not None and rule.pk:
                rule.refresh_from_db()
        else:
            messages.success(request, _("Rule saved."))
            return redirect("inbox_rules", brand.pk)
    return _page(request, "rule_form.html", "rules", form=form, rule=rule)


@brand_view(roles.MANAGE_BRAND)
@require_POST
def rule_try(request, brand):
    """The form's conditions tried on the latest messages (htmx, before saving)."""
    form = RuleForm(request.POST, brand=brand)
    form.is_valid()
    errors = [e for name in RuleForm.CONDITION_FIELDS for e in form.errors.get(name, [])]
    result = None if errors else config.dry_run(brand, form.conditions())
    return render(request, "inbox/settings/_rule_try.html", {"result": result, "errors": errors})


@brand_view(roles.MANAGE_BRAND)
@require_POST
def rule_toggle(request, brand, rule_id):
    rule = _rule(request, brand, rule_id)
    try:
        config.do_save_rule(Ctx.from_request(request), brand, rule, enabled=not rule.enabled)
    except (ValidationError, PermissionDenied) as exc:
        _errors_to_messages(request, exc)
    else:
        messages.success(request, _("Rule enabled.") if rule.enabled else _("Rule disabled."))
    return redirect("inbox_rules", brand.pk)


@brand_view(roles.MANAGE_BRAND)
@require_POST
def rule_move(request, brand, rule_id):
    rule = _rule(request, brand, rule_id)
    offset = {"up": -1, "down": 1, "first": -config.MAX_RULES, "last": config.MAX_RULES}.get(
        request.POST.get("direction", ""))
    if offset is None:
        messages.error(request, _("Choose where to move the rule."))
    else:
        config.do_move_rule(Ctx.from_request(request), rule, offset)
    return redirect("inbox_rules", brand.pk)


@brand_view(roles.MANAGE_BRAND)
@require_POST
def rule_delete(request, brand, rule_id):
    rule = _rule(request, brand, rule_id)
    config.do_delete_rule(Ctx.from_request(request), rule)
    messages.success(request, _("Rule deleted."))
    return redirect("inbox_rules", brand.pk)


# --- Labels -----------------------------------------------------------------------------------------

class LabelForm(forms.Form):
    name = forms.CharField(label=gettext_lazy("Label"), max_length=60)


def _label(request, brand, label_id, permission=roles.REPLY) -> Label:
    return get_object_or_404(Label.objects.for_user(request.user, permission), pk=label_id, brand=brand)


@brand_view()
def label_list(request, brand):
    """The brand's labels with how many conversations carry each; POST creates one."""
    form = LabelForm(request.POST or None)
    if request.method == "POST":
        if roles.REPLY not in _perms(request, brand):
            raise PermissionDenied
        if form.is_valid():
            try:
                config.do_save_label(Ctx.from_request(request), brand, None, name=form.cleaned_data["name"])
            except ValidationError as exc:
                _apply_errors(form, exc)
            else:
                messages.success(request, _("Label created."))
                return redirect("inbox_labels", brand.pk)
    labels = (Label.objects.for_user(request.user).filter(brand=brand).annotate(n=Count("conversations"))
              .order_by("name"))
    return _page(request, "labels.html", "labels", form=form, labels=labels)


@brand_view(roles.REPLY)
def label_edit(request, brand, label_id):
    label = _label(request, brand, label_id)
    form = LabelForm(request.POST or None, initial={"name": label.name})
    if request.method == "POST" and form.is_valid():
        try:
            config.do_save_label(Ctx.from_request(request), brand, label, name=form.cleaned_data["name"])
        except ValidationError as exc:
            _apply_errors(form, exc)
            label.refresh_from_db()
        else:
            messages.success(request, _("Label renamed."))
            return redirect("inbox_labels", brand.pk)
    rules = [r.name for r in InboxRule.objects.filter(brand=brand).order_by("position", "pk")
             if label.name in ((r.actions or {}).get("labels") or [])]
    return _page(request, "label_form.html", "labels", form=form, label=label,
                 count=label.conversations.count(), rules=rules)


@brand_view(roles.REPLY)
@require_POST
def label_delete(request, brand, label_id):
    label = _label(request, brand, label_id)
    config.do_delete_label(Ctx.from_request(request), label)
    messages.success(request, _("Label deleted."))
    return redirect("inbox_labels", brand.pk)


# --- Service targets and escalation ----------------------------------------------------------------

class InboxSettingsForm(forms.Form):
    first_response_minutes = forms.IntegerField(
        label=gettext_lazy("First response within (minutes)"), min_value=1, max_value=config.MAX_MINUTES,
        help_text=gettext_lazy("From the moment a person writes until the team's first answer."))
    resolution_minutes = forms.IntegerField(
        label=gettext_lazy("Resolved within (minutes)"), min_value=1, max_value=config.MAX_MINUTES,
        help_text=gettext_lazy("Until the conversation is closed. 1440 minutes is one day."))
    escalation_urgency = forms.IntegerField(
        label=gettext_lazy("Escalate complaints from this urgency (0–100)"), min_value=0, max_value=100)
    escalation_emails = forms.CharField(
        label=gettext_lazy("Escalate to these e-mails"), required=False, max_length=2000,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=gettext_lazy("One per line. Empty: the brand's managers."))


@brand_view()
def inbox_settings(request, brand):
    obj = config.inbox_settings(brand)
    can_manage = roles.MANAGE_BRAND in _perms(request, brand)
    initial = {f: getattr(obj, f) for f in config.SETTINGS_FIELDS}
    form = InboxSettingsForm(request.POST or None, initial=initial)
    if request.method == "POST":
        if not can_manage:
            raise PermissionDenied
        if form.is_valid():
            try:
                config.do_save_inbox_settings(Ctx.from_request(request), brand, **form.cleaned_data)
            except ValidationError as exc:
                _apply_errors(form, exc)
            else:
                messages.success(request, _("Service targets saved."))
                return redirect("inbox_settings", brand.pk)
    return _page(request, "sla.html", "sla", form=form, settings_obj=obj,
                 emails=config.escalation_emails(obj))
