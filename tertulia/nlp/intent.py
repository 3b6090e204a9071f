"""Intent (question, complaint, praise, request, spam, other): a transparent lexicon + rule model.

No labelled intent corpus exists for our domain, so intent is a weighted cue lexicon in Spanish and
English matched with Aho-Corasick (pyahocorasick) over the normalised text, combined with the
sentiment and toxicity the trained models give. Every cue is listed here and can be audited; the
per-brand layer (tertulia.nlp.adapt) corrects it from the team's relabels.

Pattern syntax: "word" matches the whole word or phrase; "stem*" matches any word that starts with it.
"""

from __future__ import annotations

import re

import ahocorasick

INTENTS = ("question", "complaint", "praise", "request", "spam", "other")

CUES: dict[str, dict[str, float]] = {
    "question": {
        # es
        "¿": 1.2, "cómo": 0.7, "como puedo": 0.8, "cuándo": 0.7, "cuando abr*": 0.6, "dónde": 0.7,
        "donde est*": 0.5, "qué hora*": 0.8, "cuánto": 0.7, "cuanto cuesta": 0.9, "cuál": 0.5, "por qué": 0.6,
        "alguien sabe": 1.0, "sabéis si": 1.0, "sabeis si": 1.0, "saben si": 1.0, "se puede": 0.6,
        "hay forma": 0.7, "tenéis": 0.5, "teneis": 0.5, "tienen": 0.4, "es posible": 0.7, "hacéis envíos": 0.9,
        "duda": 0.8, "pregunta": 0.8,
        # en
        "how do": 0.9, "how can": 0.9, "how much": 0.9, "how long": 0.8, "when will": 0.9, "when is": 0.8,
        "when do": 0.8, "where can": 0.9, "where is": 0.8, "what time": 0.9, "what is": 0.5, "is there": 0.7,
        "are there": 0.7, "is it possible": 0.9, "does anyone": 1.0, "anyone know*": 1.0, "do you": 0.6,
        "can i": 0.6, "wondering": 0.7, "question": 0.7, "why": 0.5,
    },
    "complaint": {
        # es
        "no funciona": 1.5, "no me funciona": 1.5, "no va": 0.9, "no ha llegado": 1.5, "no me ha llegado": 1.6,
        "no llega": 1.2, "sigo esperando": 1.5, "todavía no": 0.9, "todavia no": 0.9, "llevo": 0.6,
        "reclamaci*": 1.6, "queja": 1.4, "quejar*": 1.3, "reembols*": 1.3, "devoluci*": 1.0, "roto": 1.0, "rota": 1.0,
        "estropead*": 1.2, "defectuos*": 1.3, "cobrad*": 0.7, "me habéis cobrado": 1.4, "cobro doble": 1.5,
        "estafa*": 1.5, "timo": 1.3, "vergüenza": 1.1, "verguenza": 1.1, "pésim*": 1.3, "pesim*": 1.3,
        "fatal": 1.0, "lamentable": 1.2, "nadie responde": 1.4, "nadie contesta": 1.4, "sin respuesta": 1.2,
        "atención al cliente": 0.6, "peor": 0.9, "decepci*": 1.1, "harto": 1.1, "harta": 1.1, "indignad*": 1.2,
        "error": 0.6, "fallo": 0.8, "falla": 0.8, "cancelad*": 0.7, "retraso": 1.0, "denuncia*": 1.2,
        "hoja de reclamaciones": 1.8, "consumo": 0.4, "abogad*": 0.8,
        # en
        "doesn't work": 1.5, "does not work": 1.5, "not working": 1.5, "stopped working": 1.5, "broken": 1.1,
        "still waiting": 1.5, "never arrived": 1.6, "hasn't arrived": 1.5, "never received": 1.5,
        "didn't receive": 1.4, "refund*": 1.3, "complain*": 1.4, "worst": 1.1, "terrible": 1.1, "awful": 1.1,
        "horrible": 1.1, "disappoint*": 1.1, "unacceptable": 1.4, "ridiculous": 0.9, "scam*": 1.5, "fraud*": 1.4,
        "charged twice": 1.6, "overcharged": 1.5, "no response": 1.3, "nobody answers": 1.4, "fed up": 1.2,
        "cancelled": 0.6, "delayed": 0.9, "defective": 1.3, "faulty": 1.3, "rip off": 1.4, "ripoff": 1.4,
        "lawyer*": 0.8, "customer service": 0.5, "poor service": 1.4, "bad service": 1.4, "mal servicio": 1.4,
    },
    "praise": {
        # es
        "gracias": 1.1, "muchas gracias": 1.4, "mil gracias": 1.5, "me encanta*": 1.3, "me encantó": 1.3,
        "genial": 1.1, "geniales": 1.1, "enhorabuena": 1.5, "felicidades": 1.3, "felicitaciones": 1.3,
        "bravo": 1.2, "increíble": 0.9, "maravill*": 1.2, "excelente": 1.2, "lo mejor": 1.0, "los mejores": 1.1,
        "sois los mejores": 1.6, "buenísim*": 1.1, "perfect*": 0.9, "qué bueno": 0.9, "qué pasada": 1.2,
        "una pasada": 1.2, "top": 0.6, "recomiendo": 1.1, "os quiero": 1.2, "me flipa": 1.2, "guapísim*": 1.0,
        # en
        "thank*": 1.1, "thx": 1.0, "love it": 1.4, "love this": 1.4, "love you": 1.2, "loved": 1.0,
        "great job": 1.5, "awesome": 1.2, "amazing": 1.1, "excellent": 1.2, "fantastic": 1.2, "brilliant": 1.0,
        "congrat*": 1.5, "well done": 1.4, "the best": 1.0, "you rock": 1.5, "kudos": 1.5, "recommend": 1.0,
        "impressed": 1.1, "wonderful": 1.2, "beautiful": 0.8,
    },
    "request": {
        # es
        "por favor": 1.0, "porfa": 1.0, "porfavor": 1.0, "podéis": 0.8, "podeis": 0.8, "podrían": 0.8,
        "podrias": 0.7, "podrías": 0.7, "quiero": 0.7, "quisiera": 0.9, "me gustaría": 0.9, "necesito": 0.9,
        "mandadme": 1.1, "enviadme": 1.1, "escribidme": 1.1, "llamadme": 1.1, "me podéis": 1.1, "md": 0.8,
        "mensaje privado": 1.0, "dar de baja": 1.1, "darme de baja": 1.2, "cambiar mi": 0.9, "solicit*": 0.9,
        "ayuda": 0.8, "ayudadme": 1.1, "ayudar": 0.5, "contactad*": 1.0,
        # en
        "please": 1.0, "pls": 1.0, "plz": 1.0, "could you": 1.0, "can you": 0.8, "would you": 0.8,
        "i'd like": 0.9, "i would like": 0.9, "i want": 0.7, "i need": 0.9, "send me": 1.1, "dm me": 1.0,
        "dm": 0.6, "contact me": 1.1, "call me": 1.0, "help me": 1.0, "need help": 1.0, "cancel my": 1.1,
        "unsubscribe": 1.1, "change my": 0.9, "update my": 0.9, "let me know": 0.8,
    },
    "spam": {
        "follow me": 1.4, "follow back": 1.4, "sígueme": 1.4, "sigueme": 1.4, "check my profile": 1.6,
        "check out my": 1.2, "mira mi perfil": 1.6, "visit my": 1.1, "link in bio": 1.6, "enlace en mi bio": 1.6,
        "free followers": 2.0, "seguidores gratis": 2.0, "buy followers": 2.0, "compra seguidores": 2.0,
        "earn money": 1.6, "make money": 1.6, "gana dinero": 1.6, "ganar dinero": 1.6, "dinero fácil": 1.8,
        "work from home": 1.4, "trabaja desde casa": 1.4, "crypto": 1.0, "bitcoin": 1.0, "btc": 0.8,
        "forex": 1.3, "investment": 0.7, "inversión": 0.6, "giveaway": 0.9, "sorteo": 0.4, "promo code": 1.0,
        "whatsapp": 0.7, "telegram": 0.5, "onlyfans": 1.8, "xxx": 1.4, "casino": 1.4, "apuestas": 1.0,
        "click here": 1.5, "haz clic": 1.4, "pincha aquí": 1.4, "100% gratis": 1.6, "100% free": 1.6,
        "limited offer": 1.2, "oferta limitada": 1.2, "dm for": 1.3, "escríbeme al privado": 1.2,
    },
}

