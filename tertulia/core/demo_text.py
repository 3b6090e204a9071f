"""Turning the demo's templates into text that reads like social media.

``fill`` draws each ``{slot}`` from the brand's lists; ``roughen`` adds what people really
type: missing accents and opening marks, lower-case starts, "q"/"xq"/"u"/"pls", stretched
vowels, swapped letters and an extra emoji. All randomness comes from the ``random.Random``
passed in, so a seed always gives the same texts.
"""

from __future__ import annotations

import random
import re
import unicodedata

_SLOT = re.compile(r"\{(\w+)\}")

# A slot ending in 2 draws a second, different value from the same list ({product2}).
_ALIASES = {"product2": "product", "book2": "book", "friend2": "friend"}


def fill(template: str, slots: dict[str, list[str]], rng: random.Random, **fixed: str) -> str:
    picked: dict[str, str] = {}

    def sub(m: re.Match) -> str:
        key = m.group(1)
        if key in fixed:
            return fixed[key]
        base = _ALIASES.get(key, key)
        values = slots.get(base)
        if not values and key[:1].isupper() and key.lower() in slots:
            # {Feature}: the value of {feature}, starting a sentence.
            value = rng.choice(slots[key.lower()])
            return value[:1].upper() + value[1:]
        if not values:
            return ""
        value = rng.choice(values)
        if base != key and picked.get(base) == value and len(values) > 1:
            value = values[(values.index(value) + 1) % len(values)]
        picked.setdefault(key, value)
        return value

    return _SLOT.sub(sub, template).replace("  ", " ").strip()


def strip_accents(text: str) -> str:
    # Keep ñ: people drop accents far more often than the tilde.
    out = []
    for ch in text:
        if ch in "ñÑ":
            out.append(ch)
            continue
        decomposed = unicodedata.normalize("NFD", ch)
        out.append(decomposed[0] if len(decomposed) > 1 and decomposed[0].isascii() else ch)
    return "".join(out)


_ES_SHORT = [(r"\bque\b", "q"), (r"\bporque\b", "xq"), (r"\bpor\b", "x"), (r"\btambién\b", "tb"),
             (r"\bpor favor\b", "porfa"), (r"\bmuy\b", "mu"), (r"\bde verdad\b", "d verdad")]
_EN_SHORT = [(r"\byou\b", "u"), (r"\bplease\b", "pls"), (r"\bthanks\b", "thx"), (r"\byour\b", "ur"),
             (r"\bI'm\b", "im"), (r"\bdon't\b", "dont"), (r"\bcan't\b", "cant"), (r"\bI\b", "i"),
             (r"\bbecause\b", "cos"), (r"\bto be honest\b", "tbh")]
_EXTRA_EMOJI = ["😂", "🙏", "😅", "🤷", "👀", "😩", "😍", "👍", "🙃", "🥲"]


def _swap_letters(text: str, rng: random.Random) -> str:
    words = [i for i, w in enumerate(text.split(" ")) if len(w) > 4 and w.isalpha()]
    if not words:
        return text
    parts = text.split(" ")
    i = rng.choice(words)
    w = parts[i]
    j = rng.randrange(1, len(w) - 2)
    parts[i] = w[:j] + w[j + 1] + w[j] + w[j + 2:]
    return " ".join(parts)


def _stretch(text: str, rng: random.Random) -> str:
    # "gracias" -> "graciaaas", "love" -> "loveee"
    m = list(re.finditer(r"[aeiouAEIOU](?=[a-zA-Z]{0,2}\b)", text))
    if not m:
        return text
    hit = rng.choice(m)
    return text[:hit.end()] + hit.group(0) * rng.randint(2, 4) + text[hit.end():]


def roughen(text: str, lang: str, rng: random.Random, *, shouting: bool = False) -> str:
    """What a person types on a phone. Each habit fires with its own probability."""
    r = rng.random
    if lang == "es":
        if r() < 0.35:
            text = strip_accents(text)
        if r() < 0.35:
            text = text.replace("¿", "").replace("¡", "")
        if r() < 0.15:
            for pattern, short in _ES_SHORT:
                text = re.sub(pattern, short, text)
    else:
        if r() < 0.15:
            for pattern, short in _EN_SHORT:
                text = re.sub(pattern, short, text)
        if r() < 0.1:
            text = text.replace("'", "")
    if r() < 0.25 and text[:1].isupper():
        text = text[0].lower() + text[1:]
    if r() < 0.07:
        text = _swap_letters(text, rng)
    if r() < 0.07:
        text = _stretch(text, rng)
    if r() < 0.06 and text.endswith("."):
        text = text[:-1]
    if r() < 0.05:
        text = text.replace("!", "!!!", 1) if "!" in text else text + ("!!" if r() < 0.5 else "??")
    if r() < 0.12:
        text = f"{text} {rng.choice(_EXTRA_EMOJI)}"
    if shouting and r() < 0.15:
        text = text.upper()
    return text
