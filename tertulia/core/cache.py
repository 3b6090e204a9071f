"""The cache every web process and consumer shares (settings.CACHES).

With several processes a per-process memory cache would let each one answer from its own copy, so
as soon as ``REDIS_URL`` (or ``CACHE_URL``) is set the cache lives in Redis. What Tertulia keeps in it
is derived data that can be computed again (keyed on a version of its inputs), so Redis being away
must cost time, never a page: ``TolerantRedisCache`` answers a miss for reads and drops writes while
Redis cannot be reached, and logs it once a minute.

One counter lives here too: the client review links' guess limiter (``content/review_views.py``).
While Redis is away it counts nothing, so it lets guesses through rather than lock every client
out of their links; the links' tokens are 256 random bits (``secrets.token_urlsafe(32)``), which the
limiter only backs up. Login throttling does not depend on the cache (``core/throttle.py``, in the
database).
"""

from __future__ import annotations

import functools
import logging
import time

from django.core.cache.backends.redis import RedisCache
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

log = logging.getLogger(__name__)
_UNREACHABLE = (RedisConnectionError, RedisTimeoutError, OSError)


class TolerantRedisCache(RedisCache):
    """Django's Redis cache, where an unreachable Redis is a miss instead of an error."""

    _last_warning = 0.0

    def _warn(self, exc: Exception) -> None:
        now = time.monotonic()
        if now - TolerantRedisCache._last_warning > 60:
            TolerantRedisCache._last_warning = now
            log.warning("The cache (Redis) cannot be reached; pages compute everything until it is back: %s",
                        type(exc).__name__)


def _tolerant(name: str, fallback):
    method = getattr(RedisCache, name)

    @functools.wraps(method)
    def wrapper(self, *args, **kwargs):
        try:
            return method(self, *args, **kwargs)
        except _UNREACHABLE as exc:
            self._warn(exc)
            return fallback(*args, **kwargs)

    return wrapper


def _default(key, default=None, *args, **kwargs):
    return default


for _name, _fallback in {
    "get": _default,
    "get_many": lambda keys, *a, **k: {},
    "has_key": lambda *a, **k: False,
    "add": lambda *a, **k: False,
    "set": lambda *a, **k: None,
    "set_many": lambda data, *a, **k: list(data),
    "touch": lambda *a, **k: False,
    "delete": lambda *a, **k: False,
    "delete_many": lambda *a, **k: None,
    "incr": lambda key, delta=1, *a, **k: delta,
    "decr": lambda key, delta=1, *a, **k: -delta,
}.items():
    setattr(TolerantRedisCache, _name, _tolerant(_name, _fallback))
