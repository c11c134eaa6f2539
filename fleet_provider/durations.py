"""Elasticsearch durations (``30d``) and ISO-8601 expiry timestamps, as Kibana accepts them.

Kibana tests ``expiration`` in JavaScript, whose ``\\d`` is ASCII-only and whose ``$`` ends the
string; Python's ``\\d`` and ``int()`` also take other scripts' digits (``1\\u0663d``) and ``$``
also matches before a final newline (``"30d\\n"``). So every pattern here spells out ``[0-9]``
and is matched whole, and text that is not plain ASCII without whitespace is refused first.
"""

from __future__ import annotations

import math
import re
import unicodedata
from datetime import datetime, timedelta, timezone

from fleet_provider.exceptions import InputError

# Kibana 9.3+ (elastic/kibana#281324, common/services: ES_ENROLLMENT_KEY_DURATION_REGEX and
# ES_ENROLLMENT_KEY_MAX_BY_UNIT) takes /^[1-9]\d*(d|h|m|s)$/ up to these per-unit maxima:
# Elasticsearch's TimeValue ceiling, Long.MAX_VALUE nanoseconds, about 106,751 days.
DURATION_PATTERN = re.compile(r"([1-9][0-9]*)([dhms])")
MAX_BY_UNIT = {"d": 106751, "h": 2562024, "m": 153721440, "s": 9223286400}
SECONDS_PER_UNIT = {"d": 86400, "h": 3600, "m": 60, "s": 1}
MAX_SECONDS = MAX_BY_UNIT["s"]
"""The longest expiry Kibana takes in seconds, the unit a timestamp is sent in."""

DURATION_EXAMPLES = "e.g. 30d, 24h, 90m, 60s"
# Text that reads as a number with a unit gets the duration messages, not the timestamp ones.
_DURATION_LIKE = re.compile(r"[0-9]+[A-Za-z]*")
# RFC 3339's profile of ISO 8601: a date, a time (seconds and fraction optional) and a zone.
_TIMESTAMP = re.compile(
    r"(?P<year>[0-9]{4})-(?P<month>[0-9]{2})-(?P<day>[0-9]{2})"
    r"(?:[Tt](?P<hour>[0-9]{2}):(?P<minute>[0-9]{2})"
    r"(?::(?P<second>[0-9]{2})(?:\.(?P<fraction>[0-9]{1,9}))?)?"
    r"(?P<zone>[Zz]|(?P<sign>[+-])(?P<zone_hour>[0-9]{2})(?::?(?P<zone_minute>[0-9]{2}))?)?)?"
)


def plain_text(text: str, property_name: str, example: str) -> None:
    """Refuse whitespace around or inside a value, and any character that is not ASCII.

    Whitespace inside is named only where taking it out leaves a value (``30 d``); prose
    (``next week``) gets the message about the value's form instead.
    """
    squeezed = "".join(text.split())
    if squeezed != text:
        if text != text.strip() or _DURATION_LIKE.fullmatch(squeezed):
            raise InputError(property_name, f"{text!r} contains whitespace: remove it")
        if _TIMESTAMP.fullmatch(text.replace(" ", "T", 1)):
            raise InputError(
                property_name,
                f"{text!r} separates the date and the time with a space: write a T, "
                "e.g. 2027-01-01T00:00:00Z",
            )
        return
    for char in text:
        if not char.isascii():
            label = unicodedata.name(char, "")
            described = f"{char!r} (U+{ord(char):04X}{' ' + label if label else ''})"
            raise InputError(
                property_name,
                f"{text!r} contains {described}, which is not ASCII: write it with the ASCII "
                f"digits 0-9 and letters, {example}",
            )


def parse_duration(text: str, property_name: str) -> timedelta:
    """Parse ``30d``, ``24h``, ``90m`` or ``60s`` as Kibana does; InputError names the input."""
    plain_text(text, property_name, DURATION_EXAMPLES)
    match = DURATION_PATTERN.fullmatch(text)
    if not match:
        raise InputError(
            property_name,
            f"{text!r} is not a duration: use a whole number followed by d, h, m or s, "
            f"{DURATION_EXAMPLES}",
        )
    amount, unit = int(match[1]), match[2]
    if amount > MAX_BY_UNIT[unit]:
        raise InputError(
            property_name,
            f"{text!r} is longer than Elasticsearch allows: at most {MAX_BY_UNIT[unit]}{unit}",
        )
    return timedelta(seconds=amount * SECONDS_PER_UNIT[unit])


def is_duration(text: object) -> bool:
    """True when ``text`` is written as a duration (``30d``) rather than a timestamp."""
    return isinstance(text, str) and DURATION_PATTERN.fullmatch(text) is not None


