"""Giveaways end to end below the pages: entries read through the inbox's polling from the fake
Mastodon server and the recorded Facebook comments, the eligibility rules, overrides, the entry
window at DST changes, hostile entry text, and the one-time draw."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone, translation

from tertulia.core.models import AuditEvent
from tertulia.core.timezones import resolve
from tertulia.giveaways import draw, eligibility, services
from tertulia.giveaways.models import Contest, DrawRun, Entry
from tertulia.inbox import polling
from tertulia.inbox import services as inbox
from tertulia.inbox.models import InboxSync, Interaction
from tertulia.inbox.tests.conftest import owner, polling_settings  # noqa: F401
from tertulia.networks.services import do_add_account
from tests.fakes.pytest_plugin import fake_mastodon  # noqa: F401

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def english():
    with translation.override("en"):
        yield


def contest_on(ctx, brand, posts, *, hours=(-1, 1), **rules) -> Contest:
    now = timezone.now()
    return services.do_create_contest(ctx, brand, title="Sorteo de primavera", prize="Una cesta",
                                      starts_at=now + timedelta(hours=hours[0]), ends_at=now + timedelta(hours=hours[1]),
                                      posts=posts, **rules)


def close_and_draw(ctx, contest) -> Contest:
    services.do_publish_commitment(ctx, contest)
    services.do_close_entries(ctx, contest)
    return services.do_draw(ctx, contest)


def verdicts(contest) -> dict[str, tuple[str, int]]:
    """handle -> (rejection, weight) of the person's first entry (see ``Entry.Meta.ordering``)."""
    out = {}
    for e in contest.entries.all():
        out.setdefault(e.handle, (e.rejection, e.weight))
    return out


# -- through the connectors ------------------------------------------------------------------------

