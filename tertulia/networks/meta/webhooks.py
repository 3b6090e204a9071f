"""Meta webhooks (developers.facebook.com/docs/graph-api/webhooks): comments on a Page's posts
and comments on an Instagram professional account's media, straight into the inbox.

- Subscription check: Meta sends ``GET ?hub.mode=subscribe&hub.verify_token=…&hub.challenge=…``;
  we echo the challenge when the token equals ``NETWORK_APPS["meta"]["webhook_verify_token"]``
  (compared in constant time), and refuse otherwise.
- Notifications: ``POST`` with ``X-Hub-Signature-256: sha256=<HMAC-SHA256 of the raw body with
  the app secret>``; checked on the raw bytes before anything is parsed, capped at 1 MB.
- Page ``feed`` changes with ``item: comment``: ``verb`` add or edited (Meta also sends ``edit``
  for some edits) and Instagram ``comments`` changes become ``IncomingInteraction`` rows handed to
  ``inbox.services.ingest_interactions`` for every connected account with that network and id
  (two brands that both connected a Page both get its comments). An id nobody connected is
  ignored. Replays are harmless: ingest is idempotent on the comment id (an edited text is
  recorded as an edit). The Page's or account's own comments (our replies) are skipped.
- ``verb: remove`` (or ``delete``) on a Page comment marks it deleted on the network
  (``inbox.changes.mark_deleted``: the row is kept and shown as deleted); ``verb: hide`` /
  ``unhide`` (a moderator in Business Suite, or Meta's own filters) keeps our ``hidden`` flag in
  step (``inbox.changes.mark_hidden``). Instagram's ``comments`` field only announces new
  comments (it has no verb); deletions there are found by the poller re-reading our media.
- Instagram ``mentions`` changes carry only ids (``media_id``, and ``comment_id`` for a
  mention in a comment), no text: the mention is read from Graph with the account's token
  (``/{ig-user-id}?fields=mentioned_comment.comment_id(…){…}`` or
  ``mentioned_media.media_id(…){…}``, short timeouts) and stored as a ``mention``. If Graph
  cannot be reached the event is logged and left to the Instagram connector's polling.
"""

from __future__ import annotations

import dataclasses
import hmac
import json
import logging
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from ..http import clean_text
from ..models import Network, SocialAccount
from ..services import SIGNED_IN_ID
from .graph import verify_signature

log = logging.getLogger(__name__)
MAX_BODY = 1024 * 1024
MAX_TEXT = 63_206
_ID_CHARS = frozenset("0123456789_")


class Malformed(ValueError):
    pass


def _meta_app() -> dict:
    from .. import oauth_flow

    return oauth_flow.app_settings("meta")


def verify_subscription(params) -> str | None:
    """The challenge to echo for a valid subscription check, else None."""
    expected = str(_meta_app().get("webhook_verify_token") or "")
    mode = params.get("hub.mode", "")
    token = params.get("hub.verify_token", "")
    challenge = params.get("hub.challenge", "")
    if not expected or mode != "subscribe" or not challenge or len(challenge) > 200:
        return None
    if not hmac.compare_digest(str(token).encode(), expected.encode()):
        return None
    return challenge


def signature_ok(body: bytes, header: str | None) -> bool:
    return verify_signature(str(_meta_app().get("client_secret") or ""), body, header)


def _id(value: Any) -> str:
    value = str(value) if isinstance(value, (str, int)) and not isinstance(value, bool) else ""
    return value if value and len(value) <= 64 and set(value) <= _ID_CHARS else ""


def _time(value: Any) -> datetime:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        try:
            return datetime.fromtimestamp(float(value), timezone.utc)
        except (OverflowError, OSError, ValueError):
            pass
    if isinstance(value, str):
        from ..facebook.connector import graph_time

        parsed = graph_time(value)
        if parsed is not None:
            return parsed
    return datetime.now(timezone.utc)


@dataclass
class Result:
    ingested: int = 0  # interactions handed to the inbox (over every matching account)
    ignored: int = 0  # changes that are not comments, or for ids nobody connected
    mentions: int = 0  # mentions read from Graph and stored
    deleted: int = 0  # comments marked deleted on the network (over every matching account)
    hidden: int = 0  # comments whose hidden flag changed
    unread_mentions: int = 0  # mentions Graph did not give us (error, timeout): polling catches up
    accounts: set[int] = field(default_factory=set)

    def __str__(self) -> str:
        return (f"ingested={self.ingested} ignored={self.ignored} mentions={self.mentions} "
                f"deleted={self.deleted} hidden={self.hidden} "
                f"unread_mentions={self.unread_mentions} accounts={len(self.accounts)}")


@dataclass(frozen=True)
class Removal:
    """A Page comment deleted on Facebook (``verb: remove``)."""

    comment_id: str
    at: Any = None


