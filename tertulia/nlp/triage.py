"""Bilingual (es/en) triage of inbox messages: language, sentiment, intent, toxicity, urgency, trolls.

Public contract (used by the inbox):

    analyse(texts, *, brand_id=None, contexts=None) -> list[Triage]
    learn(brand_id, text, field, label) -> None

Pipeline, batched: normalise -> language (cheap function-word check, lingua for the rest) -> hashed
word + char features (tertulia.nlp.features) -> linear heads from the committed artifacts (sentiment per
language, toxicity per language) -> the brand's correction layer (tertulia.nlp.adapt) -> intent (the
transparent cue lexicon in tertulia.nlp.intent) -> urgency and troll flags from the context.
Everything is offline and CPU-only; the artifacts are read once per process.
"""

from __future__ import annotations

import json
import math
import re
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from tertulia.nlp import intent as intent_rules
from tertulia.nlp.adapt import Layer
from tertulia.nlp.features import MAX_CHARS, Featurizer, normalise  # noqa: F401  (re-exported)

ARTIFACTS = Path(__file__).resolve().parent / "artifacts"

SENTIMENTS = ("negative", "neutral", "positive")
INTENTS = intent_rules.INTENTS
TOXIC = ("no", "yes")
FIELDS = {"sentiment": SENTIMENTS, "intent": INTENTS, "toxic": TOXIC}

TOXIC_THRESHOLD = 0.5


@dataclass(frozen=True, slots=True)
class Context:
    followers: int | None = None
    age_seconds: float | None = None
    previous_offences: int = 0
    previous_complaints: int = 0


@dataclass(frozen=True, slots=True)
class Triage:
    language: str  # "es" | "en" | ""
    sentiment: str  # negative | neutral | positive
    intent: str  # question | complaint | praise | request | spam | other
    toxicity: float  # 0..1
    toxic: bool
    urgency: float  # 0..1
    troll: bool


# ---------------------------------------------------------------------------------------------
# Language

_ES = frozenset(
    "el los las del y pero muy también tambien está esta están estoy hay cuando yo hola gracias usted ustedes "
    "nosotros ahora siempre nada bien aquí aqui así asi pues hoy mañana tengo tiene tienen hacer puedo quiero "
    "eso esto sin sobre desde hasta porque qué que cómo como dónde donde cuándo mis tu tus su sus una unos "
    "todo todos también ya vez otra otro mucho muchas muchos nunca más mas algo ser sido fue era es son "
    "vosotros os habéis tenéis podéis vuestro lo le les se nos por para con al".split()
)
_EN = frozenset(
    "the and to of is it you that was for on are with this have be at from but what my your we they just "
    "will can i'm im don't dont it's its please thanks thank why how when where who would could should "
    "been has had their there them our out about get got not yes all so if an or do does did than then "
    "very really love like know think want need one time today day good great new".split()
)
_OTHER = frozenset(
    "não nao com em um você voce uma muito também obrigado il di che non per sono della gli der die das und "
    "ist nicht ich ein eine le est pas je et des une du vous nous amb els molt però perquè".split()
)

_detector = None
_detector_lock = threading.Lock()


def _lingua():
    global _detector
    if _detector is None:
        with _detector_lock:
            if _detector is None:
                from lingua import Language, LanguageDetectorBuilder

                _detector = (
                    LanguageDetectorBuilder.from_languages(
                        Language.SPANISH, Language.ENGLISH, Language.PORTUGUESE, Language.FRENCH,
                        Language.ITALIAN, Language.GERMAN, Language.CATALAN,
                    )
                    .with_low_accuracy_mode()
                    .with_minimum_relative_distance(0.05)
                    .build()
                )
    return _detector


_CODES = {"SPANISH": "es", "ENGLISH": "en"}


_STRIP = ".,;:!?¡¿\"()"
_NON_LETTER = re.compile(r"[\W\d_]+")


