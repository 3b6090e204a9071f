"""Matching many listening queries against a stream of messages.

``Matcher(queries)`` compiles every query once and keeps an Aho-Corasick automaton of the
literals each query needs (a word, a prefix, the rarest word of a phrase, ``#tag``, ``@handle``;
for an OR, any of its branches' literals). For each message the folded text goes through the
automaton once, and only the queries whose literals appear (plus those that can match without
any, like ``NOT x`` or ``lang:es``) are evaluated, on the message tokenised once.

``NaiveMatcher(queries)`` is the baseline: each query becomes Python regular expressions over the
folded text, and every query is checked against every message. Same semantics, no prefilter.

Both are immutable once built, so they are safe to share between threads.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Callable, Iterable

import ahocorasick

from .query import (And, Document, Field, Hashtag, Mention, Near, Not, Or, Phrase, Prefix, Query, QueryError,
                    Term, as_document, compile, field_matches, has_phrase, is_near, needs, starts_word)

__all__ = ["Document", "Matcher", "NaiveMatcher"]


# -- compiled evaluation -------------------------------------------------------------------------
#
# Each query becomes one Python function ``f(d, W)`` (d the Document, W its set of words) built
# from the tree: an expression such as
# ``('nike' in W) and not ('adidas' in W)``. Only ``repr`` of the tree's own strings and ints and
# the helper names below appear in the generated source, so a query can never inject code.

_HELPERS = {"starts_word": starts_word, "has_phrase": has_phrase, "is_near": is_near,
            "field_matches": field_matches}


def _expr(node, consts: list) -> str:
    t = type(node)
    if t is Term:
        return f"({_lit(node.word)} in W)"
    if t is Prefix:
        return f"starts_word(d.folded, {_lit(node.stem)})"
    if t is Phrase:
        return f"has_phrase({_lit(node.words)}, d)"
    if t is Hashtag:
        return f"({_lit(node.tag)} in d.hashtags)"
    if t is Mention:
        return f"({_lit(node.handle)} in d.mentions)"
    if t is Field:
        if node.name == "lang":
            return f"(d.language == {_lit(node.value)})"
        if node.name == "network":
            return f"(d.network == {_lit(node.value)})"
        return f"field_matches({_lit(node.name)}, {_lit(node.value)}, d)"
    if t is Not:
        return f"(not {_expr(node.child, consts)})"
    if t is And:
        return "(" + " and ".join(_expr(c, consts) for c in node.children) + ")"
    if t is Or:
        return "(" + " or ".join(_expr(c, consts) for c in node.children) + ")"
    if t is Near:  # both sides present (cheap) before looking at positions
        consts.append((node.left, node.right))
        i = len(consts) - 1
        return (f"({_expr(node.left, consts)} and {_expr(node.right, consts)} and "
                f"is_near(C[{i}][0], C[{i}][1], {int(node.distance)}, d))")
    raise TypeError(node)


def _lit(value) -> str:
    if isinstance(value, tuple) and all(type(v) is str for v in value):
        return repr(value)
    if type(value) is not str:
        raise TypeError(value)
    return repr(value)


def _fn(node) -> Callable:
    consts: list = []
    source = f"lambda d, W: {_expr(node, consts)}"
    return eval(source, {"__builtins__": {}, "C": tuple(consts), **_HELPERS})  # noqa: S307 - see above  # nosec B307 # compiled from our parsed query AST; user text only as repr() literals, no builtins


@lru_cache(maxsize=20_000)
def _prepared(text: str) -> tuple[Query, Callable, frozenset | None]:
    """A query compiled, its function and its literals, cached by text: a Matcher is rebuilt for
    every poll of a brand's sources, and the queries rarely change. Errors are not cached (their
    message is in the language active when they are raised)."""
    query = compile(text)
    return query, _fn(query.tree), needs(query.tree)


def _compile_all(queries: Iterable[tuple[int, str]]) -> tuple[dict[int, Query], dict[int, str]]:
    compiled: dict[int, Query] = {}
    errors: dict[int, str] = {}
    for qid, text in queries:
        try:
            compiled[qid] = _prepared(text)[0]
            errors.pop(qid, None)
        except QueryError as exc:
            compiled.pop(qid, None)
            errors[qid] = str(exc)
    return compiled, errors


class Matcher:
    """Many queries, one Aho-Corasick pass per message. ``errors``: query id -> why it was skipped.

    Each literal the automaton finds is confirmed once per message before its queries are
    evaluated: a word must be one of the message's words (not just a substring: "caro" in
    "carofa"), a stem must begin a word, a hashtag or mention must be one."""

    def __init__(self, queries: Iterable[tuple[int, str]]):
        self.queries, self.errors = _compile_all(queries)
        self._fns: dict[int, Callable] = {}
        always: dict[int, Callable] = {}
        by_literal: dict[tuple[str, str], dict[int, Callable]] = {}
        for qid, q in self.queries.items():
            _q, fn, lits = _prepared(q.text)
            self._fns[qid] = fn
            if lits is None:
                always[qid] = fn
            else:
                for lit in lits:
                    by_literal.setdefault(lit, {})[qid] = fn
        self._always = always
        self._automaton = None
        if by_literal:
            groups: dict[str, list] = {}
            for (kind, text), entries in by_literal.items():
                key = kind + text if kind in ("#", "@") else text  # as it appears in the folded text
                groups.setdefault(key, []).append((kind, text, entries))
            self._groups = tuple(tuple(g) for g in groups.values())
            a = ahocorasick.Automaton()
            for i, key in enumerate(groups):
                a.add_word(key, i)
            a.make_automaton()
            self._automaton = a

    def __len__(self) -> int:
        return len(self.queries)

    def _todo(self, doc: Document) -> dict[int, Callable]:
        todo = dict(self._always)
        if self._automaton is None:
            return todo
        found = {i for _end, i in self._automaton.iter(doc.folded)}
        if not found:
            return todo
        words, groups = doc.wordset, self._groups
        for i in found:
            for kind, text, entries in groups[i]:
                if kind == "w":
                    if text not in words:
                        continue
                elif kind == "p":
                    if not starts_word(doc.folded, text):
                        continue
                elif kind == "#":
                    if text not in doc.hashtags:
                        continue
                elif text not in doc.mentions:
                    continue
                todo.update(entries)
        return todo

    def candidates(self, doc: Document) -> set[int]:
        """The ids of the queries the prefilter lets through (a superset of the matches)."""
        return set(self._todo(as_document(doc)))

    def match(self, doc) -> list[int]:
        doc = as_document(doc)
        todo = self._todo(doc)
        if not todo:
            return []
        W = doc.wordset
        return sorted([qid for qid, f in todo.items() if f(doc, W)])


# -- the naive baseline: regular expressions, every query on every message ------------------------

_H = r"\w+(?:[.\-]\w+)*"


def _pattern(node) -> str:
    if isinstance(node, Term):
        return rf"(?<!\w){re.escape(node.word)}(?!\w)"
    if isinstance(node, Prefix):
        return rf"(?<!\w){re.escape(node.stem)}\w*+"
    if isinstance(node, Phrase):
        return r"(?<!\w)" + r"\W+".join(re.escape(w) for w in node.words) + r"(?!\w)"
    if isinstance(node, Hashtag):
        return rf"(?<!\w)#{re.escape(node.tag)}(?!\w)"
    if isinstance(node, Mention):
        if "@" in node.handle:
            return rf"(?<!\w)@{re.escape(node.handle)}(?![\w]|[.\-]\w)"
        return rf"(?<!\w)@{re.escape(node.handle)}(?![\w]|[.\-]\w)(?:@{_H})?+"
    if isinstance(node, Or):
        return "(?:" + "|".join(_pattern(c) for c in node.children) + ")"
    raise TypeError(node)


def _naive(node) -> Callable[[Document], bool]:
    if isinstance(node, (Term, Prefix, Phrase, Hashtag, Mention)):
        search = re.compile(_pattern(node)).search
        return lambda d: search(d.folded) is not None
    if isinstance(node, Near):
        left, right = f"(?:{_pattern(node.left)})", f"(?:{_pattern(node.right)})"
        gap = rf"\W+(?:\w+\W+){{0,{node.distance}}}"
        search = re.compile(f"{left}{gap}{right}|{right}{gap}{left}").search
        return lambda d: search(d.folded) is not None
    if isinstance(node, Field):
        name, value = node.name, node.value
        return lambda d: field_matches(name, value, d)
    if isinstance(node, Not):
        f = _naive(node.child)
        return lambda d: not f(d)
    if isinstance(node, And):
        fs = [_naive(c) for c in node.children]
        return lambda d: all(f(d) for f in fs)
    if isinstance(node, Or):
        fs = [_naive(c) for c in node.children]
        return lambda d: any(f(d) for f in fs)
    raise TypeError(node)


class NaiveMatcher:
    """The baseline: every query, as regular expressions, checked against every message."""

    def __init__(self, queries: Iterable[tuple[int, str]]):
        self.queries, self.errors = _compile_all(queries)
        self._fns = sorted((qid, _naive(q.tree)) for qid, q in self.queries.items())

    def match(self, doc) -> list[int]:
        doc = as_document(doc)
        return [qid for qid, f in self._fns if f(doc)]
