"""What the networks with a plain character limit share."""

from __future__ import annotations

from typing import Any, Iterable

from . import base
from ._unicode import has_unpaired_surrogates, utf16_len

COUNTERS = {base.CODE_POINTS: len, base.UTF16_UNITS: utf16_len}


def result(
    key: str,
    network: str,
    text: str,
    *,
    limit: int,
    unit: str,
    has_media: bool,
    allow_empty: bool = False,
    too_long_code: str = base.TOO_LONG,
    problems: Iterable[base.Problem] = (),
    details: dict[str, Any] | None = None,
) -> base.Result:
    length = COUNTERS[unit](text)
    found = []
    if not allow_empty and not has_media and not text.strip():
        found.append(base.problem(base.EMPTY, network=network))
    if length > limit:
        found.append(base.problem(too_long_code, length=length, limit=limit, network=network))
    found.extend(problems)
    if has_unpaired_surrogates(text):
        found.append(base.problem(base.UNPAIRED_SURROGATES, network=network))
    return base.Result(key, length, limit, unit, found, details or {})