def test_mastodon_comments_become_judged_entries_and_the_draw_happens_once(fake_mastodon, owner, polling_settings):
    ctx, brand = owner
    fake = fake_mastodon
    account = do_add_account(ctx, brand, network="mastodon", handle=f"{fake.own['username']}@fake.example",
                             access_token=fake.token, base_url=fake.base_url, external_id=fake.own["id"])
    # The contest post was published outside Tertulia: the inbox reads its thread for the contest.
    root = fake.post_as(fake.own["username"], "¡Sorteo! Comenta con #Sorteo y menciona a un amigo")["id"]
    people = {name: fake.add_account(name) for name in ("ana", "luis", "nuevo", "plantilla", "bea")}
    domain = fake.base_url.split("://", 1)[1].split("/")[0]

    def h(name):
        return f"@{name}@{domain}"

    for name, account_json in people.items():
        account_json["created_at"] = "2019-05-01T00:00:00.000Z"
    people["nuevo"]["created_at"] = (timezone.now() - timedelta(days=3)).strftime("%Y-%m-%dT%H:%M:%S.000Z")
    contest = contest_on(ctx, brand, [(account, root)], required_terms=["#sorteo"], min_tags=1,
                         excluded_handles=[h("plantilla")], min_account_age_days=30, winners=1,
                         substitutes=1)
    assert root in polling.recent_threads(account, timezone.now())[0]
    fake.post_as("ana", "¡Me apunto! #SORTEO @luis", in_reply_to=root)
    fake.post_as("luis", "Yo también @ana", in_reply_to=root)  # no hashtag
    fake.post_as("nuevo", "#sorteo @ana", in_reply_to=root)  # an account opened 3 days ago
    fake.post_as("plantilla", "#sorteo @ana", in_reply_to=root)  # staff
    fake.post_as("bea", "#sorteo", in_reply_to=root)  # nobody tagged
    fake.post_as("ana", "Otra vez #sorteo @bea", in_reply_to=root)  # a second entry

    result = services.do_fetch_now(ctx, contest)
    assert result["polls"] == {account.pk: "ok"} and result["new"] == 6
    v = verdicts(contest)
    assert v[h("ana")] == ("", 1)
    assert v[h("luis")][0] == eligibility.MISSING_TERMS
    assert v[h("nuevo")][0] == eligibility.ACCOUNT_TOO_NEW
    assert v[h("plantilla")][0] == eligibility.EXCLUDED
    assert v[h("bea")][0] == eligibility.TOO_FEW_TAGS
    assert list(contest.entries.values_list("rejection", flat=True)).count(eligibility.DUPLICATE) == 1
    newbie = contest.entries.get(handle=h("nuevo"))
    assert eligibility.explain(newbie.rejection, newbie.detail) == "The account was 3 days old; the rules ask for 30 days."

    # Nothing is fetched twice: a regular poll afterwards stores no new comment and no new entry.
    InboxSync.objects.filter(account=account).update(next_poll_at=timezone.now() - timedelta(seconds=1))
    assert polling.poll_due_accounts()["created"] == 0
    assert services.collect(contest)["new"] == 0 and contest.entries.count() == 6

    luis = contest.entries.get(handle=h("luis"))
    with pytest.raises(ValidationError, match="Say why"):
        services.do_override(ctx, luis, "include", "  ")
    luis = services.do_override(ctx, luis, "include", "Usó el hashtag en una respuesta aparte")
    assert luis.counts and luis.override_by == ctx.user
    assert AuditEvent.objects.filter(action="giveaway.override", brand=brand).count() == 1
    assert services.summary(contest)["taking_part"] == 2

    with pytest.raises(ValidationError, match="Publish the commitment"):
        services.do_draw(ctx, contest)
    services.do_publish_commitment(ctx, contest)
    with pytest.raises(ValidationError, match="still open"):
        services.do_draw(ctx, contest)
    services.do_close_entries(ctx, contest)
    contest = services.do_draw(ctx, contest)
    everyone = contest.result["winners"] + contest.result["substitutes"]
    assert sorted(r[1] for r in everyone) == [h("ana"), h("luis")]
    proof = services.proof(contest)
    assert draw.verify(proof).ok and proof["seed"] and draw.commitment(proof["seed"]) == contest.commitment

    # The first result stands: a second press is refused and logged; late comments change nothing.
    with pytest.raises(ValidationError, match="result stands"):
        services.do_draw(ctx, contest)
    assert list(DrawRun.objects.filter(contest=contest).values_list("accepted", flat=True)) == [
        False, False, True, False]
    fake.post_as("bea", "#sorteo @ana @luis", in_reply_to=root)
    services.do_fetch_now(ctx, contest)
    assert contest.entries.count() == 6 and services.proof(contest) == proof
    with pytest.raises(ValidationError, match="drawn"):
        services.do_override(ctx, luis, "exclude", "cambio de opinión")
    with pytest.raises(ValidationError, match="stays on record"):
        services.do_delete_contest(ctx, contest)


def test_the_recorded_facebook_comments_are_entries(owner, polling_settings):
    from tests.fakes.facebook import CORPUS_POST, PAGE_ID, FakeGraph, recorded

    ctx, brand = owner
    comments = recorded("facebook/apidata/comments/comments_p1.json")["data"] + \
        recorded("facebook/apidata/comments/comments_p2.json")["data"]
    times = sorted(datetime.fromisoformat(c["created_time"].replace("+0000", "+00:00")) for c in comments)
    with FakeGraph() as fake:
        page = do_add_account(ctx, brand, network="facebook", handle="facebookapp", access_token=fake.page_token,
                              base_url=fake.base_url, external_id=PAGE_ID)
        # The window closes one second after the third comment: the rest are late.
        contest = services.do_create_contest(ctx, brand, title="Recorded", starts_at=times[0],
                                             ends_at=times[2] + timedelta(seconds=1), posts=[(page, CORPUS_POST)])
        Contest.objects.filter(pk=contest.pk).update(starts_at=times[0], ends_at=timezone.now() + timedelta(days=1))
        contest.refresh_from_db()
        services.do_fetch_now(ctx, contest)
        Contest.objects.filter(pk=contest.pk).update(ends_at=times[2] + timedelta(seconds=1))
        contest.refresh_from_db()
        services.collect(contest)
    stored = Interaction.objects.filter(account=page, conversation__root_external_id=CORPUS_POST)
    assert contest.entries.count() == stored.count() >= len(comments)
    late = contest.entries.filter(rejection=eligibility.OUTSIDE_WINDOW).count()
    assert late == contest.entries.filter(commented_at__gte=times[2] + timedelta(seconds=1)).count() > 0
    def norm(text):
        return " ".join(text.split())

    assert {norm(t) for t in contest.entries.values_list("text", flat=True)} >= {norm(c["message"]) for c in comments}


