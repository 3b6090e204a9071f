"""The giveaway form (create and edit) and the small forms of the giveaway pages.

Times are typed as wall times in the brand's zone (``datetime-local``): a time inside a
spring-forward gap is refused, a repeated one is the first (``tertulia.core.timezones``)."""

from __future__ import annotations

from datetime import datetime

from django import forms
from django.utils import timezone
from django.utils.translation import gettext as _g
from django.utils.translation import gettext_lazy as _

from tertulia.core import timezones
from tertulia.networks.models import SocialAccount

from . import services
from .models import Contest, Entry

LOCAL_FORMAT = "%Y-%m-%dT%H:%M"
LOCAL_INPUTS = ("%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%d %H:%M:%S")
EXTRA_ROWS = 2  # empty "posted elsewhere" lines offered on the form
MAX_LIST_CHARS = 20000


class LocalDateTimeField(forms.Field):
    """A naive wall time from a ``datetime-local`` input; the form makes it aware in the brand's zone."""

    widget = forms.DateTimeInput(attrs={"type": "datetime-local"}, format=LOCAL_FORMAT)
    default_error_messages = {"invalid": _("Enter a date and time, for example 2030-05-01 18:00.")}

    def to_python(self, value):
        if value in self.empty_values:
            return None
        if isinstance(value, datetime):
            return value.replace(tzinfo=None)
        value = str(value).strip()[:40]
        for fmt in LOCAL_INPUTS:
            try:
                parsed = datetime.strptime(value, fmt)
            except ValueError:
                continue
            first, last = services.YEARS  # far enough from datetime's limits for any time zone
            if not first <= parsed.year <= last:
                raise forms.ValidationError(_("Give a date between the years %(first)s and %(last)s."),
                                            code="invalid", params={"first": first, "last": last})
            return parsed
        raise forms.ValidationError(self.error_messages["invalid"], code="invalid")


def local_input(value: datetime | None, tz) -> str:
    return timezone.localtime(value, tz).strftime(LOCAL_FORMAT) if value else ""


