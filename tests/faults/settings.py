"""The settings of the consumers the fault tests start: production's, plus the polling and
report knobs that production reads from no environment variable (short leases, so a test does
not wait ten minutes for one to expire), plus the fault hooks of ``inject.py``."""

import os

from tertulia.settings import *  # noqa: F403

from . import inject

INBOX_POLLING = {
    "LEASE_SECONDS": float(os.environ.get("INBOX_LEASE_SECONDS", "600")),
    "WORKERS": 1,
    "JITTER": 0.0,
}
if os.environ.get("REPORTS_RUN_LEASE_SECONDS"):
    REPORTS = {"RUN_LEASE_SECONDS": float(os.environ["REPORTS_RUN_LEASE_SECONDS"]),
               "SEND_LEASE_SECONDS": float(os.environ.get("REPORTS_SEND_LEASE_SECONDS", "600"))}

inject.install()

