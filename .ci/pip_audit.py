#!/usr/bin/env python3
"""pip-audit against the locked dependencies (uv.lock), for CI.

    .venv/bin/python .ci/pip_audit.py

1. `uv export --frozen` turns uv.lock into pinned requirements (every group, without the project
   itself), so what is audited is exactly what `make` installs, not whatever the venv holds.
2. The advisory source (PyPI's JSON API, which carries the OSV advisories) must answer; when it
   cannot be reached (CI machines may be offline), this prints "advisory source unreachable,
   skipped" and exits 0: an offline machine proves nothing either way.
3. Otherwise `pip-audit --no-deps --disable-pip -r <requirements>` runs; every known
   vulnerability fails the run (exit 1) unless its id is listed in .ci/pip-audit-ignore.txt with
   a justification (`ID  # why`). An entry without a reason is refused, and so is an entry that
   no longer matches anything (stale ignores hide the next advisory with the same id).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess  # nosec B404 # fixed argv lists, no shell
import sys
import tempfile
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
IGNORE_FILE = ROOT / ".ci" / "pip-audit-ignore.txt"
PROBE_URL = os.environ.get("PIP_AUDIT_PROBE_URL", "https://pypi.org/pypi/pip/json")
TIMEOUT = int(os.environ.get("PIP_AUDIT_TIMEOUT", "15"))


def read_ignores(path: Path = IGNORE_FILE) -> dict[str, str]:
    """``{id: reason}`` from the ignore file; a line without a reason is an error."""
    ignores: dict[str, str] = {}
    if not path.exists():
        return ignores
    for number, line in enumerate(path.read_text().splitlines(), 1):
        text = line.strip()
        if not text or text.startswith("#"):
            continue
        vuln_id, _, reason = text.partition("#")
        vuln_id, reason = vuln_id.strip(), reason.strip()
        if not vuln_id or " " in vuln_id or not reason:
            raise SystemExit(f"{path}:{number}: expected `ID  # why it does not apply`, got {line!r}")
        ignores[vuln_id] = reason
    return ignores


def uv_binary() -> str:
    local = ROOT / ".tools" / "bin" / "uv"
    if local.exists():
        return str(local)
    found = shutil.which("uv")
    if not found:
        raise SystemExit("pip-audit: uv not found (run `make install` first)")
    return found


def locked_requirements() -> str:
    result = subprocess.run(  # nosec B603 # fixed argv, our own uv
        [uv_binary(), "export", "--frozen", "--no-hashes", "--format", "requirements-txt", "--all-groups",
         "--no-emit-project"],
        cwd=ROOT, capture_output=True, text=True, timeout=120, check=False,
    )
    if result.returncode != 0:
        raise SystemExit(f"pip-audit: `uv export` failed:\n{result.stderr}")
    return result.stdout


def advisory_source_reachable(url: str | None = None) -> tuple[bool, str]:
    url = url or PROBE_URL
    try:
        with urllib.request.urlopen(url, timeout=TIMEOUT) as response:  # nosec B310 # fixed https URL
            response.read(1)
        return True, ""
    except (urllib.error.URLError, OSError) as exc:
        return False, str(getattr(exc, "reason", exc))


def audit(requirements: str, ignores: dict[str, str]) -> int:
    with tempfile.TemporaryDirectory() as tmp:
        req = Path(tmp) / "requirements.txt"
        req.write_text(requirements)
        report = Path(tmp) / "report.json"
        argv = [sys.executable, "-m", "pip_audit", "--no-deps", "--disable-pip", "-r", str(req),
                "--format", "json", "--output", str(report), "--progress-spinner", "off",
                "--timeout", str(TIMEOUT), "--cache-dir", str(Path(tmp) / "cache")]
        result = subprocess.run(argv, capture_output=True, text=True, timeout=600, check=False)  # nosec B603
        if not report.exists():
            # No report: the audit itself failed. A network failure midway is the same
            # "unreachable" as before it started; anything else is a real error.
            err = result.stderr.strip()
            if any(word in err for word in ("ConnectionError", "ConnectTimeout", "ReadTimeout",
                                            "Max retries exceeded", "Name or service not known",
                                            "Temporary failure in name resolution")):
                print(f"pip-audit: advisory source unreachable, skipped ({err.splitlines()[-1]})")
                return 0
            print(f"pip-audit: failed (exit {result.returncode}):\n{err}", file=sys.stderr)
            return 2
        data = json.loads(report.read_text())
    findings, used = [], set()
    for dep in data.get("dependencies", []):
        for vuln in dep.get("vulns", []):
            ids = {vuln["id"], *vuln.get("aliases", [])}
            matched = ids & ignores.keys()
            if matched:
                used |= matched
                continue
            findings.append((dep["name"], dep.get("version", "?"), vuln["id"], ", ".join(vuln.get("fix_versions", [])),
                             ", ".join(sorted(vuln.get("aliases", [])))))
    audited = len(data.get("dependencies", []))
    for vuln_id in sorted(used):
        print(f"pip-audit: ignored {vuln_id}: {ignores[vuln_id]}")
    stale = sorted(set(ignores) - used)
    status = 0
    if stale:
        print(f"pip-audit: {IGNORE_FILE.name} lists ids that match nothing any more; remove them: {', '.join(stale)}",
              file=sys.stderr)
        status = 1
    if findings:
        print(f"pip-audit: {len(findings)} known vulnerabilities in the locked dependencies:", file=sys.stderr)
        for name, version, vuln_id, fixes, aliases in findings:
            print(f"  {name}=={version}  {vuln_id}  fixed in: {fixes or '-'}  ({aliases})", file=sys.stderr)
        print(f"Upgrade them in uv.lock, or justify each in {IGNORE_FILE.relative_to(ROOT)} (`ID  # why`).",
              file=sys.stderr)
        status = 1
    if status == 0:
        print(f"pip-audit: {audited} locked packages, no known vulnerabilities")
    return status


def main() -> int:
    ignores = read_ignores()
    requirements = locked_requirements()
    reachable, why = advisory_source_reachable()
    if not reachable:
        print(f"pip-audit: advisory source unreachable, skipped ({PROBE_URL}: {why})")
        return 0
    return audit(requirements, ignores)


if __name__ == "__main__":
    sys.exit(main())
