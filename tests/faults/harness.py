"""What the fault tests share: real ``manage.py`` processes with an environment of their own, a
private PostgreSQL cluster and a private Redis server that a test may restart (never the shared
ones: other tests use them), free ports, and waiting with deadlines.

Every process and temporary directory started here is stopped and removed by its owner's
``finally`` (the fixtures in the test modules).
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from cryptography.fernet import Fernet

BASE_DIR = Path(__file__).resolve().parents[2]
FERNET = Fernet.generate_key().decode()
PG_BIN = Path("/usr/lib/postgresql")

_DROP = ("DATABASE_URL", "REDIS_URL", "HUEY_IMMEDIATE", "HUEY_SQLITE_FILE", "HUEY_NAME", "TERTULIA_TESTING",
         "SECRET_KEY", "SECRET_KEY_FILE", "TERTULIA_FERNET_KEYS", "TERTULIA_FERNET_KEY_FILE", "DEBUG",
         "HUEY_WORKERS", "DJANGO_SETTINGS_MODULE", "MEDIA_ROOT")


def consumer_env(tmp: Path, *, database_url: str, queue: str, redis_url: str = "", workers: int = 2,
                 **extra: str) -> dict[str, str]:
    """The environment of a consumer (or a one-off ``manage.py`` command) of one test: its own
    database, its own Huey queue (SQLite file in ``tmp`` or a name on Redis), short leases and
    backoffs, and ``tests.faults.settings`` (the production settings plus the knobs that the
    settings read from no variable, and the fault hooks of ``tests/faults/inject.py``)."""
    env = {k: v for k, v in os.environ.items()
           if k not in _DROP and not k.startswith(("PUBLISH_", "FAULT_", "INBOX_", "REPORTS_"))}
    env.update({
        "DJANGO_SETTINGS_MODULE": "tests.faults.settings", "DATABASE_URL": database_url, "HUEY_IMMEDIATE": "0",
        "HUEY_NAME": queue, "HUEY_WORKERS": str(workers), "HUEY_SQLITE_FILE": str(tmp / "huey.sqlite3"),
        "TERTULIA_VAR_DIR": str(tmp / "var"), "MEDIA_ROOT": str(tmp / "media"),
        "SECRET_KEY": "faults-test-" + "k" * 40, "TERTULIA_FERNET_KEYS": FERNET,
        "TERTULIA_ALLOW_PRIVATE_NETWORKS": "1", "PUBLISH_SWEEP_GRACE_SECONDS": "0",
        "PUBLISH_BACKOFF_BASE": "0.2", "PUBLISH_BACKOFF_CAP": "1", "PYTHONUNBUFFERED": "1",
        "EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
    })
    if redis_url:
        env["REDIS_URL"] = redis_url
    env.update(extra)
    (tmp / "var").mkdir(exist_ok=True)
    return env


def manage(env: dict[str, str], *args: str, timeout: float = 240) -> str:
    result = subprocess.run([sys.executable, "manage.py", *args], cwd=BASE_DIR, env=env, capture_output=True,
                            text=True, timeout=timeout)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-4000:]
    return result.stdout


def shell(env: dict[str, str], code: str, timeout: float = 240) -> str:
    """Run Python in ``manage.py shell`` and return its last line of output."""
    return manage(env, "shell", "-c", code, timeout=timeout).strip().splitlines()[-1]


class Consumers:
    """``manage.py run_huey`` processes of one test; ``stop_all`` in the test's ``finally``."""

    def __init__(self, tmp: Path, env: dict[str, str]):
        self.tmp, self.env, self.procs = tmp, env, []

    def start(self, **extra: str) -> subprocess.Popen:
        log = open(self.tmp / f"consumer-{len(self.procs)}.log", "w")
        proc = subprocess.Popen([sys.executable, "manage.py", "run_huey"], cwd=BASE_DIR,
                                env={**self.env, **extra}, stdout=log, stderr=subprocess.STDOUT)
        log.close()
        self.procs.append(proc)
        return proc

    def log(self, n: int = -1, tail: int = 0) -> str:
        index = n if n >= 0 else len(self.procs) + n
        path = self.tmp / f"consumer-{index}.log"
        text = path.read_text(errors="replace") if path.exists() else ""
        return text[-tail:] if tail else text

    def kill(self, proc: subprocess.Popen) -> None:
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
        assert proc.returncode == -signal.SIGKILL

    def stop_all(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in self.procs:
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)


