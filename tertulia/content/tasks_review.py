"""Background job of the approval workflow: e-mailing a client their review link.

Huey's consumer registers tasks from each app's ``tasks`` module; ``content/tasks.py`` imports
this module so the consumer knows the task."""

from huey.contrib.djhuey import db_task


@db_task(retries=5, retry_delay=60)
def send_review_link_email(link_id: int, raw_token: str, language: str) -> bool:
    """Retried when the SMTP server is down; a link revoked, used or expired meanwhile is not sent."""
    from .approvals import is_valid, send_review_link
    from .models import ReviewLink

    link = ReviewLink.objects.select_related("brand", "post", "created_by").filter(pk=link_id).first()
    if not is_valid(link) or not link.reviewer_email:
        return False
    send_review_link(link, raw_token, language)
    return True
