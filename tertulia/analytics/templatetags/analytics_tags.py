"""Number formatting for the analytics pages: an unknown figure (None) is a dash with a note,
never 0; a known one is formatted in the reader's language (``floatformat`` with grouping)."""

from django import template
from django.template.defaultfilters import floatformat
from django.utils.html import format_html
from django.utils.translation import gettext as _

register = template.Library()


@register.filter
def num(value, places="0g"):
    """``{{ value|num:"-2g" }}``: the number, or "—" (with why, in a tooltip) when unknown."""
    if value is None:
        return format_html('<span class="missing" title="{}">—</span>', _("Unknown: the networks did not report it"))
    return floatformat(value, places)


@register.simple_tag
def figure(value, places="0g", unit=""):
    """``{% figure value "-2g" " %" %}``: like ``num``, with a unit after a known number."""
    if value is None:
        return num(None)
    return format_html("{}{}", floatformat(value, places), unit)
