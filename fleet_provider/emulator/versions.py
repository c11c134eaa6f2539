"""Kibana version switches: which behaviour each emulated release has."""

from __future__ import annotations

import re
from dataclasses import dataclass

_VERSION_RE = re.compile(r"^(\d+)\.(\d+)\.(\d+)$")


# The first patch of each release line carrying elastic/kibana#281324 (expiration honoured).
# A choice: QA first reported the feature on 9.5.1 BC1 (elastic/kibana#283866, August 2026)
# and on 8.19.21 BC1 and 9.4.6 BC1 (#288058); 9.3's is taken from the same patch train.
EXPIRATION_FIX_PATCHES: dict[tuple[int, int], int] = {(8, 19): 21, (9, 3): 9, (9, 4): 6, (9, 5): 1}


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
        """409 for duplicate names, 404 for unknown policies and the service's 404 wording (8.15+).

        ``server/errors/handlers.ts`` maps ``FleetNotFoundError`` to 404 and
        ``EnrollmentKeyNameExistsError`` to 409 once the enrollment-key service throws those
        classes; before, it threw a plain Fleet error (400) and ``Boom.notFound`` for an unknown
        key (``EnrollmentAPIKey <id> not found``). The 8.x API test (``crud.ts@16f2c2c0``)
        expects 400, the 8.15-era space-aware service already throws the typed classes: 8.15.0
        is a choice between those two stored revisions (the switching PR is not pinned).
        """
        return self.at_least(8, 15)

    @property
    def explicit_items(self) -> bool:
        """Items are built field by field (9.0+); 8.x answered the stored document."""
        return self.major >= 9

    @property
    def hidden_field(self) -> bool:
        """Keys carry ``hidden`` and a kuery may name it (9.1+; 9.0.0 has neither)."""
        # ENROLLMENT_API_KEY_MAPPINGS (common/constants/mappings.ts) gained `hidden` after 9.0.0
        # was cut: 9.0.0 items lack it and `hidden:` is an unknown kuery field. 9.1.0 as the
        # first with it is a choice.
        return self.at_least(9, 1)

    @property
    def expiration(self) -> bool:
        """``expiration`` is validated and stored as ``expire_at`` (elastic/kibana#281324).

        The fix (July 2026) was backported to the 8.19, 9.3, 9.4 and 9.5 lines and is in 9.6.0;
        the releases of those lines before their first patch with it, and every other release,
        accept any string and drop it. Which patch carries it is a choice
        (``EXPIRATION_FIX_PATCHES``): clients should read ``expire_at`` in the answer instead.
        """
        if self.at_least(9, 6):
            return True
        first = EXPIRATION_FIX_PATCHES.get((self.major, self.minor))
        return first is not None and self.patch >= first

    @property
    def final_expiration_check(self) -> bool:
        """``expiration`` has its final validator (9.6+); the backported patches the first one.

        Final: ``isValidEnrollmentKeyExpiration`` (common/services), ``^[1-9]\\d*(d|h|m|s)$``
        with per-unit maxima and ``Expiration must be a valid duration (for example, ...)``.
        First, the form #281324 merged with and so (a choice) the one its backports took:
        ``ES_DURATION_REGEX`` ``^\\d+(d|h|m|s)$`` in rest_spec/enrollment_api_key.ts, which lets
        ``0d`` through, with ``expiration must be a valid duration (e.g. ...)``.
        """
        return self.at_least(9, 6)

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
    def kuery_free_text_refused(self) -> bool:
        """Strict KQL refuses a term without a field (8.10-8.13).

        ``validateKuery`` (routes/utils/filter_utils.ts, elastic/kibana#161064, 8.10) gave a
        node without a key ``KQLSyntaxError: Invalid key``; #187041 (8.16) let free text through
        when it turned the check back on, and 8.14-8.15 had the check off.
        """
        return self.at_least(8, 10) and not self.at_least(8, 14)

    @property
    def kuery_errors_unwrapped(self) -> bool:
        """A kuery Kibana cannot parse is a 500 with the parser's message (before 8.10).

        The early 8.x enrollment-key service handed the kuery to ``fromKueryExpression``
        unguarded: the ``KQLSyntaxError`` reached Fleet's default handler
        (server/errors/handlers.ts), which answers 500 for what is neither a Fleet nor a Boom
        error. 8.10, the release of #161064, is a choice: the change that wrapped it as
        ``Kuery is malformed`` is not pinned.
        """
        return not self.at_least(8, 10)

    @property
    def bulk_delete(self) -> bool:
        """``POST /api/fleet/enrollment_api_keys/_bulk_delete`` (9.5+, elastic/kibana#265916)."""
        return self.at_least(9, 5)

    @property
    def strict_kql(self) -> bool:
        """Kuery field names are checked against the mapping (8.10-8.13 and 8.16+)."""
        # 8.14 and 8.15 shipped the check behind enableStrictKQLValidation, default off.
        return self.at_least(8, 16) or (self.at_least(8, 10) and not self.at_least(8, 14))
