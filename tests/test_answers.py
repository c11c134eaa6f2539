"""What Kibana's answers mean: the error class by status and message, and secret-free causes."""

from __future__ import annotations

import pytest

from fleet_provider import exceptions as e
from fleet_provider.answers import error_class, underlying
from fleet_provider.config import resolve_settings

DUPLICATE = "An enrollment key named web already exists for agent policy p1"
NO_POLICY = 'Agent policy "p1" not found'


@pytest.mark.parametrize(
    ("status", "message", "expected"),
    [
        (409, DUPLICATE, e.DuplicateNameError),
        (400, DUPLICATE, e.DuplicateNameError),  # Kibana 8.x before about 8.14
        (404, NO_POLICY, e.PolicyNotFoundError),
        (400, NO_POLICY, e.PolicyNotFoundError),  # Kibana 8.x before about 8.14
        (500, DUPLICATE, e.ServerError),
        (400, "[request body.policy_id]: expected value of type [string]", e.BadRequestError),
        (401, "Unauthorized", e.AuthenticationError),
        (404, "EnrollmentAPIKey k1 not found", e.KeyNotFoundError),  # 8.x; DELETE on 9.5+
        (404, "Enrollment api key k1 not found", e.KeyNotFoundError),
        (404, "Enrollment api key k1 not found in namespace", e.KeyInAnotherSpaceError),
        (404, "Not Found", e.RouteNotFoundError),  # Kibana's answer to an unknown route
        (404, "Cannot GET /kibana/api/status", e.RouteNotFoundError),  # a proxy's
        (409, "Conflict", e.ConflictError),
        (503, "Service Unavailable", e.ServerError),
        (418, "I'm a teapot", e.ApiError),
    ],
)
def test_error_class_by_status_then_message(
    status: int, message: str, expected: type[e.ApiError]
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
