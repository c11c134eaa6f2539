"""Expiration and rotation inputs: Elasticsearch durations and ISO-8601 timestamps, as Kibana
takes them (ASCII digits only, nothing around them, its per-unit maxima)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from fleet_provider.durations import (
    MAX_SECONDS,
    check_expiration,
    expiration_for_kibana,
    has_passed,
    is_duration,
    parse_duration,
    parse_timestamp,
    read_timestamp,
)
from fleet_provider.exceptions import InputError

NOW = datetime(2026, 1, 1, tzinfo=timezone.utc)
NOT_A_DURATION = (
    "is not a duration: use a whole number followed by d, h, m or s, e.g. 30d, 24h, 90m, 60s"
)


def message(call: object, *args: object) -> str:
    with pytest.raises(InputError) as caught:
        call(*args)  # type: ignore[operator]
    return str(caught.value)


# -- durations --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("30d", 30 * 86400),
        ("24h", 86400),
        ("90m", 5400),
        ("60s", 60),
        ("1s", 1),
        ("106751d", 106751 * 86400),
        ("2562024h", 2562024 * 3600),
        ("153721440m", 153721440 * 60),
        ("9223286400s", 9223286400),
    ],
)
def test_kibanas_durations_parse_up_to_each_units_maximum(text: str, seconds: int) -> None:
    assert parse_duration(text, "rotate_after") == timedelta(seconds=seconds)
    assert is_duration(text)
    assert expiration_for_kibana(text, NOW) == text  # sent as given


@pytest.mark.parametrize(
    ("text", "maximum"),
    [("106752d", "106751d"), ("2562025h", "2562024h"), ("153721441m", "153721440m"), ("9223286401s", "9223286400s")],
)  # fmt: skip
def test_one_more_than_a_units_maximum_is_refused(text: str, maximum: str) -> None:
    assert message(parse_duration, text, "expiration") == (
        f"expiration {text!r} is longer than Elasticsearch allows: at most {maximum}"
    )


@pytest.mark.parametrize(
    "text",
    [
        "0d",
        "030d",
        "500ms",
        "1y",
        "30D",
        "30",
        "d",
        "+30d",
        "-1d",
        "1.5d",
        "30dd",
        "1w",
        "100micros",
    ],
)
def test_anything_but_a_whole_number_and_a_lower_case_unit_is_not_a_duration(text: str) -> None:
    assert (
        message(parse_duration, text, "rotate_after") == f"rotate_after {text!r} {NOT_A_DURATION}"
    )
    assert not is_duration(text)


@pytest.mark.parametrize(
    "text", ["30d\n", " 30d", "30d ", "30 d", "\t30d", "30d\u00a0", "30d\u2028"]
)
def test_whitespace_anywhere_is_refused(text: str) -> None:
    assert message(parse_duration, text, "expiration") == (
        f"expiration {text!r} contains whitespace: remove it"
    )
    assert not is_duration(text)


@pytest.mark.parametrize(
    ("text", "char", "described"),
    [
        ("1\u0663d", "\u0663", "U+0663 ARABIC-INDIC DIGIT THREE"),
        ("\u0663\u0660d", "\u0663", "U+0663 ARABIC-INDIC DIGIT THREE"),
        ("\uff13\uff10d", "\uff13", "U+FF13 FULLWIDTH DIGIT THREE"),
        ("3\u0969d", "\u0969", "U+0969 DEVANAGARI DIGIT THREE"),
        ("30\u0434", "\u0434", "U+0434 CYRILLIC SMALL LETTER DE"),
    ],
)
def test_digits_and_letters_of_other_scripts_are_refused(
    text: str, char: str, described: str
) -> None:
    # Python's int() reads "1\u0663" as 13 and re's \d matches it; Kibana's JavaScript does not.
    assert int("1\u0663") == 13
    assert message(parse_duration, text, "rotate_after") == (
        f"rotate_after {text!r} contains {char!r} ({described}), which is not ASCII: write it "
        "with the ASCII digits 0-9 and letters, e.g. 30d, 24h, 90m, 60s"
    )
    assert not is_duration(text)


# -- timestamps -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2027-01-01T00:00:00Z", datetime(2027, 1, 1, tzinfo=timezone.utc)),
        ("2027-01-01t00:00:00z", datetime(2027, 1, 1, tzinfo=timezone.utc)),
        ("2027-01-01T00:00Z", datetime(2027, 1, 1, tzinfo=timezone.utc)),
        ("2027-01-01T02:00:00+02:00", datetime(2027, 1, 1, tzinfo=timezone.utc)),
        ("2027-01-01T02:00:00+0200", datetime(2027, 1, 1, tzinfo=timezone.utc)),
        ("2027-01-01T02:00:00+02", datetime(2027, 1, 1, tzinfo=timezone.utc)),
        ("2026-12-31T19:00:00-05:00", datetime(2027, 1, 1, tzinfo=timezone.utc)),
        ("2027-01-01T00:00:00.5Z", datetime(2027, 1, 1, 0, 0, 0, 500000, tzinfo=timezone.utc)),
        ("2027-01-01T00:00:00.123456789Z", datetime(2027, 1, 1, 0, 0, 0, 123456, tzinfo=timezone.utc)),
    ],
)  # fmt: skip
def test_timestamps_with_a_time_zone_parse(text: str, expected: datetime) -> None:
    assert parse_timestamp(text, "expiration") == expected
    assert check_expiration(text, NOW) == expected


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("2027-01-01T00:00:00", "has no time zone: add Z or an offset such as +02:00"),
        ("2027-01-01", "has no time of day and no time zone: write 2027-01-01T00:00:00Z, or another time"),
        ("next week", "is neither a duration (30d, 24h, 90m, 60s) nor an ISO-8601 timestamp (2027-01-01T00:00:00Z)"),
        ("20270101T000000Z", "is neither a duration (30d, 24h, 90m, 60s) nor an ISO-8601 timestamp (2027-01-01T00:00:00Z)"),
        ("2027-W01-1T00:00:00Z", "is neither a duration (30d, 24h, 90m, 60s) nor an ISO-8601 timestamp (2027-01-01T00:00:00Z)"),
        ("2027-13-01T00:00:00Z", "is not a valid date and time: month must be in 1..12"),
        ("2027-02-30T00:00:00Z", "is not a valid date and time: day is out of range for month"),
        ("2027-01-01T24:00:00Z", "is not a valid date and time: hour must be in 0..23"),
        ("2027-01-01T00:00:60Z", "is not a valid date and time: second must be in 0..59"),
        ("2027-01-01T00:00:00+24:00", "is not a valid date and time: the offset +24:00 is not a time zone (at most +23:59)"),
        ("2027-01-01T00:00:00Z\n", "contains whitespace: remove it"),
        ("2027-01-01 00:00:00Z", "separates the date and the time with a space: write a T, e.g. 2027-01-01T00:00:00Z"),
        ("in a month", "is neither a duration (30d, 24h, 90m, 60s) nor an ISO-8601 timestamp (2027-01-01T00:00:00Z)"),
        ("\uff12027-01-01T00:00:00Z", "contains '\uff12' (U+FF12 FULLWIDTH DIGIT TWO), which is not ASCII: write it with the ASCII digits 0-9 and letters, e.g. 90d or 2027-01-01T00:00:00Z"),
        ("2400-01-01T00:00:00Z", "is more than 9223286400 seconds (about 292 years) from now, the longest expiry Kibana takes: give an earlier time"),
    ],
)  # fmt: skip
def test_bad_timestamps_name_the_input_and_the_fix(text: str, problem: str) -> None:
    assert message(check_expiration, text, NOW) == f"expiration {text!r} {problem}"


def test_the_latest_timestamp_is_kibanas_longest_expiry_from_now() -> None:
    latest = NOW + timedelta(seconds=MAX_SECONDS)
    text = latest.isoformat().replace("+00:00", "Z")
    assert check_expiration(text, NOW) == latest
    assert expiration_for_kibana(text, NOW) == "9223286400s"
    later = (latest + timedelta(seconds=1)).isoformat().replace("+00:00", "Z")
    with pytest.raises(InputError, match="longest expiry Kibana takes"):
        check_expiration(later, NOW)


def test_a_passed_timestamp_is_not_refused_and_is_sent_as_the_shortest_expiry() -> None:
    assert check_expiration("2025-12-31T23:59:59Z", NOW) == datetime(
        2025, 12, 31, 23, 59, 59, tzinfo=timezone.utc
    )
    assert has_passed("2025-12-31T23:59:59Z", NOW)
    assert has_passed("2026-01-01T00:00:00Z", NOW)
    assert not has_passed("2026-01-01T00:00:01Z", NOW)
    assert not has_passed("30d", NOW)
    assert expiration_for_kibana("2020-01-01T00:00:00Z", NOW) == "1s"


def test_a_future_timestamp_becomes_seconds_from_now_rounded_up() -> None:
    assert expiration_for_kibana("2026-01-02T00:00:00Z", NOW) == "86400s"
    assert expiration_for_kibana("2026-01-01T02:00:00+01:00", NOW) == "3600s"
    assert expiration_for_kibana("2026-01-01T00:00:00.1Z", NOW) == "1s"


def test_state_written_by_an_older_release_still_reads() -> None:
    # datetime.fromisoformat (Python 3.11+) took a space for the T, which is now refused.
    assert read_timestamp("2027-01-01 00:00:00+00:00") == datetime(2027, 1, 1, tzinfo=timezone.utc)
    assert expiration_for_kibana("2026-01-02 00:00:00+00:00", NOW) == "86400s"
    assert read_timestamp("2024-01-01T00:00:00.000Z") == datetime(2024, 1, 1, tzinfo=timezone.utc)
    assert read_timestamp("2027-01-01T00:00:00") is None  # no time zone
    assert read_timestamp("soon") is None
    assert read_timestamp(None) is None
