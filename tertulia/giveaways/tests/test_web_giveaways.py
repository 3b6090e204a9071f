"""The giveaway pages: the CM's list, form and contest page, the POST actions, the exports, and
the public results and verification pages. Entries come in as the inbox ingests comments."""

from __future__ import annotations

import csv
import io
import json
from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from django.utils.html import escape

from tertulia.core.services import Ctx
from tertulia.core.tests.web_helpers import XSS, assert_escaped, html, messages_of
from tertulia.giveaways import services
from tertulia.giveaways.models import Contest, DrawRun, Entry
from tertulia.inbox import services as inbox
from tertulia.networks import services as account_services
from tests.fakes.pytest_plugin import fake_mastodon  # noqa: F401

pytestmark = pytest.mark.django_db


def _account(brand, people, handle="@brandquokka"):
    return account_services.do_add_account(Ctx(people["owner"], via="test"), brand, network="mastodon",
                                           handle=handle, base_url="https://mastodon.example", access_token="t")


def _contest(brand, people, account, **kw):
    now = timezone.now()
    data = {"title": "Sorteo de primavera", "prize": "Una cesta", "starts_at": now - timedelta(hours=3),
            "ends_at": now + timedelta(days=1), "posts": [(account, "post-1")], **kw}
    return services.do_create_contest(Ctx(people["owner"], via="test"), brand, **data)


def _comment(account, n, handle, text, minutes_ago=60, post="post-1"):
    author = inbox.IncomingAuthor(external_id=f"fan-{n}", handle=handle, display_name=f"Fan {n}")
    inbox.ingest_interactions(account, [inbox.IncomingInteraction(
        external_id=f"comment-{n}", kind="comment", author=author, text=text,
        created_at=timezone.now() - timedelta(minutes=minutes_ago), root_external_id=post)])


def _url(name, brand, *args):
    return reverse(name, args=[brand.pk, *args])


def _form(account_pk="", external_id="", **kw):
    data = {"title": "Sorteo", "prize": "Un libro", "starts_at": "2030-03-01T10:00", "ends_at": "2030-03-20T20:00",
            "required_terms": "#sorteo", "min_tags": "1", "mode": "one", "bonus_per_tag": "0", "bonus_per_post": "0",
            "max_weight": "10", "excluded_handles": "@staff1\n@staff2", "min_account_age_days": "30",
            "winners": "2", "substitutes": "1", "other_account_0": str(account_pk), "other_id_0": external_id}
    data.update(kw)
    return data


# --- The form -------------------------------------------------------------------------------

