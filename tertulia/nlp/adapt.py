"""Per-brand adaptation: a small correction layer learnt from the team's relabels.

For each brand and task (sentiment, intent, toxic) the layer keeps the relabelled examples as hashed
feature vectors (the same features the shared models use: no raw text is stored), the shared model's
scores for them at the time, and the label the team chose. After every correction the layer is refitted:
a multinomial logistic correction `delta = X @ D` (sparse over the features the examples touch, L2
regularised, no bias so that it only moves messages that share words with the corrected ones) is trained
so that `base scores + delta` gives the team's labels. `analyse(..., brand_id=...)` adds the delta to the
shared scores. A message whose normalised text was itself relabelled gets the team's label outright.

The state is JSON in `BrandLayer.state` (bytes), bounded to the last MAX_EXAMPLES corrections.
"""

from __future__ import annotations

import hashlib
import json

import numpy as np
import scipy.sparse as sp

MAX_EXAMPLES = 500
L2 = 0.02
STEPS = 150
RATE = 1.0


def text_key(norm: str) -> str:
    return hashlib.blake2b(norm.encode("utf-8"), digest_size=8).hexdigest()


class Layer:
    """A brand's correction for one task; `classes` are the task's labels."""

    def __init__(self, classes: tuple[str, ...], state: dict | None = None):
        self.classes = classes
        state = state or {}
        self.examples: list[dict] = state.get("examples", [])
        self.exact: dict[str, int] = state.get("exact", {})
        self.idx = np.asarray(state.get("idx", []), dtype=np.int64)
        self.D = np.asarray(state.get("D", []), dtype=np.float32).reshape(len(self.idx), len(classes))
        self._matrix: sp.csr_matrix | None = None

    # -- persistence ----------------------------------------------------------------------------
    @classmethod
    def from_bytes(cls, classes, raw: bytes | memoryview | None) -> Layer:
        if not raw:
            return cls(classes)
        try:
            return cls(classes, json.loads(bytes(raw).decode("utf-8")))
        except (ValueError, UnicodeDecodeError):
            return cls(classes)  # an unreadable layer is ignored rather than breaking triage

    def to_bytes(self) -> bytes:
        state = {
            "v": 1,
            "examples": self.examples,
            "exact": self.exact,
            "idx": self.idx.tolist(),
            "D": np.round(self.D, 5).tolist(),
        }
        return json.dumps(state, separators=(",", ":")).encode("utf-8")

    # -- learning ---------------------------------------------------------------------------------
    def add(self, norm: str, x: sp.csr_matrix, base: np.ndarray, label: str) -> None:
        y = self.classes.index(label)
        row = x.tocsr()
        self.examples.append({
            "i": row.indices.tolist(),
            "x": [round(float(v), 6) for v in row.data],
            "b": [round(float(v), 5) for v in base],
            "y": y,
            "k": text_key(norm),
        })
        self.exact[text_key(norm)] = y
        if len(self.examples) > MAX_EXAMPLES:
            dropped = self.examples[: len(self.examples) - MAX_EXAMPLES]
            self.examples = self.examples[-MAX_EXAMPLES:]
            kept = {e["k"] for e in self.examples}
            for e in dropped:
                if e["k"] not in kept:
                    self.exact.pop(e["k"], None)
        self.refit()

    def refit(self) -> None:
        if not self.examples:
            self.idx = np.zeros(0, dtype=np.int64)
            self.D = np.zeros((0, len(self.classes)), dtype=np.float32)
            return
        cols = sorted({i for e in self.examples for i in e["i"]})
        pos = {c: j for j, c in enumerate(cols)}
        rows, cidx, vals = [], [], []
        for r, e in enumerate(self.examples):
            rows.extend([r] * len(e["i"]))
            cidx.extend(pos[i] for i in e["i"])
            vals.extend(e["x"])
        n, m, k = len(self.examples), len(cols), len(self.classes)
        X = sp.csr_matrix((np.asarray(vals, dtype=np.float64), (rows, cidx)), shape=(n, m))
        XT = X.T.tocsr()
        B = np.asarray([e["b"] for e in self.examples], dtype=np.float64)
        Y = np.zeros((n, k))
        Y[np.arange(n), [e["y"] for e in self.examples]] = 1.0
        D = np.zeros((m, k))
        for _ in range(STEPS):
            Z = B + X @ D
            Z -= Z.max(axis=1, keepdims=True)
            P = np.exp(Z)
            P /= P.sum(axis=1, keepdims=True)
            grad = XT @ (P - Y) / max(1, n) ** 0.5 + L2 * D
            D -= RATE * grad
        self.idx = np.asarray(cols, dtype=np.int64)
        self.D = D.astype(np.float32)
        self._matrix = None

    # -- applying -----------------------------------------------------------------------------------
    def delta(self, X: sp.csr_matrix) -> np.ndarray | None:
        if not len(self.idx):
            return None
        if self._matrix is None:
            self._matrix = sp.csr_matrix(
                (self.D.ravel(), (np.repeat(self.idx, len(self.classes)),
                                  np.tile(np.arange(len(self.classes)), len(self.idx)))),
                shape=(X.shape[1], len(self.classes)),
            )
        return (X @ self._matrix).toarray()

    def override(self, norm: str) -> int | None:
        if not self.exact:
            return None
        return self.exact.get(text_key(norm))
