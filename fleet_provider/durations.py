"""Elasticsearch durations (``30d``) and ISO-8601 expiry timestamps, as Kibana accepts them."""

from __future__ import annotations

import math
import re
from datetime import datetime, timedelta, timezone

from fleet_provider.exceptions import InputError

# Kibana 9.3+ validates `expiration` with /^[1-9]\d*(d|h|m|s)$/ and these per-unit maxima
# (Elasticsearch's TimeValue ceiling, Long.MAX_VALUE nanoseconds, about 106,751 days).
DURATION_PATTERN = re.compile(r"^([1-9]\d*)(d|h|m|s)$")
MAX_BY_UNIT = {"d": 106751, "h": 2562024, "m": 153721440, "s": 9223286400}
SECONDS_PER_UNIT = {"d": 86400, "h": 3600, "m": 60, "s": 1}


def parse_duration(text: str, property_name: str) -> timedelta:
    """Parse ``30d``, ``24h``, ``90m`` or ``60s``; raise InputError naming the property."""
    match = DURATION_PATTERN.match(text)
    if not match:
        raise InputError(
            property_name,
            f"{text!r} is not a duration: use a whole number followed by d, h, m or s, "
            "e.g. 30d, 24h, 90m, 60s",
        )
    amount, unit = int(match[1]), match[2]
    if amount > MAX_BY_UNIT[unit]:
        raise InputError(
            property_name,
            f"{text!r} is longer than Elasticsearch allows: at most {MAX_BY_UNIT[unit]}{unit}",
        )
    return timedelta(seconds=amount * SECONDS_PER_UNIT[unit])


def parse_timestamp(text: str, property_name: str) -> datetime:
    """Parse an ISO-8601 timestamp with a time zone, e.g. ``2027-01-01T00:00:00Z``."""
    candidate = text.strip()
    if candidate.endswith(("Z", "z")):
        candidate = candidate[:-1] + "+00:00"
    try:
        moment = datetime.fromisoformat(candidate)
    except ValueError:
        raise InputError(
            property_name,
            f"{text!r} is neither a duration (30d, 24h, 90m, 60s) nor an ISO-8601 timestamp "
            "(2027-01-01T00:00:00Z)",
        ) from None
    if moment.tzinfo is None:
        raise InputError(
            property_name,
            f"{text!r} has no time zone: add Z or an offset such as +02:00",
        )
    return moment


def is_duration(text: str) -> bool:
    """True when ``text`` looks like a duration rather than a timestamp."""
    return DURATION_PATTERN.match(text) is not None


def validate_expiration(text: str, now: datetime | None = None) -> None:
    """Check an ``expiration`` input: a duration, or a timestamp still in the future."""
    if is_duration(text) or re.match(r"^\d+[a-z]*$", text):
        parse_duration(text, "expiration")
        return
    moment = parse_timestamp(text, "expiration")
    current = now or datetime.now(timezone.utc)
    if moment <= current:
        raise InputError(
            "expiration",
            f"{text!r} is in the past: give a future timestamp, or a duration such as 90d",
        )


def expiration_for_kibana(text: str, now: datetime | None = None) -> str:
    """The duration to send Kibana: a duration as given, a timestamp as seconds from now.

    Kibana's own API examples show a timestamp, but Kibana 9.3+ accepts only durations.
    """
    validate_expiration(text, now)
    if is_duration(text):
        return text
    current = now or datetime.now(timezone.utc)
    seconds = math.ceil((parse_timestamp(text, "expiration") - current).total_seconds())
    return f"{max(seconds, 1)}s"
