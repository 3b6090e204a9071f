"""Huey jobs for LinkedIn pages. Registered when this module is imported (the networks app
imports it; Huey's autodiscovery only reads each app's top-level ``tasks`` module)."""

from __future__ import annotations

from huey import crontab
from huey.contrib.djhuey import db_periodic_task, lock_task

from .expiry import warn_expiring


@db_periodic_task(crontab(minute="41", hour="*/6"))
@lock_task("linkedin-expiry-warnings")
def linkedin_expiry_warnings() -> int:
    """Four times a day: warn about LinkedIn sign-ins that end within a week and cannot be renewed."""
    return warn_expiring()
