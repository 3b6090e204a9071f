"""X text rules: twitter-text v3 weighted length, ours against twitter-text-parser (PyPI, a
Python port of twitter-text), on the conformance corpus.

The workload is the texts of twitter-text's conformance validate.yml (tweets, usernames, URLs,
CJK, emoji, overflowing and hostile texts), parsed again and again with the v3 configuration,
by both libraries in the same run. It also reports the conformance pass rates: ours on every
case of validate.yml, extract.yml and tlds.yml, and both libraries on the cases that
twitter-text-parser can answer (its parse_tweet and extract_urls).

    .venv/bin/python bench/bench_text_rules.py --quick     # about 1 s per library
    .venv/bin/python bench/bench_text_rules.py             # about 5 s per library

The last line printed is one JSON object: figures, targets (100% conformance, at least 3x
twitter-text-parser's throughput) and a `pass` boolean per target.
"""

from __future__ import annotations

import argparse
import gc
import json
import sys
import time
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tertulia.content.text_rules import conformance, validate, x  # noqa: E402
from tertulia.content.text_rules._corpora import corpora_dir  # noqa: E402

TARGETS = {"conformance_pass_rate_min": 1.0, "speedup_vs_twitter_text_parser_min": 3.0}


def rate(fn, texts, seconds: float, rounds: int) -> float:
    """Best of `rounds` timings of whole passes over `texts` (at least `seconds` each)."""
    best = 0.0
    for _ in range(rounds):
        gc.collect()
        done, start = 0, time.perf_counter()
        while True:
            for text in texts:
                fn(text)
            done += len(texts)
            elapsed = time.perf_counter() - start
            if elapsed >= seconds:
                break
        best = max(best, done / elapsed)
    return best


def per_text_speedups(ours_fn, theirs_fn, texts, repeats: int = 3) -> list[tuple[float, str]]:
    """Speedup text by text (best of `repeats` timings each), to show where the ratio comes from."""
    out = []
    for text in texts:
        timings = []
        for fn in (ours_fn, theirs_fn):
            best = float("inf")
            for _ in range(repeats):
                start = time.perf_counter()
                fn(text)
                best = min(best, time.perf_counter() - start)
            timings.append(best)
        out.append(timings[1] / timings[0])
    return sorted(zip(out, texts))


def load_peer():
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # it imports pkg_resources
            import twitter_text
            from twitter_text.config import config as peer_configs
    except ImportError as exc:
        print(f"twitter-text-parser is not installed ({exc}); `uv sync` installs the dev group")
        return None, None
    configs = {v: dict(peer_configs[f"version{v}"]) for v in (1, 2, 3)}
    configs[1].setdefault("emoji_parsing_enabled", False)
    configs[2].setdefault("emoji_parsing_enabled", False)
    return twitter_text, configs


def peer_answer(peer, configs, filename, section, text):
    """What twitter-text-parser answers for a case, or None when its API has no such call."""
    counter = {"WeightedTweetsCounterTest": 2, "WeightedTweetsWithDiscountedEmojiCounterTest": 3,
               "UnicodeDirectionalMarkerCounterTest": 3}
    if filename == "validate.yml":
        if section == "tweets":
            return peer.parse_tweet(text, configs[1]).valid
        if section in counter:
            return peer.parse_tweet(text, configs[counter[section]]).asdict()
        return None
    if filename == "tlds.yml" or section in ("urls", "tco_urls_with_params"):
        return peer.extract_urls(text)
    if section in ("urls_with_indices", "urls_with_directional_markers"):
        return peer.extract_urls_with_indices(text)
    return None


