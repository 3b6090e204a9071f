"""A brand's inbox rules, and the built-in escalation of urgent complaints.

``InboxRule.conditions`` (every key given must match; lists match any of their values):
networks, languages, kinds, intents, sentiments, min_toxicity (0..1), min_urgency (0..100),
keywords (any of them, as words, ignoring case, accents and invisible characters).

``InboxRule.actions``: assign_to (a member who works the inbox; only conversations nobody is
assigned to), labels (names, created on demand), hide (on the network, where it can), flag,
escalate (e-mail ``escalation_emails``, else the brand's owners and managers), close, status.

``apply`` runs after triage on each batch's new inbound messages, rules in ``position`` order.
It works per batch (one query per kind of change, not per message), it is idempotent (labels
are a set, assignment only fills an empty one, escalation happens once per conversation), and
an action that fails (a network that cannot hide, an assignee who left) is recorded in the audit
log and flags the conversation: the message itself is always kept.
"""

from __future__ import annotations

import logging
import re
import unicodedata
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.db import transaction
from django.utils import timezone, translation
from django.utils.translation import gettext_lazy as _

from tertulia.core import audit, bulk, notes, notifications, roles
from tertulia.core.scoping import has_perm
from tertulia.networks.models import Network

from .models import Conversation, InboxRule, Interaction, Label

log = logging.getLogger(__name__)

CONDITION_KEYS = ("networks", "languages", "kinds", "intents", "sentiments", "min_toxicity", "min_urgency",
                  "keywords")
ACT_WITHIN = timedelta(days=2)  # see Message.recent
ACTION_KEYS = ("assign_to", "labels", "hide", "flag", "escalate", "close", "status")
MAX_KEYWORDS = 50
MAX_LABELS = 20

MSG_ESCALATED = _("Escalated: a complaint from %(author)s on %(network)s (urgency %(urgency)s): “%(excerpt)s”")
MSG_RULE_ESCALATED = _("The rule “%(rule)s” escalated a message from %(author)s on %(network)s: “%(excerpt)s”")
MSG_CANNOT_HIDE = _("%(network)s does not let us hide comments: the message was flagged instead.")
MSG_ONLY_COMMENTS = _("Only comments under the brand's posts can be hidden: the message was flagged instead.")
MSG_ASSIGNEE_GONE = _("The person this rule assigns to can no longer work this brand's inbox.")


# -- text ------------------------------------------------------------------------------------------

def fold(text: str) -> str:
    """Lower case, without accents and without invisible characters (zero-width spaces,
    direction marks), so that "URGENTE", "urgénte" and "ur\u200bgente" read the same."""
    text = unicodedata.normalize("NFKD", text or "")
    return "".join(c for c in text if unicodedata.category(c) not in ("Mn", "Cf")).casefold()


def keyword_pattern(keywords: Sequence[str]) -> re.Pattern | None:
    words = sorted({fold(k).strip() for k in keywords if fold(k).strip()}, key=len, reverse=True)
    if not words:
        return None
    return re.compile(r"(?<!\w)(?:" + "|".join(re.escape(w) for w in words) + r")(?!\w)")


# -- validation (used by the settings forms and the API) ---------------------------------------------

def _as_list(value) -> list:
    if value is None or value == "":
        return []
    if isinstance(value, str):
        value = re.split(r"[,\n]", value)
    if not isinstance(value, (list, tuple)):
        raise TypeError
    return [str(v).strip() for v in value if v is not None and str(v).strip()]


def _as_bool(value) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("1", "true", "on", "yes"):
        return True
    if isinstance(value, str) and value.lower() in ("", "0", "false", "off", "no"):
        return False
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    raise TypeError


def _choice_list(errors: dict, key: str, value, allowed) -> list[str]:
    try:
        values = _as_list(value)
    except TypeError:
        errors[key] = _("Give a list of values.")
        return []
    wrong = [v for v in values if v not in allowed]
    if wrong:
        errors[key] = _("Unknown values: %(values)s.") % {"values": ", ".join(w[:30] for w in wrong[:5])}
    return list(dict.fromkeys(values))


