"""Enrollment-key documents: a new one, Kibana's duplicate-name test, and their time order.

Kibana: ``x-pack/platform/plugins/shared/fleet/server/services/api_keys/enrollment_api_key.ts``
(``generateEnrollmentAPIKey``). No storage here; ``models`` keeps the documents.
"""

from __future__ import annotations

import base64
import re
import secrets
import threading
from collections.abc import Mapping
from datetime import datetime, timedelta, timezone
from typing import Any

from .durations import duration_to_timedelta, now_iso, over_ceiling
from .errors import ApiKeyCreationError
from .spaces import DEFAULT_SPACE_ID
from .versions import KibanaVersion

Doc = dict[str, Any]

# Kibana's duplicate-name test: what is left of an existing name once the provided
# name is removed must be exactly "(<uuid>)".
_UUID_IN_PARENS_RE = re.compile(
    r"^\([0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\)$"
)
_ES_ID_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"


def _es_id(length: int) -> str:
    return "".join(secrets.choice(_ES_ID_ALPHABET) for _ in range(length))


def name_clashes(existing_name: str, name: str) -> bool:
    """True when a key named ``existing_name`` blocks a new key named ``name``."""
    # Kibana 7.13+ tests in JavaScript: String.replace swaps the first occurrence only.
    return bool(_UUID_IN_PARENS_RE.match(existing_name.replace(name, "", 1).strip()))


def duplicate_query(name: str, version: KibanaVersion) -> str:
    """The ``query_string`` of Kibana's duplicate-name search for a new key named ``name``."""
    # generateEnrollmentAPIKey: `(${providedKeyName.replace('!', '\\!')}) *` in 9.x (JavaScript
    # replaces the first occurrence only); 8.x sent the name as it is. 9.0 is a choice.
    escaped = name.replace("!", "\\!", 1) if version.major >= 9 else name
    return f"({escaped}) *"


def search_failure(query: str) -> str:
    """Kibana's message for a search Elasticsearch refused to parse (an ES client error)."""
    # @elastic/transport's ResponseError: the error type, then each root cause on its line.
    # Elasticsearch's reason for a query_string it cannot parse; the whole text is inferred.
    return (
        "search_phase_execution_exception\n\tRoot causes:\n"
        f"\t\tquery_shard_exception: Failed to parse query [{query}]\n"
    )


def new_key(
    policy: Mapping[str, Any],
    key_id: str,
    name: str | None,
    expiration: str | None,
    created: datetime,
    version: KibanaVersion,
) -> Doc:
    """The stored document of a new key on ``policy`` (without its ``id``)."""
    api_key_id = _es_id(20)
    secret = _es_id(22)
    doc: Doc = {
        "active": True,
        "api_key_id": api_key_id,
        "api_key": base64.b64encode(f"{api_key_id}:{secret}".encode()).decode(),
        "name": f"{name} ({key_id})" if name else key_id,
        "policy_id": policy["id"],
    }
    if version.space_aware:
        doc["namespaces"] = list(policy.get("space_ids") or [DEFAULT_SPACE_ID])
    doc["created_at"] = now_iso(created)
    if version.hidden_field:
        doc["hidden"] = bool(policy.get("supports_agentless") or policy.get("is_managed"))
    if expiration and version.expiration:
        if over_ceiling(expiration):
            # Only the first, backported validator lets such a value through (0d aside, which
            # expires at once): Elasticsearch's TimeValue ceiling is Long.MAX_VALUE nanoseconds,
            # and generateEnrollmentAPIKey wraps its refusal in a FleetError (400). The
            # wording after the prefix is inferred.
            raise ApiKeyCreationError(
                "Impossible to create an api key: failed to parse [expiration] value "
                f"[{expiration}]"
            )
        doc["expire_at"] = now_iso(created + duration_to_timedelta(expiration))
    return doc


class CreatedClock:
    """Strictly increasing millisecond timestamps, so the ``created_at`` sort is total."""

    def __init__(self, last: str | None = None) -> None:
        """Start after ``last`` (a stored ``created_at``), or at the epoch."""
        self._lock = threading.Lock()
        self._last = (
            datetime.fromisoformat(last.replace("Z", "+00:00"))
            if last
            else datetime(1970, 1, 1, tzinfo=timezone.utc)
        )

    def next(self) -> datetime:
        """Now, or one millisecond after the previous stamp if that is not earlier."""
        with self._lock:
            now = datetime.now(timezone.utc)
            moment = now.replace(microsecond=now.microsecond // 1000 * 1000)
            if moment <= self._last:
                moment = self._last + timedelta(milliseconds=1)
            self._last = moment
            return moment