# -- the rules on stored comments ---------------------------------------------------------------------

def comment(account, ext, handle, text, at, *, author=None):
    inbox.ingest_interactions(account, [inbox.IncomingInteraction(
        external_id=ext, kind="comment", author=inbox.IncomingAuthor(external_id=author or f"id-{handle}",
                                                                     handle=handle),
        text=text, created_at=at, root_external_id="post-1")])


@pytest.fixture
def accounts(owner):
    ctx, brand = owner
    x = do_add_account(ctx, brand, network="x", handle="@marca", access_token="t")
    ig = do_add_account(ctx, brand, network="instagram", handle="marca", access_token="t")
    return x, ig


@pytest.mark.parametrize("zone, start, end", [
    # Madrid: entries open at 02:30 on the spring-forward night (no such time: 03:00 CEST) and
    # close at 02:30 on the autumn night (it happens twice: the first one).
    ("Europe/Madrid", datetime(2026, 3, 29, 2, 30), datetime(2026, 10, 25, 2, 30)),
    # Santiago: clocks jump at midnight; a window from 00:00 to 00:00 across both changes.
    ("America/Santiago", datetime(2026, 9, 6, 0, 0), datetime(2027, 4, 4, 0, 0)),
])
def test_window_edges_at_dst_changes(owner, accounts, zone, start, end):
    ctx, brand = owner
    x, _ig = accounts
    brand.timezone = zone
    brand.save(update_fields=["timezone"])
    tz = ZoneInfo(zone)
    # Arithmetic in UTC: on a zone-aware datetime Python adds wall-clock time, and one second
    # before 03:00 CEST on the spring-forward night would be 02:59:59, a time that does not exist.
    opens, closes = resolve(start, tz).astimezone(UTC), resolve(end, tz).astimezone(UTC)
    second = timedelta(seconds=1)
    edges = {"before": opens - second, "at-open": opens, "last": closes - second, "at-close": closes}
    for name, at in edges.items():
        comment(x, f"c-{name}", f"@{name}", "hola", at)
    contest = services.do_create_contest(ctx, brand, title="DST", starts_at=opens, ends_at=closes, posts=[(x, "post-1")])
    services.collect(contest)
    got = {e.handle: e.rejection for e in contest.entries.all()}
    assert got == {"@before": "outside_window", "@at-open": "", "@last": "", "@at-close": "outside_window"}
    if zone == "Europe/Madrid":  # 02:30 in the gap is 03:00 CEST; the repeated 02:30 is the CEST one
        assert opens == datetime(2026, 3, 29, 1, 0, tzinfo=UTC)
        assert closes == datetime(2026, 10, 25, 0, 30, tzinfo=UTC)