def validate_rule(conditions, actions, brand) -> tuple[dict, dict]:
    """Clean a rule's conditions and actions; raise ``ValidationError`` (a dict of readable
    messages by key) when something is wrong."""
    errors: dict[str, str] = {}
    if not isinstance(conditions, dict):
        raise ValidationError({"conditions": _("The conditions are not valid.")})
    if not isinstance(actions, dict):
        raise ValidationError({"actions": _("The actions are not valid.")})
    for key in conditions:
        if key not in CONDITION_KEYS:
            errors[str(key)[:40]] = _("Unknown condition.")
    for key in actions:
        if key not in ACTION_KEYS:
            errors[str(key)[:40]] = _("Unknown action.")
    c: dict = {}
    lists = {
        "networks": Network.values, "languages": [code for code, _name in settings.LANGUAGES],
        "kinds": Conversation.Kind.values, "intents": Interaction.Intent.values,
        "sentiments": Interaction.Sentiment.values,
    }
    for key, allowed in lists.items():
        if key in conditions:
            values = _choice_list(errors, key, conditions[key], allowed)
            if values:
                c[key] = values
    if conditions.get("min_toxicity") not in (None, ""):
        try:
            value = float(conditions["min_toxicity"])
            if not 0 <= value <= 1:
                raise ValueError
            c["min_toxicity"] = value
        except (TypeError, ValueError):
            errors["min_toxicity"] = _("Toxicity is a number between 0 and 1.")
    if conditions.get("min_urgency") not in (None, ""):
        try:
            value = int(conditions["min_urgency"])
            if not 0 <= value <= 100 or isinstance(conditions["min_urgency"], bool):
                raise ValueError
            c["min_urgency"] = value
        except (TypeError, ValueError):
            errors["min_urgency"] = _("Urgency is a whole number between 0 and 100.")
    if "keywords" in conditions:
        try:
            words = list(dict.fromkeys(_as_list(conditions["keywords"])))
        except TypeError:
            errors["keywords"] = _("Give a list of words.")
            words = []
        if len(words) > MAX_KEYWORDS:
            errors["keywords"] = _("At most %(count)s keywords.") % {"count": MAX_KEYWORDS}
        elif any(len(w) > 100 for w in words):
            errors["keywords"] = _("A keyword is at most 100 characters long.")
        elif words and keyword_pattern(words) is None:
            errors["keywords"] = _("Give a list of words.")
        elif words:
            c["keywords"] = words

    a: dict = {}
    if actions.get("assign_to") not in (None, ""):
        from tertulia.core.models import User

        try:
            user = User.objects.filter(pk=int(actions["assign_to"]), is_active=True).first()
        except (TypeError, ValueError):
            user = None
        if user is None or not has_perm(user, brand, roles.REPLY):
            errors["assign_to"] = _("Choose a member of this brand who works the inbox.")
        else:
            a["assign_to"] = user.pk
    if "labels" in actions:
        try:
            names = list(dict.fromkeys(_as_list(actions["labels"])))
        except TypeError:
            errors["labels"] = _("Give a list of labels.")
            names = []
        if len(names) > MAX_LABELS:
            errors["labels"] = _("At most %(count)s labels.") % {"count": MAX_LABELS}
        elif any(len(n) > 60 for n in names):
            errors["labels"] = _("A label is at most 60 characters long.")
        elif names:
            a["labels"] = names
    for key in ("hide", "flag", "escalate", "close"):
        if key in actions:
            try:
                if _as_bool(actions[key]):
                    a[key] = True
            except TypeError:
                errors[key] = _("Yes or no.")
    if actions.get("status") not in (None, ""):
        if actions["status"] not in Conversation.Status.values:
            errors["status"] = _("Unknown status.")
        else:
            a["status"] = actions["status"]
    if a.get("close") and a.get("status") not in (None, Conversation.Status.CLOSED):
        errors["status"] = _("A rule cannot both close a conversation and set another status.")
    if not errors and not a:
        errors["actions"] = _("Choose at least one action.")
    if errors:
        raise ValidationError(errors)
    return c, a


