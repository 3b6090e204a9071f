"""Benchmark: the web app under load, served the production way (issue 10, "Load").

    .venv/bin/python bench/bench_load.py --quick                      # CI smoke run, SQLite, < ~60 s
    DATABASE_URL=postgres://tertulia:tertulia@127.0.0.1/tertulia \
        .venv/bin/python bench/bench_load.py --keep tertulia_load1m   # 1M interactions on PostgreSQL

Data: the demo generator at scale (as ``bench_reports.py``): one brand with 12 months of history and
1,000,000 inbox interactions (``--quick``: 3 months and 10,000, on a throw-away SQLite file). With
``--keep NAME`` on PostgreSQL the filled database is kept and reused by later runs; when NAME does not
exist yet and ``--template`` (default ``tertulia_perf1m``, what ``bench_reports.py --keep`` leaves)
exists, NAME is created as a copy of it (seconds, instead of the ~10 minutes of a fill); then
``migrate`` brings its schema up to date either way. The bench adds its own community managers to
the brand (``load-cm-1``…, one API token each, re-created every run) and deletes the drafts earlier
runs left.

Serving: ``gunicorn -w 2 -k gthread --threads 2`` (``--workers``, ``--threads``) on a free loopback port, ``DEBUG`` off, static files
collected and served by whitenoise (the manifest storage), PostgreSQL connections kept
(``CONN_MAX_AGE`` 60), Huey and the shared cache on Redis (``--quick``/SQLite: Huey on a SQLite file, each process its own cache) with no consumer (nothing
in the mix enqueues work). Plain HTTP on loopback, so ``TERTULIA_INSECURE_HTTP=1`` (cookies not
HTTPS-only); everything else is the production settings.

Before serving, each endpoint of the mix is timed alone in this process (``page_profile``: wall
and CPU ms, SQL queries and their ms), which says what a page costs by itself.

Load: ``locust -f bench/load/locustfile.py --headless`` as a subprocess, once per ``--users`` level
(50 then 200; ``--quick``: 20 for 15 s). Each simulated user signs in once with the login form and
its CSRF token as one of the brand's CMs and waits for the others (the sign-in phase is reported
apart: argon2 costs ~0.2 s of CPU per login); then locust's statistics are reset and the weighted
mix runs for ``--seconds`` with 1-3 s of think time: the calendar's month view, the inbox list (6
filters), a conversation, the analytics dashboard, a new post (the compose form, then its POST with
CSRF), and three API reads with a token (conversations, posts, the month's calendar). Figures per
level, from locust's CSV: throughput, p50/p95/p99 per endpoint and aggregated, failures; the exact
p50/p95/p99 over every sample of the mix; the server's own time per endpoint from gunicorn's access
log (``%(D)s``); and the CPU seconds during the measured window of each party on the same 2 CPUs:
locust, gunicorn, the PostgreSQL backends of this database, and the rest of the machine, with the
server's CPU per request and the rate 2 CPUs of its own would carry at that cost.

Target: p95 of the mix ≤ 150 ms at 50 users with no failed request (sign-in included). The last
line is one JSON object (bench/README.md); ``BENCH_LOAD_KEEP_TMP=1`` keeps locust's CSV and the logs.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from bench_demo_generator import drop_database, log, prepare_environment  # noqa: E402

P95_TARGET_MS = 150.0
TARGET_USERS = 50
CM_COUNT = 8
CM_PASSWORD = "load-bench-cm-password-2026"
LOCUSTFILE = ROOT / "bench" / "load" / "locustfile.py"
CLK_TCK = os.sysconf("SC_CLK_TCK")


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--quick", action="store_true", help="small data, one short run (CI smoke run)")
    p.add_argument("--users", default=None, help="comma-separated user counts (default 50,200; --quick: 20)")
    p.add_argument("--seconds", type=float, default=None,
                   help="measured seconds per level, after every user signed in (default 60; --quick: 15)")
    p.add_argument("--spawn-rate", type=float, default=25.0)
    p.add_argument("--wait-min", type=float, default=1.0, help="think time between a user's requests, seconds")
    p.add_argument("--wait-max", type=float, default=3.0)
    p.add_argument("--workers", type=int, default=2, help="gunicorn worker processes")
    p.add_argument("--threads", type=int, default=2, help="threads per gunicorn worker (2: see bench/README.md)")
    p.add_argument("--interactions", type=int, default=None, help="inbox interactions (default 1000000)")
    p.add_argument("--database", choices=("sqlite", "postgres"), default=None,
                   help="default: postgres, or sqlite with --quick")
    p.add_argument("--postgres", action="store_true", help="same as --database postgres")
    p.add_argument("--keep", metavar="NAME", default="",
                   help="PostgreSQL: keep the filled database NAME on DATABASE_URL's server and reuse it")
    p.add_argument("--template", default="tertulia_perf1m",
                   help="with --keep: copy this database when NAME does not exist yet (if it exists)")
    p.add_argument("--fill-only", action="store_true", help="with --keep: fill (or copy) and stop")
    p.add_argument("--strict", action="store_true", help="exit 1 when a target is missed")
    args = p.parse_args()
    args.postgres = args.postgres or args.database == "postgres" or (args.database is None and not args.quick)
    args.users = [int(u) for u in (args.users or ("20" if args.quick else f"{TARGET_USERS},200")).split(",")]
    args.seconds = args.seconds or (15.0 if args.quick else 60.0)
    if args.keep and not args.postgres:
        p.error("--keep needs PostgreSQL (use bench_reports.py --keep DIR for a kept SQLite file)")
    return args


def percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    k = max(0, min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1))))
    return ordered[k]


# --- CPU accounting (/proc) ------------------------------------------------------------------

def proc_cpu(pid: int) -> float:
    """CPU seconds (user + system) of one process, its threads included; 0 if it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return 0.0
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def children(pid: int) -> list[int]:
    out = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            out += [int(c) for c in (task / "children").read_text().split()]
        except (FileNotFoundError, ProcessLookupError):
            pass
    return out


