"""Listening trends: volume and sentiment over time, share of voice, rising terms, top authors
and sources.

Everything that can be counted is counted in SQL over ``MentionMatch`` (brand, query,
created_at and sentiment copied from the mention, indexed by (brand, created_at) and (query,
created_at)) or over ``Mention`` (indexed by (brand, created_at)). Only ``rising_terms`` reads
texts: those of the current window, plus a deterministic sample of the baseline period (every
k-th mention by id), so its cost does not grow with the length of the baseline.

Buckets are UTC hours or UTC days (``bucket_start`` is an aware UTC datetime); the pages show
them in the brand's time zone.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Iterable

from django.db import connection
from django.db.models import Count, F, Max, Q
from django.db.models.functions import Mod, Substr, TruncHour, TruncMinute

from tertulia.core.models import Brand

from .models import Competitor, ListeningQuery, Mention, MentionMatch

SENTIMENTS = ("negative", "neutral", "positive")
MAX_BUCKETS = 24 * 93  # a quarter in hours; longer periods are asked for by day


def _range(qs, since: datetime, until: datetime):
    return qs.filter(created_at__gte=since, created_at__lt=until)


# --- Volume and sentiment over time ----------------------------------------------------------

def _time_groups(qs, minutes: bool):
    """``qs`` annotated with ``_t``, its created_at cut to the UTC hour (or minute): native
    ``substr`` on SQLite, where ``Trunc`` calls back into Python for every row, and ``Trunc``
    elsewhere (native on PostgreSQL)."""
    if connection.vendor == "sqlite":  # stored as "YYYY-MM-DD HH:MM:SS[.ffffff]" in UTC
        return qs.annotate(_t=Substr("created_at", 1, 16 if minutes else 13))
    return qs.annotate(_t=(TruncMinute if minutes else TruncHour)("created_at", tzinfo=UTC))


def _as_utc(value) -> datetime:
    if isinstance(value, str):
        minute = int(value[14:16]) if len(value) >= 16 else 0
        return datetime(int(value[0:4]), int(value[5:7]), int(value[8:10]), int(value[11:13]), minute, tzinfo=UTC)
    return value.astimezone(UTC)


def _whole_hours(tz, since: datetime, until: datetime) -> bool:
    return all((t.astimezone(tz).utcoffset() or timedelta(0)).total_seconds() % 3600 == 0 for t in (since, until))


def volume(brand: Brand, *, query_ids: Iterable[int] | None = None, since: datetime, until: datetime,
           bucket: str = "hour", fill: bool = True, tzinfo=UTC) -> list[tuple[datetime, int, int, int, int]]:
    """``[(bucket_start, total, negative, neutral, positive)]`` per UTC hour or day (days
    in ``tzinfo`` when given, e.g. the brand's, so a day chart shows the brand's days).

    Without ``query_ids`` this is the brand's volume (each mention once, read from ``Mention``);
    with them, the distinct mentions of those queries (from ``MentionMatch``). ``fill`` adds
    the empty buckets, so a chart's x axis is regular."""
    if bucket not in ("hour", "day"):
        raise ValueError("bucket must be 'hour' or 'day'")
    tz = tzinfo if bucket == "day" else UTC
    query_ids = list(query_ids) if query_ids is not None else None
    if query_ids is None:
        qs, counted, distinct = _range(Mention.objects.filter(brand=brand), since, until), "id", False
    else:
        qs = _range(MentionMatch.objects.filter(brand=brand, query_id__in=query_ids), since, until)
        # One mention matching two of the queries is one mention; one query needs no DISTINCT.
        counted, distinct = "mention_id", len(set(query_ids)) > 1
    minutes = bucket == "day" and not _whole_hours(tz, since, until)
    rows = (_time_groups(qs, minutes).values("_t")
            .annotate(total=Count(counted, distinct=distinct),
                      **{s: Count(counted, distinct=distinct, filter=Q(sentiment=s)) for s in SENTIMENTS}))
    found: dict[datetime, list[int]] = {}
    for r in rows:
        t = _as_utc(r["_t"])
        key = t if bucket == "hour" else t.astimezone(tz).replace(hour=0, minute=0)
        acc = found.setdefault(key, [0, 0, 0, 0])
        acc[0] += r["total"]
        acc[1] += r["negative"]
        acc[2] += r["neutral"]
        acc[3] += r["positive"]
    if not fill:
        return [(b, *v) for b, v in sorted(found.items())]
    step = timedelta(hours=1) if bucket == "hour" else timedelta(days=1)
    start = since.astimezone(tz).replace(minute=0, second=0, microsecond=0)
    if bucket == "day":
        start = start.replace(hour=0)
    out = []
    b = start
    while b < until and len(out) <= MAX_BUCKETS:
        out.append((b, *found.get(b, (0, 0, 0, 0))))
        b += step
    return out


