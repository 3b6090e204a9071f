"""`tertulia verify-draw proof.json`: run as a separate process on a real proof from the service,
with an environment that has no Django settings, database or secret key, on tampered proofs
(each fails and names the check), and on files that are not proofs (exit 2, no traceback)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone

from tertulia.core.services import Ctx
from tertulia.giveaways import draw, services
from tertulia.inbox import services as inbox
from tertulia.networks import services as account_services

ROOT = Path(__file__).resolve().parents[3]
TERTULIA = ROOT / ".venv" / "bin" / "tertulia"
# Django cannot even be imported: the command must not need it.
NO_DJANGO = ("import sys; sys.modules['django'] = None; sys.argv[0] = 'tertulia'; "
             "from tertulia.cli import main; main()")


def _bare_env(tmp_path) -> dict:
    """What a stranger's shell has: no SECRET_KEY, DATABASE_URL, DJANGO_SETTINGS_MODULE or
    Tertulia's var/ directory."""
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(tmp_path), "LANG": "C.UTF-8",
           "PYTHONPATH": str(ROOT), "TERTULIA_VAR_DIR": str(tmp_path / "nowhere")}
    assert not {"SECRET_KEY", "DATABASE_URL", "DJANGO_SETTINGS_MODULE"} & set(env)
    return env


def run(tmp_path, *args, stdin: str | None = None, no_django: bool = False, lang: str = "C.UTF-8"):
    command = ([sys.executable, "-c", NO_DJANGO, "verify-draw", *args] if no_django
               else [str(TERTULIA), "verify-draw", *args])
    return subprocess.run(command, input=stdin, capture_output=True, text=True, encoding="utf-8",
                          env={**_bare_env(tmp_path), "LANG": lang}, cwd=tmp_path, timeout=60)


@pytest.fixture
def proof(brand_a, tmp_path) -> dict:
    """A giveaway drawn by the service: 6 people, 2 winners, 2 substitutes; its proof.json."""
    brand, people = brand_a
    ctx = Ctx(people["owner"], via="test")
    account = account_services.do_add_account(ctx, brand, network="mastodon", handle="@marca",
                                              base_url="https://mastodon.example", access_token="t")
    now = timezone.now()
    contest = services.do_create_contest(ctx, brand, posts=[(account, "post-1")], title="Sorteo «verano»",
                                         starts_at=now - timedelta(hours=2), ends_at=now + timedelta(days=1),
                                         winners=2, substitutes=2)
    services.do_publish_commitment(ctx, contest)
    handles = ["@ana", "@bea", "@carla", "@dani", "@eva", "@\x1b[31mfaker"]
    inbox.ingest_interactions(account, [
        inbox.IncomingInteraction(
            external_id=f"c{i}", kind="comment", text="¡Yo!", root_external_id="post-1",
            author=inbox.IncomingAuthor(external_id=f"a{i}", handle=h), created_at=now - timedelta(minutes=60 - i))
        for i, h in enumerate(handles)])
    services.do_close_entries(ctx, contest)
    contest = services.do_draw(ctx, contest)
    data = json.loads(services.proof_json(contest))
    assert len(data["entries"]) == 6 and draw.verify(data).ok
    return data


def _write(tmp_path, data, name="proof.json") -> str:
    path = tmp_path / name
    path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    return str(path)


@pytest.mark.django_db
def test_a_real_proof_verifies_without_django_settings_or_secrets(proof, tmp_path):
    result = run(tmp_path, _write(tmp_path, proof))
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    for check in ("commitment", "entries_hash", "winners", "substitutes"):
        assert any(line.startswith(f"✔ {check}:") for line in lines), result.stdout
    assert "✘" not in result.stdout and lines[-1].startswith("VERIFIED")
    assert "Sorteo «verano»" in result.stdout
    for row in proof["winners"]:
        assert row[2] in result.stdout
    assert "\x1b" not in result.stdout  # a hostile handle cannot drive the terminal
    # From standard input, and with Django impossible to import: the same verdict.
    piped = run(tmp_path, "-", stdin=json.dumps(proof), no_django=True)
    assert piped.returncode == 0 and piped.stdout.splitlines()[-1].startswith("VERIFIED"), piped.stderr
    # In the terminal's language, from Tertulia's own catalogs (still without Django).
    spanish = run(tmp_path, _write(tmp_path, proof), no_django=True, lang="es_ES.UTF-8")
    assert spanish.returncode == 0, spanish.stderr
    assert spanish.stdout.splitlines()[-1].startswith("VERIFICADO") and "✔ winners: los ganadores" in spanish.stdout
    # The commitment is printed to compare with the announcement, or checked against it.
    assert proof["commitment"] in result.stdout
    announced = run(tmp_path, _write(tmp_path, proof), "--commitment", proof["commitment"].upper(), no_django=True)
    assert announced.returncode == 0 and "✔ announced:" in announced.stdout, announced.stdout
    # A forged proof, consistent in itself, is not the announced draw.
    from tertulia.giveaways import draw as _draw

    seed = "cd" * 32
    picks = _draw.run(seed, proof["entries"], 2, 2)
    forged = dict(proof, seed=seed, commitment=_draw.commitment(seed), winners=picks.winners,
                  substitutes=picks.substitutes)
    other = run(tmp_path, _write(tmp_path, forged, "forged.json"), "--commitment", proof["commitment"], no_django=True)
    assert other.returncode == 1 and "✘ announced:" in other.stdout, other.stdout


