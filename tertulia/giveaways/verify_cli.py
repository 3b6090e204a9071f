"""``tertulia verify-draw proof.json``: check a giveaway's published proof on your own machine.

Pure Python like ``draw``: no Django settings, database or secret key, so anyone who downloaded
the proof (the public page's proof.json, or the API's ``/proof``) can run it. Each check is
printed with ✔ or ✘, then a one-line verdict, in Spanish or English (``--lang``, or the
terminal's ``LC_ALL`` / ``LC_MESSAGES`` / ``LANG``), read with the standard library's gettext
from Tertulia's own compiled catalogs.

Exit status: 0 when every check passes, 1 when one fails, 2 when the file or the proof cannot
be read (the message says why).
"""

from __future__ import annotations

import argparse
import gettext
import json
import os
import sys
import unicodedata
from pathlib import Path

from . import draw

OK, FAILED, UNREADABLE = 0, 1, 2
MAX_BYTES = 256 * 1024 * 1024  # a proof of a million entries is well under this
LOCALE_DIR = Path(__file__).resolve().parent.parent / "locale"
LANGUAGES = ("es", "en")

_catalog: gettext.NullTranslations = gettext.NullTranslations()


def _(message: str) -> str:
    return _catalog.gettext(message)


def _activate(language: str | None) -> None:
    global _catalog
    if language is None:
        for var in ("LC_ALL", "LC_MESSAGES", "LANG", "LANGUAGE"):
            value = os.environ.get(var, "")
            if value:
                language = value.split(":")[0][:2].lower()
                break
    language = language if language in LANGUAGES else "en"
    _catalog = gettext.translation("django", localedir=str(LOCALE_DIR), languages=[language], fallback=True)


def _checks() -> dict[str, tuple[str, str]]:
    """Each check draw.verify makes: (when it passes, when it fails)."""
    return {
        "announced": (_("the proof carries the commitment given with --commitment"),
                      _("the proof does NOT carry the commitment given with --commitment: it is not that draw's")),
        "commitment": (_("the seed's SHA-256 is the commitment published before the draw"),
                       _("the seed's SHA-256 is NOT the published commitment: the seed was changed")),
        "entries_hash": (_("the entry list's SHA-256 is the published entries_hash"),
                         _("the entry list's SHA-256 is NOT the published entries_hash: the list was changed")),
        "winners": (_("the winners follow from the seed and the entry list"),
                    _("the winners do NOT follow from the seed and the entry list")),
        "substitutes": (_("the substitutes follow from the seed and the entry list"),
                        _("the substitutes do NOT follow from the seed and the entry list")),
    }


class Unreadable(Exception):
    pass


def _clean(value, limit: int = 200) -> str:
    """Text from the proof, safe for a terminal: control characters (escape sequences a
    hostile handle could carry) are shown as \\uXXXX."""
    text = str(value)[:limit]
    return "".join(c if unicodedata.category(c)[0] != "C" else f"\\u{ord(c):04x}" for c in text)


