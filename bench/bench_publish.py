"""Benchmark: the publishing engine under a burst (issue 4).

    .venv/bin/python bench/bench_publish.py [--quick] [--mode embedded|scaled|both]
                                            [--posts N] [--accounts N] [--strict]

N posts (10,000; 100 with --quick), one target each, on M Mastodon accounts (500; 20), all due
within the same minute (spread evenly over a 60-second window; 5 s with --quick), published by
real Huey consumers against a loopback fake Mastodon (tests/fakes/recording.py) that answers
every request after 150 ms and fails 2% of the publish requests:

    503 (30%), 429 with x-ratelimit-reset/Retry-After 10 s (20%), 502 before anything was
    created (15%, ambiguous to the client), 504 after the status was created (20%,
    ambiguous) and a connection dropped after it was created (15%, ambiguous).

The fake ignores Idempotency-Key by default (--honour-idempotency to turn it on), so a blind
re-post after an ambiguous answer would be a duplicate: duplicates measure the engine's own
reconciliation (find_published), not the server's safety net.

Two modes, each in a fresh process with its own throw-away database:

- embedded: a SQLite file in a temporary directory, SqliteHuey, and one consumer started as
  ``make run`` starts it (``tertulia run_huey --quiet``: 2 worker threads from settings);
- scaled: a temporary PostgreSQL database (``tertulia_bench_<pid>``, created and dropped here, on
  the server of $BENCH_PG_URL, default postgres://tertulia:tertulia@127.0.0.1/tertulia), Huey on
  Redis ($BENCH_REDIS_URL, default redis://127.0.0.1:6379/14, under a queue name of its own
  that is flushed before and after), and 2 consumers ``run_huey -w 8 -k thread``.

Posts, targets and accounts are created in bulk (set-up, not measured); every target is then
scheduled through ``publishing.services.do_schedule``, which queues its task with an ETA, as a
person scheduling it would. Engine settings are the production defaults (backoff from 4 s,
10 attempts, each consumer thread sending up to 4 targets at once: PUBLISH_BATCH), except with
--quick, where the backoff starts at 2 s so CI does not wait.

Measured per target, from the fake's record: lateness = acceptance time on the network - due
time (p50, p99, max; also for the targets published at their first attempt), throughput =
targets published / (last acceptance - first due time), duplicates (statuses beyond one per
target), losses (targets neither published nor explicitly failed when the run ends, or marked
published without a status on the network), failed targets, attempts beyond the first.

For comparison, the same due times through two models at the same per-request latency and
the same number of concurrent senders (no failures, so both are lower bounds):

- cron: a once-a-minute dispatcher (at each whole minute of the clock, send everything that
  became due since the previous run, FIFO, with the same senders);
- ideal ETA: every post handed to a sender at its due time (the capacity floor: what any
  dispatcher with that many senders at that latency can at best achieve).

The last line of output is one JSON object (bench/README.md). Exit status 0 unless the run
broke, or, with --strict, a target was missed (targets are only judged on a full run).
"""

from __future__ import annotations

import argparse
import heapq
import json
import math
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

