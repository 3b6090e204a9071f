"""API routes for posts and their per-network variants, under /brands/{brand_id}/posts…

Thin handlers in the house style: the brand from ``scoping.get_brand`` (404 for strangers,
403 for a role or token without the permission), posts through ``Post.objects.for_user``,
every write through ``content.composer`` (audited with ``via="api"``). Reading needs VIEW;
writing needs COMPOSE. Ids in a body that are not the brand's (accounts, images, pillar,
campaign, idea) are a 422 naming the field, the same answer as for ids that do not exist.
Approving, rejecting and submitting for review live in ``api_approvals``.
"""


from datetime import datetime
from typing import Any

from django.core.exceptions import ValidationError
from django.db.models import Prefetch
from django.utils import timezone
from django.utils.translation import gettext as _
from ninja import Field, Query, Router, Schema, Status
from ninja.pagination import paginate
from pydantic import ConfigDict, field_validator
from pydantic_core import PydanticCustomError

from tertulia.core import roles
from tertulia.core.api import MAX_PAGE, Error, In, Pagination, Text, _ctx, _one, _responses
from tertulia.core.scoping import get_brand
from tertulia.networks.models import Network, SocialAccount
from tertulia.strategy.models import ContentPillar

from . import composer
from .api_paging import LightPage
from .models import Campaign, Idea, MediaAsset, Post, PostVariant

router = Router(tags=["posts"])

PostText = Text(composer.MAX_TEXT)
CommentText = Text(composer.MAX_FIRST_COMMENT)


# --- Schemas ------------------------------------------------------------------------------

class VariantOut(Schema):
    network: str
    is_custom: bool
    text: str = Field(..., description="The network's own text; empty while it inherits the post's.")
    effective_text: str = Field(..., description="What would be published on this network.")

    @staticmethod
    def resolve_effective_text(obj):
        return obj.effective_text


class PostOut(Schema):
    id: int
    brand_id: int
    state: str
    state_label: str
    text: str
    format: str
    pillar_id: int | None
    campaign_id: int | None
    idea_id: int | None
    scheduled_at: datetime | None
    first_comment: str
    version: int
    author_id: int | None
    created_at: datetime
    updated_at: datetime
    account_ids: list[int]
    networks: list[str]
    media_ids: list[int]
    variants: list[VariantOut]

    @staticmethod
    def resolve_state_label(obj):
        return str(obj.get_state_display())

    # A post from ``_PostPage`` carries its targets as ``(account id, network)`` pairs, its
    # images' ids and its variants (``api_targets``, ``api_media_ids``, ``api_variants``); any
    # other post is read through its prefetched relations.

    @staticmethod
    def resolve_account_ids(obj):
        pairs = getattr(obj, "api_targets", None)
        if pairs is not None:
            return sorted(account_id for account_id, _network in pairs)
        return sorted(t.account_id for t in obj.targets.all())

    @staticmethod
    def resolve_networks(obj):
        pairs = getattr(obj, "api_targets", None)
        if pairs is not None:
            return composer.ordered_networks({network for _account_id, network in pairs})
        return composer.ordered_networks({t.account.network for t in obj.targets.all()})

    @staticmethod
    def resolve_media_ids(obj):
        ids = getattr(obj, "api_media_ids", None)
        if ids is not None:
            return ids
        return [m.asset_id for m in obj.attachments.all()]

    @staticmethod
    def resolve_variants(obj):
        variants = getattr(obj, "api_variants", None)
        if variants is not None:  # _PostPage's _Variant rows
            return sorted(variants, key=lambda v: v.network)
        variants = list(obj.variants.all())
        for v in variants:
            v.post = obj  # effective_text reads the post's text without another query
        return sorted(variants, key=lambda v: v.network)


