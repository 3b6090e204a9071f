"""The brand's media library: grid, upload, detail (alt text, tags, network fit, crops),
and the files themselves, served only to the brand's members.

Thin views: the brand comes from ``brand_view`` (404 for strangers before any form is
read), assets from ``MediaAsset.objects.for_user``, and every write goes through the
``do_*_media`` services. MEDIA_ROOT is never served directly.
"""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.http import FileResponse, Http404, HttpResponseNotAllowed
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from tertulia.core import roles
from tertulia.core.scoping import permissions_in
from tertulia.core.services import Ctx
from tertulia.core.views import _errors_to_messages, brand_view

from . import media, services
from .models import MediaAsset


class MediaUploadForm(forms.Form):
    file = forms.FileField(label=gettext_lazy("Image"), help_text=gettext_lazy("JPEG, PNG, GIF or WebP."),
                           widget=forms.FileInput(attrs={"accept": ",".join(media.MIME_TO_FORMAT)}))
    alt_text = forms.CharField(label=gettext_lazy("Alternative text"), required=False, max_length=1500,
                               widget=forms.Textarea(attrs={"rows": 2}),
                               help_text=gettext_lazy("Describe the image for people who cannot see it."))
    tags = forms.CharField(label=gettext_lazy("Tags"), required=False, max_length=2000,
                           help_text=gettext_lazy("Separated by commas."))


class MediaEditForm(forms.Form):
    alt_text = forms.CharField(label=gettext_lazy("Alternative text"), required=False, max_length=1500,
                               widget=forms.Textarea(attrs={"rows": 3}))
    tags = forms.CharField(label=gettext_lazy("Tags"), required=False, max_length=2000,
                           help_text=gettext_lazy("Separated by commas."))


def _asset(request, brand, asset_id, permission=roles.VIEW) -> MediaAsset:
    return get_object_or_404(MediaAsset.objects.for_user(request.user, permission), pk=asset_id, brand=brand)


def _apply(form, exc: ValidationError) -> None:
    if hasattr(exc, "error_dict"):
        for key, errors in exc.error_dict.items():
            form.add_error(key if key in form.fields else None, errors)
    else:
        form.add_error(None, exc)


@brand_view()
def media_list(request, brand):
    assets = MediaAsset.objects.for_user(request.user).filter(brand=brand).order_by("-created_at", "-id")
    tag = request.GET.get("tag", "").strip().lstrip("#")[:50]
    if tag:  # tags are a JSON list: matched here, the same way on SQLite and PostgreSQL
        assets = [a for a in assets if tag.lower() in (t.lower() for t in a.tags)]
    page = Paginator(assets, 48).get_page(request.GET.get("page"))
    can_edit = roles.COMPOSE in permissions_in(request.user, brand)
    form = MediaUploadForm()
    if request.method == "POST":
        if not can_edit:
            raise PermissionDenied
        form = MediaUploadForm(request.POST, request.FILES)
        if form.is_valid():
            try:
                asset = services.do_upload_media(Ctx.from_request(request), brand, form.cleaned_data["file"],
                                                 alt_text=form.cleaned_data["alt_text"],
                                                 tags=form.cleaned_data["tags"])
            except ValidationError as exc:
                _apply(form, exc)
            else:
                messages.success(request, _("Image added to the library."))
                return redirect("media_detail", brand.pk, asset.pk)
    return render(request, "content/media_list.html", {
        "page": page, "form": form, "can_edit": can_edit, "tag": tag, "section_key": "media",
    })


@brand_view()
def media_detail(request, brand, asset_id):
    asset = _asset(request, brand, asset_id)
    can_edit = roles.COMPOSE in permissions_in(request.user, brand)
    form = MediaEditForm(request.POST or None, initial={"alt_text": asset.alt_text, "tags": ", ".join(asset.tags)})
    if request.method == "POST":
        if not can_edit:
            raise PermissionDenied
        if form.is_valid():
            try:
                services.do_update_media(Ctx.from_request(request), asset, alt_text=form.cleaned_data["alt_text"],
                                         tags=form.cleaned_data["tags"])
            except ValidationError as exc:
                _apply(form, exc)
            else:
                messages.success(request, _("Image details saved."))
                return redirect("media_detail", brand.pk, asset.pk)
    derivatives = MediaAsset.objects.for_user(request.user).filter(brand=brand, derived_from=asset)
    return render(request, "content/media_detail.html", {
        "asset": asset, "form": form, "can_edit": can_edit, "fit": media.fit_report(asset),
        "presets": media.PRESETS.values(), "derivatives": derivatives, "section_key": "media",
    })


@brand_view(roles.COMPOSE)
@require_POST
def media_crop(request, brand, asset_id):
    asset = _asset(request, brand, asset_id, roles.COMPOSE)
    try:
        crop = services.do_crop_media(Ctx.from_request(request), asset, request.POST.get("preset", ""))
    except (ValidationError, PermissionDenied) as exc:
        _errors_to_messages(request, exc)
        return redirect("media_detail", brand.pk, asset.pk)
    messages.success(request, _("Cropped copy created."))
    return redirect("media_detail", brand.pk, crop.pk)


@brand_view(roles.COMPOSE)
@require_POST
def media_delete(request, brand, asset_id):
    asset = _asset(request, brand, asset_id, roles.COMPOSE)
    try:
        services.do_delete_media(Ctx.from_request(request), asset)
    except (ValidationError, PermissionDenied) as exc:
        _errors_to_messages(request, exc)
        return redirect("media_detail", brand.pk, asset.pk)
    messages.success(request, _("Image deleted."))
    return redirect("media_list", brand.pk)


def serve_asset(asset: MediaAsset, field: str):
    """Stream a stored file (already scoped by the caller) so that no browser runs it."""
    stored = getattr(asset, field)
    if not stored or not stored.name:
        raise Http404
    try:
        fh = stored.open("rb")
    except FileNotFoundError:
        raise Http404 from None
    content_type = asset.mime_type if field == "file" else "image/webp"
    response = FileResponse(fh, content_type=content_type)
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Disposition"] = "inline"
    response["Cache-Control"] = "private, max-age=3600"
    # Even opened directly, an image response may run nothing.
    response["Content-Security-Policy"] = "default-src 'none'; img-src 'self'; sandbox"
    return response


def _safe_only(request):
    # Checked after the asset lookup: another brand's asset is 404 whatever the method.
    if request.method not in ("GET", "HEAD"):
        return HttpResponseNotAllowed(["GET", "HEAD"])
    return None


@brand_view()
def media_file(request, brand, asset_id):
    asset = _asset(request, brand, asset_id)
    return _safe_only(request) or serve_asset(asset, "file")


@brand_view()
def media_preview(request, brand, asset_id):
    asset = _asset(request, brand, asset_id)
    return _safe_only(request) or serve_asset(asset, "preview")