_WORD_CHARS = re.compile(r"[^\w¿?¡!']+")


def _key(phrase: str) -> tuple[str, bool]:
    prefix = phrase.endswith("*")
    phrase = phrase.rstrip("*")
    if phrase in ("¿",):
        return phrase, True
    return " " + phrase + ("" if prefix else " "), prefix


def _build():
    auto = ahocorasick.Automaton()
    merged: dict[str, list[tuple[int, float]]] = {}
    for k, intent in enumerate(INTENTS[:-1]):
        for phrase, weight in CUES[intent].items():
            key, _ = _key(phrase)
            merged.setdefault(key, []).append((k, weight))
    for key, hits in merged.items():
        auto.add_word(key, tuple(hits))
    auto.make_automaton()
    return auto


_AUTO = _build()
_SPLIT_PUNCT = re.compile(r"([¿?¡!])")


def cue_text(norm: str) -> str:
    """The normalised text as space-separated words, so cues match on word boundaries."""
    return " " + _SPLIT_PUNCT.sub(r" \1 ", _WORD_CHARS.sub(" ", norm)) + " "


def cue_scores(norm: str) -> list[float]:
    """Sum of cue weights per intent (question, complaint, praise, request, spam)."""
    scores = [0.0, 0.0, 0.0, 0.0, 0.0]
    for _end, hits in _AUTO.iter(cue_text(norm)):
        for k, weight in hits:
            scores[k] += weight
    return scores


def decide(norm: str, p_negative: float, p_positive: float, toxicity: float) -> tuple[str, list[float]]:
    """The intent and the score of each intent (the last one is `other`'s threshold)."""
    q, c, p, r, s = cue_scores(norm)
    if norm.endswith("?") or "?" in norm[-40:]:
        q += 1.0
    elif "?" in norm:
        q += 0.6
    links = norm.count("http")
    if links:
        s += 0.4 * links + (0.6 if norm.count("#") >= 4 else 0.0)
    if norm.count("@user") >= 4:
        s += 0.8
    # The trained sentiment / toxicity carry the tone: negative tone pushes to complaint, positive
    # tone to praise; an insult without a grievance cue is "other" (toxicity is reported on its own).
    c += 1.5 * max(0.0, p_negative - 0.4) + (0.6 if c > 0 and p_negative > 0.5 else 0.0)
    p += 1.5 * max(0.0, p_positive - 0.4)
    if toxicity >= 0.5 and c < 1.0:
        c *= 0.5
        p = 0.0
    if p_negative > 0.6:
        p *= 0.4
    scores = [q, c, p, r, s, 0.55]
    best = max(range(6), key=scores.__getitem__)
    return INTENTS[best], scores