DEFAULT_PG_URL = "postgres://tertulia:tertulia@127.0.0.1/tertulia"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/14"
FINAL = ("published", "failed", "needs_attention", "canceled")


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--quick", action="store_true", help="small size for CI smoke runs; targets not judged")
    p.add_argument("--mode", choices=("embedded", "scaled", "both"), default="both")
    p.add_argument("--posts", type=int, default=None, help="posts, one target each (default 10000; 100 quick)")
    p.add_argument("--accounts", type=int, default=None, help="Mastodon accounts (default 500; 20 quick)")
    p.add_argument("--brands", type=int, default=None, help="brands the accounts belong to (default accounts/50)")
    p.add_argument("--window", type=float, default=None, help="due times spread over this many seconds (60; 10)")
    p.add_argument("--latency", type=float, default=0.150, help="seconds per request on the fake network")
    p.add_argument("--failure-rate", type=float, default=0.02, help="share of publish requests that fail")
    p.add_argument("--honour-idempotency", action="store_true", help="the fake honours Idempotency-Key")
    p.add_argument("--consumers", type=int, default=2, help="scaled mode: consumer processes")
    p.add_argument("--threads", type=int, default=8, help="scaled mode: worker threads per consumer")
    p.add_argument("--backoff-base", type=float, default=None, help="PUBLISH_BACKOFF_BASE (4; 2 quick)")
    p.add_argument("--batch", type=int, default=4, help="PUBLISH_BATCH: targets one consumer thread sends at once")
    p.add_argument("--timeout", type=float, default=None, help="seconds to wait for every target to be final")
    p.add_argument("--seed", type=int, default=4)
    p.add_argument("--strict", action="store_true", help="exit 1 when a target is missed")
    p.add_argument("--run-mode", choices=("embedded", "scaled"), help=argparse.SUPPRESS)  # internal: one mode
    args = p.parse_args(argv)
    args.posts = args.posts or (100 if args.quick else 10_000)
    args.accounts = min(args.accounts or (20 if args.quick else 500), args.posts)
    args.brands = args.brands or max(1, math.ceil(args.accounts / 50))
    args.window = args.window if args.window is not None else (5.0 if args.quick else 60.0)
    args.backoff_base = args.backoff_base if args.backoff_base is not None else (2.0 if args.quick else 4.0)
    return args


def log(message: str) -> None:
    print(message, flush=True)


# -- statistics and the comparison models ---------------------------------------------------------