def _read(path: str) -> dict:
    shown = {"path": _clean(path, 500)}
    try:
        if path == "-":
            raw = sys.stdin.buffer.read(MAX_BYTES + 1)
        else:
            with open(path, "rb") as fh:
                raw = fh.read(MAX_BYTES + 1)
    except FileNotFoundError:
        raise Unreadable(_("no such file: %(path)s") % shown) from None
    except IsADirectoryError:
        raise Unreadable(_("%(path)s is a directory, not a proof file") % shown) from None
    except OSError as exc:
        raise Unreadable(_("cannot read %(path)s: %(error)s") % {**shown, "error": exc.strerror or exc}) from None
    if len(raw) > MAX_BYTES:
        raise Unreadable(_("%(path)s is larger than %(mb)s MB: not a proof file")
                         % {**shown, "mb": MAX_BYTES // (1024 * 1024)})
    try:
        proof = json.loads(raw.decode("utf-8-sig"))
    except UnicodeDecodeError:
        raise Unreadable(_("%(path)s is not UTF-8 text: not a proof file") % shown) from None
    except json.JSONDecodeError as exc:
        raise Unreadable(_("%(path)s is not valid JSON (line %(line)s, column %(column)s)")
                         % {**shown, "line": exc.lineno, "column": exc.colno}) from None
    except RecursionError:
        raise Unreadable(_("%(path)s is not a proof file: its JSON is nested too deeply") % shown) from None
    if not isinstance(proof, dict):
        raise Unreadable(_("the proof must be a JSON object, like the giveaway's proof.json"))
    if "seed" not in proof and "commitment" in proof and "drawn_at" not in proof:
        raise Unreadable(_("this proof is from before the draw: the seed and the entries are revealed at the "
                           "draw; download the proof again once the giveaway is drawn"))
    return proof


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    # The language first, so that the help itself is translated.
    early = argparse.ArgumentParser(add_help=False)
    early.add_argument("--lang", choices=LANGUAGES)
    _activate(early.parse_known_args(argv)[0].lang)
    parser = argparse.ArgumentParser(
        prog="tertulia verify-draw",
        description=_("Check a giveaway's draw from its published proof (proof.json): the commitment, "
                      "the entry list's hash, and the winners and substitutes recomputed from the seed."))
    parser.add_argument("proof", help=_("the proof file (proof.json), or - to read it from standard input"))
    parser.add_argument("--lang", choices=LANGUAGES, help=_("the language of the report (es or en)"))
    parser.add_argument("--commitment", metavar="SHA256",
                        help=_("the commitment the brand announced before entries closed: the proof must carry it"))
    args = parser.parse_args(argv)
    out = sys.stdout
    try:
        out.reconfigure(errors="replace")
    except AttributeError:  # not a real stream
        pass
    try:
        proof = _read(args.proof)
        verdict = draw.verify(proof)
        if args.commitment is not None:  # a proof can be consistent in itself and still not be the announced one
            announced = str(proof.get("commitment", "")).lower() == args.commitment.strip().lower()
            verdict.checks.insert(0, ("announced", announced))
            verdict.ok = verdict.ok and announced
    except Unreadable as exc:
        print(f"tertulia verify-draw: {exc}", file=sys.stderr)
        return UNREADABLE
    except (draw.ProofError, ValueError, TypeError, KeyError, RecursionError) as exc:
        reason = exc.translated(_) if isinstance(exc, draw.ProofError) else exc
        print("tertulia verify-draw: " + _("the proof cannot be checked: %(reason)s") % {"reason": _clean(reason, 500)},
              file=sys.stderr)
        return UNREADABLE

    if proof.get("giveaway") is not None:
        out.write(_("Giveaway: %(title)s") % {"title": _clean(proof["giveaway"])}
                  + (f" ({_clean(proof['brand'])})" if proof.get("brand") else "") + "\n")
    out.write(_("Algorithm %(algorithm)s; entries: %(entries)s; drawn at %(drawn_at)s")
              % {"algorithm": draw.ALGORITHM, "entries": len(proof["entries"]),
                 "drawn_at": _clean(proof.get("drawn_at", "?"))} + "\n")
    out.write(_("Commitment %(commitment)s, published at %(committed_at)s: compare it with the one the brand "
                "announced before entries closed (or pass it with --commitment).")
              % {"commitment": _clean(proof.get("commitment", "?"), 100),
                 "committed_at": _clean(proof.get("committed_at") or "?")} + "\n")
    checks = _checks()
    for name, passed in verdict.checks:
        said = checks.get(name, (name, name))[0 if passed else 1]
        out.write(f"{'✔' if passed else '✘'} {name}: {said}\n")
    if verdict.ok:
        for key, label in (("winners", _("Winner %(rank)s: %(handle)s on %(network)s (comment %(comment)s)")),
                           ("substitutes", _("Substitute %(rank)s: %(handle)s on %(network)s (comment %(comment)s)"))):
            for rank, row in enumerate(proof[key], start=1):
                out.write("  " + label % {"rank": rank, "handle": _clean(row[1]), "network": _clean(row[0]),
                                          "comment": _clean(row[2])} + "\n")
        out.write(_("VERIFIED: the result follows from the committed seed and the published entry list.") + "\n")
        return OK
    failed = ", ".join(name for name, passed in verdict.checks if not passed)
    out.write(_("NOT VERIFIED: %(checks)s did not check out; this result is not the one the proof commits to.")
              % {"checks": failed} + "\n")
    return FAILED


if __name__ == "__main__":
    sys.exit(main())
