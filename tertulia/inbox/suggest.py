"""What to answer: suggestions for the reply box, from what the brand already knows.

``suggestions(conversation, language)`` looks at the conversation's newest message and gives,
best first:

- **knowledge**: entries of the brand's knowledge base (``core.KnowledgeEntry``) whose keywords
  or title words appear in the message (as words, ignoring case, accents and invisible
  characters; title words that carry no meaning in Spanish or English are skipped);
- **department**: where to refer the person when a matching entry names a department (with its
  contact), worded in ``language``;
- **thanks**: a "thank you" addressed by name for praise and for people who contribute
  information (a tip, a correction, a link), in ``language``;
- **saved_reply**: the brand's saved replies in ``language`` that fit the message's intent
  (by their title), rendered with the person's name.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from django.utils import translation
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from tertulia.core.models import KnowledgeEntry

from .models import Conversation, Interaction, SavedReply
from .rules import fold, keyword_pattern

MAX_KNOWLEDGE = 3
MAX_SAVED = 3

STOPWORDS = frozenset(fold(w) for w in """
a al algo como con de del donde el ella en es esta este esto la las lo los mas me mi mis mucho muy no nos o
os para pero por que se si sin sobre su sus te tu tus un una uno unos y ya cual cuando hay ser son fue han
the a an and are as at be by can do does for from has have how i if in is it its my no not of on or our so
that the their them then there they this to was we what when where which who why will with you your
""".split())

# Words that mark a contribution of information (a tip, a correction, a heads-up), folded.
_CONTRIBUTION = keyword_pattern([
    "fyi", "heads up", "just so you know", "for your information", "thought you should know", "you might want",
    "i noticed", "i found", "there is a typo", "typo", "broken link", "the link is broken", "tip", "suggestion",
    "suggest", "por si os sirve", "por si te sirve", "os aviso", "te aviso", "aviso", "para que lo sepais",
    "para que lo sepas", "he visto", "me he dado cuenta", "errata", "enlace roto", "el enlace no funciona",
    "sugerencia", "sugiero", "os dejo", "te dejo", "dato", "informacion", "por cierto",
])
_LINK = re.compile(r"https?://", re.IGNORECASE)

MSG_REFER = _("For this, our %(department)s can help you: %(contact)s")
MSG_REFER_NO_CONTACT = _("For this, please contact our %(department)s; they can help you best.")
MSG_THANKS_PRAISE = _("Thank you so much, %(name)s! It means a lot to us that you enjoyed it.")
MSG_THANKS_INFO = _("Thank you for letting us know, %(name)s! We will look into it right away.")
MSG_TITLE_REFER = _("Refer to %(department)s")
MSG_TITLE_THANKS = _("Say thank you")

# Words in a saved reply's title that say which intent it answers (folded, both languages).
_INTENT_WORDS = {
    Interaction.Intent.COMPLAINT: ("complaint", "complaints", "apology", "apologies", "sorry", "queja", "quejas",
                                   "reclamacion", "reclamaciones", "disculpa", "disculpas", "perdon", "problem",
                                   "problema", "incidencia", "refund", "reembolso", "devolucion"),
    Interaction.Intent.QUESTION: ("question", "questions", "faq", "info", "information", "pregunta", "preguntas",
                                  "duda", "dudas", "informacion", "horario", "hours", "price", "precio"),
    Interaction.Intent.PRAISE: ("thanks", "thank", "praise", "gracias", "agradecimiento", "elogio", "felicitacion"),
    Interaction.Intent.REQUEST: ("request", "requests", "solicitud", "peticion", "pedido", "order", "booking",
                                 "reserva"),
    Interaction.Intent.SPAM: ("spam",),
}


@dataclass(frozen=True)
class Suggestion:
    kind: str  # knowledge | department | thanks | saved_reply
    title: str
    text: str
    department: str = ""


def _newest_inbound(conversation: Conversation) -> Interaction | None:
    return (Interaction.objects.filter(conversation=conversation, direction=Interaction.Direction.INBOUND,
                                       deleted_at__isnull=True).order_by("-created_at", "-pk").first())


def _words(text: str) -> set[str]:
    return set(re.findall(r"\w+", fold(text)))


def _title_words(title: str) -> list[str]:
    return [w for w in re.findall(r"\w+", fold(title)) if len(w) >= 4 and w not in STOPWORDS]


@lru_cache(maxsize=4096)
def _keyword_pattern(keyword: str) -> re.Pattern | None:
    """``keyword_pattern([keyword])``, memoised: a pure function of its text."""
    return keyword_pattern([keyword])


def _score(entry: KnowledgeEntry, folded: str, words: set[str]) -> int:
    score = 0
    keywords = entry.keywords if isinstance(entry.keywords, list) else []
    for keyword in keywords[:50]:
        pattern = _keyword_pattern(str(keyword)[:100])
        if pattern is not None and pattern.search(folded):
            score += 3
    score += sum(1 for w in _title_words(entry.title) if w in words)
    return score


def _name(conversation: Conversation) -> str:
    from .replies import _clean_value

    author = conversation.author
    return _clean_value(author.display_name, 60) or "@" + _clean_value(author.handle, 60).lstrip("@")


def knowledge(brand, text: str) -> list[tuple[int, KnowledgeEntry]]:
    folded, words = fold(text), _words(text)
    scored = []
    for entry in KnowledgeEntry.objects.filter(brand=brand)[:500]:
        score = _score(entry, folded, words)
        if score > 0:
            scored.append((score, entry))
    scored.sort(key=lambda pair: (-pair[0], pair[1].title))
    return scored


def contributes_information(text: str) -> bool:
    folded = fold(text)
    return bool(_CONTRIBUTION.search(folded)) or bool(_LINK.search(text))


_UNKNOWN = object()


def suggestions(conversation: Conversation, language: str, *, message=_UNKNOWN,
                saved=None) -> list[Suggestion]:
    """``message``: the conversation's newest inbound message not deleted, if the caller has
    it already (None: there is none); ``saved``: the brand's saved replies in their usual order
    (title, language), if the caller has them already."""
    if message is _UNKNOWN:
        message = _newest_inbound(conversation)
    if message is None:
        return []
    language = language if language in ("es", "en") else (message.language or conversation.brand.language or "es")
    out: list[Suggestion] = []
    departments: dict[str, Suggestion] = {}
    name = _name(conversation)
    with translation.override(language):
        for _score_, entry in knowledge(conversation.brand, message.text)[:MAX_KNOWLEDGE]:
            if entry.kind != KnowledgeEntry.Kind.DEPARTMENT:
                out.append(Suggestion("knowledge", entry.title, entry.answer, entry.department))
            department = entry.department or (entry.title if entry.kind == KnowledgeEntry.Kind.DEPARTMENT else "")
            if department and department not in departments:
                if entry.contact:
                    text = gettext(MSG_REFER) % {"department": department, "contact": entry.contact}
                else:
                    text = gettext(MSG_REFER_NO_CONTACT) % {"department": department}
                if entry.kind == KnowledgeEntry.Kind.DEPARTMENT and entry.answer:
                    text = f"{entry.answer}\n{text}" if entry.answer not in text else text
                departments[department] = Suggestion("department", gettext(MSG_TITLE_REFER) % {
                    "department": department}, text, department)
        out.extend(departments.values())
        if message.intent == Interaction.Intent.PRAISE or (
                message.sentiment == Interaction.Sentiment.POSITIVE and message.intent != Interaction.Intent.COMPLAINT):
            out.append(Suggestion("thanks", gettext(MSG_TITLE_THANKS), gettext(MSG_THANKS_PRAISE) % {"name": name}))
        elif message.intent != Interaction.Intent.SPAM and contributes_information(message.text) \
                and message.intent != Interaction.Intent.COMPLAINT:
            out.append(Suggestion("thanks", gettext(MSG_TITLE_THANKS), gettext(MSG_THANKS_INFO) % {"name": name}))
    out.extend(saved_replies(conversation, message, language, brand_saved=saved))
    return out


def saved_replies(conversation: Conversation, message: Interaction, language: str,
                  brand_saved: list[SavedReply] | None = None) -> list[Suggestion]:
    from .replies import render_saved_reply

    wanted = set(_INTENT_WORDS.get(message.intent, ()))
    if not wanted:
        return []
    if brand_saved is None:
        candidates = SavedReply.objects.filter(brand=conversation.brand, language=language)[:200]
    else:
        candidates = [s for s in brand_saved if s.language == language][:200]
    found = []
    for saved in candidates:
        if _words(saved.title) & wanted:
            found.append(Suggestion("saved_reply", saved.title, render_saved_reply(saved, conversation, None)))
        if len(found) >= MAX_SAVED:
            break
    return found
