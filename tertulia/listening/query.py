"""The boolean query language of social listening.

    compile('(nike OR "air max") NEAR/3 (caro OR pésim*) -#ad lang:es') -> Query

Grammar (operators are upper case; precedence NOT > AND > OR, NEAR binds tightest)::

    query   := or
    or      := and ("OR" and)*
    and     := unary (["AND"] unary)*          two terms side by side mean AND
    unary   := ("NOT" | "-") unary | near
    near    := primary ["NEAR/" n primary]     both sides: a word, phrase, prefix, hashtag or
                                               mention, or an OR of them in parentheses
    primary := "(" or ")" | '"' phrase '"' | word | prefix* | #hashtag | @mention
             | author:handle | lang:code | site:domain | network:name

Matching works on the text folded by `fold` (no accents, case-folded, invisible characters
removed). The words of a text are its runs of letters, digits and underscores (``\\w+``), so a
word never matches inside another ("caro" does not match "carofa"); a word also matches inside
a hashtag or a mention ("nike" matches "#nike" and "@nike"), while ``#nike`` matches only the
hashtag. A bare term with punctuation inside ("coca-cola", "l'oréal") is the phrase of its
words. ``@ana`` matches a mention of @ana, also with an instance (@ana@mastodon.social).

Parse errors are `QueryError` (a Django ValidationError) saying the column (from 1) and why, in
the active language. Pathological queries are refused: at most MAX_LENGTH characters, MAX_TERMS
terms, MAX_DEPTH levels of parentheses, MAX_NOTS NOTs inside one another, NEAR/MAX_NEAR.
"""

from __future__ import annotations

import re
from bisect import bisect_left, bisect_right
from dataclasses import dataclass
from typing import Union
from urllib.parse import urlsplit

from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from tertulia.inbox.rules import fold as _fold1

MAX_LENGTH = 2000
MAX_DEPTH = 12
MAX_NOTS = 24  # NOTs inside one another
MAX_TERMS = 200
MAX_NEAR = 50
MIN_PREFIX = 3

NETWORKS = ("mastodon", "bluesky", "x", "facebook", "instagram", "threads", "linkedin", "telegram",
            "wordpress", "reddit", "youtube", "tiktok", "web", "news")
NETWORK_ALIASES = {"twitter": "x"}
FIELDS = {"author": "author", "autor": "author", "lang": "lang", "idioma": "lang", "site": "site",
          "sitio": "site", "network": "network", "red": "network"}

WORD_RE = re.compile(r"\w+")
HASHTAG_RE = re.compile(r"(?<!\w)#(\w+)")
_HANDLE = r"\w+(?:[.\-]\w+)*"
MENTION_RE = re.compile(rf"(?<!\w)@({_HANDLE})(?:@({_HANDLE}))?")
HANDLE_RE = re.compile(rf"{_HANDLE}(?:@{_HANDLE})?")
LANG_RE = re.compile(r"[a-z]{2,3}")
DOMAIN_RE = re.compile(r"(?:[a-z0-9](?:[a-z0-9\-]*[a-z0-9])?\.)*[a-z0-9](?:[a-z0-9\-]*[a-z0-9])?")


def _fold_stable(text: str) -> str:
    out = _fold1(text)
    for _i in range(3):  # a few characters fold in two steps (casefold output that decomposes)
        again = _fold1(out)
        if again == out:
            break
        out = again
    return out


class _FoldTable(dict):
    """Character -> its folding, filled on first sight (bounded), for ``str.translate``."""

    def __missing__(self, code: int) -> str:
        folded = _fold_stable(chr(code))
        if len(self) < 50_000:
            self[code] = folded
        return folded


_TABLE = _FoldTable()


def fold(text: str) -> str:
    """The normalisation of `tertulia.inbox.rules.fold` (NFKD, without combining marks and
    invisible format characters, case-folded), character by character through a cached table,
    applied until stable. Texts and queries are folded alike."""
    if not text:
        return ""
    if text.isascii():
        return text.lower()
    return text.translate(_TABLE)


# -- errors --------------------------------------------------------------------------------------