def test_create_and_edit_with_valid_and_hostile_input(client, brand_a, brand_b):
    brand, people = brand_a
    account = _account(brand, people)
    b_account = _account(*brand_b, handle="@betaquokka")
    client.force_login(people["community_manager"])

    page = html(client.get(_url("giveaway_new", brand)))
    assert "Europe/Madrid" in page and 'type="datetime-local"' in page

    def refused(data, needle):
        before = Contest.objects.count()
        response = client.post(_url("giveaway_new", brand), data)
        assert response.status_code == 200
        assert needle in html(response), needle
        assert Contest.objects.count() == before
        return html(response)

    refused(_form(account.pk, "post-9", title="x" * 201), "at most 200 characters")
    # 02:30 on the spring-forward night does not exist in Madrid.
    refused(_form(account.pk, "post-9", starts_at="2030-03-31T02:30", ends_at="2030-04-05T10:00"),
            "does not exist on 2030-03-31 in Europe/Madrid")
    refused(_form(account.pk, "post-9", starts_at="2030-03-20T10:00", ends_at="2030-03-10T10:00"),
            "Entries must close after they open.")
    refused(_form(b_account.pk, "post-9"), "Select a valid choice")  # another brand's account
    refused(_form(account.pk, "post 9 <b>"), "is not a post id")  # the service's error, on the form
    refused(_form(account.pk, "post-9", required_terms="<script>"), "is not a hashtag or keyword")
    refused(_form(), "Choose at least one post")

    response = client.post(_url("giveaway_new", brand), _form(account.pk, "post-9", title=f"Sorteo\u200b\u202e {XSS}",
                                                               prize=f"Premio {XSS}"))
    contest = Contest.objects.get(brand=brand)
    assert response.status_code == 302 and response["Location"] == _url("giveaway_detail", brand, contest.pk)
    # Wall times in Madrid (CET in March): 10:00 there is 09:00 UTC.
    assert contest.starts_at.isoformat() == "2030-03-01T09:00:00+00:00"
    assert (contest.required_terms, contest.excluded_handles, contest.winners) == (
        ["#sorteo"], ["@staff1", "@staff2"], 2)
    assert list(contest.posts.values_list("account_id", "external_id")) == [(account.pk, "post-9")]
    page = html(client.get(_url("giveaway_detail", brand, contest.pk)))
    assert_escaped(page)
    assert "\u200b" in contest.title and "\u200b" not in page and "\u202e" not in page  # invisible characters
    assert "Publish commitment" in page and "Tag at least 1 friends" in page

    # Editing shows the saved values back (in the brand's zone) and saves changes.
    page = html(client.get(_url("giveaway_edit", brand, contest.pk)))
    assert 'value="2030-03-01T10:00"' in page and 'value="post-9"' in page
    response = client.post(_url("giveaway_edit", brand, contest.pk),
                           _form(account.pk, "post-10", title="Sorteo renombrado", mode="weighted",
                                 bonus_per_tag="2"))
    assert response.status_code == 302
    contest.refresh_from_db()
    assert (contest.title, contest.mode, contest.bonus_per_tag) == ("Sorteo renombrado", "weighted", 2)
    assert list(contest.posts.values_list("external_id", flat=True)) == ["post-10"]
    listing = html(client.get(_url("giveaways", brand)))
    assert "Sorteo renombrado" in listing and "New giveaway" in listing
    # A post published through Tertulia is a checkbox; choosing it links the contest post to it.
    from tertulia.content.services import do_create_post
    from tertulia.publishing.models import PostTarget

    post = do_create_post(Ctx(people["owner"], via="test"), brand, text="Nuestro sorteo de café", accounts=[account])
    target = post.targets.get()
    PostTarget.objects.filter(pk=target.pk).update(state=PostTarget.State.PUBLISHED, external_id="109999",
                                                   published_at=timezone.now() - timedelta(hours=1))
    assert "Nuestro sorteo de café" in html(client.get(_url("giveaway_edit", brand, contest.pk)))
    response = client.post(_url("giveaway_edit", brand, contest.pk), _form(targets=[str(target.pk)]))
    assert response.status_code == 302
    assert list(contest.posts.values_list("external_id", "target_id")) == [("109999", target.pk)]
    page = html(client.get(_url("giveaway_edit", brand, contest.pk)))
    assert f'value="{target.pk}" checked' in page
    # The app shell's section link leads here.
    assert _url("giveaways", brand) == reverse("section_giveaways", args=[brand.pk])


def test_readers_cannot_write_and_other_brands_are_404(client, brand_a, brand_b):
    brand, people = brand_a
    account = _account(brand, people)
    contest = _contest(brand, people, account)
    _comment(account, 1, "@ana", "me apunto")
    services.collect(contest)
    entry = contest.entries.get()
    b_brand, b_people = brand_b
    b_contest = _contest(b_brand, b_people, _account(b_brand, b_people, handle="@betaquokka"))

    for role in ("analyst", "client_reviewer"):
        client.force_login(people[role])
        listing = html(client.get(_url("giveaways", brand)))
        assert contest.title in listing and "New giveaway" not in listing
        page = html(client.get(_url("giveaway_detail", brand, contest.pk)))
        assert "ana" in page and "Publish commitment" not in page and "Count anyway" not in page
        assert client.get(_url("giveaway_new", brand)).status_code == 403
        assert client.get(_url("giveaway_edit", brand, contest.pk)).status_code == 403
        for name in ("giveaway_commit", "giveaway_close", "giveaway_draw", "giveaway_delete", "giveaway_fetch",
                     "giveaway_announce"):
            assert client.post(_url(name, brand, contest.pk), {"confirm": "yes"}).status_code == 403
        assert client.post(_url("giveaway_entry_override", brand, contest.pk, entry.pk),
                           {"decision": "exclude", "reason": "x"}).status_code == 403
    contest.refresh_from_db()
    assert contest.committed_at is None and Entry.objects.get(pk=entry.pk).override == ""

    client.force_login(people["owner"])
    assert client.get(_url("giveaway_detail", brand, b_contest.pk)).status_code == 404
    assert client.get(_url("giveaway_export_json", brand, b_contest.pk)).status_code == 404
    assert client.post(_url("giveaway_commit", brand, b_contest.pk)).status_code == 404
    b_contest.refresh_from_db()
    assert b_contest.committed_at is None
    # My giveaway, another giveaway's entry.
    _comment(b_contest.posts.get().account, 2, "@beto", "hola", post="post-1")
    services.collect(b_contest)
    b_entry = b_contest.entries.get()
    assert client.post(_url("giveaway_entry_override", brand, contest.pk, b_entry.pk),
                       {"decision": "exclude", "reason": "x"}).status_code == 404
    assert Entry.objects.get(pk=b_entry.pk).override == ""


