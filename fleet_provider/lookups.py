"""Look-ups for Pulumi programs: read existing enrollment keys, every token a secret.

They run in the program itself (not in the provider), with the same settings as the
resource: the stack config ``fleet:*``, then the ``KIBANA_*`` environment.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import pulumi

from fleet_provider.client import FleetClient
from fleet_provider.config import ALL_SETTINGS, DEFAULT_SPACE_ID, FleetSettings, resolve_settings
from fleet_provider.model import policy_kuery, user_name


@dataclass(frozen=True)
class EnrollmentApiKeyInfo:
    """An existing enrollment key as Kibana reports it; ``api_key`` is a secret Output."""

    id: str
    name: str | None
    full_name: str
    policy_id: str
    active: bool
    hidden: bool
    created_at: str
    api_key_id: str
    expire_at: str | None
    space_id: str
    api_key: pulumi.Output[str]


def program_settings() -> FleetSettings:
    """Connection settings as a program sees them: stack config ``fleet:*``, then environment."""
    config = pulumi.Config("fleet")
    values: dict[str, str | None] = {}
    for source in ALL_SETTINGS:
        key = source.config_key.split(":", 1)[1]
        values[source.config_key] = config.get(key)
    return resolve_settings(values, os.environ)


def get_enrollment_api_keys(
    policy_id: str | None = None,
    space_id: str | None = None,
    include_inactive: bool = False,
) -> list[EnrollmentApiKeyInfo]:
    """Every key (of one policy, if given) in the space, newest first, across all pages."""
    settings = program_settings()
    space = space_id or settings.space_id or DEFAULT_SPACE_ID
    kuery = policy_kuery(policy_id) if policy_id else None
    client = FleetClient(settings)
    try:
        items = list(client.iter_enrollment_api_keys(kuery, space))
    finally:
        client.close()
    return [_info(item, space) for item in items if include_inactive or item.get("active")]


def get_enrollment_api_key(key_id: str, space_id: str | None = None) -> EnrollmentApiKeyInfo:
    """One key by id (revoked keys included); KeyNotFoundError when it does not exist."""
    settings = program_settings()
    space = space_id or settings.space_id or DEFAULT_SPACE_ID
    client = FleetClient(settings)
    try:
        return _info(client.get_enrollment_api_key(key_id, space), space)
    finally:
        client.close()


def _info(item: dict[str, Any], space_id: str) -> EnrollmentApiKeyInfo:
    key_id = str(item["id"])
    return EnrollmentApiKeyInfo(
        id=key_id,
        name=user_name(item.get("name"), key_id),
        full_name=str(item.get("name") or key_id),
        policy_id=str(item.get("policy_id", "")),
        active=bool(item.get("active")),
        hidden=bool(item.get("hidden")),
        created_at=str(item.get("created_at", "")),
        api_key_id=str(item.get("api_key_id", "")),
        expire_at=item.get("expire_at"),
        space_id=space_id,
        api_key=pulumi.Output.secret(str(item.get("api_key", ""))),
    )