class QueryError(ValidationError):
    """A query that cannot be parsed: ``column`` (from 1) and a translated message."""

    def __init__(self, column: int, message, **params):
        params["column"] = column
        super().__init__(message, code="query", params=params)
        self.column = column

    def __str__(self) -> str:
        return self.messages[0]


# -- the tree ------------------------------------------------------------------------------------

def _quote(words: tuple[str, ...]) -> str:
    return '"' + " ".join(words) + '"'


@dataclass(frozen=True)
class Term:
    word: str

    def __str__(self) -> str:
        return self.word


@dataclass(frozen=True)
class Prefix:
    stem: str

    def __str__(self) -> str:
        return self.stem + "*"


@dataclass(frozen=True)
class Phrase:
    words: tuple[str, ...]

    def __str__(self) -> str:
        return _quote(self.words)


@dataclass(frozen=True)
class Hashtag:
    tag: str

    def __str__(self) -> str:
        return "#" + self.tag


@dataclass(frozen=True)
class Mention:
    handle: str

    def __str__(self) -> str:
        return "@" + self.handle


@dataclass(frozen=True)
class Field:
    name: str  # author, lang, site, network
    value: str

    def __str__(self) -> str:
        return f"{self.name}:{self.value}"


@dataclass(frozen=True)
class Not:
    child: "Node"

    def __str__(self) -> str:
        inner = str(self.child)
        if isinstance(self.child, (And, Or, Near)):
            inner = f"({inner})"
        return "NOT " + inner


@dataclass(frozen=True)
class And:
    children: tuple["Node", ...]

    def __str__(self) -> str:
        return " AND ".join(f"({c})" if isinstance(c, (Or, And)) else str(c) for c in self.children)


@dataclass(frozen=True)
class Or:
    children: tuple["Node", ...]

    def __str__(self) -> str:
        return " OR ".join(f"({c})" if isinstance(c, (Or, And)) else str(c) for c in self.children)


@dataclass(frozen=True)
class Near:
    left: "Node"   # positional atom, or Or of positional atoms
    right: "Node"
    distance: int

    def __str__(self) -> str:
        def side(n):
            return f"({n})" if isinstance(n, Or) else str(n)
        return f"{side(self.left)} NEAR/{self.distance} {side(self.right)}"


Node = Union[Term, Prefix, Phrase, Hashtag, Mention, Field, Not, And, Or, Near]
POSITIONAL = (Term, Prefix, Phrase, Hashtag, Mention)


# -- documents -----------------------------------------------------------------------------------

def norm_handle(handle: str) -> str:
    return fold(handle or "").strip().lstrip("@")


def norm_site(site: str) -> str:
    site = (site or "").strip().lower()
    if "/" in site or ":" in site:
        try:
            site = urlsplit(site if "://" in site else "//" + site).hostname or ""
        except ValueError:
            site = ""
    site = site.rstrip(".")
    if site and not site.isascii():
        try:
            site = site.encode("idna").decode("ascii")
        except UnicodeError:
            pass
    return site


def norm_lang(language: str) -> str:
    return (language or "").strip().lower().replace("_", "-").partition("-")[0]


def norm_network(network: str) -> str:
    n = (network or "").strip().lower()
    return NETWORK_ALIASES.get(n, n)


