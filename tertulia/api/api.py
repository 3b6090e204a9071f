"""The REST API root: django-ninja under /api/v1, OpenAPI docs at /api/v1/docs.

Auth: a personal access token as ``Authorization: Bearer tta_…`` (scoped per brand, read or
write), or the browser session (with CSRF on writes). Each app contributes a router.
"""

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404
from django.utils import translation
from django.utils.translation import gettext as _
from ninja import NinjaAPI, Swagger
from ninja.errors import ValidationError as SchemaValidationError
from ninja.security import APIKeyCookie, HttpBearer

from tertulia.core.services import authenticate_token


class TokenAuth(HttpBearer):
    def authenticate(self, request, token):
        user = authenticate_token(token)
        if user is not None:
            request.user = user
            # The session middleware could not know who this is; answer in their language.
            if user.language in dict(settings.LANGUAGES):
                translation.activate(user.language)
                request.LANGUAGE_CODE = user.language
        return user


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


api = NinjaAPI(
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
