"""``keep_previous``: rotate a key in place, keeping the previous token active one more rotation.

A replacement cannot keep the old key: the engine's create of the replacement never sees the
old resource, and the old resource's delete revokes its key (pulumi/pulumi
``pkg/resource/deploy/step_generator.go``: a replace is a create and a delete). An update sees
the old outputs, so with ``keep_previous`` a rotation (a due ``rotate_after``, a changed
``expiration``, an expired or revoked key) is an update: it creates the next key, revokes the
key before the previous one, and the outputs name the current key (``key_id``, ``api_key``)
and the previous one (``previous_key_id``, ``previous_api_key``). The resource's id names the
resource, not a key, since an update cannot change it.

Exactly once: the new key's name is the next generation of the resource's auto-name, derived
(naming.py), so an update that failed after creating it finds and adopts that key on the next
run, whose update starts from the same old outputs.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

from fleet_provider import model, naming, operations
from fleet_provider.client import FleetClient

# Why a key rotates in place instead of being replaced, when keep_previous is on.
ROTATING_REASONS = frozenset({"rotates_at", "expiration", "expired", "active"})
PREVIOUS_OUTPUTS = ("previous_key_id", "previous_api_key")


def resource_id() -> str:
    """A new resource's id: it names the resource for its whole life, never one of its keys."""
    return f"keep-previous-{uuid.uuid4()}"


def rotates_in_place(olds: Mapping[str, Any], news: Mapping[str, Any], reasons: list[str]) -> bool:
    """True when ``reasons`` (model.replacement_reasons) ask only for a new key of a
    keep_previous resource, which an update makes; a new policy or space still replaces."""
    return (
        bool(reasons)
        and set(reasons) <= ROTATING_REASONS
        and olds.get("keep_previous") is True
        and news.get("keep_previous") is True
    )


def current_key_id(id_: str, props: Mapping[str, Any]) -> str:
    """The Kibana id of the resource's current key (its id, unless keep_previous)."""
    key_id = props.get("key_id")
    return str(key_id) if isinstance(key_id, str) and key_id else id_


def rotate(client: FleetClient, olds: Mapping[str, Any], news: Mapping[str, Any]) -> dict[str, Any]:
    """Create the next key; the current one becomes the previous, and the previous is revoked.

    A current key that can no longer enroll (revoked, or expired) is revoked instead, and the
    previous key, still good, stays the previous.
    """
    base = str(news.get("resource_name") or "key")
    identity = str(news.get("identity") or naming.identity_of(base))
    name = next(naming.successors(base, identity, str(olds.get("name"))))
    item = operations.create_key(client, {**news, "name": name, "auto_named": True})
    operations.forget_adopted(str(item["id"]))
    outs = model.outputs({**news, "name": name, "auto_named": True}, item)
    current = olds.get("key_id")
    usable = olds.get("active") is not False and not model.has_expired(olds)
    if usable:
        if olds.get("previous_key_id"):
            operations.revoke_key(client, str(olds["previous_key_id"]), olds)
        outs["previous_key_id"] = current
        outs["previous_api_key"] = olds.get("api_key")
    else:
        if isinstance(current, str) and current:
            operations.revoke_key(client, current, olds)
        for key in PREVIOUS_OUTPUTS:
            if olds.get(key):
                outs[key] = olds[key]
    return outs


def read_previous(client: FleetClient, outs: dict[str, Any]) -> None:
    """Refresh the previous key into ``outs``; drop it when Kibana reports it revoked or gone."""
    previous = outs.get("previous_key_id")
    if not previous:
        return
    item = operations.read_key(client, str(previous), model.space_of(outs))
    if item is None or not item.get("active") or model.has_expired(item):
        for key in PREVIOUS_OUTPUTS:
            outs.pop(key, None)
        return
    outs["previous_api_key"] = item.get("api_key", outs.get("previous_api_key"))


def revoke_all(client: FleetClient, id_: str, props: Mapping[str, Any]) -> None:
    """Revoke the current key and, if there is one, the previous key."""
    operations.revoke_key(client, current_key_id(id_, props), props)
    previous = props.get("previous_key_id")
    if previous:
        operations.revoke_key(client, str(previous), props)
