"""Writes to a brand's inbox configuration: saved replies, labels, rules and service targets.

Every write checks the actor's permission (REPLY for saved replies and labels, which the team
keeps up as it works; MANAGE_BRAND for rules and the SLA targets, which decide what happens to
every message), runs in one transaction, enforces the per-brand limits and records the change in
the audit log. Pages, the API and the demo generator all call these.
"""

from __future__ import annotations

import re

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from tertulia.core import audit, roles
from tertulia.core.services import Ctx, _log, _require

from .models import InboxRule, InboxSettings, Interaction, Label, SavedReply

# The variables a saved reply may use; everything else in braces is refused on save.
VARIABLES = ("name", "handle", "brand", "agent")
# Sample values for the preview of a saved reply.
SAMPLE_VALUES = {"name": "Ana", "handle": "@ana", "agent": "Laura"}

MAX_SAVED_REPLIES = 500  # per brand
MAX_LABELS = 200
MAX_RULES = 100
MAX_ESCALATION_EMAILS = 20
MAX_MINUTES = 60 * 24 * 90  # a target beyond 90 days is a typo

SAVED_REPLY_FIELDS = ("title", "language", "text")
LABEL_FIELDS = ("name",)
RULE_FIELDS = ("name", "enabled", "conditions", "actions")
SETTINGS_FIELDS = ("first_response_minutes", "resolution_minutes", "escalation_urgency", "escalation_emails")

_BRACES = re.compile(r"\{([^{}\n]{0,40})\}")


def _same_brand(obj, brand) -> None:
    if obj.brand_id != brand.pk:
        # Never act on a row of another brand, whatever the caller passed.
        raise PermissionDenied(_("You do not have permission to do that for this brand."))


# Invisible characters that make two names look the same, or flip text around it: zero-width
# spaces and joiners' cousins, direction marks, embeddings, overrides and isolates, the BOM.
# (U+200D, the zero-width joiner, stays: emoji sequences need it.)
_INVISIBLE = dict.fromkeys([0x200B, 0x200C, 0x200E, 0x200F, 0x2060, 0xFEFF, 0x061C,
                            *range(0x202A, 0x202F), *range(0x2066, 0x206A)])


def _name(value, field: str, max_length: int) -> str:
    """A one-line name (a title, a label, a rule): no control or invisible characters, single
    spaces — what the team sees is what is stored, and look-alike duplicates are caught."""
    if isinstance(value, str):
        value = "".join(c for c in value.translate(_INVISIBLE) if c.isprintable() or c.isspace())
        value = " ".join(value.split())
    return _text(value, field, max_length)


def _text(value, field: str, max_length: int, *, required: bool = True) -> str:
    if value is None:
        value = ""
    if not isinstance(value, str):
        raise ValidationError({field: _("Enter text.")})
    value = value.strip()
    if "\x00" in value:
        raise ValidationError({field: _("Null characters are not allowed.")})
    if required and not value:
        raise ValidationError({field: _("This field is required.")})
    if len(value) > max_length:
        raise ValidationError({field: _("Keep this under %(max)s characters (it has %(length)s).")
                               % {"max": max_length, "length": len(value)}})
    return value


# --- Saved replies -----------------------------------------------------------------------

def unknown_variables(text: str) -> list[str]:
    """The ``{…}`` placeholders in ``text`` that are not exactly one of VARIABLES (``{ name }``
    would not be filled either), in order, once each. Empty braces are left alone."""
    seen: list[str] = []
    for match in _BRACES.finditer(text or ""):
        name = match.group(1)
        if name.strip() and name not in VARIABLES and name not in seen:
            seen.append(name)
    return seen


def check_variables(text: str) -> None:
    unknown = unknown_variables(text)
    if unknown:
        allowed = ", ".join("{%s}" % v for v in VARIABLES)
        raise ValidationError({"text": _("Unknown variable %(variable)s: a saved reply can use %(allowed)s.")
                               % {"variable": "{%s}" % unknown[0], "allowed": allowed}})


def preview(text: str, brand, agent_name: str = "") -> str:
    """``text`` with sample values in its variables (for the page's preview), as plain text."""
    values = {**SAMPLE_VALUES, "brand": brand.name}
    if agent_name:
        values["agent"] = agent_name
    return _BRACES.sub(lambda m: values.get(m.group(1), m.group(0)), text or "")


