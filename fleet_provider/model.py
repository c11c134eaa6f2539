"""Kibana's enrollment key and the resource's state: fields, names, outputs and what changes.

Everything that maps between a Kibana item (``{"id", "name", "api_key", ...}``) and the
resource's inputs and outputs lives here, as pure functions over plain data: no HTTP call.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from fleet_provider._sdk import is_unknown
from fleet_provider.config import DEFAULT_SPACE_ID
from fleet_provider.durations import (
    expiration_for_kibana,
    is_duration,
    parse_duration,
    parse_timestamp,
    read_timestamp,
)
from fleet_provider.naming import identity_of

RESOURCE_TYPE = "pulumi-python:dynamic/fleet:EnrollmentApiKey"
"""The type token the engine knows the resource by (module ``fleet``, name ``EnrollmentApiKey``)."""

# Inputs whose change replaces the key: Kibana cannot change a key in place. (With
# keep_previous, a changed expiration rotates the key in place instead: previous.py.)
USER_INPUTS = ("policy_id", "name", "expiration", "space_id", "keep_previous")
# Inputs that only steer the provider; a change to them updates the state, no Kibana call.
UPDATABLE_INPUTS = ("rotate_after", "adopt_existing")
# Inputs the resource adds itself: `check` gets no URN, so the resource passes its own name
# and its identity in the stack (what auto-names are derived from, see naming.py).
INTERNAL_INPUTS = ("resource_name", "identity", "auto_named")
INPUT_KEYS = (*USER_INPUTS, "adopt_key_id", *UPDATABLE_INPUTS, *INTERNAL_INPUTS)
# Outputs read from Kibana, beside the inputs.
KIBANA_OUTPUTS = ("api_key", "api_key_id", "active", "created_at", "hidden", "expire_at")
# Outputs the provider works out: Kibana's stored name, when rotation is due, and whether the
# key has expired (Kibana keeps `active: true` after expiry, elastic/kibana#283866).
DERIVED_OUTPUTS = ("full_name", "rotates_at", "expired")
# The current key's Kibana id (the resource's id too, unless keep_previous), and with
# keep_previous the key before it, still active until the next rotation.
KEY_OUTPUTS = ("key_id", "previous_key_id", "previous_api_key")
OUTPUT_KEYS = (*INPUT_KEYS, *KIBANA_OUTPUTS, *DERIVED_OUTPUTS, *KEY_OUTPUTS)
SECRET_OUTPUTS = ("api_key", "previous_api_key")

# Kibana stores "<name> (<document id>)"; the suffix is a v4 uuid in parentheses.
_UUID = r"\([0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\)"
_NAME_SUFFIX = re.compile(rf"\s*{_UUID}$")
_UUID_IN_PARENS = re.compile(rf"^{_UUID}$")


# -- names ----------------------------------------------------------------------------------


def user_name(kibana_name: str | None, key_id: str) -> str | None:
    """The name a user gave, from Kibana's stored ``<name> (<id>)``; None for an unnamed key."""
    if not kibana_name or kibana_name == key_id:
        return None
    return _NAME_SUFFIX.sub("", kibana_name)


def holds_name(kibana_name: str | None, name: str) -> bool:
    """Kibana's duplicate rule: the stored name is ``name`` plus only ``(<uuid>)``.

    Kibana (7.13+) strips the given name once and trims, so a mere prefix does not count.
    """
    if not kibana_name:
        return False
    return _UUID_IN_PARENS.match(kibana_name.replace(name, "", 1).strip()) is not None


def kuery_quote(value: str) -> str:
    """A KQL quoted string for ``value``."""
    escaped = value.replace("\\", "\\\\").replace('"', '\\"')
    return f'"{escaped}"'


def policy_kuery(policy_id: str) -> str:
    """The KQL filter for every key of one agent policy."""
    return f"policy_id:{kuery_quote(policy_id)}"


# KQL's special characters in an unquoted value, escaped with a backslash (kuery grammar).
_KQL_SPECIAL = re.compile(r'([\\():<>"*{}\s])')


