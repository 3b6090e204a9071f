"""Giveaways: every write (``do_*``: permissions, limits, audit log) and what the pages and the
API read (entries collected from the inbox, the proof, exports, announcements, the effect).

Entries are not fetched on their own: the inbox's polling already reads the comments under the
brand's posts (and, while a contest runs, under its posts published elsewhere, see
``threads_for``), and ``collect`` turns the stored comments into entries. Nothing is fetched twice.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections import Counter
from collections.abc import Sequence
from datetime import datetime, timedelta

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from tertulia.core import bulk, notes, roles
from tertulia.core.services import Ctx, _log, _require
from tertulia.inbox.models import Conversation, Interaction
from tertulia.networks.models import SocialAccount
from tertulia.publishing.models import PostTarget

from . import draw, eligibility
from .models import Contest, ContestPost, DrawRun, Entry

MAX_POSTS = 20
MAX_TERMS = 20
MAX_TERM_CHARS = 100
MAX_EXCLUDED = 500
MAX_WINNERS = 100
MAX_WINDOW = timedelta(days=366)
MAX_TAGS = 20
MAX_BONUS = 10
MAX_WEIGHT = 100
MAX_AGE_DAYS = 3650
MAX_REASON = 500
YEARS = (2000, 2100)
# Comments are read for this long after the close: a poll after the close still brings in
# comments written before it.
LATE_GRACE = timedelta(days=2)
_EXTERNAL_ID = re.compile(r"[A-Za-z0-9_.:@/\-]{1,200}")
_TERM = re.compile(r"[#@]?[\w][\w\-' ]*", re.UNICODE)
_HANDLE = re.compile(r"@?[\w.\-@:]{1,200}", re.UNICODE)

RULE_FIELDS = ("required_terms", "min_tags", "mode", "bonus_per_tag", "bonus_per_post", "max_weight",
               "excluded_handles", "min_account_age_days", "winners", "substitutes")
FIELDS = ("title", "prize", "starts_at", "ends_at") + RULE_FIELDS
COMMITTED_EDITABLE = {"title", "prize", "ends_at"}
BOUNDS = {"min_tags": (0, MAX_TAGS), "bonus_per_tag": (0, MAX_BONUS), "bonus_per_post": (0, MAX_BONUS),
          "max_weight": (1, MAX_WEIGHT), "min_account_age_days": (0, MAX_AGE_DAYS),
          "winners": (1, MAX_WINNERS), "substitutes": (0, MAX_WINNERS)}


# -- validation ---------------------------------------------------------------------------------

def _split(value) -> list[str]:
    if isinstance(value, str):
        value = value.replace("\n", ",").split(",")
    if not isinstance(value, (list, tuple)):
        raise ValidationError(_("Give a list."))
    seen, out = set(), []
    for item in value:
        item = " ".join(str(item).split())
        if item and item.casefold() not in seen:
            seen.add(item.casefold())
            out.append(item)
    return out


def _clean_terms(value) -> list[str]:
    terms = _split(value)
    if len(terms) > MAX_TERMS:
        raise ValidationError({"required_terms": _("At most %(n)s hashtags or keywords.") % {"n": MAX_TERMS}})
    for term in terms:
        if len(term) > MAX_TERM_CHARS or not _TERM.fullmatch(term):
            raise ValidationError({"required_terms": _(
                "“%(term)s” is not a hashtag or keyword: use letters, digits, spaces, #, @, - or '.")
                % {"term": term[:MAX_TERM_CHARS]}})
    return terms


def _clean_handles(value) -> list[str]:
    handles = _split(value)
    if len(handles) > MAX_EXCLUDED:
        raise ValidationError({"excluded_handles": _("At most %(n)s excluded accounts.") % {"n": MAX_EXCLUDED}})
    for handle in handles:
        if not _HANDLE.fullmatch(handle):
            raise ValidationError({"excluded_handles": _("“%(handle)s” is not an account handle.")
                                   % {"handle": handle[:200]}})
    return handles


def _clean(fields: dict, current: Contest | None = None) -> dict:
    unknown = set(fields) - set(FIELDS)
    if unknown:
        raise ValidationError(_("Unknown fields: %(fields)s") % {"fields": ", ".join(sorted(unknown))})
    out = dict(fields)
    if "title" in out:
        out["title"] = " ".join(str(out["title"] or "").split())
        if not out["title"]:
            raise ValidationError({"title": _("Give the giveaway a title.")})
        if len(out["title"]) > 200:
            raise ValidationError({"title": _("The title is too long (200 characters at most).")})
    if "prize" in out:
        out["prize"] = str(out["prize"] or "").strip()
        if len(out["prize"]) > 2000:
            raise ValidationError({"prize": _("The prize description is too long (2,000 characters at most).")})
    for key in ("title", "prize"):
        if "\x00" in out.get(key, ""):
            raise ValidationError({key: _("Null characters are not allowed.")})
    if "required_terms" in out:
        out["required_terms"] = _clean_terms(out["required_terms"])
    if "excluded_handles" in out:
        out["excluded_handles"] = _clean_handles(out["excluded_handles"])
    if "mode" in out and out["mode"] not in Contest.Mode.values:
        raise ValidationError({"mode": _("Unknown way of counting entries.")})
    for key, (low, high) in BOUNDS.items():
        if key in out:
            value = out[key]
            if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
                raise ValidationError({key: _("Give a whole number from %(low)s to %(high)s.")
                                       % {"low": low, "high": high}})
    for key in ("starts_at", "ends_at"):
        if key in out and (not isinstance(out[key], datetime) or out[key].tzinfo is None):
            raise ValidationError({key: _("Give a date and time with its time zone.")})
        if key in out and not YEARS[0] <= out[key].year <= YEARS[1]:
            raise ValidationError({key: _("Give a date between the years %(first)s and %(last)s.")
                                   % {"first": YEARS[0], "last": YEARS[1]}})
    starts = out.get("starts_at", current.starts_at if current else None)
    ends = out.get("ends_at", current.ends_at if current else None)
    if starts is None or ends is None:
        raise ValidationError(_("Say when entries open and when they close."))
    if ends <= starts:
        raise ValidationError({"ends_at": _("Entries must close after they open.")})
    if ends - starts > MAX_WINDOW:
        raise ValidationError({"ends_at": _("The entry window can be a year long at most.")})
    return out


def _clean_posts(brand, posts) -> list[tuple[SocialAccount, str, PostTarget | None]]:
    """``posts``: (account, id on the network) pairs. The accounts must be the brand's."""
    posts = list(posts or [])
    if not posts:
        raise ValidationError({"posts": _("Choose at least one post the giveaway runs on.")})
    if len(posts) > MAX_POSTS:
        raise ValidationError({"posts": _("At most %(n)s posts per giveaway.") % {"n": MAX_POSTS}})
    out, seen = [], set()
    for account, external_id in posts:
        if not isinstance(account, SocialAccount) or account.brand_id != brand.pk:
            raise ValidationError({"posts": _("That account is not one of this brand's.")})
        external_id = str(external_id or "").strip()
        if not _EXTERNAL_ID.fullmatch(external_id):
            raise ValidationError({"posts": _(
                "“%(id)s” is not a post id: copy the id (or the post's address) from the network.")
                % {"id": external_id[:200]}})
        if (account.pk, external_id) in seen:
            continue
        seen.add((account.pk, external_id))
        target = PostTarget.objects.filter(account=account, external_id=external_id).first()
        out.append((account, external_id, target))
    return out


