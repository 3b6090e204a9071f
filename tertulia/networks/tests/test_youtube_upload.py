"""YouTube video upload with the resumable protocol, against the loopback fake: the session,
chunks, resuming after a cut connection, a crashed consumer, at most once, the thumbnail and
the video's fields."""

from __future__ import annotations

import os
from datetime import datetime, timedelta, timezone

import pytest

from tertulia.networks.base import MediaItem, PostPayload
from tertulia.networks.errors import Ambiguous, Permanent, Retryable
from tertulia.networks.youtube import options as opts
from tertulia.networks.youtube.connector import CHUNK_UNIT, YouTubeConnector
from tertulia.networks.youtube.store import MemoryUploads

SIZE = 3 * CHUNK_UNIT + 12_345  # four chunks, the last one short


@pytest.fixture(scope="module")
def video_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("yt") / "clip.mp4"
    path.write_bytes(os.urandom(SIZE))
    return path


@pytest.fixture(autouse=True)
def _english():
    """Messages are checked in English (the catalog's Spanish is tested by the i18n tests)."""
    from django.utils import translation

    with translation.override("en"):
        yield


def video(path) -> MediaItem:
    return MediaItem(filename="clip.mp4", mime_type="video/mp4", path=str(path))


def payload(path, text="Receta de café de olla\nCon canela #cafe #receta", marker="tertulia-7-1", thumb=None):
    media = (video(path),) + ((thumb,) if thumb else ())
    return PostPayload(text=text, media=media, marker=marker)


def test_upload_in_chunks_with_metadata(youtube, fake_youtube, video_file):
    ref = youtube.publish(payload(video_file))
    stored = fake_youtube.videos[ref.external_id]
    assert stored["content"] == video_file.read_bytes()
    assert stored["title"] == "Receta de café de olla"
    assert stored["tags"] == ["cafe", "receta", "tertulia-7-1"]  # hashtags, then the marker
    assert "Con canela" in stored["description"]
    assert ref.url == f"https://www.youtube.com/watch?v={ref.external_id}"
    puts = fake_youtube.requests_to("PUT /upload/youtube/v3/videos")
    assert [r.headers["content-range"] for r in puts] == [
        f"bytes 0-{CHUNK_UNIT - 1}/{SIZE}", f"bytes {CHUNK_UNIT}-{2 * CHUNK_UNIT - 1}/{SIZE}",
        f"bytes {2 * CHUNK_UNIT}-{3 * CHUNK_UNIT - 1}/{SIZE}", f"bytes {3 * CHUNK_UNIT}-{SIZE - 1}/{SIZE}"]
    start = fake_youtube.requests_to("POST /upload/youtube/v3/videos")[0]
    assert start.query["uploadType"] == "resumable"
    assert start.headers["x-upload-content-length"] == str(SIZE)
    # 1,600 units for the upload, in our ledger and in the fake's.
    assert youtube.quota_used() == 1600 == fake_youtube.used()


