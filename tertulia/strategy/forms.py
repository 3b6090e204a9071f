from django import forms
from django.utils.translation import gettext_lazy as _

from .models import KPI

BETTER_CHOICES = [
    ("", _("As usual for this metric")),
    ("higher", _("Higher is better")),
    ("lower", _("Lower is better")),
]


class DateInput(forms.DateInput):
    input_type = "date"

    def __init__(self, attrs=None):
        # The browser's date picker speaks ISO 8601 and shows the date in the user's locale.
        super().__init__(attrs=attrs, format="%Y-%m-%d")


class ObjectiveForm(forms.Form):
    name = forms.CharField(label=_("Objective"), max_length=200,
                           help_text=_("For example: grow the community 15% this quarter."))
    period_start = forms.DateField(label=_("From"), widget=DateInput())
    period_end = forms.DateField(label=_("To"), widget=DateInput())

    def clean(self):
        data = super().clean()
        start, end = data.get("period_start"), data.get("period_end")
        if start and end and end < start:
            self.add_error("period_end", _("The end comes before the start."))
        return data


class KPIForm(forms.Form):
    metric = forms.ChoiceField(label=_("Metric"), choices=KPI.Metric.choices)
    target = forms.DecimalField(label=_("Target"), max_digits=14, decimal_places=2, localize=True,
                                help_text=_("Percentages as a number, for example 3.5 for 3.5%."))
    better = forms.ChoiceField(label=_("Better when"), choices=BETTER_CHOICES, required=False)

    def lower_is_better(self) -> bool | None:
        return {"higher": False, "lower": True}.get(self.cleaned_data.get("better") or "")


class PillarForm(forms.Form):
    name = forms.CharField(label=_("Pillar"), max_length=80)
    target_share = forms.IntegerField(label=_("Target share (%)"), min_value=0, max_value=100)
    color = forms.RegexField(label=_("Colour"), regex=r"^#[0-9a-fA-F]{6}$", initial="#6b7280",
                             widget=forms.TextInput(attrs={"type": "color"}),
                             error_messages={"invalid": _("Enter a colour as #rrggbb, for example #2563eb.")})