# --- Share of voice ----------------------------------------------------------------------------

def share_of_voice(brand: Brand, since: datetime, until: datetime) -> list[dict]:
    """The brand's own voice (queries of kind brand or product) against each competitor's
    (queries of kind competitor, grouped by their competitor, or by the query's name when it
    names none): ``[{name, kind, competitor_id, mentions, share}]``, the brand first, then by
    mentions. ``share`` is a fraction of the mentions of all of them (0 when there are none).
    A mention is counted once per voice, even when it matched several of its queries."""
    return share_of_voice_ranges(brand, [(since, until)])[0]


def share_of_voice_ranges(brand: Brand, ranges: list[tuple[datetime, datetime]]) -> list[list[dict]]:
    """``share_of_voice`` for each ``(since, until)`` of ``ranges`` (e.g. a period and the
    previous one), in two queries whatever their number."""
    # The voices come from the brand's few queries; the mentions are counted in one grouped
    # scan of MentionMatch (brand, created_at), each voice's mentions counted once (DISTINCT).
    # Plain SQL (two small queries on every dashboard and report): the same as
    # ListeningQuery.objects.filter(brand=brand).select_related("competitor") in its order, and
    # a COUNT(DISTINCT) per voice and range.
    voice_of: dict[int, tuple] = {}
    grouped: dict[tuple, dict] = {}
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT q.id, q.kind, q.name, q.competitor_id, c.name FROM {ListeningQuery._meta.db_table} q "  # nosec B608 # identifiers from model metadata, values bound as parameters
                       f"LEFT OUTER JOIN {Competitor._meta.db_table} c ON c.id = q.competitor_id "
                       "WHERE q.brand_id = %s ORDER BY q.name ASC, q.id ASC", [brand.pk])
        queries = cursor.fetchall()
    for pk, kind, name, competitor_id, competitor_name in queries:
        if kind in (ListeningQuery.Kind.BRAND, ListeningQuery.Kind.PRODUCT):
            voice_of[pk] = ("own",)
        elif kind == ListeningQuery.Kind.COMPETITOR:
            key = ("c", competitor_id) if competitor_id else ("q", pk)
            voice_of[pk] = key
            grouped.setdefault(key, {"name": competitor_name if competitor_id else name, "kind": "competitor",
                                     "competitor_id": competitor_id, "mentions": 0})
    labels = {key: f"{i}" for i, key in enumerate(dict.fromkeys(voice_of.values()))}
    counts: list[dict[str, int]] = [{} for _ in ranges]
    if voice_of and ranges:
        at = connection.ops.adapt_datetimefield_value
        voice_sql, params = [], []
        for key, label in labels.items():
            ids = [qid for qid, k in voice_of.items() if k == key]
            voice_sql.append(f"WHEN query_id IN ({', '.join(['%s'] * len(ids))}) THEN %s")
            params += [*ids, label]
        per_range = []
        for since, until in ranges:
            per_range.append("COUNT(DISTINCT CASE WHEN created_at >= %s AND created_at < %s THEN mention_id END)")
            params += [at(since), at(until)]
        params += [brand.pk, *voice_of, at(min(r[0] for r in ranges)), at(max(r[1] for r in ranges))]
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT CASE {' '.join(voice_sql)} ELSE '' END AS v, {', '.join(per_range)} "  # nosec B608 # identifiers from model metadata, values bound as parameters
                           f"FROM {MentionMatch._meta.db_table} WHERE brand_id = %s "
                           f"AND query_id IN ({', '.join(['%s'] * len(voice_of))}) "
                           "AND created_at >= %s AND created_at < %s GROUP BY 1", params)
            for row in cursor.fetchall():
                for i in range(len(ranges)):
                    counts[i][row[0]] = row[1 + i]
    out = []
    for i in range(len(ranges)):
        own = counts[i].get(labels.get(("own",), "-"), 0)
        competitors = [dict(entry, mentions=counts[i].get(labels[key], 0)) for key, entry in grouped.items()]
        voices = [{"name": brand.name, "kind": "brand", "competitor_id": None, "mentions": own}]
        voices += sorted(competitors, key=lambda v: (-v["mentions"], v["name"].casefold()))
        total = sum(v["mentions"] for v in voices)
        for v in voices:
            v["share"] = v["mentions"] / total if total else 0.0
        out.append(voices)
    return out


