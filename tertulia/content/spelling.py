"""Spell checking for posts, in Spanish and English, that knows the brand's own words.

Words are checked against the LibreOffice Hunspell dictionaries (``tertulia/content/dictionaries``,
see its README for versions and licenses) through spylls, a pure-Python port of Hunspell, so
inflected forms come from the affix rules: "desayunos", "quedamos", "vuestras", "dímelo" are
accepted without being listed. English accepts a word if either the British or the American
dictionary does ("colour" and "color").

What is never flagged: hashtags, @mentions (also ``@user@instance``), cashtags, URLs, e-mail
addresses, numbers and any word with a digit, emoji, all-caps acronyms, the brand's words
(case-insensitive, accent-sensitive: "Café" does not make "cafe" correct), and capitalised
words in the middle of a sentence that the dictionary does not know (names of people and places
are the commonest false alarm in posts; a typo in one is missed, which we accept, unless it is
one slip away from a brand word: "Tertulai" is flagged and "Tertulia" suggested first). A word
of six letters or more that is correct in the other language is accepted too ("un cliffhanger").
Spanish verbs with clitics ("hagámoslo", "rifársela") are accepted when the verb form is.

Offsets are Python ``str`` indices into the text as given. Characters that cannot be letters (lone
surrogates, control characters) simply end a word; zero-width joiners and soft hyphens inside a word
are ignored for the lookup but kept in the offsets.

Dictionaries are loaded once, lazily, behind a lock (about 0.6 s for Spanish and 1.8 s for
English). Lookups and suggestions are cached. Suggestions are generated from Hunspell's edit
rules (accents, the dictionary's REP table, swapped, missing, extra and wrong letters, split words)
plus Spanish sound-alike spellings (b/v, h, ll/y, c/z/s, g/j), checked against the dictionary and
ranked by how likely each kind of slip is. The likely kinds (a few hundred candidates) are always
all checked, so results do not depend on the machine's load; the exhaustive Hunspell edits are
tried only within a time budget per word, and suggestions stop after a budget per call, so a
hostile text cannot make the composer hang.
"""

from __future__ import annotations

import threading
import time
import unicodedata
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import regex

DICTIONARY_DIR = Path(__file__).resolve().parent / "dictionaries"

# Which dictionary files make up each language we check.
_LANGUAGE_FILES = {
    "es": ("es",),
    "en": ("en_GB", "en_US"),
}

MAX_SUGGESTIONS = 5
# Text past this many characters is not checked (a post is far shorter; this bounds the work).
MAX_CHECKED_CHARS = 50_000
# Time budget to build suggestions: per misspelled word, and for one call of ``check``.
WORD_BUDGET_S = 0.05
CALL_BUDGET_S = 0.6
MAX_WORD_LEN = 40
CHEAP_MAX_LEN = 16  # longer words get only the cheapest kinds of candidates
CHEAP_GUARD_S = 1.0

# Zero-width joiners/non-joiners, word joiner, BOM and soft hyphen: invisible, may sit inside words.
_INVISIBLE = "\u200b\u200c\u200d\u2060\ufeff\u00ad"
_APOSTROPHES = "'\u2019\u02bc"

_LETTER = r"[\p{L}\p{M}]"
_WORDCHAR = r"[\p{L}\p{M}\p{N}_" + _INVISIBLE + r"]"