def test_one_person_across_networks_weights_and_the_override_for_a_namesake(owner, accounts):
    ctx, brand = owner
    x, ig = accounts
    now = timezone.now()
    comment(x, "x1", "@Ana", "¡Yo! @luis @bea @marca", now - timedelta(minutes=30))
    comment(ig, "ig1", "ana", "yo también @luis", now - timedelta(minutes=20))  # the same person, on Instagram
    comment(x, "x2", "@luis", "@ana", now - timedelta(minutes=10))
    comment(ig, "ig2", "marca", "¡Gracias a todos!", now - timedelta(minutes=5), author="brand-self")
    contest = contest_on(ctx, brand, [(x, "post-1"), (ig, "post-1")], mode="weighted", min_tags=1,
                         bonus_per_tag=1, bonus_per_post=2, max_weight=10)
    services.collect(contest)
    v = verdicts(contest)
    # Ana: tagged 2 friends (the brand does not count) on X and commented on the Instagram post too.
    assert v["@Ana"] == ("", 1 + 1 + 2) and v["ana"][0] == eligibility.DUPLICATE
    assert v["@luis"] == ("", 1) and v["marca"][0] == eligibility.BRAND_ACCOUNT
    assert sorted(services.frozen_rows(contest)) == [["x", "@Ana", "x1", 4], ["x", "@luis", "x2", 1]]
    # Two different people called "ana": counting the duplicate anyway makes it its own person.
    services.do_override(ctx, contest.entries.get(handle="ana"), "include", "Otra persona, otra cuenta")
    assert sorted(services.frozen_rows(contest)) == [["instagram", "ana", "ig1", 1], ["x", "@Ana", "x1", 2],
                                                    ["x", "@luis", "x2", 1]]
    Contest.objects.filter(pk=contest.pk).update(mode="one")
    contest.refresh_from_db()
    services.judge(contest)
    assert {r[3] for r in services.frozen_rows(contest)} == {1}


def test_hostile_entry_text_is_kept_as_data_and_exports_are_safe(owner, accounts):
    ctx, brand = owner
    x, _ig = accounts
    now = timezone.now()
    hostile = '<script>alert("x")</script> =HYPERLINK("http://evil") ' + "ñ" * 60000
    comment(x, "h1", "=cmd|' /C calc'!A0", hostile + " @amigo", now - timedelta(minutes=5))
    comment(x, "h2", "@a\u202eb", "@x" * 3000, now - timedelta(minutes=4))
    contest = contest_on(ctx, brand, [(x, "post-1")], min_tags=1)
    services.collect(contest)
    first = contest.entries.get(external_id="h1")
    assert first.text.startswith("<script>") and first.rejection == "" and first.tags == 1
    assert contest.entries.get(external_id="h2").tags == 1  # "@x" repeated is one friend
    rows = list(csv.reader(io.StringIO(services.entries_csv(contest))))
    assert rows[1][2].startswith("'=cmd") and rows[2][2] == "'@a\u202eb"
    contest = close_and_draw(ctx, contest)
    proof = json.loads(services.proof_json(contest))
    assert draw.verify(proof).ok and {r[1] for r in proof["entries"]} == {"=cmd|' /C calc'!A0", "@a\u202eb"}
    rows = list(csv.reader(io.StringIO(services.entries_csv(contest))))
    assert all(not cell.startswith(("=", "@", "+", "-")) for row in rows[1:] for cell in row[:3])


@pytest.mark.parametrize("fields, message", [
    ({"title": ""}, "title"),
    ({"title": "x" * 201}, "too long"),
    ({"title": "a\x00b"}, "Null"),
    ({"ends_at": "mañana"}, "time zone"),
    ({"winners": 0}, "from 1 to 100"),
    ({"winners": True}, "from 1 to 100"),
    ({"max_weight": 1000}, "from 1 to 100"),
    ({"required_terms": ["<script>"]}, "not a hashtag"),
    ({"required_terms": [f"t{n}" for n in range(21)]}, "At most 20"),
    ({"excluded_handles": "ana, <b>"}, "not an account handle"),
    ({"mode": "lottery"}, "Unknown way"),
    ({"colour": "red"}, "Unknown fields"),
])
def test_bad_contest_input_is_refused_with_the_reason(owner, accounts, fields, message):
    ctx, brand = owner
    x, _ig = accounts
    now = timezone.now()
    base = {"title": "Sorteo", "starts_at": now, "ends_at": now + timedelta(days=1)}
    with pytest.raises(ValidationError, match=message):
        services.do_create_contest(ctx, brand, posts=[(x, "post-1")], **{**base, **fields})
    assert not Contest.objects.exists()


