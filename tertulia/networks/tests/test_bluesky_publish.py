"""Publishing to Bluesky against the fake PDS: records with langs and facets (UTF-8 byte
offsets), images with alt text, link cards, replies, delete, and what is refused."""

from __future__ import annotations

import json

import pytest

from tertulia.networks.base import MediaItem, PostPayload, Visibility
from tertulia.networks.bluesky import LinkCard, parse_at_uri, tid_for_marker
from tertulia.networks.errors import Permanent, Retryable

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
JPEG = b"\xff\xd8\xff" + b"\x00" * 32


def _sent_record(fake, index=-1):
    return json.loads(fake.requests_to("com.atproto.repo.createRecord")[index].body)


def _stored(fake, uri):
    return fake._record_at(uri)["value"]


def _facet_texts(text, record):
    data = text.encode("utf-8")
    return [(data[f["index"]["byteStart"]:f["index"]["byteEnd"]].decode("utf-8"), f["features"][0])
            for f in record.get("facets", [])]


def test_publish_text_with_language(bluesky, fake_bluesky):
    ref = bluesky.publish(PostPayload(text="Nuevo horario: abrimos a las 9.", language="es"))
    repo, collection, rkey = parse_at_uri(ref.external_id)
    assert (repo, collection) == (fake_bluesky.own_did, "app.bsky.feed.post")
    record = _stored(fake_bluesky, ref.external_id)
    assert record["text"] == "Nuevo horario: abrimos a las 9." and record["langs"] == ["es"]
    assert record["$type"] == "app.bsky.feed.post" and record["createdAt"].endswith("Z")
    assert "facets" not in record and "embed" not in record
    assert ref.url == f"https://bsky.app/profile/test.marshal.dev/post/{rkey}"
    assert ref.published_at is not None
    request = fake_bluesky.requests_to("com.atproto.repo.createRecord")[0]
    assert request.headers["authorization"] == f"Bearer {fake_bluesky.access_jwt}"
    assert "rkey" not in json.loads(request.body)  # no marker: the server picks the TID


@pytest.mark.parametrize("text, expected", [
    ("Hola @why.bsky.team, mirad https://example.com/fiesta y #Verano",
     [("@why.bsky.team", "mention"), ("https://example.com/fiesta", "link"), ("#Verano", "tag")]),
    ("¡Qué alegría, señora! 🎉👩‍👩‍👧 @divy.zone en bar.com #Año2025 ✨",
     [("@divy.zone", "mention"), ("bar.com", "link"), ("#Año2025", "tag")]),
    ("Ünïcödé → https://例え.jp/パス?q=ñ #日本語 🇪🇸",
     [("https://例え.jp/パス?q=ñ", "link"), ("#日本語", "tag")]),
])
def test_facets_use_utf8_byte_offsets(bluesky, fake_bluesky, text, expected):
    ref = bluesky.publish(PostPayload(text=text))
    record = _stored(fake_bluesky, ref.external_id)
    found = _facet_texts(text, record)
    assert [(span, feature["$type"].rsplit("#", 1)[1]) for span, feature in found] == expected
    for span, feature in found:
        if feature["$type"].endswith("#mention"):
            assert feature["did"] == fake_bluesky.did_for(span[1:])
        elif feature["$type"].endswith("#tag"):
            assert feature["tag"] == span[1:]
    # Byte offsets differ from code-point offsets whenever accents or emoji come first.
    if not text.isascii():
        first = record["facets"][0]["index"]["byteStart"]
        assert first != text.index(found[0][0])


def test_link_facets_get_the_full_uri(bluesky, fake_bluesky):
    text = "Entradas en tertulia.example.com/entradas."
    record = _stored(fake_bluesky, bluesky.publish(PostPayload(text=text)).external_id)
    (facet,) = record["facets"]
    assert facet["features"][0]["uri"] == "https://tertulia.example.com/entradas"


def test_unknown_mentions_stay_plain_text(bluesky, fake_bluesky):
    text = "Gracias @nadie.bsky.social y @why.bsky.team"
    record = _stored(fake_bluesky, bluesky.publish(PostPayload(text=text)).external_id)
    assert [span for span, _f in _facet_texts(text, record)] == ["@why.bsky.team"]
    resolved = [r.q("handle") for r in fake_bluesky.requests_to("com.atproto.identity.resolveHandle")]
    assert resolved == ["nadie.bsky.social", "why.bsky.team"]


def test_the_same_handle_is_resolved_once(bluesky, fake_bluesky):
    bluesky.publish(PostPayload(text="@why.bsky.team y otra vez @why.bsky.team"))
    assert len(fake_bluesky.requests_to("com.atproto.identity.resolveHandle")) == 1
    assert len(_sent_record(fake_bluesky)["record"]["facets"]) == 2