@transaction.atomic
def do_save_saved_reply(ctx: Ctx, brand, saved: SavedReply | None = None, **fields) -> SavedReply:
    """Create or edit a saved reply. Left-out fields keep their values when editing."""
    _require(ctx, brand, roles.REPLY)
    for key in fields:
        if key not in SAVED_REPLY_FIELDS:
            raise ValidationError({key: _("Unknown field.")})
    created = saved is None
    if created:
        # Lock the brand's rows so two people at the limit cannot both pass it.
        count = len(SavedReply.objects.select_for_update().filter(brand=brand).values_list("pk", flat=True))
        if count >= MAX_SAVED_REPLIES:
            raise ValidationError(_("This brand already has %(max)s saved replies; delete some first.")
                                  % {"max": MAX_SAVED_REPLIES})
        saved = SavedReply(brand=brand, created_by=ctx.user)
    else:
        _same_brand(saved, brand)
    before = {} if created else audit.snapshot(saved, SAVED_REPLY_FIELDS)
    if created or "title" in fields:
        saved.title = _name(fields.get("title"), "title", 120)
    if created or "language" in fields:
        language = fields.get("language")
        if language not in dict(settings.LANGUAGES):
            raise ValidationError({"language": _("Choose Spanish or English.")})
        saved.language = language
    if created or "text" in fields:
        saved.text = _text(fields.get("text"), "text", 5000)
        check_variables(saved.text)
    clash = SavedReply.objects.filter(brand=brand, title__iexact=saved.title, language=saved.language)
    if not created:
        clash = clash.exclude(pk=saved.pk)
    if clash.exists():
        raise ValidationError({"title": _("There is already a saved reply with this title in this language.")})
    saved.save()
    changes = audit.diff(before, audit.snapshot(saved, SAVED_REPLY_FIELDS))
    if created or changes:
        _log(ctx, "saved_reply.create" if created else "saved_reply.update", brand=brand, obj=saved,
             changes=changes)
    return saved


@transaction.atomic
def do_delete_saved_reply(ctx: Ctx, saved: SavedReply) -> None:
    brand = saved.brand
    _require(ctx, brand, roles.REPLY)
    _log(ctx, "saved_reply.delete", brand=brand, obj=saved,
         changes={"title": saved.title, "language": saved.language})
    saved.delete()


# --- Labels ------------------------------------------------------------------------------

def _label_name(value) -> str:
    name = _name(value, "name", 60)
    if "," in name:
        raise ValidationError({"name": _("A label name cannot contain commas.")})
    return name


@transaction.atomic
def do_save_label(ctx: Ctx, brand, label: Label | None = None, *, name=None) -> Label:
    """Create or rename a label. Names are unique per brand, whatever their case."""
    _require(ctx, brand, roles.REPLY)
    created = label is None
    if created:
        count = len(Label.objects.select_for_update().filter(brand=brand).values_list("pk", flat=True))
        if count >= MAX_LABELS:
            raise ValidationError(_("This brand already has %(max)s labels; delete some first.") % {"max": MAX_LABELS})
        label = Label(brand=brand)
    else:
        _same_brand(label, brand)
    before = {} if created else audit.snapshot(label, LABEL_FIELDS)
    label.name = _label_name(name)
    clash = Label.objects.filter(brand=brand, name__iexact=label.name)
    if not created:
        clash = clash.exclude(pk=label.pk)
    if clash.exists():
        raise ValidationError({"name": _("There is already a label with this name.")})
    try:
        with transaction.atomic():
            label.save()
    except IntegrityError:  # created meanwhile by someone else
        raise ValidationError({"name": _("There is already a label with this name.")}) from None
    changes = audit.diff(before, audit.snapshot(label, LABEL_FIELDS))
    if not created and changes:
        # Rules name the labels they add: they follow the rename (else they would bring the
        # old name back the next time they act).
        old = before["name"]
        for rule in InboxRule.objects.select_for_update().filter(brand=brand):
            names = (rule.actions or {}).get("labels") or []
            if old in names:
                rule.actions = {**rule.actions, "labels": list(dict.fromkeys(
                    label.name if n == old else n for n in names))}
                rule.save(update_fields=["actions"])
                changes.setdefault("rules", []).append(rule.name)
    if created or changes:
        _log(ctx, "label.create" if created else "label.update", brand=brand, obj=label, changes=changes)
    return label


@transaction.atomic
def do_delete_label(ctx: Ctx, label: Label) -> None:
    """Delete a label; conversations that had it simply lose it."""
    brand = label.brand
    _require(ctx, brand, roles.REPLY)
    _log(ctx, "label.delete", brand=brand, obj=label,
         changes={"name": label.name, "conversations": label.conversations.count()})
    label.delete()


# --- Rules -------------------------------------------------------------------------------

def _validate_rule(conditions, actions, brand):
    from . import rules  # the backend's engine: the one place that knows what a rule may say

    return rules.validate_rule(conditions, actions, brand)


