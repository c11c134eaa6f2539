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
EXPIRATION_SINCE = KibanaVersion(8, 19, 0)
"""The first release line that may honour ``expiration``; every release before ignores it.

Kibana accepted ``expiration`` and dropped it before reaching Elasticsearch until
elastic/kibana#281324 (July 2026), which was backported to the 8.19, 9.3, 9.4 and 9.5 lines:
so which release of those lines honours it depends on the patch (an x.y.0 may still drop it),
and whether a create honoured it is read from Kibana's answer (``expire_at``), not guessed.
"""
EXPIRATION_LINES_WITHOUT_FIX = (KibanaVersion(9, 0, 0), KibanaVersion(9, 3, 0))
"""9.0, 9.1 and 9.2: lines after 8.19 that the fix was not backported to (from, before)."""


def ignores_expiration(version: KibanaVersion) -> bool:
    """True when this Kibana certainly drops ``expiration``: a fast refusal before any create."""
    start, end = EXPIRATION_LINES_WITHOUT_FIX
    return version < EXPIRATION_SINCE or start <= version < end
