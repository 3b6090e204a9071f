"""Wall-clock times in a brand's zone, the same way everywhere (composer, calendar, CSV import,
queue slots).

Twice a year a wall time is special (PEP 495):
- in the autumn overlap (clocks go back) it happens twice: we take the first occurrence;
- in the spring gap (clocks go forward) it does not exist: ``resolve`` moves it to the moment of
  the change (02:30 on the spring-forward night in Madrid becomes 03:00 CEST), and ``exists``
  lets a form refuse it instead.
"""

from __future__ import annotations

from datetime import UTC, datetime, tzinfo


def exists(naive: datetime, tz: tzinfo) -> bool:
    """Whether the wall time ``naive`` exists in ``tz`` (False inside a spring-forward gap)."""
    naive = naive.replace(tzinfo=None, fold=0)
    return naive.replace(tzinfo=tz).astimezone(UTC).astimezone(tz).replace(tzinfo=None) == naive


def resolve(naive: datetime, tz: tzinfo) -> datetime:
    """The aware datetime (in ``tz``) that the wall time ``naive`` means there."""
    naive = naive.replace(tzinfo=None, fold=0)
    first = naive.replace(tzinfo=tz)
    if exists(naive, tz):
        return first  # fold=0: the earlier of the two instants when the wall time repeats
    # Inside a gap: fold=0 maps with the offset before the jump and fold=1 with the offset
    # after, so the jump lies between the two instants. Find it to the second.
    lo, hi = sorted((int(first.timestamp()), int(naive.replace(tzinfo=tz, fold=1).timestamp())))
    after = datetime.fromtimestamp(hi, UTC).astimezone(tz).utcoffset()
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if datetime.fromtimestamp(mid, UTC).astimezone(tz).utcoffset() == after:
            hi = mid
        else:
            lo = mid
    return datetime.fromtimestamp(hi, UTC).astimezone(tz)