@pytest.mark.django_db
def test_tampering_fails_and_names_the_check(proof, tmp_path):
    def tampered(change):
        data = json.loads(json.dumps(proof))
        change(data)
        return data

    def changed_entry(d):
        d["entries"][0][1] = "@mallory"

    def changed_seed(d):
        d["seed"] = draw.new_seed()

    def swapped_winner(d):
        loser = next(r for r in d["entries"] if r not in d["winners"] + d["substitutes"])
        d["winners"][0] = loser

    def reordered_substitutes(d):
        d["substitutes"].reverse()

    cases = {
        "entry changed": (changed_entry, {"entries_hash"}),
        "seed changed": (changed_seed, {"commitment"}),
        "winner swapped": (swapped_winner, {"winners"}),
        "substitutes reordered": (reordered_substitutes, {"substitutes"}),
    }
    for name, (change, must_fail) in cases.items():
        result = run(tmp_path, _write(tmp_path, tampered(change), f"{name}.json"), no_django=True)
        assert result.returncode == 1, (name, result.stdout, result.stderr)
        failed = {line[2:].split(":")[0] for line in result.stdout.splitlines() if line.startswith("✘ ")}
        assert must_fail <= failed, (name, result.stdout)
        assert result.stdout.splitlines()[-1].startswith("NOT VERIFIED"), (name, result.stdout)
        assert "VERIFIED: the result" not in result.stdout
        if name == "winner swapped":  # the list and seed are intact: only the result is wrong
            assert failed == {"winners"}, result.stdout


def test_unreadable_files_and_proofs_exit_2_without_a_traceback(tmp_path):
    (tmp_path / "garbage.json").write_bytes(b"\x00\xffnot json at all")
    (tmp_path / "text.json").write_text("{\"seed\": ", encoding="utf-8")
    (tmp_path / "list.json").write_text("[1, 2, 3]", encoding="utf-8")
    before_draw = {"algorithm": draw.ALGORITHM, "giveaway": "x", "commitment": "0" * 64, "winner_count": 1,
                   "substitute_count": 0}
    bad_row = {**before_draw, "seed": "ab" * 32, "entries_hash": "0" * 64, "entries": [["mastodon", "@a"]],
               "winners": [], "substitutes": [], "drawn_at": "2030-01-01T00:00:00+00:00"}
    other_algorithm = {**bad_row, "algorithm": "coin-flip", "entries": []}
    cases = {
        "missing file": (str(tmp_path / "nope.json"), "no such file"),
        "a directory": (str(tmp_path), "directory"),
        "binary garbage": (str(tmp_path / "garbage.json"), "not UTF-8"),
        "truncated JSON": (str(tmp_path / "text.json"), "not valid JSON"),
        "not an object": (str(tmp_path / "list.json"), "JSON object"),
        "before the draw": (_write(tmp_path, before_draw, "early.json"), "before the draw"),
        "malformed entry": (_write(tmp_path, bad_row, "row.json"), "[network, handle, comment_id, weight]"),
        "unknown algorithm": (_write(tmp_path, other_algorithm, "algo.json"), "unknown algorithm"),
    }
    for name, (path, message) in cases.items():
        result = run(tmp_path, path, no_django=True)
        assert result.returncode == 2, (name, result.returncode, result.stdout, result.stderr)
        assert message in result.stderr and "Traceback" not in result.stderr, (name, result.stderr)
    empty = run(tmp_path, "-", stdin="")
    assert empty.returncode == 2 and "Traceback" not in empty.stderr
    usage = run(tmp_path)
    assert usage.returncode == 2 and "proof" in usage.stderr
    spanish = run(tmp_path, str(tmp_path / "nope.json"), lang="es_ES.UTF-8")
    assert spanish.returncode == 2 and "no existe el archivo" in spanish.stderr
