"""API routes for giveaways, under /brands/{brand_id}/giveaways/…: the contests with their rules
and posts, the steps of the verifiable draw (publish the commitment, close, fetch, draw), the
proof, the draw log, the contest's effect, and the entries with the CM's overrides.

Thin like the core router: the brand comes from ``scoping.get_brand`` (404 for strangers, 403
for a role or token without the permission), rows only through ``for_user`` after it, and every
write through a ``do_*`` service, which checks again and writes the audit log (via="api"). A
refusal because of the contest's state (a second draw, a draw while entries are open, deleting
a contest whose commitment is public) is a 422 with the reason; a refused draw is still logged
in the draw log (``/runs``).
Reading needs VIEW; every write needs COMPOSE.

The seed is never shown before the draw: ``seed``, ``entries_hash``, ``winners`` and
``substitutes`` are null until ``drawn_at`` is set.
"""

from datetime import datetime
from typing import Literal

from django.core.exceptions import ValidationError
from django.db.models import Q
from django.urls import NoReverseMatch, reverse
from django.utils.translation import gettext as _
from ninja import Field, Query, Router, Schema, Status
from ninja.pagination import paginate

from tertulia.core import roles
from tertulia.core.api import MAX_PAGE, In, Pagination, Patch, Text, _ctx, _one, _responses, _values
from tertulia.core.scoping import get_brand
from tertulia.networks.models import SocialAccount

from . import eligibility, services
from .models import Contest, DrawRun, Entry

router = Router()
TAGS = ["giveaways"]

# The API's name for "no override: the rules decide" (the model stores "").
NO_OVERRIDE = "none"


# --- Schemas ----------------------------------------------------------------------------------

class GiveawayPostOut(Schema):
    id: int
    account_id: int
    network: str
    external_id: str
    target_id: int | None = Field(description="The post as published through Tertulia, when it was.")

    @staticmethod
    def resolve_network(obj):
        return obj.account.network


class GiveawayPostIn(In):
    account_id: int = Field(..., ge=1, le=2**62, description="One of the brand's social accounts.")
    external_id: Text(200, 1) = Field(..., description="The post's id on the network.")


class GiveawaySummary(Schema):
    entries: int
    taking_part: int = Field(description="People in the draw (one row each) as the entries stand now.")
    rejected: dict[str, int] = Field(description="Entries left out, by rejection code.")
    overrides: int


class GiveawayPick(Schema):
    rank: int
    network: str
    handle: str = Field(description="As the network gave it (untrusted text).")
    comment_id: str
    weight: int
    conversation_id: int | None = Field(description="The inbox conversation to reply to the winner from.")


class GiveawayResult(Schema):
    winners: list[GiveawayPick]
    substitutes: list[GiveawayPick]


class GiveawayOut(Schema):
    id: int
    brand_id: int
    title: str
    prize: str
    starts_at: datetime
    ends_at: datetime
    timezone: str = Field(description="The brand's time zone, in which the pages show the window.")
    required_terms: list[str]
    min_tags: int
    mode: str
    bonus_per_tag: int
    bonus_per_post: int
    max_weight: int
    excluded_handles: list[str]
    min_account_age_days: int
    winners: int
    substitutes: int
    posts: list[GiveawayPostOut]
    status: Literal["scheduled", "open", "closed", "drawn"]
    status_label: str
    public_id: str
    public_url: str | None = Field(description="The public page (null until the commitment is published).")
    commitment: str = Field(description="SHA-256 of the secret seed.")
    committed_at: datetime | None = Field(description="When the commitment was published; null until then.")
    summary: GiveawaySummary
    collected_at: datetime | None
    created_at: datetime
    drawn_at: datetime | None
    seed: str | None = Field(description="Revealed at the draw; null until then.")
    entries_hash: str | None = Field(description="SHA-256 of the frozen entry list; null until the draw.")
    result: GiveawayResult | None = Field(description="The winners and substitutes in order; null until the draw.")

    @staticmethod
    def resolve_timezone(obj):
        return obj.brand.timezone

    @staticmethod
    def resolve_posts(obj):
        return sorted(obj.posts.all(), key=lambda p: p.pk)

    @staticmethod
    def resolve_status_label(obj):
        return obj.status_display()

    @staticmethod
    def resolve_public_url(obj, context):
        if obj.committed_at is None:
            return None
        return _public_url(context["request"], obj)

    @staticmethod
    def resolve_summary(obj):
        return services.summary(obj)

    @staticmethod
    def resolve_seed(obj):
        return obj.seed if obj.drawn_at is not None else None

    @staticmethod
    def resolve_entries_hash(obj):
        return obj.entries_hash if obj.drawn_at is not None else None

    @staticmethod
    def resolve_result(obj):
        if obj.drawn_at is None:
            return None
        conversations = services.winner_conversations(obj)
        return {key: [{"rank": i, "network": r[0], "handle": r[1], "comment_id": r[2], "weight": r[3],
                       "conversation_id": conversations.get(r[2])}
                      for i, r in enumerate(obj.result.get(key, []), start=1)]
                for key in ("winners", "substitutes")}


