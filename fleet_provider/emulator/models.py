"""Fleet state and rules (the emulator backend): spaces, agent policies, enrollment keys.

No HTTP here. Every operation runs under one lock, so a check and the write that
depends on it (the duplicate-name rule and the insert) are a single atomic step.
State lives in SQLite: ``:memory:`` by default, or a file that survives restarts.
"""

from __future__ import annotations

import base64
import json
import re
import secrets
import sqlite3
import threading
import uuid
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime, timedelta, timezone
from typing import Any

from .durations import duration_to_timedelta, now_iso
from .errors import (
    AgentPolicyIdConflictError,
    AgentPolicyNameExistsError,
    AgentPolicyNotFoundError,
    EnrollmentKeyNameExistsError,
    EnrollmentKeyNotFoundError,
    HostedAgentPolicyError,
    SpaceExistsError,
)
from .versions import KibanaVersion

Doc = dict[str, Any]

DEFAULT_SPACE_ID = "default"
ALL_SPACES_ID = "*"

# Kibana's duplicate-name test: what is left of an existing name once the provided
# name is removed must be exactly "(<uuid>)".
_UUID_IN_PARENS_RE = re.compile(
    r"^\([0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\)$"
)
_ES_ID_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS spaces (id TEXT PRIMARY KEY, doc TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS agent_policies (id TEXT PRIMARY KEY, name TEXT NOT NULL,
    doc TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS enrollment_api_keys (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    policy_id TEXT NOT NULL,
    created_at TEXT NOT NULL,
    doc TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS keys_by_policy ON enrollment_api_keys (policy_id);
CREATE INDEX IF NOT EXISTS keys_by_created ON enrollment_api_keys (created_at, seq);
"""


def _es_id(length: int) -> str:
    return "".join(secrets.choice(_ES_ID_ALPHABET) for _ in range(length))


class FleetBackend:
    """Spaces, agent policies and enrollment API keys with Kibana's rules for one version."""

    def __init__(
        self,
        version: KibanaVersion,
        data: str | None = None,
        policies: Iterable[str] = (),
    ) -> None:
        self.version = version
        self.initial_policies = tuple(policies)
        self._lock = threading.RLock()
        self._db = sqlite3.connect(data or ":memory:", check_same_thread=False)
        self._db.executescript(_SCHEMA)
        if data:
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
        row = self._db.execute("SELECT MAX(created_at) FROM enrollment_api_keys").fetchone()
        self._last_created = (
            datetime.fromisoformat(row[0].replace("Z", "+00:00"))
            if row and row[0]
            else datetime(1970, 1, 1, tzinfo=timezone.utc)
        )
        with self._lock, self._db:
            self._ensure_defaults()

    def close(self) -> None:
        """Close the store."""
        with self._lock:
            self._db.close()

    def reset(self) -> None:
        """Forget every key, policy and space; recreate the start-up policies."""
        with self._lock, self._db:
            self._db.execute("DELETE FROM enrollment_api_keys")
            self._db.execute("DELETE FROM agent_policies")
            self._db.execute("DELETE FROM spaces")
            self._ensure_defaults()

    # -- spaces -----------------------------------------------------------------------
    def create_space(self, space: Mapping[str, Any]) -> Doc:
        """Create a Kibana space (``id``, ``name`` and optional display fields)."""
        with self._lock, self._db:
            if self._db.execute("SELECT 1 FROM spaces WHERE id=?", (space["id"],)).fetchone():
                raise SpaceExistsError(f"A space with the identifier {space['id']} already exists.")
            doc = {"disabledFeatures": [], **space}
            self._db.execute("INSERT INTO spaces VALUES (?, ?)", (doc["id"], json.dumps(doc)))
            return doc

    # -- agent policies ---------------------------------------------------------------
    def create_agent_policy(
        self,
        *,
        space_id: str,
        name: str,
        namespace: str = "default",
        policy_id: str | None = None,
        description: str | None = None,
        is_managed: bool = False,
        supports_agentless: bool | None = None,
        user: str = "elastic",
    ) -> Doc:
        """Create an agent policy in a space and give it its ``Default`` enrollment key."""
        with self._lock, self._db:
            return self._create_agent_policy(
                space_id=space_id,
                name=name,
                namespace=namespace,
                policy_id=policy_id,
                description=description,
                is_managed=is_managed,
                supports_agentless=supports_agentless,
                user=user,
            )

    def get_agent_policy(self, policy_id: str, space_id: str) -> Doc:
        """Return the agent policy visible from ``space_id``."""
        with self._lock:
            return self._visible_policy(policy_id, space_id)

    def delete_agent_policy(self, policy_id: str, space_id: str, *, force: bool = False) -> Doc:
        """Delete a policy and deal with its keys as the version does."""
        with self._lock, self._db:
            policy = self._visible_policy(policy_id, space_id)
            if policy.get("is_managed") and not force:
                raise HostedAgentPolicyError(f"Cannot delete hosted agent policy {policy_id}")
            self._db.execute("DELETE FROM agent_policies WHERE id=?", (policy_id,))
            if self.version.delete_options:
                # 9.5+: the policy's keys are force-deleted, hidden ones included.
                self._db.execute("DELETE FROM enrollment_api_keys WHERE policy_id=?", (policy_id,))
            else:
                # 8.x-9.4: each key is revoked; the documents stay.
                for key_id, doc in self._keys_of_policy(policy_id):
                    if doc.get("active"):
                        doc["active"] = False
                        self._save_key(key_id, doc)
            return {"id": policy_id, "name": policy["name"]}

    # -- enrollment API keys ----------------------------------------------------------
    def create_enrollment_api_key(
        self,
        *,
        space_id: str,
        policy_id: str,
        name: str | None = None,
        expiration: str | None = None,
    ) -> Doc:
        """Create a key on a policy visible from ``space_id``; refuse duplicate names."""
        with self._lock, self._db:
            try:
                policy = self._visible_policy(policy_id, space_id)
            except AgentPolicyNotFoundError:
                raise AgentPolicyNotFoundError(f'Agent policy "{policy_id}" not found') from None
            if name:
                self._check_unique_name(policy_id, name)
            return self._insert_key(policy, name, expiration)

    def get_enrollment_api_key(self, key_id: str, space_id: str) -> Doc:
        """Return a key (revoked ones too) if it is visible from ``space_id``."""
        with self._lock:
            return self._visible_key(key_id, space_id)

    def list_enrollment_api_keys(
        self,
        *,
        space_id: str,
        predicate: Callable[[Doc], bool],
        page: int,
        per_page: int,
    ) -> tuple[int, list[Doc]]:
        """Total and one page of matching keys, newest first."""
        with self._lock:
            rows = self._db.execute(
                "SELECT id, doc FROM enrollment_api_keys ORDER BY created_at DESC, seq DESC"
            ).fetchall()
        matching = []
        for key_id, raw in rows:
            doc = {"id": key_id, **json.loads(raw)}
            if self._key_in_space(doc, space_id) and predicate(doc):
                matching.append(doc)
        start = max(page - 1, 0) * per_page
        return len(matching), matching[start : start + max(per_page, 0)]

    def delete_enrollment_api_key(
        self,
        key_id: str,
        space_id: str,
        *,
        force_delete: bool = False,
        include_hidden: bool = False,
    ) -> None:
        """Revoke a key (``active: false``) or, with ``force_delete``, remove it."""
        with self._lock, self._db:
            doc = self._visible_key(key_id, space_id)
            if self.version.delete_options and doc.get("hidden") and not include_hidden:
                # 9.5+: hidden keys (managed/agentless policies) are skipped as not found.
                raise EnrollmentKeyNotFoundError(key_id)
            if force_delete:
                self._db.execute("DELETE FROM enrollment_api_keys WHERE id=?", (key_id,))
                return
            doc["active"] = False
            self._save_key(key_id, doc)

    # -- internals --------------------------------------------------------------------
    def _ensure_defaults(self) -> None:
        if not self._db.execute("SELECT 1 FROM spaces WHERE id=?", (DEFAULT_SPACE_ID,)).fetchone():
            default = {
                "id": DEFAULT_SPACE_ID,
                "name": "Default",
                "description": "This is your default space!",
                "color": "#00bfb3",
                "disabledFeatures": [],
                "_reserved": True,
            }
            self._db.execute(
                "INSERT INTO spaces VALUES (?, ?)", (DEFAULT_SPACE_ID, json.dumps(default))
            )
        for policy_id in self.initial_policies:
            if not self._db.execute(
                "SELECT 1 FROM agent_policies WHERE id=?", (policy_id,)
            ).fetchone():
                self._create_agent_policy(
                    space_id=DEFAULT_SPACE_ID, name=policy_id, policy_id=policy_id
                )

    def _create_agent_policy(
        self,
        *,
        space_id: str,
        name: str,
        namespace: str = "default",
        policy_id: str | None = None,
        description: str | None = None,
        is_managed: bool = False,
        supports_agentless: bool | None = None,
        user: str = "elastic",
    ) -> Doc:
        policy_id = policy_id or str(uuid.uuid4())
        if self._db.execute("SELECT 1 FROM agent_policies WHERE id=?", (policy_id,)).fetchone():
            kind = "fleet-agent-policies" if self.version.space_aware else "ingest-agent-policies"
            raise AgentPolicyIdConflictError(f"Saved object [{kind}/{policy_id}] conflict")
        for (raw,) in self._db.execute("SELECT doc FROM agent_policies WHERE name=?", (name,)):
            if self._policy_in_space(json.loads(raw), space_id):
                raise AgentPolicyNameExistsError(f"Agent Policy '{name}' already exists")
        policy: Doc = {"id": policy_id, "name": name, "namespace": namespace}
        if description is not None:
            policy["description"] = description
        policy.update(
            {
                "monitoring_enabled": ["logs", "metrics"],
                "inactivity_timeout": 1209600,
                "is_protected": False,
                "status": "active",
                "is_managed": is_managed,
                "revision": 1,
                "updated_at": now_iso(datetime.now(timezone.utc)),
                "updated_by": user,
                "package_policies": [],
            }
        )
        if supports_agentless is not None:
            policy["supports_agentless"] = supports_agentless
        if self.version.space_aware:
            policy["space_ids"] = [space_id]
        self._db.execute(
            "INSERT INTO agent_policies VALUES (?, ?, ?)", (policy_id, name, json.dumps(policy))
        )
        # Kibana creates "Default" only when the policy has no key document at all, so
        # revoked keys left by an earlier policy with the same id suppress it (8.x-9.4).
        if not self._db.execute(
            "SELECT 1 FROM enrollment_api_keys WHERE policy_id=? LIMIT 1", (policy_id,)
        ).fetchone():
            self._insert_key(policy, "Default", None)
        return policy

    def _check_unique_name(self, policy_id: str, name: str) -> None:
        # Only names containing `name` can clash; SQLite narrows them down without decoding
        # every document of the policy, so a create stays cheap on a policy with many keys.
        rows = self._db.execute(
            "SELECT json_extract(doc, '$.name') FROM enrollment_api_keys "
            "WHERE policy_id=? AND instr(json_extract(doc, '$.name'), ?) > 0",
            (policy_id, name),
        ).fetchall()
        for (existing_name,) in rows:
            existing = existing_name or ""
            # Kibana 7.13+ tests in JavaScript: String.replace swaps the first occurrence only.
            if _UUID_IN_PARENS_RE.match(existing.replace(name, "", 1).strip()):
                raise EnrollmentKeyNameExistsError(
                    f"An enrollment key named {name} already exists for agent policy {policy_id}"
                )

    def _insert_key(self, policy: Doc, name: str | None, expiration: str | None) -> Doc:
        key_id = str(uuid.uuid4())
        api_key_id = _es_id(20)
        secret = _es_id(22)
        created = self._next_created()
        doc: Doc = {
            "active": True,
            "api_key_id": api_key_id,
            "api_key": base64.b64encode(f"{api_key_id}:{secret}".encode()).decode(),
            "name": f"{name} ({key_id})" if name else key_id,
            "policy_id": policy["id"],
        }
        if self.version.space_aware:
            doc["namespaces"] = list(policy.get("space_ids") or [DEFAULT_SPACE_ID])
        doc["created_at"] = now_iso(created)
        if self.version.hidden_field:
            doc["hidden"] = bool(policy.get("supports_agentless") or policy.get("is_managed"))
        if expiration and self.version.expiration:
            doc["expire_at"] = now_iso(created + duration_to_timedelta(expiration))
        self._db.execute(
            "INSERT INTO enrollment_api_keys (id, policy_id, created_at, doc) VALUES (?, ?, ?, ?)",
            (key_id, policy["id"], doc["created_at"], json.dumps(doc)),
        )
        return {"id": key_id, **doc}

    def _next_created(self) -> datetime:
        # Strictly increasing millisecond timestamps keep the created_at sort total.
        now = datetime.now(timezone.utc)
        moment = now.replace(microsecond=now.microsecond // 1000 * 1000)
        if moment <= self._last_created:
            moment = self._last_created + timedelta(milliseconds=1)
        self._last_created = moment
        return moment

    def _keys_of_policy(self, policy_id: str) -> list[tuple[str, Doc]]:
        rows = self._db.execute(
            "SELECT id, doc FROM enrollment_api_keys WHERE policy_id=?", (policy_id,)
        ).fetchall()
        return [(key_id, json.loads(raw)) for key_id, raw in rows]

    def _save_key(self, key_id: str, doc: Doc) -> None:
        stored = {k: v for k, v in doc.items() if k != "id"}
        self._db.execute(
            "UPDATE enrollment_api_keys SET doc=? WHERE id=?", (json.dumps(stored), key_id)
        )

    def _visible_policy(self, policy_id: str, space_id: str) -> Doc:
        row = self._db.execute("SELECT doc FROM agent_policies WHERE id=?", (policy_id,)).fetchone()
        if row is None:
            raise AgentPolicyNotFoundError("Agent policy not found")
        policy: Doc = json.loads(row[0])
        if not self._policy_in_space(policy, space_id):
            raise AgentPolicyNotFoundError("Agent policy not found")
        return policy

    def _policy_in_space(self, policy: Doc, space_id: str) -> bool:
        if not self.version.space_aware:
            # Before space awareness agent policies are visible from every space.
            return True
        spaces = policy.get("space_ids") or [DEFAULT_SPACE_ID]
        return space_id in spaces or ALL_SPACES_ID in spaces

    def _visible_key(self, key_id: str, space_id: str) -> Doc:
        row = self._db.execute(
            "SELECT doc FROM enrollment_api_keys WHERE id=?", (key_id,)
        ).fetchone()
        if row is None:
            raise EnrollmentKeyNotFoundError(key_id)
        doc: Doc = {"id": key_id, **json.loads(row[0])}
        if not self._key_in_space(doc, space_id):
            raise EnrollmentKeyNotFoundError(key_id, in_namespace=True)
        return doc

    def _key_in_space(self, doc: Doc, space_id: str) -> bool:
        if not self.version.space_aware:
            # 8.x and 9.0 (awareness off): every key is visible from every space.
            return True
        namespaces = doc.get("namespaces") or []
        if ALL_SPACES_ID in namespaces:
            return True
        if space_id == DEFAULT_SPACE_ID:
            # Documents without namespaces belong to the default space.
            return not namespaces or DEFAULT_SPACE_ID in namespaces
        return space_id in namespaces
