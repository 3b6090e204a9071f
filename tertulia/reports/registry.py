"""The report builders by kind. Each module has ``build(brand, period_end, *, language=None) ->
ReportData``; they are imported when first used (the PDF and chart stacks are heavy)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from importlib import import_module

from .blocks import ReportData

_MODULES = {
    "weekly": "tertulia.reports.weekly",
    "monthly": "tertulia.reports.monthly",
    "quarterly": "tertulia.reports.audit",
    "yearly": "tertulia.reports.yearly",
}


class _Lazy(dict):
    """``BUILDERS[kind]`` is the module's ``build``, imported on first use."""

    def __missing__(self, kind: str) -> Callable[..., ReportData]:
        if kind not in _MODULES:
            raise KeyError(kind)
        build = import_module(_MODULES[kind]).build
        self[kind] = build
        return build

    def __contains__(self, kind) -> bool:
        return kind in _MODULES

    def __iter__(self):
        return iter(_MODULES)

    def keys(self):
        return _MODULES.keys()


BUILDERS: dict[str, Callable[..., ReportData]] = _Lazy()


def available(kind: str) -> bool:
    """Whether the builder of ``kind`` can be imported (all four ship; a missing one is a bug)."""
    try:
        BUILDERS[kind]
    except (KeyError, ImportError):
        return False
    return True


def build(brand, kind: str, period_end: date, *, language: str | None = None) -> ReportData:
    return BUILDERS[kind](brand, period_end, language=language)
