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

from .durations import duration_to_timedelta, now_iso
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
