"""A fake Mastodon for load tests (bench/bench_publish.py): many accounts, a failure rate, and a
record of every status it accepted.

On top of ``FakeMastodon`` (same routes, same recorded payloads, same fault vocabulary):

- ``add_accounts(n)``: n local accounts, each with its own token;
- ``inject_failure_mix(rate, mix)``: a share ``rate`` of ``POST /api/v1/statuses`` requests
  answered with a fault drawn from ``mix`` (kind -> weight): ``503`` (refused, nothing
  created), ``429`` (rate limited, ``x-ratelimit-reset`` and ``Retry-After``), ``502``
  (a gateway error on a write, nothing created: ambiguous to the client), ``504_after`` (the
  status *was* created, then a gateway timeout: ambiguous) and ``drop_after`` (created, then
  the connection closes without an answer: ambiguous);
- ``accepted``: for every status created, the wall-clock acceptance time, the account, the
  ``Idempotency-Key`` sent and the text, so that a benchmark can compute lateness and count
  duplicates;
- ``honour_idempotency=False`` makes the server ignore ``Idempotency-Key`` (servers that do not
  implement it, or a key that expired): a blind re-post then *is* a duplicate, so duplicates
  measure the engine's own at-most-once logic rather than the server's safety net;
- renders statuses in constant time (``FakeMastodon`` counts an account's statuses and a
  status's replies by scanning every status, which is quadratic over a 10,000-post run).
"""

from __future__ import annotations

import copy
import time
from dataclasses import dataclass
from typing import Any

from .mastodon import Fault, FakeMastodon, _iso, _rewrite

DEFAULT_MIX = {"503": 0.3, "429": 0.2, "502": 0.15, "504_after": 0.2, "drop_after": 0.15}


@dataclass(frozen=True)
class Accepted:
    status_id: str
    account_id: str
    at: float  # time.time() when the status was created
    key: str  # the Idempotency-Key header, "" if none
    text: str
    replayed: bool = False  # answered from the idempotency cache, nothing created


def fault_for(kind: str, *, reset_in: float = 10.0) -> Fault:
    if kind == "503":
        return Fault.server_error(503)
    if kind == "429":
        return Fault.rate_limited(reset_in, retry_after=reset_in)
    if kind == "502":
        return Fault.server_error(502)
    if kind == "504_after":
        return Fault.server_error(504, after=True)
    if kind == "drop_after":
        return Fault.drop_after()
    raise ValueError(f"unknown fault kind {kind!r}")


class RecordingMastodon(FakeMastodon):
    thread_name = "fake-mastodon-recording"

    def __init__(self, *, latency: float = 0.0, honour_idempotency: bool = True, **kwargs):
        # A load test's accounts post hundreds of statuses; Mastodon's 300 per 5 minutes per
        # token is not what is measured here (injected 429s are).
        kwargs.setdefault("rate_limits", {"api": (100_000, 300.0), "media": (100_000, 1800.0),
                                          "delete": (100_000, 1800.0)})
        super().__init__(**kwargs)
        self.latency = latency
        self.honour_idempotency = honour_idempotency
        self.accepted: list[Accepted] = []
        self.replays: list[Accepted] = []
        self.fault_kinds: dict[int, str] = {}  # id(rule) -> kind
        self._status_counts: dict[str, int] = {}
        self._reply_counts: dict[str, int] = {}

    # -- set-up ------------------------------------------------------------------------------

    def add_accounts(self, n: int, prefix: str = "bench") -> list[tuple[dict[str, Any], str]]:
        """n local accounts, each with a token: [(account, token)]."""
        out = []
        for i in range(n):
            account = self.add_account(f"{prefix}{i}", display_name=f"Bench account {i}")
            out.append((account, self.issue_token(account["id"])))
        return out

    def inject_failure_mix(self, rate: float, mix: dict[str, float] | None = None, *,
                           reset_in: float = 10.0, endpoint: str = "POST /api/v1/statuses") -> None:
        """Each request to ``endpoint`` fails with probability ``rate``, the fault drawn from
        ``mix``. Rules are tried in order, so each gets the conditional probability that makes
        its overall share exactly ``rate * weight``."""
        mix = mix or DEFAULT_MIX
        total = sum(mix.values())
        remaining = 1.0
        for kind, weight in mix.items():
            share = rate * weight / total
            probability = share / remaining if remaining > 0 else 0.0
            self.inject(endpoint, fault_for(kind, reset_in=reset_in), times=None, probability=min(1.0, probability))
            with self.lock:
                self.fault_kinds[id(self._rules[-1])] = kind
            remaining -= share

    def faults_injected(self) -> dict[str, int]:
        with self.lock:
            return {self.fault_kinds.get(id(rule), rule.fault.kind): rule.hits for rule in self._rules}

    # -- recording ---------------------------------------------------------------------------

    def create_status(self, request):
        account = self._authenticate(request)
        key = request.headers.get("idempotency-key", "")
        with self.lock:
            if key and self.honour_idempotency:
                seen = self.idempotency.get((account["id"], key))
                if seen and seen[1] > time.time() - 3600 and seen[0] in self.statuses:
                    status = self.statuses[seen[0]]
                    self.replays.append(Accepted(status["id"], account["id"], time.time(), key, status["text"], True))
                    return 200, self.render_status(status)
            status = self._create_status(account, request.params(), application="Tertulia")
            self.accepted.append(Accepted(status["id"], account["id"], time.time(), key, status["text"]))
            if key:
                self.idempotency[(account["id"], key)] = (status["id"], time.time())
            return 200, self.render_status(status)

    def _create_status(self, account, params, **kwargs):
        status = super()._create_status(account, params, **kwargs)
        self._status_counts[account["id"]] = self._status_counts.get(account["id"], 0) + 1
        if status["in_reply_to_id"]:
            self._reply_counts[status["in_reply_to_id"]] = self._reply_counts.get(status["in_reply_to_id"], 0) + 1
        return status

    # -- constant-time rendering -------------------------------------------------------------

    def render_account(self, account: dict[str, Any]) -> dict[str, Any]:
        out = copy.deepcopy(account)
        with self.lock:
            out["statuses_count"] = self._status_counts.get(account["id"], 0)
        if account["id"] != getattr(self, "own", {}).get("id"):
            out.pop("source", None)
            out.pop("role", None)
        return out

    def render_status(self, status: dict[str, Any]) -> dict[str, Any]:
        with self.lock:
            if not hasattr(self, "_tpl_status_local"):
                self._tpl_status_local = _rewrite(copy.deepcopy(self.tpl_status), self.base_url, self.netloc)
            out = copy.deepcopy(self._tpl_status_local)
            account = self.accounts[status["account_id"]]
            out.update(
                id=status["id"], created_at=_iso(status["created_at"]),
                in_reply_to_id=status["in_reply_to_id"], in_reply_to_account_id=status["in_reply_to_account_id"],
                sensitive=status["sensitive"], spoiler_text=status["spoiler_text"],
                visibility=status["visibility"], language=status["language"],
                uri=f"{self.base_url}/ap/users/{account['id']}/statuses/{status['id']}",
                url=f"{account['url']}/{status['id']}",
                replies_count=self._reply_counts.get(status["id"], 0), reblogs_count=status["reblogs_count"],
                favourites_count=status["favourites_count"], content=status["html"],
                account=self.render_account(account),
                media_attachments=[self.render_media(self.media[m]) for m in status["media_ids"]],
                mentions=status["mentions"], tags=status["tags"],
                application={"name": status.get("application") or "Tertulia tests", "website": None},
                edited_at=None, card=None, poll=None, reblog=None,
            )
            out.pop("text", None)
            return out