def shared_pass_rates(peer, configs, suite: Path):
    """Both libraries on the cases twitter-text-parser can answer."""
    ours = theirs = total = 0
    for filename in conformance.FILES:
        for section, case in conformance.load(suite / filename):
            try:
                got = peer_answer(peer, configs, filename, section, case["text"])
            except Exception:
                got = Exception  # a crash counts as a failure
            if got is None:
                continue
            total += 1
            theirs += got == case["expected"]
            ours += conformance.answer(filename, section, case["text"]) == case["expected"]
    return ours, theirs, total


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="a short run for CI")
    parser.add_argument("--strict", action="store_true", help="exit 1 when a target is missed")
    args = parser.parse_args()
    seconds, rounds = (0.3, 3) if args.quick else (1.0, 5)

    suite = corpora_dir() / "twitter-text-conformance" / "conformance"
    if not suite.exists():
        print(f"the twitter-text conformance corpus is not at {suite} (set TERTULIA_CORPORA)")
        print(json.dumps({"benchmark": "text_rules", "database": "none", "quick": args.quick,
                          "error": "corpus missing", "figures": {}, "targets": TARGETS,
                          "pass": {name: False for name in TARGETS}}))
        return 1 if args.strict else 0

    figures: dict[str, object] = {}
    print("Conformance (ours, every case):")
    passed_all = total_all = 0
    for filename in conformance.FILES:
        passed, total, failures = conformance.run_file(suite / filename)
        passed_all += passed
        total_all += total
        key = filename.replace(".", "_")
        figures[f"{key}_passed"] = passed
        figures[f"{key}_cases"] = total
        figures[f"{key}_pass_rate"] = round(passed / total, 6)
        print(f"  {filename:13} {passed}/{total} ({100 * passed / total:.2f}%)")
        for failure in failures[:10]:
            print(f"    FAILED {failure}")
    figures["conformance_pass_rate"] = round(passed_all / total_all, 6)

    texts = [case["text"] for _, case in conformance.load(suite / "validate.yml")]
    figures["corpus_texts"] = len(texts)
    print(f"\nThroughput: {len(texts)} texts of validate.yml, parse_tweet with the v3 configuration, "
          f"best of {rounds} runs of {seconds}s")
    ours = rate(lambda t: x.parse_tweet(t), texts, seconds, rounds)
    figures["ours_validations_per_s"] = round(ours)
    print(f"  ours                   {ours:12,.0f} validations/s")
    api = rate(lambda t: validate("x", t), texts, seconds, rounds)
    figures["validate_api_validations_per_s"] = round(api)
    print(f"  ours, validate('x', …) {api:12,.0f} validations/s (the common API, with problems)")

    peer, configs = load_peer()
    if peer is not None:
        theirs = rate(lambda t: peer.parse_tweet(t), texts, seconds, rounds)
        figures["twitter_text_parser_validations_per_s"] = round(theirs)
        figures["speedup_vs_twitter_text_parser"] = round(ours / theirs, 2)
        print(f"  twitter-text-parser    {theirs:12,.0f} validations/s")
        print(f"  ratio                  {ours / theirs:12.2f}x")
        if not args.quick:
            pairs = per_text_speedups(x.parse_tweet, peer.parse_tweet, texts)
            speedups = [v for v, _ in pairs]
            figures["speedup_per_text_min"] = round(speedups[0], 2)
            figures["speedup_per_text_median"] = round(speedups[len(speedups) // 2], 2)
            below = [(v, t) for v, t in pairs if v < TARGETS["speedup_vs_twitter_text_parser_min"]]
            figures["texts_below_target_speedup"] = len(below)
            print(f"  text by text: median {speedups[len(speedups) // 2]:.1f}x, slowest {speedups[0]:.2f}x, "
                  f"{len(below)} of {len(texts)} texts under 3x:")
            for v, t in below:
                print(f"    {v:5.2f}x  {t[:24]!r}{'…' if len(t) > 24 else ''} ({len(t)} code points)")
        ours_shared, theirs_shared, shared = shared_pass_rates(peer, configs, suite)
        figures["shared_cases"] = shared
        figures["ours_shared_pass_rate"] = round(ours_shared / shared, 6)
        figures["twitter_text_parser_shared_pass_rate"] = round(theirs_shared / shared, 6)
        print(f"\nConformance on the {shared} cases twitter-text-parser can answer "
              f"(parse_tweet, extract_urls): ours {ours_shared}/{shared}, "
              f"twitter-text-parser {theirs_shared}/{shared}")
    else:
        figures["speedup_vs_twitter_text_parser"] = None

    passes = {
        "conformance_pass_rate_min": figures["conformance_pass_rate"] >= TARGETS["conformance_pass_rate_min"],
        "speedup_vs_twitter_text_parser_min": (figures["speedup_vs_twitter_text_parser"] or 0)
        >= TARGETS["speedup_vs_twitter_text_parser_min"],
    }
    print(json.dumps({"benchmark": "text_rules", "database": "none", "quick": args.quick,
                      "figures": figures, "targets": TARGETS, "pass": passes}))
    return 1 if args.strict and not all(passes.values()) else 0


if __name__ == "__main__":
    sys.exit(main())