def name_kuery(policy_id: str, name: str) -> str:
    """The KQL filter for the keys of one policy whose stored name starts with ``name``.

    Kibana stores ``<name> (<id>)``: an unquoted value with a trailing ``*`` is a prefix.
    """
    escaped = _KQL_SPECIAL.sub(r"\\\1", name)
    return f"{policy_kuery(policy_id)} and name:{escaped}*"


# -- what to ask Kibana for -----------------------------------------------------------------


def space_of(props: Mapping[str, Any]) -> str:
    """The Kibana space a resource's key lives in."""
    return str(props.get("space_id") or DEFAULT_SPACE_ID)


@dataclass(frozen=True)
class KeyRequest:
    """A key to create: ``name`` on ``policy_id`` in ``space_id``, expiring as Kibana takes it."""

    policy_id: str
    name: str
    space_id: str
    expiration: str | None = None
    """A duration (``90d``, ``7776000s``): Kibana 9.3+ takes no timestamp."""
    auto_named: bool = False
    base: str = "key"
    """The resource name, which an auto-name starts with."""
    identity: str = ""
    """The resource's identity in its stack, which an auto-name is derived from."""

    @classmethod
    def from_inputs(cls, props: Mapping[str, Any]) -> KeyRequest:
        """The request for checked inputs; an expiry timestamp becomes seconds from now."""
        expiration = props.get("expiration")
        base = str(props.get("resource_name") or "key")
        return cls(
            policy_id=str(props["policy_id"]),
            name=str(props["name"]),
            space_id=space_of(props),
            expiration=expiration_for_kibana(str(expiration)) if expiration else None,
            auto_named=props.get("auto_named") is True,
            base=base,
            identity=str(props.get("identity") or identity_of(base)),
        )

    def body(self) -> dict[str, Any]:
        """The JSON body of ``POST /api/fleet/enrollment_api_keys``."""
        body: dict[str, Any] = {"policy_id": self.policy_id, "name": self.name}
        if self.expiration is not None:
            body["expiration"] = self.expiration
        return body


# -- outputs --------------------------------------------------------------------------------


def outputs(props: Mapping[str, Any], item: Mapping[str, Any]) -> dict[str, Any]:
    """The resource outputs: the inputs as given, plus what Kibana reports about the key."""
    outs = {key: props[key] for key in INPUT_KEYS if key in props and props[key] is not None}
    key_id = str(item["id"])
    outs["policy_id"] = item.get("policy_id", outs.get("policy_id"))
    name = user_name(item.get("name"), key_id)
    if name is not None:
        outs["name"] = name
    for key in KIBANA_OUTPUTS:
        if item.get(key) is not None:
            outs[key] = item[key]
    outs["full_name"] = item.get("name") or key_id
    outs["key_id"] = key_id
    due = rotates_at(outs)
    if due is not None:
        outs["rotates_at"] = due
    outs["expired"] = has_expired(outs)
    return outs


def inputs_of(outs: Mapping[str, Any]) -> dict[str, Any]:
    """The inputs a refresh reports back: exactly the input keys of the outputs."""
    return {key: outs[key] for key in INPUT_KEYS if key in outs}


def updated_outputs(olds: Mapping[str, Any], news: Mapping[str, Any]) -> dict[str, Any]:
    """The outputs after an in-place update: new steering inputs over the old state."""
    outs = {key: value for key, value in olds.items() if key != "__provider"}
    for key in INPUT_KEYS:
        if key in news:
            outs[key] = news[key]
        elif key in UPDATABLE_INPUTS:
            outs.pop(key, None)
    outs.pop("rotates_at", None)
    due_at = rotates_at(outs)
    if due_at is not None:
        outs["rotates_at"] = due_at
    outs["expired"] = has_expired(outs)
    return outs


def has_expired(outs: Mapping[str, Any], now: datetime | None = None) -> bool:
    """True once the key's ``expire_at`` has passed.

    Kibana leaves such a key ``active: true`` (``active`` records only whether Fleet revoked
    it; elastic/kibana#283866, #284280), but Elasticsearch no longer accepts its API key.
    """
    moment = read_timestamp(outs.get("expire_at"))
    return moment is not None and moment <= (now or datetime.now(timezone.utc))


