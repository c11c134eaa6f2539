"""What Kibana's answers mean: the error class by status and message, and secret-free causes."""

from __future__ import annotations

import pytest

from fleet_provider.answers import error_class, underlying
from fleet_provider.config import resolve_settings
from fleet_provider.exceptions import (
    ApiError,
    AuthenticationError,
    BadRequestError,
    ConflictError,
    DuplicateNameError,
    NotFoundError,
    PolicyNotFoundError,
    ServerError,
)

DUPLICATE = "An enrollment key named web already exists for agent policy p1"
NO_POLICY = 'Agent policy "p1" not found'


@pytest.mark.parametrize(
    ("status", "message", "expected"),
    [
        (409, DUPLICATE, DuplicateNameError),
        (400, DUPLICATE, DuplicateNameError),  # Kibana 8.x before about 8.14
        (404, NO_POLICY, PolicyNotFoundError),
        (400, NO_POLICY, PolicyNotFoundError),  # Kibana 8.x before about 8.14
        (500, DUPLICATE, ServerError),
        (400, "[request body.policy_id]: expected value of type [string]", BadRequestError),
        (401, "Unauthorized", AuthenticationError),
        (404, "EnrollmentAPIKey k1 not found", NotFoundError),
        (409, "Conflict", ConflictError),
        (503, "Service Unavailable", ServerError),
        (418, "I'm a teapot", ApiError),
    ],
)
def test_error_class_by_status_then_message(
    status: int, message: str, expected: type[ApiError]
) -> None:
    assert error_class(status, message) is expected


def test_an_underlying_failure_keeps_its_type_and_loses_every_secret() -> None:
    settings = resolve_settings(
        {"fleet:endpoint": "https://kibana:5601", "fleet:apiKey": "c2VjcmV0LWFwaS1rZXk="}, {}
    )
    raw = ConnectionError(
        "proxy http://proxy-user:proxy-hunter2@proxy:3128 said: bad header ApiKey "
        "c2VjcmV0LWFwaS1rZXk="
    )
    cause = underlying(raw, settings)
    assert cause.type_name == "builtins.ConnectionError"
    assert str(cause) == (
        "builtins.ConnectionError: proxy http://***@proxy:3128 said: bad header ***"
    )
