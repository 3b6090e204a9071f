"""Spell checking (tertulia.content.spelling) on real tweets in Spanish and English: how often
correct words are flagged, how many misspellings are caught and corrected, and how fast.

Data: the EmoEvent corpus (`../shared/corpora/emoevent-es-en`, tweets of April 2019 in both
languages, research use; read by path, never copied). Figures per language:

* false flags: the tweets of the test split are checked; every word type seen in at least 5
  different tweets of the train split is a "common word", and the share of common-word tokens
  that get flagged is the false-flag rate. Frequent misspellings of tweets ("dia" for "día",
  "q" for "que") are common words too, so this rate is an upper bound; the most flagged common
  words are printed for a person to judge.
* seeded misspellings: correct words of 5+ letters from the tweets get one random edit (a
  letter deleted, inserted, replaced or two swapped, or an accent dropped). Edits that give
  another real word are set aside (no dictionary checker can catch them). Recall is the share
  flagged; top-1 / top-5 the share whose original is the first / among the five suggestions.
* real misspellings: a fixed list of common ones per language with the intended word (only
  non-words: "enserio", "ojala" or "calender" are dictionary words, which no dictionary checker flags).
* speed: milliseconds per 500-character post after warm-up, cold (first time each word is seen)
  and warm (words already cached, the composer re-checking as one types).

A baseline is measured in the same run when pyspellchecker is importable (it is not a
dependency): its flag rate on the same common-word tokens.

    .venv/bin/python bench/bench_spelling.py --quick     # about 20 s
    .venv/bin/python bench/bench_spelling.py             # about 1-2 minutes

The last line printed is one JSON object with the figures, the targets and a `pass` per target.
"""

from __future__ import annotations

import argparse
import collections
import csv
import json
import random
import sys
import time
import unicodedata
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tertulia.content import spelling  # noqa: E402
from tertulia.content.text_rules._corpora import corpora_dir  # noqa: E402

TARGETS = {
    "es_false_flag_rate_common_max": 0.03,
    "en_false_flag_rate_common_max": 0.03,
    "es_seeded_recall_min": 0.9,
    "en_seeded_recall_min": 0.9,
    "es_seeded_top5_min": 0.75,
    "en_seeded_top5_min": 0.75,
    "es_real_top1_min": 0.8,
    "en_real_top1_min": 0.8,
    "warm_ms_per_post_max": 5.0,
}

REAL = {
    "es": [("exelente", "excelente"), ("aver", "a ver"), ("haiga", "haya"), ("nadien", "nadie"),
           ("desallunos", "desayunos"), ("iva", "iba"), ("atravez", "a través"), ("tubimos", "tuvimos"),
           ("dijistes", "dijiste"), ("hechar", "echar"), ("extrenar", "estrenar"), ("bayan", "vayan"),
           ("veses", "veces"), ("porfavor", "por favor"), ("quizas", "quizás"), ("tambien", "también"),
           ("despues", "después"), ("dificil", "difícil"), ("buenisimo", "buenísimo"), ("grasias", "gracias"),
           ("ubiera", "hubiera"), ("apesar", "a pesar"), ("nesecito", "necesito"), ("resivir", "recibir"),
           ("inagurar", "inaugurar"), ("cocreta", "croqueta"), ("sinembargo", "sin embargo"),
           ("llendo", "yendo"), ("ahi", "ahí"), ("queremso", "queremos")],
    "en": [("recieve", "receive"), ("seperate", "separate"), ("definately", "definitely"),
           ("accomodate", "accommodate"), ("occured", "occurred"), ("untill", "until"), ("wich", "which"),
           ("tommorow", "tomorrow"), ("beleive", "believe"), ("goverment", "government"),
           ("enviroment", "environment"), ("neccessary", "necessary"), ("truely", "truly"), ("wierd", "weird"),
           ("teh", "the"), ("alot", "a lot"), ("acheive", "achieve"), ("adress", "address"),
           ("concious", "conscious"), ("existance", "existence"), ("foriegn", "foreign"),
           ("grammer", "grammar"), ("independant", "independent"), ("occassion", "occasion"),
           ("publically", "publicly"), ("recomend", "recommend"), ("sucessful", "successful"),
           ("thier", "their"), ("begining", "beginning"), ("freind", "friend")],
}

_ACCENTS = str.maketrans("áéíóúÁÉÍÓÚ", "aeiouAEIOU")
LETTERS = {"es": "abcdefghijklmnopqrstuvwxyzñáéíóú", "en": "abcdefghijklmnopqrstuvwxyz"}


