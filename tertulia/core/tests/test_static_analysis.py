"""bandit over the app, in the test suite, so `make test` catches a new finding.

The same scan as CI's security phase (`bandit -r tertulia -c pyproject.toml`), run in-process:
the configuration in ``[tool.bandit]`` leaves out the tests and the migrations, and every
finding in the app is either fixed or a reviewed false positive marked on its own line with
``# nosec BXXX # why``. A new finding fails here with its file, line and explanation: fix it,
or, if it really is a false positive, mark that one line with the test id and the reason.

Also the pip-audit ignore file's format (its network part runs in CI only: .ci/pip_audit.py).
"""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import pytest
from bandit.core import config as bandit_config
from bandit.core import manager as bandit_manager

ROOT = Path(__file__).resolve().parents[3]

pytestmark = pytest.mark.filterwarnings("ignore:The verify_requirements argument:DeprecationWarning")


def _bandit_issues() -> list:
    conf = bandit_config.BanditConfig(config_file=str(ROOT / "pyproject.toml"))
    mgr = bandit_manager.BanditManager(conf, "file", quiet=True)
    mgr.discover_files([str(ROOT / "tertulia")], recursive=True)
    mgr.run_tests()
    return mgr, mgr.get_issue_list()


def test_bandit_finds_nothing_in_the_app():
    mgr, issues = _bandit_issues()
    # The scan did look at the app (and not at the tests).
    scanned = [Path(f) for f in mgr.files_list]
    assert len(scanned) > 200
    assert any(p.name == "services.py" and p.parent.name == "core" for p in scanned)
    assert not [p for p in scanned if "tests" in p.parts or "migrations" in p.parts]
    assert not mgr.skipped, f"bandit could not read: {mgr.skipped}"
    report = "\n".join(
        f"{i.fname}:{i.lineno}: {i.test_id} [{i.severity}/{i.confidence}] {i.text}\n    {i.get_code(1, False).strip()}"
        for i in issues
    )
    assert not issues, (
        f"bandit found {len(issues)} issue(s); fix them, or mark a reviewed false positive on its line "
        f"with `# nosec BXXX # why`:\n{report}"
    )


def test_every_nosec_names_the_check_and_says_why():
    """A bare ``# nosec`` silences every check on its line, and one without a reason cannot be
    reviewed: each must name its test ids and carry a justification after them."""
    bad = []
    pattern = re.compile(r"#\s*nosec\b(?P<rest>.*)$")
    for path in (ROOT / "tertulia").rglob("*.py"):
        if "tests" in path.parts or "migrations" in path.parts:
            continue
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            match = pattern.search(line)
            if not match:
                continue
            rest = match.group("rest")
            ids, _, why = rest.partition("#")
            if not re.fullmatch(r"\s*:?\s*B\d{3}(?:[ ,]+B\d{3})*\s*", ids) or len(why.strip()) < 10:
                bad.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()}")
    assert not bad, "write `# nosec BXXX # why` (ids and a reason):\n" + "\n".join(bad)


def _pip_audit_module():
    spec = importlib.util.spec_from_file_location("ci_pip_audit", ROOT / ".ci" / "pip_audit.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_pip_audit_ignore_file_is_well_formed():
    pip_audit = _pip_audit_module()
    ignores = pip_audit.read_ignores()
    assert all(reason for reason in ignores.values())


@pytest.mark.parametrize("line", ["PYSEC-2024-1", "GHSA-xxxx-yyyy-zzzz #", "two words  # why"])
def test_pip_audit_refuses_an_ignore_without_a_reason(tmp_path, line):
    pip_audit = _pip_audit_module()
    path = tmp_path / "ignore.txt"
    path.write_text(f"# comment\n\n{line}\n")
    with pytest.raises(SystemExit, match="expected `ID  # why"):
        pip_audit.read_ignores(path)
    path.write_text("PYSEC-2024-1  # only reachable through a feature we do not use\n")
    assert pip_audit.read_ignores(path) == {"PYSEC-2024-1": "only reachable through a feature we do not use"}


def test_pip_audit_skips_cleanly_when_the_advisory_source_is_unreachable(monkeypatch, capsys):
    """Offline CI: a clear message and success, without running the audit."""
    pip_audit = _pip_audit_module()
    monkeypatch.setattr(pip_audit, "locked_requirements", lambda: "django==5.2\n")
    monkeypatch.setattr(pip_audit, "PROBE_URL", "http://127.0.0.1:9/")  # nothing listens on the discard port
    monkeypatch.setattr(pip_audit, "audit", lambda *a, **k: pytest.fail("audited while offline"))
    assert pip_audit.main() == 0
    assert "advisory source unreachable, skipped" in capsys.readouterr().out
