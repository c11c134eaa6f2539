"""The public surface of ``fleet_provider``: what ``__all__`` promises, and what it costs to import."""

from __future__ import annotations

import inspect
import subprocess
import sys

import fleet_provider
from fleet_provider import exceptions

# A pin, not a copy: the names a release promises, written out once more on purpose.
_NAMES = (
    "ApiError AuthenticationError AuthorizationError BadRequestError ConfigurationError "
    "ConflictError DuplicateNameError EnrollmentApiKey EnrollmentApiKeyArgs EnrollmentApiKeyInfo "
    "EnrollmentApiKeyProvider FleetError InputError KeyInAnotherSpaceError KeyNotFoundError "
    "NotFoundError PolicyNotFoundError ProxyError RouteNotFoundError ServerError "
    "TLSError TransportError UnderlyingError UnexpectedResponseError UnsupportedVersionError "
    "__version__ get_enrollment_api_key get_enrollment_api_keys"
)
PUBLIC = set(_NAMES.split())


def test_all_is_pinned() -> None:
    assert set(fleet_provider.__all__) == PUBLIC
    assert len(fleet_provider.__all__) == len(PUBLIC)


def test_every_exception_class_is_exported_from_the_top_level() -> None:
    classes = {
        name
        for name, value in vars(exceptions).items()
        if inspect.isclass(value)
        and issubclass(value, Exception)
        and value.__module__ == exceptions.__name__
    }
    assert classes <= set(fleet_provider.__all__)
    for name in classes:
        assert getattr(fleet_provider, name) is getattr(exceptions, name)


def test_every_public_name_resolves_and_is_listed_by_dir() -> None:
    listed = dir(fleet_provider)
    for name in fleet_provider.__all__:
        assert name in listed
        assert getattr(fleet_provider, name) is not None


def test_the_emulator_imports_without_pulumi() -> None:
    code = (
        "import sys, fleet_provider, fleet_provider.emulator; "
        "print('pulumi' in sys.modules, 'requests' in sys.modules)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.split() == ["False", "False"]
