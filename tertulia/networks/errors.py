"""One error vocabulary for every connector (DESIGN.md §4).

The publishing engine decides what to do from the class alone:
- ``Retryable``: network failure or 5xx; retry with capped exponential backoff and jitter.
  ``retry_after`` is set when the network said how long to wait (503 with Retry-After).
- ``RateLimited``: 429 or an exhausted quota; retry after ``retry_after`` seconds.
- ``Permanent``: the network refused this content (validation, 4xx other than auth); stop.
  ``Unsupported`` is a Permanent for an operation the network does not offer (e.g. search).
- ``Ambiguous``: the request may have reached the network (timeout after sending, a gateway
  that lost the answer, a garbled reply to a write); check with ``find_published`` before any
  retry.
- ``AuthExpired``: the token is expired or revoked; the account needs reconnecting.

``user_message`` is plain words for the CM. It may be a lazy translation: it is rendered in
the reader's language when someone turns it into text (``str(err.user_message)``), so store
the English source or re-raise at the edge, not a string frozen in the worker's language.
``detail`` keeps the network's own text for the delivery log; ``status`` the HTTP status.
"""

from __future__ import annotations

from django.utils.functional import lazy


def _fill_now(message, params) -> str:
    return str(message) % {key: str(value) for key, value in params.items()}


_fill_lazy = lazy(_fill_now, str)


def fill(message, **params):
    """A lazy translation with its ``%(name)s`` placeholders filled in when it is rendered, in
    the reader's language (lazy parameters too): for ``user_message``."""
    return _fill_lazy(message, params)


class ConnectorError(Exception):
    def __init__(self, user_message, *, detail: str = "", status: int | None = None,
                 retry_after: float | None = None):
        super().__init__(user_message)
        self.user_message = user_message
        self.detail = (detail or "")[:2000]
        self.status = status
        self.retry_after = None if retry_after is None else max(0.0, float(retry_after))

    @property
    def kind(self) -> str:
        """The class name as a stable word for logs and the delivery log: ``rate_limited``…"""
        name = type(self).__name__
        return "".join("_" + c.lower() if c.isupper() else c for c in name).lstrip("_")

    def log_line(self) -> str:
        """One line for the per-target delivery log: kind, status and the network's text."""
        parts = [self.kind]
        if self.status is not None:
            parts.append(str(self.status))
        if self.retry_after is not None:
            parts.append(f"retry_after={self.retry_after:g}s")
        if self.detail:
            parts.append(self.detail.replace("\n", " ")[:500])
        return " ".join(parts)


class Retryable(ConnectorError):
    pass


class RateLimited(Retryable):
    def __init__(self, user_message, *, retry_after: float, **kw):
        super().__init__(user_message, retry_after=retry_after, **kw)
        self.retry_after: float = max(0.0, float(retry_after))


class Permanent(ConnectorError):
    pass


class Unsupported(Permanent):
    pass


class Ambiguous(ConnectorError):
    pass


class AuthExpired(ConnectorError):
    pass
