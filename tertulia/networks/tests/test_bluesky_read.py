"""Reading from Bluesky against the fake PDS: profile, post metrics, the inbox (replies,
mentions, quotes), search, and hostile content kept as plain data. Also checks the fake's
syntax rules and the marker TIDs against atproto-interop-tests."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from tertulia.networks.base import InteractionKind, PostPayload
from tertulia.networks.bluesky import parse_at_uri, tid_for_marker
from tertulia.networks.errors import Permanent
from tests.fakes.bluesky import DATETIME, DID, HANDLE, LANGUAGE, RKEY, TID, interop_dir


def _now():
    return datetime.now(timezone.utc)


def test_fetch_profile(bluesky, fake_bluesky):
    bluesky.publish(PostPayload(text="uno"))
    profile = bluesky.fetch_profile()
    assert profile.external_id == "did:plc:kvwvcn5iqfooopmyzvb4qzba"  # did_doc.json
    assert profile.handle == "@test.marshal.dev" and profile.display_name == "Python SDK"  # get_follows.json
    assert (profile.followers, profile.following, profile.posts) == (1234, 56, 1)
    assert profile.bio.startswith("account for tests\n\nAuthor: @marshal.dev")
    assert profile.url == "https://bsky.app/profile/test.marshal.dev"
    assert profile.avatar_url.startswith("https://cdn.bsky.app/img/avatar/plain/did:plc:kvwvcn5iqfooopmyzvb4qzba/")
    (request,) = fake_bluesky.requests_to("app.bsky.actor.getProfile")
    assert request.q("actor") == fake_bluesky.own_did


def test_post_metrics(bluesky, fake_bluesky):
    first = bluesky.publish(PostPayload(text="uno"))
    second = bluesky.publish(PostPayload(text="dos"))
    gone = bluesky.publish(PostPayload(text="tres"))
    bluesky.delete(gone.external_id)
    fake_bluesky.set_counts(first.external_id, likes=7, reposts=2, quotes=1)
    fake_bluesky.post_as("why.bsky.team", "¡bien!", reply_to=first.external_id)
    metrics = bluesky.fetch_post_metrics([first.external_id, second.external_id, gone.external_id])
    one = metrics[first.external_id]
    assert (one.likes, one.comments, one.shares) == (7, 1, 3)  # shares = reposts + quotes
    assert one.impressions is None and one.reach is None and one.exists
    assert (metrics[second.external_id].likes, metrics[second.external_id].shares) == (0, 0)
    assert metrics[gone.external_id].exists is False
    (request,) = fake_bluesky.requests_to("app.bsky.feed.getPosts")
    assert request.q_all("uris") == [first.external_id, second.external_id, gone.external_id]


def test_post_metrics_in_batches_of_25(bluesky, fake_bluesky):
    refs = [bluesky.publish(PostPayload(text=f"post {i}")).external_id for i in range(30)]
    metrics = bluesky.fetch_post_metrics(refs)
    assert len(metrics) == 30 and all(m.exists for m in metrics.values())
    assert [len(r.q_all("uris")) for r in fake_bluesky.requests_to("app.bsky.feed.getPosts")] == [25, 5]


def test_post_metrics_refuse_ids_that_are_not_at_uris(bluesky):
    with pytest.raises(Permanent):
        bluesky.fetch_post_metrics(["12345"])


def test_interactions_replies_mentions_and_quotes(bluesky, fake_bluesky):
    ours = bluesky.publish(PostPayload(text="Abrimos el sábado"))
    reply = fake_bluesky.post_as("why.bsky.team", "¿A qué hora?", reply_to=ours.external_id)
    mention = fake_bluesky.post_as("divy.zone", "Id con @test.marshal.dev", mention="test.marshal.dev")
    quote = fake_bluesky.post_as("why.bsky.team", "Esto 👇", quote=ours.external_id)
    bluesky.reply(reply["uri"], "A las 9")  # our own reply is not an interaction
    batch = bluesky.fetch_interactions()
    by_id = {i.post.external_id: i for i in batch.items}
    assert set(by_id) == {reply["uri"], mention["uri"], quote["uri"]}
    assert by_id[reply["uri"]].kind == InteractionKind.COMMENT
    assert by_id[reply["uri"]].on_post == ours.external_id
    assert by_id[reply["uri"]].post.in_reply_to_author == fake_bluesky.own_did
    assert by_id[mention["uri"]].kind == InteractionKind.MENTION and by_id[mention["uri"]].on_post == ""
    assert by_id[quote["uri"]].kind == InteractionKind.MENTION and by_id[quote["uri"]].on_post == ours.external_id
    post = by_id[reply["uri"]].post
    assert post.text == "¿A qué hora?" and post.author.handle == "@why.bsky.team"
    assert post.author.display_name == "Why" and post.url.startswith("https://bsky.app/profile/why.bsky.team/post/")
    assert post.language == "es" and post.created_at is not None
    (request,) = fake_bluesky.requests_to("app.bsky.notification.listNotifications")
    assert request.q_all("reasons") == ["reply", "mention", "quote"]


def test_interactions_cursor_resumes(bluesky, fake_bluesky):
    ours = bluesky.publish(PostPayload(text="hola"))
    first = fake_bluesky.post_as("why.bsky.team", "primera", reply_to=ours.external_id)
    batch = bluesky.fetch_interactions()
    assert [i.post.external_id for i in batch.items] == [first["uri"]]
    assert bluesky.fetch_interactions(cursor=batch.cursor).items == []
    second = fake_bluesky.post_as("divy.zone", "segunda", reply_to=ours.external_id)
    again = bluesky.fetch_interactions(cursor=batch.cursor)
    assert [i.post.external_id for i in again.items] == [second["uri"]]
    assert bluesky.fetch_interactions(cursor="not json").items  # a broken cursor starts over


def test_interactions_since_pages_back(bluesky, fake_bluesky):
    ours = bluesky.publish(PostPayload(text="hola"))
    old = _now() - timedelta(days=2)
    fake_bluesky.post_as("why.bsky.team", "vieja", reply_to=ours.external_id, created_at=old)
    for i in range(120):
        fake_bluesky.post_as("divy.zone", f"nueva {i}", reply_to=ours.external_id)
    batch = bluesky.fetch_interactions(since=_now() - timedelta(hours=1))
    assert len(batch.items) == 120 and all(i.post.text.startswith("nueva") for i in batch.items)
    assert batch.items[0].post.created_at <= batch.items[-1].post.created_at  # oldest first
    assert len(fake_bluesky.requests_to("app.bsky.notification.listNotifications")) == 2


def test_search(bluesky, fake_bluesky):
    fake_bluesky.post_as("why.bsky.team", "Me encanta la #fiesta", created_at=_now() - timedelta(days=3))
    recent = fake_bluesky.post_as("divy.zone", "Fiesta mayor esta noche")
    ours = bluesky.publish(PostPayload(text="nada que ver"))
    assert ours.external_id
    everything = bluesky.search("fiesta")
    assert {p.author.handle for p in everything} == {"@why.bsky.team", "@divy.zone"}
    since = bluesky.search("fiesta", since=_now() - timedelta(days=1))
    assert [p.external_id for p in since] == [recent["uri"]]
    request = fake_bluesky.requests_to("app.bsky.feed.searchPosts")[-1]
    assert request.q("q") == "fiesta" and request.q("since").endswith("Z")
    assert bluesky.search("   ") == []


def test_search_pages_with_the_cursor(bluesky, fake_bluesky):
    for i in range(130):
        fake_bluesky.post_as("why.bsky.team", f"concierto {i}")
    results = bluesky.search("concierto", limit=120)
    assert len(results) == 120 and len({p.external_id for p in results}) == 120
    assert len(fake_bluesky.requests_to("app.bsky.feed.searchPosts")) == 2


def test_hostile_content_is_plain_data(bluesky, fake_bluesky):
    ours = bluesky.publish(PostPayload(text="hola"))
    nasty = '<script>alert("x")</script><img src=x onerror=alert(1)> &amp; \u202eevil'
    fake_bluesky.post_as("why.bsky.team", nasty, reply_to=ours.external_id)
    fake_bluesky.accounts[fake_bluesky.did_for("why.bsky.team")]["displayName"] = "<b>Why</b>\x00\x07"
    fake_bluesky.accounts[fake_bluesky.did_for("why.bsky.team")]["avatar"] = "javascript:alert(1)"
    (interaction,) = bluesky.fetch_interactions().items
    post = interaction.post
    assert post.text == nasty  # exactly what was typed: templates escape it, nothing renders it
    assert post.html == ""
    assert post.author.display_name == "<b>Why</b>"  # control characters dropped, markup left as text
    assert post.author.avatar_url == ""  # only http(s) links


def test_broken_records_from_the_network_do_not_break_the_inbox(bluesky, fake_bluesky):
    ours = bluesky.publish(PostPayload(text="hola"))
    reply = fake_bluesky.post_as("why.bsky.team", "ok", reply_to=ours.external_id)
    entry = fake_bluesky._record_at(reply["uri"])
    entry["value"]["text"] = {"not": "a string"}
    entry["value"]["createdAt"] = "yesterday"
    entry["value"]["langs"] = "es"
    (interaction,) = bluesky.fetch_interactions().items
    assert interaction.post.text == "" and interaction.post.language == ""
    assert interaction.post.created_at is not None  # falls back to indexedAt


# -- syntax, checked against the AT Protocol interop tests ------------------------------------


def _lines(name):
    path = interop_dir() / "syntax" / name
    return [line for line in path.read_text(encoding="utf-8").splitlines() if line and not line.startswith("#")]


@pytest.mark.parametrize("name, pattern", [("tid", TID), ("recordkey", RKEY), ("did", DID), ("handle", HANDLE),
                                           ("datetime", DATETIME)])
def test_the_fakes_syntax_rules_match_the_interop_tests(name, pattern):
    valid, invalid = _lines(f"{name}_syntax_valid.txt"), _lines(f"{name}_syntax_invalid.txt")
    assert valid and invalid
    assert [v for v in valid if not pattern.match(v)] == []
    wrongly_accepted = [v for v in invalid if pattern.match(v)]
    if name == "datetime":  # the regex checks syntax only; a few need calendar logic
        assert len(wrongly_accepted) <= 8
    else:
        assert wrongly_accepted == []


def test_the_fakes_language_rule_accepts_the_interop_valid_tags():
    assert [v for v in _lines("language_syntax_valid.txt") if not LANGUAGE.match(v)] == []


@pytest.mark.parametrize("marker", ["target-1", "", "ñ🎉", "x" * 500, "42"])
def test_marker_tids_are_valid_and_stable(marker):
    tid = tid_for_marker(marker)
    assert TID.match(tid) and tid == tid_for_marker(marker)
    assert tid != tid_for_marker(marker + "x")


def test_at_uris_are_parsed_strictly():
    assert parse_at_uri("at://did:plc:abc/app.bsky.feed.post/3jzfcijpj2z2a") == (
        "did:plc:abc", "app.bsky.feed.post", "3jzfcijpj2z2a")
    for bad in ("at://did:plc:abc/app.bsky.feed.post/a/b", "https://bsky.app/x", "at://x/y/z?q=1", "", "at://a/b/c d"):
        with pytest.raises(Permanent):
            parse_at_uri(bad)