def test_posts_windows_and_commitment_rules(owner, accounts, brand_b):
    ctx, brand = owner
    x, _ig = accounts
    other_brand, other_people = brand_b
    from tertulia.core.services import Ctx

    theirs = do_add_account(Ctx(other_people["owner"], via="test"), other_brand, network="x", handle="@otra",
                            access_token="t")
    now = timezone.now()
    window = {"title": "S", "starts_at": now - timedelta(hours=1), "ends_at": now + timedelta(hours=1)}
    for posts, message in (([], "at least one post"), ([(theirs, "1")], "not one of this brand"),
                           ([(x, "id with spaces")], "not a post id"), ([(x, str(n)) for n in range(21)], "At most 20")):
        with pytest.raises(ValidationError, match=message):
            services.do_create_contest(ctx, brand, posts=posts, **window)
    with pytest.raises(ValidationError, match="close after they open"):
        services.do_create_contest(ctx, brand, posts=[(x, "1")], **{**window, "ends_at": window["starts_at"]})
    contest = services.do_create_contest(ctx, brand, posts=[(x, "1")], **window)
    assert services.public_contest(contest.public_id) is None  # not public before the commitment
    services.do_publish_commitment(ctx, contest)
    assert services.public_contest(contest.public_id) == contest
    assert "seed" not in services.proof(contest) and "entries" not in services.proof(contest)
    with pytest.raises(ValidationError, match="stays on record"):
        services.do_delete_contest(ctx, contest)
    late = services.do_create_contest(ctx, brand, posts=[(x, "1")], **window)
    Contest.objects.filter(pk=late.pk).update(ends_at=now - timedelta(minutes=1))
    late.refresh_from_db()
    with pytest.raises(ValidationError, match="would prove nothing"):
        services.do_publish_commitment(ctx, late)
    with pytest.raises(ValidationError, match="Publish the commitment"):
        services.do_draw(ctx, late)
    services.do_delete_contest(ctx, late)
    assert not Contest.objects.filter(pk=late.pk).exists()
    assert Entry.objects.count() == 0


def test_the_announcement_fits_each_network(owner, accounts):
    from tertulia.content import text_rules

    ctx, brand = owner
    x, ig = accounts
    now = timezone.now()
    for n in range(12):
        comment(x if n % 2 else ig, f"a{n}", f"@participante_numero_{n:02d}", "¡Me apunto!", now - timedelta(minutes=30 - n))
    contest = contest_on(ctx, brand, [(x, "post-1"), (ig, "post-1")], winners=6, substitutes=4)
    contest = close_and_draw(ctx, contest)
    url = f"https://tertulia.example/g/{contest.public_id}/"
    texts = services.announcements(contest, url)
    assert set(texts) == {"x", "instagram"}
    assert text_rules.validate("x", texts["x"]).remaining >= 0 and url in texts["x"]
    assert texts["instagram"] == services.announcement(contest, url)  # room for everyone, substitutes too
    assert all(r[1] in texts["instagram"] for r in contest.result["winners"] + contest.result["substitutes"])
    post = services.do_create_announcement(ctx, contest, url)
    assert {v.network: v.text for v in post.variants.all()}.get("x") == texts["x"]


