"""Listening's background work: polling the sources (each on its own schedule).

Huey discovers only ``tasks.py`` in each app, so this module also imports the trend/spike and
competitor task modules.
"""

from importlib import import_module
from importlib.util import find_spec

from huey import crontab
from huey.contrib.djhuey import db_periodic_task


@db_periodic_task(crontab(minute="*"))
def poll_sources() -> dict:
    """Poll every listening source that is due (leases, backoff: see ``sources``)."""
    from . import sources

    return sources.poll_due_sources()


# The other listening task modules (trends and spikes, competitors), registered with Huey here.
for _name in ("tasks_trends", "tasks_competitors"):
    if find_spec(f"{__package__}.{_name}") is not None:
        import_module(f"{__package__}.{_name}")
