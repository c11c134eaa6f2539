"""Expiration inputs: Elasticsearch durations and future ISO-8601 timestamps."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from fleet_provider.durations import expiration_for_kibana, validate_expiration
from fleet_provider.exceptions import InputError

NOW = datetime(2026, 1, 1, tzinfo=timezone.utc)


@pytest.mark.parametrize("text", ["30d", "24h", "90m", "60s", "106751d", "9223286400s"])
def test_durations_pass_through_unchanged(text: str) -> None:
    assert expiration_for_kibana(text, NOW) == text


def test_future_timestamp_becomes_seconds_from_now() -> None:
    assert expiration_for_kibana("2026-01-02T00:00:00Z", NOW) == "86400s"
    assert expiration_for_kibana("2026-01-01T02:00:00+01:00", NOW) == "3600s"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "0d",
            "expiration '0d' is not a duration: use a whole number followed by d, h, m or s, "
            "e.g. 30d, 24h, 90m, 60s",
        ),
        (
            "500ms",
            "expiration '500ms' is not a duration: use a whole number followed by d, h, m or "
            "s, e.g. 30d, 24h, 90m, 60s",
        ),
        ("106752d", "expiration '106752d' is longer than Elasticsearch allows: at most 106751d"),
        (
            "2025-12-31T23:59:59Z",
            "expiration '2025-12-31T23:59:59Z' is in the past: give a future timestamp, or a "
            "duration such as 90d",
        ),
        (
            "2027-01-01T00:00:00",
            "expiration '2027-01-01T00:00:00' has no time zone: add Z or an offset such as +02:00",
        ),
        (
            "next week",
            "expiration 'next week' is neither a duration (30d, 24h, 90m, 60s) nor an ISO-8601 "
            "timestamp (2027-01-01T00:00:00Z)",
        ),
    ],
)
def test_bad_expirations_name_the_input_and_the_fix(text: str, message: str) -> None:
    with pytest.raises(InputError) as caught:
        validate_expiration(text, NOW)
    assert str(caught.value) == message
