"""The audit log: one call per change, from the service that makes it."""

from __future__ import annotations

from django.db import models

from .models import AuditEvent


def _jsonable(value):
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, models.Model):
        return str(value)
    return str(value)


def diff(before: dict, after: dict) -> dict:
    """{"field": [old, new]} for the fields that changed."""
    return {
        k: [_jsonable(before.get(k)), _jsonable(after.get(k))]
        for k in after
        if before.get(k) != after.get(k)
    }


def snapshot(obj: models.Model, fields) -> dict:
    return {f: getattr(obj, f) for f in fields}


def record(actor, action: str, *, brand=None, organization=None, obj=None, changes=None,
           via: str = "web", ip: str | None = None) -> AuditEvent:
    if brand is not None and organization is None:
        organization = brand.organization
    return AuditEvent.objects.create(
        organization=organization,
        brand=brand,
        brand_name=brand.name if brand else "",
        actor=actor if actor is not None and actor.is_authenticated else None,
        actor_name=(actor.get_username() if actor is not None and actor.is_authenticated else "system"),
        action=action,
        object_type=obj._meta.model_name if obj is not None else "",
        object_id=str(obj.pk) if obj is not None else "",
        object_repr=str(obj)[:200] if obj is not None else "",
        changes=_jsonable(changes or {}),
        via=via,
        ip=ip,
    )