@dataclass(frozen=True)
class Hiding:
    """A Page comment hidden or shown again on Facebook (``verb: hide`` / ``unhide``)."""

    comment_id: str
    hidden: bool


def _page_comment(entry_id: str, entry_time: Any, value: dict):
    from tertulia.inbox.services import IncomingAuthor, IncomingInteraction

    if value.get("item") != "comment":
        return None
    verb = value.get("verb")
    if verb in ("remove", "delete"):
        comment_id = _id(value.get("comment_id"))
        return Removal(comment_id, entry_time) if comment_id else None
    if verb in ("hide", "unhide"):
        comment_id = _id(value.get("comment_id"))
        return Hiding(comment_id, verb == "hide") if comment_id else None
    if verb not in ("add", "edited", "edit"):
        return None
    comment_id = _id(value.get("comment_id"))
    post_id = _id(value.get("post_id"))
    author = value.get("from") if isinstance(value.get("from"), dict) else {}
    author_id = _id(author.get("id"))
    if not comment_id or not post_id or author_id == entry_id:
        return None  # not a comment we can place, or the Page's own reply
    name = clean_text(str(author.get("name") or ""), 200)
    parent = _id(value.get("parent_id"))
    return IncomingInteraction(
        external_id=comment_id, kind="comment",
        author=IncomingAuthor(external_id=author_id or f"unknown:{comment_id}", handle=name or "Facebook",
                              display_name=name),
        text=clean_text(value.get("message") if isinstance(value.get("message"), str) else "", MAX_TEXT),
        created_at=_time(value.get("created_time", entry_time)),
        root_external_id=post_id, parent_external_id=parent if parent and parent != post_id else post_id,
        edited_at=_time(entry_time) if verb in ("edited", "edit") else None)


def _instagram_comment(entry_id: str, entry_time: Any, value: dict):
    from tertulia.inbox.services import IncomingAuthor, IncomingInteraction

    comment_id = _id(value.get("id"))
    media = value.get("media") if isinstance(value.get("media"), dict) else {}
    media_id = _id(media.get("id"))
    author = value.get("from") if isinstance(value.get("from"), dict) else {}
    author_id = _id(author.get("id"))
    if not comment_id or not media_id or author_id == entry_id:
        return None
    username = clean_text(str(author.get("username") or ""), 100)
    parent = _id(value.get("parent_id"))
    return IncomingInteraction(
        external_id=comment_id, kind="comment",
        author=IncomingAuthor(external_id=author_id or f"unknown:{comment_id}",
                              handle=f"@{username}" if username else "Instagram", display_name=username),
        text=clean_text(value.get("text") if isinstance(value.get("text"), str) else "", MAX_TEXT),
        created_at=_time(entry_time), root_external_id=media_id, parent_external_id=parent or media_id)


@dataclass(frozen=True)
class Mention:
    media_id: str
    comment_id: str = ""
    at: Any = None


def parse(body: bytes) -> tuple[dict[tuple[str, str], list], Result]:
    """``(network, account id) -> interactions`` (and ``Mention`` ids to read) from a body."""
    result = Result()
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise Malformed(str(exc)) from exc
    if not isinstance(data, dict) or not isinstance(data.get("entry"), list):
        raise Malformed("no entry list")
    network = {"page": Network.FACEBOOK, "instagram": Network.INSTAGRAM}.get(data.get("object"))
    batches: dict[tuple[str, str], list] = defaultdict(list)
    for entry in data["entry"]:
        if not isinstance(entry, dict):
            continue
        entry_id = _id(entry.get("id"))
        changes = entry.get("changes") if isinstance(entry.get("changes"), list) else []
        for change in changes:
            if not isinstance(change, dict) or not isinstance(change.get("value"), dict) or network is None \
                    or not entry_id:
                result.ignored += 1
                continue
            field_name, value = change.get("field"), change["value"]
            item = None
            if network == Network.FACEBOOK and field_name == "feed":
                item = _page_comment(entry_id, entry.get("time"), value)
            elif network == Network.INSTAGRAM and field_name in ("comments", "live_comments"):
                item = _instagram_comment(entry_id, entry.get("time"), value)
            elif network == Network.INSTAGRAM and field_name == "mentions" and _id(value.get("media_id")):
                item = Mention(_id(value.get("media_id")), _id(value.get("comment_id")), entry.get("time"))
            if item is None:
                result.ignored += 1
            else:
                batches[(network, entry_id)].append(item)
    return batches, result


