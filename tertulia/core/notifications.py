"""In-app notifications, and the e-mail that goes with them.

A notification stores a *note* (see ``core.notes``) so that each recipient reads it in their
own language, on the page and in the e-mail. ``notify`` is called inside the transaction that
caused it; the e-mail is queued on commit, so a rolled-back action e-mails nobody.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.utils import timezone, translation

from .models import Brand, Notification, User
from .notes import Note, render


def notify(recipients: Iterable[User], *, kind: str, message: Note, link: str = "", brand: Brand | None = None,
           email: bool = True, exclude: User | None = None) -> list[Notification]:
    """Notify each recipient once (duplicates and ``exclude``, usually the actor, are skipped)."""
    seen: set[int] = set()
    rows = []
    for user in recipients:
        if user is None or user.pk in seen or (exclude is not None and user.pk == exclude.pk) or not user.is_active:
            continue
        seen.add(user.pk)
        rows.append(Notification(recipient=user, brand=brand, kind=kind, message=message, link=link[:500]))
    created = Notification.objects.bulk_create(rows)
    if email:
        ids = [n.pk for n in created if n.recipient.email]
        if ids:
            from .tasks import send_notification_emails

            transaction.on_commit(lambda: send_notification_emails(ids))
    return created


def text(notification: Notification) -> str:
    """The notification in the current language."""
    return render(notification.message)


def unread_count(user) -> int:
    return Notification.objects.filter(recipient=user, read_at__isnull=True).count()


def mark_read(user, ids: Iterable[int] | None = None) -> int:
    """Mark some (or all) of the user's own notifications read; other users' ids are ignored."""
    qs = Notification.objects.filter(recipient=user, read_at__isnull=True)
    if ids is not None:
        qs = qs.filter(pk__in=list(ids))
    return qs.update(read_at=timezone.now())


def absolute(link: str) -> str:
    return f"{settings.SITE_URL}{link}" if link.startswith("/") else link


def send_emails(ids: Iterable[int]) -> int:
    """Send the e-mail of each notification not e-mailed yet, in the recipient's language.

    Marks each row before sending (a conditional UPDATE), so a retried task never e-mails twice."""
    sent = 0
    for n in Notification.objects.select_related("recipient", "brand").filter(pk__in=list(ids), emailed_at__isnull=True):
        if not Notification.objects.filter(pk=n.pk, emailed_at__isnull=True).update(emailed_at=timezone.now()):
            continue
        language = getattr(n.recipient, "language", "") or settings.LANGUAGE_CODE
        with translation.override(language):
            body = render(n.message)
            subject = f"[Tertulia{' · ' + n.brand.name if n.brand else ''}] {body[:120]}"
            link = absolute(n.link)
            send_mail(subject.replace("\n", " "), f"{body}\n\n{link}\n" if link else f"{body}\n",
                      settings.DEFAULT_FROM_EMAIL, [n.recipient.email])
        sent += 1
    return sent
