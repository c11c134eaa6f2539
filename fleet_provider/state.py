"""The resource's state: outputs from Kibana's answers, rotation dates, and what a change needs."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timezone
from typing import Any

from fleet_provider.durations import parse_duration, parse_timestamp
from fleet_provider.inputs import INPUT_KEYS, KIBANA_OUTPUTS, USER_INPUTS, is_unknown
from fleet_provider.names import user_name


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
    due = rotates_at(outs)
    if due is not None:
        outs["rotates_at"] = due
    return outs


def rotates_at(outs: Mapping[str, Any]) -> str | None:
    """When the key is due for rotation: ``created_at`` plus ``rotate_after``, ISO-8601."""
    rotate_after = outs.get("rotate_after")
    created_at = outs.get("created_at")
    if not isinstance(rotate_after, str) or not isinstance(created_at, str):
        return None
    created = parse_timestamp(created_at, "created_at")
    due = created + parse_duration(rotate_after, "rotate_after")
    return due.astimezone(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


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


def differs(old: Any, new: Any) -> bool:
    """True when a new input value differs from the old one (unknown counts as different)."""
    if is_unknown(new):
        return True
    return bool(old != new)
