"""Train the triage heads from ../shared/corpora and write tertulia/nlp/artifacts/.

    .venv/bin/python -m tertulia.nlp.train                  # writes artifacts/triage.json + triage_weights.npz
    .venv/bin/python -m tertulia.nlp.train --out /tmp/x     # somewhere else (to compare)

It prints each head's 5-fold CV macro-F1 on train+val (also stored in triage.json).

Data rules (DESIGN.md section 5): only train/val splits are used for training; every training text whose
normalised form appears in a test split we report on is dropped (dedupe); HatEval Spanish (CC BY-NC) is
never read here. Choices (features, C, extra data and its weight) were made with 5-fold CV on train+val.

Heads (one linear model each over the shared hashed features: one-vs-rest NB-SVM, i.e. LinearSVC with
balanced class weights on features scaled by each class's log-count ratio, folded back into the weights):
- sentiment_es: UMSAB Spanish train+val; EmoEvent es train+dev as distant labels (emotion -> polarity).
- sentiment_en: UMSAB English train+val, TweetEval sentiment val; TweetEval emotion train+val and EmoEvent
  en train+dev as distant labels.
- toxic_en: TweetEval offensive train+val.
- toxic_es: EmoEvent es train+dev `offensive` column; TweetEval offensive train+val at a lower weight.
Decision values are calibrated to probabilities on out-of-fold predictions (temperature for sentiment,
Platt scaling for toxicity, flagged at p >= 0.5). Weights are stored as float16 with one scale per column (no pickle).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import scipy.sparse as sp
from sklearn.metrics import f1_score
from sklearn.model_selection import StratifiedKFold
from sklearn.svm import LinearSVC

from tertulia.nlp import data
from tertulia.nlp.features import DEFAULT_SPEC, Featurizer, normalise

ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
SENT = data.SENTIMENT_NAMES

EMO_POLARITY = {"joy": "positive", "anger": "negative", "sadness": "negative", "fear": "negative",
                "disgust": "negative", "others": "neutral"}  # surprise is ambiguous: left out
TE_EMOTION = {0: "negative", 1: "positive", 2: "positive", 3: "negative"}  # anger, joy, optimism, sadness

CONFIG = {  # chosen with 5-fold CV on train+val (see MODEL_CARD.md)
    "sentiment_es": {"C": 0.3, "extra_weight": 0.3, "nb_alpha": 0.03},
    "sentiment_en": {"C": 0.3, "extra_weight": 0.25, "nb_alpha": 0.1},
    "toxic_en": {"C": 0.3, "nb_alpha": 0.1},
    "toxic_es": {"C": 0.3, "extra_weight": 0.3, "nb_alpha": 0.1},
}


def test_texts() -> set[str]:
    """Normalised texts of every test split we report on (never trained on)."""
    out: set[str] = set()
    for lang in ("es", "en"):
        out.update(normalise(t) for t in data.umsab(lang, "test")[0])
        out.update(normalise(r["tweet"]) for r in data.emoevent(lang, "test"))
    for task in ("sentiment", "offensive", "hate", "emotion"):
        out.update(normalise(t) for t in data.tweeteval(task, "test")[0])
    out.update(normalise(t) for t in data.hateval_es("test")[0])
    return out


def _clean(texts, labels, banned, seen):
    keep_t, keep_y = [], []
    for t, y in zip(texts, labels):
        n = normalise(t)
        if not n or n in banned or n in seen:
            continue
        seen.add(n)
        keep_t.append(t)
        keep_y.append(y)
    return keep_t, keep_y


def vader_pseudo_labels(banned: set[str], seen: set[str]) -> tuple[list[str], list[str]]:
    """Distant English sentiment labels: VADER (MIT; a dev-only dependency, used at training time only)
    labels the unlabelled-for-sentiment texts of the TweetEval train/val splits (emoji, hate,
    offensive, irony) and EmoEvent en train/dev. Our model learns from them and from the gold sets."""
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    sia = SentimentIntensityAnalyzer()
    texts: list[str] = []
    for task in ("emoji", "hate", "offensive", "irony"):
        for split in ("train", "val"):
            texts += data.tweeteval(task, split)[0]
    for split in ("train", "dev"):
        texts += [r["tweet"] for r in data.emoevent("en", split)]
    labels = []
    for t in texts:
        c = sia.polarity_scores(t)["compound"]
        labels.append("positive" if c >= 0.05 else "negative" if c <= -0.05 else "neutral")
    return _clean(texts, labels, banned, seen)


def datasets(banned: set[str]) -> dict[str, dict]:
    """Per head: core (train+val of the target set, used for CV) and extra (added to every fold)."""
    out = {}
    for lang in ("es", "en"):
        seen: set[str] = set()
        t1, y1 = data.umsab(lang, "train")
        t2, y2 = data.umsab(lang, "val")
        core = _clean(t1 + t2, y1 + y2, banned, seen)
        et, ey = [], []
        if lang == "en":
            tt, ty = data.tweeteval("sentiment", "val")
            a, b = _clean(tt, [SENT[i] for i in ty], banned, seen)
            core = (core[0] + a, core[1] + b)
            for split in ("train", "val"):
                tt, ty = data.tweeteval("emotion", split)
                a, b = _clean(tt, [TE_EMOTION[i] for i in ty], banned, seen)
                et += a
                ey += b
        if lang == "en":
            pt, py = vader_pseudo_labels(banned, seen)
            et += pt
            ey += py
        for split in ("train", "dev"):
            rows = [r for r in data.emoevent(lang, split) if r["emotion"] in EMO_POLARITY]
            a, b = _clean([r["tweet"] for r in rows], [EMO_POLARITY[r["emotion"]] for r in rows], banned, seen)
            et += a
            ey += b
        out[f"sentiment_{lang}"] = {"core": core, "extra": (et, ey), "classes": list(SENT)}
    seen = set()
    t1, y1 = data.tweeteval("offensive", "train")
    t2, y2 = data.tweeteval("offensive", "val")
    off_en = _clean(t1 + t2, y1 + y2, banned, seen)
    out["toxic_en"] = {"core": off_en, "extra": ([], []), "classes": ["no", "yes"]}
    seen = set()
    rows = data.emoevent("es", "train") + data.emoevent("es", "dev")
    rows = [r for r in rows if r["offensive"] in ("OFF", "NO")]
    core = _clean([r["tweet"] for r in rows], [int(r["offensive"] == "OFF") for r in rows], banned, seen)
    out["toxic_es"] = {"core": core, "extra": off_en, "classes": ["no", "yes"]}
    return out


class Linear:
    """A linear head: decision = X @ coef + bias, with coef (features, columns).

    With `nb_alpha`, each one-vs-rest column is an NB-SVM (Wang & Manning 2012): the features are scaled
    by the class's log-count ratio r before the SVM, and r is folded back into the weights (w * r), so
    the artifact is still one plain linear map over the shared features.
    """

    def __init__(self, X, y, w, C, k, nb_alpha=None):
        problems = [(y == 1).astype(int)] if k == 2 else [(y == c).astype(int) for c in range(k)]
        coefs, biases = [], []
        for target in problems:
            if nb_alpha:
                pos = nb_alpha + np.asarray(X[target == 1].T @ w[target == 1]).ravel()
                neg = nb_alpha + np.asarray(X[target == 0].T @ w[target == 0]).ravel()
                r = np.log((pos / pos.sum()) / (neg / neg.sum())).astype(np.float32)
                Xs = X @ sp.diags(r)
            else:
                r, Xs = None, X
            model = LinearSVC(C=C, class_weight="balanced").fit(Xs, target, sample_weight=w)
            coef = model.coef_.ravel().astype(np.float32)
            coefs.append(coef * r if r is not None else coef)
            biases.append(float(model.intercept_[0]))
        self.coef = np.stack(coefs, axis=1)
        self.bias = np.asarray(biases, dtype=np.float32)

    def decision(self, X):
        return np.asarray(X @ self.coef) + self.bias


def fit_head(feat: Featurizer, spec: dict, cfg: dict, folds: int = 5, seed: int = 0) -> dict:
    core_t, core_y = spec["core"]
    extra_t, extra_y = spec["extra"]
    classes = spec["classes"]
    to_idx = {c: i for i, c in enumerate(classes)} if isinstance(core_y[0], str) else None
    y = np.asarray([to_idx[v] for v in core_y] if to_idx else core_y)
    ye = np.asarray([to_idx[v] for v in extra_y] if to_idx else extra_y, dtype=int)
    X = feat.transform(core_t)
    Xe = feat.transform(extra_t) if extra_t else None
    we = cfg.get("extra_weight", 1.0)

    def stack(idx):
        if Xe is None:
            return X[idx], y[idx], np.ones(len(idx))
        return (sp.vstack([X[idx], Xe], format="csr"), np.concatenate([y[idx], ye]),
                np.concatenate([np.ones(len(idx)), np.full(len(ye), we)]))

    oof = np.zeros((len(y), 1 if len(classes) == 2 else len(classes)))
    k = len(classes)
    for tr, te in StratifiedKFold(folds, shuffle=True, random_state=seed).split(X, y):
        oof[te] = Linear(*stack(tr), cfg["C"], k, cfg.get("nb_alpha")).decision(X[te])
    pred = (oof[:, 0] > 0).astype(int) if len(classes) == 2 else oof.argmax(axis=1)
    cv = float(f1_score(y, pred, average="macro"))
    calib = _calibrate(oof, y, len(classes))
    model = Linear(*stack(np.arange(len(y))), cfg["C"], k, cfg.get("nb_alpha"))
    return {"coef": model.coef, "bias": model.bias, "classes": classes,
            "cv_macro_f1": round(100 * cv, 2), "calibration": calib,
            "n_core": int(len(y)), "n_extra": int(len(ye))}


def _calibrate(oof: np.ndarray, y: np.ndarray, k: int) -> dict:
    if k == 2:
        # Platt scaling: toxicity is a calibrated probability (at the training sets' base rates) and
        # `toxic` is p >= 0.5. The threshold that would maximise out-of-fold macro-F1 is recorded for
        # information only: it flagged 21% (en) to 35% (es) of ordinary tweets (UMSAB train), too many for an inbox.
        from sklearn.linear_model import LogisticRegression

        lr = LogisticRegression(C=100.0).fit(oof, y)
        a, b = float(lr.coef_[0, 0]), float(lr.intercept_[0])
        d = oof[:, 0]
        best_t, best_f1 = 0.0, -1.0
        for t in np.quantile(d, np.linspace(0.5, 0.97, 95)):
            f1 = f1_score(y, (d > t).astype(int), average="macro")
            if f1 > best_f1:
                best_t, best_f1 = float(t), f1
        at_half = f1_score(y, (a * d + b > 0).astype(int), average="macro")
        return {"a": a, "b": b, "cv_macro_f1_at_p50": round(100 * at_half, 2),
                "best_threshold_decision": best_t, "cv_macro_f1_at_best_threshold": round(100 * best_f1, 2)}
    best_t, best_nll = 1.0, float("inf")
    for t in np.arange(0.25, 8.01, 0.25):
        z = oof * t
        z -= z.max(axis=1, keepdims=True)
        logp = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
        nll = -logp[np.arange(len(y)), y].mean()
        if nll < best_nll:
            best_t, best_nll = float(t), nll
    return {"temperature": best_t}


PRUNE = 1e-3


def quantise(W: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """float16 weights with one float32 scale per column (weights / scale stay within float16's range
    and precision; int8 lost too many of the small NB-SVM weights)."""
    scale = np.abs(W).max(axis=0)
    scale[scale == 0] = 1.0
    rel = W / scale
    rel[np.abs(rel) < PRUNE] = 0.0  # halves the file; changes < 0.5% of decisions on validation texts
    return rel.astype(np.float16), scale.astype(np.float32)


def train(out_dir: Path = ARTIFACTS, spec: dict | None = None, config: dict | None = None) -> dict:
    spec = spec or DEFAULT_SPEC
    config = config or CONFIG
    feat = Featurizer(spec)
    started = time.time()
    banned = test_texts()
    sets = datasets(banned)
    heads, cols, biases, meta_heads = {}, [], [], {}
    col = 0
    for name in ("sentiment_es", "sentiment_en", "toxic_es", "toxic_en"):
        res = fit_head(feat, sets[name], config[name])
        heads[name] = res
        n_cols = res["coef"].shape[1]
        cols.append(res["coef"])
        biases.append(res["bias"])
        meta_heads[name] = {"classes": res["classes"], "columns": list(range(col, col + n_cols)),
                            **res["calibration"], "cv_macro_f1": res["cv_macro_f1"],
                            "n_core": res["n_core"], "n_extra": res["n_extra"], **config[name]}
        col += n_cols
        print(f"{name}: CV macro-F1 {res['cv_macro_f1']:.2f} (core {res['n_core']}, extra {res['n_extra']})",
              flush=True)
    W, scale = quantise(np.hstack(cols))
    out_dir.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(out_dir / "triage_weights.npz", W=W, scale=scale, bias=np.concatenate(biases))
    meta = {"version": 1, "features": spec, "heads": meta_heads,
            "trained_in_seconds": round(time.time() - started, 1)}
    (out_dir / "triage.json").write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
    return meta


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ARTIFACTS)
    args = parser.parse_args(argv)
    if not data.available():
        raise SystemExit(f"corpora not found in {data.corpora_dir()} (set TERTULIA_CORPORA)")
    train(args.out)


if __name__ == "__main__":
    main()
