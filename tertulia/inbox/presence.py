"""Collision detection: who else has a conversation open, and who is writing an answer.

Opening a conversation records a ``Presence`` row (one per user and conversation, updated in
place); the page polls every few seconds, which keeps the row fresh, and typing in the reply box
marks it ``composing`` (the page sends its draft with each poll, so a box emptied or sent
clears the mark). Anyone seen within ``WINDOW`` is "here". The rows are ephemeral state,
not business data: no audit log, and a stale row simply stops counting after the window.

``replied_since`` is the other half: a reply posted by someone who opened the page before a
colleague answered is held back until its author confirms (no double answers).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import IntegrityError, transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone

from .models import Conversation, Interaction, OutgoingReply, Presence

WINDOW = timedelta(seconds=30)


@dataclass(frozen=True, slots=True)
class Here:
    user_id: int
    name: str
    composing: bool
    seen_at: datetime


def touch(user, conversation: Conversation, *, composing: bool | None = None) -> None:
    """``user`` has ``conversation`` open now; ``composing`` True/False when the page says so
    (None leaves the mark as it is, within its window)."""
    now = timezone.now()
    values: dict = {"seen_at": now}
    if composing is not None:
        values["composing"] = composing
    updated = Presence.objects.filter(conversation=conversation, user=user).update(**values)
    if updated:
        return
    try:
        with transaction.atomic():
            Presence.objects.create(conversation=conversation, user=user, seen_at=now,
                                    composing=bool(composing))
    except IntegrityError:  # the other tab of the same person created it meanwhile
        Presence.objects.filter(conversation=conversation, user=user).update(**values)


def leave(user, conversation: Conversation) -> None:
    Presence.objects.filter(conversation=conversation, user=user).delete()


def others(user, conversation: Conversation, *, now: datetime | None = None) -> list[Here]:
    """Everyone but ``user`` seen on ``conversation`` within the window, writers first."""
    from tertulia.core.models import Membership

    now = now or timezone.now()
    # The conversation's brand still has to count them as members: a person removed from the
    # brand a minute ago must not keep showing up (nor their name leak to the page).
    member = Membership.objects.filter(brand_id=conversation.brand_id, user_id=OuterRef("user_id"))
    rows = (Presence.objects.filter(Exists(member), conversation=conversation, seen_at__gte=now - WINDOW)
            .exclude(user=user).order_by("-composing", "user__first_name", "user__username")
            .values_list("user_id", "user__first_name", "user__last_name", "user__username", "composing", "seen_at"))
    # The name as User.get_full_name() or get_username() gives it.
    return [Here(user_id, f"{first} {last}".strip() or username, composing, seen_at)
            for user_id, first, last, username, composing, seen_at in rows]


def replied_since(user, conversation: Conversation, since: datetime | None) -> list[str]:
    """Who answered ``conversation`` (other than ``user``) after ``since``: replies written in the
    inbox by a colleague, and answers the brand gave on the network itself. Names, or the
    network account's handle for answers given outside Tertulia."""
    if since is None:
        return []
    names: list[str] = []
    replies = (OutgoingReply.objects.filter(brand_id=conversation.brand_id, conversation=conversation,
                                             created_at__gt=since)
               .exclude(state=OutgoingReply.State.FAILED).exclude(created_by=user).select_related("created_by"))
    for r in replies:
        name = (r.created_by.get_full_name() or r.created_by.get_username()) if r.created_by else ""
        if name and name not in names:
            names.append(name)
    outside = (Interaction.objects.filter(brand_id=conversation.brand_id, conversation=conversation,
                                          direction=Interaction.Direction.OUTBOUND, received_at__gt=since)
               .exclude(external_id__in=replies.exclude(external_id="").values("external_id"))
               .exclude(external_id__in=OutgoingReply.objects.filter(conversation=conversation, created_by=user)
                        .exclude(external_id="").values("external_id")))
    for i in outside.select_related("account")[:5]:
        handle = i.account.handle
        if handle not in names:
            names.append(handle)
    return names