def tweets(lang: str, split: str) -> list[str]:
    path = corpora_dir() / "emoevent-es-en" / "splits" / lang / f"{split}.tsv"
    with path.open(encoding="utf-8", newline="") as fh:
        return [row["tweet"] for row in csv.DictReader(fh, delimiter="\t", quoting=csv.QUOTE_NONE)]


def words_of(text: str) -> list[tuple[int, int, str]]:
    """The words the checker looks at (same tokeniser), lower-cased for counting."""
    out = []
    for start, end, raw in spelling._tokens(text):
        word = spelling._clean(raw)
        if word.isalpha() and not (len(word) > 1 and word.isupper()):
            out.append((start, end, word))
    return out


def common_words(lang: str) -> set[str]:
    seen: collections.Counter = collections.Counter()
    for text in tweets(lang, "train"):
        seen.update({w.lower() for _, _, w in words_of(text)})
    return {w for w, n in seen.items() if n >= 5}


def false_flags(lang: str, sample: list[str], common: set[str], baseline=None) -> dict:
    tokens = flagged = base_flagged = 0
    top: collections.Counter = collections.Counter()
    for text in sample:
        bad = {(m.start, m.end) for m in spelling.check(text, lang)}
        for start, end, word in words_of(text):
            if word.lower() not in common:
                continue
            tokens += 1
            if (start, end) in bad:
                flagged += 1
                top[word.lower()] += 1
            if baseline is not None and word.lower() not in baseline:
                base_flagged += 1
    result = {"common_tokens": tokens, "flagged": flagged, "rate": flagged / max(tokens, 1), "top": top.most_common(25)}
    if baseline is not None:
        result["baseline_rate"] = base_flagged / max(tokens, 1)
    return result


def corrupt(word: str, rng: random.Random, letters: str) -> str:
    kinds = ["delete", "insert", "replace", "swap"]
    if word != word.translate(_ACCENTS):
        kinds.append("accent")
    kind = rng.choice(kinds)
    i = rng.randrange(len(word))
    if kind == "accent":
        return word.translate(_ACCENTS)
    if kind == "delete":
        return word[:i] + word[i + 1:]
    if kind == "insert":
        return word[:i] + rng.choice(letters) + word[i:]
    if kind == "replace":
        return word[:i] + rng.choice([c for c in letters if c != word[i]]) + word[i + 1:]
    i = min(i, len(word) - 2)
    return word[:i] + word[i + 1] + word[i] + word[i + 2:]


def seeded(lang: str, pool: list[str], n: int, rng: random.Random) -> dict:
    caught = top1 = top5 = skipped = tried = 0
    for word in rng.sample(pool, min(n, len(pool))):
        wrong = corrupt(word, rng, LETTERS[lang])
        if wrong == word or spelling._is_correct(lang, wrong, sentence_start=False):
            skipped += 1  # a real-word error: no dictionary can tell
            continue
        tried += 1
        found = spelling.check(f"x {wrong} x", lang)
        hit = [m for m in found if m.word == wrong]
        if hit:
            caught += 1
            suggestions = [unicodedata.normalize("NFC", s) for s in hit[0].suggestions]
            top1 += bool(suggestions) and suggestions[0] == word
            top5 += word in suggestions[:5]
    return {"tried": tried, "real_word_edits_skipped": skipped, "recall": caught / max(tried, 1),
            "top1": top1 / max(tried, 1), "top5": top5 / max(tried, 1)}


def real(lang: str) -> dict:
    top1 = top5 = caught = 0
    misses = []
    for wrong, right in REAL[lang]:
        found = [m for m in spelling.check(f"x {wrong} x", lang) if m.word == wrong]
        if not found:
            misses.append((wrong, "not flagged"))
            continue
        caught += 1
        top1 += found[0].suggestions[:1] == [right]
        top5 += right in found[0].suggestions[:5]
        if found[0].suggestions[:1] != [right]:
            misses.append((wrong, found[0].suggestions[:3]))
    n = len(REAL[lang])
    return {"n": n, "recall": caught / n, "top1": top1 / n, "top5": top5 / n, "misses": misses}


def speed(lang: str, sample: list[str], posts: int) -> tuple[float, float]:
    """ms per ~500-character post: cold (fresh caches) and warm (same posts again)."""
    joined, buf = [], ""
    for text in sample:
        buf += " " + text
        if len(buf) >= 500:
            joined.append(buf[:500])
            buf = ""
        if len(joined) >= posts:
            break
    spelling._known.cache_clear()
    spelling._known_exact.cache_clear()
    spelling._suggest_cached.cache_clear()
    start = time.perf_counter()
    for post in joined:
        spelling.check(post, lang)
    cold = (time.perf_counter() - start) * 1000 / len(joined)
    start = time.perf_counter()
    for post in joined:
        spelling.check(post, lang)
    warm = (time.perf_counter() - start) * 1000 / len(joined)
    return cold, warm


