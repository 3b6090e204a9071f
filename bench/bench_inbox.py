"""Benchmark: the inbox list, with filters, over a million interactions.

    .venv/bin/python bench/bench_inbox.py [--quick] [--interactions N] [--repeat N]
    DATABASE_URL=postgres://… .venv/bin/python bench/bench_inbox.py --postgres

Runs on a throw-away database (a temporary SQLite file, or with --postgres a temporary
database on DATABASE_URL's server, dropped afterwards), filled by the demo generator at scale
(1,000,000 interactions by default, 10,000 with --quick) through ``inbox.ingest_interactions``,
so the conversations carry the triage, SLA and assignment the real pipeline gives them.

Then, as the demo's owner (a member of every brand), it requests the inbox page
(``/inbox/`` and ``/brands/<id>/inbox/``) with the Django test client for a set of filter
combinations a CM uses (unified, per brand, negative, complaints, mine, unassigned, high
priority sorted by priority, flagged, a network, a label, closed, SLA order, the second page
through the cursor), each ``--repeat`` times, and reports the server time of each request:
the whole view (query, template, response), p50 and p95 over all requests, and per filter.
The list query alone (``inbox.listing.conversations``) is timed the same way.

The last line of output is one JSON object with the figures, the targets and a `pass`
boolean per target. Target: p95 of the page ≤ 150 ms.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench_demo_generator import drop_database, log, prepare_environment  # noqa: E402

P95_TARGET_MS = 150.0


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--quick", action="store_true", help="small size for CI smoke runs")
    p.add_argument("--interactions", type=int, default=None, help="interactions (default 1000000)")
    p.add_argument("--brands", type=int, default=3)
    p.add_argument("--repeat", type=int, default=None, help="requests per filter (default 20, 5 with --quick)")
    p.add_argument("--postgres", action="store_true", help="use a temporary database on DATABASE_URL's server")
    p.add_argument("--reuse", action="store_true",
                   help="measure the database DATABASE_URL names as it is (a demo filled by an earlier run)")
    p.add_argument("--strict", action="store_true", help="exit 1 when a target is missed")
    return p.parse_args()


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    k = max(0, min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1))))
    return ordered[k]


def cases(brand, account, label_name: str) -> list[tuple[str, str, dict]]:
    """(name, path, query) for each filter combination measured."""
    unified, one = "/inbox/", f"/brands/{brand.pk}/inbox/"
    return [
        ("unified", unified, {}),
        ("brand", one, {}),
        ("negative", one, {"sentiment": "negative"}),
        ("complaints", unified, {"intent": "complaint"}),
        ("mine", unified, {"assignee": "me"}),
        ("unassigned", one, {"assignee": "none"}),
        ("high_priority_by_priority", unified, {"priority": "high", "sort": "priority"}),
        ("flagged", unified, {"flagged": "1"}),
        ("network", one, {"network": account.network}),
        ("account_questions", one, {"account": str(account.pk), "intent": "question"}),
        ("label", one, {"label": label_name}),
        ("closed", one, {"status": "closed"}),
        ("all_oldest", one, {"status": "all", "sort": "oldest"}),
        ("sla_due", unified, {"sort": "due"}),
        ("spanish", unified, {"language": "es"}),
    ]


def main() -> int:
    args = parse_args()
    scale = args.interactions or (10_000 if args.quick else 1_000_000)
    repeat = args.repeat or (5 if args.quick else 20)
    tmp = Path(tempfile.mkdtemp(prefix="tertulia-bench-"))
    base_url = os.environ.get("DATABASE_URL", "")
    if args.reuse:
        url = os.environ.get("DATABASE_URL", "")
        if not url:
            sys.exit("--reuse needs DATABASE_URL")
        base_url = url
        prepare_environment(args, tmp)  # the settings, on a scratch SQLite path we then replace
        os.environ["DATABASE_URL"] = base_url
        vendor, pg_name = ("postgresql" if url.startswith("postgres") else "sqlite"), None
    else:
        vendor, pg_name = prepare_environment(args, tmp)
    os.environ["EMAIL_BACKEND"] = "django.core.mail.backends.locmem.EmailBackend"  # notifications stay in memory
    os.environ["TERTULIA_INSECURE_HTTP"] = "1"  # plain HTTP test client: no redirect to https
    try:
        import django

        django.setup()
        from datetime import date

        from django.conf import settings
        from django.contrib.auth import get_user_model
        from django.core.management import call_command
        from django.db import connection
        from django.test import Client
        from django.utils import translation

        from tertulia.core import demo
        from tertulia.inbox import listing
        from tertulia.inbox.models import Conversation, Interaction, Label
        from tertulia.networks.models import SocialAccount

        settings.ALLOWED_HOSTS = ["*"]
        translation.activate("en")
        log(f"database: {vendor} ({connection.settings_dict['NAME']})")
        call_command("migrate", interactive=False, verbosity=0)
        call_command("collectstatic", interactive=False, verbosity=0)  # pages render as in production
        t0 = time.perf_counter()
        stats = demo.DemoStats() if args.reuse else demo.generate(demo.DemoOptions(today=date(2025, 11, 20), interactions=scale, brands=args.brands,
                                               posts_per_week=2, batch_size=5000, atomic=False),
                              progress=lambda m: log("  " + m))
        fill_seconds = time.perf_counter() - t0
        with connection.cursor() as c:  # fresh planner statistics, as autovacuum would give
            c.execute("ANALYZE")
        interactions = Interaction.objects.count()
        conversations = Conversation.objects.count()
        log(f"filled: {interactions} interactions, {conversations} conversations in {fill_seconds:.0f} s")

        owner = get_user_model().objects.get(username=demo.DEMO_USERNAME)
        brand = demo.demo_brands().order_by("pk").first()
        account = SocialAccount.objects.filter(brand=brand).order_by("pk").first()
        # A label on a few hundred of the brand's conversations (a CM's "vip" tag).
        label, _ = Label.objects.get_or_create(brand=brand, name="bench-vip")
        some = list(Conversation.objects.filter(brand=brand).order_by("-last_message_at")
                    .values_list("pk", flat=True)[:20000:50])
        label.conversations.add(*some)

        client = Client()
        client.force_login(owner)
        page_ms: dict[str, list[float]] = {}
        query_ms: dict[str, list[float]] = {}
        rows_seen: dict[str, int] = {}
        for name, path, params in cases(brand, account, label.name):
            filters = listing.parse_filters(params)
            scope = brand if path.startswith("/brands/") else None
            first = listing.conversations(owner, scope, filters)
            rows_seen[name] = len(first.items)
            for _ in range(repeat):
                t = time.perf_counter()
                page = listing.conversations(owner, scope, filters)
                query_ms.setdefault(name, []).append((time.perf_counter() - t) * 1000)
                assert len(page.items) == rows_seen[name]
                t = time.perf_counter()
                response = client.get(path, params)
                page_ms.setdefault(name, []).append((time.perf_counter() - t) * 1000)
                assert response.status_code == 200, (name, response.status_code)
            if first.next_cursor:  # the second page, through the cursor
                key = f"{name}_page2"
                for _ in range(repeat):
                    t = time.perf_counter()
                    response = client.get(path, {**params, "after": first.next_cursor})
                    page_ms.setdefault(key, []).append((time.perf_counter() - t) * 1000)
                    assert response.status_code == 200, (key, response.status_code)

        every_page = [v for values in page_ms.values() for v in values]
        every_query = [v for values in query_ms.values() for v in values]
        figures = {
            "interactions": interactions,
            "conversations": conversations,
            "fill_seconds": round(fill_seconds, 1),
            "ingest_interactions_per_second": round(stats.interactions / stats.ingest_seconds)
            if stats.ingest_seconds else None,
            "requests": len(every_page),
            "page_p50_ms": round(statistics.median(every_page), 1),
            "page_p95_ms": round(percentile(every_page, 95), 1),
            "page_max_ms": round(max(every_page), 1),
            "query_p50_ms": round(statistics.median(every_query), 1),
            "query_p95_ms": round(percentile(every_query, 95), 1),
            "per_filter_page_p95_ms": {k: round(percentile(v, 95), 1) for k, v in page_ms.items()},
            "per_filter_rows": rows_seen,
        }
        for name, value in figures["per_filter_page_p95_ms"].items():
            log(f"  {name:32s} p95 {value:7.1f} ms")
        targets = {"page_p95_ms_max": P95_TARGET_MS}
        passed = {"page_p95_ms": figures["page_p95_ms"] <= P95_TARGET_MS}
        print(json.dumps({"benchmark": "inbox", "database": vendor, "quick": args.quick, "figures": figures,
                          "targets": targets, "pass": passed}, ensure_ascii=False))
        return 1 if args.strict and not all(passed.values()) else 0
    finally:
        if pg_name:
            drop_database(base_url, pg_name)
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
