"""Triage on fixed examples in both languages, hostile inputs, determinism and artifact loading.

These use only the committed artifacts (no corpora, no database).
"""

from __future__ import annotations

import json
import time

import numpy as np
import pytest

from tertulia.nlp import triage
from tertulia.nlp.features import MAX_CHARS, normalise
from tertulia.nlp.triage import Context, Triage, analyse


def one(text: str, **ctx) -> Triage:
    return analyse([text], contexts=[Context(**ctx)] if ctx else None)[0]


# -- language -----------------------------------------------------------------------------------

@pytest.mark.parametrize("text, lang", [
    ("¿A qué hora abrís mañana la tienda del centro?", "es"),
    ("Mi pedido todavía no ha llegado y nadie me contesta", "es"),
    ("When will my order arrive? It's been two weeks", "en"),
    ("Thank you so much for the quick help with my account", "en"),
    ("Obrigado pela ajuda, vocês são muito rápidos", ""),
    ("Merci beaucoup pour votre aide, c'est parfait", ""),
    ("Vielen Dank für die schnelle Hilfe mit meinem Konto", ""),
    ("😀😀🔥", ""),
    ("", ""),
    ("ok", ""),
])
def test_language(text, lang):
    assert one(text).language == lang


# -- sentiment ------------------------------------------------------------------------------------

@pytest.mark.parametrize("text, sentiment", [
    ("Me encanta el nuevo menú, está buenísimo. ¡Gracias!", "positive"),
    ("Sois geniales, me encanta la tienda", "positive"),
    ("Servicio pésimo, el peor pedido de mi vida, una vergüenza", "negative"),
    ("Estoy harto, me habéis cobrado dos veces y nadie responde", "negative"),
    ("I love this place, amazing staff and great coffee!", "positive"),
    ("This is the worst customer service I have ever had. Terrible.", "negative"),
    ("My package is broken and nobody answers, awful experience", "negative"),
])
def test_sentiment_clear_cases(text, sentiment):
    assert one(text).sentiment == sentiment


# -- intent -----------------------------------------------------------------------------------------

@pytest.mark.parametrize("text, intent", [
    ("¿A qué hora abrís mañana la tienda del centro?", "question"),
    ("¿Hacéis envíos a Canarias?", "question"),
    ("How much does the premium plan cost?", "question"),
    ("Does anyone know if the store is open on Sunday?", "question"),
    ("Mi pedido no ha llegado todavía y nadie responde. Quiero una solución ya", "complaint"),
    ("El producto llegó roto, pésimo servicio", "complaint"),
    ("My order never arrived and customer service is useless", "complaint"),
    ("The app stopped working after the update, this is unacceptable", "complaint"),
    ("¡Muchas gracias por la atención, sois los mejores!", "praise"),
    ("Enhorabuena por el nuevo local, qué pasada", "praise"),
    ("Thank you so much, great job team!", "praise"),
    ("Congrats on the launch, love it", "praise"),
    ("Por favor, enviadme la factura de marzo al correo", "request"),
    ("Could you please send me the invoice for March", "request"),
    ("Follow me and earn money fast http://x.example #crypto #btc #forex #win", "spam"),
    ("Seguidores gratis aquí http://spam.example haz clic", "spam"),
    ("Hoy he ido al parque con mi perro", "other"),
])
def test_intent(text, intent):
    assert one(text).intent == intent


# -- toxicity and trolls -------------------------------------------------------------------------------

@pytest.mark.parametrize("text", [
    "Eres un gilipollas y un subnormal",
    "Sois una panda de idiotas de mierda",
    "You are a fucking idiot",
    "Shut up you stupid bitch",
])
def test_insults_are_toxic(text):
    r = one(text)
    assert r.toxic and r.toxicity >= 0.5


@pytest.mark.parametrize("text", [
    "¿A qué hora abrís mañana?",
    "Gracias por la ayuda con el pedido",
    "Could you tell me when the store opens?",
    "Thanks, the new feature works great",
])
def test_polite_messages_are_not_toxic(text):
    r = one(text)
    assert not r.toxic and r.toxicity < 0.5


def test_troll_needs_toxicity_and_history():
    insult = "Eres un gilipollas y un subnormal"
    assert not one(insult).troll  # no history
    assert not one(insult, previous_offences=1).troll or one(insult).toxicity >= 0.85
    assert one(insult, previous_offences=2).troll
    assert not one("Gracias por todo", previous_offences=5).troll  # history alone is not enough


# -- urgency ---------------------------------------------------------------------------------------------

def test_urgency_grows_with_legal_threats_reach_and_recency():
    base = one("El pedido no ha llegado")
    threat = one("El pedido no ha llegado, es una estafa, voy a poner una denuncia y hablar con mi abogado")
    assert threat.urgency > base.urgency + 0.2
    refund = one("I want a refund now, this is urgent")
    assert refund.urgency > one("I want to know the opening hours").urgency
    text = "Mi pedido no ha llegado y nadie responde"
    small = one(text, followers=10, age_seconds=3 * 86400)
    big_fresh = one(text, followers=500_000, age_seconds=60)
    assert big_fresh.urgency > small.urgency + 0.1
    assert 0.0 <= small.urgency <= 1.0 and 0.0 <= big_fresh.urgency <= 1.0
    praise = one("¡Muchas gracias, sois los mejores!")
    assert praise.urgency < base.urgency


