"""Which comments count as entries, and with what weight.

Each entry is checked against the contest's rules in a fixed order; the first rule it breaks is
its ``rejection`` (a code from ``REASONS``) with the figures in ``detail``, so the CM sees why:
"Tagged 1 friend; the rules ask for 2". Then, per person, the earliest entry that passes counts
and the person's other entries are duplicates (in weighted mode they add to its weight). A CM's
override wins over the rules and is kept with its reason.

A person across networks is their handle without the "@" and folded (case and accents), so
@Ana on X and ana on Instagram are one person; where the handle is unknown, the network's
account id. Two different people who share a handle on two networks can be told apart with an
override: "count anyway" on an entry rejected as a duplicate makes it its own person.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from tertulia.inbox.rules import fold, keyword_pattern

OUTSIDE_WINDOW = "outside_window"
EDITED_LATE = "edited_late"
DELETED = "deleted"
HIDDEN = "hidden"
EXCLUDED = "excluded"
BRAND_ACCOUNT = "brand_account"
ACCOUNT_TOO_NEW = "account_too_new"
MISSING_TERMS = "missing_terms"
TOO_FEW_TAGS = "too_few_tags"
DUPLICATE = "duplicate"

REASONS = {
    OUTSIDE_WINDOW: _("Commented outside the entry window"),
    EDITED_LATE: _("The comment was edited after entries closed"),
    DELETED: _("The comment was deleted on the network"),
    HIDDEN: _("The comment is hidden on the network"),
    EXCLUDED: _("The account is on the excluded list"),
    BRAND_ACCOUNT: _("The brand's own account"),
    ACCOUNT_TOO_NEW: _("The account is too new"),
    MISSING_TERMS: _("A required hashtag or keyword is missing"),
    TOO_FEW_TAGS: _("Too few friends tagged"),
    DUPLICATE: _("Same person as an earlier entry"),
}

# @handle, @handle.bsky.social or @user@instance.social; not the "@" in an e-mail address.
_MENTION = re.compile(r"(?<![\w@.])@([\w](?:[\w.\-]*\w)?(?:@\w[\w\-]*(?:\.\w[\w\-]*)+)?)")


def handle_key(handle: str) -> str:
    return fold(handle or "").strip().lstrip("@").strip()


def person_key(handle: str, network: str, author_external_id: str) -> str:
    key = handle_key(handle)
    return key[:200] if key else f"{network}:{author_external_id}"[:200]


def mentions(text: str) -> set[str]:
    return {fold(m) for m in _MENTION.findall(text or "")}


@dataclass(frozen=True)
class Rules:
    starts_at: datetime
    ends_at: datetime
    required_terms: Sequence[str] = ()
    min_tags: int = 0
    excluded: frozenset[str] = frozenset()  # handle keys
    brand_handles: frozenset[str] = frozenset()  # handle keys of the brand's own accounts
    min_account_age_days: int = 0
    weighted: bool = False
    bonus_per_tag: int = 0
    bonus_per_post: int = 0
    max_weight: int = 10

    @classmethod
    def of(cls, contest, brand_handles: Iterable[str]) -> "Rules":
        return cls(
            starts_at=contest.starts_at, ends_at=contest.ends_at,
            required_terms=tuple(contest.required_terms or ()), min_tags=contest.min_tags,
            excluded=frozenset(handle_key(h) for h in contest.excluded_handles or () if handle_key(h)),
            brand_handles=frozenset(handle_key(h) for h in brand_handles if handle_key(h)),
            min_account_age_days=contest.min_account_age_days,
            weighted=contest.mode == "weighted", bonus_per_tag=contest.bonus_per_tag,
            bonus_per_post=contest.bonus_per_post, max_weight=max(1, contest.max_weight),
        )

    def patterns(self) -> list[tuple[str, re.Pattern]]:
        out = []
        for term in self.required_terms:
            pattern = keyword_pattern([term])
            if pattern is not None:
                out.append((term, pattern))
        return out


@dataclass
class Candidate:
    """What the rules look at for one entry (built from the entry and its interaction)."""

    key: int  # the entry's pk
    handle: str
    person: str
    post_id: int
    text: str
    commented_at: datetime
    deleted: bool = False
    hidden: bool = False
    edited_at: datetime | None = None
    account_created_at: datetime | None = None
    override: str = ""
    own_person: bool = False  # counted by the CM as a different person who shares the handle
    # Filled in by ``evaluate``
    tags: int = 0
    rejection: str = ""
    detail: dict | None = None
    weight: int = 1


def check(c: Candidate, rules: Rules, patterns: list[tuple[str, re.Pattern]]) -> tuple[str, dict]:
    """The first rule ``c`` breaks, as (code, detail), or ("", detail) when it passes."""
    detail: dict = {}
    if not rules.starts_at <= c.commented_at < rules.ends_at:
        return OUTSIDE_WINDOW, {"early": c.commented_at < rules.starts_at}
    if c.edited_at is not None and c.edited_at >= rules.ends_at:
        return EDITED_LATE, detail  # its text now is not the one it had when entries closed
    if c.deleted:
        return DELETED, detail
    if c.hidden:
        return HIDDEN, detail
    who = handle_key(c.handle)
    if who and who in rules.brand_handles:
        return BRAND_ACCOUNT, detail
    if who and who in rules.excluded:
        return EXCLUDED, detail
    if rules.min_account_age_days:
        if c.account_created_at is None:
            detail["age_unknown"] = True  # the network does not say: not held against the person
        else:
            days = (c.commented_at - c.account_created_at) // timedelta(days=1)
            if days < rules.min_account_age_days:
                return ACCOUNT_TOO_NEW, {"days": max(days, 0), "min": rules.min_account_age_days}
    if patterns:
        folded = fold(c.text)
        missing = [term for term, pattern in patterns if not pattern.search(folded)]
        if missing:
            return MISSING_TERMS, {"missing": missing}
    if c.tags < rules.min_tags:
        return TOO_FEW_TAGS, {"tags": c.tags, "min": rules.min_tags}
    return "", detail


def evaluate(candidates: list[Candidate], rules: Rules) -> None:
    """Fill in ``tags``, ``rejection``, ``detail`` and ``weight`` on every candidate."""
    patterns = rules.patterns()
    # Mastodon writes mentions of local accounts without the domain (@cafe for cafe@mastodon.social),
    # and replies start with the mention of the account answered: compare user names too.
    brand_names = {h.split("@")[0] for h in rules.brand_handles}
    for c in candidates:
        own = handle_key(c.handle).split("@")[0]
        c.tags = len({m.split("@")[0] for m in mentions(c.text)} - brand_names - {own})
        c.rejection, c.detail = check(c, rules, patterns)
        c.weight = 1
    # Per person: the earliest entry that counts is the one drawn; the others are duplicates.
    people: dict[str, list[Candidate]] = {}
    for c in sorted(candidates, key=lambda c: (c.commented_at, c.key)):
        if c.override == "exclude" or (c.rejection and c.override != "include"):
            continue
        person = f"{c.person}#{c.key}" if c.own_person else c.person
        people.setdefault(person, []).append(c)
    for group in people.values():
        first = group[0]
        for other in group[1:]:
            other.rejection, other.detail = DUPLICATE, {"of": first.key, "weighted": rules.weighted}
        if rules.weighted:
            extra_tags = max(c.tags for c in group) - rules.min_tags
            extra_posts = len({c.post_id for c in group}) - 1
            first.weight = max(1, min(rules.max_weight, 1 + rules.bonus_per_tag * max(0, extra_tags)
                                      + rules.bonus_per_post * extra_posts))


def explain(code: str, detail: dict | None) -> str:
    """The rejection in the reader's language, with its figures."""
    detail = detail or {}
    if not code:
        return ""
    if code == OUTSIDE_WINDOW:
        return str(_("Commented before the entry window opened") if detail.get("early")
                   else _("Commented after the entry window closed"))
    if code == ACCOUNT_TOO_NEW:
        return ngettext("The account was %(days)s day old; the rules ask for %(min)s days.",
                        "The account was %(days)s days old; the rules ask for %(min)s days.",
                        int(detail.get("days", 0))) % {"days": detail.get("days", 0), "min": detail.get("min", 0)}
    if code == MISSING_TERMS:
        return str(_("Missing: %(terms)s")) % {"terms": ", ".join(str(t) for t in detail.get("missing", []))}
    if code == TOO_FEW_TAGS:
        return ngettext("Tagged %(tags)s friend; the rules ask for %(min)s.",
                        "Tagged %(tags)s friends; the rules ask for %(min)s.",
                        int(detail.get("tags", 0))) % {"tags": detail.get("tags", 0), "min": detail.get("min", 0)}
    if code == DUPLICATE:
        if detail.get("weighted"):
            return str(_("Same person as entry #%(entry)s, where it adds to the weight")) % {"entry": detail.get("of")}
        return str(_("Same person as entry #%(entry)s, which is the one counted")) % {"entry": detail.get("of")}
    return str(REASONS.get(code, code))
