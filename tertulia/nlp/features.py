"""Hashed text features shared by every triage model (and by the per-brand layers).

Two views of the normalised text, each hashed (MurmurHash3, stable across versions) and L2-normalised,
then stacked: word 1-2-grams (emoji and punctuation kept as tokens) and char_wb n-grams. The settings
are plain JSON stored next to the weights, so an artifact always says how its features were made.
"""

from __future__ import annotations

import re
import unicodedata

from itertools import repeat

import numpy as np
import scipy.sparse as sp
from sklearn.feature_extraction import FeatureHasher
from sklearn.feature_extraction.text import HashingVectorizer
from sklearn.preprocessing import normalize

MAX_CHARS = 2000  # messages are triaged on their first 2,000 characters

# Characters that render as nothing (or reorder text) and are used to dodge filters.
_INVISIBLE = re.compile("[\u00ad\u034f\u061c\u115f\u1160\u180e\u200b-\u200f\u202a-\u202e\u2060-\u2064"
                        "\u2066-\u206f\u3164\ufe00-\ufe0f\ufeff\uffa0\ud800-\udfff]")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_URL = re.compile(r"(?:https?://|www\.)\S+", re.I)
_USER = re.compile(r"@\w+")
_ELONG = re.compile(r"(.)\1{2,}")
_SPACE = re.compile(r"\s+")

TOKEN_PATTERN = r"(?u)[#@]?\w[\w']*|[^\w\s]"  # nosec B105 # not a password: an empty value, a URL or a regex

DEFAULT_SPEC = {
    "word": {"ngram_range": [1, 2], "n_features": 2**18, "binary": True},
    "char": {"analyzer": "char_wb", "ngram_range": [2, 5], "n_features": 2**18, "binary": True},
}


def normalise(text: str) -> str:
    """Tweet normalisation: bounded length, invisible characters removed, compatibility forms folded
    (fullwidth/mathematical letters), users -> @user, URLs -> http, lowercase, any character repeated
    3+ times squeezed to two; emoji are kept."""
    if not text:
        return ""
    text = str(text)[: MAX_CHARS * 2]
    if not text.isascii():
        text = _INVISIBLE.sub("", text)
        text = unicodedata.normalize("NFKC", text)
    text = _CONTROL.sub(" ", text[:MAX_CHARS])
    if "http" in text or "www." in text:
        text = _URL.sub(" http ", text)
    if "@" in text:
        text = _USER.sub("@user", text)
    text = _ELONG.sub(r"\1\1", text.lower())
    return _SPACE.sub(" ", text).strip()


class Featurizer:
    def __init__(self, spec: dict | None = None):
        self.spec = spec or DEFAULT_SPEC
        w, c = self.spec["word"], self.spec["char"]
        self.word = HashingVectorizer(
            ngram_range=tuple(w["ngram_range"]), n_features=w["n_features"], alternate_sign=False,
            token_pattern=TOKEN_PATTERN, lowercase=False, norm="l2", dtype="float32", binary=w.get("binary", False),
        )
        self.char = HashingVectorizer(
            analyzer=c.get("analyzer", "char_wb"), ngram_range=tuple(c["ngram_range"]),
            n_features=c["n_features"], alternate_sign=False, lowercase=False, norm="l2", dtype="float32",
            binary=c.get("binary", False),
        )
        self.n_features = w["n_features"] + c["n_features"]
        self._word_an = self.word.build_analyzer()
        self._char_an = self.char.build_analyzer()
        self._hashers = {
            id(v): FeatureHasher(n_features=v.n_features, input_type="pair", dtype=np.float32,
                                 alternate_sign=False)
            for v in (self.word, self.char)
        }

    def transform_normalised(self, norms: list[str]) -> sp.csr_matrix:
        """Same matrix as the two HashingVectorizers' transform, computed faster: the analysers' n-grams
        are fed to the hasher as (feature, 1) pairs through C-level iterators."""
        return sp.hstack([self._hash(self.word, self._word_an, norms),
                          self._hash(self.char, self._char_an, norms)], format="csr")

    def transform(self, texts: list[str]) -> sp.csr_matrix:
        return self.transform_normalised([normalise(t) for t in texts])

    def _hash(self, vectorizer: HashingVectorizer, analyse, norms: list[str]) -> sp.csr_matrix:
        docs = (zip(analyse(d), repeat(1.0)) for d in norms)
        hasher = self._hashers[id(vectorizer)]
        X = sp.csr_matrix(hasher.transform(docs), dtype=np.float32)
        if vectorizer.binary:
            X.data.fill(1.0)
        return normalize(X, norm="l2", copy=False)
