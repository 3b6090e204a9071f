"""Background jobs of the core app."""

from huey import crontab
from huey.contrib.djhuey import db_periodic_task, db_task

from .models import Invitation


@db_task(retries=5, retry_delay=60)
def send_invitation_email(invitation_id: int, raw_token: str, language: str) -> bool:
    """E-mail an invitation link. Retried when the SMTP server is down; a revoked or
    accepted invitation is not sent."""
    from .services import send_invitation_email as send

    inv = Invitation.objects.select_related("brand", "invited_by").filter(pk=invitation_id).first()
    if inv is None or not inv.is_open:
        return False
    send(inv, raw_token, language)
    return True


@db_periodic_task(crontab(minute="17"))
def prune_login_failures() -> int:
    from .throttle import prune

    return prune()


@db_task(retries=5, retry_delay=60)
def send_notification_emails(ids: list[int]) -> int:
    """E-mail notifications; retried when the SMTP server is down, never sent twice."""
    from .notifications import send_emails

    return send_emails(ids)


@db_periodic_task(crontab(minute="41"))
def purge_deleted_brands() -> int:
    """Brands deleted more than BRAND_DELETE_GRACE_DAYS ago are purged for good (rows and files)."""
    from .brand_lifecycle import purge_expired

    return purge_expired()


@db_task(retries=2, retry_delay=60)
def build_brand_export(export_id: int) -> str:
    """Build a brand's export zip (tertulia/core/export.py) and tell whoever asked for it."""
    from .export import build

    return build(export_id)


@db_periodic_task(crontab(minute="23"))
def expire_brand_exports() -> int:
    """Remove the files of exports whose download link has expired."""
    from .export import expire

    return expire()