# -- matching -------------------------------------------------------------------------------------

@dataclass(slots=True)
class Message:
    """What a rule looks at, for one new inbound message."""

    interaction_id: int
    conversation_id: int
    network: str
    kind: str
    text: str
    language: str = ""
    sentiment: str = ""
    intent: str = ""
    toxicity: float | None = None
    urgency: int = 0  # 0..100
    author: str = ""
    created_at: datetime | None = None  # on the network
    _folded: str | None = field(default=None, repr=False)

    def recent(self, now: datetime) -> bool:
        """Hiding and escalating act on what is happening now. A backfill of an account's
        history (its first poll, the demo) is labelled, flagged and assigned like new
        messages, but it neither hides old comments on the network nor e-mails managers about
        complaints from last year."""
        return self.created_at is None or now - self.created_at <= ACT_WITHIN

    @property
    def folded(self) -> str:
        if self._folded is None:
            self._folded = fold(self.text)
        return self._folded


class _Compiled:
    def __init__(self, rule: InboxRule):
        self.rule = rule
        c = rule.conditions if isinstance(rule.conditions, dict) else {}
        self.sets = {key: set(_safe_list(c.get(key))) for key in ("networks", "languages", "kinds", "intents",
                                                                   "sentiments")}
        self.min_toxicity = _safe_float(c.get("min_toxicity"))
        self.min_urgency = _safe_float(c.get("min_urgency"))
        self.keywords = keyword_pattern(_safe_list(c.get("keywords")))
        self.actions = rule.actions if isinstance(rule.actions, dict) else {}

    def matches(self, m: Message) -> bool:
        for key, attr in (("networks", "network"), ("languages", "language"), ("kinds", "kind"),
                          ("intents", "intent"), ("sentiments", "sentiment")):
            wanted = self.sets[key]
            if wanted and getattr(m, attr) not in wanted:
                return False
        if self.min_toxicity is not None and (m.toxicity is None or m.toxicity < self.min_toxicity):
            return False
        if self.min_urgency is not None and m.urgency < self.min_urgency:
            return False
        if self.keywords is not None and not self.keywords.search(m.folded):
            return False
        return True


def _safe_list(value) -> list[str]:
    try:
        return _as_list(value)
    except TypeError:
        return []


def _safe_float(value) -> float | None:
    try:
        return None if value in (None, "") else float(value)
    except (TypeError, ValueError):
        return None


# -- applying -------------------------------------------------------------------------------------

@dataclass
class _Plan:
    assign: dict[int, int] = field(default_factory=dict)  # conversation -> user (first rule wins)
    labels: dict[int, set] = field(default_factory=lambda: defaultdict(set))
    flag: set = field(default_factory=set)
    status: dict[int, str] = field(default_factory=dict)  # conversation -> status (last rule wins)
    hide: dict[int, tuple[Message, InboxRule]] = field(default_factory=dict)
    escalate: dict[int, tuple[Message, InboxRule | None]] = field(default_factory=dict)


def _record_failure(brand, rule: InboxRule | None, obj, action: str, reason) -> None:
    audit.record(None, "inbox.rule_failed", brand=brand, obj=obj, via="system",
                 changes={"rule": rule.name if rule else "", "action": action, "reason": notes.source(reason)})


def apply(account, messages: Sequence[Message]) -> dict:
    """Run the brand's rules and the built-in escalation on a batch's new inbound messages.
    Never raises: a failure is logged and recorded, the batch is kept."""
    if not messages:
        return {}
    try:
        with transaction.atomic():
            return _apply(account, messages)
    except Exception:  # noqa: BLE001 - a rule must never lose a message
        log.exception("inbox rules failed for account %s", account.pk)
        try:
            audit.record(None, "inbox.rule_failed", brand=account.brand, via="system",
                         changes={"action": "all", "reason": "internal error"})
        except Exception:  # noqa: BLE001
            log.exception("could not record the failure")
        return {"error": True}


