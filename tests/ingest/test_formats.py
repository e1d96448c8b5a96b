from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import pytest

from airflow_provider_peak.ingest.formats import DateTimeFormat


@pytest.mark.parametrize(
    ("pattern", "kind", "text", "ok"),
    [
        (None, "date", "2024-02-29", True),
        (None, "date", "2023-02-29", False),
        (None, "date", "2024-2-9", False),
        (None, "date", "20240229", False),
        (None, "timestamp", "2024-02-29T23:59:59", True),
        (None, "timestamp", "2024-02-29 23:59:59.123456789Z", True),
        (None, "timestamp", "2024-02-29T23:59:59+05:30", True),
        (None, "timestamp", "2024-02-29T23:59:59-0800", True),
        (None, "timestamp", "2024-02-29T24:00:00", False),
        (None, "timestamp", "2024-02-29", False),
        ("DD/MM/YYYY", "date", "31/12/2024", True),
        ("DD/MM/YYYY", "date", "31/11/2024", False),
        ("YYYY-MM-DD HH24:MI:SS", "timestamp", "2024-01-05 07:08:09", True),
        ("YYYY-MM-DD HH24:MI:SS", "timestamp", "2024-01-05T07:08:09", False),
        ("YYYY-MM-DD HH24:MI:SS.FF TZH:TZM", "timestamp", "2024-01-05 07:08:09.5 -05:30", True),
        ("YYYY-MM-DD HH24:MI:SS.FF TZH:TZM", "timestamp", "2024-01-05 07:08:09 -05:30", False),
        ("YYYYMMDD", "date", "20240105", True),
    ],
)
def test_parse_matches_format_and_calendar(pattern, kind, text, ok):
    assert (DateTimeFormat(pattern, kind).parse(text) is not None) is ok


def test_parse_reads_offsets():
    fmt = DateTimeFormat("YYYY-MM-DD HH24:MI:SS TZH:TZM", "timestamp")
    parsed = fmt.parse("2024-01-05 07:08:09 -05:30")
    assert parsed is not None
    assert parsed.utcoffset() == -timedelta(hours=5, minutes=30)


@pytest.mark.parametrize(
    ("pattern", "kind", "value", "text"),
    [
        (None, "date", date(2024, 1, 5), "2024-01-05"),
        (None, "date", datetime(2024, 1, 5, 7), "2024-01-05"),
        (None, "timestamp", datetime(2024, 1, 5, 7, 8, 9), "2024-01-05T07:08:09"),
        (None, "timestamp", date(2024, 1, 5), "2024-01-05T00:00:00"),
        ("DD.MM.YYYY", "date", date(2024, 1, 5), "05.01.2024"),
        (
            "YYYY-MM-DD HH24:MI:SS.FF TZH:TZM",
            "timestamp",
            datetime(2024, 1, 5, 7, 8, 9, 120, tzinfo=timezone(-timedelta(hours=5, minutes=30))),
            "2024-01-05 07:08:09.000120 -05:30",
        ),
    ],
)
def test_render_round_trips(pattern, kind, value, text):
    fmt = DateTimeFormat(pattern, kind)
    assert fmt.render(value) == text
    assert fmt.parse(text) is not None


def test_render_refuses_a_naive_datetime_for_a_zoned_format():
    fmt = DateTimeFormat("YYYY-MM-DD HH24:MI:SS TZH:TZM", "timestamp")
    with pytest.raises(ValueError, match="naive datetime"):
        fmt.render(datetime(2024, 1, 5))


@pytest.mark.parametrize(
    "text",
    [
        "\u0662\u0660\u0662\u0664-01-05 07:08:09 +00:00",  # Arabic-Indic digits
        "2024-01-05 07:08:09 +19:00",  # beyond ±18:00
        "2024-01-05 07:08:09 +05:75",  # minute 75
        "2024-01-05 07:60:09 +05:00",  # minute 60
    ],
)
def test_parse_rejects_non_ascii_digits_and_impossible_offsets(text):
    assert DateTimeFormat("YYYY-MM-DD HH24:MI:SS TZH:TZM", "timestamp").parse(text) is None


def test_render_rejects_offsets_that_cannot_be_written():
    fmt = DateTimeFormat(None, "timestamp")
    with pytest.raises(ValueError, match="whole minutes within"):
        fmt.render(datetime(2024, 1, 5, tzinfo=timezone(timedelta(hours=5, minutes=30, seconds=15))))
    with pytest.raises(ValueError, match="whole minutes within"):
        fmt.render(datetime(2024, 1, 5, tzinfo=timezone.min))


def test_a_date_renders_as_midnight_in_a_time_format():
    assert DateTimeFormat("YYYY-MM-DD HH24:MI", "timestamp").render(date(2024, 1, 5)) == "2024-01-05 00:00"


def test_tzm_needs_tzh():
    from airflow_provider_peak.ingest.formats import FormatError

    with pytest.raises(FormatError, match="TZM without TZH"):
        DateTimeFormat("YYYY-MM-DD HH24:MI TZM", "timestamp")
