"""What each connector's ``fetch_interactions`` tells the inbox about edits and deletions:
``threads`` (every reply id of a thread read to its end), ``revisions`` (replies handed out
before, as they read now) and ``edited_at`` where the network keeps it."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from tertulia.networks.base import PostPayload
from tests.fakes.threads_plugin import fake_threads, threads, threads_http_config, threads_media_urls  # noqa: F401
from tests.fakes.x_plugin import fake_x, x, x_http_config  # noqa: F401


def test_threads_rereads_our_posts_whole_and_lists_what_is_still_there(threads, fake_threads):
    ref = threads.publish(PostPayload(text="¿Qué libro leemos?"))
    a = fake_threads.reply_from("ana", "Rayuela", to=ref.external_id)
    b = fake_threads.reply_from("luis", "Pedro Páramo", to=a["id"])  # deep in the thread
    first = threads.fetch_interactions(thread_ids=[ref.external_id])
    assert {i.post.external_id for i in first.items} == {a["id"], b["id"]}
    assert first.threads == {ref.external_id: frozenset({a["id"], b["id"]})}
    with fake_threads.lock:
        fake_threads.deleted.add(b["id"])
    again = threads.fetch_interactions(cursor=first.cursor, thread_ids=[ref.external_id])
    assert again.items == []  # nothing new
    assert again.threads == {ref.external_id: frozenset({a["id"]})}  # b is gone
    assert [r.post.external_id for r in again.revisions] == [a["id"]]  # a, as it reads now


def test_without_thread_ids_nothing_claims_to_be_complete(threads, fake_threads):
    ref = threads.publish(PostPayload(text="Hola"))
    fake_threads.reply_from("ana", "hola", to=ref.external_id)
    batch = threads.fetch_interactions()
    assert len(batch.items) == 1 and batch.threads == {} and batch.revisions == []


def test_mastodon_hands_out_an_old_reply_again_when_it_was_edited(mastodon, fake_mastodon):
    root = fake_mastodon.post_as(fake_mastodon.own["username"], "Nuestro post")
    old = fake_mastodon.post_as("admin", "Llegó tarde", in_reply_to=root["id"],
                                created_at=datetime.now(timezone.utc) - timedelta(hours=2))
    fake_mastodon.post_as("admin", f"@{fake_mastodon.own['username']} otra cosa")  # newer: the cursor's time
    first = mastodon.fetch_interactions(since=datetime.now(timezone.utc) - timedelta(hours=3),
                                        thread_ids=[root["id"]])
    assert old["id"] in [i.post.external_id for i in first.items]
    second = mastodon.fetch_interactions(cursor=first.cursor, thread_ids=[root["id"]])
    assert old["id"] not in {i.post.external_id for i in second.items}  # older than the floor
    fake_mastodon.edit_as("admin", old["id"], "Llegó tarde y frío")
    third = mastodon.fetch_interactions(cursor=second.cursor, thread_ids=[root["id"]])
    (edited,) = [i for i in third.items if i.post.external_id == old["id"]]
    assert edited.post.text == "Llegó tarde y frío" and edited.post.edited_at is not None
    assert third.threads == {root["id"]: frozenset({old["id"]})}


def test_x_hands_an_edited_post_under_its_first_id_with_the_new_text(x, fake_x):
    own = fake_x.own["username"]
    author = fake_x.add_user("lectora", "Lectora")
    first_id = fake_x._next_id()
    fake_x._store({"id": first_id, "text": f"@{own} el pedido no llegó", "author_id": author["id"],
                   "conversation_id": first_id})
    batch = x.fetch_interactions()
    (item,) = [i for i in batch.items if i.post.external_id == first_id]
    assert item.post.edited_at is None
    edited = fake_x.edit_as(first_id, f"@{own} el pedido no llegó, número 1234")
    again = x.fetch_interactions(cursor=batch.cursor)
    (item,) = again.items
    assert item.post.external_id == first_id  # the inbox's id for this message
    assert item.post.text.endswith("número 1234") and item.post.edited_at is not None
    assert edited["id"] != first_id