def _not_drawn(contest: Contest) -> None:
    if contest.drawn_at is not None:
        raise ValidationError(_("This giveaway has been drawn: it can no longer change."))


# -- contests -------------------------------------------------------------------------------------

def do_create_contest(ctx: Ctx, brand, *, posts, **fields) -> Contest:
    _require(ctx, brand, roles.COMPOSE)
    fields.setdefault("title", "")
    clean = _clean(fields)
    rows = _clean_posts(brand, posts)
    seed = draw.new_seed()
    with transaction.atomic():
        contest = Contest.objects.create(brand=brand, seed=seed, commitment=draw.commitment(seed),
                                         created_by=ctx.user if ctx.user.is_authenticated else None, **clean)
        _set_posts(contest, rows)
        _log(ctx, "giveaway.create", brand=brand, obj=contest, changes={"title": contest.title})
    return contest


def _set_posts(contest: Contest, rows) -> None:
    keep = set()
    for account, external_id, target in rows:
        post, _created = ContestPost.objects.get_or_create(
            contest=contest, account=account, external_id=external_id,
            defaults={"brand": contest.brand, "target": target})
        keep.add(post.pk)
    contest.posts.exclude(pk__in=keep).delete()


def do_update_contest(ctx: Ctx, contest: Contest, *, posts=None, **fields) -> Contest:
    _require(ctx, contest.brand, roles.COMPOSE)
    with transaction.atomic():
        contest = Contest.objects.select_for_update().get(pk=contest.pk)
        _not_drawn(contest)
        clean = _clean(fields, contest)
        rows = _clean_posts(contest.brand, posts) if posts is not None else None
        if contest.committed_at:
            # The commitment is public: the rules and posts it was announced with stand (the public
            # page shows them); only the wording and a later close may change.
            changed = {k for k, v in clean.items() if getattr(contest, k) != v} - COMMITTED_EDITABLE
            if rows is not None and {(a.pk, e) for a, e, _t in rows} != set(
                    contest.posts.values_list("account_id", "external_id")):
                changed.add("posts")
            if changed:
                raise ValidationError(_("The commitment is public: the rules, the posts and the opening time can "
                                        "no longer change (%(fields)s). Only the title, the prize and a later "
                                        "close can.") % {"fields": ", ".join(sorted(changed))})
            if "ends_at" in clean and clean["ends_at"] != contest.ends_at and clean["ends_at"] < max(
                    contest.ends_at, timezone.now()):
                raise ValidationError({"ends_at": _("Once the commitment is public, entries can only close later "
                                                    "(or now, with “Close entries now”).")})
        changes = {}
        for key, value in clean.items():
            if getattr(contest, key) != value:
                changes[key] = str(value)
                setattr(contest, key, value)
        contest.save()
        if rows is not None:
            _set_posts(contest, rows)
            changes["posts"] = [f"{a.network}:{e}" for a, e, _t in rows]
        if changes:
            _log(ctx, "giveaway.update", brand=contest.brand, obj=contest, changes=changes)
    collect(contest)
    return contest


