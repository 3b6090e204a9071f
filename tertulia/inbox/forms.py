"""Forms of the inbox pages. They only check shapes and sizes; the rules live in services."""

from __future__ import annotations

from datetime import datetime, timezone as dt_timezone

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from .models import Conversation, Interaction

MAX_BULK = 500  # conversations per bulk action
MAX_REPLY = 10000  # characters; each network's own limit is checked by replies.do_reply

BULK_ACTIONS = [
    ("assign_me", _("Assign to me")),
    ("assign", _("Assign to…")),
    ("unassign", _("Unassign")),
    ("label", _("Add label")),
    ("unlabel", _("Remove label")),
    ("close", _("Close")),
    ("reopen", _("Reopen")),
    ("wait", _("Wait for the customer")),
]

STATUS_ACTIONS = {
    "close": Conversation.Status.CLOSED,
    "reopen": Conversation.Status.OPEN,
    "wait": Conversation.Status.PENDING,
}


def _ids(values: list[str]) -> list[int]:
    if len(values) > MAX_BULK:
        raise ValidationError(_("Select at most %(n)s conversations at once."), params={"n": MAX_BULK})
    ids = []
    for v in values:
        try:
            n = int(v)
        except (TypeError, ValueError):
            raise ValidationError(_("The selection is not valid.")) from None
        if n <= 0 or n > 2**62:
            raise ValidationError(_("The selection is not valid."))
        ids.append(n)
    return sorted(set(ids))


class BulkForm(forms.Form):
    action = forms.ChoiceField(label=_("Action"), choices=BULK_ACTIONS)
    assignee = forms.CharField(label=_("Assignee"), required=False, max_length=20)
    label = forms.CharField(label=_("Label"), required=False, max_length=60)

    def __init__(self, data=None, *args, **kwargs):
        super().__init__(data, *args, **kwargs)
        self._raw_ids = data.getlist("ids") if data is not None and hasattr(data, "getlist") else []

    def clean(self):
        cleaned = super().clean()
        cleaned["ids"] = _ids(self._raw_ids)
        if not cleaned["ids"]:
            raise ValidationError(_("Select at least one conversation."))
        action = cleaned.get("action")
        if action in ("label", "unlabel") and not (cleaned.get("label") or "").strip():
            self.add_error("label", _("Choose a label."))
        if action == "assign" and not cleaned.get("assignee"):
            self.add_error("assignee", _("Choose who to assign to."))
        return cleaned


class AssignForm(forms.Form):
    # "me", "none" or a member's user id
    assignee = forms.CharField(label=_("Assignee"), max_length=20)


class LabelForm(forms.Form):
    add = forms.CharField(label=_("Add label"), required=False, max_length=60)
    remove = forms.CharField(label=_("Remove label"), required=False, max_length=60)

    def clean(self):
        cleaned = super().clean()
        if not (cleaned.get("add") or "").strip() and not (cleaned.get("remove") or "").strip():
            raise ValidationError(_("Choose a label."))
        return cleaned


class StatusForm(forms.Form):
    status = forms.ChoiceField(label=_("Status"), choices=Conversation.Status.choices)


RELABEL_VALUES = {
    "sentiment": Interaction.Sentiment.values,
    "intent": Interaction.Intent.values,
    "toxic": ["yes", "no"],
}


class RelabelForm(forms.Form):
    field = forms.ChoiceField(choices=[(k, k) for k in RELABEL_VALUES])
    value = forms.CharField(max_length=16)

    def clean(self):
        cleaned = super().clean()
        field, value = cleaned.get("field"), cleaned.get("value")
        if field and value is not None and value not in RELABEL_VALUES[field]:
            self.add_error("value", _("Choose one of the listed values."))
        return cleaned


class ReplyForm(forms.Form):
    text = forms.CharField(label=_("Your answer"), max_length=MAX_REPLY,
                           widget=forms.Textarea(attrs={"rows": 5, "id": "reply-text"}))
    # When the writer opened the page (a Unix timestamp): a colleague's answer after it makes
    # us ask before sending a second one.
    opened_at = forms.CharField(required=False, max_length=40, widget=forms.HiddenInput)
    confirm = forms.BooleanField(required=False, widget=forms.HiddenInput)

    def clean_opened_at(self) -> datetime | None:
        raw = self.cleaned_data.get("opened_at") or ""
        if not raw:
            return None
        try:
            value = float(raw)
        except ValueError:
            return None
        if not (0 < value < 2**40):
            return None
        return datetime.fromtimestamp(value, tz=dt_timezone.utc)