# --- Rising terms ------------------------------------------------------------------------------

STOP_WORDS = frozenset("""
a about above after again against all am an and any are aren as at be because been before being below between both
but by can cannot could did didn do does doesn doing don down during each few for from further get got had has hasn
have haven having he her here hers herself him himself his how i if in into is isn it its itself just let me more
most my myself no nor not now of off on once only or other our ours ourselves out over own same she should so some
such than that the their theirs them themselves then there these they this those through to too under until up very
was wasn we were weren what when where which while who whom why will with won would you your yours yourself
yourselves also like one new via amp http https www com rt im ive dont cant its thats youre
al algo algun alguna algunas alguno algunos ante antes aqui asi aun aunque bajo bien cada casi como con contra cual
cuales cuando de del desde donde dos el ella ellas ello ellos en entre era eran eres es esa esas ese eso esos esta
estaba estado estan estar estas este esto estos estoy fue fueron fui ha habia han has hasta hay he la las le les lo
los mas me mi mis mucho muy nada ni no nos nosotros nuestra nuestro o os otra otro otros para pero poco por porque
que quien quienes se sea ser si sido sin sobre solo son soy su sus tambien tan tanto te tenemos tener tengo tiene
tienen todo todos tu tus un una unas uno unos usted ustedes va vamos van y ya yo hoy dia ayer ahora hace hacer
""".split())

_URL = re.compile(r"https?://\S+|www\.\S+")
_TOKEN = re.compile(r"#\w+|@\w+|\w+")
MAX_TEXT = 5000  # characters of each text read for terms


_MARKS = re.compile(r"[\u0300-\u036f\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff\ufe20-\ufe2f\u200b-\u200f\u202a-\u202e"
                    r"\u2060-\u2064\ufeff\u00ad]")


def fold(text: str) -> str:
    """Lower case, without accents or invisible characters ("Pésimo" → "pesimo")."""
    text = text or ""
    if text.isascii():
        return text.lower()
    return _MARKS.sub("", unicodedata.normalize("NFKD", text)).casefold()


def terms_of(text: str) -> set[str]:
    """The distinct terms and hashtags of one text, folded: words of 3 characters or more
    that are not stop words or numbers, and ``#hashtags``. Links and @handles are left out."""
    out = set()
    for tok in _TOKEN.findall(_URL.sub(" ", fold(text[:MAX_TEXT]))):
        if tok[0] == "@":
            continue
        if tok[0] == "#":
            if len(tok) > 2:
                out.add(tok)
            continue
        if len(tok) < 3 or tok in STOP_WORDS or tok.isdigit() or tok.replace("_", "").isdigit():
            continue
        out.add(tok)
    return out


@dataclass(frozen=True)
class RisingTerm:
    term: str
    count: int  # mentions in the window that contain it
    baseline: float  # the mentions expected in a window that long, from the baseline's rate
    score: float  # (count + 1) / (baseline + 1)

    @property
    def is_hashtag(self) -> bool:
        return self.term.startswith("#")


BASELINE_SAMPLE = 1000  # at most this many baseline texts are read
WINDOW_SAMPLE = 5000  # and at most this many texts of the window itself (a sample, scaled up, beyond)