class GiveawayFields(In):
    prize: Text(2000) = None
    required_terms: list[Text(services.MAX_TERM_CHARS, 1)] = Field(
        None, max_length=services.MAX_TERMS, description="Hashtags or keywords every entry must contain.")
    min_tags: int = Field(None, ge=0, le=services.MAX_TAGS, description="Friends tagged, at least.")
    mode: Contest.Mode = Field(None, description="one: one entry per person; weighted: extra actions add weight.")
    bonus_per_tag: int = Field(None, ge=0, le=services.MAX_BONUS)
    bonus_per_post: int = Field(None, ge=0, le=services.MAX_BONUS)
    max_weight: int = Field(None, ge=1, le=services.MAX_WEIGHT)
    excluded_handles: list[Text(200, 1)] = Field(None, max_length=services.MAX_EXCLUDED,
                                                 description="Staff, partners (the brand's own accounts always).")
    min_account_age_days: int = Field(None, ge=0, le=services.MAX_AGE_DAYS)
    winners: int = Field(None, ge=1, le=services.MAX_WINNERS)
    substitutes: int = Field(None, ge=0, le=services.MAX_WINNERS)


class GiveawayCreate(GiveawayFields):
    title: Text(200, 1)
    starts_at: datetime = Field(..., description="ISO 8601 with its offset, e.g. 2030-05-01T10:00:00+02:00.")
    ends_at: datetime = Field(..., description="ISO 8601 with its offset; after starts_at, within a year.")
    posts: list[GiveawayPostIn] = Field(..., max_length=services.MAX_POSTS,
                                        description="The posts the giveaway runs on (at least one).")


class GiveawayPatch(Patch, GiveawayFields):
    title: Text(200, 1) = None
    starts_at: datetime = None
    ends_at: datetime = None
    posts: list[GiveawayPostIn] = Field(None, max_length=services.MAX_POSTS,
                                        description="Replaces the list of posts.")


class GiveawayFetchOut(Schema):
    new: int = Field(description="Entries new since the last collection.")
    entries: int
    polls: dict[str, str] = Field(description="Each account's poll outcome, by account id.")


class DrawRunOut(Schema):
    id: int
    at: datetime
    user_id: int | None
    accepted: bool
    entries_hash: str
    outcome: str = Field(description="What happened, in the caller's language.")

    @staticmethod
    def resolve_outcome(run) -> str:
        return run.outcome_display()


class EffectAccount(Schema):
    account_id: int
    network: str
    followers_before: int | None
    followers_after: int | None
    new_followers: int | None


class EffectPost(Schema):
    post_id: int = Field(description="The giveaway post (as in ``posts``).")
    account_id: int
    network: str
    external_id: str
    likes: int | None
    comments: int | None
    shares: int | None
    engagements: int | None
    entries: int