def rotates_at(outs: Mapping[str, Any]) -> str | None:
    """When the key is due for rotation: ``created_at`` plus ``rotate_after``, ISO-8601."""
    rotate_after = outs.get("rotate_after")
    created_at = outs.get("created_at")
    if not isinstance(rotate_after, str) or not isinstance(created_at, str):
        return None
    created = parse_timestamp(created_at, "created_at")
    due = created + parse_duration(rotate_after, "rotate_after")
    return due.astimezone(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


# -- what a change needs --------------------------------------------------------------------


def rotation_due(olds: Mapping[str, Any], news: Mapping[str, Any]) -> bool:
    """True when the key is at least ``rotate_after`` old (the new value, if it changed)."""
    rotate_after = news.get("rotate_after")
    if not isinstance(rotate_after, str) or is_unknown(rotate_after):
        return False
    due = rotates_at({"created_at": olds.get("created_at"), "rotate_after": rotate_after})
    if due is None:
        return False
    return datetime.now(timezone.utc) >= parse_timestamp(due, "rotates_at")


def replacing_changes(id_: str, olds: Mapping[str, Any], news: Mapping[str, Any]) -> list[str]:
    """The inputs whose change needs a new key."""
    changed = []
    for key in USER_INPUTS:
        new = news.get(key)
        if key == "name" and new is None and news.get("adopt_key_id") is not None:
            continue  # an adopted key keeps the name it has in Kibana
        if key == "name" and olds.get("auto_named") and news.get("auto_named") is True:
            # Both auto-named: the create may have moved the name to a later generation
            # (past names held by revoked keys), so the input and the stored name differ.
            continue
        if differs(olds.get(key), new):
            changed.append(key)
    adopt = news.get("adopt_key_id")
    # Adopting another key replaces; dropping the input after adoption, or naming the key
    # already held, changes nothing.
    if (
        adopt is not None
        and (is_unknown(adopt) or adopt != id_)
        and differs(olds.get("adopt_key_id"), adopt)
    ):
        changed.append("adopt_key_id")
    return changed


def replacement_reasons(id_: str, olds: Mapping[str, Any], news: Mapping[str, Any]) -> list[str]:
    """Why the key must be replaced: changed key inputs, a revoked key, a due rotation, or
    an expired key whose ``expiration`` is a duration (a new key gets a new expiry)."""
    reasons = replacing_changes(id_, olds, news)
    if olds.get("active") is False:
        reasons.append("active")
    if rotation_due(olds, news):
        reasons.append("rotates_at")
    if renewal_due(olds, news) and "expiration" not in reasons:
        reasons.append("expired")
    return reasons


def renewal_due(olds: Mapping[str, Any], news: Mapping[str, Any]) -> bool:
    """True when the key has expired and its ``expiration`` is a duration, which renews it.

    An expired key with a timestamp ``expiration`` is never replaced for it: its replacement
    would have expired as well (check warns that the timestamp must move instead).
    """
    expiration = news.get("expiration")
    return is_duration(expiration) and (olds.get("expired") is True or has_expired(olds))


def updated_inputs(olds: Mapping[str, Any], news: Mapping[str, Any]) -> list[str]:
    """The steering inputs that changed (an update in place, no Kibana call)."""
    return [key for key in UPDATABLE_INPUTS if differs(olds.get(key), news.get(key))]


def keeps_fixed_name(olds: Mapping[str, Any], news: Mapping[str, Any]) -> bool:
    """True when a replacement would reuse the old key's fixed name on the same policy."""
    return (
        news.get("auto_named") is False
        and not differs(olds.get("name"), news.get("name"))
        and not differs(olds.get("policy_id"), news.get("policy_id"))
    )


def differs(old: Any, new: Any) -> bool:
    """True when a new input value differs from the old one (unknown counts as different)."""
    if is_unknown(new):
        return True
    return bool(old != new)