# Spans that are never spell-checked. Order matters: URLs and e-mails before mentions.
# Spans that are never spell-checked. Order matters: URLs and e-mails before mentions. Every
# repetition that is not anchored by a leading character is bounded, so a long run of letters
# costs linear time (an unbounded "[\w.]+@" backtracks quadratically on "aaaa…").
_SKIP_RE = regex.compile(
    r"""
    (?:https?|ftp)://\S+                                       # URLs with a scheme
  | (?<![\w.\-])www\.\S+                                     # www.example.com/...
  | (?<![\w.+\-])[\w.+\-]{1,64}@[\w\-]{1,63}(?:\.[\w\-]{1,63}){1,8}   # e-mail addresses
  | @[\w.\-]+(?:@[\w\-]+(?:\.[\w\-]+)+)?                       # @mention, @user@instance.social
  | [#$＃][\w\p{M}""" + _INVISIBLE + r"""]+                     # #hashtag, $CASHTAG
  | &[a-z]{1,10};|&\#\d{1,7};                                  # HTML entities left in pasted text
  | (?<![\w.\-])[\w\-]{1,63}(?:\.[\w\-]{1,63}){0,6}\.(?:com|org|net|es|io|co|uk|info|app|dev|social|eu|cat|mx|ar|cl|pe|us)\b(?:/\S*)?  # bare domains
    """,
    regex.VERBOSE | regex.IGNORECASE,
)

# A word: letters/digits with internal apostrophes ("don't", "l'Hospitalet"); hyphens split words.
_WORD_RE = regex.compile(
    r"[\p{L}\p{N}_]" + _WORDCHAR + r"*(?:[" + _APOSTROPHES + r"]" + _WORDCHAR + r"+)*"
)

# Where a sentence ends, so that the next capitalised word is an ordinary word, not a name.
_SENTENCE_END_RE = regex.compile(r"[.!?¡¿…:\n\r\u2029]\s*$|^\s*$")

# Prefixes that elide before an apostrophe in Catalan/French/Italian names: l'Hospitalet, d'Or.
_ELISIONS = {"l", "d", "s", "n", "m", "t", "c", "j", "qu", "dell", "all", "sant"}

# Emoticons that look like words.
_EMOTICONS = {"xd", "xdd", "xddd", "xp"}

# Spanish clitic pronouns that attach to verbs: dímelo, hagámoslo, rifársela, espérenlo.
_ES_CLITICS = ("nos", "los", "las", "les", "me", "te", "se", "lo", "la", "le", "os")
_DEACCENT = str.maketrans("áéíóú", "aeiou")


@dataclass(frozen=True)
class Misspelling:
    word: str
    start: int
    end: int
    suggestions: list[str] = field(default_factory=list, hash=False, compare=True)


# --- dictionaries ---------------------------------------------------------------------------

_load_lock = threading.Lock()
_dictionaries: dict[str, tuple] = {}


def _normalise_language(language: str) -> str:
    code = (language or "").strip().lower().replace("_", "-").split("-")[0]
    if code not in _LANGUAGE_FILES:
        raise ValueError(f"Unsupported spelling language: {language!r}")
    return code


def _dicts(language: str) -> tuple:
    """The spylls dictionaries of a language, loaded once (thread-safe)."""
    loaded = _dictionaries.get(language)
    if loaded is not None:
        return loaded
    with _load_lock:
        loaded = _dictionaries.get(language)
        if loaded is None:
            from spylls.hunspell import Dictionary

            loaded = tuple(
                Dictionary.from_files(str(DICTIONARY_DIR / name)) for name in _LANGUAGE_FILES[language]
            )
            _dictionaries[language] = loaded
    return loaded


def warm_up(languages: Iterable[str] = ("es", "en")) -> None:
    """Load the dictionaries now (for a worker or a benchmark) instead of on the first check."""
    for language in languages:
        _dicts(_normalise_language(language))


@lru_cache(maxsize=200_000)
def _known(language: str, word: str) -> bool:
    """Whether a word (as typed, capitalisation included) is correct in a language."""
    return any(d.lookup(word) for d in _dicts(language))


@lru_cache(maxsize=200_000)
def _known_exact(language: str, word: str) -> bool:
    """Like ``_known`` but without Hunspell's case relaxation of the first letter (for candidates)."""
    for d in _dicts(language):
        if any(d.lookuper.good_forms(word, capitalization=False, allow_nosuggest=False)):
            return True
    return False


