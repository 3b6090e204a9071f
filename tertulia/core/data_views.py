"""Pages for a brand's data: deleted brands (restore during the grace period) and exports.

Thin: the rules live in ``brand_lifecycle`` and ``export``. A deleted brand is not reachable
through ``get_brand`` (it is hidden from everything); the restore page reaches it only through
``brand_lifecycle.restorable_for`` (its owners and the workspace administrators), 404 for
anyone else.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.storage import default_storage
from django.http import FileResponse, Http404, HttpResponseNotAllowed
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from . import brand_lifecycle, export, roles
from .models import BrandExport
from .services import Ctx
from .views import _errors_to_messages, brand_view


@login_required
def deleted_brands(request):
    brands = brand_lifecycle.restorable_for(request.user)
    return render(request, "core/deleted_brands.html", {"brands": brands})


@login_required
def brand_restore(request, brand_id):
    # The look-up first: another tenant's id is 404 whatever the method.
    try:
        brand = brand_lifecycle.get_restorable(request.user, brand_id)
    except ValidationError as exc:  # a brand the user can see, not deleted
        _errors_to_messages(request, exc)
        return redirect("brand_settings", brand_id)
    if request.method != "POST":
        return HttpResponseNotAllowed(["POST"])
    try:
        brand_lifecycle.do_restore_brand(Ctx.from_request(request), brand)
    except (ValidationError, PermissionDenied) as exc:
        _errors_to_messages(request, exc)
        return redirect("deleted_brands")
    messages.success(request, _("Brand “%(name)s” restored. Its publishing is paused: check the calendar, then "
                                "resume it.") % {"name": brand.name})
    return redirect("brand_settings", brand.pk)


@brand_view(roles.MANAGE_BRAND)
def brand_exports(request, brand):
    exports = BrandExport.objects.for_user(request.user, roles.MANAGE_BRAND).filter(brand=brand).select_related(
        "requested_by")[:20]
    return render(request, "core/brand_exports.html", {"exports": exports, "tab": "brand"})


@brand_view(roles.MANAGE_BRAND)
@require_POST
def brand_export_new(request, brand):
    try:
        export.do_export_brand(Ctx.from_request(request), brand)
    except (ValidationError, PermissionDenied) as exc:
        _errors_to_messages(request, exc)
    else:
        messages.success(request, _("The export is being prepared. You will get a notification with the download "
                                    "link when it is ready."))
    return redirect("brand_exports", brand.pk)


def export_response(item: BrandExport):
    """The zip as a download, while its link is valid (404 otherwise)."""
    if not item.downloadable or not item.file:
        raise Http404
    try:
        fh = default_storage.open(item.file, "rb")
    except FileNotFoundError:
        raise Http404 from None
    stamp = item.created_at.strftime("%Y%m%d")
    response = FileResponse(fh, content_type="application/zip", as_attachment=True,
                            filename=f"tertulia-brand-{item.brand_id}-{stamp}.zip")
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = "private, no-store"
    return response


@never_cache
@brand_view(roles.MANAGE_BRAND)
def brand_export_download(request, brand, export_id):
    item = BrandExport.objects.for_user(request.user, roles.MANAGE_BRAND).filter(brand=brand, pk=export_id).first()
    if item is None:
        raise Http404
    return export_response(item)
