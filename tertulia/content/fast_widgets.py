"""Form widgets that render the HTML of Django's own widget templates in Python.

A big form (the composer has a dozen widgets) spends more time in the form renderer's
template engine than in everything else it does. These subclasses keep Django's widget
logic (``get_context``: values, formats, attributes, ``aria-*`` from the bound field, the
choices) and only replace the last step, rendering ``django/forms/widgets/input.html``,
``textarea.html``, ``select.html`` and ``select_option.html``: the same markup, the same
escaping. With another form renderer (``FORM_RENDERER``, whose templates may differ) or
another template, they render through it as usual.

The class names are Django's, so ``BoundField.widget_type`` is unchanged.
"""

from __future__ import annotations

from django import forms
from django.forms.models import ModelChoiceIterator
from django.forms.renderers import DjangoTemplates, get_default_renderer
from django.utils.html import conditional_escape
from django.utils.safestring import mark_safe

_INPUT = "django/forms/widgets/input.html"
_INPUTS = {_INPUT, "django/forms/widgets/text.html", "django/forms/widgets/date.html",
           "django/forms/widgets/time.html", "django/forms/widgets/hidden.html"}
_TEXTAREA = "django/forms/widgets/textarea.html"
_SELECT = "django/forms/widgets/select.html"
_OPTION = "django/forms/widgets/select_option.html"


def _attrs(attrs: dict) -> str:
    """``django/forms/widgets/attrs.html``."""
    out = []
    for name, value in attrs.items():
        if value is False:
            continue
        if value is True:
            out.append(f" {conditional_escape(name)}")
        else:
            out.append(f' {conditional_escape(name)}="{conditional_escape("%s" % (value,))}"')
    return "".join(out)


def _option(option: dict) -> str | None:
    if option.get("template_name") != _OPTION:
        return None
    return (f'<option value="{conditional_escape("%s" % (option["value"],))}"{_attrs(option["attrs"])}>'
            f'{conditional_escape(option["label"])}</option>')


def widget_html(template_name: str, widget: dict) -> str | None:
    """The widget's HTML as the template renders it (stripped, like the form renderer), or None
    for a template this module does not know."""
    if template_name not in _INPUTS and template_name not in (_TEXTAREA, _SELECT):
        return None
    name = conditional_escape(widget["name"])
    if template_name in _INPUTS:
        value = widget["value"]
        shown = f' value="{conditional_escape("%s" % (value,))}"' if value is not None else ""
        return f'<input type="{conditional_escape(widget["type"])}" name="{name}"{shown}{_attrs(widget["attrs"])}>'
    if template_name == _TEXTAREA:
        value = widget["value"]
        return (f'<textarea name="{name}"{_attrs(widget["attrs"])}>\n'
                f'{conditional_escape(value) if value else ""}</textarea>')
    if template_name == _SELECT:
        parts = [f'<select name="{name}"{_attrs(widget["attrs"])}>']
        for group_name, group_choices, _index in widget["optgroups"]:
            if group_name:
                parts.append(f'\n  <optgroup label="{conditional_escape(group_name)}">')
            for option in group_choices:
                html = _option(option)
                if html is None:
                    return None
                # select_option.html ends with a newline, kept inside the select.
                parts.append(f"\n  {html}\n")
            if group_name:
                parts.append("\n  </optgroup>")
        parts.append("\n</select>")
        return "".join(parts)
    return None


class _PythonRendered:
    def _render(self, template_name, context, renderer=None):
        if renderer is None:
            renderer = get_default_renderer()
        if type(renderer) is DjangoTemplates:
            html = widget_html(template_name, context["widget"])
            if html is not None:
                return mark_safe(html)  # nosec B308 B703 # widget_html escapes every value (conditional_escape)
        return super()._render(template_name, context, renderer)


class Textarea(_PythonRendered, forms.Textarea):
    pass


class Select(_PythonRendered, forms.Select):
    pass


class DateInput(_PythonRendered, forms.DateInput):
    pass


class TimeInput(_PythonRendered, forms.TimeInput):
    pass


class HiddenInput(_PythonRendered, forms.HiddenInput):
    pass


class ListedModelChoiceIterator(ModelChoiceIterator):
    """Iterates the queryset with a plain fetch instead of ``.iterator()``: the same rows in the
    same order, without a server-side cursor (three round trips on PostgreSQL) for a short list."""

    def __iter__(self):
        if self.field.empty_label is not None:
            yield ("", self.field.empty_label)
        for obj in self.queryset.all():
            yield self.choice(obj)
