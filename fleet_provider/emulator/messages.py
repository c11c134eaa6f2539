"""Plain request and response values passed between the HTTP server and the handlers."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any

from .auth import Principal

JSON_TYPE = "application/json; charset=utf-8"


@dataclass(frozen=True)
class ApiRequest:
    """One HTTP request: method, path without query, raw query, lower-cased headers, body."""

    method: str
    path: str
    query_string: str = ""
    headers: Mapping[str, str] = field(default_factory=dict)
    body: bytes = b""


@dataclass
class ApiResponse:
    """One HTTP response ready to be written.

    ``truncate_to`` (a fault) writes only that many body bytes under the full
    ``Content-Length`` and then closes the connection.
    """

    status: int
    body: bytes = b""
    content_type: str = JSON_TYPE
    headers: dict[str, str] = field(default_factory=dict)
    truncate_to: int | None = None


@dataclass
class Call:
    """A request that passed every check: space, caller and validated parts."""

    space_id: str
    principal: Principal
    params: dict[str, Any]
    query: dict[str, Any]
    body: dict[str, Any]


def reason(status: int) -> str:
    """The HTTP reason phrase (``Not Found``) Boom puts in ``error``."""
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Unknown"


def json_response(status: int, payload: Any, headers: dict[str, str] | None = None) -> ApiResponse:
    """A JSON response with compact encoding, as Kibana sends it."""
    body = json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()
    return ApiResponse(status, body, JSON_TYPE, dict(headers or {}))


def error_response(
    status: int,
    message: str,
    headers: dict[str, str] | None = None,
    *,
    attributes: Mapping[str, Any] | None = None,
) -> ApiResponse:
    """Kibana's Boom-style error body ``{"statusCode", "error", "message"[, "attributes"]}``."""
    body: dict[str, Any] = {"statusCode": status, "error": reason(status), "message": message}
    if attributes is not None:
        # Core's HapiResponseAdapter.toError (response_adapter.ts in core's http router, 8.x and
        # 9.x) copies an error body's `attributes` onto the Boom payload, after `message`.
        body["attributes"] = dict(attributes)
    return json_response(status, body, headers)
