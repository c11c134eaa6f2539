"""Fleet state and rules (the emulator backend): spaces, agent policies, enrollment keys.

No HTTP here. Every operation runs under one lock, so a check and the write that
depends on it (the duplicate-name rule and the insert) are a single atomic step.
State lives in SQLite: ``:memory:`` by default, or a file that survives restarts.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import uuid
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from . import lucene
from .errors import (
    AgentPolicyIdConflictError,
    AgentPolicyNameExistsError,
    AgentPolicyNotFoundError,
    EnrollmentKeyNameExistsError,
    EnrollmentKeyNotFoundError,
    HostedAgentPolicyError,
    SearchFailedError,
    SpaceExistsError,
)
from .keys import CreatedClock, duplicate_query, name_clashes, new_key, search_failure
from .policies import (
    NewPolicy,
    check_creation_spaces,
    check_new_spaces,
    new_policy,
    not_found,
    saved_object_type,
    updated_policy,
)
from .spaces import DEFAULT_SPACE, DEFAULT_SPACE_ID, key_in_space, policy_in_space
from .versions import KibanaVersion

Doc = dict[str, Any]
# bulkDeleteEnrollmentApiKeys lists at most this many keys for a kuery (perPage: 10000).
BULK_KUERY_LIMIT = 10000

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
        self._clock = CreatedClock(row[0] if row else None)
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
        space_id: str,
        fields: NewPolicy,
        *,
        space_ids: list[str] | None = None,
        force: bool = False,
    ) -> Doc:
        """Create an agent policy in a space and give it its ``Default`` enrollment key.

        ``space_ids`` (8.16+) must name existing spaces; from 9.1 the new policy then
        moves to them, and the answer is the policy as created, before the move.
        """
        with self._lock:
            if space_ids:
                check_creation_spaces(space_ids, self._space_ids())
            with self._db:
                policy = self._create_agent_policy(space_id, fields)
            if space_ids and self.version.space_aware:
                # routes/agent_policy/handlers.ts builds the answer, then calls
                # updateAgentPolicySpaces; the policy stays created if that throws.
                with self._db:
                    self._move_policy(policy["id"], space_id, space_ids, force=force)
            return policy

    def get_agent_policy(self, policy_id: str, space_id: str) -> Doc:
        """Return the agent policy visible from ``space_id``."""
        with self._lock:
            return self._visible_policy(policy_id, space_id)

    def update_agent_policy(
        self,
        policy_id: str,
        space_id: str,
        body: Mapping[str, Any],
        *,
        user: str = "elastic",
    ) -> Doc:
        """Apply a PUT body; with ``space_ids`` (9.1+) first move the policy and its keys.

        Two steps, as in ``updateAgentPolicyHandler``: a refused update keeps the move.
        """
        space_ids = body.get("space_ids") or []
        force = bool(body.get("force"))
        with self._lock:
            if space_ids and self.version.space_aware:
                with self._db:
                    self._move_policy(policy_id, space_id, space_ids, force=force)
                space_id = space_ids[0]
            # Before 9.1 updateAgentPolicySpaces returns at once: space_ids change nothing.
            with self._db:
                name = body.get("name")
                if name:
                    self._check_unique_policy_name(name, space_id, policy_id)
                existing = self._saved_policy(policy_id, space_id)
                policy = updated_policy(existing, body, force=force, user=user)
                self._save_policy(policy)
                return policy

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
            if key_in_space(doc, space_id, self.version.space_aware) and predicate(doc):
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

    def bulk_delete_enrollment_api_keys(
        self,
        *,
        space_id: str,
        key_ids: list[str] | None,
        predicate: Callable[[Doc], bool],
        force_delete: bool,
        include_hidden: bool,
    ) -> tuple[int, int]:
        """Revoke (or remove) many keys at once (9.5+); ``(count, successCount)``.

        ``services/api_keys/enrollment_api_key.ts`` ``bulkDeleteEnrollmentApiKeys``: the ids
        given, or the first 10,000 keys the kuery matches, are fetched; missing keys, keys
        outside the space and hidden keys (without ``include_hidden``) are skipped.
        """
        with self._lock, self._db:
            if key_ids is None:
                rows = self._db.execute(
                    "SELECT id, doc FROM enrollment_api_keys ORDER BY created_at DESC, seq DESC"
                ).fetchall()
                docs = [{"id": key_id, **json.loads(raw)} for key_id, raw in rows]
                found = [
                    doc
                    for doc in docs
                    if key_in_space(doc, space_id, self.version.space_aware) and predicate(doc)
                ][:BULK_KUERY_LIMIT]
                count = len(found)
            else:
                found = []
                for key_id in dict.fromkeys(key_ids):
                    row = self._db.execute(
                        "SELECT doc FROM enrollment_api_keys WHERE id=?", (key_id,)
                    ).fetchone()
                    if row is not None:
                        doc = {"id": key_id, **json.loads(row[0])}
                        if key_in_space(doc, space_id, self.version.space_aware):
                            found.append(doc)
                count = len(key_ids)
            done = 0
            for doc in found:
                if doc.get("hidden") and not include_hidden:
                    continue
                if force_delete:
                    self._db.execute("DELETE FROM enrollment_api_keys WHERE id=?", (doc["id"],))
                else:
                    self._save_key(doc["id"], {**doc, "active": False})
                done += 1
            return count, done

    # -- internals --------------------------------------------------------------------
    def _ensure_defaults(self) -> None:
        if not self._db.execute("SELECT 1 FROM spaces WHERE id=?", (DEFAULT_SPACE_ID,)).fetchone():
            self._db.execute(
                "INSERT INTO spaces VALUES (?, ?)", (DEFAULT_SPACE_ID, json.dumps(DEFAULT_SPACE))
            )
        for policy_id in self.initial_policies:
            if not self._db.execute(
                "SELECT 1 FROM agent_policies WHERE id=?", (policy_id,)
            ).fetchone():
                self._create_agent_policy(
                    DEFAULT_SPACE_ID, NewPolicy(name=policy_id, policy_id=policy_id)
                )

    def _create_agent_policy(self, space_id: str, fields: NewPolicy) -> Doc:
        policy_id = fields.policy_id or str(uuid.uuid4())
        if self._db.execute("SELECT 1 FROM agent_policies WHERE id=?", (policy_id,)).fetchone():
            kind = saved_object_type(self.version.space_aware)
            raise AgentPolicyIdConflictError(f"Saved object [{kind}/{policy_id}] conflict")
        self._check_unique_policy_name(fields.name, space_id, None)
        space_ids = [space_id] if self.version.space_aware else None
        policy = new_policy(fields, policy_id, space_ids)
        self._db.execute(
            "INSERT INTO agent_policies VALUES (?, ?, ?)",
            (policy_id, fields.name, json.dumps(policy)),
        )
        # Kibana creates "Default" only when the policy has no key document at all, so
        # revoked keys left by an earlier policy with the same id suppress it (8.x-9.4).
        if not self._db.execute(
            "SELECT 1 FROM enrollment_api_keys WHERE policy_id=? LIMIT 1", (policy_id,)
        ).fetchone():
            self._insert_key(policy, "Default", None)
        return policy

    def _move_policy(
        self, policy_id: str, space_id: str, space_ids: list[str], *, force: bool
    ) -> None:
        """``updateAgentPolicySpaces`` (9.1+): the policy and its keys go to ``space_ids``.

        Its keys' ``namespaces`` become the policy's new ``space_ids`` (the update-by-query
        on ``.fleet-enrollment-api-keys`` in services/spaces/agent_policy.ts).
        """
        policy = self._saved_policy(policy_id, space_id)
        check_new_spaces(policy, space_ids, self._space_ids(), force)
        if sorted(policy.get("space_ids") or [DEFAULT_SPACE_ID]) == sorted(space_ids):
            return
        for space in space_ids:
            self._check_unique_policy_name(policy["name"], space, policy_id)
        self._save_policy({**policy, "space_ids": list(space_ids)})
        for key_id, doc in self._keys_of_policy(policy_id):
            self._save_key(key_id, {**doc, "namespaces": list(space_ids)})

    def _space_ids(self) -> list[str]:
        return [row[0] for row in self._db.execute("SELECT id FROM spaces")]

    def _save_policy(self, policy: Doc) -> None:
        self._db.execute(
            "UPDATE agent_policies SET name=?, doc=? WHERE id=?",
            (policy["name"], json.dumps(policy), policy["id"]),
        )

    def _check_unique_policy_name(self, name: str, space_id: str, policy_id: str | None) -> None:
        rows = self._db.execute("SELECT id, doc FROM agent_policies WHERE name=?", (name,))
        for other_id, raw in rows:
            if other_id != policy_id and policy_in_space(
                json.loads(raw), space_id, self.version.space_aware
            ):
                raise AgentPolicyNameExistsError(f"Agent Policy '{name}' already exists")

    def _check_unique_name(self, policy_id: str, name: str) -> None:
        # The search behind the check is a query_string `(<name>) *` on `name`; 9.x escapes the
        # name's first `!` (String.replace), 8.x nothing. A name Lucene cannot parse fails
        # the search, and with it the create (keys.duplicate_query).
        query = duplicate_query(name, self.version)
        if not lucene.parses(query):
            raise SearchFailedError(search_failure(query))
        # Only names containing `name` can clash; SQLite narrows them down without decoding
        # every document of the policy, so a create stays cheap on a policy with many keys.
        rows = self._db.execute(
            "SELECT json_extract(doc, '$.name') FROM enrollment_api_keys "
            "WHERE policy_id=? AND instr(json_extract(doc, '$.name'), ?) > 0",
            (policy_id, name),
        ).fetchall()
        for (existing_name,) in rows:
            if name_clashes(existing_name or "", name):
                raise EnrollmentKeyNameExistsError(
                    f"An enrollment key named {name} already exists for agent policy {policy_id}"
                )

    def _insert_key(self, policy: Doc, name: str | None, expiration: str | None) -> Doc:
        key_id = str(uuid.uuid4())
        doc = new_key(policy, key_id, name, expiration, self._clock.next(), self.version)
        self._db.execute(
            "INSERT INTO enrollment_api_keys (id, policy_id, created_at, doc) VALUES (?, ?, ?, ?)",
            (key_id, policy["id"], doc["created_at"], json.dumps(doc)),
        )
        return {"id": key_id, **doc}

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
        if not policy_in_space(policy, space_id, self.version.space_aware):
            raise AgentPolicyNotFoundError("Agent policy not found")
        return policy

    def _saved_policy(self, policy_id: str, space_id: str) -> Doc:
        # agentPolicyService.get throws the saved-objects 404 where handlers word none.
        try:
            return self._visible_policy(policy_id, space_id)
        except AgentPolicyNotFoundError:
            raise not_found(policy_id, self.version.space_aware) from None

    def _visible_key(self, key_id: str, space_id: str) -> Doc:
        row = self._db.execute(
            "SELECT doc FROM enrollment_api_keys WHERE id=?", (key_id,)
        ).fetchone()
        if row is None:
            raise EnrollmentKeyNotFoundError(key_id)
        doc: Doc = {"id": key_id, **json.loads(row[0])}
        if not key_in_space(doc, space_id, self.version.space_aware):
            raise EnrollmentKeyNotFoundError(key_id, in_namespace=True)
        return doc
