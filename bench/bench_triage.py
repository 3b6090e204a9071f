"""Inbox triage models (issue 6): quality on the official test splits with the official metrics, the
VADER baseline in the same run, and throughput on one core.

Scores (the committed artifacts in tertulia/nlp/artifacts, through the same `analyse()` the inbox calls):
- UMSAB (XLM-T) Spanish and English sentiment test: macro-F1;
- TweetEval sentiment test: macro-averaged recall (its official metric);
- TweetEval offensive test: macro-F1 of `toxic`;
- HatEval 2019 Spanish test (hate speech; evaluation only, CC BY-NC): macro-F1 of `toxic` against HS;
- VADER (vaderSentiment, the usual +/-0.05 compound thresholds) on the UMSAB English test, and our margin;
- language id accuracy on the UMSAB test texts of es, en, pt, it, fr, de (es/en expected, "" otherwise).
Throughput: messages per second of CPU time for language id alone and for the full `analyse()`, pinned
to one core with single-threaded BLAS, over a realistic mix (the UMSAB es/en test tweets plus hostile
texts: empty, emoji-only, zero-width, RTL, script tags, 10 KB messages). Wall-clock rates are printed too.

    .venv/bin/python bench/bench_triage.py --quick    # 200 texts per test set, ~20 s
    .venv/bin/python bench/bench_triage.py            # full test sets, ~1 min

The last line printed is one JSON object: figures, targets and a `pass` boolean per target.
Needs ../shared/corpora (or TERTULIA_CORPORA).
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import gc  # noqa: E402
import json  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sklearn.metrics import f1_score, recall_score  # noqa: E402

from tertulia.nlp import data, triage  # noqa: E402

TARGETS = {
    "umsab_es_macro_f1_min": 62.0,
    "umsab_en_macro_f1_min": 62.0,
    "tweeteval_offensive_macro_f1_min": 75.0,
    "margin_vs_vader_en_min": 5.0,
    "full_triage_msgs_per_s_min": 5000.0,
}
REFERENCES = {"fasttext": {"umsab_es": 50.1, "umsab_en": 50.9, "tweeteval_offensive": 73.4},
              "xlm_t_or_roberta": {"umsab_es": 67.9, "umsab_en": 70.6, "tweeteval_offensive": 80.5}}

HOSTILE = [
    "", "   ", "😀😀😀🔥🔥", "\u200b\u200c\u200d\u2060\ufeff", "مرحبا بكم في متجرنا \u202e!olleh",
    "<script>alert('x')</script> hola", "no funciona " * 900, "x" * 10_000,
    "ＦＵＬＬＷＩＤＴＨ ｉｄｉｏｔａ", "@a @b @c @d @e http://spam.example #a #b #c #d",
]


def pct(x: float) -> float:
    return round(100.0 * x, 2)


def sample(texts, labels, n):
    if n is None or len(texts) <= n:
        return texts, labels
    step = len(texts) / n
    idx = [int(i * step) for i in range(n)]
    return [texts[i] for i in idx], [labels[i] for i in idx]


def vader_labels(texts):
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    sia = SentimentIntensityAnalyzer()
    out = []
    for t in texts:
        c = sia.polarity_scores(t)["compound"]
        out.append("positive" if c >= 0.05 else "negative" if c <= -0.05 else "neutral")
    return out


def rate(fn, texts, seconds: float) -> tuple[float, float]:
    """(messages per CPU second, per wall second) over repeated passes of at least `seconds`."""
    gc.collect()
    done, cpu0, wall0 = 0, time.process_time(), time.perf_counter()
    while True:
        fn(texts)
        done += len(texts)
        cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
        if cpu >= seconds:
            return done / cpu, done / wall


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="a short run for CI")
    parser.add_argument("--strict", action="store_true", help="exit 1 if a target is missed")
    args = parser.parse_args(argv)
    n = 200 if args.quick else None
    if hasattr(os, "sched_setaffinity"):
        try:
            os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})
        except OSError:
            pass
    if not data.available():
        print(f"corpora not found in {data.corpora_dir()}")
        print(json.dumps({"benchmark": "triage", "database": "none", "quick": args.quick, "figures": {},
                          "targets": TARGETS, "pass": {k: False for k in TARGETS}}))
        return 1 if args.strict else 0

    figures: dict = {}
    t0 = time.perf_counter()
    triage.models()
    triage.analyse(["warm up", "calentando"])
    figures["model_load_seconds"] = round(time.perf_counter() - t0, 3)
    art = triage.ARTIFACTS
    figures["artifacts_bytes"] = sum(p.stat().st_size for p in art.iterdir() if p.is_file())

    def sentiment(texts):
        return [r.sentiment for r in triage.analyse(texts)]

    def toxic(texts):
        return [int(r.toxic) for r in triage.analyse(texts)]

    print("Quality (official test splits, official metrics)")
    for lang in ("es", "en"):
        texts, gold = sample(*data.umsab(lang, "test"), n)
        pred = sentiment(texts)
        figures[f"umsab_{lang}_macro_f1"] = pct(f1_score(gold, pred, average="macro"))
        figures[f"umsab_{lang}_n"] = len(texts)
        print(f"  UMSAB {lang} sentiment macro-F1      {figures[f'umsab_{lang}_macro_f1']:6.2f}  (n={len(texts)})")
        if lang == "en":
            vader = vader_labels(texts)
            figures["vader_umsab_en_macro_f1"] = pct(f1_score(gold, vader, average="macro"))
            figures["margin_vs_vader_en"] = round(figures["umsab_en_macro_f1"] - figures["vader_umsab_en_macro_f1"], 2)
            print(f"  VADER UMSAB en macro-F1             {figures['vader_umsab_en_macro_f1']:6.2f}  "
                  f"(margin {figures['margin_vs_vader_en']:+.2f})")

    texts, gold = data.tweeteval("sentiment", "test")
    texts, gold = sample(texts, [data.SENTIMENT_NAMES[i] for i in gold], n)
    figures["tweeteval_sentiment_macro_recall"] = pct(recall_score(gold, sentiment(texts), average="macro"))
    print(f"  TweetEval sentiment macro-recall    {figures['tweeteval_sentiment_macro_recall']:6.2f}  (n={len(texts)})")

    texts, gold = sample(*data.tweeteval("offensive", "test"), n)
    figures["tweeteval_offensive_macro_f1"] = pct(f1_score(gold, toxic(texts), average="macro"))
    print(f"  TweetEval offensive macro-F1        {figures['tweeteval_offensive_macro_f1']:6.2f}  (n={len(texts)})")

    texts, gold = sample(*data.hateval_es("test"), n)
    figures["hateval_es_macro_f1"] = pct(f1_score(gold, toxic(texts), average="macro"))
    print(f"  HatEval es (HS) macro-F1            {figures['hateval_es_macro_f1']:6.2f}  (n={len(texts)})")

    rows = [r for r in data.emoevent("es", "test") if r["offensive"] in ("OFF", "NO")]
    texts, gold = sample([r["tweet"] for r in rows], [int(r["offensive"] == "OFF") for r in rows], n)
    figures["emoevent_es_offensive_macro_f1"] = pct(f1_score(gold, toxic(texts), average="macro"))
    print(f"  EmoEvent es offensive macro-F1      {figures['emoevent_es_offensive_macro_f1']:6.2f}  (n={len(texts)})")

    right = total = 0
    for lang in ("es", "en", "pt", "it", "fr", "de"):
        texts, _ = sample(*data.umsab(lang, "test"), n)
        expected = lang if lang in ("es", "en") else ""
        got = triage.detect_languages(texts)
        ok = sum(g == expected for g in got)
        figures[f"language_id_accuracy_{lang}"] = pct(ok / len(texts))
        right += ok
        total += len(texts)
    figures["language_id_accuracy"] = pct(right / total)
    print(f"  language id accuracy (es/en/other)  {figures['language_id_accuracy']:6.2f}  (n={total})")

    print("Throughput (one core, CPU time)")
    mix = data.umsab("es", "test")[0] + data.umsab("en", "test")[0]
    mix = mix[: 400] if args.quick else mix
    mix = mix + HOSTILE
    seconds = 1.0 if args.quick else 3.0
    lid_cpu, lid_wall = rate(triage.detect_languages, mix, seconds)
    full_cpu, full_wall = rate(triage.analyse, mix, seconds)
    figures["language_id_msgs_per_s"] = round(lid_cpu)
    figures["language_id_msgs_per_s_wall"] = round(lid_wall)
    figures["full_triage_msgs_per_s"] = round(full_cpu)
    figures["full_triage_msgs_per_s_wall"] = round(full_wall)
    figures["throughput_texts"] = len(mix)
    print(f"  language id      {lid_cpu:9.0f} msg/s CPU  ({lid_wall:.0f} wall)")
    print(f"  full triage      {full_cpu:9.0f} msg/s CPU  ({full_wall:.0f} wall)")
    figures["references"] = REFERENCES

    passes = {
        "umsab_es_macro_f1_min": figures["umsab_es_macro_f1"] >= TARGETS["umsab_es_macro_f1_min"],
        "umsab_en_macro_f1_min": figures["umsab_en_macro_f1"] >= TARGETS["umsab_en_macro_f1_min"],
        "tweeteval_offensive_macro_f1_min":
            figures["tweeteval_offensive_macro_f1"] >= TARGETS["tweeteval_offensive_macro_f1_min"],
        "margin_vs_vader_en_min": figures["margin_vs_vader_en"] >= TARGETS["margin_vs_vader_en_min"],
        "full_triage_msgs_per_s_min": figures["full_triage_msgs_per_s"] >= TARGETS["full_triage_msgs_per_s_min"],
    }
    print(json.dumps({"benchmark": "triage", "database": "none", "quick": args.quick, "figures": figures,
                      "targets": TARGETS, "pass": passes}))
    return 1 if args.strict and not all(passes.values()) else 0


if __name__ == "__main__":
    raise SystemExit(main())