def handle(body: bytes) -> Result:
    """Parse a verified notification and hand its comments to every account they belong to."""
    from tertulia.inbox.services import ingest_interactions

    batches, result = parse(body)
    for (network, entry_id), items in batches.items():
        # Only accounts whose id Meta's own sign-in vouched for, and still connected: an id typed
        # into a form (Page ids are public) must not route another business's comments.
        accounts = list(SocialAccount.objects.filter(
            network=network, external_id=entry_id, status=SocialAccount.Status.CONNECTED,
            **{f"options__{SIGNED_IN_ID}": entry_id}).order_by("pk"))
        if not accounts:
            result.ignored += len(items)
            continue
        mentions = [m for m in items if isinstance(m, Mention)]
        removals = [m for m in items if isinstance(m, Removal)]
        hidings = [m for m in items if isinstance(m, Hiding)]
        items = [i for i in items if not isinstance(i, (Mention, Removal, Hiding))]
        read = []  # mentions read from Graph just now: the network's current text, never stale
        for mention in mentions:
            found = read_mention(accounts, entry_id, mention)
            if found is None:
                result.unread_mentions += 1
            else:
                read.append(found)
                result.mentions += 1
        if items or read:
            for account in accounts:
                batch = _not_stale(account, items) + read
                ingest_interactions(account, batch)
                result.ingested += len(batch)
                result.accounts.add(account.pk)
        # After the comments of the same body: one added and removed within seconds is stored,
        # then shown as deleted, like any other.
        if removals or hidings:
            _apply_changes(accounts, removals, hidings, result)
    return result


def _not_stale(account: SocialAccount, items: list) -> list:
    """Meta's signature carries no timestamp, so a captured delivery verifies again when it is
    replayed (and Meta itself retries). Only what is news may change a stored comment: an "add"
    of a comment we already have changes nothing, and neither does an edit no newer than the
    one stored (a replayed first version must not overwrite the corrected text)."""
    from tertulia.inbox.models import Interaction

    stored = dict(Interaction.objects.filter(account=account, external_id__in=[i.external_id for i in items])
                  .values_list("external_id", "edited_at"))
    fresh = []
    for item in items:
        if item.external_id in stored:
            last_edit = stored[item.external_id]
            if item.edited_at is None or (last_edit is not None and item.edited_at <= last_edit):
                continue
        fresh.append(item)
    return fresh


def _apply_changes(accounts: list[SocialAccount], removals: list[Removal], hidings: list[Hiding],
                   result: Result) -> None:
    """Deletions and moderation from one body, for every account with that id. A removal of a
    comment we never stored changes nothing (replays and out-of-order deliveries are harmless)."""
    from tertulia.inbox import changes

    for account in accounts:
        for removal in removals:
            result.deleted += changes.mark_deleted(account, [removal.comment_id], _time(removal.at))
        # In body order: "hide" then "unhide" of one comment ends shown.
        for hiding in hidings:
            result.hidden += changes.mark_hidden(account, [hiding.comment_id], hiding.hidden)
        result.accounts.add(account.pk)


MENTION_TIMEOUT = 8.0  # seconds: Meta waits for our answer, so a slow read gives up early


def read_mention(accounts: list[SocialAccount], ig_id: str, mention: Mention):
    """The mention's text and author from Graph, with the first account whose token works."""
    from tertulia.inbox.services import IncomingAuthor, IncomingInteraction

    from ..errors import ConnectorError
    from ..facebook.connector import FacebookConnector, graph_time
    from .connect import http_config

    config = http_config()
    config = dataclasses.replace(config, read_timeout=min(config.read_timeout, MENTION_TIMEOUT))
    if mention.comment_id:
        fields = f"mentioned_comment.comment_id({mention.comment_id}){{id,text,timestamp,media{{id}}}}"
    else:
        fields = f"mentioned_media.media_id({mention.media_id}){{id,caption,timestamp,username,permalink}}"
    for account in accounts:
        if account.status != SocialAccount.Status.CONNECTED or not account.access_token:
            continue
        graph = FacebookConnector.for_account(account, http_config=config)
        try:
            with graph:
                data = graph._get(ig_id, fields=fields)
        except ConnectorError as err:
            log.info("meta webhook: mention %s not read with account %s: %s", mention, account.pk, err.log_line())
            continue
        if mention.comment_id:
            row = data.get("mentioned_comment") if isinstance(data.get("mentioned_comment"), dict) else {}
            text, author = row.get("text"), None
        else:
            row = data.get("mentioned_media") if isinstance(data.get("mentioned_media"), dict) else {}
            text, author = row.get("caption"), clean_text(str(row.get("username") or ""), 100)
        if _id(row.get("id")) != (mention.comment_id or mention.media_id):
            continue
        external_id = mention.comment_id or mention.media_id
        return IncomingInteraction(
            external_id=f"mention:{external_id}", kind="mention",
            # Graph does not say who wrote a mentioning comment; a caption names its author.
            author=IncomingAuthor(external_id=f"username:{author}" if author else f"unknown:{external_id}",
                                  handle=f"@{author}" if author else "Instagram", display_name=author or ""),
            text=clean_text(text if isinstance(text, str) else "", MAX_TEXT),
            created_at=graph_time(row.get("timestamp")) or _time(mention.at),
            root_external_id=mention.media_id, parent_external_id=mention.comment_id or mention.media_id)
    return None