def parse_timestamp(text: str, property_name: str) -> datetime:
    """Parse an ISO-8601 timestamp with a time zone, e.g. ``2027-01-01T00:00:00Z``.

    Accepted: ``YYYY-MM-DDTHH:MM[:SS[.fraction]]`` and ``Z`` or an offset (``+02:00``,
    ``+0200``, ``+02``), in ASCII. The same on every Python (``datetime.fromisoformat``
    takes more from 3.11 than on 3.10).
    """
    example = "e.g. 2027-01-01T00:00:00Z"
    plain_text(text, property_name, example)
    match = _TIMESTAMP.fullmatch(text)
    if not match:
        raise InputError(
            property_name,
            f"{text!r} is neither a duration (30d, 24h, 90m, 60s) nor an ISO-8601 timestamp "
            "(2027-01-01T00:00:00Z)",
        )
    if match["hour"] is None:
        raise InputError(
            property_name,
            f"{text!r} has no time of day and no time zone: write "
            f"{match['year']}-{match['month']}-{match['day']}T00:00:00Z, or another time",
        )
    if match["zone"] is None:
        raise InputError(
            property_name, f"{text!r} has no time zone: add Z or an offset such as +02:00"
        )
    try:
        zone = _zone(match)
        fraction = (match["fraction"] or "").ljust(6, "0")[:6]
        return datetime(
            int(match["year"]),
            int(match["month"]),
            int(match["day"]),
            int(match["hour"]),
            int(match["minute"]),
            int(match["second"] or 0),
            int(fraction),
            tzinfo=zone,
        )
    except ValueError as error:
        raise InputError(property_name, f"{text!r} is not a valid date and time: {error}") from None


def _zone(match: re.Match[str]) -> timezone:
    if match["zone"] in ("Z", "z"):
        return timezone.utc
    hours, minutes = int(match["zone_hour"]), int(match["zone_minute"] or 0)
    if hours > 23 or minutes > 59:
        raise ValueError(f"the offset {match['zone']} is not a time zone (at most +23:59)")
    offset = timedelta(hours=hours, minutes=minutes)
    return timezone(-offset if match["sign"] == "-" else offset)


def read_timestamp(text: object) -> datetime | None:
    """A timestamp Kibana reported or an older release stored; None when it is none.

    Lenient where :func:`parse_timestamp` is strict: state written before these checks may
    hold a form that ``datetime.fromisoformat`` took.
    """
    if not isinstance(text, str):
        return None
    try:
        return parse_timestamp(text, "timestamp")
    except InputError:
        pass
    candidate = text.strip()
    if candidate.endswith(("Z", "z")):
        candidate = candidate[:-1] + "+00:00"
    try:
        moment = datetime.fromisoformat(candidate)
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else None


def seconds_until(moment: datetime, now: datetime) -> int:
    """Whole seconds from ``now`` to ``moment``, rounded up (what Kibana is sent)."""
    return math.ceil((moment - now).total_seconds())


def check_expiration(text: str, now: datetime | None = None) -> datetime | None:
    """Check an ``expiration`` as Kibana would take it; return the moment of a timestamp.

    A timestamp that has passed is not refused here (inputs.py warns instead: a check that
    failed on it would block every later change to the stack). One further away than Kibana's
    longest expiry is refused: that bound only moves later, so a value it once took stays good.
    """
    plain_text(text, "expiration", "e.g. 90d or 2027-01-01T00:00:00Z")
    if _DURATION_LIKE.fullmatch(text):
        parse_duration(text, "expiration")
        return None
    moment = parse_timestamp(text, "expiration")
    current = now or datetime.now(timezone.utc)
    if seconds_until(moment, current) > MAX_SECONDS:
        raise InputError(
            "expiration",
            f"{text!r} is more than {MAX_SECONDS} seconds (about 292 years) from now, the "
            "longest expiry Kibana takes: give an earlier time",
        )
    return moment


def has_passed(expiration: object, now: datetime | None = None) -> bool:
    """True when ``expiration`` is a timestamp that has passed."""
    if is_duration(expiration):
        return False
    moment = read_timestamp(expiration)
    return moment is not None and moment <= (now or datetime.now(timezone.utc))


def expiration_for_kibana(text: str, now: datetime | None = None) -> str:
    """The duration to send Kibana: a duration as given, a timestamp as seconds from now.

    Kibana's own API examples show a timestamp, but Kibana 9.3+ takes only durations. A
    timestamp that has passed becomes ``1s``, Kibana's shortest expiry: the key expires at
    once, as declared.
    """
    if is_duration(text):
        return text
    moment = read_timestamp(text)
    if moment is None:
        check_expiration(text, now)  # raises the message that names the problem
        raise InputError("expiration", f"{text!r} is not a timestamp")
    seconds = seconds_until(moment, now or datetime.now(timezone.utc))
    return f"{min(max(seconds, 1), MAX_SECONDS)}s"
