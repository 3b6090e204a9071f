"""Huey reads each app's top-level ``tasks`` module; the networks' own jobs live in their
packages and are registered here."""

from .linkedin import tasks as linkedin_tasks  # noqa: F401  (the 60-day sign-in warning)
from .whatsapp import tasks as whatsapp_tasks  # noqa: F401  (read receipts)