class Document:
    """One message: its text folded once, tokenised lazily and only as far as the queries need
    (the set of words; word positions for phrases and NEAR; hashtags; mentions).

    Build it with ``Document.of(text=..., author=..., language=..., site=..., network=...)``."""

    __slots__ = ("text", "folded", "author", "language", "site", "network", "_words", "_wordset", "_positions",
                 "_starts", "_tags", "_tag_at", "_mentions", "_mention_at")

    def __init__(self, text: str, author: str = "", language: str = "", site: str = "", network: str = ""):
        self.text = text or ""
        self.folded = fold(self.text)
        self.author = norm_handle(author) if author else ""
        self.language = norm_lang(language) if language else ""
        self.site = norm_site(site) if site else ""
        self.network = norm_network(network) if network else ""
        self._words = self._wordset = self._positions = self._starts = None
        self._tags = self._tag_at = self._mentions = self._mention_at = None

    @classmethod
    def of(cls, *, text: str, author: str = "", language: str = "", site: str = "", network: str = "") -> "Document":
        return cls(text, author, language, site, network)

    @property
    def words(self) -> list[str]:
        """The words (runs of ``\\w``) of the folded text, in order."""
        if self._words is None:
            self._words = WORD_RE.findall(self.folded)
        return self._words

    @property
    def wordset(self) -> frozenset | set:
        if self._wordset is None:
            self._wordset = set(self.words)
        return self._wordset

    def positions(self) -> dict[str, list[int]]:
        """word -> its indexes in ``words``."""
        if self._positions is None:
            pos: dict[str, list[int]] = {}
            for i, w in enumerate(self.words):
                if w in pos:
                    pos[w].append(i)
                else:
                    pos[w] = [i]
            self._positions = pos
        return self._positions

    def _word_at(self, offset: int) -> int:
        """Index of the word that contains (or is the last one before) a character offset."""
        if self._starts is None:
            self._starts = [m.start() for m in WORD_RE.finditer(self.folded)]
        return bisect_right(self._starts, offset) - 1

    @property
    def hashtags(self) -> set[str]:
        if self._tags is None:
            self._tags = set(HASHTAG_RE.findall(self.folded)) if "#" in self.folded else _EMPTY
        return self._tags

    def hashtag_positions(self) -> dict[str, list[int]]:
        if self._tag_at is None:
            at: dict[str, list[int]] = {}
            if self.hashtags:
                for m in HASHTAG_RE.finditer(self.folded):
                    at.setdefault(m.group(1), []).append(self._word_at(m.start(1)))
            self._tag_at = at
        return self._tag_at

    @property
    def mentions(self) -> set[str]:
        """Handles mentioned: ``ana`` for @ana, and both ``ana`` and ``ana@mastodon.social`` for
        @ana@mastodon.social."""
        if self._mentions is None:
            if "@" in self.folded:
                found = set()
                for local, host in MENTION_RE.findall(self.folded):
                    found.add(local)
                    if host:
                        found.add(f"{local}@{host}")
                self._mentions = found
            else:
                self._mentions = _EMPTY
        return self._mentions

    def mention_spans(self) -> dict[str, list[tuple[int, int]]]:
        if self._mention_at is None:
            at: dict[str, list[tuple[int, int]]] = {}
            if self.mentions:
                for m in MENTION_RE.finditer(self.folded):
                    span = (self._word_at(m.start(1)), self._word_at(m.end() - 1))
                    at.setdefault(m.group(1), []).append(span)
                    if m.group(2):
                        at.setdefault(f"{m.group(1)}@{m.group(2)}", []).append(span)
            self._mention_at = at
        return self._mention_at


_EMPTY: frozenset = frozenset()


def as_document(doc) -> Document:
    if isinstance(doc, Document):
        return doc
    if isinstance(doc, str):
        return Document(doc)
    if isinstance(doc, dict):
        return Document.of(**doc)
    raise TypeError("expected a Document")


# -- evaluation over a Document ------------------------------------------------------------------

def spans(node: Node, doc: Document) -> list[tuple[int, int]]:
    """Word spans (first, last index) where a positional node occurs."""
    if isinstance(node, Term):
        return [(i, i) for i in doc.positions().get(node.word, ())]
    if isinstance(node, Prefix):
        stem = node.stem
        return [(i, i) for i, w in enumerate(doc.words) if w.startswith(stem)]
    if isinstance(node, Phrase):
        return phrase_spans(node.words, doc)
    if isinstance(node, Hashtag):
        return [(i, i) for i in doc.hashtag_positions().get(node.tag, ())]
    if isinstance(node, Mention):
        return list(doc.mention_spans().get(node.handle, ()))
    if isinstance(node, Or):
        out = []
        for c in node.children:
            out.extend(spans(c, doc))
        return out
    raise TypeError(node)


def phrase_spans(words: tuple[str, ...], doc: Document) -> list[tuple[int, int]]:
    ws, n, out = doc.words, len(words), []
    for i in doc.positions().get(words[0], ()):
        if tuple(ws[i:i + n]) == words:
            out.append((i, i + n - 1))
    return out