class GiveawayEffectOut(Schema):
    accounts: list[EffectAccount]
    posts: list[EffectPost]


class GiveawayEntryOut(Schema):
    id: int
    post_id: int
    network: str
    external_id: str = Field(description="The comment's id on the network.")
    handle: str = Field(description="As the network gave it (untrusted text).")
    text: str = Field(description="The comment as received (untrusted text).")
    commented_at: datetime
    conversation_id: int | None
    tags: int
    counts: bool = Field(description="Whether the entry takes part in the draw (an override wins over the rules).")
    rejection: str = Field(description="The rule that rejected it (empty when it passes).")
    rejection_label: str = Field(description="The rejection, explained in the caller's language.")
    detail: dict
    weight: int
    override: Literal["none", "include", "exclude"]
    override_reason: str
    override_by_id: int | None
    override_at: datetime | None

    @staticmethod
    def resolve_conversation_id(obj):
        return obj.interaction.conversation_id if obj.interaction_id else None

    @staticmethod
    def resolve_rejection_label(obj):
        return eligibility.explain(obj.rejection, obj.detail)

    @staticmethod
    def resolve_override(obj):
        return obj.override or NO_OVERRIDE


class GiveawayEntryFilter(Schema):
    counts: bool = Field(None, description="true: the entries in the draw; false: those left out.")
    rejection: Text(24) = Field(None, description="A rejection code (see ``rejection``).")


class GiveawayOverrideIn(In):
    decision: Literal["none", "include", "exclude"] = Field(
        ..., description="none: back to the rules; include: count it anyway; exclude: leave it out.")
    reason: Text(services.MAX_REASON) = Field("", description="Required to include or exclude; kept on record.")


# --- Helpers ------------------------------------------------------------------------------------

def _public_url(request, contest: Contest) -> str | None:
    try:
        return request.build_absolute_uri(reverse("giveaway_public", kwargs={"public_id": contest.public_id}))
    except NoReverseMatch:  # the public pages are not installed (yet): no link rather than a broken one
        return None


def _contests(request, brand, permission=roles.VIEW):
    return (services.contests_for(request.user, brand, permission).select_related("brand")
            .prefetch_related("posts__account"))


def _contest(request, brand_id: int, giveaway_id: int, permission=roles.VIEW) -> Contest:
    brand = get_brand(request.user, brand_id, permission)
    return _one(_contests(request, brand, permission), pk=giveaway_id)


def _reload(request, contest: Contest) -> Contest:
    return _one(_contests(request, contest.brand), pk=contest.pk)


def _posts(request, brand, posts: list[GiveawayPostIn]) -> list[tuple[SocialAccount, str]]:
    """The (account, post id) pairs, the accounts only among the brand's: any other id, of
    another brand or of none, is the same 422 (nothing tells them apart)."""
    ids = {p.account_id for p in posts}
    accounts = {a.pk: a for a in SocialAccount.objects.for_user(request.user, roles.COMPOSE)
                .filter(brand=brand, pk__in=ids)}
    out = []
    for index, post in enumerate(posts):
        account = accounts.get(post.account_id)
        if account is None:
            raise ValidationError({f"posts.{index}.account_id": _("That account is not one of this brand's.")})
        out.append((account, post.external_id))
    return out


def _fields(payload) -> dict:
    return _values(payload, exclude={"posts"})


# --- Contests -----------------------------------------------------------------------------------

@router.get("/brands/{brand_id}/giveaways", response=_responses(200, list[GiveawayOut]), tags=TAGS)
@paginate(Pagination, max_limit=MAX_PAGE)
def giveaway_list(request, brand_id: int):
    """The brand's giveaways, newest window first."""
    brand = get_brand(request.user, brand_id)
    return _contests(request, brand).order_by("-starts_at", "-pk")


