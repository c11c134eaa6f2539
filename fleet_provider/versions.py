"""Kibana releases, and the first release of each behaviour the provider depends on."""

from __future__ import annotations

import re
from typing import NamedTuple


class KibanaVersion(NamedTuple):
    """A Kibana release number, comparable as a tuple: ``KibanaVersion(9, 5, 0)``."""

    major: int
    minor: int
    patch: int

    @classmethod
    def parse(cls, text: str) -> KibanaVersion:
        """Parse ``"9.5.0"`` or ``"8.19.3-SNAPSHOT"``."""
        match = re.match(r"^(\d+)\.(\d+)\.(\d+)", text.strip())
        if not match:
            raise ValueError(f"not a Kibana version: {text!r}")
        return cls(int(match[1]), int(match[2]), int(match[3]))

    def __str__(self) -> str:
        return f"{self.major}.{self.minor}.{self.patch}"


FORCE_DELETE_SINCE = KibanaVersion(9, 5, 0)
"""``forceDelete``/``includeHidden`` on DELETE, which remove revoked or hidden keys."""
EXPIRATION_SINCE = KibanaVersion(9, 3, 0)
"""Kibana stores ``expiration``; earlier releases accept it and ignore it."""