def has_phrase(words: tuple[str, ...], doc: Document) -> bool:
    wordset = doc.wordset
    for w in words:
        if w not in wordset:
            return False
    ws, n = doc.words, len(words)
    first = words[0]
    i = -1
    try:
        while True:
            i = ws.index(first, i + 1)
            if tuple(ws[i:i + n]) == words:
                return True
    except ValueError:
        return False


def starts_word(folded: str, stem: str) -> bool:
    """Whether some word of ``folded`` begins with ``stem`` (a run of word characters): an
    occurrence not preceded by a word character (``\\w`` is ``isalnum()`` or ``_``)."""
    i = folded.find(stem)
    while i != -1:
        if i == 0:
            return True
        c = folded[i - 1]
        if not (c.isalnum() or c == "_"):
            return True
        i = folded.find(stem, i + 1)
    return False


def has_prefix(stem: str, doc: Document) -> bool:
    return starts_word(doc.folded, stem)


def near_ok(a: list, b: list, n: int) -> bool:
    """Whether some span of ``a`` and some span of ``b`` do not overlap and have at most ``n``
    words between them. O((len(a) + len(b)) log len(b)), for long messages with repeated words."""
    starts = sorted(s for s, _e in b)
    ends = sorted(e for _s, e in b)
    for s1, e1 in a:
        j = bisect_right(starts, e1)          # the first span of b that starts after this one ends
        if j < len(starts) and starts[j] - e1 - 1 <= n:
            return True
        k = bisect_left(ends, s1) - 1         # the last span of b that ends before this one starts
        if k >= 0 and s1 - ends[k] - 1 <= n:
            return True
    return False


def is_near(left: Node, right: Node, n: int, doc: Document) -> bool:
    a = spans(left, doc)
    if not a:
        return False
    b = spans(right, doc)
    return bool(b) and near_ok(a, b, n)


def field_matches(name: str, value: str, doc: Document) -> bool:
    if name == "lang":
        return doc.language == value
    if name == "network":
        return doc.network == value
    if name == "site":
        return doc.site == value or doc.site.endswith("." + value)
    if name == "author":
        a = doc.author
        return a == value or a.split("@", 1)[0] == value
    return False


def evaluate(node: Node, doc: Document) -> bool:
    """Whether the tree matches the document (a plain tree walk; `Matcher` compiles instead)."""
    t = type(node)
    if t is Term:
        return node.word in doc.wordset
    if t is And:
        return all(evaluate(c, doc) for c in node.children)
    if t is Or:
        return any(evaluate(c, doc) for c in node.children)
    if t is Not:
        return not evaluate(node.child, doc)
    if t is Prefix:
        return has_prefix(node.stem, doc)
    if t is Phrase:
        return has_phrase(node.words, doc)
    if t is Hashtag:
        return node.tag in doc.hashtags
    if t is Mention:
        return node.handle in doc.mentions
    if t is Field:
        return field_matches(node.name, node.value, doc)
    if t is Near:
        return is_near(node.left, node.right, node.distance, doc)
    raise TypeError(node)


# -- the parser ----------------------------------------------------------------------------------

@dataclass
class Tok:
    kind: str   # "(", ")", "phrase", "word", "AND", "OR", "NOT", "NEAR", "-", "end"
    text: str
    col: int    # 1-based
    value: int = 0  # NEAR distance


_NEAR_RE = re.compile(r"NEAR(?:/(\d*))?$")


