"""The inbox list and the dashboard's tables write their dates without a Django DateFormat per
value (core.dateformats.DateFormat): the same text as the ``date`` filter, in both languages, at
every hour (noon and midnight included), for date-times and for plain dates."""

from datetime import date as day, datetime, timedelta, timezone

import pytest
from django.template.defaultfilters import date
from django.utils import translation
from django.utils.formats import get_format

from tertulia.core.dateformats import DateFormat


@pytest.mark.parametrize("language", ["es", "en"])
@pytest.mark.parametrize("name", ["SHORT_DATETIME_FORMAT", "DATETIME_FORMAT", "SHORT_DATE_FORMAT"])
def test_the_fast_date_format_writes_what_the_date_filter_writes(language, name):
    start = datetime(2026, 1, 1, 0, 0, 30, tzinfo=timezone.utc)
    with translation.override(language):
        fmt = DateFormat(get_format(name))
        for step in range(0, 60 * 24 * 3, 7):
            value = start + timedelta(minutes=step, days=step % 300)
            assert fmt(value) == date(value, name), value
        assert fmt(datetime(2026, 6, 1, 12, 0)) == date(datetime(2026, 6, 1, 12, 0), name)
        assert fmt(None) == "" and fmt("") == ""


@pytest.mark.parametrize("language", ["es", "en"])
def test_plain_dates_in_the_short_date_format(language):
    with translation.override(language):
        fmt = DateFormat(get_format("SHORT_DATE_FORMAT"))
        assert not fmt.needs_time
        for offset in range(0, 800, 13):
            value = day(2025, 12, 28) + timedelta(days=offset)
            assert fmt(value) == date(value, "SHORT_DATE_FORMAT"), value