class PostFields(In):
    pillar_id: int | None = Field(None, description="A content pillar of the brand.")
    format: Post.Format = Post.Format.TEXT
    campaign_id: int | None = None
    idea_id: int | None = None
    scheduled_at: datetime | None = Field(None, description="ISO 8601 with an offset, e.g. 2030-05-01T09:30:00+02:00.")
    first_comment: CommentText = ""
    account_ids: list[int] = Field([], max_length=composer.MAX_ACCOUNTS)
    media_ids: list[int] = Field([], max_length=composer.MAX_MEDIA, description="Images, in order.")
    variants: dict[Network, PostText | None] = Field(
        None, description="Per network: its own text; null or \"\" inherits the post's text.")

    @field_validator("scheduled_at")
    @classmethod
    def _aware(cls, value):
        if value is not None and timezone.is_naive(value):
            raise PydanticCustomError("naive", _("Times must carry a time zone."))
        return value


class PostCreate(PostFields):
    text: PostText


class PostPatch(PostFields):
    """Send only what changes. ``null`` clears pillar, campaign, idea and the schedule."""

    text: PostText = None
    format: Post.Format = None
    first_comment: CommentText = None
    account_ids: list[int] = Field(None, max_length=composer.MAX_ACCOUNTS)
    media_ids: list[int] = Field(None, max_length=composer.MAX_MEDIA)
    version: int = Field(None, description="The version you edited; a newer one on the server is a 422.")

    @field_validator("text", "format", "first_comment", "account_ids", "media_ids", "version", mode="before")
    @classmethod
    def _not_null(cls, value):
        if value is None:
            raise PydanticCustomError("null", _("This field cannot be null; leave it out to keep its value."))
        return value


class VariantIn(In):
    text: Text(composer.MAX_TEXT, 1)


class ValidateIn(In):
    text: PostText = ""
    account_ids: list[int] = Field([], max_length=composer.MAX_ACCOUNTS)
    media_ids: list[int] = Field([], max_length=composer.MAX_MEDIA)
    variants: dict[Network, PostText | None] = None
    first_comment: CommentText = ""
    scheduled_at: datetime | None = None


class PostFilter(Schema):
    model_config = ConfigDict(populate_by_name=True)

    state: Post.State | None = None
    pillar: int | None = Field(None, description="A pillar id.")
    campaign: int | None = Field(None, description="A campaign id.")
    network: Network | None = Field(None, description="Posts with an account on this network.")
    from_: datetime | None = Field(None, alias="from", description="Scheduled at or after (ISO 8601).")
    to: datetime | None = Field(None, description="Scheduled before (ISO 8601).")


# --- Helpers ------------------------------------------------------------------------------

def _posts(request, permission: str = roles.VIEW):
    return (Post.objects.for_user(request.user, permission).select_related("brand")
            .prefetch_related(Prefetch("targets", queryset=_targets()), "attachments", "variants"))


def _targets():
    from tertulia.publishing.models import PostTarget

    return PostTarget.objects.select_related("account")


def _post(request, brand_id: int, post_id: int, permission: str = roles.VIEW):
    brand = get_brand(request.user, brand_id, permission)
    return brand, _one(_posts(request, permission), pk=post_id, brand=brand)


def _fresh(post: Post) -> Post:
    return _posts_qs().get(pk=post.pk)


class _PostPage(LightPage):
    """The list endpoint's posts, a slice read for ``PostOut`` with three light queries (targets
    as ``(account id, network)`` pairs, image ids, variants) instead of building the target,
    account and attachment models of every post."""

    def rows(self, index: slice) -> list:
        from tertulia.publishing.models import PostTarget

        from .models import PostMedia

        posts = list(self.queryset[index])
        by_id = {p.pk: p for p in posts}
        for p in posts:
            p.api_targets, p.api_media_ids, p.api_variants = [], [], []
        if posts:
            ids = list(by_id)
            for post_id, account_id, network in (PostTarget.objects.filter(post_id__in=ids)
                                                 .values_list("post_id", "account_id", "account__network")):
                by_id[post_id].api_targets.append((account_id, network))
            for post_id, asset_id in (PostMedia.objects.filter(post_id__in=ids).order_by("position")
                                      .values_list("post_id", "asset_id")):
                by_id[post_id].api_media_ids.append(asset_id)
            for post_id, network, text, is_custom in (PostVariant.objects.filter(post_id__in=ids)
                                                      .values_list("post_id", "network", "text", "is_custom")):
                post = by_id[post_id]
                post.api_variants.append(_Variant(network, is_custom, text, text if is_custom else post.text))
        return posts


