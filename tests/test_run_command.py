"""`tertulia run` (what `make run` starts): the web server and the Huey consumer come up together,
a SIGTERM stops both cleanly, and if one of them cannot run the other is stopped too.

Always the embedded set-up (SQLite and SqliteHuey in a temporary var/), even in the PostgreSQL
test run: that is what `make run` is. without `--demo` it stays quick; the demo has its own tests.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _env(tmp_path: Path) -> dict[str, str]:
    drop = ("DATABASE_URL", "REDIS_URL", "HUEY_IMMEDIATE", "HUEY_SQLITE_FILE", "HUEY_NAME", "TERTULIA_TESTING",
            "SECRET_KEY", "SECRET_KEY_FILE", "TERTULIA_FERNET_KEYS", "TERTULIA_FERNET_KEY_FILE", "DEBUG")
    env = {k: v for k, v in os.environ.items() if k not in drop}
    env.update({"TERTULIA_VAR_DIR": str(tmp_path / "var"), "TERTULIA_INSECURE_HTTP": "1", "PYTHONUNBUFFERED": "1"})
    return env


def _start(tmp_path: Path, port: int) -> tuple[subprocess.Popen, Path]:
    log = tmp_path / "run.log"
    with open(log, "w") as fh:
        proc = subprocess.Popen([sys.executable, "-m", "tertulia.cli", "run", "--port", str(port),
                                 "--web-workers", "1"],
                                cwd=BASE_DIR, env=_env(tmp_path), stdout=fh, stderr=subprocess.STDOUT)
    return proc, log


def _children(pid: int) -> dict[int, str]:
    """Direct children of ``pid`` and their command lines, from /proc."""
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            ppid = int(stat.rsplit(")", 1)[1].split()[1])
            if ppid == pid:
                found[int(entry.name)] = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except (OSError, IndexError, ValueError):
            continue  # the process went away while we looked
    return found


def _processes_of(tmp_path: Path) -> dict[int, str]:
    """Live processes started with this test's var/ directory in their environment."""
    marker = f"TERTULIA_VAR_DIR={tmp_path / 'var'}".encode()
    found = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and int(entry.name) != os.getpid():
            try:
                if marker in (entry / "environ").read_bytes().split(b"\0") and _alive(int(entry.name)):
                    found[int(entry.name)] = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            except OSError:
                continue
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def _get(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code


def test_run_serves_and_consumes_and_stops_on_sigterm(tmp_path):
    port = _free_port()
    proc, log = _start(tmp_path, port)
    try:
        status, deadline = None, time.monotonic() + 120
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                status = _get(f"http://127.0.0.1:{port}/login/")
                break
            except OSError:
                time.sleep(0.3)
        assert status == 200, f"exit={proc.poll()}\n{log.read_text()}"

        children = _children(proc.pid)
        assert any("run_huey" in cmd for cmd in children.values()), children
        assert any("gunicorn" in cmd for cmd in children.values()), children

        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0, log.read_text()
        time.sleep(0.5)
        assert _processes_of(tmp_path) == {}, "a child outlived `tertulia run`"
        assert "stopped unexpectedly" not in log.read_text()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_run_stops_everything_when_the_web_server_cannot_start(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        proc, log = _start(tmp_path, port)
        try:
            assert proc.wait(timeout=120) != 0, log.read_text()
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    assert "stopped unexpectedly" in log.read_text()
    time.sleep(0.5)
    assert _processes_of(tmp_path) == {}, "the consumer outlived `tertulia run`"


def test_a_stop_while_the_children_are_still_starting_is_a_clean_stop(tmp_path):
    # Ctrl-C a moment after start: the children are still importing Django and die of the
    # signal. That is still a requested stop, not a crash to report.
    proc, log = _start(tmp_path, _free_port())
    try:
        deadline = time.monotonic() + 120
        while len(_children(proc.pid)) < 2 and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert len(_children(proc.pid)) == 2, log.read_text()
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=30) == 0, log.read_text()
        assert "stopped unexpectedly" not in log.read_text()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    time.sleep(0.5)
    assert _processes_of(tmp_path) == {}