def test_winner_messages_in_the_brand_language(owner, accounts):
    ctx, brand = owner  # a Spanish brand
    x, _ig = accounts
    comment(x, "w1", "@ana", "¡Yo!", timezone.now() - timedelta(minutes=5))
    comment(x, "w2", "bea", "¡Yo!", timezone.now() - timedelta(minutes=4))
    contest = close_and_draw(ctx, contest_on(ctx, brand, [(x, "post-1")], winners=1, substitutes=1))
    winner, substitute = contest.result["winners"][0], contest.result["substitutes"][0]
    assert services.winner_message(contest, winner).startswith("¡Hola, @")
    assert "Has ganado «Sorteo de primavera»" in services.winner_message(contest, winner)
    assert "suplente número 1" in services.winner_message(contest, substitute, substitute=1)
    assert "You won" in services.winner_message(contest, winner, "en")


def test_after_the_commitment_the_rules_stand_and_late_edits_do_not_count(owner, accounts):
    ctx, brand = owner
    x, _ig = accounts
    now = timezone.now()
    contest = contest_on(ctx, brand, [(x, "post-1")], required_terms=["#sorteo"], min_tags=1)
    contest = services.do_update_contest(ctx, contest, min_tags=2, title="Antes del compromiso")  # still free
    services.do_publish_commitment(ctx, contest)
    for change in ({"min_tags": 1}, {"required_terms": ["#otro"]}, {"excluded_handles": ["@ana"]},
                   {"starts_at": now - timedelta(hours=5)}, {"winners": 3}):
        with pytest.raises(ValidationError, match="commitment is public"):
            services.do_update_contest(ctx, contest, **change)
    with pytest.raises(ValidationError, match="commitment is public"):
        services.do_update_contest(ctx, contest, posts=[(x, "post-2")])
    with pytest.raises(ValidationError, match="only close later"):
        services.do_update_contest(ctx, contest, ends_at=now + timedelta(minutes=30))
    contest = services.do_update_contest(ctx, contest, title="Sorteo de otoño", ends_at=now + timedelta(hours=3))
    assert contest.min_tags == 2 and services.proof(contest)["rules"]["min_tags"] == 2
    with pytest.raises(ValidationError, match="between the years 2000 and 2100"):
        services.do_update_contest(ctx, contest, ends_at=datetime(2101, 1, 1, tzinfo=UTC))

    # A reply starting with the brand's own mention (Mastodon writes @marca without the domain) tags nobody.
    comment(x, "m1", "@ana@social.example", "@marca #sorteo @ana @luis@otro.example", now - timedelta(minutes=20))
    comment(x, "m2", "@bea", "@marca #sorteo @carla @dani", now - timedelta(minutes=10))
    services.collect(contest)
    assert {e.handle: (e.tags, e.rejection) for e in contest.entries.all()} == {
        "@ana@social.example": (1, eligibility.TOO_FEW_TAGS), "@bea": (2, "")}
    # Ana edits her comment after the close to tag one more friend: the late text does not count.
    services.do_close_entries(ctx, contest)
    late = timezone.now() + timedelta(seconds=1)
    inbox.ingest_interactions(x, [inbox.IncomingInteraction(
        external_id="m1", kind="comment", author=inbox.IncomingAuthor(external_id="id-@ana@social.example",
                                                                      handle="@ana@social.example"),
        text="@marca #sorteo @ana @luis@otro.example @eva", created_at=now - timedelta(minutes=20),
        root_external_id="post-1", edited_at=late)])
    services.collect(contest)
    ana = contest.entries.get(external_id="m1")
    assert ana.rejection == eligibility.EDITED_LATE and "@eva" in ana.text
    assert eligibility.explain(ana.rejection, ana.detail) == "The comment was edited after entries closed"
    contest = services.do_draw(ctx, contest)
    assert [r[1] for r in contest.result["winners"]] == ["@bea"]
    # Collecting after the draw changes nothing, even with a stale object.
    stale = Contest.objects.get(pk=contest.pk)
    Contest.objects.filter(pk=contest.pk).update(drawn_at=contest.drawn_at)
    stale.drawn_at = None
    comment(x, "m3", "@zoe", "#sorteo @a @b", now - timedelta(minutes=5))
    assert services.collect(stale)["new"] == 0 and contest.entries.count() == 2