# --- tokenising -----------------------------------------------------------------------------


def _clean(word: str) -> str:
    """The word as looked up: invisible characters removed, typographic apostrophes made plain."""
    for ch in _INVISIBLE:
        if ch in word:
            word = word.replace(ch, "")
    for ch in _APOSTROPHES[1:]:
        if ch in word:
            word = word.replace(ch, "'")
    # NFKC folds "𝗅𝖺" (mathematical letters used as fancy fonts) and ligatures to plain letters.
    return unicodedata.normalize("NFKC", word)


def _skip_spans(text: str) -> list[tuple[int, int]]:
    return [m.span() for m in _SKIP_RE.finditer(text)]


def _tokens(text: str) -> Iterator[tuple[int, int, str]]:
    """(start, end, raw word) for every word outside the never-checked spans."""
    spans = _skip_spans(text)
    si = 0
    for m in _WORD_RE.finditer(text):
        start, end = m.span()
        while si < len(spans) and spans[si][1] <= start:
            si += 1
        if si < len(spans) and spans[si][0] < end:
            continue  # overlaps a URL, mention, hashtag...
        yield start, end, m.group()


def _is_sentence_start(text: str, start: int) -> bool:
    before = text[max(0, start - 12):start]
    # Opening quotes and brackets do not change where the sentence starts.
    before = before.rstrip("\"'«“‘([{ \t")
    return not before or bool(_SENTENCE_END_RE.search(before))


def _casefold_brand(words: Iterable[str]) -> set[str]:
    folded: set[str] = set()
    for raw in words:
        if not raw:
            continue
        for part in [raw, *regex.split(r"\s+", raw)]:
            part = _clean(part.strip().lstrip("#@$")).strip(".,;:!?\"'()")
            if part:
                folded.add(part.casefold())
    return folded


# --- checking -------------------------------------------------------------------------------


def _strip_clitics(word: str) -> Iterator[str]:
    """Verb stems of a Spanish word with one or two clitics: hagámoslo -> hagamos, dímelo -> di."""
    stems = [word]
    for _round in range(2):
        next_stems = []
        for stem in stems:
            for clitic in _ES_CLITICS:
                if stem.endswith(clitic) and len(stem) - len(clitic) >= 2:
                    base = stem[: -len(clitic)]
                    next_stems.append(base)
                    if clitic == "nos" and base.endswith("mo"):
                        next_stems.append(base + "s")  # vámonos -> vamos
                    if clitic == "os" and base.endswith(("a", "e", "i")):
                        next_stems.append(base + "d")  # sentaos -> sentad
        for stem in next_stems:
            yield stem.translate(_DEACCENT)
        stems = next_stems


def _is_correct(language: str, word: str, *, sentence_start: bool) -> bool:
    if _known(language, word):
        return True
    lower = word.lower()
    if lower != word and _known(language, lower):
        # "Hola" at a sentence start, "HOLA" shouted: the dictionary form is lower case.
        return True
    if language == "es" and len(lower) >= 5 and any(ch in lower for ch in "áéíóú"):
        # An accented verb with clitics: the accent is what makes "dímelo" right and "dimelo" wrong.
        if any(len(stem) >= 2 and _known(language, stem) for stem in _strip_clitics(lower)):
            return True
    other = "en" if language == "es" else "es"
    if len(lower) >= 6 and "'" not in lower and _known(other, lower):
        # Posts mix languages ("un cliffhanger", "the empanadas"): a long word of the other
        # language is fine. Short ones are not: "aver" is English, but in Spanish it is a typo.
        return True
    if "'" in word:
        head, _, tail = word.partition("'")
        if head.lower() in _ELISIONS and tail:
            if tail[0].isupper():
                return True  # l'Hospitalet, d'Artagnan: a name after an elided article
            return _is_correct(language, tail, sentence_start=False)
        if tail.lower() in {"s"} and head and _is_correct(language, head, sentence_start=sentence_start):
            return True  # possessive of a name or a brand word: Tertulia's
    return False


