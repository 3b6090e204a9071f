"""Connecting a Joomla site: a form for the address, the API token and the publishing
options, checked against the site (``connect.check_site``) before anything is stored."""

from __future__ import annotations

import logging
import re

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods
from django.views.decorators.debug import sensitive_post_parameters

from tertulia.core import roles
from tertulia.core.services import Ctx
from tertulia.core.views import _apply_errors, brand_view

from ..errors import AuthExpired, ConnectorError
from . import connect, services
from .connector import normalize_site_url

log = logging.getLogger(__name__)

_TOKEN = re.compile(r"^[A-Za-z0-9+/=]{16,1000}$")


class JoomlaConnectForm(forms.Form):
    site = forms.CharField(
        label=gettext_lazy("Site address"), max_length=200,
        help_text=gettext_lazy("The address of the Joomla 4 or 5 site, e.g. https://www.example.com."),
        widget=forms.TextInput(attrs={"placeholder": "https://www.example.com", "autocomplete": "off",
                                      "spellcheck": "false", "autocapitalize": "none"}))
    token = forms.CharField(
        label=gettext_lazy("API token"), max_length=1000, strip=True,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
        help_text=gettext_lazy("From the user's profile in Joomla's administrator, Joomla API Token tab. "
                               "Stored encrypted."))
    category = forms.CharField(
        label=gettext_lazy("Category"), max_length=100, required=False,
        help_text=gettext_lazy("The title or number of an existing category; empty for Uncategorised."))
    state = forms.ChoiceField(
        label=gettext_lazy("Articles arrive"), initial="published",
        choices=[("published", gettext_lazy("Published")),
                 ("unpublished", gettext_lazy("Unpublished, to finish in Joomla"))])
    featured = forms.BooleanField(label=gettext_lazy("Mark articles as featured"), required=False)

    def clean_site(self) -> str:
        value = normalize_site_url(self.cleaned_data["site"])
        allowed = ["https", "http"] if connect.http_config().allow_private_networks else ["https"]
        try:
            URLValidator(schemes=allowed)(value)
        except ValidationError:
            raise ValidationError(_("Enter the site's address, starting with https://.")) from None
        return value

    def clean_token(self) -> str:
        value = "".join(self.cleaned_data["token"].split())
        if not _TOKEN.match(value):
            raise ValidationError(_("This does not look like a Joomla API token. Copy it again from the "
                                    "Joomla API Token tab of the user's profile."))
        return value


@sensitive_post_parameters("token")
@brand_view(roles.MANAGE_ACCOUNTS)
@require_http_methods(["GET", "POST"])
def joomla_connect(request, brand):
    form = JoomlaConnectForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            site = connect.check_site(data["site"], data["token"], category=data["category"])
            account, created = services.do_connect_joomla(
                Ctx.from_request(request), brand, site, token=data["token"],
                options={"category": data["category"], "state": data["state"], "featured": data["featured"]})
        except AuthExpired as err:
            log.info("joomla connect: %s", err.log_line())
            form.add_error("token", _("The site did not accept this token: %(reason)s") % {"reason": err.user_message})
        except ConnectorError as err:  # Permanent (not Joomla, private address, category), Retryable
            log.info("joomla connect: %s", err.log_line())
            form.add_error(None, _("The site could not be reached or refused: %(reason)s")
                           % {"reason": err.user_message})
        except ValidationError as err:
            _apply_errors(form, err)
        else:
            if created:
                messages.success(request, _("Joomla site %(name)s connected.") % {"name": account.display_name})
            else:
                messages.success(request, _("Joomla site %(name)s reconnected.") % {"name": account.display_name})
            return redirect("account_list", brand.pk)
    return render(request, "networks/joomla_connect.html", {"form": form, "tab": "accounts"})
