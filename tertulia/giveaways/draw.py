"""The verifiable draw, algorithm ``tertulia-draw-v1``. Pure Python (hashlib and hmac only, no
Django), so that anyone can check a result with ``tertulia verify-draw proof.json`` or by
re-implementing the few steps below in another language.

1. **Commit.** When the contest is created Tertulia draws a secret *seed* of 32 random bytes,
   written as 64 lower-case hex characters, and publishes only its *commitment*:
   ``commitment = SHA-256(seed bytes)`` in hex. The CM can post it with the announcement.
2. **Freeze.** At the draw, the entries that count are frozen into a list of
   ``[network, handle, comment_id, weight]`` rows, one per person, sorted by network, then the
   handle in lower case, then the handle, then the comment id. The list is written as compact JSON
   (UTF-8, no spaces: ``json.dumps(rows, ensure_ascii=False, separators=(",", ":"))``) and
   ``entries_hash = SHA-256(that JSON)`` in hex.
3. **Reveal and pick.** Random numbers come from
   ``block_i = HMAC-SHA256(key=seed bytes, message=ASCII "<entries_hash>:<i>")`` for i = 0, 1, 2 ...,
   each read as a 256-bit big-endian integer ``r``. To pick one of the remaining rows, whose
   weights add up to ``total``: take the next ``r``; if ``r >= 2**256 - (2**256 mod total)`` skip
   it (so that every ticket is equally likely) and take the next; else ``t = r mod total`` and walk
   the remaining rows in order, subtracting each weight until ``t`` falls inside one. That row is
   picked and removed (a person wins once). The first ``winners`` picks are the winners, the next
   ``substitutes`` picks the substitutes, in order.

Weights are whole numbers from 1 to ``MAX_WEIGHT`` (1,000,000), so the total stays far below
2**256. Sorting compares Python strings: by Unicode code point (``str.lower()`` for the case-folded
key), not by locale or UTF-16 order.

Changing one byte of the seed or of the entry list changes the hash and the picks, so a tampered
list or seed fails ``verify``.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from dataclasses import dataclass, field

ALGORITHM = "tertulia-draw-v1"
MAX_WEIGHT = 1_000_000
_SPACE = 1 << 256


def gettext_noop(message: str) -> str:
    """Marks a message for Tertulia's catalogs (the pages and the command translate it) while
    this module stays free of Django."""
    return message


class ProofError(ValueError):
    """A proof that cannot be read (a missing field, a malformed row). ``msgid`` and ``params``
    let a page or the command say it in the reader's language; ``str()`` is the English."""

    def __init__(self, msgid: str, **params):
        self.msgid, self.params = msgid, params
        super().__init__(msgid % params if params else msgid)

    def translated(self, gettext) -> str:
        return gettext(self.msgid) % self.params if self.params else gettext(self.msgid)


MSG_SEED = gettext_noop("the seed must be 64 hexadecimal characters")
MSG_LIST = gettext_noop("%(field)s must be a list")


def new_seed() -> str:
    return secrets.token_hex(32)


def _seed_bytes(seed: str) -> bytes:
    if not isinstance(seed, str) or len(seed) != 64:
        raise ProofError(MSG_SEED)
    try:
        return bytes.fromhex(seed)
    except ValueError:
        raise ProofError(MSG_SEED) from None


def commitment(seed: str) -> str:
    return hashlib.sha256(_seed_bytes(seed)).hexdigest()


def _row(row) -> list:
    if not isinstance(row, (list, tuple)) or len(row) != 4:
        raise ProofError(gettext_noop("each entry must be [network, handle, comment_id, weight]"))
    network, handle, comment_id, weight = row
    if not all(isinstance(v, str) for v in (network, handle, comment_id)):
        raise ProofError(gettext_noop("network, handle and comment_id must be text"))
    if isinstance(weight, bool) or not isinstance(weight, int) or not 1 <= weight <= MAX_WEIGHT:
        raise ProofError(gettext_noop("each weight must be a whole number from 1 to %(max)s"), max=MAX_WEIGHT)
    return [network, handle, comment_id, weight]