def _lex(text: str) -> list[Tok]:
    toks: list[Tok] = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c.isspace():
            i += 1
            continue
        if c in "()":
            toks.append(Tok(c, c, i + 1))
            i += 1
            continue
        if c in "\"“”":
            j = i + 1
            while j < n and text[j] not in "\"“”":
                j += 1
            if j >= n:
                raise QueryError(i + 1, _("Column %(column)s: the quotes are not closed"))
            toks.append(Tok("phrase", text[i + 1:j], i + 1))
            i = j + 1
            continue
        if c == "-" and i + 1 < n and not text[i + 1].isspace():
            toks.append(Tok("-", "-", i + 1))
            i += 1
            continue
        j = i
        while j < n and not text[j].isspace() and text[j] not in "()\"“”":
            j += 1
        word = text[i:j]
        if word in ("AND", "OR", "NOT"):
            toks.append(Tok(word, word, i + 1))
        elif word.startswith("NEAR") and (word == "NEAR" or word[4:5] == "/"):
            m = _NEAR_RE.match(word)
            if not m or not m.group(1):
                raise QueryError(i + 1, _("Column %(column)s: NEAR needs a number, as in NEAR/5"))
            dist = int(m.group(1)) if len(m.group(1)) <= 6 else MAX_NEAR + 1
            if dist > MAX_NEAR:
                raise QueryError(i + 1, _("Column %(column)s: NEAR allows at most %(limit)s words in between"),
                                 limit=MAX_NEAR)
            toks.append(Tok("NEAR", word, i + 1, dist))
        elif word == "-":
            toks.append(Tok("-", "-", i + 1))
        else:
            toks.append(Tok("word", word, i + 1))
        i = j
    toks.append(Tok("end", "", n + 1))
    return toks


_STARTS = ("(", "phrase", "word", "NOT", "-")