def check(text: str, language: str, brand_words: Iterable[str] = ()) -> list[Misspelling]:
    """The misspelled words of ``text`` in ``language`` ("es" or "en"), with suggestions."""
    if not text:
        return []
    language = _normalise_language(language)
    brand_words = [w for w in brand_words if isinstance(w, str)]
    brand = _casefold_brand(brand_words)
    brand_forms = _brand_forms(brand_words)
    checked = text[:MAX_CHECKED_CHARS]
    deadline = time.monotonic() + CALL_BUDGET_S
    found: list[Misspelling] = []
    for start, end, raw in _tokens(checked):
        word = _clean(raw)
        if not word or len(word) > MAX_WORD_LEN:
            continue
        if any(ch.isdigit() or ch == "_" for ch in word):
            continue  # 2x1, COVID19, mp3, snake_case
        if not any(ch.isalpha() for ch in word) or word.casefold() in _EMOTICONS:
            continue
        letters = [ch for ch in word if ch.isalpha()]
        if len(letters) >= 2 and all(ch.isupper() for ch in letters):
            continue  # acronyms: ONG, UE, NASA
        folded = word.casefold()
        if folded in brand or folded.replace("'", "") in brand:
            continue
        if "'" in word and word.split("'", 1)[0].casefold() in brand:
            continue  # Tertulia's
        sentence_start = _is_sentence_start(checked, start)
        if _is_correct(language, word, sentence_start=sentence_start):
            continue
        near_brand = _near_brand_words(word, brand_forms)
        if word[0].isupper() and not sentence_start and not near_brand:
            continue  # most likely a name the dictionary does not know ("Tertulai" is not)
        if len(letters) == 1:
            continue
        suggestions: list[str] = list(near_brand)
        if time.monotonic() < deadline:
            suggestions += [s for s in suggest(word, language) if s not in suggestions]
        suggestions = suggestions[:MAX_SUGGESTIONS]
        found.append(Misspelling(word=checked[start:end], start=start, end=end, suggestions=suggestions))
    return found


def _brand_forms(words: Iterable[str]) -> tuple[str, ...]:
    """The brand's single words as written (for suggestions), at most a few hundred."""
    forms: dict[str, str] = {}
    for raw in words:
        for part in regex.split(r"\s+", str(raw)):
            part = _clean(part.strip().lstrip("#@$")).strip(".,;:!?\"'()")
            if len(part) >= 3 and part.casefold() not in forms:
                forms[part.casefold()] = part
    return tuple(forms.values())[:500]


def _distance_at_most(a: str, b: str, limit: int) -> bool:
    """Whether the Damerau-Levenshtein distance of a and b is at most ``limit`` (banded, cheap)."""
    if abs(len(a) - len(b)) > limit:
        return False
    previous2: list[int] = []
    previous = list(range(len(b) + 1))
    for i in range(1, len(a) + 1):
        current = [i] + [0] * len(b)
        for j in range(1, len(b) + 1):
            cost = 0 if a[i - 1] == b[j - 1] else 1
            current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost)
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                current[j] = min(current[j], previous2[j - 2] + 1)
        if min(current) > limit:
            return False
        previous2, previous = previous, current
    return previous[-1] <= limit


def _near_brand_words(word: str, forms: tuple[str, ...]) -> tuple[str, ...]:
    """Brand words one slip away from ``word`` (two for long words): "Tertulai" -> "Tertulia"."""
    if not forms:
        return ()
    folded = word.casefold()
    limit = 1 if len(folded) < 7 else 2
    return tuple(f for f in forms if f.casefold() != folded and _distance_at_most(folded, f.casefold(), limit))


