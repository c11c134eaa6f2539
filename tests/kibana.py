"""Test helpers that speak to a Kibana (the emulator) over HTTP, as an operator would."""

from __future__ import annotations

import uuid
from typing import Any

import requests

AUTH = ("elastic", "changeme")
XSRF = {"kbn-xsrf": "true"}


class KibanaAdmin:
    """Out-of-band changes a person could make in Kibana's UI, done over HTTP."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.http = requests.Session()
        self.http.auth = AUTH

    def _prefix(self, space_id: str | None) -> str:
        return f"/s/{space_id}" if space_id and space_id != "default" else ""

    def reset(self) -> None:
        """Forget every key, policy, space, fault and counter (emulator only)."""
        self.http.post(f"{self.url}/_emulator/reset", timeout=10).raise_for_status()

    def request_count(self) -> dict[str, Any]:
        """The emulator's request counter."""
        response = self.http.get(f"{self.url}/_emulator/requests", timeout=10)
        response.raise_for_status()
        result: dict[str, Any] = response.json()
        return result

    def create_policy(
        self, policy_id: str | None = None, space_id: str | None = None, managed: bool = False
    ) -> str:
        """Create an agent policy (with its Default key) and return its id."""
        policy_id = policy_id or f"policy-{uuid.uuid4().hex[:8]}"
        body = {"id": policy_id, "name": policy_id, "namespace": "default", "is_managed": managed}
        response = self.http.post(
            f"{self.url}{self._prefix(space_id)}/api/fleet/agent_policies",
            json=body,
            headers=XSRF,
            timeout=10,
        )
        response.raise_for_status()
        return policy_id

    def delete_policy(self, policy_id: str, space_id: str | None = None) -> None:
        """Delete an agent policy; Kibana revokes (<= 9.4) or removes (9.5+) its keys."""
        response = self.http.post(
            f"{self.url}{self._prefix(space_id)}/api/fleet/agent_policies/delete",
            json={"agentPolicyId": policy_id},
            headers=XSRF,
            timeout=10,
        )
        response.raise_for_status()

    def create_space(self, space_id: str) -> None:
        """Create a Kibana space."""
        response = self.http.post(
            f"{self.url}/api/spaces/space",
            json={"id": space_id, "name": space_id},
            headers=XSRF,
            timeout=10,
        )
        response.raise_for_status()

    def get_key(self, key_id: str, space_id: str | None = None) -> dict[str, Any] | None:
        """A key as Kibana reports it, or None when it is gone."""
        response = self.http.get(
            f"{self.url}{self._prefix(space_id)}/api/fleet/enrollment_api_keys/{key_id}",
            timeout=10,
        )
        if response.status_code == 404:
            return None
        response.raise_for_status()
        item: dict[str, Any] = response.json()["item"]
        return item

    def keys(self, policy_id: str, space_id: str | None = None) -> list[dict[str, Any]]:
        """Every key on a policy, revoked ones included."""
        response = self.http.get(
            f"{self.url}{self._prefix(space_id)}/api/fleet/enrollment_api_keys",
            params={"kuery": f'policy_id:"{policy_id}"', "perPage": 10000},
            timeout=10,
        )
        response.raise_for_status()
        items: list[dict[str, Any]] = response.json()["items"]
        return items

    def create_key(
        self, policy_id: str, name: str | None = None, space_id: str | None = None
    ) -> dict[str, Any]:
        """Create a key by hand, as someone would in Kibana's UI."""
        body: dict[str, Any] = {"policy_id": policy_id}
        if name is not None:
            body["name"] = name
        response = self.http.post(
            f"{self.url}{self._prefix(space_id)}/api/fleet/enrollment_api_keys",
            json=body,
            headers=XSRF,
            timeout=10,
        )
        response.raise_for_status()
        item: dict[str, Any] = response.json()["item"]
        return item

    def revoke(self, key_id: str, space_id: str | None = None, force: bool = False) -> None:
        """Revoke a key (or remove it, with ``force`` on Kibana 9.5+)."""
        params = {"forceDelete": "true", "includeHidden": "true"} if force else None
        response = self.http.delete(
            f"{self.url}{self._prefix(space_id)}/api/fleet/enrollment_api_keys/{key_id}",
            params=params,
            headers=XSRF,
            timeout=10,
        )
        response.raise_for_status()
