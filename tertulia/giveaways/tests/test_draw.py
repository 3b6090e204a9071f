"""The draw algorithm (tertulia-draw-v1): deterministic across runs and machines, fair by weight,
and any change to the seed, the entry list or the result fails verification."""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import subprocess
import sys
from collections import Counter

import pytest

from tertulia.giveaways import draw

SEED = "00" * 31 + "2a"
ROWS = [
    ["x", "@ana", "1001", 1],
    ["mastodon", "@luis@mastodon.social", "109", 2],
    ["instagram", "maria_g", "17895", 1],
    ["x", "@Bob", "1002", 3],
    ["bluesky", "@zoe.bsky.social", "at://did:plc:z/app.bsky.feed.post/3k", 1],
]
# Known answer, recorded once from the published algorithm: if this changes, every published
# draw becomes unverifiable, so the algorithm must get a new name instead.
GOLDEN = {
    "commitment": "0a28e9ffef0073f9a6a674cf57ee77307f38f0f1bebb087888d9011ed0eeefdf",
    "entries_hash": "2ef5e53c246cfca81d9f59979bded8f5ef161228dceec7e50ce254e791bdd4a4",
    "winners": [["x", "@Bob", "1002", 3], ["bluesky", "@zoe.bsky.social", "at://did:plc:z/app.bsky.feed.post/3k", 1]],
    "substitutes": [["mastodon", "@luis@mastodon.social", "109", 2], ["instagram", "maria_g", "17895", 1]],
}


def independent_draw(seed: str, rows, count: int):
    """The module docstring's steps, written again from the text (not from the code)."""
    ordered = sorted(rows, key=lambda r: (r[0], r[1].lower(), r[1], r[2]))
    text = json.dumps(ordered, ensure_ascii=False, separators=(",", ":"))
    list_hash = hashlib.sha256(text.encode()).hexdigest()
    key, i, picks, remaining = bytes.fromhex(seed), 0, [], list(ordered)
    while remaining and len(picks) < count:
        total = sum(r[3] for r in remaining)
        while True:
            r = int.from_bytes(hmac.new(key, f"{list_hash}:{i}".encode(), hashlib.sha256).digest(), "big")
            i += 1
            if r < 2**256 - (2**256 % total):
                break
        t = r % total
        for index, row in enumerate(remaining):
            if t < row[3]:
                picks.append(remaining.pop(index))
                break
            t -= row[3]
    return list_hash, picks


def proof_for(seed=SEED, rows=ROWS, winners=2, substitutes=2) -> dict:
    text = draw.canonical(rows)
    result = draw.run(seed, rows, winners, substitutes)
    return {"algorithm": draw.ALGORITHM, "seed": seed, "commitment": draw.commitment(seed),
            "entries_hash": draw.entries_hash(text), "entries": json.loads(text), "winner_count": winners,
            "substitute_count": substitutes, "winners": result.winners, "substitutes": result.substitutes}


def test_known_answer_and_the_documented_steps_agree():
    assert draw.commitment(SEED) == hashlib.sha256(bytes.fromhex(SEED)).hexdigest() == GOLDEN["commitment"]
    assert draw.entries_hash(draw.canonical(ROWS)) == GOLDEN["entries_hash"]
    result = draw.run(SEED, ROWS, 2, 2)
    assert [result.winners, result.substitutes] == [GOLDEN["winners"], GOLDEN["substitutes"]]
    list_hash, picks = independent_draw(SEED, ROWS, 4)
    assert list_hash == GOLDEN["entries_hash"] and picks == result.winners + result.substitutes
    # The input order does not matter: the list is sorted before hashing.
    assert draw.run(SEED, list(reversed(ROWS)), 2, 2) == result


def test_same_result_in_other_processes_whatever_the_hash_seed():
    code = ("import json,sys; from tertulia.giveaways import draw; r=draw.run(sys.argv[1], json.loads(sys.argv[2]), 2, 2);"
            "print(json.dumps([r.winners, r.substitutes]))")
    outputs = set()
    for hash_seed in ("0", "1", "12345"):
        env = {**os.environ, "PYTHONHASHSEED": hash_seed}
        out = subprocess.run([sys.executable, "-c", code, SEED, json.dumps(ROWS)], env=env, capture_output=True,
                             text=True, check=True)
        outputs.add(out.stdout.strip())
    assert outputs == {json.dumps([GOLDEN["winners"], GOLDEN["substitutes"]])}


