"""Which agent policies and enrollment keys a Kibana space sees, and the default space.

Fleet space awareness (the default on new 9.1+ clusters) isolates them by space;
before it, every space sees everything.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

DEFAULT_SPACE_ID = "default"
ALL_SPACES_ID = "*"

DEFAULT_SPACE: dict[str, Any] = {
    "id": DEFAULT_SPACE_ID,
    "name": "Default",
    "description": "This is your default space!",
    "color": "#00bfb3",
    "disabledFeatures": [],
    "_reserved": True,
}


def policy_in_space(policy: Mapping[str, Any], space_id: str, space_aware: bool) -> bool:
    """True when ``space_id`` sees the agent policy."""
    if not space_aware:
        # Before space awareness agent policies are visible from every space.
        return True
    spaces = policy.get("space_ids") or [DEFAULT_SPACE_ID]
    return space_id in spaces or ALL_SPACES_ID in spaces


def key_in_space(doc: Mapping[str, Any], space_id: str, space_aware: bool) -> bool:
    """True when ``space_id`` sees the enrollment key (``getEnrollmentAPIKey``'s rule)."""
    if not space_aware:
        # 8.x and 9.0 (awareness off): every key is visible from every space.
        return True
    namespaces = doc.get("namespaces") or []
    if ALL_SPACES_ID in namespaces:
        return True
    if space_id == DEFAULT_SPACE_ID:
        # Documents without namespaces belong to the default space.
        return not namespaces or DEFAULT_SPACE_ID in namespaces
    return space_id in namespaces