@transaction.atomic
def do_save_rule(ctx: Ctx, brand, rule: InboxRule | None = None, **fields) -> InboxRule:
    """Create or edit a rule (a new one goes last). Left-out fields keep their values."""
    _require(ctx, brand, roles.MANAGE_BRAND)
    for key in fields:
        if key not in RULE_FIELDS:
            raise ValidationError({key: _("Unknown field.")})
    created = rule is None
    positions = list(InboxRule.objects.select_for_update().filter(brand=brand).values_list("position", flat=True))
    if created:
        if len(positions) >= MAX_RULES:
            raise ValidationError(_("This brand already has %(max)s rules; delete some first.") % {"max": MAX_RULES})
        rule = InboxRule(brand=brand, position=(max(positions) + 1) if positions else 0)
    else:
        _same_brand(rule, brand)
    before = {} if created else audit.snapshot(rule, RULE_FIELDS)
    if created or "name" in fields:
        rule.name = _name(fields.get("name"), "name", 120)
    if "enabled" in fields:
        rule.enabled = bool(fields["enabled"])
    if created or "conditions" in fields or "actions" in fields:
        conditions = fields.get("conditions", rule.conditions if not created else None)
        actions = fields.get("actions", rule.actions if not created else None)
        if not isinstance(conditions, dict):
            raise ValidationError({"conditions": _("Give the conditions as an object.")})
        if not isinstance(actions, dict):
            raise ValidationError({"actions": _("Give the actions as an object.")})
        rule.conditions, rule.actions = _validate_rule(conditions, actions, brand)
    if created:
        rule.save()
    else:  # never the position: someone may have moved the rule since this copy was read
        rule.save(update_fields=["name", "enabled", "conditions", "actions"])
    changes = audit.diff(before, audit.snapshot(rule, RULE_FIELDS))
    if created or changes:
        _log(ctx, "inbox_rule.create" if created else "inbox_rule.update", brand=brand, obj=rule, changes=changes)
    return rule


def dry_run(brand, conditions: dict, *, limit: int = 500, examples: int = 5) -> dict:
    """How many of the brand's latest ``limit`` received messages a rule with ``conditions``
    would act on, with a few of them, judged by the rules engine itself."""
    from . import rules
    from .triage import Verdict

    matcher = rules._Compiled(InboxRule(brand=brand, conditions=conditions or {}, actions={}))
    rows = (Interaction.objects.filter(brand=brand, direction=Interaction.Direction.INBOUND, deleted_at__isnull=True)
            .select_related("account", "conversation", "author").order_by("-created_at", "-pk")[:limit])
    total, found = 0, []
    count = 0
    for i in rows:
        total += 1
        message = rules.Message(
            interaction_id=i.pk, conversation_id=i.conversation_id, network=i.account.network,
            kind=i.conversation.kind, text=i.text, language=i.language, sentiment=i.sentiment, intent=i.intent,
            toxicity=i.toxicity, urgency=Verdict(urgency=i.urgency).priority, author=i.author.handle)
        if matcher.matches(message):
            count += 1
            if len(found) < examples:
                found.append(i)
    return {"count": count, "total": total, "examples": found}


def _renumber(brand) -> list[InboxRule]:
    ordered = list(InboxRule.objects.select_for_update().filter(brand=brand).order_by("position", "pk"))
    for i, r in enumerate(ordered):
        if r.position != i:
            r.position = i
            r.save(update_fields=["position"])
    return ordered


@transaction.atomic
def do_move_rule(ctx: Ctx, rule: InboxRule, offset: int) -> InboxRule:
    """Move a rule ``offset`` places earlier (negative) or later (positive) in the order."""
    brand = rule.brand
    _require(ctx, brand, roles.MANAGE_BRAND)
    ordered = _renumber(brand)
    ids = [r.pk for r in ordered]
    if rule.pk not in ids:
        raise PermissionDenied(_("You do not have permission to do that for this brand."))
    old = ids.index(rule.pk)
    new = max(0, min(len(ids) - 1, old + int(offset)))
    if new == old:
        return rule
    ids.insert(new, ids.pop(old))
    return _apply_order(ctx, brand, ids, rule.pk, old, new)


@transaction.atomic
def do_reorder_rules(ctx: Ctx, brand, ids: list[int]) -> list[InboxRule]:
    """Put the brand's rules in the order of ``ids`` (every rule of the brand, once each)."""
    _require(ctx, brand, roles.MANAGE_BRAND)
    ordered = _renumber(brand)
    current = [r.pk for r in ordered]
    if len(ids) != len(set(ids)) or set(ids) != set(current):
        raise ValidationError({"ids": _("List every rule of this brand exactly once.")})
    if ids != current:
        _apply_order(ctx, brand, list(ids), None, None, None)
    return list(InboxRule.objects.filter(brand=brand).order_by("position", "pk"))