def brand_words_for(brand) -> set[str]:
    """The words a brand's posts may use without being flagged."""
    from tertulia.content.models import BrandWord

    words = set(BrandWord.objects.filter(brand=brand).values_list("word", flat=True))
    for hashtag in brand.required_hashtags or []:
        if isinstance(hashtag, str) and hashtag.strip():
            words.add(hashtag.strip().lstrip("#"))
    signature = (brand.signature or "").strip()
    if signature:
        for token in _WORD_RE.findall(signature):
            words.add(_clean(token))
    if brand.name:
        for token in _WORD_RE.findall(brand.name):
            words.add(_clean(token))
    return {w for w in words if w}


# --- suggestions ----------------------------------------------------------------------------

# Cost of each kind of slip: lower is a likelier correction. Hunspell's edit kinds plus ours.
_KIND_COST = {
    "case": 0.05,
    "uppercase": 0.1,
    "mapchars": 0.1,  # accents: buenisimo -> buenísimo
    "sound": 0.3,  # Spanish sound-alike spellings: aver -> haber
    "replchars": 0.35,  # the dictionary's REP table: desallunos -> desayunos
    "swapchar": 0.5,  # recieve -> receive
    "forgotchar": 0.55,  # exelente -> excelente
    "spaceword": 0.6,
    "twowords": 0.45,  # aver -> a ver, alot -> a lot
    "extrachar": 0.7,
    "doubletwochars": 0.7,
    "vowel": 0.6,  # the wrong vowel: seperate -> separate
    "forgotvowel": 0.6,  # inagurar -> inaugurar
    "doubleshift": 0.65,  # tommorow -> tomorrow
    "badcharkey": 0.75,  # a neighbouring key
    "movechar": 0.85,
    "longswapchar": 0.9,
    "badchar": 1.0,
}

# Little words that people run into the next one: "aver" (a ver), "alot" (a lot).
_FUNCTION_WORDS = {
    "es": frozenset("a al de del en por para sin con la el lo los las un una que se no y o mi tu su ya "
                    "muy más tan de sobre entre hasta desde".split()),
    "en": frozenset("a an the of in on at to for by no not so as is it I my all up any every some "
                    "each per".split()),
}

# Spanish spellings that sound the same (seseo and yeísmo included): (written, alternative).
_ES_SOUNDS = [
    ("v", "b"), ("b", "v"), ("ll", "y"), ("y", "ll"), ("z", "s"), ("s", "z"), ("c", "s"), ("s", "c"),
    ("z", "c"), ("c", "z"), ("j", "g"), ("g", "j"), ("k", "qu"), ("qu", "k"), ("x", "s"), ("s", "x"),
    ("cc", "c"), ("c", "cc"), ("rr", "r"), ("r", "rr"),
]


def _sound_alikes(word: str, depth: int = 2) -> Iterator[str]:
    """Spanish candidates: one or two sound-alike swaps, with or without a silent h."""
    bases = {word}
    if word.startswith("h"):
        bases.add(word[1:])
    else:
        bases.add("h" + word)
    seen: set[str] = set()
    for base in bases:
        if base != word:
            seen.add(base)
            yield base
        singles = []
        for a, b in _ES_SOUNDS:
            i = base.find(a)
            while i != -1:
                cand = base[:i] + b + base[i + len(a):]
                if cand not in seen:
                    seen.add(cand)
                    singles.append(cand)
                    yield cand
                i = base.find(a, i + 1)
        for one in singles[:8] if depth > 1 else ():
            for a, b in _ES_SOUNDS:
                i = one.find(a)
                if i != -1:
                    cand = one[:i] + b + one[i + len(a):]
                    if cand not in seen and cand != word:
                        seen.add(cand)
                        yield cand


_VOWEL_ACCENTS = {"a": "á", "e": "é", "i": "í", "o": "ó", "u": "úü", "n": "ñ"}
_DEACCENT_ALL = str.maketrans("áéíóúüñ", "aeiouun")
_QWERTY = ["qwertyuiop", "asdfghjklñ", "zxcvbnm"]