class GiveawayForm(forms.Form):
    title = forms.CharField(label=_("Title"), max_length=200)
    prize = forms.CharField(label=_("Prize"), max_length=2000, required=False,
                            widget=forms.Textarea(attrs={"rows": 3}))
    starts_at = LocalDateTimeField(label=_("Entries open"))
    ends_at = LocalDateTimeField(label=_("Entries close"))
    targets = forms.MultipleChoiceField(label=_("Posts published through Tertulia"), required=False,
                                        widget=forms.CheckboxSelectMultiple)
    required_terms = forms.CharField(
        label=_("Required hashtags or keywords"), required=False, max_length=MAX_LIST_CHARS,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=_("One per line or separated by commas; every one must appear in the comment."))
    min_tags = forms.IntegerField(label=_("Friends to tag, at least"), min_value=0, max_value=services.MAX_TAGS,
                                  initial=0)
    mode = forms.ChoiceField(label=_("How entries count"), choices=Contest.Mode.choices,
                             initial=Contest.Mode.ONE_PER_PERSON, widget=forms.RadioSelect)
    bonus_per_tag = forms.IntegerField(label=_("Extra entries per friend tagged beyond the minimum"), min_value=0,
                                       max_value=services.MAX_BONUS, initial=0,
                                       help_text=_("Weighted entries only."))
    bonus_per_post = forms.IntegerField(label=_("Extra entries per further contest post commented"), min_value=0,
                                        max_value=services.MAX_BONUS, initial=0,
                                        help_text=_("Weighted entries only."))
    max_weight = forms.IntegerField(label=_("Entries per person, at most"), min_value=1,
                                    max_value=services.MAX_WEIGHT, initial=10, help_text=_("Weighted entries only."))
    excluded_handles = forms.CharField(
        label=_("Excluded accounts"), required=False, max_length=MAX_LIST_CHARS,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=_("Staff, partners, previous winners: one handle per line. The brand's own accounts are "
                    "always excluded."))
    min_account_age_days = forms.IntegerField(
        label=_("Minimum account age (days)"), min_value=0, max_value=services.MAX_AGE_DAYS, initial=0,
        help_text=_("Checked where the network tells when an account was created; where it does not, the "
                    "rule is not held against the person."))
    winners = forms.IntegerField(label=_("Winners"), min_value=1, max_value=services.MAX_WINNERS, initial=1)
    substitutes = forms.IntegerField(label=_("Substitutes"), min_value=0, max_value=services.MAX_WINNERS,
                                     initial=0)

    def __init__(self, *args, brand, contest: Contest | None = None, **kwargs):
        self.brand, self.contest = brand, contest
        super().__init__(*args, **kwargs)
        self.postable = list(services.postable(brand))
        self.accounts = list(SocialAccount.objects.filter(brand=brand).order_by("network", "handle"))
        self.fields["targets"].choices = [(str(t.pk), t.pk) for t in self.postable]
        known = {(t.account_id, t.external_id): t for t in self.postable}
        elsewhere = []
        if contest is not None:
            chosen = []
            for post in contest.posts.select_related("account").order_by("pk"):
                target = known.get((post.account_id, post.external_id))
                if target is not None:
                    chosen.append(str(target.pk))
                else:
                    elsewhere.append(post)
            self.initial.setdefault("targets", chosen)
        self.other_rows = min(services.MAX_POSTS, len(elsewhere) + EXTRA_ROWS)
        account_choices = [("", "—")] + [(str(a.pk), f"{a.get_network_display()} · {a.handle}")
                                         for a in self.accounts]
        for i in range(self.other_rows):
            self.fields[f"other_account_{i}"] = forms.ChoiceField(label=_("Account"), choices=account_choices,
                                                                  required=False)
            self.fields[f"other_id_{i}"] = forms.CharField(label=_("Post id on the network"), max_length=300,
                                                           required=False)
            if i < len(elsewhere):
                self.initial.setdefault(f"other_account_{i}", str(elsewhere[i].account_id))
                self.initial.setdefault(f"other_id_{i}", elsewhere[i].external_id)

    # What the template lays out by hand.
    def target_rows(self):
        chosen = set(self["targets"].value() or [])
        tz = self.brand.tzinfo
        return [{"target": t, "value": str(t.pk), "checked": str(t.pk) in chosen,
                 "published": timezone.localtime(t.published_at, tz)} for t in self.postable]

    def other_fields(self):
        return [(self[f"other_account_{i}"], self[f"other_id_{i}"]) for i in range(self.other_rows)]

    def rule_fields(self):
        return [self[name] for name in ("required_terms", "min_tags", "mode", "bonus_per_tag", "bonus_per_post",
                                         "max_weight", "excluded_handles", "min_account_age_days", "winners",
                                         "substitutes")]

    def _aware(self, name):
        naive = self.cleaned_data.get(name)
        if naive is None:
            return None
        tz = self.brand.tzinfo
        if not timezones.exists(naive, tz):
            self.add_error(name, _g("%(time)s does not exist on %(date)s in %(zone)s: the clocks go forward that "
                                    "night. Choose another time.") % {
                "time": naive.strftime("%H:%M"), "date": naive.date().isoformat(), "zone": self.brand.timezone})
            return None
        return timezones.resolve(naive, tz)

    def clean(self):
        data = super().clean()
        starts, ends = self._aware("starts_at"), self._aware("ends_at")
        if starts and ends and ends <= starts:
            self.add_error("ends_at", _("Entries must close after they open."))
        data["starts_at_aware"], data["ends_at_aware"] = starts, ends
        accounts = {str(a.pk): a for a in self.accounts}
        posts = []
        by_pk = {str(t.pk): t for t in self.postable}
        for value in data.get("targets") or []:
            target = by_pk[value]
            posts.append((target.account, target.external_id))
        for i in range(self.other_rows):
            account, external_id = data.get(f"other_account_{i}"), (data.get(f"other_id_{i}") or "").strip()
            if not account and not external_id:
                continue
            if not account or not external_id:
                self.add_error(f"other_id_{i}", _("Give both the account and the post's id on the network."))
                continue
            posts.append((accounts[account], external_id))
        if not posts and not self.errors:
            self.add_error(None, _("Choose at least one post the giveaway runs on."))
        if len(posts) > services.MAX_POSTS:
            self.add_error(None, _("At most %(n)s posts per giveaway.") % {"n": services.MAX_POSTS})
        data["posts"] = posts
        return data

    def values(self) -> dict:
        d = self.cleaned_data
        out = {key: d[key] for key in ("title", "prize", "required_terms", "min_tags", "mode", "bonus_per_tag",
                                        "bonus_per_post", "max_weight", "excluded_handles", "min_account_age_days",
                                        "winners", "substitutes")}
        out["starts_at"], out["ends_at"] = d["starts_at_aware"], d["ends_at_aware"]
        return out

    @classmethod
    def initial_for(cls, contest: Contest) -> dict:
        tz = contest.brand.tzinfo
        return {"title": contest.title, "prize": contest.prize,
                "starts_at": local_input(contest.starts_at, tz), "ends_at": local_input(contest.ends_at, tz),
                "required_terms": "\n".join(contest.required_terms), "min_tags": contest.min_tags,
                "mode": contest.mode, "bonus_per_tag": contest.bonus_per_tag, "bonus_per_post": contest.bonus_per_post,
                "max_weight": contest.max_weight, "excluded_handles": "\n".join(contest.excluded_handles),
                "min_account_age_days": contest.min_account_age_days, "winners": contest.winners,
                "substitutes": contest.substitutes}


class OverrideForm(forms.Form):
    decision = forms.ChoiceField(label=_("Decision"), choices=[
        (Entry.Override.INCLUDE, _("Count anyway")),
        (Entry.Override.EXCLUDE, _("Leave out")),
        ("", _("Back to the rules")),
    ], required=False)
    reason = forms.CharField(label=_("Reason"), max_length=services.MAX_REASON, required=False)


class ProofForm(forms.Form):
    MAX_BYTES = 5 * 1024 * 1024

    proof = forms.CharField(label=_("Paste the proof (JSON)"), required=False, strip=False,
                            widget=forms.Textarea(attrs={"rows": 8, "spellcheck": "false"}))
    proof_file = forms.FileField(label=_("Or upload proof.json"), required=False)

    def clean(self):
        data = super().clean()
        upload = data.get("proof_file")
        if upload is not None:
            if upload.size > self.MAX_BYTES:
                raise forms.ValidationError(_("The file is too large (5 MB at most)."))
            raw = upload.read(self.MAX_BYTES + 1)
            try:
                data["text"] = raw.decode("utf-8-sig")
            except UnicodeDecodeError:
                raise forms.ValidationError(_("The file is not UTF-8 text.")) from None
        else:
            data["text"] = data.get("proof") or ""
        if not data["text"].strip():
            raise forms.ValidationError(_("Paste the proof or upload its file."))
        if len(data["text"].encode("utf-8")) > self.MAX_BYTES:
            raise forms.ValidationError(_("The proof is too large (5 MB at most)."))
        return data
