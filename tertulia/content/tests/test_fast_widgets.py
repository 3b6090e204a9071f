"""fast_widgets render exactly what Django's widget templates render."""

import datetime

import pytest
from django import forms

from tertulia.content import fast_widgets

CASES = [
    (fast_widgets.Textarea, forms.Textarea, {"rows": 7, "data-master": ""}, ["", None, "a < b & \"c\" 'd'\nline"]),
    (fast_widgets.Textarea, forms.Textarea, {"required": True, "disabled": False, "placeholder": "<x>"}, ["x"]),
    (fast_widgets.HiddenInput, forms.HiddenInput, {}, [None, "", 0, 12, "\"><script>"]),
    (fast_widgets.DateInput, forms.DateInput, {"type": "date"}, [None, datetime.date(2026, 11, 5), "2026-13-01"]),
    (fast_widgets.TimeInput, forms.TimeInput, {"type": "time", "aria-invalid": "true"},
     [None, datetime.time(9, 5), "25:00"]),
]


@pytest.mark.parametrize("fast, slow, attrs, values", CASES)
def test_inputs_render_like_the_django_templates(fast, slow, attrs, values):
    for value in values:
        kwargs = {"format": "%Y-%m-%d"} if slow is forms.DateInput else {}
        kwargs = {"format": "%H:%M"} if slow is forms.TimeInput else kwargs
        got = fast(attrs=dict(attrs), **kwargs).render("f", value, attrs={"id": "id_f"})
        want = slow(attrs=dict(attrs), **kwargs).render("f", value, attrs={"id": "id_f"})
        assert got == want


def test_selects_render_like_the_django_templates():
    choices = [("", "---------"), ("a", "A & B"), (1, "<one>"),
               ("Group \"g\"", [("x", "X"), ("y", "Y")])]
    for value in (None, "", "a", 1, "1", "y", ["a"]):
        got = fast_widgets.Select(choices=choices, attrs={"class": "c"}).render("s", value, attrs={"id": "id_s"})
        want = forms.Select(choices=choices, attrs={"class": "c"}).render("s", value, attrs={"id": "id_s"})
        assert got == want


def test_an_unknown_template_falls_back_to_the_renderer():
    class Fast(fast_widgets.Textarea):
        template_name = "django/forms/widgets/checkbox.html"

    class Slow(forms.Textarea):
        template_name = "django/forms/widgets/checkbox.html"

    assert Fast().render("c", "x") == Slow().render("c", "x")
    assert fast_widgets.widget_html("django/forms/widgets/checkbox.html", {}) is None