def _apply_order(ctx, brand, ids, moved_id, old, new):
    by_pk = {r.pk: r for r in InboxRule.objects.filter(brand=brand)}
    for i, pk in enumerate(ids):
        r = by_pk[pk]
        if r.position != i:
            r.position = i
            r.save(update_fields=["position"])
    moved = by_pk.get(moved_id) if moved_id else None
    _log(ctx, "inbox_rule.reorder", brand=brand, obj=moved,
         changes={"order": [by_pk[pk].name for pk in ids]} if moved is None else {"position": [old, new]})
    return moved


@transaction.atomic
def do_delete_rule(ctx: Ctx, rule: InboxRule) -> None:
    brand = rule.brand
    _require(ctx, brand, roles.MANAGE_BRAND)
    _log(ctx, "inbox_rule.delete", brand=brand, obj=rule,
         changes={"name": rule.name, "conditions": rule.conditions, "actions": rule.actions})
    rule.delete()
    _renumber(brand)


# --- Service targets (SLA) and escalation --------------------------------------------------

def inbox_settings(brand) -> InboxSettings:
    """The brand's targets: the stored row, or the defaults (unsaved) if it has none."""
    return InboxSettings.objects.filter(brand=brand).first() or InboxSettings(brand=brand)


def _minutes(value, field: str) -> int:
    if isinstance(value, bool):
        raise ValidationError({field: _("Enter a whole number of minutes.")})
    try:
        value = int(str(value).strip()) if not isinstance(value, int) else value
    except (TypeError, ValueError):
        raise ValidationError({field: _("Enter a whole number of minutes.")}) from None
    if not 1 <= value <= MAX_MINUTES:
        raise ValidationError({field: _("Enter between 1 minute and %(max)s minutes (90 days).") % {"max": MAX_MINUTES}})
    return value


def clean_emails(value) -> list[str]:
    """E-mail addresses from a list, or from text with one per line (commas and spaces too)."""
    if value is None:
        return []
    if isinstance(value, str):
        if len(value) > 2000:
            raise ValidationError({"escalation_emails": _("That list is too long.")})
        value = re.split(r"[\s,;]+", value)
    if not isinstance(value, (list, tuple)):
        raise ValidationError({"escalation_emails": _("Give a list of e-mail addresses.")})
    out: list[str] = []
    for item in value:
        email = str(item).strip()
        if not email:
            continue
        try:
            if len(email) > 254:
                raise ValidationError("")
            validate_email(email)
        except ValidationError:
            raise ValidationError({"escalation_emails": _("“%(email)s” is not a valid e-mail address.")
                                   % {"email": email[:80]}}) from None
        if email.lower() not in (e.lower() for e in out):
            out.append(email)
    if len(out) > MAX_ESCALATION_EMAILS:
        raise ValidationError({"escalation_emails": _("At most %(max)s addresses.") % {"max": MAX_ESCALATION_EMAILS}})
    return out


@transaction.atomic
def do_save_inbox_settings(ctx: Ctx, brand, **fields) -> InboxSettings:
    """Set the brand's first-response and resolution targets and its escalation. Left-out
    fields keep their values (or the defaults)."""
    _require(ctx, brand, roles.MANAGE_BRAND)
    for key in fields:
        if key not in SETTINGS_FIELDS:
            raise ValidationError({key: _("Unknown field.")})
    current = InboxSettings.objects.select_for_update().filter(brand=brand).first()
    obj = current or InboxSettings(brand=brand)
    before = audit.snapshot(obj, SETTINGS_FIELDS)
    for key in ("first_response_minutes", "resolution_minutes"):
        if key in fields:
            setattr(obj, key, _minutes(fields[key], key))
    if "escalation_urgency" in fields:
        value = fields["escalation_urgency"]
        try:
            if isinstance(value, bool):
                raise ValueError
            value = int(str(value).strip()) if not isinstance(value, int) else value
        except (TypeError, ValueError):
            value = -1
        if not 0 <= value <= 100:
            raise ValidationError({"escalation_urgency": _("Enter a whole number from 0 to 100.")})
        obj.escalation_urgency = value
    if "escalation_emails" in fields:
        obj.escalation_emails = "\n".join(clean_emails(fields["escalation_emails"]))
    if obj.resolution_minutes < obj.first_response_minutes:
        raise ValidationError({"resolution_minutes": _(
            "The resolution target cannot be shorter than the first-response target.")})
    obj.save()
    changes = audit.diff(before, audit.snapshot(obj, SETTINGS_FIELDS))
    if changes or current is None:
        _log(ctx, "inbox_settings.update", brand=brand, obj=obj, changes=changes)
    return obj


def escalation_emails(obj: InboxSettings) -> list[str]:
    return [line for line in (obj.escalation_emails or "").splitlines() if line.strip()]