def do_delete_contest(ctx: Ctx, contest: Contest) -> None:
    _require(ctx, contest.brand, roles.COMPOSE)
    with transaction.atomic():
        contest = Contest.objects.select_for_update().get(pk=contest.pk)
        if contest.drawn_at is not None:
            raise ValidationError(_("A drawn giveaway stays on record: its public result must remain checkable."))
        if contest.committed_at is not None:
            raise ValidationError(_("The commitment of this giveaway is public: it stays on record. "
                                    "Close its entries instead."))
        _log(ctx, "giveaway.delete", brand=contest.brand, obj=contest, changes={"title": contest.title})
        contest.delete()


def do_publish_commitment(ctx: Ctx, contest: Contest) -> Contest:
    _require(ctx, contest.brand, roles.COMPOSE)
    with transaction.atomic():
        contest = Contest.objects.select_for_update().get(pk=contest.pk)
        if contest.committed_at is not None:
            return contest
        if timezone.now() >= contest.ends_at:
            raise ValidationError(_(
                "Entries have closed: a commitment published now would prove nothing. Move the close "
                "later, or create a new giveaway."))
        contest.committed_at = timezone.now()
        contest.save(update_fields=["committed_at"])
        _log(ctx, "giveaway.commit", brand=contest.brand, obj=contest, changes={"commitment": contest.commitment})
    return contest


def do_close_entries(ctx: Ctx, contest: Contest) -> Contest:
    """Close the entry window now (ahead of its planned close)."""
    _require(ctx, contest.brand, roles.COMPOSE)
    with transaction.atomic():
        contest = Contest.objects.select_for_update().get(pk=contest.pk)
        _not_drawn(contest)
        now = timezone.now()
        if now < contest.ends_at:
            if now <= contest.starts_at:
                raise ValidationError(_("Entries have not opened yet."))
            contest.ends_at = now
            contest.save(update_fields=["ends_at"])
            _log(ctx, "giveaway.close", brand=contest.brand, obj=contest, changes={"ends_at": now.isoformat()})
    collect(contest)
    return contest


