"""Where the recorded real payloads live, and how to read a VCR cassette.

The corpora are never copied into this repository: they are read at run time from
``../shared/corpora`` next to the repository root, or from ``$TERTULIA_CORPORA``.
"""

from __future__ import annotations

import json
import os
from functools import lru_cache
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[2]


def corpora_dir() -> Path:
    override = os.environ.get("TERTULIA_CORPORA")
    return Path(override) if override else REPO_ROOT.parent / "shared" / "corpora"


class CorpusMissing(RuntimeError):
    pass


@lru_cache(maxsize=None)
def _load(path: str) -> list[dict[str, Any]]:
    import yaml

    with open(path, encoding="utf-8") as fh:
        return yaml.safe_load(fh)["interactions"]


class Cassettes:
    """Read-only access to one directory of VCR cassettes (``<name>.yaml``)."""

    def __init__(self, directory: Path):
        self.directory = Path(directory)
        if not self.directory.is_dir():
            raise CorpusMissing(f"no cassettes at {self.directory} (set TERTULIA_CORPORA)")

    def interactions(self, name: str) -> list[dict[str, Any]]:
        path = self.directory / f"{name}.yaml"
        if not path.exists():
            raise CorpusMissing(f"cassette {path} is missing")
        return _load(str(path))

    def response(self, name: str, index: int = 0) -> tuple[int, dict[str, str], Any]:
        """(status, headers, parsed JSON body) of the index-th recorded exchange."""
        interaction = self.interactions(name)[index]["response"]
        body = interaction["body"]["string"]
        headers = {k.lower(): v[0] if isinstance(v, list) else v for k, v in interaction["headers"].items()}
        return interaction["status"]["code"], headers, json.loads(body)

    def body(self, name: str, index: int = 0) -> Any:
        return self.response(name, index)[2]

    def find(self, name: str, method: str, path: str) -> Any:
        """The body of the first exchange in a cassette with this method and URL path."""
        for i, interaction in enumerate(self.interactions(name)):
            request = interaction["request"]
            if request["method"] == method and request["uri"].split("?", 1)[0].rstrip("/").endswith(path.rstrip("/")):
                return self.body(name, i)
        raise CorpusMissing(f"{method} {path} not recorded in {name}")


def mastodon_cassettes() -> Cassettes:
    return Cassettes(corpora_dir() / "mastodon-py-cassettes" / "cassettes")
