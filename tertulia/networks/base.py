"""The one connector interface every network implements (DESIGN.md §4), and its data types.

A connector speaks for one social account on one network. It knows the network's API and
nothing about our database: the publishing engine, the inbox and analytics hand it plain
dataclasses and get plain dataclasses back. Every failure is one of the classes in
``errors.py`` so that callers decide what to do from the class alone.

Text from a network is data, never markup we trust: ``NetworkPost.html`` keeps what the network
sent (for the record) and ``NetworkPost.text`` is a plain-text rendering that templates escape
like any other string.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import unicodedata
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from enum import StrEnum
from pathlib import Path
from typing import Any, ClassVar

from django.utils.translation import gettext_lazy as _

from .errors import Unsupported
from .http import HttpClient, HttpConfig, RateLimitBook, RateLimitState
from .ratelimit import BucketBook, RateRule


class Visibility(StrEnum):
    """Who may see a post. Networks without a level map it to the nearest stricter one."""

    PUBLIC = "public"
    UNLISTED = "unlisted"  # public, but kept off public timelines and search
    FOLLOWERS = "followers"
    DIRECT = "direct"  # only the people mentioned


class InteractionKind(StrEnum):
    COMMENT = "comment"  # a reply to one of the account's posts
    MENTION = "mention"  # the account is named in someone else's post
    DM = "dm"  # a private message


@dataclass(frozen=True)
class MediaItem:
    """One image, video or sound to attach, with its alt text.

    Give the bytes in ``content`` or a file on disk in ``path`` (large videos)."""

    filename: str
    mime_type: str
    content: bytes | None = None
    path: Path | str | None = None
    alt_text: str = ""
    focus: tuple[float, float] | None = None  # (x, y) in -1..1, where to crop thumbnails
    # A public address the network can fetch it from (Instagram and Threads take media by URL,
    # not upload): a signed, expiring link to Tertulia's own copy, set by the engine.
    url: str = ""

    def read(self) -> bytes:
        if self.content is not None:
            return self.content
        if self.path is not None:
            return Path(self.path).read_bytes()
        raise ValueError("MediaItem needs content or path")

    @property
    def size(self) -> int:
        if self.content is not None:
            return len(self.content)
        return Path(self.path).stat().st_size if self.path is not None else 0


@dataclass(frozen=True)
class PostPayload:
    """What to publish on one account.

    ``marker`` is the idempotency marker: stable for one post × account target, the same on
    every retry, different for every target. Networks that honour an idempotency key get it
    (Mastodon's ``Idempotency-Key``), so a retry the network already saw returns the original
    post instead of a second one; ``find_published`` uses it where the network keeps it.
    """

    text: str
    media: tuple[MediaItem, ...] = ()
    language: str = ""  # ISO 639-1 ("es", "en"); empty lets the network guess
    content_warning: str = ""
    sensitive: bool = False  # media hidden behind a click, without a content warning
    visibility: Visibility = Visibility.PUBLIC
    reply_to: str = ""  # the network's id of the post this one answers (threads, first comment)
    marker: str = ""

    def content_hash(self) -> str:
        """A fingerprint of the words, content warning and reply target (NFC, whitespace
        collapsed), for the engine to store with an attempt and show in the delivery log.
        Connectors match what they read back with their network's own rendering rules in mind
        (Mastodon shows ``@a@b.example`` as ``@a``), so they may compare more loosely."""
        return content_fingerprint(self.text, self.content_warning, self.reply_to)


@dataclass(frozen=True)
class PublishedRef:
    """The network's name for a post we published: its id, its public link, and when the
    network says it accepted it (for lateness figures). ``warnings``: user messages (lazy
    translations) about something that went wrong although the post is out (a refused
    thumbnail); the engine keeps them on the target for the team to see."""

    external_id: str
    url: str = ""
    published_at: datetime | None = None
    warnings: tuple = ()


@dataclass(frozen=True)
class Author:
    external_id: str
    handle: str
    display_name: str = ""
    url: str = ""
    avatar_url: str = ""
    # Where the network says: when the account was opened (giveaways check a minimum age) and
    # how many follow it.
    created_at: datetime | None = None
    followers: int | None = None


@dataclass(frozen=True)
class NetworkPost:
    """A post read from the network: ours, a reply, a mention, a search hit."""

    external_id: str
    author: Author
    text: str  # plain text, safe to escape and show
    created_at: datetime | None
    url: str = ""
    html: str = ""  # as the network sent it: never rendered as markup
    content_warning: str = ""
    language: str = ""
    visibility: str = ""
    in_reply_to: str = ""
    in_reply_to_author: str = ""
    media_count: int = 0
    edited_at: datetime | None = None  # when the network says its author last changed it
    likes: int | None = None
    shares: int | None = None
    comments: int | None = None
    # What the post carries, for format mixes (competitor benchmarks): one entry per attachment
    # ("image", "video", "gif", "audio"), and the address of a link card or first link, if any.
    media_kinds: tuple[str, ...] = ()
    link: str = ""
    views: int | None = None


@dataclass(frozen=True)
class Interaction:
    """Something for the inbox: a comment on one of our posts, a mention, or a message."""

    kind: InteractionKind
    post: NetworkPost
    on_post: str = ""  # for comments: the id of our post it answers
    conversation_id: str = ""  # for messages: the network's conversation (thread) id
    notification_id: str = ""


@dataclass(frozen=True)
class InteractionBatch:
    """New interactions, oldest first, and an opaque cursor to pass back on the next poll.

    ``items`` may repeat an interaction handed out before when the network says it was edited;
    ``revisions`` carries the current state of ones handed out before (from re-read threads) on
    networks that do not say when something was edited: a known id with a new text is an edit
    (the inbox records it), an unchanged one a harmless duplicate.

    Deletions, from what each network really offers:
    - ``deleted``: ids the network itself said are gone (a tombstone, a "removed" state);
    - ``threads``: for each thread (our post) that was read *completely* in this poll, every
      comment id visible in it now. A comment we stored under that post that is no longer
      there was deleted on the network (or removed by a moderator). A thread that was cut
      short (page limit, error) is left out, so nothing is marked deleted from a partial read.
    """

    items: list[Interaction]
    cursor: str = ""
    deleted: tuple[str, ...] = ()
    threads: dict[str, frozenset[str]] = field(default_factory=dict)
    # The connector stopped at its page bound with more to read: call again with ``cursor``.
    more: bool = False
    # Interactions handed out before, as the network shows them now (a re-read thread), for
    # the caller to compare: a changed text is an edit. Never new ones (those are ``items``).
    revisions: list[Interaction] = field(default_factory=list)


@dataclass(frozen=True)
class Profile:
    external_id: str
    handle: str
    display_name: str = ""
    url: str = ""
    avatar_url: str = ""
    bio: str = ""  # plain text
    followers: int | None = None
    following: int | None = None
    posts: int | None = None
    fields: dict[str, str] = field(default_factory=dict)  # plain text


@dataclass(frozen=True)
class PostMetrics:
    """Counters the network exposes for one post. ``None`` means "not available on this
    network" (stored as NULL so charts skip it), never zero. ``exists`` is False when the post
    is gone (deleted on the network)."""

    external_id: str
    exists: bool = True
    impressions: int | None = None
    reach: int | None = None
    likes: int | None = None
    comments: int | None = None
    shares: int | None = None
    saves: int | None = None
    clicks: int | None = None
    video_views: int | None = None


@dataclass(frozen=True)
class Limits:
    """Text and media rules of one account's network (or instance)."""

    max_characters: int
    counting: str  # which counting rule: "mastodon", "twitter", "graphemes", "utf16"…
    url_length: int | None = None  # every link counts as this many characters
    max_media: int = 0
    max_alt_text: int | None = None
    image_size_limit: int | None = None  # bytes
    video_size_limit: int | None = None
    media_types: frozenset[str] = frozenset()
    content_warnings: bool = False
    visibilities: frozenset[str] = frozenset({Visibility.PUBLIC})
    languages: frozenset[str] = frozenset()  # the server's own languages, informative
    threads: bool = True


@dataclass(frozen=True)
class Credentials:
    """What the connector needs to act for an account. Secrets: store encrypted."""

    access_token: str = ""
    refresh_token: str = ""
    expires_at: datetime | None = None
    scope: str = ""
    token_type: str = "Bearer"

    def expires_within(self, margin: timedelta, now: datetime | None = None) -> bool:
        if self.expires_at is None:
            return False
        now = now or datetime.now(timezone.utc)
        return self.expires_at - now <= margin


@dataclass(frozen=True)
class OAuthClient:
    """An app registered with a server (one per Mastodon instance)."""

    base_url: str
    client_id: str
    client_secret: str
    redirect_uri: str
    scopes: str


@dataclass(frozen=True)
class AuthorizationRequest:
    """Where to send the person to approve access, and what to keep (server side, in their
    session) until they come back: ``state`` against CSRF, ``code_verifier`` for PKCE."""

    url: str
    state: str
    code_verifier: str


def pkce_pair() -> tuple[str, str]:
    """A PKCE (RFC 7636) code verifier and its S256 challenge."""
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    return verifier, challenge


def normalize_text(text: str) -> str:
    """NFC, whitespace runs collapsed to one space, trimmed: what survives any re-rendering."""
    return " ".join(unicodedata.normalize("NFC", text or "").split())


def content_fingerprint(text: str, content_warning: str = "", reply_to: str = "") -> str:
    blob = "\x1f".join((normalize_text(text), normalize_text(content_warning), reply_to or ""))
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


MSG_NO_PUBLIC_ACCOUNTS = _("This network does not let us read other accounts' public numbers and posts: "
                           "import them from a CSV file instead.")
MSG_NO_HIDING = _("This network does not let an account hide comments on its posts.")


class Connector(ABC):
    """One social account on one network.

    Subclasses set ``network`` (a ``Network`` value) and implement the abstract methods. All of
    them raise only ``errors.ConnectorError`` subclasses. A connector holds an HTTP client: use
    it as a context manager or call ``close()``.
    """

    network: ClassVar[str] = ""
    supports_search: ClassVar[bool] = False
    supports_refresh: ClassVar[bool] = False
    # How long before expiry the scheduled renewal starts trying (tokens that live for weeks
    # are renewed days ahead, so a network outage at that moment has many retries left).
    refresh_ahead: ClassVar[timedelta] = timedelta(minutes=30)
    # A follow-up reply under a post we just published (Post.first_comment, threads).
    supports_first_comment: ClassVar[bool] = False
    default_base_url: ClassVar[str] = ""
    # The network's documented per-account limits, enforced before sending (ratelimit.py).
    rate_rules: ClassVar[tuple[RateRule, ...]] = ()
    # ``fetch_interactions(thread_ids=…)``: True when the ids are read in addition to the
    # connector's own sources (and re-read whole: edits, deletions); False when they narrow the
    # read to those posts only (WordPress), so a poller must not pass them.
    thread_ids_widen: ClassVar[bool] = True
    # Whether the account can hide a comment (or reply) on its own posts, so only the author
    # and their friends still see it: Facebook Pages, Instagram, Threads, X.
    can_hide: ClassVar[bool] = False

    def __init__(self, *, base_url: str = "", credentials: Credentials | None = None,
                 account_id: str = "", account_key: str = "", http_config: HttpConfig | None = None,
                 rate_book: RateLimitBook | None = None, buckets: BucketBook | None = None,
                 credentials_listener: Callable[[Credentials], None] | None = None):
        self.base_url = (base_url or self.default_base_url).rstrip("/")
        self.credentials = credentials or Credentials()
        self.account_id = account_id  # the network's id for the account, when known
        self.account_key = account_key or f"{self.network}:{self.base_url}:{account_id}"
        # Called with every new set of credentials (a refresh), so the caller stores them at
        # once: a network that rotates refresh tokens has already spent the old one.
        self.credentials_listener = credentials_listener
        self.http = HttpClient(self.base_url, config=http_config, account_key=self.account_key,
                               rate_book=rate_book, network=self.network,
                               token=lambda: self.credentials.access_token,
                               rate_rules=self.rate_rules, buckets=buckets)

    @classmethod
    def for_account(cls, account, **kwargs) -> Connector:
        """Build a connector for a ``SocialAccount`` row (decrypted tokens stay in memory)."""
        credentials = Credentials(access_token=account.access_token or "",
                                  refresh_token=account.refresh_token or "",
                                  expires_at=account.token_expires_at)
        kwargs.setdefault("account_key", f"account:{account.pk}")
        return cls(base_url=account.base_url or cls.default_base_url, credentials=credentials,
                   account_id=account.external_id or "", **kwargs)

    # -- lifecycle -------------------------------------------------------------------------

    def close(self) -> None:
        self.http.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    @property
    def rate_limits(self) -> list[RateLimitState]:
        """The rate-limit windows the network reported for this account, to persist."""
        return self.http.rate_limits()

    # -- auth hooks ------------------------------------------------------------------------

    def needs_refresh(self, margin: timedelta = timedelta(minutes=10), now: datetime | None = None) -> bool:
        return self.supports_refresh and self.credentials.expires_within(margin, now)

    def _credentials_changed(self, credentials: Credentials) -> None:
        self.credentials = credentials
        if self.credentials_listener is not None:
            self.credentials_listener(credentials)

    def refresh_credentials(self) -> Credentials:
        """Exchange the refresh token for new credentials, keep them, and return them so the
        caller stores them (never dropping a refresh token the network did not replace)."""
        raise Unsupported(_("This network does not renew sign-ins; reconnect the account when it expires."))

    # -- the operations --------------------------------------------------------------------

    @abstractmethod
    def publish(self, payload: PostPayload) -> PublishedRef: ...

    @abstractmethod
    def delete(self, external_id: str) -> bool:
        """Delete a post. True if deleted now, False if it was already gone."""

    @abstractmethod
    def find_published(self, payload: PostPayload, *, since: datetime) -> PublishedRef | None:
        """After an ``Ambiguous`` failure: the post, if the network has it (created at or after
        ``since``, matching by marker or content hash), else None."""

    @abstractmethod
    def fetch_profile(self) -> Profile: ...

    @abstractmethod
    def fetch_post_metrics(self, external_ids: Sequence[str]) -> dict[str, PostMetrics]: ...

    @abstractmethod
    def fetch_interactions(self, since: datetime | None = None, *, cursor: str = "",
                           thread_ids: Sequence[str] = ()) -> InteractionBatch: ...

    @abstractmethod
    def reply(self, to_external_id: str, text: str, *, marker: str = "") -> PublishedRef: ...

    def search(self, query: str, *, since: datetime | None = None, limit: int = 40) -> list[NetworkPost]:
        raise Unsupported(_("This network does not let us search its posts."))

    # -- public accounts of others (competitor tracking) ------------------------------------

    def fetch_public_account(self, handle: str) -> Profile:
        """Another account's public profile (followers, following and posts where the network
        exposes them; ``None`` where it does not), read with this account's sign-in. An unknown
        handle raises ``Permanent``."""
        raise Unsupported(MSG_NO_PUBLIC_ACCOUNTS)

    def fetch_public_posts(self, handle: str, *, since: datetime | None = None, limit: int = 40) -> list[NetworkPost]:
        """Another account's recent public posts (newest first, not older than ``since``) with
        their public counters."""
        raise Unsupported(MSG_NO_PUBLIC_ACCOUNTS)

    def hide_comment(self, external_id: str, hidden: bool) -> None:
        """Hide (``hidden=True``) or show again a comment on one of the account's posts.
        Idempotent: hiding a hidden comment succeeds. Networks without hiding raise
        ``Unsupported`` (check ``can_hide`` first)."""
        raise Unsupported(MSG_NO_HIDING)

    @abstractmethod
    def limits(self) -> Limits: ...

    # -- helpers for subclasses ------------------------------------------------------------

    @staticmethod
    def _as_int(value: Any) -> int | None:
        try:
            return None if value is None or isinstance(value, bool) else int(value)
        except (TypeError, ValueError):
            return None
