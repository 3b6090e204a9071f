"""Number formatting for the analytics pages: an unknown figure (None) is a dash with a note,
never 0; a known one is formatted in the reader's language (``floatformat`` with grouping)."""

from django import template
from django.template.defaultfilters import floatformat
from django.utils.formats import get_format
from django.utils.html import conditional_escape, format_html
from django.utils.safestring import mark_safe
from django.utils.translation import get_language
from django.utils.translation import gettext as _

register = template.Library()

# ``floatformat`` arguments that show a whole number without decimals ("0g", "-2g"…): the
# grouped digits, which ``grouped_int`` builds without floatformat's Decimal round trip.
_WHOLE_WHEN_INTEGER = frozenset({"0g", "-1g", "-2g", "-3g"})


def grouped_int(value: int) -> str | None:
    """An int grouped by thousands in the active language, exactly as ``floatformat(value,
    "0g")`` (and ``numberformat.format`` with force_grouping) writes it; None when the
    language groups otherwise than by threes (the caller falls back to Django)."""
    if get_format("NUMBER_GROUPING") != 3:
        return None
    return f"{value:,}".replace(",", get_format("THOUSAND_SEPARATOR"))


def _format(value, places: str):
    if type(value) is int and places in _WHOLE_WHEN_INTEGER:
        text = grouped_int(value)
        if text is not None:
            return mark_safe(text)  # nosec B308 B703 # digits and the language's separator only
    return floatformat(value, places)


@register.filter
def num(value, places="0g"):
    """``{{ value|num:"-2g" }}``: the number, or "—" (with why, in a tooltip) when unknown."""
    if value is None:
        return format_html('<span class="missing" title="{}">—</span>', _("Unknown: the networks did not report it"))
    return _format(value, places)


@register.simple_tag
def figure(value, places="0g", unit=""):
    """``{% figure value "-2g" " %" %}``: like ``num``, with a unit after a known number."""
    if value is None:
        return num(None)
    return mark_safe(f"{_format(value, places)}{conditional_escape(unit)}")  # nosec B308 B703 # formatted number (safe), unit escaped as format_html does



# Widget HTML by (form class, field, id, value, error state, language): all it depends on.
_WIDGETS: dict[tuple, str] = {}
_WIDGETS_MAX = 512


@register.simple_tag
def widget(field):
    """``{% widget field %}`` writes what ``{{ field }}`` writes, built once per form class, field,
    value, error state and language: Django renders each widget, and each option of a select,
    through templates, which costs more than the rest of the period form."""
    try:
        key = (type(field.form), field.html_name, field.auto_id, field.value(), bool(field.errors), get_language())
        html = _WIDGETS.get(key)
    except TypeError:  # an unhashable value (a list): not memoised
        return str(field)
    if html is None:
        html = str(field)
        if len(_WIDGETS) >= _WIDGETS_MAX:
            _WIDGETS.clear()
        _WIDGETS[key] = html
    return html