class _Variant:
    """What ``VariantOut`` reads of a ``PostVariant`` (``effective_text`` as the model has it)."""

    __slots__ = ("network", "is_custom", "text", "effective_text")

    def __init__(self, network, is_custom, text, effective_text):
        self.network, self.is_custom, self.text, self.effective_text = network, is_custom, text, effective_text


def _posts_qs():
    return Post.objects.select_related("brand").prefetch_related(
        Prefetch("targets", queryset=_targets()), "attachments", "variants")


def _rows(request, model, brand, ids, field: str, label: str) -> list:
    """The brand's rows with these ids, in the order given, or a 422 naming the field."""
    ids = list(dict.fromkeys(ids))
    found = {o.pk: o for o in model.objects.for_user(request.user).filter(brand=brand, pk__in=ids)}
    missing = [i for i in ids if i not in found]
    if missing:
        raise ValidationError({field: _("Not found in this brand (%(thing)s): %(ids)s.")
                               % {"thing": label, "ids": ", ".join(map(str, missing[:10]))}})
    return [found[i] for i in ids]


def _one_row(request, model, brand, pk, field: str, label: str):
    if pk is None:
        return None
    return _rows(request, model, brand, [pk], field, label)[0]


def _fields(request, brand, payload: PostFields) -> dict[str, Any]:
    sent = payload.model_fields_set
    out: dict[str, Any] = {}
    if "text" in sent:
        out["text"] = payload.text
    if "format" in sent:
        out["format"] = payload.format.value
    if "first_comment" in sent:
        out["first_comment"] = payload.first_comment
    if "scheduled_at" in sent:
        out["scheduled_at"] = payload.scheduled_at
    if "account_ids" in sent:
        out["accounts"] = _rows(request, SocialAccount, brand, payload.account_ids, "account_ids", _("account"))
    if "media_ids" in sent:
        out["media"] = _rows(request, MediaAsset, brand, payload.media_ids, "media_ids", _("image"))
    if "pillar_id" in sent:
        out["pillar"] = _one_row(request, ContentPillar, brand, payload.pillar_id, "pillar_id", _("pillar"))
    if "campaign_id" in sent:
        out["campaign"] = _one_row(request, Campaign, brand, payload.campaign_id, "campaign_id", _("campaign"))
    if "idea_id" in sent:
        out["idea"] = _one_row(request, Idea, brand, payload.idea_id, "idea_id", _("idea"))
    if "variants" in sent and payload.variants is not None:
        out["variants"] = {(k.value if hasattr(k, "value") else k): v for k, v in payload.variants.items()}
    return out


# --- Posts --------------------------------------------------------------------------------

@router.get("/brands/{brand_id}/posts", response=_responses(200, list[PostOut]))
@paginate(Pagination, max_limit=MAX_PAGE)
def post_list(request, brand_id: int, filters: Query[PostFilter]):
    """The brand's posts, by schedule (unscheduled first), newest first."""
    brand = get_brand(request.user, brand_id)
    # ``get_brand`` has just checked that the caller (and its token) may view ``brand``: its
    # posts are read by brand, the rows ``for_user`` gives, without its membership subquery.
    qs = Post.objects.filter(brand=brand)
    if filters.state:
        qs = qs.filter(state=filters.state.value)
    if filters.pillar is not None:
        qs = qs.filter(pillar_id=filters.pillar)
    if filters.campaign is not None:
        qs = qs.filter(campaign_id=filters.campaign)
    if filters.network:
        qs = qs.filter(targets__account__network=filters.network.value).distinct()
    if filters.from_:
        qs = qs.filter(scheduled_at__gte=filters.from_)
    if filters.to:
        qs = qs.filter(scheduled_at__lt=filters.to)
    return _PostPage(qs.order_by("-scheduled_at", "-id"))