def detect_language(norm: str) -> str:
    """"es", "en", or "" (another language, or too little text to tell)."""
    words = [w.strip(_STRIP) for w in norm[:400].split()]
    words = [w for w in words if w and w != "@user" and w != "http" and w[0] != "#"]
    text = " ".join(words)
    if len(_NON_LETTER.sub("", text)) < 3:
        return ""
    es = en = other = 0
    for w in words:
        if w in _ES:
            es += 1
        elif w in _EN:
            en += 1
        elif w in _OTHER:
            other += 1
    # Cheap check first: clearly more Spanish (or English) function words than the other language's
    # and none of the neighbouring languages' settles it; lingua decides everything else.
    if other == 0:
        if es >= 2 and es >= 4 * en:
            return "es"
        if en >= 2 and en >= 4 * es:
            return "en"
    lang = _lingua().detect_language_of(text)
    return _CODES.get(lang.name, "") if lang is not None else ""


def detect_languages(texts: Sequence[str]) -> list[str]:
    return [detect_language(normalise(t)) for t in texts]


# ---------------------------------------------------------------------------------------------
# Artifacts


class Models:
    """The committed linear heads over the shared hashed features."""

    def __init__(self, directory: Path = ARTIFACTS):
        meta = json.loads((directory / "triage.json").read_text(encoding="utf-8"))
        with np.load(directory / "triage_weights.npz", allow_pickle=False) as npz:
            weights = npz["W"].astype(np.float32) * npz["scale"].astype(np.float32)
            self.bias = npz["bias"].astype(np.float32)
        self.meta = meta
        self.features = Featurizer(meta["features"])
        if weights.shape[0] != self.features.n_features:
            raise ValueError("artifact weights do not match the feature settings")
        self.W = weights
        self.heads = meta["heads"]

    def scores(self, X) -> np.ndarray:
        return np.asarray(X @ self.W) + self.bias

    def head(self, Z: np.ndarray, name: str) -> np.ndarray:
        """Calibrated probabilities of a head: (n, classes)."""
        h = self.heads[name]
        cols = Z[:, h["columns"]]
        if len(h["classes"]) == 2:
            p = 1.0 / (1.0 + np.exp(-(h["a"] * cols[:, 0] + h["b"])))
            return np.stack([1.0 - p, p], axis=1)
        z = cols * h["temperature"]
        z -= z.max(axis=1, keepdims=True)
        e = np.exp(z)
        return e / e.sum(axis=1, keepdims=True)


_models: Models | None = None
_models_lock = threading.Lock()


def models() -> Models:
    global _models
    if _models is None:
        with _models_lock:
            if _models is None:
                _models = Models()
    return _models


# ---------------------------------------------------------------------------------------------
# Urgency and trolls

URGENT_CUES = {
    # legal / fraud threats weigh most
    "denuncia": 0.3, "denunciar": 0.3, "denunciaré": 0.3, "abogado": 0.3, "abogados": 0.3, "demanda": 0.25,
    "lawyer": 0.3, "lawyers": 0.3, "sue": 0.3, "lawsuit": 0.3, "legal": 0.15, "estafa": 0.25, "estafadores": 0.25,
    "scam": 0.25, "scammers": 0.25, "fraude": 0.25, "fraud": 0.25, "ocu": 0.2, "facua": 0.2, "consumo": 0.1,
    # money back, urgency
    "refund": 0.2, "reembolso": 0.2, "devolución": 0.15, "devolucion": 0.15, "chargeback": 0.25,
    "urgent": 0.2, "urgente": 0.2, "urgently": 0.2, "asap": 0.15, "ya": 0.0, "emergency": 0.25,
    "emergencia": 0.25, "cobrado": 0.1, "charged": 0.1, "cancel": 0.1, "cancelar": 0.1, "baja": 0.05,
    "peligro": 0.2, "danger": 0.2, "dangerous": 0.2, "peligroso": 0.2, "hacked": 0.25, "hackeado": 0.25,
}
_CUE_STRIP = ".,;:!?¡¿\"()'"


