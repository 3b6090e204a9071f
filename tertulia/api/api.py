"""The REST API root: django-ninja under /api/v1, OpenAPI docs at /api/v1/docs.

Auth: a personal access token as ``Authorization: Bearer tta_…`` (scoped per brand, read or
write), or the browser session (with CSRF on writes). Each app contributes a router.
"""

from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404
from django.utils.translation import gettext as _
from ninja import NinjaAPI
from ninja.security import APIKeyCookie, HttpBearer

from tertulia.core.services import authenticate_token


class TokenAuth(HttpBearer):
    def authenticate(self, request, token):
        user = authenticate_token(token)
        if user is not None:
            request.user = user
            request.api_via = "api"
        return user


class SessionAuth(APIKeyCookie):
    """The signed-in browser session; ninja enforces CSRF for it."""

    param_name = "sessionid"

    def authenticate(self, request, key):
        if request.user.is_authenticated:
            request.api_via = "web"
            return request.user
        return None


api = NinjaAPI(
    title="Tertulia API",
    version="1",
    urls_namespace="api",
    auth=[TokenAuth(), SessionAuth(csrf=True)],
    docs_url="/docs",
)


@api.exception_handler(PermissionDenied)
def _permission_denied(request, exc):
    return api.create_response(request, {"detail": str(exc) or _("You do not have permission to do that.")}, status=403)


@api.exception_handler(Http404)
def _not_found(request, exc):
    return api.create_response(request, {"detail": _("Not found.")}, status=404)


@api.exception_handler(ValidationError)
def _validation_error(request, exc):
    detail = exc.message_dict if hasattr(exc, "error_dict") else {"__all__": exc.messages}
    return api.create_response(request, {"detail": _("Please correct the errors."), "errors": detail}, status=422)


from tertulia.core.api import router as core_router  # noqa: E402

api.add_router("/", core_router)
