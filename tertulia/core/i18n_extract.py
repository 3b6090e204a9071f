"""Find the translatable strings in our code and templates without GNU gettext, and the
visible text in templates that is *not* marked for translation. Used by the catalog tests."""

from __future__ import annotations

import ast
import re
from html.parser import HTMLParser
from pathlib import Path

from django.template.base import Lexer, TokenType
from django.utils.text import smart_split

ROOT = Path(__file__).resolve().parent.parent
GETTEXT_FUNCS = {"_", "gettext", "gettext_lazy", "gettext_noop", "pgettext", "pgettext_lazy",
                 "ngettext", "ngettext_lazy", "npgettext", "npgettext_lazy"}


def python_files() -> list[Path]:
    return [p for p in ROOT.rglob("*.py") if "/tests/" not in str(p) and "/migrations/" not in str(p)]


def template_files() -> list[Path]:
    return sorted(ROOT.rglob("templates/**/*.html")) + sorted(ROOT.rglob("templates/**/*.txt"))


def msgids_in_python(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if not isinstance(node, ast.Call):
            continue
        name = getattr(node.func, "id", None) or getattr(node.func, "attr", None)
        if name not in GETTEXT_FUNCS:
            continue
        args = node.args[1:] if name.startswith(("pgettext", "npgettext")) else node.args
        for arg in args[: 2 if "ngettext" in name else 1]:
            if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
                found.add(arg.value)
    return found


_ws = re.compile(r"\s+")


def _unquote(s: str) -> str | None:
    if len(s) >= 2 and s[0] == s[-1] and s[0] in "\"'":
        return s[1:-1]
    return None


def msgids_in_template(source: str) -> set[str]:
    """Mirror Django's templatize(): {% translate "x" %} and {% blocktranslate %} bodies."""
    found: set[str] = set()
    tokens = Lexer(source).tokenize()
    i = 0
    while i < len(tokens):
        tok = tokens[i]
        if tok.token_type == TokenType.BLOCK:
            bits = list(smart_split(tok.contents))
            if bits and bits[0] in ("translate", "trans") and len(bits) > 1:
                literal = _unquote(bits[1])
                if literal is not None and bits[1] not in ("noop",):
                    found.add(literal)
            elif bits and bits[0] in ("blocktranslate", "blocktrans"):
                trimmed = "trimmed" in bits
                singular, plural, current = [], [], None
                current = singular
                i += 1
                while i < len(tokens):
                    t = tokens[i]
                    if t.token_type == TokenType.BLOCK and t.contents.split()[0] in ("endblocktranslate", "endblocktrans"):
                        break
                    if t.token_type == TokenType.BLOCK and t.contents.split()[0] == "plural":
                        current = plural
                    elif t.token_type == TokenType.VAR:
                        current.append("%%(%s)s" % t.contents.split("|")[0].strip())
                    elif t.token_type == TokenType.TEXT:
                        current.append(t.contents.replace("%", "%%"))
                    i += 1
                for parts in (singular, plural):
                    if parts:
                        text = "".join(parts)
                        if trimmed:
                            text = _ws.sub(" ", text).strip()
                        found.add(text)
        i += 1
    return found


def all_msgids() -> dict[str, str]:
    """msgid -> first place it was found."""
    out: dict[str, str] = {}
    for path in python_files():
        for m in msgids_in_python(path):
            out.setdefault(m, str(path.relative_to(ROOT)))
    for path in template_files():
        for m in msgids_in_template(path.read_text()):
            out.setdefault(m, str(path.relative_to(ROOT)))
    return out


VISIBLE_ATTRS = {"title", "placeholder", "aria-label", "alt", "label"}
# Words that are the same in every language: the product's and networks' names, codes.
NOT_TRANSLATED = {"Tertulia", "ES", "EN", "API", "Mastodon", "Bluesky", "LinkedIn", "WordPress", "Telegram"}


class _VisibleText(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.chunks: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag, attrs):
        if tag in ("script", "style"):
            self._skip += 1
        for name, value in attrs:
            if name in VISIBLE_ATTRS and value:
                self.chunks.append(value)

    def handle_endtag(self, tag):
        if tag in ("script", "style") and self._skip:
            self._skip -= 1

    def handle_data(self, data):
        if not self._skip:
            self.chunks.append(data)


_word = re.compile(r"[^\W\d_]{2,}")


def untranslated_text(source: str) -> list[str]:
    """Visible words in a template that sit outside {% translate %}/{% blocktranslate %}."""
    tokens = Lexer(source).tokenize()
    plain, inside_block = [], False
    for tok in tokens:
        if tok.token_type == TokenType.BLOCK:
            head = tok.contents.split()[0] if tok.contents.split() else ""
            if head in ("blocktranslate", "blocktrans"):
                inside_block = True
            elif head in ("endblocktranslate", "endblocktrans"):
                inside_block = False
            plain.append(" ")
        elif tok.token_type == TokenType.TEXT and not inside_block:
            plain.append(tok.contents)
        else:
            plain.append(" ")
    parser = _VisibleText()
    parser.feed("".join(plain))
    words = []
    for chunk in parser.chunks:
        words.extend(w for w in _word.findall(chunk) if w not in NOT_TRANSLATED)
    return words
