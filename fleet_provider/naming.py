"""Auto-names: derived from the resource's identity and a generation, never random.

A key without a ``name`` is named ``<resource name>-<8 hex>``, the hex from the resource's
identity in its stack (project, stack, type, parent, resource name) and a generation number.
So ``preview`` and ``up`` derive the same name, and a rerun after a failed create derives the
name of the key that run may have left, which the create then adopts. A replacement must not
derive the name of the key it replaces (it would adopt the key its delete then revokes): the
engine checks a replacement again with no olds (pulumi/pulumi step_generator.go, "recompute the
default values"), but within one command the first check, the diff and that second check run
in the same host process, so the names the first two saw are remembered here and the second
check moves past them.
"""

from __future__ import annotations

import hashlib
import json
import re
import sys
import threading
from collections.abc import Iterator, Mapping
from typing import Any

SUFFIX_HEX = 8
MAX_GENERATIONS = 100
"""How many generations a name may move through (past names held by revoked keys)."""


def identity_of(*parts: str) -> str:
    """A short, stable digest of what identifies a resource in its stack."""
    return hashlib.sha256("\x1f".join(parts).encode("utf-8")).hexdigest()[:16]


def derived_name(base: str, identity: str, generation: int) -> str:
    """The auto-name of generation ``generation``: ``<base>-<8 hex>``."""
    digest = hashlib.sha256(f"{identity}:{generation}".encode("ascii")).hexdigest()
    return f"{base}-{digest[:SUFFIX_HEX]}"


def generation_of(name: str, base: str, identity: str) -> int | None:
    """The generation ``name`` was derived with; None for a name not derived (older releases)."""
    for generation in range(MAX_GENERATIONS):
        if derived_name(base, identity, generation) == name:
            return generation
    return None


def successors(base: str, identity: str, name: str) -> Iterator[str]:
    """The names after ``name``, generation by generation."""
    current = generation_of(name, base, identity)
    start = 0 if current is None else current + 1
    for generation in range(start, MAX_GENERATIONS):
        candidate = derived_name(base, identity, generation)
        if candidate != name:
            yield candidate


class _ReplacedNames:
    """The auto-names this process saw held by each resource (by identity)."""

    def __init__(self) -> None:
        self._names: dict[str, set[str]] = {}
        self._lock = threading.Lock()

    def remember(self, identity: str, name: str) -> None:
        with self._lock:
            self._names.setdefault(identity, set()).add(name)

    def names(self, identity: str) -> set[str]:
        with self._lock:
            return set(self._names.get(identity, ()))


_replaced = _ReplacedNames()


def remember_held_name(held: Mapping[str, Any], news: Mapping[str, Any]) -> None:
    """Note the auto-name an existing key holds (old inputs in check, old outputs in diff)."""
    identity, name = news.get("identity"), held.get("name")
    if held.get("auto_named") and isinstance(identity, str) and isinstance(name, str):
        _replaced.remember(identity, name)


def auto_name(olds: Mapping[str, Any], news: Mapping[str, Any]) -> str:
    """The auto-name for checked inputs: the old one when there are olds, else derived.

    The old name is kept also when the resource was renamed with an alias: the engine finds
    the old state under the alias and hands its inputs to check (getOldResource).
    """
    previous = olds.get("name")
    if olds.get("auto_named") and isinstance(previous, str):
        remember_held_name(olds, news)
        return previous
    resource_name = news.get("resource_name")
    base = resource_name if isinstance(resource_name, str) and resource_name else "key"
    identity = news.get("identity")
    if not isinstance(identity, str) or not identity:
        identity = identity_of(base)
    held = _replaced.names(identity)
    generations = [generation_of(name, base, identity) for name in held]
    start = max((g for g in generations if g is not None), default=-1) + 1
    for generation in range(start, start + MAX_GENERATIONS):
        name = derived_name(base, identity, generation)
        if name not in held:
            return name
    return derived_name(base, identity, start + MAX_GENERATIONS)


def is_own_auto_name(olds: Mapping[str, Any], name: Any) -> bool:
    """True when ``name`` is the auto-name the old inputs hold, not one the user chose.

    ``ignore_changes=["name"]`` makes the engine copy the old ``name`` into the new inputs
    before check (step_generator.go processIgnoreChanges); it stays an auto-name.
    """
    return bool(olds.get("auto_named")) and olds.get("name") == name


# -- Pulumi's own autonaming ----------------------------------------------------------------

# The pattern functions that add randomness (pulumi/pulumi pkg/resource/autonaming/pattern.go).
_RANDOM_IN_PATTERN = re.compile(r"\$\{(?:(?:hex|alphanum|string|num)\(\d+\)|uuid)\}")


def delete_first_autonaming(autonaming: str | None, resource_type: str) -> str | None:
    """The ``pulumi:autonaming`` setting that makes the engine replace this resource delete-first.

    The stack config ``pulumi:autonaming`` (Pulumi 3.146+) reaches a dynamic provider's
    ``configure`` as JSON. ``verbatim``, ``disabled`` or a pattern without a random part make
    the engine delete each resource before creating its replacement, dynamic resources
    included, whatever the provider's diff says (step_generator.go, autonaming/strategy.go).
    The most specific entry decides: this resource type, then the ``pulumi-python`` package.
    """
    if not autonaming:
        return None
    try:
        setting = json.loads(autonaming)
    except ValueError:
        return None
    if not isinstance(setting, dict):
        return None
    package = (setting.get("providers") or {}).get("pulumi-python") or {}
    chosen = next(
        entry
        for entry in ((package.get("resources") or {}).get(resource_type) or {}, package, setting)
        if entry.get("mode") or entry.get("pattern") or entry is setting
    )
    if "pattern" in chosen:
        pattern = str(chosen["pattern"])
        return None if _RANDOM_IN_PATTERN.search(pattern) else f"pattern {pattern!r}"
    mode = chosen.get("mode")
    return f"mode {mode!r}" if mode in ("verbatim", "disabled") else None


def warn_forced_delete_first(resource_name: Any, setting: str) -> None:
    """Tell the user, at preview, that the stack's autonaming setting costs overlap."""
    print(
        f"warning: EnrollmentApiKey {resource_name!r}: the stack config pulumi:autonaming "
        f"({setting}) makes Pulumi revoke each key before creating its replacement, so every "
        "rotation or replacement leaves a gap with no valid token; give the pulumi-python "
        "package mode default (pulumi:autonaming providers: pulumi-python: mode: default)",
        file=sys.stderr,
    )
