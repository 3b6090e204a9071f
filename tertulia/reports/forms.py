from django import forms
from django.utils.translation import gettext_lazy as _

from tertulia.strategy.forms import DateInput

from .models import MAX_RECIPIENTS, Kind, Weekday
from .services import MAX_SHARE_DAYS


class GenerateForm(forms.Form):
    kind = forms.ChoiceField(label=_("Report"), choices=Kind.choices)
    period_end = forms.DateField(label=_("Last day included"), widget=DateInput(),
                                 help_text=_("The weekly report covers the 7 days up to this day; the others the "
                                             "month, quarter or year that ends on it."))


class ShareForm(forms.Form):
    days = forms.IntegerField(label=_("Valid for (days)"), min_value=0, max_value=MAX_SHARE_DAYS, initial=30,
                              help_text=_("0: the link does not expire (you can still revoke it)."))


class ScheduleForm(forms.Form):
    kind = forms.ChoiceField(label=_("Report"), choices=Kind.choices)
    weekday = forms.TypedChoiceField(label=_("Day of the week"), choices=Weekday.choices, coerce=int,
                                     initial=Weekday.MONDAY,
                                     help_text=_("Weekly reports go out on this day at 08:00 (the brand's time "
                                                 "zone); the others on the first day of the month, quarter or year."))
    recipients = forms.CharField(label=_("Recipients"), max_length=MAX_RECIPIENTS * 256,
                                 widget=forms.Textarea(attrs={"rows": 3}),
                                 help_text=_("E-mail addresses separated by commas or lines, up to 50."))
    active = forms.BooleanField(label=_("Active"), required=False, initial=True)