# -- entries ------------------------------------------------------------------------------------

def threads_for(account_id: int, now: datetime) -> list[str]:
    """The posts of running giveaways on this account whose comments the inbox must read
    (``inbox.polling`` adds them to the brand's own recent posts)."""
    return list(ContestPost.objects.filter(account_id=account_id, contest__drawn_at__isnull=True,
                                           contest__starts_at__lte=now, contest__ends_at__gte=now - LATE_GRACE)
                .values_list("external_id", flat=True)[:MAX_POSTS * 5])


def collect(contest: Contest, now: datetime | None = None) -> dict:
    """Turn the comments stored under the contest's posts into entries and judge them again.
    Safe to run any number of times; a drawn contest is frozen and left alone."""
    if contest.drawn_at is not None:
        return {"new": 0, "entries": contest.entries.count()}
    posts = {(p.account_id, p.external_id): p for p in contest.posts.select_related("account")}
    if not posts:
        return {"new": 0, "entries": 0}
    found = (Interaction.objects
             .filter(brand_id=contest.brand_id, direction=Interaction.Direction.INBOUND,
                     conversation__account_id__in={a for a, _e in posts},
                     conversation__root_external_id__in={e for _a, e in posts},
                     conversation__kind__in=[Conversation.Kind.COMMENT, Conversation.Kind.MENTION])
             .values_list("pk", "external_id", "conversation__account_id", "conversation__root_external_id",
                          "author_id", "author__handle", "author__network", "author__external_id", "text",
                          "created_at"))
    known = dict(contest.entries.values_list("external_id", "pk"))
    new, changed = [], []
    for pk, ext, account_id, root, author_id, handle, network, author_ext, text, created in found.iterator():
        post = posts.get((account_id, root))
        if post is None:
            continue
        if ext in known:
            changed.append((known[ext], text, created))
            continue
        new.append(Entry(brand_id=contest.brand_id, contest=contest, interaction_id=pk, post=post,
                         author_id=author_id, network=network, external_id=ext, handle=handle[:200],
                         person=eligibility.person_key(handle, network, author_ext), text=text,
                         commented_at=created))
        known[ext] = None
    with transaction.atomic():
        # Judged with the rules as stored now; drawn meanwhile (by another request or consumer),
        # the frozen entries stay as drawn.
        locked = Contest.objects.select_for_update().filter(pk=contest.pk, drawn_at__isnull=True).first()
        if locked is None:
            return {"new": 0, "entries": contest.entries.count()}
        contest = locked
        if new:
            Entry.objects.bulk_create(new, batch_size=500, ignore_conflicts=True)
        for chunk in bulk.chunks(changed, 500):  # edits on the network change the text the rules read
            Entry.objects.bulk_update([Entry(pk=pk, text=text, commented_at=at) for pk, text, at in chunk if pk],
                                      ["text", "commented_at"])
        judged = judge(contest)
        Contest.objects.filter(pk=contest.pk).update(collected_at=now or timezone.now())
    return {"new": len(new), "entries": judged}


def collect_running(now: datetime | None = None) -> int:
    """Collect the entries of every contest still taking (or about to freeze) comments."""
    now = now or timezone.now()
    running = Contest.objects.filter(drawn_at__isnull=True, starts_at__lte=now, ends_at__gte=now - LATE_GRACE,
                                     brand__deleted_at__isnull=True)
    count = 0
    for contest in running.select_related("brand").iterator():
        collect(contest, now)
        count += 1
    return count


def brand_handles(contest: Contest) -> list[str]:
    return list(SocialAccount.objects.filter(brand_id=contest.brand_id).values_list("handle", flat=True))


