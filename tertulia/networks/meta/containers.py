"""Where Instagram and Threads connectors keep the ids of media containers they created but
have not published yet, between attempts.

Both networks publish in two steps: create a container (Meta downloads and processes the
media), then publish it. A container still processing when an attempt gives up must be
*reused* by the next attempt, or a retry would upload the media again; and one that turns out
to be published already means the previous answer was lost (find it, never re-post). Meta
keeps unpublished containers for 24 hours, so entries live a little less than that.

- ``AccountContainerStore``: in the account row (``SocialAccount.options[<key>]``), so every
  consumer process and a restart find it. Only that key is touched, under a row lock.
- ``MemoryContainerStore``: in the connector itself (one built by hand: tests, scripts).

Entries are dicts with at least ``id`` and ``at`` (epoch seconds); the caller may add more
(Instagram keeps a fingerprint of the caption and media).
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Callable
from typing import Any, Protocol

CONTAINER_TTL = 24 * 3600.0 - 600  # Meta: "containers expire after 24 hours"
MAX_ENTRIES = 100


class ContainerStore(Protocol):
    def get(self, key: str) -> dict[str, Any] | None: ...

    def put(self, key: str, container_id: str, **extra: Any) -> None: ...

    def discard(self, key: str) -> None: ...


def _name(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()[:32]


def _live(raw: Any) -> dict[str, dict[str, Any]]:
    """The well-formed, unexpired entries of a stored mapping (anything else is dropped)."""
    now = time.time()
    return {k: v for k, v in (raw if isinstance(raw, dict) else {}).items()
            if isinstance(v, dict) and isinstance(v.get("id"), str) and isinstance(v.get("at"), (int, float))
            and now - v["at"] < CONTAINER_TTL}


class MemoryContainerStore:
    """In this connector only (built by hand: tests, scripts)."""

    def __init__(self):
        self._lock = threading.Lock()
        self._entries: dict[str, dict[str, Any]] = {}

    def get(self, key: str) -> dict[str, Any] | None:
        with self._lock:
            entry = _live(self._entries).get(_name(key))
        return dict(entry) if entry else None

    def put(self, key: str, container_id: str, **extra: Any) -> None:
        with self._lock:
            self._entries = _live(self._entries)
            self._entries[_name(key)] = {**extra, "id": container_id, "at": time.time()}

    def discard(self, key: str) -> None:
        with self._lock:
            self._entries.pop(_name(key), None)


class AccountContainerStore:
    """In the account row, under ``options[option_key]``."""

    def __init__(self, account_pk: int, option_key: str):
        self.account_pk = account_pk
        self.option_key = option_key

    def get(self, key: str) -> dict[str, Any] | None:
        from tertulia.networks.models import SocialAccount

        options = SocialAccount.objects.filter(pk=self.account_pk).values_list("options", flat=True).first()
        entry = _live((options or {}).get(self.option_key) if isinstance(options, dict) else None).get(_name(key))
        return dict(entry) if entry else None

    def _update(self, change: Callable[[dict], None]) -> None:
        from django.db import transaction

        from tertulia.networks.models import SocialAccount

        with transaction.atomic():
            row = SocialAccount.objects.select_for_update().filter(pk=self.account_pk).only("options").first()
            if row is None:
                return
            options = dict(row.options) if isinstance(row.options, dict) else {}
            entries = _live(options.get(self.option_key))
            change(entries)
            if len(entries) > MAX_ENTRIES:
                entries = dict(sorted(entries.items(), key=lambda kv: kv[1]["at"])[-MAX_ENTRIES:])
            if entries:
                options[self.option_key] = entries
            else:
                options.pop(self.option_key, None)
            SocialAccount.objects.filter(pk=self.account_pk).update(options=options)

    def put(self, key: str, container_id: str, **extra: Any) -> None:
        entry = {**extra, "id": container_id, "at": time.time()}
        self._update(lambda entries: entries.__setitem__(_name(key), entry))

    def discard(self, key: str) -> None:
        self._update(lambda entries: entries.pop(_name(key), None))
