"""fleet-provider: Kibana Fleet enrollment API keys as Pulumi resources.

Public names are imported on first use, so ``import fleet_provider.emulator`` (standard
library only) does not pay for importing Pulumi.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from fleet_provider._version import __version__

if TYPE_CHECKING:
    from fleet_provider.enrollment_api_key import (
        EnrollmentApiKey,
        EnrollmentApiKeyArgs,
        EnrollmentApiKeyProvider,
    )
    from fleet_provider.exceptions import (
        ApiError,
        AuthenticationError,
        AuthorizationError,
        BadRequestError,
        ConfigurationError,
        ConflictError,
        DuplicateNameError,
        FleetError,
        InputError,
        KeyInAnotherSpaceError,
        KeyNotFoundError,
        NotFoundError,
        PolicyNotFoundError,
        ProxyError,
        RouteNotFoundError,
        ServerError,
        TLSError,
        TransportError,
        UnderlyingError,
        UnexpectedResponseError,
        UnsupportedVersionError,
    )
    from fleet_provider.lookups import (
        EnrollmentApiKeyInfo,
        get_enrollment_api_key,
        get_enrollment_api_keys,
    )

__all__ = [
    "ApiError",
    "AuthenticationError",
    "AuthorizationError",
    "BadRequestError",
    "ConfigurationError",
    "ConflictError",
    "DuplicateNameError",
    "EnrollmentApiKey",
    "EnrollmentApiKeyArgs",
    "EnrollmentApiKeyInfo",
    "EnrollmentApiKeyProvider",
    "FleetError",
    "InputError",
    "KeyInAnotherSpaceError",
    "KeyNotFoundError",
    "NotFoundError",
    "PolicyNotFoundError",
    "ProxyError",
    "RouteNotFoundError",
    "ServerError",
    "TLSError",
    "TransportError",
    "UnderlyingError",
    "UnexpectedResponseError",
    "UnsupportedVersionError",
    "__version__",
    "get_enrollment_api_key",
    "get_enrollment_api_keys",
]

_LAZY = {
    "EnrollmentApiKey": "fleet_provider.enrollment_api_key",
    "EnrollmentApiKeyArgs": "fleet_provider.enrollment_api_key",
    "EnrollmentApiKeyProvider": "fleet_provider.enrollment_api_key",
    "EnrollmentApiKeyInfo": "fleet_provider.lookups",
    "get_enrollment_api_key": "fleet_provider.lookups",
    "get_enrollment_api_keys": "fleet_provider.lookups",
    # Every exception class, from the module that defines the error tree.
    **{name: "fleet_provider.exceptions" for name in __all__ if name.endswith("Error")},
}


def __getattr__(name: str) -> Any:
    """Import a public name from its module on first use."""
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'fleet_provider' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    """The public names, including those not imported yet."""
    return sorted(set(globals()) | set(__all__))
