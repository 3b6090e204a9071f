"""The state graph of a post × account target (DESIGN.md §3), Takahē style.

Every change of state goes through ``move``: the transition must be in ``ALLOWED``, and the
write is one conditional UPDATE on (id, state, version) that also bumps the version. Whoever
read the row first and acts on it second (a stale Huey task, a second consumer, a person
whose page is old) matches no row and changes nothing: ``move`` returns False.
"""

from __future__ import annotations

from django.db.models import F, Q

from .models import PostTarget

S = PostTarget.State

ALLOWED: dict[str, frozenset[str]] = {
    S.DRAFT: frozenset({S.PENDING_APPROVAL, S.APPROVED, S.SCHEDULED, S.CANCELED}),
    S.PENDING_APPROVAL: frozenset({S.DRAFT, S.APPROVED, S.SCHEDULED, S.CANCELED}),
    S.APPROVED: frozenset({S.SCHEDULED, S.DRAFT, S.CANCELED}),
    # scheduled -> scheduled: rescheduled, or a retry waiting for its next attempt.
    S.SCHEDULED: frozenset({S.SCHEDULED, S.PUBLISHING, S.APPROVED, S.DRAFT, S.CANCELED}),
    # publishing -> publishing: the sweeper takes over an expired lease to reconcile it.
    # A publishing target cannot be canceled or edited: the call may be on the wire.
    S.PUBLISHING: frozenset({S.PUBLISHING, S.PUBLISHED, S.SCHEDULED, S.FAILED, S.NEEDS_ATTENTION}),
    S.PUBLISHED: frozenset({S.DELETED}),  # deletion.do_delete_published, after the network deleted it
    S.DELETED: frozenset(),
    S.FAILED: frozenset({S.SCHEDULED, S.DRAFT, S.CANCELED}),
    S.NEEDS_ATTENTION: frozenset({S.SCHEDULED, S.DRAFT, S.CANCELED}),
    S.CANCELED: frozenset({S.DRAFT}),
}

FINISHED = frozenset({S.PUBLISHED, S.FAILED, S.NEEDS_ATTENTION, S.CANCELED})

# Fields ``move`` reloads after a successful write (some are F() expressions).
_RELOAD = ("state", "version", "attempts", "attempt_id", "next_attempt_at", "lease_expires_at", "due_at",
           "last_error", "error_note", "external_id", "external_url", "published_at")


class TransitionRefused(ValueError):
    def __init__(self, source: str, target: str):
        super().__init__(f"{source} -> {target} is not an allowed transition")
        self.source, self.target = source, target


def allowed(source: str, target: str) -> bool:
    return target in ALLOWED.get(source, frozenset())


def move(target: PostTarget, to: str, *, where: Q | None = None, **fields) -> bool:
    """Move ``target`` from the state and version it was read with to ``to``.

    Raises ``TransitionRefused`` for a transition the graph does not have (a programming or
    user error). Returns False when the row changed since it was read (or ``where`` does not
    hold): the caller lost a race and must not act on the network."""
    if not allowed(target.state, to):
        raise TransitionRefused(target.state, to)
    qs = PostTarget.objects.filter(pk=target.pk, state=target.state, version=target.version)
    if where is not None:
        qs = qs.filter(where)
    updated = qs.update(state=to, version=F("version") + 1, **fields)
    if not updated:
        return False
    target.refresh_from_db(fields=_RELOAD)
    if to in FINISHED:
        from tertulia.content.services import sync_post_state

        sync_post_state(target.post_id)
    return True