def test_cut_connection_resumes_from_the_reported_offset(youtube, fake_youtube, video_file):
    fake_youtube.cut_upload(after=CHUNK_UNIT // 2 + 17)  # the first chunk: half of it arrives
    fake_youtube.cut_upload(after=1000)  # and again in the next one
    ref = youtube.publish(payload(video_file))
    assert fake_youtube.videos[ref.external_id]["content"] == video_file.read_bytes()
    # Every byte reached the server exactly once: nothing was sent again from the start.
    assert fake_youtube.received_bytes == SIZE
    ranges = [r.headers["content-range"] for r in fake_youtube.requests_to("PUT /upload/youtube/v3/videos")]
    assert f"bytes */{SIZE}" in ranges  # the status question after each cut
    assert f"bytes {CHUNK_UNIT // 2 + 17}-{CHUNK_UNIT // 2 + 17 + CHUNK_UNIT - 1}/{SIZE}" in ranges


def test_crashed_consumer_resumes_the_stored_session(fake_youtube, youtube_http_config, video_file):
    """The first consumer dies mid-upload (stalls past its resume budget); the next attempt
    finds the session in the store and goes on from where YouTube says it is."""
    from tertulia.networks.base import Credentials

    uploads = MemoryUploads()

    def connector(**kw):
        answer = fake_youtube.issue()
        return YouTubeConnector(base_url=fake_youtube.base_url, credentials=Credentials(
            access_token=answer["access_token"], refresh_token=answer["refresh_token"]),
            http_config=youtube_http_config, client_id=fake_youtube.client_id,
            client_secret=fake_youtube.client_secret, token_url=fake_youtube.base_url, chunk_size=CHUNK_UNIT,
            uploads=uploads, **kw)

    fake_youtube.cut_upload(after=CHUNK_UNIT)  # the first chunk arrives whole
    fake_youtube.cut_upload(after=5)  # the second is cut after 5 bytes
    with connector(max_resumes=0) as first:
        with pytest.raises(Retryable):
            first.publish(payload(video_file))
    session = uploads.get("tertulia-7-1")
    assert session.session_uri and not session.video_id
    with connector() as second:
        ref = second.publish(payload(video_file))
    assert len(fake_youtube.requests_to("POST /upload/youtube/v3/videos")) == 1  # one session, one video
    assert fake_youtube.received_bytes == SIZE
    assert fake_youtube.videos[ref.external_id]["content"] == video_file.read_bytes()
    # A third attempt (the engine lost our answer) uploads nothing and returns the same video.
    with connector() as third:
        assert third.publish(payload(video_file)).external_id == ref.external_id
    assert fake_youtube.received_bytes == SIZE


def test_lost_answer_to_the_last_chunk_is_found_by_the_status_query(youtube, fake_youtube, video_file):
    # Every chunk but the answer to the last arrives: the status question gets the video.
    from tests.fakes.youtube import Fault

    fake_youtube.inject("PUT /upload/youtube/v3/videos", Fault.drop_after(), times=1)
    ref = youtube.publish(payload(video_file))
    assert fake_youtube.received_bytes == SIZE
    assert len([v for v in fake_youtube.videos.values() if "content" in v]) == 1
    assert ref.external_id in fake_youtube.videos


def test_find_published_by_marker_tag(youtube, fake_youtube, video_file):
    since = datetime.now(timezone.utc) - timedelta(minutes=1)
    other = YouTubeConnector(base_url=fake_youtube.base_url, credentials=youtube.credentials,
                             http_config=youtube.http.config, client_id=fake_youtube.client_id, chunk_size=CHUNK_UNIT)
    with other:
        ref = other.publish(payload(video_file, marker="tertulia-9-2"))
    # A connector without the stored session finds it on the channel by its marker tag.
    found = youtube.find_published(payload(video_file, marker="tertulia-9-2"), since=since)
    assert found is not None and found.external_id == ref.external_id
    assert youtube.find_published(payload(video_file, marker="tertulia-10-1"), since=since) is None


def test_thumbnail_is_set(youtube, fake_youtube, video_file):
    png = b"\x89PNG\r\n\x1a\n" + b"0" * 100
    thumb = MediaItem(filename="t.png", mime_type="image/png", content=png)
    ref = youtube.publish(payload(video_file, thumb=thumb))
    assert fake_youtube.thumbnails[ref.external_id] == png
    assert youtube.quota_used() == 1650


def test_scheduled_private_video(youtube, fake_youtube, video_file):
    when = datetime.now(timezone.utc) + timedelta(days=2)
    youtube.options_for = lambda p: opts.VideoOptions(title="Estreno", description="Pronto", privacy="private",
                                                      publish_at=when)
    ref = youtube.publish(payload(video_file))
    stored = fake_youtube.videos[ref.external_id]
    assert stored["privacy"] == "private"
    assert stored["publishAt"] == when.strftime("%Y-%m-%dT%H:%M:%SZ")


@pytest.mark.parametrize("options, fragment", [
    (opts.VideoOptions(title="x" * 101), "at most 100"),
    (opts.VideoOptions(title="<script>alert(1)</script>"), "< and >"),
    (opts.VideoOptions(title="ok", description="ñ" * 2501), "5,000 bytes"),
    (opts.VideoOptions(title="ok", tags=tuple(f"tag number {i}" for i in range(50))), "500"),
    (opts.VideoOptions(title="ok", privacy="public", publish_at=datetime.now(timezone.utc) + timedelta(days=1)),
     "private"),
])
def test_invalid_fields_are_refused_before_any_call(youtube, fake_youtube, video_file, options, fragment):
    youtube.options_for = lambda p: options
    with pytest.raises(Permanent) as caught:
        youtube.publish(payload(video_file))
    assert fragment in str(caught.value.user_message)
    assert fake_youtube.requests == [] and youtube.quota_used() == 0


@pytest.mark.parametrize("media, fragment", [
    ((), "exactly one video"),
    ((MediaItem(filename="a.gif", mime_type="image/gif", content=b"GIF89a"),), "exactly one video"),
    ((MediaItem(filename="a.mp4", mime_type="video/mp4", content=b"x"),
      MediaItem(filename="b.mp4", mime_type="video/mp4", content=b"y")), "exactly one video"),
    ((MediaItem(filename="a.mp4", mime_type="video/mp4", content=b"x"),
      MediaItem(filename="t.gif", mime_type="image/gif", content=b"GIF89a")), "JPEG or PNG"),
])
def test_media_rules(youtube, fake_youtube, media, fragment):
    with pytest.raises(Permanent) as caught:
        youtube.publish(PostPayload(text="Hola", media=media, marker="m"))
    assert fragment in str(caught.value.user_message)


def test_text_defaults_escape_angle_brackets_and_cut_the_title():
    made = opts.from_text("<b>Un título larguísimo</b> " + "palabra " * 30 + "\nresto")
    assert "<" not in made.title and ">" not in made.title and len(made.title) <= 100
    assert opts.problems(made) == []
    assert opts.tags_length(["a b", "c"]) == 7  # "a b" quoted (5) + comma + c


def test_lost_answers_make_it_ambiguous_and_the_marker_finds_it(youtube, fake_youtube, video_file):
    from tests.fakes.youtube import Fault

    youtube.chunk_size = 4 * CHUNK_UNIT  # the whole file in one chunk
    youtube.max_resumes = 1
    # The chunk arrives (YouTube creates the video) but its answer is lost, and so are the
    # answers to the status questions: we cannot know, so the engine must look first.
    fake_youtube.inject("PUT /upload/youtube/v3/videos", Fault.drop_after(), times=3)
    with pytest.raises(Ambiguous):
        youtube.publish(payload(video_file))
    fresh = YouTubeConnector(base_url=fake_youtube.base_url, credentials=youtube.credentials,
                             http_config=youtube.http.config, client_id=fake_youtube.client_id)
    with fresh:  # another consumer, without our memory of the session
        found = fresh.find_published(payload(video_file), since=datetime.now(timezone.utc) - timedelta(minutes=1))
    assert found is not None and fake_youtube.videos[found.external_id]["content"] == video_file.read_bytes()


def test_status_questions_without_answer_stop_the_attempt_and_the_next_resumes(youtube, fake_youtube, video_file):
    from tests.fakes.youtube import Fault

    youtube.max_resumes = 1
    fake_youtube.cut_upload(after=100)
    fake_youtube.inject("PUT /upload/youtube/v3/videos", Fault.server_error(503), times=2)
    with pytest.raises(Retryable):
        youtube.publish(payload(video_file))
    assert youtube.find_published(payload(video_file), since=datetime.now(timezone.utc)) is None
    ref = youtube.publish(payload(video_file))  # resumes the stored session from byte 100
    assert fake_youtube.received_bytes == SIZE and ref.external_id in fake_youtube.videos


def test_publication_time_already_past_goes_out_public(youtube, fake_youtube, video_file):
    # A retry after the video's own publication time: YouTube would have made it public.
    youtube.options_for = lambda p: opts.VideoOptions(title="Tarde", privacy="private",
                                                      publish_at=datetime.now(timezone.utc) - timedelta(hours=1))
    ref = youtube.publish(payload(video_file))
    assert fake_youtube.videos[ref.external_id]["privacy"] == "public"
    assert fake_youtube.videos[ref.external_id]["publishAt"] is None
    assert opts.problems(opts.VideoOptions(title="ok", privacy="private",
                                           publish_at=datetime(2020, 1, 1, tzinfo=timezone.utc))) != []
