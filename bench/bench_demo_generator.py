"""Benchmark: the demo generator and the inbox ingestion it drives.

    .venv/bin/python bench/bench_demo_generator.py [--quick] [--interactions N] [--batch-size N]
    DATABASE_URL=postgres://… .venv/bin/python bench/bench_demo_generator.py --postgres

Runs on a throw-away database: a temporary SQLite file (default) or, with --postgres, a
temporary database created next to the one DATABASE_URL names (and dropped afterwards).

1. Loads the default demo (what `tertulia run` loads on first start) and times it.
2. Rebuilds the demo at scale (--interactions, 200,000 by default, 10,000 with --quick) and
   measures interactions written per second inside `inbox.ingest_interactions`, and end to
   end (text generation included).
3. Feeds a sample of stored interactions back in, as a poll that sees them again: the
   idempotent path every connector takes most of the time.
4. Baseline: the same kind of batch written the naive way (get_or_create per author and
   conversation, one INSERT per interaction) on a small sample; prints the speed-up.

The last line of output is one JSON object with the figures, the targets and a `pass`
boolean per target (see bench/README.md). Exit status 0 unless the run broke, or, with
--strict, a target was missed.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--quick", action="store_true", help="small size for CI smoke runs")
    p.add_argument("--interactions", type=int, default=None, help="interactions at scale (default 200000)")
    p.add_argument("--brands", type=int, default=3)
    p.add_argument("--batch-size", type=int, default=5000, help="interactions per ingest call at scale")
    p.add_argument("--postgres", action="store_true", help="use a temporary database on DATABASE_URL's server")
    p.add_argument("--strict", action="store_true", help="exit 1 when a target is missed")
    return p.parse_args()


def prepare_environment(args, tmp: Path) -> tuple[str, str | None]:
    """Environment for Django, set before it starts. Returns (vendor, temp PostgreSQL db)."""
    from cryptography.fernet import Fernet

    os.environ["DJANGO_SETTINGS_MODULE"] = "tertulia.settings"
    os.environ["TERTULIA_VAR_DIR"] = str(tmp)
    os.environ["SECRET_KEY"] = secrets.token_urlsafe(50)
    os.environ["TERTULIA_FERNET_KEYS"] = Fernet.generate_key().decode()
    os.environ["HUEY_IMMEDIATE"] = "1"
    os.environ.pop("DEBUG", None)  # DEBUG keeps every query in memory
    if not args.postgres:
        os.environ["DATABASE_URL"] = f"sqlite:///{tmp / 'bench.sqlite3'}"
        return "sqlite", None
    base = os.environ.get("DATABASE_URL", "")
    if not base.startswith(("postgres://", "postgresql://")):
        sys.exit("--postgres needs DATABASE_URL=postgres://user:password@host/db")
    import psycopg

    name = f"tertulia_bench_{os.getpid()}"
    with psycopg.connect(base, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    parts = urlsplit(base)
    os.environ["DATABASE_URL"] = urlunsplit(parts._replace(path="/" + name))
    return "postgresql", name


def drop_database(base_url: str, name: str) -> None:
    import psycopg

    from django.db import connections

    connections.close_all()
    with psycopg.connect(base_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def log(message: str) -> None:
    print(message, flush=True)


def naive_ingest(account, items) -> None:
    """The straightforward ORM way, for comparison: one round trip or more per row."""
    from django.db import transaction

    from tertulia.inbox.models import Author, Conversation, Interaction

    with transaction.atomic():
        for item in items:
            if Interaction.objects.filter(account=account, external_id=item.external_id).exists():
                continue
            author, _ = Author.objects.get_or_create(
                brand_id=account.brand_id, network=account.network, external_id=item.author.external_id,
                defaults={"handle": item.author.handle, "display_name": item.author.display_name},
            )
            conv, created = Conversation.objects.get_or_create(
                account=account, kind=item.kind, author=author, root_external_id=item.root_external_id,
                defaults={"brand_id": account.brand_id, "last_message_at": item.created_at},
            )
            if not created and conv.last_message_at < item.created_at:
                conv.last_message_at = item.created_at
                conv.save(update_fields=["last_message_at"])
            Interaction.objects.create(
                brand_id=account.brand_id, conversation=conv, account=account, external_id=item.external_id,
                author=author, text=item.text, language=item.language, created_at=item.created_at,
                intent=item.intent, sentiment=item.sentiment,
            )


def stored_as_incoming(rows):
    from tertulia.inbox.services import IncomingAuthor, IncomingInteraction

    out = []
    for i in rows:
        who = IncomingAuthor(external_id=i.author.external_id, handle=i.author.handle)
        conv_author = IncomingAuthor(external_id=i.conversation.author.external_id,
                                     handle=i.conversation.author.handle)
        out.append(IncomingInteraction(
            external_id=i.external_id, kind=i.conversation.kind, author=who, text=i.text, created_at=i.created_at,
            root_external_id=i.conversation.root_external_id, parent_external_id=i.parent_external_id,
            direction=i.direction, counterpart=conv_author if i.direction == "out" else None,
            language=i.language, intent=i.intent, sentiment=i.sentiment,
        ))
    return out


def main() -> int:
    args = parse_args()
    scale = args.interactions or (10_000 if args.quick else 200_000)
    tmp = Path(tempfile.mkdtemp(prefix="tertulia-bench-"))
    base_url = os.environ.get("DATABASE_URL", "")
    vendor, pg_name = prepare_environment(args, tmp)
    try:
        import django

        django.setup()
        from datetime import date

        from django.utils import translation

        translation.activate("en")

        from django.core.management import call_command
        from django.db import connection
        from django.db.models import Count

        from tertulia.core import demo
        from tertulia.inbox import services as inbox
        from tertulia.inbox.models import Conversation, Interaction
        from tertulia.networks.models import SocialAccount

        log(f"database: {vendor} ({connection.settings_dict['NAME']})")
        call_command("migrate", interactive=False, verbosity=0)
        today = date(2025, 11, 20)  # a fixed day: the same seed then gives the same rows

        # 1. The default demo, as `tertulia run` loads it.
        t0 = time.perf_counter()
        default = demo.generate(demo.DemoOptions(today=today))
        default_seconds = time.perf_counter() - t0
        log(f"default demo: {default.interactions} interactions, {default_seconds:.1f} s")
        t0 = time.perf_counter()
        demo.remove()
        remove_seconds = time.perf_counter() - t0

        # 2. At scale.
        log(f"demo at scale: {scale} interactions, {args.brands} brands, batches of {args.batch_size}…")
        t0 = time.perf_counter()
        stats = demo.generate(demo.DemoOptions(today=today, interactions=scale, brands=args.brands,
                                               posts_per_week=2, batch_size=args.batch_size),
                              progress=lambda m: log("  " + m))
        scale_seconds = time.perf_counter() - t0
        ingest_rate = stats.interactions / stats.ingest_seconds if stats.ingest_seconds else 0.0
        e2e_rate = stats.interactions / stats.seconds["interactions"] if stats.interactions else 0.0
        log(f"  {stats.interactions} interactions in {stats.ingest_seconds:.1f} s of ingest "
            f"({ingest_rate:,.0f}/s), {stats.seconds['interactions']:.1f} s with text generation "
            f"({e2e_rate:,.0f}/s); whole demo {scale_seconds:.1f} s")

        # 3. A poll that sees stored interactions again. Fresh planner statistics first, as
        # autovacuum would give a live server (without them PostgreSQL may pick a nested loop
        # over the just-filled tables for the sample query below).
        with connection.cursor() as c:
            c.execute("ANALYZE")
        account = SocialAccount.objects.filter(brand__in=demo.demo_brands()).annotate(
            n=Count("conversations")).order_by("-n").first()
        sample = list(Interaction.objects.filter(account=account).select_related(
            "author", "conversation__author").order_by("pk")[:min(20_000, scale // 2)])
        again = stored_as_incoming(sample)
        before = Interaction.objects.count()
        t0 = time.perf_counter()
        for i in range(0, len(again), args.batch_size):
            result = inbox.ingest_interactions(account, again[i:i + args.batch_size])
            assert result.created == 0 and result.edited == 0, result
        reingest_seconds = time.perf_counter() - t0
        assert Interaction.objects.count() == before
        reingest_rate = len(again) / reingest_seconds if reingest_seconds else 0.0
        log(f"re-ingest of {len(again)} known interactions: {reingest_rate:,.0f}/s, nothing duplicated")

        # 4. Baseline: the naive ORM way, on fresh ids in the same account.
        naive_n = 1000 if args.quick else 5000
        fresh = stored_as_incoming(sample[:naive_n])
        for k, item in enumerate(fresh):
            item.external_id = f"naive-{k}"
            item.root_external_id = f"naive-root-{k % 500}"
        t0 = time.perf_counter()
        naive_ingest(account, fresh)
        naive_rate = len(fresh) / (time.perf_counter() - t0)
        log(f"naive ORM baseline: {naive_rate:,.0f}/s on {len(fresh)} interactions")

        size = None
        if vendor == "sqlite":
            size = sum(p.stat().st_size for p in tmp.glob("bench.sqlite3*"))
        else:
            with connection.cursor() as c:
                c.execute("SELECT pg_database_size(current_database())")
                size = c.fetchone()[0]

        targets = {
            "default_demo_seconds_max": 30.0,
            "ingest_interactions_per_second_min": 20_000.0 if vendor == "sqlite" else 10_000.0,
            "reingest_interactions_per_second_min": 50_000.0 if vendor == "sqlite" else 20_000.0,
            "speedup_vs_naive_orm_min": 5.0,
        }
        figures = {
            "default_demo_seconds": round(default_seconds, 2),
            "default_demo_interactions": default.interactions,
            "remove_default_demo_seconds": round(remove_seconds, 2),
            "scale_interactions": stats.interactions,
            "scale_conversations": Conversation.objects.count(),
            "scale_batch_size": args.batch_size,
            "scale_demo_seconds": round(scale_seconds, 2),
            "ingest_seconds": round(stats.ingest_seconds, 2),
            "ingest_calls": stats.ingest_calls,
            "ingest_interactions_per_second": round(ingest_rate),
            "end_to_end_interactions_per_second": round(e2e_rate),
            "reingest_interactions_per_second": round(reingest_rate),
            "naive_orm_interactions_per_second": round(naive_rate),
            "speedup_vs_naive_orm": round(ingest_rate / naive_rate, 1) if naive_rate else None,
            "phase_seconds": {k: round(v, 2) for k, v in stats.seconds.items()},
            "database_bytes": size,
        }
        passed = {
            "default_demo_seconds": figures["default_demo_seconds"] <= targets["default_demo_seconds_max"],
            "ingest_interactions_per_second": ingest_rate >= targets["ingest_interactions_per_second_min"],
            "reingest_interactions_per_second": reingest_rate >= targets["reingest_interactions_per_second_min"],
            "speedup_vs_naive_orm": (figures["speedup_vs_naive_orm"] or 0) >= targets["speedup_vs_naive_orm_min"],
        }
        report = {"benchmark": "demo_generator", "database": vendor, "quick": args.quick, "figures": figures,
                  "targets": targets, "pass": passed}
        print(json.dumps(report, ensure_ascii=False))
        return 1 if args.strict and not all(passed.values()) else 0
    finally:
        if pg_name:
            drop_database(base_url, pg_name)
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
