"""Translation catalogs: compile .po to .mo without GNU gettext (polib), and check them.

`python -m tertulia.core.catalogs compile` is run by `make`, so a fresh machine needs no
gettext package to get a translated interface.
"""

from __future__ import annotations

import sys
from pathlib import Path

import polib

LOCALE_DIR = Path(__file__).resolve().parent.parent / "locale"


def po_files() -> list[Path]:
    return sorted(LOCALE_DIR.glob("*/LC_MESSAGES/*.po"))


def compile_all() -> int:
    count = 0
    for po_path in po_files():
        mo_path = po_path.with_suffix(".mo")
        if mo_path.exists() and mo_path.stat().st_mtime >= po_path.stat().st_mtime:
            continue
        polib.pofile(str(po_path)).save_as_mofile(str(mo_path))
        count += 1
    return count


def fill_english() -> int:
    """Our source strings are English: the en catalog's translations are the msgids."""
    po = polib.pofile(str(LOCALE_DIR / "en" / "LC_MESSAGES" / "django.po"))
    filled = 0
    for entry in po:
        if entry.msgid_plural and not entry.translated():
            entry.msgstr_plural = {0: entry.msgid, 1: entry.msgid_plural}
            filled += 1
        elif not entry.msgid_plural and not entry.msgstr:
            entry.msgstr = entry.msgid
            filled += 1
        if "fuzzy" in entry.flags:
            entry.flags.remove("fuzzy")
    po.save()
    return filled


if __name__ == "__main__":
    commands = {"compile": compile_all, "fill-english": fill_english}
    if len(sys.argv) != 2 or sys.argv[1] not in commands:
        sys.exit("usage: python -m tertulia.core.catalogs compile|fill-english")
    commands[sys.argv[1]]()
