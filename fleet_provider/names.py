"""Kibana's key names: the stored ``<name> (<id>)`` form, its duplicate rule, KQL quoting."""

from __future__ import annotations

import re

# Kibana stores "<name> (<document id>)"; the suffix is a v4 uuid in parentheses.
_NAME_SUFFIX = re.compile(
    r"\s*\([0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\)$"
)
_UUID_IN_PARENS = re.compile(
    r"^\([0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\)$"
)


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