def load_baseline(lang: str):
    try:
        from spellchecker import SpellChecker
    except ImportError:
        return None
    return SpellChecker(language=lang)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="a short run for CI")
    parser.add_argument("--strict", action="store_true", help="exit 1 when a target is missed")
    args = parser.parse_args()
    n_tweets, n_seeded, n_posts = (100, 60, 15) if args.quick else (1000, 600, 100)

    if not (corpora_dir() / "emoevent-es-en").exists():
        print(f"the EmoEvent corpus is not in {corpora_dir()} (set TERTULIA_CORPORA)")
        print(json.dumps({"benchmark": "spelling", "database": "none", "quick": args.quick, "error": "corpus missing",
                          "figures": {}, "targets": TARGETS, "pass": {k: False for k in TARGETS}}))
        return 1 if args.strict else 0

    figures: dict[str, object] = {}
    start = time.perf_counter()
    spelling.warm_up()
    figures["dictionary_load_s"] = round(time.perf_counter() - start, 2)
    print(f"Dictionaries loaded in {figures['dictionary_load_s']} s")
    rng = random.Random(20261125)
    warm_ms = []
    for lang in ("es", "en"):
        print(f"\n== {lang} ==")
        common = common_words(lang)
        sample = tweets(lang, "test")[:n_tweets]
        baseline = load_baseline(lang)
        ff = false_flags(lang, sample, common, baseline)
        figures[f"{lang}_common_word_tokens"] = ff["common_tokens"]
        figures[f"{lang}_false_flag_rate_common"] = round(ff["rate"], 4)
        print(f"false flags: {ff['flagged']} of {ff['common_tokens']} common-word tokens "
              f"({100 * ff['rate']:.2f}%) in {len(sample)} tweets")
        print("  most flagged common words:", ", ".join(f"{w} ({n})" for w, n in ff["top"]))
        if "baseline_rate" in ff:
            figures[f"{lang}_pyspellchecker_false_flag_rate_common"] = round(ff["baseline_rate"], 4)
            print(f"  pyspellchecker alone on the same tokens: {100 * ff['baseline_rate']:.2f}%")

        pool = sorted({w for text in tweets(lang, "dev") for _, _, w in words_of(text)
                       if len(w) >= 5 and w.islower() and spelling._is_correct(lang, w, sentence_start=False)})
        sd = seeded(lang, pool, n_seeded, rng)
        for key in ("recall", "top1", "top5"):
            figures[f"{lang}_seeded_{key}"] = round(sd[key], 4)
        figures[f"{lang}_seeded_tried"] = sd["tried"]
        print(f"seeded misspellings: {sd['tried']} tried ({sd['real_word_edits_skipped']} real-word edits set aside): "
              f"recall {100 * sd['recall']:.1f}%, top-1 {100 * sd['top1']:.1f}%, top-5 {100 * sd['top5']:.1f}%")

        rl = real(lang)
        figures[f"{lang}_real_recall"] = round(rl["recall"], 4)
        figures[f"{lang}_real_top1"] = round(rl["top1"], 4)
        figures[f"{lang}_real_top5"] = round(rl["top5"], 4)
        print(f"real misspellings: {rl['n']}: recall {100 * rl['recall']:.0f}%, top-1 {100 * rl['top1']:.0f}%, "
              f"top-5 {100 * rl['top5']:.0f}%")
        for wrong, got in rl["misses"]:
            print(f"  {wrong!r}: {got}")

        cold, warm = speed(lang, sample, n_posts)
        figures[f"{lang}_cold_ms_per_post"] = round(cold, 2)
        figures[f"{lang}_warm_ms_per_post"] = round(warm, 3)
        warm_ms.append(warm)
        print(f"speed: {cold:.1f} ms per 500-character post with empty caches (suggestions included), "
              f"{warm:.2f} ms re-checking")

    figures["warm_ms_per_post"] = round(max(warm_ms), 3)
    passes = {}
    for name, target in TARGETS.items():
        figure = name.rsplit("_", 1)[0]
        value = figures.get(figure)
        passes[name] = value is not None and (value <= target if name.endswith("_max") else value >= target)
    print(json.dumps({"benchmark": "spelling", "database": "none", "quick": args.quick,
                      "figures": figures, "targets": TARGETS, "pass": passes}, ensure_ascii=False))
    return 1 if args.strict and not all(passes.values()) else 0


if __name__ == "__main__":
    sys.exit(main())
