"""Checks that need ../shared/corpora (present in CI; skipped elsewhere when absent)."""

from __future__ import annotations

import os

import pytest
from sklearn.metrics import f1_score

from tertulia.nlp import data, train, triage
from tertulia.nlp.features import normalise

pytestmark = pytest.mark.skipif(
    not data.available() and not os.environ.get("CI"), reason="../shared/corpora is absent"
)


def test_training_data_never_contains_a_test_text_nor_hateval():
    banned = train.test_texts()
    assert len(banned) > 15_000
    sets = train.datasets(banned)
    hateval = {normalise(t) for split in ("train", "dev", "test") for t in data.hateval_es(split)[0]}
    for name, spec in sets.items():
        texts = spec["core"][0] + spec["extra"][0]
        norms = {normalise(t) for t in texts}
        assert not norms & banned, name
        assert len(norms & hateval) <= 5, name  # HatEval (CC BY-NC) is evaluation only


def test_committed_artifacts_keep_their_quality_on_a_test_slice():
    """A regression guard on the first 300 texts of each official test split (the full figures are in
    MODEL_CARD.md, produced by bench/bench_triage.py)."""
    floors = {"es": 50.0, "en": 50.0}
    for lang, floor in floors.items():
        texts, gold = data.umsab(lang, "test")
        texts, gold = texts[:300], gold[:300]
        pred = [r.sentiment for r in triage.analyse(texts)]
        assert 100 * f1_score(gold, pred, average="macro") >= floor, lang
    texts, gold = data.tweeteval("offensive", "test")
    pred = [int(r.toxic) for r in triage.analyse(texts[:300])]
    assert 100 * f1_score(gold[:300], pred, average="macro") >= 65.0