def test_images_are_uploaded_as_blobs_with_alt_text(bluesky, fake_bluesky):
    ref = bluesky.publish(PostPayload(text="Mira", sensitive=True, media=(
        MediaItem("cartel.png", "image/png", content=PNG, alt_text="Cartel del concierto"),
        MediaItem("foto.jpg", "image/jpeg", content=JPEG, alt_text="Foto del público"),
    )))
    uploads = fake_bluesky.requests_to("com.atproto.repo.uploadBlob")
    assert [u.headers["content-type"] for u in uploads] == ["image/png", "image/jpeg"]
    assert [u.body for u in uploads] == [PNG, JPEG]  # the raw bytes, not a form
    embed = _stored(fake_bluesky, ref.external_id)["embed"]
    assert embed["$type"] == "app.bsky.embed.images"
    assert [i["alt"] for i in embed["images"]] == ["Cartel del concierto", "Foto del público"]
    assert [i["image"]["mimeType"] for i in embed["images"]] == ["image/png", "image/jpeg"]
    assert embed["images"][0]["image"]["size"] == len(PNG)
    assert _stored(fake_bluesky, ref.external_id)["labels"]["values"] == [{"val": "graphic-media"}]


def test_images_only_post(bluesky, fake_bluesky):
    ref = bluesky.publish(PostPayload(text="", media=(MediaItem("a.png", "image/png", content=PNG),)))
    record = _stored(fake_bluesky, ref.external_id)
    assert record["text"] == "" and record["embed"]["images"][0]["alt"] == ""


def test_link_card_with_thumbnail(bluesky, fake_bluesky):
    card = LinkCard("https://example.com/fiesta", "La fiesta", "Todo sobre la fiesta <b>mayor</b>",
                    thumb=MediaItem("t.jpg", "image/jpeg", content=JPEG))
    ref = bluesky.publish(PostPayload(text="Leed esto https://example.com/fiesta"), link_card=card)
    external = _stored(fake_bluesky, ref.external_id)["embed"]
    assert external["$type"] == "app.bsky.embed.external"
    assert external["external"]["title"] == "La fiesta"
    assert external["external"]["description"] == "Todo sobre la fiesta <b>mayor</b>"
    assert external["external"]["thumb"]["mimeType"] == "image/jpeg"
    assert len(fake_bluesky.requests_to("com.atproto.repo.uploadBlob")) == 1


def test_card_resolver_is_asked_for_the_first_link(fake_bluesky, bluesky):
    asked = []

    def resolver(url):
        asked.append(url)
        return LinkCard(url, "Título", "Descripción")

    bluesky.card_resolver = resolver
    ref = bluesky.publish(PostPayload(text="Uno https://a.example.com/1 y dos https://b.example.com/2"))
    assert asked == ["https://a.example.com/1"]
    assert _stored(fake_bluesky, ref.external_id)["embed"]["external"]["uri"] == "https://a.example.com/1"
    bluesky.publish(PostPayload(text="sin enlaces"))
    assert asked == ["https://a.example.com/1"]


def test_replies_carry_root_and_parent_strong_refs(bluesky, fake_bluesky):
    root = bluesky.publish(PostPayload(text="hilo 1/3"))
    second = bluesky.reply(root.external_id, "hilo 2/3")
    third = bluesky.publish(PostPayload(text="hilo 3/3", reply_to=second.external_id))
    root_entry = fake_bluesky._record_at(root.external_id)
    second_entry = fake_bluesky._record_at(second.external_id)
    reply2 = _stored(fake_bluesky, second.external_id)["reply"]
    assert reply2 == {"root": {"uri": root.external_id, "cid": root_entry["cid"]},
                      "parent": {"uri": root.external_id, "cid": root_entry["cid"]}}
    reply3 = _stored(fake_bluesky, third.external_id)["reply"]
    assert reply3 == {"root": {"uri": root.external_id, "cid": root_entry["cid"]},
                      "parent": {"uri": second.external_id, "cid": second_entry["cid"]}}


def test_reply_to_someone_elses_post(bluesky, fake_bluesky):
    theirs = fake_bluesky.post_as("why.bsky.team", "¿A qué hora abrís?")
    ref = bluesky.reply(theirs["uri"], "A las 9 🙂", marker="first-comment")
    assert _stored(fake_bluesky, ref.external_id)["reply"]["parent"]["uri"] == theirs["uri"]
    assert parse_at_uri(ref.external_id)[2] == tid_for_marker("first-comment")


def test_reply_to_a_missing_post_is_permanent(bluesky, fake_bluesky):
    missing = f"at://{fake_bluesky.own_did}/app.bsky.feed.post/3jzfcijpj2z2a"
    with pytest.raises(Permanent):
        bluesky.reply(missing, "hola")
    with pytest.raises(Permanent):
        bluesky.reply("https://bsky.app/profile/x/post/1", "hola")
    assert fake_bluesky.posts_of() == []