def wait_for(what: Callable[[], object], timeout: float, describe: Callable[[], object] = lambda: "") -> object:
    """Poll ``what`` until it is truthy; fail with ``describe()`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = what()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s: {describe()}")
        time.sleep(0.1)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# -- a private PostgreSQL cluster ------------------------------------------------------------------


def pg_bin() -> Path | None:
    versions = sorted((p for p in PG_BIN.glob("*/bin") if (p / "initdb").exists()),
                      key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0)
    return versions[-1] if versions else None


class PrivateCluster:
    """A throwaway PostgreSQL cluster in a temporary directory owned by ``postgres`` (initdb
    refuses root), listening on a free port of 127.0.0.1 with its socket in that directory.
    ``restart`` is ``pg_ctl restart -m fast``: every connection is cut."""

    def __init__(self):
        self.bin = pg_bin()
        self.dir = Path(tempfile.mkdtemp(prefix="tertulia-pg-"))
        self.data = self.dir / "data"
        self.port = free_port()
        shutil.chown(self.dir, "postgres", "postgres")

    def _as_postgres(self, *args: str, timeout: float = 120) -> None:
        runas = [] if os.geteuid() != 0 else ["runuser", "-u", "postgres", "--"]
        result = subprocess.run([*runas, *args], capture_output=True, text=True, timeout=timeout, cwd=self.dir)
        assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]

    def start(self) -> PrivateCluster:
        self._as_postgres(str(self.bin / "initdb"), "-D", str(self.data), "-U", "postgres", "--auth=trust",
                          "-E", "UTF8", "--no-sync", "--locale=C")
        self._ctl("start")
        import psycopg

        with psycopg.connect(self.url("postgres"), autocommit=True) as conn:
            conn.execute("CREATE DATABASE tertulia")
        return self

    def _ctl(self, action: str, *extra: str) -> None:
        options = (f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c fsync=off "
                   "-c synchronous_commit=off -c full_page_writes=off -c max_connections=60")
        self._as_postgres(str(self.bin / "pg_ctl"), action, "-D", str(self.data), "-o", options,
                          "-l", str(self.dir / "server.log"), "-w", "-t", "60", *extra)

    def restart(self) -> None:
        self._ctl("restart", "-m", "fast")

    def url(self, name: str = "tertulia") -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/{name}"

    def stop(self) -> None:
        try:
            if (self.data / "postmaster.pid").exists():
                self._as_postgres(str(self.bin / "pg_ctl"), "stop", "-D", str(self.data), "-m", "immediate", "-w")
        finally:
            shutil.rmtree(self.dir, ignore_errors=True)


# -- a private Redis server ------------------------------------------------------------------------


class PrivateRedis:
    """A ``redis-server`` with no persistence on a free port: a restart loses every queued task."""

    def __init__(self):
        self.dir = Path(tempfile.mkdtemp(prefix="tertulia-redis-"))
        self.port = free_port()
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> PrivateRedis:
        import redis

        self.proc = subprocess.Popen(
            [shutil.which("redis-server") or "redis-server", "--port", str(self.port), "--bind", "127.0.0.1",
             "--save", "", "--appendonly", "no", "--dir", str(self.dir)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        client = redis.Redis.from_url(self.url, socket_connect_timeout=0.5)

        def up():
            try:
                return client.ping()
            except redis.RedisError:
                return False

        wait_for(up, 30, lambda: "redis-server did not start")
        return self

    def restart(self) -> None:
        self.stop(keep_dir=True)
        self.start()

    def stop(self, keep_dir: bool = False) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self.proc = None
        if not keep_dir:
            shutil.rmtree(self.dir, ignore_errors=True)
