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
        ConfigurationError,
        DuplicateNameError,
        FleetError,
        InputError,
        TransportError,
        UnsupportedVersionError,
    )
    from fleet_provider.lookups import (
        EnrollmentApiKeyInfo,
        get_enrollment_api_key,
        get_enrollment_api_keys,
    )

_LAZY = {
    "EnrollmentApiKey": "fleet_provider.enrollment_api_key",
    "EnrollmentApiKeyArgs": "fleet_provider.enrollment_api_key",
    "EnrollmentApiKeyProvider": "fleet_provider.enrollment_api_key",
    "EnrollmentApiKeyInfo": "fleet_provider.lookups",
    "get_enrollment_api_key": "fleet_provider.lookups",
    "get_enrollment_api_keys": "fleet_provider.lookups",
    "ApiError": "fleet_provider.exceptions",
    "ConfigurationError": "fleet_provider.exceptions",
    "DuplicateNameError": "fleet_provider.exceptions",
    "FleetError": "fleet_provider.exceptions",
    "InputError": "fleet_provider.exceptions",
    "TransportError": "fleet_provider.exceptions",
    "UnsupportedVersionError": "fleet_provider.exceptions",
}

__all__ = [
    "ApiError",
    "ConfigurationError",
    "DuplicateNameError",
    "EnrollmentApiKey",
    "EnrollmentApiKeyArgs",
    "EnrollmentApiKeyInfo",
    "EnrollmentApiKeyProvider",
    "FleetError",
    "InputError",
    "TransportError",
    "UnsupportedVersionError",
    "__version__",
    "get_enrollment_api_key",
    "get_enrollment_api_keys",
]


def __getattr__(name: str) -> Any:
    """Import a public name from its module on first use."""
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'fleet_provider' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
