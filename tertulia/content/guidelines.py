"""A brand's own rules for what it publishes: banned words, required hashtags, signature.

Matching ignores case and accents, as people type them: a banned "pésimo" is found in
"PESIMO" and a required #CaféDeBarrio is present as #cafedebarrio. Banned words match whole
words (or whole phrases), so banning "mal" does not flag "animal". Banned words are errors;
a missing hashtag or signature is a warning the CM may decide to ignore.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field

from .text_rules.base import BANNED_WORD, MISSING_HASHTAG, MISSING_SIGNATURE, Problem
from .text_rules.x import extract_hashtags

ERRORS = frozenset({BANNED_WORD})


def fold(text: str) -> str:
    """Lower case without accents: "Pésimo" → "pesimo"."""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()


@dataclass
class GuidelineReport:
    problems: list[Problem] = field(default_factory=list)
    tone: str = ""  # shown as a reminder next to the composer

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.code in ERRORS]

    @property
    def warnings(self) -> list[Problem]:
        return [p for p in self.problems if p.code not in ERRORS]


def check(brand, text: str) -> GuidelineReport:
    report = GuidelineReport(tone=brand.tone)
    folded = fold(text)
    for word in brand.banned_words:
        needle = fold(word).strip()
        if needle and re.search(r"(?<!\w)" + re.escape(needle) + r"(?!\w)", folded):
            report.problems.append(Problem(BANNED_WORD, {"word": word}))
    present = {fold(tag.value) for tag in extract_hashtags(text)}
    for hashtag in brand.required_hashtags:
        if fold(hashtag.lstrip("#")) not in present:
            report.problems.append(Problem(MISSING_HASHTAG, {"hashtag": hashtag}))
    signature = " ".join(brand.signature.split())
    if signature and fold(signature) not in " ".join(folded.split()):
        report.problems.append(Problem(MISSING_SIGNATURE, {"signature": brand.signature}))
    return report
