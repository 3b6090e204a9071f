"""Ways of measuring a Python string that the networks use: UTF-16 code units (JavaScript and
Java string length), UTF-8 bytes, code points and extended grapheme clusters (what a person sees
as one character). All of them take any `str`, unpaired surrogates included, without raising."""

from __future__ import annotations

import re

import regex

_SURROGATE = re.compile("[\ud800-\udfff]")
_GRAPHEME = regex.compile(r"\X")


def has_unpaired_surrogates(text: str) -> bool:
    """A Python string holds surrogates only when they are unpaired (UTF-8 cannot carry them)."""
    return not text.isascii() and _SURROGATE.search(text) is not None


def utf16_len(text: str) -> int:
    if text.isascii():
        return len(text)
    if max(text) <= "\uffff":
        return len(text)
    return len(text.encode("utf-16-le", "surrogatepass")) >> 1


def utf8_len(text: str) -> int:
    if text.isascii():
        return len(text)
    return len(text.encode("utf-8", "surrogatepass"))


def grapheme_len(text: str) -> int:
    if text.isascii():
        # In ASCII only CR LF joins two code points into one cluster.
        return len(text) - text.count("\r\n")
    return len(_GRAPHEME.findall(text))


def utf16_offsets(text: str, indices: list[int]) -> list[int]:
    """Code point offsets -> UTF-16 offsets, for offsets in ascending order."""
    if text.isascii() or max(text) <= "\uffff":
        return list(indices)
    out, pos, units = [], 0, 0
    for i in indices:
        if i > pos:
            units += utf16_len(text[pos:i])
            pos = i
        out.append(units)
    return out


def utf8_offsets(text: str, indices: list[int]) -> list[int]:
    """Code point offsets -> UTF-8 byte offsets, for offsets in ascending order."""
    if text.isascii():
        return list(indices)
    out, pos, nbytes = [], 0, 0
    for i in indices:
        if i > pos:
            nbytes += utf8_len(text[pos:i])
            pos = i
        out.append(nbytes)
    return out
