"""Hiding Instagram comments (``POST /{ig-comment-id}?hide=``) through the fake Graph API."""

from __future__ import annotations

import pytest

from tertulia.networks.errors import AuthExpired, Permanent
from tertulia.networks.instagram import InstagramConnector
from tests.fakes.instagram_plugin import fake_instagram, instagram, instagram_http_config  # noqa: F401


def en(message) -> str:
    """A lazy user message as an English reader sees it."""
    from django.utils.translation import override

    with override("en"):
        return str(message)


def test_hide_and_show_a_recorded_comment(instagram, fake_instagram):
    assert InstagramConnector.can_hide is True
    media_id = fake_instagram.commented_media_id
    comment_id = next(c for c, v in fake_instagram.comments.items() if v["media_id"] == media_id)
    instagram.hide_comment(comment_id, True)
    assert fake_instagram.comments[comment_id]["hidden"] is True
    instagram.hide_comment(comment_id, False)
    assert fake_instagram.comments[comment_id]["hidden"] is False
    posts = [r for r in fake_instagram.requests if r.method == "POST" and r.object_id == comment_id]
    assert [r.params.get("hide") for r in posts] == ["true", "false"]


def test_a_comment_on_someone_elses_media_cannot_be_hidden(instagram, fake_instagram):
    media_id = fake_instagram.commented_media_id
    fake_instagram.media[media_id]["owner"] = "17841499999999999"
    comment = fake_instagram.comment_as("reader", "hola", media_id=media_id)
    with pytest.raises(Permanent) as err:
        instagram.hide_comment(comment["id"], True)
    assert "Meta refused" in en(err.value.user_message)


def test_missing_permission_is_permanent_and_asks_to_reconnect(instagram, fake_instagram):
    comment = fake_instagram.comment_as("reader", "hola", media_id=fake_instagram.commented_media_id)
    fake_instagram.missing_permissions.add("instagram_manage_comments")
    with pytest.raises(Permanent) as err:
        instagram.hide_comment(comment["id"], True)
    assert "lacks a permission" in en(err.value.user_message)
    assert "hidden" not in fake_instagram.comments[comment["id"]]


def test_bad_ids_never_reach_the_network_and_expired_tokens_say_so(instagram, fake_instagram):
    before = len(fake_instagram.requests)
    with pytest.raises(Permanent):
        instagram.hide_comment("1/../me", True)
    assert len(fake_instagram.requests) == before
    comment = fake_instagram.comment_as("reader", "hola", media_id=fake_instagram.commented_media_id)
    fake_instagram.expire_token()
    with pytest.raises(AuthExpired):
        instagram.hide_comment(comment["id"], True)
