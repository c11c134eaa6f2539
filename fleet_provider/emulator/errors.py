"""The emulator backend's refusals: each a Fleet rule, its ``str()`` Kibana's own message."""

from __future__ import annotations


class FleetModelError(Exception):
    """A Fleet rule refused the operation; ``str()`` is Kibana's message."""


class AgentPolicyNotFoundError(FleetModelError):
    """The agent policy does not exist (or not in this space)."""


class AgentPolicyNameExistsError(FleetModelError):
    """Another agent policy already has this name."""


class AgentPolicyIdConflictError(FleetModelError):
    """An agent policy with this id already exists."""


class HostedAgentPolicyError(FleetModelError):
    """A managed (hosted) policy cannot be deleted without ``force``."""


class EnrollmentKeyNameExistsError(FleetModelError):
    """A key with this name already exists on the policy (revoked and hidden ones count)."""


class EnrollmentKeyNotFoundError(FleetModelError):
    """No such key, or it is not visible from this space (``in_namespace``)."""

    def __init__(self, key_id: str, *, in_namespace: bool = False) -> None:
        suffix = " in namespace" if in_namespace else ""
        super().__init__(f"Enrollment api key {key_id} not found{suffix}")
        self.key_id = key_id
        self.in_namespace = in_namespace


class ApiKeyCreationError(FleetModelError):
    """Elasticsearch refused to create the key's API key (a ``FleetError``: 400)."""


class SearchFailedError(FleetModelError):
    """An Elasticsearch search failed: neither a Fleet nor a Boom error, so a 500."""


class SpaceExistsError(FleetModelError):
    """A space with this id already exists."""


class SavedObjectNotFoundError(FleetModelError):
    """The saved-objects client found no such object: a Boom 404 in every version."""


class AgentPolicySpaceError(FleetModelError):
    """The policy cannot be given these spaces (one the caller may not use)."""
