"""Benchmark: listening trends and spike checks for 100 brands over 90 days (issue 7).

    .venv/bin/python bench/bench_listening_trends.py [--quick] [--brands N] [--days N] [--per-day N]
    DATABASE_URL=postgres://… .venv/bin/python bench/bench_listening_trends.py --postgres

Builds a throw-away database (a temporary SQLite file by default) with N brands (100; 10 with
--quick), each listening with 6 queries (brand, product, two competitors with their competitor
rows, one with a loose competitor query, an industry topic) over D days (90; 9 with --quick) of
mentions: ``--per-day`` mentions per brand and day on average (160) with a daily rhythm, a
weekly one and random noise, 30 % news and blogs (50 sites), the rest from three networks with a
Zipf-like crowd of authors, texts in Spanish and English drawn from a vocabulary with hashtags,
sentiment about 20 % negative, and each mention matching one to three queries. A few brands get a
burst in the last full hour (a volume spike, and for some a negative one), as in real life.

At the defaults that is about 1.48 M mentions and 2.22 M MentionMatch rows.

Then, for every brand, it times what the trends page computes, through ``listening.trends``:
the volume by day over 30 days (in the brand's time zone) and by hour over 48 hours, the
share of voice over 30 days, the rising terms of the last 24 hours against 14 days, the top
authors and top sources over 30 days (``authors_and_sources``, one scan, as the page does); and
``listening.spikes.check`` for all brands at once
(detection, alert creation, e-mail to the locmem outbox and in-app notifications), twice: the
second run finds the same hour and must create nothing. The URLconf and the translation catalogs
are loaded before timing, as in a running consumer. Target: all of it within 10 s on SQLite.

The last line of output is one JSON object with the figures, the targets and a `pass` boolean
per target.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench_demo_generator import drop_database, log, prepare_environment  # noqa: E402

TOTAL_TARGET_S = 10.0
NOW = datetime(2026, 3, 31, 12, 20, tzinfo=UTC)

WORDS_ES = ("cafe servicio pedido entrega precio calidad tienda nuevo sabor envio atencion cliente producto oferta "
            "desayuno terraza barrista tostado grano molido taza leche avena descuento cola espera mesa local "
            "centro barrio horario domingo apertura receta pastel croissant bizcocho merienda equipo").split()
WORDS_EN = ("coffee service order delivery price quality shop new taste shipping support customer product deal "
            "breakfast terrace barista roast bean ground cup milk oat discount queue wait table store downtown "
            "neighbourhood hours sunday opening recipe cake croissant sponge snack team").split()
STOP = "el la de que y en un una por con para lo muy the a of and to in is it for very".split()
HASHTAGS = ["#cafe", "#coffee", "#brunch", "#madrid", "#barcelona", "#latte", "#oferta", "#sale", "#breakfast",
            "#domingo", "#foodie", "#desayuno"]
NEG = ("pesimo horrible lento frio caro mal sucio tarde never worst awful cold rude late broken").split()
POS = ("genial delicioso rapido amable perfecto great lovely fast friendly perfect tasty").split()
NETWORKS = ("mastodon", "bluesky", "x")
ZONES = ("Europe/Madrid", "America/Mexico_City", "America/Bogota", "Europe/London", "UTC")


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--quick", action="store_true", help="a tenth of the brands and days, for CI smoke runs")
    p.add_argument("--brands", type=int, default=None, help="brands (default 100, 10 with --quick)")
    p.add_argument("--days", type=int, default=None, help="days of mentions (default 90, 9 with --quick)")
    p.add_argument("--per-day", type=int, default=160, help="mentions per brand and day on average")
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--postgres", action="store_true", help="use a temporary database on DATABASE_URL's server")
    p.add_argument("--strict", action="store_true", help="exit 1 when a target is missed")
    return p.parse_args()


def text_for(rng: random.Random, sentiment: str, brand_word: str, query_words: list[str]) -> str:
    vocab = WORDS_ES if rng.random() < 0.6 else WORDS_EN
    words = [rng.choice(vocab) for _ in range(rng.randint(5, 14))]
    words += [rng.choice(STOP) for _ in range(rng.randint(2, 5))]
    words += query_words
    if sentiment == "negative":
        words += rng.sample(NEG, 2)
    elif sentiment == "positive":
        words += rng.sample(POS, 2)
    if rng.random() < 0.5:
        words.append(rng.choice(HASHTAGS))
    rng.shuffle(words)
    return " ".join(words).capitalize() + f" @{brand_word}"


def fill(args, n_brands: int, days: int) -> dict:
    """Brands, queries and mentions, written with executemany in large transactions."""
    from django.contrib.auth import get_user_model
    from django.db import connection, transaction

    from tertulia.core.models import Brand, Membership, Organization
    from tertulia.listening.models import Competitor, ListeningQuery, ListeningSettings, Mention, MentionMatch

    rng = random.Random(args.seed)
    user = get_user_model().objects.create_user("bench-owner", "owner@bench.example", "x" * 20)
    org = Organization.objects.create(name="Bench agency")
    ops = connection.ops
    m_table, mm_table = Mention._meta.db_table, MentionMatch._meta.db_table
    m_cols = ("id", "brand_id", "network", "external_id", "url", "site", "author_handle", "author_name",
              "author_followers", "title", "text", "language", "created_at", "fetched_at", "sentiment", "intent",
              "toxicity")
    mm_cols = ("brand_id", "mention_id", "query_id", "created_at", "sentiment")
    m_sql = (f"INSERT INTO {m_table} ({', '.join(m_cols)}) VALUES ({', '.join(['%s'] * len(m_cols))})")
    mm_sql = (f"INSERT INTO {mm_table} ({', '.join(mm_cols)}) VALUES ({', '.join(['%s'] * len(mm_cols))})")
    mention_id = 0
    mentions = matches = 0
    start = NOW - timedelta(days=days)
    last_hour = NOW.replace(minute=0, second=0, microsecond=0) - timedelta(hours=1)
    hour_weight = [0.2, 0.1, 0.1, 0.1, 0.15, 0.3, 0.6, 1.0, 1.4, 1.6, 1.7, 1.7, 1.8, 1.7, 1.5, 1.4, 1.4, 1.5,
                   1.6, 1.6, 1.4, 1.1, 0.8, 0.4]
    norm = sum(hour_weight)
    sites = [f"news{i}.example" for i in range(50)]
    brands = []
    for b in range(n_brands):
        brand = Brand.objects.create(organization=org, name=f"Bench brand {b:03d}", timezone=ZONES[b % len(ZONES)],
                                     language="es" if b % 3 else "en")
        Membership.objects.create(brand=brand, user=user, role="owner")
        if b % 10 == 0:
            ListeningSettings.objects.create(brand=brand, alert_emails=f"alerts{b}@bench.example")
        rivals = [Competitor.objects.create(brand=brand, name=f"Rival {b}-{i}") for i in range(2)]
        qs = [
            ListeningQuery.objects.create(brand=brand, name="Brand", kind="brand", text=f"marca{b}"),
            ListeningQuery.objects.create(brand=brand, name="Product", kind="product", text=f"producto{b}"),
            ListeningQuery.objects.create(brand=brand, name="Rival A", kind="competitor", text=f"rivala{b}",
                                          competitor=rivals[0]),
            ListeningQuery.objects.create(brand=brand, name="Rival B", kind="competitor", text=f"rivalb{b}",
                                          competitor=rivals[1]),
            ListeningQuery.objects.create(brand=brand, name="Loose rival", kind="competitor", text=f"otro{b}"),
            ListeningQuery.objects.create(brand=brand, name="Industry", kind="industry", text="cafe OR coffee"),
        ]
        query_weights = [5, 2, 3, 2, 1, 4]
        authors = [(f"@user{b}_{i}", f"User {i}", int(rng.paretovariate(1.2) * 50)) for i in range(2000)]
        brands.append(brand)
        m_rows, mm_rows = [], []
        day = start.replace(hour=0, minute=0, second=0, microsecond=0)
        while day < NOW:
            weekday = 1.15 if day.weekday() < 5 else 0.7
            for hour in range(24):
                hour_start = day.replace(hour=hour, minute=0, second=0, microsecond=0)
                if hour_start >= NOW:
                    break
                expected = args.per_day * weekday * hour_weight[hour] / norm
                n = max(0, int(rng.gauss(expected, expected ** 0.5) + 0.5))
                negative_rate = 0.2
                if hour_start == last_hour and b % 7 == 0:  # a burst in the last full hour
                    n = int(expected * 6) + 15
                    negative_rate = 0.75 if b % 14 == 0 else 0.2
                for _ in range(n):
                    at = hour_start + timedelta(seconds=rng.randrange(3600))
                    if at >= NOW or at < start:
                        continue
                    mention_id += 1
                    r = rng.random()
                    sentiment = "negative" if r < negative_rate else ("positive" if r > 0.75 else "neutral")
                    picked = rng.choices(range(6), weights=query_weights, k=rng.choice((1, 1, 1, 2, 2, 3)))
                    picked = sorted(set(picked))
                    words = [qs[i].text.split()[0] for i in picked]
                    web = rng.random() < 0.3
                    if web:
                        network, site, handle, name, followers = "web", rng.choice(sites), "", "", None
                    else:
                        network, site = rng.choice(NETWORKS), ""
                        handle, name, followers = authors[min(int(rng.paretovariate(1.1)) - 1, len(authors) - 1)]
                    text = text_for(rng, sentiment, f"marca{b}", words)
                    created = ops.adapt_datetimefield_value(at)
                    url = f"https://{site or network + '.example'}/{mention_id}"
                    m_rows.append((mention_id, brand.pk, network, f"{network}-{mention_id}", url, site, handle, name,
                                   followers,
                                   "", text, "es", created, created, sentiment, "", None))
                    for i in picked:
                        mm_rows.append((brand.pk, mention_id, qs[i].pk, created, sentiment))
            day += timedelta(days=1)
        with transaction.atomic(), connection.cursor() as c:
            c.executemany(m_sql, m_rows)
            c.executemany(mm_sql, mm_rows)
        mentions += len(m_rows)
        matches += len(mm_rows)
        if (b + 1) % 10 == 0 or b + 1 == n_brands:
            log(f"  {b + 1} brands, {mentions:,} mentions, {matches:,} matches")
    return {"brands": brands, "mentions": mentions, "matches": matches}


def main() -> int:
    args = parse_args()
    n_brands = args.brands or (10 if args.quick else 100)
    days = args.days or (9 if args.quick else 90)
    tmp = Path(tempfile.mkdtemp(prefix="tertulia-bench-"))
    base_url = os.environ.get("DATABASE_URL", "")
    vendor, pg_name = prepare_environment(args, tmp)
    os.environ["EMAIL_BACKEND"] = "django.core.mail.backends.locmem.EmailBackend"
    try:
        import django

        django.setup()
        from django.core import mail
        from django.core.management import call_command
        from django.db import connection
        from django.utils import translation

        from tertulia.listening import spikes, trends
        from tertulia.listening.models import SpikeAlert

        translation.activate("en")
        mail.outbox = []
        log(f"database: {vendor} ({connection.settings_dict['NAME']})")
        call_command("migrate", interactive=False, verbosity=0)
        t0 = time.perf_counter()
        data = fill(args, n_brands, days)
        fill_s = time.perf_counter() - t0
        with connection.cursor() as c:  # fresh planner statistics
            c.execute("ANALYZE")
        log(f"filled in {fill_s:.1f} s: {data['mentions']:,} mentions, {data['matches']:,} matches")

        # A running consumer has its URLconf and catalogs loaded: load them before timing.
        from django.urls import reverse

        reverse("listening_alerts", args=[1])
        for language in ("es", "en"):
            with translation.override(language):
                str(translation.gettext("Volume spike: %(scope)s"))
        timings = {k: 0.0 for k in ("volume_day_30d", "volume_hour_48h", "share_of_voice", "rising_terms",
                                    "top_authors_and_sources")}
        rising_found = 0
        cpu0 = time.process_time()  # SQLite runs in this process: its work counts here too
        for brand in data["brands"]:
            since30, since48 = NOW - timedelta(days=30), NOW - timedelta(hours=48)
            t = time.perf_counter()
            trends.volume(brand, since=since30, until=NOW, bucket="day", tzinfo=brand.tzinfo)
            timings["volume_day_30d"] += time.perf_counter() - t
            t = time.perf_counter()
            trends.volume(brand, since=since48, until=NOW, bucket="hour")
            timings["volume_hour_48h"] += time.perf_counter() - t
            t = time.perf_counter()
            trends.share_of_voice(brand, since30, NOW)
            timings["share_of_voice"] += time.perf_counter() - t
            t = time.perf_counter()
            rising_found += len(trends.rising_terms(brand, NOW))
            timings["rising_terms"] += time.perf_counter() - t
            t = time.perf_counter()
            trends.authors_and_sources(brand, since30, NOW)  # what the page calls: both in one scan
            timings["top_authors_and_sources"] += time.perf_counter() - t
        t = time.perf_counter()
        alerts = spikes.check(NOW)
        spikes_s = time.perf_counter() - t
        t = time.perf_counter()
        again = spikes.check(NOW + timedelta(minutes=5))
        spikes_again_s = time.perf_counter() - t
        cpu_s = time.process_time() - cpu0
        trends_s = sum(timings.values())
        total = trends_s + spikes_s
        negative = SpikeAlert.objects.filter(kind=SpikeAlert.Kind.NEGATIVE).count()
        figures = {
            "brands": n_brands, "days": days, "mentions": data["mentions"], "mention_matches": data["matches"],
            "fill_seconds": round(fill_s, 1),
            **{f"{k}_seconds": round(v, 3) for k, v in timings.items()},
            "trends_seconds": round(trends_s, 3),
            "trends_ms_per_brand": round(1000 * trends_s / n_brands, 1),
            "spikes_check_seconds": round(spikes_s, 3),
            "spikes_check_again_seconds": round(spikes_again_s, 3),
            "alerts_created": alerts, "negative_alerts": negative, "alerts_on_second_run": again,
            "emails_sent": len(mail.outbox), "rising_terms_found": rising_found,
            "total_seconds": round(total, 3),
            "cpu_seconds_incl_second_check": round(cpu_s, 3),
            "load_average_1min": round(os.getloadavg()[0], 2),
        }
        targets = {"total_seconds_max": TOTAL_TARGET_S, "alerts_on_second_run_max": 0}
        passed = {"total_seconds_max": total <= TOTAL_TARGET_S, "alerts_on_second_run_max": again == 0}
        for k, v in figures.items():
            log(f"  {k}: {v}")
        print(json.dumps({"benchmark": "listening_trends", "database": vendor, "quick": args.quick,
                          "figures": figures, "targets": targets, "pass": passed}, ensure_ascii=False))
        return 1 if args.strict and not all(passed.values()) else 0
    finally:
        if pg_name:
            drop_database(base_url, pg_name)
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
