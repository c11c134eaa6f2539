"""What the provider does in Kibana: create (or adopt) a key exactly once, revoke it, and
decide how a replacement must be ordered. Functions over a FleetClient and plain data.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping
from typing import Any

from fleet_provider.client import FleetClient
from fleet_provider.exceptions import (
    ApiError,
    DuplicateNameError,
    FleetError,
    InputError,
    NotFoundError,
    TransportError,
    UnsupportedVersionError,
)
from fleet_provider.log import logger
from fleet_provider.model import (
    KeyRequest,
    holds_name,
    keeps_fixed_name,
    policy_kuery,
    space_of,
    user_name,
)
from fleet_provider.retry import describe, is_transient
from fleet_provider.versions import EXPIRATION_SINCE, FORCE_DELETE_SINCE

Item = dict[str, Any]
"""A key as Kibana reports it (``id``, ``name``, ``api_key``, ``active``, ...)."""


def create_key(client: FleetClient, props: Mapping[str, Any]) -> Item:
    """The key for checked inputs: adopted by id, adopted by name, or created exactly once."""
    space_id = space_of(props)
    if props.get("adopt_key_id"):
        return adopt_by_id(client, str(props["adopt_key_id"]), props, space_id)
    if props.get("adopt_existing"):
        found = find_active(client, str(props["policy_id"]), str(props["name"]), space_id)
        if found is not None:
            return found
    request = KeyRequest.from_inputs(props)
    if request.expiration is not None:
        version = client.kibana_version()
        # Kibana before 9.3 accepts `expiration` and silently ignores it: the token
        # would never expire, so refuse rather than create it.
        if version < EXPIRATION_SINCE:
            raise UnsupportedVersionError(
                f"Kibana {version} ignores expiration (it is honoured from 9.3): remove "
                "expiration, or upgrade Kibana, to create this key"
            )
    return create_once(client, request)


def create_once(client: FleetClient, request: KeyRequest) -> Item:
    """Create the key exactly once, even when answers are lost.

    A POST is never retried blind: a connection dropped after Kibana stored the key looks
    the same as one dropped before. The name is unique on the policy (auto-naming makes
    sure every create has one), so after an uncertain failure the key is looked up by
    name and adopted if it is there, and created again only if it is not.
    """
    uncertain = False
    attempt = 0
    while True:
        attempt += 1
        try:
            return client.create_enrollment_api_key(request.body(), request.space_id)
        except DuplicateNameError as refused:
            if uncertain:
                found = find_active(client, request.policy_id, request.name, request.space_id)
                if found is not None:
                    return _adopted(found, "after an uncertain create")
            return create_over_revoked(client, request, refused)
        except (TransportError, ApiError) as error:
            if not is_transient(error):
                raise
            if not (isinstance(error, TransportError) and not error.maybe_sent):
                # Look even after the last attempt: a key created by a lost request must
                # be adopted, never left active and untracked.
                found = find_active(client, request.policy_id, request.name, request.space_id)
                if found is not None:
                    return _adopted(found, "after an uncertain create")
                uncertain = True
            if attempt >= client.retry.max_attempts:
                raise
            logger.warning(
                "retrying the create of key %r after %s (attempt %d of %d)",
                request.name,
                describe(error),
                attempt,
                client.retry.max_attempts,
            )
            client.pause(attempt)


def _adopted(item: Item, why: str) -> Item:
    logger.info("adopted enrollment key %s %s", item.get("id"), why)
    return item


def adopt_by_id(client: FleetClient, key_id: str, props: Mapping[str, Any], space_id: str) -> Item:
    """The existing key to take over: it must exist, be active and be on the policy."""
    try:
        item = client.get_enrollment_api_key(key_id, space_id)
    except NotFoundError as missing:
        raise InputError(
            "adopt_key_id",
            f"{key_id!r} is not an enrollment key in Kibana space {space_id!r}: check the "
            "id (Fleet > Enrollment tokens), and space_id if the key lives in another space",
        ) from missing
    if not item.get("active"):
        raise InputError(
            "adopt_key_id",
            f"{key_id!r} is revoked: adopt an active key, or leave adopt_key_id out to "
            "create a new one",
        )
    if item.get("policy_id") != props.get("policy_id"):
        raise InputError(
            "adopt_key_id",
            f"{key_id!r} belongs to agent policy {item.get('policy_id')!r}, not "
            f"{props.get('policy_id')!r}: set policy_id to the key's policy",
        )
    wanted = props.get("name")
    if wanted and user_name(item.get("name"), key_id) != wanted:
        raise InputError(
            "adopt_key_id",
            f"{key_id!r} is named {user_name(item.get('name'), key_id)!r}, not "
            f"{wanted!r}: leave name out, or set it to the key's name",
        )
    return item


def find_active(client: FleetClient, policy_id: str, name: str, space_id: str) -> Item | None:
    """The newest active key holding ``name`` on the policy, if any."""
    return next(
        (key for key in holders(client, policy_id, name, space_id) if key.get("active")), None
    )


def holders(client: FleetClient, policy_id: str, name: str, space_id: str) -> Iterator[Item]:
    """Every key on the policy that holds ``name`` (revoked ones too), newest first."""
    for key in client.iter_enrollment_api_keys(policy_kuery(policy_id), space_id):
        if holds_name(key.get("name"), name):
            yield key


def create_over_revoked(
    client: FleetClient, request: KeyRequest, refused: DuplicateNameError
) -> Item:
    """Kibana refused the name: remove revoked holders (Kibana 9.5+) and create again."""
    name, policy_id = request.name, request.policy_id
    holding = list(holders(client, policy_id, name, request.space_id))
    active = [key for key in holding if key.get("active")]
    if active or not holding:
        raise DuplicateNameError(
            409,
            f"an active enrollment key named {name!r} already exists on agent policy "
            f"{policy_id!r} (id {active[0]['id'] if active else 'unknown'})",
            hint="Choose another name, or leave name out to let the provider pick one",
        ) from refused
    version = client.kibana_version()
    # Revoked keys keep their names on every Kibana; only 9.5+ can remove the records.
    if version < FORCE_DELETE_SINCE:
        raise DuplicateNameError(
            409,
            f"the name {name!r} is held by {len(holding)} revoked key(s) on agent policy "
            f"{policy_id!r}, and Kibana {version} keeps revoked keys forever (9.5+ can "
            "remove them)",
            hint="Choose another name, or leave name out to let the provider pick one",
        ) from refused
    remove_keys(client, holding, request.space_id)
    return client.create_enrollment_api_key(request.body(), request.space_id)


def remove_keys(client: FleetClient, keys: list[Item], space_id: str) -> None:
    """Delete the records of revoked keys, hidden ones too (Kibana 9.5+ ``forceDelete``)."""
    for key in keys:
        with contextlib.suppress(NotFoundError):
            client.delete_enrollment_api_key(
                key["id"], space_id, force_delete=True, include_hidden=True
            )


def read_key(client: FleetClient, key_id: str, space_id: str) -> Item | None:
    """The key as Kibana reports it now (revoked keys included); None when it is gone."""
    try:
        return client.get_enrollment_api_key(key_id, space_id)
    except NotFoundError:
        return None


def revoke_key(client: FleetClient, key_id: str, props: Mapping[str, Any]) -> None:
    """Revoke the key; done when Kibana reports it gone or revoked."""
    space_id = space_of(props)
    include_hidden = props.get("hidden") is True and client.kibana_version() >= FORCE_DELETE_SINCE
    try:
        client.delete_enrollment_api_key(key_id, space_id, include_hidden=include_hidden)
        return
    except NotFoundError:
        pass
    # Kibana 9.5+ answers 404 to a plain DELETE of a hidden key (managed or agentless
    # policy) and leaves it active: look before counting a 404 as done.
    item = read_key(client, key_id, space_id)
    if item is None or not item.get("active"):
        return
    if item.get("hidden") and not include_hidden:
        client.delete_enrollment_api_key(key_id, space_id, include_hidden=True)
        return
    raise FleetError(
        f"Kibana answered 404 to revoking enrollment key {key_id} but still reports it "
        "active: revoke it in Kibana (Fleet > Enrollment tokens)"
    )


def delete_first(
    client: FleetClient, olds: Mapping[str, Any], news: Mapping[str, Any], reasons: list[str]
) -> bool:
    """Whether a replacement must revoke the old key before it creates the new one.

    Kibana refuses a fixed name while a key holds it, so a replacement that keeps the name
    on the same policy goes delete-first. Before Kibana 9.5 a revoked key keeps its name
    forever, so the create after the delete would be refused and the stack left without a
    key: when an input change asks for that, fail at preview instead. (A revoked key or a
    due rotation never fails here: the stack must be able to recover.)
    """
    if not keeps_fixed_name(olds, news):
        return False
    if set(reasons) - {"active", "rotates_at"}:
        version = client.kibana_version()
        if version < FORCE_DELETE_SINCE:
            raise UnsupportedVersionError(
                f"Replacing enrollment key {news.get('name')!r} on agent policy "
                f"{news.get('policy_id')!r} would reuse its name, which Kibana {version} "
                "refuses after revoking the old key (9.5+ can remove it): change name, or "
                "leave it out to let the provider pick one"
            )
    return True
