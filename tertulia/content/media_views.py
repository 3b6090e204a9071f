"""The brand's media library: grid, upload, detail (alt text, tags, network fit, crops),
and the files themselves, served only to the brand's members.

Thin views: the brand comes from ``brand_view`` (404 for strangers before any form is
read), assets from ``MediaAsset.objects.for_user``, and every write goes through the
``do_*_media`` services. MEDIA_ROOT is never served directly.
"""

from __future__ import annotations

import re

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.http import FileResponse, Http404, HttpResponse, HttpResponseNotAllowed, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from tertulia.core import roles
from tertulia.core.scoping import permissions_in
from tertulia.core.services import Ctx
from tertulia.core.views import _errors_to_messages, brand_view

from . import media, services, video
from .models import MediaAsset


class MediaUploadForm(forms.Form):
    file = forms.FileField(label=gettext_lazy("Image or video"),
                           help_text=gettext_lazy("Images: JPEG, PNG, GIF or WebP. Videos: MP4, MOV, WebM or MKV, "
                                                  "up to %(limit)s."),
                           widget=forms.FileInput(attrs={"accept": ",".join([*media.MIME_TO_FORMAT,
                                                                             *video.MIME_TO_CONTAINER])}))
    alt_text = forms.CharField(label=gettext_lazy("Alternative text"), required=False, max_length=1500,
                               widget=forms.Textarea(attrs={"rows": 2}),
                               help_text=gettext_lazy("Describe the image for people who cannot see it."))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        field = self.fields["file"]
        field.help_text = field.help_text % {"limit": video.human_size(video.max_video_bytes())}
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
                if asset.kind == MediaAsset.Kind.VIDEO:
                    messages.success(request, _("Video added to the library."))
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
                if asset.kind == MediaAsset.Kind.VIDEO:
                    messages.success(request, _("Video details saved."))
                else:
                    messages.success(request, _("Image details saved."))
                return redirect("media_detail", brand.pk, asset.pk)
    derivatives = MediaAsset.objects.for_user(request.user).filter(brand=brand, derived_from=asset)
    is_video = asset.kind == MediaAsset.Kind.VIDEO
    return render(request, "content/media_detail.html", {
        "asset": asset, "form": form, "can_edit": can_edit, "fit": media.fit_report(asset),
        "presets": () if is_video else media.PRESETS.values(), "derivatives": derivatives, "section_key": "media",
        "is_video": is_video, "facts": video.facts(asset) if is_video else None,
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
    if asset.kind == MediaAsset.Kind.VIDEO:
        messages.success(request, _("Video deleted."))
    else:
        messages.success(request, _("Image deleted."))
    return redirect("media_list", brand.pk)


_RANGE = re.compile(r"^bytes=(\d{0,19})-(\d{0,19})$")
RANGE_CHUNK = 256 * 1024


def byte_range(header: str, size: int) -> tuple[int, int] | None | bool:
    """The one byte range a ``Range`` header asks for, as (first, last) inclusive; None to send
    the whole file (no header, or one we do not serve: several ranges, other units); False
    when the range lies outside the file (416)."""
    match = _RANGE.match((header or "").strip())
    if not match or not (match[1] or match[2]):
        return None
    if match[1]:
        first = int(match[1])
        last = min(int(match[2]), size - 1) if match[2] else size - 1
        if match[2] and int(match[2]) < first:
            return None  # syntactically invalid: ignored, as RFC 9110 says
    else:  # the last N bytes
        suffix = int(match[2])
        if suffix == 0:
            return False
        first, last = max(0, size - suffix), size - 1
    if first >= size:
        return False
    return first, last


def _read_range(fh, first: int, last: int):
    try:
        fh.seek(first)
        remaining = last - first + 1
        while remaining > 0:
            chunk = fh.read(min(RANGE_CHUNK, remaining))
            if not chunk:
                return
            remaining -= len(chunk)
            yield chunk
    finally:
        fh.close()


def serve_asset(asset: MediaAsset, field: str, range_header: str = ""):
    """Stream a stored file (already scoped by the caller) so that no browser runs it. A single
    byte range is honoured (206), so a video can be sought in the browser's player."""
    stored = getattr(asset, field)
    if not stored or not stored.name:
        raise Http404
    try:
        fh = stored.open("rb")
    except FileNotFoundError:
        raise Http404 from None
    content_type = asset.mime_type if field == "file" else "image/webp"
    wanted = byte_range(range_header, stored.size) if range_header else None
    if wanted is False:
        fh.close()
        response = HttpResponse(status=416)
        response["Content-Range"] = f"bytes */{stored.size}"
    elif wanted:
        first, last = wanted
        response = StreamingHttpResponse(_read_range(fh, first, last), status=206, content_type=content_type)
        response["Content-Range"] = f"bytes {first}-{last}/{stored.size}"
        response["Content-Length"] = str(last - first + 1)
    else:
        response = FileResponse(fh, content_type=content_type)
    response["Accept-Ranges"] = "bytes"
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Disposition"] = "inline"
    response["Cache-Control"] = "private, max-age=3600"
    # Even opened directly, an image or video response may run nothing.
    response["Content-Security-Policy"] = "default-src 'none'; img-src 'self'; media-src 'self'; sandbox"
    return response


def _safe_only(request):
    # Checked after the asset lookup: another brand's asset is 404 whatever the method.
    if request.method not in ("GET", "HEAD"):
        return HttpResponseNotAllowed(["GET", "HEAD"])
    return None


@brand_view()
def media_file(request, brand, asset_id):
    asset = _asset(request, brand, asset_id)
    return _safe_only(request) or serve_asset(asset, "file", request.headers.get("Range", ""))


@brand_view()
def media_preview(request, brand, asset_id):
    asset = _asset(request, brand, asset_id)
    return _safe_only(request) or serve_asset(asset, "preview")
