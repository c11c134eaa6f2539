"""What only Kibana can tell before a key is created, asked once from ``check``.

``pulumi preview`` calls ``check`` and ``diff`` but never ``create``, so without this question a
refused password or a misspelled policy id would show only when ``pulumi up`` creates the key.
One ``GET /api/fleet/agent_policies/{id}`` in the key's space answers both, asked once per
process per settings (endpoint and credentials), space and policy, with the connect timeout as
its only wait and no retry:

- 401: Kibana refuses the credentials: the check fails with the line ``up`` would give;
- 404: the policy does not exist in the space: a warning, since the same deployment may create
  the policy before the key;
- 403, no answer, or any other answer: a warning, so that preview still works offline and a
  valid program never fails preview.
"""

from __future__ import annotations

import sys
import threading
from dataclasses import dataclass

from fleet_provider.client import FleetClient
from fleet_provider.config import FleetSettings
from fleet_provider.exceptions import (
    ApiError,
    AuthenticationError,
    AuthorizationError,
    FleetError,
)

GENERIC_NOT_FOUND = "Not Found"
"""The message of Kibana core's 404 for a path no route serves (not an answer about a policy)."""


@dataclass(frozen=True)
class Finding:
    """What the question found: a check failure, a warning, or nothing."""

    failure: str | None = None
    warning: str | None = None


_findings: dict[tuple[FleetSettings, str, str], Finding] = {}
_locks: dict[tuple[FleetSettings, str, str], threading.Lock] = {}
_guard = threading.Lock()


def check_policy(client: FleetClient, policy_id: str, space_id: str) -> str | None:
    """Ask Kibana about ``policy_id`` once per process; the check failure to report, if any.

    A warning is printed to stderr (which the Pulumi CLI shows) the first time only; concurrent
    checks of the same policy wait for the one question instead of asking again.
    """
    key = (client.settings, space_id, policy_id)
    with _guard:
        lock = _locks.setdefault(key, threading.Lock())
    with lock:
        finding = _findings.get(key)
        if finding is None:
            finding = _ask(client, policy_id, space_id)
            _findings[key] = finding
            if finding.warning:
                print(f"warning: {finding.warning}", file=sys.stderr)
    return finding.failure


def forget() -> None:
    """Drop every finding: the next check asks Kibana again."""
    with _guard:
        _findings.clear()
        _locks.clear()


def _ask(client: FleetClient, policy_id: str, space_id: str) -> Finding:
    settings = client.settings
    wait = min(settings.connect_timeout, settings.timeout)
    policy = f"agent policy {policy_id!r} in Kibana space {space_id!r}"
    try:
        client.get_agent_policy(policy_id, space_id, timeout=(wait, wait))
    except AuthenticationError as error:
        return Finding(failure=str(error))
    except AuthorizationError:
        return Finding(
            warning=f"could not check that {policy} exists: Kibana answered 403 to "
            f"{settings.credential_source}; creating its keys needs the Kibana privilege "
            "fleet-agents-all (Fleet: All, or Agents: All) in that space"
        )
    except ApiError as error:
        if error.status == 404 and error.message != GENERIC_NOT_FOUND:
            # Kibana's getOneAgentPolicyHandler answers "Agent policy not found" (404) itself for
            # a policy that is not in the space (Fleet's server/routes/agent_policy/handlers.ts).
            return Finding(
                warning=f"{policy} does not exist: pulumi up fails to create its keys unless "
                "this deployment creates the policy first; check policy_id, and space_id (or "
                "fleet:spaceId)"
            )
        return Finding(warning=f"could not check that {policy} exists: {error}")
    except FleetError as error:
        return Finding(warning=f"could not check that {policy} exists: {error}")
    return Finding()
