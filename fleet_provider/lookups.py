"""Look-ups for Pulumi programs: read existing enrollment keys, every token a secret.

They run in the program itself (not in the provider), with the same settings as the
resource: the stack config ``fleet:*``, then the ``KIBANA_*`` environment. Under
``pulumi.runtime.set_mocks`` they ask the mocks instead, as a Pulumi function's invoke does:
``call()`` gets :data:`LIST_TOKEN` or :data:`GET_TOKEN` with camelCase arguments (``None``
left out) and answers in Kibana's shape, ``{"items": [<item>, ...]}`` or the item.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import pulumi

from fleet_provider import _sdk
from fleet_provider.client import FleetClient
from fleet_provider.config import ALL_SETTINGS, DEFAULT_SPACE_ID, FleetSettings, resolve_settings
from fleet_provider.exceptions import FleetError, KeyNotFoundError
from fleet_provider.model import policy_kuery, user_name

LIST_TOKEN = "fleet:index:getEnrollmentApiKeys"  # noqa: S105 - an invoke token
"""The invoke token of :func:`get_enrollment_api_keys` under mocks."""
GET_TOKEN = "fleet:index:getEnrollmentApiKey"  # noqa: S105 - an invoke token
"""The invoke token of :func:`get_enrollment_api_key` under mocks."""


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


def list_items(
    settings: FleetSettings, policy_id: str | None, space_id: str
) -> list[dict[str, Any]]:
    """Kibana's items of every key (of one policy, if given) in the space, across all pages."""
    kuery = policy_kuery(policy_id) if policy_id else None
    client = FleetClient(settings)
    try:
        return list(client.iter_enrollment_api_keys(kuery, space_id))
    finally:
        client.close()


def get_item(settings: FleetSettings, key_id: str, space_id: str) -> dict[str, Any]:
    """Kibana's item of one key; KeyNotFoundError when it does not exist."""
    client = FleetClient(settings)
    try:
        return client.get_enrollment_api_key(key_id, space_id)
    finally:
        client.close()


def get_enrollment_api_keys(
    policy_id: str | None = None,
    space_id: str | None = None,
    include_inactive: bool = False,
) -> list[EnrollmentApiKeyInfo]:
    """Every key (of one policy, if given) in the space, newest first, across all pages."""
    if _sdk.active_mocks() is not None:
        answer = _invoke(
            LIST_TOKEN,
            {"policyId": policy_id, "spaceId": space_id, "includeInactive": include_inactive},
        )
        items = answer.get("items")
        if not isinstance(items, list):
            raise FleetError(f'the mocks answered {LIST_TOKEN} without a list under "items"')
        space = space_id or _mocked_space()
    else:
        settings = program_settings()
        space = space_id or settings.space_id or DEFAULT_SPACE_ID
        items = list_items(settings, policy_id, space)
    return [_info(item, space) for item in items if include_inactive or item.get("active")]


def get_enrollment_api_key(key_id: str, space_id: str | None = None) -> EnrollmentApiKeyInfo:
    """One key by id (revoked keys included); KeyNotFoundError when it does not exist."""
    if _sdk.active_mocks() is not None:
        item = _invoke(GET_TOKEN, {"keyId": key_id, "spaceId": space_id})
        space = space_id or _mocked_space()
        if not item.get("id"):
            raise KeyNotFoundError(
                404, f"the mocks answered {GET_TOKEN} with no key {key_id!r} in space {space!r}"
            )
        return _info(item, space)
    settings = program_settings()
    space = space_id or settings.space_id or DEFAULT_SPACE_ID
    return _info(get_item(settings, key_id, space), space)


def _invoke(token: str, args: dict[str, Any]) -> dict[str, Any]:
    """Ask the mocks' ``call()`` through ``pulumi.runtime.invoke``, ``None`` arguments left out."""
    sent = {key: value for key, value in args.items() if value is not None}
    # pulumi/runtime/invoke.py: the SDK serialises the arguments and hands the monitor's answer
    # back deserialised (secrets unwrapped) as InvokeResult.value; an empty answer may be None.
    value = pulumi.runtime.invoke(token, sent).value
    return dict(value) if isinstance(value, dict) else {}


def _mocked_space() -> str:
    """The space a look-up without ``space_id`` reads under mocks: ``fleet:spaceId``, or default."""
    return pulumi.Config("fleet").get("spaceId") or DEFAULT_SPACE_ID


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
