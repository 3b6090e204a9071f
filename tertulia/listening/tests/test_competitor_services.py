"""listening.competitors: reading competitors through the brand's own Mastodon account (the
loopback fake), the daily task, CSV import with good, bad and hostile rows, and the benchmark and
monthly section on hand-computed fixtures (unknown numbers stay None)."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from tertulia.core.services import Ctx
from tertulia.listening import competitors
from tertulia.listening.models import CompetitorPost, CompetitorSnapshot
from tertulia.networks.services import do_add_account
from tertulia.strategy.models import ContentPillar
from tests.fakes.pytest_plugin import fake_mastodon  # noqa: F401

pytestmark = pytest.mark.django_db



@pytest.fixture(autouse=True)
def _english():
    from django.utils import translation

    with translation.override("en"):
        yield

@pytest.fixture
def http_to_fakes(settings):
    from tertulia.networks.ratelimit import BUCKETS
    from tertulia.publishing.engine import RATE_BOOK

    settings.PUBLISHING = {**settings.PUBLISHING, "HTTP": {
        "connect_timeout": 2.0, "read_timeout": 3.0, "write_timeout": 2.0, "allow_private_networks": True}}
    BUCKETS.clear()
    RATE_BOOK._states.clear()
    yield
    BUCKETS.clear()
    RATE_BOOK._states.clear()


def test_read_now_and_the_daily_task(brand_a, fake_mastodon, http_to_fakes):
    brand, people = brand_a
    ctx = Ctx(people["owner"])
    ContentPillar.objects.create(brand=brand, name="Recetas de café", target_share=40)
    ContentPillar.objects.create(brand=brand, name="Equipo", target_share=20)
    do_add_account(ctx, brand, network="mastodon", handle=f"{fake_mastodon.own['username']}@fake.example",
                   access_token=fake_mastodon.token, base_url=fake_mastodon.base_url,
                   external_id=fake_mastodon.own["id"])
    fake_mastodon.add_account("molienda", followers=1500)
    carousel = fake_mastodon.post_as("molienda", "Tres recetas con café de <b>temporada</b>")
    fake_mastodon.attach_media(carousel["id"], "image", "image", "image")
    video = fake_mastodon.post_as("molienda", "Nuestro equipo en la tostadora")
    fake_mastodon.attach_media(video["id"], "video")
    fake_mastodon.post_as("molienda", "Abrimos el lunes")
    fake_mastodon.set_counts(carousel["id"], favourites=30, reblogs=4)

    comp = competitors.do_add_competitor(ctx, brand, name="Molienda", accounts=[
        ("mastodon", "molienda"), ("mastodon", "nadie"), ("bluesky", "molienda.bsky.social"),
        ("instagram", "molienda")])
    results = {str(r.account.handle) + r.account.network: r for r in competitors.do_read_now(ctx, comp)}
    assert set(results) == {"molienda" + "mastodon", "nadie" + "mastodon", "molienda.bsky.social" + "bluesky"}
    ok = results["molienda" + "mastodon"]
    assert ok.ok and ok.snapshot and ok.posts_new == 3
    account = ok.account
    snap = CompetitorSnapshot.objects.get(account=account)
    assert (snap.followers, snap.posts) == (1500, 3)
    assert snap.avg_engagement == pytest.approx(34 / 3)  # 30 + 4 on one post, 0 on two
    posts = {p.text: p for p in CompetitorPost.objects.filter(account=account)}
    first = posts["Tres recetas con café de <b>temporada</b>"]
    assert (first.format, first.pillar, first.likes, first.shares, first.comments) == ("carousel", "Recetas de café",
                                                                                         30, 4, 0)
    assert (posts["Nuestro equipo en la tostadora"].format, posts["Nuestro equipo en la tostadora"].pillar) == \
        ("video", "Equipo")
    assert (posts["Abrimos el lunes"].format, posts["Abrimos el lunes"].pillar) == ("text", "")
    # Failures are kept on the account, in words, and nothing is stored for it.
    unknown = results["nadie" + "mastodon"].account
    assert not results["nadie" + "mastodon"].ok and "does not know" in competitors.notes.english(unknown.last_error)
    no_reader = results["molienda.bsky.social" + "bluesky"].account
    assert "Connect one of the brand's own Bluesky accounts" in competitors.notes.english(no_reader.last_error)
    assert not CompetitorSnapshot.objects.filter(account__in=[unknown, no_reader]).exists()
    # Reading needs MANAGE_BRAND.
    with pytest.raises(PermissionDenied):
        competitors.do_read_now(Ctx(people["analyst"]), comp)

    # The daily task: only accounts not read in the last 20 hours; engagement updated in place.
    fake_mastodon.set_counts(carousel["id"], favourites=50)
    from tertulia.listening.tasks_competitors import read_competitors

    assert read_competitors.call_local() == 0  # all read moments ago
    later = timezone.now() + timedelta(days=1)
    assert competitors.read_due(now=later) == 1  # molienda; the two failing ones fail again
    assert CompetitorPost.objects.filter(account=account).count() == 3
    assert CompetitorPost.objects.get(pk=first.pk).likes == 50
    assert CompetitorSnapshot.objects.filter(account=account).count() == 2
    instagram = comp.accounts.get(network="instagram")
    assert instagram.last_read_at is None  # CSV only: never read


SNAPSHOTS = (
    "date,followers,posts\n"
    "2025-01-01,1000,10\n"
    "2025-01-08,\"1,050\",\n"  # thousands separator; posts unknown stays None
    "2025-01-15,=1+1,12\n"  # a formula is not a number
    "not a date,5,5\n"
    "2025-01-22,-4,3\n"
    "2025-01-29,,\n"
    "\n"
    "2025-02-05 10:30,1100,14\n"
)


def test_csv_import_snapshots_and_posts(brand_a):
    brand, people = brand_a
    ctx = Ctx(people["owner"])
    comp = competitors.do_add_competitor(ctx, brand, name="Molienda", accounts=[("instagram", "molienda")])
    account = comp.accounts.get()

    result = competitors.do_import_csv(ctx, account, kind="snapshots", data=SNAPSHOTS.encode())
    assert (result.created, result.updated) == (3, 0)
    assert [line for line, _reason in result.errors] == [4, 5, 6, 7]
    assert "not a whole number" in result.errors[0][1] and "=1+1" in result.errors[0][1]
    rows = list(CompetitorSnapshot.objects.filter(account=account).order_by("taken_at").values_list("followers", "posts"))
    assert rows == [(1000, 10), (1050, None), (1100, 14)]
    first = CompetitorSnapshot.objects.filter(account=account).order_by("taken_at").first()
    assert first.taken_at == datetime(2025, 1, 1, tzinfo=brand.tzinfo)  # the brand's midnight, stored in UTC
    again = competitors.do_import_csv(ctx, account, kind="snapshots", data=SNAPSHOTS.encode())
    assert (again.created, again.updated) == (0, 3)

    posts_csv = (
        "Date;URL;Format;Likes;Comments;Shares;Views;Text\n"
        "2025-01-03;https://instagram.com/p/1;carousel;120;8;;900;Recetas =HYPERLINK(\"http://x\")\n"
        "2025-01-04;javascript:alert(1);image;1;1;1;;<script>alert(1)</script>\n"
        "2025-01-05;;reel;1;;;;Texto\n"
        "2025-01-06;;;;;;;@SUM(A1)\n"
        "2025-01-07;;;;;;;\n"
    ).encode("utf-8")
    result = competitors.do_import_csv(ctx, account, kind="posts", data=b"\xef\xbb\xbf" + posts_csv)
    assert result.created == 2 and [line for line, _r in result.errors] == [3, 4, 6]
    stored = {p.text: p for p in CompetitorPost.objects.filter(account=account)}
    recipe = stored['Recetas =HYPERLINK("http://x")']  # kept as text, never evaluated
    assert (recipe.format, recipe.likes, recipe.comments, recipe.shares, recipe.views) == ("carousel", 120, 8, None, 900)
    assert recipe.external_id == "https://instagram.com/p/1"
    assert stored["@SUM(A1)"].external_id.startswith("csv:") and stored["@SUM(A1)"].likes is None

    with pytest.raises(ValidationError):
        competitors.do_import_csv(ctx, account, kind="posts", data=b"\x89PNG\r\n\x1a\n\x00\x00")
    with pytest.raises(ValidationError):
        competitors.do_import_csv(ctx, account, kind="posts", data=b"a" * (competitors.MAX_CSV_BYTES + 1))
    with pytest.raises(ValidationError):
        competitors.do_import_csv(ctx, account, kind="posts", data=b"followers,likes\n1,2\n")  # no date column
    long_cell = ("date,text\n2025-01-01," + "x" * (competitors.MAX_CELL + 1) + "\n").encode()
    assert competitors.do_import_csv(ctx, account, kind="posts", data=long_cell).errors[0][0] == 2
    with pytest.raises(PermissionDenied):
        competitors.do_import_csv(Ctx(people["analyst"]), account, kind="snapshots", data=SNAPSHOTS.encode())


def _brand_posts(ctx, brand, social, specs):
    """Published posts of the brand: (day, format, [(taken_at_day, likes, comments, shares)…])."""
    from tertulia.analytics.models import PostMetricSnapshot
    from tertulia.content.services import do_create_post
    from tertulia.publishing.models import PostTarget

    tz = brand.tzinfo
    for n, (day, fmt, snaps) in enumerate(specs):
        post = do_create_post(ctx, brand, text=f"Post {n}", accounts=[social], format=fmt)
        target = PostTarget.objects.get(post=post)
        PostTarget.objects.filter(pk=target.pk).update(state=PostTarget.State.PUBLISHED, external_id=str(n),
                                                       published_at=datetime(2025, 1, day, 12, tzinfo=tz))
        for snap_day, likes, comments, shares in snaps:
            PostMetricSnapshot.objects.create(brand=brand, target=target,
                                              taken_at=datetime(2025, 1, snap_day, 20, tzinfo=tz),
                                              likes=likes, comments=comments, shares=shares)


def test_benchmark_and_monthly_section_by_hand(brand_a):
    from tertulia.analytics.models import ProfileSnapshot

    brand, people = brand_a
    ctx = Ctx(people["owner"])
    tz = brand.tzinfo
    social = do_add_account(ctx, brand, network="mastodon", handle="cafe@m.example", base_url="https://m.example")
    ProfileSnapshot.objects.create(brand=brand, account=social, taken_at=datetime(2025, 1, 1, 9, tzinfo=tz),
                                   followers=1000)
    ProfileSnapshot.objects.create(brand=brand, account=social, taken_at=datetime(2025, 1, 31, 9, tzinfo=tz),
                                   followers=1100)
    _brand_posts(ctx, brand, social, [
        (5, "image", [(6, 1, 1, 1), (7, 10, 2, None)]),  # the latest counts: 12
        (12, "image", [(13, 4, 4, 0)]),  # 8
        (20, "video", []),  # never measured: left out of the average, still a post
    ])
    rival = competitors.do_add_competitor(ctx, brand, name="Molienda", accounts=[("x", "molienda"),
                                                                                 ("instagram", "molienda")])
    competitors.do_add_competitor(ctx, brand, name="Sin datos")
    x_acc, ig_acc = rival.accounts.get(network="x"), rival.accounts.get(network="instagram")
    for account, day, followers in ((x_acc, 2, 500), (x_acc, 30, 450), (ig_acc, 15, 200)):
        CompetitorSnapshot.objects.create(brand=brand, account=account, taken_at=datetime(2025, 1, day, tzinfo=tz),
                                          followers=followers)

    def post(account, when, fmt, likes, comments, shares, ext):
        CompetitorPost.objects.create(brand=brand, account=account, external_id=ext, published_at=when, format=fmt,
                                      likes=likes, comments=comments, shares=shares,
                                      pillar="Recetas" if fmt == "image" else "")

    post(x_acc, datetime(2025, 1, 3, tzinfo=tz), "image", 5, 5, None, "a")  # 10
    post(x_acc, datetime(2025, 1, 10, tzinfo=tz), "image", 20, None, None, "b")  # 20
    post(ig_acc, datetime(2025, 1, 17, tzinfo=tz), "video", None, None, None, "c")  # unknown
    post(ig_acc, datetime(2025, 1, 31, 23, 30, tzinfo=tz), "text", 10, 10, 10, "d")  # 30, still January in Madrid
    post(x_acc, datetime(2025, 2, 1, 0, 30, tzinfo=tz), "text", 99, 0, 0, "e")  # February: out
    post(x_acc, datetime(2024, 12, 10, tzinfo=tz), "text", 5, 5, 0, "f")  # December: 10
    post(x_acc, datetime(2024, 12, 20, tzinfo=tz), "text", 10, 0, 0, "g")  # December: 10

    since, until = competitors.month_bounds(brand, 2025, 1)
    data = competitors.benchmark(brand, since, until)
    own, molienda, empty = data["rows"]
    assert (own["kind"], own["followers_start"], own["followers_end"], own["growth"]) == ("brand", 1000, 1100, 100)
    assert own["growth_pct"] == 10.0
    assert (own["posts"], own["measured_posts"], own["engagement_per_post"]) == (3, 2, 10.0)
    assert own["engagement_rate"] == pytest.approx(100 * 10 / 1100, abs=0.001)
    assert own["posts_per_week"] == round(3 / (31 / 7), 2)
    assert [(f["name"], f["count"]) for f in own["formats"]] == [("image", 2), ("video", 1)]
    assert [p["engagement"] for p in own["top_posts"]] == [12, 8]

    assert (molienda["followers_start"], molienda["followers_end"], molienda["growth"]) == (700, 650, -50)
    # Growth is measured on the accounts sampled twice or more (X: 500 → 450), not on the start
    # that includes Instagram's single sample.
    assert molienda["growth_pct"] == round(-50 / 500 * 100, 2)
    assert (molienda["posts"], molienda["measured_posts"], molienda["engagement_per_post"]) == (4, 3, 20.0)
    assert molienda["posts_per_week"] == round(4 / (31 / 7), 2)
    assert {f["name"]: f["share"] for f in molienda["formats"]} == {"image": 50.0, "video": 25.0, "text": 25.0}
    assert molienda["pillars"] == [{"name": "Recetas", "count": 2, "share": 100.0}]
    assert [p["engagement"] for p in molienda["top_posts"]] == [30, 20, 10]
    series = dict(molienda["series"])
    assert datetime(2025, 1, 1).date() not in series  # no account had numbers yet
    assert series[datetime(2025, 1, 2).date()] == 500 and series[datetime(2025, 1, 15).date()] == 700
    assert series[datetime(2025, 1, 31).date()] == 650

    assert empty["name"] == "Sin datos"
    assert (empty["followers_end"], empty["growth"], empty["engagement_per_post"], empty["engagement_rate"]) == \
        (None, None, None, None)
    # Never read nor imported: how often it posts is unknown, not zero.
    assert empty["posts"] is None and empty["posts_per_week"] is None and empty["series"] == []

    section = competitors.monthly_section(brand, 2025, 1)
    rows = {r["name"]: r for r in section["rows"]}
    assert rows["Molienda"]["changes"]["posts"] == 2
    assert rows["Molienda"]["changes"]["engagement_per_post"] == 10.0
    assert rows["Molienda"]["changes"]["engagement_per_post_pct"] == 100.0
    assert rows["Molienda"]["changes"]["followers_end"] is None  # no numbers in December
    assert rows[brand.name]["changes"]["engagement_per_post"] is None
    text = " ".join(section["sentences"])  # the brand speaks Spanish
    assert f"{brand.name} ganó 100 seguidores (10,0 %)." in text
    assert "Molienda perdió 50 seguidores (10,0 %)." in text
    assert "Molienda tuvo la mayor interacción por publicación: 20,0 interacciones." in text
    assert "subió un 100 %" in text
    with pytest.raises(ValueError):
        competitors.monthly_section(brand, 2025, 13)