@router.post("/brands/{brand_id}/giveaways", response=_responses(201, GiveawayOut), tags=TAGS)
def giveaway_create(request, brand_id: int, payload: GiveawayCreate):
    """A giveaway on one or more posts. Its secret seed is drawn now; publish its commitment
    (``/commit``) before entries close."""
    brand = get_brand(request.user, brand_id, roles.COMPOSE)
    contest = services.do_create_contest(_ctx(request), brand, posts=_posts(request, brand, payload.posts),
                                         **_fields(payload))
    return Status(201, _reload(request, contest))


@router.get("/brands/{brand_id}/giveaways/{giveaway_id}", response=_responses(200, GiveawayOut), tags=TAGS)
def giveaway_get(request, brand_id: int, giveaway_id: int):
    return _contest(request, brand_id, giveaway_id)


@router.patch("/brands/{brand_id}/giveaways/{giveaway_id}", response=_responses(200, GiveawayOut), tags=TAGS)
def giveaway_update(request, brand_id: int, giveaway_id: int, payload: GiveawayPatch):
    """Change the title, the window, the rules or the posts (not once drawn)."""
    contest = _contest(request, brand_id, giveaway_id, roles.COMPOSE)
    posts = _posts(request, contest.brand, payload.posts) if payload.posts is not None else None
    contest = services.do_update_contest(_ctx(request), contest, posts=posts, **_fields(payload))
    return _reload(request, contest)


@router.delete("/brands/{brand_id}/giveaways/{giveaway_id}", response=_responses(204, None), tags=TAGS)
def giveaway_delete(request, brand_id: int, giveaway_id: int):
    """Delete a giveaway whose commitment is not public yet (one that is stays on record)."""
    contest = _contest(request, brand_id, giveaway_id, roles.COMPOSE)
    services.do_delete_contest(_ctx(request), contest)
    return Status(204, None)


# --- The steps of the draw ------------------------------------------------------------------

@router.post("/brands/{brand_id}/giveaways/{giveaway_id}/commit", response=_responses(200, GiveawayOut), tags=TAGS)
def giveaway_commit(request, brand_id: int, giveaway_id: int):
    """Publish the commitment (the SHA-256 of the seed) and open the public page. Must happen
    before entries close; publishing again changes nothing."""
    contest = _contest(request, brand_id, giveaway_id, roles.COMPOSE)
    return _reload(request, services.do_publish_commitment(_ctx(request), contest))


@router.post("/brands/{brand_id}/giveaways/{giveaway_id}/close", response=_responses(200, GiveawayOut), tags=TAGS)
def giveaway_close(request, brand_id: int, giveaway_id: int):
    """Close the entries now, ahead of the planned close."""
    contest = _contest(request, brand_id, giveaway_id, roles.COMPOSE)
    return _reload(request, services.do_close_entries(_ctx(request), contest))


@router.post("/brands/{brand_id}/giveaways/{giveaway_id}/fetch", response=_responses(200, GiveawayFetchOut),
             tags=TAGS)
def giveaway_fetch(request, brand_id: int, giveaway_id: int):
    """Read the posts' comments now (through the inbox's polling) and judge the entries."""
    contest = _contest(request, brand_id, giveaway_id, roles.COMPOSE)
    result = services.do_fetch_now(_ctx(request), contest)
    return {"new": result.get("new", 0), "entries": result.get("entries", 0),
            "polls": {str(k): str(v) for k, v in (result.get("polls") or {}).items()}}


@router.post("/brands/{brand_id}/giveaways/{giveaway_id}/draw", response=_responses(200, GiveawayOut), tags=TAGS)
def giveaway_draw(request, brand_id: int, giveaway_id: int):
    """Freeze the entries, reveal the seed and pick the winners and substitutes, once. Every
    attempt is logged (``/runs``); after the first draw the result stands and any other is a 422."""
    contest = _contest(request, brand_id, giveaway_id, roles.COMPOSE)
    return _reload(request, services.do_draw(_ctx(request), contest))


