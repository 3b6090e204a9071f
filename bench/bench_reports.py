"""Benchmark: the analytics dashboard (and the weekly PDF) for a big brand.

    .venv/bin/python bench/bench_reports.py [--quick] [--interactions N] [--repeat N]
    DATABASE_URL=postgres://… .venv/bin/python bench/bench_reports.py --database postgres

Runs on a throw-away database (a temporary SQLite file, or with ``--database postgres`` (or
``--postgres``) a temporary database on DATABASE_URL's server, dropped afterwards), filled by
the demo generator: one brand (``--brands``) with 12 months of history ending today — posts
with their metric samples (so the ``PostMetricLatest`` rollup), follower snapshots, short-link
clicks — and 1,000,000 inbox interactions (``--quick``: 3 months and 5,000 interactions).

Then, as the demo's owner, it requests the dashboard page ``/brands/<id>/analytics/`` with the
Django test client for the periods a CM picks (last 7, 30 and 90 days, this month, this
quarter, this year), each ``--repeat`` times, and reports the server time of each request (the
whole view: every figure's queries, the template, the response): p50 and p95 over all of them,
and per period. The page does not render the charts' SVG: each chart arrives in its own request
(htmx), so those are timed too, both cold (the in-process render cache cleared first: what the
first visitor of a period waits) and warm. Finally the weekly report is built and rendered to
PDF (``tertulia.reports.services.build_report`` and ``render_pdf``) if that code is installed;
otherwise its time is null.

The last line is one JSON object with the figures, the targets and a ``pass`` boolean per
target. Targets: dashboard p95 ≤ 200 ms; weekly PDF ≤ 3 s.
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
sys.path.insert(0, str(ROOT / "bench"))

from bench_demo_generator import drop_database, log, prepare_environment  # noqa: E402

P95_TARGET_MS = 200.0
PDF_TARGET_S = 3.0
PERIODS = ("7d", "30d", "90d", "month", "quarter", "year")


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--quick", action="store_true", help="small size for CI smoke runs")
    p.add_argument("--interactions", type=int, default=None, help="inbox interactions (default 1000000)")
    p.add_argument("--brands", type=int, default=1)
    p.add_argument("--repeat", type=int, default=None, help="requests per period (default 20, 2 with --quick)")
    p.add_argument("--database", choices=("sqlite", "postgres"), default="sqlite")
    p.add_argument("--postgres", action="store_true", help="same as --database postgres")
    p.add_argument("--strict", action="store_true", help="exit 1 when a target is missed")
    p.add_argument("--keep", metavar="NAME", default="",
                   help="keep the filled database for later runs (SQLite: a directory; PostgreSQL: a database "
                        "name on DATABASE_URL's server) and reuse it when it is already filled")
    p.add_argument("--fill-only", action="store_true", help="with --keep: fill and stop")
    args = p.parse_args()
    args.postgres = args.postgres or args.database == "postgres"
    return args


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    k = max(0, min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1))))
    return ordered[k]


def _weekly_pdf_seconds(brand, today) -> tuple[float | None, str]:
    try:
        from tertulia.reports.services import build_report, render_pdf
    except ImportError as exc:
        return None, f"reports code not installed ({exc})"
    t = time.perf_counter()
    data = build_report(brand, "weekly", today)
    try:
        pdf = render_pdf(data)
    except TypeError:  # an older signature that also wants the brand
        pdf = render_pdf(data, brand)
    seconds = time.perf_counter() - t
    if not pdf or not bytes(pdf[:5]).startswith(b"%PDF"):
        return None, "render_pdf did not return a PDF"
    return seconds, ""


def main() -> int:
    args = parse_args()
    scale = args.interactions if args.interactions is not None else (5_000 if args.quick else 1_000_000)
    months = 3 if args.quick else 12
    repeat = args.repeat or (2 if args.quick else 20)
    tmp = Path(tempfile.mkdtemp(prefix="tertulia-bench-"))
    base_url = os.environ.get("DATABASE_URL", "")
    kept = None
    if args.keep and not args.postgres:
        kept = Path(args.keep)
        kept.mkdir(parents=True, exist_ok=True)
        vendor, pg_name = prepare_environment(args, kept)
        os.environ["SECRET_KEY"] = "bench-reports-kept-database-" + "k" * 30
        keyfile = kept / "fernet.key"
        if keyfile.exists():
            os.environ["TERTULIA_FERNET_KEYS"] = keyfile.read_text()
        else:
            keyfile.write_text(os.environ["TERTULIA_FERNET_KEYS"])
    elif args.keep:
        import psycopg
        from urllib.parse import urlsplit, urlunsplit

        prepare_environment(argparse.Namespace(postgres=False), tmp)  # the other settings
        with psycopg.connect(base_url, autocommit=True) as conn:
            if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [args.keep]).fetchone():
                conn.execute(f'CREATE DATABASE "{args.keep}"')
        os.environ["DATABASE_URL"] = urlunsplit(urlsplit(base_url)._replace(path="/" + args.keep))
        vendor, pg_name, kept = "postgresql", None, tmp
    else:
        vendor, pg_name = prepare_environment(args, tmp)
    os.environ["EMAIL_BACKEND"] = "django.core.mail.backends.locmem.EmailBackend"
    os.environ["TERTULIA_INSECURE_HTTP"] = "1"
    try:
        import django

        django.setup()
        from datetime import UTC, datetime

        from django.conf import settings
        from django.contrib.auth import get_user_model
        from django.core.management import call_command
        from django.db import connection
        from django.test import Client
        from django.utils import translation

        from tertulia.analytics import charts, figures
        from tertulia.analytics.models import PostMetricLatest, ProfileSnapshot
        from tertulia.core import demo
        from tertulia.inbox.models import Interaction

        settings.ALLOWED_HOSTS = ["*"]
        translation.activate("en")
        log(f"database: {vendor} ({connection.settings_dict['NAME']})")
        t_setup = time.perf_counter()
        call_command("migrate", interactive=False, verbosity=0)
        # Static files are served as they are (no collectstatic: the manifest would only rename them).
        settings.STORAGES = {**settings.STORAGES,
                             "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}}
        from django.contrib.staticfiles.storage import staticfiles_storage
        from django.core.files.storage import storages
        from django.utils.functional import empty

        storages._storages = {}  # re-read the setting
        storages.__dict__.pop("backends", None)
        staticfiles_storage._wrapped = empty
        log(f"migrated in {time.perf_counter() - t_setup:.1f} s")
        today = datetime.now(UTC).date()
        t0 = time.perf_counter()
        if not (args.keep and demo.exists()):
            demo.generate(demo.DemoOptions(today=today, interactions=scale, brands=args.brands, batch_size=5000,
                                           atomic=False, months=months),
                          progress=lambda m: log("  " + m))
            with connection.cursor() as c:
                c.execute("ANALYZE")
        else:  # a kept database: its history ends on the day it was filled
            from tertulia.content.models import Post

            last = Post.objects.filter(brand__organization__is_demo=True).order_by("-created_at").first()
            today = last.created_at.date() if last else today
        # The per-day inbox cache (inbox.daily) of a kept database migrated since it was filled:
        # what the periodic task does in the background (a fresh fill already built it).
        from tertulia.inbox import daily

        t_days = time.perf_counter()
        log(f"inbox days rebuilt: {daily.rebuild_all()} in {time.perf_counter() - t_days:.1f} s")
        fill_seconds = time.perf_counter() - t0
        if args.fill_only:
            log(f"filled in {fill_seconds:.0f} s")
            return 0
        owner = get_user_model().objects.get(username=demo.DEMO_USERNAME)
        brand = demo.demo_brands().order_by("pk").first()
        counts = {
            "interactions": Interaction.objects.filter(brand=brand).count(),
            "posts_with_metrics": PostMetricLatest.objects.filter(brand=brand).count(),
            "profile_snapshots": ProfileSnapshot.objects.filter(brand=brand).count(),
        }
        log(f"filled in {fill_seconds:.0f} s: {counts}")

        client = Client()
        client.force_login(owner)
        url = f"/brands/{brand.pk}/analytics/"
        page_ms: dict[str, list[float]] = {}
        figures_ms: list[float] = []
        for kind in PERIODS:
            response = client.get(url, {"period": kind})  # warm the template and the connection
            assert response.status_code == 200, (kind, response.status_code)
            for _ in range(repeat):
                t = time.perf_counter()
                response = client.get(url, {"period": kind})
                page_ms.setdefault(kind, []).append((time.perf_counter() - t) * 1000)
                assert response.status_code == 200
            period = figures.Period.of_kind(kind, brand.tzinfo)
            for _ in range(max(1, repeat // 4)):
                t = time.perf_counter()
                figures.dashboard([brand.pk], period)
                figures_ms.append((time.perf_counter() - t) * 1000)

        # The charts, each its own request; cold = the render cache emptied first.
        chart_cold: dict[str, list[float]] = {}
        chart_warm: dict[str, list[float]] = {}
        for chart_id in charts.CHART_IDS:
            chart_url = f"/brands/{brand.pk}/analytics/charts/{chart_id}/"
            for _ in range(1 if args.quick else max(2, repeat // 4)):
                charts._render_cached.cache_clear()
                t = time.perf_counter()
                response = client.get(chart_url, {"period": "30d"})
                chart_cold.setdefault(chart_id, []).append((time.perf_counter() - t) * 1000)
                assert response.status_code == 200, (chart_id, response.status_code)
                t = time.perf_counter()
                client.get(chart_url, {"period": "30d"})
                chart_warm.setdefault(chart_id, []).append((time.perf_counter() - t) * 1000)

        pdf_seconds, pdf_note = _weekly_pdf_seconds(brand, today)
        if pdf_note:
            log(f"weekly PDF: {pdf_note}")

        every = [v for values in page_ms.values() for v in values]
        cold = [v for values in chart_cold.values() for v in values]
        warm = [v for values in chart_warm.values() for v in values]
        out = {
            **counts,
            "fill_seconds": round(fill_seconds, 1),
            "requests": len(every),
            "dashboard_p50_ms": round(statistics.median(every), 1),
            "dashboard_p95_ms": round(percentile(every, 95), 1),
            "dashboard_max_ms": round(max(every), 1),
            "per_period_p95_ms": {k: round(percentile(v, 95), 1) for k, v in page_ms.items()},
            "figures_only_p95_ms": round(percentile(figures_ms, 95), 1),
            "chart_cold_p95_ms": round(percentile(cold, 95), 1),
            "chart_warm_p95_ms": round(percentile(warm, 95), 1),
            "per_chart_cold_p95_ms": {k: round(percentile(v, 95), 1) for k, v in chart_cold.items()},
            "weekly_pdf_seconds": round(pdf_seconds, 2) if pdf_seconds is not None else None,
        }
        for name, value in out["per_period_p95_ms"].items():
            log(f"  dashboard {name:8s} p95 {value:7.1f} ms")
        for name, value in out["per_chart_cold_p95_ms"].items():
            log(f"  chart {name:20s} cold p95 {value:7.1f} ms")
        targets = {"dashboard_p95_ms_max": P95_TARGET_MS, "weekly_pdf_seconds_max": PDF_TARGET_S}
        passed = {"dashboard_p95_ms": out["dashboard_p95_ms"] <= P95_TARGET_MS,
                  "weekly_pdf_seconds": (pdf_seconds <= PDF_TARGET_S) if pdf_seconds is not None else None}
        print(json.dumps({"benchmark": "reports", "database": vendor, "quick": args.quick, "figures": out,
                          "targets": targets, "pass": passed}, ensure_ascii=False))
        return 1 if args.strict and not all(v is not False for v in passed.values()) else 0
    finally:
        if pg_name:
            drop_database(base_url, pg_name)
        if kept != tmp:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
