"""The Kibana under test: the emulator by default, a real Kibana when configured.

Set ``FLEET_CONFORMANCE_URL`` (and ``FLEET_CONFORMANCE_USERNAME`` /
``FLEET_CONFORMANCE_PASSWORD`` or ``FLEET_CONFORMANCE_API_KEY``) to run the
conformance tests against a real Kibana.
"""

from __future__ import annotations

import os
from typing import Any

import pytest
import requests

from fleet_provider.emulator.admin import KEYS, XSRF, KibanaAdmin
from tests.conformance.versions import Release

__all__ = ["KEYS", "REASONS", "URL_ENV", "XSRF", "Target", "assert_error"]

URL_ENV = "FLEET_CONFORMANCE_URL"


class Target(KibanaAdmin):
    """The Kibana under test, with its release and the switches conformance tests need."""

    policy_prefix = "conformance"
    """How the ids of the policies the tests create begin."""

    def __init__(self, url: str, *, emulator: bool = False, **credentials: Any) -> None:
        """Speak to the Kibana at ``url`` (``auth=`` or ``api_key=``, as KibanaAdmin takes them);
        ``emulator`` says it is the emulator."""
        super().__init__(url, timeout=30.0, **credentials)
        self.is_emulator = emulator
        self.version = Release.parse(self.kibana_version())

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

    def reset(self) -> None:
        """Emulator: back to the start state. Real Kibana: delete the policies tests made."""
        if self.is_emulator:
            super().reset()
        else:
            self.delete_created_policies()


REASONS = {
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    409: "Conflict",
    500: "Internal Server Error",
}


def assert_error(
    response: requests.Response,
    status: int,
    message: str,
    *,
    attributes: dict[str, Any] | None = None,
) -> None:
    """The response is Kibana's error body with exactly this status, message and attributes."""
    expected: dict[str, Any] = {"statusCode": status, "error": REASONS[status], "message": message}
    if attributes is not None:
        expected["attributes"] = attributes
    assert (response.status_code, response.json()) == (status, expected)
