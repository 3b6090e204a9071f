"""Where the shared test corpora are: `../shared/corpora` beside the repository, or the folder
named by TERTULIA_CORPORA. Used by the tests and the benchmark, never at run time."""

from __future__ import annotations

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[3]


def corpora_dir() -> Path:
    override = os.environ.get("TERTULIA_CORPORA")
    return Path(override) if override else REPO_ROOT.parent / "shared" / "corpora"