def _neighbours() -> dict[str, str]:
    out: dict[str, str] = {}
    for r, row in enumerate(_QWERTY):
        for c, ch in enumerate(row):
            near = {row[c - 1] if c else "", row[c + 1] if c + 1 < len(row) else ""}
            for other in (r - 1, r + 1):
                if 0 <= other < len(_QWERTY):
                    near.update(_QWERTY[other][max(0, c - 1):c + 2])
            out[ch] = "".join(sorted(near - {"", ch}))
    return out


_NEAR = _neighbours()


def _cheap_candidates(word: str, language: str) -> Iterator[tuple[str, tuple[str, ...] | None, str]]:
    """The likeliest slips, a few dozen to a few hundred candidates: always all checked. Long
    words get only the cheapest kinds (extra letter, swapped letters, an accent)."""
    n = len(word)
    if n > CHEAP_MAX_LEN:
        for i in range(n):
            yield word[:i] + word[i + 1:], None, "extrachar"
        for i in range(n - 1):
            if word[i] != word[i + 1]:
                yield word[:i] + word[i + 1] + word[i] + word[i + 2:], None, "swapchar"
        if language == "es":
            for i, ch in enumerate(word):
                for accented in _VOWEL_ACCENTS.get(ch, ""):
                    yield word[:i] + accented + word[i + 1:], None, "mapchars"
            for cand in _sound_alikes(word, depth=1):
                yield cand, None, "sound"
        return
    # Accents: one added, or all removed (buenisimo -> buenísimo, despues -> después).
    if language == "es":
        for i, ch in enumerate(word):
            for accented in _VOWEL_ACCENTS.get(ch, ""):
                yield word[:i] + accented + word[i + 1:], None, "mapchars"
        plain = word.translate(_DEACCENT_ALL)
        if plain != word:
            yield plain, None, "mapchars"
            for i, ch in enumerate(plain):
                for accented in _VOWEL_ACCENTS.get(ch, ""):
                    yield plain[:i] + accented + plain[i + 1:], None, "mapchars"
        for cand in _sound_alikes(word):
            yield cand, None, "sound"
    # The dictionary's REP table (desallunos -> desayunos, ke -> que).
    primary = _dicts(language)[0]
    for rule in primary.aff.REP:
        pat, rep = str(getattr(rule, "pattern", "")), str(getattr(rule, "replacement", ""))
        core = pat.strip("^$")
        if not core:
            continue
        i = word.find(core)
        while i != -1:
            if (not pat.startswith("^") or i == 0) and (not pat.endswith("$") or i + len(core) == n):
                cand = word[:i] + rep.replace("_", " ") + word[i + len(core):]
                yield cand, (tuple(cand.split()) if " " in cand else None), "replchars"
            i = word.find(core, i + 1)
    for i in range(n - 1):  # swapped neighbours: recieve -> receive
        if word[i] != word[i + 1]:
            yield word[:i] + word[i + 1] + word[i] + word[i + 2:], None, "swapchar"
    for i in range(n):  # one letter too many: untill -> until
        yield word[:i] + word[i + 1:], None, "extrachar"
    for i in range(n + 1):  # a doubled letter or a silent h missing: accomodation, exelente -> excelente
        if i < n:
            yield word[:i] + word[i] + word[i:], None, "forgotchar"
        yield word[:i] + "h" + word[i:], None, "forgotchar"
        if language == "es" and i < n and word[i] in "ce":
            yield word[:i] + "c" + word[i:], None, "forgotchar"
    vowels = "aeiou"
    for i, ch in enumerate(word):
        for near in _NEAR.get(ch, ""):  # a neighbouring key
            yield word[:i] + near + word[i + 1:], None, "badcharkey"
        if ch in vowels:  # the wrong vowel: seperate, definately, independant, grammer
            for other in vowels:
                if other != ch:
                    yield word[:i] + other + word[i + 1:], None, "vowel"
    for i in range(n + 1):  # a missing vowel: inagurar -> inaugurar
        for vowel in vowels:
            yield word[:i] + vowel + word[i:], None, "forgotvowel"
    for i in range(n - 1):  # the doubled letter in the wrong place: tommorow -> tomorrow
        if word[i] == word[i + 1] and word[i].isalpha():
            single = word[:i] + word[i + 1:]
            for j in range(len(single)):
                if j != i and single[j].isalpha() and single[j] not in vowels:
                    yield single[:j] + single[j] + single[j:], None, "doubleshift"
    functions = _FUNCTION_WORDS.get(language, frozenset())
    for i in range(1, n):  # two words run together: alot -> a lot, porfavor -> por favor
        left, right = word[:i], word[i:]
        yield left + " " + right, (left, right), "twowords"
        if language == "es" and left in functions and len(right) <= 12:  # atravez -> a través
            for j, ch in enumerate(right):
                for accented in _VOWEL_ACCENTS.get(ch, ""):
                    variant = right[:j] + accented + right[j + 1:]
                    yield left + " " + variant, (left, variant), "twowords"
                    for cand in _sound_alikes(variant, depth=1):
                        yield left + " " + cand, (left, cand), "twowords"
            for cand in _sound_alikes(right, depth=1):
                yield left + " " + cand, (left, cand), "twowords"