def test_override_needs_a_reason_and_shows_who_and_why(client, brand_a):
    brand, people = brand_a
    account = _account(brand, people)
    contest = _contest(brand, people, account, required_terms=["#sorteo"])
    _comment(account, 1, "@ana", "me apunto sin hashtag")
    services.collect(contest)
    entry = contest.entries.get()
    assert entry.rejection == "missing_terms" and not entry.counts
    client.force_login(people["community_manager"])
    url = _url("giveaway_entry_override", brand, contest.pk, entry.pk)

    response = client.post(url, {"decision": "include", "reason": "  "}, follow=True)
    assert any("Say why" in m for m in messages_of(response))
    assert Entry.objects.get(pk=entry.pk).override == ""

    response = client.post(url, {"decision": "include", "reason": f"Lo escribió en la foto {XSS}", "show": "out",
                                 "page": "1"})
    assert response.status_code == 302 and "show=out" in response["Location"]
    entry.refresh_from_db()
    assert entry.counts and entry.override_by == people["community_manager"]
    page = html(client.get(_url("giveaway_detail", brand, contest.pk) + "?show=in"))
    assert "Missing: #sorteo" in page and "Override: Counted anyway, by" in page and "alpha_cm" in page
    assert_escaped(page)
    assert "@ana" in page
    assert "@ana" not in html(client.get(_url("giveaway_detail", brand, contest.pk) + "?show=out"))

    _comment(account, 2, "@beto", "me apunto #sorteo")
    services.collect(contest)
    beto = contest.entries.get(handle="@beto")
    client.post(_url("giveaway_entry_override", brand, contest.pk, beto.pk), {"decision": "exclude", "reason": "Staff"})
    page = html(client.get(_url("giveaway_detail", brand, contest.pk)))
    assert "Left out by a team member" in page and "Override: Left out, by" in page

    response = client.post(url, {"decision": "", "reason": ""})  # back to the rules needs no reason
    entry.refresh_from_db()
    assert entry.override == "" and not entry.counts


# --- The whole flow ---------------------------------------------------------------------------

