"""Social listening (issue 7): 10,000 boolean queries of 100 brands against a stream of messages.

The queries are what CMs write: brand names, product names, competitors, industry words,
hashtags and mentions, phrases, NEAR/n, prefixes, NOT and the lang:/network:/site:/author: fields,
built from the words of the labelled tweets in ../shared/corpora (UMSAB es/en, TweetEval
sentiment, EmoEvent es/en) and the Hunspell word lists of tertulia/content/dictionaries. The
stream is those real tweets recycled with variations (case, accents, a word swapped from the word
list, a brand or a product mentioned, a hashtag added) to reach the count, with language, network,
author and site metadata.

Measured, pinned to one core:
- matching alone (`listening.matching.Matcher`: Document.of + match) in messages per second of CPU
  time over the whole stream, and the matches found;
- the naive baseline (`NaiveMatcher`: every query's regular expressions on every message) on a
  sample of the stream, extrapolated to messages per second (it is too slow to run on the whole
  stream), and a check that both find exactly the same matches on that sample;
- matching plus triage: the matched messages triaged with `nlp.triage.analyse` in batches of 256,
  in messages of the stream per second.

    .venv/bin/python bench/bench_listening.py --quick     # 20,000 messages, ~30 s
    .venv/bin/python bench/bench_listening.py             # 1,000,000 messages, a few minutes

The last line printed is one JSON object: figures, targets (>= 20,000 msg/s matching alone, >= 50x
the naive baseline) and a `pass` boolean per target. Needs ../shared/corpora (or TERTULIA_CORPORA).
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS"):
    os.environ[_var] = "1"
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tertulia.settings")
os.environ.setdefault("SECRET_KEY", "bench-listening")

import argparse  # noqa: E402
import collections  # noqa: E402
import gc  # noqa: E402
import json  # noqa: E402
import random  # noqa: E402
import re  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import django  # noqa: E402

django.setup()

from tertulia.listening.matching import Document, Matcher, NaiveMatcher  # noqa: E402
from tertulia.listening.query import fold  # noqa: E402
from tertulia.nlp import data, triage  # noqa: E402

TARGETS = {"matching_msgs_per_s_min": 20_000.0, "speedup_vs_naive_min": 50.0}
DICTIONARIES = Path(__file__).resolve().parent.parent / "tertulia" / "content" / "dictionaries"
NEGATIVE = ["malo", "mala", "pésim*", "horrible", "fatal", "estafa", "timo", "queja", "vergüenza", "asco",
            "terrible", "awful", "worst", "scam", "broken", "refund", "disappoint*", "hate", "sucks", "rubbish"]
PRICE = ["precio", "caro", "cara", "barato", "oferta", "descuento", "price", "expensive", "cheap", "deal", "sale"]
SERVICE = ['"atención al cliente"', '"servicio técnico"', "devolución", "envío", '"customer service"', "support",
           "delivery", "shipping", "warranty", "garantía"]
NETWORKS = ["x", "x", "x", "mastodon", "bluesky", "web"]
SITES = ["elpais.com", "blogs.elmundo.es", "www.theguardian.com", "news.example.org", "medium.com"]
STOP = set("""a al algo como con de del el en es esta este fue ha han hay la las le lo los mas me mi muy no nos o
para pero por que se si sin sobre su sus te tu un una uno y ya yo the and for that this with you are was but not
have has had all its it's our out get got just can will from they them their what when who why how your about
like more one now new day rt user http https amp he she his her him we us my me is in on of to at be do so an as
by if or up no i it im""".split())


def pct(x: float) -> float:
    return round(100.0 * x, 2)


# -- data ----------------------------------------------------------------------------------------

def load_tweets() -> list[tuple[str, str]]:
    """(text, language) of the labelled tweets, Spanish and English."""
    out: list[tuple[str, str]] = []
    for lang in ("es", "en"):
        for split in ("train", "val", "test"):
            out += [(t, lang) for t in data.umsab(lang, split)[0]]
        for split in ("train", "dev", "test"):
            out += [(r["tweet"], lang) for r in data.emoevent(lang, split) if r.get("tweet")]
    for split in ("val", "test", "train"):
        try:
            out += [(t, "en") for t in data.tweeteval("sentiment", split)[0]]
        except FileNotFoundError:
            pass
    return [(t.strip(), lang) for t, lang in out if t.strip()]


def load_words(name: str, limit: int = 40_000) -> list[str]:
    words = []
    with open(DICTIONARIES / f"{name}.dic", encoding="utf-8", errors="replace") as fh:
        next(fh)
        for line in fh:
            w = line.split("/", 1)[0].strip()
            if w.isalpha() and w.islower() and 4 <= len(w) <= 12 and w not in STOP:
                words.append(w)
    random.Random(7).shuffle(words)
    return words[:limit]


def vocabulary(tweets):
    """Proper names (capitalised, not at a sentence start), hashtags and common lower-case words."""
    names, tags, common = collections.Counter(), collections.Counter(), collections.Counter()
    for text, _lang in tweets:
        for m in re.finditer(r"(?<=[a-záéíóúñ,] )([A-ZÁÉÍÓÚÑ][a-záéíóúñ]{3,14})\b", text):
            names[m.group(1)] += 1
        for m in re.finditer(r"#(\w{3,20})", text):
            tags[fold(m.group(1))] += 1
        for w in re.findall(r"\b[a-záéíóúñ]{4,12}\b", text):
            common[w] += 1
    # the biggest names and hashtags of the corpora are news events (Notre Dame, #DíaDelLibro): skip them
    # proper names: rarely written in lower case
    names = [n for n, c in names.most_common(3000)
             if fold(n) not in STOP and c >= 3 and common[n.lower()] * 2 < c][20:]
    tags = [t for t, c in tags.most_common(1500) if c >= 2][40:]
    common = [w for w, c in common.most_common(8000) if fold(w) not in STOP][2000:]
    return names, tags, common


class Brand:
    def __init__(self, rng: random.Random, name: str, products: list[str], competitors: list[str],
                 industry: list[str], tags: list[str]):
        self.name, self.products, self.competitors, self.industry, self.tags = (
            name, products, competitors, industry, tags)
        self.handle = fold(name).replace(" ", "")


def make_brands(rng: random.Random, names, tags, common, words) -> list[Brand]:
    pool = list(names)
    rng.shuffle(pool)
    brand_names = pool[:100]
    others = pool[100:]
    brands = []
    for i, name in enumerate(brand_names):
        products = [f"{rng.choice(others)} {rng.choice(['Pro', 'Max', 'One', 'Go', 'Plus', 'X', 'Lite'])}"
                    for _ in range(2)] + [rng.choice(others) for _ in range(3)]
        competitors = rng.sample([b for b in brand_names if b != name], 4)
        industry = rng.sample(common, 8) + rng.sample(words, 4)
        brands.append(Brand(rng, name, products, competitors, industry, rng.sample(tags, 6)))
    return brands


def q(term: str) -> str:
    return f'"{term}"' if " " in term else term


def brand_queries(rng: random.Random, b: Brand, n: int) -> list[str]:
    """n distinct queries of one brand, in the mix a CM writes."""
    out: list[str] = []
    seen: set[str] = set()
    name = q(b.name)
    first = fold(b.name.split()[0])
    stem = first[:max(5, len(first) - 2)]
    templates = [
        lambda: name,
        lambda: f"{name} OR #{b.handle} OR @{b.handle}",
        lambda: f"{name} NEAR/{rng.randint(2, 8)} ({' OR '.join(rng.sample(NEGATIVE, 4))})",
        lambda: f"({name} OR {q(rng.choice(b.products))}) ({' OR '.join(rng.sample(PRICE, 3))})",
        lambda: f'"{b.name} {rng.choice(b.products)}"',
        lambda: f"{q(rng.choice(b.products))} -{q(rng.choice(b.competitors))}",
        lambda: f"{q(rng.choice(b.competitors))} NEAR/{rng.randint(3, 10)} {q(rng.choice(b.industry))}",
        lambda: f"({q(rng.choice(b.competitors))} OR {q(rng.choice(b.competitors))}) lang:{rng.choice(['es', 'en'])}",
        lambda: f"{stem}* -{rng.choice(['sorteo', 'giveaway', 'rt', 'spam'])}",
        lambda: f"#{rng.choice(b.tags)} OR #{rng.choice(b.tags)}",
        lambda: f"{q(rng.choice(b.industry))} {q(rng.choice(b.industry))}",
        lambda: f"{q(rng.choice(b.industry))} NEAR/{rng.randint(1, 5)} ({' OR '.join(rng.sample(SERVICE, 3))})",
        lambda: f"{rng.choice(b.industry)[:5]}* ({name} OR {q(rng.choice(b.competitors))})",
        lambda: f"{name} network:{rng.choice(['x', 'mastodon', 'bluesky'])} -author:{b.handle}",
        lambda: f"{name} site:{rng.choice(SITES).removeprefix('www.')}",
        lambda: f"({q(rng.choice(b.industry))} OR {q(rng.choice(b.industry))}) "
                f"({q(rng.choice(b.industry))} OR {q(rng.choice(b.industry))}) -{q(rng.choice(b.competitors))}",
        lambda: f"NOT ({name} OR {q(rng.choice(b.competitors))}) #{rng.choice(b.tags)}",
    ]
    guard = 0
    while len(out) < n and guard < n * 50:
        guard += 1
        text = rng.choice(templates)()
        if text not in seen:
            seen.add(text)
            out.append(text)
    while len(out) < n:  # unlikely: pad with distinct industry pairs
        out.append(f"{q(rng.choice(b.industry))} {rng.choice(b.industry)} {len(out)}")
    return out


def strip_accents(text: str) -> str:
    return text.translate(str.maketrans("áéíóúÁÉÍÓÚ", "aeiouAEIOU"))


def make_stream(rng: random.Random, tweets, brands, words, count: int) -> list[tuple[str, str, str, str, str]]:
    """(text, language, network, author, site): real tweets, recycled with variations."""
    out = []
    authors = [f"@{w}{i}" for i, w in enumerate(words[:5000])]
    n = len(tweets)
    for i in range(count):
        text, lang = tweets[i % n]
        if i >= n or i % 2:  # a variation (every tweet comes once as it is, then varied)
            r = rng.random()
            if r < 0.15:
                text = text.upper()
            elif r < 0.3:
                text = strip_accents(text).lower()
            parts = text.split(" ")
            if len(parts) > 3 and rng.random() < 0.5:
                parts[rng.randrange(len(parts))] = rng.choice(words)
            if rng.random() < 0.12:
                b = rng.choice(brands)
                mention = rng.choice([b.name, "#" + b.handle, "@" + b.handle, rng.choice(b.products),
                                      rng.choice(b.competitors)])
                parts.insert(rng.randrange(len(parts) + 1), mention)
            if rng.random() < 0.05:
                parts.append("#" + rng.choice(rng.choice(brands).tags))
            text = " ".join(parts)
        network = NETWORKS[i % len(NETWORKS)]
        site = SITES[i % len(SITES)] if network == "web" else ""
        out.append((text, lang if i % 10 else "", network, authors[i % len(authors)], site))
    return out


# -- measuring -----------------------------------------------------------------------------------

def run_matcher(matcher, stream) -> tuple[float, float, int, int, list[list[int]] | None]:
    gc.collect()
    gc.disable()
    try:
        matched = found = 0
        cpu0, wall0 = time.process_time(), time.perf_counter()
        for text, lang, network, author, site in stream:
            ids = matcher.match(Document.of(text=text, language=lang, network=network, author=author, site=site))
            if ids:
                matched += 1
                found += len(ids)
        cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
    finally:
        gc.enable()
    return cpu, wall, matched, found


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="10,000 messages (CI)")
    parser.add_argument("--messages", type=int, default=None, help="messages in the stream (1,000,000)")
    parser.add_argument("--naive-sample", type=int, default=None, help="messages for the naive baseline")
    parser.add_argument("--triage-messages", type=int, default=None,
                        help="messages of the stream for matching plus triage (the whole stream)")
    parser.add_argument("--strict", action="store_true", help="exit 1 if a target is missed")
    args = parser.parse_args(argv)
    count = args.messages or (10_000 if args.quick else 1_000_000)
    naive_n = args.naive_sample or (100 if args.quick else 1_000)
    triage_n = min(count, args.triage_messages or count)

    if hasattr(os, "sched_setaffinity"):
        try:
            os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})
        except OSError:
            pass
    if not data.available():
        print(f"corpora not found in {data.corpora_dir()}")
        print(json.dumps({"benchmark": "listening", "database": "none", "quick": args.quick, "figures": {},
                          "targets": TARGETS, "pass": {k: False for k in TARGETS}}))
        return 1 if args.strict else 0

    rng = random.Random(2026)
    t0 = time.perf_counter()
    tweets = load_tweets()
    words = load_words("es", 20_000) + load_words("en_US", 20_000)
    rng.shuffle(words)
    names, tags, common = vocabulary(tweets)
    brands = make_brands(rng, names, tags, common, words)
    queries = []
    for b in brands:
        for text in brand_queries(rng, b, 100):
            queries.append((len(queries) + 1, text))
    stream = make_stream(rng, tweets, brands, words, count)
    print(f"{len(tweets):,} real tweets, {len(queries):,} queries of {len(brands)} brands, "
          f"{len(stream):,} messages (built in {time.perf_counter() - t0:.1f} s)")

    figures: dict = {"queries": len(queries), "brands": len(brands), "messages": len(stream),
                     "real_tweets": len(tweets)}

    cpu0 = time.process_time()
    matcher = Matcher(queries)
    figures["matcher_build_s"] = round(time.process_time() - cpu0, 3)
    figures["invalid_queries"] = len(matcher.errors)
    figures["queries_always_evaluated"] = len(matcher._always)
    print(f"Matcher built in {figures['matcher_build_s']} s CPU ({len(matcher.errors)} invalid queries, "
          f"{len(matcher._always)} evaluated on every message)")
    for qid, err in list(matcher.errors.items())[:5]:
        print(f"  invalid #{qid}: {err}")

    # warm up, then the whole stream
    run_matcher(matcher, stream[:2000])
    cpu, wall, matched, found = run_matcher(matcher, stream)
    fast_rate = len(stream) / cpu
    figures["matching_msgs_per_s"] = round(fast_rate)
    figures["matching_msgs_per_s_wall"] = round(len(stream) / wall)
    figures["messages_matched"] = matched
    figures["matches_found"] = found
    figures["share_of_messages_matched"] = pct(matched / len(stream))
    print(f"Matching alone: {fast_rate:,.0f} msg/s CPU ({len(stream) / wall:,.0f} wall) on one core; "
          f"{matched:,} messages matched ({figures['share_of_messages_matched']}%), {found:,} matches")

    # the naive baseline on a random sample of the stream
    # random positions: a fixed stride would line up with the stream's periodic metadata
    sample = [stream[i] for i in sorted(random.Random(5).sample(range(len(stream)), min(naive_n, len(stream))))]
    cpu0 = time.process_time()
    naive = NaiveMatcher(queries)
    figures["naive_build_s"] = round(time.process_time() - cpu0, 3)
    gc.collect()
    naive_results = []
    cpu0 = time.process_time()
    for text, lang, network, author, site in sample:
        naive_results.append(naive.match(Document.of(text=text, language=lang, network=network, author=author,
                                                     site=site)))
    naive_cpu = time.process_time() - cpu0
    naive_rate = len(sample) / naive_cpu
    fast_results = [matcher.match(Document.of(text=t, language=la, network=n, author=a, site=s))
                    for t, la, n, a, s in sample]
    disagree = sum(1 for x, y in zip(fast_results, naive_results) if x != y)
    figures["naive_sample_messages"] = len(sample)
    figures["naive_sample_cpu_s"] = round(naive_cpu, 2)
    figures["naive_msgs_per_s"] = round(naive_rate, 1)
    figures["naive_extrapolated_stream_s"] = round(len(stream) / naive_rate)
    figures["naive_sample_matches"] = sum(len(x) for x in naive_results)
    figures["sample_disagreements"] = disagree
    figures["same_matches_on_sample"] = disagree == 0
    figures["speedup_vs_naive"] = round(fast_rate / naive_rate, 1)
    print(f"Naive baseline (every query's regexes on every message): {naive_rate:,.1f} msg/s CPU, measured on "
          f"{len(sample):,} random messages of the stream ({naive_cpu:.1f} s) and extrapolated "
          f"(the whole stream would take ~{figures['naive_extrapolated_stream_s']:,} s); "
          f"{figures['naive_sample_matches']:,} matches on the sample, {disagree} messages where the two differ")
    print(f"Speedup: {figures['speedup_vs_naive']}x")

    # matching plus triage of the matched messages, in batches
    part = stream[:triage_n]
    triage.analyse(["warm up", "calentando"])
    batch: list[str] = []
    triaged = 0
    gc.collect()
    cpu0, wall0 = time.process_time(), time.perf_counter()
    for text, lang, network, author, site in part:
        if matcher.match(Document.of(text=text, language=lang, network=network, author=author, site=site)):
            batch.append(text)
            if len(batch) == 256:
                triaged += len(triage.analyse(batch))
                batch = []
    if batch:
        triaged += len(triage.analyse(batch))
    cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
    figures["matching_and_triage_messages"] = len(part)
    figures["matching_and_triage_msgs_per_s"] = round(len(part) / cpu)
    figures["matching_and_triage_msgs_per_s_wall"] = round(len(part) / wall)
    figures["messages_triaged"] = triaged
    print(f"Matching plus triage of the matched messages: {len(part) / cpu:,.0f} msg/s CPU "
          f"({len(part) / wall:,.0f} wall) over {len(part):,} messages, {triaged:,} triaged")

    passes = {
        "matching_msgs_per_s_min": figures["matching_msgs_per_s"] >= TARGETS["matching_msgs_per_s_min"],
        "speedup_vs_naive_min": figures["speedup_vs_naive"] >= TARGETS["speedup_vs_naive_min"]
        and figures["same_matches_on_sample"],
    }
    print(json.dumps({"benchmark": "listening", "database": "none", "quick": args.quick, "figures": figures,
                      "targets": TARGETS, "pass": passes}))
    return 1 if args.strict and not all(passes.values()) else 0


if __name__ == "__main__":
    raise SystemExit(main())
