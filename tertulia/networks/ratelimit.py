"""Proactive rate limiting: a token bucket per account and endpoint bucket (DESIGN.md §3).

The network's own headers (``x-ratelimit-*``, ``Retry-After``) tell us when we *have* hit a
limit; the buckets here keep us from hitting it. Each connector declares its network's
documented limits as ``RateRule``s (Mastodon: 300 requests per 5 minutes per account, 30 media
uploads and 30 deletions per 30 minutes; Bluesky: write points per hour and per day). Before a
request leaves, the HTTP layer takes one token from every bucket the request falls in:

- a token is there: send now;
- the next token comes within ``max_wait`` seconds: wait for it here (a short, smooth delay);
- later than that: do not send; raise ``RateLimited(retry_after)`` so the engine defers the
  target (and, through ``SocialAccount.blocked_until``, every consumer skips the account).

What is shared, and what is not:

- the buckets live in this process's memory (one ``BucketBook`` per process, thread-safe): N
  consumer processes may together send up to N times a bucket's rate. That is why the
  capacities are the network's limits and not a safety margin above them: the shared signal
  between processes is the network's own answer (remaining 0 / 429), recorded by the engine in
  the database row ``SocialAccount.blocked_until``, which every consumer's claim checks;
- a bucket starts full when a process starts (a restarted consumer may burst once).
"""

from __future__ import annotations

import re
import threading
import time
from dataclasses import dataclass, field


@dataclass(frozen=True)
class RateRule:
    """``capacity`` requests per ``period`` seconds for the requests that match."""

    name: str
    capacity: int
    period: float
    methods: frozenset[str] = frozenset({"*"})
    path: str = r".*"  # a regular expression on the path (no query string)
    cost: int = 1  # tokens one request takes (Bluesky counts a create as 3 points)
    _pattern: re.Pattern = field(init=False, repr=False, compare=False)

    def __post_init__(self):
        object.__setattr__(self, "_pattern", re.compile(self.path))

    def matches(self, method: str, path: str) -> bool:
        if "*" not in self.methods and method.upper() not in self.methods:
            return False
        return bool(self._pattern.search(path.split("?", 1)[0]))

    @property
    def refill_per_second(self) -> float:
        return self.capacity / self.period


class TokenBucket:
    """Starts full; refills continuously at capacity/period. Not thread-safe on its own."""

    def __init__(self, capacity: float, refill_per_second: float, clock=time.monotonic):
        self.capacity = float(capacity)
        self.rate = float(refill_per_second)
        self.clock = clock
        self.tokens = float(capacity)
        self.updated = clock()

    def _refill(self) -> None:
        now = self.clock()
        self.tokens = min(self.capacity, self.tokens + (now - self.updated) * self.rate)
        self.updated = now

    def wait_for(self, cost: float = 1.0) -> float:
        """Seconds until ``cost`` tokens are there (0 when they are there now)."""
        self._refill()
        missing = cost - self.tokens
        return 0.0 if missing <= 0 else missing / self.rate

    def take(self, cost: float = 1.0) -> None:
        """Take the tokens, possibly going below zero: a reservation the caller waits out."""
        self._refill()
        self.tokens -= cost


class BucketBook:
    """Every bucket of this process, by (account key, rule name)."""

    def __init__(self, clock=time.monotonic):
        self._lock = threading.Lock()
        self._buckets: dict[tuple[str, str], TokenBucket] = {}
        self.clock = clock

    def _bucket(self, account_key: str, rule: RateRule) -> TokenBucket:
        key = (account_key, rule.name)
        bucket = self._buckets.get(key)
        if bucket is None or bucket.capacity != rule.capacity or bucket.rate != rule.refill_per_second:
            bucket = self._buckets[key] = TokenBucket(rule.capacity, rule.refill_per_second, self.clock)
        return bucket

    def reserve(self, account_key: str, rules: list[RateRule], *, max_wait: float) -> float:
        """Reserve one request in every bucket of ``rules``. Returns the seconds to wait before
        sending (0: send now). When the wait would exceed ``max_wait`` nothing is reserved and
        the (positive) wait is returned as ``-wait``: the caller defers instead of sending."""
        if not rules:
            return 0.0
        with self._lock:
            buckets = [(self._bucket(account_key, rule), rule.cost) for rule in rules]
            wait = max(bucket.wait_for(cost) for bucket, cost in buckets)
            if wait > max_wait:
                return -wait
            for bucket, cost in buckets:
                bucket.take(cost)
            return wait

    def available(self, account_key: str, rule: RateRule) -> float:
        with self._lock:
            bucket = self._bucket(account_key, rule)
            bucket._refill()
            return bucket.tokens

    def clear(self) -> None:
        with self._lock:
            self._buckets.clear()


# One book per process, shared by every connector the process builds.
BUCKETS = BucketBook()
