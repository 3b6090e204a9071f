"""System checks that catch a configuration that would lose work silently."""

from django.conf import settings
from django.core import checks
from django.utils.translation import gettext_lazy as _


@checks.register(checks.Tags.compatibility)
def jobs_are_shared_when_the_database_is(app_configs, **kwargs):
    return jobs_warnings(settings.DATABASES["default"]["ENGINE"], settings.HUEY)


def jobs_warnings(engine: str, huey: dict) -> list[checks.CheckMessage]:
    # With PostgreSQL, Tertulia is usually spread over several machines. Without REDIS_URL each
    # machine queues jobs in its own var/huey.sqlite3, and a job queued by a web-only machine
    # (an invitation e-mail, a post to publish) would wait for a consumer that never looks there.
    if engine.endswith("postgresql") and huey.get("huey_class") == "huey.SqliteHuey" and not huey.get("immediate"):
        return [checks.Warning(
            _("Jobs are queued in a local SQLite file while the database is PostgreSQL."),
            hint=_("If Tertulia runs on more than one machine, set REDIS_URL so every consumer sees every job."),
            id="tertulia.W001",
        )]
    return []
