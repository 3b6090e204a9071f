"""Faults injected at the process boundary of a consumer started by a fault test, chosen by
environment variables (read once, when its settings load). Nothing here touches Tertulia's
code: the clock is the operating system's, and the PDF renderer is a library.

- ``FAULT_CLOCK_OFFSET=120``: this process's wall clock runs 120 s ahead (``time.time``,
  ``django.utils.timezone.now`` and Huey's ``utcnow``, which decides when a task with an ETA is
  due), as on a machine whose NTP is broken. Debian's ``faketime`` would do the same for the
  whole process; this works without it. The database's clock is not affected.
- ``FAULT_SLOW_PDF=5``: WeasyPrint takes 5 s more to write each PDF (a loaded machine), and
  ``FAULT_MARK_DIR`` gets a file ``pdf-<n>`` when a rendering starts, so the test knows the
  consumer is in the middle of one.
"""

from __future__ import annotations

import datetime as _dt
import os
import time


def install() -> None:
    offset = float(os.environ.get("FAULT_CLOCK_OFFSET", "0") or 0)
    if offset:
        _skew_clock(offset)
    slow_pdf = float(os.environ.get("FAULT_SLOW_PDF", "0") or 0)
    if slow_pdf:
        _slow_pdf(slow_pdf, os.environ.get("FAULT_MARK_DIR", ""))


def _skew_clock(offset: float) -> None:
    real_time = time.time
    delta = _dt.timedelta(seconds=offset)
    time.time = lambda: real_time() + offset

    from django.utils import timezone

    real_now = timezone.now
    timezone.now = lambda: real_now() + delta

    import huey.api
    import huey.utils

    real_utcnow = huey.utils.utcnow
    huey.utils.utcnow = huey.api.utcnow = lambda: real_utcnow() + delta


def _slow_pdf(seconds: float, mark_dir: str) -> None:
    import weasyprint

    real = weasyprint.HTML.write_pdf
    counter = {"n": 0}

    def write_pdf(self, *args, **kwargs):
        counter["n"] += 1
        if mark_dir:
            with open(os.path.join(mark_dir, f"pdf-{os.getpid()}-{counter['n']}"), "w") as fh:
                fh.write(str(time.time()))
        time.sleep(seconds)
        return real(self, *args, **kwargs)

    weasyprint.HTML.write_pdf = write_pdf
