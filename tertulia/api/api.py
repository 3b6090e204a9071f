"""The REST API root: django-ninja under /api/v1, OpenAPI docs at /api/v1/docs.

Auth: a personal access token as ``Authorization: Bearer tta_…`` (scoped per brand, read or
write), or the browser session (with CSRF on writes). Each app contributes a router.
"""

import json

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404
from django.utils import translation
from django.utils.translation import gettext as _
from ninja import NinjaAPI, Swagger
from ninja.errors import ValidationError as SchemaValidationError
from ninja.openapi.schema import OpenAPISchema
from ninja.security import APIKeyCookie, HttpBearer

from tertulia.core.models import TokenGrant
from tertulia.core.services import authenticate_token


SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


class TokenAuth(HttpBearer):
    def authenticate(self, request, token):
        user = authenticate_token(token)
        if user is not None:
            request.user = user
            # The session middleware could not know who this is; answer in their language.
            if user.language in dict(settings.LANGUAGES):
                translation.activate(user.language)
                request.LANGUAGE_CODE = user.language
            if request.method not in SAFE_METHODS:
                _require_write_scope(request, user.api_token)
        return user


def _require_write_scope(request, token) -> None:
    """Every POST, PUT, PATCH and DELETE of the API is a write: a token needs a *write* grant
    for it, whatever the handler would check (some writes need only the VIEW permission, and
    some POSTs compute without storing: with a read token they are refused all the same). This
    runs with authentication, before the body is read, so the answer is the same 403 whatever
    the body. A brand in the path needs a write grant for that brand; a brand the token was not
    granted at all is left to the handler, whose 404 tells nothing about it."""
    match = getattr(request, "resolver_match", None)
    brand_id = (match.kwargs if match else {}).get("brand_id")
    grants = TokenGrant.objects.filter(token=token)
    if brand_id is not None:
        try:
            brand_id = int(brand_id)
        except (TypeError, ValueError):
            return  # no such brand: the route answers 404
        scope = grants.filter(brand_id=brand_id).values_list("scope", flat=True).first()
        if scope is None or scope == TokenGrant.Scope.WRITE:
            return
    elif grants.filter(scope=TokenGrant.Scope.WRITE).exists():
        return
    raise PermissionDenied(_("This API token may only read. Create a token with write access to make changes."))


class SessionAuth(APIKeyCookie):
    """The signed-in browser session; ninja enforces CSRF for it."""

    param_name = "sessionid"

    def _get_key(self, request):
        # A request that brings an Authorization header is judged by it alone: a bad or
        # revoked token is a 401, never a silent fall-back to the browser's session. And
        # without a signed-in session there is nothing to protect with CSRF, so anonymous
        # writes get 401 (not a misleading CSRF 403).
        if "Authorization" in request.headers or not request.user.is_authenticated:
            return None
        return super()._get_key(request)

    def authenticate(self, request, key):
        if key and request.user.is_authenticated:
            return request.user
        return None


_REF = "#/components/schemas/"


def _rename_refs(node, renames: dict[str, str]):
    """``node`` with every ``$ref`` to a renamed component pointing at its new name."""
    if isinstance(node, dict):
        out = {}
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str) and value.startswith(_REF) and value[len(_REF):] in renames:
                out[key] = _REF + renames[value[len(_REF):]]
            else:
                out[key] = _rename_refs(value, renames)
        return out
    if isinstance(node, (list, tuple)):
        return type(node)(_rename_refs(item, renames) for item in node)
    return node


class _UniqueComponentsSchema(OpenAPISchema):
    """ninja's OpenAPI document, without its silent component clashes.

    ninja builds each model's JSON schema on its own and merges the definitions by name, so two
    different classes with one name (``AccountOut`` in core and in competitors; the ``Status``
    choices of an idea, a conversation and a social account) end up as ONE component: the last
    one wins and every other operation's documented response is wrong (a client generated from
    the schema, or schemathesis, then rejects correct answers). Here each model's definitions
    are collected apart and merged: a name already taken by a *different* definition gets the
    next free ``Name2``, ``Name3``… (or the one that already holds the same definition), and the
    references of that model follow the rename."""

    def _isolated(self, build):
        taken, self.schemas = self.schemas, {}
        try:
            result = build()
            new = self.schemas
        finally:
            self.schemas = taken
        renames: dict[str, str] = {}
        while True:
            current = _rename_refs(new, renames)
            clashes = {name for name, definition in current.items()
                       if name not in renames and name in taken and taken[name] != definition}
            if not clashes:
                break
            # Leaves first: a model may clash only because it refers to a clashing enum, and
            # stops clashing once that enum is renamed.
            leaves = {name for name in clashes
                      if not any(f'"{_REF}{other}"' in json.dumps(current[name]) for other in clashes - {name})}
            for name in sorted(leaves or clashes):
                definition = current[name]
                n = 2
                while f"{name}{n}" in taken and taken[f"{name}{n}"] != definition:
                    n += 1
                renames[name] = f"{name}{n}"
        for name, definition in _rename_refs(new, renames).items():
            taken[renames.get(name, name)] = definition
        return _rename_refs(result, renames)

    def _create_schema_from_model(self, model, *args, **kwargs):
        return self._isolated(lambda: super(_UniqueComponentsSchema, self)._create_schema_from_model(model, *args, **kwargs))

    def _extract_parameters(self, model):
        return self._isolated(lambda: super(_UniqueComponentsSchema, self)._extract_parameters(model))

    def operation_details(self, operation):
        details = super().operation_details(operation)
        # A body that is not JSON at all (or not UTF-8) is refused by ninja before any schema
        # applies: 400 {"detail": "Cannot parse request body"}. Say so wherever a body is read.
        if details.get("requestBody"):
            details.setdefault("responses", {}).setdefault(400, {
                "description": "Bad Request: the body could not be parsed",
                "content": {"application/json": {"schema": {
                    "type": "object", "properties": {"detail": {"type": "string"}}, "required": ["detail"],
                }}},
            })
        return details