def _full_candidates(word: str, language: str) -> Iterator[tuple[str, tuple[str, ...] | None, str]]:
    """Every Hunspell edit (any letter inserted or replaced, moved letters...): hundreds to
    thousands of candidates, checked only while the time budget lasts."""
    from spylls.hunspell.algo.suggest import MultiWordSuggestion

    primary = _dicts(language)[0]
    for edit in primary.suggester.edits(word):
        if isinstance(edit, MultiWordSuggestion):
            yield " ".join(edit.words), tuple(edit.words), edit.source
        else:
            yield edit.text, None, edit.kind


def _coerce_case(original: str, suggestion: str) -> str:
    if original[:1].isupper() and suggestion[:1].islower():
        return suggestion[:1].upper() + suggestion[1:]
    return suggestion


def _acceptable(language: str, text: str, parts) -> bool:
    if parts is not None:
        # Two words: each must be a word on its own; English lone letters only "a" and "I".
        if language == "en" and any(len(p) == 1 and p not in ("a", "I") for p in parts):
            return False
        return all(p and _known_exact(language, p) for p in parts)
    return _known_exact(language, text)


@lru_cache(maxsize=20_000)
def _suggest_cached(word: str, language: str) -> tuple[str, ...]:
    lower = word.lower() if word[:1].isupper() and word[1:].islower() else word
    scored: dict[str, float] = {}
    tried: set[str] = {lower}
    order = 0

    def consider(text: str, parts, kind: str) -> None:
        nonlocal order
        order += 1
        if not text or text in tried or text.lower() == lower.lower():
            return
        tried.add(text)
        if not _acceptable(language, text, parts):
            return
        cost = _KIND_COST.get(kind, 1.0)
        if parts is not None and len(parts) == 2:
            # "a ver", "por favor", "a lot": a split with a little word is a likely slip;
            # "des ayunos" or "occur ed" are words too, but nobody meant them.
            functions = _FUNCTION_WORDS.get(language, frozenset())
            if not any(p.lower() in functions for p in parts) or min(len(p) for p in parts) < 1:
                cost = 0.95
        if text[:1].lower() != lower[:1].lower():
            cost += 0.15  # prefer suggestions that keep the first letter...
        cost += 0.05 * abs(len(text.replace(" ", "")) - len(lower))  # ...and the length
        scored[text] = min(scored.get(text, 9.0), cost + order * 1e-7)

    # A few hundred lookups at most, always completed (so the same typo gets the same
    # suggestions however busy the machine is); the guard only matters under extreme load.
    guard = time.monotonic() + CHEAP_GUARD_S
    for text, parts, kind in _cheap_candidates(lower, language):
        consider(text, parts, kind)
        if time.monotonic() > guard:
            break
    if len(scored) < MAX_SUGGESTIONS:
        deadline = time.monotonic() + WORD_BUDGET_S
        for text, parts, kind in _full_candidates(lower, language):
            consider(text, parts, kind)
            if time.monotonic() > deadline:
                break
    ranked = sorted(scored, key=scored.__getitem__)
    return tuple(_coerce_case(word, s) for s in ranked[:MAX_SUGGESTIONS])