def _apply(account, messages: Sequence[Message]) -> dict:
    from . import sla

    brand = account.brand
    rules = [_Compiled(r) for r in InboxRule.objects.filter(brand_id=brand.pk, enabled=True).order_by("position", "pk")]
    targets = sla.targets(brand.pk)
    plan = _Plan()
    matched: dict[int, list[str]] = defaultdict(list)
    now = timezone.now()
    for m in sorted(messages, key=lambda m: m.interaction_id):
        recent = m.recent(now)
        if recent and m.intent == Interaction.Intent.COMPLAINT and m.urgency >= targets.escalation_urgency:
            plan.escalate.setdefault(m.conversation_id, (m, None))
        for compiled in rules:
            if not compiled.matches(m):
                continue
            rule, act = compiled.rule, compiled.actions
            matched[m.interaction_id].append(rule.name)
            if act.get("assign_to"):
                plan.assign.setdefault(m.conversation_id, act["assign_to"])
            for name in _safe_list(act.get("labels")):
                plan.labels[m.conversation_id].add(name[:60])
            if act.get("flag"):
                plan.flag.add(m.conversation_id)
            if act.get("close"):
                plan.status[m.conversation_id] = Conversation.Status.CLOSED
            elif act.get("status") in Conversation.Status.values:
                plan.status[m.conversation_id] = act["status"]
            if act.get("hide") and recent:
                plan.hide.setdefault(m.interaction_id, (m, rule))
            if act.get("escalate") and recent:
                current = plan.escalate.get(m.conversation_id)
                if current is None or current[1] is None:
                    plan.escalate[m.conversation_id] = (m, rule)
    _do_assign(brand, plan.assign, rules)
    _do_labels(brand, plan.labels)
    _do_hide(account, plan.hide, plan.flag)
    if plan.flag:
        Conversation.objects.filter(pk__in=list(plan.flag)).update(flagged=True)
    _do_status(plan.status)
    escalated = 0
    for conv_id, (m, rule) in plan.escalate.items():
        escalated += escalate(brand, conv_id, m, rule, targets)
    return {"matched": sum(len(v) for v in matched.values()), "escalated": escalated}


def _do_assign(brand, assign: dict[int, int], rules) -> None:
    from tertulia.core.models import User

    by_user: dict[int, list[int]] = defaultdict(list)
    for conv, user in assign.items():
        by_user[int(user)].append(conv)
    for user_id, convs in by_user.items():
        user = User.objects.filter(pk=user_id, is_active=True).first()
        if user is None or not has_perm(user, brand, roles.REPLY):
            rule = next((c.rule for c in rules if str(c.actions.get("assign_to")) == str(user_id)), None)
            _record_failure(brand, rule, rule, "assign_to", MSG_ASSIGNEE_GONE)
            continue
        Conversation.objects.filter(pk__in=convs, assignee__isnull=True).update(assignee=user)


def ensure_labels(brand_id: int, names) -> dict[str, int]:
    """name -> Label pk, creating the missing ones (safe against a concurrent creator)."""
    names = sorted({n.strip()[:60] for n in names if n and n.strip()})
    if not names:
        return {}
    bulk.insert_ignore(Label, ("brand_id", "name"), [(brand_id, n) for n in names], conflict=("brand", "name"))
    return dict(Label.objects.filter(brand_id=brand_id, name__in=names).values_list("name", "pk"))


def add_labels(conversation_ids, label_ids) -> None:
    through = Conversation.labels.through
    rows = [through(conversation_id=c, label_id=lab) for c in conversation_ids for lab in label_ids]
    through.objects.bulk_create(rows, ignore_conflicts=True, batch_size=400)


def _do_labels(brand, labels: dict[int, set]) -> None:
    if not labels:
        return
    ids = ensure_labels(brand.pk, {n for names in labels.values() for n in names})
    through = Conversation.labels.through
    through.objects.bulk_create(
        [through(conversation_id=conv, label_id=ids[n]) for conv, names in labels.items() for n in names if n in ids],
        ignore_conflicts=True, batch_size=400)


