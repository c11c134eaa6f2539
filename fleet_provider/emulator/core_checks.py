"""Kibana core's checks before a route handler: payload, ``kbn-version`` and API-version header."""

from __future__ import annotations

import json
from datetime import date
from typing import Any

from .messages import ApiRequest, ApiResponse, error_response
from .urls import Route

API_VERSION = "2023-10-31"


def parse_payload(request: ApiRequest) -> Any:
    """hapi's payload parsing: the decoded body, or its 400/415 answer."""
    if not request.body.strip():
        return None
    content_type = request.headers.get("content-type", "application/json").lower()
    if "json" not in content_type:
        if content_type.startswith("text/"):
            return request.body.decode("utf-8", "replace")
        return error_response(415, "Unsupported Media Type")
    try:
        return json.loads(request.body, parse_constant=_reject_constant)
    except ValueError:
        return error_response(400, "Invalid request payload JSON format")


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def client_version_problem(sent: str | None, server_version: str) -> ApiResponse | None:
    """Core's check that a browser client is of the server's build: its 400, or None."""
    # createVersionCheckPostAuthHandler (src/core/packages/http/server-internal/src/
    # lifecycle_handlers.ts; packages/core/http/core-http-server-internal in 8.x, the same
    # code in 8.x and 9.x): an onPostAuth handler, registered right after the xsrf one, so it runs
    # for every matched route and method (API routes, pages, /login) after authentication and
    # payload parsing, after the xsrf check and before the security plugin's privilege check
    # (9.x). hapi runs no onPostAuth for its notFound route (lib/route.js: a special route's
    # cycle is drain and handler), so an unknown path stays core's 404. A missing or empty
    # header passes; any other value must equal the server's packageInfo.version exactly. It
    # is on while server.versioned.strictClientVersionCheck is true, the default outside
    # serverless (http_config.ts).
    if not sent or sent == server_version:
        return None
    return error_response(
        400,
        "Browser client is out of date, please refresh the page "
        f'("kbn-version" header was "{sent}" but should be "{server_version}")',
        attributes={"expected": server_version, "got": sent},
    )


def version_problem(route: Route, header: str | None, pairs: list[tuple[str, str]]) -> str | None:
    """Kibana core's versioned-router check; ``None`` when the request may go on."""
    if any(key == "apiVersion" for key, _ in pairs):
        return (
            'Use of query parameter "apiVersion" is not allowed. Please specify the API '
            'version using the "elastic-api-version" header.'
        )
    if not header:
        # Public routes fall back to their only version (versioned router, 8.x and 9.x).
        return None
    if not _is_date(header):
        return (
            f'Invalid version. Received "{header}", expected a valid date string '
            "formatted as YYYY-MM-DD."
        )
    if header != API_VERSION:
        return (
            f'No version "{header}" available for [{route.method.lower()}] [{route.path}]. '
            f"Available versions are: [{API_VERSION}]"
        )
    return None


def _is_date(text: str) -> bool:
    if len(text) != 10 or text[4] != "-" or text[7] != "-":
        return False
    try:
        date.fromisoformat(text)
    except ValueError:
        return False
    return True
