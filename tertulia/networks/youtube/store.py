"""Where the connector keeps resumable upload sessions, and where it finds a post's video
fields. The connector knows nothing about our database: it is handed one of these.

``MemoryUploads`` and ``text_options`` serve code without a database (benchmarks, unit tests);
``DatabaseUploads`` and ``database_options`` are what ``YouTubeConnector.for_account`` uses.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

from django.utils import timezone

from ..base import PostPayload
from . import options as opts


@dataclass(frozen=True)
class UploadSession:
    session_uri: str = ""
    fingerprint: str = ""
    total: int = 0
    video_id: str = ""
    thumbnail_done: bool = False


class MemoryUploads:
    def __init__(self):
        self.sessions: dict[str, UploadSession] = {}

    def get(self, marker: str) -> UploadSession | None:
        return self.sessions.get(marker) if marker else None

    def save(self, marker: str, session: UploadSession) -> None:
        if marker:
            self.sessions[marker] = session

    def forget(self, marker: str) -> None:
        self.sessions.pop(marker, None)


class DatabaseUploads:
    """``YouTubeUpload`` rows of one account. Each save is its own small write, committed at
    once (the publishing engine calls the connector outside any transaction), so a consumer
    that dies a second later leaves the session for the next attempt."""

    def __init__(self, account_id: int):
        self.account_id = account_id

    def get(self, marker: str) -> UploadSession | None:
        from .models import YouTubeUpload

        row = YouTubeUpload.objects.filter(account_id=self.account_id, marker=marker[:200]).first()
        if row is None:
            return None
        return UploadSession(session_uri=row.session_uri or "", fingerprint=row.fingerprint,
                             total=row.total_bytes, video_id=row.video_id, thumbnail_done=row.thumbnail_done)

    def save(self, marker: str, session: UploadSession) -> None:
        from .models import YouTubeUpload

        if not marker:
            return
        YouTubeUpload.objects.update_or_create(
            account_id=self.account_id, marker=marker[:200],
            defaults={"session_uri": session.session_uri, "fingerprint": session.fingerprint[:200],
                      "total_bytes": session.total, "video_id": session.video_id[:64],
                      "thumbnail_done": session.thumbnail_done, "updated_at": timezone.now()})

    def forget(self, marker: str) -> None:
        from .models import YouTubeUpload

        YouTubeUpload.objects.filter(account_id=self.account_id, marker=marker[:200]).delete()


def text_options(payload: PostPayload) -> opts.VideoOptions:
    return opts.from_text(payload.text)


_MARKER = re.compile(r"^tertulia-(\d+)-\d+$")


def database_options(payload: PostPayload) -> opts.VideoOptions:
    """The fields the team chose for the post (``YouTubeVideoSettings``), found from the
    target's marker; what is left empty comes from the text."""
    from tertulia.publishing.models import PostTarget

    from .models import YouTubeVideoSettings

    base = opts.from_text(payload.text)
    match = _MARKER.match(payload.marker or "")
    if not match:
        return base
    post_id = PostTarget.objects.filter(pk=int(match.group(1))).values_list("post_id", flat=True).first()
    row = YouTubeVideoSettings.objects.filter(post_id=post_id).first() if post_id else None
    if row is None:
        return base
    return replace(base, title=row.title or base.title, tags=opts.parse_tags(row.tags) or base.tags,
                   privacy=row.privacy, publish_at=row.publish_at, category_id=row.category_id or "22",
                   made_for_kids=row.made_for_kids)