class _Parser:
    def __init__(self, text: str):
        self.text = text
        self.toks = _lex(text)
        self.pos = 0
        self.depth = 0
        self.nots = 0
        self.terms = 0

    def peek(self) -> Tok:
        return self.toks[self.pos]

    def take(self) -> Tok:
        t = self.toks[self.pos]
        self.pos += 1
        return t

    def parse(self) -> Node:
        node = self.parse_or()
        t = self.peek()
        if t.kind == ")":
            raise QueryError(t.col, _("Column %(column)s: this closing parenthesis has no opening one"))
        if t.kind != "end":  # pragma: no cover - parse_or consumes everything else
            raise QueryError(t.col, _("Column %(column)s: unexpected “%(token)s”"), token=t.text)
        return node

    def need_operand(self, op: Tok) -> None:
        t = self.peek()
        if t.kind not in _STARTS:
            raise QueryError(op.col, _("Column %(column)s: %(operator)s needs a term after it"),
                             operator=op.text)

    def parse_or(self) -> Node:
        self._no_leading_operator()
        children = [self.parse_and()]
        while self.peek().kind == "OR":
            op = self.take()
            self.need_operand(op)
            children.append(self.parse_and())
        if len(children) == 1:
            return children[0]
        flat = []
        for c in children:
            flat.extend(c.children if isinstance(c, Or) else (c,))
        return Or(tuple(flat))

    def _no_leading_operator(self) -> None:
        t = self.peek()
        if t.kind in ("AND", "OR", "NEAR"):
            raise QueryError(t.col, _("Column %(column)s: %(operator)s needs a term before it"),
                             operator=t.text.split("/")[0])

    def parse_and(self) -> Node:
        children = [self.parse_unary()]
        while True:
            t = self.peek()
            if t.kind == "AND":
                self.take()
                self.need_operand(t)
                children.append(self.parse_unary())
            elif t.kind in _STARTS:
                children.append(self.parse_unary())
            elif t.kind == "NEAR":
                raise QueryError(t.col, _("Column %(column)s: NEAR joins just two terms; "
                                          "combine NEARs with AND or OR"))
            else:
                break
        if len(children) == 1:
            return children[0]
        flat = []
        for c in children:
            flat.extend(c.children if isinstance(c, And) else (c,))
        return And(tuple(flat))

    def parse_unary(self) -> Node:
        t = self.peek()
        if t.kind in ("NOT", "-"):
            self.take()
            self.need_operand(t)
            self.nots += 1
            if self.nots > MAX_NOTS:
                raise QueryError(t.col, _("Column %(column)s: the query is nested more than %(limit)s levels deep"),
                                 limit=MAX_NOTS)
            child = self.parse_unary()
            self.nots -= 1
            return Not(child)
        return self.parse_near()

    def parse_near(self) -> Node:
        start = self.peek()
        left = self.parse_primary()
        t = self.peek()
        if t.kind != "NEAR":
            return left
        self.take()
        self._near_side(left, start)
        rstart = self.peek()
        if rstart.kind not in ("(", "phrase", "word"):
            raise QueryError(t.col, _("Column %(column)s: %(operator)s needs a term after it"), operator="NEAR")
        right = self.parse_primary()
        self._near_side(right, rstart)
        return Near(left, right, t.value)

    def _near_side(self, node: Node, tok: Tok) -> None:
        ok = isinstance(node, POSITIONAL) or (isinstance(node, Or) and all(isinstance(c, POSITIONAL)
                                                                            for c in node.children))
        if not ok:
            raise QueryError(tok.col, _("Column %(column)s: NEAR joins words, phrases, hashtags or mentions, "
                                        "or an OR of them in parentheses"))

    def count_term(self, tok: Tok) -> None:
        self.terms += 1
        if self.terms > MAX_TERMS:
            raise QueryError(tok.col, _("Column %(column)s: the query has more than %(limit)s terms"),
                             limit=MAX_TERMS)

    def parse_primary(self) -> Node:
        t = self.take()
        if t.kind == "(":
            self.depth += 1
            if self.depth > MAX_DEPTH:
                raise QueryError(t.col, _("Column %(column)s: the query is nested more than %(limit)s levels deep"),
                                 limit=MAX_DEPTH)
            if self.peek().kind == ")":
                raise QueryError(t.col, _("Column %(column)s: the parentheses are empty"))
            node = self.parse_or()
            close = self.take()
            if close.kind != ")":
                raise QueryError(t.col, _("Column %(column)s: a closing parenthesis is missing"))
            self.depth -= 1
            return node
        if t.kind == "phrase":
            self.count_term(t)
            words = tuple(WORD_RE.findall(fold(t.text)))
            if not words:
                raise QueryError(t.col, _("Column %(column)s: the phrase has no letters or digits to search for"))
            return Phrase(words) if len(words) > 1 else Term(words[0])
        if t.kind == "word":
            self.count_term(t)
            return self.word(t)
        if t.kind == ")":
            raise QueryError(t.col, _("Column %(column)s: this closing parenthesis has no opening one"))
        if t.kind == "end":
            raise QueryError(t.col, _("Column %(column)s: the query ends too soon"))
        raise QueryError(t.col, _("Column %(column)s: %(operator)s needs a term before it"),
                         operator=t.text.split("/")[0])

    def word(self, t: Tok) -> Node:
        raw = t.text
        head, sep, rest = raw.partition(":")
        if sep and head.lower() in FIELDS:
            return self.field(FIELDS[head.lower()], rest, t, head)
        if raw.startswith("#"):
            tag = fold(raw[1:])
            if not re.fullmatch(r"\w+", tag):
                raise QueryError(t.col, _("Column %(column)s: a hashtag is # followed by letters or digits, "
                                          "as in #tertulia"))
            return Hashtag(tag)
        if raw.startswith("@"):
            handle = fold(raw[1:])
            if not HANDLE_RE.fullmatch(handle):
                raise QueryError(t.col, _("Column %(column)s: a mention is @ followed by a handle, as in @tertulia"))
            return Mention(handle)
        if raw.endswith("*"):
            stem = fold(raw[:-1])
            if "*" in stem or not re.fullmatch(r"\w+", stem):
                raise QueryError(t.col, _("Column %(column)s: the asterisk goes at the end of a single word, "
                                          "as in pésim*"))
            if len(stem) < MIN_PREFIX:
                raise QueryError(t.col, _("Column %(column)s: a wildcard needs at least %(limit)s letters "
                                          "before the asterisk"), limit=MIN_PREFIX)
            return Prefix(stem)
        if "*" in raw:
            raise QueryError(t.col + raw.index("*"), _("Column %(column)s: the asterisk goes at the end of a "
                                                       "single word, as in pésim*"))
        words = tuple(WORD_RE.findall(fold(raw)))
        if not words:
            raise QueryError(t.col, _("Column %(column)s: “%(text)s” has no letters or digits to search for"),
                             text=raw[:40])
        return Phrase(words) if len(words) > 1 else Term(words[0])

    def field(self, name: str, value: str, t: Tok, head: str) -> Node:
        col = t.col + len(head) + 1
        examples = {"author": "author:@tertulia", "lang": "lang:es", "site": "site:example.com",
                    "network": "network:mastodon"}
        if not value:
            raise QueryError(t.col, _("Column %(column)s: %(field)s needs a value, as in %(example)s"),
                             field=head + ":", example=examples[name])
        if name == "lang":
            v = value.lower()
            if not LANG_RE.fullmatch(v):
                raise QueryError(col, _("Column %(column)s: “%(value)s” is not a language code, as in lang:es"),
                                 value=value[:40])
            return Field("lang", v)
        if name == "network":
            v = norm_network(value)
            if v not in NETWORKS:
                raise QueryError(col, _("Column %(column)s: “%(value)s” is not a network; use one of %(choices)s"),
                                 value=value[:40], choices=", ".join(NETWORKS))
            return Field("network", v)
        if name == "site":
            v = norm_site(value)
            if v.startswith("www."):
                v = v[4:]
            if not v or len(v) > 253 or not DOMAIN_RE.fullmatch(v):
                raise QueryError(col, _("Column %(column)s: “%(value)s” is not a domain, as in site:example.com"),
                                 value=value[:40])
            return Field("site", v)
        v = norm_handle(value)
        if not HANDLE_RE.fullmatch(v):
            raise QueryError(col, _("Column %(column)s: “%(value)s” is not a handle, as in author:@tertulia"),
                             value=value[:40])
        return Field("author", v)