def urgency_of(norm: str, p_neg: float, intent: str, toxicity: float, ctx: Context | None) -> float:
    score = 0.3 * p_neg
    score += {"complaint": 0.22, "question": 0.08, "request": 0.1}.get(intent, 0.0)
    score += 0.1 * toxicity
    cue = 0.0
    seen = set()
    for w in norm.split():
        w = w.strip(_CUE_STRIP)
        v = URGENT_CUES.get(w)
        if v and w not in seen:
            seen.add(w)
            cue += v
    score += min(0.4, cue)
    if ctx is not None:
        if ctx.followers and ctx.followers > 0:
            score += 0.15 * min(1.0, math.log10(ctx.followers + 1) / 6.0)  # 1M followers: +0.15
        if ctx.age_seconds is not None and ctx.age_seconds >= 0:
            score += 0.1 * math.exp(-ctx.age_seconds / 21600.0)  # fresh: up to +0.1, half after ~4 h
            if ctx.age_seconds > 7 * 86400:
                score -= 0.05
        score += min(0.1, 0.05 * max(0, ctx.previous_complaints or 0))
    if intent == "spam":
        score *= 0.2
    return round(min(1.0, max(0.0, score)), 4)


def is_troll(toxic: bool, toxicity: float, ctx: Context | None) -> bool:
    if not toxic or ctx is None:
        return False
    offences = ctx.previous_offences or 0
    return offences >= 2 or (toxicity >= 0.85 and offences >= 1)


# ---------------------------------------------------------------------------------------------
# Brand layers


def _brand_layers(brand_id: int | None) -> dict[str, Layer]:
    if brand_id is None:
        return {}
    from tertulia.nlp.models import BrandLayer

    return {
        row.task: Layer.from_bytes(FIELDS[row.task], row.state)
        for row in BrandLayer.objects.filter(brand_id=brand_id, task__in=tuple(FIELDS))
    }


# ---------------------------------------------------------------------------------------------
# analyse


def _base_scores(norms: list[str], langs: list[str]):
    """Sentiment log-probabilities, toxicity probability and the feature matrix for each text."""
    m = models()
    X = m.features.transform_normalised(norms)
    Z = m.scores(X)
    s_es, s_en = m.head(Z, "sentiment_es"), m.head(Z, "sentiment_en")
    t_es, t_en = m.head(Z, "toxic_es")[:, 1], m.head(Z, "toxic_en")[:, 1]
    is_es = np.array([lang == "es" for lang in langs])
    is_en = np.array([lang == "en" for lang in langs])
    other = ~(is_es | is_en)
    sent = np.where(is_es[:, None], s_es, np.where(is_en[:, None], s_en, 0.5 * (s_es + s_en)))
    tox = np.where(is_es, t_es, np.where(is_en, t_en, np.maximum(t_es, t_en)))
    sent = np.where(other[:, None] & (np.array([not n for n in norms])[:, None]), [[0.0, 1.0, 0.0]], sent)
    tox = np.where([not n for n in norms], 0.0, tox)
    return X, np.log(np.clip(sent, 1e-6, 1.0)), np.clip(tox, 0.0, 1.0)


