"""Retrying a first comment that failed (issue 4).

The engine gives a first comment up (``comment_external_id == "failed"``) after a permanent
refusal, a sign-in the network no longer accepts, or too many temporary failures; the main
post stays published. Once the person fixed the cause (edited the comment, reconnected the
account) ``do_retry_comment`` sends it again: the progress field goes back to "not sent yet"
with a conditional UPDATE from ``failed`` (two clicks at once: one wins, the other is told it
changed) and the comment task is queued after the commit. The task then runs the usual
at-most-once step (claim, marker, find_published after an ambiguous answer).
"""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext_lazy as _

from tertulia.core import roles
from tertulia.core.services import Ctx, _log, _require

from . import engine
from .models import PostTarget

MSG_NOT_FAILED = _("Only a first comment that failed can be retried.")
MSG_NO_COMMENT = _("This post has no first comment to post.")
MSG_CHANGED_COMMENT = _("The first comment changed meanwhile. Reload the page to see where it is.")
MSG_COMMENT_INVALID = _("The first comment still cannot be posted as it is: %(problems)s")


@transaction.atomic
def do_retry_comment(ctx: Ctx, target: PostTarget) -> PostTarget:
    """Send a failed first comment again. COMPOSE; only when its status is ``failed``."""
    _require(ctx, target.brand, roles.COMPOSE)
    target = PostTarget.objects.select_related("account", "post", "brand").get(pk=target.pk, brand=target.brand)
    if not engine.comment_text(target):
        raise ValidationError(MSG_NO_COMMENT, code="no_comment")
    if target.state != PostTarget.State.PUBLISHED or engine.comment_status(target) != "failed":
        raise ValidationError(MSG_NOT_FAILED, code="state")
    problems = engine.comment_problems(target)
    if problems:
        raise ValidationError(MSG_COMMENT_INVALID, code="invalid",
                              params={"problems": " ".join(str(p.problem.message) for p in problems)})
    updated = PostTarget.objects.filter(pk=target.pk, state=PostTarget.State.PUBLISHED,
                                        comment_external_id=engine.COMMENT_FAILED).update(comment_external_id="")
    if not updated:
        raise ValidationError(MSG_CHANGED_COMMENT, code="changed")
    target.comment_external_id = ""
    engine._enqueue_comment(target.pk)
    _log(ctx, "post.retry_comment", brand=target.brand, obj=target,
         changes={"comment": [engine.COMMENT_FAILED, "queued"]})
    return target