def sort_key(row) -> tuple:
    return row[0], row[1].lower(), row[1], row[2]


def canonical(rows) -> str:
    """The frozen entry list as the JSON text whose SHA-256 is published."""
    return json.dumps(sorted((_row(r) for r in rows), key=sort_key), ensure_ascii=False, separators=(",", ":"))


def entries_hash(canonical_json: str) -> str:
    return hashlib.sha256(canonical_json.encode("utf-8")).hexdigest()


def _numbers(seed: str, list_hash: str):
    key = _seed_bytes(seed)
    i = 0
    while True:
        yield int.from_bytes(hmac.new(key, f"{list_hash}:{i}".encode("ascii"), hashlib.sha256).digest(), "big")
        i += 1


def pick(seed: str, rows, count: int) -> list[list]:
    """``count`` rows (or fewer, if fewer take part) drawn from the canonical ``rows``."""
    text = canonical(rows)
    remaining = json.loads(text)
    numbers = _numbers(seed, entries_hash(text))
    picked = []
    while remaining and len(picked) < count:
        total = sum(r[3] for r in remaining)
        limit = _SPACE - _SPACE % total
        r = next(numbers)
        while r >= limit:
            r = next(numbers)
        t = r % total
        for index, row in enumerate(remaining):
            if t < row[3]:
                picked.append(remaining.pop(index))
                break
            t -= row[3]
    return picked


@dataclass
class Result:
    winners: list[list]
    substitutes: list[list]


def run(seed: str, rows, winners: int, substitutes: int) -> Result:
    picks = pick(seed, rows, winners + substitutes)
    return Result(winners=picks[:winners], substitutes=picks[winners:])


@dataclass
class Verdict:
    ok: bool
    checks: list[tuple[str, bool]] = field(default_factory=list)  # (what was checked, passed)

    def add(self, what: str, passed: bool) -> None:
        self.checks.append((what, passed))
        self.ok = self.ok and passed


def verify(proof: dict) -> Verdict:
    """Recompute everything a proof (``services.proof``) claims. Each check is listed with its
    outcome; ``ok`` only when all pass."""
    if not isinstance(proof, dict):
        raise ProofError(gettext_noop("the proof must be a JSON object"))
    missing = [k for k in ("algorithm", "seed", "commitment", "entries_hash", "entries", "winner_count",
                           "substitute_count", "winners", "substitutes") if k not in proof]
    if missing:
        raise ProofError(gettext_noop("the proof lacks: %(fields)s"), fields=", ".join(missing))
    if proof["algorithm"] != ALGORITHM:
        raise ProofError(gettext_noop("unknown algorithm %(name)s; this checker knows %(known)s"),
                         name=repr(proof["algorithm"])[:100], known=ALGORITHM)
    entries = proof["entries"]
    if not isinstance(entries, list):
        raise ProofError(MSG_LIST, field="entries")
    for key in ("winners", "substitutes"):
        if not isinstance(proof[key], list):
            raise ProofError(MSG_LIST, field=key)
    counts = proof["winner_count"], proof["substitute_count"]
    if not all(isinstance(n, int) and not isinstance(n, bool) and 0 <= n <= 10_000 for n in counts):
        raise ProofError(gettext_noop("winner_count and substitute_count must be whole numbers"))
    seed = proof["seed"]
    verdict = Verdict(ok=True)
    verdict.add("commitment", hmac.compare_digest(commitment(seed), str(proof["commitment"]).lower()))
    text = canonical(entries)
    verdict.add("entries_hash", hmac.compare_digest(entries_hash(text), str(proof["entries_hash"]).lower()))
    result = run(seed, entries, *counts)
    verdict.add("winners", [_row(r) for r in proof["winners"]] == result.winners)
    verdict.add("substitutes", [_row(r) for r in proof["substitutes"]] == result.substitutes)
    return verdict
