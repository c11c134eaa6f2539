"""Which documented behaviour each Kibana release has, as the conformance tests expect it.

Kept apart from the emulator's own switches so that a wrong switch there fails a test
here instead of silently skipping it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True, order=True)
class Release:
    """A Kibana release and the enrollment-key behaviour it documents."""

    major: int
    minor: int
    patch: int

    @classmethod
    def parse(cls, text: str) -> Release:
        """Parse ``9.5.0`` (a ``-SNAPSHOT`` suffix is ignored)."""
        match = re.match(r"^(\d+)\.(\d+)\.(\d+)", text)
        if not match:
            raise ValueError(f"not a Kibana version: {text!r}")
        return cls(int(match[1]), int(match[2]), int(match[3]))

    def __str__(self) -> str:
        return f"{self.major}.{self.minor}.{self.patch}"

    @property
    def core_authz(self) -> bool:
        """403 with the privilege list, before validation (9.0+)."""
        return self.major >= 9

    @property
    def typed_fleet_errors(self) -> bool:
        """409 for duplicate names, 404 for unknown policies, service 404 wording (8.15+, a choice)."""
        return (self.major, self.minor) >= (8, 15)

    @property
    def explicit_items(self) -> bool:
        """Items built field by field, not the stored document (9.0+)."""
        return self.major >= 9

    @property
    def hidden_field(self) -> bool:
        """``hidden`` on read items and in the kuery mapping (9.1+; not in 9.0.0)."""
        return (self.major, self.minor) >= (9, 1)

    @property
    def expiration(self) -> bool:
        """``expiration`` honoured (elastic/kibana#281324): 8.19.21+, 9.3.9+, 9.4.6+, 9.5.1+, 9.6+.

        The first patch of each backported line is a choice.
        """
        if (self.major, self.minor) >= (9, 6):
            return True
        first = {(8, 19): 21, (9, 3): 9, (9, 4): 6, (9, 5): 1}.get((self.major, self.minor))
        return first is not None and self.patch >= first

    @property
    def final_expiration_check(self) -> bool:
        """The final ``expiration`` validator, no ``0d`` (9.6+); the backports' lets ``0d`` by."""
        return (self.major, self.minor) >= (9, 6)

    @property
    def bulk_delete(self) -> bool:
        """``POST /api/fleet/enrollment_api_keys/_bulk_delete`` (9.5+)."""
        return (self.major, self.minor) >= (9, 5)

    @property
    def delete_options(self) -> bool:
        """``forceDelete``/``includeHidden`` on DELETE (9.5+)."""
        return (self.major, self.minor) >= (9, 5)

    @property
    def space_aware(self) -> bool:
        """Space awareness on for a new cluster (9.1+)."""
        return (self.major, self.minor) >= (9, 1)

    @property
    def policy_space_ids(self) -> bool:
        """Agent-policy bodies accept ``space_ids`` (8.16+, elastic/kibana#189663)."""
        return (self.major, self.minor) >= (8, 16)

    @property
    def strict_kql(self) -> bool:
        """Unknown kuery fields refused (8.10-8.13, 8.16+)."""
        pair = (self.major, self.minor)
        return pair >= (8, 16) or (8, 10) <= pair < (8, 14)
