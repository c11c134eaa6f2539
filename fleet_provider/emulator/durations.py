"""Elasticsearch durations as Kibana takes them for ``expiration``, and JavaScript timestamps."""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

# Elasticsearch duration accepted for ``expiration`` (Kibana 9.3+, final form):
# ES_ENROLLMENT_KEY_DURATION_REGEX /^[1-9]\d*(d|h|m|s)$/ in Fleet's common/constants. It is a
# JavaScript regex without the u and m flags, so \d is ASCII [0-9] and $ is the very end of the
# text (Python's $ also matches before a final newline, and its \d any Unicode digit).
ES_DURATION_RE = re.compile(r"[1-9][0-9]*(d|h|m|s)\Z")
# The first form (elastic/kibana#281324 as merged, rest_spec/enrollment_api_key.ts
# ES_DURATION_REGEX /^\d+(d|h|m|s)$/): any ASCII digits, so 0d passes, and no ceiling.
FIRST_ES_DURATION_RE = re.compile(r"[0-9]+(d|h|m|s)\Z")
# Ceiling per unit: Long.MAX_VALUE nanoseconds, about 106,751 days (Kibana 9.3+).
ES_DURATION_MAX_BY_UNIT = {"d": 106751, "h": 2562024, "m": 153721440, "s": 9223286400}
_UNIT_SECONDS = {"d": 86400, "h": 3600, "m": 60, "s": 1}


def now_iso(moment: datetime) -> str:
    """JavaScript's ``Date.toISOString()``: milliseconds and ``Z``."""
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.") + (
        f"{moment.microsecond // 1000:03d}Z"
    )


def duration_within_limits(text: str) -> bool:
    """True for an ES duration (``30d``, ``24h``, ``90m``, ``60s``) under its unit's ceiling."""
    match = ES_DURATION_RE.match(text)  # match(): anchored at the start, as ^ is
    return bool(match) and int(text[:-1]) <= ES_DURATION_MAX_BY_UNIT[text[-1]]


def first_form_duration(text: str) -> bool:
    """True for what the first, backported validator takes: ``0d`` and any length of digits."""
    return bool(FIRST_ES_DURATION_RE.match(text))


def over_ceiling(text: str) -> bool:
    """True for a duration (any form) beyond its unit's Elasticsearch ceiling."""
    return int(text[:-1]) > ES_DURATION_MAX_BY_UNIT[text[-1]]


def duration_to_timedelta(text: str) -> timedelta:
    """Convert a valid ES duration to a timedelta."""
    return timedelta(seconds=int(text[:-1]) * _UNIT_SECONDS[text[-1]])