def _texts(brand: Brand, since: datetime, until: datetime, query_ids, sample_every: int = 1):
    qs = _range(Mention.objects.filter(brand=brand), since, until)
    if query_ids is not None:
        qs = qs.filter(pk__in=MentionMatch.objects.filter(brand=brand, query_id__in=list(query_ids),
                                                          created_at__gte=since, created_at__lt=until)
                       .values("mention_id"))
    if sample_every > 1:
        qs = qs.annotate(_m=Mod(F("id"), sample_every)).filter(_m=0)
    return qs.values_list("title", "text")


def rising_terms(brand: Brand, now: datetime, window: timedelta = timedelta(hours=24), baseline_days: int = 14,
                 limit: int = 20, min_count: int = 3, query_ids: Iterable[int] | None = None) -> list[RisingTerm]:
    """Terms and hashtags said more in the last ``window`` than their rate over the
    ``baseline_days`` before it predicts.

    ``count`` is how many mentions of the window contain the term; ``baseline`` is how many
    were expected in a window that long at the baseline's rate (mentions containing it per
    hour of baseline × hours of window, estimated from a sample of at most ``BASELINE_SAMPLE``
    texts). Terms below ``min_count`` are ignored; the rest are ranked by
    ``(count + 1) / (baseline + 1)`` (the +1 keeps a brand-new term from dividing by zero and
    favours terms with more evidence), then by count."""
    query_ids = list(query_ids) if query_ids is not None else None
    start = now - window
    base_start = start - timedelta(days=baseline_days)
    current: Counter[str] = Counter()
    window_qs = _range(Mention.objects.filter(brand=brand), start, now)
    if query_ids is not None:
        window_qs = window_qs.filter(pk__in=MentionMatch.objects.filter(
            brand=brand, query_id__in=query_ids, created_at__gte=start, created_at__lt=now).values("mention_id"))
    window_total = window_qs.count()
    window_every = -(-window_total // WINDOW_SAMPLE) if window_total > WINDOW_SAMPLE else 1
    for title, text in _texts(brand, start, now, query_ids, window_every):
        current.update(terms_of(f"{title} {text}" if title else text))
    if window_every > 1:  # a sample of a busy window: counts scaled to the whole window
        current = Counter({t: n * window_every for t, n in current.items()})
    candidates = {t for t, n in current.items() if n >= min_count}
    if not candidates:
        return []
    base_qs = _range(Mention.objects.filter(brand=brand), base_start, start)
    if query_ids is not None:
        base_qs = base_qs.filter(pk__in=MentionMatch.objects.filter(
            brand=brand, query_id__in=query_ids, created_at__gte=base_start, created_at__lt=start).values("mention_id"))
    base_total = base_qs.count()
    every = 1
    if base_total is not None and base_total > BASELINE_SAMPLE:
        every = -(-base_total // BASELINE_SAMPLE)
    base: Counter[str] = Counter()
    read = 0
    for title, text in _texts(brand, base_start, start, query_ids, every):
        read += 1  # only the candidates are looked for: no need to filter every token
        folded = fold((f"{title} {text}" if title else text)[:MAX_TEXT])
        if "http" in folded or "www." in folded:
            folded = _URL.sub(" ", folded)
        base.update(candidates.intersection(_TOKEN.findall(folded)))
    scale = (base_total / read) if (base_total and read) else 1.0
    hours = window.total_seconds() / 3600
    base_hours = baseline_days * 24
    out = []
    for term in candidates:
        expected = base[term] * scale / base_hours * hours if base_hours else 0.0
        n = current[term]
        out.append(RisingTerm(term, n, round(expected, 2), round((n + 1) / (expected + 1), 2)))
    out = [t for t in out if t.count > t.baseline]
    out.sort(key=lambda t: (-t.score, -t.count, t.term))
    return out[:limit]


# --- Top authors and sources ------------------------------------------------------------------

def _mentions(brand: Brand, since: datetime, until: datetime, query_ids):
    qs = _range(Mention.objects.filter(brand=brand), since, until)
    if query_ids is not None:
        qs = qs.filter(pk__in=MentionMatch.objects.filter(brand=brand, query_id__in=list(query_ids),
                                                          created_at__gte=since, created_at__lt=until)
                       .values("mention_id"))
    return qs


def authors_and_sources(brand: Brand, since: datetime, until: datetime, *, limit: int = 10,
                        query_ids: Iterable[int] | None = None) -> tuple[list[dict], list[dict]]:
    """``(top_authors, top_sources)`` from one grouped scan of the period's mentions (the page
    shows both; see ``top_authors`` and ``top_sources``)."""
    rows = (_mentions(brand, since, until, query_ids).values("network", "site", "author_handle", "author_name")
            .annotate(mentions=Count("id"), negative=Count("id", filter=Q(sentiment="negative")),
                      followers=Max("author_followers")))
    authors: dict[tuple, dict] = {}
    sources: dict[str, dict] = {}
    for r in rows:
        if r["author_handle"] or r["author_name"]:
            a = authors.setdefault((r["network"], r["author_handle"], r["author_name"]), {
                "network": r["network"], "handle": r["author_handle"], "name": r["author_name"], "mentions": 0,
                "negative": 0, "followers": None})
            a["mentions"] += r["mentions"]
            a["negative"] += r["negative"]
            if r["followers"] is not None and (a["followers"] is None or r["followers"] > a["followers"]):
                a["followers"] = r["followers"]
        key = r["site"] or r["network"] or "?"
        e = sources.setdefault(key, {"source": key, "network": r["network"], "site": r["site"], "mentions": 0,
                                     "negative": 0})
        e["mentions"] += r["mentions"]
        e["negative"] += r["negative"]
    top_a = sorted(authors.values(), key=lambda a: (-a["mentions"], -(a["followers"] or -1), a["handle"]))[:limit]
    top_s = sorted(sources.values(), key=lambda e: (-e["mentions"], e["source"]))[:limit]
    return top_a, top_s


def top_authors(brand: Brand, since: datetime, until: datetime, *, limit: int = 10,
                query_ids: Iterable[int] | None = None) -> list[dict]:
    """Who wrote most of the mentions: ``[{network, handle, name, mentions, negative,
    followers}]`` by mentions, then followers. Mentions without an author are left out."""
    rows = (_mentions(brand, since, until, query_ids).exclude(author_handle="", author_name="")
            .values("network", "author_handle", "author_name")
            .annotate(mentions=Count("id"), negative=Count("id", filter=Q(sentiment="negative")),
                      followers=Max("author_followers"))
            .order_by("-mentions", F("followers").desc(nulls_last=True), "author_handle")[:limit])
    return [{"network": r["network"], "handle": r["author_handle"], "name": r["author_name"],
             "mentions": r["mentions"], "negative": r["negative"], "followers": r["followers"]} for r in rows]


def top_sources(brand: Brand, since: datetime, until: datetime, *, limit: int = 10,
                query_ids: Iterable[int] | None = None) -> list[dict]:
    """Where the mentions come from: the site (news and blogs) or else the network:
    ``[{source, network, site, mentions, negative}]`` by mentions."""
    rows = (_mentions(brand, since, until, query_ids).values("network", "site")
            .annotate(mentions=Count("id"), negative=Count("id", filter=Q(sentiment="negative"))))
    merged: dict[str, dict] = {}
    for r in rows:
        key = r["site"] or r["network"] or "?"
        e = merged.setdefault(key, {"source": key, "network": r["network"], "site": r["site"],
                                    "mentions": 0, "negative": 0})
        e["mentions"] += r["mentions"]
        e["negative"] += r["negative"]
    return sorted(merged.values(), key=lambda e: (-e["mentions"], e["source"]))[:limit]


def totals(brand: Brand, since: datetime, until: datetime) -> dict:
    """The period's mentions and their sentiment (distinct mentions)."""
    agg = _range(Mention.objects.filter(brand=brand), since, until).aggregate(
        total=Count("id"), **{s: Count("id", filter=Q(sentiment=s)) for s in SENTIMENTS})
    return agg