def machine_busy_seconds() -> float | None:
    """CPU seconds the whole machine spent busy since boot (all CPUs; Linux /proc/stat)."""
    try:
        fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    except (OSError, ValueError):
        return None
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle + iowait
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def percentile(values, q: float):
    """Nearest-rank percentile (q in 0..100); None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100.0 * len(ordered)))
    return ordered[min(rank, len(ordered)) - 1]


def summary(values) -> dict:
    return {"p50": _r(percentile(values, 50)), "p99": _r(percentile(values, 99)),
            "max": _r(max(values) if values else None), "n": len(values)}


def _r(value, digits: int = 3):
    return None if value is None else round(value, digits)


def simulate(release_times, latency: float, senders: int) -> list[float]:
    """Completion times when each item is released at ``release_times[i]`` (sorted or not) and
    handed, in release order, to the first of ``senders`` free senders, each taking ``latency``."""
    order = sorted(range(len(release_times)), key=lambda i: release_times[i])
    free = [0.0] * senders
    heapq.heapify(free)
    done = [0.0] * len(release_times)
    for i in order:
        start = max(heapq.heappop(free), release_times[i])
        done[i] = start + latency
        heapq.heappush(free, done[i])
    return done


def cron_lateness(due, latency: float, senders: int, period: float = 60.0) -> list[float]:
    """A dispatcher that runs at every whole minute of the clock and sends what became due
    since its last run (a post due exactly at a tick goes out at that tick)."""
    ticks = [math.ceil(d / period) * period for d in due]
    done = simulate(ticks, latency, senders)
    return [c - d for c, d in zip(done, due)]


def ideal_lateness(due, latency: float, senders: int) -> list[float]:
    done = simulate(due, latency, senders)
    return [c - d for c, d in zip(done, due)]


# -- one mode, in its own process ----------------------------------------------------------------


class Mode:
    def __init__(self, args, tmp: Path):
        self.args, self.tmp = args, tmp
        self.name = args.run_mode
        self.pg_name: str | None = None
        self.pg_base = os.environ.get("BENCH_PG_URL", DEFAULT_PG_URL)
        self.redis_url = os.environ.get("BENCH_REDIS_URL", DEFAULT_REDIS_URL)
        self.consumers: list[subprocess.Popen] = []

    # environment -----------------------------------------------------------------------------

    def prepare_environment(self) -> dict:
        from cryptography.fernet import Fernet

        for key in ("DATABASE_URL", "REDIS_URL", "HUEY_SQLITE_FILE", "HUEY_WORKERS", "DEBUG", "SECRET_KEY_FILE",
                    "TERTULIA_FERNET_KEY_FILE", "TERTULIA_TESTING"):
            os.environ.pop(key, None)
        os.environ.update({
            "DJANGO_SETTINGS_MODULE": "tertulia.settings",
            "TERTULIA_VAR_DIR": str(self.tmp),
            "SECRET_KEY": secrets.token_urlsafe(50),
            "TERTULIA_FERNET_KEYS": Fernet.generate_key().decode(),
            "HUEY_IMMEDIATE": "0",
            "HUEY_NAME": f"tertulia-bench-{os.getpid()}",
            "TERTULIA_ALLOW_PRIVATE_NETWORKS": "1",  # the fake network is on 127.0.0.1
            "PUBLISH_BACKOFF_BASE": str(self.args.backoff_base),
            "PUBLISH_BATCH": str(self.args.batch),
            "PYTHONUNBUFFERED": "1",
        })
        if self.name == "embedded":
            os.environ["DATABASE_URL"] = f"sqlite:///{self.tmp / 'bench.sqlite3'}"
            os.environ["HUEY_SQLITE_FILE"] = str(self.tmp / "huey.sqlite3")
            return {"database": "sqlite", "queue": f"SqliteHuey ({self.tmp / 'huey.sqlite3'})"}
        import psycopg

        self.pg_name = f"tertulia_bench_{os.getpid()}"
        with psycopg.connect(self.pg_base, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{self.pg_name}"')
        parts = urlsplit(self.pg_base)
        os.environ["DATABASE_URL"] = urlunsplit(parts._replace(path="/" + self.pg_name))
        os.environ["REDIS_URL"] = self.redis_url
        return {"database": "postgresql", "queue": f"RedisHuey ({self.redis_url}, queue {os.environ['HUEY_NAME']})"}

    def cleanup(self) -> None:
        self.stop_consumers()
        try:
            from huey.contrib.djhuey import HUEY

            HUEY.flush()
        except Exception:  # noqa: BLE001 - best effort: Django may not have started
            pass
        if self.pg_name:
            import psycopg

            try:
                from django.db import connections

                connections.close_all()
            except Exception:  # noqa: BLE001
                pass
            with psycopg.connect(self.pg_base, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{self.pg_name}" WITH (FORCE)')

    # consumers -------------------------------------------------------------------------------

    def consumer_commands(self) -> list[list[str]]:
        base = [sys.executable, "-m", "tertulia.cli", "run_huey", "--quiet"]
        if self.name == "embedded":
            return [base]  # what `make run` starts: the settings' 2 worker threads
        return [base + ["-w", str(self.args.threads), "-k", "thread"] for _ in range(self.args.consumers)]

    def start_consumers(self) -> None:
        for n, argv in enumerate(self.consumer_commands()):
            out = open(self.tmp / f"consumer{n}.log", "w")
            self.consumers.append(subprocess.Popen(argv, cwd=ROOT, env=os.environ.copy(), stdout=out,
                                                   stderr=subprocess.STDOUT))
            out.close()

    def wait_for_consumers_idle(self, limit: float = 90.0) -> None:
        """Until the consumers have booted (Django imported, workers polling): their CPU use over
        one second drops near zero. Calibrating do_schedule while they boot would overestimate it."""
        deadline = time.monotonic() + limit
        before = self.consumer_cpu_seconds()
        while time.monotonic() < deadline and self.consumers_alive():
            time.sleep(1.0)
            now = self.consumer_cpu_seconds()
            if now - before < 0.1 * len(self.consumers) and now > 0.5 * len(self.consumers):
                return
            before = now

    def consumers_alive(self) -> bool:
        return all(c.poll() is None for c in self.consumers)

    def consumer_cpu_seconds(self) -> float:
        """User + system CPU the consumer processes used so far (Linux /proc)."""
        total = 0.0
        tick = os.sysconf("SC_CLK_TCK")
        for c in self.consumers:
            try:
                fields = Path(f"/proc/{c.pid}/stat").read_text().rsplit(")", 1)[1].split()
                total += (int(fields[11]) + int(fields[12])) / tick
            except (OSError, IndexError, ValueError):
                pass
        return total

    def stop_consumers(self) -> None:
        for c in self.consumers:
            if c.poll() is None:
                c.send_signal(signal.SIGINT)  # Huey's graceful stop
        for c in self.consumers:
            try:
                c.wait(timeout=20)
            except subprocess.TimeoutExpired:
                c.kill()
                c.wait()
        self.consumers = []

    def consumer_log_tail(self, lines: int = 30) -> str:
        out = []
        for path in sorted(self.tmp.glob("consumer*.log")):
            text = path.read_text(errors="replace").splitlines()[-lines:]
            out.append(f"--- {path.name}\n" + "\n".join(text))
        return "\n".join(out)

    # the run ---------------------------------------------------------------------------------

    def run(self) -> dict:
        args = self.args
        setup = self.prepare_environment()
        import django

        django.setup()
        from django.core.management import call_command
        from django.db import connection
        from huey.contrib.djhuey import HUEY

        from tests.fakes.recording import DEFAULT_MIX, RecordingMastodon

        t_setup = time.perf_counter()
        call_command("migrate", interactive=False, verbosity=0)
        HUEY.flush()
        log(f"[{self.name}] database {connection.vendor} ({connection.settings_dict['NAME']}), "
            f"queue {setup['queue']}")

        fake = RecordingMastodon(latency=args.latency, honour_idempotency=args.honour_idempotency,
                                 seed=args.seed).start()
        try:
            fake.inject_failure_mix(args.failure_rate, DEFAULT_MIX, reset_in=10.0)
            owner, targets = self.build_data(fake)
            setup_seconds = time.perf_counter() - t_setup
            log(f"[{self.name}] {len(targets)} approved targets on {args.accounts} accounts in "
                f"{args.brands} brands, set up in {setup_seconds:.1f} s")

            self.start_consumers()
            self.wait_for_consumers_idle()
            if not self.consumers_alive():
                raise RuntimeError("a consumer did not start:\n" + self.consumer_log_tail())
            due = self.schedule(owner, targets)
            result = self.wait_and_measure(fake, due)
            result["setup"] = {**setup, "setup_seconds": round(setup_seconds, 1),
                               "consumers": len(self.consumer_commands()),
                               "threads_per_consumer": 2 if self.name == "embedded" else args.threads,
                               "batch": args.batch}
            return result
        finally:
            self.stop_consumers()
            fake.stop()

    def build_data(self, fake):
        """Brands, accounts, approved posts with one target each: in bulk (set-up, not measured)."""
        from django.contrib.auth import get_user_model

        from tertulia.content.models import Post
        from tertulia.core import services
        from tertulia.core.services import Ctx
        from tertulia.networks.models import SocialAccount
        from tertulia.publishing.models import PostTarget

        args = self.args
        owner = get_user_model().objects.create_user(username="bench_owner", email="bench@example.com",
                                                     password=secrets.token_urlsafe(16), language="en")
        ctx = Ctx(owner, via="bench")
        org = services.do_create_organization(ctx, "Bench Agency")
        brands = [services.do_create_brand(ctx, org, name=f"Bench brand {b}", timezone="Europe/Madrid",
                                           language="es") for b in range(args.brands)]
        remote = fake.add_accounts(args.accounts)
        accounts = SocialAccount.objects.bulk_create([
            SocialAccount(brand=brands[i % len(brands)], network="mastodon", handle=f"@{acc['username']}",
                          display_name=acc["display_name"], external_id=acc["id"], base_url=fake.base_url,
                          access_token=token, status=SocialAccount.Status.CONNECTED)
            for i, (acc, token) in enumerate(remote)
        ])
        if not accounts[0].pk:  # databases without RETURNING on bulk insert
            accounts = list(SocialAccount.objects.filter(network="mastodon").order_by("pk"))
        posts = Post.objects.bulk_create([
            Post(brand_id=accounts[i % len(accounts)].brand_id, author=owner, state=Post.State.APPROVED,
                 text=f"Burst test {i}: ¡hola! Tertulia publishes this at its due time. #bench{i % 97}")
            for i in range(args.posts)
        ], batch_size=2000)
        if not posts[0].pk:
            posts = list(Post.objects.order_by("pk"))
        PostTarget.objects.bulk_create([
            PostTarget(brand_id=post.brand_id, post=post, account=accounts[i % len(accounts)],
                       state=PostTarget.State.APPROVED)
            for i, post in enumerate(posts)
        ], batch_size=2000)
        targets = list(PostTarget.objects.select_related("brand", "post", "account").order_by("pk"))
        return owner, targets

    def schedule(self, owner, targets) -> dict[int, float]:
        """Every target through do_schedule (validation, state change, audit log, Huey task
        with an ETA after commit). The window starts once a measured estimate of the time this
        takes has passed, so that nothing is scheduled after it is due."""
        from tertulia.core.services import Ctx
        from tertulia.publishing.services import do_schedule

        args = self.args
        ctx = Ctx(owner, via="bench")
        n = len(targets)
        # Calibrate on a sample scheduled for tomorrow (rescheduled below: their first task goes
        # stale), after a warm-up (the first calls import and compile the text rules).
        far = datetime.now(timezone.utc) + timedelta(days=1)
        for target in targets[:10]:
            do_schedule(ctx, target, due_at=far)
        sample = targets[10: 10 + min(max(20, n // 20), 500)] or targets[:1]
        t0 = time.perf_counter()
        for target in sample:
            do_schedule(ctx, target, due_at=far)
        per_target = (time.perf_counter() - t0) / len(sample)
        lead = max(8.0, per_target * n * 1.4 + 5.0)
        log(f"[{self.name}] do_schedule takes {per_target * 1000:.1f} ms: the first target is due in {lead:.0f} s")
        start = datetime.now(timezone.utc) + timedelta(seconds=lead)
        step = args.window / n
        due: dict[int, float] = {}
        t0 = time.perf_counter()
        late = 0
        for i, target in enumerate(targets):
            at = start + timedelta(seconds=i * step)
            do_schedule(ctx, target, due_at=at)
            due[target.pk] = at.timestamp()
            late += time.time() > due[target.pk]
            if i and i % 2000 == 0:
                log(f"[{self.name}]   {i} scheduled, first due in {start.timestamp() - time.time():.0f} s")
        scheduling_seconds = time.perf_counter() - t0
        slack = start.timestamp() - time.time()
        log(f"[{self.name}] scheduled {n} targets through do_schedule in {scheduling_seconds:.1f} s "
            f"({n / scheduling_seconds:,.0f}/s); first due in {slack:.1f} s, window {args.window:.0f} s")
        if late:
            log(f"[{self.name}] WARNING: {late} targets were scheduled after their due time (set-up too slow)")
        self.scheduling = {"seconds": round(scheduling_seconds, 2), "per_second": round(n / scheduling_seconds),
                           "slack_before_first_due_seconds": round(slack, 2), "scheduled_after_due": late}
        return due

    def wait_and_measure(self, fake, due: dict[int, float]) -> dict:
        from django.db.models import Count, Sum

        from tertulia.publishing.models import DeliveryAttempt, PostTarget

        args = self.args
        n = len(due)
        senders = (2 if self.name == "embedded" else args.consumers * args.threads) * args.batch
        first_due, last_due = min(due.values()), max(due.values())
        load_before = os.getloadavg()
        cpu_before = self.consumer_cpu_seconds()  # start-up (imports, Django) excluded
        machine_before = machine_busy_seconds()
        # Long enough for the capacity (n × latency / senders) three times over, plus retries.
        timeout = args.timeout or (args.window + max(6 * n * args.latency / senders, n / 10)
                                   + 8 * args.backoff_base + 60)
        every = 10 if args.quick else 30
        deadline = last_due + timeout
        last_report = 0.0
        while True:
            counts = dict(PostTarget.objects.values_list("state").annotate(n=Count("pk")))
            final = sum(counts.get(s, 0) for s in FINAL)
            now = time.time()
            if now - last_report >= every:
                log(f"[{self.name}] t{now - first_due:+.0f}s " + ", ".join(f"{k} {v}" for k, v in sorted(counts.items())))
                last_report = now
            if final == n or now > deadline:
                break
            if not self.consumers_alive():
                raise RuntimeError("a consumer died:\n" + self.consumer_log_tail())
            time.sleep(1.0)
        timed_out = final < n
        consumer_cpu = self.consumer_cpu_seconds() - cpu_before
        machine_busy = machine_busy_seconds()
        machine_busy = machine_busy - machine_before if machine_busy is not None and machine_before is not None else None
        load = os.getloadavg()
        self.stop_consumers()

        rows = list(PostTarget.objects.values_list("pk", "state", "external_id", "attempts"))
        by_marker = {}
        by_text = {}
        for pk, text, version in PostTarget.objects.values_list("pk", "post__text", "post__version"):
            by_marker[f"tertulia-{pk}-{version}"] = pk
            by_text[text] = pk
        statuses: dict[int, list] = {}
        orphans = 0
        for acc in fake.accepted:
            pk = by_marker.get(acc.key) or by_text.get(acc.text)
            if pk is None:
                orphans += 1
                continue
            statuses.setdefault(pk, []).append(acc)

        lateness, lateness_first = [], []
        published = failed = attention = lost = mismatched = 0
        last_acceptance = None
        for pk, state, external_id, attempts in rows:
            accepted = sorted(statuses.get(pk, []), key=lambda a: a.at)
            if state == "published":
                published += 1
                if not any(a.status_id == external_id for a in accepted):
                    lost += 1  # the database says published, the network has no such status
                    continue
            elif state in ("failed", "needs_attention"):
                failed += state == "failed"
                attention += state == "needs_attention"
                if accepted:
                    mismatched += 1  # on the network, but the person is told it failed
                continue
            else:
                lost += 1  # neither published nor explicitly failed when the run ended
                continue
            late = accepted[0].at - due[pk]
            lateness.append(late)
            if attempts == 1:
                lateness_first.append(late)
            last_acceptance = max(last_acceptance or 0.0, accepted[0].at)
        duplicates = sum(len(v) - 1 for v in statuses.values() if len(v) > 1) + orphans

        attempts_total = PostTarget.objects.aggregate(s=Sum("attempts"))["s"] or 0
        outcomes = dict(DeliveryAttempt.objects.values_list("outcome").annotate(n=Count("pk")))
        span = (last_acceptance - first_due) if last_acceptance else None
        throughput = published / span if span and span > 0 else None
        due_list = list(due.values())
        cron = cron_lateness(due_list, args.latency, senders)
        ideal = ideal_lateness(due_list, args.latency, senders)
        early = sum(1 for x in lateness if x < 0)
        return {
            "mode": self.name, "targets": n, "senders": senders, "timed_out": timed_out,
            "published": published, "failed": failed, "needs_attention": attention, "lost": lost,
            "duplicates": duplicates, "published_but_reported_failed": mismatched, "published_early": early,
            "lateness_seconds": summary(lateness), "lateness_first_attempt_seconds": summary(lateness_first),
            "throughput_per_second": _r(throughput, 1), "span_seconds": _r(span, 1),
            "attempts_beyond_first": attempts_total - sum(1 for row in rows if row[3] > 0),
            "delivery_outcomes": outcomes, "faults_injected": fake.faults_injected(),
            "idempotent_replays": len(fake.replays), "publish_requests": len(fake.requests_to("POST", "/api/v1/statuses")),
            "find_published_requests": len(fake.requests_to("GET", "/api/v1/accounts/:id/statuses")),
            "cron_lateness_seconds": summary(cron), "ideal_eta_lateness_seconds": summary(ideal),
            "scheduling": self.scheduling,
            "consumer_cpu_seconds": round(consumer_cpu, 1),
            "consumer_cpu_ms_per_published": round(1000 * consumer_cpu / published, 1) if published else None,
            # Everything on the machine (consumers, PostgreSQL, Redis, the fake network, this
            # process): what one post costs the whole box, and so how many posts/s it can carry.
            "machine_cpu_ms_per_published": (round(1000 * machine_busy / published, 1)
                                             if published and machine_busy is not None else None),
            "load_average_1min": {"at_first_due": round(load_before[0], 2), "at_end": round(load[0], 2)},
            "cpus": os.cpu_count(),
        }


def run_one_mode(args) -> int:
    def stop(signum, frame):
        raise KeyboardInterrupt(f"signal {signum}")

    # Background jobs of a non-interactive shell start with SIGINT ignored: take both back, so
    # that an interrupted run still stops its consumers and drops its database.
    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    tmp = Path(tempfile.mkdtemp(prefix=f"tertulia-bench-publish-{args.run_mode}-"))
    mode = Mode(args, tmp)
    try:
        result = mode.run()
    except Exception as exc:  # noqa: BLE001 - reported to the parent as a figure, not a traceback
        import traceback

        traceback.print_exc()
        print(json.dumps({"mode": args.run_mode, "error": f"{type(exc).__name__}: {exc}"}), flush=True)
        return 1
    finally:
        mode.cleanup()
        shutil.rmtree(tmp, ignore_errors=True)
    print(json.dumps(result), flush=True)
    return 0


# -- the parent: runs each mode in a child process, prints the report ---------------------------


def scaled_available() -> str | None:
    """None if PostgreSQL (with CREATEDB) and Redis answer; else why not."""
    try:
        import psycopg

        with psycopg.connect(os.environ.get("BENCH_PG_URL", DEFAULT_PG_URL), connect_timeout=3) as conn:
            conn.execute("SELECT 1")
    except Exception as exc:  # noqa: BLE001
        return f"PostgreSQL: {type(exc).__name__}: {exc}"
    try:
        import redis

        redis.Redis.from_url(os.environ.get("BENCH_REDIS_URL", DEFAULT_REDIS_URL), socket_timeout=3).ping()
    except Exception as exc:  # noqa: BLE001
        return f"Redis: {type(exc).__name__}: {exc}"
    return None


def child(args, mode: str) -> dict:
    argv = [sys.executable, str(Path(__file__).resolve()), "--run-mode", mode]
    for flag in ("posts", "accounts", "brands", "window", "latency", "failure_rate", "consumers", "threads",
                 "batch", "backoff_base", "timeout", "seed"):
        value = getattr(args, flag)
        if value is not None:
            argv += [f"--{flag.replace('_', '-')}", str(value)]
    if args.quick:
        argv.append("--quick")
    if args.honour_idempotency:
        argv.append("--honour-idempotency")
    proc = subprocess.Popen(argv, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    last = ""
    try:
        for line in proc.stdout:
            line = line.rstrip("\n")
            if line.startswith("{"):
                last = line
            else:
                log("  " + line)
        proc.wait()
    except KeyboardInterrupt:
        proc.send_signal(signal.SIGTERM)  # the child stops its consumers and drops its database
        proc.wait(timeout=60)
        raise
    try:
        return json.loads(last)
    except ValueError:
        return {"mode": mode, "error": f"the {mode} run printed no result (exit {proc.returncode})"}


def fmt(stats: dict) -> str:
    if not stats or stats.get("n", 0) == 0:
        return "n/a"
    return f"p50 {stats['p50']:.2f} s, p99 {stats['p99']:.2f} s, max {stats['max']:.2f} s"


def report_mode(r: dict) -> None:
    if "error" in r:
        log(f"{r['mode']}: ERROR {r['error']}")
        return
    s = r["setup"]
    log(f"{r['mode']}: {s['database']}, {s['consumers']} consumer(s) × {s['threads_per_consumer']} threads "
        f"× batch {s.get('batch', 1)}; "
        f"queue {s['queue']}")
    log(f"  published {r['published']}/{r['targets']}, failed {r['failed']}, needs attention "
        f"{r['needs_attention']}, lost {r['lost']}, duplicates {r['duplicates']}"
        f"{', TIMED OUT' if r['timed_out'] else ''}")
    log(f"  lateness (due -> accepted by the network): {fmt(r['lateness_seconds'])}")
    log(f"  lateness of targets published at the first attempt: {fmt(r['lateness_first_attempt_seconds'])}")
    log(f"  throughput {r['throughput_per_second']}/s over {r['span_seconds']} s (first due -> last accepted)")
    log(f"  attempts beyond the first {r['attempts_beyond_first']}; faults injected {r['faults_injected']}; "
        f"delivery log {r['delivery_outcomes']}; find_published calls {r['find_published_requests']}; "
        f"idempotent replays {r['idempotent_replays']}")
    log(f"  consumers used {r['consumer_cpu_seconds']} CPU s ({r['consumer_cpu_ms_per_published']} ms per "
        f"published target); the whole machine {r.get('machine_cpu_ms_per_published')} ms per published "
        f"target; load average {r['load_average_1min']} on {r['cpus']} CPUs")
    log(f"  cron once a minute, {r['senders']} senders, no failures: {fmt(r['cron_lateness_seconds'])}")
    log(f"  ideal ETA dispatch, {r['senders']} senders, no failures: {fmt(r['ideal_eta_lateness_seconds'])}")


def main() -> int:
    args = parse_args()
    if args.run_mode:
        return run_one_mode(args)
    signal.signal(signal.SIGTERM, lambda signum, frame: (_ for _ in ()).throw(KeyboardInterrupt()))
    signal.signal(signal.SIGINT, signal.default_int_handler)
    modes = ["embedded", "scaled"] if args.mode == "both" else [args.mode]
    skipped = {}
    if "scaled" in modes:
        why = scaled_available()
        if why:
            if args.mode == "scaled" or not args.quick:
                log(f"scaled mode needs PostgreSQL and Redis: {why}")
                if args.mode == "scaled":
                    return 1
            skipped["scaled"] = why
            modes.remove("scaled")
    log(f"publish burst: {args.posts} posts on {args.accounts} accounts, due over {args.window:.0f} s, "
        f"latency {args.latency * 1000:.0f} ms, {args.failure_rate:.1%} of publish requests failing, "
        f"Idempotency-Key {'honoured' if args.honour_idempotency else 'ignored'} by the fake, "
        f"backoff base {args.backoff_base:g} s; modes: {', '.join(modes)}")
    results = {}
    for mode in modes:
        log(f"== {mode}")
        results[mode] = child(args, mode)
    log("")
    for mode in modes:
        report_mode(results[mode])

    emb, sca = results.get("embedded", {}), results.get("scaled", {})
    ok = {m: "error" not in r for m, r in results.items()}
    figures: dict = {m: r for m, r in results.items()}
    ratio = None
    if ok.get("embedded") and ok.get("scaled") and emb.get("throughput_per_second") and sca.get("throughput_per_second"):
        ratio = round(sca["throughput_per_second"] / emb["throughput_per_second"], 2)
        figures["scaled_vs_one_consumer_throughput"] = ratio
        log(f"scaled-out throughput / one consumer: {ratio}×")
    if skipped:
        figures["skipped"] = skipped
    targets = {"duplicates_max": 0, "lost_max": 0, "scaled_lateness_p99_seconds_max": 5.0,
               "scaled_vs_one_consumer_throughput_min": 1.8}
    passed: dict = {}
    if not args.quick:
        all_ok = all(ok.values())
        passed["duplicates"] = all_ok and all(r["duplicates"] == 0 for r in results.values())
        passed["lost"] = all_ok and all(r["lost"] == 0 for r in results.values())
        if "scaled" in results:
            p99 = sca.get("lateness_seconds", {}).get("p99") if ok.get("scaled") else None
            passed["scaled_lateness_p99_seconds"] = p99 is not None and p99 <= 5.0
        if ratio is not None or ("embedded" in results and "scaled" in results):
            passed["scaled_vs_one_consumer_throughput"] = ratio is not None and ratio >= 1.8
        for name, value in passed.items():
            log(f"{'PASS' if value else 'FAIL'} {name}")
    database = "+".join(r.get("setup", {}).get("database", m) for m, r in results.items())
    report = {"benchmark": "publish", "database": database, "quick": args.quick, "figures": figures,
              "targets": targets, "pass": passed}
    print(json.dumps(report, ensure_ascii=False), flush=True)
    if not all(ok.values()):
        return 1
    return 1 if args.strict and not all(passed.values()) else 0


if __name__ == "__main__":
    sys.exit(main())
