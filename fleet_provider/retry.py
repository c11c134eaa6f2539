"""When to try a request again, and how long to wait first: one decision for every call."""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass

from fleet_provider.exceptions import (
    ApiError,
    FleetError,
    ProxyError,
    TLSError,
    TransportError,
    UnexpectedResponseError,
)

RETRY_STATUSES = frozenset({429, 502, 503, 504})
"""Statuses a proxy or a busy Kibana answers before it did anything: worth another try."""


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how long reads and deletes are retried on transient failures."""

    max_attempts: int = 5
    base_delay: float = 0.5
    max_delay: float = 8.0
    max_retry_after: float = 60.0


def backoff_delay(
    attempt: int,
    policy: RetryPolicy,
    retry_after: float | None = None,
    rand: Callable[[], float] = random.random,
) -> float:
    """Seconds to wait before retry number ``attempt`` (1-based): capped, jittered, exponential.

    A server's ``Retry-After`` wins, capped at ``policy.max_retry_after``.
    """
    if retry_after is not None:
        return max(0.0, min(retry_after, policy.max_retry_after))
    ceiling = min(policy.max_delay, policy.base_delay * (2.0 ** (attempt - 1)))
    # "Equal jitter": at least half the ceiling, so retries never stampede at zero delay.
    return ceiling / 2 + rand() * ceiling / 2


def parse_retry_after(value: str | None) -> float | None:
    """The ``Retry-After`` header in seconds, or None when absent or not a number."""
    if not value:
        return None
    try:
        return float(value)
    except ValueError:
        return None


def is_transient(error: FleetError) -> bool:
    """True for a failure worth another try: no answer, a proxy's error, an unusable body.

    The one decision behind every retry, reads, revokes and creates alike. A TLS failure is
    not transient: a certificate that fails verification fails the same way every time; nor is
    a proxy's 407, which refuses the same credentials the same way every time.
    """
    if isinstance(error, TLSError):
        return False
    if isinstance(error, ProxyError) and error.status == 407:
        return False
    if isinstance(error, (TransportError, UnexpectedResponseError)):
        return True
    return isinstance(error, ApiError) and error.status in RETRY_STATUSES


def describe(error: FleetError) -> str:
    """A short, secret-free name for a failure: the status, or the error class."""
    if isinstance(error, ApiError):
        return f"{error.status} ({type(error).__name__})"
    return type(error).__name__