def test_commit_close_draw_once_public_page_and_verification(client, brand_a):
    brand, people = brand_a
    account = _account(brand, people)
    contest = _contest(brand, people, account, winners=2, substitutes=1)
    _comment(account, 1, "@ana", f"Quiero ganar {XSS}")
    _comment(account, 2, "@beto", "me apunto")
    _comment(account, 3, XSS, "yo también")  # a hostile handle: every row is on the public page
    services.collect(contest)
    client.force_login(people["community_manager"])
    detail = _url("giveaway_detail", brand, contest.pk)

    # No public page before the commitment.
    anonymous = Client(HTTP_ACCEPT_LANGUAGE="en")
    assert anonymous.get(reverse("giveaway_public", args=[contest.public_id])).status_code == 404

    assert client.post(_url("giveaway_commit", brand, contest.pk)).status_code == 302
    contest.refresh_from_db()
    assert contest.committed_at is not None
    page = html(client.get(detail))
    public_url = reverse("giveaway_public", args=[contest.public_id])
    assert f"Draw verifiable: commitment {contest.commitment}, check at" in page and public_url in page
    assert_escaped(page)

    # The public page before the draw: the commitment, never the seed or the entries.
    public = anonymous.get(public_url)
    assert public.status_code == 200
    body = html(public)
    assert contest.commitment in body and contest.seed not in body and "beto" not in body
    assert anonymous.get(reverse("giveaway_public_proof", args=[contest.public_id])).status_code == 404
    assert anonymous.get(reverse("giveaway_public_entries", args=[contest.public_id])).status_code == 404
    assert contest.seed not in html(anonymous.get(reverse("giveaway_verify", args=[contest.public_id])))
    assert contest.seed not in client.get(_url("giveaway_export_json", brand, contest.pk)).content.decode()

    # Drawing while entries are open is refused (and logged); closing, then a confirmed draw.
    response = client.post(_url("giveaway_draw", brand, contest.pk), {"confirm": "yes"}, follow=True)
    assert any("still open" in m for m in messages_of(response))
    client.post(_url("giveaway_close", brand, contest.pk))
    contest.refresh_from_db()
    assert contest.status() == "closed"
    response = client.post(_url("giveaway_draw", brand, contest.pk))  # no confirmation: asked for it
    assert response.status_code == 302 and "confirm=draw" in response["Location"]
    assert "it happens once" in html(client.get(response["Location"]))
    contest.refresh_from_db()
    assert contest.drawn_at is None
    response = client.post(_url("giveaway_draw", brand, contest.pk), {"confirm": "yes"}, follow=True)
    contest.refresh_from_db()
    assert contest.drawn_at is not None
    first = contest.result
    page = html(response)
    winner = first["winners"][0][1]
    # The message for the winner, ready to copy, in the brand's language.
    assert escape(services.winner_message(contest, first["winners"][0])) in page and escape(winner) in page
    conversation = contest.entries.get(external_id=first["winners"][0][2]).interaction.conversation_id
    assert reverse("inbox_conversation", args=[brand.pk, conversation]) in page
    assert_escaped(page)

    # A second draw is refused with the reason, logged, and the result stands.
    response = client.post(_url("giveaway_draw", brand, contest.pk), {"confirm": "yes"}, follow=True)
    assert any("cannot be drawn again" in m for m in messages_of(response))
    contest.refresh_from_db()
    assert contest.result == first
    assert DrawRun.objects.filter(contest=contest, accepted=True).count() == 1
    assert DrawRun.objects.filter(contest=contest, accepted=False).count() == 2  # "still open", then this
    assert "cannot be drawn again" in html(client.get(detail))  # the draw log

    # The public page after the draw: seed, hash, winners, the entry count; comments never.
    body = html(anonymous.get(public_url))
    assert contest.seed in body and contest.entries_hash in body and escape(winner) in body
    assert "tertulia verify-draw proof.json" in body and "Quiero ganar" not in body
    assert_escaped(body)
    proof = anonymous.get(reverse("giveaway_public_proof", args=[contest.public_id]))
    assert proof["Content-Type"].startswith("application/json") and "attachment" in proof["Content-Disposition"]
    data = json.loads(proof.content)
    assert data["seed"] == contest.seed and len(data["entries"]) == 3

    # The verification page recomputes the published proof: every check passes.
    verify_url = reverse("giveaway_verify", args=[contest.public_id])
    body = html(anonymous.get(verify_url))
    assert body.count('class="passed"') == 5 and 'class="failed"' not in body
    assert 'class="passed" data-check="published"' in body

    # A forged proof, consistent in itself (its own seed, commitment and picks), is not this
    # giveaway's: it fails the check against what was published here.
    from tertulia.giveaways import draw

    forged_seed = "ab" * 32
    forged_result = draw.run(forged_seed, data["entries"], data["winner_count"], data["substitute_count"])
    forged = dict(data, seed=forged_seed, commitment=draw.commitment(forged_seed), winners=forged_result.winners,
                  substitutes=forged_result.substitutes)
    assert draw.verify(forged).ok
    body = html(anonymous.post(verify_url, {"proof": json.dumps(forged)}))
    assert 'class="failed" data-check="published"' in body and 'class="passed" data-check="commitment"' in body

    # A tampered proof (another weight in the entry list) fails the right checks.
    csrf = Client(enforce_csrf_checks=True, HTTP_ACCEPT_LANGUAGE="en")
    assert csrf.post(verify_url, {"proof": json.dumps(data)}).status_code == 403  # CSRF stays on
    tampered = dict(data, entries=[[*r[:3], 50] if i == 0 else r for i, r in enumerate(data["entries"])])
    body = html(anonymous.post(verify_url, {"proof": json.dumps(tampered)}))
    assert 'data-check="entries_hash"' in body and 'class="failed" data-check="entries_hash"' in body
    assert 'class="passed" data-check="commitment"' in body
    swapped = dict(data, seed="0" * 64)
    upload = SimpleUploadedFile("proof.json", json.dumps(swapped).encode())
    body = html(anonymous.post(verify_url, {"proof_file": upload}))
    assert 'class="failed" data-check="commitment"' in body
    # The genuine proof, uploaded, passes; malformed ones get a clear error, never a 500.
    body = html(anonymous.post(verify_url, {"proof_file": SimpleUploadedFile("proof.json", proof.content)}))
    assert body.count('class="passed"') == 10
    response = anonymous.post(verify_url, {"proof": "{not json"})
    assert response.status_code == 200 and "not valid JSON" in html(response)
    response = anonymous.post(verify_url, {"proof": json.dumps({"algorithm": "tertulia-draw-v1"})})
    assert response.status_code == 200 and "cannot be checked" in html(response)
    response = anonymous.post(verify_url, {"proof": json.dumps(dict(data, commitment="é" * 64))})
    assert response.status_code == 200 and "wrong kind" in html(response)
    response = anonymous.post(verify_url, {"proof": json.dumps(dict(data, winner_count=5000))})
    assert response.status_code == 200 and "verify-draw command" in html(response)
    big = SimpleUploadedFile("proof.json", b" " * (5 * 1024 * 1024 + 1))
    response = anonymous.post(verify_url, {"proof_file": big})
    assert response.status_code == 200 and "too large" in html(response)
    # Past the request limit the body is not even read (nor spooled to disk): refused from its size.
    huge = SimpleUploadedFile("proof.json", b" " * (7 * 1024 * 1024))
    response = anonymous.post(verify_url, {"proof_file": huge})
    assert response.status_code == 413 and "too large" in html(response)

    # Exports: the CSV neutralises cells a spreadsheet would run; the JSON is the proof.
    response = client.get(_url("giveaway_export_csv", brand, contest.pk))
    assert response["Content-Type"].startswith("text/csv") and "attachment" in response["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(response.content.decode())))
    assert rows[0][:4] == ["network", "handle", "comment_id", "weight"]
    assert sorted(r[1] for r in rows[1:]) == ["'@ana", "'@beto", XSS]
    assert sorted(r[4] for r in rows[1:]) == ["substitute", "winner", "winner"]
    response = client.get(_url("giveaway_export_json", brand, contest.pk))
    assert response["Content-Type"].startswith("application/json")
    assert json.loads(response.content)["entries_hash"] == contest.entries_hash

    # The announcement draft opens in the composer.
    response = client.post(_url("giveaway_announce", brand, contest.pk))
    assert response.status_code == 302 and response["Location"].startswith(f"/brands/{brand.pk}/posts/")
    assert contest.public_id in client.get(response["Location"]).content.decode()


def test_csv_before_the_draw_neutralises_formulas_and_public_page_speaks_the_visitors_language(client, brand_a):
    brand, people = brand_a
    account = _account(brand, people)
    contest = _contest(brand, people, account)
    _comment(account, 1, "=HYPERLINK(evil)", "hola")
    services.collect(contest)
    client.force_login(people["owner"])
    rows = list(csv.reader(io.StringIO(client.get(_url("giveaway_export_csv", brand, contest.pk)).content.decode())))
    assert rows[1][2].startswith("'=")
    services.do_publish_commitment(Ctx(people["owner"], via="test"), contest)
    url = reverse("giveaway_public", args=[contest.public_id])
    assert "Not drawn yet" in html(Client(HTTP_ACCEPT_LANGUAGE="en").get(url))
    assert "Not drawn yet" not in html(Client().get(url))  # no preference: the brand's Spanish
    assert Client().get(reverse("giveaway_public", args=["short"])).status_code == 404


def test_fetch_now_reads_the_comments_of_a_post_published_elsewhere(client, brand_a, fake_mastodon, settings):
    """Through the inbox's polling, against the loopback fake Mastodon: a post not published
    through Tertulia, named by its id on the network, and a comment under it becomes an entry."""
    settings.PUBLISHING = {**settings.PUBLISHING, "HTTP": {
        "connect_timeout": 2.0, "read_timeout": 3.0, "write_timeout": 2.0, "allow_private_networks": True}}
    settings.INBOX_POLLING = {"JITTER": 0.0}
    brand, people = brand_a
    account = account_services.do_add_account(
        Ctx(people["owner"], via="test"), brand, network="mastodon",
        handle=f"{fake_mastodon.own['username']}@fake.example", access_token=fake_mastodon.token,
        base_url=fake_mastodon.base_url, external_id=fake_mastodon.own["id"])
    root = fake_mastodon.post_as(fake_mastodon.own["username"], "¡Sorteo! Comenta con #sorteo")["id"]
    fake_mastodon.post_as("admin", "Me apunto #sorteo <b>yo</b>", in_reply_to=root)
    client.force_login(people["community_manager"])
    response = client.post(_url("giveaway_new", brand), _form(account.pk, root, starts_at=(
        timezone.localtime(timezone.now() - timedelta(days=1), brand.tzinfo).strftime("%Y-%m-%dT%H:%M")),
        ends_at=timezone.localtime(timezone.now() + timedelta(days=1), brand.tzinfo).strftime("%Y-%m-%dT%H:%M"),
        min_tags="0", min_account_age_days="0"))
    contest = Contest.objects.get(brand=brand)
    assert response.status_code == 302 and contest.entries.count() == 0
    response = client.post(_url("giveaway_fetch", brand, contest.pk), follow=True)
    assert contest.entries.count() == 1
    entry = contest.entries.get()
    assert entry.counts and "admin" in entry.handle
    page = html(response)
    assert "Fetched: 1 new entries, 1 in all; accounts read now: 1" in page
    assert "Me apunto #sorteo" in entry.text and escape(entry.text) in page and "<b>yo</b>" not in page