def suggest(word: str, language: str) -> list[str]:
    """Up to five corrections for one word, likeliest first."""
    language = _normalise_language(language)
    word = _clean(word)
    if not word or len(word) > MAX_WORD_LEN:
        return []
    result = list(_suggest_cached(word, language))
    return result


# --- the brand dictionary (services) ------------------------------------------------------------

BRAND_WORD_MAX = 100
_MARKUP_RE = regex.compile(r"[<>{}\[\]\\`]|&[#\w]+;|(?i:javascript:)")


def clean_brand_word(value) -> str:
    """A dictionary entry as stored: whitespace normalised, no markup, at most 100 characters."""
    from django.core.exceptions import ValidationError
    from django.utils.translation import gettext as _

    word = " ".join(str(value or "").replace("\x00", "").split())
    word = "".join(ch for ch in word if unicodedata.category(ch) not in ("Cc", "Cs"))
    word = unicodedata.normalize("NFC", word)
    if not word.strip(_INVISIBLE):
        raise ValidationError({"word": [_("Type the word to add.")]})
    if len(word) > BRAND_WORD_MAX:
        raise ValidationError({"word": [_("A word can have at most %(n)s characters.") % {"n": BRAND_WORD_MAX}]})
    if _MARKUP_RE.search(word):
        raise ValidationError({"word": [_("That looks like code, not a word: leave out < > { } [ ] \\ and `.")]})
    if not any(ch.isalnum() for ch in word):
        raise ValidationError({"word": [_("A word needs at least one letter or digit.")]})
    return word


def do_add_brand_word(ctx, brand, word):
    """Add a word the spell checker must accept for this brand. Returns ``(BrandWord, created)``;
    adding a word that is already there (same spelling, any capitalisation) changes nothing."""
    from django.db import IntegrityError, transaction

    from tertulia.content.models import BrandWord
    from tertulia.core import roles
    from tertulia.core.services import _log, _require

    _require(ctx, brand, roles.COMPOSE)
    word = clean_brand_word(word)
    with transaction.atomic():
        # Compared here, not with ``iexact``: SQLite folds the case of ASCII letters only ("É").
        folded = word.casefold()
        existing = next((w for w in BrandWord.objects.filter(brand=brand).only("pk", "word", "brand")
                         if w.word.casefold() == folded), None)
        if existing is not None:
            return existing, False
        try:
            with transaction.atomic():
                entry = BrandWord.objects.create(brand=brand, word=word,
                                                 added_by=ctx.user if ctx.user.is_authenticated else None)
        except IntegrityError:  # the same word added at the same moment by someone else
            return BrandWord.objects.get(brand=brand, word=word), False
        _log(ctx, "brand_word.add", brand=brand, obj=entry, changes={"word": word})
    return entry, True


def do_remove_brand_word(ctx, entry) -> None:
    from django.db import transaction

    from tertulia.core import roles
    from tertulia.core.services import _log, _require

    _require(ctx, entry.brand, roles.COMPOSE)
    with transaction.atomic():
        _log(ctx, "brand_word.remove", brand=entry.brand, obj=entry, changes={"word": entry.word})
        entry.delete()