def judge(contest: Contest) -> int:
    """Apply the rules to every entry and store the verdicts that changed."""
    rules = eligibility.Rules.of(contest, brand_handles(contest))
    entries = list(contest.entries.select_related("interaction", "author"))
    candidates = [
        eligibility.Candidate(
            key=e.pk, handle=e.handle, person=e.person, post_id=e.post_id, text=e.text,
            commented_at=e.commented_at,
            deleted=e.interaction is None or e.interaction.deleted_at is not None,
            edited_at=e.interaction.edited_at if e.interaction else None,
            hidden=bool(e.interaction and e.interaction.hidden),
            account_created_at=e.author.account_created_at if e.author else None,
            override=e.override, own_person=e.own_person)
        for e in entries]
    eligibility.evaluate(candidates, rules)
    dirty = []
    for e, c in zip(entries, candidates):
        detail = c.detail or {}
        if (e.tags, e.rejection, e.detail, e.weight) != (c.tags, c.rejection, detail, c.weight):
            e.tags, e.rejection, e.detail, e.weight = c.tags, c.rejection, detail, c.weight
            dirty.append(e)
    if dirty:
        Entry.objects.bulk_update(dirty, ["tags", "rejection", "detail", "weight"], batch_size=500)
    return len(entries)


def do_fetch_now(ctx: Ctx, contest: Contest) -> dict:
    """Read the contest posts' comments now (through the inbox's polling) and collect them."""
    _require(ctx, contest.brand, roles.COMPOSE)
    from tertulia.inbox import polling

    accounts = sorted({p.account_id for p in contest.posts.all()})
    outcomes = polling.poll_now(accounts)
    result = collect(contest)
    result["polls"] = outcomes
    return result


def do_override(ctx: Ctx, entry: Entry, decision: str, reason: str = "") -> Entry:
    """Count an entry the rules rejected, leave out one they accepted, or go back to the rules.
    A reason is required for the first two; every change is in the audit log."""
    contest = entry.contest
    _require(ctx, contest.brand, roles.COMPOSE)
    if decision not in Entry.Override.values:
        raise ValidationError({"decision": _("Unknown decision.")})
    reason = " ".join(str(reason or "").split())
    if decision and not reason:
        raise ValidationError({"reason": _("Say why: the reason is kept with the giveaway's record.")})
    if len(reason) > MAX_REASON or "\x00" in reason:
        raise ValidationError({"reason": _("The reason is too long (500 characters at most).")})
    with transaction.atomic():
        locked = Contest.objects.select_for_update().get(pk=contest.pk)
        _not_drawn(locked)
        entry = Entry.objects.select_for_update().get(pk=entry.pk, contest=locked)
        before = entry.override
        entry.own_person = decision == Entry.Override.INCLUDE and entry.rejection == eligibility.DUPLICATE
        entry.override, entry.override_reason = decision, reason
        entry.override_by = ctx.user if decision else None
        entry.override_at = timezone.now() if decision else None
        entry.save(update_fields=["override", "override_reason", "override_by", "override_at", "own_person"])
        _log(ctx, "giveaway.override", brand=locked.brand, obj=entry,
             changes={"entry": entry.pk, "handle": entry.handle, "from": before, "to": decision,
                      "rule": entry.rejection, "reason": reason})
        judge(locked)
    entry.refresh_from_db()
    return entry


def frozen_rows(contest: Contest) -> list[list]:
    """The entries that take part, one row per person: [network, handle, comment_id, weight]."""
    people: dict[str, list] = {}
    for pk, person, own, rejection, override, network, handle, ext, weight in (
            contest.entries.order_by("commented_at", "pk").values_list(
                "pk", "person", "own_person", "rejection", "override", "network", "handle", "external_id", "weight")
            .iterator(chunk_size=2000)):
        counts = override == Entry.Override.INCLUDE or (override != Entry.Override.EXCLUDE and not rejection)
        if not counts or (rejection == eligibility.DUPLICATE and override != Entry.Override.INCLUDE):
            continue
        people.setdefault(f"{person}#{pk}" if own else person, [network, handle, ext, weight])
    return list(people.values())


def summary(contest: Contest) -> dict:
    """Entries, people taking part and the rejections by rule (for the contest page and the API)."""
    rows = list(contest.entries.values_list("rejection", "override"))
    rejected = Counter(rej for rej, over in rows if (rej and over != "include") or over == "exclude")
    return {"entries": len(rows), "taking_part": len(frozen_rows(contest)),
            "rejected": dict(rejected), "overrides": sum(1 for _r, over in rows if over)}


# -- the draw --------------------------------------------------------------------------------------

