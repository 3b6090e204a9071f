"""API routes for a brand's data: deleted brands (list, restore) and exports.

Deleting is ``DELETE /brands/{brand_id}`` (core/api.py), now a soft delete. A deleted brand is
out of ``scoping`` like everything else; ``/deleted-brands`` lists the ones the caller may
restore (its owners, the workspace administrators; a token needs a write grant for it) and
404s any other id. Exports need MANAGE_BRAND; the download streams the zip while its link is
valid.
"""

from datetime import datetime

from django.urls import reverse
from ninja import Router, Schema, Status
from ninja.pagination import paginate

from . import brand_lifecycle, export, roles
from .api import MAX_PAGE, BrandOut, Error, Pagination, _ctx, _one, _responses
from .models import BrandExport
from .scoping import get_brand

router = Router()


class DeletedBrandOut(Schema):
    id: int
    name: str
    organization_id: int
    deleted_at: datetime
    purge_at: datetime
    deleted_by: str | None

    @staticmethod
    def resolve_deleted_by(obj):
        return str(obj.deleted_by) if obj.deleted_by_id else None


class ExportOut(Schema):
    id: int
    brand_id: int
    state: str
    size: int
    created_at: datetime
    finished_at: datetime | None
    expires_at: datetime | None
    download_url: str | None

    @staticmethod
    def resolve_download_url(obj):
        if not obj.downloadable:
            return None
        return reverse("api:brand_export_download_api", kwargs={"brand_id": obj.brand_id, "export_id": obj.pk})


@router.get("/deleted-brands", response=_responses(200, list[DeletedBrandOut]), tags=["brands"])
@paginate(Pagination, max_limit=MAX_PAGE)
def deleted_brand_list(request):
    """Deleted brands in their grace period that the caller may restore, with their purge date."""
    return brand_lifecycle.restorable_for(request.user)


@router.post("/deleted-brands/{brand_id}/restore", response=_responses(200, BrandOut), tags=["brands"])
def deleted_brand_restore(request, brand_id: int):
    """Restore a deleted brand (its publishing stays paused until someone resumes it)."""
    brand = brand_lifecycle.get_restorable(request.user, brand_id)
    return brand_lifecycle.do_restore_brand(_ctx(request), brand)


@router.get("/brands/{brand_id}/exports", response=_responses(200, list[ExportOut]), tags=["brands"])
@paginate(Pagination, max_limit=MAX_PAGE)
def export_list(request, brand_id: int):
    brand = get_brand(request.user, brand_id, roles.MANAGE_BRAND)
    return BrandExport.objects.for_user(request.user, roles.MANAGE_BRAND).filter(brand=brand)


@router.post("/brands/{brand_id}/exports", response=_responses(202, ExportOut), tags=["brands"])
def export_create(request, brand_id: int):
    """Start an export of all the brand's data (JSON, CSV, media); poll it or wait for the notification."""
    brand = get_brand(request.user, brand_id, roles.MANAGE_BRAND)
    item = export.do_export_brand(_ctx(request), brand)
    item.refresh_from_db()  # the job may already have run (immediate mode)
    return Status(202, item)


@router.get("/brands/{brand_id}/exports/{export_id}", response=_responses(200, ExportOut), tags=["brands"])
def export_get(request, brand_id: int, export_id: int):
    brand = get_brand(request.user, brand_id, roles.MANAGE_BRAND)
    return _one(BrandExport.objects.for_user(request.user, roles.MANAGE_BRAND).filter(brand=brand), pk=export_id)


@router.get("/brands/{brand_id}/exports/{export_id}/download", tags=["brands"], url_name="brand_export_download_api",
            response={401: Error, 403: Error, 404: Error},
            openapi_extra={"responses": {200: {"description": "The export as a zip file.",
                                               "content": {"application/zip": {"schema": {"type": "string",
                                                                                          "format": "binary"}}}}}})
def export_download(request, brand_id: int, export_id: int):
    """The zip file (application/zip), while the link is valid; 404 after it expires."""
    from .data_views import export_response

    brand = get_brand(request.user, brand_id, roles.MANAGE_BRAND)
    item = _one(BrandExport.objects.for_user(request.user, roles.MANAGE_BRAND).filter(brand=brand), pk=export_id)
    return export_response(item)
