"""A provider configured the way the engine configures it, for tests that call it directly."""

from __future__ import annotations

from pulumi.dynamic import ConfigureRequest
from pulumi.dynamic.config import Config

from fleet_provider.enrollment_api_key import EnrollmentApiKeyProvider


def configured_provider(
    url: str, username: str = "elastic", password: str = "changeme", **extra: str
) -> EnrollmentApiKeyProvider:
    """A provider whose stack config points at ``url``; ``extra`` adds ``fleet:<key>`` values."""
    provider = EnrollmentApiKeyProvider()
    config = {"fleet:endpoint": url, "fleet:username": username, "fleet:password": password}
    config.update({f"fleet:{key}": value for key, value in extra.items()})
    provider.configure(ConfigureRequest(Config(config, "tests")))
    return provider