MSG_DRAWN = gettext_noop("%(winners)s winners and %(substitutes)s substitutes drawn from %(entries)s entries.")
MSG_DRAWN_ALREADY = gettext_noop("This giveaway was drawn on %(when)s; that result stands and cannot be drawn again.")
MSG_NO_COMMITMENT = gettext_noop("Publish the commitment before the draw (and before entries close): without it "
                                 "nobody can check the draw.")
MSG_LATE_COMMITMENT = gettext_noop("The commitment was published after entries closed, so the draw could not be "
                                   "checked. Create a new giveaway.")
MSG_STILL_OPEN = gettext_noop("Entries are still open: close them first.")
MSG_NOBODY = gettext_noop("No entry takes part: there is nobody to draw.")

def _refuse(contest: Contest, ctx: Ctx, refusal: list) -> None:
    DrawRun.objects.create(brand_id=contest.brand_id, contest=contest, accepted=False, outcome=refusal,
                           user=ctx.user if ctx.user.is_authenticated else None)
    _log(ctx, "giveaway.draw_refused", brand=contest.brand, obj=contest, changes={"reason": notes.render(refusal)})
    raise ValidationError(notes.render(refusal))


def do_draw(ctx: Ctx, contest: Contest) -> Contest:
    """Freeze the entries, reveal the seed and pick winners and substitutes, once. Every press is
    logged (``DrawRun``); after the first draw the result stands and later presses are refused."""
    _require(ctx, contest.brand, roles.COMPOSE)
    collect(contest)  # the last comments before the entries freeze
    refusal = None
    with transaction.atomic():
        contest = Contest.objects.select_for_update().get(pk=contest.pk)
        now = timezone.now()
        if contest.drawn_at is not None:
            refusal = notes.note(MSG_DRAWN_ALREADY, when=timezone.localtime(contest.drawn_at, contest.brand.tzinfo)
                                 .strftime("%Y-%m-%d %H:%M"))
        elif contest.committed_at is None:
            refusal = notes.note(MSG_NO_COMMITMENT)
        elif contest.committed_at >= contest.ends_at:
            refusal = notes.note(MSG_LATE_COMMITMENT)
        elif now < contest.ends_at:
            refusal = notes.note(MSG_STILL_OPEN)
        else:
            rows = frozen_rows(contest)
            if not rows:
                refusal = notes.note(MSG_NOBODY)
        if refusal is None:
            text = draw.canonical(rows)
            result = draw.run(contest.seed, json.loads(text), contest.winners, contest.substitutes)
            contest.frozen_entries = text
            contest.entries_hash = draw.entries_hash(text)
            contest.result = {"winners": result.winners, "substitutes": result.substitutes}
            contest.drawn_at, contest.drawn_by = now, ctx.user if ctx.user.is_authenticated else None
            contest.save(update_fields=["frozen_entries", "entries_hash", "result", "drawn_at", "drawn_by"])
            DrawRun.objects.create(brand_id=contest.brand_id, contest=contest, accepted=True,
                                   entries_hash=contest.entries_hash, user=contest.drawn_by,
                                   outcome=notes.note(MSG_DRAWN, winners=len(result.winners),
                                                      substitutes=len(result.substitutes), entries=len(rows)))
            _log(ctx, "giveaway.draw", brand=contest.brand, obj=contest,
                 changes={"entries_hash": contest.entries_hash, "winners": [r[1] for r in result.winners],
                          "substitutes": [r[1] for r in result.substitutes]})
            return contest
    _refuse(contest, ctx, refusal)


def proof(contest: Contest) -> dict:
    """Everything needed to check the draw, as published (the seed only once drawn)."""
    data = {
        "algorithm": draw.ALGORITHM,
        "giveaway": contest.title,
        "brand": contest.brand.name,
        "entries_open": contest.starts_at.isoformat(),
        "entries_close": contest.ends_at.isoformat(),
        "committed_at": contest.committed_at.isoformat() if contest.committed_at else None,
        "commitment": contest.commitment,
        "winner_count": contest.winners,
        "substitute_count": contest.substitutes,
        "rules": {key: contest.mode if key == "mode" else getattr(contest, key) for key in RULE_FIELDS},
    }
    if contest.drawn_at is not None:
        data.update({
            "drawn_at": contest.drawn_at.isoformat(),
            "seed": contest.seed,
            "entries_hash": contest.entries_hash,
            "entries": json.loads(contest.frozen_entries),
            "winners": contest.result.get("winners", []),
            "substitutes": contest.result.get("substitutes", []),
        })
    return data