@router.post("/brands/{brand_id}/posts", response=_responses(201, PostOut))
def post_create(request, brand_id: int, payload: PostCreate):
    """Save a new post as a draft (whatever its problems for the networks: see /validate)."""
    brand = get_brand(request.user, brand_id, roles.COMPOSE)
    fields = _fields(request, brand, payload)
    fields.setdefault("text", payload.text)
    post = composer.do_create_draft(_ctx(request), brand, **fields)
    return Status(201, _fresh(post))


@router.post("/brands/{brand_id}/posts/validate", response=_responses(200, dict[str, Any]))
def post_validate(request, brand_id: int, payload: ValidateIn):
    """The composer's per-network report for a post as written, without saving it:
    counters, errors (which block a submission for review) and warnings."""
    brand = get_brand(request.user, brand_id, roles.COMPOSE)
    accounts = _rows(request, SocialAccount, brand, payload.account_ids, "account_ids", _("account"))
    assets = _rows(request, MediaAsset, brand, payload.media_ids, "media_ids", _("image"))
    variants = {(k.value if hasattr(k, "value") else k): v for k, v in (payload.variants or {}).items()}
    report = composer.validate_post(brand, payload.text, variants, accounts, assets,
                                    first_comment=payload.first_comment, scheduled_at=payload.scheduled_at)
    return report.as_dict()


@router.get("/brands/{brand_id}/posts/{post_id}", response=_responses(200, PostOut))
def post_get(request, brand_id: int, post_id: int):
    return _post(request, brand_id, post_id)[1]


@router.patch("/brands/{brand_id}/posts/{post_id}", response=_responses(200, PostOut))
def post_update(request, brand_id: int, post_id: int, payload: PostPatch):
    """Change a post. Editing the content of an approved or scheduled post sends it back to
    review when the brand's approval policy asks for it."""
    brand, post = _post(request, brand_id, post_id, roles.COMPOSE)
    fields = _fields(request, brand, payload)
    post = composer.do_update_post(_ctx(request), post, expected_version=payload.version, **fields)
    return _fresh(post)


@router.delete("/brands/{brand_id}/posts/{post_id}", response={204: None, 401: Error, 403: Error, 404: Error,
                                                                409: Error})
def post_delete(request, brand_id: int, post_id: int):
    """Delete a draft, a post in review or one with changes requested. Others: 409."""
    _brand, post = _post(request, brand_id, post_id, roles.COMPOSE)
    try:
        composer.do_delete_post(_ctx(request), post)
    except ValidationError as exc:
        if getattr(exc, "code", None) == "conflict":
            return Status(409, {"detail": " ".join(exc.messages)})
        raise
    return Status(204, None)


# --- Variants -----------------------------------------------------------------------------

def _variants(post: Post) -> list[PostVariant]:
    variants = list(PostVariant.objects.filter(post=post).order_by("network"))
    for v in variants:
        v.post = post
    return variants


@router.get("/brands/{brand_id}/posts/{post_id}/variants", response=_responses(200, list[VariantOut]))
def variant_list(request, brand_id: int, post_id: int):
    return _variants(_post(request, brand_id, post_id)[1])


@router.put("/brands/{brand_id}/posts/{post_id}/variants/{network}", response=_responses(200, VariantOut))
def variant_set(request, brand_id: int, post_id: int, network: Network, payload: VariantIn):
    """Give one network its own text (the same text as the post's inherits again)."""
    _brand, post = _post(request, brand_id, post_id, roles.COMPOSE)
    variant = composer.do_set_variant(_ctx(request), post, network.value, payload.text)
    variant.post = Post.objects.get(pk=post.pk)
    return variant


@router.delete("/brands/{brand_id}/posts/{post_id}/variants/{network}", response=_responses(200, VariantOut))
def variant_reset(request, brand_id: int, post_id: int, network: Network):
    """Put one network back to inheriting the post's text."""
    _brand, post = _post(request, brand_id, post_id, roles.COMPOSE)
    variant = composer.do_reset_variant(_ctx(request), post, network.value)
    variant.post = Post.objects.get(pk=post.pk)
    return variant
