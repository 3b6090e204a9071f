"""The inbox list writes its dates without a DateFormat per value (views._DateFormat): the same
text as the ``date`` filter, in both languages, at every hour (noon and midnight included)."""

from datetime import datetime, timedelta, timezone

import pytest
from django.template.defaultfilters import date
from django.utils import translation

from tertulia.inbox.views import _DateFormat


@pytest.mark.parametrize("language", ["es", "en"])
@pytest.mark.parametrize("name", ["SHORT_DATETIME_FORMAT", "DATETIME_FORMAT", "SHORT_DATE_FORMAT"])
def test_the_fast_date_format_writes_what_the_date_filter_writes(language, name):
    start = datetime(2026, 1, 1, 0, 0, 30, tzinfo=timezone.utc)
    with translation.override(language):
        fmt = _DateFormat(name)
        for step in range(0, 60 * 24 * 3, 7):
            value = start + timedelta(minutes=step, days=step % 300)
            assert fmt(value) == date(value, name), value
        assert fmt(datetime(2026, 6, 1, 12, 0)) == date(datetime(2026, 6, 1, 12, 0), name)
        assert fmt(None) == "" and fmt("") == ""
