"""Background jobs of the content app: the hourly fetch of the idea-backlog feeds."""

from huey import crontab
from huey.contrib.djhuey import db_periodic_task, lock_task


@db_periodic_task(crontab(minute="23"))
@lock_task("content-fetch-feeds")
def fetch_feeds() -> dict:
    """Fetch every brand's feeds once an hour (at :23, away from the top of the hour when every
    other scheduler fires). Each feed is fetched on its own: one failure does not stop the rest;
    a problem is written to that feed's ``last_error``. The lock keeps a slow run from overlapping
    the next one."""
    from .feeds import fetch_all_feeds

    return fetch_all_feeds()


# The approval workflow's job (e-mailing a client their review link) lives in its own module;
# importing it here registers it with the Huey consumer.
from .tasks_review import send_review_link_email  # noqa: E402,F401
