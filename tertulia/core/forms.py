import zoneinfo

from django import forms
from django.conf import settings
from django.contrib.auth import password_validation
from django.contrib.auth.forms import AuthenticationForm
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from . import throttle
from .services import client_ip
from .models import Brand, KnowledgeEntry, TokenGrant, User
from .roles import Role

TIMEZONE_CHOICES = [(tz, tz) for tz in sorted(zoneinfo.available_timezones()) if "/" in tz or tz == "UTC"]


class ThrottledAuthenticationForm(AuthenticationForm):
    error_messages = {
        **AuthenticationForm.error_messages,
        "locked": _(
            "Too many failed sign-in attempts. Wait %(minutes)s minutes and try again, "
            "or ask an administrator to reset your password."
        ),
    }

    def clean(self):
        username = (self.cleaned_data.get("username") or "").strip()
        ip = client_ip(self.request) if self.request else None
        if username and throttle.is_locked(username, ip):
            raise ValidationError(
                self.error_messages["locked"], code="locked",
                params={"minutes": settings.LOGIN_FAILURE_WINDOW_SECONDS // 60},
            )
        try:
            cleaned = super().clean()
        except ValidationError:
            if username:
                throttle.record_failure(username, ip)
            raise
        throttle.clear(username)
        return cleaned


class OrganizationForm(forms.Form):
    name = forms.CharField(label=_("Workspace name"), max_length=120)


class BrandForm(forms.ModelForm):
    banned_words = forms.CharField(
        label=_("Banned words"), required=False, max_length=4000, widget=forms.Textarea(attrs={"rows": 2}),
        help_text=_("Separated by commas. Posts and replies that use them are flagged."),
    )
    required_hashtags = forms.CharField(
        label=_("Required hashtags"), required=False, max_length=2000,
        help_text=_("Separated by commas, for example #CaféDeBarrio."),
    )
    timezone = forms.ChoiceField(label=_("Time zone"), choices=TIMEZONE_CHOICES)
    # Report branding (tertulia/reports/branding.py): left empty, a colour keeps its value.
    primary_color = forms.RegexField(
        label=_("Primary colour"), regex=r"^#[0-9a-fA-F]{6}$", required=False,
        widget=forms.TextInput(attrs={"type": "color"}),
        error_messages={"invalid": _("Enter a colour as #rrggbb, for example #2563eb.")},
        help_text=_("The header band of the brand's reports."))
    accent_color = forms.RegexField(
        label=_("Accent colour"), regex=r"^#[0-9a-fA-F]{6}$", required=False,
        widget=forms.TextInput(attrs={"type": "color"}),
        error_messages={"invalid": _("Enter a colour as #rrggbb, for example #2563eb.")})
    logo_upload = forms.FileField(
        label=_("Logo"), required=False,
        widget=forms.ClearableFileInput(attrs={"accept": "image/png,image/jpeg,image/webp"}),
        help_text=_("PNG, JPEG or WebP, up to 2 MB; scaled to fit 600×200 pixels. Shown on the reports."))
    remove_logo = forms.BooleanField(label=_("Remove the logo"), required=False)

    class Meta:
        model = Brand
        fields = ["name", "timezone", "language", "tone", "banned_words", "required_hashtags", "signature"]
        widgets = {"tone": forms.Textarea(attrs={"rows": 3})}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance and self.instance.pk:
            self.initial["banned_words"] = ", ".join(self.instance.banned_words)
            self.initial["required_hashtags"] = ", ".join(self.instance.required_hashtags)
            self.initial["primary_color"] = self.instance.primary_color
            self.initial["accent_color"] = self.instance.accent_color

    def values(self) -> dict:
        values = {f: self.cleaned_data[f] for f in self.Meta.fields}
        for colour in ("primary_color", "accent_color"):
            if self.cleaned_data.get(colour):
                values[colour] = self.cleaned_data[colour].lower()
        return values

    def clean_logo_upload(self):
        upload = self.cleaned_data.get("logo_upload")
        if not upload:
            return None
        from tertulia.reports.branding import process_logo

        try:
            return process_logo(upload)
        except ValidationError as exc:
            raise ValidationError(exc.message_dict.get("logo", exc.messages)) from None

    def validate_unique(self):
        # Uniqueness per organisation is checked in the service (the org is not a form field).
        pass


class KnowledgeForm(forms.ModelForm):
    keywords = forms.CharField(label=_("Keywords"), required=False, max_length=1000,
                               help_text=_("Separated by commas."))

    class Meta:
        model = KnowledgeEntry
        fields = ["kind", "title", "answer", "department", "contact", "keywords"]
        widgets = {"answer": forms.Textarea(attrs={"rows": 4})}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance and self.instance.pk:
            self.initial["keywords"] = ", ".join(self.instance.keywords)

    def values(self) -> dict:
        return {f: self.cleaned_data[f] for f in self.Meta.fields}


class AccountForm(forms.Form):
    network = forms.ChoiceField(label=_("Network"))
    handle = forms.CharField(label=_("Handle"), max_length=200)
    display_name = forms.CharField(label=_("Display name"), max_length=200, required=False)
    base_url = forms.URLField(label=_("Server address"), required=False, max_length=200,
                              help_text=_("For Mastodon instances and WordPress sites."))
    status = forms.ChoiceField(label=_("Status"))
    # Write-only: never rendered back (render_value=False); empty keeps the stored one.
    access_token = forms.CharField(
        label=_("Token or application password"), required=False, max_length=8000, strip=True,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
        help_text=_("Telegram: the bot token from @BotFather (the handle is the channel, @name or -100…). "
                    "WordPress: an application password from your WordPress profile (the handle is your "
                    "WordPress user name). Stored encrypted; leave empty to keep the current one."))

    # WordPress only: how posts arrive on the blog.
    wordpress_status = forms.ChoiceField(
        label=_("WordPress: posts arrive"), required=False, initial="publish",
        choices=[("publish", _("Published right away")), ("draft", _("As drafts, to finish in WordPress"))])
    wordpress_categories = forms.CharField(
        label=_("WordPress: categories"), required=False, max_length=2000,
        help_text=_("Names of existing categories on the blog, separated by commas."))
    # Joomla only: the category and how articles arrive on the site (``clean_joomla_options``).
    joomla_category = forms.CharField(
        label=_("Joomla: category"), required=False, max_length=100,
        help_text=_("The title or number of an existing category; empty for Uncategorised."))
    joomla_state = forms.ChoiceField(
        label=_("Joomla: articles arrive"), required=False, initial="published",
        choices=[("published", _("Published")), ("unpublished", _("Unpublished, to finish in Joomla"))])
    joomla_featured = forms.BooleanField(label=_("Joomla: mark articles as featured"), required=False)

    def __init__(self, *args, **kwargs):
        from tertulia.networks.models import Network, SocialAccount

        super().__init__(*args, **kwargs)
        self.fields["network"].choices = Network.choices
        self.fields["status"].choices = SocialAccount.Status.choices


class InviteForm(forms.Form):
    email = forms.EmailField(label=_("E-mail"), max_length=254)
    # The least surprising default: most invitations are for the people who do the work.
    role = forms.ChoiceField(label=_("Role"), choices=Role.choices, initial=Role.COMMUNITY_MANAGER)


class RoleForm(forms.Form):
    role = forms.ChoiceField(label=_("Role"), choices=Role.choices)


class AcceptInvitationForm(forms.Form):
    """For people who have no account yet: the e-mail comes from the invitation."""

    first_name = forms.CharField(label=_("First name"), max_length=150)
    last_name = forms.CharField(label=_("Last name"), max_length=150, required=False)
    username = forms.RegexField(label=_("Username"), max_length=150, regex=r"^[\w.@+-]+\Z",
                                error_messages={"invalid": _("Use letters, digits and @ . + - _ only.")})
    password = forms.CharField(label=_("Password"), widget=forms.PasswordInput, max_length=200)

    def __init__(self, *args, email: str = "", **kwargs):
        super().__init__(*args, **kwargs)
        self.email = email

    def clean_username(self):
        username = self.cleaned_data["username"]
        if User.objects.filter(username__iexact=username).exists():
            raise ValidationError(_("That username is taken."))
        return username

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("password"):
            user = User(username=cleaned.get("username", ""), email=self.email,
                        first_name=cleaned.get("first_name", ""))
            password_validation.validate_password(cleaned["password"], user)
        return cleaned


class PreferencesForm(forms.Form):
    language = forms.ChoiceField(label=_("Language"), choices=settings.LANGUAGES)
    timezone = forms.ChoiceField(label=_("Time zone"), choices=TIMEZONE_CHOICES)


class TokenForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=100)
    expires_in_days = forms.IntegerField(label=_("Expires after (days)"), min_value=1, max_value=3650,
                                         required=False, help_text=_("Leave empty for no expiry."))

    def __init__(self, *args, brands=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.brands = list(brands)
        choices = [("", _("No access"))] + list(TokenGrant.Scope.choices)
        for brand in self.brands:
            self.fields[f"brand_{brand.pk}"] = forms.ChoiceField(label=brand.name, choices=choices, required=False)

    def grants(self) -> dict[int, str]:
        return {b.pk: self.cleaned_data[f"brand_{b.pk}"] for b in self.brands if self.cleaned_data.get(f"brand_{b.pk}")}