def machine_cpu() -> tuple[float, float]:
    """(busy, total) CPU seconds of the whole machine since boot."""
    values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = values[3] + values[4]  # idle + iowait
    total = sum(values[:8])
    return (total - idle) / CLK_TCK, total / CLK_TCK


def pg_backends(url: str, dbname: str) -> list[int]:
    if not url.startswith(("postgres://", "postgresql://")):
        return []
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        return [r[0] for r in conn.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()", [dbname])]


class CpuMeter:
    """CPU seconds of locust, gunicorn (master and workers), this database's PostgreSQL
    backends, and the whole machine, between start() and stop()."""

    def __init__(self, gunicorn_pid: int, db_url: str, db_name: str):
        self.gunicorn_pid, self.db_url, self.db_name = gunicorn_pid, db_url, db_name

    def _gunicorn(self) -> dict[int, float]:
        pids = [self.gunicorn_pid, *children(self.gunicorn_pid)]
        return {p: proc_cpu(p) for p in pids}

    def start(self):
        self.t0 = time.monotonic()
        self.m0 = machine_cpu()
        self.g0 = self._gunicorn()
        self.pg0 = {p: proc_cpu(p) for p in pg_backends(self.db_url, self.db_name)}

    def stop(self, locust_cpu: float) -> dict:
        wall = time.monotonic() - self.t0
        m1 = machine_cpu()
        g1 = self._gunicorn()
        pg1 = {p: proc_cpu(p) for p in pg_backends(self.db_url, self.db_name)}
        gunicorn = sum(v - self.g0.get(p, 0.0) for p, v in g1.items())
        postgres = sum(v - self.pg0.get(p, 0.0) for p, v in pg1.items())
        busy = m1[0] - self.m0[0]
        capacity = m1[1] - self.m0[1]  # CPU seconds the machine had (wall × CPUs)
        other = max(0.0, busy - gunicorn - postgres - locust_cpu)
        return {
            "wall_seconds": round(wall, 1),
            "cpus": os.cpu_count(),
            "locust_cpu_seconds": round(locust_cpu, 1),
            "gunicorn_cpu_seconds": round(gunicorn, 1),
            "postgres_cpu_seconds": round(postgres, 1),
            "other_processes_cpu_seconds": round(other, 1),
            "machine_busy_share": round(busy / capacity, 3) if capacity else None,
            "locust_share_of_machine": round(locust_cpu / capacity, 3) if capacity else None,
            "gunicorn_share_of_machine": round(gunicorn / capacity, 3) if capacity else None,
            "postgres_share_of_machine": round(postgres / capacity, 3) if capacity else None,
            "other_share_of_machine": round(other / capacity, 3) if capacity else None,
        }


# --- Results -------------------------------------------------------------------------------

def read_locust_csv(prefix: Path) -> dict:
    """Locust's ``<prefix>_stats.csv``: one row per endpoint and the aggregated row."""
    rows = {}
    with open(f"{prefix}_stats.csv", newline="", encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            def num(key, cast=float):
                value = row.get(key, "")
                return cast(value) if value not in ("", "N/A") else None

            rows[row["Name"]] = {
                "requests": num("Request Count", int),
                "failures": num("Failure Count", int),
                "rps": round(num("Requests/s") or 0.0, 2),
                "p50_ms": num("50%"),
                "p95_ms": num("95%"),
                "p99_ms": num("99%"),
                "max_ms": round(num("Max Response Time") or 0.0, 1),
            }
    return rows


def read_failures(prefix: Path) -> list[dict]:
    path = Path(f"{prefix}_failures.csv")
    if not path.exists():
        return []
    with open(path, newline="", encoding="utf-8") as fh:
        return [{"name": r["Name"], "error": r["Error"][:200], "count": int(r["Occurrences"])}
                for r in csv.DictReader(fh)]


_ID = re.compile(r"/\d+(?=/|$)")


def read_access_log(path: Path, start: int, end: int) -> dict[str, dict]:
    """Server time per route from gunicorn's access log (``%(m)s %(U)s %(s)s %(D)s``, µs), between
    two byte offsets: what the server itself spent, without the client and the network."""
    by_route: dict[str, list[float]] = {}
    with open(path, "rb") as fh:
        fh.seek(start)
        data = fh.read(end - start).decode("utf-8", "replace")
    for line in data.splitlines():
        parts = line.split()
        if len(parts) != 4 or not parts[3].isdigit():
            continue
        route = f"{parts[0]} {_ID.sub('/<id>', parts[1])}"
        by_route.setdefault(route, []).append(int(parts[3]) / 1000)
    return {route: {"requests": len(v), "p50_ms": round(percentile(v, 50), 1), "p95_ms": round(percentile(v, 95), 1)}
            for route, v in sorted(by_route.items(), key=lambda kv: -len(kv[1]))}


# --- Data ----------------------------------------------------------------------------------

def prepare_data(args, scale: int, months: int) -> dict:
    """Migrate, fill (or reuse), add the bench's CMs and tokens; returns the locust config."""
    import random
    from datetime import UTC, datetime, timedelta

    from django.contrib.auth import get_user_model
    from django.core.management import call_command
    from django.db import connection
    from django.utils import translation

    from tertulia.content.models import Post
    from tertulia.core import demo, roles
    from tertulia.core import services as core
    from tertulia.core.models import Membership, PersonalAccessToken, TokenGrant
    from tertulia.core.services import Ctx
    from tertulia.inbox.models import Conversation
    from tertulia.networks.models import SocialAccount

    translation.activate("en")
    t = time.perf_counter()
    call_command("migrate", interactive=False, verbosity=0)
    log(f"migrated in {time.perf_counter() - t:.1f} s")
    today = datetime.now(UTC).date()
    t = time.perf_counter()
    if not (args.keep and demo.exists()):
        demo.generate(demo.DemoOptions(today=today, interactions=scale, brands=1, batch_size=5000,
                                       atomic=False, months=months),
                      progress=lambda m: log("  " + m))
        with connection.cursor() as c:
            c.execute("ANALYZE")
        log(f"filled in {time.perf_counter() - t:.0f} s")
    else:  # a kept database: its history ends on the day it was filled
        last = Post.objects.filter(brand__organization__is_demo=True).order_by("-created_at").first()
        today = last.created_at.date() if last else today
    fill_seconds = time.perf_counter() - t
    try:  # the inbox's daily rollup, as its periodic task keeps it on a live server (issue 10 work)
        from tertulia.inbox import daily
    except ImportError:
        daily = None
    if daily is not None and hasattr(daily, "rebuild_all"):
        t = time.perf_counter()
        daily.rebuild_all()
        log(f"inbox daily rollup rebuilt in {time.perf_counter() - t:.1f} s")

    User = get_user_model()
    owner = User.objects.get(username=demo.DEMO_USERNAME)
    brand = demo.demo_brands().order_by("pk").first()
    # Drafts left by earlier runs on a kept database (and their audit rows stay: they are history).
    left = Post.objects.filter(brand=brand, text__startswith="[load] ").delete()[0]
    if left:
        log(f"deleted {left} rows of earlier runs' drafts")
    octx = Ctx(owner, via="cli")
    users = []
    PersonalAccessToken.objects.filter(user__username__startswith="load-cm-").delete()
    for i in range(1, CM_COUNT + 1):
        username = f"load-cm-{i}"
        user = User.objects.filter(username=username).first()
        if user is None:
            user = User.objects.create_user(username, f"{username}@load.tertulia.example", CM_PASSWORD,
                                            first_name="Load", last_name=f"CM {i}",
                                            language="es" if i % 2 else "en")
        if not Membership.objects.filter(brand=brand, user=user).exists():
            core.do_add_member(octx, brand, user, roles.Role.COMMUNITY_MANAGER)
        _token, raw = core.do_create_token(Ctx(user, via="cli"), "load bench",
                                           {brand.pk: TokenGrant.Scope.READ})
        users.append({"username": username, "password": CM_PASSWORD, "token": raw, "language": user.language})
    rng = random.Random(7)
    conv_ids = list(Conversation.objects.filter(brand=brand).order_by("-last_message_at")
                    .values_list("pk", flat=True)[:5000])
    conv_ids = rng.sample(conv_ids, min(500, len(conv_ids)))
    from tertulia.networks.capabilities import MESSAGING_ONLY

    account_ids = list(SocialAccount.objects.filter(brand=brand).exclude(network__in=MESSAGING_ONLY)
                       .exclude(status=SocialAccount.Status.DISABLED).values_list("pk", flat=True))
    first = today.replace(day=1)
    last = (first + timedelta(days=32)).replace(day=1) - timedelta(days=1)
    from tertulia.inbox.models import Interaction

    counts = {"interactions": Interaction.objects.filter(brand=brand).count(),
              "conversations": Conversation.objects.filter(brand=brand).count(),
              "posts": Post.objects.filter(brand=brand).count()}
    log(f"brand {brand.pk} ({brand.name}): {counts}")
    return {"brand_id": brand.pk, "users": users, "conversation_ids": conv_ids, "account_ids": account_ids,
            "month": today.isoformat(), "month_start": first.isoformat(), "month_end": last.isoformat(),
            "counts": counts, "fill_seconds": round(fill_seconds, 1)}


def copy_or_create_kept(base_url: str, name: str, template: str) -> str:
    """The kept database: exists, or copied from ``template`` when that exists, or created empty."""
    import psycopg

    with psycopg.connect(base_url, autocommit=True) as conn:
        if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            return "kept"
        if template and conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [template]).fetchone():
            try:
                conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
                return f"copied from {template}"
            except psycopg.errors.ObjectInUse:
                log(f"{template} is in use (a copy needs it idle): filling {name} instead")
        conn.execute(f'CREATE DATABASE "{name}"')
        return "created"


def collect_static(compress: bool) -> str:
    """``collectstatic`` into STATIC_ROOT (the run's temporary var dir), from a cache in the temp
    directory keyed by every source file's name, size and time: the production storage
    (CompressedManifestStaticFilesStorage) spends a minute on brotli for ninja's API-docs bundles.
    Without ``compress`` (``--quick``): the manifest storage without the pre-compressed copies,
    the same file names and the same manifest that the server reads (only nothing is pre-gzipped)."""
    import hashlib

    from django.conf import settings
    from django.contrib.staticfiles import finders
    from django.contrib.staticfiles.storage import staticfiles_storage
    from django.core.files.storage import storages
    from django.core.management import call_command
    from django.utils.functional import empty

    if not compress:
        settings.STORAGES = {**settings.STORAGES, "staticfiles": {
            "BACKEND": "django.contrib.staticfiles.storage.ManifestStaticFilesStorage"}}
        storages._storages = {}
        storages.__dict__.pop("backends", None)
        staticfiles_storage._wrapped = empty
    digest = hashlib.sha256(settings.STORAGES["staticfiles"]["BACKEND"].encode())
    entries = []
    for finder in finders.get_finders():
        for path, storage in finder.list([]):
            st = os.stat(storage.path(path))
            entries.append(f"{path}\0{st.st_size}\0{st.st_mtime_ns}")
    for entry in sorted(entries):
        digest.update(entry.encode() + b"\n")
    cache_root = Path(tempfile.gettempdir()) / "tertulia-load-static" / ("compressed" if compress else "plain")
    cache = cache_root / digest.hexdigest()[:20]
    target = Path(settings.STATIC_ROOT)
    if cache.is_dir():
        shutil.copytree(cache, target, dirs_exist_ok=True)
        return "copied from the cache"
    call_command("collectstatic", interactive=False, verbosity=0)
    cache_root.mkdir(parents=True, exist_ok=True)
    partial = cache_root / f".{cache.name}.{os.getpid()}"
    shutil.copytree(target, partial)
    try:
        partial.rename(cache)
    except OSError:  # another run cached the same files meanwhile
        shutil.rmtree(partial, ignore_errors=True)
    for old in cache_root.iterdir():  # earlier versions of the files
        if old.name != cache.name and not old.name.startswith("."):
            shutil.rmtree(old, ignore_errors=True)
    return "collected"


def profile_pages(config: dict, repeat: int) -> dict:
    """Each endpoint of the mix, alone, in this process (Django's test client, no concurrency):
    wall and CPU milliseconds of the whole request (median), and its SQL queries and their time.
    What a page costs the server by itself; the load runs show what concurrency adds."""
    import random

    from django.conf import settings
    from django.contrib.auth import get_user_model
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    settings.ALLOWED_HOSTS = ["*"]
    cm = config["users"][0]
    brand = config["brand_id"]
    client = Client(HTTP_ACCEPT_LANGUAGE=cm["language"])
    client.force_login(get_user_model().objects.get(username=cm["username"]))
    api = Client(HTTP_AUTHORIZATION=f"Bearer {cm['token']}")
    rng = random.Random(3)
    month = f"view=month&date={config['month']}"
    cases = {
        "calendar (month)": lambda: client.get(f"/brands/{brand}/calendar/?{month}"),
        "inbox list": lambda: client.get(f"/brands/{brand}/inbox/"),
        "inbox list (negative)": lambda: client.get(f"/brands/{brand}/inbox/?sentiment=negative"),
        "conversation": lambda: client.get(f"/brands/{brand}/inbox/{rng.choice(config['conversation_ids'])}/"),
        "analytics dashboard (30d)": lambda: client.get(f"/brands/{brand}/analytics/?period=30d"),
        "compose (form)": lambda: client.get(f"/brands/{brand}/compose/"),
        "compose (POST, new draft)": lambda: client.post(f"/brands/{brand}/compose/", {
            "text": f"[load] profile {rng.random():.8f}", "format": "text",
            "accounts": config["account_ids"][:2], "action": "save"}),
        "API conversations": lambda: api.get(f"/api/v1/brands/{brand}/conversations?limit=25"),
        "API posts": lambda: api.get(f"/api/v1/brands/{brand}/posts?limit=25"),
        "API calendar (month)": lambda: api.get(
            f"/api/v1/brands/{brand}/calendar?start={config['month_start']}&end={config['month_end']}"),
    }
    out = {}
    for name, call in cases.items():
        response = call()  # warm: templates, the connection, caches a live server would have
        assert response.status_code in (200, 302), (name, response.status_code)
        wall, cpu, queries, sql_ms = [], [], [], []
        for _ in range(repeat):
            with CaptureQueriesContext(connection) as captured:
                t, c = time.perf_counter(), time.thread_time()
                response = call()
                cpu.append((time.thread_time() - c) * 1000)
                wall.append((time.perf_counter() - t) * 1000)
            assert response.status_code in (200, 302), (name, response.status_code)
            queries.append(len(captured.captured_queries))
            sql_ms.append(sum(float(q["time"]) for q in captured.captured_queries) * 1000)
        out[name] = {"wall_ms": round(statistics.median(wall), 1), "cpu_ms": round(statistics.median(cpu), 1),
                     "queries": max(queries), "sql_ms": round(statistics.median(sql_ms), 1)}
        log(f"  {name:28s} {out[name]['wall_ms']:7.1f} ms wall {out[name]['cpu_ms']:7.1f} ms CPU "
            f"{out[name]['queries']:4d} queries {out[name]['sql_ms']:7.1f} ms SQL")
    return out


# --- Serving and loading -------------------------------------------------------------------

def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(url: str, proc: subprocess.Popen, seconds: float = 60.0) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"gunicorn exited with {proc.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            time.sleep(0.3)
    raise RuntimeError(f"{url} did not answer within {seconds:.0f} s")


def run_locust(args, users: int, host: str, config_path: Path, tmp: Path, env: dict,
               on_window=lambda: None) -> tuple[dict, float]:
    """One locust run; ``on_window()`` is called when the measured window starts (every user
    signed in). Returns the results and locust's CPU seconds during the window."""
    prefix = tmp / f"u{users}"
    mark = tmp / f"u{users}.window"
    samples_path = tmp / f"u{users}_samples.json"
    # -t only as a safety net: the locustfile quits after the sign-ins plus --seconds.
    cmd = [sys.executable, "-m", "locust", "-f", str(LOCUSTFILE), "--headless", "-u", str(users),
           "-r", str(args.spawn_rate), "-t", f"{int(args.seconds) + 600}s", "--host", host, "--csv", str(prefix),
           "--only-summary", "--stop-timeout", "10", "--loglevel", "WARNING"]
    lenv = {**env, "LOAD_CONFIG": str(config_path), "LOAD_SAMPLES": str(samples_path),
            "LOAD_MEASURE_SECONDS": str(args.seconds), "LOAD_MARK": str(mark),
            "LOAD_WAIT_MIN": str(args.wait_min), "LOAD_WAIT_MAX": str(args.wait_max)}
    with open(tmp / f"u{users}_locust.log", "wb") as out:
        proc = subprocess.Popen(cmd, env=lenv, stdout=out, stderr=subprocess.STDOUT, cwd=ROOT)
        locust_cpu, at_window = 0.0, None
        while proc.poll() is None:
            locust_cpu = max(locust_cpu, proc_cpu(proc.pid))  # read before it exits and is reaped
            if at_window is None and mark.exists():
                at_window = locust_cpu
                on_window()
            time.sleep(0.25)
        locust_cpu -= at_window or 0.0
    if not Path(f"{prefix}_stats.csv").exists():
        raise RuntimeError("locust wrote no stats: " + (tmp / f"u{users}_locust.log").read_text()[-2000:])
    rows = read_locust_csv(prefix)
    dump = json.loads(samples_path.read_text()) if samples_path.exists() else {"mix": {}, "signin": {}}
    mix = [v for values in dump["mix"].values() for v in values]
    signin = dump["signin"]
    logins = signin.get("samples", {}).get("login", [])
    agg = rows.get("Aggregated", {})
    result = {
        "users": users,
        "requests": agg.get("requests"),
        "failures": agg.get("failures"),
        "throughput_rps": agg.get("rps"),
        "p50_ms": agg.get("p50_ms"),
        "p95_ms": agg.get("p95_ms"),
        "p99_ms": agg.get("p99_ms"),
        "signin": {
            "users": signin.get("users"),
            "seconds_until_all_in": signin.get("seconds"),
            "failures": signin.get("failures"),
            "login_p50_ms": round(percentile(logins, 50), 1) if logins else None,
            "login_p95_ms": round(percentile(logins, 95), 1) if logins else None,
        },
        "mix_exact": {
            "requests": len(mix),
            "p50_ms": round(percentile(mix, 50), 1) if mix else None,
            "p95_ms": round(percentile(mix, 95), 1) if mix else None,
            "p99_ms": round(percentile(mix, 99), 1) if mix else None,
            "mean_ms": round(statistics.fmean(mix), 1) if mix else None,
        },
        "endpoints": {k: v for k, v in rows.items() if k != "Aggregated"},
        "failure_kinds": read_failures(prefix),
    }
    return result, locust_cpu


def main() -> int:
    args = parse_args()
    scale = args.interactions if args.interactions is not None else (10_000 if args.quick else 1_000_000)
    months = 3 if args.quick else 12
    tmp = Path(tempfile.mkdtemp(prefix="tertulia-load-"))
    base_url = os.environ.get("DATABASE_URL", "")
    pg_name = None
    if args.keep:
        from urllib.parse import urlsplit, urlunsplit

        if not base_url.startswith(("postgres://", "postgresql://")):
            sys.exit("--keep needs DATABASE_URL=postgres://user:password@host/db")
        prepare_environment(argparse.Namespace(postgres=False), tmp)  # the other settings
        how = copy_or_create_kept(base_url, args.keep, args.template)
        log(f"database {args.keep}: {how}")
        os.environ["DATABASE_URL"] = urlunsplit(urlsplit(base_url)._replace(path="/" + args.keep))
        vendor = "postgresql"
    else:
        vendor, pg_name = prepare_environment(args, tmp)
    os.environ["EMAIL_BACKEND"] = "django.core.mail.backends.locmem.EmailBackend"
    os.environ["TERTULIA_INSECURE_HTTP"] = "1"
    server = None
    redis_name = f"tertulia-load-{os.getpid()}"
    redis_url = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/13")
    try:
        import django

        django.setup()
        from django.db import connection, connections

        db_name = connection.settings_dict["NAME"]
        log(f"database: {vendor} ({db_name})")
        config = prepare_data(args, scale, months)
        if args.fill_only:
            return 0
        t = time.perf_counter()
        how = collect_static(compress=not args.quick)
        log(f"static files {how} in {time.perf_counter() - t:.1f} s")
        log("each endpoint alone (in-process, median of "
            f"{3 if args.quick else 7}):")
        profile = profile_pages(config, 3 if args.quick else 7)
        connections.close_all()
        config_path = tmp / "load.json"
        config_path.write_text(json.dumps(config))

        env = {k: v for k, v in os.environ.items() if k not in ("DEBUG", "HUEY_IMMEDIATE")}
        env.update({"ALLOWED_HOSTS": "127.0.0.1,localhost", "HUEY_IMMEDIATE": "0", "HUEY_NAME": redis_name,
                    "DB_CONN_MAX_AGE": "60", "PYTHONUNBUFFERED": "1"})
        if vendor == "postgresql":
            env["REDIS_URL"] = redis_url
        else:
            env["HUEY_SQLITE_FILE"] = str(tmp / "huey.sqlite3")
        port = free_port()
        host = f"http://127.0.0.1:{port}"
        access_log = tmp / "access.log"
        from tertulia.core.management.commands.run import _no_control_socket

        server = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "tertulia.wsgi:application", "--bind", f"127.0.0.1:{port}",
             "--workers", str(args.workers), "--worker-class", "gthread", "--threads", str(args.threads),
             "--access-logfile", str(access_log), "--access-logformat", "%(m)s %(U)s %(s)s %(D)s",
             # Keep-alive longer than the think time, as a proxy in front keeps its upstream
             # connections: otherwise the server closes an idle connection just as the client
             # reuses it (a connection error that no browser behind a proxy would see).
             "--keep-alive", "10", "--graceful-timeout", "5", *_no_control_socket()],
            env=env, cwd=ROOT, stdout=open(tmp / "gunicorn.log", "wb"), stderr=subprocess.STDOUT,
            process_group=0)
        wait_for(f"{host}/login/", server)
        log(f"gunicorn: {args.workers} workers × {args.threads} threads on {host}")

        levels = []
        for users in args.users:
            meter = CpuMeter(server.pid, base_url if vendor == "postgresql" else "", db_name)
            window = {"offset": access_log.stat().st_size if access_log.exists() else 0}

            def start_window():
                meter.start()
                window["offset"] = access_log.stat().st_size

            meter.start()
            log(f"locust: {users} users, {args.seconds:g} s measured, think time {args.wait_min:g}-{args.wait_max:g} s…")
            result, locust_cpu = run_locust(args, users, host, config_path, tmp, env, start_window)
            time.sleep(0.5)  # the access log's last lines
            result["cpu"] = meter.stop(locust_cpu)
            served = result["mix_exact"]["requests"] or 0
            server_cpu = result["cpu"]["gunicorn_cpu_seconds"] + result["cpu"]["postgres_cpu_seconds"]
            result["cpu"]["server_cpu_ms_per_request"] = round(server_cpu * 1000 / served, 1) if served else None
            # What the 2 CPUs could serve if the server had them to itself, at this CPU cost per request.
            result["cpu"]["capacity_rps_if_machine_idle"] = (
                round((os.cpu_count() or 1) * served / server_cpu, 1) if server_cpu else None)
            result["server_time"] = read_access_log(access_log, window["offset"], access_log.stat().st_size)
            levels.append(result)
            m = result["mix_exact"]
            log(f"  {result['throughput_rps']} req/s, {result['failures']} failures; mix p50/p95/p99 "
                f"{m['p50_ms']}/{m['p95_ms']}/{m['p99_ms']} ms; locust's aggregated p95 {result['p95_ms']} ms")
            for name, row in result["endpoints"].items():
                log(f"    {name:28s} {row['requests']:6d} req  p50 {row['p50_ms']!s:>6} p95 {row['p95_ms']!s:>6} "
                    f"p99 {row['p99_ms']!s:>6} ms  {row['failures']} failed")
            log(f"    CPU: {json.dumps(result['cpu'])}")
            for failure in result["failure_kinds"][:10]:
                log(f"    failure: {failure}")

        at = next((r for r in levels if r["users"] == TARGET_USERS), levels[0])
        figures = {**config["counts"], "fill_seconds": config["fill_seconds"], "web_workers": args.workers,
                   "threads_per_worker": args.threads, "think_time_s": [args.wait_min, args.wait_max],
                   "measured_seconds": args.seconds, "page_profile": profile, "levels": levels}
        for r in levels:
            u = r["users"]
            figures[f"u{u}_throughput_rps"] = r["throughput_rps"]
            figures[f"u{u}_p50_ms"] = r["mix_exact"]["p50_ms"]
            figures[f"u{u}_p95_ms"] = r["mix_exact"]["p95_ms"]
            figures[f"u{u}_p99_ms"] = r["mix_exact"]["p99_ms"]
            figures[f"u{u}_failures"] = r["failures"] + (r["signin"]["failures"] or 0)
        targets = {f"u{at['users']}_p95_ms_max": P95_TARGET_MS, f"u{at['users']}_failures_max": 0}
        passed = {f"u{at['users']}_p95_ms": (at["mix_exact"]["p95_ms"] or 1e9) <= P95_TARGET_MS,
                  f"u{at['users']}_failures": at["failures"] + (at["signin"]["failures"] or 0) == 0}
        print(json.dumps({"benchmark": "load", "database": vendor, "quick": args.quick, "figures": figures,
                          "targets": targets, "pass": passed}, ensure_ascii=False))
        return 1 if args.strict and not all(passed.values()) else 0
    finally:
        if server is not None and server.poll() is None:
            server.send_signal(signal.SIGTERM)
            try:
                server.wait(timeout=15)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()
        if vendor == "postgresql" and not args.fill_only:
            try:
                import redis

                r = redis.Redis.from_url(redis_url)
                keys = list(r.scan_iter(f"*{redis_name}*"))
                if keys:
                    r.delete(*keys)
            except Exception as exc:  # the queue is only a by-product here
                log(f"(could not clean the Redis queue {redis_name}: {exc})")
        if pg_name:
            drop_database(base_url, pg_name)
        if os.environ.get("BENCH_LOAD_KEEP_TMP"):
            log(f"(kept {tmp})")
        else:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
