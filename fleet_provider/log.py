"""The ``fleet_provider`` logger, and turning it on from the environment in the provider host.

The dynamic-provider host is a process the Pulumi CLI starts; a program cannot configure its
logging. ``FLEET_PROVIDER_LOG=debug`` (or ``info``, ``warning``) in the environment of
``pulumi up`` makes the host write the log to its stderr, which the CLI shows as diagnostics.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
import time
from collections.abc import Mapping

LOG_ENV_VAR = "FLEET_PROVIDER_LOG"
LEVELS = {"debug": logging.DEBUG, "info": logging.INFO, "warning": logging.WARNING}

logger = logging.getLogger("fleet_provider")
"""One line per request attempt at DEBUG, a WARNING per retry; never a secret."""
logger.addHandler(logging.NullHandler())

_enabled = threading.Lock()
_handler: logging.Handler | None = None


def enable_logging_from_environment(environ: Mapping[str, str] | None = None) -> None:
    """Log to stderr at the level ``FLEET_PROVIDER_LOG`` names; once per process."""
    global _handler  # noqa: PLW0603 - one stderr handler per process
    level = LEVELS.get((os.environ if environ is None else environ).get(LOG_ENV_VAR, "").lower())
    if level is None:
        return
    with _enabled:
        if _handler is None:
            _handler = logging.StreamHandler(sys.stderr)
            _handler.setFormatter(logging.Formatter("fleet_provider %(levelname)s %(message)s"))
            logger.addHandler(_handler)
        logger.setLevel(level)


def log_attempt(
    method: str, path: str, outcome: str, started: float, attempt: int, attempts: int
) -> None:
    """One DEBUG line for one HTTP attempt: what, where, how it ended and how long it took."""
    if logger.isEnabledFor(logging.DEBUG):
        took_ms = (time.monotonic() - started) * 1000
        logger.debug(
            "%s %s -> %s in %.0f ms (attempt %d of %d)",
            method,
            path,
            outcome,
            took_ms,
            attempt,
            attempts,
        )