def parse(text: str) -> Node:
    if text is None or not str(text).strip():
        raise QueryError(1, _("Column %(column)s: the query is empty"))
    text = str(text)
    if len(text) > MAX_LENGTH:
        raise QueryError(MAX_LENGTH + 1, _("Column %(column)s: the query is longer than %(limit)s characters"),
                         limit=MAX_LENGTH)
    return _Parser(text).parse()


# -- compiled queries ----------------------------------------------------------------------------

@dataclass(frozen=True, eq=False)
class Query:
    text: str
    tree: Node

    def matches(self, doc) -> bool:
        return evaluate(self.tree, as_document(doc))

    def __str__(self) -> str:
        return str(self.tree)


def compile(text: str) -> Query:  # noqa: A001 - the contract's name
    return Query(text, parse(text))


# -- what a match needs (for the prefilter) -------------------------------------------------------

def needs(node: Node) -> frozenset[tuple[str, str]] | None:
    """What every match of the node contains, as a set of alternatives (at least one is there), or
    None when the node can match without any (NOT x, lang:es). Each alternative is (kind, text):
    ``("w", word)`` the word, ``("p", stem)`` a word starting with stem, ``("#", tag)`` the
    hashtag, ``("@", local)`` a mention of that handle (its part before any @server). Each also
    appears in the folded text as a substring: the word or stem, ``#tag``, ``@local``."""
    if isinstance(node, Term):
        return frozenset((("w", node.word),))
    if isinstance(node, Prefix):
        return frozenset((("p", node.stem),))
    if isinstance(node, Phrase):
        return frozenset((("w", max(node.words, key=len)),))
    if isinstance(node, Hashtag):
        return frozenset((("#", node.tag),))
    if isinstance(node, Mention):
        return frozenset((("@", node.handle.split("@", 1)[0]),))
    if isinstance(node, (Field, Not)):
        return None
    if isinstance(node, Near):
        return _best([needs(node.left), needs(node.right)])
    if isinstance(node, And):
        return _best([needs(c) for c in node.children])
    if isinstance(node, Or):
        out: set = set()
        for c in node.children:
            n = needs(c)
            if n is None:
                return None
            out |= n
        return frozenset(out)
    raise TypeError(node)


def _best(options: list) -> frozenset | None:
    options = [o for o in options if o is not None]
    if not options:
        return None
    # fewest alternatives, then the longest shortest literal (rarer)
    return min(options, key=lambda o: (len(o), -min(len(text) for _kind, text in o)))