def test_spam_is_not_urgent():
    r = one("Urgent! earn money fast, follow me http://x.example #crypto #btc #forex #win")
    assert r.intent == "spam" and r.urgency < 0.2


# -- hostile inputs ---------------------------------------------------------------------------------------

HOSTILE = [
    "",
    " \n\t ",
    "x" * 100_000,
    "no funciona " * 10_000,
    "\u200b\u200c\u200d\u2060\ufeff" * 100,
    "مرحبا بكم في متجرنا \u202eolleh\u202c שלום",
    "😀" * 5000,
    "<script>alert('x')</script><img src=x onerror=alert(1)>",
    "\x00\x01\x02 control \x7f",
    "ｉｄｉｏｔａ ＦＵＬＬＷＩＤＴＨ",
    "\ud800 lone surrogate",
    "🏳️‍🌈👨‍👩‍👧‍👦" * 300,
]


def test_hostile_inputs_never_crash_and_stay_bounded():
    start = time.perf_counter()
    results = analyse(HOSTILE, contexts=[Context(followers=-5, age_seconds=-1, previous_offences=-3)] * len(HOSTILE))
    elapsed = time.perf_counter() - start
    assert len(results) == len(HOSTILE)
    for r in results:
        assert r.language in ("es", "en", "")
        assert r.sentiment in triage.SENTIMENTS and r.intent in triage.INTENTS
        assert 0.0 <= r.toxicity <= 1.0 and 0.0 <= r.urgency <= 1.0
        assert isinstance(r.toxic, bool) and isinstance(r.troll, bool)
    assert elapsed < 5.0
    empty = results[0]
    assert (empty.language, empty.sentiment, empty.intent, empty.toxic) == ("", "neutral", "other", False)


def test_huge_text_is_triaged_on_its_first_characters():
    assert len(normalise("a b " * 100_000)) <= MAX_CHARS
    head = "Sois unos gilipollas, servicio de mierda. "
    assert one(head + "x " * 50_000).toxic


def test_zero_width_and_fullwidth_tricks_do_not_hide_insults():
    plain = one("eres un gilipollas")
    assert plain.toxic
    assert one("eres un gi\u200bli\u200dpo\u2060llas").toxic
    assert normalise("ＧＩＬＩＰＯＬＬＡＳ") == "gilipollas"


def test_normalise():
    assert normalise("@Maria mira https://t.co/abc  ¡¡GENIAAAAL!!!") == "@user mira http ¡¡geniaal!!"


def test_contexts_may_be_partial():
    texts = ["Sois unos gilipollas", "Mi pedido no ha llegado"]
    res = analyse(texts, contexts=[None, Context(followers=None, age_seconds=None,
                                                 previous_offences=None, previous_complaints=None)])
    assert res == analyse(texts)


def test_contexts_must_match_texts():
    with pytest.raises(ValueError):
        analyse(["a", "b"], contexts=[Context()])
    assert analyse([]) == []


# -- determinism and artifacts --------------------------------------------------------------------------

def test_deterministic_and_batch_independent():
    texts = ["¿Cuándo llega mi pedido?", "Worst service ever", "Gracias!", "eres idiota", ""]
    first = analyse(texts)
    assert analyse(texts) == first
    assert [analyse([t])[0] for t in texts] == first  # batching does not change a message's triage


def test_artifacts_are_small_safe_and_consistent():
    art = triage.ARTIFACTS
    files = sorted(p.name for p in art.iterdir())
    assert files == ["triage.json", "triage_weights.npz"]
    assert sum(p.stat().st_size for p in art.iterdir()) < 10 * 1024 * 1024
    meta = json.loads((art / "triage.json").read_text())
    with np.load(art / "triage_weights.npz", allow_pickle=False) as npz:  # no pickle anywhere
        assert npz["W"].dtype == np.float16
        cols = npz["W"].shape[1]
        assert npz["scale"].shape == (cols,) and npz["bias"].shape == (cols,)
    used = sorted(c for h in meta["heads"].values() for c in h["columns"])
    assert used == list(range(cols))
    assert set(meta["heads"]) == {"sentiment_es", "sentiment_en", "toxic_es", "toxic_en"}
    m = triage.Models(art)
    assert m.W.shape == (m.features.n_features, cols)


def test_models_load_once_per_process():
    assert triage.models() is triage.models()


def test_fast_featurizer_matches_sklearn_hashing_vectorizer():
    import scipy.sparse as sp

    feats = triage.models().features
    norms = [normalise(t) for t in ["¿Cuándo llega mi pedido?", "Worst. Service. Ever!!! 😡😡", "", "a" * 3000]]
    fast = feats.transform_normalised(norms)
    slow = sp.hstack([feats.word.transform(norms), feats.char.transform(norms)], format="csr")
    assert fast.shape == slow.shape and abs(fast - slow).max() < 1e-6