class TertuliaAPI(NinjaAPI):
    def get_openapi_schema(self, *, path_prefix=None, path_params=None):
        if path_prefix is None:
            path_prefix = self.get_root_path(path_params or {})
        return _UniqueComponentsSchema(self, path_prefix)


api = TertuliaAPI(
    title="Tertulia API",
    version="1",
    urls_namespace="api",
    auth=[TokenAuth(), SessionAuth(csrf=True)],
    docs_url="/docs",
    # The docs page is served from ninja's own static files (no CDN, no inline script), so
    # it runs under our strict CSP. No online validator badge: nothing loads from outside.
    docs=Swagger(settings={"validatorUrl": None}),
)


@api.exception_handler(PermissionDenied)
def _permission_denied(request, exc):
    return api.create_response(request, {"detail": str(exc) or _("You do not have permission to do that.")}, status=403)


@api.exception_handler(OverflowError)
def _out_of_range(request, exc):
    """A date at the edge of the calendar (9999-12-31 plus a day, year 1 minus a time zone)."""
    return api.create_response(request, {"detail": _("Please correct the errors."),
                                         "errors": {"__all__": [_("A date is out of range: use years 2000 to 2100.")]}},
                               status=422)


@api.exception_handler(Http404)
def _not_found(request, exc):
    return api.create_response(request, {"detail": _("Not found.")}, status=404)


@api.exception_handler(ValidationError)
def _validation_error(request, exc):
    detail = exc.message_dict if hasattr(exc, "error_dict") else {"__all__": exc.messages}
    return api.create_response(request, {"detail": _("Please correct the errors."), "errors": detail}, status=422)


_SOURCES = {"body", "query", "path", "header", "cookie", "form", "file"}


@api.exception_handler(SchemaValidationError)
def _schema_error(request, exc):
    """Request data that fails its schema: the same shape as a service's ValidationError,
    ``{"detail": …, "errors": {"field": ["message", …]}}``."""
    errors: dict[str, list[str]] = {}
    for err in exc.errors:
        loc = [str(p) for p in err.get("loc", ())]
        if loc and loc[0] in _SOURCES:
            source = loc.pop(0)
            if source == "body" and len(loc) > 1:
                loc.pop(0)  # the handler's parameter name, e.g. "payload"
        field = ".".join(loc) or "__all__"
        errors.setdefault(field, []).append(str(err.get("msg", "")))
    return api.create_response(request, {"detail": _("Please correct the errors."), "errors": errors}, status=422)


from tertulia.core.api import router as core_router  # noqa: E402

api.add_router("/", core_router)
api.add_router("/", "tertulia.core.api_data.router")  # deleted brands, brand exports (issue 10)
api.add_router("/", "tertulia.strategy.api.router")
api.add_router("/", "tertulia.strategy.api_cadence.router")
api.add_router("/", "tertulia.content.api.router")
api.add_router("/", "tertulia.content.api_posts.router")
api.add_router("/", "tertulia.content.api_calendar.router")
api.add_router("/", "tertulia.content.api_ideas.router")
api.add_router("/", "tertulia.content.api_approvals.router")
api.add_router("/", "tertulia.publishing.api.router")
api.add_router("/", "tertulia.inbox.api.router")
api.add_router("/", "tertulia.networks.whatsapp.api.router")
api.add_router("/", "tertulia.networks.youtube.api.router")
api.add_router("/", "tertulia.listening.api_mentions.router")
api.add_router("/", "tertulia.listening.api_trends.router")
api.add_router("/", "tertulia.listening.api_competitors.router")
api.add_router("/", "tertulia.giveaways.api.router")
api.add_router("/", "tertulia.reports.api.router")
api.add_router("/", "tertulia.analytics.api_data.router")
api.add_router("/", "tertulia.analytics.api.router")