def can_hide(network: str) -> bool:
    from tertulia.networks import registry

    try:
        return bool(getattr(registry.connector_class(network), "can_hide", False))
    except Exception:  # noqa: BLE001 - an unknown or broken network cannot hide
        return False


def _do_hide(account, hide: dict[int, tuple[Message, InboxRule]], flag: set) -> None:
    if not hide:
        return
    able = can_hide(account.network)
    ids = []
    for interaction_id, (m, rule) in hide.items():
        if able and m.kind == Conversation.Kind.COMMENT:
            ids.append(interaction_id)
            continue
        # Only comments under the brand's own posts can be hidden; a mention is someone
        # else's post and a message is private.
        flag.add(m.conversation_id)
        reason = (notes.source(MSG_CANNOT_HIDE) % {"network": account.get_network_display()} if not able
                  else notes.source(MSG_ONLY_COMMENTS))
        _record_failure(account.brand, rule, Interaction(pk=interaction_id, text=m.text[:200]), "hide", reason)
    if not ids:
        return
    Interaction.objects.filter(pk__in=ids, hidden=False).update(hidden=True)
    # A hidden message still flags its conversation until someone looks at it.
    flag.update(hide[pk][0].conversation_id for pk in ids)
    from . import tasks

    def enqueue():
        for pk in ids:
            tasks.apply_network_action(pk, "hide")

    transaction.on_commit(enqueue)


def _do_status(status: dict[int, str]) -> None:
    from . import sla

    by_status: dict[str, list[int]] = defaultdict(list)
    for conv, value in status.items():
        by_status[value].append(conv)
    now = timezone.now()
    for value, convs in by_status.items():
        closed_at = now if value == Conversation.Status.CLOSED else None
        Conversation.objects.filter(pk__in=convs).exclude(status=value).update(status=value, closed_at=closed_at)
        if value == Conversation.Status.CLOSED:
            sla.stop_on_close(convs)


def _excerpt(text: str, size: int = 200) -> str:
    text = " ".join((text or "").split())
    return text if len(text) <= size else text[:size - 1] + "…"


def escalate(brand, conversation_id: int, m: Message, rule: InboxRule | None, targets) -> int:
    """Tell a manager about a conversation, once (``escalated_at``): by e-mail to the brand's
    escalation addresses, else in-app and by e-mail to its owners and managers."""
    from . import sla

    if not Conversation.objects.filter(pk=conversation_id, escalated_at__isnull=True).update(
            escalated_at=timezone.now()):
        return 0
    conv = Conversation.objects.select_related("account", "author").get(pk=conversation_id)
    params = {"author": conv.author.handle, "network": conv.account.get_network_display(),
              "excerpt": _excerpt(m.text)}
    if rule is None:
        message = notes.note(MSG_ESCALATED, urgency=m.urgency, **params)
    else:
        message = notes.note(MSG_RULE_ESCALATED, rule=rule.name, **params)
    link = sla.conversation_link(conv)
    audit.record(None, "conversation.escalated", brand=brand, obj=conv, via="system",
                 changes={"rule": rule.name if rule else "", "urgency": m.urgency})
    if targets.escalation_emails:
        with translation.override(brand.language or settings.LANGUAGE_CODE):
            body = notes.render(message)
            subject = " ".join(f"[Tertulia · {brand.name}] {body[:120]}".split())  # no CR/LF in a header
        url = notifications.absolute(link)
        recipients = list(targets.escalation_emails)

        def send():
            try:
                send_mail(subject, f"{body}\n\n{url}\n", settings.DEFAULT_FROM_EMAIL, recipients)
            except Exception:  # noqa: BLE001 - the escalation is recorded; the mail server may be down
                log.exception("escalation e-mail for conversation %s failed", conversation_id)

        transaction.on_commit(send)
    else:
        from tertulia.networks.services import account_watchers

        notifications.notify(account_watchers(conv.account), kind="inbox.escalated", message=message, link=link,
                             brand=brand)
    return 1