def test_picks_follow_the_weights_and_nobody_wins_twice():
    rows = [["x", "@a", "1", 1], ["x", "@b", "2", 1], ["x", "@c", "3", 2]]
    wins = Counter(draw.run(f"{n:064x}", rows, 1, 0).winners[0][1] for n in range(2000))
    assert 400 <= wins["@a"] <= 600 and 400 <= wins["@b"] <= 600 and 880 <= wins["@c"] <= 1120, wins
    result = draw.run(SEED, rows, 2, 5)  # more places than people: everyone once, no repeats
    everyone = result.winners + result.substitutes
    assert len(everyone) == 3 and len({r[1] for r in everyone}) == 3 and len(result.winners) == 2
    assert draw.run(SEED, [], 3, 1).winners == []


def test_a_true_proof_verifies():
    verdict = draw.verify(proof_for())
    assert verdict.ok and [name for name, ok in verdict.checks if ok] == [
        "commitment", "entries_hash", "winners", "substitutes"]


@pytest.mark.parametrize("tamper, failing", [
    (lambda p: p.update(seed="00" * 31 + "2b"), {"commitment", "winners", "substitutes"}),
    (lambda p: p["entries"][0].__setitem__(3, 5), {"entries_hash", "winners", "substitutes"}),
    (lambda p: p["entries"].append(["x", "@mallory", "666", 1]), {"entries_hash"}),
    (lambda p: p["entries"].pop(), {"entries_hash"}),
    (lambda p: p.update(winners=[p["substitutes"][0], p["winners"][1]]), {"winners"}),
    (lambda p: p.update(substitutes=list(reversed(p["substitutes"]))), {"substitutes"}),
    (lambda p: p.update(commitment="f" * 64), {"commitment"}),
    (lambda p: p.update(entries_hash="0" * 64), {"entries_hash"}),
])
def test_tampering_is_detected(tamper, failing):
    proof = proof_for()
    tamper(proof)
    verdict = draw.verify(proof)
    assert not verdict.ok
    failed = {name for name, ok in verdict.checks if not ok}
    # Whatever else breaks with it, the tampered part is always caught.
    assert failing <= failed, (failed, failing)


@pytest.mark.parametrize("proof, message", [
    ([], "JSON object"),
    ({"algorithm": draw.ALGORITHM}, "lacks"),
    ({**proof_for(), "algorithm": "other-v9"}, "unknown algorithm"),
    ({**proof_for(), "seed": "zz" * 32}, "64 hexadecimal"),
    ({**proof_for(), "seed": "ab"}, "64 hexadecimal"),
    ({**proof_for(), "entries": [["x", "@a", "1"]]}, "[network, handle, comment_id, weight]"),
    ({**proof_for(), "entries": [["x", "@a", "1", 0]]}, "from 1 to 1000000"),
    ({**proof_for(), "entries": [["x", "@a", "1", True]]}, "from 1 to 1000000"),
    # A weight past 2**256 would leave no number to accept: refused, never an endless loop.
    ({**proof_for(), "entries": [["x", "@a", "1", 2**256 + 1]]}, "from 1 to 1000000"),
    ({**proof_for(), "entries": [["x", None, "1", 1]]}, "text"),
    ({**proof_for(), "winner_count": 10**9}, "whole numbers"),
    ({**proof_for(), "entries": "nope"}, "list"),
])
def test_unreadable_proofs_are_refused_with_the_reason(proof, message):
    with pytest.raises(draw.ProofError, match=message.replace("[", r"\[").replace("]", r"\]")):
        draw.verify(proof)


def test_hostile_handles_are_data_not_structure():
    rows = [["x", '"],["x","@evil","9",99', "1", 1], ["x", "<script>alert(1)</script>", "2", 1],
            ["x", "ñandú\u202e", "3", 1]]
    text = draw.canonical(rows)
    assert json.loads(text) == sorted(rows, key=draw.sort_key)  # one row each, nothing injected
    assert draw.verify(proof_for(rows=rows, winners=1, substitutes=1)).ok