def _softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def analyse(
    texts: Sequence[str], *, brand_id: int | None = None, contexts: Sequence[Context] | None = None
) -> list[Triage]:
    """Triage a batch of messages (optionally with each author's context and the brand's corrections)."""
    if contexts is not None and len(contexts) != len(texts):
        raise ValueError("contexts must have one entry per text")
    n = len(texts)
    if n == 0:
        return []
    norms = [normalise(t) if isinstance(t, str) else normalise(str(t or "")) for t in texts]
    langs = [detect_language(x) for x in norms]
    X, sent_logp, tox = _base_scores(norms, langs)
    layers = _brand_layers(brand_id)

    sent_layer = layers.get("sentiment")
    if sent_layer is not None:
        d = sent_layer.delta(X)
        if d is not None:
            sent_logp = sent_logp + d
    sent_p = _softmax(sent_logp)
    sent_idx = sent_p.argmax(axis=1)

    tox_layer = layers.get("toxic")
    if tox_layer is not None:
        d = tox_layer.delta(X)
        if d is not None:
            logit = np.log(np.clip(tox, 1e-6, 1)) - np.log(np.clip(1 - tox, 1e-6, 1)) + d[:, 1] - d[:, 0]
            tox = 1.0 / (1.0 + np.exp(-logit))

    intent_layer = layers.get("intent")
    intent_delta = intent_layer.delta(X) if intent_layer is not None else None

    out: list[Triage] = []
    for i in range(n):
        norm = norms[i]
        ctx = contexts[i] if contexts is not None else None
        if sent_layer is not None and (k := sent_layer.override(norm)) is not None:
            sent_idx[i] = k
        toxicity = float(tox[i])
        if tox_layer is not None and (k := tox_layer.override(norm)) is not None:
            toxicity = 0.95 if k == 1 else min(toxicity, 0.05)
        toxic = toxicity >= TOXIC_THRESHOLD
        p_neg, p_pos = float(sent_p[i, 0]), float(sent_p[i, 2])
        if norm:
            intent, scores = intent_rules.decide(norm, p_neg, p_pos, toxicity)
            if intent_layer is not None:
                if (k := intent_layer.override(norm)) is not None:
                    intent = INTENTS[k]
                elif intent_delta is not None:
                    z = np.asarray(scores) * 2.0 + intent_delta[i]
                    intent = INTENTS[int(z.argmax())]
        else:
            intent = "other"
        out.append(Triage(
            language=langs[i],
            sentiment=SENTIMENTS[int(sent_idx[i])],
            intent=intent,
            toxicity=round(toxicity, 4),
            toxic=toxic,
            urgency=urgency_of(norm, p_neg, intent, toxicity, ctx),
            troll=is_troll(toxic, toxicity, ctx),
        ))
    return out


# ---------------------------------------------------------------------------------------------
# learn


def base_scores_for(norm: str, field: str):
    """The shared model's scores for one normalised text, as the brand layer sees them."""
    lang = detect_language(norm)
    X, sent_logp, tox = _base_scores([norm], [lang])
    if field == "sentiment":
        return X, sent_logp[0]
    if field == "toxic":
        p = float(tox[0])
        return X, np.log(np.clip([1 - p, p], 1e-6, 1.0))
    p = _softmax(sent_logp)[0]
    _, scores = intent_rules.decide(norm, float(p[0]), float(p[2]), float(tox[0]))
    return X, np.asarray(scores) * 2.0


def learn(brand_id: int, text: str, field: str, label: str) -> None:
    """The team corrected `field` of `text` to `label` for this brand: update the brand's layer.

    field: sentiment | intent | toxic; label: one of the field's classes ("yes"/"no" for toxic).
    """
    from django.db import transaction
    from django.utils import timezone

    from tertulia.nlp.models import BrandLayer

    if field not in FIELDS:
        raise ValueError(f"unknown field {field!r}")
    if label not in FIELDS[field]:
        raise ValueError(f"unknown label {label!r} for {field}")
    norm = normalise(text if isinstance(text, str) else str(text or ""))
    if not norm:
        return
    X, base = base_scores_for(norm, field)
    with transaction.atomic():
        row, _ = BrandLayer.objects.select_for_update().get_or_create(
            brand_id=brand_id, task=field, defaults={"state": b""}
        )
        layer = Layer.from_bytes(FIELDS[field], row.state)
        layer.add(norm, X[0], base, label)
        row.state = layer.to_bytes()
        row.updates += 1
        row.updated_at = timezone.now()
        row.save(update_fields=["state", "updates", "updated_at"])