def test_delete(bluesky, fake_bluesky):
    ref = bluesky.publish(PostPayload(text="me borrarán"))
    assert bluesky.delete(ref.external_id) is True
    assert fake_bluesky.posts_of() == []
    assert bluesky.delete(ref.external_id) is False  # already gone
    (request,) = fake_bluesky.requests_to("com.atproto.repo.deleteRecord")
    repo, _collection, rkey = parse_at_uri(ref.external_id)
    assert json.loads(request.body) == {"repo": repo, "collection": "app.bsky.feed.post", "rkey": rkey}


def test_someone_elses_post_is_not_deleted(bluesky, fake_bluesky):
    theirs = fake_bluesky.post_as("why.bsky.team", "mío")
    with pytest.raises(Permanent):
        bluesky.delete(theirs["uri"])
    with pytest.raises(Permanent):
        bluesky.delete("at://did:plc:x/app.bsky.feed.post/../../etc")
    assert fake_bluesky.requests_to("com.atproto.repo.deleteRecord") == []


@pytest.mark.parametrize("payload", [
    PostPayload(text="   "),
    PostPayload(text="aviso", content_warning="Spoiler"),
    PostPayload(text="solo seguidores", visibility=Visibility.FOLLOWERS),
    PostPayload(text="directo", visibility="nonsense"),
    PostPayload(text="é" * 301),  # 301 graphemes
    PostPayload(text="👩‍👩‍👧‍👦" * 150),  # 150 graphemes but 3,750 bytes
    PostPayload(text="\ud800 roto"),  # an unpaired surrogate cannot be UTF-8
    PostPayload(text="cinco", media=tuple(MediaItem(f"{i}.png", "image/png", content=PNG) for i in range(5))),
    PostPayload(text="vídeo", media=(MediaItem("v.mp4", "video/mp4", content=b"\x00" * 10),)),
    PostPayload(text="grande", media=(MediaItem("g.png", "image/png", content=b"\x00" * 1_000_001),)),
], ids=["empty", "content-warning", "followers", "bad-visibility", "graphemes", "bytes", "surrogate",
        "five-images", "video", "image-too-large"])
def test_refused_before_anything_is_sent(bluesky, fake_bluesky, payload):
    with pytest.raises(Permanent) as info:
        bluesky.publish(payload)
    assert str(info.value.user_message)
    assert fake_bluesky.requests_to("com.atproto.repo.createRecord") == []
    assert fake_bluesky.requests_to("com.atproto.repo.uploadBlob") == []


def test_300_graphemes_of_emoji_are_fine(bluesky, fake_bluesky):
    text = "🇪🇸" * 300  # 300 graphemes, 2,400 bytes
    ref = bluesky.publish(PostPayload(text=text))
    assert _stored(fake_bluesky, ref.external_id)["text"] == text


def test_the_servers_own_validation_is_permanent_with_its_text(bluesky, fake_bluesky):
    fake_bluesky.max_graphemes = 10  # a stricter server than the client knows
    with pytest.raises(Permanent) as info:
        bluesky.publish(PostPayload(text="más de diez grafemas"))
    assert info.value.status == 400
    assert info.value.detail == ("InvalidRequest: Invalid app.bsky.feed.post record: "
                                 "Record/text must not be longer than 10 graphemes")
    assert not isinstance(info.value, Retryable)
    assert fake_bluesky.posts_of() == []


def test_the_server_refuses_an_image_it_finds_too_large(bluesky, fake_bluesky):
    fake_bluesky.image_max_size = 50
    with pytest.raises(Permanent) as info:
        bluesky.publish(PostPayload(text="x", media=(MediaItem("a.png", "image/png", content=PNG),)))
    assert "too large" in info.value.detail
    assert fake_bluesky.posts_of() == []


def test_the_fake_refuses_facets_off_character_boundaries(fake_bluesky):
    from tests.fakes.mastodon import HttpError

    text = "año #fiesta"
    for index in ({"byteStart": 2, "byteEnd": 4}, {"byteStart": 5, "byteEnd": 99}, {"byteStart": 4, "byteEnd": 4}):
        record = {"$type": "app.bsky.feed.post", "text": text, "createdAt": "2025-01-01T00:00:00.000Z",
                  "facets": [{"index": index, "features": [{"$type": "app.bsky.richtext.facet#tag", "tag": "x"}]}]}
        with pytest.raises(HttpError) as info:
            fake_bluesky.validate_post(fake_bluesky.own_did, record)
        assert info.value.status == 400 and info.value.payload["error"] == "InvalidRequest"


def test_limits(bluesky, fake_bluesky):
    limits = bluesky.limits()
    assert (limits.max_characters, limits.counting, limits.max_media) == (300, "graphemes", 4)
    assert limits.image_size_limit == 1_000_000 and limits.content_warnings is False
    assert limits.visibilities == frozenset({Visibility.PUBLIC}) and limits.threads
    assert "image/png" in limits.media_types and "video/mp4" not in limits.media_types
    assert fake_bluesky.requests == []  # known without asking
    # The fake reads the same numbers from the lexicons.
    assert (fake_bluesky.max_graphemes, fake_bluesky.max_bytes, fake_bluesky.max_images) == (300, 3000, 4)
