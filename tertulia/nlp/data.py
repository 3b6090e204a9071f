"""Readers for the corpora in ../shared/corpora (read-only, used by path; never copied into the repo).

Labels are returned as the task's class names:
- sentiment: "negative" | "neutral" | "positive";
- offensive / toxic: 0 | 1.
"""

from __future__ import annotations

import csv
import os
from pathlib import Path

SENTIMENT_NAMES = ("negative", "neutral", "positive")
UMSAB_LANGS = {"es": "spanish", "en": "english", "pt": "portuguese", "it": "italian", "fr": "french",
               "de": "german", "ar": "arabic", "hi": "hindi"}


def corpora_dir() -> Path:
    env = os.environ.get("TERTULIA_CORPORA")
    if env:
        return Path(env)
    return Path(__file__).resolve().parents[3] / "shared" / "corpora"


def available() -> bool:
    return (corpora_dir() / "xlm-t-umsab").is_dir() and (corpora_dir() / "tweeteval").is_dir()


def _lines(path: Path) -> list[str]:
    with open(path, encoding="utf-8") as fh:
        return [line.rstrip("\n") for line in fh]


def _pair(folder: Path, split: str) -> tuple[list[str], list[str]]:
    texts = _lines(folder / f"{split}_text.txt")
    labels = [x.strip() for x in _lines(folder / f"{split}_labels.txt")]
    if len(texts) != len(labels):
        raise ValueError(f"{folder}/{split}: {len(texts)} texts but {len(labels)} labels")
    return texts, labels


def umsab(lang: str, split: str) -> tuple[list[str], list[str]]:
    """UMSAB (XLM-T) sentiment; split: train | val | test."""
    texts, labels = _pair(corpora_dir() / "xlm-t-umsab" / "data" / "sentiment" / UMSAB_LANGS[lang], split)
    return texts, [SENTIMENT_NAMES[int(x)] for x in labels]


def tweeteval(task: str, split: str) -> tuple[list[str], list[int]]:
    """TweetEval task (sentiment, offensive, hate, emotion, emoji, irony); labels as ints."""
    texts, labels = _pair(corpora_dir() / "tweeteval" / "datasets" / task, split)
    return texts, [int(x) for x in labels]


def emoevent(lang: str, split: str) -> list[dict]:
    """EmoEvent rows (split: train | dev | test) with keys tweet, offensive ("OFF"/"NO"/""), emotion."""
    path = corpora_dir() / "emoevent-es-en" / "splits" / lang / f"{split}.tsv"
    with open(path, encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh, delimiter="\t", quoting=csv.QUOTE_NONE))


def hateval_es(split: str) -> tuple[list[str], list[int]]:
    """HatEval 2019 Spanish (CC BY-NC 4.0): EVALUATION ONLY, never used for training."""
    path = corpora_dir() / "hateval2019-es" / f"hateval2019_es_{split}.csv"
    with open(path, encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    return [r["text"] for r in rows], [int(r["HS"]) for r in rows]