@router.get("/brands/{brand_id}/giveaways/{giveaway_id}/proof", response=_responses(200, dict), tags=TAGS)
def giveaway_proof(request, brand_id: int, giveaway_id: int):
    """The proof as published (the seed, entries and picks once drawn): check it with
    ``tertulia verify-draw proof.json``."""
    return services.proof(_contest(request, brand_id, giveaway_id))


@router.get("/brands/{brand_id}/giveaways/{giveaway_id}/runs", response=_responses(200, list[DrawRunOut]), tags=TAGS)
@paginate(Pagination, max_limit=MAX_PAGE)
def giveaway_runs(request, brand_id: int, giveaway_id: int):
    """Every press of Draw, accepted or refused, oldest first."""
    contest = _contest(request, brand_id, giveaway_id)
    return DrawRun.objects.for_user(request.user).filter(brand=contest.brand, contest=contest).order_by("at", "pk")


@router.get("/brands/{brand_id}/giveaways/{giveaway_id}/effect", response=_responses(200, GiveawayEffectOut),
            tags=TAGS)
def giveaway_effect(request, brand_id: int, giveaway_id: int):
    """New followers during the window and engagement on the posts; a figure the analytics do
    not have is null, not 0."""
    data = services.effect(_contest(request, brand_id, giveaway_id))
    return {
        "accounts": [{"account_id": a["account"].pk, "network": a["account"].network,
                      **{k: a[k] for k in ("followers_before", "followers_after", "new_followers")}}
                     for a in data["accounts"]],
        "posts": [{"post_id": p["post"].pk, "account_id": p["post"].account_id, "network": p["post"].network,
                   "external_id": p["post"].external_id,
                   **{k: p[k] for k in ("likes", "comments", "shares", "engagements", "entries")}}
                  for p in data["posts"]],
    }


# --- Entries ------------------------------------------------------------------------------------

@router.get("/brands/{brand_id}/giveaways/{giveaway_id}/entries", response=_responses(200, list[GiveawayEntryOut]),
            tags=TAGS)
@paginate(Pagination, max_limit=MAX_PAGE)
def giveaway_entries(request, brand_id: int, giveaway_id: int, filters: Query[GiveawayEntryFilter]):
    """The comments on the giveaway's posts, oldest first, each with the rules' verdict."""
    contest = _contest(request, brand_id, giveaway_id)
    qs = (Entry.objects.for_user(request.user).filter(brand=contest.brand, contest=contest)
          .select_related("interaction"))
    if filters.rejection:
        if filters.rejection not in eligibility.REASONS:
            raise ValidationError({"rejection": _("Unknown rejection code.")})
        qs = qs.filter(rejection=filters.rejection)
    if filters.counts is not None:
        taking_part = Q(override=Entry.Override.INCLUDE) | Q(override="", rejection="")
        qs = qs.filter(taking_part) if filters.counts else qs.exclude(taking_part)
    return qs.order_by("commented_at", "pk")


@router.post("/brands/{brand_id}/giveaways/{giveaway_id}/entries/{giveaway_entry_id}/override",
             response=_responses(200, GiveawayEntryOut), tags=TAGS)
def giveaway_entry_override(request, brand_id: int, giveaway_id: int, giveaway_entry_id: int,
                            payload: GiveawayOverrideIn):
    """Count an entry the rules left out, or leave out one they counted (with a reason, kept in
    the audit log), or go back to the rules (``none``). Not once drawn."""
    contest = _contest(request, brand_id, giveaway_id, roles.COMPOSE)
    entry = _one(Entry.objects.for_user(request.user, roles.COMPOSE).filter(brand=contest.brand, contest=contest)
                 .select_related("contest__brand"), pk=giveaway_entry_id)
    decision = "" if payload.decision == NO_OVERRIDE else payload.decision
    entry = services.do_override(_ctx(request), entry, decision, payload.reason)
    return _one(Entry.objects.for_user(request.user).select_related("interaction"), pk=entry.pk)
