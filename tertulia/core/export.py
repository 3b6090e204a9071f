"""Brand export (data portability): every row of a brand as JSON and as CSV, plus its media.

``do_export_brand`` records the request and queues ``tasks.build_brand_export``; ``build`` writes
the zip to a temporary file, streaming each table in chunks (``iterator``) and each media file
through the storage API, then stores it under ``exports/`` in the media storage and tells the
person who asked. The link works for ``BRAND_EXPORT_TTL_HOURS`` and only for members who may
manage the brand (``export_views.download``); ``expire`` removes old files.

What is left out, on purpose: secrets (network tokens, app secrets, webhook secrets, a
giveaway's seed before its draw, every encrypted column, and any column named like a token,
secret, password or hash), the API token grants, the per-user notifications and the exports
themselves. Social content is hostile, so a CSV cell that a spreadsheet would run as a formula
(starting with = + - @, a tab or a carriage return) is prefixed with an apostrophe.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import re
import shutil
import tempfile
import uuid
import zipfile
from datetime import timedelta
from decimal import Decimal

from django.apps import apps
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files import File
from django.core.files.storage import default_storage
from django.core.serializers.json import DjangoJSONEncoder
from django.db import models, transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from . import roles
from .crypto import EncryptedTextField
from .models import Brand, BrandExport, Notification, PersonalAccessToken, TokenGrant
from .notes import note

log = logging.getLogger(__name__)

CHUNK = 2000
SECRET_NAME = re.compile(r"token|secret|password|passwd|api_key|private_key|hash|seed|session_uri", re.I)
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
# Not the brand's data, or not data to hand out: grants and tokens, per-user notifications,
# the exports themselves.
SKIPPED_MODELS = {TokenGrant, PersonalAccessToken, Notification, BrandExport}

MSG_READY = gettext_lazy("The export of “%(brand)s” is ready. The download link works until %(date)s.")
MSG_FAILED = gettext_lazy("The export of “%(brand)s” failed: %(error)s")


def csv_cell(value) -> str:
    """A CSV cell that a spreadsheet shows as text, never runs as a formula."""
    if value is None:
        return ""
    if isinstance(value, (dict, list)):
        value = json.dumps(value, ensure_ascii=False, cls=DjangoJSONEncoder)
    if isinstance(value, (int, float, Decimal)) and not isinstance(value, bool):
        return str(value)  # a number stays a number (−3 is not a formula)
    text = value.isoformat() if hasattr(value, "isoformat") else str(value)
    if text.startswith(FORMULA_START):
        return "'" + text
    return text


def _is_secret(field) -> bool:
    return isinstance(field, EncryptedTextField) or bool(SECRET_NAME.search(field.name))


def _columns(model) -> list[str]:
    cols = []
    for f in model._meta.concrete_fields:
        if _is_secret(f):
            continue
        cols.append(f.attname)
    return cols


def tables(brand: Brand):
    """(name, model, queryset) for every table holding rows of the brand: models with a
    ``brand`` foreign key, and the models hanging from those without one (a post's variants)."""
    direct = []
    for model in apps.get_models():
        if model in SKIPPED_MODELS:
            continue
        fk = next((f for f in model._meta.concrete_fields if f.name == "brand" and f.is_relation
                   and f.related_model is Brand), None)
        if fk is not None:
            direct.append(model)
    direct_set = set(direct)
    out = [(f"{m._meta.app_label}.{m._meta.model_name}", m, m._base_manager.filter(brand=brand)) for m in direct]
    for model in apps.get_models():
        if model in direct_set or model in SKIPPED_MODELS or model is Brand:
            continue
        parent = next((f for f in model._meta.concrete_fields if f.is_relation and f.many_to_one
                       and f.related_model in direct_set
                       and getattr(f.remote_field, "on_delete", None) is models.CASCADE), None)
        if parent is not None:
            out.append((f"{model._meta.app_label}.{model._meta.model_name}", model,
                        model._base_manager.filter(**{f"{parent.name}__brand": brand})))
    out.insert(0, ("core.brand", Brand, Brand.all_objects.filter(pk=brand.pk)))
    return sorted(out, key=lambda t: t[0])


def _file_fields(model) -> list[str]:
    return [f.attname for f in model._meta.concrete_fields if isinstance(f, models.FileField)]


def write_zip(brand: Brand, fileobj) -> dict[str, int]:
    """Write the export of ``brand`` into ``fileobj``. Returns the row count per table."""
    counts: dict[str, int] = {}
    media: list[str] = []
    with zipfile.ZipFile(fileobj, "w", compression=zipfile.ZIP_DEFLATED, allowZip64=True) as zf:
        for name, model, qs in tables(brand):
            cols = _columns(model)
            base = qs
            qs = qs.order_by("pk").values_list(*cols)
            n = 0
            with zf.open(f"json/{name}.json", "w", force_zip64=True) as raw:
                out = io.TextIOWrapper(raw, encoding="utf-8", newline="\n")
                out.write("[")
                for row in qs.iterator(chunk_size=CHUNK):
                    out.write(("," if n else "") + "\n" + json.dumps(dict(zip(cols, row)), ensure_ascii=False,
                                                                     cls=DjangoJSONEncoder))
                    n += 1
                out.write("\n]\n")
                out.flush()
                out.detach()
            with zf.open(f"csv/{name}.csv", "w", force_zip64=True) as raw:
                out = io.TextIOWrapper(raw, encoding="utf-8", newline="")
                writer = csv.writer(out)
                writer.writerow(cols)
                for row in qs.iterator(chunk_size=CHUNK):
                    writer.writerow([csv_cell(v) for v in row])
                out.flush()
                out.detach()
            counts[name] = n
            ffields = _file_fields(model)
            if ffields:
                for values in base.values_list(*ffields).iterator(chunk_size=CHUNK):
                    media.extend(v for v in values if v)
        written = set()
        for storage_name in media:
            if storage_name in written or ".." in storage_name.split("/"):
                continue
            written.add(storage_name)
            try:
                with default_storage.open(storage_name, "rb") as src, \
                        zf.open(f"media/{storage_name}", "w", force_zip64=True) as dst:
                    shutil.copyfileobj(src, dst, 1024 * 1024)
            except FileNotFoundError:
                log.warning("export of brand %s: media file %s is missing", brand.pk, storage_name)
        zf.writestr("README.txt", readme(brand, counts, len(written)))
    return counts


def readme(brand: Brand, counts: dict[str, int], media_files: int) -> str:
    lines = [
        f"Tertulia export of the brand \"{brand.name}\" (id {brand.pk})",
        f"Created at {timezone.now().replace(microsecond=0).isoformat()} (UTC).",
        "",
        "Files",
        "  json/<app>.<table>.json  every row of one table, a JSON array of objects (one per row).",
        "  csv/<app>.<table>.csv    the same rows as CSV (UTF-8, comma-separated, header row first).",
        "  media/<path>             the brand's files (media library, previews, report PDFs, logo),",
        "                           at the path the *file* / *preview* / *pdf* / *logo* columns give.",
        "",
        "Conventions",
        "  Times are in UTC (ISO 8601). Foreign keys are the *_id columns, ids of the same export.",
        "  CSV cells that start with = + - @ (or a tab or carriage return) are prefixed with an",
        "  apostrophe ('), so a spreadsheet shows social content as text instead of running it.",
        "  Left out on purpose: network access and refresh tokens, app secrets, webhook secrets,",
        "  a giveaway's seed, every encrypted column, API token grants and personal notifications.",
        "",
        f"Tables (rows), {media_files} media file(s):",
    ]
    lines += [f"  {name}: {count}" for name, count in sorted(counts.items())]
    return "\n".join(lines) + "\n"


# --- The service, the job, the expiry ------------------------------------------------------

@transaction.atomic
def do_export_brand(ctx, brand: Brand) -> BrandExport:
    from .services import _log, _require
    from .tasks import build_brand_export

    _require(ctx, brand, roles.MANAGE_BRAND)
    if BrandExport.objects.filter(brand=brand, state=BrandExport.State.PENDING,
                                  created_at__gt=timezone.now() - timedelta(hours=1)).exists():
        raise ValidationError(_("An export of this brand is already being prepared."))
    export = BrandExport.objects.create(brand=brand, requested_by=ctx.user)
    _log(ctx, "brand.export", brand=brand, obj=export)
    transaction.on_commit(lambda: build_brand_export(export.pk))
    return export


def build(export_id: int) -> str:
    from .notifications import notify

    export = BrandExport.objects.select_related("brand", "requested_by").filter(
        pk=export_id, state=BrandExport.State.PENDING).first()
    if export is None:
        return "stale"
    brand = export.brand
    link = reverse("brand_exports", args=[brand.pk])
    if brand.deleted_at is not None:
        BrandExport.objects.filter(pk=export.pk).update(state=BrandExport.State.FAILED, error="brand deleted",
                                                        finished_at=timezone.now())
        return "deleted"
    try:
        with tempfile.TemporaryFile(dir=settings.FILE_UPLOAD_TEMP_DIR) as tmp:
            write_zip(brand, tmp)
            size = tmp.tell()
            tmp.seek(0)
            stamp = timezone.now().strftime("%Y%m%dT%H%M%SZ")
            name = default_storage.save(f"exports/brand-{brand.pk}/{stamp}-{uuid.uuid4().hex}.zip", File(tmp))
    except Exception as exc:  # noqa: BLE001 - recorded on the row and told to the user
        log.exception("export %s of brand %s failed", export.pk, brand.pk)
        BrandExport.objects.filter(pk=export.pk).update(state=BrandExport.State.FAILED, error=str(exc)[:500],
                                                        finished_at=timezone.now())
        if export.requested_by:
            notify([export.requested_by], kind="brand.export", brand=brand, link=link,
                   message=note(MSG_FAILED, brand=brand.name, error=type(exc).__name__))
        return "failed"
    expires = timezone.now() + timedelta(hours=settings.BRAND_EXPORT_TTL_HOURS)
    BrandExport.objects.filter(pk=export.pk).update(state=BrandExport.State.READY, file=name, size=size,
                                                    finished_at=timezone.now(), expires_at=expires)
    if export.requested_by:
        when = timezone.localtime(expires, brand.tzinfo).strftime("%Y-%m-%d %H:%M")
        notify([export.requested_by], kind="brand.export", brand=brand, link=link,
               message=note(MSG_READY, brand=brand.name, date=when))
    return "ready"


def expire(now=None) -> int:
    now = now or timezone.now()
    gone = 0
    for export in BrandExport.objects.filter(state=BrandExport.State.READY, expires_at__lte=now):
        if export.file:
            try:
                default_storage.delete(export.file)
            except Exception:  # noqa: BLE001
                log.warning("could not delete expired export file %s", export.file)
                continue
        BrandExport.objects.filter(pk=export.pk).update(state=BrandExport.State.EXPIRED, file="")
        gone += 1
    return gone