def proof_json(contest: Contest) -> str:
    return json.dumps(proof(contest), ensure_ascii=False, indent=2)


def _cell(value) -> str:
    """A CSV cell a spreadsheet will not run: text starting with = + - @ or a control character
    gets a leading apostrophe (handles start with @)."""
    value = str(value)
    return "'" + value if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value


def entries_csv(contest: Contest) -> str:
    """The frozen entries (or, before the draw, the entries as judged now), one row each, with
    the draw's outcome. Handles are prefixed with an apostrophe; the JSON proof is exact."""
    out = io.StringIO()
    writer = csv.writer(out)
    if contest.drawn_at is not None:
        ranks = {tuple(r[:3]): (_("winner"), i + 1) for i, r in enumerate(contest.result.get("winners", []))}
        ranks.update({tuple(r[:3]): (_("substitute"), i + 1)
                      for i, r in enumerate(contest.result.get("substitutes", []))})
        writer.writerow(["network", "handle", "comment_id", "weight", "result", "rank"])
        for row in json.loads(contest.frozen_entries):
            result, rank = ranks.get(tuple(row[:3]), ("", ""))
            writer.writerow([_cell(row[0]), _cell(row[1]), _cell(row[2]), row[3], result, rank])
    else:
        writer.writerow(["entry", "network", "handle", "comment_id", "commented_at", "counts", "rejection",
                         "override", "override_reason", "weight"])
        for e in contest.entries.order_by("commented_at", "pk"):
            writer.writerow([e.pk, e.network, _cell(e.handle), _cell(e.external_id), e.commented_at.isoformat(),
                             "yes" if e.counts else "no", eligibility.explain(e.rejection, e.detail),
                             e.override, _cell(e.override_reason), e.weight])
    return out.getvalue()


# -- winners: announcements and messages ---------------------------------------------------------

def _names(rows) -> str:
    return ", ".join(r[1] if r[1].startswith("@") else f"@{r[1]}" for r in rows)


def announcement(contest: Contest, public_url: str, language: str | None = None, *, short: int = 0) -> str:
    """The winners' announcement in the brand's language, with the link to check the draw.
    ``short`` 1 leaves the substitutes out; 2 names nobody and sends readers to the results page."""
    with translation.override(language or contest.brand.language):
        winners = contest.result.get("winners", [])
        subs = contest.result.get("substitutes", [])
        check = _("Anyone can check the draw: %(url)s") % {"url": public_url}
        if short >= 2:
            return _("🎉 The winners of “%(title)s” are out: see them and check the draw at %(url)s") % {
                "title": contest.title, "url": public_url}
        text = _("🎉 Winners of “%(title)s”: %(winners)s. Congratulations!") % {
            "title": contest.title, "winners": _names(winners)}
        if subs and not short:
            text += "\n" + _("Substitutes, in order: %(subs)s.") % {"subs": _names(subs)}
        return text + "\n" + check


def announcements(contest: Contest, public_url: str) -> dict[str, str]:
    """The announcement for each network of the contest, as long as the network allows: the
    substitutes go first, then the names (X's 280 characters fill up quickly)."""
    from tertulia.content import text_rules

    out = {}
    for network in sorted(set(contest.posts.values_list("account__network", flat=True))):
        for short in (0, 1, 2):
            text = announcement(contest, public_url, short=short)
            if network not in text_rules.NETWORKS or text_rules.validate(network, text).remaining >= 0:
                break
        out[network] = text
    return out


def do_create_announcement(ctx: Ctx, contest: Contest, public_url: str):
    """A draft post with the announcement on the accounts the giveaway ran on."""
    from tertulia.content import services as content

    _require(ctx, contest.brand, roles.COMPOSE)
    if contest.drawn_at is None:
        raise ValidationError(_("Draw the giveaway first."))
    accounts = list(SocialAccount.objects.filter(pk__in=contest.posts.values("account_id")))
    return content.do_create_post(ctx, contest.brand, text=announcement(contest, public_url), accounts=accounts,
                                  variants=announcements(contest, public_url))


