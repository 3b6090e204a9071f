"""The shared cache (tertulia/core/cache.py): one Redis for every process, and Redis being away
costs time, never a page."""

import logging
import socket
import uuid

from tertulia.core.cache import TolerantRedisCache


def _cache(url: str) -> TolerantRedisCache:
    return TolerantRedisCache(url, {"KEY_PREFIX": f"t-{uuid.uuid4().hex[:8]}",
                                    "OPTIONS": {"socket_connect_timeout": 0.5, "socket_timeout": 0.5}})


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_an_unreachable_redis_is_a_miss_not_an_error(caplog):
    TolerantRedisCache._last_warning = 0.0
    cache = _cache(f"redis://127.0.0.1:{_closed_port()}/0")
    with caplog.at_level(logging.WARNING, logger="tertulia.core.cache"):
        assert cache.get("figures", "computed") == "computed"
        cache.set("figures", {"a": 1}, 60)
        assert cache.add("guesses", 1, 60) is False
        assert cache.incr("guesses") == 1
        assert cache.get_many(["a", "b"]) == {}
        assert cache.delete("figures") is False
    warnings = [r for r in caplog.records if "cannot be reached" in r.getMessage()]
    assert len(warnings) == 1  # once a minute, not once per call


def test_every_process_sees_the_same_entries(redis_url):
    prefix = f"t-{uuid.uuid4().hex[:8]}"
    options = {"KEY_PREFIX": prefix, "OPTIONS": {"socket_timeout": 0.5}}
    web1, web2 = TolerantRedisCache(redis_url, options), TolerantRedisCache(redis_url, options)
    web1.set("dashboard:v7", {"reach": 1234}, 60)
    assert web2.get("dashboard:v7") == {"reach": 1234}
    assert web2.add("guesses", 1, 60) is True
    assert web1.incr("guesses") == 2
    web2.delete_many(["dashboard:v7", "guesses"])
    assert web1.get("dashboard:v7") is None
