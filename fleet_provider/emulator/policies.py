"""Agent-policy documents: a new one, an updated one, and the changes Kibana refuses.

Kibana: ``x-pack/platform/plugins/shared/fleet/server/services/agent_policy.ts``
(``create``, ``update``) and ``services/spaces/agent_policy.ts``
(``updateAgentPolicySpaces``). No storage here; ``models`` keeps the documents.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from .durations import now_iso
from .errors import AgentPolicySpaceError, HostedAgentPolicyError, SavedObjectNotFoundError

Doc = dict[str, Any]

# agent_policy.ts: the one key a managed (hosted) policy lets an update change.
_EDITABLE_WHEN_MANAGED = frozenset({"namespace"})
# Body keys that steer the update rather than being stored on the policy.
_NOT_STORED = frozenset({"id", "force", "bumpRevision", "space_ids"})


def saved_object_type(space_aware: bool) -> str:
    """The saved-object type of agent policies: space-aware (9.1+) or the legacy one."""
    return "fleet-agent-policies" if space_aware else "ingest-agent-policies"


def not_found(policy_id: str, space_aware: bool) -> SavedObjectNotFoundError:
    """The saved-objects 404 ``agentPolicyService.get`` throws for a missing policy."""
    kind = saved_object_type(space_aware)
    return SavedObjectNotFoundError(f"Saved object [{kind}/{policy_id}] not found")


@dataclass(frozen=True)
class NewPolicy:
    """What a create request says about a policy (``policy_id`` None: a uuid is made up)."""

    name: str
    namespace: str = "default"
    policy_id: str | None = None
    description: str | None = None
    is_managed: bool = False
    supports_agentless: bool | None = None
    user: str = "elastic"


def new_policy(fields: NewPolicy, policy_id: str, space_ids: list[str] | None) -> Doc:
    """A freshly created policy (``space_ids`` only when space awareness is on)."""
    policy: Doc = {"id": policy_id, "name": fields.name, "namespace": fields.namespace}
    if fields.description is not None:
        policy["description"] = fields.description
    policy.update(
        {
            "monitoring_enabled": ["logs", "metrics"],
            "inactivity_timeout": 1209600,
            "is_protected": False,
            "status": "active",
            "is_managed": fields.is_managed,
            "revision": 1,
            "updated_at": now_iso(datetime.now(timezone.utc)),
            "updated_by": fields.user,
            "package_policies": [],
        }
    )
    if fields.supports_agentless is not None:
        policy["supports_agentless"] = fields.supports_agentless
    if space_ids is not None:
        policy["space_ids"] = list(space_ids)
    return policy


def updated_policy(
    existing: Mapping[str, Any], body: Mapping[str, Any], *, force: bool, user: str
) -> Doc:
    """``existing`` with the PUT body applied; refuses changes to a managed policy.

    ``agentPolicyService.update`` compares every body key with the stored value and
    throws ``Cannot update <key>`` for a managed policy unless ``force`` (8.x, 9.x).
    """
    changes = {key: value for key, value in body.items() if key not in _NOT_STORED}
    if existing.get("is_managed") and not force:
        for key, value in changes.items():
            if key not in _EDITABLE_WHEN_MANAGED and existing.get(key) != value:
                raise HostedAgentPolicyError(f"Cannot update {key}")
    policy = {**existing, **changes}
    if body.get("bumpRevision", True):
        policy["revision"] = int(existing.get("revision", 1)) + 1
    policy["updated_at"] = now_iso(datetime.now(timezone.utc))
    policy["updated_by"] = user
    return policy


def check_new_spaces(
    policy: Mapping[str, Any], new_space_ids: list[str], known_spaces: Iterable[str], force: bool
) -> list[str]:
    """The spaces ``updateAgentPolicySpaces`` adds; raise what it refuses (9.1+).

    A managed policy needs ``force``; every added space must be one the caller may
    manage policies in, which ``checkAgentPoliciesAllPrivilegesForSpaces`` draws
    from the spaces that exist (the emulator's roles hold their privileges in all).
    """
    if policy.get("is_managed") and not force:
        # The trailing space is in Kibana's message.
        raise HostedAgentPolicyError(f"Cannot update hosted agent policy {policy['id']} space ")
    current = policy.get("space_ids") or []
    added = [space for space in new_space_ids if space not in current]
    known = set(known_spaces)
    for space in added:
        if space not in known:
            message = f"Not enough permissions to create policies in space {space}"
            raise AgentPolicySpaceError(message)
    return added


def check_creation_spaces(space_ids: list[str], known_spaces: Iterable[str]) -> None:
    """``createAgentPolicyHandler``'s check of ``space_ids`` before anything is created."""
    known = set(known_spaces)
    for space in space_ids:
        if space not in known:
            # "No enough" is Kibana's wording in routes/agent_policy/handlers.ts.
            message = f"No enough permissions to create policies in space {space}"
            raise AgentPolicySpaceError(message)