def winner_message(contest: Contest, row, language: str | None = None, *, substitute: int = 0) -> str:
    """A direct message (or reply) for one winner, or for the substitute in place ``substitute``,
    in the brand's language."""
    with translation.override(language or contest.brand.language):
        handle = row[1] if row[1].startswith("@") else f"@{row[1]}"
        if substitute:
            return _("Hi %(handle)s! You are substitute number %(rank)s in “%(title)s” at %(brand)s: if a winner "
                     "does not claim the prize in time, we will write to you.") % {
                "handle": handle, "rank": substitute, "title": contest.title, "brand": contest.brand.name}
        return _("Hi %(handle)s! You won “%(title)s” at %(brand)s. Send us a direct message within 7 days "
                 "to claim your prize: %(prize)s") % {"handle": handle, "title": contest.title,
                                                      "brand": contest.brand.name,
                                                      "prize": contest.prize or contest.title}


def winner_conversations(contest: Contest) -> dict[str, int]:
    """comment id -> the inbox conversation where that winner commented (to reply from there)."""
    ids = [r[2] for r in contest.result.get("winners", []) + contest.result.get("substitutes", [])]
    return {ext: conv for ext, conv in contest.entries.filter(external_id__in=ids, interaction__isnull=False)
            .values_list("external_id", "interaction__conversation_id")}


# -- the contest's effect --------------------------------------------------------------------------

def effect(contest: Contest, now: datetime | None = None) -> dict:
    """New followers on the contest's accounts during the window, and engagement on the contest
    posts, from the analytics snapshots. Missing figures stay ``None`` (shown as missing, not 0)."""
    from tertulia.analytics.models import PostMetricSnapshot, ProfileSnapshot

    now = now or timezone.now()
    end = min(contest.ends_at, now)
    accounts = []
    for account in SocialAccount.objects.filter(pk__in=contest.posts.values("account_id")).order_by("network"):
        snaps = ProfileSnapshot.objects.filter(account=account, followers__isnull=False)
        before = snaps.filter(taken_at__lte=contest.starts_at).order_by("-taken_at").first() \
            or snaps.filter(taken_at__lte=end).order_by("taken_at").first()
        after = snaps.filter(taken_at__lte=end).order_by("-taken_at").first()
        gained = after.followers - before.followers if before and after and after.taken_at > before.taken_at else None
        accounts.append({"account": account, "followers_before": before.followers if before else None,
                         "followers_after": after.followers if after and gained is not None else None,
                         "new_followers": gained})
    posts = []
    for post in contest.posts.select_related("account", "target"):
        snap = (PostMetricSnapshot.objects.filter(target=post.target).order_by("-taken_at").first()
                if post.target_id else None)
        values = [getattr(snap, f) for f in ("likes", "comments", "shares", "saves")] if snap else []
        known = [v for v in values if v is not None]
        posts.append({"post": post, "likes": snap.likes if snap else None,
                      "comments": snap.comments if snap else None, "shares": snap.shares if snap else None,
                      "engagements": sum(known) if known else None,
                      "entries": post.entries.count()})
    return {"accounts": accounts, "posts": posts}


def contests_for(user, brand, permission: str = roles.VIEW):
    return Contest.objects.for_user(user, permission).filter(brand=brand)


def public_contest(public_id: str) -> Contest | None:
    """A giveaway whose commitment is public (the public pages), or None."""
    if not isinstance(public_id, str) or not re.fullmatch(r"[A-Za-z0-9_\-]{8,32}", public_id):
        return None
    return Contest.objects.select_related("brand").filter(public_id=public_id, committed_at__isnull=False).first()


def postable(brand, since_days: int = 90) -> Sequence[PostTarget]:
    """The brand's posts published through Tertulia lately, to pick the giveaway's posts from."""
    since = timezone.now() - timedelta(days=since_days)
    return (PostTarget.objects.filter(brand=brand, state=PostTarget.State.PUBLISHED, published_at__gte=since)
            .exclude(external_id="").select_related("account", "post").order_by("-published_at")[:200])

