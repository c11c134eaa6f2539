"""The Kibana under test: the emulator by default, a real Kibana when configured.

Set ``FLEET_CONFORMANCE_URL`` (and ``FLEET_CONFORMANCE_USERNAME`` /
``FLEET_CONFORMANCE_PASSWORD`` or ``FLEET_CONFORMANCE_API_KEY``) to run the
conformance tests against a real Kibana.
"""

from __future__ import annotations

import os
import uuid
from typing import Any

import pytest
import requests

from tests.conformance.versions import Release

URL_ENV = "FLEET_CONFORMANCE_URL"
XSRF = {"kbn-xsrf": "true"}
KEYS = "/api/fleet/enrollment_api_keys"


class Target:
    """An HTTP view of one Kibana, with the few helpers tests need."""

    def __init__(
        self,
        url: str,
        *,
        auth: tuple[str, str] | None = None,
        api_key: str | None = None,
        emulator: bool = False,
    ) -> None:
        self.url = url.rstrip("/")
        self.is_emulator = emulator
        self.http = requests.Session()
        if api_key:
            self.http.headers["Authorization"] = f"ApiKey {api_key}"
        else:
            self.http.auth = auth or ("elastic", "changeme")
        self._created_policies: list[tuple[str, str | None]] = []
        status = self.get("/api/status")
        status.raise_for_status()
        self.version = Release.parse(status.json()["version"]["number"])

    @classmethod
    def from_environment(cls) -> Target | None:
        """A real Kibana from ``FLEET_CONFORMANCE_*`` variables, or None."""
        url = os.environ.get(URL_ENV)
        if not url:
            return None
        user = os.environ.get("FLEET_CONFORMANCE_USERNAME", "elastic")
        password = os.environ.get("FLEET_CONFORMANCE_PASSWORD", "changeme")
        return cls(url, auth=(user, password), api_key=os.environ.get("FLEET_CONFORMANCE_API_KEY"))

    def require_emulator(self, why: str) -> None:
        """Skip the test unless the target is the emulator."""
        if not self.is_emulator:
            pytest.skip(f"needs the emulator: {why}")

    def require(self, feature: str) -> None:
        """Skip the test unless the Kibana version has ``feature`` (a Release switch)."""
        if not getattr(self.version, feature):
            pytest.skip(f"Kibana {self.version} lacks {feature}")

    # -- HTTP -------------------------------------------------------------------------
    def request(
        self, method: str, path: str, *, space: str | None = None, **options: Any
    ) -> requests.Response:
        """Send a request; ``space`` adds the ``/s/<space>`` prefix."""
        prefix = f"/s/{space}" if space else ""
        options.setdefault("timeout", 30)
        return self.http.request(method, f"{self.url}{prefix}{path}", **options)

    def get(self, path: str, **options: Any) -> requests.Response:
        """GET."""
        return self.request("GET", path, **options)

    def post(self, path: str, **options: Any) -> requests.Response:
        """POST with ``kbn-xsrf``."""
        options["headers"] = {**XSRF, **options.get("headers", {})}
        return self.request("POST", path, **options)

    def delete(self, path: str, **options: Any) -> requests.Response:
        """DELETE with ``kbn-xsrf``."""
        options["headers"] = {**XSRF, **options.get("headers", {})}
        return self.request("DELETE", path, **options)

    # -- helpers ----------------------------------------------------------------------
    def create_policy(
        self, *, space: str | None = None, managed: bool = False, name: str | None = None
    ) -> str:
        """Create an agent policy with a unique id (and its Default key); return the id."""
        policy_id = f"conformance-{uuid.uuid4().hex[:12]}"
        body: dict[str, Any] = {"id": policy_id, "name": name or policy_id, "namespace": "default"}
        if managed:
            body["is_managed"] = True
        response = self.post("/api/fleet/agent_policies", json=body, space=space)
        assert response.status_code == 200, response.text
        self._created_policies.append((policy_id, space))
        return policy_id

    def create_key(
        self, policy_id: str, name: str | None = None, *, space: str | None = None, **extra: Any
    ) -> dict[str, Any]:
        """Create an enrollment key and return its item."""
        body: dict[str, Any] = {"policy_id": policy_id, **extra}
        if name is not None:
            body["name"] = name
        response = self.post(KEYS, json=body, space=space)
        assert response.status_code == 200, response.text
        item: dict[str, Any] = response.json()["item"]
        return item

    def keys_of(self, policy_id: str, *, space: str | None = None) -> list[dict[str, Any]]:
        """Every key of a policy, newest first."""
        response = self.get(
            KEYS, params={"kuery": f'policy_id:"{policy_id}"', "perPage": 1000}, space=space
        )
        assert response.status_code == 200, response.text
        items: list[dict[str, Any]] = response.json()["items"]
        return items

    def reset(self) -> None:
        """Emulator: back to the start state. Real Kibana: delete the policies tests made."""
        if self.is_emulator:
            response = self.http.post(f"{self.url}/_emulator/reset", timeout=30)
            response.raise_for_status()
        else:
            for policy_id, space in self._created_policies:
                self.post(
                    "/api/fleet/agent_policies/delete",
                    json={"agentPolicyId": policy_id, "force": True},
                    space=space,
                )
        self._created_policies.clear()


REASONS = {
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    409: "Conflict",
    500: "Internal Server Error",
}


def assert_error(response: requests.Response, status: int, message: str) -> None:
    """The response is Kibana's error body with exactly this status and message."""
    expected = {"statusCode": status, "error": REASONS[status], "message": message}
    assert (response.status_code, response.json()) == (status, expected)
