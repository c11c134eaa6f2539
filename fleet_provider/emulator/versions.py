"""Kibana version switches: which behaviour each emulated release has."""

from __future__ import annotations

import re
from dataclasses import dataclass

_VERSION_RE = re.compile(r"^(\d+)\.(\d+)\.(\d+)$")


@dataclass(frozen=True, order=True)
class KibanaVersion:
    """A Kibana release number and the Fleet behaviour that goes with it."""

    major: int
    minor: int
    patch: int

    @classmethod
    def parse(cls, text: str) -> KibanaVersion:
        """Parse ``X.Y.Z``; raise ValueError for anything else or a release before 8.0.0."""
        match = _VERSION_RE.match(text.strip())
        if not match:
            raise ValueError(f"expected a version like 9.5.0, got {text!r}")
        version = cls(int(match[1]), int(match[2]), int(match[3]))
        if version.major < 8:
            raise ValueError(f"Kibana {text} is not emulated (8.0.0 and later are)")
        return version

    def __str__(self) -> str:
        return f"{self.major}.{self.minor}.{self.patch}"

    def at_least(self, major: int, minor: int = 0) -> bool:
        """True when this release is ``major.minor`` or later."""
        return (self.major, self.minor) >= (major, minor)

    @property
    def hyphen_routes(self) -> bool:
        """The deprecated ``/api/fleet/enrollment-api-keys`` routes (8.x; removed in 9.0)."""
        return self.major < 9

    @property
    def core_authz(self) -> bool:
        """Kibana core privileges (9.0+): 403 before validation with the privilege list."""
        return self.major >= 9

    @property
    def typed_fleet_errors(self) -> bool:
        """409 for duplicate names and 404 for unknown policies (9.x; 8.x answered 400)."""
        return self.major >= 9

    @property
    def hidden_field(self) -> bool:
        """Keys carry ``hidden`` (9.x)."""
        return self.major >= 9

    @property
    def expiration(self) -> bool:
        """``expiration`` is validated and stored as ``expire_at`` (9.3+; ignored before)."""
        return self.at_least(9, 3)

    @property
    def delete_options(self) -> bool:
        """``forceDelete``/``includeHidden`` on DELETE, hidden keys protected (9.5+)."""
        return self.at_least(9, 5)

    @property
    def space_aware(self) -> bool:
        """Fleet space awareness is on: the default for new 9.1+ clusters.

        8.15-9.0 had it behind ``useSpaceAwareness`` plus a settings migration, off on a
        new cluster, so 8.x and 9.0 serve every space the same keys and policies.
        """
        return self.at_least(9, 1)

    @property
    def policy_space_ids(self) -> bool:
        """Agent-policy bodies take ``space_ids`` (8.16+, elastic/kibana#189663).

        Before 9.1 (awareness off) they are checked and then change nothing.
        """
        return self.at_least(8, 16)

    @property
    def strict_kql(self) -> bool:
        """Kuery field names are checked against the mapping (8.10-8.13 and 8.16+)."""
        # 8.14 and 8.15 shipped the check behind enableStrictKQLValidation, default off.
        return self.at_least(8, 16) or (self.at_least(8, 10) and not self.at_least(8, 14))
