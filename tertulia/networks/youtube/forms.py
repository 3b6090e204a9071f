from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from . import options as opts


class VideoSettingsForm(forms.Form):
    """A post's YouTube fields. The publication time is typed in the brand's time zone."""

    title = forms.CharField(label=_("Title"), required=False, max_length=opts.MAX_TITLE,
                            help_text=_("At most 100 characters, without < or >. Empty: the first line of the text."))
    tags = forms.CharField(label=_("Tags"), required=False, max_length=2000,
                           help_text=_("Separated by commas; at most 500 characters in all. Empty: the text's "
                                       "hashtags."))
    privacy = forms.ChoiceField(label=_("Privacy"), choices=[
        ("public", _("Public")), ("unlisted", _("Unlisted")), ("private", _("Private"))])
    publish_at = forms.DateTimeField(label=_("Publish at"), required=False,
                                     widget=forms.DateTimeInput(attrs={"type": "datetime-local"}),
                                     input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M", "%Y-%m-%d %H:%M:%S"],
                                     help_text=_("Optional, in the brand's time zone. The video is uploaded as "
                                                 "private and YouTube makes it public at this time."))
    category_id = forms.RegexField(label=_("Category number"), regex=r"^\d{1,3}$", max_length=3, initial="22",
                                   help_text=_("YouTube's category number; 22 is People & Blogs."))
    made_for_kids = forms.BooleanField(label=_("Made for kids"), required=False)

    def __init__(self, *args, brand, **kwargs):
        self.brand = brand
        super().__init__(*args, **kwargs)

    def clean_publish_at(self):
        from tertulia.content.calendar import make_aware_local

        value = self.cleaned_data.get("publish_at")
        if value is None:
            return None
        return make_aware_local(value.replace(tzinfo=None), self.brand.tzinfo)

    def clean_tags(self):
        tags = opts.parse_tags(self.cleaned_data.get("tags") or "")
        if len(tags) > 100:
            raise forms.ValidationError(_("At most 100 tags."))
        return tags
